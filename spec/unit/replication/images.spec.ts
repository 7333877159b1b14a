import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type http from 'node:http';
import { expect } from 'chai';
import { FerryError } from '../../../lib/errors.js';
import { IntegrityError, type Image } from '../../../lib/openstack/image/images.js';
import type { Site } from '../../../lib/openstack/site.js';
import {
  carriedProperties,
  checkCopy,
  chooseReusable,
  chunks,
  copyRequest,
  dataMatch,
  imageHash,
  imageMarks,
  inFilter,
  replicateImages,
  SOURCE_HASH_MARK,
  staleCopies,
  type ImageCopyProgress,
  type ReplicateImagesOptions,
  type ReuseContext,
} from '../../../lib/replication/images.js';
import { FERRY_MARKS } from '../../../lib/replication/types.js';
import { PROJECT_ID, mockAuth, testSite, useNock } from '../../support/fake-cloud.js';
import { localServer, withoutNock, type LocalServer } from '../../support/streams.js';

const KiB = 1024;
const PLAN = 'web';
const POINT = 'p2';
const OTHER_PROJECT = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');

// ---- a Glance v2 (Zed) on 127.0.0.1 ----------------------------------------------------------
// Real HTTP, so transfers stream as they do against Glance (nock buffers request bodies).
// Bodies: glance/api/v2/images.py ResponseSerializer._format_image (custom properties flattened
// next to the base attributes), index ({images, first, schema, next} with `next` rebuilt from
// the query with the marker), create 201, delete 204; image_data.py upload 204 (409 unless
// queued; a failed upload goes back to queued), download 200 with Content-Length and a hex
// Content-MD5, 204 without data. List filters as db/sqlalchemy/api.py applies them: `in:`
// for id/status/name, exact os_hash_value/checksum, unknown keys as property filters, killed
// never listed, os_hidden hidden by default, community only with visibility=all/community.

type Json = Record<string, unknown>;
interface Stored {
  rec: Json;
  data?: Buffer;
}

let clock = 0;
function stamp(): string {
  clock++;
  return `2026-11-27T03:${String(Math.floor(clock / 60) % 60).padStart(2, '0')}:${String(clock % 60).padStart(2, '0')}Z`;
}

function record(id: string, extra: Json = {}): Json {
  const t = stamp();
  return {
    id,
    name: `img-${id.slice(0, 8)}`,
    status: 'queued',
    disk_format: 'qcow2',
    container_format: 'bare',
    visibility: 'shared',
    size: null,
    virtual_size: null,
    checksum: null,
    os_hash_algo: null,
    os_hash_value: null,
    protected: false,
    os_hidden: false,
    min_disk: 0,
    min_ram: 0,
    owner: PROJECT_ID,
    tags: [],
    created_at: t,
    updated_at: t,
    self: `/v2/images/${id}`,
    file: `/v2/images/${id}/file`,
    schema: '/v2/schemas/image',
    ...extra,
  };
}

function withData(data: Buffer): Json {
  return { status: 'active', size: data.length, checksum: md5(data), os_hash_algo: 'sha512', os_hash_value: sha512(data), stores: 'file' };
}

const PAGE_KEYS = new Set(['limit', 'marker', 'sort', 'sort_key', 'sort_dir', 'member_status', 'tag']);

function splitIn(v: string): string[] | undefined {
  return v.startsWith('in:') ? v.slice(3).split(',') : undefined;
}

class FakeGlance {
  readonly images = new Map<string, Stored>();
  /** "GET /v2/images?id=in:...", "PUT /v2/images/x/file"... in arrival order, query decoded. */
  readonly log: string[] = [];
  /** POST /v2/images bodies. */
  readonly creates: Json[] = [];
  /** Stores other bytes than it received for images this picks (a broken store). */
  corruptStore?: (rec: Json) => boolean;
  /** Serves an image's file (default: all its bytes at once). */
  serveFile?: (stored: Stored, res: http.ServerResponse) => Promise<void> | void;
  uploadDelayMs = 0;
  uploadsInFlight = 0;
  maxUploadsInFlight = 0;
  /** Resolves when the first upload byte arrived. */
  firstUploadByte!: Promise<void>;
  private sawUploadByte!: () => void;
  server!: LocalServer;

  constructor(readonly project = PROJECT_ID) {
    this.reset();
  }

  reset(): void {
    this.images.clear();
    this.log.length = 0;
    this.creates.length = 0;
    this.corruptStore = undefined;
    this.serveFile = undefined;
    this.uploadDelayMs = 0;
    this.uploadsInFlight = 0;
    this.maxUploadsInFlight = 0;
    this.firstUploadByte = new Promise((r) => (this.sawUploadByte = r));
  }

  get origin(): string {
    return this.server.origin;
  }

  add(extra: Json = {}, data?: Buffer): Json {
    const id = (extra.id as string | undefined) ?? randomUUID();
    const rec = record(id, { ...(data ? withData(data) : {}), ...extra });
    this.images.set(id, data ? { rec, data } : { rec });
    return rec;
  }

  requests(prefix: string): string[] {
    return this.log.filter((l) => l.startsWith(prefix));
  }

  async start(): Promise<void> {
    this.server = await localServer((req, res) => void this.handle(req, res));
  }

  private json(res: http.ServerResponse, status: number, body?: unknown): void {
    if (body === undefined) {
      res.writeHead(status).end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) }).end(text);
  }

  private notFound(res: http.ServerResponse, id: string): void {
    this.json(res, 404, { message: `No image found with ID ${id}<br /><br />\n\n\n`, code: '404 Not Found', title: 'Not Found' });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    this.log.push(`${req.method} ${url.pathname}${url.search ? `?${decodeURIComponent(url.search.slice(1))}` : ''}`);
    const m = /^\/v2\/images(?:\/([^/]+))?(\/file)?$/.exec(url.pathname);
    if (!m) return this.json(res, 404, { message: 'not here', code: '404 Not Found', title: 'Not Found' });
    const [, id, file] = m;
    if (!id && req.method === 'GET') return this.list(url.searchParams, res);
    if (!id && req.method === 'POST') return this.create(req, res);
    const stored = id ? this.images.get(id) : undefined;
    if (!stored) {
      req.resume();
      return this.notFound(res, id ?? '');
    }
    if (file && req.method === 'PUT') return this.upload(stored, req, res);
    if (file && req.method === 'GET') {
      if (!stored.data) return this.json(res, 204);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(stored.data.length), 'Content-MD5': String(stored.rec.checksum) });
      if (this.serveFile) return this.serveFile(stored, res);
      res.end(stored.data);
      return;
    }
    if (req.method === 'GET') return this.json(res, 200, stored.rec);
    if (req.method === 'DELETE') {
      this.images.delete(id!);
      return this.json(res, 204);
    }
    this.json(res, 405, { message: 'method not allowed', code: '405 Method Not Allowed', title: 'Method Not Allowed' });
  }

  private list(q: URLSearchParams, res: http.ServerResponse): void {
    const limit = Number(q.get('limit') ?? 25);
    const visibility = q.get('visibility');
    const hidden = q.get('os_hidden') === 'true';
    let all = [...this.images.values()].map((s) => s.rec).filter((r) => r.status !== 'killed' && r.os_hidden === hidden);
    if (visibility !== 'all') all = all.filter((r) => (visibility ? r.visibility === visibility : r.visibility !== 'community' || r.owner === this.project));
    for (const [k, v] of q) {
      if (PAGE_KEYS.has(k) || k === 'visibility' || k === 'os_hidden') continue;
      const among = splitIn(v);
      if (['id', 'status', 'name'].includes(k) && among) all = all.filter((r) => among.includes(String(r[k])));
      else all = all.filter((r) => r[k] === v);
    }
    all.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)) || String(b.id).localeCompare(String(a.id)));
    const marker = q.get('marker');
    const start = marker ? all.findIndex((r) => r.id === marker) + 1 : 0;
    const page = all.slice(start, start + limit);
    const body: Json = { images: page, first: '/v2/images', schema: '/v2/schemas/images' };
    if (page.length === limit && page.length > 0) {
      const next = new URLSearchParams(q);
      next.set('marker', String(page[page.length - 1]!.id));
      body.next = `/v2/images?${next.toString()}`;
    }
    this.json(res, 200, body);
  }

  private async create(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString()) as Json;
    this.creates.push(body);
    for (const k of Object.keys(body)) {
      if (k.startsWith('os_glance')) return this.json(res, 403, { message: `Attribute '${k}' is reserved.`, code: '403 Forbidden', title: 'Forbidden' });
    }
    const rec = record(randomUUID(), { name: null, visibility: 'shared', ...body });
    this.images.set(String(rec.id), { rec });
    this.json(res, 201, rec);
  }

  private async upload(stored: Stored, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (stored.rec.status !== 'queued') {
      req.resume();
      return this.json(res, 409, { message: `Image status transition from ${String(stored.rec.status)} to saving is not allowed<br /><br />\n\n\n`, code: '409 Conflict', title: 'Conflict' });
    }
    this.uploadsInFlight++;
    this.maxUploadsInFlight = Math.max(this.maxUploadsInFlight, this.uploadsInFlight);
    stored.rec.status = 'saving';
    const chunks: Buffer[] = [];
    try {
      for await (const c of req) {
        chunks.push(c as Buffer);
        this.sawUploadByte();
      }
      const data = Buffer.concat(chunks);
      const expected = req.headers['content-length'];
      if (!req.complete || (expected !== undefined && Number(expected) !== data.length)) throw new Error('short body');
      if (this.uploadDelayMs) await new Promise((r) => setTimeout(r, this.uploadDelayMs));
      const kept = this.corruptStore?.(stored.rec) ? Buffer.concat([data.subarray(0, data.length - 1), Buffer.from([data[data.length - 1]! ^ 0xff])]) : data;
      stored.data = kept;
      Object.assign(stored.rec, withData(kept), { updated_at: stamp() });
      this.json(res, 204);
    } catch {
      // image_data.py upload: any failure restores the image to queued.
      stored.rec.status = 'queued';
      if (!res.headersSent && !res.destroyed) this.json(res, 400, { message: 'upload failed', code: '400 Bad Request', title: 'Bad Request' });
    } finally {
      this.uploadsInFlight--;
    }
  }
}

// ---- helpers ----------------------------------------------------------------------------------

function asImage(rec: Json): Image {
  return rec as unknown as Image;
}

function marks(sourceId: string, data: Buffer, point = 'p1', plan = PLAN): Json {
  return { ...imageMarks(plan, point, sourceId, `sha512:${sha512(data)}`) };
}

function opts(extra: Partial<ReplicateImagesOptions> = {}): ReplicateImagesOptions & { events: ImageCopyProgress[] } {
  const events: ImageCopyProgress[] = [];
  return { plan: PLAN, pointId: POINT, onProgress: (p) => events.push(p), events, ...extra };
}

const ctx = (over: Partial<ReuseContext> = {}): ReuseContext => ({ plan: PLAN, pointId: POINT, projectId: PROJECT_ID, reuseForeign: true, ...over });

// ---- pure rules -------------------------------------------------------------------------------

describe('replication/images rules', () => {
  const data = Buffer.from('the same bytes at both sites');
  const source = asImage(record('src-1', { ...withData(data), os_distro: 'debian', os_glance_importing_to_stores: '', [FERRY_MARKS.plan]: 'old', tags: ['web'] }));

  it('names an image hash as algo:value, falling back to md5:checksum, undefined without data', () => {
    expect(imageHash(source)).to.equal(`sha512:${sha512(data)}`);
    expect(imageHash({ os_hash_algo: 'SHA512', os_hash_value: 'ABC', checksum: null })).to.equal('sha512:abc');
    expect(imageHash({ os_hash_algo: null, os_hash_value: null, checksum: md5(data) })).to.equal(`md5:${md5(data)}`);
    expect(imageHash({ os_hash_algo: null, os_hash_value: null, checksum: null })).to.equal(undefined);
  });

  it('carries user properties, not the os_glance namespace nor earlier Ferry marks', () => {
    expect(carriedProperties(source)).to.deep.equal({ os_distro: 'debian' });
  });

  it('asks for a private copy with the source formats, limits, name and tags, plus the marks', () => {
    const src = asImage({ ...source, min_disk: 3, min_ram: 512, disk_format: 'raw', container_format: 'ovf', protected: true, os_hidden: false, visibility: 'public' });
    const m = imageMarks(PLAN, POINT, src.id, imageHash(src)!, 'run-7');
    expect(copyRequest(src, m)).to.deep.equal({
      name: src.name,
      disk_format: 'raw',
      container_format: 'ovf',
      min_disk: 3,
      min_ram: 512,
      visibility: 'private',
      tags: ['web'],
      properties: { os_distro: 'debian', 'ferry:plan': PLAN, 'ferry:point': POINT, 'ferry:source': 'src-1', 'ferry:run': 'run-7', [SOURCE_HASH_MARK]: `sha512:${sha512(data)}` },
    });
    expect(copyRequest(asImage({ ...src, name: null }), m)).to.not.have.property('name');
  });

  const cases: [string, Json, 'strong' | 'md5' | false][] = [
    ['same algorithm, value, size and MD5', {}, 'strong'],
    ['another value', { os_hash_value: sha512(Buffer.from('x')) }, false],
    ['another size', { size: data.length + 1 }, false],
    ['another MD5', { checksum: md5(Buffer.from('x')) }, false],
    ['not active', { status: 'saving' }, false],
    ['another algorithm, same MD5', { os_hash_algo: 'sha256', os_hash_value: 'ab' }, 'md5'],
    ['another algorithm, no MD5', { os_hash_algo: 'sha256', os_hash_value: 'ab', checksum: null }, false],
  ];
  for (const [what, over, want] of cases) {
    it(`matches data: ${what} → ${String(want)}`, () => {
      expect(dataMatch(asImage(record('c', { ...withData(data), ...over })), source)).to.equal(want);
    });
  }

  describe('chooseReusable', () => {
    const copy = (extra: Json) => asImage(record(randomUUID(), { ...withData(data), visibility: 'private', ...extra }));
    const planCopy = copy({ ...marks(source.id, data) });
    const otherPlanCopy = copy({ ...marks(source.id, data, 'p9', 'db') });
    const otherSourceCopy = copy({ ...marks('src-other', data, 'p9', 'db') });
    const foreignOld = asImage({ ...copy({}), created_at: '2020-01-01T00:00:00Z' });

    it('prefers this plan’s copy, then another plan’s copy of the source, then any Ferry copy, then a foreign image', () => {
      expect(chooseReusable(source, [foreignOld, otherSourceCopy, otherPlanCopy, planCopy], ctx())?.image.id).to.equal(planCopy.id);
      expect(chooseReusable(source, [foreignOld, otherSourceCopy, otherPlanCopy], ctx())?.kind).to.equal('ferry-source');
      expect(chooseReusable(source, [foreignOld, otherSourceCopy], ctx())?.kind).to.equal('ferry');
      expect(chooseReusable(source, [foreignOld], ctx())).to.deep.include({ image: foreignOld, kind: 'foreign', adopted: false });
    });

    it('takes the oldest of a kind and calls this point’s own copy adopted', () => {
      const older = asImage({ ...copy({ ...marks(source.id, data, POINT) }), created_at: '2021-01-01T00:00:00Z' });
      expect(chooseReusable(source, [planCopy, older], ctx())).to.deep.include({ image: older, kind: 'plan', adopted: true });
      expect(chooseReusable(source, [planCopy], ctx())).to.deep.include({ kind: 'plan', adopted: false });
    });

    it('reuses a foreign image only when strongly matched, allowed, and bootable by our project', () => {
      expect(chooseReusable(source, [copy({ owner: OTHER_PROJECT })], ctx())).to.equal(undefined);
      expect(chooseReusable(source, [copy({ owner: OTHER_PROJECT, visibility: 'shared' })], ctx())).to.equal(undefined);
      expect(chooseReusable(source, [copy({ owner: OTHER_PROJECT, visibility: 'public' })], ctx())?.kind).to.equal('foreign');
      expect(chooseReusable(source, [copy({ owner: OTHER_PROJECT, visibility: 'community' })], ctx())?.kind).to.equal('foreign');
      expect(chooseReusable(source, [copy({})], ctx({ projectId: undefined }))).to.equal(undefined);
      expect(chooseReusable(source, [copy({})], ctx({ reuseForeign: false }))).to.equal(undefined);
      expect(chooseReusable(source, [copy({ os_hash_algo: 'sha256', os_hash_value: 'ab' })], ctx())).to.equal(undefined);
    });

    it('trusts a Ferry copy hashed with another algorithm on MD5 only with the source-hash mark', () => {
      const crossAlgo = copy({ ...marks(source.id, data), os_hash_algo: 'sha256', os_hash_value: 'ab' });
      expect(chooseReusable(source, [crossAlgo], ctx())?.image.id).to.equal(crossAlgo.id);
      expect(chooseReusable(source, [asImage({ ...crossAlgo, [SOURCE_HASH_MARK]: 'sha512:00' })], ctx())).to.equal(undefined);
    });

    it('never reuses the source itself, nor a copy without the data', () => {
      expect(chooseReusable(source, [source], ctx())).to.equal(undefined);
      expect(chooseReusable(source, [copy({ ...marks(source.id, data), status: 'queued' })], ctx())).to.equal(undefined);
    });
  });

  it('finds this plan’s unfinished or wrong copies of the source as stale, nothing else', () => {
    const m = (extra: Json, plan = PLAN, src = source.id) => asImage(record(randomUUID(), { ...withData(data), ...marks(src, data, 'p1', plan), ...extra }));
    const queued = m({ status: 'queued', size: null, checksum: null, os_hash_value: null, os_hash_algo: null });
    const saving = m({ status: 'saving' });
    const wrong = m({ os_hash_value: sha512(Buffer.from('x')) });
    const good = m({});
    const deactivated = m({ status: 'deactivated' });
    const otherPlan = m({ status: 'queued' }, 'db');
    const otherSource = m({ status: 'queued' }, PLAN, 'src-2');
    expect(staleCopies(source, [queued, saving, wrong, good, deactivated, otherPlan, otherSource], PLAN).map((i) => i.id)).to.deep.equal([queued.id, saving.id, wrong.id]);
  });

  it('checks a finished copy against the source record: status, size, MD5, os_hash_value', () => {
    const good = asImage(record('c', withData(data)));
    expect(() => checkCopy(source, good)).to.not.throw();
    const cases: [Json, string][] = [
      [{ status: 'queued' }, 'status'],
      [{ size: 1 }, 'size'],
      [{ checksum: '0'.repeat(32) }, 'md5'],
      [{ os_hash_value: '0'.repeat(128) }, 'sha512'],
    ];
    for (const [over, check] of cases) {
      let err: unknown;
      try {
        checkCopy(source, asImage({ ...good, ...over }));
      } catch (e) {
        err = e;
      }
      expect(err, check).to.be.instanceOf(IntegrityError);
      expect((err as IntegrityError).check).to.equal(check);
    }
    // Another algorithm at the secondary: size and MD5 are what can be compared.
    expect(() => checkCopy(source, asImage({ ...good, os_hash_algo: 'sha256', os_hash_value: 'ab' }))).to.not.throw();
  });

  it('builds in: filters and batches', () => {
    expect(inFilter(['a', 'b'])).to.equal('in:a,b');
    expect(chunks([1, 2, 3, 4, 5], 2)).to.deep.equal([[1, 2], [3, 4], [5]]);
  });
});

// ---- replicateImages against two fake Glances ----------------------------------------------------

describe('replication/images replicateImages', function () {
  this.timeout(20_000);
  const a = new FakeGlance();
  const b = new FakeGlance();
  before(async () => {
    await a.start();
    await b.start();
  });
  after(async () => {
    await a.server.close();
    await b.server.close();
  });
  beforeEach(() => {
    a.reset();
    b.reset();
  });
  useNock();

  /** Both sites authenticated through nock, then `fn` with nock off (real HTTP to the fakes). */
  async function run<T>(fn: (A: Site, B: Site) => Promise<T>): Promise<T> {
    const A = testSite({ endpoint_overrides: { image: a.origin } }).site;
    const B = testSite({ name: 'site-b', endpoint_overrides: { image: b.origin } }).site;
    mockAuth(2);
    await A.connect();
    await B.connect();
    return withoutNock(() => fn(A, B));
  }

  const planListing = `GET /v2/images?${FERRY_MARKS.plan}=${PLAN}`;
  const hashListing = (data: Buffer) => `GET /v2/images?os_hash_value=${sha512(data)}&status=active`;

  it('copies an image: a private marked copy, the download streamed into the upload, hashes equal at both ends', async () => {
    const data = randomBytes(1024 * KiB + 17);
    const src = a.add({ name: 'web-base', disk_format: 'raw', min_disk: 2, min_ram: 256, visibility: 'public', tags: ['web'], os_distro: 'debian', os_glance_importing_to_stores: '' }, data);
    // The primary sends half the data, then waits for the first uploaded byte at the secondary:
    // a copy that buffered the download would never start its upload, and fail here.
    a.serveFile = async (stored, res) => {
      res.write(stored.data!.subarray(0, 512 * KiB));
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 3_000));
      if ((await Promise.race([b.firstUploadByte, timeout])) === 'timeout') {
        res.destroy(new Error('the upload did not start before the download ended'));
        return;
      }
      res.end(stored.data!.subarray(512 * KiB));
    };
    const o = opts({ progressStepBytes: 256 * KiB, run: 'run-1' });
    const r = await run((A, B) => replicateImages(A, B, [String(src.id)], o));

    expect(r.failures).to.deep.equal([]);
    const copyId = r.refs[0]!.secondaryImageId;
    expect(copyId).to.not.equal(src.id);
    expect(r.refs).to.deep.equal([{ sourceImageId: src.id, secondaryImageId: copyId, hash: `sha512:${sha512(data)}`, sizeBytes: data.length }]);
    expect(r.bytesCopied).to.equal(data.length);
    expect(r.outcomes[0]).to.deep.include({ ok: true, action: 'copied', ferryOwned: true, bytes: data.length, replaced: [] });

    const copy = b.images.get(copyId)!;
    expect(copy.data!.equals(data)).to.equal(true);
    expect(copy.rec).to.include({ status: 'active', os_hash_value: sha512(data), checksum: md5(data), visibility: 'private' });
    expect(b.creates).to.deep.equal([
      {
        name: 'web-base',
        disk_format: 'raw',
        container_format: 'bare',
        min_disk: 2,
        min_ram: 256,
        visibility: 'private',
        tags: ['web'],
        os_distro: 'debian',
        'ferry:plan': PLAN,
        'ferry:point': POINT,
        'ferry:source': src.id,
        'ferry:run': 'run-1',
        [SOURCE_HASH_MARK]: `sha512:${sha512(data)}`,
      },
    ]);

    // One listing at the primary and the file; no GET per image.
    expect(a.log).to.deep.equal([`GET /v2/images?id=in:${String(src.id)}&visibility=all&limit=2`, `GET /v2/images/${String(src.id)}/file`]);
    expect(b.log).to.deep.equal([planListing, hashListing(data), 'POST /v2/images', `PUT /v2/images/${copyId}/file`, `GET /v2/images/${copyId}`]);

    expect(o.events[0]).to.deep.equal({ imageId: src.id, event: 'start' });
    const bytes = o.events.filter((e) => e.event === 'bytes').map((e) => e.bytes!);
    expect(bytes.length).to.equal(4);
    expect(bytes).to.deep.equal([...bytes].sort((x, y) => x - y));
    expect(o.events.filter((e) => e.event === 'bytes').every((e) => e.totalBytes === data.length)).to.equal(true);
    expect(o.events.at(-1)).to.deep.include({ imageId: src.id, event: 'done', bytes: data.length, totalBytes: data.length });
  });

  it('skips an image whose bytes are already there: this plan’s copy found by its marks, no hash search, nothing moved', async () => {
    const data = randomBytes(40 * KiB);
    const src = a.add({}, data);
    b.add({ visibility: 'private', created_at: '2020-01-01T00:00:00Z' }, data); // foreign, older
    const ours = b.add({ visibility: 'private', ...marks(String(src.id), data, 'p1') }, data);
    const o = opts();
    const r = await run((A, B) => replicateImages(A, B, [String(src.id)], o));
    expect(r.refs).to.deep.equal([{ sourceImageId: src.id, secondaryImageId: ours.id, hash: `sha512:${sha512(data)}`, sizeBytes: data.length }]);
    expect(r.outcomes[0]).to.deep.include({ action: 'skipped', reused: 'plan', ferryOwned: true, bytes: 0 });
    expect(r.bytesCopied).to.equal(0);
    expect(b.log).to.deep.equal([planListing]);
    expect(a.requests('GET /v2/images/')).to.deep.equal([]);
    expect(o.events.map((e) => e.event)).to.deep.equal(['start', 'skipped']);
  });

  it('skips by hash onto an image Ferry did not create, owned by our project', async () => {
    const data = randomBytes(40 * KiB);
    const src = a.add({}, data);
    b.add({ visibility: 'private', owner: OTHER_PROJECT }, data); // not bootable by our project
    const foreign = b.add({ visibility: 'private' }, data);
    const r = await run((A, B) => replicateImages(A, B, [String(src.id)], opts()));
    expect(r.refs[0]?.secondaryImageId).to.equal(foreign.id);
    expect(r.outcomes[0]).to.deep.include({ action: 'skipped', reused: 'foreign', ferryOwned: false });
    expect(b.log).to.deep.equal([planListing, hashListing(data)]);
    expect(b.creates).to.deep.equal([]);
  });

  it('copies instead of reusing a foreign image when reuseForeign is false', async () => {
    const data = randomBytes(40 * KiB);
    const src = a.add({}, data);
    const foreign = b.add({ visibility: 'private' }, data);
    const r = await run((A, B) => replicateImages(A, B, [String(src.id)], opts({ reuseForeign: false })));
    expect(r.outcomes[0]).to.deep.include({ action: 'copied' });
    expect(r.refs[0]?.secondaryImageId).to.not.equal(foreign.id);
    expect(b.creates.length).to.equal(1);
  });

  it('adopts this point’s verified copy from a crashed run', async () => {
    const data = randomBytes(40 * KiB);
    const src = a.add({}, data);
    const mine = b.add({ visibility: 'private', ...marks(String(src.id), data, POINT) }, data);
    const o = opts();
    const r = await run((A, B) => replicateImages(A, B, [String(src.id)], o));
    expect(r.outcomes[0]).to.deep.include({ action: 'adopted', reused: 'plan' });
    expect(r.refs[0]?.secondaryImageId).to.equal(mine.id);
    expect(o.events.map((e) => e.event)).to.deep.equal(['start', 'adopted']);
    expect(b.creates).to.deep.equal([]);
  });

  it('deletes a copy a crashed run left queued, then copies again', async () => {
    const data = randomBytes(40 * KiB);
    const src = a.add({}, data);
    const stuck = b.add({ visibility: 'private', ...marks(String(src.id), data, POINT) });
    expect(stuck.status).to.equal('queued');
    const r = await run((A, B) => replicateImages(A, B, [String(src.id)], opts()));
    const copyId = r.refs[0]!.secondaryImageId;
    expect(r.outcomes[0]).to.deep.include({ action: 'copied', replaced: [stuck.id] });
    expect(b.images.has(String(stuck.id))).to.equal(false);
    expect([...b.images.keys()]).to.deep.equal([copyId]);
    expect(b.log).to.deep.equal([planListing, hashListing(data), `DELETE /v2/images/${String(stuck.id)}`, 'POST /v2/images', `PUT /v2/images/${copyId}/file`, `GET /v2/images/${copyId}`]);
  });

  it('fails an image whose copy the secondary stored with other bytes, deletes that copy, and still copies the others', async () => {
    const bad = randomBytes(64 * KiB);
    const good = randomBytes(64 * KiB);
    const s1 = a.add({ name: 'one' }, bad);
    const s2 = a.add({ name: 'two' }, good);
    b.corruptStore = (rec) => rec.name === 'one';
    const o = opts();
    const r = await run((A, B) => replicateImages(A, B, [String(s1.id), String(s2.id)], o));
    expect(r.failures.map((f) => f.imageId)).to.deep.equal([s1.id]);
    const err = r.failures[0]!.error as IntegrityError;
    expect(err).to.be.instanceOf(IntegrityError);
    expect(err.check).to.equal('md5');
    expect(r.refs.map((x) => x.sourceImageId)).to.deep.equal([s2.id]);
    expect(r.bytesCopied).to.equal(good.length);
    const badCopy = b.creates.findIndex((c) => c.name === 'one');
    expect(badCopy).to.be.greaterThan(-1);
    // Only the good copy is left at the secondary; the bad one was deleted.
    expect([...b.images.values()].map((s) => s.rec.name)).to.deep.equal(['two']);
    expect(b.requests('DELETE').length).to.equal(1);
    expect(o.events.filter((e) => e.event === 'failed').map((e) => e.imageId)).to.deep.equal([s1.id]);
  });

  it('fails an image the primary serves with other bytes than it hashed, and deletes the copy', async () => {
    const data = randomBytes(64 * KiB);
    const src = a.add({}, data);
    a.serveFile = (stored, res) => {
      const other = Buffer.from(stored.data!);
      other[100] = other[100]! ^ 0x01;
      res.end(other);
    };
    const r = await run((A, B) => replicateImages(A, B, [String(src.id)], opts()));
    expect(r.refs).to.deep.equal([]);
    const err = r.failures[0]!.error as IntegrityError;
    expect(err).to.be.instanceOf(IntegrityError);
    expect(['md5', 'sha512']).to.include(err.check);
    expect(b.creates.length).to.equal(1);
    expect(b.images.size).to.equal(0);
    expect(b.requests('DELETE').length).to.equal(1);
  });

  it('works on at most `concurrency` images at once', async () => {
    const ids = Array.from({ length: 5 }, () => String(a.add({}, randomBytes(16 * KiB)).id));
    b.uploadDelayMs = 60;
    const r = await run((A, B) => replicateImages(A, B, ids, opts({ concurrency: 2 })));
    expect(r.failures).to.deep.equal([]);
    expect(r.refs.map((x) => x.sourceImageId)).to.deep.equal(ids);
    expect(b.maxUploadsInFlight).to.equal(2);
    b.reset();
    a.log.length = 0;
    const one = Array.from({ length: 3 }, () => String(a.add({}, randomBytes(16 * KiB)).id));
    b.uploadDelayMs = 30;
    await run((A, B) => replicateImages(A, B, one, opts({ concurrency: 1 })));
    expect(b.maxUploadsInFlight).to.equal(1);
  });

  it('lists many images at the primary in one call per batch, GETs only what a listing hides, reports unknown IDs', async () => {
    const data = randomBytes(8 * KiB);
    const ids = Array.from({ length: 5 }, () => String(a.add({}, data).id));
    const hidden = String(a.add({ os_hidden: true }, data).id);
    const community = String(a.add({ visibility: 'community', owner: OTHER_PROJECT }, data).id);
    const missing = randomUUID();
    // The secondary already has the bytes: nothing is copied, only the listings matter here.
    b.add({ visibility: 'private' }, data);
    const all = [...ids, hidden, community, missing];
    let r = await run((A, B) => replicateImages(A, B, all, opts()));
    expect(a.log).to.deep.equal([`GET /v2/images?id=in:${all.join(',')}&visibility=all&limit=9`, `GET /v2/images/${hidden}`, `GET /v2/images/${missing}`]);
    expect(r.refs.map((x) => x.sourceImageId)).to.deep.equal([...ids, hidden, community]);
    expect(r.failures.map((f) => f.imageId)).to.deep.equal([missing]);
    expect(r.failures[0]!.error).to.be.instanceOf(FerryError);
    expect(r.failures[0]!.error.message).to.match(/not found at site-a/);

    a.log.length = 0;
    r = await run((A, B) => replicateImages(A, B, ids, opts({ listBatchSize: 2 })));
    expect(a.log).to.deep.equal([
      `GET /v2/images?id=in:${ids.slice(0, 2).join(',')}&visibility=all&limit=3`,
      `GET /v2/images?id=in:${ids.slice(2, 4).join(',')}&visibility=all&limit=3`,
      `GET /v2/images?id=in:${ids[4]!}&visibility=all&limit=2`,
    ]);
    expect(r.refs.length).to.equal(5);
  });

  it('fails an image that is not active at the primary without touching the secondary', async () => {
    const src = a.add({ status: 'deactivated' }, randomBytes(KiB));
    const r = await run((A, B) => replicateImages(A, B, [String(src.id)], opts()));
    expect(r.failures[0]!.error.message).to.match(/is deactivated: only active images can be replicated/);
    expect(b.log).to.deep.equal([planListing]);
  });

  it('rejects on abort instead of reporting a failure, leaving the marked copy for the next cycle', async () => {
    const src = a.add({}, randomBytes(512 * KiB));
    const ac = new AbortController();
    a.serveFile = (stored, res) => {
      res.write(stored.data!.subarray(0, 64 * KiB));
      setTimeout(() => ac.abort(new Error('operator stopped the cycle')), 50);
    };
    let err: unknown;
    try {
      await run((A, B) => replicateImages(A, B, [String(src.id)], opts({ signal: ac.signal })));
    } catch (e) {
      err = e;
    }
    expect((err as Error | undefined)?.message).to.equal('operator stopped the cycle');
    expect(b.creates.length).to.equal(1);
    expect(b.requests('DELETE')).to.deep.equal([]);
  });
});
