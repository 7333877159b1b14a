// The recovery point manifest, `ferry.recoverypoint/v1`: an immutable, versioned document
// of a protection plan's members at one moment (frozen from discovery's Inventory), plus
// where their data lives at the secondary (VolumeDataRef, ImageDataRef) and a checksum of
// the document itself. It is what the bank stores at the secondary (bank.ts), what the
// catalog keeps in `recovery_points.manifest_json`, and the only input recovery reads.
//
// Decisions:
//  - The members and shared objects ARE the inventory model (lib/inventory/model.ts): the
//    manifest's TypeScript type reuses Member, NetworkSpec, ... The zod schema checks the
//    fields recovery depends on (identities, sizes, addresses, order) and keeps every other
//    field as it is (loose objects), so a v1 reader accepts a v1 document written by a newer
//    Ferry that added optional fields, and the checksum still covers them.
//  - Compatibility: a field may be ADDED to v1 (optional, ignored by older readers); changing
//    a field's meaning, removing one or adding a required one is a new apiVersion (v2). A
//    reader refuses a newer apiVersion than it knows with a message saying to upgrade.
//  - The checksum is `sha256:<hex>` of canonicalJson(manifest without its `checksums` field):
//    keys sorted at every level, no whitespace, so key order (a re-serialising database, a
//    different JSON library) is not a change, while any value change is.
//  - Everything here is pure: build, validate, checksum, decide recoverability. The same
//    inputs (with an explicit id and times) give a byte-identical manifest.
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../canonical-json.js';
import { FerryError } from '../errors.js';
import type {
  DiscoveryWarning,
  FlavorSpec,
  ImageSpec,
  Inventory,
  KeypairSpec,
  Member,
  MemberSelectors,
  NetworkSpec,
  SecurityGroupSpec,
  ServerGroupSpec,
  SubnetSpec,
  VolumeTypeSpec,
} from '../inventory/model.js';
import type { ImageDataRef, VolumeDataRef } from './types.js';

// ---- types ----------------------------------------------------------------

/** The apiVersion this Ferry writes (and the newest it reads). */
export const RECOVERY_POINT_API_VERSION = 'ferry.recoverypoint/v1';
export const RECOVERY_POINT_VERSION = 1;
const API_RE = /^ferry\.recoverypoint\/v([1-9][0-9]{0,5})$/;

export type RecoveryPointStatus = 'complete' | 'partial';
export type RecoveryPointConsistency = 'crash' | 'group';

/** Which plan, in which version, under which fencing epoch, the point was taken for. */
export interface RecoveryPointPlanRef {
  name: string;
  /** `sha256:<hex>` of the plan spec in canonical JSON (the catalog's Plan.specHash). */
  specHash: string;
  /** The plan's fencing epoch when the point was taken. */
  epoch: number;
}

/** Where the frozen inventory came from. */
export interface RecoveryPointSource {
  /** Inventory.schemaVersion of the members and shared objects. */
  inventorySchemaVersion: number;
  projectId: string;
  discoveredAt: string;
  selectors: MemberSelectors;
}

/** The plan's shared objects, from the Inventory, keyed as there. */
export interface RecoveryPointShared {
  networks: Record<string, NetworkSpec>;
  subnets: Record<string, SubnetSpec>;
  securityGroups: Record<string, SecurityGroupSpec>;
  flavors: Record<string, FlavorSpec>;
  keypairs: Record<string, KeypairSpec>;
  serverGroups: Record<string, ServerGroupSpec>;
  images: Record<string, ImageSpec>;
  volumeTypes: Record<string, VolumeTypeSpec>;
}

/** Problems of the point itself (discovery's own warnings are kept as they are). */
export type PointWarningCode =
  /** A member volume has no data in this point: the point is partial. */
  | 'volume-data-missing'
  /** A member was booted from an image that was not copied (fine when the plan maps images). */
  | 'image-data-missing'
  /** Anything the caller reports (a hook failed, a volume skipped on purpose). */
  | 'point-note';

export interface PointWarning {
  code: PointWarningCode;
  message: string;
  serverIds?: string[];
  resourceType?: 'volume' | 'image' | 'server';
  resourceId?: string;
}

export type ManifestWarning = DiscoveryWarning | PointWarning;

export interface RecoveryPointSizes {
  /** Every byte the point holds at the secondary: volumeBytes + imageBytes. */
  totalBytes: number;
  /** The protected volumes' sizes (a restore allocates this much). */
  volumeBytes: number;
  /** The copied images' sizes. */
  imageBytes: number;
}

export interface RecoveryPointChecksums {
  /** `sha256:<hex>` of canonicalJson(manifest without `checksums`). */
  manifest: string;
}

/** The `ferry.recoverypoint/v1` document. */
export interface RecoveryPointManifest {
  apiVersion: typeof RECOVERY_POINT_API_VERSION;
  /** A UUID. */
  id: string;
  plan: RecoveryPointPlanRef;
  /** The site the members were protected at (the primary when the point was taken). */
  sourceSite: string;
  /** The site holding the data (the secondary). */
  targetSite: string;
  /** The moment the point captures (ISO 8601 UTC): RPO is measured from it. */
  createdAt: string;
  /** When the point was finished. */
  completedAt: string;
  /** `partial`: some member data is missing; never used for recovery unless forced. */
  status: RecoveryPointStatus;
  /** `crash`: each volume crash-consistent on its own; `group`: Cinder group snapshots. */
  consistency: RecoveryPointConsistency;
  source: RecoveryPointSource;
  /** The members, as discovery froze them (sorted by server name, then ID). */
  members: Member[];
  shared: RecoveryPointShared;
  data: {
    /** Sorted by sourceVolumeId. */
    volumes: VolumeDataRef[];
    /** Sorted by sourceImageId. */
    images: ImageDataRef[];
  };
  sizes: RecoveryPointSizes;
  checksums: RecoveryPointChecksums;
  /** Discovery's warnings, then the point's own. */
  warnings: ManifestWarning[];
}

// ---- errors ---------------------------------------------------------------

export interface ManifestIssue {
  /** JSON path of the offending value, e.g. `$.members[0].volumes[1].size`. */
  path: string;
  message: string;
}

/** A document that is not a valid recovery point manifest; `issues` name every problem by JSON path. */
export class ManifestError extends FerryError {
  override readonly name: string = 'ManifestError';
  constructor(
    readonly issues: ManifestIssue[],
    readonly source?: string,
  ) {
    const where = source ? `${source}: ` : '';
    const shown = issues.slice(0, 10).map((i) => `${i.path}: ${i.message}`);
    const more = issues.length > 10 ? [`... and ${issues.length - 10} more`] : [];
    super(`${where}invalid recovery point manifest: ${[...shown, ...more].join('; ')}`);
  }
}

/** A manifest written by a newer Ferry (apiVersion above the one this Ferry reads). */
export class ManifestVersionError extends ManifestError {
  override readonly name: string = 'ManifestVersionError';
  constructor(
    readonly apiVersion: string,
    source?: string,
  ) {
    super([{ path: '$.apiVersion', message: `'${apiVersion}' is newer than this Ferry reads (${RECOVERY_POINT_API_VERSION}); upgrade Ferry to read it` }], source);
  }
}

/** The manifest's content does not match its own checksum: it changed after it was written. */
export class ManifestChecksumError extends ManifestError {
  override readonly name: string = 'ManifestChecksumError';
  constructor(
    readonly expected: string,
    readonly actual: string,
    source?: string,
  ) {
    super([{ path: '$.checksums.manifest', message: `the manifest's content hashes to ${actual}, not the recorded ${expected} (corrupted or edited after it was written)` }], source);
  }
}

// ---- canonical JSON and checksum ----------------------------------------------

export { canonicalJson } from '../canonical-json.js';

/** `sha256:<hex>` of canonicalJson(manifest without its `checksums` field). Works on any object (also an unvalidated one). */
export function manifestChecksum(manifest: object): string {
  const { checksums: _omit, ...rest } = manifest as Record<string, unknown>;
  return `sha256:${createHash('sha256').update(canonicalJson(rest)).digest('hex')}`;
}

// ---- schema ---------------------------------------------------------------

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SHA256 = /^sha256:[0-9a-f]{64}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

const str = z.string();
const nonEmpty = z.string().min(1, { error: 'must not be empty' });
const isoTime = z.string().regex(ISO_UTC, { error: (iss) => `'${String(iss.input)}' is not an ISO 8601 UTC time (e.g. 2026-11-27T03:45:12.123Z)` });
const count = z.int().min(0);
const stringMap = z.record(z.string(), z.string());
const stringList = z.array(z.string());

const FlavorSchema = z.looseObject({
  key: nonEmpty,
  name: str,
  vcpus: z.int().min(1),
  ram: count,
  disk: count,
  ephemeral: count,
  swap: count,
  extraSpecs: stringMap,
});

const ServerSchema = z.looseObject({
  id: nonEmpty,
  name: str,
  status: str,
  flavor: FlavorSchema,
  image: z.looseObject({ id: nonEmpty }).optional(),
  bootFromVolume: z.boolean(),
  keyName: str.optional(),
  keypair: z.looseObject({ name: nonEmpty, publicKey: nonEmpty, type: z.enum(['ssh', 'x509']) }).optional(),
  availabilityZone: str,
  metadata: stringMap,
  tags: stringList,
  serverGroups: z.array(z.looseObject({ id: nonEmpty, name: str, policy: nonEmpty })),
});

const PortSchema = z.looseObject({
  id: nonEmpty,
  nicIndex: count,
  networkId: nonEmpty,
  macAddress: z.string().regex(MAC, { error: (iss) => `'${String(iss.input)}' is not a MAC address` }),
  fixedIps: z.array(z.looseObject({ subnetId: nonEmpty, ipAddress: nonEmpty })),
  securityGroupIds: stringList,
});

const VolumeSchema = z.looseObject({
  id: nonEmpty,
  size: z.int().min(1),
  volumeType: str.optional(),
  bootable: z.boolean(),
  device: str.optional(),
  bootIndex: z.int().min(0).optional(),
  attachmentOrder: count,
});

const MemberSchema = z.looseObject({
  server: ServerSchema,
  ports: z.array(PortSchema),
  volumes: z.array(VolumeSchema),
  selectedBy: z.array(z.enum(['id', 'name', 'tag', 'metadata'])),
});

const withId = z.looseObject({ id: nonEmpty, name: str });

const SharedSchema = z.looseObject({
  networks: z.record(z.string(), withId.extend({ subnetIds: stringList })),
  subnets: z.record(z.string(), withId.extend({ networkId: nonEmpty, cidr: nonEmpty, ipVersion: z.union([z.literal(4), z.literal(6)]) })),
  securityGroups: z.record(
    z.string(),
    withId.extend({
      rules: z.array(z.looseObject({ id: nonEmpty, direction: z.enum(['ingress', 'egress']), ethertype: z.enum(['IPv4', 'IPv6']) })),
    }),
  ),
  flavors: z.record(z.string(), FlavorSchema),
  keypairs: z.record(z.string(), z.looseObject({ name: nonEmpty, publicKey: nonEmpty, type: z.enum(['ssh', 'x509']) })),
  serverGroups: z.record(z.string(), withId.extend({ policy: nonEmpty, memberIds: stringList })),
  images: z.record(z.string(), withId),
  volumeTypes: z.record(z.string(), withId),
});

const VolumeDataSchema = z.looseObject({
  sourceVolumeId: nonEmpty,
  mover: z.literal('cinder-backup'),
  primaryBackupId: nonEmpty,
  secondaryBackupId: nonEmpty,
  parentBackupId: nonEmpty.optional(),
  incremental: z.boolean(),
  sizeGb: z.int().min(1),
  dataTimestamp: isoTime,
  backupService: nonEmpty,
});

const ImageDataSchema = z.looseObject({
  sourceImageId: nonEmpty,
  secondaryImageId: nonEmpty,
  hash: z.string().regex(/^[a-z0-9]+:[0-9a-f]+$/, { error: (iss) => `'${String(iss.input)}' is not <algorithm>:<hex digest>` }),
  sizeBytes: count,
});

const WarningSchema = z.looseObject({ code: nonEmpty, message: str });

/** The zod schema of `ferry.recoverypoint/v1` (structure only; cross-field rules are in validateManifest). */
export const RecoveryPointManifestSchema = z.looseObject({
  apiVersion: z.literal(RECOVERY_POINT_API_VERSION),
  id: z.string().regex(UUID, { error: (iss) => `'${String(iss.input)}' is not a UUID` }),
  plan: z.looseObject({
    name: nonEmpty,
    specHash: z.string().regex(SHA256, { error: 'must be sha256:<64 hex digits>' }),
    epoch: count,
  }),
  sourceSite: nonEmpty,
  targetSite: nonEmpty,
  createdAt: isoTime,
  completedAt: isoTime,
  status: z.enum(['complete', 'partial']),
  consistency: z.enum(['crash', 'group']),
  source: z.looseObject({
    inventorySchemaVersion: z.int().min(1),
    projectId: str,
    discoveredAt: isoTime,
    selectors: z.looseObject({}),
  }),
  members: z.array(MemberSchema),
  shared: SharedSchema,
  data: z.looseObject({ volumes: z.array(VolumeDataSchema), images: z.array(ImageDataSchema) }),
  sizes: z.looseObject({ totalBytes: count, volumeBytes: count, imageBytes: count }),
  checksums: z.looseObject({ manifest: z.string().regex(SHA256, { error: 'must be sha256:<64 hex digits>' }) }),
  warnings: z.array(WarningSchema),
});

// ---- validation -------------------------------------------------------------

/** `$.members[0].server.id` from a zod path. */
export function jsonPath(path: readonly PropertyKey[]): string {
  let out = '$';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(p)) out += `.${p}`;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out;
}

export interface ValidateOptions {
  /** Check `checksums.manifest` against the content (default true). */
  checksum?: boolean;
  /** Named in error messages (e.g. the bank object the document came from). */
  source?: string;
}

/**
 * Validates a parsed JSON document as a recovery point manifest and returns it typed.
 * Throws ManifestVersionError for a newer apiVersion, ManifestError listing every problem by
 * JSON path (structure, then cross-field rules), and ManifestChecksumError when the content
 * does not match its checksum. The document itself is returned (unknown fields kept), so its
 * checksum stays verifiable.
 */
export function validateManifest(doc: unknown, opts: ValidateOptions = {}): RecoveryPointManifest {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ManifestError([{ path: '$', message: `expected a JSON object, got ${doc === null ? 'null' : Array.isArray(doc) ? 'an array' : typeof doc}` }], opts.source);
  }
  const api = (doc as Record<string, unknown>).apiVersion;
  const m = typeof api === 'string' ? API_RE.exec(api) : null;
  if (m && Number(m[1]) > RECOVERY_POINT_VERSION) throw new ManifestVersionError(api as string, opts.source);
  if (!m) {
    throw new ManifestError([{ path: '$.apiVersion', message: `expected '${RECOVERY_POINT_API_VERSION}', got ${JSON.stringify(api ?? null)}` }], opts.source);
  }
  const parsed = RecoveryPointManifestSchema.safeParse(doc);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: jsonPath(i.path), message: issueMessage(i) }));
    throw new ManifestError(issues, opts.source);
  }
  const manifest = doc as RecoveryPointManifest;
  const cross = crossCheck(manifest);
  if (cross.length > 0) throw new ManifestError(cross, opts.source);
  if (opts.checksum !== false) {
    const actual = manifestChecksum(manifest);
    if (actual !== manifest.checksums.manifest) throw new ManifestChecksumError(manifest.checksums.manifest, actual, opts.source);
  }
  return manifest;
}

function issueMessage(i: z.core.$ZodIssue): string {
  if (i.code === 'invalid_type' && (i as { input?: unknown }).input === undefined) return `required (expected ${i.expected})`;
  return i.message;
}

/** Rules across fields: unique members and volumes, data refs naming member volumes, status, sizes. */
function crossCheck(m: RecoveryPointManifest): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  if (m.sourceSite === m.targetSite) issues.push({ path: '$.targetSite', message: `is the source site '${m.sourceSite}' too` });
  if (Date.parse(m.completedAt) < Date.parse(m.createdAt)) issues.push({ path: '$.completedAt', message: `${m.completedAt} is before createdAt ${m.createdAt}` });
  const servers = new Set<string>();
  const volumes = new Map<string, number>();
  m.members.forEach((mem, i) => {
    if (servers.has(mem.server.id)) issues.push({ path: `$.members[${i}].server.id`, message: `server ${mem.server.id} is listed twice` });
    servers.add(mem.server.id);
    if (!m.shared.flavors[mem.server.flavor.key]) issues.push({ path: `$.members[${i}].server.flavor.key`, message: `flavor '${mem.server.flavor.key}' is not in $.shared.flavors` });
    mem.volumes.forEach((v, j) => {
      if (volumes.has(v.id)) issues.push({ path: `$.members[${i}].volumes[${j}].id`, message: `volume ${v.id} is listed twice` });
      volumes.set(v.id, v.size);
    });
  });
  const withData = new Set<string>();
  m.data.volumes.forEach((d, i) => {
    const size = volumes.get(d.sourceVolumeId);
    if (size === undefined) issues.push({ path: `$.data.volumes[${i}].sourceVolumeId`, message: `volume ${d.sourceVolumeId} is not a member volume` });
    else if (d.sizeGb < size) issues.push({ path: `$.data.volumes[${i}].sizeGb`, message: `${d.sizeGb} GiB is less than the member volume's ${size} GiB` });
    if (withData.has(d.sourceVolumeId)) issues.push({ path: `$.data.volumes[${i}].sourceVolumeId`, message: `volume ${d.sourceVolumeId} has data twice` });
    withData.add(d.sourceVolumeId);
  });
  if (m.status === 'complete') {
    const missing = [...volumes.keys()].filter((id) => !withData.has(id));
    if (missing.length > 0) issues.push({ path: '$.status', message: `is 'complete' but member volumes have no data: ${missing.sort().join(', ')} (it must be 'partial')` });
  }
  const images = new Set<string>();
  m.data.images.forEach((d, i) => {
    if (images.has(d.sourceImageId)) issues.push({ path: `$.data.images[${i}].sourceImageId`, message: `image ${d.sourceImageId} is listed twice` });
    images.add(d.sourceImageId);
  });
  const want = computeSizes(m.data.volumes, m.data.images);
  for (const k of ['volumeBytes', 'imageBytes', 'totalBytes'] as const) {
    if (m.sizes[k] !== want[k]) issues.push({ path: `$.sizes.${k}`, message: `is ${m.sizes[k]}, the data adds up to ${want[k]}` });
  }
  return issues;
}

// ---- building -------------------------------------------------------------------

const GiB = 1024 ** 3;

function computeSizes(volumes: readonly VolumeDataRef[], images: readonly ImageDataRef[]): RecoveryPointSizes {
  const volumeBytes = volumes.reduce((n, v) => n + v.sizeGb * GiB, 0);
  const imageBytes = images.reduce((n, i) => n + i.sizeBytes, 0);
  return { totalBytes: volumeBytes + imageBytes, volumeBytes, imageBytes };
}

export interface BuildRecoveryPointInput {
  plan: RecoveryPointPlanRef;
  inventory: Inventory;
  /** The data moved for this point, one per member volume (missing ones make the point partial). */
  volumes: readonly VolumeDataRef[];
  /** The images copied for this point (an image-booted member without one is a warning). */
  images: readonly ImageDataRef[];
  /** The site holding the data (the plan's secondary). */
  targetSite: string;
  /** Default: the inventory's site. */
  sourceSite?: string;
  /** The moment the point captures (the snapshots' time). */
  createdAt: Date | string;
  /** Default: now. */
  completedAt?: Date | string;
  /** Default: a random UUID. */
  id?: string;
  /** Default `crash`; `group` when the volumes were snapshotted as a Cinder group. */
  consistency?: RecoveryPointConsistency;
  /** Force `partial` (e.g. a member's data failed in a way the data refs do not show). */
  partial?: boolean;
  /** More warnings from the caller (kept after discovery's and the point's own). */
  warnings?: readonly PointWarning[];
}

/**
 * Freezes an Inventory and the moved data into a recovery point manifest with its checksum.
 * Status is `complete` when every member volume has data, else `partial` (with a
 * `volume-data-missing` warning per volume). A data ref for a volume that is not a member,
 * or two for one volume, is a programming error (thrown). The result passes validateManifest.
 */
export function buildRecoveryPoint(input: BuildRecoveryPointInput): RecoveryPointManifest {
  const inv = input.inventory;
  const id = input.id ?? randomUUID();
  const createdAt = isoString('createdAt', input.createdAt);
  const completedAt = isoString('completedAt', input.completedAt ?? new Date());
  const volumeOwner = new Map<string, string>();
  for (const m of inv.members) for (const v of m.volumes) volumeOwner.set(v.id, m.server.id);
  const dataVolumes = [...input.volumes].sort((a, b) => cmp(a.sourceVolumeId, b.sourceVolumeId));
  const dataImages = [...input.images].sort((a, b) => cmp(a.sourceImageId, b.sourceImageId));
  const seen = new Set<string>();
  for (const d of dataVolumes) {
    if (!volumeOwner.has(d.sourceVolumeId)) throw new FerryError(`recovery point ${id}: data for volume ${d.sourceVolumeId}, which is not a member volume of plan '${input.plan.name}'`);
    if (seen.has(d.sourceVolumeId)) throw new FerryError(`recovery point ${id}: two data refs for volume ${d.sourceVolumeId}`);
    seen.add(d.sourceVolumeId);
  }
  const own: PointWarning[] = [];
  for (const m of inv.members) {
    for (const v of m.volumes) {
      if (!seen.has(v.id)) own.push({ code: 'volume-data-missing', message: `volume ${v.id} (${v.name || 'unnamed'}) of server ${m.server.name} has no data in this point`, serverIds: [m.server.id], resourceType: 'volume', resourceId: v.id });
    }
  }
  const copied = new Set(dataImages.map((i) => i.sourceImageId));
  const imageUsers = new Map<string, string[]>();
  for (const m of inv.members) if (m.server.image) imageUsers.set(m.server.image.id, [...(imageUsers.get(m.server.image.id) ?? []), m.server.id]);
  for (const [imageId, users] of [...imageUsers.entries()].sort(([a], [b]) => cmp(a, b))) {
    if (!copied.has(imageId)) own.push({ code: 'image-data-missing', message: `image ${imageId} was not copied to the secondary (recovery needs it mapped to an existing image)`, serverIds: users.sort(), resourceType: 'image', resourceId: imageId });
  }
  const status: RecoveryPointStatus = input.partial || own.some((w) => w.code === 'volume-data-missing') ? 'partial' : 'complete';
  const body: Omit<RecoveryPointManifest, 'checksums'> = {
    apiVersion: RECOVERY_POINT_API_VERSION,
    id,
    plan: { name: input.plan.name, specHash: input.plan.specHash, epoch: input.plan.epoch },
    sourceSite: input.sourceSite ?? inv.site,
    targetSite: input.targetSite,
    createdAt,
    completedAt,
    status,
    consistency: input.consistency ?? 'crash',
    source: { inventorySchemaVersion: inv.schemaVersion, projectId: inv.projectId, discoveredAt: inv.discoveredAt, selectors: inv.selectors },
    members: inv.members,
    shared: {
      networks: inv.networks,
      subnets: inv.subnets,
      securityGroups: inv.securityGroups,
      flavors: inv.flavors,
      keypairs: inv.keypairs,
      serverGroups: inv.serverGroups,
      images: inv.images,
      volumeTypes: inv.volumeTypes,
    },
    data: { volumes: dataVolumes, images: dataImages },
    sizes: computeSizes(dataVolumes, dataImages),
    warnings: [...inv.warnings, ...own, ...(input.warnings ?? [])],
  };
  // A JSON round trip drops undefined members, so the object is exactly what a reader parses.
  const plain = JSON.parse(JSON.stringify(body)) as Omit<RecoveryPointManifest, 'checksums'>;
  const manifest: RecoveryPointManifest = { ...plain, checksums: { manifest: manifestChecksum(plain) } };
  return validateManifest(manifest);
}

function isoString(what: string, v: Date | string): string {
  const d = typeof v === 'string' ? new Date(v) : v;
  if (Number.isNaN(d.getTime())) throw new FerryError(`recovery point ${what}: '${String(v)}' is not a time`);
  return d.toISOString();
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- recoverability --------------------------------------------------------------

export interface RecoverableOptions {
  /** Allow a partial point (the operator accepts the missing data). */
  force?: boolean;
}

/** Why a point cannot be used for recovery, or undefined when it can. Accepts a manifest or a catalog row ({status}). */
export function unrecoverableReason(point: { status: string; id?: string }, opts: RecoverableOptions = {}): string | undefined {
  const name = point.id ? `recovery point ${point.id}` : 'the recovery point';
  switch (point.status) {
    case 'complete':
      return undefined;
    case 'partial':
      return opts.force ? undefined : `${name} is partial (some member data is missing); use --force to recover what it holds`;
    case 'in-progress':
      return `${name} is still being written`;
    case 'deleting':
      return `${name} is being deleted`;
    default:
      return `${name} has unknown status '${point.status}'`;
  }
}

/** True when the point may be recovered: complete, or partial with `force`. Never in-progress or deleting ones. */
export function isRecoverable(point: { status: string; id?: string }, opts: RecoverableOptions = {}): boolean {
  return unrecoverableReason(point, opts) === undefined;
}
