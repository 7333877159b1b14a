// Fencing: after a failover the plan is active at the secondary (its epoch raised, recorded
// in the catalog and in the bank there). When the old primary becomes reachable again, its old
// servers are stopped, tagged and locked before anything else touches the plan, so two copies
// of the workload never run at once.
//
// Decisions:
//  - The old members are found the way replication finds members: the plan's selectors
//    (server IDs, names, tags, metadata) at the old site, in the plan's project, from list
//    calls only (Nova's tag filter when the plan selects by tags only).
//  - Order per server: os-stop (ACTIVE or ERROR servers), then the tags `ferry:fenced` and
//    `ferry:fenced-epoch=<epoch>`, then the lock with a reason (compute 2.73). A lock first
//    would make the owner's own stop fail when Ferry runs as a member user; Nova refuses tags
//    on a server in ERROR, so such a server is locked without them (a warning says so).
//  - Idempotent: a server already SHUTOFF, tagged and locked is left alone; a repeat of the
//    whole fence does nothing.
//  - Recorded: fencing is a run of kind `failover` (params.phase `fence`) at the plan's epoch,
//    with its journal; a planned failover fences the primary in its own last step. ensureFenced
//    (the guard replication and failback call first) is a no-op once a run at the plan's
//    current epoch recorded `fenced` in its state, and refuses while the old site does not
//    answer: nothing may act for the plan there before its old servers are fenced.
//  - A fence run holds the plan's epoch like any run: a failback that raises it fences the
//    fence run itself (it stops acting at once).
import type { CatalogRepo, JsonObject, JsonValue, Plan } from '../catalog/repo.js';
import { FerryError, isConflict } from '../errors.js';
import { matchSelectors, selectorsFromPlan } from '../inventory/discover.js';
import type { MemberSelectors } from '../inventory/model.js';
import type { Logger } from '../log.js';
import { addServerTag, listServers, lockServer, startServer, stopServer, type ListServersQuery } from '../openstack/compute/servers.js';
import { findProject } from '../openstack/identity/projects.js';
import { collect } from '../openstack/paginate.js';
import { Site } from '../openstack/site.js';
import { defineWorkflow, readProgress, resumeRun, startRun, TerminalStepError, type EngineOptions, type RunOutcome, type Step, type StepContext, type Workflow } from './engine.js';
import { protectionPlanOf } from './recover.js';

// ---- the members at a site ------------------------------------------------------------------

/** Nova tag on fenced servers, and the epoch they were fenced at. */
export { FENCED_TAG } from '../replication/types.js';
import { FENCED_TAG } from '../replication/types.js';
export const fencedEpochTag = (epoch: number): string => `ferry:fenced-epoch=${epoch}`;

/** A member server as fencing (and a planned failover's stop) sees it. */
export interface MemberServerView {
  id: string;
  name: string;
  status: string;
  locked: boolean;
  tags: string[];
}

/** What fencing and stopping do at a site; siteMembers() does it with Nova. */
export interface MembersSite {
  readonly name: string;
  /** The plan's member servers at this site, from list calls. */
  members(plan: Plan, signal?: AbortSignal): Promise<MemberServerView[]>;
  stop(id: string, signal?: AbortSignal): Promise<void>;
  start(id: string, signal?: AbortSignal): Promise<void>;
  tag(id: string, tag: string, signal?: AbortSignal): Promise<void>;
  lock(id: string, reason: string, signal?: AbortSignal): Promise<void>;
  /** Undefined when the site answers (a token and a server listing), else why not. */
  unreachable(signal?: AbortSignal): Promise<string | undefined>;
}

/** True when the selection is Nova's tag filter alone. */
function tagsOnly(sel: MemberSelectors): boolean {
  return (sel.tags?.length ?? 0) > 0 && !sel.serverIds?.length && !sel.serverNames?.length && !sel.metadata;
}

/** The plan's members at a real site. */
export function siteMembers(site: Site, opts: { logger?: Logger; probeTimeoutMs?: number } = {}): MembersSite {
  const sc = site.compute;
  const ignoreConflict = async (what: () => Promise<void>) => {
    try {
      await what();
    } catch (err) {
      // Already in the wanted state (stopping, stopped), or a task in progress: verify decides.
      if (!isConflict(err)) throw err;
    }
  };
  return {
    name: site.name,
    async members(plan, signal) {
      const sel = selectorsFromPlan(protectionPlanOf(plan).members);
      const token = await site.connect(signal);
      const own = token.info.project;
      const q: ListServersQuery = {};
      if (!(own && (own.id === plan.project || own.name === plan.project))) {
        // The plan's project at the old primary; at a site scoped to the recovered project, the token's.
        // A lookup that fails must fail the fence: listing the token's own project instead
        // would find no member and record the old servers as fenced while they still run.
        if (site.name === plan.primarySite) {
          const found = await findProject(site.identity, plan.project, undefined, signal);
          if (!found) throw new FerryError(`project '${plan.project}' of plan '${plan.name}' is not visible at ${site.name}, so its old servers cannot be found to fence (fix: give the cloud ${site.name} in clouds.yaml a user that sees project '${plan.project}', e.g. an admin)`);
          q.project_id = found.id;
        }
      }
      if (tagsOnly(sel)) q['tags-any'] = sel.tags!;
      const servers = await collect(listServers(sc, q, { signal }));
      return servers
        .filter((s) => matchSelectors(s, sel).length > 0)
        .map((s) => ({ id: s.id, name: s.name, status: s.status, locked: s.locked === true, tags: [...(s.tags ?? [])].sort() }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1));
    },
    stop: (id, signal) => ignoreConflict(() => stopServer(sc, id, signal)),
    start: (id, signal) => ignoreConflict(() => startServer(sc, id, signal)),
    tag: (id, tag, signal) => addServerTag(sc, id, tag, signal),
    lock: (id, reason, signal) => lockServer(sc, id, { locked_reason: reason, signal }),
    async unreachable(signal) {
      // A short, unretried probe: a cut site must not cost minutes of retries.
      const probe = new Site(site.cloud, { timeoutMs: opts.probeTimeoutMs ?? 10_000, retry: { retries: 0 }, ...(opts.logger ? { logger: opts.logger } : {}) });
      try {
        await probe.connect(signal);
        await probe.compute.get('servers', { query: { limit: 1 }, signal });
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
  };
}

// ---- the fence, as an engine step --------------------------------------------------------------

/** Status in which a server may be writing to its disks. */
const RUNNING = new Set(['ACTIVE', 'PAUSED', 'SUSPENDED', 'RESCUE', 'VERIFY_RESIZE', 'REBOOT', 'HARD_REBOOT', 'MIGRATING', 'REBUILD', 'RESIZE', 'PASSWORD']);
/** Status os-stop accepts (nova/compute/api.py stop: ACTIVE, ERROR). */
const STOPPABLE = new Set(['ACTIVE', 'ERROR']);

export interface FenceState {
  fenced?: JsonObject;
  [key: string]: JsonValue | undefined;
}

/** What still has to be done to fence a member. */
export function fenceNeeds(s: MemberServerView, epoch: number): { stop: boolean; tags: string[]; lock: boolean } {
  const have = new Set(s.tags);
  const canTag = s.status !== 'ERROR';
  return {
    stop: STOPPABLE.has(s.status),
    tags: canTag ? [FENCED_TAG, fencedEpochTag(epoch)].filter((t) => !have.has(t)) : [],
    lock: !s.locked,
  };
}

/** Fenced: not running, locked, and tagged (a server in ERROR cannot be tagged: locked is enough). */
export function isFenced(s: MemberServerView, epoch: number): boolean {
  if (RUNNING.has(s.status) || !s.locked) return false;
  return s.status === 'ERROR' || fenceNeeds(s, epoch).tags.length === 0;
}

/**
 * The step that fences a plan's members at a site: stop, tag, lock. Used by the fence run
 * (`fence`) and as a planned failover's last step (`fence-primary`).
 */
export function fenceStep(name: string, members: (cloud: string) => MembersSite, siteOf: (plan: Plan, ctx: StepContext<FenceState>) => string, describe?: string): Step<FenceState> {
  const look = async (ctx: StepContext<FenceState>) => {
    const plan = await ctx.repo.plans.get(ctx.run.planName, { includeDeleted: true });
    if (!plan) throw new TerminalStepError(`plan '${ctx.run.planName}' is not in the catalog any more`);
    const site = siteOf(plan, ctx);
    const m = members(site);
    return { plan, site, m, list: await m.members(plan, ctx.signal) };
  };
  return {
    name,
    describe: describe ?? "stop, tag and lock the plan's old servers at the old primary, so two copies never run at once",
    action: 'update',
    retry: { attempts: 10, backoffMs: 3_000, factor: 1.5, maxBackoffMs: 20_000 },
    async observe(ctx) {
      const { site, list } = await look(ctx);
      const todo = list.filter((s) => !isFenced(s, ctx.run.epoch));
      const running = list.filter((s) => RUNNING.has(s.status)).length;
      return {
        done: todo.length === 0,
        summary: `${list.length} server(s) of the plan at ${site}: ${running} running, ${todo.length} to fence`,
        detail: { site, servers: list.length, toFence: todo.slice(0, 50).map((s) => `${s.name} (${s.id}) ${s.status}${s.locked ? ' locked' : ''}`) },
      };
    },
    async act(ctx) {
      const { plan, site, m, list } = await look(ctx);
      const reason = `fenced by Ferry: plan ${plan.name} is active at ${plan.activeSite} since epoch ${ctx.run.epoch}; do not start this server (run ${ctx.run.id})`;
      const done = { stopped: 0, tagged: 0, locked: 0, untaggable: [] as string[] };
      for (const s of list) {
        const n = fenceNeeds(s, ctx.run.epoch);
        if (n.stop) {
          await m.stop(s.id, ctx.signal);
          done.stopped++;
        }
        for (const t of n.tags) {
          try {
            await m.tag(s.id, t, ctx.signal);
            done.tagged++;
          } catch (err) {
            if (!isConflict(err)) throw err;
            done.untaggable.push(s.id);
          }
        }
        if (s.status === 'ERROR') ctx.logger.warn(`server ${s.name} (${s.id}) at ${site} is in ERROR: Nova refuses tags on it; it is stopped and locked only`);
        if (n.lock) {
          await m.lock(s.id, reason, ctx.signal);
          done.locked++;
        }
      }
      return { site, ...done, untaggable: [...new Set(done.untaggable)] };
    },
    async verify(ctx) {
      const { site, list } = await look(ctx);
      const left = list.filter((s) => !isFenced(s, ctx.run.epoch));
      if (left.length > 0) return { ok: false, reason: `${left.length} server(s) at ${site} not fenced yet: ${left.slice(0, 5).map((s) => `${s.name} ${s.status}${s.locked ? ' locked' : ''}`).join(', ')}` };
      ctx.state.fenced = { site, epoch: ctx.run.epoch, at: ctx.now().toISOString(), servers: list.length, ids: list.slice(0, 200).map((s) => s.id) };
      return { ok: true, detail: { site, servers: list.length } };
    },
  };
}

/** The old primary of a plan active at its secondary; undefined when the plan runs at its primary. */
export function oldPrimaryOf(plan: Pick<Plan, 'activeSite' | 'primarySite' | 'secondarySite'>): string | undefined {
  if (plan.activeSite === plan.primarySite) return undefined;
  return plan.primarySite;
}

/** The fence run's workflow: one step at the site in the run's params. */
export function fenceWorkflow(members: (cloud: string) => MembersSite): Workflow<FenceState> {
  return defineWorkflow<FenceState>('failover', [
    fenceStep('fence', members, (plan, ctx) => {
      const site = (ctx.run.params as { site?: unknown } | null)?.site;
      return typeof site === 'string' ? site : (oldPrimaryOf(plan) ?? plan.primarySite);
    }),
  ]);
}

// ---- the guard ------------------------------------------------------------------------------

/** The old primary does not answer: it cannot be fenced, so nothing may act for the plan there. */
export class FenceUnreachableError extends FerryError {
  override readonly name: string = 'FenceUnreachableError';
}

export interface FenceOutcome {
  /** not-needed: the plan runs at its primary; already: a run at this epoch fenced it; fenced: fenced now. */
  status: 'not-needed' | 'already' | 'fenced';
  site?: string;
  runId?: string;
  servers?: number;
  outcome?: RunOutcome;
}

export interface EnsureFencedOptions extends Partial<EngineOptions> {
  /** Who drives a fence run (default `ferry`). */
  owner?: string;
  /** The members side of a site (default: siteMembers over `sites`). */
  members?: (cloud: string) => MembersSite;
}

/** A finished run at the plan's epoch that recorded the fence (a fence run, or a planned failover). */
async function fencedBy(repo: CatalogRepo, plan: Plan, site: string): Promise<{ runId: string; servers: number } | undefined> {
  const runs = await repo.runs.list({ planName: plan.name, kind: 'failover', status: 'succeeded', limit: 20 });
  for (const r of runs) {
    if (r.epoch !== plan.epoch) continue;
    const state = ((r.result as { state?: JsonObject } | null)?.state ?? readProgress(await repo.journal.read(r.id)).state) as FenceState;
    const f = state.fenced as { site?: unknown; servers?: unknown } | undefined;
    if (f && f.site === site) return { runId: r.id, servers: typeof f.servers === 'number' ? f.servers : 0 };
  }
  return undefined;
}

/**
 * Fences the plan's old primary now if it needs it: the guard every caller that acts for a
 * plan active at its secondary (replication, failback) calls first. Resolves `not-needed` for
 * a plan running at its primary and `already` once a run at the plan's epoch fenced it; runs
 * (or resumes) a fence run otherwise. Throws FenceUnreachableError while the old primary does
 * not answer, and the run's error when fencing fails.
 */
export async function ensureFenced(repo: CatalogRepo, planName: string, sites: (cloud: string) => Site, opts: EnsureFencedOptions = {}): Promise<FenceOutcome> {
  const plan = await repo.plans.get(planName);
  if (!plan) throw new FerryError(`plan '${planName}' is not in the catalog (fix: ferry plan apply FILE)`);
  const old = oldPrimaryOf(plan);
  if (!old) return { status: 'not-needed' };
  const already = await fencedBy(repo, plan, old);
  if (already) return { status: 'already', site: old, runId: already.runId, servers: already.servers };
  const members = opts.members ?? ((cloud: string) => siteMembers(sites(cloud), opts.logger ? { logger: opts.logger } : {}));
  const why = await members(old).unreachable(opts.signal);
  if (why !== undefined) {
    throw new FenceUnreachableError(
      `plan '${plan.name}' is active at ${plan.activeSite} (epoch ${plan.epoch}); its old primary ${old} does not answer (${why}), so its old servers cannot be fenced yet, and nothing may act for the plan there before they are. ` +
        `Fix: when ${old} is back, run ferry fence ${plan.name} (replication and failback call it first)`,
    );
  }
  const workflow = fenceWorkflow(members);
  const engine: EngineOptions = { owner: opts.owner ?? 'ferry', ...opts } as EngineOptions;
  const running = (await repo.runs.list({ planName: plan.name, kind: 'failover', status: 'running' })).find((r) => r.epoch === plan.epoch && (r.params as { phase?: unknown } | null)?.phase === 'fence');
  const outcome = running
    ? await resumeRun(repo, workflow, running.id, engine)
    : await startRun(repo, workflow, { ...engine, planName: plan.name, epoch: plan.epoch, params: { phase: 'fence', site: old } });
  if (outcome.status !== 'succeeded') {
    throw new FerryError(`fencing the old servers of plan '${plan.name}' at ${old} ${outcome.status}: ${outcome.result.error ?? 'see ferry runs show ' + outcome.run.id} (fix: ferry resume ${outcome.run.id}, or ferry fence ${plan.name})`);
  }
  const f = (outcome.result.state as FenceState).fenced as { servers?: number } | undefined;
  return { status: 'fenced', site: old, runId: outcome.run.id, servers: f?.servers ?? 0, outcome };
}
