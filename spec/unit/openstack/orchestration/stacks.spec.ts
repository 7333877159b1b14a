import { expect } from 'chai';
import nock from 'nock';
import { ConflictError, FerryError, NotFoundError, ResourceFailureError } from '../../../../lib/errors.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import type { StackEvent } from '../../../../lib/openstack/orchestration/events.js';
import {
  createStack,
  deleteStack,
  findStack,
  getStack,
  getStackEnvironment,
  getStackFiles,
  getStackOutput,
  getStackTemplate,
  identityFromLocation,
  listStacks,
  previewStack,
  resolveStack,
  stackFailures,
  updateStack,
  waitForStack,
  waitForStackDeleted,
} from '../../../../lib/openstack/orchestration/stacks.js';
import { HEAT, PROJECT_ID, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

const base = `/v1/${PROJECT_ID}`;
const SID = '3095aefc-09fb-4bc7-b1f0-f21a304e864c';
const ident = { stack_name: 'web', id: SID };
// Heat builds the Location from its own idea of its URL (heat_api_root or the request host):
// behind a proxy that is often an internal host, which Ferry must not follow.
const LOCATION = `https://heat.internal.site-a.test:8004/v1/${PROJECT_ID}/stacks/web/${SID}`;

// Shape: api-ref orchestration v1 "Show stack details" (Zed).
function stack(status = 'CREATE_COMPLETE', extra: Record<string, unknown> = {}) {
  return {
    capabilities: [],
    creation_time: '2026-11-27T03:00:00Z',
    deletion_time: null,
    description: 'web tier',
    disable_rollback: true,
    id: SID,
    links: [{ href: LOCATION, rel: 'self' }],
    notification_topics: [],
    outputs: [{ output_key: 'vip', output_value: '203.0.113.20', description: 'Public address' }],
    parameters: { 'OS::project_id': PROJECT_ID, 'OS::stack_id': SID, 'OS::stack_name': 'web', flavor: 'm1.small' },
    parent: null,
    stack_name: 'web',
    stack_owner: null,
    stack_status: status,
    stack_status_reason: status === 'CREATE_COMPLETE' ? 'Stack CREATE completed successfully' : 'Stack CREATE started',
    stack_user_project_id: 'e2f3b0e0c4a64e0a9ab6e8a0d1e2f3a4',
    tags: ['ferry', 'plan=web'],
    template_description: 'web tier',
    timeout_mins: 60,
    updated_time: null,
    ...extra,
  };
}

// Shape: views/stacks_view.py collection(): basic_keys only.
function summary(id: string, name: string, status = 'CREATE_COMPLETE') {
  return {
    id,
    stack_name: name,
    description: '',
    stack_status: status,
    stack_status_reason: '',
    creation_time: '2026-11-27T03:00:00Z',
    updated_time: null,
    deletion_time: null,
    stack_owner: null,
    parent: null,
    stack_user_project_id: 'e2f3',
    tags: null,
    links: [{ href: `${HEAT}${base}/stacks/${name}/${id}`, rel: 'self' }],
  };
}

// Shape: heat/api/middleware/fault.py FaultWrapper._error.
function heatError(code: number, title: string, type: string, message: string) {
  const explanation: Record<number, string> = { 404: 'The resource could not be found.', 409: 'There was a conflict when trying to complete your request.' };
  return { explanation: explanation[code] ?? '', code, error: { message, traceback: null, type }, title };
}

// Shape: api-ref orchestration v1 "List stack events" item.
function event(id: string, status: string) {
  return {
    id,
    event_time: '2026-11-27T03:00:01Z',
    resource_name: 'server',
    logical_resource_id: 'server',
    physical_resource_id: null,
    resource_status: status,
    resource_status_reason: 'state changed',
    links: [{ href: `${LOCATION}/resources/server/events/${id}`, rel: 'self' }],
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

describe('orchestration/stacks', () => {
  useNock();

  it('creates a stack: object template, environment, files, parameters, comma-joined tags; 201 {id, links}', async () => {
    const { site } = testSite();
    mockAuth();
    const template = { heat_template_version: '2021-04-16', resources: { net: { type: 'OS::Neutron::Net' } } };
    const environment = { parameter_defaults: { flavor: 'm1.small' }, resource_registry: { 'OS::Ferry::Server': 'server.yaml' } };
    nock(HEAT)
      .post(`${base}/stacks`, {
        stack_name: 'web',
        template,
        environment,
        files: { 'server.yaml': 'heat_template_version: 2021-04-16\n' },
        parameters: { key_name: 'ops' },
        tags: 'ferry,plan=web',
        timeout_mins: 60,
        disable_rollback: true,
      })
      .reply(201, { stack: { id: SID, links: [{ href: LOCATION, rel: 'self' }] } }, { Location: LOCATION });
    const created = await createStack(site.orchestration, {
      stack_name: 'web',
      template,
      environment,
      files: { 'server.yaml': 'heat_template_version: 2021-04-16\n' },
      parameters: { key_name: 'ops' },
      tags: ['ferry', 'plan=web'],
      timeout_mins: 60,
      disable_rollback: true,
    });
    expect(created).to.deep.equal({ id: SID, links: [{ href: LOCATION, rel: 'self' }] });
    expectAllCalled();
  });

  it('sends a template given as text unchanged, and refuses a tag with a comma before sending', async () => {
    const { site } = testSite();
    mockAuth();
    const text = 'heat_template_version: 2021-04-16\nresources: {}\n';
    nock(HEAT).post(`${base}/stacks`, { stack_name: 'txt', template: text }).reply(201, { stack: { id: 'x', links: [] } });
    await createStack(site.orchestration, { stack_name: 'txt', template: text });
    const err = await caught(createStack(site.orchestration, { stack_name: 'bad', template: text, tags: ['a,b'] }));
    expect(err).to.be.instanceOf(FerryError);
    expect(String(err)).to.match(/"a,b" contains a comma/);
    expectAllCalled();
  });

  it('never retries a create; maps Heat 409 StackExists with its message', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .post(`${base}/stacks`)
      .once()
      .reply(503, 'busy')
      .post(`${base}/stacks`)
      .once()
      .reply(409, heatError(409, 'Conflict', 'StackExists', 'The Stack (web) already exists.'));
    expect(((await caught(createStack(site.orchestration, { stack_name: 'web', template: {} }))) as { status: number }).status).to.equal(503);
    const err = await caught(createStack(site.orchestration, { stack_name: 'web', template: {} }));
    expect(err).to.be.instanceOf(ConflictError);
    expect((err as ConflictError).type).to.equal('StackExists');
    expect((err as ConflictError).detail).to.equal('The Stack (web) already exists.');
    expectAllCalled();
  });

  it('gets a stack by name: reads the 302 Location, then shows stacks/{name}/{id} on the catalog host', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`${base}/stacks/web`)
      .reply(302, '{"code": 302, "message": "The resource was found", "title": "Found"}', { Location: LOCATION })
      .get(`${base}/stacks/web/${SID}`)
      .reply(200, { stack: stack() });
    const s = await getStack(site.orchestration, 'web');
    expect(s.id).to.equal(SID);
    expect(s.outputs?.[0]?.output_value).to.equal('203.0.113.20');
    expect(s.tags).to.deep.equal(['ferry', 'plan=web']);
    expectAllCalled();
  });

  it('gets a stack by identity or "name/id" in one request, optionally without resolving outputs', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`${base}/stacks/web/${SID}`)
      .query({ resolve_outputs: 'false' })
      .reply(200, { stack: stack('CREATE_COMPLETE', { outputs: undefined }) })
      .get(`${base}/stacks/web/${SID}`)
      .reply(200, { stack: stack() });
    expect((await getStack(site.orchestration, ident, { resolveOutputs: false })).outputs).to.equal(undefined);
    expect((await getStack(site.orchestration, `web/${SID}`)).stack_name).to.equal('web');
    expectAllCalled();
  });

  it('maps Heat 404 EntityNotFound to NotFoundError with the error message', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`${base}/stacks/nope`)
      .reply(404, heatError(404, 'Not Found', 'EntityNotFound', 'The Stack (nope) could not be found.'), { 'x-openstack-request-id': 'req-heat-404' });
    const err = await caught(getStack(site.orchestration, 'nope'));
    expect(err).to.be.instanceOf(NotFoundError);
    expect((err as NotFoundError).type).to.equal('EntityNotFound');
    expect((err as NotFoundError).detail).to.equal('The Stack (nope) could not be found.');
    expect((err as NotFoundError).requestId).to.equal('req-heat-404');
  });

  it('reads stack identities from Location headers, decoding names', () => {
    expect(identityFromLocation(`https://h:8004/v1/p/stacks/my%20stack/${SID}/resources?nested_depth=1`)).to.deep.equal({ stack_name: 'my stack', id: SID });
    expect(() => identityFromLocation('https://h:8004/v1/p/stacks')).to.throw(/names no stack/);
  });

  it('lists stacks with marker paging and Heat filters (tags comma-joined, status repeated)', async () => {
    const { site } = testSite();
    mockAuth();
    const q = { tags: 'ferry,plan=web', status: ['CREATE_COMPLETE', 'UPDATE_COMPLETE'], show_nested: 'true', limit: '2' };
    nock(HEAT)
      .get(`${base}/stacks`)
      .query(q)
      .reply(200, {
        stacks: [summary('s1', 'a'), summary('s2', 'b')],
        links: [{ rel: 'next', href: `${HEAT}${base}/stacks?limit=2&marker=s2` }],
      })
      .get(`${base}/stacks`)
      .query({ ...q, marker: 's2' })
      .reply(200, { stacks: [summary('s3', 'c')] });
    const all = await collect(listStacks(site.orchestration, { tags: ['ferry', 'plan=web'], status: ['CREATE_COMPLETE', 'UPDATE_COMPLETE'], show_nested: true, limit: 2 }));
    expect(all.map((s) => s.id)).to.deep.equal(['s1', 's2', 's3']);
    expectAllCalled();
  });

  it('finds a stack by exact name, or undefined', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`${base}/stacks`)
      .query({ name: 'web', limit: '100' })
      .reply(200, { stacks: [summary(SID, 'web')] })
      .get(`${base}/stacks`)
      .query({ name: 'gone', limit: '100' })
      .reply(200, { stacks: [] });
    expect((await findStack(site.orchestration, 'web'))?.id).to.equal(SID);
    expect(await findStack(site.orchestration, 'gone')).to.equal(undefined);
    expectAllCalled();
  });

  it('previews a create with POST stacks/preview', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .post(`${base}/stacks/preview`, { stack_name: 'web', template: { heat_template_version: '2021-04-16' } })
      .reply(200, { stack: { ...stack('INIT_COMPLETE'), resources: [{ resource_name: 'net', resource_type: 'OS::Neutron::Net' }] } });
    const p = await previewStack(site.orchestration, { stack_name: 'web', template: { heat_template_version: '2021-04-16' } });
    expect(p.resources).to.have.length(1);
  });

  it('updates with PUT, or PATCH for an existing-parameters update (202)', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .put(`${base}/stacks/web/${SID}`, { template: { heat_template_version: '2021-04-16' }, parameters: { flavor: 'm1.large' }, tags: 'ferry' })
      .reply(202, '')
      .get(`${base}/stacks/web`)
      .reply(302, '', { Location: LOCATION })
      .patch(`${base}/stacks/web/${SID}`, { parameters: { flavor: 'm1.medium' }, clear_parameters: ['key_name'] })
      .reply(202, '');
    await updateStack(site.orchestration, ident, { template: { heat_template_version: '2021-04-16' }, parameters: { flavor: 'm1.large' }, tags: ['ferry'] });
    const id = await updateStack(site.orchestration, 'web', { existing: true, parameters: { flavor: 'm1.medium' }, clear_parameters: ['key_name'] });
    expect(id).to.deep.equal(ident);
    expectAllCalled();
  });

  it('deletes by name through the lookup (204), and a missing stack returns false', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`${base}/stacks/web`)
      .reply(302, '', { Location: LOCATION })
      .delete(`${base}/stacks/web/${SID}`)
      .reply(204)
      .get(`${base}/stacks/gone`)
      .reply(404, heatError(404, 'Not Found', 'EntityNotFound', 'The Stack (gone) could not be found.'))
      .delete(`${base}/stacks/web/${SID}`)
      .reply(404, heatError(404, 'Not Found', 'EntityNotFound', `The Stack (${SID}) could not be found.`));
    expect(await deleteStack(site.orchestration, 'web')).to.equal(true);
    expect(await deleteStack(site.orchestration, 'gone')).to.equal(false);
    expect(await caught(deleteStack(site.orchestration, ident, { ignoreMissing: false }))).to.be.instanceOf(NotFoundError);
    expectAllCalled();
  });

  it('reads the stack template, environment, files and one output', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`${base}/stacks/web/${SID}/template`)
      .reply(200, { heat_template_version: '2021-04-16', resources: {} })
      .get(`${base}/stacks/web/${SID}/environment`)
      .reply(200, { parameters: {}, parameter_defaults: { flavor: 'm1.small' }, resource_registry: { resources: {} }, encrypted_param_names: [], event_sinks: [] })
      .get(`${base}/stacks/web/${SID}/files`)
      .reply(200, { 'server.yaml': 'heat_template_version: 2021-04-16\n' })
      .get(`${base}/stacks/web/${SID}/outputs/vip`)
      .reply(200, { output: { output_key: 'vip', output_value: '203.0.113.20', description: 'Public address' } });
    expect(await getStackTemplate(site.orchestration, ident)).to.have.property('heat_template_version', '2021-04-16');
    expect(await getStackEnvironment(site.orchestration, ident)).to.have.nested.property('parameter_defaults.flavor', 'm1.small');
    expect(await getStackFiles(site.orchestration, ident)).to.have.property('server.yaml');
    expect((await getStackOutput(site.orchestration, ident, 'vip')).output_value).to.equal('203.0.113.20');
    expectAllCalled();
  });

  it('waits to CREATE_COMPLETE polling without outputs, reports new events once, then returns the stack with outputs', async () => {
    const { site } = testSite();
    mockAuth();
    const show = `${base}/stacks/web/${SID}`;
    nock(HEAT)
      .get(`${base}/stacks/web`)
      .reply(302, '', { Location: LOCATION })
      .get(show)
      .query({ resolve_outputs: 'false' })
      .reply(200, { stack: stack('CREATE_IN_PROGRESS', { outputs: undefined }) })
      .get(`${show}/events`)
      .query({ sort_dir: 'asc', limit: '100' })
      .reply(200, { events: [event('e1', 'CREATE_IN_PROGRESS')] })
      .get(show)
      .query({ resolve_outputs: 'false' })
      .reply(200, { stack: stack('CREATE_COMPLETE', { outputs: undefined }) })
      .get(`${show}/events`)
      .query({ sort_dir: 'asc', limit: '100', marker: 'e1' })
      .reply(200, { events: [event('e2', 'CREATE_COMPLETE')] })
      .get(show)
      .reply(200, { stack: stack('CREATE_COMPLETE') });
    const events: StackEvent[] = [];
    const statuses: string[] = [];
    const s = await waitForStack(site.orchestration, 'web', ['CREATE_COMPLETE'], { intervalMs: 1, onEvent: (e) => events.push(e), onProgress: (st) => statuses.push(st) });
    expect(s.outputs?.[0]?.output_key).to.equal('vip');
    expect(events.map((e) => `${e.id}:${e.resource_status}`)).to.deep.equal(['e1:CREATE_IN_PROGRESS', 'e2:CREATE_COMPLETE']);
    expect(statuses).to.deep.equal(['CREATE_IN_PROGRESS', 'CREATE_COMPLETE']);
    expectAllCalled();
  });

  it('fails fast on CREATE_FAILED with the stack_status_reason', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`${base}/stacks/web/${SID}`)
      .query({ resolve_outputs: 'false' })
      .reply(200, { stack: stack('CREATE_FAILED', { stack_status_reason: 'Resource CREATE failed: Conflict: resources.port: IP address 10.0.0.5 already allocated' }) });
    const err = await caught(waitForStack(site.orchestration, ident, ['CREATE_COMPLETE'], { intervalMs: 1, timeoutMs: 60_000 }));
    expect(err).to.be.instanceOf(ResourceFailureError);
    expect((err as ResourceFailureError).status).to.equal('CREATE_FAILED');
    expect(String(err)).to.match(/already allocated/);
  });

  it('treats a rolled-back create as a failure unless ROLLBACK_COMPLETE is the target', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`${base}/stacks/web/${SID}`)
      .query({ resolve_outputs: 'false' })
      .reply(200, { stack: stack('ROLLBACK_COMPLETE', { stack_status_reason: 'Rollback completed' }) });
    const err = await caught(waitForStack(site.orchestration, ident, ['CREATE_COMPLETE'], { intervalMs: 1 }));
    expect((err as ResourceFailureError).status).to.equal('ROLLBACK_COMPLETE');
    expect(stackFailures(['CREATE_COMPLETE'])).to.deep.equal(['*_FAILED', 'ROLLBACK_COMPLETE', 'DELETE_COMPLETE']);
    expect(stackFailures(['ROLLBACK_COMPLETE'])).to.deep.equal(['*_FAILED', 'DELETE_COMPLETE']);
  });

  it('waits for deletion: DELETE_IN_PROGRESS then 404, or DELETE_COMPLETE; a stack already gone returns at once', async () => {
    const { site } = testSite();
    mockAuth();
    const show = `${base}/stacks/web/${SID}`;
    nock(HEAT)
      .get(show)
      .query({ resolve_outputs: 'false' })
      .reply(200, { stack: stack('DELETE_IN_PROGRESS') })
      .get(show)
      .query({ resolve_outputs: 'false' })
      .reply(404, heatError(404, 'Not Found', 'EntityNotFound', 'gone'))
      .get(show)
      .query({ resolve_outputs: 'false' })
      .reply(200, { stack: stack('DELETE_COMPLETE') })
      .get(`${base}/stacks/gone`)
      .reply(404, heatError(404, 'Not Found', 'EntityNotFound', 'The Stack (gone) could not be found.'));
    await waitForStackDeleted(site.orchestration, ident, { intervalMs: 1 });
    await waitForStackDeleted(site.orchestration, ident, { intervalMs: 1 });
    await waitForStackDeleted(site.orchestration, 'gone', { intervalMs: 1 });
    expectAllCalled();
  });

  it('fails fast on DELETE_FAILED', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`${base}/stacks/web/${SID}`)
      .query({ resolve_outputs: 'false' })
      .reply(200, { stack: stack('DELETE_FAILED', { stack_status_reason: 'Resource DELETE failed: Conflict: resources.net: Unable to complete operation on network' }) });
    const err = await caught(waitForStackDeleted(site.orchestration, ident, { intervalMs: 1 }));
    expect((err as ResourceFailureError).status).to.equal('DELETE_FAILED');
    expect(String(err)).to.match(/Unable to complete operation on network/);
  });

  it('resolves a bare ID through the lookup as well', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT).get(`${base}/stacks/${SID}`).reply(302, '', { Location: LOCATION });
    expect(await resolveStack(site.orchestration, SID)).to.deep.equal(ident);
    expectAllCalled();
  });
});
