import { expect } from 'chai';
import nock from 'nock';
import { BadRequestError, ConflictError, ResourceFailureError } from '../../../../lib/errors.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import {
  addRouterInterface,
  clearRouterGateway,
  createRouter,
  deleteRouter,
  listRouters,
  removeRouterInterface,
  setRouterGateway,
  waitForRouter,
} from '../../../../lib/openstack/network/routers.js';
import { NEUTRON, PROJECT_ID, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

// Shape: api-ref network v2 "Show router details" (Zed).
function router(id: string, status = 'ACTIVE', extra: Record<string, unknown> = {}) {
  return {
    id,
    name: `router-${id}`,
    description: '',
    status,
    admin_state_up: true,
    external_gateway_info: {
      network_id: 'ext-net',
      enable_snat: true,
      external_fixed_ips: [{ subnet_id: 'ext-sub', ip_address: '203.0.113.10' }],
    },
    routes: [],
    distributed: false,
    ha: false,
    availability_zone_hints: [],
    availability_zones: ['nova'],
    flavor_id: null,
    project_id: PROJECT_ID,
    tenant_id: PROJECT_ID,
    tags: [],
    created_at: '2026-11-27T03:00:00Z',
    updated_at: '2026-11-27T03:00:00Z',
    revision_number: 2,
    ...extra,
  };
}

// Shape: api-ref network v2 "Add interface to router" response (l3_db._make_router_interface_info).
const interfaceInfo = { id: 'r1', tenant_id: PROJECT_ID, project_id: PROJECT_ID, port_id: 'p-if', network_id: 'n1', subnet_id: 's1', subnet_ids: ['s1'] };

const neutronError = (type: string, message: string) => ({ NeutronError: { type, message, detail: '' } });

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('network/routers', () => {
  useNock();

  it('creates a router with its external gateway', async () => {
    const { site } = testSite();
    mockAuth();
    const gw = { network_id: 'ext-net', enable_snat: true, external_fixed_ips: [{ subnet_id: 'ext-sub', ip_address: '203.0.113.10' }] };
    nock(NEUTRON)
      .post('/v2.0/routers', { router: { name: 'edge', external_gateway_info: gw } })
      .reply(201, { router: router('r1', 'ACTIVE', { name: 'edge' }) });
    const r = await createRouter(site.network, { name: 'edge', external_gateway_info: gw });
    expect(r.external_gateway_info?.external_fixed_ips[0]?.ip_address).to.equal('203.0.113.10');
    expectAllCalled();
  });

  it('sets and clears the gateway with PUT (an empty object removes it)', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .put('/v2.0/routers/r1', { router: { external_gateway_info: { network_id: 'ext-net', enable_snat: false } } })
      .reply(200, { router: router('r1') })
      .put('/v2.0/routers/r1', { router: { external_gateway_info: {} } })
      .reply(200, { router: router('r1', 'ACTIVE', { external_gateway_info: null }) });
    await setRouterGateway(site.network, 'r1', { network_id: 'ext-net', enable_snat: false });
    const r = await clearRouterGateway(site.network, 'r1');
    expect(r.external_gateway_info).to.equal(null);
    expectAllCalled();
  });

  it('adds a subnet interface with PUT add_router_interface and returns the interface info', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON).put('/v2.0/routers/r1/add_router_interface', { subnet_id: 's1' }).reply(200, interfaceInfo);
    const info = await addRouterInterface(site.network, 'r1', { subnet_id: 's1' });
    expect(info).to.deep.equal(interfaceInfo);
    expectAllCalled();
  });

  it('adopts the existing interface when the router already has a port on the subnet', async () => {
    const { site } = testSite();
    mockAuth();
    // Message: neutron/db/l3_db.py _check_for_dup_router_subnets through n_exc.BadRequest.
    nock(NEUTRON)
      .put('/v2.0/routers/r1/add_router_interface', { subnet_id: 's1' })
      .reply(400, neutronError('BadRequest', 'Bad router request: Router already has a port on subnet s1.'))
      .get('/v2.0/ports')
      .query({ device_id: 'r1', fixed_ips: 'subnet_id=s1' })
      .reply(200, {
        ports: [
          {
            id: 'p-if',
            network_id: 'n1',
            device_id: 'r1',
            device_owner: 'network:router_interface',
            fixed_ips: [{ subnet_id: 's1', ip_address: '192.168.10.1' }],
            project_id: PROJECT_ID,
            tenant_id: PROJECT_ID,
          },
        ],
      });
    const info = await addRouterInterface(site.network, 'r1', { subnet_id: 's1' });
    expect(info).to.deep.equal(interfaceInfo);
    expectAllCalled();
  });

  it('adopts the interface when the same port is plugged again (409 PortInUse naming this router, as the lab answers)', async () => {
    const { site } = testSite();
    mockAuth();
    // Message: neutron_lib/exceptions PortInUse, as the lab's Zed Neutron returned it for a repeated add by port.
    nock(NEUTRON)
      .put('/v2.0/routers/r1/add_router_interface', { port_id: 'p-if' })
      .reply(409, neutronError('PortInUse', 'Unable to complete operation on port p-if for network n1. Port already has an attached device r1.'))
      .get('/v2.0/ports/p-if')
      .reply(200, {
        port: { id: 'p-if', network_id: 'n1', device_id: 'r1', device_owner: 'network:router_interface', fixed_ips: [{ subnet_id: 's1', ip_address: '192.168.10.254' }], project_id: PROJECT_ID, tenant_id: PROJECT_ID },
      });
    const info = await addRouterInterface(site.network, 'r1', { port_id: 'p-if' });
    expect(info).to.deep.equal(interfaceInfo);
    expectAllCalled();
  });

  it('keeps PortInUse a conflict when the port belongs to something else (a server, another router)', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .put('/v2.0/routers/r1/add_router_interface', { port_id: 'p-vm' })
      .reply(409, neutronError('PortInUse', 'Unable to complete operation on port p-vm for network n1. Port already has an attached device srv-1.'))
      .get('/v2.0/ports/p-vm')
      .reply(200, { port: { id: 'p-vm', network_id: 'n1', device_id: 'srv-1', device_owner: 'compute:nova', fixed_ips: [], project_id: PROJECT_ID, tenant_id: PROJECT_ID } })
      .put('/v2.0/routers/r1/add_router_interface', { port_id: 'p-if' })
      .reply(409, neutronError('PortInUse', 'Unable to complete operation on port p-if for network n1. Port already has an attached device r1.'));
    const other = await caught(addRouterInterface(site.network, 'r1', { port_id: 'p-vm' }));
    expect(other).to.be.instanceOf(ConflictError);
    expect((other as ConflictError).type).to.equal('PortInUse');
    const off = await caught(addRouterInterface(site.network, 'r1', { port_id: 'p-if' }, { adoptExisting: false }));
    expect(off).to.be.instanceOf(ConflictError);
    expectAllCalled();
  });

  it('fails on an existing interface when adoption is off, and on other bad requests', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .put('/v2.0/routers/r1/add_router_interface')
      .reply(400, neutronError('BadRequest', 'Bad router request: Router already has a port on subnet s1.'))
      .put('/v2.0/routers/r1/add_router_interface')
      .reply(400, neutronError('BadRequest', 'Bad router request: Subnet s2 does not have a gateway IP.'));
    const off = await caught(addRouterInterface(site.network, 'r1', { subnet_id: 's1' }, { adoptExisting: false }));
    expect(off).to.be.instanceOf(BadRequestError);
    const other = await caught(addRouterInterface(site.network, 'r1', { subnet_id: 's2' }));
    expect((other as BadRequestError).detail).to.match(/does not have a gateway IP/);
    expectAllCalled();
  });

  it('removes an interface; one already gone returns false, one in use by floating IPs is a conflict', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .put('/v2.0/routers/r1/remove_router_interface', { port_id: 'p-if' })
      .reply(200, interfaceInfo)
      .put('/v2.0/routers/r1/remove_router_interface', { subnet_id: 's9' })
      .reply(404, neutronError('RouterInterfaceNotFoundForSubnet', 'Router r1 has no interface on subnet s9'))
      .put('/v2.0/routers/r1/remove_router_interface', { subnet_id: 's1' })
      .reply(409, neutronError('RouterInterfaceInUseByFloatingIP', 'Router interface for subnet s1 on router r1 cannot be deleted, as it is required by one or more floating IPs.'));
    expect(await removeRouterInterface(site.network, 'r1', { port_id: 'p-if' })).to.equal(true);
    expect(await removeRouterInterface(site.network, 'r1', { subnet_id: 's9' })).to.equal(false);
    expect(await caught(removeRouterInterface(site.network, 'r1', { subnet_id: 's1' }))).to.be.instanceOf(ConflictError);
    expectAllCalled();
  });

  it('waits from ALLOCATING to ACTIVE and fails fast on ERROR', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .get('/v2.0/routers/r1')
      .reply(200, { router: router('r1', 'ALLOCATING') })
      .get('/v2.0/routers/r1')
      .reply(200, { router: router('r1', 'ACTIVE') })
      .get('/v2.0/routers/r2')
      .reply(200, { router: router('r2', 'ERROR') });
    expect((await waitForRouter(site.network, 'r1', undefined, { intervalMs: 1 })).status).to.equal('ACTIVE');
    const err = await caught(waitForRouter(site.network, 'r2', undefined, { intervalMs: 1 }));
    expect(err).to.be.instanceOf(ResourceFailureError);
    expectAllCalled();
  });

  it('lists routers across pages and deletes idempotently', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .get('/v2.0/routers')
      .query({ limit: '1' })
      .reply(200, { routers: [router('r1')], routers_links: [{ rel: 'next', href: `${NEUTRON}/v2.0/routers?limit=1&marker=r1` }] })
      .get('/v2.0/routers')
      .query({ limit: '1', marker: 'r1' })
      .reply(200, { routers: [router('r2')], routers_links: [{ rel: 'previous', href: `${NEUTRON}/v2.0/routers?limit=1&marker=r2&page_reverse=True` }] })
      .delete('/v2.0/routers/r1')
      .reply(204)
      .delete('/v2.0/routers/r2')
      .reply(404, neutronError('RouterNotFound', 'Router r2 could not be found'));
    expect((await collect(listRouters(site.network, { limit: 1 }))).map((r) => r.id)).to.deep.equal(['r1', 'r2']);
    expect(await deleteRouter(site.network, 'r1')).to.equal(true);
    expect(await deleteRouter(site.network, 'r2')).to.equal(false);
    expectAllCalled();
  });
});
