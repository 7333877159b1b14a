// Glance v2 images, their data (streamed both ways, never buffered) and interoperable import.
// API reference: https://docs.openstack.org/api-ref/image/v2/
// Source: glance/api/v2/images.py (index/create/update/delete/import and ResponseSerializer),
// image_data.py (upload, stage, download with Content-MD5), image_tags.py, discovery.py
// (GET /v2/info/import) and async_/flows/api_image_import.py (import failure handling), Zed.
// Glance has no microversions. Interoperable import (API v2.6, Queens) and os_hash_algo/
// os_hash_value (v2.7, Rocky) exist in every release Ferry supports, so nothing is guarded.
import { createHash, getHashes, type Hash } from 'node:crypto';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { BadResponseError, FerryError, isNotFound, NotSupportedError } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';
import { DELETED, waitFor, type WaitOptions } from '../wait.js';

// ---- types ----------------------------------------------------------------

export type ImageStatus = 'queued' | 'saving' | 'uploading' | 'importing' | 'active' | 'deactivated' | 'killed' | 'deleted' | 'pending_delete';

export type ImageVisibility = 'public' | 'private' | 'shared' | 'community';

/** Glance's default `disk_formats`; operators may configure others. */
export type DiskFormat = 'ami' | 'ari' | 'aki' | 'vhd' | 'vhdx' | 'vmdk' | 'raw' | 'qcow2' | 'vdi' | 'iso' | 'ploop';
/** Glance's default `container_formats`; operators may configure others. */
export type ContainerFormat = 'ami' | 'ari' | 'aki' | 'bare' | 'ovf' | 'ova' | 'docker' | 'compressed';

/**
 * An image as Glance shows it (glance/api/v2/images.py ResponseSerializer._format_image).
 * Custom properties (os_distro, hw_disk_bus, ferry:plan...) are flattened next to the base
 * attributes; read them with `imageProperties()`.
 */
export interface Image {
  id: string;
  name: string | null;
  status: ImageStatus;
  disk_format: string | null;
  container_format: string | null;
  /** Bytes of image data; null until data is uploaded. */
  size: number | null;
  virtual_size: number | null;
  /** Hex MD5 of the data (legacy checksum); null until data is uploaded. */
  checksum: string | null;
  /** Algorithm of os_hash_value, from Glance's `hashing_algorithm` (default sha512). Since Rocky. */
  os_hash_algo: string | null;
  /** Hex digest of the data with os_hash_algo ("multihash"). Since Rocky. */
  os_hash_value: string | null;
  visibility: ImageVisibility;
  protected: boolean;
  /** Hidden from the default image list. Since Rocky (v2.7). */
  os_hidden?: boolean;
  tags: string[];
  min_disk: number;
  min_ram: number;
  owner: string | null;
  created_at: string;
  updated_at: string;
  self?: string;
  file?: string;
  schema?: string;
  /** Only when the operator enabled show_image_direct_url. */
  direct_url?: string;
  /** Only when the operator enabled show_multiple_locations. */
  locations?: { url: string; metadata: Record<string, unknown> }[];
  /** Comma-separated store IDs holding the data (multi-store Glance only). */
  stores?: string;
  /** Custom properties: strings on the wire, except what other services set (e.g. numbers). */
  [property: string]: unknown;
}

/** Keys Glance itself owns; everything else in an image body is a custom property. */
export const IMAGE_BASE_KEYS: ReadonlySet<string> = new Set([
  'id', 'name', 'status', 'disk_format', 'container_format', 'size', 'virtual_size', 'checksum', 'os_hash_algo', 'os_hash_value',
  'visibility', 'protected', 'os_hidden', 'tags', 'min_disk', 'min_ram', 'owner', 'created_at', 'updated_at', 'self', 'file', 'schema',
  'direct_url', 'locations', 'stores',
]);

export interface ListImagesQuery {
  /** Exact name, or `in:"a","b"`. */
  name?: string;
  /** A status, or `in:active,queued`. */
  status?: ImageStatus | string;
  /** `all` lists every image the caller may see, whatever its visibility. */
  visibility?: ImageVisibility | 'all';
  owner?: string;
  /** Images carrying ALL of these tags (sent as repeated `tag=` parameters). */
  tag?: string | string[];
  /** With visibility=shared: the caller's membership status (Glance default: accepted). */
  member_status?: 'pending' | 'accepted' | 'rejected' | 'all';
  /** Include hidden images (os_hidden=true); since v2.7. */
  os_hidden?: boolean;
  /** `name:asc,created_at:desc` (keys: name, status, container_format, disk_format, size, id, created_at, updated_at). */
  sort?: string;
  /** Page size; Glance caps it at api_limit_max (default 1000). */
  limit?: number;
}

export interface CreateImageOpts {
  /** Choose the ID (Ferry uses the primary site's ID to pair images across sites). */
  id?: string;
  name?: string;
  disk_format?: DiskFormat | string;
  container_format?: ContainerFormat | string;
  visibility?: ImageVisibility;
  protected?: boolean;
  os_hidden?: boolean;
  min_disk?: number;
  min_ram?: number;
  tags?: string[];
  /** Custom properties, flattened into the request body as Glance expects. */
  properties?: Record<string, string>;
}

/** One RFC 6902 operation, as Glance's `application/openstack-images-v2.1-json-patch` takes it. */
export type ImagePatchOp = { op: 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

export interface ImportInfo {
  'import-methods': { description: string; type: 'array'; value: ImportMethodName[] };
}

export type ImportMethodName = 'glance-direct' | 'web-download' | 'copy-image' | 'glance-download' | (string & {});

export type ImportMethod =
  /** Data staged with stageImage(). */
  | { name: 'glance-direct' }
  /** Glance fetches the data from a URL itself. */
  | { name: 'web-download'; uri: string }
  /** Copies an active image's data into more stores (multi-store Glance). */
  | { name: 'copy-image' };

export interface ImportImageOpts {
  /** Target store IDs (multi-store Glance). */
  stores?: string[];
  all_stores?: boolean;
  /** Default true in Glance: one failed store fails the import. */
  all_stores_must_succeed?: boolean;
  signal?: AbortSignal;
}

/** Digests of a stream, as Glance names them. */
export interface StreamDigests {
  /** Bytes that went through. */
  size: number;
  /** Hex MD5 (Glance `checksum`, Swift `ETag`). */
  md5: string;
  /** Glance's name of the second algorithm (e.g. `sha512`); `md5` when only MD5 was asked. */
  os_hash_algo: string;
  os_hash_value: string;
}

/** What a stream must hash to; absent fields are not checked. */
export interface ExpectedDigests {
  size?: number | null | undefined;
  md5?: string | null | undefined;
  os_hash_algo?: string | null | undefined;
  os_hash_value?: string | null | undefined;
}

/** Data that arrived (or was stored) differs from what it should be. Never retried silently. */
export class IntegrityError extends FerryError {
  override readonly name: string = 'IntegrityError';
  constructor(
    message: string,
    /** What was checked: "image 1234", "object c/o". */
    readonly resource: string,
    /** Which property differs: `size`, `md5`, `etag`, or a hash algorithm such as `sha512`. */
    readonly check: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(message);
  }
}

// ---- urls -----------------------------------------------------------------

export const imageUrls = {
  list: () => 'v2/images',
  one: (id: string) => `v2/images/${encodeURIComponent(id)}`,
  file: (id: string) => `v2/images/${encodeURIComponent(id)}/file`,
  stage: (id: string) => `v2/images/${encodeURIComponent(id)}/stage`,
  import: (id: string) => `v2/images/${encodeURIComponent(id)}/import`,
  tag: (id: string, tag: string) => `v2/images/${encodeURIComponent(id)}/tags/${encodeURIComponent(tag)}`,
  importInfo: () => 'v2/info/import',
};

export const JSON_PATCH_CONTENT_TYPE = 'application/openstack-images-v2.1-json-patch';

// ---- streaming digests --------------------------------------------------------

/** Node's name for a Glance (Python hashlib) algorithm name. */
export function nodeHashName(algo: string): string {
  const a = algo.toLowerCase();
  const map: Record<string, string> = { blake2b: 'blake2b512', blake2s: 'blake2s256', sha512_224: 'sha512-224', sha512_256: 'sha512-256' };
  const name = map[a] ?? a.replace(/^sha3_/, 'sha3-');
  if (!getHashes().includes(name)) throw new NotSupportedError(`hash algorithm '${algo}' is not available in this Node.js; cannot verify image data`);
  return name;
}

/**
 * A pass-through stream computing MD5 and one more algorithm (Glance's os_hash_algo,
 * sha512 by default) over every byte that goes through it. Constant memory.
 */
export class HashingStream extends Transform {
  readonly algo: string;
  private readonly md5: Hash;
  private readonly other: Hash | undefined;
  private bytes = 0;
  private final: StreamDigests | undefined;

  constructor(algo = 'sha512') {
    super();
    this.algo = algo.toLowerCase();
    this.md5 = createHash('md5');
    this.other = this.algo === 'md5' ? undefined : createHash(nodeHashName(this.algo));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.md5.update(chunk);
    this.other?.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.finish();
    cb();
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.bytes;
  }

  /** Seals the digests once every byte went through (called at the end of the data). */
  protected finish(): StreamDigests {
    if (!this.final) {
      const md5 = this.md5.digest('hex');
      this.final = { size: this.bytes, md5, os_hash_algo: this.algo, os_hash_value: this.other ? this.other.digest('hex') : md5 };
    }
    return this.final;
  }

  /** The digests: final once the data ended, else those of the bytes seen so far. */
  digests(): StreamDigests {
    if (this.final) return this.final;
    const md5 = this.md5.copy().digest('hex');
    return { size: this.bytes, md5, os_hash_algo: this.algo, os_hash_value: this.other ? this.other.copy().digest('hex') : md5 };
  }
}

/** A pass-through stream hashing MD5 and `algo` (default sha512) while data flows. */
export function hashingStream(algo = 'sha512'): HashingStream {
  return new HashingStream(algo);
}

/** Compares digests with what was expected; throws IntegrityError on the first difference. */
export function checkDigests(resource: string, got: StreamDigests, want: ExpectedDigests): void {
  if (want.size !== undefined && want.size !== null && want.size !== got.size) {
    throw new IntegrityError(`${resource}: received ${got.size} bytes, expected ${want.size}`, resource, 'size', String(want.size), String(got.size));
  }
  if (want.md5 && want.md5.toLowerCase() !== got.md5) {
    throw new IntegrityError(`${resource}: MD5 ${got.md5} of the data does not match the expected ${want.md5}`, resource, 'md5', want.md5, got.md5);
  }
  if (want.os_hash_value && want.os_hash_algo && want.os_hash_algo.toLowerCase() === got.os_hash_algo && want.os_hash_value.toLowerCase() !== got.os_hash_value) {
    throw new IntegrityError(
      `${resource}: ${got.os_hash_algo} ${got.os_hash_value} of the data does not match the expected ${want.os_hash_value}`,
      resource,
      got.os_hash_algo,
      want.os_hash_value,
      got.os_hash_value,
    );
  }
}

/** A hashing pass-through that, at the end of the data, fails with IntegrityError on a mismatch. */
export class VerifyingStream extends HashingStream {
  constructor(
    readonly resource: string,
    readonly expected: ExpectedDigests,
  ) {
    super(expected.os_hash_value && expected.os_hash_algo ? expected.os_hash_algo : 'md5');
  }

  override _flush(cb: TransformCallback): void {
    try {
      checkDigests(this.resource, this.finish(), this.expected);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }
}

/** Pipes `source` through `through` (errors travel both ways) and returns `through`. */
function piped<T extends Transform>(source: Readable, through: T): T {
  pipeline(source, through, () => {
    // Errors reach the consumer through `through` itself; nothing more to do.
  });
  return through;
}

// ---- requests ---------------------------------------------------------------

export function toListImagesQuery(q: ListImagesQuery): Query {
  const out: Query = {};
  if (q.name !== undefined) out.name = q.name;
  if (q.status !== undefined) out.status = q.status;
  if (q.visibility !== undefined) out.visibility = q.visibility;
  if (q.owner !== undefined) out.owner = q.owner;
  if (q.tag !== undefined) out.tag = Array.isArray(q.tag) ? q.tag : [q.tag];
  if (q.member_status !== undefined) out.member_status = q.member_status;
  if (q.os_hidden !== undefined) out.os_hidden = q.os_hidden;
  if (q.sort !== undefined) out.sort = q.sort;
  return out;
}

/**
 * Lists images, every page (Glance's `next` link). Glance builds `next` from a dict of the
 * query, so with two or more `tag` filters its link carries only the last tag (seen in the
 * lab); the paginator asks later pages with every tag again, and images are still checked
 * here against every requested tag.
 */
export async function* listImages(sc: ServiceClient, q: ListImagesQuery = {}, opts?: PageOptions): AsyncGenerator<Image> {
  const tags = q.tag === undefined ? [] : Array.isArray(q.tag) ? q.tag : [q.tag];
  for await (const image of paginate<Image>(sc, imageUrls.list(), toListImagesQuery(q), { style: 'glance', key: 'images', limit: q.limit }, opts)) {
    if (tags.length > 1 && !tags.every((t) => image.tags?.includes(t))) continue;
    yield image;
  }
}

export async function getImage(sc: ServiceClient, id: string, signal?: AbortSignal): Promise<Image> {
  return (await sc.get<Image>(imageUrls.one(id), { signal })).data;
}

/** The custom properties of an image (everything that is not a Glance base attribute). */
export function imageProperties(image: Image): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(image)) {
    if (IMAGE_BASE_KEYS.has(k) || v === null || v === undefined) continue;
    out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

/** Creates an image record (status queued, no data). Not retried: adopt by ID or property first. */
export async function createImage(sc: ServiceClient, opts: CreateImageOpts, signal?: AbortSignal): Promise<Image> {
  const { properties, ...base } = opts;
  const body: Record<string, unknown> = { ...properties };
  for (const [k, v] of Object.entries(base)) if (v !== undefined) body[k] = v;
  return (await sc.post<Image>(imageUrls.list(), body, { ok: [201], signal })).data;
}

/** Escapes a property name for a JSON pointer (RFC 6901). */
export function imagePath(property: string): string {
  return `/${property.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** Builders for updateImage(): under v2.1 patches, `add` sets a property whether or not it exists. */
export const imagePatch = {
  set: (property: string, value: unknown): ImagePatchOp => ({ op: 'add', path: imagePath(property), value }),
  replace: (property: string, value: unknown): ImagePatchOp => ({ op: 'replace', path: imagePath(property), value }),
  remove: (property: string): ImagePatchOp => ({ op: 'remove', path: imagePath(property) }),
};

/**
 * Applies JSON-patch operations. Repeated when they are all add/replace (setting a value
 * twice is harmless); a `remove` of a property already removed fails with 409, so patches
 * with removals are sent once.
 */
export async function updateImage(sc: ServiceClient, id: string, ops: ImagePatchOp[], signal?: AbortSignal): Promise<Image> {
  return (
    await sc.patch<Image>(imageUrls.one(id), ops, {
      headers: { 'Content-Type': JSON_PATCH_CONTENT_TYPE },
      idempotent: ops.every((o) => o.op !== 'remove'),
      signal,
    })
  ).data;
}

/** Sets (adds or replaces) custom properties. */
export function setImageProperties(sc: ServiceClient, id: string, properties: Record<string, string>, signal?: AbortSignal): Promise<Image> {
  return updateImage(
    sc,
    id,
    Object.entries(properties).map(([k, v]) => imagePatch.set(k, v)),
    signal,
  );
}

export interface DeleteImageOpts {
  /** A missing image is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Deletes an image and its data; returns false when it was already gone. Protected images give 403. */
export async function deleteImage(sc: ServiceClient, id: string, opts: DeleteImageOpts = {}): Promise<boolean> {
  try {
    await sc.delete(imageUrls.one(id), { ok: [204], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

/** Adds a tag (a no-op when present). */
export async function addImageTag(sc: ServiceClient, id: string, tag: string, signal?: AbortSignal): Promise<void> {
  await sc.put(imageUrls.tag(id, tag), undefined, { ok: [204], signal });
}

/** Removes a tag; returns false when the image did not carry it (Glance answers 404). */
export async function removeImageTag(sc: ServiceClient, id: string, tag: string, opts: DeleteImageOpts = {}): Promise<boolean> {
  try {
    await sc.delete(imageUrls.tag(id, tag), { ok: [204], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

export interface UploadImageOpts {
  /** Sent as Content-Length (Glance records it as the size); without it the body is chunked. */
  contentLength?: number;
  /** Multi-store Glance: the store to write to (X-Image-Meta-Store). */
  store?: string;
  /**
   * After the upload, read the image back and compare its checksum and os_hash_value with
   * the digests computed while sending (default true). Throws IntegrityError on a mismatch.
   */
  verify?: boolean;
  /**
   * Algorithm hashed next to MD5 while sending (default sha512, Glance's default
   * hashing_algorithm). When Glance reports another os_hash_algo, only size and MD5 are compared.
   */
  hashAlgo?: string;
  signal?: AbortSignal;
}

export interface UploadResult {
  /** Digests of what was sent. */
  sent: StreamDigests;
  /** The image as read back when verifying. */
  image?: Image;
}

function dataHeaders(opts: UploadImageOpts): Record<string, string> {
  const h: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
  if (opts.contentLength !== undefined) h['Content-Length'] = String(opts.contentLength);
  if (opts.store) h['X-Image-Meta-Store'] = opts.store;
  return h;
}

async function sendData(sc: ServiceClient, path: string, body: Readable, opts: UploadImageOpts): Promise<StreamDigests> {
  const hasher = piped(body, hashingStream(opts.hashAlgo ?? 'sha512'));
  let sourceError: unknown;
  body.once('error', (e) => (sourceError = e));
  try {
    // A streamed body is sent once: the transport never retries it (it cannot be rewound).
    await sc.put(path, undefined, { body: hasher, headers: dataHeaders(opts), ok: [204], signal: opts.signal });
  } catch (err) {
    if (sourceError instanceof Error) throw new FerryError(`reading the image data failed: ${sourceError.message}`, { cause: sourceError });
    throw err;
  } finally {
    if (!hasher.writableFinished) hasher.destroy();
  }
  const sent = hasher.digests();
  if (opts.contentLength !== undefined && sent.size !== opts.contentLength) {
    throw new IntegrityError(`image data: sent ${sent.size} bytes but Content-Length said ${opts.contentLength}`, path, 'size', String(opts.contentLength), String(sent.size));
  }
  return sent;
}

/**
 * Uploads image data (PUT /v2/images/{id}/file), streamed from `body` without buffering and
 * never retried. The image must be `queued`; Glance answers 409 otherwise, 413 over quota.
 */
export async function uploadImageData(sc: ServiceClient, id: string, body: Readable, opts: UploadImageOpts = {}): Promise<UploadResult> {
  const sent = await sendData(sc, imageUrls.file(id), body, opts);
  if (opts.verify === false) return { sent };
  const image = await getImage(sc, id, opts.signal);
  checkDigests(`image ${id}`, sent, { size: image.size, md5: image.checksum, os_hash_algo: image.os_hash_algo, os_hash_value: image.os_hash_value });
  return { sent, image };
}

/**
 * Stages data for the glance-direct import method (PUT /v2/images/{id}/stage); streamed and
 * never retried. Follow with importImage(..., {name: 'glance-direct'}). Returns the digests
 * sent, to compare with the image once the import finished.
 */
export async function stageImage(sc: ServiceClient, id: string, body: Readable, opts: Omit<UploadImageOpts, 'verify'> = {}): Promise<StreamDigests> {
  return sendData(sc, imageUrls.stage(id), body, opts);
}

/** The import methods this Glance offers (GET /v2/info/import). */
export async function getImportInfo(sc: ServiceClient, signal?: AbortSignal): Promise<ImportInfo> {
  return (await sc.get<ImportInfo>(imageUrls.importInfo(), { signal })).data;
}

/** Starts an import (202); Glance works asynchronously: wait with waitForImage(). Not retried (409 while one runs). */
export async function importImage(sc: ServiceClient, id: string, method: ImportMethod, opts: ImportImageOpts = {}): Promise<void> {
  const body: Record<string, unknown> = { method };
  if (opts.stores) body.stores = opts.stores;
  if (opts.all_stores !== undefined) body.all_stores = opts.all_stores;
  if (opts.all_stores_must_succeed !== undefined) body.all_stores_must_succeed = opts.all_stores_must_succeed;
  await sc.post(imageUrls.import(id), body, { ok: [202], signal: opts.signal });
}

export interface DownloadImageOpts {
  /** An HTTP Range such as `bytes=0-1023`; partial data is not verified. */
  range?: string;
  /**
   * Verify the data while it streams: `true` (default without a range) reads the image record
   * first and checks size, MD5 and os_hash_value; or give the expected digests. The stream
   * fails with IntegrityError at its end on a mismatch, so consumers must not trust what they
   * wrote until the stream ended without error.
   */
  verify?: boolean | ExpectedDigests;
  signal?: AbortSignal;
}

export interface ImageDownload {
  /** The data; read it once, to the end (or destroy it to abort the transfer). */
  stream: Readable;
  /** 200, or 206 for a range. */
  status: number;
  headers: Record<string, string>;
  contentLength: number | undefined;
  /** Glance's Content-MD5: the image checksum in hex (not base64 as RFC 1864 says). */
  contentMd5: string | undefined;
  /** What the stream is checked against, when verifying. */
  expected: ExpectedDigests | undefined;
}

/** Downloads image data (GET /v2/images/{id}/file) as a stream; never buffered. */
export async function downloadImageData(sc: ServiceClient, id: string, opts: DownloadImageOpts = {}): Promise<ImageDownload> {
  if (opts.range && opts.verify) throw new FerryError(`image ${id}: a ranged download cannot be verified; pass verify: false`);
  let expected: ExpectedDigests | undefined;
  if (opts.verify === true || (opts.verify === undefined && !opts.range)) {
    const image = await getImage(sc, id, opts.signal);
    expected = { size: image.size, md5: image.checksum, os_hash_algo: image.os_hash_algo, os_hash_value: image.os_hash_value };
  } else if (typeof opts.verify === 'object') {
    expected = opts.verify;
  }
  // An algorithm this Node lacks fails here, before a transfer is started.
  if (expected?.os_hash_value && expected.os_hash_algo) nodeHashName(expected.os_hash_algo);
  const res = await sc.get<Readable>(imageUrls.file(id), {
    responseType: 'stream',
    ok: [200, 204, 206],
    headers: opts.range ? { Range: opts.range } : undefined,
    signal: opts.signal,
  });
  // The transport has already read a 204's empty body, releasing its connection.
  if (res.status === 204) {
    throw new BadResponseError(`image ${id} has no data (Glance answered 204: upload it first, or its store lost it)`);
  }
  const contentMd5 = res.headers['content-md5'];
  if (expected && !expected.md5 && contentMd5) expected = { ...expected, md5: contentMd5 };
  const stream = expected ? piped(res.data, new VerifyingStream(`image ${id}`, expected)) : res.data;
  const len = res.headers['content-length'];
  return { stream, status: res.status, headers: res.headers, contentLength: len !== undefined ? Number(len) : undefined, contentMd5, expected };
}

// ---- waiters ----------------------------------------------------------------

/** Pseudo-status for an import that Glance reverted to `queued` after every store failed. */
export const IMPORT_FAILED = 'import_failed';

export const IMAGE_FAILURES = ['killed', 'deleted', 'pending_delete', IMPORT_FAILED];

/** The status a waiter sees: a failed import shows as IMPORT_FAILED rather than `queued`. */
export function imageWaitStatus(image: Image): string {
  const failed = typeof image.os_glance_failed_import === 'string' ? image.os_glance_failed_import : '';
  const importing = typeof image.os_glance_importing_to_stores === 'string' ? image.os_glance_importing_to_stores : '';
  if (image.status === 'queued' && failed !== '' && importing === '') return IMPORT_FAILED;
  return image.status;
}

/** Waits until an image is in one of `target` (default active); fails fast on killed, deleted or a failed import. */
export function waitForImage(sc: ServiceClient, id: string, target: ImageStatus[] = ['active'], opts: WaitOptions = {}): Promise<Image | undefined> {
  return waitFor<Image>(
    {
      resource: `image ${id}`,
      fetch: () => getImage(sc, id, opts.signal),
      status: imageWaitStatus,
      target,
      failure: IMAGE_FAILURES.filter((s) => !(target as string[]).includes(s)),
      reason: (img) => (imageWaitStatus(img) === IMPORT_FAILED ? `import failed for stores ${String(img.os_glance_failed_import)}` : undefined),
    },
    opts,
  );
}

/** Waits until an image is gone (404, or deleted/pending_delete with delayed delete). */
export async function waitForImageDeleted(sc: ServiceClient, id: string, opts: WaitOptions = {}): Promise<void> {
  await waitFor<Image>({ resource: `image ${id}`, fetch: () => getImage(sc, id, opts.signal), status: (i) => i.status, target: [DELETED, 'deleted', 'pending_delete'] }, opts);
}
