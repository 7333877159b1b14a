import { expect } from 'chai';
import nock from 'nock';
import { ForbiddenError } from '../../../../lib/errors.js';
import { isServiceUsable, listServices, serviceUrls, toListServicesQuery, type CinderService } from '../../../../lib/openstack/blockstorage/services.js';
import { CINDER, PROJECT_ID, expectAllCalled, mockAuth, mockCinderVersion, testSite, useNock } from '../../../support/fake-cloud.js';

const base = `/v3/${PROJECT_ID}`;

// Shape: cinder/api/contrib/services.py ServiceController.index (Zed) at 3.49+ with the
// os-extended-services extension loaded (Cinder's default): binary, host, zone, status,
// state, updated_at; cluster since 3.7; disabled_reason always; backend_state (3.49),
// replication_status, active_backend_id and frozen for cinder-volume only. Matches api-ref
// block-storage v3 "List All Cinder Services".
function backup(host: string, extra: Partial<CinderService> = {}) {
  return { binary: 'cinder-backup', host, zone: 'nova', status: 'enabled', state: 'up', updated_at: '2026-11-27T03:59:50.000000', cluster: null, disabled_reason: null, ...extra };
}
function volume(host: string, extra: Partial<CinderService> = {}) {
  return {
    binary: 'cinder-volume',
    host,
    zone: 'az-1',
    status: 'enabled',
    state: 'up',
    updated_at: '2026-11-27T03:59:55.000000',
    cluster: 'ceph-cluster@rbd',
    disabled_reason: null,
    backend_state: 'up',
    replication_status: 'disabled',
    active_backend_id: null,
    frozen: false,
    ...extra,
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('blockstorage/services', () => {
  useNock();

  it('lists every service with GET os-services, no query, the negotiated microversion', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/os-services`)
      .query((q) => Object.keys(q).length === 0)
      .matchHeader('OpenStack-API-Version', 'volume 3.64')
      .reply(200, { services: [volume('ctl-1@rbd'), backup('ctl-1'), { binary: 'cinder-scheduler', host: 'ctl-1', zone: 'nova', status: 'enabled', state: 'up', updated_at: null, cluster: null, disabled_reason: null }] });
    const all = await listServices(site.blockStorage);
    expect(all.map((s) => [s.binary, s.host])).to.deep.equal([
      ['cinder-volume', 'ctl-1@rbd'],
      ['cinder-backup', 'ctl-1'],
      ['cinder-scheduler', 'ctl-1'],
    ]);
    expect(all[0]).to.include({ cluster: 'ceph-cluster@rbd', backend_state: 'up', replication_status: 'disabled', frozen: false });
    expect(all[2]!.updated_at).to.equal(null);
    expectAllCalled();
  });

  it('filters by binary and host in the query', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/os-services`)
      .query({ binary: 'cinder-backup' })
      .reply(200, { services: [backup('bk-1'), backup('bk-2', { state: 'down', updated_at: '2026-11-27T01:00:00.000000' })] })
      .get(`${base}/os-services`)
      .query({ binary: 'cinder-volume', host: 'ctl-1@rbd' })
      .reply(200, { services: [volume('ctl-1@rbd')] });
    const backups = await listServices(site.blockStorage, { binary: 'cinder-backup' });
    expect(backups.map((s) => [s.host, s.state])).to.deep.equal([
      ['bk-1', 'up'],
      ['bk-2', 'down'],
    ]);
    const vols = await listServices(site.blockStorage, { binary: 'cinder-volume', host: 'ctl-1@rbd' });
    expect(vols).to.have.length(1);
    expect(vols[0]!.zone).to.equal('az-1');
    expectAllCalled();
  });

  it('builds the query from the filters given, nothing else', () => {
    expect(toListServicesQuery({})).to.deep.equal({});
    expect(toListServicesQuery({ binary: 'cinder-backup' })).to.deep.equal({ binary: 'cinder-backup' });
    expect(toListServicesQuery({ host: 'h@b', binary: 'cinder-volume' })).to.deep.equal({ binary: 'cinder-volume', host: 'h@b' });
    expect(serviceUrls.list()).to.equal('os-services');
  });

  it('keeps a disabled service with its reason', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/os-services`)
      .query({ binary: 'cinder-backup' })
      .reply(200, { services: [backup('bk-1', { status: 'disabled', disabled_reason: 'swift maintenance' })] });
    const [s] = await listServices(site.blockStorage, { binary: 'cinder-backup' });
    expect(s).to.include({ status: 'disabled', disabled_reason: 'swift maintenance' });
    expect(isServiceUsable(s!)).to.equal(false);
    expectAllCalled();
  });

  it('below 3.7 there is no cluster field (old server): the fields are simply absent', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion('3.6');
    const { cluster: _cluster, ...old } = backup('bk-1');
    nock(CINDER).get(`${base}/os-services`).query({ binary: 'cinder-backup' }).matchHeader('OpenStack-API-Version', 'volume 3.6').reply(200, { services: [old] });
    const [s] = await listServices(site.blockStorage, { binary: 'cinder-backup' });
    expect(s).to.not.have.property('cluster');
    expect(s).to.include({ host: 'bk-1', state: 'up' });
    expectAllCalled();
  });

  it("a member is refused with Cinder's 403 body: ForbiddenError with the policy message", async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    // Shape: cinder/api/openstack/wsgi.py Fault over exception.PolicyNotAuthorized.
    nock(CINDER)
      .get(`${base}/os-services`)
      .query({ binary: 'cinder-backup' })
      .reply(403, { forbidden: { code: 403, message: "Policy doesn't allow volume_extension:services:index to be performed." } });
    const err = await rejection(listServices(site.blockStorage, { binary: 'cinder-backup' }));
    expect(err).to.be.instanceOf(ForbiddenError);
    expect((err as ForbiddenError).detail).to.equal("Policy doesn't allow volume_extension:services:index to be performed.");
    expect((err as ForbiddenError).type).to.equal('forbidden');
    expectAllCalled();
  });

  it('is a read: a 503 from the API is asked again', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/os-services`)
      .query({ binary: 'cinder-backup' })
      .reply(503, 'Service Unavailable')
      .get(`${base}/os-services`)
      .query({ binary: 'cinder-backup' })
      .reply(200, { services: [backup('bk-1')] });
    expect((await listServices(site.blockStorage, { binary: 'cinder-backup' })).map((s) => s.host)).to.deep.equal(['bk-1']);
    expectAllCalled();
  });

  it('isServiceUsable: enabled and up, nothing else', () => {
    expect(isServiceUsable({ status: 'enabled', state: 'up' })).to.equal(true);
    expect(isServiceUsable({ status: 'enabled', state: 'down' })).to.equal(false);
    expect(isServiceUsable({ status: 'disabled', state: 'up' })).to.equal(false);
    expect(isServiceUsable({ status: 'disabled', state: 'down' })).to.equal(false);
  });
});
