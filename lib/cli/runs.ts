// `ferry runs list`, `ferry runs show RUN`, `ferry resume RUN`: the workflow runs the catalog
// holds, a run's journal as a timeline, and the way to continue a run whose process died.
// Resume finds the run's workflow in the engine's registry (registerWorkflow): the workflow
// modules (failover, DR test, failback, cleanup) register themselves when imported, and are
// imported here as they arrive. Replicate runs are resumed by the plan's next cycle instead.
import '../workflows/drtest.js'; // registers the drtest workflow for ferry resume
import '../workflows/failover.js'; // registers the failover workflow for ferry resume
import '../workflows/failback.js'; // registers the failback workflow for ferry resume
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { Option } from 'commander';
import { CatalogNotFoundError, RUN_KINDS, RUN_STATUSES, type JournalEntry, type JsonObject, type JsonValue, type Run, type RunKind, type RunStatus } from '../catalog/repo.js';
import { formatDuration } from '../config/protection-plan.js';
import { runFromWire, type CatalogReader, type FerryApiClient } from '../daemon/api/client.js';
import type { JournalEntryWire, RunDetail, StartableKind } from '../daemon/api/schemas.js';
import { RUN_STEP, describeJson, resumeRegistered, summarizeRun, type RunEvent, type RunOutcome, type StepReport } from '../workflows/engine.js';
import { inProcessOnly, positiveInt, siteCache, withInterrupt, withReader, withRepo, type CliContext } from './context.js';
import { FORMATS, structured, table, type Format } from './output.js';

const formatOption = (dflt: Format = 'table') => new Option('-f, --format <format>', 'output format').choices(FORMATS).default(dflt);

/** Adds `runs list`, `runs show` and `resume` to the program. */
export function registerRuns(program: Command, ctx: CliContext): void {
  const runs = program.command('runs').description('workflow runs (replicate, failover, DR test, failback, cleanup) and their journals');
  runs
    .command('list')
    .description('runs, newest first: kind, status, owner, epoch, duration and the last journal entry')
    .option('--plan <name>', 'only runs of this plan')
    .addOption(new Option('--kind <kind>', 'only runs of this kind').choices(RUN_KINDS))
    .addOption(new Option('--status <status>', 'only runs in this status').choices(RUN_STATUSES))
    .option('--limit <n>', 'at most this many runs', positiveInt, 50)
    .addOption(formatOption())
    .action(async (o: { plan?: string; kind?: RunKind; status?: RunStatus; limit: number; format: Format }) => {
      await withReader(ctx, async (repo) => {
        if (o.plan !== undefined && !(await repo.plans.get(o.plan, { includeDeleted: true }))) {
          throw new CatalogNotFoundError('plan', o.plan, 'is not in the catalog (fix: ferry plan list)');
        }
        const list = await repo.runs.list({ ...(o.plan ? { planName: o.plan } : {}), ...(o.kind ? { kind: o.kind } : {}), ...(o.status ? { status: o.status } : {}), limit: o.limit });
        const now = new Date();
        const rows = [];
        for (const run of list) rows.push(listRow(run, await repo.journal.last(run.id), now));
        ctx.io.out(
          o.format === 'table'
            ? table(
                ['ID', 'Plan', 'Kind', 'Status', 'Started', 'Duration', 'Owner', 'Epoch', 'Last entry'],
                rows.map((r) => [r.id, r.plan, r.kind, r.status, r.startedAt, r.duration, r.owner, r.epoch, r.lastEntry]),
              )
            : structured(rows, o.format),
        );
      });
    });

  runs
    .command('show')
    .description("a run and its journal: the steps with their status, tries and durations, then every entry (step, phase, time, what it saw or did)")
    .argument('<run>', 'run ID (see ferry runs list)')
    .addOption(formatOption())
    .action(async (runId: string, o: { format: Format }) => {
      await withReader(ctx, async (repo) => {
        const run = await getRun(repo, runId);
        const entries = await repo.journal.read(run.id);
        ctx.io.out(renderShow(run, entries, o.format, new Date()));
      });
    });

  program
    .command('resume')
    .description('continue a run whose process died or was stopped, from its journal: done steps are skipped, the step in progress observes before it acts (nothing is made twice)')
    .argument('<run>', 'run ID (see ferry runs list --status running)')
    .addOption(formatOption())
    .action(async (runId: string, o: { format: Format }) => {
      inProcessOnly(ctx, 'the daemon resumes the runs it owns on its own, from their journal');
      await withRepo(ctx, async (repo) => {
        const logger = ctx.logger();
        // Ctrl-C stops the run where it is; it stays running and can be resumed again.
        const outcome = await withInterrupt((signal) =>
          resumeRegistered(repo, runId, { logger, sites: siteCache(ctx) }, { owner: `cli@${hostname()}`, logger, signal, onEvent: (e) => ctx.io.err(progressLine(e)) }),
        );
        ctx.io.out(renderOutcome(outcome, o.format));
        ctx.setExit(outcome.status === 'succeeded' ? 0 : 1);
      });
    });
}

// ---- rendering (pure) ---------------------------------------------------------------------

interface ListRow {
  id: string;
  plan: string;
  kind: RunKind;
  status: RunStatus;
  owner: string;
  epoch: number;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number;
  duration: string;
  lastEntry: string;
}

function listRow(run: Run, last: JournalEntry | undefined, now: Date): ListRow {
  const end = run.finishedAt ?? now;
  const durationMs = Math.max(0, end.getTime() - run.startedAt.getTime());
  return {
    id: run.id,
    plan: run.planName,
    kind: run.kind,
    status: run.status,
    owner: run.owner,
    epoch: run.epoch,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    durationMs,
    duration: run.finishedAt ? formatDuration(durationMs) : `${formatDuration(durationMs)} so far`,
    lastEntry: last ? `${last.step} ${last.phase}` : '',
  };
}

const asObject = (v: JsonValue | null | undefined): JsonObject => (v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) ? v : {});

/** Keys describeEntry turns into words; anything else is shown as compact JSON. */
const WORDED = new Set(['attempt', 'attempts', 'ms', 'done', 'ok', 'aborted', 'fenced', 'runEpoch', 'planEpoch', 'error', 'reason', 'summary', 'detail', 'result', 'state', 'steps', 'kind', 'owner', 'previousOwner', 'resumed', 'status', 'step']);

/** A journal entry's data in a few words, for the timeline table and progress lines. */
export function describeEntry(e: Pick<JournalEntry, 'step' | 'phase' | 'data'>): string {
  const d = asObject(e.data);
  const parts: string[] = [];
  if (e.step === RUN_STEP && e.phase === 'observe' && typeof d['owner'] === 'string') {
    parts.push(d['resumed'] === true ? `resumed by ${d['owner']}${d['previousOwner'] !== d['owner'] ? ` (taken over from ${String(d['previousOwner'])})` : ''}` : `started by ${d['owner']}`);
  }
  if (typeof d['attempt'] === 'number' && d['attempt'] > 1) parts.push(`try ${d['attempt']}`);
  if (typeof d['attempts'] === 'number' && d['attempts'] > 1) parts.push(`after ${d['attempts']} tries`);
  if (e.phase === 'observe' && typeof d['done'] === 'boolean') parts.push(d['done'] ? 'done already' : 'to do');
  if (e.phase === 'verify' && typeof d['ok'] === 'boolean') parts.push(d['ok'] ? 'ok' : 'not ok');
  if (d['aborted'] === true) parts.push('interrupted');
  if (d['fenced'] === true) parts.push(`fenced: run epoch ${String(d['runEpoch'])}, plan epoch ${String(d['planEpoch'])}`);
  else if (typeof d['error'] === 'string') parts.push(d['error']);
  for (const k of ['reason', 'summary'] as const) if (typeof d[k] === 'string') parts.push(d[k]);
  for (const k of ['detail', 'result'] as const) {
    const text = describeJson(d[k]);
    if (text !== undefined) parts.push(text);
  }
  if (typeof d['status'] === 'string' && e.step === RUN_STEP) parts.push(d['status']);
  const state = Object.keys(asObject(d['state']));
  if (state.length > 0) parts.push(`state: ${state.join(', ')}`);
  const rest = Object.fromEntries(Object.entries(d).filter(([k]) => !WORDED.has(k)));
  if (Object.keys(rest).length > 0) parts.push(describeJson(rest)!);
  return parts.join('; ');
}

function runFields(run: Run, now: Date): [string, string][] {
  const end = run.finishedAt ?? now;
  const rows: [string, string][] = [
    ['id', run.id],
    ['plan', run.planName],
    ['kind', run.kind],
    ['status', run.status],
    ['owner', run.owner],
    ['epoch', String(run.epoch)],
    ['started', run.startedAt.toISOString()],
    ['finished', run.finishedAt?.toISOString() ?? ''],
    ['duration', `${formatDuration(end.getTime() - run.startedAt.getTime())}${run.finishedAt ? '' : ' so far'}`],
  ];
  if (run.params !== null) rows.push(['params', describeJson(run.params) ?? '']);
  const error = asObject(run.result)['error'];
  if (typeof error === 'string') rows.push(['error', error]);
  return rows;
}

function stepRows(steps: StepReport[]): (string | number)[][] {
  return steps.map((s) => [s.name, s.status, s.attempts, s.durationMs === undefined ? '' : formatDuration(s.durationMs), s.describe]);
}

function runJson(run: Run): JsonObject {
  return {
    id: run.id,
    plan: run.planName,
    kind: run.kind,
    status: run.status,
    owner: run.owner,
    epoch: run.epoch,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    params: run.params,
    result: run.result,
  };
}

function renderShow(run: Run, entries: JournalEntry[], format: Format, now: Date): string {
  const summary = summarizeRun(run, entries);
  if (format !== 'table') {
    return structured({ run: runJson(run), steps: summary.steps, warnings: summary.warnings, journal: entries.map((e) => ({ seq: e.seq, at: e.at.toISOString(), step: e.step, phase: e.phase, data: e.data })) }, format);
  }
  const out = [table(['Field', 'Value'], runFields(run, now))];
  if (summary.steps.length > 0) out.push(table(['Step', 'Status', 'Tries', 'Duration', 'What it does'], stepRows(summary.steps)));
  for (const w of summary.warnings) out.push(`warning: ${w}`);
  out.push(entries.length > 0 ? table(['#', 'At', 'Step', 'Phase', 'Detail'], entries.map((e) => [e.seq, e.at.toISOString(), e.step, e.phase, describeEntry(e)])) : 'The journal is empty.');
  if (run.status === 'running') out.push(`If its process is gone: ferry resume ${run.id}`);
  return out.join('\n');
}

function renderOutcome(o: RunOutcome, format: Format): string {
  if (format !== 'table') return structured({ status: o.status, run: runJson(o.run), steps: o.result.steps, warnings: o.result.warnings, ...(o.result.error ? { error: o.result.error } : {}) }, format);
  const rows = runFields(o.run, new Date()).filter(([k]) => k !== 'error');
  if (o.result.error) rows.push(['error', o.result.error]);
  const out = [table(['Field', 'Value'], rows), table(['Step', 'Status', 'Tries', 'Duration', 'What it does'], stepRows(o.result.steps))];
  for (const w of o.result.warnings) out.push(`warning: ${w}`);
  if (o.status === 'interrupted') out.push(`Interrupted: the run stays running (fix: ferry resume ${o.run.id})`);
  return out.join('\n');
}

/** One stderr line per journal entry while a run is driven. */
function progressLine(e: RunEvent): string {
  if (e.phase === 'skipped') return `ferry: ${e.step}: skipped (done before the resume)`;
  const text = describeEntry({ step: e.step, phase: e.phase, data: e.data });
  return `ferry: ${e.step} ${e.phase}${text ? `: ${text}` : ''}`;
}

// ---- helpers ---------------------------------------------------------------------------------



async function getRun(repo: CatalogReader, id: string): Promise<Run> {
  const run = await repo.runs.get(id);
  if (!run) throw new CatalogNotFoundError('run', id, 'is not in the catalog (fix: ferry runs list)');
  return run;
}


// ---- remote mode: runs the daemon drives ---------------------------------------------------------

/** How long a planned failover's recovery run may take to appear after its preparation ended. */
const CHAINED_RUN_WAIT_MS = 60_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One stderr line per journal entry the daemon wrote (the in-process commands' progress lines). */
export function remoteProgressLine(e: JournalEntryWire): string {
  return progressLine({ runId: '', step: e.step, phase: e.phase, at: new Date(e.at), data: (e.data ?? null) as JsonValue | null });
}

/** A run the daemon drove, as it ended (or stands): like `ferry resume` prints an outcome. */
export function renderRemoteRun(d: RunDetail, format: Format, now = new Date()): string {
  const run = runFromWire(d);
  const steps = d.steps as StepReport[];
  if (format !== 'table') return structured({ status: d.status, run: runJson(run), steps, warnings: d.warnings, ...(d.error ? { error: d.error } : {}) }, format);
  const rows = runFields(run, now).filter(([k]) => k !== 'error');
  if (d.error) rows.push(['error', d.error]);
  const out = [table(['Field', 'Value'], rows)];
  if (steps.length > 0) out.push(table(['Step', 'Status', 'Tries', 'Duration', 'What it does'], stepRows(steps)));
  for (const w of d.warnings) out.push(`warning: ${w}`);
  if (d.status === 'failed') out.push(`See ferry runs show ${d.id}`);
  return out.join('\n');
}

/**
 * Follows a run at the daemon until it ends: progress lines on stderr, the outcome on stdout.
 * Ctrl-C stops following, not the run. Resolves to the exit code (0 succeeded, 1 otherwise).
 */
export async function followRemoteRun(ctx: CliContext, api: FerryApiClient, runId: string, format: Format): Promise<{ code: number; run?: RunDetail }> {
  const ended = await withInterrupt(async (signal) => {
    try {
      return await api.follow(runId, { signal, onEntry: (e) => ctx.io.err(remoteProgressLine(e)) });
    } catch (err) {
      if (signal.aborted) return undefined;
      throw err;
    }
  });
  if (!ended || !['succeeded', 'failed', 'cancelled'].includes(ended.status)) {
    ctx.io.err(`ferry: stopped following run ${runId}; it goes on in the daemon (see: ferry runs show ${runId} --url ${api.baseUrl})`);
    return { code: 1 };
  }
  const detail = await api.run(runId);
  if (!detail) throw new CatalogNotFoundError('run', runId, `is no longer visible at the daemon ${api.baseUrl}`);
  ctx.io.out(renderRemoteRun(detail, format));
  return { code: detail.status === 'succeeded' ? 0 : 1, run: detail };
}

/** The recovery run a planned failover's preparation `prepareRunId` led to (the daemon starts it when the preparation ends). */
async function chainedRun(api: FerryApiClient, planName: string, prepareRunId: string, waitMs: number): Promise<string | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const runs = await api.runs({ plan: planName, kind: 'failover', limit: 20 });
    const next = runs.find((r) => r.id !== prepareRunId && (r.params as { prepareRunId?: unknown } | null)?.prepareRunId === prepareRunId);
    if (next) return next.id;
    if (Date.now() >= deadline) return undefined;
    await sleep(1000);
  }
}

/**
 * Starts a run of `kind` at the daemon (POST /v1/plans/{plan}/runs with `params`), then
 * follows it to its end as the in-process commands show theirs. A planned failover is two runs
 * (prepare, recover): the recovery run is followed too. Resolves to the exit code.
 */
export async function startAndFollow(ctx: CliContext, api: FerryApiClient, planName: string, kind: StartableKind, params: JsonObject, format: Format, opts: { chainedWaitMs?: number } = {}): Promise<number> {
  const started = await api.startRun(planName, kind, params);
  ctx.io.err(`ferry: ${kind} run ${started.id} of plan ${planName} started by the daemon at ${api.baseUrl}; following it (Ctrl-C stops following, not the run)`);
  let { code, run } = await followRemoteRun(ctx, api, started.id, format);
  while (code === 0 && run && run.kind === 'failover' && (run.params as { phase?: unknown } | null)?.phase === 'prepare') {
    const next = await chainedRun(api, planName, run.id, opts.chainedWaitMs ?? CHAINED_RUN_WAIT_MS);
    if (!next) {
      ctx.io.err(`ferry: the preparation run ${run.id} ended, but no recovery run of plan ${planName} followed it yet (see: ferry runs list --plan ${planName} --kind failover --url ${api.baseUrl})`);
      return 1;
    }
    ctx.io.err(`ferry: failover run ${next} (recovery at the secondary) follows the preparation ${run.id}`);
    ({ code, run } = await followRemoteRun(ctx, api, next, format));
  }
  return code;
}
