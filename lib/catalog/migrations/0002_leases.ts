// 0002: leases, for leader election between daemons sharing one database (lib/catalog/leases.ts,
// lib/daemon/leader.ts). One row per named lease; `leader` is the one the daemons contend for.
//  - holder: the daemon holding it ('' when released);
//  - fencing: raised on every change of holder, so a daemon that lost the lease cannot renew
//    (its UPDATE names the old fencing value and matches nothing);
//  - version: raised on every write (take-over, renewal, release); contenders watch it change
//    with their own clocks, so expiry never compares two hosts' clocks;
//  - the times are the writer's, for people (`ferry status`), not for the election.
// Idempotent (if not exists), like 0001: a migration killed half-way is run again.
import type { Kysely } from 'kysely';
import type { Backend } from '../db.js';
import { T, tableOptions } from './schema.js';

export async function up(db: Kysely<unknown>, backend: Backend): Promise<void> {
  await tableOptions(
    backend,
    db.schema
      .createTable('leases')
      .ifNotExists()
      .addColumn('name', T.key, (c) => c.primaryKey())
      .addColumn('holder', T.key, (c) => c.notNull())
      .addColumn('fencing', T.bigint, (c) => c.notNull())
      .addColumn('version', T.bigint, (c) => c.notNull())
      .addColumn('duration_ms', T.bigint, (c) => c.notNull())
      .addColumn('acquired_at', T.time, (c) => c.notNull())
      .addColumn('renewed_at', T.time, (c) => c.notNull())
      .addColumn('expires_at', T.time, (c) => c.notNull()),
  ).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('leases').ifExists().execute();
}
