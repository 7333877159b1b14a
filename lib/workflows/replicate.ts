// One replication cycle of a plan, from its active site (the source) to the other one (the
// target): discovery → bank → pre hooks → snapshots → post hooks → backups and images →
// recovery point (bank, then catalog) → retention. Every step is recorded in the run's journal
// and is idempotent, so a cycle whose process died is resumed by the next call with the SAME
// recovery point ID: the mover adopts what exists by its marks instead of creating it again.
//
// Decisions:
//  - Hook window. The mover takes a volume's snapshot and its backup in one go; the hooks must
//    only wrap the snapshots (a freeze held for the length of a backup would stall the
//    application for hours). So a cycle takes every volume's snapshot first (the mover's
//    ensureSnapshot, or nothing when this point's backup already exists), runs the post hooks
//    (always, also after a failed pre hook or snapshot), and only then backs up, exports and
//    imports (replicateVolumes, which adopts the snapshots by their marks). The points are
//    application-consistent per volume when the hooks freeze the writers, crash-consistent
//    otherwise (consistency `crash`: no Cinder group snapshot).
//  - The point's createdAt is taken just before the snapshots (and kept on a resume): no
//    snapshot is older than it, so the RPO measured from it is never flattering.
//  - Parents of incremental backups: per volume, the ref of the newest finished point (complete
//    or partial) from the same source site that has data for it. Cinder chains onto the
//    volume's latest backup, and a partial point's backup is that one when it is newer than the
//    last complete point; the mover still checks Cinder's choice and falls back to full.
//  - Cycle number (for full_every): a counter in the replicate runs' params, one more than the
//    latest run's. Failed cycles count too, which only moves the next full backup earlier.
//  - Outcome: every volume (and image) moved → complete; some → partial (a point marked
//    partial, run failed); member volumes but none moved → failed, and the point is deleted:
//    a point without data must never be offered for recovery. A failed image copy makes the
//    point partial too (that server cannot be recovered without an image mapping).
//  - What a failed volume left (snapshot, backup at either site, all marked with this point)
//    is removed best-effort, so retention (which only knows a point's refs) leaves no orphans.
//  - Abort (opts.signal) is treated like a crash: the run stays `running` and the next cycle
//    resumes it. Any other failure finishes the run `failed`.
//  - Fencing: the run is created at the plan's epoch (the caller's, when it passes one: a
//    fenced daemon gets EpochConflictError), the target bank's epoch must not be newer, and the
//    plan is read again before recording: a failover during the cycle leaves no point.
//  - One cycle per plan at a time is the caller's job (the daemon's leader, a CLI run): a run
//    found `running` is taken to be a dead process's and is resumed.
//  - Bytes: `volumes` is the provisioned size (GiB) of the volumes whose data this point holds:
//    Cinder reports no byte count of a backup (size is the volume's, object_count has no
//    object size), so this is an upper bound of what moved. `images` is what the image copier
//    actually moved.
import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import { CatalogNotFoundError, EpochConflictError, type CatalogRepo, type JournalPhase, type JsonValue, type Plan, type RecoveryPoint, type Run } from '../catalog/repo.js';
import { formatDuration, parseDuration, type PlanHook } from '../config/protection-plan.js';
import { FerryError } from '../errors.js';
import { discover, selectorsFromPlan } from '../inventory/discover.js';
import type { Inventory, PlanMemberSelector } from '../inventory/model.js';
import { silentLogger, type Logger } from '../log.js';
import { getVolume } from '../openstack/blockstorage/volumes.js';
import { findProject } from '../openstack/identity/projects.js';
import type { Site } from '../openstack/site.js';
import { BankConflictError, DEFAULT_BANK_CONTAINER, deleteRecoveryPoint, ensureBank, getRecoveryPoint, planDocument, putEpoch, putPlanDocument, putRecoveryPoint } from '../replication/bank.js';
import {
  cinderTimeToIso,
  deleteBackupChain,
  ensureSnapshot,
  findPointBackups,
  removePointSnapshots,
  replicateVolumes,
  type MoverOptions,
  type MoverProgress,
  type MoverTimeouts,
  type ReplicateOptions,
  type ReplicateResult,
} from '../replication/cinder-backup.js';

export { cinderTimeToIso };
import { runHooks, type HookPhase, type HookResult } from '../replication/hooks.js';
import { replicateImages, type ImageCopyProgress, type ReplicateImagesOptions, type ReplicateImagesResult } from '../replication/images.js';
import { buildRecoveryPoint, type PointWarning, type RecoveryPointManifest } from '../replication/recovery-point.js';
import { applyRetention, pointRefs, type RetentionIo, type RetentionPolicy } from '../replication/retention.js';
import type { VolumeDataRef } from '../replication/types.js';
import { FENCED_TAG } from './fence.js';

export const CYCLE_PHASES = ['discover', 'bank', 'pre-hooks', 'snapshots', 'post-hooks', 'volumes', 'images', 'record', 'retention'] as const;
export type CyclePhase = (typeof CYCLE_PHASES)[number];

export type CycleEvent =
  | { kind: 'phase'; phase: CyclePhase; state: 'start' | 'done' | 'failed' | 'skipped'; detail?: string }
  | { kind: 'volume'; progress: MoverProgress }
  | { kind: 'image'; progress: ImageCopyProgress };

/** What a cycle reads of an image copy. */
export type CopyImagesResult = Pick<ReplicateImagesResult, 'refs' | 'failures' | 'bytesCopied'>;

/** The image copier (lib/replication/images.ts replicateImages fits). */
export type CopyImages = (primary: Site, secondary: Site, imageIds: readonly string[], o: ReplicateImagesOptions) => Promise<CopyImagesResult>;

/** Discovery of the plan's members at the source (tests inject a fixed inventory). */
export type DiscoverMembers = (site: Site, plan: Plan, members: readonly PlanMemberSelector[], o: { signal?: AbortSignal; logger?: Logger }) => Promise<Inventory>;

export interface SnapshotPhaseResult {
  /** Volumes with a snapshot of this point (or already its backup). */
  ready: string[];
  failed: { volumeId: string; error: Error }[];
}

/** What a cycle needs of a data mover; cinderBackupMover is the default. */
export interface VolumeMover {
  /** Inside the hook window: a snapshot of every volume for the point (adopting existing ones). */
  snapshot(primary: Site, volumeIds: readonly string[], o: MoverOptions & { concurrency?: number }): Promise<SnapshotPhaseResult>;
  /** After the hooks: the data of the ready volumes moved to the secondary. */
  move(primary: Site, secondary: Site, volumeIds: readonly string[], o: ReplicateOptions): Promise<ReplicateResult>;
  /** Best effort: removes what this point left of the volumes at both sites. */
  discard(primary: Site, secondary: Site, volumeIds: readonly string[], o: MoverOptions): Promise<void>;
}

export interface CycleWaits {
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  timeouts?: Partial<MoverTimeouts>;
}

export interface CycleOptions {
  repo: CatalogRepo;
  /** Site objects by cloud name; must hold the plan's primary and secondary. */
  sites: (cloud: string) => Site;
  /** Who runs the cycle (recorded on the run), e.g. `cli@host` or a daemon ID. */
  owner: string;
  logger?: Logger;
  signal?: AbortSignal;
  onEvent?: (e: CycleEvent) => void;
  /** Bank container at the secondary (default ferry-bank). */
  container?: string;
  /** Volumes and images worked on at once per site (default 2). */
  concurrency?: number;
  /** Snapshots taken at once inside the hook window (default 8: the window stays short). */
  snapshotConcurrency?: number;
  now?: () => Date;
  /** The epoch the caller holds (a daemon's view); default the plan's. Another one is refused. */
  epoch?: number;
  /** Waits of the mover and of retention's deletions (tests shorten them). */
  waits?: CycleWaits;
  /** Image copier (default replicateImages). */
  copyImages?: CopyImages;
  /** Volume mover (default cinderBackupMover). */
  volumeMover?: VolumeMover;
  /** Member discovery (default discoverMembers). */
  discover?: DiscoverMembers;
  /** Retention's site operations (default cinder-backup's). */
  retentionIo?: RetentionIo;
}

export interface CycleResult {
  runId: string;
  pointId?: string;
  status: 'complete' | 'partial' | 'failed';
  /** The point's createdAt (the moment it captures), or the cycle's start when there is no point. */
  createdAt: string;
  durationMs: number;
  bytes: { volumes: number; images: number };
  retention: { deletedPoints: string[] };
  warnings: string[];
  error?: string;
  /** 1-based cycle number of the plan (full_every counts these). */
  cycle: number;
  /** This call resumed a run a dead process left running. */
  resumed: boolean;
  volumes: { total: number; full: number; incremental: number; failed: string[] };
  images: { total: number; copied: number; failed: string[] };
  hooks: { label: string; ok: boolean; durationMs: number; error?: string }[];
}

const GiB = 1024 ** 3;

// ---- the plan spec, read defensively ----------------------------------------------

/** What a cycle reads of the stored ProtectionPlan (durations as {text, ms} or as text). */
export interface CycleSpec {
  members: PlanMemberSelector[];
  fullEvery: number;
  retention: RetentionPolicy;
  preHooks: PlanHook[];
  postHooks: PlanHook[];
  /** `replicate`, or the images mapped to existing ones at the secondary (by name or ID). */
  imageMap: { from: string; to: string }[];
}

function durationMs(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return parseDuration(v);
  if (v && typeof v === 'object' && typeof (v as { ms?: unknown }).ms === 'number') return (v as { ms: number }).ms;
  return undefined;
}

function hookOf(h: Record<string, unknown>): PlanHook {
  const ms = durationMs(h.timeout) ?? 60_000;
  const given = h.timeout as { text?: unknown } | string | undefined;
  const text = typeof given === 'string' ? given : typeof given?.text === 'string' ? given.text : formatDuration(ms);
  const timeout = { text, ms };
  const http = h.http as { url: string; method?: string; headers?: Record<string, string> } | undefined;
  return {
    ...(Array.isArray(h.command) ? { command: h.command as string[] } : {}),
    ...(http ? { http: { url: http.url, method: (http.method ?? 'POST') as 'POST', headers: http.headers ?? {} } } : {}),
    timeout,
  } as PlanHook;
}

/** The cycle's view of a plan's stored spec; a spec without members is an error with its fix. */
export function cycleSpec(plan: Pick<Plan, 'name' | 'spec'>): CycleSpec {
  const s = plan.spec as Record<string, unknown>;
  const members = s.members;
  if (!Array.isArray(members) || members.length === 0) {
    throw new FerryError(`plan '${plan.name}': the catalog's spec has no members (fix: ferry plan apply FILE)`);
  }
  const retention = (s.retention ?? {}) as { count?: unknown; age?: unknown };
  const policy: RetentionPolicy = {};
  if (typeof retention.count === 'number') policy.count = retention.count;
  const age = durationMs(retention.age);
  if (age !== undefined) policy.ageMs = age;
  const hooks = (s.hooks ?? {}) as { pre_snapshot?: unknown; post_snapshot?: unknown };
  const list = (v: unknown) => (Array.isArray(v) ? (v as Record<string, unknown>[]).map(hookOf) : []);
  const images = (s.mappings as { images?: unknown } | undefined)?.images;
  const map = images && typeof images === 'object' && Array.isArray((images as { map?: unknown }).map) ? ((images as { map: { from: string; to: string }[] }).map ?? []) : [];
  return {
    members: members as PlanMemberSelector[],
    fullEvery: typeof s.full_every === 'number' ? s.full_every : 7,
    retention: policy,
    preHooks: list(hooks.pre_snapshot),
    postHooks: list(hooks.post_snapshot),
    imageMap: map,
  };
}

// ---- pure helpers ---------------------------------------------------------------

/** The member volumes, each once, in member order. */
export function memberVolumeIds(inv: Pick<Inventory, 'members'>): string[] {
  return [...new Set(inv.members.flatMap((m) => m.volumes.map((v) => v.id)))];
}

/** The boot images of image-booted members that are not mapped to an existing image (by ID or name). */
export function imagesToCopy(inv: Pick<Inventory, 'members' | 'images'>, imageMap: readonly { from: string }[]): string[] {
  const mapped = new Set(imageMap.map((m) => m.from));
  const out: string[] = [];
  for (const m of inv.members) {
    const img = m.server.image;
    if (!img || out.includes(img.id)) continue;
    const name = img.name ?? inv.images[img.id]?.name;
    if (mapped.has(img.id) || (name !== undefined && mapped.has(name))) continue;
    out.push(img.id);
  }
  return out;
}

/**
 * Parents for the mover: per source volume, the ref of the newest finished point (complete or
 * partial) taken from `sourceSite` that holds data for it.
 */
export function parentRefs(points: readonly RecoveryPoint[], sourceSite: string, excludePointId?: string): Map<string, VolumeDataRef> {
  const out = new Map<string, VolumeDataRef>();
  const finished = points
    .filter((p) => (p.status === 'complete' || p.status === 'partial') && p.sourceSite === sourceSite && p.id !== excludePointId)
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  for (const p of finished) for (const r of pointRefs(p)) if (!out.has(r.sourceVolumeId)) out.set(r.sourceVolumeId, r);
  return out;
}

/** The next cycle number: one more than the highest among the plan's recent replicate runs. */
export function nextCycleNumber(runs: readonly Pick<Run, 'params'>[]): number {
  let max = 0;
  for (const r of runs) {
    const c = (r.params as { cycle?: unknown } | null)?.cycle;
    if (typeof c === 'number' && Number.isSafeInteger(c) && c > max) max = c;
  }
  return max + 1;
}


/** A mover ref with its dataTimestamp as the manifest wants it. */
export function withIsoTimestamp(ref: VolumeDataRef): VolumeDataRef {
  return { ...ref, dataTimestamp: cinderTimeToIso(ref.dataTimestamp) };
}

/** Complete, partial or failed from what moved (see the decisions at the top). */
export function cycleOutcome(volumes: { total: number; moved: number }, imagesFailed: number): 'complete' | 'partial' | 'failed' {
  if (volumes.total > 0 && volumes.moved === 0) return 'failed';
  if (volumes.moved < volumes.total || imagesFailed > 0) return 'partial';
  return 'complete';
}

// ---- the default mover and discovery ------------------------------------------------

const errorOf = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/** The cinder-backup mover in two phases: snapshots (inside the hook window), then the rest. */
export const cinderBackupMover: VolumeMover = {
  async snapshot(primary, volumeIds, o) {
    const limit = pLimit(o.concurrency ?? 8);
    const result: SnapshotPhaseResult = { ready: [], failed: [] };
    await Promise.all(
      volumeIds.map((id) =>
        limit(async () => {
          const started = Date.now();
          try {
            // A resumed point whose backup exists already has its data: no new snapshot.
            const backups = await findPointBackups(primary, id, o);
            if (backups.some((b) => ['creating', 'available', 'restoring'].includes(b.status))) {
              o.onProgress?.({ volumeId: id, step: 'snapshot', event: 'adopted', detail: 'the point has its backup already', elapsedMs: Date.now() - started });
            } else {
              const volume = await getVolume(primary.blockStorage, id, o.signal);
              await ensureSnapshot(primary, volume, o);
            }
            result.ready.push(id);
          } catch (err) {
            const error = errorOf(err);
            o.onProgress?.({ volumeId: id, step: 'snapshot', event: 'failed', detail: error.message, elapsedMs: Date.now() - started });
            result.failed.push({ volumeId: id, error });
          }
        }),
      ),
    );
    return result;
  },
  move(primary, secondary, volumeIds, o) {
    return replicateVolumes(primary, secondary, volumeIds, o);
  },
  async discard(primary, secondary, volumeIds, o) {
    for (const id of volumeIds) {
      await removePointSnapshots(primary, id, o);
      const ids = (await findPointBackups(primary, id, o)).map((b) => b.id);
      if (ids.length === 0) continue;
      // An import keeps the backup's ID: the same IDs at the secondary.
      await deleteBackupChain(secondary, ids, { side: 'secondary', signal: o.signal, timeouts: o.timeouts, pollIntervalMs: o.pollIntervalMs, maxPollIntervalMs: o.maxPollIntervalMs });
      await deleteBackupChain(primary, ids, { side: 'primary', signal: o.signal, timeouts: o.timeouts, pollIntervalMs: o.pollIntervalMs, maxPollIntervalMs: o.maxPollIntervalMs });
    }
  },
};

/**
 * Discovers the plan's members at `site`. The plan's project is the token's own when it names
 * it (by ID or name), else it is looked up (admin). At the plan's secondary (after a failover)
 * the token's project is used: the plan names its project at the primary, and the secondary's
 * cloud entry is scoped to the project recovered into.
 */
export const discoverMembers: DiscoverMembers = async (site, plan, members, o) => {
  const token = await site.connect(o.signal);
  const own = token.info.project;
  let projectId: string | undefined;
  if (site.name === plan.primarySite && !(own && (own.id === plan.project || own.name === plan.project))) {
    const found = await findProject(site.identity, plan.project, undefined, o.signal);
    if (!found) throw new FerryError(`plan '${plan.name}': project '${plan.project}' not found at site ${site.name} (fix: the plan's project, or scope the cloud entry of ${site.name} to it)`);
    projectId = found.id;
  }
  // The old copies a failover fenced (stopped, locked, tagged) share the members' names and tags: never protected again.
  return discover(site, selectorsFromPlan(members), { ...(projectId ? { projectId } : {}), excludeTags: [FENCED_TAG], signal: o.signal, logger: o.logger });
};

// ---- the cycle ---------------------------------------------------------------------------

class CycleFailure extends FerryError {
  override readonly name: string = 'CycleFailure';
}

/** Plan not found, with the fix. */
function planNotFound(name: string): CatalogNotFoundError {
  return new CatalogNotFoundError('plan', name, 'is not in the catalog (fix: ferry plan apply FILE)');
}

interface Started {
  run: Run;
  pointId: string;
  cycle: number;
  resumed: boolean;
}

/** Resumes the plan's running replicate run (a dead process's), or starts a new one. */
async function startOrResume(repo: CatalogRepo, plan: Plan, target: string, o: CycleOptions, log: Logger): Promise<Started> {
  const running = await repo.runs.list({ planName: plan.name, kind: 'replicate', status: 'running' });
  let chosen: Started | undefined;
  for (const r of running) {
    const params = (r.params ?? {}) as { pointId?: unknown; cycle?: unknown; source?: unknown };
    const pointId = typeof params.pointId === 'string' ? params.pointId : undefined;
    const point = pointId ? await repo.points.get(pointId) : undefined;
    const why =
      r.epoch !== plan.epoch
        ? `its epoch ${r.epoch} is not the plan's ${plan.epoch} (a failover since)`
        : !pointId
          ? 'it names no recovery point'
          : params.source !== plan.activeSite
            ? `it replicated from ${String(params.source)}, the plan is active at ${plan.activeSite}`
            : point?.status === 'deleting'
              ? `its point ${pointId} is being deleted`
              : chosen
                ? `run ${chosen.run.id} is resumed instead`
                : undefined;
    if (why) {
      await repo.runs.update(r.id, { status: 'failed', result: { status: 'failed', error: `superseded: ${why}` } });
      if (point?.status === 'in-progress') await repo.points.delete(point.id);
      log.warn(`replicate run ${r.id} abandoned: ${why}`);
      continue;
    }
    chosen = { run: r, pointId: pointId!, cycle: typeof params.cycle === 'number' ? params.cycle : 1, resumed: true };
  }
  if (chosen) {
    const previousOwner = chosen.run.owner;
    if (previousOwner !== o.owner) chosen.run = await repo.runs.update(chosen.run.id, { owner: o.owner });
    await repo.journal.append(chosen.run.id, { step: 'cycle', phase: 'observe', data: { resumed: true, previousOwner, owner: o.owner, pointId: chosen.pointId } });
    log.info(`resuming replicate run ${chosen.run.id} (point ${chosen.pointId}) left running by ${previousOwner}`);
    return chosen;
  }
  const cycle = nextCycleNumber(await repo.runs.list({ planName: plan.name, kind: 'replicate', limit: 20 }));
  const pointId = randomUUID();
  const run = await repo.runs.create({
    planName: plan.name,
    kind: 'replicate',
    owner: o.owner,
    epoch: o.epoch ?? plan.epoch,
    params: { pointId, cycle, source: plan.activeSite, target },
    ...(o.now ? { startedAt: o.now() } : {}),
  });
  await repo.journal.append(run.id, { step: 'cycle', phase: 'observe', data: { resumed: false, pointId, cycle } });
  return { run, pointId, cycle, resumed: false };
}

/** Runs one cycle of the named plan from its active site to the other. */
export async function runReplicationCycle(planName: string, opts: CycleOptions): Promise<CycleResult> {
  const { repo } = opts;
  const t0 = Date.now();
  const now = opts.now ?? (() => new Date());
  const log = (opts.logger ?? silentLogger).child({ plan: planName });
  const mover = opts.volumeMover ?? cinderBackupMover;
  const copyImages = opts.copyImages ?? replicateImages;
  const container = opts.container ?? DEFAULT_BANK_CONTAINER;
  const concurrency = opts.concurrency ?? 2;

  const plan = await repo.plans.get(planName);
  if (!plan) throw planNotFound(planName);
  if (opts.epoch !== undefined && opts.epoch !== plan.epoch) throw new EpochConflictError(planName, opts.epoch, plan.epoch);
  const spec = cycleSpec(plan);
  const sourceName = plan.activeSite;
  const targetName = plan.activeSite === plan.primarySite ? plan.secondarySite : plan.primarySite;
  const started = await startOrResume(repo, plan, targetName, opts, log);
  const { run, pointId, cycle } = started;
  const rlog = log.child({ run: run.id });

  const result: CycleResult = {
    runId: run.id,
    pointId,
    status: 'failed',
    createdAt: run.startedAt.toISOString(),
    durationMs: 0,
    bytes: { volumes: 0, images: 0 },
    retention: { deletedPoints: [] },
    warnings: [],
    cycle,
    resumed: started.resumed,
    volumes: { total: 0, full: 0, incremental: 0, failed: [] },
    images: { total: 0, copied: 0, failed: [] },
    hooks: [],
  };
  const emit = (e: CycleEvent) => opts.onEvent?.(e);
  const journal = (step: string, phase: JournalPhase, data?: JsonValue) => repo.journal.append(run.id, data === undefined ? { step, phase } : { step, phase, data });
  const warn = (msg: string) => {
    result.warnings.push(msg);
    rlog.warn(msg);
  };
  /** Runs a phase with its events and journal entries. */
  const phase = async <T>(name: CyclePhase, fn: () => Promise<T>, done?: (v: T) => JsonValue): Promise<T> => {
    emit({ kind: 'phase', phase: name, state: 'start' });
    await journal(name, 'act');
    try {
      const v = await fn();
      await journal(name, 'done', done?.(v));
      emit({ kind: 'phase', phase: name, state: 'done' });
      return v;
    } catch (err) {
      await journal(name, 'failed', { error: errorOf(err).message }).catch(() => undefined);
      emit({ kind: 'phase', phase: name, state: 'failed', detail: errorOf(err).message });
      throw err;
    }
  };
  const moverBase: MoverOptions = { plan: plan.name, pointId, run: run.id, signal: opts.signal, ...opts.waits, onProgress: (p) => emit({ kind: 'volume', progress: p }) };

  let point: RecoveryPoint | undefined = await repo.points.get(pointId);
  let volumeIds: string[] = [];
  const failedVolumes = new Set<string>();
  /** The point's manifest may be in the bank (this process wrote it, or a crashed one reached `record`). */
  let bankTouched = started.resumed && (await repo.journal.read(run.id)).some((e) => e.step === 'record');
  try {
    const source = opts.sites(sourceName);
    const target = opts.sites(targetName);
    if (point?.status === 'complete' || point?.status === 'partial') {
      // The process died after recording the point: only retention and the run's end are left.
      for (const p of ['discover', 'bank', 'pre-hooks', 'snapshots', 'post-hooks', 'volumes', 'images', 'record'] as const) emit({ kind: 'phase', phase: p, state: 'skipped', detail: `point ${pointId} is ${point.status}` });
      result.status = point.status;
      result.createdAt = point.createdAt.toISOString();
      fillFromManifest(result, point);
    } else {
      const inventory = await phase(
        'discover',
        async () => {
          const inv = await (opts.discover ?? discoverMembers)(source, plan, spec.members, { signal: opts.signal, logger: rlog });
          if (inv.members.length === 0) throw new CycleFailure(`plan '${plan.name}' selects no servers at ${sourceName} (fix: check members: in the plan file, then ferry plan apply FILE)`);
          return inv;
        },
        (inv) => ({ members: inv.members.length, volumes: memberVolumeIds(inv).length }),
      );
      volumeIds = memberVolumeIds(inventory);
      result.volumes.total = volumeIds.length;

      await phase('bank', async () => {
        await ensureBank(target.objectStore, { container, createdBy: opts.owner, now, signal: opts.signal });
        // Refuses (BankConflictError) when the target's bank holds a newer epoch: this cycle is fenced.
        await putEpoch(target.objectStore, plan.name, { epoch: plan.epoch, activeSite: plan.activeSite, updatedAt: now().toISOString() }, { container, signal: opts.signal });
        await putPlanDocument(target.objectStore, planDocument(plan, plan.updatedAt), { container, signal: opts.signal });
      });

      // ---- the hook window: pre hooks, snapshots, post hooks ----
      const entries = await repo.journal.read(run.id);
      const snapshotsDone = entries.filter((e) => e.step === 'snapshots' && e.phase === 'done').pop();
      const postDone = entries.some((e) => e.step === 'post-hooks' && e.phase === 'done');
      // Post hooks get no abort signal: what a pre hook froze is thawed even when the cycle is cancelled.
      const hookCtx = (phaseName: HookPhase) => ({ plan: plan.name, point: pointId, phase: phaseName, logger: rlog, ...(phaseName === 'pre_snapshot' ? { signal: opts.signal } : {}) });
      const recordHooks = (rs: HookResult[]) => result.hooks.push(...rs.map((r) => ({ label: r.label, ok: r.ok, durationMs: r.durationMs, ...(r.error ? { error: r.error } : {}) })));
      let ready: string[] = [];
      let windowError: Error | undefined;
      if (snapshotsDone) {
        for (const p of ['pre-hooks', 'snapshots'] as const) emit({ kind: 'phase', phase: p, state: 'skipped', detail: 'done before the resume' });
        // A volume whose snapshot failed then gets none now: outside the hook window it would not be consistent.
        const earlier = (snapshotsDone.data as { failed?: unknown } | null)?.failed;
        const failedBefore = new Set(Array.isArray(earlier) ? earlier.filter((v): v is string => typeof v === 'string') : []);
        ready = volumeIds.filter((v) => !failedBefore.has(v));
        for (const v of failedBefore) {
          if (!volumeIds.includes(v)) continue;
          failedVolumes.add(v);
          warn(`volume ${v}: its snapshot failed before the resume`);
        }
      } else {
        try {
          await phase(
            'pre-hooks',
            async () => {
              const pre = await runHooks(spec.preHooks, hookCtx('pre_snapshot'), { stopOnFailure: true });
              recordHooks(pre);
              const failed = pre.find((r) => !r.ok);
              if (failed) throw new CycleFailure(`${failed.label} failed: ${failed.error ?? 'unknown'}; no snapshot was taken`);
              return pre;
            },
            (rs) => rs.map((r) => ({ label: r.label, ok: r.ok })),
          );
          point ??= await repo.points.insert({ id: pointId, planName: plan.name, consistency: 'crash', sourceSite: sourceName, targetSite: targetName, createdAt: now() });
          const snaps = await phase(
            'snapshots',
            async () => {
              const snaps = await mover.snapshot(source, volumeIds, { ...moverBase, concurrency: opts.snapshotConcurrency ?? 8 });
              // Cancelled: not "done", so the resume takes the missing snapshots inside a new hook window.
              opts.signal?.throwIfAborted();
              return snaps;
            },
            (s) => ({ ready: s.ready.length, failed: s.failed.map((f) => f.volumeId) }),
          );
          ready = snaps.ready;
          for (const f of snaps.failed) {
            failedVolumes.add(f.volumeId);
            warn(`volume ${f.volumeId}: snapshot failed: ${f.error.message}`);
          }
        } catch (err) {
          windowError = errorOf(err);
        }
      }
      if (!(snapshotsDone && postDone)) {
        // Always after the snapshots, also when a pre hook or a snapshot failed (thaw what was frozen).
        const post = await phase(
          'post-hooks',
          () => runHooks(spec.postHooks, hookCtx('post_snapshot')),
          (rs) => rs.map((r) => ({ label: r.label, ok: r.ok })),
        );
        recordHooks(post);
        for (const r of post.filter((x) => !x.ok)) warn(`${r.label} failed: ${r.error ?? 'unknown'}`);
      } else {
        emit({ kind: 'phase', phase: 'post-hooks', state: 'skipped', detail: 'done before the resume' });
      }
      if (windowError) throw windowError;
      point ??= await repo.points.insert({ id: pointId, planName: plan.name, consistency: 'crash', sourceSite: sourceName, targetSite: targetName, createdAt: now() });
      result.createdAt = point.createdAt.toISOString();

      // ---- data: volumes and images at once ----
      const allPoints = await repo.points.list(plan.name);
      const parents = parentRefs(allPoints, sourceName, pointId);
      const imageIds = imagesToCopy(inventory, spec.imageMap);
      result.images.total = imageIds.length;
      const settled = await Promise.allSettled([
        phase(
          'volumes',
          async () => (ready.length === 0 ? ({ status: 'complete', results: [], refs: [] } as ReplicateResult) : mover.move(source, target, ready, { ...moverBase, parents, cycle, fullEvery: spec.fullEvery, concurrency })),
          (r) => ({ moved: r.refs.length, failed: r.results.filter((x) => !x.ok).map((x) => x.volumeId) }),
        ),
        imageIds.length === 0
          ? (emit({ kind: 'phase', phase: 'images', state: 'skipped', detail: 'no image to copy' }), Promise.resolve<CopyImagesResult>({ refs: [], failures: [], bytesCopied: 0 }))
          : phase(
              'images',
              async () => {
                try {
                  return await copyImages(source, target, imageIds, { plan: plan.name, pointId, concurrency, signal: opts.signal, onProgress: (p) => emit({ kind: 'image', progress: p }) });
                } catch (err) {
                  if (opts.signal?.aborted) throw err;
                  // The copier failing as a whole fails every image, not the volumes.
                  return { refs: [], failures: imageIds.map((imageId) => ({ imageId, error: errorOf(err) })), bytesCopied: 0 };
                }
              },
              (r) => ({ copied: r.refs.length, failed: r.failures.map((f) => f.imageId), bytesCopied: r.bytesCopied }),
            ),
      ] as const);
      // Both settle before either failure counts: no copy keeps running behind the cycle's back.
      for (const s of settled) if (s.status === 'rejected') throw s.reason;
      const moved = (settled[0] as PromiseFulfilledResult<ReplicateResult>).value;
      const images = (settled[1] as PromiseFulfilledResult<CopyImagesResult>).value;
      for (const r of moved.results) {
        if (r.ok) continue;
        failedVolumes.add(r.volumeId);
        warn(`volume ${r.volumeId}: ${r.step} failed: ${r.error.message}`);
      }
      for (const f of images.failures) warn(`image ${f.imageId}: copy failed: ${f.error.message}`);
      // Aborted mid-move: the volumes "failed" because of it; keep everything for the resume.
      opts.signal?.throwIfAborted();
      const refs = moved.refs.filter((r) => volumeIds.includes(r.sourceVolumeId)).map(withIsoTimestamp);
      result.volumes.full = refs.filter((r) => !r.incremental).length;
      result.volumes.incremental = refs.filter((r) => r.incremental).length;
      result.volumes.failed = [...failedVolumes].sort();
      result.images.copied = images.refs.length;
      result.images.failed = images.failures.map((f) => f.imageId).sort();
      result.bytes = { volumes: refs.reduce((n, r) => n + r.sizeGb * GiB, 0), images: images.bytesCopied };

      if (failedVolumes.size > 0) await discard(mover, source, target, [...failedVolumes], moverBase, warn);
      const outcome = cycleOutcome({ total: volumeIds.length, moved: refs.length }, images.failures.length);
      if (outcome === 'failed') throw new CycleFailure(`no volume data was moved (${failedVolumes.size} of ${volumeIds.length} volumes failed); no recovery point was recorded`);

      // ---- the recovery point: bank first (COMPLETE last), then the catalog ----
      const manifest = await phase(
        'record',
        async () => {
          const current = await repo.plans.get(plan.name);
          if (!current) throw planNotFound(plan.name);
          if (current.epoch !== plan.epoch || current.activeSite !== plan.activeSite) {
            throw new EpochConflictError(plan.name, plan.epoch, current.epoch);
          }
          const notes: PointWarning[] = result.hooks.filter((h) => !h.ok).map((h) => ({ code: 'point-note', message: `${h.label} failed: ${h.error ?? 'unknown'}` }));
          let m: RecoveryPointManifest = buildRecoveryPoint({
            plan: { name: plan.name, specHash: plan.specHash, epoch: plan.epoch },
            inventory,
            volumes: refs,
            images: images.refs.filter((i) => imageIds.includes(i.sourceImageId)),
            targetSite: targetName,
            sourceSite: sourceName,
            createdAt: point!.createdAt,
            completedAt: now(),
            id: pointId,
            consistency: 'crash',
            partial: outcome === 'partial',
            warnings: notes,
          });
          bankTouched = true;
          try {
            await putRecoveryPoint(target.objectStore, m, { container, signal: opts.signal });
          } catch (err) {
            // Written by the run that died after the bank and before the catalog: adopt it.
            if (!(err instanceof BankConflictError)) throw err;
            m = await getRecoveryPoint(target.objectStore, { plan: plan.name, createdAt: point!.createdAt, id: pointId }, { container, signal: opts.signal });
          }
          await journal('record', 'verify', { bank: 'written', checksum: m.checksums.manifest });
          if (m.status === 'complete') await repo.points.complete(pointId, m, m.sizes.totalBytes);
          else await repo.points.markPartial(pointId, m, m.sizes.totalBytes);
          return m;
        },
        (m) => ({ status: m.status, checksum: m.checksums.manifest, totalBytes: m.sizes.totalBytes }),
      );
      result.status = manifest.status;
    }

    // ---- retention: only after a recorded point (a failing plan keeps what it has) ----
    try {
      const ret = await phase(
        'retention',
        () => applyRetention(repo, plan.name, spec.retention, { sites: opts.sites, container, now: now(), logger: rlog, signal: opts.signal, waits: opts.waits, ...(opts.retentionIo ? { io: opts.retentionIo } : {}) }),
        (r) => ({ deletedPoints: r.deletedPoints, deletedBackups: r.deletedBackups.length, keptBackups: r.keptBackups.length }),
      );
      result.retention.deletedPoints = ret.deletedPoints;
      for (const w of ret.warnings) warn(w);
    } catch (err) {
      // The point is recorded; retention is tried again by the next cycle.
      if (opts.signal?.aborted) throw err;
      warn(`retention failed: ${errorOf(err).message}`);
    }
  } catch (err) {
    const error = errorOf(err);
    result.status = 'failed';
    result.error = error.message;
    if (opts.signal?.aborted) {
      // Like a crash: the run stays running and the next cycle resumes it.
      result.error = `cancelled: ${error.message} (the next cycle resumes run ${run.id})`;
      result.durationMs = Date.now() - t0;
      await journal('cycle', 'failed', { aborted: true, error: error.message }).catch(() => undefined);
      rlog.warn(result.error);
      return result;
    }
    rlog.error(`replication cycle failed: ${error.message}`);
    const current = await repo.points.get(pointId);
    if (current?.status === 'in-progress') {
      // Nothing of this point may stay behind: its bank entry first (a catalog rebuilt from the
      // bank must never list a point whose data is gone), then its data, then its row. When the
      // bank entry cannot be removed, the data and the row stay too, consistent with it.
      let bankCleared = true;
      if (bankTouched) {
        try {
          await deleteRecoveryPoint(opts.sites(targetName).objectStore, { plan: plan.name, createdAt: current.createdAt, id: pointId }, { container });
        } catch (bankError) {
          bankCleared = false;
          warn(`could not remove point ${pointId} from the bank at ${targetName}: ${errorOf(bankError).message}; its data and catalog row are kept with it`);
        }
      }
      if (bankCleared) {
        try {
          // Every member volume: discard is idempotent, and a volume that failed before its own
          // cleanup may have left a snapshot.
          if (volumeIds.length > 0) await discard(mover, opts.sites(sourceName), opts.sites(targetName), volumeIds, moverBase, warn);
        } catch (cleanupError) {
          warn(`could not remove what point ${pointId} left: ${errorOf(cleanupError).message}`);
        }
        await repo.points.delete(pointId);
      }
    }
    if (!current || current.status === 'in-progress') delete result.pointId;
  }
  result.durationMs = Date.now() - t0;
  await journal('cycle', result.status === 'failed' ? 'failed' : 'done', { status: result.status });
  await repo.runs.update(run.id, { status: result.status === 'complete' ? 'succeeded' : 'failed', result: result as unknown as JsonValue });
  emitSummary(rlog, result);
  return result;
}

async function discard(mover: VolumeMover, source: Site, target: Site, volumeIds: string[], o: MoverOptions, warn: (m: string) => void): Promise<void> {
  if (volumeIds.length === 0) return;
  // Bounded: a backup stuck in `creating` is left (still marked with the point) rather than waited on for an hour.
  const short: MoverOptions = { ...o, timeouts: { dependentsMs: 60_000, deleteMs: 300_000, snapshotMs: 300_000, ...o.timeouts }, onProgress: undefined };
  try {
    await mover.discard(source, target, volumeIds, short);
  } catch (err) {
    warn(`could not remove what the point left of volume(s) ${volumeIds.join(', ')}: ${errorOf(err).message} (they carry the point's marks)`);
  }
}

function fillFromManifest(result: CycleResult, point: RecoveryPoint): void {
  const m = point.manifest as Partial<RecoveryPointManifest> | null;
  const refs = pointRefs(point);
  result.volumes.total = refs.length;
  result.volumes.full = refs.filter((r) => !r.incremental).length;
  result.volumes.incremental = refs.filter((r) => r.incremental).length;
  result.images.copied = m?.data?.images?.length ?? 0;
  result.images.total = result.images.copied;
  result.bytes.volumes = m?.sizes?.volumeBytes ?? 0;
}

function emitSummary(log: Logger, r: CycleResult): void {
  const line = `replication cycle ${r.cycle} ${r.status}: point ${r.pointId ?? '(none)'}, ${r.volumes.full} full and ${r.volumes.incremental} incremental backup(s), ${r.volumes.failed.length} volume(s) failed, ${r.images.copied} image(s), ${r.durationMs} ms`;
  if (r.status === 'complete') log.info(line);
  else log.warn(line);
}
