// `ferry catalog rebuild --from CLOUD [--db URL] [--container NAME]`: rebuilds the catalog
// from the bank at a site (the secondary's Swift), e.g. on a fresh daemon after the primary,
// its daemon and its database were lost. Idempotent: running it again changes nothing.
import { openCatalog } from '../catalog/db.js';
import { CatalogRepo } from '../catalog/repo.js';
import { loadCloud, type LoadOptions } from '../config/clouds.js';
import type { Logger } from '../log.js';
import { Site } from '../openstack/site.js';
import { DEFAULT_BANK_CONTAINER } from '../replication/bank.js';
import { rebuildCatalog, type RebuildCounts } from '../replication/rebuild.js';
import { structured, table, type Format } from './output.js';

export interface CatalogRebuildOptions {
  /** The cloud holding the bank. */
  from: string;
  /** Catalog URL (default: [database] connection's default, sqlite:///var/lib/ferry/catalog.db). */
  db?: string;
  container?: string;
  plans?: string[];
  format: Format;
  logger: Logger;
  load?: LoadOptions;
  timeoutMs?: number;
}

export interface CatalogRebuildResult {
  ok: boolean;
  counts: RebuildCounts;
  text: string;
}

/** Opens the site and the catalog, rebuilds, renders the counts; ok is false when something could not be recorded. */
export async function catalogRebuild(opts: CatalogRebuildOptions): Promise<CatalogRebuildResult> {
  const site = new Site(loadCloud(opts.from, opts.load), { logger: opts.logger, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
  const catalog = await openCatalog(opts.db, { logger: opts.logger });
  try {
    const container = opts.container ?? DEFAULT_BANK_CONTAINER;
    const counts = await rebuildCatalog(site, new CatalogRepo(catalog), { container, plans: opts.plans, logger: opts.logger });
    const ok = counts.plans.failed === 0 && counts.points.failed === 0;
    return { ok, counts, text: render(counts, { site: opts.from, container, catalog: catalog.url }, opts.format) };
  } finally {
    await catalog.close();
  }
}

function render(c: RebuildCounts, where: { site: string; container: string; catalog: string }, format: Format): string {
  if (format !== 'table') return structured({ from: where.site, container: where.container, catalog: where.catalog, ...c }, format);
  const rows: [string, string][] = [
    ['from', `${where.site} container ${where.container}`],
    ['catalog', where.catalog],
    ['plans', `${c.plans.seen} in the bank: ${c.plans.created} created, ${c.plans.updated} updated, ${c.plans.unchanged} unchanged, ${c.plans.deleted} deleted, ${c.plans.failed} failed`],
    ['epochs raised', String(c.plans.epochRaised)],
    [
      'recovery points',
      `${c.points.seen} in the bank: ${c.points.complete} added complete, ${c.points.partial} added partial, ${c.points.finished} finished, ${c.points.skipped} already present, ${c.points.failed} failed`,
    ],
  ];
  const out = [table(['Field', 'Value'], rows)];
  if (c.problems.length > 0) out.push(table(['plan', 'point', 'problem'], c.problems.map((p) => [p.plan, p.pointId ?? '', p.message])));
  return out.join('\n');
}
