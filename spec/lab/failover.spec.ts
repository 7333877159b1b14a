// Failover end to end against the lab, through the `ferry` CLI and the library: a workload at
// site A (a server booted from a volume with a data volume of known bytes, a server booted from
// an image) is protected to B. Unplanned: site A's link is cut, `ferry failover --unplanned`
// is killed twice mid-run (while Heat builds the stack, then while the servers are checked)
// and resumed with `ferry resume`; the servers run at B and the restored volumes hold the
// point's bytes; site A healed, `ferry fence` stops, tags and locks the old servers. Planned:
// `ferry failover --planned` stops A's servers, takes a final cycle (RPO 0), recovers at B and
// fences A in its last step.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { openCatalog } from '../../lib/catalog/db.js';
import { CatalogRepo } from '../../lib/catalog/repo.js';
import { deleteStackAndWait } from '../../lib/heat/deploy.js';
import { listVolumes } from '../../lib/openstack/blockstorage/volumes.js';
import { getServer, listServers, unlockServer } from '../../lib/openstack/compute/servers.js';
import { findStack } from '../../lib/openstack/orchestration/stacks.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { Site } from '../../lib/openstack/site.js';
import { silentLogger } from '../../lib/log.js';
import { resumeRegistered } from '../../lib/workflows/engine.js';
import { failover } from '../../lib/workflows/failover.js';
import { FENCED_TAG } from '../../lib/workflows/fence.js';
import { cli, type Cli } from './support/cli.js';
import { labSite, uniqueName, useLab, type Cleanup } from './support/lab.js';
import { volumeSha256 } from './support/volume-data.js';
import { bootFromVolumeWorkload, labImageServer, purgePlanArtifacts, type LabWorkload } from './support/workload.js';

const exec = promisify(execFile);
const DISASTER = join(import.meta.dirname, '..', '..', 'devstack', 'lab', 'lab-disaster.sh');

interface FailoverJson {
  status: string;
  mode: string;
  runId: string;
  recoverRunId: string | null;
  pointId: string;
  stackName: string;
  stackId: string;
  rtoMs: number;
  rpoMs: number;
  servers: { id: string; name: string; status: string }[];
}

/** A protected workload at A: the plan applied, one full cycle replicated. */
async function protectedWorkload(c: Cleanup, dir: string, A: Site, B: Site, ok: Cli['ok'], ferry: Cli['ferry']) {
  const seed = uniqueName('seed');
  const w = await bootFromVolumeWorkload(c, A, { seed, dataMb: 8 });
  const imageServer = await labImageServer(c, A, w.networkId);
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
      members: [{ server: w.serverName }, { server: imageServer.serverName }],
      mappings: { networks: [{ from: w.networkName, recreate: true }] },
    }),
  );
  await ok('plan', 'apply', planFile);
  c.add(`catalog plan ${plan}`, async () => {
    await ferry('plan', 'delete', plan, '--purge', '--yes');
  });
  // The stack a failover makes at B, whatever happens to the test.
  c.add(`stack ferry-${plan}-failover at lab-b`, () => deleteStackAndWait(B, `ferry-${plan}-failover`));
  return { w, imageServer, plan };
}

/** The restored volume at B of a volume at A (Ferry marks restored volumes with ferry:source). */
async function restoredAtB(B: Site, sourceVolumeId: string, plan: string): Promise<string> {
  const found = (await collect(listVolumes(B.blockStorage, { metadata: { 'ferry:source': sourceVolumeId, 'ferry:plan': plan } }))).map((v) => v.id);
  expect(found, `one restored volume at B for ${sourceVolumeId}`).to.have.length(1);
  return found[0]!;
}

async function expectRecoveredAtB(B: Site, w: LabWorkload, plan: string, out: FailoverJson, shas: Record<string, string>): Promise<void> {
  expect(out.status).to.equal('succeeded');
  expect(out.servers.map((s) => s.status)).to.deep.equal(['ACTIVE', 'ACTIVE']);
  const stack = await findStack(B.orchestration, `ferry-${plan}-failover`);
  expect(stack?.stack_status).to.equal('CREATE_COMPLETE');
  expect(stack?.tags).to.include.members([`ferry:plan=${plan}`, `ferry:run=${out.recoverRunId}`, 'ferry:mode=failover']);
  const atB = await collect(listServers(B.compute, { tags: [`ferry:run=${out.recoverRunId}`] }));
  expect(atB.map((s) => s.status)).to.deep.equal(['ACTIVE', 'ACTIVE']);
  for (const [source, sha] of Object.entries(shas)) {
    const restored = await restoredAtB(B, source, plan);
    expect(await volumeSha256('b', restored), `volume ${source} restored at B holds the point's bytes`).to.equal(sha);
  }
  // the data volume is attached to the recovered database server
  const dataAtB = await restoredAtB(B, w.dataVolumeId, plan);
  const dbAtB = atB.find((s) => s.name === w.serverName)!;
  expect(dbAtB['os-extended-volumes:volumes_attached'].map((v) => v.id)).to.include(dataAtB);
}

async function expectFenced(A: Site, ids: string[]): Promise<void> {
  for (const id of ids) {
    const s = await getServer(A.compute, id);
    expect(s.status, `${s.name} stopped`).to.equal('SHUTOFF');
    expect(s.locked, `${s.name} locked`).to.equal(true);
    expect(s.tags, `${s.name} tagged`).to.include(FENCED_TAG);
  }
}

describe('lab: failover (unplanned with A cut, killed and resumed, fenced; planned)', function () {
  this.timeout(3_600_000);
  const { cleanup } = useLab();
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-failover-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('unplanned: A cut, killed twice mid-failover and resumed, servers ACTIVE at B with the point\'s bytes; A back: fenced', async () => {
    const A = labSite('lab-a');
    const B = labSite('lab-b');
    const c = cleanup();
    const db = `sqlite://${join(dir, 'unplanned.db')}`;
    const { ferry, ok } = cli(db);
    const { w, imageServer, plan } = await protectedWorkload(c, dir, A, B, ok, ferry);
    const shas = { [w.bootVolumeId]: await volumeSha256('a', w.bootVolumeId), [w.dataVolumeId]: await volumeSha256('a', w.dataVolumeId) };
    const cycle = JSON.parse((await ok('replicate', plan, '-f', 'json')).out) as { pointId: string; status: string };
    expect(cycle.status).to.equal('complete');

    // ---- the dry run changes nothing
    const dry = await ok('failover', plan, '--unplanned', '--dry-run');
    expect(dry.out).to.include(`unplanned failover of plan ${plan} from lab-a to lab-b`);
    expect(dry.out).to.match(/\+ server_[0-9a-f]{12} +DR::Server +/);
    expect(dry.out).to.include('Nothing was changed (dry run).');
    expect(await findStack(B.orchestration, `ferry-${plan}-failover`), 'no stack after a dry run').to.equal(undefined);

    // ---- disaster: A's link is cut
    await exec('bash', [DISASTER, 'a', 'cut']);
    c.add('heal site a', () => exec('bash', [DISASTER, 'a', 'heal']));
    const catalog = await openCatalog(db);
    c.add('close the catalog', () => catalog.close());
    const repo = new CatalogRepo(catalog);
    const sites = (cloud: string) => labSite(cloud as 'lab-a' | 'lab-b');

    // kill 1: while Heat builds the stack
    const t0 = Date.now();
    const kill1 = new AbortController();
    const first = await failover(plan, {
      repo,
      sites,
      owner: 'lab-1',
      mode: 'unplanned',
      signal: kill1.signal,
      onStackEvent: (e) => {
        if (e.status === 'CREATE_IN_PROGRESS' && e.resource.startsWith('server_')) kill1.abort(new Error('killed by the test while the stack is in progress'));
      },
    });
    expect(first.status, 'killed mid-stack').to.equal('interrupted');
    const runId = first.runId;
    const afterKill1 = await repo.runs.get(runId);
    expect(afterKill1?.status, 'a killed run stays running').to.equal('running');
    expect((await findStack(B.orchestration, `ferry-${plan}-failover`))?.stack_status).to.match(/CREATE_(IN_PROGRESS|COMPLETE)/);

    // kill 2: resumed by another owner, killed again once it checks the servers
    const kill2 = new AbortController();
    const second = await resumeRegistered(repo, runId, { logger: silentLogger, sites }, {
      owner: 'lab-2',
      signal: kill2.signal,
      onEvent: (e) => {
        if (e.step === 'check' && e.phase === 'observe') kill2.abort(new Error('killed by the test while checking'));
      },
    });
    expect(second.status, 'killed while checking').to.equal('interrupted');

    // resumed to the end through the CLI
    const resumed = await ok('resume', runId, '-f', 'json');
    const resumedSteps = (JSON.parse(resumed.out) as { steps: { name: string; durationMs?: number }[] }).steps;
    expect(JSON.parse(resumed.out)).to.deep.include({ status: 'succeeded' });
    const elapsed = Date.now() - t0;
    const shown = JSON.parse((await ok('runs', 'show', runId, '-f', 'json')).out) as { run: { result: { state: Record<string, unknown> } }; journal: { step: string; phase: string }[] };
    const state = shown.run.result.state;
    const out: FailoverJson = {
      status: 'succeeded',
      mode: 'unplanned',
      runId,
      recoverRunId: runId,
      pointId: state['pointId'] as string,
      stackName: state['stackName'] as string,
      stackId: state['stackId'] as string,
      rtoMs: state['rtoMs'] as number,
      rpoMs: state['rpoMs'] as number,
      servers: state['servers'] as FailoverJson['servers'],
    };
    expect(out.pointId).to.equal(cycle.pointId);
    // one stack, created once: its create was never repeated by the resumes
    expect(shown.journal.filter((e) => e.step === 'stack' && e.phase === 'act').length).to.be.at.least(1);
    await expectRecoveredAtB(B, w, plan, out, shas);
    const plans = JSON.parse((await ok('plan', 'list', '-f', 'json')).out) as { name: string; activeSite: string; epoch: number }[];
    expect(plans.find((p) => p.name === plan)).to.deep.include({ activeSite: 'lab-b', epoch: 1 });

    // a second failover is refused
    const again = await ferry('failover', plan, '--unplanned');
    expect(again.code).to.equal(1);
    expect(again.err).to.include('already runs at lab-b');

    // ---- A is back: its old servers are fenced
    await exec('bash', [DISASTER, 'a', 'heal']);
    c.add(`unlock the fenced servers at lab-a`, async () => {
      for (const id of [w.serverId, imageServer.serverId]) await unlockServer(A.compute, id).catch(() => undefined);
    });
    const fence = await ok('fence', plan, '-f', 'json');
    expect(JSON.parse(fence.out)).to.deep.include({ status: 'fenced', site: 'lab-a', servers: 2 });
    await expectFenced(A, [w.serverId, imageServer.serverId]);
    expect(JSON.parse((await ok('fence', plan, '-f', 'json')).out)).to.deep.include({ status: 'already' });

    console.log(`      unplanned failover of ${plan}: RTO ${(out.rtoMs / 1000).toFixed(1)} s (with two kills and resumes; ${(elapsed / 1000).toFixed(1)} s wall), RPO ${(out.rpoMs / 1000).toFixed(1)} s`);
    console.log(`      steps: ${resumedSteps.map((s) => `${s.name} ${((s.durationMs ?? 0) / 1000).toFixed(1)} s`).join(', ')}`);
  });

  it('planned: A stopped, final cycle (RPO 0), servers ACTIVE at B, A fenced in the same command', async () => {
    const A = labSite('lab-a');
    const B = labSite('lab-b');
    const c = cleanup();
    const db = `sqlite://${join(dir, 'planned.db')}`;
    const { ferry, ok } = cli(db);
    const { w, imageServer, plan } = await protectedWorkload(c, dir, A, B, ok, ferry);
    await ok('replicate', plan, '-f', 'json');
    c.add(`unlock the fenced servers at lab-a`, async () => {
      for (const id of [w.serverId, imageServer.serverId]) await unlockServer(A.compute, id).catch(() => undefined);
    });
    const dry = await ok('failover', plan, '--planned', '--dry-run');
    expect(dry.out).to.include(`Servers stopped at lab-a (then tagged and locked):`);
    expect(dry.out).to.include(`${w.serverName} (${w.serverId})  ACTIVE -> SHUTOFF`);

    const t0 = Date.now();
    const r = await ok('failover', plan, '--planned', '-f', 'json');
    const elapsed = Date.now() - t0;
    expect(r.err, 'stack progress on stderr').to.match(/ferry: stack ferry-.*-failover: server_[0-9a-f]{12} \(.*\) CREATE_COMPLETE/);
    const out = JSON.parse(r.out) as FailoverJson & { prepareRunId: string; steps: { name: string; durationMs: number | null }[] };
    expect(out.mode).to.equal('planned');
    expect(out.rpoMs, 'planned: the final point was taken after the stop').to.equal(0);
    // the bytes at the stop (the servers are stopped: nothing changed since)
    const shas = { [w.bootVolumeId]: await volumeSha256('a', w.bootVolumeId), [w.dataVolumeId]: await volumeSha256('a', w.dataVolumeId) };
    await expectRecoveredAtB(B, w, plan, out, shas);
    await expectFenced(A, [w.serverId, imageServer.serverId]);
    console.log(`      planned failover of ${plan}: RTO ${(out.rtoMs / 1000).toFixed(1)} s (${(elapsed / 1000).toFixed(1)} s wall), RPO ${out.rpoMs} ms`);
    console.log(`      steps: ${out.steps.map((s) => `${s.name} ${((s.durationMs ?? 0) / 1000).toFixed(1)} s`).join(', ')}`);
  });
});
