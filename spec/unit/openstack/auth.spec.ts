import { expect } from 'chai';
import nock from 'nock';
import { authRequestBody, identityV3Url } from '../../../lib/openstack/auth.js';
import { KEYSTONE, NOVA, TOKEN, TOKEN2, cloudConfig, expectAllCalled, mockAuth, mockNovaVersion, testSite, tokenBody, useNock } from '../../support/fake-cloud.js';

describe('Keystone v3 auth bodies', () => {
  // Shapes: api-ref identity v3 "Password authentication with scoped authorization",
  // "Authenticating with an Application Credential", "Token authentication with scoped authorization".
  it('password, project-scoped by names', () => {
    expect(authRequestBody(cloudConfig())).to.deep.equal({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'ferry', domain: { name: 'Default' }, password: 'S3cr3t-pa55word!' } } },
        scope: { project: { name: 'admin', domain: { name: 'Default' } } },
      },
    });
  });
  it('password, project-scoped by IDs', () => {
    const c = cloudConfig({ auth: { auth_url: 'u', user_id: 'uid', password: 'p', project_id: 'pid' } });
    expect(authRequestBody(c)).to.deep.equal({
      auth: { identity: { methods: ['password'], password: { user: { id: 'uid', password: 'p' } } }, scope: { project: { id: 'pid' } } },
    });
  });
  it('password, domain-scoped', () => {
    const c = cloudConfig({ auth: { auth_url: 'u', username: 'admin', user_domain_id: 'default', password: 'p', domain_id: 'default' } });
    expect((authRequestBody(c).auth as { scope: unknown }).scope).to.deep.equal({ domain: { id: 'default' } });
  });
  it('password, system-scoped', () => {
    const c = cloudConfig({ auth: { auth_url: 'u', username: 'admin', user_domain_name: 'Default', password: 'p', system_scope: 'all' } });
    expect((authRequestBody(c).auth as { scope: unknown }).scope).to.deep.equal({ system: { all: true } });
  });
  it('application credential by ID carries no scope', () => {
    const c = cloudConfig({ auth_type: 'v3applicationcredential', auth: { auth_url: 'u', application_credential_id: 'ac1', application_credential_secret: 's', project_name: 'ignored' } });
    expect(authRequestBody(c)).to.deep.equal({ auth: { identity: { methods: ['application_credential'], application_credential: { id: 'ac1', secret: 's' } } } });
  });
  it('application credential by name names its user', () => {
    const c = cloudConfig({ auth_type: 'v3applicationcredential', auth: { auth_url: 'u', application_credential_name: 'dr', username: 'ferry', user_domain_name: 'Default', application_credential_secret: 's' } });
    expect(authRequestBody(c)).to.deep.equal({
      auth: { identity: { methods: ['application_credential'], application_credential: { name: 'dr', user: { name: 'ferry', domain: { name: 'Default' } }, secret: 's' } } },
    });
  });
  it('token auth re-scopes a token', () => {
    const c = cloudConfig({ auth_type: 'v3token', auth: { auth_url: 'u', token: 't0k', project_id: 'pid' } });
    expect(authRequestBody(c)).to.deep.equal({ auth: { identity: { methods: ['token'], token: { id: 't0k' } }, scope: { project: { id: 'pid' } } } });
  });
  it('normalises auth URLs to /v3', () => {
    expect(identityV3Url('https://k:5000')).to.equal('https://k:5000/v3');
    expect(identityV3Url('https://k:5000/v3/')).to.equal('https://k:5000/v3');
    expect(identityV3Url('https://k/identity/v2.0')).to.equal('https://k/identity/v3');
    expect(identityV3Url('https://k/identity')).to.equal('https://k/identity/v3');
  });
});

describe('Keystone session', () => {
  useNock();

  it('authenticates once and shares the token across services and concurrent callers', async () => {
    const { site } = testSite();
    mockAuth(1);
    mockNovaVersion();
    nock(NOVA).get('/v2.1/flavors/1').times(10).matchHeader('X-Auth-Token', TOKEN).reply(200, { flavor: { id: '1' } });
    await Promise.all(Array.from({ length: 10 }, () => site.compute.get('flavors/1')));
    expect(site.session.issued).to.equal(1);
    expectAllCalled();
  });

  it('re-authenticates exactly once when many concurrent calls get 401', async () => {
    const { site } = testSite();
    mockAuth(1, TOKEN);
    mockNovaVersion();
    nock(NOVA).get('/v2.1/flavors/1').times(8).matchHeader('X-Auth-Token', TOKEN).reply(401, { error: { code: 401, message: 'expired' } });
    nock(KEYSTONE).post('/v3/auth/tokens').once().reply(201, tokenBody(), { 'X-Subject-Token': TOKEN2 });
    nock(NOVA).get('/v2.1/flavors/1').times(8).matchHeader('X-Auth-Token', TOKEN2).reply(200, { flavor: { id: '1' } });
    const results = await Promise.all(Array.from({ length: 8 }, () => site.compute.get('flavors/1')));
    expect(results).to.have.length(8);
    expect(site.session.issued).to.equal(2);
    expectAllCalled();
  });

  it('renews a token that is about to expire before using it', async () => {
    let now = Date.parse('2026-11-27T03:00:00Z');
    const { site } = testSite({}, { session: { now: () => now, renewBeforeMs: 300_000 } });
    nock(KEYSTONE).post('/v3/auth/tokens').reply(201, tokenBody('2026-11-27T04:00:00.000000Z'), { 'X-Subject-Token': TOKEN });
    expect(await site.session.token()).to.equal(TOKEN);
    now = Date.parse('2026-11-27T03:50:00Z');
    expect(await site.session.token()).to.equal(TOKEN);
    now = Date.parse('2026-11-27T03:56:00Z');
    nock(KEYSTONE).post('/v3/auth/tokens').reply(201, tokenBody('2026-11-27T05:00:00.000000Z'), { 'X-Subject-Token': TOKEN2 });
    expect(await site.session.token()).to.equal(TOKEN2);
    expect(site.session.issued).to.equal(2);
  });

  it('retries token issue on 503 (idempotent) and reports a missing X-Subject-Token', async () => {
    const { site } = testSite();
    nock(KEYSTONE).post('/v3/auth/tokens').reply(503, 'busy').post('/v3/auth/tokens').reply(201, tokenBody());
    let caught: unknown;
    try {
      await site.connect();
    } catch (e) {
      caught = e;
    }
    expect(String(caught)).to.match(/no X-Subject-Token/);
  });

  it('reports an unreadable expires_at', async () => {
    const { site } = testSite();
    nock(KEYSTONE).post('/v3/auth/tokens').reply(201, { token: { expires_at: 'tomorrow', methods: [], user: { id: 'u' } } }, { 'X-Subject-Token': TOKEN });
    let caught: unknown;
    try {
      await site.connect();
    } catch (e) {
      caught = e;
    }
    expect(String(caught)).to.match(/unreadable expires_at 'tomorrow'/);
  });

  it('says what to fix when Keystone refuses the password or a deleted application credential', async () => {
    const { site } = testSite();
    nock(KEYSTONE).post('/v3/auth/tokens').reply(401, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    let caught: unknown;
    try {
      await site.connect();
    } catch (e) {
      caught = e;
    }
    expect(String(caught)).to.match(/requires authentication\. \(fix: check username, password and domains of cloud 'site-a' in test\)/);
    const app = testSite({ auth_type: 'v3applicationcredential', auth: { auth_url: `${KEYSTONE}/v3`, application_credential_id: 'ac1', application_credential_secret: 'sekret-value' } });
    // Shape captured from the lab's Keystone (Zed) after deleting the credential.
    nock(KEYSTONE).post('/v3/auth/tokens').reply(404, { error: { code: 404, title: 'Not Found', message: 'Could not find Application Credential: ac1.' } });
    try {
      await app.site.connect();
    } catch (e) {
      caught = e;
    }
    expect((caught as { status: number }).status).to.equal(404);
    expect(String(caught)).to.match(/no longer exists: create a new one/);
    expect(String(caught)).not.to.include('sekret-value');
  });
});
