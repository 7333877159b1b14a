import { expect } from 'chai';
import nock from 'nock';
import { ConflictError, ForbiddenError, NotFoundError, NotSupportedError } from '../../../../lib/errors.js';
import {
  createFlavor,
  deleteFlavor,
  deleteFlavorExtraSpec,
  getFlavor,
  getFlavorExtraSpecs,
  listFlavors,
  setFlavorExtraSpecs,
} from '../../../../lib/openstack/compute/flavors.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { NOVA, expectAllCalled, mockAuth, mockNovaVersion, testSite, useNock } from '../../../support/fake-cloud.js';

const base = '/v2.1';

// Shape: api-ref compute "List Flavors With Details" at 2.75+ (nova/api/openstack/compute/views/flavors.py
// show(), Zed): description (2.55), extra_specs (2.61), swap as 0 rather than "" (2.75).
function flavor(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    name: `m1.${id}`,
    ram: 2048,
    disk: 20,
    swap: 0,
    'OS-FLV-EXT-DATA:ephemeral': 0,
    'OS-FLV-DISABLED:disabled': false,
    vcpus: 2,
    'os-flavor-access:is_public': true,
    rxtx_factor: 1.0,
    links: [{ rel: 'self', href: `${NOVA}/v2.1/flavors/${id}` }],
    description: null,
    extra_specs: {},
    ...extra,
  };
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('compute/flavors', () => {
  useNock();

  it('lists flavors across pages following flavors_links, with is_public=None and minRam', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .get(`${base}/flavors/detail`)
      .query({ is_public: 'None', minRam: '1024', limit: '2' })
      .matchHeader('OpenStack-API-Version', 'compute 2.79')
      .reply(200, {
        flavors: [flavor('f1'), flavor('f2', { 'os-flavor-access:is_public': false })],
        // The marker of a flavor page is the flavor ID (flavors.py _get_collection_links(..., "flavorid")).
        flavors_links: [{ rel: 'next', href: `${NOVA}/v2.1/flavors/detail?is_public=None&limit=2&marker=f2&minRam=1024` }],
      })
      .get(`${base}/flavors/detail`)
      .query({ is_public: 'None', minRam: '1024', limit: '2', marker: 'f2' })
      .reply(200, { flavors: [flavor('f3')] });
    const got = await collect(listFlavors(site.compute, { is_public: 'none', minRam: 1024, limit: 2 }));
    expect(got.map((f) => f.id)).to.deep.equal(['f1', 'f2', 'f3']);
    expect(got[1]!['os-flavor-access:is_public']).to.equal(false);
    expectAllCalled();
  });

  it('sends is_public=false for private flavors only', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA).get(`${base}/flavors/detail`).query({ is_public: 'false', sort_key: 'memory_mb', sort_dir: 'desc' }).reply(200, { flavors: [] });
    expect(await collect(listFlavors(site.compute, { is_public: false, sort_key: 'memory_mb', sort_dir: 'desc' }))).to.deep.equal([]);
    expectAllCalled();
  });

  it('gets a flavor with its extra specs', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .get(`${base}/flavors/f1`)
      .reply(200, { flavor: flavor('f1', { extra_specs: { 'hw:cpu_policy': 'dedicated' }, description: 'pinned' }) });
    const f = await getFlavor(site.compute, 'f1');
    expect(f.extra_specs).to.deep.equal({ 'hw:cpu_policy': 'dedicated' });
    expect(f.description).to.equal('pinned');
    expect(f.swap).to.equal(0);
  });

  it('maps a missing flavor to NotFoundError with Nova\'s message', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA).get(`${base}/flavors/nope`).reply(404, { itemNotFound: { code: 404, message: 'Flavor nope could not be found.' } });
    const e = (await caught(getFlavor(site.compute, 'nope'))) as NotFoundError;
    expect(e).to.be.instanceOf(NotFoundError);
    expect(e.detail).to.equal('Flavor nope could not be found.');
  });

  it('creates a flavor with the documented body (answered 200) and never retries it', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    const body = {
      flavor: { name: 'dr.large', id: 'dr-large', ram: 8192, vcpus: 4, disk: 40, 'OS-FLV-EXT-DATA:ephemeral': 0, swap: 0, 'os-flavor-access:is_public': false, description: 'replica' },
    };
    nock(NOVA)
      .post(`${base}/flavors`, body)
      .reply(200, { flavor: flavor('dr-large', { name: 'dr.large', ram: 8192, vcpus: 4, disk: 40, 'os-flavor-access:is_public': false, description: 'replica' }) })
      .post(`${base}/flavors`)
      .once()
      .reply(503, { serviceUnavailable: { code: 503, message: 'busy' } });
    const f = await createFlavor(site.compute, body.flavor);
    expect(f.id).to.equal('dr-large');
    expect(((await caught(createFlavor(site.compute, body.flavor))) as { status: number }).status).to.equal(503);
    expectAllCalled();
  });

  it('maps an existing flavor to ConflictError and a non-admin to ForbiddenError', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .post(`${base}/flavors`)
      .reply(409, { conflictingRequest: { code: 409, message: 'Flavor with ID dr-large already exists.' } })
      .post(`${base}/flavors`)
      .reply(403, { forbidden: { code: 403, message: 'Policy doesn\'t allow os_compute_api:os-flavor-manage:create to be performed.' } });
    const opts = { name: 'dr.large', id: 'dr-large', ram: 1, vcpus: 1, disk: 1 };
    const e1 = (await caught(createFlavor(site.compute, opts))) as ConflictError;
    expect(e1).to.be.instanceOf(ConflictError);
    expect(e1.detail).to.equal('Flavor with ID dr-large already exists.');
    expect(await caught(createFlavor(site.compute, opts))).to.be.instanceOf(ForbiddenError);
  });

  it('refuses a description before 2.55', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion('2.54');
    const e = await caught(createFlavor(site.compute, { name: 'x', ram: 1, vcpus: 1, disk: 1, description: 'd' }));
    expect(e).to.be.instanceOf(NotSupportedError);
    expect(String(e)).to.match(/flavor description needs microversion 2\.55/);
  });

  it('deletes idempotently (202 true, 404 false)', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .delete(`${base}/flavors/f1`)
      .reply(202)
      .delete(`${base}/flavors/f2`)
      .reply(404, { itemNotFound: { code: 404, message: 'Flavor f2 could not be found.' } });
    expect(await deleteFlavor(site.compute, 'f1')).to.equal(true);
    expect(await deleteFlavor(site.compute, 'f2')).to.equal(false);
    expectAllCalled();
  });

  it('reads, merges and deletes extra specs', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .get(`${base}/flavors/f1/os-extra_specs`)
      .reply(200, { extra_specs: { 'hw:mem_page_size': 'large' } })
      .post(`${base}/flavors/f1/os-extra_specs`, { extra_specs: { 'hw:cpu_policy': 'dedicated' } })
      .reply(200, { extra_specs: { 'hw:cpu_policy': 'dedicated' } })
      .delete(`${base}/flavors/f1/os-extra_specs/hw%3Acpu_policy`)
      .reply(200)
      .delete(`${base}/flavors/f1/os-extra_specs/hw%3Anone`)
      .reply(404, { itemNotFound: { code: 404, message: 'Flavor f1 has no extra specs with key hw:none.' } });
    expect(await getFlavorExtraSpecs(site.compute, 'f1')).to.deep.equal({ 'hw:mem_page_size': 'large' });
    expect(await setFlavorExtraSpecs(site.compute, 'f1', { 'hw:cpu_policy': 'dedicated' })).to.deep.equal({ 'hw:cpu_policy': 'dedicated' });
    expect(await deleteFlavorExtraSpec(site.compute, 'f1', 'hw:cpu_policy')).to.equal(true);
    expect(await deleteFlavorExtraSpec(site.compute, 'f1', 'hw:none')).to.equal(false);
    expectAllCalled();
  });

  it('retries an extra-spec merge after 503 (it is safe to repeat)', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .post(`${base}/flavors/f1/os-extra_specs`, { extra_specs: { a: 'b' } })
      .reply(503, { serviceUnavailable: { code: 503, message: 'busy' } })
      .post(`${base}/flavors/f1/os-extra_specs`, { extra_specs: { a: 'b' } })
      .reply(200, { extra_specs: { a: 'b' } });
    expect(await setFlavorExtraSpecs(site.compute, 'f1', { a: 'b' })).to.deep.equal({ a: 'b' });
    expectAllCalled();
  });
});
