// The warm standby against an in-memory secondary (stacks, backups, volume marks) whose every
// change is counted: the standby stack created from the newest point in mode standby, left
// alone while it holds that point, moved to a newer point by a stack update, taken over by a
// failover; refusals before any run (other tiers, the plan active at its secondary, a standby
// running production, a failover in progress, no point); the one standby check shared by
// failover's pre-flight and the stack step; the dry-run; resume after a kill.
import { expect } from 'chai';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogRepo, type JournalEntry, type JournalInput, type Tier } from '../../../lib/catalog/repo.js';
import { hasTags, stackPhase, type ObservedStack, type StackVerification } from '../../../lib/heat/deploy.js';
import { generate, type GeneratedStack } from '../../../lib/heat/generate.js';
import { specOf } from '../../../lib/plan/store.js';
import { buildRecoveryPoint } from '../../../lib/replication/recovery-point.js';
import type { BankEpoch } from '../../../lib/replication/bank.js';
import type { VolumeDataRef } from '../../../lib/replication/types.js';
import { workflowFor } from '../../../lib/workflows/engine.js';
import { failover, type FailoverDeps } from '../../../lib/workflows/failover.js';
import type { MembersSite } from '../../../lib/workflows/fence.js';
import { findStandby, RecoveryPointError, type RecoveryTarget } from '../../../lib/workflows/recover.js';
import {
  planStandby,
  STANDBY_KIND,
  standbyCurrent,
  standbyFactory,
  standbyPoint,
  standbyRefusal,
  standbyTopology,
  standbyWorkflow,
  syncStandby,
  StandbyRefusedError,
  type StandbyOptions,
} from '../../../lib/workflows/standby.js';
import { IDS, imageData, inventory, plan as shopPlan, resolved, SPEC_HASH, volumeData } from '../heat/fixtures.js';

const T0 = Date.parse('2026-11-27T04:00:00.000Z');
const POINT_1 = 'a1a1a1a1-0000-4000-8000-000000000001';
const POINT_2 = 'a2a2a2a2-0000-4000-8000-000000000002';

interface FakeStack {
  id: string;
  name: string;
  tags: string[];
  status: string;
  /** The generated stack the last create or update sent. */
  sent: GeneratedStack;
}

/** The secondary in memory; every change is an entry in `ops`. */
class World {
  readonly ops: string[] = [];
  seq = 0;
  t = T0;
  readonly stacks = new Map<string, FakeStack>();
  readonly marks = new Map<string, Record<string, string>>();
  backups = new Map<string, string>();
  /** A volume status to show instead of the stack's own (a server took it). */
  volumeStatus: string | undefined;
  bank: BankEpoch | undefined;
  now = (): Date => new Date((this.t += 1000));

  stackNamed(name: string): FakeStack | undefined {
    return [...this.stacks.values()].find((s) => s.name === name);
  }

  target(): RecoveryTarget {
    return fakeTarget(this);
  }
}

/** The secondary's side effects, in the world. */
function fakeTarget(w: World): RecoveryTarget {
  return {
    name: 'site-b',
    generate: async (manifest, plan, mode, runId) => generate(manifest, plan, resolved(), mode, { runId }),
    quotaRoom: async () => ({ room: {}, notes: [] }),
    backupStatuses: async (ids) => new Map(ids.filter((id) => w.backups.has(id)).map((id) => [id, w.backups.get(id)!])),
    getEpoch: async () => w.bank,
    async putEpoch(_plan, e) {
      w.ops.push(`put epoch ${e.epoch} ${e.activeSite}`);
      w.bank = { ...e, updatedAt: 'now' };
    },
    async observeStack(name, owner): Promise<ObservedStack> {
      const s = w.stackNamed(name);
      if (!s) return { phase: 'absent', ours: false };
      const summary = { id: s.id, stack_name: s.name, stack_status: s.status, tags: s.tags } as unknown as NonNullable<ObservedStack['summary']>;
      return { phase: stackPhase(s.status), summary, ours: hasTags({ tags: s.tags }, owner) };
    },
    async deploy(g, req) {
      if (req.update) {
        const s = w.stacks.get(req.update.id)!;
        w.ops.push(`update stack ${s.name}`);
        Object.assign(s, { tags: [...g.stackTags], status: 'UPDATE_COMPLETE', sent: g });
        return { identity: { stack_name: s.name, id: s.id }, action: 'updated' };
      }
      const own = [`ferry:plan=${req.planName}`, `ferry:run=${req.runId}`];
      const s = w.stackNamed(g.stackName);
      if (s && hasTags(s, own)) return { identity: { stack_name: s.name, id: s.id }, action: 'adopted' };
      w.ops.push(`create stack ${g.stackName}`);
      const id = `stack-${++w.seq}`;
      w.stacks.set(id, { id, name: g.stackName, tags: [...g.stackTags], status: 'CREATE_COMPLETE', sent: g });
      return { identity: { stack_name: g.stackName, id }, action: 'created' };
    },
    async deleteStack(ref) {
      const id = typeof ref === 'string' ? ref : ref.id;
      if (!w.stacks.has(id)) return false;
      w.ops.push(`delete stack ${w.stacks.get(id)!.name}`);
      w.stacks.delete(id);
      return true;
    },
    async verify(ref, topology): Promise<StackVerification> {
      const s = w.stacks.get(ref.id);
      const production = s?.tags.includes('ferry:mode=failover') === true;
      return {
        ok: s !== undefined,
        problems: s ? [] : [`stack ${ref.stack_name} is gone`],
        servers: topology.servers.map((r) => ({ resource: r, id: `srv-${r}`, name: r, status: 'ACTIVE' })),
        volumes: topology.volumes.map((r) => ({ resource: r, id: `vol-${r}`, status: w.volumeStatus ?? (production ? 'in-use' : 'available'), attachedTo: production ? ['a server'] : [], metadata: { ...(w.marks.get(r) ?? {}) } })),
      };
    },
    async markVolumes(v, marksFor) {
      let n = 0;
      for (const vol of v.volumes) {
        const want = marksFor(vol.resource);
        if (!want || Object.entries(want).every(([k, x]) => vol.metadata[k] === x)) continue;
        w.ops.push(`mark ${vol.resource}`);
        w.marks.set(vol.resource, { ...w.marks.get(vol.resource), ...want });
        n++;
      }
      return n;
    },
  };
}

/** The point's volumes with backups of their own (a newer point has new backups). */
function backupsOf(tag: string): VolumeDataRef[] {
  const retag = (id: string) => `${id.slice(0, -6)}${tag}${id.slice(-2)}`;
  return volumeData().map((v) => ({ ...v, secondaryBackupId: retag(v.secondaryBackupId), primaryBackupId: retag(v.primaryBackupId) }));
}

async function addPoint(repo: CatalogRepo, world: World, id: string, createdAt: Date, tag: string): Promise<VolumeDataRef[]> {
  const volumes = backupsOf(tag);
  for (const v of volumes) world.backups.set(v.secondaryBackupId, 'available');
  const m = buildRecoveryPoint({ plan: { name: 'shop', specHash: SPEC_HASH, epoch: 0 }, inventory: inventory(), volumes, images: imageData(), targetSite: 'site-b', sourceSite: 'site-a', createdAt, completedAt: new Date(createdAt.getTime() + 1000), id });
  await repo.points.insert({ id, planName: 'shop', consistency: 'crash', sourceSite: 'site-a', targetSite: 'site-b', createdAt });
  await repo.points.complete(id, m, m.sizes.totalBytes);
  return volumes;
}

async function fresh(tier: Tier = 'warm-standby', withPoint = true): Promise<{ catalog: Catalog; repo: CatalogRepo; world: World }> {
  const catalog = await openCatalog('sqlite::memory:');
  const repo = new CatalogRepo(catalog);
  await repo.plans.upsert({ name: 'shop', project: 'shop', primarySite: 'site-a', secondarySite: 'site-b', tier, rpoMs: 900_000, spec: specOf(shopPlan()) });
  const world = new World();
  if (withPoint) await addPoint(repo, world, POINT_1, new Date(T0 - 600_000), '0001');
  return { catalog, repo, world };
}

const noSites = (): never => {
  throw new Error('no real site in this test');
};

function options(repo: CatalogRepo, world: World, over: Partial<StandbyOptions> = {}): StandbyOptions {
  return { repo, sites: noSites, owner: 'cli@test', now: world.now, sleep: async () => undefined, deps: { target: () => world.target(), guardPollMs: 1 }, ...over };
}

async function rejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** The backup IDs a generated stack's parameters restore from. */
const backupIdsIn = (g: GeneratedStack): string[] => [...new Set([...JSON.stringify(g.parameters).matchAll(/99999999-0000-4000-8000-\d{12}/g)].map((m) => m[0]))].sort();

const observed = (tags: string[], status = 'CREATE_COMPLETE'): ObservedStack => ({ phase: stackPhase(status), ours: true, summary: { id: 's1', stack_name: 'ferry-shop-standby', stack_status: status, tags } as unknown as NonNullable<ObservedStack['summary']> });

describe('workflows/standby', () => {
  describe('syncStandby', () => {
    it('creates the standby stack from the newest complete point in mode standby: volumes restored and marked, no servers', async () => {
      const { catalog, repo, world } = await fresh();
      try {
        const out = await syncStandby('shop', options(repo, world));
        expect(out.status, out.error).to.equal('succeeded');
        expect(out).to.deep.include({ action: 'created', pointId: POINT_1, stackName: 'ferry-shop-standby', site: 'site-b', volumeCount: 2 });
        expect(out.previousPointId).to.equal(undefined);
        expect(out.outcome!.result.steps.map((s) => `${s.name} ${s.status}`)).to.deep.equal(['hold done', 'point done', 'guard done', 'stack done', 'check-standby done']);
        expect(out.outcome!.run.kind).to.equal('standby');
        expect(world.ops.filter((o) => !o.startsWith('mark '))).to.deep.equal(['create stack ferry-shop-standby']);
        expect(world.ops.filter((o) => o.startsWith('mark '))).to.have.length(2);
        const s = world.stackNamed('ferry-shop-standby')!;
        expect(s.tags).to.include.members(['ferry:plan=shop', `ferry:point=${POINT_1}`, 'ferry:mode=standby', `ferry:run=${out.runId}`]);
        // servers, attachments and floating IPs are placeholders: the standby runs nothing
        const registry = (s.sent.environment as { resource_registry: Record<string, string> }).resource_registry;
        expect([registry['DR::Server'], registry['DR::VolumeAttachment'], registry['DR::FloatingIP']]).to.deep.equal(['OS::Heat::None', 'OS::Heat::None', 'OS::Heat::None']);
        expect(registry['DR::Volume']).to.not.equal('OS::Heat::None');
        expect(s.sent.demand).to.deep.include({ instances: 0, cores: 0, ramMiB: 0, volumes: 2 });
        expect(backupIdsIn(s.sent)).to.deep.equal(backupsOf('0001').map((v) => v.secondaryBackupId).sort());
        expect(out.volumes!.map((v) => v.status)).to.deep.equal(['available', 'available']);
        const marks = [...world.marks.values()];
        expect(marks.every((m) => m['ferry:plan'] === 'shop' && m['ferry:point'] === POINT_1 && m['ferry:run'] === out.runId)).to.equal(true);
        expect(marks.map((m) => m['ferry:source']).sort()).to.deep.equal([IDS.volDbData, IDS.volDbRoot].sort());
        const plan = (await repo.plans.get('shop'))!;
        expect([plan.epoch, plan.activeSite], 'a standby raises nothing').to.deep.equal([0, 'site-a']);
      } finally {
        await catalog.close();
      }
    });

    it('does nothing while the standby holds the newest point; moves it to a newer point by a stack update', async () => {
      const { catalog, repo, world } = await fresh();
      try {
        const first = await syncStandby('shop', options(repo, world));
        const notes: string[] = [];
        const same = await syncStandby('shop', options(repo, world, { onNote: (t) => notes.push(t) }));
        expect(same).to.deep.include({ status: 'current', action: 'none', pointId: POINT_1, previousPointId: POINT_1 });
        expect(same.runId).to.equal(undefined);
        expect(notes).to.deep.equal([`the standby stack ferry-shop-standby at site-b holds the newest complete point ${POINT_1} already; nothing to do`]);
        expect(await repo.runs.list({ planName: 'shop', kind: STANDBY_KIND })).to.have.length(1);

        world.ops.length = 0;
        await addPoint(repo, world, POINT_2, new Date(T0), '0002');
        const second = await syncStandby('shop', options(repo, world));
        expect(second.status, second.error).to.equal('succeeded');
        expect(second).to.deep.include({ action: 'updated', pointId: POINT_2, previousPointId: POINT_1, stackId: first.stackId });
        expect(world.ops.filter((o) => !o.startsWith('mark '))).to.deep.equal(['update stack ferry-shop-standby']);
        expect(world.stacks.size, 'one stack: updated, not a second one').to.equal(1);
        const s = world.stackNamed('ferry-shop-standby')!;
        expect(s.tags).to.include.members([`ferry:point=${POINT_2}`, 'ferry:mode=standby']);
        expect(backupIdsIn(s.sent), "the update restores the newer point's backups").to.deep.equal(backupsOf('0002').map((v) => v.secondaryBackupId).sort());
        expect([...world.marks.values()].every((m) => m['ferry:point'] === POINT_2 && m['ferry:run'] === second.runId)).to.equal(true);
      } finally {
        await catalog.close();
      }
    });

    it('a failover takes the standby stack over (update to full capacity); standby is refused afterwards', async () => {
      const { catalog, repo, world } = await fresh();
      try {
        await syncStandby('shop', options(repo, world));
        world.ops.length = 0;
        const members: MembersSite = { name: 'site-a', members: noSites, stop: noSites, start: noSites, tag: noSites, lock: noSites, unreachable: noSites };
        const deps: Partial<FailoverDeps> = { target: () => world.target(), members: () => members, runCycle: noSites, sleep: async () => undefined, guardPollMs: 1 };
        const notes: string[] = [];
        const f = await failover('shop', { repo, sites: noSites, owner: 'cli@test', now: world.now, mode: 'unplanned', deps, onNote: (t) => notes.push(t) });
        expect(f.status, f.error).to.equal('succeeded');
        expect(notes, 'the standby was found by pre-flight').to.deep.equal([]);
        expect(world.ops.filter((o) => !o.startsWith('mark '))).to.deep.equal(['put epoch 1 site-b', 'update stack ferry-shop-standby']);
        expect(f.stackName).to.equal('ferry-shop-standby');
        expect(world.stackNamed('ferry-shop-standby')!.tags).to.include('ferry:mode=failover');

        world.ops.length = 0;
        const err = await rejects(syncStandby('shop', options(repo, world)));
        expect(err).to.be.instanceOf(StandbyRefusedError);
        expect(err.message).to.equal("plan 'shop' is active at site-b (epoch 1): the stack there runs production, and a standby update would remove its servers; nothing was changed (fix: come back with ferry failback shop first)");
        expect(world.ops).to.deep.equal([]);
      } finally {
        await catalog.close();
      }
    });

    it('refuses other tiers, a failover in progress, a standby running production and a plan without a point, changing nothing', async () => {
      const pilot = await fresh('pilot-light');
      try {
        const err = await rejects(syncStandby('shop', options(pilot.repo, pilot.world)));
        expect(err).to.be.instanceOf(StandbyRefusedError);
        expect(err.message).to.match(/^plan 'shop' is tier pilot-light: only warm-standby plans keep a standby stack at the secondary; nothing was changed \(fix: set tier: warm-standby/);
        expect(await pilot.repo.runs.list({ planName: 'shop' })).to.deep.equal([]);
      } finally {
        await pilot.catalog.close();
      }
      const { catalog, repo, world } = await fresh();
      try {
        await repo.runs.create({ planName: 'shop', kind: 'failover', owner: 'cli@ops', id: 'run-f1' });
        const busy = await rejects(syncStandby('shop', options(repo, world)));
        expect(busy.message).to.include("a failover of plan 'shop' is in progress (run run-f1)");
        await repo.runs.update('run-f1', { status: 'failed' });
        await repo.runs.create({ planName: 'shop', kind: 'failback', owner: 'cli@ops', id: 'run-b1' });
        expect((await rejects(syncStandby('shop', options(repo, world)))).message).to.include("a failback of plan 'shop' is in progress (run run-b1)");
        await repo.runs.update('run-b1', { status: 'succeeded' });

        world.stacks.set('prod', { id: 'prod', name: 'ferry-shop-standby', tags: ['ferry:plan=shop', 'ferry:mode=failover'], status: 'UPDATE_COMPLETE', sent: undefined as unknown as GeneratedStack });
        const prod = await rejects(syncStandby('shop', options(repo, world)));
        expect(prod.message).to.include('runs production servers (tag ferry:mode=failover)');
        expect(world.ops).to.deep.equal([]);
        expect(await repo.runs.list({ planName: 'shop', kind: STANDBY_KIND })).to.deep.equal([]);
      } finally {
        await catalog.close();
      }
      const empty = await fresh('warm-standby', false);
      try {
        const none = await rejects(syncStandby('shop', options(empty.repo, empty.world)));
        expect(none).to.be.instanceOf(RecoveryPointError);
        expect(none.message).to.include('fix: ferry replicate shop');
      } finally {
        await empty.catalog.close();
      }
    });

    it('fails when a volume of the standby is not available, and deletes the stack it created (compensation)', async () => {
      const { catalog, repo, world } = await fresh();
      try {
        world.volumeStatus = 'error_restoring';
        const out = await syncStandby('shop', options(repo, world));
        expect(out.status).to.equal('failed');
        expect(out.error).to.include('is error_restoring, not available');
        expect(world.ops.filter((o) => !o.startsWith('mark '))).to.deep.equal(['create stack ferry-shop-standby', 'delete stack ferry-shop-standby']);
      } finally {
        await catalog.close();
      }
    });

    it('a standby update that fails leaves the standby stack in place', async () => {
      const { catalog, repo, world } = await fresh();
      try {
        await syncStandby('shop', options(repo, world));
        await addPoint(repo, world, POINT_2, new Date(T0), '0002');
        world.volumeStatus = 'error';
        world.ops.length = 0;
        const out = await syncStandby('shop', options(repo, world));
        expect(out.status).to.equal('failed');
        expect(world.ops.filter((o) => !o.startsWith('mark '))).to.deep.equal(['update stack ferry-shop-standby']);
        expect(world.stacks.size).to.equal(1);
      } finally {
        await catalog.close();
      }
    });
  });

  describe('the dry-run', () => {
    it('says what it would create or update and changes nothing', async () => {
      const { catalog, repo, world } = await fresh();
      try {
        const p = await planStandby('shop', options(repo, world));
        expect(p).to.deep.include({ action: 'create', pointId: POINT_1, stackName: 'ferry-shop-standby' });
        expect(p.text).to.include(`warm standby of plan shop: create the standby stack ferry-shop-standby at site-b from point ${POINT_1}`);
        expect(p.steps.map((s) => s.name)).to.deep.equal(['hold', 'point', 'guard', 'stack', 'check-standby']);
        expect(p.steps.every((s) => s.error === undefined), JSON.stringify(p.steps)).to.equal(true);
        expect(p.text).to.match(/Nothing was changed \(dry run\)\.$/);
        expect(world.ops).to.deep.equal([]);
        expect(await repo.runs.list({ planName: 'shop' })).to.deep.equal([]);

        await syncStandby('shop', options(repo, world));
        await addPoint(repo, world, POINT_2, new Date(T0), '0002');
        world.ops.length = 0;
        const u = await planStandby('shop', options(repo, world));
        expect(u.action).to.equal('update');
        expect(u.text).to.include(`update the standby stack ferry-shop-standby at site-b from point ${POINT_1} to point ${POINT_2}`);
        const stack = u.steps.find((x) => x.name === 'stack')!;
        expect(stack.summary).to.match(new RegExp(`^update the standby stack ferry-shop-standby \\(CREATE_COMPLETE, point ${POINT_1}\\) to point ${POINT_2}: \\d+ `));
        expect(u.text).to.not.include('full capacity');
        expect(world.ops).to.deep.equal([]);
      } finally {
        await catalog.close();
      }
    });
  });

  describe('resume', () => {
    it('registers the standby workflow for ferry resume', () => {
      expect(workflowFor(STANDBY_KIND)).to.equal(standbyFactory);
      expect(standbyWorkflow({ target: noSites }).steps.map((s) => s.name)).to.deep.equal(['hold', 'point', 'guard', 'stack', 'check-standby']);
    });

    it('a standby killed at the stack step is continued by the same command: the stack is made once', async () => {
      const { catalog, repo, world } = await fresh();
      try {
        const stop = new AbortController();
        const first = await syncStandby('shop', options(repo, world, { signal: stop.signal, onEvent: (e) => e.step === 'stack' && e.phase === 'act' && stop.abort(new Error('Ctrl-C')) }));
        expect(first.status).to.equal('interrupted');
        expect((await repo.runs.get(first.runId!))!.status).to.equal('running');
        const notes: string[] = [];
        const second = await syncStandby('shop', options(repo, world, { onNote: (t) => notes.push(t) }));
        expect(second.status, second.error).to.equal('succeeded');
        expect(second.runId).to.equal(first.runId);
        expect(second.action, 'the stack the killed run made is its own creation').to.equal('created');
        expect(notes).to.deep.equal([`continuing the standby run ${first.runId} of plan shop`]);
        expect(world.ops.filter((o) => o.endsWith('stack ferry-shop-standby'))).to.deep.equal(['create stack ferry-shop-standby']);
      } finally {
        await catalog.close();
      }
    });
  });

  describe('killed at every journal boundary', function () {
    // dozens of killed and resumed runs: well under a second each on a quiet machine
    this.timeout(120_000);
    class Crash extends Error {}
    /** A repository whose journal append `n` throws Crash, after or before writing. */
    const crashing = (catalog: Catalog, crash: { after?: number; before?: number }): CatalogRepo => {
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
    };
    /** create: no standby yet; update: a standby at point 1, point 2 is new. */
    const setup = async (update: boolean) => {
      const f = await fresh();
      if (update) {
        await syncStandby('shop', options(f.repo, f.world));
        await addPoint(f.repo, f.world, POINT_2, new Date(T0), '0002');
        f.world.ops.length = 0;
      }
      return f;
    };
    const end = (w: World) => ({ stacks: [...w.stacks.values()].map((x) => `${x.name} ${x.status} ${x.tags.filter((t) => !t.startsWith('ferry:run=')).join(',')}`), points: [...w.marks.values()].map((m) => m['ferry:point']) });

    for (const update of [false, true]) {
      it(`${update ? 'update' : 'create'}: run again after the kill, the same end state, every change once`, async () => {
        const ref = await setup(update);
        let entries: number;
        let want: ReturnType<typeof end>;
        let wantOps: string[];
        try {
          const out = await syncStandby('shop', options(ref.repo, ref.world));
          expect(out.status).to.equal('succeeded');
          entries = (await ref.repo.journal.read(out.runId!)).length;
          want = end(ref.world);
          wantOps = [...ref.world.ops];
        } finally {
          await ref.catalog.close();
        }
        expect(wantOps.filter((o) => !o.startsWith('mark '))).to.deep.equal([`${update ? 'update' : 'create'} stack ferry-shop-standby`]);
        expect(wantOps.filter((o) => o.startsWith('mark '))).to.have.length(2);
        let scenarios = 0;
        for (let n = 1; n <= entries; n++) {
          for (const crash of [{ after: n }, { before: n }]) {
            const f = await setup(update);
            try {
              const killed = await rejects(syncStandby('shop', options(crashing(f.catalog, crash), f.world)));
              expect(killed, JSON.stringify(crash)).to.be.instanceOf(Crash);
              const again = await syncStandby('shop', options(f.repo, f.world));
              expect(again.status, `${JSON.stringify(crash)}: ${again.error}`).to.equal('succeeded');
              expect(again.action, JSON.stringify(crash)).to.equal(update ? 'updated' : 'created');
              expect(f.world.ops, JSON.stringify(crash)).to.deep.equal(wantOps);
              expect(end(f.world), JSON.stringify(crash)).to.deep.equal(want);
              expect(await f.repo.runs.list({ planName: 'shop', kind: STANDBY_KIND, status: ['running', 'pending'] })).to.deep.equal([]);
              scenarios++;
            } finally {
              await f.catalog.close();
            }
          }
        }
        expect(scenarios).to.equal(2 * entries);
        expect(entries).to.be.greaterThan(12);
      });
    }
  });

  describe('the checks', () => {
    const plan = { name: 'shop', tier: 'warm-standby' as Tier, activeSite: 'site-a', primarySite: 'site-a', secondarySite: 'site-b', epoch: 0 };
    it('standbyRefusal: tier, active site, a standby in mode failover', () => {
      expect(standbyRefusal(plan, undefined)).to.equal(undefined);
      expect(standbyRefusal(plan, observed(['ferry:plan=shop', 'ferry:mode=standby']))).to.equal(undefined);
      expect(standbyRefusal({ ...plan, tier: 'backup' }, undefined)).to.match(/is tier backup: only warm-standby plans/);
      expect(standbyRefusal({ ...plan, activeSite: 'site-b', epoch: 3 }, undefined)).to.match(/is active at site-b \(epoch 3\)/);
      expect(standbyRefusal(plan, observed(['ferry:plan=shop', 'ferry:mode=failover']))).to.match(/runs production servers/);
    });

    it('standbyPoint and standbyCurrent read the stack tags', () => {
      const s = observed(['ferry:plan=shop', `ferry:point=${POINT_1}`, 'ferry:mode=standby']);
      expect(standbyPoint(s)).to.equal(POINT_1);
      expect(standbyPoint(undefined)).to.equal(undefined);
      expect(standbyCurrent(s, POINT_1)).to.equal(true);
      expect(standbyCurrent(s, POINT_2)).to.equal(false);
      expect(standbyCurrent(observed(s.summary!.tags!, 'UPDATE_FAILED'), POINT_1), 'a failed one is repaired').to.equal(false);
      expect(standbyCurrent(observed(['ferry:plan=shop', `ferry:point=${POINT_1}`, 'ferry:mode=failover']), POINT_1)).to.equal(false);
    });

    it('standbyTopology keeps the volumes only', () => {
      expect(standbyTopology({ servers: ['s'], volumes: ['v1', 'v2'], attachments: [{ attachment: 'a', volume: 'v2', server: 's' }], bootVolumes: [{ server: 's', volume: 'v1' }] })).to.deep.equal({ servers: [], volumes: ['v1', 'v2'], attachments: [], bootVolumes: [] });
    });

    describe('findStandby (failover pre-flight and the stack step)', () => {
      const at = (stack: { name: string; tags: string[]; status: string } | undefined) => {
        const calls: string[] = [];
        const target = {
          async observeStack(name: string, owner: readonly string[]): Promise<ObservedStack> {
            calls.push(`${name} ${owner.join(',')}`);
            if (!stack || stack.name !== name) return { phase: 'absent', ours: false };
            return { phase: stackPhase(stack.status), ours: hasTags({ tags: stack.tags }, owner), summary: { id: 's1', stack_name: stack.name, stack_status: stack.status, tags: stack.tags } as unknown as NonNullable<ObservedStack['summary']> };
          },
        };
        return { target, calls };
      };
      const cases: [string, { name: string; tags: string[]; status: string } | undefined, boolean][] = [
        ['absent', undefined, false],
        ['complete', { name: 'ferry-shop-standby', tags: ['ferry:plan=shop'], status: 'CREATE_COMPLETE' }, true],
        ['updated', { name: 'ferry-shop-standby', tags: ['ferry:plan=shop'], status: 'UPDATE_COMPLETE' }, true],
        ['failed: its ports hold the addresses, a failover updates it', { name: 'ferry-shop-standby', tags: ['ferry:plan=shop'], status: 'CREATE_FAILED' }, true],
        ['in progress', { name: 'ferry-shop-standby', tags: ['ferry:plan=shop'], status: 'UPDATE_IN_PROGRESS' }, true],
        ['being deleted', { name: 'ferry-shop-standby', tags: ['ferry:plan=shop'], status: 'DELETE_IN_PROGRESS' }, false],
        ["another plan's", { name: 'ferry-shop-standby', tags: ['ferry:plan=other'], status: 'CREATE_COMPLETE' }, false],
      ];
      for (const [title, stack, found] of cases) {
        it(`${title}: ${found ? 'found' : 'none'}`, async () => {
          const { target, calls } = at(stack);
          const s = await findStandby(target, 'shop', 'ferry-shop-standby');
          expect(s !== undefined).to.equal(found);
          expect(calls).to.deep.equal(['ferry-shop-standby ferry:plan=shop']);
        });
      }
      it('no name (not a warm-standby plan): none, without a call', async () => {
        const { target, calls } = at(undefined);
        expect(await findStandby(target, 'shop', undefined)).to.equal(undefined);
        expect(calls).to.deep.equal([]);
      });

      it('a failed standby: pre-flight says the failover updates it, and the stack step does (no pilot-light stack beside it)', async () => {
        const { catalog, repo, world } = await fresh();
        try {
          await syncStandby('shop', options(repo, world));
          world.stackNamed('ferry-shop-standby')!.status = 'UPDATE_FAILED';
          world.ops.length = 0;
          const members: MembersSite = { name: 'site-a', members: noSites, stop: noSites, start: noSites, tag: noSites, lock: noSites, unreachable: noSites };
          const notes: string[] = [];
          const f = await failover('shop', { repo, sites: noSites, owner: 'cli@test', now: world.now, mode: 'unplanned', deps: { target: () => world.target(), members: () => members, runCycle: noSites, guardPollMs: 1 }, onNote: (t) => notes.push(t) });
          expect(f.status, f.error).to.equal('succeeded');
          expect(notes).to.deep.equal(['the standby stack ferry-shop-standby at site-b is UPDATE_FAILED: the failover updates it to full capacity all the same (Heat makes what is missing)']);
          expect(world.ops.filter((o) => !o.startsWith('mark '))).to.deep.equal(['put epoch 1 site-b', 'update stack ferry-shop-standby']);
        } finally {
          await catalog.close();
        }
      });
    });
  });
});
