// `npm run demo`: Ferry's tour in the two-site lab. Brings the lab up if it is not running,
// creates (or adopts) a sample two-tier workload in project demo at site A, protects it to
// site B, runs a DR test, fails over (planned: the lab's network is never cut), fails back,
// and prints each step with its duration, RPO and RTO. The workload stays protected at A;
// `npm run demo -- --clean` purges the plan and deletes the workload at both sites.
//
// Every Ferry step is the real `ferry` CLI (bin/ferry.js) in a child process: its progress
// goes to this terminal's stderr, its JSON answer (-f json) feeds the summary. Running the demo
// twice adopts what the first run made: the workload by its names, the plan by its name, and a
// plan left active at B by an interrupted run is failed back first.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { table } from '../../lib/cli/output.js';
import { formatDuration } from '../../lib/config/protection-plan.js';
import { loadCloud } from '../../lib/config/clouds.js';
import { deleteStackAndWait } from '../../lib/heat/deploy.js';
import { silentLogger } from '../../lib/log.js';
import { deleteSnapshot } from '../../lib/openstack/blockstorage/snapshots.js';
import { deleteBackupChain, findOrphans } from '../../lib/replication/cinder-backup.js';
import { listStacks } from '../../lib/openstack/orchestration/stacks.js';
import { collect } from '../../lib/openstack/paginate.js';
import { Site } from '../../lib/openstack/site.js';
import { getVolume } from '../../lib/openstack/blockstorage/volumes.js';
import { listServers } from '../../lib/openstack/compute/servers.js';
import { FENCED_TAG } from '../../lib/workflows/fence.js';
import { DEMO_CLOUDS, DEMO_PROJECT, buildTwoTier, demoClouds, removeTwoTier, volumeSha, writeVolumeSeed } from './demo-workload.js';

const ROOT = join(import.meta.dirname, '..', '..');
const FERRY = join(ROOT, 'bin', 'ferry.js');
const LAB = join(ROOT, 'devstack', 'lab');
const LAB_STATE = process.env.LAB_STATE ?? '/var/lib/ferry-lab';
const DEMO_DIR = join(LAB_STATE, 'demo');
const CLOUDS = join(DEMO_DIR, 'clouds.yaml');
const DB = `sqlite://${join(DEMO_DIR, 'catalog.db')}`;
const PLAN = 'ferry-demo';
const PREFIX = 'ferry-demo';
const TAG = 'ferry-demo-app';

interface StepRow {
  step: string;
  result: string;
  durationMs: number;
  rpoMs?: number | null;
  rtoMs?: number | null;
  note?: string;
}

const rows: StepRow[] = [];
const say = (line: string) => process.stdout.write(`\n==> ${line}\n`);

/** Runs `ferry --db DB ...args` with the demo's clouds; stderr (progress) shows live, stdout is returned. */
function ferry(args: string[], opts: { quiet?: boolean } = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FERRY, '--db', DB, ...args], {
      cwd: ROOT,
      env: { ...process.env, OS_CLIENT_CONFIG_FILE: CLOUDS },
      stdio: ['ignore', 'pipe', opts.quiet ? 'ignore' : 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

/** A ferry step with JSON output, timed and recorded; throws (after recording) when it fails. */
async function step<T extends object>(name: string, args: string[], summarize: (json: T) => Omit<StepRow, 'step' | 'durationMs'>): Promise<T> {
  say(`${name}: ferry ${args.join(' ')}`);
  const t0 = Date.now();
  const r = await ferry([...args, '-f', 'json']);
  const durationMs = Date.now() - t0;
  let json: T | undefined;
  try {
    json = JSON.parse(r.out) as T;
  } catch {
    json = undefined;
  }
  if (r.code !== 0 || json === undefined) {
    const why = (json as { error?: string | null } | undefined)?.error ?? r.out.trim();
    rows.push({ step: name, result: `failed (exit ${r.code})`, durationMs, note: 'see below' });
    throw new Error(`ferry ${args.join(' ')} exited ${r.code}${why ? `: ${why}` : ''}`);
  }
  rows.push({ step: name, durationMs, ...summarize(json) });
  return json;
}

/** Exit code of a lab script (stdout shown only when asked). */
async function labScript(script: string, args: string[] = [], show = false): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('bash', [join(LAB, script), ...args], { stdio: ['ignore', show ? 'inherit' : 'ignore', show ? 'inherit' : 'ignore'] });
    child.on('close', (code) => resolve(code ?? 1));
    child.on('error', () => resolve(1));
  });
}

/** The lab running and usable, or a clear reason why not (then exit 1). */
async function ensureLab(): Promise<void> {
  const flags = existsSync(join(LAB_STATE, 'run')) ? readdirSync(join(LAB_STATE, 'run')).filter((f) => /^(cut|blackout)-/.test(f)) : [];
  if (flags.length > 0) {
    throw new Error(`the lab has a simulated disaster in progress (${flags.join(', ')}); undo it first, e.g. bash devstack/lab/lab-disaster.sh ${flags[0]!.split('-')[1]} ${flags[0]!.startsWith('cut') ? 'heal' : 'restore'}`);
  }
  if (existsSync(join(LAB_STATE, 'clouds.yaml')) && (await labScript('lab-status.sh')) === 0) {
    say('the lab is up (devstack/lab/lab-status.sh)');
    return;
  }
  if (process.getuid?.() !== 0) {
    throw new Error('the lab is not running, and bringing it up needs root: run `sudo npm run lab:up` (or the demo itself as root), then `npm run demo` again');
  }
  say('the lab is not running: devstack/lab/lab-up.sh (the first time takes a while)');
  if ((await labScript('lab-up.sh', [], true)) !== 0) throw new Error('devstack/lab/lab-up.sh failed (see its output above)');
  if ((await labScript('lab-status.sh', [], true)) !== 0) throw new Error('the lab came up but devstack/lab/lab-status.sh still reports a problem (see above)');
}

function site(name: string): Site {
  return new Site(loadCloud(name, { env: { ...process.env, OS_CLIENT_CONFIG_FILE: CLOUDS } }), { logger: silentLogger, timeoutMs: 120_000 });
}

interface PlanRow {
  name: string;
  activeSite: string;
}

async function planRow(): Promise<PlanRow | undefined> {
  const r = await ferry(['plan', 'list', '-f', 'json'], { quiet: true });
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.out) as PlanRow[]).find((p) => p.name === PLAN);
}

const shortId = (id: string | undefined) => (id ? id.slice(0, 8) : '-');
const ms = (v: number | null | undefined) => (v === undefined || v === null ? '-' : v < 1000 ? `${v} ms` : `${formatDuration(v)} (${(v / 1000).toFixed(1)} s)`);

function summary(): string {
  return table(
    ['Step', 'Result', 'Took', 'RPO', 'RTO', 'Note'],
    rows.map((r) => [r.step, r.result, `${(r.durationMs / 1000).toFixed(1)} s`, ms(r.rpoMs), ms(r.rtoMs), (r.note ?? '').slice(0, 72)]),
  );
}

const useFerry = `OS_CLIENT_CONFIG_FILE=${CLOUDS} FERRY_DB=${DB} npx ferry`;

async function clean(): Promise<void> {
  say(`removing the demo: plan ${PLAN} (purged) and the workload at both sites`);
  if (existsSync(CLOUDS)) {
    const sites = [site(DEMO_CLOUDS.a), site(DEMO_CLOUDS.b)];
    // Recovery stacks first: they hold the restored volumes and ports on the workload's networks.
    for (const s of sites) {
      for (const st of await collect(listStacks(s.orchestration, { tags: [`ferry:plan=${PLAN}`] }))) {
        await deleteStackAndWait(s, st.stack_name);
        console.log(`removed stack ${st.stack_name} at ${s.name}`);
      }
    }
    // The plan's snapshots and backups at both sites, found by Ferry's marks, in one chain per
    // site (incrementals first): `ferry plan delete --purge` alone waits 10 minutes on a parent
    // whose recovery point retention already dropped (lib/plan/store.ts purgeSite).
    for (const s of sites) {
      const left = await findOrphans(s, PLAN, []);
      for (const snap of left.snapshots) await deleteSnapshot(s.blockStorage, snap.id).catch(() => undefined);
      const ordered = [...left.backups].sort((x, y) => Number(y.is_incremental === true) - Number(x.is_incremental === true)).map((b) => b.id);
      await deleteBackupChain(s, ordered, { maxPollIntervalMs: 3000 });
      if (left.snapshots.length + ordered.length > 0) console.log(`removed ${left.snapshots.length} snapshot(s) and ${ordered.length} backup(s) of ${PLAN} at ${s.name}`);
    }
    // Purged even when `plan list` no longer shows it (a purge that failed half-way leaves it deleting): its banks go too.
    const purged = (await ferry(['plan', 'delete', PLAN, '--purge', '--yes'])).code === 0 || !existsSync(join(DEMO_DIR, 'catalog.db')) || !(await planRow());
    for (const s of sites) await removeTwoTier(s, PREFIX, TAG, { log: (l) => console.log(`${l} at ${s.name}`) });
    if (!purged) throw new Error(`ferry plan delete ${PLAN} --purge failed (see above); the workload is removed, the catalog is kept in ${DEMO_DIR}`);
  }
  rmSync(DEMO_DIR, { recursive: true, force: true });
  say('the demo is gone');
}

/** The data volume (the non-bootable one) of the running, unfenced db server of the demo at a site. */
async function dataVolumeOf(s: Site): Promise<string> {
  const servers = (await collect(listServers(s.compute, { tags: [TAG], 'not-tags': [FENCED_TAG] }))).filter((x) => x.name === `${PREFIX}-db` && x.status === 'ACTIVE');
  if (servers.length !== 1) throw new Error(`expected one running ${PREFIX}-db at ${s.name}, found ${servers.length}`);
  for (const ref of servers[0]!['os-extended-volumes:volumes_attached']) {
    if ((await getVolume(s.blockStorage, ref.id)).bootable !== 'true') return ref.id;
  }
  throw new Error(`${PREFIX}-db at ${s.name} has no data volume attached`);
}

async function demo(): Promise<void> {
  demoClouds(join(LAB_STATE, 'clouds.yaml'), CLOUDS);
  const A = site(DEMO_CLOUDS.a);

  // ---- the workload and its plan
  let row = await planRow();
  if (row) {
    say(`plan ${PLAN} exists (active at ${row.activeSite}): adopting the protected workload`);
  } else {
    say(`sample workload at ${DEMO_CLOUDS.a} (project ${DEMO_PROJECT}): two networks, two security groups, a keypair, web and db servers`);
    const t0 = Date.now();
    const w = await buildTwoTier(A, { prefix: PREFIX, tag: TAG, seed: 'ferry-demo-seed', dataMb: 8, cidrs: { web: '10.233.10.0/24', db: '10.233.20.0/24' }, log: (l) => console.log(`  ${l}`) });
    rows.push({ step: 'workload at A', result: w.adopted.length > 0 ? `adopted ${w.adopted.length} parts` : 'created', durationMs: Date.now() - t0, note: `${w.web.name}, ${w.db.name} (tag ${TAG})` });
  }
  const planFile = join(DEMO_DIR, `${PLAN}.yaml`);
  writeFileSync(
    planFile,
    stringify({
      name: PLAN,
      description: 'npm run demo: the sample two-tier workload',
      project: DEMO_PROJECT,
      primary: DEMO_CLOUDS.a,
      secondary: DEMO_CLOUDS.b,
      tier: 'pilot-light',
      rpo: '15m',
      retention: { count: 3 },
      members: [{ tag: TAG }],
      mappings: { networks: [{ from: `${PREFIX}-web-net`, recreate: true }, { from: `${PREFIX}-db-net`, recreate: true }] },
    }),
  );
  say(`protect: ferry plan apply ${planFile}`);
  const applied = await ferry(['plan', 'apply', planFile]);
  process.stdout.write(applied.out);
  if (applied.code !== 0) throw new Error(`ferry plan apply exited ${applied.code}`);
  row = await planRow();

  // ---- a plan left at B by an interrupted run comes home first
  if (row?.activeSite === DEMO_CLOUDS.b) {
    await step<{ rtoMs: number | null; rpoMs: number | null; status: string }>('failback (left over)', ['failback', PLAN], (j) => ({ result: j.status, rpoMs: j.rpoMs, rtoMs: j.rtoMs }));
  }

  await step<{ status: string; pointId?: string; volumes: { total: number; full: number } }>('replicate A→B', ['replicate', PLAN], (j) => ({ result: j.status, note: `point ${shortId(j.pointId)}: ${j.volumes.total} volumes (${j.volumes.full} full)` }));
  await step<{ status: string; report: string | null; rtoMs: number | null; rpoMs: number | null }>('DR test at B', ['test', PLAN, '--keep', '0', '--report-dir', join(DEMO_DIR, 'reports')], (j) => ({
    result: `${j.status}, ${j.report ?? 'no report'}`,
    rpoMs: j.rpoMs,
    rtoMs: j.rtoMs,
    note: 'isolated bubble, torn down',
  }));
  await step<{ status: string; rtoMs: number | null; rpoMs: number | null; serverCount: number }>('planned failover to B', ['failover', PLAN, '--planned'], (j) => ({
    result: j.status,
    rpoMs: j.rpoMs,
    rtoMs: j.rtoMs,
    note: `${j.serverCount} servers at B, A fenced`,
  }));
  // The application writes at B: those bytes must come home with the failback.
  const B = site(DEMO_CLOUDS.b);
  const atB = await dataVolumeOf(B);
  const seed = `ferry-demo-at-b-${Date.now()}`;
  await writeVolumeSeed('b', atB, seed, 4);
  const shaAtB = await volumeSha('b', atB);
  console.log(`  wrote 4 MiB at B into the recovered data volume ${atB} (sha256 ${shaAtB.slice(0, 16)}…)`);
  await step<{ status: string; rtoMs: number | null; rpoMs: number | null }>('failback to A', ['failback', PLAN], (j) => ({ result: j.status, rpoMs: j.rpoMs, rtoMs: j.rtoMs, note: "B's data replicated home" }));
  const t0 = Date.now();
  const shaAtA = await volumeSha('a', await dataVolumeOf(A));
  rows.push({ step: 'data check at A', result: shaAtA === shaAtB ? 'same bytes' : 'DIFFERENT bytes', durationMs: Date.now() - t0, note: `db data sha256 at A ${shaAtA.slice(0, 12)}…, written at B ${shaAtB.slice(0, 12)}…` });
  if (shaAtA !== shaAtB) throw new Error('the data volume at A does not hold the bytes written at B');
  await step<{ status: string; pointId?: string }>('replicate A→B again', ['replicate', PLAN], (j) => ({ result: j.status, note: `point ${shortId(j.pointId)}: protected again` }));
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log('usage: npm run demo [-- --clean]\n  without options: lab up if needed, sample workload, protect, DR test, failover, failback, summary\n  --clean: purge the demo plan and delete its workload at both sites');
    return 0;
  }
  const unknown = args.filter((a) => a !== '--clean');
  if (unknown.length > 0) {
    console.error(`demo: unknown option ${unknown.join(' ')} (fix: npm run demo, or npm run demo -- --clean)`);
    return 2;
  }
  try {
    await ensureLab();
    if (args.includes('--clean')) {
      await clean();
      return 0;
    }
    await demo();
    say('summary');
    console.log(summary());
    console.log(`\nThe workload stays at site A, protected to B by plan ${PLAN}. Look around with:\n  ${useFerry} status ${PLAN}\n  ${useFerry} points list ${PLAN}\n  ${useFerry} runs list --plan ${PLAN}\nDR-test reports: ${join(DEMO_DIR, 'reports')}\nRemove everything with: npm run demo -- --clean`);
    return 0;
  } catch (err) {
    if (rows.length > 0) console.log(`\n${summary()}`);
    console.error(`\ndemo: ${(err as Error).message}`);
    if (existsSync(CLOUDS)) console.error(`Inspect with: ${useFerry} runs list --plan ${PLAN}; run the demo again to continue, or npm run demo -- --clean`);
    return 1;
  }
}

process.exitCode = await main();
