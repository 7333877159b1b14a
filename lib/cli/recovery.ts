// `ferry failover PLAN` and `ferry fence PLAN`: recovery at the secondary as an operator drives
// it. Progress goes to stderr (one line per journal entry and per stack event); the outcome
// (RTO, RPO, stack, servers) to stdout; exit 0 when the failover (or fence) succeeded, 1
// otherwise. Ctrl-C stops the run where it is: it stays running and `ferry resume RUN` (or the
// same `ferry failover` again) continues it.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { Option } from 'commander';
import type { JsonObject } from '../catalog/repo.js';
import { formatDuration } from '../config/protection-plan.js';
import { describeJson, type RunEvent } from '../workflows/engine.js';
import { ensureFenced, type FenceOutcome } from '../workflows/fence.js';
import { DEFAULT_STACK_TIMEOUT_MINS, failover, planFailover, type FailoverMode, type FailoverOutcome } from '../workflows/failover.js';
import type { RecoveryEvent } from '../workflows/recover.js';
import { apiOf, inProcessOnly, isRemote, notRemotely, positiveMinutes, siteCache, withInterrupt, withRepo, type CliContext } from './context.js';
import { FORMATS, structured, table, type Format } from './output.js';
import { describeEntry, startAndFollow } from './runs.js';

const formatOption = () => new Option('-f, --format <format>', 'output format').choices(FORMATS).default('table');

interface FailoverCliOptions {
  point?: string;
  latest?: boolean;
  planned?: boolean;
  unplanned?: boolean;
  dryRun?: boolean;
  force?: boolean;
  stackTimeout: number;
  format: Format;
}

/** Adds `failover` and `fence` to the program. */
export function registerRecovery(program: Command, ctx: CliContext): void {
  program
    .command('failover')
    .description(
      "bring a plan's workload up at its secondary with Heat: planned (stop the primary's servers, final cycle, RPO 0) or unplanned (the primary is gone: the newest complete point); " +
        'raises the plan\'s epoch, creates the stack, verifies servers ACTIVE and volumes attached, records RTO and RPO',
    )
    .argument('<plan>', 'plan name (see ferry plan list)')
    .addOption(new Option('--point <id>', 'recover this recovery point (unplanned; see ferry points list PLAN)').conflicts(['latest', 'planned']))
    .addOption(new Option('--latest', 'recover the newest complete point (the default)').conflicts('point'))
    .addOption(new Option('--planned', 'the primary answers: stop its servers, take a final cycle, recover that point').conflicts('unplanned'))
    .addOption(new Option('--unplanned', 'the primary is gone: do not touch it, recover the newest complete point (or --point)'))
    .option('--dry-run', 'print what would be created at the secondary and stopped at the primary, and change nothing')
    .option('--force', 'allow a partial recovery point (volumes without data are left out)')
    .option('--stack-timeout <minutes>', "Heat's stack timeout", positiveMinutes, DEFAULT_STACK_TIMEOUT_MINS)
    .addOption(formatOption())
    .action(async (planName: string, o: FailoverCliOptions, cmd: Command) => {
      if (isRemote(ctx)) {
        if (o.dryRun) notRemotely(ctx, '--dry-run', 'the daemon API starts runs; it does not plan them');
        ctx.setExit(await startAndFollow(ctx, apiOf(ctx), planName, 'failover', failoverParams(o, cmd.getOptionValueSource('stackTimeout') === 'cli'), o.format));
        return;
      }
      await withRepo(ctx, async (repo) => {
        const logger = ctx.logger();
        const mode: FailoverMode | undefined = o.planned ? 'planned' : o.unplanned ? 'unplanned' : undefined;
        const common = {
          repo,
          sites: siteCache(ctx),
          owner: `cli@${hostname()}`,
          logger,
          stackTimeoutMins: o.stackTimeout,
          ...(mode ? { mode } : {}),
          ...(o.point ? { pointId: o.point } : {}),
          ...(o.force ? { force: true } : {}),
          onNote: (t: string) => ctx.io.err(`ferry: ${t}`),
        };
        if (o.dryRun) {
          const plan = await planFailover(planName, common);
          ctx.io.out(o.format === 'table' ? plan.text : structured({ mode: plan.mode, plan: plan.planName, primary: plan.primary, secondary: plan.secondary, prepare: plan.prepare ?? null, recover: plan.recover, resources: plan.resources, stops: plan.stops }, o.format));
          ctx.setExit(plan.recover.some((s) => s.error !== undefined) || (plan.prepare ?? []).some((s) => s.error !== undefined) ? 1 : 0);
          return;
        }
        const outcome = await withInterrupt((signal) =>
          failover(planName, {
            ...common,
            signal,
            onEvent: (e) => ctx.io.err(progressLine(e)),
            onStackEvent: (e) => ctx.io.err(stackLine(e)),
          }),
        );
        ctx.io.out(renderFailover(outcome, o.format));
        ctx.setExit(outcome.status === 'succeeded' ? 0 : 1);
      });
    });

  program
    .command('fence')
    .description("stop, tag and lock the old primary's servers of a plan that failed over (replication and failback do it first on their own); a no-op when done already")
    .argument('<plan>', 'plan name')
    .addOption(formatOption())
    .action(async (planName: string, o: { format: Format }) => {
      inProcessOnly(ctx, 'the daemon fences on its own before it replicates or fails back a plan that failed over');
      await withRepo(ctx, async (repo) => {
        const logger = ctx.logger();
        const out = await ensureFenced(repo, planName, siteCache(ctx), { owner: `cli@${hostname()}`, logger, onEvent: (e) => ctx.io.err(progressLine(e)) });
        ctx.io.out(renderFence(planName, out, o.format));
        ctx.setExit(0);
      });
    });
}

/**
 * The params of a failover run started at the daemon: what its failover starter takes
 * (lib/daemon/runs.ts: mode, pointId, force, stackTimeoutMins). No mode: the workflow decides
 * as `ferry failover` does in-process.
 */
export function failoverParams(o: Pick<FailoverCliOptions, 'point' | 'planned' | 'unplanned' | 'force' | 'stackTimeout'>, stackTimeoutGiven: boolean): JsonObject {
  const mode: FailoverMode | undefined = o.planned ? 'planned' : o.unplanned ? 'unplanned' : undefined;
  return {
    ...(mode ? { mode } : {}),
    ...(o.point ? { pointId: o.point } : {}),
    ...(o.force ? { force: true } : {}),
    ...(stackTimeoutGiven ? { stackTimeoutMins: o.stackTimeout } : {}),
  };
}

// ---- rendering (pure) ---------------------------------------------------------------------

const ms = (v: number | undefined) => (v === undefined ? '' : `${formatDuration(v)} (${v} ms)`);

/** The outcome of a failover as a table (fields, then servers) or structured data. */
export function renderFailover(o: FailoverOutcome, format: Format): string {
  const data = {
    plan: o.planName,
    mode: o.mode,
    status: o.status,
    runId: o.runId,
    prepareRunId: o.prepare?.run.id ?? null,
    recoverRunId: o.recover?.run.id ?? null,
    pointId: o.pointId ?? null,
    stackName: o.stackName ?? null,
    stackId: o.stackId ?? null,
    rtoMs: o.rtoMs ?? null,
    rpoMs: o.rpoMs ?? null,
    serverCount: o.serverCount ?? o.servers?.length ?? 0,
    servers: o.servers ?? [],
    steps: [...(o.prepare?.result.steps ?? []), ...(o.recover?.result.steps ?? [])].map((s) => ({ name: s.name, status: s.status, attempts: s.attempts, durationMs: s.durationMs ?? null })),
    warnings: [...(o.prepare?.result.warnings ?? []), ...(o.recover?.result.warnings ?? [])],
    error: o.error ?? null,
  };
  if (format !== 'table') return structured(data, format);
  const rows: [string, string][] = [
    ['plan', o.planName],
    ['mode', o.mode],
    ['status', o.status],
  ];
  if (o.prepare) rows.push(['prepare run', `${o.prepare.run.id} (${o.prepare.status})`]);
  if (o.recover) rows.push(['recover run', `${o.recover.run.id} (${o.recover.status}, epoch ${o.recover.run.epoch})`]);
  if (o.pointId) rows.push(['recovery point', o.pointId]);
  if (o.stackName) rows.push(['stack', `${o.stackName}${o.stackId ? ` (${o.stackId})` : ''}`]);
  if (o.rtoMs !== undefined) rows.push(['RTO', ms(o.rtoMs)]);
  if (o.rpoMs !== undefined) rows.push(['RPO', ms(o.rpoMs)]);
  if (data.serverCount) rows.push(['servers', String(data.serverCount)]);
  if (o.error) rows.push(['error', o.error]);
  const out = [table(['Field', 'Value'], rows)];
  if (o.servers && o.servers.length > 0) out.push(table(['Server', 'ID', 'Status'], o.servers.map((s) => [s.name, s.id, s.status])));
  for (const w of data.warnings) out.push(`warning: ${w}`);
  if (o.status === 'interrupted') out.push(`Interrupted: the run stays running (fix: ferry resume ${o.runId}, or ferry failover ${o.planName} again)`);
  if (o.status === 'failed') out.push(`See ferry runs show ${o.runId}`);
  return out.join('\n');
}

export function renderFence(planName: string, f: FenceOutcome, format: Format): string {
  const data = { plan: planName, status: f.status, site: f.site ?? null, runId: f.runId ?? null, servers: f.servers ?? 0 };
  if (format !== 'table') return structured(data, format);
  const what =
    f.status === 'not-needed'
      ? `plan ${planName} runs at its primary: nothing to fence`
      : f.status === 'already'
        ? `${f.servers ?? 0} server(s) at ${f.site} were fenced by run ${f.runId}`
        : `${f.servers ?? 0} server(s) at ${f.site} stopped, tagged and locked (run ${f.runId})`;
  return table(['Field', 'Value'], [
    ['plan', planName],
    ['status', f.status],
    ['fence', what],
  ]);
}

/** One stderr line per journal entry. */
export function progressLine(e: RunEvent): string {
  if (e.phase === 'skipped') return `ferry: ${e.step}: skipped (done before the resume)`;
  const text = describeEntry({ step: e.step, phase: e.phase, data: e.data });
  return `ferry: ${e.step} ${e.phase}${text ? `: ${text}` : ''}`;
}

/** One stderr line per stack event. */
export function stackLine(e: RecoveryEvent): string {
  return `ferry: stack ${e.stack}: ${e.resource}${e.source ? ` (${e.source})` : ''} ${e.status}${e.reason && !/state changed|completed successfully/i.test(e.reason) ? `: ${describeJson(e.reason)}` : ''}`;
}

// ---- helpers ---------------------------------------------------------------------------------



