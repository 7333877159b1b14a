// The plan as a failback reads it: the mappings turned around, so a point taken at the
// secondary is recovered at the primary onto the primary's own objects.
//
// A plan's mappings say how the primary's objects become the secondary's. After a failover the
// workload runs on the secondary's objects, and a failback recovers it at the primary again:
//  - `{from: P, to: S}` becomes `{from: S, to: P}` (networks, subnets, flavors, security groups,
//    images, volume types, zones, keypairs);
//  - `{from: P, recreate: true, name: N}` becomes `{from: N, to: P}`: the copy at the secondary
//    was named N, the primary still has P;
//  - `{from: P, recreate: true}` is dropped: the copy at the secondary carries P's name, and
//    unlisted objects use the primary's object of the same name;
//  - a subnet recreated with another CIDR cannot keep the secondary's fixed IPs on the
//    primary's subnet, so the reversed plan asks Neutron for addresses (ip_policy dhcp).
// Security groups and images keep their keyword: groups are recreated (the originals stay with
// the fenced old servers), images are replicated back (reused by hash when the primary has them).
import type { ProtectionPlan } from '../config/protection-plan.js';

type Mappings = ProtectionPlan['mappings'];
interface MapEntry {
  from: string;
  to: string;
}

const swap = (e: MapEntry): MapEntry => ({ from: e.to, to: e.from });

/** map or recreate entries (networks, subnets, flavors) turned around; plain recreations dropped. */
function reverseMapOrRecreate<E extends { from: string; to?: string | undefined; recreate?: true | undefined; name?: string | undefined }>(entries: readonly E[]): E[] {
  const out: E[] = [];
  for (const e of entries) {
    if (e.to !== undefined) out.push({ from: e.to, to: e.from } as unknown as E);
    else if (e.recreate && e.name !== undefined && e.name !== e.from) out.push({ from: e.name, to: e.from } as unknown as E);
  }
  return out;
}

function reverseKeywordOrMap<K extends string>(v: K | { map: MapEntry[] }): K | { map: MapEntry[] } {
  return typeof v === 'string' ? v : { map: v.map.map(swap) };
}

/** The plan with its mappings reversed, for a recovery at the primary from a point taken at the secondary. */
export function reversePlan(plan: ProtectionPlan): ProtectionPlan {
  const m: Mappings = plan.mappings;
  const movedCidr = m.subnets.some((s) => s.recreate === true && s.cidr !== undefined);
  const mappings: Mappings = {
    ...m,
    networks: reverseMapOrRecreate(m.networks),
    subnets: reverseMapOrRecreate(m.subnets),
    security_groups: reverseKeywordOrMap(m.security_groups),
    flavors: { ...m.flavors, map: reverseMapOrRecreate(m.flavors.map) },
    images: reverseKeywordOrMap(m.images),
    volume_types: m.volume_types.map(swap),
    availability_zones: m.availability_zones.map(swap),
    keypairs: reverseKeywordOrMap(m.keypairs),
  };
  return { ...plan, mappings, ip_policy: movedCidr ? 'dhcp' : plan.ip_policy };
}
