import { expect } from 'chai';
import nock from 'nock';
import { ForbiddenError, NotFoundError, NotSupportedError } from '../../../../lib/errors.js';
import {
  createServerGroup,
  deleteServerGroup,
  getServerGroup,
  listServerGroups,
  serverGroupPolicy,
} from '../../../../lib/openstack/compute/servergroups.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { NOVA, PROJECT_ID, expectAllCalled, mockAuth, mockNovaVersion, testSite, useNock } from '../../../support/fake-cloud.js';

const base = '/v2.1';

// Shape: api-ref compute "Show Server Group Details" at 2.64+ (nova/api/openstack/compute/server_groups.py
// _format_server_group(): policy and rules since 2.64, project_id and user_id since 2.13).
function group(id: string, extra: Record<string, unknown> = {}) {
  return { id, name: `sg-${id}`, policy: 'anti-affinity', rules: { max_server_per_host: 1 }, members: ['s1'], project_id: PROJECT_ID, user_id: 'u-ferry', ...extra };
}

// The same before 2.64: a one-element `policies` list and an always-empty `metadata`.
function oldGroup(id: string) {
  return { id, name: `sg-${id}`, policies: ['affinity'], metadata: {}, members: [], project_id: PROJECT_ID, user_id: 'u-ferry' };
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('compute/servergroups', () => {
  useNock();

  it('lists every page with limit/offset (Nova gives no next links), stopping on a short page', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .get(`${base}/os-server-groups`)
      .query({ all_projects: 'true', limit: '2', offset: '0' })
      .matchHeader('OpenStack-API-Version', 'compute 2.79')
      .reply(200, { server_groups: [group('g1'), group('g2')] })
      .get(`${base}/os-server-groups`)
      .query({ all_projects: 'true', limit: '2', offset: '2' })
      .reply(200, { server_groups: [group('g3')] });
    const pages: number[] = [];
    const got = await collect(listServerGroups(site.compute, { all_projects: true, limit: 2 }, { onPage: (n) => pages.push(n) }));
    expect(got.map((g) => g.id)).to.deep.equal(['g1', 'g2', 'g3']);
    expect(pages).to.deep.equal([2, 1]);
    expectAllCalled();
  });

  it('asks 100 at a time by default and never sends all_projects=false (Nova only tests its presence)', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .get(`${base}/os-server-groups`)
      .query({ limit: '100', offset: '0' })
      .reply(200, { server_groups: [group('g1')] });
    expect((await collect(listServerGroups(site.compute, { all_projects: false }))).map((g) => g.id)).to.deep.equal(['g1']);
    expectAllCalled();
  });

  it('stops when the server ignores offset and repeats the first page', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .get(`${base}/os-server-groups`)
      .query({ limit: '1', offset: '0' })
      .reply(200, { server_groups: [group('g1')] })
      .get(`${base}/os-server-groups`)
      .query({ limit: '1', offset: '1' })
      .reply(200, { server_groups: [group('g1')] });
    expect((await collect(listServerGroups(site.compute, { limit: 1 }))).map((g) => g.id)).to.deep.equal(['g1']);
    expectAllCalled();
  });

  it('gets a group and reads its policy in either shape', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA).get(`${base}/os-server-groups/g1`).reply(200, { server_group: group('g1') });
    const g = await getServerGroup(site.compute, 'g1');
    expect(serverGroupPolicy(g)).to.equal('anti-affinity');
    expect(g.rules).to.deep.equal({ max_server_per_host: 1 });
    expect(serverGroupPolicy(oldGroup('g2') as Parameters<typeof serverGroupPolicy>[0])).to.equal('affinity');
  });

  it('creates with policy and rules at 2.64+', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .post(`${base}/os-server-groups`, { server_group: { name: 'web', policy: 'anti-affinity', rules: { max_server_per_host: 2 } } })
      .reply(200, { server_group: group('g9', { name: 'web', rules: { max_server_per_host: 2 }, members: [] }) });
    const g = await createServerGroup(site.compute, { name: 'web', policy: 'anti-affinity', rules: { max_server_per_host: 2 } });
    expect(g.id).to.equal('g9');
    expectAllCalled();
  });

  it('creates with a one-element policies list before 2.64', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion('2.60');
    nock(NOVA)
      .post(`${base}/os-server-groups`, { server_group: { name: 'db', policies: ['soft-affinity'] } })
      .matchHeader('OpenStack-API-Version', 'compute 2.60')
      .reply(200, { server_group: { ...oldGroup('g8'), policies: ['soft-affinity'] } });
    const g = await createServerGroup(site.compute, { name: 'db', policy: 'soft-affinity' });
    expect(serverGroupPolicy(g)).to.equal('soft-affinity');
    expectAllCalled();
  });

  it('refuses rules before 2.64 and soft policies before 2.15', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion('2.14');
    expect(String(await caught(createServerGroup(site.compute, { name: 'a', policy: 'soft-anti-affinity' })))).to.match(/soft-anti-affinity policy needs microversion 2\.15/);
    expect(await caught(createServerGroup(site.compute, { name: 'a', policy: 'anti-affinity', rules: { max_server_per_host: 2 } }))).to.be.instanceOf(NotSupportedError);
  });

  it('maps the quota refusal (403) to ForbiddenError with Nova\'s message', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA).post(`${base}/os-server-groups`).once().reply(403, { forbidden: { code: 403, message: 'Quota exceeded, too many server groups.' } });
    const e = (await caught(createServerGroup(site.compute, { name: 'a', policy: 'affinity' }))) as ForbiddenError;
    expect(e).to.be.instanceOf(ForbiddenError);
    expect(e.detail).to.equal('Quota exceeded, too many server groups.');
  });

  it('deletes idempotently (204 true, 404 false)', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    const gone = { itemNotFound: { code: 404, message: 'Instance group g2 could not be found.' } };
    nock(NOVA).delete(`${base}/os-server-groups/g1`).reply(204).delete(`${base}/os-server-groups/g2`).twice().reply(404, gone);
    expect(await deleteServerGroup(site.compute, 'g1')).to.equal(true);
    expect(await deleteServerGroup(site.compute, 'g2')).to.equal(false);
    expect(await caught(deleteServerGroup(site.compute, 'g2', { ignoreMissing: false }))).to.be.instanceOf(NotFoundError);
    expectAllCalled();
  });
});
