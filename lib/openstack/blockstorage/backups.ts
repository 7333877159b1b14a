// Cinder v3 volume backups: Ferry's data path between sites (back up on the primary, export
// the record, import it on the secondary, restore). API reference:
// https://docs.openstack.org/api-ref/block-storage/v3/#backups-backups
// Source: cinder/api/contrib/backups.py, cinder/api/v3/backups.py, cinder/api/views/backups.py,
// cinder/api/v3/views/backups.py, cinder/api/schemas/backups.py, cinder/api/contrib/admin_actions.py
// (BackupAdminController), cinder/backup/api.py, cinder/objects/fields.py BackupStatus (Zed).
import { isNotFound } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';
import { DELETED, waitFor, type WaitOptions } from '../wait.js';

// ---- types ----------------------------------------------------------------

/** cinder/objects/fields.py BackupStatus. */
export type BackupStatus = 'creating' | 'available' | 'deleting' | 'error' | 'restoring' | 'error_deleting' | 'deleted';

export interface Link {
  href: string;
  rel: string;
}

/** Detailed view (GET backups/{id}, backups/detail). */
export interface Backup {
  id: string;
  name: string | null;
  description: string | null;
  status: BackupStatus;
  /** Size in GiB of the backed-up volume. */
  size: number;
  object_count: number;
  availability_zone: string | null;
  /** Backup-driver container (Swift container, Ceph pool...). */
  container: string | null;
  created_at: string;
  updated_at: string | null;
  /** Why the backup went to `error` (the driver's message). */
  fail_reason: string | null;
  volume_id: string;
  links: Link[];
  is_incremental: boolean;
  /** True while incremental backups depend on this one (it cannot be deleted then). */
  has_dependent_backups: boolean;
  /** The snapshot the backup was taken from, when it was. */
  snapshot_id: string | null;
  /** When the data was captured: the snapshot's creation time, else the backup's. */
  data_timestamp: string;
  /** Since 3.18, when policy allows. */
  'os-backup-project-attr:project_id'?: string;
  /** Since 3.43. */
  metadata?: Record<string, string>;
  /** Since 3.56, when policy allows. */
  user_id?: string;
  /** Since 3.64, only for encrypted volumes. */
  encryption_key_id?: string;
}

/** What create and import_record return: only the ID, the name and links (views/backups.py summary). */
export interface BackupSummary {
  id: string;
  name: string | null;
  links: Link[];
}

/** POST backups/{id}/restore answers this (views/backups.py restore_summary). */
export interface BackupRestore {
  backup_id: string;
  volume_id: string;
  volume_name: string;
}

/**
 * An exported backup record: enough for another Cinder to import the backup's metadata and
 * restore from the same backup storage. `backup_url` is an opaque base64 blob, not a URL.
 */
export interface BackupRecord {
  backup_service: string;
  backup_url: string;
}

export interface ListBackupsQuery {
  name?: string;
  status?: BackupStatus;
  volume_id?: string;
  /** Admin only: every project's backups. */
  all_tenants?: boolean;
  /** Admin only, with all_tenants: one project's backups. */
  project_id?: string;
  limit?: number;
  /** e.g. `created_at:desc`; `name` since 3.37. */
  sort?: string;
}

export interface CreateBackupOpts {
  volume_id: string;
  /** Back up this snapshot of the volume instead of the live volume. */
  snapshot_id?: string;
  /** Incremental on the latest available backup of the volume. */
  incremental?: boolean;
  /** Back up an `in-use` volume. */
  force?: boolean;
  name?: string;
  description?: string;
  /** Backup-driver container; the driver's default when absent. */
  container?: string;
  /** Since 3.43. */
  metadata?: Record<string, string>;
  /** Since 3.51: the availability zone of the backup service to use. */
  availability_zone?: string;
}

export interface RestoreBackupOpts {
  /** Restore into this existing volume (it must be `available` and large enough). */
  volume_id?: string;
  /** Name of the new volume Cinder creates when no volume_id is given. */
  name?: string;
}

// ---- urls -----------------------------------------------------------------

export const backupUrls = {
  list: () => 'backups/detail',
  create: () => 'backups',
  one: (id: string) => `backups/${encodeURIComponent(id)}`,
  action: (id: string) => `backups/${encodeURIComponent(id)}/action`,
  restore: (id: string) => `backups/${encodeURIComponent(id)}/restore`,
  exportRecord: (id: string) => `backups/${encodeURIComponent(id)}/export_record`,
  importRecord: () => 'backups/import_record',
};

// ---- requests ---------------------------------------------------------------

export function toListBackupsQuery(q: ListBackupsQuery): Query {
  const out: Query = {};
  if (q.name !== undefined) out.name = q.name;
  if (q.status !== undefined) out.status = q.status;
  if (q.volume_id !== undefined) out.volume_id = q.volume_id;
  if (q.all_tenants) out.all_tenants = 1;
  if (q.project_id !== undefined) out.project_id = q.project_id;
  if (q.sort !== undefined) out.sort = q.sort;
  return out;
}

/** Lists backups with details, every page. */
export function listBackups(sc: ServiceClient, q: ListBackupsQuery = {}, opts?: PageOptions): AsyncGenerator<Backup> {
  return paginate<Backup>(sc, backupUrls.list(), toListBackupsQuery(q), { style: 'links', key: 'backups', limit: q.limit }, opts);
}

export async function getBackup(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Backup> {
  return (await sc.get<{ backup: Backup }>(backupUrls.one(id), { signal })).data.backup;
}

/**
 * Starts a backup; returns its summary (ID and name) at once, the backup itself goes
 * creating → available. Not retried on failure: callers adopt by metadata before creating again.
 */
export async function createBackup(sc: ServiceClient, opts: CreateBackupOpts, signal?: AbortSignal): Promise<BackupSummary> {
  if (opts.metadata) await sc.require('3.43', 'backup metadata', signal);
  if (opts.availability_zone) await sc.require('3.51', 'choosing the availability zone of a backup', signal);
  return (await sc.post<{ backup: BackupSummary }>(backupUrls.create(), { backup: opts }, { ok: [202], signal })).data.backup;
}

export interface DeleteBackupOpts {
  /** Admin: delete whatever the backup's status (os-force_delete), e.g. one stuck in `creating`. */
  force?: boolean;
  /** A missing backup is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Deletes a backup; returns false when it was already gone. */
export async function deleteBackup(sc: ServiceClient, id: string, opts: DeleteBackupOpts = {}): Promise<boolean> {
  try {
    if (opts.force) await sc.post(backupUrls.action(id), { 'os-force_delete': {} }, { ok: [202], idempotent: true, signal: opts.signal });
    else await sc.delete(backupUrls.one(id), { ok: [202, 204], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

/**
 * Restores a backup into an existing volume or a new one. The backup goes to `restoring` and
 * the volume to `restoring-backup`; wait on the volume (failure: `error_restoring`), because
 * the backup returns to `available` whether the restore worked or not. Never retried: a
 * second restore while the first runs is refused with 400 "Backup status must be available".
 */
export async function restoreBackup(sc: ServiceClient, id: string, opts: RestoreBackupOpts = {}, signal?: AbortSignal): Promise<BackupRestore> {
  return (await sc.post<{ restore: BackupRestore }>(backupUrls.restore(id), { restore: opts }, { ok: [202], signal })).data.restore;
}

/** Admin: exports a backup's record (the backup must be `available`). */
export async function exportBackupRecord(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<BackupRecord> {
  return (await sc.get<{ 'backup-record': BackupRecord }>(backupUrls.exportRecord(id), { signal })).data['backup-record'];
}

/**
 * Admin: imports an exported record, creating a backup entry with the source backup's ID
 * (status `creating`, then `available`) whose data is read from the same backup storage.
 * Not retried: a repeated import fails with 400 "Backup already exists in database." unless
 * the earlier entry was deleted.
 */
export async function importBackupRecord(sc: ServiceClient, record: BackupRecord, signal?: AbortSignal): Promise<BackupSummary> {
  const body = { 'backup-record': { backup_service: record.backup_service, backup_url: record.backup_url } };
  return (await sc.post<{ backup: BackupSummary }>(backupUrls.importRecord(), body, { ok: [201], signal })).data.backup;
}

/** Admin: resets a stuck backup's status (Cinder accepts `available` or `error`). */
export async function resetBackupStatus(sc: ServiceClient, id: string, status: 'available' | 'error', signal?: AbortSignal): Promise<void> {
  await sc.post(backupUrls.action(id), { 'os-reset_status': { status } }, { ok: [202], idempotent: true, signal });
}

// ---- waiters ----------------------------------------------------------------

export const BACKUP_FAILURES = ['error', 'error_deleting'];

/** Waits until a backup is in one of `target` (default available); a failure carries fail_reason. */
export function waitForBackup(sc: ServiceClient, id: string, target: BackupStatus[] = ['available'], opts: WaitOptions = {}): Promise<Backup | undefined> {
  return waitFor<Backup>(
    {
      resource: `backup ${id}`,
      fetch: () => getBackup(sc, id, opts.signal),
      status: (b) => b.status,
      target,
      failure: BACKUP_FAILURES,
      reason: (b) => b.fail_reason ?? undefined,
    },
    opts,
  );
}

/** Waits until a backup is gone (404, or a `deleted` row an admin can still read). */
export async function waitForBackupDeleted(sc: ServiceClient, id: string, opts: WaitOptions = {}): Promise<void> {
  await waitFor<Backup>(
    {
      resource: `backup ${id}`,
      fetch: () => getBackup(sc, id, opts.signal),
      status: (b) => b.status,
      target: [DELETED, 'deleted'],
      failure: ['error_deleting'],
      reason: (b) => b.fail_reason ?? undefined,
    },
    opts,
  );
}
