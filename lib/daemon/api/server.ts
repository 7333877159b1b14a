// The REST API server: buildApi(deps) returns a fastify instance (not listening) that the
// daemon mounts, serving exactly the routes of routes.ts. Every request gets a request ID
// (X-Request-ID and X-OpenStack-Request-ID on every answer, an inbound req-<uuid> is kept);
// routes that need a token authenticate it (auth.ts), check the policy (policy.ts) and the
// caller's project scope, validate their inputs with zod, and answer errors in one shape.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { type CatalogRepo, type JsonObject, type Plan, type Run } from '../../catalog/repo.js';
import { silentLogger, type Logger } from '../../log.js';
import { redactUrl } from '../../redact.js';
import { summarizeRun } from '../../workflows/engine.js';
import { allStatus } from '../../workflows/status.js';
import type { Metrics } from '../metrics.js';
import { describeCaller, IdentityUnavailableError, type Caller, type TokenValidator } from './auth.js';
import { ApiError, describeZodError, errorBody, mapError, RunKindUnavailableError } from './errors.js';
import { DEFAULT_FOLLOW, pollRunEvents, streamRunEvents, type FollowOptions } from './events.js';
import { buildOpenApi } from './openapi.js';
import { Policy, type PolicyAction } from './policy.js';
import { fastifyPath, ROUTES, type OperationId } from './routes.js';
import {
  EventsQuery,
  IdParams,
  planDetail,
  PlanGetQuery,
  PlanListQuery,
  PlanNameParams,
  planSummary,
  pointDetail,
  PointListQuery,
  pointSummary,
  RunListQuery,
  runDetail,
  runLinks,
  runSummary,
  StartRunRequestSchema,
  type Advice,
  type DaemonInfo,
  type Health,
  type SiteStatus,
  type StartableKind,
  type StartRunResponse,
  type Status,
  type VersionDoc,
} from './schemas.js';

// ---- what the daemon hands the API ----------------------------------------------------------

/**
 * Starts a run of `kind` for `plan` on behalf of `caller` (the daemon's job: leader check,
 * the workflow, the owner). Resolves once the run is recorded in the catalog, with its ID; the
 * workflow goes on afterwards. Throw RunKindUnavailableError (501) for a kind it cannot run,
 * or ApiError for any other refusal (e.g. 503 `unavailable` on a follower that cannot reach
 * the leader); catalog errors map by themselves (a moved epoch is 409).
 */
export type StartRun = (kind: StartableKind, plan: Plan, params: JsonObject, caller: Caller, ctx: { requestId: string }) => Promise<{ runId: string }>;

/**
 * What GET /v1/status adds to the caller's plans: the sites' health (HealthView.sites passes
 * as is), the advice per plan (HealthView.advice; the API keeps the caller's plans'), and this
 * daemon.
 */
export interface DaemonStatus {
  sites?: readonly SiteStatus[];
  advice?: readonly Advice[];
  daemon?: DaemonInfo;
}

export interface ApiDeps {
  repo: CatalogRepo;
  /** Validates X-Auth-Token (keystoneTokenValidator(site).validate in the daemon). */
  validateToken: TokenValidator;
  /**
   * `[api] auth_strategy = noauth` (tests and labs only): no token is asked for or checked;
   * every request acts as this caller (noAuthCaller(): a system-scoped admin).
   */
  noAuth?: Caller;
  /** Starts runs; absent: POST /v1/plans/{name}/runs answers 501. */
  startRun?: StartRun;
  status?: (now: Date) => Promise<DaemonStatus> | DaemonStatus;
  /** /healthz; default: the catalog answers a query. */
  health?: () => Promise<Health> | Health;
  /** Default: the default rules (new Policy()). */
  policy?: Policy;
  /** Served at /metrics, and records every API request. */
  metrics?: Metrics;
  /** /metrics on this server: with a token and the rule metrics:read (default), without one, or not at all. */
  metricsAccess?: 'token' | 'public' | 'off';
  logger?: Logger;
  now?: () => Date;
  /** Ferry's version for the version documents. */
  version?: string;
  /** Keystone's URL for WWW-Authenticate on 401 answers. */
  authUri?: string;
  /** Following runs (poll, heartbeat, token re-check intervals). */
  follow?: Partial<Omit<FollowOptions, 'now'>>;
  /** Largest request body (default 64 KiB). */
  bodyLimit?: number;
  /** fastify's trustProxy (behind a load balancer). */
  trustProxy?: boolean | string;
}

const REQUEST_ID_RE = /^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The request ID: an inbound req-<uuid> (X-OpenStack-Request-ID or X-Request-ID) is kept, anything else replaced. */
export function requestIdFor(req: Pick<IncomingMessage, 'headers'>): string {
  for (const h of ['x-openstack-request-id', 'x-request-id']) {
    const v = req.headers[h];
    if (typeof v === 'string' && REQUEST_ID_RE.test(v)) return v;
  }
  return `req-${randomUUID()}`;
}

interface Ctx {
  req: FastifyRequest;
  reply: FastifyReply;
  /** Set for routes that need a token. */
  caller: Caller | undefined;
}

type Handler = (c: Ctx) => Promise<unknown>;

const UPDATED = '2026-11-27T00:00:00Z';

/** The API server. Call `listen()` on it (or `inject()` in tests); `close()` ends open event streams. */
export function buildApi(deps: ApiDeps): FastifyInstance {
  const repo = deps.repo;
  const policy = deps.policy ?? new Policy();
  const logger = deps.logger ?? silentLogger;
  const now = deps.now ?? (() => new Date());
  const version = deps.version ?? '0.0.0-dev';
  const metricsAccess = deps.metricsAccess ?? 'token';
  const follow: FollowOptions = { ...DEFAULT_FOLLOW, ...deps.follow, now };
  const callers = new WeakMap<FastifyRequest, Caller>();
  const closing = new AbortController();
  let openapi: Record<string, unknown> | undefined;

  const app = Fastify({
    logger: false,
    genReqId: requestIdFor,
    bodyLimit: deps.bodyLimit ?? 64 * 1024,
    trustProxy: deps.trustProxy ?? false,
    return503OnClosing: true,
  });

  // JSON only: fastify would otherwise hand a text/plain body to the handlers.
  app.removeContentTypeParser('text/plain');
  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-Request-ID', req.id);
    reply.header('X-OpenStack-Request-ID', req.id);
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.config && (req.routeOptions.config as { template?: string }).template;
    const ms = reply.elapsedTime;
    deps.metrics?.recordApiRequest(req.method, route ?? 'unmatched', reply.statusCode, ms);
    const caller = callers.get(req);
    logger.info(`${req.method} ${redactUrl(req.url)} ${reply.statusCode} ${Math.round(ms)}ms`, { requestId: req.id, ...(caller ? describeCaller(caller) : {}) });
  });
  app.addHook('preClose', async () => {
    closing.abort();
  });

  app.setNotFoundHandler(async (req, reply) => {
    reply.code(404).send(errorBody('not_found', `no route ${req.method} ${redactUrl(req.url.split('?')[0] ?? '')} (the routes: GET /v1/openapi.json)`, req.id));
  });
  app.setErrorHandler(async (err, req, reply) => {
    const m = mapError(err, req.id);
    if (m.internal) logger.error(`${req.method} ${redactUrl(req.url)} failed: ${err instanceof Error ? err.message : String(err)}`, { requestId: req.id, stack: err instanceof Error ? err.stack : undefined });
    else if (m.status >= 500) logger.warn(`${req.method} ${redactUrl(req.url)}: ${m.message}`, { requestId: req.id });
    reply
      .code(m.status)
      .headers(m.headers)
      .send(errorBody(m.code, m.message, req.id));
  });

  // ---- auth, policy, scope ------------------------------------------------------------------

  if (deps.noAuth) logger.warn('the API authenticates nobody ([api] auth_strategy = noauth): every request acts as an admin of the cloud; use this in tests and labs only');

  const authenticate = async (req: FastifyRequest): Promise<Caller> => {
    if (deps.noAuth) {
      callers.set(req, deps.noAuth);
      return deps.noAuth;
    }
    const unauthorized = (message: string) => new ApiError(401, 'unauthorized', message, deps.authUri ? { 'WWW-Authenticate': `Keystone uri="${deps.authUri}"` } : {});
    const header = req.headers['x-auth-token'];
    const token = Array.isArray(header) ? header[0] : header;
    if (!token) throw unauthorized('this needs a Keystone token in the X-Auth-Token header (fix: openstack token issue -f value -c id)');
    const caller = await deps.validateToken(token);
    if (!caller) throw unauthorized('Keystone does not accept this token (expired, revoked, or from another cloud); get a new one');
    callers.set(req, caller);
    return caller;
  };

  const authorize = (action: PolicyAction, caller: Caller, target: { plan?: string; project?: string; kind?: string } = {}) => {
    const d = policy.decide(action, caller, target);
    if (d.allowed) return;
    const c = describeCaller(caller);
    const roles = caller.roles.length > 0 ? caller.roles.join(', ') : 'none';
    throw new ApiError(403, 'forbidden', `policy does not allow ${action} (rule: ${d.rule}) for user ${c.user} in ${c.project} with roles ${roles}`);
  };

  const notFound = (what: string, id: string, fix: string) => new ApiError(404, 'not_found', `${what} '${id}' not found (${fix})`);

  /** The plan, when it exists and the caller's project may see it; else 404 (existence is not revealed). */
  const visiblePlan = async (name: string, caller: Caller, includeDeleted: boolean): Promise<Plan> => {
    const plan = await repo.plans.get(name, { includeDeleted });
    if (!plan || !policy.canSeeProject(caller, plan.project)) throw notFound('plan', name, 'GET /v1/plans lists the plans your token sees');
    return plan;
  };

  const visibleRun = async (id: string, caller: Caller): Promise<Run> => {
    const run = await repo.runs.get(id);
    const plan = run ? await repo.plans.get(run.planName, { includeDeleted: true }) : undefined;
    if (!run || !plan || !policy.canSeeProject(caller, plan.project)) throw notFound('run', id, 'GET /v1/runs lists the runs your token sees');
    return run;
  };

  const parse = <T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> => {
    const r = schema.safeParse(value ?? {});
    if (!r.success) throw new ApiError(400, 'bad_request', describeZodError(r.error, where));
    return r.data;
  };

  // ---- handlers, one per operation ------------------------------------------------------------

  const versionOf = (): VersionDoc['version'] => ({
    id: 'v1',
    status: 'CURRENT',
    updated: UPDATED,
    ferry: version,
    links: [
      { rel: 'self', href: '/v1' },
      { rel: 'describedby', href: '/v1/openapi.json', type: 'application/vnd.oai.openapi+json;version=3.1' },
    ],
  });

  const handlers: Record<OperationId, Handler> = {
    getVersions: async () => ({ versions: [versionOf()] }),
    getVersion: async () => ({ version: versionOf() }),
    getHealth: async ({ reply }) => {
      const health = deps.health ? await deps.health() : await catalogHealth(repo);
      reply.code(health.status === 'failing' ? 503 : 200);
      return health;
    },
    getOpenApi: async () => (openapi ??= buildOpenApi({ version })),

    listPlans: async ({ req, caller }) => {
      const q = parse(PlanListQuery, req.query, 'query');
      const plans = await repo.plans.list({ includeDeleted: q.include_deleted === true });
      const visible = plans.filter((p) => policy.canSeeProject(caller!, p.project) && (q.project === undefined || p.project === q.project));
      return { plans: visible.map(planSummary) };
    },
    getPlan: async ({ req, caller }) => {
      const p = parse(PlanNameParams, req.params, 'path');
      const q = parse(PlanGetQuery, req.query, 'query');
      return planDetail(await visiblePlan(p.name, caller!, q.include_deleted === true));
    },
    listPlanPoints: async ({ req, caller }) => {
      const p = parse(PlanNameParams, req.params, 'path');
      const q = parse(PointListQuery, req.query, 'query');
      const plan = await visiblePlan(p.name, caller!, true);
      const points = await repo.points.list(plan.name, { ...(q.status ? { status: q.status } : {}), limit: q.limit });
      return { points: points.map(pointSummary) };
    },
    getPoint: async ({ req, caller }) => {
      const p = parse(IdParams, req.params, 'path');
      const point = await repo.points.get(p.id);
      const plan = point ? await repo.plans.get(point.planName, { includeDeleted: true }) : undefined;
      if (!point || !plan || !policy.canSeeProject(caller!, plan.project)) throw notFound('recovery point', p.id, 'GET /v1/plans/{name}/points lists a plan\'s points');
      return pointDetail(point);
    },

    listRuns: async ({ req, caller }) => {
      const q = parse(RunListQuery, req.query, 'query');
      const filter = { ...(q.kind ? { kind: q.kind } : {}), ...(q.status ? { status: q.status } : {}), limit: q.limit };
      let runs: Run[];
      if (q.plan !== undefined) {
        await visiblePlan(q.plan, caller!, true);
        runs = await repo.runs.list({ ...filter, planName: q.plan });
      } else if (policy.seesAllProjects(caller!)) {
        runs = await repo.runs.list(filter);
      } else {
        const plans = (await repo.plans.list({ includeDeleted: true })).filter((p) => policy.canSeeProject(caller!, p.project));
        const lists = await Promise.all(plans.map((p) => repo.runs.list({ ...filter, planName: p.name })));
        runs = lists
          .flat()
          .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
          .slice(0, q.limit);
      }
      const t = now();
      const out = [];
      for (const r of runs) out.push(runSummary(r, await repo.journal.last(r.id), t));
      return { runs: out };
    },
    getRun: async ({ req, caller }) => {
      const p = parse(IdParams, req.params, 'path');
      const run = await visibleRun(p.id, caller!);
      const entries = await repo.journal.read(run.id);
      return runDetail(run, entries, summarizeRun(run, entries), now());
    },
    startRun: async ({ req, reply, caller }) => {
      const p = parse(PlanNameParams, req.params, 'path');
      const body = parse(StartRunRequestSchema, req.body, 'body');
      const plan = await visiblePlan(p.name, caller!, false);
      authorize(`runs:create:${body.kind}`, caller!, { plan: plan.name, project: plan.project, kind: body.kind });
      if (!deps.startRun) throw new RunKindUnavailableError(body.kind, 'this daemon serves the API without a workflow runner');
      const { runId } = await deps.startRun(body.kind, plan, (body.params ?? {}) as JsonObject, caller!, { requestId: req.id });
      logger.info(`started ${body.kind} run ${runId} of plan ${plan.name}`, { requestId: req.id, run: runId, ...describeCaller(caller!) });
      const links = runLinks(runId);
      reply.code(202).header('Location', links.self);
      const answer: StartRunResponse = { run: { id: runId, plan: plan.name, kind: body.kind, links } };
      return answer;
    },
    followRun: async ({ req, reply, caller }) => {
      const p = parse(IdParams, req.params, 'path');
      const q = parse(EventsQuery, req.query, 'query');
      const run = await visibleRun(p.id, caller!);
      const client = new AbortController();
      const signal = AbortSignal.any([client.signal, closing.signal]);
      req.raw.once('close', () => client.abort());
      const accept = String(req.headers.accept ?? '');
      if (!accept.includes('text/event-stream')) {
        return pollRunEvents(repo, run.id, q.after, q.wait * 1000, follow, signal);
      }
      const lastEventId = Number(req.headers['last-event-id']);
      const after = Number.isSafeInteger(lastEventId) && lastEventId >= 0 ? lastEventId : q.after;
      const token = String(req.headers['x-auth-token'] ?? '');
      const noAuth = deps.noAuth !== undefined;
      reply.hijack();
      reply.raw.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache',
        'X-Accel-Buffering': 'no',
      });
      await streamRunEvents(reply.raw, {
        repo,
        runId: run.id,
        after,
        opts: follow,
        signal,
        requestId: req.id,
        logger,
        stillAuthorized: async () => {
          if (noAuth) return true;
          try {
            return (await deps.validateToken(token)) !== undefined;
          } catch (err) {
            if (err instanceof IdentityUnavailableError) return true; // a Keystone blip does not end streams
            throw err;
          }
        },
      });
      // The hijacked reply still ends with onResponse (the log line and the metric).
      return reply;
    },

    getStatus: async ({ caller }) => {
      const t = now();
      const [plans, statuses] = await Promise.all([repo.plans.list(), allStatus(repo, t)]);
      const visible = new Set(plans.filter((p) => policy.canSeeProject(caller!, p.project)).map((p) => p.name));
      const extra = deps.status ? await deps.status(t) : {};
      const status: Status = {
        plans: statuses.filter((s) => visible.has(s.plan)),
        sites: [...(extra.sites ?? [])],
        advice: (extra.advice ?? []).filter((a) => visible.has(a.plan)),
        daemon: extra.daemon ?? {},
      };
      return status;
    },
    getMetrics: async ({ reply }) => {
      if (!deps.metrics || metricsAccess === 'off') throw new ApiError(404, 'not_found', 'this server does not serve metrics (see docs/metrics.md for the metrics listener)');
      reply.header('Content-Type', deps.metrics.contentType);
      return deps.metrics.text();
    },
  };

  for (const spec of ROUTES) {
    const needsToken = spec.auth && !(spec.operationId === 'getMetrics' && metricsAccess === 'public');
    app.route({
      method: spec.method,
      url: fastifyPath(spec.path),
      config: { template: spec.path },
      handler: async (req, reply) => {
        const caller = needsToken ? await authenticate(req) : undefined;
        if (caller && spec.policy && spec.policy !== 'runs:create:<kind>') authorize(spec.policy, caller);
        return handlers[spec.operationId]({ req, reply, caller });
      },
    });
  }
  return app;
}

async function catalogHealth(repo: CatalogRepo): Promise<Health> {
  try {
    await repo.runs.list({ limit: 1 });
    return { status: 'ok', checks: [{ name: 'catalog', ok: true }] };
  } catch (err) {
    return { status: 'failing', checks: [{ name: 'catalog', ok: false, detail: err instanceof Error ? err.message : String(err) }] };
  }
}

/** A server with only GET /metrics, without a token: for a listener on localhost or a management network. */
export function buildMetricsServer(metrics: Metrics, opts: { logger?: Logger } = {}): FastifyInstance {
  const logger = opts.logger ?? silentLogger;
  const app = Fastify({ logger: false, genReqId: requestIdFor });
  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-Request-ID', req.id);
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('Content-Type', metrics.contentType);
    return metrics.text();
  });
  app.setNotFoundHandler(async (req, reply) => {
    reply.code(404).send(errorBody('not_found', `no route ${req.method} ${redactUrl(req.url.split('?')[0] ?? '')} (this listener serves GET /metrics only)`, req.id));
  });
  app.setErrorHandler(async (err, req, reply) => {
    logger.error(`metrics: ${err instanceof Error ? err.message : String(err)}`, { requestId: req.id });
    reply.code(500).send(errorBody('internal', `internal error; the daemon's log has the details under request ${req.id}`, req.id));
  });
  return app;
}
