import { createHash } from 'node:crypto';
import type http from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'chai';
import nock from 'nock';
import { BadRequestError, FerryError, NotFoundError, ServerError } from '../../../../lib/errors.js';
import { IntegrityError, type VerifyingStream } from '../../../../lib/openstack/image/images.js';
import {
  deleteLargeObject,
  deleteObject,
  getObject,
  headObject,
  listObjects,
  putLargeObject,
  putObject,
  sloEtag,
  type SloSegment,
} from '../../../../lib/openstack/objectstore/objects.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import type { Site } from '../../../../lib/openstack/site.js';
import { PROJECT_ID, SWIFT, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';
import { byteSource, drain, hashingSink, localServer, peakHeapGrowth, withoutNock, type LocalServer } from '../../../support/streams.js';

const account = `/v1/AUTH_${PROJECT_ID}`;
const DATA = Buffer.from('hello, swift');
const MD5 = createHash('md5').update(DATA).digest('hex');
const HTML = { 'Content-Type': 'text/html; charset=UTF-8' };
// Shape: swift/common/swob.py default error bodies.
const swiftHtml = (title: string, text: string) => `<html><h1>${title}</h1><p>${text}</p></html>`;

// Shape: swift/container/server.py update_data_record (api-ref "Show container details and list objects").
function entry(name: string, bytes = DATA.length, hash = MD5) {
  return { name, hash, bytes, content_type: 'application/octet-stream', last_modified: '2026-11-27T03:00:00.000000' };
}

// Shape: swift/common/middleware/bulk.py get_response_body for application/json.
function bulkReport(status: string, deleted: number, notFound: number, errors: [string, string][] = [], body = '') {
  return { 'Response Status': status, 'Response Body': body, 'Number Deleted': deleted, 'Number Not Found': notFound, Errors: errors };
}

async function fails(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('objectstore/objects', () => {
  useNock();

  it('lists objects and pseudo-directories, continuing from a subdir marker', async () => {
    const { site } = testSite();
    mockAuth();
    nock(SWIFT)
      .get(`${account}/backups`)
      .query({ format: 'json', prefix: 'web/', delimiter: '/' })
      .reply(200, [entry('web/a.img'), { subdir: 'web/db/' }])
      .get(`${account}/backups`)
      .query({ format: 'json', prefix: 'web/', delimiter: '/', marker: 'web/db/' })
      .reply(200, [entry('web/z.img')])
      .get(`${account}/backups`)
      .query({ format: 'json', prefix: 'web/', delimiter: '/', marker: 'web/z.img' })
      .reply(200, []);
    const all = await collect(listObjects(site.objectStore, 'backups', { prefix: 'web/', delimiter: '/' }));
    expect(all).to.deep.equal([entry('web/a.img'), { subdir: 'web/db/' }, entry('web/z.img')]);
    expectAllCalled();
  });

  it('puts a Buffer with its MD5 as ETag, content type, metadata and X-Delete-After, keeping / in the name', async () => {
    const { site } = testSite();
    mockAuth();
    // swift/proxy/controllers/obj.py: 201 Created with the stored MD5 as Etag.
    nock(SWIFT)
      .put(`${account}/backups/plans/web%20tier/%C3%A9t%C3%A9.json`, DATA.toString())
      .matchHeader('ETag', MD5)
      .matchHeader('Content-Type', 'application/json')
      .matchHeader('X-Object-Meta-Ferry-Plan', 'web')
      .matchHeader('X-Delete-After', '3600')
      .reply(201, '', { Etag: MD5, 'Last-Modified': 'Fri, 27 Nov 2026 03:00:00 GMT' });
    const r = await putObject(site.objectStore, 'backups', 'plans/web tier/été.json', DATA, { content_type: 'application/json', metadata: { 'Ferry-Plan': 'web' }, delete_after: 3600 });
    expect(r).to.deep.equal({ etag: MD5, size: DATA.length, md5: MD5, last_modified: 'Fri, 27 Nov 2026 03:00:00 GMT' });
    expectAllCalled();
  });

  it('refuses a Buffer that does not match the given etag before sending it', async () => {
    const { site } = testSite();
    const err = (await fails(putObject(site.objectStore, 'c', 'o', DATA, { etag: '0'.repeat(32) }))) as IntegrityError;
    expect(err).to.be.instanceOf(IntegrityError);
    expect(err.actual).to.equal(MD5);
  });

  it('streams a Readable chunked and fails when the Etag Swift stored differs from the MD5 sent', async () => {
    const { site } = testSite();
    mockAuth();
    nock(SWIFT)
      .put(`${account}/c/o`, DATA.toString())
      .matchHeader('Transfer-Encoding', 'chunked')
      .matchHeader('Content-Type', 'application/octet-stream')
      .reply(201, '', { Etag: '0'.repeat(32) });
    const err = (await fails(putObject(site.objectStore, 'c', 'o', Readable.from([DATA.subarray(0, 4), DATA.subarray(4)])))) as IntegrityError;
    expect(err).to.be.instanceOf(IntegrityError);
    expect(err.check).to.equal('etag');
    expect(err.expected).to.equal(MD5);
    expectAllCalled();
  });

  it('turns the 422 of an ETag Swift did not match into an IntegrityError', async () => {
    const { site } = testSite();
    mockAuth();
    nock(SWIFT)
      .put(`${account}/c/o`)
      .matchHeader('ETag', 'f'.repeat(32))
      .reply(422, swiftHtml('Unprocessable Entity', 'Unable to process the contained instructions'), HTML);
    const err = (await fails(putObject(site.objectStore, 'c', 'o', Readable.from([DATA]), { etag: 'f'.repeat(32) }))) as IntegrityError;
    expect(err).to.be.instanceOf(IntegrityError);
    expect(err.message).to.match(/refused the data \(422\)/);
  });

  it('sends a streamed body once: a 503 is not retried', async () => {
    const { site } = testSite();
    mockAuth();
    nock(SWIFT).put(`${account}/c/o`).once().reply(503, swiftHtml('Service Unavailable', 'The server is currently unavailable.'), HTML);
    const err = await fails(putObject(site.objectStore, 'c', 'o', Readable.from([DATA])));
    expect(err).to.be.instanceOf(ServerError);
    expectAllCalled();
  });

  it('gets an object as a stream verified against Etag and Content-Length, with its metadata', async () => {
    const { site } = testSite();
    mockAuth();
    nock(SWIFT)
      .get(`${account}/c/o`)
      .reply(200, () => Readable.from([DATA]), { Etag: MD5, 'Content-Length': String(DATA.length), 'Content-Type': 'text/plain', 'X-Object-Meta-Ferry-Plan': 'web', 'X-Timestamp': '1732676400.00000' })
      .get(`${account}/c/bad`)
      .reply(200, DATA, { Etag: '0'.repeat(32), 'Content-Length': String(DATA.length) });
    const ok = await getObject(site.objectStore, 'c', 'o');
    expect(ok.verified).to.equal(true);
    expect(ok.info).to.include({ etag: MD5, content_length: DATA.length, content_type: 'text/plain', static_large_object: false });
    expect(ok.info.metadata).to.deep.equal({ 'ferry-plan': 'web' });
    expect((await drain(ok.stream)).equals(DATA)).to.equal(true);
    const bad = await getObject(site.objectStore, 'c', 'bad');
    const err = (await fails(drain(bad.stream))) as IntegrityError;
    expect(err).to.be.instanceOf(IntegrityError);
    expect(err.check).to.equal('md5');
  });

  it('does not verify ranges or static large objects, whose Etag is not the content MD5', async () => {
    const { site } = testSite();
    mockAuth();
    nock(SWIFT)
      .get(`${account}/c/o`)
      .matchHeader('Range', 'bytes=0-4')
      .reply(206, DATA.subarray(0, 5), { Etag: MD5, 'Content-Range': `bytes 0-4/${DATA.length}`, 'Content-Length': '5' })
      .get(`${account}/c/slo`)
      .reply(200, DATA, { Etag: `"${'a'.repeat(32)}"`, 'X-Static-Large-Object': 'True', 'Content-Length': String(DATA.length) });
    const part = await getObject(site.objectStore, 'c', 'o', { range: 'bytes=0-4' });
    expect(part.status).to.equal(206);
    expect(part.verified).to.equal(false);
    expect((await drain(part.stream)).toString()).to.equal('hello');
    const slo = await getObject(site.objectStore, 'c', 'slo');
    expect(slo.verified).to.equal(false);
    expect(slo.info).to.include({ static_large_object: true, etag: 'a'.repeat(32) });
    expect((await drain(slo.stream)).equals(DATA)).to.equal(true);
  });

  it('reads object headers with HEAD, and a missing object is NotFoundError', async () => {
    const { site } = testSite();
    mockAuth();
    nock(SWIFT)
      .head(`${account}/c/o`)
      .reply(200, '', { 'Content-Length': '3758096384', Etag: '"abc"', 'X-Static-Large-Object': 'True', 'X-Manifest-Etag': 'def', 'X-Object-Meta-Mtime': '1732676400' })
      .head(`${account}/c/none`)
      .reply(404, '');
    const info = await headObject(site.objectStore, 'c', 'o');
    expect(info).to.include({ content_length: 3758096384, etag: 'abc', static_large_object: true });
    expect(info.metadata).to.deep.equal({ mtime: '1732676400' });
    expect(await fails(headObject(site.objectStore, 'c', 'none'))).to.be.instanceOf(NotFoundError);
  });

  it('deletes idempotently: 204 true, 404 false', async () => {
    const { site } = testSite();
    mockAuth();
    nock(SWIFT).delete(`${account}/c/a%2Bb`).reply(204).delete(`${account}/c/gone`).reply(404, swiftHtml('Not Found', 'The resource could not be found.'), HTML);
    expect(await deleteObject(site.objectStore, 'c', 'a+b')).to.equal(true);
    expect(await deleteObject(site.objectStore, 'c', 'gone')).to.equal(false);
    expectAllCalled();
  });

  it('deletes a large object with multipart-manifest=delete and reads the bulk report', async () => {
    const { site } = testSite();
    mockAuth();
    nock(SWIFT)
      .delete(`${account}/c/big`)
      .query({ 'multipart-manifest': 'delete' })
      .matchHeader('Accept', 'application/json')
      .reply(200, ` ${JSON.stringify(bulkReport('200 OK', 5, 0))}`, { 'Content-Type': 'application/json' })
      .delete(`${account}/c/gone`)
      .query({ 'multipart-manifest': 'delete' })
      .times(2)
      .reply(200, bulkReport('200 OK', 0, 1), { 'Content-Type': 'application/json' })
      .delete(`${account}/c/plain`)
      .query({ 'multipart-manifest': 'delete' })
      .reply(200, bulkReport('400 Bad Request', 0, 0, [['/c/plain', 'Not an SLO manifest']]), { 'Content-Type': 'application/json', 'X-Trans-Id': 'tx-bulk' });
    expect(await deleteLargeObject(site.objectStore, 'c', 'big')).to.deep.equal({ deleted: 5, notFound: 0 });
    expect(await deleteLargeObject(site.objectStore, 'c', 'gone')).to.deep.equal({ deleted: 0, notFound: 1 });
    expect(await fails(deleteLargeObject(site.objectStore, 'c', 'gone', { ignoreMissing: false }))).to.be.instanceOf(NotFoundError);
    const err = (await fails(deleteLargeObject(site.objectStore, 'c', 'plain'))) as BadRequestError;
    expect(err).to.be.instanceOf(BadRequestError);
    expect(err.detail).to.equal('multipart-manifest=delete: /c/plain: Not an SLO manifest');
    expect(err.requestId).to.equal('tx-bulk');
    expectAllCalled();
  });
});

// ---- a small Swift on 127.0.0.1 ---------------------------------------------------------
// nock records request bodies even for requests it lets through, so streamed uploads go to
// a real node:http server with nock's interceptor off (authentication happens through nock
// before). It implements what putLargeObject relies on, after swift/proxy and slo.py.

interface Stored {
  data: Buffer | undefined;
  etag: string;
  size: number;
  contentType: string;
  manifest?: SloSegment[];
}

interface Logged {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
}

class FakeSwift {
  readonly objects = new Map<string, Stored>();
  readonly containers = new Set<string>();
  readonly log: Logged[] = [];
  /** Containers whose uploads are hashed but not kept (big transfers); their bytes feed `streamedMd5`. */
  readonly hashOnly = new Set<string>();
  streamedMd5 = createHash('md5');
  /** Objects served as `size` generated bytes with the given Etag. */
  readonly generated = new Map<string, { size: number; etag: string }>();
  /** Answers this status instead of storing the n-th object PUT (1-based). */
  failPut: { n: number; status: number } | undefined;
  private puts = 0;
  private server: LocalServer | undefined;

  async start(): Promise<void> {
    this.server = await localServer((req, res) => this.handle(req, res));
  }

  stop(): Promise<void> {
    return this.server!.close();
  }

  reset(): void {
    this.objects.clear();
    this.containers.clear();
    this.log.length = 0;
    this.failPut = undefined;
    this.puts = 0;
    this.streamedMd5 = createHash('md5');
  }

  get endpoint(): string {
    return `${this.server!.origin}/v1/AUTH_test`;
  }

  private error(res: http.ServerResponse, status: number, title: string, text: string): void {
    res.writeHead(status, HTML).end(swiftHtml(title, text));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, , , container, ...rest] = url.pathname.split('/').map(decodeURIComponent);
    const object = rest.join('/');
    const query = Object.fromEntries(url.searchParams);
    this.log.push({ method: req.method ?? '', path: url.pathname, query, headers: req.headers });
    const key = `${container}/${object}`;
    if (req.method === 'PUT' && !object) {
      const existed = this.containers.has(container!);
      this.containers.add(container!);
      res.writeHead(existed ? 202 : 201).end();
      return;
    }
    if (req.method === 'PUT' && query['multipart-manifest'] === 'put') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const manifest = JSON.parse(Buffer.concat(chunks).toString()) as SloSegment[];
        const problems: string[] = [];
        let size = 0;
        for (const seg of manifest) {
          const s = this.objects.get(seg.path.slice(1));
          if (!s) problems.push(`${seg.path}: 404 Not Found`);
          else if (s.etag !== seg.etag) problems.push(`${seg.path}: Etag Mismatch`);
          else if (s.size !== seg.size_bytes) problems.push(`${seg.path}: Size Mismatch`);
          size += seg.size_bytes;
        }
        if (problems.length > 0) return this.error(res, 400, 'Bad Request', problems.join(', '));
        const etag = sloEtag(manifest);
        if (req.headers.etag && req.headers.etag !== etag) return this.error(res, 422, 'Unprocessable Entity', 'Unable to process the contained instructions');
        this.objects.set(key, { data: undefined, etag, size, contentType: String(req.headers['content-type']), manifest });
        res.writeHead(201, { Etag: `"${etag}"` }).end();
      });
      return;
    }
    if (req.method === 'PUT') {
      if (!this.containers.has(container!)) {
        req.resume();
        return this.error(res, 404, 'Not Found', 'The resource could not be found.');
      }
      this.puts++;
      const fail = this.failPut && this.failPut.n === this.puts ? this.failPut.status : undefined;
      const keep = !this.hashOnly.has(container!);
      const md5 = createHash('md5');
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        md5.update(c);
        if (!keep) this.streamedMd5.update(c);
        else chunks.push(c);
        size += c.length;
      });
      req.on('end', () => {
        if (fail) return this.error(res, fail, 'Service Unavailable', 'The server is currently unavailable.');
        const etag = md5.digest('hex');
        if (req.headers.etag && req.headers.etag !== etag) return this.error(res, 422, 'Unprocessable Entity', 'Unable to process the contained instructions');
        this.objects.set(key, { data: keep ? Buffer.concat(chunks) : undefined, etag, size, contentType: String(req.headers['content-type']) });
        res.writeHead(201, { Etag: etag }).end();
      });
      return;
    }
    if (req.method === 'GET' && this.generated.has(key)) {
      const g = this.generated.get(key)!;
      res.writeHead(200, { 'Content-Length': String(g.size), Etag: g.etag, 'Content-Type': 'application/octet-stream' });
      void pipeline(generated(g.size), res).catch(() => undefined);
      return;
    }
    if (req.method === 'GET' && this.objects.has(key)) {
      const s = this.objects.get(key)!;
      const data = s.manifest ? Buffer.concat(s.manifest.map((seg) => this.objects.get(seg.path.slice(1))!.data!)) : s.data!;
      const headers: Record<string, string> = { 'Content-Length': String(data.length), Etag: s.manifest ? `"${s.etag}"` : s.etag, 'Content-Type': s.contentType };
      if (s.manifest) headers['X-Static-Large-Object'] = 'True';
      res.writeHead(200, headers).end(data);
      return;
    }
    if (req.method === 'DELETE' && this.objects.delete(key)) {
      res.writeHead(204).end();
      return;
    }
    req.resume();
    this.error(res, 404, 'Not Found', 'The resource could not be found.');
  }
}

const MiB = 1024 * 1024;
const { generated, md5Of } = byteSource(64 * 1024, MiB);

describe('objectstore/objects through a local Swift (127.0.0.1)', function () {
  // Generous for loaded CI machines; the 256 MiB test takes about 2 s of CPU on an idle one.
  this.timeout(120_000);
  const swift = new FakeSwift();
  before(() => swift.start());
  after(() => swift.stop());
  beforeEach(() => swift.reset());
  useNock();

  function site(): Site {
    nock.enableNetConnect('127.0.0.1');
    mockAuth();
    return testSite({ endpoint_overrides: { 'object-store': swift.endpoint } }).site;
  }

  it('splits 3.5 MiB into 1 MiB segments in <container>_segments, each checked, then PUTs the manifest', async () => {
    const s = site();
    const size = 3.5 * MiB;
    const seen: number[] = [];
    swift.containers.add('images');
    const r = await withoutNock(s, () =>
      putLargeObject(s.objectStore, 'images', 'web/disk.raw', generated(size), {
        segment_size: MiB,
        upload_id: '1732676400.000000',
        content_type: 'application/x-raw',
        metadata: { 'Ferry-Plan': 'web' },
        onSegment: (seg) => seen.push(seg.size_bytes),
      }),
    );
    const prefix = '/images_segments/web/disk.raw/slo/1732676400.000000/1048576/';
    expect(r.static_large_object).to.equal(true);
    expect(r.segments.map((x) => x.path)).to.deep.equal([0, 1, 2, 3].map((i) => `${prefix}${String(i).padStart(8, '0')}`));
    expect(seen).to.deep.equal([MiB, MiB, MiB, MiB / 2]);
    expect(r.size).to.equal(size);
    expect(r.md5).to.equal(md5Of(size));
    expect(r.etag).to.equal(sloEtag(r.segments));
    // Requests, in order: segment container, four chunked segment PUTs, the manifest.
    const puts = swift.log.filter((l) => l.method === 'PUT');
    expect(puts.map((l) => l.path)).to.deep.equal([
      '/v1/AUTH_test/images_segments',
      ...r.segments.map((x) => `/v1/AUTH_test${x.path}`),
      '/v1/AUTH_test/images/web/disk.raw',
    ]);
    expect(puts.slice(1, 5).every((l) => l.headers['transfer-encoding'] === 'chunked')).to.equal(true);
    const manifest = puts[5]!;
    expect(manifest.query).to.deep.equal({ 'multipart-manifest': 'put' });
    expect(manifest.headers).to.include({ etag: r.etag, 'content-type': 'application/x-raw', 'x-object-meta-ferry-plan': 'web' });
    // Reading it back through getObject gives the same bytes (an SLO is not MD5-verifiable).
    const back = await withoutNock(s, async () => {
      const dl = await getObject(s.objectStore, 'images', 'web/disk.raw');
      expect(dl.verified).to.equal(false);
      return drain(dl.stream);
    });
    expect(createHash('md5').update(back).digest('hex')).to.equal(r.md5);
  });

  it('stores data no larger than one segment as a plain object when the size is known', async () => {
    const s = site();
    swift.containers.add('c');
    const r = await withoutNock(s, () => putLargeObject(s.objectStore, 'c', 'small', generated(MiB), { segment_size: MiB, size: MiB }));
    expect(r.static_large_object).to.equal(false);
    expect(r.etag).to.equal(md5Of(MiB));
    const put = swift.log.find((l) => l.method === 'PUT')!;
    expect(put.headers['content-length']).to.equal(String(MiB));
    expect(put.query).to.deep.equal({});
    expect(swift.containers.has('c_segments')).to.equal(false);
  });

  it('stores an empty stream as an empty plain object (SLO segments need a byte)', async () => {
    const s = site();
    swift.containers.add('c');
    const r = await withoutNock(s, () => putLargeObject(s.objectStore, 'c', 'empty', Readable.from([]), { segment_size: MiB }));
    expect(r).to.deep.include({ static_large_object: false, size: 0, etag: createHash('md5').digest('hex') });
    expect(swift.objects.get('c/empty')?.size).to.equal(0);
  });

  it('does not retry a failed streamed segment: it deletes the segments stored so far and stops reading', async () => {
    const s = site();
    swift.containers.add('c');
    swift.failPut = { n: 3, status: 503 };
    const source = generated(4 * MiB);
    const err = await withoutNock(s, () => fails(putLargeObject(s.objectStore, 'c', 'o', source, { segment_size: MiB, upload_id: 'u1' })));
    expect(err).to.be.instanceOf(ServerError);
    expect(swift.log.filter((l) => l.method === 'PUT' && l.path.includes('/slo/')).length).to.equal(3);
    expect(swift.log.filter((l) => l.method === 'DELETE').map((l) => l.path.split('/').pop())).to.deep.equal(['00000000', '00000001', '00000002']);
    expect([...swift.objects.keys()]).to.deep.equal([]);
    expect(source.destroyed).to.equal(true);
  });

  it('refuses to go past max_segments before uploading the extra segment', async () => {
    const s = site();
    swift.containers.add('c');
    const err = await withoutNock(s, () => fails(putLargeObject(s.objectStore, 'c', 'o', generated(3 * MiB), { segment_size: MiB, max_segments: 2, keep_segments_on_failure: true })));
    expect(err).to.be.instanceOf(FerryError);
    expect(err.message).to.match(/more than 2 segments of 1048576 bytes; raise segment_size/);
    expect(swift.log.filter((l) => l.method === 'PUT' && l.path.includes('/slo/')).length).to.equal(2);
    expect(swift.objects.size).to.equal(2);
  });

  it('streams 256 MiB up as an SLO and 256 MiB down, hashes matching on both ends, heap growth under 64 MiB', async () => {
    const s = site();
    const SIZE = 256 * MiB;
    swift.containers.add('big');
    swift.containers.add('big_segments');
    swift.hashOnly.add('big_segments');
    let up: Awaited<ReturnType<typeof putLargeObject>> | undefined;
    const upGrowth = await withoutNock(s, () => peakHeapGrowth(async () => void (up = await putLargeObject(s.objectStore, 'big', 'disk', generated(SIZE), { segment_size: 64 * MiB }))));
    const serverMd5 = swift.streamedMd5.digest('hex');
    expect(up!.segments.length).to.equal(4);
    expect(up!.size).to.equal(SIZE);
    expect(up!.md5).to.equal(serverMd5);

    swift.generated.set('big/plain', { size: SIZE, etag: serverMd5 });
    const counter = { bytes: 0 };
    let got: string | undefined;
    const downGrowth = await withoutNock(s, () =>
      peakHeapGrowth(async () => {
        const dl = await getObject(s.objectStore, 'big', 'plain');
        expect(dl.verified).to.equal(true);
        await pipeline(dl.stream, hashingSink([], counter));
        got = (dl.stream as VerifyingStream).digests().md5;
      }),
    );
    expect(counter.bytes).to.equal(SIZE);
    expect(got).to.equal(serverMd5);
    expect(upGrowth, `upload heap growth ${Math.round(upGrowth / MiB)} MiB`).to.be.below(64 * MiB);
    expect(downGrowth, `download heap growth ${Math.round(downGrowth / MiB)} MiB`).to.be.below(64 * MiB);
  });
});
