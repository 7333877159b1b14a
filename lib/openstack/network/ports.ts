// Neutron v2.0 ports. API reference: https://docs.openstack.org/api-ref/network/v2/#ports
// Source: neutron_lib/api/definitions/port.py, portbindings.py, allowedaddresspairs.py,
// port_security.py, extra_dhcp_opt.py, dns.py; neutron/extensions/tagging.py (tags on POST),
// neutron/plugins/ml2/extensions/tag_ports_during_bulk_creation.py (which stores them);
// neutron/api/v2/base.py (Zed, neutron 21.0.0).
import { FerryError } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import { DELETED, waitFor, type WaitOptions } from '../wait.js';
import { deleteNeutronResource, ifRevisionHeaders, replaceTags, toNeutronQuery, type NeutronListQuery } from './tags.js';

// ---- types ----------------------------------------------------------------

export type PortStatus = 'ACTIVE' | 'BUILD' | 'DOWN' | 'ERROR' | 'N/A';

export interface FixedIp {
  subnet_id: string;
  ip_address: string;
}

export interface AllowedAddressPair {
  ip_address: string;
  mac_address?: string;
}

export interface ExtraDhcpOpt {
  opt_name: string;
  opt_value: string;
  ip_version?: 4 | 6;
}

export type VnicType = 'normal' | 'macvtap' | 'direct' | 'baremetal' | 'direct-physical' | 'virtio-forwarder' | 'smart-nic' | 'remote-managed';

export interface Port {
  id: string;
  name: string;
  description: string;
  network_id: string;
  mac_address: string;
  fixed_ips: FixedIp[];
  /** The owner's ID: a server ID for `compute:*`, a router ID for `network:router_interface`. */
  device_id: string;
  /** e.g. `compute:nova`, `network:router_interface`, `network:dhcp`, `network:floatingip`. */
  device_owner: string;
  status: PortStatus;
  admin_state_up: boolean;
  project_id: string;
  tenant_id: string;
  /** Extension `security-group`. */
  security_groups: string[];
  /** Extension `allowed-address-pairs`. */
  allowed_address_pairs: AllowedAddressPair[];
  /** Extension `port-security`. */
  port_security_enabled?: boolean;
  /** Extension `binding` (admin only for most fields). */
  'binding:host_id'?: string;
  'binding:vnic_type'?: VnicType;
  'binding:profile'?: Record<string, unknown>;
  'binding:vif_type'?: string;
  'binding:vif_details'?: Record<string, unknown>;
  /** Extension `extra_dhcp_opt`. */
  extra_dhcp_opts?: ExtraDhcpOpt[];
  /** Extension `dns-integration`. */
  dns_name?: string;
  dns_assignment?: { hostname: string; ip_address: string; fqdn: string }[];
  /** Extension `qos`. */
  qos_policy_id?: string | null;
  /** Extension `uplink-status-propagation`. */
  propagate_uplink_status?: boolean;
  tags: string[];
  created_at: string;
  updated_at: string;
  revision_number: number;
}

/** A `fixed_ips` filter: each entry is sent as one `fixed_ips=<key>=<value>` parameter. */
export interface FixedIpFilter {
  ip_address?: string;
  subnet_id?: string;
  /** Extension `ip-substring-filtering`. */
  ip_address_substr?: string;
}

export interface ListPortsQuery extends NeutronListQuery {
  id?: string | string[];
  name?: string | string[];
  network_id?: string | string[];
  device_id?: string | string[];
  device_owner?: string | string[];
  mac_address?: string;
  status?: PortStatus;
  admin_state_up?: boolean;
  fixed_ips?: FixedIpFilter[];
  security_groups?: string[];
  'binding:host_id'?: string;
}

export interface CreatePortOpts {
  network_id: string;
  name?: string;
  description?: string;
  admin_state_up?: boolean;
  /** Ask for addresses: by subnet, by address, or both. */
  fixed_ips?: Partial<FixedIp>[];
  /** Keep the MAC of the port being replicated. */
  mac_address?: string;
  device_id?: string;
  device_owner?: string;
  security_groups?: string[];
  allowed_address_pairs?: AllowedAddressPair[];
  port_security_enabled?: boolean;
  'binding:host_id'?: string;
  'binding:vnic_type'?: VnicType;
  'binding:profile'?: Record<string, unknown>;
  extra_dhcp_opts?: ExtraDhcpOpt[];
  dns_name?: string;
  qos_policy_id?: string | null;
  propagate_uplink_status?: boolean;
  /**
   * Ports (only ports) take tags on create, stored only with ML2's
   * `tag_ports_during_bulk_creation` extension driver; createPort sets them afterwards otherwise.
   */
  tags?: string[];
  /** Admin: create in another project. */
  project_id?: string;
}

export type UpdatePortOpts = Omit<CreatePortOpts, 'network_id' | 'project_id' | 'tags' | 'propagate_uplink_status'>;

// ---- urls -----------------------------------------------------------------

export const portUrls = {
  list: () => 'v2.0/ports',
  one: (id: string) => `v2.0/ports/${encodeURIComponent(id)}`,
};

// ---- requests ---------------------------------------------------------------

export function toListPortsQuery(q: ListPortsQuery) {
  const { fixed_ips, ...rest } = q;
  const out = toNeutronQuery(rest);
  if (fixed_ips && fixed_ips.length > 0) {
    const values: string[] = [];
    for (const f of fixed_ips) {
      for (const [k, v] of Object.entries(f) as [string, string | undefined][]) if (v !== undefined) values.push(`${k}=${v}`);
    }
    out.fixed_ips = values;
  }
  return out;
}

/** Lists ports, every page (`ports_links` when `limit` is given). */
export function listPorts(sc: ServiceClient, q: ListPortsQuery = {}, opts?: PageOptions): AsyncGenerator<Port> {
  return paginate<Port>(sc, portUrls.list(), toListPortsQuery(q), { style: 'links', key: 'ports', limit: q.limit }, opts);
}

export async function getPort(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Port> {
  return (await sc.get<{ port: Port }>(portUrls.one(id), { signal })).data.port;
}

/**
 * Creates a port. Not retried on failure (POST): an address or MAC already taken gives 409
 * IpAddressAlreadyAllocated / MacAddressInUse.
 *
 * Tags: the API accepts `tags` on POST for every ML2 cloud, but Neutron stores them only when
 * ML2's `tag_ports_during_bulk_creation` extension driver is enabled (extension
 * `tag-ports-during-bulk-creation`); otherwise they are dropped without an error (seen on the
 * lab's Zed with `extension_drivers = port_security`). So when the new port lacks any of the
 * tags asked for, they are set with PUT ports/{id}/tags and the port is read again (two more
 * requests, only on such clouds), so the returned port carries its tags and current revision.
 * If tagging fails the port exists untagged: the error names it so the caller can remove it.
 */
export async function createPort(sc: ServiceClient, opts: CreatePortOpts, signal?: AbortSignal): Promise<Port> {
  const port = (await sc.post<{ port: Port }>(portUrls.list(), { port: opts }, { ok: [201], signal })).data.port;
  const wanted = opts.tags ?? [];
  const have = port.tags ?? [];
  if (!wanted.some((t) => !have.includes(t))) return port;
  try {
    await replaceTags(sc, 'ports', port.id, [...new Set([...have, ...wanted])], signal);
    return await getPort(sc, port.id, signal);
  } catch (err) {
    throw new FerryError(`network: port ${port.id} was created but tagging it failed (Neutron dropped the tags given on create): ${(err as Error).message}`, { cause: err });
  }
}

/** Updates a port (PUT, safe to repeat); `ifRevision` makes it fail with 412 if the port changed since. */
export async function updatePort(sc: ServiceClient, id: string, opts: UpdatePortOpts, extra: { ifRevision?: number; signal?: AbortSignal } = {}): Promise<Port> {
  return (await sc.put<{ port: Port }>(portUrls.one(id), { port: opts }, { headers: ifRevisionHeaders(extra.ifRevision), signal: extra.signal })).data.port;
}

export interface DeletePortOpts {
  /** A missing port is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Deletes a port; returns false when it was already gone. */
export function deletePort(sc: ServiceClient, id: string, opts: DeletePortOpts = {}): Promise<boolean> {
  return deleteNeutronResource(sc, portUrls.one(id), opts);
}

// ---- waiters ----------------------------------------------------------------

export const PORT_FAILURES = ['ERROR'];

/** Waits until a port is in one of `target` (default ACTIVE or DOWN: bound and wired, up or not). */
export async function waitForPort(sc: ServiceClient, id: string, target: PortStatus[] = ['ACTIVE', 'DOWN'], opts: WaitOptions = {}): Promise<Port> {
  return (await waitFor<Port>({ resource: `port ${id}`, fetch: () => getPort(sc, id, opts.signal), status: (p) => p.status, target, failure: PORT_FAILURES }, opts))!;
}

/** Waits until a port is gone (404). */
export async function waitForPortDeleted(sc: ServiceClient, id: string, opts: WaitOptions = {}): Promise<void> {
  await waitFor<Port>({ resource: `port ${id}`, fetch: () => getPort(sc, id, opts.signal), status: (p) => p.status, target: [DELETED] }, opts);
}
