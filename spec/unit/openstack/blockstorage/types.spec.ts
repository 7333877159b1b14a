import { expect } from 'chai';
import nock from 'nock';
import { BadRequestError, ConflictError, NotSupportedError } from '../../../../lib/errors.js';
import {
  createVolumeType,
  deleteVolumeType,
  deleteVolumeTypeExtraSpec,
  findVolumeType,
  getVolumeType,
  getVolumeTypeExtraSpecs,
  listVolumeTypes,
  setVolumeTypeExtraSpecs,
} from '../../../../lib/openstack/blockstorage/types.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { CINDER, PROJECT_ID, expectAllCalled, mockAuth, mockCinderVersion, testSite, useNock } from '../../../support/fake-cloud.js';

const base = `/v3/${PROJECT_ID}`;

// Shape: api-ref block-storage v3 "Show volume type detail" (Zed) and
// cinder/api/v3/views/types.py show (extra_specs and qos_specs_id as an admin sees them).
function vtype(id: string, name: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    name,
    description: null,
    is_public: true,
    extra_specs: { volume_backend_name: name },
    qos_specs_id: null,
    'os-volume-type-access:is_public': true,
    ...extra,
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('blockstorage/types', () => {
  useNock();

  it('lists types across pages following volume_type_links (not volume_types_links)', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    // cinder/api/v3/views/types.py index names the links key volume_type_links.
    nock(CINDER)
      .get(`${base}/types`)
      .query({ is_public: 'None', limit: '2' })
      .matchHeader('OpenStack-API-Version', 'volume 3.64')
      .reply(200, {
        volume_types: [vtype('t1', 'ceph'), vtype('t2', 'lvm')],
        volume_type_links: [{ rel: 'next', href: `http://cinder-internal:8776/v3/${PROJECT_ID}/types?is_public=None&limit=2&marker=t2` }],
      })
      .get(`${base}/types`)
      .query({ is_public: 'None', limit: '2', marker: 't2' })
      .reply(200, { volume_types: [vtype('t3', 'ssd')] });
    const types = await collect(listVolumeTypes(site.blockStorage, { is_public: 'None', limit: 2 }));
    expect(types.map((t) => t.name)).to.deep.equal(['ceph', 'lvm', 'ssd']);
    expectAllCalled();
  });

  it('filters by extra specs as a JSON object from 3.52, and refuses below', async () => {
    const a = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/types`)
      .query({ extra_specs: JSON.stringify({ volume_backend_name: 'ceph' }) })
      .reply(200, { volume_types: [vtype('t1', 'ceph')] });
    expect((await collect(listVolumeTypes(a.site.blockStorage, { extra_specs: { volume_backend_name: 'ceph' } }))).length).to.equal(1);
    const b = testSite();
    mockAuth();
    mockCinderVersion('3.50');
    const err = await rejection(collect(listVolumeTypes(b.site.blockStorage, { extra_specs: { volume_backend_name: 'ceph' } })));
    expect(err).to.be.instanceOf(NotSupportedError);
    expectAllCalled();
  });

  it("reads a type by ID and the project's default type", async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).get(`${base}/types/t1`).reply(200, { volume_type: vtype('t1', 'ceph') }).get(`${base}/types/default`).reply(200, { volume_type: vtype('t9', '__DEFAULT__') });
    expect((await getVolumeType(site.blockStorage, 't1')).extra_specs).to.deep.equal({ volume_backend_name: 'ceph' });
    expect((await getVolumeType(site.blockStorage, 'default')).name).to.equal('__DEFAULT__');
    expectAllCalled();
  });

  it('finds a type by exact name among public and private types (is_public=None), undefined when none matches', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    // Without is_public=None Cinder lists only public types even to an admin
    // (cinder/api/api_utils.py _parse_is_public; lab-verified: a private type was not found).
    nock(CINDER)
      .get(`${base}/types`)
      .query({ is_public: 'None' })
      .twice()
      .reply(200, { volume_types: [vtype('t1', 'ceph'), vtype('t2', 'ceph-ssd', { is_public: false, 'os-volume-type-access:is_public': false })] });
    expect((await findVolumeType(site.blockStorage, 'ceph-ssd'))?.id).to.equal('t2');
    expect(await findVolumeType(site.blockStorage, 'lvm')).to.equal(undefined);
    expectAllCalled();
  });

  it('creates a private type with the documented body; a taken name is a ConflictError', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    const body = { volume_type: { name: 'ferry-ceph', description: 'dr', extra_specs: { volume_backend_name: 'ceph' }, 'os-volume-type-access:is_public': false } };
    nock(CINDER)
      .post(`${base}/types`, body)
      .reply(200, { volume_type: vtype('t5', 'ferry-ceph', { is_public: false, description: 'dr' }) })
      .post(`${base}/types`, body)
      .once()
      .reply(409, { conflictingRequest: { code: 409, message: 'Volume Type ferry-ceph already exists.' } });
    const t = await createVolumeType(site.blockStorage, body.volume_type);
    expect(t.id).to.equal('t5');
    expect(t.is_public).to.equal(false);
    const err = await rejection(createVolumeType(site.blockStorage, body.volume_type));
    expect(err).to.be.instanceOf(ConflictError);
    expect((err as ConflictError).detail).to.equal('Volume Type ferry-ceph already exists.');
    expectAllCalled();
  });

  it('deletes idempotently and surfaces "still in use" as BadRequestError', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .delete(`${base}/types/t1`)
      .reply(202)
      .delete(`${base}/types/t2`)
      .reply(404, { itemNotFound: { code: 404, message: 'Volume type with id t2 could not be found.' } })
      .delete(`${base}/types/t3`)
      .reply(400, { badRequest: { code: 400, message: 'Target volume type is still in use.' } });
    expect(await deleteVolumeType(site.blockStorage, 't1')).to.equal(true);
    expect(await deleteVolumeType(site.blockStorage, 't2')).to.equal(false);
    const err = await rejection(deleteVolumeType(site.blockStorage, 't3'));
    expect(err).to.be.instanceOf(BadRequestError);
    expect((err as BadRequestError).detail).to.equal('Target volume type is still in use.');
    expectAllCalled();
  });

  it('reads, sets and removes extra specs', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    // Shape: cinder/api/contrib/types_extra_specs.py (index returns {extra_specs}, create echoes the body).
    nock(CINDER)
      .get(`${base}/types/t1/extra_specs`)
      .reply(200, { extra_specs: { volume_backend_name: 'ceph', multiattach: '<is> True' } })
      .post(`${base}/types/t1/extra_specs`, { extra_specs: { 'ferry:replicated': 'true' } })
      .reply(200, { extra_specs: { 'ferry:replicated': 'true' } })
      .delete(`${base}/types/t1/extra_specs/ferry%3Areplicated`)
      .reply(202)
      .delete(`${base}/types/t1/extra_specs/gone`)
      .reply(404, { itemNotFound: { code: 404, message: 'Volume Type t1 has no extra specs with key gone.' } });
    expect(await getVolumeTypeExtraSpecs(site.blockStorage, 't1')).to.deep.equal({ volume_backend_name: 'ceph', multiattach: '<is> True' });
    expect(await setVolumeTypeExtraSpecs(site.blockStorage, 't1', { 'ferry:replicated': 'true' })).to.deep.equal({ 'ferry:replicated': 'true' });
    expect(await deleteVolumeTypeExtraSpec(site.blockStorage, 't1', 'ferry:replicated')).to.equal(true);
    expect(await deleteVolumeTypeExtraSpec(site.blockStorage, 't1', 'gone')).to.equal(false);
    expectAllCalled();
  });
});
