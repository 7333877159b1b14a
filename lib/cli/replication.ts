// `ferry replicate PLAN`, `ferry points list PLAN [--from CLOUD]`, `ferry points show PLAN ID`,
// `ferry status [PLAN...]`: protection as an operator drives and watches it from a shell.
// Progress goes to stderr (bars on a terminal, one line per step otherwise); results to stdout.
import { hostname } from 'node:os';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { Option } from 'commander';
import { CatalogNotFoundError, type RecoveryPoint } from '../catalog/repo.js';
import { loadCloud } from '../config/clouds.js';
import { formatDuration } from '../config/protection-plan.js';
import { pointFromWire, type CatalogReader, type FerryApiClient } from '../daemon/api/client.js';
import type { Status } from '../daemon/api/schemas.js';
import { Site } from '../openstack/site.js';
import { DEFAULT_BANK_CONTAINER, getRecoveryPoint, listRecoveryPoints } from '../replication/bank.js';
import type { RecoveryPointManifest } from '../replication/recovery-point.js';
import { ensureFenced } from '../workflows/fence.js';
import { runReplicationCycle, type CycleEvent, type CycleResult } from '../workflows/replicate.js';
import { allStatus, type PlanStatus } from '../workflows/status.js';
import { apiOf, isRemote, notRemotely, positiveInt, siteCache, withInterrupt, withReader, withRepo, type CliContext, type Io } from './context.js';
import { FORMATS, structured, table, type Format } from './output.js';
import { startAndFollow } from './runs.js';

const formatOption = () => new Option('-f, --format <format>', 'output format').choices(FORMATS).default('table');

/** Adds replicate, points and status to the program. */
export function registerReplication(program: Command, ctx: CliContext): void {
  program
    .command('replicate')
    .description('run one replication cycle of a plan now: snapshots, incremental backups moved to the secondary, images, a recovery point')
    .argument('<plan>', 'plan name (see ferry plan list)')
    .option('--concurrency <n>', 'volumes and images worked on at once per site', positiveInt, 2)
    .addOption(formatOption())
    .action(async (planName: string, o: { concurrency: number; format: Format }, cmd: Command) => {
      if (isRemote(ctx)) {
        // The daemon runs the cycle as its scheduled ones (its own sites and settings): no params.
        if (cmd.getOptionValueSource('concurrency') === 'cli') notRemotely(ctx, '--concurrency', "the daemon's cycles use its own [replication] settings");
        ctx.setExit(await startAndFollow(ctx, apiOf(ctx), planName, 'replicate', {}, o.format));
        return;
      }
      await withRepo(ctx, async (repo) => {
        const sites = siteCache(ctx);
        // After a failover the old primary's servers are stopped and locked before anything
        // else touches the plan (a no-op otherwise; refused while the old primary is down).
        const fenced = await ensureFenced(repo, planName, sites, { logger: ctx.logger() });
        if (fenced.status === 'fenced') ctx.io.err(`ferry: fenced the old primary ${fenced.site}: its servers are stopped, locked and tagged`);
        const view = new ProgressView(ctx.io);
        let result: CycleResult;
        try {
          result = await withInterrupt((signal) =>
            runReplicationCycle(planName, {
              repo,
              sites,
              owner: `cli@${hostname()}`,
              logger: ctx.logger(),
              concurrency: o.concurrency,
              signal,
              onEvent: (e) => view.event(e),
            }),
          );
        } finally {
          view.stop();
        }
        ctx.io.out(renderCycle(result, o.format));
        ctx.setExit(result.status === 'complete' ? 0 : 1);
      });
    });

  const points = program.command('points').description('recovery points of a plan');
  points
    .command('list')
    .description('recovery points, newest first: age, status, consistency, size (from the catalog, or from the bank at a site with --from)')
    .argument('<plan>', 'plan name')
    .option('--from <cloud>', "read the bank at this site (the secondary's object store) instead of the catalog")
    .option('--container <name>', 'the bank container (with --from)', DEFAULT_BANK_CONTAINER)
    .addOption(formatOption())
    .action(async (planName: string, o: { from?: string; container: string; format: Format }) => {
      const now = new Date();
      if (o.from) {
        const site = new Site(loadCloud(o.from, ctx.clouds()), { logger: ctx.logger() });
        const entries = await listRecoveryPoints(site.objectStore, planName, { container: o.container });
        const rows = entries.map((e) => ({ id: e.id, createdAt: e.createdAt, age: formatDuration(now.getTime() - Date.parse(e.createdAt)), state: e.state, manifestBytes: e.manifest?.bytes ?? null }));
        ctx.io.out(o.format === 'table' ? table(['ID', 'Created', 'Age', 'State in the bank'], rows.map((r) => [r.id, r.createdAt, r.age, r.state])) : structured(rows, o.format));
        return;
      }
      await withReader(ctx, async (repo) => {
        await requirePlan(repo, planName);
        const rows = isRemote(ctx) ? await remotePointRows(apiOf(ctx), planName, now) : (await repo.points.list(planName)).map((p) => pointRow(p, now));
        ctx.io.out(
          o.format === 'table'
            ? table(
                ['ID', 'Created', 'Age', 'Status', 'Consistency', 'Size', 'Volumes', 'Images', 'From → to'],
                rows.map((r) => [r.id, r.createdAt, r.age, r.status, r.consistency, r.size, r.volumes, r.images, `${r.sourceSite} → ${r.targetSite}`]),
              )
            : structured(rows, o.format),
        );
      });
    });
  points
    .command('show')
    .description("a recovery point's manifest: members, data references at the secondary, sizes, warnings")
    .argument('<plan>', 'plan name')
    .argument('<point>', 'recovery point ID')
    .option('--from <cloud>', 'read the manifest from the bank at this site instead of the catalog')
    .option('--container <name>', 'the bank container (with --from)', DEFAULT_BANK_CONTAINER)
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('yaml'))
    .action(async (planName: string, pointId: string, o: { from?: string; container: string; format: Format }) => {
      let manifest: RecoveryPointManifest | object | null;
      let summary: Record<string, unknown>;
      if (o.from) {
        const site = new Site(loadCloud(o.from, ctx.clouds()), { logger: ctx.logger() });
        const entry = (await listRecoveryPoints(site.objectStore, planName, { container: o.container })).find((e) => e.id === pointId);
        if (!entry) throw new CatalogNotFoundError('recovery point', pointId, `not found in the bank of ${o.from} (container ${o.container}) for plan '${planName}'`);
        manifest = await getRecoveryPoint(site.objectStore, { plan: planName, createdAt: entry.createdAt, id: pointId }, { container: o.container });
        summary = { id: pointId, plan: planName, createdAt: entry.createdAt, bank: entry.state };
      } else {
        const point = await withReader(ctx, async (repo) => {
          const p = await repo.points.get(pointId);
          if (!p || p.planName !== planName) throw new CatalogNotFoundError('recovery point', pointId, `not found in the catalog for plan '${planName}' (fix: ferry points list ${planName})`);
          return p;
        });
        manifest = point.manifest;
        summary = { ...pointRow(point, new Date()) };
      }
      if (o.format === 'table') {
        const m = manifest as Partial<RecoveryPointManifest> | null;
        const rows: [string, string][] = Object.entries(summary).map(([k, v]) => [k, String(v ?? '')]);
        for (const v of m?.data?.volumes ?? []) rows.push([`volume ${v.sourceVolumeId}`, `backup ${v.secondaryBackupId}${v.incremental ? ` (incremental on ${v.parentBackupId})` : ' (full)'}, ${v.sizeGb} GiB`]);
        for (const i of m?.data?.images ?? []) rows.push([`image ${i.sourceImageId}`, `${i.secondaryImageId} ${i.hash}`]);
        for (const w of m?.warnings ?? []) rows.push(['warning', w.message]);
        ctx.io.out(table(['Field', 'Value'], rows));
      } else {
        ctx.io.out(structured({ ...summary, manifest }, o.format));
      }
    });

  program
    .command('status')
    .description('per plan: RPO target and current RPO (age of the newest complete point), last cycle, bytes moved, next cycle due')
    .argument('[plan...]', 'plan names (default: every plan)')
    .addOption(formatOption())
    .action(async (names: string[], o: { format: Format }) => {
      if (isRemote(ctx)) {
        ctx.setExit(await remoteStatus(ctx, apiOf(ctx), names, o.format));
        return;
      }
      await withRepo(ctx, async (repo) => {
        for (const n of names) await requirePlan(repo, n);
        const all = await allStatus(repo, new Date());
        const list = names.length > 0 ? all.filter((s) => names.includes(s.plan)) : all;
        ctx.io.out(o.format === 'table' ? renderStatusTable(list) : structured(list, o.format));
        ctx.setExit(list.every((s) => s.rpoMet) ? 0 : 1);
      });
    });
}

// ---- helpers -------------------------------------------------------------------



async function requirePlan(repo: CatalogReader, name: string): Promise<void> {
  if (!(await repo.plans.get(name))) throw new CatalogNotFoundError('plan', name, 'is not in the catalog (fix: ferry plan apply FILE, or ferry catalog rebuild --from SECONDARY)');
}


/** Point rows from the daemon: its summaries count volumes and images (they carry no manifest). */
async function remotePointRows(api: FerryApiClient, planName: string, now: Date): Promise<PointRow[]> {
  return (await api.points(planName, { limit: 1000 })).map((w) => ({ ...pointRow(pointFromWire(w), now), volumes: w.volumes, images: w.images }));
}

/**
 * `ferry status` at the daemon: the same plan rows (and -f json|yaml shape) as in-process; the
 * table adds the sites as the daemon's health probes see them and its advice. Exit 1 when a
 * plan misses its RPO, as in-process.
 */
async function remoteStatus(ctx: CliContext, api: FerryApiClient, names: string[], format: Format): Promise<number> {
  const status = await api.status();
  const all = status.plans as PlanStatus[];
  for (const n of names) {
    if (!all.some((s) => s.plan === n)) throw new CatalogNotFoundError('plan', n, `is not known to the daemon at ${api.baseUrl}, or not visible to this token (fix: ferry plan list)`);
  }
  const list = names.length > 0 ? all.filter((s) => names.includes(s.plan)) : all;
  if (format !== 'table') {
    ctx.io.out(structured(list, format));
  } else {
    const out = [renderStatusTable(list)];
    const sites = renderSites(status.sites);
    if (sites) out.push(sites);
    for (const a of status.advice.filter((x) => names.length === 0 || names.includes(x.plan))) out.push(`advice: ${a.plan}: ${a.level}: ${a.message}`);
    ctx.io.out(out.join('\n'));
  }
  return list.every((s) => s.rpoMet) ? 0 : 1;
}

function renderSites(sites: Status['sites']): string | undefined {
  if (sites.length === 0) return undefined;
  return table(
    ['Site', 'Health', 'Since', 'Services down'],
    sites.map((s) => [
      s.site,
      s.status,
      s.since ?? '',
      [...(s.services ?? []).filter((v) => v.status === 'down').map((v) => `${v.service}${v.lastError ? ` (${v.lastError})` : ''}`), ...(s.error ? [s.error] : [])].join(', '),
    ]),
  );
}

/** Bytes for people: 1.5 GiB, 12.0 MiB, 512 B. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

interface PointRow {
  id: string;
  createdAt: string;
  completedAt: string | null;
  age: string;
  status: string;
  consistency: string;
  sizeBytes: number | null;
  size: string;
  volumes: number;
  images: number;
  /** After a failover points go both ways: where the data came from and where it is. */
  sourceSite: string;
  targetSite: string;
}

function pointRow(p: RecoveryPoint, now: Date): PointRow {
  const m = p.manifest as Partial<RecoveryPointManifest> | null;
  return {
    id: p.id,
    createdAt: p.createdAt.toISOString(),
    completedAt: p.completedAt?.toISOString() ?? null,
    age: formatDuration(now.getTime() - p.createdAt.getTime()),
    status: p.status,
    consistency: p.consistency,
    sizeBytes: p.sizeBytes,
    size: formatBytes(p.sizeBytes),
    volumes: m?.data?.volumes?.length ?? 0,
    images: m?.data?.images?.length ?? 0,
    sourceSite: p.sourceSite,
    targetSite: p.targetSite,
  };
}

function renderCycle(r: CycleResult, format: Format): string {
  if (format !== 'table') return structured(r, format);
  const rows: [string, string][] = [
    ['run', r.runId],
    ['recovery point', r.pointId ?? '(none)'],
    ['status', r.status],
    ['duration', `${(r.durationMs / 1000).toFixed(1)} s`],
    ['volume bytes', formatBytes(r.bytes.volumes)],
    ['image bytes copied', formatBytes(r.bytes.images)],
    ['retention', r.retention.deletedPoints.length > 0 ? `deleted ${r.retention.deletedPoints.join(', ')}` : 'nothing expired'],
  ];
  if (r.error) rows.push(['error', r.error]);
  for (const w of r.warnings) rows.push(['warning', w]);
  return table(['Field', 'Value'], rows);
}

function renderStatusTable(list: PlanStatus[]): string {
  return table(
    ['Plan', 'Active site', 'RPO target', 'Current RPO', 'Met', 'Last cycle', 'Bytes moved', 'Next cycle', 'Points'],
    list.map((s) => [
      s.plan,
      s.activeSite,
      formatDuration(s.rpoTargetMs),
      s.currentRpoMs === undefined ? 'no complete point' : formatDuration(s.currentRpoMs),
      s.rpoMet ? 'yes' : 'NO',
      s.lastCycle ? `${s.lastCycle.status} in ${(s.lastCycle.durationMs / 1000).toFixed(1)} s` : 'never',
      s.lastCycle ? formatBytes(s.lastCycle.bytes) : '',
      s.nextCycleDueAt ?? '',
      s.points,
    ]),
  );
}

/** Cycle events on stderr: bars per volume and image on a terminal, a line per step otherwise. */
class ProgressView {
  private readonly t0 = Date.now();
  private readonly multi?: cliProgress.MultiBar;
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  private static readonly VOLUME_STEPS = ['snapshot', 'backup', 'snapshot-delete', 'export', 'import'];

  constructor(private readonly io: Io) {
    if (io.isTTY) {
      this.multi = new cliProgress.MultiBar(
        { format: ' {label} [{bar}] {value}/{total} {step}', hideCursor: true, clearOnComplete: false, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  event(e: CycleEvent): void {
    const at = `[${((Date.now() - this.t0) / 1000).toFixed(1)}s]`;
    if (e.kind === 'phase') {
      this.line(`ferry: ${at} ${e.phase}: ${e.state}${e.detail ? ` (${e.detail})` : ''}`);
      return;
    }
    if (e.kind === 'volume') {
      const p = e.progress;
      if (p.event === 'waiting') return;
      if (this.multi) {
        const bar = this.bar(`volume ${p.volumeId.slice(0, 8)}`, ProgressView.VOLUME_STEPS.length);
        const idx = ProgressView.VOLUME_STEPS.indexOf(p.step);
        bar.update(p.event === 'done' || p.event === 'created' || p.event === 'adopted' ? idx + 1 : Math.max(idx, 0), { step: `${p.step} ${p.event}` });
      } else if (p.event !== 'start') {
        this.line(`ferry: ${at} volume ${p.volumeId}: ${p.step} ${p.event}${p.id ? ` ${p.id}` : ''}${p.detail ? ` (${p.detail})` : ''}`);
      }
      return;
    }
    const p = e.progress;
    if (this.multi && p.totalBytes) {
      this.bar(`image ${p.imageId.slice(0, 8)}`, p.totalBytes).update(p.bytes ?? 0, { step: p.event });
    } else if (p.event !== 'bytes') {
      this.line(`ferry: ${at} image ${p.imageId}: ${p.event}${p.detail ? ` (${p.detail})` : ''}`);
    }
  }

  stop(): void {
    this.multi?.stop();
  }

  private bar(label: string, total: number): cliProgress.SingleBar {
    let b = this.bars.get(label);
    if (!b) {
      b = this.multi!.create(total, 0, { label, step: '' });
      this.bars.set(label, b);
    }
    return b;
  }

  private line(text: string): void {
    if (this.multi) this.multi.log(`${text}\n`);
    else this.io.err(text);
  }
}
