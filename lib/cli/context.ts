// What every `ferry` subcommand needs from the program: where to print, how to end, a logger,
// the clouds.yaml search (with the lab fallback), the catalog URL, and the daemon (remote mode).
// Subcommand modules export `register…(program, ctx)` and stay out of main.ts.
//
// Remote mode: with --url or FERRY_URL the commands the daemon's API covers talk to the daemon
// (remoteOr, withReader, ctx.api()); the others refuse with exit 2 (inProcessOnly, and
// withRepo as the backstop), so an operator never reads or changes a local catalog believing
// it is the daemon's.
import { InvalidArgumentError, type Command } from 'commander';
import { openCatalog } from '../catalog/db.js';
import { CatalogRepo } from '../catalog/repo.js';
import { loadCloud, withLabFallback, type LoadOptions } from '../config/clouds.js';
import { remoteCatalog, type ApiClientError, type CatalogReader, type FerryApiClient } from '../daemon/api/client.js';
import { FerryError } from '../errors.js';
import type { Logger } from '../log.js';
import { Site } from '../openstack/site.js';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** True when stderr is a terminal: progress bars only then, plain progress lines otherwise. */
  isTTY?: boolean;
}

export interface CliContext {
  io: Io;
  setExit: (code: number) => void;
  logger: () => Logger;
  /** clouds.yaml load options; notes on stderr (once) when the lab's file is used. */
  clouds: () => LoadOptions;
  /** The catalog URL from --db or FERRY_DB; undefined means the default (sqlite:///var/lib/ferry/catalog.db). */
  dbUrl: () => string | undefined;
  /** The daemon's URL from --url or FERRY_URL; undefined (or no function): run in-process. */
  remoteUrl?: () => string | undefined;
  /** A client of that daemon, one per command (token from --token, --os-cloud, FERRY_TOKEN, OS_TOKEN or OS_CLOUD). */
  api?: () => FerryApiClient;
  /** The running command as typed, e.g. "plan apply" (for messages). */
  commandPath?: () => string;
}

/** A wrong invocation: the message says what to do instead; `ferry` exits 2. */
export class CliUsageError extends FerryError {
  override readonly name: string = 'CliUsageError';
}

/** True when the command should talk to a daemon (--url or FERRY_URL set). */
export function isRemote(ctx: CliContext): boolean {
  const url = ctx.remoteUrl?.();
  return url !== undefined && url !== '';
}

/** The daemon's client; only in remote mode. */
export function apiOf(ctx: CliContext): FerryApiClient {
  if (!isRemote(ctx) || !ctx.api) throw new CliUsageError('no daemon URL (fix: --url https://HOST:PORT, or FERRY_URL)');
  return ctx.api();
}

/**
 * The remote branch when a daemon URL is set, else the in-process one. The shape every
 * command the API covers takes:
 *
 *   await remoteOr(ctx, (api) => startAndFollow(ctx, api, plan, 'failback', params, o.format), () => inProcess(...))
 */
export async function remoteOr<T>(ctx: CliContext, remote: (api: FerryApiClient) => Promise<T>, local: () => Promise<T>): Promise<T> {
  return isRemote(ctx) ? remote(apiOf(ctx)) : local();
}

/** "ferry plan apply" for the running command (or the fallback). */
export function commandName(ctx: CliContext, fallback = 'this command'): string {
  const path = ctx.commandPath?.();
  return path ? `ferry ${path}` : fallback;
}

/** Refuses (exit 2) in remote mode: for commands the daemon's API does not cover. `why` says what it needs here. */
export function inProcessOnly(ctx: CliContext, why?: string): void {
  if (!isRemote(ctx)) return;
  throw new CliUsageError(`${commandName(ctx)} runs in-process only${why ? ` (${why})` : ''}; unset FERRY_URL (or drop --url) to run it on this host`);
}

/** Refuses (exit 2) an option the daemon's API cannot carry, in remote mode. */
export function notRemotely(ctx: CliContext, option: string, why: string): void {
  if (!isRemote(ctx)) return;
  throw new CliUsageError(`${commandName(ctx)} ${option} runs in-process only (${why}); drop ${option}, or unset FERRY_URL (or drop --url) to run it on this host`);
}

/** The catalog's read side: the daemon's (remote mode) or the local catalog's (withRepo). */
export async function withReader<T>(ctx: CliContext, fn: (reader: CatalogReader) => Promise<T>): Promise<T> {
  if (isRemote(ctx)) return fn(remoteCatalog(apiOf(ctx)));
  return withRepo(ctx, fn);
}

/** The fix for a daemon's refusal, by status and code (words for operators, no token). */
export function fixForDaemonError(status: number, code: string, tokenFrom: string | undefined): string {
  if (status === 401) return `a valid Keystone token of the site whose Keystone the daemon uses: --os-cloud CLOUD, or FERRY_TOKEN (this one came from ${tokenFrom ?? 'nowhere'})`;
  if (status === 403) return 'a token with a role the rule allows (by default reader reads, member runs DR tests and replication, admin fails over and back), or ask the operator to adapt the policy file';
  if (status === 404) return "check the name or ID with the same --url (ferry plan list, ferry runs list); another project's plans are not visible to this token";
  if (status === 409) return "the plan's state forbids it now (another run holds it, or its epoch moved): see ferry runs list --plan PLAN";
  if (status === 400) return "the daemon's message names the field; check the command's options";
  if (status === 501) return 'this daemon has no workflow for it; unset FERRY_URL (or drop --url) to run it in-process, or upgrade the daemon';
  if (code === 'identity_unavailable') return 'the daemon cannot reach Keystone to check the token; retry when Keystone answers';
  if (status === 503) return 'the daemon cannot take it now (draining or starting); retry, or use another daemon of the group';
  return "see the daemon's log under the request ID";
}

/** An error from the daemon (or from reaching it) as the CLI prints it: the URL, the answer, the request ID and the fix. */
export function describeDaemonError(err: ApiClientError): string {
  const i = err.info;
  if (!i || err.status === 0) return err.message; // unreachable or a bad URL: the client's message names the URL and the fix
  const rid = err.requestId ? `request ${err.requestId}; ` : '';
  return `the Ferry daemon at ${i.url} answered ${i.method} ${i.path} with ${err.status} ${err.code}: ${i.detail} (${rid}fix: ${fixForDaemonError(err.status, err.code, i.tokenFrom)})`;
}

export type Register = (program: Command, ctx: CliContext) => void;

/** clouds() for a context: the lab fallback, announced once per process. */
export function cloudsWithLabNote(io: Io): () => LoadOptions {
  let noted = false;
  return () => {
    const { load, labFile } = withLabFallback();
    if (labFile && !noted) {
      io.err(`ferry: no clouds.yaml found; using the lab's ${labFile}`);
      noted = true;
    }
    return load;
  };
}

/**
 * Runs `fn` with a signal that Ctrl-C (SIGINT) aborts, so a workflow stops at a journal
 * boundary (and runs what must run, e.g. post-snapshot hooks that thaw an application)
 * instead of the process dying mid-step.
 */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted (SIGINT)'));
  process.once('SIGINT', onSignal);
  try {
    return await fn(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
  }
}

/** Opens the catalog named by --db (or the default), runs `fn` on its repository, closes it. */
export async function withRepo<T>(ctx: CliContext, fn: (repo: CatalogRepo) => Promise<T>): Promise<T> {
  // The backstop of remote mode: nothing opens a local catalog while a daemon URL is set.
  inProcessOnly(ctx);
  const catalog = await openCatalog(ctx.dbUrl(), { logger: ctx.logger() });
  try {
    return await fn(new CatalogRepo(catalog));
  } finally {
    await catalog.close();
  }
}

/** One Site per cloud name for the whole command: one token, one connection pool per site. */
export function siteCache(ctx: CliContext): (cloud: string) => Site {
  const sites = new Map<string, Site>();
  return (cloud) => {
    let s = sites.get(cloud);
    if (!s) {
      s = new Site(loadCloud(cloud, ctx.clouds()), { logger: ctx.logger() });
      sites.set(cloud, s);
    }
    return s;
  };
}

/** commander argument parser: a positive whole number (bad input is a usage error, exit 2). */
export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive whole number');
  return n;
}

/** commander argument parser: a positive whole number of minutes. */
export function positiveMinutes(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive whole number of minutes');
  return n;
}
