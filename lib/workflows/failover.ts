// `ferry failover PLAN`: bring a plan's workload up at its secondary from a recovery point.
//
//   planned    the primary answers: stop its member servers, take a final replication cycle
//              (RPO 0), then recover from that point, and fence the stopped servers.
//   unplanned  the primary is gone: it is not touched; recover from the newest complete point
//              (or --point). Its servers are fenced when it comes back (fence.ts).
//
// A failover is one or two engine runs of kind `failover` (docs/workflows.md):
//   prepare (planned only, at the plan's epoch)   stop-primary, final-sync
//   recover (raises the epoch, secondary active)  point, guard, activate, stack, check[, fence-primary]
// The preparation cannot live in the recovery run: the recovery raises the plan's epoch with
// the secondary active before its run exists (startRun raiseEpoch), and a replication cycle
// always runs from the plan's active site, so the final cycle must end before the raise. Each
// run is resumable (`ferry resume RUN`), and `ferry failover PLAN` run again continues a
// failover that stopped: it resumes its unfinished run, or starts the recovery after a
// finished preparation. A failed preparation restarts the servers it stopped (nothing was
// raised, the plan still runs at the primary); a failed recovery deletes the stack it made and
// leaves the plan active at the secondary, where `ferry failover --unplanned` tries again.
//
// Decisions:
//  - Mode: --planned or --unplanned; without either, the primary is probed (a token and one
//    server listing, no retries): planned when it answers, unplanned when not.
//  - Pre-flight before anything changes: the point, the generated stack and the secondary's
//    quota are checked before the primary is stopped and before the epoch is raised.
//  - Tiers: pilot-light and backup create the stack (servers from restored volumes). Warm
//    standby updates the standby stack (ferry-<plan>-standby, made by mode standby) to the
//    production environment with the newest point's parameters: Heat adds the servers and
//    restores each volume into the existing one. When no standby stack exists, a warm-standby
//    plan fails over like pilot-light (a warning says so).
//  - --dry-run observes every step of both runs and changes nothing: a Terraform-like plan,
//    then the resources the stack makes at the secondary (by kind and name) and the servers
//    stopped at the primary.
import type { CatalogRepo, JsonObject, Plan, Run } from '../catalog/repo.js';
import { CatalogNotFoundError } from '../catalog/repo.js';
import { FerryError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { GeneratedStack } from '../heat/generate.js';
import type { Site } from '../openstack/site.js';
import { runReplicationCycle, type CycleResult } from './replicate.js';
import {
  type RecoveryCommandOptions,
  activateStep,
  checkStep,
  choosePoint,
  countsText,
  findStandby,
  guardStep,
  planOf,
  pointStep,
  protectionPlanOf,
  QuotaError,
  quotaShortfalls,
  RecoveryCache,
  resourceCounts,
  siteTarget,
  stackStep,
  type RecoveryEnv,
  type RecoveryEvent,
  type RecoveryParams,
  type RecoveryState,
  type RecoveryTarget,
} from './recover.js';
import { fenceStep, fenceWorkflow, siteMembers, type MembersSite } from './fence.js';
import {
  engineOptionsOf,
  finishedOutcome,
  defineWorkflow,
  planWorkflow,
  renderPlan,
  resumeRun,
  startRun,
  TerminalStepError,
  type PlannedStep,
  type RunOutcome,
  type Step,
  type StepContext,
  type Workflow,
  type WorkflowFactory,
  workflowRegistration,
} from './engine.js';

// ---- types ----------------------------------------------------------------

export type FailoverMode = 'planned' | 'unplanned';
export type FailoverPhase = 'prepare' | 'recover' | 'fence';

/** A failover run's params (JSON in the catalog). */
export interface FailoverParams extends RecoveryParams {
  phase: FailoverPhase;
  planned: boolean;
  /** The preparation run a recovery continues. */
  prepareRunId?: string;
  /** Fence runs: the site fenced. */
  site?: string;
}

/** The state of a failover run (both phases). */
export interface FailoverState extends RecoveryState {
  /** prepare: the primary's members that were running when the failover started. */
  wasRunning?: string[];
  /** prepare: when every member was seen stopped. */
  writesStoppedAt?: string;
  /** prepare: the final cycle's run and point. */
  finalCycleRunId?: string;
  finalPointId?: string;
  fenced?: JsonObject;
}

/** What the failover steps do at the sites; depsFromSites() does it with OpenStack. */
export interface FailoverDeps {
  target: (cloud: string) => RecoveryTarget;
  members: (cloud: string) => MembersSite;
  /** The final replication cycle (runReplicationCycle fits). */
  runCycle: (planName: string, o: { epoch: number; signal: AbortSignal; logger: Logger }) => Promise<Pick<CycleResult, 'runId' | 'pointId' | 'status' | 'error'>>;
  logger?: Logger;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  guardTimeoutMs?: number;
  guardPollMs?: number;
}

export interface DepsOptions {
  logger?: Logger;
  onStackEvent?: (e: RecoveryEvent) => void;
  owner?: string;
  /** Watch settings for the stack (poll interval, attach grace). */
  pollIntervalMs?: number;
  attachGraceMs?: number;
}

/** The failover's side effects at real sites. */
export function depsFromSites(sites: (cloud: string) => Site, repo: CatalogRepo, opts: DepsOptions = {}): FailoverDeps {
  const logger = opts.logger ?? silentLogger;
  const watch = { ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}), ...(opts.attachGraceMs !== undefined ? { attachGraceMs: opts.attachGraceMs } : {}) };
  return {
    target: (cloud) => siteTarget(sites(cloud), { logger, watch, ...(opts.onStackEvent ? { onEvent: opts.onStackEvent } : {}) }),
    members: (cloud) => siteMembers(sites(cloud), { logger }),
    runCycle: (planName, o) => runReplicationCycle(planName, { repo, sites, owner: opts.owner ?? 'ferry-failover', epoch: o.epoch, signal: o.signal, logger: o.logger }),
    logger,
  };
}

/** The standby stack a warm-standby plan keeps at its secondary (generate.ts names it so for mode standby). */
export function standbyStackName(planName: string): string {
  return `ferry-${planName}-standby`;
}

// ---- the steps ----------------------------------------------------------------

type Ctx = StepContext<FailoverState>;


/** Where the stop step stops servers: the primary (failover) or the active secondary (failback). */
export interface StopSite {
  name: string;
  describe: string;
  siteOf: (plan: Plan) => string;
}

const AT_PRIMARY: StopSite = { name: 'stop-primary', describe: "stop the plan's servers at the primary (os-stop), so no write is lost after the final cycle", siteOf: (plan) => plan.primarySite };

/** `stop-primary`: every member at the site stopped; which were running is kept for a rollback. */
export function stopServersStep(deps: FailoverDeps, where: StopSite = AT_PRIMARY): Step<FailoverState> {
  const look = async (ctx: Ctx) => {
    const plan = await planOf(ctx);
    const site = where.siteOf(plan);
    const m = deps.members(site);
    return { plan, site, m, list: await m.members(plan, ctx.signal) };
  };
  return {
    name: where.name,
    describe: where.describe,
    action: 'update',
    retry: { attempts: 10, backoffMs: 3_000, factor: 1.5, maxBackoffMs: 20_000 },
    async observe(ctx) {
      const { plan, site, list } = await look(ctx);
      if (list.length === 0) throw new TerminalStepError(`plan '${plan.name}' selects no servers at ${site} (fix: check members: in the plan, then ferry plan apply FILE)`);
      const running = list.filter((s) => s.status === 'ACTIVE');
      // The first look decides what a rollback restarts; a resumed run keeps it.
      ctx.state.wasRunning ??= running.map((s) => s.id);
      return {
        done: running.length === 0,
        summary: running.length === 0 ? `${list.length} server(s) at ${site}, none running` : `${running.length} of ${list.length} server(s) at ${site} to stop: ${running.slice(0, 10).map((s) => s.name).join(', ')}${running.length > 10 ? ', ...' : ''}`,
        detail: { site, servers: list.slice(0, ctx.dryRun ? 10_000 : 50).map((s) => ({ id: s.id, name: s.name, status: s.status })) },
      };
    },
    async act(ctx) {
      const { m, list } = await look(ctx);
      const running = list.filter((s) => s.status === 'ACTIVE');
      for (const s of running) await m.stop(s.id, ctx.signal);
      return { stopped: running.map((s) => s.id) };
    },
    async verify(ctx) {
      const { site, list } = await look(ctx);
      const still = list.filter((s) => s.status !== 'SHUTOFF' && s.status !== 'ERROR' && s.status !== 'SHELVED' && s.status !== 'SHELVED_OFFLOADED');
      if (still.length > 0) return { ok: false, reason: `${still.length} server(s) at ${site} not stopped yet: ${still.slice(0, 5).map((s) => `${s.name} ${s.status}`).join(', ')}` };
      ctx.state.writesStoppedAt ??= ctx.now().toISOString();
      return { ok: true, detail: { stopped: list.length } };
    },
    async compensate(ctx) {
      // The failover did not happen (nothing was raised): the site runs again as it was.
      const { m, list } = await look(ctx);
      const restart = list.filter((s) => (ctx.state.wasRunning ?? []).includes(s.id) && s.status === 'SHUTOFF');
      for (const s of restart) await m.start(s.id, ctx.signal);
      return { started: restart.map((s) => s.id) };
    },
  };
}

/** `final-sync`: one more replication cycle after the stop: the point the failover restores (RPO 0). */
export function finalSyncStep(deps: FailoverDeps): Step<FailoverState> {
  const finalPoint = async (ctx: Ctx) => {
    const stopped = ctx.state.writesStoppedAt ? Date.parse(ctx.state.writesStoppedAt) : undefined;
    if (ctx.state.finalPointId) {
      const p = await ctx.repo.points.get(ctx.state.finalPointId);
      if (p?.status === 'complete') return p;
    }
    // A cycle that finished after the stop (the process died before journaling it) counts.
    const newest = await ctx.repo.points.latestComplete(ctx.run.planName);
    return newest && stopped !== undefined && newest.createdAt.getTime() >= stopped ? newest : undefined;
  };
  return {
    name: 'final-sync',
    describe: 'take a final replication cycle from the stopped primary: the recovery point the failover restores',
    action: 'create',
    retry: { attempts: 2, backoffMs: 10_000 },
    async observe(ctx) {
      const p = await finalPoint(ctx);
      if (p) ctx.state.finalPointId = p.id;
      return { done: p !== undefined, summary: p ? `point ${p.id} taken after the stop` : 'no point taken after the stop yet' };
    },
    async act(ctx) {
      const plan = await planOf(ctx);
      const stopped = ctx.state.writesStoppedAt ? Date.parse(ctx.state.writesStoppedAt) : 0;
      // Twice at most: the first call may finish a cycle a dead process started before the stop.
      for (let round = 1; round <= 2; round++) {
        const r = await deps.runCycle(plan.name, { epoch: ctx.run.epoch, signal: ctx.signal, logger: ctx.logger });
        ctx.state.finalCycleRunId = r.runId;
        if (r.status !== 'complete' || !r.pointId) throw new Error(`the final replication cycle (run ${r.runId}) ended ${r.status}${r.error ? `: ${r.error}` : ''}`);
        const p = await ctx.repo.points.get(r.pointId);
        if (p && p.createdAt.getTime() >= stopped) {
          ctx.state.finalPointId = p.id;
          return { pointId: p.id, cycleRunId: r.runId };
        }
        ctx.logger.info(`cycle ${r.runId} made point ${r.pointId}, taken before the primary stopped; taking another`);
      }
      throw new Error('no replication cycle produced a point taken after the primary stopped');
    },
    async verify(ctx) {
      const p = await finalPoint(ctx);
      return p ? { ok: true, detail: { pointId: p.id } } : { ok: false, reason: 'the final point is not complete' };
    },
  };
}

/** The recovering site of a failover: the plan's secondary. */
const secondaryOf = (plan: Plan) => plan.secondarySite;

function recoveryEnv(deps: FailoverDeps): RecoveryEnv {
  return {
    mode: 'failover',
    siteOf: secondaryOf,
    target: deps.target,
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    ...(deps.guardTimeoutMs !== undefined ? { guardTimeoutMs: deps.guardTimeoutMs } : {}),
    ...(deps.guardPollMs !== undefined ? { guardPollMs: deps.guardPollMs } : {}),
    standbyStackName: (plan) => (plan.tier === 'warm-standby' ? standbyStackName(plan.name) : undefined),
  };
}

/** The workflow of one failover run, by its phase. */
export function failoverWorkflow(params: Pick<FailoverParams, 'phase' | 'planned'>, deps: FailoverDeps): Workflow<FailoverState> {
  if (params.phase === 'prepare') return defineWorkflow<FailoverState>('failover', [stopServersStep(deps), finalSyncStep(deps)]);
  if (params.phase === 'fence') return fenceWorkflow(deps.members) as unknown as Workflow<FailoverState>;
  const env = recoveryEnv(deps);
  const cache = new RecoveryCache();
  const steps = [pointStep(env), guardStep(env, cache), activateStep(env), stackStep(env, cache), checkStep(env, cache)] as unknown as Step<FailoverState>[];
  if (params.planned) {
    steps.push(
      fenceStep('fence-primary', deps.members, (plan) => plan.primarySite, "tag and lock the primary's stopped servers (fencing), so they never run beside the recovered ones") as unknown as Step<FailoverState>,
    );
  }
  return defineWorkflow<FailoverState>('failover', steps);
}

/** Rebuilds the workflow of a failover run being resumed (prepare, recover or fence, from its params). */
export const failoverFactory: WorkflowFactory = (run, env) => failoverWorkflow(phaseOf(run), depsFromSites(env.sites, env.repo, { logger: env.logger })) as unknown as Workflow<object>;

/** The failover kind's registration for `ferry resume`; tests that register their own step it aside. */
export const failoverRegistration = workflowRegistration('failover', failoverFactory);

// Resumable with `ferry resume RUN` (lib/cli/runs.ts imports this module).
failoverRegistration.register();

function phaseOf(run: Pick<Run, 'params'>): Pick<FailoverParams, 'phase' | 'planned'> {
  const p = (run.params ?? {}) as Partial<FailoverParams>;
  return { phase: p.phase === 'prepare' || p.phase === 'fence' ? p.phase : 'recover', planned: p.planned === true };
}

// ---- the command ----------------------------------------------------------------------

export class FailoverRefusedError extends FerryError {
  override readonly name: string = 'FailoverRefusedError';
}

export interface FailoverOptions extends RecoveryCommandOptions<FailoverDeps> {
  /** Default: planned when the primary answers, unplanned when not. */
  mode?: FailoverMode;
  /** Recover this point (unplanned only; a planned failover restores its final point). */
  pointId?: string;
  /** Allow a partial point. */
  force?: boolean;
}

export interface FailoverOutcome {
  status: 'succeeded' | 'failed' | 'interrupted';
  mode: FailoverMode;
  planName: string;
  /** The preparation run (planned). */
  prepare?: RunOutcome;
  /** The recovery run. */
  recover?: RunOutcome;
  /** The run to resume when interrupted, or to look at. */
  runId: string;
  pointId?: string;
  stackName?: string;
  stackId?: string;
  rtoMs?: number;
  rpoMs?: number;
  servers?: { id: string; name: string; status: string }[];
  serverCount?: number;
  error?: string;
}

export const DEFAULT_STACK_TIMEOUT_MINS = 60;

function depsOf(opts: FailoverOptions): FailoverDeps {
  const base = depsFromSites(opts.sites, opts.repo, { ...(opts.logger ? { logger: opts.logger } : {}), ...(opts.onStackEvent ? { onStackEvent: opts.onStackEvent } : {}), owner: opts.owner });
  return { ...base, ...(opts.sleep ? { sleep: opts.sleep } : {}), ...opts.deps };
}


/** The failover runs of the plan still to finish or continue, at its current epoch. */
async function pendingWork(repo: CatalogRepo, plan: Plan): Promise<{ running?: Run; preparedBy?: Run }> {
  const runs = await repo.runs.list({ planName: plan.name, kind: 'failover', limit: 50 });
  const mine = runs.filter((r) => r.epoch === plan.epoch && ['prepare', 'recover'].includes(phaseOf(r).phase));
  const running = mine.find((r) => r.status === 'running' || r.status === 'pending');
  if (running) return { running };
  const prepared = mine.find((r) => phaseOf(r).phase === 'prepare' && r.status === 'succeeded');
  if (prepared && !runs.some((r) => phaseOf(r).phase === 'recover' && (r.params as Partial<FailoverParams> | null)?.prepareRunId === prepared.id)) return { preparedBy: prepared };
  return {};
}

async function decideMode(opts: FailoverOptions, plan: Plan, deps: FailoverDeps): Promise<FailoverMode> {
  // Unplanned never touches the primary, not even to look.
  if (opts.mode === 'unplanned') return 'unplanned';
  const why = await deps.members(plan.primarySite).unreachable(opts.signal);
  if (opts.mode === 'planned' && why !== undefined) {
    throw new FailoverRefusedError(`a planned failover stops the primary's servers first, but ${plan.primarySite} does not answer (${why}); nothing was changed (fix: ferry failover ${plan.name} --unplanned)`);
  }
  if (opts.mode) return opts.mode;
  const mode: FailoverMode = why === undefined ? 'planned' : 'unplanned';
  opts.onNote?.(
    mode === 'planned'
      ? `the primary ${plan.primarySite} answers: planned failover (its servers are stopped, a final cycle is taken, RPO 0); use --unplanned to leave it alone`
      : `the primary ${plan.primarySite} does not answer (${why}): unplanned failover from the newest complete point`,
  );
  return mode;
}

/**
 * Checks, before anything changes, that the point can be recovered at the secondary: it is
 * chosen and verified, the stack is generated there, and the quota has room for it.
 */
async function preflight(opts: FailoverOptions, plan: Plan, deps: FailoverDeps): Promise<void> {
  const site = plan.secondarySite;
  const { manifest } = await choosePoint(opts.repo, plan.name, { ...(opts.pointId ? { pointId: opts.pointId } : {}), force: opts.force === true, site });
  const target = deps.target(site);
  const g = await target.generate(manifest, protectionPlanOf(plan), 'failover', 'preflight', opts.signal);
  for (const w of g.warnings) opts.logger?.warn(`generation: ${w.message}`);
  // The stack step's own check (findStandby): what pre-flight expects is what the stack step does.
  const standby = await findStandby(target, plan.name, recoveryEnv(deps).standbyStackName?.(plan), opts.signal);
  if (plan.tier === 'warm-standby' && !standby) {
    opts.onNote?.(`plan ${plan.name} is warm-standby but ${site} has no standby stack ${standbyStackName(plan.name)}: failing over like pilot-light (the whole stack is created now)`);
  } else if (standby && standby.phase !== 'complete') {
    opts.onNote?.(`the standby stack ${standby.summary!.stack_name} at ${site} is ${standby.summary!.stack_status}: the failover updates it to full capacity all the same (Heat makes what is missing)`);
  }
  const { room } = await target.quotaRoom(opts.signal);
  const demand = standby ? { ...g.demand, volumes: 0, volumeGiB: 0, ports: 0, networks: 0, subnets: 0, securityGroups: 0, securityGroupRules: 0, keypairs: 0, serverGroups: 0 } : g.demand;
  const short = quotaShortfalls(demand, room);
  if (short.length > 0) throw new QuotaError(site, short);
}


function outcomeOf(mode: FailoverMode, planName: string, prepare: RunOutcome | undefined, recover: RunOutcome | undefined): FailoverOutcome {
  const last = (recover ?? prepare)!;
  const s = (recover?.result.state ?? {}) as FailoverState;
  const o: FailoverOutcome = { status: last.status, mode, planName, runId: last.run.id, ...(prepare ? { prepare } : {}), ...(recover ? { recover } : {}) };
  if (s.pointId) o.pointId = s.pointId;
  if (s.stackName) o.stackName = s.stackName;
  if (s.stackId) o.stackId = s.stackId;
  if (typeof s.rtoMs === 'number') o.rtoMs = s.rtoMs;
  if (typeof s.rpoMs === 'number') o.rpoMs = s.rpoMs;
  if (Array.isArray(s.servers)) o.servers = s.servers as unknown as FailoverOutcome['servers'];
  if (typeof s.serverCount === 'number') o.serverCount = s.serverCount;
  if (last.result.error) o.error = last.result.error;
  return o;
}

/**
 * Fails the plan over to its secondary (see the top of this file). Resumes the plan's
 * unfinished failover first when there is one. Throws FailoverRefusedError (nothing changed)
 * for a plan already running at its secondary, a planned failover of an unreachable primary,
 * and QuotaError or RecoveryPointError from the pre-flight.
 */
export async function failover(planName: string, opts: FailoverOptions): Promise<FailoverOutcome> {
  const { repo } = opts;
  const now = opts.now ?? (() => new Date());
  const commandStartedAt = now().toISOString();
  const deps = depsOf(opts);
  const engine = engineOptionsOf(opts);
  let plan = await repo.plans.get(planName);
  if (!plan) throw new CatalogNotFoundError('plan', planName, 'is not in the catalog (fix: ferry plan apply FILE, or ferry catalog rebuild --from SECONDARY)');

  // A failover that stopped half-way is continued, not started again.
  const pending = await pendingWork(repo, plan);
  let prepare: RunOutcome | undefined;
  if (pending.running) {
    const run = pending.running;
    const phase = phaseOf(run);
    const mode: FailoverMode = phase.planned ? 'planned' : 'unplanned';
    opts.onNote?.(`continuing the ${mode} failover of plan ${plan.name}: resuming its ${phase.phase} run ${run.id}`);
    const out = await resumeRun(repo, failoverWorkflow(phase, deps), run.id, engine);
    if (phase.phase === 'recover') {
      const prepId = (run.params as Partial<FailoverParams> | null)?.prepareRunId;
      const prep = prepId ? await repo.runs.get(prepId) : undefined;
      return outcomeOf(mode, plan.name, prep ? finishedOutcome(prep) : undefined, out);
    }
    if (out.status !== 'succeeded') return outcomeOf(mode, plan.name, out, undefined);
    prepare = out;
  } else if (pending.preparedBy) {
    opts.onNote?.(`continuing the planned failover of plan ${plan.name}: its preparation ${pending.preparedBy.id} finished; recovering its final point`);
    prepare = finishedOutcome(pending.preparedBy);
  }

  let mode: FailoverMode;
  if (prepare) {
    mode = 'planned';
  } else {
    const done = (await repo.runs.list({ planName: plan.name, kind: 'failover', status: 'succeeded', limit: 20 })).find((r) => r.epoch === plan!.epoch && phaseOf(r).phase === 'recover');
    if (plan.activeSite !== plan.primarySite && done) {
      throw new FailoverRefusedError(`plan '${plan.name}' already runs at ${plan.activeSite}: failover run ${done.id} recovered it at epoch ${plan.epoch}; nothing was changed (fix: ferry failback ${plan.name} to come back)`);
    }
    if (plan.activeSite !== plan.primarySite && opts.mode === 'planned') {
      throw new FailoverRefusedError(`plan '${plan.name}' is already active at ${plan.activeSite} (a failover that did not finish raised its epoch): a planned failover would replicate the wrong way; nothing was changed (fix: ferry failover ${plan.name} --unplanned to recover again)`);
    }
    mode = plan.activeSite !== plan.primarySite ? 'unplanned' : await decideMode(opts, plan, deps);
    if (mode === 'planned' && opts.pointId) throw new FailoverRefusedError(`a planned failover restores the point its final cycle takes; --point ${opts.pointId} is only for --unplanned`);
    await preflight(opts, plan, deps);
    if (mode === 'planned') {
      const params: FailoverParams = { phase: 'prepare', planned: true, commandStartedAt, stackTimeoutMins: opts.stackTimeoutMins ?? DEFAULT_STACK_TIMEOUT_MINS };
      prepare = await startRun(repo, failoverWorkflow(params, deps), { ...engine, planName: plan.name, epoch: plan.epoch, params: params as unknown as JsonObject });
      if (prepare.status !== 'succeeded') return outcomeOf(mode, plan.name, prepare, undefined);
    }
  }

  plan = (await repo.plans.get(planName))!;
  const prep = (prepare?.result.state ?? {}) as FailoverState;
  const prepParams = (prepare?.run.params ?? {}) as Partial<FailoverParams>;
  const params: FailoverParams = {
    phase: 'recover',
    planned: mode === 'planned',
    commandStartedAt: prepParams.commandStartedAt ?? commandStartedAt,
    stackTimeoutMins: opts.stackTimeoutMins ?? prepParams.stackTimeoutMins ?? DEFAULT_STACK_TIMEOUT_MINS,
    ...(mode === 'planned' ? (prep.finalPointId ? { pointId: prep.finalPointId } : {}) : opts.pointId ? { pointId: opts.pointId } : {}),
    ...(opts.force ? { force: true } : {}),
    ...(prep.writesStoppedAt ? { writesStoppedAt: prep.writesStoppedAt } : {}),
    ...(prepare ? { prepareRunId: prepare.run.id } : {}),
  };
  if (mode === 'planned' && !params.pointId) throw new FerryError(`the preparation run ${prepare?.run.id} left no final point; see ferry runs show ${prepare?.run.id}`);
  const recover = await startRun(repo, failoverWorkflow(params, deps), {
    ...engine,
    planName: plan.name,
    epoch: plan.epoch,
    raiseEpoch: { activeSite: plan.secondarySite },
    params: params as unknown as JsonObject,
  });
  return outcomeOf(mode, plan.name, prepare, recover);
}

// ---- the dry-run -----------------------------------------------------------------------

export interface FailoverPlan {
  mode: FailoverMode;
  planName: string;
  primary: string;
  secondary: string;
  prepare?: PlannedStep[];
  recover: PlannedStep[];
  /** What the stack makes at the secondary, by kind and resource. */
  resources: { resource: string; kind: string; type: string; source: string | null }[];
  /** The primary's servers a planned failover stops. */
  stops: { id: string; name: string; status: string }[];
  text: string;
}

/**
 * What `ferry failover PLAN` would do, changing nothing: every step of its runs observed, the
 * resources the stack makes at the secondary and the servers stopped at the primary.
 */
export async function planFailover(planName: string, opts: Omit<FailoverOptions, 'onEvent'>): Promise<FailoverPlan> {
  const { repo } = opts;
  const plan = await repo.plans.get(planName);
  if (!plan) throw new CatalogNotFoundError('plan', planName, 'is not in the catalog (fix: ferry plan apply FILE, or ferry catalog rebuild --from SECONDARY)');
  const deps = depsOf(opts);
  const mode = plan.activeSite !== plan.primarySite ? 'unplanned' : await decideMode(opts, plan, deps);
  const common = { planName: plan.name, owner: opts.owner, ...(opts.logger ? { logger: opts.logger } : {}), ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.now ? { now: opts.now } : {}) };
  const startedAt = (opts.now ?? (() => new Date()))().toISOString();
  const prepare = mode === 'planned' ? await planWorkflow(repo, failoverWorkflow({ phase: 'prepare', planned: true }, deps), { ...common, params: { phase: 'prepare', planned: true, commandStartedAt: startedAt, stackTimeoutMins: DEFAULT_STACK_TIMEOUT_MINS } }) : undefined;
  const recoverParams = { phase: 'recover', planned: mode === 'planned', commandStartedAt: startedAt, stackTimeoutMins: opts.stackTimeoutMins ?? DEFAULT_STACK_TIMEOUT_MINS, ...(opts.pointId ? { pointId: opts.pointId } : {}), ...(opts.force ? { force: true } : {}) };
  const recover = await planWorkflow(repo, failoverWorkflow({ phase: 'recover', planned: mode === 'planned' }, deps), { ...common, params: recoverParams });
  const stack = recover.find((p) => p.name === 'stack');
  const index = ((stack?.detail as { index?: unknown } | undefined)?.index ?? []) as FailoverPlan['resources'];
  const stopStep = prepare?.find((p) => p.name === 'stop-primary');
  const stops = (((stopStep?.detail as { servers?: unknown } | undefined)?.servers ?? []) as FailoverPlan['stops']).filter((s) => s.status === 'ACTIVE');
  const out: FailoverPlan = { mode, planName: plan.name, primary: plan.primarySite, secondary: plan.secondarySite, ...(prepare ? { prepare } : {}), recover, resources: index, stops, text: '' };
  out.text = renderFailoverPlan(out);
  return out;
}


/** The dry-run as text: the runs' steps (Terraform style), then the resources and the stops. */
export function renderFailoverPlan(p: Omit<FailoverPlan, 'text'>): string {
  const out: string[] = [];
  const title = `${p.mode} failover of plan ${p.planName} from ${p.primary} to ${p.secondary}`;
  if (p.prepare) out.push(renderPlan(p.prepare, `${title}\n1. prepare (at the plan's epoch):`), '');
  out.push(renderPlan(p.recover, p.prepare ? "2. recover (raises the plan's epoch, the secondary becomes active):" : `${title}\nrecover (raises the plan's epoch, the secondary becomes active):`));
  if (p.resources.length > 0) {
    out.push('', `Resources the stack creates at ${p.secondary} (${countsText(resourceCounts({ index: p.resources as GeneratedStack['index'] }))}):`);
    const width = Math.max(...p.resources.map((r) => r.resource.length));
    const typeWidth = Math.max(...p.resources.map((r) => r.type.length));
    for (const r of p.resources) out.push(`  + ${r.resource.padEnd(width)}  ${r.type.padEnd(typeWidth)}  ${r.source ?? ''}`.trimEnd());
  }
  if (p.mode === 'planned') {
    out.push('', p.stops.length > 0 ? `Servers stopped at ${p.primary} (then tagged and locked):` : `No running server to stop at ${p.primary}.`);
    for (const s of p.stops) out.push(`  ~ ${s.name} (${s.id})  ${s.status} -> SHUTOFF`);
  } else {
    out.push('', `${p.primary} is not touched; its servers are fenced when it answers again (ferry fence ${p.planName}).`);
  }
  out.push('', 'Nothing was changed (dry run).');
  return out.join('\n');
}

