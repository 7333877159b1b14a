// Resolution: what the secondary already has for each primary object a recovery needs, decided
// from the plan's mappings and the secondary's own listings, before any template is made.
//
// Two parts, so the rules are table-tested without a cloud:
//  - gatherFacts(site, manifest, plan): the impure part. One list call per resource type
//    (networks, subnets, security groups, flavors, images, volume types, keypairs, Nova
//    availability zones), each only when the point needs that type; never a GET per item.
//  - resolveFrom(manifest, plan, facts): the pure part. Applies the plan's rules (docs/
//    plan-reference.md): an explicit `to` must exist; `recreate` recreates; unlisted objects
//    use the secondary's object of the same name (networks, subnets follow their network,
//    flavors, keypairs, volume types, zones), else are recreated where the plan allows it.
//    Every problem is collected into one ResolveError, so a dry run shows them all at once.
//
// Names are matched among what the project owns and what is shared with it (an admin's
// listings include every project's networks and groups); IDs are matched among everything
// listed. A name matching two objects is a problem naming both IDs.
import type { ProtectionPlan } from '../config/protection-plan.js';
import { FerryError, isStatus } from '../errors.js';
import { listVolumeTypes, type VolumeType } from '../openstack/blockstorage/types.js';
import { availableZoneNames, listAvailabilityZones } from '../openstack/compute/availabilityzones.js';
import { listFlavors, type Flavor } from '../openstack/compute/flavors.js';
import { listKeypairs, type Keypair } from '../openstack/compute/keypairs.js';
import { listImages, type Image } from '../openstack/image/images.js';
import { listNetworks, type Network } from '../openstack/network/networks.js';
import { listSecurityGroups, type SecurityGroup } from '../openstack/network/securitygroups.js';
import { listSubnets, type Subnet } from '../openstack/network/subnets.js';
import { collect } from '../openstack/paginate.js';
import type { Site } from '../openstack/site.js';
import type { RecoveryPointManifest } from '../replication/recovery-point.js';
import type { FlavorTarget, KeypairTarget, NetworkTarget, Resolved, SecurityGroupTarget, SubnetOverrides, SubnetTarget } from './types.js';

// ---- types ----------------------------------------------------------------

/** The secondary's listings resolution works from (wire shapes, as the client modules return them). */
export interface SecondaryFacts {
  site: string;
  /** The project the stack will be created in. */
  projectId: string;
  networks: Network[];
  subnets: Subnet[];
  /** Only id, name and project_id are read. */
  securityGroups: Pick<SecurityGroup, 'id' | 'name' | 'project_id'>[];
  flavors: Flavor[];
  images: Pick<Image, 'id' | 'name' | 'status'>[];
  volumeTypes: VolumeType[];
  keypairs: Pick<Keypair, 'name'>[];
  /** Nova availability zones that are available; undefined when they could not be listed. */
  computeZones?: string[];
}

export interface ResolveOptions {
  /** The external network for floating IPs (name or ID); default: the only external network, if there is exactly one. */
  externalNetwork?: string;
  signal?: AbortSignal;
}

export interface ResolveIssue {
  /** The plan field or recovery point path concerned. */
  path: string;
  message: string;
  fix: string;
}

/** The plan's mappings do not fit the secondary; `issues` lists every problem. */
export class ResolveError extends FerryError {
  override readonly name: string = 'ResolveError';
  constructor(
    readonly site: string,
    readonly issues: ResolveIssue[],
  ) {
    const shown = issues.slice(0, 10).map((i) => `${i.path}: ${i.message} (fix: ${i.fix})`);
    const more = issues.length > 10 ? [`... and ${issues.length - 10} more`] : [];
    super(`cannot resolve the recovery at ${site}: ${[...shown, ...more].join('; ')}`);
  }
}

// ---- gathering (impure) ---------------------------------------------------------

/** What the point needs listed at the secondary. */
function needs(manifest: RecoveryPointManifest, plan: ProtectionPlan) {
  const members = manifest.members;
  return {
    securityGroups: typeof plan.mappings.security_groups !== 'string' && plan.mappings.security_groups.map.length > 0,
    images: members.some((m) => !m.server.bootFromVolume && m.server.image),
    volumeTypes: members.some((m) => m.volumes.some((v) => v.volumeType !== undefined)),
    keypairs: members.some((m) => m.server.keyName),
    zones: members.some((m) => m.server.availabilityZone),
  };
}

/**
 * Lists what resolution needs at the secondary: one listing per resource type (all pages),
 * and only the types the point uses.
 */
export async function gatherFacts(site: Site, manifest: RecoveryPointManifest, plan: ProtectionPlan, opts: { signal?: AbortSignal } = {}): Promise<SecondaryFacts> {
  const signal = opts.signal;
  const need = needs(manifest, plan);
  const token = await site.connect(signal);
  const projectId = token.info.project?.id ?? '';
  const [networks, subnets, securityGroups, flavors, images, volumeTypes, keypairs, computeZones] = await Promise.all([
    collect(listNetworks(site.network, {}, { signal })),
    collect(listSubnets(site.network, {}, { signal })),
    need.securityGroups ? collect(listSecurityGroups(site.network, { fields: ['id', 'name', 'project_id'] }, { signal })) : Promise.resolve([]),
    collect(listFlavors(site.compute, { is_public: 'none' }, { signal })),
    need.images ? collect(listImages(site.image, { visibility: 'all' }, { signal })) : Promise.resolve([]),
    need.volumeTypes ? collect(listVolumeTypes(site.blockStorage, {}, { signal })) : Promise.resolve([]),
    need.keypairs ? collect(listKeypairs(site.compute, {}, { signal })) : Promise.resolve([]),
    need.zones ? listComputeZones(site, signal) : Promise.resolve(undefined),
  ]);
  return { site: site.name, projectId, networks, subnets, securityGroups, flavors, images, volumeTypes, keypairs, computeZones };
}

/** Nova's zones servers can be scheduled to (one request); undefined when the listing is refused. */
async function listComputeZones(site: Site, signal?: AbortSignal): Promise<string[] | undefined> {
  try {
    return availableZoneNames(await listAvailabilityZones(site.compute, { signal })).sort();
  } catch (err) {
    if (isStatus(err, 403)) return undefined;
    throw err;
  }
}

/** gatherFacts then resolveFrom. */
export async function resolve(site: Site, manifest: RecoveryPointManifest, plan: ProtectionPlan, opts: ResolveOptions = {}): Promise<Resolved> {
  return resolveFrom(manifest, plan, await gatherFacts(site, manifest, plan, opts), opts);
}

// ---- resolution (pure) -------------------------------------------------------------

interface Named {
  id: string;
  name: string | null;
}

type Found<T> = { found: T } | { problem: string };

/** One object by ID (among all) or by name (among `byName`). */
function pick<T extends Named>(all: readonly T[], byName: readonly T[], ref: string, what: string): Found<T> {
  const byId = all.find((x) => x.id === ref);
  if (byId) return { found: byId };
  const named = byName.filter((x) => x.name === ref);
  if (named.length === 1) return { found: named[0]! };
  if (named.length > 1) return { problem: `${named.length} ${what}s are named '${ref}' (${named.map((x) => x.id).sort().join(', ')})` };
  return { problem: `no ${what} '${ref}'` };
}

/** The plan entry mapping a primary object, matched by its name or its ID. */
function entryFor<E extends { from: string }>(list: readonly E[], ...identities: (string | undefined)[]): { entry: E; index: number } | undefined {
  const index = list.findIndex((e) => identities.includes(e.from));
  return index < 0 ? undefined : { entry: list[index]!, index };
}

/**
 * Decides every primary object's counterpart at the secondary. Throws ResolveError listing all
 * problems (a mapping target that does not exist or is ambiguous, an unlisted object with no
 * same-named counterpart where the plan does not allow recreating it, ...).
 */
export function resolveFrom(manifest: RecoveryPointManifest, plan: ProtectionPlan, facts: SecondaryFacts, opts: Pick<ResolveOptions, 'externalNetwork'> = {}): Resolved {
  const issues: ResolveIssue[] = [];
  const at = facts.site;
  const issue = (path: string, message: string, fix: string) => issues.push({ path, message, fix });
  const sortedIds = <T>(r: Record<string, T>) => Object.keys(r).sort();
  const mine = <T extends { project_id?: string; shared?: boolean }>(list: readonly T[]) => list.filter((x) => x.project_id === facts.projectId || x.shared === true);

  // Networks.
  const ownNetworks = mine(facts.networks);
  const networks: Record<string, NetworkTarget> = {};
  for (const id of sortedIds(manifest.shared.networks)) {
    const net = manifest.shared.networks[id]!;
    const e = entryFor(plan.mappings.networks, net.name, net.id);
    if (e?.entry.recreate) {
      networks[id] = { kind: 'recreate', ...(e.entry.name !== undefined ? { name: e.entry.name } : {}), ...(e.entry.mtu !== undefined ? { mtu: e.entry.mtu } : {}) };
      continue;
    }
    const ref = e?.entry.to ?? net.name;
    const r = pick(facts.networks, ownNetworks, ref, 'network');
    if ('found' in r) networks[id] = { kind: 'map', id: r.found.id, name: r.found.name };
    else if (e) issue(`mappings.networks[${e.index}].to`, `${r.problem} at ${at} (network ${net.name} maps to it)`, `create it at ${at}, or name an existing network (or its ID)`);
    else issue('mappings.networks', `network ${net.name} (${id}) is not mapped and ${at} has ${r.problem.replace(/^no network/, 'no network named')}`, `add {from: ${net.name || id}, to: NAME} or {from: ${net.name || id}, recreate: true} to mappings.networks`);
  }

  // Subnets: explicit entries, else they follow their network.
  const ownSubnets = mine(facts.subnets.map((s) => ({ ...s, shared: ownNetworks.some((n) => n.id === s.network_id && n.shared) })));
  const subnets: Record<string, SubnetTarget> = {};
  for (const id of sortedIds(manifest.shared.subnets)) {
    const s = manifest.shared.subnets[id]!;
    const netTarget = networks[s.networkId];
    const e = entryFor(plan.mappings.subnets, s.name, s.id);
    if (e?.entry.recreate) {
      subnets[id] = { kind: 'recreate', overrides: overridesOf(e.entry) };
      continue;
    }
    if (e?.entry.to !== undefined) {
      const r = pick(facts.subnets, ownSubnets, e.entry.to, 'subnet');
      if (!('found' in r)) {
        issue(`mappings.subnets[${e.index}].to`, `${r.problem} at ${at} (subnet ${s.name} maps to it)`, `create it at ${at}, or name an existing subnet (or its ID)`);
      } else if (netTarget?.kind === 'map' && r.found.network_id !== netTarget.id) {
        issue(`mappings.subnets[${e.index}].to`, `subnet ${r.found.name} (${r.found.id}) is not on network ${netTarget.name} (${netTarget.id}), which network ${manifest.shared.networks[s.networkId]?.name ?? s.networkId} maps to`, 'map the subnet to one on that network, or map the network to the subnet\'s network');
      } else subnets[id] = { kind: 'map', id: r.found.id, cidr: r.found.cidr };
      continue;
    }
    if (!netTarget) continue; // its network's problem is reported
    if (netTarget.kind === 'recreate') {
      subnets[id] = { kind: 'recreate', overrides: {} };
      continue;
    }
    const onNetwork = facts.subnets.filter((x) => x.network_id === netTarget.id);
    const sameCidr = onNetwork.filter((x) => x.cidr === s.cidr);
    const sameName = onNetwork.filter((x) => x.name === s.name);
    const match = sameCidr.length === 1 ? sameCidr[0] : sameCidr.length === 0 && sameName.length === 1 ? sameName[0] : undefined;
    if (match) subnets[id] = { kind: 'map', id: match.id, cidr: match.cidr };
    else {
      const why = sameCidr.length > 1 ? `${sameCidr.length} subnets with CIDR ${s.cidr}` : `no subnet with CIDR ${s.cidr} or named '${s.name}'`;
      issue('mappings.subnets', `subnet ${s.name} (${s.cidr}) follows network ${netTarget.name} at ${at}, which has ${why}`, `add {from: ${s.name || id}, to: NAME} or {from: ${s.name || id}, recreate: true} to mappings.subnets`);
    }
  }

  // Security groups: recreated unless mapped.
  const sgMap = typeof plan.mappings.security_groups === 'string' ? [] : plan.mappings.security_groups.map;
  const ownGroups = facts.securityGroups.filter((g) => g.project_id === facts.projectId);
  const securityGroups: Record<string, SecurityGroupTarget> = {};
  for (const id of sortedIds(manifest.shared.securityGroups)) {
    const g = manifest.shared.securityGroups[id]!;
    const e = entryFor(sgMap, g.name, g.id);
    if (!e) {
      securityGroups[id] = { kind: 'recreate' };
      continue;
    }
    const r = pick(facts.securityGroups, ownGroups, e.entry.to, 'security group');
    if ('found' in r) securityGroups[id] = { kind: 'map', id: r.found.id };
    else issue(`mappings.security_groups.map[${e.index}].to`, `${r.problem} in the project at ${at}`, `create it at ${at}, name an existing group, or leave ${g.name} to be recreated`);
  }

  // Flavors: mapped, recreated, or the same name; recreate_missing decides the rest.
  const flavors: Record<string, FlavorTarget> = {};
  const usableFlavors = facts.flavors.filter((f) => !f['OS-FLV-DISABLED:disabled']);
  for (const key of sortedIds(manifest.shared.flavors)) {
    const f = manifest.shared.flavors[key]!;
    const e = entryFor(plan.mappings.flavors.map, f.key, f.name, f.id);
    if (e?.entry.recreate) {
      flavors[key] = { kind: 'recreate' };
      continue;
    }
    const ref = e?.entry.to ?? f.name;
    const r = pick(facts.flavors, usableFlavors, ref, 'flavor');
    if ('found' in r) flavors[key] = { kind: 'map', id: r.found.id, name: r.found.name };
    else if (e) issue(`mappings.flavors.map[${e.index}].to`, `${r.problem} at ${at}`, `name an existing flavor (or its ID), or write recreate: true`);
    else if (plan.mappings.flavors.recreate_missing) flavors[key] = { kind: 'recreate' };
    else issue('mappings.flavors', `flavor ${f.name} is not at ${at} and recreate_missing is false`, `map it (mappings.flavors.map: [{from: ${f.name}, to: NAME}]) or set recreate_missing: true`);
  }

  // Images of image-booted members: mapped, else the copy the point made.
  const imageMap = typeof plan.mappings.images === 'string' ? [] : plan.mappings.images.map;
  const copies = new Map(manifest.data.images.map((d) => [d.sourceImageId, d.secondaryImageId]));
  const activeImages = facts.images.filter((i) => i.status === 'active');
  const images: Record<string, string> = {};
  const imageIds = [...new Set(manifest.members.filter((m) => !m.server.bootFromVolume && m.server.image).map((m) => m.server.image!.id))].sort();
  for (const id of imageIds) {
    const name = manifest.shared.images[id]?.name;
    const e = entryFor(imageMap, id, name);
    if (e) {
      const r = pick(activeImages.map((i) => ({ ...i, name: i.name })), activeImages, e.entry.to, 'active image');
      if ('found' in r) images[id] = r.found.id;
      else issue(`mappings.images.map[${e.index}].to`, `${r.problem} at ${at}`, 'name an active image (or its ID)');
      continue;
    }
    const copy = copies.get(id);
    if (copy && activeImages.some((i) => i.id === copy)) images[id] = copy;
    else if (copy) issue(`$.data.images`, `the copy ${copy} of image ${name ?? id} is not an active image at ${at}`, 'replicate again, or map the image (mappings.images.map)');
    else issue('mappings.images', `image ${name ?? id} was not copied with this point`, `replicate images (mappings.images: replicate) or map it: mappings.images.map: [{from: ${name ?? id}, to: NAME}]`);
  }

  // Volume types: mapped, else the same name, else the secondary's default.
  const volumeTypes: Record<string, string | null> = {};
  const typeNames = [...new Set(manifest.members.flatMap((m) => m.volumes.map((v) => v.volumeType)).filter((t): t is string => t !== undefined))].sort();
  for (const name of typeNames) {
    const e = entryFor(plan.mappings.volume_types, name);
    const ref = e?.entry.to ?? name;
    const r = pick(facts.volumeTypes, facts.volumeTypes, ref, 'volume type');
    if ('found' in r) volumeTypes[name] = r.found.name;
    else if (e) issue(`mappings.volume_types[${e.index}].to`, `${r.problem} at ${at}`, 'name an existing volume type (or its ID)');
    else volumeTypes[name] = null;
  }

  // Nova availability zones: mapped, else the same name when it exists, else the scheduler's choice.
  const computeZones: Record<string, string | null> = {};
  const zones = [...new Set(manifest.members.map((m) => m.server.availabilityZone).filter(Boolean))].sort();
  for (const zone of zones) {
    const e = entryFor(plan.mappings.availability_zones, zone);
    if (e) {
      if (facts.computeZones && !facts.computeZones.includes(e.entry.to)) {
        issue(`mappings.availability_zones[${e.index}].to`, `${at} has no available availability zone '${e.entry.to}' (it has ${facts.computeZones.join(', ') || 'none'})`, 'name an available zone');
      } else computeZones[zone] = e.entry.to;
      continue;
    }
    computeZones[zone] = facts.computeZones?.includes(zone) ? zone : null;
  }

  // Keypairs: mapped, else the same name at the secondary, else recreated from the public key.
  const keyMap = typeof plan.mappings.keypairs === 'string' ? [] : plan.mappings.keypairs.map;
  const keyNames = new Set(facts.keypairs.map((k) => k.name));
  const keypairs: Record<string, KeypairTarget> = {};
  const usedKeys = [...new Set(manifest.members.map((m) => m.server.keyName).filter((k): k is string => !!k))].sort();
  for (const name of usedKeys) {
    const e = entryFor(keyMap, name);
    if (e) {
      if (keyNames.has(e.entry.to)) keypairs[name] = { kind: 'map', name: e.entry.to };
      else issue(`mappings.keypairs.map[${e.index}].to`, `the user at ${at} has no keypair '${e.entry.to}'`, `import it at ${at}, or leave ${name} to be replicated`);
      continue;
    }
    keypairs[name] = keyNames.has(name) ? { kind: 'map', name } : { kind: 'recreate' };
  }

  // The external network for floating IPs.
  const externals = facts.networks.filter((n) => n['router:external'] === true);
  let externalNetworkId: string | undefined;
  if (opts.externalNetwork !== undefined) {
    const r = pick(externals, externals, opts.externalNetwork, 'external network');
    if ('found' in r) externalNetworkId = r.found.id;
    else issue('externalNetwork', `${r.problem} at ${at}`, `name one of: ${externals.map((n) => n.name).sort().join(', ') || '(none)'}`);
  } else if (externals.length === 1) externalNetworkId = externals[0]!.id;

  if (issues.length > 0) throw new ResolveError(at, issues);
  return {
    site: at,
    projectId: facts.projectId,
    networks,
    subnets,
    securityGroups,
    flavors,
    images,
    volumeTypes,
    computeZones,
    keypairs,
    ...(externalNetworkId !== undefined ? { externalNetworkId } : {}),
  };
}

type SubnetEntry = ProtectionPlan['mappings']['subnets'][number];

function overridesOf(e: SubnetEntry): SubnetOverrides {
  const o: SubnetOverrides = {};
  if (e.name !== undefined) o.name = e.name;
  if (e.cidr !== undefined) o.cidr = e.cidr;
  if (e.gateway_ip !== undefined) o.gateway_ip = e.gateway_ip;
  if (e.enable_dhcp !== undefined) o.enable_dhcp = e.enable_dhcp;
  if (e.dns_nameservers !== undefined) o.dns_nameservers = [...e.dns_nameservers];
  if (e.allocation_pools !== undefined) o.allocation_pools = e.allocation_pools.map((p) => ({ start: p.start, end: p.end }));
  return o;
}
