// The bank against the real lab: a tiny server (with a 1 GiB volume attached) created at
// lab-a and discovered with lib/inventory/discover.ts, frozen into a schema-valid recovery
// point (its data refs synthetic: no backup is taken here), written to lab-b's Swift in the
// bank layout, listed and read back with checksums verified, and then an EMPTY SQLite catalog
// is rebuilt from lab-b alone and finds the plan and the point. Everything is removed after.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { openCatalog } from '../../lib/catalog/db.js';
import { CatalogRepo } from '../../lib/catalog/repo.js';
import { isNotFound, type HttpError } from '../../lib/errors.js';
import { discover } from '../../lib/inventory/discover.js';
import { createVolume, deleteVolume, waitForVolume, waitForVolumeDeleted } from '../../lib/openstack/blockstorage/volumes.js';
import { listFlavors } from '../../lib/openstack/compute/flavors.js';
import { createServer, deleteServer, waitForServer, waitForServerDeleted } from '../../lib/openstack/compute/servers.js';
import { attachVolume, detachVolume } from '../../lib/openstack/compute/volumeattachments.js';
import { listImages } from '../../lib/openstack/image/images.js';
import { createNetwork, deleteNetwork } from '../../lib/openstack/network/networks.js';
import { createSubnet } from '../../lib/openstack/network/subnets.js';
import { addTag } from '../../lib/openstack/network/tags.js';
import { deleteContainer } from '../../lib/openstack/objectstore/containers.js';
import { deleteObject, listObjects } from '../../lib/openstack/objectstore/objects.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { ServiceClient } from '../../lib/openstack/service-client.js';
import type { Site } from '../../lib/openstack/site.js';
import {
  bankPaths,
  ensureBank,
  getEpoch,
  getPlanDocument,
  getRecoveryPoint,
  listPlanNames,
  listRecoveryPoints,
  planDocument,
  putEpoch,
  putPlanDocument,
  putRecoveryPoint,
} from '../../lib/replication/bank.js';
import { rebuildCatalog } from '../../lib/replication/rebuild.js';
import { buildRecoveryPoint, isRecoverable } from '../../lib/replication/recovery-point.js';
import { RUN_TAG, TIMEOUTS, labSite, uniqueName, useLab, type Cleanup } from './support/lab.js';

const TAG_KEY = 'ferry-run';

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Removes every object of a container, then the container (it holds only what this test wrote). */
async function removeContainer(sc: ServiceClient, container: string): Promise<void> {
  try {
    for (const e of await collect(listObjects(sc, container))) if (!('subdir' in e)) await deleteObject(sc, container, e.name);
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  await deleteContainer(sc, container);
}

/** A network, a server on it (fake driver) and an attached 1 GiB volume at `site`, all removed afterwards. */
async function tinyServer(cleanup: Cleanup, site: Site): Promise<{ serverId: string; volumeId: string }> {
  const net = await createNetwork(site.network, { name: uniqueName('net') });
  cleanup.add(`${site.name} network ${net.id}`, async () => {
    for (let i = 0; ; i++) {
      try {
        return await deleteNetwork(site.network, net.id);
      } catch (err) {
        if ((err as HttpError).status !== 409 || i >= 20) throw err;
        await sleep(3000);
      }
    }
  });
  await addTag(site.network, 'networks', net.id, RUN_TAG);
  await createSubnet(site.network, { network_id: net.id, ip_version: 4, cidr: `10.232.${Math.floor(Math.random() * 250) + 1}.0/24`, name: uniqueName('subnet') });
  const image = (await collect(listImages(site.image, { name: 'lab-tiny' })))[0];
  if (!image) throw new Error(`${site.name} has no lab-tiny image`);
  const flavor = (await collect(listFlavors(site.compute))).find((f) => f.name === 'm1.tiny');
  if (!flavor) throw new Error(`${site.name} has no m1.tiny flavor`);
  const server = await createServer(site.compute, { name: uniqueName('server'), flavorRef: flavor.id, imageRef: image.id, networks: [{ uuid: net.id }], metadata: { [TAG_KEY]: RUN_TAG }, tags: [RUN_TAG] });
  cleanup.add(`${site.name} server ${server.id}`, async () => {
    await deleteServer(site.compute, server.id);
    await waitForServerDeleted(site.compute, server.id, { timeoutMs: TIMEOUTS.server });
  });
  const vol = await createVolume(site.blockStorage, { size: 1, name: uniqueName('vol'), metadata: { [TAG_KEY]: RUN_TAG } });
  cleanup.add(`${site.name} volume ${vol.id}`, async () => {
    await deleteVolume(site.blockStorage, vol.id, { cascade: true });
    await waitForVolumeDeleted(site.blockStorage, vol.id, { timeoutMs: TIMEOUTS.volume });
  });
  await waitForServer(site.compute, server.id, ['ACTIVE'], { timeoutMs: TIMEOUTS.server });
  await waitForVolume(site.blockStorage, vol.id, ['available'], { timeoutMs: TIMEOUTS.volume });
  await attachVolume(site.compute, server.id, { volumeId: vol.id });
  cleanup.add(`${site.name} attachment ${server.id}/${vol.id}`, async () => {
    if (await detachVolume(site.compute, server.id, vol.id)) await waitForVolume(site.blockStorage, vol.id, ['available'], { timeoutMs: TIMEOUTS.volume });
  });
  await waitForVolume(site.blockStorage, vol.id, ['in-use'], { timeoutMs: TIMEOUTS.volume });
  return { serverId: server.id, volumeId: vol.id };
}

describe('lab: the bank at the secondary', function () {
  this.timeout(900_000);
  const { cleanup } = useLab();

  it('writes a recovery point of a real lab-a server to lab-b, reads it back, and rebuilds an empty catalog from lab-b alone', async () => {
    const a = labSite('lab-a');
    const b = labSite('lab-b');
    const { serverId, volumeId } = await tinyServer(cleanup(), a);
    const inventory = await discover(a, { serverIds: [serverId] });
    expect(inventory.members.map((m) => m.server.id)).to.deep.equal([serverId]);
    const member = inventory.members[0]!;
    expect(member.volumes.map((v) => v.id)).to.deep.equal([volumeId]);
    expect(member.ports).to.have.length(1);

    const planName = uniqueName('plan').toLowerCase();
    const plan = planDocument({ name: planName, project: inventory.projectId, primarySite: 'lab-a', secondarySite: 'lab-b', tier: 'pilot-light', rpoMs: 900_000, spec: { name: planName, members: [{ server: serverId }], rpo: '15m' } });
    const t0 = Date.now() - 60_000;
    const at = (ms: number) => new Date(t0 + ms).toISOString();
    const point = (id: string, ms: number) =>
      buildRecoveryPoint({
        id,
        plan: { name: planName, specHash: plan.specHash, epoch: 0 },
        inventory,
        volumes: [{ sourceVolumeId: volumeId, mover: 'cinder-backup', primaryBackupId: randomUUID(), secondaryBackupId: randomUUID(), incremental: false, sizeGb: 1, dataTimestamp: at(ms), backupService: 'cinder.backup.drivers.swift.SwiftBackupDriver' }],
        images: [],
        sourceSite: 'lab-a',
        targetSite: 'lab-b',
        createdAt: at(ms),
        completedAt: at(ms + 1000),
      });
    const complete = point(randomUUID(), 0);
    const interrupted = point(randomUUID(), 30_000);
    expect(complete.status).to.equal('complete');
    expect(complete.warnings.map((w) => w.code)).to.deep.equal(['image-data-missing']);

    // ---- write to lab-b's Swift
    const sc = b.objectStore;
    const container = uniqueName('bank');
    cleanup().add(`lab-b container ${container}`, () => removeContainer(sc, container));
    const marker = await ensureBank(sc, { container });
    expect(marker.layout).to.equal('ferry.bank/v1');
    await putPlanDocument(sc, plan, { container });
    expect(await putEpoch(sc, planName, { epoch: 0, activeSite: 'lab-a' }, { container })).to.equal(true);
    const w1 = await putRecoveryPoint(sc, complete, { container });
    expect(w1.written).to.equal(true);
    expect((await putRecoveryPoint(sc, complete, { container })).written).to.equal(false);
    await putRecoveryPoint(sc, interrupted, { container });
    // An upload that died before its marker: the marker removed.
    await deleteObject(sc, container, bankPaths.complete(planName, interrupted.createdAt, interrupted.id));

    // ---- read back (nothing cut: lab-b's Swift as any reader sees it)
    expect(await listPlanNames(sc, { container })).to.deep.equal([planName]);
    expect(await getPlanDocument(sc, planName, { container })).to.deep.equal(plan);
    expect(await getEpoch(sc, planName, { container })).to.include({ epoch: 0, activeSite: 'lab-a' });
    const listed = await listRecoveryPoints(sc, planName, { container, pageSize: 1 });
    expect(listed.map((e) => [e.id, e.state])).to.deep.equal([
      [interrupted.id, 'incomplete'],
      [complete.id, 'complete'],
    ]);
    expect(listed[1]!.manifest).to.include({ hash: w1.etag, bytes: w1.bytes });
    const back = await getRecoveryPoint(sc, listed[1]!, { container });
    expect(back).to.deep.equal(complete);
    expect(isRecoverable(back)).to.equal(true);

    // ---- rebuild an empty catalog from lab-b alone
    const catalog = await openCatalog('sqlite::memory:');
    try {
      const repo = new CatalogRepo(catalog);
      const counts = await rebuildCatalog(b, repo, { container, pageSize: 1 });
      expect(counts.plans).to.include({ seen: 1, created: 1, failed: 0 });
      expect(counts.points).to.deep.equal({ seen: 2, complete: 1, partial: 1, finished: 0, skipped: 0, failed: 0 });
      const latest = (await repo.points.latestComplete(planName))!;
      expect(latest.id).to.equal(complete.id);
      expect(latest.manifest).to.deep.equal(complete);
      expect((await repo.points.get(interrupted.id))!.status).to.equal('partial');
      expect((await repo.plans.get(planName))!.specHash).to.equal(plan.specHash);
      const again = await rebuildCatalog(b, repo, { container });
      expect(again.plans).to.include({ unchanged: 1, created: 0, updated: 0 });
      expect(again.points).to.include({ skipped: 2, complete: 0, partial: 0, failed: 0 });
    } finally {
      await catalog.close();
    }
  });
});
