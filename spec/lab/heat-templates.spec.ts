// The Heat template library and the recovery template generator against the lab's real Heat
// at lab-b (Zed): every library template and example pair validates (what validate:heat
// does); the generated templates for the golden inputs validate in each mode, sent as YAML
// text; and a generated DR-test stack for a tiny workload is created for real (volumes
// restored from real backups, isolated networks with the primary's addresses, a recreated
// flavor and keypairs, security groups naming each other, boot order), checked through
// Ferry's own client modules, and deleted. Then the warm-standby path: a standby stack
// (no servers) updated to the production environment brings the servers up.
import { generateKeyPairSync } from 'node:crypto';
import { expect } from 'chai';
import { createBackup, deleteBackup, waitForBackup, waitForBackupDeleted } from '../../lib/openstack/blockstorage/backups.js';
import { getVolume } from '../../lib/openstack/blockstorage/volumes.js';
import { getServer, isEmbeddedFlavor } from '../../lib/openstack/compute/servers.js';
import { listVolumeAttachments } from '../../lib/openstack/compute/volumeattachments.js';
import { getNetwork } from '../../lib/openstack/network/networks.js';
import { getPort, listPorts } from '../../lib/openstack/network/ports.js';
import { getSecurityGroup } from '../../lib/openstack/network/securitygroups.js';
import { listResources, type StackResource } from '../../lib/openstack/orchestration/resources.js';
import { createStack, deleteStack, updateStack, waitForStack, waitForStackDeleted, type StackIdentity } from '../../lib/openstack/orchestration/stacks.js';
import { listTemplateVersions, validateTemplate } from '../../lib/openstack/orchestration/templates.js';
import type { StackEvent } from '../../lib/openstack/orchestration/events.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { ServiceClient } from '../../lib/openstack/service-client.js';
import type { Site } from '../../lib/openstack/site.js';
import { generate, type GeneratedStack } from '../../lib/heat/generate.js';
import { defaultLibrary } from '../../lib/heat/library.js';
import { resourceName } from '../../lib/heat/names.js';
import { resolve } from '../../lib/heat/resolve.js';
import type { RecoveryMode } from '../../lib/heat/types.js';
import { validateLibrary } from '../../lib/heat/validate.js';
import { toYaml } from '../../lib/heat/yaml.js';
import { parsePlanText } from '../../lib/config/protection-plan.js';
import type { Inventory } from '../../lib/inventory/model.js';
import { IDS, PLAN_YAML, RUN_ID, TRICKY_STRINGS, inventory, manifest, plan, resolved, volumeData } from '../unit/heat/fixtures.js';
import { RUN_TAG, TIMEOUTS, labSite, useLab, type Cleanup } from './support/lab.js';
import { labImageAndFlavor, labVolume } from './support/workload.js';

/** A real OpenSSH ed25519 public key (Nova checks keys it imports). */
function sshPublicKey(comment: string): string {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]).toString('base64')} ${comment}`;
}

/** The fixture workload, made small and recognisable for the lab: 1 GiB volumes, names carrying the run tag, real keys, a flavor the lab can schedule. */
function labInventory(floatingIp: boolean): Inventory {
  const inv = inventory();
  const name = (n: string) => `${RUN_TAG}-${n}`;
  const [db, web] = inv.members;
  db!.server.name = name('db');
  web!.server.name = name('web');
  // Nova accepts metadata keys of [a-zA-Z0-9-_:. ] only; values are free text.
  web!.server.metadata = { role: 'web', get_file: '/etc/passwd', get_param: 'ferry_plan', note: '{get_param: ferry_point}' };
  if (!floatingIp) delete (web!.ports[0] as unknown as Record<string, unknown>).floatingIps;
  for (const v of db!.volumes) {
    v.size = 1;
    v.name = name(v.name);
  }
  const dbFlavor = { key: 'db.large', name: name('db'), vcpus: 1, ram: 512, disk: 1, ephemeral: 0, swap: 0, extraSpecs: {} };
  db!.server.flavor = dbFlavor;
  inv.flavors['db.large'] = dbFlavor;
  for (const k of ['ops', 'deploy'] as const) {
    const key = { name: name(k), publicKey: sshPublicKey(`${RUN_TAG}-${k}`), type: 'ssh' as const };
    inv.keypairs = { ...inv.keypairs, [key.name]: { ...key, fingerprint: '', userId: 'u-1' } };
    delete inv.keypairs[k];
    const m = k === 'ops' ? db! : web!;
    m.server.keyName = key.name;
    m.server.keypair = key;
  }
  inv.networks[IDS.netApp]!.name = name('app-net');
  inv.networks[IDS.netDb]!.name = name('db-net');
  for (const g of Object.values(inv.securityGroups)) if (g.name !== 'default') g.name = name(g.name);
  inv.serverGroups[IDS.serverGroup]!.name = name('db-anti');
  db!.server.serverGroups[0]!.name = name('db-anti');
  return inv;
}

/** The fixture plan, mapped to what lab-b has: networks recreated, m1.small → m1.tiny, the image → lab-tiny, ssd → ceph, az1 → nova. */
function labPlan(): ReturnType<typeof plan> {
  const text = PLAN_YAML.replace('    - {from: app-net, to: app-net-dr}\n', `    - {from: ${RUN_TAG}-app-net, recreate: true}\n`)
    .replace('    - {from: db-net, recreate: true}\n', `    - {from: ${RUN_TAG}-db-net, recreate: true}\n`)
    .replace('      - {from: m1.small, to: m1.small}\n', '      - {from: m1.small, to: m1.tiny}\n  images:\n    map:\n      - {from: cirros, to: lab-tiny}\n')
    .replace('    - {from: ssd, to: rbd-ssd}\n', '    - {from: ssd, to: ceph}\n')
    .replace(/priority_groups:\n.*\n.*\n/, `priority_groups:\n  - {name: database, members: [${RUN_TAG}-db]}\n  - {name: web, members: [${RUN_TAG}-web]}\n`);
  return parsePlanText(text, 'lab-shop.yaml');
}

/** Backs up a fresh 1 GiB volume (bootable when an image is given); returns the backup ID. Everything is removed on cleanup. */
async function labBackup(c: Cleanup, site: Site, imageId?: string): Promise<string> {
  const volumeId = await labVolume(c, site, imageId ? { imageId } : {});
  const backup = await createBackup(site.blockStorage, { volume_id: volumeId, name: `${RUN_TAG}-backup`, description: RUN_TAG });
  c.add(`${site.name} backup ${backup.id}`, async () => {
    await deleteBackup(site.blockStorage, backup.id);
    await waitForBackupDeleted(site.blockStorage, backup.id, { timeoutMs: TIMEOUTS.backup });
  });
  await waitForBackup(site.blockStorage, backup.id, ['available'], { timeoutMs: TIMEOUTS.backup });
  return backup.id;
}

function cleanupStack(c: Cleanup, sc: ServiceClient, id: StackIdentity): void {
  c.add(`stack ${id.stack_name} ${id.id}`, async () => {
    await deleteStack(sc, id);
    await waitForStackDeleted(sc, id, { timeoutMs: TIMEOUTS.stack });
  });
}

/** A stack's resources, nested ones included (a DR::* resource's physical ID is its nested stack's). */
async function physical(sc: ServiceClient, id: StackIdentity): Promise<StackResource[]> {
  return listResources(sc, id, { nested_depth: 2 });
}

/** The OpenStack ID of what a generated DR::* resource made: the resource of `type` inside its nested stack. */
function made(all: StackResource[], name: string, type: string): string {
  const inner = all.filter((r) => r.parent_resource === name && r.resource_type === type);
  expect(inner, `one ${type} inside ${name}`).to.have.length(1);
  return inner[0]!.physical_resource_id;
}

async function createGenerated(c: Cleanup, sc: ServiceClient, stack: GeneratedStack, name: string): Promise<StackIdentity> {
  const created = await createStack(sc, {
    stack_name: name,
    template: stack.yaml.template,
    environment: stack.yaml.environment,
    files: stack.files,
    parameters: stack.parameters,
    tags: [RUN_TAG, ...stack.stackTags],
    timeout_mins: 15,
  });
  const id = { stack_name: name, id: created.id };
  cleanupStack(c, sc, id);
  return id;
}

describe('lab: heat templates and generated recovery stacks (lab-b)', function () {
  this.timeout(1_800_000);
  const { cleanup } = useLab();
  let site: Site;
  let sc: ServiceClient;

  before(async function () {
    this.timeout(120_000);
    site = labSite('lab-b');
    sc = site.orchestration;
  });

  it('knows the pinned template version, and every library template and example pair validates', async () => {
    const versions = (await listTemplateVersions(sc)).map((v) => v.version);
    expect(versions).to.include('heat_template_version.2021-04-16');
    const report = await validateLibrary(sc, defaultLibrary());
    expect(report.problems).to.deep.equal([]);
    const failed = report.results.filter((r) => !r.ok);
    expect(failed, failed.map((r) => `${r.name}: ${r.detail}`).join('\n')).to.deep.equal([]);
    expect(report.results.length).to.be.at.least(18);
    console.log(`      ${report.results.length} cases valid in ${report.results.reduce((n, r) => n + r.ms, 0)} ms`);
  });

  it("Heat's own YAML loader reads every string Ferry writes as that string (YAML 1.1: on, yes, ~, 02:00, U+2028 ...)", async () => {
    const parameters: Record<string, unknown> = {};
    TRICKY_STRINGS.forEach((text, i) => (parameters[`p${i}`] = { type: 'string', default: text }));
    parameters.keys = { type: 'json', default: Object.fromEntries(TRICKY_STRINGS.map((t, i) => [t, i])) };
    const v = await validateTemplate(sc, { template: toYaml({ heat_template_version: '2021-04-16', parameters, resources: {} }) });
    const read = TRICKY_STRINGS.map((_, i) => v.Parameters[`p${i}`]?.Default);
    expect(read).to.deep.equal(TRICKY_STRINGS);
    const keys = v.Parameters.keys?.Default;
    expect(typeof keys === 'string' ? JSON.parse(keys) : keys).to.deep.equal(Object.fromEntries(TRICKY_STRINGS.map((t, i) => [t, i])));
  });

  for (const mode of ['failover', 'drtest', 'standby'] as RecoveryMode[]) {
    it(`validates the generated ${mode} stack of the golden inputs, sent as YAML text`, async () => {
      const stack = generate(manifest(), plan(), resolved(), mode, { runId: RUN_ID });
      const v = await validateTemplate(sc, { template: stack.yaml.template, environment: stack.yaml.environment, files: stack.files, parameters: stack.parameters }, { show_nested: true });
      const web = `${resourceName('server', IDS.web)}_data`;
      expect(v.Parameters[web]?.Type).to.equal('Json');
      expect(v.Parameters.ferry_point?.Default, 'parameter_defaults reach the top template').to.equal(stack.environment.parameter_defaults && (stack.environment.parameter_defaults as Record<string, string>).ferry_point);
      expect(v.Parameters.name_prefix?.Default).to.equal(mode === 'drtest' ? 'drtest-' : '');
      const registry = (v.Environment?.resource_registry ?? {}) as Record<string, unknown>;
      expect(registry['DR::Server']).to.equal(mode === 'standby' ? 'OS::Heat::None' : 'nested/server.yaml');
      expect(registry['DR::Network']).to.equal(mode === 'drtest' ? 'nested/network_isolated.yaml' : 'nested/network.yaml');
      // Without its environment the template names types nobody registered.
      const bare = await validateTemplate(sc, { template: stack.yaml.template }).then(
        () => undefined,
        (err: Error) => err,
      );
      expect(bare?.message).to.match(/The Resource Type \(DR::[A-Za-z]+\) could not be found/);
    });
  }

  it('creates a generated DR-test stack for a tiny workload: restored volumes, isolated networks with the primary addresses, boot order; then deletes it', async () => {
    const c = cleanup();
    const { imageId } = await labImageAndFlavor(site);
    const [rootBackup, dataBackup] = await Promise.all([labBackup(c, site, imageId), labBackup(c, site)]);
    const volumes = volumeData();
    volumes[0]!.secondaryBackupId = rootBackup;
    volumes[0]!.sizeGb = 1;
    volumes[1]!.secondaryBackupId = dataBackup;
    volumes[1]!.sizeGb = 1;
    const point = manifest({ inventory: labInventory(true), volumes });
    const p = labPlan();

    const t0 = Date.now();
    const facts = await resolve(site, point, p);
    const stack = generate(point, p, facts, 'drtest', { runId: RUN_ID });
    console.log(`      resolved at lab-b and generated in ${Date.now() - t0} ms: ${stack.stats.resources} resources, ${stack.stats.templateBytes} bytes`);
    expect(facts.flavors['db.large']).to.deep.equal({ kind: 'recreate' });
    expect(facts.flavors['m1.small']).to.include({ kind: 'map', name: 'm1.tiny' });
    expect(facts.images[IDS.image]).to.equal(imageId);
    expect(facts.computeZones).to.deep.equal({ az1: 'nova' });

    const id = await createGenerated(c, sc, stack, `${RUN_TAG}-drtest`);
    const events: StackEvent[] = [];
    const t1 = Date.now();
    const done = await waitForStack(sc, id, ['CREATE_COMPLETE'], { timeoutMs: TIMEOUTS.stack * 2, intervalMs: 2_000, maxIntervalMs: 4_000, onEvent: (e) => events.push(e) });
    console.log(`      drtest stack CREATE_COMPLETE in ${((Date.now() - t1) / 1000).toFixed(1)} s, ${events.length} top-level events`);
    expect(done.tags).to.include.members([RUN_TAG, 'ferry:mode=drtest', `ferry:run=${RUN_ID}`]);

    const r = await physical(sc, id);
    const db = await getServer(site.compute, made(r, resourceName('server', IDS.db), 'OS::Nova::Server'));
    const web = await getServer(site.compute, made(r, resourceName('server', IDS.web), 'OS::Nova::Server'));
    expect(db.status).to.equal('ACTIVE');
    expect(db.name).to.equal(`drtest-${RUN_TAG}-db`);
    expect(web.name).to.equal(`drtest-${RUN_TAG}-web`);
    // Metadata: the primary's (hostile keys included, verbatim) plus Ferry's marks.
    expect(web.metadata).to.deep.equal({ role: 'web', get_file: '/etc/passwd', get_param: 'ferry_plan', note: '{get_param: ferry_point}', 'ferry:plan': 'shop', 'ferry:point': point.id, 'ferry:run': RUN_ID, 'ferry:source': IDS.web });
    expect(db.tags).to.include.members(['shop', 'tier-db', `ferry:point=${point.id}`, `ferry:run=${RUN_ID}`]);
    expect(isEmbeddedFlavor(db.flavor) && db.flavor.original_name, 'the recreated flavor').to.equal(`drtest-${RUN_TAG}-db`);
    expect(isEmbeddedFlavor(web.flavor) && web.flavor.original_name, 'the mapped flavor').to.equal('m1.tiny');
    expect(db.key_name).to.equal(`drtest-${RUN_TAG}-ops`);

    // Ports: the primary's addresses and MACs, on isolated networks without a router.
    const dbPort = await getPort(site.network, made(r, resourceName('port', IDS.portDb0), 'OS::Neutron::Port'));
    expect(dbPort.fixed_ips.map((f) => f.ip_address)).to.deep.equal(['10.30.0.5']);
    expect(dbPort.mac_address, 'kept on a network the stack created').to.equal('fa:16:3e:00:00:01');
    expect(dbPort.device_id).to.equal(db.id);
    expect(dbPort.tags).to.include.members(['ferry:plan=shop', `ferry:source=${IDS.portDb0}`]);
    const webPort = await getPort(site.network, made(r, resourceName('port', IDS.portWeb), 'OS::Neutron::Port'));
    expect(webPort.fixed_ips.map((f) => f.ip_address)).to.deep.equal(['10.20.0.10']);
    expect(webPort.allowed_address_pairs.map((a) => a.ip_address)).to.deep.equal(['10.20.0.100']);
    const net = await getNetwork(site.network, dbPort.network_id);
    expect(net.name).to.equal(`drtest-net-${RUN_TAG}-db-net`);
    expect(net.tags).to.include.members(['ferry:drtest', 'backend', `ferry:point=${point.id}`]);
    expect(await collect(listPorts(site.network, { network_id: net.id, device_owner: 'network:router_interface' })), 'no router').to.deep.equal([]);
    expect(r.some((x) => x.resource_type === 'OS::Neutron::FloatingIP'), 'no floating IP in a DR test').to.equal(false);

    // Volumes: restored from the backups, the root boots the server, the data volume is attached.
    const root = await getVolume(site.blockStorage, made(r, resourceName('volume', IDS.volDbRoot), 'OS::Cinder::Volume'));
    expect(root.bootable).to.equal('true');
    expect(root.name).to.equal(`drtest-${RUN_TAG}-shop-db-root`);
    expect(root.attachments.map((a) => a.server_id)).to.deep.equal([db.id]);
    const attached = (await collect(listVolumeAttachments(site.compute, db.id))).map((a) => a.volumeId).sort();
    expect(attached).to.deep.equal([root.id, made(r, resourceName('volume', IDS.volDbData), 'OS::Cinder::Volume')].sort());

    // Security groups: recreated, the db group's rule naming the recreated web group.
    const dbGroup = await getSecurityGroup(site.network, made(r, resourceName('secgroup', IDS.sgDb), 'OS::Neutron::SecurityGroup'));
    const webGroupId = made(r, resourceName('secgroup', IDS.sgWeb), 'OS::Neutron::SecurityGroup');
    expect(dbGroup.name).to.equal(`drtest-${RUN_TAG}-db`);
    expect(dbGroup.security_group_rules.find((x) => x.port_range_min === 5432)?.remote_group_id).to.equal(webGroupId);
    expect(dbPort.security_groups.sort()).to.deep.equal([dbGroup.id, made(r, resourceName('secgroup', IDS.sgDefault), 'OS::Neutron::SecurityGroup')].sort());

    // Boot order: the web server started after the database group was ready.
    const at = (res: string, status: string) => events.findIndex((e) => e.resource_name === res && e.resource_status === status);
    expect(at('priority_1_ready', 'CREATE_COMPLETE')).to.be.greaterThan(-1);
    expect(at(resourceName('server', IDS.web), 'CREATE_IN_PROGRESS')).to.be.greaterThan(at('priority_1_ready', 'CREATE_COMPLETE'));

    // Delete: everything the stack made goes with it.
    await deleteStack(sc, id);
    await waitForStackDeleted(sc, id, { timeoutMs: TIMEOUTS.stack });
    const gone = await getServer(site.compute, db.id).then(
      () => 200,
      (e: { status?: number }) => e.status,
    );
    expect(gone).to.equal(404);
    const volumeGone = await getVolume(site.blockStorage, root.id).then(
      () => 200,
      (e: { status?: number }) => e.status,
    );
    expect(volumeGone).to.equal(404);
  });

  it('warm standby: a standby stack has networks, ports and restored volumes but no servers; updating it to the production environment brings the servers up', async () => {
    const c = cleanup();
    const { imageId } = await labImageAndFlavor(site);
    const [rootBackup, dataBackup] = await Promise.all([labBackup(c, site, imageId), labBackup(c, site)]);
    const volumes = volumeData();
    Object.assign(volumes[0]!, { secondaryBackupId: rootBackup, sizeGb: 1 });
    Object.assign(volumes[1]!, { secondaryBackupId: dataBackup, sizeGb: 1 });
    const point = manifest({ inventory: labInventory(false), volumes });
    const p = labPlan();
    const facts = await resolve(site, point, p);
    const standby = generate(point, p, facts, 'standby', { runId: RUN_ID });
    const failover = generate(point, p, facts, 'failover', { runId: RUN_ID });
    expect(failover.yaml.template).to.equal(standby.yaml.template);

    const id = await createGenerated(c, sc, standby, `${RUN_TAG}-standby`);
    await waitForStack(sc, id, ['CREATE_COMPLETE'], { timeoutMs: TIMEOUTS.stack * 2, intervalMs: 2_000, maxIntervalMs: 4_000 });
    let r = await physical(sc, id);
    expect(r.filter((x) => x.resource_type === 'OS::Nova::Server')).to.deep.equal([]);
    expect(r.find((x) => x.resource_name === resourceName('server', IDS.db))?.resource_type).to.equal('DR::Server');
    const standbyRoot = made(r, resourceName('volume', IDS.volDbRoot), 'OS::Cinder::Volume');
    expect((await getVolume(site.blockStorage, standbyRoot)).status, 'restored and waiting').to.equal('available');
    const standbyPort = made(r, resourceName('port', IDS.portDb0), 'OS::Neutron::Port');
    expect((await getPort(site.network, standbyPort)).fixed_ips[0]?.ip_address, 'the address is held').to.equal('10.30.0.5');

    const t0 = Date.now();
    await updateStack(sc, id, { template: failover.yaml.template, environment: failover.yaml.environment, files: failover.files, parameters: failover.parameters });
    await waitForStack(sc, id, ['UPDATE_COMPLETE'], { timeoutMs: TIMEOUTS.stack * 2, intervalMs: 2_000, maxIntervalMs: 4_000 });
    console.log(`      standby → failover update in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    r = await physical(sc, id);
    expect(r.filter((x) => x.resource_type === 'OS::Nova::Server')).to.have.length(2);
    const db = await getServer(site.compute, made(r, resourceName('server', IDS.db), 'OS::Nova::Server'));
    expect(db.status).to.equal('ACTIVE');
    expect(db.name, 'production names: no prefix').to.equal(`${RUN_TAG}-db`);
    expect(made(r, resourceName('volume', IDS.volDbRoot), 'OS::Cinder::Volume'), 'the standby volume boots the server').to.equal(standbyRoot);
    expect(made(r, resourceName('port', IDS.portDb0), 'OS::Neutron::Port'), 'the standby port carries it').to.equal(standbyPort);
    expect((await getPort(site.network, standbyPort)).device_id).to.equal(db.id);
    expect((await collect(listVolumeAttachments(site.compute, db.id))).length).to.equal(2);
  });
});
