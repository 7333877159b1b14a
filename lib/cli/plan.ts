// `ferry plan validate FILE` and `ferry plan schema`: protection plans as files.
// Validation is offline first (schema and cross-field checks: file:line:col, field, fix), then,
// unless --offline, online: a readiness report from lib/plan/readiness.ts (members and mapping
// targets exist, the secondary has the services, flavors and quota to recover the whole plan).
import { PlanError, formatPlanIssue, maskPlanSecrets, planJsonSchema, type MemberSelector, type PlanIssue, type ProtectionPlan } from '../config/protection-plan.js';
import { ConfigError } from '../errors.js';
import { loadCloud } from '../config/clouds.js';
import type { Logger } from '../log.js';
import { Site } from '../openstack/site.js';
import { checkReadiness, type ReadinessCheck, type ReadinessReport } from '../plan/readiness.js';
import { readPlanSource, type PlanSource } from '../plan/store.js';
import { redactUrl } from '../redact.js';
import type { CliContext } from './context.js';
import { structured, table, type Format } from './output.js';

export interface PlanValidateOptions {
  format: Format;
  /** Only the file itself: no site is contacted. */
  offline?: boolean;
  /** Opens a site by cloud name (required unless offline, or given ctx). */
  sites?: (cloud: string) => Site;
  logger?: Logger;
  /** The CLI context: sites from its clouds.yaml and its logger, when `sites` is not given. */
  ctx?: CliContext;
  /** Bank container at the secondary (default ferry-bank). */
  container?: string;
}

export interface PlanValidateResult {
  ok: boolean;
  /** For stdout: the summary (table, JSON, YAML) with the readiness report, or the problems as JSON/YAML. */
  text: string;
  /** For stderr: the problems in table mode, and notes. */
  messages: string[];
  plan?: ProtectionPlan;
  issues?: PlanIssue[];
  readiness?: ReadinessReport;
}

/** What offline validation leaves for the online part. */
export const ONLINE_CHECKS = 'members and mapping targets exist, quota and flavors at the secondary';

/** Sites by cloud name from the CLI's clouds.yaml search, one Site per cloud. */
export function siteFactory(ctx: CliContext): (cloud: string) => Site {
  const opened = new Map<string, Site>();
  return (cloud) => {
    let site = opened.get(cloud);
    if (!site) {
      site = new Site(loadCloud(cloud, ctx.clouds()), { logger: ctx.logger() });
      opened.set(cloud, site);
    }
    return site;
  };
}

/** Reads a plan file offline; problems (YAML, schema, cross-field) as PlanIssues. */
export function readPlanIssues(file: string): { source: PlanSource } | { issues: PlanIssue[] } {
  try {
    return { source: readPlanSource(file) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { issues: err instanceof PlanError ? err.issues : [asIssue(err, file)] };
  }
}

/** The problems of an invalid file, as validate and apply print them. */
export function renderIssues(file: string, issues: PlanIssue[], format: Format, extra: Record<string, unknown> = {}): { text: string; messages: string[] } {
  if (format === 'table') {
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    return { text: '', messages: [...issues.map((i) => `ferry: error: ${formatPlanIssue(i)}`), `ferry: ${file} is not a valid protection plan (${count})`] };
  }
  return { messages: [], text: structured({ file, valid: false, ...extra, errors: issues }, format) };
}

/** A failed or warning readiness check in the offline issues' format: `file:line:col: key 'field': message (fix: ...)`. */
export function checkIssue(c: ReadinessCheck, file: string): PlanIssue {
  return { location: c.location ?? file, key: c.field ?? '', message: `${c.check} ${c.subject}: ${c.message}`, ...(c.fix ? { fix: c.fix } : {}) };
}

/**
 * Opens the plan's two sites; an unknown cloud or a broken clouds.yaml entry is an issue at
 * the plan's `primary` / `secondary` field.
 */
export function openPlanSites(source: PlanSource, sites: (cloud: string) => Site, file: string): { primary: Site; secondary: Site } | { issues: PlanIssue[] } {
  const issues: PlanIssue[] = [];
  const open = (field: 'primary' | 'secondary'): Site | undefined => {
    const cloud = source.plan[field];
    try {
      return sites(cloud);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      issues.push({ location: source.locate?.([field]) ?? file, key: field, message: `cloud '${cloud}' cannot be used: ${err.message}`, fix: 'name a cloud from clouds.yaml (ferry sites check lists them)' });
      return undefined;
    }
  };
  const primary = open('primary');
  const secondary = open('secondary');
  return primary && secondary ? { primary, secondary } : { issues };
}

/** The readiness report as a table: one row per check. */
export function readinessTable(r: ReadinessReport): string {
  const head = `readiness ${r.primary} → ${r.secondary}: ${r.ok ? 'ready' : 'NOT READY'} (${r.counts.ok} ok, ${r.counts.warn} warning${r.counts.warn === 1 ? '' : 's'}, ${r.counts.fail} failed${r.members !== undefined ? `; ${r.members} server${r.members === 1 ? '' : 's'} discovered` : ''})`;
  const rows = r.checks.map((c) => [
    c.status === 'ok' ? 'ok' : c.status === 'warn' ? 'WARN' : 'FAIL',
    c.check,
    c.subject,
    [c.message, c.fix ? `fix: ${c.fix}` : '', c.location ? `at ${c.location}` : ''].filter(Boolean).join('\n'),
  ]);
  return `${head}\n${table(['status', 'check', 'subject', 'details'], rows)}`;
}

/** Validates a plan file offline, then (unless offline) online, and renders the summary and readiness report, or every problem found. */
export async function planValidate(file: string, opts: PlanValidateOptions): Promise<PlanValidateResult> {
  const read = readPlanIssues(file);
  if ('issues' in read) return { ok: false, issues: read.issues, ...renderIssues(file, read.issues, opts.format, { checks: 'offline' }) };
  const { plan } = read.source;
  if (opts.offline) {
    if (opts.format !== 'table') return { ok: true, plan, messages: [], text: structured({ file, valid: true, checks: 'offline', not_checked: ONLINE_CHECKS, plan: forDisplay(plan) }, opts.format) };
    return { ok: true, plan, messages: [], text: summary(plan, file) };
  }
  const sites = opts.sites ?? (opts.ctx ? siteFactory(opts.ctx) : undefined);
  if (!sites) throw new Error('planValidate: online validation needs sites');
  const logger = opts.logger ?? opts.ctx?.logger();
  const opened = openPlanSites(read.source, sites, file);
  if ('issues' in opened) return { ok: false, plan, issues: opened.issues, ...renderIssues(file, opened.issues, opts.format, { checks: 'online' }) };
  const readiness = await checkReadiness(plan, opened.primary, opened.secondary, {
    ...(read.source.locate ? { locate: read.source.locate } : {}),
    ...(logger ? { logger } : {}),
    ...(opts.container ? { container: opts.container } : {}),
  });
  const ok = readiness.ok;
  if (opts.format !== 'table') {
    return { ok, plan, readiness, messages: [], text: structured({ file, valid: true, ready: ok, checks: 'online', readiness, plan: forDisplay(plan) }, opts.format) };
  }
  const failed = readiness.checks.filter((c) => c.status === 'fail');
  const messages = ok
    ? []
    : [...failed.map((c) => `ferry: error: ${formatPlanIssue(checkIssue(c, file))}`), `ferry: ${file} is valid but not ready: ${failed.length} readiness check${failed.length === 1 ? '' : 's'} failed`];
  return { ok, plan, readiness, messages, text: `${summary(plan, file, readiness)}\n${readinessTable(readiness)}` };
}

/** The plan with secret-looking hook headers (Authorization, ...) and URL tokens masked. */
function forDisplay(plan: ProtectionPlan): ProtectionPlan {
  return maskPlanSecrets(plan);
}

/** A ConfigError (unreadable file, YAML syntax) as one PlanIssue: its message without location, key and fix. */
function asIssue(err: ConfigError, file: string): PlanIssue {
  let message = err.message;
  const where = [err.file, err.key ? `key '${err.key}'` : undefined].filter(Boolean).join(': ');
  if (where && message.startsWith(`${where}: `)) message = message.slice(where.length + 2);
  const fix = err.fix ? ` (fix: ${err.fix})` : '';
  if (fix && message.endsWith(fix)) message = message.slice(0, -fix.length);
  return { location: err.file ?? file, key: err.key ?? '', message, ...(err.fix ? { fix: err.fix } : {}) };
}

/** The JSON Schema of plan files, pretty-printed. */
export function planSchema(): string {
  return JSON.stringify(planJsonSchema(), null, 2);
}

function selector(s: MemberSelector): string {
  if (s.server !== undefined) return `server ${s.server}`;
  if (s.tag !== undefined) return `tag ${s.tag}`;
  return `metadata ${Object.entries(s.metadata ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')}`;
}

function mapped(list: { from: string; to?: string; recreate?: true }[], unlisted: string): string {
  const lines = list.map((m) => (m.to !== undefined ? `${m.from} → ${m.to}` : `${m.from} (recreate)`));
  return [...lines, unlisted].join('\n');
}

function keywordOrMap(v: string | { map: { from: string; to: string }[] }, rest: string): string {
  return typeof v === 'string' ? v : mapped(v.map, `others: ${rest}`);
}

/** The readiness summary: a Field/Value table like the openstack CLI's `show` commands. */
export function summary(plan: ProtectionPlan, file: string, readiness?: ReadinessReport): string {
  const m = plan.mappings;
  const retention = [plan.retention.count !== undefined ? `${plan.retention.count} recovery points` : '', plan.retention.age ? `none older than ${plan.retention.age.text}` : '']
    .filter(Boolean)
    .join(', ');
  const groups = plan.priority_groups.map((g, i) => `${i + 1}. ${g.name}: ${g.members.join(', ')}`);
  const hooks = (['pre_snapshot', 'post_snapshot'] as const).flatMap((when) =>
    plan.hooks[when].map((h) => `${when}: ${h.command ? h.command.join(' ') : `${h.http!.method} ${redactUrl(h.http!.url)}`} (timeout ${h.timeout.text})`),
  );
  const rows: [string, string][] = [
    ['plan', plan.name],
    ...(plan.description ? [['description', plan.description] as [string, string]] : []),
    ['file', file],
    ['project', plan.project],
    ['sites', `${plan.primary} → ${plan.secondary}`],
    ['tier', plan.tier],
    ['rpo', plan.rpo.text],
    ['retention', retention],
    ['mover', `${plan.mover}, full backup every ${plan.full_every === 1 ? 'cycle' : `${plan.full_every} cycles`}`],
    ['members', [...plan.members.map(selector), '(attached volumes follow)'].join('\n')],
    ['networks', mapped(m.networks, 'others: same name')],
    ['subnets', mapped(m.subnets, 'others: follow their network')],
    ['security groups', keywordOrMap(m.security_groups, 'recreate')],
    ['flavors', mapped(m.flavors.map, `others: same name${m.flavors.recreate_missing ? ', recreated when missing' : ' (must exist)'}`)],
    ['images', keywordOrMap(m.images, 'replicate')],
    ['volume types', mapped(m.volume_types, "others: same name, else the default type")],
    ['availability zones', mapped(m.availability_zones, 'others: same name, else any')],
    ['keypairs', keywordOrMap(m.keypairs, 'replicate')],
    ['ip policy', plan.ip_policy],
    ['boot order', [...groups, groups.length ? 'then every other member' : 'all members together'].join('\n')],
    ['hooks', hooks.length ? hooks.join('\n') : '-'],
    ['dr test', `networks ${plan.test.network_prefix}*, servers ${plan.test.name_prefix}*, kept ${plan.test.keep.text}`],
    ['checked', readiness ? `offline: schema and cross-field checks passed\nonline: ${readiness.checks.length} readiness checks, ${readiness.counts.fail} failed (below)` : 'offline: schema and cross-field checks passed'],
    ...(readiness ? [] : [['not checked', `online: ${ONLINE_CHECKS}`] as [string, string]]),
  ];
  return `plan ${plan.name}: valid\n${table(['Field', 'Value'], rows)}`;
}
