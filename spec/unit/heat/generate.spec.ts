// The recovery template generator: golden files for the two-server workload in each mode, and
// table tests for naming, boot order, IP policy, security group rules, determinism, injection,
// backups, partial points and the quota demand. Golden files live in spec/unit/heat/golden/;
// regenerate them after an intended change with UPDATE_GOLDEN=1 and review the diff.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parse } from 'yaml';
import type { ProtectionPlan } from '../../../lib/config/protection-plan.js';
import type { Member } from '../../../lib/inventory/model.js';
import { ipInCidr, parseIp } from '../../../lib/heat/addresses.js';
import { GenerateError, generate, type GeneratedStack, type GenerateOptions } from '../../../lib/heat/generate.js';
import { toYaml } from '../../../lib/heat/yaml.js';
import { dataParam, digest, priorityBarrierName, resourceName } from '../../../lib/heat/names.js';
import type { RecoveryMode, Resolved } from '../../../lib/heat/types.js';
import type { RecoveryPointManifest } from '../../../lib/replication/recovery-point.js';
import { IDS, POINT_ID, RUN_ID, bigWorkload, inventory, manifest, plan, resolved, volumeData } from './fixtures.js';

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), 'golden');
const MODES: RecoveryMode[] = ['failover', 'drtest', 'standby'];
const opts: GenerateOptions = { runId: RUN_ID };

/** Compares text with a golden file (written instead with UPDATE_GOLDEN=1). */
function golden(file: string, actual: string): void {
  const path = join(GOLDEN, file);
  if (process.env.UPDATE_GOLDEN) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  expect(existsSync(path), `${path} is missing: run the tests with UPDATE_GOLDEN=1 to write it`).to.equal(true);
  expect(actual, `${file} differs from the golden file (UPDATE_GOLDEN=1 rewrites it; review the diff)`).to.equal(readFileSync(path, 'utf8'));
}

function gen(mode: RecoveryMode = 'failover', m: RecoveryPointManifest = manifest(), r: Resolved = resolved(), planOver: Partial<ProtectionPlan> = {}, o: Partial<GenerateOptions> = {}): GeneratedStack {
  return generate(m, { ...plan(), ...planOver }, r, mode, { ...opts, ...o });
}
const DHCP: Partial<ProtectionPlan> = { ip_policy: 'dhcp' };

type Res = { type: string; depends_on?: string[]; properties?: Record<string, unknown> };
const resources = (s: GeneratedStack) => s.template.resources as Record<string, Res>;
const res = (s: GeneratedStack, name: string): Res => {
  const r = resources(s)[name];
  expect(r, `resource ${name}`).to.not.equal(undefined);
  return r!;
};
const data = (s: GeneratedStack, resource: string) => s.parameters[dataParam(resource)] as Record<string, unknown>;

function failure(fn: () => unknown): GenerateError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(GenerateError);
    return err as GenerateError;
  }
  throw new Error('expected a GenerateError');
}

/** Every string anywhere in a JSON value (keys too). */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      strings(x, out);
    }
  }
  return out;
}

/** A deep copy with every object's keys in reverse order (arrays kept). */
function reverseKeys<T>(v: T): T {
  if (Array.isArray(v)) return v.map(reverseKeys) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)])) as T;
  return v;
}

describe('heat/generate', () => {
  describe('golden files: the two-server workload', () => {
    for (const mode of MODES) {
      it(`${mode}: template, environment and parameters`, () => {
        const s = gen(mode);
        golden(`${mode}/template.yaml`, s.yaml.template);
        golden(`${mode}/environment.yaml`, s.yaml.environment);
        golden(`${mode}/parameters.yaml`, s.yaml.parameters);
        expect(parse(s.yaml.template, { version: '1.1' })).to.deep.equal(s.template);
        expect(parse(s.yaml.environment, { version: '1.1' })).to.deep.equal(s.environment);
        expect(parse(s.yaml.parameters, { version: '1.1' })).to.deep.equal({ parameters: s.parameters });
      });
    }

    it('one template for every mode: only the environment changes', () => {
      const [failover, drtest, standby] = MODES.map((m) => gen(m));
      expect(drtest!.yaml.template).to.equal(failover!.yaml.template);
      expect(standby!.yaml.template).to.equal(failover!.yaml.template);
      expect(drtest!.yaml.parameters).to.equal(failover!.yaml.parameters);
      const env = (s: GeneratedStack) => s.environment as { parameter_defaults: Record<string, string>; parameters: unknown; resource_registry: Record<string, string> };
      expect(env(drtest!).parameters, 'the secondary IDs are the same facts').to.deep.equal(env(failover!).parameters);
      expect(env(failover!).resource_registry).to.deep.include({ 'DR::Network': 'nested/network.yaml', 'DR::FloatingIP': 'nested/floating_ip.yaml', 'DR::Server': 'nested/server.yaml' });
      expect(env(drtest!).resource_registry).to.deep.include({ 'DR::Network': 'nested/network_isolated.yaml', 'DR::Subnet': 'nested/subnet_isolated.yaml', 'DR::FloatingIP': 'OS::Heat::None' });
      expect(env(standby!).resource_registry).to.deep.include({ 'DR::Server': 'OS::Heat::None', 'DR::VolumeAttachment': 'OS::Heat::None', 'DR::FloatingIP': 'OS::Heat::None', 'DR::Volume': 'nested/volume.yaml' });
      expect(env(failover!).parameter_defaults).to.deep.equal({ ferry_plan: 'shop', ferry_point: POINT_ID, ferry_run: RUN_ID, name_prefix: '', network_prefix: '' });
      expect(env(drtest!).parameter_defaults).to.include({ name_prefix: 'drtest-', network_prefix: 'drtest-net-' });
      // The files map carries exactly the nested templates the registry names.
      expect(Object.keys(drtest!.files)).to.have.members(Object.values(env(drtest!).resource_registry).filter((t) => !t.startsWith('OS::')));
      expect(Object.keys(standby!.files)).to.not.include.members(['nested/server.yaml', 'nested/volume_attachment.yaml', 'nested/floating_ip.yaml']);
      expect(failover!.files['nested/server.yaml']).to.match(/^heat_template_version: 2021-04-16/);
    });

    it('names the stack and tags it with plan, point, run and mode', () => {
      expect(gen('failover').stackName).to.equal('ferry-shop-failover');
      expect(gen('drtest').stackName).to.equal(`ferry-shop-drtest-${RUN_ID.slice(0, 8)}`);
      expect(gen('standby').stackTags).to.deep.equal(['ferry:plan=shop', `ferry:point=${POINT_ID}`, `ferry:run=${RUN_ID}`, 'ferry:mode=standby']);
    });
  });

  describe('naming', () => {
    it('names resources <kind>_<12 hex digits of the SHA-256 of the primary identity>', () => {
      const cases: [Parameters<typeof resourceName>[0], string][] = [
        ['server', IDS.db],
        ['port', IDS.portWeb],
        ['volume', IDS.volDbRoot],
        ['flavor', 'db.large'],
        ['keypair', 'deploy'],
      ];
      for (const [kind, identity] of cases) {
        expect(resourceName(kind, identity)).to.match(new RegExp(`^${kind}_[0-9a-f]{12}$`));
        expect(resourceName(kind, identity)).to.equal(`${kind}_${digest(identity)}`);
      }
      expect(digest(IDS.db)).to.not.equal(digest(IDS.web));
      expect(priorityBarrierName(2)).to.equal('priority_2_ready');
    });

    it('keeps resource names across recovery points and member changes (a stack update keeps its resources)', () => {
      const before = gen();
      const inv = inventory();
      inv.members = inv.members.filter((m) => m.server.id === IDS.db); // shop-web left the plan
      const after = gen('failover', manifest({ inventory: inv }));
      const dbNames = (s: GeneratedStack) => s.index.filter((e) => [IDS.db, IDS.portDb0, IDS.portDb1, IDS.volDbRoot, IDS.volDbData].includes(e.sourceId ?? '')).map((e) => e.resource);
      expect(dbNames(after)).to.deep.equal(dbNames(before));
      expect(Object.keys(resources(after))).to.not.include(resourceName('server', IDS.web));
    });

    it('indexes every resource with the primary object it recovers', () => {
      const s = gen();
      expect(s.index.map((e) => e.resource)).to.deep.equal(Object.keys(resources(s)).sort());
      expect(s.index.find((e) => e.resource === resourceName('server', IDS.web))).to.deep.equal({ resource: resourceName('server', IDS.web), kind: 'server', sourceId: IDS.web, sourceName: 'shop-web' });
      expect(s.index.find((e) => e.resource === resourceName('volume', IDS.volDbData))?.volumeType, 'the wanted type, which the restore does not apply').to.equal('rbd-ssd');
    });
  });

  describe('boot order: priority groups become depends_on', () => {
    /** Three servers a, b, c cloned from shop-web. */
    function three(): RecoveryPointManifest {
      const inv = inventory();
      const web = inv.members.find((m) => m.server.id === IDS.web)!;
      inv.members = ['a', 'b', 'c'].map((n, i) => {
        const m = structuredClone(web) as Member;
        m.server.id = `44444444-0000-4000-8000-00000000010${i}`;
        m.server.name = `srv-${n}`;
        m.ports[0]!.id = `55555555-0000-4000-8000-00000000010${i}`;
        m.ports[0]!.fixedIps[0]!.ipAddress = `10.20.0.${50 + i}`;
        return m;
      });
      return manifest({ inventory: inv, volumes: [] });
    }
    const srv = (n: string) => resourceName('server', `44444444-0000-4000-8000-00000000010${'abc'.indexOf(n)}`);
    const groupsOf = (groups: string[][]): ProtectionPlan['priority_groups'] => groups.map((members, i) => ({ name: `g${i + 1}`, members }));

    const cases: { title: string; groups: string[][]; deps: Record<string, string[] | undefined>; barriers: Record<string, string[]>; warnings?: number }[] = [
      { title: 'no groups: everything starts at once', groups: [], deps: { a: undefined, b: undefined, c: undefined }, barriers: {} },
      {
        title: 'two groups and an ungrouped server: [a] then [b], c last',
        groups: [['srv-a'], ['srv-b']],
        deps: { a: undefined, b: ['priority_1_ready'], c: ['priority_2_ready'] },
        barriers: { priority_1_ready: [srv('a')], priority_2_ready: ['priority_1_ready', srv('b')].sort() },
      },
      {
        title: 'a group of two by name and ID',
        groups: [['srv-a', '44444444-0000-4000-8000-000000000101'], ['srv-c']],
        deps: { a: undefined, b: undefined, c: ['priority_1_ready'] },
        barriers: { priority_1_ready: [srv('a'), srv('b')].sort(), priority_2_ready: ['priority_1_ready', srv('c')].sort() },
      },
      {
        title: 'a group naming no recovered server passes the wait on (with a warning)',
        groups: [['srv-a'], ['gone'], ['srv-b', 'srv-c']],
        deps: { a: undefined, b: ['priority_2_ready'], c: ['priority_2_ready'] },
        barriers: { priority_1_ready: [srv('a')], priority_2_ready: ['priority_1_ready'], priority_3_ready: ['priority_2_ready', srv('b'), srv('c')].sort() },
        warnings: 1,
      },
    ];
    for (const c of cases) {
      it(c.title, () => {
        const s = gen('failover', three(), resolved(), { priority_groups: groupsOf(c.groups) });
        for (const [n, deps] of Object.entries(c.deps)) expect(res(s, srv(n)).depends_on, `depends_on of srv-${n}`).to.deep.equal(deps);
        const barriers = Object.fromEntries(Object.entries(resources(s)).filter(([, r]) => r.type === 'OS::Heat::None').map(([k, r]) => [k, r.depends_on]));
        expect(barriers).to.deep.equal(c.barriers);
        expect(s.warnings.filter((w) => w.code === 'priority-member-not-found')).to.have.length(c.warnings ?? 0);
      });
    }

    it("a group's barrier also waits for its servers' volume attachments", () => {
      const s = gen();
      expect(res(s, 'priority_1_ready').depends_on).to.deep.equal([resourceName('attach', IDS.volDbData), resourceName('server', IDS.db)].sort());
      expect(res(s, resourceName('server', IDS.web)).depends_on).to.deep.equal(['priority_1_ready']);
    });
  });

  describe('volumes', () => {
    it('boots from the restored root volume and attaches data volumes in attachment order, each after the previous', () => {
      const inv = inventory();
      const db = inv.members.find((m) => m.server.id === IDS.db)!;
      const extra = (n: number) => ({ ...structuredClone(db.volumes[1]!), id: `66666666-0000-4000-8000-00000000001${n}`, name: `extra-${n}`, attachmentOrder: 1 + n, device: `/dev/vd${'bcd'[n]}` });
      db.volumes = [db.volumes[0]!, extra(2), db.volumes[1]!, extra(1)]; // out of order on purpose
      const volumes = [...volumeData(), ...[1, 2].map((n) => ({ ...volumeData()[1]!, sourceVolumeId: `66666666-0000-4000-8000-00000000001${n}`, secondaryBackupId: `99999999-0000-4000-8000-00000000001${n}` }))];
      const s = gen('failover', manifest({ inventory: inv, volumes }));
      const server = res(s, resourceName('server', IDS.db));
      expect(server.properties!.boot_volume).to.deep.equal({ get_attr: [resourceName('volume', IDS.volDbRoot), 'volume_id'] });
      expect(server.properties!.image).to.equal(undefined);
      const chain = [IDS.volDbData, '66666666-0000-4000-8000-000000000011', '66666666-0000-4000-8000-000000000012'].map((v) => resourceName('attach', v));
      expect(res(s, chain[0]!).depends_on).to.equal(undefined);
      expect(res(s, chain[1]!).depends_on).to.deep.equal([chain[0]]);
      expect(res(s, chain[2]!).depends_on).to.deep.equal([chain[1]]);
      expect(res(s, chain[2]!).properties).to.deep.equal({ instance_uuid: { get_attr: [resourceName('server', IDS.db), 'server_id'] }, volume_id: { get_attr: [resourceName('volume', '66666666-0000-4000-8000-000000000012'), 'volume_id'] } });
      expect(Object.keys(resources(s)).filter((k) => k.startsWith('attach_'))).to.have.length(3);
    });

    it('restores each volume from its own backup, as a typed parameter Heat checks (cinder.backup)', () => {
      const s = gen();
      const volume = resourceName('volume', IDS.volDbData);
      expect(res(s, volume).properties!.backup_id).to.deep.equal({ get_param: `${volume}_backup` });
      expect(s.parameters[`${volume}_backup`]).to.equal(IDS.backupData);
      expect((s.template.parameters as Record<string, unknown>)[`${volume}_backup`]).to.deep.include({ type: 'string', constraints: [{ custom_constraint: 'cinder.backup' }] });
    });

    it('never restores two volumes from one backup: such a point is refused', () => {
      const volumes = volumeData();
      volumes[1]!.secondaryBackupId = volumes[0]!.secondaryBackupId;
      const err = failure(() => gen('failover', manifest({ volumes })));
      expect(err.issues).to.have.length(1);
      expect(err.issues[0]!.path).to.equal('$.data.volumes[1].secondaryBackupId');
      expect(err.message).to.contain(`volumes ${IDS.volDbRoot} and ${IDS.volDbData} would both be restored from backup ${IDS.backupRoot}`).and.contain('one backup into one volume at a time');
    });

    it('refuses a partial point unless allowed; allowed, it leaves out what has no data', () => {
      const noData = manifest({ volumes: [volumeData()[0]!] }); // the data volume has no backup: partial
      expect(noData.status).to.equal('partial');
      expect(failure(() => gen('failover', noData)).issues.map((i) => i.path)).to.deep.equal(['$.status']);
      const s = gen('failover', noData, resolved(), {}, { allowPartial: true });
      expect(Object.keys(resources(s))).to.include(resourceName('volume', IDS.volDbRoot)).and.not.include(resourceName('volume', IDS.volDbData));
      expect(Object.keys(resources(s))).to.not.include(resourceName('attach', IDS.volDbData));
      expect(s.warnings.map((w) => w.code)).to.include('volume-data-missing');

      const noRoot = manifest({ volumes: [volumeData()[1]!] });
      const t = gen('failover', noRoot, resolved(), {}, { allowPartial: true });
      expect(Object.keys(resources(t))).to.not.include(resourceName('server', IDS.db));
      expect(t.warnings.find((w) => w.code === 'server-skipped')?.message).to.contain(`root volume ${IDS.volDbRoot} has no data`);
      expect(t.stats.servers).to.equal(1);
    });
  });

  describe('addresses: ip_policy', () => {
    const port = (s: GeneratedStack, id: string) => res(s, resourceName('port', id)).properties!;

    it('preserve: each fixed IP is a parameter on the recovered subnet', () => {
      const s = gen();
      const web = resourceName('port', IDS.portWeb);
      expect(port(s, IDS.portWeb).fixed_ips).to.deep.equal([{ subnet: { get_attr: [resourceName('subnet', IDS.subApp), 'subnet_id'] }, ip_address: { get_param: [dataParam(web), 'ip_addresses', 0] } }]);
      expect(data(s, web).ip_addresses).to.deep.equal(['10.20.0.10']);
      expect(port(s, IDS.portWeb).mac_address).to.deep.equal({ get_param: [dataParam(web), 'mac_address'] });
      expect(port(s, IDS.portWeb).keep_mac, 'the MAC is kept where the network is created').to.deep.equal({ get_attr: [resourceName('net', IDS.netApp), 'created'] });
    });

    it('dhcp: the same subnets, addresses from Neutron', () => {
      const s = gen('failover', manifest(), resolved(), DHCP);
      expect(port(s, IDS.portWeb).fixed_ips).to.deep.equal([{ subnet: { get_attr: [resourceName('subnet', IDS.subApp), 'subnet_id'] } }]);
      expect(data(s, resourceName('port', IDS.portWeb))).to.not.have.property('ip_addresses');
    });

    const mappedTo = (cidr: string): Resolved => {
      const r = resolved();
      r.subnets[IDS.subApp] = { kind: 'map', id: IDS.subAppAtB, cidr };
      return r;
    };
    it('preserve onto a mapped subnet with another CIDR is refused, naming every port and the fix', () => {
      const err = failure(() => gen('failover', manifest(), mappedTo('192.168.7.0/24')));
      expect(err.issues.map((i) => i.message)).to.have.members([
        `port ${IDS.portDb1} keeps 10.20.0.15 (ip_policy preserve), which is outside 192.168.7.0/24, the CIDR of its subnet at site-b`,
        `port ${IDS.portWeb} keeps 10.20.0.10 (ip_policy preserve), which is outside 192.168.7.0/24, the CIDR of its subnet at site-b`,
      ]);
      expect(err.issues[0]!.fix).to.equal('map the subnet to one with the same CIDR, or set ip_policy: dhcp');
      // dhcp renumbers; a DR test keeps the primary's CIDR in its bubble, so preserve works there.
      expect(() => gen('failover', manifest(), mappedTo('192.168.7.0/24'), DHCP)).to.not.throw();
      expect(() => gen('drtest', manifest(), mappedTo('192.168.7.0/24'))).to.not.throw();
      // A wider CIDR holding the address is fine.
      expect(() => gen('failover', manifest(), mappedTo('10.20.0.0/16'))).to.not.throw();
    });

    it('a recreated subnet takes the plan overrides (and refuses a new CIDR with the old gateway)', () => {
      const r = resolved();
      r.subnets[IDS.subDb] = { kind: 'recreate', overrides: { cidr: '10.31.0.0/24', gateway_ip: '10.31.0.1', dns_nameservers: ['10.31.0.2'] } };
      const s = gen('failover', manifest(), r, DHCP);
      expect(data(s, resourceName('subnet', IDS.subDb))).to.include({ cidr: '10.31.0.0/24', gateway_ip: '10.31.0.1' });
      expect(data(s, resourceName('subnet', IDS.subDb))).to.deep.include({ dns_nameservers: ['10.31.0.2'], allocation_pools: [], host_routes: [] });
      r.subnets[IDS.subDb] = { kind: 'recreate', overrides: { cidr: '10.31.0.0/24' } };
      const db = inventory();
      db.subnets[IDS.subDb]!.gatewayIp = '10.30.0.1';
      expect(failure(() => gen('failover', manifest({ inventory: db }), r, DHCP)).issues[0]!.fix).to.equal('set gateway_ip for it in mappings.subnets');
    });

    it('ipInCidr: IPv4 and IPv6, families kept apart', () => {
      const cases: [string, string, boolean][] = [
        ['10.20.0.15', '10.20.0.0/24', true],
        ['10.20.1.15', '10.20.0.0/24', false],
        ['10.20.1.15', '10.20.0.0/16', true],
        ['10.20.0.15', '0.0.0.0/0', true],
        ['2001:db8::5', '2001:db8::/64', true],
        ['2001:db8:0:1::5', '2001:db8::/64', false],
        ['::ffff:10.0.0.1', '::ffff:0:0/96', true],
        ['10.0.0.1', '::/0', false],
        ['not-an-ip', '10.0.0.0/8', false],
        ['10.0.0.1', '10.0.0.0/33', false],
      ];
      for (const [ip, cidr, want] of cases) expect(ipInCidr(ip, cidr), `${ip} in ${cidr}`).to.equal(want);
      expect(parseIp('2001:db8::1:2:3:4:5:6:7'), 'too many groups').to.equal(undefined);
      expect(parseIp('256.0.0.1')).to.equal(undefined);
    });
  });

  describe('security groups', () => {
    const sg = (id: string) => resourceName('secgroup', id);

    it('recreates groups with their rules; a rule naming another group becomes its own resource', () => {
      const s = gen();
      expect(data(s, sg(IDS.sgDb)).rules).to.deep.equal([
        { direction: 'egress', ethertype: 'IPv4', remote_mode: 'remote_ip_prefix' },
        { direction: 'egress', ethertype: 'IPv6', remote_mode: 'remote_ip_prefix' },
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', remote_mode: 'remote_ip_prefix' },
      ]);
      const rule = res(s, resourceName('rule', 'r-db-5432'));
      expect(rule.type).to.equal('OS::Neutron::SecurityGroupRule');
      expect(rule.properties!.security_group).to.deep.equal({ get_attr: [sg(IDS.sgDb), 'security_group_id'] });
      expect(rule.properties!.remote_group).to.deep.equal({ get_attr: [sg(IDS.sgWeb), 'security_group_id'] });
      expect(data(s, resourceName('rule', 'r-db-5432'))).to.deep.equal({ direction: 'ingress', ethertype: 'IPv4', description: 'postgres from web', protocol: 'tcp', port_range_min: 5432, port_range_max: 5432 });
    });

    it("a rule naming its own group stays in the group (Heat's remote_mode remote_group_id)", () => {
      const s = gen();
      expect(data(s, sg(IDS.sgDefault)).rules).to.deep.include({ direction: 'ingress', ethertype: 'IPv4', remote_mode: 'remote_group_id' });
    });

    it("the primary's 'default' group is recreated under another name (Neutron reserves it)", () => {
      const s = gen();
      expect(data(s, sg(IDS.sgDefault)).name).to.equal('shop-default');
      expect(s.warnings.find((w) => w.code === 'security-group-renamed')?.message).to.contain("'default' is recreated as 'shop-default'");
    });

    it('a mapped group is used as it is: a parameter checked by Heat, no rules added; rules of other groups naming it refer to it', () => {
      const r = resolved();
      r.securityGroups[IDS.sgWeb] = { kind: 'map', id: 'sg-web-at-b' };
      const s = gen('failover', manifest(), r);
      expect(resources(s)).to.not.have.property(sg(IDS.sgWeb));
      expect((s.environment.parameters as Record<string, unknown>)[`${sg(IDS.sgWeb)}_id`]).to.equal('sg-web-at-b');
      expect(res(s, resourceName('rule', 'r-db-5432')).properties!.remote_group).to.deep.equal({ get_param: `${sg(IDS.sgWeb)}_id` });
      expect(res(s, resourceName('port', IDS.portWeb)).properties!.security_groups).to.deep.include({ get_param: `${sg(IDS.sgWeb)}_id` });
    });

    it('recreates a group only rules name (remote-only), and leaves out rules it cannot recreate, with warnings', () => {
      const inv = inventory();
      inv.securityGroups['sg-ops'] = { id: 'sg-ops', name: 'ops', description: '', stateful: false, projectId: 'p-shop', rules: [], remoteOnly: true, tags: [] };
      inv.securityGroups[IDS.sgWeb]!.rules.push(
        { id: 'r-web-ssh', direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22, remoteGroupId: 'sg-ops', description: 'ssh from ops' },
        { id: 'r-web-gone', direction: 'ingress', ethertype: 'IPv4', remoteGroupId: 'sg-gone', description: '' },
        { id: 'r-web-ag', direction: 'ingress', ethertype: 'IPv4', remoteAddressGroupId: 'ag-1', description: '' },
      );
      const r = resolved();
      r.securityGroups['sg-ops'] = { kind: 'recreate' };
      const s = gen('failover', manifest({ inventory: inv }), r);
      expect(res(s, sg('sg-ops')).type).to.equal('DR::SecurityGroup');
      expect(res(s, resourceName('rule', 'r-web-ssh')).properties!.remote_group).to.deep.equal({ get_attr: [sg('sg-ops'), 'security_group_id'] });
      expect(resources(s)).to.not.have.property(resourceName('rule', 'r-web-gone'));
      expect(s.warnings.map((w) => w.code)).to.include.members(['remote-group-missing', 'remote-address-group-unsupported', 'security-group-stateless', 'default-egress-kept']);
    });

    it('ports with port security disabled carry no groups', () => {
      const inv = inventory();
      inv.members.find((m) => m.server.id === IDS.web)!.ports[0]!.portSecurityEnabled = false;
      const s = gen('failover', manifest({ inventory: inv }));
      expect(res(s, resourceName('port', IDS.portWeb)).properties!.security_groups).to.deep.equal([]);
      expect(data(s, resourceName('port', IDS.portWeb)).port_security_enabled).to.equal(false);
    });
  });

  describe('determinism', () => {
    it('the same input gives byte-identical YAML', () => {
      const a = gen('drtest');
      const b = gen('drtest');
      expect(b.yaml).to.deep.equal(a.yaml);
      expect(b.files).to.deep.equal(a.files);
    });

    it('whatever order the maps and lists of the input come in', () => {
      const m = manifest();
      const shuffled = reverseKeys(structuredClone(m));
      shuffled.members.reverse();
      for (const mem of shuffled.members) {
        mem.volumes.reverse();
        mem.ports.reverse();
      }
      for (const g of Object.values(shuffled.shared.securityGroups)) g.rules.reverse();
      shuffled.data.volumes.reverse();
      const r = reverseKeys(resolved());
      for (const mode of MODES) {
        const a = gen(mode);
        const b = generate(shuffled, plan(), r, mode, opts);
        expect(b.yaml, mode).to.deep.equal(a.yaml);
        expect(b.index).to.deep.equal(a.index);
        expect(b.warnings).to.deep.equal(a.warnings);
      }
    });
  });

  describe('injection: user and primary strings reach Heat only as parameter values', () => {
    const hostile = ['x"; get_file: /etc/passwd', '{get_param: ferry_plan}', 'get_file', "'] } { get_resource: ", 'on', '~', '02:00', 'a\nb: c', '${HOME}'];

    it('names, descriptions, metadata keys and values, tags and keys never appear in the template', () => {
      const inv = inventory();
      const [db, web] = inv.members as [Member, Member];
      web.server.name = hostile[0]!;
      db.server.name = hostile[1]!;
      web.server.metadata = { get_file: '/etc/passwd', [hostile[1]!]: hostile[3]!, role: 'on' };
      web.server.tags = [hostile[2]!, hostile[5]!];
      web.ports[0]!.name = hostile[7]!;
      web.ports[0]!.tags = [hostile[8]!];
      db.volumes[1]!.name = hostile[3]!;
      db.volumes[1]!.description = hostile[0]!;
      db.volumes[1]!.metadata = { get_param: 'ferry_point' };
      inv.networks[IDS.netDb]!.name = hostile[1]!;
      inv.subnets[IDS.subDb]!.name = hostile[0]!;
      inv.securityGroups[IDS.sgWeb]!.name = hostile[0]!;
      inv.securityGroups[IDS.sgWeb]!.description = hostile[1]!;
      inv.keypairs.deploy!.publicKey = hostile[0]!;
      inv.serverGroups[IDS.serverGroup]!.name = hostile[6]!;
      db.server.serverGroups[0]!.name = hostile[6]!;
      const s = gen('failover', manifest({ inventory: inv }));

      const templateStrings = strings(s.template);
      for (const h of hostile) {
        expect(s.yaml.template, `template text contains ${JSON.stringify(h)}`).to.not.contain(h === 'on' || h === '~' || h === 'get_file' ? `: ${h}\n` : h);
        expect(templateStrings, `template value ${JSON.stringify(h)}`).to.not.include(h);
      }
      // Every key of the template is Heat syntax or a generated name.
      const keys = (v: unknown, out: string[] = []): string[] => {
        if (Array.isArray(v)) v.forEach((x) => keys(x, out));
        else if (v && typeof v === 'object') {
          for (const [k, x] of Object.entries(v)) {
            out.push(k);
            keys(x, out);
          }
        }
        return out;
      };
      for (const k of keys(s.template)) expect(k, 'template key').to.match(/^(?:[a-z][a-z0-9_]*|[a-z]+_[0-9a-f]{12}(?:_[a-z]+)?|priority_\d+_ready)$/);
      // ... and the values sit in the parameters, intact, where Heat treats them as data.
      expect(data(s, resourceName('server', IDS.web))).to.deep.include({ name: hostile[0], metadata: { [hostile[1]!]: hostile[3], get_file: '/etc/passwd', role: 'on' }, tags: [hostile[5], hostile[2]].sort() });
      expect(data(s, resourceName('volume', IDS.volDbData))).to.deep.include({ name: hostile[3], description: hostile[0], metadata: { get_param: 'ferry_point' } });
      expect(parse(s.yaml.parameters, { version: '1.1' })).to.deep.equal({ parameters: s.parameters });
    });

    it('YAML 1.1 scalars stay strings for Heat (PyYAML would read on, yes, ~ and 02:00 as other types)', () => {
      const text = toYaml({ a: 'on', b: 'yes', c: '~', d: '02:00', e: 'null', f: '0x1F', g: '2021-04-16', h: true, i: 5 });
      expect(text).to.equal('a: "on"\nb: "yes"\nc: "~"\nd: "02:00"\ne: "null"\nf: "0x1F"\ng: "2021-04-16"\nh: true\ni: 5\n');
    });
  });

  describe('resolution problems are collected', () => {
    it('lists every unresolved object with its fix', () => {
      const r = resolved();
      delete r.networks[IDS.netApp];
      delete r.flavors['db.large'];
      delete r.images[IDS.image];
      delete r.securityGroups[IDS.sgWeb];
      const err = failure(() => gen('failover', manifest(), r));
      expect(err.issues.map((i) => i.path)).to.have.members([`resolved.networks["${IDS.netApp}"]`, 'resolved.flavors["db.large"]', `resolved.images["${IDS.image}"]`, `resolved.securityGroups["${IDS.sgWeb}"]`]);
      expect(err.message).to.match(/^cannot generate the recovery stack: /);
      expect(err.issues.find((i) => i.path.startsWith('resolved.flavors'))!.fix).to.contain('recreate_missing');
    });

    it('a mapped subnet on a recreated network is refused', () => {
      const r = resolved();
      r.subnets[IDS.subDb] = { kind: 'map', id: 'sub-x', cidr: '10.30.0.0/24' };
      expect(failure(() => gen('failover', manifest(), r)).issues[0]!.message).to.contain('its network is recreated');
    });

    it('floating IPs need an external network for a failover (not for a DR test or standby)', () => {
      const r = resolved();
      delete r.externalNetworkId;
      expect(failure(() => gen('failover', manifest(), r)).issues[0]!.path).to.equal('resolved.externalNetworkId');
      expect(() => gen('drtest', manifest(), r)).to.not.throw();
      expect(() => gen('standby', manifest(), r)).to.not.throw();
    });

    it('refuses a run ID that cannot be a tag', () => {
      for (const runId of ['', 'a,b', 'a/b', 'x'.repeat(50)]) expect(failure(() => gen('failover', manifest(), resolved(), {}, { runId })).issues[0]!.path).to.equal('options.runId');
    });
  });

  describe('what the stack asks of the secondary', () => {
    it('quota demand per mode', () => {
      const [failover, drtest, standby] = MODES.map((m) => gen(m).demand);
      expect(failover).to.deep.equal({ instances: 2, cores: 5, ramMiB: 18432, volumes: 2, volumeGiB: 70, ports: 3, networks: 1, subnets: 1, securityGroups: 3, securityGroupRules: 10, floatingIps: 1, keypairs: 1, serverGroups: 1 });
      expect(drtest, 'a DR test creates every network and no floating IP').to.deep.include({ networks: 2, subnets: 2, floatingIps: 0, instances: 2 });
      expect(standby, 'a standby stack runs no server').to.deep.include({ instances: 0, cores: 0, ramMiB: 0, volumes: 2, floatingIps: 0 });
    });

    it("warns when the stack passes Heat's default limits", () => {
      const { manifest: big, resolved: r } = bigWorkload(200);
      const s = generate(big, plan(), r, 'failover', opts);
      expect(s.stats.servers).to.equal(200);
      expect(s.stats.totalResources).to.be.greaterThan(1000);
      expect(s.warnings.find((w) => w.code === 'heat-limits')?.message).to.contain('max_resources_per_stack 1000');
      expect(gen().warnings.map((w) => w.code)).to.not.include('heat-limits');
    });

    it('leaves floating IPs out for ports on recreated networks (no router), with a warning', () => {
      const inv = inventory();
      const web = inv.members.find((m) => m.server.id === IDS.web)!;
      web.ports[0]!.networkId = IDS.netDb;
      web.ports[0]!.fixedIps = [{ subnetId: IDS.subDb, ipAddress: '10.30.0.9' }];
      const s = gen('failover', manifest({ inventory: inv }));
      expect(Object.keys(resources(s)).filter((k) => k.startsWith('fip_'))).to.deep.equal([]);
      expect(s.warnings.map((w) => w.code)).to.include('floating-ip-unroutable');
    });
  });
});
