// Failback end to end against the lab, through the `ferry` CLI: a server booted from a volume
// with a data volume of known bytes at A, protected to B, failed over unplanned (A's servers
// left running: an unplanned failover does not touch the primary); new bytes are written at B
// into the recovered data volume; `ferry failback` fences A's old servers, replicates B's
// volumes back, stops B, takes a final cycle, recovers at A, deletes B's stack and takes the
// first cycle toward B again. The data volume recovered at A holds the bytes written at B.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { deleteStackAndWait } from '../../lib/heat/deploy.js';
import { listVolumes } from '../../lib/openstack/blockstorage/volumes.js';
import { getServer, listServers, unlockServer } from '../../lib/openstack/compute/servers.js';
import { findStack } from '../../lib/openstack/orchestration/stacks.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { Site } from '../../lib/openstack/site.js';
import { FENCED_TAG } from '../../lib/workflows/fence.js';
import { cli } from './support/cli.js';
import { labSite, uniqueName, useLab } from './support/lab.js';
import { volumeSha256, writeVolumeBytes } from './support/volume-data.js';
import { bootFromVolumeWorkload, purgePlanArtifacts } from './support/workload.js';

/** The one volume at the site restored from `sourceVolumeId` by the plan's runs. */
async function restoredFrom(site: Site, sourceVolumeId: string, plan: string, runId: string): Promise<string> {
  const found = (await collect(listVolumes(site.blockStorage, { metadata: { 'ferry:source': sourceVolumeId, 'ferry:plan': plan, 'ferry:run': runId } }))).map((v) => v.id);
  expect(found, `one volume at ${site.name} restored from ${sourceVolumeId} by run ${runId}`).to.have.length(1);
  return found[0]!;
}

describe('lab: failback (unplanned failover, data written at B, failback with reprotect)', function () {
  this.timeout(3_600_000);
  const { cleanup } = useLab();
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-failback-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('brings the workload home with the bytes written at B, fences A\'s old servers, retires B\'s stack and protects toward B again', async () => {
    const A = labSite('lab-a');
    const B = labSite('lab-b');
    const c = cleanup();
    const { ferry, ok } = cli(`sqlite://${join(dir, 'failback.db')}`);
    const w = await bootFromVolumeWorkload(c, A, { seed: uniqueName('seed'), dataMb: 8 });
    c.add(`unlock ${w.serverName} at lab-a`, () => unlockServer(A.compute, w.serverId).catch(() => undefined));
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
    c.add(`stack ferry-${plan}-failover at lab-b`, () => deleteStackAndWait(B, `ferry-${plan}-failover`));
    c.add(`stack ferry-${plan}-failover at lab-a`, () => deleteStackAndWait(A, `ferry-${plan}-failover`));
    expect(JSON.parse((await ok('replicate', plan, '-f', 'json')).out).status).to.equal('complete');

    const over = JSON.parse((await ok('failover', plan, '--unplanned', '-f', 'json')).out) as { status: string; recoverRunId: string };
    expect(over.status).to.equal('succeeded');
    const dataAtB = await restoredFrom(B, w.dataVolumeId, plan, over.recoverRunId);

    // the workload writes at B
    await writeVolumeBytes('b', dataAtB, { lengthMb: 8, seed: `${plan}-written-at-b` });
    const writtenAtB = await volumeSha256('b', dataAtB, 8);
    expect(writtenAtB).to.not.equal(await volumeSha256('a', w.dataVolumeId, 8));

    const dry = await ok('failback', plan, '--dry-run');
    expect(dry.out).to.include(`failback of plan ${plan} from lab-b to lab-a`);
    expect(dry.out).to.include('Nothing was changed (dry run).');

    const t0 = Date.now();
    const back = await ferry('failback', plan, '-f', 'json');
    const wallMs = Date.now() - t0;
    expect(back.code, `${back.out}\n${back.err}`).to.equal(0);
    const out = JSON.parse(back.out) as { status: string; recoverRunId: string; rtoMs: number; rpoMs: number; wallMs: number; protectPointId: string | null; servers: { name: string; status: string }[]; warnings: string[]; steps: { name: string; durationMs: number | null }[] };
    expect(out.status).to.equal('succeeded');
    expect(out.rpoMs).to.equal(0);
    expect(out.warnings).to.deep.equal([]);
    expect(out.servers.map((s) => [s.name, s.status])).to.deep.equal([[w.serverName, 'ACTIVE']]);
    console.log(`      failback: RTO ${(out.rtoMs / 1000).toFixed(1)} s from the stop at B, wall ${(wallMs / 1000).toFixed(1)} s; steps ${out.steps.map((s) => `${s.name} ${((s.durationMs ?? 0) / 1000).toFixed(1)}s`).join(', ')}`);

    // A's old server: fenced
    const old = await getServer(A.compute, w.serverId);
    expect([old.status, old.locked, (old.tags ?? []).includes(FENCED_TAG)]).to.deep.equal(['SHUTOFF', true, true]);
    // the workload at A, on the original network, with the bytes written at B
    const stack = await findStack(A.orchestration, `ferry-${plan}-failover`);
    expect(stack?.stack_status).to.equal('CREATE_COMPLETE');
    const atA = await collect(listServers(A.compute, { tags: [`ferry:run=${out.recoverRunId}`] }));
    expect(atA.map((s) => [s.name, s.status])).to.deep.equal([[w.serverName, 'ACTIVE']]);
    expect(Object.keys(atA[0]!.addresses), 'the original network, not a copy').to.deep.equal([w.networkName]);
    const dataAtA = await restoredFrom(A, dataAtB, plan, out.recoverRunId);
    expect(await volumeSha256('a', dataAtA, 8), 'the data volume at A holds the bytes written at B').to.equal(writtenAtB);
    // B's stack is gone; protection runs toward B again
    expect(await findStack(B.orchestration, `ferry-${plan}-failover`)).to.equal(undefined);
    expect(out.protectPointId).to.be.a('string');
    const points = JSON.parse((await ok('points', 'list', plan, '-f', 'json')).out) as { id: string; targetSite: string; sourceSite: string }[];
    expect(points.find((p) => p.id === out.protectPointId)).to.deep.include({ sourceSite: 'lab-a', targetSite: 'lab-b' });
    const status = JSON.parse((await ok('plan', 'show', plan, '-f', 'json')).out) as { activeSite: string; epoch: number };
    expect([status.activeSite, status.epoch]).to.deep.equal(['lab-a', 2]);
  });
});
