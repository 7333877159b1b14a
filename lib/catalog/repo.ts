// The catalog's typed repository: plans, recovery points, runs and the run journal, written
// once over kysely for SQLite and MySQL/MariaDB. Rules kept here, whatever the caller:
// - a plan's epoch only moves through bumpEpoch(name, expected): a conditional UPDATE, so of
//   two daemons racing from the same epoch exactly one wins (fencing);
// - a recovery point's manifest is written once, when it becomes complete (or partial), and
//   never changed after; repeating the same completion is a no-op, a different one throws;
// - the journal is append-only, each run's entries numbered 1, 2, 3, ... without gaps, even
//   under concurrent appends from several connections or daemons;
// - writes that lose a lock race (MySQL deadlock or lock timeout, Galera certification
//   failure, SQLite busy) are retried whole, a few times, after a short random pause.
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, SelectQueryBuilder, Transaction } from 'kysely';
import { canonicalJson, specHash } from '../canonical-json.js';
import { FerryError } from '../errors.js';
import { CatalogError, type Backend, type Catalog, type CatalogSchema, type JournalTable, type PlansTable, type RecoveryPointsTable, type RunsTable } from './db.js';

// ---- types ----------------------------------------------------------------

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export const TIERS = ['backup', 'pilot-light', 'warm-standby'] as const;
export type Tier = (typeof TIERS)[number];

export const POINT_STATUSES = ['in-progress', 'complete', 'partial', 'deleting'] as const;
export type PointStatus = (typeof POINT_STATUSES)[number];

export const CONSISTENCIES = ['crash', 'group'] as const;
export type Consistency = (typeof CONSISTENCIES)[number];

export const RUN_KINDS = ['replicate', 'failover', 'failback', 'drtest', 'cleanup', 'standby'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export const RUN_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** Statuses after which a run never changes again. */
export const FINISHED_RUN_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled'];

export const JOURNAL_PHASES = ['observe', 'act', 'verify', 'done', 'failed'] as const;
export type JournalPhase = (typeof JOURNAL_PHASES)[number];

/** The `apiVersion` a recovery point manifest carries: `ferry.recoverypoint/v<N>`. */
export const MANIFEST_API_VERSION = 'ferry.recoverypoint/v1';
const MANIFEST_API_RE = /^ferry\.recoverypoint\/v([1-9][0-9]{0,5})$/;

export interface PlanInput {
  name: string;
  /** Keystone project (ID or name) the plan protects, at the primary site. */
  project: string;
  primarySite: string;
  secondarySite: string;
  tier: Tier;
  rpoMs: number;
  /** The validated protection-plan document. Stored as given; hashed in canonical form. */
  spec: object;
}

export interface Plan {
  name: string;
  project: string;
  primarySite: string;
  secondarySite: string;
  tier: Tier;
  rpoMs: number;
  spec: JsonObject;
  /** `sha256:<hex>` of the spec in canonical JSON (keys sorted): key order is no change. */
  specHash: string;
  /** Fencing token: 0 at creation, raised by every failover/failback. */
  epoch: number;
  /** The site currently running the workload (primary until a failover). */
  activeSite: string;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

export interface UpsertResult {
  plan: Plan;
  /** The plan did not exist before. */
  created: boolean;
  /** Something was written (created, or the spec or a column differed). */
  changed: boolean;
}

export interface NewRecoveryPoint {
  planName: string;
  consistency: Consistency;
  /** Default: the plan's active site. */
  sourceSite?: string;
  /** Default: the plan's other site. */
  targetSite?: string;
  /** Default: a random UUID. */
  id?: string;
  /** The moment the point captures (default: now). RPO is measured from it. */
  createdAt?: Date;
}

export interface RecoveryPoint {
  id: string;
  planName: string;
  createdAt: Date;
  completedAt: Date | null;
  status: PointStatus;
  consistency: Consistency;
  sizeBytes: number | null;
  sourceSite: string;
  targetSite: string;
  /** The ferry.recoverypoint/v<N> document; null until the point completes. */
  manifest: JsonObject | null;
  manifestVersion: number | null;
}

export interface ListPointsOptions {
  status?: PointStatus | readonly PointStatus[];
  limit?: number;
}

export interface NewRun {
  planName: string;
  kind: RunKind;
  /** The daemon (or CLI) that drives the run. */
  owner: string;
  params?: JsonValue;
  /** Must equal the plan's epoch (default: the plan's epoch): a fenced daemon cannot start runs. */
  epoch?: number;
  /** Default `running`. */
  status?: 'pending' | 'running';
  id?: string;
  startedAt?: Date;
}

export interface Run {
  id: string;
  planName: string;
  kind: RunKind;
  status: RunStatus;
  startedAt: Date;
  finishedAt: Date | null;
  params: JsonValue | null;
  result: JsonValue | null;
  owner: string;
  epoch: number;
}

export interface RunUpdate {
  status?: RunStatus;
  result?: JsonValue;
  /** A new owner (another daemon took the run over). */
  owner?: string;
}

export interface ListRunsOptions {
  planName?: string;
  kind?: RunKind;
  status?: RunStatus | readonly RunStatus[];
  owner?: string;
  limit?: number;
}

export interface JournalInput {
  step: string;
  phase: JournalPhase;
  data?: JsonValue;
  /** Default: now. */
  at?: Date;
}

export interface JournalEntry {
  runId: string;
  seq: number;
  at: Date;
  step: string;
  phase: JournalPhase;
  data: JsonValue | null;
}

export interface PurgeResult {
  points: number;
  runs: number;
  journal: number;
}

// ---- errors ---------------------------------------------------------------

/** A plan, recovery point or run that does not exist (or, for plans, was deleted). */
export class CatalogNotFoundError extends CatalogError {
  override readonly name: string = 'CatalogNotFoundError';
  constructor(
    readonly kind: 'plan' | 'recovery point' | 'run',
    readonly id: string,
    detail?: string,
  ) {
    super(`${kind} '${id}' ${detail ?? 'not found in the catalog'}`);
  }
}

/** The write conflicts with the row's current state (HTTP would say 409). */
export class CatalogConflictError extends CatalogError {
  override readonly name: string = 'CatalogConflictError';
}

/** bumpEpoch lost: the plan's epoch is not the one the caller expected (another daemon won). */
export class EpochConflictError extends CatalogConflictError {
  override readonly name: string = 'EpochConflictError';
  constructor(
    readonly plan: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`plan '${plan}': epoch is ${actual}, not the expected ${expected} (another daemon or run moved it; re-read the plan)`);
  }
}

/** A complete (or partial) recovery point's manifest cannot change. */
export class RecoveryPointImmutableError extends CatalogConflictError {
  override readonly name: string = 'RecoveryPointImmutableError';
  constructor(
    readonly id: string,
    readonly status: PointStatus,
  ) {
    super(`recovery point '${id}' is ${status}: its manifest is immutable (write a new recovery point instead)`);
  }
}

/** A repository call got a value it cannot store (bad enum, over-long key, non-JSON). */
export class CatalogInputError extends FerryError {
  override readonly name: string = 'CatalogInputError';
}

// ---- the repository ---------------------------------------------------------

export interface RepoOptions {
  /** The clock (tests pass a fake one). */
  now?: () => Date;
  /** Attempts for a write that loses a lock race (default 8). */
  attempts?: number;
}

/** The typed repository over an open catalog. */
export class CatalogRepo {
  readonly plans: PlanRepo;
  readonly points: RecoveryPointRepo;
  readonly runs: RunRepo;
  readonly journal: JournalRepo;

  constructor(catalog: Pick<Catalog, 'db' | 'backend'>, opts: RepoOptions = {}) {
    const ctx = new Ctx(catalog.db, catalog.backend, opts);
    this.plans = new PlanRepo(ctx);
    this.points = new RecoveryPointRepo(ctx, this.plans);
    this.runs = new RunRepo(ctx);
    this.journal = new JournalRepo(ctx);
  }
}

type Db = Kysely<CatalogSchema>;
type Trx = Transaction<CatalogSchema>;

class Ctx {
  readonly now: () => Date;
  private readonly attempts: number;

  constructor(
    readonly db: Db,
    readonly backend: Backend,
    opts: RepoOptions,
  ) {
    this.now = opts.now ?? (() => new Date());
    this.attempts = Math.max(1, opts.attempts ?? 8);
  }

  /** Now, as stored. */
  stamp(): string {
    return this.now().toISOString();
  }

  /** Adds FOR UPDATE on MySQL (SQLite serialises writers and has no such clause). */
  lock<DB, TB extends keyof DB, O>(q: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O> {
    return this.backend === 'mysql' ? q.forUpdate() : q;
  }

  /** Runs `fn` (a whole transaction) again when it lost a lock race; see isTransient. */
  async retry<T>(fn: () => Promise<T>, opts: { duplicate?: boolean } = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= this.attempts || !isTransient(err, opts.duplicate ?? false)) throw err;
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 10 * attempt) + 1));
      }
    }
  }

  tx<T>(fn: (trx: Trx) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(fn);
  }
}

/**
 * True for errors that mean "another writer got there first; run the transaction again":
 * MySQL/MariaDB deadlock (1213, also Galera's certification failure) and lock-wait timeout
 * (1205), SQLite busy; with `duplicate`, a primary-key collision too (two writers computed
 * the same key, as in a journal append).
 */
export function isTransient(err: unknown, duplicate = false): boolean {
  const e = err as { code?: unknown; errno?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (e.errno === 1213 || e.errno === 1205 || code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT') return true;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return true;
  return duplicate && isDuplicate(err);
}

/** A primary-key or unique-key collision (MySQL/MariaDB 1062, SQLite constraint). */
export function isDuplicate(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  return e.errno === 1062 || e.code === 'ER_DUP_ENTRY' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

// ---- plans --------------------------------------------------------------------

export class PlanRepo {
  constructor(private readonly ctx: Ctx) {}

  /**
   * Creates the plan, or updates it when its spec (compared by hash) or a column differs.
   * The epoch and active site are kept on update. A soft-deleted plan is not revived: purge
   * it first.
   */
  async upsert(input: PlanInput): Promise<UpsertResult> {
    const name = key('plan name', input.name);
    const cols = {
      project: key('project', input.project),
      primary_site: key('primary site', input.primarySite),
      secondary_site: key('secondary site', input.secondarySite),
      tier: oneOf('tier', input.tier, TIERS),
      rpo_ms: count('rpoMs', input.rpoMs, 1),
    };
    if (cols.primary_site === cols.secondary_site) throw new CatalogInputError(`plan '${name}': primary and secondary site are both '${cols.primary_site}'`);
    const spec = jsonObject('plan spec', input.spec);
    const spec_json = JSON.stringify(input.spec);
    const spec_hash = specHash(spec);
    const { ctx } = this;

    return ctx.retry(
      () =>
        ctx.tx(async (trx) => {
          const row = await ctx.lock(trx.selectFrom('plans').selectAll().where('name', '=', name)).executeTakeFirst();
          const now = ctx.stamp();
          if (!row) {
            const fresh: Selectable<PlansTable> = { name, ...cols, spec_json, spec_hash, epoch: 0, active_site: cols.primary_site, created_at: now, updated_at: now, deleted_at: null };
            await trx.insertInto('plans').values(fresh).execute();
            return { plan: toPlan(fresh), created: true, changed: true };
          }
          if (row.deleted_at !== null) {
            throw new CatalogConflictError(`plan '${name}' was deleted at ${row.deleted_at}; purge it before creating it again, or use another name`);
          }
          const same =
            row.spec_hash === spec_hash &&
            row.project === cols.project &&
            row.primary_site === cols.primary_site &&
            row.secondary_site === cols.secondary_site &&
            row.tier === cols.tier &&
            Number(row.rpo_ms) === cols.rpo_ms;
          if (same) return { plan: toPlan(row), created: false, changed: false };
          if (row.active_site !== cols.primary_site && row.active_site !== cols.secondary_site) {
            throw new CatalogConflictError(`plan '${name}' is active at site '${row.active_site}', which the new spec no longer names; fail back (or over) first`);
          }
          const changes = { ...cols, spec_json, spec_hash, updated_at: now };
          await trx.updateTable('plans').set(changes).where('name', '=', name).execute();
          return { plan: toPlan({ ...row, ...changes }), created: false, changed: true };
        }),
      { duplicate: true },
    );
  }

  /** The plan, or undefined; a soft-deleted plan only with `includeDeleted`. */
  async get(name: string, opts: { includeDeleted?: boolean } = {}): Promise<Plan | undefined> {
    const row = await this.ctx.db
      .selectFrom('plans')
      .selectAll()
      .where('name', '=', name)
      .$if(!opts.includeDeleted, (q) => q.where('deleted_at', 'is', null))
      .executeTakeFirst();
    return row ? toPlan(row) : undefined;
  }

  /** Plans by name; soft-deleted ones only with `includeDeleted`. */
  async list(opts: { includeDeleted?: boolean; project?: string } = {}): Promise<Plan[]> {
    const rows = await this.ctx.db
      .selectFrom('plans')
      .selectAll()
      .$if(!opts.includeDeleted, (q) => q.where('deleted_at', 'is', null))
      .$if(opts.project !== undefined, (q) => q.where('project', '=', opts.project!))
      .orderBy('name')
      .execute();
    return rows.map(toPlan);
  }

  /**
   * Marks the plan deleted (its rows stay until purge). True when it was live; false when
   * it was already deleted; throws CatalogNotFoundError when it never existed.
   */
  async softDelete(name: string): Promise<boolean> {
    const now = this.ctx.stamp();
    const res = await this.ctx.db.updateTable('plans').set({ deleted_at: now, updated_at: now }).where('name', '=', name).where('deleted_at', 'is', null).executeTakeFirst();
    if (Number(res.numUpdatedRows) > 0) return true;
    if (await this.get(name, { includeDeleted: true })) return false;
    throw new CatalogNotFoundError('plan', name);
  }

  /**
   * Removes a soft-deleted plan and everything the catalog holds for it (recovery points,
   * runs, their journals) in one transaction. The data at the sites is not touched: the
   * cleanup workflow removes it before purging.
   */
  async purge(name: string): Promise<PurgeResult> {
    const { ctx } = this;
    return ctx.retry(() =>
      ctx.tx(async (trx) => {
        const row = await ctx.lock(trx.selectFrom('plans').select(['name', 'deleted_at']).where('name', '=', name)).executeTakeFirst();
        if (!row) throw new CatalogNotFoundError('plan', name);
        if (row.deleted_at === null) throw new CatalogConflictError(`plan '${name}' is not deleted; delete it before purging`);
        const runIds = trx.selectFrom('runs').select('id').where('plan_name', '=', name);
        const journal = await trx.deleteFrom('journal').where('run_id', 'in', runIds).executeTakeFirst();
        const runs = await trx.deleteFrom('runs').where('plan_name', '=', name).executeTakeFirst();
        const points = await trx.deleteFrom('recovery_points').where('plan_name', '=', name).executeTakeFirst();
        await trx.deleteFrom('plans').where('name', '=', name).execute();
        return { points: Number(points.numDeletedRows), runs: Number(runs.numDeletedRows), journal: Number(journal.numDeletedRows) };
      }),
    );
  }

  /**
   * Raises the plan's epoch from `expectedEpoch` to `expectedEpoch + 1` (and moves the active
   * site when given) in one conditional UPDATE, returning the new epoch. Throws
   * EpochConflictError when the epoch is not `expectedEpoch` any more: of several callers
   * racing from one epoch, exactly one wins.
   */
  async bumpEpoch(name: string, expectedEpoch: number, opts: { activeSite?: string } = {}): Promise<number> {
    count('expectedEpoch', expectedEpoch, 0);
    const { ctx } = this;
    if (opts.activeSite !== undefined) {
      const plan = await this.get(name);
      if (!plan) throw new CatalogNotFoundError('plan', name);
      if (opts.activeSite !== plan.primarySite && opts.activeSite !== plan.secondarySite) {
        throw new CatalogInputError(`plan '${name}': active site '${opts.activeSite}' is neither '${plan.primarySite}' nor '${plan.secondarySite}'`);
      }
    }
    return ctx.retry(async () => {
      const res = await ctx.db
        .updateTable('plans')
        .set((eb) => ({
          epoch: eb('epoch', '+', 1),
          updated_at: ctx.stamp(),
          ...(opts.activeSite !== undefined ? { active_site: opts.activeSite } : {}),
        }))
        .where('name', '=', name)
        .where('epoch', '=', expectedEpoch)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) return expectedEpoch + 1;
      const current = await this.get(name);
      if (!current) throw new CatalogNotFoundError('plan', name);
      throw new EpochConflictError(name, expectedEpoch, current.epoch);
    });
  }
}

// ---- recovery points --------------------------------------------------------

export class RecoveryPointRepo {
  constructor(
    private readonly ctx: Ctx,
    private readonly plans: PlanRepo,
  ) {}

  /** Records a new, in-progress recovery point of a live plan. */
  async insert(input: NewRecoveryPoint): Promise<RecoveryPoint> {
    const plan = await this.plans.get(input.planName);
    if (!plan) throw new CatalogNotFoundError('plan', input.planName);
    const sites = [plan.primarySite, plan.secondarySite];
    const source = input.sourceSite ?? plan.activeSite;
    const target = input.targetSite ?? sites.find((s) => s !== source)!;
    for (const [what, site] of [
      ['source site', source],
      ['target site', target],
    ] as const) {
      if (!sites.includes(site)) throw new CatalogInputError(`recovery point of plan '${plan.name}': ${what} '${site}' is not one of the plan's sites (${sites.join(', ')})`);
    }
    if (source === target) throw new CatalogInputError(`recovery point of plan '${plan.name}': source and target are both '${source}'`);
    const row: RecoveryPointsTable = {
      id: id('recovery point id', input.id ?? randomUUID()),
      plan_name: plan.name,
      created_at: time('createdAt', input.createdAt ?? this.ctx.now()),
      completed_at: null,
      status: 'in-progress',
      consistency: oneOf('consistency', input.consistency, CONSISTENCIES),
      size_bytes: null,
      source_site: source,
      target_site: target,
      manifest_json: null,
      manifest_version: null,
    };
    try {
      await this.ctx.db.insertInto('recovery_points').values(row).execute();
    } catch (err) {
      if (isDuplicate(err)) throw new CatalogConflictError(`recovery point '${row.id}' already exists`);
      throw err;
    }
    return toPoint(row);
  }

  /**
   * Completes an in-progress point with its manifest (a `ferry.recoverypoint/v<N>` document)
   * and its size. Completing it again with the same manifest and size returns it unchanged;
   * anything else on a complete point throws RecoveryPointImmutableError.
   */
  complete(id: string, manifest: object, sizeBytes: number): Promise<RecoveryPoint> {
    return this.finish(id, 'complete', manifest, sizeBytes);
  }

  /** Ends an in-progress point as partial (some members missing), with the manifest of what it holds. */
  markPartial(id: string, manifest: object, sizeBytes: number): Promise<RecoveryPoint> {
    return this.finish(id, 'partial', manifest, sizeBytes);
  }

  private async finish(id: string, status: 'complete' | 'partial', manifest: object, sizeBytes: number): Promise<RecoveryPoint> {
    const doc = jsonObject('manifest', manifest);
    const version = manifestVersion(doc);
    const size = count('sizeBytes', sizeBytes, 0);
    const manifest_json = JSON.stringify(manifest);
    const { ctx } = this;
    return ctx.retry(() =>
      ctx.tx(async (trx) => {
        const row = await ctx.lock(trx.selectFrom('recovery_points').selectAll().where('id', '=', id)).executeTakeFirst();
        if (!row) throw new CatalogNotFoundError('recovery point', id);
        if (row.status === 'in-progress') {
          const changes = { status, manifest_json, manifest_version: version, size_bytes: size, completed_at: ctx.stamp() };
          const res = await trx.updateTable('recovery_points').set(changes).where('id', '=', id).where('status', '=', 'in-progress').executeTakeFirst();
          if (Number(res.numUpdatedRows) !== 1) throw new CatalogConflictError(`recovery point '${id}' changed while being marked ${status}; read it again`);
          return toPoint({ ...row, ...changes });
        }
        if (row.status === 'complete' || row.status === 'partial') {
          const same = row.status === status && row.manifest_json !== null && canonicalJson(JSON.parse(row.manifest_json)) === canonicalJson(doc) && Number(row.size_bytes) === size;
          if (same) return toPoint(row);
          throw new RecoveryPointImmutableError(id, row.status);
        }
        throw new CatalogConflictError(`recovery point '${id}' is ${row.status}; only an in-progress point can become ${status}`);
      }),
    );
  }

  /** Marks a point as being deleted (its data is going away); idempotent. */
  async markDeleting(id: string): Promise<RecoveryPoint> {
    await this.ctx.db.updateTable('recovery_points').set({ status: 'deleting' }).where('id', '=', id).execute();
    const point = await this.get(id);
    if (!point) throw new CatalogNotFoundError('recovery point', id);
    return point;
  }

  /** Removes the point's row; false when it was not there. */
  async delete(id: string): Promise<boolean> {
    const res = await this.ctx.db.deleteFrom('recovery_points').where('id', '=', id).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async get(id: string): Promise<RecoveryPoint | undefined> {
    const row = await this.ctx.db.selectFrom('recovery_points').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toPoint(row) : undefined;
  }

  /** The plan's points, newest first (by the moment they capture). */
  async list(planName: string, opts: ListPointsOptions = {}): Promise<RecoveryPoint[]> {
    const statuses = opts.status === undefined ? undefined : ([] as PointStatus[]).concat(opts.status).map((s) => oneOf('status', s, POINT_STATUSES));
    const rows = await this.ctx.db
      .selectFrom('recovery_points')
      .selectAll()
      .where('plan_name', '=', planName)
      .$if(statuses !== undefined, (q) => q.where('status', 'in', statuses!.length ? statuses! : ['']))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .$if(opts.limit !== undefined, (q) => q.limit(count('limit', opts.limit!, 1)))
      .execute();
    return rows.map(toPoint);
  }

  /** The newest complete point of the plan: what an unplanned failover restores, and what RPO is measured from. */
  async latestComplete(planName: string): Promise<RecoveryPoint | undefined> {
    const [point] = await this.list(planName, { status: 'complete', limit: 1 });
    return point;
  }
}

// ---- runs ---------------------------------------------------------------------

export class RunRepo {
  constructor(private readonly ctx: Ctx) {}

  /**
   * Records a new run of a live plan at the plan's current epoch. A caller holding an older
   * epoch (a fenced daemon) gets EpochConflictError instead of a run.
   */
  async create(input: NewRun): Promise<Run> {
    const { ctx } = this;
    const row: RunsTable = {
      id: id('run id', input.id ?? randomUUID()),
      plan_name: input.planName,
      kind: oneOf('kind', input.kind, RUN_KINDS),
      status: oneOf('status', input.status ?? 'running', ['pending', 'running'] as const),
      started_at: time('startedAt', input.startedAt ?? ctx.now()),
      finished_at: null,
      params_json: input.params === undefined ? null : json('params', input.params),
      result_json: null,
      owner: key('owner', input.owner),
      epoch: input.epoch === undefined ? -1 : count('epoch', input.epoch, 0),
    };
    try {
      return await ctx.retry(() =>
        ctx.tx(async (trx) => {
          const plan = await ctx.lock(trx.selectFrom('plans').select(['epoch', 'deleted_at']).where('name', '=', input.planName)).executeTakeFirst();
          if (!plan || plan.deleted_at !== null) throw new CatalogNotFoundError('plan', input.planName);
          const epoch = Number(plan.epoch);
          if (row.epoch !== -1 && row.epoch !== epoch) throw new EpochConflictError(input.planName, row.epoch, epoch);
          const fresh = { ...row, epoch };
          await trx.insertInto('runs').values(fresh).execute();
          return toRun(fresh);
        }),
      );
    } catch (err) {
      if (isDuplicate(err)) throw new CatalogConflictError(`run '${row.id}' already exists`);
      throw err;
    }
  }

  /**
   * Changes a run's status, result or owner. A finished status (succeeded, failed,
   * cancelled) stamps finished_at; a finished run never changes again.
   */
  async update(id: string, patch: RunUpdate): Promise<Run> {
    const { ctx } = this;
    const status = patch.status === undefined ? undefined : oneOf('status', patch.status, RUN_STATUSES);
    const result_json = patch.result === undefined ? undefined : json('result', patch.result);
    const owner = patch.owner === undefined ? undefined : key('owner', patch.owner);
    return ctx.retry(() =>
      ctx.tx(async (trx) => {
        const row = await ctx.lock(trx.selectFrom('runs').selectAll().where('id', '=', id)).executeTakeFirst();
        if (!row) throw new CatalogNotFoundError('run', id);
        if (row.finished_at !== null) throw new CatalogConflictError(`run '${id}' finished (${row.status}) at ${row.finished_at}; it cannot change`);
        if (status === 'pending' && row.status !== 'pending') throw new CatalogConflictError(`run '${id}' is ${row.status}; it cannot go back to pending`);
        const changes: Partial<RunsTable> = {};
        if (status !== undefined) changes.status = status;
        if (result_json !== undefined) changes.result_json = result_json;
        if (owner !== undefined) changes.owner = owner;
        if (status !== undefined && FINISHED_RUN_STATUSES.includes(status)) changes.finished_at = ctx.stamp();
        if (Object.keys(changes).length === 0) return toRun(row);
        await trx.updateTable('runs').set(changes).where('id', '=', id).execute();
        return toRun({ ...row, ...changes });
      }),
    );
  }

  async get(id: string): Promise<Run | undefined> {
    const row = await this.ctx.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRun(row) : undefined;
  }

  /** Runs, newest first, filtered by plan, kind, status and owner. */
  async list(opts: ListRunsOptions = {}): Promise<Run[]> {
    const statuses = opts.status === undefined ? undefined : ([] as RunStatus[]).concat(opts.status).map((s) => oneOf('status', s, RUN_STATUSES));
    const rows = await this.ctx.db
      .selectFrom('runs')
      .selectAll()
      .$if(opts.planName !== undefined, (q) => q.where('plan_name', '=', opts.planName!))
      .$if(opts.kind !== undefined, (q) => q.where('kind', '=', opts.kind!))
      .$if(opts.owner !== undefined, (q) => q.where('owner', '=', opts.owner!))
      .$if(statuses !== undefined, (q) => q.where('status', 'in', statuses!.length ? statuses! : ['']))
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .$if(opts.limit !== undefined, (q) => q.limit(count('limit', opts.limit!, 1)))
      .execute();
    return rows.map(toRun);
  }
}

// ---- journal --------------------------------------------------------------------

export class JournalRepo {
  constructor(private readonly ctx: Ctx) {}

  /**
   * Appends an entry to the run's journal and returns it with its sequence number: 1 for the
   * first entry, then one more than the last, assigned inside the transaction that inserts
   * it (the run's row is locked on MySQL; a collision is retried), so concurrent appends
   * never share or skip a number.
   */
  async append(runId: string, entry: JournalInput): Promise<JournalEntry> {
    const { ctx } = this;
    const step = key('step', entry.step);
    const phase = oneOf('phase', entry.phase, JOURNAL_PHASES);
    const data_json = entry.data === undefined ? null : json('data', entry.data);
    const at = entry.at === undefined ? undefined : time('at', entry.at);
    return ctx.retry(
      () =>
        ctx.tx(async (trx) => {
          const run = await ctx.lock(trx.selectFrom('runs').select('id').where('id', '=', runId)).executeTakeFirst();
          if (!run) throw new CatalogNotFoundError('run', runId);
          const last = await ctx.lock(trx.selectFrom('journal').select((eb) => eb.fn.max('seq').as('max')).where('run_id', '=', runId)).executeTakeFirst();
          const row: JournalTable = { run_id: runId, seq: Number(last?.max ?? 0) + 1, at: at ?? ctx.stamp(), step, phase, data_json };
          await trx.insertInto('journal').values(row).execute();
          return toEntry(row);
        }),
      { duplicate: true },
    );
  }

  /** The run's entries in order (after `afterSeq` when given). */
  async read(runId: string, opts: { afterSeq?: number } = {}): Promise<JournalEntry[]> {
    const rows = await this.ctx.db
      .selectFrom('journal')
      .selectAll()
      .where('run_id', '=', runId)
      .$if(opts.afterSeq !== undefined, (q) => q.where('seq', '>', opts.afterSeq!))
      .orderBy('seq')
      .execute();
    return rows.map(toEntry);
  }

  /** The run's newest entry: where a resumed run picks up. */
  async last(runId: string): Promise<JournalEntry | undefined> {
    const row = await this.ctx.db.selectFrom('journal').selectAll().where('run_id', '=', runId).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return row ? toEntry(row) : undefined;
  }
}

// ---- JSON and hashing ---------------------------------------------------------

export { canonicalJson, specHash } from '../canonical-json.js';

// ---- validation -------------------------------------------------------------------

function key(what: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw new CatalogInputError(`${what} must be a non-empty string`);
  if (v.length > 255) throw new CatalogInputError(`${what} is ${v.length} characters long; the catalog keeps at most 255`);
  // MySQL ignores trailing spaces in comparisons and SQLite does not: refuse them outright.
  if (v !== v.trim() || /\p{Cc}/u.test(v)) throw new CatalogInputError(`${what} '${v}' has leading/trailing spaces or control characters`);
  return v;
}

function id(what: string, v: unknown): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(v)) {
    throw new CatalogInputError(`${what} must be 1-64 characters of letters, digits, '.', '_', ':' and '-' (a UUID by default)`);
  }
  return v;
}

function oneOf<const T extends string>(what: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new CatalogInputError(`${what} '${String(v)}' is not one of ${allowed.join(', ')}`);
  return v as T;
}

function count(what: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new CatalogInputError(`${what} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

function time(what: string, v: Date): string {
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) throw new CatalogInputError(`${what} must be a valid Date`);
  return v.toISOString();
}

function json(what: string, v: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch (err) {
    throw new CatalogInputError(`${what} is not JSON-serialisable: ${(err as Error).message}`);
  }
  if (text === undefined) throw new CatalogInputError(`${what} is not JSON-serialisable`);
  return text;
}

/** The value as a JSON object (after a JSON round trip), or CatalogInputError. */
function jsonObject(what: string, v: unknown): JsonObject {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CatalogInputError(`${what} must be a JSON object`);
  return JSON.parse(json(what, v)) as JsonObject;
}

function manifestVersion(doc: JsonObject): number {
  const api = doc['apiVersion'];
  const m = typeof api === 'string' ? MANIFEST_API_RE.exec(api) : null;
  if (!m) throw new CatalogInputError(`manifest apiVersion must be 'ferry.recoverypoint/v<N>' (e.g. '${MANIFEST_API_VERSION}'), got ${JSON.stringify(api ?? null)}`);
  return Number(m[1]);
}

// ---- row mapping --------------------------------------------------------------------

const date = (s: string): Date => new Date(s);
const dateOrNull = (s: string | null): Date | null => (s === null ? null : new Date(s));
const parse = <T>(s: string | null): T | null => (s === null ? null : (JSON.parse(s) as T));

function toPlan(r: Selectable<PlansTable>): Plan {
  return {
    name: r.name,
    project: r.project,
    primarySite: r.primary_site,
    secondarySite: r.secondary_site,
    tier: r.tier as Tier,
    rpoMs: Number(r.rpo_ms),
    spec: JSON.parse(r.spec_json) as JsonObject,
    specHash: r.spec_hash,
    epoch: Number(r.epoch),
    activeSite: r.active_site,
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
    deletedAt: dateOrNull(r.deleted_at),
  };
}

function toPoint(r: RecoveryPointsTable): RecoveryPoint {
  return {
    id: r.id,
    planName: r.plan_name,
    createdAt: date(r.created_at),
    completedAt: dateOrNull(r.completed_at),
    status: r.status as PointStatus,
    consistency: r.consistency as Consistency,
    sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
    sourceSite: r.source_site,
    targetSite: r.target_site,
    manifest: parse<JsonObject>(r.manifest_json),
    manifestVersion: r.manifest_version === null ? null : Number(r.manifest_version),
  };
}

function toRun(r: RunsTable): Run {
  return {
    id: r.id,
    planName: r.plan_name,
    kind: r.kind as RunKind,
    status: r.status as RunStatus,
    startedAt: date(r.started_at),
    finishedAt: dateOrNull(r.finished_at),
    params: parse<JsonValue>(r.params_json),
    result: parse<JsonValue>(r.result_json),
    owner: r.owner,
    epoch: Number(r.epoch),
  };
}

function toEntry(r: JournalTable): JournalEntry {
  return { runId: r.run_id, seq: Number(r.seq), at: date(r.at), step: r.step, phase: r.phase as JournalPhase, data: parse<JsonValue>(r.data_json) };
}
