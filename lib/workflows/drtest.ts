// `ferry test PLAN [--point ID] [--keep 30m]`: the non-disruptive DR test (docs/drtest.md).
//
// One engine run of kind `drtest` at the plan's epoch (never raised: production stays as it
// is, the plan's active site does not move, replication keeps running):
//   point → guard → stack (mode drtest: isolated bubble, names and tags carry the run ID) →
//   check (servers ACTIVE, volumes attached, RTO/RPO) → report (JSON + HTML) → keep (hold for
//   --keep, then delete the stack and clean this test's leftovers)
//
// Decisions:
//  - The keep window is inside the run: the run stays `running` while the bubble is up, so
//    `ferry test cleanup` leaves it alone, and a process killed during the window is resumed
//    (`ferry resume RUN`) into the keep step, which tears down at once when the time passed.
//    The deadline (keepUntil) is journaled by the report step, so a resume never extends it.
//  - Teardown is the stack's deletion, then cleanupDrTest for what is left of this plan's DR
//    tests at the secondary; other DR-test runs of the plan still running are excluded.
//  - A run that fails before the report step still gets a report, so a failed drill is
//    documented too; its stack was compensated. The workflow writes it (withFailedReport, as the
//    last compensation), so a run resumed by `ferry resume` or the daemon gets it as well as
//    one driven by drTest() to its end.
import type { CatalogRepo, JsonObject, Plan, Run } from '../catalog/repo.js';
import { CatalogNotFoundError } from '../catalog/repo.js';
import { silentLogger, type Logger } from '../log.js';
import type { Site } from '../openstack/site.js';
import { sleep as abortableSleep } from '../openstack/wait.js';
import { cleanupDrTest, type CleanupOptions, type CleanupResult } from './cleanup.js';
import {
  defineWorkflow,
  planWorkflow,
  renderPlan,
  startRun,
  summarizeRun,
  workflowRegistration,
  type PlannedStep,
  type RunOutcome,
  type Step,
  type StepContext,
  type StepFailure,
  type Workflow,
  type WorkflowFactory,
} from './engine.js';
import { ownerTags, checkStep, guardStep, planOf, pointStep, RecoveryCache, siteTarget, stackStep, type RecoveryCommandOptions, type RecoveryEnv, type RecoveryEvent, type RecoveryParams, type RecoveryState, type RecoveryTarget } from './recover.js';
import { buildReport, writeReport, type CreatedResource, type DrTestReport, type VerificationResult } from './report.js';

// ---- types ---------------------------------------------------------------------------------

/** A DR test run's params (JSON in the catalog). */
export interface DrTestParams extends RecoveryParams {
  /** How long the verified bubble stays up before teardown. */
  keepMs: number;
  /** Where the report files go. */
  reportDir: string;
}

export interface DrTestState extends RecoveryState {
  reportJson?: string;
  reportHtml?: string;
  outcome?: string;
  /** ISO time after which the keep step tears the bubble down. */
  keepUntil?: string;
  tornDownAt?: string;
}

/** The DR test's side effects at the secondary; drTestDepsFromSites() does them with OpenStack. */
export interface DrTestDeps {
  target: (cloud: string) => RecoveryTarget;
  /** Removes the plan's DR-test leftovers at the site (cleanupDrTest fits). */
  cleanup: (cloud: string, opts: CleanupOptions) => Promise<CleanupResult>;
  logger?: Logger;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  guardTimeoutMs?: number;
  guardPollMs?: number;
}

export function drTestDepsFromSites(sites: (cloud: string) => Site, opts: { logger?: Logger; onStackEvent?: (e: RecoveryEvent) => void } = {}): DrTestDeps {
  const logger = opts.logger ?? silentLogger;
  return {
    target: (cloud) => siteTarget(sites(cloud), { logger, ...(opts.onStackEvent ? { onEvent: opts.onStackEvent } : {}) }),
    cleanup: (cloud, o) => cleanupDrTest(sites(cloud), o),
    logger,
  };
}

export const DEFAULT_REPORT_DIR = './ferry-reports';
export const DEFAULT_DRTEST_STACK_TIMEOUT_MINS = 60;

type Ctx = StepContext<DrTestState>;

const paramsOf = (ctx: Ctx): DrTestParams => (ctx.run.params ?? {}) as unknown as DrTestParams;


// ---- the report ------------------------------------------------------------------------------

/** What the state says was verified and created (pure). */
export function reportFacts(state: DrTestState): { verifications: VerificationResult[]; resources: CreatedResource[] } {
  const servers = (state.servers ?? []) as { id: string; name: string; status: string }[];
  const verifications: VerificationResult[] = servers.map((s) => ({ check: 'server-active', subject: s.name, ok: s.status === 'ACTIVE', detail: `status ${s.status}` }));
  if (typeof state.volumeCount === 'number' && state.serversActiveAt) {
    verifications.push({ check: 'volumes-attached', subject: `${state.volumeCount} volume(s)`, ok: true, detail: 'every restored volume attached to its server' });
  }
  const resources: CreatedResource[] = [];
  if (state.stackName && state.stackId) resources.push({ kind: 'stack', name: state.stackName, id: state.stackId });
  for (const s of servers) resources.push({ kind: 'server', name: s.name, id: s.id });
  return { verifications, resources };
}

/**
 * The report of a DR test run as the catalog holds it now (its journal so far); `failed` for a
 * run failing right now (its row says running until the engine finishes it).
 */
export async function reportOfRun(repo: CatalogRepo, run: Run, state: DrTestState, site: string, generatedAt: Date, failed?: StepFailure): Promise<DrTestReport> {
  const plan = await repo.plans.get(run.planName, { includeDeleted: true });
  const entries = await repo.journal.read(run.id);
  const result = summarizeRun(run, entries, failed ? { status: 'failed', error: failed.error } : {});
  const facts = reportFacts({ ...(result.state as DrTestState), ...state });
  const s = { ...(result.state as DrTestState), ...state };
  return buildReport({
    run,
    result,
    site,
    point: { id: s.pointId ?? 'none', createdAt: s.pointCreatedAt ?? run.startedAt },
    rtoMs: typeof s.rtoMs === 'number' ? s.rtoMs : null,
    rpoMs: typeof s.rpoMs === 'number' ? s.rpoMs : null,
    ...(plan?.rpoMs ? { objectives: { rpoMs: plan.rpoMs } } : {}),
    ...facts,
    generatedAt,
  });
}

/** `report`: writes the JSON and HTML report of the verified test and sets the keep deadline. */
function reportStep(): Step<DrTestState> {
  return {
    name: 'report',
    describe: 'write the DR test report (JSON and HTML: timeline, RTO, RPO of the point, what was verified)',
    action: 'create',
    observe(ctx) {
      if (ctx.state.reportJson && ctx.state.keepUntil) return { done: true, summary: `report ${ctx.state.reportJson}` };
      return { done: false, summary: `report into ${paramsOf(ctx).reportDir}` };
    },
    async act(ctx) {
      const plan = await planOf(ctx);
      const now = ctx.now();
      const report = await reportOfRun(ctx.repo, ctx.run, ctx.state, plan.secondarySite, now);
      const files = writeReport(paramsOf(ctx).reportDir, report);
      ctx.state.reportJson = files.json;
      ctx.state.reportHtml = files.html;
      ctx.state.outcome = report.outcome;
      ctx.state.keepUntil ??= new Date(now.getTime() + (paramsOf(ctx).keepMs ?? 0)).toISOString();
      return { json: files.json, html: files.html, outcome: report.outcome };
    },
    verify: (ctx) => (ctx.state.reportJson ? { ok: true } : { ok: false, reason: 'no report written' }),
  };
}

/**
 * The point step, and when the run fails before its report: the failed report. Compensations
 * run newest first, so this one runs last, after the stack's deletion; whoever drives the run
 * (drTest, `ferry resume`, the daemon) writes it. Idempotent: the same two files, and none once
 * the state names them.
 */
function withFailedReport(point: Step<DrTestState>): Step<DrTestState> {
  return {
    ...point,
    async compensate(ctx, failure): Promise<JsonObject> {
      if (ctx.state.reportJson) return { report: ctx.state.reportJson, written: false };
      const plan = await planOf(ctx);
      const report = await reportOfRun(ctx.repo, ctx.run, ctx.state, plan.secondarySite, ctx.now(), failure);
      const files = writeReport(paramsOf(ctx).reportDir, report);
      ctx.state.reportJson = files.json;
      ctx.state.reportHtml = files.html;
      ctx.state.outcome = report.outcome;
      return { report: files.json, outcome: report.outcome, written: true };
    },
  };
}

// ---- keep and tear down ---------------------------------------------------------------------------

/** `keep`: holds the bubble up until keepUntil, then deletes the stack and cleans this test's leftovers. */
function keepStep(deps: DrTestDeps): Step<DrTestState> {
  return {
    name: 'keep',
    describe: 'keep the isolated recovery up for --keep, then delete its stack and everything the test made',
    action: 'delete',
    retry: { attempts: 3, backoffMs: 10_000 },
    observe(ctx) {
      if (ctx.state.tornDownAt) return { done: true, summary: `torn down at ${ctx.state.tornDownAt}` };
      const until = ctx.state.keepUntil ?? ctx.now().toISOString();
      return { done: false, summary: `keep stack ${ctx.state.stackName ?? '(none)'} until ${until}, then delete it` };
    },
    async act(ctx) {
      const plan = await planOf(ctx);
      const site = plan.secondarySite;
      const pause = deps.sleep ?? abortableSleep;
      const until = Date.parse(ctx.state.keepUntil ?? ctx.now().toISOString());
      // Sleep in slices: the clock may be a test's, and an abort comes between slices at the latest.
      for (let left = until - ctx.now().getTime(); left > 0; left = until - ctx.now().getTime()) await pause(Math.min(left, 60_000), ctx.signal);
      const target = deps.target(site);
      let deleted: string | false = false;
      if (ctx.state.stackName) {
        const seen = await target.observeStack(ctx.state.stackName, ownerTags(plan.name, ctx.run.id), ctx.signal);
        if (seen.ours && seen.summary) {
          await target.deleteStack({ stack_name: seen.summary.stack_name, id: seen.summary.id }, ctx.signal);
          deleted = seen.summary.id;
        }
      }
      const others = await ctx.repo.runs.list({ planName: plan.name, kind: 'drtest', status: ['running', 'pending'] });
      const r = await deps.cleanup(site, {
        plan: plan.name,
        knownRuns: [ctx.run.id],
        activeRuns: others.map((o) => o.id).filter((id) => id !== ctx.run.id),
        logger: ctx.logger,
        signal: ctx.signal,
      });
      if (r.failed.length > 0) throw new Error(`teardown at ${site} left ${r.failed.length} resource(s): ${r.failed.map((f) => `${f.kind} ${f.name}: ${f.error}`).join('; ')}`);
      return { stackDeleted: deleted, cleaned: r.deleted.map((d) => `${d.kind} ${d.name}`) };
    },
    async verify(ctx) {
      const plan = await planOf(ctx);
      if (ctx.state.stackName) {
        const seen = await deps.target(plan.secondarySite).observeStack(ctx.state.stackName, ownerTags(plan.name, ctx.run.id), ctx.signal);
        if (seen.phase !== 'absent' && seen.ours) return { ok: false, reason: `stack ${ctx.state.stackName} is still ${seen.summary?.stack_status}` };
      }
      ctx.state.tornDownAt = ctx.now().toISOString();
      return { ok: true };
    },
  };
}

// ---- the workflow --------------------------------------------------------------------------------

/** The DR test workflow: the shared recovery steps in drtest mode at the secondary, then report and keep. */
export function drTestWorkflow(deps: DrTestDeps): Workflow<DrTestState> {
  const env: RecoveryEnv = {
    mode: 'drtest',
    siteOf: (plan) => plan.secondarySite,
    target: deps.target,
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    ...(deps.guardTimeoutMs !== undefined ? { guardTimeoutMs: deps.guardTimeoutMs } : {}),
    ...(deps.guardPollMs !== undefined ? { guardPollMs: deps.guardPollMs } : {}),
  };
  const cache = new RecoveryCache();
  const [point, ...shared] = [pointStep(env), guardStep(env, cache), stackStep(env, cache), checkStep(env, cache)] as unknown as Step<DrTestState>[];
  return defineWorkflow<DrTestState>('drtest', [withFailedReport(point!), ...shared, reportStep(), keepStep(deps)]);
}

/** Rebuilds the workflow of a DR test run being resumed. */
export const drTestFactory: WorkflowFactory = (_run, env) => drTestWorkflow(drTestDepsFromSites(env.sites, { logger: env.logger })) as unknown as Workflow<object>;

/** The drtest kind's registration for `ferry resume`; tests that register their own step it aside. */
export const drTestRegistration = workflowRegistration('drtest', drTestFactory);

// Resumable with `ferry resume RUN` (lib/cli/runs.ts imports this module).
drTestRegistration.register();

// ---- the command -----------------------------------------------------------------------------------

export interface DrTestOptions extends RecoveryCommandOptions<DrTestDeps> {
  pointId?: string;
  /** Default: the plan's test.keep. */
  keepMs?: number;
  reportDir?: string;
}

export interface DrTestOutcome {
  status: RunOutcome['status'];
  runId: string;
  planName: string;
  outcome: RunOutcome;
  reportJson?: string;
  reportHtml?: string;
  reportOutcome?: string;
  rtoMs?: number;
  rpoMs?: number;
  stackName?: string;
  error?: string;
}

/** The plan's keep time from its spec (test.keep), default 30 minutes. */
export function planKeepMs(plan: Plan): number {
  const keep = ((plan.spec as { test?: { keep?: { ms?: unknown } } }).test?.keep?.ms);
  return typeof keep === 'number' ? keep : 30 * 60_000;
}

function depsOf(opts: DrTestOptions): DrTestDeps {
  const base = drTestDepsFromSites(opts.sites, { ...(opts.logger ? { logger: opts.logger } : {}), ...(opts.onStackEvent ? { onStackEvent: opts.onStackEvent } : {}) });
  return { ...base, ...(opts.sleep ? { sleep: opts.sleep } : {}), ...opts.deps };
}

async function loadPlan(repo: CatalogRepo, planName: string): Promise<Plan> {
  const plan = await repo.plans.get(planName);
  if (!plan) throw new CatalogNotFoundError('plan', planName, 'is not in the catalog (fix: ferry plan apply FILE, or ferry catalog rebuild --from SECONDARY)');
  return plan;
}

function paramsFor(plan: Plan, opts: DrTestOptions, startedAt: string): DrTestParams {
  return {
    commandStartedAt: startedAt,
    stackTimeoutMins: opts.stackTimeoutMins ?? DEFAULT_DRTEST_STACK_TIMEOUT_MINS,
    keepMs: opts.keepMs ?? planKeepMs(plan),
    reportDir: opts.reportDir ?? DEFAULT_REPORT_DIR,
    ...(opts.pointId ? { pointId: opts.pointId } : {}),
  };
}

/**
 * Runs a DR test of the plan at its secondary (see the top of this file); returns when the
 * bubble is torn down (after --keep), or when the run failed or was interrupted.
 */
export async function drTest(planName: string, opts: DrTestOptions): Promise<DrTestOutcome> {
  const { repo } = opts;
  const now = opts.now ?? (() => new Date());
  const plan = await loadPlan(repo, planName);
  const params = paramsFor(plan, opts, now().toISOString());
  const out = await startRun(repo, drTestWorkflow(depsOf(opts)), {
    owner: opts.owner,
    planName: plan.name,
    epoch: plan.epoch,
    params: params as unknown as JsonObject,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.sleep ? { sleep: opts.sleep } : {}),
  });
  return finishDrTest(repo, out, plan.secondarySite, params.reportDir, now);
}

/** The outcome of a finished (or interrupted) DR test run; a failed one gets its report here. */
export async function finishDrTest(repo: CatalogRepo, out: RunOutcome, site: string, reportDir: string, now: () => Date): Promise<DrTestOutcome> {
  const s = out.result.state as DrTestState;
  const o: DrTestOutcome = { status: out.status, runId: out.run.id, planName: out.run.planName, outcome: out };
  if (out.status === 'failed' && !s.reportJson) {
    const run = (await repo.runs.get(out.run.id)) ?? out.run;
    const files = writeReport(reportDir, await reportOfRun(repo, run, s, site, now()));
    o.reportJson = files.json;
    o.reportHtml = files.html;
    o.reportOutcome = 'failed';
  }
  if (s.reportJson) o.reportJson = s.reportJson;
  if (s.reportHtml) o.reportHtml = s.reportHtml;
  if (s.outcome) o.reportOutcome ??= s.outcome;
  if (typeof s.rtoMs === 'number') o.rtoMs = s.rtoMs;
  if (typeof s.rpoMs === 'number') o.rpoMs = s.rpoMs;
  if (s.stackName) o.stackName = s.stackName;
  if (out.result.error) o.error = out.result.error;
  return o;
}

/** What `ferry test PLAN` would do, changing nothing: every step observed, rendered Terraform-style. */
export async function planDrTest(planName: string, opts: Omit<DrTestOptions, 'onEvent'>): Promise<{ steps: PlannedStep[]; text: string }> {
  const plan = await loadPlan(opts.repo, planName);
  const now = opts.now ?? (() => new Date());
  const steps = await planWorkflow(opts.repo, drTestWorkflow(depsOf(opts)), {
    planName: plan.name,
    owner: opts.owner,
    params: paramsFor(plan, opts, now().toISOString()) as unknown as JsonObject,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  return { steps, text: `${renderPlan(steps, `DR test of plan ${plan.name} at ${plan.secondarySite} (isolated network; production and the plan's epoch untouched):`)}\nNothing was changed (dry run).` };
}
