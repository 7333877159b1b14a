import { expect } from 'chai';
import nock from 'nock';
import { ForbiddenError } from '../../../../lib/errors.js';
import { checkToken, validateToken } from '../../../../lib/openstack/identity/tokens.js';
import { KEYSTONE, PROJECT_ID, TOKEN, TOKEN2, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

/** The token a caller of Ferry's API presents; a secret like any other. */
const SUBJECT = 'gAAAAABsubject-token-5f4e3d2c1b0a';

// Shape: api-ref identity v3 "Validate and show information for token" (Zed), nocatalog:
// keystone/api/auth.py AuthTokenResource.get with the token rendered by keystone/models/token_model.py.
const validated = {
  token: {
    methods: ['password'],
    user: { domain: { id: 'default', name: 'Default' }, id: 'u-alice', name: 'alice', password_expires_at: null },
    audit_ids: ['mAjXQhiYRyKwkB4qygdLVg'],
    expires_at: '2026-11-27T04:00:00.000000Z',
    issued_at: '2026-11-27T03:00:00.000000Z',
    project: { domain: { id: 'default', name: 'Default' }, id: PROJECT_ID, name: 'web' },
    is_domain: false,
    roles: [
      { id: 'r-member', name: 'member' },
      { id: 'r-reader', name: 'reader' },
    ],
  },
};

// Shape: keystone/exception.py TokenNotFound ("Could not find token: %(token_id)s.").
const tokenNotFound = { error: { code: 404, title: 'Not Found', message: `Could not find token: ${SUBJECT}.` } };

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('identity/tokens', () => {
  useNock();

  it('validates with X-Subject-Token beside our own X-Auth-Token, without the catalog', async () => {
    const { site } = testSite();
    mockAuth();
    nock(KEYSTONE)
      .get('/v3/auth/tokens')
      .query({ nocatalog: '' })
      .matchHeader('X-Subject-Token', SUBJECT)
      .matchHeader('X-Auth-Token', TOKEN)
      .reply(200, validated, { 'X-Subject-Token': SUBJECT, 'Content-Type': 'application/json' });
    const info = await validateToken(site.identity, SUBJECT);
    expect(info?.user.name).to.equal('alice');
    expect(info?.project?.id).to.equal(PROJECT_ID);
    expect(info?.roles?.map((r) => r.name)).to.deep.equal(['member', 'reader']);
    expect(info?.expires_at).to.equal('2026-11-27T04:00:00.000000Z');
    expectAllCalled();
  });

  it('asks for the catalog and for recently expired tokens only when told to', async () => {
    const { site } = testSite();
    mockAuth();
    nock(KEYSTONE)
      .get('/v3/auth/tokens')
      .query({ allow_expired: 'true' })
      .matchHeader('X-Subject-Token', SUBJECT)
      .reply(200, { token: { ...validated.token, catalog: [] } });
    const info = await validateToken(site.identity, SUBJECT, { catalog: true, allowExpired: true });
    expect(info?.catalog).to.deep.equal([]);
    expectAllCalled();
  });

  it('returns undefined for an unknown token (404)', async () => {
    const { site } = testSite();
    mockAuth();
    nock(KEYSTONE).get('/v3/auth/tokens').query(true).reply(404, tokenNotFound, { 'Content-Type': 'application/json' });
    expect(await validateToken(site.identity, SUBJECT)).to.equal(undefined);
    expectAllCalled();
  });

  it('scrubs the subject token from any error it throws', async () => {
    const { site } = testSite();
    mockAuth();
    nock(KEYSTONE)
      .get('/v3/auth/tokens')
      .query(true)
      .reply(403, { error: { code: 403, title: 'Forbidden', message: `You are not authorized to validate ${SUBJECT}.` } }, { 'x-openstack-request-id': 'req-ks-403' });
    const err = await rejection(validateToken(site.identity, SUBJECT));
    expect(err).to.be.instanceOf(ForbiddenError);
    expect((err as ForbiddenError).detail).to.equal('You are not authorized to validate ***.');
    expect((err as ForbiddenError).requestId).to.equal('req-ks-403');
    expect(String(err)).not.to.include(SUBJECT);
    expect(JSON.stringify(err)).not.to.include(SUBJECT);
  });

  it('never logs the subject token or our own token', async () => {
    const { site, logger } = testSite();
    mockAuth();
    nock(KEYSTONE)
      .get('/v3/auth/tokens')
      .query(true)
      .reply(200, validated, { 'X-Subject-Token': SUBJECT })
      .get('/v3/auth/tokens')
      .query(true)
      .reply(404, tokenNotFound)
      .head('/v3/auth/tokens')
      .reply(404);
    await validateToken(site.identity, SUBJECT);
    await validateToken(site.identity, SUBJECT);
    await checkToken(site.identity, SUBJECT);
    const text = logger.text();
    expect(text).to.include('/v3/auth/tokens');
    expect(text).to.include('"X-Subject-Token":"***"');
    expect(text).not.to.include(SUBJECT);
    expect(text).not.to.include(TOKEN);
    expectAllCalled();
  });

  it('checks a token with HEAD: true when valid, false when unknown', async () => {
    const { site } = testSite();
    mockAuth();
    nock(KEYSTONE)
      .head('/v3/auth/tokens')
      .matchHeader('X-Subject-Token', SUBJECT)
      .reply(200)
      .head('/v3/auth/tokens')
      .query({ allow_expired: 'true' })
      .matchHeader('X-Subject-Token', 'gAAAAABrevoked-0000')
      .reply(404);
    expect(await checkToken(site.identity, SUBJECT)).to.equal(true);
    expect(await checkToken(site.identity, 'gAAAAABrevoked-0000', { allowExpired: true })).to.equal(false);
    expectAllCalled();
  });

  it('re-authenticates when our own token is rejected (401) instead of calling the subject invalid', async () => {
    const { site } = testSite();
    mockAuth(1, TOKEN);
    mockAuth(1, TOKEN2);
    nock(KEYSTONE)
      .get('/v3/auth/tokens')
      .query(true)
      .matchHeader('X-Auth-Token', TOKEN)
      .reply(401, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } })
      .get('/v3/auth/tokens')
      .query(true)
      .matchHeader('X-Auth-Token', TOKEN2)
      .matchHeader('X-Subject-Token', SUBJECT)
      .reply(200, validated);
    expect((await validateToken(site.identity, SUBJECT))?.user.id).to.equal('u-alice');
    expectAllCalled();
  });
});
