import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { run } from '../../../lib/cli/main.js';

const EXAMPLE = join(import.meta.dirname, '..', '..', '..', 'docs', 'examples', 'plan-web.yaml');
const REFERENCE = join(import.meta.dirname, '..', '..', '..', 'docs', 'plan-reference.md');

function planFile(text: string, name = 'plan.yaml'): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-plan-cli-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  return { dir, file };
}

async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    process.env = saved;
  }
}

async function ferry(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const GOOD = `name: web
project: shop
primary: lab-a
secondary: lab-b
tier: backup
rpo: 1h
retention: {count: 24}
members:
  - server: web-1
hooks:
  post_snapshot:
    - http:
        url: https://hooks.example.com/ferry?token=s3cr3t-value
        headers: {Authorization: Bearer s3cr3t-value}
`;

const BAD = `name: web
project: shop
primary: lab-a
secondary: lab-a
tier: backup
rpo: 1h
retention: {count: 24}
members:
  - server: web-1
`;

describe('ferry plan validate', () => {
  it('prints a readiness summary of the example and exits 0', async () => {
    const r = await ferry(['plan', 'validate', EXAMPLE, '--offline']);
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.equal('');
    expect(r.out).to.match(/^plan web-shop: valid\n/);
    for (const row of [
      /│ sites\s+│ lab-a → lab-b\s+│/,
      /│ tier\s+│ pilot-light\s+│/,
      /│ rpo\s+│ 15m\s+│/,
      /│ retention\s+│ 96 recovery points, none older than 7d\s+│/,
      /│ members\s+│ tag shop-web\s+│/,
      /│\s+│ metadata app=shop, role=database\s+│/,
      /│ networks\s+│ shop-frontend → shop-frontend-dr\s+│/,
      /│\s+│ shop-backend \(recreate\)\s+│/,
      /│ flavors\s+│ m1\.large → g2\.large\s+│/,
      /│ boot order\s+│ 1\. database: shop-db-1, shop-db-2\s+│/,
      /│ not checked\s+│ online: members and mapping targets exist/,
    ]) {
      expect(r.out).to.match(row);
    }
  });

  it('without --offline checks the sites: a cloud clouds.yaml lacks is an error at primary/secondary, exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-plan-cli-'));
    writeFileSync(join(dir, 'clouds.yaml'), 'clouds:\n  other:\n    auth: {auth_url: https://keystone.example.test/v3, username: u, password: p, project_name: x}\n');
    const r = await withEnv({ OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml') }, () => ferry(['plan', 'validate', EXAMPLE]));
    expect(r.code).to.equal(1);
    expect(r.out).to.equal('');
    const lines = r.err.split('\n');
    expect(lines).to.have.length(3);
    expect(lines[0]).to.match(new RegExp(`^ferry: error: ${EXAMPLE}:11:10: key 'primary': cloud 'lab-a' cannot be used: .*lab-a.* \\(fix: name a cloud from clouds.yaml \\(ferry sites check lists them\\)\\)$`));
    expect(lines[1]).to.match(new RegExp(`^ferry: error: ${EXAMPLE}:12:12: key 'secondary': cloud 'lab-b' cannot be used: `));
    expect(lines[2]).to.equal(`ferry: ${EXAMPLE} is not a valid protection plan (2 problems)`);
  });

  it('prints the parsed plan with its defaults as JSON, secrets in hook headers and URLs masked', async () => {
    const { file } = planFile(GOOD);
    const r = await ferry(['plan', 'validate', file, '--offline', '-f', 'json']);
    expect(r.code, r.err).to.equal(0);
    const doc = JSON.parse(r.out) as { file: string; valid: boolean; checks: string; plan: Record<string, unknown> & { hooks: { post_snapshot: { http: { url: string; headers: Record<string, string> } }[] } } };
    expect(doc).to.include({ file, valid: true, checks: 'offline' });
    expect(doc.plan).to.deep.include({ name: 'web', mover: 'cinder-backup', full_every: 7, ip_policy: 'preserve', rpo: { text: '1h', ms: 3_600_000 } });
    expect(doc.plan.hooks.post_snapshot[0]!.http.headers).to.deep.equal({ Authorization: '***' });
    expect(doc.plan.hooks.post_snapshot[0]!.http.url).to.equal('https://hooks.example.com/ferry?token=***');
    expect(r.out).to.not.include('s3cr3t');
  });

  it('prints YAML with -f yaml', async () => {
    const r = await ferry(['plan', 'validate', EXAMPLE, '--offline', '-f', 'yaml']);
    expect(r.code).to.equal(0);
    const doc = parse(r.out) as { valid: boolean; plan: { name: string; members: unknown[] } };
    expect(doc.valid).to.equal(true);
    expect(doc.plan.name).to.equal('web-shop');
    expect(doc.plan.members).to.have.length(3);
  });

  it('keeps secrets out of the table too', async () => {
    const { file } = planFile(GOOD);
    const r = await ferry(['plan', 'validate', file, '--offline']);
    expect(r.code).to.equal(0);
    expect(r.out).to.include('POST https://hooks.example.com/ferry?token=*** (timeout 60s)');
    expect(r.out).to.not.include('s3cr3t');
  });

  it('reports a bad plan on stderr with file:line:col and exits 1', async () => {
    const { file } = planFile(BAD);
    const r = await ferry(['plan', 'validate', file, '--offline']);
    expect(r.code).to.equal(1);
    expect(r.out).to.equal('');
    expect(r.err.split('\n')).to.deep.equal([
      `ferry: error: ${file}:4:12: key 'secondary': is the same site as primary ('lab-a') (fix: name a different cloud from clouds.yaml: a plan protects one site to another)`,
      `ferry: ${file} is not a valid protection plan (1 problem)`,
    ]);
  });

  it('reproduces the error example of docs/plan-reference.md word for word', async () => {
    const md = readFileSync(REFERENCE, 'utf8');
    const [, yamlText, output] = /<!-- error-example[^>]*-->\n```yaml\n([\s\S]*?)```\n\n```\n\$ ferry plan validate plan\.yaml\n([\s\S]*?)```/.exec(md)!;
    const { dir } = planFile(yamlText!);
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const r = await ferry(['plan', 'validate', 'plan.yaml', '--offline']);
      expect(r.code).to.equal(1);
      expect(r.err).to.equal(output!.trimEnd());
    } finally {
      process.chdir(cwd);
    }
  });

  it('reports every problem as JSON on stdout with -f json, exit 1', async () => {
    const { file } = planFile(BAD.replace('tier: backup', 'tier: cold').replace('rpo: 1h', 'rpo_target: 1h'));
    const r = await ferry(['plan', 'validate', file, '-f', 'json']);
    expect(r.code).to.equal(1);
    expect(r.err).to.equal('');
    const doc = JSON.parse(r.out) as { valid: boolean; errors: { location: string; key: string; message: string; fix?: string }[] };
    expect(doc.valid).to.equal(false);
    expect(doc.errors).to.deep.equal([
      { location: `${file}:5:7`, key: 'tier', message: "must be one of backup, pilot-light, warm-standby, got 'cold'", fix: 'write one of backup, pilot-light, warm-standby' },
      { location: `${file}:6:1`, key: 'rpo_target', message: "unknown field 'rpo_target' (did you mean 'rpo'?)", fix: "rename it to 'rpo'" },
    ]);
  });

  it('reports broken YAML with its position, exit 1', async () => {
    const { file } = planFile('name: web\nmembers: [{server: a}\n');
    const r = await ferry(['plan', 'validate', file]);
    expect(r.code).to.equal(1);
    expect(r.err).to.match(new RegExp(`^ferry: error: ${file}:\\d+:\\d+: invalid YAML: .+ \\(fix: fix the YAML syntax at that position\\)\\nferry: ${file} is not a valid protection plan \\(1 problem\\)$`));
  });

  it('reports broken YAML as JSON too', async () => {
    const { file } = planFile('name: [web\n');
    const r = await ferry(['plan', 'validate', file, '-f', 'json']);
    expect(r.code).to.equal(1);
    const doc = JSON.parse(r.out) as { errors: { location: string; key: string; message: string; fix: string }[] };
    expect(doc.errors).to.have.length(1);
    expect(doc.errors[0]!.location).to.match(new RegExp(`^${file}:\\d+:\\d+$`));
    expect(doc.errors[0]!.key).to.equal('');
    expect(doc.errors[0]!.message).to.match(/^invalid YAML: /);
    expect(doc.errors[0]!.fix).to.equal('fix the YAML syntax at that position');
  });

  it('reports a missing file, exit 1', async () => {
    const r = await ferry(['plan', 'validate', '/nonexistent/plan.yaml']);
    expect(r.code).to.equal(1);
    expect(r.err).to.equal(
      'ferry: error: /nonexistent/plan.yaml: cannot read file (ENOENT) (fix: check the path and its permissions)\nferry: /nonexistent/plan.yaml is not a valid protection plan (1 problem)',
    );
  });

  it('rejects usage errors with exit 2: no file, unknown format', async () => {
    expect((await ferry(['plan', 'validate'])).code).to.equal(2);
    const r = await ferry(['plan', 'validate', EXAMPLE, '-f', 'xml']);
    expect(r.code).to.equal(2);
    expect(r.err).to.match(/Allowed choices are table, json, yaml/);
  });
});

describe('ferry plan schema', () => {
  it('prints the JSON Schema, exit 0', async () => {
    const r = await ferry(['plan', 'schema']);
    expect(r.code).to.equal(0);
    const schema = JSON.parse(r.out) as { title: string; type: string; additionalProperties: boolean; properties: Record<string, { description?: string }> };
    expect(schema.title).to.equal('Ferry protection plan');
    expect(schema.type).to.equal('object');
    expect(schema.additionalProperties).to.equal(false);
    expect(Object.keys(schema.properties)).to.include.members(['name', 'rpo', 'members', 'mappings', 'priority_groups', 'hooks', 'test']);
    expect(schema.properties.rpo!.description).to.match(/Recovery Point Objective/);
  });

  it('sits next to sites in the command list', async () => {
    const r = await ferry(['--help']);
    expect(r.code).to.equal(0);
    expect(r.out).to.match(/sites\s+sites \(clouds from clouds\.yaml\)/);
    expect(r.out).to.match(/plan\s+protection plans/);
    const p = await ferry(['plan', '--help']);
    expect(p.out).to.match(/validate \[options\] <file>/);
    expect(p.out).to.match(/schema\s+print the JSON Schema/);
  });
});
