// Resolution of a recovery point's objects at the secondary: the plan's rules as table tests
// over the secondary's listings (resolveFrom, pure), and the listings themselves (gatherFacts):
// one list request per resource type, only for the types the point needs, never a GET per item.
import { expect } from 'chai';
import nock from 'nock';
import type { Flavor } from '../../../lib/openstack/compute/flavors.js';
import type { Network } from '../../../lib/openstack/network/networks.js';
import type { Subnet } from '../../../lib/openstack/network/subnets.js';
import type { VolumeType } from '../../../lib/openstack/blockstorage/types.js';
import { ResolveError, gatherFacts, resolve, resolveFrom, type SecondaryFacts } from '../../../lib/heat/resolve.js';
import type { ProtectionPlan } from '../../../lib/config/protection-plan.js';
import type { RecoveryPointManifest } from '../../../lib/replication/recovery-point.js';
import { CINDER, GLANCE, NEUTRON, NOVA, PROJECT_ID, expectAllCalled, mockAuth, mockCinderVersion, mockNovaVersion, testSite, useNock } from '../../support/fake-cloud.js';
import { IDS, manifest, plan, resolved } from './fixtures.js';

const B = 'p-shop-b';
const OTHER = 'p-other';

// Shapes: api-ref network v2 "List networks"/"List subnets", compute "List Flavors With
// Details", block-storage "List all volume types" (Zed), reduced to the fields resolution reads.
const network = (id: string, name: string, extra: Partial<Network> = {}) => ({ id, name, project_id: B, shared: false, 'router:external': false, subnets: [], ...extra }) as unknown as Network;
const subnet = (id: string, name: string, networkId: string, cidr: string, extra: Partial<Subnet> = {}) => ({ id, name, network_id: networkId, cidr, project_id: B, ...extra }) as unknown as Subnet;
const flavor = (id: string, name: string, disabled = false) => ({ id, name, 'OS-FLV-DISABLED:disabled': disabled }) as unknown as Flavor;
const vtype = (id: string, name: string) => ({ id, name }) as unknown as VolumeType;

/** What site-b holds for the fixture workload (resolves to fixtures.resolved()). */
function facts(): SecondaryFacts {
  return {
    site: 'site-b',
    projectId: B,
    networks: [
      network(IDS.netAppAtB, 'app-net-dr'),
      network('net-other-app', 'app-net-dr', { project_id: OTHER }), // another project's: not a name match
      network(IDS.externalAtB, 'public', { project_id: 'admin', 'router:external': true }),
    ],
    subnets: [subnet(IDS.subAppAtB, 'app-v4-dr', IDS.netAppAtB, '10.20.0.0/24'), subnet('sub-b-other', 'spare', IDS.netAppAtB, '10.99.0.0/24')],
    securityGroups: [],
    flavors: [flavor(IDS.flavorSmallAtB, 'm1.small'), flavor('f-old', 'db.large', true)],
    images: [{ id: IDS.imageAtB, name: 'cirros', status: 'active' }],
    volumeTypes: [vtype('vt-b', 'rbd-ssd')],
    keypairs: [{ name: 'ops' }],
    computeZones: ['nova'],
  };
}

function problems(fn: () => unknown): { path: string; message: string; fix: string }[] {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ResolveError);
    return (err as ResolveError).issues;
  }
  throw new Error('expected a ResolveError');
}

const withPlan = (over: Partial<ProtectionPlan['mappings']> = {}, top: Partial<ProtectionPlan> = {}): ProtectionPlan => {
  const p = plan();
  return { ...p, ...top, mappings: { ...p.mappings, ...over } };
};

describe('heat/resolve', () => {
  it("the fixture's facts resolve to the fixture's Resolved (the generator tests' input)", () => {
    expect(resolveFrom(manifest(), plan(), facts())).to.deep.equal(resolved());
  });

  describe('networks and subnets', () => {
    it('an unlisted network uses the project\'s (or a shared) network of the same name; another project\'s does not count', () => {
      const f = facts();
      f.networks.push(network('net-db-b', 'db-net'));
      f.subnets.push(subnet('sub-db-b', 'db-v4', 'net-db-b', '10.30.0.0/24'));
      const p = withPlan({ networks: [{ from: 'app-net', to: 'app-net-dr' }] });
      const r = resolveFrom(manifest(), p, f);
      expect(r.networks[IDS.netDb]).to.deep.equal({ kind: 'map', id: 'net-db-b', name: 'db-net' });
      expect(r.subnets[IDS.subDb], 'the subnet follows: same CIDR on the mapped network').to.deep.equal({ kind: 'map', id: 'sub-db-b', cidr: '10.30.0.0/24' });
      f.networks[f.networks.length - 1] = network('net-db-b', 'db-net', { project_id: OTHER, shared: true });
      expect(resolveFrom(manifest(), p, f).networks[IDS.netDb]).to.include({ kind: 'map', id: 'net-db-b' });
      f.networks[f.networks.length - 1] = network('net-db-b', 'db-net', { project_id: OTHER });
      expect(problems(() => resolveFrom(manifest(), p, f))).to.deep.equal([
        { path: 'mappings.networks', message: `network db-net (${IDS.netDb}) is not mapped and site-b has no network named 'db-net'`, fix: 'add {from: db-net, to: NAME} or {from: db-net, recreate: true} to mappings.networks' },
      ]);
    });

    it('a mapping names its target by name (own or shared) or by ID (any); two of a name are ambiguous', () => {
      const f = facts();
      f.networks.push(network('net-dup', 'app-net-dr'));
      const byName = problems(() => resolveFrom(manifest(), plan(), f));
      expect(byName[0]).to.deep.include({ path: 'mappings.networks[0].to', message: `2 networks are named 'app-net-dr' (${['net-dup', IDS.netAppAtB].sort().join(', ')}) at site-b (network app-net maps to it)` });
      const p = withPlan({ networks: [{ from: 'app-net', to: 'net-other-app' }, { from: 'db-net', recreate: true }] });
      f.subnets.push(subnet('sub-other', 'x', 'net-other-app', '10.20.0.0/24', { project_id: OTHER }));
      expect(resolveFrom(manifest(), p, f).networks[IDS.netApp]).to.deep.equal({ kind: 'map', id: 'net-other-app', name: 'app-net-dr' });
    });

    it('subnets: recreated with their network, overrides from the plan, and refused when they cannot follow', () => {
      const p = withPlan({ subnets: [{ from: 'db-v4', recreate: true, cidr: '10.31.0.0/24', gateway_ip: '10.31.0.1' }] });
      expect(resolveFrom(manifest(), p, facts()).subnets[IDS.subDb]).to.deep.equal({ kind: 'recreate', overrides: { cidr: '10.31.0.0/24', gateway_ip: '10.31.0.1' } });
      const f = facts();
      f.subnets = [subnet('sub-b-other', 'spare', IDS.netAppAtB, '10.99.0.0/24')];
      expect(problems(() => resolveFrom(manifest(), plan(), f))[0]).to.deep.include({
        path: 'mappings.subnets',
        message: "subnet app-v4 (10.20.0.0/24) follows network app-net-dr at site-b, which has no subnet with CIDR 10.20.0.0/24 or named 'app-v4'",
      });
      f.subnets.push(subnet('sub-elsewhere', 'x', 'net-zzz', '10.20.0.0/24'));
      const mapped = withPlan({ subnets: [{ from: 'app-v4', to: 'sub-elsewhere' }] });
      expect(problems(() => resolveFrom(manifest(), mapped, f))[0]!.message).to.contain('is not on network app-net-dr');
    });
  });

  describe('the other objects', () => {
    it('security groups are recreated unless mapped to one of the project', () => {
      const f = facts();
      f.securityGroups = [{ id: 'sg-b-web', name: 'web-dr', project_id: B }, { id: 'sg-x', name: 'web-dr', project_id: OTHER }];
      const p = withPlan({ security_groups: { map: [{ from: 'web', to: 'web-dr' }] } });
      const r = resolveFrom(manifest(), p, f);
      expect(r.securityGroups).to.deep.equal({ [IDS.sgWeb]: { kind: 'map', id: 'sg-b-web' }, [IDS.sgDb]: { kind: 'recreate' }, [IDS.sgDefault]: { kind: 'recreate' } });
      f.securityGroups = [];
      expect(problems(() => resolveFrom(manifest(), p, f))[0]!.path).to.equal('mappings.security_groups.map[0].to');
    });

    it('flavors: mapped, the same name (not a disabled one), else recreated when recreate_missing allows', () => {
      const r = resolveFrom(manifest(), plan(), facts());
      expect(r.flavors).to.deep.equal({ 'db.large': { kind: 'recreate' }, 'm1.small': { kind: 'map', id: IDS.flavorSmallAtB, name: 'm1.small' } });
      const strict = withPlan({ flavors: { map: [], recreate_missing: false } });
      expect(problems(() => resolveFrom(manifest(), strict, facts())).map((i) => i.message)).to.deep.equal(['flavor db.large is not at site-b and recreate_missing is false']);
      const bad = withPlan({ flavors: { map: [{ from: 'm1.small', to: 'g9.huge' }], recreate_missing: true } });
      expect(problems(() => resolveFrom(manifest(), bad, facts()))[0]).to.deep.include({ path: 'mappings.flavors.map[0].to', message: "no flavor 'g9.huge' at site-b" });
    });

    it("images: the point's active copy, or the plan's mapping", () => {
      const f = facts();
      f.images = [{ id: IDS.imageAtB, name: 'cirros', status: 'queued' }];
      expect(problems(() => resolveFrom(manifest(), plan(), f))[0]).to.deep.include({ path: '$.data.images', message: `the copy ${IDS.imageAtB} of image cirros is not an active image at site-b` });
      f.images.push({ id: 'img-golden', name: 'cirros-golden', status: 'active' });
      const mapped = withPlan({ images: { map: [{ from: 'cirros', to: 'cirros-golden' }] } });
      expect(resolveFrom(manifest(), mapped, f).images).to.deep.equal({ [IDS.image]: 'img-golden' });
    });

    it('volume types, zones and keypairs: mapped, the same name, else the default, the scheduler, or recreated', () => {
      const f = facts();
      const p = withPlan({ volume_types: [], availability_zones: [] });
      expect(resolveFrom(manifest(), p, f)).to.deep.include({ volumeTypes: { ssd: null }, computeZones: { az1: null } });
      f.volumeTypes.push(vtype('vt-ssd-b', 'ssd'));
      f.computeZones = ['az1', 'nova'];
      expect(resolveFrom(manifest(), p, f)).to.deep.include({ volumeTypes: { ssd: 'ssd' }, computeZones: { az1: 'az1' } });
      f.computeZones = undefined;
      expect(resolveFrom(manifest(), p, f).computeZones, 'zones unknown: the scheduler chooses').to.deep.equal({ az1: null });
      f.computeZones = ['az9'];
      expect(problems(() => resolveFrom(manifest(), plan(), f))[0]).to.deep.include({ path: 'mappings.availability_zones[0].to', message: "site-b has no available availability zone 'nova' (it has az9)" });
      const keys = withPlan({ keypairs: { map: [{ from: 'deploy', to: 'deploy-b' }] } });
      expect(problems(() => resolveFrom(manifest(), keys, facts()))[0]).to.deep.include({ path: 'mappings.keypairs.map[0].to', message: "the user at site-b has no keypair 'deploy-b'" });
    });

    it('the external network: the only one, the named one, or none when there are several', () => {
      const f = facts();
      expect(resolveFrom(manifest(), plan(), f).externalNetworkId).to.equal(IDS.externalAtB);
      f.networks.push(network('ext-2', 'public-2', { project_id: 'admin', 'router:external': true }));
      expect(resolveFrom(manifest(), plan(), f)).to.not.have.property('externalNetworkId');
      expect(resolveFrom(manifest(), plan(), f, { externalNetwork: 'public-2' }).externalNetworkId).to.equal('ext-2');
      expect(problems(() => resolveFrom(manifest(), plan(), f, { externalNetwork: 'nope' }))[0]!.fix).to.equal('name one of: public, public-2');
    });

    it('collects every problem into one error', () => {
      const f = facts();
      f.networks = [];
      f.images = [];
      f.computeZones = [];
      const list = problems(() => resolveFrom(manifest(), plan(), f));
      expect(list.map((i) => i.path)).to.deep.equal(['mappings.networks[0].to', '$.data.images', 'mappings.availability_zones[0].to']);
    });
  });

  describe('gatherFacts: one list per resource type', () => {
    useNock();
    const base = '/v2.1';
    const cbase = `/v3/${PROJECT_ID}`;

    function mockLists(opts: { securityGroups: boolean }) {
      mockAuth();
      mockNovaVersion();
      mockCinderVersion();
      nock(NEUTRON)
        .get('/v2.0/networks')
        .reply(200, { networks: [network(IDS.netAppAtB, 'app-net-dr', { project_id: PROJECT_ID }), network(IDS.externalAtB, 'public', { 'router:external': true })] })
        .get('/v2.0/subnets')
        .reply(200, { subnets: [subnet(IDS.subAppAtB, 'app-v4-dr', IDS.netAppAtB, '10.20.0.0/24', { project_id: PROJECT_ID })] });
      if (opts.securityGroups) {
        nock(NEUTRON)
          .get('/v2.0/security-groups')
          .query((q) => JSON.stringify(q) === JSON.stringify({ fields: ['id', 'name', 'project_id'] }))
          .reply(200, { security_groups: [{ id: 'sg-b-web', name: 'web-dr', project_id: PROJECT_ID }] });
      }
      nock(NOVA)
        .get(`${base}/flavors/detail`)
        .query({ is_public: 'None' })
        .reply(200, { flavors: [flavor(IDS.flavorSmallAtB, 'm1.small')] })
        .get(`${base}/os-keypairs`)
        .reply(200, { keypairs: [{ keypair: { name: 'ops', public_key: 'ssh-ed25519 AAAA', fingerprint: 'x' } }] })
        .get(`${base}/os-availability-zone`)
        .reply(200, { availabilityZoneInfo: [{ zoneName: 'nova', zoneState: { available: true }, hosts: null }, { zoneName: 'down', zoneState: { available: false }, hosts: null }] });
      nock(GLANCE)
        .get('/v2/images')
        .query({ visibility: 'all' })
        .reply(200, { images: [{ id: IDS.imageAtB, name: 'cirros', status: 'active' }], first: '/v2/images', schema: '/v2/schemas/images' });
      nock(CINDER)
        .get(`${cbase}/types`)
        .reply(200, { volume_types: [vtype('vt-b', 'rbd-ssd')] });
    }

    it('lists each type once (all pages) and resolves from the listings', async () => {
      mockLists({ securityGroups: false });
      const { site } = testSite();
      const f = await gatherFacts(site, manifest(), plan());
      expectAllCalled();
      expect(f.projectId).to.equal(PROJECT_ID);
      expect(f.computeZones, 'available zones only').to.deep.equal(['nova']);
      expect(f.securityGroups, 'not listed: the plan maps none').to.deep.equal([]);
    });

    it('lists security groups (their IDs and names only) when the plan maps some, and resolve() puts it together', async () => {
      mockLists({ securityGroups: true });
      const { site } = testSite();
      const p = withPlan({ security_groups: { map: [{ from: 'web', to: 'web-dr' }] } });
      const r = await resolve(site, manifest(), p);
      expectAllCalled();
      expect(r.securityGroups[IDS.sgWeb]).to.deep.equal({ kind: 'map', id: 'sg-b-web' });
      expect(r.projectId).to.equal(PROJECT_ID);
      expect(r.networks[IDS.netApp]).to.deep.equal({ kind: 'map', id: IDS.netAppAtB, name: 'app-net-dr' });
    });

    it('lists only what the point needs: no images for volume-booted members, no keypairs without keys', async () => {
      const m: RecoveryPointManifest = manifest();
      mockAuth();
      nock(NEUTRON).get('/v2.0/networks').reply(200, { networks: [] }).get('/v2.0/subnets').reply(200, { subnets: [] });
      mockNovaVersion();
      nock(NOVA).get(`${base}/flavors/detail`).query({ is_public: 'None' }).reply(200, { flavors: [] });
      const slim = { ...m, members: m.members.filter((x) => x.server.bootFromVolume).map((x) => ({ ...x, server: { ...x.server, keyName: undefined, availabilityZone: '' }, volumes: x.volumes.map((v) => ({ ...v, volumeType: undefined })) })) } as RecoveryPointManifest;
      const { site } = testSite();
      const f = await gatherFacts(site, slim, plan());
      expectAllCalled();
      expect(f).to.deep.include({ images: [], volumeTypes: [], keypairs: [], securityGroups: [] });
      expect(f.computeZones).to.equal(undefined);
    });
  });
});
