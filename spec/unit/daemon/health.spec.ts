import { expect } from 'chai';
import nock from 'nock';
import {
  HealthMonitor,
  PROBED_SERVICES,
  adviseFailover,
  applyProbe,
  newServiceHealth,
  postJson,
  probeOnce,
  probeSite,
  siteStatusOf,
  versionDocumentUrl,
  type PlanSites,
  type ProbedService,
  type ServiceHealth,
  type ServiceProbe,
  type ServiceStatus,
  type SiteStatus,
  type SiteTransition,
} from '../../../lib/daemon/health.js';
import { MemoryLogger } from '../../../lib/log.js';
import { CINDER, HEAT, KEYSTONE, NOVA, PROJECT_ID, SWIFT, TOKEN, expectAllCalled, mockAuth, mockCinderVersion, mockNovaVersion, testSite, useNock } from '../../support/fake-cloud.js';
import { FakeClock } from './daemon-support.js';

const T = { failureThreshold: 3, successThreshold: 2 };
const at = new Date('2026-03-01T10:00:00.000Z');
const probe = (service: ProbedService, ok: boolean | undefined, error?: string): ServiceProbe => ({ service, ok, latencyMs: 5, ...(error ? { error } : {}) });

function netError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('site health', () => {
  describe('hysteresis (pure)', () => {
    it('counts a service down after N failures in a row and up after M successes in a row', () => {
      const seq: [boolean | undefined, ServiceStatus, boolean][] = [
        // probe, status after, changed
        [true, 'unknown', false],
        [true, 'up', true],
        [false, 'up', false],
        [false, 'up', false],
        [true, 'up', false], // the run of failures is broken: counting starts again
        [false, 'up', false],
        [false, 'up', false],
        [undefined, 'up', false], // not probed: nothing counts
        [false, 'down', true],
        [false, 'down', false],
        [true, 'down', false],
        [false, 'down', false],
        [true, 'down', false],
        [true, 'up', true],
      ];
      let s: ServiceHealth = newServiceHealth('compute');
      seq.forEach(([ok, status, changed], i) => {
        const r = applyProbe(s, probe('compute', ok, ok === false ? 'boom' : undefined), new Date(at.getTime() + i * 1000), T);
        expect([r.next.status, r.changed], `probe ${i}`).to.deep.equal([status, changed]);
        s = r.next;
      });
      expect(s.since).to.equal(new Date(at.getTime() + 13_000).toISOString());
      expect(s).to.deep.include({ consecutiveSuccesses: 2, consecutiveFailures: 0, lastError: undefined, lastLatencyMs: 5 });
    });

    it('goes straight from unknown to down after N failures, keeping the last error', () => {
      let s = newServiceHealth('object-store');
      for (let i = 0; i < 3; i++) s = applyProbe(s, probe('object-store', false, `timeout ${i}`), at, T).next;
      expect(s).to.deep.include({ status: 'down', consecutiveFailures: 3, lastError: 'timeout 2', since: at.toISOString() });
    });

    it('derives the site status from its services', () => {
      const site = (statuses: Partial<Record<ProbedService, ServiceStatus>>) => siteStatusOf(PROBED_SERVICES.map((service) => ({ service, status: statuses[service] ?? 'up' })));
      const cases: [Partial<Record<ProbedService, ServiceStatus>>, SiteStatus][] = [
        [{}, 'up'],
        [{ identity: 'down' }, 'down'],
        [{ orchestration: 'down' }, 'degraded'],
        [{ compute: 'down', 'block-storage': 'down', orchestration: 'down', 'object-store': 'down' }, 'degraded'],
        [{ identity: 'down', compute: 'down', 'block-storage': 'down', orchestration: 'down', 'object-store': 'down' }, 'down'],
        [{ compute: 'unknown' }, 'unknown'],
        [{ compute: 'unknown', orchestration: 'down' }, 'degraded'],
        [{ identity: 'unknown', compute: 'unknown', 'block-storage': 'unknown', orchestration: 'unknown', 'object-store': 'unknown' }, 'unknown'],
      ];
      for (const [statuses, want] of cases) expect(site(statuses), JSON.stringify(statuses)).to.equal(want);
      expect(siteStatusOf([])).to.equal('unknown');
    });

    it('advises per plan; a failover only when the active site is down and the other up', () => {
      const plans: PlanSites[] = [
        { name: 'web', primarySite: 'a', secondarySite: 'b', activeSite: 'a' },
        { name: 'db', primarySite: 'a', secondarySite: 'b', activeSite: 'b' }, // failed over already
      ];
      const advice = (a: SiteStatus, b: SiteStatus) => adviseFailover(plans, (s) => (s === 'a' ? a : b)).map((x) => `${x.plan}:${x.level}`);
      expect(advice('up', 'up')).to.deep.equal(['web:ok', 'db:ok']);
      expect(advice('down', 'up')).to.deep.equal(['web:failover-advised', 'db:protection-at-risk']);
      expect(advice('down', 'down')).to.deep.equal(['web:no-site-available', 'db:no-site-available']);
      expect(advice('degraded', 'up')).to.deep.equal(['web:watch', 'db:protection-at-risk']);
      expect(advice('unknown', 'unknown')).to.deep.equal(['web:ok', 'db:ok']);
      const [web] = adviseFailover(plans, (s) => (s === 'a' ? 'down' : 'up'));
      expect(web).to.deep.equal({
        plan: 'web',
        activeSite: 'a',
        targetSite: 'b',
        level: 'failover-advised',
        message: "site a, where plan 'web' runs, is down and b is up: decide whether to fail over (ferry failover web)",
      });
    });

    it('finds version documents above the project-scoped endpoints', () => {
      expect(versionDocumentUrl(`${NOVA}/v2.1`, PROJECT_ID)).to.equal(`${NOVA}/v2.1/`);
      expect(versionDocumentUrl(`${CINDER}/v3/${PROJECT_ID}`, PROJECT_ID)).to.equal(`${CINDER}/v3/`);
      expect(versionDocumentUrl(`${CINDER}/v3/0123456789abcdef0123456789abcdef`)).to.equal(`${CINDER}/v3/`);
      expect(versionDocumentUrl(`${NOVA}/v2.1/`)).to.equal(`${NOVA}/v2.1/`);
    });
  });

  describe('probes (HTTP)', () => {
    useNock();
    const site = () => testSite({}, { retry: { retries: 0 } }).site;

    it('asks each service once: token validation, version documents, build_info, the account', async () => {
      mockAuth();
      nock(KEYSTONE, { reqheaders: { 'x-auth-token': TOKEN, 'x-subject-token': TOKEN } })
        .head('/v3/auth/tokens')
        .reply(200);
      mockNovaVersion();
      mockCinderVersion();
      nock(HEAT).get(`/v1/${PROJECT_ID}/build_info`).reply(200, { api: { revision: '19.0.0' }, engine: { revision: '19.0.0' } });
      nock(SWIFT).head(`/v1/AUTH_${PROJECT_ID}`).reply(204);
      const probes = await probeSite(site(), { timeoutMs: 1000 });
      expect(probes.map((p) => [p.service, p.ok, p.error])).to.deep.equal([
        ['identity', true, undefined],
        ['compute', true, undefined],
        ['block-storage', true, undefined],
        ['orchestration', true, undefined],
        ['object-store', true, undefined],
      ]);
      for (const p of probes) expect(p.latencyMs).to.be.a('number').and.at.least(0);
      expectAllCalled();
    });

    it('sends its token with the version documents (a real Cinder answers /v3/ with 401 without one)', async () => {
      mockAuth();
      nock(KEYSTONE).head('/v3/auth/tokens').reply(200);
      nock(NOVA, { reqheaders: { 'x-auth-token': TOKEN } }).get('/v2.1/').reply(200, { version: { id: 'v2.1' } });
      nock(CINDER, { reqheaders: { 'x-auth-token': TOKEN } }).get('/v3/').reply(200, { versions: [] });
      nock(CINDER, { badheaders: ['x-auth-token'] }).get('/v3/').reply(401, { error: { message: 'The request you have made requires authentication.' } });
      nock(HEAT).get(`/v1/${PROJECT_ID}/build_info`).reply(200, {});
      nock(SWIFT).head(`/v1/AUTH_${PROJECT_ID}`).reply(204);
      const probes = await probeSite(site(), { timeoutMs: 1000 });
      expect(probes.map((p) => `${p.service} ${p.ok}`)).to.deep.equal(['identity true', 'compute true', 'block-storage true', 'orchestration true', 'object-store true']);
    });

    it('reports each failing service with its error, once, without retries', async () => {
      mockAuth();
      nock(KEYSTONE).head('/v3/auth/tokens').reply(200);
      nock(NOVA).get('/v2.1/').reply(500, { computeFault: { code: 500, message: 'Unexpected API Error.' } });
      mockCinderVersion();
      nock(HEAT).get(`/v1/${PROJECT_ID}/build_info`).reply(503, 'Service Unavailable');
      nock(SWIFT).head(`/v1/AUTH_${PROJECT_ID}`).replyWithError(netError('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.5:8080'));
      const probes = await probeSite(site(), { timeoutMs: 1000 });
      expectAllCalled();
      const by = Object.fromEntries(probes.map((p) => [p.service, p]));
      expect(by['identity']!.ok).to.equal(true);
      expect(by['block-storage']!.ok).to.equal(true);
      expect(by['compute']).to.deep.include({ ok: false });
      expect(by['compute']!.error).to.include('500');
      expect(by['orchestration']!.error).to.include('503');
      expect(by['object-store']!.error).to.include('ECONNREFUSED');
    });

    it('probes nothing else when Keystone cannot be reached: the others keep their state', async () => {
      nock(KEYSTONE).post('/v3/auth/tokens').replyWithError(netError('ETIMEDOUT', 'connect ETIMEDOUT 10.0.0.1:5000'));
      const probes = await probeSite(site(), { timeoutMs: 1000 });
      expectAllCalled();
      expect(probes.map((p) => [p.service, p.ok])).to.deep.equal([
        ['identity', false],
        ['compute', undefined],
        ['block-storage', undefined],
        ['orchestration', undefined],
        ['object-store', undefined],
      ]);
      expect(probes[0]!.error).to.include('ETIMEDOUT');
      expect(probes[1]!.error).to.equal('not probed: no token from Keystone');
    });

    it("counts Keystone failing when it does not recognise the probe's own token", async () => {
      mockAuth();
      nock(KEYSTONE).head('/v3/auth/tokens').reply(404);
      mockNovaVersion();
      mockCinderVersion();
      nock(HEAT).get(`/v1/${PROJECT_ID}/build_info`).reply(200, {});
      nock(SWIFT).head(`/v1/AUTH_${PROJECT_ID}`).reply(204);
      const probes = await probeSite(site(), { timeoutMs: 1000 });
      expectAllCalled();
      expect(probes[0]).to.deep.include({ service: 'identity', ok: false, error: "Keystone does not recognise the probe's own token (its token store lost it?)" });
    });

    it('POSTs the webhook document as JSON and reports a failure with the origin only', async () => {
      const body = { event: 'ferry.site.status', site: 'a', to: 'down' };
      nock('https://hooks.example.com').post('/services/T0K3N', body).matchHeader('content-type', 'application/json').reply(204);
      await postJson('https://hooks.example.com/services/T0K3N', body, 1000);
      nock('https://hooks.example.com').post('/services/T0K3N').reply(500, 'no');
      try {
        await postJson('https://hooks.example.com/services/T0K3N', body, 1000);
        expect.fail('expected a rejection');
      } catch (err) {
        expect((err as Error).message).to.equal('https://hooks.example.com answered 500');
      }
      expectAllCalled();
    });
  });

  describe('the monitor', () => {
    const plans: PlanSites[] = [{ name: 'web', primarySite: 'site-a', secondarySite: 'site-b', activeSite: 'site-a' }];

    /** A prober whose answers the test sets per site. */
    function fakeProber() {
      const state: Record<string, boolean | Error | Partial<Record<ProbedService, boolean>>> = {};
      const calls: string[] = [];
      const prober = async (site: string): Promise<ServiceProbe[]> => {
        calls.push(site);
        const s = state[site] ?? true;
        if (s instanceof Error) throw s;
        return PROBED_SERVICES.map((service) => {
          const ok = typeof s === 'boolean' ? s : (s[service] ?? true);
          return probe(service, ok, ok ? undefined : `${service} timed out`);
        });
      };
      return { state, calls, prober };
    }

    function monitor(over: { webhook?: boolean; leader?: () => boolean; extraSites?: string[]; plans?: () => Promise<PlanSites[]> } = {}) {
      const clock = new FakeClock();
      const logger = new MemoryLogger();
      const fake = fakeProber();
      const sites: SiteTransition[] = [];
      const services: string[] = [];
      const posts: { url: string; body: Record<string, unknown> }[] = [];
      const dropped: string[] = [];
      const m = new HealthMonitor({
        settings: { intervalMs: 30_000, timeoutMs: 10_000, ...T, extraSites: over.extraSites ?? [], ...(over.webhook ? { webhook: { url: 'https://hooks.example.com/services/T0K3N', timeoutMs: 1000 } } : {}) },
        prober: fake.prober,
        plans: over.plans ?? (async () => plans),
        clock,
        logger,
        observer: {
          siteChanged: (t) => sites.push(t),
          serviceChanged: (e) => services.push(`${e.site} ${e.service} ${e.from}->${e.to}`),
          siteDropped: (e) => dropped.push(`${e.site} ${e.lastStatus}`),
        },
        ...(over.leader ? { sendsWebhook: over.leader } : {}),
        daemon: 'daemon@test:1:x',
        post: async (url, body) => {
          posts.push({ url, body: body as Record<string, unknown> });
        },
      });
      return { m, clock, logger, fake, sites, services, posts, dropped };
    }

    it('reports a site up after M rounds, down after N failed rounds, with log lines, observer calls, the webhook and advice', async () => {
      const h = monitor({ webhook: true });
      await h.m.probeRound();
      expect(h.m.view().sites.map((s) => [s.site, s.status])).to.deep.equal([
        ['site-a', 'unknown'],
        ['site-b', 'unknown'],
      ]);
      await h.m.probeRound();
      expect(h.m.siteStatus('site-a')).to.equal('up');
      expect(h.sites.map((t) => `${t.site} ${t.from}->${t.to}`)).to.deep.equal(['site-a unknown->up', 'site-b unknown->up']);
      // the link to site-a is cut
      h.fake.state['site-a'] = false;
      await h.m.probeRound();
      await h.m.probeRound();
      expect(h.m.siteStatus('site-a')).to.equal('up');
      await h.m.probeRound();
      expect(h.m.siteStatus('site-a')).to.equal('down');
      await h.m.flush();
      const down = h.sites.at(-1)!;
      expect(down).to.deep.include({ site: 'site-a', from: 'up', to: 'down' });
      expect(down.advice.map((a) => a.level)).to.deep.equal(['failover-advised']);
      expect(h.services.filter((s) => s.startsWith('site-a') && s.endsWith('up->down'))).to.have.length(5);
      expect(h.logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).to.include.members([
        'site site-a: identity is down (was up) after 3 failed probes: identity timed out',
        'site site-a is down (was up): identity, compute, block-storage, orchestration, object-store down',
        "site site-a, where plan 'web' runs, is down and site-b is up: decide whether to fail over (ferry failover web)",
      ]);
      expect(h.posts).to.have.length(3);
      expect(h.posts[2]!.url).to.equal('https://hooks.example.com/services/T0K3N');
      expect(h.posts[2]!.body).to.deep.include({ event: 'ferry.site.status', daemon: 'daemon@test:1:x', site: 'site-a', from: 'up', to: 'down' });
      expect(h.logger.text()).to.include('webhook https://hooks.example.com notified (up → down)').and.not.include('T0K3N');
      const view = h.m.view();
      expect(view.advice).to.deep.equal([down.advice[0]]);
      expect(view.thresholds).to.deep.equal(T);
      // the link is healed: up again after two good rounds
      h.fake.state['site-a'] = true;
      await h.m.probeRound();
      expect(h.m.siteStatus('site-a')).to.equal('down');
      await h.m.probeRound();
      expect(h.m.siteStatus('site-a')).to.equal('up');
      expect(h.m.view().advice.map((a) => a.level)).to.deep.equal(['ok']);
    });

    it("forgets a deleted plan's sites (not probed, not shown, observers told), but keeps them while the plans cannot be listed", async () => {
      let live: PlanSites[] | Error = [...plans, { name: 'db', primarySite: 'site-c', secondarySite: 'site-b', activeSite: 'site-c' }];
      const h = monitor({
        extraSites: ['site-x'],
        plans: async () => {
          if (live instanceof Error) throw live;
          return live;
        },
      });
      await h.m.probeRound();
      await h.m.probeRound();
      expect(h.m.view().sites.map((s) => `${s.site} ${s.status}`)).to.deep.equal(['site-a up', 'site-b up', 'site-c up', 'site-x up']);
      // the catalog cannot be read for a round: nothing is forgotten
      live = new Error('catalog unreachable');
      h.fake.calls.length = 0;
      await h.m.probeRound();
      expect(h.fake.calls.sort()).to.deep.equal(['site-a', 'site-b', 'site-c', 'site-x']);
      expect(h.dropped).to.deep.equal([]);
      // plan db was deleted
      live = plans;
      h.fake.calls.length = 0;
      await h.m.probeRound();
      expect(h.fake.calls.sort(), 'site-c is no longer probed').to.deep.equal(['site-a', 'site-b', 'site-x']);
      expect(h.m.view().sites.map((s) => s.site)).to.deep.equal(['site-a', 'site-b', 'site-x']);
      expect(h.m.siteStatus('site-c')).to.equal('unknown');
      expect(h.dropped).to.deep.equal(['site-c up']);
      expect(h.logger.text()).to.include('site site-c: no longer probed');
      await h.m.probeRound();
      expect(h.dropped, 'told once').to.have.length(1);
    });

    it('does not flip on failures that do not come N in a row', async () => {
      const h = monitor();
      h.fake.state['site-a'] = true;
      for (const ok of [true, true, false, false, true, false, false, true, false, false]) {
        h.fake.state['site-a'] = ok;
        await h.m.probeRound();
      }
      expect(h.m.siteStatus('site-a')).to.equal('up');
      expect(h.sites.filter((t) => t.site === 'site-a').map((t) => t.to)).to.deep.equal(['up']);
    });

    it('says degraded when one service is down, and down when Keystone is', async () => {
      const h = monitor();
      h.fake.state['site-b'] = { orchestration: false };
      for (let i = 0; i < 3; i++) await h.m.probeRound();
      expect(h.m.siteStatus('site-b')).to.equal('degraded');
      expect(h.m.view().advice[0]).to.deep.include({ level: 'protection-at-risk' });
      h.fake.state['site-a'] = { identity: false };
      for (let i = 0; i < 3; i++) await h.m.probeRound();
      expect(h.m.siteStatus('site-a')).to.equal('down');
      expect(h.m.view().advice[0]).to.deep.include({ level: 'no-site-available' });
    });

    it('sends the webhook from the leader only', async () => {
      let leader = false;
      const h = monitor({ webhook: true, leader: () => leader });
      await h.m.probeRound();
      await h.m.probeRound();
      expect(h.sites).to.have.length(2);
      expect(h.posts).to.have.length(0);
      leader = true;
      h.fake.state['site-b'] = false;
      for (let i = 0; i < 3; i++) await h.m.probeRound();
      await h.m.flush();
      expect(h.posts.map((p) => `${p.body['site']} ${p.body['to']}`)).to.deep.equal(['site-b down']);
    });

    it('probes extra sites, and reports a site it cannot probe (no cloud entry) once without counting it', async () => {
      const h = monitor({ extraSites: ['site-c'] });
      h.fake.state['site-c'] = new Error("cloud 'site-c' not found in clouds.yaml");
      for (let i = 0; i < 4; i++) await h.m.probeRound();
      const c = h.m.view().sites.find((s) => s.site === 'site-c')!;
      expect(c).to.deep.include({ status: 'unknown', error: "cloud 'site-c' not found in clouds.yaml" });
      expect(c.services.every((s) => s.consecutiveFailures === 0)).to.equal(true);
      expect(h.logger.lines.filter((l) => l.msg.includes('cannot probe'))).to.have.length(1);
    });

    it('probes every interval on its clock once started, and stops', async () => {
      const h = monitor();
      h.m.start();
      await h.clock.advance(0);
      expect(h.fake.calls).to.have.length(2);
      await h.clock.advance(29_999);
      expect(h.fake.calls).to.have.length(2);
      await h.clock.advance(1);
      expect(h.fake.calls).to.have.length(4);
      await h.clock.advance(60_000);
      expect(h.fake.calls).to.have.length(8);
      await h.m.stop();
      await h.clock.advance(120_000);
      expect(h.fake.calls).to.have.length(8);
      // the fourth and last round ran at 90 s
      expect(h.m.view().updatedAt).to.equal(new Date(h.clock.t - 210_000 + 90_000).toISOString());
    });

    it('takes a one-off snapshot for an in-process ferry status', async () => {
      const fake = fakeProber();
      fake.state['b'] = { orchestration: false };
      fake.state['c'] = new Error('no such cloud');
      const snap = await probeOnce(['a', 'b', 'c'], fake.prober, 1000);
      expect(snap.map((s) => [s.site, s.status, s.error])).to.deep.equal([
        ['a', 'up', undefined],
        ['b', 'degraded', undefined],
        ['c', 'unknown', 'no such cloud'],
      ]);
    });
  });
});
