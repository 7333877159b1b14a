// The failover benchmark (issue 6, "Measured"): wall time to bring N servers up at the lab's
// site B, each with a port and a 1 GiB volume restored from its own backup and attached,
//   A. by Heat alone: a hand-written stack of the same resources (failover/heat-alone.yaml),
//   B. by a runbook: the plain `openstack` CLI, one command after another,
//   C. by Ferry's failover: the same servers protected from the lab's other site (a plan, one
//      `ferry replicate`, untimed), then `ferry failover PLAN --unplanned` (failover/ferry.ts),
// all in the same lab in the same run (A and B from the same backups); then template
// generation time and memory for 1,000 and 5,000 servers (spec/bench/heat-generate.ts).
// Order within a run: Heat alone and Ferry alternate who goes first (odd runs Heat first,
// even runs Ferry first), the runbook goes last; the order is printed and kept in the JSON.
//
//   npm run bench:failover -- [--servers 5] [--runs 1] [--json FILE] [--only heat,runbook,ferry,generation]
//   (npx tsx spec/bench/failover.ts ...; the lab's clouds.yaml, or OS_CLIENT_CONFIG_FILE)
//
// Everything it makes is named and tagged with a unique run prefix, registered for cleanup
// right after its create and swept by that prefix at the end, also after a failure or Ctrl-C.
// Exit status: 0 when every part asked for ran (a part that is not available yet, such as
// a missing lib/workflows/failover.ts, is reported as not measured and is not a failure) and nothing was
// left behind; 1 otherwise; 2 for a bad command line.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { deleteVolume, waitForVolume, waitForVolumeDeleted } from '../../lib/openstack/blockstorage/volumes.js';
import { deleteServer, waitForServerDeleted } from '../../lib/openstack/compute/servers.js';
import { deletePort } from '../../lib/openstack/network/ports.js';
import type { Site } from '../../lib/openstack/site.js';
import { CLOUDS_FILE, Cleanup, TIMEOUTS, labSite } from '../lab/support/lab.js';
import { measureFerry, probeFailover } from './failover/ferry.js';
import { backupsReady, benchRunTag, describeMarked, findMarked, quotaProblems, setUpFixture, sweep, FLAVOR_NAME, IMAGE_NAME, VOLUME_GIB, type Fixture } from './failover/fixture.js';
import { measureGeneration } from './failover/generation.js';
import { runHeatAlone } from './failover/heat-alone.js';
import {
  TARGETS,
  USAGE,
  UsageError,
  addSteps,
  needsLab,
  parseBenchArgs,
  ratioLines,
  ratios,
  roundFigures,
  stepLines,
  summarize,
  wallTimeTable,
  type BenchDocument,
  type BenchOptions,
  type Outcome,
  type StepTotals,
} from './failover/report.js';
import { openstackCli, runRunbook } from './failover/runbook.js';

const LABELS = {
  heat: 'Heat alone (failover/heat-alone.yaml)',
  runbook: 'openstack CLI runbook, sequential',
  ferry: 'Ferry failover',
} as const;

const round1 = (x: number) => Math.round(x * 10) / 10;

/** The lab site Ferry's plan protects from: the other one. */
export function primaryOf(cloud: string): 'lab-a' | 'lab-b' {
  return cloud === 'lab-a' || cloud === 'lab-a-demo' ? 'lab-b' : 'lab-a';
}

/**
 * The order of the runners in a run: Heat alone and Ferry alternate who goes first (a warm
 * or busy lab favours neither), the slow runbook goes last.
 */
export function runOrder(run: number): ('heat' | 'runbook' | 'ferry')[] {
  return run % 2 === 1 ? ['heat', 'ferry', 'runbook'] : ['ferry', 'heat', 'runbook'];
}

function outcomeOf(seconds: number[], notMeasured: string | undefined, detail?: string): Outcome | undefined {
  const summary = summarize(seconds);
  if (summary) return { measured: true, summary, ...(detail ? { detail } : {}) };
  return notMeasured ? { measured: false, reason: notMeasured } : undefined;
}

/** Removes what one runbook run made (untimed): servers first, then their volumes and ports. */
function runbookCleanup(site: Site): { cleanup: Cleanup; created: (kind: 'port' | 'volume' | 'server', id: string) => void } {
  const cleanup = new Cleanup();
  const created = (kind: 'port' | 'volume' | 'server', id: string) => {
    if (kind === 'server') {
      cleanup.add(`runbook server ${id}`, async () => {
        await deleteServer(site.compute, id);
        await waitForServerDeleted(site.compute, id, { timeoutMs: TIMEOUTS.server });
      });
    } else if (kind === 'volume') {
      cleanup.add(`runbook volume ${id}`, async () => {
        // Deleting the server detaches the volume a moment later; a missing volume is fine.
        await waitForVolume(site.blockStorage, id, ['available', 'error', 'error_restoring'], { timeoutMs: TIMEOUTS.volume }).catch(() => undefined);
        await deleteVolume(site.blockStorage, id);
        await waitForVolumeDeleted(site.blockStorage, id, { timeoutMs: TIMEOUTS.volume });
      });
    } else {
      cleanup.add(`runbook port ${id}`, () => deletePort(site.network, id));
    }
  };
  return { cleanup, created };
}

export async function main(argv: string[]): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`bench:failover: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }

  const started = new Date();
  const t0 = performance.now();
  const log = (line: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  const workload = `per server: an OS::Neutron::Port on a fresh network, a ${VOLUME_GIB} GiB volume restored from its own Cinder backup, an ${FLAVOR_NAME} server booted from ${IMAGE_NAME}, the volume attached`;
  const doc: BenchDocument = {
    benchmark: 'failover',
    version: 1,
    startedAt: started.toISOString(),
    finishedAt: '',
    cloud: opts.cloud,
    servers: opts.servers,
    runs: opts.runs,
    workload,
    machine: { cpus: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}`, loadAverage: { start: round1(loadavg()[0]!) } },
    ratios: {},
    targets: TARGETS,
    leftovers: [],
    errors: [],
  };

  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    console.error('\ninterrupted: cleaning up what this run made (Ctrl-C again to leave it behind)');
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSigint);
  const signal = controller.signal;

  const times = { heat: [] as number[], runbook: [] as number[], ferry: [] as number[] };
  let ferryReason: string | undefined;
  let ferryDetail: string | undefined;
  const steps: StepTotals = {};
  const cleanupFailures: string[] = [];
  const failed = new Map<string, string>();

  // Known before any setup: a missing failover module needs no lab.
  if (opts.only.includes('ferry')) ferryReason = await probeFailover();
  const labParts = opts.only.filter((p) => p !== 'generation' && !(p === 'ferry' && ferryReason !== undefined));
  if (ferryReason !== undefined) log(`ferry failover: not measured (${ferryReason})`);

  if (labParts.length > 0) {
    console.log(`failover benchmark at ${opts.cloud}: ${opts.servers} server(s), ${opts.runs} run(s); ${workload}`);
    const site = labSite(opts.cloud);
    // Ferry protects the same servers from the lab's other site: they are made there.
    const primary = labSite(primaryOf(opts.cloud));
    const sites = labParts.includes('ferry') ? [site, primary] : [site];
    const prefix = benchRunTag(started);
    const cleanup = new Cleanup();
    log(`run prefix and tag ${prefix}`);
    try {
      const problems = await quotaProblems(site, opts.servers, signal);
      if (problems.length > 0) throw new Error(`not enough room at ${opts.cloud}:\n  ${problems.join('\n  ')}`);
      const fixture: Fixture = await setUpFixture(site, { servers: opts.servers, prefix, cleanup, log, signal });
      doc.setupSeconds = fixture.setupSeconds;
      log(`setup done in ${fixture.setupSeconds.toFixed(1)} s (untimed): ${fixture.servers.length} backups, network, subnet`);
      // A part that fails is reported and dropped from later runs; the other parts go on.
      const attempt = async (part: 'heat' | 'runbook' | 'ferry', fn: () => Promise<void>) => {
        if (!opts.only.includes(part) || failed.has(part)) return;
        try {
          await backupsReady(site, fixture, signal);
          await fn();
        } catch (err) {
          if (signal.aborted) throw err;
          failed.set(part, (err as Error).message);
          doc.errors.push(`${LABELS[part]}: ${(err as Error).message}`);
          log(`${LABELS[part]} FAILED: ${(err as Error).message}`);
        }
      };
      const runners: Record<'heat' | 'runbook' | 'ferry', (run: number) => Promise<void>> = {
        heat: (run) =>
          attempt('heat', async () => {
            times.heat.push((await runHeatAlone(site, fixture, { run, cleanup, log, signal })).seconds);
          }),
        ferry: async (run) => {
          if (ferryReason !== undefined) return;
          await attempt('ferry', async () => {
            const m = await measureFerry(fixture, { site, primary, run, cleanup, log, signal });
            if (m.measured) {
              times.ferry.push(m.seconds);
              ferryDetail = m.detail;
            } else {
              ferryReason = m.reason;
              log(`ferry failover: not measured (${m.reason})`);
            }
          });
        },
        runbook: (run) =>
          attempt('runbook', async () => {
            const undo = runbookCleanup(site);
            try {
              const r = await runRunbook(fixture, { cli: openstackCli(opts.cloud, CLOUDS_FILE), run, created: undo.created, log, signal });
              times.runbook.push(r.seconds);
              addSteps(steps, r.steps);
              log(`runbook, run ${run}: ${r.commands} commands, ${fixture.servers.length} volumes in-use in ${r.seconds.toFixed(1)} s`);
            } finally {
              await undo.cleanup.runAll();
              cleanupFailures.push(...undo.cleanup.leftovers);
            }
          }),
      };
      for (let run = 1; run <= opts.runs; run++) {
        const order = runOrder(run).filter((p) => opts.only.includes(p));
        doc.order = [...(doc.order ?? []), order.join(',')];
        log(`run ${run}: ${order.join(', then ')}`);
        for (const part of order) await runners[part](run);
      }
    } catch (err) {
      doc.errors.push((err as Error).message);
      console.error(`bench:failover: ${(err as Error).message}`);
    } finally {
      log('cleaning up');
      await cleanup.runAll();
      cleanupFailures.push(...cleanup.leftovers);
      for (const f of cleanupFailures) log(`cleanup step failed (the sweep retries it): ${f}`);
      for (const at of sites) {
        try {
          const swept = await sweep(at, prefix);
          if (swept.removed.length > 0) log(`sweep removed at ${at.name}: ${swept.removed.join(', ')}`);
          // What is left is what a listing still finds, not what some step once failed to remove.
          doc.leftovers.push(...describeMarked(await findMarked(at, prefix)).map((l) => (at === site ? l : `${l} at ${at.name}`)));
        } catch (err) {
          doc.leftovers.push(`sweep by prefix ${prefix} at ${at.name} failed: ${(err as Error).message}`);
        }
      }
    }
  }
  process.off('SIGINT', onSigint);

  if (opts.only.includes('generation') && !signal.aborted) {
    log(`generation: ${opts.generate.join(', ')} servers`);
    doc.generation = await measureGeneration(opts.generate);
  }

  const failedReason = (part: string) => `failed: ${failed.get(part) ?? doc.errors[0] ?? 'see above'}`;

  // ---- report ------------------------------------------------------------------------
  const heat = opts.only.includes('heat') ? outcomeOf(times.heat, failedReason('heat')) : undefined;
  const runbook = opts.only.includes('runbook') ? outcomeOf(times.runbook, failedReason('runbook')) : undefined;
  const ferry = opts.only.includes('ferry') ? outcomeOf(times.ferry, ferryReason ?? failedReason('ferry'), ferryDetail) : undefined;
  if (heat) doc.heat = heat;
  if (runbook) doc.runbook = runbook.measured ? { ...runbook, steps } : runbook;
  if (ferry) doc.ferry = ferry;
  doc.ratios = ratios({
    ...(heat?.measured ? { heat: heat.summary } : {}),
    ...(runbook?.measured ? { runbook: runbook.summary } : {}),
    ...(ferry?.measured ? { ferry: ferry.summary } : {}),
  });
  doc.finishedAt = new Date().toISOString();
  doc.machine.loadAverage.end = round1(loadavg()[0]!);

  console.log('');
  if (needsLab(opts.only)) {
    console.log(wallTimeTable(opts.servers, [
      { label: LABELS.heat, outcome: heat },
      { label: LABELS.runbook, outcome: runbook },
      { label: LABELS.ferry, outcome: ferry },
    ]));
    console.log('');
    for (const l of ratioLines(doc.ratios)) console.log(l);
    if (doc.order) console.log(`order: ${doc.order.map((o, i) => `run ${i + 1} ${o.replaceAll(',', ' → ')}`).join('; ')} (same lab, same run)`);
    if (ferry?.measured && ferry.detail) console.log(`Ferry (last run): ${ferry.detail}`);
    if (ferry && !ferry.measured) console.log(`ferry failover: not measured (${ferry.reason})`);
    if (runbook?.measured) console.log(`runbook time by step (per run, mean of ${times.runbook.length}):\n${stepLines(steps, times.runbook.length).join('\n')}`);
    if (doc.setupSeconds !== undefined) console.log(`setup (untimed, once): ${doc.setupSeconds.toFixed(1)} s`);
    console.log(`load average ${doc.machine.loadAverage.start} at the start, ${doc.machine.loadAverage.end} at the end, on ${doc.machine.cpus} CPUs`);
    console.log(doc.leftovers.length > 0 ? `LEFT BEHIND:\n  ${doc.leftovers.join('\n  ')}` : 'left behind: nothing');
  }
  if (doc.generation) {
    if (doc.generation.measured) console.log(`generation (${doc.generation.command}):\n  ${(doc.generation.output ?? []).join('\n  ')}`);
    else console.log(`generation: not measured (${doc.generation.reason})`);
  }
  if (opts.json) {
    const file = resolve(opts.json);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(roundFigures(doc), null, 2)}\n`);
    console.log(`figures written to ${file}`);
  }
  const generationFailed = doc.generation !== undefined && !doc.generation.measured && doc.generation.exitCode !== undefined;
  return doc.errors.length > 0 || doc.leftovers.length > 0 || generationFailed || signal.aborted ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
