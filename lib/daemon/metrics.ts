// The daemon's Prometheus metrics (docs/metrics.md): one registry per Metrics object (never
// prom-client's global one, so tests and several daemons in a process stay apart), and one
// recording function per event the scheduler, the health probes, the transports and the API
// see. Per-plan values that change with time alone (current RPO, point ages) are read from
// the catalog when Prometheus scrapes, one catalog read per scrape.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { POINT_STATUSES, RUN_KINDS, type CatalogRepo, type PointStatus, type RunKind } from '../catalog/repo.js';
import { silentLogger, type Logger } from '../log.js';
import type { ResponseEvent } from '../openstack/transport.js';
import { statusOf } from '../workflows/status.js';

/** A site's status after hysteresis (health.ts); services are only up, down or unknown. */
export type SiteState = 'up' | 'degraded' | 'down' | 'unknown';
const SITE_STATES = ['up', 'degraded', 'down'] as const;

/** One plan as the scrape sees it. */
export interface PlanSnapshot {
  plan: string;
  project: string;
  tier: string;
  primarySite: string;
  secondarySite: string;
  activeSite: string;
  epoch: number;
  rpoTargetMs: number;
  /** Age of the newest complete point; undefined without one. */
  currentRpoMs: number | undefined;
  rpoMet: boolean;
  points: Record<PointStatus, number>;
  /** Age of the newest point in each finished status. */
  newestAgeMs: Partial<Record<'complete' | 'partial', number>>;
  /** Age of the oldest complete point: how far back a recovery can go. */
  oldestCompleteAgeMs: number | undefined;
}

export interface CatalogSnapshot {
  plans: PlanSnapshot[];
  /** Runs pending or running, by kind. */
  activeRuns: Partial<Record<RunKind, number>>;
}

export type SnapshotSource = (now: Date) => Promise<CatalogSnapshot>;

export interface MetricsOptions {
  /** Where per-plan gauges come from at scrape time (catalogSnapshot(repo)); none: no per-plan gauges. */
  snapshot?: SnapshotSource;
  /** Node.js process metrics (process_*, nodejs_*), default false. */
  defaultMetrics?: boolean;
  /** Ferry's version, for ferry_build_info. */
  version?: string;
  /** A snapshot is reused for this long (default 1 s): the gauges of one scrape share one read. */
  snapshotTtlMs?: number;
  now?: () => Date;
  logger?: Logger;
}

const CYCLE_BUCKETS = [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];
const RUN_BUCKETS = [30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800];
const OPENSTACK_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const API_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const seconds = (ms: number): number => ms / 1000;

export class Metrics {
  readonly registry = new Registry();
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly snapshotTtlMs: number;
  private source: SnapshotSource | undefined;
  private pending: { at: number; promise: Promise<CatalogSnapshot | undefined> } | undefined;

  // plans (scrape time)
  private readonly planRpo: Gauge<'plan'>;
  private readonly planRpoTarget: Gauge<'plan'>;
  private readonly planRpoMet: Gauge<'plan'>;
  private readonly planInfo: Gauge<'plan' | 'project' | 'tier' | 'primary_site' | 'secondary_site' | 'active_site'>;
  private readonly planEpoch: Gauge<'plan'>;
  private readonly pointAge: Gauge<'plan' | 'status'>;
  private readonly pointOldestAge: Gauge<'plan'>;
  private readonly points: Gauge<'plan' | 'status'>;
  private readonly activeRuns: Gauge<'kind'>;
  private readonly catalogUp: Gauge;
  // replication
  private readonly bytes: Counter<'plan' | 'kind'>;
  private readonly cycleDuration: Histogram<'plan' | 'outcome'>;
  private readonly cycleSlow: Counter<'plan'>;
  // runs
  private readonly runDuration: Histogram<'kind' | 'outcome'>;
  // sites
  private readonly siteUp: Gauge<'site'>;
  private readonly siteStatus: Gauge<'site' | 'status'>;
  private readonly serviceUp: Gauge<'site' | 'service'>;
  // OpenStack and API requests
  private readonly osRequests: Counter<'site' | 'service' | 'method' | 'status'>;
  private readonly osDuration: Histogram<'site' | 'service'>;
  private readonly apiRequests: Counter<'method' | 'route' | 'status'>;
  private readonly apiDuration: Histogram<'method' | 'route'>;
  // the daemon
  private readonly leader: Gauge;

  constructor(opts: MetricsOptions = {}) {
    this.logger = opts.logger ?? silentLogger;
    this.now = opts.now ?? (() => new Date());
    this.snapshotTtlMs = opts.snapshotTtlMs ?? 1000;
    this.source = opts.snapshot;
    const registers = [this.registry];
    const snap = (apply: (s: CatalogSnapshot) => void, gauge: () => Gauge<string>) => async () => {
      const s = await this.snapshot();
      gauge().reset();
      if (s) apply(s);
    };

    this.planRpo = new Gauge({
      name: 'ferry_plan_rpo_seconds',
      help: 'Current RPO of the plan: age of its newest complete recovery point (absent without one).',
      labelNames: ['plan'],
      registers,
      collect: snap((s) => s.plans.forEach((p) => p.currentRpoMs !== undefined && this.planRpo.set({ plan: p.plan }, seconds(p.currentRpoMs))), () => this.planRpo),
    });
    this.planRpoTarget = new Gauge({
      name: 'ferry_plan_rpo_target_seconds',
      help: 'RPO target of the plan.',
      labelNames: ['plan'],
      registers,
      collect: snap((s) => s.plans.forEach((p) => this.planRpoTarget.set({ plan: p.plan }, seconds(p.rpoTargetMs))), () => this.planRpoTarget),
    });
    this.planRpoMet = new Gauge({
      name: 'ferry_plan_rpo_met',
      help: '1 when the plan has a complete recovery point no older than its RPO target, else 0.',
      labelNames: ['plan'],
      registers,
      collect: snap((s) => s.plans.forEach((p) => this.planRpoMet.set({ plan: p.plan }, p.rpoMet ? 1 : 0)), () => this.planRpoMet),
    });
    this.planInfo = new Gauge({
      name: 'ferry_plan_info',
      help: 'Always 1; labels say where the plan protects from and where it runs now (active_site changes on failover).',
      labelNames: ['plan', 'project', 'tier', 'primary_site', 'secondary_site', 'active_site'],
      registers,
      collect: snap(
        (s) =>
          s.plans.forEach((p) =>
            this.planInfo.set({ plan: p.plan, project: p.project, tier: p.tier, primary_site: p.primarySite, secondary_site: p.secondarySite, active_site: p.activeSite }, 1),
          ),
        () => this.planInfo,
      ),
    });
    this.planEpoch = new Gauge({
      name: 'ferry_plan_epoch',
      help: "The plan's fencing epoch (raised by each failover and failback).",
      labelNames: ['plan'],
      registers,
      collect: snap((s) => s.plans.forEach((p) => this.planEpoch.set({ plan: p.plan }, p.epoch)), () => this.planEpoch),
    });
    this.pointAge = new Gauge({
      name: 'ferry_recovery_point_age_seconds',
      help: 'Age of the newest recovery point of the plan in each finished status (complete, partial).',
      labelNames: ['plan', 'status'],
      registers,
      collect: snap(
        (s) =>
          s.plans.forEach((p) => {
            for (const [status, ms] of Object.entries(p.newestAgeMs)) if (ms !== undefined) this.pointAge.set({ plan: p.plan, status }, seconds(ms));
          }),
        () => this.pointAge,
      ),
    });
    this.pointOldestAge = new Gauge({
      name: 'ferry_recovery_point_oldest_age_seconds',
      help: 'Age of the oldest complete recovery point of the plan: how far back a recovery can go.',
      labelNames: ['plan'],
      registers,
      collect: snap((s) => s.plans.forEach((p) => p.oldestCompleteAgeMs !== undefined && this.pointOldestAge.set({ plan: p.plan }, seconds(p.oldestCompleteAgeMs))), () => this.pointOldestAge),
    });
    this.points = new Gauge({
      name: 'ferry_recovery_points',
      help: 'Recovery points of the plan in the catalog, by status.',
      labelNames: ['plan', 'status'],
      registers,
      collect: snap((s) => s.plans.forEach((p) => POINT_STATUSES.forEach((status) => this.points.set({ plan: p.plan, status }, p.points[status]))), () => this.points),
    });
    this.activeRuns = new Gauge({
      name: 'ferry_runs_active',
      help: 'Runs pending or running, by kind.',
      labelNames: ['kind'],
      registers,
      collect: snap((s) => RUN_KINDS.forEach((kind) => this.activeRuns.set({ kind }, s.activeRuns[kind] ?? 0)), () => this.activeRuns),
    });
    this.catalogUp = new Gauge({
      name: 'ferry_catalog_up',
      help: '1 when the last scrape could read the catalog, else 0 (per-plan metrics are then absent).',
      registers,
      collect: async () => {
        if (!this.source) return;
        this.catalogUp.set((await this.snapshot()) ? 1 : 0);
      },
    });

    this.bytes = new Counter({ name: 'ferry_replicated_bytes_total', help: 'Bytes replicated to the secondary: volume backup bytes and image bytes copied.', labelNames: ['plan', 'kind'], registers });
    this.cycleDuration = new Histogram({
      name: 'ferry_replication_cycle_duration_seconds',
      help: 'Duration of replication cycles, by outcome (complete, partial, failed).',
      labelNames: ['plan', 'outcome'],
      buckets: CYCLE_BUCKETS,
      registers,
    });
    this.cycleSlow = new Counter({
      name: 'ferry_replication_cycle_slow_total',
      help: 'Replication cycles that took longer than half the RPO target (the RPO is then at risk).',
      labelNames: ['plan'],
      registers,
    });
    this.runDuration = new Histogram({
      name: 'ferry_run_duration_seconds',
      help: 'Duration of finished workflow runs (failover, drtest, failback, cleanup, replicate) by outcome; _count is the number of runs.',
      labelNames: ['kind', 'outcome'],
      buckets: RUN_BUCKETS,
      registers,
    });
    this.siteUp = new Gauge({ name: 'ferry_site_up', help: "1 when every probed service of the site is up (after hysteresis), 0 when it is degraded or down.", labelNames: ['site'], registers });
    this.siteStatus = new Gauge({ name: 'ferry_site_status', help: "1 for the site's current status (up, degraded, down), 0 for the others.", labelNames: ['site', 'status'], registers });
    this.serviceUp = new Gauge({ name: 'ferry_site_service_up', help: 'Per probed service of a site (identity, compute, block-storage, orchestration, object-store): 1 up, 0 down.', labelNames: ['site', 'service'], registers });
    this.osRequests = new Counter({
      name: 'ferry_openstack_requests_total',
      help: 'HTTP requests Ferry made to OpenStack APIs, by site, service, method and status (error: no answer).',
      labelNames: ['site', 'service', 'method', 'status'],
      registers,
    });
    this.osDuration = new Histogram({ name: 'ferry_openstack_request_duration_seconds', help: 'Duration of OpenStack API requests.', labelNames: ['site', 'service'], buckets: OPENSTACK_BUCKETS, registers });
    this.apiRequests = new Counter({ name: 'ferry_api_requests_total', help: "Requests to Ferry's REST API by route template and status.", labelNames: ['method', 'route', 'status'], registers });
    this.apiDuration = new Histogram({ name: 'ferry_api_request_duration_seconds', help: "Duration of Ferry's REST API requests.", labelNames: ['method', 'route'], buckets: API_BUCKETS, registers });
    this.leader = new Gauge({ name: 'ferry_leader', help: '1 when this daemon is the leader (it schedules), else 0.', registers });
    const build = new Gauge({ name: 'ferry_build_info', help: "Always 1; the version label is Ferry's.", labelNames: ['version'], registers });
    build.set({ version: opts.version ?? 'unknown' }, 1);

    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Sets (or replaces) where per-plan gauges come from. */
  setSnapshotSource(source: SnapshotSource | undefined): void {
    this.source = source;
    this.pending = undefined;
  }

  // ---- recording ----------------------------------------------------------------------------

  /**
   * A replication cycle ended: its duration by outcome, the bytes it moved, and whether it took
   * longer than half the RPO (returned, so the scheduler can warn in the same words).
   */
  recordCycle(plan: string, result: { status: string; durationMs: number; bytes: { volumes: number; images: number } }, rpoMs?: number): { slow: boolean } {
    this.cycleDuration.observe({ plan, outcome: result.status }, seconds(result.durationMs));
    if (result.bytes.volumes > 0) this.bytes.inc({ plan, kind: 'volumes' }, result.bytes.volumes);
    if (result.bytes.images > 0) this.bytes.inc({ plan, kind: 'images' }, result.bytes.images);
    const slow = rpoMs !== undefined && result.durationMs > rpoMs / 2;
    if (slow) this.cycleSlow.inc({ plan });
    return { slow };
  }

  /** One slow cycle (longer than half the RPO), counted once however often it is reported. */
  recordSlowCycle(plan: string): void {
    this.cycleSlow.inc({ plan });
  }

  /** A workflow run ended (or was interrupted). */
  recordRun(kind: RunKind, outcome: 'succeeded' | 'failed' | 'cancelled' | 'interrupted', durationMs: number): void {
    this.runDuration.observe({ kind, outcome }, seconds(durationMs));
  }

  /** A site's status after hysteresis; unknown removes its series. */
  setSiteState(site: string, state: SiteState): void {
    if (state === 'unknown') {
      this.siteUp.remove({ site });
      for (const status of SITE_STATES) this.siteStatus.remove({ site, status });
      return;
    }
    this.siteUp.set({ site }, state === 'up' ? 1 : 0);
    for (const status of SITE_STATES) this.siteStatus.set({ site, status }, status === state ? 1 : 0);
  }

  /** One probed service of a site; unknown removes its series. */
  setServiceState(site: string, service: string, state: Exclude<SiteState, 'degraded'>): void {
    if (state === 'unknown') this.serviceUp.remove({ site, service });
    else this.serviceUp.set({ site, service }, state === 'up' ? 1 : 0);
  }

  /** Pass as SiteOptions.onResponse: every OpenStack HTTP exchange of the site. */
  readonly recordOpenStackResponse = (e: ResponseEvent): void => {
    this.osRequests.inc({ site: e.site, service: e.service, method: e.method, status: String(e.status) });
    this.osDuration.observe({ site: e.site, service: e.service }, seconds(e.ms));
  };

  /** One API request (route: the template, e.g. /v1/plans/{name}; `unmatched` for unknown paths). */
  recordApiRequest(method: string, route: string, status: number, ms: number): void {
    this.apiRequests.inc({ method, route, status: String(status) });
    this.apiDuration.observe({ method, route }, seconds(ms));
  }

  setLeader(isLeader: boolean): void {
    this.leader.set(isLeader ? 1 : 0);
  }

  // ---- exposition ---------------------------------------------------------------------------

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition (what GET /metrics answers). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  private snapshot(): Promise<CatalogSnapshot | undefined> {
    const source = this.source;
    if (!source) return Promise.resolve(undefined);
    const now = this.now();
    if (this.pending && now.getTime() - this.pending.at < this.snapshotTtlMs) return this.pending.promise;
    const promise = source(now).catch((err: unknown) => {
      this.logger.warn('metrics: cannot read the catalog; per-plan metrics are absent from this scrape', { error: err instanceof Error ? err.message : String(err) });
      return undefined;
    });
    this.pending = { at: now.getTime(), promise };
    return promise;
  }
}

// ---- the catalog as the scrape sees it ---------------------------------------------------------

/** Per-plan facts from the catalog (one read of plans, points and active runs). */
export function catalogSnapshot(repo: CatalogRepo): SnapshotSource {
  return async (now) => {
    const plans = await repo.plans.list();
    const perPlan = await Promise.all(
      plans.map(async (plan) => {
        const [points, runs] = await Promise.all([repo.points.list(plan.name), repo.runs.list({ planName: plan.name, kind: 'replicate', limit: 1 })]);
        const status = statusOf(plan, points, runs[0], now);
        const age = (d: Date) => Math.max(0, now.getTime() - d.getTime());
        const newest = (s: PointStatus) => points.filter((p) => p.status === s).reduce<Date | undefined>((m, p) => (m === undefined || p.createdAt > m ? p.createdAt : m), undefined);
        const oldest = points.filter((p) => p.status === 'complete').reduce<Date | undefined>((m, p) => (m === undefined || p.createdAt < m ? p.createdAt : m), undefined);
        const newestAgeMs: PlanSnapshot['newestAgeMs'] = {};
        for (const s of ['complete', 'partial'] as const) {
          const d = newest(s);
          if (d) newestAgeMs[s] = age(d);
        }
        const counts = Object.fromEntries(POINT_STATUSES.map((s) => [s, points.filter((p) => p.status === s).length])) as Record<PointStatus, number>;
        const snap: PlanSnapshot = {
          plan: plan.name,
          project: plan.project,
          tier: plan.tier,
          primarySite: plan.primarySite,
          secondarySite: plan.secondarySite,
          activeSite: plan.activeSite,
          epoch: plan.epoch,
          rpoTargetMs: plan.rpoMs,
          currentRpoMs: status.currentRpoMs,
          rpoMet: status.rpoMet,
          points: counts,
          newestAgeMs,
          oldestCompleteAgeMs: oldest ? age(oldest) : undefined,
        };
        return snap;
      }),
    );
    const active = await repo.runs.list({ status: ['pending', 'running'] });
    const activeRuns: CatalogSnapshot['activeRuns'] = {};
    for (const r of active) activeRuns[r.kind] = (activeRuns[r.kind] ?? 0) + 1;
    return { plans: perPlan, activeRuns };
  };
}
