// What every approach of the failover benchmark starts from, made once at site B: N backups
// (each of its own 1 GiB volume, the volume deleted once backed up, as after a replication
// cycle the secondary holds backups and no volumes), a network and a subnet, the m1.tiny
// flavor and the lab-tiny image. Everything is named `<prefix>-...` and tagged or marked
// with the run tag, registered for cleanup right after its create, and swept by prefix at
// the end, so a crash anywhere leaves nothing behind.
import { getQuotaUsage, quotaHeadroom } from '../../../lib/openstack/blockstorage/limits.js';
import { createBackup, deleteBackup, listBackups, waitForBackup, waitForBackupDeleted } from '../../../lib/openstack/blockstorage/backups.js';
import { createVolume, deleteVolume, listVolumes, waitForVolume, waitForVolumeDeleted } from '../../../lib/openstack/blockstorage/volumes.js';
import { listFlavors } from '../../../lib/openstack/compute/flavors.js';
import { getLimits } from '../../../lib/openstack/compute/limits.js';
import { deleteServer, listServers, waitForServerDeleted } from '../../../lib/openstack/compute/servers.js';
import { listImages } from '../../../lib/openstack/image/images.js';
import { createNetwork, deleteNetwork, listNetworks } from '../../../lib/openstack/network/networks.js';
import { deletePort, listPorts } from '../../../lib/openstack/network/ports.js';
import { createSubnet } from '../../../lib/openstack/network/subnets.js';
import { addTag } from '../../../lib/openstack/network/tags.js';
import { deleteStack, listStacks, waitForStackDeleted } from '../../../lib/openstack/orchestration/stacks.js';
import { collect } from '../../../lib/openstack/paginate.js';
import type { Site } from '../../../lib/openstack/site.js';
import { TIMEOUTS, type Cleanup } from '../../lab/support/lab.js';

/** Metadata key (volumes, backups, servers) that carries the run tag. */
export const MARK_KEY = 'ferry-bench';
export const VOLUME_GIB = 1;
export const FLAVOR_NAME = 'm1.tiny';
export const IMAGE_NAME = 'lab-tiny';
/** No DHCP agent runs in the lab: addresses come from IPAM, which is all the ports need. */
export const SUBNET_CIDR = '10.231.0.0/24';

export interface BenchServer {
  /** 1-based: heat-alone.yaml's backup_<index>. */
  index: number;
  backupId: string;
}

export interface Fixture {
  cloud: string;
  /** Name prefix of everything this run makes; also its tag (unique per run). */
  prefix: string;
  runTag: string;
  networkId: string;
  subnetId: string;
  flavor: { id: string; name: string };
  image: { id: string; name: string };
  servers: BenchServer[];
  setupSeconds: number;
}

/** A unique prefix and tag for one benchmark run. */
export function benchRunTag(now: Date = new Date()): string {
  return `ferry-bench-${now.getTime().toString(36)}`;
}

type Log = (line: string) => void;

async function settleAll<T>(work: Promise<T>[]): Promise<T[]> {
  // Every create must have settled (and registered its cleanup) before cleanup runs.
  const settled = await Promise.allSettled(work);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

/**
 * What stops the run before it starts: too little quota left at the site for N volumes,
 * backups, gigabytes and servers (other suites share the lab's admin project).
 */
export async function quotaProblems(site: Site, servers: number, signal?: AbortSignal): Promise<string[]> {
  const token = await site.connect(signal);
  const projectId = token.info.project?.id;
  if (!projectId) return [`${site.name}: the token is not project-scoped; use a project cloud from clouds.yaml`];
  const problems: string[] = [];
  const usage = await getQuotaUsage(site.blockStorage, projectId, signal);
  for (const [resource, need] of [['volumes', servers], ['backups', servers], ['gigabytes', servers * VOLUME_GIB]] as const) {
    const room = quotaHeadroom(usage, resource);
    if (room < need) problems.push(`${site.name}: Cinder quota '${resource}' has room for ${room}, the benchmark needs ${need} (wait for other suites to finish, or pass --servers ${Math.max(1, servers - (need - room))})`);
  }
  const limits = (await getLimits(site.compute, { signal })).absolute;
  const instancesLeft = limits.maxTotalInstances < 0 ? Infinity : limits.maxTotalInstances - limits.totalInstancesUsed;
  if (instancesLeft < servers) problems.push(`${site.name}: Nova quota 'instances' has room for ${instancesLeft}, the benchmark needs ${servers}`);
  return problems;
}

/** Makes the shared starting point at the site; every create is registered with `cleanup` at once. */
export async function setUpFixture(site: Site, o: { servers: number; prefix: string; cleanup: Cleanup; log: Log; signal?: AbortSignal }): Promise<Fixture> {
  const t0 = performance.now();
  const { prefix, cleanup, signal } = o;
  const runTag = prefix;
  const flavor = (await collect(listFlavors(site.compute, {}, { signal }))).find((f) => f.name === FLAVOR_NAME);
  if (!flavor) throw new Error(`${site.name} has no flavor ${FLAVOR_NAME}: is the lab up (npm run lab:status)?`);
  const image = (await collect(listImages(site.image, { name: IMAGE_NAME, status: 'active' }, { signal })))[0];
  if (!image) throw new Error(`${site.name} has no active image ${IMAGE_NAME}: is the lab up (npm run lab:status)?`);

  const net = await createNetwork(site.network, { name: `${prefix}-net` }, signal);
  cleanup.add(`network ${net.id}`, () => deleteNetwork(site.network, net.id));
  await addTag(site.network, 'networks', net.id, runTag, signal);
  const subnet = await createSubnet(site.network, { network_id: net.id, ip_version: 4, cidr: SUBNET_CIDR, name: `${prefix}-subnet`, enable_dhcp: false }, signal);
  // No cleanup step of its own: deleting the network deletes its subnet.
  await addTag(site.network, 'subnets', subnet.id, runTag, signal);
  o.log(`network ${net.id} and subnet ${subnet.id} (${SUBNET_CIDR})`);

  const indices = Array.from({ length: o.servers }, (_, i) => i + 1);
  const marks = { [MARK_KEY]: runTag };
  const servers = await settleAll(
    indices.map(async (index): Promise<BenchServer> => {
      const volume = await createVolume(site.blockStorage, { size: VOLUME_GIB, name: `${prefix}-source-${index}`, metadata: marks }, signal);
      cleanup.add(`source volume ${volume.id}`, async () => {
        await deleteVolume(site.blockStorage, volume.id);
        await waitForVolumeDeleted(site.blockStorage, volume.id, { timeoutMs: TIMEOUTS.volume });
      });
      await waitForVolume(site.blockStorage, volume.id, ['available'], { timeoutMs: TIMEOUTS.volume, signal });
      const backup = await createBackup(site.blockStorage, { volume_id: volume.id, name: `${prefix}-backup-${index}`, metadata: marks }, signal);
      cleanup.add(`backup ${backup.id}`, async () => {
        // A backup being restored cannot be deleted (400): let an interrupted restore finish.
        await waitForBackup(site.blockStorage, backup.id, ['available', 'error'], { timeoutMs: TIMEOUTS.restore }).catch(() => undefined);
        await deleteBackup(site.blockStorage, backup.id);
        await waitForBackupDeleted(site.blockStorage, backup.id, { timeoutMs: TIMEOUTS.backup });
      });
      await waitForBackup(site.blockStorage, backup.id, ['available'], { timeoutMs: TIMEOUTS.backup, signal });
      // The secondary holds backups, not volumes: free the quota and Ceph space now.
      await deleteVolume(site.blockStorage, volume.id, { signal });
      await waitForVolumeDeleted(site.blockStorage, volume.id, { timeoutMs: TIMEOUTS.volume, signal });
      o.log(`backup ${index}/${o.servers}: ${backup.id}`);
      return { index, backupId: backup.id };
    }),
  );
  return {
    cloud: site.name,
    prefix,
    runTag,
    networkId: net.id,
    subnetId: subnet.id,
    flavor: { id: flavor.id, name: flavor.name },
    image: { id: image.id, name: image.name ?? IMAGE_NAME },
    servers,
    setupSeconds: (performance.now() - t0) / 1000,
  };
}

/**
 * Waits until every backup is `available` again: Cinder answers a restore of a backup that is
 * still `restoring` with 400, and a restore's volume turns available a moment before its backup.
 */
export async function backupsReady(site: Site, fixture: Fixture, signal?: AbortSignal): Promise<void> {
  await Promise.all(fixture.servers.map((s) => waitForBackup(site.blockStorage, s.backupId, ['available'], { timeoutMs: TIMEOUTS.restore, signal })));
}

/** Everything at the site that carries the run's prefix (names) or tag. */
export interface Marked {
  stacks: { id: string; name: string }[];
  servers: { id: string; name: string }[];
  volumes: { id: string; name: string }[];
  ports: { id: string; name: string }[];
  backups: { id: string; name: string }[];
  networks: { id: string; name: string }[];
}

/** Lists what carries the prefix: a handful of list calls, filtered here by name or tag. */
export async function findMarked(site: Site, prefix: string): Promise<Marked> {
  const named = (n: string | null | undefined) => (n ?? '').startsWith(`${prefix}-`);
  const pick = (x: { id: string; name?: string | null; stack_name?: string }) => ({ id: x.id, name: x.stack_name ?? x.name ?? '' });
  const ports = new Map<string, { id: string; name: string }>();
  for (const p of await collect(listPorts(site.network, { 'tags-any': [prefix] }))) ports.set(p.id, pick(p));
  for (const p of await collect(listPorts(site.network))) if (named(p.name)) ports.set(p.id, pick(p));
  return {
    stacks: (await collect(listStacks(site.orchestration, { tags: [prefix] }))).map(pick),
    servers: (await collect(listServers(site.compute, { name: `^${prefix}-` }))).filter((s) => named(s.name)).map(pick),
    volumes: (await collect(listVolumes(site.blockStorage))).filter((v) => named(v.name) || v.metadata[MARK_KEY] === prefix).map(pick),
    ports: [...ports.values()],
    backups: (await collect(listBackups(site.blockStorage))).filter((b) => named(b.name)).map(pick),
    networks: (await collect(listNetworks(site.network, { tags: [prefix] }))).map(pick),
  };
}

/** One line per marked thing, e.g. `volume ferry-bench-x-runbook-1-volume-2 (id)`. */
export function describeMarked(m: Marked): string[] {
  const kinds: [keyof Marked, string][] = [['stacks', 'stack'], ['servers', 'server'], ['volumes', 'volume'], ['ports', 'port'], ['backups', 'backup'], ['networks', 'network']];
  return kinds.flatMap(([k, label]) => m[k].map((x) => `${label} ${x.name || '(no name)'} (${x.id})`));
}

/**
 * Removes whatever still carries the run's prefix or tag, in dependency order (stacks,
 * servers, volumes, ports, backups, networks); returns what it removed and what it could not.
 * Catches what no cleanup step knew of, e.g. a volume whose `openstack volume backup restore`
 * failed after Cinder accepted it.
 */
export async function sweep(site: Site, prefix: string): Promise<{ removed: string[]; failed: string[] }> {
  const removed: string[] = [];
  const failed: string[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      removed.push(what);
    } catch (err) {
      failed.push(`${what}: ${(err as Error).message}`);
    }
  };
  const m = await findMarked(site, prefix);
  for (const s of m.stacks) {
    await attempt(`stack ${s.name}`, async () => {
      await deleteStack(site.orchestration, { stack_name: s.name, id: s.id });
      await waitForStackDeleted(site.orchestration, { stack_name: s.name, id: s.id }, { timeoutMs: TIMEOUTS.stack });
    });
  }
  await Promise.all(m.servers.map((s) => attempt(`server ${s.name}`, async () => {
    await deleteServer(site.compute, s.id);
    await waitForServerDeleted(site.compute, s.id, { timeoutMs: TIMEOUTS.server });
  })));
  await Promise.all(m.volumes.map((v) => attempt(`volume ${v.name}`, async () => {
    // A volume still restoring or detaching cannot be deleted yet.
    await waitForVolume(site.blockStorage, v.id, ['available', 'error', 'error_restoring'], { timeoutMs: TIMEOUTS.restore }).catch(() => undefined);
    await deleteVolume(site.blockStorage, v.id);
    await waitForVolumeDeleted(site.blockStorage, v.id, { timeoutMs: TIMEOUTS.volume });
  })));
  for (const p of m.ports) await attempt(`port ${p.name || p.id}`, () => deletePort(site.network, p.id));
  await Promise.all(m.backups.map((b) => attempt(`backup ${b.name}`, async () => {
    await waitForBackup(site.blockStorage, b.id, ['available', 'error'], { timeoutMs: TIMEOUTS.restore }).catch(() => undefined);
    await deleteBackup(site.blockStorage, b.id);
    await waitForBackupDeleted(site.blockStorage, b.id, { timeoutMs: TIMEOUTS.backup });
  })));
  for (const n of m.networks) await attempt(`network ${n.name}`, () => deleteNetwork(site.network, n.id));
  return { removed, failed };
}
