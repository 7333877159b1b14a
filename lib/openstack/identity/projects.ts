// Keystone v3 projects. API reference: https://docs.openstack.org/api-ref/identity/v3/#projects
// Source: keystone/api/projects.py, keystone/server/flask/common.py wrap_collection (Zed).
// Paths are relative to the identity endpoint, which ends in /v3.
import { FerryError, isStatus } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';

// ---- types ----------------------------------------------------------------

export interface Project {
  id: string;
  name: string;
  domain_id: string;
  description: string;
  enabled: boolean;
  /** The parent project's ID, or the domain's ID for top-level projects. */
  parent_id: string | null;
  is_domain: boolean;
  tags?: string[];
  options?: Record<string, unknown>;
  links?: { self: string };
}

export interface ListProjectsQuery {
  name?: string;
  domain_id?: string;
  enabled?: boolean;
  parent_id?: string;
  is_domain?: boolean;
  /** Projects having all these tags. */
  tags?: string[];
}

/**
 * Keystone's collection links: an object, not Cinder's list (paginate's `links` style reads
 * both). Keystone itself always answers `next: null` (it does not paginate) and sets
 * `truncated: true` when its `list_limit` cut the list.
 */
export interface KeystoneLinks {
  next: string | null;
  self: string;
  previous: string | null;
}

// ---- urls -----------------------------------------------------------------

export const projectUrls = {
  list: () => 'projects',
  one: (id: string) => `projects/${encodeURIComponent(id)}`,
};

// ---- requests ---------------------------------------------------------------

export function toListProjectsQuery(q: ListProjectsQuery): Query {
  const out: Query = {};
  if (q.name !== undefined) out.name = q.name;
  if (q.domain_id !== undefined) out.domain_id = q.domain_id;
  if (q.enabled !== undefined) out.enabled = q.enabled;
  if (q.parent_id !== undefined) out.parent_id = q.parent_id;
  if (q.is_domain !== undefined) out.is_domain = q.is_domain;
  if (q.tags && q.tags.length > 0) out.tags = q.tags.join(',');
  return out;
}

/** Lists projects (policy identity:list_projects: an admin, or a domain reader for its domain). */
export function listProjects(sc: ServiceClient, q: ListProjectsQuery = {}, opts?: PageOptions): AsyncGenerator<Project> {
  return paginate<Project>(sc, projectUrls.list(), toListProjectsQuery(q), { style: 'links', key: 'projects' }, opts);
}

export async function getProject(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Project> {
  return (await sc.get<{ project: Project }>(projectUrls.one(id), { signal })).data.project;
}

/**
 * Finds a project by name (in one domain when `domainId` is given); undefined when none.
 * Project names are unique per domain only, so a name found in two domains is an error.
 */
export async function findProjectByName(sc: ServiceClient, name: string, domainId?: string, signal?: AbortSignal): Promise<Project | undefined> {
  const q: ListProjectsQuery = { name };
  if (domainId !== undefined) q.domain_id = domainId;
  const found: Project[] = [];
  for await (const p of listProjects(sc, q, { signal })) if (p.name === name) found.push(p);
  if (found.length > 1) {
    throw new FerryError(
      `identity at site ${sc.site}: ${found.length} projects are named '${name}' (domains ${found.map((p) => p.domain_id).join(', ')}); give the domain or the project ID`,
    );
  }
  return found[0];
}

/**
 * Finds a project by ID, else by name (as the OpenStack CLI does); undefined when neither
 * matches. A 403 on the ID lookup also falls back to the name: Keystone's policy answers 403,
 * not 404, when a non-admin asks for a project ID that does not exist.
 */
export async function findProject(sc: ServiceClient, nameOrId: string, domainId?: string, signal?: AbortSignal): Promise<Project | undefined> {
  try {
    return await getProject(sc, nameOrId, signal);
  } catch (err) {
    if (!isStatus(err, 403, 404)) throw err;
  }
  return findProjectByName(sc, nameOrId, domainId, signal);
}
