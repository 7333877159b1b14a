// The recovery template generator: recovery point + plan + facts about the secondary + mode →
// the Heat stack that recovers the plan's members there (template, environment, files map,
// parameters), as plain objects and as YAML text. Pure and deterministic: the same inputs give
// byte-identical YAML, whatever order their maps and lists come in (everything is named and
// sorted by the naming scheme in names.ts).
//
// Decisions:
//  - One template for every mode. The template holds structure only: which resources exist
//    and how they refer to each other, with abstract DR::* types for whatever a mode changes.
//    The mode is the environment: its resource_registry binds DR::* to the nested templates
//    of heat-templates/ (production, DR-test bubble, warm standby) and its parameter_defaults
//    set Ferry's marks and the name prefixes. So a DR test runs the failover template, and a
//    standby stack fails over by a stack update to the production environment.
//  - Values never enter the template text. Everything from the primary or from users (names,
//    descriptions, metadata keys and values, tags, addresses, CIDRs, sizes, IDs) is a
//    parameter: the recovery point's values as one json parameter per resource
//    (`parameters`), the secondary's IDs as typed parameters in the environment (with Heat
//    custom constraints, so a missing image or flavor fails the stack before anything is
//    made). A template key is always `<kind>_<digest>`.
//  - One volume per backup. Cinder refuses to restore a backup that is being restored, so the
//    generator never emits two volumes from one backup ID (it refuses such a point).
//  - Nothing hides failures: no retries, no timeouts, no `ignore` in generated resources; a
//    failed Nova attach shows as an attachment resource stuck in progress, which the
//    workflow watches.
//  - Boot order: priority groups become barrier resources (OS::Heat::None) that depend on a
//    group's servers and their attachments; the next group's servers depend on the barrier
//    (one edge per server instead of one per pair).
//  - Data volumes attach in the primary's attachment order (each attachment depends on the
//    previous one of its server), so guests see their disks in the same order.
import type { ProtectionPlan } from '../config/protection-plan.js';
import { FerryError } from '../errors.js';
import type { Member, MemberPort, MemberVolume, SecurityGroupRuleSpec, SecurityGroupSpec } from '../inventory/model.js';
import type { RecoveryPointManifest } from '../replication/recovery-point.js';
import type { VolumeDataRef } from '../replication/types.js';
import { ipInCidr } from './addresses.js';
import { defaultLibrary, filesFor, heatEnvironment, modeEnvironment, type TemplateLibrary } from './library.js';
import {
  COMMON_PARAMS,
  EXTERNAL_NETWORK_PARAM,
  NOVA_TAG_MAX,
  RESOURCE_KINDS,
  RUN_ID_RE,
  dataParam,
  digest,
  markTag,
  priorityBarrierName,
  resourceName,
  type ResourceKind,
} from './names.js';
import type { RecoveryMode, Resolved } from './types.js';
import { toYaml } from './yaml.js';

// ---- types ----------------------------------------------------------------

/** The HOT version of every generated and library template (Wallaby and later: Zed has it). */
export const HEAT_TEMPLATE_VERSION = '2021-04-16';

export interface GenerateOptions {
  /** The workflow run (tag and metadata ferry:run): letters, digits, `.`, `_`, `:`, `-`; at most 49 characters. */
  runId: string;
  /** The template library (default: heat-templates/ of this checkout). */
  library?: TemplateLibrary;
  /**
   * Recover a partial point: volumes without data are left out, and so are servers whose root
   * volume has none (each with a warning). Without it a partial point is refused.
   */
  allowPartial?: boolean;
}

/** A resource of a generated template and the primary object it recovers. */
export interface IndexEntry {
  resource: string;
  kind: ResourceKind;
  /** The primary object's identity (ID, flavor key, keypair name); undefined for barriers. */
  sourceId?: string;
  /** The primary object's name, for people reading a plan. */
  sourceName?: string;
  /** Volumes: the volume type the plan wants at the secondary (null: default), which Heat's backup restore does not apply. */
  volumeType?: string | null;
}

export type GenerateWarningCode =
  | 'volume-data-missing'
  | 'server-skipped'
  | 'keypair-no-public-key'
  | 'security-group-missing'
  | 'remote-group-missing'
  | 'remote-address-group-unsupported'
  | 'security-group-renamed'
  | 'security-group-stateless'
  | 'default-egress-kept'
  | 'subnet-missing'
  | 'priority-member-not-found'
  | 'floating-ip-unroutable'
  | 'volume-type-not-applied'
  | 'encrypted-volume'
  | 'heat-limits';

export interface GenerateWarning {
  code: GenerateWarningCode;
  message: string;
  resource?: string;
  sourceId?: string;
}

export interface GenerateIssue {
  /** JSON path in the recovery point (or `resolved.*`, `options.*`) of the offending value. */
  path: string;
  message: string;
  fix: string;
}

/** What the stack asks of the secondary's quotas (Nova, Cinder, Neutron), for a pre-flight check. */
export interface QuotaDemand {
  instances: number;
  cores: number;
  ramMiB: number;
  volumes: number;
  volumeGiB: number;
  ports: number;
  networks: number;
  subnets: number;
  securityGroups: number;
  securityGroupRules: number;
  floatingIps: number;
  keypairs: number;
  serverGroups: number;
}

export interface GenerateStats {
  servers: number;
  volumes: number;
  ports: number;
  /** Resources of the top template. */
  resources: number;
  /** Resources Heat counts against max_resources_per_stack (nested ones included). */
  totalResources: number;
  templateBytes: number;
  parameterBytes: number;
}

export interface GeneratedStack {
  mode: RecoveryMode;
  /** A stack name for this plan and mode (DR tests add the run). */
  stackName: string;
  /** Stack tags: plan, point, run and mode. */
  stackTags: string[];
  template: Record<string, unknown>;
  /** parameter_defaults (marks, prefixes), parameters (the secondary's IDs), resource_registry. */
  environment: Record<string, unknown>;
  /** The nested templates the registry binds, by the paths the registry uses. */
  files: Record<string, string>;
  /** The recovery point's values (`*_data`) and backup IDs, for the create call's `parameters`. */
  parameters: Record<string, unknown>;
  yaml: {
    template: string;
    environment: string;
    /** `parameters` as an environment file (`parameters:` section), for `openstack stack create -e`. */
    parameters: string;
  };
  /** Every resource and what it recovers, sorted by resource name. */
  index: IndexEntry[];
  warnings: GenerateWarning[];
  demand: QuotaDemand;
  stats: GenerateStats;
}

/** A recovery point, plan and facts that cannot make a stack; `issues` lists every problem. */
export class GenerateError extends FerryError {
  override readonly name: string = 'GenerateError';
  constructor(readonly issues: GenerateIssue[]) {
    const shown = issues.slice(0, 10).map((i) => `${i.path}: ${i.message} (fix: ${i.fix})`);
    const more = issues.length > 10 ? [`... and ${issues.length - 10} more`] : [];
    super(`cannot generate the recovery stack: ${[...shown, ...more].join('; ')}`);
  }
}

// ---- HOT helpers -------------------------------------------------------------------

type Json = unknown;
type ParamType = 'string' | 'json' | 'number' | 'boolean';

interface ParamDecl {
  type: ParamType;
  description: string;
  default?: Json;
  constraints?: Json[];
}

const getParam = (name: string, ...path: (string | number)[]) => ({ get_param: path.length === 0 ? name : [name, ...path] });
const getAttr = (resource: string, attribute: string) => ({ get_attr: [resource, attribute] });
const getResource = (resource: string) => ({ get_resource: resource });
const prefixed = (prefixParam: string, value: Json) => ({ list_join: ['', [getParam(prefixParam), value]] });

/** Descriptions of the top template's parameters, by what they hold (constant text only). */
const PARAM_TEXT = {
  data: "The recovery point's values of this resource.",
  networkId: 'ID of the existing network at the secondary; empty to create one.',
  subnetId: 'ID of the existing subnet at the secondary; empty to create one.',
  secgroupId: 'ID of the mapped security group at the secondary.',
  flavorId: 'ID of the flavor at the secondary.',
  imageId: 'ID of the image at the secondary.',
  keypairName: 'Name of the keypair at the secondary.',
  zone: 'Nova availability zone at the secondary; empty lets the scheduler choose.',
  backup: 'The imported backup at the secondary this volume is restored from.',
  external: 'The external network at the secondary for floating IPs; empty when there is none.',
  plan: 'Protection plan name (mark ferry:plan).',
  point: 'Recovery point ID (mark ferry:point).',
  run: 'Workflow run ID (mark ferry:run).',
  namePrefix: 'Prefix of the names of created servers, volumes, ports, groups, keypairs and flavors.',
  networkPrefix: 'Prefix of the names of created networks and subnets.',
} as const;

const constraint = (name: string) => [{ custom_constraint: name }];

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A copy of a string map with sorted keys (input key order never shows in the output). */
function sortedMap(m: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(m ?? {}).sort(cmp)) out[k] = m![k]!;
  return out;
}

const sortedList = (l: readonly string[] | undefined) => [...(l ?? [])].sort(cmp);

// ---- the builder ----------------------------------------------------------------------

interface ResourceDef {
  kind: ResourceKind;
  def: Record<string, unknown>;
}

class StackBuilder {
  readonly params = new Map<string, ParamDecl>();
  readonly resources = new Map<string, ResourceDef>();
  /** environment.parameters: the secondary's IDs. */
  readonly siteValues: Record<string, Json> = {};
  /** parameters: the recovery point's values. */
  readonly pointValues: Record<string, Json> = {};
  readonly index: IndexEntry[] = [];
  readonly warnings: GenerateWarning[] = [];
  readonly issues: GenerateIssue[] = [];
  private readonly owners = new Map<string, string>();

  issue(path: string, message: string, fix: string): void {
    this.issues.push({ path, message, fix });
  }

  warn(code: GenerateWarningCode, message: string, extra: { resource?: string; sourceId?: string } = {}): void {
    this.warnings.push({ code, message, ...extra });
  }

  /** Claims a resource name for a primary object; a digest shared by two objects of one kind is an issue. */
  claim(kind: Exclude<ResourceKind, 'priority'>, identity: string, path: string): string {
    const name = resourceName(kind, identity);
    const owner = this.owners.get(name);
    if (owner !== undefined && owner !== identity) {
      this.issue(path, `'${identity}' and '${owner}' share the resource name ${name}`, 'report this to the Ferry developers (a 48-bit digest collision)');
    }
    this.owners.set(name, identity);
    return name;
  }

  param(name: string, decl: ParamDecl): void {
    this.params.set(name, decl);
  }

  data(resource: string, values: Record<string, Json>): void {
    const name = dataParam(resource);
    this.param(name, { type: 'json', description: PARAM_TEXT.data });
    this.pointValues[name] = values;
  }

  site(name: string, value: Json, decl: ParamDecl): void {
    this.param(name, decl);
    this.siteValues[name] = value;
  }

  add(name: string, kind: ResourceKind, def: Record<string, unknown>, entry: Omit<IndexEntry, 'resource' | 'kind'> = {}): void {
    this.resources.set(name, { kind, def });
    this.index.push({ resource: name, kind, ...entry });
  }
}

// ---- generation -----------------------------------------------------------------------

/** Heat's defaults (heat.conf max_resources_per_stack, max_template_size). */
const HEAT_DEFAULT_MAX_RESOURCES = 1000;
const HEAT_DEFAULT_MAX_TEMPLATE_BYTES = 524_288;

/** A DR::* resource bound to a nested template counts twice (itself and the one resource inside); bound to OS::Heat::None, once. */
const NESTED_RESOURCES_PER_TYPE = 1;

/**
 * Generates the stack recovering `manifest`'s members at the secondary in `mode`. Throws
 * GenerateError listing every problem (unresolved objects, addresses that cannot be kept, two
 * volumes from one backup, a partial point without allowPartial, ...).
 */
export function generate(manifest: RecoveryPointManifest, plan: ProtectionPlan, resolved: Resolved, mode: RecoveryMode, options: GenerateOptions): GeneratedStack {
  const b = new StackBuilder();
  const library = options.library ?? defaultLibrary();
  const env = modeEnvironment(library, mode);

  if (!RUN_ID_RE.test(options.runId)) {
    b.issue('options.runId', `'${options.runId}' cannot be a mark`, `use letters, digits, '.', '_', ':' and '-', at most ${NOVA_TAG_MAX - 'ferry:run='.length} characters (a run's UUID fits)`);
  }
  if (manifest.status !== 'complete' && !options.allowPartial) {
    b.issue('$.status', `recovery point ${manifest.id} is ${manifest.status}`, 'recover a complete point, or allow a partial one (missing volumes are left out)');
  }

  const dataByVolume = new Map<string, VolumeDataRef>();
  for (const d of manifest.data.volumes) dataByVolume.set(d.sourceVolumeId, d);
  checkBackupsUnique(b, manifest);

  // Which members can be recovered (a partial point may lack a root volume's data).
  const members = [...manifest.members].sort((x, y) => cmp(x.server.id, y.server.id));
  const recovered: Member[] = [];
  members.forEach((m) => {
    const path = memberPath(manifest, m);
    if (m.server.bootFromVolume) {
      const root = bootVolume(m);
      if (!root) {
        b.issue(`${path}.volumes`, `server ${m.server.name} (${m.server.id}) boots from a volume, but none of its volumes is its root disk`, 'check the discovery warnings of the point (boot-volume-missing); the server cannot be recovered without it');
        return;
      }
      if (!dataByVolume.has(root.id)) {
        if (options.allowPartial && manifest.status === 'partial') {
          b.warn('server-skipped', `server ${m.server.name} (${m.server.id}) is left out: its root volume ${root.id} has no data in this point`, { sourceId: m.server.id });
          return;
        }
        b.issue(`${path}.volumes`, `the root volume ${root.id} of server ${m.server.name} has no data in point ${manifest.id}`, 'recover a point that holds it');
        return;
      }
    }
    recovered.push(m);
  });

  const ctx = new Context(b, manifest, plan, resolved, mode);
  ctx.common();
  // Shared objects the recovered members use, then the members.
  const used = usedObjects(recovered);
  ctx.networks(used);
  ctx.securityGroups(used);
  ctx.flavors(used);
  ctx.keypairs(used);
  ctx.serverGroups(used);
  ctx.images(used);
  ctx.zones(used);
  for (const m of recovered) ctx.member(m, dataByVolume, options);
  ctx.priorityGroups(recovered);
  ctx.externalNetwork();

  if (b.issues.length > 0) throw new GenerateError(b.issues);
  return assemble(b, ctx, library, env, manifest, plan, mode, options.runId, recovered);
}

const memberIndex = new WeakMap<RecoveryPointManifest, Map<Member, number>>();

/** `$.members[i]` of a member in the manifest as given. */
function memberPath(manifest: RecoveryPointManifest, m: Member): string {
  let index = memberIndex.get(manifest);
  if (!index) {
    index = new Map(manifest.members.map((x, i) => [x, i]));
    memberIndex.set(manifest, index);
  }
  return `$.members[${index.get(m)}]`;
}

function bootVolume(m: Member): MemberVolume | undefined {
  return m.volumes.find((v) => v.bootIndex === 0);
}

function checkBackupsUnique(b: StackBuilder, manifest: RecoveryPointManifest): void {
  const seen = new Map<string, number>();
  manifest.data.volumes.forEach((d, i) => {
    const first = seen.get(d.secondaryBackupId);
    if (first !== undefined) {
      b.issue(
        `$.data.volumes[${i}].secondaryBackupId`,
        `volumes ${manifest.data.volumes[first]!.sourceVolumeId} and ${d.sourceVolumeId} would both be restored from backup ${d.secondaryBackupId}; Cinder restores one backup into one volume at a time`,
        'the recovery point is inconsistent: take a new one',
      );
    } else seen.set(d.secondaryBackupId, i);
  });
}

interface UsedObjects {
  networks: Set<string>;
  subnets: Set<string>;
  securityGroups: Set<string>;
  flavors: Set<string>;
  keypairs: Set<string>;
  serverGroups: Set<string>;
  images: Set<string>;
  zones: Set<string>;
}

function usedObjects(members: Member[]): UsedObjects {
  const u: UsedObjects = { networks: new Set(), subnets: new Set(), securityGroups: new Set(), flavors: new Set(), keypairs: new Set(), serverGroups: new Set(), images: new Set(), zones: new Set() };
  for (const m of members) {
    u.flavors.add(m.server.flavor.key);
    if (m.server.keyName) u.keypairs.add(m.server.keyName);
    for (const g of m.server.serverGroups) u.serverGroups.add(g.id);
    if (!m.server.bootFromVolume && m.server.image) u.images.add(m.server.image.id);
    if (m.server.availabilityZone) u.zones.add(m.server.availabilityZone);
    for (const p of m.ports) {
      u.networks.add(p.networkId);
      for (const ip of p.fixedIps) u.subnets.add(ip.subnetId);
      if (p.portSecurityEnabled !== false) for (const sg of p.securityGroupIds) u.securityGroups.add(sg);
    }
  }
  return u;
}

/** An optional discovery field (not yet in the inventory model): the port's floating IPs at the primary. */
interface PortFloatingIps {
  floatingIps?: { floatingIpAddress: string; floatingNetworkId?: string }[];
}

class Context {
  /** Resource name of each recreated/mapped network and subnet, by primary ID. */
  readonly networkRes = new Map<string, string>();
  readonly subnetRes = new Map<string, string>();
  /** Subnet resources of each network resource (ports without fixed IPs wait for them). */
  readonly subnetsOfNetwork = new Map<string, string[]>();
  /** Created (failover/standby) or isolated (drtest) networks and subnets, for the quota demand. */
  createdNetworks = 0;
  createdSubnets = 0;
  /** A reference to each security group at the secondary, by primary ID. */
  readonly securityGroupRef = new Map<string, Json>();
  recreatedSecurityGroups = 0;
  securityGroupRules = 0;
  readonly flavorRef = new Map<string, Json>();
  readonly keypairRef = new Map<string, Json>();
  createdKeypairs = 0;
  readonly serverGroupRes = new Map<string, string>();
  readonly imageParam = new Map<string, string>();
  readonly zoneParam = new Map<string, string>();
  /** Per recovered server: its resource and the attachments a barrier waits for. */
  readonly serverRes = new Map<string, { server: string; attachments: string[] }>();
  floatingIps = 0;
  ports = 0;
  volumes = 0;
  volumeGiB = 0;
  cores = 0;
  ramMiB = 0;
  volumeTypeNotApplied: string[] = [];

  constructor(
    readonly b: StackBuilder,
    readonly manifest: RecoveryPointManifest,
    readonly plan: ProtectionPlan,
    readonly resolved: Resolved,
    readonly mode: RecoveryMode,
  ) {}

  common(): void {
    this.b.param(COMMON_PARAMS.plan, { type: 'string', description: PARAM_TEXT.plan });
    this.b.param(COMMON_PARAMS.point, { type: 'string', description: PARAM_TEXT.point });
    this.b.param(COMMON_PARAMS.run, { type: 'string', description: PARAM_TEXT.run });
    this.b.param(COMMON_PARAMS.namePrefix, { type: 'string', default: '', description: PARAM_TEXT.namePrefix });
    this.b.param(COMMON_PARAMS.networkPrefix, { type: 'string', default: '', description: PARAM_TEXT.networkPrefix });
  }

  // -- networks and subnets -----------------------------------------------------------

  networks(used: UsedObjects): void {
    const { b, manifest, resolved } = this;
    for (const netId of [...used.networks].sort(cmp)) {
      const net = manifest.shared.networks[netId];
      if (!net) continue; // reported per port
      const res = b.claim('net', netId, `$.shared.networks["${netId}"]`);
      const target = resolved.networks[netId];
      if (!target) {
        b.issue(`resolved.networks["${netId}"]`, `network ${net.name} (${netId}) has no counterpart at ${resolved.site}`, `map it (mappings.networks: [{from: ${net.name || netId}, to: NAME}]) or recreate it, then resolve again`);
        continue;
      }
      this.networkRes.set(netId, res);
      b.site(`${res}_id`, target.kind === 'map' ? target.id : '', { type: 'string', default: '', description: PARAM_TEXT.networkId });
      if (target.kind === 'recreate' || this.mode === 'drtest') this.createdNetworks++;
      b.data(res, {
        name: target.kind === 'recreate' && target.name !== undefined ? target.name : net.name,
        source_id: net.id,
        admin_state_up: net.adminStateUp,
        mtu: (target.kind === 'recreate' ? target.mtu : undefined) ?? net.mtu ?? 0,
        port_security_enabled: net.portSecurityEnabled ?? true,
        tags: sortedList(net.tags),
      });
      const d = dataParam(res);
      b.add(
        res,
        'net',
        {
          type: 'DR::Network',
          properties: {
            existing_id: getParam(`${res}_id`),
            name: getParam(d, 'name'),
            source_id: getParam(d, 'source_id'),
            admin_state_up: getParam(d, 'admin_state_up'),
            mtu: getParam(d, 'mtu'),
            port_security_enabled: getParam(d, 'port_security_enabled'),
            tags: getParam(d, 'tags'),
          },
        },
        { sourceId: net.id, sourceName: net.name },
      );
      this.subnetsOfNetwork.set(res, []);
    }
    for (const subnetId of [...used.subnets].sort(cmp)) this.subnet(subnetId);
  }

  private subnet(subnetId: string): void {
    const { b, manifest, resolved } = this;
    const s = manifest.shared.subnets[subnetId];
    if (!s) return; // reported per port
    const netRes = this.networkRes.get(s.networkId);
    if (!netRes) return;
    const target = resolved.subnets[subnetId];
    const path = `resolved.subnets["${subnetId}"]`;
    if (!target) {
      b.issue(path, `subnet ${s.name} (${s.cidr}, ${subnetId}) has no counterpart at ${resolved.site}`, `map it (mappings.subnets: [{from: ${s.name || subnetId}, to: NAME}]) or recreate it, then resolve again`);
      return;
    }
    const netTarget = resolved.networks[s.networkId];
    if (target.kind === 'map' && netTarget?.kind === 'recreate') {
      b.issue(path, `subnet ${s.name} (${subnetId}) is mapped to the existing subnet ${target.id}, but its network is recreated: a subnet cannot move to another network`, 'map the network too, or recreate the subnet');
      return;
    }
    const o = target.kind === 'recreate' ? target.overrides : {};
    if (o.cidr !== undefined && o.cidr !== s.cidr && o.gateway_ip === undefined && s.gatewayIp !== null) {
      b.issue(path, `the plan gives subnet ${s.name} the CIDR ${o.cidr} but keeps the primary's gateway ${s.gatewayIp} (in ${s.cidr})`, `set gateway_ip for it in mappings.subnets`);
      return;
    }
    const res = b.claim('subnet', subnetId, `$.shared.subnets["${subnetId}"]`);
    this.subnetRes.set(subnetId, res);
    this.subnetsOfNetwork.get(netRes)!.push(res);
    if (target.kind === 'recreate' || this.mode === 'drtest') this.createdSubnets++;
    const cidrChanged = o.cidr !== undefined && o.cidr !== s.cidr;
    b.site(`${res}_id`, target.kind === 'map' ? target.id : '', { type: 'string', default: '', description: PARAM_TEXT.subnetId });
    b.data(res, {
      name: o.name ?? s.name,
      source_id: s.id,
      cidr: o.cidr ?? s.cidr,
      ip_version: s.ipVersion,
      gateway_ip: o.gateway_ip ?? s.gatewayIp ?? '',
      enable_dhcp: o.enable_dhcp ?? s.enableDhcp,
      allocation_pools: (o.allocation_pools ?? (cidrChanged ? [] : s.allocationPools)).map((p) => ({ start: p.start, end: p.end })),
      dns_nameservers: [...(o.dns_nameservers ?? s.dnsNameservers)],
      host_routes: cidrChanged ? [] : s.hostRoutes.map((r) => ({ destination: r.destination, nexthop: r.nexthop })),
      ipv6_ra_mode: s.ipv6RaMode ?? '',
      ipv6_address_mode: s.ipv6AddressMode ?? '',
      tags: sortedList(s.tags),
    });
    const d = dataParam(res);
    const props: Record<string, Json> = { existing_id: getParam(`${res}_id`), network: getAttr(netRes, 'network_id') };
    for (const k of ['name', 'source_id', 'cidr', 'ip_version', 'gateway_ip', 'enable_dhcp', 'allocation_pools', 'dns_nameservers', 'host_routes', 'ipv6_ra_mode', 'ipv6_address_mode', 'tags']) {
      props[k] = getParam(d, k);
    }
    b.add(res, 'subnet', { type: 'DR::Subnet', properties: props }, { sourceId: s.id, sourceName: s.name });
  }

  /** The CIDR a preserved address must fit at the secondary (the mapped subnet's, else the recreated one's). */
  subnetCidrAtSecondary(subnetId: string): string | undefined {
    const target = this.resolved.subnets[subnetId];
    const s = this.manifest.shared.subnets[subnetId];
    if (!target || !s) return undefined;
    if (this.mode === 'drtest') return target.kind === 'recreate' ? (target.overrides.cidr ?? s.cidr) : s.cidr;
    return target.kind === 'map' ? target.cidr : (target.overrides.cidr ?? s.cidr);
  }

  // -- security groups ----------------------------------------------------------------

  securityGroups(used: UsedObjects): void {
    const { b, manifest, resolved } = this;
    // A recreated group's remote groups must exist too, even when no member port uses them.
    const wanted = new Set<string>();
    const visit = (id: string) => {
      if (wanted.has(id)) return;
      const sg = manifest.shared.securityGroups[id];
      if (!sg) return;
      wanted.add(id);
      if (resolved.securityGroups[id]?.kind === 'map') return;
      for (const r of sg.rules) if (r.remoteGroupId) visit(r.remoteGroupId);
    };
    for (const id of [...used.securityGroups].sort(cmp)) {
      if (!manifest.shared.securityGroups[id]) {
        b.warn('security-group-missing', `security group ${id} is not in the recovery point (discovery could not read it): ports are recovered without it`, { sourceId: id });
        continue;
      }
      visit(id);
    }
    const ids = [...wanted].sort(cmp);
    for (const id of ids) {
      const sg = manifest.shared.securityGroups[id]!;
      const target = resolved.securityGroups[id];
      if (!target) {
        b.issue(`resolved.securityGroups["${id}"]`, `security group ${sg.name} (${id}) has no counterpart at ${resolved.site}`, 'recreate it (mappings.security_groups: recreate) or map it, then resolve again');
        continue;
      }
      const res = b.claim('secgroup', id, `$.shared.securityGroups["${id}"]`);
      if (target.kind === 'map') {
        b.site(`${res}_id`, target.id, { type: 'string', description: PARAM_TEXT.secgroupId, constraints: constraint('neutron.security_group') });
        this.securityGroupRef.set(id, getParam(`${res}_id`));
        continue;
      }
      this.securityGroupRef.set(id, getAttr(res, 'security_group_id'));
    }
    for (const id of ids) {
      if (resolved.securityGroups[id]?.kind !== 'recreate') continue;
      this.recreateSecurityGroup(manifest.shared.securityGroups[id]!);
    }
  }

  private recreateSecurityGroup(sg: SecurityGroupSpec): void {
    const { b } = this;
    const res = resourceName('secgroup', sg.id);
    this.recreatedSecurityGroups++;
    const inline: Record<string, Json>[] = [];
    const cross: SecurityGroupRuleSpec[] = [];
    for (const rule of [...sg.rules].sort((x, y) => cmp(x.id, y.id))) {
      if (rule.remoteAddressGroupId) {
        b.warn('remote-address-group-unsupported', `rule ${rule.id} of security group ${sg.name} names address group ${rule.remoteAddressGroupId}, which Heat cannot recreate: the rule is left out`, { resource: res, sourceId: rule.id });
        continue;
      }
      if (rule.remoteGroupId && rule.remoteGroupId !== sg.id) {
        if (!this.securityGroupRef.has(rule.remoteGroupId)) {
          b.warn('remote-group-missing', `rule ${rule.id} of security group ${sg.name} names group ${rule.remoteGroupId}, which the point does not hold: the rule is left out`, { resource: res, sourceId: rule.id });
          continue;
        }
        cross.push(rule);
        continue;
      }
      const r: Record<string, Json> = { direction: rule.direction, ethertype: rule.ethertype };
      if (rule.protocol !== undefined) r.protocol = rule.protocol;
      if (rule.portRangeMin !== undefined) r.port_range_min = rule.portRangeMin;
      if (rule.portRangeMax !== undefined) r.port_range_max = rule.portRangeMax;
      if (rule.remoteGroupId) r.remote_mode = 'remote_group_id';
      else {
        r.remote_mode = 'remote_ip_prefix';
        if (rule.remoteIpPrefix !== undefined) r.remote_ip_prefix = rule.remoteIpPrefix;
      }
      inline.push(r);
    }
    this.securityGroupRules += inline.length + cross.length;
    const hasEgress = inline.some((r) => r.direction === 'egress');
    if (!hasEgress) {
      this.securityGroupRules += 2;
      b.warn('default-egress-kept', `security group ${sg.name} has no egress rule Heat can set with the group, so Neutron's default egress rules (allow all) stay on the recreated group`, { resource: res, sourceId: sg.id });
    }
    if (sg.stateful === false) {
      b.warn('security-group-stateless', `security group ${sg.name} is stateless at the primary; Heat recreates it stateful`, { resource: res, sourceId: sg.id });
    }
    // Neutron refuses a second group named "default" in a project.
    let name = sg.name;
    if (name.toLowerCase() === 'default') {
      name = `${this.plan.name}-default`;
      b.warn('security-group-renamed', `security group 'default' is recreated as '${name}' (Neutron keeps the name for each project's own default group)`, { resource: res, sourceId: sg.id });
    }
    b.data(res, { name, description: sg.description, rules: inline, source_id: sg.id });
    const d = dataParam(res);
    b.add(
      res,
      'secgroup',
      {
        type: 'DR::SecurityGroup',
        properties: { name: getParam(d, 'name'), description: getParam(d, 'description'), rules: getParam(d, 'rules'), source_id: getParam(d, 'source_id') },
      },
      { sourceId: sg.id, sourceName: sg.name },
    );
    for (const rule of cross) {
      const ruleRes = b.claim('rule', rule.id, `$.shared.securityGroups["${sg.id}"].rules`);
      const values: Record<string, Json> = { direction: rule.direction, ethertype: rule.ethertype, description: rule.description };
      if (rule.protocol !== undefined) values.protocol = rule.protocol;
      if (rule.portRangeMin !== undefined) values.port_range_min = rule.portRangeMin;
      if (rule.portRangeMax !== undefined) values.port_range_max = rule.portRangeMax;
      b.data(ruleRes, values);
      const rd = dataParam(ruleRes);
      const props: Record<string, Json> = { security_group: getAttr(res, 'security_group_id'), remote_group: this.securityGroupRef.get(rule.remoteGroupId!) };
      for (const k of Object.keys(values)) props[k] = getParam(rd, k);
      b.add(ruleRes, 'rule', { type: 'OS::Neutron::SecurityGroupRule', properties: props }, { sourceId: rule.id });
    }
  }

  // -- flavors, keypairs, server groups, images, zones ----------------------------------

  flavors(used: UsedObjects): void {
    const { b, manifest, resolved } = this;
    for (const key of [...used.flavors].sort(cmp)) {
      const f = manifest.shared.flavors[key];
      const target = resolved.flavors[key];
      const res = b.claim('flavor', key, `$.shared.flavors["${key}"]`);
      if (!f || !target) {
        b.issue(`resolved.flavors["${key}"]`, `flavor ${key} has no counterpart at ${resolved.site}`, `map it (mappings.flavors.map: [{from: ${key}, to: NAME}]) or let Ferry recreate it (recreate_missing), then resolve again`);
        continue;
      }
      if (target.kind === 'map') {
        b.site(`${res}_id`, target.id, { type: 'string', description: PARAM_TEXT.flavorId, constraints: constraint('nova.flavor') });
        this.flavorRef.set(key, getParam(`${res}_id`));
        continue;
      }
      b.data(res, { name: f.name, ram: f.ram, vcpus: f.vcpus, disk: f.disk, ephemeral: f.ephemeral, swap: f.swap, extra_specs: sortedMap(f.extraSpecs) });
      const d = dataParam(res);
      b.add(
        res,
        'flavor',
        {
          type: 'OS::Nova::Flavor',
          properties: {
            name: prefixed(COMMON_PARAMS.namePrefix, getParam(d, 'name')),
            ram: getParam(d, 'ram'),
            vcpus: getParam(d, 'vcpus'),
            disk: getParam(d, 'disk'),
            ephemeral: getParam(d, 'ephemeral'),
            swap: getParam(d, 'swap'),
            extra_specs: getParam(d, 'extra_specs'),
            is_public: false,
          },
        },
        { sourceId: key, sourceName: f.name },
      );
      this.flavorRef.set(key, getResource(res));
    }
  }

  keypairs(used: UsedObjects): void {
    const { b, manifest, resolved } = this;
    for (const name of [...used.keypairs].sort(cmp)) {
      const target = resolved.keypairs[name];
      const res = b.claim('keypair', name, `$.shared.keypairs["${name}"]`);
      if (target?.kind === 'map') {
        b.site(`${res}_name`, target.name, { type: 'string', description: PARAM_TEXT.keypairName, constraints: constraint('nova.keypair') });
        this.keypairRef.set(name, getParam(`${res}_name`));
        continue;
      }
      const spec = manifest.shared.keypairs[name] ?? manifest.members.find((m) => m.server.keypair?.name === name)?.server.keypair;
      if (!spec) {
        b.warn('keypair-no-public-key', `keypair ${name} is not at ${resolved.site} and the point has no public key for it: its servers are recovered without a keypair`, { sourceId: name });
        continue;
      }
      this.createdKeypairs++;
      b.data(res, { name: spec.name, public_key: spec.publicKey, type: spec.type });
      const d = dataParam(res);
      b.add(
        res,
        'keypair',
        { type: 'OS::Nova::KeyPair', properties: { name: prefixed(COMMON_PARAMS.namePrefix, getParam(d, 'name')), public_key: getParam(d, 'public_key'), type: getParam(d, 'type') } },
        { sourceId: name, sourceName: name },
      );
      this.keypairRef.set(name, getResource(res));
    }
  }

  serverGroups(used: UsedObjects): void {
    const { b, manifest } = this;
    for (const id of [...used.serverGroups].sort(cmp)) {
      const g = manifest.shared.serverGroups[id] ?? manifest.members.flatMap((m) => m.server.serverGroups).find((x) => x.id === id);
      if (!g) continue;
      const res = b.claim('servergroup', id, `$.shared.serverGroups["${id}"]`);
      const values: Record<string, Json> = { name: g.name, policy: g.policy };
      const props: Record<string, Json> = { name: prefixed(COMMON_PARAMS.namePrefix, getParam(dataParam(res), 'name')), policies: [getParam(dataParam(res), 'policy')] };
      if (g.rules?.maxServerPerHost !== undefined) {
        values.max_server_per_host = g.rules.maxServerPerHost;
        props.rules = { max_server_per_host: getParam(dataParam(res), 'max_server_per_host') };
      }
      b.data(res, values);
      b.add(res, 'servergroup', { type: 'OS::Nova::ServerGroup', properties: props }, { sourceId: id, sourceName: g.name });
      this.serverGroupRes.set(id, res);
    }
  }

  images(used: UsedObjects): void {
    const { b, resolved } = this;
    for (const id of [...used.images].sort(cmp)) {
      const target = resolved.images[id];
      const name = `image_${digest(id)}_id`;
      if (!target) {
        b.issue(`resolved.images["${id}"]`, `image ${id} of an image-booted member has no copy or mapping at ${resolved.site}`, `replicate images (mappings.images: replicate) or map it (mappings.images.map: [{from: ${id}, to: NAME}]), then resolve again`);
        continue;
      }
      b.site(name, target, { type: 'string', description: PARAM_TEXT.imageId, constraints: constraint('glance.image') });
      this.imageParam.set(id, name);
    }
  }

  zones(used: UsedObjects): void {
    const { b, resolved } = this;
    for (const zone of [...used.zones].sort(cmp)) {
      const name = `zone_${digest(zone)}`;
      b.site(name, resolved.computeZones[zone] ?? '', { type: 'string', default: '', description: PARAM_TEXT.zone });
      this.zoneParam.set(zone, name);
    }
  }

  externalNetwork(): void {
    if (this.floatingIps === 0) return;
    const id = this.resolved.externalNetworkId;
    if (!id && this.mode === 'failover') {
      this.b.issue('resolved.externalNetworkId', `${this.floatingIps} recovered port(s) had floating IPs, but ${this.resolved.site} has no external network`, 'give the secondary an external network (or resolve with the one to use)');
    }
    this.b.site(EXTERNAL_NETWORK_PARAM, id ?? '', { type: 'string', default: '', description: PARAM_TEXT.external });
  }

  // -- members --------------------------------------------------------------------------

  member(m: Member, dataByVolume: Map<string, VolumeDataRef>, options: GenerateOptions): void {
    const { b, manifest } = this;
    const s = m.server;
    const path = memberPath(manifest, m);
    const server = b.claim('server', s.id, `${path}.server.id`);

    // Volumes, in attachment order; the root disk boots the server, the others attach.
    let root: string | undefined;
    const attachable: { res: string; volume: MemberVolume }[] = [];
    for (const v of [...m.volumes].sort((x, y) => x.attachmentOrder - y.attachmentOrder || cmp(x.id, y.id))) {
      const data = dataByVolume.get(v.id);
      if (!data) {
        if (!options.allowPartial) continue; // the point is refused as partial
        b.warn('volume-data-missing', `volume ${v.name || v.id} of server ${s.name} has no data in this point and is left out`, { sourceId: v.id });
        continue;
      }
      const res = this.volume(v, data, path);
      if (v.bootIndex === 0 && s.bootFromVolume) root = res;
      else attachable.push({ res, volume: v });
    }

    // Ports, in NIC order.
    const nics: Json[] = [];
    for (const p of [...m.ports].sort((x, y) => x.nicIndex - y.nicIndex || cmp(x.id, y.id))) {
      const res = this.port(p, path);
      if (res) nics.push({ port: getAttr(res, 'port_id') });
    }

    const d = dataParam(server);
    b.data(server, {
      name: s.name,
      source_id: s.id,
      metadata: sortedMap(s.metadata),
      tags: sortedList(s.tags),
      config_drive: s.configDrive,
      disk_config: s.diskConfig === 'AUTO' ? 'AUTO' : 'MANUAL',
    });
    const props: Record<string, Json> = { name: getParam(d, 'name'), flavor: this.flavorRef.get(s.flavor.key) ?? '' };
    if (root) props.boot_volume = getAttr(root, 'volume_id');
    else if (s.image && this.imageParam.has(s.image.id)) props.image = getParam(this.imageParam.get(s.image.id)!);
    props.networks = nics;
    if (s.keyName && this.keypairRef.has(s.keyName)) props.key_name = this.keypairRef.get(s.keyName);
    if (s.availabilityZone && this.zoneParam.has(s.availabilityZone)) props.availability_zone = getParam(this.zoneParam.get(s.availabilityZone)!);
    const group = s.serverGroups[0];
    if (group && this.serverGroupRes.has(group.id)) props.server_group = getResource(this.serverGroupRes.get(group.id)!);
    for (const k of ['config_drive', 'disk_config', 'metadata', 'tags', 'source_id']) props[k] = getParam(d, k);
    b.add(server, 'server', { type: 'DR::Server', properties: props }, { sourceId: s.id, sourceName: s.name });

    // Attachments, each after the previous one of this server.
    const attachments: string[] = [];
    for (const { res, volume } of attachable) {
      const attach = b.claim('attach', volume.id, `${path}.volumes`);
      const def: Record<string, unknown> = { type: 'DR::VolumeAttachment', properties: { instance_uuid: getAttr(server, 'server_id'), volume_id: getAttr(res, 'volume_id') } };
      if (attachments.length > 0) def.depends_on = [attachments[attachments.length - 1]];
      b.add(attach, 'attach', def, { sourceId: volume.id, sourceName: volume.name });
      attachments.push(attach);
    }
    this.serverRes.set(s.id, { server, attachments });
    this.cores += s.flavor.vcpus;
    this.ramMiB += s.flavor.ram;
  }

  private volume(v: MemberVolume, data: VolumeDataRef, path: string): string {
    const { b, resolved } = this;
    const res = b.claim('volume', v.id, `${path}.volumes`);
    b.data(res, { name: v.name, description: v.description ?? '', size: Math.max(v.size, data.sizeGb), metadata: sortedMap(v.metadata), source_id: v.id });
    const backup = `${res}_backup`;
    b.param(backup, { type: 'string', description: PARAM_TEXT.backup, constraints: constraint('cinder.backup') });
    b.pointValues[backup] = data.secondaryBackupId;
    const d = dataParam(res);
    const volumeType = v.volumeType === undefined ? null : resolved.volumeTypes[v.volumeType] ?? null;
    if (volumeType !== null) this.volumeTypeNotApplied.push(res);
    if (v.encrypted) b.warn('encrypted-volume', `volume ${v.name || v.id} is encrypted: restoring it needs its key in the secondary's key manager`, { resource: res, sourceId: v.id });
    b.add(
      res,
      'volume',
      {
        type: 'DR::Volume',
        properties: {
          name: getParam(d, 'name'),
          description: getParam(d, 'description'),
          size: getParam(d, 'size'),
          backup_id: getParam(backup),
          metadata: getParam(d, 'metadata'),
          source_id: getParam(d, 'source_id'),
        },
      },
      { sourceId: v.id, sourceName: v.name, volumeType },
    );
    this.volumes++;
    this.volumeGiB += Math.max(v.size, data.sizeGb);
    return res;
  }

  private port(p: MemberPort, path: string): string | undefined {
    const { b, manifest, plan } = this;
    const netRes = this.networkRes.get(p.networkId);
    if (!netRes) {
      if (!manifest.shared.networks[p.networkId]) {
        b.issue(`${path}.ports`, `port ${p.id} is on network ${p.networkId}, which is not in the recovery point`, 'check the discovery warnings of the point (network-missing); the NIC cannot be recovered without its network');
      }
      return undefined;
    }
    const res = b.claim('port', p.id, `${path}.ports`);
    const d = dataParam(res);
    const preserve = plan.ip_policy === 'preserve';
    const fixedIps: Json[] = [];
    const addresses: string[] = [];
    for (const ip of p.fixedIps) {
      const subnetRes = this.subnetRes.get(ip.subnetId);
      if (!subnetRes) {
        if (!manifest.shared.subnets[ip.subnetId]) b.warn('subnet-missing', `address ${ip.ipAddress} of port ${p.id} is in subnet ${ip.subnetId}, which the point does not hold: Neutron chooses the port's address`, { resource: res, sourceId: p.id });
        continue;
      }
      if (!preserve) {
        fixedIps.push({ subnet: getAttr(subnetRes, 'subnet_id') });
        continue;
      }
      const cidr = this.subnetCidrAtSecondary(ip.subnetId);
      if (cidr !== undefined && !ipInCidr(ip.ipAddress, cidr)) {
        b.issue(`${path}.ports`, `port ${p.id} keeps ${ip.ipAddress} (ip_policy preserve), which is outside ${cidr}, the CIDR of its subnet at ${this.resolved.site}`, 'map the subnet to one with the same CIDR, or set ip_policy: dhcp');
        continue;
      }
      fixedIps.push({ subnet: getAttr(subnetRes, 'subnet_id'), ip_address: getParam(d, 'ip_addresses', addresses.length) });
      addresses.push(ip.ipAddress);
    }
    const secured = p.portSecurityEnabled !== false;
    const groups: Json[] = [];
    if (secured) for (const id of p.securityGroupIds) if (this.securityGroupRef.has(id)) groups.push(this.securityGroupRef.get(id));
    const values: Record<string, Json> = {
      name: p.name,
      source_id: p.id,
      mac_address: p.macAddress,
      port_security_enabled: secured,
      allowed_address_pairs: p.allowedAddressPairs.map((a) => (a.macAddress ? { ip_address: a.ipAddress, mac_address: a.macAddress } : { ip_address: a.ipAddress })),
      admin_state_up: p.adminStateUp,
      vnic_type: p.vnicType ?? 'normal',
      tags: sortedList(p.tags),
    };
    if (addresses.length > 0) values.ip_addresses = addresses;
    b.data(res, values);
    const def: Record<string, unknown> = {
      type: 'DR::Port',
      properties: {
        name: getParam(d, 'name'),
        network: getAttr(netRes, 'network_id'),
        fixed_ips: fixedIps,
        mac_address: getParam(d, 'mac_address'),
        keep_mac: getAttr(netRes, 'created'),
        security_groups: groups,
        port_security_enabled: getParam(d, 'port_security_enabled'),
        allowed_address_pairs: getParam(d, 'allowed_address_pairs'),
        admin_state_up: getParam(d, 'admin_state_up'),
        vnic_type: getParam(d, 'vnic_type'),
        tags: getParam(d, 'tags'),
        source_id: getParam(d, 'source_id'),
      },
    };
    // Without fixed IPs to refer to, the port must still wait for its network's subnets.
    const subnets = this.subnetsOfNetwork.get(netRes) ?? [];
    if (fixedIps.length === 0 && subnets.length > 0) def.depends_on = [...subnets].sort(cmp);
    b.add(res, 'port', def, { sourceId: p.id, sourceName: p.name });
    this.ports++;

    const floating = (p as MemberPort & PortFloatingIps).floatingIps ?? [];
    if (floating.length > 0) {
      if (this.resolved.networks[p.networkId]?.kind === 'recreate') {
        // A DR test has no floating IPs anyway; elsewhere the operator should know.
        if (this.mode !== 'drtest') {
          b.warn('floating-ip-unroutable', `port ${p.id} had a floating IP, but its network is recreated without a router: no floating IP is allocated (map the network to one routed to the external network)`, { resource: res, sourceId: p.id });
        }
      } else {
        const fip = b.claim('fip', p.id, `${path}.ports`);
        b.add(
          fip,
          'fip',
          { type: 'DR::FloatingIP', properties: { floating_network: getParam(EXTERNAL_NETWORK_PARAM), port_id: getAttr(res, 'port_id'), source_id: getParam(d, 'source_id') } },
          { sourceId: p.id, sourceName: p.name },
        );
        this.floatingIps++;
      }
    }
    return res;
  }

  // -- boot order -----------------------------------------------------------------------

  priorityGroups(members: Member[]): void {
    const { b, plan } = this;
    if (plan.priority_groups.length === 0) return;
    const groupOf = new Map<string, number>();
    const byKey = new Map<string, Member[]>();
    for (const m of members) {
      for (const key of new Set([m.server.id, m.server.name])) byKey.set(key, [...(byKey.get(key) ?? []), m]);
    }
    plan.priority_groups.forEach((g, gi) => {
      for (const entry of g.members) {
        const matches = byKey.get(entry) ?? [];
        if (matches.length === 0) b.warn('priority-member-not-found', `priority group '${g.name}' names '${entry}', which is not a recovered member`, { sourceId: entry });
        for (const m of matches) if (!groupOf.has(m.server.id)) groupOf.set(m.server.id, gi + 1);
      }
    });
    const count = plan.priority_groups.length;
    for (let gi = 1; gi <= count; gi++) {
      const waits: string[] = [];
      for (const m of members) {
        if (groupOf.get(m.server.id) !== gi) continue;
        const r = this.serverRes.get(m.server.id);
        if (r) waits.push(r.server, ...r.attachments);
      }
      if (gi > 1) waits.push(priorityBarrierName(gi - 1));
      b.add(priorityBarrierName(gi), 'priority', { type: 'OS::Heat::None', depends_on: waits.sort(cmp) });
    }
    // Group n waits for barrier n-1; servers in no group wait for the last barrier.
    for (const m of members) {
      const r = this.serverRes.get(m.server.id);
      if (!r) continue;
      const gi = groupOf.get(m.server.id) ?? count + 1;
      if (gi === 1) continue;
      b.resources.get(r.server)!.def.depends_on = [priorityBarrierName(gi - 1)];
    }
  }
}

// ---- assembly -----------------------------------------------------------------------

const KIND_ORDER = new Map<ResourceKind, number>(RESOURCE_KINDS.map((k, i) => [k, i]));

function assemble(
  b: StackBuilder,
  ctx: Context,
  library: TemplateLibrary,
  env: ReturnType<typeof modeEnvironment>,
  manifest: RecoveryPointManifest,
  plan: ProtectionPlan,
  mode: RecoveryMode,
  runId: string,
  recovered: Member[],
): GeneratedStack {
  const parameters: Record<string, Json> = {};
  for (const name of [...b.params.keys()].sort(cmp)) {
    const p = b.params.get(name)!;
    const decl: Record<string, Json> = { type: p.type, description: p.description };
    if (p.default !== undefined) decl.default = p.default;
    if (p.constraints) decl.constraints = p.constraints;
    parameters[name] = decl;
  }
  const resources: Record<string, Json> = {};
  const names = [...b.resources.keys()].sort((x, y) => KIND_ORDER.get(b.resources.get(x)!.kind)! - KIND_ORDER.get(b.resources.get(y)!.kind)! || cmp(x, y));
  for (const name of names) {
    const { def } = b.resources.get(name)!;
    // Heat's usual key order: type, depends_on, properties.
    const out: Record<string, Json> = { type: def.type };
    if (def.depends_on) out.depends_on = def.depends_on;
    if (def.properties) out.properties = def.properties;
    resources[name] = out;
  }
  const template = {
    heat_template_version: HEAT_TEMPLATE_VERSION,
    description: 'Ferry recovery stack, generated from a recovery point: the values are in the parameters (ferry_plan, ferry_point and the *_data parameters), the bindings of the DR::* types in the environment.',
    parameters,
    resources,
  };

  const prefixes = mode === 'drtest' ? { name: plan.test.name_prefix, network: plan.test.network_prefix } : { name: '', network: '' };
  const registryEnv = heatEnvironment(env);
  const environment: Record<string, unknown> = {
    parameter_defaults: {
      [COMMON_PARAMS.plan]: plan.name,
      [COMMON_PARAMS.point]: manifest.id,
      [COMMON_PARAMS.run]: runId,
      [COMMON_PARAMS.namePrefix]: prefixes.name,
      [COMMON_PARAMS.networkPrefix]: prefixes.network,
    },
    parameters: sortedRecord(b.siteValues),
    resource_registry: registryEnv.resource_registry,
  };
  const files = filesFor(library, env);
  const pointParameters = sortedRecord(b.pointValues);

  const yaml = { template: toYaml(template), environment: toYaml(environment), parameters: toYaml({ parameters: pointParameters }) };

  // Heat counts the resources of nested stacks against max_resources_per_stack too.
  let totalResources = names.length;
  for (const name of names) {
    const type = b.resources.get(name)!.def.type as string;
    const target = env.registry[type];
    if (target && !target.startsWith('OS::')) totalResources += NESTED_RESOURCES_PER_TYPE;
  }
  const stats: GenerateStats = {
    servers: recovered.length,
    volumes: ctx.volumes,
    ports: ctx.ports,
    resources: names.length,
    totalResources,
    templateBytes: Buffer.byteLength(yaml.template),
    parameterBytes: Buffer.byteLength(yaml.parameters) + Buffer.byteLength(yaml.environment),
  };
  if (totalResources > HEAT_DEFAULT_MAX_RESOURCES || stats.templateBytes > HEAT_DEFAULT_MAX_TEMPLATE_BYTES) {
    b.warn(
      'heat-limits',
      `the stack has ${totalResources} resources (nested ones included) and a ${stats.templateBytes}-byte template; Heat's defaults are max_resources_per_stack ${HEAT_DEFAULT_MAX_RESOURCES} and max_template_size ${HEAT_DEFAULT_MAX_TEMPLATE_BYTES}: raise them at the secondary, or split the plan`,
    );
  }
  if (ctx.volumeTypeNotApplied.length > 0) {
    b.warn(
      'volume-type-not-applied',
      `${ctx.volumeTypeNotApplied.length} volume(s) have a volume type mapping, which Heat's restore from a backup does not apply (the restored volume gets the secondary's default type); the index lists the wanted types`,
    );
  }

  const serverless = mode === 'standby';
  const demand: QuotaDemand = {
    instances: serverless ? 0 : recovered.length,
    cores: serverless ? 0 : ctx.cores,
    ramMiB: serverless ? 0 : ctx.ramMiB,
    volumes: ctx.volumes,
    volumeGiB: ctx.volumeGiB,
    ports: ctx.ports,
    networks: ctx.createdNetworks,
    subnets: ctx.createdSubnets,
    securityGroups: ctx.recreatedSecurityGroups,
    securityGroupRules: ctx.securityGroupRules,
    floatingIps: mode === 'failover' ? ctx.floatingIps : 0,
    keypairs: ctx.createdKeypairs,
    serverGroups: ctx.serverGroupRes.size,
  };

  return {
    mode,
    stackName: mode === 'drtest' ? `ferry-${plan.name}-drtest-${runId.replace(/[^A-Za-z0-9-]/g, '').slice(0, 8)}` : `ferry-${plan.name}-${mode}`,
    stackTags: [markTag('plan', plan.name), markTag('point', manifest.id), markTag('run', runId), `ferry:mode=${mode}`],
    template,
    environment,
    files,
    parameters: pointParameters,
    yaml,
    index: [...b.index].sort((x, y) => cmp(x.resource, y.resource)),
    warnings: [...b.warnings].sort((x, y) => cmp(x.code, y.code) || cmp(x.resource ?? '', y.resource ?? '') || cmp(x.sourceId ?? '', y.sourceId ?? '') || cmp(x.message, y.message)),
    demand,
    stats,
  };
}

function sortedRecord(r: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const k of Object.keys(r).sort(cmp)) out[k] = r[k];
  return out;
}

/**
 * One environment file holding everything a generated stack needs besides its template and
 * files (parameter_defaults, the secondary's IDs and the point's values, the registry), for
 * `openstack stack create -t template.yaml -e <this>`. `registryBase` is where the nested
 * templates sit relative to this file (`../` for heat-templates/examples/).
 */
export function pairedEnvironmentYaml(stack: GeneratedStack, registryBase = ''): string {
  const env = stack.environment as { parameter_defaults: unknown; parameters: Record<string, unknown>; resource_registry: Record<string, string> };
  const registry: Record<string, string> = {};
  for (const [type, target] of Object.entries(env.resource_registry)) registry[type] = target.startsWith('OS::') ? target : `${registryBase}${target}`;
  const parameters = sortedRecord({ ...env.parameters, ...stack.parameters });
  return toYaml({ parameter_defaults: env.parameter_defaults, parameters, resource_registry: registry });
}
