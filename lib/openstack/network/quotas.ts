// Neutron quotas of a project: the limits (extension `quotas`) and, with usage, the details
// (extension `quota_details`). Read-only here: Ferry checks that a plan fits, it does not set quotas.
// API reference: https://docs.openstack.org/api-ref/network/v2/#quotas-extension-quotas and
// https://docs.openstack.org/api-ref/network/v2/#quotas-details-extension-quota-details
// Source: neutron/extensions/quotasv2.py QuotaSetsController.show,
// neutron/extensions/quotasv2_detail.py DetailQuotaSetsController.details,
// neutron/db/quota/driver.py DbQuotaDriver.get_project_quotas / get_detailed_project_quotas
// (Zed, neutron 21.0.0).
//
// The resources are those the loaded plugins register (network, subnet, port, router,
// floatingip, security_group, security_group_rule, subnetpool, rbac_policy, trunk...), so both
// answers are open maps. -1 means unlimited. A project without its own limits gets the
// defaults; Neutron does not check that the project exists. Another project's quotas need
// admin: a member gets 403 (policy `get_quota` for the limits, AdminRequired for the details).
import { isNotFound, NotSupportedError } from '../../errors.js';
import type { ServiceClient } from '../service-client.js';

// ---- types ----------------------------------------------------------------

/** The usual resources; plugins may register others. */
export type NetworkQuotaResource = 'network' | 'subnet' | 'port' | 'router' | 'floatingip' | 'security_group' | 'security_group_rule' | 'subnetpool' | 'rbac_policy' | 'trunk';

/** GET v2.0/quotas/{project_id}: resource → limit. */
export type NetworkQuota = Partial<Record<NetworkQuotaResource, number>> & Record<string, number>;

/** One resource of the detailed answer. */
export interface NetworkQuotaDetail {
  limit: number;
  /** Resources the project holds now (tracked resources are counted from Neutron's usage table). */
  used: number;
  /** Reservations held by create requests in flight (short-lived; they expire on their own). */
  reserved: number;
}

/** GET v2.0/quotas/{project_id}/details: resource → limit, used, reserved. */
export type NetworkQuotaDetails = Partial<Record<NetworkQuotaResource, NetworkQuotaDetail>> & Record<string, NetworkQuotaDetail>;

// ---- urls -----------------------------------------------------------------

export const quotaUrls = {
  one: (projectId: string) => `v2.0/quotas/${encodeURIComponent(projectId)}`,
  details: (projectId: string) => `v2.0/quotas/${encodeURIComponent(projectId)}/details`,
};

// ---- requests ---------------------------------------------------------------

/** A project's network quota limits. */
export async function getQuota(sc: ServiceClient, projectId: string, signal?: AbortSignal): Promise<NetworkQuota> {
  return (await sc.get<{ quota: NetworkQuota }>(quotaUrls.one(projectId), { signal })).data.quota;
}

/**
 * A project's network quotas with usage. Needs the `quota_details` extension, which Neutron
 * loads only with a database quota driver: without it the path does not exist, and the 404
 * becomes a NotSupportedError saying so.
 */
export async function getQuotaDetails(sc: ServiceClient, projectId: string, signal?: AbortSignal): Promise<NetworkQuotaDetails> {
  try {
    return (await sc.get<{ quota: NetworkQuotaDetails }>(quotaUrls.details(projectId), { signal })).data.quota;
  } catch (err) {
    if (isNotFound(err)) throw new NotSupportedError(`network at site ${sc.site}: quota usage needs Neutron's quota_details extension, which this site does not offer (${err.message})`);
    throw err;
  }
}

/** Room left for one resource: Infinity when unlimited (-1) or unknown, else limit - used - reserved (never below 0). */
export function quotaHeadroom(details: NetworkQuotaDetails, resource: string): number {
  const d = details[resource];
  if (d === undefined || d.limit < 0) return Infinity;
  return Math.max(0, d.limit - d.used - d.reserved);
}
