// Column types and DDL helpers shared by the migrations, so each migration reads the same on
// SQLite and MySQL/MariaDB and the portable choices are made once:
// - keys are varchar(255) (utf8mb4: 1020 bytes, inside InnoDB's 3072-byte index limit, also
//   for the two-column indexes); IDs varchar(64); enum-like words varchar(32);
// - timestamps are ISO-8601 UTC strings with milliseconds in varchar(32): identical on both
//   backends, ordered correctly as text, readable in a SQL console, no time-zone conversion
//   (MySQL TIMESTAMP converts by session zone, DATETIME drops it, SQLite has no date type);
// - JSON documents are TEXT on SQLite and LONGTEXT on MySQL (TEXT stops at 64 KiB there;
//   MySQL's binary JSON type would rewrite the document, and a recovery point's manifest is
//   stored byte for byte);
// - MySQL tables are InnoDB, utf8mb4 with the binary collation, so names compare exactly as
//   on SQLite (case-sensitive, no accent folding).
import { sql, type ColumnDataType, type CreateTableBuilder, type Expression, type Kysely } from 'kysely';
import type { Backend } from '../db.js';

export const T = {
  key: 'varchar(255)',
  id: 'varchar(64)',
  word: 'varchar(32)',
  hash: 'varchar(128)',
  time: 'varchar(32)',
  int: 'integer',
  bigint: 'bigint',
} as const satisfies Record<string, ColumnDataType>;

/** The type for a JSON document column. */
export function jsonType(backend: Backend): ColumnDataType | Expression<unknown> {
  return backend === 'mysql' ? sql`longtext` : 'text';
}

/** Table options: InnoDB, utf8mb4, binary collation on MySQL; nothing on SQLite. */
export function tableOptions<TB extends string, C extends string>(backend: Backend, t: CreateTableBuilder<TB, C>): CreateTableBuilder<TB, C> {
  return backend === 'mysql' ? t.modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin`) : t;
}

/**
 * Creates an index unless it exists. MySQL runs DDL outside transactions, so a migration
 * interrupted half-way must be able to run again; MySQL (unlike MariaDB and SQLite) has no
 * `create index if not exists`, hence the look-up in information_schema.
 */
export async function createIndexIfMissing(db: Kysely<unknown>, backend: Backend, table: string, name: string, columns: string[]): Promise<void> {
  if (backend === 'mysql') {
    const found = await sql<{ n: number }>`select count(*) as n from information_schema.statistics
      where table_schema = database() and table_name = ${table} and index_name = ${name}`.execute(db);
    if (Number(found.rows[0]?.n ?? 0) > 0) return;
    await db.schema.createIndex(name).on(table).columns(columns).execute();
    return;
  }
  await db.schema.createIndex(name).ifNotExists().on(table).columns(columns).execute();
}
