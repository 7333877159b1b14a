// Block storage (Cinder v3) against the real lab: volumes, snapshots, volume types, limits
// and quotas, groups, and Ferry's data path: a volume's bytes at site A, backed up (full from a
// snapshot, then incremental), exported, imported at site B and restored there, checksummed
// at both ends through librbd.
import { expect } from 'chai';
import { BadRequestError, ForbiddenError, WaitTimeoutError, isNotFound, type HttpError } from '../../lib/errors.js';
import {
  createBackup,
  deleteBackup,
  exportBackupRecord,
  getBackup,
  importBackupRecord,
  listBackups,
  restoreBackup,
  waitForBackup,
  waitForBackupDeleted,
  type Backup,
} from '../../lib/openstack/blockstorage/backups.js';
import {
  createGroup,
  createGroupSnapshot,
  deleteGroup,
  deleteGroupSnapshot,
  getGroup,
  getGroupSnapshot,
  listGroupSnapshots,
  listGroupTypes,
  listGroups,
  waitForGroup,
  waitForGroupDeleted,
  waitForGroupSnapshot,
  waitForGroupSnapshotDeleted,
} from '../../lib/openstack/blockstorage/groups.js';
import { getLimits, getQuotaDefaults, getQuotaSet, getQuotaUsage, quotaHeadroom } from '../../lib/openstack/blockstorage/limits.js';
import {
  createSnapshot,
  deleteSnapshot,
  getSnapshot,
  listSnapshots,
  setSnapshotMetadata,
  waitForSnapshot,
  waitForSnapshotDeleted,
} from '../../lib/openstack/blockstorage/snapshots.js';
import {
  createVolumeType,
  deleteVolumeType,
  deleteVolumeTypeExtraSpec,
  findVolumeType,
  getVolumeType,
  getVolumeTypeExtraSpecs,
  listVolumeTypes,
  setVolumeTypeExtraSpecs,
} from '../../lib/openstack/blockstorage/types.js';
import {
  createVolume,
  deleteVolume,
  extendVolume,
  getVolume,
  listVolumes,
  setVolumeBootable,
  setVolumeMetadata,
  updateVolume,
  waitForVolume,
  waitForVolumeDeleted,
  type CreateVolumeOpts,
  type Volume,
} from '../../lib/openstack/blockstorage/volumes.js';
import { listFlavors } from '../../lib/openstack/compute/flavors.js';
import { createServer, deleteServer, waitForServer, waitForServerDeleted } from '../../lib/openstack/compute/servers.js';
import { attachVolume, detachVolume } from '../../lib/openstack/compute/volumeattachments.js';
import { listImages } from '../../lib/openstack/image/images.js';
import { createNetwork, deleteNetwork } from '../../lib/openstack/network/networks.js';
import { createSubnet } from '../../lib/openstack/network/subnets.js';
import { addTag } from '../../lib/openstack/network/tags.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { ServiceClient } from '../../lib/openstack/service-client.js';
import type { Site } from '../../lib/openstack/site.js';
import { captureFixture } from './support/fixtures.js';
import { RUN_TAG, TIMEOUTS, labSite, uniqueName, useLab, type Cleanup } from './support/lab.js';
import { volumeSha256, writeVolumeBytes } from './support/volume-data.js';

/** Metadata key every volume, snapshot and backup of this run carries. */
const TAG_KEY = 'ferry-run';

async function failure(p: Promise<unknown>): Promise<HttpError> {
  try {
    await p;
  } catch (e) {
    return e as HttpError;
  }
  throw new Error('expected the call to fail');
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** States a volume leaves by itself; cleanup waits them out before deleting. */
const VOLUME_BUSY = new Set(['creating', 'attaching', 'detaching', 'reserved', 'deleting', 'backing-up', 'restoring-backup', 'extending', 'downloading', 'uploading', 'retyping', 'maintenance']);

/** Deletes a volume (and its snapshots) once it has settled, and waits until it is gone. */
async function removeVolume(sc: ServiceClient, id: string): Promise<void> {
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

/** Deletes a backup once it is no longer busy, and waits until it is gone. */
async function removeBackup(sc: ServiceClient, id: string): Promise<void> {
  const deadline = Date.now() + TIMEOUTS.backup;
  for (;;) {
    let b: Backup;
    try {
      b = await getBackup(sc, id);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (b.status === 'deleting' || b.status === 'deleted') break;
    if (!['creating', 'restoring'].includes(b.status) || Date.now() > deadline) {
      await deleteBackup(sc, id, { force: ['creating', 'restoring'].includes(b.status) });
      break;
    }
    await sleep(2000);
  }
  await waitForBackupDeleted(sc, id, { timeoutMs: TIMEOUTS.backup });
}

/** Creates a 1 GiB volume tagged with the run, registers its removal, waits until available. */
async function newVolume(cleanup: Cleanup, site: Site, what: string, extra: Partial<CreateVolumeOpts> = {}): Promise<Volume> {
  const sc = site.blockStorage;
  const { metadata, ...rest } = extra;
  const v = await createVolume(sc, { size: 1, name: uniqueName(what), metadata: { [TAG_KEY]: RUN_TAG, ...metadata }, ...rest });
  cleanup.add(`${site.name} volume ${v.id}`, () => removeVolume(sc, v.id));
  return (await waitForVolume(sc, v.id, ['available'], { timeoutMs: TIMEOUTS.volume }))!;
}

/** A network with a subnet and a server booted on it (fake driver), all removed afterwards. */
async function bootServer(cleanup: Cleanup, site: Site): Promise<string> {
  const net = await createNetwork(site.network, { name: uniqueName('net') });
  cleanup.add(`${site.name} network ${net.id}`, async () => {
    // Nova frees the server's port while deleting it; a late port makes the network 409 briefly.
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
  const third = Math.floor(Math.random() * 250) + 1;
  await createSubnet(site.network, { network_id: net.id, ip_version: 4, cidr: `10.231.${third}.0/24`, name: uniqueName('subnet') });
  const image = (await collect(listImages(site.image, { name: 'lab-tiny' })))[0];
  if (!image) throw new Error(`${site.name} has no lab-tiny image`);
  const flavor = (await collect(listFlavors(site.compute))).find((f) => f.name === 'm1.tiny');
  if (!flavor) throw new Error(`${site.name} has no m1.tiny flavor`);
  const server = await createServer(site.compute, {
    name: uniqueName('server'),
    flavorRef: flavor.id,
    imageRef: image.id,
    networks: [{ uuid: net.id }],
    metadata: { [TAG_KEY]: RUN_TAG },
    tags: [RUN_TAG],
  });
  cleanup.add(`${site.name} server ${server.id}`, async () => {
    await deleteServer(site.compute, server.id);
    await waitForServerDeleted(site.compute, server.id, { timeoutMs: TIMEOUTS.server });
  });
  await waitForServer(site.compute, server.id, ['ACTIVE'], { timeoutMs: TIMEOUTS.server });
  return server.id;
}

/** Attaches a volume to a server and waits for in-use; registers the detach. */
async function attach(cleanup: Cleanup, site: Site, serverId: string, volumeId: string): Promise<Volume> {
  await attachVolume(site.compute, serverId, { volumeId });
  cleanup.add(`${site.name} attachment ${serverId}/${volumeId}`, async () => {
    if (await detachVolume(site.compute, serverId, volumeId)) await waitForVolume(site.blockStorage, volumeId, ['available'], { timeoutMs: TIMEOUTS.volume });
  });
  return (await waitForVolume(site.blockStorage, volumeId, ['in-use'], { timeoutMs: TIMEOUTS.volume }))!;
}

describe('lab: block storage', function () {
  this.timeout(900_000);
  const { cleanup } = useLab();
  const A = () => labSite('lab-a');
  const B = () => labSite('lab-b');

  describe('volumes', () => {
    it('create with metadata, get, list by metadata, update, metadata, bootable, extend, delete', async () => {
      const sc = A().blockStorage;
      const marker = uniqueName('marker');
      const created = await createVolume(sc, { size: 1, name: uniqueName('vol'), description: 'ferry lab', metadata: { [TAG_KEY]: RUN_TAG, 'ferry-test': marker } });
      cleanup().add(`volume ${created.id}`, () => removeVolume(sc, created.id));
      expect(created.status).to.equal('creating');
      expect(created.metadata).to.deep.equal({ [TAG_KEY]: RUN_TAG, 'ferry-test': marker });

      const ready = (await waitForVolume(sc, created.id, ['available'], { timeoutMs: TIMEOUTS.volume }))!;
      captureFixture('block-storage-volume', { service: 'block-storage', call: 'GET volumes/{id} (3.64)', status: 200, body: { volume: ready } });
      const got = await getVolume(sc, created.id);
      expect(got).to.include({ id: created.id, status: 'available', size: 1, bootable: 'false', description: 'ferry lab' });
      expect(got.metadata[TAG_KEY]).to.equal(RUN_TAG);
      expect(got.attachments).to.deep.equal([]);
      expect(got.volume_type, 'the default type').to.be.a('string');
      expect(got.volume_type_id, 'since 3.63').to.be.a('string');

      const byMeta = await collect(listVolumes(sc, { metadata: { 'ferry-test': marker } }));
      expect(byMeta.map((v) => v.id)).to.deep.equal([created.id]);

      const updated = await updateVolume(sc, created.id, { name: `${created.name}-renamed`, description: 'renamed' });
      expect(updated).to.include({ name: `${created.name}-renamed`, description: 'renamed' });

      const meta = await setVolumeMetadata(sc, created.id, { 'ferry-extra': 'x' });
      expect(meta, 'POST metadata merges').to.deep.equal({ [TAG_KEY]: RUN_TAG, 'ferry-test': marker, 'ferry-extra': 'x' });

      await setVolumeBootable(sc, created.id, true);
      expect((await getVolume(sc, created.id)).bootable).to.equal('true');
      await setVolumeBootable(sc, created.id, false);
      expect((await getVolume(sc, created.id)).bootable).to.equal('false');

      await extendVolume(sc, created.id, 2);
      const extended = (await waitForVolume(sc, created.id, ['available'], { timeoutMs: TIMEOUTS.volume }))!;
      expect(extended.size).to.equal(2);

      expect(await deleteVolume(sc, created.id)).to.equal(true);
      await waitForVolumeDeleted(sc, created.id, { timeoutMs: TIMEOUTS.volume });
      expect(await deleteVolume(sc, created.id), 'deleting again is not an error').to.equal(false);
      const gone = await failure(getVolume(sc, created.id));
      expect(gone.status).to.equal(404);
      expect(gone.detail).to.match(/could not be found/i);
    });

    it('lists with limit 1 across pages (volumes_links) and filters by metadata', async () => {
      const sc = A().blockStorage;
      const marker = uniqueName('page');
      const v1 = await newVolume(cleanup(), A(), 'page', { metadata: { 'ferry-test': marker } });
      const v2 = await newVolume(cleanup(), A(), 'page', { metadata: { 'ferry-test': marker } });
      await newVolume(cleanup(), A(), 'other', { metadata: { 'ferry-test': `${marker}-other` } });
      const pages: number[] = [];
      const found = await collect(listVolumes(sc, { metadata: { 'ferry-test': marker }, limit: 1 }, { onPage: (n) => pages.push(n) }));
      expect(found.map((v) => v.id).sort()).to.deep.equal([v1.id, v2.id].sort());
      expect(pages.filter((n) => n > 0), 'one volume per page').to.deep.equal([1, 1]);
      expect(pages.length).to.be.at.least(2);
      const sorted = await collect(listVolumes(sc, { metadata: { 'ferry-test': marker }, sort: 'created_at:asc', limit: 1 }));
      expect(sorted.map((v) => v.id)).to.deep.equal([v1.id, v2.id]);
    });

    it('waiters: a volume that never reaches the target times out with its last status', async () => {
      const sc = A().blockStorage;
      const v = await newVolume(cleanup(), A(), 'wait');
      const err = await failure(waitForVolume(sc, v.id, ['in-use'], { timeoutMs: 1500, intervalMs: 500 }));
      expect(err).to.be.instanceOf(WaitTimeoutError);
      expect((err as unknown as WaitTimeoutError).lastStatus).to.equal('available');
    });
  });

  describe('snapshots', () => {
    it('of an available volume: create, get, list by volume and metadata, metadata, delete', async () => {
      const sc = A().blockStorage;
      const v = await newVolume(cleanup(), A(), 'snapsrc');
      const marker = uniqueName('snapmark');
      const s = await createSnapshot(sc, { volume_id: v.id, name: uniqueName('snap'), description: 'ferry lab', metadata: { [TAG_KEY]: RUN_TAG, 'ferry-test': marker } });
      cleanup().add(`snapshot ${s.id}`, async () => {
        await deleteSnapshot(sc, s.id);
        await waitForSnapshotDeleted(sc, s.id, { timeoutMs: TIMEOUTS.volume });
      });
      expect(s).to.include({ volume_id: v.id, status: 'creating', size: 1 });
      const ready = (await waitForSnapshot(sc, s.id, ['available'], { timeoutMs: TIMEOUTS.volume }))!;
      captureFixture('block-storage-snapshot', { service: 'block-storage', call: 'GET snapshots/{id} (3.64)', status: 200, body: { snapshot: ready } });
      expect(ready['os-extended-snapshot-attributes:progress']).to.equal('100%');
      expect(ready.metadata).to.deep.equal({ [TAG_KEY]: RUN_TAG, 'ferry-test': marker });
      expect((await getSnapshot(sc, s.id)).user_id, 'since 3.41').to.be.a('string');

      expect((await collect(listSnapshots(sc, { volume_id: v.id }))).map((x) => x.id)).to.deep.equal([s.id]);
      expect((await collect(listSnapshots(sc, { metadata: { 'ferry-test': marker } }))).map((x) => x.id)).to.deep.equal([s.id]);
      expect(await collect(listSnapshots(sc, { metadata: { 'ferry-test': `${marker}-none` } }))).to.deep.equal([]);

      const meta = await setSnapshotMetadata(sc, s.id, { 'ferry-extra': 'y' });
      expect(meta).to.deep.equal({ [TAG_KEY]: RUN_TAG, 'ferry-test': marker, 'ferry-extra': 'y' });

      const busy = await failure(deleteVolume(sc, v.id));
      expect(busy, 'a volume with snapshots cannot be deleted without cascade').to.be.instanceOf(BadRequestError);

      expect(await deleteSnapshot(sc, s.id)).to.equal(true);
      await waitForSnapshotDeleted(sc, s.id, { timeoutMs: TIMEOUTS.volume });
      expect(await deleteSnapshot(sc, s.id)).to.equal(false);
    });

    it('of an in-use volume: refused without force, taken with force', async () => {
      const sc = A().blockStorage;
      const serverId = await bootServer(cleanup(), A());
      const v = await newVolume(cleanup(), A(), 'attached');
      const inUse = await attach(cleanup(), A(), serverId, v.id);
      expect(inUse.attachments.map((x) => x.server_id)).to.deep.equal([serverId]);

      const refused = await failure(createSnapshot(sc, { volume_id: v.id, name: uniqueName('snap-noforce') }));
      expect(refused).to.be.instanceOf(BadRequestError);
      expect(refused.detail).to.match(/in-use|force/i);

      const s = await createSnapshot(sc, { volume_id: v.id, name: uniqueName('snap-force'), force: true, metadata: { [TAG_KEY]: RUN_TAG } });
      cleanup().add(`snapshot ${s.id}`, async () => {
        await deleteSnapshot(sc, s.id);
        await waitForSnapshotDeleted(sc, s.id, { timeoutMs: TIMEOUTS.volume });
      });
      const ready = (await waitForSnapshot(sc, s.id, ['available'], { timeoutMs: TIMEOUTS.volume }))!;
      expect(ready.volume_id).to.equal(v.id);
      expect((await getVolume(sc, v.id)).status, 'the volume stays attached').to.equal('in-use');
    });
  });

  describe('volume types (admin)', () => {
    it('create with extra specs, get, find, extra specs, delete', async () => {
      const sc = A().blockStorage;
      const name = uniqueName('type');
      const t = await createVolumeType(sc, {
        name,
        description: 'ferry lab',
        extra_specs: { volume_backend_name: 'ceph', 'ferry:run': RUN_TAG },
        'os-volume-type-access:is_public': false,
      });
      cleanup().add(`volume type ${t.id}`, () => deleteVolumeType(sc, t.id));
      expect(t).to.include({ name, description: 'ferry lab', is_public: false });
      expect(t.extra_specs).to.deep.equal({ volume_backend_name: 'ceph', 'ferry:run': RUN_TAG });

      const got = await getVolumeType(sc, t.id);
      expect(got).to.include({ id: t.id, name, 'os-volume-type-access:is_public': false });
      const found = await findVolumeType(sc, name);
      expect(found?.id, 'a private type is found by name').to.equal(t.id);
      expect(await findVolumeType(sc, `${name}-none`)).to.equal(undefined);
      const def = await getVolumeType(sc, 'default');
      expect(def.name).to.equal('__DEFAULT__');
      const listed = await collect(listVolumeTypes(sc, { is_public: 'None' }));
      expect(listed.map((x) => x.id)).to.include.members([t.id, def.id]);
      const filtered = await collect(listVolumeTypes(sc, { is_public: 'None', extra_specs: { 'ferry:run': RUN_TAG } }));
      expect(filtered.map((x) => x.id)).to.include(t.id);

      expect(await setVolumeTypeExtraSpecs(sc, t.id, { 'ferry:extra': 'z' })).to.deep.equal({ 'ferry:extra': 'z' });
      expect(await getVolumeTypeExtraSpecs(sc, t.id)).to.deep.equal({ volume_backend_name: 'ceph', 'ferry:run': RUN_TAG, 'ferry:extra': 'z' });
      expect(await deleteVolumeTypeExtraSpec(sc, t.id, 'ferry:extra')).to.equal(true);
      expect(await deleteVolumeTypeExtraSpec(sc, t.id, 'ferry:extra'), 'already gone').to.equal(false);

      expect(await deleteVolumeType(sc, t.id)).to.equal(true);
      expect(await deleteVolumeType(sc, t.id), 'deleting again is not an error').to.equal(false);
      expect(await findVolumeType(sc, name)).to.equal(undefined);
    });

    it('a type in use by a volume cannot be deleted (400)', async () => {
      const sc = A().blockStorage;
      const t = await createVolumeType(sc, { name: uniqueName('type-used'), extra_specs: { volume_backend_name: 'ceph' }, 'os-volume-type-access:is_public': false });
      cleanup().add(`volume type ${t.id}`, () => deleteVolumeType(sc, t.id));
      const v = await newVolume(cleanup(), A(), 'typed', { volume_type: t.id });
      expect(v.volume_type).to.equal(t.name);
      const err = await failure(deleteVolumeType(sc, t.id));
      expect(err).to.be.instanceOf(BadRequestError);
      expect(err.detail).to.match(/in use/i);
    });
  });

  describe('limits and quotas (read only)', () => {
    it('reads limits, the quota set, its usage and defaults of the admin project', async () => {
      const site = A();
      const projectId = (await site.connect()).info.project!.id;
      const v = await newVolume(cleanup(), site, 'quota');
      const limits = await getLimits(site.blockStorage);
      expect(limits.rate).to.be.an('array');
      expect(limits.absolute.maxTotalVolumes).to.be.a('number');
      expect(limits.absolute.totalVolumesUsed).to.be.at.least(1);
      expect(limits.absolute.totalGigabytesUsed).to.be.at.least(v.size);
      const own = await getLimits(site.blockStorage, projectId);
      expect(own.absolute.maxTotalVolumes).to.equal(limits.absolute.maxTotalVolumes);

      const qs = await getQuotaSet(site.blockStorage, projectId);
      expect(qs.id).to.equal(projectId);
      for (const k of ['volumes', 'snapshots', 'backups', 'gigabytes', 'backup_gigabytes', 'per_volume_gigabytes', 'groups']) expect(qs[k], k).to.be.a('number');
      expect(qs.volumes___DEFAULT__, 'per-type keys').to.be.a('number');

      const usage = await getQuotaUsage(site.blockStorage, projectId);
      expect(usage.volumes?.in_use).to.be.at.least(1);
      expect(usage.volumes?.limit).to.equal(qs.volumes);
      expect(usage.gigabytes?.reserved).to.be.a('number');
      const room = quotaHeadroom(usage, 'gigabytes');
      expect(room === Infinity || room >= 0).to.equal(true);

      const defaults = await getQuotaDefaults(site.blockStorage, projectId);
      expect(defaults.volumes).to.be.a('number');
    });
  });

  describe('groups and group snapshots', () => {
    it("the lab's only group type (default_cgsnapshot_type) is refused at create with a clear 400", async () => {
      const sc = A().blockStorage;
      const types = await collect(listGroupTypes(sc));
      const cg = types.find((t) => t.name === 'default_cgsnapshot_type');
      expect(cg, `group types: ${types.map((t) => t.name).join(', ')}`).to.not.equal(undefined);
      expect(cg!.group_specs).to.deep.equal({ consistent_group_snapshot_enabled: '<is> True' });
      const vt = await getVolumeType(sc, 'default');
      const err = await failure(
        createGroup(sc, { group_type: cg!.id, volume_types: [vt.id], name: uniqueName('cg') }).then((g) => {
          cleanup().add(`group ${g.id}`, async () => {
            await deleteGroup(sc, g.id);
            await waitForGroupDeleted(sc, g.id, { timeoutMs: TIMEOUTS.volume });
          });
        }),
      );
      expect(err).to.be.instanceOf(BadRequestError);
      expect(err.detail).to.match(/is reserved for migrating CGs to groups/);
    });

    it('a generic group type: group with a volume, group snapshot, list, get, delete', async () => {
      const sc = A().blockStorage;
      // Group types have no module of their own (Ferry only reads them): create one raw.
      const gt = (await sc.post<{ group_type: { id: string; name: string } }>('group_types', { group_type: { name: uniqueName('gtype'), is_public: false } }, { microversion: '3.11' })).data
        .group_type;
      cleanup().add(`group type ${gt.id}`, () => sc.delete(`group_types/${gt.id}`, { microversion: '3.11', ok: [202, 204, 404] }));
      const vt = await getVolumeType(sc, 'default');
      const g = await createGroup(sc, { group_type: gt.id, volume_types: [vt.id], name: uniqueName('group') });
      cleanup().add(`group ${g.id}`, async () => {
        await deleteGroup(sc, g.id, { deleteVolumes: true });
        await waitForGroupDeleted(sc, g.id, { timeoutMs: TIMEOUTS.volume });
      });
      const group = (await waitForGroup(sc, g.id, ['available'], { timeoutMs: TIMEOUTS.volume }))!;
      expect(group).to.include({ group_type: gt.id });
      expect(group.volume_types).to.deep.equal([vt.id]);

      const v = await newVolume(cleanup(), A(), 'member', { group_id: g.id, volume_type: vt.id });
      expect(v.group_id).to.equal(g.id);
      const withVols = (await collect(listGroups(sc, { list_volume: true }))).find((x) => x.id === g.id);
      expect(withVols?.volumes).to.deep.equal([v.id]);

      const gs = await createGroupSnapshot(sc, { group_id: g.id, name: uniqueName('gsnap') });
      cleanup().add(`group snapshot ${gs.id}`, async () => {
        await deleteGroupSnapshot(sc, gs.id);
        await waitForGroupSnapshotDeleted(sc, gs.id, { timeoutMs: TIMEOUTS.volume });
      });
      expect(gs.group_type_id).to.equal(gt.id);
      const ready = (await waitForGroupSnapshot(sc, gs.id, ['available'], { timeoutMs: TIMEOUTS.volume }))!;
      expect(ready.group_id).to.equal(g.id);
      expect((await getGroupSnapshot(sc, gs.id)).status).to.equal('available');
      expect((await collect(listGroupSnapshots(sc, { group_id: g.id }))).map((x) => x.id)).to.deep.equal([gs.id]);
      const members = await collect(listSnapshots(sc, { volume_id: v.id }));
      expect(members.map((s) => s.group_snapshot_id)).to.deep.equal([gs.id]);

      expect(await deleteGroupSnapshot(sc, gs.id)).to.equal(true);
      await waitForGroupSnapshotDeleted(sc, gs.id, { timeoutMs: TIMEOUTS.volume });
      expect(await deleteGroup(sc, g.id, { deleteVolumes: true })).to.equal(true);
      await waitForGroupDeleted(sc, g.id, { timeoutMs: TIMEOUTS.volume });
      expect(await deleteGroup(sc, g.id), 'deleting again is not an error').to.equal(false);
      await waitForVolumeDeleted(sc, v.id, { timeoutMs: TIMEOUTS.volume });
      expect(await failure(getGroup(sc, g.id))).to.have.property('status', 404);
    });
  });

  describe('backups: the data path from site A to site B', () => {
    it('full backup from a snapshot, incremental from a later one, export at A, import at B, restore: the bytes match', async () => {
      const a = A().blockStorage;
      const b = B().blockStorage;
      const c = cleanup();
      const seed = uniqueName('seed');

      // A volume with known bytes, attached to a server.
      const serverId = await bootServer(c, A());
      const vol = await newVolume(c, A(), 'data');
      await writeVolumeBytes('a', vol.id, { lengthMb: 8, seed: `${seed}-1` });
      const sha1 = await volumeSha256('a', vol.id);
      await attach(c, A(), serverId, vol.id);

      // Full backup from a snapshot of the attached volume.
      const snap1 = await createSnapshot(a, { volume_id: vol.id, name: uniqueName('snap1'), force: true, metadata: { [TAG_KEY]: RUN_TAG } });
      c.add(`snapshot ${snap1.id}`, async () => {
        await deleteSnapshot(a, snap1.id);
        await waitForSnapshotDeleted(a, snap1.id, { timeoutMs: TIMEOUTS.volume });
      });
      await waitForSnapshot(a, snap1.id, ['available'], { timeoutMs: TIMEOUTS.volume });
      const full = await createBackup(a, { volume_id: vol.id, snapshot_id: snap1.id, name: uniqueName('full'), metadata: { [TAG_KEY]: RUN_TAG } });
      c.add(`lab-a backup ${full.id}`, () => removeBackup(a, full.id));
      expect(Object.keys(full).sort(), 'create answers a summary').to.deep.equal(['id', 'links', 'name']);
      const fullA = (await waitForBackup(a, full.id, ['available'], { timeoutMs: TIMEOUTS.backup }))!;
      captureFixture('block-storage-backup', { service: 'block-storage', call: 'GET backups/{id} (3.64)', status: 200, body: { backup: fullA } });
      expect(fullA).to.include({ volume_id: vol.id, snapshot_id: snap1.id, is_incremental: false, size: 1 });
      expect(fullA.metadata).to.deep.equal({ [TAG_KEY]: RUN_TAG });
      await deleteSnapshot(a, snap1.id);
      await waitForSnapshotDeleted(a, snap1.id, { timeoutMs: TIMEOUTS.volume });

      // More bytes, then an incremental backup from a second snapshot.
      await writeVolumeBytes('a', vol.id, { offsetMb: 4, lengthMb: 8, seed: `${seed}-2` });
      const sha2 = await volumeSha256('a', vol.id);
      expect(sha2).to.not.equal(sha1);
      const snap2 = await createSnapshot(a, { volume_id: vol.id, name: uniqueName('snap2'), force: true, metadata: { [TAG_KEY]: RUN_TAG } });
      c.add(`snapshot ${snap2.id}`, async () => {
        await deleteSnapshot(a, snap2.id);
        await waitForSnapshotDeleted(a, snap2.id, { timeoutMs: TIMEOUTS.volume });
      });
      await waitForSnapshot(a, snap2.id, ['available'], { timeoutMs: TIMEOUTS.volume });
      const inc = await createBackup(a, { volume_id: vol.id, snapshot_id: snap2.id, incremental: true, name: uniqueName('incr'), metadata: { [TAG_KEY]: RUN_TAG } });
      c.add(`lab-a backup ${inc.id}`, () => removeBackup(a, inc.id));
      const incA = (await waitForBackup(a, inc.id, ['available'], { timeoutMs: TIMEOUTS.backup }))!;
      expect(incA).to.include({ is_incremental: true, snapshot_id: snap2.id });
      expect((await getBackup(a, full.id)).has_dependent_backups).to.equal(true);
      const inUse = await failure(deleteBackup(a, full.id));
      expect(inUse, 'a backup with dependents cannot be deleted').to.be.instanceOf(BadRequestError);
      expect((await collect(listBackups(a, { volume_id: vol.id, sort: 'created_at:asc' }))).map((x) => x.id)).to.deep.equal([full.id, inc.id]);

      // Export both at A, import at B (parent first).
      const recFull = await exportBackupRecord(a, full.id);
      const recInc = await exportBackupRecord(a, inc.id);
      captureFixture('block-storage-backup-record', { service: 'block-storage', call: 'GET backups/{id}/export_record', status: 200, body: { 'backup-record': recFull } });
      expect(recFull.backup_service).to.match(/posix/i);
      expect(recFull.backup_url).to.match(/^[A-Za-z0-9+/=]+$/);
      const impFull = await importBackupRecord(b, recFull);
      c.add(`lab-b backup ${impFull.id}`, () => removeBackup(b, impFull.id));
      expect(impFull.id, 'the import keeps the backup ID').to.equal(full.id);
      await waitForBackup(b, impFull.id, ['available'], { timeoutMs: TIMEOUTS.backup });
      const impInc = await importBackupRecord(b, recInc);
      c.add(`lab-b backup ${impInc.id}`, () => removeBackup(b, impInc.id));
      expect(impInc.id).to.equal(inc.id);
      const incB = (await waitForBackup(b, impInc.id, ['available'], { timeoutMs: TIMEOUTS.backup }))!;
      expect(incB.is_incremental).to.equal(true);
      const again = await failure(importBackupRecord(b, recFull));
      expect(again, 'importing twice is refused').to.be.instanceOf(BadRequestError);

      // Restore each at B into a new volume; a second restore while one runs is refused.
      const r1 = await restoreBackup(b, full.id, { name: uniqueName('restored-full') });
      c.add(`lab-b volume ${r1.volume_id}`, () => removeVolume(b, r1.volume_id));
      expect(r1.backup_id).to.equal(full.id);
      const busy = await failure(
        restoreBackup(b, full.id, { name: uniqueName('restored-twice') }).then((r) => {
          c.add(`lab-b volume ${r.volume_id}`, () => removeVolume(b, r.volume_id));
        }),
      );
      expect(busy).to.be.instanceOf(BadRequestError);
      expect(busy.detail).to.match(/Backup status must be available/);
      const restored1 = (await waitForVolume(b, r1.volume_id, ['available'], { timeoutMs: TIMEOUTS.restore }))!;
      expect(restored1.size).to.equal(1);
      await waitForBackup(b, full.id, ['available'], { timeoutMs: TIMEOUTS.restore });
      const r2 = await restoreBackup(b, inc.id, { name: uniqueName('restored-incr') });
      c.add(`lab-b volume ${r2.volume_id}`, () => removeVolume(b, r2.volume_id));
      await waitForVolume(b, r2.volume_id, ['available'], { timeoutMs: TIMEOUTS.restore });

      expect(await volumeSha256('b', r1.volume_id), 'restored full backup = bytes at the first snapshot').to.equal(sha1);
      expect(await volumeSha256('b', r2.volume_id), 'restored incremental backup = bytes at the second snapshot').to.equal(sha2);

      // Clean up in dependency order, checking each step (the cleanup steps then find nothing left).
      for (const [sc, id] of [
        [b, inc.id],
        [b, full.id],
        [a, inc.id],
        [a, full.id],
      ] as const) {
        expect(await deleteBackup(sc, id)).to.equal(true);
        await waitForBackupDeleted(sc, id, { timeoutMs: TIMEOUTS.backup });
      }
      expect(await deleteBackup(a, full.id), 'deleting again is not an error').to.equal(false);
    });

    it('the member user may back up its own volume but not export the record (403)', async () => {
      const demo = labSite('lab-a-demo');
      const sc = demo.blockStorage;
      const v = await newVolume(cleanup(), demo, 'demo');
      const bk = await createBackup(sc, { volume_id: v.id, name: uniqueName('demo-backup') });
      cleanup().add(`lab-a-demo backup ${bk.id}`, () => removeBackup(sc, bk.id));
      await waitForBackup(sc, bk.id, ['available'], { timeoutMs: TIMEOUTS.backup });
      const err = await failure(exportBackupRecord(sc, bk.id));
      expect(err).to.be.instanceOf(ForbiddenError);
      expect(err.status).to.equal(403);
      expect(err.detail).to.match(/backup:export-import|not allowed|policy/i);
      const imp = await failure(importBackupRecord(sc, { backup_service: 'cinder.backup.drivers.posix', backup_url: 'e30=' }));
      expect(imp).to.be.instanceOf(ForbiddenError);
    });
  });
});
