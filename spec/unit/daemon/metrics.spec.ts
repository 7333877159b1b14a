// The daemon's metrics: after recording values, the exposition text has each metric with its
// labels and values; per-plan gauges come from the catalog at scrape time (current RPO, point
// ages, counts), absent when the catalog cannot be read; OpenStack requests are counted from a
// real Site's transport; the metrics-only listener serves them without a token.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import nock from 'nock';
import { buildMetricsServer } from '../../../lib/daemon/api/server.js';
import { catalogSnapshot, Metrics } from '../../../lib/daemon/metrics.js';
import { metricsObserver } from '../../../lib/daemon/metrics-observer.js';
import { MemoryLogger } from '../../../lib/log.js';
import { NOVA, mockAuth, mockNovaVersion, testSite, useNock } from '../../support/fake-cloud.js';
import { MINUTE, T0, world, type World } from './api-fixtures.js';

/** The sample lines of one metric family (no HELP/TYPE). */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe('daemon metrics', () => {
  it('replication cycles: duration by outcome, bytes by kind, slow cycles (over half the RPO)', async () => {
    const m = new Metrics();
    expect(m.recordCycle('web', { status: 'complete', durationMs: 45_000, bytes: { volumes: 10_485_760, images: 2048 } }, 60 * MINUTE)).to.deep.equal({ slow: false });
    expect(m.recordCycle('web', { status: 'partial', durationMs: 31 * MINUTE, bytes: { volumes: 1000, images: 0 } }, 60 * MINUTE)).to.deep.equal({ slow: true });
    const text = await m.text();
    expect(samples(text, 'ferry_replicated_bytes_total')).to.deep.equal(['ferry_replicated_bytes_total{plan="web",kind="volumes"} 10486760', 'ferry_replicated_bytes_total{plan="web",kind="images"} 2048']);
    expect(text).to.include('ferry_replication_cycle_duration_seconds_bucket{le="60",plan="web",outcome="complete"} 1');
    expect(text).to.include('ferry_replication_cycle_duration_seconds_bucket{le="1800",plan="web",outcome="partial"} 0');
    expect(text).to.include('ferry_replication_cycle_duration_seconds_sum{plan="web",outcome="partial"} 1860');
    expect(text).to.include('ferry_replication_cycle_duration_seconds_count{plan="web",outcome="complete"} 1');
    expect(samples(text, 'ferry_replication_cycle_slow_total')).to.deep.equal(['ferry_replication_cycle_slow_total{plan="web"} 1']);
    expect(text).to.include('# TYPE ferry_replication_cycle_duration_seconds histogram');
  });

  it('runs: duration and count by kind and outcome', async () => {
    const m = new Metrics();
    m.recordRun('drtest', 'succeeded', 12 * MINUTE);
    m.recordRun('drtest', 'succeeded', 8 * MINUTE);
    m.recordRun('failover', 'failed', 90_000);
    const text = await m.text();
    expect(text).to.include('ferry_run_duration_seconds_count{kind="drtest",outcome="succeeded"} 2');
    expect(text).to.include('ferry_run_duration_seconds_sum{kind="drtest",outcome="succeeded"} 1200');
    expect(text).to.include('ferry_run_duration_seconds_count{kind="failover",outcome="failed"} 1');
  });

  it('sites up, degraded or down and services up or down; unknown removes the series; leader and build info', async () => {
    const m = new Metrics({ version: '0.1.0' });
    m.setSiteState('site-a', 'up');
    m.setSiteState('site-c', 'degraded');
    m.setSiteState('site-b', 'down');
    m.setServiceState('site-b', 'compute', 'down');
    m.setServiceState('site-b', 'identity', 'up');
    m.setLeader(true);
    let text = await m.text();
    expect(samples(text, 'ferry_site_up')).to.deep.equal(['ferry_site_up{site="site-a"} 1', 'ferry_site_up{site="site-c"} 0', 'ferry_site_up{site="site-b"} 0']);
    expect(samples(text, 'ferry_site_status').filter((l) => l.endsWith(' 1'))).to.deep.equal([
      'ferry_site_status{site="site-a",status="up"} 1',
      'ferry_site_status{site="site-c",status="degraded"} 1',
      'ferry_site_status{site="site-b",status="down"} 1',
    ]);
    expect(samples(text, 'ferry_site_status')).to.have.length(9);
    expect(samples(text, 'ferry_site_service_up')).to.deep.equal(['ferry_site_service_up{site="site-b",service="compute"} 0', 'ferry_site_service_up{site="site-b",service="identity"} 1']);
    expect(samples(text, 'ferry_leader')).to.deep.equal(['ferry_leader 1']);
    expect(samples(text, 'ferry_build_info')).to.deep.equal(['ferry_build_info{version="0.1.0"} 1']);
    m.setSiteState('site-b', 'unknown');
    m.setLeader(false);
    text = await m.text();
    expect(samples(text, 'ferry_site_up')).to.deep.equal(['ferry_site_up{site="site-a"} 1', 'ferry_site_up{site="site-c"} 0']);
    expect(samples(text, 'ferry_site_status').some((l) => l.includes('site-b'))).to.equal(false);
    expect(samples(text, 'ferry_leader')).to.deep.equal(['ferry_leader 0']);
  });

  it("follows the daemon's observer: leader, sites and services (a dropped site loses its series), runs by kind", async () => {
    const m = new Metrics();
    const o = metricsObserver(m);
    o.elected!({ id: 'd', fencing: 1, previousHolder: '' });
    o.siteChanged!({ site: 'site-a', from: 'unknown', to: 'down', at: '', services: [], advice: [] });
    o.serviceChanged!({ site: 'site-a', service: 'compute', from: 'up', to: 'down' });
    o.runFinished!({ kind: 'drtest', plan: 'web', runId: 'r1', outcome: 'succeeded', durationMs: 90_000, origin: 'api' });
    o.runFinished!({ kind: 'failover', plan: 'web', runId: 'r2', outcome: 'interrupted', durationMs: 1_000, origin: 'resume' });
    let text = await m.text();
    expect(samples(text, 'ferry_leader')).to.deep.equal(['ferry_leader 1']);
    expect(samples(text, 'ferry_site_up')).to.deep.equal(['ferry_site_up{site="site-a"} 0']);
    expect(samples(text, 'ferry_site_service_up')).to.deep.equal(['ferry_site_service_up{site="site-a",service="compute"} 0']);
    expect(samples(text, 'ferry_run_duration_seconds_count')).to.deep.equal([
      'ferry_run_duration_seconds_count{kind="drtest",outcome="succeeded"} 1',
      'ferry_run_duration_seconds_count{kind="failover",outcome="interrupted"} 1',
    ]);
    o.siteDropped!({ site: 'site-a', lastStatus: 'down' });
    o.demoted!({ id: 'd', fencing: 1, reason: 'stopping' });
    text = await m.text();
    expect(samples(text, 'ferry_site_up')).to.deep.equal([]);
    expect(samples(text, 'ferry_site_status')).to.deep.equal([]);
    expect(samples(text, 'ferry_site_service_up')).to.deep.equal([]);
    expect(samples(text, 'ferry_leader')).to.deep.equal(['ferry_leader 0']);
  });

  it('API requests by method, route template and status', async () => {
    const m = new Metrics();
    m.recordApiRequest('GET', '/v1/plans/{name}', 200, 12);
    m.recordApiRequest('GET', '/v1/plans/{name}', 200, 8);
    m.recordApiRequest('POST', '/v1/plans/{name}/runs', 403, 3);
    const text = await m.text();
    expect(samples(text, 'ferry_api_requests_total')).to.deep.equal([
      'ferry_api_requests_total{method="GET",route="/v1/plans/{name}",status="200"} 2',
      'ferry_api_requests_total{method="POST",route="/v1/plans/{name}/runs",status="403"} 1',
    ]);
    expect(text).to.include('ferry_api_request_duration_seconds_sum{method="GET",route="/v1/plans/{name}"} 0.02');
  });

  it('process metrics only when asked for', async () => {
    expect(await new Metrics().text()).not.to.include('process_cpu_seconds_total');
    expect(await new Metrics({ defaultMetrics: true }).text()).to.include('process_cpu_seconds_total');
  });

  describe('OpenStack requests from a real transport', () => {
    useNock();
    it('counts every HTTP exchange of a Site by site, service, method and status', async () => {
      const m = new Metrics();
      const { site } = testSite({}, { onResponse: m.recordOpenStackResponse, retry: { retries: 0 } });
      mockAuth();
      mockNovaVersion();
      nock(NOVA).get('/v2.1/flavors/detail').query(true).reply(200, { flavors: [] }).get('/v2.1/servers/nope').reply(404, { itemNotFound: { code: 404, message: 'Instance nope could not be found.' } });
      await site.compute.get('flavors/detail', { query: { limit: 1 } });
      await site.compute.get('servers/nope').catch(() => undefined);
      const text = await m.text();
      expect(samples(text, 'ferry_openstack_requests_total')).to.include.members([
        'ferry_openstack_requests_total{site="site-a",service="identity",method="POST",status="201"} 1',
        'ferry_openstack_requests_total{site="site-a",service="compute",method="GET",status="404"} 1',
      ]);
      const computeGets = samples(text, 'ferry_openstack_requests_total').filter((l) => l.includes('service="compute",method="GET",status="200"'));
      expect(computeGets).to.have.length(1);
      expect(Number(computeGets[0]!.split(' ')[1])).to.be.at.least(1);
      expect(text).to.match(/ferry_openstack_request_duration_seconds_count\{site="site-a",service="compute"\} [2-9]/);
    });
  });

  describe('per-plan gauges from the catalog at scrape time', () => {
    let w: World;
    beforeEach(async () => {
      w = await world();
    });
    afterEach(async () => {
      await w.catalog.close();
    });

    it('current RPO and target, RPO met, point ages and counts, plan info and epoch, active runs', async () => {
      const m = new Metrics({ snapshot: catalogSnapshot(w.repo), now: w.now });
      const text = await m.text();
      expect(samples(text, 'ferry_plan_rpo_seconds')).to.deep.equal(['ferry_plan_rpo_seconds{plan="payroll-db"} 300', 'ferry_plan_rpo_seconds{plan="web"} 1800']);
      expect(samples(text, 'ferry_plan_rpo_target_seconds')).to.deep.equal(['ferry_plan_rpo_target_seconds{plan="payroll-db"} 1800', 'ferry_plan_rpo_target_seconds{plan="web"} 3600']);
      expect(samples(text, 'ferry_plan_rpo_met')).to.deep.equal(['ferry_plan_rpo_met{plan="payroll-db"} 1', 'ferry_plan_rpo_met{plan="web"} 1']);
      expect(samples(text, 'ferry_recovery_point_age_seconds')).to.include.members(['ferry_recovery_point_age_seconds{plan="web",status="complete"} 1800', 'ferry_recovery_point_age_seconds{plan="web",status="partial"} 600']);
      expect(samples(text, 'ferry_recovery_point_oldest_age_seconds')).to.include('ferry_recovery_point_oldest_age_seconds{plan="web"} 1800');
      expect(samples(text, 'ferry_recovery_points').filter((l) => l.includes('plan="web"'))).to.deep.equal([
        'ferry_recovery_points{plan="web",status="in-progress"} 1',
        'ferry_recovery_points{plan="web",status="complete"} 1',
        'ferry_recovery_points{plan="web",status="partial"} 1',
        'ferry_recovery_points{plan="web",status="deleting"} 0',
      ]);
      expect(samples(text, 'ferry_plan_info')).to.include('ferry_plan_info{plan="web",project="5f0c1d2e3a4b4c5d8e9f0a1b2c3d4e5f",tier="pilot-light",primary_site="site-a",secondary_site="site-b",active_site="site-a"} 1');
      expect(samples(text, 'ferry_plan_epoch')).to.include('ferry_plan_epoch{plan="web"} 0');
      expect(samples(text, 'ferry_runs_active')).to.include.members(['ferry_runs_active{kind="failover"} 1', 'ferry_runs_active{kind="drtest"} 0']);
      expect(samples(text, 'ferry_catalog_up')).to.deep.equal(['ferry_catalog_up 1']);
      expect(text).not.to.include('plan="old-web"');
    });

    it('moves with time and follows the catalog: RPO grows, a missed RPO shows 0, a failover changes active_site', async () => {
      const m = new Metrics({ snapshot: catalogSnapshot(w.repo), now: w.now, snapshotTtlMs: 0 });
      w.advance(45 * MINUTE);
      await w.repo.plans.bumpEpoch('payroll-db', 0, { activeSite: 'site-b' });
      const text = await m.text();
      expect(samples(text, 'ferry_plan_rpo_seconds')).to.deep.equal(['ferry_plan_rpo_seconds{plan="payroll-db"} 3000', 'ferry_plan_rpo_seconds{plan="web"} 4500']);
      expect(samples(text, 'ferry_plan_rpo_met')).to.deep.equal(['ferry_plan_rpo_met{plan="payroll-db"} 0', 'ferry_plan_rpo_met{plan="web"} 0']);
      expect(samples(text, 'ferry_plan_info').find((l) => l.includes('plan="payroll-db"'))).to.include('active_site="site-b"');
      expect(samples(text, 'ferry_plan_epoch')).to.include('ferry_plan_epoch{plan="payroll-db"} 1');
    });

    it('a plan without a complete point has a target but no current RPO, and is not met', async () => {
      await w.repo.plans.upsert({ name: 'fresh', project: 'p', primarySite: 'site-a', secondarySite: 'site-b', tier: 'backup', rpoMs: 4 * 3_600_000, spec: {} });
      const text = await new Metrics({ snapshot: catalogSnapshot(w.repo), now: w.now }).text();
      expect(samples(text, 'ferry_plan_rpo_seconds').some((l) => l.includes('fresh'))).to.equal(false);
      expect(samples(text, 'ferry_plan_rpo_target_seconds')).to.include('ferry_plan_rpo_target_seconds{plan="fresh"} 14400');
      expect(samples(text, 'ferry_plan_rpo_met')).to.include('ferry_plan_rpo_met{plan="fresh"} 0');
    });

    it('reads the catalog once per scrape, however many gauges need it', async () => {
      let reads = 0;
      const source = catalogSnapshot(w.repo);
      const m = new Metrics({
        snapshot: async (now) => {
          reads++;
          return source(now);
        },
        now: () => new Date(T0),
      });
      await m.text();
      expect(reads).to.equal(1);
    });

    it('when the catalog cannot be read: ferry_catalog_up 0, no per-plan series, a warning, the rest still served', async () => {
      const logger = new MemoryLogger();
      const m = new Metrics({ snapshot: catalogSnapshot(w.repo), now: w.now, logger, snapshotTtlMs: 0 });
      m.setSiteState('site-a', 'up');
      expect(samples(await m.text(), 'ferry_plan_rpo_seconds')).to.have.length(2);
      await w.catalog.close();
      const text = await m.text();
      expect(samples(text, 'ferry_catalog_up')).to.deep.equal(['ferry_catalog_up 0']);
      expect(samples(text, 'ferry_plan_rpo_seconds')).to.deep.equal([]);
      expect(samples(text, 'ferry_site_up')).to.deep.equal(['ferry_site_up{site="site-a"} 1']);
      expect(logger.lines.map((l) => l.msg)).to.include('metrics: cannot read the catalog; per-plan metrics are absent from this scrape');
      w = await world(); // afterEach closes it
    });
  });

  it('docs/metrics.md documents every metric, and no metric that does not exist', async () => {
    const text = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
    const registered = (await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name).sort();
    const documented = [...new Set([...text.matchAll(/^\| `(ferry_[a-z_]+)` \|/gm)].map((m) => m[1]!))].sort();
    expect(documented).to.deep.equal(registered);
  });

  it('the metrics listener serves /metrics without a token and nothing else', async () => {
    const m = new Metrics({ version: '0.1.0' });
    m.setSiteState('site-a', 'up');
    const app = buildMetricsServer(m);
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
    expect(res.body).to.include('ferry_site_up{site="site-a"} 1');
    const other = await app.inject({ method: 'GET', url: '/v1/plans' });
    expect(other.statusCode).to.equal(404);
    expect(other.json()).to.deep.include({ error: { code: 'not_found', message: 'no route GET /v1/plans (this listener serves GET /metrics only)', request_id: other.headers['x-request-id'] } });
    await app.close();
  });
});
