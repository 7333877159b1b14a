// The Ferry daemon: one process beside the controllers that holds the plans' RPOs. It opens
// the catalog, contends for the leader lease (leader.ts), and while leader schedules
// replication cycles and DR tests and resumes what a dead leader left (scheduler.ts); every
// daemon probes the sites (health.ts) and serves whatever services are registered (the REST
// API and metrics: serve.ts). Runs asked for through the API (startRun) are started by the
// leader only, in the background as scheduler jobs, with the workflows of runs.ts; scheduled
// DR tests use the same DR test workflow. On SIGTERM it drains: no new work, runs interrupted at
// their next journal boundary (they resume on the next leader), lease released so a peer
// takes over at once, catalog closed.
import { hostname as osHostname } from 'node:os';
import winston from 'winston';
import { openCatalog, type Catalog } from '../catalog/db.js';
import { LeaseRepo } from '../catalog/leases.js';
import { CatalogRepo } from '../catalog/repo.js';
import { loadCloud, type LoadOptions } from '../config/clouds.js';
import { createLogger, silentLogger, type LogFields, type Logger } from '../log.js';
import { Site } from '../openstack/site.js';
import type { ResponseEvent } from '../openstack/transport.js';
import { FerryError } from '../errors.js';
import type { JsonObject, Plan } from '../catalog/repo.js';
import { resumeRegistered, type RunOutcome } from '../workflows/engine.js';
import { runReplicationCycle } from '../workflows/replicate.js';
import { describeCaller, type Caller } from './api/auth.js';
import { ApiError, mapError, RunKindUnavailableError } from './api/errors.js';
import type { StartableKind } from './api/schemas.js';
import { monotonicNow, systemClock, type Clock } from './clock.js';
import { redactedConfig, type DaemonConfig } from './config.js';
import { HealthMonitor, probeSite, type HealthObserver, type HealthView, type SiteProber } from './health.js';
import { LeaderElector, daemonId, type LeaderObserver, type LeaderStatus } from './leader.js';
import { WORKFLOW_STARTERS, drTestStarter, type KindStarter, type StarterResult } from './runs.js';
import { Scheduler, registeredDrTestStarter, schedulerSettings, type DrTestStarter, type JobInfo, type ResumeRun, type RunCycle, type SchedulerObserver, type WorkContext } from './scheduler.js';

// ---- observers --------------------------------------------------------------------------

/** Everything the daemon reports as it happens (metrics subscribe here). */
export type DaemonObserver = SchedulerObserver &
  HealthObserver &
  LeaderObserver & {
    /** Every OpenStack HTTP exchange of the daemon's sites (workflows and probes). */
    openstackResponse?(e: ResponseEvent): void;
    /**
     * A run this daemon drove ended (started through the API, a scheduled DR test, a resumed
     * run; replication cycles are cycleFinished): its kind, outcome and how long it took here.
     */
    runFinished?(e: RunFinished): void;
  };

export interface RunFinished {
  kind: string;
  plan: string;
  runId: string | undefined;
  outcome: 'succeeded' | 'failed' | 'interrupted';
  durationMs: number;
  origin: 'api' | 'schedule' | 'resume';
  error?: string;
}

const OBSERVER_METHODS = [
  'elected',
  'demoted',
  'probed',
  'serviceChanged',
  'siteChanged',
  'siteDropped',
  'cycleStarted',
  'cycleFinished',
  'cycleSlow',
  'drTest',
  'runResumed',
  'openstackResponse',
  'runFinished',
] as const;

/** One observer calling every one in `set`; an observer that throws is logged, never fatal. */
function fanOut(set: Set<DaemonObserver>, log: Logger): Required<DaemonObserver> {
  const out: Record<string, (e: unknown) => void> = {};
  for (const m of OBSERVER_METHODS) {
    out[m] = (e: unknown) => {
      for (const o of set) {
        const fn = (o as Record<string, ((e: unknown) => void) | undefined>)[m];
        if (!fn) continue;
        try {
          fn.call(o, e);
        } catch (err) {
          log.warn(`observer ${m}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    };
  }
  return out as unknown as Required<DaemonObserver>;
}

// ---- services (the API) ------------------------------------------------------------------

export interface DaemonService {
  name: string;
  /** Stops accepting work and returns when it stopped (fastify's close). */
  close(): Promise<void>;
}

export interface DaemonServiceContext {
  daemon: Daemon;
  config: DaemonConfig;
  repo: CatalogRepo;
  catalog: Catalog;
  logger: Logger;
}

export type DaemonServiceFactory = (ctx: DaemonServiceContext) => Promise<DaemonService>;

const registeredServices = new Map<string, DaemonServiceFactory>();

/** Registers a service every daemon starts (the API module does, when imported); returns the unregistration. */
export function registerDaemonService(name: string, factory: DaemonServiceFactory): () => void {
  registeredServices.set(name, factory);
  return () => {
    if (registeredServices.get(name) === factory) registeredServices.delete(name);
  };
}

// ---- logging ------------------------------------------------------------------------------

/** The daemon's logger from [logging]: oslo.log lines (lib/log.ts), or oslo.log's JSON fields. */
export function createDaemonLogger(c: DaemonConfig['logging'], name = 'ferry.daemon'): Logger {
  const level = c.debug ? 'debug' : 'info';
  if (!c.use_json) return createLogger({ level, name, ...(c.log_file ? { file: c.log_file } : {}), stderr: c.use_stderr });
  const transports: winston.transport[] = [];
  if (c.use_stderr) transports.push(new winston.transports.Console({ stderrLevels: ['debug', 'info', 'warn', 'error'] }));
  if (c.log_file) transports.push(new winston.transports.File({ filename: c.log_file }));
  const w = winston.createLogger({ level, levels: { error: 0, warn: 1, info: 2, debug: 3 }, format: osloJsonFormat, defaultMeta: { logger: name }, transports });
  return new WinstonJsonLogger(w);
}

const LEVEL_NAME: Record<string, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR' };
const LEVEL_NO: Record<string, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** oslo.log's JSONFormatter fields (those that mean something here). */
export const osloJsonFormat = winston.format.printf((info) => {
  const { level, message, logger, requestId, site, run, ...rest } = info as Record<string, unknown>;
  const now = new Date();
  const extra = Object.fromEntries(Object.entries(rest).filter(([k]) => typeof k === 'string'));
  return JSON.stringify({
    message: String(message),
    asctime: now.toISOString(),
    created: now.getTime() / 1000,
    name: String(logger ?? 'ferry'),
    levelname: LEVEL_NAME[String(level)] ?? String(level).toUpperCase(),
    levelno: LEVEL_NO[String(level)] ?? 0,
    process: process.pid,
    hostname: osHostname(),
    context: { request_id: requestId ?? null, site: site ?? null, run: run ?? null },
    extra,
  });
});

class WinstonJsonLogger implements Logger {
  constructor(private readonly w: winston.Logger) {}
  debug(msg: string, fields?: LogFields): void {
    this.w.debug(msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.w.info(msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.w.warn(msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.w.error(msg, fields);
  }
  child(scope: LogFields): Logger {
    return new WinstonJsonLogger(this.w.child(scope));
  }
}

// ---- the daemon ---------------------------------------------------------------------------

export interface DaemonOptions {
  config: DaemonConfig;
  /** The file the configuration came from (messages, status). */
  configFile?: string;
  logger?: Logger;
  /** Default daemonId([DEFAULT] host). */
  id?: string;
  clock?: Clock;
  /** Default openCatalog([database] connection). The daemon closes it when it stops. */
  openCatalog?: () => Promise<Catalog>;
  /** Sites for the workflows by cloud name; default clouds.yaml ([DEFAULT] clouds_file). */
  sites?: (cloud: string) => Site;
  /** Default: probeSite on a Site without retries and with [health] probe_timeout. */
  prober?: SiteProber;
  /** Default runReplicationCycle. */
  runCycle?: RunCycle;
  /** Default resumeRegistered. */
  resumeRun?: ResumeRun;
  /** Scheduled DR tests; default the registered one (scheduler.ts registerDrTestStarter), else the DR test workflow (runs.ts). */
  drTest?: DrTestStarter;
  /** The workflows runs are started with, by kind (default runs.ts WORKFLOW_STARTERS; tests pass fakes). */
  starters?: Partial<Record<Exclude<StartableKind, 'replicate'>, KindStarter>>;
  observers?: DaemonObserver[];
  /** Default the registered ones (registerDaemonService). */
  services?: DaemonServiceFactory[];
  /** The webhook POST (tests); default a JSON POST with fetch. */
  webhookPost?: (url: string, body: unknown, timeoutMs: number) => Promise<void>;
}

export interface DaemonStatus {
  id: string;
  pid: number;
  startedAt: string;
  configFile: string | undefined;
  catalog: { url: string; backend: string };
  leader: LeaderStatus;
  scheduler: { enabled: boolean; running: JobInfo[]; schedule: ReturnType<Scheduler['schedule']> };
  health: HealthView | undefined;
  stopping: boolean;
}

/** clouds.yaml load options for [DEFAULT] clouds_file. */
export function cloudLoadOptions(c: DaemonConfig): LoadOptions {
  return c.DEFAULT.clouds_file ? { env: { ...process.env, OS_CLIENT_CONFIG_FILE: c.DEFAULT.clouds_file } } : {};
}

function siteCache(make: (cloud: string) => Site): (cloud: string) => Site {
  const cache = new Map<string, Site>();
  return (cloud) => {
    let s = cache.get(cloud);
    if (!s) cache.set(cloud, (s = make(cloud)));
    return s;
  };
}

/** A promise with its settle functions; settling twice is a no-op. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void; settled: () => boolean } {
  let settled = false;
  let res!: (v: T) => void;
  let rej!: (e: unknown) => void;
  const promise = new Promise<T>((resolve, reject) => {
    res = resolve;
    rej = reject;
  });
  return {
    promise,
    resolve: (v) => {
      if (settled) return;
      settled = true;
      res(v);
    },
    reject: (e) => {
      if (settled) return;
      settled = true;
      rej(e);
    },
    settled: () => settled,
  };
}

/**
 * A workflow that failed before its run was recorded refused to start (nothing changed): the
 * API answers that as a conflict with the workflow's own words, unless it maps by itself.
 */
function refusal(err: unknown, kind: string, plan: string): unknown {
  if (err instanceof ApiError || mapError(err, '').internal === false) return err;
  if (err instanceof FerryError) return new ApiError(409, 'conflict', `the ${kind} of plan ${plan} did not start: ${err.message}`);
  return err;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class Daemon {
  readonly id: string;
  readonly config: DaemonConfig;
  readonly configFile: string | undefined;
  readonly logger: Logger;
  readonly catalog: Catalog;
  readonly repo: CatalogRepo;
  readonly elector: LeaderElector;
  readonly scheduler: Scheduler;
  readonly healthMonitor: HealthMonitor | undefined;
  readonly startedAt: Date;
  /** Resolves when the daemon has stopped (after stop()). */
  readonly done: Promise<void>;
  /** Sites for the workflows (and the API's Keystone), by cloud name. */
  readonly sites: (cloud: string) => Site;
  private readonly observers = new Set<DaemonObserver>();
  private readonly observer: Required<DaemonObserver>;
  private readonly clock: Clock;
  private readonly starters: Partial<Record<Exclude<StartableKind, 'replicate'>, KindStarter>>;
  private services: DaemonService[] = [];
  private stopping: Promise<string[]> | undefined;
  private resolveDone!: () => void;

  private constructor(o: DaemonOptions, catalog: Catalog, logger: Logger, id: string) {
    const clock = o.clock ?? systemClock;
    this.id = id;
    this.config = o.config;
    this.configFile = o.configFile;
    this.logger = logger;
    this.catalog = catalog;
    this.startedAt = new Date(clock.now());
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    for (const obs of o.observers ?? []) this.observers.add(obs);
    const observer = fanOut(this.observers, logger);
    this.observer = observer;
    this.clock = clock;
    this.starters = o.starters ?? WORKFLOW_STARTERS;
    const c = o.config;
    this.repo = new CatalogRepo(catalog);

    const load = cloudLoadOptions(c);
    const onResponse = (e: ResponseEvent) => observer.openstackResponse(e);
    const sites = o.sites ?? siteCache((cloud) => new Site(loadCloud(cloud, load), { logger: logger.child({ site: cloud }), onResponse }));
    this.sites = sites;
    const probeSites = siteCache((cloud) => new Site(loadCloud(cloud, load), { logger: logger.child({ site: cloud }), retry: { retries: 0 }, timeoutMs: c.health.probe_timeout.ms, onResponse }));
    const prober: SiteProber = o.prober ?? ((cloud, po) => probeSite(probeSites(cloud), po));
    const runCycle: RunCycle =
      o.runCycle ??
      ((plan, w) =>
        runReplicationCycle(plan, { repo: this.repo, sites, owner: w.owner, logger: w.logger, signal: w.signal, epoch: w.epoch, ...(w.onProgress ? { onEvent: w.onProgress } : {}) }));
    const resume: ResumeRun = o.resumeRun ?? ((runId, w) => resumeRegistered(this.repo, runId, { logger: w.logger, sites }, { owner: w.owner, logger: w.logger, signal: w.signal }));
    const resumeRun: ResumeRun = async (runId, w) => {
      const t0 = monotonicNow(clock);
      const run = await this.repo.runs.get(runId);
      const finished = (outcome: RunFinished['outcome'], error?: string) =>
        observer.runFinished({ kind: run?.kind ?? 'unknown', plan: run?.planName ?? '', runId, outcome, durationMs: monotonicNow(clock) - t0, origin: 'resume', ...(error ? { error } : {}) });
      try {
        const out = await resume(runId, w);
        finished(out.status, (out.result as RunOutcome['result'] | undefined)?.error);
        return out;
      } catch (err) {
        finished('failed', messageOf(err));
        throw err;
      }
    };
    // Scheduled DR tests: a registered starter (tests, plugins) wins, else the DR test workflow.
    const scheduledDrTest: DrTestStarter = async (r) => {
      const plan = await this.repo.plans.get(r.plan);
      if (!plan) throw new FerryError(`plan ${r.plan} is not in the catalog (fix: ferry plan apply FILE, or remove it from [drtest_schedule])`);
      const starter = this.starters.drtest ?? drTestStarter;
      const out = await this.driveRun('drtest', starter, plan, starter.parse({}), r, 'schedule', () => undefined);
      return { ...(out.runId ? { runId: out.runId } : {}), status: out.status };
    };
    const drTest: DrTestStarter = o.drTest ?? ((r) => (registeredDrTestStarter() ?? scheduledDrTest)(r));

    this.scheduler = new Scheduler({
      repo: this.repo,
      owner: id,
      settings: schedulerSettings(c),
      isLeader: () => this.elector.isLeader(),
      runCycle,
      resumeRun,
      drTest,
      clock,
      logger,
      observer,
    });
    this.elector = new LeaderElector({
      leases: new LeaseRepo(catalog),
      id,
      leaseMs: c.coordination.lease_duration.ms,
      heartbeatMs: c.coordination.heartbeat_interval.ms,
      clock,
      logger,
      observer: {
        elected: (e) => {
          observer.elected(e);
          this.scheduler.kick();
        },
        demoted: (e) => {
          this.scheduler.abortAll(`this daemon is no longer leader (${e.reason})`);
          observer.demoted(e);
        },
      },
    });
    this.healthMonitor = c.health.enabled
      ? new HealthMonitor({
          settings: {
            intervalMs: c.health.probe_interval.ms,
            timeoutMs: c.health.probe_timeout.ms,
            failureThreshold: c.health.failure_threshold,
            successThreshold: c.health.success_threshold,
            extraSites: c.health.sites,
            ...(c.health.webhook_url ? { webhook: { url: c.health.webhook_url, timeoutMs: c.health.webhook_timeout.ms } } : {}),
          },
          prober,
          plans: async () => (await this.repo.plans.list()).map((p) => ({ name: p.name, primarySite: p.primarySite, secondarySite: p.secondarySite, activeSite: p.activeSite })),
          clock,
          logger,
          observer,
          sendsWebhook: () => this.elector.isLeader(),
          daemon: id,
          ...(o.webhookPost ? { post: o.webhookPost } : {}),
        })
      : undefined;
  }

  /** Opens the catalog, starts the services, then contends for the lease, schedules and probes. */
  static async start(o: DaemonOptions): Promise<Daemon> {
    const logger = (o.logger ?? silentLogger).child({ logger: 'ferry.daemon' });
    const id = o.id ?? daemonId(o.config.DEFAULT.host);
    logger.info(`ferry daemon ${id} starting (configuration ${o.configFile ?? 'defaults'})`);
    logger.debug('configuration', { config: redactedConfig(o.config) });
    const catalog = o.openCatalog
      ? await o.openCatalog()
      : await openCatalog(o.config.database.connection, { logger, poolSize: o.config.database.max_pool_size, ...(o.configFile ? { source: o.configFile } : {}) });
    const daemon = new Daemon(o, catalog, logger, id);
    try {
      for (const factory of o.services ?? [...registeredServices.values()]) {
        const s = await factory({ daemon, config: o.config, repo: daemon.repo, catalog, logger });
        daemon.services.push(s);
        logger.info(`service ${s.name} started`);
      }
    } catch (err) {
      for (const s of daemon.services) await s.close().catch(() => undefined);
      await catalog.close().catch(() => undefined);
      throw err;
    }
    daemon.elector.start();
    daemon.scheduler.start();
    daemon.healthMonitor?.start();
    logger.info(
      `ferry daemon ${id} running: catalog ${catalog.url}, lease ${o.config.coordination.lease_duration.ms / 1000} s, ` +
        `scheduler ${o.config.scheduler.enabled ? 'on' : 'off'}, health ${o.config.health.enabled ? 'on' : 'off'}`,
    );
    return daemon;
  }

  /** Adds an observer (metrics); returns its removal. */
  observe(o: DaemonObserver): () => void {
    this.observers.add(o);
    return () => this.observers.delete(o);
  }

  isLeader(): boolean {
    return this.elector.isLeader();
  }

  // ---- runs on request (the API) -------------------------------------------------------------

  /**
   * Starts a run of `kind` for the plan on behalf of an API caller, in the background; resolves
   * with the run's ID once it is recorded (the API then answers 202). Only the leader starts
   * runs (503 on a follower or while draining); one run of a kind per plan at a time here
   * (409). A workflow that refuses before recording a run (nothing changed) answers 409 with
   * its reason; a kind without a workflow 501.
   */
  async startRun(kind: StartableKind, plan: Plan, params: JsonObject, caller: Caller, ctx: { requestId: string }): Promise<{ runId: string }> {
    if (this.stopping) throw new ApiError(503, 'unavailable', 'this daemon is stopping (draining); try again in a moment: another daemon of the group takes over', { 'Retry-After': '5' });
    if (!this.isLeader()) {
      const holder = this.elector.status().holder;
      const leader = holder ? `the leader is ${holder}` : 'no leader is elected yet';
      throw new ApiError(503, 'unavailable', `this daemon is not the leader (${leader}): only the leader starts runs; try again (through a load balancer any daemon may answer)`, {
        'Retry-After': String(Math.ceil(this.config.coordination.lease_duration.ms / 1000)),
      });
    }
    const who = describeCaller(caller);
    const why = `started through the API by ${who.user} (project ${who.project}, request ${ctx.requestId})`;
    const recorded = deferred<string>();
    const busy = () => new ApiError(409, 'conflict', `a ${kind} run of plan ${plan.name} is already under way in this daemon (GET /v1/runs?plan=${plan.name}&status=running shows it)`);

    if (kind === 'replicate') {
      if (Object.keys(params).length > 0) throw new ApiError(400, 'bad_request', `body.params: a replicate run takes no params, got ${Object.keys(params).join(', ')}`);
      const job = this.scheduler.startCycle(plan, why, {
        // The cycle's run exists from its first event on; it is the plan's running replicate run of this daemon.
        onProgress: () => {
          if (recorded.settled()) return;
          void this.repo.runs.list({ planName: plan.name, kind: 'replicate', status: 'running' }).then(
            (runs) => {
              const mine = runs.find((r) => r.owner === this.id);
              if (mine) recorded.resolve(mine.id);
            },
            () => undefined,
          );
        },
        onFinished: (e) => (e.result ? recorded.resolve(e.result.runId) : recorded.reject(new ApiError(409, 'conflict', `the replication cycle of plan ${plan.name} did not start: ${e.error ?? 'unknown error'}`))),
      });
      if (!job) throw busy();
      return { runId: await recorded.promise };
    }

    const starter = this.starters[kind];
    if (!starter) {
      throw new RunKindUnavailableError(kind, kind === 'failback' ? 'the failback workflow is not in this daemon yet (run ferry failback PLAN where the catalog is)' : undefined);
    }
    const parsed = starter.parse(params);
    const job = this.scheduler.launch(`${kind}:${plan.name}`, { kind, plan: plan.name }, async (w) => {
      w.logger.info(`${kind} of plan ${plan.name} ${why}`);
      try {
        const out = await this.driveRun(kind, starter, plan, parsed, w, 'api', (id) => recorded.resolve(id));
        const line = `${kind} run ${out.runId ?? '?'} of plan ${plan.name}: ${out.status}${out.error ? ` (${out.error})` : ''}`;
        if (out.status === 'succeeded') w.logger.info(line);
        else w.logger.warn(line);
        // A workflow that ends without ever recording a run still answers with its run.
        if (out.runId) recorded.resolve(out.runId);
        else recorded.reject(new ApiError(409, 'conflict', `the ${kind} of plan ${plan.name} did not start: ${out.error ?? out.status}`));
      } catch (err) {
        if (recorded.settled()) w.logger.error(`${kind} of plan ${plan.name} failed: ${messageOf(err)}`);
        recorded.reject(refusal(err, kind, plan.name));
      }
    });
    if (!job) throw busy();
    return { runId: await recorded.promise };
  }

  /** Runs a workflow to its end, telling observers how it ended (once a run was recorded). */
  private async driveRun(
    kind: string,
    starter: KindStarter,
    plan: Plan,
    parsed: unknown,
    w: WorkContext,
    origin: RunFinished['origin'],
    onRecorded: (runId: string) => void,
  ): Promise<StarterResult> {
    const t0 = monotonicNow(this.clock);
    let runId: string | undefined;
    const finished = (outcome: RunFinished['outcome'], id: string | undefined, error?: string) =>
      this.observer.runFinished({ kind, plan: plan.name, runId: id, outcome, durationMs: monotonicNow(this.clock) - t0, origin, ...(error ? { error } : {}) });
    try {
      const out = await starter.run(plan, parsed, {
        repo: this.repo,
        sites: this.sites,
        owner: w.owner,
        signal: w.signal,
        logger: w.logger,
        reportDir: this.config.drtest.report_dir,
        onRecorded: (id) => {
          runId ??= id;
          onRecorded(id);
        },
      });
      finished(out.status, out.runId ?? runId, out.error);
      return out;
    } catch (err) {
      if (runId) finished('failed', runId, messageOf(err));
      throw err;
    }
  }

  /** The site health view (undefined when [health] enabled = false). */
  health(): HealthView | undefined {
    return this.healthMonitor?.view();
  }

  status(): DaemonStatus {
    return {
      id: this.id,
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      configFile: this.configFile,
      catalog: { url: this.catalog.url, backend: this.catalog.backend },
      leader: this.elector.status(),
      scheduler: { enabled: this.config.scheduler.enabled, running: this.scheduler.running(), schedule: this.scheduler.schedule() },
      health: this.health(),
      stopping: this.stopping !== undefined,
    };
  }

  /**
   * Drains and stops: services closed, no new work, runs interrupted at their next journal
   * boundary (waited for up to [DEFAULT] graceful_shutdown_timeout), lease released, catalog
   * closed. Returns the work that had not stopped in time. Idempotent. `release: false` keeps
   * the lease row as it is (a kill, as the HA tests simulate it).
   */
  stop(reason: string, opts: { release?: boolean } = {}): Promise<string[]> {
    this.stopping ??= this.drain(reason, opts.release !== false);
    return this.stopping;
  }

  private async drain(reason: string, release: boolean): Promise<string[]> {
    const log = this.logger;
    const running = this.scheduler.running();
    log.info(`stopping (${reason}): no new work${running.length ? `; interrupting ${running.map((j) => j.key).join(', ')} at the next journal boundary (they resume on the next leader)` : ''}`);
    for (const s of this.services) {
      try {
        await s.close();
      } catch (err) {
        log.warn(`service ${s.name} did not close cleanly: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    await this.healthMonitor?.stop();
    const unfinished = await this.scheduler.stop(this.config.DEFAULT.graceful_shutdown_timeout.ms);
    if (unfinished.length) log.warn(`still running after ${this.config.DEFAULT.graceful_shutdown_timeout.text}: ${unfinished.join(', ')}; stopping anyway (they resume from their journal)`);
    // Without release (what a kill leaves behind, for tests) a peer waits for the lease to expire.
    // Never while its runs still go: a peer would resume them while this process still drives them.
    await this.elector.stop({ release: release && unfinished.length === 0 });
    try {
      await this.catalog.close();
    } catch (err) {
      log.warn(`closing the catalog: ${err instanceof Error ? err.message : String(err)}`);
    }
    log.info(`ferry daemon ${this.id} stopped`);
    this.resolveDone();
    return unfinished;
  }
}
