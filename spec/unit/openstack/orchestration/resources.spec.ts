import { expect } from 'chai';
import nock from 'nock';
import { NotFoundError } from '../../../../lib/errors.js';
import { findResourceByPhysicalId, getResource, listResources, markResourceUnhealthy } from '../../../../lib/openstack/orchestration/resources.js';
import { HEAT, PROJECT_ID, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

const base = `/v1/${PROJECT_ID}`;
const SID = '3095aefc-09fb-4bc7-b1f0-f21a304e864c';
const ident = { stack_name: 'web', id: SID };
const resources = `${base}/stacks/web/${SID}/resources`;

// Shape: api-ref orchestration v1 "List stack resources" (resources.py format_resource).
function resource(name: string, type: string, physical: string, extra: Record<string, unknown> = {}) {
  const stackUrl = `${HEAT}${base}/stacks/web/${SID}`;
  return {
    resource_name: name,
    logical_resource_id: name,
    physical_resource_id: physical,
    resource_type: type,
    resource_status: 'CREATE_COMPLETE',
    resource_status_reason: 'state changed',
    creation_time: '2026-11-27T03:00:00Z',
    updated_time: '2026-11-27T03:00:00Z',
    required_by: [],
    links: [
      { href: `${stackUrl}/resources/${name}`, rel: 'self' },
      { href: stackUrl, rel: 'stack' },
    ],
    ...extra,
  };
}

function heatError(message: string, type = 'ResourceNotFound') {
  return { explanation: 'The resource could not be found.', code: 404, error: { message, traceback: null, type }, title: 'Not Found' };
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('orchestration/resources', () => {
  useNock();

  it('lists resources with nested_depth, with_detail and a type filter', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(resources)
      .query({ nested_depth: '2', with_detail: 'true', type: ['OS::Nova::Server', 'OS::Neutron::Port'] })
      .reply(200, {
        resources: [
          resource('server', 'OS::Nova::Server', 'srv-1', { properties: { flavor: 'm1.small' }, attributes: { first_address: '10.0.0.5' } }),
          resource('port', 'OS::Neutron::Port', 'p1', { parent_resource: 'group' }),
        ],
      });
    const list = await listResources(site.orchestration, ident, { nested_depth: 2, with_detail: true, type: ['OS::Nova::Server', 'OS::Neutron::Port'] });
    expect(list.map((r) => [r.resource_name, r.physical_resource_id])).to.deep.equal([
      ['server', 'srv-1'],
      ['port', 'p1'],
    ]);
    expect(list[0]!.properties).to.deep.equal({ flavor: 'm1.small' });
    expect(list[1]!.parent_resource).to.equal('group');
    expectAllCalled();
  });

  it('resolves a stack name through the 302 lookup before listing', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`${base}/stacks/web`)
      .reply(302, '', { Location: `https://heat.internal.site-a.test:8004${base}/stacks/web/${SID}` })
      .get(resources)
      .reply(200, { resources: [] });
    expect(await listResources(site.orchestration, 'web')).to.deep.equal([]);
    expectAllCalled();
  });

  it('shows a resource, asking for extra attributes with repeated with_attr', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`${resources}/server`)
      .query({ with_attr: ['networks', 'addresses'] })
      .reply(200, { resource: resource('server', 'OS::Nova::Server', 'srv-1', { attributes: { networks: {}, addresses: {} } }) });
    const r = await getResource(site.orchestration, ident, 'server', { withAttr: ['networks', 'addresses'] });
    expect(r.attributes).to.have.keys('networks', 'addresses');
  });

  it('maps a missing resource to NotFoundError with Heat\'s message', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT).get(`${resources}/nope`).reply(404, heatError('The Resource (nope) could not be found in Stack web.'));
    const err = await caught(getResource(site.orchestration, ident, 'nope'));
    expect(err).to.be.instanceOf(NotFoundError);
    expect((err as NotFoundError).type).to.equal('ResourceNotFound');
    expect((err as NotFoundError).detail).to.match(/could not be found in Stack web/);
  });

  it('marks a resource unhealthy with PATCH and a reason, retrying a 503', async () => {
    const { site } = testSite();
    mockAuth();
    const body = { mark_unhealthy: true, resource_status_reason: 'replica diverged' };
    nock(HEAT).patch(`${resources}/server`, body).reply(503, 'busy').patch(`${resources}/server`, body).reply(200, 'null');
    await markResourceUnhealthy(site.orchestration, ident, 'server', { mark_unhealthy: true, resource_status_reason: 'replica diverged' });
    expectAllCalled();
  });

  it('finds the resource that made an object by physical_resource_id', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(resources)
      .query({ physical_resource_id: 'vol-1', nested_depth: '3' })
      .reply(200, { resources: [resource('data', 'OS::Cinder::Volume', 'vol-1')] })
      .get(resources)
      .query({ physical_resource_id: 'vol-2' })
      .reply(200, { resources: [] });
    expect((await findResourceByPhysicalId(site.orchestration, ident, 'vol-1', { nested_depth: 3 }))?.resource_name).to.equal('data');
    expect(await findResourceByPhysicalId(site.orchestration, ident, 'vol-2')).to.equal(undefined);
    expectAllCalled();
  });
});
