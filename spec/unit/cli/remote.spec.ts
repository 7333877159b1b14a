// `ferry` in remote mode (--url or FERRY_URL): the commands the daemon's API covers, run against
// nock fixtures of that API. The fixtures are made by the daemon's own catalog → wire functions
// (schemas.ts) and parsed by the routes' response schemas, so they are shaped exactly as the
// daemon answers. Covers reads, runs started and followed to success and to failure (also a
// planned failover's two runs), a 403, an unreachable daemon, the in-process-only commands
// (exit 2, no local catalog opened), --url over FERRY_URL, and tokens from --token,
// FERRY_TOKEN and --os-cloud (never printed).
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import type { z } from 'zod';
import type { JournalEntry, JsonObject, Plan, RecoveryPoint, Run } from '../../../lib/catalog/repo.js';
import { drTestParams } from '../../../lib/cli/drtest.js';
import { run as ferryRun } from '../../../lib/cli/main.js';
import { failoverParams } from '../../../lib/cli/recovery.js';
import { ApiClientError, apiTokenProvider, FerryApiClient, staticToken } from '../../../lib/daemon/api/client.js';
import { DrTestParamsSchema, FailoverParamsSchema } from '../../../lib/daemon/runs.js';
import {
  PlanDetailSchema,
  PlanListSchema,
  PointDetailSchema,
  PointListSchema,
  RunDetailSchema,
  RunEventsSchema,
  RunListSchema,
  StartRunResponseSchema,
  StatusSchema,
  journalEntry,
  planDetail,
  planSummary,
  pointDetail,
  pointSummary,
  runDetail,
  runLinks,
  runSummary,
} from '../../../lib/daemon/api/schemas.js';
import { summarizeRun } from '../../../lib/workflows/engine.js';
import { KEYSTONE, PASSWORD, TOKEN as KEYSTONE_TOKEN, mockAuth, useNock } from '../../support/fake-cloud.js';

const DAEMON = 'https://ferry.test:8797';
const TOKEN = 'gAAAAAB-ferry-cli-token-0042';
const NOW = Date.now();
const ago = (minutes: number) => new Date(NOW - minutes * 60_000);

/** A wire body as the route's schema admits it (a fixture that drifts from schemas.ts fails here). */
const wire = <S extends z.ZodType>(schema: S, body: z.input<S>): z.output<S> => schema.parse(body);

const ENV_KEYS = ['FERRY_URL', 'FERRY_TOKEN', 'FERRY_CACERT', 'OS_TOKEN', 'OS_CLOUD', 'OS_CLIENT_CONFIG_FILE', 'FERRY_DB'];

async function ferry(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { ...process.env };
  for (const k of ENV_KEYS) delete process.env[k];
  Object.assign(process.env, env);
  try {
    const code = await ferryRun(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
    const r = { code, out: out.join('\n'), err: err.join('\n') };
    for (const secret of [TOKEN, KEYSTONE_TOKEN, PASSWORD]) expect(`${r.out}\n${r.err}`).not.to.include(secret);
    return r;
  } finally {
    process.env = saved;
  }
}

/** The daemon, expecting our token on every request. */
const daemon = (token = TOKEN) => nock(DAEMON).matchHeader('x-auth-token', token);

// ---- the catalog the daemon serves -------------------------------------------------------------

const plan: Plan = {
  name: 'web',
  project: 'web',
  primarySite: 'site-a',
  secondarySite: 'site-b',
  tier: 'backup',
  rpoMs: 3_600_000,
  spec: { name: 'web', description: 'the shop front', members: [{ tag: 'web' }], retention: { count: 3 } },
  specHash: 'sha256:5e1f',
  epoch: 2,
  activeSite: 'site-a',
  createdAt: ago(600),
  updatedAt: ago(300),
  deletedAt: null,
};

const manifest: JsonObject = {
  apiVersion: 'ferry.recoverypoint/v1',
  data: {
    volumes: [{ sourceVolumeId: 'vol-1', secondaryBackupId: 'bk-1', incremental: false, sizeGb: 2 }],
    images: [{ sourceImageId: 'img-1', secondaryImageId: 'img-b-1', hash: 'sha256:aa' }],
  },
  warnings: [],
};

const points: RecoveryPoint[] = [
  { id: 'rp-2', planName: 'web', createdAt: ago(10), completedAt: ago(8), status: 'complete', consistency: 'crash', sizeBytes: 2 * 1024 ** 3, sourceSite: 'site-a', targetSite: 'site-b', manifest, manifestVersion: 1 },
  { id: 'rp-1', planName: 'web', createdAt: ago(70), completedAt: null, status: 'partial', consistency: 'crash', sizeBytes: null, sourceSite: 'site-a', targetSite: 'site-b', manifest: null, manifestVersion: null },
];

function mkRun(id: string, kind: Run['kind'], status: Run['status'], params: JsonObject, result: JsonObject | null = null): Run {
  return { id, planName: 'web', kind, status, startedAt: ago(5), finishedAt: status === 'running' ? null : ago(1), params, result, owner: 'ferry-daemon@ctl-1', epoch: 2 };
}

function journal(runId: string, steps: [step: string, phase: JournalEntry['phase'], data: JsonObject][]): JournalEntry[] {
  return steps.map(([step, phase, data], i) => ({ runId, seq: i + 1, at: new Date(ago(5).getTime() + i * 1000), step, phase, data }));
}

const declared = (...names: string[]) => ({ owner: 'ferry-daemon@ctl-1', steps: names.map((name) => ({ name, describe: `${name} at the secondary`, action: 'create' })) });

const drtestOk = mkRun('run-dt-1', 'drtest', 'succeeded', { pointId: 'rp-2', keepMs: 0 });
const drtestOkJournal = journal('run-dt-1', [
  ['run', 'observe', declared('recover', 'verify-app')],
  ['recover', 'observe', { done: false }],
  ['recover', 'act', {}],
  ['recover', 'done', { ms: 4000 }],
  ['verify-app', 'verify', { ok: true, detail: { servers: 1 } }],
  ['verify-app', 'done', { ms: 1000 }],
  ['run', 'done', { status: 'succeeded' }],
]);

const failoverBad = mkRun('run-fo-1', 'failover', 'failed', { phase: 'recover', mode: 'unplanned', pointId: 'rp-2' }, { error: 'stack web-ferry CREATE_FAILED: Quota exceeded for instances' });
const failoverBadJournal = journal('run-fo-1', [
  ['run', 'observe', declared('stack')],
  ['stack', 'observe', { done: false }],
  ['stack', 'failed', { error: 'stack web-ferry CREATE_FAILED: Quota exceeded for instances', attempt: 1 }],
  ['run', 'failed', { status: 'failed', error: 'stack web-ferry CREATE_FAILED: Quota exceeded for instances' }],
]);

const now = () => new Date();
const summaryOf = (r: Run, entries: JournalEntry[]) => runSummary(r, entries.at(-1), now());
const detailOf = (r: Run, entries: JournalEntry[]) => wire(RunDetailSchema, runDetail(r, entries, summarizeRun(r, entries), now()));

/** POST /v1/plans/web/runs answering 202 for `r`, checking the request body. */
function mockStart(r: Run, body: JsonObject) {
  daemon()
    .post(`/v1/plans/${r.planName}/runs`, body)
    .reply(202, wire(StartRunResponseSchema, { run: { id: r.id, plan: r.planName, kind: r.kind as 'drtest', links: runLinks(r.id) } }), { Location: runLinks(r.id).self });
}

/** Two long polls (the run still running, then finished) and the run's detail. */
function mockFollow(r: Run, entries: JournalEntry[], split: number) {
  const running = { ...r, status: 'running' as const, finishedAt: null };
  const first = entries.slice(0, split);
  const rest = entries.slice(split);
  daemon()
    .get(`/v1/runs/${r.id}/events`)
    .query({ after: '0', wait: '25' })
    .reply(200, wire(RunEventsSchema, { run: summaryOf(running, first), events: first.map(journalEntry), next: first.at(-1)!.seq, finished: false }));
  daemon()
    .get(`/v1/runs/${r.id}/events`)
    .query({ after: String(first.at(-1)!.seq), wait: '25' })
    .reply(200, wire(RunEventsSchema, { run: summaryOf(r, entries), events: rest.map(journalEntry), next: entries.at(-1)!.seq, finished: true }));
  daemon().get(`/v1/runs/${r.id}`).reply(200, detailOf(r, entries));
}

function expectAllCalled() {
  expect(nock.pendingMocks()).to.deep.equal([]);
}

describe('ferry in remote mode (--url, FERRY_URL)', () => {
  useNock();

  describe('reads', () => {
    const status = () =>
      wire(StatusSchema, {
        plans: [
          {
            plan: 'web',
            activeSite: 'site-a',
            targetSite: 'site-b',
            epoch: 2,
            rpoTargetMs: 3_600_000,
            currentRpoMs: 600_000,
            rpoMet: true,
            newestCompleteAt: ago(10).toISOString(),
            lastCycle: { runId: 'run-rep-9', status: 'succeeded', startedAt: ago(11).toISOString(), finishedAt: ago(10).toISOString(), durationMs: 61_000, bytes: 3 * 1024 ** 2, pointId: 'rp-2' },
            nextCycleDueAt: ago(-20).toISOString(),
            points: 2,
            pointsByStatus: { complete: 1, partial: 1, inProgress: 0, deleting: 0 },
          },
          { plan: 'payroll', activeSite: 'site-a', targetSite: 'site-b', epoch: 0, rpoTargetMs: 900_000, rpoMet: false, points: 0, pointsByStatus: { complete: 0, partial: 0, inProgress: 0, deleting: 0 } },
        ],
        sites: [
          { site: 'site-a', status: 'up', since: ago(600).toISOString(), services: [{ service: 'compute', status: 'up' }] },
          { site: 'site-b', status: 'degraded', since: ago(3).toISOString(), services: [{ service: 'orchestration', status: 'down', lastError: 'HTTP 503' }, { service: 'compute', status: 'up' }] },
        ],
        advice: [{ plan: 'web', activeSite: 'site-a', targetSite: 'site-b', level: 'secondary-degraded', message: 'site-b orchestration is down: a failover now would fail' }],
        daemon: { id: 'ferry-daemon@ctl-1', leader: true },
      });

    it('ferry status with FERRY_URL: the plans, the sites as the daemon sees them, its advice; exit 1 when a plan misses its RPO', async () => {
      daemon().get('/v1/status').reply(200, status());
      const r = await ferry(['status'], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN });
      expect(r.code, r.err).to.equal(1);
      expect(r.out).to.match(/│ web\s+│ site-a\s+│ 1h\s+│ 10m\s+│ yes\s+│ succeeded in 61\.0 s\s+│ 3\.0 MiB/);
      expect(r.out).to.match(/│ payroll\s+│ site-a\s+│ 15m\s+│ no complete point\s+│ NO/);
      expect(r.out).to.match(/│ site-b\s+│ degraded\s+│ \S+\s+│ orchestration \(HTTP 503\)/);
      expect(r.out).to.include('advice: web: secondary-degraded: site-b orchestration is down: a failover now would fail');
      expectAllCalled();
    });

    it('ferry status PLAN -f json prints the same array as in-process, exit 0 when its RPO is met', async () => {
      daemon().get('/v1/status').reply(200, status());
      const r = await ferry(['status', 'web', '-f', 'json', '--url', DAEMON], { FERRY_TOKEN: TOKEN });
      expect(r.code, r.err).to.equal(0);
      const list = JSON.parse(r.out) as { plan: string; rpoMet: boolean; currentRpoMs: number }[];
      expect(list.map((s) => [s.plan, s.rpoMet, s.currentRpoMs])).to.deep.equal([['web', true, 600_000]]);
    });

    it('--url wins over FERRY_URL', async () => {
      // No mock for the FERRY_URL host: a request there fails the command (nock refuses the connection).
      daemon().get('/v1/status').reply(200, status());
      const r = await ferry(['--url', DAEMON, 'status', 'web'], { FERRY_URL: 'https://other-daemon.test:8797', FERRY_TOKEN: TOKEN });
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.include('web');
      expectAllCalled();
    });

    it('ferry plan list and plan show: the plans, their points counted, the RPO measured', async () => {
      daemon().get('/v1/plans').reply(200, wire(PlanListSchema, { plans: [planSummary(plan)] }));
      daemon().get('/v1/plans/web/points').query({ limit: '1000' }).reply(200, wire(PointListSchema, { points: points.map(pointSummary) }));
      const list = await ferry(['plan', 'list', '-f', 'json'], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN });
      expect(list.code, list.err).to.equal(0);
      const rows = JSON.parse(list.out) as { name: string; points: { complete: number; total: number }; rpoStatus: string; activeSite: string; epoch: number }[];
      expect(rows).to.have.length(1);
      expect(rows[0]).to.include({ name: 'web', rpoStatus: 'met', activeSite: 'site-a', epoch: 2 });
      expect(rows[0]!.points).to.deep.equal({ complete: 1, total: 2 });

      daemon().get('/v1/plans/web').query({ include_deleted: 'true' }).reply(200, wire(PlanDetailSchema, planDetail(plan)));
      daemon().get('/v1/plans/web/points').query({ limit: '1000' }).reply(200, wire(PointListSchema, { points: points.map(pointSummary) }));
      const show = await ferry(['plan', 'show', 'web'], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN });
      expect(show.code, show.err).to.equal(0);
      expect(show.out).to.match(/│ description\s+│ the shop front/);
      expect(show.out).to.match(/│ members\s+│ tag web/);
      expect(show.out).to.match(/│ recovery points\s+│ 1 complete, 1 partial/);
      expect(show.out).to.match(/│ rp-2\s+│ complete/);
      expectAllCalled();
    });

    it('ferry plan show of a plan the daemon does not show: 404 becomes "not found", exit 1', async () => {
      daemon().get('/v1/plans/payroll').query({ include_deleted: 'true' }).reply(404, { error: { code: 'not_found', message: "plan 'payroll' not found", request_id: 'req-404' } });
      const r = await ferry(['plan', 'show', 'payroll'], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN });
      expect(r.code).to.equal(1);
      expect(r.err).to.match(/payroll.*not found/);
    });

    it('ferry points list and points show: volumes and images counted by the daemon, the manifest from it', async () => {
      daemon().get('/v1/plans/web').reply(200, wire(PlanDetailSchema, planDetail(plan)));
      daemon().get('/v1/plans/web/points').query({ limit: '1000' }).reply(200, wire(PointListSchema, { points: points.map(pointSummary) }));
      const list = await ferry(['points', 'list', 'web', '-f', 'json'], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN });
      expect(list.code, list.err).to.equal(0);
      const rows = JSON.parse(list.out) as { id: string; status: string; volumes: number; images: number; size: string }[];
      expect(rows.map((p) => [p.id, p.status, p.volumes, p.images, p.size])).to.deep.equal([
        ['rp-2', 'complete', 1, 1, '2.0 GiB'],
        ['rp-1', 'partial', 0, 0, ''],
      ]);

      daemon().get('/v1/points/rp-2').reply(200, wire(PointDetailSchema, pointDetail(points[0]!)));
      const show = await ferry(['points', 'show', 'web', 'rp-2', '-f', 'table'], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN });
      expect(show.code, show.err).to.equal(0);
      expect(show.out).to.match(/│ volume vol-1\s+│ backup bk-1 \(full\), 2 GiB/);
      expect(show.out).to.match(/│ image img-1\s+│ img-b-1 sha256:aa/);
      expectAllCalled();
    });

    it('ferry runs list and runs show: the daemon\'s runs, a run\'s steps and timeline', async () => {
      daemon().get('/v1/plans/web').query({ include_deleted: 'true' }).reply(200, wire(PlanDetailSchema, planDetail(plan)));
      daemon()
        .get('/v1/runs')
        .query({ plan: 'web', kind: 'drtest', limit: '50' })
        .reply(200, wire(RunListSchema, { runs: [summaryOf(drtestOk, drtestOkJournal)] }));
      const list = await ferry(['runs', 'list', '--plan', 'web', '--kind', 'drtest'], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN });
      expect(list.code, list.err).to.equal(0);
      expect(list.out).to.match(/│ run-dt-1\s+│ web\s+│ drtest\s+│ succeeded\s+│.*│ ferry-daemon@ctl-1\s+│ 2\s+│ run done/);

      daemon().get('/v1/runs/run-dt-1').times(2).reply(200, detailOf(drtestOk, drtestOkJournal));
      const show = await ferry(['runs', 'show', 'run-dt-1'], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN });
      expect(show.code, show.err).to.equal(0);
      expect(show.out).to.match(/│ recover\s+│ done\s+│ 1\s+│/);
      expect(show.out).to.match(/│ 2 │ \S+ │ recover\s+│ observe │ to do/);
      expectAllCalled();
    });
  });

  describe('runs started at the daemon and followed', () => {
    it('ferry test PLAN: starts a drtest with its params, prints each journal entry, then the outcome; exit 0', async () => {
      mockStart(drtestOk, { kind: 'drtest', params: { pointId: 'rp-2', keep: '0s' } });
      mockFollow(drtestOk, drtestOkJournal, 3);
      const r = await ferry(['test', 'web', '--point', 'rp-2', '--keep', '0'], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN });
      expect(r.code, r.err).to.equal(0);
      const lines = r.err.split('\n');
      expect(lines[0]).to.equal(`ferry: drtest run run-dt-1 of plan web started by the daemon at ${DAEMON}; following it (Ctrl-C stops following, not the run)`);
      expect(lines.slice(1)).to.deep.equal([
        'ferry: run observe: started by ferry-daemon@ctl-1',
        'ferry: recover observe: to do',
        'ferry: recover act',
        'ferry: recover done',
        'ferry: verify-app verify: ok; {"servers":1}',
        'ferry: verify-app done',
        'ferry: run done: succeeded',
      ]);
      expect(r.out).to.match(/│ status\s+│ succeeded/);
      expect(r.out).to.match(/│ recover\s+│ done\s+│ 1/);
      expect(r.out).to.match(/│ verify-app\s+│ done\s+│ 1/);
      expectAllCalled();
    });

    it('ferry failover PLAN --unplanned --point ID: a failed run prints its error and exits 1', async () => {
      mockStart(failoverBad, { kind: 'failover', params: { mode: 'unplanned', pointId: 'rp-2' } });
      mockFollow(failoverBad, failoverBadJournal, 2);
      const r = await ferry(['failover', 'web', '--unplanned', '--point', 'rp-2'], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN });
      expect(r.code, r.err).to.equal(1);
      expect(r.err).to.include('ferry: stack failed: stack web-ferry CREATE_FAILED: Quota exceeded for instances');
      expect(r.out).to.match(/│ status\s+│ failed/);
      expect(r.out).to.match(/│ error\s+│ stack web-ferry CREATE_FAILED: Quota exceeded for instances/);
      expect(r.out).to.include('See ferry runs show run-fo-1');
      expectAllCalled();
    });

    it('ferry failover PLAN --planned -f json: follows the preparation run, then the recovery run it led to', async () => {
      const prep = mkRun('run-fo-prep', 'failover', 'succeeded', { phase: 'prepare', planned: true });
      const prepJournal = journal(prep.id, [
        ['run', 'observe', declared('stop-primary', 'final-sync')],
        ['stop-primary', 'done', { ms: 2000 }],
        ['final-sync', 'done', { ms: 9000, state: { pointId: 'rp-3' } }],
        ['run', 'done', { status: 'succeeded' }],
      ]);
      const rec = mkRun('run-fo-rec', 'failover', 'succeeded', { phase: 'recover', planned: true, prepareRunId: prep.id, pointId: 'rp-3' });
      const recJournal = journal(rec.id, [
        ['run', 'observe', declared('stack')],
        ['stack', 'done', { ms: 60_000 }],
        ['run', 'done', { status: 'succeeded' }],
      ]);
      mockStart(prep, { kind: 'failover', params: { mode: 'planned', stackTimeoutMins: 30 } });
      mockFollow(prep, prepJournal, 2);
      daemon()
        .get('/v1/runs')
        .query({ plan: 'web', kind: 'failover', limit: '20' })
        .reply(200, wire(RunListSchema, { runs: [summaryOf({ ...rec, status: 'running', finishedAt: null }, recJournal.slice(0, 1)), summaryOf(prep, prepJournal)] }));
      mockFollow(rec, recJournal, 1);
      const r = await ferry(['failover', 'web', '--planned', '--stack-timeout', '30', '-f', 'json'], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN });
      expect(r.code, r.err).to.equal(0);
      expect(r.err).to.include('ferry: failover run run-fo-rec (recovery at the secondary) follows the preparation run-fo-prep');
      expect(r.err).to.include('ferry: stack done');
      // Two outcomes, one per run, each as `ferry resume -f json` prints one.
      const docs = r.out.split(/\n(?=\{)/).map((t) => JSON.parse(t) as { status: string; run: { id: string } });
      expect(docs.map((d) => [d.run.id, d.status])).to.deep.equal([
        ['run-fo-prep', 'succeeded'],
        ['run-fo-rec', 'succeeded'],
      ]);
      expectAllCalled();
    });

    it('Ctrl-C stops following, not the run: the hint to find it again, exit 1', async () => {
      mockStart(drtestOk, { kind: 'drtest', params: {} });
      daemon().get('/v1/runs/run-dt-1/events').query({ after: '0', wait: '25' }).delay(3000).reply(200, {});
      const pending = ferry(['test', 'web'], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN });
      setTimeout(() => process.emit('SIGINT'), 200);
      const r = await pending;
      expect(r.code).to.equal(1);
      expect(r.err.split('\n').at(-1)).to.equal(`ferry: stopped following run run-dt-1; it goes on in the daemon (see: ferry runs show run-dt-1 --url ${DAEMON})`);
      expect(r.out).to.equal('');
    });

    it('a 403 from the daemon: its message, the URL (without credentials), the request ID and the fix; exit 1', async () => {
      nock(DAEMON)
        .post('/v1/plans/web/runs', { kind: 'replicate', params: {} })
        .reply(403, { error: { code: 'forbidden', message: 'policy does not allow runs:create:replicate (rule: rule:member_required) for user rita in web with roles reader', request_id: 'req-7f3a' } }, { 'X-Request-ID': 'req-7f3a' });
      const r = await ferry(['replicate', 'web', '--url', 'https://rita:hunter2@ferry.test:8797/v1/'], { FERRY_TOKEN: TOKEN });
      expect(r.code).to.equal(1);
      expect(r.err).to.equal(
        `ferry: error: the Ferry daemon at ${DAEMON} answered POST /v1/plans/web/runs with 403 forbidden: policy does not allow runs:create:replicate (rule: rule:member_required) for user rita in web with roles reader ` +
          '(request req-7f3a; fix: a token with a role the rule allows (by default reader reads, member runs DR tests and replication, admin fails over and back), or ask the operator to adapt the policy file)',
      );
      expect(r.err).not.to.include('hunter2');
      expectAllCalled();
    });

    it('a daemon that does not answer: a clear message naming the URL and the fix; exit 1', async () => {
      nock.enableNetConnect('127.0.0.1');
      try {
        const r = await ferry(['runs', 'list'], { FERRY_URL: 'http://127.0.0.1:1', FERRY_TOKEN: TOKEN });
        expect(r.code).to.equal(1);
        expect(r.err).to.match(/^ferry: error: cannot reach the Ferry daemon at http:\/\/127\.0\.0\.1:1: .*ECONNREFUSED.*fix: check --url or FERRY_URL, or unset them to run in-process\)$/);
      } finally {
        nock.disableNetConnect();
      }
    });
  });

  describe('tokens', () => {
    it('--token is sent as X-Auth-Token and wins over FERRY_TOKEN', async () => {
      daemon('gAAAAAB-from-the-command-line').get('/v1/runs').query({ limit: '50' }).reply(200, wire(RunListSchema, { runs: [] }));
      const r = await ferry(['runs', 'list', '--token', 'gAAAAAB-from-the-command-line'], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN });
      expect(r.code, r.err).to.equal(0);
      expectAllCalled();
    });

    it('--os-cloud: a Keystone token of that clouds.yaml cloud; a 401 names where the token came from, never the token', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ferry-remote-'));
      try {
        const clouds = join(dir, 'clouds.yaml');
        writeFileSync(clouds, `clouds:\n  site-a:\n    auth: {auth_url: ${KEYSTONE}/v3, username: ferry, password: ${PASSWORD}, project_name: web}\n    region_name: RegionOne\n`);
        mockAuth(1);
        daemon(KEYSTONE_TOKEN).get('/v1/status').reply(200, wire(StatusSchema, { plans: [], sites: [], advice: [], daemon: {} }));
        const ok = await ferry(['status', '--os-cloud', 'site-a'], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN, OS_CLIENT_CONFIG_FILE: clouds });
        expect(ok.code, ok.err).to.equal(0);
        expectAllCalled();

        // Keystone no longer knows it: the client asks for a new one once, then gives up.
        mockAuth(2);
        daemon(KEYSTONE_TOKEN).get('/v1/status').times(2).reply(401, { error: { code: 'unauthorized', message: 'the token is not valid', request_id: 'req-401' } });
        const refused = await ferry(['status', '--os-cloud', 'site-a'], { FERRY_URL: DAEMON, OS_CLIENT_CONFIG_FILE: clouds });
        expect(refused.code).to.equal(1);
        expect(refused.err).to.include(`the Ferry daemon at ${DAEMON} answered GET /v1/status with 401 unauthorized: the token is not valid`);
        expect(refused.err).to.include('(this one came from cloud site-a)');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('what runs in-process only', () => {
    let dir: string;
    let db: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'ferry-remote-'));
      db = join(dir, 'catalog.db');
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    for (const [args, name] of [
      [['plan', 'apply', 'web.yaml'], 'ferry plan apply'],
      [['plan', 'delete', 'web'], 'ferry plan delete'],
      [['resume', 'run-1'], 'ferry resume'],
      [['fence', 'web'], 'ferry fence'],
      [['test', 'cleanup', 'web'], 'ferry test cleanup'],
      [['catalog', 'rebuild', '--from', 'site-b'], 'ferry catalog rebuild'],
    ] as const) {
      it(`${name}: exit 2 with the fix, no request, no local catalog`, async () => {
        const r = await ferry([...args, '--db', `sqlite://${db}`], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN });
        expect(r.code).to.equal(2);
        expect(r.err).to.match(new RegExp(`^ferry: error: ${name} runs in-process only \\(.+\\); unset FERRY_URL \\(or drop --url\\) to run it on this host$`));
        expect(existsSync(db)).to.equal(false);
      });
    }

    for (const [args, option] of [
      [['test', 'web', '--dry-run'], '--dry-run'],
      [['test', 'web', '--report-dir', '/tmp/r'], '--report-dir'],
      [['failover', 'web', '--dry-run'], '--dry-run'],
      [['replicate', 'web', '--concurrency', '4'], '--concurrency'],
    ] as const) {
      it(`ferry ${args.join(' ')}: ${option} is refused remotely, exit 2`, async () => {
        const r = await ferry([...args], { FERRY_URL: DAEMON, FERRY_TOKEN: TOKEN });
        expect(r.code).to.equal(2);
        expect(r.err).to.include(`${option} runs in-process only`);
      });
    }

    it('commands that need no catalog work as before with FERRY_URL set (plan schema)', async () => {
      const r = await ferry(['plan', 'schema'], { FERRY_URL: DAEMON });
      expect(r.code).to.equal(0);
      expect(JSON.parse(r.out)).to.have.property('$schema');
    });

    it('--token and --os-cloud together: a usage error, exit 2, nothing sent', async () => {
      const r = await ferry(['status', '--token', 'gAAAAAB-x', '--os-cloud', 'site-a'], { FERRY_URL: DAEMON });
      expect(r.code).to.equal(2);
      expect(r.err).to.match(/--os-cloud.*cannot be used with option '--token/);
    });

    it('a URL that is not one: exit 2', async () => {
      const r = await ferry(['status', '--url', 'ferry.test:8797'], { FERRY_TOKEN: TOKEN });
      expect(r.code).to.equal(2);
      expect(r.err).to.equal("ferry: error: 'ferry.test:8797' is not an http(s) URL (fix: --url https://HOST:PORT, or FERRY_URL)");
    });
  });

  describe('the contract with the daemon', () => {
    it("the params the CLI sends are what the daemon's starters accept (lib/daemon/runs.ts)", () => {
      const dt = drTestParams({ point: 'rp-2', keep: 90 * 60_000, stackTimeout: 45 }, true);
      expect(dt).to.deep.equal({ pointId: 'rp-2', keep: '1h30m', stackTimeoutMins: 45 });
      expect(DrTestParamsSchema.parse(dt)).to.deep.equal(dt);
      expect(DrTestParamsSchema.parse(drTestParams({ keep: 0, stackTimeout: 60 }, false))).to.deep.equal({ keep: '0s' });
      const fo = failoverParams({ planned: true, force: true, point: 'rp-2', stackTimeout: 30 }, false);
      expect(fo).to.deep.equal({ mode: 'planned', pointId: 'rp-2', force: true });
      expect(FailoverParamsSchema.parse(fo)).to.deep.equal(fo);
      expect(FailoverParamsSchema.parse(failoverParams({ unplanned: true, stackTimeout: 30 }, true))).to.deep.equal({ mode: 'unplanned', stackTimeoutMins: 30 });
      expect(failoverParams({ stackTimeout: 30 }, false)).to.deep.equal({});
    });

    it('apiTokenProvider: --token, then --os-cloud, then FERRY_TOKEN, then OS_TOKEN; each named without its value', async () => {
      const env = { FERRY_TOKEN: 'tok-ferry', OS_TOKEN: 'tok-os' };
      const explicit = apiTokenProvider({ token: 'tok-cli', cloud: 'site-a', env });
      expect([await explicit.token(), explicit.describe]).to.deep.equal(['tok-cli', '--token']);
      const ferryEnv = apiTokenProvider({ env });
      expect([await ferryEnv.token(), ferryEnv.describe]).to.deep.equal(['tok-ferry', 'FERRY_TOKEN']);
      const osEnv = apiTokenProvider({ env: { OS_TOKEN: 'tok-os' } });
      expect([await osEnv.token(), osEnv.describe]).to.deep.equal(['tok-os', 'OS_TOKEN']);
      // A named cloud wins over both variables (its token comes from Keystone, lazily).
      expect(apiTokenProvider({ cloud: 'site-a', env }).describe).to.equal('cloud site-a');
    });

    it('ApiClientError carries the URL (no credentials), method, path, the daemon\'s message and the token source', async () => {
      nock(DAEMON).get('/v1/runs/run-9').reply(409, { error: { code: 'conflict', message: `epoch moved (token ${TOKEN} not echoed)`, request_id: 'req-9' } });
      const client = new FerryApiClient({ url: 'https://u:pw@ferry.test:8797/v1', token: staticToken(TOKEN, 'FERRY_TOKEN') });
      const err = await client.run('run-9').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(ApiClientError);
      const e = err as ApiClientError;
      expect([e.status, e.code, e.requestId]).to.deep.equal([409, 'conflict', 'req-9']);
      expect(e.info).to.deep.equal({ url: DAEMON, method: 'GET', path: '/v1/runs/run-9', detail: 'epoch moved (token *** not echoed)', tokenFrom: 'FERRY_TOKEN' });
    });
  });
});
