import { expect } from 'chai';
import nock from 'nock';
import { NotSupportedError } from '../../../lib/errors.js';
import {
  deleteBackupChain,
  findOrphans,
  fullDue,
  markedName,
  predictCinderParent,
  replicateVolume,
  replicateVolumes,
  type MoverProgress,
  type MoverStep,
  type VolumeMoveOptions,
} from '../../../lib/replication/cinder-backup.js';
import type { VolumeDataRef } from '../../../lib/replication/types.js';
import type { Backup } from '../../../lib/openstack/blockstorage/backups.js';
import { CINDER, mockAuth, mockCinderVersion, testSite, useNock } from '../../support/fake-cloud.js';
import { CINDER_B, FakeCinder, mockCinderVersionB, world, type Json } from '../../support/fake-cinder.js';

const PLAN = 'web';

const fast = { pollIntervalMs: 1, maxPollIntervalMs: 2 };
const opts = (pointId: string, extra: Partial<VolumeMoveOptions> = {}): VolumeMoveOptions => ({ plan: PLAN, pointId, ...fast, ...extra });

function okRef(r: Awaited<ReturnType<typeof replicateVolume>>): VolumeDataRef {
  if (!r.ok) throw new Error(`volume ${r.volumeId} failed at ${r.step}: ${r.error.message}`);
  return r.ref;
}

const VOL = '5b1e9c2a-7d3f-4e8a-9b6c-0d1e2f3a4b5c';

describe('replication/cinder-backup', () => {
  useNock();

  it('full flow: the request sequence at both sites, the marked bodies, and the ref', async () => {
    const { A, B, fa, fb } = world();
    fa.addVolume(VOL, 'in-use');
    const events: string[] = [];
    const r = await replicateVolume(A, B, VOL, opts('pt1', { run: 'run-7', onProgress: (p) => events.push(`${p.step}:${p.event}`) }));
    const ref = okRef(r);
    const snapId = fa.bodies.length ? (fa.log.find((l) => l.startsWith('GET snapshots/a')) ?? '').slice('GET snapshots/'.length) : '';
    const bk = ref.primaryBackupId;
    const name = `ferry-web-pt1-5b1e9c2a`;
    expect(markedName(PLAN, 'pt1', VOL)).to.equal(name);
    expect(fa.log).to.deep.equal([
      `GET volumes/${VOL}`,
      'GET backups/detail', // observe: an adoptable backup?
      'GET snapshots/detail', // observe: an adoptable snapshot?
      'POST snapshots',
      `GET snapshots/${snapId}`,
      `GET snapshots/${snapId}`,
      'POST backups',
      `GET backups/${bk}`,
      `GET backups/${bk}`,
      'GET snapshots/detail',
      `DELETE snapshots/${snapId}`,
      `GET snapshots/${snapId}`,
      `GET snapshots/${snapId}`,
      `GET backups/${bk}/export_record`,
    ]);
    expect(fb.log).to.deep.equal([`GET backups/${bk}`, 'POST backups/import_record', `GET backups/${bk}`, `GET backups/${bk}`]);
    const marks = { 'ferry:plan': PLAN, 'ferry:point': 'pt1', 'ferry:source': VOL, 'ferry:run': 'run-7' };
    expect(fa.bodies[0]).to.deep.equal({
      path: 'POST snapshots',
      body: { snapshot: { volume_id: VOL, name, description: 'Ferry plan web, recovery point pt1', metadata: marks, force: true } },
    });
    expect(fa.bodies[1]).to.deep.equal({
      path: 'POST backups',
      body: { backup: { volume_id: VOL, snapshot_id: snapId, incremental: false, name, description: 'Ferry plan web, recovery point pt1 (full)', metadata: marks } },
    });
    expect(Object.keys((fb.bodies[0]!.body['backup-record'] as Json) ?? {}).sort()).to.deep.equal(['backup_service', 'backup_url']);
    expect([...fa.headers, ...fb.headers]).to.deep.equal(['volume 3.64', 'volume 3.64']);
    expect(ref).to.deep.equal({
      sourceVolumeId: VOL,
      mover: 'cinder-backup',
      primaryBackupId: bk,
      secondaryBackupId: bk,
      incremental: false,
      sizeGb: 1,
      dataTimestamp: `${String(fa.backups.get(bk)!.body.data_timestamp)}Z`, // Cinder's naive UTC time made ISO
      backupService: 'cinder.backup.drivers.posix.PosixBackupDriver',
    });
    expect(ref.dataTimestamp, 'the snapshot time').to.be.a('string');
    expect(fa.snapshots.size, 'the snapshot is gone').to.equal(0);
    expect(r.ok && r.adopted).to.deep.equal([]);
    expect(events).to.include.members(['snapshot:created', 'backup:created', 'import:created', 'import:done']);
  });

  it('asks again when Cinder gives a deleted snapshot back (SnapshotIsBusy)', async () => {
    const { A, B, fa } = world();
    fa.addVolume(VOL, 'in-use');
    fa.snapshotBusyDeletes = 2;
    const ref = okRef(await replicateVolume(A, B, VOL, opts('busy')));
    expect(ref.primaryBackupId).to.be.a('string');
    expect(fa.log.filter((l) => l.startsWith('DELETE snapshots/')), 'refused twice, then deleted').to.have.length(3);
    expect(fa.snapshots.size, 'the snapshot is gone').to.equal(0);
  });

  it('gives up on a snapshot that stays busy at the snapshot deadline, failing the volume at snapshot-delete', async () => {
    const w2 = world();
    w2.fa.addVolume(VOL, 'in-use');
    w2.fa.snapshotBusyDeletes = 1_000;
    const r = await replicateVolume(w2.A, w2.B, VOL, opts('busy2', { timeouts: { snapshotMs: 150 } }));
    expect(r.ok, 'never deletable: the volume fails at snapshot-delete').to.equal(false);
    expect(!r.ok && r.step).to.equal('snapshot-delete');
    expect(w2.fa.log.filter((l) => l.startsWith('DELETE snapshots/')).length, 'asked more than once before giving up').to.be.greaterThan(1);
  });

  it('an available volume is snapshotted without force', async () => {
    const { A, B, fa } = world();
    fa.addVolume(VOL, 'available');
    okRef(await replicateVolume(A, B, VOL, opts('pt1')));
    expect((fa.bodies[0]!.body.snapshot as Json).force).to.equal(undefined);
  });

  it('incremental on the previous point when it is available at both sites and Cinder will chain onto it', async () => {
    const { A, B, fa, fb } = world();
    fa.addVolume(VOL);
    const ref1 = okRef(await replicateVolume(A, B, VOL, opts('pt1', { cycle: 1 })));
    const ref2 = okRef(await replicateVolume(A, B, VOL, opts('pt2', { cycle: 2, parent: ref1, fullEvery: 3 })));
    expect(ref2).to.include({ incremental: true, parentBackupId: ref1.primaryBackupId });
    const post = fa.bodies.filter((b) => b.path === 'POST backups')[1]!.body.backup as Json;
    expect(post).to.include({ incremental: true, description: 'Ferry plan web, recovery point pt2 (incremental)' });
    expect(post.metadata).to.include({ 'ferry:parent': ref1.primaryBackupId });
    expect(fa.backups.get(ref2.primaryBackupId)!.parent, "Cinder's own choice").to.equal(ref1.primaryBackupId);
    expect(fb.backups.get(ref2.primaryBackupId)!.parent, 'the chain holds at B').to.equal(ref1.primaryBackupId);
  });

  it('full every Nth cycle (1, N+1, ...), and full whenever the parent is missing at a site or Cinder would chain elsewhere', async () => {
    expect([1, 2, 3, 4, 5, 7].map((c) => fullDue(c, 3))).to.deep.equal([true, false, false, true, false, true]);
    expect(fullDue(4, 0)).to.equal(false);
    const { A, B, fa, fb } = world();
    fa.addVolume(VOL);
    const ref1 = okRef(await replicateVolume(A, B, VOL, opts('pt1', { cycle: 1 })));
    const kinds = async (pointId: string, extra: Partial<VolumeMoveOptions>) => okRef(await replicateVolume(A, B, VOL, opts(pointId, extra))).incremental;
    expect(await kinds('pt4', { cycle: 4, fullEvery: 3, parent: ref1 }), 'cycle 4 of every 3').to.equal(false);
    const ref5 = okRef(await replicateVolume(A, B, VOL, opts('pt5', { cycle: 5, fullEvery: 3, parent: ref1 })));
    expect(ref5.incremental, 'ref1 is no longer the latest: Cinder would chain onto pt4').to.equal(false);
    const ref6 = okRef(await replicateVolume(A, B, VOL, opts('pt6', { cycle: 6, fullEvery: 3, parent: ref5 })));
    expect(ref6.incremental).to.equal(true);
    fb.backups.delete(ref6.primaryBackupId);
    expect(await kinds('pt7', { cycle: 8, fullEvery: 3, parent: ref6 }), 'parent missing at the secondary').to.equal(false);
    const last = okRef(await replicateVolume(A, B, VOL, opts('pt8', { cycle: 9, fullEvery: 3 })));
    expect(last.incremental, 'no parent given').to.equal(false);
  });

  it("predicts Cinder's parent: the latest data_timestamp before the snapshot's created_at", () => {
    const b = (id: string, ts: string) => ({ id, data_timestamp: ts }) as Backup;
    const list = [b('x', '2026-11-27T03:00:01.000000'), b('y', '2026-11-27T03:00:05.000000'), b('z', '2026-11-27T03:00:09.000000')];
    expect(predictCinderParent(list, { created_at: '2026-11-27T03:00:07.000000' })?.id).to.equal('y');
    expect(predictCinderParent(list, { created_at: '2026-11-27T03:00:10' })?.id).to.equal('z');
    expect(predictCinderParent(list, { created_at: '2026-11-27T03:00:00.000000' })?.id, "Python's max keeps the first").to.equal('x');
    expect(predictCinderParent([], { created_at: '2026-11-27T03:00:00' })).to.equal(undefined);
  });

  it('a crash after any step: re-running creates nothing twice (one POST each) and leaves no snapshot', async () => {
    const crashPoints: [MoverStep, MoverProgress['event']][] = [
      ['snapshot', 'created'],
      ['snapshot', 'done'],
      ['backup', 'created'],
      ['backup', 'done'],
      ['snapshot-delete', 'done'],
      ['export', 'done'],
      ['import', 'created'],
    ];
    for (const [step, event] of crashPoints) {
      nock.cleanAll();
      const { A, B, fa, fb } = world();
      fa.addVolume(VOL);
      const crash = new AbortController();
      const first = await replicateVolume(A, B, VOL, {
        ...opts('pt1'),
        signal: crash.signal,
        onProgress: (p) => {
          if (p.step === step && p.event === event) crash.abort(new Error(`crash after ${step} ${event}`));
        },
      });
      expect(first.ok, `${step} ${event}`).to.equal(false);
      const again = await replicateVolume(A, B, VOL, opts('pt1'));
      const ref = okRef(again);
      expect([fa.posts('snapshots'), fa.posts('backups'), fb.posts('backups/import_record')], `${step} ${event}`).to.deep.equal([1, 1, 1]);
      expect(fa.snapshots.size, `${step} ${event}: no snapshot left`).to.equal(0);
      expect(fa.backups.size).to.equal(1);
      expect(fb.backups.get(ref.secondaryBackupId)!.body.status).to.equal('available');
      const third = okRef(await replicateVolume(A, B, VOL, opts('pt1')));
      expect(third).to.deep.equal(ref);
      expect(again.ok && again.adopted.length, `${step} ${event}: something was adopted`).to.be.greaterThan(0);
    }
  });

  it('a lost create response (the snapshot or import happened, the reply did not) is adopted on the re-run', async () => {
    const { A, B, fa, fb } = world();
    fa.addVolume(VOL);
    fa.loseResponse.add('POST snapshots');
    const first = await replicateVolume(A, B, VOL, opts('pt1'));
    expect(first.ok || first.step).to.equal('snapshot');
    fb.loseResponse.add('POST backups/import_record');
    const second = await replicateVolume(A, B, VOL, opts('pt1'));
    expect(second.ok || second.step).to.equal('import');
    const ref = okRef(await replicateVolume(A, B, VOL, opts('pt1')));
    expect([fa.posts('snapshots'), fa.posts('backups'), fb.posts('backups/import_record')]).to.deep.equal([1, 1, 1]);
    expect(ref.secondaryBackupId).to.equal(ref.primaryBackupId);
  });

  it('failed leftovers are replaced: an error backup at the primary and an error import at the secondary', async () => {
    const { A, B, fa, fb } = world();
    fa.addVolume(VOL);
    fa.failBackupsOf.add(VOL);
    const first = await replicateVolume(A, B, VOL, opts('pt1'));
    expect(first.ok).to.equal(false);
    if (!first.ok) expect(first.error.message).to.match(/went to error: posix driver: disk full/);
    fa.failBackupsOf.clear();
    const ref = okRef(await replicateVolume(A, B, VOL, opts('pt1')));
    expect(fa.log.filter((l) => l.startsWith('DELETE backups/'))).to.have.length(1);
    expect(fa.posts('backups')).to.equal(2);
    fb.backups.get(ref.secondaryBackupId)!.body.status = 'error';
    okRef(await replicateVolume(A, B, VOL, opts('pt1')));
    expect(fb.log.filter((l) => l.startsWith('DELETE backups/'))).to.deep.equal([`DELETE backups/${ref.secondaryBackupId}`]);
    expect(fb.posts('backups/import_record')).to.equal(2);
  });

  it('adopts at the secondary: a backup already there (GET first), or "already exists" from import_record', async () => {
    const { A, B, fa, fb } = world();
    fa.addVolume(VOL);
    const ref = okRef(await replicateVolume(A, B, VOL, opts('pt1')));
    // Same point again at a fresh primary state: the secondary already holds the ID.
    fb.log.length = 0;
    const again = await replicateVolume(A, B, VOL, opts('pt1'));
    expect(okRef(again)).to.deep.equal(ref);
    expect(fb.log).to.deep.equal([`GET backups/${ref.primaryBackupId}`, `GET backups/${ref.primaryBackupId}`]);
    expect(again.ok && again.adopted).to.include('import');
    // A racing importer: GET says 404, import says it already exists.
    fb.log.length = 0;
    fb.hideOnce.add(ref.primaryBackupId);
    const raced = await replicateVolume(A, B, VOL, opts('pt1'));
    expect(okRef(raced)).to.deep.equal(ref);
    expect(fb.log).to.deep.equal([`GET backups/${ref.primaryBackupId}`, 'POST backups/import_record', `GET backups/${ref.primaryBackupId}`]);
  });

  it('one failing volume makes the point partial; all failing makes it failed', async () => {
    const { A, B, fa } = world();
    const vols = ['v1000000-0000', 'v2000000-0000', 'v3000000-0000'];
    for (const v of vols) fa.addVolume(v);
    fa.failBackupsOf.add('v2000000-0000');
    const res = await replicateVolumes(A, B, [...vols, 'v4000000-gone'], { plan: PLAN, pointId: 'pt1', ...fast });
    expect(res.status).to.equal('partial');
    expect(res.refs.map((r) => r.sourceVolumeId)).to.deep.equal(['v1000000-0000', 'v3000000-0000']);
    const failed = res.results.filter((r) => !r.ok);
    expect(failed.map((r) => [r.volumeId, !r.ok && r.step])).to.deep.equal([
      ['v2000000-0000', 'backup'],
      ['v4000000-gone', 'volume'],
    ]);
    const none = await replicateVolumes(A, B, ['v4000000-gone'], { plan: PLAN, pointId: 'pt2', ...fast });
    expect(none.status).to.equal('failed');
    const all = await replicateVolumes(A, B, [], { plan: PLAN, pointId: 'pt3', ...fast });
    expect(all.status).to.equal('complete');
  });

  it('passes each volume its own parent from `parents` (object or Map)', async () => {
    const { A, B, fa } = world();
    fa.addVolume('v1000000-0000');
    fa.addVolume('v2000000-0000');
    const p1 = await replicateVolumes(A, B, [{ id: 'v1000000-0000' }, 'v2000000-0000'], { plan: PLAN, pointId: 'pt1', cycle: 1, ...fast });
    const byVol = Object.fromEntries(p1.refs.map((r) => [r.sourceVolumeId, r]));
    const p2 = await replicateVolumes(A, B, ['v1000000-0000', 'v2000000-0000'], { plan: PLAN, pointId: 'pt2', cycle: 2, parents: { 'v1000000-0000': byVol['v1000000-0000'] }, ...fast });
    expect(p2.refs.map((r) => r.incremental)).to.deep.equal([true, false]);
    const p3 = await replicateVolumes(A, B, ['v1000000-0000', 'v2000000-0000'], { plan: PLAN, pointId: 'pt3', cycle: 3, parents: new Map(p2.refs.map((r) => [r.sourceVolumeId, r])), ...fast });
    expect(p3.refs.map((r) => r.parentBackupId)).to.deep.equal(p2.refs.map((r) => r.primaryBackupId));
  });

  it('bounds concurrency per site: at most N volumes in their primary steps and N imports at once', async () => {
    for (const n of [1, 2, 3]) {
      nock.cleanAll();
      const { A, B, fa, fb } = world();
      const vols = [1, 2, 3, 4, 5, 6].map((i) => `v${i}000000-0000`);
      for (const v of vols) fa.addVolume(v);
      const inA = new Set<string>();
      const inB = new Set<string>();
      let maxA = 0;
      let maxB = 0;
      const backupVol = (id: string, f: FakeCinder) => f.backups.get(id)?.body.volume_id as string;
      fa.onRequest = (method, path) => {
        if (method === 'GET' && path.startsWith('volumes/')) inA.add(path.slice(8));
        if (path.endsWith('/export_record')) inA.delete(backupVol(path.split('/')[1]!, fa));
        maxA = Math.max(maxA, inA.size);
      };
      fb.onRequest = (method, path, answer) => {
        if (method === 'POST' && path === 'backups/import_record') inB.add(String((answer?.backup as Json)?.id));
        const b = answer?.backup as Json | undefined;
        if (method === 'GET' && b?.status === 'available') inB.delete(String(b.id));
        maxB = Math.max(maxB, inB.size);
      };
      const res = await replicateVolumes(A, B, vols, { plan: PLAN, pointId: 'pt1', concurrency: n, ...fast });
      expect(res.status).to.equal('complete');
      expect(maxA, `primary, concurrency ${n}`).to.equal(n);
      expect(maxB, `secondary, concurrency ${n}`).to.be.within(1, n);
      expect(fb.backups.size).to.equal(6);
    }
  });

  it('retention deletes children before parents, waits for has_dependent_backups, and is idempotent', async () => {
    const { A, fa } = world();
    fa.addVolume(VOL);
    fa.addBackup('full', VOL, { metadata: { 'ferry:plan': PLAN } });
    fa.addBackup('inc1', VOL, { is_incremental: true, metadata: { 'ferry:plan': PLAN, 'ferry:parent': 'full' } }, 'full');
    fa.addBackup('inc2', VOL, { is_incremental: true, metadata: { 'ferry:plan': PLAN, 'ferry:parent': 'inc1' } }, 'inc1');
    const ref = (id: string, parent?: string): VolumeDataRef => ({
      sourceVolumeId: VOL,
      mover: 'cinder-backup',
      primaryBackupId: id,
      secondaryBackupId: id,
      incremental: !!parent,
      sizeGb: 1,
      dataTimestamp: '2026-11-27T03:00:00.000000',
      backupService: 'posix',
      ...(parent ? { parentBackupId: parent } : {}),
    });
    const order: string[] = [];
    const res = await deleteBackupChain(A, [ref('full'), ref('inc1', 'full'), ref('inc2', 'inc1')], { ...fast, onDeleted: (id) => order.push(id) });
    expect(res).to.deep.equal({ deleted: ['inc2', 'inc1', 'full'], missing: [] });
    expect(fa.log.filter((l) => l.startsWith('DELETE'))).to.deep.equal(['DELETE backups/inc2', 'DELETE backups/inc1', 'DELETE backups/full']);
    expect(order).to.deep.equal(res.deleted);
    expect(await deleteBackupChain(A, [ref('full'), ref('inc1', 'full')], fast)).to.deep.equal({ deleted: [], missing: ['full', 'inc1'] });
  });

  it('retention with plain IDs orders by the ferry:parent marks, and waits while a child outside the set goes away', async () => {
    const { B, fb } = world();
    fb.addBackup('full', VOL, { metadata: { 'ferry:plan': PLAN } });
    fb.addBackup('inc1', VOL, { is_incremental: true, metadata: { 'ferry:plan': PLAN, 'ferry:parent': 'full' } }, 'full');
    fb.addBackup('other', VOL, { is_incremental: true, metadata: {} }, 'inc1');
    let gets = 0;
    fb.onGet = (id) => {
      if (id === 'inc1' && ++gets === 3) {
        fb.backups.delete('other');
        fb.backups.get('inc1')!.deps = 0;
      }
    };
    const res = await deleteBackupChain(B, ['full', 'inc1'], { ...fast, side: 'secondary' });
    expect(res.deleted).to.deep.equal(['inc1', 'full']);
    expect(gets, 'polled while has_dependent_backups was true').to.be.greaterThan(2);
    expect(fb.log.filter((l) => l.startsWith('DELETE'))).to.deep.equal(['DELETE backups/inc1', 'DELETE backups/full']);
  });

  it('retention at a secondary: imports never set has_dependent_backups, so the "Incremental backups exist" refusal is waited out', async () => {
    const { A, B, fa, fb } = world();
    fa.addVolume(VOL);
    const ref1 = okRef(await replicateVolume(A, B, VOL, opts('pt1', { cycle: 1 })));
    const ref2 = okRef(await replicateVolume(A, B, VOL, opts('pt2', { cycle: 2, parent: ref1 })));
    expect(fb.backups.get(ref1.secondaryBackupId)!.deps, 'as in the lab').to.equal(0);
    // The parent alone (its child is not in the set): refused until someone removes the child.
    let refusals = 0;
    fb.onRequest = (method, path) => {
      if (method === 'DELETE' && path === `backups/${ref1.secondaryBackupId}` && ++refusals === 2) fb.backups.delete(ref2.secondaryBackupId);
    };
    const res = await deleteBackupChain(B, [ref1], { ...fast, side: 'secondary' });
    expect(res.deleted).to.deep.equal([ref1.secondaryBackupId]);
    expect(fb.log.filter((l) => l.startsWith('DELETE')), 'refused twice, then deleted').to.have.length(3);
    // A refusal that never clears ends in the 400 once dependentsMs has passed.
    fa.onRequest = undefined;
    let caught: unknown;
    try {
      await deleteBackupChain(A, [ref1.primaryBackupId], { ...fast, side: 'primary', timeouts: { dependentsMs: 20 } });
    } catch (e) {
      caught = e;
    }
    expect(String(caught)).to.match(/has_dependent_backups|Incremental backups exist/);
    expect(fa.backups.has(ref1.primaryBackupId)).to.equal(true);
  });

  it('retention gives up when dependents never clear (timeout names the backup)', async () => {
    const { A, fa } = world();
    fa.addBackup('full', VOL);
    fa.addBackup('child', VOL, { is_incremental: true }, 'full');
    let caught: unknown;
    try {
      await deleteBackupChain(A, ['full'], { ...fast, timeouts: { dependentsMs: 30 } });
    } catch (e) {
      caught = e;
    }
    expect(String(caught)).to.match(/backup full did not reach .* \(last status has_dependent_backups\)/);
    expect(fa.log.filter((l) => l.startsWith('DELETE'))).to.deep.equal([]);
  });

  it('findOrphans: snapshots and backups marked with the plan whose point is unknown', async () => {
    const { A, B, fa } = world();
    fa.addVolume(VOL);
    const crash = new AbortController();
    await replicateVolume(A, B, VOL, { ...opts('lost'), signal: crash.signal, onProgress: (p) => p.step === 'backup' && p.event === 'created' && crash.abort(new Error('crash')) });
    okRef(await replicateVolume(A, B, VOL, opts('kept')));
    fa.addBackup('foreign', VOL, { metadata: { 'ferry:plan': 'other', 'ferry:point': 'x' } });
    const orphans = await findOrphans(A, PLAN, ['kept']);
    expect(orphans.snapshots.map((s) => s.metadata['ferry:point'])).to.deep.equal(['lost']);
    expect(orphans.backups.map((b) => b.metadata?.['ferry:point'])).to.deep.equal(['lost']);
    expect(fa.log).to.include('GET snapshots/detail');
    const all = await findOrphans(A, PLAN, []);
    expect(all.backups).to.have.length(2);
  });

  it('refuses before any create when the primary cannot mark backups (below 3.43)', async () => {
    mockAuth(2);
    mockCinderVersion('3.40');
    mockCinderVersionB();
    const A = testSite().site;
    const B = testSite({ name: 'site-b', endpoint_overrides: { 'block-storage': `${CINDER_B}/v3/%(project_id)s` } }).site;
    const fa = new FakeCinder(CINDER, 'a').install();
    fa.addVolume(VOL);
    const r = await replicateVolume(A, B, VOL, opts('pt1'));
    expect(r.ok).to.equal(false);
    if (!r.ok) {
      expect(r.error).to.be.instanceOf(NotSupportedError);
      expect(r.error.message).to.match(/backup metadata .* needs microversion 3\.43/);
    }
    expect(fa.log.filter((l) => l.startsWith('POST'))).to.deep.equal([]);
  });
});
