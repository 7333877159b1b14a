// Protection plans against the real lab: a server with a 1 GiB volume at lab-a, a plan naming
// it (lab-a → lab-b) validated online with a readiness report; bad plan files (broken YAML, an
// unknown field, a mapping target lab-b lacks, a member lab-a lacks) each refused with file,
// line:column, field and fix, and nothing stored; then apply (the bank at lab-b), list, show,
// a change shown as a diff, delete (points kept), and delete --purge, which also removes a
// backup marked with the plan at lab-a (what a crashed cycle leaves).
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../lib/cli/main.js';
import { isNotFound, type HttpError } from '../../lib/errors.js';
import { createBackup, deleteBackup, getBackup, waitForBackup, waitForBackupDeleted } from '../../lib/openstack/blockstorage/backups.js';
import { createVolume, deleteVolume, getVolume, waitForVolume, waitForVolumeDeleted, type Volume } from '../../lib/openstack/blockstorage/volumes.js';
import { listFlavors } from '../../lib/openstack/compute/flavors.js';
import { createServer, deleteServer, waitForServer, waitForServerDeleted } from '../../lib/openstack/compute/servers.js';
import { attachVolume, detachVolume } from '../../lib/openstack/compute/volumeattachments.js';
import { listImages } from '../../lib/openstack/image/images.js';
import { createNetwork, deleteNetwork } from '../../lib/openstack/network/networks.js';
import { createSubnet } from '../../lib/openstack/network/subnets.js';
import { addTag } from '../../lib/openstack/network/tags.js';
import { deleteContainer } from '../../lib/openstack/objectstore/containers.js';
import { deleteObject, listObjects } from '../../lib/openstack/objectstore/objects.js';
import { collect } from '../../lib/openstack/paginate.js';
import type { ServiceClient } from '../../lib/openstack/service-client.js';
import { FERRY_MARKS } from '../../lib/replication/types.js';
import { CLOUDS_FILE, RUN_TAG, TIMEOUTS, labSite, uniqueName, useLab } from './support/lab.js';

const TAG_KEY = 'ferry-run';

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function removeVolume(sc: ServiceClient, id: string): Promise<void> {
  const deadline = Date.now() + TIMEOUTS.volume;
  for (;;) {
    let v: Volume;
    try {
      v = await getVolume(sc, id);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (v.status === 'deleting') break;
    if (['available', 'error', 'in-use'].includes(v.status) || Date.now() > deadline) {
      await deleteVolume(sc, id, { cascade: true });
      break;
    }
    await sleep(2000);
  }
  await waitForVolumeDeleted(sc, id, { timeoutMs: TIMEOUTS.volume });
}

/** Every object of a container this test made, then the container. */
async function removeContainer(sc: ServiceClient, container: string): Promise<void> {
  try {
    for (const e of await collect(listObjects(sc, container))) if (!('subdir' in e)) await deleteObject(sc, container, e.name);
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  await deleteContainer(sc, container);
}

describe('lab: protection plans (validate online, apply, list, show, delete)', function () {
  this.timeout(900_000);
  const { cleanup } = useLab();

  it('validates a plan with a readiness report, refuses bad files with file:line:col, field and fix (nothing stored), then apply, list, show, delete, purge', async () => {
    const A = labSite('lab-a');
    const B = labSite('lab-b');
    const c = cleanup();
    const dir = mkdtempSync(join(tmpdir(), 'ferry-lab-plan-'));
    const db = `sqlite://${join(dir, 'catalog.db')}`;
    const container = `${RUN_TAG}-bank`;
    const timings: Record<string, number> = {};
    const ferry = async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const saved = process.env.OS_CLIENT_CONFIG_FILE;
      process.env.OS_CLIENT_CONFIG_FILE = CLOUDS_FILE;
      const t0 = Date.now();
      try {
        const code = await run(['--db', db, ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
        return { code, out: out.join('\n'), err: err.join('\n'), ms: Date.now() - t0 };
      } finally {
        if (saved === undefined) delete process.env.OS_CLIENT_CONFIG_FILE;
        else process.env.OS_CLIENT_CONFIG_FILE = saved;
      }
    };
    const noPlans = async () => {
      const l = await ferry(['plan', 'list', '--deleted']);
      expect(l.code).to.equal(0);
      expect(l.out, 'nothing stored').to.equal('no plans (ferry plan apply FILE adds one)');
    };

    // A network, a server on it and an attached 1 GiB volume at lab-a.
    const netName = uniqueName('net');
    const net = await createNetwork(A.network, { name: netName });
    c.add(`lab-a network ${net.id}`, async () => {
      for (let i = 0; ; i++) {
        try {
          return await deleteNetwork(A.network, net.id);
        } catch (err) {
          if ((err as HttpError).status !== 409 || i >= 20) throw err;
          await sleep(3000);
        }
      }
    });
    await addTag(A.network, 'networks', net.id, RUN_TAG);
    await createSubnet(A.network, { network_id: net.id, ip_version: 4, cidr: `10.233.${Math.floor(Math.random() * 250) + 1}.0/24`, name: uniqueName('subnet') });
    const image = (await collect(listImages(A.image, { name: 'lab-tiny' })))[0];
    const flavor = (await collect(listFlavors(A.compute))).find((f) => f.name === 'm1.tiny');
    if (!image || !flavor) throw new Error('lab-a lacks the lab-tiny image or the m1.tiny flavor');
    const serverName = uniqueName('server');
    const server = await createServer(A.compute, { name: serverName, flavorRef: flavor.id, imageRef: image.id, networks: [{ uuid: net.id }], metadata: { [TAG_KEY]: RUN_TAG }, tags: [RUN_TAG] });
    c.add(`lab-a server ${server.id}`, async () => {
      await deleteServer(A.compute, server.id);
      await waitForServerDeleted(A.compute, server.id, { timeoutMs: TIMEOUTS.server });
    });
    await waitForServer(A.compute, server.id, ['ACTIVE'], { timeoutMs: TIMEOUTS.server });
    const vol = await createVolume(A.blockStorage, { size: 1, name: uniqueName('data'), metadata: { [TAG_KEY]: RUN_TAG } });
    c.add(`lab-a volume ${vol.id}`, () => removeVolume(A.blockStorage, vol.id));
    await waitForVolume(A.blockStorage, vol.id, ['available'], { timeoutMs: TIMEOUTS.volume });

    const planName = uniqueName('plan');
    // What a crashed cycle of this plan leaves at lab-a: a backup marked with it (purge finds it by its marks).
    const leftover = await createBackup(A.blockStorage, {
      volume_id: vol.id,
      name: `ferry-${planName}-crashed-${vol.id.slice(0, 8)}`,
      metadata: { [FERRY_MARKS.plan]: planName, [FERRY_MARKS.point]: 'crashed-cycle', [FERRY_MARKS.source]: vol.id, [TAG_KEY]: RUN_TAG },
    });
    c.add(`lab-a backup ${leftover.id}`, async () => {
      try {
        await getBackup(A.blockStorage, leftover.id);
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      await waitForBackup(A.blockStorage, leftover.id, ['available', 'error'], { timeoutMs: TIMEOUTS.backup }).catch(() => undefined);
      await deleteBackup(A.blockStorage, leftover.id);
      await waitForBackupDeleted(A.blockStorage, leftover.id, { timeoutMs: TIMEOUTS.backup });
    });
    await waitForBackup(A.blockStorage, leftover.id, ['available'], { timeoutMs: TIMEOUTS.backup });
    await attachVolume(A.compute, server.id, { volumeId: vol.id });
    c.add(`lab-a attachment ${server.id}/${vol.id}`, async () => {
      if (await detachVolume(A.compute, server.id, vol.id)) await waitForVolume(A.blockStorage, vol.id, ['available'], { timeoutMs: TIMEOUTS.volume });
    });
    await waitForVolume(A.blockStorage, vol.id, ['in-use'], { timeoutMs: TIMEOUTS.volume });
    // Whatever apply writes to the bank goes with the test's own container.
    c.add(`lab-b container ${container}`, () => removeContainer(B.objectStore, container));

    const plan = (over: { rpo?: string; members?: string; networks?: string; extra?: string } = {}) => `name: ${planName}
project: admin
primary: lab-a
secondary: lab-b
tier: pilot-light
rpo: ${over.rpo ?? '15m'}
retention: {count: 4}
members:
  - ${over.members ?? `server: ${serverName}`}
mappings:
  networks:
    - ${over.networks ?? `{from: ${netName}, recreate: true}`}
${over.extra ?? ''}`;
    const write = (name: string, text: string) => {
      const f = join(dir, name);
      writeFileSync(f, text);
      return f;
    };
    const good = write('plan.yaml', plan());

    // Online validation passes, with the readiness report.
    const v = await ferry(['plan', 'validate', good]);
    timings['plan validate (online)'] = v.ms;
    expect(v.code, `${v.err}\n${v.out}`).to.equal(0);
    expect(v.out).to.match(/readiness lab-a → lab-b: ready \(\d+ ok, \d+ warnings?, 0 failed; 1 server discovered\)/);
    for (const row of [
      new RegExp(`│ ok\\s+│ members\\s+│ server: ${serverName}\\s+│ 1 server: ${serverName}`),
      new RegExp(`│ ok\\s+│ network\\s+│ ${netName}\\s+│ recreated at lab-b on recovery`),
      /│ ok\s+│ flavor\s+│ m1\.tiny\s+│ same name at lab-b/,
      /│ ok\s+│ image\s+│ lab-tiny\s+│ replicated to lab-b's Glance/,
      /│ ok\s+│ cinder-backup\s+│ lab-b\s+│ 1 cinder-backup service up/,
      /│ ok\s+│ quota\s+│ lab-b cores\s+│ needs 1 vCPUs, \d+ of \d+ free/,
      /│ ok\s+│ quota\s+│ lab-b gigabytes\s+│ needs 1 GiB, \d+ of \d+ free/,
      /│ ok\s+│ quota\s+│ lab-b backups\s+│ needs 5, \d+ of \d+ free/,
      /│ ok\s+│ services\s+│ lab-b\s+│ identity, compute, block-storage, image, network, orchestration, object-store answer/,
    ]) {
      expect(v.out).to.match(row);
    }
    const json = await ferry(['plan', 'validate', good, '-f', 'json']);
    const report = (JSON.parse(json.out) as { readiness: { ok: boolean; needs: Record<string, number>; checks: unknown[] } }).readiness;
    expect(report.ok).to.equal(true);
    expect(report.needs).to.include({ instances: 1, cores: 1, ramMb: 512, volumes: 1, volumeGb: 1, pointsKept: 5, backups: 5, backupGb: 5, ports: 1 });

    // Bad files: each a clear error naming file, line:column, field and fix; nothing stored.
    const bad: { file: string; online: boolean; err: RegExp }[] = [
      { file: write('broken.yaml', plan().replace('retention: {count: 4}', 'retention: {count: 4')), online: false, err: /broken\.yaml:\d+:\d+: invalid YAML: .* \(fix: fix the YAML syntax at that position\)/ },
      {
        file: write('unknown.yaml', plan().replace('rpo: 15m', 'rpo_target: 15m')),
        online: false,
        err: /unknown\.yaml:6:1: key 'rpo_target': unknown field 'rpo_target' \(did you mean 'rpo'\?\) \(fix: rename it to 'rpo'\)/,
      },
      {
        file: write('target.yaml', plan({ networks: `{from: ${netName}, to: ${RUN_TAG}-no-such-net}` })),
        online: true,
        err: new RegExp(`target\\.yaml:12:\\d+: key 'mappings\\.networks\\[0\\]\\.to': network ${netName} → ${RUN_TAG}-no-such-net: no network '${RUN_TAG}-no-such-net' at lab-b \\(fix: create it at lab-b, map to another network, or write recreate: true\\)`),
      },
      {
        file: write('member.yaml', plan({ members: `server: ${serverName}\n  - server: ${RUN_TAG}-ghost` })),
        online: true,
        err: new RegExp(`member\\.yaml:10:13: key 'members\\[1\\]\\.server': members server: ${RUN_TAG}-ghost: no server is named '${RUN_TAG}-ghost' in project admin at lab-a \\(fix: check the name`),
      },
    ];
    for (const b of bad) {
      const r = await ferry(['plan', 'validate', b.file]);
      expect(r.code, `${b.file}: ${r.err}`).to.equal(1);
      expect(r.err).to.match(b.err);
      expect(r.err.split('\n').at(-1)).to.equal(b.online ? `ferry: ${b.file} is valid but not ready: 1 readiness check failed` : `ferry: ${b.file} is not a valid protection plan (1 problem)`);
      const a = await ferry(['plan', 'apply', b.file, '--container', container]);
      expect(a.code, `apply ${b.file}`).to.equal(1);
      expect(a.err).to.match(b.err);
      await noPlans();
    }
    expect(await collect(listObjects(B.objectStore, container)).catch((e: unknown) => (isNotFound(e) ? [] : Promise.reject(e)))).to.deep.equal([]);

    // Apply: the bank at lab-b first, then the catalog.
    const applied = await ferry(['plan', 'apply', good, '--container', container]);
    timings['plan apply (online)'] = applied.ms;
    expect(applied.code, applied.err).to.equal(0);
    expect(applied.out.split('\n')[0]).to.equal(`plan ${planName}: created (lab-a → lab-b, pilot-light, rpo 15m, 1 member selector)`);
    expect(applied.out).to.include(`bank: plans/${planName}/plan.json written at lab-b (${container})`);
    const names = (await collect(listObjects(B.objectStore, container))).map((e) => ('name' in e ? e.name : e.subdir)).sort();
    expect(names).to.deep.equal(['bank.json', `plans/${planName}/epoch.json`, `plans/${planName}/plan.json`]);

    const list = await ferry(['plan', 'list']);
    expect(list.out).to.match(new RegExp(`│ ${planName}\\s+│ admin\\s+│ lab-a → lab-b\\s+│ lab-a\\s+│ 0\\s+│ pilot-light\\s+│ 15m\\s+│ 0 complete / 0\\s+│ -\\s+│ no points\\s+│`));
    const show = await ferry(['plan', 'show', planName]);
    expect(show.out).to.match(new RegExp(`│ members\\s+│ server ${serverName}\\s+│`));
    expect(show.out).to.match(/│ active site\s+│ lab-a\s+│/);

    expect((await ferry(['plan', 'apply', good, '--container', container])).out).to.match(new RegExp(`^plan ${planName}: unchanged [\\s\\S]*bank: plans/${planName}/plan\\.json up to date at lab-b`));
    const changed = await ferry(['plan', 'apply', write('plan.yaml', plan({ rpo: '30m' })), '--container', container]);
    expect(changed.code, changed.err).to.equal(0);
    expect(changed.out.split('\n').slice(0, 2)).to.deep.equal([`plan ${planName}: changed (lab-a → lab-b, pilot-light, rpo 30m, 1 member selector)`, '  ~ rpo: 15m → 30m']);

    // Delete keeps the points; purge removes the marked leftover at lab-a, the bank documents and the rows.
    const del = await ferry(['plan', 'delete', planName]);
    expect(del.out).to.equal(`plan ${planName}: deleted; 0 recovery points kept (purge them with: ferry plan delete ${planName} --purge --yes)`);
    expect((await ferry(['plan', 'list'])).out).to.equal('no plans (ferry plan apply FILE adds one)');
    const purge = await ferry(['plan', 'delete', planName, '--purge', '--yes', '--container', container]);
    timings['plan delete --purge'] = purge.ms;
    expect(purge.code, purge.err).to.equal(0);
    expect(purge.err).to.include(`ferry: lab-a: backup ${leftover.id} deleted`);
    expect(purge.out).to.equal(`plan ${planName}: purged (0 recovery points, 0 runs); lab-b: 0 backups, 0 snapshots, 0 bank points deleted; lab-a: 1 backup, 0 snapshots, 0 bank points deleted`);
    expect(await getBackup(A.blockStorage, leftover.id).catch((e: unknown) => (isNotFound(e) ? 'gone' : e))).to.equal('gone');
    expect((await collect(listObjects(B.objectStore, container))).map((e) => ('name' in e ? e.name : e.subdir))).to.deep.equal(['bank.json']);
    await noPlans();
    console.log(`      timings: ${Object.entries(timings).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`).join(', ')}`);
  });
});
