import { expect } from 'chai';
import nock from 'nock';
import { BadRequestError, NotSupportedError, ResourceFailureError } from '../../../../lib/errors.js';
import {
  createSnapshot,
  deleteSnapshot,
  getSnapshot,
  listSnapshots,
  setSnapshotMetadata,
  waitForSnapshot,
  waitForSnapshotDeleted,
} from '../../../../lib/openstack/blockstorage/snapshots.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { CINDER, PROJECT_ID, TOKEN, expectAllCalled, mockAuth, mockCinderVersion, testSite, useNock } from '../../../support/fake-cloud.js';

const base = `/v3/${PROJECT_ID}`;

// Shape: api-ref block-storage v3 "Show a snapshot's details" (Zed) and
// cinder/api/views/snapshots.py summary + v3 views (group_snapshot_id 3.14, user_id 3.41).
function snapshot(id: string, status = 'available', extra: Record<string, unknown> = {}) {
  return {
    id,
    name: `snap-${id}`,
    description: null,
    status,
    size: 10,
    volume_id: 'vol-1',
    created_at: '2026-11-27T03:00:00.000000',
    updated_at: null,
    metadata: {},
    'os-extended-snapshot-attributes:progress': '100%',
    'os-extended-snapshot-attributes:project_id': PROJECT_ID,
    group_snapshot_id: null,
    user_id: 'u-ferry',
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

describe('blockstorage/snapshots', () => {
  useNock();

  it('lists snapshots/detail across pages with the filters Cinder accepts', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    const meta = JSON.stringify({ 'ferry:plan': 'web' });
    nock(CINDER)
      .get(`${base}/snapshots/detail`)
      .query({ volume_id: 'vol-1', status: 'available', metadata: meta, all_tenants: '1', limit: '2' })
      .matchHeader('OpenStack-API-Version', 'volume 3.64')
      .matchHeader('X-Auth-Token', TOKEN)
      .reply(200, {
        snapshots: [snapshot('s1'), snapshot('s2')],
        // Cinder builds next links from its own (often internal) host; only the query is used.
        snapshots_links: [{ rel: 'next', href: `http://cinder-internal:8776/v3/${PROJECT_ID}/snapshots/detail?all_tenants=1&limit=2&marker=s2&metadata=x&status=available&volume_id=vol-1` }],
      })
      .get(`${base}/snapshots/detail`)
      .query({ volume_id: 'vol-1', status: 'available', metadata: 'x', all_tenants: '1', limit: '2', marker: 's2' })
      .reply(200, { snapshots: [snapshot('s3')] });
    const snaps = await collect(listSnapshots(site.blockStorage, { volume_id: 'vol-1', status: 'available', metadata: { 'ferry:plan': 'web' }, all_tenants: true, limit: 2 }));
    expect(snaps.map((s) => s.id)).to.deep.equal(['s1', 's2', 's3']);
    expectAllCalled();
  });

  it('refuses a metadata filter below 3.22 instead of listing every snapshot', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion('3.20');
    const err = await rejection(collect(listSnapshots(site.blockStorage, { metadata: { a: '1' } })));
    expect(err).to.be.instanceOf(NotSupportedError);
    expect(String(err)).to.match(/filtering snapshots by metadata needs microversion 3\.22/);
  });

  it('reads one snapshot with its extended attributes', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/snapshots/s1`)
      .reply(200, { snapshot: snapshot('s1', 'creating', { 'os-extended-snapshot-attributes:progress': '40%', metadata: { 'ferry:plan': 'p1' } }) });
    const s = await getSnapshot(site.blockStorage, 's1');
    expect(s.status).to.equal('creating');
    expect(s['os-extended-snapshot-attributes:progress']).to.equal('40%');
    expect(s.metadata).to.deep.equal({ 'ferry:plan': 'p1' });
  });

  it('creates a snapshot of an in-use volume with force: true and the documented body', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .post(`${base}/snapshots`, { snapshot: { volume_id: 'vol-1', name: 'ferry-s', description: 'd', metadata: { 'ferry:plan': 'p1' }, force: true } })
      .reply(202, { snapshot: snapshot('s9', 'creating') });
    const s = await createSnapshot(site.blockStorage, { volume_id: 'vol-1', name: 'ferry-s', description: 'd', metadata: { 'ferry:plan': 'p1' }, force: true });
    expect(s.id).to.equal('s9');
    expect(s.status).to.equal('creating');
    expectAllCalled();
  });

  it('never sends force: false (Cinder 3.66+ rejects it with 400)', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    let sent: unknown;
    nock(CINDER)
      .post(`${base}/snapshots`, (b: unknown) => {
        sent = b;
        return true;
      })
      .reply(202, { snapshot: snapshot('s9', 'creating') });
    await createSnapshot(site.blockStorage, { volume_id: 'vol-1', force: false });
    expect(sent).to.deep.equal({ snapshot: { volume_id: 'vol-1' } });
  });

  it("maps Cinder's 400 for an attached volume to BadRequestError with its message, without retrying", async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    // Body shape: cinder/api/openstack/wsgi.py Fault for webob HTTPBadRequest.
    nock(CINDER)
      .post(`${base}/snapshots`)
      .once()
      .reply(400, { badRequest: { code: 400, message: 'Invalid volume: Volume vol-1 status must be available, but current status is: in-use.' } }, { 'x-openstack-request-id': 'req-snap-400' });
    const err = await rejection(createSnapshot(site.blockStorage, { volume_id: 'vol-1' }));
    expect(err).to.be.instanceOf(BadRequestError);
    expect((err as BadRequestError).detail).to.equal('Invalid volume: Volume vol-1 status must be available, but current status is: in-use.');
    expect((err as BadRequestError).type).to.equal('badRequest');
    expect((err as BadRequestError).requestId).to.equal('req-snap-400');
    expectAllCalled();
  });

  it('deletes idempotently: 202 is true, a missing snapshot is false unless ignoreMissing is off', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    const gone = { itemNotFound: { code: 404, message: 'Snapshot s2 could not be found.' } };
    nock(CINDER).delete(`${base}/snapshots/s1`).reply(202).delete(`${base}/snapshots/s2`).twice().reply(404, gone);
    expect(await deleteSnapshot(site.blockStorage, 's1')).to.equal(true);
    expect(await deleteSnapshot(site.blockStorage, 's2')).to.equal(false);
    const err = await rejection(deleteSnapshot(site.blockStorage, 's2', { ignoreMissing: false }));
    expect((err as { status: number }).status).to.equal(404);
    expectAllCalled();
  });

  it('merges metadata with POST snapshots/{id}/metadata', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).post(`${base}/snapshots/s1/metadata`, { metadata: { 'ferry:plan': 'p1' } }).reply(200, { metadata: { 'ferry:plan': 'p1', other: 'x' } });
    expect(await setSnapshotMetadata(site.blockStorage, 's1', { 'ferry:plan': 'p1' })).to.deep.equal({ 'ferry:plan': 'p1', other: 'x' });
    expectAllCalled();
  });

  it('waits through creating to available', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).get(`${base}/snapshots/s1`).reply(200, { snapshot: snapshot('s1', 'creating') }).get(`${base}/snapshots/s1`).reply(200, { snapshot: snapshot('s1', 'available') });
    const seen: string[] = [];
    const s = await waitForSnapshot(site.blockStorage, 's1', ['available'], { intervalMs: 1, onProgress: (st) => seen.push(st) });
    expect(s?.status).to.equal('available');
    expect(seen).to.deep.equal(['creating', 'available']);
  });

  it('fails fast when the snapshot goes to error', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).get(`${base}/snapshots/s1`).once().reply(200, { snapshot: snapshot('s1', 'error') });
    const err = await rejection(waitForSnapshot(site.blockStorage, 's1', ['available'], { intervalMs: 1, timeoutMs: 60_000 }));
    expect(err).to.be.instanceOf(ResourceFailureError);
    expect((err as ResourceFailureError).status).to.equal('error');
    expectAllCalled();
  });

  it('treats 404 as deleted and fails on error_deleting', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/snapshots/s1`)
      .reply(200, { snapshot: snapshot('s1', 'deleting') })
      .get(`${base}/snapshots/s1`)
      .reply(404, { itemNotFound: { code: 404, message: 'gone' } })
      .get(`${base}/snapshots/s2`)
      .reply(200, { snapshot: snapshot('s2', 'error_deleting') });
    await waitForSnapshotDeleted(site.blockStorage, 's1', { intervalMs: 1 });
    const err = await rejection(waitForSnapshotDeleted(site.blockStorage, 's2', { intervalMs: 1 }));
    expect((err as ResourceFailureError).status).to.equal('error_deleting');
    expectAllCalled();
  });
});
