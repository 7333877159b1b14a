// The lab's sample two-tier workload, shared by `npm run demo` and spec/lab/two-tier.spec.ts:
// a web tier and a database tier on their own networks, a security group per tier (the
// database admits 5432 from the web group only: a remote-group rule), a keypair, a web server
// booted from the lab image and a database server booted from a 1 GiB volume with a 1 GiB
// data volume of known bytes. Every server carries one Nova tag, the plan's member selector.
//
// The workload lives in the lab's `demo` project, driven by the lab's admin user (who is also
// admin there): Cinder's backup export/import is admin-only, and a Heat stack lands in the
// token's project, so the clouds Ferry uses must be admin *in the workload's project*. The
// lab's clouds.yaml has no such cloud: demoClouds() writes a copy with two more,
// lab-a-demo-admin and lab-b-demo-admin.
//
// Building is idempotent (observe, then act): what already exists under the workload's names
// is adopted, not created again, so a second `npm run demo` reuses the first one's workload.
// Every create is reported through onCreate with its undo, so a test can remove exactly what
// it made even when it fails half-way.
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { isNotFound, type HttpError } from '../../lib/errors.js';
import { createVolume, deleteVolume, getVolume, listVolumes, waitForVolume, waitForVolumeDeleted } from '../../lib/openstack/blockstorage/volumes.js';
import { listFlavors } from '../../lib/openstack/compute/flavors.js';
import { deleteKeypair, getKeypair, importKeypair } from '../../lib/openstack/compute/keypairs.js';
import { createServer, deleteServer, listServers, unlockServer, waitForServer, waitForServerDeleted, type Server } from '../../lib/openstack/compute/servers.js';
import { attachVolume, detachVolume } from '../../lib/openstack/compute/volumeattachments.js';
import { listImages } from '../../lib/openstack/image/images.js';
import { createNetwork, deleteNetwork, findNetworkByName } from '../../lib/openstack/network/networks.js';
import { createSecurityGroup, createSecurityGroupRule, deleteSecurityGroup, listSecurityGroups } from '../../lib/openstack/network/securitygroups.js';
import { createSubnet, listSubnets } from '../../lib/openstack/network/subnets.js';
import { addTag } from '../../lib/openstack/network/tags.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { ServiceClient } from '../../lib/openstack/service-client.js';
import type { Site } from '../../lib/openstack/site.js';

const run = promisify(execFile);
const VOLUME_IO = join(import.meta.dirname, 'lab-volume-io.sh');

/** Clouds admin in the lab's demo project, at site A and B (written by demoClouds()). */
export const DEMO_CLOUDS = { a: 'lab-a-demo-admin', b: 'lab-b-demo-admin' } as const;
/** The project the workload lives in. */
export const DEMO_PROJECT = 'demo';

/**
 * Writes `outFile`: the lab's clouds.yaml plus lab-a-demo-admin and lab-b-demo-admin (the
 * admin user scoped to project demo). Returns outFile.
 */
export function demoClouds(labFile: string, outFile: string): string {
  const doc = parse(readFileSync(labFile, 'utf8')) as { clouds: Record<string, { auth: Record<string, unknown> }> };
  for (const [letter, name] of Object.entries(DEMO_CLOUDS)) {
    const admin = doc.clouds[`lab-${letter}`];
    if (!admin) throw new Error(`${labFile} has no cloud lab-${letter}: is the lab up (devstack/lab/lab-up.sh)?`);
    doc.clouds[name] = { ...admin, auth: { ...admin.auth, project_name: DEMO_PROJECT } };
  }
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, stringify(doc), { mode: 0o600 });
  return outFile;
}

// ---- bytes in volumes (through librbd inside the site) --------------------------------

/** Writes `lengthMb` MiB of incompressible bytes derived from `seed` into the volume, from its start. */
export async function writeVolumeSeed(site: 'a' | 'b', volumeId: string, seed: string, lengthMb: number, offsetMb = 0): Promise<void> {
  await run('bash', [VOLUME_IO, site, 'write', volumeId, String(offsetMb), String(lengthMb), seed], { timeout: 120_000 });
}

/** sha256 of a whole volume. */
export async function volumeSha(site: 'a' | 'b', volumeId: string): Promise<string> {
  const { stdout } = await run('bash', [VOLUME_IO, site, 'sha', volumeId], { timeout: 300_000 });
  const sha = stdout.trim().split('\n').pop() ?? '';
  if (!/^[0-9a-f]{64}$/.test(sha)) throw new Error(`lab-volume-io.sh sha printed '${stdout.trim()}'`);
  return sha;
}

// ---- the workload ---------------------------------------------------------------------

export interface TwoTierOptions {
  /** Name prefix of everything (servers are PREFIX-web and PREFIX-db). */
  prefix: string;
  /** Nova tag on both servers (the plan selects members by it), Neutron tag, volume metadata value. */
  tag: string;
  /** Seed of the database data volume's bytes (written only when the volume is created). */
  seed: string;
  /** MiB written into the data volume (default 8). */
  dataMb?: number;
  /** CIDRs of the two subnets (default: random /24s in 10.233.0.0/16). */
  cidrs?: { web: string; db: string };
  /** Called right after each create with how to undo it (newest last). */
  onCreate?: (what: string, undo: () => Promise<unknown>) => void;
  /** One line per step. */
  log?: (line: string) => void;
  /** Per-wait timeout (default 180 s). */
  timeoutMs?: number;
}

export interface TierNetwork {
  id: string;
  name: string;
  subnetId: string;
  cidr: string;
}

export interface TwoTier {
  tag: string;
  keypair: string;
  networks: { web: TierNetwork; db: TierNetwork };
  securityGroups: { web: { id: string; name: string }; db: { id: string; name: string } };
  web: { id: string; name: string };
  db: { id: string; name: string; bootVolumeId: string; dataVolumeId: string };
  /** Names of what was adopted rather than created (empty on a fresh build). */
  adopted: string[];
}

/** Metadata key on the workload's volumes and servers (value: the tag). */
export const WORKLOAD_KEY = 'ferry-demo';

/** The names of a workload's parts (what adoption and removal look for). */
export function twoTierNames(prefix: string) {
  return {
    keypair: `${prefix}-key`,
    networks: { web: `${prefix}-web-net`, db: `${prefix}-db-net` },
    subnets: { web: `${prefix}-web-subnet`, db: `${prefix}-db-subnet` },
    securityGroups: { web: `${prefix}-web-sg`, db: `${prefix}-db-sg` },
    servers: { web: `${prefix}-web`, db: `${prefix}-db` },
    volumes: { boot: `${prefix}-db-boot`, data: `${prefix}-db-data` },
  };
}

/** An OpenSSH ssh-ed25519 public key line, generated here (the private half is dropped). */
export function sshEd25519PublicKey(comment: string): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const str = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

const VOLUME_BUSY = new Set(['creating', 'attaching', 'detaching', 'reserved', 'deleting', 'backing-up', 'restoring-backup', 'extending', 'downloading', 'uploading', 'retyping', 'maintenance']);

/** Deletes a volume (cascading its snapshots) once it has settled, and waits until it is gone. */
export async function removeVolumeWhenSettled(sc: ServiceClient, id: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let status: string;
    try {
      status = (await getVolume(sc, id)).status;
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (status === 'deleting') break;
    if (!VOLUME_BUSY.has(status) || Date.now() > deadline) {
      await deleteVolume(sc, id, { cascade: true });
      break;
    }
    await sleep(2000);
  }
  await waitForVolumeDeleted(sc, id, { timeoutMs });
}

/** Deletes a server (unlocked first: a fenced server is locked) and waits until it is gone. */
export async function removeServer(sc: ServiceClient, id: string, timeoutMs = 180_000): Promise<void> {
  await unlockServer(sc, id).catch(() => undefined);
  if (await deleteServer(sc, id)) await waitForServerDeleted(sc, id, { timeoutMs });
}

/** Deletes a Neutron resource, waiting while ports still use it (409). */
async function deleteWhenFree(del: () => Promise<unknown>): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await del();
      return;
    } catch (err) {
      if ((err as HttpError).status !== 409 || i >= 30) throw err;
      await sleep(3000);
    }
  }
}

function randomCidr(): string {
  return `10.233.${Math.floor(Math.random() * 250) + 1}.0/24`;
}

/**
 * Builds (or adopts) the two-tier workload at a site. The site's cloud must be scoped to the
 * project the workload belongs in.
 */
export async function buildTwoTier(site: Site, o: TwoTierOptions): Promise<TwoTier> {
  const names = twoTierNames(o.prefix);
  const log = o.log ?? (() => undefined);
  const onCreate = o.onCreate ?? (() => undefined);
  const timeoutMs = o.timeoutMs ?? 180_000;
  const adopted: string[] = [];
  const letter = site.name.includes('-b') ? 'b' : 'a';

  // ---- keypair
  try {
    await getKeypair(site.compute, names.keypair);
    adopted.push(names.keypair);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await importKeypair(site.compute, { name: names.keypair, public_key: sshEd25519PublicKey(o.tag) });
    onCreate(`${site.name} keypair ${names.keypair}`, () => deleteKeypair(site.compute, names.keypair));
    log(`keypair ${names.keypair} imported`);
  }

  // ---- networks
  const network = async (tier: 'web' | 'db', cidrWanted: string): Promise<TierNetwork> => {
    const name = names.networks[tier];
    let net = await findNetworkByName(site.network, name);
    if (net) adopted.push(name);
    else {
      net = await createNetwork(site.network, { name });
      const id = net.id;
      onCreate(`${site.name} network ${name} (${id})`, () => deleteWhenFree(() => deleteNetwork(site.network, id)));
      await addTag(site.network, 'networks', id, o.tag);
      log(`network ${name} created`);
    }
    const existing = (await collect(listSubnets(site.network, { network_id: net.id })))[0];
    if (existing) return { id: net.id, name, subnetId: existing.id, cidr: existing.cidr };
    const subnet = await createSubnet(site.network, { network_id: net.id, ip_version: 4, cidr: cidrWanted, name: names.subnets[tier] });
    await addTag(site.network, 'subnets', subnet.id, o.tag);
    return { id: net.id, name, subnetId: subnet.id, cidr: subnet.cidr };
  };
  const webCidr = o.cidrs?.web ?? randomCidr();
  let dbCidr = o.cidrs?.db ?? randomCidr();
  while (dbCidr === webCidr) dbCidr = randomCidr();
  const webNet = await network('web', webCidr);
  const dbNet = await network('db', dbCidr);

  // ---- security groups: web admits http from anywhere, db admits 5432 from the web group only
  const group = async (tier: 'web' | 'db'): Promise<{ id: string; name: string; created: boolean }> => {
    const name = names.securityGroups[tier];
    const found = (await collect(listSecurityGroups(site.network, { name }))).find((g) => g.name === name);
    if (found) {
      adopted.push(name);
      return { id: found.id, name, created: false };
    }
    const g = await createSecurityGroup(site.network, { name, description: `${tier} tier of ${o.prefix}` });
    onCreate(`${site.name} security group ${name} (${g.id})`, () => deleteWhenFree(() => deleteSecurityGroup(site.network, g.id)));
    await addTag(site.network, 'security-groups', g.id, o.tag);
    log(`security group ${name} created`);
    return { id: g.id, name, created: true };
  };
  const webSg = await group('web');
  const dbSg = await group('db');
  if (webSg.created) await createSecurityGroupRule(site.network, { security_group_id: webSg.id, direction: 'ingress', protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_ip_prefix: '0.0.0.0/0', description: 'http' });
  if (dbSg.created) await createSecurityGroupRule(site.network, { security_group_id: dbSg.id, direction: 'ingress', protocol: 'tcp', port_range_min: 5432, port_range_max: 5432, remote_group_id: webSg.id, description: 'postgres from the web tier' });

  // ---- image and flavor
  const image = (await collect(listImages(site.image, { name: 'lab-tiny' })))[0];
  if (!image) throw new Error(`${site.name} has no lab-tiny image (is the lab up?)`);
  const flavor = (await collect(listFlavors(site.compute))).find((f) => f.name === 'm1.tiny');
  if (!flavor) throw new Error(`${site.name} has no m1.tiny flavor`);

  // ---- volumes
  const volume = async (name: string, fromImage: boolean): Promise<{ id: string; created: boolean }> => {
    const found = (await collect(listVolumes(site.blockStorage, { name }))).find((v) => v.name === name && v.status !== 'deleting' && v.status !== 'error');
    if (found) {
      adopted.push(name);
      return { id: found.id, created: false };
    }
    const v = await createVolume(site.blockStorage, { size: 1, name, metadata: { [WORKLOAD_KEY]: o.tag }, ...(fromImage ? { imageRef: image.id } : {}) });
    onCreate(`${site.name} volume ${name} (${v.id})`, () => removeVolumeWhenSettled(site.blockStorage, v.id, timeoutMs));
    await waitForVolume(site.blockStorage, v.id, ['available'], { timeoutMs });
    log(`volume ${name} created`);
    return { id: v.id, created: true };
  };
  const boot = await volume(names.volumes.boot, true);
  const data = await volume(names.volumes.data, false);
  if (data.created) await writeVolumeSeed(letter, data.id, o.seed, o.dataMb ?? 8);

  // ---- servers
  const server = async (tier: 'web' | 'db', body: Omit<Parameters<typeof createServer>[1], 'name' | 'flavorRef' | 'key_name' | 'metadata' | 'tags'>): Promise<{ id: string; name: string; created: boolean }> => {
    const name = names.servers[tier];
    const found = (await collect(listServers(site.compute, { name: `^${name}$`, tags: [o.tag] }))).filter((s: Server) => s.name === name);
    if (found.length > 0) {
      adopted.push(name);
      return { id: found[0]!.id, name, created: false };
    }
    const s = await createServer(site.compute, { ...body, name, flavorRef: flavor.id, key_name: names.keypair, metadata: { [WORKLOAD_KEY]: o.tag, tier }, tags: [o.tag] });
    onCreate(`${site.name} server ${name} (${s.id})`, () => removeServer(site.compute, s.id, timeoutMs));
    log(`server ${name} created`);
    return { id: s.id, name, created: true };
  };
  const web = await server('web', { imageRef: image.id, networks: [{ uuid: webNet.id }], security_groups: [{ name: webSg.name }] });
  const db = await server('db', {
    networks: [{ uuid: dbNet.id }],
    security_groups: [{ name: dbSg.name }],
    block_device_mapping_v2: [{ boot_index: 0, uuid: boot.id, source_type: 'volume', destination_type: 'volume', delete_on_termination: false }],
  });
  await waitForServer(site.compute, web.id, ['ACTIVE', 'SHUTOFF'], { timeoutMs });
  await waitForServer(site.compute, db.id, ['ACTIVE', 'SHUTOFF'], { timeoutMs });

  const dataVolume = await getVolume(site.blockStorage, data.id);
  if (!dataVolume.attachments.some((a) => a.server_id === db.id)) {
    await attachVolume(site.compute, db.id, { volumeId: data.id });
    onCreate(`${site.name} attachment ${db.name}/${names.volumes.data}`, async () => {
      if (await detachVolume(site.compute, db.id, data.id)) await waitForVolume(site.blockStorage, data.id, ['available'], { timeoutMs });
    });
    await waitForVolume(site.blockStorage, data.id, ['in-use'], { timeoutMs });
    log(`volume ${names.volumes.data} attached to ${db.name}`);
  }

  return {
    tag: o.tag,
    keypair: names.keypair,
    networks: { web: webNet, db: dbNet },
    securityGroups: { web: { id: webSg.id, name: webSg.name }, db: { id: dbSg.id, name: dbSg.name } },
    web: { id: web.id, name: web.name },
    db: { id: db.id, name: db.name, bootVolumeId: boot.id, dataVolumeId: data.id },
    adopted,
  };
}

/**
 * Removes a workload's parts by their names and tag (what buildTwoTier would adopt), plus any
 * server carrying the tag (a failback's recovered copies): servers, volumes, groups,
 * networks, keypair. Missing parts are skipped. Returns what was removed.
 */
export async function removeTwoTier(site: Site, prefix: string, tag: string, opts: { timeoutMs?: number; log?: (line: string) => void } = {}): Promise<string[]> {
  const names = twoTierNames(prefix);
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const removed: string[] = [];
  const note = (what: string) => {
    removed.push(what);
    opts.log?.(`removed ${what}`);
  };
  for (const s of await collect(listServers(site.compute, { tags: [tag] }))) {
    await removeServer(site.compute, s.id, timeoutMs);
    note(`server ${s.name} (${s.id})`);
  }
  for (const v of await collect(listVolumes(site.blockStorage, { metadata: { [WORKLOAD_KEY]: tag } }))) {
    await removeVolumeWhenSettled(site.blockStorage, v.id, timeoutMs);
    note(`volume ${v.name} (${v.id})`);
  }
  for (const name of [names.securityGroups.db, names.securityGroups.web]) {
    for (const g of (await collect(listSecurityGroups(site.network, { name }))).filter((x) => x.name === name)) {
      await deleteWhenFree(() => deleteSecurityGroup(site.network, g.id));
      note(`security group ${name} (${g.id})`);
    }
  }
  for (const name of [names.networks.web, names.networks.db]) {
    const net = await findNetworkByName(site.network, name);
    if (net) {
      await deleteWhenFree(() => deleteNetwork(site.network, net.id));
      note(`network ${name} (${net.id})`);
    }
  }
  if (await deleteKeypair(site.compute, names.keypair)) note(`keypair ${names.keypair}`);
  return removed;
}
