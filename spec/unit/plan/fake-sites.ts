// Two fake sites for the plan tests: the primary is spec/bench/discovery.ts's serveWorkload
// (Nova, Cinder, Neutron, Glance at the fake-cloud endpoints) plus the Cinder calls readiness
// adds (os-services, limits); the secondary answers at *.site-b.test (Keystone, Swift and
// Placement are shared with site A, as endpoint overrides leave them) with the listings
// readiness makes. Bodies follow the Zed API references: Nova limits and
// os-availability-zone, Cinder os-services, limits and os-availability-zone, Neutron
// quota-details, Glance images with in: filters.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nock from 'nock';
import type { Site } from '../../../lib/openstack/site.js';
import { cinderVolumeType, glanceImage, neutronNetwork, neutronSecurityGroup, neutronSubnet, novaKeypair, scaleWorkload, serveWorkload, uuid, VOLUME_TYPE_CEPH } from '../../bench/discovery.js';
import { CINDER_B } from '../../support/fake-cinder.js';
import { CINDER, KEYSTONE, PASSWORD, PLACEMENT, PROJECT_ID, SWIFT, testSite } from '../../support/fake-cloud.js';
import { FakeSwift } from '../../support/fake-swift.js';

type Obj = Record<string, unknown>;

export { CINDER_B };
export const NOVA_B = 'https://nova.site-b.test:8774';
export const GLANCE_B = 'https://glance.site-b.test:9292';
export const NEUTRON_B = 'https://neutron.site-b.test:9696';
export const HEAT_B = 'https://heat.site-b.test:8004';

/** Site B's endpoints (clouds.yaml `<service>_endpoint_override`); identity, Swift and Placement stay site A's. */
export const SITE_B_OVERRIDES: Record<string, string> = {
  compute: `${NOVA_B}/v2.1`,
  'block-storage': `${CINDER_B}/v3/%(project_id)s`,
  image: GLANCE_B,
  network: NEUTRON_B,
  orchestration: `${HEAT_B}/v1/%(project_id)s`,
};

export function siteA(): Site {
  return testSite().site;
}

export function siteB(): Site {
  return testSite({ name: 'site-b', endpoint_overrides: { ...SITE_B_OVERRIDES } }).site;
}

const json = { 'Content-Type': 'application/json' };

export interface ComputeLimits {
  maxTotalInstances: number;
  totalInstancesUsed: number;
  maxTotalCores: number;
  totalCoresUsed: number;
  maxTotalRAMSize: number;
  totalRAMUsed: number;
}

export interface SecondaryModel {
  networks: Obj[];
  subnets: Obj[];
  securityGroups: Obj[];
  flavors: Obj[];
  images: Obj[];
  volumeTypes: Obj[];
  keypairs: Obj[];
  computeZones: string[];
  volumeZones: string[];
  computeLimits: ComputeLimits;
  volumeLimits: Obj;
  networkQuota: Record<string, { limit: number; used: number; reserved: number }>;
  /** cinder-backup services, or 'forbidden' (Cinder's default policy for members). */
  backupServices: Obj[] | 'forbidden';
  /** Services whose probe answers 503. */
  down: Set<'orchestration' | 'image'>;
}

export function novaFlavor(id: string, name: string, vcpus: number, ram: number, disk: number): Obj {
  return {
    id,
    name,
    ram,
    disk,
    swap: 0,
    'OS-FLV-EXT-DATA:ephemeral': 0,
    'OS-FLV-DISABLED:disabled': false,
    vcpus,
    'os-flavor-access:is_public': true,
    rxtx_factor: 1.0,
    links: [{ rel: 'self', href: `${NOVA_B}/v2.1/flavors/${id}` }],
    description: null,
    extra_specs: {},
  };
}

export function cinderBackupService(host: string, state = 'up', status = 'enabled'): Obj {
  return { binary: 'cinder-backup', host, zone: 'nova', status, state, updated_at: '2026-11-27T03:59:50.000000', disabled_reason: null, cluster: null, replication_status: 'disabled', active_backend_id: null, frozen: false };
}

/** A secondary that can take scaleWorkload's plan: same network names and CIDRs, m1.tiny, ceph, zone nova, room to spare. */
export function secondaryModel(): SecondaryModel {
  const nets = [0, 1, 2, 3].map((i) => ({ id: uuid(0xb2e7, i), subnet: uuid(0xb5b7, i), cidr: `10.${i}.0.0/16` }));
  return {
    networks: nets.map((x, i) => neutronNetwork(x.id, `net-${i}`, [x.subnet])),
    subnets: nets.map((x) => neutronSubnet(x.subnet, x.id, x.cidr)),
    securityGroups: [neutronSecurityGroup(uuid(0xb59, 1), 'default', [])],
    flavors: [novaFlavor('1', 'm1.tiny', 1, 512, 1), novaFlavor('2', 'm1.small', 1, 2048, 20)],
    images: [glanceImage(uuid(0xb1a6, 1), 'golden-b')],
    volumeTypes: [cinderVolumeType(VOLUME_TYPE_CEPH, 'ceph')],
    keypairs: [novaKeypair('ops-b')],
    computeZones: ['nova'],
    volumeZones: ['nova'],
    computeLimits: { maxTotalInstances: 200, totalInstancesUsed: 0, maxTotalCores: 400, totalCoresUsed: 0, maxTotalRAMSize: 819200, totalRAMUsed: 0 },
    volumeLimits: {
      maxTotalVolumes: 200,
      maxTotalSnapshots: 200,
      maxTotalVolumeGigabytes: 20000,
      maxTotalBackups: 2000,
      maxTotalBackupGigabytes: 200000,
      totalVolumesUsed: 0,
      totalGigabytesUsed: 0,
      totalSnapshotsUsed: 0,
      totalBackupsUsed: 0,
      totalBackupGigabytesUsed: 0,
    },
    networkQuota: {
      network: { limit: 100, used: 4, reserved: 0 },
      subnet: { limit: 100, used: 4, reserved: 0 },
      port: { limit: 500, used: 0, reserved: 0 },
      security_group: { limit: 10, used: 1, reserved: 0 },
      security_group_rule: { limit: 100, used: 4, reserved: 0 },
    },
    backupServices: [cinderBackupService('site-b')],
    down: new Set(),
  };
}

function params(uri: string): URLSearchParams {
  return new URL(uri, 'http://x').searchParams;
}

/** Neutron list filters: exact matches, a repeated parameter means any of them. */
function neutronFilter(items: Obj[], q: URLSearchParams, keys: string[]): Obj[] {
  let out = items;
  for (const k of keys) {
    const values = q.getAll(k);
    if (values.length > 0) out = out.filter((x) => values.includes(String(x[k])));
  }
  return out;
}

/** Glance's `in:` operator: `in:a,b` or `in:"a,b","c"`. */
function inValues(v: string): string[] {
  const body = v.slice(3);
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|([^,]+)/g;
  for (const m of body.matchAll(re)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

export interface ServedSecondary {
  /** `METHOD path?query` of every request to site B's own endpoints, in order. */
  requests: string[];
}

/** Serves site B from the model (persisted interceptors; the model may change between calls). */
export function serveSecondary(m: SecondaryModel): ServedSecondary {
  const log: ServedSecondary = { requests: [] };
  const note = (method: string) => (uri: string) => log.requests.push(`${method} ${decodeURIComponent(uri)}`);
  const cb = `/v3/${PROJECT_ID}`;
  nock(NOVA_B)
    .persist()
    .get('/v2.1/')
    .reply(200, { version: { id: 'v2.1', status: 'CURRENT', version: '2.93', min_version: '2.1', updated: '2013-07-23T11:33:21Z', links: [], media_types: [] } })
    .get('/v2.1/flavors/detail')
    .query(true)
    .reply((uri) => (note('GET')(uri), [200, { flavors: m.flavors }, json]))
    .get('/v2.1/limits')
    .query(true)
    .reply((uri) => (note('GET')(uri), [200, { limits: { rate: [], absolute: { maxTotalKeypairs: 100, maxServerMeta: 128, maxServerGroups: 10, maxServerGroupMembers: 10, totalServerGroupsUsed: 0, ...m.computeLimits } } }, json]))
    .get('/v2.1/os-availability-zone')
    .reply((uri) => (note('GET')(uri), [200, { availabilityZoneInfo: m.computeZones.map((z) => ({ zoneName: z, zoneState: { available: true }, hosts: null })) }, json]))
    .get('/v2.1/os-keypairs')
    .query(true)
    .reply((uri) => (note('GET')(uri), [200, { keypairs: m.keypairs.map((k) => ({ keypair: k })) }, json]));
  nock(CINDER_B)
    .persist()
    .get('/v3/')
    .reply(200, { versions: [{ id: 'v3.0', status: 'CURRENT', version: '3.70', min_version: '3.0', updated: '2023-08-31T00:00:00Z', links: [], 'media-types': [] }] })
    .get(`${cb}/os-services`)
    .query(true)
    .reply((uri) => {
      note('GET')(uri);
      if (m.backupServices === 'forbidden') return [403, { forbidden: { code: 403, message: "Policy doesn't allow volume_extension:services:index to be performed." } }, json];
      const binary = params(uri).get('binary');
      return [200, { services: m.backupServices.filter((s) => !binary || s.binary === binary) }, json];
    })
    .get(`${cb}/types`)
    .query(true)
    .reply((uri) => (note('GET')(uri), [200, { volume_types: m.volumeTypes }, json]))
    .get(`${cb}/limits`)
    .query(true)
    .reply((uri) => (note('GET')(uri), [200, { limits: { rate: [], absolute: m.volumeLimits } }, json]))
    .get(`${cb}/os-availability-zone`)
    .reply((uri) => (note('GET')(uri), [200, { availabilityZoneInfo: m.volumeZones.map((z) => ({ zoneName: z, zoneState: { available: true } })) }, json]));
  nock(GLANCE_B)
    .persist()
    .get('/')
    .reply(() => (m.down.has('image') ? [503, 'Service Unavailable'] : [300, { versions: [{ id: 'v2.16', status: 'CURRENT' }] }, json]))
    .get('/v2/images')
    .query(true)
    .reply((uri) => {
      note('GET')(uri);
      const q = params(uri);
      let items = m.images;
      const id = q.get('id');
      const name = q.get('name');
      if (id) items = items.filter((i) => (id.startsWith('in:') ? inValues(id) : [id]).includes(String(i.id)));
      if (name) items = items.filter((i) => (name.startsWith('in:') ? inValues(name) : [name]).includes(String(i.name)));
      return [200, { images: items, first: '/v2/images', schema: '/v2/schemas/images' }, json];
    });
  nock(NEUTRON_B)
    .persist()
    .get('/')
    .reply(200, { versions: [{ id: 'v2.0', status: 'CURRENT' }] })
    .get('/v2.0/networks')
    .query(true)
    .reply((uri) => (note('GET')(uri), [200, { networks: neutronFilter(m.networks, params(uri), ['id', 'name', 'project_id', 'shared', 'router:external']) }, json]))
    .get('/v2.0/subnets')
    .query(true)
    .reply((uri) => (note('GET')(uri), [200, { subnets: neutronFilter(m.subnets, params(uri), ['id', 'name', 'network_id']) }, json]))
    .get('/v2.0/security-groups')
    .query(true)
    .reply((uri) => (note('GET')(uri), [200, { security_groups: neutronFilter(m.securityGroups, params(uri), ['id', 'name', 'project_id']) }, json]))
    .get(`/v2.0/quotas/${PROJECT_ID}/details`)
    .reply((uri) => (note('GET')(uri), [200, { quota: m.networkQuota }, json]));
  nock(HEAT_B)
    .persist()
    .get(`/v1/${PROJECT_ID}/build_info`)
    .reply(() => (m.down.has('orchestration') ? [503, { code: 503, title: 'Service Unavailable', explanation: 'heat-engine is down', error: { message: 'heat-engine is down', type: 'ServiceUnavailable' } }, json] : [200, { api: { revision: '19.0.0' }, engine: { revision: '19.0.0' } }, json]));
  return log;
}

/** What checkSite probes at the shared endpoints (Keystone's version, Placement, Swift's account). */
export function serveSharedProbes(): void {
  nock(KEYSTONE).persist().get('/v3').reply(200, { version: { id: 'v3.14', status: 'stable', updated: '2020-04-07T00:00:00Z' } });
  nock(PLACEMENT).persist().get('/').reply(200, { versions: [{ id: 'v1.0', max_version: '1.39', min_version: '1.0', status: 'CURRENT' }] });
  nock(SWIFT).persist().head(`/v1/AUTH_${PROJECT_ID}`).reply(204, '', { 'X-Account-Container-Count': '1' });
}

/** The primary's Cinder calls readiness adds to discovery's: cinder-backup services and limits. */
export function servePrimaryExtras(opts: { backupServices?: Obj[]; volumeLimits?: Obj } = {}): void {
  const cb = `/v3/${PROJECT_ID}`;
  nock(CINDER)
    .persist()
    .get(`${cb}/os-services`)
    .query(true)
    .reply(200, { services: opts.backupServices ?? [cinderBackupService('site-a')] }, json)
    .get(`${cb}/limits`)
    .query(true)
    .reply(200, { limits: { rate: [], absolute: opts.volumeLimits ?? { maxTotalBackups: 5000, maxTotalBackupGigabytes: 500000, totalBackupsUsed: 0, totalBackupGigabytesUsed: 0 } } }, json);
}

/** A clouds.yaml with site-a (the fake-cloud endpoints) and site-b (SITE_B_OVERRIDES); returns its path. */
export function twoSiteClouds(dir: string): string {
  const auth = `{auth_url: ${KEYSTONE}/v3, username: ferry, password: ${PASSWORD}, project_name: admin, user_domain_name: Default, project_domain_name: Default}`;
  const overrides = Object.entries(SITE_B_OVERRIDES)
    .map(([service, url]) => `    ${service.replace(/-/g, '_')}_endpoint_override: ${url}`)
    .join('\n');
  const file = join(dir, 'clouds.yaml');
  writeFileSync(file, `clouds:\n  site-a:\n    auth: ${auth}\n    region_name: RegionOne\n  site-b:\n    auth: ${auth}\n    region_name: RegionOne\n${overrides}\n`);
  return file;
}

/** Everything online validation and apply reach for a plan on scaleWorkload(n): both sites and the bank. */
export function serveTwoSites(n: number, edit?: (m: SecondaryModel) => void): { swift: FakeSwift; secondary: ServedSecondary } {
  serveWorkload(scaleWorkload(n));
  servePrimaryExtras();
  serveSharedProbes();
  const swift = new FakeSwift();
  const model = secondaryModel();
  edit?.(model);
  return { swift, secondary: serveSecondary(model) };
}
