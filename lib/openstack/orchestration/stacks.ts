// Heat v1 stacks. API reference: https://docs.openstack.org/api-ref/orchestration/v1/#stacks
// Source: heat/api/openstack/v1/stacks.py (InstantiationData, StackController: index filters,
// create 201, lookup 302, update 202, update_patch, delete 204), heat/api/openstack/v1/views/
// stacks_view.py (list keys), heat/rpc/api.py (STACK_KEYS), heat/engine/api.py
// (translate_filters: status may be CREATE_FAILED or FAILED) (Zed, heat 19.0.0).
// Heat has no microversions.
import { BadResponseError, FerryError, isNotFound } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';
import { DELETED, waitFor, type WaitOptions } from '../wait.js';
import { EventCursor, type StackEvent } from './events.js';

// ---- types ----------------------------------------------------------------

export type StackAction = 'INIT' | 'CREATE' | 'DELETE' | 'UPDATE' | 'ROLLBACK' | 'SUSPEND' | 'RESUME' | 'ADOPT' | 'SNAPSHOT' | 'CHECK' | 'RESTORE';
export type StackState = 'IN_PROGRESS' | 'FAILED' | 'COMPLETE';
/** `<action>_<state>`: Heat joins the two columns on the wire (e.g. CREATE_COMPLETE, ROLLBACK_FAILED). */
export type StackStatus = `${StackAction}_${StackState}`;

export interface Link {
  href: string;
  rel: string;
}

/** A stack's name and ID: every stack URL needs both (`stacks/{stack_name}/{id}`). */
export interface StackIdentity {
  stack_name: string;
  id: string;
}

/** A stack by name, by ID (both resolved through Heat's 302 lookup), as "name/id", or as an identity (no lookup). */
export type StackRef = string | StackIdentity;

/** A stack as listed (views/stacks_view.py basic_keys). */
export interface StackSummary {
  id: string;
  stack_name: string;
  description: string;
  stack_status: StackStatus;
  stack_status_reason: string;
  creation_time: string;
  updated_time: string | null;
  deletion_time: string | null;
  stack_owner: string | null;
  /** Parent stack ID for nested stacks (listed with show_nested). */
  parent: string | null;
  stack_user_project_id: string;
  tags: string[] | null;
  links: Link[];
  /** Admin listings only. */
  project?: string;
}

export interface StackOutput {
  output_key: string;
  output_value: unknown;
  description: string;
  /** Set when the output could not be resolved. */
  output_error?: string;
}

/** A stack as shown (GET stacks/{name}/{id}). */
export interface Stack extends StackSummary {
  parameters: Record<string, string>;
  /** Absent when shown with resolve_outputs=false. */
  outputs?: StackOutput[];
  timeout_mins: number | null;
  disable_rollback: boolean;
  template_description: string;
  capabilities: unknown[];
  notification_topics: unknown[];
}

/** A template as an object (HOT or CFN), or its text (YAML or JSON): Heat parses either. */
export type HeatTemplate = Record<string, unknown> | string;

export interface CreateStackOpts {
  stack_name: string;
  /** The template, or `template_url` for Heat to fetch. */
  template?: HeatTemplate;
  template_url?: string;
  /** An environment object, or its YAML text. */
  environment?: Record<string, unknown> | string;
  /** Files the template and environment refer to (nested templates, scripts): name to content. */
  files?: Record<string, string>;
  /** Names of entries of `files` to use as environments, in order. */
  environment_files?: string[];
  parameters?: Record<string, unknown>;
  /** Sent comma-joined; a tag may therefore not contain a comma. */
  tags?: string[];
  timeout_mins?: number;
  disable_rollback?: boolean;
}

export interface CreatedStack {
  id: string;
  links: Link[];
}

export interface UpdateStackOpts extends Omit<CreateStackOpts, 'stack_name'> {
  /**
   * PATCH instead of PUT: keep the stack's current template, parameters and environment for
   * whatever is not given (Heat's "existing" update). Without it, what is not given is reset.
   */
  existing?: boolean;
  /** With `existing`: parameters to reset to their defaults. */
  clear_parameters?: string[];
  /** Also check the real state of resources (convergence only). */
  converge?: boolean;
}

export interface ListStacksQuery {
  name?: string | string[];
  id?: string | string[];
  /** `CREATE_FAILED` style, or a bare state (`FAILED`, `COMPLETE`, `IN_PROGRESS`); repeatable. */
  status?: string | string[];
  action?: StackAction | StackAction[];
  /** Stacks carrying every one of these tags (sent comma-joined). */
  tags?: string[];
  tags_any?: string[];
  not_tags?: string[];
  not_tags_any?: string[];
  /** Include nested stacks (default false). */
  show_nested?: boolean;
  show_hidden?: boolean;
  show_deleted?: boolean;
  /** Admin: every project's stacks. */
  global_tenant?: boolean;
  sort_keys?: ('stack_name' | 'stack_status' | 'creation_time' | 'updated_time')[];
  sort_dir?: 'asc' | 'desc';
  /** Page size (default 100); pages continue with marker = last stack ID. */
  limit?: number;
}

// ---- urls -----------------------------------------------------------------

const enc = encodeURIComponent;

export const stackUrls = {
  list: () => 'stacks',
  preview: () => 'stacks/preview',
  /** Heat's lookup: answers 302 to the canonical URL. */
  lookup: (nameOrId: string) => `stacks/${enc(nameOrId)}`,
  one: (s: StackIdentity) => `stacks/${enc(s.stack_name)}/${enc(s.id)}`,
  template: (s: StackIdentity) => `stacks/${enc(s.stack_name)}/${enc(s.id)}/template`,
  environment: (s: StackIdentity) => `stacks/${enc(s.stack_name)}/${enc(s.id)}/environment`,
  files: (s: StackIdentity) => `stacks/${enc(s.stack_name)}/${enc(s.id)}/files`,
  output: (s: StackIdentity, key: string) => `stacks/${enc(s.stack_name)}/${enc(s.id)}/outputs/${enc(key)}`,
};

// ---- requests ---------------------------------------------------------------

/** The stack identity in a lookup redirect's Location (`.../v1/<project>/stacks/<name>/<id>[/path][?query]`). */
export function identityFromLocation(location: string): StackIdentity {
  const path = new URL(location, 'http://placeholder').pathname;
  const m = /\/stacks\/([^/]+)\/([^/]+)/.exec(path);
  if (!m) throw new BadResponseError(`orchestration: stack lookup redirected to ${location}, which names no stack`);
  return { stack_name: decodeURIComponent(m[1]!), id: decodeURIComponent(m[2]!) };
}

/**
 * Resolves a stack reference to its name and ID. A bare name or ID costs one request: Heat
 * answers GET stacks/{name_or_id} with 302 to stacks/{name}/{id}, which the transport does
 * not follow (maxRedirects 0); the Location is read instead (its host is not trusted).
 * A stack that does not exist (or is deleted) gives NotFoundError.
 */
export async function resolveStack(sc: ServiceClient, ref: StackRef, signal?: AbortSignal): Promise<StackIdentity> {
  if (typeof ref !== 'string') return { stack_name: ref.stack_name, id: ref.id };
  const slash = ref.indexOf('/');
  if (slash > 0 && slash < ref.length - 1) return { stack_name: ref.slice(0, slash), id: ref.slice(slash + 1) };
  const res = await sc.get<string>(stackUrls.lookup(ref), { ok: [302], responseType: 'text', signal });
  const location = res.headers.location;
  if (!location) throw new BadResponseError(`orchestration: stack lookup of ${ref} answered 302 without a Location`);
  return identityFromLocation(location);
}

export function toListStacksQuery(q: ListStacksQuery): Query {
  const out: Query = {};
  // name, id, status and action are repeatable (`status=CREATE_FAILED&status=UPDATE_FAILED`).
  if (q.name !== undefined) out.name = q.name;
  if (q.id !== undefined) out.id = q.id;
  if (q.status !== undefined) out.status = q.status;
  if (q.action !== undefined) out.action = q.action;
  for (const k of ['tags', 'tags_any', 'not_tags', 'not_tags_any'] as const) {
    const v = q[k];
    if (v && v.length > 0) out[k] = v.join(',');
  }
  for (const k of ['show_nested', 'show_hidden', 'show_deleted', 'global_tenant'] as const) {
    if (q[k] !== undefined) out[k] = q[k];
  }
  if (q.sort_keys && q.sort_keys.length > 0) out.sort_keys = q.sort_keys;
  if (q.sort_dir !== undefined) out.sort_dir = q.sort_dir;
  return out;
}

/** Lists stacks (summaries), every page: Heat pages with limit and marker (the last stack's ID). */
export function listStacks(sc: ServiceClient, q: ListStacksQuery = {}, opts?: PageOptions): AsyncGenerator<StackSummary> {
  return paginate<StackSummary>(sc, stackUrls.list(), toListStacksQuery(q), { style: 'marker', key: 'stacks', limit: q.limit }, opts);
}

/** The stack of that exact name (a summary), or undefined. Nested stacks only with show_nested. */
export async function findStack(sc: ServiceClient, name: string, q: Omit<ListStacksQuery, 'name'> = {}, signal?: AbortSignal): Promise<StackSummary | undefined> {
  for await (const s of listStacks(sc, { ...q, name }, { signal })) {
    if (s.stack_name === name) return s;
  }
  return undefined;
}

export interface GetStackOpts {
  /** Resolve outputs (default true); false makes the call much cheaper on big stacks. */
  resolveOutputs?: boolean;
  signal?: AbortSignal | undefined;
}

/** Shows a stack by reference (a name or bare ID costs one extra lookup request). */
export async function getStack(sc: ServiceClient, ref: StackRef, opts: GetStackOpts = {}): Promise<Stack> {
  const id = await resolveStack(sc, ref, opts.signal);
  const query = opts.resolveOutputs === false ? { resolve_outputs: false } : undefined;
  return (await sc.get<{ stack: Stack }>(stackUrls.one(id), { query, signal: opts.signal })).data.stack;
}

function toWireBody(opts: Omit<CreateStackOpts, 'stack_name'> & { stack_name?: string; clear_parameters?: string[]; converge?: boolean }): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) {
    if (v === undefined || k === 'existing') continue;
    if (k === 'tags') {
      const tags = v as string[];
      const bad = tags.find((t) => t.includes(','));
      if (bad !== undefined) throw new FerryError(`orchestration: stack tag "${bad}" contains a comma, which Heat would split into two tags`);
      body.tags = tags.join(',');
    } else {
      body[k] = v;
    }
  }
  return body;
}

/**
 * Creates a stack (201 {stack: {id, links}}); Heat carries on in the background: wait with
 * waitForStack. Not retried on failure (POST): a stack of the same name gives 409 StackExists.
 */
export async function createStack(sc: ServiceClient, opts: CreateStackOpts, signal?: AbortSignal): Promise<CreatedStack> {
  return (await sc.post<{ stack: CreatedStack }>(stackUrls.list(), toWireBody(opts), { ok: [201], signal })).data.stack;
}

/** What creating the stack would make, without making it (POST stacks/preview; no side effects). */
export async function previewStack(sc: ServiceClient, opts: CreateStackOpts, signal?: AbortSignal): Promise<Stack & { resources: unknown[] }> {
  return (await sc.post<{ stack: Stack & { resources: unknown[] } }>(stackUrls.preview(), toWireBody(opts), { idempotent: true, signal })).data.stack;
}

/**
 * Updates a stack: PUT replaces template, parameters and environment; with `existing`, PATCH
 * keeps what is not given. 202; Heat carries on in the background (convergence stores
 * UPDATE_IN_PROGRESS before answering, so waitForStack right after does not see the old
 * state). Retried on 502/503/504 like any PUT: a repeat of the same update is a no-op, or
 * 409 ActionInProgress while the first one runs.
 */
export async function updateStack(sc: ServiceClient, ref: StackRef, opts: UpdateStackOpts, signal?: AbortSignal): Promise<StackIdentity> {
  const id = await resolveStack(sc, ref, signal);
  const call = { ok: [202], responseType: 'text' as const, idempotent: true, signal };
  if (opts.existing) await sc.patch(stackUrls.one(id), toWireBody(opts), call);
  else await sc.put(stackUrls.one(id), toWireBody(opts), call);
  return id;
}

export interface DeleteStackOpts {
  /** A missing stack is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Starts deleting a stack (204; Heat deletes in the background: waitForStackDeleted). Returns false when it was already gone. */
export async function deleteStack(sc: ServiceClient, ref: StackRef, opts: DeleteStackOpts = {}): Promise<boolean> {
  try {
    const id = await resolveStack(sc, ref, opts.signal);
    await sc.delete(stackUrls.one(id), { ok: [204], responseType: 'text', signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

/** The stack's current template, as Heat stored it (parsed: an object). */
export async function getStackTemplate(sc: ServiceClient, ref: StackRef, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const id = await resolveStack(sc, ref, signal);
  return (await sc.get<Record<string, unknown>>(stackUrls.template(id), { signal })).data;
}

/** The stack's merged environment (parameters, parameter_defaults, resource_registry, ...). */
export async function getStackEnvironment(sc: ServiceClient, ref: StackRef, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const id = await resolveStack(sc, ref, signal);
  return (await sc.get<Record<string, unknown>>(stackUrls.environment(id), { signal })).data;
}

/** The files the stack was given (nested templates, scripts): name to content. */
export async function getStackFiles(sc: ServiceClient, ref: StackRef, signal?: AbortSignal): Promise<Record<string, string>> {
  const id = await resolveStack(sc, ref, signal);
  return (await sc.get<Record<string, string>>(stackUrls.files(id), { signal })).data;
}

/** One output, resolved (GET stacks/{name}/{id}/outputs/{key}). */
export async function getStackOutput(sc: ServiceClient, ref: StackRef, key: string, signal?: AbortSignal): Promise<StackOutput> {
  const id = await resolveStack(sc, ref, signal);
  return (await sc.get<{ output: StackOutput }>(stackUrls.output(id, key), { signal })).data.output;
}

// ---- waiters ----------------------------------------------------------------

/**
 * Failure states for a wait on `target`: any *_FAILED, and, unless targeted, ROLLBACK_COMPLETE
 * (a failed create or update that was rolled back) and DELETE_COMPLETE (deleted under us).
 */
export function stackFailures(target: string[]): string[] {
  const failures = ['*_FAILED'];
  for (const s of ['ROLLBACK_COMPLETE', 'DELETE_COMPLETE']) if (!target.includes(s)) failures.push(s);
  return failures;
}

export interface StackWaitOptions extends WaitOptions {
  /** Failure states (patterns like `*_FAILED` allowed); default stackFailures(target). */
  failure?: string[];
  /** Called with each new stack event, oldest first, on every poll (one extra request per poll). */
  onEvent?: (event: StackEvent) => void;
  /** With onEvent: report only events after this one (see latestEventId); default: all. */
  eventsSince?: string;
  /** With onEvent: include events of nested stacks this many levels down. */
  nestedDepth?: number;
}

/**
 * Waits until the stack is in one of `target` (e.g. CREATE_COMPLETE); fails fast on a failure
 * state with Heat's stack_status_reason. Polls without resolving outputs, then returns the
 * stack once more with them.
 */
export async function waitForStack(sc: ServiceClient, ref: StackRef, target: StackStatus[], opts: StackWaitOptions = {}): Promise<Stack> {
  const id = await resolveStack(sc, ref, opts.signal);
  const cursor = opts.onEvent ? new EventCursor(sc, id, { since: opts.eventsSince, nested_depth: opts.nestedDepth }) : undefined;
  await waitFor<Stack>(
    {
      resource: `stack ${id.stack_name}`,
      fetch: async () => {
        const stack = await getStack(sc, id, { resolveOutputs: false, signal: opts.signal });
        if (cursor) for (const e of await cursor.poll(opts.signal)) opts.onEvent!(e);
        return stack;
      },
      status: (s) => s.stack_status,
      target,
      failure: opts.failure ?? stackFailures(target),
      reason: (s) => s.stack_status_reason || undefined,
    },
    opts,
  );
  return getStack(sc, id, { signal: opts.signal });
}

/** Waits until the stack is DELETE_COMPLETE or gone (404); fails fast on DELETE_FAILED. */
export async function waitForStackDeleted(sc: ServiceClient, ref: StackRef, opts: Omit<StackWaitOptions, 'failure'> = {}): Promise<void> {
  let id: StackIdentity;
  try {
    id = await resolveStack(sc, ref, opts.signal);
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  const cursor = opts.onEvent ? new EventCursor(sc, id, { since: opts.eventsSince, nested_depth: opts.nestedDepth }) : undefined;
  await waitFor<Stack>(
    {
      resource: `stack ${id.stack_name}`,
      fetch: async () => {
        const stack = await getStack(sc, id, { resolveOutputs: false, signal: opts.signal });
        if (cursor) for (const e of await cursor.poll(opts.signal)) opts.onEvent!(e);
        return stack;
      },
      status: (s) => s.stack_status,
      target: ['DELETE_COMPLETE', DELETED],
      failure: ['DELETE_FAILED'],
      reason: (s) => s.stack_status_reason || undefined,
    },
    opts,
  );
}
