// The non-disruptive DR test end to end against the lab, through the `ferry` CLI: a server
// booted from a volume with a data volume at site A is protected to B (plan apply, one full
// cycle); `ferry test PLAN --keep 0` recovers it into an isolated bubble at B, verifies it,
// writes the JSON and HTML report (RTO, RPO) and tears it down. Afterwards nothing of the test
// is left at B (no stack, the cleanup finds nothing), production at A runs as before and the
// plan's epoch and active site did not move. Site B only: site A may be cut by another test.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { openCatalog } from '../../lib/catalog/db.js';
import { CatalogRepo } from '../../lib/catalog/repo.js';
import { deleteStackAndWait } from '../../lib/heat/deploy.js';
import { getServer } from '../../lib/openstack/compute/servers.js';
import { findStack } from '../../lib/openstack/orchestration/stacks.js';
import { cleanupDrTest } from '../../lib/workflows/cleanup.js';
import type { DrTestReport } from '../../lib/workflows/report.js';
import { cli } from './support/cli.js';
import { labSite, uniqueName, useLab } from './support/lab.js';
import { bootFromVolumeWorkload, purgePlanArtifacts } from './support/workload.js';

interface DrTestJson {
  plan: string;
  run: string;
  status: string;
  report: string | null;
  rtoMs: number | null;
  rpoMs: number | null;
  stack: string | null;
  reportJson: string | null;
  reportHtml: string | null;
  error: string | null;
}

describe('lab: DR test (ferry test PLAN --keep 0): isolated recovery at B, report, nothing left behind', function () {
  this.timeout(1_800_000);
  const { cleanup } = useLab();
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-drtest-lab-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('recovers, verifies, reports RTO and RPO, tears down; production and the plan untouched', async () => {
    const A = labSite('lab-a');
    const B = labSite('lab-b');
    const c = cleanup();
    const db = `sqlite://${join(dir, 'catalog.db')}`;
    const { ferry, ok } = cli(db);

    // ---- a protected workload at A
    const w = await bootFromVolumeWorkload(c, A, { seed: uniqueName('seed'), dataMb: 8 });
    const plan = uniqueName('plan');
    c.add(`plan ${plan} marks at lab-b`, () => purgePlanArtifacts(B, plan));
    c.add(`plan ${plan} marks at lab-a`, () => purgePlanArtifacts(A, plan));
    const planFile = join(dir, `${plan}.yaml`);
    writeFileSync(
      planFile,
      stringify({
        name: plan,
        project: 'admin',
        primary: 'lab-a',
        secondary: 'lab-b',
        tier: 'pilot-light',
        rpo: '15m',
        retention: { count: 3 },
        members: [{ server: w.serverName }],
        mappings: { networks: [{ from: w.networkName, recreate: true }] },
      }),
    );
    await ok('plan', 'apply', planFile);
    c.add(`catalog plan ${plan}`, async () => {
      await ferry('plan', 'delete', plan, '--purge', '--yes');
    });
    // Whatever happens to the test: the DR test's leftovers at B go.
    c.add(`DR-test leftovers of ${plan} at lab-b`, async () => {
      await cleanupDrTest(B, { plan, knownRuns: [], activeRuns: [] });
    });
    const cycle = JSON.parse((await ok('replicate', plan, '-f', 'json')).out) as { pointId: string; status: string };
    expect(cycle.status).to.equal('complete');

    const catalogPlan = async () => {
      const catalog = await openCatalog(db);
      try {
        return (await new CatalogRepo(catalog).plans.get(plan))!;
      } finally {
        await catalog.close();
      }
    };
    const before = await catalogPlan();

    // ---- the drill
    const reports = join(dir, 'reports');
    const t0 = Date.now();
    const r = await ferry('test', plan, '--keep', '0', '--report-dir', reports, '-f', 'json');
    const wallMs = Date.now() - t0;
    const out = JSON.parse(r.out) as DrTestJson;
    if (out.stack) c.add(`stack ${out.stack} at lab-b`, () => deleteStackAndWait(B, out.stack!));
    expect(r.code, `${r.err}\n${r.out}`).to.equal(0);
    expect(out.status).to.equal('succeeded');
    expect(out.report).to.equal('passed');
    expect(out.stack).to.match(new RegExp(`^ferry-${plan}-drtest-[0-9a-f]{8}$`));
    expect(r.err, 'progress on stderr').to.match(/stack (act|done)/);

    // ---- the report
    expect(existsSync(out.reportJson!) && existsSync(out.reportHtml!)).to.equal(true);
    const report = JSON.parse(readFileSync(out.reportJson!, 'utf8')) as DrTestReport;
    expect(report).to.include({ plan, site: 'lab-b', outcome: 'passed' });
    expect(report.recoveryPoint.id).to.equal(cycle.pointId);
    expect(report.rto.ms).to.be.a('number').and.greaterThan(0).and.lessThan(wallMs);
    expect(report.rpo.ms).to.be.a('number').and.at.least(0);
    expect(report.verifications.filter((v) => v.check === 'server-active').map((v) => v.ok)).to.deep.equal([true]);
    expect(report.verified.failed).to.equal(0);
    const html = readFileSync(out.reportHtml!, 'utf8');
    expect(html).to.include(report.rto.text);

    // ---- nothing of the test at B
    expect(await findStack(B.orchestration, out.stack!), 'the stack is gone').to.equal(undefined);
    const left = await cleanupDrTest(B, { plan, knownRuns: [out.run], dryRun: true });
    expect(left.deleted.map((i) => `${i.kind} ${i.name}`), 'the cleanup finds nothing').to.deep.equal([]);

    // ---- production untouched, the plan did not move
    expect((await getServer(A.compute, w.serverId)).status).to.equal('ACTIVE');
    const after = await catalogPlan();
    expect([after.epoch, after.activeSite]).to.deep.equal([before.epoch, before.activeSite]);
    expect(after.activeSite).to.equal('lab-a');
    const runs = JSON.parse((await ok('runs', 'list', '--plan', plan, '--kind', 'drtest', '-f', 'json')).out) as { id: string; status: string }[];
    expect(runs.map((x) => `${x.id} ${x.status}`)).to.deep.equal([`${out.run} succeeded`]);

    console.log(`      DR test of ${plan}: RTO ${report.rto.text} (${report.rto.ms} ms), RPO ${report.rpo.text}, wall ${wallMs} ms, steps ${report.steps.map((s) => `${s.name} ${s.durationMs} ms`).join(', ')}`);
  });
});
