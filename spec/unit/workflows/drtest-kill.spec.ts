// The DR test killed at every journal boundary and resumed by another process (`ferry resume`:
// a new repository, a new workflow object with new dependencies and Site, another owner), against
// a secondary in memory: the fake Heat target builds the drtest stack's resources (isolated
// networks and subnets, ports, security groups, servers, restored volumes) into the
// fake-leftovers.ts site, and the keep step's teardown runs the real cleanupDrTest against that
// site through nock. Whatever the boundary, the resumed run must reach the uninterrupted run's
// end state: one stack created and deleted, each volume marked once, one report (JSON and
// HTML), and nothing left at the site. A failed drill resumed by `ferry resume` used to end
// without its report (only drTest() wrote it): the workflow now writes it as it fails.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { expect } from 'chai';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogRepo, type JournalEntry, type JournalInput } from '../../../lib/catalog/repo.js';
import { hasTags, stackPhase, type ObservedStack, type StackVerification } from '../../../lib/heat/deploy.js';
import { generate, type GeneratedStack } from '../../../lib/heat/generate.js';
import { specOf } from '../../../lib/plan/store.js';
import { buildRecoveryPoint } from '../../../lib/replication/recovery-point.js';
import { cleanupDrTest, drTestTags } from '../../../lib/workflows/cleanup.js';
import { readProgress, resumeRun, type RunEvent, type RunOutcome } from '../../../lib/workflows/engine.js';
import { drTest, drTestWorkflow, type DrTestDeps, type DrTestOptions } from '../../../lib/workflows/drtest.js';
import type { RecoveryTarget } from '../../../lib/workflows/recover.js';
import type { DrTestReport } from '../../../lib/workflows/report.js';
import { markTag } from '../../../lib/heat/names.js';
import { testSite, useNock } from '../../support/fake-cloud.js';
import { imageData, inventory, plan as shopPlan, resolved, SPEC_HASH, volumeData } from '../heat/fixtures.js';
import { FakeSecondary } from './fake-leftovers.js';

const T0 = Date.parse('2026-11-27T04:00:00.000Z');
const POINT = 'f0f0f0f0-0000-4000-8000-0000000000d1';
const KEEP_MS = 5 * 60_000;

class Crash extends Error {}

/**
 * The secondary: the fake site the cleanup lists and deletes through nock, plus the changes the
 * recovery target makes (`ops`: create/delete stack, mark volume), and a clock.
 */
class World {
  readonly site = new FakeSecondary();
  readonly ops: string[] = [];
  t = T0;
  seq = 0;
  /** Servers the verification sees in ERROR (a check that fails for good). */
  brokenServers = false;
  /** When the stack was deleted, on the world's clock. */
  deletedAt: number | undefined;

  now = (): Date => new Date((this.t += 1000));
  sleep = async (ms: number): Promise<void> => {
    this.t += ms;
  };

  count(op: string): number {
    return this.ops.filter((o) => o === op).length;
  }

  /** Everything at the site, by kind and name (the end state). */
  view() {
    const f = this.site;
    const names = (l: { name: string }[]) => l.map((x) => x.name).sort();
    return {
      stacks: f.stacks.map((s) => `${s.name} ${s.status}`),
      servers: names(f.servers),
      networks: names(f.networks),
      subnets: names(f.subnets),
      ports: names(f.ports),
      groups: names(f.groups),
      volumes: f.volumes.map((v) => `${v.name} ${JSON.stringify(v.metadata)}`).sort(),
    };
  }

  /** Builds what Heat would make for the generated drtest stack, owned by the stack. */
  private build(g: GeneratedStack, runId: string): string {
    const f = this.site;
    const id = `stack-${++this.seq}`;
    f.stacks.push({ id, name: g.stackName, tags: [...g.stackTags], status: 'CREATE_COMPLETE' });
    const runTags = [markTag('run', runId)];
    const nets = new Map<string, string>();
    let firstServer: string | undefined;
    for (const e of g.index) {
      const name = `${e.kind}-${e.sourceName ?? e.resource}`;
      const rid = `${e.resource}-${id}`;
      if (e.kind === 'net') {
        nets.set(e.resource, rid);
        f.networks.push({ id: rid, name, tags: drTestTags(g.stackTags[0]!.split('=')[1]!, runId), stack: id });
      }
    }
    const someNet = [...nets.values()][0]!;
    for (const e of g.index) {
      const name = `${e.kind}-${e.sourceName ?? e.resource}`;
      const rid = `${e.resource}-${id}`;
      if (e.kind === 'subnet') f.subnets.push({ id: rid, name, network_id: someNet, tags: [...runTags], stack: id });
      if (e.kind === 'secgroup') f.groups.push({ id: rid, name, tags: [...runTags], stack: id });
      if (e.kind === 'server') {
        firstServer ??= rid;
        f.servers.push({ id: rid, name, tags: [...runTags], metadata: {}, status: 'ACTIVE', stack: id });
      }
    }
    for (const e of g.index) {
      const name = `${e.kind}-${e.sourceName ?? e.resource}`;
      const rid = `${e.resource}-${id}`;
      if (e.kind === 'port') f.ports.push({ id: rid, name, network_id: someNet, device_id: firstServer ?? '', device_owner: firstServer ? 'compute:nova' : '', tags: [...runTags], stack: id });
      // Heat does not apply metadata to a restored volume: the check step marks it.
      if (e.kind === 'volume') f.volumes.push({ id: rid, name, metadata: {}, status: 'in-use', attachedTo: firstServer ? [firstServer] : [], stack: id });
    }
    return id;
  }

  /** The recovery target at the secondary, acting on the fake site. */
  target(): RecoveryTarget {
    const f = this.site;
    const volumeOf = new Map<string, string>();
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
        const s = f.stacks.find((x) => x.name === name);
        if (!s) return { phase: 'absent', ours: false };
        const summary = { id: s.id, stack_name: s.name, stack_status: s.status, tags: s.tags } as unknown as NonNullable<ObservedStack['summary']>;
        return { phase: stackPhase(s.status), summary, ours: hasTags({ tags: s.tags }, owner) };
      },
      deploy: async (g, req) => {
        // Like deployStack: this run's complete stack is adopted, never made twice.
        const mine = f.stacks.find((s) => s.name === g.stackName);
        if (mine && hasTags({ tags: mine.tags }, [markTag('plan', req.planName), markTag('run', req.runId)]) && mine.status === 'CREATE_COMPLETE') {
          return { identity: { stack_name: mine.name, id: mine.id }, action: 'adopted' };
        }
        if (mine) throw new Error(`stack ${g.stackName} exists and is not this run's`);
        this.ops.push(`create stack ${g.stackName}`);
        const id = this.build(g, req.runId);
        return { identity: { stack_name: g.stackName, id }, action: 'created' };
      },
      deleteStack: async (ref) => {
        // Like deleteStackAndWait: returns once Heat deleted it with everything it owns.
        const id = typeof ref === 'string' ? ref : ref.id;
        const s = f.stacks.find((x) => x.id === id);
        if (!s) return false;
        this.ops.push(`delete stack ${s.name}`);
        this.deletedAt = this.t;
        const owned = <T extends { stack?: string }>(l: T[]) => l.filter((x) => x.stack !== id);
        f.stacks = owned(f.stacks.filter((x) => x.id !== id));
        f.servers = owned(f.servers);
        f.networks = owned(f.networks);
        f.subnets = owned(f.subnets);
        f.ports = owned(f.ports);
        f.groups = owned(f.groups);
        f.volumes = owned(f.volumes);
        return true;
      },
      verify: async (ref, topology): Promise<StackVerification> => {
        const s = f.stacks.find((x) => x.id === ref.id);
        const servers = f.servers.filter((x) => x.stack === ref.id);
        const volumes = f.volumes.filter((x) => x.stack === ref.id);
        const status = this.brokenServers ? 'ERROR' : 'ACTIVE';
        const ok = s !== undefined && stackPhase(s.status) === 'complete' && !this.brokenServers;
        return {
          ok,
          problems: ok ? [] : [s ? `server ${servers[0]?.name} is ${status}` : `stack ${ref.stack_name} is gone`],
          servers: topology.servers.map((r, i) => ({ resource: r, id: servers[i]?.id ?? `missing-${r}`, name: servers[i]?.name ?? r, status })),
          volumes: topology.volumes.map((r) => {
            const v = volumes.find((x) => x.id === `${r}-${ref.id}`);
            if (v) volumeOf.set(r, v.id);
            return { resource: r, id: v?.id ?? `missing-${r}`, status: v?.status ?? 'absent', attachedTo: v?.attachedTo ?? [], metadata: { ...(v?.metadata ?? {}) } };
          }),
        };
      },
      markVolumes: async (v, marksFor) => {
        let n = 0;
        for (const vol of v.volumes) {
          const want = marksFor(vol.resource);
          const at = f.volumes.find((x) => x.id === vol.id);
          if (!want || !at || Object.entries(want).every(([k, x]) => at.metadata[k] === x)) continue;
          this.ops.push(`mark ${vol.resource}`);
          Object.assign(at.metadata, want);
          n++;
        }
        return n;
      },
    };
  }

  /**
   * One process's dependencies: its own Site for the cleanup (a new token and version
   * documents), the real cleanupDrTest, the world's clock.
   */
  deps(): DrTestDeps {
    this.site.newClient();
    const { site } = testSite();
    return {
      target: () => this.target(),
      cleanup: (_cloud, o) => cleanupDrTest(site, { ...o, sleep: async () => undefined, pollMs: 1 }),
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

/** A repository whose journal append `n` (counted over the process's runs) throws Crash, after or before writing. */
function crashingRepo(catalog: Catalog, crash: { after?: number; before?: number }): CatalogRepo {
  const repo = new CatalogRepo(catalog);
  const append = repo.journal.append.bind(repo.journal);
  let n = 0;
  repo.journal.append = async (runId: string, entry: JournalInput): Promise<JournalEntry> => {
    n++;
    if (n === crash.before) throw new Crash(`killed before journal entry ${n}`);
    const e = await append(runId, entry);
    if (n === crash.after) throw new Crash(`killed after journal entry ${n}`);
    return e;
  };
  return repo;
}

const noSites = (): never => {
  throw new Error('no real site in this test');
};

async function rejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** The state without what moves with the clock (a killed process reads it a different number of times). */
function stable(out: RunOutcome): Record<string, unknown> {
  const s = { ...(out.result.state as Record<string, unknown>) };
  for (const k of ['serversActiveAt', 'rtoMs', 'keepUntil', 'tornDownAt']) delete s[k];
  for (const k of ['reportJson', 'reportHtml']) if (typeof s[k] === 'string') s[k] = basename(s[k]).replace(out.run.id, 'RUN');
  // The stack's name carries the run's ID.
  if (typeof s.stackName === 'string') s.stackName = s.stackName.replace(/-[0-9a-f]{8}$/, '-RUN');
  return s;
}

const stepsOf = (out: RunOutcome) => out.result.steps.map((s) => `${s.name} ${s.status}`);
/** Op counts, with the run's ID taken out of the stack's name. */
const counts = (w: World, runId: string) => {
  const short = runId.replace(/-/g, '').slice(0, 8);
  const ops = w.ops.map((o) => o.replace(short, 'RUN'));
  return Object.fromEntries([...new Set(ops)].map((o) => [o, ops.filter((x) => x === o).length]));
};

describe('workflows/drtest killed at every journal boundary', function () {
  this.timeout(120_000);
  useNock();

  let dirs: string[] = [];
  const reportDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'ferry-drtest-kill-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    dirs = [];
  });

  const options = (repo: CatalogRepo, world: World, dir: string, over: Partial<DrTestOptions> = {}): DrTestOptions => ({
    repo,
    sites: noSites,
    owner: 'cli@first',
    now: world.now,
    sleep: world.sleep,
    keepMs: KEEP_MS,
    reportDir: dir,
    deps: world.deps(),
    ...over,
  });

  /** The uninterrupted run: its outcome, world and journal length. */
  async function reference(broken: boolean) {
    const { catalog, repo } = await freshCatalog();
    try {
      const world = new World();
      world.site.install();
      world.brokenServers = broken;
      const dir = reportDir();
      const out = await drTest('shop', options(repo, world, dir));
      const entries = (await repo.journal.read(out.runId)).length;
      return { world, out: out.outcome, entries, files: readdirSync(dir).map((f) => f.replace(out.runId, 'RUN')).sort() };
    } finally {
      await catalog.close();
    }
  }

  /** Kills the first process at the boundary, then resumes the run in a fresh one. */
  async function killAndResume(broken: boolean, crash: { after?: number; before?: number }) {
    const { catalog } = await freshCatalog();
    try {
      const world = new World();
      world.site.install();
      world.brokenServers = broken;
      const dir = reportDir();
      const err = await rejects(drTest('shop', options(crashingRepo(catalog, crash), world, dir)));
      expect(err, JSON.stringify(crash)).to.be.instanceOf(Crash);
      const repo = new CatalogRepo(catalog);
      const runs = await repo.runs.list({ planName: 'shop', kind: 'drtest' });
      expect(runs, 'one run').to.have.length(1);
      const killed = runs[0]!;
      expect(killed.status, 'a killed run is not finished').to.be.oneOf(['running', 'pending']);
      // The keep deadline, if the killed process journaled it: a resume must not move it.
      const journaledKeepUntil = readProgress(await repo.journal.read(killed.id)).state['keepUntil'] as string | undefined;
      // `ferry resume RUN` in another process: a new repository, workflow and Site, another owner
      const out = await resumeRun(repo, drTestWorkflow(world.deps()), killed.id, { owner: 'cli@second', now: world.now, sleep: world.sleep });
      return { world, out, run: (await repo.runs.get(killed.id))!, files: readdirSync(dir).map((f) => f.replace(killed.id, 'RUN')).sort(), dir, journaledKeepUntil };
    } finally {
      await catalog.close();
    }
  }

  for (const [title, broken] of [
    ['a DR test that passes and is torn down after --keep', false],
    ['a DR test whose check fails for good (the stack compensated)', true],
  ] as const) {
    it(`${title}: resumed after a kill at any boundary, the same end state, every change once, nothing left`, async () => {
      const ref = await reference(broken);
      expect(ref.out.status, ref.out.result.error).to.equal(broken ? 'failed' : 'succeeded');
      const empty = { stacks: [], servers: [], networks: [], subnets: [], ports: [], groups: [], volumes: [] };
      expect(ref.world.view(), 'the uninterrupted run leaves nothing').to.deep.equal(empty);
      const want = counts(ref.world, ref.out.run.id);
      expect(want['create stack ferry-shop-drtest-RUN']).to.equal(1);
      expect(want['delete stack ferry-shop-drtest-RUN']).to.equal(1);
      expect(Object.values(want).every((n) => n === 1), JSON.stringify(want)).to.equal(true);
      if (!broken) expect(Object.keys(want).filter((o) => o.startsWith('mark '))).to.have.length(2);
      expect(ref.files, 'the report, also of a failed drill').to.deep.equal(['shop-RUN.html', 'shop-RUN.json']);

      let scenarios = 0;
      for (let k = 1; k <= ref.entries; k++) {
        for (const crash of [{ after: k }, { before: k }]) {
          const label = `${title}, killed ${JSON.stringify(crash)}`;
          const got = await killAndResume(broken, crash);
          expect(got.out.status, `${label}: ${got.out.result.error}`).to.equal(ref.out.status);
          expect(got.run.status, label).to.equal(ref.out.run.status);
          expect(got.run.owner, label).to.equal('cli@second');
          expect(got.world.view(), label).to.deep.equal(empty);
          expect(counts(got.world, got.run.id), label).to.deep.equal(want);
          expect(got.world.site.ops, `${label}: the teardown's cleanup found nothing the stack did not take`).to.deep.equal([]);
          expect(stable(got.out), label).to.deep.equal(stable(ref.out));
          expect(stepsOf(got.out), label).to.deep.equal(stepsOf(ref.out));
          // One report, whoever drove the run to its end: a failed drill is documented too.
          expect(got.files, `${label}: one report`).to.deep.equal(ref.files);
          const report = JSON.parse(readFileSync(join(got.dir, `shop-${got.run.id}.json`), 'utf8')) as DrTestReport;
          expect([report.plan, report.outcome], label).to.deep.equal(['shop', broken ? 'failed' : 'passed']);
          if (broken) expect(report.run.failedStep, label).to.equal('check');
          if (!broken) {
            const keepUntil = (got.out.result.state as { keepUntil: string }).keepUntil;
            if (got.journaledKeepUntil !== undefined) expect(keepUntil, `${label}: the deadline journaled before the kill`).to.equal(got.journaledKeepUntil);
            expect(got.world.deletedAt, `${label}: torn down after --keep, not before`).to.be.at.least(Date.parse(keepUntil));
          }
          scenarios++;
        }
      }
      expect(scenarios).to.equal(2 * ref.entries);
      expect(ref.entries).to.be.greaterThan(broken ? 20 : 25);
    });
  }

  it('killed twice (the first process, then the resuming one) still converges to one stack, torn down, nothing left', async () => {
    const ref = await reference(false);
    for (const [first, second] of [
      [3, 2],
      [8, 5],
      [Math.floor(ref.entries / 2), 4],
      [ref.entries - 4, 3],
      [ref.entries - 1, 1],
    ] as const) {
      const { catalog } = await freshCatalog();
      const label = `killed after entry ${first}, then before entry ${second} of the resume`;
      try {
        const world = new World();
        world.site.install();
        const dir = reportDir();
        expect(await rejects(drTest('shop', options(crashingRepo(catalog, { after: first }), world, dir))), label).to.be.instanceOf(Crash);
        const runId = (await new CatalogRepo(catalog).runs.list({ planName: 'shop', kind: 'drtest' }))[0]!.id;
        expect(await rejects(resumeRun(crashingRepo(catalog, { before: second }), drTestWorkflow(world.deps()), runId, { owner: 'cli@second', now: world.now, sleep: world.sleep })), label).to.be.instanceOf(Crash);
        const out = await resumeRun(new CatalogRepo(catalog), drTestWorkflow(world.deps()), runId, { owner: 'cli@third', now: world.now, sleep: world.sleep });
        expect(out.status, `${label}: ${out.result.error}`).to.equal('succeeded');
        expect(world.view(), label).to.deep.equal(ref.world.view());
        expect(counts(world, runId), label).to.deep.equal(counts(ref.world, ref.out.run.id));
        expect(stepsOf(out), label).to.deep.equal(stepsOf(ref.out));
        expect(readdirSync(dir), label).to.have.length(2);
      } finally {
        await catalog.close();
      }
    }
  });

  it('between the kill and the resume, `ferry test cleanup` leaves the running test alone; the resume tears it down', async () => {
    const { catalog } = await freshCatalog();
    try {
      const world = new World();
      world.site.install();
      const dir = reportDir();
      // killed right after the check step: the bubble is up and verified
      const stop = new AbortController();
      const onEvent = (e: RunEvent) => {
        if (e.step === 'check' && e.phase === 'done') stop.abort(new Error('killed'));
      };
      const out1 = await drTest('shop', options(new CatalogRepo(catalog), world, dir, { signal: stop.signal, onEvent }));
      expect(out1.status).to.equal('interrupted');
      const up = world.view();
      expect(up.stacks).to.have.length(1);
      expect(up.networks.length, 'the isolated networks are up').to.be.greaterThan(0);

      // the operator's cleanup, as lib/cli/drtest.ts calls it: the running run is active
      const repo = new CatalogRepo(catalog);
      const runs = await repo.runs.list({ planName: 'shop', kind: 'drtest' });
      const active = runs.filter((r) => r.status === 'running').map((r) => r.id);
      expect(active).to.deep.equal([out1.runId]);
      const deps = world.deps();
      const swept = await deps.cleanup('site-b', { plan: 'shop', knownRuns: runs.map((r) => r.id), activeRuns: active });
      expect(swept.deleted, 'nothing of a running test is deleted').to.deep.equal([]);
      expect(swept.kept.map((k) => k.kind)).to.include('stack');
      expect(world.view(), 'the bubble is untouched').to.deep.equal(up);

      world.t += KEEP_MS;
      const out2 = await resumeRun(repo, drTestWorkflow(world.deps()), out1.runId, { owner: 'cli@second', now: world.now, sleep: world.sleep });
      expect(out2.status, out2.result.error).to.equal('succeeded');
      expect(world.view().stacks).to.deep.equal([]);
      expect(world.view().networks).to.deep.equal([]);
      expect(world.count(`create stack ${up.stacks[0]!.split(' ')[0]}`)).to.equal(1);
      expect(world.site.ops).to.deep.equal([]);
    } finally {
      await catalog.close();
    }
  });
});
