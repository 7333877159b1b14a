import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogRepo } from '../../../lib/catalog/repo.js';
import { PlanError } from '../../../lib/config/protection-plan.js';
import { ConfigError, HttpError } from '../../../lib/errors.js';
import type { Inventory } from '../../../lib/inventory/model.js';
import type { Site } from '../../../lib/openstack/site.js';
import {
  applyPlan,
  deletePlan,
  diffSpecs,
  formatChange,
  listPlans,
  PlanBankError,
  PlanConflictError,
  PlanNotReadyError,
  readPlanSource,
  showPlan,
  specOf,
} from '../../../lib/plan/store.js';
import { bankPaths, ensureBank, markPlanDeleted, planDocument, putEpoch, putPlanDocument, putRecoveryPoint } from '../../../lib/replication/bank.js';
import { rebuildCatalog } from '../../../lib/replication/rebuild.js';
import { buildRecoveryPoint, type RecoveryPointManifest } from '../../../lib/replication/recovery-point.js';
import { FERRY_MARKS, type VolumeDataRef } from '../../../lib/replication/types.js';
import { SCALE_TAG, scaleWorkload, serveWorkload } from '../../bench/discovery.js';
import { world, type FakeCinder } from '../../support/fake-cinder.js';
import { PROJECT_ID, SWIFT, useNock } from '../../support/fake-cloud.js';
import { FakeSwift } from '../../support/fake-swift.js';
import { secondaryModel, serveSecondary, servePrimaryExtras, serveSharedProbes, siteA, siteB } from './fake-sites.js';

function planFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-plan-store-'));
  const file = join(dir, 'plan.yaml');
  writeFileSync(file, text);
  return file;
}

const PLAN = `name: shop
description: old text
project: admin
primary: site-a
secondary: site-b
tier: pilot-light
rpo: 15m
retention: {count: 96}
members:
  - tag: "${SCALE_TAG}"
hooks:
  post_snapshot:
    - http:
        url: https://hooks.example.com/ferry?token=first-secret
        headers: {Authorization: Bearer first-secret}
`;

let catalog: Catalog;
let repo: CatalogRepo;

async function nothingStored(): Promise<void> {
  expect(await repo.plans.list({ includeDeleted: true })).to.deep.equal([]);
}

describe('plan/store: apply', () => {
  beforeEach(async () => {
    catalog = await openCatalog('sqlite::memory:');
    repo = new CatalogRepo(catalog);
  });
  afterEach(async () => {
    await catalog.close();
  });

  it('creates, then finds the same file unchanged, then shows what changed by field path', async () => {
    const file = planFile(PLAN);
    const created = await applyPlan(repo, file, { offline: true });
    expect(created).to.include({ name: 'shop', action: 'created', dryRun: false, bank: 'skipped' });
    expect(created.changes).to.deep.equal([]);
    const row = (await repo.plans.get('shop'))!;
    expect(row).to.include({ project: 'admin', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 900_000, epoch: 0, activeSite: 'site-a' });
    expect(row.spec).to.deep.equal(specOf(readPlanSource(file).plan));

    const again = await applyPlan(repo, file, { offline: true });
    expect(again.action).to.equal('unchanged');
    expect((await repo.plans.get('shop'))!.updatedAt).to.deep.equal(row.updatedAt);

    writeFileSync(
      file,
      PLAN.replace('rpo: 15m', 'rpo: 5m')
        .replace('retention: {count: 96}', 'retention: {count: 48}')
        .replace('description: old text\n', '')
        .replace(`  - tag: "${SCALE_TAG}"\n`, `  - tag: "${SCALE_TAG}"\n  - server: web-9\n`)
        .replace('first-secret\n        headers: {Authorization: Bearer first-secret}', 'second-secret\n        headers: {Authorization: Bearer second-secret}'),
    );
    const changed = await applyPlan(repo, file, { offline: true });
    expect(changed.action).to.equal('changed');
    expect(changed.changes.map(formatChange)).to.deep.equal([
      '~ rpo: 15m → 5m',
      '~ retention.count: 96 → 48',
      '+ members[1]: {"server":"web-9"}',
      '~ hooks.post_snapshot[0].http.url: https://hooks.example.com/ferry?token=*** → https://hooks.example.com/ferry?token=***',
      '~ hooks.post_snapshot[0].http.headers.Authorization: *** → ***',
      '- description: "old text"',
    ]);
    expect(JSON.stringify(changed.changes.map(formatChange))).to.not.include('secret');
    expect((await repo.plans.get('shop'))!.rpoMs).to.equal(300_000);
  });

  it('diffSpecs: lists element by element, durations as one value, nested objects by path', () => {
    const a = { rpo: { text: '15m', ms: 900_000 }, members: [{ tag: 'a' }, { tag: 'b' }], mappings: { networks: [{ from: 'x', to: 'y' }] } };
    const b = { rpo: { text: '15m', ms: 900_000 }, members: [{ tag: 'a' }], mappings: { networks: [{ from: 'x', recreate: true }] } };
    expect(diffSpecs(a, b).map(formatChange)).to.deep.equal(['- members[1]: {"tag":"b"}', '+ mappings.networks[0].recreate: true', '- mappings.networks[0].to: y']);
    expect(diffSpecs(a, a)).to.deep.equal([]);
  });

  it('stores nothing for an invalid file: unknown field, broken YAML, a bad value', async () => {
    const unknown = planFile(PLAN.replace('rpo: 15m', 'rpo_target: 15m'));
    try {
      await applyPlan(repo, unknown, { offline: true });
      expect.fail('applied');
    } catch (err) {
      expect(err).to.be.instanceOf(PlanError);
      const issue = (err as PlanError).issues[0]!;
      expect(issue).to.deep.equal({ location: `${unknown}:7:1`, key: 'rpo_target', message: "unknown field 'rpo_target' (did you mean 'rpo'?)", fix: "rename it to 'rpo'" });
    }
    await nothingStored();
    const broken = planFile('name: shop\nmembers: [{tag: a}\n');
    const e2 = await applyPlan(repo, broken, { offline: true }).catch((e: unknown) => e);
    expect(e2).to.be.instanceOf(ConfigError).and.not.instanceOf(PlanError);
    expect((e2 as ConfigError).message).to.match(new RegExp(`^${broken}:\\d+:\\d+: invalid YAML`));
    await nothingStored();
    const bad = planFile(PLAN.replace('tier: pilot-light', 'tier: cold'));
    expect(await applyPlan(repo, bad, { offline: true }).catch((e: unknown) => e)).to.be.instanceOf(PlanError);
    await nothingStored();
  });

  it('a dry run validates and diffs, and stores nothing', async () => {
    const r = await applyPlan(repo, planFile(PLAN), { offline: true, dryRun: true });
    expect(r).to.include({ action: 'created', dryRun: true, bank: 'skipped' });
    expect(r.plan).to.equal(undefined);
    await nothingStored();
  });

  it('refuses to move a plan with recovery points to other sites, and to revive a deleted one', async () => {
    const file = planFile(PLAN);
    await applyPlan(repo, file, { offline: true });
    // Without points, the sites may change.
    writeFileSync(file, PLAN.replace('secondary: site-b', 'secondary: site-c'));
    expect((await applyPlan(repo, file, { offline: true })).action).to.equal('changed');
    await repo.points.insert({ planName: 'shop', consistency: 'crash' });
    writeFileSync(file, PLAN);
    const err = (await applyPlan(repo, file, { offline: true }).catch((e: unknown) => e)) as PlanConflictError;
    expect(err).to.be.instanceOf(PlanConflictError);
    expect(err.field).to.equal('secondary');
    expect(err.message).to.equal(
      "plan 'shop' has 1 recovery point from site-a to site-c; the file names site-a to site-b, which would strand them (fix: keep the sites, or delete the plan with its points first (ferry plan delete shop --purge --yes), or apply it under another name)",
    );
    expect((await repo.plans.get('shop'))!.secondarySite).to.equal('site-c');

    await deletePlan(repo, 'shop', { offline: true });
    const again = (await applyPlan(repo, planFile(PLAN.replace('secondary: site-b', 'secondary: site-c')), { offline: true }).catch((e: unknown) => e)) as PlanConflictError;
    expect(again).to.be.instanceOf(PlanConflictError);
    expect(again.field).to.equal('name');
    expect(again.detail).to.match(/^plan 'shop' was deleted at .* \(1 recovery point is kept\)$/);
    expect(again.fix).to.equal('purge it first (ferry plan delete shop --purge --yes), or apply it under another name');
  });
});

describe('plan/store: apply online', () => {
  useNock();
  let swift: FakeSwift;
  let sites: (cloud: string) => Site;

  beforeEach(async () => {
    catalog = await openCatalog('sqlite::memory:');
    repo = new CatalogRepo(catalog);
    serveWorkload(scaleWorkload(3));
    servePrimaryExtras();
    serveSharedProbes();
    swift = new FakeSwift();
    serveSecondary(secondaryModel());
    const A = siteA();
    const B = siteB();
    sites = (cloud) => (cloud === 'site-a' ? A : cloud === 'site-b' ? B : (undefined as unknown as Site));
  });
  afterEach(async () => {
    await catalog.close();
  });

  it('checks readiness, writes the bank at the secondary (plan.json, epoch 0), then the catalog; an unchanged re-apply writes nothing', async () => {
    const file = planFile(PLAN);
    const r = await applyPlan(repo, file, { sites });
    expect(r).to.include({ action: 'created', bank: 'written' });
    expect(r.readiness!.ok).to.equal(true);
    expect(r.readiness!.members).to.equal(3);
    expect([...swift.objects.keys()].sort()).to.deep.equal(['bank.json', 'plans/shop/epoch.json', 'plans/shop/plan.json']);
    const doc = JSON.parse(swift.objects.get('plans/shop/plan.json')!) as { specHash: string; primarySite: string; secondarySite: string; rpoMs: number };
    const row = (await repo.plans.get('shop'))!;
    expect(doc).to.include({ specHash: row.specHash, primarySite: 'site-a', secondarySite: 'site-b', rpoMs: 900_000 });
    expect(JSON.parse(swift.objects.get('plans/shop/epoch.json')!)).to.include({ epoch: 0, activeSite: 'site-a' });
    // The bank was written before the catalog: its PUTs come first in Swift's log.
    expect(swift.requests.filter((x) => x.startsWith('PUT '))).to.deep.equal(['PUT bank.json', 'PUT plans/shop/plan.json', 'PUT plans/shop/epoch.json']);

    swift.requests.length = 0;
    const again = await applyPlan(repo, file, { sites });
    expect(again).to.include({ action: 'unchanged', bank: 'unchanged' });
    expect(swift.requests.filter((x) => x.startsWith('PUT '))).to.deep.equal([]);

    writeFileSync(file, PLAN.replace('rpo: 15m', 'rpo: 5m'));
    const changed = await applyPlan(repo, file, { sites });
    expect(changed).to.include({ action: 'changed', bank: 'written' });
    expect(changed.changes.map(formatChange)).to.deep.equal(['~ rpo: 15m → 5m']);
    expect(swift.requests.filter((x) => x.startsWith('PUT '))).to.deep.equal(['PUT plans/shop/plan.json']);
    expect(JSON.parse(swift.objects.get('plans/shop/plan.json')!)).to.include({ rpoMs: 300_000, specHash: (await repo.plans.get('shop'))!.specHash });
  });

  it('a plan that is not ready stores nothing, in the catalog or the bank', async () => {
    const file = planFile(PLAN.replace(`  - tag: "${SCALE_TAG}"\n`, `  - tag: "${SCALE_TAG}"\n  - server: ghost\n`));
    const err = (await applyPlan(repo, file, { sites }).catch((e: unknown) => e)) as PlanNotReadyError;
    expect(err).to.be.instanceOf(PlanNotReadyError);
    expect(err.message).to.equal("plan 'shop' is not ready: 1 check failed, first: members server: ghost: no server is named 'ghost' in project admin at site-a");
    const failed = err.report.checks.find((c) => c.status === 'fail')!;
    expect(failed).to.include({ field: 'members[1].server', location: `${file}:11:13` });
    await nothingStored();
    expect(swift.requests.filter((x) => !x.startsWith('GET '))).to.deep.equal([]);
  });

  it('fails before storing anything when the bank cannot be written', async () => {
    nock.cleanAll();
    serveWorkload(scaleWorkload(3));
    servePrimaryExtras();
    serveSharedProbes();
    serveSecondary(secondaryModel());
    // A Swift that reads (no bank yet) but refuses writes: out of space.
    nock(SWIFT)
      .persist()
      .get(/.*/)
      .reply(404, '<html><h1>Not Found</h1></html>')
      .put(/.*/)
      .reply(507, '<html><h1>Insufficient Storage</h1></html>');
    const err = await applyPlan(repo, planFile(PLAN), { sites }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(HttpError);
    expect((err as HttpError).status).to.equal(507);
    await nothingStored();
  });

  it('refuses a new plan whose name the bank holds deleted (rebuild, purge, then apply)', async () => {
    const B = siteB();
    await ensureBank(B.objectStore);
    await putPlanDocument(B.objectStore, planDocument({ name: 'shop', project: 'admin', primarySite: 'site-a', secondarySite: 'site-b', tier: 'backup', rpoMs: 900_000, spec: { name: 'shop' } }));
    await putEpoch(B.objectStore, 'shop', { epoch: 0, activeSite: 'site-a' });
    await markPlanDeleted(B.objectStore, 'shop', '2026-11-27T05:00:00Z');
    swift.requests.length = 0;
    const err = (await applyPlan(repo, planFile(PLAN), { sites }).catch((e: unknown) => e)) as PlanConflictError;
    expect(err).to.be.instanceOf(PlanConflictError);
    expect(err.detail).to.equal("the bank at site-b holds plan 'shop', deleted at 2026-11-27T05:00:00.000Z with its recovery points, which this catalog does not know");
    expect(err.fix).to.equal('rebuild the catalog from the bank (ferry catalog rebuild --from site-b --plan shop), purge the plan (ferry plan delete shop --purge --yes), then apply; or apply it under another name');
    await nothingStored();
    expect(swift.requests.filter((x) => !x.startsWith('GET ') && !x.startsWith('LIST '))).to.deep.equal([]);
  });

  it('re-applying a live plan whose plan.json says deleted (a delete interrupted after the bank) writes it live again', async () => {
    const file = planFile(PLAN);
    await applyPlan(repo, file, { sites });
    await markPlanDeleted(siteB().objectStore, 'shop', '2026-11-27T05:00:00Z');
    swift.requests.length = 0;
    const r = await applyPlan(repo, file, { sites });
    expect(r).to.include({ action: 'unchanged', bank: 'written' });
    expect(swift.requests.filter((x) => x.startsWith('PUT '))).to.deep.equal(['PUT plans/shop/plan.json']);
    expect(JSON.parse(swift.objects.get('plans/shop/plan.json')!)).to.not.have.property('deletedAt');
    expect((await repo.plans.get('shop'))!.deletedAt).to.equal(null);
  });

  it('refuses a new plan whose name the bank holds at a later epoch (rebuild the catalog first)', async () => {
    await ensureBank(siteB().objectStore);
    await putEpoch(siteB().objectStore, 'shop', { epoch: 2, activeSite: 'site-b' });
    swift.requests.length = 0;
    const err = (await applyPlan(repo, planFile(PLAN), { sites }).catch((e: unknown) => e)) as PlanConflictError;
    expect(err).to.be.instanceOf(PlanConflictError);
    expect(err.detail).to.equal("the bank at site-b already holds plan 'shop' at epoch 2 (active at site-b), which this catalog does not know");
    expect(err.fix).to.equal('rebuild the catalog from the bank first (ferry catalog rebuild --from site-b --plan shop), then apply');
    await nothingStored();
    expect(swift.objects.has('plans/shop/plan.json')).to.equal(false);
  });
});

// ---- list, show, delete, purge ------------------------------------------------------------------

function tinyInventory(): Inventory {
  const flavor = { key: 'm1.tiny', name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1, ephemeral: 0, swap: 0, extraSpecs: {} };
  return {
    schemaVersion: 1,
    site: 'site-a',
    projectId: PROJECT_ID,
    discoveredAt: '2026-11-27T00:00:00.000Z',
    selectors: { tags: ['dr'] },
    members: [
      {
        server: { id: 'srv-1', name: 'web-1', status: 'ACTIVE', powerState: 'running', flavor, bootFromVolume: false, availabilityZone: 'nova', metadata: {}, tags: ['dr'], serverGroups: [], locked: false, configDrive: false, diskConfig: 'MANUAL', userId: 'u', projectId: PROJECT_ID, createdAt: '2026-11-27T00:00:00Z' },
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

const SPEC = { name: 'shop', project: 'admin', primary: 'site-a', secondary: 'site-b', tier: 'pilot-light', rpo: { text: '1h', ms: 3_600_000 }, retention: { count: 3 }, members: [{ tag: 'dr' }] };
const pointId = (n: number) => `00000000-0000-4000-8000-00000000000${n}`;

function ref(n: number, parent?: number): VolumeDataRef {
  return {
    sourceVolumeId: 'vol-1',
    mover: 'cinder-backup',
    primaryBackupId: `b${n}`,
    secondaryBackupId: `b${n}`,
    ...(parent ? { parentBackupId: `b${parent}` } : {}),
    incremental: parent !== undefined,
    sizeGb: 1,
    dataTimestamp: `2026-11-27T0${n}:00:00.000Z`,
    backupService: 'cinder.backup.drivers.posix.PosixBackupDriver',
  };
}

function manifest(n: number, parent?: number): RecoveryPointManifest {
  return buildRecoveryPoint({
    id: pointId(n),
    plan: { name: 'shop', specHash: planDocument({ name: 'shop', project: 'admin', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 3_600_000, spec: SPEC }).specHash, epoch: 0 },
    inventory: tinyInventory(),
    volumes: [ref(n, parent)],
    images: [],
    targetSite: 'site-b',
    createdAt: `2026-11-27T0${n}:00:00.000Z`,
    completedAt: `2026-11-27T0${n}:05:00.000Z`,
  });
}

function marks(point: string, parent?: number): Record<string, string> {
  return { [FERRY_MARKS.plan]: 'shop', [FERRY_MARKS.point]: point, [FERRY_MARKS.source]: 'vol-1', ...(parent ? { 'ferry:parent': `b${parent}` } : {}) };
}

/** A chain b1 ← b2 ← b3 at both sites (three complete points), and what a crashed fourth cycle left at the primary: b4 (child of b3) and a snapshot. */
async function seedProtectedPlan(fa: FakeCinder, fb: FakeCinder, B: Site): Promise<RecoveryPointManifest[]> {
  await repo.plans.upsert({ name: 'shop', project: 'admin', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 3_600_000, spec: SPEC });
  const points = [manifest(1), manifest(2, 1), manifest(3, 2)];
  await ensureBank(B.objectStore);
  await putPlanDocument(B.objectStore, planDocument({ name: 'shop', project: 'admin', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 3_600_000, spec: SPEC }));
  await putEpoch(B.objectStore, 'shop', { epoch: 0, activeSite: 'site-a' });
  for (const [i, m] of points.entries()) {
    await repo.points.insert({ planName: 'shop', id: m.id, consistency: 'crash', createdAt: new Date(m.createdAt) });
    await repo.points.complete(m.id, m, m.sizes.totalBytes);
    await putRecoveryPoint(B.objectStore, m);
    const parent = i === 0 ? undefined : i;
    for (const f of [fa, fb]) f.addBackup(`b${i + 1}`, 'vol-1', { metadata: marks(m.id, parent), is_incremental: parent !== undefined }, parent ? `b${parent}` : undefined);
  }
  // The crashed cycle: an in-progress row, a backup chained onto b3 and a snapshot, at the primary only.
  await repo.points.insert({ planName: 'shop', id: pointId(4), consistency: 'crash', createdAt: new Date('2026-11-27T04:00:00.000Z') });
  fa.addBackup('b4', 'vol-1', { metadata: marks(pointId(4), 3), is_incremental: true }, 'b3');
  fa.snapshots.set('s-left', {
    body: { id: 's-left', created_at: '2026-11-27T04:00:00.000000', updated_at: null, name: 'ferry-shop', description: null, volume_id: 'vol-1', status: 'available', size: 1, metadata: marks(pointId(4)) },
  });
  return points;
}

const fast = { pollIntervalMs: 1, maxPollIntervalMs: 2, timeouts: { dependentsMs: 5_000, deleteMs: 5_000, snapshotMs: 5_000 } };
const deletes = (f: FakeCinder) => f.log.filter((l) => l.startsWith('DELETE '));

describe('plan/store: list, show, delete and purge', () => {
  useNock();
  beforeEach(async () => {
    catalog = await openCatalog('sqlite::memory:');
    repo = new CatalogRepo(catalog, { now: () => new Date('2026-11-27T03:30:00.000Z') });
  });
  afterEach(async () => {
    await catalog.close();
  });

  it('list and show: points counted, the newest complete one measured against the RPO', async () => {
    await repo.plans.upsert({ name: 'shop', project: 'admin', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 3_600_000, spec: SPEC });
    await repo.plans.upsert({ name: 'idle', project: 'admin', primarySite: 'site-a', secondarySite: 'site-b', tier: 'backup', rpoMs: 900_000, spec: { ...SPEC, name: 'idle' } });
    for (const [n, parent] of [[1], [2, 1], [3, 2]] as [number, number?][]) {
      const m = manifest(n, parent);
      await repo.points.insert({ planName: 'shop', id: m.id, consistency: 'crash', createdAt: new Date(m.createdAt) });
      if (n < 3) await repo.points.complete(m.id, m, m.sizes.totalBytes);
    }
    const now = () => new Date('2026-11-27T02:40:00.000Z');
    const rows = await listPlans(repo, { now });
    expect(rows.map((r) => [r.name, r.points, r.rpoStatus, r.rpo, r.activeSite, r.epoch])).to.deep.equal([
      ['idle', { complete: 0, total: 0 }, 'no points', '15m', 'site-a', 0],
      ['shop', { complete: 2, total: 3 }, 'met', '1h', 'site-a', 0],
    ]);
    const d = await showPlan(repo, 'shop', { now: () => new Date('2026-11-27T03:30:00.000Z') });
    expect(d.pointsByStatus).to.deep.equal({ 'in-progress': 1, complete: 2, partial: 0, deleting: 0 });
    expect(d.newest.map((p) => [p.id, p.status])).to.deep.equal([
      [pointId(3), 'in-progress'],
      [pointId(2), 'complete'],
      [pointId(1), 'complete'],
    ]);
    expect(d.latestComplete!.id).to.equal(pointId(2));
    expect(d.rpoAgeMs).to.equal(90 * 60_000);
    expect(d.rpoStatus).to.equal('missed');
    expect(await showPlan(repo, 'nope').catch((e: Error) => e.message)).to.equal("plan 'nope' not found in the catalog (see 'ferry plan list')");
  });

  it('delete keeps the recovery points, marking plan.json at the secondary deleted first; the plan is listed only with includeDeleted', async () => {
    const { A, B, fa, fb } = world();
    const swift = new FakeSwift();
    await seedProtectedPlan(fa, fb, B);
    const planJson = JSON.parse(swift.objects.get('plans/shop/plan.json')!) as Record<string, unknown>;
    swift.requests.length = 0;
    const at = new Date('2026-11-27T05:00:00.000Z');
    const r = await deletePlan(repo, 'shop', { sites: (c) => (c === 'site-a' ? A : B), now: () => at });
    expect(r).to.deep.equal({ name: 'shop', softDeleted: true, points: 4, bank: 'written' });
    expect(swift.requests).to.deep.equal(['GET plans/shop/plan.json', 'PUT plans/shop/plan.json']);
    expect(JSON.parse(swift.objects.get('plans/shop/plan.json')!)).to.deep.equal({ ...planJson, deletedAt: '2026-11-27T05:00:00.000Z' });
    expect(await listPlans(repo)).to.deep.equal([]);
    expect((await listPlans(repo, { includeDeleted: true })).map((p) => [p.name, p.deleted])).to.deep.equal([['shop', true]]);
    expect(await repo.points.list('shop')).to.have.length(4);
    expect(deletes(fa)).to.deep.equal([]);
    expect(swift.objects.size).to.equal(3 + 2 * 3); // bank.json, plan.json, epoch.json, 3 points × (manifest, COMPLETE)
    // Again: already deleted everywhere, nothing written.
    swift.requests.length = 0;
    const again = await deletePlan(repo, 'shop', { sites: (c) => (c === 'site-a' ? A : B), now: () => new Date('2026-11-28T00:00:00.000Z') });
    expect(again).to.include({ softDeleted: false, bank: 'unchanged' });
    expect(swift.requests).to.deep.equal(['GET plans/shop/plan.json']);
    expect(JSON.parse(swift.objects.get('plans/shop/plan.json')!)).to.include({ deletedAt: '2026-11-27T05:00:00.000Z' });
  });

  it('a deleted plan stays deleted through a catalog rebuilt from the bank, with its points, and can then be purged', async () => {
    const { A, B, fa, fb } = world();
    const swift = new FakeSwift();
    await seedProtectedPlan(fa, fb, B);
    const sites = (c: string) => (c === 'site-a' ? A : B);
    await deletePlan(repo, 'shop', { sites });
    // The primary's catalog is lost; a fresh one is rebuilt from the secondary's bank.
    const fresh = await openCatalog('sqlite::memory:');
    try {
      const rebuilt = new CatalogRepo(fresh);
      const counts = await rebuildCatalog(B, rebuilt);
      expect(counts.plans).to.include({ deleted: 1, created: 0, failed: 0 });
      expect(await rebuilt.plans.get('shop')).to.equal(undefined);
      expect((await listPlans(rebuilt, { includeDeleted: true })).map((p) => [p.name, p.deleted, p.points.total])).to.deep.equal([['shop', true, 3]]);
      // Re-applying it stays refused: purge first.
      const err = (await applyPlan(rebuilt, planFile(PLAN), { offline: true }).catch((e: unknown) => e)) as PlanConflictError;
      expect(err).to.be.instanceOf(PlanConflictError);
      expect(err.fix).to.equal('purge it first (ferry plan delete shop --purge --yes), or apply it under another name');
      const purged = await deletePlan(rebuilt, 'shop', { purge: true, sites, ...fast });
      expect(purged.purge!.catalog).to.deep.equal({ points: 3, runs: 0, journal: 0 });
      expect(fb.backups.size).to.equal(0);
      expect([...swift.objects.keys()]).to.deep.equal(['bank.json']);
    } finally {
      await fresh.close();
    }
  });

  it('fails before the catalog changes when the bank cannot record the deletion, and says how to go on', async () => {
    const { A, B } = world();
    await repo.plans.upsert({ name: 'shop', project: 'admin', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 3_600_000, spec: SPEC });
    const sites = (c: string) => (c === 'site-a' ? A : B);
    // A Swift that reads plan.json but refuses writes: out of space.
    const doc = `${JSON.stringify(planDocument({ name: 'shop', project: 'admin', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 3_600_000, spec: SPEC }), null, 2)}\n`;
    nock(SWIFT)
      .get(`/v1/AUTH_${PROJECT_ID}/ferry-bank/plans/shop/plan.json`)
      .reply(200, doc, { Etag: createHash('md5').update(doc).digest('hex') })
      .put(`/v1/AUTH_${PROJECT_ID}/ferry-bank/plans/shop/plan.json`)
      .reply(507, '<html><h1>Insufficient Storage</h1></html>');
    const err = (await deletePlan(repo, 'shop', { sites }).catch((e: unknown) => e)) as PlanBankError;
    expect(err).to.be.instanceOf(PlanBankError);
    expect(err.site).to.equal('site-b');
    expect(err.detail).to.match(/^plan 'shop': the deletion could not be recorded in the bank at site-b \(container ferry-bank\), so nothing was changed: .*returned 507/);
    expect(err.fix).to.equal(
      "retry when site-b's object store is reachable, or delete it in the catalog only with 'ferry plan delete shop --offline' (a catalog rebuilt from site-b's bank would then list the plan live again, until it is deleted once more with site-b reachable)",
    );
    expect((err.cause as HttpError).status).to.equal(507);
    expect((await repo.plans.get('shop'))!.deletedAt).to.equal(null);
    // Unreachable (nothing answers): the same, nothing changed.
    nock.cleanAll();
    const { A: A2, B: B2 } = world();
    const down = (await deletePlan(repo, 'shop', { sites: (c) => (c === 'site-a' ? A2 : B2) }).catch((e: unknown) => e)) as PlanBankError;
    expect(down).to.be.instanceOf(PlanBankError);
    expect((await repo.plans.get('shop'))!.deletedAt).to.equal(null);
  });

  it('offline deletes in the catalog only; a later online delete marks the bank; a bank without plan.json needs nothing', async () => {
    const { A, B, fa, fb } = world();
    const swift = new FakeSwift();
    await seedProtectedPlan(fa, fb, B);
    const sites = (c: string) => (c === 'site-a' ? A : B);
    swift.requests.length = 0;
    const off = await deletePlan(repo, 'shop', { offline: true });
    expect(off).to.deep.equal({ name: 'shop', softDeleted: true, points: 4, bank: 'skipped' });
    expect(swift.requests).to.deep.equal([]);
    expect(JSON.parse(swift.objects.get('plans/shop/plan.json')!)).to.not.have.property('deletedAt');
    const deletedAt = (await repo.plans.get('shop', { includeDeleted: true }))!.deletedAt!;
    const later = await deletePlan(repo, 'shop', { sites });
    expect(later).to.include({ softDeleted: false, bank: 'written' });
    // The catalog's deletion time, not the time of the second call.
    expect(JSON.parse(swift.objects.get('plans/shop/plan.json')!)).to.include({ deletedAt: deletedAt.toISOString() });
    expect(await deletePlan(repo, 'shop', { offline: true, purge: true }).catch((e: Error) => e.message)).to.equal('deletePlan: purge reaches both sites, it cannot be offline');
    expect(await deletePlan(repo, 'shop').catch((e: Error) => e.message)).to.equal('deletePlan: recording the deletion in the bank needs `sites` (or offline: true)');

    // A plan applied offline and never replicated: no plan.json at the secondary, nothing to mark.
    await repo.plans.upsert({ name: 'idle', project: 'admin', primarySite: 'site-a', secondarySite: 'site-b', tier: 'backup', rpoMs: 900_000, spec: { ...SPEC, name: 'idle' } });
    swift.requests.length = 0;
    expect(await deletePlan(repo, 'idle', { sites })).to.deep.equal({ name: 'idle', softDeleted: true, points: 0, bank: 'absent' });
    expect(swift.requests).to.deep.equal(['GET plans/idle/plan.json']);
    expect(swift.objects.has('plans/idle/plan.json')).to.equal(false);
  });

  it('a damaged plan.json is replaced by the catalog plan, marked deleted', async () => {
    const { A, B } = world();
    const swift = new FakeSwift();
    const row = (await repo.plans.upsert({ name: 'shop', project: 'admin', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 3_600_000, spec: SPEC })).plan;
    swift.objects.set('plans/shop/plan.json', '{"apiVersion": "ferry.bankplan/v1", "name": "shop"');
    const r = await deletePlan(repo, 'shop', { sites: (c) => (c === 'site-a' ? A : B), now: () => new Date('2026-11-27T05:00:00Z') });
    expect(r.bank).to.equal('written');
    expect(JSON.parse(swift.objects.get('plans/shop/plan.json')!)).to.deep.equal(planDocument({ ...row, deletedAt: '2026-11-27T05:00:00Z' }, row.updatedAt));
  });

  it('refuses to delete a plan with a run in progress', async () => {
    await repo.plans.upsert({ name: 'shop', project: 'admin', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 3_600_000, spec: SPEC });
    await repo.runs.create({ planName: 'shop', kind: 'replicate', owner: 'daemon-1', id: 'run-1' });
    const err = (await deletePlan(repo, 'shop', { offline: true }).catch((e: unknown) => e)) as PlanConflictError;
    expect(err).to.be.instanceOf(PlanConflictError);
    expect(err.message).to.equal("plan 'shop' has 1 run in progress (replicate run-1) (fix: wait for it to finish, then delete again)");
    expect((await repo.plans.get('shop'))!.deletedAt).to.equal(null);
  });

  it('purge asks again for a snapshot Cinder gives back (RBD SnapshotIsBusy), like the mover', async () => {
    const { A, B, fa, fb } = world();
    new FakeSwift();
    await seedProtectedPlan(fa, fb, B);
    fa.snapshotBusyDeletes = 1;
    await deletePlan(repo, 'shop', { purge: true, sites: (c) => (c === 'site-a' ? A : B), ...fast });
    expect(deletes(fa).filter((l) => l.startsWith('DELETE snapshots/'))).to.deep.equal(['DELETE snapshots/s-left', 'DELETE snapshots/s-left']);
    expect(fa.snapshots.size).to.equal(0);
  });

  it('purge deletes snapshots, then backups children first at both sites, the bank objects, then the catalog rows', async () => {
    const { A, B, fa, fb } = world();
    const swift = new FakeSwift();
    await seedProtectedPlan(fa, fb, B);
    const lines: string[] = [];
    const r = await deletePlan(repo, 'shop', { purge: true, sites: (c) => (c === 'site-a' ? A : B), onProgress: (l) => lines.push(l), ...fast });
    expect(deletes(fb)).to.deep.equal(['DELETE backups/b3', 'DELETE backups/b2', 'DELETE backups/b1']);
    expect(deletes(fa)).to.deep.equal(['DELETE snapshots/s-left', 'DELETE backups/b4', 'DELETE backups/b3', 'DELETE backups/b2', 'DELETE backups/b1']);
    expect(fa.backups.size + fb.backups.size + fa.snapshots.size).to.equal(0);
    expect([...swift.objects.keys()]).to.deep.equal(['bank.json']);
    expect(await repo.plans.get('shop', { includeDeleted: true })).to.equal(undefined);
    expect(await repo.points.list('shop')).to.deep.equal([]);
    expect(r.softDeleted).to.equal(true);
    expect(r.purge!.catalog).to.deep.equal({ points: 4, runs: 0, journal: 0 });
    expect(r.purge!.sites.map((s) => [s.site, s.backups, s.snapshots, s.bankPoints, s.bankDocs])).to.deep.equal([
      ['site-b', ['b3', 'b2', 'b1'], 0, 3, 2],
      ['site-a', ['b4', 'b3', 'b2', 'b1'], 1, 0, 0],
    ]);
    expect(lines).to.include('site-b: backup b3 deleted');
    expect(lines.at(-1)).to.equal('catalog: plan shop purged (4 recovery points, 0 runs, 0 journal entries)');
  });

  it('purge is resumable: a run killed half-way is finished by the next, nothing deleted twice', async () => {
    const { A, B, fa, fb } = world();
    const swift = new FakeSwift();
    await seedProtectedPlan(fa, fb, B);
    const sites = (c: string) => (c === 'site-a' ? A : B);
    const ac = new AbortController();
    const first = await deletePlan(repo, 'shop', {
      purge: true,
      sites,
      signal: ac.signal,
      ...fast,
      // Killed right after the secondary's newest backup is gone.
      onProgress: (l) => {
        if (l === 'site-b: backup b3 deleted') ac.abort(new Error('killed'));
      },
    }).catch((e: unknown) => e);
    expect(first).to.be.instanceOf(Error);
    expect(fb.backups.has('b3')).to.equal(false);
    expect(fb.backups.has('b1')).to.equal(true);
    const rows = await repo.points.list('shop');
    expect(rows.map((p) => p.status)).to.deep.equal(['deleting', 'deleting', 'deleting', 'deleting']);
    expect((await repo.plans.get('shop', { includeDeleted: true }))!.deletedAt).to.not.equal(null);

    const second = await deletePlan(repo, 'shop', { purge: true, sites, ...fast });
    expect(second.softDeleted).to.equal(false);
    expect(fa.backups.size + fb.backups.size + fa.snapshots.size).to.equal(0);
    for (const f of [fa, fb]) {
      const d = deletes(f);
      expect(new Set(d).size, `${f.tag}: ${d.join(', ')}`).to.equal(d.length);
    }
    expect(deletes(fb)).to.deep.equal(['DELETE backups/b3', 'DELETE backups/b2', 'DELETE backups/b1']);
    expect([...swift.objects.keys()]).to.deep.equal(['bank.json']);
    expect(await repo.plans.get('shop', { includeDeleted: true })).to.equal(undefined);
    // A third run finds no plan.
    expect(await deletePlan(repo, 'shop', { purge: true, sites }).catch((e: Error) => e.message)).to.equal("plan 'shop' not found in the catalog (see 'ferry plan list')");
    expect(bankPaths.planDoc('shop')).to.equal('plans/shop/plan.json');
  });
});
