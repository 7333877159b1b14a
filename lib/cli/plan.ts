// `ferry plan validate FILE` and `ferry plan schema`: protection plans as files.
// Validation is offline for now (schema and cross-field checks). The online part (members and
// mapping targets exist, quota and flavors at the secondary) comes with discovery as
// validatePlanOnline() in lib/config/protection-plan.ts.
import { PlanError, formatPlanIssue, planJsonSchema, readPlanFile, type MemberSelector, type PlanHook, type PlanIssue, type ProtectionPlan } from '../config/protection-plan.js';
import { ConfigError } from '../errors.js';
import { Redactor, redactUrl } from '../redact.js';
import { structured, table, type Format } from './output.js';

export interface PlanValidateOptions {
  format: Format;
  /** Skip the online checks. They do not exist yet, so validation is offline either way. */
  offline?: boolean;
}

export interface PlanValidateResult {
  ok: boolean;
  /** For stdout: the summary (table, JSON, YAML), or the problems as JSON/YAML. */
  text: string;
  /** For stderr: the problems in table mode, and notes. */
  messages: string[];
  plan?: ProtectionPlan;
  issues?: PlanIssue[];
}

/** What offline validation leaves for the online part. */
export const ONLINE_CHECKS = 'members and mapping targets exist, quota and flavors at the secondary';

/** Validates a plan file offline and renders a readiness summary, or every problem found. */
export function planValidate(file: string, opts: PlanValidateOptions): PlanValidateResult {
  const notes = opts.offline ? [] : [`ferry: note: online checks (${ONLINE_CHECKS}) come with discovery; this validation was offline only`];
  let plan: ProtectionPlan;
  try {
    plan = readPlanFile(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const issues = err instanceof PlanError ? err.issues : [asIssue(err, file)];
    if (opts.format === 'table') {
      const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
      return { ok: false, text: '', issues, messages: [...issues.map((i) => `ferry: error: ${formatPlanIssue(i)}`), `ferry: ${file} is not a valid protection plan (${count})`] };
    }
    return { ok: false, issues, messages: [], text: structured({ file, valid: false, checks: 'offline', errors: issues }, opts.format) };
  }
  if (opts.format !== 'table') {
    return { ok: true, plan, messages: notes, text: structured({ file, valid: true, checks: 'offline', not_checked: ONLINE_CHECKS, plan: forDisplay(plan) }, opts.format) };
  }
  return { ok: true, plan, messages: notes, text: summary(plan, file) };
}

/** The plan with secret-looking hook headers (Authorization, ...) and URL tokens masked. */
function forDisplay(plan: ProtectionPlan): ProtectionPlan {
  const redactor = new Redactor();
  const hook = (h: PlanHook): PlanHook => (h.http ? { ...h, http: { ...h.http, url: redactUrl(h.http.url), headers: redactor.headers(h.http.headers) as Record<string, string> } } : h);
  return { ...plan, hooks: { pre_snapshot: plan.hooks.pre_snapshot.map(hook), post_snapshot: plan.hooks.post_snapshot.map(hook) } };
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
export function summary(plan: ProtectionPlan, file: string): string {
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
    ['checked', 'offline: schema and cross-field checks passed'],
    ['not checked', `online: ${ONLINE_CHECKS}`],
  ];
  return `plan ${plan.name}: valid\n${table(['Field', 'Value'], rows)}`;
}
