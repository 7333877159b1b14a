// The REST API through fastify's inject(): every route, authentication, the default policy,
// project scoping, input validation, the one error shape, request IDs, following runs (long
// poll and Server-Sent Events) and what reaches the log.
import { expect } from 'chai';
import { CatalogNotFoundError, EpochConflictError, type JsonObject } from '../../../lib/catalog/repo.js';
import { IdentityUnavailableError, noAuthCaller } from '../../../lib/daemon/api/auth.js';
import { ApiError, RunKindUnavailableError } from '../../../lib/daemon/api/errors.js';
import { parsePolicyText } from '../../../lib/daemon/api/policy.js';
import { Metrics } from '../../../lib/daemon/metrics.js';
import { api, bodyOf, CALLERS, expectError, MINUTE, T0, TOKENS, WEB_PROJECT_ID, world, type ApiUnderTest, type Who, type World } from './api-fixtures.js';

type Named = { name: string };

/** Server-Sent Events as {id, event, data} records (comments and retry lines dropped). */
function sse(text: string): { id?: string; event: string; data: Record<string, unknown> }[] {
  return text
    .split('\n\n')
    .map((block) => block.split('\n').filter((l) => l && !l.startsWith(':') && !l.startsWith('retry:')))
    .filter((lines) => lines.length > 0)
    .map((lines) => {
      const field = (k: string) => lines.find((l) => l.startsWith(`${k}: `))?.slice(k.length + 2);
      const id = field('id');
      return { ...(id !== undefined ? { id } : {}), event: field('event') ?? 'message', data: JSON.parse(field('data') ?? 'null') as Record<string, unknown> };
    });
}

describe('daemon API', () => {
  let w: World;
  let a: ApiUnderTest;

  beforeEach(async () => {
    w = await world();
    a = await api(w);
  });
  afterEach(async () => {
    await a.app.close();
    await w.catalog.close();
  });

  describe('discovery and health (no token)', () => {
    it('GET / lists v1 and GET /v1 is the version document linking the OpenAPI document', async () => {
      const root = bodyOf<{ versions: { id: string }[] }>(await a.call('GET', '/'), 'getVersions');
      expect(root.versions.map((v) => v.id)).to.deep.equal(['v1']);
      const res = await a.call('GET', '/v1');
      const doc = bodyOf<{ version: { id: string; status: string; ferry: string; links: { rel: string; href: string }[] } }>(res, 'getVersion');
      expect(doc.version).to.include({ id: 'v1', status: 'CURRENT', ferry: '9.9.9' });
      expect(doc.version.links.find((l) => l.rel === 'describedby')?.href).to.equal('/v1/openapi.json');
      expect(a.validator.calls).to.deep.equal([]);
    });

    it('GET /healthz answers 200 while the catalog answers, 503 when the health function says failing', async () => {
      const ok = bodyOf<{ status: string; checks: { name: string; ok: boolean }[] }>(await a.call('GET', '/healthz'), 'getHealth');
      expect(ok).to.deep.equal({ status: 'ok', checks: [{ name: 'catalog', ok: true }] });
      const b = await api(w, { health: () => ({ status: 'failing', checks: [{ name: 'scheduler', ok: false, detail: 'stalled for 10 min' }] }) });
      const res = await b.call('GET', '/healthz');
      expect(res.statusCode).to.equal(503);
      expect(bodyOf<{ status: string }>(res, 'getHealth').status).to.equal('failing');
      await b.app.close();
    });

    it('GET /healthz says failing when the catalog is gone', async () => {
      await w.catalog.close();
      const res = await a.call('GET', '/healthz');
      expect(res.statusCode).to.equal(503);
      expect(bodyOf<{ checks: { name: string; ok: boolean }[] }>(res, 'getHealth').checks[0]).to.include({ name: 'catalog', ok: false });
      w = await world(); // afterEach closes it
    });
  });

  describe('authentication', () => {
    it('refuses a request without X-Auth-Token with 401, the one error shape and a request ID', async () => {
      const res = await a.call('GET', '/v1/plans');
      expectError(res, 401, 'unauthorized', /X-Auth-Token/);
      expect(res.headers['x-request-id']).to.match(/^req-[0-9a-f-]{36}$/);
      expect(res.headers['x-openstack-request-id']).to.equal(res.headers['x-request-id']);
      expect(a.validator.calls).to.deep.equal([]);
    });

    it('refuses a token Keystone does not know with 401 and WWW-Authenticate naming Keystone', async () => {
      const b = await api(w, { authUri: 'https://keystone.site-a.test:5000/v3' });
      const res = await b.app.inject({ method: 'GET', url: '/v1/plans', headers: { 'x-auth-token': 'gAAAAAB-not-a-token' } });
      expectError(res, 401, 'unauthorized', /does not accept this token/);
      expect(res.headers['www-authenticate']).to.equal('Keystone uri="https://keystone.site-a.test:5000/v3"');
      expect(b.validator.calls).to.deep.equal(['gAAAAAB-not-a-token']);
      await b.app.close();
    });

    it('answers 503 identity_unavailable when Keystone cannot say', async () => {
      const b = await api(w, {
        validateToken: async () => {
          throw new IdentityUnavailableError('cannot validate the token with Keystone: identity: GET https://keystone/v3/auth/tokens returned 503');
        },
      });
      expectError(await b.call('GET', '/v1/plans', 'reader'), 503, 'identity_unavailable', /returned 503/);
      await b.app.close();
    });

    it("keeps a caller's req-<uuid> request ID and replaces anything else", async () => {
      const mine = 'req-0b9b4a3e-6a57-4c8e-9d1e-2f3a4b5c6d7e';
      const kept = await a.call('GET', '/v1', undefined, { headers: { 'x-openstack-request-id': mine } });
      expect(kept.headers['x-request-id']).to.equal(mine);
      const replaced = await a.call('GET', '/v1', undefined, { headers: { 'x-request-id': 'evil\nvalue' } });
      expect(replaced.headers['x-request-id']).to.match(/^req-[0-9a-f-]{36}$/).and.not.equal(mine);
    });

    it('noauth (labs): no token asked for, every request acts as a cloud admin, and a warning says so', async () => {
      const b = await api(w, { noAuth: noAuthCaller() });
      expect(b.logger.lines[0]).to.deep.include({ level: 'warn' });
      expect(b.logger.lines[0]!.msg).to.match(/auth_strategy = noauth/);
      const plans = bodyOf<{ plans: Named[] }>(await b.call('GET', '/v1/plans'), 'listPlans');
      expect(plans.plans.map((p) => p.name)).to.deep.equal(['payroll-db', 'web']);
      expect((await b.call('POST', '/v1/plans/web/runs', undefined, { body: { kind: 'failover' } })).statusCode).to.equal(202);
      expect(b.validator.calls).to.deep.equal([]);
      await b.app.close();
    });

    it('a token without any role may not read (403)', async () => {
      expectError(await a.call('GET', '/v1/plans', 'noRole'), 403, 'forbidden', /plans:read \(rule: rule:reader_required\) for user nobody in web with roles none/);
    });
  });

  describe('plans (scoped to the token\'s project)', () => {
    const names = async (who: Who, query = '') => bodyOf<{ plans: Named[] }>(await a.call('GET', `/v1/plans${query}`, who), 'listPlans').plans.map((p) => p.name);

    it("a project's reader sees its plans (matched by project ID) and not another project's", async () => {
      expect(await names('reader')).to.deep.equal(['web']);
      expect(await names('member')).to.deep.equal(['web']);
    });

    it('a plan whose project is a name matches tokens of that project name', async () => {
      expect(await names('payrollReader')).to.deep.equal(['payroll-db']);
    });

    it('an admin of a project is not an admin of the cloud; admins of the admin project and system admins see all', async () => {
      expect(await names('projectAdmin')).to.deep.equal(['web']);
      expect(await names('cloudAdmin')).to.deep.equal(['payroll-db', 'web']);
      expect(await names('systemAdmin')).to.deep.equal(['payroll-db', 'web']);
    });

    it('include_deleted lists deleted plans; project filters for cloud admins', async () => {
      expect(await names('reader', '?include_deleted=true')).to.deep.equal(['old-web', 'web']);
      expect(await names('cloudAdmin', '?project=payroll')).to.deep.equal(['payroll-db']);
      expect(await names('reader', '?project=payroll')).to.deep.equal([]);
    });

    it('GET /v1/plans/{name} gives the plan with its document; another project\'s plan is 404 as if absent', async () => {
      const plan = bodyOf<{ name: string; project: string; spec: JsonObject; activeSite: string; deletedAt: null }>(await a.call('GET', '/v1/plans/web', 'reader'), 'getPlan');
      expect(plan).to.include({ name: 'web', project: WEB_PROJECT_ID, activeSite: 'site-a', deletedAt: null });
      expect(plan.spec).to.deep.equal({ name: 'web', members: [{ tag: 'web' }] });
      const hidden = expectError(await a.call('GET', '/v1/plans/payroll-db', 'reader'), 404, 'not_found');
      const absent = expectError(await a.call('GET', '/v1/plans/no-such-plan', 'reader'), 404, 'not_found');
      expect(hidden.replace('payroll-db', 'X')).to.equal(absent.replace('no-such-plan', 'X'));
      expectError(await a.call('GET', '/v1/plans/old-web', 'reader'), 404, 'not_found');
      expect(bodyOf<{ deletedAt: string }>(await a.call('GET', '/v1/plans/old-web?include_deleted=true', 'reader'), 'getPlan').deletedAt).to.be.a('string');
    });

    it('refuses unknown query parameters and bad values with 400 naming the field', async () => {
      expectError(await a.call('GET', '/v1/plans?all_tenants=1', 'reader'), 400, 'bad_request', /^query: Unrecognized key: "all_tenants"/);
      expectError(await a.call('GET', '/v1/plans/web?include_deleted=maybe', 'reader'), 400, 'bad_request', /^query\.include_deleted: /);
    });
  });

  describe('recovery points', () => {
    it("lists a plan's points newest first, filtered by status and limited", async () => {
      const all = bodyOf<{ points: { id: string; status: string; volumes: number; images: number; sizeBytes: number | null }[] }>(await a.call('GET', '/v1/plans/web/points', 'reader'), 'listPlanPoints').points;
      expect(all.map((p) => p.id)).to.deep.equal([w.points.inProgress, w.points.partial, w.points.complete]);
      expect(all[2]).to.include({ status: 'complete', volumes: 2, images: 1, sizeBytes: 4096 });
      const complete = bodyOf<{ points: { id: string }[] }>(await a.call('GET', '/v1/plans/web/points?status=complete', 'reader'), 'listPlanPoints').points;
      expect(complete.map((p) => p.id)).to.deep.equal([w.points.complete]);
      const one = bodyOf<{ points: { id: string }[] }>(await a.call('GET', '/v1/plans/web/points?limit=1', 'reader'), 'listPlanPoints').points;
      expect(one.map((p) => p.id)).to.deep.equal([w.points.inProgress]);
      expectError(await a.call('GET', '/v1/plans/web/points?limit=0', 'reader'), 400, 'bad_request', /^query\.limit: Too small/);
      expectError(await a.call('GET', '/v1/plans/payroll-db/points', 'reader'), 404, 'not_found');
    });

    it('GET /v1/points/{id} has the manifest; a point of another project is 404', async () => {
      const p = bodyOf<{ id: string; plan: string; manifest: JsonObject }>(await a.call('GET', `/v1/points/${w.points.complete}`, 'reader'), 'getPoint');
      expect(p).to.include({ id: w.points.complete, plan: 'web' });
      expect(p.manifest['apiVersion']).to.equal('ferry.recoverypoint/v1');
      expectError(await a.call('GET', `/v1/points/${w.points.payroll}`, 'reader'), 404, 'not_found');
      expect(bodyOf<{ id: string }>(await a.call('GET', `/v1/points/${w.points.payroll}`, 'payrollReader'), 'getPoint').id).to.equal(w.points.payroll);
    });
  });

  describe('runs', () => {
    const ids = async (who: Who, query = '') => bodyOf<{ runs: { id: string }[] }>(await a.call('GET', `/v1/runs${query}`, who), 'listRuns').runs.map((r) => r.id);

    it("lists the caller's runs newest first with their last journal entry", async () => {
      const res = bodyOf<{ runs: { id: string; kind: string; status: string; lastEntry: { step: string; phase: string } | null; links: { events: string } }[] }>(await a.call('GET', '/v1/runs', 'reader'), 'listRuns');
      expect(res.runs.map((r) => r.id)).to.deep.equal([w.runs.failoverRunning, w.runs.drtestDone, w.runs.replicateDone]);
      const last = (await w.repo.journal.last(w.runs.failoverRunning))!;
      expect(res.runs[0]).to.deep.include({ kind: 'failover', status: 'running', lastEntry: { seq: 5, at: last.at.toISOString(), step: 'stack', phase: 'done' } });
      expect(res.runs[0]!.links.events).to.equal(`/v1/runs/${w.runs.failoverRunning}/events`);
      expect(await ids('cloudAdmin')).to.deep.equal([w.runs.failoverRunning, w.runs.payrollCycle, w.runs.drtestDone, w.runs.replicateDone]);
      expect(await ids('payrollReader')).to.deep.equal([w.runs.payrollCycle]);
    });

    it('filters by plan, kind, status and limit; a plan the caller cannot see is 404', async () => {
      expect(await ids('reader', '?kind=drtest')).to.deep.equal([w.runs.drtestDone]);
      expect(await ids('reader', '?status=succeeded')).to.deep.equal([w.runs.drtestDone, w.runs.replicateDone]);
      expect(await ids('reader', '?plan=web&limit=2')).to.deep.equal([w.runs.failoverRunning, w.runs.drtestDone]);
      expect(await ids('reader', '?limit=1')).to.deep.equal([w.runs.failoverRunning]);
      expectError(await a.call('GET', '/v1/runs?plan=payroll-db', 'reader'), 404, 'not_found');
      expectError(await a.call('GET', '/v1/runs?kind=teleport', 'reader'), 400, 'bad_request', /^query\.kind: /);
    });

    it('GET /v1/runs/{id} has the steps and the whole journal as a timeline', async () => {
      const run = bodyOf<{ status: string; steps: { name: string; status: string; describe: string }[]; journal: { seq: number; step: string; phase: string }[] }>(
        await a.call('GET', `/v1/runs/${w.runs.drtestDone}`, 'reader'),
        'getRun',
      );
      expect(run.status).to.equal('succeeded');
      expect(run.steps.map((s) => [s.name, s.status, s.describe])).to.deep.equal([
        ['bubble', 'done', 'do bubble'],
        ['boot', 'done', 'do boot'],
      ]);
      expect(run.journal.map((e) => `${e.seq} ${e.step} ${e.phase}`)).to.deep.equal([
        '1 run observe',
        '2 bubble observe',
        '3 bubble act',
        '4 bubble verify',
        '5 bubble done',
        '6 boot observe',
        '7 boot act',
        '8 boot verify',
        '9 boot done',
        '10 run done',
      ]);
      expectError(await a.call('GET', `/v1/runs/${w.runs.payrollCycle}`, 'reader'), 404, 'not_found');
      expectError(await a.call('GET', '/v1/runs/nope', 'reader'), 404, 'not_found');
    });
  });

  describe('starting runs (policy by kind)', () => {
    const start = (who: Who | undefined, body: unknown, plan = 'web') => a.call('POST', `/v1/plans/${plan}/runs`, who, { body });

    it('a reader may read but not start a DR test (403), and nothing is started', async () => {
      expectError(await start('reader', { kind: 'drtest' }), 403, 'forbidden', /runs:create:drtest \(rule: rule:member_required\) for user rita in web with roles reader/);
      expect(a.started).to.deep.equal([]);
    });

    it('a member starts a DR test: 202, the run ID, Location, and the daemon gets kind, plan, params and caller', async () => {
      const res = await start('member', { kind: 'drtest', params: { pointId: w.points.complete } });
      expect(res.statusCode, res.body).to.equal(202);
      const body = bodyOf<{ run: { id: string; plan: string; kind: string; links: { self: string; events: string } } }>(res, 'startRun');
      expect(res.headers['location']).to.equal(`/v1/runs/${body.run.id}`);
      expect(body.run).to.deep.include({ plan: 'web', kind: 'drtest' });
      expect(a.started).to.have.length(1);
      expect(a.started[0]).to.deep.include({ kind: 'drtest', plan: 'web', params: { pointId: w.points.complete }, requestId: res.headers['x-request-id'] });
      expect(a.started[0]!.caller).to.deep.equal(CALLERS.member);
      const run = await w.repo.runs.get(body.run.id);
      expect(run).to.include({ planName: 'web', kind: 'drtest', status: 'pending' });
      expect(a.logger.lines.some((l) => l.msg === `started drtest run ${body.run.id} of plan web` && l.fields['user'] === 'max')).to.equal(true);
    });

    it('a member may not fail over or back (403); an admin of the project may (admin implies member)', async () => {
      expectError(await start('member', { kind: 'failover' }), 403, 'forbidden', /runs:create:failover \(rule: rule:admin_required\)/);
      expectError(await start('member', { kind: 'failback' }), 403, 'forbidden', /runs:create:failback/);
      expect(a.started).to.deep.equal([]);
      expect((await start('projectAdmin', { kind: 'failover' })).statusCode).to.equal(202);
      expect((await start('projectAdmin', { kind: 'failback' })).statusCode).to.equal(202);
      expect((await start('projectAdmin', { kind: 'drtest' })).statusCode).to.equal(202);
      expect(a.started.map((s) => s.kind)).to.deep.equal(['failover', 'failback', 'drtest']);
    });

    it("a member may not start runs of another project's plan: 404 as if absent; deleted plans are 404 too", async () => {
      expectError(await start('member', { kind: 'drtest' }, 'payroll-db'), 404, 'not_found');
      expectError(await start('member', { kind: 'drtest' }, 'old-web'), 404, 'not_found');
      expect((await start('cloudAdmin', { kind: 'failover' }, 'payroll-db')).statusCode).to.equal(202);
    });

    it('validates the body: kind one of drtest, failover, failback, replicate; no unknown keys; JSON only', async () => {
      expectError(await start('member', { kind: 'cleanup' }), 400, 'bad_request', /^body\.kind: Invalid option: expected one of "drtest"\|"failover"\|"failback"\|"replicate"/);
      expectError(await start('member', { kind: 'drtest', force: true }), 400, 'bad_request', /^body: Unrecognized key: "force"/);
      expectError(await start('member', { kind: 'drtest', params: [1] }), 400, 'bad_request', /^body\.params: /);
      expectError(await start('member', {}), 400, 'bad_request', /^body\.kind: /);
      const bad = await a.app.inject({ method: 'POST', url: '/v1/plans/web/runs', headers: { 'x-auth-token': TOKENS.member, 'content-type': 'application/json' }, payload: '{"kind":' });
      expectError(bad, 400, 'bad_request');
      const text = await a.app.inject({ method: 'POST', url: '/v1/plans/web/runs', headers: { 'x-auth-token': TOKENS.member, 'content-type': 'text/plain' }, payload: 'kind=drtest' });
      expectError(text, 415, 'unsupported_media_type');
      const huge = await start('member', { kind: 'drtest', params: { blob: 'x'.repeat(70 * 1024) } });
      expectError(huge, 413, 'payload_too_large');
      expect(a.started).to.deep.equal([]);
    });

    it('answers 501 when the daemon has no workflow runner, or none for the kind', async () => {
      const none = await api(w, { startRun: undefined });
      expectError(await none.call('POST', '/v1/plans/web/runs', 'member', { body: { kind: 'drtest' } }), 501, 'not_implemented', /cannot start a drtest run: this daemon serves the API without a workflow runner/);
      await none.app.close();
      const partial = await api(w, {
        startRun: async (kind) => {
          throw new RunKindUnavailableError(kind, 'the failover workflow is not installed in this daemon');
        },
      });
      expectError(await partial.call('POST', '/v1/plans/web/runs', 'projectAdmin', { body: { kind: 'failover' } }), 501, 'not_implemented', /failover workflow is not installed/);
      await partial.app.close();
    });

    it("maps the daemon's refusals: a moved epoch is 409, ApiError keeps its status, a missing plan 404", async () => {
      const cases: [Error, number, string][] = [
        [new EpochConflictError('web', 0, 1), 409, 'conflict'],
        [new ApiError(503, 'unavailable', 'this daemon is not the leader and cannot reach it', { 'Retry-After': '5' }), 503, 'unavailable'],
        [new CatalogNotFoundError('plan', 'web'), 404, 'not_found'],
      ];
      for (const [err, status, code] of cases) {
        const b = await api(w, {
          startRun: async () => {
            throw err;
          },
        });
        const res = await b.call('POST', '/v1/plans/web/runs', 'member', { body: { kind: 'drtest' } });
        expectError(res, status, code);
        if (status === 503) expect(res.headers['retry-after']).to.equal('5');
        await b.app.close();
      }
    });
  });

  describe('following a run', () => {
    it('long poll: a finished run answers at once with every entry and finished: true', async () => {
      const res = await a.call('GET', `/v1/runs/${w.runs.drtestDone}/events`, 'reader');
      const body = bodyOf<{ run: { status: string }; events: { seq: number }[]; next: number; finished: boolean }>(res, 'followRun');
      expect(body.finished).to.equal(true);
      expect(body.run.status).to.equal('succeeded');
      expect(body.events.map((e) => e.seq)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(body.next).to.equal(10);
      const after = bodyOf<{ events: { seq: number }[] }>(await a.call('GET', `/v1/runs/${w.runs.drtestDone}/events?after=8`, 'reader'), 'followRun');
      expect(after.events.map((e) => e.seq)).to.deep.equal([9, 10]);
    });

    it('long poll: waits for the next entry of a running run, or answers empty after `wait`', async () => {
      const id = w.runs.failoverRunning;
      const empty = bodyOf<{ events: unknown[]; next: number; finished: boolean }>(await a.call('GET', `/v1/runs/${id}/events?after=5&wait=0`, 'reader'), 'followRun');
      expect(empty).to.deep.include({ events: [], next: 5, finished: false });
      setTimeout(() => void w.repo.journal.append(id, { step: 'verify-servers', phase: 'observe', data: { done: false } }), 30);
      const t0 = Date.now();
      const next = bodyOf<{ events: { seq: number; step: string }[]; next: number; finished: boolean }>(await a.call('GET', `/v1/runs/${id}/events?after=5&wait=5`, 'reader'), 'followRun');
      expect(Date.now() - t0).to.be.within(20, 4000);
      expect(next.events.map((e) => `${e.seq} ${e.step}`)).to.deep.equal(['6 verify-servers']);
      expect(next).to.deep.include({ next: 6, finished: false });
    });

    it('SSE: a finished run streams run, its entries (id = seq) and end, then closes', async () => {
      const res = await a.call('GET', `/v1/runs/${w.runs.drtestDone}/events`, 'reader', { headers: { accept: 'text/event-stream' } });
      expect(res.statusCode).to.equal(200);
      expect(res.headers['content-type']).to.match(/^text\/event-stream/);
      expect(res.headers['x-request-id']).to.match(/^req-/);
      const events = sse(res.body);
      expect(events.map((e) => e.event)).to.deep.equal(['run', ...Array(10).fill('entry'), 'end']);
      expect(events.filter((e) => e.event === 'entry').map((e) => e.id)).to.deep.equal(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
      expect(events.at(-1)!.data).to.include({ id: w.runs.drtestDone, status: 'succeeded' });
    });

    it('SSE: Last-Event-ID resumes after that entry', async () => {
      const res = await a.call('GET', `/v1/runs/${w.runs.drtestDone}/events`, 'reader', { headers: { accept: 'text/event-stream', 'last-event-id': '8' } });
      expect(sse(res.body).map((e) => e.id ?? e.event)).to.deep.equal(['run', '9', '10', 'end']);
    });

    it('SSE: a run streams its status changes and entries as they are journaled, and ends when the run ends', async () => {
      const { id } = await w.repo.runs.create({ planName: 'web', kind: 'drtest', owner: 'daemon-1', status: 'pending' });
      const writer = (async () => {
        await new Promise((r) => setTimeout(r, 30));
        await w.repo.runs.update(id, { status: 'running' });
        await w.repo.journal.append(id, { step: 'bubble', phase: 'observe', data: { done: false } });
        await new Promise((r) => setTimeout(r, 30));
        await w.repo.journal.append(id, { step: 'bubble', phase: 'done' });
        await w.repo.journal.append(id, { step: 'run', phase: 'done', data: { status: 'succeeded' } });
        await w.repo.runs.update(id, { status: 'succeeded' });
      })();
      const res = await a.call('GET', `/v1/runs/${id}/events`, 'member', { headers: { accept: 'text/event-stream' } });
      await writer;
      const events = sse(res.body);
      const shown = events.map((e) => (e.event === 'entry' ? `${e.id} ${String(e.data['step'])} ${String(e.data['phase'])}` : `${e.event} ${String(e.data['status'])}`));
      // The status change and the first entry may land in one poll or two: either order of discovery is fine.
      expect(shown.filter((x) => !x.startsWith('run running'))).to.deep.equal(['run pending', '1 bubble observe', '2 bubble done', '3 run done', 'end succeeded']);
      expect(shown).to.include('run running');
      expect(shown.indexOf('run running')).to.be.below(shown.indexOf('2 bubble done'));
    });

    it('SSE: a token revoked while the stream is open ends it with an error event', async () => {
      const b = await api(w, { follow: { pollMs: 5, heartbeatMs: 1000, revalidateMs: 0 } });
      setTimeout(() => b.validator.table.delete(TOKENS.reader), 30);
      const res = await b.call('GET', `/v1/runs/${w.runs.failoverRunning}/events?after=5`, 'reader', { headers: { accept: 'text/event-stream' } });
      const events = sse(res.body);
      expect(events.map((e) => e.event)).to.deep.equal(['run', 'error']);
      expect((events[1]!.data['error'] as { code: string }).code).to.equal('unauthorized');
      await b.app.close();
    });

    it('SSE: closing the server ends open streams', async () => {
      const pending = a.call('GET', `/v1/runs/${w.runs.failoverRunning}/events`, 'reader', { headers: { accept: 'text/event-stream' } });
      await new Promise((r) => setTimeout(r, 30));
      await a.app.close();
      const events = sse((await pending).body);
      expect(events.map((e) => e.event)).to.deep.equal(['run', 'entry', 'entry', 'entry', 'entry', 'entry']);
    });

    it("a run of another project's plan cannot be followed (404)", async () => {
      expectError(await a.call('GET', `/v1/runs/${w.runs.payrollCycle}/events`, 'reader'), 404, 'not_found');
    });
  });

  describe('status', () => {
    it("shows the caller's plans' RPO, every site, the advice for the caller's plans and the daemon", async () => {
      const b = await api(w, {
        status: () => ({
          sites: [
            { site: 'site-a', status: 'down', since: '2026-11-27T02:55:00.000Z', services: [{ service: 'identity', status: 'down', lastError: 'ECONNREFUSED' }] },
            { site: 'site-b', status: 'up', since: '2026-11-27T02:00:00.000Z', services: [] },
          ],
          advice: [
            { plan: 'web', activeSite: 'site-a', targetSite: 'site-b', level: 'failover-advised', message: 'site site-a, where plan web runs, is down' },
            { plan: 'payroll-db', activeSite: 'site-a', targetSite: 'site-b', level: 'failover-advised', message: 'site site-a, where plan payroll-db runs, is down' },
          ],
          daemon: { id: 'daemon-1', leader: true },
        }),
      });
      const s = bodyOf<{ plans: { plan: string; currentRpoMs: number; rpoMet: boolean; rpoTargetMs: number }[]; sites: { site: string; status: string }[]; advice: { plan: string }[]; daemon: { leader: boolean } }>(
        await b.call('GET', '/v1/status', 'reader'),
        'getStatus',
      );
      expect(s.plans.map((p) => [p.plan, p.currentRpoMs, p.rpoMet, p.rpoTargetMs])).to.deep.equal([['web', 30 * MINUTE, true, 60 * MINUTE]]);
      expect(s.sites.map((x) => `${x.site} ${x.status}`)).to.deep.equal(['site-a down', 'site-b up']);
      expect(s.advice.map((x) => x.plan)).to.deep.equal(['web']);
      expect(s.daemon.leader).to.equal(true);
      const admin = bodyOf<{ plans: { plan: string }[]; advice: { plan: string }[] }>(await b.call('GET', '/v1/status', 'cloudAdmin'), 'getStatus');
      expect(admin.plans.map((p) => p.plan).sort()).to.deep.equal(['payroll-db', 'web']);
      expect(admin.advice.map((p) => p.plan).sort()).to.deep.equal(['payroll-db', 'web']);
      await b.app.close();
    });

    it('without a status function: plans only', async () => {
      const s = bodyOf<{ plans: unknown[]; sites: unknown[]; advice: unknown[]; daemon: object }>(await a.call('GET', '/v1/status', 'payrollReader'), 'getStatus');
      expect(s.plans).to.have.length(1);
      expect(s.sites).to.deep.equal([]);
      expect(s.advice).to.deep.equal([]);
      expect(s.daemon).to.deep.equal({});
    });
  });

  describe('/metrics on the API port', () => {
    it('needs a token allowed metrics:read (cloud admins by default) and records API requests', async () => {
      const metrics = new Metrics({ version: '9.9.9' });
      const b = await api(w, { metrics });
      await b.call('GET', '/v1/plans/web', 'reader');
      await b.call('GET', '/v1/plans/nope', 'reader');
      expectError(await b.call('GET', '/metrics'), 401, 'unauthorized');
      expectError(await b.call('GET', '/metrics', 'projectAdmin'), 403, 'forbidden', /metrics:read/);
      const res = await b.call('GET', '/metrics', 'cloudAdmin');
      expect(res.statusCode).to.equal(200);
      expect(res.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
      expect(res.body).to.include('ferry_api_requests_total{method="GET",route="/v1/plans/{name}",status="200"} 1');
      expect(res.body).to.include('ferry_api_requests_total{method="GET",route="/v1/plans/{name}",status="404"} 1');
      expect(res.body).to.include('ferry_api_requests_total{method="GET",route="/metrics",status="401"} 1');
      await b.app.close();
    });

    it('public: no token needed; off (or no Metrics): 404', async () => {
      const metrics = new Metrics();
      const pub = await api(w, { metrics, metricsAccess: 'public' });
      expect((await pub.call('GET', '/metrics')).body).to.include('ferry_build_info{version="unknown"} 1');
      await pub.app.close();
      const off = await api(w, { metrics, metricsAccess: 'off' });
      expectError(await off.call('GET', '/metrics', 'cloudAdmin'), 404, 'not_found', /does not serve metrics/);
      await off.app.close();
      expectError(await a.call('GET', '/metrics', 'cloudAdmin'), 404, 'not_found');
    });
  });

  describe('errors', () => {
    it('an unknown route is 404 in the one error shape', async () => {
      expectError(await a.call('GET', '/v2/plans'), 404, 'not_found', /no route GET \/v2\/plans/);
      expectError(await a.call('POST', '/v1/plans', 'member', { body: {} }), 404, 'not_found');
    });

    it('an unexpected failure is a 500 that points to the log, where the detail is', async () => {
      const broken = Object.create(w.repo) as typeof w.repo;
      Object.defineProperty(broken, 'plans', { value: { ...w.repo.plans, list: async () => Promise.reject(new Error('disk I/O error at /var/lib/ferry/catalog.db')) } });
      const b = await api(w, { repo: broken });
      const res = await b.call('GET', '/v1/plans', 'reader');
      const message = expectError(res, 500, 'internal');
      expect(message).to.equal(`internal error; the daemon's log has the details under request ${res.headers['x-request-id']}`);
      expect(message).not.to.include('disk');
      const line = b.logger.lines.find((l) => l.level === 'error')!;
      expect(line.msg).to.include('disk I/O error');
      expect(line.fields['requestId']).to.equal(res.headers['x-request-id']);
      await b.app.close();
    });
  });

  describe('policy.yaml overrides', () => {
    it('moves failover to members and DR tests to admins, and scopes an override by target project', async () => {
      const policy = parsePolicyText(['"runs:create:failover": "role:member"', '"runs:create:drtest": "rule:admin_required"', `"runs:create:replicate": "role:member and project_name:%(project)s"`].join('\n'), 'policy.yaml');
      const b = await api(w, { policy });
      expect((await b.call('POST', '/v1/plans/web/runs', 'member', { body: { kind: 'failover' } })).statusCode).to.equal(202);
      expectError(await b.call('POST', '/v1/plans/web/runs', 'member', { body: { kind: 'drtest' } }), 403, 'forbidden', /rule: rule:admin_required/);
      expect((await b.call('POST', '/v1/plans/web/runs', 'projectAdmin', { body: { kind: 'drtest' } })).statusCode).to.equal(202);
      // web's project is stored by ID, so project_name:%(project)s does not match; payroll's is a name.
      expectError(await b.call('POST', '/v1/plans/web/runs', 'member', { body: { kind: 'replicate' } }), 403, 'forbidden');
      b.validator.table.set('payroll-member', { ...CALLERS.payrollReader, roles: ['member'] });
      const res = await b.app.inject({ method: 'POST', url: '/v1/plans/payroll-db/runs', headers: { 'x-auth-token': 'payroll-member', 'content-type': 'application/json' }, payload: '{"kind":"replicate"}' });
      expect(res.statusCode, res.body).to.equal(202);
      await b.app.close();
    });
  });

  describe('logs', () => {
    it('log a line per request with request ID, user and project, and never a token', async () => {
      await a.call('GET', '/v1/plans', 'reader');
      await a.call('GET', '/v1/plans');
      await a.app.inject({ method: 'GET', url: '/v1/plans', headers: { 'x-auth-token': 'gAAAAAB-unknown-secret-token' } });
      await a.call('POST', '/v1/plans/web/runs', 'member', { body: { kind: 'drtest' } });
      await a.call('POST', '/v1/plans/web/runs', 'member', { body: { kind: 'failover' } });
      await a.call('GET', `/v1/runs/${w.runs.drtestDone}/events`, 'member', { headers: { accept: 'text/event-stream' } });
      const text = a.logger.text();
      for (const t of [...Object.values(TOKENS), 'gAAAAAB-unknown-secret-token']) expect(text).not.to.include(t);
      const first = a.logger.lines[0]!;
      expect(first.msg).to.match(/^GET \/v1\/plans 200 \d+ms$/);
      expect(first.fields).to.include({ user: 'rita', project: 'web' });
      expect(first.fields['requestId']).to.match(/^req-/);
      expect(a.logger.lines.map((l) => l.msg.replace(/ \d+ms$/, ''))).to.include.members(['GET /v1/plans 401', 'POST /v1/plans/web/runs 403', `GET /v1/runs/${w.runs.drtestDone}/events 200`]);
    });
  });

  it('the clock the API is given drives run durations (a running run lasts until now)', async () => {
    const run = await w.repo.runs.get(w.runs.failoverRunning);
    w.advance(10 * MINUTE);
    const body = bodyOf<{ durationMs: number }>(await a.call('GET', `/v1/runs/${w.runs.failoverRunning}`, 'reader'), 'getRun');
    expect(body.durationMs).to.equal(T0 + 10 * MINUTE - run!.startedAt.getTime());
  });
});
