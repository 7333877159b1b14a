// The protection scenario of the issue, end to end through the `ferry` CLI against the lab:
// at site A a server booted from a volume with an attached data volume holding known bytes, and
// a server booted from an image; `ferry plan apply`; `ferry replicate` (full); the bytes change;
// `ferry replicate` (incremental). Then site A is cut off: the points are listed from site B's
// bank, every volume of every point is restored at B with plain Cinder and its checksum equals
// what A held at that point; the catalog is wiped and rebuilt from B's object store alone.
// Site A healed, `ferry plan delete --purge` leaves nothing marked with the plan at either site.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { listRecoveryPoints } from '../../lib/replication/bank.js';
import { findOrphans } from '../../lib/replication/cinder-backup.js';
import type { RecoveryPointManifest } from '../../lib/replication/recovery-point.js';
import { cli } from './support/cli.js';
import { labSite, uniqueName, useLab } from './support/lab.js';
import { volumeSha256, writeVolumeBytes } from './support/volume-data.js';
import { bootFromVolumeWorkload, labImageServer, purgePlanArtifacts, removeVolume, restoreAndHash } from './support/workload.js';

const exec = promisify(execFile);
/** The lab's posix backup store (LAB_BACKUP_STORE=posix, the default): its growth is what a cycle moved. */
const BACKUP_STORE = join(process.env.LAB_STATE ?? '/var/lib/ferry-lab', 'backups');

async function storeBytes(): Promise<number | undefined> {
  if (!existsSync(BACKUP_STORE)) return undefined;
  const { stdout } = await exec('du', ['-sb', BACKUP_STORE]);
  return Number(stdout.split('\t')[0]);
}
const DISASTER = join(import.meta.dirname, '..', '..', 'devstack', 'lab', 'lab-disaster.sh');

interface PointRow {
  id: string;
  createdAt: string;
  status: string;
  consistency: string;
  volumes: number;
  images: number;
  sizeBytes: number | null;
}

describe('lab: protection end to end (plan apply, replicate full and incremental, points at B, restore, rebuild)', function () {
  this.timeout(2_400_000);
  const { cleanup } = useLab();
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-protect-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every point restorable at B with the bytes A had, without A and without the catalog', async () => {
    const A = labSite('lab-a');
    const B = labSite('lab-b');
    const c = cleanup();
    const db = `sqlite://${join(dir, 'catalog.db')}`;
    const { ferry, ok } = cli(db);
    const timings: Record<string, number> = {};
    const stored: Record<string, number | undefined> = {};

    // ---- the workload at A
    const seed = uniqueName('seed');
    const w = await bootFromVolumeWorkload(c, A, { seed: `${seed}-1`, dataMb: 16 });
    const imageServer = await labImageServer(c, A, w.networkId);
    const plan = uniqueName('plan');
    c.add(`plan ${plan} marks at lab-b`, () => purgePlanArtifacts(B, plan));
    c.add(`plan ${plan} marks at lab-a`, () => purgePlanArtifacts(A, plan));
    const shas: Record<string, Record<string, string>> = {};
    const snapshotShas = async (label: string) => {
      shas[label] = { [w.bootVolumeId]: await volumeSha256('a', w.bootVolumeId), [w.dataVolumeId]: await volumeSha256('a', w.dataVolumeId) };
    };

    // ---- the plan
    const planFile = join(dir, 'plan.yaml');
    writeFileSync(
      planFile,
      stringify({
        name: plan,
        description: 'lab protection scenario',
        project: 'admin',
        primary: 'lab-a',
        secondary: 'lab-b',
        tier: 'pilot-light',
        rpo: '15m',
        retention: { count: 5 },
        full_every: 7,
        members: [{ server: w.serverName }, { server: imageServer.serverName }],
        mappings: { networks: [{ from: w.networkName, recreate: true }] },
      }),
    );
    const applied = await ok('plan', 'apply', planFile);
    c.add(`catalog plan ${plan}`, async () => {
      await ferry('plan', 'delete', plan, '--purge', '--yes');
    });
    expect(applied.out, 'apply says what it created').to.include(plan);
    const listed = JSON.parse((await ok('plan', 'list', '-f', 'json')).out) as { name: string }[];
    expect(listed.map((p) => p.name)).to.include(plan);

    // ---- cycle 1: full
    await snapshotShas('p1');
    const store0 = await storeBytes();
    let t0 = Date.now();
    const r1 = await ok('replicate', plan, '-f', 'json');
    timings['cycle 1 (full)'] = Date.now() - t0;
    const store1 = await storeBytes();
    if (store0 !== undefined && store1 !== undefined) stored['cycle 1 (full)'] = store1 - store0;
    const cycle1 = JSON.parse(r1.out) as { pointId: string; status: string; bytes: { volumes: number; images: number } };
    expect(cycle1.status).to.equal('complete');
    expect(r1.err, 'progress lines on stderr (not a terminal)').to.match(/volumes: (start|done)/);

    // ---- the bytes change; cycle 2: incremental
    await writeVolumeBytes('a', w.dataVolumeId, { offsetMb: 8, lengthMb: 16, seed: `${seed}-2` });
    await snapshotShas('p2');
    expect(shas.p2![w.dataVolumeId]).to.not.equal(shas.p1![w.dataVolumeId]);
    t0 = Date.now();
    const r2 = await ok('replicate', plan, '-f', 'json');
    timings['cycle 2 (incremental)'] = Date.now() - t0;
    const store2 = await storeBytes();
    if (store1 !== undefined && store2 !== undefined) stored['cycle 2 (incremental)'] = store2 - store1;
    const cycle2 = JSON.parse(r2.out) as typeof cycle1;
    expect(cycle2.status).to.equal('complete');

    const points = JSON.parse((await ok('points', 'list', plan, '-f', 'json')).out) as PointRow[];
    expect(points.map((p) => p.id), 'newest first').to.deep.equal([cycle2.pointId, cycle1.pointId]);
    for (const p of points) expect(p).to.include({ status: 'complete', consistency: 'crash', volumes: 2, images: 1 });
    const manifestOf = async (id: string, from?: string): Promise<RecoveryPointManifest> =>
      (JSON.parse((await ok('points', 'show', plan, id, '-f', 'json', ...(from ? ['--from', from] : []))).out) as { manifest: RecoveryPointManifest }).manifest;
    const m1 = await manifestOf(cycle1.pointId);
    const m2 = await manifestOf(cycle2.pointId);
    const dataRef = (m: RecoveryPointManifest) => m.data.volumes.find((v) => v.sourceVolumeId === w.dataVolumeId)!;
    expect(dataRef(m1).incremental, 'point 1 is full').to.equal(false);
    expect(dataRef(m2)).to.include({ incremental: true, parentBackupId: dataRef(m1).primaryBackupId });
    expect(m1.members.map((m) => m.server.name).sort()).to.deep.equal([w.serverName, imageServer.serverName].sort());
    const boot = m1.members.find((m) => m.server.id === w.serverId)!;
    expect(boot.volumes.find((v) => v.id === w.bootVolumeId)?.bootable, 'the boot volume is a member volume').to.equal(true);
    expect(m1.data.images.map((i) => i.sourceImageId), "the image server's image is in the point").to.deep.equal([imageServer.imageId]);

    const status = JSON.parse((await ok('status', plan, '-f', 'json')).out) as { plan: string; rpoMet: boolean; currentRpoMs: number }[];
    expect(status[0]).to.include({ plan, rpoMet: true });
    expect(status[0]!.currentRpoMs).to.be.below(15 * 60_000);

    // ---- site A cut off: the points live on at B
    await exec('bash', [DISASTER, 'a', 'cut']);
    c.add('heal site a', () => exec('bash', [DISASTER, 'a', 'heal']));
    const fromBank = JSON.parse((await ok('points', 'list', plan, '--from', 'lab-b', '-f', 'json')).out) as { id: string; state: string }[];
    expect(fromBank.map((p) => [p.id, p.state])).to.deep.equal([
      [cycle2.pointId, 'complete'],
      [cycle1.pointId, 'complete'],
    ]);
    for (const [label, id] of [
      ['p1', cycle1.pointId],
      ['p2', cycle2.pointId],
    ] as const) {
      const m = await manifestOf(id, 'lab-b');
      expect(m.data.volumes).to.have.length(2);
      for (const ref of m.data.volumes) {
        t0 = Date.now();
        const restored = await restoreAndHash(c, B, ref.secondaryBackupId);
        timings[`restore ${label} ${ref.sourceVolumeId === w.dataVolumeId ? 'data' : 'boot'} at B`] = Date.now() - t0;
        expect(restored.sha, `${label}: volume ${ref.sourceVolumeId} restored at B = A's bytes at that point`).to.equal(shas[label]![ref.sourceVolumeId]);
        await removeVolume(B.blockStorage, restored.volumeId); // B's Ceph is small
      }
    }

    // ---- the catalog is lost; rebuilt from B's object store while A is still cut
    rmSync(join(dir, 'catalog.db'), { force: true });
    const gone = await ferry('points', 'list', plan);
    expect(gone.code, 'an empty catalog does not know the plan').to.equal(1);
    expect(gone.err).to.include('catalog rebuild');
    await ok('catalog', 'rebuild', '--from', 'lab-b');
    const rebuilt = JSON.parse((await ok('points', 'list', plan, '-f', 'json')).out) as PointRow[];
    expect(rebuilt.map((p) => [p.id, p.createdAt, p.status, p.volumes])).to.deep.equal(points.map((p) => [p.id, p.createdAt, p.status, p.volumes]));
    await exec('bash', [DISASTER, 'a', 'heal']);

    // ---- purge: nothing marked with the plan at either site, no point left in the bank
    await ok('plan', 'delete', plan, '--purge', '--yes');
    expect(await findOrphans(A, plan, []), 'nothing of the plan at A').to.deep.equal({ snapshots: [], backups: [] });
    expect(await findOrphans(B, plan, []), 'nothing of the plan at B').to.deep.equal({ snapshots: [], backups: [] });
    expect(await listRecoveryPoints(B.objectStore, plan)).to.deep.equal([]);

    console.log(`      plan ${plan}: boot volume ${w.bootVolumeId}, data volume ${w.dataVolumeId} (1 GiB each; 16 MiB written, then 16 MiB at 8 MiB)`);
    console.log(`      cycle 1: ${JSON.stringify(cycle1.bytes)}; cycle 2: ${JSON.stringify(cycle2.bytes)}`);
    for (const [k, v] of Object.entries(timings)) console.log(`      ${k}: ${(v / 1000).toFixed(1)} s`);
    for (const [k, v] of Object.entries(stored)) console.log(`      ${k}: backup store grew ${((v ?? 0) / 1048576).toFixed(1)} MiB`);
  });
});
