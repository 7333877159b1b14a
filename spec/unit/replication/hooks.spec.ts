// Plan hooks: real child processes (node -e, /bin/sh) for commands, nock for HTTP.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import type { PlanHook } from '../../../lib/config/protection-plan.js';
import { MemoryLogger } from '../../../lib/log.js';
import { hookLabel, runHook, runHooks, safeUrl, tail, type HookContext } from '../../../lib/replication/hooks.js';
import { useNock } from '../../support/fake-cloud.js';

const NODE = process.execPath;
const ctx: HookContext = { plan: 'web', point: '0b6f6d3e-2a0c-4c55-9d6a-3e1f2a4b5c6d', phase: 'pre_snapshot' };
const cmd = (argv: string[], ms = 10_000): PlanHook => ({ command: argv, timeout: { text: `${ms}ms`, ms } });
const http = (url: string, over: Partial<NonNullable<PlanHook['http']>> = {}, ms = 5_000): PlanHook => ({
  http: { url, method: 'POST', headers: {}, ...over },
  timeout: { text: `${ms}ms`, ms },
});
const tmp = () => mkdtempSync(join(tmpdir(), 'ferry-hooks-'));

/** True while the process runs (a zombie waiting for a reaper counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('replication/hooks', () => {
  describe('helpers (pure)', () => {
    it('shows a URL without user info, path or query', () => {
      const table: [string, string][] = [
        ['https://hooks.example.com/services/T000/B000/s3cr3t?token=abc', 'https://hooks.example.com/…'],
        ['http://user:pw@db.example.com:8080/', 'http://db.example.com:8080/'],
        ['https://h.example.com', 'https://h.example.com/'],
        ['not a url', '(unparseable URL)'],
      ];
      for (const [url, want] of table) expect(safeUrl(url), url).to.equal(want);
    });

    it('labels hooks by phase, position and program or origin', () => {
      expect(hookLabel(cmd(['/usr/local/bin/freeze-db', '--password=hunter2']), { phase: 'pre_snapshot', index: 0 })).to.equal('pre_snapshot hook 1 (command freeze-db)');
      expect(hookLabel(http('https://hooks.example.com/x?token=t', { method: 'PUT' }), { phase: 'post_snapshot', index: 2 })).to.equal('post_snapshot hook 3 (PUT https://hooks.example.com/…)');
    });

    it('keeps the last lines of a text, at most so many characters', () => {
      expect(tail('a\nb\nc\n\n', 1000, 2)).to.equal('b\nc');
      expect(tail('x'.repeat(50), 10)).to.equal(`…${'x'.repeat(10)}`);
    });
  });

  describe('commands', () => {
    it('runs argv without a shell, with FERRY_PLAN, FERRY_POINT and FERRY_PHASE in the environment', async () => {
      const dir = tmp();
      const out = join(dir, 'out.json');
      const script = `require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({argv: process.argv.slice(1), plan: process.env.FERRY_PLAN, point: process.env.FERRY_POINT, phase: process.env.FERRY_PHASE, keep: process.env.KEEP_ME}))`;
      const r = await runHook(cmd([NODE, '-e', script, '$(touch pwned)', '; echo no']), { ...ctx, index: 0, env: { KEEP_ME: 'yes', PATH: process.env.PATH } });
      expect(r).to.include({ ok: true, kind: 'command', exitCode: 0, timedOut: false, label: 'pre_snapshot hook 1 (command node)' });
      expect(JSON.parse(readFileSync(out, 'utf8'))).to.deep.equal({ argv: ['$(touch pwned)', '; echo no'], plan: 'web', point: ctx.point, phase: 'pre_snapshot', keep: 'yes' });
    });

    it('fails on a non-zero exit with the code and the tail of stderr', async () => {
      const lines = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\\n');
      const r = await runHook(cmd([NODE, '-e', `console.error("${lines}\\nfatal: cannot freeze /var/lib/mysql"); process.exit(3)`]), ctx);
      expect(r).to.include({ ok: false, exitCode: 3, timedOut: false });
      expect(r.error).to.match(/^exited with code 3: line 21\n/);
      expect(r.error).to.match(/fatal: cannot freeze \/var\/lib\/mysql$/);
      expect(r.error).not.to.include('line 20\n');
    });

    it('kills a command past its timeout with SIGTERM, its children too', async () => {
      const dir = tmp();
      const pidFile = join(dir, 'child.pid');
      const started = Date.now();
      const r = await runHook(cmd(['/bin/sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`], 1000), ctx);
      expect(r).to.include({ ok: false, timedOut: true, exitSignal: 'SIGTERM' });
      expect(r.error).to.match(/^timed out after 1000 ms and was killed \(SIGTERM\)/);
      expect(Date.now() - started).to.be.lessThan(4000);
      const child = Number(readFileSync(pidFile, 'utf8'));
      // The background sleep was in the hook's process group: it got the SIGTERM too.
      for (let i = 0; i < 50 && alive(child); i++) await new Promise((res) => setTimeout(res, 20));
      expect(alive(child), `sleep ${child} still running`).to.equal(false);
    });

    it('sends SIGKILL after the grace period to a command that ignores SIGTERM', async () => {
      const dir = tmp();
      const ready = join(dir, 'ready');
      const script = `process.on('SIGTERM', () => {}); require('fs').writeFileSync(${JSON.stringify(ready)}, 'x'); setInterval(() => {}, 1000)`;
      const r = await runHook(cmd([NODE, '-e', script], 1500), { ...ctx, killGraceMs: 200 });
      expect(readFileSync(ready, 'utf8'), 'the handler was installed before the timeout').to.equal('x');
      expect(r).to.include({ ok: false, timedOut: true, exitSignal: 'SIGKILL' });
    });

    it('reports a program that cannot start', async () => {
      const r = await runHook(cmd(['/nonexistent/ferry-freeze']), ctx);
      expect(r.ok).to.equal(false);
      expect(r.error).to.match(/^cannot run ferry-freeze: spawn \/nonexistent\/ferry-freeze ENOENT/);
    });

    it('stops a command when the cycle is cancelled', async () => {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 100);
      const r = await runHook(cmd([NODE, '-e', 'setInterval(() => {}, 1000)']), { ...ctx, signal: ac.signal });
      expect(r).to.include({ ok: false, timedOut: false });
      expect(r.error).to.equal('cancelled (SIGTERM)');
    });

    it('runs a list in order; pre hooks stop at the first failure, post hooks all run', async () => {
      const dir = tmp();
      const log = join(dir, 'log');
      writeFileSync(log, '');
      const append = (tag: string, code = 0) => cmd([NODE, '-e', `require('fs').appendFileSync(${JSON.stringify(log)}, '${tag} ' + process.env.FERRY_PHASE + '\\n'); process.exit(${code})`]);
      const hooks = [append('one'), append('two', 1), append('three')];
      const seen: string[] = [];
      const pre = await runHooks(hooks, ctx, { stopOnFailure: true, onResult: (r) => seen.push(r.label) });
      expect(pre.map((r) => r.ok)).to.deep.equal([true, false]);
      expect(seen).to.deep.equal(['pre_snapshot hook 1 (command node)', 'pre_snapshot hook 2 (command node)']);
      const post = await runHooks(hooks, { ...ctx, phase: 'post_snapshot' });
      expect(post.map((r) => r.ok)).to.deep.equal([true, false, true]);
      expect(readFileSync(log, 'utf8')).to.equal('one pre_snapshot\ntwo pre_snapshot\none post_snapshot\ntwo post_snapshot\nthree post_snapshot\n');
    });
  });

  describe('HTTP', () => {
    useNock();
    const URL_ = 'https://hooks.example.com/ferry/T0/s3cr3t-path?token=s3cr3t-query';
    const headers = { Authorization: 'Bearer s3cr3t-header-value' };

    it('POSTs {plan, point, phase} as JSON with the plan headers; 2xx is success', async () => {
      const scope = nock('https://hooks.example.com', { reqheaders: { authorization: 'Bearer s3cr3t-header-value', 'content-type': 'application/json', 'x-ferry-phase': 'post_snapshot', 'x-ferry-plan': 'web' } })
        .post('/ferry/T0/s3cr3t-path', { plan: 'web', point: ctx.point, phase: 'post_snapshot' })
        .query({ token: 's3cr3t-query' })
        .reply(204);
      const r = await runHook(http(URL_, { headers }), { ...ctx, phase: 'post_snapshot' });
      expect(r).to.include({ ok: true, kind: 'http', status: 204, timedOut: false });
      scope.done();
    });

    it('GET sends no body, the facts in headers', async () => {
      let body: unknown = 'unset';
      const scope = nock('https://hooks.example.com', { reqheaders: { 'x-ferry-point': ctx.point } })
        .get('/freeze')
        .reply(200, function (_uri, b) {
          body = b;
          return 'ok';
        });
      const r = await runHook(http('https://hooks.example.com/freeze', { method: 'GET' }), ctx);
      expect(r.ok).to.equal(true);
      expect(body).to.equal('');
      scope.done();
    });

    it('fails on a 500 with the status and a scrubbed body, never showing the secrets', async () => {
      const logger = new MemoryLogger();
      nock('https://hooks.example.com').post('/ferry/T0/s3cr3t-path').query(true).reply(500, 'internal error: bad header Bearer s3cr3t-header-value');
      const r = await runHook(http(URL_, { headers }), { ...ctx, index: 0, logger });
      expect(r).to.include({ ok: false, status: 500, timedOut: false, label: 'pre_snapshot hook 1 (POST https://hooks.example.com/…)' });
      expect(r.error).to.equal('returned 500: internal error: bad header ***');
      const text = JSON.stringify([r, logger.lines]);
      for (const secret of ['s3cr3t-header-value', 's3cr3t-path', 's3cr3t-query']) expect(text).not.to.include(secret);
      expect(logger.lines.some((l) => l.level === 'warn' && l.msg.startsWith('pre_snapshot hook 1 (POST https://hooks.example.com/…) failed: returned 500'))).to.equal(true);
    });

    it('times out a hook that does not answer in time', async () => {
      nock('https://hooks.example.com').post('/slow').delay(2_000).reply(200);
      const started = Date.now();
      const r = await runHook(http('https://hooks.example.com/slow', {}, 150), ctx);
      expect(r).to.include({ ok: false, timedOut: true });
      expect(r.error).to.equal('no answer within 150 ms');
      expect(Date.now() - started).to.be.lessThan(1500);
    });

    it('reports a connection failure without the URL', async () => {
      nock('https://hooks.example.com').post('/ferry/T0/s3cr3t-path').query(true).replyWithError(Object.assign(new Error(`connect ECONNREFUSED ${URL_}`), { code: 'ECONNREFUSED' }));
      const r = await runHook(http(URL_), ctx);
      expect(r.ok).to.equal(false);
      expect(r.error).to.match(/^request failed: ECONNREFUSED/);
      expect(r.error).not.to.include('s3cr3t');
    });
  });
});
