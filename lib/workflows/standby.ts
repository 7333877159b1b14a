// `ferry standby PLAN`: keep a warm-standby plan's reduced-capacity stack at its secondary at
// the newest complete recovery point. The stack (ferry-<plan>-standby) is the failover
// template in mode standby (heat-templates/environments/standby_env.yaml): networks, subnets,
// security groups, ports holding their addresses, keypairs, server groups and the volumes
// restored from the point's backups exist; servers, attachments and floating IPs do not
// (OS::Heat::None). `ferry failover` updates that same stack to full capacity (recover.ts
// stackStep, findStandby), so a failover only boots servers on volumes that are already there.
//
// One engine run of kind `standby` (resumable with `ferry resume RUN`):
//   hold, point, guard, stack (mode standby), check-standby
//
// Decisions:
//  - Create or update. No standby stack: it is created from the newest complete point. A
//    standby stack of the plan (findStandby: any state but being deleted) is updated to that
//    point: Heat restores each volume whose backup_id changed into the existing volume (the
//    volume keeps its ID, nothing is left behind), the rest is unchanged. A complete standby
//    already at the newest point is up to date: no run is made.
//  - Never over production. The plan must be active at its primary: after a failover the
//    standby stack IS production (updated to mode failover) and a standby update would delete
//    its servers. Refused before any run: another tier, the plan active at the secondary, a
//    standby stack in mode failover, a failover of the plan in progress. The `hold` step checks
//    again in the run (a resumed run too), and the engine fences the run before every act once
//    a failover raises the plan's epoch.
//  - Restores. Cinder restores one backup into one volume at a time: the `guard` step waits
//    while a DR test or a failover restores the same point, like theirs wait for this one.
//  - When the run fails, a stack it created on its first try is deleted (the stack step's
//    compensation); a standby that existed before, or that the step's retry updated, stays for
//    the next `ferry standby` (or a failover) to update: its ports hold the plan's addresses.
//  - Verified: every volume of the template exists and is available (no server holds it), and
//    carries Ferry's marks (plan, point, run, source), which Heat's restore does not set.
import type { JsonObject, Plan, Run, RunKind } from '../catalog/repo.js';
import { CatalogNotFoundError } from '../catalog/repo.js';
import { FerryError } from '../errors.js';
import { stackTopology, type ObservedStack, type StackTopology } from '../heat/deploy.js';
import { markTag } from '../heat/names.js';
import { silentLogger, type Logger } from '../log.js';
import type { Site } from '../openstack/site.js';
import { FERRY_MARKS } from '../replication/types.js';
import { modeTag } from './cleanup.js';
import {
  engineOptionsOf,
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
import { standbyStackName } from './failover.js';
import {
  type RecoveryCommandOptions,
  choosePoint,
  countsText,
  findStandby,
  guardStep,
  planOf,
  pointStep,
  RecoveryCache,
  siteTarget,
  stackStep,
  volumeMarks,
  type RecoveryEnv,
  type RecoveryEvent,
  type RecoveryParams,
  type RecoveryState,
  type RecoveryTarget,
} from './recover.js';

// ---- the run kind -------------------------------------------------------------------

/** The run kind of a standby sync. */
export const STANDBY_KIND: RunKind = 'standby';

// ---- types ----------------------------------------------------------------------------

/** A standby run's params (JSON in the catalog): the point is chosen by the command and pinned. */
export type StandbyParams = RecoveryParams;

/** The state of a standby run. */
export interface StandbyState extends RecoveryState {
  /** The point the standby stack held before this run (its ferry:point tag). */
  previousPointId?: string;
  /** The standby's volumes after the check: {resource, id, status}. */
  volumes?: JsonObject[];
}

/** What the standby steps do at the secondary; standbyDepsFromSites() does it with OpenStack. */
export interface StandbyDeps {
  target: (cloud: string) => RecoveryTarget;
  logger?: Logger;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  guardTimeoutMs?: number;
  guardPollMs?: number;
}

export interface StandbyDepsOptions {
  logger?: Logger;
  onStackEvent?: (e: RecoveryEvent) => void;
  pollIntervalMs?: number;
}

/** The standby's side effects at real sites. */
export function standbyDepsFromSites(sites: (cloud: string) => Site, opts: StandbyDepsOptions = {}): StandbyDeps {
  const logger = opts.logger ?? silentLogger;
  const watch = opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {};
  return { target: (cloud) => siteTarget(sites(cloud), { logger, watch, ...(opts.onStackEvent ? { onEvent: opts.onStackEvent } : {}) }), logger };
}

// ---- the checks (pure) ------------------------------------------------------------------

export class StandbyRefusedError extends FerryError {
  override readonly name: string = 'StandbyRefusedError';
}

const tagsOf = (s: ObservedStack | undefined): string[] => s?.summary?.tags ?? [];

/**
 * Why the plan's standby stack must not be made or updated now (undefined: it may): another
 * tier, the plan active at its secondary, or a standby stack that runs production.
 */
export function standbyRefusal(plan: Pick<Plan, 'name' | 'tier' | 'activeSite' | 'primarySite' | 'secondarySite' | 'epoch'>, standby: ObservedStack | undefined): string | undefined {
  if (plan.tier !== 'warm-standby') {
    return `plan '${plan.name}' is tier ${plan.tier}: only warm-standby plans keep a standby stack at the secondary; nothing was changed (fix: set tier: warm-standby in the plan file and ferry plan apply FILE, or recover it with ferry failover ${plan.name})`;
  }
  if (plan.activeSite !== plan.primarySite) {
    return `plan '${plan.name}' is active at ${plan.activeSite} (epoch ${plan.epoch}): the stack there runs production, and a standby update would remove its servers; nothing was changed (fix: come back with ferry failback ${plan.name} first)`;
  }
  if (standby && tagsOf(standby).includes(modeTag('failover'))) {
    return `the stack ${standby.summary!.stack_name} at ${plan.secondarySite} runs production servers (tag ${modeTag('failover')}), although plan '${plan.name}' is active at ${plan.primarySite}; nothing was changed (fix: find out which failover made it with ferry runs list --plan ${plan.name}; delete it only if nothing runs there)`;
  }
  return undefined;
}

/** The point a standby stack holds (its ferry:point tag), if any. */
export function standbyPoint(standby: ObservedStack | undefined): string | undefined {
  const prefix = `${FERRY_MARKS.point}=`;
  return tagsOf(standby).find((t) => t.startsWith(prefix))?.slice(prefix.length);
}

/** Whether the standby stack is complete at `pointId` in mode standby: nothing to do. */
export function standbyCurrent(standby: ObservedStack | undefined, pointId: string): boolean {
  return standby !== undefined && standby.phase === 'complete' && tagsOf(standby).includes(markTag('point', pointId)) && tagsOf(standby).includes(modeTag('standby'));
}

/** The standby's topology: its volumes only (servers and attachments are OS::Heat::None). */
export function standbyTopology(full: StackTopology): StackTopology {
  return { servers: [], volumes: full.volumes, attachments: [], bootVolumes: [] };
}

// ---- the steps ----------------------------------------------------------------------------

type Ctx = StepContext<StandbyState>;

const secondaryOf = (plan: Plan) => plan.secondarySite;

/** The shared recovery steps' environment for mode standby. */
export function standbyEnv(deps: StandbyDeps): RecoveryEnv {
  return {
    mode: 'standby',
    siteOf: secondaryOf,
    target: deps.target,
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    ...(deps.guardTimeoutMs !== undefined ? { guardTimeoutMs: deps.guardTimeoutMs } : {}),
    ...(deps.guardPollMs !== undefined ? { guardPollMs: deps.guardPollMs } : {}),
    standbyStackName: (plan) => (plan.tier === 'warm-standby' ? standbyStackName(plan.name) : undefined),
  };
}

/** `hold`: the plan is warm-standby and active at its primary, and the standby holds no production. */
function holdStep(env: RecoveryEnv): Step<StandbyState> {
  const look = async (ctx: Ctx) => {
    const plan = await planOf(ctx);
    const standby = await findStandby(env.target(env.siteOf(plan)), plan.name, env.standbyStackName?.(plan), ctx.signal);
    return { plan, standby, why: standbyRefusal(plan, standby) };
  };
  return {
    name: 'hold',
    describe: 'check that the plan is warm-standby and active at its primary, and that the standby stack runs no production servers',
    action: 'read',
    retry: { attempts: 2, backoffMs: 5_000 },
    async observe(ctx) {
      const { plan, standby, why } = await look(ctx);
      if (why) throw new TerminalStepError(why);
      return { done: false, summary: standby ? `standby stack ${standby.summary!.stack_name} ${standby.summary!.stack_status} at point ${standbyPoint(standby) ?? '?'}` : `no standby stack at ${plan.secondarySite} yet` };
    },
    async act(ctx) {
      const { standby, why } = await look(ctx);
      if (why) throw new TerminalStepError(why);
      const from = standbyPoint(standby);
      if (from) ctx.state.previousPointId = from;
      return { standby: standby?.summary?.id ?? null, fromPoint: from ?? null };
    },
    verify: () => ({ ok: true }),
  };
}

/** `check-standby`: every volume of the standby exists and is available, and carries Ferry's marks. */
function checkStandbyStep(env: RecoveryEnv, cache: RecoveryCache): Step<StandbyState> {
  const look = async (ctx: Ctx) => {
    const plan = await planOf(ctx);
    const target = env.target(env.siteOf(plan));
    const g = await cache.stack(ctx, env, plan, ctx.state.pointId!);
    const v = await target.verify({ stack_name: ctx.state.stackName!, id: ctx.state.stackId! }, standbyTopology(stackTopology(g.template)), markTag('run', ctx.run.id), ctx.signal);
    return { plan, target, g, v };
  };
  return {
    name: 'check-standby',
    describe: 'verify every volume of the standby stack restored and available (no server holds it), and mark it with the plan, the point and the run',
    action: 'read',
    retry: { attempts: 6, backoffMs: 5_000, factor: 1.5, maxBackoffMs: 30_000 },
    observe(ctx) {
      return { done: false, summary: ctx.state.stackName ? `volumes of ${ctx.state.stackName}` : 'the volumes the standby stack restores' };
    },
    async act(ctx) {
      const { plan, target, g, v } = await look(ctx);
      return { volumesMarked: await target.markVolumes(v, volumeMarks(g, plan.name, ctx.state.pointId!, ctx.run.id), ctx.signal) };
    },
    async verify(ctx) {
      const { v } = await look(ctx);
      const problems = [...v.problems, ...v.volumes.filter((x) => x.status !== 'available').map((x) => `volume ${x.resource} (${x.id}) is ${x.status}${x.attachedTo.length > 0 ? ` attached to ${x.attachedTo.join(', ')}` : ''}, not available`)];
      const unmarked = v.volumes.filter((x) => x.metadata[FERRY_MARKS.point] !== ctx.state.pointId || x.metadata[FERRY_MARKS.run] !== ctx.run.id);
      problems.push(...unmarked.map((x) => `volume ${x.resource} (${x.id}) does not carry the marks of point ${ctx.state.pointId}`));
      if (problems.length > 0) return { ok: false, reason: problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; and ${problems.length - 5} more` : '') };
      ctx.state.volumeCount = v.volumes.length;
      ctx.state.volumes = v.volumes.map((x) => ({ resource: x.resource, id: x.id, status: x.status }));
      return { ok: true, detail: { volumes: v.volumes.length } };
    },
  };
}

/**
 * `stack`: the shared stack step in mode standby (create the standby stack, or update it), with
 * the words of a standby: an update moves it to the run's point, it brings nothing to full capacity.
 */
function standbyStackStep(env: RecoveryEnv, cache: RecoveryCache): Step<StandbyState> {
  const step = stackStep(env, cache) as unknown as Step<StandbyState>;
  return {
    ...step,
    describe: 'create the standby stack at the secondary from the point (volumes restored, no servers), or update it to the point, following its events',
    async observe(ctx) {
      const o = await step.observe(ctx);
      if (o.done) return o;
      const plan = await planOf(ctx);
      const standby = await findStandby(env.target(env.siteOf(plan)), plan.name, env.standbyStackName?.(plan), ctx.signal);
      if (!standby) return o;
      const resources = (o.detail as { resources?: Record<string, number> } | undefined)?.resources;
      return { ...o, summary: `update the standby stack ${standby.summary!.stack_name} (${standby.summary!.stack_status}, point ${standbyPoint(standby) ?? '?'}) to point ${ctx.state.pointId ?? '?'}${resources ? `: ${countsText(resources)}` : ''}` };
    },
  };
}

/** The workflow of a standby run. */
export function standbyWorkflow(deps: StandbyDeps): Workflow<StandbyState> {
  const env = standbyEnv(deps);
  const cache = new RecoveryCache();
  const shared = [pointStep(env), guardStep(env, cache)] as unknown as Step<StandbyState>[];
  return defineWorkflow<StandbyState>(STANDBY_KIND, [holdStep(env), ...shared, standbyStackStep(env, cache), checkStandbyStep(env, cache)]);
}

/** Rebuilds the workflow of a standby run being resumed. */
export const standbyFactory: WorkflowFactory = (_run, env) => standbyWorkflow(standbyDepsFromSites(env.sites, { logger: env.logger })) as unknown as Workflow<object>;

/** The standby kind's registration for `ferry resume`; tests that register their own step it aside. */
export const standbyRegistration = workflowRegistration(STANDBY_KIND, standbyFactory);

// Resumable with `ferry resume RUN` (lib/cli/standby.ts imports this module).
standbyRegistration.register();

// ---- the command ----------------------------------------------------------------------------

export const DEFAULT_STANDBY_STACK_TIMEOUT_MINS = 60;

export type StandbyOptions = RecoveryCommandOptions<StandbyDeps>;

export interface StandbyOutcome {
  /** `current`: the standby already holds the newest complete point; no run was made. */
  status: 'succeeded' | 'failed' | 'interrupted' | 'current';
  planName: string;
  site: string;
  /** The run (absent when current). */
  runId?: string;
  /** created: a new standby stack; updated: moved to a newer point; none: current already. */
  action: 'created' | 'updated' | 'none';
  pointId?: string;
  /** The point the standby held before. */
  previousPointId?: string;
  stackName: string;
  stackId?: string;
  volumeCount?: number;
  volumes?: { resource: string; id: string; status: string }[];
  elapsedMs?: number;
  error?: string;
  outcome?: RunOutcome;
}

function depsOf(opts: StandbyOptions): StandbyDeps {
  const base = standbyDepsFromSites(opts.sites, { ...(opts.logger ? { logger: opts.logger } : {}), ...(opts.onStackEvent ? { onStackEvent: opts.onStackEvent } : {}) });
  return { ...base, ...(opts.sleep ? { sleep: opts.sleep } : {}), ...opts.deps };
}


interface Checked {
  plan: Plan;
  /** An unfinished standby run of the plan at its epoch: continued, not started again. */
  running?: Run;
  standby?: ObservedStack;
  pointId?: string;
  current: boolean;
}

/** Everything the command decides before a run: refusals, a run to continue, the point, up to date. */
async function check(planName: string, opts: StandbyOptions, deps: StandbyDeps): Promise<Checked> {
  const { repo } = opts;
  const plan = await repo.plans.get(planName);
  if (!plan) throw new CatalogNotFoundError('plan', planName, 'is not in the catalog (fix: ferry plan apply FILE, or ferry catalog rebuild --from SECONDARY)');
  if (plan.tier !== 'warm-standby' || plan.activeSite !== plan.primarySite) throw new StandbyRefusedError(standbyRefusal(plan, undefined)!);
  // A failover takes the standby stack over; a failback retires it at the end.
  const moving = (await repo.runs.list({ planName: plan.name, status: ['running', 'pending'] })).find((r) => r.kind === 'failover' || r.kind === 'failback');
  if (moving) {
    throw new StandbyRefusedError(`a ${moving.kind} of plan '${plan.name}' is in progress (run ${moving.id}): it owns the standby stack until it ends; nothing was changed (fix: let it finish: ferry resume ${moving.id})`);
  }
  const running = (await repo.runs.list({ planName: plan.name, kind: STANDBY_KIND, status: ['running', 'pending'], limit: 5 })).find((r) => r.epoch === plan.epoch);
  const standby = await findStandby(deps.target(plan.secondarySite), plan.name, standbyStackName(plan.name), opts.signal);
  const why = standbyRefusal(plan, standby);
  if (why) throw new StandbyRefusedError(why);
  if (running) return { plan, running, ...(standby ? { standby } : {}), current: false };
  const { point } = await choosePoint(repo, plan.name, { site: plan.secondarySite });
  return { plan, ...(standby ? { standby } : {}), pointId: point.id, current: standbyCurrent(standby, point.id) };
}

function outcomeOf(c: Checked, out: RunOutcome, startedAt: number, now: () => Date): StandbyOutcome {
  const s = (out.result.state ?? {}) as StandbyState;
  const o: StandbyOutcome = {
    status: out.status,
    planName: c.plan.name,
    site: c.plan.secondarySite,
    runId: out.run.id,
    // The hold step records the point of a standby that existed before the run.
    action: (s.previousPointId ?? (c.running ? undefined : standbyPoint(c.standby))) !== undefined ? 'updated' : 'created',
    stackName: s.stackName ?? standbyStackName(c.plan.name),
    elapsedMs: now().getTime() - startedAt,
    outcome: out,
  };
  if (s.pointId) o.pointId = s.pointId;
  const before = s.previousPointId ?? standbyPoint(c.standby);
  if (before) o.previousPointId = before;
  if (s.stackId) o.stackId = s.stackId;
  if (typeof s.volumeCount === 'number') o.volumeCount = s.volumeCount;
  if (Array.isArray(s.volumes)) o.volumes = s.volumes as unknown as StandbyOutcome['volumes'];
  if (out.result.error) o.error = out.result.error;
  return o;
}

/**
 * Makes or updates the warm-standby stack of the plan at its secondary from the newest complete
 * point (see the top of this file). Continues the plan's unfinished standby run first when
 * there is one. Throws StandbyRefusedError (nothing changed) for a plan of another tier, one
 * active at its secondary, a standby stack in mode failover or a failover or failback in progress, and
 * RecoveryPointError when the plan has no complete point at the secondary.
 */
export async function syncStandby(planName: string, opts: StandbyOptions): Promise<StandbyOutcome> {
  const now = opts.now ?? (() => new Date());
  const started = now();
  const deps = depsOf(opts);
  const engine = engineOptionsOf(opts);
  const c = await check(planName, opts, deps);
  if (c.running) {
    opts.onNote?.(`continuing the standby run ${c.running.id} of plan ${c.plan.name}`);
    return outcomeOf(c, await resumeRun(opts.repo, standbyWorkflow(deps), c.running.id, engine), started.getTime(), now);
  }
  if (c.current) {
    opts.onNote?.(`the standby stack ${c.standby!.summary!.stack_name} at ${c.plan.secondarySite} holds the newest complete point ${c.pointId} already; nothing to do`);
    return { status: 'current', planName: c.plan.name, site: c.plan.secondarySite, action: 'none', pointId: c.pointId!, previousPointId: c.pointId!, stackName: c.standby!.summary!.stack_name, stackId: c.standby!.summary!.id };
  }
  const params: StandbyParams = { commandStartedAt: started.toISOString(), stackTimeoutMins: opts.stackTimeoutMins ?? DEFAULT_STANDBY_STACK_TIMEOUT_MINS, pointId: c.pointId! };
  const out = await startRun(opts.repo, standbyWorkflow(deps), { ...engine, planName: c.plan.name, epoch: c.plan.epoch, params: params as unknown as JsonObject });
  return outcomeOf(c, out, started.getTime(), now);
}

// ---- the dry-run -----------------------------------------------------------------------------

export interface StandbyPlan {
  planName: string;
  site: string;
  stackName: string;
  /** create, update, or none (current). */
  action: 'create' | 'update' | 'none';
  pointId?: string;
  previousPointId?: string;
  steps: PlannedStep[];
  text: string;
}

/** What `ferry standby PLAN` would do, changing nothing: the refusals, then every step observed. */
export async function planStandby(planName: string, opts: Omit<StandbyOptions, 'onEvent'>): Promise<StandbyPlan> {
  const deps = depsOf(opts);
  const c = await check(planName, opts, deps);
  const stackName = standbyStackName(c.plan.name);
  const from = standbyPoint(c.standby);
  const base = { planName: c.plan.name, site: c.plan.secondarySite, stackName, ...(c.pointId ? { pointId: c.pointId } : {}), ...(from ? { previousPointId: from } : {}) };
  if (c.current) {
    return { ...base, action: 'none', steps: [], text: `The standby stack ${stackName} of plan ${c.plan.name} at ${c.plan.secondarySite} holds the newest complete point ${c.pointId} already: nothing to do.\nNothing was changed (dry run).` };
  }
  const params = { commandStartedAt: (opts.now ?? (() => new Date()))().toISOString(), stackTimeoutMins: opts.stackTimeoutMins ?? DEFAULT_STANDBY_STACK_TIMEOUT_MINS, ...(c.pointId ? { pointId: c.pointId } : {}) };
  const steps = await planWorkflow(opts.repo, standbyWorkflow(deps), {
    planName: c.plan.name,
    owner: opts.owner,
    params,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  const action = c.standby ? 'update' : 'create';
  const what = c.running
    ? `continue the standby run ${c.running.id}`
    : action === 'create'
      ? `create the standby stack ${stackName} at ${c.plan.secondarySite} from point ${c.pointId}`
      : `update the standby stack ${stackName} at ${c.plan.secondarySite} from point ${from ?? '?'} to point ${c.pointId} (Heat restores each volume whose backup changed into the same volume)`;
  const text = [renderPlan(steps, `warm standby of plan ${c.plan.name}: ${what}`), '', 'Nothing was changed (dry run).'].join('\n');
  return { ...base, action, steps, text };
}
