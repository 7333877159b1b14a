// The one place that owns HTTP for a site. Everything else in lib/openstack builds paths and
// bodies and calls Transport.request(). Here, and only here: the token header, request IDs
// (ours sent as X-OpenStack-Request-ID, the service's captured), retries of idempotent calls,
// the one re-authentication on 401, error mapping, TLS settings, timeouts, abort signals,
// logging with secrets redacted.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import axios, { AxiosError, type AxiosInstance, type AxiosResponse, type ResponseType } from 'axios';
import pRetry, { AbortError } from 'p-retry';
import { ConfigError, ConnectionError, FerryError, httpErrorFor, HttpError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { Redactor, redactUrl } from '../redact.js';
import { extractFault } from './fault.js';
import { sleep } from './wait.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'COPY';
export type QueryValue = string | number | boolean | undefined | null | (string | number)[];
export type Query = Record<string, QueryValue>;

export interface RequestOptions {
  method: Method;
  /** Absolute URL. ServiceClient builds it from the catalog endpoint and a path. */
  url: string;
  query?: Query | undefined;
  /** A JSON body (sets Content-Type: application/json). */
  json?: unknown;
  /** A raw body; a Readable is streamed, never buffered, and never retried. */
  body?: Readable | Buffer | string | undefined;
  headers?: Record<string, string> | undefined;
  /** Accepted statuses; default any 2xx. */
  ok?: number[] | undefined;
  /**
   * `json` (default), `stream` (a Readable of the body), `text` or `buffer`. A streamed response
   * with no body (204, 304, HEAD, Content-Length 0) is read to its end here, releasing its
   * connection, and handed back as an already-ended empty Readable.
   */
  responseType?: 'json' | 'stream' | 'text' | 'buffer' | undefined;
  /** Whether the call may be repeated safely. Default: true for GET/HEAD/PUT/DELETE, false otherwise. */
  idempotent?: boolean | undefined;
  /** Send the site's token (default true; false for Keystone's own auth call and version documents). */
  auth?: boolean | undefined;
  /** Service type for messages and metrics, e.g. `compute`. */
  service?: string | undefined;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

export interface HttpResponse<T> {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  data: T;
  /** The service's request ID (X-OpenStack-Request-ID or X-Compute-Request-Id). */
  requestId: string | undefined;
}

/** Supplies the site's token; implemented by the Keystone session. */
export interface TokenSource {
  /** A valid token, authenticating first when none is held or it is about to expire. */
  token(signal?: AbortSignal): Promise<string>;
  /** Re-authenticates once for all callers holding `stale`; returns the new token. */
  refresh(stale: string, signal?: AbortSignal): Promise<string>;
}

export interface RetryPolicy {
  /** Extra attempts after the first (default 4). */
  retries: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Longest Retry-After honoured (default 60 s); longer waits are capped. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, minDelayMs: 500, maxDelayMs: 10_000, maxRetryAfterMs: 60_000 };

/** Statuses worth another try: throttled or a gateway/service briefly unavailable. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);
/** Connection failures where the request provably never reached the server. */
export const NOT_SENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Connection failures after the request may have been sent. */
export const MAYBE_SENT_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'ETIMEDOUT', 'ECONNABORTED', 'EPIPE', 'ERR_SOCKET_CONNECTION_TIMEOUT']);
const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_OSSL/i;

export interface ResponseEvent {
  site: string;
  service: string;
  method: Method;
  status: number | 'error';
  ms: number;
}

export interface TransportOptions {
  /** Site (cloud) name, for messages and logs. */
  site: string;
  verify?: boolean;
  cacert?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  redactor?: Redactor;
  /** Most sockets kept open per host (keep-alive). */
  maxSockets?: number;
  /** Called after every HTTP exchange (metrics). */
  onResponse?: (e: ResponseEvent) => void;
}

function defaultIdempotent(method: Method): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'PUT' || method === 'DELETE';
}

/** Seconds to wait from a Retry-After header (delta-seconds or HTTP-date). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, (at - now) / 1000);
}

function lowerHeaders(h: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (h && typeof h === 'object') {
    for (const [k, v] of Object.entries(h as Record<string, unknown>)) {
      if (v === undefined || v === null) continue;
      out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
    }
  }
  return out;
}

function encodeQuery(q: Query | undefined): URLSearchParams | undefined {
  if (!q) return undefined;
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, String(x));
    else p.append(k, String(v));
  }
  return p;
}

async function readSome(stream: Readable, limit = 65_536): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    chunks.push(b);
    size += b.length;
    if (size >= limit) break;
  }
  stream.destroy();
  return Buffer.concat(chunks).subarray(0, limit);
}

/** A response with no body to read: 204, 304, the answer to a HEAD, or Content-Length 0. */
function bodyless(status: number, method: Method, headers: Record<string, string>): boolean {
  return status === 204 || status === 304 || method === 'HEAD' || headers['content-length'] === '0';
}

/**
 * Reads a body-less response to its end, so its keep-alive socket goes back to the pool (a
 * response left unread keeps its socket, and the process, alive), and gives an already-ended
 * empty stream in its place: a caller may read it or drop it.
 */
async function drained(stream: Readable): Promise<Readable> {
  stream.resume();
  await finished(stream).catch(() => undefined);
  const empty = new Readable({ read() {} });
  empty.push(null);
  empty.resume();
  await finished(empty);
  return empty;
}

/** Marks an error that must not be retried (wrapped for p-retry, unwrapped by us). */
class Final extends AbortError {
  constructor(readonly inner: Error) {
    super(inner);
  }
}

export class Transport {
  readonly site: string;
  readonly redactor: Redactor;
  readonly logger: Logger;
  readonly retry: RetryPolicy;
  private readonly axios: AxiosInstance;
  private readonly onResponse: ((e: ResponseEvent) => void) | undefined;
  private tokenSource: TokenSource | undefined;

  constructor(opts: TransportOptions) {
    this.site = opts.site;
    this.redactor = opts.redactor ?? new Redactor();
    this.logger = (opts.logger ?? silentLogger).child({ site: opts.site });
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.onResponse = opts.onResponse;
    const verify = opts.verify ?? true;
    let ca: Buffer | undefined;
    if (opts.cacert) {
      try {
        ca = readFileSync(opts.cacert);
      } catch {
        throw new ConfigError('CA bundle cannot be read', opts.cacert, 'cacert', 'point cacert at a readable PEM file');
      }
    }
    const readPem = (file: string | undefined, key: string): Buffer | undefined => {
      if (!file) return undefined;
      try {
        return readFileSync(file);
      } catch {
        throw new ConfigError('cannot be read', file, key, `point ${key} at a readable PEM file`);
      }
    };
    if (!verify) {
      this.logger.warn(
        `TLS certificate verification is DISABLED for site ${opts.site} (insecure/verify: false). ` +
          'Anyone between Ferry and this cloud can read its tokens. Set cacert instead.',
      );
    }
    const maxSockets = opts.maxSockets ?? 32;
    const httpsOpts: https.AgentOptions = { keepAlive: true, maxSockets, rejectUnauthorized: verify };
    if (ca) httpsOpts.ca = ca;
    const cert = readPem(opts.cert, 'cert');
    const key = readPem(opts.key, 'key');
    if (cert) httpsOpts.cert = cert;
    if (key) httpsOpts.key = key;
    this.axios = axios.create({
      httpAgent: new http.Agent({ keepAlive: true, maxSockets }),
      httpsAgent: new https.Agent(httpsOpts),
      timeout: opts.timeoutMs ?? 60_000,
      // Redirects are not followed: OpenStack APIs answer directly, and following them
      // would make axios buffer streamed request bodies.
      maxRedirects: 0,
      maxBodyLength: Infinity,
      maxContentLength: Infinity,
      validateStatus: () => true,
      adapter: 'http',
      transitional: { clarifyTimeoutError: true },
    });
  }

  /** Binds the token source (the Keystone session); done once when the site is built. */
  useTokens(source: TokenSource): void {
    this.tokenSource = source;
  }

  /**
   * Sends one request, with retries for idempotent calls, one re-auth on 401, and typed
   * errors. Returns the parsed body, or a stream with `responseType: 'stream'`.
   */
  async request<T = unknown>(opts: RequestOptions): Promise<HttpResponse<T>> {
    const idempotent = opts.idempotent ?? defaultIdempotent(opts.method);
    const streamed = opts.body instanceof Readable;
    let attempt = 0;
    const run = async (): Promise<HttpResponse<T>> => {
      attempt++;
      try {
        return await this.withReauth<T>(opts);
      } catch (err) {
        if (!(err instanceof Error)) throw err;
        const retryable = !streamed && this.isRetryable(err, idempotent);
        if (!retryable || attempt > this.retry.retries) throw new Final(err);
        const wait = err instanceof HttpError && err.retryAfter !== undefined ? Math.min(err.retryAfter * 1000, this.retry.maxRetryAfterMs) : 0;
        const why = err instanceof HttpError ? String(err.status) : ((err as ConnectionError).code ?? err.message);
        this.logger.warn(`retrying ${opts.method} ${this.redactor.text(redactUrl(opts.url))} after ${why} (attempt ${attempt + 1} of ${this.retry.retries + 1})`);
        if (wait > 0) await sleep(wait, opts.signal);
        throw err;
      }
    };
    try {
      return await pRetry(run, {
        retries: this.retry.retries,
        minTimeout: this.retry.minDelayMs,
        maxTimeout: this.retry.maxDelayMs,
        factor: 2,
        randomize: true,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      if (err instanceof Final) throw err.inner;
      if ((err as { originalError?: unknown }).originalError instanceof Error) throw (err as { originalError: Error }).originalError;
      throw err;
    }
  }

  private isRetryable(err: Error, idempotent: boolean): boolean {
    if (err instanceof HttpError) return idempotent && RETRYABLE_STATUSES.has(err.status);
    if (err instanceof ConnectionError && err.code) {
      if (NOT_SENT_CODES.has(err.code)) return true;
      return idempotent && MAYBE_SENT_CODES.has(err.code);
    }
    return false;
  }

  private async withReauth<T>(opts: RequestOptions): Promise<HttpResponse<T>> {
    const useAuth = opts.auth !== false && this.tokenSource !== undefined;
    const token = useAuth ? await this.tokenSource!.token(opts.signal) : undefined;
    try {
      return await this.send<T>(opts, token);
    } catch (err) {
      if (useAuth && err instanceof HttpError && err.status === 401 && !(opts.body instanceof Readable)) {
        this.logger.info(`token rejected by ${opts.service ?? 'service'}; re-authenticating once`);
        const fresh = await this.tokenSource!.refresh(token!, opts.signal);
        return await this.send<T>(opts, fresh);
      }
      throw err;
    }
  }

  private async send<T>(opts: RequestOptions, token: string | undefined): Promise<HttpResponse<T>> {
    const ourId = `req-${randomUUID()}`;
    const headers: Record<string, string> = { Accept: 'application/json', 'X-OpenStack-Request-ID': ourId, 'User-Agent': 'ferry/0.1', ...opts.headers };
    if (token) headers['X-Auth-Token'] = token;
    let data: unknown = undefined;
    if (opts.json !== undefined) {
      headers['Content-Type'] ??= 'application/json';
      data = JSON.stringify(opts.json);
    } else if (opts.body !== undefined) {
      headers['Content-Type'] ??= 'application/octet-stream';
      data = opts.body;
    }
    // Without a body axios would label the request form-encoded, which Nova refuses (415).
    const noBody = data === undefined && headers['Content-Type'] === undefined;
    const wantStream = opts.responseType === 'stream';
    const axiosType: ResponseType = wantStream ? 'stream' : opts.responseType === 'buffer' ? 'arraybuffer' : 'text';
    const shownUrl = this.redactor.text(redactUrl(opts.url));
    const service = opts.service ?? 'http';
    this.logger.debug(`REQ ${opts.method} ${shownUrl}`, { requestId: ourId, headers: this.redactor.headers(headers) });
    const started = Date.now();
    let res: AxiosResponse;
    try {
      res = await this.axios.request({
        method: opts.method,
        url: opts.url,
        params: encodeQuery(opts.query),
        headers: noBody ? { ...headers, 'Content-Type': false } : headers,
        data,
        responseType: axiosType,
        // The body is parsed here, not by axios, so error bodies of any shape survive.
        transformResponse: (x: unknown) => x,
        ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      this.onResponse?.({ site: this.site, service, method: opts.method, status: 'error', ms: Date.now() - started });
      throw this.connectionError(err, opts.method, shownUrl, service);
    }
    const ms = Date.now() - started;
    const resHeaders = lowerHeaders(res.headers);
    const requestId = resHeaders['x-openstack-request-id'] ?? resHeaders['x-compute-request-id'] ?? resHeaders['x-trans-id'];
    this.onResponse?.({ site: this.site, service, method: opts.method, status: res.status, ms });
    this.logger.debug(`RESP ${res.status} ${opts.method} ${shownUrl} ${ms}ms`, { requestId: requestId ?? ourId });
    const accepted = opts.ok ? opts.ok.includes(res.status) : res.status >= 200 && res.status < 300;
    if (!accepted) {
      let raw: unknown = res.data;
      if (wantStream && res.data instanceof Readable) raw = await readSome(res.data);
      else if (raw instanceof ArrayBuffer) raw = Buffer.from(raw);
      const fault = extractFault(raw, resHeaders['content-type'] ?? '');
      throw httpErrorFor({
        status: res.status,
        method: opts.method,
        url: shownUrl,
        service: opts.service,
        requestId,
        detail: this.redactor.text(fault.detail),
        type: fault.type,
        retryAfter: parseRetryAfter(resHeaders['retry-after']),
      });
    }
    let body: unknown;
    if (wantStream) {
      const stream = res.data as Readable;
      body = bodyless(res.status, opts.method, resHeaders) ? await drained(stream) : stream;
    } else if (opts.responseType === 'buffer') {
      body = Buffer.from(res.data as ArrayBuffer);
    } else if (opts.responseType === 'text') {
      body = typeof res.data === 'string' ? res.data : '';
    } else {
      const text = typeof res.data === 'string' ? res.data : '';
      if (text.length === 0 || opts.method === 'HEAD') body = undefined;
      else {
        try {
          body = JSON.parse(text);
        } catch {
          throw new FerryError(`${service}: ${opts.method} ${shownUrl} returned ${res.status} with a body that is not JSON (request ${requestId ?? ourId})`);
        }
      }
    }
    return { status: res.status, headers: resHeaders, data: body as T, requestId };
  }

  private connectionError(err: unknown, method: Method, url: string, service: string): Error {
    if (axios.isCancel(err) || (err instanceof AxiosError && err.code === 'ERR_CANCELED')) {
      return new ConnectionError(`${service}: ${method} ${url} aborted`, method, url, 'ABORTED', { cause: undefined });
    }
    if (err instanceof AxiosError) {
      const cause = err.cause as NodeJS.ErrnoException | undefined;
      const code = (cause?.code ?? err.code ?? 'ERR') as string;
      const timedOut = code === 'ETIMEDOUT' || code === 'ECONNABORTED';
      let hint = '';
      if (TLS_CODES.test(code)) hint = '; TLS verification failed: set cacert in clouds.yaml to the CA that signed this endpoint';
      else if (code === 'ECONNREFUSED') hint = '; nothing listens there: is the service up and the URL right?';
      else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') hint = '; the host name does not resolve';
      else if (timedOut) hint = '; no answer in time';
      const msg = `${service}: ${method} ${url} failed: ${code}${hint}`;
      return new ConnectionError(this.redactor.text(msg), method, url, timedOut ? 'ETIMEDOUT' : code);
    }
    if (err instanceof Error) return new ConnectionError(this.redactor.text(`${service}: ${method} ${url} failed: ${err.message}`), method, url, undefined);
    return new ConnectionError(`${service}: ${method} ${url} failed`, method, url, undefined);
  }
}
