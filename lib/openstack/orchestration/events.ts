// Heat v1 stack events. API reference: https://docs.openstack.org/api-ref/orchestration/v1/#events
// Source: heat/api/openstack/v1/events.py (index params limit, marker, sort_dir, sort_keys,
// nested_depth; filters resource_status, resource_action, resource_name, resource_type;
// summary_keys; format_event), heat/db/sqlalchemy/api.py _events_paginate_query (default
// order created_at desc; an unknown marker is ignored, i.e. listing restarts) (Zed, heat 19.0.0).
//
// Event functions take a StackIdentity (name and ID): resolve names with stacks.ts
// resolveStack first. (stacks.ts imports this module for its waiters, so this one imports
// nothing from it but types.)
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';
import type { Link, StackIdentity } from './stacks.js';
import { sleep } from '../wait.js';

// ---- types ----------------------------------------------------------------

export interface StackEvent {
  id: string;
  event_time: string;
  /** The resource's name in its template (also given as logical_resource_id). */
  resource_name: string;
  logical_resource_id: string;
  physical_resource_id: string | null;
  /** `<action>_<state>`, e.g. CREATE_IN_PROGRESS; for the stack itself the resource is the stack. */
  resource_status: string;
  resource_status_reason: string;
  /** self, resource, stack (the stack the event belongs to: a nested one with nested_depth) and root_stack. */
  links: Link[];
  /** Detail only (getEvent). */
  resource_type?: string;
  resource_properties?: Record<string, unknown>;
}

export interface ListEventsQuery {
  resource_name?: string | string[];
  resource_status?: string | string[];
  resource_action?: string | string[];
  resource_type?: string | string[];
  /** Heat's default order is newest first; `asc` to follow progress. */
  sort_dir?: 'asc' | 'desc';
  sort_keys?: ('event_time' | 'resource_type' | 'resource_status' | 'resource_name')[];
  /** Include events of nested stacks this many levels down. */
  nested_depth?: number;
  /** Start after this event ID. */
  marker?: string;
  /** Page size (default 100). */
  limit?: number;
}

// ---- urls -----------------------------------------------------------------

const enc = encodeURIComponent;

export const eventUrls = {
  list: (s: StackIdentity) => `stacks/${enc(s.stack_name)}/${enc(s.id)}/events`,
  one: (s: StackIdentity, resourceName: string, eventId: string) =>
    `stacks/${enc(s.stack_name)}/${enc(s.id)}/resources/${enc(resourceName)}/events/${enc(eventId)}`,
};

// ---- requests ---------------------------------------------------------------

export function toListEventsQuery(q: ListEventsQuery): Query {
  const out: Query = {};
  for (const k of ['resource_name', 'resource_status', 'resource_action', 'resource_type', 'sort_dir', 'marker'] as const) {
    if (q[k] !== undefined) out[k] = q[k];
  }
  if (q.sort_keys && q.sort_keys.length > 0) out.sort_keys = q.sort_keys;
  if (q.nested_depth !== undefined) out.nested_depth = q.nested_depth;
  return out;
}

/** Lists a stack's events (summaries), every page: limit and marker (the last event's ID). */
export function listEvents(sc: ServiceClient, stack: StackIdentity, q: ListEventsQuery = {}, opts?: PageOptions): AsyncGenerator<StackEvent> {
  return paginate<StackEvent>(sc, eventUrls.list(stack), toListEventsQuery(q), { style: 'marker', key: 'events', limit: q.limit }, opts);
}

/** One event in detail (with resource_type and resource_properties). */
export async function getEvent(sc: ServiceClient, stack: StackIdentity, resourceName: string, eventId: string, signal?: AbortSignal): Promise<StackEvent> {
  return (await sc.get<{ event: StackEvent }>(eventUrls.one(stack, resourceName, eventId), { signal })).data.event;
}

/**
 * The ID of the stack's newest event (undefined when it has none). Record it before an update
 * and pass it as `since` to report only the update's events.
 */
export async function latestEventId(sc: ServiceClient, stack: StackIdentity, opts: { nested_depth?: number; signal?: AbortSignal } = {}): Promise<string | undefined> {
  const query = toListEventsQuery({ sort_dir: 'desc', nested_depth: opts.nested_depth });
  query.limit = 1;
  const res = await sc.get<{ events: StackEvent[] }>(eventUrls.list(stack), { query, signal: opts.signal });
  return res.data.events[0]?.id;
}

export interface EventCursorOpts {
  /** Yield only events after this one. */
  since?: string | undefined;
  nested_depth?: number | undefined;
}

/**
 * Reads a stack's events incrementally: each poll() returns only events not returned before,
 * oldest first. Asks with sort_dir=asc and marker = the last event seen; when Heat no longer
 * knows that event (purged past max_events_per_stack) it lists from the start again, and
 * events this cursor already returned are skipped.
 */
export class EventCursor {
  private marker: string | undefined;
  private readonly seen = new Set<string>();

  constructor(
    private readonly sc: ServiceClient,
    private readonly stack: StackIdentity,
    private readonly opts: EventCursorOpts = {},
  ) {
    this.marker = opts.since;
    if (opts.since) this.seen.add(opts.since);
  }

  /** The last event returned (or `since`): where a later cursor could resume. */
  get position(): string | undefined {
    return this.marker;
  }

  async poll(signal?: AbortSignal): Promise<StackEvent[]> {
    const fresh: StackEvent[] = [];
    const q: ListEventsQuery = { sort_dir: 'asc', marker: this.marker, nested_depth: this.opts.nested_depth };
    for await (const e of listEvents(this.sc, this.stack, q, { signal })) {
      if (this.seen.has(e.id)) continue;
      this.seen.add(e.id);
      fresh.push(e);
    }
    if (fresh.length > 0) this.marker = fresh[fresh.length - 1]!.id;
    return fresh;
  }
}

export interface FollowEventsOpts extends EventCursorOpts {
  /** Pause between polls (default 2 s). */
  intervalMs?: number;
  /**
   * Ends the follow once this returns true, e.g. when the stack left *_IN_PROGRESS. It is asked
   * before each poll, and a true answer still gets that poll's events: Heat writes a stack's
   * final event before its new status, so every event up to the status `until` saw is yielded
   * (asking after the poll would lose events written between the poll and the status read).
   */
  until?: () => boolean | Promise<boolean>;
  /** Aborting ends the follow with the signal's reason (thrown from the iteration), even mid-request. */
  signal?: AbortSignal;
}

/**
 * Follows a stack's events as they happen: polls every `intervalMs` and yields each new event
 * once, oldest first. Ends when the caller stops iterating, after the poll that follows
 * `until` returning true, or when the signal aborts.
 */
export async function* followEvents(sc: ServiceClient, stack: StackIdentity, opts: FollowEventsOpts = {}): AsyncGenerator<StackEvent, void, undefined> {
  const cursor = new EventCursor(sc, stack, opts);
  const interval = opts.intervalMs ?? 2_000;
  for (;;) {
    let fresh: StackEvent[];
    let finished = false;
    try {
      opts.signal?.throwIfAborted();
      // Asked before the poll: the poll then sees every event written before the status `until` read.
      if (opts.until) finished = await opts.until();
      fresh = await cursor.poll(opts.signal);
    } catch (err) {
      // An abort mid-request surfaces from the transport as ConnectionError ABORTED: report the reason instead.
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw err;
    }
    for (const e of fresh) yield e;
    if (finished) return;
    await sleep(interval, opts.signal);
  }
}
