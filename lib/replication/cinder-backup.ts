// The `cinder-backup` mover (design.md, data path 1): per protected volume and cycle, a
// snapshot at the primary (crash-consistent even while attached), a full or incremental Cinder
// backup from it, the snapshot removed, the backup's record exported at the primary and
// imported at the secondary, where a restore (Heat OS::Cinder::Volume backup_id) reads the same
// backup store. Every step is observe → act → verify and everything created carries Ferry's
// marks (name `ferry-<plan>-<point>-<volumeId8>` and metadata ferry:plan/point/source), so a
// cycle that crashed anywhere is simply run again: it adopts what the lost run created instead
// of creating it twice.
//
// Cinder facts this relies on (cinder/backup/api.py, Zed):
// - An incremental backup's parent is chosen by Cinder, not by the caller: the volume's backup
//   with the latest data_timestamp earlier than the snapshot's created_at, and it must be
//   `available`. The mover predicts that choice and takes a full backup whenever it would not
//   be the previous point's backup (or that backup is missing at either site), so a chain at
//   the secondary never points at a backup the secondary does not have.
// - The backup views do not show parent_id; the mover records it as metadata `ferry:parent`.
// - An imported backup keeps the source backup's ID, name and metadata; importing an ID that
//   exists (in any project) is refused with 400 "Backup already exists in database.".
// - A backup with dependents cannot be deleted (400 "Incremental backups exist for this backup.").
import pLimit, { type LimitFunction } from 'p-limit';
import { BadRequestError, isNotFound, ResourceFailureError } from '../errors.js';
import {
  createBackup,
  deleteBackup,
  exportBackupRecord,
  getBackup,
  importBackupRecord,
  listBackups,
  waitForBackup,
  waitForBackupDeleted,
  type Backup,
  type BackupRecord,
} from '../openstack/blockstorage/backups.js';
import { createSnapshot, deleteSnapshot, getSnapshot, listSnapshots, waitForSnapshot, waitForSnapshotDeleted, type Snapshot } from '../openstack/blockstorage/snapshots.js';
import { getVolume, type Volume } from '../openstack/blockstorage/volumes.js';
import { collect } from '../openstack/paginate.js';
import type { ServiceClient } from '../openstack/service-client.js';
import { DELETED, sleep, waitFor, type WaitOptions } from '../openstack/wait.js';
import { FERRY_MARKS, type VolumeDataRef } from './types.js';

// ---- types ----------------------------------------------------------------

/** What the mover needs of a site: its Cinder (a lib/openstack Site fits). */
export interface MoverSite {
  readonly blockStorage: ServiceClient;
}

/** Metadata key of an incremental backup: the backup the mover expected Cinder to chain onto. */
export const PARENT_MARK = 'ferry:parent';

export interface MoverTimeouts {
  /** Snapshot to become available (or be deleted). */
  snapshotMs: number;
  /** Backup to become available at the primary. */
  backupMs: number;
  /** Imported backup to become available at the secondary. */
  importMs: number;
  /** Backup deletion (retention, error cleanup). */
  deleteMs: number;
  /** Retention: a backup's has_dependent_backups to clear. */
  dependentsMs: number;
}

export const DEFAULT_TIMEOUTS: MoverTimeouts = {
  snapshotMs: 600_000,
  backupMs: 3_600_000,
  importMs: 1_800_000,
  deleteMs: 1_800_000,
  dependentsMs: 600_000,
};

export type MoverStep = 'volume' | 'snapshot' | 'backup' | 'snapshot-delete' | 'export' | 'import';

export interface MoverProgress {
  volumeId: string;
  step: MoverStep;
  /** `adopted`: found what an earlier (crashed) run created; `created`: made it now. */
  event: 'start' | 'adopted' | 'created' | 'waiting' | 'done' | 'failed';
  /** Snapshot or backup ID the event is about. */
  id?: string;
  detail?: string;
  elapsedMs: number;
}

export interface MoverOptions {
  plan: string;
  pointId: string;
  /** Optional run ID, marked as ferry:run. */
  run?: string;
  timeouts?: Partial<MoverTimeouts>;
  /** First poll interval of every waiter (default 1 s, growing to maxPollIntervalMs). */
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  signal?: AbortSignal;
  onProgress?: (p: MoverProgress) => void;
}

export interface VolumeMoveOptions extends MoverOptions {
  /** The previous complete point's data of this volume: the parent of an incremental backup. */
  parent?: VolumeDataRef | undefined;
  /** Take a full backup on cycles 1, N+1, 2N+1...: a chain is never longer than N (0: never forced). */
  fullEvery?: number;
  /** 1-based cycle number of the plan. */
  cycle?: number;
}

export interface ReplicateOptions extends MoverOptions {
  /** Previous complete point's refs by source volume ID. */
  parents?: ReadonlyMap<string, VolumeDataRef> | Readonly<Record<string, VolumeDataRef | undefined>>;
  fullEvery?: number;
  cycle?: number;
  /** Volumes worked on at once per site (default 2): backups at the primary, imports at the secondary. */
  concurrency?: number;
}

export type VolumeResult =
  | { volumeId: string; ok: true; ref: VolumeDataRef; adopted: MoverStep[]; durationMs: number }
  | { volumeId: string; ok: false; step: MoverStep; error: Error; durationMs: number };

export interface ReplicateResult {
  /** complete: every volume moved; partial: some did; failed: none did. */
  status: 'complete' | 'partial' | 'failed';
  results: VolumeResult[];
  refs: VolumeDataRef[];
}

export interface Orphans {
  snapshots: Snapshot[];
  backups: Backup[];
}

export interface DeleteChainOptions {
  /** Which ID of a ref to delete (Cinder keeps one ID at both sites; default primary). */
  side?: 'primary' | 'secondary';
  /** Deletions at once within one level of the chain (default 2). */
  concurrency?: number;
  timeouts?: Partial<MoverTimeouts>;
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  signal?: AbortSignal;
  onDeleted?: (backupId: string) => void;
}

export interface DeleteChainResult {
  /** In the order the deletions finished (children before parents). */
  deleted: string[];
  /** Already gone. */
  missing: string[];
}

/**
 * Cinder shows times without a zone ("2026-11-27T03:00:01.000000", UTC); a manifest wants ISO
 * 8601 UTC ("...Z"). Naive times get the Z, "+00:00" becomes Z, others go through Date.
 */
export function cinderTimeToIso(s: string): string {
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?$/.test(s)) return `${s}Z`;
  const utc = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?)(?:\+00:00|Z)$/.exec(s);
  if (utc) return `${utc[1]}Z`;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toISOString();
}

// ---- marks ------------------------------------------------------------------

/** The name of a point's snapshot and backup of one volume. */
export function markedName(plan: string, pointId: string, volumeId: string): string {
  return `ferry-${plan}-${pointId}-${volumeId.slice(0, 8)}`;
}

/** The metadata marks of a point's snapshot and backup of one volume. */
export function markMetadata(plan: string, pointId: string, volumeId: string, run?: string): Record<string, string> {
  const m: Record<string, string> = { [FERRY_MARKS.plan]: plan, [FERRY_MARKS.point]: pointId, [FERRY_MARKS.source]: volumeId };
  if (run) m[FERRY_MARKS.run] = run;
  return m;
}

function hasMarks(metadata: Record<string, string> | undefined, plan: string, pointId: string, volumeId: string): boolean {
  return metadata?.[FERRY_MARKS.plan] === plan && metadata[FERRY_MARKS.point] === pointId && metadata[FERRY_MARKS.source] === volumeId;
}

/** True when a full backup is due on this cycle (cycles 1, N+1, 2N+1...). */
export function fullDue(cycle: number | undefined, fullEvery: number | undefined): boolean {
  if (!fullEvery || fullEvery <= 0 || cycle === undefined) return false;
  return (cycle - 1) % fullEvery === 0;
}

/** Cinder timestamps ("2026-11-27T03:00:00.123456", sometimes with Z or +00:00) as sortable keys. */
function tsKey(s: string | null | undefined): string {
  if (!s) return '';
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?/.exec(s);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(6, '0').slice(0, 6)}` : s;
}

/**
 * The backup Cinder will choose as the parent of an incremental backup from `snapshot`
 * (cinder/backup/api.py create): the latest data_timestamp earlier than the snapshot's
 * created_at; when none is earlier, Python's max() keeps the first listed.
 */
export function predictCinderParent(backups: readonly Backup[], snapshot: Pick<Snapshot, 'created_at'>): Backup | undefined {
  if (backups.length === 0) return undefined;
  const limit = tsKey(snapshot.created_at);
  const key = (b: Backup) => (tsKey(b.data_timestamp) < limit ? tsKey(b.data_timestamp) : '');
  let best = backups[0]!;
  for (const b of backups.slice(1)) if (key(b) > key(best)) best = b;
  return best;
}

// ---- steps ------------------------------------------------------------------

function timeoutsOf(o: { timeouts?: Partial<MoverTimeouts> | undefined }): MoverTimeouts {
  return { ...DEFAULT_TIMEOUTS, ...o.timeouts };
}

function waitOpts(o: Pick<MoverOptions, 'pollIntervalMs' | 'maxPollIntervalMs' | 'signal'>, timeoutMs: number): WaitOptions {
  const w: WaitOptions = { timeoutMs, signal: o.signal };
  if (o.pollIntervalMs !== undefined) w.intervalMs = o.pollIntervalMs;
  if (o.maxPollIntervalMs !== undefined) w.maxIntervalMs = o.maxPollIntervalMs;
  return w;
}

class Reporter {
  private readonly started = Date.now();
  step: MoverStep = 'volume';
  readonly adopted: MoverStep[] = [];
  constructor(
    readonly volumeId: string,
    private readonly cb?: (p: MoverProgress) => void,
  ) {}

  emit(step: MoverStep, event: MoverProgress['event'], id?: string, detail?: string): void {
    if (event === 'start') this.step = step;
    if (event === 'adopted' && !this.adopted.includes(step)) this.adopted.push(step);
    if (!this.cb) return;
    const p: MoverProgress = { volumeId: this.volumeId, step, event, elapsedMs: Date.now() - this.started };
    if (id !== undefined) p.id = id;
    if (detail !== undefined) p.detail = detail;
    this.cb(p);
  }
}

/** This point's marked snapshots of the volume (metadata filter, 3.22). */
export async function findPointSnapshots(site: MoverSite, volumeId: string, o: MoverOptions): Promise<Snapshot[]> {
  const found = await collect(
    listSnapshots(site.blockStorage, { volume_id: volumeId, metadata: { [FERRY_MARKS.plan]: o.plan, [FERRY_MARKS.point]: o.pointId } }, { signal: o.signal }),
  );
  return found.filter((s) => hasMarks(s.metadata, o.plan, o.pointId, volumeId)).sort((a, b) => tsKey(a.created_at).localeCompare(tsKey(b.created_at)));
}

/** This point's marked backup of the volume (name and volume_id filters; marks checked, 3.43). */
export async function findPointBackups(site: MoverSite, volumeId: string, o: MoverOptions): Promise<Backup[]> {
  await site.blockStorage.require('3.43', 'backup metadata (Ferry marks its backups)', o.signal);
  const found = await collect(listBackups(site.blockStorage, { volume_id: volumeId, name: markedName(o.plan, o.pointId, volumeId) }, { signal: o.signal }));
  return found.filter((b) => hasMarks(b.metadata, o.plan, o.pointId, volumeId)).sort((a, b) => tsKey(a.created_at).localeCompare(tsKey(b.created_at)));
}

/**
 * Deletes a snapshot and waits until it is gone, asking again while Cinder gives it back (see
 * below). Every deleter of snapshots (the mover, purge, cleanup) goes through here.
 */
export async function removeSnapshot(site: MoverSite, id: string, o: Pick<MoverOptions, 'timeouts' | 'pollIntervalMs' | 'maxPollIntervalMs' | 'signal'>): Promise<void> {
  const t = timeoutsOf(o);
  const deadline = Date.now() + t.snapshotMs;
  for (;;) {
    await deleteSnapshot(site.blockStorage, id, { signal: o.signal });
    try {
      await waitFor<Snapshot>(
        { resource: `snapshot ${id}`, fetch: () => getSnapshot(site.blockStorage, id, o.signal), status: (s) => s.status, target: [DELETED], failure: ['error_deleting', 'available'] },
        waitOpts(o, Math.max(1, deadline - Date.now())),
      );
      return;
    } catch (err) {
      // With RBD, cinder-backup reads a snapshot through a temporary volume cloned from it; when
      // that clone is not gone yet Cinder refuses the delete (SnapshotIsBusy) and puts the
      // snapshot back to available. Ask again until the deadline.
      if (err instanceof ResourceFailureError && err.status === 'available' && Date.now() < deadline) {
        await sleep(Math.min(2_000, o.pollIntervalMs ?? 2_000), o.signal);
        continue;
      }
      throw err;
    }
  }
}

async function removeBackup(site: MoverSite, id: string, o: MoverOptions): Promise<void> {
  const t = timeoutsOf(o);
  await deleteBackup(site.blockStorage, id, { signal: o.signal });
  await waitForBackupDeleted(site.blockStorage, id, waitOpts(o, t.deleteMs));
}

/**
 * Step 1: the point's snapshot of the volume, available. Adopts a marked snapshot an earlier
 * run created (removing failed ones), else creates one (force for an in-use volume).
 */
export async function ensureSnapshot(site: MoverSite, volume: Pick<Volume, 'id' | 'status'>, o: MoverOptions, rep = new Reporter(volume.id, o.onProgress)): Promise<Snapshot> {
  const t = timeoutsOf(o);
  rep.emit('snapshot', 'start');
  const found = await findPointSnapshots(site, volume.id, o);
  for (const s of found.filter((x) => x.status === 'error')) await removeSnapshot(site, s.id, o);
  const usable = found.find((x) => ['creating', 'available', 'backing-up', 'updating'].includes(x.status));
  let id: string;
  if (usable) {
    id = usable.id;
    rep.emit('snapshot', 'adopted', id, usable.status);
  } else {
    const created = await createSnapshot(
      site.blockStorage,
      {
        volume_id: volume.id,
        name: markedName(o.plan, o.pointId, volume.id),
        description: `Ferry plan ${o.plan}, recovery point ${o.pointId}`,
        metadata: markMetadata(o.plan, o.pointId, volume.id, o.run),
        force: volume.status === 'in-use',
      },
      o.signal,
    );
    id = created.id;
    rep.emit('snapshot', 'created', id);
  }
  const snap = (await waitForSnapshot(site.blockStorage, id, ['available'], waitOpts(o, t.snapshotMs)))!;
  rep.emit('snapshot', 'done', id);
  return snap;
}

interface ParentChoice {
  parent?: VolumeDataRef;
  reason: string;
}

/** Decides full or incremental: incremental only when Cinder will chain onto the expected parent. */
async function chooseParent(primary: MoverSite, secondary: MoverSite, volumeId: string, snapshot: Snapshot, o: VolumeMoveOptions): Promise<ParentChoice> {
  const p = o.parent;
  if (!p) return { reason: 'no earlier point' };
  if (p.sourceVolumeId !== volumeId) return { reason: `the parent ref belongs to volume ${p.sourceVolumeId}` };
  if (fullDue(o.cycle, o.fullEvery)) return { reason: `full every ${o.fullEvery} cycles (cycle ${o.cycle})` };
  const at = async (site: MoverSite, id: string) => {
    try {
      return await getBackup(site.blockStorage, id, o.signal);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  const pa = await at(primary, p.primaryBackupId);
  if (pa?.status !== 'available') return { reason: `parent ${p.primaryBackupId} is ${pa?.status ?? 'missing'} at the primary` };
  const pb = await at(secondary, p.secondaryBackupId);
  if (pb?.status !== 'available') return { reason: `parent ${p.secondaryBackupId} is ${pb?.status ?? 'missing'} at the secondary` };
  const all = await collect(listBackups(primary.blockStorage, { volume_id: volumeId }, { signal: o.signal }));
  const predicted = predictCinderParent(all, snapshot);
  if (predicted?.id !== p.primaryBackupId) return { reason: `Cinder would chain onto ${predicted?.id ?? 'nothing'}, not ${p.primaryBackupId}` };
  return { parent: p, reason: `incremental on ${p.primaryBackupId}` };
}

/**
 * Step 2: the point's backup of the volume from `snapshot`, available. Incremental when the
 * parent allows it (see chooseParent), else full. Callers look for an adoptable backup first
 * (findPointBackups) so a crash after this step does not take a snapshot again.
 */
export async function createPointBackup(
  primary: MoverSite,
  secondary: MoverSite,
  volumeId: string,
  snapshot: Snapshot,
  o: VolumeMoveOptions,
  rep = new Reporter(volumeId, o.onProgress),
): Promise<Backup> {
  const t = timeoutsOf(o);
  rep.emit('backup', 'start');
  const choice = await chooseParent(primary, secondary, volumeId, snapshot, o);
  const metadata = markMetadata(o.plan, o.pointId, volumeId, o.run);
  if (choice.parent) metadata[PARENT_MARK] = choice.parent.primaryBackupId;
  const summary = await createBackup(
    primary.blockStorage,
    {
      volume_id: volumeId,
      snapshot_id: snapshot.id,
      incremental: choice.parent !== undefined,
      name: markedName(o.plan, o.pointId, volumeId),
      description: `Ferry plan ${o.plan}, recovery point ${o.pointId} (${choice.parent ? 'incremental' : 'full'})`,
      metadata,
    },
    o.signal,
  );
  rep.emit('backup', 'created', summary.id, choice.reason);
  const b = (await waitForBackup(primary.blockStorage, summary.id, ['available'], waitOpts(o, t.backupMs)))!;
  if (b.is_incremental !== (choice.parent !== undefined)) {
    throw new Error(`backup ${b.id} of volume ${volumeId} is ${b.is_incremental ? 'incremental' : 'full'}, expected ${choice.parent ? 'incremental' : 'full'}`);
  }
  rep.emit('backup', 'done', b.id);
  return b;
}

/** Steps 1 and 2 with adoption: the point's backup at the primary, available. */
export async function ensureBackup(
  primary: MoverSite,
  secondary: MoverSite,
  volume: Pick<Volume, 'id' | 'status'>,
  o: VolumeMoveOptions,
  rep = new Reporter(volume.id, o.onProgress),
): Promise<Backup> {
  const t = timeoutsOf(o);
  const found = await findPointBackups(primary, volume.id, o);
  for (const b of found) {
    if (b.status === 'error') {
      rep.emit('backup', 'waiting', b.id, `removing failed backup: ${b.fail_reason ?? 'error'}`);
      await removeBackup(primary, b.id, o);
    }
  }
  const usable = found.find((b) => ['creating', 'available', 'restoring'].includes(b.status));
  if (usable) {
    rep.emit('snapshot', 'adopted', undefined, `backup ${usable.id} exists`);
    rep.emit('backup', 'start');
    rep.emit('backup', 'adopted', usable.id, usable.status);
    const b = (await waitForBackup(primary.blockStorage, usable.id, ['available'], waitOpts(o, t.backupMs)))!;
    rep.emit('backup', 'done', b.id);
    return b;
  }
  const snap = await ensureSnapshot(primary, volume, o, rep);
  return createPointBackup(primary, secondary, volume.id, snap, o, rep);
}

/** Step 3: removes the point's snapshots of the volume (idempotent). */
export async function removePointSnapshots(site: MoverSite, volumeId: string, o: MoverOptions): Promise<number> {
  const t = timeoutsOf(o);
  let n = 0;
  for (const s of await findPointSnapshots(site, volumeId, o)) {
    if (s.status === 'deleting') {
      await waitForSnapshotDeleted(site.blockStorage, s.id, waitOpts(o, t.snapshotMs));
      continue;
    }
    // A snapshot is `backing-up` while a backup reads it; it returns to available after.
    if (s.status !== 'available' && s.status !== 'error') await waitForSnapshot(site.blockStorage, s.id, ['available'], waitOpts(o, t.snapshotMs));
    await removeSnapshot(site, s.id, o);
    n++;
  }
  return n;
}

async function getBackupOrUndefined(site: MoverSite, id: string, signal?: AbortSignal): Promise<Backup | undefined> {
  try {
    return await getBackup(site.blockStorage, id, signal);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Step 5: the backup present and available at the secondary. Adopts a backup with that ID (the
 * import keeps it), replaces one that failed, imports otherwise; "already exists" is adoption.
 * Verifies ID, size and kind against the primary's backup.
 */
export async function ensureImported(secondary: MoverSite, record: BackupRecord, source: Backup, o: MoverOptions, rep = new Reporter(source.volume_id, o.onProgress)): Promise<Backup> {
  const t = timeoutsOf(o);
  rep.emit('import', 'start');
  let existing = await getBackupOrUndefined(secondary, source.id, o.signal);
  if (existing?.status === 'error') {
    rep.emit('import', 'waiting', existing.id, `removing failed import: ${existing.fail_reason ?? 'error'}`);
    await removeBackup(secondary, existing.id, o);
    existing = undefined;
  } else if (existing?.status === 'deleting') {
    await waitForBackupDeleted(secondary.blockStorage, existing.id, waitOpts(o, t.deleteMs));
    existing = undefined;
  }
  if (existing) {
    rep.emit('import', 'adopted', existing.id, existing.status);
  } else {
    try {
      const imp = await importBackupRecord(secondary.blockStorage, record, o.signal);
      if (imp.id !== source.id) throw new Error(`import of backup ${source.id} created ${imp.id}`);
      rep.emit('import', 'created', imp.id);
    } catch (err) {
      if (!(err instanceof BadRequestError && /already exists/i.test(err.detail))) throw err;
      rep.emit('import', 'adopted', source.id, 'already exists');
    }
  }
  const b = (await waitForBackup(secondary.blockStorage, source.id, ['available'], waitOpts(o, t.importMs)))!;
  if (b.size !== source.size || b.is_incremental !== source.is_incremental) {
    throw new Error(`backup ${b.id} at the secondary (${b.size} GiB, incremental ${b.is_incremental}) differs from the primary's (${source.size} GiB, incremental ${source.is_incremental})`);
  }
  rep.emit('import', 'done', b.id);
  return b;
}

interface Gates {
  primary: LimitFunction;
  secondary: LimitFunction;
}

async function moveVolume(primary: MoverSite, secondary: MoverSite, volumeId: string, o: VolumeMoveOptions, gates: Gates): Promise<VolumeResult> {
  const started = Date.now();
  const rep = new Reporter(volumeId, o.onProgress);
  try {
    const { backup, record } = await gates.primary(async () => {
      rep.emit('volume', 'start');
      const volume = await getVolume(primary.blockStorage, volumeId, o.signal);
      const b = await ensureBackup(primary, secondary, volume, o, rep);
      rep.emit('snapshot-delete', 'start');
      const n = await removePointSnapshots(primary, volumeId, o);
      rep.emit('snapshot-delete', 'done', undefined, `${n} removed`);
      rep.emit('export', 'start');
      const r = await exportBackupRecord(primary.blockStorage, b.id, o.signal);
      rep.emit('export', 'done', b.id, r.backup_service);
      return { backup: b, record: r };
    });
    const imported = await gates.secondary(() => ensureImported(secondary, record, backup, o, rep));
    const ref: VolumeDataRef = {
      sourceVolumeId: volumeId,
      mover: 'cinder-backup',
      primaryBackupId: backup.id,
      secondaryBackupId: imported.id,
      incremental: backup.is_incremental,
      sizeGb: backup.size,
      dataTimestamp: cinderTimeToIso(backup.data_timestamp),
      backupService: record.backup_service,
    };
    const parent = backup.metadata?.[PARENT_MARK];
    if (backup.is_incremental && parent) ref.parentBackupId = parent;
    return { volumeId, ok: true, ref, adopted: [...rep.adopted], durationMs: Date.now() - started };
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    rep.emit(rep.step, 'failed', undefined, error.message);
    return { volumeId, ok: false, step: rep.step, error, durationMs: Date.now() - started };
  }
}

/** Moves one volume's data for one point (steps 1-5); never throws, the result says how it went. */
export function replicateVolume(primary: MoverSite, secondary: MoverSite, volumeId: string, o: VolumeMoveOptions): Promise<VolumeResult> {
  const open = pLimit(1);
  return moveVolume(primary, secondary, volumeId, o, { primary: open, secondary: pLimit(1) });
}

function parentOf(parents: ReplicateOptions['parents'], id: string): VolumeDataRef | undefined {
  if (!parents) return undefined;
  if (parents instanceof Map) return parents.get(id);
  return (parents as Readonly<Record<string, VolumeDataRef | undefined>>)[id];
}

/**
 * One cycle of the mover for a point: every volume with at most `concurrency` volumes in their
 * primary steps and at most `concurrency` imports at the secondary at once. One failing volume
 * makes the point partial; the others still complete.
 */
export async function replicateVolumes(primary: MoverSite, secondary: MoverSite, volumes: ReadonlyArray<string | { id: string }>, o: ReplicateOptions): Promise<ReplicateResult> {
  const n = o.concurrency ?? 2;
  const gates: Gates = { primary: pLimit(n), secondary: pLimit(n) };
  const ids = [...new Set(volumes.map((v) => (typeof v === 'string' ? v : v.id)))];
  const results = await Promise.all(
    ids.map((id) => {
      const vo: VolumeMoveOptions = { ...o, parent: parentOf(o.parents, id) };
      return moveVolume(primary, secondary, id, vo, gates);
    }),
  );
  const refs = results.flatMap((r) => (r.ok ? [r.ref] : []));
  const status = refs.length === results.length ? 'complete' : refs.length === 0 ? 'failed' : 'partial';
  return { status, results, refs };
}

// ---- retention and cleanup --------------------------------------------------------

/**
 * Deletes backups at one site in dependency order: children before parents (from the refs'
 * parentBackupId and the backups' ferry:parent marks), each after Cinder's
 * has_dependent_backups has cleared and while Cinder still refuses with "Incremental backups
 * exist" (the only signal at a secondary, where imports do not set the flag), up to
 * timeouts.dependentsMs. Missing backups are fine (idempotent).
 */
export async function deleteBackupChain(site: MoverSite, refs: ReadonlyArray<VolumeDataRef | string>, o: DeleteChainOptions = {}): Promise<DeleteChainResult> {
  const t = timeoutsOf(o);
  const side = o.side ?? 'primary';
  const parent = new Map<string, string>();
  const ids: string[] = [];
  for (const r of refs) {
    const id = typeof r === 'string' ? r : side === 'primary' ? r.primaryBackupId : r.secondaryBackupId;
    if (!ids.includes(id)) ids.push(id);
    if (typeof r !== 'string' && r.parentBackupId) parent.set(id, r.parentBackupId);
  }
  const result: DeleteChainResult = { deleted: [], missing: [] };
  const remaining = new Set<string>();
  for (const id of ids) {
    const b = await getBackupOrUndefined(site, id, o.signal);
    if (!b || b.status === 'deleted') {
      result.missing.push(id);
      continue;
    }
    remaining.add(id);
    const p = b.metadata?.[PARENT_MARK];
    if (p && !parent.has(id)) parent.set(id, p);
  }
  const limit = pLimit(o.concurrency ?? 2);
  const deleteOne = async (id: string) => {
    // Wait out busy states and dependents: the target states are the deletable ones.
    const seen = await waitFor<Backup>(
      {
        resource: `backup ${id}`,
        fetch: () => getBackup(site.blockStorage, id, o.signal),
        status: (b) => (b.has_dependent_backups && b.status !== 'deleting' ? 'has_dependent_backups' : b.status),
        target: ['available', 'error', 'deleted', DELETED],
        failure: ['error_deleting'],
        reason: (b) => b.fail_reason ?? undefined,
      },
      waitOpts(o, t.dependentsMs),
    );
    if (!seen || seen.status === 'deleted') {
      result.missing.push(id);
      return;
    }
    // At a secondary, imported backups never raise their parent's has_dependent_backups
    // (only create_backup counts dependents), but delete still refuses a parent by parent_id:
    // that refusal is waited out like the flag.
    const deadline = Date.now() + t.dependentsMs;
    let interval = o.pollIntervalMs ?? 1_000;
    for (;;) {
      try {
        await deleteBackup(site.blockStorage, id, { signal: o.signal });
        break;
      } catch (err) {
        if (!(err instanceof BadRequestError && /Incremental backups exist/i.test(err.detail)) || Date.now() + interval > deadline) throw err;
        await new Promise((r) => setTimeout(r, interval));
        interval = Math.min(o.maxPollIntervalMs ?? 15_000, Math.round(interval * 1.5) || 1);
      }
    }
    await waitForBackupDeleted(site.blockStorage, id, waitOpts(o, t.deleteMs));
    result.deleted.push(id);
    o.onDeleted?.(id);
  };
  while (remaining.size > 0) {
    const parentsLeft = new Set([...remaining].map((id) => parent.get(id)).filter((p): p is string => p !== undefined && remaining.has(p)));
    const leaves = [...remaining].filter((id) => !parentsLeft.has(id));
    if (leaves.length === 0) throw new Error(`backups ${[...remaining].join(', ')} depend on each other in a cycle`);
    await Promise.all(leaves.map((id) => limit(() => deleteOne(id))));
    for (const id of leaves) remaining.delete(id);
  }
  return result;
}

/**
 * Snapshots and backups at a site marked with the plan but belonging to none of the known
 * points: what a crashed cycle left behind. Backups are read with their metadata (3.43);
 * Cinder cannot filter backups by metadata, so they are filtered here.
 */
export async function findOrphans(site: MoverSite, plan: string, knownPointIds: Iterable<string>, signal?: AbortSignal): Promise<Orphans> {
  const known = new Set(knownPointIds);
  await site.blockStorage.require('3.43', 'backup metadata (Ferry marks its backups)', signal);
  const snapshots = (await collect(listSnapshots(site.blockStorage, { metadata: { [FERRY_MARKS.plan]: plan } }, { signal }))).filter(
    (s) => s.metadata[FERRY_MARKS.plan] === plan && !known.has(s.metadata[FERRY_MARKS.point] ?? ''),
  );
  const backups = (await collect(listBackups(site.blockStorage, {}, { signal }))).filter(
    (b) => b.metadata?.[FERRY_MARKS.plan] === plan && !known.has(b.metadata[FERRY_MARKS.point] ?? '') && b.status !== 'deleted',
  );
  return { snapshots, backups };
}
