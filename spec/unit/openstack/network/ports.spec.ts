import { expect } from 'chai';
import nock from 'nock';
import { ConflictError, FerryError, ResourceFailureError } from '../../../../lib/errors.js';
import {
  createPort,
  deletePort,
  listPorts,
  toListPortsQuery,
  updatePort,
  waitForPort,
  waitForPortDeleted,
  type CreatePortOpts,
} from '../../../../lib/openstack/network/ports.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { NEUTRON, PROJECT_ID, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

// Shape: api-ref network v2 "Show port details" (Zed), as an admin sees it (binding fields).
function port(id: string, status = 'ACTIVE', extra: Record<string, unknown> = {}) {
  return {
    id,
    name: `port-${id}`,
    description: '',
    network_id: 'n1',
    mac_address: 'fa:16:3e:12:34:56',
    fixed_ips: [{ subnet_id: 's1', ip_address: '192.168.10.5' }],
    device_id: 'srv-1',
    device_owner: 'compute:nova',
    status,
    admin_state_up: true,
    project_id: PROJECT_ID,
    tenant_id: PROJECT_ID,
    security_groups: ['sg-1'],
    allowed_address_pairs: [],
    port_security_enabled: true,
    'binding:host_id': 'compute-1',
    'binding:vnic_type': 'normal',
    'binding:profile': {},
    'binding:vif_type': 'ovs',
    'binding:vif_details': { port_filter: true },
    extra_dhcp_opts: [],
    dns_name: '',
    dns_assignment: [{ hostname: 'host-192-168-10-5', ip_address: '192.168.10.5', fqdn: 'host-192-168-10-5.openstacklocal.' }],
    qos_policy_id: null,
    tags: [],
    created_at: '2026-11-27T03:00:00Z',
    updated_at: '2026-11-27T03:00:00Z',
    revision_number: 7,
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

describe('network/ports', () => {
  useNock();

  it('sends each fixed_ips filter as its own key=value parameter', () => {
    const q = toListPortsQuery({ fixed_ips: [{ ip_address: '10.0.0.5' }, { subnet_id: 's1', ip_address_substr: '10.0' }], device_owner: ['compute:nova', 'network:dhcp'] });
    expect(q).to.deep.equal({ fixed_ips: ['ip_address=10.0.0.5', 'subnet_id=s1', 'ip_address_substr=10.0'], device_owner: ['compute:nova', 'network:dhcp'] });
  });

  it('lists ports by address, device and tag across pages', async () => {
    const { site } = testSite();
    mockAuth();
    const query = { fixed_ips: ['ip_address=192.168.10.5', 'subnet_id=s1'], device_id: 'srv-1', 'tags-any': 'ferry:plan=web,ferry:plan=db', limit: '1' };
    nock(NEUTRON)
      .get('/v2.0/ports')
      .query(query)
      .reply(200, {
        ports: [port('p1')],
        ports_links: [
          {
            rel: 'next',
            href: `${NEUTRON}/v2.0/ports?fixed_ips=ip_address%3D192.168.10.5&fixed_ips=subnet_id%3Ds1&device_id=srv-1&tags-any=ferry%3Aplan%3Dweb%2Cferry%3Aplan%3Ddb&limit=1&marker=p1`,
          },
        ],
      })
      .get('/v2.0/ports')
      .query({ ...query, marker: 'p1' })
      .reply(200, { ports: [port('p2')] });
    const ports = await collect(
      listPorts(site.network, { fixed_ips: [{ ip_address: '192.168.10.5' }, { subnet_id: 's1' }], device_id: 'srv-1', 'tags-any': ['ferry:plan=web', 'ferry:plan=db'], limit: 1 }),
    );
    expect(ports.map((p) => p.id)).to.deep.equal(['p1', 'p2']);
    expect(ports[0]!['binding:vif_details']).to.deep.equal({ port_filter: true });
    expectAllCalled();
  });

  it('creates a port keeping MAC and address, with security groups, address pairs, binding and tags', async () => {
    const { site } = testSite();
    mockAuth();
    const opts = {
      network_id: 'n1',
      name: 'web-0',
      fixed_ips: [{ subnet_id: 's1', ip_address: '192.168.10.5' }],
      mac_address: 'fa:16:3e:12:34:56',
      security_groups: ['sg-1', 'sg-2'],
      allowed_address_pairs: [{ ip_address: '192.168.10.100' }],
      port_security_enabled: true,
      'binding:vnic_type': 'normal',
      tags: ['ferry:plan=web'],
    } satisfies CreatePortOpts;
    nock(NEUTRON).post('/v2.0/ports', { port: opts }).reply(201, { port: port('p9', 'DOWN', { ...opts, device_id: '', device_owner: '' }) });
    const p = await createPort(site.network, opts);
    expect(p.status).to.equal('DOWN');
    expect(p.fixed_ips).to.deep.equal([{ subnet_id: 's1', ip_address: '192.168.10.5' }]);
    expect(p.tags).to.deep.equal(['ferry:plan=web']);
    expectAllCalled();
  });

  it('sets the tags after create when Neutron dropped them (no tag_ports_during_bulk_creation driver, as in the lab)', async () => {
    const { site } = testSite();
    mockAuth();
    // The lab's Zed Neutron (extension_drivers = port_security) answers 201 with tags: [] for a POST with tags.
    nock(NEUTRON)
      .post('/v2.0/ports', { port: { network_id: 'n1', tags: ['ferry:plan=web', 'ferry:run=r1'] } })
      .reply(201, { port: port('p9', 'DOWN', { tags: [], revision_number: 1 }) })
      .put('/v2.0/ports/p9/tags', { tags: ['ferry:plan=web', 'ferry:run=r1'] })
      .reply(200, { tags: ['ferry:plan=web', 'ferry:run=r1'] })
      .get('/v2.0/ports/p9')
      .reply(200, { port: port('p9', 'DOWN', { tags: ['ferry:plan=web', 'ferry:run=r1'], revision_number: 2 }) });
    const p = await createPort(site.network, { network_id: 'n1', tags: ['ferry:plan=web', 'ferry:run=r1'] });
    expect(p.tags).to.deep.equal(['ferry:plan=web', 'ferry:run=r1']);
    expect(p.revision_number, 'the revision after tagging').to.equal(2);
    expectAllCalled();
  });

  it('names the created port when tagging it afterwards fails', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .post('/v2.0/ports')
      .reply(201, { port: port('p9', 'DOWN', { tags: [] }) })
      .put('/v2.0/ports/p9/tags')
      .reply(400, neutronError('InvalidInput', 'Invalid input for operation: tags.'));
    const err = await caught(createPort(site.network, { network_id: 'n1', tags: ['x'] }));
    expect(err).to.be.instanceOf(FerryError);
    expect((err as Error).message).to.match(/port p9 was created but tagging it failed/);
    expect((err as Error).message).to.match(/Invalid input/);
    expectAllCalled();
  });

  it('reports an address already taken as ConflictError, without retrying the POST', async () => {
    const { site } = testSite();
    mockAuth();
    // Message: neutron_lib/exceptions IpAddressAlreadyAllocated.
    nock(NEUTRON)
      .post('/v2.0/ports')
      .once()
      .reply(409, neutronError('IpAddressAlreadyAllocated', 'IP address 192.168.10.5 already allocated in subnet s1'));
    const err = await caught(createPort(site.network, { network_id: 'n1', fixed_ips: [{ ip_address: '192.168.10.5' }] }));
    expect(err).to.be.instanceOf(ConflictError);
    expect((err as ConflictError).type).to.equal('IpAddressAlreadyAllocated');
    expectAllCalled();
  });

  it('updates security groups and address pairs with PUT and If-Match', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .put('/v2.0/ports/p1', { port: { security_groups: [], port_security_enabled: false, allowed_address_pairs: [] } })
      .matchHeader('If-Match', 'revision_number=7')
      .reply(200, { port: port('p1', 'ACTIVE', { security_groups: [], port_security_enabled: false, revision_number: 8 }) });
    const p = await updatePort(site.network, 'p1', { security_groups: [], port_security_enabled: false, allowed_address_pairs: [] }, { ifRevision: 7 });
    expect(p.port_security_enabled).to.equal(false);
    expect(p.revision_number).to.equal(8);
  });

  it('waits through BUILD to ACTIVE and reports progress', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON).get('/v2.0/ports/p1').reply(200, { port: port('p1', 'BUILD') }).get('/v2.0/ports/p1').reply(200, { port: port('p1', 'ACTIVE') });
    const seen: string[] = [];
    const p = await waitForPort(site.network, 'p1', ['ACTIVE'], { intervalMs: 1, onProgress: (s) => seen.push(s) });
    expect(p.status).to.equal('ACTIVE');
    expect(seen).to.deep.equal(['BUILD', 'ACTIVE']);
  });

  it('accepts DOWN by default and fails fast on ERROR', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON).get('/v2.0/ports/p1').reply(200, { port: port('p1', 'DOWN') }).get('/v2.0/ports/p2').reply(200, { port: port('p2', 'ERROR') });
    expect((await waitForPort(site.network, 'p1', undefined, { intervalMs: 1 })).status).to.equal('DOWN');
    const err = await caught(waitForPort(site.network, 'p2', undefined, { intervalMs: 1, timeoutMs: 60_000 }));
    expect(err).to.be.instanceOf(ResourceFailureError);
    expect((err as ResourceFailureError).status).to.equal('ERROR');
    expectAllCalled();
  });

  it('treats 404 as deleted, and deletes idempotently', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .get('/v2.0/ports/p1')
      .reply(200, { port: port('p1', 'ACTIVE') })
      .get('/v2.0/ports/p1')
      .reply(404, neutronError('PortNotFound', 'Port p1 could not be found.'))
      .delete('/v2.0/ports/p1')
      .reply(404, neutronError('PortNotFound', 'Port p1 could not be found.'))
      .delete('/v2.0/ports/p2')
      .reply(204);
    await waitForPortDeleted(site.network, 'p1', { intervalMs: 1 });
    expect(await deletePort(site.network, 'p1')).to.equal(false);
    expect(await deletePort(site.network, 'p2')).to.equal(true);
    expectAllCalled();
  });
});
