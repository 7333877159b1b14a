// Nova v2.1 servers, their actions, metadata and tags. API reference:
// https://docs.openstack.org/api-ref/compute/#servers-servers
// Source: nova/api/openstack/compute/servers.py, views/servers.py, schemas/servers.py,
// lock_server.py, shelve.py, server_metadata.py, server_tags.py (Zed, 26.x).
import { isNotFound } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';
import { DELETED, waitFor, type WaitOptions } from '../wait.js';

// ---- types ----------------------------------------------------------------

/** Server status as Nova derives it from vm_state and task_state (nova/api/openstack/common.py _STATE_MAP). */
export type ServerStatus =
  | 'ACTIVE'
  | 'BUILD'
  | 'SHUTOFF'
  | 'ERROR'
  | 'DELETED'
  | 'SOFT_DELETED'
  | 'SHELVED'
  | 'SHELVED_OFFLOADED'
  | 'PAUSED'
  | 'SUSPENDED'
  | 'RESCUE'
  | 'REBOOT'
  | 'HARD_REBOOT'
  | 'REBUILD'
  | 'PASSWORD'
  | 'MIGRATING'
  | 'RESIZE'
  | 'VERIFY_RESIZE'
  | 'REVERT_RESIZE'
  /** A server in a cell that is down (2.69+), or a corrupt vm_state/task_state pair. */
  | 'UNKNOWN';

export interface Link {
  href: string;
  rel: string;
}

export interface ServerAddress {
  version: 4 | 6;
  addr: string;
  'OS-EXT-IPS:type'?: 'fixed' | 'floating';
  'OS-EXT-IPS-MAC:mac_addr'?: string;
}

/** The flavor embedded in a server since 2.47: a copy taken at boot (or resize), not a reference. */
export interface EmbeddedFlavor {
  original_name: string;
  vcpus: number;
  ram: number;
  disk: number;
  ephemeral: number;
  swap: number;
  /** Only when policy `os_compute_api:servers:show:flavor-extra-specs` allows it. */
  extra_specs?: Record<string, string>;
}

/** The flavor reference servers carried before 2.47. */
export interface FlavorRef {
  id: string;
  links: Link[];
}

export interface ServerImageRef {
  id: string;
  links: Link[];
}

export interface ServerFault {
  code: number;
  message: string;
  created: string;
  /** Traceback; shown to admins always, to others only when code is not 500. */
  details?: string;
}

export interface AttachedVolumeRef {
  id: string;
  /** Since 2.3. */
  delete_on_termination?: boolean;
}

export interface Server {
  id: string;
  name: string;
  status: ServerStatus;
  tenant_id: string;
  user_id: string;
  metadata: Record<string, string>;
  hostId: string;
  /** `""` for a server booted from a volume. */
  image: ServerImageRef | '';
  /** Embedded copy since 2.47 ({@link EmbeddedFlavor}), a reference before ({@link FlavorRef}). */
  flavor: EmbeddedFlavor | FlavorRef;
  created: string;
  updated: string;
  /** Network name to its addresses; empty while the server is building. */
  addresses: Record<string, ServerAddress[]>;
  accessIPv4: string;
  accessIPv6: string;
  links: Link[];
  'OS-DCF:diskConfig': 'AUTO' | 'MANUAL';
  key_name: string | null;
  /** `""` or `"True"` (a string on the wire). */
  config_drive: string;
  /** Absent when the server has no security group (or has no ports). */
  security_groups?: { name: string }[];
  'OS-EXT-AZ:availability_zone': string;
  'OS-EXT-STS:vm_state': string;
  'OS-EXT-STS:task_state': string | null;
  /** 0 NOSTATE, 1 RUNNING, 3 PAUSED, 4 SHUTDOWN, 6 CRASHED, 7 SUSPENDED. */
  'OS-EXT-STS:power_state': number;
  'os-extended-volumes:volumes_attached': AttachedVolumeRef[];
  'OS-SRV-USG:launched_at': string | null;
  'OS-SRV-USG:terminated_at': string | null;
  /** Admin (extended attributes policy). */
  'OS-EXT-SRV-ATTR:host'?: string | null;
  'OS-EXT-SRV-ATTR:hypervisor_hostname'?: string | null;
  'OS-EXT-SRV-ATTR:instance_name'?: string;
  /** Admin, since 2.3: base64 user data. */
  'OS-EXT-SRV-ATTR:user_data'?: string | null;
  /** Only for status ERROR or DELETED, when a fault was recorded. */
  fault?: ServerFault;
  /** Only for ACTIVE, BUILD, REBUILD, RESIZE, VERIFY_RESIZE and MIGRATING. */
  progress?: number;
  /** Since 2.9. */
  locked?: boolean;
  /** Since 2.73. */
  locked_reason?: string | null;
  /** Since 2.19. */
  description?: string | null;
  /** Since 2.26. */
  tags?: string[];
  /** Since 2.16, when policy allows: UP, DOWN, MAINTENANCE, UNKNOWN or "". */
  host_status?: string;
  /** Since 2.63. */
  trusted_image_certificates?: string[] | null;
  /** Since 2.71, only on GET /servers/{id} (not in lists): the group's ID, or empty. */
  server_groups?: string[];
}

export interface ListServersQuery {
  /** A regular expression on the name (Nova matches it as a pattern). */
  name?: string;
  /** One or more statuses (sent as repeated `status` parameters). */
  status?: ServerStatus | ServerStatus[];
  /** Since 2.26: servers having all of these tags. */
  tags?: string[];
  /** Since 2.26: servers having any of these tags. */
  'tags-any'?: string[];
  /** Since 2.26: servers lacking all of these tags (at least one missing). */
  'not-tags'?: string[];
  /** Since 2.26: servers having none of these tags. */
  'not-tags-any'?: string[];
  /** Admin by default: servers of every project. */
  all_tenants?: boolean;
  /** Nova only honours it together with all_tenants, so Ferry sends all_tenants=1 with it. */
  project_id?: string;
  /** Admin only before 2.83 (silently dropped for others). */
  user_id?: string;
  /** Admin only: compute host. */
  host?: string;
  /** Admin only. */
  uuid?: string;
  /** Servers changed since this ISO 8601 time; includes deleted servers (status DELETED). */
  'changes-since'?: string;
  /** Since 2.66. */
  'changes-before'?: string;
  /** A regular expression on IPv4 addresses. */
  ip?: string;
  ip6?: string;
  image?: string;
  flavor?: string;
  /** Admin only before 2.83. */
  availability_zone?: string;
  /** Admin only before 2.83. */
  key_name?: string;
  /** Since 2.73. */
  locked?: boolean;
  /** Admin only: include deleted servers. */
  deleted?: boolean;
  sort_key?: string | string[];
  sort_dir?: 'asc' | 'desc' | ('asc' | 'desc')[];
  /** Page size; Nova caps it at its max_limit (1000 by default). */
  limit?: number;
}

/** One NIC of a new server: a network (`uuid`), optionally with a fixed IP, or an existing `port`. */
export interface ServerNetwork {
  uuid?: string;
  port?: string;
  fixed_ip?: string;
  /** Device tag: 2.32 to 2.36 and since 2.42 (Ferry requires 2.42). */
  tag?: string;
}

export interface BlockDeviceMappingV2 {
  source_type: 'volume' | 'image' | 'snapshot' | 'blank';
  destination_type?: 'local' | 'volume';
  uuid?: string;
  boot_index?: number | null;
  volume_size?: number;
  delete_on_termination?: boolean;
  device_name?: string;
  device_type?: string;
  disk_bus?: string;
  guest_format?: string;
  /** Since 2.67. */
  volume_type?: string;
  /** Device tag: 2.32 and since 2.42 (Ferry requires 2.42). */
  tag?: string;
}

export interface SchedulerHints {
  /** Server group UUID: the new server joins the group and obeys its policy. */
  group?: string;
  different_host?: string | string[];
  same_host?: string | string[];
  [hint: string]: unknown;
}

export interface CreateServerOpts {
  name: string;
  flavorRef: string;
  /** Image to boot from; omit (or "") to boot from a volume in block_device_mapping_v2. */
  imageRef?: string;
  /**
   * Required since 2.37: a list of NICs, or `auto` (Nova allocates a network) or `none`
   * (the strings need 2.37).
   */
  networks: ServerNetwork[] | 'auto' | 'none';
  block_device_mapping_v2?: BlockDeviceMappingV2[];
  key_name?: string;
  metadata?: Record<string, string>;
  /** Since 2.52. */
  tags?: string[];
  /** Names or IDs; Nova defaults to `default`. */
  security_groups?: { name: string }[];
  availability_zone?: string;
  /** Base64 of the user data (see {@link toUserData}); at most 65535 characters. */
  user_data?: string;
  /** Since 2.19. */
  description?: string;
  config_drive?: boolean;
  /** Admin, since 2.74: a specific compute host. */
  host?: string;
  /** Admin, since 2.74. */
  hypervisor_hostname?: string;
  /** Sent beside `server` in the body, not inside it. */
  'os:scheduler_hints'?: SchedulerHints;
}

/** What POST /servers returns: the server is still building (202). */
export interface CreatedServer {
  id: string;
  links: Link[];
  'OS-DCF:diskConfig': 'AUTO' | 'MANUAL';
  security_groups: { name: string }[];
  /** Only when the cloud sets [api] enable_instance_password. */
  adminPass?: string;
}

// ---- urls -----------------------------------------------------------------

export const serverUrls = {
  list: () => 'servers/detail',
  create: () => 'servers',
  one: (id: string) => `servers/${encodeURIComponent(id)}`,
  action: (id: string) => `servers/${encodeURIComponent(id)}/action`,
  metadata: (id: string) => `servers/${encodeURIComponent(id)}/metadata`,
  metadataKey: (id: string, key: string) => `servers/${encodeURIComponent(id)}/metadata/${encodeURIComponent(key)}`,
  tags: (id: string) => `servers/${encodeURIComponent(id)}/tags`,
  tag: (id: string, tag: string) => `servers/${encodeURIComponent(id)}/tags/${encodeURIComponent(tag)}`,
};

// ---- requests ---------------------------------------------------------------

/** Base64 of a user-data script, as `user_data` wants it. */
export function toUserData(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** True when the server carries the embedded flavor of 2.47+. */
export function isEmbeddedFlavor(f: Server['flavor']): f is EmbeddedFlavor {
  return typeof (f as EmbeddedFlavor).original_name === 'string';
}

/** The server's image ID, or undefined for a server booted from a volume. */
export function serverImageId(s: Pick<Server, 'image'>): string | undefined {
  return s.image === '' || !s.image ? undefined : s.image.id;
}

export function toListServersQuery(q: ListServersQuery): Query {
  const out: Query = {};
  const copy = ['name', 'user_id', 'host', 'uuid', 'changes-since', 'changes-before', 'ip', 'ip6', 'image', 'flavor', 'availability_zone', 'key_name'] as const;
  for (const k of copy) if (q[k] !== undefined) out[k] = q[k];
  if (q.status !== undefined) out.status = Array.isArray(q.status) ? q.status : [q.status];
  for (const k of ['tags', 'tags-any', 'not-tags', 'not-tags-any'] as const) {
    // Nova splits these on commas (servers.py _get_servers).
    if (q[k] !== undefined) out[k] = q[k].join(',');
  }
  if (q.all_tenants || q.project_id !== undefined) out.all_tenants = 1;
  if (q.project_id !== undefined) out.project_id = q.project_id;
  if (q.locked !== undefined) out.locked = q.locked;
  if (q.deleted !== undefined) out.deleted = q.deleted;
  if (q.sort_key !== undefined) out.sort_key = q.sort_key;
  if (q.sort_dir !== undefined) out.sort_dir = q.sort_dir;
  return out;
}

/**
 * Lists servers with details, every page. Filters are applied by Nova; note that Nova silently
 * drops admin-only filters (host, uuid, deleted, and before 2.83 user_id, availability_zone,
 * key_name) for callers without the `allow_all_filters` policy, so the result can be broader
 * than asked.
 */
export async function* listServers(sc: ServiceClient, q: ListServersQuery = {}, opts?: PageOptions): AsyncGenerator<Server> {
  if (q.tags || q['tags-any'] || q['not-tags'] || q['not-tags-any']) await sc.require('2.26', 'filtering servers by tag', opts?.signal);
  if (q['changes-before'] !== undefined) await sc.require('2.66', 'the changes-before filter', opts?.signal);
  if (q.locked !== undefined) await sc.require('2.73', 'the locked filter', opts?.signal);
  yield* paginate<Server>(sc, serverUrls.list(), toListServersQuery(q), { style: 'links', key: 'servers', limit: q.limit }, opts);
}

export async function getServer(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Server> {
  return (await sc.get<{ server: Server }>(serverUrls.one(id), { signal })).data.server;
}

function usesDeviceTags(opts: CreateServerOpts): boolean {
  const nicTags = Array.isArray(opts.networks) && opts.networks.some((n) => n.tag !== undefined);
  return nicTags || (opts.block_device_mapping_v2 ?? []).some((b) => b.tag !== undefined);
}

/**
 * Boots a server; it comes back in BUILD (use waitForServer). Not retried on failure: a
 * second POST would boot a second server, so callers adopt by metadata or tag first.
 */
export async function createServer(sc: ServiceClient, opts: CreateServerOpts, signal?: AbortSignal): Promise<CreatedServer> {
  if (typeof opts.networks === 'string') await sc.require('2.37', `networks '${opts.networks}'`, signal);
  if (opts.description !== undefined) await sc.require('2.19', 'a server description', signal);
  if (opts.tags !== undefined) await sc.require('2.52', 'tagging a server at boot', signal);
  if (usesDeviceTags(opts)) await sc.require('2.42', 'device tags on networks or block devices', signal);
  if ((opts.block_device_mapping_v2 ?? []).some((b) => b.volume_type !== undefined)) await sc.require('2.67', 'a volume_type in block_device_mapping_v2', signal);
  if (opts.host !== undefined || opts.hypervisor_hostname !== undefined) await sc.require('2.74', 'booting on a chosen host', signal);
  const { 'os:scheduler_hints': hints, ...server } = opts;
  const body: Record<string, unknown> = { server };
  if (hints) body['os:scheduler_hints'] = hints;
  return (await sc.post<{ server: CreatedServer }>(serverUrls.create(), body, { ok: [202], signal })).data.server;
}

export interface DeleteServerOpts {
  /** A missing server is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Deletes a server (asynchronously: use waitForServerDeleted); returns false when it was already gone. */
export async function deleteServer(sc: ServiceClient, id: string, opts: DeleteServerOpts = {}): Promise<boolean> {
  try {
    await sc.delete(serverUrls.one(id), { ok: [204], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

async function action(sc: ServiceClient, id: string, body: Record<string, unknown>, idempotent: boolean, signal?: AbortSignal): Promise<void> {
  await sc.post(serverUrls.action(id), body, { ok: [202], idempotent, signal });
}

// Actions below answer 202 and work asynchronously; repeating one that already took effect
// yields 409 (conflictingRequest) rather than a second effect, so they may be retried
// (except reboot, which would reboot twice).

/** Powers a server off (ACTIVE → SHUTOFF). */
export function stopServer(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<void> {
  return action(sc, id, { 'os-stop': null }, true, signal);
}

/** Powers a server on (SHUTOFF → ACTIVE). */
export function startServer(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<void> {
  return action(sc, id, { 'os-start': null }, true, signal);
}

/** Locks a server against changes by non-admins; `locked_reason` needs 2.73. Takes effect at once. */
export async function lockServer(sc: ServiceClient, id: string, opts: { locked_reason?: string; signal?: AbortSignal } = {}): Promise<void> {
  if (opts.locked_reason !== undefined) await sc.require('2.73', 'a lock reason', opts.signal);
  await action(sc, id, { lock: opts.locked_reason !== undefined ? { locked_reason: opts.locked_reason } : null }, true, opts.signal);
}

export function unlockServer(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<void> {
  return action(sc, id, { unlock: null }, true, signal);
}

/** Shelves a server (→ SHELVED, then SHELVED_OFFLOADED when offloaded). */
export function shelveServer(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<void> {
  return action(sc, id, { shelve: null }, true, signal);
}

/** Unshelves a server (→ ACTIVE); choosing the availability zone needs 2.77. */
export async function unshelveServer(sc: ServiceClient, id: string, opts: { availability_zone?: string; signal?: AbortSignal } = {}): Promise<void> {
  if (opts.availability_zone !== undefined) await sc.require('2.77', 'unshelving into an availability zone', opts.signal);
  await action(sc, id, { unshelve: opts.availability_zone !== undefined ? { availability_zone: opts.availability_zone } : null }, true, opts.signal);
}

/** Reboots a server (SOFT: ACPI, HARD: power cycle). Not retried: a repeat would reboot again. */
export function rebootServer(sc: ServiceClient, id: string, type: 'SOFT' | 'HARD' = 'SOFT', signal?: AbortSignal): Promise<void> {
  return action(sc, id, { reboot: { type } }, false, signal);
}

export async function getServerMetadata(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Record<string, string>> {
  return (await sc.get<{ metadata: Record<string, string> }>(serverUrls.metadata(id), { signal })).data.metadata;
}

/** Sets (merges) metadata keys; returns the server's whole metadata. */
export async function setServerMetadata(sc: ServiceClient, id: string, metadata: Record<string, string>, signal?: AbortSignal): Promise<Record<string, string>> {
  // POST merges (PUT would replace every key); merging twice gives the same result.
  return (await sc.post<{ metadata: Record<string, string> }>(serverUrls.metadata(id), { metadata }, { idempotent: true, signal })).data.metadata;
}

/** Deletes one metadata key; returns false when the key (or server) was already gone. */
export async function deleteServerMetadataKey(sc: ServiceClient, id: string, key: string, opts: { ignoreMissing?: boolean; signal?: AbortSignal } = {}): Promise<boolean> {
  try {
    await sc.delete(serverUrls.metadataKey(id, key), { ok: [204], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

/** Since 2.26. */
export async function listServerTags(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<string[]> {
  await sc.require('2.26', 'server tags', signal);
  return (await sc.get<{ tags: string[] }>(serverUrls.tags(id), { signal })).data.tags;
}

/** Since 2.26: replaces every tag (at most 50; no '/' or ','). */
export async function replaceServerTags(sc: ServiceClient, id: string, tags: string[], signal?: AbortSignal): Promise<string[]> {
  await sc.require('2.26', 'server tags', signal);
  return (await sc.put<{ tags: string[] }>(serverUrls.tags(id), { tags }, { signal })).data.tags;
}

/**
 * Since 2.26: adds one tag (201 when added, 204 when it was already there). The request has no
 * body, but it states `Content-Type: application/json`: without it the HTTP client labels an
 * empty PUT `application/x-www-form-urlencoded`, which Nova refuses with 415 (wsgi.py
 * get_content_type accepts only JSON, or no type at all).
 */
export async function addServerTag(sc: ServiceClient, id: string, tag: string, signal?: AbortSignal): Promise<void> {
  await sc.require('2.26', 'server tags', signal);
  await sc.put(serverUrls.tag(id, tag), undefined, { ok: [201, 204], headers: { 'Content-Type': 'application/json' }, signal });
}

/** Since 2.26: removes one tag; returns false when the tag was not there. */
export async function deleteServerTag(sc: ServiceClient, id: string, tag: string, opts: { ignoreMissing?: boolean; signal?: AbortSignal } = {}): Promise<boolean> {
  await sc.require('2.26', 'server tags', opts.signal);
  try {
    await sc.delete(serverUrls.tag(id, tag), { ok: [204], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

/**
 * Since 2.26: whether the server has a tag. Nova answers 404 both for "no such tag" and for
 * "no such server"; only the first ("... has no tag ...") is false, the second is thrown.
 */
export async function serverHasTag(sc: ServiceClient, id: string, tag: string, signal?: AbortSignal): Promise<boolean> {
  await sc.require('2.26', 'server tags', signal);
  try {
    await sc.get(serverUrls.tag(id, tag), { ok: [204], signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && /has no tag/i.test(err.detail)) return false;
    throw err;
  }
}

// ---- waiters ----------------------------------------------------------------

/**
 * The status a waiter sees. A server in ERROR with a task in progress (a hard reboot, rebuild
 * or delete of an errored server) is not failed yet: it is reported as `ERROR/<task_state>`.
 */
export function serverWaitStatus(s: Server): string {
  const task = s['OS-EXT-STS:task_state'];
  return s.status === 'ERROR' && task ? `ERROR/${task}` : s.status;
}

function faultReason(s: Server): string | undefined {
  return s.fault?.message;
}

/** Waits until a server is in one of `target`; fails fast on ERROR (and DELETED unless targeted) with the fault message. */
export function waitForServer(sc: ServiceClient, id: string, target: ServerStatus[], opts: WaitOptions = {}): Promise<Server | undefined> {
  const failure = ['ERROR', 'DELETED'].filter((s) => !target.includes(s as ServerStatus));
  return waitFor<Server>(
    { resource: `server ${id}`, fetch: () => getServer(sc, id, opts.signal), status: serverWaitStatus, target, failure, reason: faultReason },
    opts,
  );
}

export interface WaitServerDeletedOptions extends WaitOptions {
  /**
   * Treat SOFT_DELETED as done (default true). Clouds with `reclaim_instance_interval` only
   * soft-delete; such a server keeps its volumes attached and its ports until reclaimed.
   */
  acceptSoftDeleted?: boolean;
}

/** Waits until a server is gone (404, or DELETED); fails fast when the delete left it in ERROR. */
export async function waitForServerDeleted(sc: ServiceClient, id: string, opts: WaitServerDeletedOptions = {}): Promise<void> {
  const target = opts.acceptSoftDeleted === false ? [DELETED] : [DELETED, 'SOFT_DELETED'];
  await waitFor<Server>(
    { resource: `server ${id}`, fetch: () => getServer(sc, id, opts.signal), status: serverWaitStatus, target, failure: ['ERROR'], reason: faultReason },
    opts,
  );
}
