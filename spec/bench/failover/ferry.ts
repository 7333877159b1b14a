// Ferry's own failover in the benchmark (runner C): the same N servers, each with a port and a
// 1 GiB volume attached, protected from the primary to the fixture's site with a plan and one
// replication cycle (untimed), then `ferry failover PLAN --unplanned` timed from the command
// until it returns with every server ACTIVE and every volume attached, as Ferry verified them:
// planning, template generation, verification and journal included, as the issue asks. The
// failover module is loaded with a dynamic import of a computed specifier, so the harness
// compiles and runs (and says so) when it is missing or broken. FERRY_BENCH_JOURNAL=FILE
// appends each run's `ferry runs show RUN` to FILE (where the time went, step by step).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { deleteStackAndWait } from '../../../lib/heat/deploy.js';
import { createVolume, deleteVolume, listVolumes, waitForVolume, waitForVolumeDeleted } from '../../../lib/openstack/blockstorage/volumes.js';
import { listFlavors } from '../../../lib/openstack/compute/flavors.js';
import { createServer, deleteServer, unlockServer, waitForServer, waitForServerDeleted } from '../../../lib/openstack/compute/servers.js';
import { attachVolume } from '../../../lib/openstack/compute/volumeattachments.js';
import { listImages } from '../../../lib/openstack/image/images.js';
import { createNetwork, deleteNetwork } from '../../../lib/openstack/network/networks.js';
import { listSecurityGroups } from '../../../lib/openstack/network/securitygroups.js';
import { createSubnet } from '../../../lib/openstack/network/subnets.js';
import { addTag } from '../../../lib/openstack/network/tags.js';
import { collect } from '../../../lib/openstack/paginate.js';
import type { Site } from '../../../lib/openstack/site.js';
import { CLOUDS_FILE, Cleanup, TIMEOUTS } from '../../lab/support/lab.js';
import { purgePlanArtifacts } from '../../lab/support/workload.js';
import { MARK_KEY, SUBNET_CIDR, VOLUME_GIB, type Fixture } from './fixture.js';
import { readHeatWindow, windowText } from './heat-time.js';

/** The failover workflow, relative to this file (tsx maps .js to the .ts source). */
export const FAILOVER_MODULE = '../../../lib/workflows/failover.js';
export const FAILOVER_SOURCE = 'lib/workflows/failover.ts';

export type FerryMeasurement = { measured: true; seconds: number; detail?: string } | { measured: false; reason: string };

/** What a Ferry failover made, as Ferry verified it; `remove` takes it all away again (untimed). */
export interface FerryRun {
  servers: string[];
  /** The timed part when the runner prepares untimed first; else the whole call is timed. */
  seconds?: number;
  detail?: string;
  remove: () => Promise<void>;
}

export interface FerryContext {
  /** Where the workload is recovered: the fixture's site. */
  site: Site;
  /** Where the workload is protected from (the lab's other site). */
  primary?: Site;
  run: number;
  cleanup: Cleanup;
  log: (line: string) => void;
  signal?: AbortSignal;
}

export type FerryRunner = (failover: Record<string, unknown>, fixture: Fixture, ctx: FerryContext) => Promise<FerryRun>;

/** The runner cannot drive what it was given (a module without failover(), no primary site): no figure. */
export class FerryNotWiredError extends Error {}

/**
 * Why loading the failover module failed, in the benchmark's words: a missing module is
 * "not available"; anything else (a broken import inside it, a syntax error) is named as a
 * load failure, so a half-finished module is not mistaken for an absent one.
 */
export function loadFailureReason(err: unknown): string {
  const e = (err ?? {}) as { code?: string; message?: string; url?: string };
  const message = e.message ?? String(err);
  // Node names the module it could not find in `url` and in "Cannot find module '<path>' imported from <importer>".
  const notFound = e.url ?? /Cannot find module '([^']+)'/.exec(message)?.[1] ?? '';
  const missing = e.code === 'ERR_MODULE_NOT_FOUND' && /\/lib\/workflows\/failover\.[jt]s$/.test(notFound);
  return missing ? `${FAILOVER_SOURCE} not available` : `${FAILOVER_SOURCE} failed to load: ${message.split('\n')[0]}`;
}

/** What the benchmark's plan says: its members, and mappings onto the fixture at the secondary. */
export interface BenchPlanInput {
  name: string;
  primary: string;
  secondary: string;
  servers: readonly string[];
  network: { from: string; to: string };
  subnet: { from: string; to: string };
  securityGroup: { from: string; to: string };
  image: { from: string; to: string };
}

/**
 * The protection plan of the benchmark's workload (pure). Networks, subnet, default security
 * group and image map onto what the fixture and the lab have at the secondary, and ports take
 * addresses from Neutron (ip_policy dhcp): the stack Ferry makes then holds the same resources
 * as heat-alone.yaml (per server a port, a restored volume, a server, an attachment).
 */
export function benchPlanDocument(p: BenchPlanInput): Record<string, unknown> {
  return {
    name: p.name,
    description: 'bench:failover workload (removed at the end of the run)',
    project: 'admin',
    primary: p.primary,
    secondary: p.secondary,
    tier: 'pilot-light',
    rpo: '15m',
    retention: { count: 1 },
    full_every: 1,
    members: p.servers.map((server) => ({ server })),
    mappings: {
      networks: [p.network],
      subnets: [p.subnet],
      security_groups: { map: [p.securityGroup] },
      images: { map: [p.image] },
    },
    ip_policy: 'dhcp',
  };
}

/** `ferry failover -f json`, the fields the benchmark reads. */
interface FailoverJson {
  status: string;
  recoverRunId: string | null;
  stackName: string | null;
  stackId: string | null;
  rtoMs: number | null;
  servers: { id: string; name: string; status: string }[];
  steps: { name: string; status: string; attempts: number; durationMs: number | null }[];
  error: string | null;
}

/** "point 0.1 s, guard 0.4 s, ..." from the run's steps (pure). */
export function stepTimes(steps: readonly { name: string; durationMs: number | null }[]): string {
  return steps.map((s) => `${s.name} ${s.durationMs === null ? '?' : (s.durationMs / 1000).toFixed(1)} s`).join(', ');
}

type Cli = (...args: string[]) => Promise<{ code: number; out: string; err: string }>;

async function ferryCli(db: string): Promise<Cli> {
  // Loaded here, like the failover module: the harness runs without it.
  const { run } = (await import('../../../lib/cli/main.js')) as { run: (argv: string[], io: { out: (t: string) => void; err: (t: string) => void; isTTY: boolean }) => Promise<number> };
  process.env.OS_CLIENT_CONFIG_FILE ??= CLOUDS_FILE;
  return async (...args) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(['--db', db, ...args], { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
}

async function ok(cli: Cli, ...args: string[]): Promise<string> {
  const r = await cli(...args);
  if (r.code !== 0) throw new Error(`ferry ${args.join(' ')} exited ${r.code}: ${(r.err || r.out).split('\n').slice(-5).join(' | ')}`);
  return r.out;
}

async function defaultGroup(site: Site, signal?: AbortSignal): Promise<string> {
  const project = (await site.connect(signal)).info.project?.id;
  const sg = (await collect(listSecurityGroups(site.network, { name: 'default' }, { signal }))).find((g) => g.project_id === project);
  if (!sg) throw new Error(`${site.name}: the project has no 'default' security group`);
  return sg.id;
}

async function removeNetwork(site: Site, id: string): Promise<void> {
  // Ports of just deleted servers go a moment later.
  for (let i = 0; ; i++) {
    try {
      await deleteNetwork(site.network, id);
      return;
    } catch (err) {
      if ((err as { status?: number }).status !== 409 || i >= 20) throw err;
      await new Promise((r) => setTimeout(r, 3_000));
    }
  }
}

/**
 * Ferry's failover of the fixture's workload, as an operator runs it. Untimed: the same N
 * servers at the primary (each a port, a 1 GiB volume attached), a plan over them, `ferry
 * plan apply` and one `ferry replicate` (backups at the primary, imported at the secondary).
 * Timed: `ferry failover PLAN --unplanned` (the primary is not touched), from the command until
 * it returns with every server ACTIVE and every volume attached as Ferry verified them. The CLI
 * runs in this process (lib/cli/main.ts run()), like heat-alone's create call: no process start.
 */
export const ferryRunner: FerryRunner = async (failover, fixture, ctx) => {
  if (typeof failover.failover !== 'function') {
    const exported = Object.keys(failover).filter((k) => k !== 'default').sort();
    throw new FerryNotWiredError(`${FAILOVER_SOURCE} is present (exports: ${exported.join(', ') || 'none'}) but has no failover() for spec/bench/failover/ferry.ts (ferryRunner) to drive`);
  }
  const { primary, site: secondary, signal, run } = ctx;
  if (!primary) throw new FerryNotWiredError('the benchmark gave the Ferry runner no primary site (FerryContext.primary)');
  const local = new Cleanup();
  const remove = async () => {
    await local.runAll();
    if (local.leftovers.length > 0) throw new Error(`left behind: ${local.leftovers.splice(0).join('; ')}`);
  };
  ctx.cleanup.add(`Ferry failover, run ${run}: workload at ${primary.name}, plan, stack at ${secondary.name}`, remove);

  const base = `${fixture.prefix}-ferry-${run}`;
  const planName = `${fixture.prefix}-r${run}`;
  const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-'));
  local.add(`directory ${dir}`, async () => rmSync(dir, { recursive: true, force: true }));
  const cli = await ferryCli(`sqlite://${join(dir, 'catalog.db')}`);

  // ---- the workload at the primary (untimed)
  const t0 = performance.now();
  const flavor = (await collect(listFlavors(primary.compute, {}, { signal }))).find((f) => f.name === fixture.flavor.name);
  const image = (await collect(listImages(primary.image, { name: fixture.image.name, status: 'active' }, { signal })))[0];
  if (!flavor || !image) throw new Error(`${primary.name} has no flavor ${fixture.flavor.name} or image ${fixture.image.name}: is the lab up?`);
  const net = await createNetwork(primary.network, { name: `${base}-net` }, signal);
  local.add(`${primary.name} network ${net.id}`, () => removeNetwork(primary, net.id));
  await addTag(primary.network, 'networks', net.id, fixture.runTag, signal);
  const subnet = await createSubnet(primary.network, { network_id: net.id, ip_version: 4, cidr: SUBNET_CIDR, name: `${base}-subnet`, enable_dhcp: false }, signal);
  const marks = { [MARK_KEY]: fixture.runTag };
  const servers = await Promise.allSettled(
    fixture.servers.map(async ({ index }) => {
      const volume = await createVolume(primary.blockStorage, { size: VOLUME_GIB, name: `${base}-data-${index}`, metadata: marks }, signal);
      local.add(`${primary.name} volume ${volume.id}`, async () => {
        await waitForVolume(primary.blockStorage, volume.id, ['available', 'error'], { timeoutMs: TIMEOUTS.volume }).catch(() => undefined);
        await deleteVolume(primary.blockStorage, volume.id);
        await waitForVolumeDeleted(primary.blockStorage, volume.id, { timeoutMs: TIMEOUTS.volume });
      });
      const name = `${base}-server-${index}`;
      const server = await createServer(primary.compute, { name, flavorRef: flavor.id, imageRef: image.id, networks: [{ uuid: net.id }], metadata: marks, tags: [fixture.runTag] }, signal);
      local.add(`${primary.name} server ${server.id}`, async () => {
        await unlockServer(primary.compute, server.id).catch(() => undefined);
        await deleteServer(primary.compute, server.id);
        await waitForServerDeleted(primary.compute, server.id, { timeoutMs: TIMEOUTS.server });
      });
      await waitForVolume(primary.blockStorage, volume.id, ['available'], { timeoutMs: TIMEOUTS.volume, signal });
      await waitForServer(primary.compute, server.id, ['ACTIVE'], { timeoutMs: TIMEOUTS.server, signal });
      await attachVolume(primary.compute, server.id, { volumeId: volume.id }, signal);
      await waitForVolume(primary.blockStorage, volume.id, ['in-use'], { timeoutMs: TIMEOUTS.volume, signal });
      return name;
    }),
  );
  const failedServer = servers.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failedServer) throw failedServer.reason;
  const names = servers.map((s) => (s as PromiseFulfilledResult<string>).value);

  // ---- the plan and one replication cycle (untimed)
  const planFile = join(dir, `${planName}.yaml`);
  writeFileSync(
    planFile,
    stringify(
      benchPlanDocument({
        name: planName,
        primary: primary.name,
        secondary: secondary.name,
        servers: names,
        network: { from: net.name ?? `${base}-net`, to: fixture.networkId },
        subnet: { from: subnet.name ?? `${base}-subnet`, to: fixture.subnetId },
        securityGroup: { from: await defaultGroup(primary, signal), to: await defaultGroup(secondary, signal) },
        image: { from: image.id, to: fixture.image.id },
      }),
    ),
  );
  await ok(cli, 'plan', 'apply', planFile);
  local.add(`plan ${planName}: backups at both sites`, async () => {
    await ok(cli, 'plan', 'delete', planName, '--purge', '--yes');
    // What a purge could not reach (a snapshot of a cycle that failed) goes by the plan's marks.
    await purgePlanArtifacts(primary, planName);
    await purgePlanArtifacts(secondary, planName);
  });
  const stackName = `ferry-${planName}-failover`;
  local.add(`stack ${stackName} at ${secondary.name}`, () => deleteStackAndWait(secondary, stackName, { timeoutMs: TIMEOUTS.stack }));
  const cycle = JSON.parse(await ok(cli, 'replicate', planName, '-f', 'json')) as { status: string; pointId: string };
  if (cycle.status !== 'complete') throw new Error(`ferry replicate ${planName}: ${cycle.status}, not complete`);
  ctx.log(`Ferry, run ${run}: ${names.length} servers at ${primary.name}, plan ${planName}, point ${cycle.pointId} (untimed, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  // ---- the failover (timed)
  const started = performance.now();
  const startedAt = Date.now();
  const r = await cli('failover', planName, '--unplanned', '-f', 'json');
  const seconds = (performance.now() - started) / 1000;
  const endedAt = Date.now();
  let out: FailoverJson;
  try {
    out = JSON.parse(r.out) as FailoverJson;
  } catch {
    throw new Error(`ferry failover ${planName} exited ${r.code} without JSON: ${(r.err || r.out).split('\n').slice(-5).join(' | ')}`);
  }
  if (r.code !== 0 || out.status !== 'succeeded') throw new Error(`ferry failover ${planName}: ${out.status}${out.error ? `: ${out.error}` : ''} (see ferry runs show ${out.recoverRunId ?? '?'})`);
  const active = out.servers.filter((s) => s.status === 'ACTIVE');
  if (active.length !== names.length) throw new Error(`ferry failover ${planName}: ${active.length} of ${names.length} servers ACTIVE`);

  // ---- checked (untimed): one restored volume per server, each in-use on a recovered server
  const restored = await collect(listVolumes(secondary.blockStorage, { metadata: { 'ferry:plan': planName } }));
  const serverIds = new Set(out.servers.map((s) => s.id));
  const attached = restored.filter((v) => v.status === 'in-use' && v.attachments.some((a) => serverIds.has(a.server_id)));
  if (restored.length !== names.length || attached.length !== names.length) {
    throw new Error(`ferry failover ${planName}: ${restored.length} restored volumes at ${secondary.name}, ${attached.length} in-use on its servers; expected ${names.length}`);
  }
  const heat = out.stackId && out.stackName ? await readHeatWindow(secondary, { stack_name: out.stackName, id: out.stackId }, signal) : undefined;
  const detail = `run ${out.recoverRunId}: RTO ${((out.rtoMs ?? 0) / 1000).toFixed(1)} s as Ferry records it; steps ${stepTimes(out.steps)}; ${windowText(heat, startedAt, endedAt)}`;
  ctx.log(`Ferry, run ${run}: ${detail}`);
  if (process.env.FERRY_BENCH_JOURNAL && out.recoverRunId) {
    // The run's journal, as `ferry runs show RUN` prints it (before the purge removes the run).
    const shown = await cli('runs', 'show', out.recoverRunId);
    writeFileSync(process.env.FERRY_BENCH_JOURNAL, `${shown.out}\n`, { flag: 'a' });
  }
  return { servers: out.servers.map((s) => s.id), seconds, detail, remove };
};

/** Loads the failover module; undefined when it loads, else why not (loadFailureReason). */
export async function probeFailover(load: () => Promise<unknown> = () => import(FAILOVER_MODULE)): Promise<string | undefined> {
  try {
    await load();
    return undefined;
  } catch (err) {
    return loadFailureReason(err);
  }
}

export interface MeasureFerryOptions {
  load?: () => Promise<Record<string, unknown>>;
  runner?: FerryRunner;
}

/** Measures one Ferry failover of the fixture, or says why it cannot; never invents a figure. */
export async function measureFerry(fixture: Fixture, ctx: FerryContext, opts: MeasureFerryOptions = {}): Promise<FerryMeasurement> {
  const load = opts.load ?? (() => import(FAILOVER_MODULE) as Promise<Record<string, unknown>>);
  let failover: Record<string, unknown>;
  try {
    failover = await load();
  } catch (err) {
    return { measured: false, reason: loadFailureReason(err) };
  }
  const runner = opts.runner ?? ferryRunner;
  const t0 = performance.now();
  let made: FerryRun;
  try {
    made = await runner(failover, fixture, ctx);
  } catch (err) {
    if (err instanceof FerryNotWiredError) return { measured: false, reason: err.message };
    throw err;
  }
  const seconds = made.seconds ?? (performance.now() - t0) / 1000;
  ctx.cleanup.add(`Ferry failover, run ${ctx.run}`, made.remove);
  ctx.log(`Ferry failover, run ${ctx.run}: ${made.servers.length} servers verified in ${seconds.toFixed(1)} s`);
  await made.remove();
  return { measured: true, seconds, ...(made.detail ? { detail: made.detail } : {}) };
}
