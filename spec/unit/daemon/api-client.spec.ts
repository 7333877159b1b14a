// The typed API client over real HTTP against the API listening on 127.0.0.1: every read,
// starting and following a run, the error shape turned into ApiClientError, one token refresh
// on 401, tokens from OS_TOKEN or a clouds.yaml cloud (Keystone by nock), and remoteCatalog
// giving the catalog's own shapes.
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { ApiClientError, apiTokenProvider, baseUrlOf, FerryApiClient, remoteCatalog, staticToken, type TokenProvider } from '../../../lib/daemon/api/client.js';
import { KEYSTONE, TOKEN, expectAllCalled, mockAuth } from '../../support/fake-cloud.js';
import { api, CALLERS, MINUTE, TOKENS, world, type ApiUnderTest, type World } from './api-fixtures.js';

async function rejection(p: Promise<unknown>): Promise<ApiClientError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiClientError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('daemon API client', () => {
  let w: World;
  let a: ApiUnderTest;
  let url: string;
  const client = (who: keyof typeof TOKENS | TokenProvider) => new FerryApiClient({ url, token: typeof who === 'string' ? staticToken(TOKENS[who]) : who });

  beforeEach(async () => {
    w = await world();
    a = await api(w);
    url = await a.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => {
    await a.app.close();
    await w.catalog.close();
  });

  it('accepts the base URL with or without /v1 and a trailing slash, and refuses what is not http(s)', () => {
    expect(baseUrlOf('https://ferry.example.org:9777/')).to.equal('https://ferry.example.org:9777');
    expect(baseUrlOf('https://ferry.example.org:9777/v1/')).to.equal('https://ferry.example.org:9777');
    expect(baseUrlOf('http://lb.example.org/ferry/v1')).to.equal('http://lb.example.org/ferry');
    expect(() => baseUrlOf('ferry.example.org')).to.throw(/is not a URL \(fix: --url https:\/\/HOST:PORT, or FERRY_URL\)/);
    expect(() => baseUrlOf('ftp://ferry')).to.throw(/not an http\(s\) URL/);
  });

  it('reads versions, health, the OpenAPI document, plans, points, runs and status', async () => {
    const c = client('reader');
    expect((await c.version()).version.id).to.equal('v1');
    expect((await c.health()).status).to.equal('ok');
    expect((await c.openapi())['openapi']).to.equal('3.1.0');
    expect((await c.plans()).map((p) => p.name)).to.deep.equal(['web']);
    expect((await c.plans({ includeDeleted: true })).map((p) => p.name)).to.deep.equal(['old-web', 'web']);
    expect((await c.plan('web'))?.spec).to.deep.equal({ name: 'web', members: [{ tag: 'web' }] });
    expect(await c.plan('payroll-db')).to.equal(undefined);
    expect((await c.points('web', { status: 'complete' })).map((p) => p.id)).to.deep.equal([w.points.complete]);
    expect((await c.point(w.points.complete))?.manifest?.['apiVersion']).to.equal('ferry.recoverypoint/v1');
    expect((await c.runs({ kind: 'drtest' })).map((r) => r.id)).to.deep.equal([w.runs.drtestDone]);
    expect((await c.run(w.runs.drtestDone))?.journal).to.have.length(10);
    expect(await c.run('nope')).to.equal(undefined);
    expect((await c.status()).plans.map((p) => p.plan)).to.deep.equal(['web']);
  });

  it('starts a DR test and follows it to its end by long polls', async () => {
    const c = client('member');
    const started = await c.startRun('web', 'drtest', { pointId: w.points.complete });
    expect(started).to.deep.include({ plan: 'web', kind: 'drtest' });
    expect(a.started[0]!.params).to.deep.equal({ pointId: w.points.complete });
    const id = started.id;
    void (async () => {
      await new Promise((r) => setTimeout(r, 40));
      await w.repo.runs.update(id, { status: 'running' });
      await w.repo.journal.append(id, { step: 'bubble', phase: 'observe', data: { done: false } });
      await new Promise((r) => setTimeout(r, 40));
      await w.repo.journal.append(id, { step: 'bubble', phase: 'done' });
      await w.repo.runs.update(id, { status: 'succeeded' });
    })();
    const seen: string[] = [];
    const end = await c.follow(id, {
      waitSeconds: 2,
      onRun: (r) => seen.push(`run ${r.status}`),
      onEntry: (e) => seen.push(`${e.seq} ${e.step} ${e.phase}`),
    });
    expect(end.status).to.equal('succeeded');
    expect(seen.filter((s) => s.startsWith('1') || s.startsWith('2'))).to.deep.equal(['1 bubble observe', '2 bubble done']);
    // The first page's status (pending or running) comes before the end; the end comes last.
    expect(seen.findIndex((s) => /^run (pending|running)$/.test(s))).to.be.within(0, seen.indexOf('2 bubble done'));
    expect(seen.at(-1)).to.equal('run succeeded');
  });

  it('turns error answers into ApiClientError with status, code, message and the request ID', async () => {
    const err = await rejection(client('reader').startRun('web', 'drtest'));
    expect(err.status).to.equal(403);
    expect(err.code).to.equal('forbidden');
    expect(err.requestId).to.match(/^req-/);
    expect(err.message).to.equal(
      `Ferry daemon: POST /v1/plans/web/runs answered 403 forbidden: policy does not allow runs:create:drtest (rule: rule:member_required) for user rita in web with roles reader (request ${err.requestId})`,
    );
    expect(a.logger.lines.some((l) => l.fields['requestId'] === err.requestId)).to.equal(true);
    const none = await rejection(new FerryApiClient({ url }).plans());
    expect(none).to.deep.include({ status: 0, code: 'no_token' });
  });

  it('says how to fix an unreachable daemon, without the token', async () => {
    const dead = new FerryApiClient({ url: 'http://127.0.0.1:1', token: staticToken(TOKENS.reader), timeoutMs: 2000 });
    const err = await rejection(dead.plans());
    expect(err.status).to.equal(0);
    expect(err.code).to.equal('ECONNREFUSED');
    expect(err.message).to.match(/^cannot reach the Ferry daemon at http:\/\/127\.0\.0\.1:1: .*fix: check --url or FERRY_URL, or unset them to run in-process\)$/);
    expect(err.message).not.to.include(TOKENS.reader);
  });

  it('asks its token source for a new token once when the daemon answers 401', async () => {
    const asked: string[] = [];
    const source: TokenProvider = {
      describe: 'cloud test',
      token: async () => 'gAAAAAB-stale-token',
      refresh: async (stale) => {
        asked.push(stale);
        return TOKENS.reader;
      },
    };
    expect((await client(source).plans()).map((p) => p.name)).to.deep.equal(['web']);
    expect(asked).to.deep.equal(['gAAAAAB-stale-token']);
    const stuck: TokenProvider = { describe: 'cloud test', token: async () => 'gAAAAAB-stale-token', refresh: async () => 'gAAAAAB-still-bad' };
    const err = await rejection(client(stuck).plans());
    expect(err.status).to.equal(401);
    expect(err.message).to.include('(token from cloud test)');
    const fixed = await rejection(client(staticToken('gAAAAAB-revoked')).plans());
    expect(fixed.message).to.include('(token from OS_TOKEN)');
    expect(fixed.message).not.to.include('gAAAAAB-revoked');
  });

  it('remoteCatalog reads with the catalog\'s shapes (Dates, planName) and answers journal.last from the list', async () => {
    const cat = remoteCatalog(client('reader'));
    const plans = await cat.plans.list();
    expect(plans.map((p) => p.name)).to.deep.equal(['web']);
    expect(plans[0]!.createdAt).to.be.instanceOf(Date);
    expect(plans[0]!.spec).to.deep.equal({});
    expect((await cat.plans.get('web'))!.spec).to.deep.equal({ name: 'web', members: [{ tag: 'web' }] });
    expect(await cat.plans.get('payroll-db')).to.equal(undefined);

    const local = await w.repo.points.list('web', { status: ['complete', 'partial'] });
    const remote = await cat.points.list('web', { status: ['complete', 'partial'] });
    expect(remote.map((p) => [p.id, p.createdAt.getTime(), p.status])).to.deep.equal(local.map((p) => [p.id, p.createdAt.getTime(), p.status]));
    expect((await cat.points.latestComplete('web'))?.id).to.equal(w.points.complete);
    expect((await cat.points.get(w.points.complete))?.manifest).to.deep.equal((await w.repo.points.get(w.points.complete))!.manifest);

    const runs = await cat.runs.list({ status: 'succeeded' });
    expect(runs.map((r) => [r.id, r.planName, r.startedAt.getTime()])).to.deep.equal((await w.repo.runs.list({ status: 'succeeded', planName: 'web' })).map((r) => [r.id, r.planName, r.startedAt.getTime()]));
    const before = a.logger.lines.length;
    const last = await cat.journal.last(w.runs.drtestDone);
    expect(a.logger.lines.length).to.equal(before);
    expect(last).to.include({ seq: 10, step: 'run', phase: 'done' });
    const journal = await cat.journal.read(w.runs.drtestDone, { afterSeq: 8 });
    expect(journal.map((e) => [e.seq, e.at.getTime(), e.data])).to.deep.equal((await w.repo.journal.read(w.runs.drtestDone, { afterSeq: 8 })).map((e) => [e.seq, e.at.getTime(), e.data]));
    expect((await cat.runs.get(w.runs.failoverRunning))?.status).to.equal('running');
    expect((await cat.status()).map((s) => s.currentRpoMs)).to.deep.equal([30 * MINUTE]);
    let refused: Error | undefined;
    await cat.runs.list({ status: ['running', 'pending'] }).catch((e: Error) => (refused = e));
    expect(refused?.message).to.equal('the daemon API filters runs by one status at a time');
  });

  describe('tokens', () => {
    it('OS_TOKEN when set; a cloud named explicitly wins over it', async () => {
      const env = { OS_TOKEN: TOKENS.member };
      const p = apiTokenProvider({ env });
      expect(p.describe).to.equal('OS_TOKEN');
      expect(await p.token()).to.equal(TOKENS.member);
      expect(apiTokenProvider({ env, cloud: 'site-a' }).describe).to.equal('cloud site-a');
    });

    it("from a clouds.yaml cloud through Ferry's Keystone session", async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ferry-client-'));
      const file = join(dir, 'clouds.yaml');
      writeFileSync(
        file,
        [
          'clouds:',
          '  site-a:',
          '    auth:',
          `      auth_url: ${KEYSTONE}/v3`,
          '      username: max',
          '      password: S3cr3t-pa55word!',
          '      user_domain_name: Default',
          '      project_name: web',
          '      project_domain_name: Default',
          '    region_name: RegionOne',
        ].join('\n'),
      );
      mockAuth();
      a.validator.table.set(TOKEN, CALLERS.member);
      try {
        const source = apiTokenProvider({ env: { OS_CLOUD: 'site-a', OS_CLIENT_CONFIG_FILE: file } });
        const c = new FerryApiClient({ url, token: source });
        expect((await c.plans()).map((p) => p.name)).to.deep.equal(['web']);
        expect((await c.startRun('web', 'drtest')).kind).to.equal('drtest');
        expect(source.describe).to.equal('cloud site-a');
        expectAllCalled(); // one token issued for both calls
      } finally {
        nock.cleanAll();
      }
    });
  });
});
