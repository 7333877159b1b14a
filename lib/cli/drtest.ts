// `ferry test ...`: DR tests (drills) of a plan at its secondary.
//
//   ferry test cleanup PLAN [--site CLOUD] [--dry-run] [--include-running] [-f table|json|yaml]
//       removes what DR tests of the plan left at the site, by their marks (lib/workflows/cleanup.ts);
//       what a DR test still running made (in progress, or within its --keep time) stays unless
//       --include-running (a run whose process died stays `running` in the catalog)
//
//   ferry test PLAN [--point ID] [--keep 30m] [--report-dir DIR] [--dry-run] [-f table|json|yaml]
//       the drill itself (lib/workflows/drtest.ts): recover into an isolated network at the
//       secondary, verify, write the report, keep it up for --keep, tear it down. It is the
//       `test` command's own argument and action; commander sends `ferry test cleanup ...` to
//       the subcommand and anything else to that action.
import { hostname } from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { CatalogNotFoundError, type JsonObject, type Plan } from '../catalog/repo.js';
import { loadCloud } from '../config/clouds.js';
import { formatDuration, parseDuration } from '../config/protection-plan.js';
import { Site } from '../openstack/site.js';
import { cleanupDrTest, type CleanupItem, type CleanupResult } from '../workflows/cleanup.js';
import { DEFAULT_DRTEST_STACK_TIMEOUT_MINS, DEFAULT_REPORT_DIR, drTest, planDrTest, type DrTestOutcome } from '../workflows/drtest.js';
import { apiOf, inProcessOnly, isRemote, notRemotely, positiveMinutes, siteCache, withInterrupt, withRepo, type CliContext } from './context.js';
import { FORMATS, structured, table, type Format } from './output.js';
import { progressLine, stackLine } from './recovery.js';
import { startAndFollow } from './runs.js';

const formatOption = () => new Option('-f, --format <format>', 'output format').choices(FORMATS).default('table');

/** Adds the `test` command and its subcommands to the program. */
export function registerDrTest(program: Command, ctx: CliContext): void {
  const test = program.command('test').description('DR tests (drills): recover a plan into an isolated network at its secondary, verify, report, tear down');
  addCleanup(test, ctx);
  addRun(test, ctx);
}

interface RunFlags {
  point?: string;
  keep?: number;
  reportDir?: string;
  dryRun?: boolean;
  stackTimeout: number;
  format: Format;
}

/** `--keep 30m`, `--keep 0` (tear down at once). */
export function keepOption(v: string): number {
  if (v.trim() === '0') return 0;
  const ms = parseDuration(v.trim());
  if (ms === undefined) throw new InvalidArgumentError('must be a duration such as 30m, 1h30m, 90s, or 0 to tear down at once');
  return ms;
}


function addRun(test: Command, ctx: CliContext): void {
  test
    .argument('[plan]', 'plan name (see ferry plan list)')
    .option('--point <id>', 'recover this recovery point (default: the newest complete one; see ferry points list PLAN)')
    .option('--keep <duration>', "how long the verified test stays up before it is torn down (default: the plan's test.keep, 30m); 0 tears down at once", keepOption)
    .option('--report-dir <dir>', `where the JSON and HTML report go (default ${DEFAULT_REPORT_DIR})`)
    .option('--dry-run', 'print the steps the test would take, and change nothing')
    .option('--stack-timeout <minutes>', "Heat's stack timeout", positiveMinutes, DEFAULT_DRTEST_STACK_TIMEOUT_MINS)
    .addOption(formatOption())
    .action(async (planName: string | undefined, o: RunFlags) => {
      if (planName === undefined) {
        test.help({ error: true });
        return;
      }
      if (isRemote(ctx)) {
        ctx.setExit(await remoteTest(planName, o, test.getOptionValueSource('stackTimeout') === 'cli', ctx));
        return;
      }
      ctx.setExit(await runTest(planName, o, ctx));
    });
}

/**
 * A DR test the daemon runs: the params its drtest starter takes (lib/daemon/runs.ts: pointId,
 * keep as a duration text, stackTimeoutMins). The report goes where the daemon writes reports;
 * --dry-run and --report-dir are in-process only.
 */
export function drTestParams(o: Pick<RunFlags, 'point' | 'keep' | 'stackTimeout'>, stackTimeoutGiven: boolean): JsonObject {
  return {
    ...(o.point ? { pointId: o.point } : {}),
    ...(o.keep !== undefined ? { keep: formatDuration(o.keep) } : {}),
    ...(stackTimeoutGiven ? { stackTimeoutMins: o.stackTimeout } : {}),
  };
}

async function remoteTest(planName: string, o: RunFlags, stackTimeoutGiven: boolean, ctx: CliContext): Promise<number> {
  if (o.dryRun) notRemotely(ctx, '--dry-run', 'the daemon API starts runs; it does not plan them');
  if (o.reportDir) notRemotely(ctx, '--report-dir', "the daemon writes reports where its configuration says; ferry runs show RUN has the outcome");
  return startAndFollow(ctx, apiOf(ctx), planName, 'drtest', drTestParams(o, stackTimeoutGiven), o.format);
}

async function runTest(planName: string, o: RunFlags, ctx: CliContext): Promise<number> {
  const logger = ctx.logger();
  return withRepo(ctx, async (repo) => {
    const common = {
      repo,
      sites: siteCache(ctx),
      owner: `cli@${hostname()}`,
      logger,
      stackTimeoutMins: o.stackTimeout,
      ...(o.point ? { pointId: o.point } : {}),
      ...(o.keep !== undefined ? { keepMs: o.keep } : {}),
      ...(o.reportDir ? { reportDir: o.reportDir } : {}),
    };
    if (o.dryRun) {
      const planned = await planDrTest(planName, common);
      ctx.io.out(o.format === 'table' ? planned.text : structured({ plan: planName, steps: planned.steps }, o.format));
      return planned.steps.some((s) => s.error !== undefined) ? 1 : 0;
    }
    const out = await withInterrupt((signal) =>
      drTest(planName, {
        ...common,
        signal,
        onEvent: (e) => ctx.io.err(progressLine(e)),
        onStackEvent: (e) => ctx.io.err(stackLine(e)),
      }),
    );
    ctx.io.out(renderDrTest(out, o.format));
    return out.status === 'succeeded' ? 0 : 1;
  });
}

/** The outcome of a DR test as fields or structured data. */
export function renderDrTest(o: DrTestOutcome, format: Format): string {
  const data = {
    plan: o.planName,
    run: o.runId,
    status: o.status,
    report: o.reportOutcome ?? null,
    rtoMs: o.rtoMs ?? null,
    rpoMs: o.rpoMs ?? null,
    stack: o.stackName ?? null,
    reportJson: o.reportJson ?? null,
    reportHtml: o.reportHtml ?? null,
    error: o.error ?? null,
  };
  if (format !== 'table') return structured(data, format);
  const ms = (v: number | undefined) => (v === undefined ? 'not measured' : `${formatDuration(v)} (${v} ms)`);
  const rows = [
    ['Plan', o.planName],
    ['Run', o.runId],
    ['Status', o.status],
    ['Outcome', o.reportOutcome ?? '-'],
    ['RTO', ms(o.rtoMs)],
    ['RPO', ms(o.rpoMs)],
    ['Stack', o.stackName ?? '-'],
    ['Report (JSON)', o.reportJson ?? '-'],
    ['Report (HTML)', o.reportHtml ?? '-'],
    ...(o.error ? [['Error', o.error]] : []),
  ];
  const hint = o.status === 'interrupted' ? `\nInterrupted: the run stays running; the test is torn down when it is resumed after its keep time (fix: ferry resume ${o.runId})` : '';
  return `${table(['Field', 'Value'], rows)}${hint}`;
}

function addCleanup(test: Command, ctx: CliContext): void {
  test
    .command('cleanup')
    .description(
      "delete what DR tests of a plan left at a site: its DR-test stacks (tag ferry:mode=drtest) and the resources outside stacks marked as the plan's DR-test artifacts; production resources of the plan are never touched",
    )
    .argument('<plan>', 'plan name (see ferry plan list)')
    .option('--site <cloud>', "the site to clean (a cloud from clouds.yaml; default: the plan's secondary)")
    .option('--dry-run', 'list what would be deleted, and what is left alone and why; delete nothing')
    .option('--include-running', "also delete what DR tests still running in the catalog made (a test whose process died for good)")
    .addOption(formatOption())
    .action(async (planName: string, o: CleanupFlags, cmd: Command) => {
      inProcessOnly(ctx, "it deletes with this host's clouds.yaml credentials");
      ctx.setExit(await testCleanup(planName, withParentShared(cmd, o), ctx));
    });
}

/**
 * `test` (the drill) and `test cleanup` share --dry-run and -f. Commander lets the parent take
 * the options written after the subcommand (the program does not use positional options), so
 * what the operator gave on the command line reaches the subcommand through its parent.
 */
function withParentShared<T extends object>(cmd: Command, own: T): T {
  const parent = cmd.parent;
  if (!parent) return own;
  const out = { ...own } as Record<string, unknown>;
  for (const key of ['dryRun', 'format']) {
    if (cmd.getOptionValueSource(key) !== 'cli' && parent.getOptionValueSource(key) === 'cli') out[key] = parent.getOptionValue(key);
  }
  return out as T;
}

interface CleanupFlags {
  site?: string;
  dryRun?: boolean;
  includeRunning?: boolean;
  format: Format;
}

interface CleanupTarget {
  site: string;
  knownRuns: string[];
  /** DR-test runs still running or pending. */
  activeRuns: string[];
}

/** The site to clean and the DR-test runs the catalog knows; a plan the catalog lost needs --site. */
async function target(planName: string, siteOption: string | undefined, ctx: CliContext): Promise<CleanupTarget> {
  return withRepo(ctx, async (repo) => {
    // A deleted plan's tests may still have left something.
    const plan: Plan | undefined = await repo.plans.get(planName, { includeDeleted: true });
    if (!plan) {
      if (siteOption === undefined) {
        throw new CatalogNotFoundError('plan', planName, `is not in the catalog (fix: ferry test cleanup ${planName} --site CLOUD to clean a site by the plan's marks alone, or ferry catalog rebuild --from CLOUD)`);
      }
      ctx.io.err(`ferry: plan ${planName} is not in the catalog; looking for its DR-test marks at ${siteOption} without the catalog's runs`);
      return { site: siteOption, knownRuns: [], activeRuns: [] };
    }
    const runs = await repo.runs.list({ planName: plan.name, kind: 'drtest' });
    return { site: siteOption ?? plan.secondarySite, knownRuns: runs.map((r) => r.id), activeRuns: runs.filter((r) => r.status === 'running' || r.status === 'pending').map((r) => r.id) };
  });
}

async function testCleanup(planName: string, o: CleanupFlags, ctx: CliContext): Promise<number> {
  const { site: cloud, knownRuns, activeRuns } = await target(planName, o.site, ctx);
  const logger = ctx.logger();
  const site = new Site(loadCloud(cloud, ctx.clouds()), { logger });
  // Ctrl-C stops between calls; what is left is found again by the next cleanup.
  const result = await withInterrupt((signal) =>
    cleanupDrTest(site, {
      plan: planName,
      knownRuns,
      activeRuns: o.includeRunning ? [] : activeRuns,
      dryRun: o.dryRun === true,
      logger,
      signal,
      ...(o.dryRun ? {} : { onProgress: (line: string) => ctx.io.err(line) }),
    }),
  );
  ctx.io.out(o.format === 'table' ? renderCleanup(result) : structured(result, o.format));
  return result.failed.length === 0 ? 0 : 1;
}

// ---- rendering (pure) -----------------------------------------------------------------------

const detail = (i: CleanupItem, extra?: string): string => [extra, i.via !== undefined ? `with stack ${i.via}` : undefined, i.run !== undefined ? `run ${i.run}` : undefined, i.note].filter((x) => x !== undefined && x !== '').join('; ');

/** The cleanup as an operator reads it: one row per resource, then a count. */
export function renderCleanup(r: CleanupResult): string {
  const done = r.dryRun ? 'would delete' : 'deleted';
  const rows = [
    ...r.deleted.map((i) => [done, i.kind, i.name, i.id, detail(i, i.router !== undefined ? `router ${i.router}` : undefined)]),
    ...r.failed.map((i) => ['FAILED', i.kind, i.name, i.id, detail(i, i.error)]),
    ...r.kept.map((i) => ['left alone', i.kind, i.name, i.id, detail(i, i.reason)]),
  ];
  const head = `DR-test leftovers of plan ${r.plan} at ${r.site} (project ${r.project})${r.dryRun ? ', dry run' : ''}:`;
  const body = rows.length === 0 ? 'nothing found.' : table(['Action', 'Kind', 'Name', 'ID', 'Detail'], rows);
  const runs = r.runs.length === 0 ? 'no DR-test run known' : `DR-test runs: ${r.runs.join(', ')}`;
  const count = `${r.deleted.length} ${done}, ${r.failed.length} failed, ${r.kept.length} left alone; ${runs}.`;
  const hint = r.failed.length > 0 ? `\nFix what the failures name, then run ferry test cleanup ${r.plan}${r.site ? ` --site ${r.site}` : ''} again: it is safe to repeat.` : r.dryRun && r.deleted.length > 0 ? `\nRun it without --dry-run to delete them.` : '';
  return `${head}\n${body}\n${count}${hint}`;
}
