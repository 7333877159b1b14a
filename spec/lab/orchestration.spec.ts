// Orchestration (Heat v1) client modules against the real lab-b (Ferry recovers at the
// secondary site): template validation, a stack of network, subnet, port and a server booted
// from a volume made by a nested template registered in the environment (files map), followed
// through its events to CREATE_COMPLETE, its resources and outputs, an in-place update
// followed through the update's events, preview, lookup by name and deletion. Then the lab
// issue's concurrency case: 5 servers, each with a 1 GiB volume attached, in one stack.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { BadRequestError, NotFoundError, type HttpError } from '../../lib/errors.js';
import { getVolume } from '../../lib/openstack/blockstorage/volumes.js';
import { listFlavors, type Flavor } from '../../lib/openstack/compute/flavors.js';
import { getServer } from '../../lib/openstack/compute/servers.js';
import { listVolumeAttachments } from '../../lib/openstack/compute/volumeattachments.js';
import { listImages } from '../../lib/openstack/image/images.js';
import { getNetwork } from '../../lib/openstack/network/networks.js';
import { getPort } from '../../lib/openstack/network/ports.js';
import { followEvents, latestEventId, listEvents, type StackEvent } from '../../lib/openstack/orchestration/events.js';
import { findResourceByPhysicalId, getResource, listResources } from '../../lib/openstack/orchestration/resources.js';
import {
  createStack,
  deleteStack,
  findStack,
  getStack,
  getStackEnvironment,
  getStackFiles,
  getStackOutput,
  getStackTemplate,
  listStacks,
  previewStack,
  resolveStack,
  updateStack,
  waitForStack,
  waitForStackDeleted,
  type StackIdentity,
} from '../../lib/openstack/orchestration/stacks.js';
import { missingResourceTypes, validateTemplate } from '../../lib/openstack/orchestration/templates.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { ServiceClient } from '../../lib/openstack/service-client.js';
import type { Site } from '../../lib/openstack/site.js';
import { LAB_STATE, RUN_TAG, TIMEOUTS, labSite, uniqueName, useLab, type Cleanup } from './support/lab.js';

async function failure(p: Promise<unknown>): Promise<HttpError> {
  try {
    await p;
  } catch (e) {
    return e as HttpError;
  }
  throw new Error('expected the call to fail');
}

/** The nested template, registered as Ferry::Lab::BootServer: a server booted from a 1 GiB volume made from an image. */
const BOOT_SERVER_TEMPLATE = `heat_template_version: 2018-08-31
description: ferry lab - a server booted from a volume
parameters:
  name: {type: string}
  flavor: {type: string}
  image: {type: string}
  port: {type: string}
  role: {type: string}
  run_tag: {type: string}
resources:
  boot_volume:
    type: OS::Cinder::Volume
    properties:
      name: {list_join: ['-', [{get_param: name}, boot]]}
      size: 1
      image: {get_param: image}
      metadata: {ferry-run: {get_param: run_tag}}
  server:
    type: OS::Nova::Server
    properties:
      name: {get_param: name}
      flavor: {get_param: flavor}
      networks: [{port: {get_param: port}}]
      block_device_mapping_v2:
        - volume_id: {get_resource: boot_volume}
          boot_index: 0
          delete_on_termination: false
      metadata:
        role: {get_param: role}
        ferry-run: {get_param: run_tag}
outputs:
  server_id:
    value: {get_resource: server}
  volume_id:
    value: {get_resource: boot_volume}
`;

/** The top template: network, subnet, port, and the nested server (a type from the environment). */
function topTemplate(): Record<string, unknown> {
  return {
    heat_template_version: '2018-08-31',
    description: 'ferry lab - network, port and a volume-booted server',
    parameters: {
      server_name: { type: 'string' },
      flavor: { type: 'string' },
      image: { type: 'string' },
      role: { type: 'string', default: 'web', constraints: [{ allowed_values: ['web', 'db'] }] },
      cidr: { type: 'string', default: '10.232.1.0/24' },
      run_tag: { type: 'string' },
    },
    resources: {
      net: { type: 'OS::Neutron::Net', properties: { name: { list_join: ['-', [{ get_param: 'server_name' }, 'net']] }, tags: [{ get_param: 'run_tag' }] } },
      subnet: { type: 'OS::Neutron::Subnet', properties: { network: { get_resource: 'net' }, cidr: { get_param: 'cidr' }, ip_version: 4, enable_dhcp: false } },
      port: {
        type: 'OS::Neutron::Port',
        properties: { network: { get_resource: 'net' }, fixed_ips: [{ subnet: { get_resource: 'subnet' } }], tags: [{ get_param: 'run_tag' }] },
      },
      server: {
        type: 'Ferry::Lab::BootServer',
        properties: {
          name: { get_param: 'server_name' },
          flavor: { get_param: 'flavor' },
          image: { get_param: 'image' },
          port: { get_resource: 'port' },
          role: { get_param: 'role' },
          run_tag: { get_param: 'run_tag' },
        },
      },
    },
    outputs: {
      server_id: { description: 'the server', value: { get_attr: ['server', 'server_id'] } },
      boot_volume_id: { description: 'its boot volume', value: { get_attr: ['server', 'volume_id'] } },
      port_ip: { description: 'the port address', value: { get_attr: ['port', 'fixed_ips', 0, 'ip_address'] } },
      network_id: { value: { get_resource: 'net' } },
    },
  };
}

const FILES = { 'lab_boot_server.yaml': BOOT_SERVER_TEMPLATE };
const ENVIRONMENT = { resource_registry: { 'Ferry::Lab::BootServer': 'lab_boot_server.yaml' }, parameter_defaults: { cidr: '10.232.7.0/24' } };

/** The 5-server template of the lab issue: a network, and per server a 1 GiB volume and its attachment. */
function fiveServerTemplate(count: number): Record<string, unknown> {
  const resources: Record<string, unknown> = {
    net: { type: 'OS::Neutron::Net', properties: { name: { list_join: ['-', [{ get_param: 'prefix' }, 'net']] }, tags: [{ get_param: 'run_tag' }] } },
    subnet: { type: 'OS::Neutron::Subnet', properties: { network: { get_resource: 'net' }, cidr: '10.232.9.0/24', enable_dhcp: false } },
  };
  const outputs: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    resources[`vol${i}`] = {
      type: 'OS::Cinder::Volume',
      properties: { name: { list_join: ['-', [{ get_param: 'prefix' }, `vol${i}`]] }, size: 1, metadata: { 'ferry-run': { get_param: 'run_tag' } } },
    };
    resources[`srv${i}`] = {
      type: 'OS::Nova::Server',
      depends_on: ['subnet'],
      properties: {
        name: { list_join: ['-', [{ get_param: 'prefix' }, `srv${i}`]] },
        flavor: { get_param: 'flavor' },
        image: { get_param: 'image' },
        networks: [{ network: { get_resource: 'net' } }],
        metadata: { 'ferry-run': { get_param: 'run_tag' } },
      },
    };
    resources[`att${i}`] = { type: 'OS::Cinder::VolumeAttachment', properties: { instance_uuid: { get_resource: `srv${i}` }, volume_id: { get_resource: `vol${i}` } } };
    outputs[`pair${i}`] = { value: [{ get_resource: `srv${i}` }, { get_resource: `vol${i}` }] };
  }
  return {
    heat_template_version: '2018-08-31',
    description: `ferry lab - ${count} servers, each with a 1 GiB volume attached (the lab issue's concurrency case)`,
    parameters: { prefix: { type: 'string' }, flavor: { type: 'string' }, image: { type: 'string' }, run_tag: { type: 'string' } },
    resources,
    outputs,
  };
}

/** Registers deletion of a stack (and waits for it) right after its create. */
function cleanupStack(cleanup: Cleanup, sc: ServiceClient, id: StackIdentity): void {
  cleanup.add(`stack ${id.stack_name} ${id.id}`, async () => {
    await deleteStack(sc, id);
    await waitForStackDeleted(sc, id, { timeoutMs: TIMEOUTS.stack });
  });
}

/** Lines of a lab log written since `since` that match `pattern` (the log's own timestamps, UTC). */
function logLinesSince(file: string, since: Date, pattern: RegExp): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const from = since.toISOString().replace('T', ' ').slice(0, 19);
  return text.split('\n').filter((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(l) && l.slice(0, 19) >= from && pattern.test(l));
}

/** Every failed resource of a stack (nested too) with Heat's status_reason, and the cinder-volume ERROR lines since `since`. */
async function diagnose(sc: ServiceClient, id: StackIdentity, since: Date): Promise<string> {
  const out: string[] = [];
  try {
    const stack = await getStack(sc, id, { resolveOutputs: false });
    out.push(`stack ${id.stack_name}: ${stack.stack_status}: ${stack.stack_status_reason}`);
    for (const r of await listResources(sc, id, { nested_depth: 2 })) {
      if (!r.resource_status.endsWith('_COMPLETE')) out.push(`  resource ${r.resource_name} (${r.resource_type}, ${r.physical_resource_id}): ${r.resource_status}: ${r.resource_status_reason}`);
    }
  } catch (err) {
    out.push(`(could not read the stack: ${(err as Error).message})`);
  }
  const logDir = join(LAB_STATE, 'site-b', 'log');
  const volumeLines = logLinesSince(join(logDir, 'cinder-volume.log'), since, /ERROR|EPERM|Permission denied|mon dump|Traceback|error/i);
  out.push(`cinder-volume.log since ${since.toISOString()}: ${volumeLines.length} matching lines`, ...volumeLines.slice(-60).map((l) => `  ${l}`));
  for (const f of ['nova-compute.log', 'cinder-api.log', 'heat-engine.log']) {
    const lines = logLinesSince(join(logDir, f), since, / ERROR /);
    if (lines.length > 0) out.push(`${f} ERROR lines since then: ${lines.length}`, ...lines.slice(-15).map((l) => `  ${l}`));
  }
  return out.join('\n');
}

describe('lab: orchestration (lab-b)', function () {
  this.timeout(1_200_000);
  const { cleanup } = useLab();
  let site: Site;
  let sc: ServiceClient;
  let flavor: Flavor;
  let imageId: string;

  before(async function () {
    this.timeout(120_000);
    site = labSite('lab-b');
    sc = site.orchestration;
    const flavors = await collect(listFlavors(site.compute, {}));
    const tiny = flavors.find((f) => f.name === 'm1.tiny');
    expect(tiny, "the lab's m1.tiny flavor").to.not.equal(undefined);
    flavor = tiny!;
    const image = (await collect(listImages(site.image, { name: 'lab-tiny', status: 'active' })))[0];
    expect(image, "the lab's public image lab-tiny").to.not.equal(undefined);
    imageId = image!.id;
    expect(await missingResourceTypes(sc, ['OS::Neutron::Net', 'OS::Neutron::Subnet', 'OS::Neutron::Port', 'OS::Nova::Server', 'OS::Cinder::Volume', 'OS::Cinder::VolumeAttachment'])).to.deep.equal([]);
  });

  it('validates a good template (with its environment and files) and rejects a bad one with a clear reason', async () => {
    const v = await validateTemplate(sc, { template: topTemplate(), environment: ENVIRONMENT, files: FILES, parameters: { role: 'db' } }, { show_nested: true });
    expect(v.Description).to.equal('ferry lab - network, port and a volume-booted server');
    expect(Object.keys(v.Parameters).sort()).to.deep.equal(['cidr', 'flavor', 'image', 'role', 'run_tag', 'server_name']);
    expect(v.Parameters.role?.AllowedValues).to.deep.equal(['web', 'db']);
    expect(v.Parameters.role?.Default).to.equal('web');
    expect(v.Parameters.role?.Value, 'a parameter given is reported as Value').to.equal('db');
    expect(v.Parameters.cidr?.Default, "the environment's parameter_defaults replace the template default").to.equal('10.232.7.0/24');
    expect(v.Parameters.cidr?.Value).to.equal(undefined);
    expect((v.Environment?.resource_registry as Record<string, unknown>)['Ferry::Lab::BootServer']).to.equal('lab_boot_server.yaml');
    expect(v.Parameters.server_name?.NoEcho).to.equal('false');

    // An unknown resource reference.
    const broken = topTemplate();
    (broken.resources as Record<string, { properties: Record<string, unknown> }>).subnet!.properties.network = { get_resource: 'no_such_net' };
    const bad = await failure(validateTemplate(sc, { template: broken, environment: ENVIRONMENT, files: FILES }));
    expect(bad).to.be.instanceOf(BadRequestError);
    expect(bad.detail).to.match(/The specified reference "no_such_net" \(in subnet\.Properties\.network\) is incorrect/);
    // A resource type nobody registered: the same template without its environment.
    const noEnv = await failure(validateTemplate(sc, { template: topTemplate() }));
    expect(noEnv).to.be.instanceOf(BadRequestError);
    expect(noEnv.detail).to.match(/The Resource Type \(Ferry::Lab::BootServer\) could not be found/);
    // Not a template at all.
    const garbage = await failure(validateTemplate(sc, { template: 'resources: [1, 2' }));
    expect(garbage).to.be.instanceOf(BadRequestError);
    expect(garbage.detail).to.match(/Template not in valid format/);
  });

  it('a stack of net, subnet, port and a volume-booted server from a nested template: create with events, resources, outputs, update with events, preview, find, delete', async () => {
    const name = uniqueName('stack');
    const parameters = { server_name: uniqueName('srv'), flavor: flavor.name, image: imageId, run_tag: RUN_TAG };
    const created = await createStack(sc, {
      stack_name: name,
      template: topTemplate(),
      environment: ENVIRONMENT,
      files: FILES,
      parameters,
      tags: [RUN_TAG, 'ferry:plan=web'],
      timeout_mins: 15,
    });
    const id: StackIdentity = { stack_name: name, id: created.id };
    cleanupStack(cleanup(), sc, id);
    expect(created.links[0]?.href).to.include(`/stacks/${name}/${created.id}`);

    // Follow progress through the events (nested stack too) until CREATE_COMPLETE.
    const t0 = Date.now();
    const seen: StackEvent[] = [];
    const stack = await waitForStack(sc, id, ['CREATE_COMPLETE'], { timeoutMs: TIMEOUTS.stack, intervalMs: 1_000, maxIntervalMs: 3_000, onEvent: (e) => seen.push(e), nestedDepth: 1 });
    console.log(`      stack ${name}: CREATE_COMPLETE in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${seen.length} events`);
    expect(stack.stack_status).to.equal('CREATE_COMPLETE');
    expect(new Set(seen.map((e) => e.id)).size, 'each event reported once').to.equal(seen.length);
    const completed = seen.filter((e) => e.resource_status === 'CREATE_COMPLETE').map((e) => e.resource_name);
    expect(completed).to.include.members(['net', 'subnet', 'port', 'server', 'boot_volume', name]);
    expect(completed[completed.length - 1], 'the stack itself completes last').to.equal(name);
    expect(seen.findIndex((e) => e.resource_name === 'net' && e.resource_status === 'CREATE_IN_PROGRESS')).to.be.lessThan(
      seen.findIndex((e) => e.resource_name === 'net' && e.resource_status === 'CREATE_COMPLETE'),
    );
    // The listing agrees with what the follower saw (top-level events, oldest first).
    const listed = await collect(listEvents(sc, id, { sort_dir: 'asc', limit: 2 }));
    expect(listed.map((e) => e.id)).to.deep.equal(seen.filter((e) => listed.some((l) => l.id === e.id)).map((e) => e.id));
    expect(listed.length).to.be.at.least(9);

    // Stack details, tags, parameters, outputs.
    expect(stack.tags).to.have.members([RUN_TAG, 'ferry:plan=web']);
    expect(stack.parameters.server_name).to.equal(parameters.server_name);
    expect(stack.parameters.role).to.equal('web');
    expect(stack.parameters.cidr).to.equal('10.232.7.0/24');
    const outputs = Object.fromEntries((stack.outputs ?? []).map((o) => [o.output_key, o.output_value]));
    const serverId = outputs.server_id as string;
    expect(serverId).to.match(/^[0-9a-f-]{36}$/);
    expect(outputs.port_ip).to.match(/^10\.232\.7\.\d+$/);
    expect((await getStackOutput(sc, id, 'boot_volume_id')).output_value).to.equal(outputs.boot_volume_id);
    expect((await getStackOutput(sc, name, 'server_id')).output_value, 'by name (one lookup)').to.equal(serverId);

    // What Heat made, seen through the other modules.
    const server = await getServer(site.compute, serverId);
    expect(server.status).to.equal('ACTIVE');
    expect(server.name).to.equal(parameters.server_name);
    expect(server.metadata).to.deep.equal({ role: 'web', 'ferry-run': RUN_TAG });
    const bootVolume = await getVolume(site.blockStorage, outputs.boot_volume_id as string);
    expect(bootVolume.status).to.equal('in-use');
    expect(bootVolume.bootable).to.equal('true');
    expect(bootVolume.attachments[0]?.server_id).to.equal(serverId);
    expect((await getNetwork(site.network, outputs.network_id as string)).tags).to.deep.equal([RUN_TAG]);

    // Resources: top level, nested, one by name, one by physical ID.
    const top = await listResources(sc, id);
    expect(top.map((r) => `${r.resource_name}:${r.resource_type}`).sort()).to.deep.equal(
      ['net:OS::Neutron::Net', 'port:OS::Neutron::Port', 'server:Ferry::Lab::BootServer', 'subnet:OS::Neutron::Subnet'].sort(),
    );
    expect(top.every((r) => r.resource_status === 'CREATE_COMPLETE')).to.equal(true);
    const nested = await listResources(sc, id, { nested_depth: 1 });
    const nestedServer = nested.find((r) => r.resource_type === 'OS::Nova::Server');
    expect(nestedServer?.physical_resource_id).to.equal(serverId);
    expect(nestedServer?.parent_resource).to.equal('server');
    const portRes = await getResource(sc, id, 'port', { withAttr: ['mac_address'] });
    expect(portRes.physical_resource_id).to.match(/^[0-9a-f-]{36}$/);
    expect(portRes.attributes?.mac_address).to.equal((await getPort(site.network, portRes.physical_resource_id)).mac_address);
    expect((await getPort(site.network, portRes.physical_resource_id)).tags).to.deep.equal([RUN_TAG]);
    expect((await findResourceByPhysicalId(sc, id, serverId, { nested_depth: 1 }))?.resource_name).to.equal('server');
    expect(await findResourceByPhysicalId(sc, id, serverId), 'not at the top level').to.equal(undefined);

    // What Heat stored: template, environment, files.
    expect((await getStackTemplate(sc, id)).resources).to.have.keys(['net', 'subnet', 'port', 'server']);
    const env = await getStackEnvironment(sc, id);
    expect((env.resource_registry as Record<string, unknown>)['Ferry::Lab::BootServer']).to.equal('lab_boot_server.yaml');
    expect((env.parameters as Record<string, unknown>).server_name).to.equal(parameters.server_name);
    expect(await getStackFiles(sc, id)).to.deep.equal(FILES);

    // Lookups: by name, by tag, the 302 resolution.
    expect((await findStack(sc, name))?.id).to.equal(created.id);
    expect(await findStack(sc, uniqueName('no-such-stack'))).to.equal(undefined);
    expect((await collect(listStacks(sc, { tags: [RUN_TAG, 'ferry:plan=web'] }))).map((s) => s.id)).to.include(created.id);
    expect((await collect(listStacks(sc, { tags: ['ferry:plan=nothing'] }))).map((s) => s.id)).not.to.include(created.id);
    expect(await resolveStack(sc, name)).to.deep.equal(id);
    expect(await resolveStack(sc, created.id)).to.deep.equal(id);

    // Preview of the same template under another name: nothing is created.
    const preview = await previewStack(sc, { stack_name: uniqueName('preview'), template: topTemplate(), environment: ENVIRONMENT, files: FILES, parameters });
    const flat = (preview.resources as unknown[]).flat(3) as { resource_type?: string }[];
    expect(flat.map((r) => r.resource_type)).to.include.members(['OS::Neutron::Net', 'OS::Neutron::Subnet', 'OS::Neutron::Port', 'OS::Cinder::Volume', 'OS::Nova::Server']);
    expect(await findStack(sc, preview.stack_name)).to.equal(undefined);

    // Update in place: another role (server metadata) and name, keeping template, environment and files (PATCH).
    const since = await latestEventId(sc, id);
    expect(since).to.be.a('string');
    const newName = `${parameters.server_name}-renamed`;
    await updateStack(sc, id, { existing: true, parameters: { role: 'db', server_name: newName } });
    const updateEvents: StackEvent[] = [];
    let status = '';
    for await (const e of followEvents(sc, id, {
      since,
      nested_depth: 1,
      intervalMs: 1_000,
      until: async () => {
        status = (await getStack(sc, id, { resolveOutputs: false })).stack_status;
        return !status.endsWith('_IN_PROGRESS');
      },
    })) {
      updateEvents.push(e);
    }
    expect(status).to.equal('UPDATE_COMPLETE');
    expect(updateEvents.length).to.be.greaterThan(0);
    expect(updateEvents.every((e) => !seen.some((c) => c.id === e.id)), 'only events since the update').to.equal(true);
    expect(updateEvents.map((e) => e.resource_status)).not.to.include('CREATE_COMPLETE');
    const last = updateEvents[updateEvents.length - 1]!;
    expect(`${last.resource_name}:${last.resource_status}`).to.equal(`${name}:UPDATE_COMPLETE`);
    expect(updateEvents.some((e) => e.resource_name === 'server' && e.resource_status === 'UPDATE_COMPLETE')).to.equal(true);
    const after = await waitForStack(sc, id, ['UPDATE_COMPLETE'], { timeoutMs: TIMEOUTS.stack });
    expect(after.parameters.role).to.equal('db');
    expect(after.parameters.flavor, 'PATCH kept the other parameters').to.equal(flavor.name);
    const updatedServer = await getServer(site.compute, serverId);
    expect(updatedServer.id, 'updated in place, not replaced').to.equal(serverId);
    expect(updatedServer.metadata.role).to.equal('db');
    expect(updatedServer.name).to.equal(newName);
    expect(Object.fromEntries((after.outputs ?? []).map((o) => [o.output_key, o.output_value])).server_id).to.equal(serverId);

    // Delete, followed to the end; a second delete is a no-op.
    expect(await deleteStack(sc, id)).to.equal(true);
    const deleteEvents: StackEvent[] = [];
    await waitForStackDeleted(sc, id, { timeoutMs: TIMEOUTS.stack, onEvent: (e) => deleteEvents.push(e), eventsSince: last.id });
    expect(deleteEvents.some((e) => e.resource_status === 'DELETE_IN_PROGRESS')).to.equal(true);
    expect(await findStack(sc, name)).to.equal(undefined);
    expect(await deleteStack(sc, name)).to.equal(false);
    const gone = await failure(resolveStack(sc, name));
    expect(gone).to.be.instanceOf(NotFoundError);
    expect((await failure(getServer(site.compute, serverId))).status, 'the server went with the stack').to.equal(404);
    expect((await failure(getVolume(site.blockStorage, outputs.boot_volume_id as string))).status, 'and its boot volume').to.equal(404);
  });

  it('the lab issue: 5 servers, each with a 1 GiB volume and a VolumeAttachment, all at once, reach CREATE_COMPLETE', async () => {
    const count = 5;
    const name = uniqueName('five');
    const since = new Date(Date.now() - 1_000);
    const t0 = Date.now();
    const created = await createStack(sc, {
      stack_name: name,
      template: fiveServerTemplate(count),
      parameters: { prefix: name, flavor: flavor.name, image: imageId, run_tag: RUN_TAG },
      tags: [RUN_TAG],
      timeout_mins: 15,
    });
    const id: StackIdentity = { stack_name: name, id: created.id };
    cleanupStack(cleanup(), sc, id);
    const failed: StackEvent[] = [];
    let stack;
    try {
      stack = await waitForStack(sc, id, ['CREATE_COMPLETE'], {
        timeoutMs: TIMEOUTS.stack * 2,
        intervalMs: 1_000,
        maxIntervalMs: 2_000,
        onEvent: (e) => {
          if (e.resource_status.endsWith('_FAILED')) failed.push(e);
        },
      });
    } catch (err) {
      const report = await diagnose(sc, id, since);
      const events = failed.map((e) => `  event ${e.event_time} ${e.resource_name} ${e.resource_status}: ${e.resource_status_reason}`);
      console.log(`\n      ${name} did not reach CREATE_COMPLETE after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${(err as Error).message}\n${events.join('\n')}\n${report}\n`);
      throw err;
    }
    const seconds = (Date.now() - t0) / 1000;
    console.log(`      5-server stack ${name}: CREATE_COMPLETE in ${seconds.toFixed(1)} s`);
    expect(stack.stack_status).to.equal('CREATE_COMPLETE');
    const outputs = Object.fromEntries((stack.outputs ?? []).map((o) => [o.output_key, o.output_value as [string, string]]));
    for (let i = 0; i < count; i++) {
      const [serverId, volumeId] = outputs[`pair${i}`]!;
      const volume = await getVolume(site.blockStorage, volumeId);
      expect(volume.status, `vol${i}`).to.equal('in-use');
      expect(volume.size).to.equal(1);
      expect(volume.attachments.map((a) => a.server_id)).to.deep.equal([serverId]);
      expect((await collect(listVolumeAttachments(site.compute, serverId))).map((a) => a.volumeId)).to.deep.equal([volumeId]);
    }
    const resources = await listResources(sc, id);
    expect(resources).to.have.length(2 + 3 * count);
    expect(resources.filter((r) => r.resource_status !== 'CREATE_COMPLETE')).to.deep.equal([]);
  });
});
