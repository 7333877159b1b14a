// Foundation against the real lab: sites check, microversion negotiation, error mapping of
// every service's real error bodies.
import { expect } from 'chai';
import { run } from '../../lib/cli/main.js';
import { NotFoundError, type HttpError } from '../../lib/errors.js';
import type { SiteReport } from '../../lib/openstack/check.js';
import { extractFault } from '../../lib/openstack/fault.js';
import type { ServiceClient } from '../../lib/openstack/service-client.js';
import { captureFixture } from './support/fixtures.js';
import { CLOUDS_FILE, labSite, useLab } from './support/lab.js';

async function ferry(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const saved = process.env.OS_CLIENT_CONFIG_FILE;
  process.env.OS_CLIENT_CONFIG_FILE = CLOUDS_FILE;
  try {
    const code = await run(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    if (saved === undefined) delete process.env.OS_CLIENT_CONFIG_FILE;
    else process.env.OS_CLIENT_CONFIG_FILE = saved;
  }
}

async function failure(p: Promise<unknown>): Promise<HttpError> {
  try {
    await p;
  } catch (e) {
    return e as HttpError;
  }
  throw new Error('expected the call to fail');
}

describe('lab: sites', function () {
  useLab();

  it('ferry sites check lab-a lab-b: both sites OK with every service', async () => {
    const r = await ferry(['sites', 'check', 'lab-a', 'lab-b', '-f', 'json']);
    const reports = JSON.parse(r.out) as SiteReport[];
    for (const rep of reports) {
      const bad = rep.services.filter((s) => !s.ok).map((s) => `${s.type}: ${s.error}`);
      expect(rep.ok, `${rep.site}: ${rep.error} ${bad.join('; ')}`).to.equal(true);
      expect(rep.services.map((s) => s.type)).to.include.members(['compute', 'block-storage', 'image', 'network', 'orchestration', 'object-store']);
    }
    expect(reports.map((x) => x.auth_url)).to.deep.equal(['http://127.0.1.1:5000/v3', 'http://127.0.2.1:5000/v3']);
    expect(r.code).to.equal(0);
  });

  it('sites check fails for a wrong password without printing it', async () => {
    const { loadCloud } = await import('../../lib/config/clouds.js');
    const { Site } = await import('../../lib/openstack/site.js');
    const { checkSite } = await import('../../lib/openstack/check.js');
    const cloud = loadCloud('lab-a', { env: { OS_CLIENT_CONFIG_FILE: CLOUDS_FILE } });
    const wrong = { ...cloud, auth: { ...cloud.auth, password: 'definitely-wrong-pw' } };
    const rep = await checkSite(new Site(wrong, { retry: { retries: 0 } }));
    expect(rep.ok).to.equal(false);
    expect(rep.error).to.match(/returned 401/);
    expect(JSON.stringify(rep)).not.to.include('definitely-wrong-pw');
  });

  it('negotiates microversions with the real Nova (2.79 of 2.1-2.93) and Cinder (3.64 of 3.0-3.70)', async () => {
    for (const cloud of ['lab-a', 'lab-b'] as const) {
      const site = labSite(cloud);
      const nova = await site.compute.versionRange();
      const cinder = await site.blockStorage.versionRange();
      expect(nova?.min).to.equal('2.1');
      expect(cinder?.min).to.equal('3.0');
      expect(await site.compute.microversion()).to.equal('2.79');
      expect(await site.blockStorage.microversion()).to.equal('3.64');
      expect(await site.compute.supports('2.26')).to.equal(true);
      expect(await site.blockStorage.supports('3.47')).to.equal(true);
    }
  });

  describe('error bodies of the real services', () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    const cases: [string, (s: ReturnType<typeof labSite>) => ServiceClient, string][] = [
      ['compute', (s) => s.compute, `servers/${missing}`],
      ['block-storage', (s) => s.blockStorage, `volumes/${missing}`],
      ['image', (s) => s.image, `v2/images/${missing}`],
      ['network', (s) => s.network, `v2.0/networks/${missing}`],
      ['orchestration', (s) => s.orchestration, `stacks/no-such-stack/${missing}`],
      ['object-store', (s) => s.objectStore, `no-such-container-${missing}`],
      ['identity', (s) => s.identity, `projects/${missing}`],
    ];
    for (const [name, pick, path] of cases) {
      it(`${name}: a 404 becomes NotFoundError with the service's message and request ID`, async () => {
        const sc = pick(labSite('lab-a'));
        const raw = await sc.get<unknown>(path, { ok: [404], responseType: name === 'object-store' || name === 'image' ? 'text' : 'json' });
        captureFixture(`${name}-404`, { service: name, call: `GET ${path}`, status: 404, body: raw.data, contentType: raw.headers['content-type'] });
        const err = await failure(sc.get(path));
        expect(err).to.be.instanceOf(NotFoundError);
        expect(err.status).to.equal(404);
        expect(err.detail, 'the message extracted from the real body').to.equal(extractFault(raw.data, raw.headers['content-type'] ?? '').detail);
        expect(err.detail.length).to.be.greaterThan(0);
        if (name !== 'object-store') expect(err.requestId, 'request ID captured').to.match(/^(req-|tx)/);
      });
    }

    it('cinder: a 400 for a bad request keeps its message', async () => {
      const sc = labSite('lab-a').blockStorage;
      const raw = await sc.post<unknown>('volumes', { volume: { size: -1 } }, { ok: [400] });
      captureFixture('block-storage-400', { service: 'block-storage', call: 'POST volumes size=-1', status: 400, body: raw.data });
      const err = await failure(sc.post('volumes', { volume: { size: -1 } }));
      expect(err.status).to.equal(400);
      expect(err.detail).to.match(/size/i);
    });

    it('neutron: a 409 for a duplicate security group rule keeps its type', async () => {
      const net = labSite('lab-a').network;
      const sg = (await net.post<{ security_group: { id: string } }>('v2.0/security-groups', { security_group: { name: 'ferry-lab-409' } })).data.security_group;
      try {
        const rule = { security_group_rule: { security_group_id: sg.id, direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, ethertype: 'IPv4' } };
        await net.post('v2.0/security-group-rules', rule);
        const raw = await net.post<unknown>('v2.0/security-group-rules', rule, { ok: [409] });
        captureFixture('network-409', { service: 'network', call: 'POST security-group-rules (duplicate)', status: 409, body: raw.data });
        const err = await failure(net.post('v2.0/security-group-rules', rule));
        expect(err.status).to.equal(409);
        expect(err.type).to.equal('SecurityGroupRuleExists');
      } finally {
        await net.delete(`v2.0/security-groups/${sg.id}`);
      }
    });
  });
});
