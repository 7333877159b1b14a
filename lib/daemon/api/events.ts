// Following a run: its journal entries as they are written, read from the catalog (so any
// daemon of an HA group can serve it, whichever one drives the run).
//
// Two ways, by the Accept header (docs/api.md "Following a run"):
//  - Server-Sent Events (Accept: text/event-stream): `run` (the run, first and on every status
//    change), `entry` (a journal entry, `id:` = its seq, so EventSource resumes with
//    Last-Event-ID), `end` (the finished run; the server then closes), `error` (an error
//    body, e.g. the token expired, then the server closes). Comment lines every heartbeat.
//  - Long poll (anything else): JSON as soon as there are entries after `after`, the run is
//    finished, or `wait` seconds passed. Each poll is authenticated like any request.
// An open stream re-checks its token every `revalidateMs` (through the cache), so a revoked or
// expired token does not keep a stream open for ever.
import type { ServerResponse } from 'node:http';
import { FINISHED_RUN_STATUSES, type CatalogRepo, type JournalEntry, type Run } from '../../catalog/repo.js';
import type { Logger } from '../../log.js';
import { errorBody } from './errors.js';
import { journalEntry, runSummary, type RunEvents } from './schemas.js';

export interface FollowOptions {
  /** How often the catalog is read for new entries (default 1 s). */
  pollMs: number;
  /** SSE: a comment line after this much silence (default 15 s). */
  heartbeatMs: number;
  /** SSE: how often the caller's token is checked again (default 60 s). */
  revalidateMs: number;
  now: () => Date;
}

export const DEFAULT_FOLLOW: Omit<FollowOptions, 'now'> = { pollMs: 1000, heartbeatMs: 15_000, revalidateMs: 60_000 };

const finished = (r: Run) => FINISHED_RUN_STATUSES.includes(r.status);

/** Resolves after `ms`, or at once when the signal aborts (never rejects). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

async function mustGet(repo: CatalogRepo, id: string): Promise<Run> {
  const run = await repo.runs.get(id);
  if (!run) throw new Error(`run '${id}' disappeared from the catalog`);
  return run;
}

/** The long poll: entries after `after`, waiting up to `waitMs` for one (or the run's end). */
export async function pollRunEvents(repo: CatalogRepo, runId: string, after: number, waitMs: number, opts: FollowOptions, signal: AbortSignal): Promise<RunEvents> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const events = await repo.journal.read(runId, { afterSeq: after });
    const run = await mustGet(repo, runId);
    // An entry written between the two reads shows up in the next poll: `next` is from `events`.
    const done = finished(run);
    if (events.length > 0 || done || Date.now() >= deadline || signal.aborted) {
      const tail = done ? await repo.journal.read(runId, { afterSeq: events.at(-1)?.seq ?? after }) : [];
      const all = [...events, ...tail];
      const last = all.at(-1) ?? (await repo.journal.last(runId));
      return { run: runSummary(run, last, opts.now()), events: all.map(journalEntry), next: all.at(-1)?.seq ?? after, finished: done };
    }
    await pause(Math.min(opts.pollMs, Math.max(0, deadline - Date.now())), signal);
  }
}

export interface StreamContext {
  repo: CatalogRepo;
  runId: string;
  after: number;
  opts: FollowOptions;
  signal: AbortSignal;
  requestId: string;
  logger: Logger;
  /** False when the caller's token is no longer valid. */
  stillAuthorized: () => Promise<boolean>;
}

/** Writes the SSE stream of a run until it ends, the client goes, the server closes or the token lapses. */
export async function streamRunEvents(raw: ServerResponse, ctx: StreamContext): Promise<void> {
  const { repo, runId, opts, signal } = ctx;
  let lastWrite = Date.now();
  const write = (text: string) => {
    if (!raw.writableEnded && !raw.destroyed) raw.write(text);
    lastWrite = Date.now();
  };
  const send = (event: string, data: unknown, id?: number) => write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  let seq = ctx.after;
  let lastEntry: JournalEntry | undefined;
  const sendEntries = (entries: JournalEntry[]) => {
    for (const e of entries) {
      send('entry', journalEntry(e), e.seq);
      seq = e.seq;
      lastEntry = e;
    }
  };
  let lastCheck = Date.now();
  try {
    write('retry: 3000\n\n');
    let run = await mustGet(repo, runId);
    lastEntry = await repo.journal.last(runId);
    send('run', runSummary(run, lastEntry, opts.now()));
    let status = run.status;
    while (!signal.aborted) {
      sendEntries(await repo.journal.read(runId, { afterSeq: seq }));
      run = await mustGet(repo, runId);
      if (finished(run)) {
        // Entries written after our read but before the run finished.
        sendEntries(await repo.journal.read(runId, { afterSeq: seq }));
        send('end', runSummary(run, lastEntry, opts.now()));
        break;
      }
      if (run.status !== status) {
        status = run.status;
        send('run', runSummary(run, lastEntry, opts.now()));
      }
      if (Date.now() - lastCheck >= opts.revalidateMs) {
        lastCheck = Date.now();
        if (!(await ctx.stillAuthorized())) {
          send('error', errorBody('unauthorized', 'the token is no longer valid; reconnect with a new token (Last-Event-ID resumes where this stream stopped)', ctx.requestId));
          break;
        }
      }
      if (Date.now() - lastWrite >= opts.heartbeatMs) write(': keep-alive\n\n');
      await pause(opts.pollMs, signal);
    }
  } catch (err) {
    ctx.logger.error('event stream failed', { requestId: ctx.requestId, run: runId, error: err instanceof Error ? err.message : String(err) });
    send('error', errorBody('internal', `the event stream failed; the daemon's log has the details under request ${ctx.requestId}`, ctx.requestId));
  } finally {
    if (!raw.writableEnded) raw.end();
  }
}
