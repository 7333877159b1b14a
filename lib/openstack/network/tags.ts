// Neutron tags (extension `standard-attr-tag`) and the list filters every Neutron module shares.
// API reference: https://docs.openstack.org/api-ref/network/v2/#tag-extension-tags
// Source: neutron/extensions/tagging.py, neutron/services/tag/tag_plugin.py,
// neutron/api/api_common.py (pagination links) (Zed, neutron 21.0.0).
import { isNotFound } from '../../errors.js';
import type { ServiceClient } from '../service-client.js';
import type { Query, QueryValue } from '../transport.js';

// ---- types ----------------------------------------------------------------

/**
 * Collections whose members take tags, spelled as in their URLs (TAG_SUPPORTED_RESOURCES:
 * every model with `tag_support = True`; security groups keep their hyphen).
 */
export type TaggableResource =
  | 'networks'
  | 'subnets'
  | 'ports'
  | 'subnetpools'
  | 'routers'
  | 'floatingips'
  | 'security-groups'
  | 'trunks'
  | 'network_segment_ranges';

/**
 * Tag filters of every taggable collection's listing. Each list is sent comma-joined, e.g.
 * `tags=ferry:plan=web,ferry:site=a` (Neutron's documented form).
 */
export interface TagFilters {
  /** Items carrying every one of these tags. */
  tags?: string[];
  /** Items carrying at least one of these tags. */
  'tags-any'?: string[];
  /** Leaves out items carrying every one of these tags. */
  'not-tags'?: string[];
  /** Leaves out items carrying any of these tags. */
  'not-tags-any'?: string[];
}

/** Filters every Neutron listing takes, besides its own attribute filters. */
export interface NeutronListQuery extends TagFilters {
  project_id?: string;
  /** Only these fields in each item (repeatable `fields=`); `id` should be among them for paging. */
  fields?: string[];
  /** Sorting: repeatable `sort_key` with matching `sort_dir`. */
  sort_key?: string[];
  sort_dir?: ('asc' | 'desc')[];
  /** Page size; Neutron then returns `<collection>_links` with `rel: next` while pages are full. */
  limit?: number;
}

// ---- urls -----------------------------------------------------------------

export const tagUrls = {
  all: (resource: TaggableResource, id: string) => `v2.0/${resource}/${encodeURIComponent(id)}/tags`,
  one: (resource: TaggableResource, id: string, tag: string) => `v2.0/${resource}/${encodeURIComponent(id)}/tags/${encodeURIComponent(tag)}`,
};

// ---- requests ---------------------------------------------------------------

const TAG_KEYS = new Set(['tags', 'tags-any', 'not-tags', 'not-tags-any']);

/**
 * Turns a Neutron list query into wire parameters: tag lists comma-joined, other arrays as
 * repeated parameters (`fixed_ips=...&fixed_ips=...`), booleans as `true`/`false`; `limit`
 * is left to the paginator.
 */
export function toNeutronQuery(q: object): Query {
  const out: Query = {};
  for (const [k, v] of Object.entries(q) as [string, unknown][]) {
    if (v === undefined || v === null || k === 'limit') continue;
    if (TAG_KEYS.has(k) && Array.isArray(v)) {
      if (v.length > 0) out[k] = v.join(',');
    } else if (Array.isArray(v)) {
      if (v.length > 0) out[k] = v.map((x) => (typeof x === 'number' ? x : String(x)));
    } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      out[k] = v as QueryValue;
    } else {
      throw new TypeError(`neutron filter ${k} must be a string, number, boolean or list`);
    }
  }
  return out;
}

/** Lists a resource's tags. */
export async function listTags(sc: ServiceClient, resource: TaggableResource, id: string, signal?: AbortSignal): Promise<string[]> {
  return (await sc.get<{ tags: string[] }>(tagUrls.all(resource, id), { signal })).data.tags;
}

/** True when the resource carries `tag` (204), false when not (404 TagNotFound); a missing resource is an error. */
export async function hasTag(sc: ServiceClient, resource: TaggableResource, id: string, tag: string, signal?: AbortSignal): Promise<boolean> {
  try {
    await sc.get(tagUrls.one(resource, id, tag), { ok: [204], signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && err.type === 'TagNotFound') return false;
    throw err;
  }
}

/** Adds one tag (201; adding a tag already there is a no-op, so this is safe to repeat). */
export async function addTag(sc: ServiceClient, resource: TaggableResource, id: string, tag: string, signal?: AbortSignal): Promise<void> {
  await sc.put(tagUrls.one(resource, id, tag), undefined, { ok: [201, 204], responseType: 'text', signal });
}

/** Replaces every tag of the resource with `tags`; returns the new set. */
export async function replaceTags(sc: ServiceClient, resource: TaggableResource, id: string, tags: string[], signal?: AbortSignal): Promise<string[]> {
  return (await sc.put<{ tags: string[] }>(tagUrls.all(resource, id), { tags }, { signal })).data.tags;
}

export interface RemoveTagOpts {
  /** A tag (or resource) already gone is not an error (default true). */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Removes one tag; returns false when it was not there. */
export async function removeTag(sc: ServiceClient, resource: TaggableResource, id: string, tag: string, opts: RemoveTagOpts = {}): Promise<boolean> {
  try {
    await sc.delete(tagUrls.one(resource, id, tag), { ok: [204], responseType: 'text', signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

/** Removes every tag of the resource. */
export async function removeAllTags(sc: ServiceClient, resource: TaggableResource, id: string, signal?: AbortSignal): Promise<void> {
  await sc.delete(tagUrls.all(resource, id), { ok: [204], responseType: 'text', signal });
}

/**
 * Shared idempotent delete of a Neutron resource (204): returns false when it was already
 * gone and `ignoreMissing` is not false.
 */
export async function deleteNeutronResource(sc: ServiceClient, path: string, opts: { ignoreMissing?: boolean; signal?: AbortSignal | undefined } = {}): Promise<boolean> {
  try {
    await sc.delete(path, { ok: [204], responseType: 'text', signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

/**
 * `If-Match: revision_number=N` (extension `revision-if-match`): the update fails with 412
 * (PreconditionFailedError, "Constrained to N, but current revision is M") if the resource
 * changed since it was read.
 */
export function ifRevisionHeaders(revision: number | undefined): Record<string, string> | undefined {
  return revision === undefined ? undefined : { 'If-Match': `revision_number=${revision}` };
}
