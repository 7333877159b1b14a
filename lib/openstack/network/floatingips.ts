// Neutron v2.0 floating IPs (extension `router`, L3). API reference:
// https://docs.openstack.org/api-ref/network/v2/#floating-ips-floatingips
// Source: neutron_lib/api/definitions/l3.py (FLOATINGIPS), fip_port_details.py, dns.py;
// neutron/db/l3_db.py (association), neutron_lib/exceptions/l3.py (Zed).
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import { DELETED, waitFor, type WaitOptions } from '../wait.js';
import { deleteNeutronResource, ifRevisionHeaders, toNeutronQuery, type NeutronListQuery } from './tags.js';

// ---- types ----------------------------------------------------------------

export type FloatingIpStatus = 'ACTIVE' | 'DOWN' | 'ERROR';

export interface FloatingIp {
  id: string;
  floating_ip_address: string;
  floating_network_id: string;
  /** The router that carries the NAT (null while unassociated). */
  router_id: string | null;
  port_id: string | null;
  fixed_ip_address: string | null;
  status: FloatingIpStatus;
  description: string;
  project_id: string;
  tenant_id: string;
  /** Extension `fip-port-details`. */
  port_details?: {
    name: string;
    network_id: string;
    mac_address: string;
    admin_state_up: boolean;
    status: string;
    device_id: string;
    device_owner: string;
  } | null;
  /** Extension `dns-integration`. */
  dns_domain?: string;
  dns_name?: string;
  /** Extension `qos-fip`. */
  qos_policy_id?: string | null;
  tags: string[];
  created_at: string;
  updated_at: string;
  revision_number: number;
}

export interface ListFloatingIpsQuery extends NeutronListQuery {
  id?: string | string[];
  floating_ip_address?: string;
  floating_network_id?: string;
  router_id?: string;
  port_id?: string;
  fixed_ip_address?: string;
  status?: FloatingIpStatus;
  description?: string;
}

export interface CreateFloatingIpOpts {
  /** The external network to take the address from. */
  floating_network_id: string;
  /** A specific address (admin, or policy permitting): keeps a DNS record valid after failover. */
  floating_ip_address?: string;
  /** The external subnet to take it from. */
  subnet_id?: string;
  /** Associate at once with this port... */
  port_id?: string;
  /** ...and this of its addresses (needed when the port has several). */
  fixed_ip_address?: string;
  description?: string;
  dns_name?: string;
  dns_domain?: string;
  qos_policy_id?: string;
  /** Admin: create in another project. */
  project_id?: string;
}

export interface UpdateFloatingIpOpts {
  port_id?: string | null;
  fixed_ip_address?: string | null;
  description?: string;
  qos_policy_id?: string | null;
}

// ---- urls -----------------------------------------------------------------

export const floatingIpUrls = {
  list: () => 'v2.0/floatingips',
  one: (id: string) => `v2.0/floatingips/${encodeURIComponent(id)}`,
};

// ---- requests ---------------------------------------------------------------

/** Lists floating IPs, every page (`floatingips_links` when `limit` is given). */
export function listFloatingIps(sc: ServiceClient, q: ListFloatingIpsQuery = {}, opts?: PageOptions): AsyncGenerator<FloatingIp> {
  return paginate<FloatingIp>(sc, floatingIpUrls.list(), toNeutronQuery(q), { style: 'links', key: 'floatingips', limit: q.limit }, opts);
}

export async function getFloatingIp(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<FloatingIp> {
  return (await sc.get<{ floatingip: FloatingIp }>(floatingIpUrls.one(id), { signal })).data.floatingip;
}

/** Allocates a floating IP (optionally associated at once). Not retried on failure (POST): a retry could allocate a second address. */
export async function createFloatingIp(sc: ServiceClient, opts: CreateFloatingIpOpts, signal?: AbortSignal): Promise<FloatingIp> {
  return (await sc.post<{ floatingip: FloatingIp }>(floatingIpUrls.list(), { floatingip: opts }, { ok: [201], signal })).data.floatingip;
}

/** Updates a floating IP (PUT, safe to repeat); `ifRevision` makes it fail with 412 if it changed since. */
export async function updateFloatingIp(sc: ServiceClient, id: string, opts: UpdateFloatingIpOpts, extra: { ifRevision?: number; signal?: AbortSignal } = {}): Promise<FloatingIp> {
  return (await sc.put<{ floatingip: FloatingIp }>(floatingIpUrls.one(id), { floatingip: opts }, { headers: ifRevisionHeaders(extra.ifRevision), signal: extra.signal })).data
    .floatingip;
}

/**
 * Associates the floating IP with a port (and one of its fixed addresses). Safe to repeat
 * with the same port; 409 FloatingIPPortAlreadyAssociated when another floating IP already
 * has that port and address; 400 when the port's network has no router to the external one.
 */
export function associateFloatingIp(sc: ServiceClient, id: string, portId: string, fixedIpAddress?: string, signal?: AbortSignal): Promise<FloatingIp> {
  const opts: UpdateFloatingIpOpts = { port_id: portId };
  if (fixedIpAddress !== undefined) opts.fixed_ip_address = fixedIpAddress;
  return updateFloatingIp(sc, id, opts, { signal });
}

/** Disassociates the floating IP (port_id null); the address stays allocated. */
export function disassociateFloatingIp(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<FloatingIp> {
  return updateFloatingIp(sc, id, { port_id: null }, { signal });
}

export interface DeleteFloatingIpOpts {
  /** A missing floating IP is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Releases a floating IP; returns false when it was already gone. */
export function deleteFloatingIp(sc: ServiceClient, id: string, opts: DeleteFloatingIpOpts = {}): Promise<boolean> {
  return deleteNeutronResource(sc, floatingIpUrls.one(id), opts);
}

// ---- waiters ----------------------------------------------------------------

export const FLOATING_IP_FAILURES = ['ERROR'];

/**
 * Waits until a floating IP is in one of `target` (default ACTIVE: the L3 agent or OVN wired
 * the NAT). Where no L3 backend runs (API-only routers, as in Ferry's lab) Neutron leaves an
 * associated floating IP DOWN for good: wait for ['DOWN', 'ACTIVE'] there.
 */
export async function waitForFloatingIp(sc: ServiceClient, id: string, target: FloatingIpStatus[] = ['ACTIVE'], opts: WaitOptions = {}): Promise<FloatingIp> {
  return (await waitFor<FloatingIp>(
    { resource: `floating IP ${id}`, fetch: () => getFloatingIp(sc, id, opts.signal), status: (f) => f.status, target, failure: FLOATING_IP_FAILURES },
    opts,
  ))!;
}

/** Waits until a floating IP is gone (404). */
export async function waitForFloatingIpDeleted(sc: ServiceClient, id: string, opts: WaitOptions = {}): Promise<void> {
  await waitFor<FloatingIp>({ resource: `floating IP ${id}`, fetch: () => getFloatingIp(sc, id, opts.signal), status: (f) => f.status, target: [DELETED] }, opts);
}
