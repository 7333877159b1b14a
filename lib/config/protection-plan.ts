// Protection plans as files: what is protected, from which site to which, at what RPO, in
// which tier, with which mappings, boot order and hooks (docs/plan-reference.md).
//
// Decisions:
//  - The parsed plan keeps the file's (wire) names, snake_case: the same names appear in the
//    YAML file, the JSON Schema, every error message, the docs and (later) the REST API, so
//    one grep finds a field everywhere and there is no second naming to keep in step. The
//    OpenStack types and CloudConfig keep wire names for the same reason.
//  - Durations ("15m", "1h30m") become { text, ms }: code computes with ms, messages and
//    summaries show the operator's own text.
//  - Defaults are applied by the schema, so a parsed plan is complete: no consumer re-decides
//    a default.
//  - Strict everywhere: an unknown field is an error naming the field and the closest known
//    one. Errors carry file:line:col (yaml-source's locate()), the field path and a fix; all
//    problems of a file are collected (PlanError.issues), sorted by position.
//  - Only offline checks live here (schema and cross-field). Online checks (members and
//    mapping targets exist, quota and flavors at the secondary) need discovery: they are
//    checkReadiness() in lib/plan/readiness.ts.
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { Redactor, redactUrl } from '../redact.js';
import { parseYamlText, readYamlFile, type YamlSource } from './yaml-source.js';

/** Where the plan format is documented (named in error fixes). */
export const PLAN_DOCS = 'docs/plan-reference.md';

// ---------------------------------------------------------------------------------------
// Durations

/** A duration as written in the plan ("15m") and in milliseconds. */
export interface Duration {
  text: string;
  ms: number;
}

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 } as const;
/** Whole numbers with units s, m, h, d, largest first, each at most once: 30s, 15m, 1h30m, 2d. */
const DURATION_RE = /^(?=\d)(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Parses "1h30m" into milliseconds; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_RE.exec(text);
  if (!m) return undefined;
  const [, d, h, min, s] = m;
  return Number(d ?? 0) * UNIT_MS.d + Number(h ?? 0) * UNIT_MS.h + Number(min ?? 0) * UNIT_MS.m + Number(s ?? 0) * UNIT_MS.s;
}

/** Formats milliseconds the way plans write them ("1h30m", "0s"). */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms / 1000) * 1000;
  let out = '';
  for (const [unit, size] of Object.entries(UNIT_MS)) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out || '0s';
}

// ---------------------------------------------------------------------------------------
// Messages: a schema-level message may carry its fix after FIX_SEP; the translator splits it.

const FIX_SEP = '\u001f';
const withFix = (message: string, fix: string): string => `${message}${FIX_SEP}${fix}`;

/** How a value looks to the operator: "'abc'", "the number 5", "a list", "a mapping". */
function show(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  return 'a mapping';
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

function duration(opts: { min?: number; minText?: string } = {}) {
  return z
    .string({
      error: (iss) =>
        iss.input === undefined
          ? undefined
          : withFix(
              `expected a duration such as 15m, got ${show(iss.input)}`,
              typeof iss.input === 'number' ? `add a unit, e.g. ${iss.input}m or ${iss.input}s; units are s, m, h, d` : 'write it like 30s, 15m, 1h or 1h30m',
            ),
    })
    .regex(DURATION_RE, {
      error: (iss) => withFix(`${show(iss.input)} is not a duration`, 'write whole numbers with units s, m, h, d, largest first, e.g. 30s, 15m, 1h30m, 2d'),
    })
    .superRefine((text, ctx) => {
      const ms = parseDuration(text);
      if (ms !== undefined && opts.min !== undefined && ms < opts.min) {
        ctx.addIssue({ code: 'custom', message: withFix(`'${text}' is below the minimum of ${opts.minText}`, `use ${opts.minText} or more`) });
      }
    })
    .transform((text): Duration => ({ text, ms: parseDuration(text)! }));
}

function nameOrId(what: string) {
  return z.string().min(1).max(255).describe(what);
}

/** A keyword (`recreate`, `replicate`) or `{map: [{from, to}]}`. */
function keywordOrMap(keyword: string, what: string) {
  return z.union(
    [
      z.literal(keyword),
      z
        .strictObject({
          map: z.array(MapEntry).min(1).describe(`${what} to map to existing ones at the secondary; the rest are ${keyword === 'replicate' ? 'replicated' : 'recreated'}`),
        })
        .describe(`map the listed ${what}`),
    ],
    {
      error: (iss) => {
        const hint = typeof iss.input === 'string' ? suggestion(iss.input, [keyword]) : '';
        return withFix(`must be '${keyword}' or {map: [{from, to}, ...]}, got ${show(iss.input)}${hint}`, `write '${keyword}', or list the ${what} to map under map:`);
      },
    },
  );
}

// ---------------------------------------------------------------------------------------
// The schema

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const PREFIX = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
const GROUP_NAME = /^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$/;

function isIp(s: string): 4 | 6 | 0 {
  const v4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
  if (v4.test(s)) return 4;
  // IPv6: hex groups with at most one "::"; enough to catch typos offline.
  if (/^[0-9a-fA-F:]+$/.test(s) && s.includes(':')) {
    const parts = s.split('::');
    if (parts.length > 2) return 0;
    const groups = parts.flatMap((p) => (p === '' ? [] : p.split(':')));
    if (groups.some((g) => g.length === 0 || g.length > 4)) return 0;
    if (parts.length === 1 ? groups.length === 8 : groups.length <= 7) return 6;
  }
  return 0;
}

function isCidr(s: string): boolean {
  const [addr, len, extra] = s.split('/');
  if (addr === undefined || len === undefined || extra !== undefined || !/^\d{1,3}$/.test(len)) return false;
  const family = isIp(addr);
  return family !== 0 && Number(len) <= (family === 4 ? 32 : 128);
}

const ip = z.string().refine((s) => isIp(s) !== 0, { error: (iss) => withFix(`${show(iss.input)} is not an IP address`, 'write it like 10.0.0.1 or 2001:db8::1') });

const MapEntry = z
  .strictObject({
    from: nameOrId('name or ID at the primary'),
    to: nameOrId('name or ID of the existing counterpart at the secondary'),
  })
  .describe('use an existing resource at the secondary for one at the primary');

const notCidr = 'a Neutron network has no CIDR: set it on its subnet, mappings.subnets: [{from: SUBNET, recreate: true, cidr: ...}]';

function mapOrRecreate<T extends z.core.$ZodLooseShape>(what: string, extra: T, noun: string) {
  return z
    .strictObject({
      from: nameOrId(`${noun} at the primary (name or ID)`),
      to: nameOrId(`existing ${noun} at the secondary (name or ID); excludes recreate`).optional(),
      recreate: z
        .literal(true, { error: withFix('can only be true', `write recreate: true, or map to an existing ${noun} with to: NAME`) })
        .optional()
        .describe(`create a copy of the primary's ${noun} at the secondary; excludes to`),
      ...extra,
    })
    .superRefine((value, ctx) => {
      const v = value as Record<string, unknown>;
      const hasTo = v.to !== undefined;
      const hasRecreate = v.recreate === true;
      if (hasTo === hasRecreate) {
        ctx.addIssue({
          code: 'custom',
          message: withFix(
            hasTo ? `has both 'to' and 'recreate'` : `needs 'to' (an existing ${noun} at the secondary) or 'recreate: true'`,
            hasTo ? 'keep one of them' : `add to: NAME, or recreate: true`,
          ),
        });
      }
      if (hasTo) {
        for (const k of Object.keys(extra)) {
          if (v[k] !== undefined) {
            ctx.addIssue({ code: 'custom', path: [k], message: withFix(`only applies with recreate: true`, `remove ${k}, or replace to: with recreate: true`) });
          }
        }
      }
    })
    .meta({ oneOf: [{ required: ['to'] }, { required: ['recreate'] }] })
    .describe(what);
}

const NetworkMapping = mapOrRecreate(
  'a network of the members: map it to an existing network, or recreate it',
  {
    name: z.string().min(1).max(255).optional().describe("name of the recreated network (default: the primary's name)"),
    mtu: z.int().min(68).max(65535).optional().describe("MTU of the recreated network (default: the primary's)"),
  },
  'network',
);

const SubnetMapping = mapOrRecreate(
  'a subnet of the members: map it to an existing subnet, or recreate it (optionally with other settings)',
  {
    name: z.string().min(1).max(255).optional().describe("name of the recreated subnet (default: the primary's name)"),
    cidr: z
      .string()
      .refine(isCidr, { error: (iss) => withFix(`${show(iss.input)} is not a CIDR`, 'write it like 10.0.0.0/24 or 2001:db8::/64') })
      .optional()
      .describe("CIDR of the recreated subnet (default: the primary's; a different one cannot keep fixed IPs)"),
    gateway_ip: ip.optional().describe("gateway of the recreated subnet (default: the primary's)"),
    enable_dhcp: z.boolean().optional().describe("DHCP on the recreated subnet (default: the primary's)"),
    dns_nameservers: z.array(ip).optional().describe("DNS servers of the recreated subnet (default: the primary's)"),
    allocation_pools: z
      .array(z.strictObject({ start: ip.describe('first address of the pool'), end: ip.describe('last address of the pool') }).describe('an address range'))
      .optional()
      .describe("allocation pools of the recreated subnet (default: the primary's)"),
  },
  'subnet',
);

const FlavorMapping = mapOrRecreate('a flavor of the members: map it to an existing flavor, or recreate it', {}, 'flavor');

const ServerSelector = z
  .strictObject({
    server: nameOrId('one server by name or ID').optional(),
    tag: z
      .string()
      .min(1)
      .max(60)
      .refine((t) => !/[/,]/.test(t), { error: withFix("a Nova tag cannot contain '/' or ','", 'choose a tag without / and ,') })
      .optional()
      .describe('every server of the project with this Nova tag'),
    metadata: z
      .record(z.string().min(1).max(255), z.string().max(255))
      .refine((m) => Object.keys(m).length > 0, { error: withFix('needs at least one key: value', 'add the metadata to match, e.g. metadata: {app: shop}') })
      .optional()
      .describe('every server of the project whose metadata has all these key: value pairs'),
  })
  .superRefine((v, ctx) => {
    const keys = (['server', 'tag', 'metadata'] as const).filter((k) => v[k] !== undefined);
    if (keys.length === 0) {
      ctx.addIssue({ code: 'custom', message: withFix('a member selector needs one of server, tag or metadata', 'write {server: NAME}, {tag: TAG} or {metadata: {KEY: VALUE}}') });
    } else if (keys.length > 1) {
      ctx.addIssue({ code: 'custom', message: withFix(`has ${keys.join(' and ')}; a selector has exactly one of server, tag or metadata`, 'make each its own list item (a server matching several is protected once)') });
    }
  })
  .meta({ oneOf: [{ required: ['server'] }, { required: ['tag'] }, { required: ['metadata'] }] })
  .describe('selects servers to protect (exactly one of server, tag, metadata); their attached volumes follow, boot volumes included');

const Hook = z
  .strictObject({
    command: z
      .array(z.string().min(1), {
        error: (iss) =>
          typeof iss.input === 'string'
            ? withFix('is a string; a command hook is an argv list (no shell parses it)', `write it as a list, e.g. command: [${iss.input.split(/\s+/).filter(Boolean).join(', ')}]`)
            : undefined,
      })
      .min(1)
      .optional()
      .describe('argv of a program run on the Ferry host (not in the servers), without a shell'),
    http: z
      .strictObject({
        url: z
          .string()
          .refine((u) => /^https?:\/\/[^\s/]+/.test(u) && URL.canParse(u), {
            error: (iss) => withFix(`${show(iss.input)} is not an http(s) URL`, 'write it like https://hooks.example.com/ferry'),
          })
          .describe('http:// or https:// URL to call'),
        method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST').describe('HTTP method'),
        headers: z.record(z.string().min(1), z.string()).default({}).describe('extra request headers'),
      })
      .optional()
      .describe('an HTTP request made by Ferry; a 2xx answer is success'),
    timeout: duration({ min: 1000, minText: '1s' }).prefault('60s').describe('how long the hook may take before it counts as failed'),
  })
  .superRefine((v, ctx) => {
    const kinds = (['command', 'http'] as const).filter((k) => v[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: withFix(kinds.length === 0 ? 'a hook needs command or http' : 'has both command and http; a hook is one or the other', 'write {command: [PROGRAM, ARG...]} or {http: {url: URL}}'),
      });
    }
  })
  .meta({ oneOf: [{ required: ['command'] }, { required: ['http'] }] })
  .describe('a command or an HTTP call');

export const ProtectionPlanSchema = z
  .strictObject({
    name: z
      .string()
      .regex(DNS_LABEL, {
        error: (iss) => withFix(`${show(iss.input)} is not a valid plan name`, "use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"),
      })
      .describe('plan name, unique per Ferry installation: lowercase letters, digits and -, at most 63 characters (a DNS label)'),
    description: z.string().max(1024).optional().describe('free text for operators'),
    project: nameOrId('the project at the primary that owns the members (name or ID)'),
    primary: z.string().min(1).describe('the site protected: a cloud name from clouds.yaml'),
    secondary: z.string().min(1).describe('the site recovered to: a cloud name from clouds.yaml, not the primary'),
    tier: z
      .enum(['backup', 'pilot-light', 'warm-standby'])
      .describe('backup (data only, cold), pilot-light (data replicated, servers created on failover), warm-standby (a reduced stack always runs at the secondary)'),
    rpo: duration({ min: UNIT_MS.m, minText: '1m' }).describe('Recovery Point Objective: the newest complete recovery point at the secondary is never older than this (minimum 1m)'),
    retention: z
      .strictObject({
        count: z.int().min(1).optional().describe('keep at most this many recovery points'),
        age: duration().optional().describe('delete recovery points older than this'),
      })
      .superRefine((v, ctx) => {
        if (v.count === undefined && v.age === undefined) {
          ctx.addIssue({ code: 'custom', message: withFix('needs count, age or both', 'e.g. retention: {count: 48} or retention: {age: 7d}') });
        }
      })
      .meta({ anyOf: [{ required: ['count'] }, { required: ['age'] }] })
      .describe('which recovery points to keep (count, age or both; the newest is always kept)'),
    mover: z
      .enum(['cinder-backup'], {
        error: (iss) =>
          iss.input === 'cinder-replication'
            ? withFix("mover 'cinder-replication' is reserved and not available yet", 'use mover: cinder-backup')
            : withFix(`must be cinder-backup, got ${show(iss.input)}`, 'use mover: cinder-backup (the default)'),
      })
      .default('cinder-backup')
      .describe('how volume data moves: cinder-backup (incremental Cinder backups imported at the secondary); cinder-replication is reserved'),
    full_every: z.int().min(1).default(7).describe('every Nth backup cycle is a full backup, the others incremental (1: always full)'),
    members: z.array(ServerSelector).min(1).describe('the servers protected: a list of selectors, at least one'),
    mappings: z
      .strictObject({
        networks: z.array(NetworkMapping).default([]).describe('per network: map to an existing one or recreate; unlisted networks use the same name at the secondary'),
        subnets: z.array(SubnetMapping).default([]).describe("per subnet: map to an existing one or recreate; unlisted subnets follow their network"),
        security_groups: keywordOrMap('recreate', 'security groups').default('recreate').describe('recreate the members\' security groups at the secondary, or {map: [...]} some to existing ones'),
        flavors: z
          .strictObject({
            map: z.array(FlavorMapping).default([]).describe('per flavor: map to an existing one or recreate'),
            recreate_missing: z.boolean().default(true).describe('recreate unlisted flavors the secondary lacks (same name); false makes a missing flavor an error'),
          })
          .prefault({})
          .describe('flavors of the members; unlisted flavors use the same name at the secondary'),
        images: keywordOrMap('replicate', 'images').default('replicate').describe('replicate the members\' images to the secondary\'s Glance, or {map: [...]} some to existing ones'),
        volume_types: z.array(MapEntry).default([]).describe("per volume type: the secondary's type; unlisted types use the same name, else the secondary's default type"),
        availability_zones: z.array(MapEntry).default([]).describe('per availability zone (Nova and Cinder): the secondary\'s zone; unlisted zones use the same name, else the scheduler chooses'),
        keypairs: keywordOrMap('replicate', 'keypairs').default('replicate').describe('replicate the members\' keypairs (public keys) to the secondary, or {map: [...]} some to existing ones'),
      })
      .prefault({})
      .describe('how primary resources become secondary resources'),
    ip_policy: z.enum(['preserve', 'dhcp']).default('preserve').describe('preserve: recovered ports keep their fixed IPs; dhcp: Neutron allocates new ones'),
    priority_groups: z
      .array(
        z
          .strictObject({
            name: z
              .string()
              .regex(GROUP_NAME, { error: (iss) => withFix(`${show(iss.input)} is not a valid group name`, "use letters, digits, '-' and '_', at most 63 characters") })
              .describe('group name, unique in the plan'),
            members: z.array(nameOrId('a server name or ID')).min(1).describe('servers of this group (names or IDs of plan members)'),
          })
          .describe('servers that start together'),
      )
      .default([])
      .describe('boot order on recovery: each group starts after the previous one is ACTIVE; servers in no group start last'),
    hooks: z
      .strictObject({
        pre_snapshot: z.array(Hook).default([]).describe('run in order before the volume snapshots of a cycle (e.g. freeze a database); a failure fails the cycle'),
        post_snapshot: z.array(Hook).default([]).describe('run in order after the snapshots (e.g. thaw); they run even when a snapshot failed'),
      })
      .prefault({})
      .describe('commands or HTTP calls around each backup cycle'),
    test: z
      .strictObject({
        network_prefix: z
          .string()
          .regex(PREFIX, { error: (iss) => withFix(`${show(iss.input)} is not a valid prefix`, "use up to 32 letters, digits, '.', '_' and '-', starting with a letter or digit") })
          .default('drtest-')
          .describe('name prefix of the isolated networks, subnets and routers of a DR test'),
        keep: duration().prefault('30m').describe('how long a verified DR test stays up before it is torn down'),
        name_prefix: z
          .string()
          .regex(PREFIX, { error: (iss) => withFix(`${show(iss.input)} is not a valid prefix`, "use up to 32 letters, digits, '.', '_' and '-', starting with a letter or digit") })
          .default('drtest-')
          .describe('name prefix of the servers and volumes of a DR test'),
      })
      .prefault({})
      .describe('settings of the isolated DR-test bubble at the secondary'),
  })
  .describe('A Ferry protection plan: what is protected, from which site to which, at what RPO, with which mappings, boot order and hooks');

/** A parsed, defaulted, validated protection plan (file names kept; durations as {text, ms}). */
export type ProtectionPlan = z.output<typeof ProtectionPlanSchema>;
export type MemberSelector = ProtectionPlan['members'][number];
export type PlanHook = ProtectionPlan['hooks']['pre_snapshot'][number];
export type PlanMappings = ProtectionPlan['mappings'];

/** The JSON Schema of plan files (the input side: defaults shown, durations as strings), for editors. */
export function planJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ProtectionPlanSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  const { $schema, ...rest } = schema;
  return { $schema, title: 'Ferry protection plan', ...rest };
}

// ---------------------------------------------------------------------------------------
// Errors

/** One problem in a plan file. */
export interface PlanIssue {
  /** "file:line:col" (or the file alone when the position is unknown). */
  location: string;
  /** The field path, e.g. "mappings.networks[0].to"; "" for the whole file. */
  key: string;
  message: string;
  fix?: string;
}

/** Renders an issue in ConfigError's format: "file:line:col: key 'k': message (fix: ...)". */
export function formatPlanIssue(i: PlanIssue): string {
  return new ConfigError(i.message, i.location, i.key || undefined, i.fix).message;
}

/** A plan file with one or more problems; the message is the first, `issues` has them all. */
export class PlanError extends ConfigError {
  override readonly name: string = 'PlanError';
  constructor(readonly issues: PlanIssue[]) {
    const first = issues[0]!;
    super(first.message, first.location, first.key || undefined, first.fix);
  }
}

type Path = (string | number)[];

function keyOf(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function valueAt(data: unknown, path: Path): unknown {
  let cur = data;
  for (const p of path) {
    if (Array.isArray(cur) && typeof p === 'number') cur = cur[p];
    else if (isRecord(cur) && typeof p === 'string') cur = cur[p];
    else return undefined;
  }
  return cur;
}

/** Damerau-Levenshtein distance (optimal string alignment). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** Words operators reach for, and the fields they may mean (the first one known where it is used). */
const ALIASES: Record<string, string[]> = {
  instance: ['server'],
  instances: ['server'],
  vm: ['server'],
  servers: ['server'],
  properties: ['metadata'],
  source: ['primary', 'from'],
  target: ['secondary', 'to'],
  destination: ['secondary', 'to'],
  dr_site: ['secondary'],
  keep_last: ['count'],
  max_age: ['age'],
  argv: ['command'],
  cmd: ['command'],
  webhook: ['http'],
  url: ['http'],
};

/** The known word closest to `word`, or undefined when none is close enough. */
export function closest(word: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/-/g, '_');
  const w = norm(word);
  const exact = known.find((k) => norm(k) === w);
  if (exact) return exact;
  const alias = ALIASES[w]?.find((a) => known.includes(a));
  if (alias) return alias;
  if (w.length < 3) return undefined;
  const limit = w.length <= 4 ? 1 : w.length <= 8 ? 2 : 3;
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dd = distance(w, norm(k));
    if (dd <= limit && dd < bestD) [best, bestD] = [k, dd];
  }
  if (best) return best;
  // Shared words or a common prefix: rpo_target → rpo, pre_snap → pre_snapshot.
  const words = (s: string) => norm(s).split('_').filter((t) => t.length >= 2);
  const mine = new Set(words(word));
  let bestScore = 0;
  for (const k of known) {
    const nk = norm(k);
    let score = words(k).filter((t) => mine.has(t)).length * 10;
    if (nk.length >= 3 && w.startsWith(nk)) score += nk.length;
    if (w.length >= 3 && nk.startsWith(w)) score += w.length;
    if (score > bestScore) [best, bestScore] = [k, score];
  }
  return best;
}

function suggestion(word: string, known: readonly string[]): string {
  const c = closest(word, known);
  return c && c !== word ? ` (did you mean '${c}'?)` : '';
}

// A minimal walk over zod's internals: the schema at a path, and the keys it knows.
interface Def {
  type: string;
  innerType?: Walkable;
  in?: Walkable;
  shape?: Record<string, Walkable>;
  element?: Walkable;
  valueType?: Walkable;
  options?: Walkable[];
}
interface Walkable {
  _zod: { def: Def };
  description?: string;
}

function unwrap(s: Walkable): Walkable {
  let cur = s;
  for (;;) {
    const def = cur._zod.def;
    if (def.innerType && ['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional'].includes(def.type)) cur = def.innerType;
    else if (def.type === 'pipe' && def.in) cur = def.in;
    else return cur;
  }
}

function child(s: Walkable, seg: string | number): Walkable | undefined {
  const def = unwrap(s)._zod.def;
  if (def.type === 'object') return typeof seg === 'string' ? def.shape?.[seg] : undefined;
  if (def.type === 'array') return def.element;
  if (def.type === 'record') return def.valueType;
  if (def.type === 'union') {
    for (const o of def.options ?? []) {
      const c = child(o, seg);
      if (c) return c;
    }
  }
  return undefined;
}

function schemaAt(path: Path): Walkable | undefined {
  let cur: Walkable | undefined = ProtectionPlanSchema as unknown as Walkable;
  for (const p of path) {
    if (!cur) return undefined;
    cur = child(cur, p);
  }
  return cur;
}

function knownKeys(s: Walkable | undefined): string[] {
  if (!s) return [];
  const def = unwrap(s)._zod.def;
  if (def.type === 'object') return Object.keys(def.shape ?? {});
  if (def.type === 'union') return [...new Set((def.options ?? []).flatMap((o) => knownKeys(o)))];
  return [];
}

/** What a required field holds, by field path with list indices removed: "add" or "write" it. */
const REQUIRED: Record<string, string> = {
  name: 'name: a DNS label, e.g. name: web-shop',
  project: 'project: the name or ID of the project at the primary',
  primary: 'primary: a cloud name from clouds.yaml',
  secondary: 'secondary: a cloud name from clouds.yaml, not the primary',
  tier: 'tier: backup, pilot-light or warm-standby',
  rpo: 'rpo: a duration such as 15m',
  retention: 'retention: {count: N}, {age: DURATION} or both',
  members: 'members: a list of at least one {server: NAME}, {tag: TAG} or {metadata: {KEY: VALUE}}',
};

/** Fixes for mistakes that have a typical cause, by field path with list indices removed. */
const TYPICAL: Record<string, string> = {
  'mappings.flavors': 'flavors is a mapping: put the list under map:, e.g. flavors: {map: [{from: m1.large, to: g2.large}]}',
  'mappings.security_groups.map': 'list at least one {from, to}, or write security_groups: recreate',
  'mappings.images.map': 'list at least one {from, to}, or write images: replicate',
  'mappings.keypairs.map': 'list at least one {from, to}, or write keypairs: replicate',
  'priority_groups.members': "list the names or IDs of the group's servers",
  'hooks.pre_snapshot.command': 'give the program and its arguments, e.g. command: [/usr/local/bin/freeze, --all]',
  'hooks.post_snapshot.command': 'give the program and its arguments, e.g. command: [/usr/local/bin/thaw, --all]',
};

/** The fix for an issue that brought none: typical causes, required fields, else the field's description or the docs. */
function fixFor(path: Path, missing: boolean): string {
  const names = path.filter((p): p is string => typeof p === 'string');
  const generic = keyOf(names);
  const last = names.at(-1) ?? 'the fields';
  if (TYPICAL[generic]) return TYPICAL[generic];
  if (REQUIRED[generic]) return `${missing ? 'add' : 'write'} ${REQUIRED[generic]}`;
  const description = missing ? schemaAt(path)?.description : undefined;
  return description ? `add ${last}: ${description}` : `see ${last} in ${PLAN_DOCS}`;
}

/** The per-parse error map: plain-language messages for zod's generic issues. */
function planErrorMap(iss: z.core.$ZodRawIssue): string | undefined {
  if (iss.input === undefined && (iss.code === 'invalid_type' || iss.code === 'invalid_value')) return 'is missing';
  switch (iss.code) {
    case 'invalid_type': {
      const expected = EXPECTED[iss.expected] ?? iss.expected;
      const got = `expected ${expected}, got ${show(iss.input)}`;
      if (iss.expected === 'string' && (typeof iss.input === 'number' || typeof iss.input === 'boolean')) return withFix(got, `quote it: '${String(iss.input)}'`);
      const unquoted = typeof iss.input === 'string' && ((['number', 'int'].includes(iss.expected) && /^-?\d+(\.\d+)?$/.test(iss.input)) || (iss.expected === 'boolean' && /^(true|false)$/.test(iss.input)));
      return unquoted ? withFix(got, `write it without quotes: ${String(iss.input)}`) : got;
    }
    case 'invalid_value': {
      const values = iss.values.map(String);
      const hint = typeof iss.input === 'string' ? suggestion(iss.input, values) : '';
      const best = typeof iss.input === 'string' ? closest(iss.input, values) : undefined;
      return withFix(`must be ${values.length === 1 ? values[0] : `one of ${values.join(', ')}`}, got ${show(iss.input)}${hint}`, best ? `write ${best}` : `write one of ${values.join(', ')}`);
    }
    case 'too_small': {
      const min = Number(iss.minimum);
      if (iss.origin === 'array') return min === 1 ? 'needs at least one item' : `needs at least ${min} items`;
      if (iss.origin === 'string') return min === 1 ? 'must not be empty' : `must have at least ${min} characters`;
      return withFix(`must be at least ${min}, got ${show(iss.input)}`, `use ${min} or more`);
    }
    case 'too_big': {
      const max = Number(iss.maximum);
      if (iss.origin === 'array') return `has more than ${max} items`;
      if (iss.origin === 'string') return `is longer than ${max} characters`;
      return withFix(`must be at most ${max}, got ${show(iss.input)}`, `use ${max} or less`);
    }
    default:
      return undefined;
  }
}

interface FoundIssue extends PlanIssue {
  /** For an unknown field with a suggestion: the path of the field it was probably meant to be. */
  suggests?: string;
  /** ... and the path of the mapping that holds it. */
  parent?: string;
}

/** Turns zod issues into plan issues: one per unknown key, unions resolved to the branch that fits. */
function translate(issues: readonly z.core.$ZodIssue[], prefix: Path, src: YamlSource, raw: unknown, out: FoundIssue[]): void {
  for (const iss of issues) {
    const path: Path = [...prefix, ...iss.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    if (iss.code === 'unrecognized_keys') {
      const known = knownKeys(schemaAt(path));
      for (const k of iss.keys) {
        const c = closest(k, known);
        const hint = c && c !== k ? ` (did you mean '${c}'?)` : '';
        const underNetwork = path.length === 3 && path[0] === 'mappings' && path[1] === 'networks' && k === 'cidr';
        out.push({
          location: src.locateKey([...path, k]),
          key: keyOf([...path, k]),
          message: `unknown field '${k}'${underNetwork ? '' : hint}`,
          fix: underNetwork ? notCidr : c && c !== k ? `rename it to '${c}'` : `remove it (fields here: ${known.join(', ')})`,
          ...(c && c !== k ? { suggests: keyOf([...path, c]), parent: keyOf(path) } : {}),
        });
      }
      continue;
    }
    if (iss.code === 'invalid_union') {
      // keyword-or-map unions: the branch whose type fits the input explains the problem.
      const fits = iss.errors.filter((b) => !b.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value')));
      if (fits.length > 0) {
        translate(fits[0]!, path, src, raw, out);
        continue;
      }
    }
    const [message, fixInMessage] = iss.message.split(FIX_SEP) as [string, string | undefined];
    const missing = message === 'is missing';
    const parent = valueAt(raw, path.slice(0, -1));
    const nullValue = missing && isRecord(parent) && path.length > 0 && parent[String(path[path.length - 1])] === null;
    out.push({
      location: src.locate(path),
      key: keyOf(path),
      message: nullValue ? 'is empty' : message,
      fix: fixInMessage ?? fixFor(path, missing),
    });
  }
}

/** YAML `key:` with nothing after it is null: treat it as absent so defaults apply. */
function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls);
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, dropNulls(x)]));
  return v;
}

function position(location: string): [number, number] {
  const m = /:(\d+):(\d+)$/.exec(location);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

function sortIssues(issues: PlanIssue[]): PlanIssue[] {
  const seen = new Set<string>();
  const unique = issues.filter((i) => {
    const k = formatPlanIssue(i);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return unique
    .map((i, n) => ({ i, n, p: position(i.location) }))
    .sort((a, b) => a.p[0] - b.p[0] || a.p[1] - b.p[1] || a.n - b.n)
    .map(({ i }) => i);
}

// ---------------------------------------------------------------------------------------
// Cross-field checks (offline: what the file alone can prove)

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function lineOf(location: string): string {
  const [line] = position(location);
  return line ? `line ${line}` : location;
}

function selectorKey(s: MemberSelector): string {
  if (s.server !== undefined) return `server:${s.server}`;
  if (s.tag !== undefined) return `tag:${s.tag}`;
  return `metadata:${JSON.stringify(Object.entries(s.metadata ?? {}).sort(([a], [b]) => a.localeCompare(b)))}`;
}

function crossChecks(plan: ProtectionPlan, src: YamlSource): PlanIssue[] {
  const out: PlanIssue[] = [];
  const at = (path: Path, message: string, fix: string) => out.push({ location: src.locate(path), key: keyOf(path), message, fix });

  if (plan.primary === plan.secondary) {
    at(['secondary'], `is the same site as primary ('${plan.primary}')`, 'name a different cloud from clouds.yaml: a plan protects one site to another');
  }

  if (plan.retention.age && plan.retention.age.ms < plan.rpo.ms) {
    at(['retention', 'age'], `${plan.retention.age.text} is shorter than the rpo (${plan.rpo.text}): recovery points would expire before the next one arrives`, `use an age of at least ${plan.rpo.text}`);
  }

  const selectors = new Map<string, number>();
  plan.members.forEach((s, i) => {
    const k = selectorKey(s);
    const first = selectors.get(k);
    if (first === undefined) selectors.set(k, i);
    else at(['members', i], `repeats members[${first}] (${lineOf(src.locate(['members', first]))})`, 'remove the duplicate');
  });

  const mappingLists: [Path, { from: string }[]][] = [
    [['mappings', 'networks'], plan.mappings.networks],
    [['mappings', 'subnets'], plan.mappings.subnets],
    [['mappings', 'security_groups', 'map'], typeof plan.mappings.security_groups === 'string' ? [] : plan.mappings.security_groups.map],
    [['mappings', 'flavors', 'map'], plan.mappings.flavors.map],
    [['mappings', 'images', 'map'], typeof plan.mappings.images === 'string' ? [] : plan.mappings.images.map],
    [['mappings', 'volume_types'], plan.mappings.volume_types],
    [['mappings', 'availability_zones'], plan.mappings.availability_zones],
    [['mappings', 'keypairs', 'map'], typeof plan.mappings.keypairs === 'string' ? [] : plan.mappings.keypairs.map],
  ];
  for (const [path, list] of mappingLists) {
    const firstAt = new Map<string, number>();
    list.forEach((m, i) => {
      const first = firstAt.get(m.from);
      if (first === undefined) firstAt.set(m.from, i);
      else at([...path, i, 'from'], `'${m.from}' is mapped twice (first at ${keyOf([...path, first])}, ${lineOf(src.locate([...path, first]))})`, 'keep one mapping per resource');
    });
  }

  // Priority groups: unique names, a server in at most one group, and (when the members are
  // only server selectors of the same kind, names or IDs) every group member a plan member.
  const groupAt = new Map<string, number>();
  const serverGroup = new Map<string, number>();
  const serverSelectors = plan.members.filter((s) => s.server !== undefined).map((s) => s.server!);
  const onlyServers = serverSelectors.length === plan.members.length;
  plan.priority_groups.forEach((g, gi) => {
    const first = groupAt.get(g.name);
    if (first !== undefined) {
      at(['priority_groups', gi, 'name'], `group '${g.name}' is defined twice (first at priority_groups[${first}], ${lineOf(src.locate(['priority_groups', first, 'name']))})`, 'give every priority group its own name');
    } else groupAt.set(g.name, gi);
    g.members.forEach((server, mi) => {
      const path = ['priority_groups', gi, 'members', mi];
      const earlier = serverGroup.get(server);
      if (earlier !== undefined) {
        const other = `group '${plan.priority_groups[earlier]!.name}' (priority_groups[${earlier}], ${lineOf(src.locate(['priority_groups', earlier]))})`;
        at(path, earlier === gi ? `server '${server}' is listed twice in group '${g.name}'` : `server '${server}' is already in ${other}`, 'list each server in at most one priority group');
        return;
      }
      serverGroup.set(server, gi);
      const comparable = onlyServers && serverSelectors.every((s) => UUID.test(s) === UUID.test(server));
      if (comparable && !serverSelectors.includes(server)) {
        const hint = suggestion(server, serverSelectors);
        at(path, `server '${server}' is not a member of this plan${hint}`, `add {server: ${server}} to members, or remove it from the group`);
      }
    });
  });
  return out;
}

// ---------------------------------------------------------------------------------------
// Entry points

/** Validates parsed YAML (with its positions) as a protection plan; throws PlanError listing every problem. */
export function loadPlan(src: YamlSource): ProtectionPlan {
  const raw = src.data;
  if (raw === null || raw === undefined) {
    throw new PlanError([{ location: src.file, key: '', message: 'the plan is empty', fix: `start from docs/examples/plan-web.yaml; every field is in ${PLAN_DOCS}` }]);
  }
  if (!isRecord(raw)) {
    throw new PlanError([{ location: src.locate([]), key: '', message: `a plan is a mapping of fields, got ${show(raw)}`, fix: `start from docs/examples/plan-web.yaml; every field is in ${PLAN_DOCS}` }]);
  }
  const parsed = ProtectionPlanSchema.safeParse(dropNulls(raw), { error: planErrorMap });
  if (!parsed.success) {
    const found: FoundIssue[] = [];
    translate(parsed.error.issues, [], src, raw, found);
    // "unknown field 'rpo_target' (did you mean 'rpo'?)" already says that rpo is missing, and
    // "unknown field 'instance' (did you mean 'server'?)" that the selector lacks its kind.
    const suggested = new Set(found.map((i) => i.suggests));
    const parents = new Set(found.map((i) => i.parent));
    const kept = found.filter((i) => !(i.message === 'is missing' && suggested.has(i.key)) && !(i.suggests === undefined && parents.has(i.key)));
    throw new PlanError(sortIssues(kept.map(({ location, key, message, fix }) => ({ location, key, message, ...(fix ? { fix } : {}) }))));
  }
  const problems = crossChecks(parsed.data, src);
  if (problems.length > 0) throw new PlanError(sortIssues(problems));
  return parsed.data;
}

/** Parses plan text; YAML syntax errors are ConfigError, plan problems PlanError (both name file:line:col). */
export function parsePlanText(text: string, file: string): ProtectionPlan {
  return loadPlan(parseYamlText(text, file));
}

/** Reads and validates a plan file (YAML, or JSON by extension). */
export function readPlanFile(file: string): ProtectionPlan {
  return loadPlan(readYamlFile(file));
}

/**
 * A plan document safe to show (CLI output, the API): hook URLs without their secrets (query,
 * userinfo) and secret-looking hook headers (Authorization, tokens) masked. Works on a parsed
 * plan and on a stored spec (JSON) alike; anything else is returned as is.
 */
export function maskPlanSecrets<T>(plan: T): T {
  if (plan === null || typeof plan !== 'object') return plan;
  const hooks = (plan as { hooks?: unknown }).hooks;
  if (hooks === null || typeof hooks !== 'object') return plan;
  const redactor = new Redactor();
  const mask = (h: unknown): unknown => {
    const http = (h as { http?: { url?: unknown; headers?: unknown } } | null)?.http;
    if (!http || typeof http !== 'object') return h;
    return {
      ...(h as object),
      http: {
        ...http,
        ...(typeof http.url === 'string' ? { url: redactUrl(http.url) } : {}),
        ...(http.headers && typeof http.headers === 'object' ? { headers: redactor.headers(http.headers as Record<string, string>) } : {}),
      },
    };
  };
  const masked: Record<string, unknown> = { ...(hooks as Record<string, unknown>) };
  for (const phase of ['pre_snapshot', 'post_snapshot']) {
    const list = masked[phase];
    if (Array.isArray(list)) masked[phase] = list.map(mask);
  }
  return { ...plan, hooks: masked };
}
