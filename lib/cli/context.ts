// What every `ferry` subcommand needs from the program: where to print, how to end, a logger,
// the clouds.yaml search (with the lab fallback), and the catalog URL. Subcommand modules
// export `register…(program, ctx)` and stay out of main.ts.
import { InvalidArgumentError, type Command } from 'commander';
import { openCatalog } from '../catalog/db.js';
import { CatalogRepo } from '../catalog/repo.js';
import { loadCloud, withLabFallback, type LoadOptions } from '../config/clouds.js';
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
