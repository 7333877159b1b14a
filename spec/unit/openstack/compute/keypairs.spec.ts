import { expect } from 'chai';
import nock from 'nock';
import { ConflictError, NotFoundError, NotSupportedError } from '../../../../lib/errors.js';
import { deleteKeypair, getKeypair, importKeypair, listKeypairs } from '../../../../lib/openstack/compute/keypairs.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { NOVA, expectAllCalled, mockAuth, mockNovaVersion, testSite, useNock } from '../../../support/fake-cloud.js';

const base = '/v2.1';
const PUB = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFerryFerryFerryFerryFerryFerryFerryFerry ferry@dr';

// Shape: api-ref compute "List Keypairs" at 2.35+ (nova/api/openstack/compute/views/keypairs.py index():
// each item wrapped as {"keypair": {name, public_key, fingerprint, type}}, keypairs_links with marker=name).
function listed(name: string) {
  return { keypair: { name, public_key: PUB, fingerprint: 'SHA256:abc', type: 'ssh' } };
}

// Shape: "Show Keypair Details" at 2.10+ (views/keypairs.py show()).
function shown(name: string) {
  return {
    keypair: { name, public_key: PUB, fingerprint: 'SHA256:abc', type: 'ssh', user_id: 'u-ferry', id: 7, created_at: '2026-11-27T03:00:00.000000', updated_at: null, deleted: false, deleted_at: null },
  };
}

const notFound = (name: string) => ({ itemNotFound: { code: 404, message: `Keypair ${name} not found for user u-ferry` } });

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('compute/keypairs', () => {
  useNock();

  it('lists keypairs across pages following keypairs_links and unwraps each item', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .get(`${base}/os-keypairs`)
      .query({ limit: '2' })
      .matchHeader('OpenStack-API-Version', 'compute 2.79')
      .reply(200, { keypairs: [listed('a'), listed('b')], keypairs_links: [{ rel: 'next', href: `${NOVA}/v2.1/os-keypairs?limit=2&marker=b` }] })
      .get(`${base}/os-keypairs`)
      .query({ limit: '2', marker: 'b' })
      .reply(200, { keypairs: [listed('c')] });
    const got = await collect(listKeypairs(site.compute, { limit: 2 }));
    expect(got.map((k) => k.name)).to.deep.equal(['a', 'b', 'c']);
    expect(got[0]).to.deep.equal({ name: 'a', public_key: PUB, fingerprint: 'SHA256:abc', type: 'ssh' });
    expectAllCalled();
  });

  it("lists another user's keypairs with user_id, and refuses that before 2.10", async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA).get(`${base}/os-keypairs`).query({ user_id: 'u-other' }).reply(200, { keypairs: [listed('x')] });
    expect((await collect(listKeypairs(site.compute, { user_id: 'u-other' }))).map((k) => k.name)).to.deep.equal(['x']);
    expectAllCalled();

    const old = testSite().site;
    mockAuth();
    mockNovaVersion('2.9');
    expect(String(await caught(collect(listKeypairs(old.compute, { user_id: 'u-other' }))))).to.match(/needs microversion 2\.10/);
  });

  it('gets one keypair with its detail fields, escaping the name', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA).get(`${base}/os-keypairs/ferry%20key`).reply(200, shown('ferry key'));
    const k = await getKeypair(site.compute, 'ferry key');
    expect(k.user_id).to.equal('u-ferry');
    expect(k.created_at).to.equal('2026-11-27T03:00:00.000000');
  });

  it('imports a public key with the documented body (201)', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .post(`${base}/os-keypairs`, { keypair: { name: 'ferry', public_key: PUB, type: 'ssh', user_id: 'u-other' } })
      .reply(201, { keypair: { name: 'ferry', public_key: PUB, fingerprint: 'SHA256:abc', type: 'ssh', user_id: 'u-other' } });
    const k = await importKeypair(site.compute, { name: 'ferry', public_key: PUB, type: 'ssh', user_id: 'u-other' });
    expect(k.fingerprint).to.equal('SHA256:abc');
    expect(k.user_id).to.equal('u-other');
    expectAllCalled();
  });

  it('accepts the 200 of microversion 2.1 and refuses a type there', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion('2.1');
    nock(NOVA)
      .post(`${base}/os-keypairs`, { keypair: { name: 'ferry', public_key: PUB } })
      .matchHeader('OpenStack-API-Version', 'compute 2.1')
      .reply(200, { keypair: { name: 'ferry', public_key: PUB, fingerprint: 'SHA256:abc', user_id: 'u-ferry' } });
    expect((await importKeypair(site.compute, { name: 'ferry', public_key: PUB })).name).to.equal('ferry');
    expect(await caught(importKeypair(site.compute, { name: 'f', public_key: PUB, type: 'x509' }))).to.be.instanceOf(NotSupportedError);
    expectAllCalled();
  });

  it('maps an existing name to ConflictError without retrying', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .post(`${base}/os-keypairs`)
      .once()
      .reply(409, { conflictingRequest: { code: 409, message: "Key pair 'ferry' already exists." } });
    const e = (await caught(importKeypair(site.compute, { name: 'ferry', public_key: PUB }))) as ConflictError;
    expect(e).to.be.instanceOf(ConflictError);
    expect(e.detail).to.equal("Key pair 'ferry' already exists.");
    expectAllCalled();
  });

  it('deletes idempotently (204 true, 404 false), with user_id when given', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .delete(`${base}/os-keypairs/ferry`)
      .reply(204)
      .delete(`${base}/os-keypairs/ferry`)
      .query({ user_id: 'u-other' })
      .reply(404, notFound('ferry'))
      .delete(`${base}/os-keypairs/gone`)
      .reply(404, notFound('gone'));
    expect(await deleteKeypair(site.compute, 'ferry')).to.equal(true);
    expect(await deleteKeypair(site.compute, 'ferry', { user_id: 'u-other' })).to.equal(false);
    const e = (await caught(deleteKeypair(site.compute, 'gone', { ignoreMissing: false }))) as NotFoundError;
    expect(e).to.be.instanceOf(NotFoundError);
    expect(e.detail).to.equal('Keypair gone not found for user u-ferry');
    expectAllCalled();
  });
});
