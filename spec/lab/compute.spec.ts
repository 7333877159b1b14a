// Compute (Nova) client modules against the real lab: keypairs, flavors with extra specs,
// server groups, servers (boot on a port and on a network, from an image and from a volume),
// their actions, metadata and tags, tag-filtered and paged listings, volume attachments,
// limits and quota sets; everything created is removed again with the waiters.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { expect } from 'chai';
import { NotFoundError } from '../../lib/errors.js';
import { createVolume, deleteVolume, getVolume, setVolumeBootable, waitForVolume, waitForVolumeDeleted, type Volume } from '../../lib/openstack/blockstorage/volumes.js';
import {
  createFlavor,
  deleteFlavor,
  deleteFlavorExtraSpec,
  getFlavor,
  getFlavorExtraSpecs,
  listFlavors,
  setFlavorExtraSpecs,
  type Flavor,
} from '../../lib/openstack/compute/flavors.js';
import { deleteKeypair, getKeypair, importKeypair, listKeypairs } from '../../lib/openstack/compute/keypairs.js';
import { getLimits, getQuotaSet } from '../../lib/openstack/compute/limits.js';
import { createServerGroup, deleteServerGroup, getServerGroup, listServerGroups, serverGroupPolicy, type ServerGroup } from '../../lib/openstack/compute/servergroups.js';
import {
  addServerTag,
  createServer,
  deleteServer,
  deleteServerMetadataKey,
  deleteServerTag,
  getServer,
  getServerMetadata,
  isEmbeddedFlavor,
  listServers,
  listServerTags,
  lockServer,
  replaceServerTags,
  serverHasTag,
  serverImageId,
  setServerMetadata,
  shelveServer,
  startServer,
  stopServer,
  unlockServer,
  unshelveServer,
  waitForServer,
  waitForServerDeleted,
  type CreateServerOpts,
  type Server,
} from '../../lib/openstack/compute/servers.js';
import { attachVolume, detachVolume, getVolumeAttachment, listVolumeAttachments } from '../../lib/openstack/compute/volumeattachments.js';
import { listImages } from '../../lib/openstack/image/images.js';
import { createNetwork, deleteNetwork, type Network } from '../../lib/openstack/network/networks.js';
import { createPort, deletePort, getPort, type Port } from '../../lib/openstack/network/ports.js';
import { createSubnet, deleteSubnet } from '../../lib/openstack/network/subnets.js';
import { replaceTags } from '../../lib/openstack/network/tags.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { Site } from '../../lib/openstack/site.js';
import { Cleanup, RUN_TAG, TIMEOUTS, labSite, uniqueName, useLab } from './support/lab.js';

const RUN_META = { 'ferry:run': RUN_TAG };

/** An OpenSSH ed25519 public key and the MD5 fingerprint Nova computes for it (nova/crypto.py). */
function sshPublicKey(comment: string): { publicKey: string; fingerprint: string } {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const str = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
  const fingerprint = createHash('md5').update(blob).digest('hex').match(/../g)!.join(':');
  return { publicKey: `ssh-ed25519 ${blob.toString('base64')} ${comment}`, fingerprint };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to fail');
}

/** Deletes a server and waits until Nova has forgotten it (its ports and volumes are free then). */
async function removeServer(site: Site, id: string): Promise<void> {
  await deleteServer(site.compute, id);
  await waitForServerDeleted(site.compute, id, { timeoutMs: TIMEOUTS.server });
}

/** Deletes a volume (detached or not yet) and waits until it is gone. */
async function removeVolume(site: Site, id: string): Promise<void> {
  await deleteVolume(site.blockStorage, id);
  await waitForVolumeDeleted(site.blockStorage, id, { timeoutMs: TIMEOUTS.volume });
}

describe('lab: compute (lab-a)', function () {
  this.timeout(900_000);
  const { cleanup } = useLab();
  // What the suite shares (network, keypair, flavor, group, image, the main server) is removed
  // by its own Cleanup after the last test, even when one fails.
  const shared = new Cleanup();
  let site: Site;
  let net: Network;
  let port: Port;
  let imageId: string;
  let flavor: Flavor;
  let group: ServerGroup;
  let keyName: string;
  let key: { publicKey: string; fingerprint: string };
  let server: Server;
  const serverTag = uniqueName('srv-tag');

  before(async function () {
    this.timeout(600_000);
    site = labSite('lab-a');
    const image = (await collect(listImages(site.image, { name: 'lab-tiny', status: 'active' })))[0];
    expect(image, "the lab's public image lab-tiny").to.not.equal(undefined);
    imageId = image!.id;

    net = await createNetwork(site.network, { name: uniqueName('net') });
    shared.add(`network ${net.id}`, () => deleteNetwork(site.network, net.id));
    await replaceTags(site.network, 'networks', net.id, [RUN_TAG]);
    const subnet = await createSubnet(site.network, { network_id: net.id, name: uniqueName('subnet'), ip_version: 4, cidr: '10.231.7.0/24' });
    shared.add(`subnet ${subnet.id}`, () => deleteSubnet(site.network, subnet.id));
    await replaceTags(site.network, 'subnets', subnet.id, [RUN_TAG]);
    port = await createPort(site.network, { network_id: net.id, name: uniqueName('port'), tags: [RUN_TAG] });
    shared.add(`port ${port.id}`, () => deletePort(site.network, port.id));

    keyName = uniqueName('key');
    key = sshPublicKey(keyName);
    await importKeypair(site.compute, { name: keyName, public_key: key.publicKey, type: 'ssh' });
    shared.add(`keypair ${keyName}`, () => deleteKeypair(site.compute, keyName));

    flavor = await createFlavor(site.compute, { name: uniqueName('flavor'), ram: 64, vcpus: 1, disk: 1, description: `ferry lab ${RUN_TAG}`, 'os-flavor-access:is_public': true });
    shared.add(`flavor ${flavor.id}`, () => deleteFlavor(site.compute, flavor.id));
    await setFlavorExtraSpecs(site.compute, flavor.id, { 'hw:cpu_policy': 'shared', 'ferry:run': RUN_TAG });

    group = await createServerGroup(site.compute, { name: uniqueName('group'), policy: 'anti-affinity', rules: { max_server_per_host: 2 } });
    shared.add(`server group ${group.id}`, () => deleteServerGroup(site.compute, group.id));

    const created = await createServer(site.compute, {
      name: uniqueName('server'),
      flavorRef: flavor.id,
      imageRef: imageId,
      networks: [{ port: port.id }],
      key_name: keyName,
      metadata: { ...RUN_META, role: 'web' },
      tags: [RUN_TAG, serverTag],
      description: 'ferry lab compute',
      'os:scheduler_hints': { group: group.id },
    });
    shared.add(`server ${created.id}`, () => removeServer(site, created.id));
    server = (await waitForServer(site.compute, created.id, ['ACTIVE'], { timeoutMs: TIMEOUTS.server }))!;
  });

  after(async function () {
    this.timeout(600_000);
    await shared.runAll();
    if (shared.leftovers.length > 0) throw new Error(`shared cleanup left resources behind: ${shared.leftovers.join('; ')}`);
  });

  it('keypairs: the imported key is read back with the fingerprint Nova computes, and listed', async () => {
    const kp = await getKeypair(site.compute, keyName);
    expect(kp.name).to.equal(keyName);
    expect(kp.type).to.equal('ssh');
    expect(kp.fingerprint).to.equal(key.fingerprint);
    expect(kp.public_key.split(' ').slice(0, 2).join(' ')).to.equal(key.publicKey.split(' ').slice(0, 2).join(' '));
    expect(kp.user_id).to.be.a('string');
    const listed = (await collect(listKeypairs(site.compute, { limit: 1 }))).find((k) => k.name === keyName);
    expect(listed?.fingerprint, 'listed (keypairs_links paging, limit 1)').to.equal(key.fingerprint);
    const err = await rejection(importKeypair(site.compute, { name: keyName, public_key: key.publicKey }));
    expect((err as { status?: number }).status, 'a second import of the name').to.equal(409);
  });

  it('flavors: the created flavor carries its extra specs, description and is listed', async () => {
    const f = await getFlavor(site.compute, flavor.id);
    expect(f).to.include({ name: flavor.name, ram: 64, vcpus: 1, disk: 1, 'os-flavor-access:is_public': true, 'OS-FLV-DISABLED:disabled': false });
    expect(f.description).to.equal(`ferry lab ${RUN_TAG}`);
    expect(f.extra_specs, 'extra_specs shown since 2.61').to.deep.equal({ 'hw:cpu_policy': 'shared', 'ferry:run': RUN_TAG });
    expect(await getFlavorExtraSpecs(site.compute, flavor.id)).to.deep.equal({ 'hw:cpu_policy': 'shared', 'ferry:run': RUN_TAG });
    const pages: number[] = [];
    const all = await collect(listFlavors(site.compute, { limit: 1 }, { onPage: (n) => pages.push(n) }));
    expect(all.map((x) => x.id)).to.include(flavor.id);
    expect(pages.filter((n) => n > 0).length, 'one flavor per page').to.be.greaterThan(1);
  });

  it('flavors: create with extra specs, delete a spec, delete the flavor idempotently', async () => {
    const f = await createFlavor(site.compute, { name: uniqueName('flavor-tmp'), ram: 32, vcpus: 1, disk: 0 });
    cleanup().add(`flavor ${f.id}`, () => deleteFlavor(site.compute, f.id));
    expect(f.id, 'a UUID chosen by Nova').to.match(/^[0-9a-f-]{36}$/);
    expect(f.swap, 'swap is 0 since 2.75').to.equal(0);
    const set = await setFlavorExtraSpecs(site.compute, f.id, { 'hw:mem_page_size': 'small', 'ferry:keep': 'no' });
    expect(set).to.deep.equal({ 'hw:mem_page_size': 'small', 'ferry:keep': 'no' });
    expect(await deleteFlavorExtraSpec(site.compute, f.id, 'ferry:keep')).to.equal(true);
    expect(await deleteFlavorExtraSpec(site.compute, f.id, 'ferry:keep'), 'already gone').to.equal(false);
    expect(await getFlavorExtraSpecs(site.compute, f.id)).to.deep.equal({ 'hw:mem_page_size': 'small' });
    expect(await deleteFlavor(site.compute, f.id)).to.equal(true);
    expect(await rejection(getFlavor(site.compute, f.id))).to.be.instanceOf(NotFoundError);
    expect(await deleteFlavor(site.compute, f.id)).to.equal(false);
  });

  it('server groups: 2.64 policy and rules, the booted server is a member, listed page by page with limit/offset', async () => {
    const g = await getServerGroup(site.compute, group.id);
    expect(serverGroupPolicy(g)).to.equal('anti-affinity');
    expect(g.rules).to.deep.equal({ max_server_per_host: 2 });
    expect(g.members).to.deep.equal([server.id]);
    const other = await createServerGroup(site.compute, { name: uniqueName('group'), policy: 'soft-affinity' });
    cleanup().add(`server group ${other.id}`, () => deleteServerGroup(site.compute, other.id));
    expect(other.policy).to.equal('soft-affinity');
    expect(other.rules).to.deep.equal({});
    const pages: number[] = [];
    const listed = await collect(listServerGroups(site.compute, { limit: 1 }, { onPage: (n) => pages.push(n) }));
    const ids = listed.map((x) => x.id);
    expect(ids).to.include.members([group.id, other.id]);
    expect(new Set(ids).size, 'no group twice').to.equal(ids.length);
    expect(pages.length, 'one request per group plus the empty last page').to.equal(listed.length + 1);
    expect(pages.at(-1)).to.equal(0);
    expect((await getServer(site.compute, server.id)).server_groups, 'server_groups on GET since 2.71').to.deep.equal([group.id]);
    expect(await deleteServerGroup(site.compute, other.id)).to.equal(true);
    expect(await deleteServerGroup(site.compute, other.id)).to.equal(false);
  });

  it('servers: booted on a port with keypair, metadata, tags and description; ACTIVE with the embedded flavor', async () => {
    expect(server.status).to.equal('ACTIVE');
    expect(server.key_name).to.equal(keyName);
    expect(server.metadata).to.deep.equal({ ...RUN_META, role: 'web' });
    expect([...(server.tags ?? [])].sort()).to.deep.equal([RUN_TAG, serverTag].sort());
    expect(server.description).to.equal('ferry lab compute');
    expect(serverImageId(server)).to.equal(imageId);
    expect(isEmbeddedFlavor(server.flavor), 'embedded flavor since 2.47').to.equal(true);
    if (isEmbeddedFlavor(server.flavor)) {
      expect(server.flavor).to.include({ original_name: flavor.name, ram: 64, vcpus: 1, disk: 1 });
      expect(server.flavor.extra_specs).to.deep.equal({ 'hw:cpu_policy': 'shared', 'ferry:run': RUN_TAG });
    }
    expect(server.locked).to.equal(false);
    expect(server['OS-EXT-STS:vm_state']).to.equal('active');
    expect(server['OS-EXT-STS:power_state']).to.equal(1);
    const p = await getPort(site.network, port.id);
    expect(p.device_id, 'Nova bound the given port').to.equal(server.id);
    const addrs = server.addresses[net.name] ?? [];
    expect(addrs.map((a) => a.addr)).to.include(p.fixed_ips[0]!.ip_address);
    expect(addrs[0]!['OS-EXT-IPS:type']).to.equal('fixed');
  });

  it('servers: listed by tag, and page by page with limit 1 over 3 servers', async () => {
    const pageTag = uniqueName('page');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const opts: CreateServerOpts = { name: uniqueName('page-server'), flavorRef: flavor.id, imageRef: imageId, networks: [{ uuid: net.id }], metadata: RUN_META, tags: [RUN_TAG, pageTag] };
      const c = await createServer(site.compute, opts);
      cleanup().add(`server ${c.id}`, () => removeServer(site, c.id));
      ids.push(c.id);
    }
    for (const id of ids) await waitForServer(site.compute, id, ['ACTIVE'], { timeoutMs: TIMEOUTS.server });

    const pages: number[] = [];
    const paged = await collect(listServers(site.compute, { tags: [pageTag], limit: 1 }, { onPage: (n) => pages.push(n) }));
    expect(paged.map((s) => s.id).sort()).to.deep.equal([...ids].sort());
    expect(pages.filter((n) => n > 0), 'three pages of one server').to.deep.equal([1, 1, 1]);

    const byRunTag = (await collect(listServers(site.compute, { tags: [RUN_TAG, serverTag] }))).map((s) => s.id);
    expect(byRunTag, 'tags= needs every tag').to.deep.equal([server.id]);
    const anyTag = (await collect(listServers(site.compute, { 'tags-any': [pageTag, serverTag] }))).map((s) => s.id);
    expect(anyTag.sort()).to.deep.equal([...ids, server.id].sort());
    const notPage = (await collect(listServers(site.compute, { tags: [RUN_TAG], 'not-tags-any': [pageTag] }))).map((s) => s.id);
    expect(notPage).to.include(server.id).and.not.to.include.members(ids);
    const shown = paged.find((s) => s.id === ids[0])!;
    expect(shown.addresses[net.name], 'booted on the network').to.have.length(1);

    for (const id of ids) await deleteServer(site.compute, id);
    for (const id of ids) await waitForServerDeleted(site.compute, id, { timeoutMs: TIMEOUTS.server });
    expect(await collect(listServers(site.compute, { tags: [pageTag] }))).to.deep.equal([]);
    expect(await deleteServer(site.compute, ids[0]!), 'a second delete').to.equal(false);
  });

  it('servers: stop, start, lock with a reason, unlock', async () => {
    await stopServer(site.compute, server.id);
    let s = (await waitForServer(site.compute, server.id, ['SHUTOFF'], { timeoutMs: TIMEOUTS.server }))!;
    expect(s['OS-EXT-STS:power_state']).to.equal(4);
    await startServer(site.compute, server.id);
    s = (await waitForServer(site.compute, server.id, ['ACTIVE'], { timeoutMs: TIMEOUTS.server }))!;
    expect(s['OS-EXT-STS:power_state']).to.equal(1);

    await lockServer(site.compute, server.id, { locked_reason: `ferry lab ${RUN_TAG}` });
    s = await getServer(site.compute, server.id);
    expect(s.locked).to.equal(true);
    expect(s.locked_reason).to.equal(`ferry lab ${RUN_TAG}`);
    const locked = (await collect(listServers(site.compute, { tags: [serverTag], locked: true }))).map((x) => x.id);
    expect(locked, 'the locked filter (2.73)').to.deep.equal([server.id]);
    await unlockServer(site.compute, server.id);
    s = await getServer(site.compute, server.id);
    expect(s.locked).to.equal(false);
    expect(s.locked_reason ?? null).to.equal(null);
    expect(await collect(listServers(site.compute, { tags: [serverTag], locked: true }))).to.deep.equal([]);
  });

  it('servers: shelve (offloaded) and unshelve back to ACTIVE', async () => {
    await shelveServer(site.compute, server.id);
    const s = (await waitForServer(site.compute, server.id, ['SHELVED_OFFLOADED'], { timeoutMs: TIMEOUTS.server }))!;
    expect(s['OS-EXT-STS:vm_state']).to.equal('shelved_offloaded');
    await unshelveServer(site.compute, server.id);
    const back = (await waitForServer(site.compute, server.id, ['ACTIVE'], { timeoutMs: TIMEOUTS.server }))!;
    expect(back['OS-EXT-STS:task_state']).to.equal(null);
    expect((await getPort(site.network, port.id)).device_id, 'the port follows the server').to.equal(server.id);
  });

  it('servers: metadata merged and one key deleted idempotently', async () => {
    const merged = await setServerMetadata(site.compute, server.id, { tier: 'gold', role: 'db' });
    expect(merged).to.deep.equal({ ...RUN_META, role: 'db', tier: 'gold' });
    expect(await deleteServerMetadataKey(site.compute, server.id, 'tier')).to.equal(true);
    expect(await deleteServerMetadataKey(site.compute, server.id, 'tier')).to.equal(false);
    expect(await getServerMetadata(site.compute, server.id)).to.deep.equal({ ...RUN_META, role: 'db' });
  });

  it('servers: tags added, checked, replaced and deleted', async () => {
    const extra = uniqueName('extra');
    await addServerTag(site.compute, server.id, extra);
    await addServerTag(site.compute, server.id, extra); // already there: 204
    expect(await serverHasTag(site.compute, server.id, extra)).to.equal(true);
    expect(await serverHasTag(site.compute, server.id, 'no-such-tag')).to.equal(false);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect(await rejection(serverHasTag(site.compute, missing, extra)), 'a missing server is an error, not false').to.be.instanceOf(NotFoundError);
    expect((await listServerTags(site.compute, server.id)).sort()).to.deep.equal([RUN_TAG, serverTag, extra].sort());
    expect((await replaceServerTags(site.compute, server.id, [RUN_TAG, serverTag, 'replaced'])).sort()).to.deep.equal([RUN_TAG, serverTag, 'replaced'].sort());
    expect(await deleteServerTag(site.compute, server.id, 'replaced')).to.equal(true);
    expect(await deleteServerTag(site.compute, server.id, 'replaced')).to.equal(false);
    expect((await listServerTags(site.compute, server.id)).sort()).to.deep.equal([RUN_TAG, serverTag].sort());
  });

  it('volume attachments: attach a 1 GiB volume, in-use, listed, detach, available', async () => {
    const vol = await createVolume(site.blockStorage, { size: 1, name: uniqueName('vol'), metadata: RUN_META });
    cleanup().add(`volume ${vol.id}`, () => removeVolume(site, vol.id));
    await waitForVolume(site.blockStorage, vol.id, ['available'], { timeoutMs: TIMEOUTS.volume });

    // No device tag: on the lab's fake driver Nova cannot finish detaching a tagged volume
    // (compute/manager.py _delete_disk_metadata: instance.device_metadata is None).
    const att = await attachVolume(site.compute, server.id, { volumeId: vol.id, delete_on_termination: false });
    cleanup().add(`attachment of ${vol.id}`, async () => {
      if (await detachVolume(site.compute, server.id, vol.id)) await waitForVolume(site.blockStorage, vol.id, ['available'], { timeoutMs: TIMEOUTS.volume });
    });
    expect(att).to.include({ volumeId: vol.id, serverId: server.id });
    const inUse = (await waitForVolume(site.blockStorage, vol.id, ['in-use'], { timeoutMs: TIMEOUTS.volume }))!;
    expect(inUse.attachments.map((a) => a.server_id)).to.deep.equal([server.id]);

    const listed = await collect(listVolumeAttachments(site.compute, server.id));
    expect(listed.map((a) => a.volumeId)).to.deep.equal([vol.id]);
    expect(listed[0]).to.include({ id: vol.id, serverId: server.id, tag: null, delete_on_termination: false });
    expect(listed[0]!.device).to.match(/^\/dev\//);
    expect((await getVolumeAttachment(site.compute, server.id, vol.id)).device).to.equal(listed[0]!.device);
    expect((await getServer(site.compute, server.id))['os-extended-volumes:volumes_attached']).to.deep.equal([{ id: vol.id, delete_on_termination: false }]);

    expect(await detachVolume(site.compute, server.id, vol.id)).to.equal(true);
    await waitForVolume(site.blockStorage, vol.id, ['available'], { timeoutMs: TIMEOUTS.volume });
    expect(await collect(listVolumeAttachments(site.compute, server.id))).to.deep.equal([]);
    expect(await detachVolume(site.compute, server.id, vol.id), 'detached already').to.equal(false);
    await removeVolume(site, vol.id);
  });

  it('limits and quota set: the project usage counts the server', async () => {
    const limits = await getLimits(site.compute);
    expect(limits.absolute.maxTotalInstances).to.be.greaterThan(0);
    expect(limits.absolute.totalInstancesUsed).to.be.at.least(1);
    expect(limits.absolute.totalRAMUsed).to.be.at.least(64);
    expect(limits.absolute, 'network quotas left at 2.36').not.to.have.property('maxTotalFloatingIps');
    const projectId = (await site.connect()).info.project!.id!;
    const q = await getQuotaSet(site.compute, projectId);
    expect(q.id).to.equal(projectId);
    expect(q.instances.limit).to.equal(limits.absolute.maxTotalInstances);
    expect(q.instances.in_use).to.be.at.least(1);
    expect(q.cores.reserved).to.equal(0);
    expect(q.server_groups.in_use).to.be.at.least(1);
    expect(q, 'no network quotas at 2.79').not.to.have.property('floating_ips');
  });

  it('servers: boot from a bootable 1 GiB volume (block_device_mapping_v2, networks none)', async () => {
    const vol: Volume = await createVolume(site.blockStorage, { size: 1, name: uniqueName('root'), metadata: RUN_META });
    cleanup().add(`volume ${vol.id}`, () => removeVolume(site, vol.id));
    await waitForVolume(site.blockStorage, vol.id, ['available'], { timeoutMs: TIMEOUTS.volume });
    await setVolumeBootable(site.blockStorage, vol.id, true);
    expect((await getVolume(site.blockStorage, vol.id)).bootable).to.equal('true');

    const c = await createServer(site.compute, {
      name: uniqueName('bfv'),
      flavorRef: flavor.id,
      networks: 'none',
      block_device_mapping_v2: [{ source_type: 'volume', destination_type: 'volume', uuid: vol.id, boot_index: 0, delete_on_termination: false }],
      metadata: RUN_META,
      tags: [RUN_TAG],
    });
    cleanup().add(`server ${c.id}`, () => removeServer(site, c.id));
    const s = (await waitForServer(site.compute, c.id, ['ACTIVE'], { timeoutMs: TIMEOUTS.server }))!;
    expect(s.image, 'no image for a volume-backed server').to.equal('');
    expect(serverImageId(s)).to.equal(undefined);
    expect(s.addresses).to.deep.equal({});
    expect(s['os-extended-volumes:volumes_attached']).to.deep.equal([{ id: vol.id, delete_on_termination: false }]);
    expect((await getVolume(site.blockStorage, vol.id)).status).to.equal('in-use');
    const root = await rejection(detachVolume(site.compute, c.id, vol.id));
    expect((root as { status?: number }).status, 'the root volume cannot be detached').to.equal(400);

    await removeServer(site, c.id);
    await waitForVolume(site.blockStorage, vol.id, ['available'], { timeoutMs: TIMEOUTS.volume });
    await removeVolume(site, vol.id);
  });

  it('servers: deleted, then gone (404) and a second delete is a no-op', async () => {
    await deleteServer(site.compute, server.id);
    await waitForServerDeleted(site.compute, server.id, { timeoutMs: TIMEOUTS.server });
    expect(await rejection(getServer(site.compute, server.id))).to.be.instanceOf(NotFoundError);
    expect(await deleteServer(site.compute, server.id)).to.equal(false);
    expect((await getPort(site.network, port.id)).device_id, 'a port given at boot survives, unbound').to.equal('');
    expect((await getServerGroup(site.compute, group.id)).members).to.deep.equal([]);
  });
});

describe('lab: compute (lab-b)', function () {
  this.timeout(300_000);
  const { cleanup } = useLab();

  it('site B: keypair import/delete, a server group listed by offset, flavors and limits', async () => {
    const site = labSite('lab-b');
    const name = uniqueName('key-b');
    const key = sshPublicKey(name);
    const kp = await importKeypair(site.compute, { name, public_key: key.publicKey });
    cleanup().add(`keypair ${name} (lab-b)`, () => deleteKeypair(site.compute, name));
    expect(kp.fingerprint).to.equal(key.fingerprint);
    const g = await createServerGroup(site.compute, { name: uniqueName('group-b'), policy: 'affinity' });
    cleanup().add(`server group ${g.id} (lab-b)`, () => deleteServerGroup(site.compute, g.id));
    expect((await collect(listServerGroups(site.compute, { limit: 1 }))).map((x) => x.id)).to.include(g.id);
    expect((await collect(listFlavors(site.compute))).map((f) => f.name)).to.include.members(['m1.tiny', 'm1.small']);
    expect((await getLimits(site.compute)).absolute.maxTotalInstances).to.be.greaterThan(0);
    expect(await deleteServerGroup(site.compute, g.id)).to.equal(true);
    expect(await deleteKeypair(site.compute, name)).to.equal(true);
    expect(await deleteKeypair(site.compute, name)).to.equal(false);
  });
});
