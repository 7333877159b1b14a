// Nova v2.1 volume attachments of a server. API reference:
// https://docs.openstack.org/api-ref/compute/#servers-with-volume-attachments-servers-os-volume-attachments
// Source: nova/api/openstack/compute/volumes.py VolumeAttachmentController, schemas/volumes.py (Zed, 26.x).
//
// Attach and detach return before the work is done. Their completion is observed on the
// volume, not here: wait with blockstorage/volumes waitForVolume(id, ['in-use']) after an
// attach and waitForVolume(id, ['available']) after a detach (a failed attach leaves the
// volume `available` again, or `error_attaching`/`reserved` on some backends).
// Nova names an attachment by its volume ID: the `id` of an attachment is the volume's ID.
import { isNotFound } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';

// ---- types ----------------------------------------------------------------

export interface VolumeAttachment {
  /** The volume ID (not shown since 2.89). */
  id?: string;
  volumeId: string;
  serverId: string;
  /** Absent when Nova recorded no device name. */
  device?: string;
  /** Since 2.70. */
  tag?: string | null;
  /** Since 2.79. */
  delete_on_termination?: boolean;
  /** Since 2.89 (Cinder attachment ID). */
  attachment_id?: string;
  /** Since 2.89. */
  bdm_uuid?: string;
}

export interface AttachVolumeOpts {
  volumeId: string;
  /** e.g. /dev/vdb; hypervisors often ignore it and pick their own. */
  device?: string;
  /**
   * Since 2.49: a device tag exposed in the metadata service. Only on drivers that keep device
   * metadata (libvirt): on others, such as the fake driver, Nova (Zed) detaches a tagged volume
   * in Cinder but then fails (_delete_disk_metadata) and keeps the attachment listed.
   */
  tag?: string;
  /** Since 2.79: delete the volume when the server is deleted. */
  delete_on_termination?: boolean;
}

// ---- urls -----------------------------------------------------------------

export const volumeAttachmentUrls = {
  list: (serverId: string) => `servers/${encodeURIComponent(serverId)}/os-volume_attachments`,
  one: (serverId: string, volumeId: string) => `servers/${encodeURIComponent(serverId)}/os-volume_attachments/${encodeURIComponent(volumeId)}`,
};

// ---- requests ---------------------------------------------------------------

/**
 * Lists a server's volume attachments. Sent without limit/offset on purpose: Nova applies
 * them to every block device (local disks included) before keeping the volumes, so a page
 * can be short or empty while more attachments follow. One unpaged request returns up to
 * Nova's max_limit (1000) block devices, far above what a server can hold.
 */
export function listVolumeAttachments(sc: ServiceClient, serverId: string, opts?: PageOptions): AsyncGenerator<VolumeAttachment> {
  return paginate<VolumeAttachment>(sc, volumeAttachmentUrls.list(serverId), {}, { style: 'links', key: 'volumeAttachments' }, opts);
}

/** One attachment, by the attached volume's ID (404 when that volume is not attached to the server). */
export async function getVolumeAttachment(sc: ServiceClient, serverId: string, volumeId: string, signal?: AbortSignal): Promise<VolumeAttachment> {
  return (await sc.get<{ volumeAttachment: VolumeAttachment }>(volumeAttachmentUrls.one(serverId, volumeId), { signal })).data.volumeAttachment;
}

/**
 * Attaches a volume (200; the attach continues in the background: wait on the volume for
 * `in-use`). Not retried: a repeat would fail as the volume is already reserved. Attaching
 * to a SHELVED_OFFLOADED server needs 2.20 (Ferry's microversion is above it).
 */
export async function attachVolume(sc: ServiceClient, serverId: string, opts: AttachVolumeOpts, signal?: AbortSignal): Promise<VolumeAttachment> {
  if (opts.tag !== undefined) await sc.require('2.49', 'tagging a volume attachment', signal);
  if (opts.delete_on_termination !== undefined) await sc.require('2.79', 'delete_on_termination on an attachment', signal);
  return (await sc.post<{ volumeAttachment: VolumeAttachment }>(volumeAttachmentUrls.list(serverId), { volumeAttachment: opts }, { ok: [200], signal })).data.volumeAttachment;
}

export interface DetachVolumeOpts {
  /** A volume (or server) that is not attached any more is not an error (default true). */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/**
 * Detaches a volume (202; wait on the volume for `available`). Returns false when the volume
 * was not attached to the server (or either is gone). A root volume cannot be detached (400).
 */
export async function detachVolume(sc: ServiceClient, serverId: string, volumeId: string, opts: DetachVolumeOpts = {}): Promise<boolean> {
  try {
    await sc.delete(volumeAttachmentUrls.one(serverId, volumeId), { ok: [202], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}
