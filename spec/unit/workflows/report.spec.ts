// The DR test report: golden files for a passed and a failed drill (the run driven by the real
// engine over an in-memory catalog with a fake clock, so the journal is the real thing), the
// outcome rules, HTML injection through names and errors, self-containment, and writeReport.
// Golden files live in spec/unit/workflows/golden/; regenerate them after an intended change
// with UPDATE_GOLDEN=1 and review the diff.
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogRepo, type JournalEntry, type JournalPhase, type JsonObject, type Run } from '../../../lib/catalog/repo.js';
import { defineWorkflow, startRun, summarizeRun, type RunOutcome } from '../../../lib/workflows/engine.js';
import {
  DRTEST_REPORT_API_VERSION,
  buildReport,
  escapeHtml,
  formatMs,
  renderReportHtml,
  renderReportJson,
  reportBaseName,
  writeReport,
  type CreatedResource,
  type ReportInput,
  type VerificationResult,
} from '../../../lib/workflows/report.js';

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), 'golden');

/** Compares text with a golden file (written instead with UPDATE_GOLDEN=1). */
function golden(file: string, actual: string): void {
  const path = join(GOLDEN, file);
  if (process.env.UPDATE_GOLDEN) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  expect(existsSync(path), `${path} is missing: run the tests with UPDATE_GOLDEN=1 to write it`).to.equal(true);
  expect(actual, `${file} differs from the golden file (UPDATE_GOLDEN=1 rewrites it; review the diff)`).to.equal(readFileSync(path, 'utf8'));
}

const T0 = Date.parse('2026-11-27T03:00:00.000Z');

/** A clock that moves by the given steps (ms), then by the last one. */
function clock(steps: number[]): () => Date {
  let t = T0;
  let i = 0;
  return () => {
    const d = new Date(t);
    t += steps[Math.min(i, steps.length - 1)]!;
    i++;
    return d;
  };
}

/**
 * A DR test in miniature, driven by the engine: the bubble, the stack, the check (which fails
 * its first try when `flaky`), the report. `failCheck` makes the check fail for good.
 */
async function drill(opts: { flaky?: boolean; failCheck?: string; runId: string }): Promise<{ catalog: Catalog; out: RunOutcome; repo: CatalogRepo }> {
  const now = clock([1_000, 2_500, 4_000, 7_000, 1_500]);
  const catalog = await openCatalog('sqlite::memory:');
  const repo = new CatalogRepo(catalog, { now });
  await repo.plans.upsert({ name: 'web', project: 'shop', primarySite: 'lab-a', secondarySite: 'lab-b', tier: 'pilot-light', rpoMs: 900_000, spec: { name: 'web' } });
  let tries = 0;
  const w = defineWorkflow('drtest', [
    { name: 'bubble', describe: 'create the isolated test network at the secondary', action: 'create', observe: () => ({ done: false }), act: () => ({ network: 'net-1' }), verify: () => ({ ok: true }) },
    { name: 'stack', describe: 'create the DR-test stack from the recovery point', action: 'create', observe: () => ({ done: false }), act: () => ({ stack: 'stack-1' }), verify: () => ({ ok: true }) },
    {
      name: 'verify',
      describe: 'verify servers ACTIVE and volume checksums',
      action: 'read',
      retry: { attempts: 2, backoffMs: 0 },
      observe: () => ({ done: false }),
      act: () => undefined,
      verify: () => {
        tries++;
        if (opts.failCheck) return { ok: false, reason: opts.failCheck };
        return opts.flaky && tries === 1 ? { ok: false, reason: 'server db BUILD' } : { ok: true };
      },
    },
  ]);
  const out = await startRun(repo, w, { planName: 'web', owner: 'cli@ops-1', runId: opts.runId, now, sleep: () => Promise.resolve() });
  return { catalog, out, repo };
}

// ---- hand-written journals for the golden files (the documented entry shapes, fixed times) ----

type Line = [seconds: number, step: string, phase: JournalPhase, data?: JsonObject];

const DECLARED = [
  { name: 'point', describe: 'choose the recovery point and check it is complete', action: 'read' },
  { name: 'bubble', describe: 'create the isolated test network at the secondary', action: 'create' },
  { name: 'stack', describe: 'create the DR-test stack from the recovery point', action: 'create' },
  { name: 'verify', describe: 'verify servers ACTIVE, volume checksums and addresses', action: 'read' },
  { name: 'report', describe: 'write the report (JSON and HTML)', action: 'create' },
  { name: 'teardown', describe: 'delete the DR-test stack and bubble after --keep', action: 'delete' },
];

function journal(runId: string, lines: Line[]): JournalEntry[] {
  return lines.map(([sec, step, phase, data], i) => ({ runId, seq: i + 1, at: new Date(T0 + sec * 1000), step, phase, data: data ?? null }));
}

function drtestRun(id: string, over: Partial<Run> = {}): Run {
  return { id, planName: 'web', kind: 'drtest', status: 'running', startedAt: new Date(T0), finishedAt: null, params: { point: 'pt-20261127-0245', keep: '30m' }, result: null, owner: 'cli@ops-1', epoch: 4, ...over };
}

/** A drill caught while it writes its report: verified after a second try, the teardown still to come. */
const PASSED = journal('run-00001', [
  [0.2, 'run', 'observe', { resumed: false, owner: 'cli@ops-1', kind: 'drtest', steps: DECLARED }],
  [0.9, 'point', 'observe', { attempt: 1, done: false, ms: 700 }],
  [1.1, 'point', 'act', { attempt: 1, result: { point: 'pt-20261127-0245' }, ms: 200 }],
  [1.3, 'point', 'verify', { attempt: 1, ok: true, ms: 200 }],
  [1.3, 'point', 'done', { attempts: 1 }],
  [1.6, 'bubble', 'observe', { attempt: 1, done: false, ms: 300 }],
  [3.9, 'bubble', 'act', { attempt: 1, result: { networks: 2 }, ms: 2300 }],
  [4.2, 'bubble', 'verify', { attempt: 1, ok: true, ms: 300 }],
  [4.2, 'bubble', 'done', { attempts: 1 }],
  [4.5, 'stack', 'observe', { attempt: 1, done: false, ms: 300 }],
  [5.4, 'stack', 'act', { attempt: 1, result: { stack: 'ferry-web-drtest-run00001' }, ms: 900 }],
  [41.8, 'stack', 'verify', { attempt: 1, ok: true, ms: 36_400 }],
  [41.8, 'stack', 'done', { attempts: 1 }],
  [42.3, 'verify', 'observe', { attempt: 1, done: false, ms: 500 }],
  [44.0, 'verify', 'verify', { attempt: 1, ok: false, reason: 'server drtest-db-1 is BUILD', ms: 1700 }],
  [48.4, 'verify', 'observe', { attempt: 2, done: false, ms: 400 }],
  [51.6, 'verify', 'verify', { attempt: 2, ok: true, ms: 3200 }],
  [51.6, 'verify', 'done', { attempts: 2 }],
  [51.7, 'report', 'observe', { attempt: 1, done: false, ms: 100 }],
]);

/** A drill whose servers never came up: verify failed for good, the stack compensated, the run failed. */
const FAILED = journal('run-00002', [
  [0.2, 'run', 'observe', { resumed: false, owner: 'cli@ops-1', kind: 'drtest', steps: DECLARED }],
  [0.9, 'point', 'observe', { attempt: 1, done: false, ms: 700 }],
  [1.1, 'point', 'act', { attempt: 1, ms: 200 }],
  [1.3, 'point', 'verify', { attempt: 1, ok: true, ms: 200 }],
  [1.3, 'point', 'done', { attempts: 1 }],
  [1.6, 'bubble', 'observe', { attempt: 1, done: true, ms: 300 }],
  [1.8, 'bubble', 'verify', { attempt: 1, ok: true, ms: 200 }],
  [1.8, 'bubble', 'done', { attempts: 1 }],
  [2.1, 'stack', 'observe', { attempt: 1, done: false, ms: 300 }],
  [3.0, 'stack', 'act', { attempt: 1, ms: 900 }],
  [39.9, 'stack', 'verify', { attempt: 1, ok: true, ms: 36_900 }],
  [39.9, 'stack', 'done', { attempts: 1 }],
  [40.4, 'verify', 'observe', { attempt: 1, done: false, ms: 500 }],
  [42.0, 'verify', 'verify', { attempt: 1, ok: false, reason: 'server <img src=x onerror=alert(1)> is ERROR', ms: 1600 }],
  [46.5, 'verify', 'observe', { attempt: 2, done: false, ms: 500 }],
  [48.0, 'verify', 'verify', { attempt: 2, ok: false, reason: 'server <img src=x onerror=alert(1)> is ERROR', ms: 1500 }],
  [48.0, 'verify', 'failed', { attempt: 2, error: 'step verify (verify servers ACTIVE, volume checksums and addresses) failed after 2 tries: verify: server <img src=x onerror=alert(1)> is ERROR' }],
  [71.5, 'stack:compensate', 'done', { attempt: 1, ms: 23_500 }],
  [72.0, 'bubble:compensate', 'failed', { attempt: 3, error: 'network drtest-app-net: 409 NetworkInUse' }],
  [72.1, 'run', 'failed', { status: 'failed', step: 'verify', error: 'step verify (verify servers ACTIVE, volume checksums and addresses) failed after 2 tries: verify: server <img src=x onerror=alert(1)> is ERROR' }],
]);


const CHECKS: VerificationResult[] = [
  { check: 'server-active', subject: 'drtest-web-1', ok: true, detail: 'ACTIVE after 41 s' },
  { check: 'server-active', subject: 'drtest-db-1', ok: true, detail: 'ACTIVE after 48 s' },
  { check: 'volume-checksum', subject: 'drtest-db-data', ok: true, detail: 'sha256 9f86d081… equals the point' },
  { check: 'fixed-ip', subject: 'drtest-db-1', ok: true, detail: '10.20.0.12 kept' },
];

const RESOURCES: CreatedResource[] = [
  { kind: 'stack', name: 'ferry-web-drtest-run00001', id: '6c1f5a8e-3f0b-4c55-9a34-0e9d5e2b1c11' },
  { kind: 'network', name: 'drtest-app-net', id: 'b2c1d0e9-8f7a-4b6c-9d5e-4f3a2b1c0d9e' },
  { kind: 'server', name: 'drtest-web-1', id: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d' },
  { kind: 'volume', name: 'drtest-db-data', id: 'd4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70' },
];

function input(out: RunOutcome, over: Partial<ReportInput> = {}): ReportInput {
  return {
    run: out.run,
    result: out.result,
    site: 'lab-b',
    point: { id: 'pt-20261127-0245', createdAt: new Date(T0 - 15 * 60_000) },
    rtoMs: 14_000,
    rpoMs: 15 * 60_000,
    objectives: { rpoMs: 30 * 60_000 },
    verifications: CHECKS,
    resources: RESOURCES,
    generatedAt: new Date(T0 + 60_000),
    ...over,
  };
}

/** A report input over a hand-written journal. */
function fixed(run: Run, entries: JournalEntry[], over: Partial<ReportInput> = {}): ReportInput {
  return {
    run,
    entries,
    site: 'lab-b',
    point: { id: 'pt-20261127-0245', createdAt: new Date(T0 - 15 * 60_000) },
    rtoMs: 51_600,
    rpoMs: 15 * 60_000,
    objectives: { rpoMs: 30 * 60_000, rtoMs: 5 * 60_000 },
    verifications: CHECKS,
    resources: RESOURCES,
    generatedAt: new Date(T0 + 52_000),
    ...over,
  };
}

describe('workflows/report', () => {
  let catalogs: Catalog[] = [];
  afterEach(async () => {
    for (const c of catalogs) await c.close();
    catalogs = [];
  });
  const run = async (opts: Parameters<typeof drill>[0]) => {
    const d = await drill(opts);
    catalogs.push(d.catalog);
    return d;
  };

  it('a drill caught writing its report: golden JSON and HTML (steps done, one in progress, one to come)', () => {
    const report = buildReport(fixed(drtestRun('run-00001'), PASSED));
    expect(report.apiVersion).to.equal(DRTEST_REPORT_API_VERSION);
    expect(report.outcome).to.equal('passed');
    expect(report.reasons).to.deep.equal(['all 4 checks passed']);
    expect(report.rto).to.deep.equal({ ms: 51_600, text: '51.6 s', objectiveMs: 300_000, met: true });
    expect(report.rpo).to.deep.equal({ ms: 900_000, text: '15m', objectiveMs: 1_800_000, met: true });
    expect(report.steps.map((s) => [s.name, s.status, s.attempts, s.offsetMs, s.durationMs])).to.deep.equal([
      ['point', 'done', 1, 200, 1_100],
      ['bubble', 'done', 1, 1_300, 2_900],
      ['stack', 'done', 1, 4_200, 37_600],
      ['verify', 'done', 2, 41_800, 9_800],
      ['report', 'in-progress', 1, 51_600, null],
      ['teardown', 'pending', 0, null, null],
    ]);
    expect(report.run).to.include({ status: 'running', finishedAt: null, durationMs: 51_700, epoch: 4 });
    expect(report.timeline).to.have.length(PASSED.length);
    expect(report.timeline[14]).to.deep.equal({ step: 'verify', phase: 'verify', at: '2026-11-27T03:00:44.000Z', offsetMs: 44_000 });
    const html = renderReportHtml(report);
    // the lanes: four done, the report running to the end of the span, the teardown not started
    expect([...html.matchAll(/<div class="bar (\w+)"/g)].map((m) => m[1])).to.deep.equal(['ok', 'ok', 'ok', 'ok', 'warn', 'idle']);
    expect(html).to.include('<span class="note" style="right:19.15%">9.8 s, 2 tries</span>').and.include('<span class="note" style="left:8.12%">2.9 s</span>');
    expect(html).to.include('>not started</span>').and.include('>in progress</span>').and.include('<span class="rtolbl before">RTO 51.6 s</span>');
    golden('drtest-report-passed.json', renderReportJson(report));
    golden('drtest-report-passed.html', html);
  });

  it('a failed drill with hostile names: golden files, the cause and the warnings, every string escaped', () => {
    const run = drtestRun('run-00002', { status: 'failed', finishedAt: new Date(T0 + 72_100) });
    const hostile = '<script>alert("pwned")</script>';
    const report = buildReport(
      fixed(run, FAILED, {
        rtoMs: null,
        objectives: { rpoMs: 10 * 60_000, rtoMs: 5 * 60_000 },
        verifications: [
          { check: 'server-active', subject: hostile, ok: false, detail: 'status ERROR & fault "No valid host"' },
          { check: 'volume-checksum', subject: "db's data", ok: true },
        ],
        resources: [{ kind: 'server', name: hostile, id: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d' }],
        site: 'lab-b"><script>x</script>',
      }),
    );
    expect(report.outcome).to.equal('failed');
    expect(report.reasons).to.deep.equal([
      'the run failed at step verify: step verify (verify servers ACTIVE, volume checksums and addresses) failed after 2 tries: verify: server <img src=x onerror=alert(1)> is ERROR',
      '1 of 2 checks failed',
      'RPO 15m is over the objective 10m',
    ]);
    expect(report.rto).to.deep.equal({ ms: null, text: 'not measured', objectiveMs: 300_000, met: null });
    expect(report.run).to.include({ status: 'failed', failedStep: 'verify', finishedAt: '2026-11-27T03:01:12.100Z' });
    expect(report.warnings).to.deep.equal(["compensate of step bubble failed: network drtest-app-net: 409 NetworkInUse (what it made carries the run's marks)"]);

    const html = renderReportHtml(report);
    expect(html).not.to.include('<script');
    expect(html).not.to.include('<img');
    expect(html).to.include('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;');
    expect(html).to.include('lab-b&quot;&gt;&lt;script&gt;x&lt;/script&gt;');
    expect(html).to.include('status ERROR &amp; fault &quot;No valid host&quot;');
    expect(html).to.include('db&#39;s data');
    expect(html).to.include('server &lt;img src=x onerror=alert(1)&gt; is ERROR');
    expect(html).to.include('<div class="card missed"><div class="k">RPO</div>');
    // The JSON keeps the strings as they are: escaping is the page's business.
    expect(JSON.parse(renderReportJson(report)).verifications[0].subject).to.equal(hostile);
    golden('drtest-report-failed.json', renderReportJson(report));
    golden('drtest-report-failed.html', html);
  });

  it('reads a journal the engine wrote: steps, tries and timeline in order', async () => {
    const { out } = await run({ flaky: true, runId: 'run-00007' });
    expect(out.status).to.equal('succeeded');
    const report = buildReport(input(out));
    expect(report.steps.map((s) => [s.name, s.status, s.attempts])).to.deep.equal([
      ['bubble', 'done', 1],
      ['stack', 'done', 1],
      ['verify', 'done', 2],
    ]);
    const [a, b, c] = report.steps;
    expect(b!.offsetMs).to.be.at.least(a!.offsetMs! + a!.durationMs!);
    expect(c!.offsetMs).to.be.at.least(b!.offsetMs! + b!.durationMs!);
    expect(report.timeline[0]).to.include({ step: 'run', phase: 'observe' });
    expect(report.timeline.at(-1)).to.include({ step: 'run', phase: 'done' });
    expect(report.timeline.map((e) => e.offsetMs)).to.deep.equal([...report.timeline.map((e) => e.offsetMs)].sort((x, y) => x - y));
    expect(report.run).to.include({ id: 'run-00007', status: 'succeeded', owner: 'cli@ops-1' });
  });

  it('the page is self-contained: no script, no external reference, a CSP that forbids both', async () => {
    const { out } = await run({ runId: 'run-00003' });
    const html = renderReportHtml(buildReport(input(out)));
    expect(html).to.match(/^<!DOCTYPE html>/);
    expect(html).to.include(`content="default-src 'none'; style-src 'unsafe-inline'"`);
    for (const banned of ['<script', '<link', '<img', '<iframe', 'src=', 'href=', 'url(', '@import', 'http://', 'https://']) {
      expect(html, banned).not.to.include(banned);
    }
    // one timeline lane per step, each bar placed by computed numbers only
    const bars = [...html.matchAll(/<div class="bar (\w+)" style="left:([\d.]+)%;width:([\d.]+)%"/g)];
    expect(bars.map((m) => m[1])).to.deep.equal(['ok', 'ok', 'ok']);
    for (const m of bars) expect(Number(m[2]) + Number(m[3])).to.be.at.most(100.01);
  });

  it('decides the outcome: failed run, failed check, missed objective, nothing verified, all passed', async () => {
    const { out } = await run({ runId: 'run-00004' });
    const cases: [Partial<ReportInput>, string, string[]][] = [
      [{}, 'passed', ['all 4 checks passed']],
      [{ verifications: [] }, 'incomplete', ['nothing was verified']],
      [{ verifications: [{ check: 'server-active', subject: 'web', ok: false }] }, 'failed', ['1 of 1 checks failed']],
      [{ objectives: { rtoMs: 10_000 } }, 'failed', ['RTO 14.0 s is over the objective 10.0 s']],
      [{ objectives: { rtoMs: 20_000, rpoMs: 900_000 } }, 'passed', ['all 4 checks passed']],
      [{ result: { ...out.result, status: 'cancelled', error: 'fenced: epoch 3' } }, 'failed', ['the run cancelled: fenced: epoch 3']],
    ];
    for (const [over, outcome, reasons] of cases) {
      const r = buildReport(input(out, over));
      expect([r.outcome, r.reasons], JSON.stringify(over)).to.deep.equal([outcome, reasons]);
    }
  });

  it('computes the result from the journal when only entries are given, and refuses a run of another kind', async () => {
    const { out, repo } = await run({ runId: 'run-00005' });
    const entries = await repo.journal.read(out.run.id);
    const fromEntries = buildReport({ ...input(out), result: undefined, entries });
    const fromResult = buildReport(input(out, { result: summarizeRun(out.run, entries) }));
    expect(fromEntries).to.deep.equal(fromResult);
    expect(() => buildReport(input(out, { run: { ...out.run, kind: 'failover' } }))).to.throw(/run run-00005 is a failover run, not a drtest run/);
    expect(() => buildReport({ ...input(out), result: undefined })).to.throw(/give the run result or its journal entries/);
  });

  it('writeReport writes <plan>-<run>.json and .html (and nothing else), names made safe', async () => {
    const { out } = await run({ runId: 'run-00006' });
    const report = buildReport(input(out));
    const dir = mkdtempSync(join(tmpdir(), 'ferry-report-'));
    try {
      const target = join(dir, 'reports');
      const paths = writeReport(target, report);
      expect(paths).to.deep.equal({ json: join(target, 'web-run-00006.json'), html: join(target, 'web-run-00006.html') });
      expect(readdirSync(target).sort()).to.deep.equal(['web-run-00006.html', 'web-run-00006.json']);
      expect(JSON.parse(readFileSync(paths.json, 'utf8'))).to.deep.equal(report);
      expect(readFileSync(paths.html, 'utf8')).to.equal(renderReportHtml(report));
      // writing again replaces the files
      writeReport(target, { ...report, outcome: 'failed' });
      expect(JSON.parse(readFileSync(paths.json, 'utf8')).outcome).to.equal('failed');
      expect(reportBaseName({ plan: 'web', run: { ...report.run, id: '../../etc/x:1' } })).to.equal('web-__.._etc_x_1');
      expect(reportBaseName({ plan: '..', run: report.run })).to.equal('_-run-00006');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('formats durations and escapes text', () => {
    const table: [number | null, string][] = [
      [null, 'not measured'],
      [0, '0 ms'],
      [850, '850 ms'],
      [1_000, '1.0 s'],
      [12_345, '12.3 s'],
      [59_940, '59.9 s'],
      [59_960, '1m'],
      [65_000, '1m5s'],
      [3_600_000, '1h'],
    ];
    for (const [ms, want] of table) expect(formatMs(ms), String(ms)).to.equal(want);
    expect(escapeHtml(`<a href="x">'&'</a>`)).to.equal('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
