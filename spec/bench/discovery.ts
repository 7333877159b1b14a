// Discovery at scale: a fake primary (Keystone, Nova, Cinder, Neutron, Glance answered by nock
// from an in-memory workload, with each service's own pagination and filter semantics) and
// a benchmark that discovers 1,000 and 5,000 servers through it, printing the number of HTTP
// requests and the elapsed time.
//
//   npx tsx spec/bench/discovery.ts [N...]        (default: 1000 5000)
//
// The module also exports the fixture builders and the fake service, which
// spec/unit/inventory/discover.spec.ts uses for its scale test.
//
// Fixture shapes, at the microversions Ferry negotiates (compute 2.79, block-storage 3.64),
// for an admin caller, from the Zed sources:
//   server         nova/api/openstack/compute/views/servers.py show() (via detail())
//   keypair        nova/api/openstack/compute/views/keypairs.py (list: {"keypair": {...}})
//   server group   nova/api/openstack/compute/server_groups.py _format_server_group (2.64)
//   volume         cinder/api/v2/views/volumes.py detail() + cinder/api/v3/views/volumes.py
//   volume type    cinder/api/v2/views/types.py show()
//   port/network/subnet/security group  neutron/db/db_base_plugin_common.py _make_*_dict,
//                  neutron/db/securitygroups_db.py, plus the ML2/OVS extensions' fields
//   image          glance/api/v2/images.py ResponseSerializer._format_image
// Pagination: Nova and Cinder add a `next` link when a page is full (limit, or the service's
// max_limit 1000 when none is asked); Neutron when `limit` is given and the page is full;
// Glance (`next`) when the page is full; os-server-groups has limit/offset and no links.
import { pathToFileURL } from 'node:url';
import nock from 'nock';
import { discover, type DiscoverOptions } from '../../lib/inventory/discover.js';
import type { Inventory, MemberSelectors } from '../../lib/inventory/model.js';
import type { SiteOptions } from '../../lib/openstack/site.js';
import { CINDER, GLANCE, KEYSTONE, NEUTRON, NOVA, PROJECT_ID, TOKEN, testSite, tokenBody } from '../support/fake-cloud.js';

export const USER_ID = 'u-ferry';
const CREATED = '2026-11-27T03:00:00Z';

type Obj = Record<string, unknown>;

// ---- fixture builders ------------------------------------------------------------------

/** A deterministic UUID-shaped ID from a kind (a small hex tag) and a number. */
export function uuid(kind: number, n: number): string {
  return `${kind.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export function mac(n: number): string {
  const b = [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff].map((x) => x.toString(16).padStart(2, '0'));
  return `fa:16:3e:${b.join(':')}`;
}

export interface ServerFixture {
  id: string;
  name: string;
  image?: string;
  flavor?: Obj;
  keyName?: string | null;
  userId?: string;
  tags?: string[];
  metadata?: Record<string, string>;
  status?: string;
  powerState?: number;
  /** Network name → addresses, in VIF order. */
  addresses?: Record<string, { addr: string; mac: string; version?: 4 | 6 }[]>;
  volumes?: { id: string; deleteOnTermination?: boolean }[];
  rootDeviceName?: string;
  az?: string;
  description?: string | null;
  locked?: boolean;
}

/** GET /servers/detail item at 2.79, admin (extended attributes, host_status). */
export function novaServer(f: ServerFixture): Obj {
  const status = f.status ?? 'ACTIVE';
  const addresses: Obj = {};
  for (const [net, addrs] of Object.entries(f.addresses ?? {})) {
    addresses[net] = addrs.map((a) => ({ version: a.version ?? 4, addr: a.addr, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': a.mac }));
  }
  return {
    id: f.id,
    name: f.name,
    status,
    tenant_id: PROJECT_ID,
    user_id: f.userId ?? USER_ID,
    metadata: f.metadata ?? {},
    hostId: 'a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7',
    image: f.image ? { id: f.image, links: [{ rel: 'bookmark', href: `${NOVA}/images/${f.image}` }] } : '',
    flavor: f.flavor ?? { vcpus: 1, ram: 512, disk: 1, ephemeral: 0, swap: 0, original_name: 'm1.tiny', extra_specs: {} },
    created: CREATED,
    updated: CREATED,
    addresses,
    accessIPv4: '',
    accessIPv6: '',
    links: [
      { rel: 'self', href: `${NOVA}/v2.1/servers/${f.id}` },
      { rel: 'bookmark', href: `${NOVA}/servers/${f.id}` },
    ],
    'OS-DCF:diskConfig': 'MANUAL',
    'OS-EXT-AZ:availability_zone': f.az ?? 'nova',
    config_drive: '',
    key_name: f.keyName === undefined ? null : f.keyName,
    'OS-SRV-USG:launched_at': '2026-11-27T03:00:30.000000',
    'OS-SRV-USG:terminated_at': null,
    security_groups: [{ name: 'default' }],
    'OS-EXT-SRV-ATTR:host': 'compute-1',
    'OS-EXT-SRV-ATTR:instance_name': `instance-${f.id.slice(-8)}`,
    'OS-EXT-SRV-ATTR:hypervisor_hostname': 'compute-1',
    'OS-EXT-SRV-ATTR:reservation_id': 'r-3fhpjulh',
    'OS-EXT-SRV-ATTR:launch_index': 0,
    'OS-EXT-SRV-ATTR:hostname': f.name,
    'OS-EXT-SRV-ATTR:kernel_id': '',
    'OS-EXT-SRV-ATTR:ramdisk_id': '',
    'OS-EXT-SRV-ATTR:root_device_name': f.rootDeviceName ?? '/dev/vda',
    'OS-EXT-SRV-ATTR:user_data': null,
    'OS-EXT-STS:task_state': null,
    'OS-EXT-STS:vm_state': status === 'SHUTOFF' ? 'stopped' : 'active',
    'OS-EXT-STS:power_state': f.powerState ?? (status === 'SHUTOFF' ? 4 : 1),
    'os-extended-volumes:volumes_attached': (f.volumes ?? []).map((v) => ({ id: v.id, delete_on_termination: v.deleteOnTermination ?? false })),
    host_status: 'UP',
    locked: f.locked ?? false,
    locked_reason: null,
    description: f.description === undefined ? null : f.description,
    tags: f.tags ?? [],
    trusted_image_certificates: null,
    ...(status === 'ACTIVE' ? { progress: 0 } : {}),
  };
}

export interface PortFixture {
  id: string;
  networkId: string;
  deviceId: string;
  mac: string;
  fixedIps: { subnet_id: string; ip_address: string }[];
  securityGroups?: string[];
  allowedAddressPairs?: { ip_address: string; mac_address: string }[];
  name?: string;
}

/** A Neutron port (Zed, ML2/OVS: binding, port-security, dns, qos, extra_dhcp_opt extensions). */
export function neutronPort(f: PortFixture): Obj {
  return {
    id: f.id,
    name: f.name ?? '',
    network_id: f.networkId,
    tenant_id: PROJECT_ID,
    mac_address: f.mac,
    admin_state_up: true,
    status: 'ACTIVE',
    device_id: f.deviceId,
    device_owner: 'compute:nova',
    fixed_ips: f.fixedIps,
    allowed_address_pairs: f.allowedAddressPairs ?? [],
    extra_dhcp_opts: [],
    security_groups: f.securityGroups ?? [],
    description: '',
    'binding:vnic_type': 'normal',
    'binding:profile': {},
    'binding:host_id': 'compute-1',
    'binding:vif_type': 'ovs',
    'binding:vif_details': { connectivity: 'l2', port_filter: true, ovs_hybrid_plug: false, datapath_type: 'system', bridge_name: 'br-int' },
    port_security_enabled: true,
    qos_policy_id: null,
    qos_network_policy_id: null,
    resource_request: null,
    ip_allocation: 'immediate',
    dns_name: '',
    dns_assignment: f.fixedIps.map((ip) => ({ ip_address: ip.ip_address, hostname: `host-${ip.ip_address.replace(/[.:]/g, '-')}`, fqdn: `host-${ip.ip_address.replace(/[.:]/g, '-')}.openstacklocal.` })),
    tags: [],
    created_at: CREATED,
    updated_at: CREATED,
    revision_number: 4,
    project_id: PROJECT_ID,
    propagate_uplink_status: false,
  };
}

export function neutronNetwork(id: string, name: string, subnets: string[], extra: Obj = {}): Obj {
  return {
    id,
    name,
    tenant_id: PROJECT_ID,
    admin_state_up: true,
    mtu: 1442,
    status: 'ACTIVE',
    subnets,
    shared: false,
    availability_zone_hints: [],
    availability_zones: ['nova'],
    ipv4_address_scope: null,
    ipv6_address_scope: null,
    'router:external': false,
    description: '',
    qos_policy_id: null,
    port_security_enabled: true,
    dns_domain: '',
    l2_adjacency: true,
    is_default: false,
    'provider:network_type': 'geneve',
    'provider:physical_network': null,
    'provider:segmentation_id': 1000,
    tags: [],
    created_at: CREATED,
    updated_at: CREATED,
    revision_number: 2,
    project_id: PROJECT_ID,
    ...extra,
  };
}

export function neutronSubnet(id: string, networkId: string, cidr: string, extra: Obj = {}): Obj {
  const base = cidr.split('/')[0]!.split('.').slice(0, 3).join('.');
  return {
    id,
    name: `${cidr}-subnet`,
    tenant_id: PROJECT_ID,
    network_id: networkId,
    ip_version: 4,
    subnetpool_id: null,
    enable_dhcp: true,
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
    gateway_ip: `${base}.1`,
    cidr,
    allocation_pools: [{ start: `${base}.2`, end: `${base}.254` }],
    host_routes: [],
    dns_nameservers: [],
    description: '',
    service_types: [],
    dns_publish_fixed_ip: false,
    tags: [],
    created_at: CREATED,
    updated_at: CREATED,
    revision_number: 0,
    project_id: PROJECT_ID,
    ...extra,
  };
}

export function sgRule(id: string, sgId: string, over: Obj = {}): Obj {
  return {
    id,
    tenant_id: PROJECT_ID,
    security_group_id: sgId,
    ethertype: 'IPv4',
    direction: 'ingress',
    protocol: null,
    port_range_min: null,
    port_range_max: null,
    remote_ip_prefix: null,
    remote_address_group_id: null,
    normalized_cidr: null,
    remote_group_id: null,
    standard_attr_id: 1,
    description: '',
    tags: [],
    created_at: CREATED,
    updated_at: CREATED,
    revision_number: 0,
    project_id: PROJECT_ID,
    ...over,
  };
}

export function neutronSecurityGroup(id: string, name: string, rules: Obj[]): Obj {
  return {
    id,
    name,
    stateful: true,
    tenant_id: PROJECT_ID,
    description: `${name} group`,
    shared: false,
    security_group_rules: rules,
    tags: [],
    created_at: CREATED,
    updated_at: CREATED,
    revision_number: 1,
    project_id: PROJECT_ID,
  };
}

export interface VolumeFixture {
  id: string;
  name: string;
  size?: number;
  type?: string | null;
  typeId?: string;
  bootable?: boolean;
  serverId?: string;
  device?: string;
  imageMetadata?: Record<string, string>;
  metadata?: Record<string, string>;
  multiattach?: boolean;
  encrypted?: boolean;
}

/** GET /volumes/detail item at 3.64, admin. */
export function cinderVolume(f: VolumeFixture): Obj {
  const attached = f.serverId !== undefined;
  return {
    id: f.id,
    status: attached ? 'in-use' : 'available',
    size: f.size ?? 1,
    availability_zone: 'nova',
    created_at: '2026-11-27T03:00:00.000000',
    updated_at: '2026-11-27T03:01:00.000000',
    name: f.name,
    description: null,
    volume_type: f.type === undefined ? 'ceph' : f.type,
    snapshot_id: null,
    source_volid: null,
    metadata: f.metadata ?? {},
    links: [{ rel: 'self', href: `${CINDER}/v3/${PROJECT_ID}/volumes/${f.id}` }],
    user_id: USER_ID,
    bootable: f.bootable ? 'true' : 'false',
    encrypted: f.encrypted ?? false,
    replication_status: 'disabled',
    consistencygroup_id: null,
    multiattach: f.multiattach ?? false,
    attachments: attached
      ? [{ id: f.id, attachment_id: `a77ac4ed${f.id.slice(8)}`, volume_id: f.id, server_id: f.serverId, host_name: 'compute-1', device: f.device ?? '/dev/vdb', attached_at: '2026-11-27T03:00:40.000000' }]
      : [],
    migration_status: null,
    'os-vol-host-attr:host': 'volume-1@ceph#ceph',
    'os-vol-mig-status-attr:migstat': null,
    'os-vol-mig-status-attr:name_id': null,
    'os-vol-tenant-attr:tenant_id': PROJECT_ID,
    ...(f.imageMetadata ? { volume_image_metadata: f.imageMetadata } : {}),
    group_id: null,
    provider_id: null,
    service_uuid: '2f1b4c5e-0d6a-4b8f-9c3e-7a1d2b3c4d5e',
    shared_targets: false,
    cluster_name: null,
    volume_type_id: f.typeId ?? VOLUME_TYPE_CEPH,
  };
}

export const VOLUME_TYPE_CEPH = '5f5b7c1a-0b1e-4c6a-9d6e-2f4a3b1c0d9e';

export function cinderVolumeType(id: string, name: string, extraSpecs: Record<string, string> = {}): Obj {
  return { id, name, is_public: true, description: null, extra_specs: extraSpecs, qos_specs_id: null, 'os-volume-type-access:is_public': true };
}

export function glanceImage(id: string, name: string, extra: Obj = {}): Obj {
  return {
    id,
    name,
    status: 'active',
    disk_format: 'qcow2',
    container_format: 'bare',
    visibility: 'public',
    size: 21430272,
    virtual_size: 117440512,
    checksum: '0b1a2c3d4e5f60718293a4b5c6d7e8f9',
    os_hash_algo: 'sha512',
    os_hash_value: 'f'.repeat(128),
    protected: false,
    os_hidden: false,
    tags: [],
    min_disk: 0,
    min_ram: 0,
    owner: PROJECT_ID,
    created_at: CREATED,
    updated_at: CREATED,
    self: `/v2/images/${id}`,
    file: `/v2/images/${id}/file`,
    schema: '/v2/schemas/image',
    os_distro: 'debian',
    hw_disk_bus: 'virtio',
    ...extra,
  };
}

export function novaKeypair(name: string, publicKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFerryTestKeyOnly ferry@test'): Obj {
  return { name, public_key: publicKey, fingerprint: '2c:4e:1f:aa:09:51:8b:17:fe:3b:3c:4d:88:12:01:9a', type: 'ssh' };
}

/** os-server-groups item at 2.64+. */
export function novaServerGroup(id: string, name: string, policy: string, members: string[], rules: Obj = {}): Obj {
  return { id, name, policy, rules, members, project_id: PROJECT_ID, user_id: USER_ID };
}

// ---- the fake primary ---------------------------------------------------------------------

export interface Workload {
  servers: Obj[];
  ports: Obj[];
  volumes: Obj[];
  networks: Obj[];
  subnets: Obj[];
  securityGroups: Obj[];
  images: Obj[];
  keypairs: Obj[];
  serverGroups: Obj[];
  volumeTypes: Obj[];
  /** Flavors for GET /flavors/detail (only read below compute 2.47). */
  flavors?: Obj[];
}

export interface RequestLog {
  total: number;
  byService: Record<string, number>;
  /** `GET /path?query` (decoded) of every request, in order. */
  requests: string[];
  /** Most requests the fake was answering at once. */
  maxInFlight: number;
}

function query(uri: string): URLSearchParams {
  return new URL(uri, 'http://x').searchParams;
}

function many(q: URLSearchParams, key: string): string[] | undefined {
  const all = q.getAll(key);
  return all.length > 0 ? all : undefined;
}

function afterMarker<T extends Obj>(items: T[], marker: string | null): T[] {
  if (!marker) return items;
  const i = items.findIndex((x) => x.id === marker);
  return i < 0 ? [] : items.slice(i + 1);
}

/** The next link as Nova/Cinder build it: the request's parameters, sorted, with the marker. */
function nextHref(base: string, path: string, q: URLSearchParams, marker: string): string {
  const p = new URLSearchParams();
  const keys = [...new Set(q.keys())].filter((k) => k !== 'marker').sort();
  for (const k of keys) for (const v of q.getAll(k)) p.append(k, v);
  p.append('marker', marker);
  return `${base}${path}?${p.toString()}`;
}

/**
 * Serves a workload at the fake site with nock (persisted interceptors), and counts every
 * request at nock level. `maxLimit` stands for Nova's [api] max_limit and Cinder's
 * osapi_max_limit (1000 by default).
 */
export function serveWorkload(w: Workload, opts: { maxLimit?: number } = {}): RequestLog {
  const maxLimit = opts.maxLimit ?? 1000;
  const log: RequestLog = { total: 0, byService: {}, requests: [], maxInFlight: 0 };
  let inFlight = 0;
  const count = (service: string) => (req: { method?: string; path: string }) => {
    log.total++;
    log.byService[service] = (log.byService[service] ?? 0) + 1;
    log.requests.push(`${req.method ?? 'GET'} ${decodeURIComponent(req.path)}`);
    inFlight++;
    log.maxInFlight = Math.max(log.maxInFlight, inFlight);
  };
  const replied = () => {
    inFlight--;
  };
  const json = { 'Content-Type': 'application/json' };
  const page = <T extends Obj>(items: T[], q: URLSearchParams): { items: T[]; full: boolean } => {
    const limit = Math.min(Number(q.get('limit') ?? maxLimit), maxLimit);
    const rest = afterMarker(items, q.get('marker'));
    const slice = rest.slice(0, limit);
    return { items: slice, full: slice.length === limit && slice.length > 0 };
  };

  // Keystone
  nock(KEYSTONE)
    .persist()
    .post('/v3/auth/tokens')
    .reply(201, tokenBody(), { 'X-Subject-Token': TOKEN, ...json })
    .on('request', count('identity'))
    .on('replied', replied);

  // Nova
  const serverById = new Map(w.servers.map((s) => [s.id as string, s]));
  nock(NOVA)
    .persist()
    .get('/v2.1/')
    .reply(200, { version: { id: 'v2.1', status: 'CURRENT', version: '2.93', min_version: '2.1', updated: '2013-07-23T11:33:21Z', links: [], media_types: [] } })
    .get('/v2.1/servers/detail')
    .query(true)
    .reply((uri) => {
      const q = query(uri);
      let items = w.servers;
      const any = q.get('tags-any')?.split(',');
      const all = q.get('tags')?.split(',');
      if (any) items = items.filter((s) => (s.tags as string[]).some((t) => any.includes(t)));
      if (all) items = items.filter((s) => all.every((t) => (s.tags as string[]).includes(t)));
      const p = page(items, q);
      const body: Obj = { servers: p.items };
      if (p.full) body.servers_links = [{ rel: 'next', href: nextHref(NOVA, '/v2.1/servers/detail', q, p.items[p.items.length - 1]!.id as string) }];
      return [200, body, json];
    })
    .get((path) => /^\/v2\.1\/servers\/[^/]+$/.test(path) && path !== '/v2.1/servers/detail')
    .reply((uri) => {
      const s = serverById.get(uri.split('?')[0]!.split('/').pop()!);
      return s ? [200, { server: s }, json] : [404, { itemNotFound: { code: 404, message: 'Instance could not be found.' } }, json];
    })
    .get('/v2.1/os-keypairs')
    .query(true)
    .reply(200, () => ({ keypairs: w.keypairs.map((k) => ({ keypair: k })) }), json)
    .get('/v2.1/flavors/detail')
    .query(true)
    .reply(200, () => ({ flavors: w.flavors ?? [] }), json)
    .get('/v2.1/os-server-groups')
    .query(true)
    .reply((uri) => {
      const q = query(uri);
      const limit = Math.min(Number(q.get('limit') ?? maxLimit), maxLimit);
      const offset = Number(q.get('offset') ?? 0);
      return [200, { server_groups: w.serverGroups.slice(offset, offset + limit) }, json];
    })
    .on('request', count('compute'))
    .on('replied', replied);

  // Cinder
  const cbase = `/v3/${PROJECT_ID}`;
  nock(CINDER)
    .persist()
    .get('/v3/')
    .reply(200, { versions: [{ id: 'v3.0', status: 'CURRENT', version: '3.70', min_version: '3.0', updated: '2023-08-31T00:00:00Z', links: [], 'media-types': [] }] })
    .get(`${cbase}/volumes/detail`)
    .query(true)
    .reply((uri) => {
      const q = query(uri);
      const p = page(w.volumes, q);
      const body: Obj = { volumes: p.items };
      if (p.full) body.volumes_links = [{ rel: 'next', href: nextHref(CINDER, `${cbase}/volumes/detail`, q, p.items[p.items.length - 1]!.id as string) }];
      return [200, body, json];
    })
    .get(`${cbase}/types`)
    .query(true)
    .reply(200, () => ({ volume_types: w.volumeTypes }), json)
    .on('request', count('block-storage'))
    .on('replied', replied);

  // Neutron: list filters are exact matches, repeated parameters mean "any of".
  const neutron = (collection: string, items: Obj[], filters: string[]) =>
    (uri: string): [number, Obj, Record<string, string>] => {
      const q = query(uri);
      let out = items;
      for (const f of filters) {
        const values = many(q, f);
        if (values) {
          const wanted = new Set(values);
          out = out.filter((x) => wanted.has(String(x[f])));
        }
      }
      const limit = q.get('limit');
      const body: Obj = {};
      if (limit) {
        const rest = afterMarker(out, q.get('marker'));
        out = rest.slice(0, Number(limit));
        if (out.length >= Number(limit)) {
          const p = new URLSearchParams(q);
          p.set('marker', out[out.length - 1]!.id as string);
          body[`${collection}_links`] = [{ rel: 'next', href: `${NEUTRON}/v2.0/${collection.replace('_', '-')}?${p.toString()}` }];
        }
      }
      body[collection] = out;
      return [200, body, json];
    };
  nock(NEUTRON)
    .persist()
    .get('/v2.0/ports')
    .query(true)
    .reply(neutron('ports', w.ports, ['device_id', 'id', 'network_id']))
    .get('/v2.0/networks')
    .query(true)
    .reply(neutron('networks', w.networks, ['id']))
    .get('/v2.0/subnets')
    .query(true)
    .reply(neutron('subnets', w.subnets, ['id', 'network_id']))
    .get('/v2.0/security-groups')
    .query(true)
    .reply(neutron('security_groups', w.securityGroups, ['id']))
    .on('request', count('network'))
    .on('replied', replied);

  // Glance: id=in:a,b,c; hidden images only with os_hidden=true.
  nock(GLANCE)
    .persist()
    .get('/v2/images')
    .query(true)
    .reply((uri) => {
      const q = query(uri);
      const idf = q.get('id');
      const ids = idf?.startsWith('in:') ? idf.slice(3).split(',') : idf ? [idf] : undefined;
      const hidden = q.get('os_hidden') === 'true';
      let items = w.images.filter((i) => (i.os_hidden === true) === hidden);
      if (ids) {
        const wanted = new Set(ids);
        items = items.filter((i) => wanted.has(i.id as string));
      }
      const limit = Number(q.get('limit') ?? 25);
      const rest = afterMarker(items, q.get('marker'));
      const slice = rest.slice(0, limit);
      const body: Obj = { images: slice, first: '/v2/images', schema: '/v2/schemas/images' };
      if (slice.length === limit) {
        const p = new URLSearchParams(q);
        p.set('marker', slice[slice.length - 1]!.id as string);
        body.next = `/v2/images?${p.toString()}`;
      }
      return [200, body, json];
    })
    .on('request', count('image'))
    .on('replied', replied);

  return log;
}

// ---- the scale workload -------------------------------------------------------------------

export const SCALE_TAG = 'ferry:plan=scale';

/**
 * `n` tagged servers, each on an image (one of 5) with one port (on one of 4 networks, one
 * subnet each, two security groups one of which names the other as remote group) and one data
 * volume at /dev/vdb; 10 server groups; a tenth as many untagged servers and unattached
 * volumes as noise.
 */
export function scaleWorkload(n: number): Workload {
  const nets = [0, 1, 2, 3].map((i) => ({ id: uuid(0x2e7, i), subnet: uuid(0x5b7, i), cidr: `10.${i}.0.0/16` }));
  const sgWeb = uuid(0x59, 1);
  const sgDb = uuid(0x59, 2);
  const images = [0, 1, 2, 3, 4].map((i) => glanceImage(uuid(0x1a6, i), `image-${i}`));
  const w: Workload = {
    servers: [],
    ports: [],
    volumes: [],
    networks: nets.map((x, i) => neutronNetwork(x.id, `net-${i}`, [x.subnet])),
    subnets: nets.map((x) => neutronSubnet(x.subnet, x.id, x.cidr)),
    securityGroups: [
      neutronSecurityGroup(sgWeb, 'web', [sgRule(uuid(0x5e1, 1), sgWeb, { protocol: 'tcp', port_range_min: 443, port_range_max: 443, remote_ip_prefix: '0.0.0.0/0' })]),
      neutronSecurityGroup(sgDb, 'db', [sgRule(uuid(0x5e1, 2), sgDb, { protocol: 'tcp', port_range_min: 5432, port_range_max: 5432, remote_group_id: sgWeb })]),
    ],
    images,
    keypairs: [novaKeypair('scale-key')],
    serverGroups: [],
    volumeTypes: [cinderVolumeType(VOLUME_TYPE_CEPH, 'ceph')],
  };
  const groups: string[][] = Array.from({ length: 10 }, () => []);
  const total = n + Math.ceil(n / 10);
  for (let i = 0; i < total; i++) {
    const tagged = i < n;
    const id = uuid(0x5e7, i);
    const net = nets[i % nets.length]!;
    const ip = `10.${i % nets.length}.${Math.floor(i / 250) % 256}.${(i % 250) + 2}`;
    const m = mac(i);
    const vol = uuid(0x701, i);
    w.servers.push(
      novaServer({
        id,
        name: `app-${String(i).padStart(5, '0')}`,
        image: (images[i % images.length]!.id as string),
        keyName: 'scale-key',
        tags: tagged ? [SCALE_TAG] : ['other'],
        metadata: { tier: i % 2 === 0 ? 'web' : 'db' },
        addresses: { [`net-${i % nets.length}`]: [{ addr: ip, mac: m }] },
        volumes: [{ id: vol }],
      }),
    );
    w.ports.push(neutronPort({ id: uuid(0x907, i), networkId: net.id, deviceId: id, mac: m, fixedIps: [{ subnet_id: net.subnet, ip_address: ip }], securityGroups: [i % 2 === 0 ? sgWeb : sgDb] }));
    w.volumes.push(cinderVolume({ id: vol, name: `data-${i}`, size: 10, serverId: id, device: '/dev/vdb' }));
    if (tagged) groups[i % 10]!.push(id);
  }
  for (let i = 0; i < Math.ceil(n / 10); i++) w.volumes.push(cinderVolume({ id: uuid(0x702, i), name: `spare-${i}`, size: 1 }));
  w.serverGroups = groups.map((members, g) => novaServerGroup(uuid(0x96, g), `group-${g}`, 'soft-anti-affinity', members));
  return w;
}

export interface BenchResult {
  servers: number;
  members: number;
  requests: number;
  byService: Record<string, number>;
  ms: number;
  warnings: number;
  log: RequestLog;
  inventory: Inventory;
}

/** Discovers a scale workload of `n` servers through the fake primary; nock must be active. */
export async function benchDiscovery(n: number, selectors: MemberSelectors = { tags: [SCALE_TAG] }, opts: DiscoverOptions = { pageSize: { compute: 100 } }, siteOpts: SiteOptions = {}): Promise<BenchResult> {
  const w = scaleWorkload(n);
  const log = serveWorkload(w);
  const { site } = testSite({}, siteOpts);
  const t0 = process.hrtime.bigint();
  const inventory = await discover(site, selectors, opts);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { servers: n, members: inventory.members.length, requests: log.total, byService: { ...log.byService }, ms, warnings: inventory.warnings.length, log, inventory };
}

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0);
  nock.disableNetConnect();
  const runs: { label: string; selectors: MemberSelectors }[] = [
    { label: 'tags (server-side)', selectors: { tags: [SCALE_TAG] } },
    { label: 'metadata (client-side)', selectors: { metadata: { tier: 'web' } } },
  ];
  for (const n of sizes.length > 0 ? sizes : [1000, 5000]) {
    for (const r of runs) {
      nock.cleanAll();
      const res = await benchDiscovery(n, r.selectors);
      const by = Object.entries(res.byService)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      console.log(`discovery ${String(n).padStart(5)} servers, ${r.label.padEnd(22)}: ${String(res.members).padStart(5)} members, ${String(res.requests).padStart(4)} requests (${by}), ${res.ms.toFixed(0)} ms`);
    }
  }
  nock.cleanAll();
  nock.enableNetConnect();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
