import { expect } from 'chai';
import nock from 'nock';
import { ConflictError, ResourceFailureError } from '../../../../lib/errors.js';
import {
  associateFloatingIp,
  createFloatingIp,
  deleteFloatingIp,
  disassociateFloatingIp,
  listFloatingIps,
  waitForFloatingIp,
  waitForFloatingIpDeleted,
} from '../../../../lib/openstack/network/floatingips.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { NEUTRON, PROJECT_ID, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

// Shape: api-ref network v2 "Show floating IP details" (Zed), with fip-port-details.
function fip(id: string, status = 'ACTIVE', extra: Record<string, unknown> = {}) {
  return {
    id,
    floating_ip_address: '203.0.113.20',
    floating_network_id: 'ext-net',
    router_id: 'r1',
    port_id: 'p1',
    fixed_ip_address: '192.168.10.5',
    status,
    description: '',
    project_id: PROJECT_ID,
    tenant_id: PROJECT_ID,
    port_details: { name: 'web-0', network_id: 'n1', mac_address: 'fa:16:3e:12:34:56', admin_state_up: true, status: 'ACTIVE', device_id: 'srv-1', device_owner: 'compute:nova' },
    dns_domain: '',
    dns_name: '',
    qos_policy_id: null,
    tags: [],
    created_at: '2026-11-27T03:00:00Z',
    updated_at: '2026-11-27T03:00:00Z',
    revision_number: 1,
    ...extra,
  };
}

const unassociated = { router_id: null, port_id: null, fixed_ip_address: null, port_details: null };
const neutronError = (type: string, message: string) => ({ NeutronError: { type, message, detail: '' } });

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('network/floatingips', () => {
  useNock();

  it('allocates a given address on the external network, associated at once', async () => {
    const { site } = testSite();
    mockAuth();
    const body = { floatingip: { floating_network_id: 'ext-net', floating_ip_address: '203.0.113.20', port_id: 'p1', fixed_ip_address: '192.168.10.5' } };
    nock(NEUTRON).post('/v2.0/floatingips', body).reply(201, { floatingip: fip('f1', 'DOWN') });
    const f = await createFloatingIp(site.network, body.floatingip);
    expect(f.status).to.equal('DOWN');
    expect(f.port_details?.device_id).to.equal('srv-1');
    expectAllCalled();
  });

  it('never retries the allocation (a retry could take a second address)', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON).post('/v2.0/floatingips').once().reply(503, 'busy');
    const err = await caught(createFloatingIp(site.network, { floating_network_id: 'ext-net' }));
    expect((err as { status: number }).status).to.equal(503);
    expectAllCalled();
  });

  it('associates with PUT port_id (and fixed address), retrying a 503', async () => {
    const { site } = testSite();
    mockAuth();
    const body = { floatingip: { port_id: 'p2', fixed_ip_address: '192.168.10.6' } };
    nock(NEUTRON)
      .put('/v2.0/floatingips/f1', body)
      .reply(503, neutronError('ServiceUnavailable', 'busy'))
      .put('/v2.0/floatingips/f1', body)
      .reply(200, { floatingip: fip('f1', 'ACTIVE', { port_id: 'p2', fixed_ip_address: '192.168.10.6' }) });
    const f = await associateFloatingIp(site.network, 'f1', 'p2', '192.168.10.6');
    expect(f.port_id).to.equal('p2');
    expectAllCalled();
  });

  it('disassociates with PUT port_id null', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .put('/v2.0/floatingips/f1', { floatingip: { port_id: null } })
      .reply(200, { floatingip: fip('f1', 'DOWN', unassociated) });
    const f = await disassociateFloatingIp(site.network, 'f1');
    expect(f.port_id).to.equal(null);
    expect(f.router_id).to.equal(null);
  });

  it('reports a port already associated with another floating IP as ConflictError', async () => {
    const { site } = testSite();
    mockAuth();
    // Message: neutron_lib/exceptions/l3.py FloatingIPPortAlreadyAssociated.
    nock(NEUTRON)
      .put('/v2.0/floatingips/f2')
      .reply(
        409,
        neutronError(
          'FloatingIPPortAlreadyAssociated',
          'Cannot associate floating IP 203.0.113.21 (f2) with port p1 using fixed IP 192.168.10.5, as that fixed IP already has a floating IP on external network ext-net.',
        ),
      );
    const err = await caught(associateFloatingIp(site.network, 'f2', 'p1'));
    expect(err).to.be.instanceOf(ConflictError);
    expect((err as ConflictError).type).to.equal('FloatingIPPortAlreadyAssociated');
  });

  it('waits from DOWN to ACTIVE, fails fast on ERROR, and sees 404 as deleted', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .get('/v2.0/floatingips/f1')
      .reply(200, { floatingip: fip('f1', 'DOWN') })
      .get('/v2.0/floatingips/f1')
      .reply(200, { floatingip: fip('f1', 'ACTIVE') })
      .get('/v2.0/floatingips/f2')
      .reply(200, { floatingip: fip('f2', 'ERROR') })
      .get('/v2.0/floatingips/f3')
      .reply(404, neutronError('FloatingIPNotFound', 'Floating IP f3 could not be found'));
    expect((await waitForFloatingIp(site.network, 'f1', undefined, { intervalMs: 1 })).status).to.equal('ACTIVE');
    const err = await caught(waitForFloatingIp(site.network, 'f2', undefined, { intervalMs: 1 }));
    expect(err).to.be.instanceOf(ResourceFailureError);
    expect((err as ResourceFailureError).status).to.equal('ERROR');
    await waitForFloatingIpDeleted(site.network, 'f3', { intervalMs: 1 });
    expectAllCalled();
  });

  it('lists by port across pages and releases idempotently', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .get('/v2.0/floatingips')
      .query({ port_id: 'p1', limit: '1' })
      .reply(200, { floatingips: [fip('f1')], floatingips_links: [{ rel: 'next', href: `${NEUTRON}/v2.0/floatingips?port_id=p1&limit=1&marker=f1` }] })
      .get('/v2.0/floatingips')
      .query({ port_id: 'p1', limit: '1', marker: 'f1' })
      .reply(200, { floatingips: [] })
      .delete('/v2.0/floatingips/f1')
      .reply(204)
      .delete('/v2.0/floatingips/f1')
      .reply(404, neutronError('FloatingIPNotFound', 'Floating IP f1 could not be found'));
    expect((await collect(listFloatingIps(site.network, { port_id: 'p1', limit: 1 }))).map((f) => f.id)).to.deep.equal(['f1']);
    expect(await deleteFloatingIp(site.network, 'f1')).to.equal(true);
    expect(await deleteFloatingIp(site.network, 'f1')).to.equal(false);
    expectAllCalled();
  });
});
