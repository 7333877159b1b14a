// The shared recovery steps' parts that hold rules: choosing the point, which runs use it, the
// backups' readiness, quota room and shortfalls, RTO and RPO, the marks of restored volumes;
// and the reads a recovering site makes (what a dry-run calls) being reads only.
import { expect } from 'chai';
import nock from 'nock';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogRepo } from '../../../lib/catalog/repo.js';
import type { QuotaDemand } from '../../../lib/heat/generate.js';
import { generate } from '../../../lib/heat/generate.js';
import { specOf } from '../../../lib/plan/store.js';
import { buildRecoveryPoint } from '../../../lib/replication/recovery-point.js';
import {
  backupReadiness,
  choosePoint,
  countsText,
  measure,
  ownerTags,
  protectionPlanOf,
  quotaRoom,
  quotaShortfalls,
  resourceCounts,
  runsUsingPoint,
  siteTarget,
  volumeMarks,
  RecoveryPointError,
} from '../../../lib/workflows/recover.js';
import { CINDER, HEAT, NEUTRON, NOVA, PROJECT_ID, SWIFT, expectAllCalled, mockAuth, mockCinderVersion, mockNovaVersion, testSite, useNock } from '../../support/fake-cloud.js';
import { IDS, RUN_ID, SPEC_HASH, imageData, inventory, manifest, plan as shopPlan, resolved, volumeData } from '../heat/fixtures.js';

const demand = (over: Partial<QuotaDemand> = {}): QuotaDemand => ({
  instances: 2,
  cores: 5,
  ramMiB: 18432,
  volumes: 2,
  volumeGiB: 70,
  ports: 3,
  networks: 1,
  subnets: 1,
  securityGroups: 3,
  securityGroupRules: 10,
  floatingIps: 1,
  keypairs: 1,
  serverGroups: 1,
  ...over,
});

const P = { old: 'd0000000-0000-4000-8000-000000000001', complete: 'd0000000-0000-4000-8000-000000000002', partial: 'd0000000-0000-4000-8000-000000000003', running: 'd0000000-0000-4000-8000-000000000004' };

async function catalogWithPoints(): Promise<{ catalog: Catalog; repo: CatalogRepo }> {
  const catalog = await openCatalog('sqlite::memory:');
  const repo = new CatalogRepo(catalog);
  await repo.plans.upsert({ name: 'shop', project: 'shop', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 900_000, spec: specOf(shopPlan()) });
  const add = async (id: string, at: string, opts: { partial?: boolean; target?: string; status?: 'complete' | 'partial' | 'in-progress' } = {}) => {
    const m = buildRecoveryPoint({ plan: { name: 'shop', specHash: SPEC_HASH, epoch: 0 }, inventory: inventory(), volumes: opts.partial ? volumeData().slice(0, 1) : volumeData(), images: imageData(), targetSite: opts.target ?? 'site-b', createdAt: at, id });
    await repo.points.insert({ id, planName: 'shop', consistency: 'crash', sourceSite: 'site-a', targetSite: 'site-b', createdAt: new Date(at) });
    if (opts.status === 'in-progress') return;
    if (m.status === 'partial') await repo.points.markPartial(id, m, m.sizes.totalBytes);
    else await repo.points.complete(id, m, m.sizes.totalBytes);
  };
  await add(P.old, '2026-11-27T01:00:00.000Z');
  await add(P.complete, '2026-11-27T02:00:00.000Z');
  await add(P.partial, '2026-11-27T03:00:00.000Z', { partial: true });
  await add(P.running, '2026-11-27T04:00:00.000Z', { status: 'in-progress' });
  return { catalog, repo };
}

async function rejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('workflows/recover', () => {
  useNock();

  describe('choosePoint', () => {
    it('takes the newest complete point, never a partial or unfinished one unless told', async () => {
      const { catalog, repo } = await catalogWithPoints();
      try {
        expect((await choosePoint(repo, 'shop', { site: 'site-b' })).point.id).to.equal(P.complete);
        expect((await choosePoint(repo, 'shop', { site: 'site-b', force: true })).point.id, 'force: the newest finished one').to.equal(P.partial);
        expect((await choosePoint(repo, 'shop', { site: 'site-b', pointId: P.old })).manifest.id).to.equal(P.old);
        const partial = await rejects(choosePoint(repo, 'shop', { site: 'site-b', pointId: P.partial }));
        expect(partial).to.be.instanceOf(RecoveryPointError);
        expect(partial.message).to.equal(`recovery point ${P.partial} is partial (some member data is missing); use --force to recover what it holds (fix: choose another with --point; ferry points list shop)`);
        expect((await rejects(choosePoint(repo, 'shop', { site: 'site-b', pointId: P.running }))).message).to.include(`recovery point ${P.running} is still being written`);
        expect((await rejects(choosePoint(repo, 'shop', { site: 'site-b', pointId: 'nope' }))).message).to.equal("recovery point nope is not a point of plan 'shop' (fix: ferry points list shop)");
        expect((await rejects(choosePoint(repo, 'shop', { site: 'site-c' }))).message).to.equal(`recovery point ${P.complete} holds its data at site-b, not at site-c, where the recovery runs (fix: choose a point taken toward site-c)`);
      } finally {
        await catalog.close();
      }
    });

    it('says how to get a point when the plan has none', async () => {
      const catalog = await openCatalog('sqlite::memory:');
      try {
        const repo = new CatalogRepo(catalog);
        await repo.plans.upsert({ name: 'shop', project: 'shop', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 900_000, spec: specOf(shopPlan()) });
        expect((await rejects(choosePoint(repo, 'shop', { site: 'site-b' }))).message).to.equal("plan 'shop' has no complete recovery point (fix: ferry replicate shop, or name a point with --point)");
      } finally {
        await catalog.close();
      }
    });
  });

  it('finds the running DR test, failover and failback runs of the plan that use a point (params or journal state)', async () => {
    const { catalog, repo } = await catalogWithPoints();
    try {
      await repo.runs.create({ planName: 'shop', kind: 'drtest', owner: 'd1', id: 'dr-1', params: { pointId: P.complete } });
      await repo.runs.create({ planName: 'shop', kind: 'failover', owner: 'd1', id: 'fo-1', params: { phase: 'recover' } });
      await repo.journal.append('fo-1', { step: 'point', phase: 'act', data: { state: { pointId: P.complete } } });
      await repo.runs.create({ planName: 'shop', kind: 'drtest', owner: 'd1', id: 'dr-other', params: { pointId: P.old } });
      await repo.runs.create({ planName: 'shop', kind: 'replicate', owner: 'd1', id: 'rep-1', params: { pointId: P.complete } });
      await repo.runs.create({ planName: 'shop', kind: 'drtest', owner: 'd1', id: 'dr-done', params: { pointId: P.complete } });
      await repo.runs.update('dr-done', { status: 'succeeded' });
      const users = await runsUsingPoint(repo, 'shop', P.complete, 'me');
      expect(users.map((u) => `${u.kind} ${u.runId}`).sort()).to.deep.equal(['drtest dr-1', 'failover fo-1']);
      expect((await runsUsingPoint(repo, 'shop', P.complete, 'dr-1')).map((u) => u.runId)).to.deep.equal(['fo-1']);
    } finally {
      await catalog.close();
    }
  });

  it("says whether the point's backups are free to restore", () => {
    const m = manifest();
    const all = (s: string) => new Map([IDS.backupRoot, IDS.backupData].map((id) => [id, s]));
    expect(backupReadiness(m, all('available'))).to.deep.equal({ ok: true, missing: [], busy: [], failed: [] });
    expect(backupReadiness(m, new Map([[IDS.backupRoot, 'restoring']]))).to.deep.equal({ ok: false, missing: [IDS.backupData], busy: [{ id: IDS.backupRoot, status: 'restoring' }], failed: [] });
    expect(backupReadiness(m, all('error')).failed).to.have.length(2);
    expect(backupReadiness(m, all('deleting')).failed).to.have.length(2);
    expect(backupReadiness(m, all('creating')).busy).to.have.length(2);
  });

  it('reports every quota the stack does not fit, ignoring unknown and unlimited ones', () => {
    expect(quotaShortfalls(demand(), {})).to.deep.equal([]);
    expect(quotaShortfalls(demand(), { volumes: 10, instances: 2, cores: 4, ports: Infinity, ramMiB: 20_000 })).to.deep.equal([{ resource: 'cores', need: 5, room: 4 }]);
    expect(quotaShortfalls(demand({ volumes: 0 }), { volumes: 0, volumeGiB: 10 })).to.deep.equal([{ resource: 'volumeGiB', need: 70, room: 10 }]);
  });

  it("reads the site's room from Nova and Cinder limits and Neutron quota details, with GETs only", async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    mockCinderVersion();
    nock(NOVA)
      .get('/v2.1/limits')
      .reply(200, { limits: { rate: [], absolute: { maxTotalInstances: 10, totalInstancesUsed: 9, maxTotalCores: -1, totalCoresUsed: 40, maxTotalRAMSize: 51200, totalRAMUsed: 60000, maxServerGroups: 10, totalServerGroupsUsed: 0, maxTotalKeypairs: 100, maxServerMeta: 128, maxServerGroupMembers: 10 } } });
    nock(CINDER)
      .get(`/v3/${PROJECT_ID}/limits`)
      .reply(200, { limits: { rate: [], absolute: { maxTotalVolumes: 10, totalVolumesUsed: 9, maxTotalVolumeGigabytes: 1000, totalGigabytesUsed: 100 } } });
    nock(NEUTRON)
      .get(`/v2.0/quotas/${PROJECT_ID}/details`)
      .reply(200, { quota: { port: { limit: 50, used: 49, reserved: 0 }, network: { limit: -1, used: 3, reserved: 0 }, subnet: { limit: 10, used: 1, reserved: 1 }, security_group: { limit: 10, used: 1, reserved: 0 }, security_group_rule: { limit: 100, used: 4, reserved: 0 }, floatingip: { limit: 50, used: 0, reserved: 0 } } });
    const { room, notes } = await quotaRoom(site);
    expect(notes).to.deep.equal([]);
    expect(room).to.deep.equal({ instances: 1, ramMiB: 0, serverGroups: 10, volumes: 1, volumeGiB: 900, ports: 1, subnets: 8, securityGroups: 9, securityGroupRules: 96, floatingIps: 50 });
    expect(quotaShortfalls(demand(), room).map((s) => s.resource)).to.deep.equal(['instances', 'ports', 'ramMiB', 'volumes']);
    expectAllCalled();
  });

  it('the reads a dry-run makes at the recovering site are GETs (and the token)', async () => {
    const { site } = testSite();
    const methods: string[] = [];
    const record = (m: string) => () => {
      methods.push(m);
    };
    mockAuth().on('request', record('POST keystone'));
    mockCinderVersion();
    nock(CINDER)
      .get(`/v3/${PROJECT_ID}/backups/detail`)
      .reply(200, { backups: [{ id: IDS.backupRoot, status: 'available' }, { id: IDS.backupData, status: 'restoring' }, { id: 'other', status: 'available' }] })
      .on('request', (req: { method: string }) => methods.push(req.method));
    nock(SWIFT)
      .get(`/v1/AUTH_${PROJECT_ID}/ferry-bank/plans/shop/epoch.json`)
      .reply(200, { epoch: 1, activeSite: 'site-a', updatedAt: '2026-11-27T03:00:00Z' })
      .on('request', (req: { method: string }) => methods.push(req.method));
    nock(HEAT)
      .get(`/v1/${PROJECT_ID}/stacks`)
      .query({ name: 'ferry-shop-failover', limit: '100' })
      .reply(200, { stacks: [] })
      .on('request', (req: { method: string }) => methods.push(req.method));
    const t = siteTarget(site);
    expect(await t.backupStatuses([IDS.backupRoot, IDS.backupData])).to.deep.equal(new Map([[IDS.backupRoot, 'available'], [IDS.backupData, 'restoring']]));
    expect(await t.getEpoch('shop')).to.deep.include({ epoch: 1, activeSite: 'site-a' });
    expect(await t.observeStack('ferry-shop-failover', ownerTags('shop', RUN_ID))).to.deep.equal({ phase: 'absent', ours: false });
    expect(methods.filter((m) => m !== 'POST keystone')).to.deep.equal(['GET', 'GET', 'GET']);
    expectAllCalled();
  });

  it('measures RTO from the command to servers ACTIVE, and RPO to when writes stopped', () => {
    const base = { commandStartedAt: '2026-11-27T04:00:00.000Z', serversActiveAt: '2026-11-27T04:01:05.000Z' };
    expect(measure({ ...base, pointCreatedAt: '2026-11-27T03:50:00.000Z' })).to.deep.equal({ rtoMs: 65_000, rpoMs: 600_000 });
    // planned: the final point was taken after the servers stopped
    expect(measure({ ...base, pointCreatedAt: '2026-11-27T04:00:20.000Z', writesStoppedAt: '2026-11-27T04:00:10.000Z' })).to.deep.equal({ rtoMs: 65_000, rpoMs: 0 });
    // planned, but the cycle adopted was taken before the stop: the loss is honest
    expect(measure({ ...base, pointCreatedAt: '2026-11-27T04:00:05.000Z', writesStoppedAt: '2026-11-27T04:00:10.000Z' }).rpoMs).to.equal(5_000);
  });

  it('marks each restored volume with the plan, point, run and the volume it restores; counts resources by kind', () => {
    const g = generate(manifest(), shopPlan(), resolved(), 'failover', { runId: RUN_ID });
    const marks = volumeMarks(g, 'shop', 'p-1', RUN_ID);
    const volumes = g.index.filter((e) => e.kind === 'volume');
    expect(volumes.map((v) => marks(v.resource))).to.deep.equal(volumes.map((v) => ({ 'ferry:plan': 'shop', 'ferry:point': 'p-1', 'ferry:run': RUN_ID, 'ferry:source': v.sourceId })));
    expect(marks(g.index.find((e) => e.kind === 'server')!.resource)).to.equal(undefined);
    const counts = resourceCounts(g);
    expect(counts).to.include({ server: 2, volume: 2, attach: 1 });
    expect(countsText({ server: 2, volume: 1, secgroup: 3 })).to.equal('2 servers, 1 volume, 3 secgroups');
  });

  it('reads the protection plan back from the catalog spec, or says to apply it', () => {
    const p = protectionPlanOf({ name: 'shop', spec: specOf(shopPlan()) });
    expect(p.name).to.equal('shop');
    expect(p.mappings.networks).to.have.length(2);
    expect(() => protectionPlanOf({ name: 'web', spec: { name: 'web' } })).to.throw("plan 'web': the catalog's spec is not a validated protection plan (fix: ferry plan apply FILE)");
  });
});
