// A typed client of the daemon's REST API (axios), for the CLI's remote mode (`--url` or
// FERRY_URL) and for scripts. The token comes from OS_TOKEN, or from a clouds.yaml cloud
// through Ferry's own Keystone Session (renewed before expiry, re-issued once on a 401).
//
// remoteCatalog(client) reads the daemon's catalog with the same shapes as CatalogRepo's read
// methods (Date objects, catalog types), so a CLI command can take either.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import axios, { type AxiosInstance, type AxiosResponse, type Method } from 'axios';
import type { JournalEntry, JsonObject, ListPointsOptions, ListRunsOptions, Plan, RecoveryPoint, Run, RunKind, RunStatus } from '../../catalog/repo.js';
import { loadCloud, type LoadOptions } from '../../config/clouds.js';
import { FerryError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { Site } from '../../openstack/site.js';
import { REDACTED } from '../../redact.js';
import type { PlanStatus } from '../../workflows/status.js';
import type {
  ErrorBody,
  Health,
  JournalEntryWire,
  PlanDetail,
  PlanSummary,
  PointDetail,
  PointSummary,
  RunDetail,
  RunEvents,
  RunSummary,
  StartableKind,
  StartRunResponse,
  Status,
  VersionDoc,
} from './schemas.js';

// ---- tokens -----------------------------------------------------------------------------------

/** Where the client's X-Auth-Token comes from. */
export interface TokenProvider {
  token(signal?: AbortSignal): Promise<string>;
  /** A new token after the daemon refused `stale` (absent: a refusal is final). */
  refresh?(stale: string, signal?: AbortSignal): Promise<string>;
  /** For messages: "OS_TOKEN" or "cloud site-a". Never the token. */
  readonly describe: string;
}

/** A fixed token (OS_TOKEN, --os-token). */
export function staticToken(token: string, describe = 'OS_TOKEN'): TokenProvider {
  return { token: async () => token, describe };
}

/** Tokens from a site's Keystone session (issued on first use, renewed before expiry). */
export function sessionToken(site: Site): TokenProvider {
  return {
    token: (signal) => site.session.token(signal),
    refresh: (stale, signal) => site.session.refresh(stale, signal),
    describe: `cloud ${site.name}`,
  };
}

export interface TokenSourceOptions {
  /** A token given on the command line (--token): wins over everything else. */
  token?: string;
  /** A cloud named on the command line (--os-cloud): wins over FERRY_TOKEN and OS_TOKEN. */
  cloud?: string;
  /** clouds.yaml search options (the CLI's ctx.clouds()). */
  load?: LoadOptions;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

/**
 * The token for talking to a daemon: an explicit token (--token), else a cloud named explicitly
 * (--os-cloud), else FERRY_TOKEN, else OS_TOKEN, else the cloud of OS_CLOUD / the OS_*
 * variables (loadCloud's rules). The cloud must be of the site whose Keystone the daemon
 * validates tokens against.
 */
export function apiTokenProvider(opts: TokenSourceOptions = {}): TokenProvider {
  const env = opts.env ?? opts.load?.env ?? process.env;
  if (opts.token !== undefined && opts.token !== '') return staticToken(opts.token, '--token');
  if (opts.cloud === undefined && env.FERRY_TOKEN) return staticToken(env.FERRY_TOKEN, 'FERRY_TOKEN');
  if (opts.cloud === undefined && env.OS_TOKEN) return staticToken(env.OS_TOKEN);
  const load = { ...opts.load, env };
  let site: Site | undefined;
  const get = () => (site ??= new Site(loadCloud(opts.cloud, load), opts.logger ? { logger: opts.logger } : {}));
  return {
    token: (signal) => get().session.token(signal),
    refresh: (stale, signal) => get().session.refresh(stale, signal),
    get describe() {
      return site ? `cloud ${site.name}` : `cloud ${opts.cloud ?? env.OS_CLOUD ?? '(from OS_* variables)'}`;
    },
  };
}

// ---- the client ---------------------------------------------------------------------------------

/** What an ApiClientError was about, for callers that word their own message (the CLI). */
export interface ApiFailureInfo {
  /** The daemon's base URL (never with credentials: baseUrlOf keeps only origin and path). */
  url: string;
  method: string;
  path: string;
  /** The daemon's own message (error.message of its body), or the transport's; token redacted. */
  detail: string;
  /** Where the token came from ("FERRY_TOKEN", "cloud site-a"); never the token. */
  tokenFrom?: string;
}

/** The daemon answered with an error (status, code and request ID from its error body), or could not be reached (status 0). */
export class ApiClientError extends FerryError {
  override readonly name: string = 'ApiClientError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly requestId: string | undefined,
    readonly info?: ApiFailureInfo,
  ) {
    super(message);
  }
}

export interface ApiClientOptions {
  /** The daemon's base URL, e.g. https://ferry.example.org:9777 (a trailing /v1 is accepted). */
  url: string;
  /** Absent: only routes without a token work (versions, health, openapi). */
  token?: TokenProvider;
  /** Per-request timeout (default 30 s; long polls add their wait). */
  timeoutMs?: number;
  /** A CA bundle (PEM file) for the daemon's certificate. */
  cacert?: string;
  /** Do not verify the daemon's certificate (tests, labs). */
  insecure?: boolean;
  logger?: Logger;
}

export interface RunFilter {
  plan?: string;
  kind?: RunKind;
  status?: RunStatus;
  limit?: number;
}

export interface FollowOptions {
  /** Entries after this seq (default 0: from the start). */
  after?: number;
  /** Seconds each long poll may wait (default 25). */
  waitSeconds?: number;
  signal?: AbortSignal;
  onEntry?: (e: JournalEntryWire, run: RunSummary) => void;
  /** Called with the first page, and whenever the run's status changed (after that page's entries). */
  onRun?: (run: RunSummary) => void;
}

/** Strips a trailing slash and a trailing /v1: the client adds /v1 itself. */
export function baseUrlOf(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ApiClientError(`'${url}' is not a URL (fix: --url https://HOST:PORT, or FERRY_URL)`, 0, 'bad_url', undefined);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ApiClientError(`'${url}' is not an http(s) URL (fix: --url https://HOST:PORT, or FERRY_URL)`, 0, 'bad_url', undefined);
  return `${u.origin}${u.pathname.replace(/\/+$/, '').replace(/\/v1$/, '')}`;
}

export class FerryApiClient {
  readonly baseUrl: string;
  private readonly http: AxiosInstance;
  private readonly timeoutMs: number;

  constructor(private readonly opts: ApiClientOptions) {
    this.baseUrl = baseUrlOf(opts.url);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    const httpsAgent = opts.cacert || opts.insecure ? new HttpsAgent({ ...(opts.cacert ? { ca: readFileSync(opts.cacert) } : {}), rejectUnauthorized: opts.insecure !== true }) : undefined;
    this.http = axios.create({
      baseURL: this.baseUrl,
      timeout: this.timeoutMs,
      validateStatus: () => true,
      maxRedirects: 0,
      ...(httpsAgent ? { httpsAgent } : {}),
      headers: { 'User-Agent': 'ferry-cli', Accept: 'application/json' },
    });
  }

  // ---- discovery ----

  version(): Promise<VersionDoc> {
    return this.call('GET', '/v1', { auth: false });
  }

  health(): Promise<Health> {
    return this.call('GET', '/healthz', { auth: false, ok: [200, 503] });
  }

  openapi(): Promise<Record<string, unknown>> {
    return this.call('GET', '/v1/openapi.json', { auth: false });
  }

  // ---- reads ----

  async plans(opts: { includeDeleted?: boolean; project?: string } = {}): Promise<PlanSummary[]> {
    const query: Record<string, string> = {};
    if (opts.includeDeleted) query['include_deleted'] = 'true';
    if (opts.project !== undefined) query['project'] = opts.project;
    return (await this.call<{ plans: PlanSummary[] }>('GET', '/v1/plans', { query })).plans;
  }

  /** The plan, or undefined when it does not exist or the token's project may not see it. */
  plan(name: string, opts: { includeDeleted?: boolean } = {}): Promise<PlanDetail | undefined> {
    return this.orUndefined(this.call('GET', `/v1/plans/${enc(name)}`, { query: opts.includeDeleted ? { include_deleted: 'true' } : {} }));
  }

  async points(plan: string, opts: { status?: RecoveryPoint['status']; limit?: number } = {}): Promise<PointSummary[]> {
    const query: Record<string, string> = {};
    if (opts.status) query['status'] = opts.status;
    if (opts.limit !== undefined) query['limit'] = String(opts.limit);
    return (await this.call<{ points: PointSummary[] }>('GET', `/v1/plans/${enc(plan)}/points`, { query })).points;
  }

  point(id: string): Promise<PointDetail | undefined> {
    return this.orUndefined(this.call('GET', `/v1/points/${enc(id)}`));
  }

  async runs(filter: RunFilter = {}): Promise<RunSummary[]> {
    const query: Record<string, string> = {};
    for (const [k, v] of Object.entries(filter)) if (v !== undefined) query[k] = String(v);
    return (await this.call<{ runs: RunSummary[] }>('GET', '/v1/runs', { query })).runs;
  }

  run(id: string): Promise<RunDetail | undefined> {
    return this.orUndefined(this.call('GET', `/v1/runs/${enc(id)}`));
  }

  status(): Promise<Status> {
    return this.call('GET', '/v1/status');
  }

  /** The Prometheus text (needs metrics:read on the API port). */
  metrics(): Promise<string> {
    return this.call('GET', '/metrics', { text: true });
  }

  // ---- runs ----

  /** Starts a run; resolves with its ID once the daemon recorded it. */
  async startRun(plan: string, kind: StartableKind, params: JsonObject = {}): Promise<StartRunResponse['run']> {
    return (await this.call<StartRunResponse>('POST', `/v1/plans/${enc(plan)}/runs`, { body: { kind, params }, ok: [202] })).run;
  }

  /** One long poll: entries after `after`, waiting up to `waitSeconds`. */
  events(runId: string, after = 0, waitSeconds = 25, signal?: AbortSignal): Promise<RunEvents> {
    return this.call('GET', `/v1/runs/${enc(runId)}/events`, { query: { after: String(after), wait: String(waitSeconds) }, timeoutMs: this.timeoutMs + waitSeconds * 1000, signal });
  }

  /** Follows a run until it finishes (or the signal aborts); returns the run as it ended (or stood). */
  async follow(runId: string, opts: FollowOptions = {}): Promise<RunSummary> {
    let after = opts.after ?? 0;
    let status: string | undefined;
    for (;;) {
      const page = await this.events(runId, after, opts.waitSeconds ?? 25, opts.signal);
      for (const e of page.events) opts.onEntry?.(e, page.run);
      if (page.run.status !== status) {
        status = page.run.status;
        opts.onRun?.(page.run);
      }
      after = page.next;
      if (page.finished || opts.signal?.aborted) return page.run;
    }
  }

  // ---- transport ----

  private async orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
    try {
      return await p;
    } catch (err) {
      if (err instanceof ApiClientError && err.status === 404 && err.code === 'not_found') return undefined;
      throw err;
    }
  }

  private async call<T>(
    method: Method,
    path: string,
    o: { auth?: boolean; query?: Record<string, string>; body?: unknown; ok?: number[]; text?: boolean; timeoutMs?: number; signal?: AbortSignal | undefined } = {},
  ): Promise<T> {
    const auth = o.auth !== false;
    if (auth && !this.opts.token) throw new ApiClientError(`${method} ${path} needs a Keystone token (fix: set OS_TOKEN, or OS_CLOUD to a cloud of the site whose Keystone the daemon uses)`, 0, 'no_token', undefined);
    let token = auth ? await this.opts.token!.token(o.signal) : undefined;
    for (let attempt = 1; ; attempt++) {
      const res = await this.send(method, path, token, o);
      if (res.status === 401 && auth && attempt === 1 && this.opts.token!.refresh) {
        token = await this.opts.token!.refresh(token!, o.signal);
        continue;
      }
      if ((o.ok ?? [200]).includes(res.status)) return res.data as T;
      throw this.failure(method, path, res, token);
    }
  }

  private async send(method: Method, path: string, token: string | undefined, o: { query?: Record<string, string>; body?: unknown; text?: boolean; timeoutMs?: number; signal?: AbortSignal | undefined }): Promise<AxiosResponse> {
    const requestId = `req-${randomUUID()}`;
    try {
      return await this.http.request({
        method,
        url: path,
        params: o.query,
        data: o.body,
        timeout: o.timeoutMs ?? this.timeoutMs,
        responseType: o.text ? 'text' : 'json',
        ...(o.signal ? { signal: o.signal } : {}),
        headers: { 'X-OpenStack-Request-ID': requestId, ...(token ? { 'X-Auth-Token': token } : {}), ...(o.text ? { Accept: 'text/plain' } : {}) },
      });
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'error';
      const message = err instanceof Error ? err.message : String(err);
      const clean = token ? message.split(token).join(REDACTED) : message;
      throw new ApiClientError(`cannot reach the Ferry daemon at ${this.baseUrl}: ${clean} (request ${requestId}; fix: check --url or FERRY_URL, or unset them to run in-process)`, 0, code, requestId, {
        url: this.baseUrl,
        method,
        path,
        detail: clean,
      });
    }
  }

  private failure(method: Method, path: string, res: AxiosResponse, token: string | undefined): ApiClientError {
    const body = res.data as Partial<ErrorBody> | undefined;
    const e = body && typeof body === 'object' ? body.error : undefined;
    const requestId = e?.request_id ?? (res.headers['x-request-id'] as string | undefined);
    const code = e?.code ?? 'http_error';
    let message = e?.message ?? `HTTP ${res.status}`;
    if (token) message = message.split(token).join(REDACTED);
    const hint = res.status === 401 ? ` (token from ${this.opts.token?.describe ?? 'nowhere'})` : '';
    return new ApiClientError(`Ferry daemon: ${method} ${path} answered ${res.status} ${code}: ${message}${hint}${requestId ? ` (request ${requestId})` : ''}`, res.status, code, requestId, {
      url: this.baseUrl,
      method,
      path,
      detail: message,
      ...(this.opts.token ? { tokenFrom: this.opts.token.describe } : {}),
    });
  }
}

const enc = encodeURIComponent;

/** A client for `url`, with the token from apiTokenProvider(opts). */
export function createApiClient(url: string, opts: TokenSourceOptions & Omit<ApiClientOptions, 'url' | 'token'> = {}): FerryApiClient {
  return new FerryApiClient({ ...opts, url, token: apiTokenProvider(opts) });
}

// ---- the catalog, read through the API -----------------------------------------------------------

/** The read side of CatalogRepo, which both CatalogRepo and remoteCatalog() satisfy. */
export interface CatalogReader {
  plans: {
    get(name: string, opts?: { includeDeleted?: boolean }): Promise<Plan | undefined>;
    list(opts?: { includeDeleted?: boolean; project?: string }): Promise<Plan[]>;
  };
  points: {
    get(id: string): Promise<RecoveryPoint | undefined>;
    list(planName: string, opts?: ListPointsOptions): Promise<RecoveryPoint[]>;
    latestComplete(planName: string): Promise<RecoveryPoint | undefined>;
  };
  runs: {
    get(id: string): Promise<Run | undefined>;
    list(opts?: ListRunsOptions): Promise<Run[]>;
  };
  journal: {
    read(runId: string, opts?: { afterSeq?: number }): Promise<JournalEntry[]>;
    last(runId: string): Promise<JournalEntry | undefined>;
  };
}

const date = (s: string): Date => new Date(s);
const dateOrNull = (s: string | null): Date | null => (s === null ? null : new Date(s));

/** A wire plan as the catalog's Plan; a summary (from a list) has an empty spec. */
export function planFromWire(p: PlanSummary | PlanDetail): Plan {
  return {
    name: p.name,
    project: p.project,
    primarySite: p.primarySite,
    secondarySite: p.secondarySite,
    tier: p.tier,
    rpoMs: p.rpoMs,
    spec: 'spec' in p ? (p.spec as JsonObject) : {},
    specHash: p.specHash,
    epoch: p.epoch,
    activeSite: p.activeSite,
    createdAt: date(p.createdAt),
    updatedAt: date(p.updatedAt),
    deletedAt: dateOrNull(p.deletedAt),
  };
}

/** A wire point as the catalog's RecoveryPoint; a summary (from a list) has no manifest. */
export function pointFromWire(p: PointSummary | PointDetail): RecoveryPoint {
  return {
    id: p.id,
    planName: p.plan,
    createdAt: date(p.createdAt),
    completedAt: dateOrNull(p.completedAt),
    status: p.status,
    consistency: p.consistency,
    sizeBytes: p.sizeBytes,
    sourceSite: p.sourceSite,
    targetSite: p.targetSite,
    manifest: 'manifest' in p ? (p.manifest as JsonObject | null) : null,
    manifestVersion: p.manifestVersion,
  };
}

export function runFromWire(r: RunSummary): Run {
  return {
    id: r.id,
    planName: r.plan,
    kind: r.kind,
    status: r.status,
    startedAt: date(r.startedAt),
    finishedAt: dateOrNull(r.finishedAt),
    params: (r.params ?? null) as Run['params'],
    result: (r.result ?? null) as Run['result'],
    owner: r.owner,
    epoch: r.epoch,
  };
}

export function entryFromWire(runId: string, e: JournalEntryWire): JournalEntry {
  return { runId, seq: e.seq, at: date(e.at), step: e.step, phase: e.phase, data: (e.data ?? null) as JournalEntry['data'] };
}

/**
 * The daemon's catalog as a CatalogReader. Differences from a local CatalogRepo: only what the
 * token's project may see; plans from list() have an empty spec and points from list() no
 * manifest (get() has both); runs.list takes at most one status and no owner filter.
 * journal.last() after runs.list() answers from the list (no extra request).
 */
export function remoteCatalog(client: FerryApiClient): CatalogReader & { status(): Promise<PlanStatus[]> } {
  const lastEntries = new Map<string, JournalEntry | undefined>();
  return {
    plans: {
      get: async (name, opts = {}) => {
        const p = await client.plan(name, opts);
        return p ? planFromWire(p) : undefined;
      },
      list: async (opts = {}) => (await client.plans(opts)).map(planFromWire),
    },
    points: {
      get: async (id) => {
        const p = await client.point(id);
        return p ? pointFromWire(p) : undefined;
      },
      list: async (planName, opts = {}) => {
        const statuses = opts.status === undefined ? [undefined] : ([] as RecoveryPoint['status'][]).concat(opts.status);
        const lists = await Promise.all(statuses.map((status) => client.points(planName, { ...(status ? { status } : {}), ...(opts.limit !== undefined ? { limit: opts.limit } : { limit: 1000 }) })));
        const all = lists.flat().sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
        return all.slice(0, opts.limit ?? all.length).map(pointFromWire);
      },
      latestComplete: async (planName) => {
        const [p] = await client.points(planName, { status: 'complete', limit: 1 });
        return p ? pointFromWire(p) : undefined;
      },
    },
    runs: {
      get: async (id) => {
        const r = await client.run(id);
        if (!r) return undefined;
        lastEntries.set(id, r.journal.length > 0 ? entryFromWire(id, r.journal.at(-1)!) : undefined);
        return runFromWire(r);
      },
      list: async (opts = {}) => {
        if (opts.owner !== undefined) throw new FerryError('listing runs by owner is not offered by the daemon API; run without --url on the daemon host');
        const statuses = opts.status === undefined ? [] : ([] as RunStatus[]).concat(opts.status);
        if (statuses.length > 1) throw new FerryError('the daemon API filters runs by one status at a time');
        const list = await client.runs({
          ...(opts.planName !== undefined ? { plan: opts.planName } : {}),
          ...(opts.kind !== undefined ? { kind: opts.kind } : {}),
          ...(statuses[0] !== undefined ? { status: statuses[0] } : {}),
          limit: opts.limit ?? 1000,
        });
        for (const r of list) lastEntries.set(r.id, r.lastEntry ? { runId: r.id, seq: r.lastEntry.seq, at: date(r.lastEntry.at), step: r.lastEntry.step, phase: r.lastEntry.phase, data: null } : undefined);
        return list.map(runFromWire);
      },
    },
    journal: {
      read: async (runId, opts = {}) => {
        const r = await client.run(runId);
        if (!r) return [];
        return r.journal.filter((e) => opts.afterSeq === undefined || e.seq > opts.afterSeq).map((e) => entryFromWire(runId, e));
      },
      last: async (runId) => {
        if (lastEntries.has(runId)) return lastEntries.get(runId);
        const r = await client.run(runId);
        const e = r?.journal.at(-1);
        return e ? entryFromWire(runId, e) : undefined;
      },
    },
    status: async () => (await client.status()).plans as PlanStatus[],
  };
}
