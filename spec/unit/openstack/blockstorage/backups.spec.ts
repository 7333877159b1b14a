import { expect } from 'chai';
import nock from 'nock';
import { BadRequestError, NotSupportedError, ResourceFailureError, ServerError } from '../../../../lib/errors.js';
import {
  createBackup,
  deleteBackup,
  exportBackupRecord,
  getBackup,
  importBackupRecord,
  listBackups,
  resetBackupStatus,
  restoreBackup,
  waitForBackup,
  waitForBackupDeleted,
} from '../../../../lib/openstack/blockstorage/backups.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { CINDER, PROJECT_ID, expectAllCalled, mockAuth, mockCinderVersion, testSite, useNock } from '../../../support/fake-cloud.js';

const base = `/v3/${PROJECT_ID}`;
const links = (id: string) => [
  { rel: 'self', href: `${CINDER}/v3/${PROJECT_ID}/backups/${id}` },
  { rel: 'bookmark', href: `${CINDER}/${PROJECT_ID}/backups/${id}` },
];

// Shape: api-ref block-storage v3 "Show backup detail" (Zed) and cinder/api/views/backups.py
// detail + cinder/api/v3/views/backups.py (metadata since 3.43) + v3 backups.py
// (os-backup-project-attr:project_id since 3.18, user_id since 3.56).
function backup(id: string, status = 'available', extra: Record<string, unknown> = {}) {
  return {
    id,
    name: `bk-${id}`,
    description: null,
    status,
    size: 10,
    object_count: 210,
    availability_zone: 'nova',
    container: 'volumebackups',
    created_at: '2026-11-27T03:00:00.000000',
    updated_at: '2026-11-27T03:05:00.000000',
    fail_reason: null,
    volume_id: 'vol-1',
    links: links(id),
    is_incremental: false,
    has_dependent_backups: false,
    snapshot_id: null,
    data_timestamp: '2026-11-27T03:00:00.000000',
    metadata: {},
    'os-backup-project-attr:project_id': PROJECT_ID,
    user_id: 'u-ferry',
    ...extra,
  };
}

// Shape: cinder/api/views/backups.py summary (what create and import_record answer).
const summary = (id: string, name: string | null) => ({ backup: { id, name, links: links(id) } });

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('blockstorage/backups', () => {
  useNock();

  it('lists backups/detail across pages following backups_links', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/backups/detail`)
      .query({ volume_id: 'vol-1', status: 'available', all_tenants: '1', sort: 'created_at:desc' })
      .matchHeader('OpenStack-API-Version', 'volume 3.64')
      .reply(200, {
        backups: [backup('b1'), backup('b2', 'available', { is_incremental: true })],
        backups_links: [{ rel: 'next', href: `http://cinder-internal:8776/v3/${PROJECT_ID}/backups/detail?marker=b2&sort=created_at:desc` }],
      })
      .get(`${base}/backups/detail`)
      .query({ volume_id: 'vol-1', status: 'available', all_tenants: '1', sort: 'created_at:desc', marker: 'b2' })
      .reply(200, { backups: [backup('b3')] });
    const all = await collect(listBackups(site.blockStorage, { volume_id: 'vol-1', status: 'available', all_tenants: true, sort: 'created_at:desc' }));
    expect(all.map((b) => b.id)).to.deep.equal(['b1', 'b2', 'b3']);
    expect(all[1]!.is_incremental).to.equal(true);
    expectAllCalled();
  });

  it('reads a backup with the fields the data path relies on', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/backups/b1`)
      .reply(200, {
        backup: backup('b1', 'available', { has_dependent_backups: true, snapshot_id: 'snap-1', data_timestamp: '2026-11-27T02:59:00.000000', metadata: { 'ferry:plan': 'p1' } }),
      });
    const b = await getBackup(site.blockStorage, 'b1');
    expect(b.has_dependent_backups).to.equal(true);
    expect(b.snapshot_id).to.equal('snap-1');
    expect(b.data_timestamp).to.equal('2026-11-27T02:59:00.000000');
    expect(b.metadata).to.deep.equal({ 'ferry:plan': 'p1' });
    expect(b['os-backup-project-attr:project_id']).to.equal(PROJECT_ID);
  });

  it('creates an incremental backup from a snapshot with the documented body and returns the summary', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    const opts = {
      volume_id: 'vol-1',
      snapshot_id: 'snap-1',
      incremental: true,
      force: true,
      name: 'ferry-b',
      description: 'plan p1',
      container: 'ferry',
      metadata: { 'ferry:plan': 'p1' },
      availability_zone: 'az2',
    };
    nock(CINDER).post(`${base}/backups`, { backup: opts }).matchHeader('OpenStack-API-Version', 'volume 3.64').reply(202, summary('b9', 'ferry-b'));
    const b = await createBackup(site.blockStorage, opts);
    expect(b).to.deep.equal(summary('b9', 'ferry-b').backup);
    expectAllCalled();
  });

  it('guards backup metadata (3.43) and availability_zone (3.51) with the server microversion', async () => {
    const a = testSite();
    mockAuth();
    mockCinderVersion('3.40');
    const e1 = await rejection(createBackup(a.site.blockStorage, { volume_id: 'vol-1', metadata: { a: '1' } }));
    expect(e1).to.be.instanceOf(NotSupportedError);
    expect(String(e1)).to.match(/backup metadata needs microversion 3\.43/);
    const b = testSite();
    mockAuth();
    mockCinderVersion('3.50');
    const e2 = await rejection(createBackup(b.site.blockStorage, { volume_id: 'vol-1', availability_zone: 'az2' }));
    expect(String(e2)).to.match(/availability zone of a backup needs microversion 3\.51/);
    expectAllCalled();
  });

  it('never retries a create that failed with 503', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).post(`${base}/backups`).once().reply(503, { serviceUnavailable: { code: 503, message: 'Service cinder-backup could not be found.' } });
    const err = await rejection(createBackup(site.blockStorage, { volume_id: 'vol-1' }));
    expect(err).to.be.instanceOf(ServerError);
    expect((err as ServerError).detail).to.equal('Service cinder-backup could not be found.');
    expectAllCalled();
  });

  it('deletes idempotently, and force-deletes with the os-force_delete action', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .delete(`${base}/backups/b1`)
      .reply(202)
      .delete(`${base}/backups/b2`)
      .reply(404, { itemNotFound: { code: 404, message: 'Backup b2 could not be found.' } })
      .post(`${base}/backups/b3/action`, { 'os-force_delete': {} })
      .reply(202);
    expect(await deleteBackup(site.blockStorage, 'b1')).to.equal(true);
    expect(await deleteBackup(site.blockStorage, 'b2')).to.equal(false);
    expect(await deleteBackup(site.blockStorage, 'b3', { force: true })).to.equal(true);
    expectAllCalled();
  });

  it('restores into an existing volume or a new named one and returns the restore summary', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    // Shape: cinder/api/views/backups.py restore_summary.
    nock(CINDER)
      .post(`${base}/backups/b1/restore`, { restore: { volume_id: 'vol-9' } })
      .reply(202, { restore: { backup_id: 'b1', volume_id: 'vol-9', volume_name: 'data' } })
      .post(`${base}/backups/b1/restore`, { restore: { name: 'restored-data' } })
      .reply(202, { restore: { backup_id: 'b1', volume_id: 'vol-new', volume_name: 'restored-data' } });
    expect(await restoreBackup(site.blockStorage, 'b1', { volume_id: 'vol-9' })).to.deep.equal({ backup_id: 'b1', volume_id: 'vol-9', volume_name: 'data' });
    const r = await restoreBackup(site.blockStorage, 'b1', { name: 'restored-data' });
    expect(r.volume_id).to.equal('vol-new');
    expectAllCalled();
  });

  it('keeps Cinder\'s message when a second restore is refused while the first runs', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    // cinder/backup/api.py restore: InvalidBackup(reason='Backup status must be available') → webob 400.
    nock(CINDER)
      .post(`${base}/backups/b1/restore`)
      .once()
      .reply(400, { badRequest: { code: 400, message: 'Invalid backup: Backup status must be available' } }, { 'x-openstack-request-id': 'req-restore-2' });
    const err = await rejection(restoreBackup(site.blockStorage, 'b1', { volume_id: 'vol-9' }));
    expect(err).to.be.instanceOf(BadRequestError);
    expect((err as BadRequestError).detail).to.equal('Invalid backup: Backup status must be available');
    expect((err as BadRequestError).message).to.include('Invalid backup: Backup status must be available');
    expect((err as BadRequestError).requestId).to.equal('req-restore-2');
    expectAllCalled();
  });

  it('exports a backup record from the hyphenated backup-record key', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    // Shape: cinder/api/views/backups.py export_summary.
    nock(CINDER)
      .get(`${base}/backups/b1/export_record`)
      .reply(200, { 'backup-record': { backup_service: 'cinder.backup.drivers.swift.SwiftBackupDriver', backup_url: 'eyJpZCI6ICJiMSJ9' } });
    expect(await exportBackupRecord(site.blockStorage, 'b1')).to.deep.equal({ backup_service: 'cinder.backup.drivers.swift.SwiftBackupDriver', backup_url: 'eyJpZCI6ICJiMSJ9' });
    expectAllCalled();
  });

  it('imports a record with POST backups/import_record (201) and does not retry it', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    const record = { backup_service: 'cinder.backup.drivers.swift.SwiftBackupDriver', backup_url: 'eyJpZCI6ICJiMSJ9' };
    nock(CINDER)
      .post(`${base}/backups/import_record`, { 'backup-record': record })
      .reply(201, summary('b1', 'bk-b1'))
      .post(`${base}/backups/import_record`, { 'backup-record': record })
      .once()
      .reply(400, { badRequest: { code: 400, message: 'Invalid backup: Backup already exists in database.' } });
    expect((await importBackupRecord(site.blockStorage, record)).id).to.equal('b1');
    const err = await rejection(importBackupRecord(site.blockStorage, record));
    expect((err as BadRequestError).detail).to.equal('Invalid backup: Backup already exists in database.');
    expectAllCalled();
  });

  it('resets a stuck backup with os-reset_status', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).post(`${base}/backups/b1/action`, { 'os-reset_status': { status: 'error' } }).reply(202);
    await resetBackupStatus(site.blockStorage, 'b1', 'error');
    expectAllCalled();
  });

  it('waits through creating to available', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).get(`${base}/backups/b1`).reply(200, { backup: backup('b1', 'creating') }).get(`${base}/backups/b1`).reply(200, { backup: backup('b1', 'available') });
    const b = await waitForBackup(site.blockStorage, 'b1', ['available'], { intervalMs: 1 });
    expect(b?.status).to.equal('available');
    expectAllCalled();
  });

  it('fails fast on error and reports fail_reason', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/backups/b1`)
      .once()
      .reply(200, { backup: backup('b1', 'error', { fail_reason: 'ClientException: Container PUT failed: 507 Insufficient Storage' }) });
    const err = await rejection(waitForBackup(site.blockStorage, 'b1', ['available'], { intervalMs: 1, timeoutMs: 60_000 }));
    expect(err).to.be.instanceOf(ResourceFailureError);
    expect((err as ResourceFailureError).status).to.equal('error');
    expect((err as Error).message).to.equal('backup b1 went to error: ClientException: Container PUT failed: 507 Insufficient Storage');
    expectAllCalled();
  });

  it('treats 404 as deleted when waiting for deletion', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/backups/b1`)
      .reply(200, { backup: backup('b1', 'deleting') })
      .get(`${base}/backups/b1`)
      .reply(404, { itemNotFound: { code: 404, message: 'Backup b1 could not be found.' } });
    const seen: string[] = [];
    await waitForBackupDeleted(site.blockStorage, 'b1', { intervalMs: 1, onProgress: (s) => seen.push(s) });
    expect(seen).to.deep.equal(['deleting', 'DELETED']);
    expectAllCalled();
  });
});
