// The bank layout in Swift (docs/bank-layout.md): pure path functions as tables, then the
// reads and writes against nock'ed Swift. Fixture shapes: Swift 2.30 (Zed) object PUT answers
// 201 with the MD5 as Etag (swift/proxy/controllers/obj.py) and 422 on an ETag mismatch;
// container listings are JSON arrays of {name, hash, bytes, content_type, last_modified}
// (swift/container/server.py update_data_record), `{subdir}` entries with a delimiter, paged
// with marker/limit until an empty page; a missing object is 404 with swob's HTML body.
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import nock from 'nock';
import { specHash } from '../../../lib/catalog/repo.js';
import type { Inventory } from '../../../lib/inventory/model.js';
import { IntegrityError } from '../../../lib/openstack/image/images.js';
import {
  BANK_LAYOUT,
  bankPaths,
  BankConflictError,
  BankError,
  BankLayoutError,
  BankNotFoundError,
  checkBank,
  checkPlanName,
  deleteRecoveryPoint,
  ensureBank,
  getEpoch,
  getPlanDocument,
  getRecoveryPoint,
  listPlanNames,
  listRecoveryPoints,
  markedDeleted,
  markPlanDeleted,
  parseBankPath,
  planDocument,
  pointKey,
  pointTime,
  putEpoch,
  putPlanDocument,
  putRecoveryPoint,
  validatePlanDocument,
} from '../../../lib/replication/bank.js';
import { buildRecoveryPoint, ManifestChecksumError, manifestChecksum, type RecoveryPointManifest } from '../../../lib/replication/recovery-point.js';
import { PROJECT_ID, SWIFT, expectAllCalled, mockAuth, testSite, useNock } from '../../support/fake-cloud.js';

const account = `/v1/AUTH_${PROJECT_ID}`;
const C = 'ferry-bank';
const HTML = { 'Content-Type': 'text/html; charset=UTF-8' };
const notFound = '<html><h1>Not Found</h1><p>The resource could not be found.</p></html>';
/** The request path of an object, encoded as swiftPath() sends it. */
const obj = (name: string, container = C) => `${account}/${container}/${name.split('/').map(encodeURIComponent).join('/')}`;
const md5 = (b: string | Buffer) => createHash('md5').update(b).digest('hex');
/** What the bank writes for a document. */
const docBody = (doc: unknown) => `${JSON.stringify(doc, null, 2)}\n`;

function tinyInventory(): Inventory {
  return {
    schemaVersion: 1,
    site: 'site-a',
    projectId: 'p-1',
    discoveredAt: '2026-11-27T03:00:00.000Z',
    selectors: { serverNames: ['web-1'] },
    members: [
      {
        server: {
          id: 'srv-1',
          name: 'web-1',
          status: 'ACTIVE',
          powerState: 'running',
          flavor: { key: 'm1.tiny', name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1, ephemeral: 0, swap: 0, extraSpecs: {} },
          bootFromVolume: false,
          image: { id: 'img-1' },
          availabilityZone: 'nova',
          metadata: {},
          tags: [],
          serverGroups: [],
          locked: false,
          configDrive: false,
          diskConfig: 'MANUAL',
          userId: 'u',
          projectId: 'p-1',
          createdAt: '2026-11-27T01:00:00Z',
        },
        ports: [{ id: 'port-1', name: '', description: '', nicIndex: 0, networkId: 'net-1', macAddress: 'fa:16:3e:00:00:01', fixedIps: [{ subnetId: 'sub-1', ipAddress: '10.0.0.5' }], securityGroupIds: [], allowedAddressPairs: [], adminStateUp: true, tags: [] }],
        volumes: [{ id: 'vol-1', name: 'data', size: 1, bootable: false, device: '/dev/vdb', attachmentOrder: 0, availabilityZone: 'nova', metadata: {}, multiattach: false, encrypted: false, status: 'in-use' }],
        selectedBy: ['name'],
      },
    ],
    networks: {},
    subnets: {},
    securityGroups: {},
    flavors: { 'm1.tiny': { key: 'm1.tiny', name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1, ephemeral: 0, swap: 0, extraSpecs: {} } },
    images: {},
    volumeTypes: {},
    keypairs: {},
    serverGroups: {},
    warnings: [],
  };
}

function point(createdAt: string, id: string, withData = true): RecoveryPointManifest {
  return buildRecoveryPoint({
    plan: { name: 'shop', specHash: `sha256:${'0'.repeat(64)}`, epoch: 0 },
    inventory: tinyInventory(),
    volumes: withData ? [{ sourceVolumeId: 'vol-1', mover: 'cinder-backup', primaryBackupId: 'b1', secondaryBackupId: 'b1', incremental: false, sizeGb: 1, dataTimestamp: createdAt, backupService: 'cinder.backup.drivers.swift.SwiftBackupDriver' }] : [],
    images: [],
    targetSite: 'site-b',
    createdAt,
    completedAt: createdAt,
    id,
  });
}

const P1 = point('2026-11-27T03:00:00.000Z', '11111111-1111-4111-8111-111111111111');
const manifestName = (m: RecoveryPointManifest) => bankPaths.manifest(m.plan.name, m.createdAt, m.id);
const completeName = (m: RecoveryPointManifest) => bankPaths.complete(m.plan.name, m.createdAt, m.id);

/** A listing entry (swift/container/server.py shape). */
function entry(name: string, body = 'x') {
  return { name, hash: md5(body), bytes: Buffer.byteLength(body), content_type: 'application/json', last_modified: '2026-11-27T03:05:00.000000' };
}

/** Serves a JSON document as Swift does a GET (Etag = MD5 of the body). */
function serveDoc(scope: nock.Scope, name: string, body: string, etag = md5(body)) {
  return scope.get(obj(name)).reply(200, body, { Etag: etag, 'Content-Length': String(Buffer.byteLength(body)), 'Content-Type': 'application/json' });
}

async function fails(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('replication/bank', () => {
  useNock();

  describe('paths (pure)', () => {
    it('names every object of the layout', () => {
      const t = '2026-11-27T03:45:12.123Z';
      const id = '0b6f6d3e-2a0c-4c55-9d6a-3e1f2a4b5c6d';
      const table: [string, string][] = [
        [bankPaths.marker(), 'bank.json'],
        [bankPaths.plans(), 'plans/'],
        [bankPaths.plan('shop'), 'plans/shop/'],
        [bankPaths.planDoc('shop'), 'plans/shop/plan.json'],
        [bankPaths.epoch('shop'), 'plans/shop/epoch.json'],
        [bankPaths.points('shop'), 'plans/shop/points/'],
        [bankPaths.point('shop', t, id), `plans/shop/points/${t}_${id}/`],
        [bankPaths.manifest('shop', new Date(t), id), `plans/shop/points/${t}_${id}/manifest.json`],
        [bankPaths.complete('shop', '2026-11-27T04:45:12.123+01:00', id), `plans/shop/points/${t}_${id}/COMPLETE`],
      ];
      for (const [got, want] of table) expect(got).to.equal(want);
    });

    it('parses object names back, and ignores names the layout does not define', () => {
      const t = '2026-11-27T03:45:12.123Z';
      const table: [string, unknown][] = [
        ['bank.json', { kind: 'marker' }],
        ['plans/shop/plan.json', { kind: 'plan', plan: 'shop' }],
        ['plans/shop/epoch.json', { kind: 'epoch', plan: 'shop' }],
        [`plans/shop/points/${t}_p-1/manifest.json`, { kind: 'manifest', plan: 'shop', createdAt: t, id: 'p-1', key: `${t}_p-1` }],
        [`plans/shop/points/${t}_with_under/COMPLETE`, { kind: 'complete', plan: 'shop', createdAt: t, id: 'with_under', key: `${t}_with_under` }],
        [`plans/shop/points/${t}_p-1/other.txt`, undefined],
        [`plans/shop/points/2026-11-27T03:45:12Z_p-1/manifest.json`, undefined],
        [`plans/shop/points/${t}/manifest.json`, undefined],
        ['plans/shop/extra/plan.json', undefined],
        ['plans/../plan.json', undefined],
        ['unrelated', undefined],
      ];
      for (const [name, want] of table) expect(parseBankPath(name), name).to.deep.equal(want);
    });

    it('makes point folders that sort by time as text, and refuses unusable names', () => {
      const times = ['2026-11-27T10:00:00.000Z', '2026-11-27T09:59:59.999Z', '2025-12-31T23:00:00.000Z', '2026-11-27T10:00:00.001Z'];
      const keys = times.map((t) => pointKey(t, 'p'));
      const byText = [...keys].sort();
      const byTime = [...times].sort((a, b) => Date.parse(a) - Date.parse(b)).map((t) => pointKey(t, 'p'));
      expect(byText).to.deep.equal(byTime);
      expect(pointTime('2026-11-27T03:00:00+02:00')).to.equal('2026-11-27T01:00:00.000Z');
      for (const bad of ['', 'a/b', '..', '.', 'x\u0000']) expect(() => checkPlanName(bad), JSON.stringify(bad)).to.throw(BankError);
      expect(() => pointKey('2026-11-27T03:00:00Z', 'a/b')).to.throw(/not 1-64 of letters/);
      expect(() => pointTime('soon')).to.throw(/'soon' is not a time/);
      expect(() => pointTime(new Date(Date.UTC(12026, 0, 1)))).to.throw(/outside the years/);
    });

    it('hashes a plan document the way the catalog does', () => {
      const spec = { name: 'shop', rpo: { text: '15m', ms: 900000 }, members: [{ server: 'web-1' }] };
      const doc = planDocument({ name: 'shop', project: 'p-1', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 900000, spec }, '2026-11-27T03:00:00Z');
      expect(doc.specHash).to.equal(specHash(spec));
      expect(doc).to.include({ apiVersion: 'ferry.bankplan/v1', appliedAt: '2026-11-27T03:00:00.000Z' });
    });
  });

  describe('marker', () => {
    it('creates the container and writes bank.json when missing', async () => {
      const { site } = testSite();
      mockAuth();
      const marker = { layout: BANK_LAYOUT, createdAt: '2026-11-27T03:00:00.000Z', createdBy: 'ferry' };
      nock(SWIFT)
        .put(`${account}/${C}`)
        .reply(201, '')
        .get(obj('bank.json'))
        .reply(404, notFound, HTML)
        .put(obj('bank.json'), docBody(marker))
        .matchHeader('ETag', md5(docBody(marker)))
        .matchHeader('Content-Type', 'application/json')
        .reply(201, '', { Etag: md5(docBody(marker)) });
      expect(await ensureBank(site.objectStore, { now: () => new Date('2026-11-27T03:00:00Z') })).to.deep.equal(marker);
      expectAllCalled();
    });

    it('keeps an existing v1 marker, refuses a newer layout or a foreign container, and reports a missing bank', async () => {
      const { site } = testSite();
      mockAuth();
      const scope = nock(SWIFT).put(`${account}/${C}`).reply(202, '');
      serveDoc(scope, 'bank.json', JSON.stringify({ layout: 'ferry.bank/v1', createdAt: '2026-01-01T00:00:00.000Z' }));
      expect((await ensureBank(site.objectStore)).createdAt).to.equal('2026-01-01T00:00:00.000Z');
      serveDoc(nock(SWIFT), 'bank.json', JSON.stringify({ layout: 'ferry.bank/v2', createdAt: 'x' }));
      expect((await fails(checkBank(site.objectStore))).message).to.match(/layout 'ferry\.bank\/v2', newer than this Ferry reads \(ferry\.bank\/v1\); upgrade Ferry/);
      serveDoc(nock(SWIFT), 'bank.json', JSON.stringify({ layout: 'velero/v1', createdAt: 'x' }));
      expect(await fails(checkBank(site.objectStore))).to.be.instanceOf(BankLayoutError);
      nock(SWIFT).get(obj('bank.json', 'other')).reply(404, notFound, HTML);
      const err = await fails(checkBank(site.objectStore, { container: 'other' }));
      expect(err).to.be.instanceOf(BankNotFoundError);
      expect(err.message).to.match(/no Ferry bank in container 'other'/);
      expectAllCalled();
    });
  });

  describe('recovery points', () => {
    it('writes the manifest with its MD5 as ETag, verified, and the COMPLETE marker last', async () => {
      const { site } = testSite();
      mockAuth();
      const order: string[] = [];
      const body = docBody(P1);
      // The marker names the manifest it completes (checksum, MD5, size).
      const marker = { pointId: P1.id, manifestChecksum: P1.checksums.manifest, manifestMd5: md5(body), manifestBytes: Buffer.byteLength(body), completedAt: P1.completedAt };
      nock(SWIFT)
        .head(obj(completeName(P1)))
        .reply(404, () => (order.push('HEAD COMPLETE'), ''))
        .put(obj(manifestName(P1)), (b: unknown) => JSON.stringify(b) === JSON.stringify(P1))
        .matchHeader('ETag', md5(body))
        .matchHeader('Content-Type', 'application/json')
        .matchHeader('X-Object-Meta-Ferry-Checksum', P1.checksums.manifest)
        .matchHeader('X-Object-Meta-Ferry-Status', 'complete')
        .reply(201, () => (order.push('PUT manifest.json'), ''), { Etag: md5(body) })
        .put(obj(completeName(P1)), docBody(marker))
        .matchHeader('ETag', md5(docBody(marker)))
        .reply(201, () => (order.push('PUT COMPLETE'), ''), { Etag: md5(docBody(marker)) });
      const r = await putRecoveryPoint(site.objectStore, P1);
      expect(order).to.deep.equal(['HEAD COMPLETE', 'PUT manifest.json', 'PUT COMPLETE']);
      expect(r).to.deep.equal({ written: true, manifestObject: manifestName(P1), completeObject: completeName(P1), etag: md5(body), bytes: Buffer.byteLength(body) });
      expect(manifestName(P1)).to.equal('plans/shop/points/2026-11-27T03:00:00.000Z_11111111-1111-4111-8111-111111111111/manifest.json');
      expectAllCalled();
    });

    it('never writes COMPLETE when Swift refuses the manifest (422: the body is not the MD5 sent)', async () => {
      const { site } = testSite();
      mockAuth();
      nock(SWIFT)
        .head(obj(completeName(P1)))
        .reply(404, notFound, HTML)
        .put(obj(manifestName(P1)))
        .reply(422, '<html><h1>Unprocessable Entity</h1><p>Unable to process the contained instructions</p></html>', HTML);
      const err = await fails(putRecoveryPoint(site.objectStore, P1));
      expect(err).to.be.instanceOf(IntegrityError);
      expectAllCalled();
    });

    it('refuses to store a manifest whose checksum does not match, before any request', async () => {
      const { site } = testSite();
      const bad = { ...JSON.parse(JSON.stringify(P1)), targetSite: 'site-c' } as RecoveryPointManifest;
      expect(await fails(putRecoveryPoint(site.objectStore, bad))).to.be.instanceOf(ManifestChecksumError);
    });

    it('is a no-op for a point already finished with the same manifest, a conflict with another', async () => {
      const { site } = testSite();
      mockAuth();
      const body = docBody(P1);
      const scope = nock(SWIFT).head(obj(completeName(P1))).twice().reply(200, '', { Etag: md5('{}'), 'Content-Length': '2' });
      serveDoc(scope, manifestName(P1), body);
      const again = await putRecoveryPoint(site.objectStore, P1);
      expect(again).to.include({ written: false, etag: md5(body) });
      const other = point(P1.createdAt, P1.id, false);
      serveDoc(scope, manifestName(P1), body);
      const err = await fails(putRecoveryPoint(site.objectStore, other));
      expect(err).to.be.instanceOf(BankConflictError);
      expect(err.message).to.match(/already in the bank with another manifest .*recovery points are immutable/);
      expectAllCalled();
    });

    it('lists a plan’s points newest first across pages, one listing, with COMPLETE deciding the state', async () => {
      const { site } = testSite();
      mockAuth();
      const p = 'plans/shop/points/';
      const names = [
        `${p}2026-11-27T01:00:00.000Z_a/COMPLETE`,
        `${p}2026-11-27T01:00:00.000Z_a/manifest.json`,
        `${p}2026-11-27T02:00:00.000Z_b/COMPLETE`,
        `${p}2026-11-27T02:00:00.000Z_b/manifest.json`,
        `${p}2026-11-27T03:00:00.000Z_c/manifest.json`,
        `${p}2026-11-27T04:00:00.000Z_d/COMPLETE`,
        `${p}2026-11-27T04:00:00.000Z_d/notes.txt`,
      ];
      const list = (q: Record<string, string>, page: string[]) => nock(SWIFT).get(`${account}/${C}`).query({ format: 'json', prefix: p, limit: '3', ...q }).reply(200, page.map((n) => entry(n)));
      list({}, names.slice(0, 3));
      list({ marker: names[2]! }, names.slice(3, 6));
      list({ marker: names[5]! }, names.slice(6));
      list({ marker: names[6]! }, []);
      const got = await listRecoveryPoints(site.objectStore, 'shop', { pageSize: 3 });
      expect(got.map((e) => [e.id, e.createdAt, e.state])).to.deep.equal([
        ['d', '2026-11-27T04:00:00.000Z', 'broken'],
        ['c', '2026-11-27T03:00:00.000Z', 'incomplete'],
        ['b', '2026-11-27T02:00:00.000Z', 'complete'],
        ['a', '2026-11-27T01:00:00.000Z', 'complete'],
      ]);
      expect(got[2]!.manifest).to.deep.equal({ name: names[3], bytes: 1, hash: md5('x'), last_modified: '2026-11-27T03:05:00.000000' });
      expectAllCalled();
    });

    it('reads a manifest and verifies its checksum; an edited manifest is detected', async () => {
      const { site } = testSite();
      mockAuth();
      serveDoc(nock(SWIFT), manifestName(P1), docBody(P1));
      expect(await getRecoveryPoint(site.objectStore, { plan: 'shop', createdAt: P1.createdAt, id: P1.id })).to.deep.equal(P1);
      // Edited in place: Swift's Etag matches the new bytes, only the manifest's own checksum catches it.
      const edited = docBody({ ...P1, status: 'partial' });
      serveDoc(nock(SWIFT), manifestName(P1), edited);
      const err = (await fails(getRecoveryPoint(site.objectStore, { plan: 'shop', createdAt: P1.createdAt, id: P1.id }))) as ManifestChecksumError;
      expect(err).to.be.instanceOf(ManifestChecksumError);
      expect(err.message).to.contain(`object ${C}/${manifestName(P1)}: invalid recovery point manifest: $.checksums.manifest`);
      expect(err.expected).to.equal(P1.checksums.manifest);
      expect(err.actual).to.equal(manifestChecksum(JSON.parse(edited)));
      expectAllCalled();
    });

    it('detects a corrupted transfer (Etag), a manifest in the wrong folder, and a missing one', async () => {
      const { site } = testSite();
      mockAuth();
      const ref = { plan: 'shop', createdAt: P1.createdAt, id: P1.id };
      serveDoc(nock(SWIFT), manifestName(P1), docBody(P1), '0'.repeat(32));
      expect(await fails(getRecoveryPoint(site.objectStore, ref))).to.be.instanceOf(IntegrityError);
      const other = point('2026-11-27T05:00:00.000Z', '22222222-2222-4222-8222-222222222222');
      serveDoc(nock(SWIFT), manifestName(P1), docBody(other));
      expect((await fails(getRecoveryPoint(site.objectStore, ref))).message).to.match(/holds recovery point 22222222-.* not the point its path names/);
      nock(SWIFT).get(obj(manifestName(P1))).reply(404, notFound, HTML);
      expect(await fails(getRecoveryPoint(site.objectStore, ref))).to.be.instanceOf(BankNotFoundError);
      expectAllCalled();
    });

    it('deletes COMPLETE before the manifest, idempotently', async () => {
      const { site } = testSite();
      mockAuth();
      const order: string[] = [];
      nock(SWIFT)
        .delete(obj(completeName(P1)))
        .reply(204, () => (order.push('COMPLETE'), ''))
        .delete(obj(manifestName(P1)))
        .reply(204, () => (order.push('manifest'), ''))
        .delete(obj(completeName(P1)))
        .reply(404, notFound, HTML)
        .delete(obj(manifestName(P1)))
        .reply(404, notFound, HTML);
      expect(await deleteRecoveryPoint(site.objectStore, { plan: 'shop', createdAt: P1.createdAt, id: P1.id })).to.equal(true);
      expect(order).to.deep.equal(['COMPLETE', 'manifest']);
      expect(await deleteRecoveryPoint(site.objectStore, { plan: 'shop', createdAt: P1.createdAt, id: P1.id })).to.equal(false);
      expectAllCalled();
    });
  });

  describe('plans and epochs', () => {
    const doc = planDocument({ name: 'shop', project: 'p-1', primarySite: 'site-a', secondarySite: 'site-b', tier: 'backup', rpoMs: 3_600_000, spec: { name: 'shop' } }, '2026-11-27T03:00:00Z');

    it('writes and reads plan.json, refusing a spec that does not match its hash', async () => {
      const { site } = testSite();
      mockAuth();
      nock(SWIFT)
        .put(obj('plans/shop/plan.json'), docBody(doc))
        .matchHeader('X-Object-Meta-Ferry-Spec-Hash', doc.specHash)
        .reply(201, '', { Etag: md5(docBody(doc)) });
      await putPlanDocument(site.objectStore, doc);
      serveDoc(nock(SWIFT), 'plans/shop/plan.json', docBody(doc));
      expect(await getPlanDocument(site.objectStore, 'shop')).to.deep.equal(doc);
      serveDoc(nock(SWIFT), 'plans/shop/plan.json', docBody({ ...doc, spec: { name: 'shop', tier: 'x' } }));
      expect((await fails(getPlanDocument(site.objectStore, 'shop'))).message).to.match(/the spec hashes to sha256:\w+, not the recorded/);
      nock(SWIFT).get(obj('plans/gone/plan.json')).reply(404, notFound, HTML);
      expect(await getPlanDocument(site.objectStore, 'gone')).to.equal(undefined);
      expectAllCalled();
    });

    it('a deleted plan carries deletedAt (from a catalog Plan too), outside the spec hash; a live one has none', () => {
      expect(doc).to.not.have.property('deletedAt');
      const row = { name: 'shop', project: 'p-1', primarySite: 'site-a', secondarySite: 'site-b', tier: 'backup' as const, rpoMs: 3_600_000, spec: { name: 'shop' } };
      expect(planDocument({ ...row, deletedAt: null }, '2026-11-27T03:00:00Z')).to.deep.equal(doc);
      const deleted = planDocument({ ...row, deletedAt: new Date('2026-11-28T10:00:00+02:00') }, '2026-11-27T03:00:00Z');
      expect(deleted).to.deep.equal({ ...doc, deletedAt: '2026-11-28T08:00:00.000Z' });
      expect(deleted.specHash).to.equal(doc.specHash);
      expect(validatePlanDocument(JSON.parse(docBody(deleted)))).to.deep.equal(deleted);
      // The first deletion time is kept.
      expect(markedDeleted(doc, '2026-11-29T00:00:00Z').deletedAt).to.equal('2026-11-29T00:00:00.000Z');
      expect(markedDeleted(deleted, '2026-11-29T00:00:00Z')).to.equal(deleted);
      expect(() => validatePlanDocument({ ...doc, deletedAt: 'yesterday' })).to.throw(BankError, /\$\.deletedAt: not a time/);
      expect(() => validatePlanDocument({ ...doc, deletedAt: 42 })).to.throw(BankError, /\$\.deletedAt/);
    });

    it('markPlanDeleted: one GET and one PUT adding deletedAt; already marked or absent writes nothing', async () => {
      const { site } = testSite();
      mockAuth();
      const marked = { ...doc, deletedAt: '2026-11-28T08:00:00.000Z' };
      serveDoc(nock(SWIFT), 'plans/shop/plan.json', docBody(doc));
      nock(SWIFT)
        .put(obj('plans/shop/plan.json'), docBody(marked))
        .matchHeader('X-Object-Meta-Ferry-Spec-Hash', doc.specHash)
        .reply(201, '', { Etag: md5(docBody(marked)) });
      expect(await markPlanDeleted(site.objectStore, 'shop', new Date('2026-11-28T08:00:00Z'))).to.equal('written');
      expectAllCalled();
      // Asked again (a second 'plan delete'): the first time stays, no PUT.
      serveDoc(nock(SWIFT), 'plans/shop/plan.json', docBody(marked));
      expect(await markPlanDeleted(site.objectStore, 'shop', new Date('2026-11-30T00:00:00Z'))).to.equal('unchanged');
      // No plan.json (a plan applied offline and never replicated, or a bank without the container): none is created.
      nock(SWIFT).get(obj('plans/shop/plan.json')).reply(404, notFound, HTML);
      expect(await markPlanDeleted(site.objectStore, 'shop', new Date())).to.equal('absent');
      expectAllCalled();
      // A damaged plan.json: a BankError, unless the caller gives the document to put in its place.
      const damaged = docBody({ ...doc, specHash: `sha256:${'1'.repeat(64)}` });
      serveDoc(nock(SWIFT), 'plans/shop/plan.json', damaged);
      expect(await fails(markPlanDeleted(site.objectStore, 'shop', new Date()))).to.be.instanceOf(BankError);
      serveDoc(nock(SWIFT), 'plans/shop/plan.json', damaged);
      nock(SWIFT).put(obj('plans/shop/plan.json'), docBody(marked)).reply(201, '', { Etag: md5(docBody(marked)) });
      expect(await markPlanDeleted(site.objectStore, 'shop', new Date('2026-11-28T08:00:00Z'), { replaceDamaged: doc })).to.equal('written');
      expectAllCalled();
    });

    it('lists plan names with a delimiter listing across pages', async () => {
      const { site } = testSite();
      mockAuth();
      const q = { format: 'json', prefix: 'plans/', delimiter: '/', limit: '2' };
      nock(SWIFT)
        .get(`${account}/${C}`)
        .query(q)
        .reply(200, [{ subdir: 'plans/db/' }, { subdir: 'plans/shop/' }])
        .get(`${account}/${C}`)
        .query({ ...q, marker: 'plans/shop/' })
        .reply(200, [{ subdir: 'plans/web/' }])
        .get(`${account}/${C}`)
        .query({ ...q, marker: 'plans/web/' })
        .reply(200, []);
      expect(await listPlanNames(site.objectStore, { pageSize: 2 })).to.deep.equal(['db', 'shop', 'web']);
      expectAllCalled();
    });

    it('moves the epoch only forward', async () => {
      const { site } = testSite();
      mockAuth();
      const e1 = { epoch: 1, activeSite: 'site-b', updatedAt: '2026-11-27T03:00:00.000Z' };
      nock(SWIFT).get(obj('plans/shop/epoch.json')).reply(404, notFound, HTML).put(obj('plans/shop/epoch.json'), docBody(e1)).reply(201, '', { Etag: md5(docBody(e1)) });
      expect(await putEpoch(site.objectStore, 'shop', e1)).to.equal(true);
      serveDoc(nock(SWIFT), 'plans/shop/epoch.json', docBody(e1));
      expect(await getEpoch(site.objectStore, 'shop')).to.deep.equal(e1);
      serveDoc(nock(SWIFT), 'plans/shop/epoch.json', docBody(e1));
      expect(await putEpoch(site.objectStore, 'shop', { epoch: 1, activeSite: 'site-b' })).to.equal(false);
      serveDoc(nock(SWIFT), 'plans/shop/epoch.json', docBody(e1));
      expect((await fails(putEpoch(site.objectStore, 'shop', { epoch: 0, activeSite: 'site-a' }))).message).to.match(/epoch is 1; refusing to move it back to 0/);
      serveDoc(nock(SWIFT), 'plans/shop/epoch.json', docBody(e1));
      expect(await fails(putEpoch(site.objectStore, 'shop', { epoch: 1, activeSite: 'site-a' }))).to.be.instanceOf(BankConflictError);
      expectAllCalled();
    });
  });
});
