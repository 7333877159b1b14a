// Neutron v2.0 security groups and security group rules.
// API reference: https://docs.openstack.org/api-ref/network/v2/#security-groups-security-groups
// and #security-group-rules-security-group-rules.
// Source: neutron/extensions/securitygroup.py (attributes, SecurityGroupRuleExists),
// neutron/db/securitygroups_db.py, neutron_lib/api/definitions/stateful_security_group.py (Zed).
import { BadResponseError, isConflict } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import { deleteNeutronResource, ifRevisionHeaders, toNeutronQuery, type NeutronListQuery, type TagFilters } from './tags.js';

// ---- types ----------------------------------------------------------------

export type Direction = 'ingress' | 'egress';
export type Ethertype = 'IPv4' | 'IPv6';

export interface SecurityGroupRule {
  id: string;
  security_group_id: string;
  direction: Direction;
  ethertype: Ethertype;
  /** A name (`tcp`, `udp`, `icmp`, `ipv6-icmp`...) or an IP protocol number as a string; null: any. */
  protocol: string | null;
  /** For TCP/UDP the first port; for ICMP the type. null: any. */
  port_range_min: number | null;
  /** For TCP/UDP the last port; for ICMP the code. null: any. */
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
  /** Extension `address-group`. */
  remote_address_group_id?: string | null;
  description: string;
  project_id: string;
  tenant_id: string;
  created_at: string;
  updated_at: string;
  revision_number: number;
}

export interface SecurityGroup {
  id: string;
  name: string;
  description: string;
  project_id: string;
  tenant_id: string;
  security_group_rules: SecurityGroupRule[];
  /** Extension `stateful-security-group`. */
  stateful?: boolean;
  tags: string[];
  created_at: string;
  updated_at: string;
  revision_number: number;
}

export interface ListSecurityGroupsQuery extends NeutronListQuery {
  id?: string | string[];
  name?: string | string[];
  stateful?: boolean;
}

export interface CreateSecurityGroupOpts {
  name: string;
  description?: string;
  stateful?: boolean;
  /** Admin: create in another project. */
  project_id?: string;
}

export type UpdateSecurityGroupOpts = Partial<Omit<CreateSecurityGroupOpts, 'project_id'>>;

/** Rules are not taggable, so no tag filters. */
export interface ListSecurityGroupRulesQuery extends Omit<NeutronListQuery, keyof TagFilters> {
  security_group_id?: string | string[];
  direction?: Direction;
  ethertype?: Ethertype;
  protocol?: string;
  port_range_min?: number;
  port_range_max?: number;
  remote_ip_prefix?: string;
  remote_group_id?: string;
}

export interface CreateSecurityGroupRuleOpts {
  security_group_id: string;
  direction: Direction;
  /** Default IPv4. */
  ethertype?: Ethertype;
  /** A name or an IP protocol number (0-255); omitted: any protocol. */
  protocol?: string | number;
  port_range_min?: number | null;
  port_range_max?: number | null;
  /** Either a CIDR or a remote group, not both. */
  remote_ip_prefix?: string;
  remote_group_id?: string;
  remote_address_group_id?: string;
  description?: string;
  project_id?: string;
}

// ---- urls -----------------------------------------------------------------

export const securityGroupUrls = {
  list: () => 'v2.0/security-groups',
  one: (id: string) => `v2.0/security-groups/${encodeURIComponent(id)}`,
  rules: () => 'v2.0/security-group-rules',
  rule: (id: string) => `v2.0/security-group-rules/${encodeURIComponent(id)}`,
};

// ---- requests: groups -------------------------------------------------------

/** Lists security groups (with their rules), every page. */
export function listSecurityGroups(sc: ServiceClient, q: ListSecurityGroupsQuery = {}, opts?: PageOptions): AsyncGenerator<SecurityGroup> {
  return paginate<SecurityGroup>(sc, securityGroupUrls.list(), toNeutronQuery(q), { style: 'links', key: 'security_groups', limit: q.limit }, opts);
}

export async function getSecurityGroup(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<SecurityGroup> {
  return (await sc.get<{ security_group: SecurityGroup }>(securityGroupUrls.one(id), { signal })).data.security_group;
}

/**
 * Creates a security group. Not retried on failure (POST). Neutron adds two egress rules
 * (IPv4 and IPv6, any destination) to every new group; they come back in `security_group_rules`.
 */
export async function createSecurityGroup(sc: ServiceClient, opts: CreateSecurityGroupOpts, signal?: AbortSignal): Promise<SecurityGroup> {
  return (await sc.post<{ security_group: SecurityGroup }>(securityGroupUrls.list(), { security_group: opts }, { ok: [201], signal })).data.security_group;
}

export async function updateSecurityGroup(sc: ServiceClient, id: string, opts: UpdateSecurityGroupOpts, extra: { ifRevision?: number; signal?: AbortSignal } = {}): Promise<SecurityGroup> {
  return (
    await sc.put<{ security_group: SecurityGroup }>(securityGroupUrls.one(id), { security_group: opts }, { headers: ifRevisionHeaders(extra.ifRevision), signal: extra.signal })
  ).data.security_group;
}

export interface DeleteSecurityGroupOpts {
  /** A missing group (or rule) is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Deletes a security group; returns false when it was already gone. A group still used by ports gives 409 SecurityGroupInUse. */
export function deleteSecurityGroup(sc: ServiceClient, id: string, opts: DeleteSecurityGroupOpts = {}): Promise<boolean> {
  return deleteNeutronResource(sc, securityGroupUrls.one(id), opts);
}

// ---- requests: rules --------------------------------------------------------

export function listSecurityGroupRules(sc: ServiceClient, q: ListSecurityGroupRulesQuery = {}, opts?: PageOptions): AsyncGenerator<SecurityGroupRule> {
  return paginate<SecurityGroupRule>(sc, securityGroupUrls.rules(), toNeutronQuery(q), { style: 'links', key: 'security_group_rules', limit: q.limit }, opts);
}

export async function getSecurityGroupRule(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<SecurityGroupRule> {
  return (await sc.get<{ security_group_rule: SecurityGroupRule }>(securityGroupUrls.rule(id), { signal })).data.security_group_rule;
}

/** The ID in Neutron's 409 "Security group rule already exists. Rule id is <id>." */
export function existingRuleId(detail: string): string | undefined {
  return /Rule id is ([0-9a-f-]{36})/i.exec(detail)?.[1];
}

export interface CreateRuleExtra {
  /**
   * When an identical rule already exists (409 SecurityGroupRuleExists), return that rule
   * instead of failing (default false). Replaying a group onto another site needs this:
   * the default egress rules are already there.
   */
  adoptExisting?: boolean;
  signal?: AbortSignal;
}

/** Creates one rule. Not retried on failure (POST); with `adoptExisting` a replay is harmless. */
export async function createSecurityGroupRule(sc: ServiceClient, opts: CreateSecurityGroupRuleOpts, extra: CreateRuleExtra = {}): Promise<SecurityGroupRule> {
  try {
    return (await sc.post<{ security_group_rule: SecurityGroupRule }>(securityGroupUrls.rules(), { security_group_rule: opts }, { ok: [201], signal: extra.signal })).data
      .security_group_rule;
  } catch (err) {
    if (extra.adoptExisting && isConflict(err) && err.type === 'SecurityGroupRuleExists') {
      const id = existingRuleId(err.detail);
      if (id) return getSecurityGroupRule(sc, id, extra.signal);
    }
    throw err;
  }
}

/**
 * Creates several rules in one request (Neutron's bulk create: all or none). A rule that
 * already exists fails the whole request with 409; use createSecurityGroupRule with
 * `adoptExisting` for replays.
 */
export async function createSecurityGroupRules(sc: ServiceClient, rules: CreateSecurityGroupRuleOpts[], signal?: AbortSignal): Promise<SecurityGroupRule[]> {
  if (rules.length === 0) return [];
  const res = await sc.post<{ security_group_rules: SecurityGroupRule[] }>(securityGroupUrls.rules(), { security_group_rules: rules }, { ok: [201], signal });
  if (!Array.isArray(res.data?.security_group_rules)) throw new BadResponseError('network: bulk rule create returned no security_group_rules list');
  return res.data.security_group_rules;
}

/** Deletes a rule; returns false when it was already gone. */
export function deleteSecurityGroupRule(sc: ServiceClient, id: string, opts: DeleteSecurityGroupOpts = {}): Promise<boolean> {
  return deleteNeutronResource(sc, securityGroupUrls.rule(id), opts);
}
