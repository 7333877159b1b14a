// A secondary site in memory, behind nock at the fake-cloud endpoints, for the DR-test cleanup:
// Heat stacks (with the resources they own), Nova servers, Neutron networks, subnets, ports,
// routers, security groups and floating IPs, Cinder volumes. It answers the listings with
// their filters (Neutron tags/project_id/network_id/device_id, Nova tags-any, Cinder metadata,
// Heat tags) and the deletions with the services' rules: a stack is DELETE_IN_PROGRESS for one
// listing and then gone with its resources (or DELETE_FAILED); a server goes after one listing
// and frees its ports and volumes; a volume is `deleting` for one listing; Neutron refuses to
// delete a network, subnet or router still in use (409), and a router interface port directly.
// Bodies follow the API references (Zed): Heat stack list (views/stacks_view.py basic keys),
// Nova servers/detail, Neutron v2.0 collections, Cinder volumes/detail; errors in each
// service's fault shape.
import nock from 'nock';
import { CINDER, HEAT, NEUTRON, NOVA, PROJECT_ID, mockAuth, mockCinderVersion, mockNovaVersion } from '../../support/fake-cloud.js';

export type Json = Record<string, unknown>;

interface Owned {
  /** The stack that owns it (deleted with it). */
  stack?: string;
}

export interface FakeStack extends Owned {
  id: string;
  name: string;
  tags: string[];
  status: string;
  reason?: string;
  /** Deletions Heat fails before it succeeds (Infinity: never). */
  failDeletes?: number;
  /** Heat's stack_status_reason when a deletion fails. */
  deleteReason?: string;
  /** Listings a deletion stays in progress (default 1). */
  deleteListings?: number;
}

export interface FakeServer extends Owned {
  id: string;
  name: string;
  tags: string[];
  metadata: Record<string, string>;
  status: string;
  project?: string;
}

export interface FakeNet extends Owned {
  id: string;
  name: string;
  tags: string[];
  project?: string;
}

export interface FakeSubnet extends FakeNet {
  network_id: string;
}

export interface FakePort extends FakeNet {
  network_id: string;
  device_id: string;
  device_owner: string;
  /** Nova created it (deleted with its server); otherwise unbound when the server goes. */
  novaOwned?: boolean;
}

export interface FakeFip extends Owned {
  id: string;
  address: string;
  tags: string[];
  description: string;
  port_id: string | null;
  project?: string;
}

export interface FakeVolume extends Owned {
  id: string;
  name: string;
  metadata: Record<string, string>;
  status: string;
  attachedTo: string[];
  project?: string;
}

const json = { 'Content-Type': 'application/json' };

export class FakeSecondary {
  stacks: FakeStack[] = [];
  servers: FakeServer[] = [];
  networks: FakeNet[] = [];
  subnets: FakeSubnet[] = [];
  ports: FakePort[] = [];
  routers: FakeNet[] = [];
  groups: FakeNet[] = [];
  fips: FakeFip[] = [];
  volumes: FakeVolume[] = [];
  /** Every request: `GET /v2.0/networks`, `DELETE server drtest-web-1`... */
  readonly requests: string[] = [];
  /** Changes only, in order: `DELETE stack ferry-web-drtest-...`, `REMOVE interface p1 from r1`. */
  readonly ops: string[] = [];
  /** Servers listed (after a delete) before they are gone. */
  private goingServers = new Map<string, number>();
  private goingVolumes = new Map<string, number>();
  private goingStacks = new Map<string, number>();

  /** Registers the interceptors (persisting until nock.cleanAll) and Keystone, Nova and Cinder version documents. */
  install(): this {
    this.newClient();
    const reply = (method: string, handler: (path: string, q: URLSearchParams, body: unknown) => [number, unknown]) =>
      function (uri: string, body: unknown): [number, unknown, Record<string, string>] {
        const u = new URL(uri, 'http://x');
        const [status, out] = handler(u.pathname, u.searchParams, body);
        return [status, out, json];
      };
    const heat = `/v1/${PROJECT_ID}`;
    nock(HEAT).persist().get(`${heat}/stacks`).query(true).reply(reply('GET', (_p, q) => this.listStacks(q)));
    nock(HEAT).persist().delete(new RegExp(`^${heat}/stacks/[^/]+/[^/]+$`)).reply(reply('DELETE', (p) => this.deleteStack(p)));
    nock(NOVA).persist().get('/v2.1/servers/detail').query(true).reply(reply('GET', (_p, q) => this.listServers(q)));
    nock(NOVA).persist().delete(/^\/v2\.1\/servers\/[^/]+$/).reply(reply('DELETE', (p) => this.deleteServer(p)));
    const cinder = `/v3/${PROJECT_ID}`;
    nock(CINDER).persist().get(`${cinder}/volumes/detail`).query(true).reply(reply('GET', (_p, q) => this.listVolumes(q)));
    nock(CINDER).persist().delete(new RegExp(`^${cinder}/volumes/[^/]+$`)).query(true).reply(reply('DELETE', (p, q) => this.deleteVolume(p, q)));
    nock(NEUTRON).persist().get(/^\/v2\.0\/[a-z-]+$/).query(true).reply(reply('GET', (p, q) => this.listNeutron(p, q)));
    nock(NEUTRON).persist().delete(/^\/v2\.0\/[a-z-]+\/[^/]+$/).reply(reply('DELETE', (p) => this.deleteNeutron(p)));
    nock(NEUTRON).persist().put(/^\/v2\.0\/routers\/[^/]+\/remove_router_interface$/).reply(reply('PUT', (p, _q, body) => this.removeInterface(p, body as Json)));
    return this;
  }

  /** What a new Site asks first: a token and the Nova and Cinder version documents (once per Site). */
  newClient(): this {
    mockAuth();
    mockNovaVersion();
    mockCinderVersion();
    return this;
  }

  /** Listing request paths that named one item (a GET per item): there should be none. */
  getsPerItem(): string[] {
    const lists = /^GET \/(v1\/[^/]+\/stacks|v2\.1\/servers\/detail|v3\/[^/]+\/volumes\/detail|v2\.0\/[a-z-]+)$/;
    return this.requests.filter((r) => r.startsWith('GET ') && !lists.test(r));
  }

  // ---- Heat --------------------------------------------------------------------------------------

  private listStacks(q: URLSearchParams): [number, unknown] {
    this.requests.push(`GET /v1/${PROJECT_ID}/stacks`);
    // A listing moves every deletion along: Heat works in the background.
    for (const [id, n] of this.goingStacks) {
      const s = this.stacks.find((x) => x.id === id);
      if (!s) continue;
      if (n > 1) {
        this.goingStacks.set(id, n - 1);
        continue;
      }
      this.goingStacks.delete(id);
      if ((s.failDeletes ?? 0) > 0) {
        s.failDeletes = (s.failDeletes ?? 0) - 1;
        s.status = 'DELETE_FAILED';
        s.reason = s.deleteReason ?? 'Resource DELETE failed: Conflict: resources[0]: Port is in use';
      } else {
        this.removeStack(s);
      }
    }
    const tags = (q.get('tags') ?? '').split(',').filter(Boolean);
    const stacks = this.stacks.filter((s) => tags.every((t) => s.tags.includes(t)));
    return [
      200,
      {
        stacks: stacks.map((s) => ({
          id: s.id,
          stack_name: s.name,
          description: 'Ferry recovery stack',
          stack_status: s.status,
          stack_status_reason: s.status === 'DELETE_IN_PROGRESS' ? 'Stack DELETE started' : (s.reason ?? `Stack ${s.status.split('_')[0]} completed successfully`),
          creation_time: '2026-11-27T02:00:00Z',
          updated_time: null,
          deletion_time: null,
          stack_owner: null,
          parent: null,
          stack_user_project_id: 'a1b2c3',
          tags: s.tags,
          links: [{ href: `${HEAT}/v1/${PROJECT_ID}/stacks/${s.name}/${s.id}`, rel: 'self' }],
        })),
      },
    ];
  }

  private deleteStack(path: string): [number, unknown] {
    const [, , , , name, id] = path.split('/').map(decodeURIComponent);
    this.requests.push(`DELETE stack ${name}`);
    const s = this.stacks.find((x) => x.id === id && x.name === name);
    if (!s) return [404, { explanation: 'The resource could not be found.', code: 404, error: { message: `The Stack (${name}) could not be found.`, traceback: null, type: 'EntityNotFound' }, title: 'Not Found' }];
    this.ops.push(`DELETE stack ${name}`);
    s.status = 'DELETE_IN_PROGRESS';
    this.goingStacks.set(s.id, s.deleteListings ?? 1);
    return [204, ''];
  }

  private removeStack(s: FakeStack): void {
    const owned = <T extends Owned>(list: T[]) => list.filter((x) => x.stack !== s.id);
    this.stacks = this.stacks.filter((x) => x.id !== s.id);
    const servers = this.servers.filter((x) => x.stack === s.id).map((x) => x.id);
    this.servers = owned(this.servers);
    this.ports = owned(this.ports).filter((p) => !(p.novaOwned && servers.includes(p.device_id)));
    this.subnets = owned(this.subnets);
    this.networks = owned(this.networks);
    this.routers = owned(this.routers);
    this.groups = owned(this.groups);
    this.fips = owned(this.fips);
    this.volumes = owned(this.volumes);
  }

  // ---- Nova -----------------------------------------------------------------------------------------

  private listServers(q: URLSearchParams): [number, unknown] {
    this.requests.push('GET /v2.1/servers/detail');
    for (const [id, n] of this.goingServers) {
      if (n > 1) this.goingServers.set(id, n - 1);
      else {
        this.goingServers.delete(id);
        this.servers = this.servers.filter((s) => s.id !== id);
        // Nova deletes the ports it made and unbinds the others; Cinder sees the volumes detached.
        this.ports = this.ports.filter((p) => !(p.novaOwned && p.device_id === id));
        for (const p of this.ports) if (p.device_id === id) Object.assign(p, { device_id: '', device_owner: '' });
        for (const v of this.volumes) if (v.attachedTo.includes(id)) Object.assign(v, { attachedTo: v.attachedTo.filter((x) => x !== id), status: 'available' });
      }
    }
    const any = (q.get('tags-any') ?? '').split(',').filter(Boolean);
    const project = PROJECT_ID;
    const servers = this.servers.filter((s) => (s.project ?? PROJECT_ID) === project && (any.length === 0 || any.some((t) => s.tags.includes(t))));
    return [
      200,
      {
        servers: servers.map((s) => ({
          id: s.id,
          name: s.name,
          status: s.status,
          tenant_id: PROJECT_ID,
          user_id: 'u-ferry',
          metadata: s.metadata,
          hostId: 'h1',
          image: '',
          flavor: { vcpus: 1, ram: 512, disk: 1, ephemeral: 0, swap: 0, original_name: 'm1.tiny', extra_specs: {} },
          created: '2026-11-27T02:00:00Z',
          updated: '2026-11-27T02:01:00Z',
          addresses: {},
          accessIPv4: '',
          accessIPv6: '',
          links: [],
          'OS-DCF:diskConfig': 'MANUAL',
          key_name: null,
          config_drive: '',
          'OS-EXT-AZ:availability_zone': 'nova',
          'OS-EXT-STS:vm_state': s.status === 'ACTIVE' ? 'active' : 'error',
          'OS-EXT-STS:task_state': this.goingServers.has(s.id) ? 'deleting' : null,
          'OS-EXT-STS:power_state': 1,
          'os-extended-volumes:volumes_attached': this.volumes.filter((v) => v.attachedTo.includes(s.id)).map((v) => ({ id: v.id, delete_on_termination: false })),
          'OS-SRV-USG:launched_at': '2026-11-27T02:00:30.000000',
          'OS-SRV-USG:terminated_at': null,
          locked: false,
          tags: s.tags,
        })),
      },
    ];
  }

  private deleteServer(path: string): [number, unknown] {
    const id = decodeURIComponent(path.split('/').at(-1)!);
    const s = this.servers.find((x) => x.id === id);
    this.requests.push(`DELETE server ${s?.name ?? id}`);
    if (!s) return [404, { itemNotFound: { code: 404, message: `Instance ${id} could not be found.` } }];
    this.ops.push(`DELETE server ${s.name}`);
    this.goingServers.set(id, 1);
    return [204, ''];
  }

  // ---- Cinder ---------------------------------------------------------------------------------------

  private listVolumes(q: URLSearchParams): [number, unknown] {
    this.requests.push(`GET /v3/${PROJECT_ID}/volumes/detail`);
    for (const [id, n] of this.goingVolumes) {
      if (n > 1) this.goingVolumes.set(id, n - 1);
      else {
        this.goingVolumes.delete(id);
        this.volumes = this.volumes.filter((v) => v.id !== id);
      }
    }
    const want = JSON.parse(q.get('metadata') ?? '{}') as Record<string, string>;
    const volumes = this.volumes.filter((v) => (v.project ?? PROJECT_ID) === PROJECT_ID && Object.entries(want).every(([k, x]) => v.metadata[k] === x));
    return [
      200,
      {
        volumes: volumes.map((v) => ({
          id: v.id,
          name: v.name,
          description: null,
          status: v.status,
          size: 1,
          availability_zone: 'nova',
          created_at: '2026-11-27T02:00:00.000000',
          updated_at: null,
          bootable: 'false',
          encrypted: false,
          multiattach: false,
          volume_type: 'ceph',
          snapshot_id: null,
          source_volid: null,
          metadata: v.metadata,
          attachments: v.attachedTo.map((server) => ({ id: v.id, attachment_id: `att-${v.id}-${server}`, volume_id: v.id, server_id: server, host_name: null, device: '/dev/vdb', attached_at: '2026-11-27T02:01:00.000000' })),
          links: [],
          user_id: 'u-ferry',
        })),
      },
    ];
  }

  private deleteVolume(path: string, q: URLSearchParams): [number, unknown] {
    const id = decodeURIComponent(path.split('/').at(-1)!);
    const v = this.volumes.find((x) => x.id === id);
    this.requests.push(`DELETE volume ${v?.name ?? id}`);
    if (!v) return [404, { itemNotFound: { code: 404, message: `Volume ${id} could not be found.` } }];
    if (v.attachedTo.length > 0 || v.status !== 'available') {
      return [400, { badRequest: { code: 400, message: `Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer.` } }];
    }
    this.ops.push(`DELETE volume ${v.name}${q.get('cascade') === 'true' ? ' (cascade)' : ''}`);
    v.status = 'deleting';
    this.goingVolumes.set(id, 1);
    return [202, ''];
  }

  // ---- Neutron ----------------------------------------------------------------------------------------

  private collection(name: string): { list: (FakeNet | FakeFip)[]; key: string; kind: string } {
    switch (name) {
      case 'networks':
        return { list: this.networks, key: 'networks', kind: 'network' };
      case 'subnets':
        return { list: this.subnets, key: 'subnets', kind: 'subnet' };
      case 'ports':
        return { list: this.ports, key: 'ports', kind: 'port' };
      case 'routers':
        return { list: this.routers, key: 'routers', kind: 'router' };
      case 'security-groups':
        return { list: this.groups, key: 'security_groups', kind: 'security-group' };
      case 'floatingips':
        return { list: this.fips, key: 'floatingips', kind: 'floating-ip' };
      default:
        throw new Error(`fake Neutron: no collection ${name}`);
    }
  }

  private listNeutron(path: string, q: URLSearchParams): [number, unknown] {
    this.requests.push(`GET ${path}`);
    const { list, key } = this.collection(path.split('/')[2]!);
    const tags = (q.get('tags') ?? '').split(',').filter(Boolean);
    const project = q.get('project_id');
    const nets = q.getAll('network_id');
    const devices = q.getAll('device_id');
    const items = list.filter((x) => {
      if (tags.length > 0 && !tags.every((t) => x.tags.includes(t))) return false;
      if (project !== null && (x.project ?? PROJECT_ID) !== project) return false;
      if (nets.length > 0 && !nets.includes((x as FakePort).network_id)) return false;
      if (devices.length > 0 && !devices.includes((x as FakePort).device_id)) return false;
      return true;
    });
    return [200, { [key]: items.map((x) => this.neutronBody(key, x)) }];
  }

  private neutronBody(key: string, x: FakeNet | FakeFip): Json {
    const common = { id: x.id, project_id: x.project ?? PROJECT_ID, tenant_id: x.project ?? PROJECT_ID, tags: x.tags, created_at: '2026-11-27T02:00:00Z', updated_at: '2026-11-27T02:00:00Z', revision_number: 1 };
    switch (key) {
      case 'networks':
        return { ...common, name: (x as FakeNet).name, description: '', status: 'ACTIVE', admin_state_up: true, shared: false, subnets: this.subnets.filter((s) => s.network_id === x.id).map((s) => s.id), 'router:external': false, mtu: 1450 };
      case 'subnets': {
        const s = x as FakeSubnet;
        return { ...common, name: s.name, description: '', network_id: s.network_id, ip_version: 4, cidr: '10.20.0.0/24', gateway_ip: '10.20.0.1', enable_dhcp: true, allocation_pools: [{ start: '10.20.0.2', end: '10.20.0.254' }], dns_nameservers: [], host_routes: [], ipv6_ra_mode: null, ipv6_address_mode: null, subnetpool_id: null };
      }
      case 'ports': {
        const p = x as FakePort;
        return { ...common, name: p.name, description: '', network_id: p.network_id, mac_address: 'fa:16:3e:00:00:01', fixed_ips: [], device_id: p.device_id, device_owner: p.device_owner, status: p.device_id ? 'ACTIVE' : 'DOWN', admin_state_up: true, security_groups: [], allowed_address_pairs: [] };
      }
      case 'routers':
        return { ...common, name: (x as FakeNet).name, description: '', status: 'ACTIVE', admin_state_up: true, external_gateway_info: null, routes: [] };
      case 'security_groups':
        return { ...common, name: (x as FakeNet).name, description: '', security_group_rules: [], stateful: true };
      default: {
        const f = x as FakeFip;
        return { ...common, floating_ip_address: f.address, floating_network_id: 'ext-net', router_id: null, port_id: f.port_id, fixed_ip_address: null, status: f.port_id ? 'ACTIVE' : 'DOWN', description: f.description };
      }
    }
  }

  private deleteNeutron(path: string): [number, unknown] {
    const [, , coll, raw] = path.split('/');
    const id = decodeURIComponent(raw!);
    const { list, kind } = this.collection(coll!);
    const x = list.find((i) => i.id === id);
    const label = x ? ('name' in x ? x.name || x.id : x.address) : id;
    this.requests.push(`DELETE ${kind} ${label}`);
    const fault = (status: number, type: string, message: string): [number, unknown] => [status, { NeutronError: { type, message, detail: '' } }];
    if (!x) return fault(404, `${kind === 'security-group' ? 'SecurityGroup' : kind[0]!.toUpperCase() + kind.slice(1)}NotFound`, `${kind} ${id} could not be found.`);
    if (kind === 'network') {
      const busy = this.ports.filter((p) => p.network_id === id && p.device_owner !== 'network:dhcp');
      if (busy.length > 0) return fault(409, 'NetworkInUse', `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`);
      this.ports = this.ports.filter((p) => p.network_id !== id);
      this.subnets = this.subnets.filter((s) => s.network_id !== id);
    }
    if (kind === 'subnet' && this.ports.some((p) => p.network_id === (x as FakeSubnet).network_id && p.device_owner === 'network:router_interface')) {
      return fault(409, 'SubnetInUse', `Unable to complete operation on subnet ${id}: One or more ports have an IP allocation from this subnet.`);
    }
    if (kind === 'router' && this.ports.some((p) => p.device_id === id && p.device_owner === 'network:router_interface')) {
      return fault(409, 'RouterInUse', `Router ${id} still has ports`);
    }
    if (kind === 'port' && (x as FakePort).device_owner === 'network:router_interface') {
      return fault(409, 'PortInUse', `Port ${id} cannot be deleted directly via the port API: has device owner network:router_interface.`);
    }
    this.ops.push(`DELETE ${kind} ${label}`);
    const keep = (l: { id: string }[]) => l.filter((i) => i.id !== id);
    if (kind === 'network') this.networks = keep(this.networks) as FakeNet[];
    if (kind === 'subnet') this.subnets = keep(this.subnets) as FakeSubnet[];
    if (kind === 'port') {
      this.ports = keep(this.ports) as FakePort[];
      for (const f of this.fips) if (f.port_id === id) f.port_id = null;
    }
    if (kind === 'router') this.routers = keep(this.routers) as FakeNet[];
    if (kind === 'security-group') this.groups = keep(this.groups) as FakeNet[];
    if (kind === 'floating-ip') this.fips = keep(this.fips) as FakeFip[];
    return [204, ''];
  }

  private removeInterface(path: string, body: Json): [number, unknown] {
    const router = decodeURIComponent(path.split('/')[3]!);
    const portId = String(body.port_id);
    this.requests.push(`PUT remove_router_interface ${router} ${portId}`);
    const p = this.ports.find((x) => x.id === portId && x.device_id === router);
    if (!p) return [404, { NeutronError: { type: 'RouterInterfaceNotFound', message: `Router ${router} does not have an interface with id ${portId}`, detail: '' } }];
    this.ops.push(`REMOVE interface ${p.name || p.id} from router ${router}`);
    this.ports = this.ports.filter((x) => x.id !== portId);
    return [200, { id: router, tenant_id: PROJECT_ID, port_id: portId, network_id: p.network_id, subnet_id: 's', subnet_ids: ['s'] }];
  }
}
