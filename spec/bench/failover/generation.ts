// Template generation time and memory for 1,000 and 5,000 servers belong to
// spec/bench/heat-generate.ts (written with the generator): its measure(servers) generates
// the recovery stack of a synthetic workload in each mode and reports wall and CPU time,
// heap growth and sizes. This benchmark reuses it in a child process of its own
// (generation-child.ts, with --expose-gc, as heat-generate.ts asks), because an honest memory
// figure needs a fresh heap, not this process's, which holds the lab run. Absent, it says so.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { GenerationFigures } from './report.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
export const HEAT_GENERATE_BENCH = join(REPO_ROOT, 'spec', 'bench', 'heat-generate.ts');
export const GENERATION_CHILD = join(import.meta.dirname, 'generation-child.ts');

export interface RunResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export type Runner = (program: string, args: string[]) => Promise<RunResult>;

const runChild: Runner = (program, args) =>
  new Promise((resolve) => {
    execFile(program, args, { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 15 * 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0;
      resolve({ exitCode: code, stdout: String(stdout), stderr: String(stderr) });
    });
  });

/** One figure line of heat-generate.ts's measure(). */
export interface GenerateFigure {
  servers: number;
  mode: string;
  ms: number;
  cpuMs: number;
  heapMiB: number;
  resources: number;
  totalResources: number;
  templateMiB: number;
  parametersMiB: number;
}

/** What the child prints. */
export interface GenerationReport {
  gcExposed: boolean;
  loadAverage: number;
  cpus: number;
  peakRssMiB: number;
  figures: GenerateFigure[];
}

/** The figures as a Markdown table, one row per size and mode. */
export function generationTable(r: GenerationReport): string[] {
  const rows = r.figures.map(
    (f) => `| ${f.servers.toLocaleString('en-US')} | ${f.mode} | ${f.ms} ms | ${f.cpuMs} ms | ${f.heapMiB} MiB | ${f.totalResources.toLocaleString('en-US')} | ${f.templateMiB} MiB | ${f.parametersMiB} MiB |`,
  );
  return [
    '| servers | mode | wall | CPU | heap growth | resources (with nested) | template | parameters |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    `peak RSS of the generating process ${r.peakRssMiB} MiB; load average ${r.loadAverage} on ${r.cpus} CPUs${r.gcExposed ? '' : '; no --expose-gc, heap figures include earlier garbage'}`,
  ];
}

/** Runs heat-generate.ts's measure() for `sizes` in a child process, or reports it missing. */
export async function measureGeneration(sizes: readonly number[], o: { file?: string; exists?: (p: string) => boolean; run?: Runner } = {}): Promise<GenerationFigures> {
  const file = o.file ?? HEAT_GENERATE_BENCH;
  const shown = relative(REPO_ROOT, file);
  if (!(o.exists ?? existsSync)(file)) return { measured: false, reason: `${shown} not available` };
  // The loader this process runs under (tsx), plus --expose-gc so heap growth excludes old garbage.
  const args = [...process.execArgv, '--expose-gc', GENERATION_CHILD, ...sizes.map(String)];
  const command = `node --expose-gc --import tsx ${relative(REPO_ROOT, GENERATION_CHILD)} ${sizes.join(' ')}`;
  const res = await (o.run ?? runChild)(process.execPath, args);
  if (res.exitCode !== 0) {
    const why = res.stderr.trim().split('\n').slice(-3).join(' ') || `exit code ${res.exitCode}`;
    return { measured: false, reason: `${command} failed: ${why}`, command, exitCode: res.exitCode };
  }
  const last = res.stdout.trim().split('\n').at(-1) ?? '';
  let report: GenerationReport;
  try {
    report = JSON.parse(last) as GenerationReport;
    if (!Array.isArray(report.figures)) throw new Error('no figures');
  } catch (err) {
    return { measured: false, reason: `${command} printed no figures (${(err as Error).message}): ${last.slice(0, 200)}`, command, exitCode: 0 };
  }
  return { measured: true, command, exitCode: 0, report, output: generationTable(report) };
}
