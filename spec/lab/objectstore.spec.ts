// Object store (Swift 2.30 with keystoneauth, Zed) against the real lab: containers with
// metadata, listing with prefix and paging, the 409 of a non-empty container; objects with
// metadata, ETag checks both ways, ranges, listings with delimiters; static large objects,
// small and then 1 GiB streamed up from a generator and back down through the manifest with
// the process's memory sampled throughout, and deleted with their segments.
import { createHash, randomBytes } from 'node:crypto';
import { statfsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'chai';
import { BadRequestError, ConflictError, NotFoundError, type HttpError } from '../../lib/errors.js';
import { IntegrityError } from '../../lib/openstack/image/images.js';
import {
  createContainer,
  deleteContainer,
  getAccountMetadata,
  getContainerMetadata,
  listContainers,
  setContainerMetadata,
} from '../../lib/openstack/objectstore/containers.js';
import {
  deleteLargeObject,
  deleteObject,
  getObject,
  headObject,
  listObjects,
  putLargeObject,
  putObject,
  sloEtag,
  type ObjectSummary,
} from '../../lib/openstack/objectstore/objects.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { ServiceClient } from '../../lib/openstack/service-client.js';
import type { Site } from '../../lib/openstack/site.js';
import { byteSource, drain, hashingSink, measureMemory, memoryReport } from '../support/streams.js';
import { captureFixture } from './support/fixtures.js';
import { LAB_STATE, RUN_TAG, labSite, uniqueName, useLab, type Cleanup } from './support/lab.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Metadata key every container and object of this run carries. */
const TAG_KEY = 'ferry-run';

// ---- data and memory helpers ----------------------------------------------------------------

/** Chunk size of generated data: a prime, so segment boundaries cut chunks in two. */
const { generated } = byteSource(65_521, 2 * MiB);

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to fail');
}

// ---- resources ------------------------------------------------------------------------------

/** Empties a container this test created (every object, one page at a time) and deletes it. */
async function removeContainer(sc: ServiceClient, container: string): Promise<void> {
  for (;;) {
    let names: string[];
    try {
      names = (await collect(listObjects(sc, container, { limit: 1000 }))).map((e) => ('subdir' in e ? e.subdir : e.name));
    } catch (err) {
      if ((err as HttpError).status === 404) return;
      throw err;
    }
    if (names.length === 0) break;
    for (const n of names) await deleteObject(sc, container, n);
  }
  await deleteContainer(sc, container);
}

/** Creates a container carrying the run tag; registers its removal (objects included). */
async function newContainer(cleanup: Cleanup, site: Site, what: string, metadata: Record<string, string> = {}): Promise<string> {
  const name = uniqueName(what);
  cleanup.add(`${site.name} container ${name}`, () => removeContainer(site.objectStore, name));
  expect(await createContainer(site.objectStore, name, { metadata: { [TAG_KEY]: RUN_TAG, ...metadata } })).to.equal(true);
  return name;
}

/**
 * Creates, tagged, the segment container putLargeObject would otherwise create untagged for
 * `container` (it keeps an existing one as it is), and registers its removal.
 */
async function newSegmentsContainer(cleanup: Cleanup, site: Site, container: string): Promise<string> {
  const segments = `${container}_segments`;
  cleanup.add(`${site.name} container ${segments}`, () => removeContainer(site.objectStore, segments));
  expect(await createContainer(site.objectStore, segments, { metadata: { [TAG_KEY]: RUN_TAG } })).to.equal(true);
  return segments;
}

describe('lab: object store', function () {
  this.timeout(600_000);
  const { cleanup } = useLab();
  const siteA = () => labSite('lab-a');

  it('creates containers with metadata, reads and changes it, lists them by prefix across small pages, deletes idempotently', async () => {
    const site = siteA();
    const sc = site.objectStore;
    const prefix = uniqueName('list');
    const names = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    for (const n of names) {
      cleanup().add(`${site.name} container ${n}`, () => removeContainer(sc, n));
      expect(await createContainer(sc, n, { metadata: { [TAG_KEY]: RUN_TAG, Role: 'lab' } }), 'created: 201').to.equal(true);
    }
    expect(await createContainer(sc, names[0]!, { metadata: { [TAG_KEY]: RUN_TAG } }), 'existed: 202').to.equal(false);

    const info = await getContainerMetadata(sc, names[0]!);
    captureFixture('object-store-head-container', { service: 'object-store', call: 'HEAD {container}', status: 204, body: info.headers });
    expect(info.object_count).to.equal(0);
    expect(info.bytes_used).to.equal(0);
    expect(info.metadata, 'keys come back lower-case').to.deep.equal({ [TAG_KEY]: RUN_TAG, role: 'lab' });
    expect(info.storage_policy).to.equal('Policy-0');
    expect(info.timestamp).to.match(/^\d{10}\.\d{5}$/);

    await setContainerMetadata(sc, names[0]!, { metadata: { Extra: 'x y' }, remove: ['Role'] });
    expect((await getContainerMetadata(sc, names[0]!)).metadata).to.deep.equal({ [TAG_KEY]: RUN_TAG, extra: 'x y' });

    const pages: number[] = [];
    const listed = await collect(listContainers(sc, { prefix, limit: 2 }, { onPage: (n) => pages.push(n) }));
    expect(listed.map((c) => c.name)).to.deep.equal(names);
    expect(pages).to.deep.equal([2, 1, 0]);
    expect(listed[0]).to.include({ count: 0, bytes: 0 });
    expect(listed[0]!.last_modified).to.match(/^\d{4}-\d\d-\d\dT/);
    expect(await collect(listContainers(sc, { prefix: `${prefix}-b` }))).to.have.length(1);

    const account = await getAccountMetadata(sc);
    expect(account.container_count).to.be.at.least(3);

    expect(await deleteContainer(sc, names[2]!)).to.equal(true);
    expect(await deleteContainer(sc, names[2]!)).to.equal(false);
    const err = (await failure(deleteContainer(sc, names[2]!, { ignoreMissing: false }))) as HttpError;
    expect(err).to.be.instanceOf(NotFoundError);
    expect(err.requestId).to.match(/^tx/);
    expect(await failure(getContainerMetadata(sc, names[2]!))).to.be.instanceOf(NotFoundError);
  });

  it('refuses to delete a container that holds objects with a clear ConflictError', async () => {
    const site = siteA();
    const c = await newContainer(cleanup(), site, 'full');
    await putObject(site.objectStore, c, 'x', 'x');
    const err = (await failure(deleteContainer(site.objectStore, c))) as ConflictError;
    expect(err).to.be.instanceOf(ConflictError);
    expect(err.status).to.equal(409);
    expect(err.type).to.equal('ContainerNotEmpty');
    expect(err.message).to.match(/is not empty: delete its objects first/);
    expect(err.requestId).to.match(/^tx/);
    expect(await deleteObject(site.objectStore, c, 'x')).to.equal(true);
    expect(await deleteContainer(site.objectStore, c)).to.equal(true);
  });

  it('puts, heads, gets and deletes objects with metadata and ETag checks, ranges, and listings by prefix and delimiter', async () => {
    const site = siteA();
    const sc = site.objectStore;
    const c = await newContainer(cleanup(), site, 'objects');
    const data = randomBytes(300_000);
    const name = 'dir/héllo wörld.bin';

    const put = await putObject(sc, c, name, data, { content_type: 'application/x-ferry', metadata: { [TAG_KEY]: RUN_TAG, Plan: 'p1' } });
    expect(put).to.include({ etag: md5(data), md5: md5(data), size: data.length });
    expect(put.last_modified).to.be.a('string');

    // Streamed, chunked: Swift's Etag is compared with the MD5 computed while sending.
    const streamed = randomBytes(2 * MiB + 3);
    const sput = await putObject(sc, c, 'dir/streamed', Readable.from([streamed.subarray(0, MiB), streamed.subarray(MiB)]), { metadata: { [TAG_KEY]: RUN_TAG } });
    expect(sput).to.include({ etag: md5(streamed), size: streamed.length });
    // A streamed body with the wrong ETag: Swift refuses it with 422, reported as IntegrityError.
    const bad = await failure(putObject(sc, c, 'dir/refused', Readable.from([streamed]), { etag: md5(data), metadata: { [TAG_KEY]: RUN_TAG } }));
    expect(bad).to.be.instanceOf(IntegrityError);
    expect((bad as IntegrityError).check).to.equal('etag');
    expect(await failure(headObject(sc, c, 'dir/refused'))).to.be.instanceOf(NotFoundError);

    const head = await headObject(sc, c, name);
    captureFixture('object-store-head-object', { service: 'object-store', call: 'HEAD {container}/{object}', status: 200, body: head.headers });
    expect(head).to.include({ content_length: data.length, etag: md5(data), content_type: 'application/x-ferry', static_large_object: false });
    expect(head.metadata).to.deep.equal({ [TAG_KEY]: RUN_TAG, plan: 'p1' });
    expect(head.timestamp).to.match(/^\d{10}\.\d{5}$/);

    const got = await getObject(sc, c, name);
    expect(got.status).to.equal(200);
    expect(got.verified).to.equal(true);
    expect(got.info.metadata).to.include({ plan: 'p1' });
    expect((await drain(got.stream)).equals(data)).to.equal(true);

    const range = await getObject(sc, c, name, { range: 'bytes=1000-1999' });
    expect(range.status).to.equal(206);
    expect(range.verified).to.equal(false);
    expect(range.info.headers['content-range']).to.equal(`bytes 1000-1999/${data.length}`);
    expect((await drain(range.stream)).equals(data.subarray(1000, 2000))).to.equal(true);
    const tail = await getObject(sc, c, name, { range: 'bytes=-16' });
    expect((await drain(tail.stream)).equals(data.subarray(-16))).to.equal(true);

    await putObject(sc, c, 'top.txt', 'top', { metadata: { [TAG_KEY]: RUN_TAG } });
    const pages: number[] = [];
    const inDir = (await collect(listObjects(sc, c, { prefix: 'dir/', limit: 1 }, { onPage: (n) => pages.push(n) }))) as ObjectSummary[];
    expect(inDir.map((o) => o.name)).to.deep.equal(['dir/héllo wörld.bin', 'dir/streamed']);
    expect(pages).to.deep.equal([1, 1, 0]);
    expect(inDir[0]).to.include({ hash: md5(data), bytes: data.length, content_type: 'application/x-ferry' });
    expect(await collect(listObjects(sc, c, { delimiter: '/' }))).to.deep.equal([
      { subdir: 'dir/' },
      (await collect(listObjects(sc, c, { prefix: 'top' })))[0],
    ]);

    expect(await deleteObject(sc, c, name)).to.equal(true);
    expect(await deleteObject(sc, c, name)).to.equal(false);
    expect(await failure(deleteObject(sc, c, name, { ignoreMissing: false }))).to.be.instanceOf(NotFoundError);
    expect(await failure(getObject(sc, c, name))).to.be.instanceOf(NotFoundError);
  });

  it('stores a small static large object in 1 MiB segments, reads it through the manifest, and deletes it with its segments', async () => {
    const site = siteA();
    const sc = site.objectStore;
    const c = await newContainer(cleanup(), site, 'slo');
    const segments = await newSegmentsContainer(cleanup(), site, c);
    const data = randomBytes(3 * MiB + MiB / 2);
    const name = 'disk image.raw';
    const seen: number[] = [];
    // No size given: each segment is sent chunked.
    const r = await putLargeObject(sc, c, name, Readable.from([data.subarray(0, 700_000), data.subarray(700_000)]), {
      segment_size: MiB,
      metadata: { [TAG_KEY]: RUN_TAG },
      content_type: 'application/x-raw-disk',
      onSegment: (_s, i) => seen.push(i),
    });
    expect(r.static_large_object).to.equal(true);
    expect(r.segments.map((s) => s.size_bytes)).to.deep.equal([MiB, MiB, MiB, MiB / 2]);
    expect(seen).to.deep.equal([0, 1, 2, 3]);
    expect(r.md5).to.equal(md5(data));
    expect(r.etag).to.equal(sloEtag(r.segments));
    for (const [i, s] of r.segments.entries()) expect(s.etag).to.equal(md5(data.subarray(i * MiB, (i + 1) * MiB)));

    const head = await headObject(sc, c, name);
    expect(head).to.include({ static_large_object: true, etag: r.etag, content_length: data.length, content_type: 'application/x-raw-disk' });
    expect(head.metadata).to.deep.equal({ [TAG_KEY]: RUN_TAG });
    const listed = (await collect(listObjects(sc, c))) as ObjectSummary[];
    expect(listed).to.have.length(1);
    expect(listed[0]!.slo_etag, 'listing carries the large object Etag').to.equal(`"${r.etag}"`);
    expect(listed[0]!.bytes).to.equal(data.length);
    expect((await collect(listObjects(sc, segments))).length).to.equal(4);

    const got = await getObject(sc, c, name);
    expect(got.verified, 'an SLO Etag is not the content MD5').to.equal(false);
    expect((await drain(got.stream)).equals(data)).to.equal(true);
    const across = await getObject(sc, c, name, { range: `bytes=${MiB - 10}-${MiB + 9}` });
    expect((await drain(across.stream)).equals(data.subarray(MiB - 10, MiB + 10))).to.equal(true);

    // Not a manifest: Swift's bulk report says so, as a 400.
    await putObject(sc, c, 'plain', 'plain', { metadata: { [TAG_KEY]: RUN_TAG } });
    const notSlo = (await failure(deleteLargeObject(sc, c, 'plain'))) as BadRequestError;
    expect(notSlo).to.be.instanceOf(BadRequestError);
    expect(notSlo.detail).to.match(/Not an SLO manifest/);

    expect(await deleteLargeObject(sc, c, name)).to.deep.equal({ deleted: 5, notFound: 0 });
    expect(await collect(listObjects(sc, segments))).to.deep.equal([]);
    expect((await getContainerMetadata(sc, segments)).metadata, 'putLargeObject kept the existing segment container').to.deep.equal({ [TAG_KEY]: RUN_TAG });
    expect(await failure(headObject(sc, c, name))).to.be.instanceOf(NotFoundError);
    // Idempotent: a manifest already gone is no error, unless asked.
    expect(await deleteLargeObject(sc, c, name)).to.deep.equal({ deleted: 0, notFound: 1 });
    expect(await failure(deleteLargeObject(sc, c, name, { ignoreMissing: false }))).to.be.instanceOf(NotFoundError);
  });

  it('site B: a small object round trip', async () => {
    const site = labSite('lab-b');
    const c = await newContainer(cleanup(), site, 'site-b');
    const data = randomBytes(MiB);
    expect((await putObject(site.objectStore, c, 'o', Readable.from([data]), { metadata: { [TAG_KEY]: RUN_TAG } })).etag).to.equal(md5(data));
    const got = await getObject(site.objectStore, c, 'o');
    expect(got.verified).to.equal(true);
    expect((await drain(got.stream)).equals(data)).to.equal(true);
    expect(await deleteObject(site.objectStore, c, 'o')).to.equal(true);
  });

  it('streams 1 GiB into a static large object of 256 MiB segments and back through the manifest, sha256 equal, memory bounded', async () => {
    const SIZE = GiB;
    const SEGMENT = 256 * MiB;
    // The object, its segments and Swift's own copies must fit next to what others store.
    const fs = statfsSync(LAB_STATE);
    const free = fs.bavail * fs.bsize;
    expect(free, `free space under ${LAB_STATE}`).to.be.above(3 * GiB);

    const site = siteA();
    const sc = site.objectStore;
    const c = await newContainer(cleanup(), site, 'big');
    const segments = await newSegmentsContainer(cleanup(), site, c);
    const name = 'volume.raw';

    const wrote = createHash('sha256');
    let up: Awaited<ReturnType<typeof putLargeObject>> | undefined;
    const upM = await measureMemory(async () => {
      up = await putLargeObject(sc, c, name, generated(SIZE, wrote), { segment_size: SEGMENT, size: SIZE, metadata: { [TAG_KEY]: RUN_TAG } });
    });
    const written = wrote.digest('hex');
    expect(up!.segments.map((s) => s.size_bytes)).to.deep.equal([SEGMENT, SEGMENT, SEGMENT, SEGMENT]);
    expect(up!.size).to.equal(SIZE);
    const head = await headObject(sc, c, name);
    expect(head).to.include({ static_large_object: true, content_length: SIZE, etag: up!.etag });

    const read = createHash('sha256');
    const counter = { bytes: 0 };
    const downM = await measureMemory(async () => {
      const dl = await getObject(sc, c, name);
      await pipeline(dl.stream, hashingSink([read], counter));
    });
    expect(counter.bytes).to.equal(SIZE);
    expect(read.digest('hex'), 'sha256 of the bytes read = sha256 of the bytes written').to.equal(written);

    console.log(`      ${memoryReport('SLO upload', SIZE, upM)}`);
    console.log(`      ${memoryReport('SLO download', SIZE, downM)}`);

    expect(await deleteLargeObject(sc, c, name)).to.deep.equal({ deleted: 5, notFound: 0 });
    expect(await collect(listObjects(sc, segments)), 'segments container empty').to.deep.equal([]);
    expect((await getContainerMetadata(sc, segments)).object_count).to.equal(0);
    expect(await collect(listObjects(sc, c))).to.deep.equal([]);

    const limit = 96 * MiB;
    expect(upM.heapGrowth, memoryReport('upload', SIZE, upM)).to.be.below(limit);
    expect(upM.rssGrowth, memoryReport('upload', SIZE, upM)).to.be.below(limit);
    expect(downM.heapGrowth, memoryReport('download', SIZE, downM)).to.be.below(limit);
    expect(downM.rssGrowth, memoryReport('download', SIZE, downM)).to.be.below(limit);
  });
});
