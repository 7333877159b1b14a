// Discovery: reads a protection plan's members from the primary site into the site-neutral
// model (model.ts). Only list-detail calls with server-side filters, NEVER a GET per member,
// so the number of requests grows with pages (and ID chunks), not with members:
//
//   what                 call                                                   requests
//   servers              GET /servers/detail (tags / tags-any server-side)      pages
//   ports                GET /v2.0/ports?device_id=a&device_id=b... (chunks)    members/chunk
//   volumes              GET /volumes/detail, the project's, joined by          pages
//                        attachment server_id
//   networks             GET /v2.0/networks?id=a&id=b... (chunks)               networks/chunk
//   subnets              GET /v2.0/subnets?network_id=a&network_id=b...         networks/chunk
//   security groups      GET /v2.0/security-groups?id=a&id=b... (+ remote       groups/chunk
//                        groups named by rules, until closed)
//   images               GET /v2/images?id=in:a,b,c&visibility=all (chunks)     images/chunk
//   flavors              embedded in the server (compute 2.47+)                 0
//                        (below 2.47: GET /flavors/detail once)
//   keypairs             GET /os-keypairs once (+ once per other owning user)    1 (+users)
//   server groups        GET /os-server-groups once                             pages
//   volume types         GET /types once                                        pages
//
// Selection. Nova filters tags server-side (2.26+: `tags-any`, or `tags` for tagMatch all), so
// a plan selected by tags alone lists only its servers. Nova cannot filter what else a plan
// may name: `name` is a regular expression (an exact match per name would be one request per
// name), there is no filter on several UUIDs (`uuid` takes one and is admin-only), and
// `metadata` is refused (400 "Invalid filter field"). A plan naming IDs, names or metadata
// therefore lists the project's servers once and matches them client-side from the same pages.
//
// Listings run under a concurrency limit (p-limit, 4 per site by default); ports are fetched
// while server pages still arrive. A reference that cannot be resolved (a deleted image, a
// keypair of another user, a security group of another project) becomes a warning; a listing
// that fails outright (other than a 403 on an optional one) fails discovery, because a
// recovery point must not silently miss ports or volumes.
import { createHash } from 'node:crypto';
import pLimit, { type LimitFunction } from 'p-limit';
import { FerryError, isStatus, NotSupportedError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { listVolumeTypes, type VolumeType } from '../openstack/blockstorage/types.js';
import { listVolumes, type Volume } from '../openstack/blockstorage/volumes.js';
import { listFlavors, type Flavor } from '../openstack/compute/flavors.js';
import { listKeypairs, type Keypair } from '../openstack/compute/keypairs.js';
import { listServerGroups, serverGroupPolicy, type ServerGroup } from '../openstack/compute/servergroups.js';
import { isEmbeddedFlavor, listServers, serverImageId, type ListServersQuery, type Server } from '../openstack/compute/servers.js';
import { IMAGE_BASE_KEYS, imageUrls, type Image } from '../openstack/image/images.js';
import { listNetworks, type Network } from '../openstack/network/networks.js';
import { listPorts, type Port } from '../openstack/network/ports.js';
import { listSecurityGroups, type SecurityGroup, type SecurityGroupRule } from '../openstack/network/securitygroups.js';
import { listSubnets, type Subnet } from '../openstack/network/subnets.js';
import { collect, paginate } from '../openstack/paginate.js';
import type { Site } from '../openstack/site.js';
import type { Query } from '../openstack/transport.js';
import {
  INVENTORY_SCHEMA_VERSION,
  type DiscoveryWarning,
  type FlavorSpec,
  type ImageSpec,
  type Inventory,
  type KeypairSpec,
  type Member,
  type MemberPort,
  type MemberSelectors,
  type PlanMemberSelector,
  type MemberServer,
  type MemberServerGroup,
  type MemberVolume,
  type NetworkSpec,
  type PowerState,
  type SecurityGroupRuleSpec,
  type SecurityGroupSpec,
  type SelectorKind,
  type ServerGroupSpec,
  type SubnetSpec,
  type VolumeTypeSpec,
} from './model.js';

// ---- options ----------------------------------------------------------------------

export interface DiscoverPageSizes {
  /** Nova page size (`limit`); default: Nova's own ([api] max_limit, 1000). */
  compute?: number;
  /** Cinder page size; default: Cinder's own (osapi_max_limit, 1000). */
  blockStorage?: number;
  /** Neutron page size; default: none (Neutron answers everything unless pagination_max_limit is set). */
  network?: number;
}

export interface DiscoverOptions {
  /**
   * The project whose servers are discovered; default the token's. Another project needs an
   * admin token (Nova all_tenants + project_id, Cinder all_tenants + project_id).
   */
  projectId?: string;
  pageSize?: DiscoverPageSizes;
  /** IDs per filtered request (Neutron device_id/id/network_id, Glance id=in:); default 100, which keeps URLs near 4-5 KB. */
  chunkSize?: number;
  /** Requests in flight for this discovery; default: the site's shared limiter (4). */
  concurrency?: number;
  signal?: AbortSignal;
  logger?: Logger;
  /** Clock for `discoveredAt` (tests). */
  now?: () => Date;
  /** Servers carrying any of these tags are not members (ferry:fenced: the old copies a failover stopped). */
  excludeTags?: readonly string[];
}

/** Default requests in flight per site. */
export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_CHUNK_SIZE = 100;

const siteLimiters = new WeakMap<Site, LimitFunction>();

/** The limiter every discovery of a site shares (DEFAULT_CONCURRENCY requests in flight). */
export function siteLimiter(site: Site): LimitFunction {
  let l = siteLimiters.get(site);
  if (!l) {
    l = pLimit(DEFAULT_CONCURRENCY);
    siteLimiters.set(site, l);
  }
  return l;
}

// ---- helpers (pure) -----------------------------------------------------------------

/** A server body with the extended attributes servers.ts does not type. */
type ServerBody = Server & { 'OS-EXT-SRV-ATTR:root_device_name'?: string | null };

const POWER_STATES: Record<number, PowerState> = { 0: 'nostate', 1: 'running', 3: 'paused', 4: 'shutdown', 6: 'crashed', 7: 'suspended' };

export function powerStateName(n: number | null | undefined): PowerState {
  return (n !== null && n !== undefined && POWER_STATES[n]) || 'unknown';
}

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A record with keys inserted in sorted order (stable JSON). */
function sortedRecord<T>(entries: Iterable<[string, T]>): Record<string, T> {
  const arr = [...entries].sort((x, y) => byString(x[0], y[0]));
  const out: Record<string, T> = {};
  for (const [k, v] of arr) out[k] = v;
  return out;
}

const DEVICE_RE = /^(?:\/dev\/)?(xvd|vd|sd|hd)([a-z]+)$/;

/**
 * Orders device names as the guest sees them: by bus prefix, then by letter suffix in
 * spreadsheet order (vda < vdb < ... < vdz < vdaa). Devices that do not parse sort after,
 * lexically; no device sorts last.
 */
export function compareDevices(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (!a) return 1;
  if (!b) return -1;
  const ma = DEVICE_RE.exec(a);
  const mb = DEVICE_RE.exec(b);
  if (ma && mb) {
    if (ma[1] !== mb[1]) return byString(ma[1]!, mb[1]!);
    if (ma[2]!.length !== mb[2]!.length) return ma[2]!.length - mb[2]!.length;
    return byString(ma[2]!, mb[2]!);
  }
  if (ma) return -1;
  if (mb) return 1;
  return byString(a, b);
}

/** Which selector kinds a server matches (empty: not a member). */
export function matchSelectors(s: Pick<Server, 'id' | 'name' | 'tags' | 'metadata'>, sel: MemberSelectors): SelectorKind[] {
  const kinds: SelectorKind[] = [];
  if (sel.serverIds?.includes(s.id)) kinds.push('id');
  if (sel.serverNames?.includes(s.name)) kinds.push('name');
  if (sel.tags && sel.tags.length > 0) {
    const have = new Set(s.tags ?? []);
    const ok = sel.tagMatch === 'all' ? sel.tags.every((t) => have.has(t)) : sel.tags.some((t) => have.has(t));
    if (ok) kinds.push('tag');
  }
  if (metadataSelectors(sel).some((md) => metadataMatches(s.metadata, md))) kinds.push('metadata');
  return kinds.sort(byString);
}

/** The metadata selectors as a list, empty ones dropped. */
export function metadataSelectors(sel: MemberSelectors): Record<string, string>[] {
  const md = sel.metadata;
  const list = md === undefined ? [] : Array.isArray(md) ? md : [md];
  return list.filter((m) => Object.keys(m).length > 0);
}

function metadataMatches(have: Record<string, string> | undefined, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => have?.[k] === v);
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/**
 * Selectors from a protection plan's `members` list: `server` values shaped like a UUID are
 * IDs (Nova generates them; a name that looks like one is not supported), others names.
 */
export function selectorsFromPlan(members: readonly PlanMemberSelector[]): MemberSelectors {
  const out: MemberSelectors = {};
  const push = (k: 'serverIds' | 'serverNames' | 'tags', v: string) => {
    const list: string[] = (out[k] ??= []);
    if (!list.includes(v)) list.push(v);
  };
  const md: Record<string, string>[] = [];
  for (const m of members) {
    if (m.server !== undefined) push(UUID_RE.test(m.server) ? 'serverIds' : 'serverNames', m.server);
    if (m.tag !== undefined) push('tags', m.tag);
    if (m.metadata !== undefined) md.push({ ...m.metadata });
  }
  if (md.length > 0) out.metadata = md;
  return out;
}

function hasAny(sel: MemberSelectors): boolean {
  return (sel.serverIds?.length ?? 0) + (sel.serverNames?.length ?? 0) + (sel.tags?.length ?? 0) + metadataSelectors(sel).length > 0;
}

/** True when Nova can do the whole selection (tags only). */
function tagsOnly(sel: MemberSelectors): boolean {
  return (sel.tags?.length ?? 0) > 0 && !sel.serverIds?.length && !sel.serverNames?.length && metadataSelectors(sel).length === 0;
}

function str(v: string | null | undefined): string | undefined {
  return v === null || v === undefined || v === '' ? undefined : v;
}

function num(v: number | null | undefined): number | undefined {
  return v === null || v === undefined ? undefined : v;
}

// ---- warnings -----------------------------------------------------------------------

class Warnings {
  private readonly byKey = new Map<string, DiscoveryWarning>();

  add(w: DiscoveryWarning, serverId?: string): void {
    const key = `${w.code}\u0000${w.resourceType ?? ''}\u0000${w.resourceId ?? ''}`;
    let cur = this.byKey.get(key);
    if (!cur) {
      cur = { ...w };
      this.byKey.set(key, cur);
    }
    if (serverId !== undefined) {
      cur.serverIds ??= [];
      if (!cur.serverIds.includes(serverId)) cur.serverIds.push(serverId);
    }
  }

  list(): DiscoveryWarning[] {
    const out = [...this.byKey.values()].map((w) => (w.serverIds ? { ...w, serverIds: [...w.serverIds].sort(byString) } : w));
    return out.sort((a, b) => byString(a.code, b.code) || byString(a.resourceId ?? '', b.resourceId ?? '') || byString(a.message, b.message));
  }
}

// ---- conversions (wire → model) -------------------------------------------------------

function flavorFingerprint(f: Omit<FlavorSpec, 'key'>): string {
  const specs = sortedRecord(Object.entries(f.extraSpecs));
  return JSON.stringify([f.id ?? null, f.name, f.vcpus, f.ram, f.disk, f.ephemeral, f.swap, specs]);
}

function flavorOfServer(s: ServerBody, byId: Map<string, Flavor> | undefined, warnings: Warnings): Omit<FlavorSpec, 'key'> {
  const f = s.flavor;
  if (isEmbeddedFlavor(f)) {
    if (f.extra_specs === undefined) {
      warnings.add({ code: 'flavor-extra-specs-hidden', resourceType: 'flavor', message: 'Nova hides flavor extra specs from this user (policy os_compute_api:servers:show:flavor-extra-specs): recovered flavors will have none' });
    }
    return { name: f.original_name, vcpus: f.vcpus, ram: f.ram, disk: f.disk, ephemeral: f.ephemeral, swap: f.swap, extraSpecs: { ...(f.extra_specs ?? {}) } };
  }
  const id = (f as { id?: string }).id ?? '';
  const found = byId?.get(id);
  if (!found) {
    warnings.add({ code: 'flavor-missing', resourceType: 'flavor', resourceId: id, message: `flavor ${id} no longer exists and this compute API (below 2.47) does not embed it in the server` }, s.id);
    return { id, name: id, vcpus: 0, ram: 0, disk: 0, ephemeral: 0, swap: 0, extraSpecs: {} };
  }
  return {
    id: found.id,
    name: found.name,
    vcpus: found.vcpus,
    ram: found.ram,
    disk: found.disk,
    ephemeral: found['OS-FLV-EXT-DATA:ephemeral'] ?? 0,
    swap: found.swap === '' ? 0 : found.swap,
    extraSpecs: { ...(found.extra_specs ?? {}) },
  };
}

function imageSpec(i: Image): ImageSpec {
  const properties: Record<string, string> = {};
  for (const k of Object.keys(i).sort(byString)) {
    const v = i[k];
    if (IMAGE_BASE_KEYS.has(k) || v === null || v === undefined) continue;
    properties[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  const out: ImageSpec = {
    id: i.id,
    name: i.name ?? '',
    status: i.status,
    minDisk: i.min_disk,
    minRam: i.min_ram,
    visibility: i.visibility,
    protected: i.protected,
    hidden: i.os_hidden === true,
    tags: [...(i.tags ?? [])].sort(byString),
    properties,
  };
  if (i.disk_format) out.diskFormat = i.disk_format;
  if (i.container_format) out.containerFormat = i.container_format;
  if (num(i.size) !== undefined) out.size = i.size!;
  if (num(i.virtual_size) !== undefined) out.virtualSize = i.virtual_size!;
  if (str(i.checksum)) out.checksum = i.checksum!;
  if (str(i.os_hash_algo)) out.hashAlgo = i.os_hash_algo!;
  if (str(i.os_hash_value)) out.hashValue = i.os_hash_value!;
  if (str(i.owner)) out.owner = i.owner!;
  return out;
}

function networkSpec(n: Network): NetworkSpec {
  const out: NetworkSpec = {
    id: n.id,
    name: n.name,
    description: n.description ?? '',
    subnetIds: [...(n.subnets ?? [])].sort(byString),
    adminStateUp: n.admin_state_up,
    shared: n.shared,
    external: n['router:external'] === true,
    availabilityZoneHints: [...(n.availability_zone_hints ?? [])],
    projectId: n.project_id ?? n.tenant_id,
    tags: [...(n.tags ?? [])].sort(byString),
  };
  if (n.mtu !== undefined) out.mtu = n.mtu;
  if (n.port_security_enabled !== undefined) out.portSecurityEnabled = n.port_security_enabled;
  if (str(n.dns_domain)) out.dnsDomain = n.dns_domain!;
  if (str(n.qos_policy_id)) out.qosPolicyId = n.qos_policy_id!;
  if (str(n['provider:network_type'])) out.providerNetworkType = n['provider:network_type']!;
  if (str(n['provider:physical_network'])) out.providerPhysicalNetwork = n['provider:physical_network']!;
  if (num(n['provider:segmentation_id']) !== undefined) out.providerSegmentationId = n['provider:segmentation_id']!;
  return out;
}

function subnetSpec(s: Subnet): SubnetSpec {
  const out: SubnetSpec = {
    id: s.id,
    name: s.name,
    description: s.description ?? '',
    networkId: s.network_id,
    ipVersion: s.ip_version,
    cidr: s.cidr,
    gatewayIp: s.gateway_ip ?? null,
    enableDhcp: s.enable_dhcp,
    allocationPools: (s.allocation_pools ?? []).map((p) => ({ start: p.start, end: p.end })),
    dnsNameservers: [...(s.dns_nameservers ?? [])],
    hostRoutes: (s.host_routes ?? []).map((r) => ({ destination: r.destination, nexthop: r.nexthop })),
    projectId: s.project_id ?? s.tenant_id,
    tags: [...(s.tags ?? [])].sort(byString),
  };
  if (str(s.ipv6_ra_mode)) out.ipv6RaMode = s.ipv6_ra_mode!;
  if (str(s.ipv6_address_mode)) out.ipv6AddressMode = s.ipv6_address_mode!;
  if (str(s.subnetpool_id)) out.subnetpoolId = s.subnetpool_id!;
  return out;
}

function ruleSpec(r: SecurityGroupRule): SecurityGroupRuleSpec {
  const out: SecurityGroupRuleSpec = { id: r.id, direction: r.direction, ethertype: r.ethertype, description: r.description ?? '' };
  if (str(r.protocol)) out.protocol = r.protocol!;
  if (num(r.port_range_min) !== undefined) out.portRangeMin = r.port_range_min!;
  if (num(r.port_range_max) !== undefined) out.portRangeMax = r.port_range_max!;
  if (str(r.remote_ip_prefix)) out.remoteIpPrefix = r.remote_ip_prefix!;
  if (str(r.remote_group_id)) out.remoteGroupId = r.remote_group_id!;
  if (str(r.remote_address_group_id)) out.remoteAddressGroupId = r.remote_address_group_id!;
  return out;
}

function ruleSortKey(r: SecurityGroupRuleSpec): string {
  const pad = (n: number | undefined) => (n === undefined ? '~' : String(n).padStart(5, '0'));
  return [r.direction, r.ethertype, r.protocol ?? '~', pad(r.portRangeMin), pad(r.portRangeMax), r.remoteIpPrefix ?? '~', r.remoteGroupId ?? '~', r.remoteAddressGroupId ?? '~', r.id].join('\u0000');
}

function securityGroupSpec(g: SecurityGroup, remoteOnly: boolean): SecurityGroupSpec {
  const rules = (g.security_group_rules ?? []).map(ruleSpec).sort((a, b) => byString(ruleSortKey(a), ruleSortKey(b)));
  return {
    id: g.id,
    name: g.name,
    description: g.description ?? '',
    stateful: g.stateful !== false,
    projectId: g.project_id ?? g.tenant_id,
    rules,
    remoteOnly,
    tags: [...(g.tags ?? [])].sort(byString),
  };
}

function volumeTypeSpec(t: VolumeType): VolumeTypeSpec {
  const out: VolumeTypeSpec = { id: t.id, name: t.name, isPublic: t.is_public ?? t['os-volume-type-access:is_public'] ?? true };
  if (str(t.description)) out.description = t.description!;
  if (t.extra_specs) out.extraSpecs = sortedRecord(Object.entries(t.extra_specs));
  if (str(t.qos_specs_id)) out.qosSpecsId = t.qos_specs_id!;
  return out;
}

function keypairSpec(k: Keypair, userId: string | undefined): KeypairSpec {
  const out: KeypairSpec = { name: k.name, publicKey: k.public_key, type: k.type ?? 'ssh', fingerprint: k.fingerprint };
  const owner = k.user_id ?? userId;
  if (owner) out.userId = owner;
  return out;
}

function groupRules(g: ServerGroup): { maxServerPerHost?: number } {
  const max = g.rules?.max_server_per_host;
  return max !== undefined ? { maxServerPerHost: Number(max) } : {};
}

// ---- discovery ------------------------------------------------------------------------

/** Error of a listing Ferry may live without (reported as a warning): 403, or a microversion too old. */
function isUnavailable(err: unknown): boolean {
  return isStatus(err, 403) || err instanceof NotSupportedError;
}

/**
 * Discovers the members a set of selectors names at `site` and everything they reference.
 * Throws when no selector is given, or when a listing the model cannot do without fails.
 */
export async function discover(site: Site, selectors: MemberSelectors, opts: DiscoverOptions = {}): Promise<Inventory> {
  if (!hasAny(selectors)) throw new FerryError('discovery needs at least one selector (serverIds, serverNames, tags or metadata)');
  const log = (opts.logger ?? silentLogger).child({ site: site.name });
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!(chunkSize >= 1)) throw new FerryError(`chunkSize must be at least 1, not ${chunkSize}`);
  const limit = opts.concurrency !== undefined ? pLimit(opts.concurrency) : siteLimiter(site);
  const pages = opts.pageSize ?? {};
  const started = Date.now();

  // One failure stops every other listing of this discovery, and is the error reported (not
  // the aborts it caused elsewhere).
  const ac = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, ac.signal]) : ac.signal;
  let firstError: unknown;
  const fail = (err: unknown) => {
    if (firstError === undefined && !ac.signal.aborted) firstError = err;
    ac.abort();
  };
  /** A promise awaited later: its rejection aborts the other listings and is never unhandled. */
  const background = <T>(p: Promise<T>): Promise<T> => {
    p.catch(fail);
    return p;
  };
  /** A listing under the limiter. */
  const task = <T>(fn: () => Promise<T>): Promise<T> => background(limit(fn));
  const warnings = new Warnings();
  /** An optional listing: a 403 or a too-old microversion is a warning and an empty list. */
  const optional = async <T>(what: string, fn: () => Promise<T[]>): Promise<T[]> => {
    try {
      return await fn();
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      warnings.add({ code: 'listing-unavailable', resourceId: what, message: `${what}: ${(err as Error).message}` });
      return [];
    }
  };

  try {
    const token = await site.connect(signal);
    const ownProject = token.info.project?.id;
    const projectId = opts.projectId ?? ownProject;
    if (!projectId) throw new FerryError(`site ${site.name}: discovery needs a project-scoped token or a projectId`);
    const otherProject = projectId !== ownProject;
    const tokenUser = token.info.user.id;

    // Servers, with ports fetched by chunks of device IDs while pages still arrive.
    const portTasks: Promise<Port[]>[] = [];
    let pending: string[] = [];
    const flushPorts = () => {
      if (pending.length === 0) return;
      const ids = pending;
      pending = [];
      portTasks.push(task(() => collect(listPorts(site.network, { device_id: ids, ...(pages.network ? { limit: pages.network } : {}) }, { signal }))));
    };
    const q: ListServersQuery = {};
    if (pages.compute) q.limit = pages.compute;
    if (otherProject) q.project_id = projectId;
    const serverSide = tagsOnly(selectors);
    if (serverSide) q[selectors.tagMatch === 'all' ? 'tags' : 'tags-any'] = selectors.tags!;
    // Matched client-side, tags still need 2.26 (servers show no tags before).
    else if ((selectors.tags?.length ?? 0) > 0) await site.compute.require('2.26', 'selecting servers by tag', signal);
    const selected: { server: ServerBody; kinds: SelectorKind[] }[] = [];
    const deleted = new Set<string>();
    // The server listing is on the critical path: it is queued first.
    const serversDone = task(async () => {
      for await (const raw of listServers(site.compute, q, { signal })) {
        const s = raw as ServerBody;
        const kinds = matchSelectors(s, selectors);
        if (kinds.length === 0) continue;
        if (s.status === 'DELETED' || s.status === 'SOFT_DELETED') {
          warnings.add({ code: 'member-deleted', resourceType: 'server', resourceId: s.id, message: `server ${s.name} (${s.id}) is ${s.status}: not protected` });
          deleted.add(s.id);
          continue;
        }
        const excluded = opts.excludeTags?.find((t) => s.tags?.includes(t));
        if (excluded) {
          warnings.add({ code: 'member-excluded', resourceType: 'server', resourceId: s.id, message: `server ${s.name} (${s.id}) carries ${excluded}: not protected` });
          continue;
        }
        selected.push({ server: s, kinds });
        pending.push(s.id);
        if (pending.length >= chunkSize) flushPorts();
      }
    });
    // Listings that do not depend on the members run beside it.
    const volumesP = task(() => collect(listVolumes(site.blockStorage, { ...(otherProject ? { all_tenants: true, project_id: projectId } : {}), ...(pages.blockStorage ? { limit: pages.blockStorage } : {}) }, { signal })));
    const ownKeypairsP = task(() => optional('keypairs', () => collect(listKeypairs(site.compute, {}, { signal }))));
    const groupsP = task(() => optional('server groups', () => collect(listServerGroups(site.compute, otherProject ? { all_projects: true } : {}, { signal }))));
    const typesP = task(() => optional('volume types', () => collect(listVolumeTypes(site.blockStorage, {}, { signal }))));

    await serversDone;
    flushPorts();
    log.debug('discovery: servers listed', { selected: selected.length, serverSide });
    checkSelectors(selectors, selected, deleted, warnings);
    const memberIds = new Set(selected.map((x) => x.server.id));

    // Images (by ID), flavors below 2.47, keypairs of other owners.
    const imageIds = [...new Set(selected.map((x) => serverImageId(x.server)).filter((x): x is string => x !== undefined))].sort(byString);
    const imagesP = background(Promise.all(chunks(imageIds, chunkSize).map((ids) => task(() => listImagesById(site, ids, signal)))));
    const needFlavorList = selected.some((x) => !isEmbeddedFlavor(x.server.flavor));
    const flavorsP = needFlavorList ? task(() => optional('flavors', () => collect(listFlavors(site.compute, {}, { signal })))) : Promise.resolve(undefined);

    const ownKeypairs = await ownKeypairsP;
    const keypairsByUser = new Map<string, Map<string, KeypairSpec>>();
    keypairsByUser.set(tokenUser, new Map(ownKeypairs.map((k) => [k.name, keypairSpec(k, tokenUser)])));
    const otherUsers = [...new Set(selected.filter((x) => x.server.key_name && x.server.user_id !== tokenUser).map((x) => x.server.user_id))].sort(byString);
    await Promise.all(
      otherUsers.map((userId) =>
        task(async () => {
          const kps = await optional(`keypairs of user ${userId}`, () => collect(listKeypairs(site.compute, { user_id: userId }, { signal })));
          keypairsByUser.set(userId, new Map(kps.map((k) => [k.name, keypairSpec(k, userId)])));
        }),
      ),
    );

    // Ports, then what they reference.
    const ports = (await Promise.all(portTasks)).flat();
    const portsByServer = new Map<string, Port[]>();
    for (const p of ports) {
      if (!memberIds.has(p.device_id)) continue;
      const list = portsByServer.get(p.device_id) ?? [];
      if (!list.some((x) => x.id === p.id)) list.push(p);
      portsByServer.set(p.device_id, list);
    }
    const networkIds = [...new Set(ports.map((p) => p.network_id))].sort(byString);
    const portSgIds = [...new Set(ports.flatMap((p) => p.security_groups ?? []))].sort(byString);
    const neutronLimit = pages.network ? { limit: pages.network } : {};
    const networksP = background(Promise.all(chunks(networkIds, chunkSize).map((ids) => task(() => collect(listNetworks(site.network, { id: ids, ...neutronLimit }, { signal }))))));
    const subnetsP = background(Promise.all(chunks(networkIds, chunkSize).map((ids) => task(() => collect(listSubnets(site.network, { network_id: ids, ...neutronLimit }, { signal }))))));
    const sgsP = background(fetchSecurityGroups(site, portSgIds, chunkSize, neutronLimit.limit, task, signal, warnings));

    const [volumes, groups, types, images, flavorList, networks, subnets, sgs] = await Promise.all([volumesP, groupsP, typesP, imagesP, flavorsP, networksP, subnetsP, sgsP]);

    // ---- assemble --------------------------------------------------------------------
    const networkById = new Map(networks.flat().map((n) => [n.id, networkSpec(n)]));
    const subnetById = new Map(subnets.flat().map((s) => [s.id, subnetSpec(s)]));
    const imageById = new Map(images.flat().map((i) => [i.id, imageSpec(i)]));
    const flavorById = flavorList ? new Map(flavorList.map((f) => [f.id, f])) : undefined;
    const typeById = new Map(types.map((t) => [t.id, volumeTypeSpec(t)]));
    const typeByName = new Map(types.map((t) => [t.name, t.id]));

    for (const id of networkIds) {
      if (!networkById.has(id)) warnings.add({ code: 'network-missing', resourceType: 'network', resourceId: id, message: `network ${id} of a member port could not be read` });
    }

    // Server groups: Nova allows one per server; the listing's members say which.
    const groupOf = new Map<string, ServerGroup>();
    const groupSpecs = new Map<string, ServerGroupSpec>();
    for (const g of groups) {
      if (otherProject && g.project_id !== undefined && g.project_id !== projectId) continue;
      const inPlan = g.members.filter((m) => memberIds.has(m)).sort(byString);
      if (inPlan.length === 0) continue;
      for (const m of inPlan) groupOf.set(m, g);
      groupSpecs.set(g.id, {
        id: g.id,
        name: g.name,
        policy: serverGroupPolicy(g) ?? '',
        rules: groupRules(g),
        memberIds: inPlan,
        otherServerIds: g.members.filter((m) => !memberIds.has(m)).sort(byString),
      });
    }

    // Volumes: the project's listing joined by attachment server_id, plus what Nova says is attached.
    const volumeById = new Map(volumes.map((v) => [v.id, v]));
    const volumesByServer = new Map<string, Map<string, Volume>>();
    for (const v of volumes) {
      for (const a of v.attachments ?? []) {
        if (!memberIds.has(a.server_id)) continue;
        const m = volumesByServer.get(a.server_id) ?? new Map<string, Volume>();
        m.set(v.id, v);
        volumesByServer.set(a.server_id, m);
      }
    }

    // Flavors: one entry per distinct shape; a name shared by different shapes gets a hash suffix.
    const flavorDrafts = selected.map((x) => flavorOfServer(x.server, flavorById, warnings));
    const shapesByName = new Map<string, Set<string>>();
    for (const f of flavorDrafts) {
      const set = shapesByName.get(f.name) ?? new Set<string>();
      set.add(flavorFingerprint(f));
      shapesByName.set(f.name, set);
    }
    const flavorSpecs = new Map<string, FlavorSpec>();
    const usedTypes = new Set<string>();
    const members: Member[] = selected.map(({ server: s, kinds }, i) => {
      const draft = flavorDrafts[i]!;
      const fp = flavorFingerprint(draft);
      const conflict = (shapesByName.get(draft.name)?.size ?? 0) > 1;
      const key = conflict ? `${draft.name}#${createHash('sha256').update(fp).digest('hex').slice(0, 8)}` : draft.name;
      if (conflict) warnings.add({ code: 'flavor-name-conflict', resourceType: 'flavor', resourceId: draft.name, message: `servers carry different flavors named ${draft.name}: keyed ${draft.name}#<hash>` }, s.id);
      const flavor: FlavorSpec = { key, ...draft };
      flavorSpecs.set(key, flavor);

      const server = memberServer(s, flavor, imageById, keypairsByUser, groupOf, warnings);
      const memberPorts = memberPortsOf(s, portsByServer.get(s.id) ?? [], networkById, subnetById, warnings);
      const memberVolumes = memberVolumesOf(s, volumesByServer.get(s.id), volumeById, typeById, typeByName, warnings);
      for (const v of memberVolumes) if (v.volumeTypeId) usedTypes.add(v.volumeTypeId);
      return { server, ports: memberPorts, volumes: memberVolumes, selectedBy: kinds };
    });
    members.sort((a, b) => byString(a.server.name, b.server.name) || byString(a.server.id, b.server.id));

    // Only the shared objects members reference.
    const keypairs = new Map<string, KeypairSpec>();
    for (const x of selected) {
      const name = x.server.key_name;
      if (!name) continue;
      const kp = keypairsByUser.get(x.server.user_id)?.get(name);
      if (kp && !keypairs.has(name)) keypairs.set(name, kp);
    }
    const usedSubnets = [...subnetById.values()].filter((sn) => networkById.has(sn.networkId));

    const inventory: Inventory = {
      schemaVersion: INVENTORY_SCHEMA_VERSION,
      site: site.name,
      projectId,
      discoveredAt: (opts.now?.() ?? new Date()).toISOString(),
      selectors: structuredClone(selectors),
      members,
      networks: sortedRecord([...networkById]),
      subnets: sortedRecord(usedSubnets.map((sn) => [sn.id, sn])),
      securityGroups: sortedRecord([...sgs]),
      flavors: sortedRecord([...flavorSpecs]),
      images: sortedRecord([...imageById]),
      volumeTypes: sortedRecord([...typeById].filter(([id]) => usedTypes.has(id))),
      keypairs: sortedRecord([...keypairs]),
      serverGroups: sortedRecord([...groupSpecs]),
      warnings: warnings.list(),
    };
    log.info('discovery done', { members: members.length, warnings: inventory.warnings.length, ms: Date.now() - started });
    return inventory;
  } catch (err) {
    fail(err);
    throw firstError ?? err;
  }
}

// ---- steps --------------------------------------------------------------------------

function checkSelectors(sel: MemberSelectors, selected: { server: ServerBody; kinds: SelectorKind[] }[], deleted: Set<string>, warnings: Warnings): void {
  const ids = new Set([...selected.map((x) => x.server.id), ...deleted]);
  for (const id of sel.serverIds ?? []) {
    if (!ids.has(id)) warnings.add({ code: 'member-not-found', resourceType: 'server', resourceId: id, message: `no server has ID ${id}` });
  }
  for (const name of sel.serverNames ?? []) {
    const n = selected.filter((x) => x.server.name === name).length;
    if (n === 0) warnings.add({ code: 'member-not-found', resourceType: 'server', resourceId: name, message: `no server is named ${name}` });
    if (n > 1) warnings.add({ code: 'member-name-ambiguous', resourceType: 'server', resourceId: name, message: `${n} servers are named ${name}: all are members` });
  }
  if ((sel.tags?.length ?? 0) > 0 && !selected.some((x) => x.kinds.includes('tag'))) {
    warnings.add({ code: 'selector-matched-nothing', resourceType: 'selector', resourceId: 'tags', message: `no server carries ${sel.tagMatch === 'all' ? 'all' : 'any'} of the tags ${sel.tags!.join(', ')}` });
  }
  for (const want of metadataSelectors(sel)) {
    if (selected.some((x) => metadataMatches(x.server.metadata, want))) continue;
    const md = Object.entries(want)
      .sort(([a], [b]) => byString(a, b))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    warnings.add({ code: 'selector-matched-nothing', resourceType: 'selector', resourceId: `metadata:${md}`, message: `no server has the metadata ${md}` });
  }
}

/**
 * Glance images by ID: `id=in:a,b,c` with `visibility=all` (community images included) and
 * `member_status=all` (shared images whatever the membership), one page per chunk (the page
 * size is one more than the IDs asked, so Glance never adds a `next` link). Images hidden with
 * os_hidden are left out of Glance listings unless asked for, so IDs still missing are asked
 * again with `os_hidden=true`. images.ts's ListImagesQuery has no `id` filter, so the call is
 * made here through paginate().
 */
async function listImagesById(site: Site, ids: string[], signal: AbortSignal): Promise<Image[]> {
  const query = (wanted: string[], hidden: boolean): Query => ({ id: `in:${wanted.join(',')}`, visibility: 'all', member_status: 'all', ...(hidden ? { os_hidden: true } : {}) });
  const spec = (n: number) => ({ style: 'glance' as const, key: 'images', limit: Math.min(n + 1, 1000) });
  const found = await collect(paginate<Image>(site.image, imageUrls.list(), query(ids, false), spec(ids.length), { signal }));
  const have = new Set(found.map((i) => i.id));
  const missing = ids.filter((id) => !have.has(id));
  if (missing.length > 0) found.push(...(await collect(paginate<Image>(site.image, imageUrls.list(), query(missing, true), spec(missing.length), { signal }))));
  return found.filter((i) => ids.includes(i.id));
}

/**
 * Security groups by ID, then the remote groups their rules name, round after round until
 * every named group is read or known missing.
 */
async function fetchSecurityGroups(
  site: Site,
  portSgIds: string[],
  chunkSize: number,
  limit: number | undefined,
  task: <T>(fn: () => Promise<T>) => Promise<T>,
  signal: AbortSignal,
  warnings: Warnings,
): Promise<Map<string, SecurityGroupSpec>> {
  const attached = new Set(portSgIds);
  const out = new Map<string, SecurityGroupSpec>();
  const asked = new Set<string>();
  let wanted = [...portSgIds];
  while (wanted.length > 0) {
    for (const id of wanted) asked.add(id);
    const got = (
      await Promise.all(chunks(wanted, chunkSize).map((ids) => task(() => collect(listSecurityGroups(site.network, { id: ids, ...(limit ? { limit } : {}) }, { signal })))))
    ).flat();
    for (const g of got) out.set(g.id, securityGroupSpec(g, !attached.has(g.id)));
    for (const id of wanted) {
      if (!out.has(id)) {
        const how = attached.has(id) ? 'used by a member port' : 'named as remote group by a rule';
        warnings.add({ code: 'security-group-missing', resourceType: 'security-group', resourceId: id, message: `security group ${id} (${how}) could not be read` });
      }
    }
    const next = new Set<string>();
    for (const g of got) for (const r of g.security_group_rules ?? []) if (r.remote_group_id && !asked.has(r.remote_group_id)) next.add(r.remote_group_id);
    wanted = [...next].sort(byString);
  }
  return out;
}

function memberServer(
  s: ServerBody,
  flavor: FlavorSpec,
  imageById: Map<string, ImageSpec>,
  keypairsByUser: Map<string, Map<string, KeypairSpec>>,
  groupOf: Map<string, ServerGroup>,
  warnings: Warnings,
): MemberServer {
  const out: MemberServer = {
    id: s.id,
    name: s.name,
    status: s.status,
    powerState: powerStateName(s['OS-EXT-STS:power_state']),
    flavor,
    bootFromVolume: serverImageId(s) === undefined,
    availabilityZone: s['OS-EXT-AZ:availability_zone'] ?? '',
    metadata: sortedRecord(Object.entries(s.metadata ?? {})),
    tags: [...(s.tags ?? [])].sort(byString),
    serverGroups: [],
    locked: s.locked === true,
    configDrive: s.config_drive === 'True' || s.config_drive === 'true' || (s.config_drive as unknown) === true,
    diskConfig: s['OS-DCF:diskConfig'] ?? 'MANUAL',
    userId: s.user_id,
    projectId: s.tenant_id,
    createdAt: s.created,
  };
  const imageId = serverImageId(s);
  if (imageId !== undefined) {
    const img = imageById.get(imageId);
    out.image = { id: imageId };
    if (img) {
      out.image.name = img.name;
      if (img.checksum) out.image.checksum = img.checksum;
      if (img.hashAlgo) out.image.hashAlgo = img.hashAlgo;
      if (img.hashValue) out.image.hashValue = img.hashValue;
    } else {
      warnings.add({ code: 'image-missing', resourceType: 'image', resourceId: imageId, message: `image ${imageId} could not be read (deleted, or not visible to this user): the server cannot be rebuilt from it` }, s.id);
    }
  }
  if (s.key_name) {
    out.keyName = s.key_name;
    const kp = keypairsByUser.get(s.user_id)?.get(s.key_name);
    if (kp) out.keypair = { name: kp.name, publicKey: kp.publicKey, type: kp.type };
    else warnings.add({ code: 'keypair-missing', resourceType: 'keypair', resourceId: s.key_name, message: `keypair ${s.key_name} of user ${s.user_id} could not be read (deleted, or another user's)` }, s.id);
  }
  if (str(s.description)) out.description = s.description!;
  if (str(s.locked_reason)) out.lockedReason = s.locked_reason!;
  if (str(s['OS-EXT-SRV-ATTR:root_device_name'])) out.rootDeviceName = s['OS-EXT-SRV-ATTR:root_device_name']!;
  const g = groupOf.get(s.id);
  if (g) {
    const sg: MemberServerGroup = { id: g.id, name: g.name, policy: serverGroupPolicy(g) ?? '', rules: groupRules(g) };
    out.serverGroups.push(sg);
  }
  return out;
}

/** NIC order from the server's addresses (VIF order, grouped by network), by MAC. */
function nicOrder(s: ServerBody): Map<string, number> {
  const order = new Map<string, number>();
  for (const addrs of Object.values(s.addresses ?? {})) {
    for (const a of addrs) {
      const mac = a['OS-EXT-IPS-MAC:mac_addr']?.toLowerCase();
      if (mac && !order.has(mac)) order.set(mac, order.size);
    }
  }
  return order;
}

function memberPortsOf(s: ServerBody, ports: Port[], networkById: Map<string, NetworkSpec>, subnetById: Map<string, SubnetSpec>, warnings: Warnings): MemberPort[] {
  const order = nicOrder(s);
  const sorted = [...ports].sort((a, b) => {
    const oa = order.get(a.mac_address.toLowerCase()) ?? Number.MAX_SAFE_INTEGER;
    const ob = order.get(b.mac_address.toLowerCase()) ?? Number.MAX_SAFE_INTEGER;
    return oa - ob || byString(a.id, b.id);
  });
  return sorted.map((p, nicIndex) => {
    const fixedIps = (p.fixed_ips ?? []).map((ip) => {
      const sn = subnetById.get(ip.subnet_id);
      if (!sn) warnings.add({ code: 'subnet-missing', resourceType: 'subnet', resourceId: ip.subnet_id, message: `subnet ${ip.subnet_id} of port ${p.id} could not be read` }, s.id);
      return sn ? { subnetId: ip.subnet_id, subnetCidr: sn.cidr, ipAddress: ip.ip_address } : { subnetId: ip.subnet_id, ipAddress: ip.ip_address };
    });
    const out: MemberPort = {
      id: p.id,
      name: p.name ?? '',
      description: p.description ?? '',
      nicIndex,
      networkId: p.network_id,
      macAddress: p.mac_address,
      fixedIps,
      securityGroupIds: [...(p.security_groups ?? [])].sort(byString),
      allowedAddressPairs: (p.allowed_address_pairs ?? []).map((ap) => (ap.mac_address ? { ipAddress: ap.ip_address, macAddress: ap.mac_address } : { ipAddress: ap.ip_address })),
      adminStateUp: p.admin_state_up,
      tags: [...(p.tags ?? [])].sort(byString),
    };
    const net = networkById.get(p.network_id);
    if (net) out.networkName = net.name;
    if (p.port_security_enabled !== undefined) out.portSecurityEnabled = p.port_security_enabled;
    if (str(p['binding:vnic_type'])) out.vnicType = p['binding:vnic_type']!;
    if (str(p.dns_name)) out.dnsName = p.dns_name!;
    if (str(p.qos_policy_id)) out.qosPolicyId = p.qos_policy_id!;
    return out;
  });
}

function memberVolumesOf(
  s: ServerBody,
  cinderAttached: Map<string, Volume> | undefined,
  volumeById: Map<string, Volume>,
  typeById: Map<string, VolumeTypeSpec>,
  typeByName: Map<string, string>,
  warnings: Warnings,
): MemberVolume[] {
  const novaAttached = s['os-extended-volumes:volumes_attached'] ?? [];
  const deleteOnTermination = new Map(novaAttached.map((a) => [a.id, a.delete_on_termination]));
  const vols = new Map(cinderAttached ?? []);
  for (const a of novaAttached) {
    if (vols.has(a.id)) continue;
    const v = volumeById.get(a.id);
    if (v) vols.set(a.id, v);
    else warnings.add({ code: 'volume-missing', resourceType: 'volume', resourceId: a.id, message: `volume ${a.id} attached to server ${s.name} is not among the project's volumes (deleted, or another project's)` }, s.id);
  }
  const deviceOf = (v: Volume) => str(v.attachments?.find((a) => a.server_id === s.id)?.device);
  const list = [...vols.values()].sort((a, b) => compareDevices(deviceOf(a), deviceOf(b)) || byString(a.id, b.id));

  // The root volume of a server booted from a volume: at the root device name, else the first
  // bootable one in device order, else the first.
  let boot: Volume | undefined;
  if (serverImageId(s) === undefined) {
    const root = str(s['OS-EXT-SRV-ATTR:root_device_name']);
    boot = (root ? list.find((v) => deviceOf(v) === root) : undefined) ?? list.find((v) => v.bootable === 'true') ?? list[0];
    if (!boot) warnings.add({ code: 'boot-volume-missing', resourceType: 'server', resourceId: s.id, message: `server ${s.name} boots from a volume, but none of its volumes was found` }, s.id);
  }
  const ordered = boot ? [boot, ...list.filter((v) => v !== boot)] : list;

  return ordered.map((v, attachmentOrder) => {
    const out: MemberVolume = {
      id: v.id,
      name: v.name ?? '',
      size: v.size,
      bootable: v.bootable === 'true',
      attachmentOrder,
      availabilityZone: v.availability_zone,
      metadata: sortedRecord(Object.entries(v.metadata ?? {})),
      multiattach: v.multiattach === true,
      encrypted: v.encrypted === true,
      status: v.status,
    };
    if (str(v.description)) out.description = v.description!;
    const device = deviceOf(v);
    if (device) out.device = device;
    if (v === boot) out.bootIndex = 0;
    if (v.volume_type) {
      out.volumeType = v.volume_type;
      const typeId = v.volume_type_id ?? typeByName.get(v.volume_type);
      if (typeId) out.volumeTypeId = typeId;
      if (!typeId || !typeById.has(typeId)) {
        warnings.add({ code: 'volume-type-missing', resourceType: 'volume-type', resourceId: typeId ?? v.volume_type, message: `volume type ${v.volume_type} of volume ${v.id} could not be read (private, or deleted)` }, s.id);
      }
    }
    const dot = deleteOnTermination.get(v.id);
    if (dot !== undefined) out.deleteOnTermination = dot;
    if (v.volume_image_metadata) out.imageMetadata = sortedRecord(Object.entries(v.volume_image_metadata));
    if (str(v.replication_status)) out.replicationStatus = v.replication_status!;
    if (str(v.group_id)) out.groupId = v.group_id!;
    return out;
  });
}
