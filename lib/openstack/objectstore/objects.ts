// Swift v1 objects, streamed both ways (never buffered), and static large objects (SLO) for
// data over Swift's 5 GiB max_file_size. API reference:
// https://docs.openstack.org/api-ref/object-store/ and
// https://docs.openstack.org/swift/latest/overview_large_objects.html
// Source: swift/proxy/controllers/obj.py (PUT answers 201 with the MD5 as Etag, 422 when a
// sent ETag does not match), swift/container/server.py (listing entries), swift/common/
// middleware/slo.py (manifest PUT/GET/DELETE, the SLO Etag = MD5 of the segment Etags) and
// bulk.py (the multipart-manifest=delete report), 2.30 (Zed).
import { createHash } from 'node:crypto';
import { pipeline, Readable } from 'node:stream';
import { BadResponseError, FerryError, httpErrorFor, isNotFound, isStatus } from '../../errors.js';
import { checkDigests, hashingStream, IntegrityError, VerifyingStream, type StreamDigests } from '../image/images.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';
import { createContainer, metaHeaders, parseMeta, swiftPath } from './containers.js';

// ---- types ----------------------------------------------------------------

/** A container listing entry (GET container?format=json). */
export interface ObjectSummary {
  name: string;
  /** MD5 of the content; for an SLO manifest the MD5 of the manifest JSON (see slo_etag). */
  hash: string;
  bytes: number;
  content_type: string;
  last_modified: string;
  /** SLO manifests since Swift 2.20: the large object's Etag. */
  slo_etag?: string;
  /** Symlinks (since Swift 2.19). */
  symlink_path?: string;
}

/** A pseudo-directory when listing with a delimiter. */
export interface ObjectSubdir {
  subdir: string;
}

export type ObjectEntry = ObjectSummary | ObjectSubdir;

export interface ListObjectsQuery {
  prefix?: string;
  /** Roll names up to this character into `{subdir}` entries (pseudo-directories). */
  delimiter?: string;
  /** Start after this name. */
  marker?: string;
  /** Stop before this name. */
  end_marker?: string;
  limit?: number;
}

/** What HEAD (or GET) tells about an object. */
export interface ObjectInfo {
  content_length: number | undefined;
  /** Unquoted. MD5 of the content, except for SLO (MD5 of the segment Etags) and DLO manifests. */
  etag: string | undefined;
  content_type: string | undefined;
  last_modified: string | undefined;
  timestamp: string | undefined;
  /** X-Object-Meta-* with lower-case keys. */
  metadata: Record<string, string>;
  /** X-Static-Large-Object: True. */
  static_large_object: boolean;
  /** X-Object-Manifest: the `container/prefix` of a dynamic large object. */
  dlo_manifest: string | undefined;
  headers: Record<string, string>;
}

export interface PutObjectOpts {
  /** Default application/octet-stream. */
  content_type?: string;
  /** Sent as Content-Length; without it a streamed body is sent chunked. */
  content_length?: number;
  /**
   * MD5 (hex) the content must have: sent as ETag so Swift refuses (422) to store anything
   * else. Computed and sent automatically for Buffer and string bodies.
   */
  etag?: string;
  /** X-Object-Meta-*; printable ASCII values. */
  metadata?: Record<string, string>;
  /** X-Delete-After, seconds. */
  delete_after?: number;
  /** More raw headers (Content-Encoding, X-Object-Manifest...). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface PutObjectResult {
  /** Swift's Etag (unquoted), equal to `md5`. */
  etag: string;
  /** Bytes sent. */
  size: number;
  /** MD5 computed while sending. */
  md5: string;
  last_modified: string | undefined;
}

export interface GetObjectOpts {
  /** HTTP Range, e.g. `bytes=0-1023` or `bytes=-512`; Swift answers 206. */
  range?: string;
  /**
   * Check the content's MD5 and length against Etag and Content-Length while streaming
   * (default true). Not possible, and skipped, for ranges and large-object manifests.
   */
  verify?: boolean;
  signal?: AbortSignal;
}

export interface ObjectDownload {
  /** The content; read it to the end, or destroy it to abort the transfer. Fails with IntegrityError at its end on a mismatch. */
  stream: Readable;
  /** 200, or 206 for a range. */
  status: number;
  info: ObjectInfo;
  /** Whether the stream verifies the content (see GetObjectOpts.verify). */
  verified: boolean;
}

/** One entry of an SLO manifest as PUT with ?multipart-manifest=put. */
export interface SloSegment {
  /** `/<container>/<object>`, not URL-encoded. */
  path: string;
  etag: string;
  size_bytes: number;
}

export interface LargeObjectOpts {
  /** Bytes per segment (default 1 GiB); Swift's max_file_size (default 5 GiB) caps it. */
  segment_size?: number;
  /** Where segments go (default `<container>_segments`, created when missing); may be the object's own container. */
  segment_container?: string;
  /** Distinguishes this upload's segments (default: the current time, as swiftclient does). */
  upload_id?: string;
  /** The total size when known: data not larger than one segment is stored as a plain object. */
  size?: number;
  /** Swift's max_manifest_segments (default 1000): more segments fail before uploading them. */
  max_segments?: number;
  content_type?: string;
  metadata?: Record<string, string>;
  /** Leave the segments uploaded so far when the upload fails (default false: they are deleted). */
  keep_segments_on_failure?: boolean;
  /** Called after each segment is stored. */
  onSegment?: (segment: SloSegment, index: number) => void;
  signal?: AbortSignal;
}

export interface LargeObjectResult {
  /** The object's Etag (unquoted): for an SLO, the MD5 of the segment Etags. */
  etag: string;
  size: number;
  /** MD5 of the whole content, computed while streaming (equals `etag` for a plain object). */
  md5: string;
  /** Empty when the data was small enough for a plain object. */
  segments: SloSegment[];
  static_large_object: boolean;
}

export interface DeleteObjectOpts {
  /** A missing object is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** The `multipart-manifest=delete` report (swift/common/middleware/bulk.py). */
export interface BulkDeleteReport {
  'Number Deleted': number;
  'Number Not Found': number;
  'Response Status': string;
  'Response Body': string;
  /** [quoted name, status or reason] per failure. */
  Errors: [string, string][];
}

// ---- urls -----------------------------------------------------------------

export const objectUrls = {
  container: (container: string) => swiftPath(container),
  one: (container: string, object: string) => swiftPath(container, object),
};

export const GiB = 1024 ** 3;

// ---- helpers ------------------------------------------------------------------

function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Parses the headers of a HEAD or GET of an object. */
export function objectInfo(h: Record<string, string>): ObjectInfo {
  const len = h['content-length'];
  return {
    content_length: len !== undefined ? Number(len) : undefined,
    etag: unquote(h.etag),
    content_type: h['content-type'],
    last_modified: h['last-modified'],
    timestamp: h['x-timestamp'],
    metadata: parseMeta('object', h),
    static_large_object: (h['x-static-large-object'] ?? '').toLowerCase() === 'true',
    dlo_manifest: h['x-object-manifest'],
    headers: h,
  };
}

function putHeaders(opts: PutObjectOpts): Record<string, string> {
  const h: Record<string, string> = { 'Content-Type': opts.content_type ?? 'application/octet-stream', ...metaHeaders('Object', opts.metadata) };
  if (opts.content_length !== undefined) h['Content-Length'] = String(opts.content_length);
  if (opts.etag) h.ETag = opts.etag;
  if (opts.delete_after !== undefined) h['X-Delete-After'] = String(opts.delete_after);
  return { ...h, ...opts.headers };
}

// ---- requests ---------------------------------------------------------------

export function toListObjectsQuery(q: ListObjectsQuery): Query {
  const out: Query = {};
  if (q.prefix !== undefined) out.prefix = q.prefix;
  if (q.delimiter !== undefined) out.delimiter = q.delimiter;
  if (q.marker !== undefined) out.marker = q.marker;
  if (q.end_marker !== undefined) out.end_marker = q.end_marker;
  return out;
}

/** Lists a container's objects (and pseudo-directories with a delimiter), every page. */
export function listObjects(sc: ServiceClient, container: string, q: ListObjectsQuery = {}, opts?: PageOptions): AsyncGenerator<ObjectEntry> {
  return paginate<ObjectEntry>(
    sc,
    objectUrls.container(container),
    toListObjectsQuery(q),
    { style: 'swift', limit: q.limit, markerOf: (e) => ('subdir' in e ? e.subdir : e.name) },
    opts,
  );
}

/**
 * Stores an object. A Readable body is streamed (never buffered, never retried) while its MD5
 * is computed; Swift's Etag must equal it or IntegrityError is thrown. A Buffer or string body
 * is hashed first and sent with ETag, so Swift itself refuses a corrupted copy, and may be
 * retried. A 422 (content differs from opts.etag) becomes an IntegrityError too.
 */
export async function putObject(sc: ServiceClient, container: string, name: string, body: Readable | Buffer | string, opts: PutObjectOpts = {}): Promise<PutObjectResult> {
  const resource = `object ${container}/${name}`;
  const path = objectUrls.one(container, name);
  if (!(body instanceof Readable)) {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    const md5 = createHash('md5').update(buf).digest('hex');
    if (opts.etag && opts.etag.toLowerCase() !== md5) throw new IntegrityError(`${resource}: the data's MD5 ${md5} is not the expected ${opts.etag}`, resource, 'md5', opts.etag, md5);
    const res = await putSwift(sc, path, buf, { ...opts, etag: md5 }, resource, md5);
    return { etag: unquote(res.headers.etag) ?? md5, size: buf.length, md5, last_modified: res.headers['last-modified'] };
  }
  const hasher = hashingStream('md5');
  let sourceError: unknown;
  body.once('error', (e) => (sourceError = e));
  pipeline(body, hasher, () => {
    // Errors surface through the request that reads `hasher`.
  });
  let res: { headers: Record<string, string> };
  try {
    res = await putSwift(sc, path, hasher, opts, resource, () => hasher.digests().md5);
  } catch (err) {
    if (sourceError instanceof Error && !(err instanceof IntegrityError)) throw new FerryError(`${resource}: reading the data to upload failed: ${sourceError.message}`, { cause: sourceError });
    throw err;
  } finally {
    if (!hasher.writableFinished) hasher.destroy();
  }
  const sent: StreamDigests = hasher.digests();
  const etag = unquote(res.headers.etag);
  if (opts.content_length !== undefined) checkDigests(resource, sent, { size: opts.content_length });
  if (etag === undefined) throw new IntegrityError(`${resource}: Swift answered without an Etag; the upload cannot be verified`, resource, 'etag', sent.md5, '');
  if (etag.toLowerCase() !== sent.md5) {
    throw new IntegrityError(`${resource}: Swift stored Etag ${etag} but the data sent has MD5 ${sent.md5}`, resource, 'etag', sent.md5, etag);
  }
  return { etag, size: sent.size, md5: sent.md5, last_modified: res.headers['last-modified'] };
}

async function putSwift(sc: ServiceClient, path: string, body: Readable | Buffer, opts: PutObjectOpts, resource: string, md5: string | (() => string)) {
  try {
    return await sc.put(path, undefined, { body, headers: putHeaders(opts), ok: [201], responseType: 'text', signal: opts.signal });
  } catch (err) {
    if (isStatus(err, 422)) {
      const got = typeof md5 === 'string' ? md5 : md5();
      throw new IntegrityError(`${resource}: Swift refused the data (422): its MD5 is not the ETag sent (${opts.etag ?? got})`, resource, 'etag', opts.etag ?? got, got);
    }
    throw err;
  }
}

/**
 * Reads an object as a stream, with its headers. Verified on the fly against Etag and
 * Content-Length unless a range is asked or the object is an SLO/DLO manifest.
 */
export async function getObject(sc: ServiceClient, container: string, name: string, opts: GetObjectOpts = {}): Promise<ObjectDownload> {
  const res = await sc.get<Readable>(objectUrls.one(container, name), {
    responseType: 'stream',
    ok: [200, 206],
    headers: opts.range ? { Range: opts.range } : undefined,
    signal: opts.signal,
  });
  const info = objectInfo(res.headers);
  const canVerify = res.status === 200 && !info.static_large_object && !info.dlo_manifest && /^[0-9a-f]{32}$/i.test(info.etag ?? '');
  if (opts.verify === false || !canVerify) return { stream: res.data, status: res.status, info, verified: false };
  const verifier = new VerifyingStream(`object ${container}/${name}`, { md5: info.etag, size: info.content_length });
  pipeline(res.data, verifier, () => {
    // Errors reach the consumer through `verifier`.
  });
  return { stream: verifier, status: res.status, info, verified: true };
}

export async function headObject(sc: ServiceClient, container: string, name: string, signal?: AbortSignal): Promise<ObjectInfo> {
  return objectInfo((await sc.head(objectUrls.one(container, name), { ok: [200, 204], signal })).headers);
}

/**
 * Deletes an object; returns false when it was already gone. For an SLO this removes only the
 * manifest and leaves its segments: use deleteLargeObject().
 */
export async function deleteObject(sc: ServiceClient, container: string, name: string, opts: DeleteObjectOpts = {}): Promise<boolean> {
  try {
    await sc.delete(objectUrls.one(container, name), { ok: [204], responseType: 'text', signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}

/** Cuts a stream into consecutive pieces of at most `n` bytes without copying or buffering more than one chunk. */
class Segmenter {
  private readonly it: AsyncIterator<unknown>;
  private pending: Buffer | undefined;
  private ended = false;
  private readonly whole = createHash('md5');
  size = 0;

  constructor(source: Readable) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** True while data remains. */
  async more(): Promise<boolean> {
    while (!this.pending || this.pending.length === 0) {
      if (this.ended) return false;
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        return false;
      }
      this.pending = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as string);
    }
    return true;
  }

  /** The next `n` bytes (fewer at the end of the data). */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0 && (await this.more())) {
      const p = this.pending!;
      const chunk = p.length <= left ? p : p.subarray(0, left);
      this.pending = p.length <= left ? undefined : p.subarray(left);
      left -= chunk.length;
      this.whole.update(chunk);
      this.size += chunk.length;
      yield chunk;
    }
  }

  md5(): string {
    return this.whole.digest('hex');
  }

  /** Stops reading the source (destroys it). */
  async close(): Promise<void> {
    await this.it.return?.();
  }
}

/** The Etag Swift gives an SLO made of `segments` (MD5 of their Etags, without ranges). */
export function sloEtag(segments: SloSegment[]): string {
  const h = createHash('md5');
  for (const s of segments) h.update(s.etag);
  return h.digest('hex');
}

/**
 * Stores a stream of any size as a static large object: the data is cut into segments of
 * `segment_size` bytes, uploaded one after the other into the segment container (each checked
 * against its Etag), then the manifest is PUT with ?multipart-manifest=put and its Etag
 * checked. Memory stays at one chunk whatever the size.
 *
 * Segments are streamed, so a failed segment is not retried (the data is gone from the
 * source): the upload fails, the segments stored so far are deleted (unless
 * keep_segments_on_failure) and the caller starts again from a fresh source. Overwriting an
 * existing SLO leaves its old segments: delete it with deleteLargeObject() first.
 */
export async function putLargeObject(sc: ServiceClient, container: string, name: string, body: Readable, opts: LargeObjectOpts = {}): Promise<LargeObjectResult> {
  const segmentSize = opts.segment_size ?? GiB;
  if (!Number.isInteger(segmentSize) || segmentSize < 1) throw new FerryError(`segment_size must be a positive integer, not ${segmentSize}`);
  const plain: PutObjectOpts = { content_type: opts.content_type, metadata: opts.metadata, signal: opts.signal };
  if (opts.size !== undefined && opts.size <= segmentSize) {
    const r = await putObject(sc, container, name, body, { ...plain, content_length: opts.size });
    return { etag: r.etag, size: r.size, md5: r.md5, segments: [], static_large_object: false };
  }
  const segContainer = opts.segment_container ?? `${container}_segments`;
  const maxSegments = opts.max_segments ?? 1000;
  const uploadId = opts.upload_id ?? (Date.now() / 1000).toFixed(6);
  const prefix = `${name}/slo/${uploadId}/${segmentSize}/`;
  const segmenter = new Segmenter(body);
  const segments: SloSegment[] = [];
  const written: string[] = [];
  try {
    if (!(await segmenter.more())) {
      // SLO segments must hold at least one byte: empty data is a plain empty object.
      const r = await putObject(sc, container, name, Buffer.alloc(0), plain);
      return { etag: r.etag, size: 0, md5: r.md5, segments: [], static_large_object: false };
    }
    if (segContainer !== container) await createContainer(sc, segContainer, { signal: opts.signal });
    for (let i = 0; await segmenter.more(); i++) {
      if (i >= maxSegments) {
        throw new FerryError(`object ${container}/${name}: more than ${maxSegments} segments of ${segmentSize} bytes; raise segment_size (Swift's max_manifest_segments limits a manifest)`);
      }
      const segName = `${prefix}${String(i).padStart(8, '0')}`;
      const known = opts.size !== undefined ? Math.min(segmentSize, opts.size - i * segmentSize) : undefined;
      written.push(segName);
      const r = await putObject(sc, segContainer, segName, Readable.from(segmenter.take(segmentSize), { objectMode: false }), {
        content_length: known !== undefined && known > 0 ? known : undefined,
        signal: opts.signal,
      });
      const seg: SloSegment = { path: `/${segContainer}/${segName}`, etag: r.etag, size_bytes: r.size };
      segments.push(seg);
      opts.onSegment?.(seg, i);
    }
    const etag = sloEtag(segments);
    const manifest = Buffer.from(JSON.stringify(segments));
    const res = await sc.put(objectUrls.one(container, name), undefined, {
      query: { 'multipart-manifest': 'put' },
      body: manifest,
      // The manifest's Content-Type becomes the large object's; Swift checks ETag against the segments.
      headers: { ...putHeaders(plain), ETag: etag },
      ok: [201],
      responseType: 'text',
      signal: opts.signal,
    });
    const got = unquote(res.headers.etag);
    if (got !== undefined && got.toLowerCase() !== etag) {
      throw new IntegrityError(`object ${container}/${name}: Swift gave the manifest Etag ${got}, the segments make ${etag}`, `object ${container}/${name}`, 'etag', etag, got);
    }
    return { etag, size: segmenter.size, md5: segmenter.md5(), segments, static_large_object: true };
  } catch (err) {
    await segmenter.close().catch(() => undefined);
    if (!opts.keep_segments_on_failure) {
      for (const seg of written) await deleteObject(sc, segContainer, seg).catch(() => undefined);
    }
    throw err;
  }
}

/**
 * Deletes an SLO manifest and all its segments (DELETE ?multipart-manifest=delete). Swift
 * answers 200 and reports the outcome in the body; a failed report becomes an HttpError with
 * the reported status and errors. Returns the counts; a missing object gives
 * {deleted: 0, notFound: 1} (or NotFoundError with ignoreMissing: false).
 */
export async function deleteLargeObject(sc: ServiceClient, container: string, name: string, opts: DeleteObjectOpts = {}): Promise<{ deleted: number; notFound: number }> {
  const path = objectUrls.one(container, name);
  const res = await sc.delete<BulkDeleteReport>(path, { query: { 'multipart-manifest': 'delete' }, ok: [200], signal: opts.signal });
  const report = res.data;
  const status = Number(/^\d{3}/.exec(report?.['Response Status'] ?? '')?.[0] ?? NaN);
  if (Number.isNaN(status)) throw new BadResponseError(`${sc.type}: DELETE ${path}?multipart-manifest=delete returned no 'Response Status' report`);
  const deleted = report['Number Deleted'] ?? 0;
  const notFound = report['Number Not Found'] ?? 0;
  const missing = deleted === 0 && notFound > 0;
  const failed = status < 200 || status >= 300;
  if (failed || (missing && opts.ignoreMissing === false)) {
    const errors = (report.Errors ?? []).map(([n, why]) => `${safeDecode(n)}: ${why}`).join('; ');
    const detail = failed ? [report['Response Body'], errors].filter(Boolean).join(' ') || report['Response Status'] : `object ${container}/${name} not found`;
    throw httpErrorFor({
      status: failed ? status : 404,
      method: 'DELETE',
      url: await sc.url(path),
      service: sc.type,
      requestId: res.requestId,
      detail: `multipart-manifest=delete: ${detail}`,
    });
  }
  return { deleted, notFound };
}
