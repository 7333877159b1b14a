// Rebuilding the catalog from the bank at the secondary: what a fresh daemon (or
// `ferry catalog rebuild --from SITE`) runs after losing the primary, its daemon and its
// database. Reads every plan and every recovery point of the bank and upserts them into the
// catalog. Idempotent: a second run finds everything present and changes nothing.
//
// Per plan:
//   catalog row soft-deleted → left as it is, points too (counted `deleted`, not a failure:
//                 `plan delete --purge` removes it with everything the bank holds for it)
//   plan.json   → plans.upsert (created, updated when the spec differs, else unchanged)
//   epoch.json  → the catalog's epoch is raised to the bank's through bumpEpoch (never lowered),
//                 with the bank's active site, so fencing survives the rebuild
//   points      → one listing; points already in the catalog are skipped without a GET
//                 (an in-progress row is finished from the bank); every other point's
//                 manifest is read (ETag and checksum verified) and inserted:
//                   COMPLETE marker + manifest status complete → complete
//                   COMPLETE marker + manifest status partial  → partial
//                   manifest without COMPLETE (crashed upload) → partial
//                   marker without manifest, bad manifest       → not recorded, a problem
//   deletedAt   → a plan.json marked deleted (`plan delete`) is recorded with its epoch and its
//                 points as above, THEN soft-deleted, so `plan delete --purge` finds them. The
//                 repository records points of live plans only, hence the order; a rebuild
//                 interrupted in between leaves the row live, and the next run finishes it.
//                 A live catalog row whose plan.json says deleted is an interrupted
//                 `plan delete` (the bank is written first): it is soft-deleted too.
import { CatalogConflictError, type CatalogRepo, type RecoveryPoint } from '../catalog/repo.js';
import { FerryError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { Site } from '../openstack/site.js';
import { checkBank, DEFAULT_BANK_CONTAINER, getEpoch, getPlanDocument, getRecoveryPoint, listPlanNames, listRecoveryPoints, type BankPlanDocument, type BankPointEntry } from './bank.js';
import type { RecoveryPointManifest } from './recovery-point.js';

export interface RebuildOptions {
  /** The bank container (default `ferry-bank`). */
  container?: string;
  /** Only these plans (default: every plan in the bank). */
  plans?: string[];
  /** Swift listing page size (tests). */
  pageSize?: number;
  logger?: Logger;
  signal?: AbortSignal;
}

export interface RebuildProblem {
  plan: string;
  /** The point concerned, if any. */
  pointId?: string;
  message: string;
}

export interface RebuildCounts {
  plans: {
    /** Plans in the bank that were looked at. */
    seen: number;
    created: number;
    updated: number;
    unchanged: number;
    /**
     * Plans recorded soft-deleted: marked deleted in the bank (created or updated from it,
     * then deleted), or already deleted in the catalog (left as they are, points too).
     */
    deleted: number;
    /** Plans whose catalog epoch was raised to the bank's. */
    epochRaised: number;
    /** Plans that could not be recorded (see problems). */
    failed: number;
  };
  points: {
    seen: number;
    /** New rows, complete. */
    complete: number;
    /** New rows, partial (a partial manifest, or no COMPLETE marker). */
    partial: number;
    /** Rows that were in progress in the catalog and are now finished from the bank. */
    finished: number;
    /** Already in the catalog (no GET made). */
    skipped: number;
    /** Not recorded: a marker without manifest, a manifest that fails verification (see problems). */
    failed: number;
  };
  problems: RebuildProblem[];
}

/** Reads every plan and recovery point of the bank at `site` into the catalog; returns what it did. */
export async function rebuildCatalog(site: Site, repo: CatalogRepo, opts: RebuildOptions = {}): Promise<RebuildCounts> {
  const sc = site.objectStore;
  const log = opts.logger ?? silentLogger;
  const bank = { container: opts.container ?? DEFAULT_BANK_CONTAINER, signal: opts.signal };
  const counts: RebuildCounts = {
    plans: { seen: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, epochRaised: 0, failed: 0 },
    points: { seen: 0, complete: 0, partial: 0, finished: 0, skipped: 0, failed: 0 },
    problems: [],
  };
  const problem = (p: RebuildProblem) => {
    counts.problems.push(p);
    log.warn(`catalog rebuild from ${site.name}/${bank.container}: plan '${p.plan}'${p.pointId ? ` point ${p.pointId}` : ''}: ${p.message}`);
  };

  await checkBank(sc, bank);
  const names = await listPlanNames(sc, { ...bank, pageSize: opts.pageSize });
  const wanted = opts.plans ? names.filter((n) => opts.plans!.includes(n)) : names;
  for (const missing of (opts.plans ?? []).filter((n) => !names.includes(n))) problem({ plan: missing, message: `not in the bank` });

  for (const name of wanted) {
    counts.plans.seen++;
    const existing = await repo.plans.get(name, { includeDeleted: true });
    if (existing?.deletedAt) {
      // Not revived, not a failure: the catalog's deletion stands whatever the bank says.
      counts.plans.deleted++;
      log.info(`catalog rebuild from ${site.name}/${bank.container}: plan '${name}' is deleted in the catalog (at ${existing.deletedAt.toISOString()}); left as it is with its points (purge: ferry plan delete ${name} --purge --yes)`);
      continue;
    }
    let doc: BankPlanDocument;
    try {
      const found = await getPlanDocument(sc, name, bank);
      if (!found) throw new FerryError(`the bank has points but no plan.json`);
      doc = found;
      const res = await repo.plans.upsert({
        name: doc.name,
        project: doc.project,
        primarySite: doc.primarySite,
        secondarySite: doc.secondarySite,
        tier: doc.tier,
        rpoMs: doc.rpoMs,
        spec: doc.spec,
      });
      // A plan marked deleted is counted once, as deleted, after its points (below).
      if (!doc.deletedAt) {
        if (res.created) counts.plans.created++;
        else if (res.changed) counts.plans.updated++;
        else counts.plans.unchanged++;
      }
      const epoch = await getEpoch(sc, name, bank);
      if (epoch && (await raiseEpoch(repo, name, epoch.epoch, epoch.activeSite))) counts.plans.epochRaised++;
    } catch (err) {
      counts.plans.failed++;
      problem({ plan: name, message: `plan not recorded: ${(err as Error).message}` });
      continue;
    }

    const known = new Map<string, RecoveryPoint>((await repo.points.list(name)).map((p) => [p.id, p]));
    const entries = await listRecoveryPoints(sc, name, { ...bank, pageSize: opts.pageSize });
    for (const entry of entries) {
      counts.points.seen++;
      const row = known.get(entry.id);
      if (row && row.status !== 'in-progress') {
        counts.points.skipped++;
        continue;
      }
      if (entry.state === 'broken') {
        counts.points.failed++;
        problem({ plan: name, pointId: entry.id, message: 'COMPLETE marker without a manifest; not recorded' });
        continue;
      }
      try {
        const manifest = await getRecoveryPoint(sc, entry, bank);
        const status = pointStatus(entry, manifest);
        if (!row) {
          await repo.points.insert({
            planName: name,
            id: manifest.id,
            consistency: manifest.consistency,
            sourceSite: manifest.sourceSite,
            targetSite: manifest.targetSite,
            createdAt: new Date(manifest.createdAt),
          });
        }
        if (status === 'complete') await repo.points.complete(manifest.id, manifest, manifest.sizes.totalBytes);
        else await repo.points.markPartial(manifest.id, manifest, manifest.sizes.totalBytes);
        if (row) counts.points.finished++;
        else counts.points[status]++;
        if (entry.state === 'incomplete') problem({ plan: name, pointId: entry.id, message: 'no COMPLETE marker (an interrupted upload): recorded as partial' });
      } catch (err) {
        counts.points.failed++;
        problem({ plan: name, pointId: entry.id, message: `not recorded: ${(err as Error).message}` });
      }
    }

    if (doc.deletedAt) {
      try {
        await repo.plans.softDelete(name);
        counts.plans.deleted++;
        log.info(`catalog rebuild from ${site.name}/${bank.container}: plan '${name}' was deleted at ${doc.deletedAt}: recorded deleted with its points (purge: ferry plan delete ${name} --purge --yes)`);
      } catch (err) {
        counts.plans.failed++;
        problem({ plan: name, message: `deleted in the bank at ${doc.deletedAt}, but not recorded deleted: ${(err as Error).message}` });
      }
    }
  }
  log.info(
    `catalog rebuild from ${site.name}/${bank.container}: plans ${counts.plans.created} created, ${counts.plans.updated} updated, ${counts.plans.unchanged} unchanged, ${counts.plans.deleted} deleted; ` +
      `points ${counts.points.complete} complete, ${counts.points.partial} partial, ${counts.points.finished} finished, ${counts.points.skipped} already present, ${counts.points.failed} failed`,
  );
  return counts;
}

/** What the catalog records for a point found in the bank. */
export function pointStatus(entry: Pick<BankPointEntry, 'state'>, manifest: Pick<RecoveryPointManifest, 'status'>): 'complete' | 'partial' {
  return entry.state === 'complete' && manifest.status === 'complete' ? 'complete' : 'partial';
}

/**
 * Raises the catalog's epoch of `plan` to `target` (never lowers it), moving the active site
 * with the last step. True when it changed. Each step is bumpEpoch's conditional update, so a
 * daemon racing the rebuild makes it fail rather than both win.
 */
async function raiseEpoch(repo: CatalogRepo, plan: string, target: number, activeSite: string): Promise<boolean> {
  let current = (await repo.plans.get(plan))?.epoch ?? 0;
  if (current >= target) return false;
  while (current < target) {
    const last = current + 1 === target;
    try {
      current = await repo.plans.bumpEpoch(plan, current, last ? { activeSite } : {});
    } catch (err) {
      if (err instanceof CatalogConflictError) throw new FerryError(`raising the epoch to the bank's ${target}: ${err.message}`, { cause: err });
      throw err;
    }
  }
  return true;
}
