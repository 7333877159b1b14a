// Nova v2.1 limits and quota sets. API reference:
// https://docs.openstack.org/api-ref/compute/#limits-limits and #quota-sets-os-quota-sets
// Source: nova/api/openstack/compute/limits.py, views/limits.py, quota_sets.py,
// schemas/quota_sets.py (Zed, 26.x).
//
// Network quotas (floating IPs, security groups and their rules) left Nova's answers at 2.36
// and injected files at 2.57: read those from Neutron. Ferry's 2.79 never shows them.
import type { ServiceClient } from '../service-client.js';

// ---- types ----------------------------------------------------------------

/** Absolute limits and usage of a project; -1 means unlimited. */
export interface AbsoluteLimits {
  maxTotalInstances: number;
  maxTotalCores: number;
  /** MiB. */
  maxTotalRAMSize: number;
  maxTotalKeypairs: number;
  maxServerMeta: number;
  maxServerGroups: number;
  maxServerGroupMembers: number;
  totalInstancesUsed: number;
  totalCoresUsed: number;
  totalRAMUsed: number;
  totalServerGroupsUsed: number;
  /** Before 2.39. */
  maxImageMeta?: number;
  /** Before 2.57. */
  maxPersonality?: number;
  maxPersonalitySize?: number;
  /** Before 2.36. */
  maxTotalFloatingIps?: number;
  maxSecurityGroups?: number;
  maxSecurityGroupRules?: number;
  totalFloatingIpsUsed?: number;
  totalSecurityGroupsUsed?: number;
}

export interface Limits {
  absolute: AbsoluteLimits;
  /** Always empty since rate limiting left Nova (Newton). */
  rate: unknown[];
}

/** One resource of a detailed quota set. */
export interface QuotaDetail {
  limit: number;
  in_use: number;
  /** Always 0 since Nova stopped reserving (Pike). */
  reserved: number;
}

export type QuotaResource = 'instances' | 'cores' | 'ram' | 'key_pairs' | 'metadata_items' | 'server_groups' | 'server_group_members';

/** GET os-quota-sets/{project}/detail. */
export type QuotaSetDetail = { id: string } & Record<QuotaResource, QuotaDetail> & Partial<Record<string, QuotaDetail | string>>;

/** What an update returns: plain limits, and no `id`. */
export type QuotaSet = Record<QuotaResource, number> & Partial<Record<string, number>>;

export interface UpdateQuotaSetOpts {
  instances?: number;
  cores?: number;
  /** MiB. */
  ram?: number;
  key_pairs?: number;
  metadata_items?: number;
  server_groups?: number;
  server_group_members?: number;
  /** Set limits below current usage instead of failing with 400. */
  force?: boolean;
}

// ---- urls -----------------------------------------------------------------

export const limitUrls = {
  limits: () => 'limits',
  quotaSet: (projectId: string) => `os-quota-sets/${encodeURIComponent(projectId)}`,
  quotaSetDetail: (projectId: string) => `os-quota-sets/${encodeURIComponent(projectId)}/detail`,
};

// ---- requests ---------------------------------------------------------------

/** The caller's project limits and usage; admins may name another project (`tenant_id`). */
export async function getLimits(sc: ServiceClient, opts: { project_id?: string; signal?: AbortSignal } = {}): Promise<Limits> {
  const query = opts.project_id !== undefined ? { tenant_id: opts.project_id } : undefined;
  return (await sc.get<{ limits: Limits }>(limitUrls.limits(), { query, signal: opts.signal })).data.limits;
}

/** A project's quotas with usage (`user_id`: one user's share of it). */
export async function getQuotaSet(sc: ServiceClient, projectId: string, opts: { user_id?: string; signal?: AbortSignal } = {}): Promise<QuotaSetDetail> {
  const query = opts.user_id !== undefined ? { user_id: opts.user_id } : undefined;
  return (await sc.get<{ quota_set: QuotaSetDetail }>(limitUrls.quotaSetDetail(projectId), { query, signal: opts.signal })).data.quota_set;
}

/**
 * Admin: sets a project's (or one user's) quotas; returns the resulting limits. PUT with
 * absolute values, so repeating it is harmless. Under unified limits (Keystone) Nova accepts
 * and ignores it.
 */
export async function updateQuotaSet(sc: ServiceClient, projectId: string, quotas: UpdateQuotaSetOpts, opts: { user_id?: string; signal?: AbortSignal } = {}): Promise<QuotaSet> {
  const query = opts.user_id !== undefined ? { user_id: opts.user_id } : undefined;
  return (await sc.put<{ quota_set: QuotaSet }>(limitUrls.quotaSet(projectId), { quota_set: quotas }, { query, signal: opts.signal })).data.quota_set;
}
