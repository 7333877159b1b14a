// The catalog's schema migrations: kysely's Migrator over an in-code provider (no directory
// scanning, so a bundled or compiled Ferry carries its migrations with it). Migrations are
// numbered modules, `NNNN_what.ts`, applied in name order and recorded in `ferry_migration`.
// A released migration is never edited or renamed: a schema change is a new module.
//
// Several daemons may start at once against one MariaDB: the Migrator takes a lock (MySQL
// GET_LOCK) so exactly one migrates while the others wait, then find nothing to do. On
// SQLite all pending migrations run in one transaction.
import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { FerryError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import type { Redactor } from '../../redact.js';
import type { Backend } from '../db.js';
import * as m0001 from './0001_initial.js';
import * as m0002 from './0002_leases.js';

export interface FerryMigrationModule {
  up(db: Kysely<unknown>, backend: Backend): Promise<void>;
  down?(db: Kysely<unknown>, backend: Backend): Promise<void>;
}

/** Every migration, in order. Append new ones at the end. */
export const MIGRATIONS: ReadonlyArray<readonly [name: string, module: FerryMigrationModule]> = [
  ['0001_initial', m0001],
  ['0002_leases', m0002],
];

export const MIGRATION_TABLE = 'ferry_migration';
export const MIGRATION_LOCK_TABLE = 'ferry_migration_lock';

/** kysely's MigrationProvider over MIGRATIONS, binding each to the backend it runs on. */
export class FerryMigrationProvider implements MigrationProvider {
  constructor(private readonly backend: Backend) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    for (const [name, mod] of MIGRATIONS) {
      const down = mod.down;
      out[name] = {
        up: (db) => mod.up(db, this.backend),
        ...(down ? { down: (db: Kysely<unknown>) => down(db, this.backend) } : {}),
      };
    }
    return out;
  }
}

/** A migration failed, or the database was migrated by a newer Ferry. */
export class CatalogMigrationError extends FerryError {
  override readonly name: string = 'CatalogMigrationError';
}

export interface MigrateOptions {
  logger?: Logger;
  /** The catalog URL (redacted) for messages. */
  url?: string;
  /** Scrubs the password from driver messages. */
  redactor?: Redactor;
}

function migrator<DB>(db: Kysely<DB>, backend: Backend): Migrator {
  return new Migrator({
    db,
    provider: new FerryMigrationProvider(backend),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
}

/**
 * Applies every pending migration and returns the names applied (empty when the schema is
 * already the latest). Throws CatalogMigrationError naming the migration that failed, or
 * saying that the database holds migrations this Ferry does not know (a newer Ferry ran).
 */
export async function migrateToLatest<DB>(db: Kysely<DB>, backend: Backend, opts: MigrateOptions = {}): Promise<string[]> {
  const log = opts.logger ?? silentLogger;
  const where = opts.url ? `catalog ${opts.url}` : 'catalog';
  let { error, results = [] } = await migrator(db, backend).migrateToLatest();
  // SQLite has no migration lock across processes: two openers of a brand-new file race, the
  // loser's transaction rolls back on the winner's rows, and a second look finds them applied.
  for (let retry = 1; error !== undefined && backend === 'sqlite' && retry <= 5 && isLostRace(error); retry++) {
    log.debug(`${where}: another process migrated at the same time; looking again (${retry})`);
    await new Promise((r) => setTimeout(r, 50 * retry));
    ({ error, results = [] } = await migrator(db, backend).migrateToLatest());
  }
  const applied = results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
  for (const name of applied) log.info(`${where}: applied migration ${name}`);
  if (error === undefined) return applied;

  const raw = error instanceof Error ? error.message : String(error);
  const message = opts.redactor ? opts.redactor.text(raw) : raw;
  const missing = /previously executed migration (\S+) is missing/.exec(message);
  if (missing) {
    throw new CatalogMigrationError(
      `${where}: the database was migrated by a newer Ferry (it has migration ${missing[1]}, unknown to this version); ` +
        'upgrade this Ferry, or point it at another database',
      { cause: error },
    );
  }
  const failed = results.find((r) => r.status === 'Error')?.migrationName;
  throw new CatalogMigrationError(`${where}: ${failed ? `migration ${failed} failed` : 'migrating failed'}: ${message}`, { cause: error });
}

/** An SQLite error of two processes migrating one file at once (the other one won). */
function isLostRace(error: unknown): boolean {
  const m = error instanceof Error ? error.message : String(error);
  return /UNIQUE constraint failed: ferry_migration|already exists|database is locked|SQLITE_BUSY/i.test(m);
}

/** The applied and pending migrations, for status commands. */
export async function migrationStatus<DB>(db: Kysely<DB>, backend: Backend): Promise<{ applied: string[]; pending: string[] }> {
  const infos = await migrator(db, backend).getMigrations();
  return {
    applied: infos.filter((m) => m.executedAt !== undefined).map((m) => m.name),
    pending: infos.filter((m) => m.executedAt === undefined).map((m) => m.name),
  };
}
