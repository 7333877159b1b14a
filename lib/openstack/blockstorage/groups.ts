// Cinder v3 generic volume groups, group snapshots and group types: crash-consistent
// snapshots of every volume of a workload at once. API reference:
// https://docs.openstack.org/api-ref/block-storage/v3/#generic-volume-groups-groups
// https://docs.openstack.org/api-ref/block-storage/v3/#group-snapshots-group-snapshots
// https://docs.openstack.org/api-ref/block-storage/v3/#group-types-group-types
// Source: cinder/api/v3/groups.py, group_snapshots.py, group_types.py and their views,
// cinder/api/schemas/groups.py, group_snapshots.py, cinder/objects/fields.py (Zed).
// Microversions: group types 3.11, groups 3.13, group snapshots 3.14.
// Lists put their next link under the singular name (`group_links`, `group_snapshot_links`,
// `group_type_links`: the views' _get_collection_links calls), hence paginate's `linksKey`.
import { isNotFound } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';
import { DELETED, waitFor, type WaitOptions } from '../wait.js';

// ---- types ----------------------------------------------------------------

/** cinder/objects/fields.py GroupStatus. */
export type GroupStatus = 'creating' | 'available' | 'updating' | 'in-use' | 'deleting' | 'deleted' | 'error' | 'error_deleting';

/** cinder/objects/fields.py GroupSnapshotStatus. */
export type GroupSnapshotStatus = 'creating' | 'available' | 'updating' | 'deleting' | 'deleted' | 'error' | 'error_deleting';

export interface Group {
  id: string;
  name: string | null;
  description: string | null;
  status: GroupStatus;
  availability_zone: string;
  created_at: string;
  /** The group type's ID. */
  group_type: string;
  /** Volume type IDs. */
  volume_types: string[];
  /** Since 3.14. */
  group_snapshot_id?: string | null;
  /** Since 3.14. */
  source_group_id?: string | null;
  /** Since 3.25, only when listed with `list_volume=true`: member volume IDs. */
  volumes?: string[];
  /** Since 3.38. */
  replication_status?: string | null;
  /** Since 3.58, when policy allows. */
  project_id?: string;
}

/** What create answers: views/groups.py summary. */
export interface GroupSummary {
  id: string;
  name: string | null;
}

export interface GroupSnapshot {
  id: string;
  name: string | null;
  description: string | null;
  status: GroupSnapshotStatus;
  group_id: string;
  group_type_id: string;
  created_at: string;
  /** Since 3.58, when policy allows. */
  project_id?: string;
}

/** What create answers: views/group_snapshots.py summary. */
export interface GroupSnapshotSummary {
  id: string;
  name: string | null;
  group_type_id: string;
}

export interface GroupType {
  id: string;
  name: string;
  description: string | null;
  is_public: boolean;
  /** When policy allows, e.g. {"consistent_group_snapshot_enabled": "<is> True"}. */
  group_specs?: Record<string, string>;
}

export interface ListGroupsQuery {
  name?: string;
  /** Admin only: every project's groups. */
  all_tenants?: boolean;
  /** Since 3.25: include member volume IDs. */
  list_volume?: boolean;
  limit?: number;
  sort?: string;
}

export interface ListGroupSnapshotsQuery {
  name?: string;
  status?: GroupSnapshotStatus;
  group_id?: string;
  all_tenants?: boolean;
  /** Paging and sorting need 3.29. */
  limit?: number;
  sort?: string;
}

export interface CreateGroupOpts {
  /** Group type ID or name. */
  group_type: string;
  /** Volume type IDs or names (at least one). */
  volume_types: string[];
  name?: string;
  description?: string;
  availability_zone?: string;
}

export interface CreateGroupSnapshotOpts {
  group_id: string;
  name?: string;
  description?: string;
}

// ---- urls -----------------------------------------------------------------

export const groupUrls = {
  list: () => 'groups/detail',
  create: () => 'groups',
  one: (id: string) => `groups/${encodeURIComponent(id)}`,
  action: (id: string) => `groups/${encodeURIComponent(id)}/action`,
  snapshotList: () => 'group_snapshots/detail',
  snapshotCreate: () => 'group_snapshots',
  snapshot: (id: string) => `group_snapshots/${encodeURIComponent(id)}`,
  types: () => 'group_types',
};

// ---- requests ---------------------------------------------------------------

const GROUPS = '3.13';
const GROUP_SNAPSHOTS = '3.14';
const GROUP_TYPES = '3.11';

function common(q: { name?: string; all_tenants?: boolean; limit?: number; sort?: string }): Query {
  const out: Query = {};
  if (q.name !== undefined) out.name = q.name;
  if (q.all_tenants) out.all_tenants = 1;
  if (q.limit !== undefined) out.limit = q.limit;
  if (q.sort !== undefined) out.sort = q.sort;
  return out;
}

export function toListGroupsQuery(q: ListGroupsQuery): Query {
  const out = common(q);
  if (q.list_volume) out.list_volume = true;
  return out;
}

export function toListGroupSnapshotsQuery(q: ListGroupSnapshotsQuery): Query {
  const out = common(q);
  if (q.status !== undefined) out.status = q.status;
  if (q.group_id !== undefined) out.group_id = q.group_id;
  return out;
}

/** Lists groups with details, every page (3.13; member volumes with list_volume need 3.25). */
export async function* listGroups(sc: ServiceClient, q: ListGroupsQuery = {}, opts?: PageOptions): AsyncGenerator<Group> {
  await sc.require(q.list_volume ? '3.25' : GROUPS, q.list_volume ? "listing groups' volumes" : 'volume groups', opts?.signal);
  yield* paginate<Group>(sc, groupUrls.list(), toListGroupsQuery(q), { style: 'links', key: 'groups', linksKey: 'group_links' }, opts);
}

export async function getGroup(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Group> {
  await sc.require(GROUPS, 'volume groups', signal);
  return (await sc.get<{ group: Group }>(groupUrls.one(id), { signal })).data.group;
}

/**
 * Creates a group; returns its ID and name at once (it goes creating → available). Not retried.
 * The group type Cinder creates itself, `default_cgsnapshot_type`, is refused with 400 ("is
 * reserved for migrating CGs to groups"): it serves only the old consistency-group API, so a
 * group needs a group type of its own (lab-verified, Zed).
 */
export async function createGroup(sc: ServiceClient, opts: CreateGroupOpts, signal?: AbortSignal): Promise<GroupSummary> {
  await sc.require(GROUPS, 'volume groups', signal);
  return (await sc.post<{ group: GroupSummary }>(groupUrls.create(), { group: opts }, { ok: [202], signal })).data.group;
}

export interface DeleteGroupOpts {
  /** Delete the member volumes too; without it Cinder refuses a group that has volumes (400). */
  deleteVolumes?: boolean;
  /** A missing group is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Deletes a group (POST action `delete`); returns false when it was already gone. */
export async function deleteGroup(sc: ServiceClient, id: string, opts: DeleteGroupOpts = {}): Promise<boolean> {
  await sc.require(GROUPS, 'volume groups', opts.signal);
  try {
    await sc.post(groupUrls.action(id), { delete: { 'delete-volumes': opts.deleteVolumes ?? false } }, { ok: [202], idempotent: true, signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

/** Lists group snapshots with details, every page (3.14; limit and sort need 3.29). */
export async function* listGroupSnapshots(sc: ServiceClient, q: ListGroupSnapshotsQuery = {}, opts?: PageOptions): AsyncGenerator<GroupSnapshot> {
  await sc.require(q.limit !== undefined || q.sort !== undefined ? '3.29' : GROUP_SNAPSHOTS, 'group snapshots', opts?.signal);
  yield* paginate<GroupSnapshot>(
    sc,
    groupUrls.snapshotList(),
    toListGroupSnapshotsQuery(q),
    { style: 'links', key: 'group_snapshots', linksKey: 'group_snapshot_links' },
    opts,
  );
}

export async function getGroupSnapshot(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<GroupSnapshot> {
  await sc.require(GROUP_SNAPSHOTS, 'group snapshots', signal);
  return (await sc.get<{ group_snapshot: GroupSnapshot }>(groupUrls.snapshot(id), { signal })).data.group_snapshot;
}

/** Snapshots every volume of a group at once. Not retried. */
export async function createGroupSnapshot(sc: ServiceClient, opts: CreateGroupSnapshotOpts, signal?: AbortSignal): Promise<GroupSnapshotSummary> {
  await sc.require(GROUP_SNAPSHOTS, 'group snapshots', signal);
  return (await sc.post<{ group_snapshot: GroupSnapshotSummary }>(groupUrls.snapshotCreate(), { group_snapshot: opts }, { ok: [202], signal })).data.group_snapshot;
}

export interface DeleteGroupSnapshotOpts {
  /** A missing group snapshot is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Deletes a group snapshot and its member snapshots; returns false when it was already gone. */
export async function deleteGroupSnapshot(sc: ServiceClient, id: string, opts: DeleteGroupSnapshotOpts = {}): Promise<boolean> {
  await sc.require(GROUP_SNAPSHOTS, 'group snapshots', opts.signal);
  try {
    await sc.delete(groupUrls.snapshot(id), { ok: [202, 204], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

/** Lists group types (3.11), every page. */
export async function* listGroupTypes(sc: ServiceClient, opts?: PageOptions): AsyncGenerator<GroupType> {
  await sc.require(GROUP_TYPES, 'group types', opts?.signal);
  yield* paginate<GroupType>(sc, groupUrls.types(), {}, { style: 'links', key: 'group_types', linksKey: 'group_type_links' }, opts);
}

// ---- waiters ----------------------------------------------------------------

export const GROUP_FAILURES = ['error', 'error_deleting'];

/** Waits until a group is in one of `target` (default available). */
export function waitForGroup(sc: ServiceClient, id: string, target: GroupStatus[] = ['available'], opts: WaitOptions = {}): Promise<Group | undefined> {
  return waitFor<Group>({ resource: `group ${id}`, fetch: () => getGroup(sc, id, opts.signal), status: (g) => g.status, target, failure: GROUP_FAILURES }, opts);
}

/** Waits until a group is gone (404). */
export async function waitForGroupDeleted(sc: ServiceClient, id: string, opts: WaitOptions = {}): Promise<void> {
  await waitFor<Group>(
    { resource: `group ${id}`, fetch: () => getGroup(sc, id, opts.signal), status: (g) => g.status, target: [DELETED, 'deleted'], failure: ['error_deleting'] },
    opts,
  );
}

/** Waits until a group snapshot is in one of `target` (default available). */
export function waitForGroupSnapshot(sc: ServiceClient, id: string, target: GroupSnapshotStatus[] = ['available'], opts: WaitOptions = {}): Promise<GroupSnapshot | undefined> {
  return waitFor<GroupSnapshot>(
    { resource: `group snapshot ${id}`, fetch: () => getGroupSnapshot(sc, id, opts.signal), status: (g) => g.status, target, failure: GROUP_FAILURES },
    opts,
  );
}

/** Waits until a group snapshot is gone (404). */
export async function waitForGroupSnapshotDeleted(sc: ServiceClient, id: string, opts: WaitOptions = {}): Promise<void> {
  await waitFor<GroupSnapshot>(
    {
      resource: `group snapshot ${id}`,
      fetch: () => getGroupSnapshot(sc, id, opts.signal),
      status: (g) => g.status,
      target: [DELETED, 'deleted'],
      failure: ['error_deleting'],
    },
    opts,
  );
}
