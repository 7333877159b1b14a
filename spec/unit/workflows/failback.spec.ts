// The failback against an in-memory pair of sites (each with its servers, stacks, bank and
// backups; replication cycles that record real points in the catalog toward the other site)
// whose every change is counted: the step sequence and its order of changes, the reversed
// mappings, refusals before anything changes, a failed final cycle, a stale stack of an earlier
// failback, a failed first protection cycle, the dry-run, and the command killed at every
// journal boundary and run again, reaching the same end state with every change made once.
import { expect } from 'chai';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogRepo, type JournalEntry, type JournalInput, type Plan } from '../../../lib/catalog/repo.js';
import { hasTags, stackPhase, type ObservedStack, type StackVerification } from '../../../lib/heat/deploy.js';
import { generate, type GeneratedStack } from '../../../lib/heat/generate.js';
import type { ProtectionPlan } from '../../../lib/config/protection-plan.js';
import { specOf } from '../../../lib/plan/store.js';
import type { BankEpoch } from '../../../lib/replication/bank.js';
import { buildRecoveryPoint } from '../../../lib/replication/recovery-point.js';
import { workflowFor } from '../../../lib/workflows/engine.js';
import { failback, failbackFactory, failbackWorkflow, planFailback, FailbackRefusedError, type FailbackDeps, type FailbackOptions, type FailbackOutcome, type PortsSite } from '../../../lib/workflows/failback.js';
import { FENCED_TAG, fencedEpochTag, type MemberServerView, type MembersSite } from '../../../lib/workflows/fence.js';
import type { RecoveryTarget } from '../../../lib/workflows/recover.js';
import { IDS, imageData, inventory, plan as shopPlan, resolved, SPEC_HASH, volumeData } from '../heat/fixtures.js';

const T0 = Date.parse('2026-11-27T09:00:00.000Z');
const A = 'site-a';
const B = 'site-b';
const FAILOVER_RUN = 'f1f1f1f1-0000-4000-8000-000000000001';

class Crash extends Error {}

interface FakeStack {
  id: string;
  name: string;
  tags: string[];
  status: string;
}

interface SiteState {
  servers: Map<string, MemberServerView>;
  /** Ports by server: the fixed IPs they hold. */
  ports?: Map<string, { id: string; ips: string[] }>;
  stacks: Map<string, FakeStack>;
  bank: BankEpoch | undefined;
  down?: string;
}

const server = (id: string, name: string, status = 'ACTIVE', tags: string[] = ['shop']): MemberServerView => ({ id, name, status, locked: false, tags });

/** Both sites in memory; every change is an entry in `ops`, prefixed by its site. */
class World {
  readonly ops: string[] = [];
  seq = 0;
  /** Stacks are numbered apart from cycles, which a resumed run may repeat. */
  stackSeq = 0;
  t = T0;
  readonly sites: Record<string, SiteState> = {
    // the original servers, back after an unplanned failover: running, not fenced yet
    [A]: {
      servers: new Map([[IDS.db, server(IDS.db, 'shop-db')], [IDS.web, server(IDS.web, 'shop-web')]]),
      ports: new Map([[IDS.db, { id: 'port-db', ips: ['10.0.1.20'] }], [IDS.web, { id: 'port-web', ips: ['10.0.0.10'] }]]),
      stacks: new Map(),
      bank: { epoch: 0, activeSite: A, updatedAt: 'then' },
    },
    // the failover's stack and its servers
    [B]: {
      servers: new Map([['b-db', server('b-db', 'shop-db')], ['b-web', server('b-web', 'shop-web')]]),
      stacks: new Map([['stack-b1', { id: 'stack-b1', name: 'ferry-shop-failover', tags: ['ferry:plan=shop', `ferry:run=${FAILOVER_RUN}`, 'ferry:mode=failover'], status: 'CREATE_COMPLETE' }]]),
      bank: { epoch: 1, activeSite: B, updatedAt: 'then' },
    },
  };
  /** The plans generate() was given, by site. */
  readonly generatedWith: { site: string; plan: ProtectionPlan }[] = [];
  /** Cycles that fail, by their target site. */
  readonly cycleFailsToward = new Set<string>();
  constructor(readonly repo: () => CatalogRepo) {}

  now = (): Date => new Date((this.t += 1000));

  change(site: string, op: string): void {
    this.ops.push(`${site}: ${op}`);
  }
  count(op: string): number {
    return this.ops.filter((o) => o === op).length;
  }

  view() {
    const site = (s: SiteState) => ({
      ports: Object.fromEntries([...(s.ports ?? new Map()).values()].map((p) => [p.id, p.ips.join(',')])),
      servers: Object.fromEntries([...s.servers.values()].map((v) => [`${v.name} ${v.id}`, `${v.status}${v.locked ? ' locked' : ''} ${v.tags.map((t) => (t.startsWith('ferry:run=') ? 'ferry:run' : t)).join(',')}`])),
      stacks: [...s.stacks.values()].map((x) => `${x.name} ${x.status}`),
      bank: s.bank ? `${s.bank.epoch} ${s.bank.activeSite}` : undefined,
    });
    return { a: site(this.sites[A]!), b: site(this.sites[B]!) };
  }

  /** A replication cycle from the plan's active site: a complete point toward the other site. */
  readonly runCycle: FailbackDeps['runCycle'] = async (planName) => {
    const plan = (await this.repo().plans.get(planName))!;
    const source = plan.activeSite;
    const target = source === A ? B : A;
    if (this.cycleFailsToward.has(target)) return { runId: `cycle-x-${target}`, status: 'failed', error: 'cinder-backup is down' };
    this.change(source, `cycle toward ${target}`);
    const id = `c0c0c0c0-0000-4000-8000-${String(++this.seq).padStart(12, '0')}`;
    await addPoint(this.repo(), planName, id, this.now(), source, target);
    return { runId: `cycle-run-${this.seq}`, pointId: id, status: 'complete' };
  };

  deps(): Partial<FailbackDeps> {
    return {
      target: (cloud) => fakeTarget(this, cloud),
      members: (cloud) => fakeMembers(this, cloud),
      runCycle: this.runCycle,
      scopeOf: async () => ({ id: 'p-shop', name: 'shop' }),
      ports: (cloud) => fakePorts(this, cloud),
      sleep: async () => undefined,
      guardPollMs: 1,
      guardTimeoutMs: 60_000,
    };
  }
}

function fakeTarget(w: World, cloud: string): RecoveryTarget {
  const st = w.sites[cloud]!;
  return {
    name: cloud,
    async generate(manifest, plan, mode, runId) {
      w.generatedWith.push({ site: cloud, plan });
      return generate(manifest, plan, resolved(), mode, { runId });
    },
    quotaRoom: async () => ({ room: {}, notes: [] }),
    async backupStatuses(ids) {
      return new Map(ids.map((id) => [id, 'available']));
    },
    getEpoch: async () => st.bank,
    async putEpoch(_plan, e) {
      w.change(cloud, `put epoch ${e.epoch} ${e.activeSite}`);
      st.bank = { ...e, updatedAt: 'now' };
    },
    async observeStack(name, owner): Promise<ObservedStack> {
      const s = [...st.stacks.values()].find((x) => x.name === name);
      if (!s) return { phase: 'absent', ours: false };
      const summary = { id: s.id, stack_name: s.name, stack_status: s.status, tags: s.tags } as unknown as NonNullable<ObservedStack['summary']>;
      return { phase: stackPhase(s.status), summary, ours: hasTags({ tags: s.tags }, owner) };
    },
    async deploy(g: GeneratedStack, req) {
      const own = [`ferry:plan=${req.planName}`, `ferry:run=${req.runId}`];
      const s = [...st.stacks.values()].find((x) => x.name === g.stackName);
      if (s && hasTags(s, own)) return { identity: { stack_name: s.name, id: s.id }, action: 'adopted' };
      if (s) throw new Error(`Heat: the Stack (${s.name}) already exists`);
      w.change(cloud, `create stack ${g.stackName}`);
      const id = `stack-${cloud}-${++w.stackSeq}`;
      st.stacks.set(id, { id, name: g.stackName, tags: [...g.stackTags], status: 'CREATE_COMPLETE' });
      for (const m of g.index.filter((e) => e.kind === 'server')) st.servers.set(`${id}-${m.resource}`, server(`${id}-${m.resource}`, m.sourceName ?? m.resource, 'ACTIVE', ['shop', `ferry:run=${req.runId}`]));
      return { identity: { stack_name: g.stackName, id }, action: 'created' };
    },
    async deleteStack(ref) {
      const id = typeof ref === 'string' ? ref : ref.id;
      if (!st.stacks.has(id)) return false;
      w.change(cloud, `delete stack ${st.stacks.get(id)!.name}`);
      st.stacks.delete(id);
      return true;
    },
    async verify(ref, topology): Promise<StackVerification> {
      const s = st.stacks.get(ref.id);
      const ok = s !== undefined && stackPhase(s.status) === 'complete';
      return {
        ok,
        problems: ok ? [] : [`stack ${ref.stack_name} is ${s?.status ?? 'gone'}`],
        servers: topology.servers.map((r) => ({ resource: r, id: `srv-${r}`, name: r, status: 'ACTIVE' })),
        volumes: topology.volumes.map((r) => ({ resource: r, id: `vol-${r}`, status: 'in-use', attachedTo: [], metadata: {} })),
      };
    },
    markVolumes: async () => 0,
  };
}

function fakePorts(w: World, cloud: string): PortsSite {
  const st = w.sites[cloud]!;
  return {
    async portsOf(ids) {
      return [...(st.ports ?? new Map()).entries()].filter(([sid]) => ids.includes(sid)).map(([serverId, p]) => ({ id: p.id, serverId, ips: [...p.ips] }));
    },
    async release(portId, description) {
      for (const p of st.ports?.values() ?? []) {
        if (p.id !== portId) continue;
        w.change(cloud, `release ${p.id} ${p.ips.join(',')}`);
        expect(description).to.match(/^ferry: .* released by failback run \S+ of plan shop \(epoch \d+\); this server is fenced$/);
        p.ips = [];
      }
    },
  };
}

function fakeMembers(w: World, cloud: string): MembersSite {
  const st = w.sites[cloud]!;
  const one = (id: string) => st.servers.get(id)!;
  return {
    name: cloud,
    async members() {
      return [...st.servers.values()].map((s) => ({ ...s, tags: [...s.tags] })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1));
    },
    async stop(id) {
      w.change(cloud, `stop ${one(id).name}`);
      one(id).status = 'SHUTOFF';
    },
    async start(id) {
      w.change(cloud, `start ${one(id).name}`);
      one(id).status = 'ACTIVE';
    },
    async tag(id, tag) {
      w.change(cloud, `tag ${one(id).name} ${tag}`);
      one(id).tags.push(tag);
    },
    async lock(id) {
      w.change(cloud, `lock ${one(id).name}`);
      one(id).locked = true;
    },
    unreachable: async () => st.down,
  };
}

async function addPoint(repo: CatalogRepo, planName: string, id: string, createdAt: Date, sourceSite: string, targetSite: string): Promise<void> {
  const m = buildRecoveryPoint({
    plan: { name: planName, specHash: SPEC_HASH, epoch: 0 },
    inventory: inventory(),
    volumes: volumeData(),
    images: imageData(),
    targetSite,
    sourceSite,
    createdAt,
    completedAt: new Date(createdAt.getTime() + 1000),
    id,
  });
  await repo.points.insert({ id, planName, consistency: 'crash', sourceSite, targetSite, createdAt });
  await repo.points.complete(id, m, m.sizes.totalBytes);
}

/** A plan failed over to site-b at epoch 1 (unplanned: the old servers at site-a not fenced yet). */
async function failedOverCatalog(): Promise<{ catalog: Catalog; repo: CatalogRepo }> {
  const catalog = await openCatalog('sqlite::memory:');
  const repo = new CatalogRepo(catalog);
  await repo.plans.upsert({ name: 'shop', project: 'shop', primarySite: A, secondarySite: B, tier: 'pilot-light', rpoMs: 900_000, spec: specOf(shopPlan()) });
  await addPoint(repo, 'shop', 'f0f0f0f0-0000-4000-8000-000000000001', new Date(T0 - 3_600_000), A, B);
  await repo.plans.bumpEpoch('shop', 0, { activeSite: B });
  const run = await repo.runs.create({ id: FAILOVER_RUN, planName: 'shop', kind: 'failover', owner: 'cli@test', epoch: 1, startedAt: new Date(T0 - 1_800_000), params: { phase: 'recover', planned: false, commandStartedAt: new Date(T0 - 1_800_000).toISOString(), stackTimeoutMins: 60 } });
  await repo.runs.update(run.id, { status: 'succeeded', result: { state: { stackName: 'ferry-shop-failover', stackId: 'stack-b1' } } });
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

function options(repo: CatalogRepo, world: World, over: Partial<FailbackOptions> = {}): FailbackOptions {
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

const steps = (o: FailbackOutcome | undefined) => [...(o?.prepare?.result.steps ?? []), ...(o?.recover?.result.steps ?? [])].map((s) => `${s.name} ${s.status}`);

async function planRow(repo: CatalogRepo): Promise<Plan> {
  return (await repo.plans.get('shop'))!;
}

const ALL_STEPS = ['reprotect done', 'stop-active done', 'final-sync done', 'point done', 'guard done', 'activate done', 'retire-stale done', 'release-addresses done', 'stack done', 'check done', 'retire-secondary done', 'protect done'];

describe('workflows/failback', () => {
  it('fences the old servers, reprotects, stops the secondary, takes a final cycle, recovers at the primary with the mappings reversed, retires the secondary and protects again', async () => {
    const { catalog, repo } = await failedOverCatalog();
    try {
      const world = new World(() => repo);
      const notes: string[] = [];
      const out = await failback('shop', options(repo, world, { onNote: (t) => notes.push(t) }));
      expect(out.status, out.error).to.equal('succeeded');
      expect(steps(out)).to.deep.equal(ALL_STEPS);
      expect(world.ops).to.deep.equal([
        // the fence before anything acts
        'site-a: stop shop-db',
        `site-a: tag shop-db ${FENCED_TAG}`,
        `site-a: tag shop-db ${fencedEpochTag(1)}`,
        'site-a: lock shop-db',
        'site-a: stop shop-web',
        `site-a: tag shop-web ${FENCED_TAG}`,
        `site-a: tag shop-web ${fencedEpochTag(1)}`,
        'site-a: lock shop-web',
        // prepare
        'site-b: cycle toward site-a',
        'site-b: stop shop-db',
        'site-b: stop shop-web',
        'site-b: cycle toward site-a',
        // recover
        'site-a: put epoch 2 site-a',
        // the fenced servers give up their fixed IPs, which the recovered ports take
        'site-a: release port-db 10.0.1.20',
        'site-a: release port-web 10.0.0.10',
        'site-a: create stack ferry-shop-failover',
        'site-b: delete stack ferry-shop-failover',
        'site-a: cycle toward site-b',
      ]);
      expect(notes).to.deep.equal(['fenced 2 old server(s) of plan shop at site-a (run ' + out.fence!.runId + ')']);
      const plan = await planRow(repo);
      expect([plan.epoch, plan.activeSite]).to.deep.equal([2, A]);
      expect(out.prepare!.run.epoch).to.equal(1);
      expect(out.recover!.run.epoch).to.equal(2);
      // the final point: toward the primary, taken after the stop
      const final = (await repo.points.get(out.pointId!))!;
      expect([final.sourceSite, final.targetSite]).to.deep.equal([B, A]);
      expect(out.pointId).to.equal((out.prepare!.result.state as { finalPointId: string }).finalPointId);
      expect(out.rpoMs).to.equal(0);
      // RTO counts from the stop at the secondary, the wall time from the command
      const rec = out.recover!.run.params as { commandStartedAt: string };
      expect(rec.commandStartedAt).to.equal((out.prepare!.result.state as { reprotectedAt: string }).reprotectedAt);
      expect(out.rtoMs).to.be.greaterThan(0);
      expect(out.wallMs).to.be.greaterThan(out.rtoMs!);
      // the stack at the primary was generated with the plan's mappings turned around
      expect(world.generatedWith.map((g) => g.site)).to.deep.equal([A]);
      expect(world.generatedWith[0]!.plan.mappings.networks).to.deep.equal([{ from: 'app-net-dr', to: 'app-net' }]);
      expect(world.generatedWith[0]!.plan.mappings.volume_types).to.deep.equal([{ from: 'rbd-ssd', to: 'ssd' }]);
      // protection runs toward the secondary again
      const first = (await repo.points.get(out.protectPointId!))!;
      expect([first.sourceSite, first.targetSite]).to.deep.equal([A, B]);
      expect(out.warnings).to.deep.equal([]);
      expect((out.recover!.result.state as { released: unknown }).released).to.deep.equal([
        { port: 'port-db', server: IDS.db, ips: ['10.0.1.20'] },
        { port: 'port-web', server: IDS.web, ips: ['10.0.0.10'] },
      ]);
      expect(world.view().b.stacks).to.deep.equal([]);
      expect(world.view().a.stacks).to.deep.equal(['ferry-shop-failover CREATE_COMPLETE']);

      // the plan is home: a second failback is refused and changes nothing
      const before = world.ops.length;
      const err = await rejects(failback('shop', options(repo, world)));
      expect(err).to.be.instanceOf(FailbackRefusedError);
      expect(err.message).to.include('runs at its primary site-a (epoch 2): there is nothing to fail back');
      expect(world.ops.length).to.equal(before);
    } finally {
      await catalog.close();
    }
  });

  it('refuses before anything changes when a site does not answer or the primary is scoped to another project', async () => {
    const { catalog, repo } = await failedOverCatalog();
    try {
      const world = new World(() => repo);
      world.sites[A]!.down = 'connect ECONNREFUSED 127.0.1.1:5000';
      let err = await rejects(failback('shop', options(repo, world)));
      expect(err).to.be.instanceOf(FailbackRefusedError);
      expect(err.message).to.equal('a failback needs both sites, but site-a does not answer (connect ECONNREFUSED 127.0.1.1:5000); nothing was changed (fix: wait for site-a, then ferry failback shop)');
      delete world.sites[A]!.down;
      err = await rejects(failback('shop', options(repo, world, { deps: { ...world.deps(), scopeOf: async () => ({ id: 'p-admin', name: 'admin' }) } })));
      expect(err.message).to.include("the recovery stack would be created in project 'admin' at site-a, but plan 'shop' protects project 'shop'");
      expect(world.ops).to.deep.equal([]);
      expect(await repo.runs.list({ planName: 'shop', kind: 'failback' })).to.deep.equal([]);
    } finally {
      await catalog.close();
    }
  });

  it('a failed final cycle starts the secondary servers again and raises nothing', async () => {
    const { catalog, repo } = await failedOverCatalog();
    try {
      const world = new World(() => repo);
      // the reprotect cycle works, the final one fails (every try)
      const cycle = world.runCycle;
      let n = 0;
      const out = await failback('shop', options(repo, world, { deps: { ...world.deps(), runCycle: async (p, o) => (++n >= 2 ? { runId: 'cycle-x', status: 'failed', error: 'cinder-backup is down' } : cycle(p, o)) } }));
      expect(out.status).to.equal('failed');
      expect(out.recover).to.equal(undefined);
      expect(out.error).to.include('cinder-backup is down');
      expect(world.ops.filter((o) => o.startsWith('site-b'))).to.deep.equal(['site-b: cycle toward site-a', 'site-b: stop shop-db', 'site-b: stop shop-web', 'site-b: start shop-db', 'site-b: start shop-web']);
      const plan = await planRow(repo);
      expect([plan.epoch, plan.activeSite]).to.deep.equal([1, B]);
    } finally {
      await catalog.close();
    }
  });

  it("deletes an earlier failback's stack at the primary before it creates its own; refuses a stack of that name that is not the plan's", async () => {
    const { catalog, repo } = await failedOverCatalog();
    try {
      const world = new World(() => repo);
      world.sites[A]!.stacks.set('stack-old', { id: 'stack-old', name: 'ferry-shop-failover', tags: ['ferry:plan=shop', 'ferry:run=an-earlier-failback'], status: 'CREATE_COMPLETE' });
      const out = await failback('shop', options(repo, world));
      expect(out.status, out.error).to.equal('succeeded');
      const a = world.ops.filter((o) => o.startsWith('site-a: ') && o.includes('stack'));
      expect(a).to.deep.equal(['site-a: delete stack ferry-shop-failover', 'site-a: create stack ferry-shop-failover']);
      expect((out.recover!.result.state as { staleStack: unknown }).staleStack).to.deep.equal({ name: 'ferry-shop-failover', id: 'stack-old' });
    } finally {
      await catalog.close();
    }
    const second = await failedOverCatalog();
    try {
      const world = new World(() => second.repo);
      world.sites[A]!.stacks.set('stack-x', { id: 'stack-x', name: 'ferry-shop-failover', tags: ['someone-else'], status: 'CREATE_COMPLETE' });
      const out = await failback('shop', options(second.repo, world));
      expect(out.status).to.equal('failed');
      expect(out.error).to.include("a stack ferry-shop-failover (stack-x) at site-a is not the plan's");
      expect(world.sites[A]!.stacks.has('stack-x'), 'a foreign stack is never deleted').to.equal(true);
    } finally {
      await second.catalog.close();
    }
  });

  it('a failed first protection cycle is a warning: the workload stays up at the primary', async () => {
    const { catalog, repo } = await failedOverCatalog();
    try {
      const world = new World(() => repo);
      world.cycleFailsToward.add(B);
      const out = await failback('shop', options(repo, world));
      expect(out.status, out.error).to.equal('succeeded');
      expect(out.warnings).to.deep.equal(['the first replication cycle toward the secondary failed: run cycle-x-site-b ended failed: cinder-backup is down (fix: ferry replicate shop)']);
      expect(world.view().a.stacks).to.deep.equal(['ferry-shop-failover CREATE_COMPLETE']);
    } finally {
      await catalog.close();
    }
  });

  it('dry-run: observes the steps and changes nothing', async () => {
    const { catalog, repo } = await failedOverCatalog();
    try {
      const world = new World(() => repo);
      const p = await planFailback('shop', options(repo, world));
      expect(world.ops).to.deep.equal([]);
      expect(await repo.runs.list({ planName: 'shop' })).to.have.length(1);
      expect(p.prepare.map((s) => s.name)).to.deep.equal(['reprotect', 'stop-active', 'final-sync']);
      expect(p.recover.map((s) => s.name)).to.deep.equal(['point', 'guard', 'activate', 'retire-stale', 'release-addresses', 'stack', 'check', 'retire-secondary', 'protect']);
      expect(p.stops.map((s) => s.name)).to.deep.equal(['shop-db', 'shop-web']);
      expect(p.text).to.include('failback of plan shop from site-b to site-a');
      expect(p.text).to.include('Servers stopped at site-b (after the reprotect cycle):');
      expect(p.text).to.include('Nothing was changed (dry run).');
    } finally {
      await catalog.close();
    }
  });

  it('a process that died between raising the epoch and creating the recovery run: the same command recovers the prepared point', async () => {
    const { catalog, repo } = await failedOverCatalog();
    try {
      const world = new World(() => repo);
      // the first process: fence and prepare, then the epoch raised, then killed before the recovery run exists
      const bump = repo.plans.bumpEpoch.bind(repo.plans);
      let killed = false;
      repo.plans.bumpEpoch = async (...args: Parameters<CatalogRepo['plans']['bumpEpoch']>) => {
        const e = await bump(...args);
        killed = true;
        throw new Crash(`killed after raising the epoch to ${e}`);
      };
      expect(await rejects(failback('shop', options(repo, world)))).to.be.instanceOf(Crash);
      expect(killed).to.equal(true);
      const raised = await planRow(repo);
      expect([raised.epoch, raised.activeSite]).to.deep.equal([2, A]);
      const again = new CatalogRepo(catalog);
      const notes: string[] = [];
      const out = await failback('shop', options(again, world, { owner: 'cli@other', onNote: (t) => notes.push(t) }));
      expect(out.status, out.error).to.equal('succeeded');
      expect(notes[0]).to.match(/^continuing the failback of plan shop: its preparation \S+ finished; recovering its final point at site-a$/);
      expect(world.count('site-b: stop shop-db'), 'nothing prepared twice').to.equal(1);
      expect(world.count('site-a: create stack ferry-shop-failover')).to.equal(1);
      const plan = await planRow(again);
      expect([plan.epoch, plan.activeSite]).to.deep.equal([3, A]);
    } finally {
      await catalog.close();
    }
  });

  it('registers the failback workflow for ferry resume, one workflow per phase', () => {
    expect(workflowFor('failback')).to.equal(failbackFactory);
    const deps = { target: noSites, members: noSites, runCycle: noSites, scopeOf: noSites } as unknown as FailbackDeps;
    expect(failbackWorkflow({ phase: 'prepare' }, deps).steps.map((s) => s.name)).to.deep.equal(['reprotect', 'stop-active', 'final-sync']);
    expect(failbackWorkflow({ phase: 'recover' }, deps).steps.map((s) => s.name)).to.deep.equal(['point', 'guard', 'activate', 'retire-stale', 'release-addresses', 'stack', 'check', 'retire-secondary', 'protect']);
  });

  describe('killed at every journal boundary', () => {
    const stable = (o: FailbackOutcome) => {
      const s = { ...(o.recover?.result.state ?? {}) } as Record<string, unknown>;
      // times and point IDs move with the fake clock and the cycles of the killed process
      for (const k of ['serversActiveAt', 'rtoMs', 'rpoMs', 'pointCreatedAt', 'pointId', 'protectPointId', 'protectRunId', 'staleStack', 'stackId', 'secondaryRetired', 'released']) delete s[k];
      return s;
    };

    it('run again after the kill: the same end state, every change once (cycles may repeat, servers and stacks never)', async function () {
      this.timeout(300_000);
      const ref = await (async () => {
        const { catalog, repo } = await failedOverCatalog();
        try {
          const world = new World(() => repo);
          const out = await failback('shop', options(repo, world));
          let entries = 0;
          for (const r of await repo.runs.list({ planName: 'shop' })) entries += (await repo.journal.read(r.id)).length;
          return { world, out, entries };
        } finally {
          await catalog.close();
        }
      })();
      expect(ref.out.status).to.equal('succeeded');
      const counts = (w: World) => Object.fromEntries([...new Set(w.ops)].filter((o) => !o.includes(' cycle toward ')).map((o) => [o, w.count(o)]));
      let scenarios = 0;
      for (let k = 1; k <= ref.entries; k++) {
        for (const crash of [{ after: k }, { before: k }]) {
          const { catalog, repo } = await failedOverCatalog();
          const label = `crash ${JSON.stringify(crash)}`;
          try {
            const world = new World(() => repo);
            const err = await rejects(failback('shop', options(crashingRepo(catalog, crash), world)));
            expect(err, label).to.be.instanceOf(Crash);
            const out = await failback('shop', options(new CatalogRepo(catalog), world, { owner: 'cli@other' }));
            expect(out.status, `${label}: ${out.error}`).to.equal('succeeded');
            expect(world.view(), label).to.deep.equal(ref.world.view());
            expect(counts(world), label).to.deep.equal(counts(ref.world));
            expect(stable(out), label).to.deep.equal(stable(ref.out));
            expect(steps(out), label).to.deep.equal(ALL_STEPS);
            const plan = await planRow(repo);
            expect([plan.epoch, plan.activeSite], label).to.deep.equal([2, A]);
            scenarios++;
          } finally {
            await catalog.close();
          }
        }
      }
      expect(scenarios).to.equal(2 * ref.entries);
      expect(ref.entries).to.be.greaterThan(40);
    });
  });
});
