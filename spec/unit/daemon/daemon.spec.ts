// The daemon as a whole, with real timers and a short lease (300 ms), on every backend:
// two daemons on one catalog, the leader killed or stopped, the other taking over and resuming
// what the first left. The cycles and resumes are fakes that record what they were asked.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import nock from 'nock';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Catalog } from '../../../lib/catalog/db.js';
import { LeaseRepo } from '../../../lib/catalog/leases.js';
import { CatalogRepo } from '../../../lib/catalog/repo.js';
import type { DaemonConfig } from '../../../lib/daemon/config.js';
import { Daemon, createDaemonLogger, registerDaemonService, type DaemonObserver, type DaemonOptions } from '../../../lib/daemon/daemon.js';
import { LEADER_LEASE } from '../../../lib/daemon/leader.js';
import type { ResumeRun, RunCycle } from '../../../lib/daemon/scheduler.js';
import { MemoryLogger } from '../../../lib/log.js';
import type { RunOutcome } from '../../../lib/workflows/engine.js';
import type { CycleResult } from '../../../lib/workflows/replicate.js';
import { CINDER, HEAT, KEYSTONE, NOVA, PASSWORD, PROJECT_ID, SWIFT, mockAuth, useNock } from '../../support/fake-cloud.js';
import { BACKENDS, addPlan, config, until } from './daemon-support.js';

const FAST = `
[scheduler]
max_jitter = 0
[health]
enabled = false
[DEFAULT]
graceful_shutdown_timeout = 2
`;

/** A configuration with a 300 ms lease, 50 ms heartbeats and ticks (below what ferry.conf allows). */
function fastConfig(text = ''): DaemonConfig {
  const c = config(`${FAST}${text}`);
  c.coordination.lease_duration = { ms: 300, text: '0.3' };
  c.coordination.heartbeat_interval = { ms: 50, text: '0.05' };
  c.scheduler.tick_interval = { ms: 50, text: '0.05' };
  return c;
}

interface Recorded {
  cycles: { plan: string; owner: string; runningOwners: string[] }[];
  resumed: string[];
}

/**
 * A fake cycle: records the plan and who owned the plan's running replicate run (what
 * runReplicationCycle would resume), records its own run, and blocks until aborted, leaving
 * the run `running` as a crashed or interrupted cycle does.
 */
function blockingCycle(repo: () => CatalogRepo, rec: Recorded): RunCycle {
  return async (plan, ctx) => {
    const running = await repo().runs.list({ planName: plan, kind: 'replicate', status: 'running' });
    rec.cycles.push({ plan, owner: ctx.owner, runningOwners: running.map((r) => r.owner) });
    const run = running[0] ?? (await repo().runs.create({ planName: plan, kind: 'replicate', owner: ctx.owner, params: { cycle: 1 } }));
    await repo().journal.append(run.id, { step: 'volumes', phase: 'act' });
    await new Promise<void>((resolve) => (ctx.signal.aborted ? resolve() : ctx.signal.addEventListener('abort', () => resolve(), { once: true })));
    return { runId: run.id, status: 'failed', error: 'cancelled' } as CycleResult;
  };
}

for (const backend of BACKENDS) {
  describe(`the daemon on ${backend.title}${backend.skip ? ` — ${backend.skip}` : ''}`, function () {
    this.timeout(20_000);
    const daemons: Daemon[] = [];
    const catalogs: Catalog[] = [];

    before(function () {
      if (backend.skip) this.skip();
    });
    beforeEach(async () => {
      await backend.reset();
    });
    afterEach(async () => {
      for (const d of daemons.splice(0)) await d.stop('test end');
      for (const c of catalogs.splice(0)) await c.close();
    });
    after(() => backend.cleanup());

    async function admin(): Promise<CatalogRepo> {
      const c = await backend.open();
      catalogs.push(c);
      return new CatalogRepo(c);
    }

    async function start(name: string, over: Partial<DaemonOptions> & { text?: string } = {}) {
      const rec: Recorded = { cycles: [], resumed: [] };
      const logger = new MemoryLogger();
      const events: string[] = [];
      const self: { daemon?: Daemon } = {};
      const resumeRun: ResumeRun = async (runId) => {
        rec.resumed.push(runId);
        return { status: 'succeeded' } as RunOutcome;
      };
      const observer: DaemonObserver = { elected: (e) => events.push(`elected ${e.fencing}`), demoted: (e) => events.push(`demoted ${e.fencing}: ${e.reason}`) };
      const daemon = await Daemon.start({
        config: fastConfig(over.text),
        id: `daemon@${name}:1:000000`,
        logger,
        openCatalog: () => backend.open(),
        runCycle: blockingCycle(() => self.daemon!.repo, rec),
        resumeRun,
        observers: [observer],
        services: [],
        ...over,
      });
      self.daemon = daemon;
      daemons.push(daemon);
      return { daemon, rec, logger, events };
    }

    it('elects one leader; killing it hands over within the lease, and the new leader resumes its runs from the journal', async () => {
      const repo = await admin();
      await addPlan(repo, 'db', { rpoMs: 3_600_000 }); // no point yet: due at once
      await addPlan(repo, 'web', { rpoMs: 3_600_000 }); // a fresh point: no cycle due
      const point = await repo.points.insert({ planName: 'web', consistency: 'crash' });
      await repo.points.complete(point.id, { apiVersion: 'ferry.recoverypoint/v1' }, 0);
      const a = await start('a');
      await until(() => a.daemon.isLeader(), 3000, 'a to lead');
      const b = await start('b');
      await until(() => a.rec.cycles.length === 1, 3000, "a's cycle");
      expect(a.rec.cycles[0]).to.deep.equal({ plan: 'db', owner: 'daemon@a:1:000000', runningOwners: [] });
      // a also drives a failover of another plan (as the API would have it)
      const failover = await repo.runs.create({ planName: 'web', kind: 'failover', owner: 'daemon@a:1:000000' });
      await new Promise((r) => setTimeout(r, 100));
      expect(b.daemon.isLeader()).to.equal(false);
      expect(b.rec.cycles).to.deep.equal([]);
      expect(b.daemon.status().leader).to.deep.include({ role: 'follower', holder: 'daemon@a:1:000000' });

      const killedAt = Date.now();
      await a.daemon.stop('kill -9', { release: false });
      await until(() => b.daemon.isLeader(), 3000, 'b to take over');
      const handover = Date.now() - killedAt;
      expect(handover, 'handover (ms)').to.be.below(300 + 2 * 50 + 500);
      await until(() => b.rec.cycles.length === 1 && b.rec.resumed.length === 1, 3000, 'b to resume');
      // the replicate run a left running is the one b's cycle resumes; the failover is resumed from its journal
      expect(b.rec.cycles[0]).to.deep.equal({ plan: 'db', owner: 'daemon@b:1:000000', runningOwners: ['daemon@a:1:000000'] });
      expect(b.rec.resumed).to.deep.equal([failover.id]);
      expect(b.events).to.deep.equal(['elected 2']);
      expect(b.logger.text()).to.match(/became leader \(fencing 2\) from daemon@a:1:000000 \(not renewed for 0\.[3-9] s\)/);
      expect(b.logger.text()).to.include(`failover run ${failover.id} of plan web from its journal (left running by daemon@a:1:000000)`);
      expect(await new LeaseRepo((catalogs[0] as Catalog)).get(LEADER_LEASE)).to.deep.include({ holder: 'daemon@b:1:000000', fencing: 2 });
    });

    it('drains on SIGTERM: interrupts its cycle at a journal boundary, releases the lease at once, closes the catalog', async () => {
      const repo = await admin();
      await addPlan(repo, 'db');
      const a = await start('a');
      await until(() => a.rec.cycles.length === 1, 3000, "a's cycle");
      const b = await start('b');
      await new Promise((r) => setTimeout(r, 60));
      const t0 = Date.now();
      const unfinished = await a.daemon.stop('SIGTERM');
      expect(unfinished).to.deep.equal([]);
      expect(a.events).to.deep.equal(['elected 1', 'demoted 1: stopping']);
      expect(a.logger.text()).to.include('stopping (SIGTERM): no new work; interrupting replicate:db at the next journal boundary');
      expect(a.logger.text()).to.include('released the leader lease (fencing 1)');
      let closed = false;
      try {
        await a.daemon.repo.plans.list();
      } catch {
        closed = true;
      }
      expect(closed, 'catalog closed').to.equal(true);
      // released: b does not wait for the lease to expire
      await until(() => b.daemon.isLeader(), 3000, 'b to take over');
      expect(Date.now() - t0).to.be.below(300);
      await until(() => b.rec.cycles.length === 1, 3000, "b's cycle");
      expect(b.rec.cycles[0]!.runningOwners).to.deep.equal(['daemon@a:1:000000']);
      const [run] = await repo.runs.list({ planName: 'db' });
      expect(run!.status).to.equal('running');
    });

    it('reports its status, and tells observers; an observer that throws changes nothing', async () => {
      const repo = await admin();
      await addPlan(repo, 'db');
      const seen: string[] = [];
      const a = await start('a', { observers: [{ elected: () => { throw new Error('metrics bug'); } }, { cycleStarted: (e) => seen.push(`cycle ${e.plan} ${e.requestId.slice(0, 4)}`) }] });
      await until(() => a.rec.cycles.length === 1, 3000, 'cycle');
      const off = a.daemon.observe({ demoted: (e) => seen.push(`demoted ${e.reason}`) });
      const s = a.daemon.status();
      expect(s).to.deep.include({ id: 'daemon@a:1:000000', pid: process.pid, configFile: undefined, stopping: false, health: undefined });
      expect(s.leader).to.deep.include({ role: 'leader', fencing: 1, leaseMs: 300 });
      expect(s.scheduler.running.map((j) => j.key)).to.deep.equal(['replicate:db']);
      expect(s.catalog.backend).to.equal(backend.title.startsWith('SQLite') ? 'sqlite' : 'mysql');
      expect(a.logger.text()).to.include('observer elected: metrics bug');
      await a.daemon.stop('SIGTERM');
      off();
      expect(seen).to.deep.equal(['cycle db req-', 'demoted stopping']);
    });

    it('starts the registered services with the daemon and closes them first when it stops', async () => {
      const order: string[] = [];
      const unregister = registerDaemonService('fake-api', async (ctx) => {
        order.push(`start ${ctx.daemon.id} ${ctx.config.api.enabled}`);
        return { name: 'fake-api', close: async () => void order.push(`close (leader ${ctx.daemon.isLeader()})`) };
      });
      try {
        const a = await start('a', { services: undefined });
        await until(() => a.daemon.isLeader(), 3000, 'lead');
        await a.daemon.stop('SIGTERM');
        expect(order).to.deep.equal(['start daemon@a:1:000000 false', 'close (leader true)']);
        expect(a.logger.text()).to.include('service fake-api started');
      } finally {
        unregister();
      }
    });

    it('closes the catalog when a service fails to start', async () => {
      let catalog: Catalog | undefined;
      try {
        await Daemon.start({
          config: fastConfig(),
          openCatalog: async () => (catalog = await backend.open()),
          services: [
            async () => {
              throw new Error('EADDRINUSE: address already in use 0.0.0.0:8797');
            },
          ],
        });
        expect.fail('expected a rejection');
      } catch (err) {
        expect((err as Error).message).to.include('EADDRINUSE');
      }
      let closed = false;
      try {
        await new CatalogRepo(catalog!).plans.list();
      } catch {
        closed = true;
      }
      expect(closed).to.equal(true);
    });
  });
}

describe('the daemon logger', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-log-'));

  it('writes oslo.log JSON documents with use_json', async () => {
    const file = join(dir, 'ferry.json.log');
    const log = createDaemonLogger({ debug: false, use_json: true, use_stderr: false, log_file: file });
    log.child({ requestId: 'req-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', site: 'site-a' }).warn('site site-a is down (was up)', { plan: 'web' });
    log.debug('not at info level');
    await until(() => existsSync(file) && readFileSync(file, 'utf8').includes('\n'), 3000, 'the log file');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).to.have.length(1);
    const doc = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(doc).to.deep.include({ message: 'site site-a is down (was up)', name: 'ferry.daemon', levelname: 'WARNING', levelno: 30, process: process.pid });
    expect(doc['context']).to.deep.equal({ request_id: 'req-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', site: 'site-a', run: null });
    expect(doc['extra']).to.deep.equal({ plan: 'web' });
    expect(doc['asctime']).to.match(/^\d{4}-\d\d-\d\dT/);
  });

  it('writes oslo.log lines with the request ID by default', async () => {
    const file = join(dir, 'ferry.log');
    const log = createDaemonLogger({ debug: true, use_json: false, use_stderr: false, log_file: file });
    log.child({ requestId: 'req-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' }).debug('replication cycle of plan web starting');
    await until(() => existsSync(file) && readFileSync(file, 'utf8').includes('\n'), 3000, 'the log file');
    expect(readFileSync(file, 'utf8')).to.match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \d+ DEBUG ferry\.daemon \[req-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 - -\] replication cycle of plan web starting\n$/);
  });
});

describe('the daemon with its default probes (clouds.yaml, HTTP)', () => {
  useNock();
  let daemon: Daemon | undefined;
  afterEach(async () => {
    await daemon?.stop('test end');
    daemon = undefined;
  });

  it('probes the sites of the plans from clouds.yaml and reports them, and every OpenStack response to observers', async function () {
    this.timeout(10_000);
    const dir = mkdtempSync(join(tmpdir(), 'ferry-daemon-clouds-'));
    const clouds = join(dir, 'clouds.yaml');
    const auth = `{auth_url: ${KEYSTONE}/v3, username: ferry, password: ${PASSWORD}, project_name: admin, user_domain_name: Default, project_domain_name: Default}`;
    writeFileSync(clouds, `clouds:\n  site-a:\n    auth: ${auth}\n    region_name: RegionOne\n  site-b:\n    auth: ${auth}\n    region_name: RegionOne\n`);
    // both clouds answer at the same fake endpoints; every probe succeeds
    mockAuth(2);
    nock(KEYSTONE).persist().head('/v3/auth/tokens').reply(200);
    nock(NOVA).persist().get('/v2.1/').reply(200, { version: { id: 'v2.1', status: 'CURRENT', version: '2.93', min_version: '2.1' } });
    nock(CINDER).persist().get('/v3/').reply(200, { versions: [{ id: 'v3.0', status: 'CURRENT', version: '3.70', min_version: '3.0' }] });
    nock(HEAT).persist().get(`/v1/${PROJECT_ID}/build_info`).reply(200, { api: { revision: '19.0.0' } });
    nock(SWIFT).persist().head(`/v1/AUTH_${PROJECT_ID}`).reply(204);
    const c = config(`[DEFAULT]\nclouds_file = ${clouds}\nstate_path = ${dir}\n[scheduler]\nenabled = false\n`);
    c.health.probe_interval = { ms: 50, text: '0.05' };
    const responses: string[] = [];
    daemon = await Daemon.start({ config: c, services: [], observers: [{ openstackResponse: (e) => responses.push(`${e.site} ${e.service} ${e.method} ${e.status}`) }] });
    await addPlan(daemon.repo, 'web');
    await until(() => daemon!.health()!.sites.filter((s) => s.status === 'up').length === 2, 5000, 'both sites up');
    const view = daemon.health()!;
    expect(view.sites.map((s) => [s.site, s.status, s.error])).to.deep.equal([
      ['site-a', 'up', undefined],
      ['site-b', 'up', undefined],
    ]);
    expect(view.advice).to.deep.equal([{ plan: 'web', activeSite: 'site-a', targetSite: 'site-b', level: 'ok', message: 'both sites are up' }]);
    expect(responses).to.include.members(['site-a identity POST 201', 'site-a identity HEAD 200', 'site-b compute GET 200', 'site-b block-storage GET 200', 'site-a orchestration GET 200', 'site-b object-store HEAD 204']);
    expect(daemon.status().health).to.deep.equal(daemon.health());
  });
});
