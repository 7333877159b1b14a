import { expect } from 'chai';
import nock from 'nock';
import { BadRequestError, ForbiddenError } from '../../../../lib/errors.js';
import { getLimits, getQuotaSet, updateQuotaSet } from '../../../../lib/openstack/compute/limits.js';
import { NOVA, PROJECT_ID, expectAllCalled, mockAuth, mockNovaVersion, testSite, useNock } from '../../../support/fake-cloud.js';

const base = '/v2.1';
const OTHER = '0b7d3a8e5c1f4e2d9a6b8c7d6e5f4a3b';

// Shape: api-ref compute "Show Rate And Absolute Limits" at 2.57+ (nova/api/openstack/compute/views/limits.py:
// network limits gone since 2.36, maxImageMeta since 2.39, personality since 2.57).
const limitsBody = {
  limits: {
    rate: [],
    absolute: {
      maxServerMeta: 128,
      maxTotalInstances: 10,
      maxTotalCores: 20,
      maxTotalRAMSize: 51200,
      maxTotalKeypairs: 100,
      maxServerGroups: 10,
      maxServerGroupMembers: 10,
      totalRAMUsed: 2048,
      totalCoresUsed: 2,
      totalInstancesUsed: 1,
      totalServerGroupsUsed: 0,
    },
  },
};

// Shape: "Show The Detail of Quota" at 2.57+ (quota_sets.py _detail(): {limit, in_use, reserved} per resource, with id).
function detail(limit = 10, inUse = 1) {
  const r = (l: number, u: number) => ({ limit: l, in_use: u, reserved: 0 });
  return {
    quota_set: {
      id: OTHER,
      instances: r(limit, inUse),
      cores: r(20, 2),
      ram: r(51200, 2048),
      key_pairs: r(100, 0),
      metadata_items: r(128, 0),
      server_groups: r(10, 0),
      server_group_members: r(10, 0),
    },
  };
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('compute/limits', () => {
  useNock();

  it('reads absolute limits and usage of the caller\'s project', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .get(`${base}/limits`)
      .query((q) => Object.keys(q).length === 0)
      .matchHeader('OpenStack-API-Version', 'compute 2.79')
      .reply(200, limitsBody);
    const l = await getLimits(site.compute);
    expect(l.absolute.maxTotalInstances).to.equal(10);
    expect(l.absolute.totalInstancesUsed).to.equal(1);
    expect(l.absolute.maxTotalRAMSize - l.absolute.totalRAMUsed).to.equal(49152);
    expect(l.absolute.maxTotalFloatingIps).to.equal(undefined);
    expectAllCalled();
  });

  it('reads another project\'s limits with tenant_id', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA).get(`${base}/limits`).query({ tenant_id: OTHER }).reply(200, limitsBody);
    expect((await getLimits(site.compute, { project_id: OTHER })).absolute.maxTotalCores).to.equal(20);
    expectAllCalled();
  });

  it('reads a detailed quota set (limit, in_use, reserved), optionally for one user', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .get(`${base}/os-quota-sets/${OTHER}/detail`)
      .reply(200, detail())
      .get(`${base}/os-quota-sets/${PROJECT_ID}/detail`)
      .query({ user_id: 'u-ferry' })
      .reply(200, detail(5, 0));
    const q = await getQuotaSet(site.compute, OTHER);
    expect(q.id).to.equal(OTHER);
    expect(q.instances).to.deep.equal({ limit: 10, in_use: 1, reserved: 0 });
    expect((await getQuotaSet(site.compute, PROJECT_ID, { user_id: 'u-ferry' })).instances.limit).to.equal(5);
    expectAllCalled();
  });

  it('updates quotas with PUT and returns the plain limits', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .put(`${base}/os-quota-sets/${OTHER}`, { quota_set: { instances: 50, cores: 100, ram: 204800, force: true } })
      .reply(200, { quota_set: { instances: 50, cores: 100, ram: 204800, key_pairs: 100, metadata_items: 128, server_groups: 10, server_group_members: 10 } });
    const q = await updateQuotaSet(site.compute, OTHER, { instances: 50, cores: 100, ram: 204800, force: true });
    expect(q.instances).to.equal(50);
    expect(q).to.not.have.property('id');
    expectAllCalled();
  });

  it('maps a limit below usage to BadRequestError and a non-admin to ForbiddenError', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .put(`${base}/os-quota-sets/${OTHER}`)
      .reply(400, { badRequest: { code: 400, message: 'Quota limit 1 for instances must be greater than or equal to already used and reserved 3.' } })
      .put(`${base}/os-quota-sets/${OTHER}`)
      .reply(403, { forbidden: { code: 403, message: 'Policy doesn\'t allow os_compute_api:os-quota-sets:update to be performed.' } });
    const e = (await caught(updateQuotaSet(site.compute, OTHER, { instances: 1 }))) as BadRequestError;
    expect(e).to.be.instanceOf(BadRequestError);
    expect(e.detail).to.match(/must be greater than or equal to already used/);
    expect(await caught(updateQuotaSet(site.compute, OTHER, { instances: 1 }))).to.be.instanceOf(ForbiddenError);
    expectAllCalled();
  });
});
