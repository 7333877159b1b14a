import { expect } from 'chai';
import nock from 'nock';
import { FerryError, NotSupportedError, ServerError } from '../../../lib/errors.js';
import { chunks, compareDevices, discover, matchSelectors, powerStateName, selectorsFromPlan } from '../../../lib/inventory/discover.js';
import type { Inventory, Member } from '../../../lib/inventory/model.js';
import {
  benchDiscovery,
  cinderVolume,
  cinderVolumeType,
  glanceImage,
  neutronNetwork,
  neutronPort,
  neutronSecurityGroup,
  neutronSubnet,
  novaKeypair,
  novaServer,
  novaServerGroup,
  serveWorkload,
  sgRule,
  VOLUME_TYPE_CEPH,
  type Workload,
} from '../../bench/discovery.js';
import { CINDER, GLANCE, NEUTRON, NOVA, PROJECT_ID, expectAllCalled, mockAuth, mockCinderVersion, mockNovaVersion, testSite, useNock } from '../../support/fake-cloud.js';

// Fixture shapes: the builders in spec/bench/discovery.ts, which follow the Zed services'
// views at compute 2.79 / block-storage 3.64 for an admin caller (nova views/servers.py show(),
// cinder v2+v3 views/volumes.py detail(), neutron _make_port_dict / _make_network_dict /
// _make_subnet_dict / _make_security_group_dict, glance ResponseSerializer._format_image).

const WEB = '6a1c1f4e-2b5d-4e8a-9c3f-0d1e2f3a4b01';
const DB = '6a1c1f4e-2b5d-4e8a-9c3f-0d1e2f3a4b02';
const OUTSIDER = '6a1c1f4e-2b5d-4e8a-9c3f-0d1e2f3a4b09';
const IMG_WEB = 'c0ffee00-1111-4222-8333-444455556601';
const IMG_DB_SRC = 'c0ffee00-1111-4222-8333-444455556602';
const NET_FRONT = '0e1d2c3b-4a59-4687-8796-a5b4c3d2e101';
const NET_BACK = '0e1d2c3b-4a59-4687-8796-a5b4c3d2e102';
const SUB_FRONT = '5b0b0b0b-0000-4000-8000-00000000f001';
const SUB_BACK = '5b0b0b0b-0000-4000-8000-00000000b001';
const SG_WEB = '5ec90000-0000-4000-8000-0000000000a1';
const SG_DB = '5ec90000-0000-4000-8000-0000000000a2';
const SG_BASTION = '5ec90000-0000-4000-8000-0000000000a3';
const PORT_WEB = '90470000-0000-4000-8000-000000000001';
const PORT_DB = '90470000-0000-4000-8000-000000000002';
const VOL_ROOT = '70100000-0000-4000-8000-000000000001';
const VOL_DATA = '70100000-0000-4000-8000-000000000002';
const VOL_SPARE = '70100000-0000-4000-8000-000000000003';
const TYPE_SSD = '7e7e0000-0000-4000-8000-000000000002';
const GROUP = '96960000-0000-4000-8000-000000000001';
const MAC_WEB = 'fa:16:3e:00:0a:01';
const MAC_DB = 'fa:16:3e:00:0b:01';
const SHOP = 'app=shop';
const base = '/v2.1';
const cbase = `/v3/${PROJECT_ID}`;

/**
 * A two-tier workload: `web` boots from an image, one port with a fixed IP on `frontend`;
 * `db` boots from a volume (root at /dev/vda, a data volume at /dev/vdb) with one port on
 * `backend`; the db group admits 5432 from the web group (a remote-group rule); both use one
 * keypair and sit in one anti-affinity group (with a server the plan does not protect).
 */
function twoTier(): Workload {
  return {
    servers: [
      novaServer({
        id: WEB,
        name: 'web',
        image: IMG_WEB,
        flavor: { vcpus: 2, ram: 2048, disk: 20, ephemeral: 0, swap: 0, original_name: 'm1.small', extra_specs: { 'hw:cpu_policy': 'shared' } },
        keyName: 'ops-key',
        tags: [SHOP, 'tier=web'],
        metadata: { tier: 'web', owner: 'shop' },
        addresses: { frontend: [{ addr: '192.168.10.10', mac: MAC_WEB }] },
        az: 'az1',
        description: 'shop front end',
      }),
      novaServer({
        id: DB,
        name: 'db',
        flavor: { vcpus: 4, ram: 8192, disk: 0, ephemeral: 0, swap: 512, original_name: 'm1.large', extra_specs: {} },
        keyName: 'ops-key',
        tags: [SHOP, 'tier=db'],
        metadata: { tier: 'db' },
        addresses: { backend: [{ addr: '10.20.0.10', mac: MAC_DB }] },
        // Nova lists block device mappings in creation order; the data volume came first here.
        volumes: [{ id: VOL_DATA }, { id: VOL_ROOT, deleteOnTermination: true }],
        rootDeviceName: '/dev/vda',
        status: 'SHUTOFF',
        az: 'az1',
        locked: true,
      }),
      novaServer({ id: OUTSIDER, name: 'batch', image: IMG_WEB, tags: ['app=batch'], metadata: { tier: 'batch' } }),
    ],
    ports: [
      neutronPort({ id: PORT_WEB, name: 'web-port', networkId: NET_FRONT, deviceId: WEB, mac: MAC_WEB, fixedIps: [{ subnet_id: SUB_FRONT, ip_address: '192.168.10.10' }], securityGroups: [SG_WEB], allowedAddressPairs: [{ ip_address: '192.168.10.100', mac_address: MAC_WEB }] }),
      neutronPort({ id: PORT_DB, networkId: NET_BACK, deviceId: DB, mac: MAC_DB, fixedIps: [{ subnet_id: SUB_BACK, ip_address: '10.20.0.10' }], securityGroups: [SG_DB] }),
      neutronPort({ id: '90470000-0000-4000-8000-000000000009', networkId: NET_FRONT, deviceId: OUTSIDER, mac: 'fa:16:3e:00:0c:01', fixedIps: [{ subnet_id: SUB_FRONT, ip_address: '192.168.10.99' }], securityGroups: [SG_WEB] }),
    ],
    volumes: [
      cinderVolume({ id: VOL_DATA, name: 'db-data', size: 100, type: 'ssd', typeId: TYPE_SSD, serverId: DB, device: '/dev/vdb', metadata: { purpose: 'pgdata' } }),
      cinderVolume({
        id: VOL_ROOT,
        name: 'db-root',
        size: 20,
        bootable: true,
        serverId: DB,
        device: '/dev/vda',
        imageMetadata: { image_id: IMG_DB_SRC, image_name: 'debian-12', hw_disk_bus: 'virtio', checksum: 'aa'.repeat(16) },
      }),
      cinderVolume({ id: VOL_SPARE, name: 'spare' }),
    ],
    networks: [neutronNetwork(NET_FRONT, 'frontend', [SUB_FRONT]), neutronNetwork(NET_BACK, 'backend', [SUB_BACK], { mtu: 1450 })],
    subnets: [
      neutronSubnet(SUB_FRONT, NET_FRONT, '192.168.10.0/24', { dns_nameservers: ['192.0.2.53'], host_routes: [{ destination: '172.16.0.0/16', nexthop: '192.168.10.254' }] }),
      neutronSubnet(SUB_BACK, NET_BACK, '10.20.0.0/24', { enable_dhcp: false, gateway_ip: null }),
    ],
    securityGroups: [
      neutronSecurityGroup(SG_WEB, 'web', [
        sgRule('7a000000-0000-4000-8000-000000000001', SG_WEB, { direction: 'egress', ethertype: 'IPv4' }),
        sgRule('7a000000-0000-4000-8000-000000000002', SG_WEB, { protocol: 'tcp', port_range_min: 443, port_range_max: 443, remote_ip_prefix: '0.0.0.0/0', normalized_cidr: '0.0.0.0/0' }),
      ]),
      neutronSecurityGroup(SG_DB, 'db', [sgRule('7a000000-0000-4000-8000-000000000003', SG_DB, { protocol: 'tcp', port_range_min: 5432, port_range_max: 5432, remote_group_id: SG_WEB })]),
    ],
    images: [glanceImage(IMG_WEB, 'ubuntu-22.04')],
    keypairs: [novaKeypair('ops-key'), novaKeypair('someone-elses')],
    serverGroups: [novaServerGroup(GROUP, 'shop-anti', 'anti-affinity', [WEB, DB, OUTSIDER], { max_server_per_host: 1 })],
    volumeTypes: [cinderVolumeType(VOLUME_TYPE_CEPH, 'ceph'), cinderVolumeType(TYPE_SSD, 'ssd', { volume_backend_name: 'ssd' })],
  };
}

const NOW = () => new Date('2026-11-27T04:00:00.000Z');

function member(inv: Inventory, name: string): Member {
  const m = inv.members.find((x) => x.server.name === name);
  if (!m) throw new Error(`no member ${name} in ${inv.members.map((x) => x.server.name).join(', ')}`);
  return m;
}

function codes(inv: Inventory): string[] {
  return inv.warnings.map((w) => `${w.code}:${w.resourceId ?? ''}`);
}

describe('inventory/discover', () => {
  useNock();

  describe('a two-tier workload', () => {
    /** Every call discovery makes for the two-tier plan selected by tag, with its exact request shape. */
    function mockTwoTierCalls(w: Workload) {
      const [web, db] = w.servers;
      mockAuth();
      mockNovaVersion();
      mockCinderVersion();
      nock(NOVA)
        .get(`${base}/servers/detail`)
        .query({ 'tags-any': SHOP })
        .matchHeader('OpenStack-API-Version', 'compute 2.79')
        .reply(200, { servers: [web, db] })
        .get(`${base}/os-keypairs`)
        .reply(200, { keypairs: w.keypairs.map((k) => ({ keypair: k })) })
        .get(`${base}/os-server-groups`)
        .query({ limit: 100, offset: 0 })
        .reply(200, { server_groups: w.serverGroups });
      nock(CINDER)
        .get(`${cbase}/volumes/detail`)
        .matchHeader('OpenStack-API-Version', 'volume 3.64')
        .reply(200, { volumes: w.volumes })
        .get(`${cbase}/types`)
        .reply(200, { volume_types: w.volumeTypes });
      nock(NEUTRON)
        // One request for both servers' ports: repeated device_id parameters.
        .get('/v2.0/ports')
        .query((q) => JSON.stringify(q) === JSON.stringify({ device_id: [WEB, DB] }))
        .reply(200, { ports: w.ports.slice(0, 2) })
        .get('/v2.0/networks')
        .query((q) => JSON.stringify(q) === JSON.stringify({ id: [NET_FRONT, NET_BACK].sort() }))
        .reply(200, { networks: w.networks })
        .get('/v2.0/subnets')
        .query((q) => JSON.stringify(q) === JSON.stringify({ network_id: [NET_FRONT, NET_BACK].sort() }))
        .reply(200, { subnets: w.subnets })
        .get('/v2.0/security-groups')
        .query((q) => JSON.stringify(q) === JSON.stringify({ id: [SG_WEB, SG_DB].sort() }))
        .reply(200, { security_groups: w.securityGroups });
      nock(GLANCE)
        .get('/v2/images')
        .query({ id: `in:${IMG_WEB}`, visibility: 'all', member_status: 'all', limit: 2 })
        .reply(200, { images: w.images, first: '/v2/images', schema: '/v2/schemas/images' });
    }

    it('reads each service once with list calls and server-side filters, and builds the model', async () => {
      const w = twoTier();
      mockTwoTierCalls(w);
      const { site } = testSite();
      const inv = await discover(site, { tags: [SHOP] }, { now: NOW });
      expectAllCalled();

      expect(inv).to.include({ schemaVersion: 1, site: 'site-a', projectId: PROJECT_ID, discoveredAt: '2026-11-27T04:00:00.000Z' });
      expect(inv.members.map((m) => m.server.name)).to.deep.equal(['db', 'web']);
      expect(inv.warnings).to.deep.equal([]);

      const web = member(inv, 'web');
      expect(web.selectedBy).to.deep.equal(['tag']);
      expect(web.server).to.deep.equal({
        id: WEB,
        name: 'web',
        status: 'ACTIVE',
        powerState: 'running',
        flavor: { key: 'm1.small', name: 'm1.small', vcpus: 2, ram: 2048, disk: 20, ephemeral: 0, swap: 0, extraSpecs: { 'hw:cpu_policy': 'shared' } },
        image: { id: IMG_WEB, name: 'ubuntu-22.04', checksum: '0b1a2c3d4e5f60718293a4b5c6d7e8f9', hashAlgo: 'sha512', hashValue: 'f'.repeat(128) },
        bootFromVolume: false,
        keyName: 'ops-key',
        keypair: { name: 'ops-key', publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFerryTestKeyOnly ferry@test', type: 'ssh' },
        availabilityZone: 'az1',
        metadata: { owner: 'shop', tier: 'web' },
        tags: [SHOP, 'tier=web'],
        description: 'shop front end',
        serverGroups: [{ id: GROUP, name: 'shop-anti', policy: 'anti-affinity', rules: { maxServerPerHost: 1 } }],
        locked: false,
        configDrive: false,
        diskConfig: 'MANUAL',
        rootDeviceName: '/dev/vda',
        userId: 'u-ferry',
        projectId: PROJECT_ID,
        createdAt: '2026-11-27T03:00:00Z',
      });
      expect(web.ports).to.deep.equal([
        {
          id: PORT_WEB,
          name: 'web-port',
          description: '',
          nicIndex: 0,
          networkId: NET_FRONT,
          networkName: 'frontend',
          macAddress: MAC_WEB,
          fixedIps: [{ subnetId: SUB_FRONT, subnetCidr: '192.168.10.0/24', ipAddress: '192.168.10.10' }],
          securityGroupIds: [SG_WEB],
          allowedAddressPairs: [{ ipAddress: '192.168.10.100', macAddress: MAC_WEB }],
          portSecurityEnabled: true,
          adminStateUp: true,
          vnicType: 'normal',
          tags: [],
        },
      ]);
      expect(web.volumes).to.deep.equal([]);

      const db = member(inv, 'db');
      expect(db.server).to.include({ status: 'SHUTOFF', powerState: 'shutdown', bootFromVolume: true, locked: true });
      expect(db.server.image).to.equal(undefined);
      expect(db.server.flavor).to.deep.equal({ key: 'm1.large', name: 'm1.large', vcpus: 4, ram: 8192, disk: 0, ephemeral: 0, swap: 512, extraSpecs: {} });
      expect(db.ports.map((p) => [p.id, p.networkName, p.fixedIps[0]])).to.deep.equal([[PORT_DB, 'backend', { subnetId: SUB_BACK, subnetCidr: '10.20.0.0/24', ipAddress: '10.20.0.10' }]]);
      expect(db.volumes).to.deep.equal([
        {
          id: VOL_ROOT,
          name: 'db-root',
          size: 20,
          bootable: true,
          attachmentOrder: 0,
          availabilityZone: 'nova',
          metadata: {},
          multiattach: false,
          encrypted: false,
          status: 'in-use',
          device: '/dev/vda',
          bootIndex: 0,
          volumeType: 'ceph',
          volumeTypeId: VOLUME_TYPE_CEPH,
          deleteOnTermination: true,
          imageMetadata: { checksum: 'aa'.repeat(16), hw_disk_bus: 'virtio', image_id: IMG_DB_SRC, image_name: 'debian-12' },
          replicationStatus: 'disabled',
        },
        {
          id: VOL_DATA,
          name: 'db-data',
          size: 100,
          bootable: false,
          attachmentOrder: 1,
          availabilityZone: 'nova',
          metadata: { purpose: 'pgdata' },
          multiattach: false,
          encrypted: false,
          status: 'in-use',
          device: '/dev/vdb',
          volumeType: 'ssd',
          volumeTypeId: TYPE_SSD,
          deleteOnTermination: false,
          replicationStatus: 'disabled',
        },
      ]);

      // Shared objects, once each, keyed by ID.
      expect(Object.keys(inv.networks)).to.deep.equal([NET_FRONT, NET_BACK].sort());
      expect(inv.networks[NET_BACK]).to.include({ name: 'backend', mtu: 1450, external: false, shared: false, providerNetworkType: 'geneve' });
      expect(inv.subnets[SUB_FRONT]).to.deep.equal({
        id: SUB_FRONT,
        name: '192.168.10.0/24-subnet',
        description: '',
        networkId: NET_FRONT,
        ipVersion: 4,
        cidr: '192.168.10.0/24',
        gatewayIp: '192.168.10.1',
        enableDhcp: true,
        allocationPools: [{ start: '192.168.10.2', end: '192.168.10.254' }],
        dnsNameservers: ['192.0.2.53'],
        hostRoutes: [{ destination: '172.16.0.0/16', nexthop: '192.168.10.254' }],
        projectId: PROJECT_ID,
        tags: [],
      });
      expect(inv.subnets[SUB_BACK]).to.include({ gatewayIp: null, enableDhcp: false });
      expect(inv.securityGroups[SG_DB]!.rules).to.deep.equal([
        { id: '7a000000-0000-4000-8000-000000000003', direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 5432, portRangeMax: 5432, remoteGroupId: SG_WEB, description: '' },
      ]);
      expect(inv.securityGroups[SG_DB]).to.include({ name: 'db', stateful: true, remoteOnly: false });
      expect(inv.securityGroups[SG_WEB]!.rules.map((r) => r.direction)).to.deep.equal(['egress', 'ingress']);
      expect(Object.keys(inv.flavors)).to.deep.equal(['m1.large', 'm1.small']);
      expect(Object.keys(inv.images)).to.deep.equal([IMG_WEB]);
      expect(inv.images[IMG_WEB]).to.include({ name: 'ubuntu-22.04', diskFormat: 'qcow2', size: 21430272, hashAlgo: 'sha512' });
      expect(inv.images[IMG_WEB]!.properties).to.deep.equal({ hw_disk_bus: 'virtio', os_distro: 'debian' });
      expect(Object.keys(inv.volumeTypes)).to.deep.equal([VOLUME_TYPE_CEPH, TYPE_SSD].sort());
      expect(inv.volumeTypes[TYPE_SSD]).to.deep.equal({ id: TYPE_SSD, name: 'ssd', isPublic: true, extraSpecs: { volume_backend_name: 'ssd' } });
      // Only the keypair members use, not every keypair of the user.
      expect(Object.keys(inv.keypairs)).to.deep.equal(['ops-key']);
      expect(inv.serverGroups[GROUP]).to.deep.equal({ id: GROUP, name: 'shop-anti', policy: 'anti-affinity', rules: { maxServerPerHost: 1 }, memberIds: [WEB, DB].sort(), otherServerIds: [OUTSIDER] });
    });

    it('is deterministic: the same workload gives the same JSON', async () => {
      const runOnce = async () => {
        serveWorkload(twoTier());
        const inv = await discover(testSite().site, { tags: [SHOP] }, { now: NOW });
        nock.cleanAll();
        return JSON.stringify(inv);
      };
      expect(await runOnce()).to.equal(await runOnce());
    });
  });

  describe('selectors', () => {
    it('serverIds: lists the project once and matches IDs client-side (Nova has no multi-UUID filter)', async () => {
      const log = serveWorkload(twoTier());
      const inv = await discover(testSite().site, { serverIds: [DB, 'ffffffff-0000-4000-8000-000000000000'] });
      expect(inv.members.map((m) => [m.server.id, m.selectedBy])).to.deep.equal([[DB, ['id']]]);
      expect(log.requests).to.include(`GET ${base}/servers/detail`);
      expect(log.requests.filter((r) => r.startsWith('GET /v2.0/ports'))).to.deep.equal([`GET /v2.0/ports?device_id=${DB}`]);
      expect(codes(inv)).to.deep.equal(['member-not-found:ffffffff-0000-4000-8000-000000000000']);
    });

    it('serverNames: exact names client-side (Nova name is a regex); a missing name and a shared name are warnings', async () => {
      const w = twoTier();
      w.servers.push(novaServer({ id: '6a1c1f4e-2b5d-4e8a-9c3f-0d1e2f3a4b03', name: 'web', image: IMG_WEB }));
      const log = serveWorkload(w);
      const inv = await discover(testSite().site, { serverNames: ['web', 'we', 'nope'] });
      expect(inv.members.map((m) => m.server.id)).to.deep.equal([WEB, '6a1c1f4e-2b5d-4e8a-9c3f-0d1e2f3a4b03']);
      expect(inv.members.every((m) => m.selectedBy.join() === 'name')).to.equal(true);
      expect(log.requests.find((r) => r.includes('/servers/detail'))).to.equal(`GET ${base}/servers/detail`);
      expect(codes(inv)).to.deep.equal(['member-name-ambiguous:web', 'member-not-found:nope', 'member-not-found:we']);
    });

    it('excludeTags: a fenced old copy sharing the name and tags of a member is not a member, and says why', async () => {
      const w = twoTier();
      const old = '6a1c1f4e-2b5d-4e8a-9c3f-0d1e2f3a4b04';
      w.servers.push(novaServer({ id: old, name: 'web', image: IMG_WEB, status: 'SHUTOFF', tags: [SHOP, 'ferry:fenced', 'ferry:fenced-epoch=1'] }));
      serveWorkload(w);
      const inv = await discover(testSite().site, { tags: [SHOP] }, { excludeTags: ['ferry:fenced'] });
      expect(inv.members.map((m) => m.server.id).sort()).to.deep.equal([DB, WEB].sort());
      expect(codes(inv)).to.include(`member-excluded:${old}`);
    });

    it('tags with tagMatch all: Nova filters with `tags` (all of them) server-side', async () => {
      const log = serveWorkload(twoTier());
      const inv = await discover(testSite().site, { tags: [SHOP, 'tier=db'], tagMatch: 'all' });
      expect(inv.members.map((m) => m.server.name)).to.deep.equal(['db']);
      expect(log.requests.find((r) => r.includes('/servers/detail'))).to.equal(`GET ${base}/servers/detail?tags=${SHOP},tier=db`);
    });

    it('metadata: key=value pairs matched client-side from the same pages (Nova refuses a metadata filter)', async () => {
      const log = serveWorkload(twoTier());
      const inv = await discover(testSite().site, { metadata: { tier: 'web', owner: 'shop' } });
      expect(inv.members.map((m) => [m.server.name, m.selectedBy])).to.deep.equal([['web', ['metadata']]]);
      expect(log.requests.filter((r) => r.includes('/servers/detail'))).to.have.length(1);
      const none = await discover(testSite().site, { metadata: { tier: 'cache' }, serverIds: [WEB] });
      expect(codes(none)).to.deep.equal(['selector-matched-nothing:metadata:tier=cache']);
    });

    it('a list of metadata selectors matches any of them, each entry needing all its pairs', async () => {
      serveWorkload(twoTier());
      const inv = await discover(testSite().site, { metadata: [{ tier: 'db' }, { tier: 'web', owner: 'nobody' }, { tier: 'batch' }] });
      expect(inv.members.map((m) => m.server.name)).to.deep.equal(['batch', 'db']);
      expect(codes(inv)).to.deep.equal(['selector-matched-nothing:metadata:owner=nobody,tier=web']);
    });

    it("selectorsFromPlan turns a plan's members list into selectors (UUID-shaped servers are IDs)", () => {
      expect(selectorsFromPlan([{ server: 'erp-db-1' }, { server: WEB }, { tag: 'erp-app' }, { tag: 'erp-app' }, { metadata: { app: 'erp', role: 'batch' } }, { metadata: { app: 'crm' } }])).to.deep.equal({
        serverNames: ['erp-db-1'],
        serverIds: [WEB],
        tags: ['erp-app'],
        metadata: [{ app: 'erp', role: 'batch' }, { app: 'crm' }],
      });
      expect(selectorsFromPlan([{ tag: 'a' }])).to.deep.equal({ tags: ['a'] });
    });

    it('a union of kinds: a member records every kind that matched', async () => {
      serveWorkload(twoTier());
      const inv = await discover(testSite().site, { serverIds: [WEB], tags: ['tier=web', 'tier=db'], metadata: { tier: 'db' } });
      expect(inv.members.map((m) => [m.server.name, m.selectedBy])).to.deep.equal([
        ['db', ['metadata', 'tag']],
        ['web', ['id', 'tag']],
      ]);
    });

    it('refuses tag selectors below compute 2.26 (servers show no tags), even matched client-side', async () => {
      serveWorkload(twoTier());
      const { site } = testSite({}, { microversions: { compute: '2.20' } });
      let caught: unknown;
      try {
        await discover(site, { serverIds: [WEB], tags: [SHOP] });
      } catch (e) {
        caught = e;
      }
      expect(caught).to.be.instanceOf(NotSupportedError);
      expect(String(caught)).to.match(/selecting servers by tag needs microversion 2\.26/);
    });

    it('refuses an empty selection instead of protecting everything', async () => {
      let caught: unknown;
      try {
        await discover(testSite().site, { serverIds: [], tags: [] });
      } catch (e) {
        caught = e;
      }
      expect(caught).to.be.instanceOf(FerryError);
      expect(String(caught)).to.match(/at least one selector/);
    });

    it('matchSelectors is a pure predicate over one server', () => {
      const s = { id: 'a', name: 'n', tags: ['x', 'y'], metadata: { k: 'v' } };
      expect(matchSelectors(s, { tags: ['y', 'z'] })).to.deep.equal(['tag']);
      expect(matchSelectors(s, { tags: ['y', 'z'], tagMatch: 'all' })).to.deep.equal([]);
      expect(matchSelectors(s, { metadata: { k: 'v', j: 'w' } })).to.deep.equal([]);
      expect(matchSelectors(s, { serverNames: ['n'], serverIds: ['a'], metadata: { k: 'v' } })).to.deep.equal(['id', 'metadata', 'name']);
    });

    it('another project (admin): all_tenants + project_id on Nova and Cinder, all_projects on server groups', async () => {
      const log = serveWorkload(twoTier());
      const other = '0123456789abcdef0123456789abcdef';
      await discover(testSite().site, { tags: [SHOP] }, { projectId: other });
      expect(log.requests).to.include(`GET ${base}/servers/detail?tags-any=${SHOP}&all_tenants=1&project_id=${other}`);
      expect(log.requests).to.include(`GET ${cbase}/volumes/detail?all_tenants=1&project_id=${other}`);
      expect(log.requests).to.include(`GET ${base}/os-server-groups?all_projects=true&limit=100&offset=0`);
    });
  });

  describe('boot from volume', () => {
    it('puts the root volume first with boot_index 0, the others in device order', async () => {
      const w = twoTier();
      const extra = '70100000-0000-4000-8000-00000000000a';
      const extra2 = '70100000-0000-4000-8000-00000000000b';
      // Attached at vdaa and vdc: spreadsheet order puts vdc before vdaa.
      w.volumes.push(cinderVolume({ id: extra, name: 'wal', serverId: DB, device: '/dev/vdaa' }), cinderVolume({ id: extra2, name: 'logs', serverId: DB, device: '/dev/vdc' }));
      serveWorkload(w);
      const inv = await discover(testSite().site, { serverIds: [DB] });
      expect(member(inv, 'db').volumes.map((v) => [v.name, v.device, v.attachmentOrder, v.bootIndex])).to.deep.equal([
        ['db-root', '/dev/vda', 0, 0],
        ['db-data', '/dev/vdb', 1, undefined],
        ['logs', '/dev/vdc', 2, undefined],
        ['wal', '/dev/vdaa', 3, undefined],
      ]);
    });

    it('without root_device_name (non-admin view) takes the first bootable volume in device order', async () => {
      const w = twoTier();
      delete (w.servers[1] as Record<string, unknown>)['OS-EXT-SRV-ATTR:root_device_name'];
      // The root volume sits at vdc here, the data volume (not bootable) at vdb.
      const root = w.volumes.find((v) => v.id === VOL_ROOT) as { attachments: { device: string }[] };
      root.attachments[0]!.device = '/dev/vdc';
      serveWorkload(w);
      const inv = await discover(testSite().site, { serverIds: [DB] });
      const vols = member(inv, 'db').volumes;
      expect(vols.map((v) => [v.id, v.bootIndex, v.attachmentOrder])).to.deep.equal([
        [VOL_ROOT, 0, 0],
        [VOL_DATA, undefined, 1],
      ]);
      expect(member(inv, 'db').server.rootDeviceName).to.equal(undefined);
    });

    it('a server booted from an image gets no boot index on its volumes, even a bootable one', async () => {
      const w = twoTier();
      w.volumes.push(cinderVolume({ id: '70100000-0000-4000-8000-00000000000c', name: 'rescue', bootable: true, serverId: WEB, device: '/dev/vdb' }));
      (w.servers[0] as Record<string, unknown>)['os-extended-volumes:volumes_attached'] = [{ id: '70100000-0000-4000-8000-00000000000c', delete_on_termination: false }];
      serveWorkload(w);
      const inv = await discover(testSite().site, { serverIds: [WEB] });
      expect(member(inv, 'web').volumes.map((v) => [v.name, v.bootable, v.bootIndex, v.attachmentOrder])).to.deep.equal([['rescue', true, undefined, 0]]);
    });

    it('compareDevices orders by bus, then suffix length, then letters; unknown and missing devices last', () => {
      const devs = ['/dev/vdaa', undefined, '/dev/vdb', 'weird', '/dev/vdz', '/dev/sda', '/dev/vda'];
      expect([...devs].sort(compareDevices)).to.deep.equal(['/dev/sda', '/dev/vda', '/dev/vdb', '/dev/vdz', '/dev/vdaa', 'weird', undefined]);
    });
  });

  describe('dangling references become warnings', () => {
    it('deleted image, foreign keypair, missing remote group, volume, subnet and volume type: members still discovered', async () => {
      const w = twoTier();
      const GONE_SG = '5ec90000-0000-4000-8000-0000000000ff';
      const GONE_VOL = '70100000-0000-4000-8000-0000000000ff';
      const GONE_SUBNET = '5b0b0b0b-0000-4000-8000-0000000000ff';
      w.images = []; // image of web deleted
      w.keypairs = []; // keypair deleted
      w.volumeTypes = [cinderVolumeType(VOLUME_TYPE_CEPH, 'ceph')]; // ssd type is private now
      (w.securityGroups[1]!.security_group_rules as object[]).push(sgRule('7a000000-0000-4000-8000-0000000000ff', SG_DB, { remote_group_id: GONE_SG }));
      (w.servers[1] as Record<string, unknown>)['os-extended-volumes:volumes_attached'] = [{ id: VOL_DATA }, { id: VOL_ROOT }, { id: GONE_VOL }];
      (w.ports[1]!.fixed_ips as object[]).push({ subnet_id: GONE_SUBNET, ip_address: '10.99.0.5' });
      const log = serveWorkload(w);
      const inv = await discover(testSite().site, { tags: [SHOP] });
      expect(inv.members).to.have.length(2);
      expect(codes(inv)).to.deep.equal([
        `image-missing:${IMG_WEB}`,
        'keypair-missing:ops-key',
        `security-group-missing:${GONE_SG}`,
        `subnet-missing:${GONE_SUBNET}`,
        `volume-missing:${GONE_VOL}`,
        `volume-type-missing:${TYPE_SSD}`,
      ]);
      const img = inv.warnings.find((x) => x.code === 'image-missing')!;
      expect(img.serverIds).to.deep.equal([WEB]);
      expect(inv.warnings.find((x) => x.code === 'keypair-missing')!.serverIds).to.deep.equal([WEB, DB].sort());
      // The model keeps the references.
      expect(member(inv, 'web').server.image).to.deep.equal({ id: IMG_WEB });
      expect(member(inv, 'web').server.keyName).to.equal('ops-key');
      expect(member(inv, 'web').server.keypair).to.equal(undefined);
      expect(member(inv, 'db').ports[0]!.fixedIps[1]).to.deep.equal({ subnetId: GONE_SUBNET, ipAddress: '10.99.0.5' });
      expect(member(inv, 'db').volumes.map((v) => v.id)).to.deep.equal([VOL_ROOT, VOL_DATA]);
      expect(inv.securityGroups[SG_DB]!.rules.map((r) => r.remoteGroupId).filter(Boolean)).to.deep.equal([GONE_SG, SG_WEB].sort());
      // A missing image is asked for once more among hidden images, then given up.
      expect(log.requests.filter((r) => r.startsWith('GET /v2/images'))).to.deep.equal([
        `GET /v2/images?id=in:${IMG_WEB}&visibility=all&member_status=all&limit=2`,
        `GET /v2/images?id=in:${IMG_WEB}&visibility=all&member_status=all&os_hidden=true&limit=2`,
      ]);
    });

    it('finds a hidden image on the second query and warns about nothing', async () => {
      const w = twoTier();
      w.images = [glanceImage(IMG_WEB, 'ubuntu-22.04', { os_hidden: true })];
      serveWorkload(w);
      const inv = await discover(testSite().site, { serverIds: [WEB] });
      expect(inv.warnings).to.deep.equal([]);
      expect(inv.images[IMG_WEB]).to.include({ hidden: true, name: 'ubuntu-22.04' });
    });

    it('follows remote-group references to groups no member port uses (remoteOnly)', async () => {
      const w = twoTier();
      w.securityGroups.push(neutronSecurityGroup(SG_BASTION, 'bastion', [sgRule('7a000000-0000-4000-8000-0000000000b1', SG_BASTION, { remote_group_id: SG_BASTION })]));
      (w.securityGroups[1]!.security_group_rules as object[]).push(sgRule('7a000000-0000-4000-8000-0000000000b2', SG_DB, { protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: SG_BASTION }));
      const log = serveWorkload(w);
      const inv = await discover(testSite().site, { serverIds: [DB] });
      expect(Object.keys(inv.securityGroups)).to.deep.equal([SG_DB, SG_WEB, SG_BASTION].sort());
      expect(inv.securityGroups[SG_BASTION]).to.include({ remoteOnly: true, name: 'bastion' });
      expect(inv.securityGroups[SG_WEB]).to.include({ remoteOnly: true });
      expect(inv.securityGroups[SG_DB]).to.include({ remoteOnly: false });
      expect(log.requests.filter((r) => r.startsWith('GET /v2.0/security-groups'))).to.deep.equal([
        `GET /v2.0/security-groups?id=${SG_DB}`,
        `GET /v2.0/security-groups?id=${[SG_BASTION, SG_WEB].sort().join('&id=')}`,
      ]);
    });

    it('a 403 on an optional listing (keypairs) is a warning, not a failure', async () => {
      nock(NOVA).get(`${base}/os-keypairs`).reply(403, { forbidden: { code: 403, message: "Policy doesn't allow os_compute_api:os-keypairs:index to be performed." } });
      serveWorkload(twoTier());
      const inv = await discover(testSite().site, { serverIds: [WEB] });
      expect(codes(inv)).to.deep.equal(['keypair-missing:ops-key', 'listing-unavailable:keypairs']);
      expect(inv.members).to.have.length(1);
    });

    it('a failed required listing fails discovery with its own error (not the aborts it caused)', async () => {
      nock(NEUTRON)
        .get('/v2.0/ports')
        .query(true)
        .reply(500, { NeutronError: { type: 'HTTPInternalServerError', message: 'Request Failed: internal server error while processing your request.', detail: '' } });
      serveWorkload(twoTier());
      let caught: unknown;
      try {
        await discover(testSite().site, { tags: [SHOP] });
      } catch (e) {
        caught = e;
      }
      expect(caught).to.be.instanceOf(ServerError);
      expect(String(caught)).to.match(/network: GET .*\/v2\.0\/ports.* returned 500/);
    });

    it('below compute 2.47 reads flavors once by ID; a deleted flavor is a warning', async () => {
      const w = twoTier();
      (w.servers[0] as Record<string, unknown>).flavor = { id: '2', links: [{ rel: 'bookmark', href: `${NOVA}/flavors/2` }] };
      (w.servers[1] as Record<string, unknown>).flavor = { id: '99', links: [{ rel: 'bookmark', href: `${NOVA}/flavors/99` }] };
      w.flavors = [
        { id: '2', name: 'm1.small', ram: 2048, disk: 20, swap: '', 'OS-FLV-EXT-DATA:ephemeral': 0, 'OS-FLV-DISABLED:disabled': false, vcpus: 1, 'os-flavor-access:is_public': true, rxtx_factor: 1.0, links: [] },
      ];
      const log = serveWorkload(w);
      const { site } = testSite({}, { microversions: { compute: '2.40' } });
      const inv = await discover(site, { tags: [SHOP] });
      expect(member(inv, 'web').server.flavor).to.deep.equal({ key: 'm1.small', id: '2', name: 'm1.small', vcpus: 1, ram: 2048, disk: 20, ephemeral: 0, swap: 0, extraSpecs: {} });
      expect(codes(inv)).to.deep.equal(['flavor-missing:99']);
      expect(log.requests.filter((r) => r.includes('/flavors'))).to.have.length(1);
    });

    it('flavors of one name but different shapes get distinct keys and a warning', async () => {
      const w = twoTier();
      (w.servers[1] as Record<string, unknown>).flavor = { vcpus: 8, ram: 2048, disk: 20, ephemeral: 0, swap: 0, original_name: 'm1.small', extra_specs: {} };
      serveWorkload(w);
      const inv = await discover(testSite().site, { tags: [SHOP] });
      const keys = Object.keys(inv.flavors);
      expect(keys).to.have.length(2);
      expect(keys.every((k) => /^m1\.small#[0-9a-f]{8}$/.test(k))).to.equal(true);
      expect(member(inv, 'db').server.flavor.key).to.not.equal(member(inv, 'web').server.flavor.key);
      expect(codes(inv)).to.deep.equal(['flavor-name-conflict:m1.small']);
    });
  });

  describe('scale', () => {
    it('discovers 1,000 servers (each with a port and a volume) in O(pages) requests, never a GET per member', async function () {
      this.timeout(60_000);
      const r = await benchDiscovery(1000, { tags: ['ferry:plan=scale'] }, { pageSize: { compute: 100 } });
      console.log(`      scale: ${r.members} members, ${r.requests} requests (${Object.entries(r.byService).map(([k, v]) => `${k}=${v}`).join(' ')}), ${r.ms.toFixed(0)} ms, max ${r.log.maxInFlight} in flight`);
      expect(r.members).to.equal(1000);
      expect(r.inventory.members.every((m) => m.ports.length === 1 && m.volumes.length === 1)).to.equal(true);
      expect(r.inventory.warnings).to.deep.equal([]);
      expect(r.requests).to.be.at.most(40);
      const req = r.log.requests;
      // Nova: 10 full pages of 100 and the empty page its last next link leads to.
      expect(req.filter((x) => x.startsWith(`GET ${base}/servers/detail`))).to.have.length(11);
      // Neutron: ports in chunks of 100 device IDs.
      expect(req.filter((x) => x.startsWith('GET /v2.0/ports'))).to.have.length(10);
      // Cinder: one listing of the project (1,200 volumes, noise included: a full page of 1,000 and the rest).
      expect(req.filter((x) => x.startsWith(`GET ${cbase}/volumes/detail`))).to.have.length(2);
      // Never one GET per item.
      expect(req.filter((x) => /\/(servers|ports|volumes|images|networks|subnets|security-groups)\/[0-9a-f-]{36}($|\?)/.test(x))).to.deep.equal([]);
      // Bounded concurrency: the default is 4 requests in flight per site.
      expect(r.log.maxInFlight).to.be.within(2, 4);
    });

    it('grows with pages, not members: twice the servers adds about twice the pages', async function () {
      this.timeout(60_000);
      const one = await benchDiscovery(500, undefined, { pageSize: { compute: 100 }, concurrency: 2 });
      nock.cleanAll();
      const two = await benchDiscovery(1000, undefined, { pageSize: { compute: 100 }, concurrency: 2 });
      // 500 more servers: 5 more Nova pages and 5 more port chunks (plus at most one more Cinder page).
      expect(two.requests - one.requests).to.be.within(10, 11);
      expect(one.log.maxInFlight).to.be.at.most(2);
      expect(two.log.maxInFlight).to.be.at.most(2);
    });
  });

  describe('helpers', () => {
    it('chunks and powerStateName', () => {
      expect(chunks([1, 2, 3, 4, 5], 2)).to.deep.equal([[1, 2], [3, 4], [5]]);
      expect(chunks([], 100)).to.deep.equal([]);
      expect([0, 1, 3, 4, 6, 7, 9, null].map((n) => powerStateName(n))).to.deep.equal(['nostate', 'running', 'paused', 'shutdown', 'crashed', 'suspended', 'unknown', 'unknown']);
    });
  });
});
