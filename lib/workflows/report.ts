// The DR test report: what a drill did, how long each step took, the RTO it measured, the RPO
// of the recovery point it used, and what was verified. One JSON document
// (`ferry.drtestreport/v1`, for machines and audits) and one HTML page rendered from it (for
// people: a horizontal timeline of the steps, the measures, the checks, what was created).
//
// Decisions:
//  - buildReport and the renderers are pure: the clock (`generatedAt`) is an input, so the
//    same run gives the same bytes (golden-file tests).
//  - The HTML is rendered from the JSON document alone, so a report kept as JSON can be turned
//    into a page again later, by any version that reads v1.
//  - The page is self-contained: inline CSS, no script, no external asset, a Content Security
//    Policy that forbids scripts and fetches. Every string from the run, the plan or the sites
//    (server names, errors, details) is escaped; style attributes carry computed numbers only.
//  - The outcome is decided here, once: `failed` when the run failed or was cancelled, a check
//    failed, or a measure missed its objective; `incomplete` when nothing was verified;
//    otherwise `passed`.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JournalEntry, JournalPhase, Run, RunKind, RunStatus } from '../catalog/repo.js';
import { formatDuration } from '../config/protection-plan.js';
import { summarizeRun, type RunResult, type StepStatus } from './engine.js';

/** The apiVersion of the JSON document. */
export const DRTEST_REPORT_API_VERSION = 'ferry.drtestreport/v1';

// ---- input --------------------------------------------------------------------------------

/** One thing the DR test checked: a server ACTIVE, a volume's checksum, a port's address. */
export interface VerificationResult {
  /** What kind of check: `server-active`, `volume-checksum`, `fixed-ip`... */
  check: string;
  /** What it was checked on: a server or volume name. */
  subject: string;
  ok: boolean;
  /** What was seen, in words (expected and actual values). */
  detail?: string;
}

/** Something the DR test created at the site (it is torn down after `--keep`). */
export interface CreatedResource {
  /** `stack`, `server`, `volume`, `network`, `subnet`, `port`, `security-group`... */
  kind: string;
  name: string;
  id: string;
}

export interface ReportInput {
  /** The drtest run, as the catalog holds it. */
  run: Run;
  /** The run's result (summarizeRun); when absent it is computed from `entries`. */
  result?: RunResult;
  /** The run's journal (used when `result` is absent). */
  entries?: readonly JournalEntry[];
  /** The site the test recovered into (the plan's secondary). */
  site: string;
  /** The recovery point the test recovered. */
  point: { id: string; createdAt: Date | string };
  /** Measured RTO: from the command to every server ACTIVE and verified; null when it was not reached. */
  rtoMs: number | null;
  /** RPO of the point: its age when the test started; null when unknown. */
  rpoMs: number | null;
  /** The objectives the measures are held to (the plan's RPO; an RTO target), when known. */
  objectives?: { rtoMs?: number; rpoMs?: number };
  verifications: readonly VerificationResult[];
  resources: readonly CreatedResource[];
  /** When the report is written (an input, so reports are reproducible). */
  generatedAt: Date;
}

// ---- the document -----------------------------------------------------------------------------

export type ReportOutcome = 'passed' | 'failed' | 'incomplete';

export interface ReportMeasure {
  ms: number | null;
  /** `1m5s`, `850 ms`, or `not measured`. */
  text: string;
  objectiveMs: number | null;
  /** null when there is no objective or no measure. */
  met: boolean | null;
}

export interface ReportStep {
  name: string;
  describe: string;
  status: StepStatus;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  /** From the run's start to the step's start. */
  offsetMs: number | null;
}

export interface ReportTimelineEntry {
  step: string;
  phase: JournalPhase;
  at: string;
  offsetMs: number;
}

export interface DrTestReport {
  apiVersion: typeof DRTEST_REPORT_API_VERSION;
  kind: 'DrTestReport';
  plan: string;
  site: string;
  generatedAt: string;
  outcome: ReportOutcome;
  /** Why, in one sentence per reason. */
  reasons: string[];
  run: {
    id: string;
    kind: RunKind;
    status: RunStatus;
    owner: string;
    epoch: number;
    startedAt: string;
    finishedAt: string | null;
    durationMs: number;
    error: string | null;
    failedStep: string | null;
  };
  recoveryPoint: { id: string; createdAt: string };
  rto: ReportMeasure;
  rpo: ReportMeasure;
  steps: ReportStep[];
  timeline: ReportTimelineEntry[];
  verifications: VerificationResult[];
  verified: { total: number; passed: number; failed: number };
  resources: CreatedResource[];
  warnings: string[];
}

// ---- building (pure) ----------------------------------------------------------------------------

const iso = (d: Date | string): string => (typeof d === 'string' ? new Date(d).toISOString() : d.toISOString());

/** A duration for people: `850 ms`, `12.3 s`, then `1m5s` (whole seconds). */
export function formatMs(ms: number | null): string {
  if (ms === null) return 'not measured';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  // below 59.95 s: what would round to 60.0 s reads better as 1m
  if (ms < 59_950) return `${(Math.round(ms / 100) / 10).toFixed(1)} s`;
  return formatDuration(ms);
}

function measure(ms: number | null, objectiveMs: number | undefined): ReportMeasure {
  const objective = objectiveMs ?? null;
  return { ms, text: formatMs(ms), objectiveMs: objective, met: ms === null || objective === null ? null : ms <= objective };
}

/** The report of a DR test run. */
export function buildReport(input: ReportInput): DrTestReport {
  const { run } = input;
  if (run.kind !== 'drtest') throw new TypeError(`buildReport: run ${run.id} is a ${run.kind} run, not a drtest run`);
  if (!input.result && !input.entries) throw new TypeError('buildReport: give the run result or its journal entries');
  const result = input.result ?? summarizeRun(run, input.entries!);
  const t0 = run.startedAt.getTime();
  const offset = (at: string) => Math.max(0, Date.parse(at) - t0);

  const steps: ReportStep[] = result.steps.map((s) => ({
    name: s.name,
    describe: s.describe,
    status: s.status,
    attempts: s.attempts,
    startedAt: s.startedAt ?? null,
    finishedAt: s.finishedAt ?? null,
    durationMs: s.durationMs ?? null,
    offsetMs: s.startedAt ? offset(s.startedAt) : null,
  }));
  const timeline = result.timeline.map((e) => ({ step: e.step, phase: e.phase, at: e.at, offsetMs: offset(e.at) }));
  const verifications = input.verifications.map((v) => ({ check: v.check, subject: v.subject, ok: v.ok, ...(v.detail !== undefined ? { detail: v.detail } : {}) }));
  const passed = verifications.filter((v) => v.ok).length;
  const rto = measure(input.rtoMs, input.objectives?.rtoMs);
  const rpo = measure(input.rpoMs, input.objectives?.rpoMs);

  const reasons: string[] = [];
  if (result.status === 'failed' || result.status === 'cancelled') {
    reasons.push(`the run ${result.status}${result.failedStep ? ` at step ${result.failedStep}` : ''}${result.error ? `: ${result.error}` : ''}`);
  }
  const failedChecks = verifications.length - passed;
  if (failedChecks > 0) reasons.push(`${failedChecks} of ${verifications.length} checks failed`);
  if (rto.met === false) reasons.push(`RTO ${rto.text} is over the objective ${formatMs(rto.objectiveMs)}`);
  if (rpo.met === false) reasons.push(`RPO ${rpo.text} is over the objective ${formatMs(rpo.objectiveMs)}`);
  let outcome: ReportOutcome = reasons.length > 0 ? 'failed' : 'passed';
  if (outcome === 'passed' && verifications.length === 0) {
    outcome = 'incomplete';
    reasons.push('nothing was verified');
  }
  if (outcome === 'passed') reasons.push(`all ${verifications.length} checks passed`);

  return {
    apiVersion: DRTEST_REPORT_API_VERSION,
    kind: 'DrTestReport',
    plan: run.planName,
    site: input.site,
    generatedAt: input.generatedAt.toISOString(),
    outcome,
    reasons,
    run: {
      id: run.id,
      kind: run.kind,
      status: result.status,
      owner: run.owner,
      epoch: run.epoch,
      startedAt: run.startedAt.toISOString(),
      finishedAt: run.finishedAt?.toISOString() ?? null,
      durationMs: result.durationMs,
      error: result.error ?? null,
      failedStep: result.failedStep ?? null,
    },
    recoveryPoint: { id: input.point.id, createdAt: iso(input.point.createdAt) },
    rto,
    rpo,
    steps,
    timeline,
    verifications,
    verified: { total: verifications.length, passed, failed: failedChecks },
    resources: input.resources.map((r) => ({ kind: r.kind, name: r.name, id: r.id })),
    warnings: [...result.warnings],
  };
}

// ---- rendering (pure) ---------------------------------------------------------------------------

/** The JSON document, 2-space indented, newline-terminated. */
export function renderReportJson(report: DrTestReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

const pct = (n: number): string => `${Math.min(100, Math.max(0, n)).toFixed(2)}%`;

const STATUS_CLASS: Record<StepStatus, string> = { done: 'ok', failed: 'bad', fenced: 'bad', interrupted: 'warn', 'in-progress': 'warn', pending: 'idle' };

const CSS = `
:root{--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--idle:#8c959f;--ink:#1f2328;--mute:#59636e;--line:#d1d9e0;--bg:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0 auto;max-width:1100px;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.sub{color:var(--mute);margin:0 0 16px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;text-transform:uppercase;font-size:12px;vertical-align:middle}
.badge.passed{background:var(--ok)}.badge.failed{background:var(--bad)}.badge.incomplete{background:var(--warn)}
.reasons{margin:8px 0 0;padding-left:20px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-top:16px}
.card{flex:1 1 180px;border:1px solid var(--line);border-radius:6px;padding:10px 12px;background:var(--bg)}
.card .k{color:var(--mute);font-size:12px;text-transform:uppercase}.card .v{font-size:20px;font-weight:600}.card .n{font-size:12px;color:var(--mute)}
.card.met{border-color:var(--ok)}.card.missed{border-color:var(--bad)}
.tl{position:relative;border:1px solid var(--line);border-radius:6px;padding:8px 12px 4px;background:#fff}
.row{display:flex;align-items:center;height:26px}
.lbl{flex:0 0 180px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-family:ui-monospace,monospace;font-size:12px}
.lane{position:relative;flex:1 1 auto;height:18px;background:var(--bg);border-radius:3px}
.bar{position:absolute;top:0;height:18px;min-width:2px;border-radius:3px}
.bar.ok{background:var(--ok)}.bar.bad{background:var(--bad)}.bar.warn{background:var(--warn)}.bar.idle{background:transparent}
.note{position:absolute;top:0;line-height:18px;font-size:11px;padding:0 6px;white-space:nowrap;color:var(--ink)}
.axis{position:relative;margin-left:180px;height:18px;font-size:11px;color:var(--mute)}
.tick{position:absolute;top:0;transform:translateX(-50%)}
.rto{position:absolute;top:0;bottom:0;width:0;border-left:2px dashed var(--bad)}
.rtolbl{position:absolute;top:-2px;font-size:11px;color:var(--bad);padding:0 4px;white-space:nowrap}.rtolbl.before{right:0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--mute);text-transform:uppercase}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}.idle{color:var(--idle)}
code{font-family:ui-monospace,monospace;font-size:12px}
details{margin-top:8px}summary{cursor:pointer;color:var(--mute)}
footer{margin-top:32px;color:var(--mute);font-size:12px}
`.trim();

function card(key: string, value: string, note: string, cls = ''): string {
  return `<div class="card${cls ? ` ${cls}` : ''}"><div class="k">${escapeHtml(key)}</div><div class="v">${escapeHtml(value)}</div><div class="n">${escapeHtml(note)}</div></div>`;
}

function measureCard(name: string, m: ReportMeasure, what: string): string {
  const objective = m.objectiveMs === null ? 'no objective' : `objective ${formatMs(m.objectiveMs)}${m.met === null ? '' : m.met ? ', met' : ', missed'}`;
  return card(name, m.text, `${what}; ${objective}`, m.met === null ? '' : m.met ? 'met' : 'missed');
}

/**
 * The horizontal timeline: one lane per step, a bar from its start to its end, the RTO as a
 * dashed line. Lanes start 12px (padding) + 180px (labels) into the box and end 12px before
 * its edge: the RTO line's position is computed over the same width.
 */
function timelineHtml(r: DrTestReport): string {
  const ends = [r.run.durationMs, ...r.steps.map((s) => (s.offsetMs ?? 0) + (s.durationMs ?? 0)), ...r.timeline.map((e) => e.offsetMs)];
  if (r.rto.ms !== null) ends.push(r.rto.ms);
  const span = Math.max(1, ...ends);
  // A note sits after its bar, or before it when the bar ends in the last 30% of the lane.
  const note = (text: string, from: number, to: number) =>
    to > 70 ? `<span class="note" style="right:${pct(100 - from)}">${escapeHtml(text)}</span>` : `<span class="note" style="left:${pct(to)}">${escapeHtml(text)}</span>`;
  const lanes = r.steps.map((s) => {
    const label = `<div class="lbl" title="${escapeHtml(s.describe)}">${escapeHtml(s.name)}</div>`;
    if (s.offsetMs === null) return `<div class="row">${label}<div class="lane"><div class="bar idle" style="left:0.00%;width:0.00%"></div>${note('not started', 0, 0)}</div></div>`;
    // A step still going (or stopped without an end) runs to the end of the span.
    const from = (s.offsetMs / span) * 100;
    const width = ((s.durationMs ?? Math.max(0, span - s.offsetMs)) / span) * 100;
    const text = s.durationMs === null ? s.status.replace('-', ' ') : `${formatMs(s.durationMs)}${s.attempts > 1 ? `, ${s.attempts} tries` : ''}`;
    return `<div class="row">${label}<div class="lane"><div class="bar ${STATUS_CLASS[s.status]}" style="left:${pct(from)};width:${pct(width)}" title="${escapeHtml(`${s.name}: ${s.status}`)}"></div>${note(text, from, from + width)}</div></div>`;
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<div class="tick" style="left:${pct(f * 100)}">${escapeHtml(formatMs(f * span))}</div>`);
  let rto = '';
  if (r.rto.ms !== null) {
    const f = Math.min(1, r.rto.ms / span);
    rto = `<div class="rto" style="left:calc(192px + (100% - 204px) * ${f.toFixed(4)})"><span class="rtolbl${f > 0.7 ? ' before' : ''}">RTO ${escapeHtml(r.rto.text)}</span></div>`;
  }
  return `<div class="tl">${rto}${lanes.join('')}<div class="axis">${ticks.join('')}</div></div>`;
}

function rows(cells: string[][]): string {
  return cells.map((c) => `<tr>${c.join('')}</tr>`).join('\n');
}

const td = (text: string, cls = ''): string => `<td${cls ? ` class="${cls}"` : ''}>${escapeHtml(text)}</td>`;

/** The HTML page of a report: self-contained (inline CSS, no script, no external asset). */
export function renderReportHtml(r: DrTestReport): string {
  const title = `DR test of plan ${r.plan}: ${r.outcome}`;
  const stepRows = rows(
    r.steps.map((s) => [
      `<td><code>${escapeHtml(s.name)}</code></td>`,
      td(s.describe),
      td(s.status, STATUS_CLASS[s.status]),
      td(String(s.attempts), 'num'),
      td(s.offsetMs === null ? '' : `+${formatMs(s.offsetMs)}`, 'num'),
      td(s.durationMs === null ? '' : formatMs(s.durationMs), 'num'),
    ]),
  );
  const checkRows = rows(r.verifications.map((v) => [td(v.ok ? 'ok' : 'FAILED', v.ok ? 'ok' : 'bad'), td(v.check), td(v.subject), td(v.detail ?? '')]));
  const resourceRows = rows(r.resources.map((x) => [td(x.kind), td(x.name), `<td><code>${escapeHtml(x.id)}</code></td>`]));
  const journalRows = rows(r.timeline.map((e) => [td(`+${formatMs(e.offsetMs)}`, 'num'), td(e.at), `<td><code>${escapeHtml(e.step)}</code></td>`, td(e.phase)]));
  const warnings = r.warnings.length === 0 ? '' : `<h2>Warnings</h2>\n<ul>${r.warnings.map((w) => `<li class="warn">${escapeHtml(w)}</li>`).join('')}</ul>\n`;
  const run = r.run;
  const error = run.error === null ? '' : `<p class="bad">${escapeHtml(run.error)}</p>\n`;

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="ferry ${escapeHtml(r.apiVersion)}">
<title>${escapeHtml(title)}</title>
<style>
${CSS}
</style>
</head>
<body>
<header>
<h1>DR test of plan <code>${escapeHtml(r.plan)}</code> <span class="badge ${r.outcome}">${r.outcome}</span></h1>
<p class="sub">Run <code>${escapeHtml(run.id)}</code> at site <code>${escapeHtml(r.site)}</code>, started ${escapeHtml(run.startedAt)} by ${escapeHtml(run.owner)} (epoch ${run.epoch}); run status ${escapeHtml(run.status)}.</p>
<ul class="reasons">${r.reasons.map((x) => `<li>${escapeHtml(x)}</li>`).join('')}</ul>
${error}<div class="cards">
${measureCard('RTO', r.rto, 'from the command to every server active and verified')}
${measureCard('RPO', r.rpo, 'age of the recovery point when the test started')}
${card('Recovery point', r.recoveryPoint.id, `taken ${r.recoveryPoint.createdAt}`)}
${card('Checks', `${r.verified.passed} / ${r.verified.total}`, r.verified.failed === 0 ? 'none failed' : `${r.verified.failed} failed`, r.verified.total === 0 ? '' : r.verified.failed === 0 ? 'met' : 'missed')}
${card('Duration', formatMs(run.durationMs), `${r.steps.length} steps`)}
</div>
</header>
<main>
<h2>Timeline</h2>
${timelineHtml(r)}
<h2>Steps</h2>
<table>
<thead><tr><th>Step</th><th>What it does</th><th>Status</th><th>Tries</th><th>Start</th><th>Duration</th></tr></thead>
<tbody>
${stepRows}
</tbody>
</table>
<h2>What was verified</h2>
${r.verifications.length === 0 ? '<p class="warn">Nothing was verified.</p>' : `<table>\n<thead><tr><th>Result</th><th>Check</th><th>Subject</th><th>Detail</th></tr></thead>\n<tbody>\n${checkRows}\n</tbody>\n</table>`}
<h2>What the test created</h2>
${r.resources.length === 0 ? '<p>Nothing recorded.</p>' : `<table>\n<thead><tr><th>Kind</th><th>Name</th><th>ID</th></tr></thead>\n<tbody>\n${resourceRows}\n</tbody>\n</table>`}
${warnings}<h2>Journal</h2>
<details><summary>${r.timeline.length} journal entries</summary>
<table>
<thead><tr><th>Offset</th><th>Time</th><th>Step</th><th>Phase</th></tr></thead>
<tbody>
${journalRows}
</tbody>
</table>
</details>
</main>
<footer>${escapeHtml(r.apiVersion)} · generated ${escapeHtml(r.generatedAt)} · the JSON document beside this page holds the same data.</footer>
</body>
</html>
`;
}

// ---- writing ------------------------------------------------------------------------------------

/** `<plan>-<run>` made safe as a file name (no separators, no dot-dot). */
export function reportBaseName(report: Pick<DrTestReport, 'plan' | 'run'>): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return `${safe(report.plan)}-${safe(report.run.id)}`;
}

/**
 * Writes `<plan>-<run>.json` and `<plan>-<run>.html` into `dir` (created if missing). Each
 * file is written beside and renamed into place, so a reader never sees half a report.
 */
export function writeReport(dir: string, report: DrTestReport): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, reportBaseName(report));
  const out = { json: `${base}.json`, html: `${base}.html` };
  for (const [path, text] of [
    [out.json, renderReportJson(report)],
    [out.html, renderReportHtml(report)],
  ] as const) {
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  }
  return out;
}
