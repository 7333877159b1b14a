// Warm standby end to end against the lab: a warm-standby plan (a server booted from a volume,
// with a data volume of known bytes) protected from A to B. `ferry standby` makes the standby
// stack at B (volumes restored, no server), is a no-op while it holds the newest point, and
// after new bytes at A and a new point moves the standby to that point (the restored volume
// holds the new bytes, nothing else is left behind); `ferry failover --planned` then updates the
// same stack to full capacity: the server ACTIVE at B on the restored volumes, the data volume
// attached with the final point's bytes, RTO measured; `ferry standby` is refused afterwards
// (the stack is production). Cleanup deletes the stack at B and every artifact of the plan.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { run } from '../../lib/cli/main.js';
import { registerStandby } from '../../lib/cli/standby.js';
import { deleteStackAndWait } from '../../lib/heat/deploy.js';
import { silentLogger } from '../../lib/log.js';
import { listVolumes } from '../../lib/openstack/blockstorage/volumes.js';
import { listServers, unlockServer } from '../../lib/openstack/compute/servers.js';
import { findStack } from '../../lib/openstack/orchestration/stacks.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { Site } from '../../lib/openstack/site.js';
import { CLOUDS_FILE, labSite, uniqueName, useLab } from './support/lab.js';
import { volumeSha256, writeVolumeBytes } from './support/volume-data.js';
import { bootFromVolumeWorkload, purgePlanArtifacts } from './support/workload.js';

interface CliResult {
  code: number;
  out: string;
  err: string;
}

interface StandbyJson {
  status: string;
  action: string;
  runId: string | null;
  pointId: string;
  previousPointId: string | null;
  stackName: string;
  stackId: string;
  volumes: { resource: string; id: string; status: string }[];
  elapsedMs: number | null;
}

function cli(db: string) {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), isTTY: false } };
  };
  const ferry = async (...args: string[]): Promise<CliResult> => {
    const { out, err, io: sink } = io();
    const code = await run(['--db', db, ...args], sink);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  // `ferry standby` through its register function (main.ts registers it the same way).
  const standby = async (...args: string[]): Promise<CliResult> => {
    const { out, err, io: sink } = io();
    let code = 0;
    const program = new Command('ferry').exitOverride().configureOutput({ writeOut: (s) => sink.out(s.trimEnd()), writeErr: (s) => sink.err(s.trimEnd()) });
    registerStandby(program, {
      io: sink,
      setExit: (c) => {
        code = c;
      },
      logger: () => silentLogger,
      clouds: () => ({ env: { ...process.env, OS_CLIENT_CONFIG_FILE: CLOUDS_FILE } }),
      dbUrl: () => db,
    });
    try {
      await program.parseAsync(['standby', ...args], { from: 'user' });
    } catch (e) {
      sink.err(`ferry: error: ${(e as Error).message}`);
      code = 1;
    }
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const ok = async (r: Promise<CliResult>, what: string): Promise<CliResult> => {
    const x = await r;
    expect(x.code, `${what}\n${x.err}\n${x.out}`).to.equal(0);
    return x;
  };
  return { ferry, standby, ok };
}

/** The plan's restored volumes at B by their source at A (Ferry marks them with ferry:source). */
async function restoredAtB(B: Site, plan: string): Promise<Map<string, { id: string; status: string }[]>> {
  const out = new Map<string, { id: string; status: string }[]>();
  for (const v of await collect(listVolumes(B.blockStorage, { metadata: { 'ferry:plan': plan } }))) {
    const source = v.metadata['ferry:source'];
    if (!source) continue;
    out.set(source, [...(out.get(source) ?? []), { id: v.id, status: v.status }]);
  }
  return out;
}

describe('lab: warm standby (ferry standby, updated to a newer point, failover updates it to full capacity)', function () {
  this.timeout(3_600_000);
  const { cleanup } = useLab();
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-standby-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes the standby at B, moves it to the newest point, and a planned failover brings the same stack to full capacity', async () => {
    const A = labSite('lab-a');
    const B = labSite('lab-b');
    const c = cleanup();
    const db = `sqlite://${join(dir, 'standby.db')}`;
    const { ferry, standby, ok } = cli(db);
    const seed = uniqueName('seed');
    const w = await bootFromVolumeWorkload(c, A, { seed, dataMb: 8 });
    const plan = uniqueName('plan');
    const stackName = `ferry-${plan}-standby`;
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
        tier: 'warm-standby',
        rpo: '15m',
        retention: { count: 3 },
        members: [{ server: w.serverName }],
        mappings: { networks: [{ from: w.networkName, recreate: true }] },
      }),
    );
    await ok(ferry('plan', 'apply', planFile), 'plan apply');
    c.add(`catalog plan ${plan}`, async () => {
      await ferry('plan', 'delete', plan, '--purge', '--yes');
    });
    // The standby stack (production after the failover) and whatever a pilot-light fallback would make.
    c.add(`stack ${stackName} at lab-b`, () => deleteStackAndWait(B, stackName));
    c.add(`stack ferry-${plan}-failover at lab-b`, () => deleteStackAndWait(B, `ferry-${plan}-failover`));
    c.add('unlock the fenced server at lab-a', () => unlockServer(A.compute, w.serverId).catch(() => undefined));

    // ---- no point yet: refused with the fix, nothing made
    const early = await standby(plan);
    expect(early.code).to.equal(1);
    expect(early.err).to.include(`ferry replicate ${plan}`);

    // ---- point 1 → the standby stack is created
    const sha1 = await volumeSha256('a', w.dataVolumeId);
    const p1 = (JSON.parse((await ok(ferry('replicate', plan, '-f', 'json'), 'replicate 1')).out) as { pointId: string }).pointId;
    const t1 = Date.now();
    const first = JSON.parse((await ok(standby(plan, '-f', 'json'), 'standby 1')).out) as StandbyJson;
    const created = Date.now() - t1;
    expect(first).to.deep.include({ status: 'succeeded', action: 'created', pointId: p1, stackName });
    let stack = await findStack(B.orchestration, stackName);
    expect(stack?.stack_status).to.equal('CREATE_COMPLETE');
    expect(stack?.tags).to.include.members([`ferry:plan=${plan}`, `ferry:point=${p1}`, 'ferry:mode=standby']);
    let restored = await restoredAtB(B, plan);
    expect([...restored.keys()].sort(), 'the boot and the data volume restored').to.deep.equal([w.bootVolumeId, w.dataVolumeId].sort());
    for (const [source, vols] of restored) expect(vols.map((v) => v.status), `one available volume for ${source}`).to.deep.equal(['available']);
    const data1 = restored.get(w.dataVolumeId)![0]!.id;
    expect(await volumeSha256('b', data1), 'the standby data volume holds point 1').to.equal(sha1);
    expect(first.volumes.map((v) => v.id).sort()).to.deep.equal([...restored.values()].map((v) => v[0]!.id).sort());
    expect((await collect(listServers(B.compute, { name: w.serverName }))).length, 'no server in a standby').to.equal(0);

    // ---- still the newest point: nothing to do, no run
    const again = JSON.parse((await ok(standby(plan, '-f', 'json'), 'standby again')).out) as StandbyJson;
    expect(again).to.deep.include({ status: 'current', action: 'none', pointId: p1, runId: null });

    // ---- new bytes at A, point 2 → the standby moves to it
    await writeVolumeBytes('a', w.dataVolumeId, { offsetMb: 16, lengthMb: 4, seed: `${seed}-2` });
    const sha2 = await volumeSha256('a', w.dataVolumeId);
    expect(sha2).to.not.equal(sha1);
    const p2 = (JSON.parse((await ok(ferry('replicate', plan, '-f', 'json'), 'replicate 2')).out) as { pointId: string }).pointId;
    const dry = await ok(standby(plan, '--dry-run'), 'standby --dry-run');
    expect(dry.out).to.include(`update the standby stack ${stackName} at lab-b from point ${p1} to point ${p2}`);
    expect(dry.out).to.include(`update the standby stack ${stackName} (CREATE_COMPLETE, point ${p1}) to point ${p2}`);
    expect(dry.out).to.include('Nothing was changed (dry run).');
    expect((await findStack(B.orchestration, stackName))?.tags).to.include(`ferry:point=${p1}`);
    const t2 = Date.now();
    const second = JSON.parse((await ok(standby(plan, '-f', 'json'), 'standby 2')).out) as StandbyJson;
    const updated = Date.now() - t2;
    expect(second).to.deep.include({ status: 'succeeded', action: 'updated', pointId: p2, previousPointId: p1, stackName });
    stack = await findStack(B.orchestration, stackName);
    expect(stack?.stack_status).to.equal('UPDATE_COMPLETE');
    expect(stack?.tags).to.include.members([`ferry:point=${p2}`, 'ferry:mode=standby']);
    restored = await restoredAtB(B, plan);
    for (const [source, vols] of restored) expect(vols.map((v) => v.status), `still one available volume for ${source} (nothing orphaned)`).to.deep.equal(['available']);
    const data2 = restored.get(w.dataVolumeId)![0]!.id;
    expect(await volumeSha256('b', data2), 'the standby data volume holds point 2').to.equal(sha2);
    const sameVolume = data2 === data1;

    // ---- planned failover: the same stack at full capacity
    const t3 = Date.now();
    const r = await ok(ferry('failover', plan, '--planned', '-f', 'json'), 'failover --planned');
    const failedOver = Date.now() - t3;
    const out = JSON.parse(r.out) as { status: string; stackName: string; rtoMs: number; rpoMs: number; pointId: string; servers: { id: string; name: string; status: string }[] };
    expect(out.status).to.equal('succeeded');
    expect(out.stackName, 'the standby stack is updated, not a new one').to.equal(stackName);
    expect(out.servers.map((s) => s.status)).to.deep.equal(['ACTIVE']);
    expect(out.rpoMs).to.equal(0);
    expect(await findStack(B.orchestration, `ferry-${plan}-failover`), 'no pilot-light stack').to.equal(undefined);
    stack = await findStack(B.orchestration, stackName);
    expect(stack?.stack_status).to.equal('UPDATE_COMPLETE');
    expect(stack?.tags).to.include.members([`ferry:point=${out.pointId}`, 'ferry:mode=failover']);
    const finalSha = await volumeSha256('a', w.dataVolumeId);
    restored = await restoredAtB(B, plan);
    for (const [source, vols] of restored) expect(vols.map((v) => v.status), `one in-use volume for ${source}`).to.deep.equal(['in-use']);
    const data3 = restored.get(w.dataVolumeId)![0]!.id;
    expect(await volumeSha256('b', data3), "the data volume holds the final point's bytes").to.equal(finalSha);
    const atB = await collect(listServers(B.compute, { name: w.serverName }));
    expect(atB.map((s) => s.status)).to.deep.equal(['ACTIVE']);
    expect(atB[0]!['os-extended-volumes:volumes_attached'].map((v) => v.id)).to.include(data3);

    // ---- the stack is production now: standby refuses
    const after = await standby(plan);
    expect(after.code).to.equal(1);
    expect(after.err).to.include(`is active at lab-b`);

    console.log(`      standby of ${plan}: created in ${(created / 1000).toFixed(1)} s, updated to a newer point in ${(updated / 1000).toFixed(1)} s (restored volume ${sameVolume ? 'kept its ID: restored in place' : 'replaced by a new one'})`);
    console.log(`      planned failover from the standby: RTO ${(out.rtoMs / 1000).toFixed(1)} s (${(failedOver / 1000).toFixed(1)} s wall), RPO ${out.rpoMs} ms`);
  });
});
