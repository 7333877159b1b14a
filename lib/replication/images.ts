// Image replication (design.md, data path "Images"): the members' Glance images copied from the
// primary's Glance to the secondary's, streamed (download piped into upload, never buffered),
// hash-verified at both ends, IDs mapped (the copy gets a fresh ID: Glance never frees a deleted
// image's ID, so a bad copy could not be made again under the source's ID, and failback copies
// into a site where that ID exists), and skipped when the secondary already holds the same bytes.
//
// Per image, observe → act → verify:
//   1. observe: the source (one id=in: listing per batch at the primary), this plan's marked
//      images at the secondary (one property-filtered listing per run) and the secondary's
//      active images with the source's os_hash_value (one filtered listing per image, only
//      when the plan holds no valid copy of it yet);
//   2. reuse: an active image with the same bytes (same os_hash_algo + os_hash_value and size)
//      is used as it is: event `adopted` when it is this point's own earlier attempt, `skipped`
//      otherwise; no bytes move;
//   3. else clean: this plan's marked copies of the source that are not a valid copy (queued or
//      saving after a crash, or active with other bytes) are deleted;
//   4. copy: a private image with the source's formats, limits, name, tags and user properties
//      plus Ferry's marks; the primary's data streamed through a verifier into the upload; the
//      secondary's record read back and compared with the primary's (size, MD5, os_hash_value).
//      Any failure after the create deletes the copy: a bad copy never stays.
//
// Glance facts this relies on (glance/api/v2/images.py and db/sqlalchemy/api.py, Zed):
// - List filters: `id=in:a,b` (also name, status, container_format, disk_format); exact
//   `os_hash_value=` and `checksum=`; any other unknown parameter is an exact custom-property
//   filter (`ferry:plan=web`); property names may contain colons (255 characters at most).
// - A listing never shows `killed` images, hides os_hidden images unless os_hidden=true, and
//   hides community images not owned by the caller unless visibility=all or community. An
//   admin's listing shows other projects' private images.
// - A failed upload (PUT /file) puts the image back to `queued`; Zed never leaves it `killed`.
// - Properties in the `os_glance` namespace are reserved (403 on create); os_hash_algo and
//   os_hash_value are read-only and computed by Glance from the bytes it stored.
import { chunks } from '../inventory/discover.js';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import pLimit from 'p-limit';
import { FerryError, isNotFound } from '../errors.js';
import {
  createImage,
  deleteImage,
  downloadImageData,
  getImage,
  imageProperties,
  imageUrls,
  IntegrityError,
  uploadImageData,
  type CreateImageOpts,
  type ExpectedDigests,
  type Image,
} from '../openstack/image/images.js';
import { collect, paginate } from '../openstack/paginate.js';
import type { ServiceClient } from '../openstack/service-client.js';
import type { Site } from '../openstack/site.js';
import type { Query } from '../openstack/transport.js';
import { FERRY_MARKS, type ImageDataRef } from './types.js';

// ---- types ----------------------------------------------------------------

/** What image replication needs of a site (a lib/openstack Site fits). */
export type ImageSite = Pick<Site, 'name' | 'image' | 'connect'>;

export interface ImageCopyProgress {
  imageId: string;
  event: 'start' | 'skipped' | 'adopted' | 'bytes' | 'done' | 'failed';
  /** Bytes uploaded so far (event bytes/done). */
  bytes?: number;
  totalBytes?: number;
  detail?: string;
}

export interface ReplicateImagesOptions {
  plan: string;
  pointId: string;
  /** Optional run ID, marked as ferry:run on copies. */
  run?: string;
  /** Images copied at once (default 2). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (p: ImageCopyProgress) => void;
  /**
   * Reuse an image Ferry did not create when it holds the same bytes (default true); see
   * chooseReusable() for which ones qualify.
   */
  reuseForeign?: boolean;
  /** A `bytes` event each time this many more bytes went up (default 16 MiB). */
  progressStepBytes?: number;
  /** Image IDs per listing at the primary (default 50: keeps the URL near 2 KB). */
  listBatchSize?: number;
}

/** How one image was settled. */
export type ImageOutcome =
  | {
      imageId: string;
      ok: true;
      action: 'copied' | 'skipped' | 'adopted';
      /** What was reused: this plan's copy, another Ferry copy, or an image Ferry did not create. */
      reused?: ReuseKind;
      /** The secondary image carries Ferry's marks (retention may delete it once no point uses it). */
      ferryOwned: boolean;
      ref: ImageDataRef;
      bytes: number;
      /** Unfinished copies of earlier runs deleted before this copy was made. */
      replaced?: string[];
    }
  | { imageId: string; ok: false; error: Error };

export interface ReplicateImagesResult {
  refs: ImageDataRef[];
  failures: { imageId: string; error: Error }[];
  /** Bytes of the copies that succeeded (skipped and adopted images move none). */
  bytesCopied: number;
  /** Every requested image, in the order asked. */
  outcomes: ImageOutcome[];
}

/** Property of a copy: the source's `algo:value`, for copies into a Glance hashing with another algorithm. */
export const SOURCE_HASH_MARK = 'ferry:source_hash';

const MiB = 1024 * 1024;

// ---- pure rules ---------------------------------------------------------------

/** `os_hash_algo:os_hash_value` of an image with data, else `md5:checksum` (pre-Rocky data), else undefined. */
export function imageHash(image: Pick<Image, 'os_hash_algo' | 'os_hash_value' | 'checksum'>): string | undefined {
  if (image.os_hash_algo && image.os_hash_value) return `${image.os_hash_algo.toLowerCase()}:${image.os_hash_value.toLowerCase()}`;
  if (image.checksum) return `md5:${image.checksum.toLowerCase()}`;
  return undefined;
}

/** Ferry's marks on a copy of `sourceId` made for a plan's point. */
export function imageMarks(plan: string, pointId: string, sourceId: string, sourceHash: string, run?: string): Record<string, string> {
  const m: Record<string, string> = { [FERRY_MARKS.plan]: plan, [FERRY_MARKS.point]: pointId, [FERRY_MARKS.source]: sourceId, [SOURCE_HASH_MARK]: sourceHash };
  if (run) m[FERRY_MARKS.run] = run;
  return m;
}

const OWN_MARKS: readonly string[] = [...Object.values(FERRY_MARKS), SOURCE_HASH_MARK];

/**
 * The source's custom properties a copy carries: all but Glance's reserved `os_glance*`
 * namespace (refused on create; import bookkeeping of the source site) and Ferry's own marks
 * (a source that is itself a copy, at failback, gets this cycle's marks instead).
 * Base attributes (os_hash_*, os_hidden, stores, locations...) are not properties at all.
 */
export function carriedProperties(source: Image): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(imageProperties(source))) {
    if (k.startsWith('os_glance') || OWN_MARKS.includes(k)) continue;
    out[k] = v;
  }
  return out;
}

/** The create request of a copy: what a boot needs from the record, private, marked. */
export function copyRequest(source: Image, marks: Record<string, string>): CreateImageOpts {
  const req: CreateImageOpts = {
    disk_format: source.disk_format ?? undefined,
    container_format: source.container_format ?? undefined,
    min_disk: source.min_disk,
    min_ram: source.min_ram,
    visibility: 'private',
    tags: [...(source.tags ?? [])],
    properties: { ...carriedProperties(source), ...marks },
  };
  if (source.name !== null) req.name = source.name;
  return req;
}

/**
 * How well `copy` is known to hold `source`'s bytes: `strong` when both were hashed with the
 * same os_hash_algo and the values (and sizes, and MD5s when both have one) agree; `md5` when
 * the algorithms differ (or one has none) but size and MD5 agree; false otherwise.
 */
export function dataMatch(copy: Image, source: Image): 'strong' | 'md5' | false {
  if (copy.status !== 'active' || source.size === null || copy.size !== source.size) return false;
  const md5Agrees = !!copy.checksum && !!source.checksum && copy.checksum.toLowerCase() === source.checksum.toLowerCase();
  const md5Differs = !!copy.checksum && !!source.checksum && !md5Agrees;
  if (md5Differs) return false;
  if (copy.os_hash_algo && source.os_hash_algo && copy.os_hash_algo.toLowerCase() === source.os_hash_algo.toLowerCase()) {
    return !!copy.os_hash_value && !!source.os_hash_value && copy.os_hash_value.toLowerCase() === source.os_hash_value.toLowerCase() ? 'strong' : false;
  }
  return md5Agrees ? 'md5' : false;
}

/** Which kind of image was reused, most preferred first. */
export type ReuseKind = 'plan' | 'ferry-source' | 'ferry' | 'foreign';
const REUSE_RANK: Record<ReuseKind, number> = { plan: 0, 'ferry-source': 1, ferry: 2, foreign: 3 };

export interface ReuseContext {
  plan: string;
  pointId: string;
  /** The project the secondary's session is scoped to (owner of the copies Ferry makes). */
  projectId: string | undefined;
  reuseForeign: boolean;
}

export interface ReuseChoice {
  image: Image;
  kind: ReuseKind;
  /** This point's own earlier attempt (a run that crashed after the copy was verified). */
  adopted: boolean;
}

function kindOf(image: Image, source: Image, plan: string): ReuseKind {
  const marked = typeof image[FERRY_MARKS.plan] === 'string';
  if (!marked) return 'foreign';
  const sameSource = image[FERRY_MARKS.source] === source.id;
  if (sameSource && image[FERRY_MARKS.plan] === plan) return 'plan';
  return sameSource ? 'ferry-source' : 'ferry';
}

/**
 * The image at the secondary a point should use for `source` instead of copying it, if any.
 * Candidates must be active with the same bytes (dataMatch). Preference: this plan's copy of
 * this source, another plan's copy of it, any other Ferry copy, then an image Ferry did not
 * create; within a kind the oldest, so consecutive points keep pointing at the same image.
 *
 * Foreign images are reused (unless reuseForeign is false) because the bytes are identical
 * and copying them again would only double the storage. They must be strongly matched (same
 * algorithm and value; never on MD5 alone, which can be forged), and usable by the project
 * the recovery runs in: owned by it, or public/community. An admin's listing also shows other
 * projects' private and shared images, which that project could not boot. The price: Ferry does
 * not own a foreign image's lifecycle (its owner may delete it; Ferry's retention must not),
 * which the outcome records as ferryOwned false.
 *
 * Ferry copies are trusted on MD5 plus their source-hash mark when the secondary hashes with
 * another algorithm: the mark names what the copy was verified against when it was made.
 */
export function chooseReusable(source: Image, candidates: readonly Image[], ctx: ReuseContext): ReuseChoice | undefined {
  const hash = imageHash(source);
  const usable: { image: Image; kind: ReuseKind }[] = [];
  const seen = new Set<string>();
  for (const image of candidates) {
    if (seen.has(image.id) || image.id === source.id) continue;
    seen.add(image.id);
    const match = dataMatch(image, source);
    if (!match) continue;
    const kind = kindOf(image, source, ctx.plan);
    if (kind === 'foreign') {
      if (!ctx.reuseForeign || match !== 'strong') continue;
      const visibleToAll = image.visibility === 'public' || image.visibility === 'community';
      if (!visibleToAll && (ctx.projectId === undefined || image.owner !== ctx.projectId)) continue;
    } else if (match === 'md5' && image[SOURCE_HASH_MARK] !== hash) {
      continue;
    }
    usable.push({ image, kind });
  }
  usable.sort((a, b) => REUSE_RANK[a.kind] - REUSE_RANK[b.kind] || a.image.created_at.localeCompare(b.image.created_at) || a.image.id.localeCompare(b.image.id));
  const best = usable[0];
  if (!best) return undefined;
  return { image: best.image, kind: best.kind, adopted: best.kind === 'plan' && best.image[FERRY_MARKS.point] === ctx.pointId };
}

/** States of a marked copy left by a run that stopped before its upload was verified. */
const UNFINISHED = new Set(['queued', 'saving', 'uploading', 'importing', 'killed']);

/**
 * This plan's marked copies of `source` that hold no valid copy and are deleted before a new
 * copy is made: unfinished ones (a crashed upload leaves `queued`), and active ones with other
 * bytes (never verified: Glance data is immutable, so a verified copy always matches its
 * source). Deactivated copies are left alone: an operator chose that state. Assumes one cycle
 * of a plan at a time (the workflow's run lease), so nothing here is another run's live upload.
 */
export function staleCopies(source: Image, marked: readonly Image[], plan: string): Image[] {
  return marked.filter(
    (i) =>
      i[FERRY_MARKS.plan] === plan &&
      i[FERRY_MARKS.source] === source.id &&
      (UNFINISHED.has(i.status) || (i.status === 'active' && !dataMatch(i, source))),
  );
}

/** `in:a,b,c` for Glance's list filters (image IDs are UUIDs: no quoting needed). */
export function inFilter(values: readonly string[]): string {
  return `in:${values.join(',')}`;
}

/** Splits `items` into chunks of at most `size` (discovery's helper, re-exported for callers of this module). */
export { chunks };

/**
 * Checks the secondary's record of a finished copy against the primary's record of the source:
 * active, same size, same MD5, and the same os_hash_value when both Glances hash with the same
 * algorithm (what the secondary computed from the bytes it stored).
 */
export function checkCopy(source: Image, copy: Image): void {
  const what = `image ${copy.id} (copy of ${source.id})`;
  if (copy.status !== 'active') throw new IntegrityError(`${what} is ${copy.status} after its upload, expected active`, what, 'status', 'active', copy.status);
  if (copy.size !== source.size) throw new IntegrityError(`${what} holds ${copy.size} bytes, the source ${source.size}`, what, 'size', String(source.size), String(copy.size));
  if (source.checksum && copy.checksum !== source.checksum) {
    throw new IntegrityError(`${what}: MD5 ${copy.checksum} at the secondary, ${source.checksum} at the primary`, what, 'md5', source.checksum, String(copy.checksum));
  }
  if (source.os_hash_algo && source.os_hash_value && copy.os_hash_algo === source.os_hash_algo && copy.os_hash_value !== source.os_hash_value) {
    throw new IntegrityError(
      `${what}: ${source.os_hash_algo} ${copy.os_hash_value} at the secondary, ${source.os_hash_value} at the primary`,
      what,
      source.os_hash_algo,
      source.os_hash_value,
      String(copy.os_hash_value),
    );
  }
}

// ---- observing ------------------------------------------------------------------

function listWhere(sc: ServiceClient, query: Query, signal: AbortSignal | undefined, limit?: number): Promise<Image[]> {
  return collect(paginate<Image>(sc, imageUrls.list(), query, { style: 'glance', key: 'images', limit }, { signal }));
}

/**
 * The source images by ID: one `id=in:` listing per batch (visibility=all, so community
 * images are included), then a GET for the few a listing cannot show (os_hidden images).
 * IDs Glance does not know are left out of the map.
 */
export async function sourceImages(sc: ServiceClient, ids: readonly string[], opts: { batchSize?: number; signal?: AbortSignal } = {}): Promise<Map<string, Image>> {
  const found = new Map<string, Image>();
  for (const batch of chunks(ids, opts.batchSize ?? 50)) {
    // One more than the batch: Glance adds a `next` link to every full page, which would cost an
    // empty second call per batch.
    for (const image of await listWhere(sc, { id: inFilter(batch), visibility: 'all' }, opts.signal, batch.length + 1)) {
      if (batch.includes(image.id)) found.set(image.id, image);
    }
  }
  for (const id of ids.filter((x) => !found.has(x))) {
    try {
      found.set(id, await getImage(sc, id, opts.signal));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return found;
}

/** Images at a site marked with the plan (any status Glance lists: not `killed`). */
export function planImages(sc: ServiceClient, plan: string, signal?: AbortSignal): Promise<Image[]> {
  return listWhere(sc, { [FERRY_MARKS.plan]: plan }, signal);
}

/** Active images at a site holding data with this os_hash_value (any algorithm; dataMatch decides). */
export function imagesWithHash(sc: ServiceClient, osHashValue: string, signal?: AbortSignal): Promise<Image[]> {
  return listWhere(sc, { os_hash_value: osHashValue, status: 'active' }, signal);
}

// ---- copying ----------------------------------------------------------------------

/** Counts bytes on their way to the upload and reports every `step` of them. */
class ByteMeter extends Transform {
  bytes = 0;
  private next: number;
  constructor(
    private readonly step: number,
    private readonly report: (bytes: number) => void,
  ) {
    super();
    this.next = step;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes >= this.next) {
      this.report(this.bytes);
      this.next = (Math.floor(this.bytes / this.step) + 1) * this.step;
    }
    cb(null, chunk);
  }
}

function integrityCause(err: unknown): IntegrityError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof IntegrityError) return e;
  }
  return undefined;
}

function expectedOf(source: Image): ExpectedDigests {
  return { size: source.size, md5: source.checksum, os_hash_algo: source.os_hash_algo, os_hash_value: source.os_hash_value };
}

interface CopyContext {
  primary: ImageSite;
  secondary: ImageSite;
  opts: ReplicateImagesOptions;
  emit: (p: ImageCopyProgress) => void;
}

/** Step 4: create, stream, verify; deletes the copy when anything after the create fails (not on abort). */
async function copyImage(source: Image, hash: string, c: CopyContext): Promise<{ image: Image; bytes: number }> {
  const { primary, secondary, opts } = c;
  const signal = opts.signal;
  const total = source.size ?? undefined;
  const created = await createImage(secondary.image, copyRequest(source, imageMarks(opts.plan, opts.pointId, source.id, hash, opts.run)), signal);
  let download: Readable | undefined;
  const meter = new ByteMeter(opts.progressStepBytes ?? 16 * MiB, (bytes) => c.emit({ imageId: source.id, event: 'bytes', bytes, totalBytes: total }));
  try {
    // Verified against the primary's record while it streams: the upload fails when the
    // primary's store hands out other bytes than it hashed.
    const dl = await downloadImageData(primary.image, source.id, { verify: expectedOf(source), signal });
    download = dl.stream;
    pipeline(dl.stream, meter, () => {
      // An error reaches the upload through `meter`.
    });
    const up = await uploadImageData(secondary.image, created.id, meter, {
      contentLength: total,
      // Hash what is sent with the primary's algorithm: when the secondary hashes with the
      // same one, uploadImageData compares its os_hash_value with the bytes sent.
      hashAlgo: source.os_hash_algo ?? 'sha512',
      verify: true,
      signal,
    });
    const copy = up.image ?? (await getImage(secondary.image, created.id, signal));
    checkCopy(source, copy);
    return { image: copy, bytes: meter.bytes };
  } catch (err) {
    download?.destroy();
    meter.destroy();
    if (signal?.aborted) throw err;
    const error = integrityCause(err) ?? (err instanceof Error ? err : new Error(String(err)));
    try {
      await deleteImage(secondary.image, created.id);
    } catch (cleanupErr) {
      throw new FerryError(
        `${error.message}; the unverified copy ${created.id} at ${secondary.name} could not be deleted (${(cleanupErr as Error).message}): it carries Ferry's marks and the next cycle removes it`,
        { cause: error },
      );
    }
    throw error;
  }
}

function refOf(source: Image, copy: Image): ImageDataRef {
  return { sourceImageId: source.id, secondaryImageId: copy.id, hash: imageHash(copy) ?? imageHash(source) ?? '', sizeBytes: copy.size ?? source.size ?? 0 };
}

interface RunState {
  sources: Map<string, Image>;
  marked: Image[];
  projectId: string | undefined;
}

async function settleImage(imageId: string, c: CopyContext, state: RunState): Promise<ImageOutcome> {
  const { primary, secondary, opts } = c;
  c.emit({ imageId, event: 'start' });
  const source = state.sources.get(imageId);
  if (!source) throw new FerryError(`image ${imageId} not found at ${primary.name}: remove it from the plan or check the primary's Glance`);
  if (source.status !== 'active') throw new FerryError(`image ${imageId} at ${primary.name} is ${source.status}: only active images can be replicated`);
  const hash = imageHash(source);
  if (!hash || source.size === null) throw new FerryError(`image ${imageId} at ${primary.name} is active but Glance reports no size or checksum for it; its data cannot be verified`);
  const ctx: ReuseContext = { plan: opts.plan, pointId: opts.pointId, projectId: state.projectId, reuseForeign: opts.reuseForeign ?? true };

  // Observe: this plan's own copy first (already listed); the hash search only when it has none.
  const ours = state.marked.filter((i) => i[FERRY_MARKS.source] === imageId);
  let choice = chooseReusable(source, ours, ctx);
  if (!choice && source.os_hash_value) {
    choice = chooseReusable(source, [...ours, ...(await imagesWithHash(secondary.image, source.os_hash_value, opts.signal))], ctx);
  }
  if (choice) {
    const ref = refOf(source, choice.image);
    const action = choice.adopted ? 'adopted' : 'skipped';
    c.emit({ imageId, event: action, bytes: 0, totalBytes: source.size, detail: `${choice.image.id} (${choice.kind}) holds the same ${ref.hash.split(':')[0]}` });
    return { imageId, ok: true, action, reused: choice.kind, ferryOwned: choice.kind !== 'foreign', ref, bytes: 0 };
  }

  const replaced: string[] = [];
  for (const stale of staleCopies(source, ours, opts.plan)) {
    await deleteImage(secondary.image, stale.id, { signal: opts.signal });
    replaced.push(stale.id);
  }

  const { image, bytes } = await copyImage(source, hash, c);
  const ref = refOf(source, image);
  const detail = `copied to ${image.id}${replaced.length ? `, replacing unfinished ${replaced.join(', ')}` : ''}`;
  c.emit({ imageId, event: 'done', bytes, totalBytes: source.size, detail });
  return { imageId, ok: true, action: 'copied', ferryOwned: true, ref, bytes, replaced };
}

/**
 * Copies each image (by primary ID) to the secondary unless the same bytes are already there.
 * At most `concurrency` images are worked on at once. A failing image is reported in
 * `failures` (the point becomes partial) and never stops the others; an abort rejects.
 */
export async function replicateImages(primary: ImageSite, secondary: ImageSite, imageIds: readonly string[], opts: ReplicateImagesOptions): Promise<ReplicateImagesResult> {
  const ids = [...new Set(imageIds)];
  const emit = (p: ImageCopyProgress) => opts.onProgress?.(p);
  const result: ReplicateImagesResult = { refs: [], failures: [], bytesCopied: 0, outcomes: [] };
  if (ids.length === 0) return result;
  const signal = opts.signal;
  signal?.throwIfAborted();
  const [sources, marked, token] = await Promise.all([
    sourceImages(primary.image, ids, { batchSize: opts.listBatchSize, signal }),
    planImages(secondary.image, opts.plan, signal),
    secondary.connect(signal),
  ]);
  const state: RunState = { sources, marked, projectId: token.info.project?.id };
  const c: CopyContext = { primary, secondary, opts, emit };
  const limit = pLimit(Math.max(1, opts.concurrency ?? 2));
  const outcomes = await Promise.all(
    ids.map((imageId) =>
      limit(async (): Promise<ImageOutcome> => {
        signal?.throwIfAborted();
        try {
          return await settleImage(imageId, c, state);
        } catch (err) {
          // An abort surfaces as its reason, whatever request it interrupted.
          if (signal?.aborted) throw signal.reason ?? err;
          const error = err instanceof Error ? err : new Error(String(err));
          emit({ imageId, event: 'failed', detail: error.message });
          return { imageId, ok: false, error };
        }
      }),
    ),
  );
  for (const o of outcomes) {
    result.outcomes.push(o);
    if (o.ok) {
      result.refs.push(o.ref);
      result.bytesCopied += o.bytes;
    } else {
      result.failures.push({ imageId: o.imageId, error: o.error });
    }
  }
  return result;
}
