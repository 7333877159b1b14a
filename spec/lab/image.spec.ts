// Image (Glance v2, file store, Zed) against the real lab: image records with properties and
// tags, data streamed up and down with the hashes Glance itself computes (checksum and
// os_hash_algo/os_hash_value), listing with filters across pages, JSON-patch updates, tags,
// interoperable import (glance-direct through the staging store, and a web-download that
// fails), the waiters, idempotent deletes, and a 256 MiB image streamed both ways from a
// generator with the process's memory sampled throughout.
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'chai';
import { BadRequestError, BadResponseError, ConflictError, ForbiddenError, NotFoundError, ResourceFailureError, type HttpError } from '../../lib/errors.js';
import {
  addImageTag,
  createImage,
  deleteImage,
  downloadImageData,
  getImage,
  getImportInfo,
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
  type CreateImageOpts,
  type Image,
  type VerifyingStream,
} from '../../lib/openstack/image/images.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { Site } from '../../lib/openstack/site.js';
import { byteSource, drain, hashingSink, measureMemory, memoryReport } from '../support/streams.js';
import { captureFixture } from './support/fixtures.js';
import { RUN_TAG, TIMEOUTS, labSite, uniqueName, useLab, type Cleanup } from './support/lab.js';

const MiB = 1024 * 1024;

// ---- data and memory helpers ----------------------------------------------------------------

/** Chunk size of generated data: a prime, so no boundary lines up with anything by accident. */
const { generated } = byteSource(65_521, 2 * MiB);

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to fail');
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

// ---- resources ------------------------------------------------------------------------------

/** Creates a raw/bare image named and tagged for this run; registers its deletion (waited out). */
async function newImage(cleanup: Cleanup, site: Site, what: string, extra: Partial<CreateImageOpts> = {}): Promise<Image> {
  const { tags, properties, ...rest } = extra;
  const image = await createImage(site.image, {
    name: uniqueName(what),
    disk_format: 'raw',
    container_format: 'bare',
    tags: [RUN_TAG, ...(tags ?? [])],
    properties: { ferry_run: RUN_TAG, ...properties },
    ...rest,
  });
  cleanup.add(`${site.name} image ${image.id}`, async () => {
    await deleteImage(site.image, image.id);
    await waitForImageDeleted(site.image, image.id, { timeoutMs: TIMEOUTS.image });
  });
  return image;
}

describe('lab: image', function () {
  this.timeout(TIMEOUTS.image * 3);
  const { cleanup } = useLab();
  const siteA = () => labSite('lab-a');

  it('creates a raw/bare image with properties and the run tag, uploads 4 MiB and downloads it verified against the hashes Glance computed', async () => {
    const site = siteA();
    const image = await newImage(cleanup(), site, 'image', { min_disk: 1, properties: { 'ferry:role': 'lab', os_distro: 'cirros' } });
    captureFixture('image-create-201', { service: 'image', call: 'POST v2/images', status: 201, body: image });
    expect(image.status).to.equal('queued');
    expect(image.disk_format).to.equal('raw');
    expect(image.container_format).to.equal('bare');
    expect(image.visibility).to.equal('shared', "Glance's default visibility for a new image");
    expect(image.tags).to.deep.equal([RUN_TAG]);
    expect(image.min_disk).to.equal(1);
    expect(image.size).to.equal(null);
    expect(image.checksum).to.equal(null);
    expect(imageProperties(image)).to.include({ ferry_run: RUN_TAG, 'ferry:role': 'lab', os_distro: 'cirros' });

    // A queued image has no data: Glance answers the download with 204.
    const empty = await failure(downloadImageData(site.image, image.id));
    expect(empty).to.be.instanceOf(BadResponseError);
    expect(empty.message).to.match(/has no data/);

    const data = randomBytes(4 * MiB + 123);
    const up = await uploadImageData(site.image, image.id, Readable.from([data.subarray(0, MiB), data.subarray(MiB)]), { contentLength: data.length });
    // What Glance computed on arrival: checksum = MD5 and os_hash_value = sha512 (its default hashing_algorithm).
    expect(up.image?.status).to.equal('active');
    expect(up.image?.size).to.equal(data.length);
    expect(up.image?.checksum).to.equal(md5(data));
    expect(up.image?.os_hash_algo).to.equal('sha512');
    expect(up.image?.os_hash_value).to.equal(sha512(data));
    expect(up.sent).to.deep.equal({ size: data.length, md5: md5(data), os_hash_algo: 'sha512', os_hash_value: sha512(data) });
    expect((await waitForImage(site.image, image.id, ['active'], { timeoutMs: TIMEOUTS.image }))?.stores).to.equal('file');

    const dl = await downloadImageData(site.image, image.id);
    expect(dl.status).to.equal(200);
    expect(dl.contentLength).to.equal(data.length);
    expect(dl.contentMd5, "Glance's Content-MD5 is the hex checksum").to.equal(md5(data));
    expect(dl.expected).to.include({ size: data.length, md5: md5(data), os_hash_algo: 'sha512', os_hash_value: sha512(data) });
    const got = await drain(dl.stream);
    expect(got.equals(data)).to.equal(true);
    expect((dl.stream as VerifyingStream).digests().os_hash_value).to.equal(sha512(data));

    // A range: 206, the bytes asked for, not verified.
    const part = await downloadImageData(site.image, image.id, { range: 'bytes=1048570-1048589' });
    expect(part.status).to.equal(206);
    expect(part.headers['content-range']).to.equal(`bytes 1048570-1048589/${data.length}`);
    expect((await drain(part.stream)).equals(data.subarray(1_048_570, 1_048_590))).to.equal(true);

    // The stream fails at its end when the data is not what it should be.
    const wrong = await downloadImageData(site.image, image.id, { verify: { os_hash_algo: 'sha512', os_hash_value: '0'.repeat(128) } });
    const bad = await failure(pipeline(wrong.stream, new Writable({ write: (_c, _e, cb) => cb() })));
    expect(bad).to.be.instanceOf(IntegrityError);
    expect((bad as IntegrityError).check).to.equal('sha512');

    // An active image takes no more data: 409, sent once.
    const again = (await failure(uploadImageData(site.image, image.id, Readable.from([Buffer.from('more')]), { contentLength: 4 }))) as HttpError;
    expect(again).to.be.instanceOf(ConflictError);
    expect(again.detail).to.match(/active|status|transition/i);
  });

  it('lists images by tag and by name with a small limit across pages (Glance keeps only the last tag in its next link)', async () => {
    const site = siteA();
    const group = uniqueName('group');
    // Carries the run tag but not the group tag; created first, so it sorts last (created_at desc).
    const loner = await newImage(cleanup(), site, 'loner');
    await sleep(1100);
    const members: Image[] = [];
    for (let i = 0; i < 3; i++) members.push(await newImage(cleanup(), site, 'member', { tags: [group] }));
    const ids = members.map((m) => m.id);

    const pages: number[] = [];
    const byGroup = await collect(listImages(site.image, { tag: group, limit: 2 }, { onPage: (n) => pages.push(n) }));
    expect(byGroup.map((i) => i.id)).to.have.members(ids);
    expect(pages.length, `pages ${JSON.stringify(pages)}`).to.be.at.least(2);
    expect(pages[0]).to.equal(2);

    // Both tags. Glance rebuilds its links from a dict of the query, keeping only the last
    // value of a repeated parameter: its `next` would bring the loner (run tag only) back.
    const page1 = (await site.image.get<{ first: string; next?: string }>('v2/images', { query: { tag: [group, RUN_TAG], limit: 2 } })).data;
    captureFixture('image-list-two-tags', { service: 'image', call: 'GET v2/images?tag=a&tag=b&limit=2', status: 200, body: page1 });
    expect(new URL(page1.next!, 'http://x').searchParams.getAll('tag'), 'Glance keeps one tag in next').to.deep.equal([RUN_TAG]);
    const raw = await site.image.get<{ images: Image[] }>(page1.next!.replace(/^\/+/, ''));
    expect(raw.data.images.map((i) => i.id), 'what following next literally brings').to.include(loner.id);
    // listImages carries both tags to every page: the loner never shows.
    const perPage: number[] = [];
    const both = await collect(listImages(site.image, { tag: [group, RUN_TAG], limit: 2 }, { onPage: (n) => perPage.push(n) }));
    expect(both.map((i) => i.id)).to.have.members(ids);
    expect(perPage).to.deep.equal([2, 1]);

    const named = await collect(listImages(site.image, { name: members[1]!.name!, limit: 1 }));
    expect(named.map((i) => i.id)).to.deep.equal([members[1]!.id]);
    expect(await collect(listImages(site.image, { name: uniqueName('nobody') }))).to.deep.equal([]);
  });

  it('updates properties with JSON patch, and adds and removes tags', async () => {
    const site = siteA();
    const image = await newImage(cleanup(), site, 'patch', { properties: { keep: 'me', drop: 'me' } });
    const newName = uniqueName('renamed');
    const patched = await updateImage(site.image, image.id, [
      imagePatch.replace('name', newName),
      imagePatch.set('ferry:plan', 'plan-1'),
      imagePatch.set('a/b~c', 'escaped'),
      imagePatch.remove('drop'),
      imagePatch.set('min_ram', 64),
    ]);
    captureFixture('image-patch-200', { service: 'image', call: 'PATCH v2/images/{id} (json-patch)', status: 200, body: patched });
    expect(patched.name).to.equal(newName);
    expect(patched.min_ram).to.equal(64);
    const props = imageProperties(patched);
    expect(props).to.include({ keep: 'me', 'ferry:plan': 'plan-1', 'a/b~c': 'escaped', ferry_run: RUN_TAG });
    expect(props).not.to.have.property('drop');

    // Setting again is harmless; removing what is gone is Glance's 409.
    expect(imageProperties(await setImageProperties(site.image, image.id, { 'ferry:plan': 'plan-2', keep: 'me' }))).to.include({ 'ferry:plan': 'plan-2' });
    const gone = (await failure(updateImage(site.image, image.id, [imagePatch.remove('drop')]))) as HttpError;
    expect(gone).to.be.instanceOf(ConflictError);
    expect(gone.detail).to.match(/drop/);

    await addImageTag(site.image, image.id, 'ferry-extra');
    await addImageTag(site.image, image.id, 'ferry-extra');
    expect((await getImage(site.image, image.id)).tags).to.have.members([RUN_TAG, 'ferry-extra']);
    expect(await removeImageTag(site.image, image.id, 'ferry-extra')).to.equal(true);
    expect(await removeImageTag(site.image, image.id, 'ferry-extra')).to.equal(false);
    expect(await failure(removeImageTag(site.image, image.id, 'ferry-extra', { ignoreMissing: false }))).to.be.instanceOf(NotFoundError);
    expect((await getImage(site.image, image.id)).tags).to.deep.equal([RUN_TAG]);
  });

  it('offers glance-direct, web-download and copy-image; imports staged data and waits for active', async () => {
    const site = siteA();
    const info = await getImportInfo(site.image);
    captureFixture('image-import-info-200', { service: 'image', call: 'GET v2/info/import', status: 200, body: info });
    expect(info['import-methods'].type).to.equal('array');
    expect(info['import-methods'].value).to.include.members(['glance-direct', 'web-download', 'copy-image']);

    const image = await newImage(cleanup(), site, 'direct');
    const data = randomBytes(MiB + 7);
    const staged = await stageImage(site.image, image.id, Readable.from([data]), { contentLength: data.length });
    expect(staged).to.deep.equal({ size: data.length, md5: md5(data), os_hash_algo: 'sha512', os_hash_value: sha512(data) });
    expect((await getImage(site.image, image.id)).status).to.equal('uploading');

    await importImage(site.image, image.id, { name: 'glance-direct' });
    const seen: string[] = [];
    const done = await waitForImage(site.image, image.id, ['active'], { timeoutMs: TIMEOUTS.image, intervalMs: 200, onProgress: (s) => seen.push(s) });
    expect(done?.status).to.equal('active');
    expect(done?.checksum).to.equal(md5(data));
    expect(done?.os_hash_value).to.equal(sha512(data));
    expect(seen.at(-1)).to.equal('active');
    expect((await drain((await downloadImageData(site.image, image.id)).stream)).equals(data)).to.equal(true);
  });

  it('fails fast when a web-download import fails (Glance puts the image back to queued and names the failed store)', async () => {
    const site = siteA();
    const image = await newImage(cleanup(), site, 'webdl');
    // Glance filters web-download URIs up front (import_filtering_opts, and this build's
    // resolve_pinned_address refuses loopback and link-local hosts): a 400, nothing started.
    const refused = (await failure(importImage(site.image, image.id, { name: 'web-download', uri: 'http://127.0.0.1/x.raw' }))) as HttpError;
    expect(refused).to.be.instanceOf(BadRequestError);
    expect(refused.detail).to.match(/does not pass filtering/);
    expect((await getImage(site.image, image.id)).status).to.equal('queued');
    // TEST-NET-1 passes the filter but is never routed: the download fails inside the import task.
    await importImage(site.image, image.id, { name: 'web-download', uri: 'http://192.0.2.1/ferry-lab-no-such-image.raw' });
    const seen: string[] = [];
    const started = Date.now();
    const err = await failure(waitForImage(site.image, image.id, ['active'], { timeoutMs: TIMEOUTS.image, intervalMs: 500, onProgress: (s) => seen.push(s) }));
    const last = await getImage(site.image, image.id);
    captureFixture('image-import-failed', { service: 'image', call: 'GET v2/images/{id} after a failed web-download', status: 200, body: last });
    expect(err, `${err.message}; statuses ${seen.join(',')}`).to.be.instanceOf(ResourceFailureError);
    expect((err as ResourceFailureError).status).to.equal('import_failed');
    expect(err.message).to.match(/file/);
    expect(Date.now() - started).to.be.below(60_000);
    expect(last.status).to.equal('queued');
  });

  it('deletes idempotently, and waitForImageDeleted sees the 404', async () => {
    const site = siteA();
    const image = await createImage(site.image, { name: uniqueName('doomed'), disk_format: 'raw', container_format: 'bare', tags: [RUN_TAG] });
    cleanup().add(`${site.name} image ${image.id}`, () => deleteImage(site.image, image.id));
    await uploadImageData(site.image, image.id, Readable.from([randomBytes(64 * 1024)]));
    expect(await deleteImage(site.image, image.id)).to.equal(true);
    await waitForImageDeleted(site.image, image.id, { timeoutMs: TIMEOUTS.image });
    expect(await failure(getImage(site.image, image.id))).to.be.instanceOf(NotFoundError);
    expect(await deleteImage(site.image, image.id)).to.equal(false);
    const err = (await failure(deleteImage(site.image, image.id, { ignoreMissing: false }))) as HttpError;
    expect(err).to.be.instanceOf(NotFoundError);
    expect(err.requestId).to.match(/^req-/);

    // A protected image is refused with 403 until unprotected.
    const kept = await newImage(cleanup(), site, 'protected', { protected: true });
    cleanup().add(`${site.name} unprotect image ${kept.id}`, () => updateImage(site.image, kept.id, [imagePatch.replace('protected', false)]).catch(() => undefined));
    const forbidden = (await failure(deleteImage(site.image, kept.id))) as HttpError;
    expect(forbidden).to.be.instanceOf(ForbiddenError);
    expect(forbidden.detail).to.match(/protected/i);
    expect((await updateImage(site.image, kept.id, [imagePatch.replace('protected', false)])).protected).to.equal(false);
    expect(await deleteImage(site.image, kept.id)).to.equal(true);
    await waitForImageDeleted(site.image, kept.id, { timeoutMs: TIMEOUTS.image });
  });

  it('site B: a small image round trip', async () => {
    const site = labSite('lab-b');
    const image = await newImage(cleanup(), site, 'site-b');
    const data = randomBytes(MiB);
    // Multi-store Glance (enabled_backends = file:file): the store is chosen with X-Image-Meta-Store.
    const nowhere = (await failure(uploadImageData(site.image, image.id, Readable.from([Buffer.from('tiny')]), { store: 'nowhere' }))) as HttpError;
    expect(nowhere, nowhere.message).to.be.instanceOf(BadRequestError);
    expect(nowhere.detail).to.match(/nowhere/);
    expect((await getImage(site.image, image.id)).status).to.equal('queued');
    const up = await uploadImageData(site.image, image.id, Readable.from([data]), { store: 'file' });
    expect(up.image?.stores).to.equal('file');
    expect(up.image?.checksum).to.equal(md5(data));
    expect(up.image?.os_hash_value).to.equal(sha512(data));
    expect((await drain((await downloadImageData(site.image, image.id)).stream)).equals(data)).to.equal(true);
    expect((await collect(listImages(site.image, { tag: RUN_TAG }))).map((i) => i.id)).to.deep.equal([image.id]);
  });

  it('streams a 256 MiB image up from a generator and back down, hashes equal to Glance\u2019s, memory bounded', async () => {
    const site = siteA();
    const SIZE = 256 * MiB;
    const image = await newImage(cleanup(), site, 'big');

    const wroteMd5 = createHash('md5');
    const wroteSha = createHash('sha512');
    let up: Awaited<ReturnType<typeof uploadImageData>> | undefined;
    const upM = await measureMemory(async () => {
      up = await uploadImageData(site.image, image.id, generated(SIZE, wroteMd5, wroteSha), { contentLength: SIZE });
    });
    const written = { md5: wroteMd5.digest('hex'), sha512: wroteSha.digest('hex') };
    const stored = await getImage(site.image, image.id);
    expect(stored.status).to.equal('active');
    expect(stored.size).to.equal(SIZE);
    expect(stored.checksum, 'Glance checksum = MD5 of the bytes generated').to.equal(written.md5);
    expect(stored.os_hash_algo).to.equal('sha512');
    expect(stored.os_hash_value, 'Glance os_hash_value = sha512 of the bytes generated').to.equal(written.sha512);
    expect(up!.sent.os_hash_value).to.equal(written.sha512);

    const readMd5 = createHash('md5');
    const readSha = createHash('sha512');
    const counter = { bytes: 0 };
    let verified: ReturnType<VerifyingStream['digests']> | undefined;
    const downM = await measureMemory(async () => {
      const dl = await downloadImageData(site.image, image.id);
      await pipeline(dl.stream, hashingSink([readMd5, readSha], counter));
      verified = (dl.stream as VerifyingStream).digests();
    });
    expect(counter.bytes).to.equal(SIZE);
    expect(readMd5.digest('hex')).to.equal(stored.checksum);
    expect(readSha.digest('hex')).to.equal(stored.os_hash_value);
    expect(verified).to.deep.equal({ size: SIZE, md5: stored.checksum, os_hash_algo: 'sha512', os_hash_value: stored.os_hash_value });

    console.log(`      ${memoryReport('image upload', SIZE, upM)}`);
    console.log(`      ${memoryReport('image download', SIZE, downM)}`);
    const limit = 96 * MiB;
    expect(upM.heapGrowth, memoryReport('upload', SIZE, upM)).to.be.below(limit);
    expect(upM.rssGrowth, memoryReport('upload', SIZE, upM)).to.be.below(limit);
    expect(downM.heapGrowth, memoryReport('download', SIZE, downM)).to.be.below(limit);
    expect(downM.rssGrowth, memoryReport('download', SIZE, downM)).to.be.below(limit);
  });
});
