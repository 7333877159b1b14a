// Site health: every probe interval, cheap requests to the services a recovery needs at each
// site (Keystone, Nova, Cinder, Heat, the object store), with hysteresis so a single lost
// packet does not flip a site: a service is down after `failureThreshold` failed probes in a
// row and up again after `successThreshold` successes in a row (a new one starts `unknown`).
// Status changes are logged, handed to observers (metrics) and optionally POSTed to a webhook.
//
// Failover stays a human decision: the view says, per plan, when one is advised (its active
// site down, the other up) and with which command; nothing here acts on it.
//
// The probes (no retries, a short timeout each):
//  - identity: HEAD /v3/auth/tokens with the probe's own token as the subject (token
//    validation: Keystone and its token backend answer);
//  - compute, block-storage: the version document (GET, unauthenticated);
//  - orchestration: GET build_info (authenticated; heat-api asks heat-engine, so a stopped
//    engine shows);
//  - object-store: HEAD of the account (authenticated; proxy and account server).
// Without a token (Keystone down) the others are not probed: they keep their state, and the
// site is down because its Keystone is.
import { checkToken } from '../openstack/identity/tokens.js';
import type { ServiceType } from '../openstack/catalog.js';
import type { Site } from '../openstack/site.js';
import { silentLogger, type Logger } from '../log.js';
import { Loop, systemClock, type Clock } from './clock.js';

export const PROBED_SERVICES = ['identity', 'compute', 'block-storage', 'orchestration', 'object-store'] as const satisfies readonly ServiceType[];
export type ProbedService = (typeof PROBED_SERVICES)[number];

/** One probe's outcome; `ok: undefined` when it was not probed (no token). */
export interface ServiceProbe {
  service: ProbedService;
  ok: boolean | undefined;
  latencyMs: number;
  error?: string;
}

export type ServiceStatus = 'unknown' | 'up' | 'down';
export type SiteStatus = 'unknown' | 'up' | 'degraded' | 'down';

export interface ServiceHealth {
  service: ProbedService;
  status: ServiceStatus;
  /** When the status last changed (ISO), undefined while unknown. */
  since: string | undefined;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  lastProbeAt: string | undefined;
  lastLatencyMs: number | undefined;
  lastError: string | undefined;
}

export interface SiteHealth {
  site: string;
  status: SiteStatus;
  since: string | undefined;
  services: ServiceHealth[];
  /** A problem probing the site at all (its cloud is not in clouds.yaml, ...). */
  error: string | undefined;
}

export interface Thresholds {
  failureThreshold: number;
  successThreshold: number;
}

// ---- hysteresis (pure) ---------------------------------------------------------------

export function newServiceHealth(service: ProbedService): ServiceHealth {
  return { service, status: 'unknown', since: undefined, consecutiveFailures: 0, consecutiveSuccesses: 0, lastProbeAt: undefined, lastLatencyMs: undefined, lastError: undefined };
}

/** The service's health after one probe; `changed` when its status moved. */
export function applyProbe(prev: ServiceHealth, probe: ServiceProbe, at: Date, t: Thresholds): { next: ServiceHealth; changed: boolean } {
  if (probe.ok === undefined) return { next: prev, changed: false };
  const next: ServiceHealth = {
    ...prev,
    consecutiveFailures: probe.ok ? 0 : prev.consecutiveFailures + 1,
    consecutiveSuccesses: probe.ok ? prev.consecutiveSuccesses + 1 : 0,
    lastProbeAt: at.toISOString(),
    lastLatencyMs: probe.latencyMs,
    lastError: probe.ok ? undefined : probe.error,
  };
  let status = prev.status;
  if (probe.ok && prev.status !== 'up' && next.consecutiveSuccesses >= t.successThreshold) status = 'up';
  if (!probe.ok && prev.status !== 'down' && next.consecutiveFailures >= t.failureThreshold) status = 'down';
  if (status === prev.status) return { next, changed: false };
  return { next: { ...next, status, since: at.toISOString() }, changed: true };
}

/**
 * A site from its services: down when its Keystone is down or every service is; degraded when
 * some are down; up when all are up; unknown otherwise (not enough probes yet).
 */
export function siteStatusOf(services: readonly Pick<ServiceHealth, 'service' | 'status'>[]): SiteStatus {
  if (services.length === 0) return 'unknown';
  if (services.some((s) => s.service === 'identity' && s.status === 'down')) return 'down';
  if (services.every((s) => s.status === 'down')) return 'down';
  if (services.some((s) => s.status === 'down')) return 'degraded';
  if (services.every((s) => s.status === 'up')) return 'up';
  return 'unknown';
}

// ---- advice (pure) --------------------------------------------------------------------

export interface PlanSites {
  name: string;
  primarySite: string;
  secondarySite: string;
  activeSite: string;
}

export type AdviceLevel = 'ok' | 'watch' | 'protection-at-risk' | 'failover-advised' | 'no-site-available';

export interface Advice {
  plan: string;
  activeSite: string;
  targetSite: string;
  level: AdviceLevel;
  message: string;
}

/** What the operator should know per plan, from the two sites' status. */
export function adviseFailover(plans: readonly PlanSites[], status: (site: string) => SiteStatus): Advice[] {
  return plans.map((p) => {
    const targetSite = p.activeSite === p.primarySite ? p.secondarySite : p.primarySite;
    const active = status(p.activeSite);
    const target = status(targetSite);
    const base = { plan: p.name, activeSite: p.activeSite, targetSite };
    if (active === 'down' && target === 'up') {
      return { ...base, level: 'failover-advised', message: `site ${p.activeSite}, where plan '${p.name}' runs, is down and ${targetSite} is up: decide whether to fail over (ferry failover ${p.name})` };
    }
    if (active === 'down') {
      return { ...base, level: 'no-site-available', message: `site ${p.activeSite}, where plan '${p.name}' runs, is down and ${targetSite} is ${target}: no failover is possible until ${targetSite} is up` };
    }
    if (target === 'down' || target === 'degraded') {
      return { ...base, level: 'protection-at-risk', message: `site ${targetSite}, where plan '${p.name}' replicates to, is ${target}: new recovery points may fail` };
    }
    if (active === 'degraded') {
      return { ...base, level: 'watch', message: `site ${p.activeSite}, where plan '${p.name}' runs, is degraded: watch it` };
    }
    return { ...base, level: 'ok', message: active === 'up' && target === 'up' ? 'both sites are up' : 'waiting for enough probes' };
  });
}

// ---- probes ----------------------------------------------------------------------------

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The version document's URL for an endpoint: Cinder's (and old Nova's) project suffix dropped. */
export function versionDocumentUrl(endpoint: string, projectId?: string): string {
  const last = endpoint.split('/').pop() ?? '';
  const base = (projectId && last === projectId) || /^(AUTH_)?[0-9a-f]{32}$/.test(last) ? endpoint.slice(0, -(last.length + 1)) : endpoint;
  return `${base.replace(/\/+$/, '')}/`;
}

/** Probes the services of one site once; never throws for a service failure. */
export async function probeSite(site: Site, opts: { signal?: AbortSignal; timeoutMs: number; now?: () => number }): Promise<ServiceProbe[]> {
  const now = opts.now ?? Date.now;
  const { signal, timeoutMs } = opts;
  const timed = async (service: ProbedService, fn: () => Promise<unknown>): Promise<ServiceProbe> => {
    const t0 = now();
    try {
      await fn();
      return { service, ok: true, latencyMs: now() - t0 };
    } catch (err) {
      return { service, ok: false, latencyMs: now() - t0, error: messageOf(err) };
    }
  };
  let token: { value: string; projectId: string | undefined } | undefined;
  let stale = false;
  const identity = await timed('identity', async () => {
    const t = await site.connect(signal);
    token = { value: t.value, projectId: t.info.project?.id };
    if (!(await checkToken(site.identity, t.value, { signal }))) {
      // Our own token unknown to Keystone: its token backend lost it (a new one next round).
      stale = true;
      throw new Error("Keystone does not recognise the probe's own token (its token store lost it?)");
    }
  });
  if (!token) {
    return [identity, ...PROBED_SERVICES.filter((s) => s !== 'identity').map((service): ServiceProbe => ({ service, ok: undefined, latencyMs: 0, error: 'not probed: no token from Keystone' }))];
  }
  const projectId = token.projectId;
  const versionDoc = (type: ServiceType) => async () => {
    const sc = site.service(type);
    const url = versionDocumentUrl(await sc.endpoint(signal), projectId);
    // With the token: a real Cinder (Zed) answers its /v3/ version document 401 without one.
    await sc.transport.request({ method: 'GET', url, ok: [200, 300], auth: true, service: type, signal, timeoutMs });
  };
  const rest = await Promise.all([
    timed('compute', versionDoc('compute')),
    timed('block-storage', versionDoc('block-storage')),
    timed('orchestration', () => site.orchestration.get('build_info', { signal, timeoutMs })),
    timed('object-store', () => site.objectStore.head('', { signal, timeoutMs, ok: [200, 204] })),
  ]);
  if (stale) site.session.invalidate();
  return [identity, ...rest];
}

// ---- the webhook ------------------------------------------------------------------------

export interface SiteTransition {
  site: string;
  from: SiteStatus;
  to: SiteStatus;
  at: string;
  services: { service: ProbedService; status: ServiceStatus; lastError?: string }[];
  /** The advice for the plans touching this site, after the change. */
  advice: Advice[];
}

/** The JSON document POSTed to [health] webhook_url. */
export function webhookDocument(t: SiteTransition, daemon: string): Record<string, unknown> {
  return { event: 'ferry.site.status', daemon, ...t };
}

/** Where a URL points, without its path or query (they may carry a token). */
export function urlOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(unparseable URL)';
  }
}

/** POSTs JSON; throws with the status (never the URL's path or query) when it fails. */
export async function postJson(url: string, body: unknown, timeoutMs: number): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new Error(`${urlOrigin(url)} answered ${res.status}`);
}

// ---- the monitor ----------------------------------------------------------------------------

/** Probes one site by cloud name (the daemon builds the Site; tests pass a fake). */
export type SiteProber = (site: string, o: { signal: AbortSignal; timeoutMs: number }) => Promise<ServiceProbe[]>;

export interface HealthObserver {
  probed?(e: { site: string; probe: ServiceProbe }): void;
  serviceChanged?(e: { site: string; service: ProbedService; from: ServiceStatus; to: ServiceStatus }): void;
  siteChanged?(e: SiteTransition): void;
  /** A site is no longer probed: no live plan uses it and [health] sites does not name it. */
  siteDropped?(e: { site: string; lastStatus: SiteStatus }): void;
}

export interface HealthSettings extends Thresholds {
  intervalMs: number;
  timeoutMs: number;
  /** Sites probed besides the plans' own. */
  extraSites: readonly string[];
  webhook?: { url: string; timeoutMs: number };
}

export interface HealthView {
  /** When the last round ended (ISO); undefined before the first. */
  updatedAt: string | undefined;
  thresholds: Thresholds;
  sites: SiteHealth[];
  advice: Advice[];
}

export interface HealthMonitorOptions {
  settings: HealthSettings;
  prober: SiteProber;
  /** The live plans (their sites are probed, advice is given for them). */
  plans: () => Promise<PlanSites[]>;
  clock?: Clock;
  logger?: Logger;
  observer?: HealthObserver;
  /** Whether this daemon sends the webhook (the leader only); default always. */
  sendsWebhook?: () => boolean;
  /** The daemon's ID, in the webhook document. */
  daemon?: string;
  /** The POST (tests pass a fake); default postJson. */
  post?: (url: string, body: unknown, timeoutMs: number) => Promise<void>;
}

export class HealthMonitor {
  private readonly sites = new Map<string, SiteHealth>();
  private advice: Advice[] = [];
  private updatedAt: string | undefined;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly loop: Loop;
  private readonly controller = new AbortController();
  private readonly warnedErrors = new Map<string, string>();
  private readonly posts = new Set<Promise<void>>();

  constructor(private readonly o: HealthMonitorOptions) {
    this.clock = o.clock ?? systemClock;
    this.log = (o.logger ?? silentLogger).child({ logger: 'ferry.daemon.health' });
    this.loop = new Loop('site health', this.clock, o.settings.intervalMs, () => this.probeRound(), this.log);
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    this.controller.abort(new Error('the daemon is stopping'));
    await this.loop.stop();
    await this.flush();
  }

  /** Waits for the webhook POSTs under way. */
  async flush(): Promise<void> {
    await Promise.all([...this.posts]);
  }

  /** The current health of every probed site, and the advice per plan. */
  view(): HealthView {
    return {
      updatedAt: this.updatedAt,
      thresholds: { failureThreshold: this.o.settings.failureThreshold, successThreshold: this.o.settings.successThreshold },
      sites: [...this.sites.values()].sort((a, b) => a.site.localeCompare(b.site)).map((s) => ({ ...s, services: s.services.map((x) => ({ ...x })) })),
      advice: this.advice.map((a) => ({ ...a })),
    };
  }

  /** The status of one site ('unknown' when it is not probed). */
  siteStatus(site: string): SiteStatus {
    return this.sites.get(site)?.status ?? 'unknown';
  }

  /** One round: every site probed at once, hysteresis applied, changes reported. */
  async probeRound(): Promise<void> {
    let plans: PlanSites[];
    let listed = true;
    try {
      plans = await this.o.plans();
    } catch (err) {
      this.log.warn(`site health: cannot list the plans: ${messageOf(err)}; probing the sites known so far`);
      plans = [];
      listed = false;
    }
    const wanted = new Set<string>([...this.o.settings.extraSites, ...plans.flatMap((p) => [p.primarySite, p.secondarySite])]);
    // A site only a deleted plan used is forgotten (not probed, not shown, its series gone);
    // when the plans cannot be listed, the sites known so far stay.
    if (listed) for (const site of [...this.sites.keys()].filter((s) => !wanted.has(s))) this.drop(site);
    const names = new Set<string>([...wanted, ...this.sites.keys()]);
    const transitions: SiteTransition[] = [];
    await Promise.all(
      [...names].map(async (name) => {
        const t = await this.probeOne(name);
        if (t) transitions.push(t);
      }),
    );
    this.advice = adviseFailover(plans, (s) => this.siteStatus(s));
    this.updatedAt = new Date(this.clock.now()).toISOString();
    for (const t of transitions) {
      t.advice = this.advice.filter((a) => a.activeSite === t.site || a.targetSite === t.site);
      this.report(t);
    }
  }

  private drop(site: string): void {
    const entry = this.sites.get(site);
    if (!entry) return;
    this.sites.delete(site);
    this.warnedErrors.delete(site);
    this.log.info(`site ${site}: no longer probed (no plan uses it and [health] sites does not name it)`, { site });
    this.o.observer?.siteDropped?.({ site, lastStatus: entry.status });
  }

  private async probeOne(name: string): Promise<SiteTransition | undefined> {
    const entry = this.sites.get(name) ?? { site: name, status: 'unknown' as SiteStatus, since: undefined, services: PROBED_SERVICES.map(newServiceHealth), error: undefined };
    this.sites.set(name, entry);
    let probes: ServiceProbe[];
    try {
      probes = await this.o.prober(name, { signal: this.controller.signal, timeoutMs: this.o.settings.timeoutMs });
      entry.error = undefined;
      this.warnedErrors.delete(name);
    } catch (err) {
      // Not the site failing, but our way to it (a cloud missing from clouds.yaml): no probe counts.
      entry.error = messageOf(err);
      if (this.warnedErrors.get(name) !== entry.error) this.log.warn(`site ${name}: cannot probe: ${entry.error}`, { site: name });
      this.warnedErrors.set(name, entry.error);
      return undefined;
    }
    const at = new Date(this.clock.now());
    const th = this.o.settings;
    entry.services = entry.services.map((s) => {
      const probe = probes.find((p) => p.service === s.service);
      if (!probe) return s;
      this.o.observer?.probed?.({ site: name, probe });
      const { next, changed } = applyProbe(s, probe, at, th);
      if (changed) {
        const line = `site ${name}: ${s.service} is ${next.status} (was ${s.status})${next.status === 'down' ? ` after ${next.consecutiveFailures} failed probes: ${next.lastError ?? 'unknown error'}` : ''}`;
        if (next.status === 'down') this.log.warn(line, { site: name });
        else this.log.info(line, { site: name });
        this.o.observer?.serviceChanged?.({ site: name, service: s.service, from: s.status, to: next.status });
      }
      return next;
    });
    const status = siteStatusOf(entry.services);
    if (status === entry.status) return undefined;
    const from = entry.status;
    entry.status = status;
    entry.since = at.toISOString();
    return {
      site: name,
      from,
      to: status,
      at: at.toISOString(),
      services: entry.services.map((s) => ({ service: s.service, status: s.status, ...(s.lastError ? { lastError: s.lastError } : {}) })),
      advice: [],
    };
  }

  private report(t: SiteTransition): void {
    const downs = t.services.filter((s) => s.status === 'down').map((s) => s.service);
    const line = `site ${t.site} is ${t.to} (was ${t.from})${downs.length ? `: ${downs.join(', ')} down` : ''}`;
    if (t.to === 'down' || t.to === 'degraded') this.log.warn(line, { site: t.site });
    else this.log.info(line, { site: t.site });
    for (const a of t.advice.filter((x) => x.level === 'failover-advised' || x.level === 'no-site-available')) this.log.warn(a.message, { site: t.site });
    this.o.observer?.siteChanged?.(t);
    const hook = this.o.settings.webhook;
    if (!hook || (this.o.sendsWebhook && !this.o.sendsWebhook())) return;
    const post = this.o.post ?? postJson;
    const sent = post(hook.url, webhookDocument(t, this.o.daemon ?? ''), hook.timeoutMs).then(
      () => this.log.info(`site ${t.site}: webhook ${urlOrigin(hook.url)} notified (${t.from} → ${t.to})`, { site: t.site }),
      (err: unknown) => this.log.warn(`site ${t.site}: webhook ${urlOrigin(hook.url)} failed: ${messageOf(err)}`, { site: t.site }),
    );
    this.posts.add(sent);
    void sent.finally(() => this.posts.delete(sent));
  }
}

/** One probe of each site, without hysteresis: a snapshot for an in-process `ferry status`. */
export async function probeOnce(sites: readonly string[], prober: SiteProber, timeoutMs: number): Promise<{ site: string; status: SiteStatus; probes: ServiceProbe[]; error?: string }[]> {
  const controller = new AbortController();
  return Promise.all(
    sites.map(async (site) => {
      try {
        const probes = await prober(site, { signal: controller.signal, timeoutMs });
        const status = siteStatusOf(probes.map((p) => ({ service: p.service, status: p.ok === undefined ? 'unknown' : p.ok ? 'up' : 'down' })));
        return { site, status, probes };
      } catch (err) {
        return { site, status: 'unknown' as SiteStatus, probes: [], error: messageOf(err) };
      }
    }),
  );
}
