// The cinder-backup mover against the real lab: a 1 GiB volume with known bytes at site A,
// attached to a server, replicated to site B in a full then an incremental cycle, each point
// restored at B and checksummed against A; a cycle that crashed mid-backup re-run without
// duplicates; retention deleting both chains; nothing marked with the plan left behind.
import { expect } from 'chai';
import type { HttpError } from '../../lib/errors.js';
import { deleteBackup, getBackup, listBackups } from '../../lib/openstack/blockstorage/backups.js';
import { getSnapshot, listSnapshots } from '../../lib/openstack/blockstorage/snapshots.js';
import { createVolume, getVolume, waitForVolume } from '../../lib/openstack/blockstorage/volumes.js';
import { attachVolume, detachVolume } from '../../lib/openstack/compute/volumeattachments.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { Site } from '../../lib/openstack/site.js';
import {
  createPointBackup,
  deleteBackupChain,
  ensureSnapshot,
  findOrphans,
  findPointBackups,
  findPointSnapshots,
  markedName,
  replicateVolumes,
  type MoverOptions,
  type MoverProgress,
  type ReplicateOptions,
  type ReplicateResult,
} from '../../lib/replication/cinder-backup.js';
import { FERRY_MARKS, type VolumeDataRef } from '../../lib/replication/types.js';
import { RUN_TAG, TIMEOUTS, labSite, uniqueName, useLab, type Cleanup } from './support/lab.js';
import { volumeSha256, writeVolumeBytes } from './support/volume-data.js';
import { LAB_TAG_KEY, labImageServer, labNetwork, purgePlanArtifacts, removeVolume, restoreAndHash as restoreAndHashAt } from './support/workload.js';

const TAG_KEY = LAB_TAG_KEY;

/** A network with a subnet and a server booted on it (fake driver), all removed afterwards. */
async function bootServer(c: Cleanup, site: Site): Promise<string> {
  const { networkId } = await labNetwork(c, site);
  return (await labImageServer(c, site, networkId)).serverId;
}

/** Restores a backup at site B into a new volume, waits for it, returns the volume's sha256. */
async function restoreAndHash(c: Cleanup, b: Site, backupId: string): Promise<{ sha: string; ms: number }> {
  const r = await restoreAndHashAt(c, b, backupId);
  return { sha: r.sha, ms: r.ms };
}

const purgePlan = purgePlanArtifacts;

function only(result: ReplicateResult): VolumeDataRef {
  expect(result.status, JSON.stringify(result.results.map((r) => (r.ok ? r.volumeId : `${r.volumeId} ${r.step}: ${r.error.message}`)))).to.equal('complete');
  expect(result.refs).to.have.length(1);
  return result.refs[0]!;
}

describe('lab: replication with the cinder-backup mover', function () {
  this.timeout(1_800_000);
  const { cleanup } = useLab();

  it('full, then incremental, restored at B with equal checksums; a crashed cycle re-run without duplicates; retention removes both chains', async () => {
    const A = labSite('lab-a');
    const B = labSite('lab-b');
    const a = A.blockStorage;
    const c = cleanup();
    const plan = uniqueName('plan');
    const seed = uniqueName('seed');
    const log: string[] = [];
    const timings: Record<string, number> = {};
    const timed = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      const t0 = Date.now();
      try {
        return await fn();
      } finally {
        timings[what] = Date.now() - t0;
      }
    };

    // A 1 GiB volume with known bytes, attached to a server.
    const serverId = await bootServer(c, A);
    const created = await createVolume(a, { size: 1, name: uniqueName('data'), metadata: { [TAG_KEY]: RUN_TAG } });
    c.add(`lab-a volume ${created.id}`, () => removeVolume(a, created.id));
    await waitForVolume(a, created.id, ['available'], { timeoutMs: TIMEOUTS.volume });
    const volId = created.id;
    await writeVolumeBytes('a', volId, { lengthMb: 8, seed: `${seed}-1` });
    const sha1 = await volumeSha256('a', volId);
    await attachVolume(A.compute, serverId, { volumeId: volId });
    c.add(`lab-a attachment ${serverId}/${volId}`, async () => {
      if (await detachVolume(A.compute, serverId, volId)) await waitForVolume(a, volId, ['available'], { timeoutMs: TIMEOUTS.volume });
    });
    await waitForVolume(a, volId, ['in-use'], { timeoutMs: TIMEOUTS.volume });
    // Whatever the test leaves marked with the plan goes first (before the volume and server).
    c.add(`plan ${plan} at lab-b`, () => purgePlan(B, plan));
    c.add(`plan ${plan} at lab-a`, () => purgePlan(A, plan));

    const base: Omit<ReplicateOptions, 'pointId'> = {
      plan,
      run: RUN_TAG,
      fullEvery: 0,
      pollIntervalMs: 1000,
      maxPollIntervalMs: 3000,
      timeouts: { snapshotMs: TIMEOUTS.volume, backupMs: TIMEOUTS.backup, importMs: TIMEOUTS.backup, deleteMs: TIMEOUTS.backup },
      onProgress: (p: MoverProgress) => {
        if (p.event !== 'waiting') log.push(`${(p.elapsedMs / 1000).toFixed(1)}s ${p.step} ${p.event}${p.id ? ` ${p.id}` : ''}${p.detail ? ` (${p.detail})` : ''}`);
      },
    };

    // Cycle 1: full.
    const ref1 = only(await timed('cycle 1 (full)', () => replicateVolumes(A, B, [volId], { ...base, pointId: 'p1', cycle: 1 })));
    expect(ref1).to.include({ sourceVolumeId: volId, mover: 'cinder-backup', incremental: false, sizeGb: 1 });
    expect(ref1.secondaryBackupId).to.equal(ref1.primaryBackupId);
    expect(ref1.parentBackupId).to.equal(undefined);
    expect(ref1.backupService, 'the lab store: posix or swift').to.match(/^cinder\.backup\.drivers\./);
    const b1 = await getBackup(a, ref1.primaryBackupId);
    expect(b1.name).to.equal(markedName(plan, 'p1', volId));
    expect(b1.metadata).to.include({ [FERRY_MARKS.plan]: plan, [FERRY_MARKS.point]: 'p1', [FERRY_MARKS.source]: volId });
    expect((await getBackup(B.blockStorage, ref1.secondaryBackupId)).metadata, 'the import keeps the marks').to.include({ [FERRY_MARKS.plan]: plan });
    expect(await findPointSnapshots(A, volId, { plan, pointId: 'p1' }), 'the snapshot is removed').to.deep.equal([]);
    const r1 = await restoreAndHash(c, B, ref1.secondaryBackupId);
    timings['restore p1 at B'] = r1.ms;
    expect(r1.sha, 'point 1 restored at B = bytes at A').to.equal(sha1);

    // Change bytes; cycle 2: incremental on point 1.
    await writeVolumeBytes('a', volId, { offsetMb: 4, lengthMb: 8, seed: `${seed}-2` });
    const sha2 = await volumeSha256('a', volId);
    expect(sha2).to.not.equal(sha1);
    const ref2 = only(await timed('cycle 2 (incremental)', () => replicateVolumes(A, B, [volId], { ...base, pointId: 'p2', cycle: 2, parents: { [volId]: ref1 } })));
    expect(ref2).to.include({ incremental: true, parentBackupId: ref1.primaryBackupId });
    expect((await getBackup(a, ref1.primaryBackupId)).has_dependent_backups).to.equal(true);
    // Cinder fact: import_record never counts dependents, so at B the flag stays false; delete
    // still refuses the parent (it checks parent_id), which is why retention orders the chain.
    expect((await getBackup(B.blockStorage, ref1.secondaryBackupId)).has_dependent_backups, 'imports do not set the flag').to.equal(false);
    const refused = await deleteBackup(B.blockStorage, ref1.secondaryBackupId).then(
      () => undefined,
      (e: unknown) => e as HttpError,
    );
    expect(refused?.status, 'the parent at B cannot be deleted before its child').to.equal(400);
    expect(refused?.detail).to.match(/Incremental backups exist/);
    const r2 = await restoreAndHash(c, B, ref2.secondaryBackupId);
    timings['restore p2 at B'] = r2.ms;
    expect(r2.sha, 'point 2 restored at B = bytes at A').to.equal(sha2);

    // Cycle 3 crashes mid-backup: snapshot taken, backup started, the process "dies" (abort).
    await writeVolumeBytes('a', volId, { offsetMb: 100, lengthMb: 4, seed: `${seed}-3` });
    const o3: MoverOptions & { parent: VolumeDataRef; cycle: number } = { ...base, pointId: 'p3', cycle: 3, parent: ref2 };
    const vol = await getVolume(a, volId);
    const snap3 = await ensureSnapshot(A, vol, o3);
    const crash = new AbortController();
    let abandoned: string | undefined;
    const err = await createPointBackup(A, B, volId, snap3, {
      ...o3,
      signal: crash.signal,
      onProgress: (p) => {
        if (p.step === 'backup' && p.event === 'created') {
          abandoned = p.id;
          crash.abort(new Error('simulated crash'));
        }
      },
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).to.equal('simulated crash');
    expect(abandoned).to.be.a('string');
    expect((await getSnapshot(a, snap3.id)).status, 'left behind mid-backup').to.be.oneOf(['backing-up', 'available']);

    const adoptedSteps: string[] = [];
    const res3 = await timed('cycle 3 re-run after the crash', () =>
      replicateVolumes(A, B, [volId], {
        ...base,
        pointId: 'p3',
        cycle: 3,
        parents: { [volId]: ref2 },
        onProgress: (p) => {
          base.onProgress!(p);
          if (p.event === 'adopted') adoptedSteps.push(p.step);
        },
      }),
    );
    const ref3 = only(res3);
    expect(ref3.primaryBackupId, 'the abandoned backup is adopted').to.equal(abandoned);
    expect(ref3).to.include({ incremental: true, parentBackupId: ref2.primaryBackupId });
    expect(adoptedSteps).to.include('backup');
    const name3 = markedName(plan, 'p3', volId);
    expect((await collect(listBackups(a, { volume_id: volId, name: name3 }))).map((x) => x.id), 'one backup for point 3 at A').to.deep.equal([abandoned]);
    expect((await findPointBackups(A, volId, { plan, pointId: 'p3' })).length).to.equal(1);
    expect((await collect(listBackups(B.blockStorage, { volume_id: volId, name: name3 }))).map((x) => x.id), 'one backup for point 3 at B').to.deep.equal([abandoned]);
    expect(await collect(listSnapshots(a, { volume_id: volId, metadata: { [FERRY_MARKS.plan]: plan } })), 'no snapshot of the plan remains').to.deep.equal([]);
    expect(await findOrphans(A, plan, ['p1', 'p2', 'p3'])).to.deep.equal({ snapshots: [], backups: [] });

    // Running the finished cycle again creates nothing and returns the same ref.
    const again = only(await replicateVolumes(A, B, [volId], { ...base, pointId: 'p3', cycle: 3, parents: { [volId]: ref2 } }));
    expect(again).to.deep.equal(ref3);

    // Retention: both chains, given parent first; deleted children first.
    const refs = [ref1, ref2, ref3];
    const atB = await timed('retention at B', () => deleteBackupChain(B, refs, { side: 'secondary', timeouts: base.timeouts, maxPollIntervalMs: 3000 }));
    expect(atB.deleted).to.deep.equal([ref3.secondaryBackupId, ref2.secondaryBackupId, ref1.secondaryBackupId]);
    const atA = await timed('retention at A', () => deleteBackupChain(A, refs, { side: 'primary', timeouts: base.timeouts, maxPollIntervalMs: 3000 }));
    expect(atA.deleted).to.deep.equal([ref3.primaryBackupId, ref2.primaryBackupId, ref1.primaryBackupId]);
    expect(await deleteBackupChain(A, refs), 'idempotent').to.deep.equal({ deleted: [], missing: refs.map((r) => r.primaryBackupId) });
    expect(await findOrphans(A, plan, []), 'nothing marked with the plan at A').to.deep.equal({ snapshots: [], backups: [] });
    expect(await findOrphans(B, plan, []), 'nothing marked with the plan at B').to.deep.equal({ snapshots: [], backups: [] });

    console.log(`      plan ${plan}, volume ${volId} (1 GiB; 8 MiB written, then 8 MiB at 4 MiB, then 4 MiB at 100 MiB)`);
    console.log(`      sha point 1 ${sha1}\n      sha point 2 ${sha2}`);
    console.log(`      backups: p1 ${b1.object_count} objects full; p2 incremental; p3 incremental (adopted after crash)`);
    for (const [k, v] of Object.entries(timings)) console.log(`      ${k}: ${(v / 1000).toFixed(1)} s`);
    console.log(`      progress:\n        ${log.join('\n        ')}`);
  });
});
