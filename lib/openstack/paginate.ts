// Listings as async iterators, one style per service family. A caller that stops early
// stops fetching pages; one that needs everything uses collect().
//   links   Nova, Cinder, Neutron: `<key>_links: [{rel: "next", href}]` (some Cinder lists
//           name the key differently: `linksKey`); Keystone: `links: {next: "..."}`
//   glance  Glance v2: `next: "/v2/images?marker=..."`
//   marker  Heat and others without next links: ask with limit, continue from the last ID
//   swift   Swift listings: JSON arrays, continue with marker=<last name> until empty
//   offset  Nova's limit/offset listings without next links (os-server-groups): ask with
//           limit and offset, advance the offset by each page's size, stop on an empty or
//           short page, or on a page that repeats the previous one (offset ignored)
import { BadResponseError } from '../errors.js';
import type { CallOptions, ServiceClient } from './service-client.js';
import type { Query } from './transport.js';

export type PageStyle = 'links' | 'glance' | 'marker' | 'swift' | 'offset';

export interface PageSpec<T> {
  style: PageStyle;
  /** Key of the item array in the body (not used by `swift`, whose body is the array). */
  key?: string;
  /**
   * Page size to ask for; default: the server's own default for `links`/`glance`, 100 for
   * `marker` and `offset`. For `offset` a page shorter than this ends the listing, so it must
   * not exceed the server's cap (Nova's [api] max_limit, 1000 by default).
   */
  limit?: number | undefined;
  /**
   * Identity of an item: the marker for `marker` and `swift` styles, and what tells a repeated
   * page for `offset` (default: `id`, or `name` for swift).
   */
  markerOf?: (item: T) => string;
  /** `links` style: the key of the links list when it is not `<key>_links` (Cinder's `volume_type_links`). */
  linksKey?: string;
}

export interface PageOptions {
  signal?: AbortSignal | undefined;
  /** Called after each page with its size (progress, request counters). */
  onPage?: (items: number) => void;
  callOptions?: CallOptions;
}

function nextFromLinks(body: Record<string, unknown>, key: string): string | undefined {
  const links = body[key] ?? body.links;
  if (Array.isArray(links)) return (links as { rel?: string; href?: string }[]).find((l) => l.rel === 'next')?.href;
  // Keystone: {"links": {"next": "https://...?marker=x" | null, "self": ..., "previous": ...}}
  const next = (links as { next?: unknown } | undefined)?.next;
  return typeof next === 'string' ? next : undefined;
}

/** The query of a next link, merged over the original one (the link's host is not trusted:
 *  behind proxies services often advertise an internal host). */
export function queryOfLink(href: string): Query {
  const u = new URL(href, 'http://placeholder');
  const q: Query = {};
  for (const k of new Set(u.searchParams.keys())) {
    const all = u.searchParams.getAll(k);
    q[k] = all.length > 1 ? all : all[0];
  }
  return q;
}

export async function* paginate<T>(sc: ServiceClient, path: string, query: Query, spec: PageSpec<T>, opts: PageOptions = {}): AsyncGenerator<T, void, undefined> {
  const key = spec.key ?? '';
  let q: Query = { ...query };
  if (spec.limit !== undefined) q.limit = spec.limit;
  else if (spec.style === 'marker' || spec.style === 'offset') q.limit = 100;
  if (spec.style === 'offset') q.offset = Number(query.offset ?? 0);
  const markerOf = spec.markerOf ?? ((item: T) => String((item as Record<string, unknown>)[spec.style === 'swift' ? 'name' : 'id']));
  const seen = new Set<string>();
  let previousPage: string | undefined;
  for (;;) {
    if (spec.style === 'swift') q.format = 'json';
    const res = await sc.get<unknown>(path, { ...opts.callOptions, query: q, signal: opts.signal });
    const body = res.data as Record<string, unknown> | unknown[] | undefined;
    const items = (spec.style === 'swift' ? (body ?? []) : (body as Record<string, unknown> | undefined)?.[key]) as T[] | undefined;
    if (!Array.isArray(items)) {
      if (res.status === 204 && spec.style === 'swift') return;
      throw new BadResponseError(`${sc.type}: GET ${path} returned no '${key}' list`);
    }
    opts.onPage?.(items.length);
    // Keystone cuts listings at its list_limit and says so only with this flag.
    if ((body as Record<string, unknown> | undefined)?.truncated === true) {
      sc.transport.logger.warn(`${sc.type}: GET ${path} was truncated by Keystone's list_limit after ${items.length} items; narrow the query with filters`);
    }
    if (spec.style === 'offset' && items.length > 0) {
      // A server that ignores offset hands out the same page again: stop without repeating it.
      const page = JSON.stringify(items.map(markerOf));
      if (page === previousPage) return;
      previousPage = page;
    }
    for (const item of items) yield item;
    let nextQuery: Query | undefined;
    if (spec.style === 'links') {
      const href = nextFromLinks(body as Record<string, unknown>, spec.linksKey ?? `${key}_links`);
      if (href) nextQuery = { ...query, ...queryOfLink(href) };
    } else if (spec.style === 'glance') {
      const href = (body as Record<string, unknown>).next;
      if (typeof href === 'string') {
        nextQuery = queryOfLink(href);
        // Glance rebuilds `next` from a dict of the query and keeps one value of a repeated
        // parameter (tag=a&tag=b): carry the caller's repeated filters over.
        for (const [k, v] of Object.entries(query)) if (Array.isArray(v)) nextQuery[k] = v;
      }
    } else if (spec.style === 'offset') {
      if (items.length >= Number(q.limit)) nextQuery = { ...q, offset: Number(q.offset) + items.length };
    } else if (items.length > 0 && (spec.style === 'swift' || items.length >= Number(q.limit))) {
      nextQuery = { ...q, marker: markerOf(items[items.length - 1]!) };
    }
    if (!nextQuery || items.length === 0) return;
    // A server that hands out the same page twice would loop forever; stop instead.
    const sig = JSON.stringify(nextQuery);
    if (seen.has(sig)) return;
    seen.add(sig);
    q = nextQuery;
  }
}

/** Gathers an async iterable into an array. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
