// What recovery generation works with besides the recovery point and the plan: the modes, and
// `Resolved`, the facts looked up at the secondary before generation (resolve.ts), which say
// for every primary object the template needs whether the secondary already has its
// counterpart (and which) or whether the stack recreates it.
//
// Every record is keyed by the primary object's identity in the manifest: networks, subnets,
// security groups and images by ID, flavors by FlavorSpec.key, keypairs by name, volume types
// and availability zones by name.

/** failover: production; drtest: isolated bubble; standby: warm standby at reduced capacity. */
export type RecoveryMode = 'failover' | 'drtest' | 'standby';

export const RECOVERY_MODES: readonly RecoveryMode[] = ['failover', 'drtest', 'standby'];

/** A network: an existing one at the secondary, or recreated from the primary's settings. */
export type NetworkTarget =
  | { kind: 'map'; id: string; name: string }
  | {
      kind: 'recreate';
      /** The plan's `name` for the recreated network (default: the primary's). */
      name?: string;
      /** The plan's `mtu` (default: the primary's). */
      mtu?: number;
    };

/** Settings a plan gives a recreated subnet (mappings.subnets[].recreate), file names kept. */
export interface SubnetOverrides {
  name?: string;
  cidr?: string;
  gateway_ip?: string;
  enable_dhcp?: boolean;
  dns_nameservers?: string[];
  allocation_pools?: { start: string; end: string }[];
}

/** A subnet: an existing one (its CIDR decides whether fixed IPs can be kept), or recreated. */
export type SubnetTarget = { kind: 'map'; id: string; cidr: string } | { kind: 'recreate'; overrides: SubnetOverrides };

export type SecurityGroupTarget = { kind: 'map'; id: string } | { kind: 'recreate' };

export type FlavorTarget = { kind: 'map'; id: string; name: string } | { kind: 'recreate' };

/** A keypair: one of the same (or the mapped) name owned by the secondary's user, or recreated from its public key. */
export type KeypairTarget = { kind: 'map'; name: string } | { kind: 'recreate' };

export interface Resolved {
  /** The secondary's cloud name (for messages). */
  site: string;
  /** The project the stack is created in. */
  projectId: string;
  /** By primary network ID. */
  networks: Record<string, NetworkTarget>;
  /** By primary subnet ID. */
  subnets: Record<string, SubnetTarget>;
  /** By primary security group ID. */
  securityGroups: Record<string, SecurityGroupTarget>;
  /** By FlavorSpec.key. */
  flavors: Record<string, FlavorTarget>;
  /** Primary image ID → image ID at the secondary (copied with the point, or mapped). */
  images: Record<string, string>;
  /** Primary volume type name → type name at the secondary; null: the secondary's default type. */
  volumeTypes: Record<string, string | null>;
  /** Primary Nova availability zone → zone at the secondary; null: the scheduler chooses. */
  computeZones: Record<string, string | null>;
  /** By keypair name. */
  keypairs: Record<string, KeypairTarget>;
  /** The external network for floating IPs (undefined: the secondary has none). */
  externalNetworkId?: string;
}
