import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../lib/errors.js';
import {
  PlanError,
  closest,
  formatDuration,
  formatPlanIssue,
  parseDuration,
  parsePlanText,
  planJsonSchema,
  readPlanFile,
  type ProtectionPlan,
} from '../../../lib/config/protection-plan.js';

// Lines: 1 name, 2 project, 3 primary, 4 secondary, 5 tier, 6 rpo, 7 retention, 8 members,
// 9-10 the two server selectors; `tail` starts at line 11.
const BASE: Record<string, string> = {
  name: 'web',
  project: 'shop',
  primary: 'lab-a',
  secondary: 'lab-b',
  tier: 'pilot-light',
  rpo: '15m',
  retention: '{count: 4}',
  members: '\n  - server: web-1\n  - server: web-2',
};

function planText(over: Record<string, string | null> = {}, tail = ''): string {
  const lines = Object.entries({ ...BASE, ...over })
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}: ${v}`.replace(/: \n/, ':\n'));
  return `${lines.join('\n')}\n${tail}`;
}

/** Every problem of a plan text, formatted as the CLI prints them. */
function problems(text: string, file = 'plan.yaml'): string[] {
  try {
    parsePlanText(text, file);
  } catch (e) {
    if (e instanceof PlanError) return e.issues.map(formatPlanIssue);
    if (e instanceof ConfigError) return [e.message];
    throw e;
  }
  throw new Error('expected the plan to be rejected');
}

function only(text: string): string {
  const all = problems(text);
  expect(all, all.join('\n')).to.have.length(1);
  return all[0]!;
}

const DOCS = join(import.meta.dirname, '..', '..', '..', 'docs');

describe('protection plan: good plans', () => {
  it('reads the two-tier example in docs/examples/plan-web.yaml', () => {
    const p = readPlanFile(join(DOCS, 'examples', 'plan-web.yaml'));
    expect(p).to.include({ name: 'web-shop', project: 'shop', primary: 'lab-a', secondary: 'lab-b', tier: 'pilot-light', full_every: 24, ip_policy: 'preserve' });
    expect(p.rpo).to.deep.equal({ text: '15m', ms: 900_000 });
    expect(p.retention).to.deep.equal({ count: 96, age: { text: '7d', ms: 7 * 86_400_000 } });
    expect(p.members).to.deep.equal([{ tag: 'shop-web' }, { metadata: { app: 'shop', role: 'database' } }, { server: 'shop-bastion' }]);
    expect(p.priority_groups.map((g) => g.name)).to.deep.equal(['database', 'web']);
    expect(p.hooks.pre_snapshot[0]!.timeout.ms).to.equal(30_000);
    expect(p.hooks.post_snapshot[1]!.http).to.deep.equal({ url: 'https://chat.example.com/hooks/ferry', method: 'POST', headers: {} });
    expect(p.test.keep.text).to.equal('1h');
  });

  it('reads the complete annotated example in docs/plan-reference.md, every field set', () => {
    const md = readFileSync(join(DOCS, 'plan-reference.md'), 'utf8');
    const block = /<!-- complete-example[^>]*-->\n```yaml\n([\s\S]*?)```/.exec(md)?.[1];
    expect(block, 'complete example block').to.be.a('string');
    const p = parsePlanText(block!, 'plan-reference.md');
    expect(p.tier).to.equal('warm-standby');
    expect(p.mappings.subnets[1]).to.deep.include({ cidr: '10.30.0.0/24', gateway_ip: '10.30.0.1', enable_dhcp: true, allocation_pools: [{ start: '10.30.0.10', end: '10.30.0.250' }] });
    expect(p.mappings.flavors).to.deep.equal({ map: [{ from: 'm1.xlarge', to: 'c2.xlarge' }, { from: 'erp.db', recreate: true }], recreate_missing: false });
    expect(p.mappings.security_groups).to.deep.equal({ map: [{ from: 'erp-db', to: 'erp-db-dr' }] });
    expect(p.hooks.post_snapshot[1]!.http!.headers).to.deep.equal({ 'X-Source': 'ferry' });
    expect(p.test).to.deep.equal({ network_prefix: 'erptest-', keep: { text: '2h', ms: 7_200_000 }, name_prefix: 'erptest-' });
    // Every top-level field of the schema is used by the complete example.
    const used = Object.keys(parsePlanText(block!, 'x') as Record<string, unknown>);
    expect(used).to.have.members(Object.keys(planJsonSchema().properties as object));
  });

  it('reads the minimal plan in docs/plan-reference.md', () => {
    const md = readFileSync(join(DOCS, 'plan-reference.md'), 'utf8');
    const block = /## A minimal plan[\s\S]*?```yaml\n([\s\S]*?)```/.exec(md)![1]!;
    expect(parsePlanText(block, 'min.yaml').members).to.deep.equal([{ tag: 'shop-web' }]);
  });

  it('fills in every default of a minimal plan', () => {
    const p = parsePlanText(planText(), 'plan.yaml');
    const expected: Omit<ProtectionPlan, 'name' | 'project' | 'primary' | 'secondary' | 'tier' | 'rpo' | 'retention' | 'members'> = {
      mover: 'cinder-backup',
      full_every: 7,
      mappings: {
        networks: [],
        subnets: [],
        security_groups: 'recreate',
        flavors: { map: [], recreate_missing: true },
        images: 'replicate',
        volume_types: [],
        availability_zones: [],
        keypairs: 'replicate',
      },
      ip_policy: 'preserve',
      priority_groups: [],
      hooks: { pre_snapshot: [], post_snapshot: [] },
      test: { network_prefix: 'drtest-', keep: { text: '30m', ms: 1_800_000 }, name_prefix: 'drtest-' },
    };
    expect(p).to.deep.equal({ name: 'web', project: 'shop', primary: 'lab-a', secondary: 'lab-b', tier: 'pilot-light', rpo: { text: '15m', ms: 900_000 }, retention: { count: 4 }, members: [{ server: 'web-1' }, { server: 'web-2' }], ...expected });
    expect(p).to.not.have.property('description');
  });

  it('defaults inside partly written blocks: flavors, test, http hooks', () => {
    const p = parsePlanText(
      planText({}, 'mappings:\n  flavors: {recreate_missing: false}\ntest: {keep: 5m}\nhooks:\n  post_snapshot:\n    - http: {url: "http://h.example/x"}\n'),
      'plan.yaml',
    );
    expect(p.mappings.flavors).to.deep.equal({ map: [], recreate_missing: false });
    expect(p.mappings.networks).to.deep.equal([]);
    expect(p.test).to.deep.equal({ network_prefix: 'drtest-', keep: { text: '5m', ms: 300_000 }, name_prefix: 'drtest-' });
    expect(p.hooks.post_snapshot[0]).to.deep.equal({ http: { url: 'http://h.example/x', method: 'POST', headers: {} }, timeout: { text: '60s', ms: 60_000 } });
  });

  it('treats an empty block (`hooks:` with nothing after it) as absent', () => {
    const p = parsePlanText(planText({}, 'hooks:\nmappings:\n  networks:\ntest:\n'), 'plan.yaml');
    expect(p.hooks).to.deep.equal({ pre_snapshot: [], post_snapshot: [] });
    expect(p.mappings.networks).to.deep.equal([]);
    expect(p.test.network_prefix).to.equal('drtest-');
  });

  it('accepts each tier, ip_policy dhcp, full_every 1 and retention by age alone', () => {
    for (const tier of ['backup', 'pilot-light', 'warm-standby'] as const) {
      expect(parsePlanText(planText({ tier }), 'p.yaml').tier).to.equal(tier);
    }
    const p = parsePlanText(planText({ retention: '{age: 1d}', full_every: '1', ip_policy: 'dhcp' }), 'p.yaml');
    expect(p.retention).to.deep.equal({ age: { text: '1d', ms: 86_400_000 } });
    expect(p.full_every).to.equal(1);
    expect(p.ip_policy).to.equal('dhcp');
  });

  it('accepts priority groups of names it cannot check offline (tag and metadata selectors, IDs)', () => {
    const tagged = planText({ members: '\n  - tag: web' }, 'priority_groups:\n  - {name: db, members: [db-1]}\n  - {name: web, members: [web-1, web-2]}\n');
    expect(parsePlanText(tagged, 'p.yaml').priority_groups).to.have.length(2);
    const byId = planText({ members: '\n  - server: 0b5c6b4a-3a33-4f2b-9a54-1c1d2e3f4a5b' }, 'priority_groups:\n  - {name: db, members: [db-1]}\n');
    expect(parsePlanText(byId, 'p.yaml').priority_groups[0]!.members).to.deep.equal(['db-1']);
  });

  it('reads a plan written as JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-plan-'));
    const f = join(dir, 'plan.json');
    writeFileSync(f, JSON.stringify({ name: 'j', project: 'p', primary: 'a', secondary: 'b', tier: 'backup', rpo: '1h', retention: { count: 2 }, members: [{ tag: 't' }] }));
    expect(readPlanFile(f).rpo.ms).to.equal(3_600_000);
  });
});

describe('protection plan: durations and suggestions', () => {
  it('parses durations to milliseconds and formats them back', () => {
    const table: [string, number][] = [
      ['30s', 30_000],
      ['15m', 900_000],
      ['1h30m', 5_400_000],
      ['2d', 172_800_000],
      ['1d2h3m4s', 93_784_000],
      ['0s', 0],
    ];
    for (const [text, ms] of table) {
      expect(parseDuration(text), text).to.equal(ms);
      expect(formatDuration(ms), text).to.equal(text);
    }
    for (const bad of ['', '15', '1m1h', '15 min', '1.5h', '-5m', '1w', '15M']) expect(parseDuration(bad), bad).to.equal(undefined);
  });

  it('suggests the closest known name: typos, other spellings, shared words, aliases', () => {
    const top = Object.keys(planJsonSchema().properties as object);
    expect(closest('rpo_target', top)).to.equal('rpo');
    expect(closest('full-every', top)).to.equal('full_every');
    expect(closest('Tier', top)).to.equal('tier');
    expect(closest('secondry', top)).to.equal('secondary');
    expect(closest('priority_group', top)).to.equal('priority_groups');
    expect(closest('target', top)).to.equal('secondary');
    expect(closest('pre_snap', ['pre_snapshot', 'post_snapshot'])).to.equal('pre_snapshot');
    expect(closest('instance', ['server', 'tag', 'metadata'])).to.equal('server');
    expect(closest('target', ['from', 'to'])).to.equal('to');
    expect(closest('zzz', top)).to.equal(undefined);
    expect(closest('x', ['a', 'y'])).to.equal(undefined);
  });
});

describe('protection plan: errors name file:line:col, the field and a fix', () => {
  const cases: [string, string, string][] = [
    ['broken YAML', planText({ retention: '{count: 4' }), 'plan.yaml:8:1: invalid YAML: Flow map in block collection must be sufficiently indented and end with a } (fix: fix the YAML syntax at that position)'],
    ['a duplicate key', planText({}, 'tier: backup\n'), 'plan.yaml:11:1: invalid YAML: Map keys must be unique (fix: fix the YAML syntax at that position)'],
    [
      'an unknown field, with the closest known one (and no second report of the field it meant)',
      planText({ rpo: null }, 'rpo_target: 15m\n'),
      "plan.yaml:10:1: key 'rpo_target': unknown field 'rpo_target' (did you mean 'rpo'?) (fix: rename it to 'rpo')",
    ],
    [
      'an unknown nested field with nothing close',
      planText({ retention: '{count: 4, colour: blue}' }),
      "plan.yaml:7:23: key 'retention.colour': unknown field 'colour' (fix: remove it (fields here: count, age))",
    ],
    [
      'an unknown field in a selector, by alias',
      planText({ members: '\n  - instance: web-1' }),
      "plan.yaml:9:5: key 'members[0].instance': unknown field 'instance' (did you mean 'server'?) (fix: rename it to 'server')",
    ],
    [
      'a wrong enum value, with a suggestion',
      planText({ tier: 'pilot_light' }),
      "plan.yaml:5:7: key 'tier': must be one of backup, pilot-light, warm-standby, got 'pilot_light' (did you mean 'pilot-light'?) (fix: write pilot-light)",
    ],
    ['a wrong enum value, nothing close', planText({ ip_policy: 'static' }), "plan.yaml:11:12: key 'ip_policy': must be one of preserve, dhcp, got 'static' (fix: write one of preserve, dhcp)"],
    ['the reserved mover', planText({ mover: 'cinder-replication' }), "plan.yaml:11:8: key 'mover': mover 'cinder-replication' is reserved and not available yet (fix: use mover: cinder-backup)"],
    ['a duration without unit', planText({ rpo: '15' }), "plan.yaml:6:6: key 'rpo': expected a duration such as 15m, got the number 15 (fix: add a unit, e.g. 15m or 15s; units are s, m, h, d)"],
    [
      'a duration in words',
      planText({ rpo: '15 min' }),
      "plan.yaml:6:6: key 'rpo': '15 min' is not a duration (fix: write whole numbers with units s, m, h, d, largest first, e.g. 30s, 15m, 1h30m, 2d)",
    ],
    ['an rpo below the minimum', planText({ rpo: '30s' }), "plan.yaml:6:6: key 'rpo': '30s' is below the minimum of 1m (fix: use 1m or more)"],
    [
      'missing members',
      planText({ members: null }),
      "plan.yaml:1:1: key 'members': is missing (fix: add members: a list of at least one {server: NAME}, {tag: TAG} or {metadata: {KEY: VALUE}})",
    ],
    [
      'an empty member list',
      planText({ members: '[]' }),
      "plan.yaml:8:10: key 'members': needs at least one item (fix: write members: a list of at least one {server: NAME}, {tag: TAG} or {metadata: {KEY: VALUE}})",
    ],
    ['a required field left empty', planText({ project: '' }), "plan.yaml:2:10: key 'project': is empty (fix: add project: the name or ID of the project at the primary)"],
    [
      'primary == secondary',
      planText({ secondary: 'lab-a' }),
      "plan.yaml:4:12: key 'secondary': is the same site as primary ('lab-a') (fix: name a different cloud from clouds.yaml: a plan protects one site to another)",
    ],
    [
      'a server in two priority groups',
      planText({}, 'priority_groups:\n  - name: db\n    members: [web-1]\n  - name: web\n    members: [web-2, web-1]\n'),
      "plan.yaml:15:22: key 'priority_groups[1].members[1]': server 'web-1' is already in group 'db' (priority_groups[0], line 12) (fix: list each server in at most one priority group)",
    ],
    [
      'a server twice in one group',
      planText({}, 'priority_groups:\n  - {name: db, members: [web-1, web-1]}\n'),
      "plan.yaml:12:33: key 'priority_groups[0].members[1]': server 'web-1' is listed twice in group 'db' (fix: list each server in at most one priority group)",
    ],
    [
      'two priority groups with one name',
      planText({}, 'priority_groups:\n  - {name: db, members: [web-1]}\n  - {name: db, members: [web-2]}\n'),
      "plan.yaml:13:12: key 'priority_groups[1].name': group 'db' is defined twice (first at priority_groups[0], line 12) (fix: give every priority group its own name)",
    ],
    [
      'a priority group member that is not a listed server',
      planText({}, 'priority_groups:\n  - {name: db, members: [web-3]}\n'),
      "plan.yaml:12:26: key 'priority_groups[0].members[0]': server 'web-3' is not a member of this plan (did you mean 'web-1'?) (fix: add {server: web-3} to members, or remove it from the group)",
    ],
    [
      'a command hook written as one string',
      planText({}, 'hooks:\n  pre_snapshot:\n    - command: fsfreeze --freeze /data\n'),
      "plan.yaml:13:16: key 'hooks.pre_snapshot[0].command': is a string; a command hook is an argv list (no shell parses it) (fix: write it as a list, e.g. command: [fsfreeze, --freeze, /data])",
    ],
    [
      'a hook with both command and http',
      planText({}, 'hooks:\n  post_snapshot:\n    - {command: [sync], http: {url: "https://h.example"}}\n'),
      "plan.yaml:13:7: key 'hooks.post_snapshot[0]': has both command and http; a hook is one or the other (fix: write {command: [PROGRAM, ARG...]} or {http: {url: URL}})",
    ],
    [
      'a hook with neither',
      planText({}, 'hooks:\n  pre_snapshot:\n    - timeout: 5s\n'),
      "plan.yaml:13:7: key 'hooks.pre_snapshot[0]': a hook needs command or http (fix: write {command: [PROGRAM, ARG...]} or {http: {url: URL}})",
    ],
    [
      'an http hook with a non-http URL',
      planText({}, 'hooks:\n  pre_snapshot:\n    - http: {url: "ftp://files.example/x"}\n'),
      "plan.yaml:13:19: key 'hooks.pre_snapshot[0].http.url': 'ftp://files.example/x' is not an http(s) URL (fix: write it like https://hooks.example.com/ferry)",
    ],
    [
      'a hook timeout below 1s',
      planText({}, 'hooks:\n  pre_snapshot:\n    - {command: [sync], timeout: 0s}\n'),
      "plan.yaml:13:34: key 'hooks.pre_snapshot[0].timeout': '0s' is below the minimum of 1s (fix: use 1s or more)",
    ],
    [
      'a selector with two kinds',
      planText({ members: '\n  - {server: web-1, tag: web}' }),
      "plan.yaml:9:5: key 'members[0]': has server and tag; a selector has exactly one of server, tag or metadata (fix: make each its own list item (a server matching several is protected once))",
    ],
    ['a Nova tag with a comma', planText({ members: '\n  - tag: web,db' }), "plan.yaml:9:10: key 'members[0].tag': a Nova tag cannot contain '/' or ',' (fix: choose a tag without / and ,)"],
    ['a metadata value that YAML reads as a number', planText({ members: '\n  - metadata: {tier: 1}' }), "plan.yaml:9:22: key 'members[0].metadata.tier': expected a string, got the number 1 (fix: quote it: '1')"],
    ['a repeated selector', planText({ members: '\n  - server: web-1\n  - server: web-1' }), "plan.yaml:10:5: key 'members[1]': repeats members[0] (line 9) (fix: remove the duplicate)"],
    [
      'a network mapping with neither to nor recreate',
      planText({}, 'mappings:\n  networks:\n    - from: net-a\n'),
      "plan.yaml:13:7: key 'mappings.networks[0]': needs 'to' (an existing network at the secondary) or 'recreate: true' (fix: add to: NAME, or recreate: true)",
    ],
    [
      'a network mapping with both',
      planText({}, 'mappings:\n  networks:\n    - {from: net-a, to: net-b, recreate: true}\n'),
      "plan.yaml:13:7: key 'mappings.networks[0]': has both 'to' and 'recreate' (fix: keep one of them)",
    ],
    ['recreate: false', planText({}, 'mappings:\n  flavors:\n    map:\n      - {from: f1, recreate: false}\n'), "plan.yaml:14:30: key 'mappings.flavors.map[0].recreate': can only be true (fix: write recreate: true, or map to an existing flavor with to: NAME)"],
    [
      'recreate settings on a mapping to an existing subnet',
      planText({}, 'mappings:\n  subnets:\n    - {from: s1, to: s2, cidr: 10.0.0.0/24}\n'),
      "plan.yaml:13:32: key 'mappings.subnets[0].cidr': only applies with recreate: true (fix: remove cidr, or replace to: with recreate: true)",
    ],
    ['a bad CIDR', planText({}, 'mappings:\n  subnets:\n    - {from: s1, recreate: true, cidr: 10.0.0.0/33}\n'), "plan.yaml:13:40: key 'mappings.subnets[0].cidr': '10.0.0.0/33' is not a CIDR (fix: write it like 10.0.0.0/24 or 2001:db8::/64)"],
    [
      'a keyword mapping with a typo',
      planText({}, 'mappings:\n  security_groups: recreat\n'),
      "plan.yaml:12:20: key 'mappings.security_groups': must be 'recreate' or {map: [{from, to}, ...]}, got 'recreat' (did you mean 'recreate'?) (fix: write 'recreate', or list the security groups to map under map:)",
    ],
    ['a map entry without to', planText({}, 'mappings:\n  images:\n    map:\n      - {from: cirros}\n'), "plan.yaml:14:9: key 'mappings.images.map[0].to': is missing (fix: add to: name or ID of the existing counterpart at the secondary)"],
    [
      'a resource mapped twice',
      planText({}, 'mappings:\n  volume_types:\n    - {from: ssd, to: fast}\n    - {from: ssd, to: ceph}\n'),
      "plan.yaml:14:14: key 'mappings.volume_types[1].from': 'ssd' is mapped twice (first at mappings.volume_types[0], line 13) (fix: keep one mapping per resource)",
    ],
    ['retention without count or age', planText({ retention: '{}' }), "plan.yaml:7:12: key 'retention': needs count, age or both (fix: e.g. retention: {count: 48} or retention: {age: 7d})"],
    [
      'retention shorter than the rpo',
      planText({ retention: '{age: 10m}' }),
      "plan.yaml:7:18: key 'retention.age': 10m is shorter than the rpo (15m): recovery points would expire before the next one arrives (fix: use an age of at least 15m)",
    ],
    ['full_every below 1', planText({ full_every: '0' }), "plan.yaml:11:13: key 'full_every': must be at least 1, got the number 0 (fix: use 1 or more)"],
    ['full_every not whole', planText({ full_every: '2.5' }), "plan.yaml:11:13: key 'full_every': expected a whole number, got the number 2.5 (fix: see full_every in docs/plan-reference.md)"],
    ['a quoted number', planText({ full_every: '"7"' }), "plan.yaml:11:13: key 'full_every': expected a number, got '7' (fix: write it without quotes: 7)"],
    [
      'flavors written as a list',
      planText({}, 'mappings:\n  flavors:\n    - {from: m1.large, to: g2.large}\n'),
      "plan.yaml:13:5: key 'mappings.flavors': expected a mapping, got a list (fix: flavors is a mapping: put the list under map:, e.g. flavors: {map: [{from: m1.large, to: g2.large}]})",
    ],
    ['an empty map list', planText({}, 'mappings:\n  keypairs: {map: []}\n'), "plan.yaml:12:19: key 'mappings.keypairs.map': needs at least one item (fix: list at least one {from, to}, or write keypairs: replicate)"],
    [
      'a name that is not a DNS label',
      planText({ name: 'Web_Shop' }),
      "plan.yaml:1:7: key 'name': 'Web_Shop' is not a valid plan name (fix: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)",
    ],
    ['an empty file', '', 'plan.yaml: the plan is empty (fix: start from docs/examples/plan-web.yaml; every field is in docs/plan-reference.md)'],
    ['a list instead of a mapping', '- name: web\n', 'plan.yaml:1:1: a plan is a mapping of fields, got a list (fix: start from docs/examples/plan-web.yaml; every field is in docs/plan-reference.md)'],
  ];
  for (const [title, text, message] of cases) {
    it(title, () => {
      expect(only(text)).to.equal(message);
    });
  }

  it('explains cidr on a network: Neutron keeps it on the subnet', () => {
    expect(problems(planText({}, 'mappings:\n  networks:\n    - {from: n1, recreate: true, cidr: 10.0.0.0/24}\n'))).to.deep.equal([
      "plan.yaml:13:34: key 'mappings.networks[0].cidr': unknown field 'cidr' (fix: a Neutron network has no CIDR: set it on its subnet, mappings.subnets: [{from: SUBNET, recreate: true, cidr: ...}])",
    ]);
  });

  it('lists every problem of a file in file order, the first one as the message', () => {
    const text = planText({ name: 'Web', tier: 'hot', rpo: '5' }, 'mappings:\n  keypairs: copy\n');
    const all = problems(text);
    expect(all.map((p) => p.split(': key')[0])).to.deep.equal(['plan.yaml:1:7', 'plan.yaml:5:7', 'plan.yaml:6:6', 'plan.yaml:12:13']);
    try {
      parsePlanText(text, 'plan.yaml');
    } catch (e) {
      expect(e).to.be.instanceOf(PlanError).and.instanceOf(ConfigError);
      expect((e as PlanError).message).to.equal(all[0]);
      expect((e as PlanError).issues[0]).to.deep.equal({ location: 'plan.yaml:1:7', key: 'name', message: "'Web' is not a valid plan name", fix: "use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters" });
    }
  });

  it('names a file it cannot read', () => {
    expect(() => readPlanFile('/nonexistent/plan.yaml')).to.throw(ConfigError, '/nonexistent/plan.yaml: cannot read file (ENOENT) (fix: check the path and its permissions)');
  });
});

describe('protection plan: JSON Schema', () => {
  const schema = planJsonSchema() as {
    $schema: string;
    title: string;
    type: string;
    required: string[];
    additionalProperties: boolean;
    properties: Record<string, Record<string, unknown>>;
  };

  it('is draft 2020-12, strict, with the required fields and defaults of the file', () => {
    expect(schema.$schema).to.equal('https://json-schema.org/draft/2020-12/schema');
    expect(schema.title).to.equal('Ferry protection plan');
    expect(schema.additionalProperties).to.equal(false);
    expect(schema.required).to.have.members(['name', 'project', 'primary', 'secondary', 'tier', 'rpo', 'retention', 'members']);
    expect(schema.properties.full_every).to.include({ type: 'integer', default: 7, minimum: 1 });
    expect(schema.properties.tier!.enum).to.deep.equal(['backup', 'pilot-light', 'warm-standby']);
    expect(schema.properties.rpo).to.include({ type: 'string' });
    const test = schema.properties.test as { properties: Record<string, { default?: unknown }> };
    expect(test.properties.keep!.default).to.equal('30m');
    const members = schema.properties.members as { items: { oneOf: unknown[]; additionalProperties: boolean } };
    expect(members.items.oneOf).to.deep.equal([{ required: ['server'] }, { required: ['tag'] }, { required: ['metadata'] }]);
    expect(members.items.additionalProperties).to.equal(false);
  });

  it('describes every field, and docs/plan-reference.md names every field', () => {
    const md = readFileSync(join(DOCS, 'plan-reference.md'), 'utf8');
    const undescribed: string[] = [];
    const undocumented: string[] = [];
    const walk = (node: Record<string, unknown>, path: string) => {
      const props = node.properties as Record<string, Record<string, unknown>> | undefined;
      for (const [k, v] of Object.entries(props ?? {})) {
        if (typeof v.description !== 'string' || v.description.length < 8) undescribed.push(`${path}${k}`);
        if (!md.includes(`\`${k}\``) && !md.includes(`${k}?`) && !md.includes(`.${k}\``)) undocumented.push(`${path}${k}`);
        walk(v, `${path}${k}.`);
      }
      if (node.items) walk(node.items as Record<string, unknown>, path);
      for (const o of (node.anyOf as Record<string, unknown>[] | undefined) ?? []) walk(o, path);
    };
    walk(schema as unknown as Record<string, unknown>, '');
    expect(undescribed).to.deep.equal([]);
    expect(undocumented).to.deep.equal([]);
  });
});
