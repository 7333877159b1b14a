// The workflow engine against an in-memory "site": a 4-step failover-like workflow whose side
// effects are counted. The kill tests crash the first process at every journal boundary (just
// after an entry is written, and just before it is, when the phase's work is done but not
// recorded), resume in a fresh engine, and compare the end state with an uncrashed run.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { silentLogger } from '../../../lib/log.js';
import { failoverRegistration } from '../../../lib/workflows/failover.js';
import { CatalogRepo, type JournalEntry, type JournalInput } from '../../../lib/catalog/repo.js';
import {
  FencedError,
  JOURNAL_PHASE_MEANING,
  RUN_STATUS_MEANING,
  RunStateError,
  TerminalStepError,
  WorkflowDefinitionError,
  backoffMs,
  defineWorkflow,
  planWorkflow,
  readProgress,
  registerWorkflow,
  renderPlan,
  resumeRegistered,
  resumeRun,
  retryPolicy,
  startRun,
  summarizeRun,
  workflowFor,
  type RunEvent,
  type Step,
  type Workflow,
} from '../../../lib/workflows/engine.js';

// ---- the fake site -----------------------------------------------------------------------

interface Stack {
  name: string;
  fromSnapshot: string;
  status: string;
  address: string;
}

/** What the workflow changes, with a count of every change. */
class World {
  private seq = 0;
  snapshots = new Map<string, { name: string }>();
  stacks = new Map<string, Stack>();
  primary = 'ACTIVE';
  dns: string | undefined;
  readonly ops: string[] = [];
  /** The resolver never sees the new address (the dns step cannot verify). */
  dnsBroken = false;
  /** Called before each change (tests use it to move the epoch or abort). */
  beforeChange?: (op: string) => void | Promise<void>;

  count(op: string): number {
    return this.ops.filter((o) => o === op).length;
  }
  private async change(op: string): Promise<void> {
    await this.beforeChange?.(op);
    this.ops.push(op);
  }
  async createSnapshot(name: string): Promise<string> {
    await this.change('create snapshot');
    const id = `snap-${++this.seq}`;
    this.snapshots.set(id, { name });
    return id;
  }
  async deleteSnapshot(id: string): Promise<void> {
    await this.change('delete snapshot');
    this.snapshots.delete(id);
  }
  async createStack(name: string, fromSnapshot: string): Promise<string> {
    await this.change('create stack');
    const id = `stack-${++this.seq}`;
    this.stacks.set(id, { name, fromSnapshot, status: 'CREATE_COMPLETE', address: `10.0.0.${this.seq}` });
    return id;
  }
  async deleteStack(id: string): Promise<void> {
    await this.change('delete stack');
    this.stacks.delete(id);
  }
  async setPrimary(status: string): Promise<void> {
    await this.change(status === 'SHUTOFF' ? 'stop primary' : 'start primary');
    this.primary = status;
  }
  async setDns(address: string | undefined): Promise<void> {
    await this.change(address ? 'set dns' : 'reset dns');
    this.dns = address;
  }
  resolve(): string | undefined {
    return this.dnsBroken ? undefined : this.dns;
  }
  find<T>(m: Map<string, T & { name: string }>, name: string): [string, T] | undefined {
    for (const [id, v] of m) if (v.name === name) return [id, v];
    return undefined;
  }
  /** The end state, for comparisons. */
  view() {
    return { snapshots: Object.fromEntries(this.snapshots), stacks: Object.fromEntries(this.stacks), primary: this.primary, dns: this.dns };
  }
}

type FailoverState = { snapshotId?: string; stackId?: string; address?: string };

interface WorkflowKnobs {
  /** Tries of the dns step (its verify fails when the world's dns is broken). */
  dnsAttempts?: number;
}

/** A failover in miniature: temporary snapshot, stack from it, stop the primary, move DNS. */
function failover(world: World, knobs: WorkflowKnobs = {}): Workflow<FailoverState> {
  const snapshot: Step<FailoverState> = {
    name: 'snapshot',
    describe: 'take a temporary snapshot of the data volume',
    action: 'create',
    observe(ctx) {
      const found = world.find(world.snapshots, `ferry-${ctx.run.id}`);
      if (found) ctx.state.snapshotId = found[0];
      return { done: found !== undefined, summary: found ? `snapshot ${found[0]}` : 'no snapshot of this run' };
    },
    async act(ctx) {
      ctx.state.snapshotId = await world.createSnapshot(`ferry-${ctx.run.id}`);
      return { snapshotId: ctx.state.snapshotId };
    },
    verify(ctx) {
      return { ok: ctx.state.snapshotId !== undefined && world.snapshots.has(ctx.state.snapshotId) };
    },
    async cleanup(ctx) {
      const found = world.find(world.snapshots, `ferry-${ctx.run.id}`);
      if (found) await world.deleteSnapshot(found[0]);
    },
  };
  const stack: Step<FailoverState> = {
    name: 'stack',
    describe: 'create the recovery stack at the secondary from the snapshot',
    action: 'create',
    observe(ctx) {
      const found = world.find(world.stacks, `${ctx.run.planName}-dr`);
      if (found) {
        ctx.state.stackId = found[0];
        ctx.state.address = found[1].address;
      }
      return { done: found !== undefined, detail: found ? { stackId: found[0] } : null, summary: found ? `stack ${found[0]}` : `stack ${ctx.run.planName}-dr absent` };
    },
    async act(ctx) {
      ctx.state.stackId = await world.createStack(`${ctx.run.planName}-dr`, ctx.state.snapshotId!);
      return { stackId: ctx.state.stackId };
    },
    verify(ctx) {
      const s = ctx.state.stackId ? world.stacks.get(ctx.state.stackId) : undefined;
      if (s?.status !== 'CREATE_COMPLETE') return { ok: false, reason: `stack is ${s?.status ?? 'missing'}` };
      ctx.state.address = s.address;
      return { ok: true, detail: { address: s.address } };
    },
    async compensate(ctx) {
      const found = world.find(world.stacks, `${ctx.run.planName}-dr`);
      if (found) await world.deleteStack(found[0]);
    },
  };
  const stopPrimary: Step<FailoverState> = {
    name: 'stop-primary',
    describe: 'stop the servers at the primary',
    action: 'update',
    observe: () => ({ done: world.primary === 'SHUTOFF', summary: `primary ${world.primary}` }),
    act: async () => {
      await world.setPrimary('SHUTOFF');
    },
    verify: () => ({ ok: world.primary === 'SHUTOFF' }),
    async compensate() {
      if (world.primary !== 'ACTIVE') await world.setPrimary('ACTIVE');
    },
  };
  const dns: Step<FailoverState> = {
    name: 'dns',
    describe: 'point the service name at the recovered address',
    action: 'update',
    retry: { attempts: knobs.dnsAttempts ?? 3 },
    observe: (ctx) => ({ done: ctx.state.address !== undefined && world.dns === ctx.state.address }),
    act: async (ctx) => {
      await world.setDns(ctx.state.address);
    },
    verify: (ctx) => (world.resolve() === ctx.state.address ? { ok: true } : { ok: false, reason: `the resolver answers ${world.resolve() ?? 'nothing'}` }),
    async compensate() {
      if (world.dns !== undefined) await world.setDns(undefined);
    },
  };
  return defineWorkflow<FailoverState>('failover', [snapshot, stack, stopPrimary, dns]);
}

// ---- harness --------------------------------------------------------------------------------

class Crash extends Error {}

const T0 = Date.parse('2026-11-27T03:00:00.000Z');

/** A clock that moves one second per reading. */
function fakeClock(): () => Date {
  let t = T0;
  return () => new Date((t += 1000));
}

const noSleep = async () => undefined;
const noSites = (): never => {
  throw new Error('no site in this test');
};

/** A repository whose journal append `n` throws Crash: `after` the entry is written, or `before`. */
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

async function freshCatalog(): Promise<{ catalog: Catalog; repo: CatalogRepo }> {
  const catalog = await openCatalog('sqlite::memory:');
  const repo = new CatalogRepo(catalog);
  await repo.plans.upsert({ name: 'web', project: 'shop', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 900_000, spec: { name: 'web' } });
  return { catalog, repo };
}

async function rejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const phases = (entries: JournalEntry[], step?: string) => entries.filter((e) => step === undefined || e.step === step).map((e) => `${e.step} ${e.phase}`);

const start = (repo: CatalogRepo, w: Workflow<FailoverState>, extra: Partial<Parameters<typeof startRun>[2]> = {}) =>
  startRun(repo, w, { planName: 'web', owner: 'daemon-1', runId: 'run-1', now: fakeClock(), sleep: noSleep, ...extra });

// ---- tests ------------------------------------------------------------------------------------

describe('workflows/engine', () => {
  describe('an uncrashed run', () => {
    it('journals every phase, performs every change once, cleans up, and records the result', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World();
        const events: RunEvent[] = [];
        const out = await start(repo, failover(world), { onEvent: (e) => events.push(e) });
        expect(out.status).to.equal('succeeded');
        expect(world.ops).to.deep.equal(['create snapshot', 'create stack', 'stop primary', 'set dns', 'delete snapshot']);
        expect(world.view()).to.deep.equal({ snapshots: {}, stacks: { 'stack-2': { name: 'web-dr', fromSnapshot: 'snap-1', status: 'CREATE_COMPLETE', address: '10.0.0.2' } }, primary: 'SHUTOFF', dns: '10.0.0.2' });

        const journal = await repo.journal.read('run-1');
        expect(phases(journal)).to.deep.equal([
          'run observe',
          ...['snapshot', 'stack', 'stop-primary', 'dns'].flatMap((s) => [`${s} observe`, `${s} act`, `${s} verify`, `${s} done`]),
          'snapshot:cleanup done',
          'run done',
        ]);
        expect(events.map((e) => `${e.step} ${e.phase}`)).to.deep.equal(phases(journal));
        // the state travels in the entries of the phases that changed it
        expect(journal.find((e) => e.step === 'stack' && e.phase === 'act')!.data).to.deep.include({ attempt: 1, result: { stackId: 'stack-2' }, state: { stackId: 'stack-2' } });
        expect(journal.find((e) => e.step === 'stack' && e.phase === 'verify')!.data).to.deep.include({ ok: true, state: { address: '10.0.0.2' } });

        const run = (await repo.runs.get('run-1'))!;
        expect(run.status).to.equal('succeeded');
        expect(run.finishedAt).to.not.equal(null);
        const result = run.result as { status: string; steps: { name: string; status: string; attempts: number; durationMs: number }[]; state: object; timeline: unknown[]; warnings: string[] };
        expect(result.status).to.equal('succeeded');
        expect(result.steps.map((s) => [s.name, s.status, s.attempts])).to.deep.equal([
          ['snapshot', 'done', 1],
          ['stack', 'done', 1],
          ['stop-primary', 'done', 1],
          ['dns', 'done', 1],
        ]);
        // fake clock: one second per reading; each step reads it around every phase
        expect(result.steps.every((s) => s.durationMs > 0)).to.equal(true);
        expect(result.state).to.deep.equal({ snapshotId: 'snap-1', stackId: 'stack-2', address: '10.0.0.2' });
        expect(result.timeline).to.have.length(journal.length);
        expect(result.warnings).to.deep.equal([]);
        expect(out.result).to.deep.equal(result);
      } finally {
        await catalog.close();
      }
    });
  });

  describe('killed at every journal boundary', function () {
    this.timeout(120_000);
    /** Runs the workflow uncrashed: the reference end state and the number of entries. */
    async function reference(knobs: WorkflowKnobs, broken: boolean) {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World();
        world.dnsBroken = broken;
        const out = await start(repo, failover(world, knobs));
        const entries = await repo.journal.read('run-1');
        return { world, out, entries: entries.length };
      } finally {
        await catalog.close();
      }
    }

    async function killAndResume(knobs: WorkflowKnobs, broken: boolean, crash: { after?: number; before?: number }) {
      const { catalog } = await freshCatalog();
      try {
        const world = new World();
        world.dnsBroken = broken;
        const err = await rejects(start(crashingRepo(catalog, crash), failover(world, knobs)));
        expect(err, JSON.stringify(crash)).to.be.instanceOf(Crash);
        const crashed = (await new CatalogRepo(catalog).runs.get('run-1'))!;
        expect(crashed.status, 'a killed run stays running').to.equal('running');
        // a fresh engine: new repository, new workflow object, another owner
        const repo = new CatalogRepo(catalog);
        const out = await resumeRun(repo, failover(world, knobs), 'run-1', { owner: 'daemon-2', now: fakeClock(), sleep: noSleep });
        return { world, out, run: (await repo.runs.get('run-1'))! };
      } finally {
        await catalog.close();
      }
    }

    for (const [title, knobs, broken] of [
      ['a run that succeeds', {}, false],
      ['a run that fails at its last step (compensated)', { dnsAttempts: 2 }, true],
    ] as const) {
      it(`${title}: the same end state, every change exactly once, nothing left behind`, async () => {
        const ref = await reference(knobs, broken);
        expect(ref.out.status).to.equal(broken ? 'failed' : 'succeeded');
        const want = ref.world.view();
        if (broken) {
          expect(want).to.deep.equal({ snapshots: {}, stacks: {}, primary: 'ACTIVE', dns: undefined });
          expect(ref.world.ops).to.deep.equal(['create snapshot', 'create stack', 'stop primary', 'set dns', 'reset dns', 'start primary', 'delete stack', 'delete snapshot']);
          expect(ref.out.result.error).to.equal('step dns (point the service name at the recovered address) failed after 2 tries: verify: the resolver answers nothing');
        }
        const opCounts = (w: World) => Object.fromEntries([...new Set(w.ops)].map((o) => [o, w.count(o)]));
        const wantCounts = opCounts(ref.world);
        expect(Object.values(wantCounts).every((n) => n === 1)).to.equal(true);

        let scenarios = 0;
        for (let k = 1; k <= ref.entries; k++) {
          for (const crash of [{ after: k }, { before: k }]) {
            const got = await killAndResume(knobs, broken, crash);
            const label = `crash ${JSON.stringify(crash)}`;
            expect(got.out.status, label).to.equal(ref.out.status);
            expect(got.run.status, label).to.equal(ref.out.run.status);
            expect(got.world.view(), label).to.deep.equal(want);
            expect(opCounts(got.world), label).to.deep.equal(wantCounts);
            expect(got.out.result.state, label).to.deep.equal(ref.out.result.state);
            expect(got.out.result.error, label).to.equal(ref.out.result.error);
            expect(got.out.result.steps.map((s) => s.status), label).to.deep.equal(ref.out.result.steps.map((s) => s.status));
            expect(got.run.owner, label).to.equal('daemon-2');
            scenarios++;
          }
        }
        expect(scenarios).to.equal(2 * ref.entries);
        expect(ref.entries).to.be.greaterThan(15);
      });
    }

    it('killed twice (first process, then the resuming one) still converges', async () => {
      const ref = await reference({}, false);
      for (const [first, second] of [
        [5, 3],
        [9, 2],
        [14, 6],
        [ref.entries - 1, 2],
      ] as const) {
        const { catalog } = await freshCatalog();
        try {
          const world = new World();
          expect(await rejects(start(crashingRepo(catalog, { after: first }), failover(world)))).to.be.instanceOf(Crash);
          expect(await rejects(resumeRun(crashingRepo(catalog, { before: second }), failover(world), 'run-1', { owner: 'daemon-2', sleep: noSleep }))).to.be.instanceOf(Crash);
          const out = await resumeRun(new CatalogRepo(catalog), failover(world), 'run-1', { owner: 'daemon-3', sleep: noSleep });
          expect(out.status).to.equal('succeeded');
          expect(world.view(), `${first}/${second}`).to.deep.equal(ref.world.view());
          expect(world.ops, `${first}/${second}`).to.deep.equal(ref.world.ops);
        } finally {
          await catalog.close();
        }
      }
    });

    it('a resume skips the done steps, restores their state and says so', async () => {
      const { catalog } = await freshCatalog();
      try {
        const world = new World();
        // killed after the stack step's done entry: 1 run + 4 snapshot + 4 stack
        await rejects(start(crashingRepo(catalog, { after: 9 }), failover(world)));
        const repo = new CatalogRepo(catalog);
        const events: RunEvent[] = [];
        const out = await resumeRun(repo, failover(world), 'run-1', { owner: 'daemon-2', onEvent: (e) => events.push(e) });
        expect(events.slice(0, 3).map((e) => `${e.step} ${e.phase}`)).to.deep.equal(['run observe', 'snapshot skipped', 'stack skipped']);
        expect(events[0]!.data).to.deep.include({ resumed: true, owner: 'daemon-2', previousOwner: 'daemon-1' });
        // the dns step used the address the stack step left in the journal
        expect(world.dns).to.equal('10.0.0.2');
        expect(out.run.owner).to.equal('daemon-2');
      } finally {
        await catalog.close();
      }
    });
  });

  describe('fencing', () => {
    it('refuses to act once the plan epoch moved past the run (another daemon failed over)', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World();
        world.beforeChange = async (op) => {
          if (op === 'create stack') {
            // another daemon fails over while our stack is being created: our next act is refused
            world.beforeChange = undefined;
            await repo.plans.bumpEpoch('web', 0, { activeSite: 'site-b' });
            await repo.runs.create({ planName: 'web', kind: 'failover', owner: 'daemon-b', id: 'run-b', epoch: 1 });
          }
        };
        const err = await rejects(start(repo, failover(world)));
        expect(err).to.be.instanceOf(FencedError);
        expect(err.message).to.equal(
          "fenced: run run-1 (failover of plan 'web') holds epoch 0, but the plan is at epoch 1 (active at site-b); failover run run-b (owner daemon-b) moved it. " +
            'This process must not act for the plan: it did nothing more and is cancelled. ' +
            'Fix: see ferry runs list --plan web; let the newer run finish, then start a new failover if its work is still needed.',
        );
        // nothing after the fence: the primary runs, no compensation, no cleanup
        expect(world.ops).to.deep.equal(['create snapshot', 'create stack']);
        const run = (await repo.runs.get('run-1'))!;
        expect(run.status).to.equal('cancelled');
        expect((run.result as { error: string }).error).to.equal(err.message);
        const journal = await repo.journal.read('run-1');
        expect(phases(journal).slice(-4)).to.deep.equal(['stack verify', 'stack done', 'stop-primary observe', 'stop-primary failed']);
        expect(journal.at(-1)!.data).to.deep.include({ fenced: true, runEpoch: 0, planEpoch: 1 });
      } finally {
        await catalog.close();
      }
    });

    it('a fenced run is not resumed: nothing is observed, the run is cancelled', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World();
        await rejects(start(crashingRepo(catalog, { after: 3 }), failover(world)));
        await repo.plans.bumpEpoch('web', 0);
        const observed: string[] = [];
        const w = failover(world);
        const spied = defineWorkflow<FailoverState>(
          'failover',
          w.steps.map((s) => ({ ...s, observe: (ctx) => (observed.push(s.name), s.observe(ctx)) })),
        );
        const err = await rejects(resumeRun(repo, spied, 'run-1', { owner: 'daemon-2' }));
        expect(err).to.be.instanceOf(FencedError);
        expect(err.message).to.contain('no run at that epoch is recorded');
        expect(observed).to.deep.equal([]);
        expect(world.ops).to.deep.equal(['create snapshot']);
        expect((await repo.runs.get('run-1'))!.status).to.equal('cancelled');
      } finally {
        await catalog.close();
      }
    });

    it('a caller holding an old epoch gets no run; raiseEpoch moves the epoch before the run exists', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World();
        await repo.plans.bumpEpoch('web', 0);
        const err = await rejects(start(repo, failover(world), { epoch: 0 }));
        expect(err).to.be.instanceOf(FencedError);
        expect(err.message).to.contain("a failover run of plan 'web' was asked for at epoch 0, but the plan is at epoch 1");
        expect(err.message).to.contain('no run was created');
        expect(await repo.runs.list()).to.deep.equal([]);

        const out = await start(repo, failover(world), { epoch: 1, raiseEpoch: { activeSite: 'site-b' } });
        expect(out.status).to.equal('succeeded');
        expect(out.run.epoch).to.equal(2);
        const plan = (await repo.plans.get('web'))!;
        expect([plan.epoch, plan.activeSite]).to.deep.equal([2, 'site-b']);
      } finally {
        await catalog.close();
      }
    });
  });

  describe('retries and failure', () => {
    it('verify not ok is tried again after a growing pause, observing first (no second act)', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World();
        world.dnsBroken = true;
        const pauses: number[] = [];
        let verifies = 0;
        const w = failover(world);
        const dns = w.steps[3]!;
        const flaky = defineWorkflow<FailoverState>('failover', [
          ...w.steps.slice(0, 3),
          {
            ...dns,
            verify: (ctx) => {
              if (++verifies === 3) world.dnsBroken = false;
              return dns.verify(ctx);
            },
          },
        ]);
        const out = await start(repo, flaky, { sleep: async (ms) => void pauses.push(ms) });
        expect(out.status).to.equal('succeeded');
        expect(pauses).to.deep.equal([1000, 2000]);
        expect(world.count('set dns')).to.equal(1);
        const journal = await repo.journal.read('run-1');
        expect(phases(journal, 'dns')).to.deep.equal(['dns observe', 'dns act', 'dns verify', 'dns observe', 'dns verify', 'dns observe', 'dns verify', 'dns done']);
        expect(journal.filter((e) => e.step === 'dns').map((e) => (e.data as { attempt?: number }).attempt ?? (e.data as { attempts?: number }).attempts)).to.deep.equal([1, 1, 1, 2, 2, 3, 3, 3]);
        expect(journal.find((e) => e.step === 'dns' && e.phase === 'verify')!.data).to.deep.include({ ok: false, reason: 'the resolver answers nothing' });
        expect(out.result.steps[3]).to.include({ name: 'dns', status: 'done', attempts: 3 });
      } finally {
        await catalog.close();
      }
    });

    it('gives up after the attempts: the run fails with the step and the cause, started steps compensated newest first', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World();
        world.dnsBroken = true;
        const out = await start(repo, failover(world));
        expect(out.status).to.equal('failed');
        expect(out.result.error).to.equal('step dns (point the service name at the recovered address) failed after 3 tries: verify: the resolver answers nothing');
        expect(out.result.failedStep).to.equal('dns');
        const journal = await repo.journal.read('run-1');
        expect(phases(journal).slice(-6)).to.deep.equal(['dns failed', 'dns:compensate done', 'stop-primary:compensate done', 'stack:compensate done', 'snapshot:cleanup done', 'run failed']);
        expect(world.view()).to.deep.equal({ snapshots: {}, stacks: {}, primary: 'ACTIVE', dns: undefined });
        const run = (await repo.runs.get('run-1'))!;
        expect(run.status).to.equal('failed');
        expect((run.result as { steps: { status: string }[] }).steps.map((s) => s.status)).to.deep.equal(['done', 'done', 'done', 'failed']);
      } finally {
        await catalog.close();
      }
    });

    it('an error is tried again like a failed verify; TerminalStepError fails at once', async () => {
      for (const [title, error, wantStatus, wantTries] of [
        ['transient', new Error('compute: POST /servers returned 503'), 'succeeded', 2],
        ['terminal', new TerminalStepError('flavor m1.huge does not exist at site-b'), 'failed', 1],
      ] as const) {
        const { catalog, repo } = await freshCatalog();
        try {
          const world = new World();
          const w = failover(world);
          let acts = 0;
          const stack = w.steps[1]!;
          const wf = defineWorkflow<FailoverState>('failover', [
            w.steps[0]!,
            {
              ...stack,
              act: async (ctx, o) => {
                if (++acts === 1) throw error;
                return stack.act(ctx, o);
              },
            },
            ...w.steps.slice(2),
          ]);
          const pauses: number[] = [];
          const out = await start(repo, wf, { sleep: async (ms) => void pauses.push(ms) });
          expect(out.status, title).to.equal(wantStatus);
          expect(acts, title).to.equal(wantTries);
          expect(world.count('create stack'), title).to.equal(wantTries - 1);
          const journal = await repo.journal.read('run-1');
          expect(journal.find((e) => e.step === 'stack' && e.phase === 'act')!.data, title).to.deep.include({ attempt: 1, error: error.message });
          if (wantStatus === 'failed') {
            expect(pauses).to.deep.equal([]);
            expect(out.result.error).to.equal(`step stack (create the recovery stack at the secondary from the snapshot) failed after 1 try: act: ${error.message}`);
            expect(world.view().snapshots, 'cleanup ran').to.deep.equal({});
          } else {
            expect(pauses).to.deep.equal([1000]);
          }
        } finally {
          await catalog.close();
        }
      }
    });

    it('a failing compensation is a warning in the result, the run still ends failed', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World();
        world.dnsBroken = true;
        const w = failover(world, { dnsAttempts: 1 });
        const wf = defineWorkflow<FailoverState>('failover', [
          w.steps[0]!,
          {
            ...w.steps[1]!,
            retry: { attempts: 2 },
            compensate: () => {
              throw new Error('orchestration: DELETE /stacks/web-dr returned 409: stack is busy');
            },
          },
          ...w.steps.slice(2),
        ]);
        const out = await start(repo, wf);
        expect(out.status).to.equal('failed');
        expect(out.result.warnings).to.deep.equal(["compensate of step stack failed: orchestration: DELETE /stacks/web-dr returned 409: stack is busy (what it made carries the run's marks)"]);
        expect(phases(await repo.journal.read('run-1'), 'stack:compensate')).to.deep.equal(['stack:compensate act', 'stack:compensate failed']);
      } finally {
        await catalog.close();
      }
    });
  });

  describe('interruption and ownership', () => {
    it('an abort leaves the run running with an aborted entry; the resume does not repeat the act', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World();
        const controller = new AbortController();
        world.beforeChange = (op) => {
          if (op === 'stop primary') controller.abort(new Error('SIGTERM'));
        };
        const out = await start(repo, failover(world), { signal: controller.signal });
        expect(out.status).to.equal('interrupted');
        expect(out.run.status).to.equal('running');
        const journal = await repo.journal.read('run-1');
        expect(phases(journal).slice(-2)).to.deep.equal(['stop-primary act', 'stop-primary failed']);
        expect(journal.at(-1)!.data).to.deep.equal({ attempt: 1, aborted: true, error: 'SIGTERM' });
        expect(readProgress(journal).failure, 'an interruption is no failure').to.equal(undefined);

        world.beforeChange = undefined;
        const resumed = await resumeRun(repo, failover(world), 'run-1', { owner: 'daemon-1' });
        expect(resumed.status).to.equal('succeeded');
        expect(world.count('stop primary')).to.equal(1);
        const after = await repo.journal.read('run-1');
        expect(after.find((e) => e.seq > journal.length && e.step === 'stop-primary' && e.phase === 'observe')!.data).to.deep.include({ done: true });
        expect(after[journal.length]!.data, 'same owner: no takeover').to.deep.include({ resumed: true, owner: 'daemon-1', previousOwner: 'daemon-1' });
      } finally {
        await catalog.close();
      }
    });

    it('a process whose run another owner took over (a new leader) stops acting for it and writes nothing more in its journal', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World();
        let journalAtTakeover = 0;
        world.beforeChange = async (op) => {
          if (op === 'create stack') {
            // the old leader is still creating the stack when the new leader resumes the run
            world.beforeChange = undefined;
            await repo.runs.update('run-1', { owner: 'daemon-2' });
            journalAtTakeover = (await repo.journal.read('run-1')).length;
          }
        };
        const out = await start(repo, failover(world));
        expect(out.status).to.equal('interrupted');
        expect(out.result.error).to.equal('run run-1 was taken over by daemon-2 (this process, daemon-1, drove it): it does nothing more for it here; follow it with ferry runs show run-1');
        // the act under way ends; nothing after it: no next step, no compensation
        expect(world.ops).to.deep.equal(['create snapshot', 'create stack']);
        const journal = await repo.journal.read('run-1');
        expect(journal.length, 'nothing journaled after the takeover').to.equal(journalAtTakeover);
        expect((await repo.runs.get('run-1'))!.status, 'the run stays the new owner\'s').to.equal('running');
        // the new owner finishes it
        const resumed = await resumeRun(repo, failover(world), 'run-1', { owner: 'daemon-2' });
        expect(resumed.status).to.equal('succeeded');
        expect(world.count('create stack')).to.equal(1);
      } finally {
        await catalog.close();
      }
    });

    it('refuses to resume a finished run or a run of another kind', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World();
        await start(repo, failover(world));
        let err = await rejects(resumeRun(repo, failover(world), 'run-1', { owner: 'x' }));
        expect(err).to.be.instanceOf(RunStateError);
        expect(err.message).to.match(/^run 'run-1' \(failover of plan 'web'\) finished succeeded at .*; a finished run is not resumed: start a new failover$/);

        await repo.runs.create({ planName: 'web', kind: 'drtest', owner: 'x', id: 'run-2' });
        err = await rejects(resumeRun(repo, failover(world), 'run-2', { owner: 'x' }));
        expect(err.message).to.equal("run 'run-2' is a drtest run; it cannot be resumed as failover");
        err = await rejects(resumeRun(repo, failover(world), 'nope', { owner: 'x' }));
        expect(err.message).to.equal("run 'nope' is not in the catalog (fix: ferry runs list)");
      } finally {
        await catalog.close();
      }
    });
  });

  describe('dry-run', () => {
    it('observes without acting and renders what would happen; after a run, what is already done', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World();
        const planned = await planWorkflow(repo, failover(world), { planName: 'web' });
        expect(world.ops).to.deep.equal([]);
        expect(await repo.runs.list()).to.deep.equal([]);
        expect(renderPlan(planned, 'failover of plan web:')).to.equal(
          [
            'failover of plan web:',
            '  + snapshot      take a temporary snapshot of the data volume (no snapshot of this run)',
            '  + stack         create the recovery stack at the secondary from the snapshot (stack web-dr absent)',
            '  ~ stop-primary  stop the servers at the primary (primary ACTIVE)',
            '  ~ dns           point the service name at the recovered address',
            'Plan: 2 to create, 2 to update, 0 to replace, 0 to delete, 0 already done.',
          ].join('\n'),
        );

        await start(repo, failover(world));
        const again = await planWorkflow(repo, failover(world), { planName: 'web' });
        expect(again.map((p) => p.action)).to.deep.equal(['create', 'noop', 'noop', 'noop']);
        expect(renderPlan(again).split('\n').slice(1)).to.deep.equal([
          '    stack         create the recovery stack at the secondary from the snapshot (already done: stack stack-2)',
          '    stop-primary  stop the servers at the primary (already done: primary SHUTOFF)',
          '    dns           point the service name at the recovered address (already done)',
          'Plan: 1 to create, 0 to update, 0 to replace, 0 to delete, 3 already done.',
        ]);
      } finally {
        await catalog.close();
      }
    });

    it('an observe that fails is shown, and the dry-run goes on', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World();
        const w = failover(world);
        const wf = defineWorkflow<FailoverState>('failover', [
          {
            ...w.steps[0]!,
            observe: () => {
              throw new Error('block-storage: GET /snapshots returned 503');
            },
          },
          ...w.steps.slice(1),
        ]);
        const planned = await planWorkflow(repo, wf, { planName: 'web' });
        expect(planned[0]).to.deep.equal({ name: 'snapshot', describe: 'take a temporary snapshot of the data volume', action: 'create', error: 'block-storage: GET /snapshots returned 503' });
        const text = renderPlan(planned);
        expect(text.split('\n')[0]).to.equal('  + snapshot      take a temporary snapshot of the data volume (cannot observe: block-storage: GET /snapshots returned 503)');
        expect(text.split('\n').at(-1)).to.equal('Plan: 2 to create, 2 to update, 0 to replace, 0 to delete, 0 already done; 1 could not be observed.');
      } finally {
        await catalog.close();
      }
    });
  });

  describe('pure parts', () => {
    const e = (seq: number, step: string, phase: JournalEntry['phase'], data: object | null = null): JournalEntry => ({ runId: 'r', seq, at: new Date(T0 + seq * 1000), step, phase, data: data as JournalEntry['data'] });

    it('readProgress: where each step stands and where a resume continues', () => {
      const table: [string, JournalEntry[], { status: string; attempt: number; nextAttempt: number; lastCause?: string } | undefined, string | undefined][] = [
        ['no entries', [], undefined, undefined],
        ['observed, not acted', [e(1, 'a', 'observe', { attempt: 1, done: false })], { status: 'in-progress', attempt: 1, nextAttempt: 1 }, undefined],
        ['acted', [e(1, 'a', 'observe', { attempt: 1, done: false }), e(2, 'a', 'act', { attempt: 1 })], { status: 'in-progress', attempt: 1, nextAttempt: 1 }, undefined],
        ['verify not ok: next try', [e(1, 'a', 'verify', { attempt: 2, ok: false, reason: 'stack is CREATE_IN_PROGRESS' })], { status: 'in-progress', attempt: 2, nextAttempt: 3, lastCause: 'verify: stack is CREATE_IN_PROGRESS' }, undefined],
        ['act error: next try', [e(1, 'a', 'act', { attempt: 1, error: '503' })], { status: 'in-progress', attempt: 1, nextAttempt: 2, lastCause: 'act: 503' }, undefined],
        ['done', [e(1, 'a', 'verify', { attempt: 1, ok: true }), e(2, 'a', 'done', { attempts: 1 })], { status: 'done', attempt: 1, nextAttempt: 1 }, undefined],
        ['interrupted', [e(1, 'a', 'act', { attempt: 1 }), e(2, 'a', 'failed', { attempt: 1, aborted: true, error: 'SIGTERM' })], { status: 'interrupted', attempt: 1, nextAttempt: 1 }, undefined],
        ['fenced', [e(1, 'a', 'failed', { fenced: true, error: 'fenced: ...' })], { status: 'fenced', attempt: 1, nextAttempt: 1 }, undefined],
        ['failed for good', [e(1, 'a', 'verify', { attempt: 3, ok: false, reason: 'x' }), e(2, 'a', 'failed', { attempt: 3, error: 'step a failed' })], { status: 'failed', attempt: 3, nextAttempt: 4, lastCause: 'verify: x' }, 'step a failed'],
      ];
      for (const [title, entries, want, failure] of table) {
        const p = readProgress(entries);
        const s = p.steps.get('a');
        expect(s && { status: s.status, attempt: s.attempt, nextAttempt: s.nextAttempt, ...(s.lastCause ? { lastCause: s.lastCause } : {}) }, title).to.deep.equal(want);
        expect(p.failure?.error, title).to.equal(failure);
      }
    });

    it('readProgress replays state patches in order; null records a removed key', () => {
      const p = readProgress([
        e(1, 'run', 'observe', { steps: [{ name: 'a', describe: 'does a', action: 'create' }] }),
        e(2, 'a', 'act', { attempt: 1, state: { stackId: 's1', tmp: 'x' } }),
        e(3, 'a', 'verify', { attempt: 1, ok: true, state: { tmp: null, address: '10.0.0.1' } }),
        e(4, 'a:cleanup', 'failed', { attempt: 1, aborted: true, error: 'SIGTERM' }),
        e(5, 'a:compensate', 'done', {}),
        e(6, 'run', 'failed', { status: 'failed', step: 'a', error: 'boom' }),
      ]);
      expect(p.state).to.deep.equal({ stackId: 's1', tmp: null, address: '10.0.0.1' });
      expect(p.declared).to.deep.equal([{ name: 'a', describe: 'does a', action: 'create' }]);
      expect([...p.undone], 'an interrupted cleanup is not finished').to.deep.equal(['a:compensate']);
      expect(p.warnings).to.deep.equal([]);
      expect(p.finished).to.equal('failed');
      expect(p.order).to.deep.equal(['a']);
      // other writers' per-resource names (docs/catalog.md: snapshot:vol-1) are steps, not undo entries
      expect(readProgress([e(1, 'snapshot:vol-1', 'done', {})]).order).to.deep.equal(['snapshot:vol-1']);
    });

    it('summarizeRun: declared steps not started are pending; durations start before the first entry', () => {
      const run = { id: 'r', planName: 'web', kind: 'drtest' as const, status: 'running' as const, startedAt: new Date(T0), finishedAt: null, params: null, result: null, owner: 'o', epoch: 0 };
      const r = summarizeRun(run, [
        e(1, 'run', 'observe', { steps: [{ name: 'a', describe: 'does a', action: 'create' }, { name: 'b', describe: 'does b', action: 'delete' }] }),
        e(2, 'a', 'observe', { attempt: 1, done: true, ms: 500 }),
        e(3, 'a', 'verify', { attempt: 1, ok: true }),
        e(4, 'a', 'done', { attempts: 1 }),
      ]);
      expect(r.steps).to.deep.equal([
        { name: 'a', describe: 'does a', status: 'done', attempts: 1, startedAt: new Date(T0 + 1500).toISOString(), finishedAt: new Date(T0 + 4000).toISOString(), durationMs: 2500 },
        { name: 'b', describe: 'does b', status: 'pending', attempts: 0 },
      ]);
      expect(r.durationMs).to.equal(4000);
      expect(r.timeline.map((t) => `${t.step} ${t.phase}`)).to.deep.equal(['run observe', 'a observe', 'a verify', 'a done']);
    });

    it('docs/workflows.md gives every run status and journal phase its sentence from the code', () => {
      const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'workflows.md'), 'utf8');
      for (const [name, sentence] of [...Object.entries(RUN_STATUS_MEANING), ...Object.entries(JOURNAL_PHASE_MEANING)]) {
        expect(doc, name).to.contain(`| \`${name}\` | ${sentence} |`);
      }
    });

    it('retry policy and backoff', () => {
      expect(retryPolicy()).to.deep.equal({ attempts: 3, backoffMs: 1000, factor: 2, maxBackoffMs: 30_000 });
      expect(retryPolicy({ attempts: 0, backoffMs: -5 })).to.include({ attempts: 1, backoffMs: 0 });
      const p = retryPolicy({ backoffMs: 5000, maxBackoffMs: 30_000 });
      expect([1, 2, 3, 4, 5].map((a) => backoffMs(p, a))).to.deep.equal([5000, 10_000, 20_000, 30_000, 30_000]);
    });

    it('defineWorkflow refuses names the journal cannot tell apart', () => {
      const step = (name: string, describe = 'x') => ({ name, describe, action: 'update' as const, observe: () => ({ done: true }), act: () => undefined, verify: () => ({ ok: true }) });
      for (const [steps, msg] of [
        [[], 'workflow drtest has no steps'],
        [[step('a'), step('a')], "workflow drtest: two steps are named 'a'"],
        [[step('run')], "workflow drtest: step name 'run' is reserved for run-level journal entries"],
        [[step('stack:compensate')], "workflow drtest: step name 'stack:compensate' must be lower-case letters, digits and dashes, starting with a letter"],
        [[step('Stack')], "workflow drtest: step name 'Stack' must be lower-case letters, digits and dashes, starting with a letter"],
        [[step('a', ' ')], "workflow drtest: step 'a' has no description"],
      ] as const) {
        expect(() => defineWorkflow('drtest', steps), msg).to.throw(WorkflowDefinitionError, msg);
      }
    });
  });

  describe('registry', () => {
    // Importing lib/workflows/failover.ts registers the real failover workflow (for ferry
    // resume); these tests register their own under that kind, so the real one steps aside.
    before(() => failoverRegistration.unregister());
    after(() => failoverRegistration.register());
    it('resumes a run with the workflow registered for its kind, and says when none is', async () => {
      const { catalog } = await freshCatalog();
      const world = new World();
      const unregister = registerWorkflow('failover', () => failover(world));
      try {
        expect(() => registerWorkflow('failover', () => failover(world))).to.throw(WorkflowDefinitionError, 'a workflow for kind failover is registered already');
        await rejects(start(crashingRepo(catalog, { after: 6 }), failover(world)));
        const repo = new CatalogRepo(catalog);
        const out = await resumeRegistered(repo, 'run-1', { logger: silentLogger, sites: noSites }, { owner: 'daemon-2' });
        expect(out.status).to.equal('succeeded');
        expect(world.count('create snapshot')).to.equal(1);

        await repo.runs.create({ planName: 'web', kind: 'replicate', owner: 'x', id: 'rep-1' });
        const err = await rejects(resumeRegistered(repo, 'rep-1', { logger: silentLogger, sites: noSites }, { owner: 'y' }));
        expect(err).to.be.instanceOf(RunStateError);
        expect(err.message).to.equal("no resumable workflow registered for kind replicate (a replicate run is resumed by the plan's next cycle: ferry replicate web)");
      } finally {
        unregister();
        await catalog.close();
      }
      expect(workflowFor('failover')).to.equal(undefined);
    });
  });
});
