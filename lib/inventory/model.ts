// The site-neutral model of a protection plan's members, as discovery reads it from the
// primary and as a recovery point freezes it. Domain names (camelCase), not wire names: the
// model must mean the same thing whichever site (and release) it came from, and recovery
// (Heat template generation) reads only this, never an OpenStack body.
//
// Shape: an Inventory holds the members (one per server: the server, its ports in NIC order,
// its volumes in attachment order) and, once each and keyed by ID, the shared objects they
// reference (networks, subnets, security groups, flavors, images, volume types, keypairs,
// server groups). A reference that could not be resolved (a deleted image, a keypair of
// another user, a security group of another project) keeps its ID in the member and becomes
// a warning; it never aborts discovery.
//
// Everything here is plain JSON (no Map, no Date, no undefined inside arrays) so that a
// recovery point is `JSON.stringify(inventory)`; discovery inserts record keys in sorted order
// and sorts every list, so two discoveries of an unchanged workload are byte-identical except
// for `discoveredAt`.

/** Bumped when a field changes meaning or a required field is added. */
export const INVENTORY_SCHEMA_VERSION = 1;

// ---- selection -----------------------------------------------------------------

/**
 * Which servers a protection plan protects. A server is a member when it matches ANY of the
 * given kinds (the union); at least one kind must be given.
 */
export interface MemberSelectors {
  /** Server UUIDs. */
  serverIds?: string[];
  /** Exact server names (Nova names are not unique: every server of the name is a member). */
  serverNames?: string[];
  /** Nova server tags (2.26+): servers carrying any of them (or all, with `tagMatch: 'all'`). */
  tags?: string[];
  /** How `tags` match: `any` (default, Nova's `tags-any`) or `all` (Nova's `tags`). */
  tagMatch?: 'any' | 'all';
  /**
   * Server metadata: servers whose metadata has every one of these key=value pairs; a list
   * selects servers matching any of its entries (each entry one plan selector).
   */
  metadata?: Record<string, string> | Record<string, string>[];
}

/**
 * One entry of a protection plan's `members` list (lib/config/protection-plan.ts): exactly one
 * of `server` (a name or an ID), `tag`, `metadata`. Structural, so that inventory does not
 * depend on the plan parser.
 */
export interface PlanMemberSelector {
  server?: string;
  tag?: string;
  metadata?: Record<string, string>;
}

/** The selector kinds, as recorded in {@link Member.selectedBy}. */
export type SelectorKind = 'id' | 'name' | 'tag' | 'metadata';

// ---- members -------------------------------------------------------------------

/** Nova's power state (OS-EXT-STS:power_state 0, 1, 3, 4, 6, 7), by name. */
export type PowerState = 'nostate' | 'running' | 'paused' | 'shutdown' | 'crashed' | 'suspended' | 'unknown';

/**
 * A flavor's shape. Since compute 2.47 a server carries a copy of the flavor it was booted
 * (or resized) with, which stays right when the flavor is later deleted or changed: discovery
 * uses that copy, so `id` is only known below 2.47 (where the flavor is looked up by ID).
 */
export interface FlavorSpec {
  /** Key of this flavor in {@link Inventory.flavors}: the name, or `name#<hash>` when two
   *  different shapes share a name. */
  key: string;
  /** The flavor ID at the primary (only below compute 2.47). */
  id?: string;
  name: string;
  vcpus: number;
  /** MiB. */
  ram: number;
  /** Root disk, GiB (0: the image's size, or boot from volume). */
  disk: number;
  /** GiB. */
  ephemeral: number;
  /** MiB. */
  swap: number;
  /** Empty when policy hides extra specs from the caller (a warning says so). */
  extraSpecs: Record<string, string>;
}

/** The image a server was booted from (absent for a server booted from a volume). */
export interface ServerImageRef {
  id: string;
  /** Undefined when the image could not be read (deleted, or not visible): see warnings. */
  name?: string;
  /** Hex MD5 of the image data (Glance `checksum`). */
  checksum?: string;
  /** Glance multihash: algorithm (e.g. `sha512`) and hex digest. */
  hashAlgo?: string;
  hashValue?: string;
}

export interface MemberKeypair {
  name: string;
  publicKey: string;
  type: 'ssh' | 'x509';
}

export interface MemberServerGroup {
  id: string;
  name: string;
  policy: string;
  /** Only `max_server_per_host` exists (anti-affinity, compute 2.64+). */
  rules: { maxServerPerHost?: number };
}

export interface MemberServer {
  id: string;
  name: string;
  /** Nova status at discovery (ACTIVE, SHUTOFF, ...). */
  status: string;
  powerState: PowerState;
  /** The embedded flavor (see {@link FlavorSpec}); also in {@link Inventory.flavors} under `flavor.key`. */
  flavor: FlavorSpec;
  /** Undefined for a server booted from a volume. */
  image?: ServerImageRef;
  /** True when the root disk is a volume (Nova shows no image). */
  bootFromVolume: boolean;
  keyName?: string;
  /** The keypair's public key, when the keypair could be read (it belongs to a user). */
  keypair?: MemberKeypair;
  availabilityZone: string;
  metadata: Record<string, string>;
  /** Nova tags (2.26+), sorted. */
  tags: string[];
  /** Since compute 2.19. */
  description?: string;
  /** The server group the server belongs to (Nova allows at most one), as a list. */
  serverGroups: MemberServerGroup[];
  locked: boolean;
  /** Since compute 2.73. */
  lockedReason?: string;
  /** Whether a config drive was used. */
  configDrive: boolean;
  /** `AUTO` or `MANUAL` (OS-DCF:diskConfig). */
  diskConfig: string;
  /** Root device name, when the caller may read extended attributes (admin). */
  rootDeviceName?: string;
  /** Owner of the server (its keypair belongs to this user). */
  userId: string;
  projectId: string;
  /** Nova `created` time. */
  createdAt: string;
}

export interface MemberFixedIp {
  subnetId: string;
  /** Undefined when the subnet could not be read (see warnings). */
  subnetCidr?: string;
  ipAddress: string;
}

export interface AddressPair {
  ipAddress: string;
  macAddress?: string;
}

export interface MemberPort {
  id: string;
  name: string;
  description: string;
  /**
   * NIC position (0 = first NIC), from the order of the server's `addresses` (Nova lists them
   * in VIF order, grouped by network); ports without an address come last, by ID.
   */
  nicIndex: number;
  networkId: string;
  /** Undefined when the network could not be read (see warnings). */
  networkName?: string;
  macAddress: string;
  fixedIps: MemberFixedIp[];
  /** Sorted IDs; each is in {@link Inventory.securityGroups} unless a warning says otherwise. */
  securityGroupIds: string[];
  allowedAddressPairs: AddressPair[];
  /** Undefined when the cloud lacks the port-security extension. */
  portSecurityEnabled?: boolean;
  adminStateUp: boolean;
  /** `normal`, `direct` (SR-IOV), ... (binding extension). */
  vnicType?: string;
  dnsName?: string;
  qosPolicyId?: string;
  tags: string[];
}

export interface MemberVolume {
  id: string;
  name: string;
  description?: string;
  /** GiB. */
  size: number;
  /** The volume type's name (Cinder shows the name); undefined for a volume without a type. */
  volumeType?: string;
  /** The volume type's ID (block-storage 3.63+, else resolved by name). */
  volumeTypeId?: string;
  bootable: boolean;
  /** Device as Cinder recorded the attachment (e.g. `/dev/vdb`); undefined when none was recorded. */
  device?: string;
  /**
   * 0 for the root disk of a server booted from a volume, undefined for every other volume.
   * Nova does not show boot_index: the root volume is the one attached at the server's root
   * device name (admins see it), else the first in device order.
   */
  bootIndex?: number;
  /** Position in the server's volumes by device name (vda < vdb < ... < vdz < vdaa), 0-based. */
  attachmentOrder: number;
  availabilityZone: string;
  metadata: Record<string, string>;
  multiattach: boolean;
  encrypted: boolean;
  /** Cinder status at discovery (in-use, ...). */
  status: string;
  /** Whether Nova deletes the volume with the server (compute 2.3+). */
  deleteOnTermination?: boolean;
  /** Image properties copied into a volume created from an image (hw_*, image_id, ...). */
  imageMetadata?: Record<string, string>;
  /** Cinder replication status (`enabled`, `disabled`, ...), for the cinder-replication mover. */
  replicationStatus?: string;
  /** Generic volume group (block-storage 3.13+). */
  groupId?: string;
}

/** One protected server with what it owns (ports, attached volumes). */
export interface Member {
  server: MemberServer;
  /** In NIC order. */
  ports: MemberPort[];
  /** In attachment order (the boot volume first for a server booted from a volume). */
  volumes: MemberVolume[];
  /** Which selector kinds matched this server, sorted. */
  selectedBy: SelectorKind[];
}

// ---- shared objects --------------------------------------------------------------

export interface NetworkSpec {
  id: string;
  name: string;
  description: string;
  /** Subnet IDs of the network, sorted (each in {@link Inventory.subnets}). */
  subnetIds: string[];
  adminStateUp: boolean;
  shared: boolean;
  /** router:external. */
  external: boolean;
  mtu?: number;
  portSecurityEnabled?: boolean;
  availabilityZoneHints: string[];
  dnsDomain?: string;
  qosPolicyId?: string;
  /** Provider attributes (admin only; undefined for others). */
  providerNetworkType?: string;
  providerPhysicalNetwork?: string;
  providerSegmentationId?: number;
  projectId: string;
  tags: string[];
}

export interface AllocationPoolSpec {
  start: string;
  end: string;
}

export interface HostRouteSpec {
  destination: string;
  nexthop: string;
}

export interface SubnetSpec {
  id: string;
  name: string;
  description: string;
  networkId: string;
  ipVersion: 4 | 6;
  cidr: string;
  /** null: the subnet has no gateway. */
  gatewayIp: string | null;
  enableDhcp: boolean;
  allocationPools: AllocationPoolSpec[];
  dnsNameservers: string[];
  hostRoutes: HostRouteSpec[];
  ipv6RaMode?: string;
  ipv6AddressMode?: string;
  subnetpoolId?: string;
  projectId: string;
  tags: string[];
}

export interface SecurityGroupRuleSpec {
  id: string;
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  /** A protocol name or number; undefined: any. */
  protocol?: string;
  portRangeMin?: number;
  portRangeMax?: number;
  remoteIpPrefix?: string;
  /** Another (or the same) security group: always in {@link Inventory.securityGroups} unless a warning says otherwise. */
  remoteGroupId?: string;
  remoteAddressGroupId?: string;
  description: string;
}

export interface SecurityGroupSpec {
  id: string;
  name: string;
  description: string;
  stateful: boolean;
  projectId: string;
  /** Sorted by direction, ethertype, protocol, ports, remote, then ID. */
  rules: SecurityGroupRuleSpec[];
  /** True when no member port uses the group: it is here because a rule names it as remote group. */
  remoteOnly: boolean;
  tags: string[];
}

export interface ImageSpec {
  id: string;
  name: string;
  status: string;
  diskFormat?: string;
  containerFormat?: string;
  /** Bytes. */
  size?: number;
  virtualSize?: number;
  checksum?: string;
  hashAlgo?: string;
  hashValue?: string;
  minDisk: number;
  minRam: number;
  visibility: string;
  protected: boolean;
  hidden: boolean;
  owner?: string;
  tags: string[];
  /** Custom properties (os_distro, hw_*, ...), as strings. */
  properties: Record<string, string>;
}

export interface VolumeTypeSpec {
  id: string;
  name: string;
  description?: string;
  isPublic: boolean;
  /** Undefined when policy hides them. */
  extraSpecs?: Record<string, string>;
  qosSpecsId?: string;
}

export interface KeypairSpec {
  name: string;
  publicKey: string;
  type: 'ssh' | 'x509';
  fingerprint: string;
  /** The user owning the keypair (keypairs belong to users, not projects). */
  userId?: string;
}

export interface ServerGroupSpec {
  id: string;
  name: string;
  policy: string;
  rules: { maxServerPerHost?: number };
  /** IDs of the group's servers that are members of the plan, sorted. */
  memberIds: string[];
  /** Servers of the group that the plan does not protect, sorted (they will not be recovered). */
  otherServerIds: string[];
}

// ---- warnings --------------------------------------------------------------------

export type WarningCode =
  /** A serverIds / serverNames entry matched no server. */
  | 'member-not-found'
  /** A serverNames entry matched more than one server (all are members). */
  | 'member-name-ambiguous'
  /** A tags / metadata selector matched no server. */
  | 'selector-matched-nothing'
  /** A selected server is deleted or soft-deleted: not a member. */
  | 'member-deleted'
  /** A selected server carries an excluded tag (ferry:fenced: an old copy after a failover): not a member. */
  | 'member-excluded'
  | 'image-missing'
  | 'keypair-missing'
  | 'flavor-missing'
  /** The embedded flavor shows no extra specs (policy os_compute_api:servers:show:flavor-extra-specs). */
  | 'flavor-extra-specs-hidden'
  /** Two servers carry different flavors of the same name. */
  | 'flavor-name-conflict'
  | 'network-missing'
  | 'subnet-missing'
  | 'security-group-missing'
  | 'volume-missing'
  | 'volume-type-missing'
  /** A server booted from a volume whose root volume was not found. */
  | 'boot-volume-missing'
  /** A listing Ferry could not read (403, or a microversion too old). */
  | 'listing-unavailable';

export interface DiscoveryWarning {
  code: WarningCode;
  message: string;
  /** The members concerned (sorted), when there are any. One warning per missing object, not per member. */
  serverIds?: string[];
  /** The missing or concerned object. */
  resourceType?: 'server' | 'image' | 'keypair' | 'flavor' | 'network' | 'subnet' | 'security-group' | 'volume' | 'volume-type' | 'server-group' | 'selector';
  resourceId?: string;
}

// ---- the inventory -------------------------------------------------------------

export interface Inventory {
  schemaVersion: typeof INVENTORY_SCHEMA_VERSION;
  /** Site (cloud) name at discovery. */
  site: string;
  projectId: string;
  /** ISO 8601 UTC. */
  discoveredAt: string;
  /** The selectors discovery was asked for. */
  selectors: MemberSelectors;
  /** Sorted by server name, then ID. */
  members: Member[];
  networks: Record<string, NetworkSpec>;
  subnets: Record<string, SubnetSpec>;
  securityGroups: Record<string, SecurityGroupSpec>;
  /** Keyed by {@link FlavorSpec.key}. */
  flavors: Record<string, FlavorSpec>;
  images: Record<string, ImageSpec>;
  volumeTypes: Record<string, VolumeTypeSpec>;
  /** Keyed by name (a keypair's identity in Nova). */
  keypairs: Record<string, KeypairSpec>;
  serverGroups: Record<string, ServerGroupSpec>;
  /** Sorted by code, then resource ID. */
  warnings: DiscoveryWarning[];
}
