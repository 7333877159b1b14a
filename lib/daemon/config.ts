// The daemon's configuration: /etc/ferry/ferry.conf, INI in the oslo.config style, read with
// `ini` and typed with zod. Every option is declared once below (type, default, help); the
// schema, the defaults, the error messages and `ferry config sample` all come from that.
//
// Decisions:
//  - Names are the file's (`[health] probe_interval`), kept in the parsed object too, so one
//    name appears in the file, the docs, the errors and the code. Durations are given in
//    seconds (`30`) or with units (`5m`, `1h30m`) and parsed to `{ ms, text }`.
//  - oslo.config semantics where `ini` differs: no inline comments (`ini` cuts a value at ';'
//    or '#': we warn, without showing the value, since it is usually a password), `$opt` and
//    `${section.opt}` substitution with `$$` for a literal '$', no key outside a section.
//  - An unknown section or key is a warning (with the closest known name), not an error:
//    deployment tools add sections of their own, and oslo.config ignores them too. A bad value
//    is an error naming the file and line, the section and key, and the fix; all errors of a
//    file are reported at once.
//  - `[drtest_schedule]` is free-form: `PLAN = CRON` (croner syntax, 5 or 6 fields).
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Cron } from 'croner';
import ini from 'ini';
import { z } from 'zod';
import { parseCatalogUrl, redactCatalogUrl } from '../catalog/db.js';
import { closest, formatDuration, parseDuration } from '../config/protection-plan.js';
import { ConfigError } from '../errors.js';

export const DEFAULT_CONFIG_FILE = '/etc/ferry/ferry.conf';

/** A duration option: milliseconds, and the text it was given as. */
export interface Duration {
  ms: number;
  text: string;
}

// ---- option declarations -------------------------------------------------------------

export type OptionType = 'string' | 'boolean' | 'integer' | 'seconds' | 'path' | 'url' | 'list' | 'choice' | 'port';

/** What the sample and the docs say about an option. */
export interface OptionDoc {
  type: OptionType;
  help: string;
  /** The default as written in ferry.conf (substitutions allowed); absent: unset by default. */
  default?: string;
  /** Shown in the sample instead of the default (computed defaults such as the host name). */
  sample?: string;
  /** Never shown in messages (URLs with passwords or tokens). */
  secret?: boolean;
  min?: number;
  max?: number;
  choices?: readonly (readonly [value: string, meaning: string])[];
}

interface Problem {
  problem: string;
  fix: string;
}

const isProblem = (v: unknown): v is Problem => typeof v === 'object' && v !== null && 'problem' in v && 'fix' in v;

type Opt<T> = z.ZodType<T, string | undefined>;

const OPTION_META = 'ferry';

function option<T>(doc: OptionDoc, parse: (text: string) => T | Problem): z.ZodType<T, string | undefined> {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const text = raw ?? doc.default;
      if (text === undefined) return undefined as T;
      const v = parse(text);
      if (isProblem(v)) {
        ctx.addIssue({ code: 'custom', message: v.problem, params: { fix: v.fix } });
        return z.NEVER;
      }
      return v;
    })
    .meta({ description: doc.help, [OPTION_META]: doc }) as unknown as z.ZodType<T, string | undefined>;
}

const shown = (doc: OptionDoc, text: string) => (doc.secret ? 'the value given' : `'${text}'`);

function str(doc: Omit<OptionDoc, 'type'> & { default: string; type?: 'string' | 'path' | 'url' }): Opt<string>;
function str(doc: Omit<OptionDoc, 'type'> & { type?: 'string' | 'path' | 'url' }): Opt<string | undefined>;
function str(doc: Omit<OptionDoc, 'type'> & { type?: 'string' | 'path' | 'url' }): Opt<string | undefined> {
  const d: OptionDoc = { ...doc, type: doc.type ?? 'string' };
  return option<string | undefined>(d, (text) => {
    const t = text.trim();
    if (t === '') return undefined;
    if (d.type === 'path' && !t.startsWith('/')) return { problem: `must be an absolute path, got ${shown(d, t)}`, fix: 'write a path starting with /' };
    if (d.type === 'url' && !/^https?:\/\/[^\s/]+/.test(t)) return { problem: `must be an http(s) URL, got ${d.secret ? 'something else' : `'${t}'`}`, fix: 'write e.g. https://hooks.example.com/ferry' };
    return t;
  });
}

const TRUE = ['true', 'yes', 'on', '1'];
const FALSE = ['false', 'no', 'off', '0'];

function bool(doc: Omit<OptionDoc, 'type'> & { default: string }): Opt<boolean> {
  const d: OptionDoc = { ...doc, type: 'boolean' };
  return option<boolean>(d, (text) => {
    const t = text.trim().toLowerCase();
    if (TRUE.includes(t)) return true;
    if (FALSE.includes(t)) return false;
    return { problem: `must be true or false, got '${text.trim()}'`, fix: 'write true or false (yes/no, on/off, 1/0 also work)' };
  });
}

function int(doc: Omit<OptionDoc, 'type'> & { default: string; type?: 'integer' | 'port' }): Opt<number> {
  const d: OptionDoc = { ...doc, type: doc.type ?? 'integer' };
  const min = d.min ?? Number.MIN_SAFE_INTEGER;
  const max = d.max ?? Number.MAX_SAFE_INTEGER;
  const range = d.max !== undefined ? `from ${min} to ${max}` : `of at least ${min}`;
  return option<number>(d, (text) => {
    const t = text.trim();
    if (!/^-?\d+$/.test(t)) return { problem: `must be a whole number, got '${t}'`, fix: `write a whole number ${range}` };
    const n = Number(t);
    if (n < min || n > max) return { problem: `must be ${range}, got ${n}`, fix: `write a whole number ${range}` };
    return n;
  });
}

/** Seconds as a number (`30`, `0.5`) or a duration with units (`5m`, `1h30m`). */
export function parseSeconds(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  return parseDuration(t);
}

function seconds(doc: Omit<OptionDoc, 'type'> & { default: string }): Opt<Duration> {
  const d: OptionDoc = { ...doc, type: 'seconds' };
  const minMs = (d.min ?? 0) * 1000;
  return option<Duration>(d, (text) => {
    const t = text.trim();
    const ms = parseSeconds(t);
    if (ms === undefined) return { problem: `must be a number of seconds or a duration, got '${t}'`, fix: 'write e.g. 30 (seconds), 5m or 1h30m' };
    if (ms < minMs) return { problem: `must be at least ${d.min} s, got '${t}'`, fix: `write ${d.min} or more (seconds)` };
    return { ms, text: t };
  });
}

function list(doc: Omit<OptionDoc, 'type'> & { default: string }): Opt<string[]> {
  const d: OptionDoc = { ...doc, type: 'list' };
  return option<string[]>(d, (text) =>
    text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
}

function choice<const V extends string>(doc: Omit<OptionDoc, 'type' | 'choices'> & { default: V; choices: readonly (readonly [V, string])[] }): Opt<V> {
  const d: OptionDoc = { ...doc, type: 'choice' };
  const values = doc.choices.map(([v]) => v);
  return option<V>(d, (text) => {
    const t = text.trim();
    if ((values as string[]).includes(t)) return t as V;
    const near = closest(t, values);
    return { problem: `must be one of ${values.join(', ')}, got '${t}'${near ? ` (did you mean '${near}'?)` : ''}`, fix: `write one of ${values.join(', ')}` };
  });
}

// ---- the options ---------------------------------------------------------------------

const DEFAULT = z.object({
  host: str({
    default: hostname(),
    sample: '<this machine\'s host name>',
    help: 'Name of this daemon in log lines, in the owner of the runs it drives and in the leader lease. Daemons sharing a database must have different names (a process ID is added to it).',
  }),
  state_path: str({ type: 'path', default: '/var/lib/ferry', help: "Directory for the daemon's state: the SQLite catalog by default. Other options refer to it as $state_path." }),
  clouds_file: str({
    type: 'path',
    help: 'The clouds.yaml that names the sites (and their credentials). Unset: the openstacksdk search (./clouds.yaml, ~/.config/openstack/, /etc/openstack/); secure.yaml beside it is merged as usual.',
  }),
  graceful_shutdown_timeout: seconds({
    default: '60',
    min: 1,
    help: 'On SIGTERM the daemon stops scheduling and interrupts its runs at their next journal boundary (they resume later, here or on another daemon). This is how long it waits for them before it exits anyway.',
  }),
});

const database = z.object({
  connection: str({
    default: 'sqlite://$state_path/catalog.db',
    secret: true,
    help: 'The catalog: sqlite:///ABSOLUTE/PATH (one daemon), or mysql+pymysql://USER:PASSWORD@HOST/DB (MariaDB/MySQL, also mysql:// and mariadb://) for several daemons with leader election. Write $$ for a $ in a password.',
  }),
  max_pool_size: int({ default: '10', min: 1, max: 1000, help: 'Connections kept open to MariaDB/MySQL.' }),
});

const coordination = z.object({
  lease_duration: seconds({
    default: '15',
    min: 1,
    help: 'Leader election through the catalog: a daemon takes over the leader lease when the leader has not renewed it for this long (by the taker\'s own clock), so a killed leader is replaced within about this time. The leader itself steps down when it could not renew for two thirds of it.',
  }),
  heartbeat_interval: seconds({ default: '2', min: 0.1, help: 'How often every daemon renews or checks the leader lease. At most a third of lease_duration.' }),
});

const scheduler = z.object({
  enabled: bool({ default: 'true', help: 'Run replication cycles and scheduled DR tests, and continue the runs a stopped daemon left. Only the leader does; followers stand by.' }),
  tick_interval: seconds({ default: '10', min: 0.1, help: 'How often the leader looks for plans whose cycle or DR test is due.' }),
  max_concurrent_cycles: int({ default: '4', min: 1, max: 1000, help: 'Replication cycles running at once (one per plan at most).' }),
  max_jitter: seconds({
    default: '5m',
    help: "Cycles of different plans are spread by a fixed per-plan offset of up to this, and never more than a tenth of the plan's cycle interval (RPO/2). The offset makes a cycle start earlier, never later, so it never costs RPO.",
  }),
  failure_backoff: seconds({ default: '60', help: 'After a failed (or partial) cycle the next one waits this long, doubled for each further failure in a row.' }),
  max_failure_backoff: seconds({ default: '30m', help: 'The longest wait between failed cycles.' }),
});

const drtest = z.object({
  enabled: bool({ default: 'true', help: 'Start the DR tests scheduled in [drtest_schedule].' }),
  timezone: str({ default: 'UTC', help: 'Time zone of the cron expressions in [drtest_schedule] (an IANA name such as Europe/Berlin).' }),
  report_dir: str({
    type: 'path',
    default: '$state_path/reports',
    help: "Where the DR tests the daemon runs (scheduled, or started through the API) write their JSON and HTML reports.",
  }),
  misfire_grace: seconds({
    default: '1h',
    help: 'A scheduled DR test missed while no daemon was leader is started late when no more than this has passed since its time; older ones are skipped (logged).',
  }),
});

const health = z.object({
  enabled: bool({ default: 'true', help: "Probe every plan's sites (Keystone, Nova, Cinder, Heat, the object store)." }),
  probe_interval: seconds({ default: '30', min: 1, help: 'Time between probe rounds.' }),
  probe_timeout: seconds({ default: '10', min: 0.1, help: 'Time allowed for each probe request (no retries). Less than probe_interval.' }),
  failure_threshold: int({ default: '3', min: 1, max: 100, help: 'Failed probes in a row after which a service counts as down.' }),
  success_threshold: int({ default: '2', min: 1, max: 100, help: 'Successful probes in a row after which a down (or new) service counts as up.' }),
  sites: list({ default: '', help: "Clouds (from clouds.yaml) probed in addition to the plans' sites, comma-separated." }),
  webhook_url: str({
    type: 'url',
    secret: true,
    help: 'Optional: POSTed a JSON document whenever a site changes status (up, degraded, down), by the leader only. Failover stays a human decision: the document says when one is advised.',
  }),
  webhook_timeout: seconds({ default: '10', min: 0.1, help: 'Time allowed for a webhook POST.' }),
});

const api = z.object({
  enabled: bool({
    default: 'false',
    help: 'Serve the REST API (/v1), /healthz and /metrics (with a token) on bind_host:bind_port. Off by default because it needs [keystone_authtoken] cloud (or auth_strategy = noauth).',
  }),
  bind_host: str({ default: '0.0.0.0', help: 'Address the API listens on.' }),
  bind_port: int({ type: 'port', default: '8797', min: 1, max: 65535, help: 'Port the API listens on.' }),
  auth_strategy: choice({
    default: 'keystone',
    choices: [
      ['keystone', 'callers present a Keystone token, validated as [keystone_authtoken] says'],
      ['noauth', 'no authentication: every caller is an admin (tests and labs only)'],
    ],
    help: 'How API callers are authenticated.',
  }),
  metrics_access: choice({
    default: 'token',
    choices: [
      ['token', 'GET /metrics on the API port needs a token allowed metrics:read (cloud admins by default)'],
      ['public', 'GET /metrics on the API port needs no token'],
      ['off', 'the API port does not serve /metrics (use [metrics])'],
    ],
    help: 'Who may read /metrics on the API port. Prometheus is best pointed at the [metrics] listener instead.',
  }),
});

const metrics = z.object({
  enabled: bool({ default: 'false', help: 'Serve GET /metrics (Prometheus) without a token on a listener of its own, for Prometheus (it cannot present Keystone tokens).' }),
  bind_host: str({ default: '127.0.0.1', help: 'Address of the metrics listener: localhost or a management network (the metrics name every plan).' }),
  bind_port: int({ type: 'port', default: '8798', min: 1, max: 65535, help: 'Port of the metrics listener.' }),
  process_metrics: bool({ default: 'false', help: 'Add the Node.js process metrics (process_*, nodejs_*).' }),
});

const keystone_authtoken = z.object({
  cloud: str({
    help: "The cloud in clouds.yaml whose Keystone validates the tokens API callers present. Its credentials must be allowed to validate tokens (the service or admin role); an application credential is best. Required when [api] auth_strategy = keystone.",
  }),
  token_cache_time: seconds({ default: '60', help: 'How long a validated token is trusted before Keystone is asked again (0: always ask).' }),
  project_name_domain: str({
    default: 'default',
    help: "A plan whose project is given by name is seen by tokens of the project of that name in this Keystone domain (its ID); a token's project ID always matches. Names are unique only within a domain.",
  }),
});

const oslo_policy = z.object({
  policy_file: str({ type: 'path', default: '/etc/ferry/policy.yaml', help: 'Rules overriding the default API policy (reader reads, member runs DR tests, admin fails over and back); a missing file means the defaults.' }),
});

const logging = z.object({
  debug: bool({ default: 'false', help: 'Log at debug level (HTTP requests, secrets redacted).' }),
  use_json: bool({ default: 'false', help: "Write JSON documents (oslo.log's JSON formatter fields) instead of oslo.log text lines." }),
  log_file: str({ type: 'path', help: 'Also write the log to this file. Unset: standard error only (journald under systemd).' }),
  use_stderr: bool({ default: 'true', help: 'Write the log to standard error.' }),
});

/** The sections, in the order the sample prints them. */
export const CONFIG_SECTIONS = { DEFAULT, database, coordination, scheduler, drtest, health, api, metrics, keystone_authtoken, oslo_policy, logging } as const;
export type SectionName = keyof typeof CONFIG_SECTIONS;

/** The free-form section of DR test schedules: PLAN = CRON. */
export const DRTEST_SCHEDULE_SECTION = 'drtest_schedule';

const DaemonConfigSchema = z.object(CONFIG_SECTIONS);

export type DaemonConfig = z.output<typeof DaemonConfigSchema> & {
  /** Plan name → cron expression, from [drtest_schedule]. */
  drtest_schedule: Record<string, string>;
};

// ---- errors ------------------------------------------------------------------------------

/** One problem in the file. */
export interface ConfigIssue {
  file: string;
  line?: number;
  section: string;
  /** Absent for a problem with a whole section. */
  key?: string;
  message: string;
  fix?: string;
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line !== undefined ? `${i.file}:${i.line}` : i.file;
  const key = i.key !== undefined ? `key '[${i.section}] ${i.key}'` : `section [${i.section}]`;
  return `${where}: ${key}: ${i.message}${i.fix ? ` (fix: ${i.fix})` : ''}`;
}

/** The file has errors; `issues` holds every one, the message lists them. */
export class DaemonConfigError extends ConfigError {
  override readonly name: string = 'DaemonConfigError';
  constructor(
    readonly issues: ConfigIssue[],
    /** The warnings of the same file (an unknown section often explains a missing value). */
    readonly warnings: string[] = [],
  ) {
    const first = issues[0]!;
    super(first.message, first.line !== undefined ? `${first.file}:${first.line}` : first.file, first.key !== undefined ? `[${first.section}] ${first.key}` : `[${first.section}]`, first.fix);
    if (issues.length > 1) this.message = `${issues.length} problems in ${first.file}:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`;
  }
}

// ---- reading -----------------------------------------------------------------------------

export interface LoadedConfig {
  config: DaemonConfig;
  /** The file read; undefined when none existed and the defaults are used. */
  file: string | undefined;
  /** Unknown sections and keys, repeated keys, values cut by comments: worth a log line each. */
  warnings: string[];
}

interface Located {
  line: number;
  /** The text after '=' as written (before ini's unquoting and comment cutting). */
  raw: string;
}

interface Scan {
  sections: Map<string, number>;
  keys: Map<string, Map<string, Located>>;
  outside: { key: string; line: number }[];
  noValue: { section: string; key: string; line: number }[];
  repeated: { section: string; key: string; lines: number[] }[];
}

/** Where each section and key is, as ini reads the lines (the last occurrence wins). */
function scanLines(text: string): Scan {
  const scan: Scan = { sections: new Map(), keys: new Map(), outside: [], noValue: [], repeated: [] };
  let section: string | undefined;
  const seen = new Map<string, number[]>();
  text.split(/\r?\n/).forEach((line, i) => {
    const n = i + 1;
    if (/^\s*([;#].*)?$/.test(line)) return;
    const head = /^\[([^\]]*)\]\s*$/.exec(line);
    if (head) {
      section = head[1]!.trim();
      if (!scan.sections.has(section)) scan.sections.set(section, n);
      return;
    }
    const kv = /^([^=]+?)\s*(=(.*))?$/.exec(line);
    if (!kv) return;
    const key = kv[1]!.trim();
    if (section === undefined) {
      scan.outside.push({ key, line: n });
      return;
    }
    if (kv[2] === undefined) scan.noValue.push({ section, key, line: n });
    const id = `${section}\u0000${key}`;
    seen.set(id, [...(seen.get(id) ?? []), n]);
    let keys = scan.keys.get(section);
    if (!keys) scan.keys.set(section, (keys = new Map()));
    keys.set(key, { line: n, raw: (kv[3] ?? '').trim() });
  });
  for (const [id, lines] of seen) {
    if (lines.length < 2) continue;
    const [section, key] = id.split('\u0000') as [string, string];
    scan.repeated.push({ section, key, lines });
  }
  return scan;
}

const isQuoted = (s: string) => s.length >= 2 && ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'")));

/**
 * Replaces `$opt` (an option of [DEFAULT]), `${opt}` and `${section.opt}` with that option's
 * value (from the file, else its default), and `$$` with `$`, as oslo.config does.
 */
function interpolate(text: string, lookup: (section: string, key: string) => string | undefined, depth = 0): string | Problem {
  if (!text.includes('$')) return text;
  if (depth > 10) return { problem: 'has substitutions nested more than 10 deep (or a loop)', fix: 'check the $references between options' };
  let problem: Problem | undefined;
  const out = text.replace(/\$(\$|\{([A-Za-z_][\w]*)(?:\.([A-Za-z_][\w]*))?\}|([A-Za-z_]\w*))/g, (whole, dollar: string, braced: string | undefined, bracedKey: string | undefined, bare: string | undefined) => {
    if (dollar === '$') return '$';
    const [section, key] = braced !== undefined ? (bracedKey !== undefined ? [braced, bracedKey] : ['DEFAULT', braced]) : ['DEFAULT', bare!];
    const value = lookup(section, key);
    if (value === undefined) {
      problem ??= { problem: `refers to ${whole}, which is not an option with a value`, fix: `name an option of [${section}] that is set, or write $$ for a literal $` };
      return whole;
    }
    const inner = interpolate(value, lookup, depth + 1);
    if (isProblem(inner)) {
      problem ??= inner;
      return whole;
    }
    return inner;
  });
  return problem ?? out;
}

function optionDoc(section: SectionName, key: string): OptionDoc | undefined {
  const schema = (CONFIG_SECTIONS[section].shape as Record<string, z.ZodType>)[key];
  return schema ? ((schema.meta() as Record<string, unknown> | undefined)?.[OPTION_META] as OptionDoc | undefined) : undefined;
}

const sectionNames = Object.keys(CONFIG_SECTIONS) as SectionName[];
const keysOf = (section: SectionName) => Object.keys(CONFIG_SECTIONS[section].shape);

/** Parses ferry.conf text; `file` names it in messages. Throws DaemonConfigError. */
export function parseDaemonConfig(text: string, file: string): LoadedConfig {
  const scan = scanLines(text);
  const parsed = ini.parse(text) as Record<string, unknown>;
  const issues: ConfigIssue[] = [];
  const warned: { line: number; text: string }[] = [];
  const lineOf = (section: string, key?: string) => (key === undefined ? scan.sections.get(section) : scan.keys.get(section)?.get(key)?.line);
  const issue = (section: string, key: string | undefined, message: string, fix?: string) =>
    issues.push({ file, ...(lineOf(section, key) !== undefined ? { line: lineOf(section, key) } : {}), section, ...(key !== undefined ? { key } : {}), message, ...(fix ? { fix } : {}) });
  const warn = (section: string, key: string | undefined, message: string) => {
    const line = lineOf(section, key);
    warned.push({ line: line ?? 0, text: `${line !== undefined ? `${file}:${line}` : file}: ${key !== undefined ? `key '[${section}] ${key}'` : `section [${section}]`}: ${message}` });
  };

  for (const o of scan.outside) {
    issues.push({ file, line: o.line, section: '(none)', key: o.key, message: 'is outside any section', fix: 'put it under the section it belongs to, e.g. [DEFAULT]' });
  }
  for (const r of scan.repeated) warn(r.section, r.key, `is set ${r.lines.length} times (lines ${r.lines.join(', ')}); the last one is used`);

  // Raw text per section and key: strings only (ini turns `true` into a boolean and a key
  // without '=' into `true`; a dotted section name nests an object, reported as unknown).
  const raw = new Map<string, Map<string, string>>();
  for (const [section, keys] of scan.keys) {
    const values = parsed[section];
    const m = new Map<string, string>();
    for (const [key, where] of keys) {
      const v = values && typeof values === 'object' ? (values as Record<string, unknown>)[key] : undefined;
      if (v === undefined || typeof v === 'object') continue;
      m.set(key, scan.noValue.some((n) => n.section === section && n.key === key) ? '' : String(v));
      if (!isQuoted(where.raw) && /(^|[^\\])[;#]/.test(where.raw)) {
        warn(section, key, "has ';' or '#' in its value: ini reads the rest of the line as a comment and drops it (oslo.config would keep it); if it belongs to the value (a password), escape it as \\; or \\#, or put the whole value in double quotes");
      }
    }
    raw.set(section, m);
  }
  for (const n of scan.noValue) {
    if (sectionNames.includes(n.section as SectionName) && keysOf(n.section as SectionName).includes(n.key)) {
      issue(n.section, n.key, "has no '=' and no value", `write ${n.key} = VALUE, or remove the line for the default`);
    }
  }

  // Unknown sections and keys: warnings with the closest known name.
  for (const section of scan.sections.keys()) {
    if (section === DRTEST_SCHEDULE_SECTION || sectionNames.includes(section as SectionName)) continue;
    const near = closest(section, [...sectionNames, DRTEST_SCHEDULE_SECTION]);
    warn(section, undefined, `is not a Ferry section and is ignored${near ? ` (did you mean [${near}]?)` : ''}`);
  }
  for (const section of sectionNames) {
    for (const key of raw.get(section)?.keys() ?? []) {
      if (keysOf(section).includes(key)) continue;
      const near = closest(key, keysOf(section));
      const elsewhere = sectionNames.find((s) => s !== section && keysOf(s).includes(key));
      warn(section, key, `is not an option of [${section}] and is ignored${near ? ` (did you mean '${near}'?)` : elsewhere ? ` (it belongs in [${elsewhere}])` : ''}`);
    }
  }

  // Substitutions, then the typed parse.
  // An empty value means the default (`clouds_file =` in a sample-derived file).
  const lookup = (section: string, key: string): string | undefined => {
    const v = raw.get(section)?.get(key);
    if (v !== undefined && v.trim() !== '') return v;
    return sectionNames.includes(section as SectionName) ? optionDoc(section as SectionName, key)?.default : undefined;
  };
  const input: Record<string, Record<string, string>> = {};
  for (const section of sectionNames) {
    input[section] = {};
    for (const key of keysOf(section)) {
      const text = lookup(section, key);
      if (text === undefined || text.trim() === '') continue;
      const v = interpolate(text, lookup);
      if (isProblem(v)) issue(section, key, v.problem, v.fix);
      else input[section][key] = v;
    }
  }
  const result = DaemonConfigSchema.safeParse(input);
  if (!result.success) {
    for (const iss of result.error.issues) {
      const [section, key] = iss.path.map(String) as [string, string | undefined];
      const fix = (iss as { params?: { fix?: string } }).params?.fix;
      issue(section, key, iss.message, fix);
    }
  }

  // [drtest_schedule]: PLAN = CRON, each expression checked by croner in the configured zone.
  const schedule: Record<string, string> = {};
  const timezone = result.success ? result.data.drtest.timezone : 'UTC';
  if (result.success && !validTimezone(timezone)) issue('drtest', 'timezone', `'${timezone}' is not a time zone this system knows`, 'write an IANA name such as UTC or Europe/Berlin');
  for (const [plan, expr] of raw.get(DRTEST_SCHEDULE_SECTION) ?? []) {
    const e = expr.trim();
    const problem = cronProblem(e, validTimezone(timezone) ? timezone : 'UTC');
    if (problem) issue(DRTEST_SCHEDULE_SECTION, plan, problem, "write 5 fields 'MIN HOUR DAY MONTH WEEKDAY' (or 6 with seconds first), e.g. '0 3 * * SUN' for Sundays at 03:00");
    else schedule[plan] = e;
  }

  if (result.success) crossChecks(result.data, issue);
  const warnings = warned.sort((a, b) => a.line - b.line).map((w) => w.text);
  if (issues.length > 0) {
    issues.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
    throw new DaemonConfigError(issues, warnings);
  }
  return { config: { ...result.data!, drtest_schedule: schedule }, file, warnings };
}

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Why croner refuses the expression, or undefined when it is fine. */
export function cronProblem(expr: string, timezone = 'UTC'): string | undefined {
  if (expr === '') return 'has no cron expression';
  try {
    const c = new Cron(expr, { timezone, paused: true });
    const next = c.nextRun();
    c.stop();
    if (next === null) return `'${expr}' never fires`;
    return undefined;
  } catch (err) {
    return `'${expr}' is not a cron expression: ${(err instanceof Error ? err.message : String(err)).replace(/^CronPattern: /, '').replace(/\.$/, '')}`;
  }
}

type IssueFn = (section: string, key: string | undefined, message: string, fix?: string) => void;

function crossChecks(c: z.output<typeof DaemonConfigSchema>, issue: IssueFn): void {
  try {
    parseCatalogUrl(c.database.connection, { option: '[database] connection' });
  } catch (err) {
    const e = err as ConfigError;
    // ConfigError's message carries "key '…': " and "(fix: …)"; keep the middle, pass the fix on.
    const text = e.message.replace(/^key '[^']*': /, '').replace(/ \(fix: .*\)$/, '');
    issue('database', 'connection', text, e.fix);
  }
  if (c.coordination.heartbeat_interval.ms * 3 > c.coordination.lease_duration.ms) {
    issue(
      'coordination',
      'heartbeat_interval',
      `is ${c.coordination.heartbeat_interval.text}, more than a third of lease_duration (${c.coordination.lease_duration.text}): the leader could lose its lease between two renewals`,
      `set heartbeat_interval to ${formatDuration(Math.floor(c.coordination.lease_duration.ms / 3))} or less, or raise lease_duration`,
    );
  }
  if (c.health.probe_timeout.ms >= c.health.probe_interval.ms) {
    issue('health', 'probe_timeout', `is ${c.health.probe_timeout.text}, not less than probe_interval (${c.health.probe_interval.text})`, 'make probe_timeout shorter than probe_interval');
  }
  if (c.scheduler.max_failure_backoff.ms < c.scheduler.failure_backoff.ms) {
    issue('scheduler', 'max_failure_backoff', `is ${c.scheduler.max_failure_backoff.text}, less than failure_backoff (${c.scheduler.failure_backoff.text})`, 'make max_failure_backoff at least failure_backoff');
  }
  if (!c.logging.use_stderr && !c.logging.log_file) {
    issue('logging', 'use_stderr', 'is false and no log_file is set: the daemon would log nowhere', 'set log_file, or use_stderr = true');
  }
  if (c.api.enabled && c.metrics.enabled && c.api.bind_port === c.metrics.bind_port) {
    issue('metrics', 'bind_port', `is ${c.metrics.bind_port}, the port of the API too ([api] bind_port)`, 'give the metrics listener a port of its own (default 8798)');
  }
  if (c.api.enabled && c.api.auth_strategy === 'keystone' && !c.keystone_authtoken.cloud) {
    issue(
      'keystone_authtoken',
      'cloud',
      'is not set, and the API authenticates callers with Keystone ([api] auth_strategy = keystone)',
      'name the cloud in clouds.yaml whose Keystone validates tokens, or set [api] enabled = false',
    );
  }
}

/**
 * Reads the daemon's configuration. With no `file`, /etc/ferry/ferry.conf is read when it
 * exists and the defaults are used when it does not; a named file must exist.
 */
export function readDaemonConfig(file?: string): LoadedConfig {
  const path = file ?? DEFAULT_CONFIG_FILE;
  if (!existsSync(path)) {
    if (file !== undefined) throw new ConfigError('does not exist', path, undefined, 'give the path of ferry.conf, or print a sample with: ferry config sample > ferry.conf');
    const loaded = parseDaemonConfig('', `${DEFAULT_CONFIG_FILE} (absent: defaults)`);
    return { ...loaded, file: undefined, warnings: [`${DEFAULT_CONFIG_FILE} does not exist: using the defaults (see ferry config sample)`, ...loaded.warnings] };
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot be read: ${(err as Error).message}`, path, undefined, 'make it readable by the ferry user');
  }
  return parseDaemonConfig(text, path);
}

// ---- the sample ---------------------------------------------------------------------------

function wrap(text: string, width = 72): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}

const TYPE_TEXT: Record<OptionType, string> = {
  string: 'string value',
  boolean: 'boolean value',
  integer: 'integer value',
  port: 'port value',
  seconds: 'seconds, or a duration such as 5m or 1h30m',
  path: 'absolute path',
  url: 'URL',
  list: 'comma-separated list',
  choice: 'string value',
};

/** Every option, commented out with its default, in the style of oslo-config-generator. */
export function sampleConfig(): string {
  const out: string[] = [
    '# ferry.conf: the configuration of the Ferry daemon (ferry daemon --config FILE,',
    '# default /etc/ferry/ferry.conf). Generated by `ferry config sample`.',
    '#',
    '# INI in the oslo.config style. Every option is shown commented out with its',
    '# default; uncomment and change what you need. No comments after a value on',
    '# the same line. $state_path (or ${section.option}) inserts another option;',
    '# write $$ for a literal $.',
  ];
  for (const section of sectionNames) {
    out.push('', `[${section}]`);
    for (const key of keysOf(section)) {
      const doc = optionDoc(section, key)!;
      out.push('', '#');
      for (const l of wrap(doc.help)) out.push(`# ${l}`);
      out.push(`# (${TYPE_TEXT[doc.type]})`);
      if (doc.min !== undefined && doc.type !== 'seconds') out.push(`# Minimum value: ${doc.min}`);
      if (doc.max !== undefined && doc.type !== 'seconds') out.push(`# Maximum value: ${doc.max}`);
      if (doc.choices) {
        out.push('# Possible values:');
        for (const [v, meaning] of doc.choices) wrap(`${v} - ${meaning}`).forEach((l, i) => out.push(`# ${i === 0 ? '' : '  '}${l}`));
      }
      out.push(`#${key} = ${doc.sample ?? doc.default ?? ''}`.trimEnd());
    }
  }
  out.push(
    '',
    `[${DRTEST_SCHEDULE_SECTION}]`,
    '',
    '#',
    '# DR tests started on a schedule: one line per plan, PLAN = CRON, with a cron',
    "# expression of 5 fields 'MIN HOUR DAY MONTH WEEKDAY' (or 6, seconds first)",
    '# in [drtest] timezone. Empty: no scheduled DR tests. For example:',
    '#web-tier = 0 3 * * SUN',
    '',
  );
  return out.join('\n');
}

/** The configuration with secrets replaced, for `ferry config check` and the daemon's start line. */
export function redactedConfig(c: DaemonConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const section of sectionNames) {
    const values: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(c[section] as Record<string, unknown>)) {
      const doc = optionDoc(section, key);
      const text = v && typeof v === 'object' && 'text' in v ? (v as Duration).text : v;
      values[key] = doc?.secret && typeof v === 'string' ? redactSecret(key, v) : text;
    }
    out[section] = values;
  }
  out[DRTEST_SCHEDULE_SECTION] = { ...c.drtest_schedule };
  return out;
}

function redactSecret(key: string, v: string): string {
  if (key === 'connection') return redactCatalogUrl(v);
  try {
    const u = new URL(v);
    return `${u.protocol}//${u.host}/***`;
  } catch {
    return '***';
  }
}
