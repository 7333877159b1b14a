// Image replication against the real lab: a random image uploaded at site A, replicated to
// site B (streamed, the hash Glance B computed equal to A's), a second cycle skipping it (no new
// image), the same point run again adopting it, a copy a crashed run left queued replaced, and
// the lab's shared lab-tiny image (same bytes at both sites) skipped onto B's own. Everything
// created at either site (sources and copies) is deleted, found by the plan's mark at B.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { isNotFound } from '../../lib/errors.js';
import { createImage, deleteImage, downloadImageData, getImage, imageProperties, listImages, uploadImageData, waitForImageDeleted, type Image } from '../../lib/openstack/image/images.js';
import type { MemoryLogger } from '../../lib/log.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { Site } from '../../lib/openstack/site.js';
import { imageMarks, imagesWithHash, planImages, replicateImages, type ImageCopyProgress, type ReplicateImagesOptions } from '../../lib/replication/images.js';
import { FERRY_MARKS } from '../../lib/replication/types.js';
import { drain } from '../support/streams.js';
import { RUN_TAG, TIMEOUTS, labSite, uniqueName, useLab, type Cleanup } from './support/lab.js';

const MiB = 1024 * 1024;
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');

async function removeImage(site: Site, id: string): Promise<void> {
  await deleteImage(site.image, id);
  await waitForImageDeleted(site.image, id, { timeoutMs: TIMEOUTS.image });
}

/** A raw image at `site` with `data`, named and tagged for this run; its deletion registered first. */
async function sourceImage(cleanup: Cleanup, site: Site, data: Buffer): Promise<Image> {
  const image = await createImage(site.image, {
    name: uniqueName('image'),
    disk_format: 'raw',
    container_format: 'bare',
    min_disk: 1,
    tags: [RUN_TAG],
    properties: { ferry_run: RUN_TAG, os_distro: 'cirros' },
  });
  cleanup.add(`${site.name} image ${image.id}`, () => removeImage(site, image.id));
  const up = await uploadImageData(site.image, image.id, Readable.from([data.subarray(0, MiB), data.subarray(MiB)]), { contentLength: data.length });
  return up.image!;
}

/** Registers the removal of every image at `site` marked with `plan` (copies, leftovers). */
function sweepPlan(cleanup: Cleanup, site: Site, plan: string): void {
  cleanup.add(`${site.name} images marked ${FERRY_MARKS.plan}=${plan}`, async () => {
    for (const image of await planImages(site.image, plan)) await removeImage(site, image.id);
  });
}

/** The image requests a lab site sends from now on, as `METHOD /path`. */
function requestsSince(site: Site): () => string[] {
  const lines = (site.transport.logger as MemoryLogger).lines;
  const from = lines.length;
  return () =>
    lines
      .slice(from)
      .map((l) => /^REQ (\w+) (\S+)/.exec(l.msg))
      .filter((m): m is RegExpExecArray => m !== null && m[2]!.includes('/v2/images'))
      .map((m) => `${m[1]!} ${new URL(m[2]!).pathname}`);
}

function options(plan: string, pointId: string, events: ImageCopyProgress[]): ReplicateImagesOptions {
  return { plan, pointId, run: RUN_TAG, onProgress: (p) => events.push(p), progressStepBytes: MiB };
}

describe('lab: image replication', function () {
  this.timeout(TIMEOUTS.image * 3);
  const { cleanup } = useLab();
  const A = () => labSite('lab-a');
  const B = () => labSite('lab-b');

  it('copies a 3 MiB image from A to B with the same hash, skips it on the next point and adopts it on the same point', async () => {
    const plan = uniqueName('plan');
    sweepPlan(cleanup(), B(), plan);
    const data = randomBytes(3 * MiB + 4321);
    const src = await sourceImage(cleanup(), A(), data);
    expect(src.os_hash_value).to.equal(sha512(data));

    const events: ImageCopyProgress[] = [];
    const seenA = requestsSince(A());
    const seenB = requestsSince(B());
    const first = await replicateImages(A(), B(), [src.id], options(plan, 'p1', events));
    // One listing at A (no `next` page: the limit is one more than the batch), then the file.
    // (The transport logs paths without their query; the unit spec checks the queries.)
    expect(seenA()).to.deep.equal(['GET /v2/images', `GET /v2/images/${src.id}/file`]);
    expect(seenB().map((l) => l.replace(/[0-9a-f-]{36}/g, 'UUID'))).to.deep.equal([
      'GET /v2/images', // the plan's marked images
      'GET /v2/images', // images with the source's os_hash_value
      'POST /v2/images',
      'PUT /v2/images/UUID/file',
      'GET /v2/images/UUID',
    ]);
    expect(first.failures.map((f) => f.error.message)).to.deep.equal([]);
    expect(first.outcomes[0]).to.deep.include({ ok: true, action: 'copied', ferryOwned: true });
    const ref = first.refs[0]!;
    expect(ref).to.deep.include({ sourceImageId: src.id, hash: `sha512:${sha512(data)}`, sizeBytes: data.length });
    expect(ref.secondaryImageId).to.not.equal(src.id);
    expect(first.bytesCopied).to.equal(data.length);
    expect(events.filter((e) => e.event === 'bytes').map((e) => e.bytes)).to.have.length(3);
    expect(events.at(-1)).to.deep.include({ event: 'done', bytes: data.length });

    // What Glance B made of it: its own hash of the bytes it stored equals A's.
    const copy = await getImage(B().image, ref.secondaryImageId);
    expect(copy).to.include({ status: 'active', name: src.name, disk_format: 'raw', container_format: 'bare', min_disk: 1, visibility: 'private', size: data.length });
    expect(copy.os_hash_algo).to.equal('sha512');
    expect(copy.os_hash_value).to.equal(sha512(data));
    expect(copy.checksum).to.equal(src.checksum);
    expect(copy.tags).to.deep.equal([RUN_TAG]);
    expect(imageProperties(copy)).to.deep.include({
      ...imageMarks(plan, 'p1', src.id, `sha512:${sha512(data)}`, RUN_TAG),
      ferry_run: RUN_TAG,
      os_distro: 'cirros',
    });
    const back = await downloadImageData(B().image, copy.id);
    expect((await drain(back.stream)).equals(data)).to.equal(true);

    // The plan's mark is a working Glance filter (a property name with a colon).
    expect((await planImages(B().image, plan)).map((i) => i.id)).to.deep.equal([copy.id]);

    // Next point: nothing moves, the same image is used, no new image appears.
    const second = await replicateImages(A(), B(), [src.id], options(plan, 'p2', []));
    expect(second.outcomes[0]).to.deep.include({ ok: true, action: 'skipped', reused: 'plan', bytes: 0 });
    expect(second.refs).to.deep.equal([ref]);
    expect(second.bytesCopied).to.equal(0);
    // The same point again (a cycle that crashed after the copy): adopted.
    const again = await replicateImages(A(), B(), [src.id], options(plan, 'p1', []));
    expect(again.outcomes[0]).to.deep.include({ ok: true, action: 'adopted' });
    expect(again.refs).to.deep.equal([ref]);
    expect((await planImages(B().image, plan)).map((i) => i.id)).to.deep.equal([copy.id]);
    const named = await collect(listImages(B().image, { name: src.name! }));
    expect(named.map((i) => i.id)).to.deep.equal([copy.id]);
  });

  it('deletes a copy a crashed cycle left queued at B and copies again', async () => {
    const plan = uniqueName('plan');
    sweepPlan(cleanup(), B(), plan);
    const data = randomBytes(2 * MiB + 99);
    const src = await sourceImage(cleanup(), A(), data);
    // What a cycle killed between the create and the upload leaves: a queued, marked image.
    const stuck = await createImage(B().image, {
      name: src.name!,
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'private',
      tags: [RUN_TAG],
      properties: imageMarks(plan, 'p1', src.id, `sha512:${sha512(data)}`, RUN_TAG),
    });
    cleanup().add(`lab-b image ${stuck.id}`, () => removeImage(B(), stuck.id));
    expect(stuck.status).to.equal('queued');

    const r = await replicateImages(A(), B(), [src.id], options(plan, 'p1', []));
    expect(r.failures.map((f) => f.error.message)).to.deep.equal([]);
    expect(r.outcomes[0]).to.deep.include({ action: 'copied', replaced: [stuck.id] });
    const gone = await getImage(B().image, stuck.id).then(
      (i) => i.status,
      (err: unknown) => (isNotFound(err) ? 'gone' : Promise.reject(err as Error)),
    );
    expect(['gone', 'deleted', 'pending_delete']).to.include(gone);
    const left = await planImages(B().image, plan);
    expect(left.map((i) => [i.id, i.status])).to.deep.equal([[r.refs[0]!.secondaryImageId, 'active']]);
    expect(left[0]!.os_hash_value).to.equal(sha512(data));
  });

  it("copies rather than reuse another project's private image with the same bytes, which B's admin sees but the plan's project could not boot", async () => {
    const plan = uniqueName('plan');
    sweepPlan(cleanup(), B(), plan);
    const data = randomBytes(MiB + 7);
    const src = await sourceImage(cleanup(), A(), data);
    const demoB = labSite('lab-b-demo');
    const theirs = await sourceImage(cleanup(), demoB, data);
    expect(theirs.visibility).to.not.equal('public');
    // Glance lists other projects' non-public images to an admin: the hash search finds it.
    expect((await imagesWithHash(B().image, sha512(data))).map((i) => i.id)).to.include(theirs.id);
    const r = await replicateImages(A(), B(), [src.id], options(plan, 'p1', []));
    expect(r.failures.map((f) => f.error.message)).to.deep.equal([]);
    expect(r.outcomes[0]).to.deep.include({ action: 'copied' });
    expect(r.refs[0]!.secondaryImageId).to.not.equal(theirs.id);
    expect((await getImage(B().image, r.refs[0]!.secondaryImageId)).owner).to.not.equal(theirs.owner);
  });

  it("skips the lab's lab-tiny image: B already holds the same bytes", async () => {
    const plan = uniqueName('plan');
    sweepPlan(cleanup(), B(), plan);
    const tinyA = (await collect(listImages(A().image, { name: 'lab-tiny' })))[0];
    const tinyB = (await collect(listImages(B().image, { name: 'lab-tiny' })))[0];
    if (!tinyA || !tinyB) throw new Error('the lab has no lab-tiny image at both sites (lab-up creates it)');
    expect(tinyB.os_hash_value).to.equal(tinyA.os_hash_value);
    const r = await replicateImages(A(), B(), [tinyA.id], options(plan, 'p1', []));
    expect(r.outcomes[0]).to.deep.include({ ok: true, action: 'skipped', bytes: 0 });
    // Another run's Ferry copy of lab-tiny, if any, ranks before B's own lab-tiny.
    const used = await getImage(B().image, r.refs[0]!.secondaryImageId);
    expect(used.os_hash_value).to.equal(tinyA.os_hash_value);
    expect(r.refs[0]!.hash).to.equal(`sha512:${tinyA.os_hash_value!}`);
    expect(await planImages(B().image, plan)).to.deep.equal([]);
  });
});
