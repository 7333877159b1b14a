// Test support for the API specs: a catalog in memory with plans of two projects, recovery
// points and runs with journals; callers as Keystone tokens would describe them; and the API
// over them with an injectable validator.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'chai';
import type { z } from 'zod';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogRepo, type JsonObject, type Run } from '../../../lib/catalog/repo.js';
import { MemoryLogger } from '../../../lib/log.js';
import type { Caller, TokenValidator } from '../../../lib/daemon/api/auth.js';
import { buildApi, type ApiDeps, type StartRun } from '../../../lib/daemon/api/server.js';
import { ROUTES, type OperationId } from '../../../lib/daemon/api/routes.js';
import { ErrorBodySchema } from '../../../lib/daemon/api/schemas.js';

export const T0 = Date.parse('2026-11-27T03:00:00.000Z');
export const WEB_PROJECT_ID = '5f0c1d2e3a4b4c5d8e9f0a1b2c3d4e5f';
export const MINUTE = 60_000;

/** The callers the specs use, keyed by the token each presents. */
export const TOKENS = {
  reader: 'gAAAAAB-reader-token-web-0001',
  member: 'gAAAAAB-member-token-web-0002',
  projectAdmin: 'gAAAAAB-admin-token-web-0003',
  cloudAdmin: 'gAAAAAB-admin-token-admin-0004',
  systemAdmin: 'gAAAAAB-system-admin-token-0005',
  payrollReader: 'gAAAAAB-reader-token-payroll-0006',
  noRole: 'gAAAAAB-no-role-token-web-0007',
} as const;
export type Who = keyof typeof TOKENS;

const base = (over: Partial<Caller>): Caller => ({ userId: 'u', roles: [], expiresAt: new Date(T0 + 3_600_000), tokenHash: 'abcdef012345', ...over });
const web = { projectId: WEB_PROJECT_ID, projectName: 'web', projectDomainId: 'default' };

export const CALLERS: Record<Who, Caller> = {
  reader: base({ userId: 'u-rita', userName: 'rita', ...web, roles: ['reader'] }),
  member: base({ userId: 'u-max', userName: 'max', ...web, roles: ['member', 'reader'] }),
  // Keystone lists implied roles too; this one lists only admin to prove the policy implies them.
  projectAdmin: base({ userId: 'u-ada', userName: 'ada', ...web, roles: ['admin'] }),
  cloudAdmin: base({ userId: 'u-root', userName: 'root', projectId: 'a0000000000000000000000000000001', projectName: 'admin', projectDomainId: 'default', roles: ['admin', 'member', 'reader'] }),
  systemAdmin: base({ userId: 'u-sys', userName: 'sys', systemScope: 'all', roles: ['admin'] }),
  payrollReader: base({ userId: 'u-pat', userName: 'pat', projectId: 'b0000000000000000000000000000002', projectName: 'payroll', projectDomainId: 'default', roles: ['reader'] }),
  noRole: base({ userId: 'u-nobody', userName: 'nobody', ...web, roles: [] }),
};

/** A validator over TOKENS; swap `table` entries to revoke. Counts its calls. */
export function fakeValidator(): TokenValidator & { calls: string[]; table: Map<string, Caller> } {
  const table = new Map<string, Caller>(Object.entries(TOKENS).map(([who, token]) => [token, CALLERS[who as Who]]));
  const calls: string[] = [];
  const fn = (async (token: string) => {
    calls.push(token);
    return table.get(token);
  }) as TokenValidator & { calls: string[]; table: Map<string, Caller> };
  fn.calls = calls;
  fn.table = table;
  return fn;
}

export interface World {
  catalog: Catalog;
  repo: CatalogRepo;
  now: () => Date;
  advance(ms: number): void;
  /** Run IDs by label. */
  runs: { drtestDone: string; replicateDone: string; failoverRunning: string; payrollCycle: string };
  points: { complete: string; partial: string; inProgress: string; payroll: string };
}

const manifest = (volumes: number, images: number): JsonObject => ({
  apiVersion: 'ferry.recoverypoint/v1',
  data: { volumes: Array.from({ length: volumes }, (_, i) => ({ sourceVolumeId: `vol-${i}` })), images: Array.from({ length: images }, (_, i) => ({ sourceImageId: `img-${i}` })) },
});

/**
 * Plans: web (project by ID, the web project), payroll-db (project by name: payroll), old-web
 * (deleted, web project). Points of web: complete (30 min old), partial (10 min), in progress.
 */
export async function world(): Promise<World> {
  let t = T0 - 2 * 3_600_000;
  const now = () => new Date(t);
  const catalog = await openCatalog('sqlite::memory:');
  const repo = new CatalogRepo(catalog, { now });
  const plan = (name: string, project: string, rpoMs = 60 * MINUTE) =>
    repo.plans.upsert({ name, project, primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs, spec: { name, members: [{ tag: name }] } });
  await plan('web', WEB_PROJECT_ID);
  await plan('payroll-db', 'payroll', 30 * MINUTE);
  await plan('old-web', WEB_PROJECT_ID);
  await repo.plans.softDelete('old-web');

  const point = async (planName: string, at: number, end?: 'complete' | 'partial', size = 1024) => {
    const p = await repo.points.insert({ planName, consistency: 'crash', createdAt: new Date(at) });
    if (end === 'complete') await repo.points.complete(p.id, manifest(2, 1), size);
    if (end === 'partial') await repo.points.markPartial(p.id, manifest(1, 0), size);
    return p.id;
  };
  const complete = await point('web', T0 - 30 * MINUTE, 'complete', 4096);
  const partial = await point('web', T0 - 10 * MINUTE, 'partial', 2048);
  const inProgress = await point('web', T0 - 1 * MINUTE);
  const payroll = await point('payroll-db', T0 - 5 * MINUTE, 'complete');

  const run = async (planName: string, kind: Run['kind'], steps: string[], end?: 'succeeded' | 'failed', result?: JsonObject) => {
    t += MINUTE;
    const r = await repo.runs.create({ planName, kind, owner: 'daemon-1', params: { requestedBy: 'test' } });
    await repo.journal.append(r.id, { step: 'run', phase: 'observe', data: { owner: 'daemon-1', steps: steps.map((name) => ({ name, describe: `do ${name}`, action: 'create' })) } });
    for (const s of steps) {
      t += 1000;
      await repo.journal.append(r.id, { step: s, phase: 'observe', data: { done: false } });
      await repo.journal.append(r.id, { step: s, phase: 'act', data: { made: `${s}-1` } });
      await repo.journal.append(r.id, { step: s, phase: 'verify', data: { ok: true } });
      await repo.journal.append(r.id, { step: s, phase: 'done' });
    }
    if (end) {
      await repo.journal.append(r.id, { step: 'run', phase: 'done', data: { status: end } });
      await repo.runs.update(r.id, { status: end, ...(result ? { result } : {}) });
    }
    return r.id;
  };
  const replicateDone = await run('web', 'replicate', ['snapshots', 'volumes'], 'succeeded', { status: 'complete', durationMs: 60_000, bytes: { volumes: 4096, images: 0 }, pointId: complete });
  const drtestDone = await run('web', 'drtest', ['bubble', 'boot'], 'succeeded');
  const payrollCycle = await run('payroll-db', 'replicate', ['snapshots'], 'succeeded', { status: 'complete', durationMs: 1000, bytes: { volumes: 1, images: 0 } });
  const failoverRunning = await run('web', 'failover', ['stack']);
  t = T0;
  return {
    catalog,
    repo,
    now,
    advance: (ms) => {
      t += ms;
    },
    runs: { drtestDone, replicateDone, failoverRunning, payrollCycle },
    points: { complete, partial, inProgress, payroll },
  };
}

export interface ApiUnderTest {
  app: FastifyInstance;
  logger: MemoryLogger;
  validator: ReturnType<typeof fakeValidator>;
  started: { kind: string; plan: string; params: JsonObject; caller: Caller; requestId: string }[];
  /** GET/POST with the token of `who` (none when undefined). */
  call(method: 'GET' | 'POST', url: string, who?: Who, o?: { body?: unknown; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
}

/** The API over a world; startRun records its calls and creates a pending run. */
export async function api(w: World, over: Partial<ApiDeps> = {}): Promise<ApiUnderTest> {
  const logger = new MemoryLogger();
  const validator = fakeValidator();
  const started: ApiUnderTest['started'] = [];
  const startRun: StartRun = async (kind, plan, params, caller, ctx) => {
    started.push({ kind, plan: plan.name, params, caller, requestId: ctx.requestId });
    const run = await w.repo.runs.create({ planName: plan.name, kind, owner: 'daemon-1', params, status: 'pending' });
    return { runId: run.id };
  };
  const app = buildApi({ repo: w.repo, validateToken: validator, startRun, logger, now: w.now, version: '9.9.9', follow: { pollMs: 5, heartbeatMs: 1000, revalidateMs: 60_000 }, ...over });
  await app.ready();
  return {
    app,
    logger,
    validator,
    started,
    call: (method, url, who, o = {}) =>
      app.inject({
        method,
        url,
        headers: { ...(who ? { 'x-auth-token': TOKENS[who] } : {}), ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
        ...(o.body !== undefined ? { payload: JSON.stringify(o.body) } : {}),
      }),
  };
}

/** The JSON body, after checking it against the route's declared schema for its status. */
export function bodyOf<T = Record<string, unknown>>(res: LightMyRequestResponse, op: OperationId): T {
  const route = ROUTES.find((r) => r.operationId === op)!;
  const body = res.json() as unknown;
  const spec = route.responses[res.statusCode];
  const schema: z.ZodType = spec?.schema ?? ErrorBodySchema;
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new Error(`${op} ${res.statusCode}: the body does not match its schema: ${parsed.error.message}\n${res.body}`);
  return body as T;
}

/** An error answer: status, the one error shape, and the request ID in body and headers agree. */
export function expectError(res: LightMyRequestResponse, status: number, code: string, message?: RegExp): string {
  expect(res.statusCode, res.body).to.equal(status);
  const body = ErrorBodySchema.parse(res.json());
  expect(body.error.code).to.equal(code);
  expect(body.error.request_id).to.equal(res.headers['x-request-id']);
  if (message) expect(body.error.message).to.match(message);
  return body.error.message;
}
