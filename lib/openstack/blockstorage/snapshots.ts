// Cinder v3 volume snapshots. API reference: https://docs.openstack.org/api-ref/block-storage/v3/#volume-snapshots-snapshots
// Source: cinder/api/v3/snapshots.py, cinder/api/v3/views/snapshots.py, cinder/api/views/snapshots.py,
// cinder/api/schemas/snapshots.py, cinder/objects/fields.py SnapshotStatus (Zed).
import { isNotFound } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';
import { DELETED, waitFor, type WaitOptions } from '../wait.js';

// ---- types ----------------------------------------------------------------

/** cinder/objects/fields.py SnapshotStatus. */
export type SnapshotStatus =
  | 'creating'
  | 'available'
  | 'deleting'
  | 'deleted'
  | 'updating'
  | 'error'
  | 'error_deleting'
  | 'unmanaging'
  | 'backing-up'
  | 'restoring';

export interface Snapshot {
  id: string;
  name: string | null;
  description: string | null;
  status: SnapshotStatus;
  /** Size in GiB of the source volume. */
  size: number;
  volume_id: string;
  created_at: string;
  updated_at: string | null;
  metadata: Record<string, string>;
  /** From the extended snapshot attributes extension, e.g. "100%". */
  'os-extended-snapshot-attributes:progress'?: string;
  'os-extended-snapshot-attributes:project_id'?: string;
  /** Since 3.14. */
  group_snapshot_id?: string | null;
  /** Since 3.41. */
  user_id?: string;
  /** Since 3.65. */
  consumes_quota?: boolean;
}

export interface ListSnapshotsQuery {
  name?: string;
  status?: SnapshotStatus;
  volume_id?: string;
  /** Filter on metadata (since 3.22); sent as a JSON object, which Cinder parses with literal_eval. */
  metadata?: Record<string, string>;
  /** Admin only: every project's snapshots. */
  all_tenants?: boolean;
  /** Admin only, with all_tenants: one project's snapshots. */
  project_id?: string;
  limit?: number;
  sort?: string;
}

export interface CreateSnapshotOpts {
  volume_id: string;
  name?: string;
  description?: string;
  metadata?: Record<string, string>;
  /**
   * Snapshot an `in-use` volume. Sent only as `force: true`: below 3.66 Cinder needs it for
   * attached volumes, from 3.66 it silently ignores a true value but rejects `force: false`
   * with 400, so false is never sent.
   */
  force?: boolean;
}

// ---- urls -----------------------------------------------------------------

export const snapshotUrls = {
  list: () => 'snapshots/detail',
  create: () => 'snapshots',
  one: (id: string) => `snapshots/${encodeURIComponent(id)}`,
  metadata: (id: string) => `snapshots/${encodeURIComponent(id)}/metadata`,
};

// ---- requests ---------------------------------------------------------------

export function toListSnapshotsQuery(q: ListSnapshotsQuery): Query {
  const out: Query = {};
  if (q.name !== undefined) out.name = q.name;
  if (q.status !== undefined) out.status = q.status;
  if (q.volume_id !== undefined) out.volume_id = q.volume_id;
  if (q.metadata) out.metadata = JSON.stringify(q.metadata);
  if (q.all_tenants) out.all_tenants = 1;
  if (q.project_id !== undefined) out.project_id = q.project_id;
  if (q.sort !== undefined) out.sort = q.sort;
  return out;
}

/** Lists snapshots with details, every page. */
export async function* listSnapshots(sc: ServiceClient, q: ListSnapshotsQuery = {}, opts?: PageOptions): AsyncGenerator<Snapshot> {
  if (q.metadata) await sc.require('3.22', 'filtering snapshots by metadata', opts?.signal);
  yield* paginate<Snapshot>(sc, snapshotUrls.list(), toListSnapshotsQuery(q), { style: 'links', key: 'snapshots', limit: q.limit }, opts);
}

export async function getSnapshot(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Snapshot> {
  return (await sc.get<{ snapshot: Snapshot }>(snapshotUrls.one(id), { signal })).data.snapshot;
}

/** Creates a snapshot. Not retried on failure: callers adopt by metadata before creating again. */
export async function createSnapshot(sc: ServiceClient, opts: CreateSnapshotOpts, signal?: AbortSignal): Promise<Snapshot> {
  const { force, ...rest } = opts;
  const body: Record<string, unknown> = { ...rest };
  if (force) body.force = true;
  return (await sc.post<{ snapshot: Snapshot }>(snapshotUrls.create(), { snapshot: body }, { ok: [202], signal })).data.snapshot;
}

export interface DeleteSnapshotOpts {
  /** A missing snapshot is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Deletes a snapshot; returns false when it was already gone. */
export async function deleteSnapshot(sc: ServiceClient, id: string, opts: DeleteSnapshotOpts = {}): Promise<boolean> {
  try {
    await sc.delete(snapshotUrls.one(id), { ok: [202, 204], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

/** Sets (merges) metadata keys. */
export async function setSnapshotMetadata(sc: ServiceClient, id: string, metadata: Record<string, string>, signal?: AbortSignal): Promise<Record<string, string>> {
  // POST merges (PUT would replace every key); merging twice gives the same result.
  return (await sc.post<{ metadata: Record<string, string> }>(snapshotUrls.metadata(id), { metadata }, { idempotent: true, signal })).data.metadata;
}

// ---- waiters ----------------------------------------------------------------

export const SNAPSHOT_FAILURES = ['error', 'error_deleting'];

/** Waits until a snapshot is in one of `target` (default available). */
export function waitForSnapshot(sc: ServiceClient, id: string, target: SnapshotStatus[] = ['available'], opts: WaitOptions = {}): Promise<Snapshot | undefined> {
  return waitFor<Snapshot>(
    { resource: `snapshot ${id}`, fetch: () => getSnapshot(sc, id, opts.signal), status: (s) => s.status, target, failure: SNAPSHOT_FAILURES },
    opts,
  );
}

/** Waits until a snapshot is gone (404, or a `deleted` row an admin can still read). */
export async function waitForSnapshotDeleted(sc: ServiceClient, id: string, opts: WaitOptions = {}): Promise<void> {
  await waitFor<Snapshot>(
    { resource: `snapshot ${id}`, fetch: () => getSnapshot(sc, id, opts.signal), status: (s) => s.status, target: [DELETED, 'deleted'], failure: ['error_deleting'] },
    opts,
  );
}
