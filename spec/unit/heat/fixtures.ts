// A small protected workload for the generator's tests, built through buildRecoveryPoint so
// it is a valid ferry.recoverypoint/v1 manifest: shop-db boots from a volume and has a data
// volume, two NICs (a recreated network and a mapped one) and a server group; shop-web boots
// from an image, has a floating IP and belongs to the second priority group. Security groups:
// web (HTTP from anywhere), db (PostgreSQL from the web group: a cross-group rule) and the
// project's default group (a rule naming itself).
import type { Inventory, Member, MemberPort, MemberVolume, SecurityGroupSpec } from '../../../lib/inventory/model.js';
import { parsePlanText, type ProtectionPlan } from '../../../lib/config/protection-plan.js';
import { buildRecoveryPoint, type RecoveryPointManifest } from '../../../lib/replication/recovery-point.js';
import type { ImageDataRef, VolumeDataRef } from '../../../lib/replication/types.js';
import type { Resolved } from '../../../lib/heat/types.js';

export const POINT_ID = '5b0d1c3e-8f2a-4c6b-9d7e-1a2b3c4d5e6f';
export const RUN_ID = '0e9f8a7b-6c5d-4e3f-8a1b-2c3d4e5f6a7b';
export const SPEC_HASH = `sha256:${'cd'.repeat(32)}`;

export const IDS = {
  netApp: '11111111-0000-4000-8000-000000000001',
  netDb: '11111111-0000-4000-8000-000000000002',
  subApp: '22222222-0000-4000-8000-000000000001',
  subDb: '22222222-0000-4000-8000-000000000002',
  sgWeb: '33333333-0000-4000-8000-000000000001',
  sgDb: '33333333-0000-4000-8000-000000000002',
  sgDefault: '33333333-0000-4000-8000-000000000003',
  db: '44444444-0000-4000-8000-000000000001',
  web: '44444444-0000-4000-8000-000000000002',
  portDb0: '55555555-0000-4000-8000-000000000001',
  portDb1: '55555555-0000-4000-8000-000000000002',
  portWeb: '55555555-0000-4000-8000-000000000003',
  volDbRoot: '66666666-0000-4000-8000-000000000001',
  volDbData: '66666666-0000-4000-8000-000000000002',
  image: '77777777-0000-4000-8000-000000000001',
  serverGroup: '88888888-0000-4000-8000-000000000001',
  backupRoot: '99999999-0000-4000-8000-000000000001',
  backupData: '99999999-0000-4000-8000-000000000002',
  imageAtB: 'aaaaaaaa-0000-4000-8000-000000000001',
  netAppAtB: 'bbbbbbbb-0000-4000-8000-000000000001',
  subAppAtB: 'bbbbbbbb-0000-4000-8000-000000000002',
  flavorSmallAtB: 'cccccccc-0000-4000-8000-000000000001',
  externalAtB: 'dddddddd-0000-4000-8000-000000000001',
};

const smallFlavor = { key: 'm1.small', name: 'm1.small', vcpus: 1, ram: 2048, disk: 20, ephemeral: 0, swap: 0, extraSpecs: {} };
const dbFlavor = { key: 'db.large', name: 'db.large', vcpus: 4, ram: 16384, disk: 0, ephemeral: 0, swap: 1024, extraSpecs: { 'hw:mem_page_size': 'large', 'hw:cpu_policy': 'dedicated' } };

const opsKey = { name: 'ops', publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps ops@example', type: 'ssh' as const };
const deployKey = { name: 'deploy', publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeploy deploy@example', type: 'ssh' as const };

function port(over: Partial<MemberPort> & Pick<MemberPort, 'id' | 'nicIndex' | 'networkId' | 'macAddress' | 'fixedIps' | 'securityGroupIds'>): MemberPort {
  return { name: '', description: '', allowedAddressPairs: [], portSecurityEnabled: true, adminStateUp: true, vnicType: 'normal', tags: [], ...over };
}

function volume(over: Partial<MemberVolume> & Pick<MemberVolume, 'id' | 'name' | 'size' | 'bootable' | 'attachmentOrder'>): MemberVolume {
  return { availabilityZone: 'az1', metadata: {}, multiattach: false, encrypted: false, status: 'in-use', volumeType: 'ssd', volumeTypeId: 'vt-ssd', ...over };
}

const server = {
  status: 'ACTIVE',
  powerState: 'running' as const,
  availabilityZone: 'az1',
  locked: false,
  configDrive: false,
  diskConfig: 'MANUAL',
  userId: 'u-1',
  projectId: 'p-shop',
  createdAt: '2026-11-20T10:00:00Z',
};

export function members(): Member[] {
  const db: Member = {
    server: {
      ...server,
      id: IDS.db,
      name: 'shop-db',
      flavor: dbFlavor,
      bootFromVolume: true,
      keyName: 'ops',
      keypair: opsKey,
      metadata: { role: 'database', 'backup-window': '02:00' },
      tags: ['shop', 'tier-db'],
      serverGroups: [{ id: IDS.serverGroup, name: 'db-anti', policy: 'anti-affinity', rules: { maxServerPerHost: 1 } }],
    },
    ports: [
      port({ id: IDS.portDb0, name: 'db-backend', nicIndex: 0, networkId: IDS.netDb, macAddress: 'fa:16:3e:00:00:01', fixedIps: [{ subnetId: IDS.subDb, subnetCidr: '10.30.0.0/24', ipAddress: '10.30.0.5' }], securityGroupIds: [IDS.sgDb, IDS.sgDefault] }),
      port({ id: IDS.portDb1, nicIndex: 1, networkId: IDS.netApp, macAddress: 'fa:16:3e:00:00:02', fixedIps: [{ subnetId: IDS.subApp, subnetCidr: '10.20.0.0/24', ipAddress: '10.20.0.15' }], securityGroupIds: [IDS.sgDb, IDS.sgDefault] }),
    ],
    volumes: [
      volume({ id: IDS.volDbRoot, name: 'shop-db-root', size: 20, bootable: true, device: '/dev/vda', bootIndex: 0, attachmentOrder: 0 }),
      volume({ id: IDS.volDbData, name: 'shop-db-data', description: 'PostgreSQL data', size: 50, bootable: false, device: '/dev/vdb', attachmentOrder: 1, metadata: { fs: 'xfs' } }),
    ],
    selectedBy: ['tag'],
  };
  const webPort = port({
    id: IDS.portWeb,
    name: 'web-frontend',
    nicIndex: 0,
    networkId: IDS.netApp,
    macAddress: 'fa:16:3e:00:00:03',
    fixedIps: [{ subnetId: IDS.subApp, subnetCidr: '10.20.0.0/24', ipAddress: '10.20.0.10' }],
    securityGroupIds: [IDS.sgDefault, IDS.sgWeb],
    allowedAddressPairs: [{ ipAddress: '10.20.0.100' }],
    tags: ['frontend'],
  });
  // Not in the inventory model yet: what discovery would record for a port with a floating IP.
  Object.assign(webPort, { floatingIps: [{ floatingIpAddress: '203.0.113.10', floatingNetworkId: 'ext-a' }] });
  const web: Member = {
    server: {
      ...server,
      id: IDS.web,
      name: 'shop-web',
      flavor: smallFlavor,
      image: { id: IDS.image, name: 'cirros', checksum: 'd41d8cd98f00b204e9800998ecf8427e' },
      bootFromVolume: false,
      keyName: 'deploy',
      keypair: deployKey,
      metadata: { role: 'web' },
      tags: ['shop'],
      serverGroups: [],
      configDrive: true,
      diskConfig: 'AUTO',
    },
    ports: [webPort],
    volumes: [],
    selectedBy: ['tag'],
  };
  return [db, web];
}

function sg(id: string, name: string, rules: SecurityGroupSpec['rules'], remoteOnly = false): SecurityGroupSpec {
  return { id, name, description: `${name} tier`, stateful: true, projectId: 'p-shop', rules, remoteOnly, tags: [] };
}

export function inventory(): Inventory {
  const egress = (id: string) => [
    { id: `${id}-e4`, direction: 'egress' as const, ethertype: 'IPv4' as const, description: '' },
    { id: `${id}-e6`, direction: 'egress' as const, ethertype: 'IPv6' as const, description: '' },
  ];
  return {
    schemaVersion: 1,
    site: 'site-a',
    projectId: 'p-shop',
    discoveredAt: '2026-11-27T03:00:00.000Z',
    selectors: { tags: ['shop'] },
    members: members(),
    networks: {
      [IDS.netApp]: { id: IDS.netApp, name: 'app-net', description: '', subnetIds: [IDS.subApp], adminStateUp: true, shared: false, external: false, mtu: 1450, portSecurityEnabled: true, availabilityZoneHints: [], projectId: 'p-shop', tags: [] },
      [IDS.netDb]: { id: IDS.netDb, name: 'db-net', description: '', subnetIds: [IDS.subDb], adminStateUp: true, shared: false, external: false, mtu: 1450, portSecurityEnabled: true, availabilityZoneHints: [], projectId: 'p-shop', tags: ['backend'] },
    },
    subnets: {
      [IDS.subApp]: { id: IDS.subApp, name: 'app-v4', description: '', networkId: IDS.netApp, ipVersion: 4, cidr: '10.20.0.0/24', gatewayIp: '10.20.0.1', enableDhcp: true, allocationPools: [{ start: '10.20.0.10', end: '10.20.0.200' }], dnsNameservers: ['10.20.0.2'], hostRoutes: [], projectId: 'p-shop', tags: [] },
      [IDS.subDb]: { id: IDS.subDb, name: 'db-v4', description: '', networkId: IDS.netDb, ipVersion: 4, cidr: '10.30.0.0/24', gatewayIp: null, enableDhcp: false, allocationPools: [{ start: '10.30.0.2', end: '10.30.0.254' }], dnsNameservers: [], hostRoutes: [{ destination: '10.40.0.0/16', nexthop: '10.30.0.254' }], projectId: 'p-shop', tags: [] },
    },
    securityGroups: {
      [IDS.sgWeb]: sg(IDS.sgWeb, 'web', [{ id: 'r-web-80', direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 80, portRangeMax: 80, remoteIpPrefix: '0.0.0.0/0', description: 'http' }, ...egress('r-web')]),
      [IDS.sgDb]: sg(IDS.sgDb, 'db', [
        { id: 'r-db-5432', direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 5432, portRangeMax: 5432, remoteGroupId: IDS.sgWeb, description: 'postgres from web' },
        { id: 'r-db-icmp', direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', description: '' },
        ...egress('r-db'),
      ]),
      [IDS.sgDefault]: sg(IDS.sgDefault, 'default', [{ id: 'r-def-self', direction: 'ingress', ethertype: 'IPv4', remoteGroupId: IDS.sgDefault, description: '' }, ...egress('r-def')]),
    },
    flavors: { 'db.large': dbFlavor, 'm1.small': smallFlavor },
    images: {
      [IDS.image]: { id: IDS.image, name: 'cirros', status: 'active', minDisk: 0, minRam: 0, visibility: 'public', protected: false, hidden: false, tags: [], properties: {} },
    },
    volumeTypes: { 'vt-ssd': { id: 'vt-ssd', name: 'ssd', isPublic: true } },
    keypairs: {
      deploy: { ...deployKey, fingerprint: 'aa:bb', userId: 'u-1' },
      ops: { ...opsKey, fingerprint: 'cc:dd', userId: 'u-1' },
    },
    serverGroups: { [IDS.serverGroup]: { id: IDS.serverGroup, name: 'db-anti', policy: 'anti-affinity', rules: { maxServerPerHost: 1 }, memberIds: [IDS.db], otherServerIds: [] } },
    warnings: [],
  };
}

export function volumeData(): VolumeDataRef[] {
  const ref = (sourceVolumeId: string, secondaryBackupId: string, sizeGb: number): VolumeDataRef => ({
    sourceVolumeId,
    mover: 'cinder-backup',
    primaryBackupId: secondaryBackupId,
    secondaryBackupId,
    incremental: false,
    sizeGb,
    dataTimestamp: '2026-11-27T03:00:00.000Z',
    backupService: 'cinder.backup.drivers.posix.PosixBackupDriver',
  });
  return [ref(IDS.volDbRoot, IDS.backupRoot, 20), ref(IDS.volDbData, IDS.backupData, 50)];
}

export function imageData(): ImageDataRef[] {
  return [{ sourceImageId: IDS.image, secondaryImageId: IDS.imageAtB, hash: `sha512:${'0'.repeat(128)}`, sizeBytes: 16_338_944 }];
}

export function manifest(over: { inventory?: Inventory; volumes?: VolumeDataRef[]; partial?: boolean } = {}): RecoveryPointManifest {
  return buildRecoveryPoint({
    plan: { name: 'shop', specHash: SPEC_HASH, epoch: 1 },
    inventory: over.inventory ?? inventory(),
    volumes: over.volumes ?? volumeData(),
    images: imageData(),
    targetSite: 'site-b',
    createdAt: '2026-11-27T03:00:00.000Z',
    completedAt: '2026-11-27T03:05:00.000Z',
    id: POINT_ID,
    ...(over.partial ? { partial: true } : {}),
  });
}

export const PLAN_YAML = `name: shop
project: shop
primary: site-a
secondary: site-b
tier: warm-standby
rpo: 15m
retention: {count: 4}
members:
  - tag: shop
mappings:
  networks:
    - {from: app-net, to: app-net-dr}
    - {from: db-net, recreate: true}
  flavors:
    map:
      - {from: m1.small, to: m1.small}
  volume_types:
    - {from: ssd, to: rbd-ssd}
  availability_zones:
    - {from: az1, to: nova}
ip_policy: preserve
priority_groups:
  - {name: database, members: [shop-db]}
  - {name: web, members: [shop-web]}
test:
  name_prefix: drtest-
  network_prefix: drtest-net-
`;

export function plan(over: string = ''): ProtectionPlan {
  return parsePlanText(PLAN_YAML + over, 'shop.yaml');
}

/** What resolve() finds at site-b for this workload (the resolve tests derive the same from listings). */
export function resolved(): Resolved {
  return {
    site: 'site-b',
    projectId: 'p-shop-b',
    networks: { [IDS.netApp]: { kind: 'map', id: IDS.netAppAtB, name: 'app-net-dr' }, [IDS.netDb]: { kind: 'recreate' } },
    subnets: { [IDS.subApp]: { kind: 'map', id: IDS.subAppAtB, cidr: '10.20.0.0/24' }, [IDS.subDb]: { kind: 'recreate', overrides: {} } },
    securityGroups: { [IDS.sgWeb]: { kind: 'recreate' }, [IDS.sgDb]: { kind: 'recreate' }, [IDS.sgDefault]: { kind: 'recreate' } },
    flavors: { 'm1.small': { kind: 'map', id: IDS.flavorSmallAtB, name: 'm1.small' }, 'db.large': { kind: 'recreate' } },
    images: { [IDS.image]: IDS.imageAtB },
    volumeTypes: { ssd: 'rbd-ssd' },
    computeZones: { az1: 'nova' },
    keypairs: { ops: { kind: 'map', name: 'ops' }, deploy: { kind: 'recreate' } },
    externalNetworkId: IDS.externalAtB,
  };
}

/**
 * A synthetic workload of `n` servers for scale tests: 10 networks (one /16 subnet each),
 * 5 security groups (one naming another), 3 flavors, one keypair; every second server boots
 * from a volume and has a data volume, the others boot from the image.
 */
export function bigWorkload(n: number): { manifest: RecoveryPointManifest; resolved: Resolved } {
  const id = (kind: number, i: number) => `${kind.toString(16).padStart(8, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
  const inv = inventory();
  inv.networks = {};
  inv.subnets = {};
  const res = resolved();
  res.networks = {};
  res.subnets = {};
  for (let k = 0; k < 10; k++) {
    const net = id(0x11, k);
    const sub = id(0x22, k);
    inv.networks[net] = { id: net, name: `net-${k}`, description: '', subnetIds: [sub], adminStateUp: true, shared: false, external: false, mtu: 1450, portSecurityEnabled: true, availabilityZoneHints: [], projectId: 'p-shop', tags: [] };
    inv.subnets[sub] = { id: sub, name: `sub-${k}`, description: '', networkId: net, ipVersion: 4, cidr: `10.${k}.0.0/16`, gatewayIp: `10.${k}.0.1`, enableDhcp: true, allocationPools: [{ start: `10.${k}.0.2`, end: `10.${k}.255.254` }], dnsNameservers: [], hostRoutes: [], projectId: 'p-shop', tags: [] };
    res.networks[net] = k % 2 === 0 ? { kind: 'recreate' } : { kind: 'map', id: id(0xbb, k), name: `net-${k}-dr` };
    res.subnets[sub] = k % 2 === 0 ? { kind: 'recreate', overrides: {} } : { kind: 'map', id: id(0xbc, k), cidr: `10.${k}.0.0/16` };
  }
  const groups = [IDS.sgWeb, IDS.sgDb, IDS.sgDefault];
  const volumes: VolumeDataRef[] = [];
  const base = members();
  inv.members = [];
  for (let i = 0; i < n; i++) {
    const bfv = i % 2 === 0;
    const template = bfv ? base[0]! : base[1]!;
    const k = i % 10;
    const m: Member = {
      server: { ...template.server, id: id(0x44, i), name: `srv-${String(i).padStart(5, '0')}`, serverGroups: [], metadata: { index: String(i), role: bfv ? 'db' : 'web' } },
      ports: [
        port({ id: id(0x55, i), nicIndex: 0, networkId: id(0x11, k), macAddress: `fa:16:3e:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`, fixedIps: [{ subnetId: id(0x22, k), ipAddress: `10.${k}.${1 + (i >> 8)}.${i & 0xff}` }], securityGroupIds: [groups[i % 3]!] }),
      ],
      volumes: bfv
        ? [
            volume({ id: id(0x66, 2 * i), name: `root-${i}`, size: 10, bootable: true, device: '/dev/vda', bootIndex: 0, attachmentOrder: 0 }),
            volume({ id: id(0x66, 2 * i + 1), name: `data-${i}`, size: 20, bootable: false, device: '/dev/vdb', attachmentOrder: 1 }),
          ]
        : [],
      selectedBy: ['tag'],
    };
    inv.members.push(m);
    for (const v of m.volumes) {
      volumes.push({ sourceVolumeId: v.id, mover: 'cinder-backup', primaryBackupId: id(0x99, volumes.length), secondaryBackupId: id(0x99, volumes.length), incremental: false, sizeGb: v.size, dataTimestamp: '2026-11-27T03:00:00.000Z', backupService: 'posix' });
    }
  }
  inv.members.sort((a, b) => (a.server.name < b.server.name ? -1 : 1));
  inv.serverGroups = {};
  return { manifest: manifest({ inventory: inv, volumes }), resolved: res };
}

/** Strings YAML 1.1 or 1.2 would read as something else, or that break a line, or look like HOT. */
export const TRICKY_STRINGS = [
  'on', 'Off', 'yes', 'NO', 'y', 'n', '~', 'null', 'NULL', 'true', '0777', '0x1F', '1e3', '1:30', '02:00', '190:20:30', '2021-04-16',
  '.inf', '-.inf', '.NaN', '-', '- x', '? x', ': x', 'a: b', 'a #b', '#c', '&a', '*a', '!t', '|', '>', '%x', '@x', '`x', '"q"', "'s'",
  'x"; get_file: /etc/passwd', '{get_param: x}', '[1, 2]', 'a\nb', ' lead', 'trail ', '', 'ünïcödé', '\u2028', '\u0085nel', '\u007fdel', '\t',
  'http://x/y', 'fa:16:3e:00:00:01', '00:16:3e:00:00:01', 'e3308465-e700', '10.0.0.1', 'ferry:plan', 'DR::Server', 'a:', '=', '<<', '+1', '1_000',
  '0b101', '0o17', '.5', 'Infinity', 'NaN',
];
