// The naming scheme of generated stacks: resource and parameter names, and Ferry's marks.
//
// A resource is named `<kind>_<digest>`, where digest is the first 12 hex digits of the
// SHA-256 of the primary object's identity (ID, flavor key or keypair name). So:
//  - no string from the primary or the plan ever becomes a key of the template (a key such
//    as `get_file` would be read by Heat as a function call);
//  - names are stable across recovery points: a stack updated with a newer point (warm
//    standby, a re-run) keeps its resources, where positional names would shift and make
//    Heat replace everything after an added member;
//  - the same object always gets the same name, whatever order the input lists it in.
// Two objects of one kind sharing a digest (48 bits: about 4e-8 for 5,000 objects) are
// refused by the generator rather than silently merged.
//
// Parameters: `<resource>_data` holds the primary's values of a resource (names, metadata,
// tags, addresses, sizes) as one json parameter; `<resource>_id` (or `_name`, `_backup`)
// holds one secondary-site fact as a typed string parameter.
import { createHash } from 'node:crypto';
import { FERRY_MARKS } from '../replication/types.js';

/** The kinds of generated resources and their name prefixes, in the order a template lists them. */
export const RESOURCE_KINDS = [
  'net',
  'subnet',
  'secgroup',
  'rule',
  'flavor',
  'keypair',
  'servergroup',
  'volume',
  'port',
  'fip',
  'server',
  'attach',
  'priority',
] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

const DIGEST_LENGTH = 12;

/** 12 hex digits of SHA-256(identity). */
export function digest(identity: string): string {
  return createHash('sha256').update(identity).digest('hex').slice(0, DIGEST_LENGTH);
}

/** The template name of the resource recovering a primary object: `server_1a2b3c4d5e6f`. */
export function resourceName(kind: Exclude<ResourceKind, 'priority'>, identity: string): string {
  return `${kind}_${digest(identity)}`;
}

/** The barrier resource after priority group `index` (1-based): `priority_1_ready`. */
export function priorityBarrierName(index: number): string {
  return `priority_${index}_ready`;
}

/** The json parameter holding a resource's values from the recovery point. */
export function dataParam(resource: string): string {
  return `${resource}_data`;
}

/** Parameters every template and nested template shares (set as parameter_defaults). */
export const COMMON_PARAMS = {
  plan: 'ferry_plan',
  point: 'ferry_point',
  run: 'ferry_run',
  namePrefix: 'name_prefix',
  networkPrefix: 'network_prefix',
} as const;

/** The secondary's external network (floating IPs). */
export const EXTERNAL_NETWORK_PARAM = 'external_network_id';

/** A mark as a Neutron/Nova/Heat tag: `ferry:plan=web`. */
export function markTag(mark: keyof typeof FERRY_MARKS, value: string): string {
  return `${FERRY_MARKS[mark]}=${value}`;
}

/** Nova's limit on a server tag (and Heat's on a stack tag is the comma rule only). */
export const NOVA_TAG_MAX = 60;

/** What a run ID may look like: it becomes part of tags (no comma, no slash) of at most NOVA_TAG_MAX characters. */
export const RUN_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,48}$/;
