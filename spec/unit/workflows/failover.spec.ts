// The failover against an in-memory world (the secondary's stacks, bank and backups; the
// primary's servers; replication cycles that record real points in the catalog) whose every
// change is counted: the planned and unplanned step sequences, the dry-run changing nothing,
// pre-flight refusals, the guard against two restores of one backup, warm standby, and the
// command killed at every journal boundary and run again, reaching the same end state with
// every change made once.
import { expect } from 'chai';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogRepo, type JournalEntry, type JournalInput, type Plan, type Tier } from '../../../lib/catalog/repo.js';
import { StackFailedError, type ObservedStack, type StackVerification } from '../../../lib/heat/deploy.js';
import { generate, type GeneratedStack } from '../../../lib/heat/generate.js';
import { hasTags, stackPhase } from '../../../lib/heat/deploy.js';
import { MemoryLogger } from '../../../lib/log.js';
import { specOf } from '../../../lib/plan/store.js';
import type { BankEpoch } from '../../../lib/replication/bank.js';
import { buildRecoveryPoint } from '../../../lib/replication/recovery-point.js';
import { workflowFor, type RunEvent } from '../../../lib/workflows/engine.js';
import { failover, failoverFactory, failoverWorkflow, planFailover, FailoverRefusedError, type FailoverDeps, type FailoverOptions, type FailoverOutcome } from '../../../lib/workflows/failover.js';
import { FENCED_TAG, fencedEpochTag, type MemberServerView, type MembersSite } from '../../../lib/workflows/fence.js';
import { QuotaError, type QuotaRoom, type RecoveryTarget } from '../../../lib/workflows/recover.js';
import { run } from '../../../lib/cli/main.js';
import { renderFailover, renderFence, stackLine } from '../../../lib/cli/recovery.js';
import { IDS, imageData, inventory, plan as shopPlan, resolved, SPEC_HASH, volumeData } from '../heat/fixtures.js';

const T0 = Date.parse('2026-11-27T04:00:00.000Z');
const FIRST_POINT = 'f0f0f0f0-0000-4000-8000-000000000001';

class Crash extends Error {}

interface FakeStack {
  id: string;
  name: string;
  tags: string[];
  status: string;
}

/** Both sites in memory; every change is an entry in `ops`. */
class World {
  readonly ops: string[] = [];
  readonly reads: string[] = [];
  seq = 0;
  t = T0;
  readonly primary = new Map<string, MemberServerView>([
    [IDS.db, { id: IDS.db, name: 'shop-db', status: 'ACTIVE', locked: false, tags: ['shop'] }],
    [IDS.web, { id: IDS.web, name: 'shop-web', status: 'ACTIVE', locked: false, tags: ['shop'] }],
  ]);
  bank: BankEpoch | undefined = { epoch: 0, activeSite: 'site-a', updatedAt: '2026-11-27T03:00:00.000Z' };
  readonly stacks = new Map<string, FakeStack>();
  readonly marks = new Map<string, Record<string, string>>();
  backups = new Map<string, string>(volumeData().map((v) => [v.secondaryBackupId, 'available']));
  /** Backup statuses to show on the next reads, one map per read (then the steady `backups`). */
  backupsSequence: Map<string, string>[] = [];
  room: QuotaRoom = {};
  /** Deploys that fail (the stack goes CREATE_FAILED). */
  stackFailures = 0;
  cycleFails = false;
  primaryDown: string | undefined;
  constructor(readonly repo: () => CatalogRepo) {}

  now = (): Date => new Date((this.t += 1000));

  change(op: string): void {
    this.ops.push(op);
  }
  count(op: string): number {
    return this.ops.filter((o) => o === op).length;
  }

  view() {
    return {
      primary: Object.fromEntries([...this.primary.values()].map((s) => [s.name, `${s.status}${s.locked ? ' locked' : ''} ${s.tags.join(',')}`])),
      bank: this.bank ? `${this.bank.epoch} ${this.bank.activeSite}` : undefined,
      stacks: [...this.stacks.values()].map((s) => `${s.name} ${s.status}`),
      // the run's ID differs between runs of the test; what matters is that every volume carries one
      marks: Object.fromEntries([...this.marks].map(([k, m]) => [k, { ...m, 'ferry:run': m['ferry:run'] ? 'a run' : 'none' }])),
    };
  }

  target(): RecoveryTarget {
    return fakeTarget(this);
  }

  members(): MembersSite {
    return fakeMembers(this);
  }

  /** A replication cycle: a complete point in the catalog, taken now. */
  readonly runCycle: FailoverDeps['runCycle'] = async (planName) => {
    if (this.cycleFails) return { runId: 'cycle-x', status: 'failed', error: 'cinder-backup is down' };
    this.change('cycle');
    const id = `c0c0c0c0-0000-4000-8000-${String(++this.seq).padStart(12, '0')}`;
    await addPoint(this.repo(), planName, id, this.now());
    return { runId: `cycle-run-${this.seq}`, pointId: id, status: 'complete' };
  };

  deps(): Partial<FailoverDeps> {
    return { target: () => this.target(), members: () => this.members(), runCycle: this.runCycle, sleep: async () => undefined, guardPollMs: 1, guardTimeoutMs: 60_000 };
  }
}

/** The secondary's side effects, in the world. */
function fakeTarget(w: World): RecoveryTarget {
  return {
    name: 'site-b',
    async generate(manifest, plan, mode, runId) {
      w.reads.push('generate');
      return generate(manifest, plan, resolved(), mode, { runId });
    },
    async quotaRoom() {
      w.reads.push('quota');
      return { room: w.room, notes: [] };
    },
    async backupStatuses(ids) {
      w.reads.push('backups');
      const m = w.backupsSequence.shift() ?? w.backups;
      return new Map(ids.filter((id) => m.has(id)).map((id) => [id, m.get(id)!]));
    },
    async getEpoch() {
      w.reads.push('epoch');
      return w.bank;
    },
    async putEpoch(_plan, e) {
      w.change(`put epoch ${e.epoch} ${e.activeSite}`);
      w.bank = { ...e, updatedAt: 'now' };
    },
    async observeStack(name, owner): Promise<ObservedStack> {
      w.reads.push(`stack ${name}`);
      const s = [...w.stacks.values()].find((x) => x.name === name);
      if (!s) return { phase: 'absent', ours: false };
      const summary = { id: s.id, stack_name: s.name, stack_status: s.status, tags: s.tags } as unknown as NonNullable<ObservedStack['summary']>;
      return { phase: stackPhase(s.status), summary, ours: hasTags({ tags: s.tags }, owner) };
    },
    async deploy(g: GeneratedStack, req) {
      const own = [`ferry:plan=${req.planName}`, `ferry:run=${req.runId}`];
      if (req.update) {
        const s = w.stacks.get(req.update.id)!;
        if (!hasTags(s, own)) {
          w.change(`update stack ${s.name}`);
          s.tags = [...g.stackTags];
          s.status = 'UPDATE_COMPLETE';
        }
        return { identity: { stack_name: s.name, id: s.id }, action: 'updated' };
      }
      let s = [...w.stacks.values()].find((x) => x.name === g.stackName);
      if (s && hasTags(s, own) && s.status === 'CREATE_COMPLETE') return { identity: { stack_name: s.name, id: s.id }, action: 'adopted' };
      if (s && s.status === 'CREATE_FAILED' && req.replace === s.id) {
        w.change(`delete stack ${s.name}`);
        w.stacks.delete(s.id);
        s = undefined;
      }
      if (s) throw new StackFailedError(s.name, s.status, ['a failed stack of this run']);
      w.change(`create stack ${g.stackName}`);
      const id = `stack-${++w.seq}`;
      const failed = w.stackFailures > 0;
      if (failed) w.stackFailures--;
      w.stacks.set(id, { id, name: g.stackName, tags: [...g.stackTags], status: failed ? 'CREATE_FAILED' : 'CREATE_COMPLETE' });
      if (failed) throw new StackFailedError(g.stackName, 'CREATE_FAILED', ['volume_x: Invalid backup: Backup status must be available']);
      return { identity: { stack_name: g.stackName, id }, action: 'created' };
    },
    async deleteStack(ref) {
      const id = typeof ref === 'string' ? ref : ref.id;
      if (!w.stacks.has(id)) return false;
      w.change(`delete stack ${w.stacks.get(id)!.name}`);
      w.stacks.delete(id);
      return true;
    },
    async verify(ref, topology): Promise<StackVerification> {
      w.reads.push('verify');
      const s = w.stacks.get(ref.id);
      const ok = s !== undefined && stackPhase(s.status) === 'complete';
      return {
        ok,
        problems: ok ? [] : [`stack ${ref.stack_name} is ${s?.status ?? 'gone'}`],
        servers: topology.servers.map((r) => ({ resource: r, id: `srv-${r}`, name: r, status: 'ACTIVE' })),
        volumes: topology.volumes.map((r) => ({ resource: r, id: `vol-${r}`, status: 'in-use', attachedTo: [], metadata: { ...(w.marks.get(r) ?? {}) } })),
      };
    },
    async markVolumes(v, marksFor) {
      let n = 0;
      for (const vol of v.volumes) {
        const want = marksFor(vol.resource);
        if (!want || Object.entries(want).every(([k, x]) => vol.metadata[k] === x)) continue;
        w.change(`mark ${vol.resource}`);
        w.marks.set(vol.resource, { ...w.marks.get(vol.resource), ...want });
        n++;
      }
      return n;
    },
  };
}

/** The primary's servers, in the world. */
function fakeMembers(w: World): MembersSite {
  const server = (id: string) => w.primary.get(id)!;
  return {
    name: 'site-a',
    async members() {
      w.reads.push('members');
      return [...w.primary.values()].map((s) => ({ ...s, tags: [...s.tags] }));
    },
    async stop(id) {
      w.change(`stop ${server(id).name}`);
      server(id).status = 'SHUTOFF';
    },
    async start(id) {
      w.change(`start ${server(id).name}`);
      server(id).status = 'ACTIVE';
    },
    async tag(id, tag) {
      w.change(`tag ${server(id).name} ${tag}`);
      server(id).tags.push(tag);
    },
    async lock(id) {
      w.change(`lock ${server(id).name}`);
      server(id).locked = true;
    },
    async unreachable() {
      w.reads.push('probe');
      return w.primaryDown;
    },
  };
}

async function addPoint(repo: CatalogRepo, planName: string, id: string, createdAt: Date): Promise<void> {
  const m = buildRecoveryPoint({
    plan: { name: planName, specHash: SPEC_HASH, epoch: 0 },
    inventory: inventory(),
    volumes: volumeData(),
    images: imageData(),
    targetSite: 'site-b',
    sourceSite: 'site-a',
    createdAt,
    completedAt: new Date(createdAt.getTime() + 1000),
    id,
  });
  await repo.points.insert({ id, planName, consistency: 'crash', sourceSite: 'site-a', targetSite: 'site-b', createdAt });
  await repo.points.complete(id, m, m.sizes.totalBytes);
}

async function freshCatalog(tier: Tier = 'pilot-light'): Promise<{ catalog: Catalog; repo: CatalogRepo }> {
  const catalog = await openCatalog('sqlite::memory:');
  const repo = new CatalogRepo(catalog);
  await repo.plans.upsert({ name: 'shop', project: 'shop', primarySite: 'site-a', secondarySite: 'site-b', tier, rpoMs: 900_000, spec: specOf(shopPlan()) });
  await addPoint(repo, 'shop', FIRST_POINT, new Date(T0 - 600_000));
  return { catalog, repo };
}

/** A repository whose journal append `n` (counted over every run) throws Crash, after or before writing. */
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

function options(repo: CatalogRepo, world: World, over: Partial<FailoverOptions> = {}): FailoverOptions {
  return { repo, sites: noSites, owner: 'cli@test', now: world.now, sleep: async () => undefined, deps: world.deps(), ...over };
}

async function rejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const steps = (o: FailoverOutcome | undefined) => [...(o?.prepare?.result.steps ?? []), ...(o?.recover?.result.steps ?? [])].map((s) => `${s.name} ${s.status}`);

async function planRow(repo: CatalogRepo): Promise<Plan> {
  return (await repo.plans.get('shop'))!;
}

describe('workflows/failover', () => {

  describe('unplanned', () => {
    it('recovers the newest complete point at the secondary without touching the primary, raises the epoch, records RTO and RPO', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World(() => repo);
        const events: RunEvent[] = [];
        const out = await failover('shop', options(repo, world, { mode: 'unplanned', onEvent: (e) => events.push(e) }));
        expect(out.status, out.error).to.equal('succeeded');
        expect(steps(out)).to.deep.equal(['point done', 'guard done', 'activate done', 'stack done', 'check done']);
        expect(world.ops.filter((o) => !o.startsWith('mark '))).to.deep.equal(['put epoch 1 site-b', 'create stack ferry-shop-failover']);
        expect(world.ops.filter((o) => o.startsWith('mark ')), 'both restored volumes marked').to.have.length(2);
        expect(world.reads, 'the primary is not touched').to.not.include('members');
        expect(world.reads).to.not.include('probe');
        const plan = await planRow(repo);
        expect([plan.epoch, plan.activeSite]).to.deep.equal([1, 'site-b']);
        expect(out.recover!.run.epoch).to.equal(1);
        expect(out.pointId).to.equal(FIRST_POINT);
        expect(out.stackName).to.equal('ferry-shop-failover');
        expect(out.serverCount).to.equal(2);
        // fake clock: one second per reading; RPO is the command's start less the point's time (10 min before T0)
        const started = Date.parse((out.recover!.run.params as { commandStartedAt: string }).commandStartedAt);
        expect(out.rpoMs).to.equal(started - (T0 - 600_000));
        expect(out.rtoMs).to.be.greaterThan(0);
        expect(out.rtoMs).to.equal(Date.parse((out.recover!.result.state as { serversActiveAt: string }).serversActiveAt) - started);
        const marks = [...world.marks.values()];
        expect(marks.every((m) => m['ferry:plan'] === 'shop' && m['ferry:point'] === FIRST_POINT && m['ferry:run'] === out.runId)).to.equal(true);
        expect(marks.map((m) => m['ferry:source']).sort()).to.deep.equal([IDS.volDbData, IDS.volDbRoot].sort());
        expect(events.filter((e) => e.step === 'run').map((e) => e.phase)).to.deep.equal(['observe', 'done']);

        // the plan runs at the secondary now: a second failover is refused, nothing changes
        const before = world.ops.length;
        const err = await rejects(failover('shop', options(repo, world, { mode: 'unplanned' })));
        expect(err).to.be.instanceOf(FailoverRefusedError);
        expect(err.message).to.include(`already runs at site-b: failover run ${out.runId} recovered it at epoch 1`);
        expect(world.ops.length).to.equal(before);
      } finally {
        await catalog.close();
      }
    });

    it('refuses before anything changes when the secondary lacks quota', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World(() => repo);
        world.room = { volumes: 1, instances: 10 };
        const err = await rejects(failover('shop', options(repo, world, { mode: 'unplanned' })));
        expect(err).to.be.instanceOf(QuotaError);
        expect(err.message).to.equal(
          'the recovery does not fit the quota of the project at site-b: needs 2 volumes (Cinder volumes), room for 1. Nothing was created. Fix: raise those quotas at the site (openstack quota set), or free room, then run again',
        );
        expect(world.ops).to.deep.equal([]);
        expect(await repo.runs.list({ planName: 'shop' })).to.deep.equal([]);
        expect((await planRow(repo)).epoch).to.equal(0);
      } finally {
        await catalog.close();
      }
    });

    it('waits while a DR test restores from the same point, then recovers; fails with the fix when it stays busy', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World(() => repo);
        await repo.runs.create({ planName: 'shop', kind: 'drtest', owner: 'daemon-1', id: 'drtest-1', params: { pointId: FIRST_POINT } });
        const restoring = new Map(volumeData().map((v) => [v.secondaryBackupId, 'restoring']));
        world.backupsSequence = [restoring, restoring, restoring];
        const logger = new MemoryLogger();
        const out = await failover('shop', options(repo, world, { mode: 'unplanned', logger }));
        expect(out.status, out.error).to.equal('succeeded');
        const waits = logger.lines.filter((l) => l.level === 'warn' && l.msg.includes('waiting until they are available'));
        expect(waits.length).to.be.greaterThan(0);
        expect(waits[0]!.msg).to.include(`2 backup(s) of point ${FIRST_POINT} are busy at site-b`);
        expect(waits[0]!.msg).to.include('drtest run drtest-1 of plan shop restores the same point');
      } finally {
        await catalog.close();
      }

      const again = await freshCatalog();
      try {
        const world = new World(() => again.repo);
        await again.repo.runs.create({ planName: 'shop', kind: 'drtest', owner: 'daemon-1', id: 'drtest-2', params: { pointId: FIRST_POINT } });
        world.backups = new Map(volumeData().map((v) => [v.secondaryBackupId, 'restoring']));
        const out = await failover('shop', options(again.repo, world, { mode: 'unplanned', deps: { ...world.deps(), guardTimeoutMs: 5_000 } }));
        expect(out.status).to.equal('failed');
        expect(out.error).to.include('drtest run drtest-2 of plan shop restores the same point');
        expect(out.error).to.include('Cinder restores a backup into one volume at a time (fix: wait for that run to finish its restore, or recover another point with --point)');
        expect(world.count('create stack ferry-shop-failover'), 'nothing restored').to.equal(0);
      } finally {
        await again.catalog.close();
      }
    });

    it('replaces a stack that failed once; deletes its stack when it fails for good (compensation)', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World(() => repo);
        world.stackFailures = 1;
        const out = await failover('shop', options(repo, world, { mode: 'unplanned' }));
        expect(out.status, out.error).to.equal('succeeded');
        expect(world.ops.slice(0, 4)).to.deep.equal(['put epoch 1 site-b', 'create stack ferry-shop-failover', 'delete stack ferry-shop-failover', 'create stack ferry-shop-failover']);
        expect(out.recover!.result.steps.find((s) => s.name === 'stack')!.attempts).to.equal(2);
      } finally {
        await catalog.close();
      }
      const again = await freshCatalog();
      try {
        const world = new World(() => again.repo);
        world.stackFailures = 5;
        const out = await failover('shop', options(again.repo, world, { mode: 'unplanned' }));
        expect(out.status).to.equal('failed');
        expect(out.error).to.equal('step stack (create the recovery stack at the site from the point (or update the warm standby stack), following its events and watching its attachments) failed after 2 tries: act: stack ferry-shop-failover is CREATE_FAILED: volume_x: Invalid backup: Backup status must be available');
        expect(world.ops).to.deep.equal(['put epoch 1 site-b', 'create stack ferry-shop-failover', 'delete stack ferry-shop-failover', 'create stack ferry-shop-failover', 'delete stack ferry-shop-failover']);
        expect(world.stacks.size, 'nothing left at the secondary').to.equal(0);
        // the plan stays active at the secondary; an unplanned failover may try again
        const plan = await planRow(again.repo);
        expect([plan.epoch, plan.activeSite]).to.deep.equal([1, 'site-b']);
        world.stackFailures = 0;
        const retry = await failover('shop', options(again.repo, world, {}));
        expect(retry.status).to.equal('succeeded');
        expect(retry.mode).to.equal('unplanned');
        expect(retry.recover!.run.epoch).to.equal(2);
      } finally {
        await again.catalog.close();
      }
    });
  });

  describe('planned', () => {
    it('stops the primary, takes a final cycle, recovers it with RPO 0 and fences the stopped servers', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World(() => repo);
        const notes: string[] = [];
        const out = await failover('shop', options(repo, world, { onNote: (t) => notes.push(t) }));
        expect(notes[0]).to.equal('the primary site-a answers: planned failover (its servers are stopped, a final cycle is taken, RPO 0); use --unplanned to leave it alone');
        expect(out.status, out.error).to.equal('succeeded');
        expect(out.mode).to.equal('planned');
        expect(steps(out)).to.deep.equal(['stop-primary done', 'final-sync done', 'point done', 'guard done', 'activate done', 'stack done', 'check done', 'fence-primary done']);
        const marks = world.ops.filter((o) => o.startsWith('mark '));
        expect(world.ops).to.deep.equal([
          'stop shop-db',
          'stop shop-web',
          'cycle',
          'put epoch 1 site-b',
          'create stack ferry-shop-failover',
          ...marks,
          `tag shop-db ${FENCED_TAG}`,
          `tag shop-db ${fencedEpochTag(1)}`,
          'lock shop-db',
          `tag shop-web ${FENCED_TAG}`,
          `tag shop-web ${fencedEpochTag(1)}`,
          'lock shop-web',
        ]);
        expect(out.prepare!.run.epoch, 'the preparation runs at the old epoch').to.equal(0);
        expect(out.recover!.run.epoch).to.equal(1);
        expect(out.pointId, 'the final point, not the older one').to.not.equal(FIRST_POINT);
        expect(out.rpoMs).to.equal(0);
        expect((out.prepare!.result.state as { wasRunning: string[] }).wasRunning).to.deep.equal([IDS.db, IDS.web]);
        expect((out.recover!.result.state as { fenced: { site: string; servers: number } }).fenced).to.deep.include({ site: 'site-a', servers: 2, epoch: 1 });
        expect(world.view().primary).to.deep.equal({ 'shop-db': `SHUTOFF locked shop,${FENCED_TAG},${fencedEpochTag(1)}`, 'shop-web': `SHUTOFF locked shop,${FENCED_TAG},${fencedEpochTag(1)}` });
      } finally {
        await catalog.close();
      }
    });

    it('a failed final cycle restarts the stopped servers and raises nothing', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World(() => repo);
        world.primary.get(IDS.web)!.status = 'SHUTOFF';
        world.cycleFails = true;
        const out = await failover('shop', options(repo, world, { mode: 'planned' }));
        expect(out.status).to.equal('failed');
        expect(out.recover).to.equal(undefined);
        expect(out.error).to.include('the final replication cycle (run cycle-x) ended failed: cinder-backup is down');
        // only the server that was running is started again
        expect(world.ops).to.deep.equal(['stop shop-db', 'start shop-db']);
        const plan = await planRow(repo);
        expect([plan.epoch, plan.activeSite]).to.deep.equal([0, 'site-a']);
      } finally {
        await catalog.close();
      }
    });

    it('refuses a planned failover of a primary that does not answer, and --point with --planned', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World(() => repo);
        world.primaryDown = 'connect ECONNREFUSED 192.0.2.1:5000';
        const err = await rejects(failover('shop', options(repo, world, { mode: 'planned' })));
        expect(err).to.be.instanceOf(FailoverRefusedError);
        expect(err.message).to.equal("a planned failover stops the primary's servers first, but site-a does not answer (connect ECONNREFUSED 192.0.2.1:5000); nothing was changed (fix: ferry failover shop --unplanned)");
        // without a mode, an unreachable primary means unplanned
        const notes: string[] = [];
        const out = await failover('shop', options(repo, world, { onNote: (t) => notes.push(t) }));
        expect(out.mode).to.equal('unplanned');
        expect(notes).to.deep.equal(['the primary site-a does not answer (connect ECONNREFUSED 192.0.2.1:5000): unplanned failover from the newest complete point']);
      } finally {
        await catalog.close();
      }
      const again = await freshCatalog();
      try {
        const world = new World(() => again.repo);
        const err = await rejects(failover('shop', options(again.repo, world, { mode: 'planned', pointId: FIRST_POINT })));
        expect(err.message).to.include('--point f0f0f0f0-0000-4000-8000-000000000001 is only for --unplanned');
        expect(world.ops).to.deep.equal([]);
      } finally {
        await again.catalog.close();
      }
    });
  });

  describe('warm standby', () => {
    it('updates the standby stack to full capacity instead of creating one, and never deletes it', async () => {
      const { catalog, repo } = await freshCatalog('warm-standby');
      try {
        const world = new World(() => repo);
        world.stacks.set('standby-1', { id: 'standby-1', name: 'ferry-shop-standby', tags: ['ferry:plan=shop', 'ferry:mode=standby', 'ferry:run=standby-run'], status: 'CREATE_COMPLETE' });
        const out = await failover('shop', options(repo, world, { mode: 'unplanned' }));
        expect(out.status, out.error).to.equal('succeeded');
        expect(world.ops.slice(0, 2)).to.deep.equal(['put epoch 1 site-b', 'update stack ferry-shop-standby']);
        expect(world.ops.some((o) => o.startsWith('create stack'))).to.equal(false);
        expect(out.stackName).to.equal('ferry-shop-standby');
        expect(world.stacks.get('standby-1')!.tags).to.include('ferry:mode=failover');
      } finally {
        await catalog.close();
      }
    });

    it('without a standby stack, a warm-standby plan fails over like pilot-light and says so', async () => {
      const { catalog, repo } = await freshCatalog('warm-standby');
      try {
        const world = new World(() => repo);
        const notes: string[] = [];
        const out = await failover('shop', options(repo, world, { mode: 'unplanned', onNote: (t) => notes.push(t) }));
        expect(out.status).to.equal('succeeded');
        expect(notes).to.deep.equal(['plan shop is warm-standby but site-b has no standby stack ferry-shop-standby: failing over like pilot-light (the whole stack is created now)']);
        expect(world.ops).to.include('create stack ferry-shop-failover');
      } finally {
        await catalog.close();
      }
    });
  });

  describe('dry-run', () => {
    it('observes both runs and changes nothing: no run, no journal, no change at either site', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World(() => repo);
        const p = await planFailover('shop', options(repo, world, { mode: 'planned' }));
        expect(world.ops, 'nothing changed at either site').to.deep.equal([]);
        expect(await repo.runs.list({ planName: 'shop' }), 'no run recorded').to.deep.equal([]);
        const plan = await planRow(repo);
        expect([plan.epoch, plan.activeSite]).to.deep.equal([0, 'site-a']);
        expect(p.prepare!.map((s) => `${s.action} ${s.name}`)).to.deep.equal(['update stop-primary', 'create final-sync']);
        expect(p.recover.map((s) => `${s.action} ${s.name}`)).to.deep.equal(['read point', 'read guard', 'update activate', 'create stack', 'read check', 'update fence-primary']);
        expect(p.recover.every((s) => s.error === undefined), JSON.stringify(p.recover.filter((s) => s.error))).to.equal(true);
        expect(p.stops.map((s) => s.name)).to.deep.equal(['shop-db', 'shop-web']);
        const kinds = p.resources.map((r) => r.kind);
        expect(kinds.filter((k) => k === 'server')).to.have.length(2);
        expect(kinds.filter((k) => k === 'volume')).to.have.length(2);
        expect(p.text).to.include('planned failover of plan shop from site-a to site-b\n1. prepare (at the plan\'s epoch):');
        expect(p.text).to.include('  ~ stop-primary  stop the plan\'s servers at the primary (os-stop), so no write is lost after the final cycle (2 of 2 server(s) at site-a to stop: shop-db, shop-web)');
        expect(p.text).to.match(/\n {2}\+ server_[0-9a-f]{12} +DR::Server +shop-db\n/);
        expect(p.text).to.include('  ~ shop-db (44444444-0000-4000-8000-000000000001)  ACTIVE -> SHUTOFF');
        expect(p.text.trimEnd().endsWith('Nothing was changed (dry run).')).to.equal(true);
        expect(p.text).to.include('Plan: 1 to create, 1 to update, 0 to replace, 0 to delete, 0 already done.');
      } finally {
        await catalog.close();
      }
    });
  });

  describe('killed at every journal boundary', function () {
    // dozens of killed and resumed failovers: seconds on a quiet machine, more on a busy one
    this.timeout(120_000);
    const stable = (o: FailoverOutcome) => {
      const s = { ...(o.recover?.result.state ?? {}) } as Record<string, unknown>;
      // times move with the fake clock, which reads once more per journal entry of the killed process
      for (const k of ['serversActiveAt', 'rtoMs', 'rpoMs', 'fenced', 'pointCreatedAt']) delete s[k];
      return s;
    };

    async function reference(mode: 'planned' | 'unplanned', failures: number) {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World(() => repo);
        world.stackFailures = failures;
        const out = await failover('shop', options(repo, world, { mode }));
        let entries = 0;
        for (const r of await repo.runs.list({ planName: 'shop', kind: 'failover' })) entries += (await repo.journal.read(r.id)).length;
        return { world, out, entries };
      } finally {
        await catalog.close();
      }
    }

    for (const [title, mode, failures, want] of [
      ['a planned failover that succeeds', 'planned', 0, 'succeeded'],
      ['an unplanned failover whose stack fails for good (compensated)', 'unplanned', 5, 'failed'],
    ] as const) {
      it(`${title}: run again after the kill, the same end state, every change once`, async () => {
        const ref = await reference(mode, failures);
        expect(ref.out.status).to.equal(want);
        const counts = (w: World) => Object.fromEntries([...new Set(w.ops)].map((o) => [o, w.count(o)]));
        let scenarios = 0;
        for (let k = 1; k <= ref.entries; k++) {
          for (const crash of [{ after: k }, { before: k }]) {
            const { catalog, repo } = await freshCatalog();
            const label = `${mode} crash ${JSON.stringify(crash)}`;
            try {
              const world = new World(() => repo);
              world.stackFailures = failures;
              const err = await rejects(failover('shop', options(crashingRepo(catalog, crash), world, { mode })));
              expect(err, label).to.be.instanceOf(Crash);
              // the operator runs the same command again (another process, another owner)
              const out = await failover('shop', options(new CatalogRepo(catalog), world, { mode, owner: 'cli@other' }));
              expect(out.status, `${label}: ${out.error}`).to.equal(want);
              expect(world.view(), label).to.deep.equal(ref.world.view());
              expect(counts(world), label).to.deep.equal(counts(ref.world));
              expect(stable(out), label).to.deep.equal(stable(ref.out));
              expect(steps(out), label).to.deep.equal(steps(ref.out));
              const plan = await planRow(repo);
              expect([plan.epoch, plan.activeSite], label).to.deep.equal([1, 'site-b']);
              scenarios++;
            } finally {
              await catalog.close();
            }
          }
        }
        expect(scenarios).to.equal(2 * ref.entries);
        expect(ref.entries).to.be.greaterThan(mode === 'planned' ? 30 : 15);
      });
    }
  });

  describe('resume', () => {
    it('registers the failover workflow for ferry resume, one workflow per phase', () => {
      expect(workflowFor('failover')).to.equal(failoverFactory);
      const deps = { target: noSites, members: noSites, runCycle: noSites } as unknown as FailoverDeps;
      expect(failoverWorkflow({ phase: 'prepare', planned: true }, deps).steps.map((s) => s.name)).to.deep.equal(['stop-primary', 'final-sync']);
      expect(failoverWorkflow({ phase: 'recover', planned: false }, deps).steps.map((s) => s.name)).to.deep.equal(['point', 'guard', 'activate', 'stack', 'check']);
      expect(failoverWorkflow({ phase: 'recover', planned: true }, deps).steps.map((s) => s.name)).to.deep.equal(['point', 'guard', 'activate', 'stack', 'check', 'fence-primary']);
      expect(failoverWorkflow({ phase: 'fence', planned: false }, deps).steps.map((s) => s.name)).to.deep.equal(['fence']);
    });

    it('an interrupted failover is continued by the same command: the unfinished run resumes, nothing is made twice', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World(() => repo);
        const stop = new AbortController();
        const first = await failover('shop', options(repo, world, { mode: 'unplanned', signal: stop.signal, onEvent: (e) => e.step === 'stack' && e.phase === 'act' && stop.abort(new Error('Ctrl-C')) }));
        expect(first.status).to.equal('interrupted');
        expect((await repo.runs.get(first.runId))!.status).to.equal('running');
        const notes: string[] = [];
        const second = await failover('shop', options(repo, world, { mode: 'unplanned', onNote: (t) => notes.push(t) }));
        expect(second.status).to.equal('succeeded');
        expect(second.runId).to.equal(first.runId);
        expect(notes).to.deep.equal([`continuing the unplanned failover of plan shop: resuming its recover run ${first.runId}`]);
        expect(world.count('create stack ferry-shop-failover')).to.equal(1);
        expect((await planRow(repo)).epoch, 'the epoch was raised once').to.equal(1);
      } finally {
        await catalog.close();
      }
    });
  });
  describe('the command line', () => {
    it('refuses conflicting options before it opens anything', async () => {
      for (const args of [
        ['failover', 'shop', '--point', FIRST_POINT, '--planned'],
        ['failover', 'shop', '--planned', '--unplanned'],
        ['failover', 'shop', '--stack-timeout', '0'],
      ]) {
        const err: string[] = [];
        const code = await run(['--db', 'sqlite::memory:', ...args], { out: () => undefined, err: (t) => err.push(t) });
        expect(code, args.join(' ')).to.equal(2);
        expect(err.join('\n'), args.join(' ')).to.match(/cannot be used with|must be a positive whole number of minutes/);
      }
    });

    it('prints the outcome (RTO, RPO, stack, servers) as a table or JSON, and stack events as progress lines', async () => {
      const { catalog, repo } = await freshCatalog();
      try {
        const world = new World(() => repo);
        const out = await failover('shop', options(repo, world, { mode: 'unplanned' }));
        const json = JSON.parse(renderFailover(out, 'json')) as Record<string, unknown>;
        expect(json).to.deep.include({ plan: 'shop', mode: 'unplanned', status: 'succeeded', recoverRunId: out.runId, pointId: FIRST_POINT, stackName: 'ferry-shop-failover', stackId: out.stackId, rtoMs: out.rtoMs, rpoMs: out.rpoMs, serverCount: 2, error: null });
        expect((json.steps as { name: string }[]).map((s) => s.name)).to.deep.equal(['point', 'guard', 'activate', 'stack', 'check']);
        const text = renderFailover(out, 'table');
        expect(text).to.include('RTO');
        expect(text).to.match(new RegExp(`recover run +│ ${out.runId} \\(succeeded, epoch 1\\)`));
        expect(text).to.match(/server_[0-9a-f]{12}.*srv-server_[0-9a-f]{12}.*ACTIVE/);
        expect(renderFence('shop', { status: 'fenced', site: 'site-a', runId: 'r-1', servers: 2 }, 'table')).to.include('2 server(s) at site-a stopped, tagged and locked (run r-1)');
        expect(stackLine({ site: 'site-b', stack: 'ferry-shop-failover', resource: 'server_0bd79673f428', source: 'shop-db', status: 'CREATE_COMPLETE', reason: 'state changed', time: 't' })).to.equal(
          'ferry: stack ferry-shop-failover: server_0bd79673f428 (shop-db) CREATE_COMPLETE',
        );
        expect(stackLine({ site: 'site-b', stack: 'ferry-shop-failover', resource: 'volume_x', status: 'CREATE_FAILED', reason: 'BadRequest: Invalid backup', time: 't' })).to.equal(
          'ferry: stack ferry-shop-failover: volume_x CREATE_FAILED: BadRequest: Invalid backup',
        );
      } finally {
        await catalog.close();
      }
    });
  });
});

