import { expect } from 'chai';
import nock from 'nock';
import { FerryError, NotFoundError } from '../../../../lib/errors.js';
import { findProject, findProjectByName, getProject, listProjects } from '../../../../lib/openstack/identity/projects.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { KEYSTONE, TOKEN, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

// Shape: api-ref identity v3 "List projects" / "Show project details" (Zed), from
// keystone/api/projects.py and keystone/server/flask/common.py wrap_collection/wrap_member.
function project(id: string, name: string, domainId = 'default') {
  return {
    id,
    name,
    domain_id: domainId,
    description: '',
    enabled: true,
    parent_id: domainId,
    is_domain: false,
    tags: [],
    options: {},
    links: { self: `${KEYSTONE}/v3/projects/${id}` },
  };
}

const collectionLinks = (query = '') => ({ next: null, self: `${KEYSTONE}/v3/projects${query}`, previous: null });

// Shape: keystone/exception.py ProjectNotFound rendered by keystone/server/flask/application.py.
const notFound = (id: string) => ({ error: { code: 404, title: 'Not Found', message: `Could not find project: ${id}.` } });

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('identity/projects', () => {
  useNock();

  it('lists projects with filters in one request when links.next is null', async () => {
    const { site } = testSite();
    mockAuth();
    nock(KEYSTONE)
      .get('/v3/projects')
      .query({ domain_id: 'default', enabled: 'true', tags: 'ferry,dr' })
      .matchHeader('X-Auth-Token', TOKEN)
      .matchHeader('OpenStack-API-Version', (v) => v === undefined)
      .reply(200, { projects: [project('p1', 'web'), project('p2', 'db')], links: collectionLinks('?domain_id=default') });
    const ps = await collect(listProjects(site.identity, { domain_id: 'default', enabled: true, tags: ['ferry', 'dr'] }));
    expect(ps.map((p) => p.name)).to.deep.equal(['web', 'db']);
    expect(ps[0]!.domain_id).to.equal('default');
    expectAllCalled();
  });

  it('follows links.next when a deployment sets it', async () => {
    const { site } = testSite();
    mockAuth();
    nock(KEYSTONE)
      .get('/v3/projects')
      .query({ domain_id: 'd1' })
      .reply(200, {
        projects: [project('p1', 'a', 'd1')],
        links: { next: 'http://keystone-internal:5000/v3/projects?domain_id=d1&marker=p1', self: `${KEYSTONE}/v3/projects?domain_id=d1`, previous: null },
      })
      .get('/v3/projects')
      .query({ domain_id: 'd1', marker: 'p1' })
      .reply(200, { projects: [project('p2', 'b', 'd1')], links: collectionLinks() });
    const ps = await collect(listProjects(site.identity, { domain_id: 'd1' }));
    expect(ps.map((p) => p.id)).to.deep.equal(['p1', 'p2']);
    expectAllCalled();
  });

  it("warns when Keystone's list_limit truncated the list", async () => {
    const { site, logger } = testSite();
    mockAuth();
    nock(KEYSTONE)
      .get('/v3/projects')
      .reply(200, { projects: [project('p1', 'a')], links: collectionLinks(), truncated: true });
    const ps = await collect(listProjects(site.identity));
    expect(ps).to.have.length(1);
    const warned = logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
    expect(warned.some((m) => /truncated by Keystone's list_limit after 1 items/.test(m))).to.equal(true);
  });

  it("reads a project and maps Keystone's 404 body to NotFoundError", async () => {
    const { site } = testSite();
    mockAuth();
    nock(KEYSTONE)
      .get('/v3/projects/p1')
      .reply(200, { project: project('p1', 'web') })
      .get('/v3/projects/nope')
      .reply(404, notFound('nope'), { 'Content-Type': 'application/json', 'x-openstack-request-id': 'req-ks-404' });
    expect((await getProject(site.identity, 'p1')).name).to.equal('web');
    const err = await rejection(getProject(site.identity, 'nope'));
    expect(err).to.be.instanceOf(NotFoundError);
    expect((err as NotFoundError).detail).to.equal('Could not find project: nope.');
    expect((err as NotFoundError).type).to.equal('Not Found');
    expect((err as NotFoundError).requestId).to.equal('req-ks-404');
    expect((err as NotFoundError).service).to.equal('identity');
    expectAllCalled();
  });

  it('finds a project by name, undefined when none, and refuses an ambiguous name', async () => {
    const { site } = testSite();
    mockAuth();
    nock(KEYSTONE)
      .get('/v3/projects')
      .query({ name: 'web', domain_id: 'default' })
      .reply(200, { projects: [project('p1', 'web')], links: collectionLinks() })
      .get('/v3/projects')
      .query({ name: 'none' })
      .reply(200, { projects: [], links: collectionLinks() })
      .get('/v3/projects')
      .query({ name: 'shared' })
      .reply(200, { projects: [project('p7', 'shared', 'd1'), project('p8', 'shared', 'd2')], links: collectionLinks() });
    expect((await findProjectByName(site.identity, 'web', 'default'))?.id).to.equal('p1');
    expect(await findProjectByName(site.identity, 'none')).to.equal(undefined);
    const err = await rejection(findProjectByName(site.identity, 'shared'));
    expect(err).to.be.instanceOf(FerryError);
    expect(String(err)).to.match(/2 projects are named 'shared' \(domains d1, d2\)/);
    expectAllCalled();
  });

  it('finds by ID first, then by name after a 404 or a 403', async () => {
    const { site } = testSite();
    mockAuth();
    nock(KEYSTONE)
      .get('/v3/projects/p1')
      .reply(200, { project: project('p1', 'web') })
      .get('/v3/projects/web')
      .reply(404, notFound('web'))
      .get('/v3/projects')
      .query({ name: 'web' })
      .reply(200, { projects: [project('p1', 'web')], links: collectionLinks() })
      .get('/v3/projects/db')
      .reply(403, { error: { code: 403, title: 'Forbidden', message: 'You are not authorized to perform the requested action: identity:get_project.' } })
      .get('/v3/projects')
      .query({ name: 'db' })
      .reply(200, { projects: [project('p2', 'db')], links: collectionLinks() });
    expect((await findProject(site.identity, 'p1'))?.name).to.equal('web');
    expect((await findProject(site.identity, 'web'))?.id).to.equal('p1');
    expect((await findProject(site.identity, 'db'))?.id).to.equal('p2');
    expectAllCalled();
  });
});
