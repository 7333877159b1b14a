// Nova v2.1 server groups (affinity / anti-affinity). API reference:
// https://docs.openstack.org/api-ref/compute/#server-groups-os-server-groups
// Source: nova/api/openstack/compute/server_groups.py, schemas/server_groups.py (Zed, 26.x).
import { isNotFound } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';

// ---- types ----------------------------------------------------------------

/** The soft policies need 2.15. */
export type ServerGroupPolicy = 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';

export interface ServerGroupRules {
  /** anti-affinity only: how many members may share a host. */
  max_server_per_host?: number;
}

export interface ServerGroup {
  id: string;
  name: string;
  /** Since 2.64 (replaces `policies`). */
  policy?: ServerGroupPolicy;
  /** Since 2.64. */
  rules?: ServerGroupRules;
  /** Before 2.64: a one-element list. */
  policies?: ServerGroupPolicy[];
  /** Before 2.64: always empty. */
  metadata?: Record<string, string>;
  /** Server IDs (deleted servers excluded). */
  members: string[];
  /** Since 2.13. */
  project_id?: string;
  /** Since 2.13. */
  user_id?: string;
}

export interface ListServerGroupsQuery {
  /** Admin: groups of every project (ignored for others, who get their own). */
  all_projects?: boolean;
  /** Page size (default 100; at most Nova's max_limit, 1000 by default). */
  limit?: number;
}

export interface CreateServerGroupOpts {
  name: string;
  policy: ServerGroupPolicy;
  /** Since 2.64, anti-affinity only. */
  rules?: ServerGroupRules;
}

// ---- urls -----------------------------------------------------------------

export const serverGroupUrls = {
  list: () => 'os-server-groups',
  create: () => 'os-server-groups',
  one: (id: string) => `os-server-groups/${encodeURIComponent(id)}`,
};

// ---- requests ---------------------------------------------------------------

/** A group's policy whatever the microversion it was read with. */
export function serverGroupPolicy(g: Pick<ServerGroup, 'policy' | 'policies'>): ServerGroupPolicy | undefined {
  return g.policy ?? g.policies?.[0];
}

/**
 * Lists server groups, every page. Nova pages these with limit/offset and no next links
 * (common.limited), so pages are read until one comes back empty or short (see the `offset`
 * page style). `limit` defaults to 100 and must not exceed Nova's max_limit (1000 by default):
 * a capped page would look short and end the listing early.
 */
export function listServerGroups(sc: ServiceClient, q: ListServerGroupsQuery = {}, opts?: PageOptions): AsyncGenerator<ServerGroup> {
  // Nova tests for the presence of all_projects, not its value: never send it as false.
  const query: Query = q.all_projects ? { all_projects: true } : {};
  return paginate<ServerGroup>(sc, serverGroupUrls.list(), query, { style: 'offset', key: 'server_groups', limit: q.limit }, opts);
}

export async function getServerGroup(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<ServerGroup> {
  return (await sc.get<{ server_group: ServerGroup }>(serverGroupUrls.one(id), { signal })).data.server_group;
}

/**
 * Creates a server group (200), sending `policy` (2.64+) or `policies: [policy]` (before).
 * Not retried: a repeat would make a second group with the same name.
 */
export async function createServerGroup(sc: ServiceClient, opts: CreateServerGroupOpts, signal?: AbortSignal): Promise<ServerGroup> {
  if (opts.policy.startsWith('soft-')) await sc.require('2.15', `the ${opts.policy} policy`, signal);
  if (opts.rules !== undefined) await sc.require('2.64', 'server group rules', signal);
  const body = (await sc.supports('2.64', signal))
    ? { name: opts.name, policy: opts.policy, ...(opts.rules !== undefined ? { rules: opts.rules } : {}) }
    : { name: opts.name, policies: [opts.policy] };
  return (await sc.post<{ server_group: ServerGroup }>(serverGroupUrls.create(), { server_group: body }, { ok: [200], signal })).data.server_group;
}

export interface DeleteServerGroupOpts {
  /** A missing group is not an error (default true). */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Deletes a server group (204; its servers keep running); returns false when it was already gone. */
export async function deleteServerGroup(sc: ServiceClient, id: string, opts: DeleteServerGroupOpts = {}): Promise<boolean> {
  try {
    await sc.delete(serverGroupUrls.one(id), { ok: [204], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}
