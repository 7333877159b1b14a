// Baseline A, Heat alone: heat-alone.yaml (written by hand, flat) created through Ferry's
// orchestration client. Timed from the create call until the stack is CREATE_COMPLETE and
// every server is ACTIVE; then checked (each volume in-use on its own server) and deleted,
// both untimed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getVolume } from '../../../lib/openstack/blockstorage/volumes.js';
import { getServer, waitForServer } from '../../../lib/openstack/compute/servers.js';
import { listResources, type StackResource } from '../../../lib/openstack/orchestration/resources.js';
import { createStack, deleteStack, getStack, waitForStack, waitForStackDeleted, type StackIdentity } from '../../../lib/openstack/orchestration/stacks.js';
import type { Site } from '../../../lib/openstack/site.js';
import { TIMEOUTS, type Cleanup } from '../../lab/support/lab.js';
import type { Fixture } from './fixture.js';
import { readHeatWindow, windowText } from './heat-time.js';

export const HEAT_ALONE_TEMPLATE_FILE = join(import.meta.dirname, 'heat-alone.yaml');
/** Servers heat-alone.yaml declares (backup_1 .. backup_5). */
export const HEAT_ALONE_SLOTS = 5;
/** Resources per server in heat-alone.yaml: port, volume, server, attachment. */
export const RESOURCES_PER_SERVER = 4;
/** Heat gives up on a stuck resource (e.g. a failed Nova attach) after this, not after an hour. */
export const STACK_TIMEOUT_MINS = 15;
/** Polling once a second keeps the measurement's resolution at about a second. */
export const POLL = { intervalMs: 1_000, maxIntervalMs: 1_000, backoff: 1 } as const;

export function heatAloneTemplate(): string {
  return readFileSync(HEAT_ALONE_TEMPLATE_FILE, 'utf8');
}

/** The stack's parameters: one backup per server slot, the rest left empty (no server). */
export function heatAloneParameters(f: Pick<Fixture, 'prefix' | 'runTag' | 'networkId' | 'subnetId' | 'flavor' | 'image' | 'servers'>): Record<string, string> {
  if (f.servers.length > HEAT_ALONE_SLOTS) throw new Error(`heat-alone.yaml declares ${HEAT_ALONE_SLOTS} servers; the fixture has ${f.servers.length}`);
  const params: Record<string, string> = {
    prefix: f.prefix,
    run_tag: f.runTag,
    network: f.networkId,
    subnet: f.subnetId,
    flavor: f.flavor.id,
    image: f.image.id,
  };
  for (const s of f.servers) {
    if (s.index < 1 || s.index > HEAT_ALONE_SLOTS) throw new Error(`server index ${s.index} is outside heat-alone.yaml's slots 1-${HEAT_ALONE_SLOTS}`);
    params[`backup_${s.index}`] = s.backupId;
  }
  return params;
}

export interface HeatAloneServer {
  index: number;
  serverId: string;
  volumeId: string;
}

export interface HeatAloneResult {
  /** Create call → CREATE_COMPLETE and every server ACTIVE. */
  seconds: number;
  stack: StackIdentity;
  servers: HeatAloneServer[];
}

/** The servers and volumes of a complete stack, by slot, from its resources. */
export function serversOfStack(resources: readonly Pick<StackResource, 'resource_name' | 'physical_resource_id'>[], indices: readonly number[]): HeatAloneServer[] {
  const byName = new Map(resources.map((r) => [r.resource_name, r.physical_resource_id]));
  return indices.map((index) => {
    const serverId = byName.get(`server_${index}`);
    const volumeId = byName.get(`volume_${index}`);
    if (!serverId || !volumeId) throw new Error(`stack has no server_${index} or volume_${index} with a physical ID`);
    return { index, serverId, volumeId };
  });
}

async function failedResources(site: Site, id: StackIdentity): Promise<string> {
  try {
    const stack = await getStack(site.orchestration, id, { resolveOutputs: false });
    const bad = (await listResources(site.orchestration, id)).filter((r) => !r.resource_status.endsWith('_COMPLETE'));
    return [`${stack.stack_status}: ${stack.stack_status_reason}`, ...bad.map((r) => `${r.resource_name} (${r.physical_resource_id || 'no ID'}) ${r.resource_status}: ${r.resource_status_reason}`)].join('; ');
  } catch (err) {
    return `(could not read the stack: ${(err as Error).message})`;
  }
}

/** Runs baseline A once; the stack is deleted before this returns (cleanup covers a crash). */
export async function runHeatAlone(site: Site, fixture: Fixture, o: { run: number; cleanup: Cleanup; log: (line: string) => void; signal?: AbortSignal }): Promise<HeatAloneResult> {
  const sc = site.orchestration;
  const name = `${fixture.prefix}-heat-${o.run}`;
  const template = heatAloneTemplate();
  const parameters = heatAloneParameters(fixture);
  const t0 = performance.now();
  const startedAt = Date.now();
  const created = await createStack(sc, { stack_name: name, template, parameters, tags: [fixture.runTag], timeout_mins: STACK_TIMEOUT_MINS }, o.signal);
  const id: StackIdentity = { stack_name: name, id: created.id };
  o.cleanup.add(`stack ${name}`, async () => {
    await deleteStack(sc, id);
    await waitForStackDeleted(sc, id, { timeoutMs: TIMEOUTS.stack });
  });
  try {
    await waitForStack(sc, id, ['CREATE_COMPLETE'], { ...POLL, timeoutMs: STACK_TIMEOUT_MINS * 60_000, signal: o.signal });
  } catch (err) {
    throw new Error(`Heat alone: stack ${name} did not complete: ${(err as Error).message}; ${await failedResources(site, id)}`, { cause: err });
  }
  const resources = await listResources(sc, id, {}, o.signal);
  const servers = serversOfStack(resources, fixture.servers.map((s) => s.index));
  // OS::Nova::Server completes at ACTIVE, so this normally costs one GET per server.
  await Promise.all(servers.map(async (s) => {
    if ((await getServer(site.compute, s.serverId, o.signal)).status !== 'ACTIVE') await waitForServer(site.compute, s.serverId, ['ACTIVE'], { ...POLL, timeoutMs: TIMEOUTS.server, signal: o.signal });
  }));
  const seconds = (performance.now() - t0) / 1000;
  const endedAt = Date.now();
  o.log(`Heat alone, run ${o.run}: CREATE_COMPLETE and ${servers.length} servers ACTIVE in ${seconds.toFixed(1)} s`);
  o.log(`Heat alone, run ${o.run}: ${windowText(await readHeatWindow(site, id, o.signal), startedAt, endedAt)}`);

  // Untimed: what the stack made is what the runbook makes.
  const expected = RESOURCES_PER_SERVER * fixture.servers.length;
  const notComplete = resources.filter((r) => r.resource_status !== 'CREATE_COMPLETE');
  if (resources.length !== expected || notComplete.length > 0) {
    throw new Error(`Heat alone: stack ${name} has ${resources.length} resources (${notComplete.length} not CREATE_COMPLETE), expected ${expected} complete`);
  }
  for (const s of servers) {
    const v = await getVolume(site.blockStorage, s.volumeId, o.signal);
    const on = v.attachments.map((a) => a.server_id);
    if (v.status !== 'in-use' || on.length !== 1 || on[0] !== s.serverId) throw new Error(`Heat alone: volume_${s.index} ${v.id} is ${v.status} on [${on.join(', ')}], expected in-use on server_${s.index} ${s.serverId}`);
  }
  await deleteStack(sc, id);
  await waitForStackDeleted(sc, id, { timeoutMs: TIMEOUTS.stack, signal: o.signal });
  return { seconds, stack: id, servers };
}
