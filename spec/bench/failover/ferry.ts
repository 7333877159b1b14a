// Ferry's own failover in the benchmark: the hook. lib/workflows/failover.ts is being written
// elsewhere; until it exists the benchmark says so and reports no figure. The module is
// loaded with a dynamic import of a computed specifier, so the harness compiles and runs
// without it. When it exists, `ferryRunner` is the one place that knows its API: it recovers
// the fixture's servers at the site through the failover workflow and returns once Ferry has
// verified them (every server ACTIVE, every volume attached). The time measured is that whole
// call, planning, template generation, verification and journal included, as the issue asks.
import type { Site } from '../../../lib/openstack/site.js';
import type { Cleanup } from '../../lab/support/lab.js';
import type { Fixture } from './fixture.js';

/** The failover workflow, relative to this file (tsx maps .js to the .ts source). */
export const FAILOVER_MODULE = '../../../lib/workflows/failover.js';
export const FAILOVER_SOURCE = 'lib/workflows/failover.ts';

export type FerryMeasurement = { measured: true; seconds: number; detail?: string } | { measured: false; reason: string };

/** What a Ferry failover made, as Ferry verified it; `remove` takes it all away again (untimed). */
export interface FerryRun {
  servers: string[];
  detail?: string;
  remove: () => Promise<void>;
}

export interface FerryContext {
  site: Site;
  run: number;
  cleanup: Cleanup;
  log: (line: string) => void;
  signal?: AbortSignal;
}

export type FerryRunner = (failover: Record<string, unknown>, fixture: Fixture, ctx: FerryContext) => Promise<FerryRun>;

/** The runner's way of saying the module is there but the benchmark does not drive it yet. */
export class FerryNotWiredError extends Error {}

/**
 * Why loading the failover module failed, in the benchmark's words: a missing module is
 * "not available"; anything else (a broken import inside it, a syntax error) is named as a
 * load failure, so a half-finished module is not mistaken for an absent one.
 */
export function loadFailureReason(err: unknown): string {
  const e = (err ?? {}) as { code?: string; message?: string; url?: string };
  const message = e.message ?? String(err);
  // Node names the module it could not find in `url` and in "Cannot find module '<path>' imported from <importer>".
  const notFound = e.url ?? /Cannot find module '([^']+)'/.exec(message)?.[1] ?? '';
  const missing = e.code === 'ERR_MODULE_NOT_FOUND' && /\/lib\/workflows\/failover\.[jt]s$/.test(notFound);
  return missing ? `${FAILOVER_SOURCE} not available` : `${FAILOVER_SOURCE} failed to load: ${message.split('\n')[0]}`;
}

/**
 * Drives lib/workflows/failover.ts for the fixture. Not wired yet: the workflow's API is not
 * settled. Wire it here (plan and recovery point referencing fixture.servers' backups at the
 * site, unplanned failover, return the verified servers and a `remove` that deletes the stack).
 */
export const ferryRunner: FerryRunner = async (failover) => {
  const exported = Object.keys(failover).filter((k) => k !== 'default').sort();
  throw new FerryNotWiredError(`${FAILOVER_SOURCE} is present (exports: ${exported.join(', ') || 'none'}) but spec/bench/failover/ferry.ts (ferryRunner) does not drive it yet`);
};

/** Loads the failover module; undefined when it loads, else why not (loadFailureReason). */
export async function probeFailover(load: () => Promise<unknown> = () => import(FAILOVER_MODULE)): Promise<string | undefined> {
  try {
    await load();
    return undefined;
  } catch (err) {
    return loadFailureReason(err);
  }
}

export interface MeasureFerryOptions {
  load?: () => Promise<Record<string, unknown>>;
  runner?: FerryRunner;
}

/** Measures one Ferry failover of the fixture, or says why it cannot; never invents a figure. */
export async function measureFerry(fixture: Fixture, ctx: FerryContext, opts: MeasureFerryOptions = {}): Promise<FerryMeasurement> {
  const load = opts.load ?? (() => import(FAILOVER_MODULE) as Promise<Record<string, unknown>>);
  let failover: Record<string, unknown>;
  try {
    failover = await load();
  } catch (err) {
    return { measured: false, reason: loadFailureReason(err) };
  }
  const runner = opts.runner ?? ferryRunner;
  const t0 = performance.now();
  let made: FerryRun;
  try {
    made = await runner(failover, fixture, ctx);
  } catch (err) {
    if (err instanceof FerryNotWiredError) return { measured: false, reason: err.message };
    throw err;
  }
  const seconds = (performance.now() - t0) / 1000;
  ctx.cleanup.add(`Ferry failover, run ${ctx.run}`, made.remove);
  ctx.log(`Ferry failover, run ${ctx.run}: ${made.servers.length} servers verified in ${seconds.toFixed(1)} s`);
  await made.remove();
  return { measured: true, seconds, ...(made.detail ? { detail: made.detail } : {}) };
}
