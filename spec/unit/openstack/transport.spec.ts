import type { Readable } from 'node:stream';
import { expect } from 'chai';
import nock from 'nock';
import { ConnectionError, HttpError, ServerError, TooManyRequestsError, UnauthorizedError } from '../../../lib/errors.js';
import { MemoryLogger } from '../../../lib/log.js';
import { Redactor } from '../../../lib/redact.js';
import { parseRetryAfter, Transport, type TokenSource } from '../../../lib/openstack/transport.js';
import { NOVA, PASSWORD, TOKEN, TOKEN2, expectAllCalled, mockAuth, mockNovaVersion, testSite, useNock } from '../../support/fake-cloud.js';
import { drain, localServer, withoutNock } from '../../support/streams.js';

async function fails(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

function fixedTokens(...tokens: string[]): TokenSource & { refreshed: number } {
  let i = 0;
  return {
    refreshed: 0,
    async token() {
      return tokens[i]!;
    },
    async refresh() {
      this.refreshed++;
      i = Math.min(i + 1, tokens.length - 1);
      return tokens[i]!;
    },
  };
}

/** A socket-level failure as Node raises it (nock needs a real Error to emit). */
function netError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function transport(logger = new MemoryLogger(), redactor = new Redactor()) {
  return new Transport({ site: 'site-a', logger, redactor, retry: { retries: 3, minDelayMs: 1, maxDelayMs: 2 } });
}

describe('transport', () => {
  useNock();

  it('sends the token, a request ID and JSON, and captures the service request ID', async () => {
    const t = transport();
    t.useTokens(fixedTokens(TOKEN));
    nock(NOVA)
      .post('/v2.1/servers', { server: { name: 'x' } })
      .matchHeader('X-Auth-Token', TOKEN)
      .matchHeader('X-OpenStack-Request-ID', /^req-[0-9a-f-]{36}$/)
      .matchHeader('Content-Type', 'application/json')
      .matchHeader('Accept', 'application/json')
      .reply(202, { server: { id: 's1' } }, { 'X-Compute-Request-Id': 'req-nova-1' });
    const res = await t.request<{ server: { id: string } }>({ method: 'POST', url: `${NOVA}/v2.1/servers`, json: { server: { name: 'x' } }, service: 'compute' });
    expect(res.status).to.equal(202);
    expect(res.data.server.id).to.equal('s1');
    expect(res.requestId).to.equal('req-nova-1');
  });

  it('sends no Content-Type on a request without a body (Nova refuses form-encoded PUTs with 415)', async () => {
    const t = transport();
    nock(NOVA)
      .put('/v2.1/servers/s1/tags/dr')
      .reply(201, function () {
        return { contentType: this.req.headers['content-type'] ?? null };
      });
    const res = await t.request<{ contentType: unknown }>({ method: 'PUT', url: `${NOVA}/v2.1/servers/s1/tags/dr`, auth: false });
    expect(res.data.contentType).to.equal(null);
  });

  it('encodes query values, repeating array parameters', async () => {
    const t = transport();
    nock(NOVA).get('/v2.1/servers/detail').query({ tags: 'a,b', status: 'ACTIVE', 'not-tags': ['x', 'y'] }).reply(200, { servers: [] });
    await t.request({ method: 'GET', url: `${NOVA}/v2.1/servers/detail`, auth: false, query: { tags: 'a,b', status: 'ACTIVE', 'not-tags': ['x', 'y'], limit: undefined } });
    expectAllCalled();
  });

  it('retries idempotent calls on 502, 503, 504 and 429', async () => {
    for (const status of [502, 503, 504, 429]) {
      const t = transport();
      nock(NOVA).get('/v2.1/flavors/1').reply(status, 'busy').get('/v2.1/flavors/1').reply(200, { flavor: { id: '1' } });
      const res = await t.request<{ flavor: { id: string } }>({ method: 'GET', url: `${NOVA}/v2.1/flavors/1`, auth: false });
      expect(res.data.flavor.id, `status ${status}`).to.equal('1');
      expectAllCalled();
    }
  });

  it('does not retry 500, 400, 404 or 409 even for GET', async () => {
    for (const status of [500, 400, 404, 409]) {
      const t = transport();
      nock(NOVA).get('/v2.1/flavors/1').once().reply(status, { itemNotFound: { message: 'm', code: status } });
      const err = await fails(t.request({ method: 'GET', url: `${NOVA}/v2.1/flavors/1`, auth: false }));
      expect((err as HttpError).status).to.equal(status);
      expectAllCalled();
    }
  });

  it('never retries a POST on 503 or a reset connection, unless marked idempotent', async () => {
    const t = transport();
    nock(NOVA).post('/v2.1/servers').once().reply(503, 'unavailable');
    expect(await fails(t.request({ method: 'POST', url: `${NOVA}/v2.1/servers`, json: {}, auth: false }))).to.be.instanceOf(ServerError);
    nock(NOVA).post('/v2.1/servers').once().replyWithError(netError('ECONNRESET', 'socket hang up'));
    const err = await fails(t.request({ method: 'POST', url: `${NOVA}/v2.1/servers`, json: {}, auth: false }));
    expect(err).to.be.instanceOf(ConnectionError);
    expect((err as ConnectionError).code).to.equal('ECONNRESET');
    nock(NOVA).post('/v2.1/servers/s1/action').reply(503, 'x').post('/v2.1/servers/s1/action').reply(202);
    await t.request({ method: 'POST', url: `${NOVA}/v2.1/servers/s1/action`, json: { 'os-stop': null }, idempotent: true, auth: false, ok: [202] });
    expectAllCalled();
  });

  it('retries a refused connection for any method: the request never left', async () => {
    const t = transport();
    nock(NOVA).post('/v2.1/servers').replyWithError(netError('ECONNREFUSED', 'connect ECONNREFUSED')).post('/v2.1/servers').reply(202, { server: { id: 's' } });
    const res = await t.request({ method: 'POST', url: `${NOVA}/v2.1/servers`, json: {}, auth: false });
    expect(res.status).to.equal(202);
  });

  it('retries reset connections for idempotent calls and gives up after the retry budget', async () => {
    const t = transport();
    nock(NOVA).get('/v2.1/x').times(4).replyWithError(netError('ECONNRESET', 'reset'));
    const err = await fails(t.request({ method: 'GET', url: `${NOVA}/v2.1/x`, auth: false }));
    expect(err).to.be.instanceOf(ConnectionError);
    expectAllCalled();
  });

  it('honours Retry-After on 429 before retrying', async () => {
    const t = transport();
    nock(NOVA).get('/v2.1/x').reply(429, { overLimit: { message: 'slow down', code: 429 } }, { 'Retry-After': '0.2' }).get('/v2.1/x').reply(200, {});
    const started = Date.now();
    await t.request({ method: 'GET', url: `${NOVA}/v2.1/x`, auth: false });
    expect(Date.now() - started).to.be.at.least(190);
  });

  it('reports Retry-After on the error when retries run out', async () => {
    const t = new Transport({ site: 's', retry: { retries: 0 } });
    nock(NOVA).get('/v2.1/x').reply(429, { overLimit: { message: 'slow down', code: 429 } }, { 'Retry-After': '7' });
    const err = (await fails(t.request({ method: 'GET', url: `${NOVA}/v2.1/x`, auth: false }))) as TooManyRequestsError;
    expect(err).to.be.instanceOf(TooManyRequestsError);
    expect(err.retryAfter).to.equal(7);
  });

  it('parses Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('120')).to.equal(120);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).to.equal(10);
    expect(parseRetryAfter('soon')).to.equal(undefined);
    expect(parseRetryAfter(undefined)).to.equal(undefined);
  });

  it('re-authenticates once on 401 and retries with the new token', async () => {
    const t = transport();
    const tokens = fixedTokens(TOKEN, TOKEN2);
    t.useTokens(tokens);
    nock(NOVA).get('/v2.1/x').matchHeader('X-Auth-Token', TOKEN).reply(401, { error: { code: 401, message: 'expired' } });
    nock(NOVA).get('/v2.1/x').matchHeader('X-Auth-Token', TOKEN2).reply(200, { ok: true });
    const res = await t.request<{ ok: boolean }>({ method: 'GET', url: `${NOVA}/v2.1/x` });
    expect(res.data.ok).to.equal(true);
    expect(tokens.refreshed).to.equal(1);
  });

  it('gives up after one re-authentication when the new token is refused too', async () => {
    const t = transport();
    const tokens = fixedTokens(TOKEN, TOKEN2);
    t.useTokens(tokens);
    nock(NOVA).get('/v2.1/x').twice().reply(401, { error: { code: 401, message: 'no' } });
    const err = await fails(t.request({ method: 'GET', url: `${NOVA}/v2.1/x` }));
    expect(err).to.be.instanceOf(UnauthorizedError);
    expect(tokens.refreshed).to.equal(1);
    expectAllCalled();
  });

  it('maps TLS, DNS and timeout failures to ConnectionError with a hint', async () => {
    const t = new Transport({ site: 's', retry: { retries: 0 } });
    nock(NOVA).get('/v2.1/a').replyWithError(netError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'));
    const tls = await fails(t.request({ method: 'GET', url: `${NOVA}/v2.1/a`, auth: false }));
    expect(tls.message).to.match(/UNABLE_TO_VERIFY_LEAF_SIGNATURE.*cacert/);
    nock(NOVA).get('/v2.1/b').replyWithError(netError('ENOTFOUND', 'getaddrinfo ENOTFOUND'));
    expect((await fails(t.request({ method: 'GET', url: `${NOVA}/v2.1/b`, auth: false }))).message).to.match(/does not resolve/);
    nock(NOVA).get('/v2.1/c').delay(300).reply(200, {});
    const slow = await fails(t.request({ method: 'GET', url: `${NOVA}/v2.1/c`, auth: false, timeoutMs: 50 }));
    expect(slow).to.be.instanceOf(ConnectionError);
    expect((slow as ConnectionError).code).to.equal('ETIMEDOUT');
  });

  it('stops at once when the caller aborts', async () => {
    const t = transport();
    nock(NOVA).get('/v2.1/slow').delay(2000).reply(200, {});
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    const started = Date.now();
    const err = await fails(t.request({ method: 'GET', url: `${NOVA}/v2.1/slow`, auth: false, signal: ac.signal }));
    expect(Date.now() - started).to.be.below(1000);
    expect(err.message).to.match(/abort/i);
  });

  it('rejects a 2xx body that is not JSON with a clear error', async () => {
    const t = transport();
    nock(NOVA).get('/v2.1/x').reply(200, '<html>proxy login</html>');
    expect((await fails(t.request({ method: 'GET', url: `${NOVA}/v2.1/x`, auth: false }))).message).to.match(/not JSON/);
  });

  it('reads the error body of a streamed response', async () => {
    const t = transport();
    nock(NOVA).get('/v2.1/x').reply(404, { itemNotFound: { code: 404, message: 'no such thing' } });
    const err = (await fails(t.request({ method: 'GET', url: `${NOVA}/v2.1/x`, auth: false, responseType: 'stream' }))) as HttpError;
    expect(err.detail).to.equal('no such thing');
  });

  it('drains a streamed response without a body (204, 304, HEAD, Content-Length 0) and hands back an ended empty stream, freeing its keep-alive socket', async () => {
    // Real HTTP on 127.0.0.1 (nock off): what matters is whether the socket goes back to the pool.
    const server = await localServer((req, res) => {
      if (req.url === '/no-content') res.writeHead(204).end();
      else if (req.url === '/not-modified') res.writeHead(304, { ETag: '"e1"' }).end();
      else if (req.url === '/empty') res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': '0' }).end();
      // Node leaves out the body of a HEAD answer; its Content-Length still says 5.
      else res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': '5' }).end('hello');
    });
    try {
      const t = transport();
      const stream = (method: 'GET' | 'HEAD', path: string, ok?: number[]) => t.request<Readable>({ method, url: `${server.origin}${path}`, auth: false, responseType: 'stream', ok });
      const seen = await withoutNock(async () => {
        const out: { status: number; ended: boolean; data: string }[] = [];
        for (const [method, path, ok] of [
          ['GET', '/no-content', undefined],
          ['GET', '/not-modified', [304]],
          ['HEAD', '/data', undefined],
          ['GET', '/empty', undefined],
          ['GET', '/no-content', undefined],
        ] as const) {
          const res = await stream(method, path, ok ? [...ok] : undefined);
          out.push({ status: res.status, ended: res.data.readableEnded, data: (await drain(res.data)).toString() });
        }
        // Dropped without a read: nothing may be left holding the connection.
        await stream('GET', '/no-content');
        await stream('HEAD', '/data');
        // A response with a body is the caller's to read, untouched.
        const full = await stream('GET', '/data');
        out.push({ status: full.status, ended: full.data.readableEnded, data: (await drain(full.data)).toString() });
        return out;
      });
      expect(seen).to.deep.equal([
        { status: 204, ended: true, data: '' },
        { status: 304, ended: true, data: '' },
        { status: 200, ended: true, data: '' },
        { status: 200, ended: true, data: '' },
        { status: 204, ended: true, data: '' },
        { status: 200, ended: false, data: 'hello' },
      ]);
      // Eight requests in turn over one kept-alive connection: each body-less answer released it.
      expect(server.connections).to.equal(1);
    } finally {
      await server.close();
    }
  });

  it('reports every exchange to onResponse (metrics)', async () => {
    const events: unknown[] = [];
    const t = new Transport({ site: 'site-a', onResponse: (e) => events.push({ ...e, ms: 0 }) });
    nock(NOVA).get('/v2.1/x').reply(200, {});
    await t.request({ method: 'GET', url: `${NOVA}/v2.1/x`, auth: false, service: 'compute' });
    expect(events).to.deep.equal([{ site: 'site-a', service: 'compute', method: 'GET', status: 200, ms: 0 }]);
  });
});

describe('transport redaction', () => {
  useNock();

  it('never logs the token, the password or the auth body, even at debug level', async () => {
    const { site, logger } = testSite();
    nock('https://keystone.site-a.test:5000').post('/v3/auth/tokens').reply(503, 'busy');
    mockAuth();
    mockNovaVersion();
    nock(NOVA).get('/v2.1/servers/x').reply(404, { itemNotFound: { code: 404, message: `Token ${TOKEN} was used with password ${PASSWORD}` } });
    const err = await fails(site.compute.get('servers/x'));
    const everything = `${logger.text()}\n${err.message}\n${JSON.stringify(err)}\n${err.stack ?? ''}`;
    expect(everything).not.to.include(TOKEN);
    expect(everything).not.to.include(PASSWORD);
    expect(logger.text()).to.include('***');
    expect(logger.lines.some((l) => l.level === 'debug' && l.msg.startsWith('REQ GET'))).to.equal(true);
  });

  it('keeps a wrong-password failure free of the password', async () => {
    const { site, logger } = testSite();
    nock('https://keystone.site-a.test:5000')
      .post('/v3/auth/tokens')
      .reply(401, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } }, { 'x-openstack-request-id': 'req-ks' });
    const err = await fails(site.connect());
    expect(err).to.be.instanceOf(UnauthorizedError);
    expect(err.message).to.include('requires authentication');
    expect(err.message).to.include('req-ks');
    expect(`${err.message}${logger.text()}`).not.to.include(PASSWORD);
  });

  it('masks secret headers and values in the Redactor', () => {
    const r = new Redactor();
    r.add('topsecret');
    expect(r.headers({ 'X-Auth-Token': 'abc', 'x-subject-token': 'def', Accept: 'application/json' })).to.deep.equal({ 'X-Auth-Token': '***', 'x-subject-token': '***', Accept: 'application/json' });
    expect(r.text('the secret is topsecret!')).to.equal('the secret is ***!');
    expect(r.value({ auth: { identity: { password: { user: { name: 'u', password: 'p4ss' } } } }, note: 'topsecret' })).to.deep.equal({
      auth: { identity: { password: { user: { name: 'u', password: '***' } } } },
      note: '***',
    });
  });
});
