// Test support: a site whose Keystone, catalog and version documents are answered by nock.
// Bodies follow the API references (Keystone v3 "Password authentication with scoped
// authorization", Nova "Show API Version Details", Cinder "List All Api Versions").
import nock from 'nock';
import type { CloudConfig } from '../../lib/config/clouds.js';
import { MemoryLogger } from '../../lib/log.js';
import { Site, type SiteOptions } from '../../lib/openstack/site.js';

export const PROJECT_ID = '8c2b5e6f0a1d4c3b9e7f6a5d4c3b2a10';
export const KEYSTONE = 'https://keystone.site-a.test:5000';
export const NOVA = 'https://nova.site-a.test:8774';
export const CINDER = 'https://cinder.site-a.test:8776';
export const GLANCE = 'https://glance.site-a.test:9292';
export const NEUTRON = 'https://neutron.site-a.test:9696';
export const HEAT = 'https://heat.site-a.test:8004';
export const SWIFT = 'https://swift.site-a.test:8080';
export const PLACEMENT = 'https://placement.site-a.test:8778';
export const PASSWORD = 'S3cr3t-pa55word!';
export const TOKEN = 'gAAAAABtoken-one-0123456789';
export const TOKEN2 = 'gAAAAABtoken-two-9876543210';

/** Service endpoints as the catalog lists them (what ServiceClient.endpoint() returns). */
export const ENDPOINTS = {
  identity: `${KEYSTONE}/v3`,
  compute: `${NOVA}/v2.1`,
  'block-storage': `${CINDER}/v3/${PROJECT_ID}`,
  image: GLANCE,
  network: NEUTRON,
  orchestration: `${HEAT}/v1/${PROJECT_ID}`,
  'object-store': `${SWIFT}/v1/AUTH_${PROJECT_ID}`,
  placement: PLACEMENT,
} as const;

export function cloudConfig(over: Partial<CloudConfig> = {}): CloudConfig {
  return {
    name: 'site-a',
    source: 'test',
    auth_type: 'password',
    auth: {
      auth_url: `${KEYSTONE}/v3`,
      username: 'ferry',
      password: PASSWORD,
      user_domain_name: 'Default',
      project_name: 'admin',
      project_domain_name: 'Default',
    },
    region_name: 'RegionOne',
    interface: 'public',
    verify: true,
    endpoint_overrides: {},
    api_versions: {},
    ...over,
  };
}

function ep(type: string, url: string, extra: { region?: string } = {}) {
  const region = extra.region ?? 'RegionOne';
  return {
    type,
    id: `svc-${type}`,
    name: type,
    endpoints: [
      { id: `${type}-pub`, interface: 'public', region, region_id: region, url },
      { id: `${type}-int`, interface: 'internal', region, region_id: region, url: url.replace('.site-a.test', '.internal.site-a.test') },
    ],
  };
}

/** A Keystone v3 token body (Keystone Zed shape) with a full catalog. */
export function tokenBody(expiresAt = '2099-01-01T00:00:00.000000Z') {
  return {
    token: {
      methods: ['password'],
      user: { domain: { id: 'default', name: 'Default' }, id: 'u-ferry', name: 'ferry', password_expires_at: null },
      audit_ids: ['3T2dc1CGQxyJsHdDu1xkcw'],
      expires_at: expiresAt,
      issued_at: '2026-11-27T03:00:00.000000Z',
      project: { domain: { id: 'default', name: 'Default' }, id: PROJECT_ID, name: 'admin' },
      is_domain: false,
      roles: [
        { id: 'r-admin', name: 'admin' },
        { id: 'r-member', name: 'member' },
        { id: 'r-reader', name: 'reader' },
      ],
      catalog: [
        ep('identity', ENDPOINTS.identity),
        ep('compute', ENDPOINTS.compute),
        ep('volumev3', ENDPOINTS['block-storage']),
        ep('image', ENDPOINTS.image),
        ep('network', ENDPOINTS.network),
        ep('orchestration', ENDPOINTS.orchestration),
        ep('object-store', ENDPOINTS['object-store']),
        ep('placement', ENDPOINTS.placement),
      ],
    },
  };
}

/** Intercepts token issue `times` times. */
export function mockAuth(times = 1, token = TOKEN, expiresAt?: string): nock.Scope {
  return nock(KEYSTONE)
    .post('/v3/auth/tokens')
    .times(times)
    .reply(201, tokenBody(expiresAt), { 'X-Subject-Token': token, 'Content-Type': 'application/json', 'X-OpenStack-Request-ID': 'req-keystone-1' });
}

/** Nova's version document (GET /v2.1/), Zed: 2.1 to 2.93. */
export function mockNovaVersion(max = '2.93'): nock.Scope {
  return nock(NOVA)
    .get('/v2.1/')
    .reply(200, {
      version: {
        id: 'v2.1',
        status: 'CURRENT',
        version: max,
        min_version: '2.1',
        updated: '2013-07-23T11:33:21Z',
        links: [{ rel: 'self', href: `${NOVA}/v2.1/` }],
        media_types: [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
      },
    });
}

/** Cinder's version document (GET /v3/), Zed: 3.0 to 3.70. */
export function mockCinderVersion(max = '3.70'): nock.Scope {
  return nock(CINDER)
    .get('/v3/')
    .reply(200, {
      versions: [
        {
          id: 'v3.0',
          status: 'CURRENT',
          version: max,
          min_version: '3.0',
          updated: '2023-08-31T00:00:00Z',
          links: [{ rel: 'self', href: `${CINDER}/v3/` }],
          'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' }],
        },
      ],
    });
}

export interface TestSite {
  site: Site;
  logger: MemoryLogger;
}

/** A Site for the fake cloud with fast retries and a memory logger. */
export function testSite(over: Partial<CloudConfig> = {}, opts: SiteOptions = {}): TestSite {
  const logger = new MemoryLogger();
  const site = new Site(cloudConfig(over), { logger, retry: { minDelayMs: 1, maxDelayMs: 5, retries: 3 }, ...opts });
  return { site, logger };
}

/** Standard nock hygiene for a describe block: no real network, no mocks leak between tests. */
export function useNock(): void {
  before(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());
  after(() => nock.enableNetConnect());
}

/** Asserts every registered HTTP mock was called (the request shape matched). */
export function expectAllCalled(): void {
  const pending = nock.pendingMocks();
  if (pending.length > 0) throw new Error(`HTTP mocks not called: ${pending.join(', ')}`);
}
