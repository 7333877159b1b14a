import { expect } from 'chai';
import nock from 'nock';
import { NotFoundError } from '../../../../lib/errors.js';
import { addTag, hasTag, listTags, removeAllTags, removeTag, replaceTags, toNeutronQuery } from '../../../../lib/openstack/network/tags.js';
import { NEUTRON, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

// Shapes: api-ref network v2 "Tag extension (tags)" (Zed) and neutron/extensions/tagging.py
// action_status: index 200, show 204, update 201, update_all 200, delete 204, delete_all 204.
const neutronError = (type: string, message: string) => ({ NeutronError: { type, message, detail: '' } });

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('network/tags', () => {
  useNock();

  it('adds one tag with PUT .../tags/{tag}, encoding the tag (201, empty body)', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON).put('/v2.0/ports/p1/tags/ferry%3Aplan%3Dweb').reply(201, '');
    await addTag(site.network, 'ports', 'p1', 'ferry:plan=web');
    expectAllCalled();
  });

  it('uses the hyphenated collection for security groups', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON).put('/v2.0/security-groups/g1/tags/dr').reply(201, '');
    await addTag(site.network, 'security-groups', 'g1', 'dr');
    expectAllCalled();
  });

  it('replaces every tag with PUT .../tags and lists them', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .put('/v2.0/networks/n1/tags', { tags: ['a', 'b'] })
      .reply(200, { tags: ['a', 'b'] })
      .get('/v2.0/networks/n1/tags')
      .reply(200, { tags: ['b', 'a'] });
    expect(await replaceTags(site.network, 'networks', 'n1', ['a', 'b'])).to.deep.equal(['a', 'b']);
    expect(await listTags(site.network, 'networks', 'n1')).to.deep.equal(['b', 'a']);
    expectAllCalled();
  });

  it('checks one tag: 204 true, TagNotFound false, a missing resource is an error', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .get('/v2.0/routers/r1/tags/a')
      .reply(204)
      .get('/v2.0/routers/r1/tags/b')
      .reply(404, neutronError('TagNotFound', 'Tag b could not be found.'))
      .get('/v2.0/routers/gone/tags/a')
      .reply(404, neutronError('TagResourceNotFound', 'Resource routers gone could not be found.'));
    expect(await hasTag(site.network, 'routers', 'r1', 'a')).to.equal(true);
    expect(await hasTag(site.network, 'routers', 'r1', 'b')).to.equal(false);
    expect(await caught(hasTag(site.network, 'routers', 'gone', 'a'))).to.be.instanceOf(NotFoundError);
    expectAllCalled();
  });

  it('removes a tag idempotently unless told otherwise, and removes all tags', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .delete('/v2.0/floatingips/f1/tags/a')
      .reply(204)
      .delete('/v2.0/floatingips/f1/tags/a')
      .reply(404, neutronError('TagNotFound', 'Tag a could not be found.'))
      .delete('/v2.0/floatingips/f1/tags/a')
      .reply(404, neutronError('TagNotFound', 'Tag a could not be found.'))
      .delete('/v2.0/floatingips/f1/tags')
      .reply(204);
    expect(await removeTag(site.network, 'floatingips', 'f1', 'a')).to.equal(true);
    expect(await removeTag(site.network, 'floatingips', 'f1', 'a')).to.equal(false);
    expect(await caught(removeTag(site.network, 'floatingips', 'f1', 'a', { ignoreMissing: false }))).to.be.instanceOf(NotFoundError);
    await removeAllTags(site.network, 'floatingips', 'f1');
    expectAllCalled();
  });

  it('builds list queries: tag lists comma-joined, other lists repeated, limit left out', () => {
    expect(
      toNeutronQuery({
        tags: ['a', 'b'],
        'not-tags-any': ['c'],
        'tags-any': [],
        network_id: ['n1', 'n2'],
        admin_state_up: false,
        mtu: 1500,
        name: undefined,
        limit: 10,
      }),
    ).to.deep.equal({ tags: 'a,b', 'not-tags-any': 'c', network_id: ['n1', 'n2'], admin_state_up: false, mtu: 1500 });
    expect(() => toNeutronQuery({ fixed_ips: { ip_address: '10.0.0.1' } })).to.throw(TypeError, /fixed_ips/);
  });
});
