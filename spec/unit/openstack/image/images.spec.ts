import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { expect } from 'chai';
import nock from 'nock';
import { BadResponseError, ConflictError, FerryError, HttpError, NotFoundError, NotSupportedError, ResourceFailureError } from '../../../../lib/errors.js';
import {
  addImageTag,
  createImage,
  deleteImage,
  downloadImageData,
  getImage,
  getImportInfo,
  hashingStream,
  imagePatch,
  imageProperties,
  importImage,
  IntegrityError,
  listImages,
  removeImageTag,
  setImageProperties,
  stageImage,
  updateImage,
  uploadImageData,
  waitForImage,
  waitForImageDeleted,
  type VerifyingStream,
} from '../../../../lib/openstack/image/images.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { GLANCE, PROJECT_ID, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';
import { byteSource, drain, hashingSink, localServer, peakHeapGrowth, withoutNock, type LocalServer } from '../../../support/streams.js';

const DATA = Buffer.from('hello, glance');
const MD5 = createHash('md5').update(DATA).digest('hex');
const SHA512 = createHash('sha512').update(DATA).digest('hex');

// Shape: api-ref image v2 "Show image" (Zed) and glance/api/v2/images.py ResponseSerializer._format_image,
// with one custom property (os_distro) flattened next to the base attributes as Glance does.
function image(id: string, status = 'active', extra: Record<string, unknown> = {}) {
  return {
    id,
    name: `img-${id}`,
    status,
    disk_format: 'qcow2',
    container_format: 'bare',
    visibility: 'private',
    size: DATA.length,
    virtual_size: null,
    checksum: MD5,
    os_hash_algo: 'sha512',
    os_hash_value: SHA512,
    protected: false,
    os_hidden: false,
    min_disk: 0,
    min_ram: 0,
    owner: PROJECT_ID,
    tags: [],
    os_distro: 'ubuntu',
    created_at: '2026-11-27T03:00:00Z',
    updated_at: '2026-11-27T03:01:00Z',
    self: `/v2/images/${id}`,
    file: `/v2/images/${id}/file`,
    schema: '/v2/schemas/image',
    ...extra,
  };
}

// Shape: webob.exc json_formatter, which Glance's errors use when asked for application/json
// (Ferry always sends Accept: application/json): {"message", "code", "title"}.
const glance404 = { message: 'No image found with ID nope<br /><br />\n\n\n', code: '404 Not Found', title: 'Not Found' };
// Shape: webob.exc html_template_obj, what Glance answers to a text/html client or a proxy passes on.
const glance404Html =
  '<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  No image found with ID nope<br /><br />\n\n\n\n </body>\n</html>';

async function fails(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('image/images', () => {
  useNock();

  it('lists images across pages following next, with every filter on the first query', async () => {
    const { site } = testSite();
    mockAuth();
    // Shape: api-ref "List images": {images, first, schema, next}; glance/api/v2/images.py
    // ResponseSerializer.index builds next from the request's query plus marker (seen in the lab).
    const filters = { name: 'web', status: 'active', visibility: 'all', owner: PROJECT_ID, tag: 'ferry', member_status: 'all', os_hidden: 'true', sort: 'name:asc', limit: '2' };
    const next = `/v2/images?${new URLSearchParams({ ...filters, marker: 'i2' }).toString()}`;
    nock(GLANCE)
      .get('/v2/images')
      .query(filters)
      .reply(200, { images: [image('i1'), image('i2')], first: '/v2/images?limit=2', schema: '/v2/schemas/images', next })
      .get('/v2/images')
      .query({ ...filters, marker: 'i2' })
      .reply(200, { images: [image('i3')], first: '/v2/images?limit=2', schema: '/v2/schemas/images' });
    const imgs = await collect(
      listImages(site.image, { name: 'web', status: 'active', visibility: 'all', owner: PROJECT_ID, tag: 'ferry', member_status: 'all', os_hidden: true, sort: 'name:asc', limit: 2 }),
    );
    expect(imgs.map((i) => i.id)).to.deep.equal(['i1', 'i2', 'i3']);
    expectAllCalled();
  });

  it('keeps every repeated tag filter on later pages although Glance keeps only the last in next', async () => {
    const { site } = testSite();
    mockAuth();
    // Shape: the lab's Glance (Zed) builds first/next from dict(request.params), so only the
    // last tag survives into them (GET v2/images?tag=a&tag=b gives first=/v2/images?tag=b).
    // Page two is asked with both tags again; an image carrying only one is dropped regardless.
    const bothTags = (q: Record<string, unknown>) => JSON.stringify(q.tag) === JSON.stringify(['a', 'b']);
    nock(GLANCE)
      .get('/v2/images')
      .query((q) => bothTags(q) && q.marker === undefined)
      .reply(200, { images: [image('i1', 'active', { tags: ['a', 'b'] })], first: '/v2/images?tag=b', next: '/v2/images?tag=b&marker=i1' })
      .get('/v2/images')
      .query((q) => bothTags(q) && q.marker === 'i1')
      .reply(200, { images: [image('i2', 'active', { tags: ['b'] }), image('i3', 'active', { tags: ['b', 'a'] })] });
    const imgs = await collect(listImages(site.image, { tag: ['a', 'b'] }));
    expect(imgs.map((i) => i.id)).to.deep.equal(['i1', 'i3']);
    expectAllCalled();
  });

  it('gets an image and separates custom properties from base attributes', async () => {
    const { site } = testSite();
    mockAuth();
    nock(GLANCE).get('/v2/images/i1').reply(200, image('i1', 'active', { hw_disk_bus: 'scsi', 'ferry:plan': 'web' }));
    const img = await getImage(site.image, 'i1');
    expect(img.os_hash_algo).to.equal('sha512');
    expect(imageProperties(img)).to.deep.equal({ os_distro: 'ubuntu', hw_disk_bus: 'scsi', 'ferry:plan': 'web' });
  });

  it('creates an image with properties flattened into the body (201) and never retries it', async () => {
    const { site } = testSite();
    mockAuth();
    nock(GLANCE)
      .post('/v2/images', { id: 'i9', name: 'web', disk_format: 'raw', container_format: 'bare', visibility: 'private', tags: ['ferry'], os_distro: 'ubuntu', 'ferry:plan': 'p1' })
      .matchHeader('Content-Type', 'application/json')
      .reply(201, image('i9', 'queued', { size: null, checksum: null, os_hash_algo: null, os_hash_value: null }), { Location: '/v2/images/i9' })
      .post('/v2/images')
      .once()
      .reply(503, 'busy');
    const img = await createImage(site.image, {
      id: 'i9',
      name: 'web',
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'private',
      tags: ['ferry'],
      properties: { os_distro: 'ubuntu', 'ferry:plan': 'p1' },
    });
    expect(img.status).to.equal('queued');
    const err = await fails(createImage(site.image, { name: 'again' }));
    expect((err as HttpError).status).to.equal(503);
    expectAllCalled();
  });

  it('patches with the v2.1 JSON-patch media type and escaped pointers, retrying only patches without removals', async () => {
    const { site } = testSite();
    mockAuth();
    const patch = [
      { op: 'add', path: '/ferry:plan', value: 'p1' },
      { op: 'add', path: '/a~1b~0c', value: 'x' },
    ];
    nock(GLANCE)
      .patch('/v2/images/i1', patch)
      .matchHeader('Content-Type', 'application/openstack-images-v2.1-json-patch')
      .reply(503, 'busy')
      .patch('/v2/images/i1', patch)
      .reply(200, image('i1', 'active', { 'ferry:plan': 'p1', 'a/b~c': 'x' }))
      .patch('/v2/images/i1', [{ op: 'remove', path: '/os_distro' }])
      .once()
      .reply(503, 'busy');
    const img = await setImageProperties(site.image, 'i1', { 'ferry:plan': 'p1', 'a/b~c': 'x' });
    expect(img['ferry:plan']).to.equal('p1');
    const err = await fails(updateImage(site.image, 'i1', [imagePatch.remove('os_distro')]));
    expect((err as HttpError).status).to.equal(503);
    expectAllCalled();
  });

  it('deletes idempotently: 204 true, 404 false, and 404 is an error when asked', async () => {
    const { site } = testSite();
    mockAuth();
    nock(GLANCE).delete('/v2/images/i1').reply(204).delete('/v2/images/i2').times(2).reply(404, glance404, { 'Content-Type': 'application/json' });
    expect(await deleteImage(site.image, 'i1')).to.equal(true);
    expect(await deleteImage(site.image, 'i2')).to.equal(false);
    expect(await fails(deleteImage(site.image, 'i2', { ignoreMissing: false }))).to.be.instanceOf(NotFoundError);
    expectAllCalled();
  });

  it('adds tags with PUT and removes them with DELETE, a missing tag being no error', async () => {
    const { site } = testSite();
    mockAuth();
    // glance/api/v2/image_tags.py: both answer 204; DELETE of a tag the image lacks is a bare 404.
    nock(GLANCE).put('/v2/images/i1/tags/ferry%3Aplan').reply(204).delete('/v2/images/i1/tags/old').reply(204).delete('/v2/images/i1/tags/gone').reply(404, '');
    await addImageTag(site.image, 'i1', 'ferry:plan');
    expect(await removeImageTag(site.image, 'i1', 'old')).to.equal(true);
    expect(await removeImageTag(site.image, 'i1', 'gone')).to.equal(false);
    expectAllCalled();
  });

  it("maps Glance's webob errors (JSON and HTML) to typed errors with the request ID", async () => {
    const { site } = testSite();
    mockAuth();
    nock(GLANCE)
      .get('/v2/images/nope')
      .reply(404, glance404, { 'Content-Type': 'application/json', 'X-Openstack-Request-Id': 'req-glance-404' })
      .get('/v2/images/nope')
      .reply(404, glance404Html, { 'Content-Type': 'text/html; charset=UTF-8' });
    const json = (await fails(getImage(site.image, 'nope'))) as NotFoundError;
    expect(json).to.be.instanceOf(NotFoundError);
    expect(json.requestId).to.equal('req-glance-404');
    expect(json.detail).to.match(/^No image found with ID nope/);
    const html = (await fails(getImage(site.image, 'nope'))) as NotFoundError;
    expect(html.detail).to.equal('No image found with ID nope');
  });

  it('uploads data as a stream with octet-stream, length and store headers, then verifies checksum and os_hash_value', async () => {
    const { site } = testSite();
    mockAuth();
    nock(GLANCE)
      .put('/v2/images/i1/file', DATA.toString())
      .matchHeader('Content-Type', 'application/octet-stream')
      .matchHeader('Content-Length', String(DATA.length))
      .matchHeader('X-Image-Meta-Store', 'ceph')
      .reply(204)
      .get('/v2/images/i1')
      .reply(200, image('i1'));
    const r = await uploadImageData(site.image, 'i1', Readable.from([DATA.subarray(0, 5), DATA.subarray(5)]), { contentLength: DATA.length, store: 'ceph' });
    expect(r.sent).to.deep.equal({ size: DATA.length, md5: MD5, os_hash_algo: 'sha512', os_hash_value: SHA512 });
    expect(r.image?.status).to.equal('active');
    expectAllCalled();
  });

  it('fails an upload whose stored checksum differs from what was sent', async () => {
    const { site } = testSite();
    mockAuth();
    nock(GLANCE).put('/v2/images/i1/file').reply(204).get('/v2/images/i1').reply(200, image('i1', 'active', { checksum: '0'.repeat(32) }));
    const err = (await fails(uploadImageData(site.image, 'i1', Readable.from([DATA])))) as IntegrityError;
    expect(err).to.be.instanceOf(IntegrityError);
    expect(err.check).to.equal('md5');
    expect(err.actual).to.equal(MD5);
  });

  it('sends a streamed upload once: a 409 (image not queued) is not retried', async () => {
    const { site } = testSite();
    mockAuth();
    nock(GLANCE).put('/v2/images/i1/file').once().reply(409, { message: 'Image status transition from active to saving is not allowed<br /><br />\n\n\n', code: '409 Conflict', title: 'Conflict' });
    const err = await fails(uploadImageData(site.image, 'i1', Readable.from([DATA])));
    expect(err).to.be.instanceOf(ConflictError);
    expectAllCalled();
  });

  it('reports a failing source stream as the cause of a failed upload', async () => {
    const { site } = testSite();
    mockAuth();
    nock(GLANCE).put('/v2/images/i1/file').reply(204);
    const source = new Readable({
      read() {
        this.destroy(new Error('disk read error'));
      },
    });
    const err = await fails(uploadImageData(site.image, 'i1', source));
    expect(err).to.be.instanceOf(FerryError);
    expect(err.message).to.match(/reading the image data failed: disk read error/);
  });

  it('downloads as a stream verified against the image record', async () => {
    const { site } = testSite();
    mockAuth();
    // image_data.py ResponseSerializer.download: octet-stream, Content-Length, Content-MD5 = hex checksum.
    nock(GLANCE)
      .get('/v2/images/i1')
      .reply(200, image('i1'))
      .get('/v2/images/i1/file')
      .reply(200, () => Readable.from([DATA]), { 'Content-Type': 'application/octet-stream', 'Content-Length': String(DATA.length), 'Content-MD5': MD5 });
    const dl = await downloadImageData(site.image, 'i1');
    expect(dl.contentMd5).to.equal(MD5);
    expect(dl.contentLength).to.equal(DATA.length);
    expect((await drain(dl.stream)).toString()).to.equal(DATA.toString());
    expect((dl.stream as VerifyingStream).digests().os_hash_value).to.equal(SHA512);
    expectAllCalled();
  });

  it('fails the download stream at its end when the data does not match os_hash_value', async () => {
    const { site } = testSite();
    mockAuth();
    const bad = Buffer.from('hello, glancf');
    nock(GLANCE)
      .get('/v2/images/i1')
      .reply(200, image('i1', 'active', { checksum: null }))
      .get('/v2/images/i1/file')
      .reply(200, bad, { 'Content-Type': 'application/octet-stream' });
    const dl = await downloadImageData(site.image, 'i1');
    const err = (await fails(drain(dl.stream))) as IntegrityError;
    expect(err).to.be.instanceOf(IntegrityError);
    expect(err.check).to.equal('sha512');
    expect(err.expected).to.equal(SHA512);
  });

  it('downloads a range with a Range header and 206, unverified; refuses to verify a range', async () => {
    const { site } = testSite();
    mockAuth();
    nock(GLANCE)
      .get('/v2/images/i1/file')
      .matchHeader('Range', 'bytes=0-4')
      .reply(206, DATA.subarray(0, 5), { 'Content-Range': `bytes 0-4/${DATA.length}` });
    const dl = await downloadImageData(site.image, 'i1', { range: 'bytes=0-4' });
    expect(dl.status).to.equal(206);
    expect(dl.expected).to.equal(undefined);
    expect((await drain(dl.stream)).toString()).to.equal('hello');
    expect(await fails(downloadImageData(site.image, 'i1', { range: 'bytes=0-4', verify: true }))).to.be.instanceOf(FerryError);
    expectAllCalled();
  });

  it('turns a 204 download (no data in the store) into a clear error', async () => {
    const { site } = testSite();
    mockAuth();
    nock(GLANCE).get('/v2/images/i1/file').reply(204);
    const err = await fails(downloadImageData(site.image, 'i1', { verify: false }));
    expect(err).to.be.instanceOf(BadResponseError);
    expect(err.message).to.match(/has no data/);
  });

  it('reads the import methods, stages data and imports with glance-direct and web-download', async () => {
    const { site } = testSite();
    mockAuth();
    // Shape: glance/api/v2/discovery.py get_image_import.
    nock(GLANCE)
      .get('/v2/info/import')
      .reply(200, { 'import-methods': { description: 'Import methods available.', type: 'array', value: ['glance-direct', 'web-download', 'copy-image'] } })
      .put('/v2/images/i1/stage', DATA.toString())
      .matchHeader('Content-Type', 'application/octet-stream')
      .reply(204)
      .post('/v2/images/i1/import', { method: { name: 'glance-direct' } })
      .reply(202)
      .post('/v2/images/i2/import', { method: { name: 'web-download', uri: 'https://mirror.test/x.img' }, stores: ['ceph', 'file'], all_stores_must_succeed: false })
      .reply(202);
    const info = await getImportInfo(site.image);
    expect(info['import-methods'].value).to.include('glance-direct');
    const staged = await stageImage(site.image, 'i1', Readable.from([DATA]));
    expect(staged.md5).to.equal(MD5);
    await importImage(site.image, 'i1', { name: 'glance-direct' });
    await importImage(site.image, 'i2', { name: 'web-download', uri: 'https://mirror.test/x.img' }, { stores: ['ceph', 'file'], all_stores_must_succeed: false });
    expectAllCalled();
  });

  it('waits through queued and saving to active, reporting progress', async () => {
    const { site } = testSite();
    mockAuth();
    nock(GLANCE).get('/v2/images/i1').reply(200, image('i1', 'queued')).get('/v2/images/i1').reply(200, image('i1', 'saving')).get('/v2/images/i1').reply(200, image('i1', 'active'));
    const seen: string[] = [];
    const img = await waitForImage(site.image, 'i1', ['active'], { intervalMs: 1, onProgress: (s) => seen.push(s) });
    expect(img?.status).to.equal('active');
    expect(seen).to.deep.equal(['queued', 'saving', 'active']);
  });

  it('fails fast when the image is killed', async () => {
    const { site } = testSite();
    mockAuth();
    nock(GLANCE).get('/v2/images/i1').reply(200, image('i1', 'killed'));
    const err = (await fails(waitForImage(site.image, 'i1', ['active'], { intervalMs: 1, timeoutMs: 60_000 }))) as ResourceFailureError;
    expect(err).to.be.instanceOf(ResourceFailureError);
    expect(err.status).to.equal('killed');
  });

  it('fails fast when Glance reverted a failed import to queued', async () => {
    const { site } = testSite();
    mockAuth();
    // async_/flows/api_image_import.py: a failed import records os_glance_failed_import and goes back to queued.
    nock(GLANCE)
      .get('/v2/images/i1')
      .reply(200, image('i1', 'importing', { os_glance_importing_to_stores: 'ceph' }))
      .get('/v2/images/i1')
      .reply(200, image('i1', 'queued', { os_glance_importing_to_stores: '', os_glance_failed_import: 'ceph' }));
    const err = (await fails(waitForImage(site.image, 'i1', ['active'], { intervalMs: 1, timeoutMs: 60_000 }))) as ResourceFailureError;
    expect(err).to.be.instanceOf(ResourceFailureError);
    expect(err.message).to.match(/import failed for stores ceph/);
  });

  it('treats 404 as deleted when waiting for deletion', async () => {
    const { site } = testSite();
    mockAuth();
    nock(GLANCE).get('/v2/images/i1').reply(200, image('i1', 'active')).get('/v2/images/i1').reply(404, glance404, { 'Content-Type': 'application/json' });
    await waitForImageDeleted(site.image, 'i1', { intervalMs: 1 });
    expectAllCalled();
  });

  it('hashes MD5 and the chosen algorithm while passing data through, and names unknown algorithms', async () => {
    const h = hashingStream('sha3_512');
    const out = await drain(Readable.from([DATA]).pipe(h));
    expect(out.equals(DATA)).to.equal(true);
    expect(h.digests()).to.deep.equal({ size: DATA.length, md5: MD5, os_hash_algo: 'sha3_512', os_hash_value: createHash('sha3-512').update(DATA).digest('hex') });
    expect(() => hashingStream('whirlpool9000')).to.throw(NotSupportedError);
  });
});

// ---- streaming through a real HTTP server -------------------------------------------------
// nock records request bodies even when it lets a request through, so the big transfers go to
// a node:http server on 127.0.0.1 with nock's interceptor switched off (authentication and
// endpoint lookup happen through nock before).

const MiB = 1024 * 1024;
const { generated } = byteSource(64 * 1024, MiB);

describe('image/images streaming (real HTTP on 127.0.0.1)', function () {
  // Generous for loaded CI machines; about 3 s of CPU on an idle one.
  this.timeout(120_000);
  const SIZE = 256 * MiB;
  let server: LocalServer;
  let received: { size: number; md5: string; sha256: string } | undefined;

  before(async () => {
    // A minimal Glance configured with hashing_algorithm = sha256 (cheaper than the default
    // sha512 for a test): hashes uploads as glance_store does and serves the same generated
    // bytes on download, with the digests it computed in the image record.
    server = await localServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      // A queued image: Glance (Zed, seen in the lab) answers its download with 204, no body.
      if (req.method === 'GET' && path === '/v2/images/empty') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(image('empty', 'queued', { size: null, checksum: null, os_hash_algo: null, os_hash_value: null })));
        return;
      }
      if (req.method === 'GET' && path === '/v2/images/empty/file') {
        res.writeHead(204, { 'Content-Length': '0' }).end();
        return;
      }
      if (req.method === 'PUT' && path === '/v2/images/big/file') {
        const m = createHash('md5');
        const s = createHash('sha256');
        let size = 0;
        req.on('data', (c: Buffer) => {
          m.update(c);
          s.update(c);
          size += c.length;
        });
        req.on('end', () => {
          received = { size, md5: m.digest('hex'), sha256: s.digest('hex') };
          res.writeHead(204).end();
        });
        return;
      }
      if (req.method === 'GET' && path === '/v2/images/big' && received) {
        const body = image('big', 'active', { size: received.size, checksum: received.md5, os_hash_algo: 'sha256', os_hash_value: received.sha256 });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
        return;
      }
      if (req.method === 'GET' && path === '/v2/images/big/file' && received) {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(received.size), 'Content-MD5': received.md5 });
        void pipeline(generated(received.size), res).catch(() => undefined);
        return;
      }
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 Not Found\n\nThe resource could not be found.\n\n   ');
    });
  });

  after(() => server.close());
  useNock();

  it('uploads 256 MiB then downloads it, hashes matching on both ends, heap growth under 64 MiB', async () => {
    nock.enableNetConnect('127.0.0.1');
    const { site } = testSite({ endpoint_overrides: { image: server.origin } });
    mockAuth();
    let up: Awaited<ReturnType<typeof uploadImageData>> | undefined;
    const upGrowth = await withoutNock(site, () =>
      peakHeapGrowth(async () => void (up = await uploadImageData(site.image, 'big', generated(SIZE), { contentLength: SIZE, hashAlgo: 'sha256' }))),
    );
    // What the server hashed on arrival is what the client hashed on the way out, and the
    // client's read-back check of checksum/os_hash_value passed (it returned the image).
    expect(received).to.deep.equal({ size: SIZE, md5: up!.sent.md5, sha256: up!.sent.os_hash_value });
    expect(up!.image?.os_hash_value).to.equal(received!.sha256);

    const counter = { bytes: 0 };
    let digests: ReturnType<VerifyingStream['digests']> | undefined;
    const downGrowth = await withoutNock(site, () =>
      peakHeapGrowth(async () => {
        const dl = await downloadImageData(site.image, 'big');
        await pipeline(dl.stream, hashingSink([], counter));
        digests = (dl.stream as VerifyingStream).digests();
      }),
    );
    expect(counter.bytes).to.equal(SIZE);
    expect(digests).to.deep.equal({ size: SIZE, md5: received!.md5, os_hash_algo: 'sha256', os_hash_value: received!.sha256 });
    expect(upGrowth, `upload heap growth ${Math.round(upGrowth / MiB)} MiB`).to.be.below(64 * MiB);
    expect(downGrowth, `download heap growth ${Math.round(downGrowth / MiB)} MiB`).to.be.below(64 * MiB);
  });

  it('reads a 204 download to its end, so its keep-alive connection is reused rather than held open', async () => {
    nock.enableNetConnect('127.0.0.1');
    const { site } = testSite({ endpoint_overrides: { image: server.origin } });
    mockAuth();
    server.connections = 0;
    const errs = await withoutNock(site, async () => [await fails(downloadImageData(site.image, 'empty')), await fails(downloadImageData(site.image, 'empty'))]);
    for (const e of errs) {
      expect(e).to.be.instanceOf(BadResponseError);
      expect(e.message).to.match(/has no data/);
    }
    // Four requests (record, file, record, file) over one connection: the 204 released it.
    expect(server.connections).to.equal(1);
  });

  it('fails the download at its end when the served bytes differ from the image record', async () => {
    nock.enableNetConnect('127.0.0.1');
    const { site } = testSite({ endpoint_overrides: { image: server.origin } });
    mockAuth();
    received = { size: 4 * MiB, md5: '0'.repeat(32), sha256: 'f'.repeat(64) };
    const err = await withoutNock(site, async () => {
      const dl = await downloadImageData(site.image, 'big');
      return fails(pipeline(dl.stream, new Writable({ write: (_c, _e, cb) => cb() })));
    });
    expect(err).to.be.instanceOf(IntegrityError);
    expect((err as IntegrityError).check).to.equal('md5');
  });
});
