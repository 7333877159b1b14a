// Cinder v3 limits and quota sets: can the secondary site hold what a plan restores?
// API reference: https://docs.openstack.org/api-ref/block-storage/v3/#limits-limits and
// https://docs.openstack.org/api-ref/block-storage/v3/#quota-sets-extension-os-quota-sets
// Source: cinder/api/v3/limits.py, cinder/api/views/limits.py, cinder/api/contrib/used_limits.py,
// cinder/api/contrib/quotas.py, cinder/quota.py DbQuotaDriver.get_project_quotas (Zed).
import type { ServiceClient } from '../service-client.js';

// ---- types ----------------------------------------------------------------

/**
 * Absolute limits (views/limits.py) and, when policy allows (used_limits.py), the usage.
 * -1 means unlimited.
 */
export interface AbsoluteLimits {
  maxTotalVolumes?: number;
  maxTotalSnapshots?: number;
  maxTotalVolumeGigabytes?: number;
  maxTotalBackups?: number;
  maxTotalBackupGigabytes?: number;
  totalVolumesUsed?: number;
  totalGigabytesUsed?: number;
  totalSnapshotsUsed?: number;
  totalBackupsUsed?: number;
  totalBackupGigabytesUsed?: number;
}

export interface RateLimit {
  uri: string;
  regex: string;
  limit: { verb: string; value: number; remaining: number; unit: string; 'next-available': string }[];
}

export interface Limits {
  rate: RateLimit[];
  absolute: AbsoluteLimits;
}

/**
 * A project's quota limits: the named keys plus per-type keys such as `volumes_ceph`,
 * `gigabytes_ceph`, `snapshots_ceph`. -1 means unlimited.
 */
export interface QuotaSet {
  /** The project ID. */
  id: string;
  volumes?: number;
  snapshots?: number;
  backups?: number;
  gigabytes?: number;
  backup_gigabytes?: number;
  per_volume_gigabytes?: number;
  groups?: number;
  [resource: string]: number | string | undefined;
}

export interface QuotaUsage {
  limit: number;
  in_use: number;
  reserved: number;
  /** Only with nested-quota drivers. */
  allocated?: number;
}

/** GET os-quota-sets/{project_id}?usage=true: every resource with its limit and usage. */
export interface QuotaSetUsage {
  id: string;
  volumes?: QuotaUsage;
  snapshots?: QuotaUsage;
  backups?: QuotaUsage;
  gigabytes?: QuotaUsage;
  backup_gigabytes?: QuotaUsage;
  per_volume_gigabytes?: QuotaUsage;
  groups?: QuotaUsage;
  [resource: string]: QuotaUsage | string | undefined;
}

// ---- urls -----------------------------------------------------------------

export const limitUrls = {
  limits: () => 'limits',
  quotaSet: (projectId: string) => `os-quota-sets/${encodeURIComponent(projectId)}`,
  quotaDefaults: (projectId: string) => `os-quota-sets/${encodeURIComponent(projectId)}/defaults`,
};

// ---- requests ---------------------------------------------------------------

/** Reads the limits and usage of the caller's project, or (admin, since 3.39) of `projectId`. */
export async function getLimits(sc: ServiceClient, projectId?: string, signal?: AbortSignal): Promise<Limits> {
  if (projectId) await sc.require('3.39', "reading another project's limits", signal);
  const query = projectId ? { project_id: projectId } : undefined;
  return (await sc.get<{ limits: Limits }>(limitUrls.limits(), { query, signal })).data.limits;
}

/** Reads a project's quota limits. */
export async function getQuotaSet(sc: ServiceClient, projectId: string, signal?: AbortSignal): Promise<QuotaSet> {
  return (await sc.get<{ quota_set: QuotaSet }>(limitUrls.quotaSet(projectId), { signal })).data.quota_set;
}

/** Reads a project's quota limits with usage (in_use, reserved) per resource. */
export async function getQuotaUsage(sc: ServiceClient, projectId: string, signal?: AbortSignal): Promise<QuotaSetUsage> {
  return (await sc.get<{ quota_set: QuotaSetUsage }>(limitUrls.quotaSet(projectId), { query: { usage: true }, signal })).data.quota_set;
}

/** Reads the default quotas a project without its own gets. */
export async function getQuotaDefaults(sc: ServiceClient, projectId: string, signal?: AbortSignal): Promise<QuotaSet> {
  return (await sc.get<{ quota_set: QuotaSet }>(limitUrls.quotaDefaults(projectId), { signal })).data.quota_set;
}

/**
 * Admin: sets quota limits (only the keys given). Cinder refuses with 400 a limit below the
 * current usage. Returns every limit of the project after the update.
 */
export async function updateQuotaSet(sc: ServiceClient, projectId: string, quotas: Record<string, number>, signal?: AbortSignal): Promise<Record<string, number>> {
  return (await sc.put<{ quota_set: Record<string, number> }>(limitUrls.quotaSet(projectId), { quota_set: quotas }, { signal })).data.quota_set;
}

/**
 * How much room a project has left for one resource, from a usage quota set: Infinity when
 * unlimited (-1) or not a quota resource, otherwise limit - in_use - reserved (never below 0).
 */
export function quotaHeadroom(usage: QuotaSetUsage, resource: string): number {
  const u = usage[resource];
  if (u === undefined || typeof u === 'string') return Infinity;
  if (u.limit < 0) return Infinity;
  return Math.max(0, u.limit - u.in_use - u.reserved);
}
