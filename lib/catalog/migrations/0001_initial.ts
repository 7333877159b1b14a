// 0001: the v1 catalog: plans, recovery points, runs and their journal.
// Every statement is idempotent (if not exists), because MySQL commits each DDL statement on
// its own: a migration killed half-way there is simply run again.
import type { Kysely } from 'kysely';
import type { Backend } from '../db.js';
import { T, createIndexIfMissing, jsonType, tableOptions } from './schema.js';

export async function up(db: Kysely<unknown>, backend: Backend): Promise<void> {
  const json = jsonType(backend);

  // One row per protection plan. `epoch` is the fencing token: raised on every failover and
  // failback; a daemon or run holding an older epoch must not act on the plan.
  await tableOptions(
    backend,
    db.schema
      .createTable('plans')
      .ifNotExists()
      .addColumn('name', T.key, (c) => c.primaryKey())
      .addColumn('project', T.key, (c) => c.notNull())
      .addColumn('primary_site', T.key, (c) => c.notNull())
      .addColumn('secondary_site', T.key, (c) => c.notNull())
      .addColumn('tier', T.word, (c) => c.notNull())
      .addColumn('rpo_ms', T.bigint, (c) => c.notNull())
      .addColumn('spec_json', json, (c) => c.notNull())
      .addColumn('spec_hash', T.hash, (c) => c.notNull())
      .addColumn('epoch', T.int, (c) => c.notNull().defaultTo(0))
      .addColumn('active_site', T.key, (c) => c.notNull())
      .addColumn('created_at', T.time, (c) => c.notNull())
      .addColumn('updated_at', T.time, (c) => c.notNull())
      .addColumn('deleted_at', T.time),
  ).execute();

  // One row per recovery point; manifest_json is written once, when the point completes.
  await tableOptions(
    backend,
    db.schema
      .createTable('recovery_points')
      .ifNotExists()
      .addColumn('id', T.id, (c) => c.primaryKey())
      .addColumn('plan_name', T.key, (c) => c.notNull())
      .addColumn('created_at', T.time, (c) => c.notNull())
      .addColumn('completed_at', T.time)
      .addColumn('status', T.word, (c) => c.notNull())
      .addColumn('consistency', T.word, (c) => c.notNull())
      .addColumn('size_bytes', T.bigint)
      .addColumn('source_site', T.key, (c) => c.notNull())
      .addColumn('target_site', T.key, (c) => c.notNull())
      .addColumn('manifest_json', json)
      .addColumn('manifest_version', T.int)
      .addForeignKeyConstraint('recovery_points_plan_fk', ['plan_name'], 'plans', ['name']),
  ).execute();
  await createIndexIfMissing(db, backend, 'recovery_points', 'recovery_points_plan_created', ['plan_name', 'created_at']);

  // One row per workflow run (replicate, failover, failback, drtest, cleanup).
  await tableOptions(
    backend,
    db.schema
      .createTable('runs')
      .ifNotExists()
      .addColumn('id', T.id, (c) => c.primaryKey())
      .addColumn('plan_name', T.key, (c) => c.notNull())
      .addColumn('kind', T.word, (c) => c.notNull())
      .addColumn('status', T.word, (c) => c.notNull())
      .addColumn('started_at', T.time, (c) => c.notNull())
      .addColumn('finished_at', T.time)
      .addColumn('params_json', json)
      .addColumn('result_json', json)
      .addColumn('owner', T.key, (c) => c.notNull())
      .addColumn('epoch', T.int, (c) => c.notNull())
      .addForeignKeyConstraint('runs_plan_fk', ['plan_name'], 'plans', ['name']),
  ).execute();
  await createIndexIfMissing(db, backend, 'runs', 'runs_plan_started', ['plan_name', 'started_at']);
  await createIndexIfMissing(db, backend, 'runs', 'runs_status', ['status']);

  // The append-only step journal of a run: (run_id, seq) with seq 1, 2, 3, ... per run.
  await tableOptions(
    backend,
    db.schema
      .createTable('journal')
      .ifNotExists()
      .addColumn('run_id', T.id, (c) => c.notNull())
      .addColumn('seq', T.int, (c) => c.notNull())
      .addColumn('at', T.time, (c) => c.notNull())
      .addColumn('step', T.key, (c) => c.notNull())
      .addColumn('phase', T.word, (c) => c.notNull())
      .addColumn('data_json', json)
      .addPrimaryKeyConstraint('journal_pk', ['run_id', 'seq'])
      .addForeignKeyConstraint('journal_run_fk', ['run_id'], 'runs', ['id']),
  ).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['journal', 'runs', 'recovery_points', 'plans']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
