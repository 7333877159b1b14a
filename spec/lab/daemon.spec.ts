// The daemon against the lab, as operators run it: `ferry daemon --config ferry.conf` as a
// child process, with its own state directory and the lab's clouds.yaml.
//
// 1. (shared lab lock) A plan protecting one server booted from a 1 GiB volume in project
//    demo at A, RPO 2m: the daemon alone holds the RPO over at least three cycles (GET
//    /v1/status and the catalog); /metrics shows the plan's RPO gauge; a DR test started
//    through the REST API with the demo user's token (role member, validated by site B's
//    Keystone) completes, while a token of a reader of project demo (a user this spec creates
//    and removes) gets 403.
// 2. (EXCLUSIVE lab lock: it cuts site A) The daemon reports site A down within its
//    hysteresis once the link is cut, and up again after the heal; the heal runs whatever
//    happens.
//
// Run them apart so the exclusive lock is held only for the cut:
//   flock -s /tmp/ferry-lab.lock env OS_CLIENT_CONFIG_FILE=... npx mocha --config .mocharc.lab.json spec/lab/daemon.spec.ts --grep 'holds'
//   flock -x /tmp/ferry-lab.lock env OS_CLIENT_CONFIG_FILE=... npx mocha --config .mocharc.lab.json spec/lab/daemon.spec.ts --grep 'site A'
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { openCatalog } from '../../lib/catalog/db.js';
import { CatalogRepo, type RecoveryPoint } from '../../lib/catalog/repo.js';
import { loadCloud } from '../../lib/config/clouds.js';
import { createServer as createNovaServer, deleteServer, waitForServer, waitForServerDeleted } from '../../lib/openstack/compute/servers.js';
import { deleteSnapshot, listSnapshots, waitForSnapshotDeleted } from '../../lib/openstack/blockstorage/snapshots.js';
import { deleteVolume, waitForVolume, waitForVolumeDeleted } from '../../lib/openstack/blockstorage/volumes.js';
import { findProjectByName } from '../../lib/openstack/identity/projects.js';
import { collect } from '../../lib/openstack/paginate.js';
import { Site } from '../../lib/openstack/site.js';
import { cleanupDrTest } from '../../lib/workflows/cleanup.js';
import { cli } from './support/cli.js';
import { CLOUDS_FILE, RUN_TAG, TIMEOUTS, labSite, uniqueName, useLab, type Cleanup } from './support/lab.js';
import { LAB_TAG_KEY, labImageAndFlavor, labNetwork, labVolume, purgePlanArtifacts, sleep } from './support/workload.js';

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const FERRY = join(ROOT, 'bin', 'ferry.js');
const DISASTER = join(ROOT, 'devstack', 'lab', 'lab-disaster.sh');
const RPO_MS = 120_000;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

interface RunningDaemon {
  api: string;
  metrics: string;
  log: string;
  child: ChildProcess;
  /** SIGTERM and wait for the exit code (it drains). */
  stop(): Promise<number | null>;
  /** The daemon's log so far (for failure messages). */
  tail(lines?: number): string;
}

/** `ferry daemon --config DIR/ferry.conf` with the given sections after the common ones. */
async function startDaemon(c: Cleanup, dir: string, extra: string): Promise<RunningDaemon> {
  const [apiPort, metricsPort] = [await freePort(), await freePort()];
  const conf = join(dir, 'ferry.conf');
  writeFileSync(
    conf,
    [
      '[DEFAULT]',
      `state_path = ${dir}`,
      `clouds_file = ${CLOUDS_FILE}`,
      'graceful_shutdown_timeout = 60',
      '[api]',
      'enabled = true',
      'bind_host = 127.0.0.1',
      `bind_port = ${apiPort}`,
      '[keystone_authtoken]',
      // site B's Keystone validates the callers' tokens: it stays up when A is cut
      'cloud = lab-b',
      'token_cache_time = 5',
      '[metrics]',
      'enabled = true',
      `bind_port = ${metricsPort}`,
      '[drtest]',
      `report_dir = ${join(dir, 'reports')}`,
      '[logging]',
      `log_file = ${join(dir, 'ferry.log')}`,
      'use_stderr = false',
      'debug = false',
      extra,
      '',
    ].join('\n'),
  );
  const log = join(dir, 'ferry.log');
  const err = openSync(join(dir, 'stderr.log'), 'a');
  const child = spawn(process.execPath, [FERRY, 'daemon', '--config', conf], { cwd: dir, env: { ...process.env, OS_CLIENT_CONFIG_FILE: CLOUDS_FILE }, stdio: ['ignore', err, err] });
  closeSync(err);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const tail = (lines = 40) => {
    const read = (f: string) => {
      try {
        return readFileSync(f, 'utf8');
      } catch {
        return '';
      }
    };
    return `${read(join(dir, 'stderr.log'))}${read(log)}`.trimEnd().split('\n').slice(-lines).join('\n');
  };
  let stopped: Promise<number | null> | undefined;
  const stop = () => {
    if (!stopped) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      // SIGKILL after 2 minutes of draining; the timer must not keep mocha alive afterwards.
      const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      stopped = exited.finally(() => clearTimeout(killer));
    }
    return stopped;
  };
  c.add(`ferry daemon pid ${child.pid}`, stop);
  const d: RunningDaemon = { api: `http://127.0.0.1:${apiPort}`, metrics: `http://127.0.0.1:${metricsPort}`, log, child, stop, tail };
  // up when /healthz answers
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`ferry daemon exited with ${child.exitCode}:\n${tail()}`);
    const ok = await fetch(`${d.api}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return d;
    if (i > 120) throw new Error(`ferry daemon did not answer /healthz within 60 s:\n${tail()}`);
    await sleep(500);
  }
}

/** A token of a cloud in the lab's clouds.yaml (a Keystone session of Ferry's). */
async function tokenOf(site: Site): Promise<string> {
  return (await site.connect()).value;
}

async function api(d: RunningDaemon, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${d.api}${path}`, {
    method,
    headers: { 'X-Auth-Token': token, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  try {
    return { status: res.status, json: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { status: res.status, json: { text } };
  }
}

async function metricsText(d: RunningDaemon): Promise<string> {
  return (await fetch(`${d.metrics}/metrics`)).text();
}

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/**
 * A user of project demo at site B with role reader only (Keystone's users API through
 * Ferry's identity client), removed on cleanup; returns a Site logged in as that user.
 */
async function readerOfDemo(c: Cleanup): Promise<Site> {
  const admin = labSite('lab-b');
  const id = admin.identity;
  const project = await findProjectByName(id, 'demo', 'default');
  if (!project) throw new Error('lab-b has no project demo');
  const roles = (await id.get<{ roles: { id: string; name: string }[] }>('roles', { query: { name: 'reader' } })).data.roles;
  const reader = roles.find((r) => r.name === 'reader');
  if (!reader) throw new Error('lab-b has no role reader');
  const name = uniqueName('reader');
  const password = randomBytes(18).toString('base64url');
  const user = (await id.post<{ user: { id: string } }>('users', { user: { name, password, domain_id: 'default', description: RUN_TAG } })).data.user;
  c.add(`lab-b user ${name}`, () => id.delete(`users/${user.id}`, { ok: [204, 404] }));
  await id.put(`projects/${project.id}/users/${user.id}/roles/${reader.id}`, undefined, { ok: [204] });
  const demo = loadCloud('lab-b-demo', { env: { ...process.env, OS_CLIENT_CONFIG_FILE: CLOUDS_FILE } });
  return new Site({ ...demo, name: 'lab-b-reader', auth: { ...demo.auth, username: name, password } }, { timeoutMs: 60_000 });
}

describe('lab: ferry daemon', function () {
  this.timeout(1_800_000);
  const { cleanup } = useLab();
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-daemon-lab-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('holds a 2m RPO over three cycles, serves /metrics, runs a DR test started by a member through the API and refuses a reader', async () => {
    const c = cleanup();
    const A = labSite('lab-a');
    const B = labSite('lab-b');
    const demoA = labSite('lab-a-demo');
    const db = `sqlite://${join(dir, 'catalog.db')}`;
    const { ok, ferry } = cli(db);

    // ---- one server booted from a 1 GiB volume, in project demo at A
    const { networkId, networkName } = await labNetwork(c, demoA);
    const { imageId, flavorId } = await labImageAndFlavor(demoA);
    const bootVolumeId = await labVolume(c, demoA, { imageId });
    // Before the volume is removed: the cycles' snapshots are the admin project's (the daemon's
    // cloud), which the demo user's cascade cannot delete, so they must be gone; and Cinder
    // refuses to delete a volume still in-use while Nova detaches it from the deleted server.
    c.add(`lab-a snapshots and detach of volume ${bootVolumeId}`, async () => {
      for (const snap of await collect(listSnapshots(A.blockStorage, { all_tenants: true, volume_id: bootVolumeId }))) {
        if (snap.status !== 'deleting') await deleteSnapshot(A.blockStorage, snap.id);
        await waitForSnapshotDeleted(A.blockStorage, snap.id, { timeoutMs: TIMEOUTS.volume });
      }
      await waitForVolume(demoA.blockStorage, bootVolumeId, ['available'], { timeoutMs: TIMEOUTS.volume });
      // A plain delete: Cinder (Zed, RBD) refuses the cascade delete the generic cleanup sends
      // for a volume that had (other projects') snapshots, with 400 "have snapshots".
      await deleteVolume(demoA.blockStorage, bootVolumeId);
      await waitForVolumeDeleted(demoA.blockStorage, bootVolumeId, { timeoutMs: TIMEOUTS.volume });
    });
    const serverName = uniqueName('server');
    const server = await createNovaServer(demoA.compute, {
      name: serverName,
      flavorRef: flavorId,
      networks: [{ uuid: networkId }],
      block_device_mapping_v2: [{ boot_index: 0, uuid: bootVolumeId, source_type: 'volume', destination_type: 'volume', delete_on_termination: false }],
      metadata: { [LAB_TAG_KEY]: RUN_TAG },
      tags: [RUN_TAG],
    });
    c.add(`lab-a server ${server.id}`, async () => {
      await deleteServer(demoA.compute, server.id);
      await waitForServerDeleted(demoA.compute, server.id, { timeoutMs: TIMEOUTS.server });
    });
    await waitForServer(demoA.compute, server.id, ['ACTIVE'], { timeoutMs: TIMEOUTS.server });

    // ---- the plan, applied to the daemon's catalog
    const plan = uniqueName('plan');
    c.add(`plan ${plan} marks at lab-b`, () => purgePlanArtifacts(B, plan));
    c.add(`plan ${plan} marks at lab-a`, () => purgePlanArtifacts(A, plan));
    const planFile = join(dir, `${plan}.yaml`);
    writeFileSync(
      planFile,
      stringify({
        name: plan,
        project: 'demo',
        primary: 'lab-a',
        secondary: 'lab-b',
        tier: 'pilot-light',
        rpo: '2m',
        retention: { count: 6 },
        members: [{ server: serverName }],
        mappings: { networks: [{ from: networkName, recreate: true }] },
      }),
    );
    await ok('plan', 'apply', planFile);
    c.add(`catalog plan ${plan}`, async () => {
      const r = await ferry('plan', 'delete', plan, '--purge', '--yes');
      if (r.code !== 0) throw new Error(`ferry plan delete ${plan} --purge --yes: ${r.err}`);
    });
    c.add(`DR-test leftovers of ${plan} at lab-b`, () => cleanupDrTest(B, { plan, knownRuns: [], activeRuns: [] }));

    const reader = await readerOfDemo(c);
    const memberToken = await tokenOf(labSite('lab-b-demo'));
    const readerToken = await tokenOf(reader);

    // ---- the daemon, alone in charge of the plan from here on (registered last: stopped first)
    const d = await startDaemon(c, dir, ['[scheduler]', 'tick_interval = 2', 'max_jitter = 0', '[health]', 'probe_interval = 5', 'probe_timeout = 3'].join('\n'));
    const catalog = await openCatalog(db);
    const repo = new CatalogRepo(catalog);
    c.add('the test catalog connection', () => catalog.close());
    const t0 = Date.now();
    const complete = async (): Promise<RecoveryPoint[]> => (await repo.points.list(plan, { status: 'complete' })).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());

    // ---- the RPO over three cycles after the first: never missed, as the API reports it
    let polls = 0;
    for (;;) {
      const points = await complete();
      const status = await api(d, 'GET', '/v1/status', memberToken);
      expect(status.status, JSON.stringify(status.json)).to.equal(200);
      const mine = (status.json['plans'] as { plan: string; rpoMet: boolean; currentRpoMs?: number }[]).find((p) => p.plan === plan);
      expect(mine, `the member sees plan ${plan} in /v1/status`).to.not.equal(undefined);
      if (points.length > 0) {
        polls++;
        expect(mine!.rpoMet, `RPO met at ${Math.round((Date.now() - t0) / 1000)} s (current ${mine!.currentRpoMs} ms)\n${d.tail()}`).to.equal(true);
        expect(mine!.currentRpoMs).to.be.at.most(RPO_MS);
      }
      if (points.length >= 4) break;
      expect(Date.now() - t0, `four complete points within 9 minutes\n${d.tail()}`).to.be.below(540_000);
      await sleep(5_000);
    }
    const points = await complete();
    const gaps = points.slice(1).map((p, i) => p.createdAt.getTime() - points[i]!.createdAt.getTime());
    for (const g of gaps) expect(g, 'between two complete points: less than the RPO').to.be.below(RPO_MS);
    const runs = await repo.runs.list({ planName: plan, kind: 'replicate' });
    expect(new Set(runs.map((r) => r.owner)).size, 'every cycle by the daemon').to.equal(1);
    expect(runs[0]!.owner).to.match(/^daemon@/);

    // ---- /metrics (the listener without a token)
    const m = await metricsText(d);
    const rpo = metricValue(m, `ferry_plan_rpo_seconds{plan="${plan}"}`);
    expect(rpo, m.split('\n').filter((l) => l.includes(plan)).join('\n')).to.be.a('number').and.at.most(RPO_MS / 1000);
    expect(metricValue(m, `ferry_plan_rpo_target_seconds{plan="${plan}"}`)).to.equal(RPO_MS / 1000);
    expect(metricValue(m, `ferry_plan_rpo_met{plan="${plan}"}`)).to.equal(1);
    expect(metricValue(m, 'ferry_leader')).to.equal(1);
    expect(metricValue(m, `ferry_replication_cycle_duration_seconds_count{plan="${plan}",outcome="complete"}`)).to.be.at.least(4);

    // ---- a reader may read, not start a DR test
    const seen = await api(d, 'GET', `/v1/plans/${plan}`, readerToken);
    expect(seen.status, JSON.stringify(seen.json)).to.equal(200);
    const refused = await api(d, 'POST', `/v1/plans/${plan}/runs`, readerToken, { kind: 'drtest', params: { keep: '0' } });
    expect(refused.status, JSON.stringify(refused.json)).to.equal(403);
    expect((refused.json['error'] as { message: string }).message).to.include('runs:create:drtest');
    expect(await repo.runs.list({ planName: plan, kind: 'drtest' })).to.deep.equal([]);

    // ---- the member starts one and follows it to its end
    const started = await api(d, 'POST', `/v1/plans/${plan}/runs`, memberToken, { kind: 'drtest', params: { keep: '0' } });
    expect(started.status, JSON.stringify(started.json)).to.equal(202);
    const runId = (started.json['run'] as { id: string }).id;
    let after = 0;
    let finished: { status: string } | undefined;
    const t1 = Date.now();
    while (!finished) {
      const ev = await api(d, 'GET', `/v1/runs/${runId}/events?after=${after}&wait=25`, memberToken);
      expect(ev.status, JSON.stringify(ev.json)).to.equal(200);
      after = ev.json['next'] as number;
      if (ev.json['finished']) finished = ev.json['run'] as { status: string };
      expect(Date.now() - t1, `the DR test ends within 15 minutes\n${d.tail()}`).to.be.below(900_000);
    }
    const run = await repo.runs.get(runId);
    expect(finished.status, `DR test run ${runId}: ${JSON.stringify(run?.result)}\n${d.tail()}`).to.equal('succeeded');
    expect(run!.owner).to.equal(runs[0]!.owner);
    expect(metricValue(await metricsText(d), 'ferry_run_duration_seconds_count{kind="drtest",outcome="succeeded"}')).to.equal(1);
    // and the RPO still holds after it
    const after2 = await api(d, 'GET', '/v1/status', memberToken);
    expect((after2.json['plans'] as { plan: string; rpoMet: boolean }[]).find((p) => p.plan === plan)!.rpoMet).to.equal(true);

    // ---- SIGTERM: it drains and exits 0
    const code = await d.stop();
    expect(code, d.tail()).to.equal(0);
    console.log(`      plan ${plan}: ${points.length} complete points, gaps ${gaps.map((g) => `${Math.round(g / 1000)} s`).join(', ')}, ${polls} status polls all within RPO; DR test ${runId} ${Math.round((Date.now() - t1) / 1000)} s`);
  });

  describe('site A cut (exclusive lab lock)', function () {
    let cut = false;
    after(async function () {
      this.timeout(120_000);
      if (cut) await exec('bash', [DISASTER, 'a', 'heal']);
    });

    it('reports site A down within its hysteresis when the link is cut, and up after the heal', async () => {
      const c = cleanup();
      const PROBE_MS = 2_000;
      const TIMEOUT_MS = 1_000;
      const FAILURES = 3;
      const d = await startDaemon(
        c,
        dir,
        ['[scheduler]', 'enabled = false', '[health]', 'sites = lab-a, lab-b', `probe_interval = ${PROBE_MS / 1000}`, `probe_timeout = ${TIMEOUT_MS / 1000}`, `failure_threshold = ${FAILURES}`, 'success_threshold = 2'].join('\n'),
      );
      const status = (text: string, site: string) => ['up', 'degraded', 'down'].find((s) => metricValue(text, `ferry_site_status{site="${site}",status="${s}"}`) === 1);
      const waitFor = async (site: string, want: string, ms: number): Promise<number> => {
        const t0 = Date.now();
        for (;;) {
          if (status(await metricsText(d), site) === want) return Date.now() - t0;
          if (Date.now() - t0 > ms) throw new Error(`site ${site} not ${want} within ${ms} ms\n${d.tail()}`);
          await sleep(200);
        }
      };
      await waitFor('lab-a', 'up', 60_000);
      await waitFor('lab-b', 'up', 60_000);

      cut = true;
      await exec('bash', [DISASTER, 'a', 'cut']);
      const downMs = await waitFor('lab-a', 'down', 60_000);
      // Hysteresis: not before FAILURES-1 further rounds; within FAILURES rounds (+ timeouts, a round under way)
      expect(downMs, 'not at the first failed probe').to.be.at.least((FAILURES - 1) * PROBE_MS - 500);
      expect(downMs, 'within the hysteresis').to.be.at.most((FAILURES + 1) * (PROBE_MS + TIMEOUT_MS) + 2_000);
      const text = await metricsText(d);
      expect(status(text, 'lab-b')).to.equal('up');
      expect(metricValue(text, 'ferry_site_up{site="lab-a"}')).to.equal(0);
      // the API (site B's Keystone) says so too
      const admin = await tokenOf(labSite('lab-b'));
      const st = await api(d, 'GET', '/v1/status', admin);
      expect(st.status, JSON.stringify(st.json)).to.equal(200);
      const sites = st.json['sites'] as { site: string; status: string }[];
      expect(sites.map((s) => `${s.site} ${s.status}`)).to.include.members(['lab-a down', 'lab-b up']);
      expect(readFileSync(d.log, 'utf8')).to.match(/site lab-a is down \(was up\)/);

      await exec('bash', [DISASTER, 'a', 'heal']);
      cut = false;
      const upMs = await waitFor('lab-a', 'up', 120_000);
      expect(await d.stop(), d.tail()).to.equal(0);
      console.log(`      site lab-a: down ${downMs} ms after the cut (probes every ${PROBE_MS} ms, ${FAILURES} failures), up ${upMs} ms after the heal`);
    });
  });
});
