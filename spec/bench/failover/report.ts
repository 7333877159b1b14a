// The failover benchmark's pure half: its command line, the statistics over repeated runs,
// the ratios the issue sets targets for, the printed table and the JSON document. Nothing
// here talks to a cloud, so it is tested with plain tables (spec/unit/bench/failover.spec.ts).
import { parseArgs } from 'node:util';

// ---- options ----------------------------------------------------------------------------

/** What one invocation measures; `--only` picks a subset. */
export const PARTS = ['heat', 'runbook', 'ferry', 'generation'] as const;
export type Part = (typeof PARTS)[number];

/** Lab clouds the harness may run at (spec/lab/support/lab.ts LabCloud). */
export const BENCH_CLOUDS = ['lab-b', 'lab-b-demo', 'lab-a', 'lab-a-demo'] as const;
export type BenchCloud = (typeof BENCH_CLOUDS)[number];

/** heat-alone.yaml declares five servers; the lab's Ceph (10 GiB a site) allows no more anyway. */
export const MAX_SERVERS = 5;

export interface BenchOptions {
  servers: number;
  runs: number;
  json?: string;
  cloud: BenchCloud;
  only: Part[];
  /** Generation sizes handed to spec/bench/heat-generate.ts. */
  generate: number[];
  help: boolean;
}

export const USAGE = `usage: npm run bench:failover -- [--servers N] [--runs N] [--json FILE] [--cloud lab-b] [--only heat,runbook,ferry,generation] [--generate 1000,5000]

Failover wall time at the lab's site B: Heat alone (spec/bench/failover/heat-alone.yaml), the
sequential openstack CLI runbook, and Ferry's failover (the same servers protected from the
other lab site, then ferry failover --unplanned), N servers each with a port and a 1 GiB volume
restored from its own backup and attached; then
template generation time and memory (spec/bench/heat-generate.ts, when it exists).

  --servers N    servers per measurement, 1-${MAX_SERVERS} (default 5)
  --runs N       repeat every measurement N times, print min and median (default 1)
  --json FILE    also write the figures as JSON to FILE
  --cloud NAME   lab cloud to run at (default lab-b; clouds.yaml from OS_CLIENT_CONFIG_FILE or the lab's)
  --only LIST    measure only these parts (default all)
  --generate L   server counts for the generation benchmark (default 1000,5000)`;

/** Thrown for a bad command line; main prints it with USAGE and exits 2. */
export class UsageError extends Error {}

function positiveInt(flag: string, text: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max) throw new UsageError(`${flag} must be a whole number from 1 to ${max}, not "${text}"`);
  return n;
}

/** Parses the command line (process.argv.slice(2)). */
export function parseBenchArgs(argv: string[]): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        servers: { type: 'string', short: 'n' },
        runs: { type: 'string' },
        json: { type: 'string' },
        cloud: { type: 'string' },
        only: { type: 'string' },
        generate: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const cloud = parsed.cloud ?? 'lab-b';
  if (!(BENCH_CLOUDS as readonly string[]).includes(cloud)) throw new UsageError(`--cloud must be one of ${BENCH_CLOUDS.join(', ')}, not "${cloud}"`);
  const only = parsed.only === undefined ? [...PARTS] : parsed.only.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0 || only.length === 0) throw new UsageError(`--only takes a comma-separated list of ${PARTS.join(', ')}; got "${parsed.only}"`);
  const generate = parsed.generate === undefined ? [1000, 5000] : parsed.generate.split(',').map((s) => positiveInt('--generate', s.trim()));
  return {
    servers: parsed.servers === undefined ? 5 : positiveInt('--servers', parsed.servers, MAX_SERVERS),
    runs: parsed.runs === undefined ? 1 : positiveInt('--runs', parsed.runs, 20),
    ...(parsed.json !== undefined ? { json: parsed.json } : {}),
    cloud: cloud as BenchCloud,
    only: PARTS.filter((p) => only.includes(p)),
    generate,
    help: parsed.help ?? false,
  };
}

/** True when the part needs the lab (everything but generation). */
export function needsLab(only: readonly Part[]): boolean {
  return only.some((p) => p !== 'generation');
}

// ---- statistics ---------------------------------------------------------------------------

export interface Summary {
  /** Every run's wall time, seconds, in run order. */
  seconds: number[];
  min: number;
  median: number;
  max: number;
}

/** Min, median (mean of the middle two for an even count) and max of run times. */
export function summarize(seconds: readonly number[]): Summary | undefined {
  if (seconds.length === 0) return undefined;
  const sorted = [...seconds].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { seconds: [...seconds], min: sorted[0]!, median, max: sorted[sorted.length - 1]! };
}

// ---- ratios -------------------------------------------------------------------------------

/** The targets: Ferry at most 1.10× Heat alone, and at least 3× faster than the runbook. */
export const TARGETS = { ferryOverHeatMax: 1.1, runbookOverFerryMin: 3 } as const;

export interface Ratios {
  /** How many times longer the runbook took than Heat alone (always, when both ran). */
  runbookOverHeat?: number;
  /** Ferry's failover over Heat alone (target ≤ 1.10). */
  ferryOverHeat?: number;
  /** The runbook over Ferry's failover (target ≥ 3). */
  runbookOverFerry?: number;
}

/** Ratios of the medians; a ratio is left out when either side was not measured. */
export function ratios(m: { heat?: Summary; runbook?: Summary; ferry?: Summary }): Ratios {
  const r: Ratios = {};
  const div = (a?: Summary, b?: Summary) => (a && b && b.median > 0 ? a.median / b.median : undefined);
  const rh = div(m.runbook, m.heat);
  const fh = div(m.ferry, m.heat);
  const rf = div(m.runbook, m.ferry);
  if (rh !== undefined) r.runbookOverHeat = rh;
  if (fh !== undefined) r.ferryOverHeat = fh;
  if (rf !== undefined) r.runbookOverFerry = rf;
  return r;
}

// ---- the printed report -------------------------------------------------------------------

/** One approach's outcome: its times, or why it was not measured. */
export type Outcome = { measured: true; summary: Summary; detail?: string } | { measured: false; reason: string };

export interface StepTotals {
  /** Step kind (e.g. `port create`) → commands run and seconds spent, summed over servers. */
  [step: string]: { count: number; seconds: number };
}

export function formatSeconds(s: number): string {
  return s >= 100 ? `${s.toFixed(0)} s` : `${s.toFixed(1)} s`;
}

export function formatRatio(r: number): string {
  return `${r.toFixed(2)}×`;
}

/** The wall-time table, in Markdown so it pastes into docs/benchmarks.md. */
export function wallTimeTable(servers: number, rows: { label: string; outcome: Outcome | undefined }[]): string {
  const out = [`| approach (${servers} server${servers === 1 ? '' : 's'}) | runs | min | median | max |`, '|---|---|---|---|---|'];
  for (const { label, outcome } of rows) {
    if (!outcome) continue;
    if (outcome.measured) {
      const s = outcome.summary;
      out.push(`| ${label} | ${s.seconds.length} | ${formatSeconds(s.min)} | ${formatSeconds(s.median)} | ${formatSeconds(s.max)} |`);
    } else {
      out.push(`| ${label} | 0 | not measured | | |`);
    }
  }
  return out.join('\n');
}

/** The ratio lines, with each target and whether it is met. */
export function ratioLines(r: Ratios): string[] {
  const lines: string[] = [];
  if (r.runbookOverHeat !== undefined) lines.push(`runbook / Heat alone: ${formatRatio(r.runbookOverHeat)} (Heat alone is ${formatRatio(r.runbookOverHeat)} faster than the runbook)`);
  if (r.ferryOverHeat !== undefined) {
    const met = r.ferryOverHeat <= TARGETS.ferryOverHeatMax;
    lines.push(`Ferry / Heat alone: ${formatRatio(r.ferryOverHeat)} (target at most ${formatRatio(TARGETS.ferryOverHeatMax)}: ${met ? 'met' : 'NOT met'})`);
  }
  if (r.runbookOverFerry !== undefined) {
    const met = r.runbookOverFerry >= TARGETS.runbookOverFerryMin;
    lines.push(`runbook / Ferry: ${formatRatio(r.runbookOverFerry)} (target at least ${formatRatio(TARGETS.runbookOverFerryMin)}: ${met ? 'met' : 'NOT met'})`);
  }
  return lines;
}

/** The runbook's time by step kind, averaged per run, largest first. */
export function stepLines(totals: StepTotals, runs: number): string[] {
  return Object.entries(totals)
    .sort((a, b) => b[1].seconds - a[1].seconds)
    .map(([step, t]) => {
      const perRun = t.count / runs;
      const count = Number.isInteger(perRun) ? String(perRun) : perRun.toFixed(1);
      return `  ${step.padEnd(26)} ${count.padStart(5)} commands ${formatSeconds(t.seconds / runs).padStart(7)}`;
    });
}

/** Adds one run's step totals into the running totals. */
export function addSteps(into: StepTotals, from: StepTotals): StepTotals {
  for (const [step, t] of Object.entries(from)) {
    const cur = into[step] ?? { count: 0, seconds: 0 };
    into[step] = { count: cur.count + t.count, seconds: cur.seconds + t.seconds };
  }
  return into;
}

// ---- the JSON document --------------------------------------------------------------------

export interface GenerationFigures {
  measured: boolean;
  reason?: string;
  command?: string;
  exitCode?: number | null;
  /** heat-generate.ts's figures (see generation.ts GenerationReport). */
  report?: unknown;
  /** The figures as printed. */
  output?: string[];
}

export interface BenchDocument {
  benchmark: 'failover';
  version: 1;
  startedAt: string;
  finishedAt: string;
  cloud: string;
  servers: number;
  runs: number;
  /** What each server is, so a reader knows what the times cover. */
  workload: string;
  /** The lab shares the machine: the 1-minute load average says how busy it was. */
  machine: { cpus: number; node: string; platform: string; loadAverage: { start: number; end?: number } };
  setupSeconds?: number;
  /** Per run, the order the approaches ran in (e.g. "heat,ferry,runbook"). */
  order?: string[];
  heat?: Outcome;
  runbook?: Outcome & { steps?: StepTotals };
  ferry?: Outcome;
  ratios: Ratios;
  targets: typeof TARGETS;
  generation?: GenerationFigures;
  /** What cleanup could not remove (empty when the lab was left as found). */
  leftovers: string[];
  errors: string[];
}

/** Rounds every number to milliseconds' worth of seconds, so the JSON stays readable. */
export function roundFigures<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v))) as T;
}
