// Protection plans as catalog records: apply (create or update from a file, with a readable
// diff), list, show, delete (soft: the recovery points stay) and purge (the recovery points go:
// backups at both sites, the bank's objects, the catalog's rows).
//
// Decisions:
//  - Nothing is stored for an invalid plan: the file is parsed and validated offline first
//    (PlanError names file:line:col, field and fix), then, unless `offline`, online
//    (checkReadiness); a failed readiness check is a PlanNotReadyError carrying the report.
//  - Online apply writes the bank FIRST (plans/<plan>/plan.json at the secondary, and epoch 0
//    for a new plan), then the catalog: a secondary that cannot be reached or written fails
//    the apply before anything is stored, and `catalog rebuild` at the secondary always finds
//    the plans the catalog has. `offline` stores the catalog row only; the next replication
//    cycle (which writes plan.json every time) or an online apply writes the bank.
//  - A plan whose primary or secondary changes while it has recovery points is refused: the
//    points' data lives at the old sites. The fix is to purge it first, or use a new name.
//  - A new plan whose name the bank already holds at an epoch above 0 (a catalog lost after a
//    failover), or holds deleted, is refused: `catalog rebuild` must bring the bank's state
//    back first, or the fencing state would be reset and the deleted plan's points adopted.
//  - Delete, like apply, writes the bank FIRST: `deletedAt` in plans/<plan>/plan.json at the
//    secondary, then the catalog's soft delete, so that a catalog rebuilt from the bank records
//    the plan deleted instead of reviving it. A secondary that cannot be reached or written
//    fails the delete before the catalog changes (PlanBankError, with the fix); `offline`
//    deletes in the catalog only, knowingly: a catalog rebuilt from that bank would list the
//    plan live again, until a `plan delete` with the secondary reachable marks the bank
//    (deleting an already deleted plan does that). A bank without the plan's plan.json (never
//    written) needs nothing. A re-apply of a live plan whose plan.json says deleted (a delete
//    interrupted between the bank and the catalog) rewrites it live: the catalog decides.
//  - Purge is resumable: every step is idempotent and finds its work again from the catalog's
//    manifests AND from Ferry's marks at the sites (snapshots and backups marked with the
//    plan), so a re-run after a crash finishes the job. Backups are deleted children first
//    (deleteBackupChain); the catalog rows go last, in one transaction.
//  - The diff shows spec changes by field path, Terraform-like (`~ rpo: 15m → 5m`), with
//    durations as written and hook secrets masked.
import { specHash } from '../canonical-json.js';
import { CatalogNotFoundError, type CatalogRepo, type JsonObject, type Plan, type PointStatus, type PurgeResult, type RecoveryPoint } from '../catalog/repo.js';
import { formatDuration, loadPlan, maskPlanSecrets, type ProtectionPlan } from '../config/protection-plan.js';
import { readYamlFile } from '../config/yaml-source.js';
import { FerryError, isNotFound } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { waitForSnapshot, waitForSnapshotDeleted } from '../openstack/blockstorage/snapshots.js';
import { deleteObject } from '../openstack/objectstore/objects.js';
import type { Site } from '../openstack/site.js';
import { REDACTED, Redactor, redactUrl } from '../redact.js';
import {
  BankError,
  bankPaths,
  DEFAULT_BANK_CONTAINER,
  deleteRecoveryPoint,
  ensureBank,
  getEpoch,
  getPlanDocument,
  listRecoveryPoints,
  markPlanDeleted,
  planDocument,
  putEpoch,
  putPlanDocument,
  type BankPointEntry,
} from '../replication/bank.js';
import { deleteBackupChain, findOrphans, removeSnapshot, type MoverTimeouts } from '../replication/cinder-backup.js';
import type { RecoveryPointManifest } from '../replication/recovery-point.js';
import type { VolumeDataRef } from '../replication/types.js';
import { checkReadiness, type Locate, type ReadinessReport } from './readiness.js';

// ---- types ----------------------------------------------------------------------

/** A parsed plan and where its fields are in its file. */
export interface PlanSource {
  plan: ProtectionPlan;
  file?: string;
  locate?: Locate;
}

/** Site objects by cloud name (the CLI builds them from clouds.yaml). */
export type SiteFactory = (cloud: string) => Site;

export interface ApplyOptions {
  /** Skip the online checks and the bank write: the catalog only. */
  offline?: boolean;
  /** Validate and diff, store nothing. */
  dryRun?: boolean;
  /** Required unless offline. */
  sites?: SiteFactory;
  /** Bank container at the secondary (default ferry-bank). */
  container?: string;
  logger?: Logger;
  signal?: AbortSignal;
  now?: () => Date;
}

export type ApplyAction = 'created' | 'changed' | 'unchanged';

export interface SpecChange {
  op: '+' | '-' | '~';
  /** Field path, e.g. `mappings.networks[0].to`. */
  path: string;
  before?: unknown;
  after?: unknown;
}

export interface ApplyResult {
  name: string;
  action: ApplyAction;
  /** Spec changes against the stored plan (empty for created and unchanged). */
  changes: SpecChange[];
  dryRun: boolean;
  /** plans/<plan>/plan.json at the secondary: written, already up to date, or not touched (offline, dry run). */
  bank: 'written' | 'unchanged' | 'skipped';
  readiness?: ReadinessReport;
  /** The stored catalog row (not for a dry run). */
  plan?: Plan;
}

export type RpoStatus = 'met' | 'missed' | 'no points';

export interface PointSummary {
  id: string;
  status: PointStatus;
  createdAt: Date;
  completedAt: Date | null;
  sizeBytes: number | null;
  sourceSite: string;
  targetSite: string;
}

export interface PlanSummary {
  name: string;
  project: string;
  primary: string;
  secondary: string;
  activeSite: string;
  epoch: number;
  tier: string;
  rpo: string;
  /** Recovery points usable for recovery (complete) and in all. */
  points: { complete: number; total: number };
  newestComplete?: Date;
  /** Age of the newest complete point against the RPO. */
  rpoStatus: RpoStatus;
  deleted: boolean;
}

export interface PlanDetails extends PlanSummary {
  plan: Plan;
  pointsByStatus: Record<PointStatus, number>;
  /** The newest points, newest first (at most 5). */
  newest: PointSummary[];
  latestComplete?: PointSummary;
  rpoAgeMs?: number;
}

export interface DeleteOptions {
  /** Also delete the recovery points: backups at both sites, bank objects, catalog rows. */
  purge?: boolean;
  /** Required with purge. */
  sites?: SiteFactory;
  container?: string;
  logger?: Logger;
  signal?: AbortSignal;
  /** One line per thing removed (the CLI prints them). */
  onProgress?: (line: string) => void;
  timeouts?: Partial<MoverTimeouts>;
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /**
   * Delete in the catalog only, without recording the deletion in the secondary's bank (for a
   * secondary that is gone or unreachable). A catalog rebuilt from that bank would bring the
   * plan back live. Not with `purge`, which needs both sites anyway.
   */
  offline?: boolean;
  /** The deletion time written to the bank (default: now). */
  now?: () => Date;
}

export interface SitePurge {
  site: string;
  snapshots: number;
  /** Backup IDs deleted, children before parents. */
  backups: string[];
  /** Backups already gone. */
  missing: string[];
  /** Recovery points removed from this site's bank. */
  bankPoints: number;
  /** plan.json and epoch.json removed from this site's bank. */
  bankDocs: number;
}

export interface DeleteResult {
  name: string;
  /** The plan was live and is now deleted. */
  softDeleted: boolean;
  /** Recovery points the catalog holds for it (kept unless purged). */
  points: number;
  /**
   * plans/<plan>/plan.json at the secondary: the deletion recorded now (`written`), recorded
   * before (`unchanged`), no plan.json there (`absent`: nothing a rebuild could revive), or
   * not touched (`skipped`: offline).
   */
  bank: 'written' | 'unchanged' | 'absent' | 'skipped';
  purge?: { sites: SitePurge[]; catalog: PurgeResult };
}

// ---- errors -------------------------------------------------------------------------

/** The plan conflicts with what is stored (sites of a plan with points, a deleted name, the bank's epoch). */
export class PlanConflictError extends FerryError {
  override readonly name: string = 'PlanConflictError';
  constructor(
    readonly detail: string,
    readonly fix: string,
    /** The plan field the conflict is about (`name`, `secondary`). */
    readonly field: string = 'name',
  ) {
    super(`${detail} (fix: ${fix})`);
  }
}

/** The secondary's bank could not record a deletion; nothing was changed in the catalog. */
export class PlanBankError extends FerryError {
  override readonly name: string = 'PlanBankError';
  constructor(
    readonly detail: string,
    readonly fix: string,
    /** The site whose bank failed. */
    readonly site: string,
    options?: { cause?: unknown },
  ) {
    super(`${detail} (fix: ${fix})`, options);
  }
}

/** Online validation failed: the report says which checks. */
export class PlanNotReadyError extends FerryError {
  override readonly name: string = 'PlanNotReadyError';
  constructor(readonly report: ReadinessReport) {
    const failed = report.checks.filter((c) => c.status === 'fail');
    const first = failed[0];
    super(`plan '${report.plan}' is not ready: ${failed.length} check${failed.length === 1 ? '' : 's'} failed${first ? `, first: ${first.check} ${first.subject}: ${first.message}` : ''}`);
  }
}

// ---- reading --------------------------------------------------------------------------

/** Reads and validates a plan file offline; throws ConfigError (YAML) or PlanError (the plan). */
export function readPlanSource(file: string): PlanSource {
  const src = readYamlFile(file);
  const plan = loadPlan(src);
  return { plan, file, locate: (path) => src.locate(path) };
}

function sourceOf(input: string | ProtectionPlan | PlanSource): PlanSource {
  if (typeof input === 'string') return readPlanSource(input);
  if ('plan' in input) return input;
  return { plan: input };
}

/** The plan as the catalog and the bank store it: plain JSON (durations as {text, ms}). */
export function specOf(plan: ProtectionPlan): JsonObject {
  return JSON.parse(JSON.stringify(plan)) as JsonObject;
}

// ---- diff (pure) -------------------------------------------------------------------------

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A duration as the plan holds it: {text, ms}. Shown and compared as one value. */
function isDuration(v: unknown): v is { text: string; ms: number } {
  return isRecord(v) && Object.keys(v).length === 2 && typeof v.text === 'string' && typeof v.ms === 'number';
}

function join(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;
}

/** Changes from `before` to `after` by field path: lists element by element, durations as one value. */
export function diffSpecs(before: unknown, after: unknown, path = ''): SpecChange[] {
  if (Array.isArray(before) && Array.isArray(after)) {
    const out: SpecChange[] = [];
    for (let i = 0; i < Math.max(before.length, after.length); i++) {
      if (i >= before.length) out.push({ op: '+', path: join(path, i), after: after[i] });
      else if (i >= after.length) out.push({ op: '-', path: join(path, i), before: before[i] });
      else out.push(...diffSpecs(before[i], after[i], join(path, i)));
    }
    return out;
  }
  if (isRecord(before) && isRecord(after) && !isDuration(before) && !isDuration(after)) {
    const out: SpecChange[] = [];
    const keys = [...Object.keys(after), ...Object.keys(before).filter((k) => !(k in after))];
    for (const k of keys) {
      const p = join(path, k);
      if (!(k in before) || before[k] === undefined) {
        if (after[k] !== undefined) out.push({ op: '+', path: p, after: after[k] });
      } else if (!(k in after) || after[k] === undefined) out.push({ op: '-', path: p, before: before[k] });
      else out.push(...diffSpecs(before[k], after[k], p));
    }
    return out;
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ op: '~', path, before, after }];
}

const redactor = new Redactor();

/** A value for display: hook URLs and secret headers masked, durations as written. */
function scrub(v: unknown, path: string): unknown {
  if (isDuration(v)) return v.text;
  if (typeof v === 'string') {
    if (/\.http\.url$/.test(path)) return redactUrl(v);
    const header = /\.http\.headers\.([^.]+)$/.exec(path);
    if (header && redactor.headers({ [header[1]!]: v })[header[1]!] === REDACTED) return REDACTED;
    return v;
  }
  if (Array.isArray(v)) return v.map((x, i) => scrub(x, join(path, i)));
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrub(x, join(path, k))]));
  return v;
}

function shown(v: unknown, path: string): string {
  const s = scrub(v, path);
  if (typeof s === 'string') return /^[^\s"'{}[\],]+$/.test(s) ? s : JSON.stringify(s);
  const text = JSON.stringify(s) ?? 'null';
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/** `~ rpo: 15m → 5m`, `+ members[2]: {"tag":"web"}`, `- description: "old"`. */
export function formatChange(c: SpecChange): string {
  if (c.op === '~') return `~ ${c.path}: ${shown(c.before, c.path)} → ${shown(c.after, c.path)}`;
  if (c.op === '+') return `+ ${c.path}: ${shown(c.after, c.path)}`;
  return `- ${c.path}: ${shown(c.before, c.path)}`;
}

// ---- apply ----------------------------------------------------------------------------------

function columnsOf(plan: ProtectionPlan) {
  return { name: plan.name, project: plan.project, primarySite: plan.primary, secondarySite: plan.secondary, tier: plan.tier, rpoMs: plan.rpo.ms };
}

function sameRow(row: Plan, plan: ProtectionPlan, hash: string): boolean {
  const c = columnsOf(plan);
  return row.specHash === hash && row.project === c.project && row.primarySite === c.primarySite && row.secondarySite === c.secondarySite && row.tier === c.tier && row.rpoMs === c.rpoMs;
}

/**
 * Validates a plan (a file, a PlanSource or a parsed plan) and stores it: created, changed
 * (with the changes by field path) or unchanged. Offline problems throw PlanError (nothing
 * stored); online, a failed readiness check throws PlanNotReadyError (nothing stored).
 */
export async function applyPlan(repo: CatalogRepo, input: string | ProtectionPlan | PlanSource, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const { plan, locate } = sourceOf(input);
  const log = (opts.logger ?? silentLogger).child({ plan: plan.name });
  const container = opts.container ?? DEFAULT_BANK_CONTAINER;
  const spec = specOf(plan);
  const hash = specHash(spec);
  const name = plan.name;

  const existing = await repo.plans.get(name, { includeDeleted: true });
  if (existing?.deletedAt) {
    const n = (await repo.points.list(name)).length;
    throw new PlanConflictError(
      `plan '${name}' was deleted at ${existing.deletedAt.toISOString()} (${n} recovery point${n === 1 ? ' is' : 's are'} kept)`,
      `purge it first (ferry plan delete ${name} --purge --yes), or apply it under another name`,
    );
  }
  if (existing && (existing.primarySite !== plan.primary || existing.secondarySite !== plan.secondary)) {
    const points = await repo.points.list(name);
    if (points.length > 0) {
      throw new PlanConflictError(
        `plan '${name}' has ${points.length} recovery point${points.length === 1 ? '' : 's'} from ${existing.primarySite} to ${existing.secondarySite}; the file names ${plan.primary} to ${plan.secondary}, which would strand them`,
        `keep the sites, or delete the plan with its points first (ferry plan delete ${name} --purge --yes), or apply it under another name`,
        existing.primarySite !== plan.primary ? 'primary' : 'secondary',
      );
    }
  }

  let readiness: ReadinessReport | undefined;
  let secondary: Site | undefined;
  if (!opts.offline) {
    if (!opts.sites) throw new FerryError('applyPlan: online apply needs `sites` (or offline: true)');
    const primary = opts.sites(plan.primary);
    secondary = opts.sites(plan.secondary);
    readiness = await checkReadiness(plan, primary, secondary, { ...(locate ? { locate } : {}), container, signal: opts.signal, logger: opts.logger });
    if (!readiness.ok) throw new PlanNotReadyError(readiness);
  }

  const action: ApplyAction = !existing ? 'created' : sameRow(existing, plan, hash) ? 'unchanged' : 'changed';
  const changes = existing && action === 'changed' ? diffSpecs(existing.spec, spec) : [];
  const base = { name, action, changes, ...(readiness ? { readiness } : {}) };
  if (opts.dryRun) return { ...base, dryRun: true, bank: 'skipped' };

  let bank: ApplyResult['bank'] = 'skipped';
  if (secondary) bank = await writeBank(secondary, plan, spec, hash, !existing, { container, signal: opts.signal, now: opts.now, log });

  const res = await repo.plans.upsert({ ...columnsOf(plan), spec });
  const stored: ApplyAction = res.created ? 'created' : res.changed ? 'changed' : 'unchanged';
  log.info(`plan ${name}: ${stored}${bank !== 'skipped' ? `, bank ${bank}` : ''}`, { changes: changes.length });
  return { ...base, action: stored, dryRun: false, bank, plan: res.plan };
}

/** plan.json (and, for a new plan, epoch 0) at the secondary's bank; 'unchanged' when the bank has this spec already. */
async function writeBank(
  site: Site,
  plan: ProtectionPlan,
  spec: JsonObject,
  hash: string,
  isNew: boolean,
  o: { container: string; signal?: AbortSignal | undefined; now?: (() => Date) | undefined; log?: Logger },
): Promise<'written' | 'unchanged'> {
  const sc = site.objectStore;
  const bank = { container: o.container, signal: o.signal };
  await ensureBank(sc, { ...bank, ...(o.now ? { now: o.now } : {}) });
  const epoch = await getEpoch(sc, plan.name, bank);
  let current;
  try {
    current = await getPlanDocument(sc, plan.name, bank);
  } catch (err) {
    // A damaged plan.json is replaced by the plan as applied now.
    if (!(err instanceof BankError)) throw err;
  }
  if (isNew && current?.deletedAt) {
    throw new PlanConflictError(
      `the bank at ${site.name} holds plan '${plan.name}', deleted at ${current.deletedAt} with its recovery points, which this catalog does not know`,
      `rebuild the catalog from the bank (ferry catalog rebuild --from ${site.name} --plan ${plan.name}), purge the plan (ferry plan delete ${plan.name} --purge --yes), then apply; or apply it under another name`,
    );
  }
  if (isNew && epoch && epoch.epoch > 0) {
    throw new PlanConflictError(
      `the bank at ${site.name} already holds plan '${plan.name}' at epoch ${epoch.epoch} (active at ${epoch.activeSite}), which this catalog does not know`,
      `rebuild the catalog from the bank first (ferry catalog rebuild --from ${site.name} --plan ${plan.name}), then apply`,
    );
  }
  // A live catalog row whose plan.json says deleted: a delete interrupted after the bank; the
  // catalog decides, so plan.json is written live again below.
  if (current?.deletedAt) o.log?.warn(`plan ${plan.name}: the bank at ${site.name} marked it deleted at ${current.deletedAt} (an interrupted delete); rewritten live`);
  const c = columnsOf(plan);
  const same = current && !current.deletedAt && current.specHash === hash && current.project === c.project && current.primarySite === c.primarySite && current.secondarySite === c.secondarySite && current.tier === c.tier && current.rpoMs === c.rpoMs;
  if (!same) await putPlanDocument(sc, planDocument({ ...c, spec }, (o.now ?? (() => new Date()))()), bank);
  if (!epoch) await putEpoch(sc, plan.name, { epoch: 0, activeSite: plan.primary, updatedAt: (o.now ?? (() => new Date()))().toISOString() }, bank);
  return same ? 'unchanged' : 'written';
}

// ---- list and show --------------------------------------------------------------------------

function pointSummary(p: RecoveryPoint): PointSummary {
  return { id: p.id, status: p.status, createdAt: p.createdAt, completedAt: p.completedAt, sizeBytes: p.sizeBytes, sourceSite: p.sourceSite, targetSite: p.targetSite };
}

function summaryOf(plan: Plan, points: RecoveryPoint[], now: Date): { summary: PlanSummary; latest?: RecoveryPoint; ageMs?: number } {
  const complete = points.filter((p) => p.status === 'complete');
  const latest = complete[0];
  const ageMs = latest ? now.getTime() - latest.createdAt.getTime() : undefined;
  const summary: PlanSummary = {
    name: plan.name,
    project: plan.project,
    primary: plan.primarySite,
    secondary: plan.secondarySite,
    activeSite: plan.activeSite,
    epoch: plan.epoch,
    tier: plan.tier,
    rpo: formatDuration(plan.rpoMs),
    points: { complete: complete.length, total: points.length },
    ...(latest ? { newestComplete: latest.createdAt } : {}),
    rpoStatus: ageMs === undefined ? 'no points' : ageMs <= plan.rpoMs ? 'met' : 'missed',
    deleted: plan.deletedAt !== null,
  };
  return { summary, ...(latest ? { latest } : {}), ...(ageMs !== undefined ? { ageMs } : {}) };
}

/** The catalog's plans by name, with their recovery points counted and the RPO measured. */
export async function listPlans(repo: CatalogRepo, opts: { includeDeleted?: boolean; now?: () => Date } = {}): Promise<PlanSummary[]> {
  const now = (opts.now ?? (() => new Date()))();
  const plans = await repo.plans.list({ includeDeleted: opts.includeDeleted === true });
  const out: PlanSummary[] = [];
  for (const p of plans) out.push(summaryOf(p, await repo.points.list(p.name), now).summary);
  return out;
}

/** One plan (also a deleted one, whose points are kept) with its newest points and fencing state. */
export async function showPlan(repo: CatalogRepo, name: string, opts: { now?: () => Date } = {}): Promise<PlanDetails> {
  const plan = await repo.plans.get(name, { includeDeleted: true });
  if (!plan) throw new CatalogNotFoundError('plan', name, "not found in the catalog (see 'ferry plan list')");
  const points = await repo.points.list(name);
  const { summary, latest, ageMs } = summaryOf(plan, points, (opts.now ?? (() => new Date()))());
  const pointsByStatus: Record<PointStatus, number> = { 'in-progress': 0, complete: 0, partial: 0, deleting: 0 };
  for (const p of points) pointsByStatus[p.status]++;
  return {
    ...summary,
    plan: { ...plan, spec: maskPlanSecrets(plan.spec) },
    pointsByStatus,
    newest: points.slice(0, 5).map(pointSummary),
    ...(latest ? { latestComplete: pointSummary(latest) } : {}),
    ...(ageMs !== undefined ? { rpoAgeMs: ageMs } : {}),
  };
}

// ---- delete and purge ---------------------------------------------------------------------------

/**
 * Deletes a plan. Without `purge` it is marked deleted, first in plan.json at the secondary's
 * bank (unless `offline`), then in the catalog, and keeps its recovery points (at the sites,
 * in the bank, in the catalog). With `purge` the points go too, resumably: snapshots and
 * backups at both sites (children first), the bank's objects, then the catalog's rows.
 * Running it again after a crash finishes what is left; on a plan already deleted it records
 * the deletion in the bank if that is still missing.
 */
export async function deletePlan(repo: CatalogRepo, name: string, opts: DeleteOptions = {}): Promise<DeleteResult> {
  const plan = await repo.plans.get(name, { includeDeleted: true });
  if (!plan) throw new CatalogNotFoundError('plan', name, "not found in the catalog (see 'ferry plan list')");
  if (opts.offline && opts.purge) throw new FerryError('deletePlan: purge reaches both sites, it cannot be offline');
  if (!opts.offline && !opts.sites) throw new FerryError('deletePlan: recording the deletion in the bank needs `sites` (or offline: true)');
  const active = await repo.runs.list({ planName: name, status: ['pending', 'running'] });
  if (active.length > 0) {
    throw new PlanConflictError(`plan '${name}' has ${active.length} run${active.length === 1 ? '' : 's'} in progress (${active.map((r) => `${r.kind} ${r.id}`).join(', ')})`, 'wait for it to finish, then delete again');
  }
  const deletedAt = plan.deletedAt ?? (opts.now ?? (() => new Date()))();
  const bank = opts.offline ? 'skipped' : await recordDeletion(opts.sites!(plan.secondarySite), plan, deletedAt, opts);
  const softDeleted = plan.deletedAt === null ? await repo.plans.softDelete(name) : false;
  const points = await repo.points.list(name);
  const result: DeleteResult = { name, softDeleted, points: points.length, bank };
  (opts.logger ?? silentLogger).info(`plan ${name}: ${softDeleted ? 'deleted' : 'already deleted'}, bank ${bank}`, { points: points.length });
  if (!opts.purge) return result;
  result.purge = await purgePlan(repo, plan, points, opts);
  return result;
}

/**
 * `deletedAt` in plan.json at the secondary (markPlanDeleted). A damaged plan.json is replaced
 * by the catalog's plan, marked deleted (as apply replaces one). Any failure is a PlanBankError
 * saying that nothing was changed and how to go on.
 */
async function recordDeletion(site: Site, plan: Plan, deletedAt: Date, opts: DeleteOptions): Promise<DeleteResult['bank']> {
  const bank = { container: opts.container ?? DEFAULT_BANK_CONTAINER, signal: opts.signal };
  try {
    return await markPlanDeleted(site.objectStore, plan.name, deletedAt, { ...bank, replaceDamaged: planDocument(plan, plan.updatedAt) });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw new PlanBankError(
      `plan '${plan.name}': the deletion could not be recorded in the bank at ${site.name} (container ${bank.container}), so nothing was changed: ${(err as Error).message}`,
      `retry when ${site.name}'s object store is reachable, or delete it in the catalog only with 'ferry plan delete ${plan.name} --offline' (a catalog rebuilt from ${site.name}'s bank would then list the plan live again, until it is deleted once more with ${site.name} reachable)`,
      site.name,
      { cause: err },
    );
  }
}

async function purgePlan(repo: CatalogRepo, plan: Plan, points: RecoveryPoint[], opts: DeleteOptions): Promise<{ sites: SitePurge[]; catalog: PurgeResult }> {
  const log = (opts.logger ?? silentLogger).child({ plan: plan.name });
  const progress = (line: string) => {
    log.info(line);
    opts.onProgress?.(line);
  };
  const container = opts.container ?? DEFAULT_BANK_CONTAINER;
  // 1. Nothing recovers a point being deleted.
  for (const p of points) if (p.status !== 'deleting') await repo.points.markDeleting(p.id);

  // 2. The data refs by site: a point's primary backup is at its source, its import at its target.
  const sites = [plan.primarySite, plan.secondarySite];
  const refs = new Map<string, { primary: VolumeDataRef[]; secondary: VolumeDataRef[] }>(sites.map((s) => [s, { primary: [], secondary: [] }]));
  for (const p of points) {
    const volumes = (p.manifest as unknown as RecoveryPointManifest | null)?.data?.volumes ?? [];
    refs.get(p.sourceSite)?.primary.push(...volumes);
    refs.get(p.targetSite)?.secondary.push(...volumes);
  }
  const out: SitePurge[] = [];
  for (const siteName of [plan.secondarySite, plan.primarySite]) {
    const site = opts.sites!(siteName);
    const r = refs.get(siteName)!;
    out.push(await purgeSite(site, plan.name, r, { ...opts, container }, progress));
  }
  // 3. The catalog last: its manifests are how a re-run finds the refs again.
  const catalog = await repo.plans.purge(plan.name);
  progress(`catalog: plan ${plan.name} purged (${catalog.points} recovery points, ${catalog.runs} runs, ${catalog.journal} journal entries)`);
  return { sites: out, catalog };
}

async function purgeSite(
  site: Site,
  plan: string,
  refs: { primary: VolumeDataRef[]; secondary: VolumeDataRef[] },
  opts: DeleteOptions & { container: string },
  progress: (line: string) => void,
): Promise<SitePurge> {
  const signal = opts.signal;
  const wait = { timeoutMs: opts.timeouts?.snapshotMs ?? 600_000, signal, ...(opts.pollIntervalMs !== undefined ? { intervalMs: opts.pollIntervalMs } : {}), ...(opts.maxPollIntervalMs !== undefined ? { maxIntervalMs: opts.maxPollIntervalMs } : {}) };
  const res: SitePurge = { site: site.name, snapshots: 0, backups: [], missing: [], bankPoints: 0, bankDocs: 0 };
  // Everything marked with the plan, whether or not a manifest recorded it (a crashed cycle's leftovers).
  const marked = await findOrphans(site, plan, [], signal);
  for (const s of marked.snapshots) {
    if (s.status !== 'available' && s.status !== 'error' && s.status !== 'deleting') await waitForSnapshot(site.blockStorage, s.id, ['available'], wait);
    // The mover's delete: RBD may give a snapshot back (SnapshotIsBusy), so it asks again.
    if (s.status !== 'deleting') await removeSnapshot(site, s.id, opts);
    else await waitForSnapshotDeleted(site.blockStorage, s.id, wait);
    res.snapshots++;
    progress(`${site.name}: snapshot ${s.id} deleted`);
  }
  const known = new Set([...refs.primary.map((r) => r.primaryBackupId), ...refs.secondary.map((r) => r.secondaryBackupId)]);
  const extra = marked.backups.map((b) => b.id).filter((id) => !known.has(id));
  // One chain for the whole site: after a failover a site holds backups of both directions
  // (its own, exported; the other site's, imported) and leftovers whose recorded point
  // retention dropped, and a parent may sit in one of those sets with its child in another.
  // Each ref counts by the ID that lives here (its side); children go before parents.
  const here: (VolumeDataRef | string)[] = [...refs.secondary.map((r) => ({ ...r, primaryBackupId: r.secondaryBackupId })), ...refs.primary, ...extra];
  if (here.length > 0) {
    const r = await deleteBackupChain(site, here, { side: 'primary', signal, ...chainOpts(opts), onDeleted: (id) => progress(`${site.name}: backup ${id} deleted`) });
    res.backups.push(...r.deleted);
    res.missing.push(...r.missing);
  }
  const bank = await purgeBank(site, plan, opts.container, signal);
  res.bankPoints = bank.points;
  res.bankDocs = bank.docs;
  if (bank.points + bank.docs > 0) progress(`${site.name}: bank ${opts.container}: ${bank.points} recovery point${bank.points === 1 ? '' : 's'} and ${bank.docs} plan document${bank.docs === 1 ? '' : 's'} deleted`);
  return res;
}

function chainOpts(o: DeleteOptions) {
  return {
    ...(o.timeouts ? { timeouts: o.timeouts } : {}),
    ...(o.pollIntervalMs !== undefined ? { pollIntervalMs: o.pollIntervalMs } : {}),
    ...(o.maxPollIntervalMs !== undefined ? { maxPollIntervalMs: o.maxPollIntervalMs } : {}),
  };
}

/** Removes the plan from a site's bank: every point (listing-driven), then epoch.json and plan.json. Nothing when there is no bank. */
async function purgeBank(site: Site, plan: string, container: string, signal?: AbortSignal): Promise<{ points: number; docs: number }> {
  const sc = site.objectStore;
  let entries: BankPointEntry[];
  try {
    entries = await listRecoveryPoints(sc, plan, { container, signal });
  } catch (err) {
    if (isNotFound(err)) return { points: 0, docs: 0 };
    throw err;
  }
  let points = 0;
  for (const e of entries) if (await deleteRecoveryPoint(sc, e, { container, signal })) points++;
  let docs = 0;
  for (const name of [bankPaths.epoch(plan), bankPaths.planDoc(plan)]) if (await deleteObject(sc, container, name, { signal })) docs++;
  return { points, docs };
}
