import { expect } from 'chai';
import nock from 'nock';
import { NotFoundError, ResourceFailureError } from '../../../../lib/errors.js';
import {
  createVolume,
  deleteVolume,
  getVolume,
  listVolumes,
  setVolumeMetadata,
  waitForVolume,
  waitForVolumeDeleted,
} from '../../../../lib/openstack/blockstorage/volumes.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { CINDER, PROJECT_ID, expectAllCalled, mockAuth, mockCinderVersion, testSite, useNock } from '../../../support/fake-cloud.js';

const base = `/v3/${PROJECT_ID}`;

// Shape: api-ref block-storage v3 "Show a volume's details" (Zed), trimmed to the fields Ferry reads.
function volume(id: string, status = 'available', extra: Record<string, unknown> = {}) {
  return {
    id,
    name: `vol-${id}`,
    description: null,
    status,
    size: 1,
    availability_zone: 'nova',
    created_at: '2026-11-27T03:00:00.000000',
    updated_at: null,
    bootable: 'false',
    encrypted: false,
    multiattach: false,
    volume_type: 'ceph',
    snapshot_id: null,
    source_volid: null,
    metadata: {},
    attachments: [],
    'os-vol-tenant-attr:tenant_id': PROJECT_ID,
    ...extra,
  };
}

describe('blockstorage/volumes', () => {
  useNock();

  it('lists volumes across pages following volumes_links, with the negotiated microversion', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/volumes/detail`)
      .query({ metadata: JSON.stringify({ 'ferry:plan': 'web' }) })
      .matchHeader('OpenStack-API-Version', 'volume 3.64')
      .reply(200, { volumes: [volume('v1'), volume('v2')], volumes_links: [{ rel: 'next', href: `http://internal:8776/v3/${PROJECT_ID}/volumes/detail?marker=v2&metadata=x` }] })
      .get(`${base}/volumes/detail`)
      .query({ marker: 'v2', metadata: 'x' })
      .reply(200, { volumes: [volume('v3')] });
    const vols = await collect(listVolumes(site.blockStorage, { metadata: { 'ferry:plan': 'web' } }));
    expect(vols.map((v) => v.id)).to.deep.equal(['v1', 'v2', 'v3']);
    expectAllCalled();
  });

  it('creates a volume from a backup only when the server supports 3.47', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion('3.40');
    let caught: unknown;
    try {
      await createVolume(site.blockStorage, { backup_id: 'b1', name: 'restored' });
    } catch (e) {
      caught = e;
    }
    expect(String(caught)).to.match(/needs microversion 3\.47.*3\.0 to 3\.40/);
  });

  it('creates a volume with the documented body and returns it', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .post(`${base}/volumes`, { volume: { size: 1, name: 'data', backup_id: 'b1', metadata: { 'ferry:plan': 'p1' } } })
      .reply(202, { volume: volume('v9', 'creating') });
    const v = await createVolume(site.blockStorage, { size: 1, name: 'data', backup_id: 'b1', metadata: { 'ferry:plan': 'p1' } });
    expect(v.status).to.equal('creating');
    expectAllCalled();
  });

  it('creates a volume in a group (group_id, 3.13) and refuses below 3.13 before calling Cinder', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    // Body: cinder/api/v3/volumes.py create reads volume.group_id from 3.13 (GROUP_VOLUME).
    nock(CINDER)
      .post(`${base}/volumes`, { volume: { size: 1, name: 'member', volume_type: 't1', group_id: 'g1' } })
      .reply(202, { volume: { ...volume('v8', 'creating'), group_id: 'g1' } });
    const v = await createVolume(site.blockStorage, { size: 1, name: 'member', volume_type: 't1', group_id: 'g1' });
    expect(v.group_id).to.equal('g1');
    expectAllCalled();

    const old = testSite();
    mockAuth();
    mockCinderVersion('3.10');
    let caught: unknown;
    try {
      await createVolume(old.site.blockStorage, { size: 1, group_id: 'g1' });
    } catch (e) {
      caught = e;
    }
    expect(String(caught)).to.match(/creating a volume in a group needs microversion 3\.13/);
  });

  it('never retries a create that failed with 503', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).post(`${base}/volumes`).once().reply(503, 'busy');
    let caught: unknown;
    try {
      await createVolume(site.blockStorage, { size: 1 });
    } catch (e) {
      caught = e;
    }
    expect((caught as { status: number }).status).to.equal(503);
    expectAllCalled();
  });

  it('maps a Cinder 404 body to NotFoundError with the request ID', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/volumes/nope`)
      .reply(404, { itemNotFound: { message: 'Volume nope could not be found.', code: 404 } }, { 'x-openstack-request-id': 'req-cinder-404' });
    let caught: unknown;
    try {
      await getVolume(site.blockStorage, 'nope');
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(NotFoundError);
    expect((caught as NotFoundError).requestId).to.equal('req-cinder-404');
    expect((caught as NotFoundError).detail).to.equal('Volume nope could not be found.');
    expect((caught as NotFoundError).type).to.equal('itemNotFound');
  });

  it('deletes idempotently: a missing volume returns false', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).delete(`${base}/volumes/v1`).query({ cascade: 'true' }).reply(202).delete(`${base}/volumes/v2`).reply(404, { itemNotFound: { message: 'gone', code: 404 } });
    expect(await deleteVolume(site.blockStorage, 'v1', { cascade: true })).to.equal(true);
    expect(await deleteVolume(site.blockStorage, 'v2')).to.equal(false);
  });

  it('merges metadata with POST', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).post(`${base}/volumes/v1/metadata`, { metadata: { a: '1' } }).reply(200, { metadata: { a: '1', b: '2' } });
    expect(await setVolumeMetadata(site.blockStorage, 'v1', { a: '1' })).to.deep.equal({ a: '1', b: '2' });
  });

  it('waits through creating to available and reports progress', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).get(`${base}/volumes/v1`).reply(200, { volume: volume('v1', 'creating') }).get(`${base}/volumes/v1`).reply(200, { volume: volume('v1', 'available') });
    const seen: string[] = [];
    const v = await waitForVolume(site.blockStorage, 'v1', ['available'], { intervalMs: 1, onProgress: (s) => seen.push(s) });
    expect(v?.status).to.equal('available');
    expect(seen).to.deep.equal(['creating', 'available']);
  });

  it('fails fast when the volume goes to error', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).get(`${base}/volumes/v1`).reply(200, { volume: volume('v1', 'error') });
    let caught: unknown;
    try {
      await waitForVolume(site.blockStorage, 'v1', ['available'], { intervalMs: 1, timeoutMs: 60_000 });
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(ResourceFailureError);
    expect((caught as ResourceFailureError).status).to.equal('error');
  });

  it('treats 404 as deleted when waiting for deletion', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).get(`${base}/volumes/v1`).reply(200, { volume: volume('v1', 'deleting') }).get(`${base}/volumes/v1`).reply(404, { itemNotFound: { message: 'gone', code: 404 } });
    await waitForVolumeDeleted(site.blockStorage, 'v1', { intervalMs: 1 });
    expectAllCalled();
  });
});
