// Protection-plan hooks (plan `hooks.pre_snapshot` / `hooks.post_snapshot`): a program run on
// the Ferry host or an HTTP call, around the snapshots of a replication cycle (freeze a
// database before, thaw it after).
//
// Decisions:
//  - A hook never throws: runHook returns a HookResult saying how it went, so the cycle decides
//    (a failed pre hook fails the cycle, a failed post hook is a warning) and post hooks always
//    all run.
//  - Commands are an argv list spawned without a shell, in their own process group, with
//    FERRY_PLAN, FERRY_POINT, FERRY_PHASE added to the environment. On timeout (or abort) the
//    whole group gets SIGTERM, then SIGKILL after a grace period, so a script's children die
//    with it. The error carries the exit code and the last lines of stderr.
//  - HTTP hooks send {plan, point, phase} as JSON (GET sends no body; every method also gets
//    X-Ferry-Plan/Point/Phase headers); any 2xx is success; redirects are not followed.
//  - Secrets: a hook's label shows only the program (not its arguments) or the URL's origin
//    (not its path or query, where webhook tokens live); header values are never shown, and
//    are scrubbed from any response text quoted in an error.
import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import axios from 'axios';
import type { PlanHook } from '../config/protection-plan.js';
import { silentLogger, type Logger } from '../log.js';
import { Redactor } from '../redact.js';

export type HookPhase = 'pre_snapshot' | 'post_snapshot';

export interface HookContext {
  plan: string;
  point: string;
  phase: HookPhase;
  /** 0-based position in its list (named in labels and messages). */
  index?: number;
  /** The environment a command starts from (default process.env); FERRY_* are added to it. */
  env?: NodeJS.ProcessEnv;
  /** Between SIGTERM and SIGKILL when a command times out (default 5 s). */
  killGraceMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
}

export interface HookResult {
  ok: boolean;
  kind: 'command' | 'http';
  /** Safe to show: `pre_snapshot hook 1 (command freeze-db)`, `... (POST https://hooks.example.com/…)`. */
  label: string;
  durationMs: number;
  /** The hook ran past its timeout (and was killed or abandoned). */
  timedOut: boolean;
  /** Command: the exit code (null when killed by a signal). */
  exitCode?: number | null;
  /** Command: the signal that ended it. */
  exitSignal?: string | null;
  /** HTTP: the status answered. */
  status?: number;
  /** Why it failed (no secrets). */
  error?: string;
}

/** Characters of stderr (or an HTTP body) quoted in an error. */
export const TAIL_CHARS = 1000;
const TAIL_LINES = 10;

/** The last lines of a text, at most TAIL_CHARS characters. */
export function tail(text: string, maxChars = TAIL_CHARS, maxLines = TAIL_LINES): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  let out = lines.slice(-maxLines).join('\n');
  if (out.length > maxChars) out = `…${out.slice(-maxChars)}`;
  return out;
}

/** A URL without what may hold a secret: user info, path and query become `…`. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    const rest = u.pathname !== '/' || u.search || u.hash ? '/…' : '/';
    return `${u.protocol}//${u.host}${rest}`;
  } catch {
    return '(unparseable URL)';
  }
}

export function hookLabel(hook: PlanHook, ctx: Pick<HookContext, 'phase' | 'index'>): string {
  const which = `${ctx.phase} hook${ctx.index !== undefined ? ` ${ctx.index + 1}` : ''}`;
  if (hook.command) return `${which} (command ${basename(hook.command[0] ?? '')})`;
  if (hook.http) return `${which} (${hook.http.method} ${safeUrl(hook.http.url)})`;
  return which;
}

/** Runs one hook; never throws for a failing hook (see HookResult). */
export async function runHook(hook: PlanHook, ctx: HookContext): Promise<HookResult> {
  const label = hookLabel(hook, ctx);
  const log = (ctx.logger ?? silentLogger).child({ plan: ctx.plan });
  const started = Date.now();
  let r: Omit<HookResult, 'label' | 'durationMs'>;
  if (hook.command) r = await runCommand(hook.command, hook.timeout.ms, ctx);
  else if (hook.http) r = await runHttp(hook.http, hook.timeout.ms, ctx);
  else r = { ok: false, kind: 'command', timedOut: false, error: 'the hook has neither command nor http' };
  const result: HookResult = { ...r, label, durationMs: Date.now() - started };
  if (result.ok) log.info(`${label} succeeded`, { point: ctx.point, durationMs: result.durationMs });
  else log.warn(`${label} failed: ${result.error ?? 'unknown'}`, { point: ctx.point, durationMs: result.durationMs });
  return result;
}

export interface RunHooksOptions {
  /** Stop at the first failure (pre hooks); post hooks run all regardless (default false). */
  stopOnFailure?: boolean;
  onResult?: (r: HookResult) => void;
}

/** Runs hooks in order; returns a result per hook that ran. */
export async function runHooks(hooks: readonly PlanHook[], ctx: Omit<HookContext, 'index'>, opts: RunHooksOptions = {}): Promise<HookResult[]> {
  const results: HookResult[] = [];
  for (const [index, hook] of hooks.entries()) {
    const r = await runHook(hook, { ...ctx, index });
    results.push(r);
    opts.onResult?.(r);
    if (!r.ok && opts.stopOnFailure) break;
  }
  return results;
}

// ---- commands ---------------------------------------------------------------

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    // Negative PID: the whole process group (the child leads its own, see `detached`).
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

function runCommand(argv: readonly string[], timeoutMs: number, ctx: HookContext): Promise<Omit<HookResult, 'label' | 'durationMs'>> {
  const [program, ...args] = argv;
  const env = { ...(ctx.env ?? process.env), FERRY_PLAN: ctx.plan, FERRY_POINT: ctx.point, FERRY_PHASE: ctx.phase };
  const grace = ctx.killGraceMs ?? 5_000;
  return new Promise((resolve) => {
    let stderr = '';
    let timedOut = false;
    let aborted = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const child = spawn(program!, args, { env, shell: false, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    const finish = (r: Omit<HookResult, 'label' | 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      ctx.signal?.removeEventListener('abort', onAbort);
      resolve(r);
    };
    const stop = () => {
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), grace);
      killTimer.unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    if (ctx.signal?.aborted) onAbort();
    else ctx.signal?.addEventListener('abort', onAbort, { once: true });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      // Keep only what a tail can show.
      stderr = (stderr + chunk).slice(-TAIL_CHARS * 4);
    });
    child.once('error', (err) => finish({ ok: false, kind: 'command', timedOut: false, error: `cannot run ${basename(program!)}: ${err.message}` }));
    let exit: { code: number | null; sig: NodeJS.Signals | null } | undefined;
    const settle = () => {
      if (!exit) return;
      const { code, sig } = exit;
      const why = tail(stderr);
      const facts = { kind: 'command' as const, timedOut, exitCode: code, exitSignal: sig };
      if (timedOut) return finish({ ...facts, ok: false, error: `timed out after ${timeoutMs} ms and was killed (${sig ?? `exit ${code}`})${why ? `: ${why}` : ''}` });
      if (aborted) return finish({ ...facts, ok: false, error: `cancelled (${sig ?? `exit ${code}`})` });
      if (code === 0) return finish({ ...facts, ok: true });
      finish({ ...facts, ok: false, error: `${sig ? `killed by ${sig}` : `exited with code ${code}`}${why ? `: ${why}` : ''}` });
    };
    child.once('exit', (code, sig) => {
      exit = { code, sig };
      // 'close' follows once stderr is drained; a grandchild that escaped the group may hold
      // it open, so do not wait for it forever.
      setTimeout(settle, 1_000).unref();
    });
    child.once('close', settle);
  });
}

// ---- HTTP -----------------------------------------------------------------------

type HttpHook = NonNullable<PlanHook['http']>;

async function runHttp(http: HttpHook, timeoutMs: number, ctx: HookContext): Promise<Omit<HookResult, 'label' | 'durationMs'>> {
  const redactor = new Redactor();
  for (const v of Object.values(http.headers)) redactor.add(v);
  try {
    const u = new URL(http.url);
    redactor.add(decodeURIComponent(u.password));
    for (const v of u.searchParams.values()) redactor.add(v);
  } catch {
    // The plan schema only admits parseable URLs.
  }
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, timeoutMs);
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, ac.signal]) : ac.signal;
  const body = { plan: ctx.plan, point: ctx.point, phase: ctx.phase };
  try {
    const res = await axios.request<string>({
      url: http.url,
      method: http.method,
      headers: {
        ...http.headers,
        'Content-Type': 'application/json',
        'X-Ferry-Plan': ctx.plan,
        'X-Ferry-Point': ctx.point,
        'X-Ferry-Phase': ctx.phase,
      },
      data: http.method === 'GET' ? undefined : JSON.stringify(body),
      signal,
      timeout: timeoutMs,
      maxRedirects: 0,
      responseType: 'text',
      transformResponse: (d: unknown) => d,
      validateStatus: () => true,
      adapter: 'http',
    });
    if (res.status >= 200 && res.status < 300) return { ok: true, kind: 'http', timedOut: false, status: res.status };
    const text = typeof res.data === 'string' ? redactor.text(tail(res.data, 300, 5)) : '';
    return { ok: false, kind: 'http', timedOut: false, status: res.status, error: `returned ${res.status}${text ? `: ${text}` : ''}` };
  } catch (err) {
    if (timedOut || (axios.isAxiosError(err) && (err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT'))) {
      return { ok: false, kind: 'http', timedOut: true, error: `no answer within ${timeoutMs} ms` };
    }
    if (ctx.signal?.aborted) return { ok: false, kind: 'http', timedOut: false, error: 'cancelled' };
    const e = err as { code?: string; message?: string };
    // Messages may quote the URL: any URL in them is cut to its origin, then secrets are scrubbed.
    const message = redactor.text(String(e.message ?? err).replace(/https?:\/\/\S+/g, (u) => safeUrl(u)));
    return { ok: false, kind: 'http', timedOut: false, error: `request failed: ${e.code ? `${e.code} ` : ''}${message}`.trim() };
  } finally {
    clearTimeout(timer);
  }
}
