// The replication cycle end to end over fakes: two sites with in-memory Cinders (the real
// cinder-backup mover against them), the bank in an in-memory Swift, a SQLite catalog, hooks
// as real commands and nock'ed HTTP; discovery and the image copier are injected (their own
// specs cover them). One test injects the volume mover to pin what the cycle hands it.
import { expect } from 'chai';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogNotFoundError, CatalogRepo, EpochConflictError, type RecoveryPoint } from '../../../lib/catalog/repo.js';
import { parsePlanText, type ProtectionPlan } from '../../../lib/config/protection-plan.js';
import type { Inventory } from '../../../lib/inventory/model.js';
import type { Site } from '../../../lib/openstack/site.js';
import { bankPaths } from '../../../lib/replication/bank.js';
import type { ReplicateOptions } from '../../../lib/replication/cinder-backup.js';
import { validateManifest, type RecoveryPointManifest } from '../../../lib/replication/recovery-point.js';
import type { ImageDataRef, VolumeDataRef } from '../../../lib/replication/types.js';
import {
  cinderTimeToIso,
  cycleOutcome,
  cycleSpec,
  imagesToCopy,
  nextCycleNumber,
  parentRefs,
  runReplicationCycle,
  type CopyImages,
  type CycleEvent,
  type CycleOptions,
  type VolumeMover,
} from '../../../lib/workflows/replicate.js';
import { world, type FakeCinder } from '../../support/fake-cinder.js';
import { useNock } from '../../support/fake-cloud.js';
import { FakeSwift } from '../../support/fake-swift.js';

const VOL1 = '5b1e9c2a-7d3f-4e8a-9b6c-0d1e2f3a4b5c';
const VOL2 = '9d2f0b3c-1a2b-4c3d-8e4f-5a6b7c8d9e0f';
const IMG = 'c0ffee00-1111-4222-8333-444455556666';
const GiB = 1024 ** 3;
const NODE = process.execPath;
const HOOKS = 'https://hooks.example.com';

function planYaml(extra = '', retention = '{count: 10}', fullEvery = 3): string {
  return `name: web
project: shop
primary: site-a
secondary: site-b
tier: pilot-light
rpo: 1h
retention: ${retention}
full_every: ${fullEvery}
members:
  - server: web-1
${extra}`;
}

/** What discovery would find: web-1, booted from IMG, with the given data volumes. */
function inventory(volumes: string[] = [VOL1, VOL2]): Inventory {
  const flavor = { key: 'm1.small', name: 'm1.small', vcpus: 1, ram: 2048, disk: 20, ephemeral: 0, swap: 0, extraSpecs: {} };
  return {
    schemaVersion: 1,
    site: 'site-a',
    projectId: 'p-shop',
    discoveredAt: '2026-11-27T02:59:00.000Z',
    selectors: { serverNames: ['web-1'] },
    members: [
      {
        server: {
          id: 'srv-1',
          name: 'web-1',
          status: 'ACTIVE',
          powerState: 'running',
          flavor,
          image: { id: IMG, name: 'debian-12' },
          bootFromVolume: false,
          availabilityZone: 'nova',
          metadata: {},
          tags: [],
          serverGroups: [],
          locked: false,
          configDrive: false,
          diskConfig: 'MANUAL',
          userId: 'u',
          projectId: 'p-shop',
          createdAt: '2026-11-27T01:00:00Z',
        },
        ports: [],
        volumes: volumes.map((id, i) => ({ id, name: `data-${i}`, size: 1, bootable: false, device: `/dev/vd${'bcd'[i]}`, attachmentOrder: i, availabilityZone: 'nova', metadata: {}, multiattach: false, encrypted: false, status: 'in-use' })),
        selectedBy: ['name'],
      },
    ],
    networks: {},
    subnets: {},
    securityGroups: {},
    flavors: { 'm1.small': flavor },
    images: { [IMG]: { id: IMG, name: 'debian-12', status: 'active' } as Inventory['images'][string] },
    volumeTypes: {},
    keypairs: {},
    serverGroups: {},
    warnings: [],
  };
}

/** A recording image copier: the first copy moves 1000 bytes, later ones find the image there. */
function imageCopier() {
  const calls: { ids: readonly string[]; pointId: string; concurrency: number | undefined; secondary: string }[] = [];
  const copy: CopyImages = async (_primary, secondary, imageIds, o) => {
    calls.push({ ids: imageIds, pointId: o.pointId, concurrency: o.concurrency, secondary: secondary.name });
    for (const id of imageIds) o.onProgress?.({ imageId: id, event: calls.length === 1 ? 'done' : 'skipped' });
    const refs: ImageDataRef[] = imageIds.map((id) => ({ sourceImageId: id, secondaryImageId: `b-${id}`, hash: 'sha512:abcdef', sizeBytes: 1000 }));
    return { refs, failures: [], bytesCopied: calls.length === 1 ? 1000 * imageIds.length : 0 };
  };
  return { copy, calls };
}

async function fails<E extends Error = Error>(p: Promise<unknown>, type?: new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (e) {
    if (type && !(e instanceof type)) throw new Error(`expected ${type.name}, got ${String(e)}`, { cause: e });
    return e as E;
  }
  throw new Error('expected a rejection');
}

const backupsOf = (f: FakeCinder, volumeId: string) => [...f.backups.values()].filter((b) => b.body.volume_id === volumeId);
const manifestOf = (p: RecoveryPoint | undefined) => validateManifest(p!.manifest) as RecoveryPointManifest;

describe('workflows/replicate', () => {
  useNock();
  let catalog: Catalog;
  let repo: CatalogRepo;
  let clock: Date;
  let A: Site;
  let B: Site;
  let fa: FakeCinder;
  let fb: FakeCinder;
  let swift: FakeSwift;
  let events: CycleEvent[];
  let images: ReturnType<typeof imageCopier>;
  let volumes: string[];

  const sites = (cloud: string): Site => {
    if (cloud === 'site-a') return A;
    if (cloud === 'site-b') return B;
    throw new Error(`no site ${cloud}`);
  };

  async function applyPlan(text: string): Promise<ProtectionPlan> {
    const spec = parsePlanText(text, 'plan.yaml');
    await repo.plans.upsert({ name: spec.name, project: spec.project, primarySite: spec.primary, secondarySite: spec.secondary, tier: spec.tier, rpoMs: spec.rpo.ms, spec });
    return spec;
  }

  function opts(over: Partial<CycleOptions> = {}): CycleOptions {
    return {
      repo,
      sites,
      owner: 'spec@host',
      now: () => clock,
      discover: async () => inventory(volumes),
      copyImages: images.copy,
      waits: { pollIntervalMs: 1, maxPollIntervalMs: 2 },
      onEvent: (e) => events.push(e),
      ...over,
    };
  }

  /** One cycle, 30 minutes after the previous one. */
  async function cycle(over: Partial<CycleOptions> = {}) {
    clock = new Date(clock.getTime() + 30 * 60_000);
    return runReplicationCycle('web', opts(over));
  }

  beforeEach(async () => {
    catalog = await openCatalog('sqlite::memory:');
    clock = new Date('2026-11-27T03:00:00.000Z');
    repo = new CatalogRepo(catalog, { now: () => clock });
    ({ A, B, fa, fb } = world());
    swift = new FakeSwift();
    events = [];
    images = imageCopier();
    volumes = [VOL1, VOL2];
    fa.addVolume(VOL1, 'in-use');
    fa.addVolume(VOL2, 'in-use');
  });
  afterEach(() => catalog.close());

  it('first cycle: full backups inside a hook window that covers only the snapshots, a complete point in the bank and the catalog', async () => {
    const seenByHooks: Record<string, [number, number, unknown]> = {};
    const hook = (path: string) =>
      nock(HOOKS)
        .post(path)
        .reply(204, (_uri, body) => {
          seenByHooks[path] = [fa.posts('snapshots'), fa.posts('backups'), body];
          return '';
        });
    hook('/freeze');
    hook('/thaw');
    await applyPlan(planYaml(`hooks:
  pre_snapshot: [{http: {url: ${HOOKS}/freeze}}]
  post_snapshot: [{http: {url: ${HOOKS}/thaw}}]
`));
    const r = await cycle();
    expect(r.error, r.error).to.equal(undefined);
    expect(r).to.deep.include({
      status: 'complete',
      cycle: 1,
      resumed: false,
      createdAt: '2026-11-27T03:30:00.000Z',
      bytes: { volumes: 2 * GiB, images: 1000 },
      retention: { deletedPoints: [] },
      warnings: [],
      volumes: { total: 2, full: 2, incremental: 0, failed: [] },
      images: { total: 1, copied: 1, failed: [] },
    });
    expect(r.hooks.map((h) => [h.label, h.ok])).to.deep.equal([
      ['pre_snapshot hook 1 (POST https://hooks.example.com/…)', true],
      ['post_snapshot hook 1 (POST https://hooks.example.com/…)', true],
    ]);
    // [snapshots posted, backups posted] when each hook was called.
    expect(seenByHooks['/freeze']!.slice(0, 2), 'pre hook before any snapshot').to.deep.equal([0, 0]);
    expect(seenByHooks['/thaw']!.slice(0, 2), 'post hook after both snapshots, before any backup').to.deep.equal([2, 0]);
    expect(seenByHooks['/thaw']![2]).to.deep.equal({ plan: 'web', point: r.pointId, phase: 'post_snapshot' });
    const posts = fa.log.filter((l) => l.startsWith('POST'));
    expect(posts).to.deep.equal(['POST snapshots', 'POST snapshots', 'POST backups', 'POST backups']);
    expect(fa.snapshots.size, 'snapshots removed after the backups').to.equal(0);
    expect(fb.posts('backups/import_record')).to.equal(2);

    // The catalog: a complete point with a valid manifest of full backups.
    const point = await repo.points.get(r.pointId!);
    expect(point).to.include({ status: 'complete', consistency: 'crash', sourceSite: 'site-a', targetSite: 'site-b', sizeBytes: 2 * GiB + 1000 });
    expect(point!.createdAt.toISOString()).to.equal(r.createdAt);
    const m = manifestOf(point);
    expect(m).to.deep.include({ id: r.pointId, status: 'complete', sourceSite: 'site-a', targetSite: 'site-b', createdAt: r.createdAt });
    expect(m.plan).to.deep.equal({ name: 'web', specHash: (await repo.plans.get('web'))!.specHash, epoch: 0 });
    expect(m.data.volumes.map((v) => [v.sourceVolumeId, v.incremental, v.parentBackupId, v.sizeGb])).to.deep.equal([
      [VOL1, false, undefined, 1],
      [VOL2, false, undefined, 1],
    ]);
    for (const v of m.data.volumes) {
      expect(v.dataTimestamp).to.match(/Z$/);
      expect(fb.backups.get(v.secondaryBackupId)!.body.status).to.equal('available');
    }
    expect(m.data.images).to.deep.equal([{ sourceImageId: IMG, secondaryImageId: `b-${IMG}`, hash: 'sha512:abcdef', sizeBytes: 1000 }]);
    expect(images.calls).to.deep.equal([{ ids: [IMG], pointId: r.pointId, concurrency: 2, secondary: 'site-b' }]);

    // The bank at the target: marker, plan, epoch, and the same manifest with its COMPLETE marker.
    const stored = JSON.parse(swift.objects.get(bankPaths.manifest('web', r.createdAt, r.pointId!))!) as RecoveryPointManifest;
    expect(stored).to.deep.equal(point!.manifest);
    expect(swift.objects.has(bankPaths.complete('web', r.createdAt, r.pointId!))).to.equal(true);
    expect(JSON.parse(swift.objects.get(bankPaths.epoch('web'))!)).to.include({ epoch: 0, activeSite: 'site-a' });
    expect(JSON.parse(swift.objects.get(bankPaths.planDoc('web'))!)).to.include({ name: 'web', specHash: m.plan.specHash });
    const puts = swift.requests.filter((q) => q.startsWith('PUT')).map((q) => q.split('/').pop());
    expect(puts.slice(-2), 'COMPLETE written last').to.deep.equal(['manifest.json', 'COMPLETE']);

    // The run: succeeded with the result, its journal phase by phase.
    const run = (await repo.runs.get(r.runId))!;
    expect(run).to.include({ status: 'succeeded', kind: 'replicate', owner: 'spec@host', epoch: 0 });
    expect(run.params).to.deep.equal({ pointId: r.pointId, cycle: 1, source: 'site-a', target: 'site-b' });
    expect(run.result).to.deep.equal(JSON.parse(JSON.stringify(r)));
    const journal = (await repo.journal.read(r.runId)).map((e) => `${e.step}:${e.phase}`);
    const serial = journal.filter((e) => !/^(volumes|images):/.test(e));
    expect(serial).to.deep.equal([
      'cycle:observe',
      'discover:act',
      'discover:done',
      'bank:act',
      'bank:done',
      'pre-hooks:act',
      'pre-hooks:done',
      'snapshots:act',
      'snapshots:done',
      'post-hooks:act',
      'post-hooks:done',
      'record:act',
      'record:verify',
      'record:done',
      'retention:act',
      'retention:done',
      'cycle:done',
    ]);
    expect(journal.filter((e) => /^(volumes|images):/.test(e)).sort()).to.deep.equal(['images:act', 'images:done', 'volumes:act', 'volumes:done']);
    const phases = events.filter((e) => e.kind === 'phase' && e.state === 'done').map((e) => (e as { phase: string }).phase);
    expect(phases.filter((p) => p !== 'images' && p !== 'volumes')).to.deep.equal(['discover', 'bank', 'pre-hooks', 'snapshots', 'post-hooks', 'record', 'retention']);
    expect(events.some((e) => e.kind === 'volume' && e.progress.step === 'import' && e.progress.event === 'done')).to.equal(true);
    expect(events.some((e) => e.kind === 'image' && e.progress.event === 'done')).to.equal(true);
  });

  it('later cycles chain incrementals on the previous point, and take a full backup every full_every cycles', async () => {
    await applyPlan(planYaml());
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await cycle());
    expect(results.map((r) => [r.status, r.cycle, r.volumes.full, r.volumes.incremental])).to.deep.equal([
      ['complete', 1, 2, 0],
      ['complete', 2, 0, 2],
      ['complete', 3, 0, 2],
      ['complete', 4, 2, 0],
    ]);
    const manifests = await Promise.all(results.map(async (r) => manifestOf(await repo.points.get(r.pointId!))));
    const refOf = (i: number, vol: string) => manifests[i]!.data.volumes.find((v) => v.sourceVolumeId === vol)!;
    for (const vol of [VOL1, VOL2]) {
      expect(refOf(1, vol).parentBackupId, `${vol} cycle 2`).to.equal(refOf(0, vol).primaryBackupId);
      expect(refOf(2, vol).parentBackupId, `${vol} cycle 3`).to.equal(refOf(1, vol).primaryBackupId);
      // Cinder's own chain at both sites is the one recorded.
      expect(fa.backups.get(refOf(2, vol).primaryBackupId)!.parent).to.equal(refOf(1, vol).primaryBackupId);
      expect(fb.backups.get(refOf(2, vol).secondaryBackupId)!.parent).to.equal(refOf(1, vol).primaryBackupId);
    }
    expect(images.calls.map((c) => c.ids)).to.deep.equal([[IMG], [IMG], [IMG], [IMG]]);
    expect(results.map((r) => r.bytes.images), 'the image moved once').to.deep.equal([1000, 0, 0, 0]);
    const bankPoints = [...swift.objects.keys()].filter((k) => k.endsWith('/COMPLETE'));
    expect(bankPoints).to.have.length(4);
  });

  it('a cycle killed mid-way is resumed with the same point: nothing created twice, no hook run twice', async () => {
    const calls = { freeze: 0, thaw: 0 };
    nock(HOOKS)
      .persist()
      .post('/freeze')
      .reply(204, () => {
        calls.freeze++;
        return '';
      })
      .post('/thaw')
      .reply(204, () => {
        calls.thaw++;
        return '';
      });
    await applyPlan(planYaml(`hooks:
  pre_snapshot: [{http: {url: ${HOOKS}/freeze}}]
  post_snapshot: [{http: {url: ${HOOKS}/thaw}}]
`));
    const crash = new AbortController();
    const first = await cycle({
      signal: crash.signal,
      onEvent: (e) => {
        if (e.kind === 'volume' && e.progress.step === 'backup' && e.progress.event === 'created') crash.abort(new Error('the process was killed'));
      },
    });
    expect(first.status).to.equal('failed');
    expect(first.error).to.equal(`cancelled: the process was killed (the next cycle resumes run ${first.runId})`);
    expect((await repo.runs.get(first.runId))!.status, 'left running, as a dead process leaves it').to.equal('running');
    expect((await repo.points.get(first.pointId!))!.status).to.equal('in-progress');

    const again = await cycle({ owner: 'daemon-2' });
    expect(again).to.deep.include({ status: 'complete', runId: first.runId, pointId: first.pointId, resumed: true, cycle: 1 });
    expect(again.createdAt, "the point keeps the moment it was started").to.equal(first.createdAt);
    expect([fa.posts('snapshots'), fa.posts('backups'), fb.posts('backups/import_record')], 'one create of each per volume').to.deep.equal([2, 2, 2]);
    expect(calls, 'the snapshots were done: the hooks did not run again').to.deep.equal({ freeze: 1, thaw: 1 });
    expect(fa.snapshots.size).to.equal(0);
    const run = (await repo.runs.get(first.runId))!;
    expect(run).to.include({ status: 'succeeded', owner: 'daemon-2' });
    expect(await repo.runs.list({ planName: 'web' })).to.have.length(1);
    expect((await repo.points.list('web')).map((p) => [p.id, p.status])).to.deep.equal([[first.pointId, 'complete']]);
    const observe = (await repo.journal.read(first.runId)).filter((e) => e.step === 'cycle' && e.phase === 'observe').map((e) => e.data);
    expect(observe).to.deep.equal([
      { resumed: false, pointId: first.pointId, cycle: 1 },
      { resumed: true, previousOwner: 'spec@host', owner: 'daemon-2', pointId: first.pointId },
    ]);
  });

  it('cancelled inside the hook window: the post hooks still thaw, and the resume takes the missing snapshots in a new window', async () => {
    const calls: string[] = [];
    nock(HOOKS)
      .persist()
      .post(/^\/(freeze|thaw)$/)
      .reply(204, (uri) => {
        calls.push(`${uri.slice(1)} with ${fa.posts('snapshots')} snapshot(s)`);
        return '';
      });
    await applyPlan(planYaml(`hooks:
  pre_snapshot: [{http: {url: ${HOOKS}/freeze}}]
  post_snapshot: [{http: {url: ${HOOKS}/thaw}}]
`));
    const stop = new AbortController();
    const first = await cycle({
      snapshotConcurrency: 1,
      signal: stop.signal,
      onEvent: (e) => {
        if (e.kind === 'volume' && e.progress.step === 'snapshot' && e.progress.event === 'created') stop.abort(new Error('SIGTERM'));
      },
    });
    expect(first.error).to.match(/^cancelled: SIGTERM/);
    expect(first.hooks.map((h) => [h.label.split(' ')[0], h.ok])).to.deep.equal([
      ['pre_snapshot', true],
      ['post_snapshot', true],
    ]);
    expect(calls).to.deep.equal(['freeze with 0 snapshot(s)', 'thaw with 1 snapshot(s)']);
    const again = await cycle();
    expect(again).to.deep.include({ status: 'complete', resumed: true, pointId: first.pointId });
    expect(calls.slice(2), 'a new window: the second snapshot inside it, the first adopted').to.deep.equal(['freeze with 1 snapshot(s)', 'thaw with 2 snapshot(s)']);
    expect(fa.posts('backups')).to.equal(2);
  });

  it('resumes a run a dead process left before its point existed, and abandons one from an older epoch', async () => {
    await applyPlan(planYaml());
    const stale = await repo.runs.create({ planName: 'web', kind: 'replicate', owner: 'old-daemon', params: { pointId: '00000000-0000-4000-8000-00000000dead', cycle: 7, source: 'site-a', target: 'site-b' } });
    await repo.points.insert({ id: '00000000-0000-4000-8000-00000000dead', planName: 'web', consistency: 'crash' });
    await repo.plans.bumpEpoch('web', 0);
    clock = new Date(clock.getTime() + 1000);
    const left = await repo.runs.create({ planName: 'web', kind: 'replicate', owner: 'dead-cli', params: { pointId: '00000000-0000-4000-8000-0000000000aa', cycle: 8, source: 'site-a', target: 'site-b' } });
    const r = await cycle();
    expect(r).to.deep.include({ status: 'complete', runId: left.id, pointId: '00000000-0000-4000-8000-0000000000aa', resumed: true, cycle: 8 });
    const old = (await repo.runs.get(stale.id))!;
    expect(old.status).to.equal('failed');
    expect(old.result).to.deep.equal({ status: 'failed', error: "superseded: its epoch 0 is not the plan's 1 (a failover since)" });
    expect(await repo.points.get('00000000-0000-4000-8000-00000000dead'), 'its in-progress point is gone').to.equal(undefined);
    expect(manifestOf(await repo.points.get(r.pointId!)).plan.epoch).to.equal(1);
    const next = await cycle();
    expect(next.cycle, 'counting on from the highest cycle').to.equal(9);
  });

  it('a run that died after recording its point only finishes: retention and the run, nothing at the sites', async () => {
    await applyPlan(planYaml());
    const pointId = '00000000-0000-4000-8000-0000000000bb';
    const run = await repo.runs.create({ planName: 'web', kind: 'replicate', owner: 'dead-cli', params: { pointId, cycle: 1, source: 'site-a', target: 'site-b' } });
    await repo.points.insert({ id: pointId, planName: 'web', consistency: 'crash' });
    const refs = [VOL1, VOL2].map((v, i) => ({ sourceVolumeId: v, primaryBackupId: `bk-${i}`, secondaryBackupId: `bk-${i}`, incremental: false, sizeGb: 1 }));
    await repo.points.complete(pointId, { apiVersion: 'ferry.recoverypoint/v1', id: pointId, data: { volumes: refs, images: [] }, sizes: { volumeBytes: 2 * GiB } }, 2 * GiB);
    const r = await cycle();
    expect(r).to.deep.include({ status: 'complete', runId: run.id, pointId, resumed: true, bytes: { volumes: 2 * GiB, images: 0 }, volumes: { total: 2, full: 2, incremental: 0, failed: [] } });
    expect(fa.log.concat(fb.log), 'no Cinder call').to.deep.equal([]);
    expect(images.calls).to.deep.equal([]);
    expect((await repo.runs.get(run.id))!.status).to.equal('succeeded');
    expect(events.filter((e) => e.kind === 'phase' && e.state === 'skipped').map((e) => (e as { phase: string }).phase)).to.deep.equal(['discover', 'bank', 'pre-hooks', 'snapshots', 'post-hooks', 'volumes', 'images', 'record']);
  });

  it('a failing pre hook takes no snapshot, still runs the post hooks, and fails the run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-cycle-'));
    const thawed = join(dir, 'thawed');
    const freeze = `console.error('mysql: FLUSH TABLES WITH READ LOCK: lock wait timeout'); process.exit(3)`;
    const thaw = `require('fs').writeFileSync(${JSON.stringify(thawed)}, [process.env.FERRY_PHASE, process.env.FERRY_PLAN, process.env.FERRY_POINT].join(' '))`;
    await applyPlan(planYaml(`hooks:
  pre_snapshot: [{command: [${JSON.stringify(NODE)}, -e, ${JSON.stringify(freeze)}]}]
  post_snapshot: [{command: [${JSON.stringify(NODE)}, -e, ${JSON.stringify(thaw)}]}]
`));
    const r = await cycle();
    expect(r.status).to.equal('failed');
    expect(r.error).to.equal('pre_snapshot hook 1 (command node) failed: exited with code 3: mysql: FLUSH TABLES WITH READ LOCK: lock wait timeout; no snapshot was taken');
    expect(fa.log.filter((l) => !l.startsWith('GET')), 'nothing created or deleted at the primary').to.deep.equal([]);
    const { pointId } = (await repo.runs.get(r.runId))!.params as { pointId: string };
    expect(readFileSync(thawed, 'utf8'), 'the post hook ran, told which point').to.equal(`post_snapshot web ${pointId}`);
    expect(r.hooks.map((h) => [h.label, h.ok])).to.deep.equal([
      ['pre_snapshot hook 1 (command node)', false],
      ['post_snapshot hook 1 (command node)', true],
    ]);
    expect(r.pointId, 'no point').to.equal(undefined);
    expect(await repo.points.list('web')).to.deep.equal([]);
    expect((await repo.runs.get(r.runId))!).to.include({ status: 'failed' });
    expect([...swift.objects.keys()].some((k) => k.includes('/points/'))).to.equal(false);
    expect(events.filter((e) => e.kind === 'phase' && e.phase === 'pre-hooks').map((e) => (e as { state: string }).state)).to.deep.equal(['start', 'failed']);
  });

  it('one volume failing makes the point partial, and what it left is removed', async () => {
    await applyPlan(planYaml());
    fa.failBackupsOf.add(VOL2);
    const r = await cycle();
    expect(r.status).to.equal('partial');
    expect(r.volumes).to.deep.equal({ total: 2, full: 1, incremental: 0, failed: [VOL2] });
    expect(r.warnings).to.have.length(1);
    expect(r.warnings[0]).to.match(new RegExp(`^volume ${VOL2}: backup failed: .*posix driver: disk full`));
    expect(r.bytes.volumes).to.equal(GiB);
    const point = await repo.points.get(r.pointId!);
    expect(point!.status).to.equal('partial');
    const m = manifestOf(point);
    expect(m.status).to.equal('partial');
    expect(m.data.volumes.map((v) => v.sourceVolumeId)).to.deep.equal([VOL1]);
    expect(m.warnings.map((w) => w.code)).to.include('volume-data-missing');
    expect(JSON.parse(swift.objects.get(bankPaths.manifest('web', r.createdAt, r.pointId!))!).status).to.equal('partial');
    expect(backupsOf(fa, VOL2), "the failed backup is gone").to.deep.equal([]);
    expect(fa.snapshots.size, 'and its snapshot').to.equal(0);
    expect((await repo.runs.get(r.runId))!.status).to.equal('failed');
    expect(((await repo.runs.get(r.runId))!.result as { status: string }).status).to.equal('partial');
  });

  it('no volume moved: the cycle fails and leaves no point, in the catalog, the bank or Cinder', async () => {
    await applyPlan(planYaml());
    fa.failBackupsOf.add(VOL1);
    fa.failBackupsOf.add(VOL2);
    const r = await cycle();
    expect(r.status).to.equal('failed');
    expect(r.error).to.equal('no volume data was moved (2 of 2 volumes failed); no recovery point was recorded');
    expect(r.pointId).to.equal(undefined);
    expect(await repo.points.list('web')).to.deep.equal([]);
    expect([...swift.objects.keys()].some((k) => k.includes('/points/'))).to.equal(false);
    expect([fa.backups.size, fa.snapshots.size, fb.backups.size]).to.deep.equal([0, 0, 0]);
    expect(events.some((e) => e.kind === 'phase' && e.phase === 'retention'), 'no retention after a failed cycle').to.equal(false);
  });

  it('a failure after the bank write takes the point out of the bank before its data goes: a rebuilt catalog never lists a point without data', async () => {
    await applyPlan(planYaml());
    // The catalog refuses to record the point after the manifest reached the bank.
    const failing = Object.create(repo) as CatalogRepo;
    Object.defineProperty(failing, 'points', {
      value: Object.assign(Object.create(repo.points), {
        complete: () => Promise.reject(new Error('catalog went away')),
        markPartial: () => Promise.reject(new Error('catalog went away')),
      }),
    });
    const r = await cycle({ repo: failing });
    expect(r.status).to.equal('failed');
    expect(r.error).to.include('catalog went away');
    expect(swift.requests.some((q) => q.startsWith('PUT') && q.endsWith('/manifest.json')), 'the manifest was written').to.equal(true);
    expect([...swift.objects.keys()].some((k) => k.includes('/points/')), 'and removed again').to.equal(false);
    expect(await repo.points.list('web')).to.deep.equal([]);
    expect([fa.backups.size, fa.snapshots.size, fb.backups.size]).to.deep.equal([0, 0, 0]);
  });

  it('retention deletes the oldest expired points but keeps the chain parents of retained incrementals, then the whole chain', async () => {
    volumes = [VOL1];
    await applyPlan(planYaml('', '{count: 2}', 3));
    const r: Awaited<ReturnType<typeof cycle>>[] = [];
    const backup = async (i: number) => manifestOf(await repo.points.get(r[i]!.pointId!)).data.volumes[0]!;
    const ids: VolumeDataRef[] = [];
    // Cycles 1-3: A (full), B ← A, C ← B. Count 2 expires point 1, but B needs A.
    for (let i = 0; i < 3; i++) {
      r.push(await cycle());
      ids.push(await backup(i));
    }
    const [a, b, c] = ids.map((x) => x.primaryBackupId);
    expect(ids.map((x) => x.parentBackupId)).to.deep.equal([undefined, a, b]);
    expect(r[2]!.retention.deletedPoints).to.deep.equal([r[0]!.pointId]);
    expect((await repo.points.list('web')).map((p) => p.id)).to.deep.equal([r[2]!.pointId, r[1]!.pointId]);
    expect(fa.backups.has(a!) && fb.backups.has(a!), 'A kept at both sites for B').to.equal(true);
    expect(swift.objects.has(bankPaths.manifest('web', r[0]!.createdAt, r[0]!.pointId!)), 'point 1 gone from the bank').to.equal(false);
    // Cycle 4 is full (D): point 2 expires; C still needs B, and B needs A.
    r.push(await cycle());
    ids.push(await backup(3));
    expect(ids[3]!.incremental).to.equal(false);
    expect(r[3]!.retention.deletedPoints).to.deep.equal([r[1]!.pointId]);
    expect([a, b, c].every((id) => fa.backups.has(id!) && fb.backups.has(id!))).to.equal(true);
    // Cycle 5: E ← D; point 3 expires and takes C, B and A (known by then only through B's mark).
    r.push(await cycle());
    ids.push(await backup(4));
    expect(ids[4]!.parentBackupId).to.equal(ids[3]!.primaryBackupId);
    expect(r[4]!.retention.deletedPoints).to.deep.equal([r[2]!.pointId]);
    const left = [ids[3]!.primaryBackupId, ids[4]!.primaryBackupId].sort();
    expect([...fa.backups.keys()].sort(), 'primary').to.deep.equal(left);
    expect([...fb.backups.keys()].sort(), 'secondary').to.deep.equal(left);
    expect((await repo.points.list('web')).map((p) => p.id)).to.deep.equal([r[4]!.pointId, r[3]!.pointId]);
    expect([...swift.objects.keys()].filter((k) => k.endsWith('/COMPLETE'))).to.have.length(2);
    expect(r.map((x) => x.status)).to.deep.equal(['complete', 'complete', 'complete', 'complete', 'complete']);
  });

  it('is fenced: a stale epoch is refused before anything starts, a newer epoch in the target bank fails the cycle before any snapshot', async () => {
    await applyPlan(planYaml());
    const e = await fails(cycle({ epoch: 3 }), EpochConflictError);
    expect(e.message).to.equal("plan 'web': epoch is 0, not the expected 3 (another daemon or run moved it; re-read the plan)");
    expect(await repo.runs.list({ planName: 'web' })).to.deep.equal([]);
    swift.objects.set(bankPaths.epoch('web'), JSON.stringify({ epoch: 5, activeSite: 'site-b', updatedAt: '2026-11-27T02:00:00.000Z' }));
    const r = await cycle();
    expect(r.status).to.equal('failed');
    expect(r.error).to.equal("plan 'web': the bank's epoch is 5; refusing to move it back to 0");
    expect(fa.posts('snapshots')).to.equal(0);
    expect(await repo.points.list('web')).to.deep.equal([]);
  });

  it('an unknown plan is an error with the fix', async () => {
    const e = await fails(runReplicationCycle('nope', opts()), CatalogNotFoundError);
    expect(e.message).to.equal("plan 'nope' is not in the catalog (fix: ferry plan apply FILE)");
  });

  it('hands the mover the volumes, the newest finished point per volume as parent (partial included), the cycle and full_every; mapped images are not copied', async () => {
    await applyPlan(
      planYaml(`mappings:
  images: {map: [{from: debian-12, to: debian-12-golden}]}
`),
    );
    const moves: ReplicateOptions[] = [];
    let n = 0;
    const mover: VolumeMover = {
      async snapshot(_p, ids) {
        return { ready: [...ids], failed: [] };
      },
      async move(_p, _s, ids, o) {
        moves.push(o);
        n++;
        const refs: VolumeDataRef[] = ids
          // The second cycle loses VOL2: a partial point.
          .filter((id) => !(n === 2 && id === VOL2))
          .map((id) => ({ sourceVolumeId: id, mover: 'cinder-backup', primaryBackupId: `bk-${n}-${id.slice(0, 4)}`, secondaryBackupId: `bk-${n}-${id.slice(0, 4)}`, incremental: n > 1, ...(n > 1 ? { parentBackupId: 'x' } : {}), sizeGb: 1, dataTimestamp: '2026-11-27T03:00:00.000000', backupService: 'posix' }));
        return {
          status: refs.length === ids.length ? 'complete' : 'partial',
          refs,
          results: ids.map((id) => (refs.some((r) => r.sourceVolumeId === id) ? { volumeId: id, ok: true, ref: refs.find((r) => r.sourceVolumeId === id)!, adopted: [], durationMs: 1 } : { volumeId: id, ok: false, step: 'backup', error: new Error('disk full'), durationMs: 1 })),
        };
      },
      async discard() {},
    };
    const results = [await cycle({ volumeMover: mover }), await cycle({ volumeMover: mover }), await cycle({ volumeMover: mover })];
    expect(results.map((r) => r.status)).to.deep.equal(['complete', 'partial', 'complete']);
    expect(moves.map((o) => [o.cycle, o.fullEvery, o.concurrency, o.plan])).to.deep.equal([
      [1, 3, 2, 'web'],
      [2, 3, 2, 'web'],
      [3, 3, 2, 'web'],
    ]);
    const parents = moves.map((o) => Object.fromEntries([...((o.parents as Map<string, VolumeDataRef>) ?? new Map())].map(([k, v]) => [k.slice(0, 4), v.primaryBackupId])));
    expect(parents).to.deep.equal([{}, { '5b1e': 'bk-1-5b1e', '9d2f': 'bk-1-9d2f' }, { '5b1e': 'bk-2-5b1e', '9d2f': 'bk-1-9d2f' }]);
    expect(images.calls, 'the only image is mapped by name').to.deep.equal([]);
    expect(events.filter((e) => e.kind === 'phase' && e.phase === 'images').map((e) => (e as { state: string }).state)).to.deep.equal(['skipped', 'skipped', 'skipped']);
  });

  describe('helpers (pure)', () => {
    it('reads the stored spec: defaults, durations as objects or text, hooks and image maps', () => {
      const parsed = parsePlanText(planYaml('hooks:\n  pre_snapshot: [{command: [fsfreeze, -f, /data], timeout: 2m}]\nmappings:\n  images: {map: [{from: a, to: b}]}\n', '{count: 5, age: 7d}', 4), 'p.yaml');
      const s = cycleSpec({ name: 'web', spec: JSON.parse(JSON.stringify(parsed)) });
      expect(s).to.deep.include({ fullEvery: 4, retention: { count: 5, ageMs: 7 * 86_400_000 }, postHooks: [], imageMap: [{ from: 'a', to: 'b' }] });
      expect(s.preHooks).to.deep.equal([{ command: ['fsfreeze', '-f', '/data'], timeout: { text: '2m', ms: 120_000 } }]);
      const raw = cycleSpec({ name: 'web', spec: { members: [{ tag: 'dr' }], retention: { age: '1d' }, hooks: { post_snapshot: [{ http: { url: 'https://h.example.com/x' } }] } } });
      expect(raw).to.deep.include({ fullEvery: 7, retention: { ageMs: 86_400_000 }, imageMap: [] });
      expect(raw.postHooks).to.deep.equal([{ http: { url: 'https://h.example.com/x', method: 'POST', headers: {} }, timeout: { text: '1m', ms: 60_000 } }]);
      expect(() => cycleSpec({ name: 'web', spec: {} })).to.throw("plan 'web': the catalog's spec has no members (fix: ferry plan apply FILE)");
    });

    it('copies the boot images of image-booted members unless mapped by ID or name', () => {
      const inv = inventory();
      expect(imagesToCopy(inv, [])).to.deep.equal([IMG]);
      expect(imagesToCopy(inv, [{ from: IMG }])).to.deep.equal([]);
      expect(imagesToCopy(inv, [{ from: 'debian-12' }])).to.deep.equal([]);
      const bfv = inventory();
      delete bfv.members[0]!.server.image;
      expect(imagesToCopy(bfv, [])).to.deep.equal([]);
    });

    it('parents: per volume the newest finished point from the same source site', () => {
      const ref = (vol: string, id: string) => ({ sourceVolumeId: vol, primaryBackupId: id }) as VolumeDataRef;
      const p = (id: string, min: number, status: RecoveryPoint['status'], refs: VolumeDataRef[], sourceSite = 'site-a') =>
        ({ id, createdAt: new Date(min * 60_000), status, sourceSite, manifest: { data: { volumes: refs } } }) as unknown as RecoveryPoint;
      const points = [
        p('p1', 1, 'complete', [ref('v1', 'a1'), ref('v2', 'a2')]),
        p('p2', 2, 'partial', [ref('v1', 'b1')]),
        p('p3', 3, 'deleting', [ref('v1', 'c1'), ref('v2', 'c2')]),
        p('p4', 4, 'in-progress', []),
        p('p5', 5, 'complete', [ref('v1', 'e1')], 'site-b'),
      ];
      const got = parentRefs(points, 'site-a', 'p4');
      expect(Object.fromEntries([...got].map(([k, v]) => [k, v.primaryBackupId]))).to.deep.equal({ v1: 'b1', v2: 'a2' });
    });

    it('times, cycle numbers and outcomes', () => {
      const table: [string, string][] = [
        ['2026-11-27T03:00:01.000001', '2026-11-27T03:00:01.000001Z'],
        ['2026-11-27T03:00:01', '2026-11-27T03:00:01Z'],
        ['2026-11-27T03:00:01.5+00:00', '2026-11-27T03:00:01.5Z'],
        ['2026-11-27T05:00:01+02:00', '2026-11-27T03:00:01.000Z'],
      ];
      for (const [cinder, iso] of table) expect(cinderTimeToIso(cinder), cinder).to.equal(iso);
      expect(nextCycleNumber([])).to.equal(1);
      expect(nextCycleNumber([{ params: { cycle: 4 } }, { params: { cycle: 9 } }, { params: null }, { params: { cycle: 'x' } }])).to.equal(10);
      expect(cycleOutcome({ total: 2, moved: 2 }, 0)).to.equal('complete');
      expect(cycleOutcome({ total: 2, moved: 1 }, 0)).to.equal('partial');
      expect(cycleOutcome({ total: 2, moved: 2 }, 1)).to.equal('partial');
      expect(cycleOutcome({ total: 2, moved: 0 }, 0)).to.equal('failed');
      expect(cycleOutcome({ total: 0, moved: 0 }, 0), 'servers without volumes').to.equal('complete');
    });
  });
});
