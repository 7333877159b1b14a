// Network (Neutron v2.0) client modules against the real lab-a: ML2 with the agentless
// `labfake` mechanism driver (every port binds at once; no L3 or DHCP agent, so routers and
// floating IPs exist only in the API). Networks and subnets with tag filters and paging,
// ports with fixed IPs, MAC, security groups and allowed address pairs, security groups
// with remote-group rules and the duplicate-rule 409, an external flat provider network
// with a router, its interfaces and floating IPs, and the tag API.
import { expect } from 'chai';
import { ConflictError, NotFoundError, PreconditionFailedError, type HttpError } from '../../lib/errors.js';
import {
  associateFloatingIp,
  createFloatingIp,
  deleteFloatingIp,
  disassociateFloatingIp,
  getFloatingIp,
  listFloatingIps,
  updateFloatingIp,
  waitForFloatingIp,
  waitForFloatingIpDeleted,
} from '../../lib/openstack/network/floatingips.js';
import { createNetwork, deleteNetwork, findNetworkByName, getNetwork, listNetworks, updateNetwork, type Network } from '../../lib/openstack/network/networks.js';
import { createPort, deletePort, getPort, listPorts, updatePort, waitForPort, waitForPortDeleted } from '../../lib/openstack/network/ports.js';
import {
  addRouterInterface,
  clearRouterGateway,
  createRouter,
  deleteRouter,
  findRouterInterface,
  getRouter,
  listRouters,
  removeRouterInterface,
  setRouterGateway,
  updateRouter,
  waitForRouter,
} from '../../lib/openstack/network/routers.js';
import {
  createSecurityGroup,
  createSecurityGroupRule,
  createSecurityGroupRules,
  deleteSecurityGroup,
  deleteSecurityGroupRule,
  existingRuleId,
  getSecurityGroup,
  listSecurityGroupRules,
  listSecurityGroups,
  updateSecurityGroup,
} from '../../lib/openstack/network/securitygroups.js';
import { createSubnet, deleteSubnet, getSubnet, listSubnets, updateSubnet, type Subnet } from '../../lib/openstack/network/subnets.js';
import { addTag, hasTag, listTags, removeAllTags, removeTag, replaceTags } from '../../lib/openstack/network/tags.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { ServiceClient } from '../../lib/openstack/service-client.js';
import { captureFixture } from './support/fixtures.js';
import { RUN_TAG, labSite, uniqueName, useLab, type Cleanup } from './support/lab.js';

async function failure(p: Promise<unknown>): Promise<HttpError> {
  try {
    await p;
  } catch (e) {
    return e as HttpError;
  }
  throw new Error('expected the call to fail');
}

/** A locally administered unicast MAC with Neutron's usual fa:16:3e prefix and random tail. */
function randomMac(): string {
  const b = () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0');
  return `fa:16:3e:${b()}:${b()}:${b()}`;
}

/** A network tagged with RUN_TAG (and `extraTags`), registered for cleanup at once. */
async function makeNetwork(sc: ServiceClient, cleanup: Cleanup, what: string, extraTags: string[] = [], opts: Parameters<typeof createNetwork>[1] = {}): Promise<Network> {
  const net = await createNetwork(sc, { name: uniqueName(what), ...opts });
  cleanup.add(`network ${net.id}`, () => deleteNetwork(sc, net.id));
  await replaceTags(sc, 'networks', net.id, [RUN_TAG, ...extraTags]);
  return net;
}

async function makeSubnet(sc: ServiceClient, cleanup: Cleanup, networkId: string, cidr: string, opts: Partial<Parameters<typeof createSubnet>[1]> = {}): Promise<Subnet> {
  const subnet = await createSubnet(sc, { network_id: networkId, name: uniqueName('subnet'), ip_version: 4, cidr, ...opts });
  cleanup.add(`subnet ${subnet.id}`, () => deleteSubnet(sc, subnet.id));
  await replaceTags(sc, 'subnets', subnet.id, [RUN_TAG]);
  return subnet;
}

describe('lab: network (lab-a)', function () {
  this.timeout(300_000);
  const { cleanup } = useLab();
  let sc: ServiceClient;

  before(() => {
    sc = labSite('lab-a').network;
  });

  it('networks and subnets: create, get, list by name and tags, update (with If-Match), delete twice', async () => {
    const flavour = uniqueName('flavour');
    const net = await makeNetwork(sc, cleanup(), 'net', [flavour], { description: 'ferry lab network', mtu: 1400 });
    expect(net.status).to.equal('ACTIVE');
    expect(net.subnets).to.deep.equal([]);
    expect(net.mtu).to.equal(1400);
    expect(net['provider:network_type'], 'tenant networks are vxlan in the lab').to.equal('vxlan');

    const got = await getNetwork(sc, net.id);
    expect(got.tags).to.have.members([RUN_TAG, flavour]);
    expect(got.description).to.equal('ferry lab network');

    expect((await findNetworkByName(sc, net.name))?.id).to.equal(net.id);
    expect(await findNetworkByName(sc, uniqueName('nobody'))).to.equal(undefined);
    expect((await collect(listNetworks(sc, { tags: [RUN_TAG, flavour] }))).map((n) => n.id)).to.deep.equal([net.id]);
    expect((await collect(listNetworks(sc, { 'tags-any': [flavour, uniqueName('other')] }))).map((n) => n.id)).to.deep.equal([net.id]);
    expect((await collect(listNetworks(sc, { tags: [RUN_TAG], 'not-tags': [flavour] }))).map((n) => n.id)).not.to.include(net.id);
    const slim = await collect(listNetworks(sc, { id: net.id, fields: ['id', 'name'] }));
    expect(slim).to.deep.equal([{ id: net.id, name: net.name }]);

    const subnet = await makeSubnet(sc, cleanup(), net.id, '10.231.11.0/24', {
      gateway_ip: '10.231.11.1',
      allocation_pools: [{ start: '10.231.11.100', end: '10.231.11.199' }],
      dns_nameservers: ['192.0.2.53'],
      host_routes: [{ destination: '198.51.100.0/24', nexthop: '10.231.11.254' }],
      enable_dhcp: false,
    });
    expect(subnet.cidr).to.equal('10.231.11.0/24');
    expect(subnet.allocation_pools).to.deep.equal([{ start: '10.231.11.100', end: '10.231.11.199' }]);
    expect(subnet.host_routes).to.deep.equal([{ destination: '198.51.100.0/24', nexthop: '10.231.11.254' }]);
    expect((await getSubnet(sc, subnet.id)).tags).to.deep.equal([RUN_TAG]);
    expect((await getNetwork(sc, net.id)).subnets).to.deep.equal([subnet.id]);
    expect((await collect(listSubnets(sc, { network_id: net.id }))).map((s) => s.id)).to.deep.equal([subnet.id]);
    expect((await collect(listSubnets(sc, { tags: [RUN_TAG], cidr: '10.231.11.0/24', ip_version: 4 }))).map((s) => s.id)).to.include(subnet.id);

    const sub2 = await updateSubnet(sc, subnet.id, { name: `${subnet.name}-renamed`, dns_nameservers: ['192.0.2.53', '192.0.2.54'], gateway_ip: null });
    expect(sub2.name).to.equal(`${subnet.name}-renamed`);
    expect(sub2.dns_nameservers).to.deep.equal(['192.0.2.53', '192.0.2.54']);
    expect(sub2.gateway_ip).to.equal(null);

    const current = await getNetwork(sc, net.id);
    const updated = await updateNetwork(sc, net.id, { description: 'changed' }, { ifRevision: current.revision_number });
    expect(updated.description).to.equal('changed');
    expect(updated.revision_number).to.be.greaterThan(current.revision_number);
    const stale = await failure(updateNetwork(sc, net.id, { description: 'stale' }, { ifRevision: current.revision_number }));
    captureFixture('network-412-if-match', { service: 'network', call: 'PUT networks/{id} If-Match stale', status: stale.status, body: stale.detail });
    expect(stale).to.be.instanceOf(PreconditionFailedError);
    expect(stale.detail).to.match(/revision/i);

    // A network with subnets but no ports goes at once, its subnets with it.
    expect(await deleteNetwork(sc, net.id)).to.equal(true);
    expect(await deleteSubnet(sc, subnet.id), 'the subnet went with its network').to.equal(false);
    expect(await deleteNetwork(sc, net.id), 'second delete is a no-op').to.equal(false);
    const gone = await failure(getNetwork(sc, net.id));
    expect(gone).to.be.instanceOf(NotFoundError);
    expect(gone.type).to.equal('NetworkNotFound');
    const strict = await failure(deleteNetwork(sc, net.id, { ignoreMissing: false }));
    expect(strict).to.be.instanceOf(NotFoundError);
  });

  it('lists with limit 1 across pages (networks_links), tag-filtered and sorted', async () => {
    const pageTag = uniqueName('paging');
    const made: Network[] = [];
    for (let i = 0; i < 3; i++) made.push(await makeNetwork(sc, cleanup(), 'page', [pageTag]));
    const pages: number[] = [];
    const listed = await collect(listNetworks(sc, { tags: [RUN_TAG, pageTag], limit: 1, sort_key: ['name'], sort_dir: ['asc'] }, { onPage: (n) => pages.push(n) }));
    expect(listed.map((n) => n.id).sort()).to.deep.equal(made.map((n) => n.id).sort());
    expect(listed.map((n) => n.name)).to.deep.equal(made.map((n) => n.name).sort());
    expect(pages.length, `pages seen: ${JSON.stringify(pages)}`).to.be.at.least(3);
    expect(pages.slice(0, 3)).to.deep.equal([1, 1, 1]);
    const desc = await collect(listNetworks(sc, { tags: [pageTag], limit: 2, sort_key: ['name'], sort_dir: ['desc'] }));
    expect(desc.map((n) => n.name)).to.deep.equal(made.map((n) => n.name).sort().reverse());
  });

  it('ports: fixed IP, MAC, security groups, allowed address pairs, binding, update, waitForPort, delete', async () => {
    const net = await makeNetwork(sc, cleanup(), 'port-net');
    const subnet = await makeSubnet(sc, cleanup(), net.id, '10.231.12.0/24');
    const sg = await createSecurityGroup(sc, { name: uniqueName('port-sg'), description: 'ferry lab' });
    cleanup().add(`security group ${sg.id}`, () => deleteSecurityGroup(sc, sg.id));
    const mac = randomMac();
    const port = await createPort(sc, {
      network_id: net.id,
      name: uniqueName('port'),
      fixed_ips: [{ subnet_id: subnet.id, ip_address: '10.231.12.10' }],
      mac_address: mac,
      security_groups: [sg.id],
      allowed_address_pairs: [{ ip_address: '10.231.12.200' }, { ip_address: '10.231.12.0/28', mac_address: 'fa:16:3e:00:00:01' }],
      tags: [RUN_TAG],
    });
    cleanup().add(`port ${port.id}`, () => deletePort(sc, port.id));
    captureFixture('network-port-create', { service: 'network', call: 'POST ports', status: 201, body: { port } });
    expect(port.fixed_ips).to.deep.equal([{ subnet_id: subnet.id, ip_address: '10.231.12.10' }]);
    expect(port.mac_address).to.equal(mac);
    expect(port.security_groups).to.deep.equal([sg.id]);
    expect(port.tags).to.deep.equal([RUN_TAG]);
    expect(port.port_security_enabled).to.equal(true);
    // Neutron fills in the port's MAC for pairs given without one.
    expect(port.allowed_address_pairs).to.deep.include.members([
      { ip_address: '10.231.12.200', mac_address: mac },
      { ip_address: '10.231.12.0/28', mac_address: 'fa:16:3e:00:00:01' },
    ]);
    expect(port.status, 'an unbound port').to.equal('DOWN');
    expect((await waitForPort(sc, port.id)).status).to.equal('DOWN');

    // Listing filters: fixed_ips (repeated `fixed_ips=`), mac_address, tags, security group.
    expect((await collect(listPorts(sc, { network_id: net.id, fixed_ips: [{ ip_address: '10.231.12.10' }, { subnet_id: subnet.id }] }))).map((p) => p.id)).to.deep.equal([port.id]);
    expect((await collect(listPorts(sc, { fixed_ips: [{ ip_address_substr: '10.231.12.1', subnet_id: subnet.id }] }))).map((p) => p.id)).to.deep.equal([port.id]);
    expect((await collect(listPorts(sc, { mac_address: mac }))).map((p) => p.id)).to.deep.equal([port.id]);
    expect((await collect(listPorts(sc, { tags: [RUN_TAG], network_id: net.id }))).map((p) => p.id)).to.deep.equal([port.id]);
    expect((await collect(listPorts(sc, { security_groups: [sg.id] }))).map((p) => p.id)).to.deep.equal([port.id]);

    // A taken address and a taken MAC are 409s.
    const taken = await failure(createPort(sc, { network_id: net.id, fixed_ips: [{ subnet_id: subnet.id, ip_address: '10.231.12.10' }] }));
    expect(taken).to.be.instanceOf(ConflictError);
    expect(taken.type).to.equal('IpAddressAlreadyAllocated');
    const macTaken = await failure(createPort(sc, { network_id: net.id, mac_address: mac }));
    expect(macTaken).to.be.instanceOf(ConflictError);
    expect(macTaken.type).to.equal('MacAddressInUse');

    // Update: name, pairs replaced, security groups cleared, then bound to a host: labfake binds at once.
    const before = await getPort(sc, port.id);
    const updated = await updatePort(sc, port.id, { name: `${port.name}-2`, allowed_address_pairs: [{ ip_address: '10.231.12.201' }], security_groups: [] }, { ifRevision: before.revision_number });
    expect(updated.name).to.equal(`${port.name}-2`);
    expect(updated.allowed_address_pairs).to.deep.equal([{ ip_address: '10.231.12.201', mac_address: mac }]);
    expect(updated.security_groups).to.deep.equal([]);
    const stale = await failure(updatePort(sc, port.id, { name: 'stale' }, { ifRevision: before.revision_number }));
    expect(stale).to.be.instanceOf(PreconditionFailedError);
    const bound = await updatePort(sc, port.id, { 'binding:host_id': 'ferry-lab-host', device_owner: 'compute:nova', device_id: uniqueName('device') });
    expect(bound['binding:host_id']).to.equal('ferry-lab-host');
    const active = await waitForPort(sc, port.id, ['ACTIVE'], { timeoutMs: 30_000 });
    expect(active['binding:vif_type']).to.equal('ovs');

    expect(await deletePort(sc, port.id)).to.equal(true);
    await waitForPortDeleted(sc, port.id, { timeoutMs: 30_000 });
    expect(await deletePort(sc, port.id)).to.equal(false);
    expect(await failure(getPort(sc, port.id))).to.be.instanceOf(NotFoundError);
  });

  it('security groups: rules incl. a remote-group rule, the duplicate-rule 409, adoptExisting, bulk create, in-use 409', async () => {
    const web = await createSecurityGroup(sc, { name: uniqueName('sg-web'), description: 'web tier' });
    cleanup().add(`security group ${web.id}`, () => deleteSecurityGroup(sc, web.id));
    const db = await createSecurityGroup(sc, { name: uniqueName('sg-db'), description: 'db tier', stateful: true });
    cleanup().add(`security group ${db.id}`, () => deleteSecurityGroup(sc, db.id));
    await replaceTags(sc, 'security-groups', web.id, [RUN_TAG]);
    await replaceTags(sc, 'security-groups', db.id, [RUN_TAG]);

    // Neutron's two default egress rules.
    expect(web.security_group_rules.map((r) => `${r.direction}/${r.ethertype}/${r.protocol}`).sort()).to.deep.equal(['egress/IPv4/null', 'egress/IPv6/null']);
    expect(db.stateful).to.equal(true);

    const ssh = await createSecurityGroupRule(sc, { security_group_id: web.id, direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '192.0.2.0/24', description: 'ssh' });
    expect(ssh.protocol).to.equal('tcp');
    expect(ssh.remote_ip_prefix).to.equal('192.0.2.0/24');
    expect(ssh.ethertype, 'IPv4 by default').to.equal('IPv4');
    const fromWeb = await createSecurityGroupRule(sc, { security_group_id: db.id, direction: 'ingress', protocol: 'tcp', port_range_min: 5432, port_range_max: 5432, remote_group_id: web.id });
    expect(fromWeb.remote_group_id).to.equal(web.id);
    expect(fromWeb.remote_ip_prefix).to.equal(null);

    // The same rule again: 409 SecurityGroupRuleExists naming the existing rule.
    const dup = await failure(createSecurityGroupRule(sc, { security_group_id: db.id, direction: 'ingress', protocol: 'tcp', port_range_min: 5432, port_range_max: 5432, remote_group_id: web.id }));
    captureFixture('network-409-rule-exists', { service: 'network', call: 'POST security-group-rules (duplicate)', status: dup.status, body: dup.detail });
    expect(dup).to.be.instanceOf(ConflictError);
    expect(dup.type).to.equal('SecurityGroupRuleExists');
    expect(existingRuleId(dup.detail)).to.equal(fromWeb.id);
    const adopted = await createSecurityGroupRule(
      sc,
      { security_group_id: db.id, direction: 'ingress', protocol: 'tcp', port_range_min: 5432, port_range_max: 5432, remote_group_id: web.id },
      { adoptExisting: true },
    );
    expect(adopted.id).to.equal(fromWeb.id);
    // Replaying a default egress rule adopts Neutron's own.
    const egress = await createSecurityGroupRule(sc, { security_group_id: web.id, direction: 'egress', ethertype: 'IPv4' }, { adoptExisting: true });
    expect(egress.id).to.equal(web.security_group_rules.find((r) => r.ethertype === 'IPv4')!.id);
    // A protocol given as a number comes back as given (a string).
    const bulk = await createSecurityGroupRules(sc, [
      { security_group_id: web.id, direction: 'ingress', protocol: 'tcp', port_range_min: 443, port_range_max: 443, remote_ip_prefix: '0.0.0.0/0' },
      { security_group_id: web.id, direction: 'ingress', protocol: 'icmp', port_range_min: 8, port_range_max: 0, ethertype: 'IPv4' },
      { security_group_id: web.id, direction: 'ingress', protocol: 112, ethertype: 'IPv4' },
    ]);
    expect(bulk.map((r) => r.protocol)).to.deep.equal(['tcp', 'icmp', '112']);
    const bulkDup = await failure(createSecurityGroupRules(sc, [{ security_group_id: web.id, direction: 'ingress', protocol: 'tcp', port_range_min: 443, port_range_max: 443, remote_ip_prefix: '0.0.0.0/0' }]));
    expect(bulkDup).to.be.instanceOf(ConflictError);

    const rules = await collect(listSecurityGroupRules(sc, { security_group_id: web.id, direction: 'ingress' }));
    expect(rules.map((r) => r.id).sort()).to.deep.equal([ssh.id, ...bulk.map((r) => r.id)].sort());
    expect((await collect(listSecurityGroupRules(sc, { remote_group_id: web.id }))).map((r) => r.id)).to.deep.equal([fromWeb.id]);
    expect((await collect(listSecurityGroups(sc, { tags: [RUN_TAG], name: [web.name, db.name] }))).map((g) => g.id).sort()).to.deep.equal([web.id, db.id].sort());
    const renamed = await updateSecurityGroup(sc, web.id, { description: 'web tier, renamed' });
    expect(renamed.description).to.equal('web tier, renamed');
    expect((await getSecurityGroup(sc, web.id)).security_group_rules).to.have.length(2 + 1 + 3);

    // A group used by a port cannot go.
    const net = await makeNetwork(sc, cleanup(), 'sg-net');
    await makeSubnet(sc, cleanup(), net.id, '10.231.13.0/24');
    const port = await createPort(sc, { network_id: net.id, name: uniqueName('sg-port'), security_groups: [web.id], tags: [RUN_TAG] });
    cleanup().add(`port ${port.id}`, () => deletePort(sc, port.id));
    const inUse = await failure(deleteSecurityGroup(sc, web.id));
    expect(inUse).to.be.instanceOf(ConflictError);
    expect(inUse.type).to.equal('SecurityGroupInUse');
    expect(await deletePort(sc, port.id)).to.equal(true);

    expect(await deleteSecurityGroupRule(sc, ssh.id)).to.equal(true);
    expect(await deleteSecurityGroupRule(sc, ssh.id)).to.equal(false);
    // Deleting web takes db's remote-group rule that points at it along (FK cascade).
    expect(await deleteSecurityGroup(sc, web.id)).to.equal(true);
    expect((await collect(listSecurityGroupRules(sc, { security_group_id: db.id, direction: 'ingress' }))).map((r) => r.id)).to.deep.equal([]);
    expect(await deleteSecurityGroup(sc, db.id)).to.equal(true);
    expect(await deleteSecurityGroup(sc, web.id)).to.equal(false);
  });

  it('routers with an external gateway on a flat provider network; interfaces added and removed twice; floating IPs', async () => {
    // The external network: flat on a physical network of its own (ml2: flat_networks = *).
    const physnet = `${RUN_TAG}-ext`;
    const ext = await makeNetwork(sc, cleanup(), 'ext', [], { 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': physnet });
    expect(ext['router:external']).to.equal(true);
    expect(ext['provider:network_type']).to.equal('flat');
    expect(ext['provider:physical_network']).to.equal(physnet);
    expect(ext['provider:segmentation_id']).to.equal(null);
    const extSubnet = await makeSubnet(sc, cleanup(), ext.id, '203.0.113.0/24', { enable_dhcp: false, gateway_ip: '203.0.113.1', allocation_pools: [{ start: '203.0.113.10', end: '203.0.113.99' }] });
    expect((await collect(listNetworks(sc, { 'router:external': true, tags: [RUN_TAG] }))).map((n) => n.id)).to.include(ext.id);

    const router = await createRouter(sc, { name: uniqueName('router'), external_gateway_info: { network_id: ext.id, enable_snat: true } });
    cleanup().add(`router ${router.id}`, () => deleteRouter(sc, router.id));
    await replaceTags(sc, 'routers', router.id, [RUN_TAG]);
    captureFixture('network-router-create', { service: 'network', call: 'POST routers', status: 201, body: { router } });
    expect(router.external_gateway_info?.network_id).to.equal(ext.id);
    expect(router.external_gateway_info?.enable_snat).to.equal(true);
    expect(router.external_gateway_info?.external_fixed_ips).to.have.length(1);
    expect(router.external_gateway_info?.external_fixed_ips[0]?.subnet_id).to.equal(extSubnet.id);
    expect(router.status).to.equal('ACTIVE');
    expect((await waitForRouter(sc, router.id)).id).to.equal(router.id);
    expect((await collect(listRouters(sc, { tags: [RUN_TAG], name: router.name }))).map((r) => r.id)).to.deep.equal([router.id]);

    // Gateway with a chosen address, then without SNAT.
    const fixedGw = await setRouterGateway(sc, router.id, { network_id: ext.id, external_fixed_ips: [{ subnet_id: extSubnet.id, ip_address: '203.0.113.50' }] });
    expect(fixedGw.external_gateway_info?.external_fixed_ips).to.deep.equal([{ subnet_id: extSubnet.id, ip_address: '203.0.113.50' }]);
    const noSnat = await updateRouter(sc, router.id, { external_gateway_info: { network_id: ext.id, enable_snat: false } });
    expect(noSnat.external_gateway_info?.enable_snat).to.equal(false);

    // An inner network plugged by subnet, twice: the second add adopts the first port.
    const inner = await makeNetwork(sc, cleanup(), 'inner');
    const innerSubnet = await makeSubnet(sc, cleanup(), inner.id, '10.231.14.0/24');
    const first = await addRouterInterface(sc, router.id, { subnet_id: innerSubnet.id });
    cleanup().add(`router ${router.id} interface on ${innerSubnet.id}`, () => removeRouterInterface(sc, router.id, { subnet_id: innerSubnet.id }));
    captureFixture('network-router-add-interface', { service: 'network', call: 'PUT routers/{id}/add_router_interface', status: 200, body: first });
    expect(first.id).to.equal(router.id);
    expect(first.subnet_id).to.equal(innerSubnet.id);
    expect(first.subnet_ids).to.deep.equal([innerSubnet.id]);
    expect(first.network_id).to.equal(inner.id);
    const ifPort = await getPort(sc, first.port_id);
    expect(ifPort.device_owner).to.equal('network:router_interface');
    expect(ifPort.fixed_ips).to.deep.equal([{ subnet_id: innerSubnet.id, ip_address: '10.231.14.1' }]);
    const again = await addRouterInterface(sc, router.id, { subnet_id: innerSubnet.id });
    expect(again.port_id, 'the repeat adopts the existing interface').to.equal(first.port_id);
    const strict = await failure(addRouterInterface(sc, router.id, { subnet_id: innerSubnet.id }, { adoptExisting: false }));
    expect(strict.status).to.equal(400);
    expect(strict.detail).to.match(/already has a port on subnet/);
    expect((await findRouterInterface(sc, router.id, innerSubnet.id))?.port_id).to.equal(first.port_id);
    expect(await findRouterInterface(sc, router.id, extSubnet.id), 'the gateway port is not an interface').to.equal(undefined);

    // A second inner network plugged by port, twice.
    const inner2 = await makeNetwork(sc, cleanup(), 'inner2');
    const inner2Subnet = await makeSubnet(sc, cleanup(), inner2.id, '10.231.15.0/24');
    const rport = await createPort(sc, { network_id: inner2.id, name: uniqueName('rport'), fixed_ips: [{ subnet_id: inner2Subnet.id, ip_address: '10.231.15.254' }], tags: [RUN_TAG] });
    cleanup().add(`port ${rport.id}`, () => deletePort(sc, rport.id));
    const byPort = await addRouterInterface(sc, router.id, { port_id: rport.id });
    cleanup().add(`router ${router.id} interface port ${rport.id}`, () => removeRouterInterface(sc, router.id, { port_id: rport.id }));
    expect(byPort.port_id).to.equal(rport.id);
    expect(byPort.subnet_id).to.equal(inner2Subnet.id);
    const byPortAgain = await addRouterInterface(sc, router.id, { port_id: rport.id });
    expect(byPortAgain.port_id).to.equal(rport.id);
    expect((await getPort(sc, rport.id)).device_id).to.equal(router.id);

    // A router with interfaces cannot be deleted.
    const busy = await failure(deleteRouter(sc, router.id));
    expect(busy).to.be.instanceOf(ConflictError);
    expect(busy.type).to.equal('RouterInUse');

    // Floating IP on the inner port: create, associate (twice), disassociate, delete (twice).
    const vmPort = await createPort(sc, { network_id: inner.id, name: uniqueName('vm-port'), fixed_ips: [{ subnet_id: innerSubnet.id, ip_address: '10.231.14.20' }], tags: [RUN_TAG] });
    cleanup().add(`port ${vmPort.id}`, () => deletePort(sc, vmPort.id));
    const fip = await createFloatingIp(sc, { floating_network_id: ext.id, description: `ferry lab ${RUN_TAG}` });
    cleanup().add(`floating IP ${fip.id}`, () => deleteFloatingIp(sc, fip.id));
    await replaceTags(sc, 'floatingips', fip.id, [RUN_TAG]);
    captureFixture('network-floatingip-create', { service: 'network', call: 'POST floatingips', status: 201, body: { floatingip: fip } });
    expect(fip.floating_network_id).to.equal(ext.id);
    expect(fip.port_id).to.equal(null);
    expect(fip.router_id).to.equal(null);
    expect(fip.floating_ip_address).to.match(/^203\.0\.113\.\d+$/);
    // No L3 agent in the lab: the status stays DOWN (a real cloud's agent would set ACTIVE).
    expect(fip.status).to.equal('DOWN');

    const assoc = await associateFloatingIp(sc, fip.id, vmPort.id);
    expect(assoc.port_id).to.equal(vmPort.id);
    expect(assoc.fixed_ip_address).to.equal('10.231.14.20');
    expect(assoc.router_id).to.equal(router.id);
    const assocAgain = await associateFloatingIp(sc, fip.id, vmPort.id, '10.231.14.20');
    expect(assocAgain.port_id).to.equal(vmPort.id);
    const shown = await getFloatingIp(sc, fip.id);
    expect(shown.port_details?.network_id).to.equal(inner.id);
    expect(shown.port_details?.mac_address).to.equal(vmPort.mac_address);
    expect(shown.tags).to.deep.equal([RUN_TAG]);
    expect((await waitForFloatingIp(sc, fip.id, ['DOWN', 'ACTIVE'])).port_id).to.equal(vmPort.id);
    expect((await collect(listFloatingIps(sc, { port_id: vmPort.id }))).map((f) => f.id)).to.deep.equal([fip.id]);
    expect((await collect(listFloatingIps(sc, { tags: [RUN_TAG], floating_network_id: ext.id }))).map((f) => f.id)).to.deep.equal([fip.id]);

    // A second floating IP on the same port and address: 409.
    const fip2 = await createFloatingIp(sc, { floating_network_id: ext.id, floating_ip_address: '203.0.113.150' });
    cleanup().add(`floating IP ${fip2.id}`, () => deleteFloatingIp(sc, fip2.id));
    expect(fip2.floating_ip_address, 'a chosen address, outside the allocation pool (admin)').to.equal('203.0.113.150');
    const clash = await failure(associateFloatingIp(sc, fip2.id, vmPort.id));
    expect(clash).to.be.instanceOf(ConflictError);
    expect(clash.type).to.equal('FloatingIPPortAlreadyAssociated');

    // The interface carries a floating IP: it cannot be unplugged yet.
    const fipInUse = await failure(removeRouterInterface(sc, router.id, { subnet_id: innerSubnet.id }));
    expect(fipInUse).to.be.instanceOf(ConflictError);
    expect(fipInUse.type).to.equal('RouterInterfaceInUseByFloatingIP');

    const described = await updateFloatingIp(sc, fip.id, { description: 'moved' });
    expect(described.description).to.equal('moved');
    expect(described.port_id, 'PUT without port_id keeps the association').to.equal(vmPort.id);
    const freed = await disassociateFloatingIp(sc, fip.id);
    expect(freed.port_id).to.equal(null);
    expect(freed.fixed_ip_address).to.equal(null);
    expect(freed.router_id).to.equal(null);
    expect(await deleteFloatingIp(sc, fip.id)).to.equal(true);
    await waitForFloatingIpDeleted(sc, fip.id, { timeoutMs: 30_000 });
    expect(await deleteFloatingIp(sc, fip.id)).to.equal(false);
    expect(await deleteFloatingIp(sc, fip2.id)).to.equal(true);

    // Interfaces removed, twice each: the second is a no-op (404 RouterInterfaceNotFound[ForSubnet]).
    expect(await removeRouterInterface(sc, router.id, { subnet_id: innerSubnet.id })).to.equal(true);
    expect(await removeRouterInterface(sc, router.id, { subnet_id: innerSubnet.id })).to.equal(false);
    const strictRemove = await failure(removeRouterInterface(sc, router.id, { subnet_id: innerSubnet.id }, { ignoreMissing: false }));
    expect(strictRemove.type).to.equal('RouterInterfaceNotFoundForSubnet');
    expect(await removeRouterInterface(sc, router.id, { port_id: rport.id })).to.equal(true);
    expect(await removeRouterInterface(sc, router.id, { port_id: rport.id })).to.equal(false);
    expect(await failure(getPort(sc, rport.id)), 'removing by port deletes the port too').to.be.instanceOf(NotFoundError);
    expect(await failure(getPort(sc, first.port_id)), 'the interface port made by Neutron is gone').to.be.instanceOf(NotFoundError);

    const cleared = await clearRouterGateway(sc, router.id);
    expect(cleared.external_gateway_info).to.equal(null);
    expect((await getRouter(sc, router.id)).external_gateway_info).to.equal(null);
    expect(await deleteRouter(sc, router.id)).to.equal(true);
    expect(await deleteRouter(sc, router.id)).to.equal(false);
  });

  it('tags: add (twice), has, list, replace, remove (twice), remove all, on a network and a port', async () => {
    const net = await makeNetwork(sc, cleanup(), 'tags');
    const t1 = uniqueName('t');
    const t2 = 'ferry:plan=web';
    await addTag(sc, 'networks', net.id, t1);
    await addTag(sc, 'networks', net.id, t1);
    await addTag(sc, 'networks', net.id, t2);
    expect((await listTags(sc, 'networks', net.id)).sort()).to.deep.equal([RUN_TAG, t1, t2].sort());
    expect(await hasTag(sc, 'networks', net.id, t2)).to.equal(true);
    expect(await hasTag(sc, 'networks', net.id, 'not-there')).to.equal(false);
    expect((await collect(listNetworks(sc, { tags: [t1, t2] }))).map((n) => n.id)).to.deep.equal([net.id]);

    const replaced = await replaceTags(sc, 'networks', net.id, [RUN_TAG, 'b', 'a']);
    expect(replaced.sort()).to.deep.equal([RUN_TAG, 'a', 'b'].sort());
    expect((await getNetwork(sc, net.id)).tags.sort()).to.deep.equal([RUN_TAG, 'a', 'b'].sort());
    expect(await removeTag(sc, 'networks', net.id, 'a')).to.equal(true);
    expect(await removeTag(sc, 'networks', net.id, 'a')).to.equal(false);
    const strict = await failure(removeTag(sc, 'networks', net.id, 'a', { ignoreMissing: false }));
    expect(strict).to.be.instanceOf(NotFoundError);
    expect(strict.type).to.equal('TagNotFound');
    await removeAllTags(sc, 'networks', net.id);
    expect(await listTags(sc, 'networks', net.id)).to.deep.equal([]);
    await addTag(sc, 'networks', net.id, RUN_TAG);

    const subnet = await makeSubnet(sc, cleanup(), net.id, '10.231.16.0/24');
    const port = await createPort(sc, { network_id: net.id, name: uniqueName('tag-port'), fixed_ips: [{ subnet_id: subnet.id }], tags: [RUN_TAG, 'x'] });
    cleanup().add(`port ${port.id}`, () => deletePort(sc, port.id));
    await addTag(sc, 'ports', port.id, 'y');
    expect((await listTags(sc, 'ports', port.id)).sort()).to.deep.equal([RUN_TAG, 'x', 'y'].sort());
    const missing = await failure(listTags(sc, 'ports', '00000000-0000-4000-8000-000000000000'));
    expect(missing).to.be.instanceOf(NotFoundError);
    expect(missing.type, 'the tag API names the resource generically').to.equal('TagResourceNotFound');
    const missingHas = await failure(hasTag(sc, 'ports', '00000000-0000-4000-8000-000000000000', 'x'));
    expect(missingHas.type, 'hasTag: a missing resource is an error, not false').to.equal('TagResourceNotFound');
    const long = await failure(addTag(sc, 'ports', port.id, 'x'.repeat(300)));
    expect(long.status).to.equal(400);
  });
});
