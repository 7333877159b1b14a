// `ferry plan validate` online, `plan apply`, `plan list`, `plan show`, `plan delete`: the CLI
// over two fake sites (spec/unit/plan/fake-sites.ts) and a temporary SQLite catalog.
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { parse } from 'yaml';
import { run } from '../../../lib/cli/main.js';
import { SCALE_TAG } from '../../bench/discovery.js';
import { CINDER, PROJECT_ID, SWIFT, mockAuth, useNock } from '../../support/fake-cloud.js';
import { CINDER_B, serveTwoSites, twoSiteClouds } from '../plan/fake-sites.js';

const PLAN = `name: shop
project: admin
primary: site-a
secondary: site-b
tier: pilot-light
rpo: 15m
retention: {count: 4}
members:
  - tag: "${SCALE_TAG}"
`;

interface Env {
  dir: string;
  db: string;
  clouds: string;
}

function env(): Env {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-cli-plan-'));
  return { dir, db: `sqlite://${join(dir, 'catalog.db')}`, clouds: twoSiteClouds(dir) };
}

function file(e: Env, text: string, name = 'plan.yaml'): string {
  const f = join(e.dir, name);
  writeFileSync(f, text);
  return f;
}

async function ferry(e: Env, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { ...process.env };
  process.env.OS_CLIENT_CONFIG_FILE = e.clouds;
  delete process.env.FERRY_DB;
  try {
    const code = await run(['--db', e.db, ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    process.env = saved;
  }
}

describe('ferry plan validate (online)', () => {
  useNock();

  it('passes with a readiness report of both sites, exit 0', async () => {
    const e = env();
    serveTwoSites(3);
    const r = await ferry(e, ['plan', 'validate', file(e, PLAN)]);
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.equal('');
    expect(r.out).to.match(/^plan shop: valid\n/);
    expect(r.out).to.match(/│ checked\s+│ offline: schema and cross-field checks passed\s+│\n│\s+│ online: \d+ readiness checks, 0 failed \(below\)\s+│/);
    expect(r.out).to.match(/readiness site-a → site-b: ready \(\d+ ok, 0 warnings, 0 failed; 3 servers discovered\)/);
    expect(r.out).to.match(/│ ok\s+│ members\s+│ tag: ferry:plan=scale\s+│ 3 servers: app-00000, app-00001, app-00002\s+│/);
    expect(r.out).to.match(/│ ok\s+│ quota\s+│ site-b cores\s+│ needs 3 vCPUs, 400 of 400 free\s+│/);
    expect(r.out).to.not.include('not checked');
  });

  it('a member that does not exist: file:line:col, field and fix on stderr, the report on stdout, exit 1', async () => {
    const e = env();
    serveTwoSites(3);
    const f = file(e, PLAN.replace(`  - tag: "${SCALE_TAG}"\n`, `  - tag: "${SCALE_TAG}"\n  - server: ghost\n`));
    const r = await ferry(e, ['plan', 'validate', f]);
    expect(r.code).to.equal(1);
    expect(r.err.split('\n')).to.deep.equal([
      `ferry: error: ${f}:10:13: key 'members[1].server': members server: ghost: no server is named 'ghost' in project admin at site-a (fix: check the name (openstack --os-cloud site-a server list), or remove this selector)`,
      `ferry: ${f} is valid but not ready: 1 readiness check failed`,
    ]);
    expect(r.out).to.match(/readiness site-a → site-b: NOT READY \(\d+ ok, 0 warnings, 1 failed; 3 servers discovered\)/);
    expect(r.out).to.match(/│ FAIL\s+│ members\s+│ server: ghost\s+│ no server is named 'ghost' in project admin at site-a/);
  });

  it('-f json: the readiness report as data', async () => {
    const e = env();
    serveTwoSites(2, (m) => {
      m.computeLimits.maxTotalInstances = 1;
    });
    const r = await ferry(e, ['plan', 'validate', file(e, PLAN), '-f', 'json']);
    expect(r.code).to.equal(1);
    const doc = JSON.parse(r.out) as { valid: boolean; ready: boolean; checks: string; readiness: { ok: boolean; members: number; checks: { check: string; status: string; subject: string; message: string; fix?: string }[] } };
    expect(doc).to.include({ valid: true, ready: false, checks: 'online' });
    expect(doc.readiness.members).to.equal(2);
    expect(doc.readiness.checks.filter((c) => c.status === 'fail')).to.deep.equal([
      {
        check: 'quota',
        status: 'fail',
        subject: 'site-b instances',
        message: 'needs 2, only 1 free (limit 1, 0 used): short by 1',
        fix: 'raise the instances quota of project admin at site-b to at least 2 (openstack quota set --instances 2 admin), or protect less',
      },
    ]);
  });
});

describe('ferry plan apply, list, show, delete', () => {
  useNock();

  it('apply --offline, list, re-apply unchanged, apply a change with its diff, show', async () => {
    const e = env();
    const f = file(e, PLAN);
    const a = await ferry(e, ['plan', 'apply', f, '--offline']);
    expect(a.code, a.err).to.equal(0);
    expect(a.out.split('\n')).to.deep.equal([
      'plan shop: created (site-a → site-b, pilot-light, rpo 15m, 1 member selector)',
      'bank: not written (offline); the next replication cycle or an online apply writes plans/shop/plan.json at site-b',
    ]);
    const l = await ferry(e, ['plan', 'list']);
    expect(l.code).to.equal(0);
    expect(l.out).to.match(/│ shop\s+│ admin\s+│ site-a → site-b\s+│ site-a\s+│ 0\s+│ pilot-light\s+│ 15m\s+│ 0 complete \/ 0\s+│ -\s+│ no points\s+│/);

    expect((await ferry(e, ['plan', 'apply', f, '--offline'])).out).to.match(/^plan shop: unchanged /);
    writeFileSync(f, PLAN.replace('rpo: 15m', 'rpo: 5m'));
    const c = await ferry(e, ['plan', 'apply', f, '--offline']);
    expect(c.out.split('\n').slice(0, 2)).to.deep.equal(['plan shop: changed (site-a → site-b, pilot-light, rpo 5m, 1 member selector)', '  ~ rpo: 15m → 5m']);

    const s = await ferry(e, ['plan', 'show', 'shop']);
    expect(s.code).to.equal(0);
    for (const row of [/│ plan\s+│ shop\s+│/, /│ sites\s+│ site-a → site-b\s+│/, /│ active site\s+│ site-a\s+│/, /│ epoch\s+│ 0\s+│/, /│ rpo\s+│ 5m\s+│/, /│ members\s+│ tag ferry:plan=scale\s+│/, /│ recovery points\s+│ none yet\s+│/, /│ retention\s+│ 4 recovery points\s+│/]) {
      expect(s.out).to.match(row);
    }
    const j = await ferry(e, ['plan', 'show', 'shop', '-f', 'json']);
    const doc = JSON.parse(j.out) as { name: string; epoch: number; activeSite: string; plan: { spec: { rpo: { text: string } } } };
    expect(doc).to.include({ name: 'shop', epoch: 0, activeSite: 'site-a' });
    expect(doc.plan.spec.rpo.text).to.equal('5m');
    const y = await ferry(e, ['plan', 'list', '-f', 'yaml']);
    expect((parse(y.out) as { name: string }[]).map((p) => p.name)).to.deep.equal(['shop']);
  });

  it('an invalid file is reported like validate does, exit 1, and nothing is stored', async () => {
    const e = env();
    const unknown = file(e, PLAN.replace('rpo: 15m', 'rpo_target: 15m'));
    const r = await ferry(e, ['plan', 'apply', unknown]);
    expect(r.code).to.equal(1);
    expect(r.err.split('\n')).to.deep.equal([
      `ferry: error: ${unknown}:6:1: key 'rpo_target': unknown field 'rpo_target' (did you mean 'rpo'?) (fix: rename it to 'rpo')`,
      `ferry: ${unknown} is not a valid protection plan (1 problem)`,
    ]);
    const broken = file(e, 'name: shop\nmembers: [{tag: a}\n', 'broken.yaml');
    const b = await ferry(e, ['plan', 'apply', broken, '--offline']);
    expect(b.code).to.equal(1);
    expect(b.err).to.match(new RegExp(`^ferry: error: ${broken}:\\d+:\\d+: invalid YAML: `));
    const j = await ferry(e, ['plan', 'apply', unknown, '-f', 'json']);
    expect(JSON.parse(j.out)).to.include({ valid: false, stored: false });
    expect((await ferry(e, ['plan', 'list'])).out).to.equal('no plans (ferry plan apply FILE adds one)');
  });

  it('apply --dry-run stores nothing', async () => {
    const e = env();
    const r = await ferry(e, ['plan', 'apply', file(e, PLAN), '--offline', '--dry-run']);
    expect(r.code).to.equal(0);
    expect(r.out.split('\n')).to.deep.equal(['plan shop: would be created (site-a → site-b, pilot-light, rpo 15m, 1 member selector)', 'dry run: nothing stored']);
    expect((await ferry(e, ['plan', 'list'])).out).to.equal('no plans (ferry plan apply FILE adds one)');
  });

  it('apply online writes the bank; a plan that is not ready is refused with the report, nothing stored', async () => {
    const e = env();
    const { swift } = serveTwoSites(3);
    const bad = file(e, PLAN.replace(`  - tag: "${SCALE_TAG}"\n`, `  - tag: "${SCALE_TAG}"\n  - server: ghost\n`), 'bad.yaml');
    const refused = await ferry(e, ['plan', 'apply', bad]);
    expect(refused.code).to.equal(1);
    expect(refused.err.split('\n').at(-1)).to.equal(`ferry: ${bad} is valid but not ready (1 readiness check failed); nothing stored`);
    expect(refused.err).to.include(`ferry: error: ${bad}:10:13: key 'members[1].server': members server: ghost`);
    expect(refused.out).to.match(/^readiness site-a → site-b: NOT READY/);
    expect((await ferry(e, ['plan', 'list'])).out).to.equal('no plans (ferry plan apply FILE adds one)');
    expect(swift.objects.size).to.equal(0);

    const ok = await ferry(e, ['plan', 'apply', file(e, PLAN)]);
    expect(ok.code, ok.err).to.equal(0);
    const lines = ok.out.split('\n');
    expect(lines).to.have.length(3);
    expect(lines[0]).to.equal('plan shop: created (site-a → site-b, pilot-light, rpo 15m, 1 member selector)');
    expect(lines[1]).to.match(/^readiness: \d+ ok, 0 warnings, 3 servers discovered$/);
    expect(lines[2]).to.equal('bank: plans/shop/plan.json written at site-b (ferry-bank)');
    expect(swift.objects.has('plans/shop/plan.json')).to.equal(true);
  });

  it('delete keeps the points; --purge needs --yes; a deleted plan is listed with --deleted', async () => {
    const e = env();
    await ferry(e, ['plan', 'apply', file(e, PLAN), '--offline']);
    const p = await ferry(e, ['plan', 'delete', 'shop', '--purge']);
    expect(p.code).to.equal(1);
    expect(p.err).to.equal(
      'ferry: error: --purge deletes plan shop and its 0 recovery points: backups at site-a and site-b, the bank objects and the catalog rows; nothing was changed (fix: add --yes to confirm)',
    );
    expect((await ferry(e, ['plan', 'list'])).out).to.match(/│ shop /);
    // site-b's object store refuses: the deletion cannot be recorded in its bank, so nothing changes.
    mockAuth();
    nock(SWIFT).get(`/v1/AUTH_${PROJECT_ID}/ferry-bank/plans/shop/plan.json`).reply(403, '<html><h1>Forbidden</h1><p>Access was denied to this resource.</p></html>', { 'Content-Type': 'text/html' });
    const refused = await ferry(e, ['plan', 'delete', 'shop']);
    expect(refused.code).to.equal(1);
    expect(refused.err).to.match(/^ferry: error: plan 'shop': the deletion could not be recorded in the bank at site-b \(container ferry-bank\), so nothing was changed: .*returned 403.* \(fix: retry when site-b's object store is reachable, or delete it in the catalog only with 'ferry plan delete shop --offline'/);
    expect((await ferry(e, ['plan', 'list'])).out).to.match(/│ shop /);
    const d = await ferry(e, ['plan', 'delete', 'shop', '--offline']);
    expect(d.code).to.equal(0);
    expect(d.out).to.equal('plan shop: deleted; 0 recovery points kept (purge them with: ferry plan delete shop --purge --yes)');
    expect(d.err).to.equal("ferry: warning: the bank at the secondary was not updated (--offline): a catalog rebuilt from it would list plan shop again; run 'ferry plan delete shop' once the secondary is reachable");
    expect((await ferry(e, ['plan', 'list'])).out).to.equal('no plans (ferry plan apply FILE adds one)');
    expect((await ferry(e, ['plan', 'list', '--deleted'])).out).to.match(/│ shop \(deleted\)\s+│/);
    expect((await ferry(e, ['plan', 'show', 'shop'])).out).to.match(/│ plan\s+│ shop \(deleted at .*; recovery points kept\)/);
    const again = await ferry(e, ['plan', 'apply', file(e, PLAN), '--offline']);
    expect(again.code).to.equal(1);
    expect(again.err).to.match(/^ferry: error: .*plan\.yaml:1:7: key 'name': plan 'shop' was deleted at .* \(0 recovery points are kept\) \(fix: purge it first \(ferry plan delete shop --purge --yes\), or apply it under another name\)/);
    const missing = await ferry(e, ['plan', 'show', 'nope']);
    expect(missing.code).to.equal(1);
    expect(missing.err).to.equal("ferry: error: plan 'nope' not found in the catalog (see 'ferry plan list')");
  });

  it("delete marks the plan deleted in plan.json at the secondary's bank, then in the catalog", async () => {
    const e = env();
    const { swift } = serveTwoSites(2);
    expect((await ferry(e, ['plan', 'apply', file(e, PLAN)])).code).to.equal(0);
    const d = await ferry(e, ['plan', 'delete', 'shop']);
    expect(d.code, d.err).to.equal(0);
    expect(d.err).to.equal('');
    expect(d.out).to.equal('plan shop: deleted; 0 recovery points kept (purge them with: ferry plan delete shop --purge --yes)');
    expect(JSON.parse(swift.objects.get('plans/shop/plan.json')!)).to.have.property('deletedAt').that.matches(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('delete --purge --yes of a plan without points removes the bank documents and the row', async () => {
    const e = env();
    const { swift } = serveTwoSites(2);
    expect((await ferry(e, ['plan', 'apply', file(e, PLAN)])).code).to.equal(0);
    expect([...swift.objects.keys()].sort()).to.deep.equal(['bank.json', 'plans/shop/epoch.json', 'plans/shop/plan.json']);
    // No Cinder state at either site beyond the plan's marks (none).
    for (const host of [CINDER, CINDER_B]) {
      nock(host).persist().get(`/v3/${PROJECT_ID}/snapshots/detail`).query(true).reply(200, { snapshots: [] }).get(`/v3/${PROJECT_ID}/backups/detail`).query(true).reply(200, { backups: [] });
    }
    const r = await ferry(e, ['plan', 'delete', 'shop', '--purge', '--yes']);
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.equal('plan shop: purged (0 recovery points, 0 runs); site-b: 0 backups, 0 snapshots, 0 bank points deleted; site-a: 0 backups, 0 snapshots, 0 bank points deleted');
    expect(r.err.split('\n')).to.deep.equal([
      'ferry: site-b: bank ferry-bank: 0 recovery points and 2 plan documents deleted',
      'ferry: catalog: plan shop purged (0 recovery points, 0 runs, 0 journal entries)',
    ]);
    expect([...swift.objects.keys()]).to.deep.equal(['bank.json']);
    expect((await ferry(e, ['plan', 'list', '--deleted'])).out).to.equal('no plans (ferry plan apply FILE adds one)');
  });
});
