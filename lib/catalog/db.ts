// The catalog's connection: one URL, two backends. SQLite (better-sqlite3, one file, one
// daemon) is the default; MySQL/MariaDB (mysql2 pool, several daemons on one database) is the
// HA choice. Both go through kysely, so the repository (repo.ts) is written once.
//
//   sqlite:///var/lib/ferry/catalog.db           absolute path (file-URL style; sqlite://// also read)
//   sqlite::memory:                              a private in-memory database (tests)
//   mysql://user:pass@host:port/db?charset=utf8mb4   also mysql+pymysql:// (oslo.db) and mariadb://
//
// A password in a URL never reaches an error or a log line: every message shows the URL
// through redactCatalogUrl(), and driver messages pass a Redactor holding the password.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { CompiledQuery, Kysely, MysqlDialect, SqliteDialect, sql, type Generated } from 'kysely';
import { createPool, type PoolOptions } from 'mysql2';
import { ConfigError, FerryError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { REDACTED, Redactor } from '../redact.js';
import { migrateToLatest } from './migrations/index.js';

// ---- schema ---------------------------------------------------------------
// Column types as the drivers return them. Timestamps are ISO-8601 UTC strings with
// milliseconds (`2026-11-27T03:45:12.123Z`); JSON documents are text. See docs/catalog.md.

export interface PlansTable {
  name: string;
  project: string;
  primary_site: string;
  secondary_site: string;
  tier: string;
  rpo_ms: number;
  spec_json: string;
  spec_hash: string;
  epoch: Generated<number>;
  active_site: string;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface RecoveryPointsTable {
  id: string;
  plan_name: string;
  created_at: string;
  completed_at: string | null;
  status: string;
  consistency: string;
  size_bytes: number | null;
  source_site: string;
  target_site: string;
  manifest_json: string | null;
  manifest_version: number | null;
}

export interface RunsTable {
  id: string;
  plan_name: string;
  kind: string;
  status: string;
  started_at: string;
  finished_at: string | null;
  params_json: string | null;
  result_json: string | null;
  owner: string;
  epoch: number;
}

export interface JournalTable {
  run_id: string;
  seq: number;
  at: string;
  step: string;
  phase: string;
  data_json: string | null;
}

export interface LeasesTable {
  name: string;
  holder: string;
  fencing: number;
  version: number;
  duration_ms: number;
  acquired_at: string;
  renewed_at: string;
  expires_at: string;
}

export interface CatalogSchema {
  plans: PlansTable;
  recovery_points: RecoveryPointsTable;
  runs: RunsTable;
  journal: JournalTable;
  leases: LeasesTable;
}

// ---- URLs -----------------------------------------------------------------

export type Backend = 'sqlite' | 'mysql';

/** Where the catalog lives when nothing is configured. */
export const DEFAULT_CATALOG_PATH = '/var/lib/ferry/catalog.db';
/** The ferry.conf option that holds the catalog URL (oslo.db's name for it). */
export const CATALOG_URL_OPTION = '[database] connection';

const MYSQL_SCHEMES = new Set(['mysql', 'mysql+pymysql', 'mariadb']);
const MYSQL_PARAMS = ['charset', 'unix_socket', 'connect_timeout', 'ssl', 'ssl_ca', 'ssl_cert', 'ssl_key'];

export interface SqliteTarget {
  backend: 'sqlite';
  /** An absolute file path, or `:memory:`. */
  path: string;
}

export interface MysqlTarget {
  backend: 'mysql';
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  database: string;
  socketPath?: string;
  connectTimeoutMs?: number;
  ssl?: { ca?: string; cert?: string; key?: string };
}

export type CatalogTarget = SqliteTarget | MysqlTarget;

export interface UrlContext {
  /** The file the URL came from, for error messages (e.g. `/etc/ferry/ferry.conf`). */
  source?: string;
  /** The option that holds it; `[database] connection` unless told. */
  option?: string;
}

/** `sqlite:///path` for a file path. */
export function sqliteUrl(path: string): string {
  return `sqlite://${resolve(path)}`;
}

/** The URL used when none is configured: `sqlite:///var/lib/ferry/catalog.db` or the given path. */
export function defaultCatalogUrl(path: string = DEFAULT_CATALOG_PATH): string {
  return sqliteUrl(path);
}

/**
 * The URL with its password replaced by `***`, safe for logs and errors. Works on URLs that
 * do not parse, too: everything between the user's `:` and the last `@` is the password.
 */
export function redactCatalogUrl(url: string): string {
  let out = url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:)(.*)@/i, (_m, head: string, pw: string) =>
    pw === '' ? `${head}@` : `${head}${REDACTED}@`,
  );
  out = out.replace(/([?&](?:password|passwd|pass|secret)=)[^&#]*/gi, `$1${REDACTED}`);
  return out;
}

/** Parses a catalog URL. Throws ConfigError naming the option and the fix; never shows a password. */
export function parseCatalogUrl(url: string, ctx: UrlContext = {}): CatalogTarget {
  const raw = url.trim();
  const shown = redactCatalogUrl(raw);
  const fail = (problem: string, fix: string): never => {
    throw new ConfigError(`catalog URL '${shown}' ${problem}`, ctx.source, ctx.option ?? CATALOG_URL_OPTION, fix);
  };
  const examples = `use sqlite://${DEFAULT_CATALOG_PATH} or mysql://ferry:PASSWORD@HOST:3306/ferry`;
  const m = /^([a-z][a-z0-9+.-]*):(.*)$/is.exec(raw);
  if (!m) fail('has no scheme', examples);
  const scheme = m![1]!.toLowerCase();
  const rest = m![2]!;

  if (scheme === 'sqlite') {
    if (rest === ':memory:') return { backend: 'sqlite', path: ':memory:' };
    if (!rest.startsWith('///') || rest.length <= 3) {
      fail(
        'is not an absolute SQLite path',
        `write three slashes and an absolute path, e.g. sqlite://${DEFAULT_CATALOG_PATH} (or sqlite::memory: for a throwaway database)`,
      );
    }
    if (/[?#]/.test(rest)) fail('has a query or fragment, which SQLite URLs do not take', `remove it: sqlite://${DEFAULT_CATALOG_PATH}`);
    let path: string;
    try {
      path = decodeURIComponent(rest.slice(2));
    } catch {
      return fail('has a bad %-escape in its path', 'write the path plainly or escape % as %25');
    }
    return { backend: 'sqlite', path: resolve(path) };
  }

  if (MYSQL_SCHEMES.has(scheme)) {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      return fail('is malformed', 'write mysql://USER:PASSWORD@HOST:PORT/DATABASE and %-escape @ : / in the password');
    }
    const dec = (s: string, what: string): string => {
      try {
        return decodeURIComponent(s);
      } catch {
        return fail(`has a bad %-escape in its ${what}`, 'escape % as %25');
      }
    };
    const user = dec(u.username, 'user');
    const password = u.password ? dec(u.password, 'password') : undefined;
    if (!user) fail('names no user', 'write mysql://USER:PASSWORD@HOST:PORT/DATABASE');
    const database = dec(u.pathname.replace(/^\//, ''), 'database');
    if (!database || database.includes('/')) fail('names no database (or more than one path segment)', 'end the URL with /DATABASE, e.g. mysql://ferry:PASSWORD@db:3306/ferry');
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    const target: MysqlTarget = { backend: 'mysql', host: host || 'localhost', port: u.port ? Number(u.port) : 3306, user, password, database };
    const ssl: NonNullable<MysqlTarget['ssl']> = {};
    let sslOn = false;
    for (const [k, v] of u.searchParams) {
      switch (k) {
        case 'charset':
          if (!/^utf8(mb4)?$/i.test(v)) fail(`asks for charset ${v}; the catalog always uses utf8mb4`, 'drop ?charset or write ?charset=utf8mb4');
          break;
        case 'unix_socket':
          target.socketPath = v;
          break;
        case 'connect_timeout': {
          const s = Number(v);
          if (!Number.isFinite(s) || s <= 0) fail(`has connect_timeout=${v}`, 'give a number of seconds, e.g. ?connect_timeout=10');
          target.connectTimeoutMs = s * 1000;
          break;
        }
        case 'ssl':
          sslOn = /^(1|true|yes|on)$/i.test(v);
          break;
        case 'ssl_ca':
        case 'ssl_cert':
        case 'ssl_key':
          ssl[k.slice(4) as 'ca' | 'cert' | 'key'] = v;
          sslOn = true;
          break;
        default:
          fail(`has an unknown parameter '${k}'`, `use only ${MYSQL_PARAMS.join(', ')}`);
      }
    }
    if (sslOn) target.ssl = ssl;
    if (!host && !target.socketPath) fail('names no host', 'write mysql://USER:PASSWORD@HOST:PORT/DATABASE (or ?unix_socket=/run/mysqld/mysqld.sock)');
    return target;
  }

  if (/^(postgres(ql)?|pgsql)(\+.*)?$/.test(scheme)) fail('asks for PostgreSQL, which the catalog does not support', examples);
  return fail(`has an unknown scheme '${scheme}:'`, examples);
}

// ---- opening ----------------------------------------------------------------

/** A catalog database failed (connection, migration); the message names the redacted URL. */
export class CatalogError extends FerryError {
  override readonly name: string = 'CatalogError';
}

export interface OpenCatalogOptions extends UrlContext {
  /** The file used when `url` is empty; default /var/lib/ferry/catalog.db. */
  defaultPath?: string;
  logger?: Logger;
  /** Run migrations to the latest schema (default true). */
  migrate?: boolean;
  /** MySQL pool size (default 10). */
  poolSize?: number;
  /** SQLite busy timeout and MySQL connect timeout, in ms (default 10 000). */
  timeoutMs?: number;
}

/** An open catalog database: the kysely handle plus what the repository needs to know. */
export interface Catalog {
  readonly db: Kysely<CatalogSchema>;
  readonly backend: Backend;
  /** The URL with its password redacted. */
  readonly url: string;
  /** Scrubs this catalog's password from any text (driver messages). */
  readonly redactor: Redactor;
  /** Migrations applied by openCatalog (empty when already at the latest schema). */
  readonly applied: readonly string[];
  close(): Promise<void>;
}

/**
 * Opens the catalog at `url` (empty: `sqlite://<defaultPath>`), then migrates it to the latest
 * schema unless `migrate: false`.
 */
export async function openCatalog(url?: string, options: OpenCatalogOptions = {}): Promise<Catalog> {
  const log = (options.logger ?? silentLogger).child({ logger: 'ferry.catalog' });
  const effective = url && url.trim() ? url : defaultCatalogUrl(options.defaultPath ?? DEFAULT_CATALOG_PATH);
  const target = parseCatalogUrl(effective, options);
  const shown = redactCatalogUrl(effective.trim());
  const redactor = new Redactor();
  if (target.backend === 'mysql') redactor.add(target.password);
  const timeoutMs = options.timeoutMs ?? 10_000;

  const db = target.backend === 'sqlite' ? openSqlite(target, timeoutMs, shown, options) : openMysql(target, timeoutMs, options.poolSize ?? 10);
  let applied: string[] = [];
  try {
    // The first query proves the connection (the mysql2 pool connects lazily).
    await sql`select 1 as ok`.execute(db);
    if (options.migrate !== false) applied = await migrateToLatest(db, target.backend, { logger: log, url: shown, redactor });
  } catch (err) {
    await db.destroy().catch(() => undefined);
    if (err instanceof FerryError) throw err;
    throw new CatalogError(`catalog ${shown}: cannot open: ${describeDbError(err, redactor)}`, { cause: err });
  }
  log.info(`catalog open: ${shown}`, { backend: target.backend, migrations_applied: applied });
  return {
    db,
    backend: target.backend,
    url: shown,
    redactor,
    applied,
    close: () => db.destroy(),
  };
}

function openSqlite(target: SqliteTarget, timeoutMs: number, shown: string, ctx: UrlContext): Kysely<CatalogSchema> {
  if (target.path !== ':memory:') {
    try {
      mkdirSync(dirname(target.path), { recursive: true, mode: 0o750 });
    } catch (err) {
      throw new ConfigError(
        `catalog URL '${shown}': cannot create ${dirname(target.path)}: ${(err as Error).message}`,
        ctx.source,
        ctx.option ?? CATALOG_URL_OPTION,
        'create the directory for the ferry user, or point the URL at a writable path',
      );
    }
  }
  let conn: Database.Database;
  try {
    conn = new Database(target.path, { timeout: timeoutMs });
    // WAL: readers (ferry CLI) never block the daemon's writes; NORMAL is durable in WAL mode
    // except for the last transactions on power loss, never corrupting.
    conn.pragma('journal_mode = WAL');
    conn.pragma('synchronous = NORMAL');
    conn.pragma('foreign_keys = ON');
    conn.pragma(`busy_timeout = ${Math.max(0, Math.floor(timeoutMs))}`);
  } catch (err) {
    throw new CatalogError(`catalog ${shown}: cannot open SQLite database: ${(err as Error).message}`, { cause: err });
  }
  return new Kysely<CatalogSchema>({ dialect: new SqliteDialect({ database: conn }) });
}

function openMysql(target: MysqlTarget, timeoutMs: number, poolSize: number): Kysely<CatalogSchema> {
  const opts: PoolOptions = {
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    charset: 'UTF8MB4_BIN',
    connectionLimit: poolSize,
    waitForConnections: true,
    connectTimeout: target.connectTimeoutMs ?? timeoutMs,
    enableKeepAlive: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    dateStrings: true,
    multipleStatements: false,
  };
  if (target.socketPath) opts.socketPath = target.socketPath;
  if (target.ssl) opts.ssl = { ...target.ssl };
  const pool = createPool(opts);
  return new Kysely<CatalogSchema>({
    dialect: new MysqlDialect({
      pool,
      // Strict mode: a value too long for its column is an error, never silently truncated
      // (keys, hashes and manifests must be stored exactly); no silent engine substitution.
      onCreateConnection: async (conn) => {
        await conn.executeQuery(CompiledQuery.raw(`set session sql_mode = 'TRADITIONAL,NO_ENGINE_SUBSTITUTION'`));
      },
    }),
  });
}

/** A driver error as one line, password scrubbed, with its code when it has one. */
export function describeDbError(err: unknown, redactor?: Redactor): string {
  const e = err as { message?: unknown; code?: unknown; errno?: unknown };
  const msg = typeof e?.message === 'string' && e.message ? e.message : String(err);
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const text = code && !msg.includes(code) ? `${msg} (${code})` : msg;
  return redactor ? redactor.text(text) : text;
}
