// Neutron v2.0 subnets. API reference: https://docs.openstack.org/api-ref/network/v2/#subnets
// Source: neutron_lib/api/definitions/subnet.py (plus subnet-segmentid-writable,
// subnet-service-types, dns-integration, standard-attr extensions), neutron/db/db_base_plugin_v2.py (Zed).
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import { deleteNeutronResource, ifRevisionHeaders, toNeutronQuery, type NeutronListQuery } from './tags.js';

// ---- types ----------------------------------------------------------------

export type Ipv6Mode = 'slaac' | 'dhcpv6-stateful' | 'dhcpv6-stateless';

export interface AllocationPool {
  start: string;
  end: string;
}

export interface HostRoute {
  destination: string;
  nexthop: string;
}

export interface Subnet {
  id: string;
  name: string;
  description: string;
  network_id: string;
  ip_version: 4 | 6;
  cidr: string;
  /** null when the subnet has no gateway. */
  gateway_ip: string | null;
  enable_dhcp: boolean;
  allocation_pools: AllocationPool[];
  dns_nameservers: string[];
  host_routes: HostRoute[];
  ipv6_ra_mode: Ipv6Mode | null;
  ipv6_address_mode: Ipv6Mode | null;
  subnetpool_id: string | null;
  project_id: string;
  tenant_id: string;
  /** Extension `segment`. */
  segment_id?: string | null;
  /** Extension `subnet-service-types`. */
  service_types?: string[];
  /** Extension `subnet-dns-publish-fixed-ip`. */
  dns_publish_fixed_ip?: boolean;
  tags: string[];
  created_at: string;
  updated_at: string;
  revision_number: number;
}

export interface ListSubnetsQuery extends NeutronListQuery {
  id?: string | string[];
  name?: string | string[];
  network_id?: string | string[];
  cidr?: string;
  ip_version?: 4 | 6;
  gateway_ip?: string;
  enable_dhcp?: boolean;
  subnetpool_id?: string;
  segment_id?: string;
}

export interface CreateSubnetOpts {
  network_id: string;
  ip_version: 4 | 6;
  /** Required unless a subnet pool allocates the prefix. */
  cidr?: string;
  name?: string;
  description?: string;
  /** null: no gateway. Omitted: the first address of the CIDR. */
  gateway_ip?: string | null;
  enable_dhcp?: boolean;
  allocation_pools?: AllocationPool[];
  dns_nameservers?: string[];
  host_routes?: HostRoute[];
  ipv6_ra_mode?: Ipv6Mode;
  ipv6_address_mode?: Ipv6Mode;
  subnetpool_id?: string;
  /** Prefix length to take from the subnet pool. */
  prefixlen?: number;
  use_default_subnetpool?: boolean;
  segment_id?: string;
  service_types?: string[];
  dns_publish_fixed_ip?: boolean;
  /** Admin: create in another project. */
  project_id?: string;
}

export interface UpdateSubnetOpts {
  name?: string;
  description?: string;
  gateway_ip?: string | null;
  enable_dhcp?: boolean;
  allocation_pools?: AllocationPool[];
  dns_nameservers?: string[];
  host_routes?: HostRoute[];
  segment_id?: string;
  service_types?: string[];
  dns_publish_fixed_ip?: boolean;
}

// ---- urls -----------------------------------------------------------------

export const subnetUrls = {
  list: () => 'v2.0/subnets',
  one: (id: string) => `v2.0/subnets/${encodeURIComponent(id)}`,
};

// ---- requests ---------------------------------------------------------------

/** Lists subnets, every page (`subnets_links` when `limit` is given). */
export function listSubnets(sc: ServiceClient, q: ListSubnetsQuery = {}, opts?: PageOptions): AsyncGenerator<Subnet> {
  return paginate<Subnet>(sc, subnetUrls.list(), toNeutronQuery(q), { style: 'links', key: 'subnets', limit: q.limit }, opts);
}

export async function getSubnet(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Subnet> {
  return (await sc.get<{ subnet: Subnet }>(subnetUrls.one(id), { signal })).data.subnet;
}

/** Creates a subnet. Not retried on failure (POST). */
export async function createSubnet(sc: ServiceClient, opts: CreateSubnetOpts, signal?: AbortSignal): Promise<Subnet> {
  return (await sc.post<{ subnet: Subnet }>(subnetUrls.list(), { subnet: opts }, { ok: [201], signal })).data.subnet;
}

/** Updates a subnet (PUT, safe to repeat); `ifRevision` makes it fail with 412 if it changed since. */
export async function updateSubnet(sc: ServiceClient, id: string, opts: UpdateSubnetOpts, extra: { ifRevision?: number; signal?: AbortSignal } = {}): Promise<Subnet> {
  return (await sc.put<{ subnet: Subnet }>(subnetUrls.one(id), { subnet: opts }, { headers: ifRevisionHeaders(extra.ifRevision), signal: extra.signal })).data.subnet;
}

export interface DeleteSubnetOpts {
  /** A missing subnet is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Deletes a subnet; returns false when it was already gone. Ports still on it give 409 SubnetInUse. */
export function deleteSubnet(sc: ServiceClient, id: string, opts: DeleteSubnetOpts = {}): Promise<boolean> {
  return deleteNeutronResource(sc, subnetUrls.one(id), opts);
}
