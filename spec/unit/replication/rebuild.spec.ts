// Rebuilding the catalog from the bank: an in-memory Swift behind nock (listing with prefix,
// delimiter, marker and limit as swift/container/server.py does; GET/HEAD/PUT/DELETE objects
// with MD5 Etags as swift/proxy/controllers/obj.py) and a SQLite in-memory catalog.
import { expect } from 'chai';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogRepo } from '../../../lib/catalog/repo.js';
import type { Inventory } from '../../../lib/inventory/model.js';
import { MemoryLogger } from '../../../lib/log.js';
import { BankNotFoundError, bankPaths, ensureBank, markPlanDeleted, planDocument, putEpoch, putPlanDocument, putRecoveryPoint } from '../../../lib/replication/bank.js';
import { rebuildCatalog } from '../../../lib/replication/rebuild.js';
import { buildRecoveryPoint, type RecoveryPointManifest } from '../../../lib/replication/recovery-point.js';
import type { Site } from '../../../lib/openstack/site.js';
import { mockAuth, testSite, useNock } from '../../support/fake-cloud.js';
import { FakeSwift } from '../../support/fake-swift.js';



function inventory(): Inventory {
  const flavor = { key: 'm1.tiny', name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1, ephemeral: 0, swap: 0, extraSpecs: {} };
  return {
    schemaVersion: 1,
    site: 'site-a',
    projectId: 'p-1',
    discoveredAt: '2026-11-27T00:00:00.000Z',
    selectors: { tags: ['dr'] },
    members: [
      {
        server: { id: 'srv-1', name: 'web-1', status: 'ACTIVE', powerState: 'running', flavor, bootFromVolume: false, availabilityZone: 'nova', metadata: {}, tags: ['dr'], serverGroups: [], locked: false, configDrive: false, diskConfig: 'MANUAL', userId: 'u', projectId: 'p-1', createdAt: '2026-11-27T00:00:00Z' },
        ports: [],
        volumes: [{ id: 'vol-1', name: 'data', size: 1, bootable: false, device: '/dev/vdb', attachmentOrder: 0, availabilityZone: 'nova', metadata: {}, multiattach: false, encrypted: false, status: 'in-use' }],
        selectedBy: ['tag'],
      },
    ],
    networks: {},
    subnets: {},
    securityGroups: {},
    flavors: { 'm1.tiny': flavor },
    images: {},
    volumeTypes: {},
    keypairs: {},
    serverGroups: {},
    warnings: [],
  };
}

const SPEC = { name: 'shop', project: 'p-1', primary: 'site-a', secondary: 'site-b', tier: 'pilot-light', rpo: { text: '1h', ms: 3_600_000 } };
const PLAN = planDocument({ name: 'shop', project: 'p-1', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 3_600_000, spec: SPEC }, '2026-11-27T00:00:00Z');

function point(hour: number, data = true): RecoveryPointManifest {
  const t = `2026-11-27T0${hour}:00:00.000Z`;
  return buildRecoveryPoint({
    id: `00000000-0000-4000-8000-00000000000${hour}`,
    plan: { name: 'shop', specHash: PLAN.specHash, epoch: 2 },
    inventory: inventory(),
    volumes: data ? [{ sourceVolumeId: 'vol-1', mover: 'cinder-backup', primaryBackupId: `b${hour}`, secondaryBackupId: `b${hour}`, incremental: hour > 1, sizeGb: 1, dataTimestamp: t, backupService: 'cinder.backup.drivers.swift.SwiftBackupDriver' }] : [],
    images: [],
    targetSite: 'site-b',
    createdAt: t,
    completedAt: `2026-11-27T0${hour}:05:00.000Z`,
  });
}

/**
 * The bank as a primary's daemon left it: plan, epoch 2 (failed over to site-b), points 1 and
 * 2 complete, 3 partial (no data for vol-1), 4 an interrupted upload (no COMPLETE), 5 a
 * marker without manifest.
 */
async function seed(site: Site, swift: FakeSwift): Promise<RecoveryPointManifest[]> {
  const sc = site.objectStore;
  await ensureBank(sc);
  await putPlanDocument(sc, PLAN);
  await putEpoch(sc, 'shop', { epoch: 2, activeSite: 'site-b', updatedAt: '2026-11-27T06:00:00.000Z' });
  const points = [point(1), point(2), point(3, false), point(4), point(5)];
  for (const p of points.slice(0, 4)) await putRecoveryPoint(sc, p);
  swift.objects.delete(bankPaths.complete('shop', points[3]!.createdAt, points[3]!.id));
  swift.objects.set(bankPaths.complete('shop', points[4]!.createdAt, points[4]!.id), '{}\n');
  swift.requests.length = 0;
  return points;
}

describe('replication/rebuild', () => {
  useNock();
  let catalog: Catalog;
  let repo: CatalogRepo;

  beforeEach(async () => {
    catalog = await openCatalog('sqlite::memory:');
    repo = new CatalogRepo(catalog);
  });
  afterEach(async () => {
    await catalog.close();
  });

  it('rebuilds plans, epochs and points from the bank alone, partial points as partial', async () => {
    const { site } = testSite();
    mockAuth();
    const swift = new FakeSwift();
    const points = await seed(site, swift);
    const logger = new MemoryLogger();
    const counts = await rebuildCatalog(site, repo, { pageSize: 3, logger });
    expect(counts.plans).to.deep.equal({ seen: 1, created: 1, updated: 0, unchanged: 0, deleted: 0, epochRaised: 1, failed: 0 });
    expect(counts.points).to.deep.equal({ seen: 5, complete: 2, partial: 2, finished: 0, skipped: 0, failed: 1 });
    expect(counts.problems.map((p) => [p.pointId, p.message])).to.deep.equal([
      [points[4]!.id, 'COMPLETE marker without a manifest; not recorded'],
      [points[3]!.id, 'no COMPLETE marker (an interrupted upload): recorded as partial'],
    ]);
    const plan = (await repo.plans.get('shop'))!;
    expect(plan).to.include({ project: 'p-1', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 3_600_000, specHash: PLAN.specHash, epoch: 2, activeSite: 'site-b' });
    expect(plan.spec).to.deep.equal(SPEC);
    const rows = await repo.points.list('shop');
    expect(rows.map((r) => [r.id.slice(-1), r.status, r.manifestVersion])).to.deep.equal([
      ['4', 'partial', 1],
      ['3', 'partial', 1],
      ['2', 'complete', 1],
      ['1', 'complete', 1],
    ]);
    const latest = (await repo.points.latestComplete('shop'))!;
    expect(latest.id).to.equal(points[1]!.id);
    expect(latest.manifest).to.deep.equal(points[1]);
    expect(latest).to.include({ consistency: 'crash', sourceSite: 'site-a', targetSite: 'site-b', sizeBytes: 1024 ** 3 });
    expect(latest.createdAt.toISOString()).to.equal('2026-11-27T02:00:00.000Z');
    // One GET per manifest read, none for COMPLETE markers; listings are paged.
    expect(swift.gets('manifest.json')).to.equal(4);
    expect(swift.gets('COMPLETE')).to.equal(0);
    expect(swift.requests.filter((r) => r.startsWith('LIST plans/shop/points/')).length).to.equal(4);
    expect(logger.lines.some((l) => l.level === 'warn' && l.msg.includes('COMPLETE marker without a manifest'))).to.equal(true);
  });

  it('is idempotent: a second run changes nothing and reads no manifest', async () => {
    const { site } = testSite();
    mockAuth();
    const swift = new FakeSwift();
    await seed(site, swift);
    await rebuildCatalog(site, repo);
    const before = JSON.stringify(await repo.points.list('shop'));
    const planBefore = await repo.plans.get('shop');
    swift.requests.length = 0;
    const again = await rebuildCatalog(site, repo);
    expect(again.plans).to.deep.equal({ seen: 1, created: 0, updated: 0, unchanged: 1, deleted: 0, epochRaised: 0, failed: 0 });
    expect(again.points).to.deep.equal({ seen: 5, complete: 0, partial: 0, finished: 0, skipped: 4, failed: 1 });
    expect(JSON.stringify(await repo.points.list('shop'))).to.equal(before);
    expect(await repo.plans.get('shop')).to.deep.equal(planBefore);
    expect(swift.gets('manifest.json')).to.equal(0);
  });

  it('records a point the catalog has only as in-progress, and skips manifests that fail verification', async () => {
    const { site } = testSite();
    mockAuth();
    const swift = new FakeSwift();
    const points = await seed(site, swift);
    await repo.plans.upsert({ name: 'shop', project: 'p-1', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 3_600_000, spec: SPEC });
    await repo.points.insert({ planName: 'shop', id: points[0]!.id, consistency: 'crash', createdAt: new Date(points[0]!.createdAt) });
    // Point 2's manifest edited in the bank: Swift's MD5 matches, its own checksum does not.
    const name = bankPaths.manifest('shop', points[1]!.createdAt, points[1]!.id);
    swift.objects.set(name, swift.objects.get(name)!.replace('"b2"', '"b9"'));
    const counts = await rebuildCatalog(site, repo);
    expect(counts.plans).to.include({ created: 0, unchanged: 1, epochRaised: 1 });
    expect(counts.points).to.deep.equal({ seen: 5, complete: 0, partial: 2, finished: 1, skipped: 0, failed: 2 });
    expect(counts.problems.find((p) => p.pointId === points[1]!.id)!.message).to.match(/^not recorded: object ferry-bank\/.*: invalid recovery point manifest: \$\.checksums\.manifest: the manifest's content hashes to/);
    expect((await repo.points.get(points[0]!.id))!.status).to.equal('complete');
    expect(await repo.points.get(points[1]!.id)).to.equal(undefined);
  });

  it('rebuilds only the plans asked for, and reports a plan without plan.json', async () => {
    const { site } = testSite();
    mockAuth();
    const swift = new FakeSwift();
    await seed(site, swift);
    swift.objects.set('plans/orphan/points/2026-11-27T01:00:00.000Z_x/COMPLETE', '{}\n');
    const counts = await rebuildCatalog(site, repo, { plans: ['orphan', 'missing'] });
    expect(counts.plans).to.include({ seen: 1, failed: 1, created: 0 });
    expect(counts.problems.map((p) => `${p.plan}: ${p.message}`)).to.deep.equal(['missing: not in the bank', 'orphan: plan not recorded: the bank has points but no plan.json']);
    expect(await repo.plans.list()).to.deep.equal([]);
  });

  it('a plan marked deleted in the bank comes back deleted, with its epoch and points (for a later purge), not live', async () => {
    const { site } = testSite();
    mockAuth();
    const swift = new FakeSwift();
    const points = await seed(site, swift);
    await markPlanDeleted(site.objectStore, 'shop', '2026-11-27T07:00:00.000Z');
    const logger = new MemoryLogger();
    const counts = await rebuildCatalog(site, repo, { logger });
    expect(counts.plans).to.deep.equal({ seen: 1, created: 0, updated: 0, unchanged: 0, deleted: 1, epochRaised: 1, failed: 0 });
    expect(counts.points).to.deep.equal({ seen: 5, complete: 2, partial: 2, finished: 0, skipped: 0, failed: 1 });
    expect(await repo.plans.get('shop')).to.equal(undefined);
    const row = (await repo.plans.get('shop', { includeDeleted: true }))!;
    expect(row.deletedAt).to.be.instanceOf(Date);
    expect(row).to.include({ epoch: 2, activeSite: 'site-b', specHash: PLAN.specHash });
    expect((await repo.points.list('shop')).map((p) => p.id)).to.deep.equal([points[3]!.id, points[2]!.id, points[1]!.id, points[0]!.id]);
    expect(logger.lines.some((l) => l.level === 'info' && l.msg.includes("plan 'shop' was deleted at 2026-11-27T07:00:00.000Z: recorded deleted with its points"))).to.equal(true);
    // What `plan delete --purge` then does in the catalog (after the sites) works on it.
    expect(await repo.plans.purge('shop')).to.deep.equal({ points: 4, runs: 0, journal: 0 });
  });

  it('a plan deleted in the catalog is left as it is, not failed, whatever the bank says, and no manifest is read', async () => {
    const { site } = testSite();
    mockAuth();
    const swift = new FakeSwift();
    const points = await seed(site, swift);
    // Deleted in the catalog while the bank's plan.json stayed live (an offline delete, or an older Ferry).
    await repo.plans.upsert({ name: 'shop', project: 'p-1', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 3_600_000, spec: SPEC });
    await repo.points.insert({ planName: 'shop', id: points[0]!.id, consistency: 'crash', createdAt: new Date(points[0]!.createdAt) });
    await repo.plans.softDelete('shop');
    const before = await repo.plans.get('shop', { includeDeleted: true });
    const counts = await rebuildCatalog(site, repo);
    expect(counts.plans).to.deep.equal({ seen: 1, created: 0, updated: 0, unchanged: 0, deleted: 1, epochRaised: 0, failed: 0 });
    expect(counts.points).to.deep.equal({ seen: 0, complete: 0, partial: 0, finished: 0, skipped: 0, failed: 0 });
    expect(counts.problems).to.deep.equal([]);
    expect(await repo.plans.get('shop', { includeDeleted: true })).to.deep.equal(before);
    expect((await repo.points.list('shop')).map((p) => [p.id, p.status])).to.deep.equal([[points[0]!.id, 'in-progress']]);
    expect(swift.requests.filter((r) => r.startsWith('GET ')).length).to.equal(1); // bank.json only
    // The same after the bank was marked too: a second rebuild of a rebuilt deleted plan changes nothing.
    await markPlanDeleted(site.objectStore, 'shop', '2026-11-27T07:00:00.000Z');
    expect((await rebuildCatalog(site, repo)).plans).to.include({ deleted: 1, failed: 0, created: 0 });
  });

  it('a live row whose plan.json says deleted (an interrupted plan delete, or rebuild) is finished: points recorded, then deleted', async () => {
    const { site } = testSite();
    mockAuth();
    const swift = new FakeSwift();
    const points = await seed(site, swift);
    await markPlanDeleted(site.objectStore, 'shop', '2026-11-27T07:00:00.000Z');
    await repo.plans.upsert({ name: 'shop', project: 'p-1', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 3_600_000, spec: SPEC });
    await repo.points.insert({ planName: 'shop', id: points[0]!.id, consistency: 'crash', createdAt: new Date(points[0]!.createdAt) });
    await repo.points.complete(points[0]!.id, points[0]!, points[0]!.sizes.totalBytes);
    const counts = await rebuildCatalog(site, repo);
    expect(counts.plans).to.deep.equal({ seen: 1, created: 0, updated: 0, unchanged: 0, deleted: 1, epochRaised: 1, failed: 0 });
    expect(counts.points).to.include({ seen: 5, skipped: 1, complete: 1, partial: 2, failed: 1 });
    expect((await repo.plans.get('shop', { includeDeleted: true }))!.deletedAt).to.not.equal(null);
    expect(await repo.points.list('shop')).to.have.length(4);
  });

  it('refuses a container that is not a bank', async () => {
    const { site } = testSite();
    mockAuth();
    new FakeSwift('empty');
    const err = await rebuildCatalog(site, repo, { container: 'empty' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(BankNotFoundError);
  });
});
