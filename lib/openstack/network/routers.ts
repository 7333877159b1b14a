// Neutron v2.0 routers (extension `router`, L3). API reference:
// https://docs.openstack.org/api-ref/network/v2/#routers-routers
// Source: neutron_lib/api/definitions/l3.py, l3_ext_gw_mode.py, extraroute.py, dvr.py,
// l3_ext_ha_mode.py; neutron/db/l3_db.py (interface info, "Router already has a port on
// subnet", PortInUse for a port already plugged; removing by port deletes the port),
// neutron_lib/exceptions/l3.py (Zed).
import { isConflict, isNotFound, isStatus } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import { waitFor, type WaitOptions } from '../wait.js';
import { getPort, listPorts, type Port } from './ports.js';
import { deleteNeutronResource, ifRevisionHeaders, toNeutronQuery, type NeutronListQuery } from './tags.js';

// ---- types ----------------------------------------------------------------

/** neutron_lib.constants ROUTER_STATUS_*. */
export type RouterStatus = 'ACTIVE' | 'ALLOCATING' | 'ERROR';

export interface ExternalGatewayInfo {
  network_id: string;
  /** Extension `ext-gw-mode`. */
  enable_snat?: boolean;
  external_fixed_ips?: { subnet_id: string; ip_address?: string }[];
  /** Extension `qos-gateway-ip`. */
  qos_policy_id?: string | null;
}

export interface RouterRoute {
  destination: string;
  nexthop: string;
}

export interface Router {
  id: string;
  name: string;
  description: string;
  status: RouterStatus;
  admin_state_up: boolean;
  /** null when the router has no gateway. */
  external_gateway_info: (ExternalGatewayInfo & { external_fixed_ips: { subnet_id: string; ip_address: string }[] }) | null;
  /** Extension `extraroute`: static routes. */
  routes?: RouterRoute[];
  /** Extension `dvr` (admin). */
  distributed?: boolean;
  /** Extension `l3-ha` (admin). */
  ha?: boolean;
  /** Extension `router_availability_zone`. */
  availability_zone_hints?: string[];
  availability_zones?: string[];
  /** Extension `l3-flavors`. */
  flavor_id?: string | null;
  project_id: string;
  tenant_id: string;
  tags: string[];
  created_at: string;
  updated_at: string;
  revision_number: number;
}

export interface ListRoutersQuery extends NeutronListQuery {
  id?: string | string[];
  name?: string | string[];
  status?: RouterStatus;
  admin_state_up?: boolean;
  distributed?: boolean;
  ha?: boolean;
}

export interface CreateRouterOpts {
  name?: string;
  description?: string;
  admin_state_up?: boolean;
  external_gateway_info?: ExternalGatewayInfo;
  distributed?: boolean;
  ha?: boolean;
  availability_zone_hints?: string[];
  flavor_id?: string;
  /** Admin: create in another project. */
  project_id?: string;
}

export interface UpdateRouterOpts {
  name?: string;
  description?: string;
  admin_state_up?: boolean;
  /** An empty object removes the gateway. */
  external_gateway_info?: ExternalGatewayInfo | Record<string, never>;
  /** Replaces every static route. */
  routes?: RouterRoute[];
  distributed?: boolean;
  ha?: boolean;
}

/** What to plug into the router: a subnet (Neutron makes a port with the subnet's gateway IP) or an existing port. */
export type RouterInterfaceTarget = { subnet_id: string } | { port_id: string };

/** Reply of add/remove_router_interface (l3_db._make_router_interface_info). */
export interface RouterInterfaceInfo {
  /** The router's ID. */
  id: string;
  tenant_id: string;
  project_id?: string;
  port_id: string;
  network_id: string;
  subnet_id: string;
  subnet_ids: string[];
}

// ---- urls -----------------------------------------------------------------

export const routerUrls = {
  list: () => 'v2.0/routers',
  one: (id: string) => `v2.0/routers/${encodeURIComponent(id)}`,
  addInterface: (id: string) => `v2.0/routers/${encodeURIComponent(id)}/add_router_interface`,
  removeInterface: (id: string) => `v2.0/routers/${encodeURIComponent(id)}/remove_router_interface`,
};

// ---- requests ---------------------------------------------------------------

/** Lists routers, every page (`routers_links` when `limit` is given). */
export function listRouters(sc: ServiceClient, q: ListRoutersQuery = {}, opts?: PageOptions): AsyncGenerator<Router> {
  return paginate<Router>(sc, routerUrls.list(), toNeutronQuery(q), { style: 'links', key: 'routers', limit: q.limit }, opts);
}

export async function getRouter(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Router> {
  return (await sc.get<{ router: Router }>(routerUrls.one(id), { signal })).data.router;
}

/** Creates a router, optionally with its gateway. Not retried on failure (POST). */
export async function createRouter(sc: ServiceClient, opts: CreateRouterOpts, signal?: AbortSignal): Promise<Router> {
  return (await sc.post<{ router: Router }>(routerUrls.list(), { router: opts }, { ok: [201], signal })).data.router;
}

/** Updates a router (PUT, safe to repeat); `ifRevision` makes it fail with 412 if it changed since. */
export async function updateRouter(sc: ServiceClient, id: string, opts: UpdateRouterOpts, extra: { ifRevision?: number; signal?: AbortSignal } = {}): Promise<Router> {
  return (await sc.put<{ router: Router }>(routerUrls.one(id), { router: opts }, { headers: ifRevisionHeaders(extra.ifRevision), signal: extra.signal })).data.router;
}

/** Sets (or replaces) the router's external gateway. */
export function setRouterGateway(sc: ServiceClient, id: string, gateway: ExternalGatewayInfo, signal?: AbortSignal): Promise<Router> {
  return updateRouter(sc, id, { external_gateway_info: gateway }, { signal });
}

/** Removes the router's external gateway (floating IPs through it must be gone first). */
export function clearRouterGateway(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Router> {
  return updateRouter(sc, id, { external_gateway_info: {} }, { signal });
}

export interface DeleteRouterOpts {
  /** A missing router is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Deletes a router; returns false when it was already gone. Interfaces still attached give 409 RouterInUse. */
export function deleteRouter(sc: ServiceClient, id: string, opts: DeleteRouterOpts = {}): Promise<boolean> {
  return deleteNeutronResource(sc, routerUrls.one(id), opts);
}

export interface AddInterfaceExtra {
  /**
   * When the interface is already there, return it instead of failing (default true): by
   * subnet Neutron answers 400 "Router already has a port on subnet"; by port, 409 PortInUse
   * "Port already has an attached device <router>" (the port's device_id is then this router).
   * This is what makes the call safe to retry: a repeat after a lost reply finds the first
   * one's port.
   */
  adoptExisting?: boolean;
  signal?: AbortSignal;
}

const ALREADY_ON_SUBNET = /already has a port on subnet/i;

/** Plugs a subnet or a port into the router (PUT routers/{id}/add_router_interface). */
export async function addRouterInterface(sc: ServiceClient, routerId: string, target: RouterInterfaceTarget, extra: AddInterfaceExtra = {}): Promise<RouterInterfaceInfo> {
  try {
    return (await sc.put<RouterInterfaceInfo>(routerUrls.addInterface(routerId), target, { signal: extra.signal })).data;
  } catch (err) {
    if (extra.adoptExisting !== false && 'subnet_id' in target && isStatus(err, 400) && ALREADY_ON_SUBNET.test(err.detail)) {
      const found = await findRouterInterface(sc, routerId, target.subnet_id, extra.signal);
      if (found) return found;
    }
    if (extra.adoptExisting !== false && 'port_id' in target && isConflict(err) && err.type === 'PortInUse') {
      const p = await getPort(sc, target.port_id, extra.signal);
      if (p.device_id === routerId && p.device_owner.startsWith('network:router_interface')) return interfaceInfo(routerId, p, p.fixed_ips[0]?.subnet_id ?? '');
    }
    throw err;
  }
}

/** The router's interface port on a subnet, as add_router_interface reports it (undefined when none). */
export async function findRouterInterface(sc: ServiceClient, routerId: string, subnetId: string, signal?: AbortSignal): Promise<RouterInterfaceInfo | undefined> {
  for await (const p of listPorts(sc, { device_id: routerId, fixed_ips: [{ subnet_id: subnetId }] }, { signal })) {
    if (p.device_owner === 'network:router_gateway') continue;
    return interfaceInfo(routerId, p, subnetId);
  }
  return undefined;
}

/** An interface port in add_router_interface's reply shape. */
function interfaceInfo(routerId: string, p: Port, subnetId: string): RouterInterfaceInfo {
  return {
    id: routerId,
    tenant_id: p.tenant_id,
    project_id: p.project_id,
    port_id: p.id,
    network_id: p.network_id,
    subnet_id: subnetId,
    subnet_ids: p.fixed_ips.map((f) => f.subnet_id),
  };
}

export interface RemoveInterfaceOpts {
  /** An interface (or router) already gone is not an error (default true). */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/**
 * Unplugs a subnet or port from the router (PUT routers/{id}/remove_router_interface);
 * returns false when it was not plugged (404 RouterInterfaceNotFound[ForSubnet]).
 * 409 RouterInterfaceInUseByFloatingIP while floating IPs still route through it.
 */
export async function removeRouterInterface(sc: ServiceClient, routerId: string, target: RouterInterfaceTarget, opts: RemoveInterfaceOpts = {}): Promise<boolean> {
  try {
    await sc.put(routerUrls.removeInterface(routerId), target, { signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

// ---- waiters ----------------------------------------------------------------

export const ROUTER_FAILURES = ['ERROR'];

/** Waits until a router is in one of `target` (default ACTIVE). */
export async function waitForRouter(sc: ServiceClient, id: string, target: RouterStatus[] = ['ACTIVE'], opts: WaitOptions = {}): Promise<Router> {
  return (await waitFor<Router>({ resource: `router ${id}`, fetch: () => getRouter(sc, id, opts.signal), status: (r) => r.status, target, failure: ROUTER_FAILURES }, opts))!;
}
