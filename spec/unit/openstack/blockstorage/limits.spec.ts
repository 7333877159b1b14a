import { expect } from 'chai';
import nock from 'nock';
import { BadRequestError, NotSupportedError } from '../../../../lib/errors.js';
import { getLimits, getQuotaDefaults, getQuotaSet, getQuotaUsage, quotaHeadroom, updateQuotaSet } from '../../../../lib/openstack/blockstorage/limits.js';
import { CINDER, PROJECT_ID, expectAllCalled, mockAuth, mockCinderVersion, testSite, useNock } from '../../../support/fake-cloud.js';

const base = `/v3/${PROJECT_ID}`;
const OTHER = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';

// Shape: api-ref block-storage v3 "Show absolute limits for project" (Zed):
// cinder/api/views/limits.py plus cinder/api/contrib/used_limits.py's total*Used keys.
const limitsBody = {
  limits: {
    rate: [],
    absolute: {
      maxTotalVolumeGigabytes: 1000,
      maxTotalBackupGigabytes: 1000,
      maxTotalVolumes: 10,
      maxTotalSnapshots: 10,
      maxTotalBackups: 10,
      totalVolumesUsed: 2,
      totalGigabytesUsed: 20,
      totalSnapshotsUsed: 1,
      totalBackupsUsed: 3,
      totalBackupGigabytesUsed: 30,
    },
  },
};

// Shape: api-ref "Show quota usage for a project" (os-quota-sets/{id}?usage=True), from
// cinder/quota.py DbQuotaDriver.get_project_quotas(usages=True).
const usageBody = {
  quota_set: {
    id: OTHER,
    volumes: { limit: 10, in_use: 4, reserved: 1, allocated: 0 },
    gigabytes: { limit: 1000, in_use: 400, reserved: 0, allocated: 0 },
    backups: { limit: -1, in_use: 12, reserved: 0, allocated: 0 },
    volumes_ceph: { limit: 3, in_use: 3, reserved: 1, allocated: 0 },
  },
};

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('blockstorage/limits', () => {
  useNock();

  it("reads the caller's absolute limits and usage", async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/limits`)
      .query((q) => Object.keys(q).length === 0)
      .matchHeader('OpenStack-API-Version', 'volume 3.64')
      .reply(200, limitsBody);
    const l = await getLimits(site.blockStorage);
    expect(l.absolute.maxTotalVolumes).to.equal(10);
    expect(l.absolute.totalBackupGigabytesUsed).to.equal(30);
    expect(l.rate).to.deep.equal([]);
    expectAllCalled();
  });

  it("reads another project's limits with project_id from 3.39, and refuses below", async () => {
    const a = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).get(`${base}/limits`).query({ project_id: OTHER }).reply(200, limitsBody);
    expect((await getLimits(a.site.blockStorage, OTHER)).absolute.totalVolumesUsed).to.equal(2);
    const b = testSite();
    mockAuth();
    mockCinderVersion('3.38');
    const err = await rejection(getLimits(b.site.blockStorage, OTHER));
    expect(err).to.be.instanceOf(NotSupportedError);
    expect(String(err)).to.match(/needs microversion 3\.39/);
    expectAllCalled();
  });

  it('reads quota usage with usage=true and computes the headroom per resource', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).get(`${base}/os-quota-sets/${OTHER}`).query({ usage: 'true' }).reply(200, usageBody);
    const u = await getQuotaUsage(site.blockStorage, OTHER);
    expect(u.volumes).to.deep.equal({ limit: 10, in_use: 4, reserved: 1, allocated: 0 });
    expect(quotaHeadroom(u, 'volumes')).to.equal(5);
    expect(quotaHeadroom(u, 'gigabytes')).to.equal(600);
    expect(quotaHeadroom(u, 'backups')).to.equal(Infinity);
    expect(quotaHeadroom(u, 'volumes_ceph')).to.equal(0);
    expect(quotaHeadroom(u, 'id')).to.equal(Infinity);
    expectAllCalled();
  });

  it('reads plain quota limits and the defaults', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    // Shape: cinder/api/contrib/quotas.py _format_quota_set (limits only, plus id).
    nock(CINDER)
      .get(`${base}/os-quota-sets/${OTHER}`)
      .query((q) => Object.keys(q).length === 0)
      .reply(200, { quota_set: { id: OTHER, volumes: 10, gigabytes: 1000, snapshots: 10, backups: 10, backup_gigabytes: 1000, per_volume_gigabytes: -1, groups: 10, volumes_ceph: -1 } })
      .get(`${base}/os-quota-sets/${OTHER}/defaults`)
      .reply(200, { quota_set: { id: OTHER, volumes: 10, gigabytes: 1000 } });
    const q = await getQuotaSet(site.blockStorage, OTHER);
    expect(q.volumes).to.equal(10);
    expect(q.volumes_ceph).to.equal(-1);
    expect((await getQuotaDefaults(site.blockStorage, OTHER)).gigabytes).to.equal(1000);
    expectAllCalled();
  });

  it("updates quotas with PUT and keeps Cinder's reason when a limit is below usage", async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .put(`${base}/os-quota-sets/${OTHER}`, { quota_set: { volumes: 20, gigabytes: 2000 } })
      .reply(200, { quota_set: { volumes: 20, gigabytes: 2000, snapshots: 10, backups: 10 } })
      .put(`${base}/os-quota-sets/${OTHER}`, { quota_set: { volumes: 1 } })
      .reply(400, {
        badRequest: { code: 400, message: 'Quota volumes limit must be equal or greater than existing resources. Current usage is 4 and the requested limit is 1.' },
      });
    expect(await updateQuotaSet(site.blockStorage, OTHER, { volumes: 20, gigabytes: 2000 })).to.include({ volumes: 20, gigabytes: 2000 });
    const err = await rejection(updateQuotaSet(site.blockStorage, OTHER, { volumes: 1 }));
    expect(err).to.be.instanceOf(BadRequestError);
    expect((err as BadRequestError).detail).to.match(/Current usage is 4 and the requested limit is 1/);
    expectAllCalled();
  });
});
