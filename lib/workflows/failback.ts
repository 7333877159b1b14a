// `ferry failback PLAN`: bring a failed-over plan home to its primary, with reprotection.
//
// After a failover the workload runs at the secondary (the plan's active site) and the old
// servers at the primary are fenced. A failback is a planned failover the other way:
//
//   prepare (at the plan's epoch, active at the secondary)
//     reprotect     a replication cycle secondary → primary while the workload still serves:
//                   the bulk copy of the secondary's live volumes (the first one is full)
//     stop-active   stop the plan's servers at the secondary: the outage starts here
//     final-sync    one more cycle after the stop (incremental, short): RPO 0
//   recover (raises the epoch; the primary is active again)
//     point, guard, activate   the final point, its backups free at the primary, the bank there
//     retire-stale  a stack of an earlier failback at the primary (its servers fenced) is deleted
//     release-addresses  the fenced old servers' ports give up their fixed IPs (ports, MACs stay)
//     stack, check  the recovery stack at the primary with the plan's mappings reversed
//                   (lib/plan/reverse.ts), servers ACTIVE, volumes attached; RTO and RPO
//     retire-secondary  the failover's stack at the secondary is deleted (servers, restored volumes)
//     protect       a first cycle primary → secondary: protection resumes in the original direction
//
// Before the first run the old primary is fenced (ensureFenced: nothing may act for a plan
// whose old copies could still run). Each run is resumable; `ferry failback PLAN` run again
// continues an unfinished failback, or tries the recovery again after a failed one.
//
// Decisions:
//  - RTO of a failback is measured from the stop at the secondary (the reprotect copy runs while
//    the workload serves; the command's whole wall time is reported beside it).
//  - The fenced original servers at the primary are left as they are (stopped, locked, tagged
//    ferry:fenced); discovery never protects them again. Deleting them is the operator's call.
//  - Once the servers are ACTIVE at the primary, nothing undoes the recovery: a failure of the
//    last two steps is a warning with the fix, never a deleted production stack.
//  - The stack at the primary is created in the project of the primary's clouds.yaml entry:
//    the pre-flight refuses a token scoped elsewhere than the plan's project.
import type { CatalogRepo, JsonObject, Plan, Run } from '../catalog/repo.js';
import { CatalogNotFoundError } from '../catalog/repo.js';
import { FerryError } from '../errors.js';
import { markTag } from '../heat/names.js';
import { listPorts, updatePort } from '../openstack/network/ports.js';
import { collect } from '../openstack/paginate.js';
import type { Site } from '../openstack/site.js';
import { chunks } from '../inventory/discover.js';
import { reversePlan } from '../plan/reverse.js';
import {
  engineOptionsOf,
  finishedOutcome,
  defineWorkflow,
  planWorkflow,
  renderPlan,
  resumeRun,
  startRun,
  TerminalStepError,
  workflowRegistration,
  type PlannedStep,
  type RunOutcome,
  type Step,
  type StepContext,
  type Workflow,
  type WorkflowFactory,
} from './engine.js';
import { DEFAULT_STACK_TIMEOUT_MINS, depsFromSites, finalSyncStep, standbyStackName, stopServersStep, type FailoverDeps, type FailoverParams, type FailoverState } from './failover.js';
import { ensureFenced, FENCED_TAG, type FenceOutcome } from './fence.js';
import { activateStep, checkStep, guardStep, planOf, pointStep, protectionPlanOf, RecoveryCache, stackStep, type RecoveryCommandOptions, type RecoveryEnv, type RecoveryParams, type RecoveryState } from './recover.js';

// ---- types ----------------------------------------------------------------

export type FailbackPhase = 'prepare' | 'recover';

/** A failback run's params (JSON in the catalog). */
export interface FailbackParams extends RecoveryParams {
  phase: FailbackPhase;
  /** The preparation run a recovery continues. */
  prepareRunId?: string;
  /** The failover's stack at the secondary, retired at the end (from the failover run). */
  secondaryStack?: { name: string; id?: string };
}

/** The state of a failback run (both phases). */
export interface FailbackState extends FailoverState {
  /** prepare: the reprotect cycle's run and point (secondary → primary). */
  reprotectRunId?: string;
  reprotectPointId?: string;
  /** prepare: when the reprotect cycle ended and the stop began (the outage starts). */
  reprotectedAt?: string;
  /** recover: the earlier failback's stack deleted at the primary. */
  staleStack?: JsonObject;
  /** recover: the fixed IPs released from the fenced old servers' ports (at most 200 listed). */
  released?: JsonObject[];
  /** recover: the secondary's stack deleted, or why not. */
  secondaryRetired?: JsonObject;
  /** recover: the first cycle primary → secondary. */
  protectRunId?: string;
  protectPointId?: string;
  protectError?: string;
}

/** A port of a fenced old server, as the release step sees it. */
export interface OldPort {
  id: string;
  serverId: string;
  ips: string[];
}

/** The ports side of a site: what holds the fixed addresses the recovery takes back. */
export interface PortsSite {
  /** Ports bound to these servers (list calls, chunked). */
  portsOf(serverIds: readonly string[], signal?: AbortSignal): Promise<OldPort[]>;
  /** Drops the port's fixed IPs (it stays, with its MAC, on the stopped server), noting why. */
  release(portId: string, description: string, signal?: AbortSignal): Promise<void>;
}

/** What the failback steps do at the sites (the failover's deps, plus the token's project of a site and its ports). */
export interface FailbackDeps extends FailoverDeps {
  /** The project (ID and name) the site's token is scoped to. */
  scopeOf: (cloud: string, signal?: AbortSignal) => Promise<{ id: string; name?: string | undefined } | undefined>;
  ports: (cloud: string) => PortsSite;
}

type Ctx = StepContext<FailbackState>;

const paramsOf = (ctx: Pick<Ctx, 'run'>): FailbackParams => (ctx.run.params ?? {}) as unknown as FailbackParams;

// ---- the prepare steps --------------------------------------------------------------------

/** `reprotect`: a cycle from the active secondary to the primary, while the workload still serves. */
function reprotectStep(deps: FailbackDeps): Step<FailbackState> {
  return {
    name: 'reprotect',
    describe: "replicate the secondary's live volumes back to the primary while the workload still runs (the bulk copy; the first is full)",
    action: 'create',
    retry: { attempts: 2, backoffMs: 10_000 },
    async observe(ctx) {
      const id = ctx.state.reprotectPointId;
      const p = id ? await ctx.repo.points.get(id) : undefined;
      const plan = await planOf(ctx);
      return p?.status === 'complete'
        ? { done: true, summary: `point ${p.id} at ${plan.primarySite}` }
        : { done: false, summary: `a replication cycle ${plan.activeSite} → ${plan.primarySite} (full for volumes the primary has no backup of)` };
    },
    async act(ctx) {
      const plan = await planOf(ctx);
      // A cycle a dead process started is resumed by runReplicationCycle (same point).
      const r = await deps.runCycle(plan.name, { epoch: ctx.run.epoch, signal: ctx.signal, logger: ctx.logger });
      ctx.state.reprotectRunId = r.runId;
      if (r.status !== 'complete' || !r.pointId) throw new Error(`the reprotect cycle (run ${r.runId}) ended ${r.status}${r.error ? `: ${r.error}` : ''}`);
      ctx.state.reprotectPointId = r.pointId;
      ctx.state.reprotectedAt = ctx.now().toISOString();
      return { pointId: r.pointId, cycleRunId: r.runId };
    },
    async verify(ctx) {
      const p = ctx.state.reprotectPointId ? await ctx.repo.points.get(ctx.state.reprotectPointId) : undefined;
      if (p?.status !== 'complete') return { ok: false, reason: 'the reprotect point is not complete' };
      ctx.state.reprotectedAt ??= ctx.now().toISOString();
      return { ok: true, detail: { pointId: p.id } };
    },
  };
}

const AT_SECONDARY = {
  name: 'stop-active',
  describe: "stop the plan's servers at the secondary (os-stop), so no write is lost after the final cycle",
  siteOf: (plan: Plan) => plan.secondarySite,
};

// ---- the recover steps --------------------------------------------------------------------

/** The stack an earlier failback made at the primary: same name, the plan's, not this run's. */
function retireStaleStep(env: RecoveryEnv, stackName: (plan: Plan) => string): Step<FailbackState> {
  const look = async (ctx: Ctx) => {
    const plan = await planOf(ctx);
    const target = env.target(plan.primarySite);
    const name = stackName(plan);
    const seen = await target.observeStack(name, [markTag('plan', plan.name)], ctx.signal);
    const mine = await target.observeStack(name, [markTag('plan', plan.name), markTag('run', ctx.run.id)], ctx.signal);
    const stale = seen.ours && seen.summary && !mine.ours && seen.phase !== 'absent' ? seen.summary : undefined;
    return { plan, target, name, stale, foreign: !seen.ours && seen.summary ? seen.summary : undefined };
  };
  return {
    name: 'retire-stale',
    describe: "delete the stack an earlier failback made at the primary (its servers were fenced by the failover since), so this one can take its name",
    action: 'delete',
    retry: { attempts: 3, backoffMs: 10_000 },
    async observe(ctx) {
      const { plan, name, stale, foreign } = await look(ctx);
      if (foreign) throw new TerminalStepError(`a stack ${name} (${foreign.id}) at ${plan.primarySite} is not the plan's: the recovery stack cannot take its name (fix: rename or delete that stack, then ferry failback ${plan.name})`);
      return { done: stale === undefined, summary: stale ? `stack ${stale.stack_name} (${stale.id}) of an earlier recovery at ${plan.primarySite}: delete` : `no earlier stack ${name} at ${plan.primarySite}` };
    },
    async act(ctx) {
      const { target, stale } = await look(ctx);
      if (!stale) return { deleted: false };
      await target.deleteStack({ stack_name: stale.stack_name, id: stale.id }, ctx.signal);
      ctx.state.staleStack = { name: stale.stack_name, id: stale.id };
      return { deleted: stale.id };
    },
    async verify(ctx) {
      const { stale } = await look(ctx);
      return stale ? { ok: false, reason: `stack ${stale.stack_name} is ${stale.stack_status}` } : { ok: true };
    },
  };
}

/**
 * `release-addresses`: the fenced old servers at the primary still hold their fixed IPs, which
 * the recovery (ip_policy preserve) gives the recovered ports. Their ports keep their MAC and
 * stay on the stopped servers; only the addresses go, noted in each port's description.
 */
function releaseAddressesStep(deps: FailbackDeps): Step<FailbackState> {
  const look = async (ctx: Ctx) => {
    const plan = await planOf(ctx);
    const fenced = (await deps.members(plan.primarySite).members(plan, ctx.signal)).filter((s) => s.tags.includes(FENCED_TAG));
    const ports = fenced.length > 0 ? (await deps.ports(plan.primarySite).portsOf(fenced.map((s) => s.id), ctx.signal)).filter((p) => p.ips.length > 0) : [];
    return { plan, fenced, ports };
  };
  return {
    name: 'release-addresses',
    describe: "release the fixed IPs the fenced old servers at the primary still hold, so the recovered ports can keep them (the ports and MACs stay)",
    action: 'update',
    retry: { attempts: 3, backoffMs: 5_000 },
    async observe(ctx) {
      const { plan, fenced, ports } = await look(ctx);
      return {
        done: ports.length === 0,
        summary: ports.length > 0 ? `${ports.length} port(s) of ${fenced.length} fenced server(s) at ${plan.primarySite} hold ${ports.flatMap((p) => p.ips).slice(0, 10).join(', ')}` : `no fenced server at ${plan.primarySite} holds a fixed IP`,
      };
    },
    async act(ctx) {
      const { plan, ports } = await look(ctx);
      const site = deps.ports(plan.primarySite);
      const released: JsonObject[] = [...(ctx.state.released ?? [])];
      for (const p of ports) {
        await site.release(p.id, `ferry: ${p.ips.join(', ')} released by failback run ${ctx.run.id} of plan ${plan.name} (epoch ${ctx.run.epoch}); this server is fenced`, ctx.signal);
        if (released.length < 200) released.push({ port: p.id, server: p.serverId, ips: p.ips });
      }
      ctx.state.released = released;
      return { ports: ports.length };
    },
    async verify(ctx) {
      const { ports } = await look(ctx);
      return ports.length > 0 ? { ok: false, reason: `${ports.length} port(s) still hold fixed IPs: ${ports.slice(0, 5).map((p) => p.id).join(', ')}` } : { ok: true };
    },
  };
}

/** The recovery stack at the primary; once its servers were ACTIVE, a later failure never deletes it. */
function productionStackStep(env: RecoveryEnv, cache: RecoveryCache): Step<FailbackState> {
  const base = stackStep(env, cache) as unknown as Step<FailbackState>;
  return {
    ...base,
    async compensate(ctx, failure) {
      if (ctx.state.serversActiveAt) return { deleted: false, why: `the servers at the primary are ACTIVE since ${ctx.state.serversActiveAt}: the stack is production now` };
      return base.compensate!(ctx, failure);
    },
  };
}

/** `retire-secondary`: the failover's stack at the secondary (stopped servers, restored volumes) is deleted. */
function retireSecondaryStep(env: RecoveryEnv): Step<FailbackState> {
  const look = async (ctx: Ctx) => {
    const plan = await planOf(ctx);
    const target = env.target(plan.secondarySite);
    const want = paramsOf(ctx).secondaryStack;
    const names = [...new Set([want?.name, `ferry-${plan.name}-failover`, plan.tier === 'warm-standby' ? standbyStackName(plan.name) : undefined].filter((n): n is string => n !== undefined))];
    const found = [];
    for (const name of names) {
      const seen = await target.observeStack(name, [markTag('plan', plan.name)], ctx.signal);
      if (seen.ours && seen.summary && seen.phase !== 'absent') found.push(seen.summary);
    }
    return { plan, target, found };
  };
  return {
    name: 'retire-secondary',
    describe: "delete the failover's stack at the secondary (its stopped servers and restored volumes; the data is at the primary now)",
    action: 'delete',
    retry: { attempts: 4, backoffMs: 10_000, factor: 2 },
    async observe(ctx) {
      const { plan, found } = await look(ctx);
      return { done: found.length === 0, summary: found.length > 0 ? `stack ${found.map((s) => `${s.stack_name} (${s.id})`).join(', ')} at ${plan.secondarySite}: delete` : `no stack of the plan left at ${plan.secondarySite}` };
    },
    async act(ctx) {
      const { plan, target, found } = await look(ctx);
      for (const s of found) await target.deleteStack({ stack_name: s.stack_name, id: s.id }, ctx.signal);
      ctx.state.secondaryRetired = { site: plan.secondarySite, stacks: found.map((s) => s.id) };
      return { deleted: found.map((s) => s.id) };
    },
    async verify(ctx) {
      const { found } = await look(ctx);
      return found.length > 0 ? { ok: false, reason: `stack ${found.map((s) => `${s.stack_name} ${s.stack_status}`).join(', ')} still there` } : { ok: true };
    },
  };
}

/** `protect`: the first cycle primary → secondary at the new epoch; a failure is a warning. */
function protectStep(deps: FailbackDeps): Step<FailbackState> {
  return {
    name: 'protect',
    describe: 'resume protection in the original direction: a first replication cycle primary → secondary',
    action: 'create',
    retry: { attempts: 1 },
    async observe(ctx) {
      const plan = await planOf(ctx);
      const done = ctx.state.protectPointId !== undefined || ctx.state.protectError !== undefined;
      return { done, summary: done ? `cycle ${ctx.state.protectRunId ?? ''} ${ctx.state.protectError ? `failed: ${ctx.state.protectError}` : `made point ${ctx.state.protectPointId}`}` : `a replication cycle ${plan.primarySite} → ${plan.secondarySite}` };
    },
    async act(ctx) {
      const plan = await planOf(ctx);
      try {
        const r = await deps.runCycle(plan.name, { epoch: ctx.run.epoch, signal: ctx.signal, logger: ctx.logger });
        ctx.state.protectRunId = r.runId;
        if (r.status === 'complete' && r.pointId) ctx.state.protectPointId = r.pointId;
        else ctx.state.protectError = `run ${r.runId} ended ${r.status}${r.error ? `: ${r.error}` : ''}`;
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        ctx.state.protectError = err instanceof Error ? err.message : String(err);
      }
      // The workload runs at the primary: a failed first cycle is the scheduler's (or the operator's) to repeat.
      if (ctx.state.protectError) ctx.logger.warn(`the first replication cycle after the failback failed: ${ctx.state.protectError} (fix: ferry replicate ${plan.name})`);
      return { ...(ctx.state.protectPointId ? { pointId: ctx.state.protectPointId } : {}), ...(ctx.state.protectError ? { error: ctx.state.protectError } : {}) };
    },
    verify: () => ({ ok: true }),
  };
}

// ---- the workflows ----------------------------------------------------------------------

/** The primary: where a failback recovers. */
const primaryOf = (plan: Plan) => plan.primarySite;

function recoveryEnv(deps: FailbackDeps): RecoveryEnv {
  return {
    mode: 'failover',
    siteOf: primaryOf,
    target: deps.target,
    planFor: (plan) => reversePlan(protectionPlanOf(plan)),
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    ...(deps.guardTimeoutMs !== undefined ? { guardTimeoutMs: deps.guardTimeoutMs } : {}),
    ...(deps.guardPollMs !== undefined ? { guardPollMs: deps.guardPollMs } : {}),
  };
}

/** The workflow of one failback run, by its phase. */
export function failbackWorkflow(params: Pick<FailbackParams, 'phase'>, deps: FailbackDeps): Workflow<FailbackState> {
  const asFailback = (s: Step<FailoverState>) => s as unknown as Step<FailbackState>;
  if (params.phase === 'prepare') return defineWorkflow<FailbackState>('failback', [reprotectStep(deps), asFailback(stopServersStep(deps, AT_SECONDARY)), asFailback(finalSyncStep(deps))]);
  const env = recoveryEnv(deps);
  const cache = new RecoveryCache();
  const shared = (s: Step<RecoveryState>) => s as unknown as Step<FailbackState>;
  return defineWorkflow<FailbackState>('failback', [
    shared(pointStep(env)),
    shared(guardStep(env, cache)),
    shared(activateStep(env)),
    retireStaleStep(env, (plan) => `ferry-${plan.name}-failover`),
    releaseAddressesStep(deps),
    productionStackStep(env, cache),
    shared(checkStep(env, cache)),
    retireSecondaryStep(env),
    protectStep(deps),
  ]);
}

/** The failback's side effects at real sites. */
export function failbackDepsFromSites(sites: (cloud: string) => Site, repo: CatalogRepo, opts: Parameters<typeof depsFromSites>[2] = {}): FailbackDeps {
  return {
    ...depsFromSites(sites, repo, { owner: 'ferry-failback', ...opts }),
    async scopeOf(cloud, signal) {
      const token = await sites(cloud).connect(signal);
      const p = token.info.project;
      return p ? { id: p.id, name: p.name } : undefined;
    },
    ports: (cloud) => sitePorts(sites(cloud)),
  };
}

/** The ports of servers at a real site. */
export function sitePorts(site: Site): PortsSite {
  return {
    async portsOf(serverIds, signal) {
      const out: OldPort[] = [];
      for (const ids of chunks([...serverIds], 50)) {
        for (const p of await collect(listPorts(site.network, { device_id: ids }, { signal }))) out.push({ id: p.id, serverId: p.device_id, ips: p.fixed_ips.map((f) => f.ip_address) });
      }
      return out.sort((a, b) => (a.id < b.id ? -1 : 1));
    },
    async release(portId, description, signal) {
      await updatePort(site.network, portId, { fixed_ips: [], description: description.slice(0, 255) }, { ...(signal ? { signal } : {}) });
    },
  };
}

function phaseOf(run: Pick<Run, 'params'>): FailbackPhase {
  return (run.params as Partial<FailbackParams> | null)?.phase === 'prepare' ? 'prepare' : 'recover';
}

/** Rebuilds the workflow of a failback run being resumed. */
export const failbackFactory: WorkflowFactory = (run, env) => failbackWorkflow({ phase: phaseOf(run) }, failbackDepsFromSites(env.sites, env.repo, { logger: env.logger })) as unknown as Workflow<object>;

/** The failback kind's registration for `ferry resume`. */
export const failbackRegistration = workflowRegistration('failback', failbackFactory);

// Resumable with `ferry resume RUN` (lib/cli/runs.ts imports this module).
failbackRegistration.register();

// ---- the command ----------------------------------------------------------------------

export class FailbackRefusedError extends FerryError {
  override readonly name: string = 'FailbackRefusedError';
}

/** The stack timeout is the primary's. */
export type FailbackOptions = RecoveryCommandOptions<FailbackDeps>;

export interface FailbackOutcome {
  status: 'succeeded' | 'failed' | 'interrupted';
  planName: string;
  fence?: FenceOutcome;
  prepare?: RunOutcome;
  recover?: RunOutcome;
  /** The run to resume when interrupted, or to look at. */
  runId: string;
  pointId?: string;
  stackName?: string;
  stackId?: string;
  /** From the stop at the secondary to servers ACTIVE at the primary. */
  rtoMs?: number;
  rpoMs?: number;
  /** The command's whole wall time (reprotect included). */
  wallMs?: number;
  servers?: { id: string; name: string; status: string }[];
  serverCount?: number;
  /** The first cycle primary → secondary after the failback. */
  protectPointId?: string;
  warnings: string[];
  error?: string;
}

function depsOf(opts: FailbackOptions): FailbackDeps {
  const base = failbackDepsFromSites(opts.sites, opts.repo, { ...(opts.logger ? { logger: opts.logger } : {}), ...(opts.onStackEvent ? { onStackEvent: opts.onStackEvent } : {}), owner: opts.owner });
  return { ...base, ...(opts.sleep ? { sleep: opts.sleep } : {}), ...opts.deps };
}


/** The failback runs of the plan to continue: a running one, a finished preparation, or a failed recovery to try again. */
async function pendingWork(repo: CatalogRepo, plan: Plan): Promise<{ running?: Run; preparedBy?: Run; failedRecovery?: Run }> {
  const runs = await repo.runs.list({ planName: plan.name, kind: 'failback', limit: 50 });
  const mine = runs.filter((r) => r.epoch === plan.epoch);
  const running = mine.find((r) => r.status === 'running' || r.status === 'pending');
  if (running) return { running };
  const recoveredFrom = new Set(runs.map((r) => (r.params as Partial<FailbackParams> | null)?.prepareRunId).filter((id): id is string => id !== undefined));
  // A process that died between raising the epoch and creating the recovery run left the plan
  // active at the primary one epoch above the finished preparation: that preparation still counts.
  const raisedWithoutRun = (r: Run) => r.epoch === plan.epoch - 1 && plan.activeSite === plan.primarySite;
  const prepared = runs.find((r) => phaseOf(r) === 'prepare' && r.status === 'succeeded' && !recoveredFrom.has(r.id) && (r.epoch === plan.epoch || raisedWithoutRun(r)));
  if (prepared) return { preparedBy: prepared };
  const last = mine.find((r) => phaseOf(r) === 'recover');
  if (last && last.status === 'failed' && plan.activeSite === plan.primarySite) return { failedRecovery: last };
  return {};
}

/** The failover's stack at the secondary, from the failover run that recovered the plan there. */
async function failoverStackOf(repo: CatalogRepo, plan: Plan): Promise<{ name: string; id?: string } | undefined> {
  const runs = await repo.runs.list({ planName: plan.name, kind: 'failover', status: 'succeeded', limit: 50 });
  for (const r of runs) {
    const p = (r.params ?? {}) as Partial<FailoverParams>;
    if (r.epoch !== plan.epoch || (p.phase !== undefined && p.phase !== 'recover')) continue;
    const s = ((r.result as { state?: FailoverState } | null)?.state ?? {}) as FailoverState;
    if (s.stackName) return { name: s.stackName, ...(s.stackId ? { id: s.stackId } : {}) };
  }
  return undefined;
}

/** Before anything changes: the plan runs at its secondary, both sites answer, the primary's token is the plan's project. */
async function preflight(opts: FailbackOptions, plan: Plan, deps: FailbackDeps): Promise<void> {
  if (plan.activeSite === plan.primarySite) {
    throw new FailbackRefusedError(`plan '${plan.name}' runs at its primary ${plan.primarySite} (epoch ${plan.epoch}): there is nothing to fail back; nothing was changed`);
  }
  for (const site of [plan.primarySite, plan.activeSite]) {
    const why = await deps.members(site).unreachable(opts.signal);
    if (why !== undefined) throw new FailbackRefusedError(`a failback needs both sites, but ${site} does not answer (${why}); nothing was changed (fix: wait for ${site}, then ferry failback ${plan.name})`);
  }
  const scope = await deps.scopeOf(plan.primarySite, opts.signal);
  if (scope && scope.id !== plan.project && scope.name !== plan.project) {
    throw new FailbackRefusedError(
      `the recovery stack would be created in project '${scope.name ?? scope.id}' at ${plan.primarySite}, but plan '${plan.name}' protects project '${plan.project}'; nothing was changed (fix: scope the clouds.yaml entry ${plan.primarySite} to project '${plan.project}')`,
    );
  }
}


function outcomeOf(planName: string, parts: { fence?: FenceOutcome; prepare?: RunOutcome; recover?: RunOutcome }, startedAt: number, now: () => Date): FailbackOutcome {
  const last = (parts.recover ?? parts.prepare)!;
  const s = (parts.recover?.result.state ?? {}) as FailbackState;
  const warnings: string[] = [];
  if (s.protectError) warnings.push(`the first replication cycle toward the secondary failed: ${s.protectError} (fix: ferry replicate ${planName})`);
  const o: FailbackOutcome = { status: last.status, planName, runId: last.run.id, warnings, wallMs: now().getTime() - startedAt, ...parts };
  if (s.pointId) o.pointId = s.pointId;
  if (s.stackName) o.stackName = s.stackName;
  if (s.stackId) o.stackId = s.stackId;
  if (typeof s.rtoMs === 'number') o.rtoMs = s.rtoMs;
  if (typeof s.rpoMs === 'number') o.rpoMs = s.rpoMs;
  if (Array.isArray(s.servers)) o.servers = s.servers as unknown as FailbackOutcome['servers'];
  if (typeof s.serverCount === 'number') o.serverCount = s.serverCount;
  if (s.protectPointId) o.protectPointId = s.protectPointId;
  if (last.result.error) o.error = last.result.error;
  return o;
}

/**
 * Fails the plan back to its primary (see the top of this file). Continues an unfinished
 * failback first when there is one. Throws FailbackRefusedError (nothing changed) for a plan at
 * its primary or a site that does not answer, and FenceUnreachableError from the fence.
 */
export async function failback(planName: string, opts: FailbackOptions): Promise<FailbackOutcome> {
  const { repo } = opts;
  const now = opts.now ?? (() => new Date());
  const started = now();
  const deps = depsOf(opts);
  const engine = engineOptionsOf(opts);
  let plan = await repo.plans.get(planName);
  if (!plan) throw new CatalogNotFoundError('plan', planName, 'is not in the catalog (fix: ferry plan apply FILE, or ferry catalog rebuild --from SECONDARY)');

  const pending = await pendingWork(repo, plan);
  let prepare: RunOutcome | undefined;
  let fence: FenceOutcome | undefined;
  if (pending.running) {
    const run = pending.running;
    opts.onNote?.(`continuing the failback of plan ${plan.name}: resuming its ${phaseOf(run)} run ${run.id}`);
    const out = await resumeRun(repo, failbackWorkflow({ phase: phaseOf(run) }, deps), run.id, engine);
    if (phaseOf(run) === 'recover') {
      const prepId = (run.params as Partial<FailbackParams> | null)?.prepareRunId;
      const prep = prepId ? await repo.runs.get(prepId) : undefined;
      return outcomeOf(plan.name, { ...(prep ? { prepare: finishedOutcome(prep) } : {}), recover: out }, started.getTime(), now);
    }
    if (out.status !== 'succeeded') return outcomeOf(plan.name, { prepare: out }, started.getTime(), now);
    prepare = out;
  } else if (pending.preparedBy) {
    opts.onNote?.(`continuing the failback of plan ${plan.name}: its preparation ${pending.preparedBy.id} finished; recovering its final point at ${plan.primarySite}`);
    prepare = finishedOutcome(pending.preparedBy);
  } else if (pending.failedRecovery) {
    const failed = pending.failedRecovery;
    const fp = failed.params as unknown as FailbackParams;
    opts.onNote?.(`the recovery ${failed.id} of plan ${plan.name} at ${plan.primarySite} failed (see ferry runs show ${failed.id}): trying it again from point ${fp.pointId}`);
    const params: FailbackParams = { ...fp, phase: 'recover' };
    const recover = await startRun(repo, failbackWorkflow(params, deps), { ...engine, planName: plan.name, epoch: plan.epoch, raiseEpoch: { activeSite: plan.primarySite }, params: params as unknown as JsonObject });
    const prep = fp.prepareRunId ? await repo.runs.get(fp.prepareRunId) : undefined;
    return outcomeOf(plan.name, { ...(prep ? { prepare: finishedOutcome(prep) } : {}), recover }, started.getTime(), now);
  } else {
    await preflight(opts, plan, deps);
    // Nothing acts for a plan whose old copies may still run: fence them first (once per epoch).
    fence = await ensureFenced(repo, plan.name, opts.sites, { ...engine, ...(deps.members ? { members: deps.members } : {}) });
    if (fence.status === 'fenced') opts.onNote?.(`fenced ${fence.servers ?? 0} old server(s) of plan ${plan.name} at ${fence.site} (run ${fence.runId})`);
    const params: FailbackParams = { phase: 'prepare', commandStartedAt: started.toISOString(), stackTimeoutMins: opts.stackTimeoutMins ?? DEFAULT_STACK_TIMEOUT_MINS };
    prepare = await startRun(repo, failbackWorkflow(params, deps), { ...engine, planName: plan.name, epoch: plan.epoch, params: params as unknown as JsonObject });
    if (prepare.status !== 'succeeded') return outcomeOf(plan.name, { fence, prepare }, started.getTime(), now);
  }

  plan = (await repo.plans.get(planName))!;
  const prep = (prepare.result.state ?? {}) as FailbackState;
  const prepParams = (prepare.run.params ?? {}) as Partial<FailbackParams>;
  if (!prep.finalPointId) throw new FerryError(`the failback preparation ${prepare.run.id} left no final point; see ferry runs show ${prepare.run.id}`);
  const secondaryStack = await failoverStackOf(repo, plan);
  const params: FailbackParams = {
    phase: 'recover',
    // The outage starts with the stop at the secondary: RTO counts from there.
    commandStartedAt: prep.reprotectedAt ?? prepParams.commandStartedAt ?? started.toISOString(),
    stackTimeoutMins: opts.stackTimeoutMins ?? prepParams.stackTimeoutMins ?? DEFAULT_STACK_TIMEOUT_MINS,
    pointId: prep.finalPointId,
    ...(prep.writesStoppedAt ? { writesStoppedAt: prep.writesStoppedAt } : {}),
    prepareRunId: prepare.run.id,
    ...(secondaryStack ? { secondaryStack } : {}),
  };
  const recover = await startRun(repo, failbackWorkflow(params, deps), { ...engine, planName: plan.name, epoch: plan.epoch, raiseEpoch: { activeSite: plan.primarySite }, params: params as unknown as JsonObject });
  return outcomeOf(plan.name, { ...(fence ? { fence } : {}), prepare, recover }, started.getTime(), now);
}

// ---- the dry-run -----------------------------------------------------------------------

export interface FailbackPlan {
  planName: string;
  primary: string;
  secondary: string;
  prepare: PlannedStep[];
  /** The recovery at the primary, as far as it can be seen before the final point exists. */
  recover: PlannedStep[];
  /** The servers stopped at the secondary. */
  stops: { id: string; name: string; status: string }[];
  text: string;
}

/**
 * What `ferry failback PLAN` would do, changing nothing: the preparation's steps observed, and
 * the recovery's steps as far as they can be seen (its point is taken by the final cycle).
 */
export async function planFailback(planName: string, opts: Omit<FailbackOptions, 'onEvent'>): Promise<FailbackPlan> {
  const { repo } = opts;
  const plan = await repo.plans.get(planName);
  if (!plan) throw new CatalogNotFoundError('plan', planName, 'is not in the catalog (fix: ferry plan apply FILE, or ferry catalog rebuild --from SECONDARY)');
  const deps = depsOf(opts);
  await preflight(opts, plan, deps);
  const common = { planName: plan.name, owner: opts.owner, ...(opts.logger ? { logger: opts.logger } : {}), ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.now ? { now: opts.now } : {}) };
  const startedAt = (opts.now ?? (() => new Date()))().toISOString();
  const base = { commandStartedAt: startedAt, stackTimeoutMins: opts.stackTimeoutMins ?? DEFAULT_STACK_TIMEOUT_MINS };
  const prepare = await planWorkflow(repo, failbackWorkflow({ phase: 'prepare' }, deps), { ...common, params: { ...base, phase: 'prepare' } });
  // The recovery restores the final cycle's point, which does not exist yet: observed with the
  // newest point at the primary when there is one (the reprotect point is its predecessor).
  const newest = (await repo.points.list(plan.name, { status: ['complete'], limit: 20 })).find((p) => p.targetSite === plan.primarySite);
  const recoverWf = failbackWorkflow({ phase: 'recover' }, deps);
  const recover = newest
    ? await planWorkflow(repo, recoverWf, { ...common, params: { ...base, phase: 'recover', pointId: newest.id } })
    : recoverWf.steps.map((s): PlannedStep => ({ name: s.name, describe: s.describe, action: s.action, summary: `after the final cycle (no point at ${plan.primarySite} yet)` }));
  const stopStep = prepare.find((p) => p.name === 'stop-active');
  const stops = (((stopStep?.detail as { servers?: unknown } | undefined)?.servers ?? []) as FailbackPlan['stops']).filter((s) => s.status === 'ACTIVE');
  const out: FailbackPlan = { planName: plan.name, primary: plan.primarySite, secondary: plan.secondarySite, prepare, recover, stops, text: '' };
  out.text = renderFailbackPlan(out);
  return out;
}

/** The dry-run as text. */
export function renderFailbackPlan(p: Omit<FailbackPlan, 'text'>): string {
  const out: string[] = [];
  out.push(renderPlan(p.prepare, `failback of plan ${p.planName} from ${p.secondary} to ${p.primary}\n1. prepare (at the plan's epoch; the old servers at ${p.primary} are fenced first if they are not):`), '');
  out.push(renderPlan(p.recover, `2. recover (raises the plan's epoch, ${p.primary} becomes active again; the plan's mappings reversed):`));
  out.push('', p.stops.length > 0 ? `Servers stopped at ${p.secondary} (after the reprotect cycle):` : `No running server to stop at ${p.secondary}.`);
  for (const s of p.stops) out.push(`  ~ ${s.name} (${s.id})  ${s.status} -> SHUTOFF`);
  out.push('', `The fenced old servers at ${p.primary} (tag ${FENCED_TAG}) stay as they are.`, '', 'Nothing was changed (dry run).');
  return out.join('\n');
}
