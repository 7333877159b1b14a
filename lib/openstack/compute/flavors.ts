// Nova v2.1 flavors and their extra specs. API reference:
// https://docs.openstack.org/api-ref/compute/#flavors
// Source: nova/api/openstack/compute/flavors.py, flavor_manage.py, flavors_extraspecs.py,
// views/flavors.py, schemas/flavors.py, schemas/flavor_manage.py (Zed, 26.x).
import { isNotFound } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';
import type { Link } from './servers.js';

// ---- types ----------------------------------------------------------------

export interface Flavor {
  id: string;
  name: string;
  /** MiB. */
  ram: number;
  /** Root disk, GiB. */
  disk: number;
  /** MiB; `""` for none before 2.75, 0 since. */
  swap: number | '';
  'OS-FLV-EXT-DATA:ephemeral': number;
  'OS-FLV-DISABLED:disabled': boolean;
  vcpus: number;
  'os-flavor-access:is_public': boolean;
  /** `""` when unset. */
  rxtx_factor: number | '';
  links: Link[];
  /** Since 2.55. */
  description?: string | null;
  /** Since 2.61, when policy allows reading extra specs. */
  extra_specs?: Record<string, string>;
}

export interface ListFlavorsQuery {
  /**
   * Admin only (others always see public flavors): true (default) public flavors, false
   * private ones, `none` both.
   */
  is_public?: boolean | 'none';
  /** Flavors with at least this much RAM (MiB). */
  minRam?: number;
  /** Flavors with at least this much root disk (GiB). */
  minDisk?: number;
  sort_key?: string;
  sort_dir?: 'asc' | 'desc';
  limit?: number;
}

export interface CreateFlavorOpts {
  name: string;
  /** Flavor ID; Nova generates a UUID when omitted. */
  id?: string;
  ram: number;
  vcpus: number;
  disk: number;
  'OS-FLV-EXT-DATA:ephemeral'?: number;
  swap?: number;
  rxtx_factor?: number;
  'os-flavor-access:is_public'?: boolean;
  /** Since 2.55. */
  description?: string;
}

// ---- urls -----------------------------------------------------------------

export const flavorUrls = {
  list: () => 'flavors/detail',
  create: () => 'flavors',
  one: (id: string) => `flavors/${encodeURIComponent(id)}`,
  extraSpecs: (id: string) => `flavors/${encodeURIComponent(id)}/os-extra_specs`,
  extraSpec: (id: string, key: string) => `flavors/${encodeURIComponent(id)}/os-extra_specs/${encodeURIComponent(key)}`,
};

// ---- requests ---------------------------------------------------------------

export function toListFlavorsQuery(q: ListFlavorsQuery): Query {
  const out: Query = {};
  if (q.is_public !== undefined) out.is_public = q.is_public === 'none' ? 'None' : q.is_public;
  if (q.minRam !== undefined) out.minRam = q.minRam;
  if (q.minDisk !== undefined) out.minDisk = q.minDisk;
  if (q.sort_key !== undefined) out.sort_key = q.sort_key;
  if (q.sort_dir !== undefined) out.sort_dir = q.sort_dir;
  return out;
}

/** Lists flavors with details, every page (the next link's marker is a flavor ID). */
export function listFlavors(sc: ServiceClient, q: ListFlavorsQuery = {}, opts?: PageOptions): AsyncGenerator<Flavor> {
  return paginate<Flavor>(sc, flavorUrls.list(), toListFlavorsQuery(q), { style: 'links', key: 'flavors', limit: q.limit }, opts);
}

export async function getFlavor(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Flavor> {
  return (await sc.get<{ flavor: Flavor }>(flavorUrls.one(id), { signal })).data.flavor;
}

/** Admin: creates a flavor (200, not 201). Not retried: a repeat would 409 or, without `id`, make a twin. */
export async function createFlavor(sc: ServiceClient, opts: CreateFlavorOpts, signal?: AbortSignal): Promise<Flavor> {
  if (opts.description !== undefined) await sc.require('2.55', 'a flavor description', signal);
  return (await sc.post<{ flavor: Flavor }>(flavorUrls.create(), { flavor: opts }, { ok: [200], signal })).data.flavor;
}

export interface DeleteFlavorOpts {
  /** A missing flavor is not an error (default true). */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Admin: deletes a flavor (202); returns false when it was already gone. Servers keep their embedded copy. */
export async function deleteFlavor(sc: ServiceClient, id: string, opts: DeleteFlavorOpts = {}): Promise<boolean> {
  try {
    await sc.delete(flavorUrls.one(id), { ok: [202], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

export async function getFlavorExtraSpecs(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Record<string, string>> {
  return (await sc.get<{ extra_specs: Record<string, string> }>(flavorUrls.extraSpecs(id), { signal })).data.extra_specs;
}

/**
 * Admin: sets (merges) extra specs; returns the keys sent. Nova validates the values of known
 * namespaces (hw:, trait:, ...) only from 2.86 on: at Ferry's 2.79 it stores any string.
 */
export async function setFlavorExtraSpecs(sc: ServiceClient, id: string, specs: Record<string, string>, signal?: AbortSignal): Promise<Record<string, string>> {
  // POST merges the given keys into the existing ones; repeating it changes nothing.
  return (await sc.post<{ extra_specs: Record<string, string> }>(flavorUrls.extraSpecs(id), { extra_specs: specs }, { ok: [200], idempotent: true, signal })).data.extra_specs;
}

/** Admin: removes one extra spec (200, empty body); returns false when it was not set. */
export async function deleteFlavorExtraSpec(sc: ServiceClient, id: string, key: string, opts: DeleteFlavorOpts = {}): Promise<boolean> {
  try {
    await sc.delete(flavorUrls.extraSpec(id, key), { ok: [200], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}
