// The recovery scenario end to end, through the `ferry` CLI against the lab: a two-tier
// workload in project demo at site A (web and db networks, a security group per tier with a
// remote-group rule, a keypair, a web server booted from the image, a db server booted from a
// volume with a data volume of known bytes; members selected by a Nova tag) is protected to B;
// a DR test recovers it into a bubble at B (the data volume holds the point's bytes) and leaves
// nothing; site A's link is cut and `ferry failover --unplanned` brings it up at B from the
// point (checksums); new bytes are written at B; A comes back and is fenced; `ferry failback`
// brings the workload home with B's bytes, leaves nothing of it at B but the bank, and
// replication runs A→B again. Runs under the exclusive lab lock: it cuts site A.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { loadCloud } from '../../lib/config/clouds.js';
import { deleteStackAndWait } from '../../lib/heat/deploy.js';
import { MemoryLogger } from '../../lib/log.js';
import { getVolume, listVolumes } from '../../lib/openstack/blockstorage/volumes.js';
import { deleteKeypair, getKeypair } from '../../lib/openstack/compute/keypairs.js';
import { getServer, listServers, type Server } from '../../lib/openstack/compute/servers.js';
import { listNetworks } from '../../lib/openstack/network/networks.js';
import { listPorts } from '../../lib/openstack/network/ports.js';
import { listSecurityGroupRules, listSecurityGroups } from '../../lib/openstack/network/securitygroups.js';
import { findStack, listStacks } from '../../lib/openstack/orchestration/stacks.js';
import { collect } from '../../lib/openstack/paginate.js';
import { Site } from '../../lib/openstack/site.js';
import { cleanupDrTest } from '../../lib/workflows/cleanup.js';
import { FENCED_TAG } from '../../lib/workflows/fence.js';
import { DEMO_CLOUDS, DEMO_PROJECT, buildTwoTier, demoClouds, removeServer, removeVolumeWhenSettled, volumeSha, writeVolumeSeed, type TwoTier } from '../../devstack/lab/demo-workload.js';
import { cli, type Cli } from './support/cli.js';
import { CLOUDS_FILE, Cleanup, RUN_TAG, TIMEOUTS, serviceLogTails, uniqueName } from './support/lab.js';
import { purgePlanArtifacts, sleep } from './support/workload.js';

const exec = promisify(execFile);
const DISASTER = join(import.meta.dirname, '..', '..', 'devstack', 'lab', 'lab-disaster.sh');
const PRIMARY = DEMO_CLOUDS.a;
const SECONDARY = DEMO_CLOUDS.b;

interface RecoveryJson {
  status: string;
  mode?: string;
  runId: string;
  recoverRunId: string | null;
  pointId: string | null;
  stackName: string | null;
  rtoMs: number | null;
  rpoMs: number | null;
  servers: { id: string; name: string; status: string }[];
  error: string | null;
}

interface DrTestJson {
  run: string;
  status: string;
  report: string | null;
  rtoMs: number | null;
  rpoMs: number | null;
  stack: string | null;
  error: string | null;
}

interface PlanRow {
  name: string;
  activeSite: string;
  epoch: number;
}

/** The volumes Ferry restored at a site for a source volume (marked ferry:source and ferry:plan). */
async function restoredFrom(site: Site, plan: string, sourceVolumeId: string) {
  return collect(listVolumes(site.blockStorage, { metadata: { 'ferry:source': sourceVolumeId, 'ferry:plan': plan } }));
}

/** The server's attached volumes: its boot volume (bootable) and the others. */
async function attachedVolumes(site: Site, s: Server): Promise<{ boot?: string; data: string[] }> {
  const out: { boot?: string; data: string[] } = { data: [] };
  for (const ref of s['os-extended-volumes:volumes_attached']) {
    const v = await getVolume(site.blockStorage, ref.id);
    if (v.bootable === 'true' && out.boot === undefined) out.boot = v.id;
    else out.data.push(v.id);
  }
  return out;
}

describe('lab: two-tier workload: protect, DR test, unplanned failover with A cut, fence, failback with B\'s data, reprotect', function () {
  this.timeout(3_600_000);
  const cleanup = new Cleanup();
  const timings: Record<string, number> = {};
  let dir: string;
  let previousClouds: string | undefined;
  let A: Site;
  let B: Site;
  let ferry: Cli['ferry'];
  let ok: Cli['ok'];
  let w: TwoTier;
  let plan: string;
  let broken = false;
  let cut = false;
  const pointShas: Record<string, string> = {};
  let shaWrittenAtB = '';

  const heal = async () => {
    await exec('bash', [DISASTER, 'a', 'heal']);
    cut = false;
  };
  const timed = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      timings[label] = Date.now() - t0;
    }
  };
  const plans = async (): Promise<PlanRow[]> => JSON.parse((await ok('plan', 'list', '-f', 'json')).out) as PlanRow[];

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'ferry-two-tier-'));
    // Ferry's clouds: the lab's admin user scoped to project demo (the CLI reads the file from the environment).
    const clouds = demoClouds(CLOUDS_FILE, join(dir, 'clouds.yaml'));
    previousClouds = process.env.OS_CLIENT_CONFIG_FILE;
    process.env.OS_CLIENT_CONFIG_FILE = clouds;
    const site = (name: string) => new Site(loadCloud(name, { env: { ...process.env, OS_CLIENT_CONFIG_FILE: clouds } }), { logger: new MemoryLogger(), timeoutMs: 120_000 });
    A = site(PRIMARY);
    B = site(SECONDARY);
    ({ ferry, ok } = cli(`sqlite://${join(dir, 'catalog.db')}`));
  });

  beforeEach(function () {
    if (broken) this.skip();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      broken = true;
      console.log(serviceLogTails(['a', 'b']));
    }
  });

  after(async function () {
    this.timeout(1_200_000);
    if (cut) await heal().catch((err: Error) => cleanup.leftovers.push(`heal site a: ${err.message}`));
    await cleanup.runAll();
    if (previousClouds === undefined) delete process.env.OS_CLIENT_CONFIG_FILE;
    else process.env.OS_CLIENT_CONFIG_FILE = previousClouds;
    rmSync(dir, { recursive: true, force: true });
    for (const [k, v] of Object.entries(timings)) console.log(`      ${k}: ${(v / 1000).toFixed(1)} s`);
    if (cleanup.leftovers.length > 0) throw new Error(`cleanup left resources behind:\n  ${cleanup.leftovers.join('\n  ')}`);
  });

  it('protects a two-tier workload in project demo at A (plan apply by tag, one full cycle)', async () => {
    const prefix = uniqueName('2t');
    const tag = `${prefix}-app`;
    w = await timed('build the workload at A', () =>
      buildTwoTier(A, { prefix, tag, seed: `${prefix}-seed-a`, dataMb: 8, timeoutMs: TIMEOUTS.server, onCreate: (what, undo) => cleanup.add(what, undo) }),
    );
    expect(w.adopted, 'a fresh workload').to.deep.equal([]);
    plan = uniqueName('plan');
    // Whatever the scenario leaves: recovered servers and volumes at either site (by their marks), the plan's backups and points.
    // Runs last: when the purge below failed, what it left in the banks and the catalog goes once the marks are swept.
    let purgeFailed = false;
    cleanup.add(`catalog plan ${plan} (purge again after the sweep)`, async () => {
      if (purgeFailed) await ferry('plan', 'delete', plan, '--purge', '--yes');
    });
    cleanup.add(`plan ${plan}: marks at ${SECONDARY}`, () => purgePlanArtifacts(B, plan));
    cleanup.add(`plan ${plan}: marks at ${PRIMARY}`, () => purgePlanArtifacts(A, plan));
    for (const site of [A, B]) {
      cleanup.add(`${site.name} volumes marked ferry:plan=${plan}`, async () => {
        for (const v of await collect(listVolumes(site.blockStorage, { metadata: { 'ferry:plan': plan } }))) await removeVolumeWhenSettled(site.blockStorage, v.id, TIMEOUTS.volume);
      });
    }
    cleanup.add(`${SECONDARY} keypair ${w.keypair}`, () => deleteKeypair(B.compute, w.keypair));
    for (const site of [A, B]) {
      cleanup.add(`${site.name} servers tagged ${tag} (recovered copies)`, async () => {
        for (const s of await collect(listServers(site.compute, { tags: [tag] }))) if (s.id !== w.web.id && s.id !== w.db.id) await removeServer(site.compute, s.id, TIMEOUTS.server);
      });
      cleanup.add(`${site.name} stacks of ${plan}`, async () => {
        for (const s of await collect(listStacks(site.orchestration, { tags: [`ferry:plan=${plan}`] }))) await deleteStackAndWait(site, s.stack_name, { timeoutMs: TIMEOUTS.stack });
      });
    }
    cleanup.add(`${SECONDARY} DR-test leftovers of ${plan}`, () => cleanupDrTest(B, { plan, knownRuns: [], activeRuns: [] }));

    pointShas.boot = await volumeSha('a', w.db.bootVolumeId);
    pointShas.data = await volumeSha('a', w.db.dataVolumeId);
    const planFile = join(dir, 'plan.yaml');
    writeFileSync(
      planFile,
      stringify({
        name: plan,
        description: `lab two-tier scenario ${RUN_TAG}`,
        project: DEMO_PROJECT,
        primary: PRIMARY,
        secondary: SECONDARY,
        tier: 'pilot-light',
        rpo: '15m',
        retention: { count: 3 },
        members: [{ tag: w.tag }],
        mappings: { networks: [{ from: w.networks.web.name, recreate: true }, { from: w.networks.db.name, recreate: true }] },
      }),
    );
    await ok('plan', 'apply', planFile);
    cleanup.add(`catalog plan ${plan} (purge)`, async () => {
      const r = await ferry('plan', 'delete', plan, '--purge', '--yes');
      purgeFailed = r.code !== 0;
      if (purgeFailed) throw new Error(`ferry plan delete ${plan} --purge: ${r.err.split('\n').filter((l) => l.includes('error')).join('; ')}`);
    });
    const cycle = JSON.parse((await timed('replicate (full)', () => ok('replicate', plan, '-f', 'json'))).out) as { pointId: string; status: string; volumes: { total: number } };
    expect(cycle.status).to.equal('complete');
    expect(cycle.volumes.total, 'the db boot and data volumes').to.equal(2);
    const points = JSON.parse((await ok('points', 'list', plan, '-f', 'json')).out) as { id: string; status: string; targetSite: string }[];
    expect(points.map((p) => [p.id, p.status, p.targetSite])).to.deep.equal([[cycle.pointId, 'complete', SECONDARY]]);
  });

  it('DR test: a bubble at B holds the point\'s bytes, is verified and torn down; production and the plan untouched', async () => {
    const before = (await plans()).find((p) => p.name === plan)!;
    // Held 2 minutes so the bubble's data volume can be read while it is up.
    const drill = timed('DR test (keep 2m)', () => ferry('test', plan, '--keep', '2m', '--report-dir', join(dir, 'reports'), '-f', 'json'));
    let bubbleSha: string | undefined;
    const deadline = Date.now() + TIMEOUTS.stack;
    while (bubbleSha === undefined && Date.now() < deadline) {
      const restored = (await restoredFrom(B, plan, w.db.dataVolumeId)).filter((v) => v.status === 'in-use');
      if (restored.length === 1) bubbleSha = await volumeSha('b', restored[0]!.id);
      else await sleep(3000);
    }
    const r = await drill;
    const out = JSON.parse(r.out) as DrTestJson;
    expect(r.code, `${r.err}\n${r.out}`).to.equal(0);
    expect(out).to.include({ status: 'succeeded', report: 'passed' });
    expect(bubbleSha, "the bubble's data volume holds the point's bytes").to.equal(pointShas.data);

    expect(await findStack(B.orchestration, out.stack!), 'the bubble stack is gone').to.equal(undefined);
    const left = await cleanupDrTest(B, { plan, knownRuns: [out.run], dryRun: true });
    expect(left.deleted.map((i) => `${i.kind} ${i.name}`), 'nothing of the test at B').to.deep.equal([]);
    expect(await restoredFrom(B, plan, w.db.dataVolumeId), 'no restored volume at B').to.deep.equal([]);
    for (const id of [w.web.id, w.db.id]) expect((await getServer(A.compute, id)).status, 'production at A runs').to.equal('ACTIVE');
    expect(await volumeSha('a', w.db.dataVolumeId), 'production data untouched').to.equal(pointShas.data);
    const after = (await plans()).find((p) => p.name === plan)!;
    expect([after.activeSite, after.epoch]).to.deep.equal([PRIMARY, before.epoch]);
    console.log(`      DR test: RTO ${out.rtoMs} ms, RPO ${out.rpoMs} ms`);
  });

  it('unplanned failover with A cut: the workload runs at B from the point, with its bytes', async () => {
    await exec('bash', [DISASTER, 'a', 'cut']);
    cut = true;
    const r = await timed('failover --unplanned', () => ok('failover', plan, '--unplanned', '-f', 'json'));
    const out = JSON.parse(r.out) as RecoveryJson;
    expect(out.status).to.equal('succeeded');
    expect(out.servers.map((s) => [s.name, s.status]).sort()).to.deep.equal([
      [w.db.name, 'ACTIVE'],
      [w.web.name, 'ACTIVE'],
    ]);
    const stack = await findStack(B.orchestration, out.stackName!);
    expect(stack?.stack_status).to.equal('CREATE_COMPLETE');

    // the restored volumes hold the point's bytes
    const [boot] = await restoredFrom(B, plan, w.db.bootVolumeId);
    const [data] = await restoredFrom(B, plan, w.db.dataVolumeId);
    expect(await volumeSha('b', boot!.id), 'db boot volume at B').to.equal(pointShas.boot);
    expect(await volumeSha('b', data!.id), 'db data volume at B').to.equal(pointShas.data);

    // the db server at B boots from the restored boot volume, has the data volume, the keypair, both networks recreated
    const atB = await Promise.all(out.servers.map((s) => getServer(B.compute, s.id)));
    const db = atB.find((s) => s.name === w.db.name)!;
    const web = atB.find((s) => s.name === w.web.name)!;
    expect(await attachedVolumes(B, db)).to.deep.equal({ boot: boot!.id, data: [data!.id] });
    expect(Object.keys(db.addresses)).to.deep.equal([w.networks.db.name]);
    expect(Object.keys(web.addresses)).to.deep.equal([w.networks.web.name]);
    expect([db.key_name, web.key_name]).to.deep.equal([w.keypair, w.keypair]);
    await getKeypair(B.compute, w.keypair);
    // the remote-group rule: the db group at B admits 5432 from the web group at B
    const groupsAtB = await collect(listSecurityGroups(B.network));
    const groupOf = (s: Server) => groupsAtB.filter((g) => g.name === s.security_groups?.[0]?.name);
    expect(groupOf(db), `one db security group at B named as db's`).to.have.length(1);
    const rules = await collect(listSecurityGroupRules(B.network, { security_group_id: groupOf(db)[0]!.id, direction: 'ingress' }));
    const pg = rules.find((x) => x.port_range_min === 5432);
    expect(pg?.remote_group_id, 'db admits 5432 from the web group at B').to.equal(groupOf(web)[0]?.id);

    const row = (await plans()).find((p) => p.name === plan)!;
    expect(row.activeSite).to.equal(SECONDARY);
    console.log(`      unplanned failover: RTO ${out.rtoMs} ms, RPO ${out.rpoMs} ms, point ${out.pointId}`);

    // the application writes at B
    await writeVolumeSeed('b', data!.id, `${plan}-written-at-b`, 8, 4);
    shaWrittenAtB = await volumeSha('b', data!.id);
    expect(shaWrittenAtB).to.not.equal(pointShas.data);
  });

  it('A back: its old servers are fenced (stopped, locked, tagged)', async () => {
    await heal();
    const r = await timed('fence', () => ok('fence', plan, '-f', 'json'));
    expect(JSON.parse(r.out)).to.deep.include({ status: 'fenced', site: PRIMARY, servers: 2 });
    for (const id of [w.web.id, w.db.id]) {
      const s = await getServer(A.compute, id);
      expect([s.name, s.status, s.locked, s.tags?.includes(FENCED_TAG)]).to.deep.equal([s.name, 'SHUTOFF', true, true]);
    }
  });

  it("failback: the workload runs at A again with B's bytes, nothing of it left at B, replication A→B resumes", async function () {
    const help = await ferry('failback', '--help');
    if (help.code !== 0 || !/Usage: ferry failback/.test(help.out + help.err)) this.skip(); // not in this build yet

    const dry = await ok('failback', plan, '--dry-run');
    expect(dry.out).to.include('Nothing was changed (dry run).');
    const r = await timed('failback', () => ok('failback', plan, '-f', 'json'));
    const out = JSON.parse(r.out) as RecoveryJson;
    expect(out.status).to.equal('succeeded');
    console.log(`      failback: RTO ${out.rtoMs} ms, RPO ${out.rpoMs} ms`);

    // ---- at A: a stack of the plan, its servers ACTIVE on the original networks, the data written at B
    const stacksAtA = await collect(listStacks(A.orchestration, { tags: [`ferry:plan=${plan}`] }));
    expect(stacksAtA.map((s) => s.stack_status)).to.deep.equal(['CREATE_COMPLETE']);
    const running = (await collect(listServers(A.compute, { tags: [w.tag] }))).filter((s) => s.id !== w.web.id && s.id !== w.db.id);
    expect(running.map((s) => [s.name, s.status]).sort()).to.deep.equal([
      [w.db.name, 'ACTIVE'],
      [w.web.name, 'ACTIVE'],
    ]);
    const db = running.find((s) => s.name === w.db.name)!;
    const web = running.find((s) => s.name === w.web.name)!;
    const networksOf = async (id: string) => (await collect(listPorts(A.network, { device_id: id }))).map((p) => p.network_id);
    expect(await networksOf(db.id), 'db on the original db network').to.deep.equal([w.networks.db.id]);
    expect(await networksOf(web.id), 'web on the original web network').to.deep.equal([w.networks.web.id]);
    expect((await collect(listNetworks(A.network, { name: [w.networks.web.name, w.networks.db.name] }))).map((n) => n.id).sort(), 'no second network of the same names at A').to.deep.equal([w.networks.web.id, w.networks.db.id].sort());
    const vols = await attachedVolumes(A, db);
    expect(vols.data, 'one data volume').to.have.length(1);
    expect(await volumeSha('a', vols.data[0]!), "the data volume at A holds the bytes written at B").to.equal(shaWrittenAtB);
    expect(await volumeSha('a', vols.boot!), 'the boot volume came back').to.equal(pointShas.boot);

    // ---- at B: nothing of the plan but the bank
    expect(await collect(listStacks(B.orchestration, { tags: [`ferry:plan=${plan}`] })), 'no stack of the plan at B').to.deep.equal([]);
    expect(await collect(listServers(B.compute, { tags: [w.tag] })), 'no server of the workload at B').to.deep.equal([]);
    expect(await collect(listVolumes(B.blockStorage, { metadata: { 'ferry:plan': plan } })), 'no volume of the plan at B').to.deep.equal([]);

    // ---- protection runs A→B again
    const row = (await plans()).find((p) => p.name === plan)!;
    expect(row.activeSite).to.equal(PRIMARY);
    const cycle = JSON.parse((await timed('replicate after failback', () => ok('replicate', plan, '-f', 'json'))).out) as { pointId: string; status: string };
    expect(cycle.status).to.equal('complete');
    const points = JSON.parse((await ok('points', 'list', plan, '-f', 'json')).out) as { id: string; targetSite: string }[];
    expect(points[0]).to.deep.include({ id: cycle.pointId, targetSite: SECONDARY });
    // the point protects the running workload, not the fenced servers it replaced
    const shown = JSON.parse((await ok('points', 'show', plan, cycle.pointId, '-f', 'json')).out) as { manifest: { members: { server: { id: string } }[] } };
    expect(shown.manifest.members.map((m) => m.server.id).sort()).to.deep.equal([db.id, web.id].sort());
  });
});
