import { expect } from 'chai';
import nock from 'nock';
import { ConflictError, FerryError, NotFoundError, PreconditionFailedError } from '../../../../lib/errors.js';
import { createNetwork, deleteNetwork, findNetworkByName, getNetwork, listNetworks, updateNetwork } from '../../../../lib/openstack/network/networks.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { NEUTRON, PROJECT_ID, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

// Shape: api-ref network v2 "Show network details" (Zed), with the external-net, mtu,
// port-security, provider and standard-attr extensions a typical ML2/OVN cloud enables.
function network(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    name: `net-${id}`,
    description: '',
    status: 'ACTIVE',
    admin_state_up: true,
    shared: false,
    project_id: PROJECT_ID,
    tenant_id: PROJECT_ID,
    subnets: [`sub-${id}`],
    'router:external': false,
    mtu: 1442,
    port_security_enabled: true,
    'provider:network_type': 'geneve',
    'provider:physical_network': null,
    'provider:segmentation_id': 42,
    availability_zone_hints: [],
    availability_zones: ['nova'],
    ipv4_address_scope: null,
    ipv6_address_scope: null,
    tags: ['ferry:plan=web'],
    created_at: '2026-11-27T03:00:00Z',
    updated_at: '2026-11-27T03:00:00Z',
    revision_number: 3,
    ...extra,
  };
}

// Shape: neutron/api/v2/base.py error body (NeutronError with type, message, detail).
const neutronError = (type: string, message: string) => ({ NeutronError: { type, message, detail: '' } });

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('network/networks', () => {
  useNock();

  it('lists networks across pages following networks_links, with tag filters comma-joined', async () => {
    const { site } = testSite();
    mockAuth();
    // Shape: api-ref network v2 "Pagination": next/previous links carry limit and marker; the
    // host is whatever Neutron believes its own is (here an internal one).
    nock(NEUTRON)
      .get('/v2.0/networks')
      .query({ tags: 'ferry:plan=web,ferry:site=a', 'router:external': 'false', limit: '2' })
      .reply(200, {
        networks: [network('n1'), network('n2')],
        networks_links: [
          { rel: 'next', href: 'http://10.0.0.5:9696/v2.0/networks?limit=2&marker=n2&tags=ferry%3Aplan%3Dweb%2Cferry%3Asite%3Da&router%3Aexternal=false' },
          { rel: 'previous', href: 'http://10.0.0.5:9696/v2.0/networks?limit=2&marker=n1&page_reverse=True' },
        ],
      })
      .get('/v2.0/networks')
      .query({ tags: 'ferry:plan=web,ferry:site=a', 'router:external': 'false', limit: '2', marker: 'n2' })
      .reply(200, { networks: [network('n3')], networks_links: [{ rel: 'previous', href: 'http://10.0.0.5:9696/v2.0/networks?limit=2&marker=n3&page_reverse=True' }] });
    const nets = await collect(listNetworks(site.network, { tags: ['ferry:plan=web', 'ferry:site=a'], 'router:external': false, limit: 2 }));
    expect(nets.map((n) => n.id)).to.deep.equal(['n1', 'n2', 'n3']);
    expectAllCalled();
  });

  it('gets a network and keeps extension keys as Neutron spells them', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON).get('/v2.0/networks/n1').reply(200, { network: network('n1', { 'router:external': true }) });
    const n = await getNetwork(site.network, 'n1');
    expect(n['router:external']).to.equal(true);
    expect(n['provider:segmentation_id']).to.equal(42);
    expect(n.revision_number).to.equal(3);
  });

  it('maps a NeutronError 404 to NotFoundError with its type, message and request ID', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .get('/v2.0/networks/nope')
      .reply(404, neutronError('NetworkNotFound', 'Network nope could not be found.'), { 'x-openstack-request-id': 'req-neutron-404', 'Content-Type': 'application/json' });
    const err = await caught(getNetwork(site.network, 'nope'));
    expect(err).to.be.instanceOf(NotFoundError);
    expect((err as NotFoundError).type).to.equal('NetworkNotFound');
    expect((err as NotFoundError).detail).to.equal('Network nope could not be found.');
    expect((err as NotFoundError).requestId).to.equal('req-neutron-404');
  });

  it('creates a network with the documented body and never retries the POST', async () => {
    const { site } = testSite();
    mockAuth();
    const body = { network: { name: 'web', mtu: 1400, port_security_enabled: true, 'router:external': false } };
    nock(NEUTRON).post('/v2.0/networks', body).reply(201, { network: network('n9', { name: 'web', mtu: 1400 }) });
    const n = await createNetwork(site.network, { name: 'web', mtu: 1400, port_security_enabled: true, 'router:external': false });
    expect(n.id).to.equal('n9');
    expect(n.mtu).to.equal(1400);

    nock(NEUTRON).post('/v2.0/networks').once().reply(503, 'busy');
    const err = await caught(createNetwork(site.network, { name: 'again' }));
    expect((err as { status: number }).status).to.equal(503);
    expectAllCalled();
  });

  it('updates with PUT, retrying a 503, and sends If-Match when a revision is given', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .put('/v2.0/networks/n1', { network: { name: 'renamed' } })
      .matchHeader('If-Match', 'revision_number=3')
      .reply(503, neutronError('ServiceUnavailable', 'busy'))
      .put('/v2.0/networks/n1', { network: { name: 'renamed' } })
      .matchHeader('If-Match', 'revision_number=3')
      .reply(200, { network: network('n1', { name: 'renamed', revision_number: 4 }) });
    const n = await updateNetwork(site.network, 'n1', { name: 'renamed' }, { ifRevision: 3 });
    expect(n.revision_number).to.equal(4);
    expectAllCalled();
  });

  it('reports a stale revision as PreconditionFailedError', async () => {
    const { site } = testSite();
    mockAuth();
    // Shape: neutron/services/revisions/revision_plugin.py RevisionNumberConstraintFailed (webob 412).
    nock(NEUTRON)
      .put('/v2.0/networks/n1')
      .reply(412, neutronError('RevisionNumberConstraintFailed', 'Constrained to 3, but current revision is 5'));
    const err = await caught(updateNetwork(site.network, 'n1', { description: 'x' }, { ifRevision: 3 }));
    expect(err).to.be.instanceOf(PreconditionFailedError);
    expect((err as PreconditionFailedError).detail).to.match(/current revision is 5/);
  });

  it('deletes idempotently, but a network in use is an error', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .delete('/v2.0/networks/n1')
      .reply(204)
      .delete('/v2.0/networks/n2')
      .reply(404, neutronError('NetworkNotFound', 'Network n2 could not be found.'))
      .delete('/v2.0/networks/n2')
      .reply(404, neutronError('NetworkNotFound', 'Network n2 could not be found.'))
      .delete('/v2.0/networks/n3')
      .reply(409, neutronError('NetworkInUse', 'Unable to complete operation on network n3. There are one or more ports still in use on the network.'));
    expect(await deleteNetwork(site.network, 'n1')).to.equal(true);
    expect(await deleteNetwork(site.network, 'n2')).to.equal(false);
    expect(await caught(deleteNetwork(site.network, 'n2', { ignoreMissing: false }))).to.be.instanceOf(NotFoundError);
    const inUse = await caught(deleteNetwork(site.network, 'n3'));
    expect(inUse).to.be.instanceOf(ConflictError);
    expect((inUse as ConflictError).type).to.equal('NetworkInUse');
    expectAllCalled();
  });

  it('finds a network by exact name, undefined when none, and refuses an ambiguous name', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .get('/v2.0/networks')
      .query({ name: 'web' })
      .reply(200, { networks: [network('n1', { name: 'web' })] })
      .get('/v2.0/networks')
      .query({ name: 'none' })
      .reply(200, { networks: [] })
      .get('/v2.0/networks')
      .query({ name: 'dup' })
      .reply(200, { networks: [network('a', { name: 'dup' }), network('b', { name: 'dup' })] });
    expect((await findNetworkByName(site.network, 'web'))?.id).to.equal('n1');
    expect(await findNetworkByName(site.network, 'none')).to.equal(undefined);
    const err = await caught(findNetworkByName(site.network, 'dup'));
    expect(err).to.be.instanceOf(FerryError);
    expect(String(err)).to.match(/2 networks are named dup \(a, b\)/);
  });
});
