// The daemon's listeners: the REST API ([api]) and the Prometheus metrics listener
// ([metrics]), one daemon service registered on import (lib/cli/daemon.ts imports this).
//
// Decisions:
//  - One Metrics registry per daemon, fed by the daemon's observer (metrics-observer.ts) and
//    read by both listeners: /metrics on the API port (with a token, [api] metrics_access) and
//    the token-less metrics listener for Prometheus.
//  - Tokens are validated against [keystone_authtoken] cloud's Keystone through the daemon's
//    own Site for that cloud, cached [keystone_authtoken] token_cache_time.
//  - Runs go through daemon.startRun: the leader only, in the background, 202 once recorded.
//  - Nothing enabled: nothing listens, and nothing is recorded (no observer).
import { loadPolicyFile, type Policy } from './api/policy.js';
import { keystoneTokenValidator, noAuthCaller, type TokenValidator } from './api/auth.js';
import { buildApi, buildMetricsServer, type DaemonStatus as ApiDaemonStatus } from './api/server.js';
import { registerDaemonService, type Daemon, type DaemonService, type DaemonServiceContext } from './daemon.js';
import { catalogSnapshot, Metrics } from './metrics.js';
import { metricsObserver } from './metrics-observer.js';
import type { FastifyInstance } from 'fastify';

/** Ferry's version in the version documents and ferry_build_info. */
export const FERRY_VERSION = '0.1.0';

export const API_SERVICE = 'api';

/** What GET /v1/status adds from the daemon: site health, failover advice, the daemon itself. */
export function daemonStatusForApi(daemon: Daemon): ApiDaemonStatus {
  const health = daemon.health();
  const leader = daemon.elector.status();
  // JSON as the wire has it: absent rather than undefined fields.
  const defined = <T extends object>(o: T): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  return {
    sites: (health?.sites ?? []).map((site) => ({ ...defined(site), site: site.site, status: site.status, services: site.services.map((x) => ({ ...defined(x), service: x.service, status: x.status })) })),
    advice: (health?.advice ?? []).map((a) => ({ ...a })),
    daemon: { id: daemon.id, leader: daemon.isLeader(), ...(leader.holder ? { leaderId: leader.holder } : {}), startedAt: daemon.startedAt.toISOString() },
  };
}

/** The API and metrics listeners of one daemon, as its configuration says. */
export async function startListeners(ctx: DaemonServiceContext, over: { validateToken?: TokenValidator } = {}): Promise<DaemonService> {
  const { daemon, config, repo } = ctx;
  const log = ctx.logger.child({ logger: 'ferry.daemon.api' });
  if (!config.api.enabled && !config.metrics.enabled) {
    log.info('REST API and metrics listener off ([api] enabled = false, [metrics] enabled = false)');
    return { name: API_SERVICE, close: async () => undefined };
  }
  const metrics = new Metrics({ snapshot: catalogSnapshot(repo), version: FERRY_VERSION, defaultMetrics: config.metrics.process_metrics, logger: log });
  metrics.setLeader(daemon.isLeader());
  const unobserve = daemon.observe(metricsObserver(metrics));
  const servers: { what: string; app: FastifyInstance }[] = [];
  const close = async () => {
    for (const s of servers.splice(0).reverse()) {
      try {
        await s.app.close();
      } catch (err) {
        log.warn(`${s.what} did not close cleanly: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    unobserve();
  };
  try {
    if (config.api.enabled) {
      const noAuth = config.api.auth_strategy === 'noauth';
      let validateToken: TokenValidator = async () => undefined;
      let authUri: string | undefined;
      if (!noAuth) {
        // config.ts refuses keystone without a cloud; the check here keeps the types honest.
        const cloud = config.keystone_authtoken.cloud;
        if (!cloud) throw new Error('[keystone_authtoken] cloud is not set, and the API authenticates callers with Keystone');
        if (over.validateToken) validateToken = over.validateToken;
        else {
          const site = daemon.sites(cloud);
          validateToken = keystoneTokenValidator(site, { ttlMs: config.keystone_authtoken.token_cache_time.ms, logger: log }).validate;
          authUri = site.cloud.auth.auth_url;
        }
      }
      const policy: Policy = loadPolicyFile(config.oslo_policy.policy_file, { optional: true, projectNameDomain: config.keystone_authtoken.project_name_domain });
      const app = buildApi({
        repo,
        validateToken,
        ...(noAuth ? { noAuth: noAuthCaller() } : {}),
        startRun: (kind, plan, params, caller, c) => daemon.startRun(kind, plan, params, caller, c),
        status: () => daemonStatusForApi(daemon),
        policy,
        metrics,
        metricsAccess: config.api.metrics_access,
        logger: log,
        version: FERRY_VERSION,
        ...(authUri ? { authUri } : {}),
      });
      servers.push({ what: 'the REST API', app });
      const at = await app.listen({ host: config.api.bind_host, port: config.api.bind_port });
      log.info(`REST API listening on ${at} (auth ${config.api.auth_strategy}${noAuth ? '' : ` against cloud ${config.keystone_authtoken.cloud}`}, /metrics ${config.api.metrics_access})`);
    }
    if (config.metrics.enabled) {
      const app = buildMetricsServer(metrics, { logger: log });
      servers.push({ what: 'the metrics listener', app });
      const at = await app.listen({ host: config.metrics.bind_host, port: config.metrics.bind_port });
      log.info(`metrics listening on ${at}/metrics (no token)`);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { name: API_SERVICE, close };
}

registerDaemonService(API_SERVICE, (ctx) => startListeners(ctx));
