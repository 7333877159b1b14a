// Recovery steps shared by failover, DR test and failback: choose the recovery point, make sure
// its backups are free to restore, record the recovering site as active in its bank, bring the
// generated stack up (resolve at the site, generate, check quota, create or adopt, watch), and
// verify and measure what came up. Each is an engine step (observe → act → verify) over a
// RecoveryTarget, the recovering site's side effects, so the steps are tested against an
// in-memory site and run against a real one through siteTarget().
//
// Decisions:
//  - The point. `--point ID` (or the point a planned failover's final cycle made), else the
//    newest complete point. A partial point only with force (isRecoverable). The point's
//    manifest is read from the catalog and its checksum verified; it must hold data at the
//    recovering site (targetSite).
//  - One restore per backup at a time. Cinder refuses to restore a backup that is being
//    restored (400 "Invalid backup: Backup status must be available"). The generator makes one
//    volume per backup; across runs, the `guard` step waits (bounded) until every backup of
//    the point is `available` at the site, naming the running DR test, failover or failback
//    run of the plan that uses the same point, and fails with the fix (wait, or recover
//    another point) when they stay busy. A DR test and a failover of one point thus restore
//    one after the other, never at once. The stack step checks again right before it creates
//    the stack; a restore started by someone else in between makes the stack fail with
//    Cinder's reason, and the retry replaces it.
//  - Quota before anything is made: the generated stack's demand (instances, cores, RAM,
//    volumes, gigabytes, ports, networks, subnets, groups, rules, floating IPs, server groups)
//    against the site's limits and usage (Nova and Cinder limits, Neutron quota details), in a
//    fixed number of calls. failover() checks it before the epoch is raised; the stack step
//    checks it again (observe) before creating.
//  - The generated stack is not kept in the run's state (it can be megabytes): each process
//    regenerates it from the point, the plan and the site's listings (generation is pure and
//    deterministic) and keeps it in memory for the run.
//  - Measured: RTO from the command's start (params.commandStartedAt, kept across the runs of
//    one command and across resumes) to every server ACTIVE and verified; RPO from the point's
//    capture time to when writes stopped: the command's start for an unplanned failover, the
//    primary's servers SHUTOFF for a planned one (0 when the point was taken after that).
import type { CatalogRepo, JsonObject, JsonValue, Plan, RecoveryPoint, RunKind, RunStatus } from '../catalog/repo.js';
import type { ProtectionPlan } from '../config/protection-plan.js';
import { FerryError } from '../errors.js';
import {
  deleteStackAndWait,
  deployStack,
  markVolumes,
  observeStack,
  StackFailedError,
  StackStuckError,
  StackTimeoutError,
  stackTopology,
  updateStackTo,
  verifyStack,
  type DeployResult,
  type ObservedStack,
  type StackTopology,
  type StackVerification,
  type WatchOptions,
} from '../heat/deploy.js';
import { generate, type GeneratedStack, type QuotaDemand } from '../heat/generate.js';
import { markTag, RESOURCE_KINDS } from '../heat/names.js';
import { resolve } from '../heat/resolve.js';
import type { RecoveryMode } from '../heat/types.js';
import { silentLogger, type Logger } from '../log.js';
import { listBackups } from '../openstack/blockstorage/backups.js';
import { getLimits as getVolumeLimits } from '../openstack/blockstorage/limits.js';
import { getLimits as getComputeLimits } from '../openstack/compute/limits.js';
import { quotaHeadroom, getQuotaDetails } from '../openstack/network/quotas.js';
import type { StackEvent } from '../openstack/orchestration/events.js';
import type { StackIdentity } from '../openstack/orchestration/stacks.js';
import { collect } from '../openstack/paginate.js';
import type { Site } from '../openstack/site.js';
import { sleep as abortableSleep } from '../openstack/wait.js';
import { DEFAULT_BANK_CONTAINER, getEpoch, putEpoch, type BankEpoch } from '../replication/bank.js';
import { unrecoverableReason, validateManifest, type RecoveryPointManifest } from '../replication/recovery-point.js';
import { FERRY_MARKS } from '../replication/types.js';
import { readProgress, TerminalStepError, type RunEvent, type Step, type StepContext } from './engine.js';

// ---- the plan ------------------------------------------------------------------

/**
 * The protection plan a catalog plan holds: its spec is the validated plan as JSON (durations
 * as {text, ms}), which is the parsed ProtectionPlan itself.
 */
export function protectionPlanOf(plan: Pick<Plan, 'name' | 'spec'>): ProtectionPlan {
  const s = plan.spec as Record<string, unknown>;
  if (typeof s.name !== 'string' || !Array.isArray(s.members) || typeof s.mappings !== 'object' || s.mappings === null) {
    throw new FerryError(`plan '${plan.name}': the catalog's spec is not a validated protection plan (fix: ferry plan apply FILE)`);
  }
  return plan.spec as unknown as ProtectionPlan;
}

// ---- the point -------------------------------------------------------------------

export class RecoveryPointError extends FerryError {
  override readonly name: string = 'RecoveryPointError';
}

export interface ChosenPoint {
  point: RecoveryPoint;
  manifest: RecoveryPointManifest;
}

/**
 * The point to recover: `pointId`, else the newest complete one (the newest finished one with
 * force). Refuses (RecoveryPointError with the fix) a point of another plan, one that is not
 * recoverable (partial without force, in progress, being deleted), or one whose data is not at
 * `site`.
 */
export async function choosePoint(repo: CatalogRepo, planName: string, opts: { pointId?: string; force?: boolean; site: string }): Promise<ChosenPoint> {
  let point: RecoveryPoint | undefined;
  if (opts.pointId) {
    point = await repo.points.get(opts.pointId);
    if (!point || point.planName !== planName) throw new RecoveryPointError(`recovery point ${opts.pointId} is not a point of plan '${planName}' (fix: ferry points list ${planName})`);
  } else {
    point = opts.force ? (await repo.points.list(planName, { status: ['complete', 'partial'], limit: 1 }))[0] : await repo.points.latestComplete(planName);
    if (!point) throw new RecoveryPointError(`plan '${planName}' has no ${opts.force ? 'finished' : 'complete'} recovery point (fix: ferry replicate ${planName}, or name a point with --point)`);
  }
  const why = unrecoverableReason(point, { force: opts.force === true });
  if (why) throw new RecoveryPointError(`${why} (fix: choose another with --point; ferry points list ${planName})`);
  if (!point.manifest) throw new RecoveryPointError(`recovery point ${point.id} has no manifest in the catalog (fix: ferry catalog rebuild --from ${point.targetSite})`);
  const manifest = validateManifest(point.manifest, { source: `recovery point ${point.id} in the catalog` });
  if (manifest.targetSite !== opts.site) {
    throw new RecoveryPointError(`recovery point ${point.id} holds its data at ${manifest.targetSite}, not at ${opts.site}, where the recovery runs (fix: choose a point taken toward ${opts.site})`);
  }
  return { point, manifest };
}

/** A running run of the plan that restores (or may restore) the same point. */
export interface PointUse {
  runId: string;
  kind: RunKind;
  status: RunStatus;
  owner: string;
}

/** The point a run works on: its params' pointId, else the one its journal's state holds. */
async function pointOfRun(repo: CatalogRepo, run: { id: string; params: JsonValue | null }): Promise<string | undefined> {
  const p = (run.params ?? {}) as { pointId?: unknown };
  if (typeof p.pointId === 'string') return p.pointId;
  const state = readProgress(await repo.journal.read(run.id)).state;
  return typeof state['pointId'] === 'string' ? state['pointId'] : undefined;
}

/** Running DR test, failover, failback and standby runs of the plan that use `pointId` (other than `excludeRunId`). */
export async function runsUsingPoint(repo: CatalogRepo, planName: string, pointId: string, excludeRunId?: string): Promise<PointUse[]> {
  const running = await repo.runs.list({ planName, status: ['running', 'pending'] });
  const out: PointUse[] = [];
  for (const r of running) {
    if (r.id === excludeRunId || !['drtest', 'failover', 'failback', 'standby'].includes(r.kind)) continue;
    if ((await pointOfRun(repo, r)) === pointId) out.push({ runId: r.id, kind: r.kind, status: r.status, owner: r.owner });
  }
  return out;
}

export interface BackupReadiness {
  ok: boolean;
  missing: string[];
  busy: { id: string; status: string }[];
  failed: { id: string; status: string }[];
}

/** Whether every backup of the point is `available` at the site (pure). */
export function backupReadiness(manifest: Pick<RecoveryPointManifest, 'data'>, statuses: ReadonlyMap<string, string>): BackupReadiness {
  const r: BackupReadiness = { ok: true, missing: [], busy: [], failed: [] };
  for (const v of manifest.data.volumes) {
    const s = statuses.get(v.secondaryBackupId);
    if (s === undefined) r.missing.push(v.secondaryBackupId);
    else if (s.startsWith('error') || s === 'deleting' || s === 'deleted') r.failed.push({ id: v.secondaryBackupId, status: s });
    else if (s !== 'available') r.busy.push({ id: v.secondaryBackupId, status: s });
  }
  r.ok = r.missing.length === 0 && r.busy.length === 0 && r.failed.length === 0;
  return r;
}

// ---- quota -------------------------------------------------------------------------

/** Room left per demand key at a site; a missing key is unknown or unlimited. */
export type QuotaRoom = Partial<Record<keyof QuotaDemand, number>>;

export interface QuotaShortfall {
  resource: keyof QuotaDemand;
  need: number;
  room: number;
}

/** What the stack needs beyond what the site has room for (pure). */
export function quotaShortfalls(demand: QuotaDemand, room: QuotaRoom): QuotaShortfall[] {
  const out: QuotaShortfall[] = [];
  for (const k of Object.keys(demand).sort() as (keyof QuotaDemand)[]) {
    const need = demand[k];
    const left = room[k];
    if (need > 0 && left !== undefined && left !== Infinity && need > left) out.push({ resource: k, need, room: left });
  }
  return out;
}

/** The words a shortfall is reported in. */
const QUOTA_WORDS: Record<keyof QuotaDemand, string> = {
  instances: 'servers (Nova instances)',
  cores: 'vCPUs (Nova cores)',
  ramMiB: 'MiB of RAM (Nova ram)',
  volumes: 'volumes (Cinder volumes)',
  volumeGiB: 'GiB of volumes (Cinder gigabytes)',
  ports: 'ports (Neutron port)',
  networks: 'networks (Neutron network)',
  subnets: 'subnets (Neutron subnet)',
  securityGroups: 'security groups (Neutron security_group)',
  securityGroupRules: 'security group rules (Neutron security_group_rule)',
  floatingIps: 'floating IPs (Neutron floatingip)',
  keypairs: 'keypairs (Nova key_pairs)',
  serverGroups: 'server groups (Nova server_groups)',
};

export class QuotaError extends FerryError {
  override readonly name: string = 'QuotaError';
  constructor(
    readonly site: string,
    readonly shortfalls: QuotaShortfall[],
  ) {
    super(
      `the recovery does not fit the quota of the project at ${site}: ${shortfalls.map((s) => `needs ${s.need} ${QUOTA_WORDS[s.resource]}, room for ${s.room}`).join('; ')}. ` +
        'Nothing was created. Fix: raise those quotas at the site (openstack quota set), or free room, then run again',
    );
  }
}

const left = (max: number | undefined, used: number | undefined): number | undefined => (max === undefined || max < 0 ? undefined : Math.max(0, max - (used ?? 0)));

/** The site's room for a stack: Nova and Cinder absolute limits, Neutron quota details (when offered). */
export async function quotaRoom(site: Site, signal?: AbortSignal): Promise<{ room: QuotaRoom; notes: string[] }> {
  const notes: string[] = [];
  const token = await site.connect(signal);
  const projectId = token.info.project?.id ?? '';
  const [compute, volume, network] = await Promise.all([
    getComputeLimits(site.compute, { signal }).then((l) => l.absolute),
    getVolumeLimits(site.blockStorage, undefined, signal).then((l) => l.absolute),
    getQuotaDetails(site.network, projectId, signal).catch((err: Error) => {
      notes.push(`network quota not checked: ${err.message}`);
      return undefined;
    }),
  ]);
  const room: QuotaRoom = {};
  const set = (k: keyof QuotaDemand, v: number | undefined) => {
    if (v !== undefined) room[k] = v;
  };
  set('instances', left(compute.maxTotalInstances, compute.totalInstancesUsed));
  set('cores', left(compute.maxTotalCores, compute.totalCoresUsed));
  set('ramMiB', left(compute.maxTotalRAMSize, compute.totalRAMUsed));
  set('serverGroups', left(compute.maxServerGroups, compute.totalServerGroupsUsed));
  set('volumes', left(volume.maxTotalVolumes, volume.totalVolumesUsed));
  set('volumeGiB', left(volume.maxTotalVolumeGigabytes, volume.totalGigabytesUsed));
  if (network) {
    const n = (r: string) => {
      const h = quotaHeadroom(network, r);
      return h === Infinity ? undefined : h;
    };
    set('ports', n('port'));
    set('networks', n('network'));
    set('subnets', n('subnet'));
    set('securityGroups', n('security_group'));
    set('securityGroupRules', n('security_group_rule'));
    set('floatingIps', n('floatingip'));
  }
  return { room, notes };
}

// ---- measuring -----------------------------------------------------------------------

export interface Measured {
  /** From the command's start to every server ACTIVE and verified. */
  rtoMs: number;
  /** Data lost: from the point's capture to when writes stopped (0 for a planned failover after the final cycle). */
  rpoMs: number;
}

/** RTO and RPO of a recovery (pure). */
export function measure(m: { commandStartedAt: string; serversActiveAt: string; pointCreatedAt: string; writesStoppedAt?: string }): Measured {
  const t = (s: string) => Date.parse(s);
  const stopped = m.writesStoppedAt ?? m.commandStartedAt;
  return { rtoMs: Math.max(0, t(m.serversActiveAt) - t(m.commandStartedAt)), rpoMs: Math.max(0, t(stopped) - t(m.pointCreatedAt)) };
}

// ---- the recovering site ------------------------------------------------------------------

/** A stack event with the name of what its resource recovers, for progress lines. */
export interface RecoveryEvent {
  site: string;
  stack: string;
  resource: string;
  /** The primary object's name, when the resource recovers one. */
  source?: string;
  status: string;
  reason: string;
  time: string;
}

export interface DeployRequest {
  planName: string;
  runId: string;
  timeoutMins: number;
  /** Replace this failed or stuck stack of the run (its ID). */
  replace?: string;
  /** Update this existing stack instead of creating one (warm standby). */
  update?: StackIdentity;
  signal?: AbortSignal;
}

/** What the recovery steps do at the recovering site; siteTarget() does it with OpenStack. */
export interface RecoveryTarget {
  /** The site's cloud name. */
  readonly name: string;
  /** Resolves the point at the site and generates its stack (lists, then pure generation). */
  generate(manifest: RecoveryPointManifest, plan: ProtectionPlan, mode: RecoveryMode, runId: string, signal?: AbortSignal): Promise<GeneratedStack>;
  quotaRoom(signal?: AbortSignal): Promise<{ room: QuotaRoom; notes: string[] }>;
  /** Status of each of these backups at the site; absent ones are not in the map. */
  backupStatuses(ids: readonly string[], signal?: AbortSignal): Promise<Map<string, string>>;
  getEpoch(plan: string, signal?: AbortSignal): Promise<BankEpoch | undefined>;
  putEpoch(plan: string, epoch: Omit<BankEpoch, 'updatedAt'>, signal?: AbortSignal): Promise<void>;
  observeStack(name: string, ownerTags: readonly string[], signal?: AbortSignal): Promise<ObservedStack>;
  deploy(g: GeneratedStack, req: DeployRequest): Promise<Pick<DeployResult, 'identity' | 'action'>>;
  deleteStack(ref: StackIdentity | string, signal?: AbortSignal): Promise<boolean>;
  verify(ref: StackIdentity, topology: StackTopology, serverTag: string, signal?: AbortSignal): Promise<StackVerification>;
  markVolumes(v: StackVerification, marksFor: (resource: string) => Record<string, string> | undefined, signal?: AbortSignal): Promise<number>;
}

export interface SiteTargetOptions {
  logger?: Logger;
  /** The bank container (default ferry-bank). */
  container?: string;
  /** Watch settings (poll interval, attach grace) for deploys. */
  watch?: Omit<WatchOptions, 'signal' | 'onEvent' | 'topology' | 'serverTag' | 'logger'>;
  onEvent?: (e: RecoveryEvent) => void;
}

/** The recovery steps' side effects at a real site. */
export function siteTarget(site: Site, opts: SiteTargetOptions = {}): RecoveryTarget {
  const container = opts.container ?? DEFAULT_BANK_CONTAINER;
  const log = (opts.logger ?? silentLogger).child({ site: site.name });
  return {
    name: site.name,
    async generate(manifest, plan, mode, runId, signal) {
      const resolved = await resolve(site, manifest, plan, { signal });
      return generate(manifest, plan, resolved, mode, { runId });
    },
    quotaRoom: (signal) => quotaRoom(site, signal),
    async backupStatuses(ids, signal) {
      const want = new Set(ids);
      const out = new Map<string, string>();
      for (const b of await collect(listBackups(site.blockStorage, {}, { signal }))) if (want.has(b.id)) out.set(b.id, b.status);
      return out;
    },
    getEpoch: (plan, signal) => getEpoch(site.objectStore, plan, { container, signal }),
    async putEpoch(plan, epoch, signal) {
      await putEpoch(site.objectStore, plan, epoch, { container, signal });
    },
    observeStack: (name, ownerTags, signal) => observeStack(site, name, ownerTags, signal),
    async deploy(g, req) {
      const names = new Map(g.index.map((e) => [e.resource, e.sourceName]));
      const onEvent = (e: StackEvent) => {
        const source = names.get(e.resource_name);
        const ev: RecoveryEvent = { site: site.name, stack: g.stackName, resource: e.resource_name, status: e.resource_status, reason: e.resource_status_reason, time: e.event_time, ...(source ? { source } : {}) };
        log.info(`stack ${g.stackName}: ${e.resource_name}${source ? ` (${source})` : ''} ${e.resource_status}${e.resource_status_reason ? `: ${e.resource_status_reason}` : ''}`);
        opts.onEvent?.(ev);
      };
      const d = {
        ...opts.watch,
        timeoutMins: req.timeoutMins,
        ownerTags: ownerTags(req.planName, req.runId),
        ...(req.replace ? { replace: req.replace } : {}),
        serverTag: markTag('run', req.runId),
        logger: log,
        onEvent,
        ...(req.signal ? { signal: req.signal } : {}),
      };
      const r = req.update ? await updateStackTo(site, req.update, g, d) : await deployStack(site, g, d);
      return { identity: r.identity, action: r.action };
    },
    deleteStack: (ref, signal) => deleteStackAndWait(site, ref, { signal }),
    verify: (ref, topology, serverTag, signal) => verifyStack(site, ref, topology, { serverTag, signal }),
    markVolumes: (v, marksFor, signal) => markVolumes(site, v, marksFor, signal),
  };
}

// ---- the shared steps -------------------------------------------------------------------

/** The options every recovery command (failover, failback, standby) takes; `deps` replaces its side effects in tests. */
export interface RecoveryCommandOptions<D> {
  repo: CatalogRepo;
  sites: (cloud: string) => Site;
  /** Who drives the runs: `cli@host`, a daemon ID. */
  owner: string;
  /** Heat's stack timeout (default 60 min). */
  stackTimeoutMins?: number;
  logger?: Logger;
  signal?: AbortSignal;
  now?: () => Date;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Each journal entry of the runs as it is written. */
  onEvent?: (e: RunEvent) => void;
  /** Each stack event, with what its resource recovers. */
  onStackEvent?: (e: RecoveryEvent) => void;
  /** Notes for the operator (a mode chosen, a run continued, a standby up to date). */
  onNote?: (text: string) => void;
  /** Side effects (tests replace them). */
  deps?: Partial<D>;
}

/** What a recovery run's params hold (JSON in the catalog). */
export interface RecoveryParams {
  /** The point asked for (--point, or a planned failover's final point); default: the newest complete. */
  pointId?: string;
  /** Allow a partial point. */
  force?: boolean;
  /** ISO time the operator's command started: RTO is measured from it. */
  commandStartedAt: string;
  /** ISO time writes stopped (planned failover: the primary's servers SHUTOFF). */
  writesStoppedAt?: string;
  /** Heat's stack timeout. */
  stackTimeoutMins: number;
}

/** The run's state bag (JSON), as the shared steps leave it. */
export interface RecoveryState {
  pointId?: string;
  pointCreatedAt?: string;
  stackName?: string;
  stackId?: string;
  /** create, or update: a warm standby stack brought to full capacity. */
  stackAction?: string;
  /** The stack the previous try found stuck or failed (its ID): the next try replaces it. */
  stackBroken?: string;
  demand?: JsonObject;
  resources?: JsonObject;
  serversActiveAt?: string;
  servers?: JsonValue[];
  serverCount?: number;
  volumeCount?: number;
  rtoMs?: number;
  rpoMs?: number;
  [key: string]: JsonValue | undefined;
}

/** What the shared steps need besides the step context. */
export interface RecoveryEnv {
  mode: RecoveryMode;
  /** The recovering site's cloud name for a run's plan. */
  siteOf: (plan: Plan) => string;
  target: (cloud: string) => RecoveryTarget;
  logger?: Logger;
  /** How long `guard` waits for busy backups (default 15 min) and its poll (default 10 s). */
  guardTimeoutMs?: number;
  guardPollMs?: number;
  /** How long `check` waits for servers and attachments to settle (default 10 min). */
  checkTimeoutMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The stack to update instead of creating one (warm standby): its name, found by the stack step. */
  standbyStackName?: (plan: Plan) => string | undefined;
  /** The plan the stack is generated from (default the plan's spec; a failback reverses its mappings). */
  planFor?: (plan: Plan) => ProtectionPlan;
}

type Ctx = StepContext<RecoveryState>;

const paramsOf = (ctx: Ctx): RecoveryParams => (ctx.run.params ?? {}) as unknown as RecoveryParams;

/** The run's plan (deleted plans too: a run may outlive a soft delete); gone is terminal. */
export async function planOf(ctx: Pick<StepContext<object>, 'repo' | 'run'>): Promise<Plan> {
  const plan = await ctx.repo.plans.get(ctx.run.planName, { includeDeleted: true });
  if (!plan) throw new TerminalStepError(`plan '${ctx.run.planName}' is not in the catalog any more`);
  return plan;
}

/** Per workflow instance: the point's manifest and generated stack, rebuilt after a resume. */
export class RecoveryCache {
  private readonly manifests = new Map<string, RecoveryPointManifest>();
  private readonly stacks = new Map<string, GeneratedStack>();

  async manifest(ctx: Ctx, pointId: string, site: string): Promise<RecoveryPointManifest> {
    let m = this.manifests.get(pointId);
    if (!m) {
      m = (await choosePoint(ctx.repo, ctx.run.planName, { pointId, force: true, site })).manifest;
      this.manifests.set(pointId, m);
    }
    return m;
  }

  async stack(ctx: Ctx, env: RecoveryEnv, plan: Plan, pointId: string): Promise<GeneratedStack> {
    const key = `${ctx.run.id}/${pointId}`;
    let g = this.stacks.get(key);
    if (!g) {
      const site = env.siteOf(plan);
      const manifest = await this.manifest(ctx, pointId, site);
      g = await env.target(site).generate(manifest, env.planFor ? env.planFor(plan) : protectionPlanOf(plan), env.mode, ctx.run.id, ctx.signal);
      this.stacks.set(key, g);
    }
    return g;
  }
}

/** Resources of a generated stack by kind, in the template's kind order: {net: 1, server: 2, volume: 3, attach: 1}. */
export function resourceCounts(g: Pick<GeneratedStack, 'index'>): Record<string, number> {
  const out: Record<string, number> = {};
  const rank = (k: string) => (RESOURCE_KINDS as readonly string[]).indexOf(k);
  for (const e of [...g.index].sort((a, b) => rank(a.kind) - rank(b.kind))) out[e.kind] = (out[e.kind] ?? 0) + 1;
  return out;
}

/** "2 servers, 3 volumes, 1 attach" (in the order given). */
export function countsText(counts: Record<string, number>): string {
  const plural = (k: string) => (k.endsWith('y') ? `${k.slice(0, -1)}ies` : k.endsWith('s') || k.endsWith('h') ? `${k}es` : `${k}s`);
  const parts = Object.entries(counts).map(([k, n]) => `${n} ${n === 1 ? k : plural(k)}`);
  return parts.length > 0 ? parts.join(', ') : 'nothing';
}

const ageText = (ms: number) => (ms < 120_000 ? `${Math.round(ms / 1000)} s` : ms < 7_200_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`);

/** `point`: chooses the recovery point and leaves its ID and capture time in the state. */
export function pointStep(env: RecoveryEnv): Step<RecoveryState> {
  const choose = async (ctx: Ctx) => {
    const plan = await planOf(ctx);
    const p = paramsOf(ctx);
    return choosePoint(ctx.repo, plan.name, { ...(p.pointId ? { pointId: p.pointId } : {}), force: p.force === true, site: env.siteOf(plan) });
  };
  return {
    name: 'point',
    describe: 'choose the recovery point to restore (--point, the final cycle\'s, or the newest complete one)',
    action: 'read',
    retry: { attempts: 1 },
    async observe(ctx) {
      if (ctx.state.pointId) return { done: true, summary: `point ${ctx.state.pointId}` };
      const { point } = await choose(ctx);
      if (ctx.dryRun) {
        ctx.state.pointId = point.id;
        ctx.state.pointCreatedAt = point.createdAt.toISOString();
      }
      return { done: false, summary: `point ${point.id}, ${point.status}, taken ${ageText(ctx.now().getTime() - point.createdAt.getTime())} ago`, detail: { pointId: point.id } };
    },
    async act(ctx) {
      try {
        const { point } = await choose(ctx);
        ctx.state.pointId = point.id;
        ctx.state.pointCreatedAt = point.createdAt.toISOString();
        return { pointId: point.id, createdAt: ctx.state.pointCreatedAt };
      } catch (err) {
        if (err instanceof RecoveryPointError) throw new TerminalStepError(err.message);
        throw err;
      }
    },
    verify: (ctx) => (ctx.state.pointId ? { ok: true } : { ok: false, reason: 'no point chosen' }),
  };
}

/**
 * `guard`: every backup of the point is `available` at the site (Cinder restores a backup into
 * one volume at a time); waits while another run of the plan restores the same point.
 */
export function guardStep(env: RecoveryEnv, cache: RecoveryCache): Step<RecoveryState> {
  const look = async (ctx: Ctx) => {
    const plan = await planOf(ctx);
    const site = env.siteOf(plan);
    const manifest = await cache.manifest(ctx, ctx.state.pointId!, site);
    const statuses = await env.target(site).backupStatuses(manifest.data.volumes.map((v) => v.secondaryBackupId), ctx.signal);
    const readiness = backupReadiness(manifest, statuses);
    const users = readiness.busy.length > 0 ? await runsUsingPoint(ctx.repo, plan.name, ctx.state.pointId!, ctx.run.id) : [];
    return { plan, site, manifest, readiness, users };
  };
  const describeBusy = (l: Awaited<ReturnType<typeof look>>) =>
    `${l.readiness.busy.length} backup(s) of point ${l.manifest.id} are busy at ${l.site} (${l.readiness.busy.map((b) => `${b.id} ${b.status}`).join(', ')})` +
    (l.users.length > 0 ? `: ${l.users.map((u) => `${u.kind} run ${u.runId}`).join(', ')} of plan ${l.plan.name} restores the same point` : '');
  return {
    name: 'guard',
    describe: "check that the point's backups are at the site and free to restore (one restore per backup at a time)",
    action: 'read',
    retry: { attempts: 2, backoffMs: 5_000 },
    async observe(ctx) {
      const l = await look(ctx);
      const summary = l.readiness.ok ? `${l.manifest.data.volumes.length} backup(s) available at ${l.site}` : l.readiness.busy.length > 0 ? describeBusy(l) : `${l.readiness.missing.length} missing, ${l.readiness.failed.length} failed backup(s)`;
      return { done: false, summary };
    },
    async act(ctx) {
      const pause = env.sleep ?? abortableSleep;
      const deadline = ctx.now().getTime() + (env.guardTimeoutMs ?? 900_000);
      for (;;) {
        const l = await look(ctx);
        const r = l.readiness;
        if (r.missing.length > 0 || r.failed.length > 0) {
          throw new TerminalStepError(
            `point ${l.manifest.id} cannot be restored at ${l.site}: ${[...r.missing.map((id) => `backup ${id} is missing`), ...r.failed.map((b) => `backup ${b.id} is ${b.status}`)].join(', ')} (fix: recover another point with --point; ferry points list ${l.plan.name})`,
          );
        }
        if (r.ok) return { backups: l.manifest.data.volumes.length };
        const msg = describeBusy(l);
        if (ctx.now().getTime() >= deadline) {
          throw new TerminalStepError(`${msg}; still busy after ${Math.round((env.guardTimeoutMs ?? 900_000) / 60_000)} min. Cinder restores a backup into one volume at a time (fix: wait for that run to finish its restore, or recover another point with --point)`);
        }
        ctx.logger.warn(`${msg}; waiting until they are available`);
        await pause(env.guardPollMs ?? 10_000, ctx.signal);
      }
    },
    verify: () => ({ ok: true }),
  };
}

/** `activate`: the recovering site is recorded as active, at the run's epoch, in its bank. */
export function activateStep(env: RecoveryEnv): Step<RecoveryState> {
  return {
    name: 'activate',
    describe: 'record the recovering site as active in the bank there (the plan\'s epoch, raised by this run)',
    action: 'update',
    async observe(ctx) {
      const plan = await planOf(ctx);
      const site = env.siteOf(plan);
      const e = await env.target(site).getEpoch(plan.name, ctx.signal);
      if (e && e.epoch > ctx.run.epoch) {
        throw new TerminalStepError(`the bank at ${site} holds epoch ${e.epoch} (active ${e.activeSite}), newer than this run's ${ctx.run.epoch}: another Ferry moved the plan (fix: ferry catalog rebuild --from ${site}, then look at ferry runs list --plan ${plan.name})`);
      }
      const done = e !== undefined && e.epoch === ctx.run.epoch && e.activeSite === site;
      // A dry-run sees the plan's epoch; the real run holds the raised one.
      const to = ctx.dryRun ? ctx.run.epoch + 1 : ctx.run.epoch;
      return { done, summary: e ? `bank at ${site}: epoch ${e.epoch}, active ${e.activeSite}${done ? '' : ` → epoch ${to}, active ${site}`}` : `bank at ${site}: no epoch yet → epoch ${to}, active ${site}` };
    },
    async act(ctx) {
      const plan = await planOf(ctx);
      const site = env.siteOf(plan);
      await env.target(site).putEpoch(plan.name, { epoch: ctx.run.epoch, activeSite: site }, ctx.signal);
      return { epoch: ctx.run.epoch, activeSite: site };
    },
    async verify(ctx) {
      const plan = await planOf(ctx);
      const site = env.siteOf(plan);
      const e = await env.target(site).getEpoch(plan.name, ctx.signal);
      return e?.epoch === ctx.run.epoch && e.activeSite === site ? { ok: true } : { ok: false, reason: `the bank at ${site} holds ${e ? `epoch ${e.epoch} active ${e.activeSite}` : 'no epoch'}` };
    },
  };
}

/**
 * The warm standby stack a recovery updates instead of creating its own, the one check that
 * failover's pre-flight, the stack step and `ferry standby` share: the stack `name` at the site
 * carrying the plan's tag, in any state but being deleted. A failed or half-made standby counts
 * too: its ports hold the plan's fixed addresses, so a second stack beside it could not take
 * them; updating it makes what is missing. Undefined without a name (not a warm-standby plan).
 */
export async function findStandby(target: Pick<RecoveryTarget, 'observeStack'>, planName: string, name: string | undefined, signal?: AbortSignal): Promise<ObservedStack | undefined> {
  if (!name) return undefined;
  const seen = await target.observeStack(name, [markTag('plan', planName)], signal);
  return seen.summary && seen.ours && seen.phase !== 'deleting' && seen.phase !== 'absent' ? seen : undefined;
}

/** The tags that make a stack this run's own. */
export function ownerTags(planName: string, runId: string): string[] {
  return [markTag('plan', planName), markTag('run', runId)];
}

/**
 * `stack`: creates the generated stack at the site (or updates the warm standby stack), or
 * adopts this run's own; follows its events and watches its attachments until it is complete.
 * Compensation deletes it (only this run's).
 */
export function stackStep(env: RecoveryEnv, cache: RecoveryCache): Step<RecoveryState> {
  const standbyOf = (ctx: Ctx, plan: Plan, target: RecoveryTarget) => findStandby(target, plan.name, env.standbyStackName?.(plan), ctx.signal);
  return {
    name: 'stack',
    describe: 'create the recovery stack at the site from the point (or update the warm standby stack), following its events and watching its attachments',
    action: 'create',
    retry: { attempts: 2, backoffMs: 10_000 },
    async observe(ctx) {
      const plan = await planOf(ctx);
      const site = env.siteOf(plan);
      const target = env.target(site);
      const g = await cache.stack(ctx, env, plan, ctx.state.pointId!);
      const counts = resourceCounts(g);
      const standby = await standbyOf(ctx, plan, target);
      const name = standby?.summary?.stack_name ?? g.stackName;
      const seen = await target.observeStack(name, ownerTags(plan.name, ctx.run.id), ctx.signal);
      const types = (g.template.resources ?? {}) as Record<string, { type?: unknown }>;
      const index = () => g.index.map((e) => ({ resource: e.resource, kind: e.kind, type: typeof types[e.resource]?.type === 'string' ? (types[e.resource]!.type as string) : e.kind, source: e.sourceName ?? null }));
      const detail: JsonObject = { stack: name, resources: counts, ...(ctx.dryRun ? { index: index() } : {}) };
      if (seen.ours && seen.summary && seen.phase === 'complete') {
        // What act leaves, found again (a process that died after creating it).
        ctx.state.stackName = name;
        ctx.state.stackId = seen.summary.id;
        ctx.state.stackAction = standby ? 'update' : 'create';
        ctx.state.resources = counts;
        ctx.state.demand = { ...g.demand };
        return { done: true, summary: `stack ${name} (${seen.summary.id}) ${seen.summary.stack_status}`, detail };
      }
      if (!seen.ours || seen.phase === 'absent') {
        // Before anything is made: will it fit?
        const { room, notes } = await target.quotaRoom(ctx.signal);
        const demand = standby ? { ...g.demand, volumes: 0, volumeGiB: 0, ports: 0, networks: 0, subnets: 0, securityGroups: 0, securityGroupRules: 0, keypairs: 0, serverGroups: 0 } : g.demand;
        const short = quotaShortfalls(demand, room);
        for (const n of notes) ctx.logger.warn(n);
        if (short.length > 0) throw new TerminalStepError(new QuotaError(site, short).message);
      }
      const what = standby ? `update the warm standby stack ${name} to full capacity: ${countsText(counts)}` : `stack ${name} ${seen.phase === 'absent' ? 'absent' : `${seen.summary?.stack_status}${seen.ours ? '' : ' (not this run\'s)'}`} at ${site}: ${countsText(counts)}`;
      return { done: false, summary: what, detail };
    },
    async act(ctx) {
      const plan = await planOf(ctx);
      const site = env.siteOf(plan);
      const target = env.target(site);
      const g = await cache.stack(ctx, env, plan, ctx.state.pointId!);
      const standby = await standbyOf(ctx, plan, target);
      // Right before the restores start: nobody else restores these backups now.
      const manifest = await cache.manifest(ctx, ctx.state.pointId!, site);
      const readiness = backupReadiness(manifest, await target.backupStatuses(manifest.data.volumes.map((v) => v.secondaryBackupId), ctx.signal));
      if (!readiness.ok && readiness.busy.length > 0) throw new Error(`backups of point ${manifest.id} became busy at ${site} (${readiness.busy.map((b) => `${b.id} ${b.status}`).join(', ')}); trying again`);
      const replace = ctx.state.stackBroken;
      ctx.state.stackName = standby?.summary?.stack_name ?? g.stackName;
      ctx.state.stackAction = standby ? 'update' : 'create';
      ctx.state.resources = resourceCounts(g);
      ctx.state.demand = { ...g.demand };
      try {
        const r = await target.deploy(g, {
          planName: plan.name,
          runId: ctx.run.id,
          timeoutMins: paramsOf(ctx).stackTimeoutMins,
          ...(replace ? { replace } : {}),
          ...(standby?.summary ? { update: { stack_name: standby.summary.stack_name, id: standby.summary.id } } : {}),
          signal: ctx.signal,
        });
        ctx.state.stackId = r.identity.id;
        delete ctx.state.stackBroken;
        return { stackId: r.identity.id, action: r.action };
      } catch (err) {
        // The stack of this run failed or got stuck: the next try replaces that one (and only that one).
        if (!ctx.signal.aborted && (err instanceof StackFailedError || err instanceof StackStuckError || err instanceof StackTimeoutError)) {
          const broken = await target.observeStack(ctx.state.stackName, ownerTags(plan.name, ctx.run.id), ctx.signal).catch(() => undefined);
          if (broken?.ours && broken.summary) ctx.state.stackBroken = broken.summary.id;
        }
        throw err;
      }
    },
    async verify(ctx) {
      const plan = await planOf(ctx);
      const seen = await env.target(env.siteOf(plan)).observeStack(ctx.state.stackName!, ownerTags(plan.name, ctx.run.id), ctx.signal);
      return seen.phase === 'complete' && seen.ours ? { ok: true, detail: { status: seen.summary!.stack_status } } : { ok: false, reason: `stack ${ctx.state.stackName} is ${seen.summary?.stack_status ?? 'absent'}` };
    },
    async compensate(ctx): Promise<JsonValue> {
      const plan = await planOf(ctx);
      const target = env.target(env.siteOf(plan));
      const name = ctx.state.stackName;
      // A warm standby stack that failed to update is left as it is: it is not this run's to delete.
      if (!name || ctx.state.stackAction === 'update') return { deleted: false, why: ctx.state.stackAction === 'update' ? `the warm standby stack ${name} stays` : 'no stack of this run to delete' };
      const seen = await target.observeStack(name, ownerTags(plan.name, ctx.run.id), ctx.signal);
      if (!seen.ours || !seen.summary) return { deleted: false, why: `stack ${name} is not this run's` };
      await target.deleteStack({ stack_name: seen.summary.stack_name, id: seen.summary.id }, ctx.signal);
      return { deleted: seen.summary.id };
    },
  };
}

/** The marks a restored volume gets (Heat does not apply metadata on a restore). */
export function volumeMarks(g: Pick<GeneratedStack, 'index'>, planName: string, pointId: string, runId: string): (resource: string) => Record<string, string> | undefined {
  const source = new Map(g.index.filter((e) => e.kind === 'volume').map((e) => [e.resource, e.sourceId]));
  return (resource) => {
    if (!source.has(resource)) return undefined;
    return { [FERRY_MARKS.plan]: planName, [FERRY_MARKS.point]: pointId, [FERRY_MARKS.run]: runId, ...(source.get(resource) ? { [FERRY_MARKS.source]: source.get(resource)! } : {}) };
  };
}

/** Servers kept by name in the state (the run result); more are counted only. */
export const SERVERS_IN_STATE = 200;

/**
 * `check`: marks the restored volumes, then verifies every server ACTIVE and every volume
 * attached to its server, and measures RTO and RPO.
 */
export function checkStep(env: RecoveryEnv, cache: RecoveryCache, opts: { writesStoppedAt?: (ctx: Ctx) => string | undefined } = {}): Step<RecoveryState> {
  const verification = async (ctx: Ctx) => {
    const plan = await planOf(ctx);
    const target = env.target(env.siteOf(plan));
    const g = await cache.stack(ctx, env, plan, ctx.state.pointId!);
    const v = await target.verify({ stack_name: ctx.state.stackName!, id: ctx.state.stackId! }, stackTopology(g.template), markTag('run', ctx.run.id), ctx.signal);
    return { plan, target, g, v };
  };
  return {
    name: 'check',
    describe: 'verify every server ACTIVE and every volume attached to its server, mark the restored volumes, measure RTO and RPO',
    action: 'read',
    retry: { attempts: 12, backoffMs: 5_000, factor: 1.5, maxBackoffMs: 30_000 },
    observe(ctx) {
      return { done: false, summary: ctx.state.stackName ? `servers and volumes of ${ctx.state.stackName}` : 'the servers and volumes the stack makes' };
    },
    async act(ctx) {
      const { plan, target, g, v } = await verification(ctx);
      // How many this process wrote is journaled with the act; the state holds only the outcome.
      const marked = await target.markVolumes(v, volumeMarks(g, plan.name, ctx.state.pointId!, ctx.run.id), ctx.signal);
      return { volumesMarked: marked };
    },
    async verify(ctx) {
      const { v } = await verification(ctx);
      if (!v.ok) return { ok: false, reason: v.problems.slice(0, 5).join('; ') + (v.problems.length > 5 ? `; and ${v.problems.length - 5} more` : '') };
      const at = ctx.now().toISOString();
      const p = paramsOf(ctx);
      const stopped = opts.writesStoppedAt?.(ctx) ?? p.writesStoppedAt;
      const m = measure({ commandStartedAt: p.commandStartedAt, serversActiveAt: at, pointCreatedAt: ctx.state.pointCreatedAt!, ...(stopped ? { writesStoppedAt: stopped } : {}) });
      ctx.state.serversActiveAt = at;
      ctx.state.rtoMs = m.rtoMs;
      ctx.state.rpoMs = m.rpoMs;
      ctx.state.serverCount = v.servers.length;
      ctx.state.volumeCount = v.volumes.length;
      ctx.state.servers = v.servers.slice(0, SERVERS_IN_STATE).map((s) => ({ id: s.id, name: s.name, status: s.status }));
      return { ok: true, detail: { servers: v.servers.length, volumes: v.volumes.length, rtoMs: m.rtoMs, rpoMs: m.rpoMs } };
    },
  };
}
