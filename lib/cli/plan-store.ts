// `ferry plan apply FILE`, `ferry plan list`, `ferry plan show NAME`, `ferry plan delete NAME
// [--purge]`: plans as catalog records (lib/plan/store.ts). Apply prints what changed, field by
// field; an invalid file is reported like `plan validate` reports it and stores nothing.
import { Option, type Command } from 'commander';
import { formatPlanIssue, type PlanIssue } from '../config/protection-plan.js';
import { applyPlan, deletePlan, formatChange, listPlans, PlanConflictError, PlanNotReadyError, showPlan, type ApplyResult, type PlanDetails, type PlanSummary, type PointSummary } from '../plan/store.js';
import type { CatalogRepo } from '../catalog/repo.js';
import type { CatalogReader } from '../daemon/api/client.js';
import { checkIssue, openPlanSites, readinessTable, readPlanIssues, renderIssues, siteFactory } from './plan.js';
import { inProcessOnly, withReader, withRepo, type CliContext } from './context.js';
import { FORMATS, structured, table, type Format } from './output.js';

/** Adds apply, list, show and delete under the `plan` command. */
export function registerPlanStore(plan: Command, ctx: CliContext): void {
  const format = () => new Option('-f, --format <format>', 'output format').choices(FORMATS).default('table');
  plan
    .command('apply')
    .description('validate a plan file (offline, then online) and store it in the catalog and the bank at the secondary; prints what changed')
    .argument('<file>', 'the plan file (YAML)')
    .option('--offline', 'skip the online checks and the bank: store the catalog record only')
    .option('--dry-run', 'validate and show the changes, store nothing')
    .option('--container <name>', 'the bank container at the secondary', 'ferry-bank')
    .addOption(format())
    .action(async (file: string, o: { offline?: boolean; dryRun?: boolean; container: string; format: Format }) => {
      inProcessOnly(ctx, 'the daemon API does not take plan documents; apply on a host with the catalog (--db) and both clouds');
      ctx.setExit(await planApply(file, o, ctx));
    });
  plan
    .command('list')
    .description('the plans in the catalog, with their recovery points and RPO status')
    .option('--deleted', 'also list deleted plans (their recovery points are kept until purged)')
    .addOption(format())
    .action(async (o: { deleted?: boolean; format: Format }) => {
      const rows = await withReader(ctx, (reader) => listPlans(readsOnly(reader), { includeDeleted: o.deleted === true }));
      ctx.io.out(o.format === 'table' ? listTable(rows) : structured(rows, o.format));
    });
  plan
    .command('show')
    .description('one plan: its record, epoch and active site, and its newest recovery points')
    .argument('<name>', 'plan name')
    .addOption(format())
    .action(async (name: string, o: { format: Format }) => {
      const d = await withReader(ctx, (reader) => showPlan(readsOnly(reader), name));
      ctx.io.out(o.format === 'table' ? showTable(d) : structured(d, o.format));
    });
  plan
    .command('delete')
    .description('delete a plan; its recovery points are kept unless --purge')
    .argument('<name>', 'plan name')
    .option('--purge', 'also delete its recovery points: backups at both sites, the bank objects and the catalog rows (resumable)')
    .option('--yes', 'confirm --purge')
    .option('--offline', "delete in the catalog only, without marking plan.json deleted in the secondary's bank (a catalog rebuilt from that bank would list the plan again)")
    .option('--container <name>', 'the bank container', 'ferry-bank')
    .action(async (name: string, o: { purge?: boolean; yes?: boolean; offline?: boolean; container: string }) => {
      inProcessOnly(ctx, 'the daemon API does not delete plans');
      ctx.setExit(await planDelete(name, o, ctx));
    });
}

/**
 * listPlans and showPlan read only plans.list/get and points.list, which the daemon's catalog
 * (remoteCatalog) has with the same shapes; their signatures ask for the whole repository.
 */
const readsOnly = (reader: CatalogReader): CatalogRepo => reader as unknown as CatalogRepo;

function printIssues(ctx: CliContext, file: string, issues: PlanIssue[], format: Format, extra: Record<string, unknown> = {}): number {
  const r = renderIssues(file, issues, format, extra);
  for (const m of r.messages) ctx.io.err(m);
  if (r.text) ctx.io.out(r.text);
  return 1;
}

async function planApply(file: string, o: { offline?: boolean; dryRun?: boolean; container: string; format: Format }, ctx: CliContext): Promise<number> {
  const read = readPlanIssues(file);
  if ('issues' in read) return printIssues(ctx, file, read.issues, o.format, { stored: false });
  const source = read.source;
  const sites = siteFactory(ctx);
  if (!o.offline) {
    const opened = openPlanSites(source, sites, file);
    if ('issues' in opened) return printIssues(ctx, file, opened.issues, o.format, { stored: false });
  }
  let result: ApplyResult;
  try {
    result = await withRepo(ctx, (repo) =>
      applyPlan(repo, source, { offline: o.offline === true, dryRun: o.dryRun === true, sites, container: o.container, logger: ctx.logger() }),
    );
  } catch (err) {
    if (err instanceof PlanNotReadyError) {
      const failed = err.report.checks.filter((c) => c.status === 'fail');
      if (o.format !== 'table') {
        ctx.io.out(structured({ file, valid: true, ready: false, stored: false, readiness: err.report }, o.format));
        return 1;
      }
      for (const c of failed) ctx.io.err(`ferry: error: ${formatPlanIssue(checkIssue(c, file))}`);
      ctx.io.err(`ferry: ${file} is valid but not ready (${failed.length} readiness check${failed.length === 1 ? '' : 's'} failed); nothing stored`);
      ctx.io.out(readinessTable(err.report));
      return 1;
    }
    if (err instanceof PlanConflictError) {
      const issue: PlanIssue = { location: source.locate?.([err.field]) ?? file, key: err.field, message: err.detail, fix: err.fix };
      return printIssues(ctx, file, [issue], o.format, { stored: false });
    }
    throw err;
  }
  if (o.format !== 'table') {
    const { plan: row, ...rest } = result;
    ctx.io.out(structured({ file, ...rest, changes: result.changes.map((c) => ({ ...c, text: formatChange(c) })), ...(row ? { epoch: row.epoch, activeSite: row.activeSite, specHash: row.specHash } : {}) }, o.format));
    return 0;
  }
  const p = source.plan;
  const verb = result.dryRun ? { created: 'would be created', changed: 'would change', unchanged: 'unchanged' }[result.action] : result.action;
  const lines = [`plan ${p.name}: ${verb} (${p.primary} → ${p.secondary}, ${p.tier}, rpo ${p.rpo.text}, ${p.members.length} member selector${p.members.length === 1 ? '' : 's'})`];
  lines.push(...result.changes.map((c) => `  ${formatChange(c)}`));
  if (result.readiness) {
    const r = result.readiness;
    lines.push(`readiness: ${r.counts.ok} ok, ${r.counts.warn} warning${r.counts.warn === 1 ? '' : 's'}${r.members !== undefined ? `, ${r.members} server${r.members === 1 ? '' : 's'} discovered` : ''}`);
    for (const c of r.checks.filter((x) => x.status === 'warn')) ctx.io.err(`ferry: warning: ${formatPlanIssue(checkIssue(c, file))}`);
  }
  if (result.dryRun) lines.push('dry run: nothing stored');
  else if (result.bank === 'skipped') lines.push(`bank: not written (offline); the next replication cycle or an online apply writes plans/${p.name}/plan.json at ${p.secondary}`);
  else lines.push(`bank: plans/${p.name}/plan.json ${result.bank === 'written' ? 'written' : 'up to date'} at ${p.secondary} (${o.container})`);
  ctx.io.out(lines.join('\n'));
  return 0;
}

async function planDelete(name: string, o: { purge?: boolean; yes?: boolean; offline?: boolean; container: string }, ctx: CliContext): Promise<number> {
  if (o.purge && o.offline) {
    ctx.io.err('ferry: error: --purge deletes backups at both sites and their banks; it cannot be --offline (fix: drop --offline, or delete without --purge)');
    return 1;
  }
  return withRepo(ctx, async (repo) => {
    if (o.purge && !o.yes) {
      const d = await showPlan(repo, name);
      ctx.io.err(
        `ferry: error: --purge deletes plan ${name} and its ${d.points.total} recovery point${d.points.total === 1 ? '' : 's'}: backups at ${d.primary} and ${d.secondary}, the bank objects and the catalog rows; nothing was changed (fix: add --yes to confirm)`,
      );
      return 1;
    }
    const r = await deletePlan(repo, name, {
      purge: o.purge === true,
      offline: o.offline === true,
      sites: siteFactory(ctx),
      container: o.container,
      logger: ctx.logger(),
      onProgress: (line) => ctx.io.err(`ferry: ${line}`),
    });
    if (!r.purge) {
      const kept = `${r.points} recovery point${r.points === 1 ? '' : 's'} kept (purge them with: ferry plan delete ${name} --purge --yes)`;
      ctx.io.out(r.softDeleted ? `plan ${name}: deleted; ${kept}` : `plan ${name}: already deleted; ${kept}`);
      if (r.bank === 'skipped') ctx.io.err(`ferry: warning: the bank at the secondary was not updated (--offline): a catalog rebuilt from it would list plan ${name} again; run 'ferry plan delete ${name}' once the secondary is reachable`);
      return 0;
    }
    const sites = r.purge.sites.map((s) => `${s.site}: ${s.backups.length} backup${s.backups.length === 1 ? '' : 's'}, ${s.snapshots} snapshot${s.snapshots === 1 ? '' : 's'}, ${s.bankPoints} bank point${s.bankPoints === 1 ? '' : 's'} deleted`);
    ctx.io.out(`plan ${name}: purged (${r.purge.catalog.points} recovery point${r.purge.catalog.points === 1 ? '' : 's'}, ${r.purge.catalog.runs} run${r.purge.catalog.runs === 1 ? '' : 's'}); ${sites.join('; ')}`);
    return 0;
  });
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

function listTable(rows: PlanSummary[]): string {
  if (rows.length === 0) return 'no plans (ferry plan apply FILE adds one)';
  const now = Date.now();
  return table(
    ['name', 'project', 'sites', 'active', 'epoch', 'tier', 'rpo', 'points', 'newest', 'rpo status'],
    rows.map((r) => [
      r.deleted ? `${r.name} (deleted)` : r.name,
      r.project,
      `${r.primary} → ${r.secondary}`,
      r.activeSite,
      r.epoch,
      r.tier,
      r.rpo,
      `${r.points.complete} complete / ${r.points.total}`,
      r.newestComplete ? `${age(now - r.newestComplete.getTime())} ago` : '-',
      r.rpoStatus,
    ]),
  );
}

function pointRow(p: PointSummary): (string | number)[] {
  return [p.id, p.status, p.createdAt.toISOString(), p.completedAt?.toISOString() ?? '-', p.sizeBytes === null ? '-' : `${(p.sizeBytes / 1024 ** 3).toFixed(2)} GiB`, `${p.sourceSite} → ${p.targetSite}`];
}

function showTable(d: PlanDetails): string {
  const spec = d.plan.spec as { description?: string; members?: { server?: string; tag?: string; metadata?: Record<string, string> }[]; retention?: { count?: number; age?: { text: string } } };
  const members = (spec.members ?? []).map((m) => (m.server !== undefined ? `server ${m.server}` : m.tag !== undefined ? `tag ${m.tag}` : `metadata ${Object.entries(m.metadata ?? {}).map(([k, v]) => `${k}=${v}`).join(', ')}`));
  const retention = [spec.retention?.count !== undefined ? `${spec.retention.count} recovery points` : '', spec.retention?.age ? `none older than ${spec.retention.age.text}` : ''].filter(Boolean).join(', ');
  const byStatus = Object.entries(d.pointsByStatus)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  const rows: [string, string][] = [
    ['plan', d.deleted ? `${d.name} (deleted at ${d.plan.deletedAt!.toISOString()}; recovery points kept)` : d.name],
    ...(spec.description ? [['description', spec.description] as [string, string]] : []),
    ['project', d.project],
    ['sites', `${d.primary} → ${d.secondary}`],
    ['active site', d.activeSite],
    ['epoch', String(d.epoch)],
    ['tier', d.tier],
    ['rpo', d.rpo],
    ['retention', retention || '-'],
    ['members', members.join('\n') || '-'],
    ['recovery points', d.points.total === 0 ? 'none yet' : byStatus],
    ['newest complete', d.latestComplete ? `${d.latestComplete.createdAt.toISOString()} (${age(d.rpoAgeMs ?? 0)} ago)` : '-'],
    ['rpo status', d.rpoStatus],
    ['spec hash', d.plan.specHash],
    ['created', d.plan.createdAt.toISOString()],
    ['updated', d.plan.updatedAt.toISOString()],
  ];
  const out = [table(['Field', 'Value'], rows)];
  if (d.newest.length > 0) out.push(`newest recovery points:\n${table(['id', 'status', 'created', 'completed', 'size', 'sites'], d.newest.map(pointRow))}`);
  return out.join('\n');
}
