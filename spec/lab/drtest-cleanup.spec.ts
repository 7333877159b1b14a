// `ferry test cleanup` against the real lab-b (Zed): leftovers of a DR test made by hand with
// Ferry's client modules and the marks a DR test puts on what it makes (drTestTags,
// drTestMetadata, the stack tags of lib/heat/generate.ts) — a DR-test stack holding a tagged
// network, an isolated network with its subnet, a tagged port and an unmarked unbound port on
// it, a 1 GiB volume — beside production of the same plan: a failover stack and a network
// marked with the failover's run. The cleanup deletes the test's things (the stack's network
// with the stack, not twice), keeps production, finds nothing the second time; the real
// services' filters (Heat tags, Nova tags-any, Neutron tags and project_id, Cinder metadata)
// are what it relies on.
import { expect } from 'chai';
import { createVolume, deleteVolume, listVolumes, waitForVolume, waitForVolumeDeleted } from '../../lib/openstack/blockstorage/volumes.js';
import { createNetwork, deleteNetwork, listNetworks } from '../../lib/openstack/network/networks.js';
import { createPort, deletePort, listPorts } from '../../lib/openstack/network/ports.js';
import { createSubnet, deleteSubnet } from '../../lib/openstack/network/subnets.js';
import { replaceTags } from '../../lib/openstack/network/tags.js';
import { createStack, deleteStack, listStacks, waitForStack, waitForStackDeleted, type StackIdentity } from '../../lib/openstack/orchestration/stacks.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { Site } from '../../lib/openstack/site.js';
import { markTag } from '../../lib/heat/names.js';
import { cleanupDrTest, drTestMetadata, drTestTags, modeTag } from '../../lib/workflows/cleanup.js';
import { FERRY_MARKS } from '../../lib/replication/types.js';
import { RUN_TAG, TIMEOUTS, labSite, uniqueName, useLab, type Cleanup } from './support/lab.js';

/** A stack in miniature: one network carrying the tags it is given. */
const TINY = {
  heat_template_version: '2021-04-16',
  description: 'ferry lab: a recovery stack in miniature (one tagged network)',
  parameters: { net_name: { type: 'string' }, net_tags: { type: 'json' } },
  resources: { net: { type: 'OS::Neutron::Net', properties: { name: { get_param: 'net_name' }, tags: { get_param: 'net_tags' } } } },
};

async function tinyStack(site: Site, cleanup: Cleanup, name: string, stackTags: string[], netTags: string[]): Promise<StackIdentity> {
  const created = await createStack(site.orchestration, { stack_name: name, template: TINY, parameters: { net_name: uniqueName('stack-net'), net_tags: netTags }, tags: stackTags, timeout_mins: 5 });
  const ref = { stack_name: name, id: created.id };
  cleanup.add(`stack ${name}`, async () => {
    await deleteStack(site.orchestration, ref);
    await waitForStackDeleted(site.orchestration, ref, { timeoutMs: TIMEOUTS.stack });
  });
  await waitForStack(site.orchestration, ref, ['CREATE_COMPLETE'], { timeoutMs: TIMEOUTS.stack });
  return ref;
}

async function taggedNetwork(site: Site, cleanup: Cleanup, what: string, tags: string[]): Promise<string> {
  const net = await createNetwork(site.network, { name: uniqueName(what) });
  cleanup.add(`network ${net.name}`, () => deleteNetwork(site.network, net.id));
  await replaceTags(site.network, 'networks', net.id, tags);
  return net.id;
}

describe('lab: ferry test cleanup at lab-b', function () {
  this.timeout(TIMEOUTS.stack * 4);
  const { cleanup } = useLab();

  it('deletes a DR test’s stack and leftovers by their marks, keeps production of the same plan, and finds nothing again', async () => {
    const site = labSite('lab-b');
    const c = cleanup();
    // Plan names become tag values: unique per run so concurrent runs never see each other's.
    const plan = `${RUN_TAG}-plan`;
    const testRun = `${RUN_TAG}-t`;
    const prodRun = `${RUN_TAG}-f`;
    const testMarks = [...drTestTags(plan, testRun), RUN_TAG];

    // Production of the plan: its failover stack, and a network marked with the failover's run only.
    const prodStack = await tinyStack(site, c, `ferry-${plan}-failover`, [markTag('plan', plan), markTag('point', 'pt-1'), markTag('run', prodRun), modeTag('failover'), RUN_TAG], [markTag('plan', plan), markTag('run', prodRun), RUN_TAG]);
    const prodNet = await taggedNetwork(site, c, 'prod-net', [markTag('plan', plan), markTag('run', prodRun), RUN_TAG]);

    // The DR test's stack (tags as lib/heat/generate.ts sets them) with its own tagged network.
    const testStack = await tinyStack(site, c, `ferry-${plan}-drtest-t`, [markTag('plan', plan), markTag('point', 'pt-1'), markTag('run', testRun), modeTag('drtest'), RUN_TAG], testMarks);
    // Leftovers outside the stack: the isolated network, its subnet, a tagged port, an unmarked unbound port, a volume.
    const testNet = await taggedNetwork(site, c, 'drtest-net', testMarks);
    const subnet = await createSubnet(site.network, { network_id: testNet, ip_version: 4, cidr: '10.231.77.0/24', name: uniqueName('drtest-subnet') });
    c.add(`subnet ${subnet.name}`, () => deleteSubnet(site.network, subnet.id));
    await replaceTags(site.network, 'subnets', subnet.id, testMarks);
    const port = await createPort(site.network, { network_id: testNet, name: uniqueName('drtest-port'), tags: testMarks });
    c.add(`port ${port.name}`, () => deletePort(site.network, port.id));
    const loose = await createPort(site.network, { network_id: testNet, name: uniqueName('loose-port') });
    c.add(`port ${loose.name}`, () => deletePort(site.network, loose.id));
    const volume = await createVolume(site.blockStorage, { size: 1, name: uniqueName('drtest-vol'), metadata: { ...drTestMetadata(plan, testRun), [RUN_TAG]: '1' } });
    c.add(`volume ${volume.id}`, async () => {
      await deleteVolume(site.blockStorage, volume.id, { cascade: true });
      await waitForVolumeDeleted(site.blockStorage, volume.id, { timeoutMs: TIMEOUTS.volume });
    });
    await waitForVolume(site.blockStorage, volume.id, ['available'], { timeoutMs: TIMEOUTS.volume });

    const dry = await cleanupDrTest(site, { plan, dryRun: true, pollMs: 1_000, timeoutMs: TIMEOUTS.stack });
    expect(dry.deleted.map((i) => i.id)).to.include.members([testStack.id, testNet, subnet.id, port.id, loose.id, volume.id]);
    expect(dry.deleted.map((i) => i.id)).not.to.include.members([prodStack.id]);
    // Nothing moved.
    expect((await collect(listStacks(site.orchestration, { tags: [markTag('plan', plan)] }))).map((s) => s.id)).to.have.members([prodStack.id, testStack.id]);

    const progress: string[] = [];
    const r = await cleanupDrTest(site, { plan, pollMs: 1_000, timeoutMs: TIMEOUTS.stack, onProgress: (l) => progress.push(l) });
    expect(r.failed, JSON.stringify(r.failed)).to.deep.equal([]);
    expect(r.deleted.map((i) => `${i.kind} ${i.id}`)).to.deep.equal([
      `stack ${testStack.id}`,
      `port ${port.id}`,
      `port ${loose.id}`,
      `subnet ${subnet.id}`,
      `network ${testNet}`,
      `volume ${volume.id}`,
    ]);
    expect(r.kept.map((i) => `${i.kind} ${i.id}`)).to.have.members([`stack ${prodStack.id}`, `network ${prodNet}`, ...(await prodStackNetworks(site, plan, prodRun)).map((id) => `network ${id}`)]);
    expect(r.runs).to.deep.equal([testRun]);

    // What the services list now: production only.
    const stacks = await collect(listStacks(site.orchestration, { tags: [markTag('plan', plan)] }));
    expect(stacks.map((s) => s.id)).to.deep.equal([prodStack.id]);
    const nets = await collect(listNetworks(site.network, { tags: [markTag('plan', plan)] }));
    expect(nets.every((n) => n.tags.includes(markTag('run', prodRun)))).to.equal(true);
    expect(nets.map((n) => n.id)).to.include(prodNet);
    expect(await collect(listPorts(site.network, { network_id: testNet }))).to.deep.equal([]);
    expect(await collect(listVolumes(site.blockStorage, { metadata: { [FERRY_MARKS.plan]: plan } }))).to.deep.equal([]);

    const again = await cleanupDrTest(site, { plan, pollMs: 1_000, timeoutMs: TIMEOUTS.stack });
    expect(again.deleted).to.deep.equal([]);
    expect(again.failed).to.deep.equal([]);
    expect(again.kept.map((i) => i.id)).to.include.members([prodStack.id, prodNet]);
  });
});

/** The production stack's own network (Heat made it; tagged with the failover run). */
async function prodStackNetworks(site: Site, plan: string, prodRun: string): Promise<string[]> {
  const nets = await collect(listNetworks(site.network, { tags: [markTag('plan', plan), markTag('run', prodRun)] }));
  return nets.filter((n) => n.name.includes('stack-net')).map((n) => n.id);
}
