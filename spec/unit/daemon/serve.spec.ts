// The daemon serving its REST API and metrics listener (serve.ts) over real sockets, with real
// timers and a short lease: runs started through the API go through the leader, in the
// background (202 once recorded), and are followed to their end; the metrics follow the
// daemon. Workflows are fakes that record a run in the catalog like the real ones.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCatalog } from '../../../lib/catalog/db.js';
import type { Plan } from '../../../lib/catalog/repo.js';
import type { DaemonConfig } from '../../../lib/daemon/config.js';
import { Daemon, type DaemonOptions } from '../../../lib/daemon/daemon.js';
import { drTestStarter, type KindStarter, type StarterContext } from '../../../lib/daemon/runs.js';
import type { RunCycle } from '../../../lib/daemon/scheduler.js';
import { startListeners } from '../../../lib/daemon/serve.js';
import { FerryError } from '../../../lib/errors.js';
import { MemoryLogger } from '../../../lib/log.js';
import type { CycleResult } from '../../../lib/workflows/replicate.js';
import { CALLERS, TOKENS, fakeValidator } from './api-fixtures.js';
import { addPlan, config, until } from './daemon-support.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A fake workflow: records its run (calling onRecorded), then waits for the test's word. */
function gatedStarter(calls: { plan: string; params: unknown; owner: string }[]) {
  const gates = new Map<string, (status: 'succeeded' | 'failed') => void>();
  const starter: KindStarter = {
    // The real checks of the params (runs.ts), the fake workflow.
    parse: (params) => drTestStarter.parse(params),
    async run(plan: Plan, params: unknown, ctx: StarterContext) {
      calls.push({ plan: plan.name, params, owner: ctx.owner });
      if ((params as { pointId?: string }).pointId === 'refuse') throw new FerryError('the primary answers: use planned mode');
      const run = await ctx.repo.runs.create({ planName: plan.name, kind: 'drtest', owner: ctx.owner, params: params as never });
      await ctx.repo.journal.append(run.id, { step: 'run', phase: 'observe' });
      ctx.onRecorded(run.id);
      const status = await new Promise<'succeeded' | 'failed'>((resolve) => {
        gates.set(run.id, resolve);
        ctx.signal.addEventListener('abort', () => resolve('failed'), { once: true });
      });
      await ctx.repo.journal.append(run.id, { step: 'run', phase: 'done' });
      await ctx.repo.runs.update(run.id, { status, result: { status } });
      return { runId: run.id, status };
    },
  };
  return { starter, gates };
}

describe('the daemon serving its API and metrics', function () {
  this.timeout(20_000);
  let dir: string;
  const daemons: Daemon[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-serve-'));
  });
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.stop('test end');
    rmSync(dir, { recursive: true, force: true });
  });

  async function fastConfig(text: string): Promise<DaemonConfig & { urls: { api: string; metrics: string } }> {
    const [api, metrics] = [await freePort(), await freePort()];
    const c = config(
      `[scheduler]\nmax_jitter = 0\n[health]\nenabled = false\n[DEFAULT]\ngraceful_shutdown_timeout = 2\n` +
        `[api]\nenabled = true\nbind_host = 127.0.0.1\nbind_port = ${api}\nmetrics_access = public\n[keystone_authtoken]\ncloud = site-a\n` +
        `[metrics]\nenabled = true\nbind_port = ${metrics}\n${text}`,
    );
    c.coordination.lease_duration = { ms: 300, text: '0.3' };
    c.coordination.heartbeat_interval = { ms: 50, text: '0.05' };
    c.scheduler.tick_interval = { ms: 50, text: '0.05' };
    return Object.assign(c, { urls: { api: `http://127.0.0.1:${api}`, metrics: `http://127.0.0.1:${metrics}` } });
  }

  async function start(over: Partial<DaemonOptions> & { text?: string; url?: string } = {}) {
    const cfg = await fastConfig(over.text ?? '');
    const calls: { plan: string; params: unknown; owner: string }[] = [];
    const drtest = gatedStarter(calls);
    const failover = gatedStarter(calls);
    const validator = fakeValidator();
    const logger = new MemoryLogger();
    const url = over.url ?? `sqlite://${join(dir, 'catalog.db')}`;
    const cycles: string[] = [];
    // A cycle that records its run and ends at once, complete.
    const runCycle: RunCycle = async (plan, ctx) => {
      cycles.push(plan);
      const repo = self.daemon!.repo;
      const run = await repo.runs.create({ planName: plan, kind: 'replicate', owner: ctx.owner, params: { cycle: 1 } });
      ctx.onProgress?.();
      const p = await repo.points.insert({ planName: plan, consistency: 'crash' });
      await repo.points.complete(p.id, { apiVersion: 'ferry.recoverypoint/v1' }, 0);
      await repo.runs.update(run.id, { status: 'succeeded', result: { status: 'complete' } });
      return { runId: run.id, pointId: p.id, status: 'complete', durationMs: 5, bytes: { volumes: 1024, images: 0 } } as CycleResult;
    };
    const self: { daemon?: Daemon } = {};
    const daemon = await Daemon.start({
      config: cfg,
      id: `daemon@serve-${daemons.length}:1:000000`,
      logger,
      openCatalog: () => openCatalog(url),
      runCycle,
      starters: { drtest: drtest.starter, failover: failover.starter },
      services: [(ctx) => startListeners(ctx, { validateToken: validator })],
      ...over,
    });
    self.daemon = daemon;
    daemons.push(daemon);
    const call = async (method: string, path: string, who?: keyof typeof TOKENS, body?: unknown) => {
      const res = await fetch(`${cfg.urls.api}${path}`, {
        method,
        headers: { ...(who ? { 'X-Auth-Token': TOKENS[who] } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        json = { text };
      }
      return { status: res.status, json, headers: res.headers };
    };
    return { daemon, cfg, calls, drtest, failover, logger, call, cycles, url };
  }

  const web = CALLERS.member.projectName!;

  it('starts a DR test for a member through the leader in the background (202), follows it to its end; a reader gets 403', async () => {
    const d = await start();
    await addPlan(d.daemon.repo, 'web', { project: web });
    await until(() => d.daemon.isLeader(), 3000, 'leadership');

    const refused = await d.call('POST', '/v1/plans/web/runs', 'reader', { kind: 'drtest' });
    expect(refused.status).to.equal(403);
    expect(JSON.stringify(refused.json)).to.include('runs:create:drtest');
    expect(d.calls).to.deep.equal([]);

    const started = await d.call('POST', '/v1/plans/web/runs', 'member', { kind: 'drtest', params: { keep: '0' } });
    expect(started.status, JSON.stringify(started.json)).to.equal(202);
    const runId = (started.json['run'] as { id: string }).id;
    expect(started.headers.get('location')).to.equal(`/v1/runs/${runId}`);
    expect(d.calls).to.deep.equal([{ plan: 'web', params: { keep: '0' }, owner: d.daemon.id }]);
    const run = await d.daemon.repo.runs.get(runId);
    expect(run).to.deep.include({ status: 'running', owner: d.daemon.id, kind: 'drtest' });
    expect(d.daemon.status().scheduler.running.map((j) => j.key)).to.deep.equal(['drtest:web']);

    // a second one of the same plan while it runs: 409
    const again = await d.call('POST', '/v1/plans/web/runs', 'member', { kind: 'drtest' });
    expect(again.status).to.equal(409);

    // follow it: the long poll answers when it ends
    const poll = d.call('GET', `/v1/runs/${runId}/events?after=1&wait=10`, 'reader');
    await new Promise((r) => setTimeout(r, 100));
    d.drtest.gates.get(runId)!('succeeded');
    const events = await poll;
    expect(events.status).to.equal(200);
    expect(events.json).to.deep.include({ finished: true, next: 2 });
    expect((events.json['run'] as { status: string }).status).to.equal('succeeded');
    await until(() => d.daemon.status().scheduler.running.length === 0, 2000, 'the job ends');

    // its duration is in the metrics, by kind and outcome
    const metrics = await (await fetch(`${d.cfg.urls.metrics}/metrics`)).text();
    expect(metrics).to.match(/^ferry_run_duration_seconds_count\{kind="drtest",outcome="succeeded"\} 1$/m);
    expect(d.logger.text()).to.include(`drtest run ${runId} of plan web: succeeded`).and.include('started through the API by max (project web');
  });

  it('checks params (400) and answers 501 for a kind it has no workflow for (failback in this fake daemon), starting nothing', async () => {
    const d = await start();
    await addPlan(d.daemon.repo, 'web', { project: web });
    await until(() => d.daemon.isLeader(), 3000, 'leadership');
    const bad = await d.call('POST', '/v1/plans/web/runs', 'member', { kind: 'drtest', params: { bogus: 1 } });
    expect(bad.status).to.equal(400);
    expect(JSON.stringify(bad.json)).to.include('body.params').and.include('bogus');
    const keep = await d.call('POST', '/v1/plans/web/runs', 'member', { kind: 'drtest', params: { keep: 'soon' } });
    expect(keep.status).to.equal(400);
    expect(JSON.stringify(keep.json)).to.include('body.params.keep');
    const replicateParams = await d.call('POST', '/v1/plans/web/runs', 'member', { kind: 'replicate', params: { x: 1 } });
    expect(replicateParams.status).to.equal(400);
    const fb = await d.call('POST', '/v1/plans/web/runs', 'projectAdmin', { kind: 'failback' });
    expect(fb.status).to.equal(501);
    expect(JSON.stringify(fb.json)).to.include('failback');
    expect(d.calls).to.deep.equal([]);
  });

  it('answers 409 with the reason when the workflow refuses before recording a run', async () => {
    const d = await start();
    await addPlan(d.daemon.repo, 'web', { project: web });
    await until(() => d.daemon.isLeader(), 3000, 'leadership');
    const refused = await d.call('POST', '/v1/plans/web/runs', 'member', { kind: 'drtest', params: { pointId: 'refuse' } });
    expect(refused.status, JSON.stringify(refused.json)).to.equal(409);
    expect((refused.json['error'] as { message: string }).message).to.equal('the drtest of plan web did not start: the primary answers: use planned mode');
    expect(await d.daemon.repo.runs.list({ planName: 'web', kind: 'drtest' })).to.deep.equal([]);
  });

  it('starts a replication cycle now through the scheduler (202 with its run), never beside a scheduled one', async () => {
    const d = await start({ text: '[scheduler]\nenabled = true\n' });
    await addPlan(d.daemon.repo, 'web', { project: web, rpoMs: 3_600_000 });
    await until(() => d.cycles.length === 1, 3000, 'the first scheduled cycle');
    await until(() => d.daemon.status().scheduler.running.length === 0, 2000, 'it ends');
    const started = await d.call('POST', '/v1/plans/web/runs', 'member', { kind: 'replicate' });
    expect(started.status, JSON.stringify(started.json)).to.equal(202);
    const runId = (started.json['run'] as { id: string }).id;
    expect(d.cycles).to.deep.equal(['web', 'web']);
    const run = await d.daemon.repo.runs.get(runId);
    expect(run).to.deep.include({ kind: 'replicate', owner: d.daemon.id, status: 'succeeded' });
    const metrics = await (await fetch(`${d.cfg.urls.metrics}/metrics`)).text();
    expect(metrics).to.match(/^ferry_replication_cycle_duration_seconds_count\{plan="web",outcome="complete"\} 2$/m);
    expect(metrics).to.match(/^ferry_replicated_bytes_total\{plan="web",kind="volumes"\} 2048$/m);
    expect(metrics).to.match(/^ferry_plan_rpo_seconds\{plan="web"\} \d/m);
    expect(metrics).to.match(/^ferry_plan_rpo_target_seconds\{plan="web"\} 3600$/m);
    expect(metrics).to.match(/^ferry_leader 1$/m);
  });

  it('refuses runs on a follower (503, naming the leader) and serves reads there; /metrics on the API port as configured', async () => {
    const leader = await start();
    await addPlan(leader.daemon.repo, 'web', { project: web });
    await until(() => leader.daemon.isLeader(), 3000, 'leadership');
    const follower = await start({ url: leader.url });
    await new Promise((r) => setTimeout(r, 200));
    expect(follower.daemon.isLeader()).to.equal(false);
    const refused = await follower.call('POST', '/v1/plans/web/runs', 'member', { kind: 'drtest' });
    expect(refused.status).to.equal(503);
    expect(refused.headers.get('retry-after')).to.equal('1');
    expect((refused.json['error'] as { message: string }).message).to.include(`the leader is ${leader.daemon.id}`);
    const plans = await follower.call('GET', '/v1/plans', 'reader');
    expect((plans.json['plans'] as { name: string }[]).map((p) => p.name)).to.deep.equal(['web']);
    const status = await follower.call('GET', '/v1/status', 'reader');
    expect(status.json['daemon']).to.deep.include({ id: follower.daemon.id, leader: false, leaderId: leader.daemon.id });
    const m = await follower.call('GET', '/metrics');
    expect(m.status).to.equal(200);
    expect(String(m.json['text'])).to.match(/^ferry_leader 0$/m);
    // a payroll reader does not see web's plans (another project)
    const other = await follower.call('GET', '/v1/plans/web', 'payrollReader');
    expect(other.status).to.equal(404);
  });

  it('closes its listeners first when the daemon stops, and listens on nothing when both are off', async () => {
    const d = await start();
    await fetch(`${d.cfg.urls.metrics}/metrics`);
    await d.daemon.stop('test');
    let refused = false;
    await fetch(`${d.cfg.urls.api}/healthz`).catch(() => (refused = true));
    expect(refused).to.equal(true);
    const off = await start({ text: '[api]\nenabled = false\n[metrics]\nenabled = false\n' });
    let offRefused = false;
    await fetch(`${off.cfg.urls.api}/healthz`).catch(() => (offRefused = true));
    expect(offRefused).to.equal(true);
    expect(off.logger.text()).to.include('REST API and metrics listener off');
  });

  it('runs the scheduled DR tests of [drtest_schedule] with the DR test workflow', async () => {
    const d = await start({ text: '[drtest_schedule]\nweb = * * * * * *\n' });
    await addPlan(d.daemon.repo, 'web', { project: web });
    await until(() => d.calls.length === 1, 4000, 'a scheduled DR test');
    expect(d.calls[0]).to.deep.equal({ plan: 'web', params: {}, owner: d.daemon.id });
    const [run] = await d.daemon.repo.runs.list({ planName: 'web', kind: 'drtest' });
    d.drtest.gates.get(run!.id)!('succeeded');
    await until(async () => (await d.daemon.repo.runs.get(run!.id))?.status === 'succeeded', 2000, 'the test ends');
    await until(async () => /kind="drtest",outcome="succeeded"\} 1$/m.test(await (await fetch(`${d.cfg.urls.metrics}/metrics`)).text()), 2000, 'its metric');
    expect(d.logger.text()).to.include(`scheduled DR test of plan web: succeeded (run ${run!.id})`);
  });
});
