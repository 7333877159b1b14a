// `ferry test cleanup PLAN` through the CLI entry point: the site and the DR-test runs come from
// the catalog (a SQLite file), the site is the fake secondary of fake-leftovers.ts; output
// formats, exit codes, the dry-run, and a plan the catalog does not know.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCatalog } from '../../../lib/catalog/db.js';
import { CatalogRepo } from '../../../lib/catalog/repo.js';
import { run } from '../../../lib/cli/main.js';
import { markTag } from '../../../lib/heat/names.js';
import { DRTEST_TAG, modeTag, type CleanupResult } from '../../../lib/workflows/cleanup.js';
import { KEYSTONE, PASSWORD, useNock } from '../../support/fake-cloud.js';
import { FakeSecondary } from '../workflows/fake-leftovers.js';

const tags = (run: string, ...extra: string[]) => [markTag('plan', 'web'), markTag('point', 'pt-1'), markTag('run', run), ...extra];

/** A DR-test stack, production, and a volume only the catalog's run ID identifies as a DR test's. */
function secondary(): FakeSecondary {
  const f = new FakeSecondary();
  f.stacks.push({ id: 'st-t1', name: 'ferry-web-drtest-runt1', tags: tags('run-t1', modeTag('drtest')), status: 'CREATE_COMPLETE' });
  f.networks.push({ id: 'n-t1', name: 'drtest-app-net', tags: tags('run-t1', DRTEST_TAG), stack: 'st-t1' });
  f.stacks.push({ id: 'st-prod', name: 'ferry-web-failover', tags: tags('run-f1', modeTag('failover')), status: 'CREATE_COMPLETE' });
  f.volumes.push({ id: 'v-prod', name: 'db-data', metadata: { 'ferry:plan': 'web', 'ferry:run': 'run-f1' }, status: 'available', attachedTo: [] });
  // Restored by a DR test whose stack is gone; marked with its run only (Heat's restore sets no metadata; the workflow did).
  f.volumes.push({ id: 'v-t0', name: 'drtest-db-data', metadata: { 'ferry:plan': 'web', 'ferry:run': 'run-t0' }, status: 'available', attachedTo: [] });
  return f;
}

describe('cli: ferry test cleanup', () => {
  useNock();
  let dir: string;
  let db: string;
  let clouds: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-cli-drtest-'));
    db = `sqlite://${join(dir, 'catalog.db')}`;
    clouds = join(dir, 'clouds.yaml');
    writeFileSync(clouds, `clouds:\n  site-b:\n    auth: {auth_url: ${KEYSTONE}/v3, username: ferry, password: ${PASSWORD}, project_name: admin}\n    region_name: RegionOne\n`);
    const catalog = await openCatalog(db);
    try {
      const repo = new CatalogRepo(catalog);
      await repo.plans.upsert({ name: 'web', project: 'shop', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 900_000, spec: { name: 'web' } });
      await repo.runs.create({ planName: 'web', kind: 'drtest', owner: 'cli@ops', id: 'run-t0' });
      await repo.runs.update('run-t0', { status: 'failed' });
      await repo.runs.create({ planName: 'web', kind: 'failover', owner: 'cli@ops', id: 'run-f1' });
      await repo.runs.update('run-f1', { status: 'succeeded' });
    } finally {
      await catalog.close();
    }
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function ferry(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const saved = process.env.OS_CLIENT_CONFIG_FILE;
    process.env.OS_CLIENT_CONFIG_FILE = clouds;
    try {
      const code = await run(['--db', db, ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
      return { code, out: out.join('\n'), err: err.join('\n') };
    } finally {
      if (saved === undefined) delete process.env.OS_CLIENT_CONFIG_FILE;
      else process.env.OS_CLIENT_CONFIG_FILE = saved;
    }
  }

  it("cleans the plan's secondary with the catalog's DR-test runs, leaves production, exit 0 (json)", async () => {
    const f = secondary().install();
    const r = await ferry('test', 'cleanup', 'web', '-f', 'json');
    expect(r.code, r.err).to.equal(0);
    const result = JSON.parse(r.out) as CleanupResult;
    expect(result).to.include({ plan: 'web', site: 'site-b', dryRun: false });
    expect(result.deleted.map((i) => `${i.kind} ${i.name}`)).to.deep.equal(['stack ferry-web-drtest-runt1', 'volume drtest-db-data']);
    expect(result.deleted[1]!.note).to.equal('run run-t0 is a DR test');
    expect(result.kept.map((i) => `${i.kind} ${i.name}`)).to.deep.equal(['stack ferry-web-failover', 'volume db-data']);
    // The catalog's failover run is not passed as a DR test's: the production volume is kept for that reason too.
    expect(result.runs).to.deep.equal(['run-t0', 'run-t1']);
    expect(f.ops).to.deep.equal(['DELETE stack ferry-web-drtest-runt1', 'DELETE volume drtest-db-data (cascade)']);
    expect(r.err).to.include('deleting stack ferry-web-drtest-runt1').and.include('deleted volume drtest-db-data');
  });

  it('dry-run prints a table of what would go and what stays, and deletes nothing', async () => {
    const f = secondary().install();
    const r = await ferry('test', 'cleanup', 'web', '--dry-run');
    expect(r.code, r.err).to.equal(0);
    expect(f.ops).to.deep.equal([]);
    expect(r.out).to.match(/DR-test leftovers of plan web at site-b \(project [0-9a-f]+\), dry run:/);
    expect(r.out).to.match(/would delete.*stack.*ferry-web-drtest-runt1/);
    expect(r.out).to.match(/would delete.*network.*drtest-app-net.*with stack ferry-web-drtest-runt1/);
    expect(r.out).to.match(/left alone.*stack.*ferry-web-failover.*a failover resource/);
    expect(r.out).to.include('3 would delete, 0 failed, 2 left alone; DR-test runs: run-t0, run-t1.');
    expect(r.out).to.include('Run it without --dry-run to delete them.');
  });

  it('exit 1 with the failures and the way out when something cannot be deleted', async () => {
    const f = secondary();
    f.stacks[0]!.failDeletes = Infinity;
    f.stacks[0]!.deleteReason = 'Resource DELETE failed: Conflict';
    f.install();
    const r = await ferry('test', 'cleanup', 'web', '--site', 'site-b');
    expect(r.code).to.equal(1);
    expect(r.out).to.match(/FAILED.*stack.*ferry-web-drtest-runt1.*Heat could not delete it: Resource DELETE failed: Conflict/s);
    expect(r.out).to.include('Fix what the failures name, then run ferry test cleanup web --site site-b again: it is safe to repeat.');
  });

  it('a plan the catalog does not know: refused without --site, cleaned by its marks alone with it', async () => {
    const none = await ferry('test', 'cleanup', 'shop');
    expect(none.code).to.equal(1);
    expect(none.err).to.include("plan 'shop'").and.include('ferry test cleanup shop --site CLOUD');

    const f = new FakeSecondary();
    f.networks.push({ id: 'n-s', name: 'drtest-shop-net', tags: [markTag('plan', 'shop'), markTag('run', 'run-s'), DRTEST_TAG] });
    f.install();
    const r = await ferry('test', 'cleanup', 'shop', '--site', 'site-b', '-f', 'yaml');
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.include('plan shop is not in the catalog; looking for its DR-test marks at site-b');
    expect(r.out).to.match(/kind: network\n\s+id: n-s\n\s+name: drtest-shop-net/);
    expect(f.ops).to.deep.equal(['DELETE network drtest-shop-net']);
  });

  it('leaves what a DR test still running made, unless --include-running', async () => {
    const catalog = await openCatalog(db);
    await new CatalogRepo(catalog).runs.create({ planName: 'web', kind: 'drtest', owner: 'daemon-1', id: 'run-t1' });
    await catalog.close();
    const f = secondary().install();
    const held = await ferry('test', 'cleanup', 'web', '-f', 'json');
    expect(held.code, held.err).to.equal(0);
    const r1 = JSON.parse(held.out) as CleanupResult;
    expect(r1.deleted.map((i) => i.name)).to.deep.equal(['drtest-db-data']);
    expect(r1.kept.find((i) => i.name === 'ferry-web-drtest-runt1')?.reason).to.equal('run run-t1 is still running (a DR test in progress or within its --keep time; fix: let it finish, or ferry resume run-t1)');
    expect(f.ops).to.deep.equal(['DELETE volume drtest-db-data (cascade)']);

    f.newClient();
    const forced = await ferry('test', 'cleanup', 'web', '--include-running', '-f', 'json');
    expect(forced.code, forced.err).to.equal(0);
    expect((JSON.parse(forced.out) as CleanupResult).deleted.map((i) => i.name)).to.deep.equal(['ferry-web-drtest-runt1']);
    expect(f.ops).to.deep.equal(['DELETE volume drtest-db-data (cascade)', 'DELETE stack ferry-web-drtest-runt1']);
  });

  it('ferry test lists cleanup; an unknown cloud is an error naming clouds.yaml', async () => {
    const help = await ferry('test', '--help');
    expect(help.code).to.equal(0);
    expect(help.out).to.include('cleanup [options] <plan>');
    const sub = await ferry('test', 'cleanup', '--help');
    expect(sub.out).to.include('--site <cloud>').and.include('--dry-run').and.include('--include-running').and.include('-f, --format <format>');
    const bad = await ferry('test', 'cleanup', 'web', '--site', 'nowhere');
    expect(bad.code).to.equal(1);
    expect(bad.err).to.include('nowhere');
  });
});
