// One waiter for every resource: poll until a target state, fail fast on a failure state,
// treat 404 as "deleted" when asked, give up after a timeout, honour an abort signal, and
// report progress. Per-resource presets (volume, server, backup, stack...) live in the
// resource modules and only name their states.
import { ResourceFailureError, WaitTimeoutError, isNotFound } from '../errors.js';

/** Pseudo-status a waiter reports when the resource is gone (404). */
export const DELETED = 'DELETED';

export interface WaitOptions {
  /** Give up after this long (default 10 minutes). */
  timeoutMs?: number;
  /** First poll interval (default 1 s); grows by `backoff` up to `maxIntervalMs`. */
  intervalMs?: number;
  maxIntervalMs?: number;
  backoff?: number;
  signal?: AbortSignal | undefined;
  /** Called on every poll with the status seen. */
  onProgress?: (status: string, elapsedMs: number) => void;
}

export interface WaitSpec<T> {
  /** What is waited for, for messages: "volume 1234". */
  resource: string;
  /** Fetches the resource (a 404 from it means deleted). */
  fetch: () => Promise<T>;
  status: (item: T) => string;
  /** States that end the wait successfully (DELETED for deletions). */
  target: string[];
  /** States that end it with ResourceFailureError. */
  failure?: string[];
  /** A human reason taken from the failed resource (fault message, status_reason). */
  reason?: (item: T) => string | undefined;
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** True for failure states given as patterns: "*_FAILED" matches CREATE_FAILED. */
function matches(status: string, states: string[]): boolean {
  return states.some((s) => (s.startsWith('*') ? status.endsWith(s.slice(1)) : s === status));
}

/** Polls until the resource reaches a target state; returns its last observed form (undefined when deleted). */
export async function waitFor<T>(spec: WaitSpec<T>, opts: WaitOptions = {}): Promise<T | undefined> {
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const maxInterval = opts.maxIntervalMs ?? 15_000;
  const backoff = opts.backoff ?? 1.5;
  let interval = opts.intervalMs ?? 1_000;
  const started = Date.now();
  let last: string | undefined;
  const wantsDeleted = spec.target.includes(DELETED);
  for (;;) {
    opts.signal?.throwIfAborted();
    let item: T | undefined;
    let status: string;
    try {
      item = await spec.fetch();
      status = spec.status(item);
    } catch (err) {
      if (wantsDeleted && isNotFound(err)) status = DELETED;
      else throw err;
    }
    last = status;
    const elapsed = Date.now() - started;
    opts.onProgress?.(status, elapsed);
    if (matches(status, spec.target)) return item;
    if (spec.failure && matches(status, spec.failure)) {
      const why = item !== undefined ? spec.reason?.(item) : undefined;
      throw new ResourceFailureError(`${spec.resource} went to ${status}${why ? `: ${why}` : ''}`, spec.resource, status);
    }
    if (elapsed + interval > timeoutMs) {
      throw new WaitTimeoutError(`${spec.resource} did not reach ${spec.target.join('|')} within ${Math.round(timeoutMs / 1000)} s (last status ${last})`, spec.resource, last);
    }
    await sleep(interval, opts.signal);
    interval = Math.min(maxInterval, Math.round(interval * backoff));
  }
}
