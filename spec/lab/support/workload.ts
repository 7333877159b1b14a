// A protected workload in the lab, built the same way for every spec that needs one: a network
// with a subnet, a server booted from a volume, a data volume with known bytes attached to it.
// Every create registers its undo at once (newest first: detach, volumes, server, network).
import { isNotFound, type HttpError } from '../../../lib/errors.js';
import { deleteSnapshot, waitForSnapshot, waitForSnapshotDeleted } from '../../../lib/openstack/blockstorage/snapshots.js';
import { createVolume, deleteVolume, getVolume, waitForVolume, waitForVolumeDeleted, type Volume } from '../../../lib/openstack/blockstorage/volumes.js';
import { restoreBackup } from '../../../lib/openstack/blockstorage/backups.js';
import { listFlavors } from '../../../lib/openstack/compute/flavors.js';
import { createServer, deleteServer, waitForServer, waitForServerDeleted } from '../../../lib/openstack/compute/servers.js';
import { attachVolume, detachVolume } from '../../../lib/openstack/compute/volumeattachments.js';
import { listImages } from '../../../lib/openstack/image/images.js';
import { createNetwork, deleteNetwork } from '../../../lib/openstack/network/networks.js';
import { createSubnet } from '../../../lib/openstack/network/subnets.js';
import { addTag } from '../../../lib/openstack/network/tags.js';
import { collect } from '../../../lib/openstack/paginate.js';
import type { ServiceClient } from '../../../lib/openstack/service-client.js';
import type { Site } from '../../../lib/openstack/site.js';
import { deleteBackupChain, findOrphans } from '../../../lib/replication/cinder-backup.js';
import { RUN_TAG, TIMEOUTS, siteLetter, uniqueName, type Cleanup } from './lab.js';
import { volumeSha256, writeVolumeBytes } from './volume-data.js';

/** Metadata key every lab workload carries (value: the run tag). */
export const LAB_TAG_KEY = 'ferry-run';

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

const VOLUME_BUSY = new Set(['creating', 'attaching', 'detaching', 'reserved', 'deleting', 'backing-up', 'restoring-backup', 'extending', 'downloading', 'uploading', 'retyping', 'maintenance']);

/** Deletes a volume (and its snapshots) once it has settled, and waits until it is gone. */
export async function removeVolume(sc: ServiceClient, id: string): Promise<void> {
  const deadline = Date.now() + TIMEOUTS.volume;
  for (;;) {
    let v: Volume;
    try {
      v = await getVolume(sc, id);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (v.status === 'deleting') break;
    if (!VOLUME_BUSY.has(v.status) || Date.now() > deadline) {
      await deleteVolume(sc, id, { cascade: true });
      break;
    }
    await sleep(2000);
  }
  await waitForVolumeDeleted(sc, id, { timeoutMs: TIMEOUTS.volume });
}

/** Removes everything at a site marked with the plan: snapshots, then backups children first. */
export async function purgePlanArtifacts(site: Site, plan: string): Promise<void> {
  const sc = site.blockStorage;
  const left = await findOrphans(site, plan, []);
  for (const s of left.snapshots) {
    if (s.status !== 'available' && s.status !== 'error') await waitForSnapshot(sc, s.id, ['available', 'error'], { timeoutMs: TIMEOUTS.backup }).catch(() => undefined);
    await deleteSnapshot(sc, s.id);
    await waitForSnapshotDeleted(sc, s.id, { timeoutMs: TIMEOUTS.volume });
  }
  await deleteBackupChain(
    site,
    left.backups.map((b) => b.id),
    { timeouts: { dependentsMs: TIMEOUTS.backup, deleteMs: TIMEOUTS.backup }, maxPollIntervalMs: 3000 },
  );
}

/** A tagged network with a /24 subnet; deleted (after its ports go) on cleanup. */
export async function labNetwork(c: Cleanup, site: Site): Promise<{ networkId: string; networkName: string; subnetId: string; cidr: string }> {
  const networkName = uniqueName('net');
  const net = await createNetwork(site.network, { name: networkName });
  c.add(`${site.name} network ${net.id}`, async () => {
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
  const cidr = `10.232.${Math.floor(Math.random() * 250) + 1}.0/24`;
  const subnet = await createSubnet(site.network, { network_id: net.id, ip_version: 4, cidr, name: uniqueName('subnet') });
  return { networkId: net.id, networkName, subnetId: subnet.id, cidr };
}

/** The lab's tiny image and flavor at a site. */
export async function labImageAndFlavor(site: Site): Promise<{ imageId: string; flavorId: string }> {
  const image = (await collect(listImages(site.image, { name: 'lab-tiny' })))[0];
  if (!image) throw new Error(`${site.name} has no lab-tiny image`);
  const flavor = (await collect(listFlavors(site.compute))).find((f) => f.name === 'm1.tiny');
  if (!flavor) throw new Error(`${site.name} has no m1.tiny flavor`);
  return { imageId: image.id, flavorId: flavor.id };
}

/** A 1 GiB volume (from an image when given: bootable), removed on cleanup. */
export async function labVolume(c: Cleanup, site: Site, opts: { imageId?: string; name?: string } = {}): Promise<string> {
  const created = await createVolume(site.blockStorage, {
    size: 1,
    name: opts.name ?? uniqueName(opts.imageId ? 'boot' : 'data'),
    metadata: { [LAB_TAG_KEY]: RUN_TAG },
    ...(opts.imageId ? { imageRef: opts.imageId } : {}),
  });
  c.add(`${site.name} volume ${created.id}`, () => removeVolume(site.blockStorage, created.id));
  await waitForVolume(site.blockStorage, created.id, ['available'], { timeoutMs: TIMEOUTS.volume });
  return created.id;
}

/** A server booted from the lab's image on the network, deleted on cleanup. */
export async function labImageServer(c: Cleanup, site: Site, networkId: string): Promise<{ serverId: string; serverName: string; imageId: string }> {
  const { imageId, flavorId } = await labImageAndFlavor(site);
  const serverName = uniqueName('server');
  const server = await createServer(site.compute, { name: serverName, flavorRef: flavorId, imageRef: imageId, networks: [{ uuid: networkId }], metadata: { [LAB_TAG_KEY]: RUN_TAG }, tags: [RUN_TAG] });
  c.add(`${site.name} server ${server.id}`, async () => {
    await deleteServer(site.compute, server.id);
    await waitForServerDeleted(site.compute, server.id, { timeoutMs: TIMEOUTS.server });
  });
  await waitForServer(site.compute, server.id, ['ACTIVE'], { timeoutMs: TIMEOUTS.server });
  return { serverId: server.id, serverName, imageId };
}

export interface LabWorkload {
  serverId: string;
  serverName: string;
  networkId: string;
  networkName: string;
  bootVolumeId: string;
  dataVolumeId: string;
}

/**
 * A server booted from a volume plus an attached 1 GiB data volume holding `dataMb` MiB of
 * bytes from `seed`, on its own network, at the site.
 */
export async function bootFromVolumeWorkload(c: Cleanup, site: Site, opts: { seed: string; dataMb?: number }): Promise<LabWorkload> {
  const letter = siteLetter(site.name);
  const { networkId, networkName } = await labNetwork(c, site);
  const { imageId, flavorId } = await labImageAndFlavor(site);
  const bootVolumeId = await labVolume(c, site, { imageId });
  const serverName = uniqueName('server');
  const server = await createServer(site.compute, {
    name: serverName,
    flavorRef: flavorId,
    networks: [{ uuid: networkId }],
    block_device_mapping_v2: [{ boot_index: 0, uuid: bootVolumeId, source_type: 'volume', destination_type: 'volume', delete_on_termination: false }],
    metadata: { [LAB_TAG_KEY]: RUN_TAG },
    tags: [RUN_TAG],
  });
  c.add(`${site.name} server ${server.id}`, async () => {
    await deleteServer(site.compute, server.id);
    await waitForServerDeleted(site.compute, server.id, { timeoutMs: TIMEOUTS.server });
  });
  await waitForServer(site.compute, server.id, ['ACTIVE'], { timeoutMs: TIMEOUTS.server });

  const dataVolumeId = await labVolume(c, site);
  await writeVolumeBytes(letter, dataVolumeId, { lengthMb: opts.dataMb ?? 8, seed: opts.seed });
  await attachVolume(site.compute, server.id, { volumeId: dataVolumeId });
  c.add(`${site.name} attachment ${server.id}/${dataVolumeId}`, async () => {
    if (await detachVolume(site.compute, server.id, dataVolumeId)) await waitForVolume(site.blockStorage, dataVolumeId, ['available'], { timeoutMs: TIMEOUTS.volume });
  });
  await waitForVolume(site.blockStorage, dataVolumeId, ['in-use'], { timeoutMs: TIMEOUTS.volume });
  return { serverId: server.id, serverName, networkId, networkName, bootVolumeId, dataVolumeId };
}

/** Restores a backup at a site into a new volume (removed on cleanup) and returns its sha256. */
export async function restoreAndHash(c: Cleanup, site: Site, backupId: string): Promise<{ sha: string; ms: number; volumeId: string }> {
  const t0 = Date.now();
  const r = await restoreBackup(site.blockStorage, backupId, { name: uniqueName('restored') });
  c.add(`${site.name} volume ${r.volume_id}`, () => removeVolume(site.blockStorage, r.volume_id));
  await waitForVolume(site.blockStorage, r.volume_id, ['available'], { timeoutMs: TIMEOUTS.restore });
  const ms = Date.now() - t0;
  return { sha: await volumeSha256(siteLetter(site.name), r.volume_id), ms, volumeId: r.volume_id };
}
