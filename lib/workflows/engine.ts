// The resumable workflow engine every recovery workflow (failover, DR test, failback, cleanup)
// runs on. A workflow is data: a list of steps, each observe → act → verify and safe to run
// again. Every phase boundary is appended to the run's journal in the catalog, so a process
// killed anywhere is resumed by any owner (`resumeRun`): steps journaled `done` are skipped and
// their state restored; the step in progress starts again with observe, so an act that
// completed before the crash is seen as done and not repeated. See docs/workflows.md.
//
// Decisions:
//  - Each journal entry records a phase's outcome when the phase ends (observe: done or not,
//    act: what it made, verify: ok or not), with the changes the phase made to the run's state
//    bag. A crash between an act and its entry is covered by observe, which must find what the
//    act made by its marks (deterministic names, tags) and put it back into the state.
//  - Fencing: before every act (and every compensate or cleanup) the plan is read again; when
//    its epoch is not the run's, the run stops with FencedError, is marked `cancelled` and
//    touches nothing more. A workflow that raises the epoch (failover) does it before its run
//    exists (`raiseEpoch`), so its own run holds the new epoch.
//  - Errors from the catalog (a journal append, a run update) are not step failures: they
//    propagate, the run stays `running` and is resumed later, like after a crash. An abort
//    (the signal) is the same, with a `failed {aborted: true}` entry saying where it stopped.
//  - A step that fails for good (verify not ok or an error after its attempts, or
//    TerminalStepError) fails the run: that decision is journaled first, then every started
//    step is compensated (reverse order), then cleaned up, then the run is marked `failed`. A
//    crash in between resumes into the same path.
//  - Attempt numbers are read back from the journal: a resumed process does not get a fresh
//    retry budget for a step that was already failing.
//  - One process drives a run at a time: that is the caller's job (the daemon's leader, an
//    operator). The owner column records who drives it; a resume by another owner takes it over.
import { canonicalJson } from '../canonical-json.js';
import {
  CatalogNotFoundError,
  EpochConflictError,
  FINISHED_RUN_STATUSES,
  type CatalogRepo,
  type JournalEntry,
  type JournalPhase,
  type JsonObject,
  type JsonValue,
  type Run,
  type RunKind,
  type RunStatus,
} from '../catalog/repo.js';
import { FerryError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { Site } from '../openstack/site.js';
import { sleep as abortableSleep } from '../openstack/wait.js';

// ---- vocabulary: phases as data, one sentence each ---------------------------------

/** What each run status means (docs/workflows.md prints this table). */
export const RUN_STATUS_MEANING: Readonly<Record<RunStatus, string>> = {
  pending: 'Recorded, not started yet: a process will pick it up.',
  running: 'A process drives it, or did until it died: `ferry resume RUN` continues it from its journal.',
  succeeded: 'Every step verified and every cleanup ran; the run is frozen.',
  failed: 'A step failed for good; the started steps were compensated and cleaned up; the run is frozen.',
  cancelled: "Stopped for good without finishing: the plan's epoch moved past the run's (it was fenced).",
};

/** What each journal phase records (docs/workflows.md prints this table). */
export const JOURNAL_PHASE_MEANING: Readonly<Record<JournalPhase, string>> = {
  observe: 'The step read the world: done already (nothing to do) or not, and what it saw.',
  act: 'The step changed the world (or tried, with the error): what it made, e.g. a stack ID.',
  verify: 'The step checked the outcome: ok, or not yet (the step is tried again after a pause).',
  done: 'The step is complete; a resumed run skips it and restores the state it left.',
  failed: 'The step failed for good, or stopped: interrupted (aborted: true, resumable) or fenced (fenced: true).',
};

/** The run status moves the engine makes; anything else is a bug (assertRunTransition). */
export const RUN_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  pending: ['running', 'cancelled'],
  running: ['succeeded', 'failed', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

/** Throws RunStateError unless `from → to` is in RUN_TRANSITIONS (staying put is allowed). */
export function assertRunTransition(runId: string, from: RunStatus, to: RunStatus): void {
  if (from === to || RUN_TRANSITIONS[from].includes(to)) return;
  throw new RunStateError(`run '${runId}' is ${from}; it cannot become ${to} (allowed: ${RUN_TRANSITIONS[from].join(', ') || 'none, it is finished'})`);
}

/** The change a step makes when observe finds it not done (Terraform's plan actions). */
export const CHANGE_ACTIONS = ['create', 'update', 'delete', 'replace', 'read'] as const;
export type ChangeAction = (typeof CHANGE_ACTIONS)[number];

/** Dry-run symbols, as Terraform prints them. */
export const CHANGE_SYMBOLS: Readonly<Record<ChangeAction | 'noop', string>> = { create: '+', update: '~', delete: '-', replace: '-/+', read: '<=', noop: ' ' };

/** The journal's step name for run-level entries (start, resume, end). */
export const RUN_STEP = 'run';
/** Journal step names of a step's compensation and cleanup. */
export const compensateStepName = (step: string): string => `${step}:compensate`;
export const cleanupStepName = (step: string): string => `${step}:cleanup`;

const STEP_NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;
const UNDO_STEP_RE = /^(.+):(compensate|cleanup)$/;

// ---- the step contract -------------------------------------------------------------

/** What observe saw. */
export interface Observation {
  /** The step's end state already holds: act is skipped. */
  done: boolean;
  /** What was seen (journaled, shown by `ferry runs show`). */
  detail?: JsonValue;
  /** A few words for the dry-run line, e.g. "stack web-dr absent at lab-b". */
  summary?: string;
}

/** What verify found. */
export interface Verification {
  ok: boolean;
  /** Why not, in words (ends up in the run's error when the step gives up). */
  reason?: string;
  detail?: JsonValue;
}

export interface RetryPolicy {
  /** Tries of observe → act → verify, the first included (default 3). */
  attempts: number;
  /** Pause after the first failed try (default 1 s), multiplied by `factor` (default 2) after each. */
  backoffMs: number;
  factor: number;
  /** Longest pause (default 30 s). */
  maxBackoffMs: number;
}

export const DEFAULT_RETRY: Readonly<RetryPolicy> = { attempts: 3, backoffMs: 1_000, factor: 2, maxBackoffMs: 30_000 };

/** What every phase of a step gets. */
export interface StepContext<S extends object = JsonObject> {
  /** The run (in a dry-run, a preview with id `dry-run` that is not in the catalog). */
  readonly run: Run;
  readonly repo: CatalogRepo;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /**
   * The run's state bag: JSON values a step leaves for later steps and for a resumed process
   * (e.g. a stack ID). Changes are journaled with the phase that made them; removing a key is
   * recorded as null.
   */
  readonly state: S;
  readonly now: () => Date;
  /** 1 for the first try of the step. */
  readonly attempt: number;
  readonly dryRun: boolean;
}

/** Why a run failed: handed to compensate. */
export interface StepFailure {
  step: string;
  error: string;
}

/**
 * One idempotent step. observe must only read (a dry-run calls it); act must be safe to
 * repeat after a crash, which observe makes rare: it finds what an earlier act made (by
 * marks) and says done. Methods (not arrow properties) so a Workflow<Specific> is a Workflow.
 */
export interface Step<S extends object = JsonObject> {
  /** Lower-case words and dashes, unique in its workflow: the journal's step name. */
  readonly name: string;
  /** One sentence of what the step does, for the dry-run and `ferry runs show`. */
  readonly describe: string;
  /** The change act makes, for the dry-run symbol. */
  readonly action: ChangeAction;
  readonly retry?: Partial<RetryPolicy>;
  observe(ctx: StepContext<S>): Promise<Observation> | Observation;
  act(ctx: StepContext<S>, observed: Observation): Promise<JsonValue | void> | JsonValue | void;
  verify(ctx: StepContext<S>): Promise<Verification> | Verification;
  /** When the run fails: undo what this step made (idempotent; only what carries the run's marks). */
  compensate?(ctx: StepContext<S>, failure: StepFailure): Promise<JsonValue | void> | JsonValue | void;
  /** When the run ends, succeeded or failed: remove what the step made for the run's own use (temporary snapshots). */
  cleanup?(ctx: StepContext<S>): Promise<JsonValue | void> | JsonValue | void;
}

export interface Workflow<S extends object = JsonObject> {
  readonly kind: RunKind;
  readonly steps: readonly Step<S>[];
}

/** A workflow after its step names were checked (unique, journal-safe, not reserved). */
export function defineWorkflow<S extends object = JsonObject>(kind: RunKind, steps: readonly Step<S>[]): Workflow<S> {
  const workflow = { kind, steps };
  checkWorkflow(workflow);
  return workflow;
}

function checkWorkflow(w: Workflow<object>): void {
  if (w.steps.length === 0) throw new WorkflowDefinitionError(`workflow ${w.kind} has no steps`);
  const seen = new Set<string>();
  for (const s of w.steps) {
    if (!STEP_NAME_RE.test(s.name)) throw new WorkflowDefinitionError(`workflow ${w.kind}: step name '${s.name}' must be lower-case letters, digits and dashes, starting with a letter`);
    if (s.name === RUN_STEP) throw new WorkflowDefinitionError(`workflow ${w.kind}: step name '${RUN_STEP}' is reserved for run-level journal entries`);
    if (seen.has(s.name)) throw new WorkflowDefinitionError(`workflow ${w.kind}: two steps are named '${s.name}'`);
    if (!s.describe.trim()) throw new WorkflowDefinitionError(`workflow ${w.kind}: step '${s.name}' has no description`);
    seen.add(s.name);
  }
}

// ---- errors ------------------------------------------------------------------------

/** Thrown by a step to fail at once, without the remaining attempts (nothing will change by retrying). */
export class TerminalStepError extends FerryError {
  override readonly name: string = 'TerminalStepError';
}

/** A workflow that cannot run as written (duplicate or reserved step names). */
export class WorkflowDefinitionError extends FerryError {
  override readonly name: string = 'WorkflowDefinitionError';
}

/** A run that cannot be resumed (finished, another kind, no workflow registered) or an illegal status move. */
export class RunStateError extends FerryError {
  override readonly name: string = 'RunStateError';
}

export interface FenceFacts {
  planName: string;
  /** The run that was stopped (undefined when a run could not even be created). */
  runId?: string;
  kind: RunKind;
  runEpoch: number;
  planEpoch: number;
  activeSite: string;
  /** The newest run at the plan's epoch: who moved it. */
  movedBy?: { runId: string; kind: RunKind; owner: string };
}

/** The plan's epoch moved past the run's: this process must not act for the plan any more. */
/** Another owner (a new leader, another `ferry resume`) took the run over: this process stops acting for it. */
export class RunTakenOverError extends FerryError {
  override readonly name: string = 'RunTakenOverError';
  constructor(
    readonly runId: string,
    readonly owner: string,
    readonly newOwner: string,
  ) {
    super(`run ${runId} was taken over by ${newOwner} (this process, ${owner}, drove it): it does nothing more for it here; follow it with ferry runs show ${runId}`);
  }
}

export class FencedError extends FerryError {
  override readonly name: string = 'FencedError';
  constructor(
    readonly facts: FenceFacts,
    options?: { cause?: unknown },
  ) {
    super(FencedError.format(facts), options);
  }

  private static format(f: FenceFacts): string {
    const who = f.movedBy
      ? `${f.movedBy.kind} run ${f.movedBy.runId} (owner ${f.movedBy.owner}) moved it`
      : 'no run at that epoch is recorded (a catalog rebuild, or a failover that stopped before it created its run, moved it)';
    const what = f.runId ? `run ${f.runId} (${f.kind} of plan '${f.planName}') holds epoch ${f.runEpoch}` : `a ${f.kind} run of plan '${f.planName}' was asked for at epoch ${f.runEpoch}`;
    const done = f.runId ? 'it did nothing more and is cancelled' : 'no run was created';
    return (
      `fenced: ${what}, but the plan is at epoch ${f.planEpoch} (active at ${f.activeSite}); ${who}. ` +
      `This process must not act for the plan: ${done}. ` +
      `Fix: see ferry runs list --plan ${f.planName}; let the newer run finish, then start a new ${f.kind} if its work is still needed.`
    );
  }
}

/** The signal aborted while a step was in hand (internal: the run stays running). */
class Interrupted extends Error {
  constructor(
    readonly step: string,
    readonly attempt: number,
    readonly reason: unknown,
  ) {
    super(`interrupted in step ${step}: ${messageOf(reason)}`);
  }
}

// ---- reading a journal (pure) -----------------------------------------------------------

export type StepStatus = 'pending' | 'in-progress' | 'done' | 'failed' | 'interrupted' | 'fenced';

export interface StepProgress {
  status: StepStatus;
  /** The highest attempt journaled. */
  attempt: number;
  /** The attempt a resumed process starts with: the next one when the last ended badly. */
  nextAttempt: number;
  /** Why the last attempt ended badly (verify's reason or the error). */
  lastCause?: string;
  /** When the step started working (its first entry's time less that phase's duration). */
  startedAt: Date;
  /** Its `done` or final `failed` entry's time. */
  finishedAt?: Date;
}

export interface DeclaredStep {
  name: string;
  describe: string;
  action: ChangeAction;
}

export interface RunProgress {
  /** The workflow's steps that have entries, by name. */
  steps: Map<string, StepProgress>;
  /** Those names, in order of their first entry. */
  order: string[];
  /** The state bag, replayed from every entry's `state` patch. */
  state: JsonObject;
  /** The step failure that decided the run's fate, once journaled. */
  failure?: StepFailure;
  /** The run-level end entry, once journaled. */
  finished?: 'succeeded' | 'failed';
  /** Compensations and cleanups that finished, done or failed for good (by their journal step names). */
  undone: Set<string>;
  /** Compensations and cleanups that failed for good, as sentences. */
  warnings: string[];
  /** The steps the run's workflow declared (from its newest start or resume entry). */
  declared?: DeclaredStep[];
}

const obj = (v: JsonValue | null): JsonObject => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {});
const num = (v: JsonValue | undefined): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: JsonValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

/** What a journal says about a run: the state to restore and where each step stands. */
export function readProgress(entries: readonly JournalEntry[]): RunProgress {
  const p: RunProgress = { steps: new Map(), order: [], state: {}, undone: new Set(), warnings: [] };
  for (const e of entries) {
    const data = obj(e.data);
    const patch = data['state'];
    if (patch !== undefined) Object.assign(p.state, obj(patch));

    if (e.step === RUN_STEP) {
      if (e.phase === 'observe' && Array.isArray(data['steps'])) p.declared = data['steps'].map((s) => obj(s)).map((s) => ({ name: str(s['name']) ?? '', describe: str(s['describe']) ?? '', action: (str(s['action']) ?? 'update') as ChangeAction }));
      if (e.phase === 'done') p.finished = 'succeeded';
      if (e.phase === 'failed' && data['status'] === 'failed') p.finished = 'failed';
      continue;
    }
    const undo = UNDO_STEP_RE.exec(e.step);
    if (undo) {
      // a compensation or cleanup: finished when done or failed for good (not when interrupted)
      if (e.phase === 'done') p.undone.add(e.step);
      if (e.phase === 'failed' && data['aborted'] !== true && data['fenced'] !== true) {
        p.undone.add(e.step);
        p.warnings.push(`${undo[2]} of step ${undo[1]} failed: ${str(data['error']) ?? 'unknown error'} (what it made carries the run's marks)`);
      }
      continue;
    }

    let s = p.steps.get(e.step);
    if (!s) {
      s = { status: 'in-progress', attempt: 1, nextAttempt: 1, startedAt: new Date(e.at.getTime() - (num(data['ms']) ?? 0)) };
      p.steps.set(e.step, s);
      p.order.push(e.step);
    }
    const attempt = num(data['attempt']) ?? s.attempt;
    s.attempt = Math.max(s.attempt, attempt);
    const error = str(data['error']);
    switch (e.phase) {
      case 'observe':
      case 'act':
        s.status = 'in-progress';
        s.nextAttempt = attempt;
        if (error !== undefined) {
          s.lastCause = `${e.phase}: ${error}`;
          s.nextAttempt = attempt + 1;
        }
        break;
      case 'verify':
        s.status = 'in-progress';
        s.nextAttempt = attempt;
        if (data['ok'] !== true) {
          s.lastCause = `verify: ${error ?? str(data['reason']) ?? describeJson(data['detail']) ?? 'not ok'}`;
          s.nextAttempt = attempt + 1;
        }
        break;
      case 'done':
        s.status = 'done';
        s.finishedAt = e.at;
        break;
      case 'failed':
        if (data['aborted'] === true) {
          s.status = 'interrupted';
        } else if (data['fenced'] === true) {
          s.status = 'fenced';
        } else {
          s.status = 'failed';
          s.finishedAt = e.at;
          p.failure = { step: e.step, error: error ?? 'failed' };
        }
        break;
    }
  }
  return p;
}

// ---- the run's result (pure) -------------------------------------------------------------

export interface StepReport {
  name: string;
  describe: string;
  status: StepStatus;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
}

export interface TimelineEntry {
  step: string;
  phase: JournalPhase;
  at: string;
}

/** The result JSON a run gets when it ends (and what `ferry runs show` reads while it runs). */
export interface RunResult {
  kind: RunKind;
  status: RunStatus;
  /** Why the run failed or was cancelled. */
  error?: string;
  failedStep?: string;
  /** From the run's start to its last journal entry. */
  durationMs: number;
  steps: StepReport[];
  state: JsonObject;
  /** Compensations or cleanups that failed: something may be left behind (it carries the run's marks). */
  warnings: string[];
  /** Every journal entry's step, phase and time, for reports (RTO per step). */
  timeline: TimelineEntry[];
}

/** A run's result from its journal; `declared` (the workflow's steps) wins over the journal's. */
export function summarizeRun(run: Run, entries: readonly JournalEntry[], opts: { status?: RunStatus; error?: string; declared?: readonly DeclaredStep[] } = {}): RunResult {
  const p = readProgress(entries);
  const declared = opts.declared ?? p.declared ?? p.order.map((name) => ({ name, describe: '', action: 'update' as const }));
  const names = [...declared.map((d) => d.name), ...p.order.filter((n) => !declared.some((d) => d.name === n))];
  const steps = names.map((name): StepReport => {
    const s = p.steps.get(name);
    const describe = declared.find((d) => d.name === name)?.describe ?? '';
    if (!s) return { name, describe, status: 'pending', attempts: 0 };
    const report: StepReport = { name, describe, status: s.status, attempts: s.attempt, startedAt: s.startedAt.toISOString() };
    if (s.finishedAt) {
      report.finishedAt = s.finishedAt.toISOString();
      report.durationMs = s.finishedAt.getTime() - s.startedAt.getTime();
    }
    return report;
  });
  const last = entries.at(-1);
  const result: RunResult = {
    kind: run.kind,
    status: opts.status ?? run.status,
    durationMs: last ? Math.max(0, last.at.getTime() - run.startedAt.getTime()) : 0,
    steps,
    state: p.state,
    warnings: p.warnings,
    timeline: entries.map((e) => ({ step: e.step, phase: e.phase, at: e.at.toISOString() })),
  };
  const error = opts.error ?? p.failure?.error;
  if (error !== undefined) result.error = error;
  if (p.failure) result.failedStep = p.failure.step;
  return result;
}

// ---- running -----------------------------------------------------------------------------

/** One journal entry as it is written, or a step a resumed run skips. */
export interface RunEvent {
  runId: string;
  step: string;
  phase: JournalPhase | 'skipped';
  at: Date;
  data: JsonValue | null;
}

export interface EngineOptions {
  /** Who drives the run: a daemon ID or `cli@host`. */
  owner: string;
  logger?: Logger;
  /** Aborting stops the run where it is; it stays `running` and is resumed later. */
  signal?: AbortSignal;
  onEvent?: (e: RunEvent) => void;
  /** The clock for journal times (tests pass a fake one). */
  now?: () => Date;
  /** The pause between tries (tests record it instead of waiting). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** The engine options of a workflow command's own options (failover, failback, standby): the same fields, undefined ones left out. */
export function engineOptionsOf(o: EngineOptions): EngineOptions {
  return {
    owner: o.owner,
    ...(o.logger ? { logger: o.logger } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
    ...(o.now ? { now: o.now } : {}),
    ...(o.sleep ? { sleep: o.sleep } : {}),
  };
}

export interface StartOptions extends EngineOptions {
  planName: string;
  /** What the run was asked to do (stored on the run; steps read ctx.run.params). */
  params?: JsonValue;
  /** The epoch the caller holds (a daemon): FencedError when the plan moved past it. */
  epoch?: number;
  /**
   * Raise the plan's epoch before the run exists (failover, failback), optionally moving the
   * active site: every older run is fenced from then on, this one holds the new epoch.
   */
  raiseEpoch?: boolean | { activeSite?: string };
  /** Default: a random UUID. */
  runId?: string;
}

export interface RunOutcome {
  run: Run;
  /** `interrupted`: the signal aborted; the run stays running and `resumeRun` continues it. */
  status: 'succeeded' | 'failed' | 'interrupted';
  result: RunResult;
}

/** A finished run as an outcome (its result as recorded): what a command continuing after it reports. */
export function finishedOutcome(run: Run): RunOutcome {
  return { run, status: run.status === 'succeeded' ? 'succeeded' : 'failed', result: run.result as unknown as RunOutcome['result'] };
}

/** Creates a run of the workflow for the plan (at the plan's epoch) and drives it to its end. */
export async function startRun<S extends object>(repo: CatalogRepo, workflow: Workflow<S>, opts: StartOptions): Promise<RunOutcome> {
  checkWorkflow(workflow);
  const now = opts.now ?? (() => new Date());
  const plan = await repo.plans.get(opts.planName);
  if (!plan) throw new CatalogNotFoundError('plan', opts.planName, 'is not in the catalog (fix: ferry plan apply FILE)');
  const held = opts.epoch ?? plan.epoch;
  if (held !== plan.epoch) throw await fencedError(repo, { planName: plan.name, kind: workflow.kind, runEpoch: held, planEpoch: plan.epoch, activeSite: plan.activeSite });
  let run: Run;
  try {
    let epoch = plan.epoch;
    if (opts.raiseEpoch) {
      const activeSite = typeof opts.raiseEpoch === 'object' ? opts.raiseEpoch.activeSite : undefined;
      epoch = await repo.plans.bumpEpoch(plan.name, held, activeSite === undefined ? {} : { activeSite });
    }
    run = await repo.runs.create({
      planName: plan.name,
      kind: workflow.kind,
      owner: opts.owner,
      epoch,
      startedAt: now(),
      ...(opts.params === undefined ? {} : { params: opts.params }),
      ...(opts.runId === undefined ? {} : { id: opts.runId }),
    });
  } catch (err) {
    if (!(err instanceof EpochConflictError)) throw err;
    // Another run raised the epoch between our read and our write.
    const current = await repo.plans.get(plan.name);
    throw await fencedError(repo, { planName: plan.name, kind: workflow.kind, runEpoch: err.expected, planEpoch: err.actual, activeSite: current?.activeSite ?? plan.activeSite }, err);
  }
  const driver = new Driver(repo, workflow, run, opts, []);
  await driver.journal(RUN_STEP, 'observe', { resumed: false, owner: run.owner, kind: workflow.kind, steps: declare(workflow) });
  return driver.drive();
}

/**
 * Continues a run from its journal: done steps are skipped (their state restored), the step in
 * progress starts again with observe. A different owner takes the run over. Throws
 * RunStateError for a finished run or a workflow of another kind, FencedError when the plan's
 * epoch moved past the run's.
 */
export async function resumeRun<S extends object>(repo: CatalogRepo, workflow: Workflow<S>, runId: string, opts: EngineOptions): Promise<RunOutcome> {
  checkWorkflow(workflow);
  let run = await repo.runs.get(runId);
  if (!run) throw new CatalogNotFoundError('run', runId, 'is not in the catalog (fix: ferry runs list)');
  if (FINISHED_RUN_STATUSES.includes(run.status)) {
    throw new RunStateError(`run '${runId}' (${run.kind} of plan '${run.planName}') finished ${run.status} at ${run.finishedAt?.toISOString() ?? '?'}; a finished run is not resumed: start a new ${run.kind}`);
  }
  if (run.kind !== workflow.kind) throw new RunStateError(`run '${runId}' is a ${run.kind} run; it cannot be resumed as ${workflow.kind}`);
  const entries = await repo.journal.read(runId);
  const driver = new Driver(repo, workflow, run, opts, entries);
  try {
    await driver.fence();
  } catch (err) {
    if (err instanceof FencedError) await driver.cancelFenced(err);
    throw err;
  }
  const previousOwner = run.owner;
  if (run.owner !== opts.owner || run.status === 'pending') {
    if (run.status === 'pending') assertRunTransition(run.id, run.status, 'running');
    run = await repo.runs.update(run.id, { owner: opts.owner, ...(run.status === 'pending' ? { status: 'running' as const } : {}) });
    driver.setRun(run);
  }
  await driver.journal(RUN_STEP, 'observe', { resumed: true, owner: opts.owner, previousOwner, kind: workflow.kind, steps: declare(workflow) });
  return driver.drive();
}

function declare(w: Workflow<object>): JsonValue {
  return w.steps.map((s) => ({ name: s.name, describe: s.describe, action: s.action }));
}

/** The retry policy of a step, defaults filled in and bounds checked. */
export function retryPolicy(p: Partial<RetryPolicy> = {}): RetryPolicy {
  const r = { ...DEFAULT_RETRY, ...p };
  return { attempts: Math.max(1, Math.floor(r.attempts)), backoffMs: Math.max(0, r.backoffMs), factor: Math.max(1, r.factor), maxBackoffMs: Math.max(0, r.maxBackoffMs) };
}

/** The pause after failed try `attempt` (1-based): backoffMs × factor^(attempt-1), at most maxBackoffMs. */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxBackoffMs, policy.backoffMs * policy.factor ** Math.max(0, attempt - 1));
}

type UserCall<T> = { ok: true; value: T; ms: number } | { ok: false; error: Error; terminal: boolean; ms: number };
type Attempt = { ok: true } | { ok: false; cause: string; terminal: boolean };

/** Drives one run; one instance per process and run. */
class Driver<S extends object> {
  private entries: JournalEntry[];
  private readonly state: Record<string, unknown>;
  /** Each state key's JSON as last journaled: what a patch is computed against. */
  private readonly journaled = new Map<string, string>();
  private readonly progress: RunProgress;
  private readonly log: Logger;
  private readonly signal: AbortSignal;
  private readonly now: () => Date;
  private readonly pause: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The step in hand (for interrupt and fence entries). */
  private current: { step: string; attempt: number } | undefined;

  constructor(
    private readonly repo: CatalogRepo,
    private readonly workflow: Workflow<S>,
    private run: Run,
    private readonly opts: EngineOptions,
    entries: JournalEntry[],
  ) {
    this.entries = [...entries];
    this.progress = readProgress(entries);
    this.state = { ...this.progress.state };
    for (const [k, v] of Object.entries(this.state)) this.journaled.set(k, canonicalJson(v));
    this.log = (opts.logger ?? silentLogger).child({ run: run.id, plan: run.planName, workflow: run.kind });
    this.signal = opts.signal ?? new AbortController().signal;
    this.now = opts.now ?? (() => new Date());
    this.pause = opts.sleep ?? abortableSleep;
  }

  setRun(run: Run): void {
    this.run = run;
  }

  // ---- the run --------------------------------------------------------------------------

  async drive(): Promise<RunOutcome> {
    try {
      const p = this.progress;
      if (p.finished) return await this.finish(p.finished, p.failure);
      if (p.failure) return await this.fail(p.failure);
      for (const step of this.workflow.steps) {
        const sp = p.steps.get(step.name);
        if (sp?.status === 'done') {
          this.emit({ runId: this.run.id, step: step.name, phase: 'skipped', at: this.now(), data: { reason: 'done before the resume' } });
          continue;
        }
        const failure = await this.runStep(step, sp);
        if (failure) return await this.fail(failure);
      }
      await this.undo('cleanup');
      this.current = undefined;
      await this.journal(RUN_STEP, 'done', { status: 'succeeded' });
      return await this.finish('succeeded');
    } catch (err) {
      if (err instanceof Interrupted) return this.interrupted(err);
      if (err instanceof RunTakenOverError) return this.takenOver(err);
      if (err instanceof FencedError) await this.cancelFenced(err);
      throw err;
    }
  }

  /** The terminal failure path: compensate, clean up, record; resumable at every entry. */
  private async fail(failure: StepFailure): Promise<RunOutcome> {
    this.log.error(`step ${failure.step} failed: ${failure.error}`);
    await this.undo('compensate', failure);
    await this.undo('cleanup');
    this.current = undefined;
    await this.journal(RUN_STEP, 'failed', { status: 'failed', step: failure.step, error: failure.error });
    return this.finish('failed', failure);
  }

  private async finish(status: 'succeeded' | 'failed', failure?: StepFailure): Promise<RunOutcome> {
    assertRunTransition(this.run.id, this.run.status, status);
    const result = summarizeRun(this.run, this.entries, { status, declared: declaredOf(this.workflow), ...(failure ? { error: failure.error } : {}) });
    this.run = await this.repo.runs.update(this.run.id, { status, result: result as unknown as JsonValue });
    const line = `${this.run.kind} run ${this.run.id} of plan ${this.run.planName} ${status} in ${result.durationMs} ms${failure ? `: ${failure.error}` : ''}`;
    if (status === 'succeeded') this.log.info(line);
    else this.log.error(line);
    for (const w of result.warnings) this.log.warn(w);
    return { run: this.run, status, result };
  }

  private async interrupted(err: Interrupted): Promise<RunOutcome> {
    try {
      await this.journal(err.step, 'failed', { attempt: err.attempt, aborted: true, error: messageOf(err.reason) });
    } catch (e) {
      this.log.warn(`could not journal the interruption: ${messageOf(e)}`);
    }
    this.log.warn(`${err.message}; the run stays running (fix: ferry resume ${this.run.id})`);
    return { run: this.run, status: 'interrupted', result: summarizeRun(this.run, this.entries, { declared: declaredOf(this.workflow), error: err.message }) };
  }

  /** Another owner drives the run now: stop without a word in its journal (it is theirs). */
  private takenOver(err: RunTakenOverError): RunOutcome {
    this.log.warn(err.message);
    return { run: this.run, status: 'interrupted', result: summarizeRun(this.run, this.entries, { declared: declaredOf(this.workflow), error: err.message }) };
  }

  /** Records the fence and cancels the run; never throws (the FencedError is what matters). */
  async cancelFenced(err: FencedError): Promise<void> {
    try {
      await this.journal(this.current?.step ?? RUN_STEP, 'failed', { fenced: true, runEpoch: err.facts.runEpoch, planEpoch: err.facts.planEpoch, error: err.message });
      assertRunTransition(this.run.id, this.run.status, 'cancelled');
      const result = summarizeRun(this.run, this.entries, { status: 'cancelled', error: err.message, declared: declaredOf(this.workflow) });
      this.run = await this.repo.runs.update(this.run.id, { status: 'cancelled', result: result as unknown as JsonValue });
    } catch (e) {
      this.log.warn(`could not record that run ${this.run.id} was fenced: ${messageOf(e)}`);
    }
    this.log.error(err.message);
  }

  /**
   * FencedError when the plan's epoch is not the run's any more; RunTakenOverError when another
   * owner resumed the run (a new leader took over from a daemon that still runs): the older
   * process must not act beside it.
   */
  async fence(): Promise<void> {
    const plan = await this.repo.plans.get(this.run.planName, { includeDeleted: true });
    if (!plan) throw new CatalogNotFoundError('plan', this.run.planName, `was purged while run ${this.run.id} was running`);
    if (plan.epoch !== this.run.epoch) {
      throw await fencedError(this.repo, { planName: plan.name, runId: this.run.id, kind: this.run.kind, runEpoch: this.run.epoch, planEpoch: plan.epoch, activeSite: plan.activeSite });
    }
    const current = await this.repo.runs.get(this.run.id);
    if (current && current.owner !== this.run.owner) throw new RunTakenOverError(this.run.id, this.run.owner, current.owner);
  }

  // ---- a step ---------------------------------------------------------------------------

  /** Tries the step until it verifies (undefined) or gives up (the failure, journaled). */
  private async runStep(step: Step<S>, sp: StepProgress | undefined): Promise<StepFailure | undefined> {
    const policy = retryPolicy(step.retry);
    let attempt = sp?.nextAttempt ?? 1;
    let cause = sp?.lastCause ?? 'not verified';
    for (;;) {
      if (attempt > policy.attempts) return this.giveUp(step, attempt - 1, cause);
      const r = await this.attempt(step, attempt);
      if (r.ok) {
        await this.journal(step.name, 'done', { attempts: attempt });
        return undefined;
      }
      cause = r.cause;
      if (r.terminal || attempt >= policy.attempts) return this.giveUp(step, attempt, cause);
      const wait = backoffMs(policy, attempt);
      this.log.info(`step ${step.name} try ${attempt} of ${policy.attempts}: ${cause}; again in ${wait} ms`);
      try {
        await this.pause(wait, this.signal);
      } catch (err) {
        if (this.signal.aborted) throw new Interrupted(step.name, attempt, this.signal.reason ?? err);
        throw err;
      }
      attempt++;
    }
  }

  private async giveUp(step: Step<S>, attempts: number, cause: string): Promise<StepFailure> {
    const error = `step ${step.name} (${step.describe}) failed after ${attempts} ${attempts === 1 ? 'try' : 'tries'}: ${cause}`;
    await this.journal(step.name, 'failed', { attempt: attempts, error });
    return { step: step.name, error };
  }

  /** observe → (act, after the fence check) → verify, each journaled. */
  private async attempt(step: Step<S>, attempt: number): Promise<Attempt> {
    this.current = { step: step.name, attempt };
    const ctx = this.context(step, attempt);
    const seen = await this.user(step, attempt, () => step.observe(ctx));
    if (!seen.ok) return this.errored(step, 'observe', attempt, seen);
    const observed = seen.value;
    await this.journal(step.name, 'observe', { attempt, done: observed.done, detail: observed.detail, summary: observed.summary, ms: seen.ms });
    if (!observed.done) {
      await this.fence();
      const acted = await this.user(step, attempt, () => step.act(ctx, observed));
      if (!acted.ok) return this.errored(step, 'act', attempt, acted);
      await this.journal(step.name, 'act', { attempt, result: acted.value ?? undefined, ms: acted.ms });
    }
    const checked = await this.user(step, attempt, () => step.verify(ctx));
    if (!checked.ok) return this.errored(step, 'verify', attempt, checked);
    const v = checked.value;
    await this.journal(step.name, 'verify', { attempt, ok: v.ok, reason: v.reason, detail: v.detail, ms: checked.ms });
    return v.ok ? { ok: true } : { ok: false, cause: `verify: ${v.reason ?? describeJson(v.detail) ?? 'not ok'}`, terminal: false };
  }

  private async errored(step: Step<S>, phase: 'observe' | 'act' | 'verify', attempt: number, r: { error: Error; terminal: boolean; ms: number }): Promise<Attempt> {
    await this.journal(step.name, phase, { attempt, ...(phase === 'verify' ? { ok: false } : {}), error: r.error.message, ms: r.ms });
    return { ok: false, cause: `${phase}: ${r.error.message}`, terminal: r.terminal };
  }

  /**
   * Calls step code: its errors become results (catalog errors around it stay exceptions); an
   * abort becomes Interrupted; a FencedError passes through.
   */
  private async user<T>(step: Step<S>, attempt: number, fn: () => Promise<T> | T): Promise<UserCall<T>> {
    if (this.signal.aborted) throw new Interrupted(step.name, attempt, this.signal.reason);
    const t0 = this.now().getTime();
    try {
      const value = await fn();
      this.checkState(step.name);
      return { ok: true, value, ms: this.now().getTime() - t0 };
    } catch (err) {
      if (err instanceof FencedError || err instanceof Interrupted) throw err;
      if (this.signal.aborted) throw new Interrupted(step.name, attempt, this.signal.reason ?? err);
      this.dropBadState(step.name);
      return { ok: false, error: errorOf(err), terminal: err instanceof TerminalStepError, ms: this.now().getTime() - t0 };
    }
  }

  private context(step: Step<S>, attempt: number): StepContext<S> {
    return {
      run: this.run,
      repo: this.repo,
      logger: this.log.child({ step: step.name }),
      signal: this.signal,
      state: this.state as S,
      now: this.now,
      attempt,
      dryRun: false,
    };
  }

  // ---- compensation and cleanup --------------------------------------------------------------

  /** Runs compensate (or cleanup) of every started step, newest first; failures become warnings. */
  private async undo(kind: 'compensate' | 'cleanup', failure?: StepFailure): Promise<void> {
    const { steps: started, undone } = readProgress(this.entries);
    for (const step of [...this.workflow.steps].reverse()) {
      const has = kind === 'compensate' ? step.compensate !== undefined : step.cleanup !== undefined;
      if (!has || !started.has(step.name)) continue;
      const name = kind === 'compensate' ? compensateStepName(step.name) : cleanupStepName(step.name);
      if (undone.has(name)) continue;
      const policy = retryPolicy(step.retry);
      for (let attempt = 1; ; attempt++) {
        this.current = { step: name, attempt };
        await this.fence();
        const ctx = this.context(step, attempt);
        const r = await this.user(step, attempt, () => (kind === 'compensate' ? step.compensate!(ctx, failure!) : step.cleanup!(ctx)));
        if (r.ok) {
          await this.journal(name, 'done', { attempt, result: r.value ?? undefined, ms: r.ms });
          break;
        }
        if (r.terminal || attempt >= policy.attempts) {
          await this.journal(name, 'failed', { attempt, error: r.error.message });
          this.log.warn(`${kind} of step ${step.name} failed: ${r.error.message}`);
          break;
        }
        await this.journal(name, 'act', { attempt, error: r.error.message, ms: r.ms });
        try {
          await this.pause(backoffMs(policy, attempt), this.signal);
        } catch (err) {
          if (this.signal.aborted) throw new Interrupted(name, attempt, this.signal.reason ?? err);
          throw err;
        }
      }
    }
  }

  // ---- journal and state -----------------------------------------------------------------------

  /** Appends an entry carrying the state keys changed since the last one. */
  async journal(step: string, phase: JournalPhase, data: Record<string, JsonValue | undefined>): Promise<JournalEntry> {
    const patch: JsonObject = {};
    const now = new Map<string, string>();
    for (const key of new Set([...Object.keys(this.state), ...this.journaled.keys()])) {
      const value = this.state[key] === undefined ? null : (this.state[key] as JsonValue);
      const text = canonicalJson(value);
      if (this.journaled.get(key) !== text) {
        patch[key] = value;
        now.set(key, text);
      }
    }
    const body: JsonObject = {};
    for (const [k, v] of Object.entries(data)) if (v !== undefined) body[k] = v;
    if (Object.keys(patch).length > 0) body['state'] = patch;
    // A run another owner took over is theirs to journal (checked per entry: the window left is one append).
    const current = await this.repo.runs.get(this.run.id);
    if (current && current.owner !== this.run.owner) throw new RunTakenOverError(this.run.id, this.run.owner, current.owner);
    const entry = await this.repo.journal.append(this.run.id, { step, phase, data: body, at: this.now() });
    for (const [k, t] of now) this.journaled.set(k, t);
    this.entries.push(entry);
    this.emit({ runId: this.run.id, step, phase, at: entry.at, data: entry.data });
    return entry;
  }

  /** A step put something that is not JSON in the state: its bug, failed for good. */
  private checkState(step: string): void {
    for (const [k, v] of Object.entries(this.state)) {
      if (v === undefined) continue;
      try {
        canonicalJson(v);
      } catch (err) {
        throw new TerminalStepError(`step ${step} put a value that is not JSON in state.${k}: ${messageOf(err)}`);
      }
    }
  }

  private dropBadState(step: string): void {
    for (const [k, v] of Object.entries(this.state)) {
      try {
        canonicalJson(v ?? null);
      } catch {
        delete this.state[k];
        this.log.warn(`state.${k} set by step ${step} is not JSON; dropped`);
      }
    }
  }

  private emit(e: RunEvent): void {
    try {
      this.opts.onEvent?.(e);
    } catch (err) {
      this.log.warn(`onEvent failed: ${messageOf(err)}`);
    }
  }
}

function declaredOf(w: Workflow<object>): DeclaredStep[] {
  return w.steps.map((s) => ({ name: s.name, describe: s.describe, action: s.action }));
}

/** A FencedError naming the newest run at the plan's epoch (who moved it). */
async function fencedError(repo: CatalogRepo, facts: FenceFacts, cause?: unknown): Promise<FencedError> {
  const runs = await repo.runs.list({ planName: facts.planName, limit: 50 }).catch(() => []);
  const mover = runs.find((r) => r.epoch === facts.planEpoch && r.id !== facts.runId);
  return new FencedError({ ...facts, ...(mover ? { movedBy: { runId: mover.id, kind: mover.kind, owner: mover.owner } } : {}) }, cause === undefined ? undefined : { cause });
}

// ---- dry-run ----------------------------------------------------------------------------------

export interface PlannedStep {
  name: string;
  describe: string;
  /** `noop` when observe found the step done. */
  action: ChangeAction | 'noop';
  summary?: string;
  detail?: JsonValue;
  /** Observe failed: what the step would do is unknown. */
  error?: string;
}

export interface PlanOptions {
  planName: string;
  params?: JsonValue;
  owner?: string;
  logger?: Logger;
  signal?: AbortSignal;
  now?: () => Date;
}

/** The id of the preview run a dry-run's steps see. */
export const DRY_RUN_ID = 'dry-run';

/**
 * Observes every step without acting and says what a run would do: the dry-run. Nothing is
 * written (no run, no journal); observe sees the state earlier observes left in a scratch bag.
 */
export async function planWorkflow<S extends object>(repo: CatalogRepo, workflow: Workflow<S>, opts: PlanOptions): Promise<PlannedStep[]> {
  checkWorkflow(workflow);
  const now = opts.now ?? (() => new Date());
  const plan = await repo.plans.get(opts.planName);
  if (!plan) throw new CatalogNotFoundError('plan', opts.planName, 'is not in the catalog (fix: ferry plan apply FILE)');
  const run: Run = {
    id: DRY_RUN_ID,
    planName: plan.name,
    kind: workflow.kind,
    status: 'pending',
    startedAt: now(),
    finishedAt: null,
    params: opts.params ?? null,
    result: null,
    owner: opts.owner ?? 'dry-run',
    epoch: plan.epoch,
  };
  const log = (opts.logger ?? silentLogger).child({ plan: plan.name, workflow: workflow.kind, run: DRY_RUN_ID });
  const signal = opts.signal ?? new AbortController().signal;
  const state = {} as S;
  const planned: PlannedStep[] = [];
  for (const step of workflow.steps) {
    signal.throwIfAborted();
    const ctx: StepContext<S> = { run, repo, logger: log.child({ step: step.name }), signal, state, now, attempt: 1, dryRun: true };
    const base = { name: step.name, describe: step.describe };
    try {
      const o = await step.observe(ctx);
      const p: PlannedStep = { ...base, action: o.done ? 'noop' : step.action };
      if (o.summary !== undefined) p.summary = o.summary;
      if (o.detail !== undefined) p.detail = o.detail;
      planned.push(p);
    } catch (err) {
      if (signal.aborted) throw err;
      planned.push({ ...base, action: step.action, error: messageOf(err) });
    }
  }
  return planned;
}

/** The dry-run as an operator reads it, one line per step and a count (Terraform-style). */
export function renderPlan(planned: readonly PlannedStep[], title?: string): string {
  const width = Math.max(...planned.map((p) => p.name.length), 4);
  const lines = title ? [title] : [];
  for (const p of planned) {
    const symbol = CHANGE_SYMBOLS[p.action].padStart(3);
    const note = p.error !== undefined ? ` (cannot observe: ${p.error})` : p.action === 'noop' ? ` (already done${p.summary ? `: ${p.summary}` : ''})` : p.summary ? ` (${p.summary})` : '';
    lines.push(`${symbol} ${p.name.padEnd(width)}  ${p.describe}${note}`);
  }
  const count = (a: ChangeAction) => planned.filter((p) => p.action === a).length;
  const parts = [`${count('create')} to create`, `${count('update')} to update`, `${count('replace')} to replace`, `${count('delete')} to delete`];
  if (count('read') > 0) parts.push(`${count('read')} to read`);
  parts.push(`${planned.filter((p) => p.action === 'noop').length} already done`);
  const unknown = planned.filter((p) => p.error !== undefined).length;
  lines.push(`Plan: ${parts.join(', ')}${unknown ? `; ${unknown} could not be observed` : ''}.`);
  return lines.join('\n');
}

// ---- the registry: which workflow resumes a run of a kind ----------------------------------------

/** What a workflow factory gets to build the workflow of a run being resumed. */
export interface WorkflowEnv {
  repo: CatalogRepo;
  logger: Logger;
  /** Site objects by cloud name (opened on first use). */
  sites: (cloud: string) => Site;
}

/** Builds the workflow that continues `run` (from its params); must not act. */
export type WorkflowFactory = (run: Run, env: WorkflowEnv) => Workflow<object> | Promise<Workflow<object>>;

const registry = new Map<RunKind, WorkflowFactory>();

/** Registers the factory that resumes runs of `kind`; returns the unregistration (for tests). */
export function registerWorkflow(kind: RunKind, factory: WorkflowFactory): () => void {
  const existing = registry.get(kind);
  if (existing && existing !== factory) throw new WorkflowDefinitionError(`a workflow for kind ${kind} is registered already`);
  registry.set(kind, factory);
  return () => {
    if (registry.get(kind) === factory) registry.delete(kind);
  };
}

/** A kind's registration for `ferry resume` that tests can step aside and put back. */
export interface WorkflowRegistration {
  /** Registers the factory (idempotent). */
  register(): void;
  unregister(): void;
}

/** The registration of `factory` for `kind` (register() it at module load). */
export function workflowRegistration(kind: RunKind, factory: WorkflowFactory): WorkflowRegistration {
  let undo: (() => void) | undefined;
  return {
    register() {
      if (workflowFor(kind) !== factory) undo = registerWorkflow(kind, factory);
    },
    unregister() {
      undo?.();
      undo = undefined;
    },
  };
}

export function workflowFor(kind: RunKind): WorkflowFactory | undefined {
  return registry.get(kind);
}

/** Why a run of this kind cannot be resumed here, with the way out. */
export function noWorkflowMessage(kind: RunKind, planName: string): string {
  const hint = kind === 'replicate' ? ` (a replicate run is resumed by the plan's next cycle: ferry replicate ${planName})` : '';
  return `no resumable workflow registered for kind ${kind}${hint}`;
}

/** Resumes a run with the workflow registered for its kind (the daemon after a restart, `ferry resume`). */
export async function resumeRegistered(repo: CatalogRepo, runId: string, env: Omit<WorkflowEnv, 'repo'>, opts: EngineOptions): Promise<RunOutcome> {
  const run = await repo.runs.get(runId);
  if (!run) throw new CatalogNotFoundError('run', runId, 'is not in the catalog (fix: ferry runs list)');
  if (FINISHED_RUN_STATUSES.includes(run.status)) {
    throw new RunStateError(`run '${runId}' (${run.kind} of plan '${run.planName}') finished ${run.status} at ${run.finishedAt?.toISOString() ?? '?'}; a finished run is not resumed: start a new ${run.kind}`);
  }
  const factory = workflowFor(run.kind);
  if (!factory) throw new RunStateError(noWorkflowMessage(run.kind, run.planName));
  const workflow = await factory(run, { ...env, repo });
  return resumeRun(repo, workflow, runId, opts);
}

// ---- helpers ------------------------------------------------------------------------------

function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A JSON detail as short text for messages: strings as they are, the rest as compact JSON. */
export function describeJson(v: JsonValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  const text = JSON.stringify(v);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
