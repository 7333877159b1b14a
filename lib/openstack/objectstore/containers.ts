// Swift v1 account and containers. API reference: https://docs.openstack.org/api-ref/object-store/
// Source: swift/account/utils.py (account listing JSON), swift/container/server.py (HEAD
// headers, 409 on deleting a non-empty container), swift/proxy/controllers/container.py,
// swift/common/swob.py (error pages: `<html><h1>Not Found</h1><p>...</p></html>`), 2.30 (Zed).
// Swift has no microversions and speaks headers rather than JSON for metadata: what a HEAD
// returns is parsed into the snake_case shapes below (named after the headers), raw headers kept.
import { ConflictError, FerryError, isConflict, isNotFound } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';

// ---- types ----------------------------------------------------------------

/** An account listing entry (GET account?format=json). */
export interface ContainerSummary {
  name: string;
  count: number;
  bytes: number;
  /** Since Swift 2.13 (Pike). */
  last_modified?: string;
}

export interface ListContainersQuery {
  prefix?: string;
  /** Start after this name. */
  marker?: string;
  /** Stop before this name. */
  end_marker?: string;
  /** Page size (Swift's container_listing_limit, default 10000, caps it). */
  limit?: number;
}

/** X-Account-* headers of HEAD account. */
export interface AccountInfo {
  container_count: number;
  object_count: number;
  bytes_used: number;
  /** X-Account-Meta-* with lower-case keys (Swift does not keep the case of header names). */
  metadata: Record<string, string>;
  headers: Record<string, string>;
}

/** X-Container-* headers of HEAD container. */
export interface ContainerInfo {
  object_count: number;
  bytes_used: number;
  /** X-Container-Meta-* with lower-case keys. */
  metadata: Record<string, string>;
  storage_policy: string | undefined;
  read_acl: string | undefined;
  write_acl: string | undefined;
  /** Legacy versioning (X-Versions-Location) or history mode (X-History-Location). */
  versions_location: string | undefined;
  history_location: string | undefined;
  timestamp: string | undefined;
  headers: Record<string, string>;
}

export interface CreateContainerOpts {
  /** X-Container-Meta-*; values must be printable ASCII (they travel as HTTP headers). */
  metadata?: Record<string, string>;
  /** X-Storage-Policy; only honoured when the container is created, not on an existing one. */
  storage_policy?: string;
  read_acl?: string;
  write_acl?: string;
  /** More raw headers (X-Versions-Location, X-Container-Meta-Quota-Bytes...). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface SetContainerMetadataOpts {
  /** Keys to set; keys not named are kept (POST merges). */
  metadata?: Record<string, string>;
  /** Keys to remove (X-Remove-Container-Meta-*). */
  remove?: string[];
  read_acl?: string;
  write_acl?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

// ---- urls -----------------------------------------------------------------

/** Swift names go into the path; '/' stays a separator in object names (as swiftclient sends them). */
export function swiftPath(container: string, object?: string): string {
  const c = encodeURIComponent(container);
  return object === undefined ? c : `${c}/${object.split('/').map(encodeURIComponent).join('/')}`;
}

export const containerUrls = {
  account: () => '',
  one: (container: string) => swiftPath(container),
};

// ---- headers ----------------------------------------------------------------

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const HEADER_VALUE = /^[\x20-\x7e\t]*$/;

/** `X-<Kind>-Meta-<key>` headers; rejects what HTTP cannot carry with a message saying so. */
export function metaHeaders(kind: 'Account' | 'Container' | 'Object', metadata: Record<string, string> | undefined, remove: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (!HEADER_NAME.test(k)) throw new FerryError(`Swift metadata key '${k}' cannot be an HTTP header name: use letters, digits and '-'`);
    if (!HEADER_VALUE.test(v)) throw new FerryError(`Swift metadata '${k}' must be printable ASCII (it travels as an HTTP header): percent-encode it first`);
    out[`X-${kind}-Meta-${k}`] = v;
  }
  for (const k of remove) {
    if (!HEADER_NAME.test(k)) throw new FerryError(`Swift metadata key '${k}' cannot be an HTTP header name`);
    out[`X-Remove-${kind}-Meta-${k}`] = '1';
  }
  return out;
}

/** Metadata from lower-cased response headers: `x-container-meta-foo: bar` gives {foo: 'bar'}. */
export function parseMeta(kind: 'account' | 'container' | 'object', headers: Record<string, string>): Record<string, string> {
  const prefix = `x-${kind}-meta-`;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

function int(v: string | undefined): number {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

// ---- requests ---------------------------------------------------------------

export function toListContainersQuery(q: ListContainersQuery): Query {
  const out: Query = {};
  if (q.prefix !== undefined) out.prefix = q.prefix;
  if (q.marker !== undefined) out.marker = q.marker;
  if (q.end_marker !== undefined) out.end_marker = q.end_marker;
  return out;
}

/** Lists the account's containers, every page (marker = last name, until an empty page). */
export function listContainers(sc: ServiceClient, q: ListContainersQuery = {}, opts?: PageOptions): AsyncGenerator<ContainerSummary> {
  return paginate<ContainerSummary>(sc, containerUrls.account(), toListContainersQuery(q), { style: 'swift', limit: q.limit }, opts);
}

export async function getAccountMetadata(sc: ServiceClient, signal?: AbortSignal): Promise<AccountInfo> {
  const h = (await sc.head(containerUrls.account(), { ok: [200, 204], signal })).headers;
  return {
    container_count: int(h['x-account-container-count']),
    object_count: int(h['x-account-object-count']),
    bytes_used: int(h['x-account-bytes-used']),
    metadata: parseMeta('account', h),
    headers: h,
  };
}

/** Creates a container, or updates the metadata of an existing one; true when it was created (201, not 202). */
export async function createContainer(sc: ServiceClient, container: string, opts: CreateContainerOpts = {}): Promise<boolean> {
  const headers: Record<string, string> = { ...metaHeaders('Container', opts.metadata), ...opts.headers };
  if (opts.storage_policy) headers['X-Storage-Policy'] = opts.storage_policy;
  if (opts.read_acl !== undefined) headers['X-Container-Read'] = opts.read_acl;
  if (opts.write_acl !== undefined) headers['X-Container-Write'] = opts.write_acl;
  // PUT is idempotent in Swift (202 when the container exists), so the transport may repeat it.
  const res = await sc.put(containerUrls.one(container), undefined, { headers, ok: [201, 202], responseType: 'text', signal: opts.signal });
  return res.status === 201;
}

export async function getContainerMetadata(sc: ServiceClient, container: string, signal?: AbortSignal): Promise<ContainerInfo> {
  const h = (await sc.head(containerUrls.one(container), { ok: [200, 204], signal })).headers;
  return {
    object_count: int(h['x-container-object-count']),
    bytes_used: int(h['x-container-bytes-used']),
    metadata: parseMeta('container', h),
    storage_policy: h['x-storage-policy'],
    read_acl: h['x-container-read'],
    write_acl: h['x-container-write'],
    versions_location: h['x-versions-location'],
    history_location: h['x-history-location'],
    timestamp: h['x-timestamp'],
    headers: h,
  };
}

/** Sets and removes container metadata keys (POST merges); safe to repeat. */
export async function setContainerMetadata(sc: ServiceClient, container: string, opts: SetContainerMetadataOpts): Promise<void> {
  const headers: Record<string, string> = { ...metaHeaders('Container', opts.metadata, opts.remove), ...opts.headers };
  if (opts.read_acl !== undefined) headers['X-Container-Read'] = opts.read_acl;
  if (opts.write_acl !== undefined) headers['X-Container-Write'] = opts.write_acl;
  await sc.request('POST', containerUrls.one(container), { headers, ok: [204], responseType: 'text', idempotent: true, signal: opts.signal });
}

export interface DeleteContainerOpts {
  /** A missing container is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/**
 * Deletes an empty container; returns false when it was already gone. Swift refuses a
 * container that still holds objects with 409, rethrown as a ConflictError saying so.
 */
export async function deleteContainer(sc: ServiceClient, container: string, opts: DeleteContainerOpts = {}): Promise<boolean> {
  try {
    await sc.delete(containerUrls.one(container), { ok: [204], responseType: 'text', signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    if (isConflict(err)) {
      throw new ConflictError({
        status: err.status,
        method: err.method,
        url: err.url,
        service: err.service,
        requestId: err.requestId,
        type: 'ContainerNotEmpty',
        detail: `container '${container}' is not empty: delete its objects first (and the segments of its large objects, kept in their own container)`,
      });
    }
    throw err;
  }
}
