// The workflows the daemon runs on request (POST /v1/plans/{name}/runs) and on schedule
// ([drtest_schedule]): a starter per run kind, over the daemon's catalog and sites.
//
// Decisions:
//  - A starter drives its workflow to the end and calls `onRecorded` as soon as the run is in
//    the catalog (the engine's first journal entry), so the API can answer 202 with the run's
//    ID while the workflow goes on in the background.
//  - `params` of the API are checked here, per kind, strictly (an unknown key is a 400, never
//    silently ignored). Durations are text (`30m`), like the CLI's options.
//  - DR test reports go to [drtest] report_dir: a daemon has no working directory to speak of.
import { z } from 'zod';
import type { CatalogRepo, JsonObject, Plan } from '../catalog/repo.js';
import { parseDuration } from '../config/protection-plan.js';
import type { Logger } from '../log.js';
import type { Site } from '../openstack/site.js';
import { drTest } from '../workflows/drtest.js';
import { failback } from '../workflows/failback.js';
import { failover, type FailoverOptions } from '../workflows/failover.js';
import { ApiError } from './api/errors.js';
import type { StartableKind } from './api/schemas.js';

/** What a started workflow reports when it ends. */
export interface StarterResult {
  /** The run (for failover: the last run of the two a planned failover makes). */
  runId?: string;
  status: 'succeeded' | 'failed' | 'interrupted';
  error?: string;
}

export interface StarterContext {
  repo: CatalogRepo;
  sites: (cloud: string) => Site;
  owner: string;
  signal: AbortSignal;
  logger: Logger;
  /** Called (at least once) with the run's ID as soon as it is recorded. */
  onRecorded: (runId: string) => void;
  reportDir: string;
}

/** Starts a workflow of one kind for the plan and drives it to its end. */
export interface KindStarter {
  /** Checks the API's params; throws ApiError 400. */
  parse(params: JsonObject): unknown;
  run(plan: Plan, params: unknown, ctx: StarterContext): Promise<StarterResult>;
}

/** A duration as text ('30m', '1h30m'); '0' is zero. */
const durationMs = (t: string): number | undefined => (t.trim() === '0' ? 0 : parseDuration(t.trim()));
const duration = z.string().refine((t) => durationMs(t) !== undefined, { message: "a duration such as '30m', '2h' or '0'" });
const stackTimeoutMins = z.int().min(1).max(24 * 60).optional();

export const DrTestParamsSchema = z.strictObject({
  pointId: z.string().min(1).optional(),
  keep: duration.optional(),
  stackTimeoutMins,
});

export const FailoverParamsSchema = z.strictObject({
  mode: z.enum(['planned', 'unplanned']).optional(),
  pointId: z.string().min(1).optional(),
  force: z.boolean().optional(),
  stackTimeoutMins,
});

function parseWith<T extends z.ZodType>(schema: T, params: JsonObject, kind: string): z.output<T> {
  const r = schema.safeParse(params);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `body.params${i.path.length ? `.${i.path.map(String).join('.')}` : ''}: ${i.message}`).join('; ');
  throw new ApiError(400, 'bad_request', `${issues} (the params of a ${kind} run: see docs/api.md "Starting runs")`);
}

export const drTestStarter: KindStarter = {
  parse: (params) => parseWith(DrTestParamsSchema, params, 'drtest'),
  async run(plan, params, ctx) {
    const p = params as z.output<typeof DrTestParamsSchema>;
    const out = await drTest(plan.name, {
      repo: ctx.repo,
      sites: ctx.sites,
      owner: ctx.owner,
      logger: ctx.logger,
      signal: ctx.signal,
      reportDir: ctx.reportDir,
      ...(p.pointId ? { pointId: p.pointId } : {}),
      ...(p.keep !== undefined ? { keepMs: durationMs(p.keep)! } : {}),
      ...(p.stackTimeoutMins ? { stackTimeoutMins: p.stackTimeoutMins } : {}),
      onEvent: (e) => ctx.onRecorded(e.runId),
    });
    return { runId: out.runId, status: out.status, ...(out.error ? { error: out.error } : {}) };
  },
};

/** A failback takes a failover's params but mode and pointId. */
export const FailbackParamsSchema = FailoverParamsSchema.omit({ mode: true, pointId: true, force: true });

/** What failover() (and failback(), which takes the same options but mode and pointId) is called with. */
export type RecoveryOptions = Omit<FailoverOptions, 'mode' | 'pointId'> & Partial<Pick<FailoverOptions, 'mode' | 'pointId'>>;
type RecoveryWorkflow = (planName: string, opts: RecoveryOptions) => Promise<{ runId: string; status: StarterResult['status']; error?: string }>;

/** A starter for failover() or failback(): the params of `schema`, the workflow `fn`. */
export function recoveryStarter(kind: string, schema: typeof FailoverParamsSchema | typeof FailbackParamsSchema, fn: RecoveryWorkflow): KindStarter {
  return {
    parse: (params) => parseWith(schema, params, kind),
    async run(plan, params, ctx) {
      const p = params as Partial<z.output<typeof FailoverParamsSchema>>;
      const out = await fn(plan.name, {
        repo: ctx.repo,
        sites: ctx.sites,
        owner: ctx.owner,
        logger: ctx.logger,
        signal: ctx.signal,
        ...(p.mode ? { mode: p.mode } : {}),
        ...(p.pointId ? { pointId: p.pointId } : {}),
        ...(p.force ? { force: true } : {}),
        ...(p.stackTimeoutMins ? { stackTimeoutMins: p.stackTimeoutMins } : {}),
        onEvent: (e) => ctx.onRecorded(e.runId),
        onNote: (text) => ctx.logger.info(text),
      });
      return { runId: out.runId, status: out.status, ...(out.error ? { error: out.error } : {}) };
    },
  };
}

export const failoverStarter: KindStarter = recoveryStarter('failover', FailoverParamsSchema, failover);

/**
 * The starters of the kinds the daemon runs itself (replicate goes through the scheduler's
 * cycles instead, so a requested cycle never runs beside a scheduled one).
 */
export const WORKFLOW_STARTERS: Partial<Record<Exclude<StartableKind, 'replicate'>, KindStarter>> = {
  drtest: drTestStarter,
  failover: failoverStarter,
  failback: recoveryStarter('failback', FailbackParamsSchema, failback),
};
