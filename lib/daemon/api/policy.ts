// Who may do what through the API: oslo.policy-style rules as data, overridable with a
// policy.yaml file, and the project scoping of plans.
//
// Rules are oslo.policy's language (the subset OpenStack policy files use):
//   role:NAME                      the token has the role (after implied roles are added)
//   rule:NAME                      another rule of this policy
//   is_admin_project:True|False    the token's project is the cloud's admin project
//   system_scope:all               the token is system-scoped
//   project_id:X, project_name:X, project_domain_id:X, user_id:X, user_name:X, domain_id:X
//                                  the token's field equals X, or %(plan)s, %(project)s,
//                                  %(kind)s: the target's field (the plan being acted on)
//   @ (always), ! (never), "" (always), and, or, not, parentheses
// Role names compare case-insensitively, like Keystone's.
//
// Decisions (docs/api.md "Authorization"):
//  - Keystone's default roles imply each other: admin ⊃ member ⊃ reader. Keystone puts implied
//    roles into tokens already; we add them again so a token listing only `admin` still reads.
//  - A project's tokens see only plans whose `project` is their project's ID or name (names
//    match across sites, whose Keystones give the same project different IDs). Plans of
//    another project answer 404, as if absent.
//  - `plans:all_projects` (default: admin of the admin project, or a system-scoped admin) sees
//    every project's plans. A token's admin-project flag comes from Keystone when it sends
//    `is_admin_project` ([resource] admin_project_name set); otherwise the project's name must
//    be one of the configured admin projects (default `admin`). An admin role in any other
//    project is an admin of that project only: the old "admin anywhere is admin everywhere"
//    (Launchpad bug 968696) is not repeated.
import { existsSync } from 'node:fs';
import { ConfigError } from '../../errors.js';
import { parseYamlText, readYamlFile, type YamlSource } from '../../config/yaml-source.js';
import type { Caller } from './auth.js';

// ---- the rules as data ------------------------------------------------------------------------

export interface RuleDefault {
  rule: string;
  description: string;
}

/** Rules other rules build on (oslo's `admin_required` style). */
const BASE_RULES = {
  admin_required: { rule: 'role:admin', description: "the token has Keystone's admin role (in its project)" },
  member_required: { rule: 'role:member', description: 'the token has the member role (admin implies it)' },
  reader_required: { rule: 'role:reader', description: 'the token has the reader role (member and admin imply it)' },
  cloud_admin: { rule: 'role:admin and (is_admin_project:True or system_scope:all)', description: 'an admin of the whole cloud: admin in the admin project, or a system-scoped admin' },
} as const satisfies Record<string, RuleDefault>;

/** The actions the API enforces, with their default rules. */
const ACTION_RULES = {
  'plans:read': { rule: 'rule:reader_required', description: 'GET /v1/plans, GET /v1/plans/{name}' },
  'plans:all_projects': { rule: 'rule:cloud_admin', description: "see every project's plans, points and runs, not only the token's project's" },
  'points:read': { rule: 'rule:reader_required', description: 'GET /v1/plans/{name}/points, GET /v1/points/{id}' },
  'runs:read': { rule: 'rule:reader_required', description: 'GET /v1/runs, GET /v1/runs/{id}, GET /v1/runs/{id}/events' },
  'runs:create:drtest': { rule: 'rule:member_required', description: 'POST /v1/plans/{name}/runs with kind drtest: a non-disruptive DR test' },
  'runs:create:replicate': { rule: 'rule:member_required', description: 'POST /v1/plans/{name}/runs with kind replicate: a replication cycle now' },
  'runs:create:failover': { rule: 'rule:admin_required', description: 'POST /v1/plans/{name}/runs with kind failover' },
  'runs:create:failback': { rule: 'rule:admin_required', description: 'POST /v1/plans/{name}/runs with kind failback' },
  'status:read': { rule: 'rule:reader_required', description: 'GET /v1/status (the plans of the caller, every site)' },
  'metrics:read': { rule: 'rule:cloud_admin', description: "GET /metrics on the API port (every plan's metrics: cloud admins)" },
} as const satisfies Record<string, RuleDefault>;

export type BaseRule = keyof typeof BASE_RULES;
export type PolicyAction = keyof typeof ACTION_RULES;

/** Every rule with its default and meaning; policy.yaml may override any of them. */
export const DEFAULT_RULES: Readonly<Record<BaseRule | PolicyAction, RuleDefault>> = { ...BASE_RULES, ...ACTION_RULES };
export const POLICY_ACTIONS = Object.keys(ACTION_RULES) as PolicyAction[];

/** Keystone's default role implications (keystone-manage bootstrap). */
export const DEFAULT_IMPLIED_ROLES: Readonly<Record<string, readonly string[]>> = { admin: ['member'], member: ['reader'] };

/** What a %(key)s in a rule may name: the target of the action. */
export const TARGET_KEYS = ['plan', 'project', 'kind'] as const;
export type PolicyTarget = Partial<Record<(typeof TARGET_KEYS)[number], string>>;

const CRED_KEYS = ['project_id', 'project_name', 'project_domain_id', 'user_id', 'user_name', 'domain_id'] as const;
type CredKey = (typeof CRED_KEYS)[number];

// ---- the rule language ---------------------------------------------------------------------------

type Check =
  | { kind: 'true' }
  | { kind: 'false' }
  | { kind: 'role'; role: string }
  | { kind: 'rule'; rule: string }
  | { kind: 'is_admin_project'; value: boolean }
  | { kind: 'system_scope'; value: string }
  | { kind: 'cred'; key: CredKey; value: string | { target: string } };

export type RuleExpr = Check | { kind: 'and'; all: RuleExpr[] } | { kind: 'or'; any: RuleExpr[] } | { kind: 'not'; expr: RuleExpr };

/** A rule text that does not parse; `at` is the 1-based column in the rule. */
export class RuleSyntaxError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

interface Tok {
  text: string;
  at: number;
}

/** oslo.policy's tokenizer: words split on spaces, then leading '(' and trailing ')' peeled off (so %(project)s stays whole). */
function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  const re = /\S+/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    let word = m[0];
    let at = m.index + 1;
    while (word.startsWith('(')) {
      out.push({ text: '(', at });
      word = word.slice(1);
      at++;
    }
    let trail = 0;
    while (word.endsWith(')') && !/%\(\w+\)s$/.test(word)) {
      word = word.slice(0, -1);
      trail++;
    }
    if (word) out.push({ text: word, at });
    for (let i = 0; i < trail; i++) out.push({ text: ')', at: at + word.length + i });
  }
  return out;
}

/** Parses one rule text into an expression tree; RuleSyntaxError when it is not a rule. */
export function parseRule(text: string): RuleExpr {
  const toks = tokenize(text);
  if (toks.length === 0) return { kind: 'true' };
  let i = 0;
  const peek = () => toks[i];
  const word = (t: Tok | undefined, w: string) => t !== undefined && t.text.toLowerCase() === w;
  const end = text.length + 1;

  const parseOr = (): RuleExpr => {
    const any = [parseAnd()];
    while (word(peek(), 'or')) {
      i++;
      any.push(parseAnd());
    }
    return any.length === 1 ? any[0]! : { kind: 'or', any };
  };
  const parseAnd = (): RuleExpr => {
    const all = [parseNot()];
    while (word(peek(), 'and')) {
      i++;
      all.push(parseNot());
    }
    return all.length === 1 ? all[0]! : { kind: 'and', all };
  };
  const parseNot = (): RuleExpr => {
    if (word(peek(), 'not')) {
      i++;
      return { kind: 'not', expr: parseNot() };
    }
    return parseAtom();
  };
  const parseAtom = (): RuleExpr => {
    const t = peek();
    if (!t) throw new RuleSyntaxError('the rule ends where a check (e.g. role:member) was expected', end);
    if (t.text === '(') {
      i++;
      const inner = parseOr();
      const close = peek();
      if (close?.text !== ')') throw new RuleSyntaxError(`'(' at column ${t.at} is not closed`, close?.at ?? end);
      i++;
      return inner;
    }
    if (t.text === ')' || word(t, 'and') || word(t, 'or')) throw new RuleSyntaxError(`unexpected '${t.text}' where a check was expected`, t.at);
    i++;
    return parseCheck(t);
  };
  const expr = parseOr();
  const rest = peek();
  if (rest) throw new RuleSyntaxError(`unexpected '${rest.text}' after a complete rule (join checks with 'and' or 'or')`, rest.at);
  return expr;
}

function parseCheck(t: Tok): Check {
  if (t.text === '@') return { kind: 'true' };
  if (t.text === '!') return { kind: 'false' };
  const colon = t.text.indexOf(':');
  if (colon <= 0 || colon === t.text.length - 1) throw new RuleSyntaxError(`'${t.text}' is not a check: write KIND:VALUE, e.g. role:member or rule:admin_required`, t.at);
  const kind = t.text.slice(0, colon);
  const value = t.text.slice(colon + 1);
  switch (kind) {
    case 'role':
      return { kind: 'role', role: value.toLowerCase() };
    case 'rule':
      return { kind: 'rule', rule: value };
    case 'is_admin_project': {
      const v = value.toLowerCase();
      if (v !== 'true' && v !== 'false') throw new RuleSyntaxError(`is_admin_project takes True or False, not '${value}'`, t.at + colon + 1);
      return { kind: 'is_admin_project', value: v === 'true' };
    }
    case 'system_scope':
      return { kind: 'system_scope', value };
    default: {
      if (!(CRED_KEYS as readonly string[]).includes(kind)) {
        throw new RuleSyntaxError(`unknown check '${kind}': use role, rule, is_admin_project, system_scope or one of ${CRED_KEYS.join(', ')}`, t.at);
      }
      const m = /^%\((\w+)\)s$/.exec(value);
      if (m) {
        if (!(TARGET_KEYS as readonly string[]).includes(m[1]!)) throw new RuleSyntaxError(`%(${m[1]})s is not a target field: use ${TARGET_KEYS.map((k) => `%(${k})s`).join(', ')}`, t.at + colon + 1);
        return { kind: 'cred', key: kind as CredKey, value: { target: m[1]! } };
      }
      return { kind: 'cred', key: kind as CredKey, value };
    }
  }
}

/** The rules an expression refers to with rule:NAME. */
function referencedRules(e: RuleExpr, out: string[] = []): string[] {
  if (e.kind === 'rule') out.push(e.rule);
  else if (e.kind === 'and') e.all.forEach((x) => referencedRules(x, out));
  else if (e.kind === 'or') e.any.forEach((x) => referencedRules(x, out));
  else if (e.kind === 'not') referencedRules(e.expr, out);
  return out;
}

// ---- credentials --------------------------------------------------------------------------------

/** What rules are evaluated against: the caller with implied roles added. */
export interface Credentials {
  roles: ReadonlySet<string>;
  isAdminProject: boolean;
  systemScope: string | undefined;
  fields: Partial<Record<CredKey, string>>;
}

/** Adds implied roles (transitively) to a token's roles; names lower-cased. */
export function expandRoles(roles: readonly string[], implied: Readonly<Record<string, readonly string[]>> = DEFAULT_IMPLIED_ROLES): Set<string> {
  const out = new Set<string>();
  const todo = roles.map((r) => r.toLowerCase());
  while (todo.length > 0) {
    const r = todo.pop()!;
    if (out.has(r)) continue;
    out.add(r);
    for (const i of implied[r] ?? []) todo.push(i.toLowerCase());
  }
  return out;
}

// ---- the policy ---------------------------------------------------------------------------------

export interface PolicyOptions {
  /** Role implications (default: admin ⊃ member ⊃ reader). */
  impliedRoles?: Readonly<Record<string, readonly string[]>>;
  /** Project names (or IDs) counted as the cloud's admin project when Keystone does not say (default ['admin']). */
  adminProjects?: readonly string[];
  /** Where overrides came from, for messages (e.g. /etc/ferry/policy.yaml). */
  source?: string;
  /**
   * The Keystone domain (ID) whose project names match a plan's `project` given by name
   * (default `default`). A project of the same name in another domain is another project.
   */
  projectNameDomain?: string;
}

/** A policy decision with the rule that made it, for 403 messages. */
export interface Decision {
  allowed: boolean;
  action: string;
  rule: string;
}

export class Policy {
  private readonly texts: Record<string, string>;
  private readonly parsed = new Map<string, RuleExpr>();
  private readonly implied: Readonly<Record<string, readonly string[]>>;
  private readonly adminProjects: readonly string[];
  private readonly projectNameDomain: string;
  readonly source: string | undefined;
  /** The rule names policy.yaml changed. */
  readonly overridden: readonly string[];

  /**
   * The default rules with `overrides` applied. Throws PolicyError for an unknown rule name,
   * a rule that does not parse, a reference to a missing rule, or a reference cycle.
   */
  constructor(overrides: Readonly<Record<string, string>> = {}, opts: PolicyOptions = {}, locate: (name: string) => string | undefined = () => opts.source) {
    this.implied = opts.impliedRoles ?? DEFAULT_IMPLIED_ROLES;
    this.adminProjects = opts.adminProjects ?? ['admin'];
    this.projectNameDomain = opts.projectNameDomain ?? 'default';
    this.source = opts.source;
    this.texts = Object.fromEntries(Object.entries(DEFAULT_RULES).map(([k, v]) => [k, v.rule]));
    for (const [name, text] of Object.entries(overrides)) {
      if (!(name in DEFAULT_RULES)) {
        const near = nearest(name, Object.keys(DEFAULT_RULES));
        throw new PolicyError(`unknown rule '${name}'`, locate(name), name, near ? `did you mean '${near}'? (every rule: docs/api.md "Authorization")` : 'see docs/api.md "Authorization" for the rule names');
      }
      this.texts[name] = text;
    }
    this.overridden = Object.keys(overrides);
    for (const [name, text] of Object.entries(this.texts)) {
      try {
        this.parsed.set(name, parseRule(text));
      } catch (err) {
        if (!(err instanceof RuleSyntaxError)) throw err;
        throw new PolicyError(`rule '${text}' column ${err.at}: ${err.message}`, locate(name), name, 'write it in oslo.policy syntax, e.g. "role:admin or (role:member and project_name:%(project)s)"');
      }
    }
    this.checkReferences(locate);
  }

  private checkReferences(locate: (name: string) => string | undefined): void {
    for (const [name, expr] of this.parsed) {
      for (const ref of referencedRules(expr)) {
        if (!this.parsed.has(ref)) throw new PolicyError(`rule:${ref} names no rule`, locate(name), name, `use one of ${[...this.parsed.keys()].join(', ')}`);
      }
    }
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, path: string[]): void => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'visiting') {
        const cycle = [...path.slice(path.indexOf(name)), name];
        throw new PolicyError(`rules refer to each other in a cycle: ${cycle.join(' → ')}`, locate(path[0]!), path[0], 'break the cycle: one of them must not use rule: to reach the others');
      }
      state.set(name, 'visiting');
      for (const ref of referencedRules(this.parsed.get(name)!)) visit(ref, [...path, name]);
      state.set(name, 'done');
    };
    for (const name of this.parsed.keys()) visit(name, []);
  }

  /** The rule text in force for a rule name. */
  rule(name: string): string {
    return this.texts[name] ?? '!';
  }

  /** Every rule in force (defaults with overrides). */
  rules(): Readonly<Record<string, string>> {
    return { ...this.texts };
  }

  /** The caller's credentials as rules see them. */
  credentials(caller: Caller): Credentials {
    const fields: Partial<Record<CredKey, string>> = {};
    const put = (k: CredKey, v: string | undefined) => {
      if (v !== undefined) fields[k] = v;
    };
    put('project_id', caller.projectId);
    put('project_name', caller.projectName);
    put('project_domain_id', caller.projectDomainId);
    put('user_id', caller.userId);
    put('user_name', caller.userName);
    put('domain_id', caller.domainId);
    const isAdminProject =
      caller.isAdminProject ?? ((caller.projectName !== undefined && this.adminProjects.includes(caller.projectName)) || (caller.projectId !== undefined && this.adminProjects.includes(caller.projectId)));
    return { roles: expandRoles(caller.roles, this.implied), isAdminProject, systemScope: caller.systemScope, fields };
  }

  /** Decides `action` for the caller on `target`; unknown actions are denied. */
  decide(action: PolicyAction | BaseRule, caller: Caller, target: PolicyTarget = {}): Decision {
    const expr = this.parsed.get(action);
    const allowed = expr !== undefined && evaluate(expr, this.credentials(caller), target, (name) => this.parsed.get(name));
    return { allowed, action, rule: this.rule(action) };
  }

  enforce(action: PolicyAction | BaseRule, caller: Caller, target: PolicyTarget = {}): boolean {
    return this.decide(action, caller, target).allowed;
  }

  /**
   * True when the caller may see a plan of `project`: its own project by ID, or by name when
   * the token's project is in the name domain (`projectNameDomain`), or every project with
   * plans:all_projects.
   */
  canSeeProject(caller: Caller, project: string): boolean {
    if (caller.projectId !== undefined && project === caller.projectId) return true;
    // A name is unique only within its domain: it matches only a project of the name domain.
    if (caller.projectName !== undefined && project === caller.projectName && caller.projectDomainId === this.projectNameDomain) return true;
    return this.enforce('plans:all_projects', caller, { project });
  }

  /** True when the caller sees every project's plans. */
  seesAllProjects(caller: Caller): boolean {
    return this.enforce('plans:all_projects', caller);
  }
}

function evaluate(e: RuleExpr, creds: Credentials, target: PolicyTarget, rule: (name: string) => RuleExpr | undefined): boolean {
  switch (e.kind) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'role':
      return creds.roles.has(e.role);
    case 'rule': {
      const r = rule(e.rule);
      return r !== undefined && evaluate(r, creds, target, rule);
    }
    case 'is_admin_project':
      return creds.isAdminProject === e.value;
    case 'system_scope':
      return creds.systemScope !== undefined && creds.systemScope === e.value;
    case 'cred': {
      const have = creds.fields[e.key];
      const want = typeof e.value === 'string' ? e.value : target[e.value.target as keyof PolicyTarget];
      return have !== undefined && want !== undefined && have === want;
    }
    case 'and':
      return e.all.every((x) => evaluate(x, creds, target, rule));
    case 'or':
      return e.any.some((x) => evaluate(x, creds, target, rule));
    case 'not':
      return !evaluate(e.expr, creds, target, rule);
  }
}

// ---- policy.yaml ------------------------------------------------------------------------------

/** A policy file that cannot be used: names the file (and line), the rule and the fix. */
export class PolicyError extends ConfigError {
  override readonly name: string = 'PolicyError';
}

/**
 * Reads a policy.yaml (or .json): a mapping of rule name to rule text, over the defaults. With
 * `optional`, a file that does not exist means the defaults (the daemon's [oslo_policy]
 * policy_file); any other problem is a PolicyError (or ConfigError) naming the file.
 */
export function loadPolicyFile(file: string, opts: Omit<PolicyOptions, 'source'> & { optional?: boolean } = {}): Policy {
  const { optional, ...rest } = opts;
  if (optional && !existsSync(file)) return new Policy({}, rest);
  return policyFromSource(readYamlFile(file), rest);
}

/** Like loadPolicyFile, from text (tests, and policy given inline). */
export function parsePolicyText(text: string, file: string, opts: Omit<PolicyOptions, 'source'> = {}): Policy {
  return policyFromSource(parseYamlText(text, file), opts);
}

function policyFromSource(src: YamlSource, opts: Omit<PolicyOptions, 'source'>): Policy {
  const data = src.data;
  if (data === null || data === undefined) return new Policy({}, { ...opts, source: src.file });
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new PolicyError('a policy file is a mapping of rule names to rules', src.file, undefined, 'write lines like  "runs:create:drtest": "role:member"');
  }
  const rules: Record<string, string> = {};
  for (const [name, value] of Object.entries(data as Record<string, unknown>)) {
    if (typeof value !== 'string') {
      throw new PolicyError(`the rule must be a string, not ${value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value}`, src.locate([name]), name, 'quote it, e.g. "role:admin"');
    }
    rules[name] = value;
  }
  return new Policy(rules, { ...opts, source: src.file }, (name) => src.locateKey([name]));
}

/** A commented policy.yaml with every rule at its default (like oslopolicy-sample-generator). */
export function samplePolicyYaml(): string {
  const lines = ['# Ferry API policy. Uncomment and change a rule to override its default.', '# Syntax: oslo.policy (docs/api.md "Authorization").', ''];
  for (const [name, d] of Object.entries(DEFAULT_RULES)) {
    lines.push(`# ${d.description}`, `#"${name}": "${d.rule}"`, '');
  }
  return lines.join('\n');
}

function nearest(name: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const d = editDistance(name, n);
    if (d < bestD) {
      bestD = d;
      best = n;
    }
  }
  return bestD <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}
