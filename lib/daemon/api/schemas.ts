// The REST API's wire shapes, as zod schemas: one source for input validation, for the types
// of handlers and client, and for the OpenAPI document (openapi.ts turns them into JSON
// Schema 2020-12). Resource fields are camelCase like `ferry … -f json`; the error body keeps
// the OpenStack-like `request_id`. Times are ISO 8601 strings in UTC.
//
// Schemas with an `id` in their meta become named components of the OpenAPI document.
import { maskPlanSecrets } from '../../config/protection-plan.js';
import { z } from 'zod';
import { CONSISTENCIES, JOURNAL_PHASES, POINT_STATUSES, RUN_KINDS, RUN_STATUSES, TIERS, type JournalEntry, type Plan, type RecoveryPoint, type Run } from '../../catalog/repo.js';
import type { RunResult } from '../../workflows/engine.js';

/** The run kinds a caller may start through the API (cleanup runs are the engine's own). */
export const STARTABLE_KINDS = ['drtest', 'failover', 'failback', 'replicate'] as const;
export type StartableKind = (typeof STARTABLE_KINDS)[number];

const isoTime = z.string().meta({ description: 'ISO 8601 time in UTC, e.g. 2026-11-27T03:00:00.000Z', format: 'date-time' });

export const JsonValueSchema = z.unknown().meta({ id: 'JsonValue', description: 'any JSON value' });

// ---- errors ------------------------------------------------------------------------------

export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'payload_too_large',
  'unsupported_media_type',
  'internal',
  'not_implemented',
  'identity_unavailable',
  'unavailable',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).meta({ description: 'machine-readable reason; see docs/api.md "Errors"' }),
      message: z.string().meta({ description: 'what went wrong and the fix, in words' }),
      request_id: z.string().meta({ description: 'this request\'s ID (also in the X-Request-ID header), as in the daemon\'s log lines' }),
    }),
  })
  .meta({ id: 'Error', description: 'every error answer has this body' });
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

// ---- discovery ---------------------------------------------------------------------------

const LinkSchema = z.object({ rel: z.string(), href: z.string(), type: z.string().optional() }).meta({ id: 'Link' });

export const VersionSchema = z
  .object({
    id: z.literal('v1'),
    status: z.enum(['CURRENT', 'SUPPORTED', 'DEPRECATED']),
    updated: isoTime,
    ferry: z.string().meta({ description: "the daemon's Ferry version" }),
    links: z.array(LinkSchema),
  })
  .meta({ id: 'Version' });

export const VersionDocSchema = z.object({ version: VersionSchema }).meta({ id: 'VersionDocument', description: 'GET /v1: the version document (OpenStack version discovery style)' });
export const VersionsDocSchema = z.object({ versions: z.array(VersionSchema) }).meta({ id: 'VersionsDocument', description: 'GET /: the versions this daemon serves' });
export type VersionDoc = z.infer<typeof VersionDocSchema>;

export const HealthSchema = z
  .object({
    status: z.enum(['ok', 'degraded', 'failing']).meta({ description: 'failing answers 503; ok and degraded answer 200' }),
    checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string().optional() })),
  })
  .meta({ id: 'Health', description: "the daemon's own health (its catalog, its loops); no site or plan details" });
export type Health = z.infer<typeof HealthSchema>;

// ---- plans -------------------------------------------------------------------------------

export const PlanSummarySchema = z
  .object({
    name: z.string(),
    project: z.string().meta({ description: 'Keystone project (ID or name) the plan protects, at the primary site' }),
    primarySite: z.string(),
    secondarySite: z.string(),
    activeSite: z.string().meta({ description: 'the site running the workload now (primary until a failover)' }),
    tier: z.enum(TIERS),
    rpoMs: z.int().meta({ description: 'RPO target in milliseconds' }),
    epoch: z.int().meta({ description: 'fencing epoch, raised by every failover and failback' }),
    specHash: z.string(),
    createdAt: isoTime,
    updatedAt: isoTime,
    deletedAt: isoTime.nullable().meta({ description: 'set for a deleted plan (listed only with include_deleted=true)' }),
  })
  .meta({ id: 'PlanSummary' });
export type PlanSummary = z.infer<typeof PlanSummarySchema>;

export const PlanDetailSchema = PlanSummarySchema.extend({
  spec: z.record(z.string(), JsonValueSchema).meta({ description: 'the protection plan document as applied (docs/plan-reference.md)' }),
}).meta({ id: 'Plan' });
export type PlanDetail = z.infer<typeof PlanDetailSchema>;

export const PlanListSchema = z.object({ plans: z.array(PlanSummarySchema) }).meta({ id: 'PlanList' });

// ---- recovery points ---------------------------------------------------------------------

export const PointSummarySchema = z
  .object({
    id: z.string(),
    plan: z.string(),
    createdAt: isoTime.meta({ description: 'the moment the point captures (RPO is measured from it)' }),
    completedAt: isoTime.nullable(),
    status: z.enum(POINT_STATUSES),
    consistency: z.enum(CONSISTENCIES),
    sizeBytes: z.number().nullable(),
    sourceSite: z.string(),
    targetSite: z.string(),
    manifestVersion: z.int().nullable(),
    volumes: z.int().meta({ description: 'volumes in the manifest' }),
    images: z.int().meta({ description: 'images in the manifest' }),
  })
  .meta({ id: 'RecoveryPointSummary' });
export type PointSummary = z.infer<typeof PointSummarySchema>;

export const PointDetailSchema = PointSummarySchema.extend({
  manifest: z.record(z.string(), JsonValueSchema).nullable().meta({ description: 'the ferry.recoverypoint/v<N> manifest; null until the point completes' }),
}).meta({ id: 'RecoveryPoint' });
export type PointDetail = z.infer<typeof PointDetailSchema>;

export const PointListSchema = z.object({ points: z.array(PointSummarySchema) }).meta({ id: 'RecoveryPointList' });

// ---- runs ----------------------------------------------------------------------------------

export const JournalEntrySchema = z
  .object({
    seq: z.int().meta({ description: '1, 2, 3, … per run; the SSE event ID' }),
    at: isoTime,
    step: z.string(),
    phase: z.enum(JOURNAL_PHASES),
    data: JsonValueSchema,
  })
  .meta({ id: 'JournalEntry' });
export type JournalEntryWire = z.infer<typeof JournalEntrySchema>;

const EntryRefSchema = z.object({ seq: z.int(), at: isoTime, step: z.string(), phase: z.enum(JOURNAL_PHASES) }).meta({ id: 'JournalEntryRef' });

export const RunSummarySchema = z
  .object({
    id: z.string(),
    plan: z.string(),
    kind: z.enum(RUN_KINDS),
    status: z.enum(RUN_STATUSES),
    owner: z.string().meta({ description: 'the daemon (or CLI) driving the run' }),
    epoch: z.int(),
    startedAt: isoTime,
    finishedAt: isoTime.nullable(),
    durationMs: z.int().meta({ description: 'until finishedAt, or so far' }),
    params: JsonValueSchema,
    result: JsonValueSchema,
    lastEntry: EntryRefSchema.nullable(),
    links: z.object({ self: z.string(), events: z.string() }),
  })
  .meta({ id: 'RunSummary' });
export type RunSummary = z.infer<typeof RunSummarySchema>;

export const StepReportSchema = z
  .object({
    name: z.string(),
    describe: z.string(),
    status: z.enum(['pending', 'in-progress', 'done', 'failed', 'interrupted', 'fenced']),
    attempts: z.int(),
    startedAt: isoTime.optional(),
    finishedAt: isoTime.optional(),
    durationMs: z.int().optional(),
  })
  .meta({ id: 'StepReport' });

export const RunDetailSchema = RunSummarySchema.extend({
  steps: z.array(StepReportSchema).meta({ description: "the run's steps from its journal, in order" }),
  warnings: z.array(z.string()),
  error: z.string().optional(),
  journal: z.array(JournalEntrySchema).meta({ description: 'every journal entry: the timeline' }),
}).meta({ id: 'Run' });
export type RunDetail = z.infer<typeof RunDetailSchema>;

export const RunListSchema = z.object({ runs: z.array(RunSummarySchema) }).meta({ id: 'RunList' });

export const StartRunRequestSchema = z
  .strictObject({
    kind: z.enum(STARTABLE_KINDS).meta({ description: 'drtest needs role member, failover and failback role admin, replicate role member (default policy)' }),
    params: z.record(z.string(), JsonValueSchema).optional().meta({ description: "the workflow's parameters (e.g. a recovery point ID); see docs/api.md" }),
  })
  .meta({ id: 'StartRunRequest' });
export type StartRunRequest = z.infer<typeof StartRunRequestSchema>;

export const StartRunResponseSchema = z
  .object({ run: z.object({ id: z.string(), plan: z.string(), kind: z.enum(STARTABLE_KINDS), links: z.object({ self: z.string(), events: z.string() }) }) })
  .meta({ id: 'StartedRun', description: 'the run is recorded; follow it at links.events' });
export type StartRunResponse = z.infer<typeof StartRunResponseSchema>;

export const RunEventsSchema = z
  .object({
    run: RunSummarySchema,
    events: z.array(JournalEntrySchema).meta({ description: 'journal entries after `after`, in order' }),
    next: z.int().meta({ description: 'pass as `after` in the next poll' }),
    finished: z.boolean().meta({ description: 'the run has ended: no more entries will come' }),
  })
  .meta({ id: 'RunEvents', description: 'the long-poll answer of GET /v1/runs/{id}/events (Accept: application/json)' });
export type RunEvents = z.infer<typeof RunEventsSchema>;

// ---- status ----------------------------------------------------------------------------------

export const PlanStatusSchema = z
  .object({
    plan: z.string(),
    activeSite: z.string(),
    targetSite: z.string(),
    epoch: z.int(),
    rpoTargetMs: z.int(),
    currentRpoMs: z.int().optional().meta({ description: 'age of the newest complete recovery point; absent without one' }),
    rpoMet: z.boolean(),
    newestCompleteAt: isoTime.optional(),
    lastCycle: z
      .object({
        runId: z.string(),
        status: z.string(),
        startedAt: isoTime,
        finishedAt: isoTime.optional(),
        durationMs: z.number(),
        bytes: z.number(),
        pointId: z.string().optional(),
        error: z.string().optional(),
      })
      .optional(),
    nextCycleDueAt: isoTime.optional(),
    points: z.int(),
    pointsByStatus: z.object({ complete: z.int(), partial: z.int(), inProgress: z.int(), deleting: z.int() }),
  })
  .meta({ id: 'PlanStatus', description: 'as `ferry status -f json` prints it' });

export const SiteStatusSchema = z
  .looseObject({
    site: z.string(),
    status: z.enum(['unknown', 'up', 'degraded', 'down']).meta({ description: 'after hysteresis: degraded when some probed services are down' }),
    since: isoTime.optional().meta({ description: 'when the site entered this status' }),
    services: z
      .array(
        z.looseObject({
          service: z.string().meta({ description: 'identity, compute, block-storage, orchestration, object-store' }),
          status: z.enum(['unknown', 'up', 'down']),
          since: isoTime.optional(),
          lastError: z.string().optional(),
        }),
      )
      .optional(),
    error: z.string().optional().meta({ description: 'a problem probing the site at all' }),
  })
  .meta({ id: 'SiteStatus', description: "a site as the daemon's health probes see it" });
export type SiteStatus = z.infer<typeof SiteStatusSchema>;

export const AdviceSchema = z
  .looseObject({
    plan: z.string(),
    activeSite: z.string(),
    targetSite: z.string(),
    level: z.string().meta({ description: 'e.g. failover-advised: failover stays a human decision, this says when it is needed' }),
    message: z.string(),
  })
  .meta({ id: 'Advice', description: 'what the operator should know about a plan from its two sites\' health' });
export type Advice = z.infer<typeof AdviceSchema>;

export const DaemonInfoSchema = z
  .looseObject({
    id: z.string().optional().meta({ description: "the daemon's ID (its run owner name)" }),
    leader: z.boolean().optional().meta({ description: 'this daemon schedules (HA leader)' }),
    leaderId: z.string().optional(),
    startedAt: isoTime.optional(),
  })
  .meta({ id: 'DaemonInfo' });
export type DaemonInfo = z.infer<typeof DaemonInfoSchema>;

export const StatusSchema = z
  .object({
    plans: z.array(PlanStatusSchema).meta({ description: "the caller's plans only" }),
    sites: z.array(SiteStatusSchema),
    advice: z.array(AdviceSchema).meta({ description: "for the caller's plans only" }),
    daemon: DaemonInfoSchema,
  })
  .meta({ id: 'Status' });
export type Status = z.infer<typeof StatusSchema>;

// ---- parameters and queries ---------------------------------------------------------------------

const includeDeleted = z.stringbool().optional().meta({ description: 'include deleted plans (true/false)' });
const limit = (dflt: number) => z.coerce.number().int().min(1).max(1000).default(dflt).meta({ description: `at most this many (1-1000, default ${dflt})` });

export const PlanNameParams = z.object({ name: z.string().min(1).max(255).meta({ description: 'plan name' }) });
export const IdParams = z.object({ id: z.string().min(1).max(64).meta({ description: 'ID' }) });

export const PlanListQuery = z.strictObject({
  include_deleted: includeDeleted,
  project: z.string().min(1).max(255).optional().meta({ description: 'only plans of this project (ID or name); callers who see every project only' }),
});
export const PlanGetQuery = z.strictObject({ include_deleted: includeDeleted });
export const PointListQuery = z.strictObject({ status: z.enum(POINT_STATUSES).optional(), limit: limit(100) });
export const RunListQuery = z.strictObject({
  plan: z.string().min(1).max(255).optional(),
  kind: z.enum(RUN_KINDS).optional(),
  status: z.enum(RUN_STATUSES).optional(),
  limit: limit(50),
});
export const EventsQuery = z.strictObject({
  after: z.coerce.number().int().min(0).default(0).meta({ description: 'only entries with a greater seq (SSE: the Last-Event-ID header wins)' }),
  wait: z.coerce.number().int().min(0).max(60).default(25).meta({ description: 'long-poll: seconds to wait for a new entry (0-60, default 25)' }),
});

// ---- catalog → wire (pure) -------------------------------------------------------------------------

const iso = (d: Date): string => d.toISOString();
const isoOrNull = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export const runLinks = (id: string) => ({ self: `/v1/runs/${encodeURIComponent(id)}`, events: `/v1/runs/${encodeURIComponent(id)}/events` });

export function planSummary(p: Plan): PlanSummary {
  return {
    name: p.name,
    project: p.project,
    primarySite: p.primarySite,
    secondarySite: p.secondarySite,
    activeSite: p.activeSite,
    tier: p.tier,
    rpoMs: p.rpoMs,
    epoch: p.epoch,
    specHash: p.specHash,
    createdAt: iso(p.createdAt),
    updatedAt: iso(p.updatedAt),
    deletedAt: isoOrNull(p.deletedAt),
  };
}

export function planDetail(p: Plan): PlanDetail {
  return { ...planSummary(p), spec: maskPlanSecrets(p.spec) };
}

function countOf(manifest: RecoveryPoint['manifest'], key: 'volumes' | 'images'): number {
  const data = manifest?.['data'];
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return 0;
  const list = data[key];
  return Array.isArray(list) ? list.length : 0;
}

export function pointSummary(p: RecoveryPoint): PointSummary {
  return {
    id: p.id,
    plan: p.planName,
    createdAt: iso(p.createdAt),
    completedAt: isoOrNull(p.completedAt),
    status: p.status,
    consistency: p.consistency,
    sizeBytes: p.sizeBytes,
    sourceSite: p.sourceSite,
    targetSite: p.targetSite,
    manifestVersion: p.manifestVersion,
    volumes: countOf(p.manifest, 'volumes'),
    images: countOf(p.manifest, 'images'),
  };
}

export function pointDetail(p: RecoveryPoint): PointDetail {
  return { ...pointSummary(p), manifest: p.manifest };
}

export function journalEntry(e: JournalEntry): JournalEntryWire {
  return { seq: e.seq, at: iso(e.at), step: e.step, phase: e.phase, data: e.data };
}

export function runSummary(r: Run, last: JournalEntry | undefined, now: Date): RunSummary {
  const end = r.finishedAt ?? now;
  return {
    id: r.id,
    plan: r.planName,
    kind: r.kind,
    status: r.status,
    owner: r.owner,
    epoch: r.epoch,
    startedAt: iso(r.startedAt),
    finishedAt: isoOrNull(r.finishedAt),
    durationMs: Math.max(0, end.getTime() - r.startedAt.getTime()),
    params: r.params,
    result: r.result,
    lastEntry: last ? { seq: last.seq, at: iso(last.at), step: last.step, phase: last.phase } : null,
    links: runLinks(r.id),
  };
}

export function runDetail(r: Run, entries: readonly JournalEntry[], summary: Pick<RunResult, 'steps' | 'warnings' | 'error'>, now: Date): RunDetail {
  const out: RunDetail = {
    ...runSummary(r, entries.at(-1), now),
    steps: summary.steps,
    warnings: summary.warnings,
    journal: entries.map(journalEntry),
  };
  if (summary.error !== undefined) out.error = summary.error;
  return out;
}
