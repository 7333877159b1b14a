// Protection status per plan (what `ferry status` and the daemon's metrics show), read from
// the catalog alone.
//
// Policy, in one place:
//  - Current RPO is the age of the newest COMPLETE recovery point (design.md): partial points
//    do not count, since some member data is missing from them.
//  - Cycles are due every RPO/2, counted from the newest complete point: if each cycle takes
//    less than RPO/2, the newest complete point is never older than the RPO (at worst RPO/2
//    waiting plus RPO/2 running). A failed or partial cycle does not move the schedule: the
//    next cycle stays due (the daemon adds its own backoff between failures).
import type { CatalogRepo, Plan, RecoveryPoint, Run } from '../catalog/repo.js';
import { CatalogNotFoundError } from '../catalog/repo.js';

export interface LastCycle {
  runId: string;
  /** complete, partial or failed for a finished cycle (the run's result); `running` while it runs. */
  status: string;
  startedAt: string;
  finishedAt?: string;
  /** Finished: its duration; running: how long it has run so far. */
  durationMs: number;
  /** Volume plus image bytes of the cycle (see CycleResult.bytes). */
  bytes: number;
  pointId?: string;
  error?: string;
}

export interface PlanStatus {
  plan: string;
  activeSite: string;
  /** Where the plan's points go now (the other site). */
  targetSite: string;
  epoch: number;
  rpoTargetMs: number;
  /** now - createdAt of the newest complete point; undefined when there is none. */
  currentRpoMs: number | undefined;
  rpoMet: boolean;
  /** createdAt of the newest complete point. */
  newestCompleteAt: string | undefined;
  /** The latest replicate run, if any. */
  lastCycle: LastCycle | undefined;
  /** ISO time the next cycle is due (newest complete point + rpo/2), undefined when due now. */
  nextCycleDueAt: string | undefined;
  /** Finished points (complete and partial). */
  points: number;
  pointsByStatus: { complete: number; partial: number; inProgress: number; deleting: number };
}

// ---- arithmetic (pure) ------------------------------------------------------------

/** How often cycles run for an RPO: half of it (see the policy above). */
export function cycleIntervalMs(rpoMs: number): number {
  return Math.floor(rpoMs / 2);
}

/** Age of the newest complete point (never negative), undefined without one. */
export function currentRpoMs(newestCompleteAt: Date | undefined, now: Date): number | undefined {
  return newestCompleteAt === undefined ? undefined : Math.max(0, now.getTime() - newestCompleteAt.getTime());
}

/** True when a complete point exists and is no older than the RPO. */
export function isRpoMet(current: number | undefined, rpoMs: number): boolean {
  return current !== undefined && current <= rpoMs;
}

/** When the next cycle is due; undefined when it is due now (no complete point, or overdue). */
export function nextCycleDue(newestCompleteAt: Date | undefined, rpoMs: number, now: Date): Date | undefined {
  if (newestCompleteAt === undefined) return undefined;
  const due = new Date(newestCompleteAt.getTime() + cycleIntervalMs(rpoMs));
  return due.getTime() > now.getTime() ? due : undefined;
}

/** A replicate run as a status line: its result when finished, its progress while running. */
export function lastCycleOf(run: Run, now: Date): LastCycle {
  const r = (run.result ?? {}) as { status?: unknown; durationMs?: unknown; bytes?: { volumes?: unknown; images?: unknown }; pointId?: unknown; error?: unknown };
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const end = run.finishedAt ?? now;
  const out: LastCycle = {
    runId: run.id,
    status: run.status === 'running' || run.status === 'pending' ? run.status : typeof r.status === 'string' ? r.status : run.status,
    startedAt: run.startedAt.toISOString(),
    durationMs: run.finishedAt && typeof r.durationMs === 'number' ? r.durationMs : Math.max(0, end.getTime() - run.startedAt.getTime()),
    bytes: num(r.bytes?.volumes) + num(r.bytes?.images),
  };
  if (run.finishedAt) out.finishedAt = run.finishedAt.toISOString();
  if (typeof r.pointId === 'string') out.pointId = r.pointId;
  if (typeof r.error === 'string') out.error = r.error;
  return out;
}

/** The status of one plan from its catalog rows (pure). */
export function statusOf(plan: Plan, points: readonly RecoveryPoint[], lastRun: Run | undefined, now: Date): PlanStatus {
  const newest = points.filter((p) => p.status === 'complete').sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
  const current = currentRpoMs(newest?.createdAt, now);
  const due = nextCycleDue(newest?.createdAt, plan.rpoMs, now);
  const n = (s: RecoveryPoint['status']) => points.filter((p) => p.status === s).length;
  return {
    plan: plan.name,
    activeSite: plan.activeSite,
    targetSite: plan.activeSite === plan.primarySite ? plan.secondarySite : plan.primarySite,
    epoch: plan.epoch,
    rpoTargetMs: plan.rpoMs,
    currentRpoMs: current,
    rpoMet: isRpoMet(current, plan.rpoMs),
    newestCompleteAt: newest?.createdAt.toISOString(),
    lastCycle: lastRun ? lastCycleOf(lastRun, now) : undefined,
    nextCycleDueAt: due?.toISOString(),
    points: n('complete') + n('partial'),
    pointsByStatus: { complete: n('complete'), partial: n('partial'), inProgress: n('in-progress'), deleting: n('deleting') },
  };
}

// ---- reads -------------------------------------------------------------------------

async function statusOfPlan(repo: CatalogRepo, plan: Plan, now: Date): Promise<PlanStatus> {
  const [points, runs] = await Promise.all([repo.points.list(plan.name), repo.runs.list({ planName: plan.name, kind: 'replicate', limit: 1 })]);
  return statusOf(plan, points, runs[0], now);
}

/** The status of one live plan; CatalogNotFoundError when it does not exist. */
export async function planStatus(repo: CatalogRepo, planName: string, now: Date): Promise<PlanStatus> {
  const plan = await repo.plans.get(planName);
  if (!plan) throw new CatalogNotFoundError('plan', planName, 'is not in the catalog (fix: ferry plan apply FILE)');
  return statusOfPlan(repo, plan, now);
}

/** The status of every live plan, by name. */
export async function allStatus(repo: CatalogRepo, now: Date): Promise<PlanStatus[]> {
  const plans = await repo.plans.list();
  return Promise.all(plans.map((p) => statusOfPlan(repo, p, now)));
}
