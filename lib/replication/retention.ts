// Retention: which recovery points a plan keeps (plan `retention: {count, age}`), and deleting
// the others without breaking the incremental chains of the ones kept.
//
// Which points expire (selectExpired, pure):
//  - Only finished points are candidates: complete and partial. In-progress points belong to a
//    running (or resumable) cycle; deleting ones are already going.
//  - The newest complete point is always kept (it is what an unplanned failover restores), and
//    so is the newest point with data when no point is complete yet.
//  - Partial points older than the newest complete point expire first, whatever count and age
//    say: they hold less than a newer point that holds everything, and are never recovered
//    without --force.
//  - Then age (older than `age`) and count (beyond the `count` newest) expire the rest; the
//    always-kept points count towards `count`.
//
// Which backups go (backupsToDelete, pure): an incremental backup needs every backup up its
// chain, so a backup of an expired point is deleted only when no kept point's chain passes
// through it. A kept backup may outlive its point: it is then known only as another backup's
// parent, and its own parent is read from its `ferry:parent` mark at the site (unresolvedParents
// says which to read), so when the last point depending on it expires, the whole chain goes and
// nothing leaks.
//
// Applying (applyRetention): mark the expired points `deleting` (they stop being recoverable at
// once, and a crash resumes from there), then for every deleting point: its bank entry at its
// target site (COMPLETE first), then the backups (target, then source), then its catalog row.
// The bank entry goes before the backups so that a catalog rebuilt from the bank in between
// never holds a point whose data is gone (at worst backups are left as orphans, which
// findOrphans finds). Each point's own sites are used, not the cycle's direction: points taken
// before a failover live at the other site. Failures leave points `deleting` for the next cycle.
import type { CatalogRepo, RecoveryPoint } from '../catalog/repo.js';
import { isNotFound } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { getBackup } from '../openstack/blockstorage/backups.js';
import type { Site } from '../openstack/site.js';
import { deleteRecoveryPoint } from './bank.js';
import { deleteBackupChain, PARENT_MARK, type MoverSite, type MoverTimeouts } from './cinder-backup.js';
import type { VolumeDataRef } from './types.js';

// ---- which points (pure) ------------------------------------------------------------

export interface RetentionPolicy {
  /** Keep at most this many points. */
  count?: number;
  /** Expire points older than this. */
  ageMs?: number;
}

export interface RetentionPoint {
  id: string;
  createdAt: Date;
  status: string;
}

export interface ExpiredPoint<T extends RetentionPoint> {
  point: T;
  reason: string;
}

const byNewest = (a: RetentionPoint, b: RetentionPoint) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/** The points retention deletes, oldest first, each with why (see the rules at the top). */
export function selectExpired<T extends RetentionPoint>(points: readonly T[], retention: RetentionPolicy, now: Date): ExpiredPoint<T>[] {
  const finished = points.filter((p) => p.status === 'complete' || p.status === 'partial').sort(byNewest);
  const newestComplete = finished.find((p) => p.status === 'complete');
  const pinned = new Set<string>();
  if (newestComplete) pinned.add(newestComplete.id);
  else if (finished[0]) pinned.add(finished[0].id);
  const expired = new Map<string, string>();
  for (const p of finished) {
    if (pinned.has(p.id)) continue;
    if (p.status === 'partial' && newestComplete && p.createdAt.getTime() < newestComplete.createdAt.getTime()) {
      expired.set(p.id, `partial, superseded by complete point ${newestComplete.id}`);
    } else if (retention.ageMs !== undefined && now.getTime() - p.createdAt.getTime() > retention.ageMs) {
      expired.set(p.id, `older than the retention age (${Math.round((now.getTime() - p.createdAt.getTime()) / 1000)} s > ${Math.round(retention.ageMs / 1000)} s)`);
    }
  }
  if (retention.count !== undefined) {
    // The pinned points take their places first, then the newest of the others.
    const left = finished.filter((p) => !expired.has(p.id));
    const order = [...left.filter((p) => pinned.has(p.id)), ...left.filter((p) => !pinned.has(p.id))];
    for (const p of order.slice(Math.max(retention.count, pinned.size))) expired.set(p.id, `beyond the retention count of ${retention.count}`);
  }
  return finished
    .filter((p) => expired.has(p.id))
    .reverse()
    .map((point) => ({ point, reason: expired.get(point.id)! }));
}

// ---- which backups (pure) ----------------------------------------------------------

/** What retention needs of a data ref (a VolumeDataRef fits). */
export type ChainRef = Pick<VolumeDataRef, 'primaryBackupId' | 'secondaryBackupId' | 'incremental'> & { parentBackupId?: string | undefined };

/**
 * Parents learnt outside the catalog (a backup's `ferry:parent` mark), by primary backup ID:
 * the parent's ID, or null for a full backup or one that no longer exists.
 */
export type ParentLinks = ReadonlyMap<string, string | null>;

function parentIndex(refs: readonly ChainRef[], links: ParentLinks): (id: string) => string | null | undefined {
  const known = new Map<string, string | null>(links);
  for (const r of refs) known.set(r.primaryBackupId, r.incremental && r.parentBackupId ? r.parentBackupId : null);
  return (id) => known.get(id);
}

/** Every backup the refs' chains pass through, and the ones whose parent is not known. */
function closure(start: readonly ChainRef[], parentOf: (id: string) => string | null | undefined): { ids: Set<string>; unresolved: Set<string> } {
  const ids = new Set<string>();
  const unresolved = new Set<string>();
  for (const r of start) {
    let id: string | null | undefined = r.primaryBackupId;
    while (id && !ids.has(id)) {
      ids.add(id);
      const parent = parentOf(id);
      if (parent === undefined) unresolved.add(id);
      id = parent;
    }
  }
  return { ids, unresolved };
}

/** Backups reached in the refs' chains whose own parent is unknown: read their marks, then ask again. */
export function unresolvedParents(refs: readonly ChainRef[], links: ParentLinks = new Map()): string[] {
  return [...closure(refs, parentIndex(refs, links)).unresolved].sort();
}

export interface BackupDeletion {
  /** Backups to delete, with their ID at each site (Cinder keeps one ID through an import). */
  delete: { primaryBackupId: string; secondaryBackupId: string }[];
  /** Backups of expired points that kept points' chains still need. */
  kept: string[];
}

/**
 * The backups that go with the expired points' refs: every backup up their chains that no
 * retained ref's chain passes through.
 */
export function backupsToDelete(expired: readonly ChainRef[], retained: readonly ChainRef[], links: ParentLinks = new Map()): BackupDeletion {
  const parentOf = parentIndex([...expired, ...retained], links);
  const needed = closure(retained, parentOf).ids;
  const gone = closure(expired, parentOf).ids;
  const secondary = new Map<string, string>();
  for (const r of [...expired, ...retained]) secondary.set(r.primaryBackupId, r.secondaryBackupId);
  const del = [...gone].filter((id) => !needed.has(id)).sort();
  return {
    delete: del.map((id) => ({ primaryBackupId: id, secondaryBackupId: secondary.get(id) ?? id })),
    kept: [...gone].filter((id) => needed.has(id)).sort(),
  };
}

/** The data refs of a catalog point's manifest (none before it completes). */
export function pointRefs(p: Pick<RecoveryPoint, 'manifest'>): VolumeDataRef[] {
  const data = (p.manifest as { data?: { volumes?: unknown } } | null)?.data;
  return Array.isArray(data?.volumes) ? (data.volumes as VolumeDataRef[]) : [];
}

// ---- applying -------------------------------------------------------------------------

/** The site operations retention uses (cinder-backup's by default; tests may record them). */
export interface RetentionIo {
  /** Deletes backups at a site, children before parents; missing ones are fine. */
  deleteBackups(site: Site, ids: string[], side: 'primary' | 'secondary'): Promise<void>;
  /** A backup's parent from its mark: the ID, null for a full backup, undefined when the backup is gone. */
  backupParent(site: Site, id: string): Promise<string | null | undefined>;
}

export interface ApplyRetentionOptions {
  sites: (cloud: string) => Site;
  /** Bank container (default ferry-bank). */
  container?: string;
  now?: Date;
  logger?: Logger;
  signal?: AbortSignal;
  io?: RetentionIo;
  /** Waits of the default cinder-backup deletions (tests shorten them). */
  waits?: { pollIntervalMs?: number; maxPollIntervalMs?: number; timeouts?: Partial<MoverTimeouts> };
}

export interface RetentionResult {
  /** Points deleted (newly expired or left deleting by an earlier cycle). */
  deletedPoints: string[];
  /** Points newly marked deleting this time, with why. */
  expired: { id: string; reason: string }[];
  deletedBackups: string[];
  /** Backups of deleted points kept for kept points' chains. */
  keptBackups: string[];
  /** Problems (the points concerned stay deleting for the next cycle). */
  warnings: string[];
}

export function cinderRetentionIo(o: Pick<ApplyRetentionOptions, 'signal' | 'waits'> = {}): RetentionIo {
  return {
    async deleteBackups(site: MoverSite, ids: string[], side: 'primary' | 'secondary') {
      await deleteBackupChain(site, ids, { side, signal: o.signal, ...o.waits });
    },
    async backupParent(site: MoverSite, id: string) {
      try {
        const b = await getBackup(site.blockStorage, id, o.signal);
        return b.is_incremental ? (b.metadata?.[PARENT_MARK] ?? null) : null;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
  };
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Applies the plan's retention: expires points (selectExpired), then finishes every point in
 * `deleting`: bank entry, backups no kept chain needs (target, then source), catalog row.
 * Never throws for a site failure: it becomes a warning and the point stays deleting.
 */
export async function applyRetention(repo: CatalogRepo, planName: string, retention: RetentionPolicy, o: ApplyRetentionOptions): Promise<RetentionResult> {
  const log = (o.logger ?? silentLogger).child({ plan: planName });
  const io = o.io ?? cinderRetentionIo(o);
  const result: RetentionResult = { deletedPoints: [], expired: [], deletedBackups: [], keptBackups: [], warnings: [] };
  const all = await repo.points.list(planName);
  for (const { point, reason } of selectExpired(all, retention, o.now ?? new Date())) {
    await repo.points.markDeleting(point.id);
    point.status = 'deleting';
    result.expired.push({ id: point.id, reason });
    log.info(`recovery point ${point.id} expired: ${reason}`);
  }
  // Chains never cross directions (other volumes after a failover): one pass per site pair.
  const pairs = new Map<string, RecoveryPoint[]>();
  for (const p of all) pairs.set(`${p.sourceSite}\u0000${p.targetSite}`, [...(pairs.get(`${p.sourceSite}\u0000${p.targetSite}`) ?? []), p]);
  for (const points of pairs.values()) {
    const deleting = points.filter((p) => p.status === 'deleting').sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    if (deleting.length === 0) continue;
    const { sourceSite, targetSite } = deleting[0]!;
    try {
      const source = o.sites(sourceSite);
      const target = o.sites(targetSite);
      for (const p of deleting) await deleteRecoveryPoint(target.objectStore, { plan: planName, createdAt: p.createdAt, id: p.id }, { container: o.container, signal: o.signal });
      const expiredRefs = deleting.flatMap(pointRefs);
      const retainedRefs = points.filter((p) => p.status === 'complete' || p.status === 'partial').flatMap(pointRefs);
      const links = new Map<string, string | null>();
      for (let round = 0; round < 1000; round++) {
        const unknown = unresolvedParents([...expiredRefs, ...retainedRefs], links);
        if (unknown.length === 0) break;
        for (const id of unknown) {
          // The target first: it holds the data (imports keep the marks) and stays up when the source is lost.
          let parent = await io.backupParent(target, id);
          if (parent === undefined) parent = await io.backupParent(source, id);
          links.set(id, parent ?? null);
        }
      }
      const plan = backupsToDelete(expiredRefs, retainedRefs, links);
      result.keptBackups.push(...plan.kept);
      if (plan.delete.length > 0) {
        await io.deleteBackups(
          target,
          plan.delete.map((d) => d.secondaryBackupId),
          'secondary',
        );
        await io.deleteBackups(
          source,
          plan.delete.map((d) => d.primaryBackupId),
          'primary',
        );
      }
      result.deletedBackups.push(...plan.delete.map((d) => d.primaryBackupId));
      for (const p of deleting) {
        await repo.points.delete(p.id);
        result.deletedPoints.push(p.id);
      }
      log.info(`retention deleted ${deleting.length} recovery point(s) and ${plan.delete.length} backup(s); kept ${plan.kept.length} backup(s) other points' chains need`);
    } catch (err) {
      const msg = `retention: deleting recovery point(s) ${deleting.map((p) => p.id).join(', ')} (${sourceSite} → ${targetSite}) failed, they stay 'deleting' for the next cycle: ${errText(err)}`;
      result.warnings.push(msg);
      log.warn(msg);
    }
  }
  return result;
}
