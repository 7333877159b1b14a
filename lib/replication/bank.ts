// The bank: where recovery points live at the SECONDARY site, in its Swift, in a versioned
// layout (docs/bank-layout.md). A fresh daemon rebuilds its catalog from the bank alone
// (rebuild.ts), so losing the primary, its daemon and its database loses no recovery point.
//
//   <container>/                                   default `ferry-bank`
//     bank.json                                    {"layout": "ferry.bank/v1", ...}
//     plans/<plan>/plan.json                       the plan as applied, with its spec hash (and deletedAt once deleted)
//     plans/<plan>/epoch.json                      {epoch, activeSite, updatedAt} (fencing)
//     plans/<plan>/points/<createdAt>_<id>/manifest.json   ferry.recoverypoint/v1
//     plans/<plan>/points/<createdAt>_<id>/COMPLETE        written LAST
//
// Decisions:
//  - Paths are pure functions (bankPaths, parseBankPath), tested as a table; I/O is a thin
//    layer over lib/openstack/objectstore.
//  - `<createdAt>` is Date.toISOString() (fixed width, UTC, milliseconds), so Swift's
//    lexicographic listing order is time order, and a plan's points are one prefix listing.
//  - A point is finished only when its COMPLETE marker exists, and the marker is written only
//    after the manifest was stored and Swift confirmed its MD5 (ETag). A point without it (a
//    crashed or ongoing upload) is `incomplete`: never recovered, recorded as partial by a
//    rebuild. The marker says the UPLOAD finished; the manifest's own `status` says whether
//    the data is complete or partial.
//  - Listing a plan's points is a paginated prefix listing: manifest.json and COMPLETE of
//    every point come back in it (with sizes and MD5s), so no GET per point is needed to know
//    which points exist and which are finished. Manifests are read one GET each, only when
//    their content is wanted.
//  - Reads verify the manifest twice: the transfer against Swift's ETag (getObject), and the
//    content against its own sha256 checksum (validateManifest).
//  - Immutability: writing a point that already has its COMPLETE marker is a no-op when the
//    manifest is the same (by checksum) and a BankConflictError otherwise.
//  - A soft-deleted plan keeps its plan.json with `deletedAt` (markPlanDeleted), so that a
//    catalog rebuilt from the bank records it deleted instead of bringing it back. The field
//    is optional and additive: the layout stays ferry.bank/v1 and the document
//    ferry.bankplan/v1 (older readers keep unknown fields; the spec hash does not cover it).
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { specHash } from '../canonical-json.js';
import { FerryError, isNotFound } from '../errors.js';
import { createContainer } from '../openstack/objectstore/containers.js';
import { deleteObject, getObject, headObject, listObjects, putObject, type ObjectSummary } from '../openstack/objectstore/objects.js';
import type { ServiceClient } from '../openstack/service-client.js';
import { validateManifest, type RecoveryPointManifest } from './recovery-point.js';

// ---- types ----------------------------------------------------------------

/** The layout this Ferry writes, and the newest it reads. */
export const BANK_LAYOUT = 'ferry.bank/v1';
export const BANK_LAYOUT_VERSION = 1;
const LAYOUT_RE = /^ferry\.bank\/v([1-9][0-9]{0,5})$/;
export const DEFAULT_BANK_CONTAINER = 'ferry-bank';
/** apiVersion of plans/<plan>/plan.json. */
export const BANK_PLAN_API_VERSION = 'ferry.bankplan/v1';
/** Largest JSON document the bank reads into memory (a manifest of thousands of servers is a few MiB). */
export const MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;

/** bank.json. */
export interface BankMarker {
  layout: string;
  createdAt: string;
  createdBy?: string;
}

export const BANK_TIERS = ['backup', 'pilot-light', 'warm-standby'] as const;

/** plans/<plan>/plan.json: the plan as applied (enough to recreate the catalog's plan row). */
export interface BankPlanDocument {
  apiVersion: typeof BANK_PLAN_API_VERSION;
  name: string;
  project: string;
  primarySite: string;
  secondarySite: string;
  tier: (typeof BANK_TIERS)[number];
  rpoMs: number;
  /** The validated protection-plan document, as applied. */
  spec: Record<string, unknown>;
  /** `sha256:<hex>` of the spec's canonical JSON (equal to the catalog's Plan.specHash). */
  specHash: string;
  appliedAt: string;
  /**
   * When the plan was soft-deleted (`ferry plan delete` without --purge), ISO 8601 UTC with
   * milliseconds; absent for a live plan. Its recovery points stay until the plan is purged.
   */
  deletedAt?: string;
}

/** plans/<plan>/epoch.json: a copy of the plan's fencing state for a fresh daemon and a returning primary. */
export interface BankEpoch {
  epoch: number;
  activeSite: string;
  updatedAt: string;
}

/** One recovery point as the listing shows it (no GET made). */
export interface BankPointEntry {
  plan: string;
  id: string;
  /** ISO 8601 UTC with milliseconds, from the object name. */
  createdAt: string;
  /** `<createdAt>_<id>`: the point's folder name. */
  key: string;
  /**
   * `complete`: manifest and COMPLETE marker; `incomplete`: a manifest without the marker (an
   * upload that crashed or is still running); `broken`: a marker without a manifest.
   */
  state: 'complete' | 'incomplete' | 'broken';
  /** The manifest object as listed (name, bytes, MD5), when there is one. */
  manifest?: Pick<ObjectSummary, 'name' | 'bytes' | 'hash' | 'last_modified'>;
}

export interface BankOptions {
  /** Default `ferry-bank`. */
  container?: string;
  signal?: AbortSignal;
}

export interface ListOptions extends BankOptions {
  /** Swift page size (default: Swift's, 10000). */
  pageSize?: number;
}

export interface PutPointResult {
  /** False when the same point was already in the bank (nothing written). */
  written: boolean;
  manifestObject: string;
  completeObject: string;
  /** MD5 of the stored manifest, as Swift confirmed it. */
  etag: string;
  bytes: number;
}

// ---- errors ---------------------------------------------------------------

export class BankError extends FerryError {
  override readonly name: string = 'BankError';
}

/** No bank (or no bank.json) in the container. */
export class BankNotFoundError extends BankError {
  override readonly name: string = 'BankNotFoundError';
}

/** bank.json names a layout this Ferry does not read (newer, or not a Ferry bank). */
export class BankLayoutError extends BankError {
  override readonly name: string = 'BankLayoutError';
}

/** A write that would change something immutable (a finished point) or move an epoch back. */
export class BankConflictError extends BankError {
  override readonly name: string = 'BankConflictError';
}

// ---- paths (pure) -----------------------------------------------------------

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const POINT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** Refuses a plan name that cannot be one path segment. */
export function checkPlanName(plan: string): string {
  if (typeof plan !== 'string' || plan.length === 0 || plan.length > 255 || plan.includes('/') || plan === '.' || plan === '..' || /\p{Cc}/u.test(plan)) {
    throw new BankError(`plan name ${JSON.stringify(plan)} cannot be a bank path segment (1-255 characters, no '/', no control characters)`);
  }
  return plan;
}

function checkPointId(id: string): string {
  if (typeof id !== 'string' || !POINT_ID.test(id)) throw new BankError(`recovery point id ${JSON.stringify(id)} is not 1-64 of letters, digits, '.', '_', ':', '-'`);
  return id;
}

/** The canonical timestamp of a point's folder: Date.toISOString() (UTC, milliseconds, fixed width). */
export function pointTime(createdAt: Date | string): string {
  const d = typeof createdAt === 'string' ? new Date(createdAt) : createdAt;
  if (Number.isNaN(d.getTime())) throw new BankError(`'${String(createdAt)}' is not a time`);
  const iso = d.toISOString();
  if (!ISO_MS.test(iso)) throw new BankError(`${iso} is outside the years 0000-9999 the bank layout sorts`);
  return iso;
}

/** `<createdAt ISO>_<pointId>`: sorts by time, then ID. */
export function pointKey(createdAt: Date | string, id: string): string {
  return `${pointTime(createdAt)}_${checkPointId(id)}`;
}

/** Object names of the layout, relative to the bank container. */
export const bankPaths = {
  marker: (): string => 'bank.json',
  plans: (): string => 'plans/',
  plan: (plan: string): string => `plans/${checkPlanName(plan)}/`,
  planDoc: (plan: string): string => `${bankPaths.plan(plan)}plan.json`,
  epoch: (plan: string): string => `${bankPaths.plan(plan)}epoch.json`,
  points: (plan: string): string => `${bankPaths.plan(plan)}points/`,
  point: (plan: string, createdAt: Date | string, id: string): string => `${bankPaths.points(plan)}${pointKey(createdAt, id)}/`,
  manifest: (plan: string, createdAt: Date | string, id: string): string => `${bankPaths.point(plan, createdAt, id)}manifest.json`,
  complete: (plan: string, createdAt: Date | string, id: string): string => `${bankPaths.point(plan, createdAt, id)}COMPLETE`,
};

export type BankPath =
  | { kind: 'marker' }
  | { kind: 'plan'; plan: string }
  | { kind: 'epoch'; plan: string }
  | { kind: 'manifest' | 'complete'; plan: string; createdAt: string; id: string; key: string };

/** What an object name means in the layout; undefined for names the layout does not define. */
export function parseBankPath(name: string): BankPath | undefined {
  if (name === 'bank.json') return { kind: 'marker' };
  const m = /^plans\/([^/]+)\/(plan\.json|epoch\.json|points\/([^/]+)\/(manifest\.json|COMPLETE))$/.exec(name);
  if (!m) return undefined;
  const plan = m[1]!;
  if (plan === '.' || plan === '..') return undefined;
  if (m[2] === 'plan.json') return { kind: 'plan', plan };
  if (m[2] === 'epoch.json') return { kind: 'epoch', plan };
  const k = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)_(.+)$/.exec(m[3]!);
  if (!k || !POINT_ID.test(k[2]!) || Number.isNaN(Date.parse(k[1]!))) return undefined;
  return { kind: m[4] === 'COMPLETE' ? 'complete' : 'manifest', plan, createdAt: k[1]!, id: k[2]!, key: m[3]! };
}

// ---- documents (pure) ------------------------------------------------------------

/** `sha256:<hex>` of a plan spec's canonical JSON (the catalog's specHash). */
export const planSpecHash = specHash;

export interface PlanDocumentInput {
  name: string;
  project: string;
  primarySite: string;
  secondarySite: string;
  tier: BankPlanDocument['tier'];
  rpoMs: number;
  spec: object;
  /** Set for a soft-deleted plan (a catalog Plan's deletedAt fits); null or absent for a live one. */
  deletedAt?: Date | string | null | undefined;
}

/** The plan.json document for a plan (a catalog Plan fits), with its spec hash. */
export function planDocument(plan: PlanDocumentInput, appliedAt: Date | string = new Date()): BankPlanDocument {
  const spec = JSON.parse(JSON.stringify(plan.spec)) as Record<string, unknown>;
  const deleted = plan.deletedAt ? { deletedAt: pointTime(plan.deletedAt) } : {};
  return {
    apiVersion: BANK_PLAN_API_VERSION,
    name: checkPlanName(plan.name),
    project: plan.project,
    primarySite: plan.primarySite,
    secondarySite: plan.secondarySite,
    tier: plan.tier,
    rpoMs: plan.rpoMs,
    spec,
    specHash: planSpecHash(spec),
    appliedAt: pointTime(appliedAt),
    ...deleted,
  };
}

/** The same plan.json marked deleted at `deletedAt` (an earlier mark is kept: the first deletion counts). */
export function markedDeleted(doc: BankPlanDocument, deletedAt: Date | string): BankPlanDocument {
  return doc.deletedAt ? doc : { ...doc, deletedAt: pointTime(deletedAt) };
}

const PlanDocSchema = z.looseObject({
  apiVersion: z.literal(BANK_PLAN_API_VERSION),
  name: z.string().min(1),
  project: z.string().min(1),
  primarySite: z.string().min(1),
  secondarySite: z.string().min(1),
  tier: z.enum(BANK_TIERS),
  rpoMs: z.int().min(1),
  spec: z.record(z.string(), z.unknown()),
  specHash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  appliedAt: z.string(),
  deletedAt: z
    .string()
    .refine((t) => !Number.isNaN(Date.parse(t)), 'not a time')
    .optional(),
});

const EpochSchema = z.looseObject({ epoch: z.int().min(0), activeSite: z.string().min(1), updatedAt: z.string() });
const MarkerSchema = z.looseObject({ layout: z.string(), createdAt: z.string(), createdBy: z.string().optional() });

function zodProblems(err: z.ZodError): string {
  return err.issues.map((i) => `${['$', ...i.path.map(String)].join('.')}: ${i.message}`).join('; ');
}

/** Checks a plan.json document (shape and spec hash). */
export function validatePlanDocument(doc: unknown, source = 'plan.json'): BankPlanDocument {
  const r = PlanDocSchema.safeParse(doc);
  if (!r.success) throw new BankError(`${source}: not a ${BANK_PLAN_API_VERSION} document: ${zodProblems(r.error)}`);
  const plan = doc as BankPlanDocument;
  const actual = planSpecHash(plan.spec);
  if (actual !== plan.specHash) throw new BankError(`${source}: the spec hashes to ${actual}, not the recorded ${plan.specHash} (corrupted or edited)`);
  return plan;
}

/** Checks bank.json: a layout this Ferry reads. */
export function checkLayout(marker: unknown, where: string): BankMarker {
  const r = MarkerSchema.safeParse(marker);
  if (!r.success) throw new BankLayoutError(`${where}: bank.json is not a Ferry bank marker: ${zodProblems(r.error)}`);
  const m = LAYOUT_RE.exec(r.data.layout);
  if (!m) throw new BankLayoutError(`${where}: bank.json names layout '${r.data.layout}', not ferry.bank/v<N>; this container is not a Ferry bank`);
  if (Number(m[1]) > BANK_LAYOUT_VERSION) throw new BankLayoutError(`${where}: the bank has layout '${r.data.layout}', newer than this Ferry reads (${BANK_LAYOUT}); upgrade Ferry`);
  return marker as BankMarker;
}

// ---- I/O helpers --------------------------------------------------------------------

const containerOf = (opts: BankOptions): string => opts.container ?? DEFAULT_BANK_CONTAINER;

async function drain(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
    n += b.length;
    if (n > limit) {
      stream.destroy();
      throw new BankError(`${what} is larger than ${limit} bytes; not a bank document`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** GETs and parses a JSON object (the transfer checked against its ETag); undefined on 404. */
async function readJson(sc: ServiceClient, container: string, name: string, signal?: AbortSignal): Promise<{ doc: unknown; etag: string | undefined; bytes: number } | undefined> {
  const what = `object ${container}/${name}`;
  let dl;
  try {
    dl = await getObject(sc, container, name, { signal });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  if (dl.info.content_length !== undefined && dl.info.content_length > MAX_DOCUMENT_BYTES) {
    dl.stream.destroy();
    throw new BankError(`${what} is ${dl.info.content_length} bytes; not a bank document`);
  }
  const buf = await drain(dl.stream, MAX_DOCUMENT_BYTES, what);
  try {
    return { doc: JSON.parse(buf.toString('utf8')) as unknown, etag: dl.info.etag, bytes: buf.length };
  } catch (err) {
    throw new BankError(`${what} is not JSON: ${(err as Error).message}`);
  }
}

/** PUTs a JSON document with its MD5 as ETag (Swift refuses a corrupted body) and checks the Etag Swift returns. */
async function writeJson(sc: ServiceClient, container: string, name: string, doc: unknown, signal?: AbortSignal, metadata?: Record<string, string>): Promise<{ etag: string; bytes: number }> {
  const body = Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
  const md5 = createHash('md5').update(body).digest('hex');
  const res = await putObject(sc, container, name, body, { content_type: 'application/json', etag: md5, metadata, signal });
  if (res.etag.toLowerCase() !== md5) throw new BankError(`object ${container}/${name}: Swift stored Etag ${res.etag}, the document has MD5 ${md5}`);
  return { etag: md5, bytes: body.length };
}

async function exists(sc: ServiceClient, container: string, name: string, signal?: AbortSignal): Promise<{ etag: string | undefined } | undefined> {
  try {
    const info = await headObject(sc, container, name, signal);
    return { etag: info.etag };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

// ---- the bank -----------------------------------------------------------------------

/** Reads bank.json; undefined when the container or the marker is missing. Throws BankLayoutError for a layout this Ferry cannot read. */
export async function readBankMarker(sc: ServiceClient, opts: BankOptions = {}): Promise<BankMarker | undefined> {
  const container = containerOf(opts);
  const got = await readJson(sc, container, bankPaths.marker(), opts.signal);
  return got ? checkLayout(got.doc, `container ${container}`) : undefined;
}

/** The bank's marker, or BankNotFoundError: what readers call first. */
export async function checkBank(sc: ServiceClient, opts: BankOptions = {}): Promise<BankMarker> {
  const marker = await readBankMarker(sc, opts);
  if (!marker) throw new BankNotFoundError(`no Ferry bank in container '${containerOf(opts)}' (no ${bankPaths.marker()}); check the site and the container name`);
  return marker;
}

/**
 * Creates the bank container when missing (PUT is idempotent in Swift) and writes bank.json
 * when missing; an existing marker must name a layout this Ferry reads. Returns the marker.
 */
export async function ensureBank(sc: ServiceClient, opts: BankOptions & { createdBy?: string; now?: () => Date } = {}): Promise<BankMarker> {
  const container = containerOf(opts);
  await createContainer(sc, container, { signal: opts.signal });
  const current = await readBankMarker(sc, opts);
  if (current) return current;
  const marker: BankMarker = { layout: BANK_LAYOUT, createdAt: (opts.now ?? (() => new Date()))().toISOString(), createdBy: opts.createdBy ?? 'ferry' };
  await writeJson(sc, container, bankPaths.marker(), marker, opts.signal);
  return marker;
}

/** Writes plans/<plan>/plan.json (overwrites: the plan as last applied). */
export async function putPlanDocument(sc: ServiceClient, doc: BankPlanDocument, opts: BankOptions = {}): Promise<void> {
  const plan = validatePlanDocument(doc);
  await writeJson(sc, containerOf(opts), bankPaths.planDoc(plan.name), plan, opts.signal, { 'ferry-spec-hash': plan.specHash });
}

/** Reads and checks plans/<plan>/plan.json; undefined when missing. */
export async function getPlanDocument(sc: ServiceClient, plan: string, opts: BankOptions = {}): Promise<BankPlanDocument | undefined> {
  const container = containerOf(opts);
  const name = bankPaths.planDoc(plan);
  const got = await readJson(sc, container, name, opts.signal);
  if (!got) return undefined;
  const doc = validatePlanDocument(got.doc, `object ${container}/${name}`);
  if (doc.name !== plan) throw new BankError(`object ${container}/${name} is the plan document of '${doc.name}', not '${plan}'`);
  return doc;
}

/**
 * Records in plans/<plan>/plan.json that the plan was soft-deleted at `deletedAt`, before the
 * catalog row is: what keeps a catalog rebuild from reviving it. `written` when marked now,
 * `unchanged` when it already was (the first deletion time is kept), `absent` when the bank
 * holds no plan.json for it (nothing to revive; none is created). A damaged plan.json (not
 * JSON, not a ferry.bankplan/v1 document, a spec that does not match its hash) is replaced by
 * `replaceDamaged`, marked deleted, when given, and is a BankError otherwise.
 */
export async function markPlanDeleted(
  sc: ServiceClient,
  plan: string,
  deletedAt: Date | string,
  opts: BankOptions & { replaceDamaged?: BankPlanDocument } = {},
): Promise<'written' | 'unchanged' | 'absent'> {
  let current: BankPlanDocument | undefined;
  try {
    current = await getPlanDocument(sc, plan, opts);
  } catch (err) {
    if (!(err instanceof BankError) || !opts.replaceDamaged) throw err;
    await putPlanDocument(sc, markedDeleted(opts.replaceDamaged, deletedAt), opts);
    return 'written';
  }
  if (!current) return 'absent';
  if (current.deletedAt) return 'unchanged';
  await putPlanDocument(sc, markedDeleted(current, deletedAt), opts);
  return 'written';
}

/** The names of the plans in the bank (one delimiter listing, paginated), sorted. */
export async function listPlanNames(sc: ServiceClient, opts: ListOptions = {}): Promise<string[]> {
  const names: string[] = [];
  for await (const e of listObjects(sc, containerOf(opts), { prefix: bankPaths.plans(), delimiter: '/', limit: opts.pageSize }, { signal: opts.signal })) {
    if (!('subdir' in e)) continue;
    const name = e.subdir.slice(bankPaths.plans().length, -1);
    if (name && name !== '.' && name !== '..') names.push(name);
  }
  return names.sort();
}

/** Reads plans/<plan>/epoch.json; undefined when missing. */
export async function getEpoch(sc: ServiceClient, plan: string, opts: BankOptions = {}): Promise<BankEpoch | undefined> {
  const container = containerOf(opts);
  const name = bankPaths.epoch(plan);
  const got = await readJson(sc, container, name, opts.signal);
  if (!got) return undefined;
  const r = EpochSchema.safeParse(got.doc);
  if (!r.success) throw new BankError(`object ${container}/${name}: not an epoch document: ${zodProblems(r.error)}`);
  return got.doc as BankEpoch;
}

/**
 * Writes plans/<plan>/epoch.json. The epoch only moves forward: a lower epoch than the
 * bank's, or the same epoch with another active site, is a BankConflictError; the same
 * epoch and site is a no-op (false). Swift has no conditional PUT, so this is a check then
 * a write: the catalog's bumpEpoch stays the authority; the bank keeps a copy of its result.
 */
export async function putEpoch(sc: ServiceClient, plan: string, epoch: Omit<BankEpoch, 'updatedAt'> & { updatedAt?: string }, opts: BankOptions = {}): Promise<boolean> {
  const current = await getEpoch(sc, plan, opts);
  if (current) {
    if (epoch.epoch < current.epoch) throw new BankConflictError(`plan '${plan}': the bank's epoch is ${current.epoch}; refusing to move it back to ${epoch.epoch}`);
    if (epoch.epoch === current.epoch) {
      if (epoch.activeSite === current.activeSite) return false;
      throw new BankConflictError(`plan '${plan}': epoch ${epoch.epoch} already has active site '${current.activeSite}', not '${epoch.activeSite}'; raise the epoch`);
    }
  }
  const doc: BankEpoch = { epoch: epoch.epoch, activeSite: epoch.activeSite, updatedAt: epoch.updatedAt ?? new Date().toISOString() };
  const r = EpochSchema.safeParse(doc);
  if (!r.success) throw new BankError(`plan '${plan}': not an epoch document: ${zodProblems(r.error)}`);
  await writeJson(sc, containerOf(opts), bankPaths.epoch(plan), doc, opts.signal);
  return true;
}

/**
 * Stores a recovery point: validates the manifest (checksum included), PUTs manifest.json
 * with its MD5 as ETag, and only then the COMPLETE marker. A point already finished in the
 * bank is left alone when it holds the same manifest (written: false) and is a
 * BankConflictError when it holds another one. An unfinished one (no marker) is overwritten.
 */
export async function putRecoveryPoint(sc: ServiceClient, manifest: RecoveryPointManifest, opts: BankOptions = {}): Promise<PutPointResult> {
  const container = containerOf(opts);
  const m = validateManifest(manifest, { source: `recovery point ${(manifest as { id?: string }).id ?? '?'}` });
  const manifestObject = bankPaths.manifest(m.plan.name, m.createdAt, m.id);
  const completeObject = bankPaths.complete(m.plan.name, m.createdAt, m.id);
  const marker = await exists(sc, container, completeObject, opts.signal);
  if (marker) {
    const stored = await readJson(sc, container, manifestObject, opts.signal);
    if (!stored) throw new BankConflictError(`object ${container}/${completeObject} exists without its manifest; the point is broken, delete it before writing it again`);
    const old = validateManifest(stored.doc, { source: `object ${container}/${manifestObject}` });
    if (old.checksums.manifest !== m.checksums.manifest) {
      throw new BankConflictError(`recovery point ${m.id} of plan '${m.plan.name}' is already in the bank with another manifest (${old.checksums.manifest}, not ${m.checksums.manifest}); recovery points are immutable`);
    }
    return { written: false, manifestObject, completeObject, etag: stored.etag ?? '', bytes: stored.bytes };
  }
  const put = await writeJson(sc, container, manifestObject, m, opts.signal, { 'ferry-checksum': m.checksums.manifest, 'ferry-status': m.status });
  // Written LAST: its presence means the manifest above is whole and verified.
  await writeJson(sc, container, completeObject, { pointId: m.id, manifestChecksum: m.checksums.manifest, manifestMd5: put.etag, manifestBytes: put.bytes, completedAt: m.completedAt }, opts.signal);
  return { written: true, manifestObject, completeObject, etag: put.etag, bytes: put.bytes };
}

/**
 * The plan's recovery points, newest first, from one paginated prefix listing (no GET per
 * point): each with its state (complete, incomplete, broken) and its manifest's listing entry.
 */
export async function listRecoveryPoints(sc: ServiceClient, plan: string, opts: ListOptions = {}): Promise<BankPointEntry[]> {
  const byKey = new Map<string, BankPointEntry & { hasComplete: boolean }>();
  for await (const e of listObjects(sc, containerOf(opts), { prefix: bankPaths.points(plan), limit: opts.pageSize }, { signal: opts.signal })) {
    if ('subdir' in e) continue;
    const p = parseBankPath(e.name);
    if (!p || (p.kind !== 'manifest' && p.kind !== 'complete') || p.plan !== plan) continue;
    let entry = byKey.get(p.key);
    if (!entry) {
      entry = { plan, id: p.id, createdAt: p.createdAt, key: p.key, state: 'broken', hasComplete: false };
      byKey.set(p.key, entry);
    }
    if (p.kind === 'complete') entry.hasComplete = true;
    else entry.manifest = { name: e.name, bytes: e.bytes, hash: e.hash, last_modified: e.last_modified };
  }
  return [...byKey.values()]
    .map(({ hasComplete, ...e }): BankPointEntry => ({ ...e, state: e.manifest ? (hasComplete ? 'complete' : 'incomplete') : 'broken' }))
    .sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
}

/**
 * Reads and verifies a point's manifest: the transfer against Swift's ETag, the content
 * against its own checksum (ManifestChecksumError), and that it is the manifest of the point
 * its path names. Throws BankNotFoundError when the point has no manifest.
 */
export async function getRecoveryPoint(sc: ServiceClient, point: { plan: string; createdAt: string | Date; id: string }, opts: BankOptions = {}): Promise<RecoveryPointManifest> {
  const container = containerOf(opts);
  const name = bankPaths.manifest(point.plan, point.createdAt, point.id);
  const got = await readJson(sc, container, name, opts.signal);
  if (!got) throw new BankNotFoundError(`recovery point ${point.id} of plan '${point.plan}' has no manifest in container '${container}' (${name})`);
  const m = validateManifest(got.doc, { source: `object ${container}/${name}` });
  if (m.id !== point.id || m.plan.name !== point.plan || pointTime(m.createdAt) !== pointTime(point.createdAt)) {
    throw new BankError(`object ${container}/${name} holds recovery point ${m.id} of plan '${m.plan.name}' taken at ${m.createdAt}: not the point its path names`);
  }
  return m;
}

/**
 * Removes a point from the bank: the COMPLETE marker first (so a half-done removal reads as
 * incomplete, never as a finished point with missing parts), then the manifest. Idempotent.
 */
export async function deleteRecoveryPoint(sc: ServiceClient, point: { plan: string; createdAt: string | Date; id: string }, opts: BankOptions = {}): Promise<boolean> {
  const container = containerOf(opts);
  const a = await deleteObject(sc, container, bankPaths.complete(point.plan, point.createdAt, point.id), { signal: opts.signal });
  const b = await deleteObject(sc, container, bankPaths.manifest(point.plan, point.createdAt, point.id), { signal: opts.signal });
  return a || b;
}
