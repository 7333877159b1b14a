// `ferry test cleanup PLAN`: finds at a site everything DR tests of a plan left behind and
// deletes it, in dependency order, touching nothing that is not marked as a DR-test artifact of
// that plan. What a DR test leaves: its Heat stacks (tagged with the plan and
// `ferry:mode=drtest`, see lib/heat/generate.ts) and, when a stack could not be deleted or a
// step made something outside a stack, resources carrying the plan's DR-test marks.
//
// Decisions:
//  - What counts as a DR-test artifact of plan P (judge()): it carries the plan's mark
//    (`ferry:plan=P` as a tag, or metadata `ferry:plan: P`) and no other plan's, no recovery
//    mode other than drtest (`ferry:mode=failover` or `standby` is production: never touched),
//    and one DR-test mark: `ferry:mode=drtest`, `ferry:drtest` (the isolated networks and
//    subnets, heat-templates/nested/*_isolated.yaml), or the `ferry:run` of a DR-test run of P.
//    A stack needs `ferry:mode=drtest` itself: generated stacks always carry their mode.
//  - DR-test runs come from the catalog (the caller's `knownRuns`), from the DR-test stacks
//    and from the isolated networks found. A run that tagged a production stack of the plan is
//    never a DR test's, whatever the caller passed: production resources inside a stack carry
//    only their run's mark, so this is what keeps them safe.
//  - A DR test still running (in progress, or within its --keep time: the caller's
//    `activeRuns`, from the catalog) keeps what it made; its own teardown removes it.
//  - Ports on a DR-test network that carry no marks are the test's when unbound (Heat tags a
//    port after creating it) or bound to a DR-test server; Neutron's own ports (DHCP) go with
//    the network; a port of anything else (a router or server that is not the test's) is left,
//    named, with the command that frees the network.
//  - List calls only: one listing per resource type (by the plan's tag or metadata, scoped to
//    the token's project), plus the ports of the DR-test networks and routers. Waiting for
//    asynchronous deletions (stacks, servers, volumes) polls those same listings, never a GET
//    per item.
//  - Order: stacks first (delete, then wait until Heat lists them no more), then what is left
//    is listed again, so a stack's own resources are not deleted twice; then servers (and
//    wait), floating IPs, ports, router interfaces, routers, subnets, networks, security
//    groups, volumes (once detached; and wait). A stack that failed to delete is deleted once
//    more at the end, when its resources may have gone with the orphans.
//  - Idempotent: a second run finds nothing; a resource gone between the listing and its
//    delete counts as deleted. A failure is recorded and the cleanup goes on.
import { chunks } from '../inventory/discover.js';
import pLimit from 'p-limit';
import { FerryError, isStatus } from '../errors.js';
import type { RecoveryMode } from '../heat/types.js';
import { markTag } from '../heat/names.js';
import { silentLogger, type Logger } from '../log.js';
import { deleteVolume, listVolumes, type Volume } from '../openstack/blockstorage/volumes.js';
import { deleteServer, listServers, type Server } from '../openstack/compute/servers.js';
import { deleteFloatingIp, listFloatingIps } from '../openstack/network/floatingips.js';
import { deleteNetwork, listNetworks } from '../openstack/network/networks.js';
import { deletePort, listPorts, type Port } from '../openstack/network/ports.js';
import { deleteRouter, listRouters, removeRouterInterface } from '../openstack/network/routers.js';
import { deleteSecurityGroup, listSecurityGroups } from '../openstack/network/securitygroups.js';
import { deleteSubnet, listSubnets } from '../openstack/network/subnets.js';
import { deleteStack, listStacks, type StackSummary } from '../openstack/orchestration/stacks.js';
import { collect } from '../openstack/paginate.js';
import type { Site } from '../openstack/site.js';
import { sleep as abortableSleep } from '../openstack/wait.js';
import { FERRY_MARKS } from '../replication/types.js';

// ---- marks --------------------------------------------------------------------------------------

/** Tag of a DR test's isolated networks and subnets (heat-templates/nested/*_isolated.yaml). */
export const DRTEST_TAG = 'ferry:drtest';
/** The recovery mode: stack tag `ferry:mode=drtest` (lib/heat/generate.ts), metadata key `ferry:mode`. */
export const MODE_MARK = 'ferry:mode';

/** `ferry:mode=<mode>`: how generated stacks say what they recover for. */
export function modeTag(mode: RecoveryMode): string {
  return `${MODE_MARK}=${mode}`;
}

/**
 * The tags a DR test puts on what it creates outside its stack (Neutron and Nova tags), and
 * what cleanup recognises: the plan, the run, the mode.
 */
export function drTestTags(plan: string, runId: string): string[] {
  return [markTag('plan', plan), markTag('run', runId), modeTag('drtest'), DRTEST_TAG];
}

/** The same marks as metadata (volumes, server metadata). */
export function drTestMetadata(plan: string, runId: string): Record<string, string> {
  return { [FERRY_MARKS.plan]: plan, [FERRY_MARKS.run]: runId, [MODE_MARK]: 'drtest' };
}

/** Ferry's marks as read from one resource. */
export interface Marks {
  plans: string[];
  runs: string[];
  modes: string[];
  /** Carries `ferry:drtest`. */
  drtest: boolean;
}

const noMarks = (): Marks => ({ plans: [], runs: [], modes: [], drtest: false });

function addMark(m: Marks, key: string, value: string | undefined): void {
  if (key === DRTEST_TAG) m.drtest = true;
  if (value === undefined) return;
  if (key === FERRY_MARKS.plan && !m.plans.includes(value)) m.plans.push(value);
  if (key === FERRY_MARKS.run && !m.runs.includes(value)) m.runs.push(value);
  if (key === MODE_MARK && !m.modes.includes(value)) m.modes.push(value);
}

/** Marks from tags (`ferry:plan=web`, `ferry:drtest`...). */
export function marksOfTags(tags: readonly string[] | null | undefined): Marks {
  const m = noMarks();
  for (const t of tags ?? []) {
    const eq = t.indexOf('=');
    if (eq < 0) addMark(m, t, undefined);
    else addMark(m, t.slice(0, eq), t.slice(eq + 1));
  }
  return m;
}

/** Marks from metadata (`{"ferry:plan": "web"}`). */
export function marksOfMetadata(metadata: Record<string, string> | null | undefined): Marks {
  const m = noMarks();
  for (const [k, v] of Object.entries(metadata ?? {})) addMark(m, k, v);
  return m;
}

/** Marks written as words in a text (floating IPs carry them in their description). */
export function marksOfText(text: string | null | undefined): Marks {
  return marksOfTags((text ?? '').split(/\s+/).filter((w) => w.startsWith('ferry:')));
}

export function mergeMarks(...all: Marks[]): Marks {
  const m = noMarks();
  for (const x of all) {
    for (const p of x.plans) addMark(m, FERRY_MARKS.plan, p);
    for (const r of x.runs) addMark(m, FERRY_MARKS.run, r);
    for (const d of x.modes) addMark(m, MODE_MARK, d);
    if (x.drtest) m.drtest = true;
  }
  return m;
}

export type Verdict = { ours: true; why: string } | { ours: false; reason: string };

export interface Judgement {
  plan: string;
  /** DR-test runs of the plan. */
  drtestRuns: ReadonlySet<string>;
  /** Runs that made production stacks of the plan: never a DR test's. */
  productionRuns: ReadonlySet<string>;
  /** DR-test runs still running (in progress, or within their --keep time): their things stay. */
  activeRuns?: ReadonlySet<string>;
}

/** Whether a resource with these marks is a DR-test artifact of the plan (see the header). */
export function judge(marks: Marks, j: Judgement, opts: { requireModeTag?: boolean } = {}): Verdict {
  const { plan } = j;
  if (!marks.plans.includes(plan)) return { ours: false, reason: `not marked ${markTag('plan', plan)}` };
  if (marks.plans.length > 1) return { ours: false, reason: `marked for several plans (${marks.plans.join(', ')})` };
  const other = marks.modes.find((m) => m !== 'drtest');
  if (other !== undefined) return { ours: false, reason: `a ${other} resource (${MODE_MARK}=${other}), not a DR test's` };
  const production = marks.runs.find((r) => j.productionRuns.has(r));
  if (production !== undefined) return { ours: false, reason: `made by run ${production}, which made a production stack of the plan` };
  const active = marks.runs.find((r) => j.activeRuns?.has(r));
  if (active !== undefined) return { ours: false, reason: `run ${active} is still running (a DR test in progress or within its --keep time; fix: let it finish, or ferry resume ${active})` };
  if (opts.requireModeTag) {
    return marks.modes.includes('drtest') ? { ours: true, why: `marked ${modeTag('drtest')}` } : { ours: false, reason: `no ${modeTag('drtest')} tag` };
  }
  if (marks.modes.includes('drtest')) return { ours: true, why: `marked ${modeTag('drtest')}` };
  if (marks.drtest) return { ours: true, why: `marked ${DRTEST_TAG}` };
  const run = marks.runs.find((r) => j.drtestRuns.has(r));
  if (run !== undefined) return { ours: true, why: `run ${run} is a DR test` };
  return { ours: false, reason: `no DR-test mark (${modeTag('drtest')}, ${DRTEST_TAG}, or the ${FERRY_MARKS.run} of a DR test)` };
}

// ---- what is found and what becomes of it ---------------------------------------------------------

/** Resource kinds in the order they are deleted. */
export const ARTIFACT_KINDS = ['stack', 'server', 'floating-ip', 'port', 'router-interface', 'router', 'subnet', 'network', 'security-group', 'volume'] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

export interface CleanupItem {
  kind: ArtifactKind;
  id: string;
  name: string;
  /** The DR-test run that made it, when marked. */
  run?: string;
  /** Dry-run: it goes with this stack. */
  via?: string;
  /** Why it is the test's, or how it went (`already gone`). */
  note?: string;
  /** For a router interface: the router it is removed from. */
  router?: string;
}

export interface CleanupResult {
  plan: string;
  site: string;
  project: string;
  dryRun: boolean;
  /** The DR-test runs whose leftovers were looked for or found. */
  runs: string[];
  /** Deleted (in a dry-run: what would be deleted), in the order of deletion. */
  deleted: CleanupItem[];
  failed: (CleanupItem & { error: string })[];
  /** Found with the plan's marks but not a DR test's artifact: left alone, with why. */
  kept: (CleanupItem & { reason: string })[];
}

export interface CleanupOptions {
  plan: string;
  /** DR-test run IDs the catalog holds for the plan. */
  knownRuns?: Iterable<string>;
  /** Those of them still running: what they made is left alone. */
  activeRuns?: Iterable<string>;
  /** Only find and report; change nothing. */
  dryRun?: boolean;
  logger?: Logger;
  signal?: AbortSignal;
  /** A line per deletion and wait, for the CLI. */
  onProgress?: (line: string) => void;
  /** Bound on each wait for deletions (default 10 min). */
  timeoutMs?: number;
  /** First pause between listings while waiting (default 2 s, growing to 15 s). */
  pollMs?: number;
  /** Deletions in flight per kind (default 8). */
  concurrency?: number;
  /** The pause (tests record it instead of waiting). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

// ---- survey (list calls) ----------------------------------------------------------------------

/** Nova splits tag filters on commas; a bounded number per request keeps URLs short. */
const TAGS_PER_QUERY = 20;

const ROUTER_INTERFACE_OWNERS = ['network:router_interface', 'network:router_interface_distributed', 'network:ha_router_replicated_interface'];
const isRouterInterface = (p: Pick<Port, 'device_owner'>) => ROUTER_INTERFACE_OWNERS.includes(p.device_owner);

interface Survey {
  items: Map<ArtifactKind, CleanupItem[]>;
  kept: (CleanupItem & { reason: string })[];
  /** Volume ID → attached server IDs, for the detach check. */
  attachments: Map<string, string[]>;
}

class Surveyor {
  readonly items = new Map<ArtifactKind, CleanupItem[]>(ARTIFACT_KINDS.map((k) => [k, []]));
  readonly kept: (CleanupItem & { reason: string })[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly j: Judgement & { drtestRuns: Set<string> }) {}

  /** Judges a resource; the test's go to `items`, others of the plan to `kept`. */
  consider(kind: ArtifactKind, id: string, name: string, marks: Marks, opts: { requireModeTag?: boolean; learnRuns?: boolean } = {}): boolean {
    const key = `${kind}/${id}`;
    if (this.seen.has(key)) return this.items.get(kind)!.some((i) => i.id === id);
    this.seen.add(key);
    const v = judge(marks, this.j, opts);
    const run = marks.runs.length === 1 ? marks.runs[0] : undefined;
    const base: CleanupItem = { kind, id, name, ...(run !== undefined ? { run } : {}) };
    if (v.ours) {
      this.items.get(kind)!.push({ ...base, note: v.why });
      if (opts.learnRuns) for (const r of marks.runs) this.j.drtestRuns.add(r);
      return true;
    }
    // Only what carries this plan's mark is worth reporting as left alone.
    if (marks.plans.includes(this.j.plan)) this.kept.push({ ...base, reason: v.reason });
    return false;
  }

  add(item: CleanupItem): void {
    const key = `${item.kind}/${item.id}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.items.get(item.kind)!.push(item);
  }

  keep(item: CleanupItem, reason: string): void {
    const key = `${item.kind}/${item.id}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.kept.push({ ...item, reason });
  }

  ids(kind: ArtifactKind): string[] {
    return this.items.get(kind)!.map((i) => i.id);
  }
}

const planTagOf = (plan: string) => markTag('plan', plan);

/** The server listing cleanup uses: any of the plan's tag, the DR-test tags, the runs' tags. */
function serverTagQueries(plan: string, runs: Iterable<string>): string[][] {
  const tags = [planTagOf(plan), modeTag('drtest'), DRTEST_TAG, ...[...runs].sort().map((r) => markTag('run', r))];
  return chunks(tags, TAGS_PER_QUERY);
}

async function listTestServers(site: Site, plan: string, runs: Iterable<string>, signal?: AbortSignal): Promise<Server[]> {
  const byId = new Map<string, Server>();
  for (const tags of serverTagQueries(plan, runs)) {
    for (const s of await collect(listServers(site.compute, { 'tags-any': tags }, { signal }))) byId.set(s.id, s);
  }
  return [...byId.values()];
}

/** Everything outside stacks that carries the plan's marks, judged. */
async function survey(site: Site, project: string, j: Judgement & { drtestRuns: Set<string> }, signal?: AbortSignal): Promise<Survey> {
  const sv = new Surveyor(j);
  const tagged = { tags: [planTagOf(j.plan)], project_id: project };
  const [networks, subnets, ports, routers, groups, fips, volumes] = await Promise.all([
    collect(listNetworks(site.network, tagged, { signal })),
    collect(listSubnets(site.network, tagged, { signal })),
    collect(listPorts(site.network, tagged, { signal })),
    collect(listRouters(site.network, tagged, { signal })),
    collect(listSecurityGroups(site.network, tagged, { signal })),
    // Floating IPs may carry the marks in their description (heat-templates/nested/floating_ip.yaml).
    collect(listFloatingIps(site.network, { project_id: project }, { signal })),
    collect(listVolumes(site.blockStorage, { metadata: { [FERRY_MARKS.plan]: j.plan } }, { signal })),
  ]);

  // The isolated networks name their runs: learn them before judging by run.
  for (const n of networks) sv.consider('network', n.id, n.name, marksOfTags(n.tags), { learnRuns: true });
  for (const s of subnets) sv.consider('subnet', s.id, s.name, marksOfTags(s.tags), { learnRuns: true });
  for (const r of routers) sv.consider('router', r.id, r.name, marksOfTags(r.tags));
  for (const g of groups) sv.consider('security-group', g.id, g.name, marksOfTags(g.tags));
  for (const f of fips) sv.consider('floating-ip', f.id, f.floating_ip_address, mergeMarks(marksOfTags(f.tags), marksOfText(f.description)));

  const servers = await listTestServers(site, j.plan, j.drtestRuns, signal);
  for (const s of servers) sv.consider('server', s.id, s.name, mergeMarks(marksOfTags(s.tags), marksOfMetadata(s.metadata)));

  const attachments = new Map<string, string[]>();
  for (const v of volumes) {
    if (sv.consider('volume', v.id, v.name ?? '', marksOfMetadata(v.metadata))) attachments.set(v.id, (v.attachments ?? []).map((a) => a.server_id));
  }

  // Ports: the tagged ones, those on the test's networks, those of the test's routers.
  const testNetworks = new Set(sv.ids('network'));
  const testRouters = new Set(sv.ids('router'));
  const testServers = new Set(sv.ids('server'));
  const more = await Promise.all([
    testNetworks.size > 0 ? collect(listPorts(site.network, { network_id: [...testNetworks], project_id: project }, { signal })) : Promise.resolve([]),
    testRouters.size > 0 ? collect(listPorts(site.network, { device_id: [...testRouters], project_id: project }, { signal })) : Promise.resolve([]),
  ]);
  const allPorts = new Map<string, Port>();
  for (const p of [...ports, ...more.flat()]) allPorts.set(p.id, p);
  for (const p of allPorts.values()) classifyPort(sv, p, { testNetworks, testRouters, testServers, plan: j.plan });

  return { items: sv.items, kept: sv.kept, attachments };
}

/** A port: marked ones by their marks; unmarked ones by what they are attached to. */
function classifyPort(sv: Surveyor, p: Port, ctx: { testNetworks: Set<string>; testRouters: Set<string>; testServers: Set<string>; plan: string }): void {
  const name = p.name || p.id;
  if (isRouterInterface(p)) {
    const item: CleanupItem = { kind: 'router-interface', id: p.id, name, router: p.device_id };
    if (ctx.testRouters.has(p.device_id)) sv.add({ ...item, note: 'interface of a DR-test router' });
    else if (ctx.testNetworks.has(p.network_id))
      sv.keep(item, `router ${p.device_id} is not a DR-test artifact of plan ${ctx.plan}, and its interface keeps DR-test network ${p.network_id} in use (fix: openstack router remove port ${p.device_id} ${p.id})`);
    return;
  }
  if (p.device_owner.startsWith('network:')) return; // DHCP, gateway, metadata: Neutron's own, they go with their network or router
  const onTestNetwork = ctx.testNetworks.has(p.network_id);
  const marks = marksOfTags(p.tags);
  if (marks.plans.length > 0 || marks.modes.length > 0 || marks.runs.length > 0) {
    // Marked: judged by its marks (another plan's or production's are never touched); being on
    // a DR-test network counts as a DR-test mark (a stack's port names only its run).
    sv.consider('port', p.id, name, onTestNetwork ? { ...marks, drtest: true } : marks);
    return;
  }
  if (!onTestNetwork) return;
  if (p.device_id === '' && p.device_owner === '') sv.add({ kind: 'port', id: p.id, name, note: 'unbound port on a DR-test network' });
  else if (p.device_owner.startsWith('compute:') && ctx.testServers.has(p.device_id)) sv.add({ kind: 'port', id: p.id, name, note: 'port of a DR-test server' });
  else sv.keep({ kind: 'port', id: p.id, name }, `on DR-test network ${p.network_id} but used by ${p.device_owner || 'a device'} ${p.device_id}, which is not a DR-test artifact of plan ${ctx.plan}; the network stays until it is freed`);
}

// ---- the cleanup ----------------------------------------------------------------------------------

const DEFAULT_TIMEOUT_MS = 600_000;

/**
 * Finds and deletes the leftovers of the plan's DR tests at `site` (see the header). Returns
 * what was deleted, what failed and what was left alone; with `dryRun`, what would be deleted.
 */
export async function cleanupDrTest(site: Site, opts: CleanupOptions): Promise<CleanupResult> {
  return new Cleanup(site, opts).run();
}

class Cleanup {
  private readonly log: Logger;
  private readonly j: Judgement & { drtestRuns: Set<string>; productionRuns: Set<string> };
  private readonly result: CleanupResult;
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly pause: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(
    private readonly site: Site,
    private readonly opts: CleanupOptions,
  ) {
    this.log = (opts.logger ?? silentLogger).child({ plan: opts.plan, site: site.name });
    const active = new Set(opts.activeRuns ?? []);
    this.j = { plan: opts.plan, drtestRuns: new Set([...(opts.knownRuns ?? []), ...active]), productionRuns: new Set(), activeRuns: active };
    this.result = { plan: opts.plan, site: site.name, project: '', dryRun: opts.dryRun === true, runs: [], deleted: [], failed: [], kept: [] };
    this.limit = pLimit(Math.max(1, opts.concurrency ?? 8));
    this.pause = opts.sleep ?? abortableSleep;
  }

  private progress(line: string): void {
    this.log.info(line);
    this.opts.onProgress?.(line);
  }

  async run(): Promise<CleanupResult> {
    const { signal } = this.opts;
    const token = await this.site.connect(signal);
    const project = token.info.project?.id;
    if (!project) throw new FerryError(`cleanup at ${this.site.name}: the credentials are not scoped to a project (fix: set project_name or project_id for cloud ${this.site.name} in clouds.yaml)`);
    this.result.project = project;

    // 1. Stacks: judged by their tags; production ones name the runs that are never a DR test's.
    const stacks = await collect(listStacks(this.site.orchestration, { tags: [planTagOf(this.opts.plan)] }, { signal }));
    for (const s of stacks) {
      const marks = marksOfTags(s.tags);
      if (marks.modes.some((m) => m !== 'drtest')) for (const r of marks.runs) this.j.productionRuns.add(r);
    }
    for (const r of this.j.productionRuns) this.j.drtestRuns.delete(r);
    const testStacks: StackSummary[] = [];
    for (const s of stacks) {
      const marks = marksOfTags(s.tags);
      const v = judge(marks, this.j, { requireModeTag: true });
      const run = marks.runs.length === 1 ? marks.runs[0] : undefined;
      if (v.ours) {
        testStacks.push(s);
        for (const r of marks.runs) this.j.drtestRuns.add(r);
      } else {
        this.result.kept.push({ kind: 'stack', id: s.id, name: s.stack_name, ...(run !== undefined ? { run } : {}), reason: v.reason });
      }
    }

    const stackItem = (s: StackSummary): CleanupItem => {
      const runs = marksOfTags(s.tags).runs;
      return { kind: 'stack', id: s.id, name: s.stack_name, ...(runs.length === 1 ? { run: runs[0] } : {}) };
    };
    let failedStacks: StackSummary[] = [];
    if (this.result.dryRun) {
      for (const s of testStacks) this.result.deleted.push({ ...stackItem(s), note: `status ${s.stack_status}` });
    } else {
      failedStacks = await this.deleteStacks(testStacks, stackItem, false);
    }

    // 2. What is left outside stacks (listed after the stacks went, so theirs are not listed).
    const found = await survey(this.site, project, this.j, signal);
    this.result.kept.push(...found.kept);
    if (this.result.dryRun) {
      const stackOfRun = new Map(testStacks.flatMap((s) => marksOfTags(s.tags).runs.map((r) => [r, s.stack_name] as const)));
      for (const kind of ARTIFACT_KINDS) {
        for (const item of found.items.get(kind) ?? []) {
          const via = item.run !== undefined ? stackOfRun.get(item.run) : undefined;
          this.result.deleted.push(via !== undefined ? { ...item, via } : item);
        }
      }
    } else {
      await this.deleteOrphans(found);
      // 3. A stack Heat could not delete may go now that its resources went with the orphans.
      if (failedStacks.length > 0) {
        const ids = new Set(failedStacks.map((s) => s.id));
        this.result.failed = this.result.failed.filter((f) => !(f.kind === 'stack' && ids.has(f.id)));
        await this.deleteStacks(failedStacks, stackItem, true);
      }
    }
    // The runs looked for, and those the deleted things named.
    const named = [...this.result.deleted, ...this.result.failed].map((i) => i.run).filter((r): r is string => r !== undefined);
    this.result.runs = [...new Set([...this.j.drtestRuns, ...named])].sort();
    const verb = this.result.dryRun ? 'would delete' : 'deleted';
    this.progress(`cleanup of plan ${this.opts.plan} at ${this.site.name}: ${verb} ${this.result.deleted.length}, failed ${this.result.failed.length}, left alone ${this.result.kept.length}`);
    return this.result;
  }

  // ---- stacks ---------------------------------------------------------------------------------------

  /** Deletes the stacks and waits until Heat lists them no more; returns those that failed. */
  private async deleteStacks(stacks: StackSummary[], item: (s: StackSummary) => CleanupItem, again: boolean): Promise<StackSummary[]> {
    if (stacks.length === 0) return [];
    const { signal } = this.opts;
    // Outcomes by position, recorded in the input's order whatever order the calls end in.
    const outcome = await Promise.all(
      stacks.map((s) =>
        this.limit(async (): Promise<unknown> => {
          // A stack already being deleted is only waited for.
          if (s.stack_status === 'DELETE_IN_PROGRESS' && !again) return undefined;
          try {
            await deleteStack(this.site.orchestration, { stack_name: s.stack_name, id: s.id }, { signal });
            this.progress(`deleting stack ${s.stack_name} (${s.id})`);
            return undefined;
          } catch (err) {
            return err ?? new Error('unknown error');
          }
        }),
      ),
    );
    const started: StackSummary[] = [];
    const failed: StackSummary[] = [];
    stacks.forEach((s, i) => {
      if (outcome[i] === undefined) started.push(s);
      else {
        this.fail(item(s), outcome[i]);
        failed.push(s);
      }
    });
    if (started.length === 0) return failed;
    const ids = new Set(started.map((s) => s.id));
    this.progress(`waiting for ${started.length} stack(s) to be deleted`);
    const last = await this.poll(
      `${started.length} stack(s)`,
      () => collect(listStacks(this.site.orchestration, { tags: [planTagOf(this.opts.plan), modeTag('drtest')] }, { signal })),
      (listed) => listed.every((s) => !ids.has(s.id) || s.stack_status === 'DELETE_FAILED'),
    );
    const still = new Map(last.items.filter((s) => ids.has(s.id)).map((s) => [s.id, s]));
    for (const s of started) {
      const now = still.get(s.id);
      if (!now) {
        this.result.deleted.push(item(s));
      } else {
        const why = now.stack_status === 'DELETE_FAILED' ? `Heat could not delete it: ${now.stack_status_reason || 'no reason given'}` : `still ${now.stack_status} after ${Math.round(last.elapsedMs / 1000)} s`;
        this.result.failed.push({ ...item(s), error: `${why} (look at it with openstack stack show ${s.id}; run ferry test cleanup ${this.opts.plan} again)` });
        failed.push(s);
      }
    }
    return failed;
  }

  // ---- what is outside stacks ------------------------------------------------------------------------

  private async deleteOrphans(found: Survey): Promise<void> {
    const { signal } = this.opts;
    const sc = this.site;
    const items = (k: ArtifactKind) => found.items.get(k) ?? [];

    const servers = await this.each(items('server'), (i) => deleteServer(sc.compute, i.id, { signal }), false);
    if (servers.length > 0) {
      const ids = new Set(servers.map((s) => s.id));
      this.progress(`waiting for ${servers.length} server(s) to be deleted`);
      const last = await this.poll(`${servers.length} server(s)`, () => listTestServers(sc, this.opts.plan, this.j.drtestRuns, signal), (listed) => listed.every((s) => !ids.has(s.id)));
      this.settle(servers, last, (s) => `server is still ${(s as Server).status} after ${Math.round(last.elapsedMs / 1000)} s`);
    }
    await this.each(items('floating-ip'), (i) => deleteFloatingIp(sc.network, i.id, { signal }));
    await this.each(items('port'), (i) => deletePort(sc.network, i.id, { signal }));
    await this.each(items('router-interface'), (i) => removeRouterInterface(sc.network, i.router!, { port_id: i.id }, { signal }));
    await this.each(items('router'), (i) => deleteRouter(sc.network, i.id, { signal }));
    await this.each(items('subnet'), (i) => deleteSubnet(sc.network, i.id, { signal }));
    await this.each(items('network'), (i) => deleteNetwork(sc.network, i.id, { signal }));
    await this.each(items('security-group'), (i) => deleteSecurityGroup(sc.network, i.id, { signal }));
    await this.deleteVolumes(items('volume'), found.attachments, new Set(items('server').map((s) => s.id)));
  }

  /** Volumes once detached (from the test's servers only), then waits until they are gone. */
  private async deleteVolumes(volumes: CleanupItem[], attachments: Map<string, string[]>, testServers: Set<string>): Promise<void> {
    if (volumes.length === 0) return;
    const { signal } = this.opts;
    const list = () => collect(listVolumes(this.site.blockStorage, { metadata: { [FERRY_MARKS.plan]: this.opts.plan } }, { signal }));
    const ready: CleanupItem[] = [];
    const waiting: CleanupItem[] = [];
    for (const v of volumes) {
      const foreign = (attachments.get(v.id) ?? []).filter((s) => !testServers.has(s));
      if (foreign.length > 0) this.result.failed.push({ ...v, error: `attached to server ${foreign.join(', ')}, which is not a DR-test server of plan ${this.opts.plan} (fix: openstack server remove volume ${foreign[0]} ${v.id}, then run the cleanup again)` });
      else if ((attachments.get(v.id) ?? []).length > 0) waiting.push(v);
      else ready.push(v);
    }
    if (waiting.length > 0) {
      // Nova detaches a deleted server's volumes: wait for Cinder to say so.
      const ids = new Set(waiting.map((v) => v.id));
      const last = await this.poll(`${waiting.length} volume(s) to be detached`, list, (listed) => listed.every((v) => !ids.has(v.id) || !BUSY_VOLUME.has(v.status)));
      const now = new Map(last.items.map((v) => [v.id, v]));
      for (const v of waiting) {
        const seen = now.get(v.id);
        if (seen && BUSY_VOLUME.has(seen.status)) this.result.failed.push({ ...v, error: `still ${seen.status} after ${Math.round(last.elapsedMs / 1000)} s (fix: openstack volume show ${v.id}; run the cleanup again)` });
        else ready.push(v);
      }
    }
    const order = (v: CleanupItem) => volumes.indexOf(v);
    ready.sort((x, y) => order(x) - order(y));
    const started = await this.each(ready, (i) => deleteVolume(this.site.blockStorage, i.id, { cascade: true, signal }), false);
    if (started.length === 0) return;
    const ids = new Set(started.map((v) => v.id));
    this.progress(`waiting for ${started.length} volume(s) to be deleted`);
    const last = await this.poll(`${started.length} volume(s)`, list, (listed) => listed.every((v) => !ids.has(v.id) || v.status === 'error_deleting'));
    this.settle(started, last, (v) => {
      const vol = v as Volume;
      return vol.status === 'error_deleting' ? 'Cinder could not delete it (error_deleting; fix: openstack volume set --state error, then run the cleanup again)' : `still ${vol.status} after ${Math.round(last.elapsedMs / 1000)} s`;
    });
  }

  /**
   * Deletes each item (bounded concurrency). With `final` (synchronous deletions: Neutron) a
   * success is recorded at once; otherwise the items whose delete was accepted are returned
   * for a wait. A 404 means someone else deleted it: done either way.
   */
  private async each(items: CleanupItem[], del: (i: CleanupItem) => Promise<boolean>, final = true): Promise<CleanupItem[]> {
    // Outcomes by position, recorded in the input's order whatever order the calls end in.
    const outcome = await Promise.all(
      items.map((i) =>
        this.limit(async (): Promise<{ existed: boolean } | { error: unknown }> => {
          try {
            return { existed: await del(i) };
          } catch (error) {
            return { error };
          }
        }),
      ),
    );
    const accepted: CleanupItem[] = [];
    items.forEach((i, n) => {
      const o = outcome[n]!;
      if ('error' in o) return this.fail(i, o.error);
      if (final || !o.existed) {
        this.result.deleted.push(o.existed ? i : { ...i, note: 'already gone' });
        this.progress(i.kind === 'router-interface' ? `removed router interface ${i.id} from router ${i.router}` : `deleted ${i.kind} ${i.name || i.id} (${i.id})`);
      } else {
        accepted.push(i);
      }
    });
    return accepted;
  }

  /** After a wait: what the last listing no longer shows is deleted, the rest failed. */
  private settle<T extends { id: string }>(items: CleanupItem[], last: { items: T[] }, why: (seen: T) => string): void {
    const still = new Map(last.items.map((x) => [x.id, x]));
    for (const i of items) {
      const seen = still.get(i.id);
      if (seen) this.result.failed.push({ ...i, error: why(seen) });
      else {
        this.result.deleted.push(i);
        this.progress(`deleted ${i.kind} ${i.name || i.id} (${i.id})`);
      }
    }
  }

  private fail(i: CleanupItem, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const hint = isStatus(err, 409) ? ' (in use or locked: free it, then run the cleanup again)' : '';
    this.result.failed.push({ ...i, error: `${message}${hint}` });
    this.log.warn(`could not delete ${i.kind} ${i.name || i.id} (${i.id}): ${message}`);
  }

  /** Lists until `settled` or the timeout; returns the last listing and the time spent. */
  private async poll<T>(what: string, list: () => Promise<T[]>, settled: (items: T[]) => boolean): Promise<{ items: T[]; elapsedMs: number }> {
    const timeout = this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let interval = this.opts.pollMs ?? 2_000;
    const t0 = Date.now();
    for (;;) {
      const items = await list();
      const elapsedMs = Date.now() - t0;
      if (settled(items)) return { items, elapsedMs };
      if (elapsedMs + interval > timeout) {
        this.log.warn(`gave up waiting for ${what} after ${Math.round(elapsedMs / 1000)} s`);
        return { items, elapsedMs };
      }
      await this.pause(interval, this.opts.signal);
      interval = Math.min(15_000, Math.round(interval * 1.5));
    }
  }
}

/** Volume states that are not deletable yet but will settle by themselves. */
const BUSY_VOLUME = new Set(['in-use', 'attaching', 'detaching', 'reserved', 'creating', 'downloading', 'restoring-backup', 'backing-up', 'uploading', 'extending']);
