// `ferry failback PLAN`: bring a failed-over plan home (lib/workflows/failback.ts). Progress to
// stderr (journal entries, stack events), the outcome (RTO, RPO, stacks, the first point back
// toward the secondary) to stdout; exit 0 when the failback succeeded, 1 otherwise. Ctrl-C
// stops the run where it is; `ferry failback PLAN` again (or `ferry resume RUN`) continues it.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { Option } from 'commander';
import type { JsonObject } from '../catalog/repo.js';
import { formatDuration } from '../config/protection-plan.js';
import { DEFAULT_STACK_TIMEOUT_MINS } from '../workflows/failover.js';
import { failback, planFailback, type FailbackOutcome } from '../workflows/failback.js';
import { apiOf, isRemote, notRemotely, positiveMinutes, siteCache, withInterrupt, withRepo, type CliContext } from './context.js';
import { FORMATS, structured, table, type Format } from './output.js';
import { progressLine, stackLine } from './recovery.js';
import { startAndFollow } from './runs.js';

interface FailbackCliOptions {
  dryRun?: boolean;
  stackTimeout: number;
  format: Format;
}

/** Adds `failback` to the program. */
export function registerFailback(program: Command, ctx: CliContext): void {
  program
    .command('failback')
    .description(
      'bring a plan that failed over back to its primary: fence the old servers there, replicate the secondary\'s live volumes back (reprotect), stop the secondary\'s servers, ' +
        'take a final cycle (RPO 0), recover at the primary with Heat, delete the secondary\'s stack, and resume protection toward the secondary',
    )
    .argument('<plan>', 'plan name (see ferry plan list)')
    .option('--dry-run', 'print the steps, the servers stopped at the secondary and the recovery at the primary, and change nothing')
    .option('--stack-timeout <minutes>', "Heat's stack timeout at the primary", positiveMinutes, DEFAULT_STACK_TIMEOUT_MINS)
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('table'))
    .action(async (planName: string, o: FailbackCliOptions, cmd: Command) => {
      if (isRemote(ctx)) {
        if (o.dryRun) notRemotely(ctx, '--dry-run', 'the daemon API starts runs; it does not plan them');
        const params: JsonObject = cmd.getOptionValueSource('stackTimeout') === 'cli' ? { stackTimeoutMins: o.stackTimeout } : {};
        ctx.setExit(await startAndFollow(ctx, apiOf(ctx), planName, 'failback', params, o.format));
        return;
      }
      await withRepo(ctx, async (repo) => {
        const common = { repo, sites: siteCache(ctx), owner: `cli@${hostname()}`, logger: ctx.logger(), stackTimeoutMins: o.stackTimeout, onNote: (t: string) => ctx.io.err(`ferry: ${t}`) };
        if (o.dryRun) {
          const p = await planFailback(planName, common);
          ctx.io.out(o.format === 'table' ? p.text : structured({ plan: p.planName, primary: p.primary, secondary: p.secondary, prepare: p.prepare, recover: p.recover, stops: p.stops }, o.format));
          ctx.setExit([...p.prepare, ...p.recover].some((s) => s.error !== undefined) ? 1 : 0);
          return;
        }
        const outcome = await withInterrupt((signal) => failback(planName, { ...common, signal, onEvent: (e) => ctx.io.err(progressLine(e)), onStackEvent: (e) => ctx.io.err(stackLine(e)) }));
        ctx.io.out(renderFailback(outcome, o.format));
        ctx.setExit(outcome.status === 'succeeded' ? 0 : 1);
      });
    });
}

const ms = (v: number | undefined) => (v === undefined ? '' : `${formatDuration(v)} (${v} ms)`);

/** The outcome of a failback as a table or structured data. */
export function renderFailback(o: FailbackOutcome, format: Format): string {
  const warnings = [...(o.prepare?.result.warnings ?? []), ...(o.recover?.result.warnings ?? []), ...o.warnings];
  const data = {
    plan: o.planName,
    status: o.status,
    runId: o.runId,
    fenceRunId: o.fence?.runId ?? null,
    prepareRunId: o.prepare?.run.id ?? null,
    recoverRunId: o.recover?.run.id ?? null,
    pointId: o.pointId ?? null,
    stackName: o.stackName ?? null,
    stackId: o.stackId ?? null,
    rtoMs: o.rtoMs ?? null,
    rpoMs: o.rpoMs ?? null,
    wallMs: o.wallMs ?? null,
    protectPointId: o.protectPointId ?? null,
    serverCount: o.serverCount ?? o.servers?.length ?? 0,
    servers: o.servers ?? [],
    steps: [...(o.prepare?.result.steps ?? []), ...(o.recover?.result.steps ?? [])].map((s) => ({ name: s.name, status: s.status, attempts: s.attempts, durationMs: s.durationMs ?? null })),
    warnings,
    error: o.error ?? null,
  };
  if (format !== 'table') return structured(data, format);
  const rows: [string, string][] = [
    ['plan', o.planName],
    ['status', o.status],
  ];
  if (o.fence && o.fence.status !== 'not-needed') rows.push(['fence', o.fence.status === 'already' ? `done before (run ${o.fence.runId})` : `${o.fence.servers ?? 0} server(s) at ${o.fence.site} (run ${o.fence.runId})`]);
  if (o.prepare) rows.push(['prepare run', `${o.prepare.run.id} (${o.prepare.status})`]);
  if (o.recover) rows.push(['recover run', `${o.recover.run.id} (${o.recover.status}, epoch ${o.recover.run.epoch})`]);
  if (o.pointId) rows.push(['recovery point', o.pointId]);
  if (o.stackName) rows.push(['stack', `${o.stackName}${o.stackId ? ` (${o.stackId})` : ''}`]);
  if (o.rtoMs !== undefined) rows.push(['RTO', `${ms(o.rtoMs)} from the stop at the secondary`]);
  if (o.rpoMs !== undefined) rows.push(['RPO', ms(o.rpoMs)]);
  if (o.wallMs !== undefined) rows.push(['wall time', `${ms(o.wallMs)} (reprotect included)`]);
  if (o.protectPointId) rows.push(['protection', `resumed toward the secondary: point ${o.protectPointId}`]);
  if (data.serverCount) rows.push(['servers', String(data.serverCount)]);
  if (o.error) rows.push(['error', o.error]);
  const out = [table(['Field', 'Value'], rows)];
  if (o.servers && o.servers.length > 0) out.push(table(['Server', 'ID', 'Status'], o.servers.map((s) => [s.name, s.id, s.status])));
  for (const w of warnings) out.push(`warning: ${w}`);
  if (o.status === 'interrupted') out.push(`Interrupted: the run stays running (fix: ferry failback ${o.planName} again, or ferry resume ${o.runId})`);
  if (o.status === 'failed') out.push(`See ferry runs show ${o.runId}; ferry failback ${o.planName} again continues or retries it`);
  return out.join('\n');
}
