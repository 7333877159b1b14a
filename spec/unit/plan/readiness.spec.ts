import { expect } from 'chai';
import nock from 'nock';
import { loadPlan, type ProtectionPlan } from '../../../lib/config/protection-plan.js';
import { parseYamlText } from '../../../lib/config/yaml-source.js';
import type { FlavorSpec, Inventory, Member } from '../../../lib/inventory/model.js';
import { assessReadiness, checkReadiness, cidrContains, planNeeds, pointsKept, type Locate, type PrimaryFacts, type ReadinessCheck, type SecondaryFacts } from '../../../lib/plan/readiness.js';
import { SCALE_TAG, scaleWorkload, serveWorkload } from '../../bench/discovery.js';
import { FakeSwift } from '../../support/fake-swift.js';
import { useNock } from '../../support/fake-cloud.js';
import { novaFlavor, secondaryModel, serveSecondary, servePrimaryExtras, serveSharedProbes, siteA, siteB } from './fake-sites.js';

// ---- fixtures -----------------------------------------------------------------------------

const FILE = 'plan.yaml';

function planOf(yaml: string): { plan: ProtectionPlan; locate: Locate } {
  const src = parseYamlText(yaml, FILE);
  return { plan: loadPlan(src), locate: (p) => src.locate(p) };
}

const BASE = `name: shop
project: admin
primary: site-a
secondary: site-b
tier: pilot-light
rpo: 1h
retention: {count: 3}
members:
  - server: web-1
  - tag: shop
`;

const SMALL: FlavorSpec = { key: 'm1.small', name: 'm1.small', vcpus: 2, ram: 2048, disk: 20, ephemeral: 0, swap: 0, extraSpecs: {} };
const LARGE: FlavorSpec = { key: 'm1.large', name: 'm1.large', vcpus: 4, ram: 8192, disk: 0, ephemeral: 0, swap: 0, extraSpecs: {} };

interface MemberOpts {
  flavor: FlavorSpec;
  image?: string;
  net: string;
  subnet: string;
  ip: string;
  volumes: { id: string; size: number; type?: string }[];
  tags?: string[];
}

function member(id: string, name: string, o: MemberOpts): Member {
  return {
    server: {
      id,
      name,
      status: 'ACTIVE',
      powerState: 'running',
      flavor: o.flavor,
      ...(o.image ? { image: { id: o.image } } : {}),
      bootFromVolume: !o.image,
      availabilityZone: 'nova',
      metadata: {},
      tags: o.tags ?? [],
      serverGroups: [],
      locked: false,
      configDrive: false,
      diskConfig: 'MANUAL',
      userId: 'u',
      projectId: 'p',
      createdAt: '2026-11-27T00:00:00Z',
    },
    ports: [
      {
        id: `port-${id}`,
        name: '',
        description: '',
        nicIndex: 0,
        networkId: o.net,
        macAddress: 'fa:16:3e:00:00:01',
        fixedIps: [{ subnetId: o.subnet, ipAddress: o.ip }],
        securityGroupIds: [],
        allowedAddressPairs: [],
        adminStateUp: true,
        tags: [],
      },
    ],
    volumes: o.volumes.map((v, i) => ({
      id: v.id,
      name: v.id,
      size: v.size,
      ...(v.type ? { volumeType: v.type } : {}),
      bootable: !o.image && i === 0,
      attachmentOrder: i,
      availabilityZone: 'nova',
      metadata: {},
      multiattach: false,
      encrypted: false,
      status: 'in-use',
    })),
    selectedBy: ['name'],
  };
}

function net(id: string, name: string, subnetIds: string[]) {
  return { id, name, description: '', subnetIds, adminStateUp: true, shared: false, external: false, availabilityZoneHints: [], projectId: 'p', tags: [] };
}

function subnet(id: string, networkId: string, cidr: string) {
  return { id, name: `${id}-name`, description: '', networkId, ipVersion: 4 as const, cidr, gatewayIp: null, enableDhcp: true, allocationPools: [], dnsNameservers: [], hostRoutes: [], projectId: 'p', tags: [] };
}

/** web-1 (image, m1.small, 10 GiB on front) and db-1 (tag shop, boot from volume, m1.large, 20 GiB on back). */
function inventory(): Inventory {
  return {
    schemaVersion: 1,
    site: 'site-a',
    projectId: 'p',
    discoveredAt: '2026-11-27T00:00:00.000Z',
    selectors: {},
    members: [
      member('s-db', 'db-1', { flavor: LARGE, net: 'n-back', subnet: 'sn-back', ip: '10.1.0.5', volumes: [{ id: 'v-root', size: 20, type: 'ceph' }], tags: ['shop'] }),
      member('s-web', 'web-1', { flavor: SMALL, image: 'img-1', net: 'n-front', subnet: 'sn-front', ip: '10.0.0.5', volumes: [{ id: 'v-data', size: 10, type: 'ceph' }] }),
    ],
    networks: { 'n-back': net('n-back', 'back', ['sn-back']), 'n-front': net('n-front', 'front', ['sn-front']) },
    subnets: { 'sn-back': subnet('sn-back', 'n-back', '10.1.0.0/24'), 'sn-front': subnet('sn-front', 'n-front', '10.0.0.0/24') },
    securityGroups: {},
    flavors: { 'm1.large': LARGE, 'm1.small': SMALL },
    images: { 'img-1': { id: 'img-1', name: 'debian', status: 'active', size: 3 * 1024 ** 2, minDisk: 0, minRam: 0, visibility: 'public', protected: false, hidden: false, tags: [], properties: {} } },
    volumeTypes: { 't-ceph': { id: 't-ceph', name: 'ceph', isPublic: true } },
    keypairs: {},
    serverGroups: {},
    warnings: [],
  };
}

function primaryFacts(inv: Inventory): PrimaryFacts {
  return {
    access: { site: 'site-a', ok: true, projectId: 'p', projectName: 'admin', roles: ['admin'] },
    project: { ok: true, value: { id: 'p', name: 'admin', scope: true } },
    inventory: { ok: true, value: inv },
    backupServices: { ok: true, value: [{ host: 'site-a', zone: 'nova', status: 'enabled', state: 'up' }] },
    volumeLimits: { ok: true, value: { maxTotalBackups: 100, totalBackupsUsed: 0, maxTotalBackupGigabytes: 1000, totalBackupGigabytesUsed: 0 } },
  };
}

function secondaryFacts(): SecondaryFacts {
  const ok = <T>(value: T) => ({ ok: true as const, value });
  return {
    access: { site: 'site-b', ok: true, projectId: 'pb', projectName: 'dr', roles: ['admin', 'member'] },
    services: ['identity', 'compute', 'block-storage', 'image', 'network', 'orchestration', 'object-store'].map((type) => ({ type: type as 'compute', ok: true, required: true, endpoint: `https://${type}.b` })),
    backupServices: ok([{ host: 'site-b', zone: 'nova', status: 'enabled', state: 'up' }]),
    bank: ok({ container: 'ferry-bank', layout: 'ferry.bank/v1' }),
    networks: ok([
      { id: 'nb-front', name: 'front', shared: false, external: false },
      { id: 'nb-back', name: 'back', shared: false, external: false },
      { id: 'nb-dr', name: 'front-dr', shared: false, external: false },
    ]),
    subnets: ok([
      { id: 'sb-front', name: 'front-v4', networkId: 'nb-front', cidr: '10.0.0.0/24' },
      { id: 'sb-back', name: 'back-v4', networkId: 'nb-back', cidr: '10.1.0.0/24' },
      { id: 'sb-dr', name: 'dr-v4', networkId: 'nb-dr', cidr: '10.50.0.0/24' },
    ]),
    securityGroups: ok([{ id: 'sg-b', name: 'web-dr' }]),
    flavors: ok([
      { id: 'f1', name: 'm1.small', vcpus: 2, ram: 2048, disk: 20 },
      { id: 'f2', name: 'm1.large', vcpus: 4, ram: 8192, disk: 40 },
      { id: 'f3', name: 'g2.small', vcpus: 1, ram: 1024, disk: 20 },
    ]),
    volumeTypes: ok([{ id: 'tb-ceph', name: 'ceph' }]),
    zones: ok({ compute: ['nova'], volume: ['nova'] }),
    computeLimits: ok({ maxTotalInstances: 10, totalInstancesUsed: 0, maxTotalCores: 20, totalCoresUsed: 0, maxTotalRAMSize: 65536, totalRAMUsed: 0, maxTotalKeypairs: 100, maxServerMeta: 128, maxServerGroups: 10, maxServerGroupMembers: 10, totalServerGroupsUsed: 0 }),
    volumeLimits: ok({ maxTotalVolumes: 10, totalVolumesUsed: 0, maxTotalVolumeGigabytes: 1000, totalGigabytesUsed: 0, maxTotalBackups: 100, totalBackupsUsed: 0, maxTotalBackupGigabytes: 1000, totalBackupGigabytesUsed: 0 }),
    networkQuota: ok({ port: { limit: 50, used: 0, reserved: 0 } }),
  };
}

interface Case {
  name: string;
  yaml?: string;
  /** Changes to the primary's inventory, the primary's facts and the secondary's facts. */
  inv?: (i: Inventory) => void;
  primary?: (p: PrimaryFacts) => void;
  secondary?: (s: SecondaryFacts) => void;
  /** Checks that must be in the report: [status, check, subject, message pattern, location?]. */
  expect: [ReadinessCheck['status'], ReadinessCheck['check'], string, RegExp, string?][];
  /** Every failed check, as "check subject". */
  fails: string[];
  /** Substrings of fixes of failed checks. */
  fixes?: RegExp[];
}

function run(c: Case): ReadinessCheck[] {
  const { plan, locate } = planOf(c.yaml ?? BASE);
  const inv = inventory();
  c.inv?.(inv);
  const p = primaryFacts(inv);
  c.primary?.(p);
  const s = secondaryFacts();
  c.secondary?.(s);
  return assessReadiness(plan, p, s, { locate });
}

const CASES: Case[] = [
  {
    name: 'a plan the secondary can take: everything ok, selectors located in the file',
    expect: [
      ['ok', 'members', 'server: web-1', /^1 server: web-1$/, `${FILE}:9:5`],
      ['ok', 'members', 'tag: shop', /^1 server: db-1$/, `${FILE}:10:5`],
      ['ok', 'network', 'front', /same name at site-b \(nb-front\)/],
      ['ok', 'fixed-ips', 'site-b', /2 fixed IPs fit/],
      ['ok', 'flavor', 'm1.large', /same name at site-b/],
      ['ok', 'image', 'debian', /replicated to site-b's Glance \(3 MiB\), for web-1/],
      ['ok', 'quota', 'site-b instances', /^needs 2, 10 of 10 free$/],
      ['ok', 'quota', 'site-b cores', /^needs 6 vCPUs, 20 of 20 free$/],
      ['ok', 'quota', 'site-b ram', /^needs 10240 MiB, 65536 of 65536 free$/],
      ['ok', 'quota', 'site-b gigabytes', /^needs 30 GiB/],
      ['ok', 'quota', 'site-b backups', /^needs 8, 100 of 100 free$/],
      ['ok', 'quota', 'site-a backup-gigabytes', /^needs 120 GiB, 1000 of 1000 free$/],
      ['ok', 'cinder-backup', 'site-b', /1 cinder-backup service up/],
    ],
    fails: [],
  },
  {
    name: 'quota short: the cores the whole plan needs, with the numbers and the quota to set',
    secondary: (s) => {
      if (s.computeLimits?.ok) Object.assign(s.computeLimits.value, { maxTotalCores: 8, totalCoresUsed: 4 });
    },
    expect: [['fail', 'quota', 'site-b cores', /^needs 6 vCPUs, only 4 vCPUs free \(limit 8, 4 used\): short by 2$/]],
    fails: ['quota site-b cores'],
    fixes: [/raise the cores quota of project dr at site-b to at least 10 \(openstack quota set --cores 10 dr\)/],
  },
  {
    name: 'quota short: imported backups of every kept point (retention 3 + the one in flight) at the secondary and the chain at the primary',
    secondary: (s) => {
      if (s.volumeLimits?.ok) Object.assign(s.volumeLimits.value, { maxTotalBackups: 10, totalBackupsUsed: 5 });
    },
    primary: (p) => {
      if (p.volumeLimits?.ok) Object.assign(p.volumeLimits.value, { maxTotalBackupGigabytes: 100, totalBackupGigabytesUsed: 0 });
    },
    expect: [
      ['fail', 'quota', 'site-b backups', /^needs 8, only 5 free \(limit 10, 5 used\): short by 3$/],
      ['fail', 'quota', 'site-a backup-gigabytes', /^needs 120 GiB, only 100 GiB free/],
    ],
    fails: ['quota site-b backups', 'quota site-a backup-gigabytes'],
    fixes: [/--backups 13 dr/, /--backup-gigabytes 120 admin/],
  },
  {
    name: 'unlimited quota (-1) is ok; usage the site does not report is a warning',
    secondary: (s) => {
      if (s.computeLimits?.ok) Object.assign(s.computeLimits.value, { maxTotalCores: -1 });
      if (s.volumeLimits?.ok) delete (s.volumeLimits.value as Record<string, unknown>).totalVolumesUsed;
    },
    expect: [
      ['ok', 'quota', 'site-b cores', /^needs 6 vCPUs; unlimited$/],
      ['warn', 'quota', 'site-b volumes', /^needs 2, the limit is 10; usage is not reported/],
    ],
    fails: [],
  },
  {
    name: 'flavor missing at the secondary, recreatable (recreate_missing, admin): ok',
    secondary: (s) => {
      if (s.flavors?.ok) s.flavors.value = s.flavors.value.filter((f) => f.name !== 'm1.large');
    },
    expect: [['ok', 'flavor', 'm1.large', /^not at site-b: recreated on recovery \(4 vCPUs, 8192 MiB, 0 GiB; used by db-1\)$/]],
    fails: [],
  },
  {
    name: 'flavor missing and the secondary user is no admin: a warning (Nova lets only admins create flavors)',
    secondary: (s) => {
      if (s.flavors?.ok) s.flavors.value = s.flavors.value.filter((f) => f.name !== 'm1.large');
      s.access.roles = ['member'];
    },
    expect: [['warn', 'flavor', 'm1.large', /recreated on recovery/]],
    fails: [],
  },
  {
    name: 'flavor missing and not recreatable (recreate_missing: false): a failure at that field',
    yaml: `${BASE}mappings:\n  flavors:\n    recreate_missing: false\n`,
    secondary: (s) => {
      if (s.flavors?.ok) s.flavors.value = s.flavors.value.filter((f) => f.name !== 'm1.large');
    },
    expect: [['fail', 'flavor', 'm1.large', /^no flavor 'm1.large' at site-b \(used by db-1\) and recreate_missing is false$/, `${FILE}:13:23`]],
    fails: ['flavor m1.large'],
    fixes: [/map it \(mappings\.flavors\.map: \[\{from: m1\.large, to: FLAVOR\}\]\), create it at site-b, or set recreate_missing: true/],
  },
  {
    name: 'a flavor mapped to a smaller one, and a same-named one that is smaller: warnings',
    yaml: `${BASE}mappings:\n  flavors:\n    map: [{from: m1.small, to: g2.small}]\n`,
    secondary: (s) => {
      if (s.flavors?.ok) s.flavors.value.find((f) => f.name === 'm1.large')!.ram = 4096;
    },
    expect: [
      ['ok', 'flavor', 'm1.small → g2.small', /flavor g2.small \(f3\) exists at site-b/],
      ['warn', 'flavor', 'm1.small → g2.small', /g2.small at site-b has 1 vCPUs, not 2, 1024 MiB RAM, not 2048 \(used by web-1\)/],
      ['warn', 'flavor', 'm1.large', /same name at site-b, but it has 4096 MiB RAM, not 8192/],
    ],
    fails: [],
  },
  {
    name: 'a mapping target that does not exist: a failure at its `to`, no second failure for the network',
    yaml: `${BASE}mappings:\n  networks:\n    - {from: front, to: front-gone}\n`,
    expect: [['fail', 'network', 'front → front-gone', /^no network 'front-gone' at site-b$/, `${FILE}:13:25`]],
    fails: ['network front → front-gone'],
    fixes: [/create it at site-b, map to another network, or write recreate: true/],
  },
  {
    name: 'a mapped network found, an unlisted one missing at the secondary, a mapping nobody uses',
    yaml: `${BASE}mappings:\n  networks:\n    - {from: front, to: front-dr}\n    - {from: typo, recreate: true}\n  subnets:\n    - {from: sn-front, to: dr-v4}\n`,
    secondary: (s) => {
      if (s.networks?.ok) s.networks.value = s.networks.value.filter((n) => n.name !== 'back');
    },
    expect: [
      ['ok', 'network', 'front → front-dr', /network front-dr \(nb-dr\) exists at site-b/],
      ['fail', 'network', 'back', /^no network named 'back' at site-b, and the plan neither maps nor recreates it$/],
      ['warn', 'network', 'typo', /mapped, but no member uses a network 'typo'/, `${FILE}:14:14`],
      // ip_policy preserve: web-1's 10.0.0.5 cannot live in dr-v4 (10.50.0.0/24).
      ['fail', 'fixed-ips', 'front-dr', /no subnet of front-dr at site-b holds 10\.0\.0\.5 \(web-1\)/],
    ],
    fails: ['network back', 'fixed-ips front-dr'],
    fixes: [/map it \(mappings\.networks: \[\{from: back, to: NETWORK\}\]\) or recreate it/, /use ip_policy: dhcp/],
  },
  {
    name: 'ip_policy dhcp: no fixed-IP check',
    yaml: `${BASE}ip_policy: dhcp\nmappings:\n  networks:\n    - {from: front, to: front-dr}\n`,
    expect: [['ok', 'network', 'front → front-dr', /exists/]],
    fails: [],
  },
  {
    name: 'member selectors matching nothing: a server fails at its line, a tag warns',
    yaml: BASE.replace('  - tag: shop\n', '  - tag: shop\n  - server: ghost\n  - tag: later\n'),
    expect: [
      ['fail', 'members', 'server: ghost', /^no server is named 'ghost' in project admin at site-a$/, `${FILE}:11:13`],
      ['warn', 'members', 'tag: later', /matches no server at site-a yet/, `${FILE}:12:5`],
    ],
    fails: ['members server: ghost'],
    fixes: [/check the name \(openstack --os-cloud site-a server list\), or remove this selector/],
  },
  {
    name: 'a plan that protects no server at all fails',
    inv: (i) => {
      i.members = [];
    },
    expect: [['fail', 'members', 'all members', /the plan protects no server/]],
    fails: ['members server: web-1', 'members all members'],
  },
  {
    name: 'a priority group naming a server the selectors do not protect',
    yaml: `${BASE}priority_groups:\n  - name: first\n    members: [db-1, cache-1]\n`,
    expect: [['fail', 'priority-group', 'first: cache-1', /server 'cache-1' of priority group 'first' is not a member/, `${FILE}:13:21`]],
    fails: ['priority-group first: cache-1'],
  },
  {
    name: 'an image the primary cannot read cannot be replicated; a mapped one is checked at the secondary',
    yaml: `${BASE}mappings:\n  images:\n    map: [{from: img-1, to: golden}]\n`,
    secondary: (s) => {
      s.images = { ok: true, value: [{ id: 'ib', name: 'golden', status: 'active' }] };
    },
    expect: [['ok', 'image', 'img-1 → golden', /image golden \(ib\) exists at site-b/]],
    fails: [],
  },
  {
    name: 'an unreadable image, not mapped: a failure asking for a map',
    inv: (i) => {
      i.images = {};
    },
    expect: [['fail', 'image', 'img-1', /cannot be read at site-a \(deleted, or not visible\), so it cannot be replicated/]],
    fails: ['image img-1'],
    fixes: [/mappings\.images: \{map: \[\{from: img-1, to: IMAGE\}\]\}/],
  },
  {
    name: 'volume type and zone: a missing type warns (default type), a missing zone target fails',
    yaml: `${BASE}mappings:\n  availability_zones:\n    - {from: nova, to: az-9}\n`,
    secondary: (s) => {
      s.volumeTypes = { ok: true, value: [{ id: 't', name: 'rbd' }] };
    },
    expect: [
      ['warn', 'volume-type', 'ceph', /no volume type 'ceph' at site-b: restored volumes get site-b's default type/],
      ['fail', 'availability-zone', 'nova → az-9', /no availability zone 'az-9' at site-b \(zones: nova\)/, `${FILE}:13:24`],
    ],
    fails: ['availability-zone nova → az-9'],
  },
  {
    name: 'what a member may not see is a warning, not a failure: cinder-backup services, network quotas',
    secondary: (s) => {
      s.backupServices = { ok: false, error: "block-storage returned 403: Policy doesn't allow volume_extension:services:index to be performed." };
      s.networkQuota = { ok: false, error: 'network returned 404' };
    },
    expect: [
      ['warn', 'cinder-backup', 'site-b', /cannot list Cinder's services \(.*403.*\): cinder-backup not verified/],
      ['warn', 'quota', 'site-b network', /cannot read network quotas/],
    ],
    fails: [],
  },
  {
    name: 'no cinder-backup up at the secondary, orchestration down, a bank Ferry cannot read',
    secondary: (s) => {
      s.backupServices = { ok: true, value: [{ host: 'site-b', zone: 'nova', status: 'enabled', state: 'down' }] };
      s.services = s.services!.map((x) => (x.type === 'orchestration' ? { ...x, ok: false, error: 'returned 503' } : x));
      s.bank = { ok: false, error: "bank.json names layout 'ferry.bank/v9'" };
    },
    expect: [
      ['fail', 'cinder-backup', 'site-b', /no cinder-backup service is up \(site-b enabled\/down\): imports and restores need it/],
      ['fail', 'services', 'site-b orchestration', /orchestration at https:\/\/orchestration\.b does not answer: returned 503/],
      ['fail', 'bank', 'site-b/ferry-bank', /ferry\.bank\/v9/],
    ],
    fails: ['cinder-backup site-b', 'services site-b orchestration', 'bank site-b/ferry-bank'],
  },
  {
    name: 'an unreachable secondary is one failure, the primary is still checked',
    secondary: (s) => {
      s.access = { site: 'site-b', ok: false, error: 'connect ECONNREFUSED', roles: [] };
    },
    expect: [
      ['fail', 'site', 'site-b', /cannot reach the secondary: connect ECONNREFUSED/, `${FILE}:4:12`],
      ['ok', 'members', 'server: web-1', /1 server/],
    ],
    fails: ['site site-b'],
  },
  {
    name: 'a project the primary cannot see',
    primary: (p) => {
      p.project = { ok: false, error: "no project 'admin' is visible at site-a" };
      delete p.inventory;
    },
    expect: [['fail', 'project', 'admin', /no project 'admin' is visible/, `${FILE}:2:10`]],
    fails: ['project admin'],
  },
];

describe('plan/readiness: assessment', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const checks = run(c);
      for (const [status, check, subject, msg, location] of c.expect) {
        const hit = checks.find((x) => x.status === status && x.check === check && x.subject === subject && msg.test(x.message));
        expect(hit, `${status} ${check} ${subject} ${msg} in:\n${checks.map((x) => `${x.status} ${x.check} ${x.subject}: ${x.message}`).join('\n')}`).to.not.equal(undefined);
        if (location) expect(hit!.location).to.equal(location);
      }
      const failed = checks.filter((x) => x.status === 'fail');
      expect(failed.map((x) => `${x.check} ${x.subject}`)).to.have.members(c.fails);
      for (const f of failed) expect(f.fix, `${f.check} ${f.subject} has a fix`).to.be.a('string').and.not.equal('');
      for (const fix of c.fixes ?? []) expect(failed.some((f) => fix.test(f.fix ?? '')), `a fix matching ${fix}`).to.equal(true);
    });
  }

  it('names the plan field of a located failure (members[2].server)', () => {
    const checks = run({ name: '', yaml: BASE.replace('  - tag: shop\n', '  - tag: shop\n  - server: ghost\n'), expect: [], fails: [] });
    const f = checks.find((x) => x.status === 'fail')!;
    expect(f).to.include({ field: 'members[2].server', location: `${FILE}:11:13` });
  });
});

describe('plan/readiness: what a plan needs', () => {
  it('planNeeds sums the whole plan: servers, flavors, volumes, ports, and backups per kept point', () => {
    const { plan } = planOf(BASE);
    expect(planNeeds(plan, inventory())).to.deep.equal({
      instances: 2,
      cores: 6,
      ramMb: 10240,
      volumes: 2,
      volumeGb: 30,
      pointsKept: 4,
      backups: 8,
      backupGb: 120,
      ports: 2,
      securityGroups: 0,
      securityGroupRules: 0,
      networks: 0,
      subnets: 0,
    });
  });

  it('counts recreated networks (with their subnets) and security groups', () => {
    const { plan } = planOf(`${BASE}mappings:\n  networks: [{from: back, recreate: true}]\n  security_groups: {map: [{from: web, to: web-dr}]}\n`);
    const inv = inventory();
    const rule = { id: 'r', direction: 'ingress' as const, ethertype: 'IPv4' as const, description: '' };
    inv.securityGroups = {
      'sg-web': { id: 'sg-web', name: 'web', description: '', stateful: true, projectId: 'p', rules: [rule], remoteOnly: false, tags: [] },
      'sg-db': { id: 'sg-db', name: 'db', description: '', stateful: true, projectId: 'p', rules: [rule, { ...rule, id: 'r2' }], remoteOnly: false, tags: [] },
    };
    expect(planNeeds(plan, inv)).to.include({ networks: 1, subnets: 1, securityGroups: 1, securityGroupRules: 2 });
  });

  for (const [retention, rpo, kept] of [
    ['{count: 3}', '1h', 4],
    ['{age: 1d}', '1h', 26],
    ['{count: 96, age: 1d}', '15m', 97],
    ['{count: 10, age: 1d}', '15m', 11],
    ['{age: 90m}', '1h', 3],
  ] as const) {
    it(`pointsKept: retention ${retention}, rpo ${rpo} → ${kept}`, () => {
      const { plan } = planOf(BASE.replace('rpo: 1h', `rpo: ${rpo}`).replace('retention: {count: 3}', `retention: ${retention}`));
      expect(pointsKept(plan)).to.equal(kept);
    });
  }

  for (const [cidr, ip, inside] of [
    ['10.0.0.0/24', '10.0.0.5', true],
    ['10.0.0.0/24', '10.0.1.5', false],
    ['10.0.0.0/8', '10.255.1.5', true],
    ['0.0.0.0/0', '192.0.2.1', true],
    ['2001:db8::/64', '2001:db8::42', true],
    ['2001:db8::/64', '2001:db8:0:1::42', false],
    ['2001:db8::/64', '10.0.0.5', false],
    ['10.0.0.0/24', 'not-an-ip', false],
  ] as const) {
    it(`cidrContains(${cidr}, ${ip}) is ${inside}`, () => {
      expect(cidrContains(cidr, ip)).to.equal(inside);
    });
  }
});

describe('plan/readiness: checkReadiness against two sites', () => {
  useNock();

  const PLAN = `name: scale
project: admin
primary: site-a
secondary: site-b
tier: pilot-light
rpo: 15m
retention: {count: 4}
members:
  - tag: "${SCALE_TAG}"
`;

  async function readiness(n: number, yaml = PLAN, edit?: (m: ReturnType<typeof secondaryModel>) => void) {
    const primaryLog = serveWorkload(scaleWorkload(n));
    servePrimaryExtras();
    serveSharedProbes();
    new FakeSwift();
    const model = secondaryModel();
    edit?.(model);
    const secondary = serveSecondary(model);
    const { plan, locate } = planOf(yaml);
    const report = await checkReadiness(plan, siteA(), siteB(), { locate });
    return { report, primaryLog, secondary };
  }

  it('passes for a plan the secondary can take, with the whole plan counted', async () => {
    const { report } = await readiness(5);
    const failed = report.checks.filter((c) => c.status !== 'ok').map((c) => `${c.status} ${c.check} ${c.subject}: ${c.message}`);
    expect(failed).to.deep.equal([]);
    expect(report.ok).to.equal(true);
    expect(report.members).to.equal(5);
    expect(report.needs).to.include({ instances: 5, cores: 5, ramMb: 2560, volumes: 5, volumeGb: 50, pointsKept: 5, backups: 25, backupGb: 250, ports: 5 });
    const subjects = report.checks.map((c) => `${c.check} ${c.subject}`);
    expect(subjects).to.include.members(['site site-a', 'site site-b', 'project admin', 'services site-b', 'cinder-backup site-a', 'cinder-backup site-b', 'bank site-b/ferry-bank', `members tag: ${SCALE_TAG}`, 'network net-0', 'flavor m1.tiny', 'image image-0', 'quota site-b cores', 'quota site-a backups']);
  });

  it('makes the same list calls for 5 and 50 servers, and never a GET per item', async () => {
    const small = await readiness(5);
    const smallPrimary = small.primaryLog.total;
    const smallSecondary = [...small.secondary.requests];
    nock.cleanAll();
    const big = await readiness(50);
    expect(big.report.ok).to.equal(true);
    expect(big.report.members).to.equal(50);
    expect(big.secondary.requests.length).to.equal(smallSecondary.length);
    expect(big.primaryLog.total).to.equal(smallPrimary);
    // Listings only: flavors/detail, networks by scope, subnets by network IDs, limits, zones...
    for (const r of big.secondary.requests) expect(r).to.not.match(/\/(flavors|networks|subnets|images|types|servers)\/[0-9a-f-]{8,}/);
    expect(big.secondary.requests.filter((r) => r.includes('/v2.0/networks'))).to.have.length(3);
    expect(big.secondary.requests.filter((r) => r.includes('/v2.0/subnets'))).to.have.length(1);
  });

  it('fails with the numbers when the secondary is short of RAM, and on a missing mapped network', async () => {
    const yaml = `${PLAN}mappings:\n  networks:\n    - {from: net-1, to: net-1-dr}\n`;
    const { report } = await readiness(20, yaml, (m) => {
      m.computeLimits.maxTotalRAMSize = 8192;
      m.computeLimits.totalRAMUsed = 2048;
      m.flavors = m.flavors.filter((f) => f.name !== 'm1.tiny');
      m.flavors.push(novaFlavor('9', 'other', 1, 1, 1));
    });
    expect(report.ok).to.equal(false);
    const failed = report.checks.filter((c) => c.status === 'fail');
    expect(failed.map((c) => `${c.check} ${c.subject}: ${c.message}`)).to.deep.equal([
      "network net-1 → net-1-dr: no network 'net-1-dr' at site-b",
      'quota site-b ram: needs 10240 MiB, only 6144 MiB free (limit 8192, 2048 used): short by 4096',
    ]);
    expect(failed[0]!.location).to.equal(`${FILE}:12:25`);
    // m1.tiny is missing but recreatable by the admin.
    expect(report.checks.find((c) => c.check === 'flavor' && c.subject === 'm1.tiny')).to.include({ status: 'ok' });
  });
});
