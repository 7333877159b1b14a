// Cinder v3 volumes. API reference: https://docs.openstack.org/api-ref/block-storage/v3/#volumes-volumes
// Source: cinder/api/v3/volumes.py, cinder/api/v2/views/volumes.py (Zed).
import { isNotFound } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';
import { DELETED, waitFor, type WaitOptions } from '../wait.js';

// ---- types ----------------------------------------------------------------

export type VolumeStatus =
  | 'creating'
  | 'available'
  | 'reserved'
  | 'attaching'
  | 'detaching'
  | 'in-use'
  | 'maintenance'
  | 'deleting'
  | 'awaiting-transfer'
  | 'error'
  | 'error_deleting'
  | 'backing-up'
  | 'restoring-backup'
  | 'error_backing-up'
  | 'error_restoring'
  | 'error_extending'
  | 'downloading'
  | 'uploading'
  | 'retyping'
  | 'extending';

export interface VolumeAttachment {
  id: string;
  attachment_id: string;
  volume_id: string;
  server_id: string;
  host_name: string | null;
  device: string;
  attached_at: string;
}

export interface Volume {
  id: string;
  name: string | null;
  description: string | null;
  status: VolumeStatus;
  size: number;
  availability_zone: string;
  created_at: string;
  updated_at: string | null;
  /** "true" or "false" (a string on the wire). */
  bootable: 'true' | 'false';
  encrypted: boolean;
  multiattach: boolean;
  volume_type: string | null;
  snapshot_id: string | null;
  source_volid: string | null;
  metadata: Record<string, string>;
  attachments: VolumeAttachment[];
  links?: { href: string; rel: string }[];
  /** Present when the volume was created from an image. */
  volume_image_metadata?: Record<string, string>;
  replication_status?: string | null;
  consistencygroup_id?: string | null;
  user_id?: string;
  'os-vol-tenant-attr:tenant_id'?: string;
  'os-vol-host-attr:host'?: string | null;
  /** Since 3.13. */
  group_id?: string | null;
  /** Since 3.47 (volume created from a backup). */
  backup_id?: string | null;
  /** Since 3.48. */
  shared_targets?: boolean;
  /** Since 3.63. */
  volume_type_id?: string;
}

export interface ListVolumesQuery {
  name?: string;
  status?: VolumeStatus;
  /** Admin only: every project's volumes. */
  all_tenants?: boolean;
  project_id?: string;
  /** Filter on metadata, e.g. {"ferry:plan": "web"}; sent as a JSON object (Cinder's format). */
  metadata?: Record<string, string>;
  bootable?: boolean;
  limit?: number;
  sort?: string;
}

export interface CreateVolumeOpts {
  size?: number;
  name?: string;
  description?: string;
  volume_type?: string;
  availability_zone?: string;
  metadata?: Record<string, string>;
  snapshot_id?: string;
  source_volid?: string;
  imageRef?: string;
  /** Since 3.47: restore a backup into a new volume. */
  backup_id?: string;
  /** Since 3.13: create the volume in this generic volume group (its type must be one of the group's). */
  group_id?: string;
  multiattach?: boolean;
}

export interface UpdateVolumeOpts {
  name?: string;
  description?: string;
  metadata?: Record<string, string>;
}

// ---- urls -----------------------------------------------------------------

export const volumeUrls = {
  list: () => 'volumes/detail',
  create: () => 'volumes',
  one: (id: string) => `volumes/${encodeURIComponent(id)}`,
  action: (id: string) => `volumes/${encodeURIComponent(id)}/action`,
  metadata: (id: string) => `volumes/${encodeURIComponent(id)}/metadata`,
};

// ---- requests ---------------------------------------------------------------

export function toListVolumesQuery(q: ListVolumesQuery): Query {
  const out: Query = {};
  if (q.name !== undefined) out.name = q.name;
  if (q.status !== undefined) out.status = q.status;
  if (q.all_tenants) out.all_tenants = 1;
  if (q.project_id !== undefined) out.project_id = q.project_id;
  if (q.metadata) out.metadata = JSON.stringify(q.metadata);
  if (q.bootable !== undefined) out.bootable = q.bootable;
  if (q.sort !== undefined) out.sort = q.sort;
  return out;
}

/** Lists volumes with details, every page. */
export function listVolumes(sc: ServiceClient, q: ListVolumesQuery = {}, opts?: PageOptions): AsyncGenerator<Volume> {
  return paginate<Volume>(sc, volumeUrls.list(), toListVolumesQuery(q), { style: 'links', key: 'volumes', limit: q.limit }, opts);
}

export async function getVolume(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Volume> {
  return (await sc.get<{ volume: Volume }>(volumeUrls.one(id), { signal })).data.volume;
}

/** Creates a volume. Not retried on failure: callers adopt by metadata before creating again. */
export async function createVolume(sc: ServiceClient, opts: CreateVolumeOpts, signal?: AbortSignal): Promise<Volume> {
  if (opts.backup_id) await sc.require('3.47', 'creating a volume from a backup', signal);
  if (opts.group_id) await sc.require('3.13', 'creating a volume in a group', signal);
  return (await sc.post<{ volume: Volume }>(volumeUrls.create(), { volume: opts }, { ok: [202], signal })).data.volume;
}

export async function updateVolume(sc: ServiceClient, id: string, opts: UpdateVolumeOpts, signal?: AbortSignal): Promise<Volume> {
  return (await sc.put<{ volume: Volume }>(volumeUrls.one(id), { volume: opts }, { signal })).data.volume;
}

export interface DeleteVolumeOpts {
  /** Also delete the volume's snapshots. */
  cascade?: boolean;
  /** A missing volume is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Deletes a volume; returns false when it was already gone. */
export async function deleteVolume(sc: ServiceClient, id: string, opts: DeleteVolumeOpts = {}): Promise<boolean> {
  try {
    await sc.delete(volumeUrls.one(id), { query: opts.cascade ? { cascade: true } : undefined, ok: [202, 204], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

/** Sets (merges) metadata keys. */
export async function setVolumeMetadata(sc: ServiceClient, id: string, metadata: Record<string, string>, signal?: AbortSignal): Promise<Record<string, string>> {
  // POST merges (PUT would replace every key); merging twice gives the same result.
  return (await sc.post<{ metadata: Record<string, string> }>(volumeUrls.metadata(id), { metadata }, { idempotent: true, signal })).data.metadata;
}

export async function setVolumeBootable(sc: ServiceClient, id: string, bootable: boolean, signal?: AbortSignal): Promise<void> {
  await sc.post(volumeUrls.action(id), { 'os-set_bootable': { bootable } }, { ok: [200, 202], idempotent: true, signal });
}

export async function extendVolume(sc: ServiceClient, id: string, newSize: number, signal?: AbortSignal): Promise<void> {
  await sc.post(volumeUrls.action(id), { 'os-extend': { new_size: newSize } }, { ok: [202], signal });
}

/** Admin: resets a stuck volume's status (e.g. after a failed attach left it `attaching`). */
export async function resetVolumeStatus(sc: ServiceClient, id: string, status: VolumeStatus, signal?: AbortSignal): Promise<void> {
  await sc.post(volumeUrls.action(id), { 'os-reset_status': { status } }, { ok: [202], idempotent: true, signal });
}

// ---- waiters ----------------------------------------------------------------

export const VOLUME_FAILURES = ['error', 'error_deleting', 'error_backing-up', 'error_restoring', 'error_extending'];

/** Waits until a volume is in one of `target` (e.g. available, in-use). */
export function waitForVolume(sc: ServiceClient, id: string, target: VolumeStatus[], opts: WaitOptions = {}): Promise<Volume | undefined> {
  return waitFor<Volume>(
    { resource: `volume ${id}`, fetch: () => getVolume(sc, id, opts.signal), status: (v) => v.status, target, failure: VOLUME_FAILURES },
    opts,
  );
}

/** Waits until a volume is gone (404). */
export async function waitForVolumeDeleted(sc: ServiceClient, id: string, opts: WaitOptions = {}): Promise<void> {
  await waitFor<Volume>(
    { resource: `volume ${id}`, fetch: () => getVolume(sc, id, opts.signal), status: (v) => v.status, target: [DELETED], failure: ['error_deleting'] },
    opts,
  );
}
