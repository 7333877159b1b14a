// Cinder v3 volume types and their extra specs. API reference:
// https://docs.openstack.org/api-ref/block-storage/v3/#volume-types-types
// Source: cinder/api/v3/types.py, cinder/api/v3/views/types.py, cinder/api/contrib/types_manage.py,
// cinder/api/contrib/types_extra_specs.py, cinder/api/schemas/volume_types.py (Zed).
import { isNotFound } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';

// ---- types ----------------------------------------------------------------

export interface VolumeType {
  id: string;
  name: string;
  description: string | null;
  is_public: boolean;
  /** Present when policy lets the caller read extra specs (all of them for admins). */
  extra_specs?: Record<string, string>;
  /** Present when policy lets the caller read QoS. */
  qos_specs_id?: string | null;
  /** Added by the volume-type-access extension. */
  'os-volume-type-access:is_public'?: boolean;
}

export interface ListVolumeTypesQuery {
  /** Admin only: true (public only, Cinder's default), false (private only) or 'None' (both). */
  is_public?: boolean | 'None';
  /** Filter on extra specs (since 3.52), sent as a JSON object. */
  extra_specs?: Record<string, string>;
  limit?: number;
  sort?: string;
}

export interface CreateVolumeTypeOpts {
  name: string;
  description?: string;
  extra_specs?: Record<string, string>;
  /** Default true; false makes a private type. */
  'os-volume-type-access:is_public'?: boolean;
}

// ---- urls -----------------------------------------------------------------

export const volumeTypeUrls = {
  list: () => 'types',
  one: (id: string) => `types/${encodeURIComponent(id)}`,
  extraSpecs: (id: string) => `types/${encodeURIComponent(id)}/extra_specs`,
  extraSpec: (id: string, key: string) => `types/${encodeURIComponent(id)}/extra_specs/${encodeURIComponent(key)}`,
};

// ---- requests ---------------------------------------------------------------

export function toListVolumeTypesQuery(q: ListVolumeTypesQuery): Query {
  const out: Query = {};
  if (q.is_public !== undefined) out.is_public = q.is_public;
  if (q.extra_specs) out.extra_specs = JSON.stringify(q.extra_specs);
  if (q.limit !== undefined) out.limit = q.limit;
  if (q.sort !== undefined) out.sort = q.sort;
  return out;
}

/** Lists volume types, every page (Cinder's next link is under `volume_type_links`, cinder/api/v3/views/types.py). */
export async function* listVolumeTypes(sc: ServiceClient, q: ListVolumeTypesQuery = {}, opts?: PageOptions): AsyncGenerator<VolumeType> {
  if (q.extra_specs) await sc.require('3.52', 'filtering volume types by extra specs', opts?.signal);
  yield* paginate<VolumeType>(sc, volumeTypeUrls.list(), toListVolumeTypesQuery(q), { style: 'links', key: 'volume_types', linksKey: 'volume_type_links' }, opts);
}

/** Reads a volume type by ID, or the project's default type with `default`. */
export async function getVolumeType(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<VolumeType> {
  return (await sc.get<{ volume_type: VolumeType }>(volumeTypeUrls.one(id), { signal })).data.volume_type;
}

/**
 * Finds a volume type by exact name (names are unique in Cinder); undefined when none. Asks
 * for public and private types (`is_public=None`): without it Cinder lists only public types,
 * even to an admin, so a private type (as Ferry creates at a secondary site) would not be
 * found. Non-admins get public types and the private ones shared with their project either way.
 */
export async function findVolumeType(sc: ServiceClient, name: string, signal?: AbortSignal): Promise<VolumeType | undefined> {
  for await (const t of listVolumeTypes(sc, { is_public: 'None' }, { signal })) if (t.name === name) return t;
  return undefined;
}

/** Admin: creates a volume type. Not retried: a repeat would fail with 409 (name exists). */
export async function createVolumeType(sc: ServiceClient, opts: CreateVolumeTypeOpts, signal?: AbortSignal): Promise<VolumeType> {
  return (await sc.post<{ volume_type: VolumeType }>(volumeTypeUrls.list(), { volume_type: opts }, { signal })).data.volume_type;
}

export interface DeleteVolumeTypeOpts {
  /** A missing type is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Admin: deletes a volume type (400 while volumes use it); returns false when it was already gone. */
export async function deleteVolumeType(sc: ServiceClient, id: string, opts: DeleteVolumeTypeOpts = {}): Promise<boolean> {
  try {
    await sc.delete(volumeTypeUrls.one(id), { ok: [202, 204], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

/** Reads a type's extra specs (non-admins see only the user-visible ones). */
export async function getVolumeTypeExtraSpecs(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Record<string, string>> {
  return (await sc.get<{ extra_specs: Record<string, string> }>(volumeTypeUrls.extraSpecs(id), { signal })).data.extra_specs;
}

/** Admin: sets (creates or updates) extra spec keys; other keys are kept. Returns the keys sent. */
export async function setVolumeTypeExtraSpecs(sc: ServiceClient, id: string, extraSpecs: Record<string, string>, signal?: AbortSignal): Promise<Record<string, string>> {
  // update_or_create per key: sending the same keys twice gives the same result.
  return (await sc.post<{ extra_specs: Record<string, string> }>(volumeTypeUrls.extraSpecs(id), { extra_specs: extraSpecs }, { idempotent: true, signal })).data.extra_specs;
}

/** Admin: removes one extra spec key; returns false when it (or the type) was already gone. */
export async function deleteVolumeTypeExtraSpec(sc: ServiceClient, id: string, key: string, signal?: AbortSignal): Promise<boolean> {
  try {
    await sc.delete(volumeTypeUrls.extraSpec(id, key), { ok: [200, 202, 204], signal });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
