// Online validation of a protection plan: can it run, and can the secondary recover all of it?
// A readiness report is a list of checks, each ok, warn or fail, naming its subject, the plan
// field it concerns (file:line:col when the plan came from a file) and a fix.
//
// Two halves, so that the rules are table-tested without HTTP:
//  - gathering (checkReadiness → gatherPrimary, gatherSecondary): ONE discovery at the primary
//    (list-detail calls, lib/inventory/discover.ts) and, at the secondary, a fixed number of
//    list calls whatever the plan's size (networks by scope, subnets by network chunks,
//    flavors, volume types, zones, limits, quotas; images and keypairs only when the plan maps
//    some), never a GET per member or per mapping. A listing that fails becomes a Fact with
//    its error; the assessment turns it into a warn or fail, it never aborts the report.
//  - assessment (assessReadiness, planNeeds): pure functions from the plan, the inventory and
//    the facts to checks.
//
// Decisions:
//  - The secondary's project is its cloud's scope in clouds.yaml: recovery happens there, and
//    its quota is what the plan must fit into.
//  - Quota is checked for the WHOLE plan at once (a failover recovers every member): instances,
//    vCPUs, RAM, volumes and gigabytes; the imported backups of every kept recovery point
//    (Cinder reserves quota on import_record) at the secondary and the same chain at the
//    primary; ports, and the security groups, rules, networks and subnets the plan recreates.
//    Usage already counts the plan's own backups when it is protected already, so
//    re-validating a running plan is conservative.
//  - "Not visible" is not "missing": a 403 (cinder-backup services are admin-only) or an absent
//    API extension is a warn that says what could not be verified.
//  - A `server:` selector that matches nothing fails (it names one server, a typo is likely);
//    a tag or metadata selector that matches nothing warns (servers may join it later), but a
//    plan that protects no server at all fails.
import pLimit, { type LimitFunction } from 'p-limit';
import type { ProtectionPlan, MemberSelector } from '../config/protection-plan.js';
import { isStatus } from '../errors.js';
import { chunks, discover, selectorsFromPlan } from '../inventory/discover.js';
import type { FlavorSpec, Inventory, Member } from '../inventory/model.js';
import { silentLogger, type Logger } from '../log.js';
import { availableZoneNames as availableVolumeZones, listAvailabilityZones as listVolumeZones } from '../openstack/blockstorage/availabilityzones.js';
import { getLimits as getVolumeLimits, type AbsoluteLimits as VolumeAbsoluteLimits } from '../openstack/blockstorage/limits.js';
import { listServices } from '../openstack/blockstorage/services.js';
import { listVolumeTypes } from '../openstack/blockstorage/types.js';
import { checkSite, REQUIRED_SERVICES, type ServiceReport } from '../openstack/check.js';
import { availableZoneNames as availableComputeZones, listAvailabilityZones as listComputeZones } from '../openstack/compute/availabilityzones.js';
import { listFlavors } from '../openstack/compute/flavors.js';
import { listKeypairs } from '../openstack/compute/keypairs.js';
import { getLimits as getComputeLimits, type AbsoluteLimits as ComputeAbsoluteLimits } from '../openstack/compute/limits.js';
import { findProject } from '../openstack/identity/projects.js';
import { imageUrls, type Image } from '../openstack/image/images.js';
import { listNetworks, type Network } from '../openstack/network/networks.js';
import { getQuotaDetails } from '../openstack/network/quotas.js';
import { listSecurityGroups } from '../openstack/network/securitygroups.js';
import { listSubnets } from '../openstack/network/subnets.js';
import { collect, paginate } from '../openstack/paginate.js';
import type { ServiceClient } from '../openstack/service-client.js';
import type { Site } from '../openstack/site.js';
import { DEFAULT_BANK_CONTAINER, readBankMarker } from '../replication/bank.js';
import { FENCED_TAG } from '../replication/types.js';

// ---- types ----------------------------------------------------------------------

export type CheckStatus = 'ok' | 'warn' | 'fail';

export type CheckKind =
  | 'site'
  | 'project'
  | 'services'
  | 'cinder-backup'
  | 'bank'
  | 'members'
  | 'priority-group'
  | 'discovery'
  | 'network'
  | 'subnet'
  | 'fixed-ips'
  | 'security-group'
  | 'flavor'
  | 'image'
  | 'volume-type'
  | 'availability-zone'
  | 'keypair'
  | 'quota';

export interface ReadinessCheck {
  check: CheckKind;
  status: CheckStatus;
  /** What the check is about: a site, a selector, a network, a quota resource... */
  subject: string;
  message: string;
  fix?: string;
  /** The plan field concerned, e.g. `members[1].server` (as PlanError issues name fields). */
  field?: string;
  /** file:line:col of that field, when the plan came from a file. */
  location?: string;
}

/** What recovering the whole plan takes, from the inventory (see planNeeds). */
export interface PlanNeeds {
  instances: number;
  cores: number;
  /** MiB. */
  ramMb: number;
  volumes: number;
  /** GiB. */
  volumeGb: number;
  /** Recovery points held at once: the retained ones plus the one being taken. */
  pointsKept: number;
  /** Backups held at each site: volumes × pointsKept (Cinder counts an incremental as a backup of the volume's size). */
  backups: number;
  backupGb: number;
  ports: number;
  securityGroups: number;
  securityGroupRules: number;
  networks: number;
  subnets: number;
}

export interface ReadinessReport {
  plan: string;
  primary: string;
  secondary: string;
  /** No check failed. */
  ok: boolean;
  counts: Record<CheckStatus, number>;
  /** Servers discovered (undefined when discovery did not run). */
  members?: number;
  needs?: PlanNeeds;
  checks: ReadinessCheck[];
  durationMs: number;
}

/** A fact gathered from a site, or why it could not be. */
export type Fact<T> = { ok: true; value: T } | { ok: false; error: string };

export interface SiteAccess {
  site: string;
  ok: boolean;
  error?: string;
  projectId?: string;
  projectName?: string;
  roles: string[];
}

export interface CinderServiceFact {
  host: string;
  zone: string;
  /** enabled | disabled */
  status: string;
  /** up | down */
  state: string;
}

export interface NamedResource {
  id: string;
  name: string;
}

export interface SecondaryNetwork extends NamedResource {
  shared: boolean;
  external: boolean;
}

export interface SecondarySubnet extends NamedResource {
  networkId: string;
  cidr: string;
}

export interface SecondaryFlavor extends NamedResource {
  vcpus: number;
  ram: number;
  disk: number;
}

export interface SecondaryImage extends NamedResource {
  status: string;
}

export interface QuotaDetail {
  limit: number;
  used: number;
  reserved?: number;
}

export interface PrimaryFacts {
  access: SiteAccess;
  /** The plan's project at the primary; `scope` when it is the cloud's own scope. */
  project?: Fact<{ id: string; name: string; scope: boolean }>;
  inventory?: Fact<Inventory>;
  backupServices?: Fact<CinderServiceFact[]>;
  volumeLimits?: Fact<VolumeAbsoluteLimits>;
}

/** What the secondary offers; a field left undefined was not asked for (the plan does not need it). */
export interface SecondaryFacts {
  access: SiteAccess;
  services?: ServiceReport[];
  backupServices?: Fact<CinderServiceFact[]>;
  bank?: Fact<{ container: string; layout?: string }>;
  networks?: Fact<SecondaryNetwork[]>;
  subnets?: Fact<SecondarySubnet[]>;
  securityGroups?: Fact<NamedResource[]>;
  flavors?: Fact<SecondaryFlavor[]>;
  images?: Fact<SecondaryImage[]>;
  volumeTypes?: Fact<NamedResource[]>;
  zones?: Fact<{ compute: string[]; volume: string[] }>;
  keypairs?: Fact<{ name: string }[]>;
  computeLimits?: Fact<ComputeAbsoluteLimits>;
  volumeLimits?: Fact<VolumeAbsoluteLimits>;
  networkQuota?: Fact<Record<string, QuotaDetail>>;
}

/** "file:line:col" of a plan field, when the plan came from a file. */
export type Locate = (path: (string | number)[]) => string | undefined;

export interface AssessOptions {
  locate?: Locate;
  /** The bank container (named in messages). */
  container?: string;
}

export interface ReadinessOptions extends AssessOptions {
  signal?: AbortSignal;
  logger?: Logger;
  /** List requests in flight per site (default 4). */
  concurrency?: number;
}

// ---- gathering ---------------------------------------------------------------------

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function fact<T>(fn: () => Promise<T>): Promise<Fact<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, error: message(err) };
  }
}

/** The enabled-or-not, up-or-down state of Cinder's services of one binary (admin only by default policy). */
async function listCinderServices(sc: ServiceClient, binary: string, signal?: AbortSignal): Promise<CinderServiceFact[]> {
  return (await listServices(sc, { binary }, signal)).map((s) => ({ host: s.host, zone: s.zone, status: s.status, state: s.state }));
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Glance images whose ID or name is one of `refs` (id=in: and name=in: listings, chunked). */
async function listImagesByRef(sc: ServiceClient, refs: string[], signal?: AbortSignal): Promise<SecondaryImage[]> {
  const ids = refs.filter((r) => UUID_RE.test(r));
  const names = refs.filter((r) => !UUID_RE.test(r));
  const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const queries = [...chunks(ids, 100).map((c) => ({ id: `in:${c.join(',')}` })), ...chunks(names, 50).map((c) => ({ name: `in:${c.map(quote).join(',')}` }))];
  const out = new Map<string, SecondaryImage>();
  for (const q of queries) {
    for await (const i of paginate<Image>(sc, imageUrls.list(), { ...q, visibility: 'all', member_status: 'all' }, { style: 'glance', key: 'images' }, { signal })) {
      out.set(i.id, { id: i.id, name: i.name ?? '', status: i.status });
    }
  }
  return [...out.values()];
}

function accessOf(site: string, info: { project?: { id: string; name?: string }; roles?: { name: string }[] }): SiteAccess {
  return { site, ok: true, projectId: info.project?.id, projectName: info.project?.name, roles: (info.roles ?? []).map((r) => r.name) };
}

/** The plan's project, discovery of its members, and the primary's backup side. */
export async function gatherPrimary(plan: ProtectionPlan, site: Site, opts: ReadinessOptions = {}): Promise<PrimaryFacts> {
  let access: SiteAccess;
  try {
    access = accessOf(site.name, (await site.connect(opts.signal)).info);
  } catch (err) {
    return { access: { site: site.name, ok: false, error: message(err), roles: [] } };
  }
  const limit = pLimit(opts.concurrency ?? 4);
  const project = await fact(async () => {
    if (plan.project === access.projectId || plan.project === access.projectName) return { id: access.projectId!, name: access.projectName ?? access.projectId!, scope: true };
    let found;
    try {
      found = await findProject(site.identity, plan.project, undefined, opts.signal);
    } catch (err) {
      if (!isStatus(err, 403)) throw err;
    }
    if (!found) throw new Error(`no project '${plan.project}' is visible at ${site.name} (the cloud is scoped to project '${access.projectName ?? access.projectId}')`);
    return { id: found.id, name: found.name, scope: false };
  });
  const other = project.ok && !project.value.scope ? project.value.id : undefined;
  const [inventory, backupServices, volumeLimits] = await Promise.all([
    project.ok ? fact(() => discover(site, selectorsFromPlan(plan.members), { projectId: project.value.id, excludeTags: [FENCED_TAG], signal: opts.signal, logger: opts.logger })) : Promise.resolve(undefined),
    limit(() => fact(() => listCinderServices(site.blockStorage, 'cinder-backup', opts.signal))),
    limit(() => fact(() => getVolumeLimits(site.blockStorage, other, opts.signal).then((l) => l.absolute))),
  ]);
  return { access, project, ...(inventory ? { inventory } : {}), backupServices, volumeLimits };
}

function mapTargets(list: { to?: string }[]): string[] {
  return list.flatMap((m) => (m.to !== undefined ? [m.to] : []));
}

/** Everything the secondary must offer, in a fixed number of list calls. */
export async function gatherSecondary(plan: ProtectionPlan, site: Site, opts: ReadinessOptions = {}): Promise<SecondaryFacts> {
  const report = await checkSite(site, opts.signal);
  if (report.services.length === 0) return { access: { site: site.name, ok: false, error: report.error ?? 'cannot authenticate', roles: [] }, services: [] };
  const token = await site.connect(opts.signal);
  const access = accessOf(site.name, token.info);
  const admin = access.roles.includes('admin');
  const projectId = access.projectId ?? '';
  const limit: LimitFunction = pLimit(opts.concurrency ?? 4);
  const signal = opts.signal;
  const m = plan.mappings;
  const task = <T>(fn: () => Promise<T>) => limit(() => fact(fn));

  // Networks the project can attach to: its own, shared ones and external ones.
  const networksP = task(async () => {
    const byId = new Map<string, Network>();
    for (const q of [{ project_id: projectId }, { shared: true }, { 'router:external': true }]) {
      for (const n of await collect(listNetworks(site.network, q, { signal }))) byId.set(n.id, n);
    }
    return [...byId.values()].map((n): SecondaryNetwork => ({ id: n.id, name: n.name, shared: n.shared, external: n['router:external'] === true }));
  });
  const subnetsP = networksP.then((nets) =>
    nets.ok
      ? task(async () => {
          const out: SecondarySubnet[] = [];
          for (const ids of chunks(
            nets.value.map((n) => n.id),
            100,
          )) {
            for (const s of await collect(listSubnets(site.network, { network_id: ids }, { signal }))) out.push({ id: s.id, name: s.name, networkId: s.network_id, cidr: s.cidr });
          }
          return out;
        })
      : ({ ok: false, error: `networks could not be listed: ${nets.error}` } as Fact<SecondarySubnet[]>),
  );
  const imageRefs = typeof m.images === 'string' ? [] : mapTargets(m.images.map);
  const keypairRefs = typeof m.keypairs === 'string' ? [] : mapTargets(m.keypairs.map);
  const [backupServices, bank, networks, subnets, securityGroups, flavors, images, volumeTypes, zones, keypairs, computeLimits, volumeLimits, networkQuota] = await Promise.all([
    task(() => listCinderServices(site.blockStorage, 'cinder-backup', signal)),
    task(async () => {
      const container = opts.container ?? DEFAULT_BANK_CONTAINER;
      const marker = await readBankMarker(site.objectStore, { container, signal });
      return { container, ...(marker ? { layout: marker.layout } : {}) };
    }),
    networksP,
    subnetsP,
    task(async () => (await collect(listSecurityGroups(site.network, { project_id: projectId }, { signal }))).map((g) => ({ id: g.id, name: g.name }))),
    task(async () => (await collect(listFlavors(site.compute, admin ? { is_public: 'none' } : {}, { signal }))).map((f) => ({ id: f.id, name: f.name, vcpus: f.vcpus, ram: f.ram, disk: f.disk }))),
    imageRefs.length > 0 ? task(() => listImagesByRef(site.image, imageRefs, signal)) : Promise.resolve(undefined),
    task(async () => (await collect(listVolumeTypes(site.blockStorage, admin ? { is_public: 'None' } : {}, { signal }))).map((t) => ({ id: t.id, name: t.name }))),
    task(async () => {
      const [compute, volume] = await Promise.all([
        listComputeZones(site.compute, { signal }).then(availableComputeZones),
        listVolumeZones(site.blockStorage, signal).then(availableVolumeZones),
      ]);
      return { compute, volume };
    }),
    keypairRefs.length > 0 ? task(async () => (await collect(listKeypairs(site.compute, {}, { signal }))).map((k) => ({ name: k.name }))) : Promise.resolve(undefined),
    task(async () => (await getComputeLimits(site.compute, { signal })).absolute),
    task(async () => (await getVolumeLimits(site.blockStorage, undefined, signal)).absolute),
    task(() => getQuotaDetails(site.network, projectId, signal)),
  ]);
  return {
    access,
    services: report.services,
    backupServices,
    bank,
    networks,
    subnets,
    securityGroups,
    flavors,
    ...(images ? { images } : {}),
    volumeTypes,
    zones,
    ...(keypairs ? { keypairs } : {}),
    computeLimits,
    volumeLimits,
    networkQuota,
  };
}

/**
 * Online validation: discovers the plan's members at the primary and checks, against the
 * secondary, everything recovering the whole plan needs. Never throws for what it finds: a
 * site that cannot be reached is a failed check.
 */
export async function checkReadiness(plan: ProtectionPlan, primary: Site, secondary: Site, opts: ReadinessOptions = {}): Promise<ReadinessReport> {
  const started = Date.now();
  const log = opts.logger ?? silentLogger;
  const [p, s] = await Promise.all([gatherPrimary(plan, primary, opts), gatherSecondary(plan, secondary, opts)]);
  const checks = assessReadiness(plan, p, s, opts);
  const inventory = p.inventory?.ok ? p.inventory.value : undefined;
  const report = summarize(plan, checks, Date.now() - started, inventory);
  log.info(`plan ${plan.name}: readiness ${report.ok ? 'ok' : 'failed'}`, { ...report.counts, ms: report.durationMs });
  return report;
}

/** The report around a list of checks. */
export function summarize(plan: ProtectionPlan, checks: ReadinessCheck[], durationMs: number, inventory?: Inventory): ReadinessReport {
  const counts: Record<CheckStatus, number> = { ok: 0, warn: 0, fail: 0 };
  for (const c of checks) counts[c.status]++;
  return {
    plan: plan.name,
    primary: plan.primary,
    secondary: plan.secondary,
    ok: counts.fail === 0,
    counts,
    ...(inventory ? { members: inventory.members.length, needs: planNeeds(plan, inventory) } : {}),
    checks,
    durationMs,
  };
}

// ---- needs (pure) -----------------------------------------------------------------------

/**
 * Recovery points held at once: the retained ones (count, or what `age` keeps at one point
 * per rpo, whichever is fewer) plus the one being taken before retention runs.
 */
export function pointsKept(plan: Pick<ProtectionPlan, 'rpo' | 'retention'>): number {
  const byCount = plan.retention.count ?? Infinity;
  const byAge = plan.retention.age ? Math.floor(plan.retention.age.ms / plan.rpo.ms) + 1 : Infinity;
  return Math.min(byCount, byAge) + 1;
}

function matches(ref: string, ...names: (string | undefined)[]): boolean {
  return names.some((n) => n !== undefined && n === ref);
}

/** What recovering every member takes at the secondary (and what the backup chain holds at each site). */
export function planNeeds(plan: ProtectionPlan, inv: Inventory): PlanNeeds {
  const volumes = inv.members.flatMap((m) => m.volumes);
  const volumeGb = volumes.reduce((n, v) => n + v.size, 0);
  const kept = pointsKept(plan);
  const sgMap = typeof plan.mappings.security_groups === 'string' ? [] : plan.mappings.security_groups.map;
  const recreatedGroups = Object.values(inv.securityGroups).filter((g) => !sgMap.some((e) => matches(e.from, g.id, g.name)));
  const recreatedNets = Object.values(inv.networks).filter((n) => plan.mappings.networks.some((e) => e.recreate && matches(e.from, n.id, n.name)));
  const subnetIds = new Set(recreatedNets.flatMap((n) => n.subnetIds.filter((id) => inv.subnets[id])));
  for (const s of Object.values(inv.subnets)) if (plan.mappings.subnets.some((e) => e.recreate && matches(e.from, s.id, s.name))) subnetIds.add(s.id);
  return {
    instances: inv.members.length,
    cores: inv.members.reduce((n, m) => n + m.server.flavor.vcpus, 0),
    ramMb: inv.members.reduce((n, m) => n + m.server.flavor.ram, 0),
    volumes: volumes.length,
    volumeGb,
    pointsKept: kept,
    backups: volumes.length * kept,
    backupGb: volumeGb * kept,
    ports: inv.members.reduce((n, m) => n + m.ports.length, 0),
    securityGroups: recreatedGroups.length,
    securityGroupRules: recreatedGroups.reduce((n, g) => n + g.rules.length, 0),
    networks: recreatedNets.length,
    subnets: subnetIds.size,
  };
}

// ---- assessment (pure) ------------------------------------------------------------------

/** Found, missing, or several of that name (an ID is needed). */
type Lookup<T> = { found: T } | { missing: true } | { ambiguous: T[] };

function lookup<T extends NamedResource>(list: readonly T[], ref: string): Lookup<T> {
  const byId = list.find((x) => x.id === ref);
  if (byId) return { found: byId };
  const named = list.filter((x) => x.name === ref);
  if (named.length === 1) return { found: named[0]! };
  if (named.length > 1) return { ambiguous: named };
  return { missing: true };
}

function some(names: string[], max = 5): string {
  const sorted = [...names].sort();
  return sorted.length <= max ? sorted.join(', ') : `${sorted.slice(0, max).join(', ')} and ${sorted.length - max} more`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function selectorText(s: MemberSelector): string {
  if (s.server !== undefined) return `server: ${s.server}`;
  if (s.tag !== undefined) return `tag: ${s.tag}`;
  return `metadata: ${Object.entries(s.metadata ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')}`;
}

function selected(s: MemberSelector, members: readonly Member[]): Member[] {
  if (s.server !== undefined) return members.filter((m) => m.server.id === s.server || m.server.name === s.server);
  if (s.tag !== undefined) return members.filter((m) => m.server.tags.includes(s.tag!));
  return members.filter((m) => Object.entries(s.metadata ?? {}).every(([k, v]) => m.server.metadata[k] === v));
}

// IP arithmetic for fixed IPs against CIDRs (IPv4 and IPv6).
function ipToBig(ip: string): { v: 4 | 6; n: bigint } | undefined {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ip)) {
    const parts = ip.split('.').map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { v: 4, n: parts.reduce((n, p) => (n << 8n) | BigInt(p), 0n) };
  }
  if (!ip.includes(':')) return undefined;
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const hs = head ? head.split(':') : [];
  const ts = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts] : hs;
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return { v: 6, n: groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

/** True when `ip` lies in `cidr`. */
export function cidrContains(cidr: string, ip: string): boolean {
  const [base, len] = cidr.split('/');
  const a = ipToBig(base ?? '');
  const b = ipToBig(ip);
  if (!a || !b || a.v !== b.v) return false;
  const bits = a.v === 4 ? 32n : 128n;
  const prefix = BigInt(Number(len ?? bits));
  const shift = bits - prefix;
  return a.n >> shift === b.n >> shift;
}

/** `members[1].server` from ['members', 1, 'server']. */
export function fieldPath(path: (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

class Checks {
  readonly list: ReadinessCheck[] = [];
  constructor(private readonly locate?: Locate) {}

  add(check: CheckKind, status: CheckStatus, subject: string, message: string, fix?: string, path?: (string | number)[]): void {
    const c: ReadinessCheck = { check, status, subject, message };
    if (fix) c.fix = fix;
    if (path) c.field = fieldPath(path);
    const location = path ? this.locate?.(path) : undefined;
    if (location) c.location = location;
    this.list.push(c);
  }
}

/** The checks of a plan against what the sites showed. Pure: same inputs, same checks. */
export function assessReadiness(plan: ProtectionPlan, primary: PrimaryFacts, secondary: SecondaryFacts, opts: AssessOptions = {}): ReadinessCheck[] {
  const c = new Checks(opts.locate);
  const P = plan.primary;
  const S = secondary.access.site;

  // Sites and projects.
  if (!primary.access.ok) {
    c.add('site', 'fail', P, `cannot reach the primary: ${primary.access.error}`, `check the '${P}' cloud in clouds.yaml and that the site is up (ferry sites check ${P})`, ['primary']);
  } else {
    c.add('site', 'ok', P, `primary reachable as ${primary.access.roles.includes('admin') ? 'an admin' : 'a member'} of project ${primary.access.projectName ?? primary.access.projectId}`);
  }
  if (!secondary.access.ok) {
    c.add('site', 'fail', S, `cannot reach the secondary: ${secondary.access.error}`, `check the '${S}' cloud in clouds.yaml and that the site is up (ferry sites check ${S})`, ['secondary']);
  } else {
    c.add('site', 'ok', S, `secondary reachable; recovery goes to its project ${secondary.access.projectName ?? secondary.access.projectId}`);
  }
  if (primary.project) {
    if (primary.project.ok) {
      const p = primary.project.value;
      c.add('project', 'ok', plan.project, p.scope ? `the scope of cloud ${P} (${p.id})` : `project ${p.name} (${p.id}), read with ${P}'s admin rights`, undefined, ['project']);
    } else {
      c.add('project', 'fail', plan.project, primary.project.error, `set project: to the members' project, or scope the '${P}' cloud in clouds.yaml to it`, ['project']);
    }
  }

  assessServices(c, plan, primary, secondary, opts.container ?? DEFAULT_BANK_CONTAINER);

  const inv = primary.inventory?.ok ? primary.inventory.value : undefined;
  if (primary.inventory && !primary.inventory.ok) {
    c.add('members', 'fail', P, `discovery failed: ${primary.inventory.error}`, `check that project ${plan.project} at ${P} is readable with this cloud's credentials`);
  }
  if (inv) assessMembers(c, plan, inv);
  if (!secondary.access.ok) return c.list;

  assessNetworks(c, plan, inv, secondary);
  assessSecurityGroups(c, plan, inv, secondary);
  assessFlavors(c, plan, inv, secondary);
  assessImages(c, plan, inv, secondary);
  assessVolumeTypes(c, plan, inv, secondary);
  assessZones(c, plan, inv, secondary);
  assessKeypairs(c, plan, inv, secondary);
  if (inv) assessQuota(c, plan, planNeeds(plan, inv), primary, secondary);
  return c.list;
}

function assessServices(c: Checks, plan: ProtectionPlan, primary: PrimaryFacts, secondary: SecondaryFacts, container: string): void {
  const S = secondary.access.site;
  if (secondary.access.ok && secondary.services) {
    const bad = secondary.services.filter((s) => REQUIRED_SERVICES.includes(s.type) && !s.ok);
    if (bad.length === 0) c.add('services', 'ok', S, `${REQUIRED_SERVICES.join(', ')} answer`);
    for (const s of bad) {
      c.add('services', 'fail', `${S} ${s.type}`, `${s.type} ${s.endpoint ? `at ${s.endpoint} does not answer` : 'is not in the catalog'}: ${s.error ?? 'unknown error'}`, `recovery needs ${s.type} at ${S}; see ferry sites check ${S}`);
    }
  }
  const backup = (site: string, f: Fact<CinderServiceFact[]> | undefined, role: string) => {
    if (!f) return;
    if (!f.ok) {
      c.add('cinder-backup', 'warn', site, `cannot list Cinder's services (${f.error}): cinder-backup not verified`, `an admin can check it with: openstack --os-cloud ${site} volume service list --service cinder-backup`);
      return;
    }
    const up = f.value.filter((s) => s.state === 'up' && s.status === 'enabled');
    if (up.length > 0) c.add('cinder-backup', 'ok', site, `${plural(up.length, 'cinder-backup service')} up (${some(up.map((s) => s.host))}): ${role}`);
    else {
      const seen = f.value.map((s) => `${s.host} ${s.status}/${s.state}`);
      c.add('cinder-backup', 'fail', site, `no cinder-backup service is up${seen.length ? ` (${seen.join(', ')})` : ''}: ${role} need it`, `start and enable cinder-backup at ${site}`);
    }
  };
  if (primary.access.ok) backup(plan.primary, primary.backupServices, 'backups of the members');
  if (secondary.access.ok) backup(S, secondary.backupServices, 'imports and restores');
  const bank = secondary.bank;
  if (secondary.access.ok && bank) {
    if (bank.ok) c.add('bank', 'ok', `${S}/${bank.value.container}`, bank.value.layout ? `bank ${bank.value.layout} present` : `no bank yet: plan apply creates container ${bank.value.container}`);
    else c.add('bank', 'fail', `${S}/${container}`, `the object store cannot hold the bank: ${bank.error}`, `recovery points live in ${S}'s Swift: check its object-store service and the container ${container}`);
  }
}

function assessMembers(c: Checks, plan: ProtectionPlan, inv: Inventory): void {
  const P = plan.primary;
  plan.members.forEach((s, i) => {
    const got = selected(s, inv.members);
    const text = selectorText(s);
    if (got.length > 0) {
      const names = got.map((m) => m.server.name);
      const ambiguous = s.server !== undefined && got.length > 1;
      c.add('members', ambiguous ? 'warn' : 'ok', text, `${plural(got.length, 'server')}: ${some(names)}${ambiguous ? ' (the name is not unique: all are protected)' : ''}`, ambiguous ? `select one by ID: server: ${got[0]!.server.id}` : undefined, ['members', i]);
      return;
    }
    const deleted = inv.warnings.find((w) => w.code === 'member-deleted' && (w.resourceId === s.server || w.message.includes(` ${s.server} (`)));
    if (s.server !== undefined) {
      c.add(
        'members',
        'fail',
        text,
        deleted ? deleted.message : `no server ${UUID_RE.test(s.server) ? 'has ID' : 'is named'} '${s.server}' in project ${plan.project} at ${P}`,
        `check the name (openstack --os-cloud ${P} server list), or remove this selector`,
        ['members', i, 'server'],
      );
    } else {
      c.add('members', 'warn', text, `matches no server at ${P} yet; servers that match it later join at the next cycle`, `check the ${s.tag !== undefined ? 'tag' : 'metadata'}, or remove this selector`, ['members', i]);
    }
  });
  if (inv.members.length === 0) {
    c.add('members', 'fail', 'all members', `the plan protects no server: no selector matches a server in project ${plan.project} at ${P}`, 'fix the member selectors', ['members']);
  }
  // Priority groups name servers: with tag or metadata selectors only the sites can tell.
  plan.priority_groups.forEach((g, gi) => {
    g.members.forEach((name, mi) => {
      if (inv.members.some((m) => m.server.name === name || m.server.id === name)) return;
      c.add('priority-group', 'fail', `${g.name}: ${name}`, `server '${name}' of priority group '${g.name}' is not a member of the plan`, `remove it from the group, or add a selector that protects it`, ['priority_groups', gi, 'members', mi]);
    });
  });
  const handled = new Set(['member-not-found', 'member-name-ambiguous', 'selector-matched-nothing', 'image-missing', 'keypair-missing', 'flavor-extra-specs-hidden']);
  for (const w of inv.warnings) {
    if (handled.has(w.code)) continue;
    c.add('discovery', 'warn', w.resourceId ?? w.code, w.message);
  }
}

function unavailable(c: Checks, kind: CheckKind, site: string, what: string, f: Fact<unknown> | undefined): boolean {
  if (!f) return true;
  if (f.ok) return false;
  c.add(kind, 'warn', site, `cannot list ${what} at ${site}: ${f.error}; not verified`);
  return true;
}

/** A `to:` target: found (ok), else fail naming the entry's position. */
function target<T extends NamedResource>(c: Checks, kind: CheckKind, what: string, site: string, list: readonly T[], from: string, to: string, path: (string | number)[], fix: string): T | undefined {
  const l = lookup(list, to);
  if ('found' in l) {
    c.add(kind, 'ok', `${from} → ${to}`, `${what} ${l.found.name || l.found.id} (${l.found.id}) exists at ${site}`, undefined, path);
    return l.found;
  }
  if ('ambiguous' in l) {
    c.add(kind, 'fail', `${from} → ${to}`, `${l.ambiguous.length} ${what}s are named '${to}' at ${site} (${l.ambiguous.map((x) => x.id).join(', ')})`, `write the ID instead of the name`, [...path, 'to']);
    return undefined;
  }
  c.add(kind, 'fail', `${from} → ${to}`, `no ${what} '${to}' at ${site}`, fix, [...path, 'to']);
  return undefined;
}

function unusedFrom(c: Checks, kind: CheckKind, what: string, from: string, path: (string | number)[]): void {
  c.add(kind, 'warn', from, `mapped, but no member uses a ${what} '${from}'`, 'check the name, or remove the mapping', [...path, 'from']);
}

function assessNetworks(c: Checks, plan: ProtectionPlan, inv: Inventory | undefined, s: SecondaryFacts): void {
  const S = s.access.site;
  const m = plan.mappings;
  if (unavailable(c, 'network', S, 'networks', s.networks) || !s.networks?.ok) return;
  const nets = s.networks.value;
  const targets = new Map<string, SecondaryNetwork>();
  m.networks.forEach((e, i) => {
    if (e.to !== undefined) {
      const t = target(c, 'network', 'network', S, nets, e.from, e.to, ['mappings', 'networks', i], `create it at ${S}, map to another network, or write recreate: true`);
      if (t) targets.set(e.from, t);
    }
    if (inv && !Object.values(inv.networks).some((n) => matches(e.from, n.id, n.name))) unusedFrom(c, 'network', 'network', e.from, ['mappings', 'networks', i]);
  });
  if (!inv) return;
  const resolved = new Map<string, { network?: SecondaryNetwork; recreated?: true }>();
  for (const n of Object.values(inv.networks)) {
    const e = m.networks.find((x) => matches(x.from, n.id, n.name));
    if (e?.recreate) {
      c.add('network', 'ok', n.name || n.id, `recreated at ${S} on recovery${e.name ? ` as ${e.name}` : ''}`);
      resolved.set(n.id, { recreated: true });
      continue;
    }
    if (e?.to !== undefined) {
      const t = targets.get(e.from);
      if (t) resolved.set(n.id, { network: t });
      continue;
    }
    const l = n.name ? lookup(nets, n.name) : ({ missing: true } as const);
    if ('found' in l) {
      c.add('network', 'ok', n.name, `same name at ${S} (${l.found.id})`);
      resolved.set(n.id, { network: l.found });
    } else if ('ambiguous' in l) {
      c.add('network', 'fail', n.name, `${l.ambiguous.length} networks are named '${n.name}' at ${S} (${l.ambiguous.map((x) => x.id).join(', ')})`, `map it to one by ID: mappings.networks: [{from: ${n.name}, to: ID}]`, ['mappings']);
    } else {
      c.add('network', 'fail', n.name || n.id, `no network named '${n.name || n.id}' at ${S}, and the plan neither maps nor recreates it`, `map it (mappings.networks: [{from: ${n.name || n.id}, to: NETWORK}]) or recreate it ({from: ${n.name || n.id}, recreate: true})`, ['mappings']);
    }
  }
  assessSubnets(c, plan, inv, s, resolved);
}

function assessSubnets(c: Checks, plan: ProtectionPlan, inv: Inventory, s: SecondaryFacts, resolved: Map<string, { network?: SecondaryNetwork; recreated?: true }>): void {
  const S = s.access.site;
  const m = plan.mappings;
  const subnets = s.subnets?.ok ? s.subnets.value : undefined;
  if (m.subnets.some((e) => e.to !== undefined) && unavailable(c, 'subnet', S, 'subnets', s.subnets)) return;
  const subnetTargets = new Map<string, SecondarySubnet>();
  m.subnets.forEach((e, i) => {
    if (e.to !== undefined && subnets) {
      const t = target(c, 'subnet', 'subnet', S, subnets, e.from, e.to, ['mappings', 'subnets', i], `create it at ${S}, map to another subnet, or write recreate: true`);
      if (t) subnetTargets.set(e.from, t);
    }
    if (!Object.values(inv.subnets).some((x) => matches(e.from, x.id, x.name))) unusedFrom(c, 'subnet', 'subnet', e.from, ['mappings', 'subnets', i]);
  });
  if (plan.ip_policy !== 'preserve') return;
  // ip_policy preserve: every fixed IP must fall into the subnet it will be recreated in.
  const misfits = new Map<string, string[]>();
  let checked = 0;
  for (const mem of inv.members) {
    for (const p of mem.ports) {
      const net = resolved.get(p.networkId);
      if (!net) continue;
      for (const ip of p.fixedIps) {
        const src = inv.subnets[ip.subnetId];
        const e = src ? m.subnets.find((x) => matches(x.from, src.id, src.name)) : undefined;
        let cidrs: string[] | undefined;
        if (e?.recreate) cidrs = [e.cidr ?? src!.cidr];
        else if (e?.to !== undefined) cidrs = subnetTargets.has(e.from) ? [subnetTargets.get(e.from)!.cidr] : undefined;
        else if (net.recreated) cidrs = src ? [src.cidr] : undefined;
        else if (net.network && subnets) cidrs = subnets.filter((x) => x.networkId === net.network!.id).map((x) => x.cidr);
        if (cidrs === undefined) continue;
        checked++;
        if (!cidrs.some((cidr) => cidrContains(cidr, ip.ipAddress))) {
          const key = net.network ? net.network.name || net.network.id : (src?.name ?? ip.subnetId);
          misfits.set(key, [...(misfits.get(key) ?? []), `${ip.ipAddress} (${mem.server.name})`]);
        }
      }
    }
  }
  for (const [where, ips] of misfits) {
    c.add('fixed-ips', 'fail', where, `ip_policy preserve, but no subnet of ${where} at ${S} holds ${some(ips, 3)}`, `use ip_policy: dhcp, or map to a network or subnet whose CIDR holds these addresses`, ['ip_policy']);
  }
  if (checked > 0 && misfits.size === 0) c.add('fixed-ips', 'ok', S, `${plural(checked, 'fixed IP')} fit the subnets they are recovered into`);
}

function assessSecurityGroups(c: Checks, plan: ProtectionPlan, inv: Inventory | undefined, s: SecondaryFacts): void {
  const sg = plan.mappings.security_groups;
  if (typeof sg === 'string') return;
  const S = s.access.site;
  if (unavailable(c, 'security-group', S, 'security groups', s.securityGroups) || !s.securityGroups?.ok) return;
  const groups = s.securityGroups.value;
  sg.map.forEach((e, i) => {
    target(c, 'security-group', 'security group', S, groups, e.from, e.to, ['mappings', 'security_groups', 'map', i], `create it at ${S}, or map to another group`);
    if (inv && !Object.values(inv.securityGroups).some((g) => matches(e.from, g.id, g.name))) unusedFrom(c, 'security-group', 'security group', e.from, ['mappings', 'security_groups', 'map', i]);
  });
}

function shapeGap(want: FlavorSpec, have: SecondaryFlavor): string | undefined {
  const gaps: string[] = [];
  if (have.vcpus < want.vcpus) gaps.push(`${have.vcpus} vCPUs, not ${want.vcpus}`);
  if (have.ram < want.ram) gaps.push(`${have.ram} MiB RAM, not ${want.ram}`);
  if (have.disk < want.disk) gaps.push(`a ${have.disk} GiB disk, not ${want.disk}`);
  return gaps.length ? gaps.join(', ') : undefined;
}

function assessFlavors(c: Checks, plan: ProtectionPlan, inv: Inventory | undefined, s: SecondaryFacts): void {
  const S = s.access.site;
  const fm = plan.mappings.flavors;
  if (unavailable(c, 'flavor', S, 'flavors', s.flavors) || !s.flavors?.ok) return;
  const flavors = s.flavors.value;
  const admin = s.access.roles.includes('admin');
  const needAdmin = `Nova lets only admins create flavors: create it at ${S} beforehand, or map it to an existing flavor`;
  const targets = new Map<string, SecondaryFlavor>();
  fm.map.forEach((e, i) => {
    if (e.to !== undefined) {
      const t = target(c, 'flavor', 'flavor', S, flavors, e.from, e.to, ['mappings', 'flavors', 'map', i], `create it at ${S}, or map to another flavor`);
      if (t) targets.set(e.from, t);
    }
    if (inv && !Object.values(inv.flavors).some((f) => matches(e.from, f.id, f.name, f.key))) unusedFrom(c, 'flavor', 'flavor', e.from, ['mappings', 'flavors', 'map', i]);
  });
  if (!inv) return;
  for (const f of Object.values(inv.flavors)) {
    const users = inv.members.filter((m) => m.server.flavor.key === f.key).map((m) => m.server.name);
    const e = fm.map.find((x) => matches(x.from, f.id, f.name, f.key));
    if (e?.recreate) {
      c.add('flavor', admin ? 'ok' : 'warn', f.name, `recreated at ${S} on recovery (${f.vcpus} vCPUs, ${f.ram} MiB)`, admin ? undefined : needAdmin);
      continue;
    }
    if (e?.to !== undefined) {
      const t = targets.get(e.from);
      const gap = t && shapeGap(f, t);
      if (gap) c.add('flavor', 'warn', `${f.name} → ${t.name}`, `${t.name} at ${S} has ${gap} (used by ${some(users)})`, 'map to a flavor at least as large, or accept the smaller shape');
      continue;
    }
    const l = lookup(flavors, f.name);
    if ('found' in l) {
      const gap = shapeGap(f, l.found);
      c.add('flavor', gap ? 'warn' : 'ok', f.name, gap ? `same name at ${S}, but it has ${gap}` : `same name at ${S} (${l.found.id})`, gap ? `map it to a flavor at least as large: mappings.flavors.map: [{from: ${f.name}, to: FLAVOR}]` : undefined);
    } else if ('ambiguous' in l) {
      c.add('flavor', 'fail', f.name, `${l.ambiguous.length} flavors are named '${f.name}' at ${S}`, `map it by ID: mappings.flavors.map: [{from: ${f.name}, to: ID}]`, ['mappings', 'flavors']);
    } else if (fm.recreate_missing) {
      c.add('flavor', admin ? 'ok' : 'warn', f.name, `not at ${S}: recreated on recovery (${f.vcpus} vCPUs, ${f.ram} MiB, ${f.disk} GiB; used by ${some(users)})`, admin ? undefined : needAdmin, ['mappings', 'flavors']);
    } else {
      c.add('flavor', 'fail', f.name, `no flavor '${f.name}' at ${S} (used by ${some(users)}) and recreate_missing is false`, `map it (mappings.flavors.map: [{from: ${f.name}, to: FLAVOR}]), create it at ${S}, or set recreate_missing: true`, ['mappings', 'flavors', 'recreate_missing']);
    }
  }
  if (inv.warnings.some((w) => w.code === 'flavor-extra-specs-hidden')) {
    c.add('flavor', 'warn', plan.primary, 'Nova hides flavor extra specs from this user: recreated flavors will have none', 'use an admin cloud for the primary, or map the flavors');
  }
}

function assessImages(c: Checks, plan: ProtectionPlan, inv: Inventory | undefined, s: SecondaryFacts): void {
  const S = s.access.site;
  const map = typeof plan.mappings.images === 'string' ? [] : plan.mappings.images.map;
  const targets = new Map<string, SecondaryImage>();
  if (map.length > 0 && !unavailable(c, 'image', S, 'images', s.images) && s.images?.ok) {
    const images = s.images.value;
    map.forEach((e, i) => {
      const t = target(c, 'image', 'image', S, images, e.from, e.to, ['mappings', 'images', 'map', i], `upload it to ${S}'s Glance, or remove the mapping so it is replicated`);
      if (t) {
        targets.set(e.from, t);
        if (t.status !== 'active') c.add('image', 'fail', `${e.from} → ${e.to}`, `image ${t.id} at ${S} is ${t.status}, not active`, 'map to an active image', ['mappings', 'images', 'map', i, 'to']);
      }
      if (inv && !inv.members.some((m) => m.server.image && matches(e.from, m.server.image.id, m.server.image.name))) unusedFrom(c, 'image', 'image', e.from, ['mappings', 'images', 'map', i]);
    });
  }
  if (!inv) return;
  const users = new Map<string, string[]>();
  for (const m of inv.members) if (m.server.image) users.set(m.server.image.id, [...(users.get(m.server.image.id) ?? []), m.server.name]);
  for (const [id, names] of users) {
    const spec = inv.images[id];
    const name = spec?.name || id;
    const e = map.find((x) => matches(x.from, id, spec?.name));
    if (e) continue; // the target row above says it
    if (!spec) {
      c.add('image', 'fail', id, `image ${id} of ${some(names)} cannot be read at ${plan.primary} (deleted, or not visible), so it cannot be replicated`, `map it to an image at ${S}: mappings.images: {map: [{from: ${id}, to: IMAGE}]}`, ['mappings', 'images']);
    } else if (spec.status !== 'active') {
      c.add('image', 'fail', name, `image ${name} (${id}) of ${some(names)} is ${spec.status} at ${plan.primary}: it cannot be replicated`, `map it to an image at ${S}: mappings.images: {map: [{from: ${name}, to: IMAGE}]}`, ['mappings', 'images']);
    } else {
      c.add('image', 'ok', name, `replicated to ${S}'s Glance${spec.size !== undefined ? ` (${Math.ceil(spec.size / 1024 ** 2)} MiB)` : ''}, for ${some(names)}`);
    }
  }
}

function assessVolumeTypes(c: Checks, plan: ProtectionPlan, inv: Inventory | undefined, s: SecondaryFacts): void {
  const S = s.access.site;
  const map = plan.mappings.volume_types;
  const used = new Set(inv ? inv.members.flatMap((m) => m.volumes.flatMap((v) => (v.volumeType ? [v.volumeType] : []))) : []);
  if (map.length === 0 && used.size === 0) return;
  if (unavailable(c, 'volume-type', S, 'volume types', s.volumeTypes) || !s.volumeTypes?.ok) return;
  const types = s.volumeTypes.value;
  map.forEach((e, i) => {
    target(c, 'volume-type', 'volume type', S, types, e.from, e.to, ['mappings', 'volume_types', i], `create it at ${S}, or map to another type`);
    if (inv && !used.has(e.from) && !Object.values(inv.volumeTypes).some((t) => matches(e.from, t.id, t.name))) unusedFrom(c, 'volume-type', 'volume type', e.from, ['mappings', 'volume_types', i]);
  });
  for (const t of [...used].sort()) {
    if (map.some((e) => e.from === t || inv?.volumeTypes[e.from]?.name === t)) continue;
    const l = lookup(types, t);
    if ('missing' in l) c.add('volume-type', 'warn', t, `no volume type '${t}' at ${S}: restored volumes get ${S}'s default type`, `map it: mappings.volume_types: [{from: ${t}, to: TYPE}]`, ['mappings', 'volume_types']);
    else c.add('volume-type', 'ok', t, `same name at ${S}`);
  }
}

function assessZones(c: Checks, plan: ProtectionPlan, inv: Inventory | undefined, s: SecondaryFacts): void {
  const S = s.access.site;
  const map = plan.mappings.availability_zones;
  const used = new Set(inv ? inv.members.flatMap((m) => [m.server.availabilityZone, ...m.volumes.map((v) => v.availabilityZone)]).filter(Boolean) : []);
  if (map.length === 0 && used.size === 0) return;
  if (unavailable(c, 'availability-zone', S, 'availability zones', s.zones) || !s.zones?.ok) return;
  const zones = new Set([...s.zones.value.compute, ...s.zones.value.volume]);
  map.forEach((e, i) => {
    if (zones.has(e.to)) c.add('availability-zone', 'ok', `${e.from} → ${e.to}`, `zone ${e.to} exists at ${S}`, undefined, ['mappings', 'availability_zones', i]);
    else c.add('availability-zone', 'fail', `${e.from} → ${e.to}`, `no availability zone '${e.to}' at ${S} (zones: ${some([...zones]) || 'none'})`, `map to one of ${S}'s zones`, ['mappings', 'availability_zones', i, 'to']);
    if (inv && !used.has(e.from)) unusedFrom(c, 'availability-zone', 'zone', e.from, ['mappings', 'availability_zones', i]);
  });
  for (const z of [...used].sort()) {
    if (map.some((e) => e.from === z)) continue;
    if (zones.has(z)) c.add('availability-zone', 'ok', z, `same zone at ${S}`);
    else c.add('availability-zone', 'warn', z, `no zone '${z}' at ${S}: the scheduler chooses`, `map it: mappings.availability_zones: [{from: ${z}, to: ZONE}]`, ['mappings', 'availability_zones']);
  }
}

function assessKeypairs(c: Checks, plan: ProtectionPlan, inv: Inventory | undefined, s: SecondaryFacts): void {
  const S = s.access.site;
  const map = typeof plan.mappings.keypairs === 'string' ? [] : plan.mappings.keypairs.map;
  if (map.length > 0 && !unavailable(c, 'keypair', S, 'keypairs', s.keypairs) && s.keypairs?.ok) {
    const kps = s.keypairs.value.map((k) => ({ id: k.name, name: k.name }));
    map.forEach((e, i) => {
      target(c, 'keypair', 'keypair', S, kps, e.from, e.to, ['mappings', 'keypairs', 'map', i], `import it at ${S} (openstack keypair create --public-key FILE ${e.to}), or remove the mapping so it is replicated`);
      if (inv && !inv.members.some((m) => m.server.keyName === e.from)) unusedFrom(c, 'keypair', 'keypair', e.from, ['mappings', 'keypairs', 'map', i]);
    });
  }
  if (!inv) return;
  for (const w of inv.warnings.filter((x) => x.code === 'keypair-missing')) {
    if (map.some((e) => e.from === w.resourceId)) continue;
    c.add('keypair', 'warn', w.resourceId ?? 'keypair', `${w.message}: it cannot be replicated, recovered servers get no key`, `map it to a keypair at ${S}: mappings.keypairs: {map: [{from: ${w.resourceId}, to: KEYPAIR}]}`, ['mappings', 'keypairs']);
  }
}

interface QuotaLine {
  site: string;
  project: string;
  resource: string;
  flag: string;
  unit?: string;
  need: number;
  limit: number | undefined;
  used: number | undefined;
}

function quotaLine(c: Checks, q: QuotaLine): void {
  const unit = q.unit ? ` ${q.unit}` : '';
  const subject = `${q.site} ${q.resource}`;
  if (q.limit === undefined) {
    c.add('quota', 'warn', subject, `${q.site} does not report its ${q.resource} limit to this user; needs ${q.need}${unit}`);
    return;
  }
  if (q.limit < 0) {
    c.add('quota', 'ok', subject, `needs ${q.need}${unit}; unlimited`);
    return;
  }
  if (q.used === undefined) {
    c.add('quota', q.need > q.limit ? 'fail' : 'warn', subject, `needs ${q.need}${unit}, the limit is ${q.limit}; usage is not reported to this user`, q.need > q.limit ? `raise the ${q.resource} quota of project ${q.project} at ${q.site} to at least ${q.need} (openstack quota set --${q.flag} ${q.need} ${q.project})` : undefined);
    return;
  }
  const free = Math.max(0, q.limit - q.used);
  if (q.need <= free) {
    c.add('quota', 'ok', subject, `needs ${q.need}${unit}, ${free} of ${q.limit} free`);
    return;
  }
  const want = q.used + q.need;
  c.add(
    'quota',
    'fail',
    subject,
    `needs ${q.need}${unit}, only ${free}${unit} free (limit ${q.limit}, ${q.used} used): short by ${q.need - free}`,
    `raise the ${q.resource} quota of project ${q.project} at ${q.site} to at least ${want} (openstack quota set --${q.flag} ${want} ${q.project}), or protect less`,
  );
}

function assessQuota(c: Checks, plan: ProtectionPlan, needs: PlanNeeds, p: PrimaryFacts, s: SecondaryFacts): void {
  const S = s.access.site;
  const sp = s.access.projectName ?? s.access.projectId ?? '?';
  const line = (resource: string, flag: string, need: number, limit: number | undefined, used: number | undefined, unit?: string, site = S, project = sp) =>
    quotaLine(c, { site, project, resource, flag, need, limit, used, ...(unit ? { unit } : {}) });
  if (s.computeLimits && !s.computeLimits.ok) c.add('quota', 'warn', `${S} compute`, `cannot read compute limits: ${s.computeLimits.error}; instances, cores and RAM not verified`);
  else if (s.computeLimits?.ok) {
    const l = s.computeLimits.value;
    line('instances', 'instances', needs.instances, l.maxTotalInstances, l.totalInstancesUsed);
    line('cores', 'cores', needs.cores, l.maxTotalCores, l.totalCoresUsed, 'vCPUs');
    line('ram', 'ram', needs.ramMb, l.maxTotalRAMSize, l.totalRAMUsed, 'MiB');
  }
  if (s.volumeLimits && !s.volumeLimits.ok) c.add('quota', 'warn', `${S} block-storage`, `cannot read block-storage limits: ${s.volumeLimits.error}; volumes and backups not verified`);
  else if (s.volumeLimits?.ok) {
    const l = s.volumeLimits.value;
    line('volumes', 'volumes', needs.volumes, l.maxTotalVolumes, l.totalVolumesUsed);
    line('gigabytes', 'gigabytes', needs.volumeGb, l.maxTotalVolumeGigabytes, l.totalGigabytesUsed, 'GiB');
    if (l.maxTotalBackups !== undefined) line('backups', 'backups', needs.backups, l.maxTotalBackups, l.totalBackupsUsed);
    if (l.maxTotalBackupGigabytes !== undefined) line('backup-gigabytes', 'backup-gigabytes', needs.backupGb, l.maxTotalBackupGigabytes, l.totalBackupGigabytesUsed, 'GiB');
  }
  if (s.networkQuota && !s.networkQuota.ok) c.add('quota', 'warn', `${S} network`, `cannot read network quotas: ${s.networkQuota.error}; ports not verified`);
  else if (s.networkQuota?.ok) {
    const q = s.networkQuota.value;
    const nline = (resource: string, flag: string, need: number, key: string) => {
      const d = q[key];
      line(resource, flag, need, d?.limit, d === undefined ? undefined : d.used + (d.reserved ?? 0));
    };
    nline('ports', 'ports', needs.ports, 'port');
    if (needs.securityGroups > 0) nline('security-groups', 'secgroups', needs.securityGroups, 'security_group');
    if (needs.securityGroupRules > 0) nline('security-group-rules', 'secgroup-rules', needs.securityGroupRules, 'security_group_rule');
    if (needs.networks > 0) nline('networks', 'networks', needs.networks, 'network');
    if (needs.subnets > 0) nline('subnets', 'subnets', needs.subnets, 'subnet');
  }
  // The primary holds the same backup chain as the secondary (the parents of incrementals).
  if (p.volumeLimits?.ok && p.project?.ok) {
    const l = p.volumeLimits.value;
    const pp = p.project.value.name;
    if (l.maxTotalBackups !== undefined) line('backups', 'backups', needs.backups, l.maxTotalBackups, l.totalBackupsUsed, undefined, plan.primary, pp);
    if (l.maxTotalBackupGigabytes !== undefined) line('backup-gigabytes', 'backup-gigabytes', needs.backupGb, l.maxTotalBackupGigabytes, l.totalBackupGigabytesUsed, 'GiB', plan.primary, pp);
  }
}
