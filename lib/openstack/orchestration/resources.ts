// Heat v1 stack resources. API reference: https://docs.openstack.org/api-ref/orchestration/v1/#stack-resources
// Source: heat/api/openstack/v1/resources.py (index: nested_depth, with_detail, filters type,
// status, name, action, id, physical_resource_id, anything else is 400; show: with_attr;
// mark_unhealthy: PATCH with mark_unhealthy and resource_status_reason), format_resource
// (links self, stack, nested) (Zed, heat 19.0.0).
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';
import { resolveStack, type Link, type StackIdentity, type StackRef } from './stacks.js';

// ---- types ----------------------------------------------------------------

export interface StackResource {
  resource_name: string;
  logical_resource_id: string;
  /** The OpenStack ID of what Heat made (server, volume, port...); empty until created. */
  physical_resource_id: string;
  /** e.g. OS::Nova::Server. */
  resource_type: string;
  /** `<action>_<state>`, e.g. CREATE_COMPLETE, CHECK_FAILED. */
  resource_status: string;
  resource_status_reason: string;
  creation_time: string;
  updated_time: string;
  required_by: string[];
  /** self, stack, and `nested` for resources that are stacks themselves. */
  links: Link[];
  description?: string;
  /** With nested_depth: the resource in the parent stack that holds this one's stack. */
  parent_resource?: string;
  /** with_detail / show: the resource's properties and resolved attributes. */
  properties?: Record<string, unknown>;
  attributes?: Record<string, unknown>;
}

export interface ListResourcesQuery {
  /** Also list resources of nested stacks this many levels down. */
  nested_depth?: number;
  /** Include properties and attributes of each resource. */
  with_detail?: boolean;
  type?: string | string[];
  status?: string | string[];
  name?: string | string[];
  action?: string | string[];
  id?: string | string[];
  physical_resource_id?: string | string[];
}

export interface MarkUnhealthyOpts {
  /** true marks the resource CHECK_FAILED so the next update replaces it; false clears that. */
  mark_unhealthy: boolean;
  resource_status_reason?: string;
}

// ---- urls -----------------------------------------------------------------

const enc = encodeURIComponent;

export const resourceUrls = {
  list: (s: StackIdentity) => `stacks/${enc(s.stack_name)}/${enc(s.id)}/resources`,
  one: (s: StackIdentity, name: string) => `stacks/${enc(s.stack_name)}/${enc(s.id)}/resources/${enc(name)}`,
};

// ---- requests ---------------------------------------------------------------

export function toListResourcesQuery(q: ListResourcesQuery): Query {
  const out: Query = {};
  for (const [k, v] of Object.entries(q) as [string, string | string[] | number | boolean | undefined][]) {
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Lists a stack's resources (Heat returns them all at once: no paging). */
export async function listResources(sc: ServiceClient, stack: StackRef, q: ListResourcesQuery = {}, signal?: AbortSignal): Promise<StackResource[]> {
  const id = await resolveStack(sc, stack, signal);
  return (await sc.get<{ resources: StackResource[] }>(resourceUrls.list(id), { query: toListResourcesQuery(q), signal })).data.resources;
}

/** Shows one resource; `withAttr` resolves extra attributes (repeatable `with_attr`). */
export async function getResource(sc: ServiceClient, stack: StackRef, name: string, opts: { withAttr?: string[]; signal?: AbortSignal } = {}): Promise<StackResource> {
  const id = await resolveStack(sc, stack, opts.signal);
  const query = opts.withAttr && opts.withAttr.length > 0 ? { with_attr: opts.withAttr } : undefined;
  return (await sc.get<{ resource: StackResource }>(resourceUrls.one(id, name), { query, signal: opts.signal })).data.resource;
}

/** Marks a resource unhealthy (or healthy again). Safe to repeat. */
export async function markResourceUnhealthy(sc: ServiceClient, stack: StackRef, name: string, opts: MarkUnhealthyOpts, signal?: AbortSignal): Promise<void> {
  const id = await resolveStack(sc, stack, signal);
  const body = { mark_unhealthy: opts.mark_unhealthy, resource_status_reason: opts.resource_status_reason ?? '' };
  await sc.patch(resourceUrls.one(id, name), body, { ok: [200, 204], responseType: 'text', idempotent: true, signal });
}

/** The resource that made a given OpenStack object (e.g. which server resource is server X), or undefined. */
export async function findResourceByPhysicalId(sc: ServiceClient, stack: StackRef, physicalId: string, opts: { nested_depth?: number; signal?: AbortSignal } = {}): Promise<StackResource | undefined> {
  const q: ListResourcesQuery = { physical_resource_id: physicalId };
  if (opts.nested_depth !== undefined) q.nested_depth = opts.nested_depth;
  const found = await listResources(sc, stack, q, opts.signal);
  return found.find((r) => r.physical_resource_id === physicalId);
}
