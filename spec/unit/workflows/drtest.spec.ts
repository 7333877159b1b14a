// The DR test workflow against an in-memory secondary whose every change is counted: the step
// sequence (an isolated drtest stack named and tagged with the run, verified, reported, held
// for --keep, torn down), the plan's epoch and active site untouched, the dry-run changing
// nothing, the teardown waiting out the keep time, a process killed during the keep window
// resumed into the teardown, and a failed check compensated and reported.
import { mkdtempSync, readFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogRepo } from '../../../lib/catalog/repo.js';
import { hasTags, stackPhase, type ObservedStack, type StackVerification } from '../../../lib/heat/deploy.js';
import { generate } from '../../../lib/heat/generate.js';
import { specOf } from '../../../lib/plan/store.js';
import { buildRecoveryPoint } from '../../../lib/replication/recovery-point.js';
import type { CleanupOptions, CleanupResult } from '../../../lib/workflows/cleanup.js';
import { resumeRun, workflowFor } from '../../../lib/workflows/engine.js';
import { drTest, drTestFactory, drTestWorkflow, planDrTest, reportFacts, type DrTestDeps, type DrTestOptions } from '../../../lib/workflows/drtest.js';
import type { RecoveryTarget } from '../../../lib/workflows/recover.js';
import type { DrTestReport } from '../../../lib/workflows/report.js';
import { keepOption, renderDrTest } from '../../../lib/cli/drtest.js';
import { imageData, inventory, plan as shopPlan, resolved, SPEC_HASH, volumeData } from '../heat/fixtures.js';

const T0 = Date.parse('2026-11-27T04:00:00.000Z');
const POINT = 'f0f0f0f0-0000-4000-8000-0000000000d1';

interface FakeStack {
  id: string;
  name: string;
  tags: string[];
  status: string;
}

/** The secondary in memory; every change is an entry in `ops`. */
class Secondary {
  readonly ops: string[] = [];
  readonly sleeps: number[] = [];
  readonly stacks = new Map<string, FakeStack>();
  readonly cleanups: CleanupOptions[] = [];
  seq = 0;
  t = T0;
  /** Servers the verification sees as not ACTIVE (a check that fails). */
  brokenServers = false;
  /** Abort this controller on the first sleep of the keep step (a process killed during --keep). */
  killDuringKeep: AbortController | undefined;

  now = (): Date => new Date((this.t += 1000));

  /** Pauses pass on the world's clock. */
  sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    if (this.killDuringKeep) {
      const c = this.killDuringKeep;
      this.killDuringKeep = undefined;
      c.abort(new Error('killed'));
      throw new Error('killed');
    }
    this.t += ms;
  };

  target(): RecoveryTarget {
    return {
      name: 'site-b',
      generate: async (manifest, plan, mode, runId) => generate(manifest, plan, resolved(), mode, { runId }),
      quotaRoom: async () => ({ room: {}, notes: [] }),
      backupStatuses: async (ids) => new Map(ids.map((id) => [id, 'available'])),
      getEpoch: async () => undefined,
      putEpoch: async () => {
        this.ops.push('put epoch');
      },
      observeStack: async (name, owner): Promise<ObservedStack> => {
        const s = [...this.stacks.values()].find((x) => x.name === name);
        if (!s) return { phase: 'absent', ours: false };
        const summary = { id: s.id, stack_name: s.name, stack_status: s.status, tags: s.tags } as unknown as NonNullable<ObservedStack['summary']>;
        return { phase: stackPhase(s.status), summary, ours: hasTags({ tags: s.tags }, owner) };
      },
      deploy: async (g) => {
        this.ops.push(`create stack ${g.stackName}`);
        const id = `stack-${++this.seq}`;
        this.stacks.set(id, { id, name: g.stackName, tags: [...g.stackTags], status: 'CREATE_COMPLETE' });
        return { identity: { stack_name: g.stackName, id }, action: 'created' };
      },
      deleteStack: async (ref) => {
        const id = typeof ref === 'string' ? ref : ref.id;
        if (!this.stacks.has(id)) return false;
        this.ops.push(`delete stack ${this.stacks.get(id)!.name}`);
        this.stacks.delete(id);
        return true;
      },
      verify: async (ref, topology): Promise<StackVerification> => {
        const ok = this.stacks.has(ref.id) && !this.brokenServers;
        const status = this.brokenServers ? 'ERROR' : 'ACTIVE';
        return {
          ok,
          problems: ok ? [] : [`server srv-x is ${status}`],
          servers: topology.servers.map((r) => ({ resource: r, id: `srv-${r}`, name: `drtest-${r}`, status })),
          volumes: topology.volumes.map((r) => ({ resource: r, id: `vol-${r}`, status: 'in-use', attachedTo: [], metadata: {} })),
        };
      },
      markVolumes: async (v) => {
        this.ops.push(`mark ${v.volumes.length} volumes`);
        return v.volumes.length;
      },
    };
  }

  deps(): Partial<DrTestDeps> {
    return {
      target: () => this.target(),
      cleanup: async (cloud: string, o: CleanupOptions): Promise<CleanupResult> => {
        this.cleanups.push(o);
        this.ops.push(`cleanup ${cloud}`);
        return { plan: o.plan, site: cloud, project: 'p', dryRun: o.dryRun === true, runs: [...(o.knownRuns ?? [])], deleted: [], failed: [], kept: [] };
      },
      sleep: this.sleep,
      guardPollMs: 1,
    };
  }
}

async function freshCatalog(): Promise<{ catalog: Catalog; repo: CatalogRepo }> {
  const catalog = await openCatalog('sqlite::memory:');
  const repo = new CatalogRepo(catalog);
  await repo.plans.upsert({ name: 'shop', project: 'shop', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 900_000, spec: specOf(shopPlan()) });
  const createdAt = new Date(T0 - 600_000);
  const m = buildRecoveryPoint({
    plan: { name: 'shop', specHash: SPEC_HASH, epoch: 0 },
    inventory: inventory(),
    volumes: volumeData(),
    images: imageData(),
    targetSite: 'site-b',
    sourceSite: 'site-a',
    createdAt,
    completedAt: new Date(createdAt.getTime() + 1000),
    id: POINT,
  });
  await repo.points.insert({ id: POINT, planName: 'shop', consistency: 'crash', sourceSite: 'site-a', targetSite: 'site-b', createdAt });
  await repo.points.complete(POINT, m, m.sizes.totalBytes);
  return { catalog, repo };
}

const noSites = (): never => {
  throw new Error('no real site in this test');
};

describe('workflows/drtest', () => {
  let dir: string;
  let catalog: Catalog;
  let repo: CatalogRepo;
  let world: Secondary;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-drtest-'));
    ({ catalog, repo } = await freshCatalog());
    world = new Secondary();
  });
  afterEach(async () => {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const options = (over: Partial<DrTestOptions> = {}): DrTestOptions => ({ repo, sites: noSites, owner: 'cli@test', now: world.now, sleep: world.sleep, reportDir: dir, deps: world.deps(), ...over });

  it('recovers into a drtest stack named with the run, verifies, reports, tears down at once with --keep 0; the plan is untouched', async () => {
    const out = await drTest('shop', options({ keepMs: 0 }));
    expect(out.status, out.error).to.equal('succeeded');
    expect(out.outcome.result.steps.map((s) => `${s.name} ${s.status}`)).to.deep.equal(['point done', 'guard done', 'stack done', 'check done', 'report done', 'keep done']);
    const stackName = `ferry-shop-drtest-${out.runId.replace(/-/g, '').slice(0, 8)}`;
    expect(out.stackName).to.equal(stackName);
    expect(world.ops).to.deep.equal([`create stack ${stackName}`, 'mark 2 volumes', `delete stack ${stackName}`, 'cleanup site-b']);
    expect(world.stacks.size).to.equal(0);
    expect(world.cleanups[0]).to.include({ plan: 'shop' });
    expect([...world.cleanups[0]!.knownRuns!]).to.deep.equal([out.runId]);
    expect([...world.cleanups[0]!.activeRuns!]).to.deep.equal([]);
    expect(world.sleeps, 'no wait with --keep 0').to.deep.equal([]);
    // production stays: no epoch raised, no active site moved, nothing written to the bank
    const plan = (await repo.plans.get('shop'))!;
    expect([plan.epoch, plan.activeSite]).to.deep.equal([0, 'site-a']);
    expect(out.outcome.run.epoch).to.equal(0);
    // the report, with the measures
    expect(readdirSync(dir).sort()).to.deep.equal([`shop-${out.runId}.html`, `shop-${out.runId}.json`]);
    const report = JSON.parse(readFileSync(out.reportJson!, 'utf8')) as DrTestReport;
    expect(report).to.include({ plan: 'shop', site: 'site-b', outcome: 'passed' });
    expect(report.recoveryPoint.id).to.equal(POINT);
    expect(report.rto.ms).to.equal(out.rtoMs).and.to.be.greaterThan(0);
    const started = Date.parse((out.outcome.run.params as { commandStartedAt: string }).commandStartedAt);
    expect(report.rpo.ms).to.equal(started - (T0 - 600_000));
    expect(report.verifications.map((v) => `${v.check} ${v.ok}`)).to.deep.equal(['server-active true', 'server-active true', 'volumes-attached true']);
    expect(report.resources[0]).to.deep.include({ kind: 'stack', name: stackName });
    expect(readFileSync(out.reportHtml!, 'utf8')).to.include('<html');
  });

  it('the stack carries the drtest mode and the run: two tests do not collide', async () => {
    const tags: string[][] = [];
    const deps = world.deps();
    const t = world.target();
    deps.target = () => ({
      ...t,
      deploy: async (g, req) => {
        tags.push(g.stackTags);
        return t.deploy(g, req);
      },
    });
    const a = await drTest('shop', options({ keepMs: 0, deps }));
    const b = await drTest('shop', options({ keepMs: 0, deps }));
    expect(a.stackName).to.not.equal(b.stackName);
    expect(tags[0]).to.include.members(['ferry:mode=drtest', `ferry:run=${a.runId}`, 'ferry:plan=shop']);
    expect(tags[1]).to.include(`ferry:run=${b.runId}`);
  });

  it('dry-run observes every step and changes nothing', async () => {
    const planned = await planDrTest('shop', options({ keepMs: 0 }));
    expect(planned.steps.map((s) => s.name)).to.deep.equal(['point', 'guard', 'stack', 'check', 'report', 'keep']);
    expect(planned.text).to.match(/\+ stack/);
    expect(planned.text).to.include('Nothing was changed (dry run).');
    expect(world.ops).to.deep.equal([]);
    expect(await repo.runs.list({ planName: 'shop' })).to.deep.equal([]);
    expect(readdirSync(dir)).to.deep.equal([]);
  });

  it('holds the bubble for --keep, then tears it down', async () => {
    let deletedAt: number | undefined;
    const deps = world.deps();
    const t = world.target();
    deps.target = () => ({
      ...t,
      deleteStack: async (ref, signal) => {
        deletedAt = world.t;
        return t.deleteStack(ref, signal);
      },
    });
    const out = await drTest('shop', options({ keepMs: 30 * 60_000, deps }));
    expect(out.status, out.error).to.equal('succeeded');
    const keepUntil = Date.parse((out.outcome.result.state as { keepUntil: string }).keepUntil);
    expect(deletedAt).to.be.at.least(keepUntil);
    // slices of at most a minute, adding up to the keep time (the clock also ticks on reads)
    expect(world.sleeps.every((ms) => ms <= 60_000)).to.equal(true);
    expect(world.sleeps.reduce((a, b) => a + b, 0)).to.be.within(30 * 60_000 - 60 * 1000, 30 * 60_000);
    expect(world.stacks.size).to.equal(0);
  });

  it('a process killed during the keep window: the run stays running with the bubble up; resumed after the keep time, it tears down at once', async () => {
    const controller = new AbortController();
    world.killDuringKeep = controller;
    const first = await drTest('shop', options({ keepMs: 10 * 60_000, signal: controller.signal }));
    expect(first.status).to.equal('interrupted');
    expect((await repo.runs.get(first.runId))!.status).to.equal('running');
    expect(world.stacks.size, 'the bubble is still up').to.equal(1);
    expect(first.reportJson && existsSync(first.reportJson)).to.equal(true);

    // the resumed process comes back after the keep time
    world.t += 15 * 60_000;
    world.sleeps.length = 0;
    const run = (await repo.runs.get(first.runId))!;
    const resumed = await resumeRun(repo, drTestWorkflow({ ...(world.deps() as DrTestDeps) }), run.id, { owner: 'cli@other', now: world.now, sleep: world.sleep });
    expect(resumed.status, resumed.result.error).to.equal('succeeded');
    expect(world.sleeps, 'nothing left to wait').to.deep.equal([]);
    expect(world.ops.filter((o) => o.startsWith('create stack')), 'created once').to.have.length(1);
    expect(world.ops.filter((o) => o.startsWith('delete stack'))).to.have.length(1);
    expect(world.stacks.size).to.equal(0);
    expect(resumed.result.steps.map((s) => `${s.name} ${s.status}`)).to.deep.equal(['point done', 'guard done', 'stack done', 'check done', 'report done', 'keep done']);
    // the report was written once, before the kill; the deadline was not moved by the resume
    expect((resumed.result.state as { keepUntil: string }).keepUntil).to.equal((first.outcome.result.state as { keepUntil: string }).keepUntil);
  });

  it('a process killed during the keep window and resumed early waits only for the rest', async () => {
    const controller = new AbortController();
    world.killDuringKeep = controller;
    const first = await drTest('shop', options({ keepMs: 10 * 60_000, signal: controller.signal }));
    expect(first.status).to.equal('interrupted');
    world.t += 4 * 60_000;
    world.sleeps.length = 0;
    const resumed = await resumeRun(repo, drTestWorkflow(world.deps() as DrTestDeps), first.runId, { owner: 'cli@other', now: world.now, sleep: world.sleep });
    expect(resumed.status).to.equal('succeeded');
    const waited = world.sleeps.reduce((a, b) => a + b, 0);
    expect(waited).to.be.within(5 * 60_000, 6 * 60_000);
  });

  it('a check that fails deletes the stack (compensation) and still writes a failed report', async () => {
    world.brokenServers = true;
    const out = await drTest('shop', options({ keepMs: 0 }));
    expect(out.status).to.equal('failed');
    expect(out.outcome.result.failedStep).to.equal('check');
    expect(world.stacks.size).to.equal(0);
    expect(world.ops.filter((o) => o.startsWith('delete stack'))).to.have.length(1);
    const report = JSON.parse(readFileSync(out.reportJson!, 'utf8')) as DrTestReport;
    expect(report.outcome).to.equal('failed');
    expect(report.rto.ms).to.equal(null);
  });

  it('registers itself for ferry resume', () => {
    expect(workflowFor('drtest')).to.equal(drTestFactory);
  });

  it('reportFacts: servers, volumes and the stack from the state', () => {
    const f = reportFacts({ stackName: 's', stackId: 'id', servers: [{ id: 'a', name: 'web', status: 'ACTIVE' }, { id: 'b', name: 'db', status: 'ERROR' }], volumeCount: 2, serversActiveAt: 'x' });
    expect(f.verifications.map((v) => `${v.check} ${v.subject} ${v.ok}`)).to.deep.equal(['server-active web true', 'server-active db false', 'volumes-attached 2 volume(s) true']);
    expect(f.resources.map((r) => `${r.kind} ${r.name}`)).to.deep.equal(['stack s', 'server web', 'server db']);
  });

  it('ferry test prints the outcome as fields, or JSON with the report paths and measures', async () => {
    const out = await drTest('shop', options({ keepMs: 0 }));
    const text = renderDrTest(out, 'table');
    expect(text).to.match(/│ Status\s+│ succeeded\s+│/);
    expect(text).to.match(/│ Outcome\s+│ passed\s+│/);
    expect(text).to.include(`${out.rtoMs} ms`);
    const json = JSON.parse(renderDrTest(out, 'json')) as Record<string, unknown>;
    expect(json).to.deep.include({ plan: 'shop', run: out.runId, status: 'succeeded', report: 'passed', rtoMs: out.rtoMs, rpoMs: out.rpoMs, reportJson: out.reportJson, error: null });
  });

  it('--keep accepts durations and 0', () => {
    expect(keepOption('0')).to.equal(0);
    expect(keepOption('30m')).to.equal(1_800_000);
    expect(keepOption('1h30m')).to.equal(5_400_000);
    expect(() => keepOption('soon')).to.throw('must be a duration');
  });
});
