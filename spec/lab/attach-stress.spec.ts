// The lab must attach many volumes at once: 20 servers at site B each get a 1 GiB volume,
// all attach calls in flight together, five rounds in a row. This once failed in the lab
// (Ceph answered `ceph mon dump` with EPERM under `auth none`); docs/lab.md has the story.
import { expect } from 'chai';
import { createVolume, deleteVolume, waitForVolume, waitForVolumeDeleted } from '../../lib/openstack/blockstorage/volumes.js';
import { listFlavors } from '../../lib/openstack/compute/flavors.js';
import { createServer, deleteServer, waitForServer, waitForServerDeleted } from '../../lib/openstack/compute/servers.js';
import { attachVolume, detachVolume } from '../../lib/openstack/compute/volumeattachments.js';
import { listImages } from '../../lib/openstack/image/images.js';
import { createNetwork, deleteNetwork } from '../../lib/openstack/network/networks.js';
import { createSubnet } from '../../lib/openstack/network/subnets.js';
import { collect } from '../../lib/openstack/paginate.js';
import { RUN_TAG, TIMEOUTS, labSite, uniqueName, useLab } from './support/lab.js';

const COUNT = 20;
const ROUNDS = 5;

describe('lab: 20 volumes attached at once (site B)', function () {
  this.timeout(1_800_000);
  const { cleanup } = useLab();

  it(`attaches ${COUNT} volumes to ${COUNT} servers at once, ${ROUNDS} rounds in a row`, async () => {
    const site = labSite('lab-b');
    const meta = { 'ferry:test': RUN_TAG };
    const flavor = (await collect(listFlavors(site.compute))).find((f) => f.name === 'm1.tiny');
    const image = (await collect(listImages(site.image, { name: 'lab-tiny', status: 'active' })))[0];
    expect(flavor, 'flavor m1.tiny').to.not.equal(undefined);
    expect(image, 'image lab-tiny').to.not.equal(undefined);
    const net = await createNetwork(site.network, { name: uniqueName('stress-net') });
    cleanup().add(`network ${net.id}`, () => deleteNetwork(site.network, net.id));
    await createSubnet(site.network, { network_id: net.id, name: uniqueName('stress-subnet'), ip_version: 4, cidr: '10.232.0.0/24' });

    const servers = await Promise.all(
      Array.from({ length: COUNT }, async () => {
        const s = await createServer(site.compute, { name: uniqueName('stress-server'), flavorRef: flavor!.id, imageRef: image!.id, networks: [{ uuid: net.id }], metadata: meta });
        cleanup().add(`server ${s.id}`, async () => {
          await deleteServer(site.compute, s.id);
          await waitForServerDeleted(site.compute, s.id, { timeoutMs: TIMEOUTS.server });
        });
        return s.id;
      }),
    );
    await Promise.all(servers.map((id) => waitForServer(site.compute, id, ['ACTIVE'], { timeoutMs: TIMEOUTS.server })));

    const rounds: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const volumes = await Promise.all(
        servers.map(async () => {
          const v = await createVolume(site.blockStorage, { size: 1, name: uniqueName(`stress-vol-r${round}`), metadata: meta });
          return v.id;
        }),
      );
      // Deleting a server detaches its volumes; the volumes go after the servers are gone.
      cleanup().add(`round ${round} volumes`, async () => {
        await Promise.all(
          volumes.map(async (id) => {
            await deleteVolume(site.blockStorage, id);
            await waitForVolumeDeleted(site.blockStorage, id, { timeoutMs: TIMEOUTS.volume });
          }),
        );
      });
      await Promise.all(volumes.map((id) => waitForVolume(site.blockStorage, id, ['available'], { timeoutMs: TIMEOUTS.volume })));
      const started = Date.now();
      await Promise.all(servers.map((sid, i) => attachVolume(site.compute, sid, { volumeId: volumes[i]! })));
      const states = await Promise.allSettled(volumes.map((id) => waitForVolume(site.blockStorage, id, ['in-use'], { timeoutMs: TIMEOUTS.volume, intervalMs: 2000 })));
      const failed = states.flatMap((s, i) => (s.status === 'rejected' ? [`${volumes[i]}: ${String(s.reason)}`] : []));
      expect(failed, `round ${round}: every attach reaches in-use`).to.deep.equal([]);
      rounds.push((Date.now() - started) / 1000);
      // Detach before the next round so each server carries one volume at a time.
      await Promise.all(servers.map((sid, i) => detachVolume(site.compute, sid, volumes[i]!)));
      await Promise.all(volumes.map((id) => waitForVolume(site.blockStorage, id, ['available'], { timeoutMs: TIMEOUTS.volume, intervalMs: 2000 })));
    }
    console.log(`      ${COUNT} attaches at once, rounds took ${rounds.map((s) => `${s.toFixed(1)} s`).join(', ')}`);
  });
});
