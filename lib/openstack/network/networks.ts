// Neutron v2.0 networks. API reference: https://docs.openstack.org/api-ref/network/v2/#networks
// Source: neutron_lib/api/definitions/network.py (plus the provider, external-net, mtu,
// port-security, availability-zone, standard-attr extensions), neutron/api/v2/base.py (Zed).
// Neutron has no microversions: fields belong to API extensions, noted per field.
import { FerryError } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import { deleteNeutronResource, ifRevisionHeaders, toNeutronQuery, type NeutronListQuery } from './tags.js';

// ---- types ----------------------------------------------------------------

export type NetworkStatus = 'ACTIVE' | 'BUILD' | 'DOWN' | 'ERROR';

export interface Network {
  id: string;
  name: string;
  description: string;
  status: NetworkStatus;
  admin_state_up: boolean;
  shared: boolean;
  project_id: string;
  tenant_id: string;
  /** IDs of the network's subnets. */
  subnets: string[];
  /** Extension `external-net`. */
  'router:external'?: boolean;
  /** Extension `net-mtu`. */
  mtu?: number;
  /** Extension `port-security`: default of the network's new ports. */
  port_security_enabled?: boolean;
  /** Extension `provider` (admin only). */
  'provider:network_type'?: string | null;
  'provider:physical_network'?: string | null;
  'provider:segmentation_id'?: number | null;
  /** Extension `network_availability_zone`. */
  availability_zone_hints?: string[];
  availability_zones?: string[];
  /** Extension `qos`. */
  qos_policy_id?: string | null;
  /** Extension `dns-integration`. */
  dns_domain?: string;
  /** Extension `auto-allocated-topology`. */
  is_default?: boolean;
  ipv4_address_scope?: string | null;
  ipv6_address_scope?: string | null;
  /** Extension `standard-attr-tag`. */
  tags: string[];
  created_at: string;
  updated_at: string;
  revision_number: number;
}

export interface ListNetworksQuery extends NeutronListQuery {
  id?: string | string[];
  name?: string | string[];
  status?: NetworkStatus;
  shared?: boolean;
  admin_state_up?: boolean;
  'router:external'?: boolean;
  'provider:network_type'?: string;
  'provider:physical_network'?: string;
  'provider:segmentation_id'?: number;
  mtu?: number;
  is_default?: boolean;
}

export interface CreateNetworkOpts {
  name?: string;
  description?: string;
  admin_state_up?: boolean;
  shared?: boolean;
  /** Admin: create in another project. */
  project_id?: string;
  'router:external'?: boolean;
  mtu?: number;
  port_security_enabled?: boolean;
  'provider:network_type'?: string;
  'provider:physical_network'?: string;
  'provider:segmentation_id'?: number;
  availability_zone_hints?: string[];
  qos_policy_id?: string | null;
  dns_domain?: string;
  is_default?: boolean;
}

export type UpdateNetworkOpts = Omit<CreateNetworkOpts, 'project_id' | 'availability_zone_hints'>;

// ---- urls -----------------------------------------------------------------

export const networkUrls = {
  list: () => 'v2.0/networks',
  one: (id: string) => `v2.0/networks/${encodeURIComponent(id)}`,
};

// ---- requests ---------------------------------------------------------------

/** Lists networks, every page (`networks_links` when `limit` is given). */
export function listNetworks(sc: ServiceClient, q: ListNetworksQuery = {}, opts?: PageOptions): AsyncGenerator<Network> {
  return paginate<Network>(sc, networkUrls.list(), toNeutronQuery(q), { style: 'links', key: 'networks', limit: q.limit }, opts);
}

export async function getNetwork(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Network> {
  return (await sc.get<{ network: Network }>(networkUrls.one(id), { signal })).data.network;
}

/** Finds the one network of a name (undefined when none); more than one is an error. */
export async function findNetworkByName(sc: ServiceClient, name: string, q: ListNetworksQuery = {}, signal?: AbortSignal): Promise<Network | undefined> {
  const found: Network[] = [];
  for await (const n of listNetworks(sc, { ...q, name }, { signal })) found.push(n);
  if (found.length > 1) throw new FerryError(`network: ${found.length} networks are named ${name} (${found.map((n) => n.id).join(', ')}); use an ID`);
  return found[0];
}

/** Creates a network. Not retried on failure (POST): callers adopt by name or tag before creating again.
 *  Tags are not accepted on create: add them with tags.ts afterwards. */
export async function createNetwork(sc: ServiceClient, opts: CreateNetworkOpts, signal?: AbortSignal): Promise<Network> {
  return (await sc.post<{ network: Network }>(networkUrls.list(), { network: opts }, { ok: [201], signal })).data.network;
}

/** Updates a network (PUT, safe to repeat); `ifRevision` makes it fail with 412 if the network changed since. */
export async function updateNetwork(sc: ServiceClient, id: string, opts: UpdateNetworkOpts, extra: { ifRevision?: number; signal?: AbortSignal } = {}): Promise<Network> {
  return (await sc.put<{ network: Network }>(networkUrls.one(id), { network: opts }, { headers: ifRevisionHeaders(extra.ifRevision), signal: extra.signal })).data.network;
}

export interface DeleteNetworkOpts {
  /** A missing network is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Deletes a network; returns false when it was already gone. A network with ports in use gives 409 NetworkInUse. */
export function deleteNetwork(sc: ServiceClient, id: string, opts: DeleteNetworkOpts = {}): Promise<boolean> {
  return deleteNeutronResource(sc, networkUrls.one(id), opts);
}
