// The leader's scheduler: a replication cycle per plan often enough to hold its RPO, the DR
// tests of [drtest_schedule], and the runs a dead daemon left behind. Retention runs inside
// each cycle already. Everything it decides comes from the catalog (newest complete point,
// recent runs), so a new leader picks up exactly where the old one was.
//
// Decisions:
//  - Due time: newest complete point + RPO/2 (status.ts nextCycleDue), minus a fixed per-plan
//    jitter (a hash of the plan's name, at most [scheduler] max_jitter and a tenth of RPO/2):
//    plans do not all start together, and the offset only ever moves a cycle earlier. A plan
//    without a complete point is due at the scheduler's start plus its jitter.
//  - After failed cycles (a partial one counts: its run failed) the next waits
//    failure_backoff, doubled per further failure in a row, at most max_failure_backoff.
//  - One cycle per plan at a time: an in-process guard keyed by plan, plus the leader lease
//    (only the leader ticks); at most max_concurrent_cycles at once, the most overdue first.
//  - A replicate run left `running` by another owner: a daemon's is taken over by the next
//    cycle (runReplicationCycle resumes it); the CLI's (`cli@host`) is left alone while its
//    journal moved within max(RPO, 1 h), since an operator may be driving it, then adopted.
//  - A cycle running longer than half the RPO is logged as a warning and reported to the
//    observer (metrics), once while it runs and again at its end.
//  - DR tests: the newest occurrence of the plan's cron expression that is not older than
//    misfire_grace and newer than the plan's latest DR test run starts one; an older one
//    missed while this daemon ran is logged as missed. The DR test
//    workflow is called through a DrTestStarter (registered by its module or injected);
//    without one the occurrence is skipped with a log line.
//  - Runs of a daemon that is no longer leader (or this daemon's own, when nothing here drives
//    them any more): replicate runs get a cycle now; other kinds are resumed from their journal
//    (resumeRegistered). Each at most once per term.
//  - Stopping (SIGTERM, or losing the lease) aborts what runs: each stops at its next journal
//    boundary and stays `running`, to be resumed by the next leader.
import { createHash, randomUUID } from 'node:crypto';
import { Cron } from 'croner';
import type { CatalogRepo, Plan, Run } from '../catalog/repo.js';
import { formatDuration } from '../config/protection-plan.js';
import { silentLogger, type Logger } from '../log.js';
import type { RunOutcome } from '../workflows/engine.js';
import type { CycleResult } from '../workflows/replicate.js';
import { cycleIntervalMs, nextCycleDue } from '../workflows/status.js';
import { Loop, monotonicNow, systemClock, type Clock, type TimerHandle } from './clock.js';
import type { DaemonConfig } from './config.js';
import { DAEMON_OWNER_PREFIX } from './leader.js';

// ---- what the scheduler calls ----------------------------------------------------------

export interface WorkContext {
  /** The daemon's ID, recorded as the run's owner. */
  owner: string;
  signal: AbortSignal;
  /** A logger carrying this piece of work's request ID. */
  logger: Logger;
}

/**
 * One replication cycle (runReplicationCycle with the daemon's catalog and sites).
 * `onProgress` is called at each of its events (the first comes once its run is recorded).
 */
export type RunCycle = (planName: string, o: WorkContext & { epoch: number; onProgress?: () => void }) => Promise<CycleResult>;

/** What a caller of startCycle (the API) learns of the cycle it asked for. */
export interface CycleHooks {
  onProgress?: () => void;
  onFinished?: (e: { result?: CycleResult; error?: string }) => void;
}

/** Continues a run from its journal (resumeRegistered with the daemon's sites). */
export type ResumeRun = (runId: string, o: WorkContext) => Promise<RunOutcome>;

export interface DrTestRequest extends WorkContext {
  plan: string;
  /** The plan's epoch when the test was started. */
  epoch: number;
  /** The cron occurrence this test is for. */
  scheduledFor: Date;
  requestId: string;
}

/** Starts (and drives) a DR test of a plan; what the DR test workflow module provides. */
export type DrTestStarter = (r: DrTestRequest) => Promise<{ runId?: string; status: string }>;

let registeredStarter: DrTestStarter | undefined;

/** Registers the DR test workflow for scheduled tests; returns the unregistration. */
export function registerDrTestStarter(starter: DrTestStarter): () => void {
  registeredStarter = starter;
  return () => {
    if (registeredStarter === starter) registeredStarter = undefined;
  };
}

export function registeredDrTestStarter(): DrTestStarter | undefined {
  return registeredStarter;
}

// ---- pure scheduling arithmetic --------------------------------------------------------------

/** A plan's fixed jitter: a hash of its name over [0, min(maxJitterMs, RPO/2 / 10)). */
export function planJitterMs(planName: string, rpoMs: number, maxJitterMs: number): number {
  const span = Math.min(maxJitterMs, Math.floor(cycleIntervalMs(rpoMs) / 10));
  if (span <= 0) return 0;
  const h = createHash('sha256').update(planName).digest().readUInt32BE(0);
  return Math.floor((h / 0x1_0000_0000) * span);
}

/** Finished replicate runs that failed, in a row, newest first (running ones are skipped). */
export function consecutiveFailures(runs: readonly Pick<Run, 'status' | 'finishedAt'>[]): { count: number; lastFinishedAt: Date | undefined } {
  let count = 0;
  let lastFinishedAt: Date | undefined;
  for (const r of runs) {
    if (r.status === 'running' || r.status === 'pending') continue;
    if (r.status !== 'failed') break;
    if (count === 0) lastFinishedAt = r.finishedAt ?? undefined;
    count++;
  }
  return { count, lastFinishedAt };
}

export function failureBackoffMs(failures: number, baseMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
}

export interface DueInput {
  rpoMs: number;
  newestCompleteAt: Date | undefined;
  /** The plan's recent replicate runs, newest first. */
  recentRuns: readonly Pick<Run, 'status' | 'finishedAt'>[];
  jitterMs: number;
  /** When this scheduler started (plans without a point are due from then, plus jitter). */
  startedAt: number;
  failureBackoffMs: number;
  maxFailureBackoffMs: number;
  now: number;
}

/** When the plan's next cycle is due (ms since the epoch; at or before `now` means due). */
export function cycleDueAt(i: DueInput): number {
  const due = nextCycleDue(i.newestCompleteAt, i.rpoMs, new Date(i.now));
  let at: number;
  if (i.newestCompleteAt === undefined) at = i.startedAt + i.jitterMs;
  else at = due === undefined ? i.newestCompleteAt.getTime() + cycleIntervalMs(i.rpoMs) - i.jitterMs : due.getTime() - i.jitterMs;
  const f = consecutiveFailures(i.recentRuns);
  if (f.count > 0 && f.lastFinishedAt) at = Math.max(at, f.lastFinishedAt.getTime() + failureBackoffMs(f.count, i.failureBackoffMs, i.maxFailureBackoffMs));
  return at;
}

/**
 * The DR test occurrence to start now, if any: the newest occurrence at or before `now`, when
 * no DR test run started since and it is at most `graceMs` old. `missed` is an occurrence
 * that was not started in time.
 */
export function drTestDue(cron: Pick<Cron, 'previousRuns'>, lastStartedAt: Date | undefined, now: Date, graceMs: number): { occurrence?: Date; missed?: Date } {
  const [prev] = cron.previousRuns(1, new Date(now.getTime() + 1));
  if (!prev) return {};
  if (lastStartedAt && lastStartedAt.getTime() >= prev.getTime()) return {};
  if (now.getTime() - prev.getTime() > graceMs) return { missed: prev };
  return { occurrence: prev };
}

// ---- settings -----------------------------------------------------------------------------

export interface SchedulerSettings {
  enabled: boolean;
  tickMs: number;
  maxConcurrentCycles: number;
  maxJitterMs: number;
  failureBackoffMs: number;
  maxFailureBackoffMs: number;
  drtest: { enabled: boolean; timezone: string; misfireGraceMs: number; schedules: Record<string, string> };
}

export function schedulerSettings(c: DaemonConfig): SchedulerSettings {
  return {
    enabled: c.scheduler.enabled,
    tickMs: c.scheduler.tick_interval.ms,
    maxConcurrentCycles: c.scheduler.max_concurrent_cycles,
    maxJitterMs: c.scheduler.max_jitter.ms,
    failureBackoffMs: c.scheduler.failure_backoff.ms,
    maxFailureBackoffMs: c.scheduler.max_failure_backoff.ms,
    drtest: { enabled: c.drtest.enabled, timezone: c.drtest.timezone, misfireGraceMs: c.drtest.misfire_grace.ms, schedules: { ...c.drtest_schedule } },
  };
}

// ---- the scheduler ----------------------------------------------------------------------------

export type JobKind = 'replicate' | 'drtest' | 'resume' | string;

export interface JobInfo {
  /** `replicate:PLAN`, `drtest:PLAN`, `run:RUN_ID`, or a caller's `KIND:PLAN`. */
  key: string;
  kind: JobKind;
  plan: string;
  runId?: string;
  requestId: string;
  startedAt: string;
  elapsedMs: number;
}

export interface SchedulerObserver {
  cycleStarted?(e: { plan: string; requestId: string; reason: string }): void;
  cycleFinished?(e: { plan: string; requestId: string; durationMs: number; rpoMs: number; result?: CycleResult; error?: string }): void;
  /** A cycle ran longer than half the RPO (finished: at its end; else while it runs). */
  cycleSlow?(e: { plan: string; requestId: string; elapsedMs: number; rpoMs: number; finished: boolean }): void;
  drTest?(e: { plan: string; scheduledFor: string; outcome: 'started' | 'skipped' | 'missed' | 'succeeded' | 'failed'; detail: string; runId?: string }): void;
  runResumed?(e: { runId: string; kind: string; plan: string; previousOwner: string; outcome: string; error?: string }): void;
}

export interface SchedulerOptions {
  repo: CatalogRepo;
  /** The daemon's ID: the owner of the runs it starts. */
  owner: string;
  settings: SchedulerSettings;
  /** Only the leader schedules (the elector's isLeader). */
  isLeader: () => boolean;
  runCycle: RunCycle;
  resumeRun: ResumeRun;
  /** Default: the registered one (registerDrTestStarter), looked up when a test is due. */
  drTest?: DrTestStarter;
  clock?: Clock;
  logger?: Logger;
  observer?: SchedulerObserver;
}

interface Job {
  key: string;
  kind: JobKind;
  plan: string;
  runId?: string;
  requestId: string;
  startedAt: number;
  /** Monotonic start (elapsed times: a wall-clock step does not make a cycle "slow"). */
  startedMono: number;
  controller: AbortController;
  done: Promise<void>;
  rpoMs?: number;
  slowReported: boolean;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));
const CLI_QUIET_MS = 3_600_000;

export class Scheduler {
  private readonly repo: CatalogRepo;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly settings: SchedulerSettings;
  private readonly loop: Loop;
  private readonly jobs = new Map<string, Job>();
  private readonly requested = new Map<string, string>();
  private readonly attempted = new Set<string>();
  private readonly warnedOnce = new Set<string>();
  private readonly fired = new Map<string, number>();
  private readonly crons = new Map<string, Cron>();
  private readonly dueAt = new Map<string, number>();
  private startedAt: number;
  private stopping = false;

  constructor(private readonly o: SchedulerOptions) {
    this.repo = o.repo;
    this.settings = o.settings;
    this.clock = o.clock ?? systemClock;
    this.log = (o.logger ?? silentLogger).child({ logger: 'ferry.daemon.scheduler' });
    this.startedAt = this.clock.now();
    this.loop = new Loop('scheduler', this.clock, o.settings.tickMs, () => this.tick(), this.log);
    for (const [plan, expr] of Object.entries(o.settings.drtest.schedules)) {
      this.crons.set(plan, new Cron(expr, { timezone: o.settings.drtest.timezone, paused: true }));
    }
  }

  start(): void {
    this.startedAt = this.clock.now();
    if (this.settings.enabled) this.loop.start();
  }

  /** Runs a tick soon (after becoming leader). */
  kick(): void {
    this.loop.kick();
  }

  /** One round: resume what dead daemons left, start due cycles and DR tests, flag slow cycles. */
  async tick(): Promise<void> {
    if (this.stopping || !this.settings.enabled || !this.o.isLeader()) return;
    for (const [what, step] of [
      ['resuming runs', () => this.resumeOrphans()],
      ['scheduling cycles', () => this.scheduleCycles()],
      ['scheduling DR tests', () => this.scheduleDrTests()],
    ] as const) {
      try {
        await step();
      } catch (err) {
        this.log.error(`scheduler: ${what} failed: ${messageOf(err)} (tried again next tick)`);
      }
    }
    this.checkSlow();
  }

  /** The work under way. */
  running(): JobInfo[] {
    const now = monotonicNow(this.clock);
    return [...this.jobs.values()].map((j) => ({
      key: j.key,
      kind: j.kind,
      plan: j.plan,
      ...(j.runId ? { runId: j.runId } : {}),
      requestId: j.requestId,
      startedAt: new Date(j.startedAt).toISOString(),
      elapsedMs: now - j.startedMono,
    }));
  }

  /** When each plan's next cycle is due, as of the last tick; and each scheduled DR test's next time. */
  schedule(): { cycles: { plan: string; dueAt: string }[]; drTests: { plan: string; cron: string; next: string | undefined }[] } {
    const now = new Date(this.clock.now());
    return {
      cycles: [...this.dueAt].map(([plan, at]) => ({ plan, dueAt: new Date(at).toISOString() })).sort((a, b) => a.plan.localeCompare(b.plan)),
      drTests: [...this.crons].map(([plan, c]) => ({ plan, cron: this.settings.drtest.schedules[plan]!, next: c.nextRun(now)?.toISOString() })),
    };
  }

  /**
   * Starts a cycle of the plan now, whatever its due time (the API's `replicate`): under the
   * same guard as scheduled cycles, so never two of one plan. Undefined when one runs already
   * or the scheduler is stopping. The caller checks leadership (only the leader starts work).
   */
  startCycle(plan: Plan, reason: string, hooks: CycleHooks = {}): JobInfo | undefined {
    return this.launchCycle(plan, reason, hooks);
  }

  /** Asks for a cycle of the plan at the next tick, whatever its due time. */
  requestCycle(plan: string, reason: string): void {
    this.requested.set(plan, reason);
  }

  /**
   * Runs `work` in the background under the in-process guard `key` (refused, returning
   * undefined, while a job with that key runs). Aborted when the daemon stops or loses the lease.
   */
  launch(key: string, info: { kind: JobKind; plan: string; runId?: string; rpoMs?: number }, work: (ctx: WorkContext & { requestId: string }) => Promise<void>): JobInfo | undefined {
    if (this.jobs.has(key) || this.stopping) return undefined;
    const requestId = `req-${randomUUID()}`;
    const controller = new AbortController();
    const logger = this.log.child({ requestId, logger: 'ferry.daemon', ...(info.runId ? { run: info.runId } : {}) });
    const job: Job = { key, ...info, requestId, startedAt: this.clock.now(), startedMono: monotonicNow(this.clock), controller, done: Promise.resolve(), slowReported: false };
    this.jobs.set(key, job);
    job.done = (async () => {
      try {
        await work({ owner: this.o.owner, signal: controller.signal, logger, requestId });
      } catch (err) {
        logger.error(`${key}: ${messageOf(err)}`);
      } finally {
        this.jobs.delete(key);
      }
    })();
    return this.running().find((j) => j.key === key);
  }

  /** Aborts everything under way (the lease was lost): each stops at its next journal boundary. */
  abortAll(reason: string): void {
    for (const j of this.jobs.values()) j.controller.abort(new Error(reason));
    this.attempted.clear();
    this.requested.clear();
  }

  /** Stops ticking, aborts the work and waits for it up to `timeoutMs`; returns the keys still running. */
  async stop(timeoutMs: number): Promise<string[]> {
    this.stopping = true;
    await this.loop.stop();
    this.abortAll('the daemon is stopping');
    let timer: TimerHandle | undefined;
    await Promise.race([
      Promise.all([...this.jobs.values()].map((j) => j.done)),
      new Promise<void>((resolve) => {
        timer = this.clock.setTimeout(resolve, timeoutMs);
      }),
    ]);
    if (timer !== undefined) this.clock.clearTimeout(timer);
    for (const c of this.crons.values()) c.stop();
    return [...this.jobs.keys()];
  }

  // ---- runs left behind ------------------------------------------------------------------

  private drives(r: Run): boolean {
    return this.jobs.has(`run:${r.id}`) || this.jobs.has(`${r.kind}:${r.planName}`);
  }

  /** Runs of daemons that are not leader any more (or ours, undriven): continue them. */
  async resumeOrphans(): Promise<void> {
    const runs = await this.repo.runs.list({ status: ['running', 'pending'] });
    for (const r of runs) {
      if (!r.owner.startsWith(DAEMON_OWNER_PREFIX) || this.attempted.has(r.id) || this.drives(r)) continue;
      this.attempted.add(r.id);
      const who = r.owner === this.o.owner ? 'this daemon before it lost the lease' : r.owner;
      if (r.kind === 'replicate') {
        this.log.info(`replicate run ${r.id} of plan ${r.planName} was left ${r.status} by ${who}: the plan's next cycle resumes it now`, { run: r.id });
        this.requestCycle(r.planName, `resume run ${r.id}`);
        this.o.observer?.runResumed?.({ runId: r.id, kind: r.kind, plan: r.planName, previousOwner: r.owner, outcome: 'cycle requested' });
        continue;
      }
      this.launch(`run:${r.id}`, { kind: 'resume', plan: r.planName, runId: r.id }, async (ctx) => {
        ctx.logger.info(`resuming ${r.kind} run ${r.id} of plan ${r.planName} from its journal (left ${r.status} by ${who})`);
        try {
          const outcome = await this.o.resumeRun(r.id, ctx);
          ctx.logger.info(`${r.kind} run ${r.id} of plan ${r.planName}: ${outcome.status}`);
          this.o.observer?.runResumed?.({ runId: r.id, kind: r.kind, plan: r.planName, previousOwner: r.owner, outcome: outcome.status });
        } catch (err) {
          ctx.logger.warn(`${r.kind} run ${r.id} of plan ${r.planName} could not be resumed: ${messageOf(err)} (it stays ${r.status}; ferry resume ${r.id} continues it by hand)`);
          this.o.observer?.runResumed?.({ runId: r.id, kind: r.kind, plan: r.planName, previousOwner: r.owner, outcome: 'error', error: messageOf(err) });
        }
      });
    }
  }

  // ---- replication cycles -------------------------------------------------------------------

  private cyclesRunning(): number {
    return [...this.jobs.values()].filter((j) => j.kind === 'replicate').length;
  }

  private async scheduleCycles(): Promise<void> {
    const now = this.clock.now();
    const plans = await this.repo.plans.list();
    for (const plan of [...this.dueAt.keys()]) if (!plans.some((p) => p.name === plan)) this.dueAt.delete(plan);
    const candidates: { plan: Plan; due: number; reason: string }[] = [];
    for (const plan of plans) {
      if (this.jobs.has(`replicate:${plan.name}`)) continue;
      const [newest, runs] = await Promise.all([this.repo.points.latestComplete(plan.name), this.repo.runs.list({ planName: plan.name, kind: 'replicate', limit: 10 })]);
      const due = cycleDueAt({
        rpoMs: plan.rpoMs,
        newestCompleteAt: newest?.createdAt,
        recentRuns: runs,
        jitterMs: planJitterMs(plan.name, plan.rpoMs, this.settings.maxJitterMs),
        startedAt: this.startedAt,
        failureBackoffMs: this.settings.failureBackoffMs,
        maxFailureBackoffMs: this.settings.maxFailureBackoffMs,
        now,
      });
      this.dueAt.set(plan.name, due);
      const forced = this.requested.get(plan.name);
      if (forced === undefined && due > now) continue;
      if (!(await this.mayTakeOver(plan, runs, now))) continue;
      candidates.push({ plan, due: forced === undefined ? due : -Infinity, reason: forced ?? (newest ? `due: newest complete point is ${formatDuration(now - newest.createdAt.getTime())} old, RPO ${formatDuration(plan.rpoMs)}` : 'due: no complete recovery point yet') });
    }
    candidates.sort((a, b) => a.due - b.due);
    for (const c of candidates) {
      if (this.cyclesRunning() >= this.settings.maxConcurrentCycles) {
        this.log.debug(`${candidates.length} cycle(s) due, ${this.settings.maxConcurrentCycles} running: the rest wait`);
        break;
      }
      this.requested.delete(c.plan.name);
      this.launchCycle(c.plan, c.reason);
    }
  }

  /** False while a replicate run of the plan is driven by an operator's CLI (see the decisions). */
  private async mayTakeOver(plan: Plan, runs: readonly Run[], now: number): Promise<boolean> {
    const foreign = runs.find((r) => r.status === 'running' && !r.owner.startsWith(DAEMON_OWNER_PREFIX));
    if (!foreign) return true;
    const last = await this.repo.journal.last(foreign.id);
    const quietMs = now - (last?.at ?? foreign.startedAt).getTime();
    const limit = Math.max(plan.rpoMs, CLI_QUIET_MS);
    if (quietMs >= limit) {
      this.log.warn(`replicate run ${foreign.id} of plan ${plan.name} (owner ${foreign.owner}) has journaled nothing for ${formatDuration(quietMs)}: taking it over`, { run: foreign.id });
      return true;
    }
    const key = `foreign:${foreign.id}`;
    if (!this.warnedOnce.has(key)) {
      this.warnedOnce.add(key);
      this.log.warn(
        `plan ${plan.name}: replicate run ${foreign.id} is driven by ${foreign.owner}, not a daemon: no cycle is started while it runs ` +
          `(taken over if its journal stays quiet for ${formatDuration(limit)})`,
        { run: foreign.id },
      );
    }
    return false;
  }

  private launchCycle(plan: Plan, reason: string, hooks: CycleHooks = {}): JobInfo | undefined {
    const rpoMs = plan.rpoMs;
    return this.launch(`replicate:${plan.name}`, { kind: 'replicate', plan: plan.name, rpoMs }, async (ctx) => {
      const log = ctx.logger.child({ plan: plan.name });
      const t0 = monotonicNow(this.clock);
      log.info(`replication cycle of plan ${plan.name} starting (${reason})`);
      this.o.observer?.cycleStarted?.({ plan: plan.name, requestId: ctx.requestId, reason });
      let result: CycleResult | undefined;
      let error: string | undefined;
      try {
        result = await this.o.runCycle(plan.name, { ...ctx, logger: log, epoch: plan.epoch, ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}) });
        const job = this.jobs.get(`replicate:${plan.name}`);
        if (job) job.runId = result.runId;
      } catch (err) {
        error = messageOf(err);
        log.error(`replication cycle of plan ${plan.name} failed: ${error}`);
      }
      const durationMs = monotonicNow(this.clock) - t0;
      const job = this.jobs.get(`replicate:${plan.name}`);
      if (durationMs > rpoMs / 2 && !ctx.signal.aborted) {
        log.warn(`replication cycle of plan ${plan.name} took ${formatDuration(durationMs)}, more than half its RPO (${formatDuration(rpoMs)}): the RPO cannot be held at this pace`);
        this.o.observer?.cycleSlow?.({ plan: plan.name, requestId: ctx.requestId, elapsedMs: durationMs, rpoMs, finished: true });
        if (job) job.slowReported = true;
      }
      this.o.observer?.cycleFinished?.({ plan: plan.name, requestId: ctx.requestId, durationMs, rpoMs, ...(result ? { result } : {}), ...(error ? { error } : {}) });
      hooks.onFinished?.({ ...(result ? { result } : {}), ...(error ? { error } : {}) });
    });
  }

  private checkSlow(): void {
    const now = monotonicNow(this.clock);
    for (const j of this.jobs.values()) {
      if (j.kind !== 'replicate' || j.rpoMs === undefined || j.slowReported) continue;
      const elapsed = now - j.startedMono;
      if (elapsed <= j.rpoMs / 2) continue;
      j.slowReported = true;
      this.log.warn(`replication cycle of plan ${j.plan} has run for ${formatDuration(elapsed)}, more than half its RPO (${formatDuration(j.rpoMs)}): the RPO is at risk`, {
        requestId: j.requestId,
        plan: j.plan,
      });
      this.o.observer?.cycleSlow?.({ plan: j.plan, requestId: j.requestId, elapsedMs: elapsed, rpoMs: j.rpoMs, finished: false });
    }
  }

  // ---- DR tests ------------------------------------------------------------------------------

  private async scheduleDrTests(): Promise<void> {
    if (!this.settings.drtest.enabled) return;
    const now = new Date(this.clock.now());
    for (const [plan, cron] of this.crons) {
      if (this.jobs.has(`drtest:${plan}`)) continue;
      const [last] = await this.repo.runs.list({ planName: plan, kind: 'drtest', limit: 1 });
      const due = drTestDue(cron, last?.startedAt, now, this.settings.drtest.misfireGraceMs);
      if (due.missed) {
        const key = `missed:${plan}:${due.missed.getTime()}`;
        // Only what was missed while this daemon ran: an old occurrence at start-up is history.
        if (due.missed.getTime() >= this.startedAt && !this.warnedOnce.has(key)) {
          this.warnedOnce.add(key);
          const detail = `scheduled DR test of plan ${plan} at ${due.missed.toISOString()} was missed by more than misfire_grace; skipped (next ${cron.nextRun(now)?.toISOString() ?? 'never'})`;
          this.log.warn(detail);
          this.o.observer?.drTest?.({ plan, scheduledFor: due.missed.toISOString(), outcome: 'missed', detail });
        }
        continue;
      }
      const occurrence = due.occurrence;
      if (!occurrence || this.fired.get(plan) === occurrence.getTime()) continue;
      this.fired.set(plan, occurrence.getTime());
      const when = occurrence.toISOString();
      const skip = (detail: string) => {
        this.log.warn(detail);
        this.o.observer?.drTest?.({ plan, scheduledFor: when, outcome: 'skipped', detail });
      };
      const row = await this.repo.plans.get(plan);
      if (!row) {
        skip(`scheduled DR test of plan ${plan} (${when}) skipped: the plan is not in the catalog (fix: ferry plan apply FILE, or remove it from [drtest_schedule])`);
        continue;
      }
      const starter = this.o.drTest ?? registeredDrTestStarter();
      if (!starter) {
        skip(`scheduled DR test of plan ${plan} (${when}) skipped: no DR test workflow is registered in this daemon`);
        continue;
      }
      this.launch(`drtest:${plan}`, { kind: 'drtest', plan }, async (ctx) => {
        ctx.logger.info(`scheduled DR test of plan ${plan} starting (${when})`);
        this.o.observer?.drTest?.({ plan, scheduledFor: when, outcome: 'started', detail: 'started' });
        try {
          const r = await starter({ ...ctx, plan, epoch: row.epoch, scheduledFor: occurrence });
          const ok = r.status === 'succeeded';
          const line = `scheduled DR test of plan ${plan}: ${r.status}${r.runId ? ` (run ${r.runId})` : ''}`;
          if (ok) ctx.logger.info(line);
          else ctx.logger.warn(line);
          this.o.observer?.drTest?.({ plan, scheduledFor: when, outcome: ok ? 'succeeded' : 'failed', detail: r.status, ...(r.runId ? { runId: r.runId } : {}) });
        } catch (err) {
          ctx.logger.error(`scheduled DR test of plan ${plan} failed: ${messageOf(err)}`);
          this.o.observer?.drTest?.({ plan, scheduledFor: when, outcome: 'failed', detail: messageOf(err) });
        }
      });
    }
  }
}
