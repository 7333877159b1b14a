import { expect } from 'chai';
import nock from 'nock';
import { BadRequestError, NotSupportedError, ResourceFailureError } from '../../../../lib/errors.js';
import {
  createGroup,
  createGroupSnapshot,
  deleteGroup,
  deleteGroupSnapshot,
  getGroupSnapshot,
  listGroupSnapshots,
  listGroupTypes,
  listGroups,
  waitForGroup,
  waitForGroupDeleted,
  waitForGroupSnapshot,
} from '../../../../lib/openstack/blockstorage/groups.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { CINDER, PROJECT_ID, expectAllCalled, mockAuth, mockCinderVersion, testSite, useNock } from '../../../support/fake-cloud.js';

const base = `/v3/${PROJECT_ID}`;

// Shape: api-ref block-storage v3 "Show group details" (Zed) and cinder/api/v3/views/groups.py
// detail at 3.64 (group_snapshot_id/source_group_id 3.14, replication_status 3.38, project_id 3.58).
function group(id: string, status = 'available', extra: Record<string, unknown> = {}) {
  return {
    id,
    status,
    availability_zone: 'nova',
    created_at: '2026-11-27T03:00:00.000000',
    name: `grp-${id}`,
    description: null,
    group_type: 'gt-1',
    volume_types: ['vt-1'],
    group_snapshot_id: null,
    source_group_id: null,
    replication_status: 'disabled',
    project_id: PROJECT_ID,
    ...extra,
  };
}

// Shape: cinder/api/v3/views/group_snapshots.py detail.
function groupSnapshot(id: string, status = 'available') {
  return { id, group_id: 'g1', group_type_id: 'gt-1', status, created_at: '2026-11-27T03:00:00.000000', name: `gs-${id}`, description: null, project_id: PROJECT_ID };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('blockstorage/groups', () => {
  useNock();

  it('lists groups/detail with member volumes across pages following group_links', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    // cinder/api/v3/views/groups.py _list_view names the links key group_links.
    nock(CINDER)
      .get(`${base}/groups/detail`)
      .query({ list_volume: 'true', all_tenants: '1' })
      .matchHeader('OpenStack-API-Version', 'volume 3.64')
      .reply(200, {
        groups: [group('g1', 'available', { volumes: ['v1', 'v2'] })],
        group_links: [{ rel: 'next', href: `http://cinder-internal:8776/v3/${PROJECT_ID}/groups/detail?all_tenants=1&list_volume=true&marker=g1` }],
      })
      .get(`${base}/groups/detail`)
      .query({ list_volume: 'true', all_tenants: '1', marker: 'g1' })
      .reply(200, { groups: [group('g2', 'in-use', { volumes: [] })] });
    const gs = await collect(listGroups(site.blockStorage, { list_volume: true, all_tenants: true }));
    expect(gs.map((g) => g.id)).to.deep.equal(['g1', 'g2']);
    expect(gs[0]!.volumes).to.deep.equal(['v1', 'v2']);
    expectAllCalled();
  });

  it('refuses group calls on a server below 3.13 without sending them', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion('3.12');
    const e1 = await rejection(collect(listGroups(site.blockStorage)));
    expect(e1).to.be.instanceOf(NotSupportedError);
    expect(String(e1)).to.match(/volume groups needs microversion 3\.13, the server offers 3\.0 to 3\.12/);
    const e2 = await rejection(createGroup(site.blockStorage, { group_type: 'gt-1', volume_types: ['vt-1'] }));
    expect(e2).to.be.instanceOf(NotSupportedError);
    expectAllCalled();
  });

  it('creates a group with the documented body and returns its summary', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .post(`${base}/groups`, { group: { group_type: 'gt-1', volume_types: ['vt-1', 'vt-2'], name: 'web', description: 'plan web', availability_zone: 'nova' } })
      .reply(202, { group: { id: 'g9', name: 'web' } });
    const g = await createGroup(site.blockStorage, { group_type: 'gt-1', volume_types: ['vt-1', 'vt-2'], name: 'web', description: 'plan web', availability_zone: 'nova' });
    expect(g).to.deep.equal({ id: 'g9', name: 'web' });
    expectAllCalled();
  });

  it('surfaces the 400 for the reserved default_cgsnapshot_type group type with its message', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    // Body: captured from the Zed lab (cinder/group/api.py create raises InvalidGroupType for the
    // CG-migration type), in Cinder's {"badRequest": {...}} fault shape.
    const message = 'Group_type gt-cg is reserved for migrating CGs to groups. Migrated group can only be operated by CG APIs.';
    nock(CINDER)
      .post(`${base}/groups`)
      .once()
      .reply(400, { badRequest: { code: 400, message } }, { 'X-OpenStack-Request-ID': 'req-cg-1' });
    const err = await rejection(createGroup(site.blockStorage, { group_type: 'gt-cg', volume_types: ['vt-1'] }));
    expect(err).to.be.instanceOf(BadRequestError);
    expect((err as BadRequestError).detail).to.equal(message);
    expect((err as BadRequestError).requestId).to.equal('req-cg-1');
    expectAllCalled();
  });

  it('deletes a group with the delete action (delete-volumes), idempotently', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .post(`${base}/groups/g1/action`, { delete: { 'delete-volumes': true } })
      .reply(202)
      .post(`${base}/groups/g2/action`, { delete: { 'delete-volumes': false } })
      .reply(404, { itemNotFound: { code: 404, message: 'Group g2 could not be found.' } })
      .post(`${base}/groups/g3/action`, { delete: { 'delete-volumes': false } })
      .reply(400, { badRequest: { code: 400, message: 'Invalid Group: Group g3 still contains volumes. The delete-volumes flag is required to delete it.' } });
    expect(await deleteGroup(site.blockStorage, 'g1', { deleteVolumes: true })).to.equal(true);
    expect(await deleteGroup(site.blockStorage, 'g2')).to.equal(false);
    const err = await rejection(deleteGroup(site.blockStorage, 'g3'));
    expect(err).to.be.instanceOf(BadRequestError);
    expect((err as BadRequestError).detail).to.match(/delete-volumes flag is required/);
    expectAllCalled();
  });

  it('lists group snapshots by group across pages following group_snapshot_links, and creates one', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/group_snapshots/detail`)
      .query({ group_id: 'g1' })
      .reply(200, {
        group_snapshots: [groupSnapshot('gs1')],
        group_snapshot_links: [{ rel: 'next', href: `http://cinder-internal:8776/v3/${PROJECT_ID}/group_snapshots/detail?group_id=g1&marker=gs1` }],
      })
      .get(`${base}/group_snapshots/detail`)
      .query({ group_id: 'g1', marker: 'gs1' })
      .reply(200, { group_snapshots: [groupSnapshot('gs2', 'creating')] })
      .post(`${base}/group_snapshots`, { group_snapshot: { group_id: 'g1', name: 'ferry-gs' } })
      .reply(202, { group_snapshot: { id: 'gs3', name: 'ferry-gs', group_type_id: 'gt-1' } });
    const all = await collect(listGroupSnapshots(site.blockStorage, { group_id: 'g1' }));
    expect(all.map((s) => [s.id, s.status])).to.deep.equal([
      ['gs1', 'available'],
      ['gs2', 'creating'],
    ]);
    expect((await createGroupSnapshot(site.blockStorage, { group_id: 'g1', name: 'ferry-gs' })).id).to.equal('gs3');
    expectAllCalled();
  });

  it('guards group snapshots (3.14), their paging (3.29) and group types (3.11)', async () => {
    const a = testSite();
    mockAuth();
    mockCinderVersion('3.13');
    expect(await rejection(getGroupSnapshot(a.site.blockStorage, 'gs1'))).to.be.instanceOf(NotSupportedError);
    expect(String(await rejection(collect(listGroupSnapshots(a.site.blockStorage, { limit: 5 }))))).to.match(/needs microversion 3\.29/);
    const b = testSite();
    mockAuth();
    mockCinderVersion('3.10');
    expect(String(await rejection(collect(listGroupTypes(b.site.blockStorage))))).to.match(/group types needs microversion 3\.11/);
    expectAllCalled();
  });

  it('deletes group snapshots idempotently', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .delete(`${base}/group_snapshots/gs1`)
      .reply(202)
      .delete(`${base}/group_snapshots/gs2`)
      .reply(404, { itemNotFound: { code: 404, message: 'GroupSnapshot gs2 could not be found.' } });
    expect(await deleteGroupSnapshot(site.blockStorage, 'gs1')).to.equal(true);
    expect(await deleteGroupSnapshot(site.blockStorage, 'gs2')).to.equal(false);
    expectAllCalled();
  });

  it('lists group types following group_type_links', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    // Shape: cinder/api/v3/views/group_types.py index.
    const gt = (id: string) => ({ id, name: `gt-${id}`, description: null, is_public: true, group_specs: { consistent_group_snapshot_enabled: '<is> True' } });
    nock(CINDER)
      .get(`${base}/group_types`)
      .reply(200, { group_types: [gt('1')], group_type_links: [{ rel: 'next', href: `http://cinder-internal:8776/v3/${PROJECT_ID}/group_types?marker=1` }] })
      .get(`${base}/group_types`)
      .query({ marker: '1' })
      .reply(200, { group_types: [gt('2')] });
    const types = await collect(listGroupTypes(site.blockStorage));
    expect(types.map((t) => t.id)).to.deep.equal(['1', '2']);
    expect(types[0]!.group_specs).to.deep.equal({ consistent_group_snapshot_enabled: '<is> True' });
    expectAllCalled();
  });

  it('waits for a group snapshot to become available and fails fast on a group error', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/group_snapshots/gs1`)
      .reply(200, { group_snapshot: groupSnapshot('gs1', 'creating') })
      .get(`${base}/group_snapshots/gs1`)
      .reply(200, { group_snapshot: groupSnapshot('gs1', 'available') })
      .get(`${base}/groups/g1`)
      .once()
      .reply(200, { group: group('g1', 'error') });
    expect((await waitForGroupSnapshot(site.blockStorage, 'gs1', ['available'], { intervalMs: 1 }))?.status).to.equal('available');
    const err = await rejection(waitForGroup(site.blockStorage, 'g1', ['available'], { intervalMs: 1, timeoutMs: 60_000 }));
    expect(err).to.be.instanceOf(ResourceFailureError);
    expect((err as ResourceFailureError).status).to.equal('error');
    expectAllCalled();
  });

  it('treats 404 as deleted when waiting for a group to go', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/groups/g1`)
      .reply(200, { group: group('g1', 'deleting') })
      .get(`${base}/groups/g1`)
      .reply(404, { itemNotFound: { code: 404, message: 'Group g1 could not be found.' } });
    await waitForGroupDeleted(site.blockStorage, 'g1', { intervalMs: 1 });
    expectAllCalled();
  });
});
