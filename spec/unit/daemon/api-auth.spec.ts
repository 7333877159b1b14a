// Token validation for the API: what a Keystone token body says about its caller, the cache
// (by hash, expiring on an injected clock, never past the token's expiry, negative entries,
// one validation for concurrent requests), Keystone failures as 503 without the token, and
// the whole path through Keystone (nock) into the API, with no token in any log line.
import { expect } from 'chai';
import nock from 'nock';
import { callerFromToken, IdentityUnavailableError, keystoneTokenValidator, TokenCache, tokenHash, type Caller } from '../../../lib/daemon/api/auth.js';
import type { ValidatedToken } from '../../../lib/openstack/identity/tokens.js';
import { MemoryLogger } from '../../../lib/log.js';
import { KEYSTONE, PROJECT_ID, TOKEN, expectAllCalled, mockAuth, testSite, useNock } from '../../support/fake-cloud.js';
import { api, expectError, world, type World } from './api-fixtures.js';

const MEMBER_TOKEN = 'gAAAAABmember-subject-token-1a2b3c';
const READER_TOKEN = 'gAAAAABreader-subject-token-4d5e6f';

// Shape: api-ref identity v3 "Validate and show information for token" (nocatalog).
function tokenBody(roles: string[], over: Partial<ValidatedToken> = {}): { token: ValidatedToken } {
  return {
    token: {
      methods: ['password'],
      user: { domain: { id: 'default', name: 'Default' }, id: 'u-max', name: 'max' },
      audit_ids: ['mAjXQhiYRyKwkB4qygdLVg'],
      expires_at: '2099-01-01T00:00:00.000000Z',
      issued_at: '2026-11-27T03:00:00.000000Z',
      project: { domain: { id: 'default', name: 'Default' }, id: PROJECT_ID, name: 'web' },
      is_domain: false,
      roles: roles.map((name) => ({ id: `r-${name}`, name })),
      ...over,
    },
  };
}

function clock(start = Date.parse('2026-11-27T03:00:00Z')) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const someone = (expiresAt: number): Caller => ({ userId: 'u-1', roles: ['reader'], expiresAt: new Date(expiresAt), tokenHash: 'h' });

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('daemon API authentication', () => {
  describe('callerFromToken', () => {
    it('reads a project-scoped token: user, project, roles, expiry, and a hash prefix', () => {
      const c = callerFromToken(tokenBody(['member', 'reader']).token, tokenHash(MEMBER_TOKEN));
      expect(c).to.deep.equal({
        userId: 'u-max',
        userName: 'max',
        userDomainId: 'default',
        projectId: PROJECT_ID,
        projectName: 'web',
        projectDomainId: 'default',
        roles: ['member', 'reader'],
        expiresAt: new Date('2099-01-01T00:00:00.000Z'),
        tokenHash: tokenHash(MEMBER_TOKEN).slice(0, 12),
      });
      expect(c.tokenHash).to.match(/^[0-9a-f]{12}$/);
    });

    it('reads domain- and system-scoped tokens and is_admin_project', () => {
      const { project: _p, ...unscoped } = tokenBody(['admin']).token;
      const domain = callerFromToken({ ...unscoped, domain: { id: 'd-1', name: 'Ops' } }, 'ab');
      expect(domain.domainId).to.equal('d-1');
      expect(domain.projectId).to.equal(undefined);
      expect(callerFromToken({ ...unscoped, system: { all: true } }, 'ab').systemScope).to.equal('all');
      const flagged = { ...tokenBody(['admin']).token, is_admin_project: false } as ValidatedToken;
      expect(callerFromToken(flagged, 'ab').isAdminProject).to.equal(false);
      expect(callerFromToken(tokenBody(['admin']).token, 'ab').isAdminProject).to.equal(undefined);
    });
  });

  describe('TokenCache', () => {
    it('asks once, answers from the cache for ttlMs, then asks again', async () => {
      const c = clock();
      const asked: string[] = [];
      const cache = new TokenCache(
        async (token) => {
          asked.push(token);
          return someone(c.now() + 3_600_000);
        },
        { ttlMs: 60_000, now: c.now },
      );
      await cache.validate('tok-a');
      c.advance(59_999);
      await cache.validate('tok-a');
      expect(asked).to.deep.equal(['tok-a']);
      c.advance(1);
      await cache.validate('tok-a');
      expect(asked).to.deep.equal(['tok-a', 'tok-a']);
      expect(cache.stats).to.deep.equal({ hits: 1, misses: 2 });
    });

    it('keys by the token hash, never the token', async () => {
      const cache = new TokenCache(async () => someone(Date.now() + 3_600_000));
      await cache.validate(MEMBER_TOKEN);
      const keys = [...(cache as unknown as { entries: Map<string, unknown> }).entries.keys()];
      expect(keys).to.deep.equal([tokenHash(MEMBER_TOKEN)]);
      expect(keys[0]).not.to.include(MEMBER_TOKEN);
    });

    it('never trusts a token past its own expiry, and refuses one already expired', async () => {
      const c = clock();
      let answers = 0;
      const cache = new TokenCache(
        async () => {
          answers++;
          return someone(Date.parse('2026-11-27T03:00:20Z'));
        },
        { ttlMs: 60_000, now: c.now },
      );
      expect(await cache.validate('tok')).to.not.equal(undefined);
      c.advance(19_000);
      expect(await cache.validate('tok')).to.not.equal(undefined);
      expect(answers).to.equal(1);
      c.advance(1_000);
      expect(await cache.validate('tok')).to.equal(undefined);
      expect(answers).to.equal(2);
    });

    it('remembers an unknown token for negativeTtlMs only', async () => {
      const c = clock();
      let asked = 0;
      const lookup = async () => {
        asked++;
        return undefined;
      };
      const cache = new TokenCache(lookup, { negativeTtlMs: 10_000, now: c.now });
      await cache.validate('bad');
      await cache.validate('bad');
      expect(asked).to.equal(1);
      c.advance(10_000);
      await cache.validate('bad');
      expect(asked).to.equal(2);
      const eager = new TokenCache(lookup, { negativeTtlMs: 0, now: c.now });
      await eager.validate('bad');
      await eager.validate('bad');
      expect(asked).to.equal(4);
    });

    it('validates a token once for concurrent requests', async () => {
      let asked = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const cache = new TokenCache(async () => {
        asked++;
        await gate;
        return someone(Date.now() + 3_600_000);
      });
      const all = Promise.all([cache.validate('t'), cache.validate('t'), cache.validate('t')]);
      release();
      const callers = await all;
      expect(asked).to.equal(1);
      expect(callers.every((x) => x === callers[0])).to.equal(true);
    });

    it('does not cache Keystone failures; they are IdentityUnavailableError without the token', async () => {
      const logger = new MemoryLogger();
      let fail = true;
      const cache = new TokenCache(
        async (token) => {
          if (fail) throw new Error(`identity: GET /v3/auth/tokens returned 500: boom with ${token}`);
          return someone(Date.now() + 3_600_000);
        },
        { logger },
      );
      const err = await rejection(cache.validate(MEMBER_TOKEN));
      expect(err).to.be.instanceOf(IdentityUnavailableError);
      expect(err.message).to.equal('cannot validate the token with Keystone: identity: GET /v3/auth/tokens returned 500: boom with ***');
      fail = false;
      expect(await cache.validate(MEMBER_TOKEN)).to.not.equal(undefined);
      expect(logger.text()).not.to.include(MEMBER_TOKEN);
      expect(logger.lines[0]!.fields['tokenHash']).to.equal(tokenHash(MEMBER_TOKEN).slice(0, 12));
    });

    it('keeps at most maxEntries, dropping the oldest', async () => {
      let asked = 0;
      const cache = new TokenCache(
        async () => {
          asked++;
          return someone(Date.now() + 3_600_000);
        },
        { maxEntries: 2 },
      );
      await cache.validate('one');
      await cache.validate('two');
      await cache.validate('three');
      expect(cache.size).to.equal(2);
      await cache.validate('three');
      await cache.validate('two');
      expect(asked).to.equal(3);
      await cache.validate('one');
      expect(asked).to.equal(4);
    });

    it('an empty token is no token (nothing asked)', async () => {
      let asked = 0;
      const cache = new TokenCache(async () => {
        asked++;
        return undefined;
      });
      expect(await cache.validate('')).to.equal(undefined);
      expect(asked).to.equal(0);
    });
  });

  describe('against Keystone', () => {
    useNock();

    const validation = (subject: string) => nock(KEYSTONE).get('/v3/auth/tokens').query({ nocatalog: '' }).matchHeader('X-Subject-Token', subject).matchHeader('X-Auth-Token', TOKEN);

    it('validates with the daemon\'s own token and X-Subject-Token, then answers from the cache', async () => {
      const { site, logger } = testSite();
      mockAuth();
      validation(MEMBER_TOKEN).reply(200, tokenBody(['member', 'reader']), { 'X-Subject-Token': MEMBER_TOKEN });
      const cacheLog = new MemoryLogger();
      const v = keystoneTokenValidator(site, { logger: cacheLog });
      const first = await v.validate(MEMBER_TOKEN);
      const second = await v.validate(MEMBER_TOKEN);
      expect(first?.roles).to.deep.equal(['member', 'reader']);
      expect(second).to.equal(first);
      expectAllCalled();
      expect(logger.text() + cacheLog.text()).not.to.include(MEMBER_TOKEN);
    });

    it('an unknown token is undefined; a Keystone failure echoing the token is a 503 error without it', async () => {
      const { site, logger } = testSite();
      mockAuth();
      validation(READER_TOKEN).reply(404, { error: { code: 404, title: 'Not Found', message: `Could not find token: ${READER_TOKEN}.` } });
      validation(MEMBER_TOKEN).reply(500, { error: { code: 500, title: 'Internal Server Error', message: `token ${MEMBER_TOKEN} broke the backend` } });
      const cacheLog = new MemoryLogger();
      const v = keystoneTokenValidator(site, { logger: cacheLog });
      expect(await v.validate(READER_TOKEN)).to.equal(undefined);
      const err = await rejection(v.validate(MEMBER_TOKEN));
      expect(err).to.be.instanceOf(IdentityUnavailableError);
      expect(err.message).to.include('returned 500');
      expect(err.message).not.to.include(MEMBER_TOKEN);
      expectAllCalled();
      const logs = logger.text() + cacheLog.text();
      expect(logs).not.to.include(MEMBER_TOKEN);
      expect(logs).not.to.include(READER_TOKEN);
    });

    describe('through the API', () => {
      let w: World;
      beforeEach(async () => {
        w = await world();
      });
      afterEach(async () => {
        await w.catalog.close();
      });

      it("a member's token starts a DR test while a reader's is refused, with no token in any log or answer", async () => {
        const { site, logger: siteLog } = testSite();
        mockAuth();
        validation(MEMBER_TOKEN).reply(200, tokenBody(['member', 'reader']));
        validation(READER_TOKEN).reply(200, tokenBody(['reader'], { user: { id: 'u-rita', name: 'rita' } }));
        validation('gAAAAABexpired').reply(404, { error: { code: 404, title: 'Not Found', message: 'Could not find token: gAAAAABexpired.' } });
        const cacheLog = new MemoryLogger();
        const validator = keystoneTokenValidator(site, { logger: cacheLog });
        const a = await api(w, { validateToken: validator.validate, authUri: `${KEYSTONE}/v3` });
        // world()'s plan `web` belongs to another project ID than fake-cloud's: point it at this token's project.
        await w.repo.plans.upsert({ ...(await w.repo.plans.get('web'))!, project: PROJECT_ID, spec: { name: 'web' } });
        const inject = (token: string, kind: string) =>
          a.app.inject({ method: 'POST', url: '/v1/plans/web/runs', headers: { 'x-auth-token': token, 'content-type': 'application/json' }, payload: JSON.stringify({ kind }) });
        const ok = await inject(MEMBER_TOKEN, 'drtest');
        expect(ok.statusCode, ok.body).to.equal(202);
        expectError(await inject(READER_TOKEN, 'drtest'), 403, 'forbidden', /runs:create:drtest/);
        expectError(await inject(MEMBER_TOKEN, 'failover'), 403, 'forbidden', /runs:create:failover/);
        expectError(await inject('gAAAAABexpired', 'drtest'), 401, 'unauthorized');
        expect(a.started.map((s) => `${s.kind} by ${s.caller.userName}`)).to.deep.equal(['drtest by max']);
        expectAllCalled(); // each token validated once, although the member's was used twice
        const everything = [siteLog.text(), cacheLog.text(), a.logger.text()].join('\n');
        for (const t of [MEMBER_TOKEN, READER_TOKEN, 'gAAAAABexpired', TOKEN]) expect(everything).not.to.include(t);
        await a.app.close();
      });
    });
  });
});
