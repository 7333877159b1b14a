import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { parse } from 'yaml';
import { run } from '../../../lib/cli/main.js';
import type { SiteReport } from '../../../lib/openstack/check.js';
import { CINDER, GLANCE, HEAT, KEYSTONE, NEUTRON, NOVA, PASSWORD, PLACEMENT, PROJECT_ID, SWIFT, mockAuth, mockCinderVersion, mockNovaVersion, useNock } from '../../support/fake-cloud.js';

function cloudsFile(extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-cli-'));
  const f = join(dir, 'clouds.yaml');
  writeFileSync(
    f,
    `clouds:
  site-a:
    auth: {auth_url: ${KEYSTONE}/v3, username: ferry, password: ${PASSWORD}, project_name: admin}
    region_name: RegionOne
${extra}`,
  );
  return f;
}

function mockHealthyServices() {
  mockNovaVersion();
  mockCinderVersion();
  // Version documents as each service serves them (Zed): Keystone GET /v3, Glance and Neutron GET /.
  nock(KEYSTONE).get('/v3').reply(200, { version: { id: 'v3.14', status: 'stable', updated: '2020-04-07T00:00:00Z' } });
  nock(GLANCE).get('/').reply(300, { versions: [{ id: 'v2.16', status: 'CURRENT' }, { id: 'v2.15', status: 'SUPPORTED' }] });
  nock(NEUTRON).get('/').reply(200, { versions: [{ id: 'v2.0', status: 'CURRENT' }] });
  nock(HEAT).get(`/v1/${PROJECT_ID}/build_info`).reply(200, { api: { revision: '19.0.0' }, engine: { revision: '19.0.0' } });
  nock(SWIFT).head(`/v1/AUTH_${PROJECT_ID}`).reply(204, '', { 'X-Account-Container-Count': '3' });
  nock(PLACEMENT).get('/').reply(200, { versions: [{ id: 'v1.0', max_version: '1.39', min_version: '1.0', status: 'CURRENT' }] });
}

async function ferry(args: string[], env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const code = await run(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    process.env = saved;
  }
}

describe('ferry sites check', () => {
  useNock();

  it('reports every service with endpoint and microversion range, exit 0', async () => {
    mockAuth();
    mockHealthyServices();
    const r = await ferry(['sites', 'check', 'site-a', '-f', 'json'], { OS_CLIENT_CONFIG_FILE: cloudsFile() });
    expect(r.code, r.err).to.equal(0);
    const [rep] = JSON.parse(r.out) as SiteReport[];
    expect(rep!.ok).to.equal(true);
    expect(rep!.project).to.equal('admin');
    const byType = Object.fromEntries(rep!.services.map((s) => [s.type, s]));
    expect(byType.compute).to.include({ endpoint: `${NOVA}/v2.1`, versions: '2.1-2.93', microversion: '2.79', ok: true });
    expect(byType['block-storage']).to.include({ endpoint: `${CINDER}/v3/${PROJECT_ID}`, versions: '3.0-3.70', microversion: '3.64' });
    expect(byType.image!.versions).to.equal('v2.16');
    expect(byType['object-store']!.versions).to.equal('v1 (3 containers)');
    expect(byType.placement!.microversion).to.equal('1.36');
  });

  it('prints a table by default and YAML on request', async () => {
    mockAuth();
    mockHealthyServices();
    const r = await ferry(['sites', 'check', 'site-a'], { OS_CLIENT_CONFIG_FILE: cloudsFile() });
    expect(r.out).to.match(/site site-a: OK/);
    expect(r.out).to.match(/│ compute\s+│ https:\/\/nova\.site-a\.test:8774\/v2\.1/);
    mockAuth();
    mockHealthyServices();
    const y = await ferry(['sites', 'check', 'site-a', '-f', 'yaml'], { OS_CLIENT_CONFIG_FILE: cloudsFile() });
    expect((parse(y.out) as SiteReport[])[0]!.site).to.equal('site-a');
  });

  it('fails a site with a wrong password, without printing the password, exit 1', async () => {
    nock(KEYSTONE)
      .post('/v3/auth/tokens')
      .reply(401, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    const r = await ferry(['sites', 'check', 'site-a'], { OS_CLIENT_CONFIG_FILE: cloudsFile() });
    expect(r.code).to.equal(1);
    expect(r.out).to.match(/site site-a: FAILED/);
    expect(r.out).to.match(/returned 401: The request you have made requires authentication/);
    expect(r.out + r.err).not.to.include(PASSWORD);
  });

  it('fails a site that is unreachable, naming the cause', async () => {
    nock(KEYSTONE).post('/v3/auth/tokens').times(2).replyWithError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const r = await ferry(['sites', 'check', 'site-a', '-f', 'json'], { OS_CLIENT_CONFIG_FILE: cloudsFile() });
    expect(r.code).to.equal(1);
    expect((JSON.parse(r.out) as SiteReport[])[0]!.error).to.match(/ECONNREFUSED; nothing listens there/);
  });

  it('fails a site whose catalog lacks a required service', async () => {
    const body = {
      token: {
        expires_at: '2099-01-01T00:00:00.000000Z',
        methods: ['password'],
        user: { id: 'u', name: 'ferry' },
        project: { id: PROJECT_ID, name: 'admin' },
        catalog: [{ type: 'compute', endpoints: [{ interface: 'public', region_id: 'RegionOne', url: `${NOVA}/v2.1` }] }],
      },
    };
    nock(KEYSTONE).post('/v3/auth/tokens').reply(201, body, { 'X-Subject-Token': 'tok' });
    mockNovaVersion();
    const r = await ferry(['sites', 'check', 'site-a', '-f', 'json'], { OS_CLIENT_CONFIG_FILE: cloudsFile() });
    expect(r.code).to.equal(1);
    const rep = (JSON.parse(r.out) as SiteReport[])[0]!;
    expect(rep.error).to.match(/missing service\(s\): identity, block-storage, image, network, orchestration, object-store/);
    expect(rep.services.find((s) => s.type === 'compute')!.ok).to.equal(true);
  });

  it('reports a cloud missing from clouds.yaml and still checks the others', async () => {
    mockAuth();
    mockHealthyServices();
    const r = await ferry(['sites', 'check', 'site-a', 'nope', '-f', 'json'], { OS_CLIENT_CONFIG_FILE: cloudsFile() });
    expect(r.code).to.equal(1);
    const reps = JSON.parse(r.out) as SiteReport[];
    expect(reps[0]!.ok).to.equal(true);
    expect(reps[1]!.error).to.match(/cloud 'nope' not found \(known: site-a\)/);
  });

  it('rejects an unknown output format with exit 2', async () => {
    const r = await ferry(['sites', 'check', '-f', 'xml'], { OS_CLIENT_CONFIG_FILE: cloudsFile() });
    expect(r.code).to.equal(2);
    expect(r.err).to.match(/Allowed choices are table, json, yaml/);
  });
});
