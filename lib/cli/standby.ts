// `ferry standby PLAN [--dry-run]`: make or update a warm-standby plan's reduced-capacity stack
// at its secondary from the newest complete recovery point (lib/workflows/standby.ts). Progress
// goes to stderr (one line per journal entry and per stack event), the outcome to stdout; exit
// 0 when the standby holds the newest point (made, updated, or already), 1 otherwise. Ctrl-C
// stops the run at a journal boundary: `ferry resume RUN`, or `ferry standby PLAN` again,
// continues it.
import { hostname } from 'node:os';
import { Option, type Command } from 'commander';
import { formatDuration } from '../config/protection-plan.js';
import { DEFAULT_STANDBY_STACK_TIMEOUT_MINS, planStandby, syncStandby, type StandbyOutcome } from '../workflows/standby.js';
import { positiveMinutes, siteCache, withInterrupt, withRepo, type CliContext } from './context.js';
import { FORMATS, structured, table, type Format } from './output.js';
import { progressLine, stackLine } from './recovery.js';

interface StandbyFlags {
  dryRun?: boolean;
  stackTimeout: number;
  format: Format;
}

/** Adds `standby` to the program. */
export function registerStandby(program: Command, ctx: CliContext): void {
  program
    .command('standby')
    .description(
      "make or update the warm standby stack of a warm-standby plan at its secondary (ferry-PLAN-standby: networks, ports, volumes restored from the newest complete point, no servers); " +
        '`ferry failover` updates that stack to full capacity. Refused for other tiers and while the plan runs at its secondary',
    )
    .argument('<plan>', 'plan name (see ferry plan list)')
    .option('--dry-run', 'print what would be created or updated at the secondary, and change nothing')
    .option('--stack-timeout <minutes>', "Heat's stack timeout", positiveMinutes, DEFAULT_STANDBY_STACK_TIMEOUT_MINS)
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('table'))
    .action(async (planName: string, o: StandbyFlags) => {
      await withRepo(ctx, async (repo) => {
        const common = {
          repo,
          sites: siteCache(ctx),
          owner: `cli@${hostname()}`,
          logger: ctx.logger(),
          stackTimeoutMins: o.stackTimeout,
          onNote: (t: string) => ctx.io.err(`ferry: ${t}`),
        };
        if (o.dryRun) {
          const p = await planStandby(planName, common);
          ctx.io.out(o.format === 'table' ? p.text : structured({ plan: p.planName, site: p.site, stack: p.stackName, action: p.action, point: p.pointId ?? null, previousPoint: p.previousPointId ?? null, steps: p.steps }, o.format));
          ctx.setExit(p.steps.some((s) => s.error !== undefined) ? 1 : 0);
          return;
        }
        const out = await withInterrupt((signal) =>
          syncStandby(planName, {
            ...common,
            signal,
            onEvent: (e) => ctx.io.err(progressLine(e)),
            onStackEvent: (e) => ctx.io.err(stackLine(e)),
          }),
        );
        ctx.io.out(renderStandby(out, o.format));
        ctx.setExit(out.status === 'succeeded' || out.status === 'current' ? 0 : 1);
      });
    });
}

/** The outcome of `ferry standby` as fields or structured data (pure). */
export function renderStandby(o: StandbyOutcome, format: Format): string {
  const data = {
    plan: o.planName,
    site: o.site,
    status: o.status,
    action: o.action,
    runId: o.runId ?? null,
    pointId: o.pointId ?? null,
    previousPointId: o.previousPointId ?? null,
    stackName: o.stackName,
    stackId: o.stackId ?? null,
    volumes: o.volumes ?? [],
    elapsedMs: o.elapsedMs ?? null,
    error: o.error ?? null,
  };
  if (format !== 'table') return structured(data, format);
  const rows = [
    ['Plan', o.planName],
    ['Status', o.status],
    ['Action', o.action === 'none' ? 'none (up to date)' : o.action],
    ['Run', o.runId ?? '-'],
    ['Point', o.pointId ?? '-'],
    ['Previous point', o.previousPointId ?? '-'],
    ['Stack', `${o.stackName}${o.stackId ? ` (${o.stackId})` : ''} at ${o.site}`],
    ['Volumes', o.volumes ? String(o.volumes.length) : '-'],
    ['Took', o.elapsedMs === undefined ? '-' : `${formatDuration(o.elapsedMs)} (${o.elapsedMs} ms)`],
    ...(o.error ? [['Error', o.error]] : []),
  ];
  const out = [table(['Field', 'Value'], rows)];
  if (o.volumes && o.volumes.length > 0) out.push('', table(['Volume', 'ID', 'Status'], o.volumes.map((v) => [v.resource, v.id, v.status])));
  if (o.status === 'interrupted') out.push(`Interrupted: the run stays running (fix: ferry resume ${o.runId}, or ferry standby ${o.planName} again)`);
  return out.join('\n');
}
