import { expect } from 'chai';
import nock from 'nock';
import { ConflictError, NotFoundError } from '../../../../lib/errors.js';
import { createSubnet, deleteSubnet, getSubnet, listSubnets, updateSubnet, type CreateSubnetOpts } from '../../../../lib/openstack/network/subnets.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { NEUTRON, PROJECT_ID, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

// Shape: api-ref network v2 "Show subnet details" (Zed).
function subnet(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    name: `sub-${id}`,
    description: '',
    network_id: 'n1',
    ip_version: 4,
    cidr: '192.168.10.0/24',
    gateway_ip: '192.168.10.1',
    enable_dhcp: true,
    allocation_pools: [{ start: '192.168.10.2', end: '192.168.10.254' }],
    dns_nameservers: [],
    host_routes: [],
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
    subnetpool_id: null,
    segment_id: null,
    service_types: [],
    project_id: PROJECT_ID,
    tenant_id: PROJECT_ID,
    tags: [],
    created_at: '2026-11-27T03:00:00Z',
    updated_at: '2026-11-27T03:00:00Z',
    revision_number: 0,
    ...extra,
  };
}

const neutronError = (type: string, message: string) => ({ NeutronError: { type, message, detail: '' } });

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('network/subnets', () => {
  useNock();

  it('lists subnets of several networks with repeated network_id, across pages', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .get('/v2.0/subnets')
      .query({ network_id: ['n1', 'n2'], ip_version: '4', limit: '1' })
      .reply(200, { subnets: [subnet('s1')], subnets_links: [{ rel: 'next', href: `${NEUTRON}/v2.0/subnets?limit=1&marker=s1&network_id=n1&network_id=n2&ip_version=4` }] })
      .get('/v2.0/subnets')
      .query({ network_id: ['n1', 'n2'], ip_version: '4', limit: '1', marker: 's1' })
      .reply(200, { subnets: [subnet('s2', { network_id: 'n2' })], subnets_links: [{ rel: 'next', href: `${NEUTRON}/v2.0/subnets?limit=1&marker=s2&network_id=n1&network_id=n2&ip_version=4` }] })
      .get('/v2.0/subnets')
      .query({ network_id: ['n1', 'n2'], ip_version: '4', limit: '1', marker: 's2' })
      .reply(200, { subnets: [] });
    const subs = await collect(listSubnets(site.network, { network_id: ['n1', 'n2'], ip_version: 4, limit: 1 }));
    expect(subs.map((s) => [s.id, s.network_id])).to.deep.equal([
      ['s1', 'n1'],
      ['s2', 'n2'],
    ]);
    expectAllCalled();
  });

  it('creates a subnet with pools and routes, sending gateway_ip null for no gateway', async () => {
    const { site } = testSite();
    mockAuth();
    const opts = {
      network_id: 'n1',
      ip_version: 4,
      cidr: '10.1.0.0/24',
      gateway_ip: null,
      allocation_pools: [{ start: '10.1.0.10', end: '10.1.0.100' }],
      host_routes: [{ destination: '10.2.0.0/16', nexthop: '10.1.0.1' }],
      dns_nameservers: ['10.0.0.53'],
    } satisfies CreateSubnetOpts;
    nock(NEUTRON).post('/v2.0/subnets', { subnet: opts }).reply(201, { subnet: subnet('s9', { ...opts }) });
    const s = await createSubnet(site.network, opts);
    expect(s.gateway_ip).to.equal(null);
    expect(s.host_routes).to.deep.equal([{ destination: '10.2.0.0/16', nexthop: '10.1.0.1' }]);
    expectAllCalled();
  });

  it('updates a subnet with PUT and returns the new form', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .put('/v2.0/subnets/s1', { subnet: { dns_nameservers: ['1.1.1.1'], enable_dhcp: false } })
      .reply(200, { subnet: subnet('s1', { dns_nameservers: ['1.1.1.1'], enable_dhcp: false }) });
    const s = await updateSubnet(site.network, 's1', { dns_nameservers: ['1.1.1.1'], enable_dhcp: false });
    expect(s.enable_dhcp).to.equal(false);
  });

  it('maps SubnetNotFound to NotFoundError', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON).get('/v2.0/subnets/x').reply(404, neutronError('SubnetNotFound', 'Subnet x could not be found.'));
    const err = await caught(getSubnet(site.network, 'x'));
    expect(err).to.be.instanceOf(NotFoundError);
    expect((err as NotFoundError).type).to.equal('SubnetNotFound');
  });

  it('deletes idempotently and surfaces SubnetInUse', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .delete('/v2.0/subnets/s1')
      .reply(204)
      .delete('/v2.0/subnets/s2')
      .reply(404, neutronError('SubnetNotFound', 'Subnet s2 could not be found.'))
      .delete('/v2.0/subnets/s3')
      .reply(409, neutronError('SubnetInUse', 'Unable to complete operation on subnet s3: One or more ports have an IP allocation from this subnet.'));
    expect(await deleteSubnet(site.network, 's1')).to.equal(true);
    expect(await deleteSubnet(site.network, 's2')).to.equal(false);
    const err = await caught(deleteSubnet(site.network, 's3'));
    expect(err).to.be.instanceOf(ConflictError);
    expect((err as ConflictError).detail).to.match(/IP allocation from this subnet/);
    expectAllCalled();
  });
});
