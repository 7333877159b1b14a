import { expect } from 'chai';
import nock from 'nock';
import { ForbiddenError, NotSupportedError } from '../../../../lib/errors.js';
import { getQuota, getQuotaDetails, quotaHeadroom, quotaUrls, type NetworkQuotaDetails } from '../../../../lib/openstack/network/quotas.js';
import { NEUTRON, PROJECT_ID, TOKEN, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

const OTHER = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';

// Shape: neutron/extensions/quotasv2.py show → DbQuotaDriver.get_project_quotas (Zed,
// neutron 21.0.0): every registered resource with its limit, -1 for unlimited. Matches
// api-ref network v2 "List quotas for a project".
const quotaBody = {
  quota: { network: 100, subnet: 100, port: 500, router: 10, floatingip: 50, security_group: 10, security_group_rule: 100, subnetpool: -1, rbac_policy: 10, trunk: -1 },
};

// Shape: neutron/extensions/quotasv2_detail.py details → DbQuotaDriver.get_detailed_project_quotas:
// {limit, used, reserved} per resource. Matches api-ref "Show quota details for a project".
const detailsBody = {
  quota: {
    network: { limit: 100, used: 4, reserved: 0 },
    subnet: { limit: 100, used: 4, reserved: 0 },
    port: { limit: 500, used: 480, reserved: 5 },
    router: { limit: 10, used: 1, reserved: 0 },
    floatingip: { limit: 50, used: 2, reserved: 0 },
    security_group: { limit: 10, used: 10, reserved: 1 },
    security_group_rule: { limit: 100, used: 40, reserved: 0 },
    subnetpool: { limit: -1, used: 0, reserved: 0 },
    rbac_policy: { limit: 10, used: 0, reserved: 0 },
    trunk: { limit: -1, used: 0, reserved: 0 },
  },
};

// Shape: neutron/api/v2/base.py and neutron/pecan_wsgi hooks (NeutronError with type, message, detail).
const neutronError = (type: string, message: string) => ({ NeutronError: { type, message, detail: '' } });

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('network/quotas', () => {
  useNock();

  it('reads the limits with GET v2.0/quotas/{project_id}, no query, no microversion header', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON, { badheaders: ['OpenStack-API-Version'] })
      .get(`/v2.0/quotas/${PROJECT_ID}`)
      .query((q) => Object.keys(q).length === 0)
      .matchHeader('X-Auth-Token', TOKEN)
      .reply(200, quotaBody);
    const q = await getQuota(site.network, PROJECT_ID);
    expect(q.port).to.equal(500);
    expect(q.subnetpool).to.equal(-1);
    expect(Object.keys(q)).to.have.length(10);
    expectAllCalled();
  });

  it('reads the details (limit, used, reserved per resource) with GET .../details', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON).get(`/v2.0/quotas/${PROJECT_ID}/details`).reply(200, detailsBody);
    const d = await getQuotaDetails(site.network, PROJECT_ID);
    expect(d.port).to.deep.equal({ limit: 500, used: 480, reserved: 5 });
    expect(d.security_group).to.deep.equal({ limit: 10, used: 10, reserved: 1 });
    expectAllCalled();
  });

  it("an admin reads another project's details; the project ID is escaped into one path segment", async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .get(`/v2.0/quotas/${OTHER}/details`)
      .reply(200, detailsBody)
      .get('/v2.0/quotas/a%2Fb')
      .reply(200, quotaBody);
    expect((await getQuotaDetails(site.network, OTHER)).network!.used).to.equal(4);
    expect((await getQuota(site.network, 'a/b')).network).to.equal(100);
    expect(quotaUrls.details('a/b')).to.equal('v2.0/quotas/a%2Fb/details');
    expectAllCalled();
  });

  it('keeps resources a plugin registers beyond the usual ones', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .get(`/v2.0/quotas/${PROJECT_ID}/details`)
      .reply(200, { quota: { ...detailsBody.quota, firewall_group: { limit: 10, used: 3, reserved: 0 } } });
    const d = await getQuotaDetails(site.network, PROJECT_ID);
    expect(d.firewall_group).to.deep.equal({ limit: 10, used: 3, reserved: 0 });
    expect(quotaHeadroom(d, 'firewall_group')).to.equal(7);
    expectAllCalled();
  });

  it("a member asking for another project's details: ForbiddenError with Neutron's AdminRequired", async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .get(`/v2.0/quotas/${OTHER}/details`)
      .reply(403, neutronError('AdminRequired', 'User does not have admin privileges: Only admin is authorized to access quotas for another project.'));
    const err = await rejection(getQuotaDetails(site.network, OTHER));
    expect(err).to.be.instanceOf(ForbiddenError);
    expect((err as ForbiddenError).type).to.equal('AdminRequired');
    expect((err as ForbiddenError).detail).to.equal('User does not have admin privileges: Only admin is authorized to access quotas for another project.');
    expectAllCalled();
  });

  it('without the quota_details extension (404) the details are NotSupportedError naming the extension and the site', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON).get(`/v2.0/quotas/${PROJECT_ID}/details`).reply(404, neutronError('HTTPNotFound', 'The resource could not be found.'));
    const err = await rejection(getQuotaDetails(site.network, PROJECT_ID));
    expect(err).to.be.instanceOf(NotSupportedError);
    expect((err as Error).message).to.match(/^network at site site-a: quota usage needs Neutron's quota_details extension, which this site does not offer \(.*returned 404: The resource could not be found\./);
    expectAllCalled();
  });

  it('other errors stay as they are: a policy 403 is ForbiddenError from either call', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .get(`/v2.0/quotas/${OTHER}`)
      .reply(403, neutronError('PolicyNotAuthorized', 'rule:get_quota is disallowed by policy'))
      .get(`/v2.0/quotas/${PROJECT_ID}/details`)
      .reply(403, neutronError('PolicyNotAuthorized', 'rule:get_quota is disallowed by policy'));
    expect(await rejection(getQuota(site.network, OTHER))).to.be.instanceOf(ForbiddenError);
    expect(await rejection(getQuotaDetails(site.network, PROJECT_ID))).to.be.instanceOf(ForbiddenError);
    expectAllCalled();
  });

  it('quotaHeadroom: limit - used - reserved, never below 0; unlimited and unknown are Infinity', () => {
    const d = detailsBody.quota as NetworkQuotaDetails;
    expect(quotaHeadroom(d, 'port')).to.equal(15);
    expect(quotaHeadroom(d, 'network')).to.equal(96);
    expect(quotaHeadroom(d, 'security_group')).to.equal(0);
    expect(quotaHeadroom(d, 'subnetpool')).to.equal(Infinity);
    expect(quotaHeadroom(d, 'no_such_resource')).to.equal(Infinity);
  });
});
