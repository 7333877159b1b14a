import { expect } from 'chai';
import nock from 'nock';
import { EndpointNotFoundError, NotSupportedError, ResourceFailureError, WaitTimeoutError, NotFoundError, httpErrorFor } from '../../../lib/errors.js';
import { findEndpoint, catalogRegions, type CatalogEntry } from '../../../lib/openstack/catalog.js';
import { compareVersions, microversionHeaders, negotiate, rangeFromDocument } from '../../../lib/openstack/microversion.js';
import { collect, paginate, queryOfLink } from '../../../lib/openstack/paginate.js';
import { DELETED, waitFor } from '../../../lib/openstack/wait.js';
import { CINDER, ENDPOINTS, GLANCE, HEAT, NOVA, PROJECT_ID, SWIFT, expectAllCalled, mockAuth, mockCinderVersion, mockNovaVersion, testSite, tokenBody, useNock } from '../../support/fake-cloud.js';

const catalog = tokenBody().token.catalog as CatalogEntry[];

describe('catalog', () => {
  it('finds a service by its official type or an alias (volumev3 for block-storage)', () => {
    expect(findEndpoint(catalog, { type: 'block-storage', region: 'RegionOne' })).to.equal(ENDPOINTS['block-storage']);
    expect(findEndpoint(catalog, { type: 'compute' })).to.equal(ENDPOINTS.compute);
  });
  it('chooses the interface', () => {
    expect(findEndpoint(catalog, { type: 'compute', interface: 'internal' })).to.equal('https://nova.internal.site-a.test:8774/v2.1');
  });
  it('explains a region that does not exist', () => {
    expect(() => findEndpoint(catalog, { type: 'compute', region: 'RegionTwo' })).to.throw(EndpointNotFoundError, /no public endpoint in region 'RegionTwo'; it has regions \[RegionOne\]/);
  });
  it('explains a service that is not in the catalog', () => {
    const small = catalog.filter((e) => e.type !== 'orchestration');
    expect(() => findEndpoint(small, { type: 'orchestration' })).to.throw(EndpointNotFoundError, /'orchestration' is not in the catalog.*orchestration_endpoint_override/);
  });
  it('lists the regions of a catalog', () => {
    expect(catalogRegions(catalog)).to.deep.equal(['RegionOne']);
  });
});

describe('microversions', () => {
  it('compares numerically, not as text', () => {
    expect(compareVersions('2.9', '2.10')).to.be.below(0);
    expect(compareVersions('3.64', '3.64')).to.equal(0);
    expect(compareVersions('3.0', '2.99')).to.be.above(0);
  });
  it('negotiates the lower of wanted and server max, within the server min', () => {
    expect(negotiate('2.79', { min: '2.1', max: '2.93' })).to.equal('2.79');
    expect(negotiate('2.79', { min: '2.1', max: '2.60' })).to.equal('2.60');
    expect(negotiate('2.79', { min: '2.80', max: '2.93' })).to.equal(undefined);
  });
  it('reads Nova, Cinder and Placement version documents', () => {
    expect(rangeFromDocument({ version: { id: 'v2.1', version: '2.93', min_version: '2.1' } })).to.deep.equal({ min: '2.1', max: '2.93' });
    expect(rangeFromDocument({ versions: [{ id: 'v3.0', version: '3.70', min_version: '3.0', status: 'CURRENT' }] }, 'v3')).to.deep.equal({ min: '3.0', max: '3.70' });
    expect(rangeFromDocument({ versions: [{ id: 'v1.0', max_version: '1.39', min_version: '1.0' }] })).to.deep.equal({ min: '1.0', max: '1.39' });
    expect(rangeFromDocument({ version: { id: 'v2.0', version: '', min_version: '' } })).to.equal(undefined);
  });
  it('sends both the standard and the legacy Nova header', () => {
    expect(microversionHeaders('compute', '2.79')).to.deep.equal({ 'OpenStack-API-Version': 'compute 2.79', 'X-OpenStack-Nova-API-Version': '2.79' });
    expect(microversionHeaders('block-storage', '3.64')).to.deep.equal({ 'OpenStack-API-Version': 'volume 3.64' });
    expect(microversionHeaders('network', '2.0')).to.deep.equal({});
  });
});

describe('service client', () => {
  useNock();

  it('negotiates once per service, against the version document one level above the project ID', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion('3.60');
    nock(CINDER).get(`/v3/${PROJECT_ID}/types`).twice().matchHeader('OpenStack-API-Version', 'volume 3.60').reply(200, { volume_types: [] });
    await site.blockStorage.get('types');
    await site.blockStorage.get('types');
    expect(await site.blockStorage.supports('3.47')).to.equal(true);
    expect(await site.blockStorage.supports('3.62')).to.equal(false);
    expectAllCalled();
  });

  it('raises NotSupportedError when the server is too old for a feature', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion('2.20');
    let caught: unknown;
    try {
      await site.compute.require('2.26', 'server tags');
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(NotSupportedError);
    expect(String(caught)).to.match(/server tags needs microversion 2\.26, the server offers 2\.1 to 2\.20/);
  });

  it('lets one call use another microversion (without negotiating)', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NOVA).get('/v2.1/servers/s1').matchHeader('OpenStack-API-Version', 'compute 2.1').reply(200, { server: { id: 's1' } });
    await site.compute.get('servers/s1', { microversion: '2.1' });
    expectAllCalled();
  });

  it('sends no microversion header to services without microversions', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`/v1/${PROJECT_ID}/stacks`)
      .reply(200, function () {
        return { stacks: [], sawHeader: this.req.headers['openstack-api-version'] ?? null };
      });
    const res = await site.orchestration.get<{ sawHeader: unknown }>('stacks');
    expect(res.data.sawHeader).to.equal(null);
  });

  it('uses an endpoint override with %(project_id)s', async () => {
    const { site } = testSite({ endpoint_overrides: { 'block-storage': 'https://cinder.override.test/v3/%(project_id)s' } });
    mockAuth();
    nock('https://cinder.override.test').get('/v3/').reply(200, { versions: [{ id: 'v3.0', version: '3.70', min_version: '3.0' }] });
    nock('https://cinder.override.test').get(`/v3/${PROJECT_ID}/types`).reply(200, { volume_types: [] });
    await site.blockStorage.get('types');
    expectAllCalled();
  });
});

describe('pagination', () => {
  useNock();

  it('follows Glance next links', async () => {
    const { site } = testSite();
    mockAuth();
    nock(GLANCE)
      .get('/v2/images')
      .query({ limit: 2 })
      .reply(200, { images: [{ id: 'a' }, { id: 'b' }], next: '/v2/images?limit=2&marker=b' })
      .get('/v2/images')
      .query({ limit: 2, marker: 'b' })
      .reply(200, { images: [{ id: 'c' }] });
    const got = await collect(paginate<{ id: string }>(site.image, 'v2/images', {}, { style: 'glance', key: 'images', limit: 2 }));
    expect(got.map((i) => i.id)).to.deep.equal(['a', 'b', 'c']);
  });

  it('uses limit and marker where there are no links (Heat)', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`/v1/${PROJECT_ID}/stacks`)
      .query({ limit: 2 })
      .reply(200, { stacks: [{ id: 's1' }, { id: 's2' }] })
      .get(`/v1/${PROJECT_ID}/stacks`)
      .query({ limit: 2, marker: 's2' })
      .reply(200, { stacks: [{ id: 's3' }] });
    const pages: number[] = [];
    const got = await collect(paginate<{ id: string }>(site.orchestration, 'stacks', {}, { style: 'marker', key: 'stacks', limit: 2 }, { onPage: (n) => pages.push(n) }));
    expect(got.map((s) => s.id)).to.deep.equal(['s1', 's2', 's3']);
    expect(pages).to.deep.equal([2, 1]);
  });

  it('walks Swift listings until an empty page', async () => {
    const { site } = testSite();
    mockAuth();
    const acct = `/v1/AUTH_${PROJECT_ID}`;
    nock(SWIFT)
      .get(`${acct}/bank`)
      .query({ format: 'json', prefix: 'p/' })
      .reply(200, [{ name: 'p/1' }, { name: 'p/2' }])
      .get(`${acct}/bank`)
      .query({ format: 'json', prefix: 'p/', marker: 'p/2' })
      .reply(200, []);
    const got = await collect(paginate<{ name: string }>(site.objectStore, 'bank', { prefix: 'p/' }, { style: 'swift' }));
    expect(got.map((o) => o.name)).to.deep.equal(['p/1', 'p/2']);
  });

  // Offset style: Nova's common.limited() slices items[offset:offset+limit] with no next links
  // (nova/api/openstack/common.py; used by GET /os-server-groups).
  describe('offset style', () => {
    const groups = (...ids: string[]) => ({ server_groups: ids.map((id) => ({ id })) });
    const list = (site: ReturnType<typeof testSite>['site'], query = {}, limit?: number, onPage?: (n: number) => void) =>
      collect(paginate<{ id: string }>(site.compute, 'os-server-groups', query, { style: 'offset', key: 'server_groups', limit }, { onPage }));

    it('sends limit and offset, advances by the page size and stops on an empty page', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get('/v2.1/os-server-groups')
        .query({ all_projects: 'true', limit: '2', offset: '0' })
        .reply(200, groups('g1', 'g2'))
        .get('/v2.1/os-server-groups')
        .query({ all_projects: 'true', limit: '2', offset: '2' })
        .reply(200, groups('g3', 'g4'))
        .get('/v2.1/os-server-groups')
        .query({ all_projects: 'true', limit: '2', offset: '4' })
        .reply(200, groups());
      const pages: number[] = [];
      const got = await list(site, { all_projects: true }, 2, (n) => pages.push(n));
      expect(got.map((g) => g.id)).to.deep.equal(['g1', 'g2', 'g3', 'g4']);
      expect(pages).to.deep.equal([2, 2, 0]);
      expectAllCalled();
    });

    it('stops after a short page without asking for another', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get('/v2.1/os-server-groups')
        .query({ limit: '3', offset: '0' })
        .reply(200, groups('g1', 'g2', 'g3'))
        .get('/v2.1/os-server-groups')
        .query({ limit: '3', offset: '3' })
        .reply(200, groups('g4'));
      expect((await list(site, {}, 3)).map((g) => g.id)).to.deep.equal(['g1', 'g2', 'g3', 'g4']);
      expectAllCalled(); // and nock would reject a third request (offset=4)
    });

    it('asks for 100 per page by default and starts from a given offset', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA).get('/v2.1/os-server-groups').query({ limit: '100', offset: '5' }).reply(200, groups('g6'));
      expect((await list(site, { offset: 5 })).map((g) => g.id)).to.deep.equal(['g6']);
      expectAllCalled();
    });

    it('stops without repeating when a server ignores offset and returns the same page', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get('/v2.1/os-server-groups')
        .query({ limit: '2', offset: '0' })
        .reply(200, groups('g1', 'g2'))
        .get('/v2.1/os-server-groups')
        .query({ limit: '2', offset: '2' })
        .reply(200, groups('g1', 'g2'));
      const pages: number[] = [];
      expect((await list(site, {}, 2, (n) => pages.push(n))).map((g) => g.id)).to.deep.equal(['g1', 'g2']);
      expect(pages).to.deep.equal([2, 2]);
      expectAllCalled();
    });

    it('keeps going when a later page overlaps but differs (items shifted between requests)', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get('/v2.1/os-server-groups')
        .query({ limit: '2', offset: '0' })
        .reply(200, groups('g1', 'g2'))
        .get('/v2.1/os-server-groups')
        .query({ limit: '2', offset: '2' })
        .reply(200, groups('g2', 'g3'))
        .get('/v2.1/os-server-groups')
        .query({ limit: '2', offset: '4' })
        .reply(200, groups());
      expect((await list(site, {}, 2)).map((g) => g.id)).to.deep.equal(['g1', 'g2', 'g2', 'g3']);
      expectAllCalled();
    });

    it('fetches no further page when the consumer stops', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA).get('/v2.1/os-server-groups').query({ limit: '1', offset: '0' }).reply(200, groups('g1'));
      for await (const g of paginate<{ id: string }>(site.compute, 'os-server-groups', {}, { style: 'offset', key: 'server_groups', limit: 1 })) {
        expect(g.id).to.equal('g1');
        break;
      }
      expectAllCalled();
    });
  });

  it('stops when the consumer stops (no extra page fetched)', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .get('/v2.1/servers/detail')
      .reply(200, { servers: [{ id: 'a' }, { id: 'b' }], servers_links: [{ rel: 'next', href: `${NOVA}/v2.1/servers/detail?marker=b` }] });
    for await (const s of paginate<{ id: string }>(site.compute, 'servers/detail', {}, { style: 'links', key: 'servers' })) {
      if (s.id === 'a') break;
    }
    expectAllCalled();
  });

  it('stops instead of looping when a server repeats its next link', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    const page = { servers: [{ id: 'a' }], servers_links: [{ rel: 'next', href: `${NOVA}/v2.1/servers/detail?marker=a` }] };
    nock(NOVA).get('/v2.1/servers/detail').reply(200, page).get('/v2.1/servers/detail').query({ marker: 'a' }).reply(200, page);
    const got = await collect(paginate<{ id: string }>(site.compute, 'servers/detail', {}, { style: 'links', key: 'servers' }));
    expect(got).to.have.length(2);
  });

  it('reports a page without its list', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA).get('/v2.1/servers/detail').reply(200, { wrong: [] });
    let caught: unknown;
    try {
      await collect(paginate(site.compute, 'servers/detail', {}, { style: 'links', key: 'servers' }));
    } catch (e) {
      caught = e;
    }
    expect(String(caught)).to.match(/returned no 'servers' list/);
  });

  it('follows links under another key (Cinder volume_type_links) and Keystone links objects', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`/v3/${PROJECT_ID}/types`)
      .reply(200, { volume_types: [{ id: 't1' }], volume_type_links: [{ rel: 'next', href: `${CINDER}/v3/${PROJECT_ID}/types?marker=t1` }] })
      .get(`/v3/${PROJECT_ID}/types`)
      .query({ marker: 't1' })
      .reply(200, { volume_types: [{ id: 't2' }] });
    const types = await collect(paginate<{ id: string }>(site.blockStorage, 'types', {}, { style: 'links', key: 'volume_types', linksKey: 'volume_type_links' }));
    expect(types.map((t) => t.id)).to.deep.equal(['t1', 't2']);
    nock('https://keystone.site-a.test:5000')
      .get('/v3/projects')
      .reply(200, { projects: [{ id: 'p1' }], links: { next: 'https://keystone.site-a.test:5000/v3/projects?marker=p1', self: 'x', previous: null } })
      .get('/v3/projects')
      .query({ marker: 'p1' })
      .reply(200, { projects: [{ id: 'p2' }], links: { next: null, self: 'y', previous: null } });
    const projects = await collect(paginate<{ id: string }>(site.identity, 'projects', {}, { style: 'links', key: 'projects' }));
    expect(projects.map((p) => p.id)).to.deep.equal(['p1', 'p2']);
  });

  it('keeps repeated filters that Glance drops from its next link', async () => {
    const { site } = testSite();
    mockAuth();
    nock(GLANCE)
      .get('/v2/images')
      .query({ tag: ['a', 'b'] })
      .reply(200, { images: [{ id: 'i1' }], next: '/v2/images?tag=b&marker=i1' })
      .get('/v2/images')
      .query({ tag: ['a', 'b'], marker: 'i1' })
      .reply(200, { images: [] });
    const got = await collect(paginate<{ id: string }>(site.image, 'v2/images', { tag: ['a', 'b'] }, { style: 'glance', key: 'images' }));
    expect(got.map((i) => i.id)).to.deep.equal(['i1']);
    expectAllCalled();
  });

  it('takes the query of a next link, not its host', () => {
    expect(queryOfLink('http://internal:8774/v2.1/servers/detail?marker=x&limit=5&tags=a&tags=b')).to.deep.equal({ marker: 'x', limit: '5', tags: ['a', 'b'] });
  });
});

describe('waitFor', () => {
  type S = { s: string; fault?: string };
  const seq = (...items: (S | Error)[]): (() => Promise<S>) => {
    let i = 0;
    return async () => {
      const x = items[Math.min(i++, items.length - 1)]!;
      if (x instanceof Error) throw x;
      return x;
    };
  };
  const notFound = () => httpErrorFor({ status: 404, method: 'GET', url: 'u', detail: 'gone' });

  it('returns the resource when it reaches a target', async () => {
    const r = await waitFor({ resource: 'x', fetch: seq({ s: 'BUILD' }, { s: 'ACTIVE' }), status: (x) => x.s, target: ['ACTIVE'], failure: ['ERROR'] }, { intervalMs: 1 });
    expect(r).to.deep.equal({ s: 'ACTIVE' });
  });
  it('fails fast on a failure state, with the reason', async () => {
    let caught: unknown;
    try {
      await waitFor({ resource: 'server s1', fetch: seq({ s: 'ERROR', fault: 'No valid host' }), status: (x) => x.s, target: ['ACTIVE'], failure: ['ERROR'], reason: (x) => x.fault }, { intervalMs: 1, timeoutMs: 60_000 });
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(ResourceFailureError);
    expect(String(caught)).to.match(/server s1 went to ERROR: No valid host/);
  });
  it('matches failure patterns like *_FAILED', async () => {
    let caught: unknown;
    try {
      await waitFor({ resource: 'stack', fetch: seq({ s: 'CREATE_FAILED' }), status: (x) => x.s, target: ['CREATE_COMPLETE'], failure: ['*_FAILED'] }, { intervalMs: 1 });
    } catch (e) {
      caught = e;
    }
    expect((caught as ResourceFailureError).status).to.equal('CREATE_FAILED');
  });
  it('treats 404 as deleted only when waiting for deletion', async () => {
    expect(await waitFor({ resource: 'x', fetch: seq({ s: 'deleting' }, notFound()), status: (x) => x.s, target: [DELETED] }, { intervalMs: 1 })).to.equal(undefined);
    let caught: unknown;
    try {
      await waitFor({ resource: 'x', fetch: seq(notFound()), status: (x) => x.s, target: ['available'] }, { intervalMs: 1 });
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(NotFoundError);
  });
  it('times out with the last status seen', async () => {
    let caught: unknown;
    try {
      await waitFor({ resource: 'volume v', fetch: seq({ s: 'creating' }), status: (x) => x.s, target: ['available'] }, { intervalMs: 5, timeoutMs: 30 });
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(WaitTimeoutError);
    expect((caught as WaitTimeoutError).lastStatus).to.equal('creating');
  });
  it('backs off between polls up to the maximum', async () => {
    const times: number[] = [];
    const fetch = async () => {
      times.push(Date.now());
      return { s: times.length >= 4 ? 'done' : 'busy' };
    };
    await waitFor({ resource: 'x', fetch, status: (x) => x.s, target: ['done'] }, { intervalMs: 10, backoff: 2, maxIntervalMs: 25 });
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps[0]).to.be.at.least(9);
    expect(gaps[1]).to.be.at.least(19);
    expect(gaps[2]).to.be.at.least(24).and.below(60);
  });
  it('stops when aborted', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('operator cancelled')), 20);
    let caught: unknown;
    try {
      await waitFor({ resource: 'x', fetch: seq({ s: 'busy' }), status: (x) => x.s, target: ['done'] }, { intervalMs: 5, signal: ac.signal });
    } catch (e) {
      caught = e;
    }
    expect(String(caught)).to.match(/operator cancelled/);
  });
});
