// `ferry test ...`: DR tests (drills) of a plan at its secondary.
//
//   ferry test cleanup PLAN [--site CLOUD] [--dry-run] [--include-running] [-f table|json|yaml]
//       removes what DR tests of the plan left at the site, by their marks (lib/workflows/cleanup.ts);
//       what a DR test still running made (in progress, or within its --keep time) stays unless
//       --include-running (a run whose process died stays `running` in the catalog)
//
// `ferry test PLAN [--point ID] [--keep 30m]` (the drill itself) comes with the DR test
// workflow: it is added to the same `test` command by a function beside addCleanup, as the
// command's own argument and action; commander sends `ferry test cleanup ...` to the
// subcommand and anything else to that action.
import { Option, type Command } from 'commander';
import { openCatalog } from '../catalog/db.js';
import { CatalogNotFoundError, CatalogRepo, type Plan } from '../catalog/repo.js';
import { loadCloud } from '../config/clouds.js';
import { Site } from '../openstack/site.js';
import { cleanupDrTest, type CleanupItem, type CleanupResult } from '../workflows/cleanup.js';
import type { CliContext } from './context.js';
import { FORMATS, structured, table, type Format } from './output.js';

const formatOption = () => new Option('-f, --format <format>', 'output format').choices(FORMATS).default('table');

/** Adds the `test` command and its subcommands to the program. */
export function registerDrTest(program: Command, ctx: CliContext): void {
  const test = program.command('test').description('DR tests (drills): recover a plan into an isolated network at its secondary, verify, report, tear down');
  addCleanup(test, ctx);
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
    .action(async (planName: string, o: CleanupFlags) => {
      ctx.setExit(await testCleanup(planName, o, ctx));
    });
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
  const catalog = await openCatalog(ctx.dbUrl(), { logger: ctx.logger() });
  try {
    const repo = new CatalogRepo(catalog);
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
  } finally {
    await catalog.close();
  }
}

async function testCleanup(planName: string, o: CleanupFlags, ctx: CliContext): Promise<number> {
  const { site: cloud, knownRuns, activeRuns } = await target(planName, o.site, ctx);
  const logger = ctx.logger();
  const site = new Site(loadCloud(cloud, ctx.clouds()), { logger });
  // Ctrl-C stops between calls; what is left is found again by the next cleanup.
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted (SIGINT)'));
  process.once('SIGINT', onSignal);
  try {
    const result = await cleanupDrTest(site, {
      plan: planName,
      knownRuns,
      activeRuns: o.includeRunning ? [] : activeRuns,
      dryRun: o.dryRun === true,
      logger,
      signal: controller.signal,
      ...(o.dryRun ? {} : { onProgress: (line: string) => ctx.io.err(line) }),
    });
    ctx.io.out(o.format === 'table' ? renderCleanup(result) : structured(result, o.format));
    return result.failed.length === 0 ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
  }
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
