// The catalog: URL parsing and opening, then ONE test body run against every backend:
// SQLite in memory always, MariaDB/MySQL when FERRY_TEST_MYSQL_URL names a throwaway database
// (the suite drops every table in it). A local server for that:
//   bash spec/support/mariadb.sh start /tmp/ferry-mariadb 3406
//   FERRY_TEST_MYSQL_URL=mysql://ferry:ferry@127.0.0.1:3406/ferry_test npm test
//   bash spec/support/mariadb.sh stop /tmp/ferry-mariadb
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { ConfigError } from '../../../lib/errors.js';
import { MemoryLogger } from '../../../lib/log.js';
import { CatalogError, defaultCatalogUrl, openCatalog, parseCatalogUrl, redactCatalogUrl, type Catalog, type MysqlTarget } from '../../../lib/catalog/db.js';
import { CatalogMigrationError, MIGRATIONS, MIGRATION_TABLE, migrateToLatest, migrationStatus } from '../../../lib/catalog/migrations/index.js';
import {
  CatalogConflictError,
  CatalogInputError,
  CatalogNotFoundError,
  CatalogRepo,
  EpochConflictError,
  RecoveryPointImmutableError,
  canonicalJson,
  isTransient,
  specHash,
  type JsonObject,
  type PlanInput,
} from '../../../lib/catalog/repo.js';

// ---- helpers ----------------------------------------------------------------

async function fails<E extends Error = Error>(p: Promise<unknown> | (() => unknown), type?: new (...args: never[]) => E): Promise<E> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (type && !(e instanceof type)) throw new Error(`expected ${type.name}, got ${String(e)}`, { cause: e });
    return e as E;
  }
  throw new Error('expected a rejection');
}

function clock(start = '2026-03-01T10:00:00.000Z') {
  let t = new Date(start).getTime();
  return {
    now: () => new Date(t),
    reset() {
      t = new Date(start).getTime();
    },
    tick(ms = 1000) {
      t += ms;
      return new Date(t);
    },
  };
}

const UNICODE = {
  emoji: '🚀 fail over 🔥 — 👩‍👩‍👧',
  cjk: '災害復旧 재해 복구',
  rtl: 'التعافي من الكوارث',
  combining: 'e\u0301 n\u0303',
  escapes: 'quote " backslash \\ newline \n tab \t nul \u0000',
  lone: 'lone surrogate \ud800 end',
  numbers: [0, -1, 1.5, 9007199254740991, 1e-7],
  nested: { deep: [{ 'kéy 🔑': true }, null, false] },
};

function planInput(name: string, over: Partial<PlanInput> = {}): PlanInput {
  return {
    name,
    project: 'demo',
    primarySite: 'site-a',
    secondarySite: 'site-b',
    tier: 'pilot-light',
    rpoMs: 3_600_000,
    spec: { apiVersion: 'ferry.plan/v1', name, members: [{ server: 'web-1' }], rpo: '1h' },
    ...over,
  };
}

function manifest(extra: JsonObject = {}): JsonObject {
  return { apiVersion: 'ferry.recoverypoint/v1', members: [{ server: 'web-1', volumes: ['vol-1'] }], ...extra };
}

// ---- URLs and opening (no database needed) ---------------------------------------

describe('catalog URLs', () => {
  it('reads sqlite:///absolute/path (and the four-slash SQLAlchemy form) and sqlite::memory:', () => {
    expect(parseCatalogUrl('sqlite:///var/lib/ferry/catalog.db')).to.deep.equal({ backend: 'sqlite', path: '/var/lib/ferry/catalog.db' });
    expect(parseCatalogUrl('sqlite:////var/lib/ferry/catalog.db')).to.deep.equal({ backend: 'sqlite', path: '/var/lib/ferry/catalog.db' });
    expect(parseCatalogUrl('  sqlite:///srv/my%20dir/c.db ')).to.deep.equal({ backend: 'sqlite', path: '/srv/my dir/c.db' });
    expect(parseCatalogUrl('sqlite::memory:')).to.deep.equal({ backend: 'sqlite', path: ':memory:' });
    expect(defaultCatalogUrl()).to.equal('sqlite:///var/lib/ferry/catalog.db');
    expect(defaultCatalogUrl('/opt/ferry/state.db')).to.equal('sqlite:///opt/ferry/state.db');
  });

  it('refuses relative, empty and parameterised SQLite URLs, naming the option and the fix', async () => {
    for (const url of ['sqlite:catalog.db', 'sqlite://', 'sqlite://host/catalog.db', 'sqlite:///', 'sqlite:///x.db?mode=ro']) {
      const e = await fails(() => parseCatalogUrl(url), ConfigError);
      expect(e.key, url).to.equal('[database] connection');
      expect(e.message, url).to.include('(fix: ');
    }
    expect(() => parseCatalogUrl('sqlite:catalog.db', { source: '/etc/ferry/ferry.conf' })).to.throw(
      ConfigError,
      /^\/etc\/ferry\/ferry\.conf: key '\[database\] connection': catalog URL 'sqlite:catalog\.db' is not an absolute SQLite path \(fix: .*sqlite:\/\/\/var\/lib\/ferry\/catalog\.db/,
    );
  });

  it('reads mysql://, mysql+pymysql:// (oslo.db) and mariadb:// with escapes, IPv6, sockets and TLS', () => {
    expect(parseCatalogUrl('mysql://ferry:s3cret@db.example:3307/ferry')).to.deep.equal({
      backend: 'mysql',
      host: 'db.example',
      port: 3307,
      user: 'ferry',
      password: 's3cret',
      database: 'ferry',
    } satisfies MysqlTarget);
    const t = parseCatalogUrl('mysql+pymysql://ferry:p%40ss%3Aw%2Fd@[::1]/ferry?charset=utf8mb4') as MysqlTarget;
    expect([t.host, t.port, t.password, t.database]).to.deep.equal(['::1', 3306, 'p@ss:w/d', 'ferry']);
    const s = parseCatalogUrl('mariadb://ferry@localhost/ferry?unix_socket=/run/mysqld/mysqld.sock&connect_timeout=5&ssl_ca=/etc/ssl/ca.pem') as MysqlTarget;
    expect(s).to.include({ socketPath: '/run/mysqld/mysqld.sock', connectTimeoutMs: 5000, password: undefined });
    expect(s.ssl).to.deep.equal({ ca: '/etc/ssl/ca.pem' });
  });

  it('refuses bad MySQL URLs and unknown schemes with a ConfigError that never shows the password', async () => {
    const cases: [string, RegExp][] = [
      ['mysql://ferry:hunter2secret@db/ferry?charset=latin1', /charset latin1/],
      ['mysql://ferry:hunter2secret@db/ferry?poolsize=3', /unknown parameter 'poolsize'/],
      ['mysql://ferry:hunter2secret@db:99999/ferry', /malformed/],
      ['mysql://ferry:hunter2secret@db', /names no database/],
      ['mysql://:hunter2secret@db/ferry', /names no user/],
      ['mysql://ferry:hunter2secret@/ferry', /malformed|names no host/],
      ['postgresql://ferry:hunter2secret@db/ferry', /PostgreSQL, which the catalog does not support/],
      ['oracle://ferry:hunter2secret@db/ferry', /unknown scheme 'oracle:'/],
      ['/var/lib/ferry/catalog.db', /has no scheme/],
    ];
    for (const [url, re] of cases) {
      const e = await fails(() => parseCatalogUrl(url), ConfigError);
      expect(e.message, url).to.match(re).and.include("key '[database] connection'").and.include('(fix: ');
      expect(e.message, url).not.to.include('hunter2secret');
    }
    const e = await fails(() => openCatalog('mysql://ferry:hunter2secret@db:99999/ferry'), ConfigError);
    expect(e.message).to.include('mysql://ferry:***@db:99999/ferry').and.not.include('hunter2secret');
  });

  it('redacts passwords, even in URLs that do not parse', () => {
    expect(redactCatalogUrl('mysql://ferry:s3cret@db/ferry')).to.equal('mysql://ferry:***@db/ferry');
    expect(redactCatalogUrl('mysql+pymysql://ferry:p@ss/w:rd@db:3306/ferry')).to.equal('mysql+pymysql://ferry:***@db:3306/ferry');
    expect(redactCatalogUrl('mysql://ferry@db/ferry')).to.equal('mysql://ferry@db/ferry');
    expect(redactCatalogUrl('mysql://db/ferry?password=s3cret&x=1')).to.equal('mysql://db/ferry?password=***&x=1');
    expect(redactCatalogUrl('sqlite:///var/lib/ferry/catalog.db')).to.equal('sqlite:///var/lib/ferry/catalog.db');
  });

  it('reports an unreachable MySQL server as a CatalogError, password redacted in the error and the log', async () => {
    const logger = new MemoryLogger();
    const e = await fails(openCatalog('mysql://ferry:hunter2secret@127.0.0.1:1/ferry', { timeoutMs: 2000, logger }), CatalogError);
    expect(e.message).to.match(/^catalog mysql:\/\/ferry:\*\*\*@127\.0\.0\.1:1\/ferry: cannot open: .*ECONNREFUSED/);
    expect(e.message + logger.text()).not.to.include('hunter2secret');
  });
});

describe('catalog on an SQLite file', () => {
  it('creates the default path, uses WAL, foreign keys and a busy timeout, and keeps data across opens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-catalog-'));
    const path = join(dir, 'state', 'catalog.db');
    const logger = new MemoryLogger();
    const first = await openCatalog(undefined, { defaultPath: path, logger, timeoutMs: 1234 });
    try {
      expect(first.url).to.equal(`sqlite://${path}`);
      expect(first.applied).to.deep.equal(MIGRATIONS.map(([n]) => n));
      const pragma = async (name: string) => Object.values((await sql.raw<Record<string, unknown>>(`pragma ${name}`).execute(first.db)).rows[0]!)[0];
      expect(await pragma('journal_mode')).to.equal('wal');
      expect(await pragma('foreign_keys')).to.equal(1);
      expect(await pragma('busy_timeout')).to.equal(1234);
      await new CatalogRepo(first).plans.upsert(planInput('kept'));
      expect(logger.text()).to.include(`catalog open: sqlite://${path}`).and.include('applied migration 0001_initial');
    } finally {
      await first.close();
    }
    const again = await openCatalog(`sqlite://${path}`);
    try {
      expect(again.applied).to.deep.equal([]);
      expect((await new CatalogRepo(again).plans.get('kept'))?.name).to.equal('kept');
    } finally {
      await again.close();
    }
  });

  it('says which directory it cannot create', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-catalog-'));
    const blocker = join(dir, 'file');
    (await import('node:fs')).writeFileSync(blocker, 'x');
    const e = await fails(openCatalog(`sqlite://${blocker}/sub/catalog.db`), ConfigError);
    expect(e.message).to.include(`cannot create ${blocker}/sub`).and.include('(fix: ');
  });
  it('two processes opening a brand-new file at once both get a migrated catalog (the loser of the race retries)', async () => {
    for (let round = 0; round < 5; round++) {
      const dir = mkdtempSync(join(tmpdir(), 'ferry-catalog-race-'));
      const url = `sqlite://${join(dir, 'catalog.db')}`;
      const opened = await Promise.all([openCatalog(url), openCatalog(url), openCatalog(url)]);
      try {
        const names = (await migrationStatus(opened[0]!.db, 'sqlite')).applied;
        expect(names).to.deep.equal(MIGRATIONS.map(([n]) => n));
      } finally {
        for (const c of opened) await c.close();
      }
    }
  });
});

describe('catalog helpers', () => {
  it('hashes specs in canonical JSON: key order is no change, values are', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }, null], e: 'é' })).to.equal('{"a":[{"d":2},null],"b":1,"e":"é"}');
    expect(specHash({ a: 1, b: { c: 2, d: 3 } })).to.equal(specHash({ b: { d: 3, c: 2 }, a: 1 }));
    expect(specHash({ a: 1 })).to.match(/^sha256:[0-9a-f]{64}$/).and.not.equal(specHash({ a: 2 }));
  });

  it('retries lock races (MySQL deadlock, lock timeout, SQLite busy) and key collisions only when asked', () => {
    expect(isTransient({ errno: 1213, code: 'ER_LOCK_DEADLOCK' })).to.equal(true);
    expect(isTransient({ errno: 1205 })).to.equal(true);
    expect(isTransient({ code: 'SQLITE_BUSY' })).to.equal(true);
    expect(isTransient({ errno: 1062, code: 'ER_DUP_ENTRY' })).to.equal(false);
    expect(isTransient({ errno: 1062, code: 'ER_DUP_ENTRY' }, true)).to.equal(true);
    expect(isTransient({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }, true)).to.equal(true);
    expect(isTransient(new Error('boom'), true)).to.equal(false);
  });
});

// ---- the same body on every backend ------------------------------------------------

interface BackendSpec {
  title: string;
  url: string | undefined;
  skip?: string;
}

const MYSQL_URL = process.env.FERRY_TEST_MYSQL_URL;
const BACKENDS: BackendSpec[] = [
  { title: 'SQLite (in memory)', url: 'sqlite::memory:' },
  {
    title: 'MariaDB',
    url: MYSQL_URL,
    skip: MYSQL_URL
      ? undefined
      : 'skipped: set FERRY_TEST_MYSQL_URL=mysql://ferry:ferry@127.0.0.1:3406/ferry_test (a throwaway server: bash spec/support/mariadb.sh start /tmp/ferry-mariadb 3406)',
  },
];

const FERRY_TABLES = ['journal', 'runs', 'recovery_points', 'plans'];

/** One backend's catalog for the suite, plus a second handle ("another daemon") where the backend has one. */
class Harness {
  catalog!: Catalog;
  private peerCatalog: Catalog | undefined;
  readonly clock = clock();

  constructor(readonly spec: BackendSpec) {}

  get url(): string {
    return this.spec.url!;
  }

  /** True when a second handle reaches the same data (MySQL); SQLite in memory shares one handle. */
  get shared(): boolean {
    return !this.url.startsWith('sqlite::memory:');
  }

  async setUp(): Promise<void> {
    const target = parseCatalogUrl(this.url);
    if (target.backend === 'mysql' && !/test/i.test(target.database)) {
      throw new Error(`refusing to run: FERRY_TEST_MYSQL_URL names database '${target.database}'; the suite drops every table in it, so its name must contain 'test'`);
    }
    if (target.backend === 'mysql') {
      const raw = await openCatalog(this.url, { migrate: false });
      await this.dropAll(raw);
      await raw.close();
    }
    this.catalog = await openCatalog(this.url);
  }

  async tearDown(): Promise<void> {
    await this.peerCatalog?.close();
    await this.catalog?.close();
  }

  /** Drops every table (Ferry's and the migration bookkeeping): an empty database. */
  async dropAll(cat: Catalog = this.catalog): Promise<void> {
    for (const t of [...FERRY_TABLES, MIGRATION_TABLE, `${MIGRATION_TABLE}_lock`]) await cat.db.schema.dropTable(t).ifExists().execute();
    for (const t of await cat.db.introspection.getTables()) await cat.db.schema.dropTable(t.name).ifExists().execute();
  }

  async clearRows(): Promise<void> {
    for (const t of FERRY_TABLES) await this.catalog.db.deleteFrom(t as 'plans').execute();
  }

  repo(): CatalogRepo {
    return new CatalogRepo(this.catalog, { now: this.clock.now });
  }

  /** A second daemon's repository: its own connection pool where the backend allows. */
  async peer(): Promise<CatalogRepo> {
    if (!this.shared) return new CatalogRepo(this.catalog, { now: this.clock.now });
    this.peerCatalog ??= await openCatalog(this.url);
    return new CatalogRepo(this.peerCatalog, { now: this.clock.now });
  }

  async peerCatalogHandle(): Promise<Catalog> {
    if (!this.shared) return this.catalog;
    await this.peer();
    return this.peerCatalog!;
  }
}

for (const backend of BACKENDS) {
  describe(`catalog on ${backend.title}${backend.skip ? ` — ${backend.skip}` : ''}`, function () {
    this.timeout(60_000);
    const h = new Harness(backend);

    before(async function () {
      if (backend.skip || !backend.url) return this.skip();
      await h.setUp();
    });
    after(async () => {
      if (!backend.skip) await h.tearDown();
    });
    beforeEach(async function () {
      if (backend.skip) return;
      h.clock.reset();
      await h.clearRows();
    });

    catalogBody(h);
  });
}

function catalogBody(h: Harness): void {
  // ---- migrations
  describe('migrations', () => {
    it('migrates an empty database to the latest schema; running again applies nothing', async () => {
      await h.dropAll();
      expect(await h.catalog.db.introspection.getTables()).to.deep.equal([]);
      expect(await migrateToLatest(h.catalog.db, h.catalog.backend)).to.deep.equal(MIGRATIONS.map(([n]) => n));
      expect(await migrateToLatest(h.catalog.db, h.catalog.backend)).to.deep.equal([]);
      expect(await migrationStatus(h.catalog.db, h.catalog.backend)).to.deep.equal({ applied: MIGRATIONS.map(([n]) => n), pending: [] });
      const tables = await h.catalog.db.introspection.getTables();
      const cols = Object.fromEntries(tables.map((t) => [t.name, t.columns.map((c) => c.name)]));
      expect(cols['plans']).to.have.members([
        'name', 'project', 'primary_site', 'secondary_site', 'tier', 'rpo_ms', 'spec_json', 'spec_hash', 'epoch', 'active_site', 'created_at', 'updated_at', 'deleted_at',
      ]);
      expect(cols['recovery_points']).to.have.members([
        'id', 'plan_name', 'created_at', 'completed_at', 'status', 'consistency', 'size_bytes', 'source_site', 'target_site', 'manifest_json', 'manifest_version',
      ]);
      expect(cols['runs']).to.have.members(['id', 'plan_name', 'kind', 'status', 'started_at', 'finished_at', 'params_json', 'result_json', 'owner', 'epoch']);
      expect(cols['journal']).to.have.members(['run_id', 'seq', 'at', 'step', 'phase', 'data_json']);
      // the repository works on the re-created schema
      expect((await h.repo().plans.upsert(planInput('after-migrate'))).created).to.equal(true);
    });

    it('lets two daemons start at once: the schema is migrated exactly once', async () => {
      const other = await h.peerCatalogHandle(); // opened (and migrated) before the drop
      await h.dropAll();
      const results = await Promise.all([migrateToLatest(h.catalog.db, h.catalog.backend), migrateToLatest(other.db, other.backend), migrateToLatest(h.catalog.db, h.catalog.backend)]);
      expect(results.flat()).to.deep.equal(MIGRATIONS.map(([n]) => n));
    });

    it('refuses a database migrated by a newer Ferry, saying so', async () => {
      await h.catalog.db.insertInto(MIGRATION_TABLE as 'plans').values({ name: '9999_future', timestamp: new Date().toISOString() } as never).execute();
      try {
        const e = await fails(migrateToLatest(h.catalog.db, h.catalog.backend, { url: h.catalog.url }), CatalogMigrationError);
        expect(e.message).to.include('migrated by a newer Ferry').and.include('9999_future').and.include(h.catalog.url);
      } finally {
        await h.catalog.db.deleteFrom(MIGRATION_TABLE as 'plans').where('name', '=', '9999_future').execute();
      }
    });

    it('never shows the URL password', () => {
      const target = parseCatalogUrl(h.url);
      const pw = target.backend === 'mysql' ? target.password : undefined;
      if (pw) expect(h.catalog.url).to.include(':***@').and.not.include(`:${pw}@`);
      else expect(h.catalog.url).to.equal(h.url);
      expect(h.catalog.redactor.text(`x ${pw ?? ''} y`)).not.to.include(pw || 'never-a-password');
    });
  });

  // ---- plans
  describe('plans', () => {
    it('creates a plan at epoch 0, active at its primary, with a spec hash and timestamps', async () => {
      const repo = h.repo();
      const { plan, created, changed } = await repo.plans.upsert(planInput('web'));
      expect([created, changed]).to.deep.equal([true, true]);
      expect(plan).to.deep.include({ name: 'web', project: 'demo', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 3_600_000, epoch: 0, activeSite: 'site-a', deletedAt: null });
      expect(plan.specHash).to.equal(specHash(planInput('web').spec));
      expect(plan.createdAt.toISOString()).to.equal('2026-03-01T10:00:00.000Z');
      expect(await repo.plans.get('web')).to.deep.equal(plan);
    });

    it('reports no change for the same spec in another key order, and a change for a new spec or column', async () => {
      const repo = h.repo();
      const first = (await repo.plans.upsert(planInput('db'))).plan;
      h.clock.tick(60_000);
      const reordered = { rpo: '1h', members: [{ server: 'web-1' }], name: 'db', apiVersion: 'ferry.plan/v1' };
      const same = await repo.plans.upsert(planInput('db', { spec: reordered }));
      expect([same.created, same.changed]).to.deep.equal([false, false]);
      expect(same.plan.updatedAt).to.deep.equal(first.updatedAt);

      await repo.plans.bumpEpoch('db', 0);
      const spec2 = { ...reordered, members: [{ server: 'web-1' }, { server: 'web-2' }] };
      const edited = await repo.plans.upsert(planInput('db', { spec: spec2 }));
      expect([edited.created, edited.changed]).to.deep.equal([false, true]);
      expect(edited.plan.specHash).not.to.equal(first.specHash);
      expect(edited.plan.spec).to.deep.equal(spec2);
      expect(edited.plan.epoch, 'epoch kept').to.equal(1);
      expect(edited.plan.createdAt).to.deep.equal(first.createdAt);
      expect(edited.plan.updatedAt.getTime()).to.be.greaterThan(first.updatedAt.getTime());

      const rpo = await repo.plans.upsert(planInput('db', { spec: spec2, rpoMs: 900_000 }));
      expect([rpo.changed, rpo.plan.rpoMs]).to.deep.equal([true, 900_000]);
      expect(await repo.plans.get('db')).to.deep.equal(rpo.plan);
    });

    it('creates a plan once when several daemons upsert it at the same moment', async () => {
      const [a, b] = [h.repo(), await h.peer()];
      const results = await Promise.all([a, b, a, b].map((r) => r.plans.upsert(planInput('racy'))));
      expect(results.filter((r) => r.created)).to.have.length(1);
      expect(results.filter((r) => r.changed)).to.have.length(1);
      expect(await a.plans.list()).to.have.length(1);
    });

    it('gets and lists live plans by name, filtered by project', async () => {
      const repo = h.repo();
      for (const n of ['b-plan', 'a-plan', 'c-plan']) await repo.plans.upsert(planInput(n, { project: n === 'c-plan' ? 'other' : 'demo' }));
      expect(await repo.plans.get('missing')).to.equal(undefined);
      expect((await repo.plans.list()).map((p) => p.name)).to.deep.equal(['a-plan', 'b-plan', 'c-plan']);
      expect((await repo.plans.list({ project: 'other' })).map((p) => p.name)).to.deep.equal(['c-plan']);
    });

    it('keeps names exact: case, accents and non-Latin names are distinct keys', async () => {
      const repo = h.repo();
      for (const n of ['Web', 'web', 'wéb', 'плaн-🚀']) await repo.plans.upsert(planInput(n));
      expect((await repo.plans.list()).map((p) => p.name).sort()).to.deep.equal(['Web', 'web', 'wéb', 'плaн-🚀'].sort());
      expect((await repo.plans.get('плaн-🚀'))?.name).to.equal('плaн-🚀');
      expect(await repo.plans.get('WEB')).to.equal(undefined);
    });

    it('validates input: enums, sites, limits, JSON', async () => {
      const repo = h.repo();
      const bad: Partial<PlanInput>[] = [
        { tier: 'gold' as never },
        { secondarySite: 'site-a' },
        { rpoMs: 0 },
        { rpoMs: 1.5 },
        { name: 'x'.repeat(256) },
        { name: ' padded' },
        { name: '' },
        { spec: [] as never },
      ];
      for (const over of bad) await fails(repo.plans.upsert(planInput('valid', over)), CatalogInputError);
      const long = `p${'é'.repeat(254)}`;
      expect((await repo.plans.upsert(planInput(long))).plan.name).to.equal(long);
    });

    it('soft-deletes: hidden from get and list, visible with includeDeleted, not revived by upsert', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('gone'));
      await repo.plans.upsert(planInput('kept'));
      h.clock.tick();
      expect(await repo.plans.softDelete('gone')).to.equal(true);
      expect(await repo.plans.softDelete('gone')).to.equal(false);
      await fails(repo.plans.softDelete('never'), CatalogNotFoundError);
      expect(await repo.plans.get('gone')).to.equal(undefined);
      expect((await repo.plans.get('gone', { includeDeleted: true }))?.deletedAt?.toISOString()).to.equal('2026-03-01T10:00:01.000Z');
      expect((await repo.plans.list()).map((p) => p.name)).to.deep.equal(['kept']);
      expect((await repo.plans.list({ includeDeleted: true })).map((p) => p.name)).to.deep.equal(['gone', 'kept']);
      const e = await fails(repo.plans.upsert(planInput('gone')), CatalogConflictError);
      expect(e.message).to.include('purge it');
      await fails(repo.plans.bumpEpoch('gone', 0), CatalogNotFoundError);
      await fails(repo.points.insert({ planName: 'gone', consistency: 'crash' }), CatalogNotFoundError);
      await fails(repo.runs.create({ planName: 'gone', kind: 'replicate', owner: 'd1' }), CatalogNotFoundError);
    });

    it('purges a deleted plan with its points, runs and journal; refuses a live one', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('old'));
      await repo.plans.upsert(planInput('other'));
      await repo.points.insert({ planName: 'old', consistency: 'crash' });
      await repo.points.insert({ planName: 'old', consistency: 'group' });
      const run = await repo.runs.create({ planName: 'old', kind: 'replicate', owner: 'd1' });
      await repo.journal.append(run.id, { step: 'snapshot', phase: 'observe' });
      await repo.journal.append(run.id, { step: 'snapshot', phase: 'act' });
      const keep = await repo.runs.create({ planName: 'other', kind: 'replicate', owner: 'd1' });
      await repo.journal.append(keep.id, { step: 'snapshot', phase: 'observe' });

      await fails(repo.plans.purge('old'), CatalogConflictError);
      await fails(repo.plans.purge('never'), CatalogNotFoundError);
      await repo.plans.softDelete('old');
      expect(await repo.plans.purge('old')).to.deep.equal({ points: 2, runs: 1, journal: 2 });
      expect(await repo.plans.get('old', { includeDeleted: true })).to.equal(undefined);
      expect(await repo.runs.get(run.id)).to.equal(undefined);
      expect(await repo.journal.read(keep.id)).to.have.length(1);
      const again = await repo.plans.upsert(planInput('old'));
      expect([again.created, again.plan.epoch]).to.deep.equal([true, 0]);
    });
  });

  // ---- epochs (fencing)
  describe('epochs', () => {
    it('bumps the epoch from the expected value, moving the active site', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('fence'));
      expect(await repo.plans.bumpEpoch('fence', 0, { activeSite: 'site-b' })).to.equal(1);
      expect(await repo.plans.get('fence')).to.deep.include({ epoch: 1, activeSite: 'site-b' });
      expect(await repo.plans.bumpEpoch('fence', 1)).to.equal(2);
      expect((await repo.plans.get('fence'))?.activeSite).to.equal('site-b');
      const e = await fails(repo.plans.bumpEpoch('fence', 1), EpochConflictError);
      expect([e.plan, e.expected, e.actual]).to.deep.equal(['fence', 1, 2]);
      expect(e).to.be.instanceOf(CatalogConflictError);
      await fails(repo.plans.bumpEpoch('fence', 2, { activeSite: 'site-z' }), CatalogInputError);
      await fails(repo.plans.bumpEpoch('fence', -1), CatalogInputError);
      await fails(repo.plans.bumpEpoch('nope', 0), CatalogNotFoundError);
    });

    it('lets exactly one of two daemons racing from the same epoch win, every time', async () => {
      const [a, b] = [h.repo(), await h.peer()];
      await a.plans.upsert(planInput('race'));
      const rounds = 25;
      for (let epoch = 0; epoch < rounds; epoch++) {
        const site = epoch % 2 === 0 ? 'site-b' : 'site-a';
        const settled = await Promise.allSettled([a.plans.bumpEpoch('race', epoch, { activeSite: site }), b.plans.bumpEpoch('race', epoch, { activeSite: site })]);
        const won = settled.filter((s) => s.status === 'fulfilled');
        const lost = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
        expect(won, `round ${epoch}`).to.have.length(1);
        expect((won[0] as PromiseFulfilledResult<number>).value).to.equal(epoch + 1);
        expect(lost[0]!.reason).to.be.instanceOf(EpochConflictError).and.deep.include({ expected: epoch, actual: epoch + 1 });
      }
      expect((await b.plans.get('race'))?.epoch).to.equal(rounds);
    });

    it('lets one of many contenders win, and fences runs created with the old epoch', async () => {
      const repos = [h.repo(), await h.peer(), h.repo(), await h.peer(), h.repo()];
      await repos[0]!.plans.upsert(planInput('crowd'));
      const settled = await Promise.allSettled(repos.map((r) => r.plans.bumpEpoch('crowd', 0)));
      expect(settled.filter((s) => s.status === 'fulfilled')).to.have.length(1);
      const e = await fails(repos[1]!.runs.create({ planName: 'crowd', kind: 'failover', owner: 'stale-daemon', epoch: 0 }), EpochConflictError);
      expect([e.expected, e.actual]).to.deep.equal([0, 1]);
      expect((await repos[2]!.runs.create({ planName: 'crowd', kind: 'failover', owner: 'd2', epoch: 1 })).epoch).to.equal(1);
    });
  });

  // ---- recovery points
  describe('recovery points', () => {
    it('inserts an in-progress point from the active site to the other one', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('rp'));
      const p = await repo.points.insert({ planName: 'rp', consistency: 'crash' });
      expect(p).to.deep.include({ planName: 'rp', status: 'in-progress', consistency: 'crash', sourceSite: 'site-a', targetSite: 'site-b', manifest: null, manifestVersion: null, sizeBytes: null, completedAt: null });
      expect(p.id).to.match(/^[0-9a-f-]{36}$/);
      expect(await repo.points.get(p.id)).to.deep.equal(p);
      await repo.plans.bumpEpoch('rp', 0, { activeSite: 'site-b' });
      const back = await repo.points.insert({ planName: 'rp', consistency: 'group', id: 'rp-reverse-1' });
      expect([back.id, back.sourceSite, back.targetSite]).to.deep.equal(['rp-reverse-1', 'site-b', 'site-a']);
    });

    it('validates points: plan, sites, consistency, duplicate IDs', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('rpv'));
      await fails(repo.points.insert({ planName: 'nope', consistency: 'crash' }), CatalogNotFoundError);
      await fails(repo.points.insert({ planName: 'rpv', consistency: 'crash', targetSite: 'site-z' }), CatalogInputError);
      await fails(repo.points.insert({ planName: 'rpv', consistency: 'crash', sourceSite: 'site-b', targetSite: 'site-b' }), CatalogInputError);
      await fails(repo.points.insert({ planName: 'rpv', consistency: 'app' as never }), CatalogInputError);
      await fails(repo.points.insert({ planName: 'rpv', consistency: 'crash', id: 'bad id!' }), CatalogInputError);
      await repo.points.insert({ planName: 'rpv', consistency: 'crash', id: 'dup' });
      await fails(repo.points.insert({ planName: 'rpv', consistency: 'crash', id: 'dup' }), CatalogConflictError);
    });

    it('completes a point with its manifest, version and size', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('rpc'));
      const p = await repo.points.insert({ planName: 'rpc', consistency: 'group' });
      h.clock.tick(90_000);
      const done = await repo.points.complete(p.id, manifest(), 10 * 2 ** 30);
      expect(done).to.deep.include({ status: 'complete', manifestVersion: 1, sizeBytes: 10 * 2 ** 30 });
      expect(done.manifest).to.deep.equal(manifest());
      expect(done.completedAt?.toISOString()).to.equal('2026-03-01T10:01:30.000Z');
      expect(await repo.points.get(p.id)).to.deep.equal(done);
      await fails(repo.points.complete('nope', manifest(), 1), CatalogNotFoundError);
      const q = await repo.points.insert({ planName: 'rpc', consistency: 'group' });
      await fails(repo.points.complete(q.id, { members: [] }, 1), CatalogInputError);
      await fails(repo.points.complete(q.id, manifest(), -1), CatalogInputError);
      expect((await repo.points.complete(q.id, manifest({ apiVersion: 'ferry.recoverypoint/v2' }), 0)).manifestVersion).to.equal(2);
    });

    it('keeps a complete manifest immutable: a different one throws, the same one is a no-op', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('imm'));
      const p = await repo.points.insert({ planName: 'imm', consistency: 'crash' });
      const done = await repo.points.complete(p.id, manifest({ note: 'first' }), 100);
      h.clock.tick();
      const e = await fails(repo.points.complete(p.id, manifest({ note: 'second' }), 100), RecoveryPointImmutableError);
      expect(e.message).to.include(p.id).and.include('immutable');
      await fails(repo.points.complete(p.id, manifest({ note: 'first' }), 101), RecoveryPointImmutableError);
      await fails(repo.points.markPartial(p.id, manifest({ note: 'first' }), 100), RecoveryPointImmutableError);
      const reordered = { note: 'first', members: [{ volumes: ['vol-1'], server: 'web-1' }], apiVersion: 'ferry.recoverypoint/v1' };
      expect(await repo.points.complete(p.id, reordered, 100)).to.deep.equal(done);
      const raw = await h.catalog.db.selectFrom('recovery_points').select(['manifest_json', 'completed_at']).where('id', '=', p.id).executeTakeFirstOrThrow();
      expect(JSON.parse(raw.manifest_json!)).to.deep.equal(manifest({ note: 'first' }));
      expect(raw.completed_at).to.equal(done.completedAt!.toISOString());
    });

    it('lets exactly one of two concurrent completions with different manifests win', async () => {
      const [a, b] = [h.repo(), await h.peer()];
      await a.plans.upsert(planInput('imm-race'));
      for (let i = 0; i < 10; i++) {
        const p = await a.points.insert({ planName: 'imm-race', consistency: 'crash' });
        const settled = await Promise.allSettled([a.points.complete(p.id, manifest({ by: 'a' }), 1), b.points.complete(p.id, manifest({ by: 'b' }), 1)]);
        const won = settled.filter((s): s is PromiseFulfilledResult<Awaited<ReturnType<typeof a.points.complete>>> => s.status === 'fulfilled');
        expect(won).to.have.length(1);
        expect((settled.find((s) => s.status === 'rejected') as PromiseRejectedResult).reason).to.be.instanceOf(RecoveryPointImmutableError);
        expect((await a.points.get(p.id))?.manifest).to.deep.equal(won[0]!.value.manifest);
      }
    });

    it('marks a point partial with what it holds; partial is final too', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('part'));
      const p = await repo.points.insert({ planName: 'part', consistency: 'crash' });
      const part = await repo.points.markPartial(p.id, manifest({ missing: ['web-2'] }), 5);
      expect(part).to.deep.include({ status: 'partial', sizeBytes: 5, manifestVersion: 1 });
      expect(await repo.points.markPartial(p.id, manifest({ missing: ['web-2'] }), 5)).to.deep.equal(part);
      await fails(repo.points.complete(p.id, manifest(), 5), RecoveryPointImmutableError);
    });

    it('marks points deleting and deletes them; a deleting point cannot complete', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('del'));
      const p = await repo.points.insert({ planName: 'del', consistency: 'crash' });
      expect((await repo.points.markDeleting(p.id)).status).to.equal('deleting');
      expect((await repo.points.markDeleting(p.id)).status).to.equal('deleting');
      await fails(repo.points.complete(p.id, manifest(), 1), CatalogConflictError);
      await fails(repo.points.markDeleting('nope'), CatalogNotFoundError);
      expect(await repo.points.delete(p.id)).to.equal(true);
      expect(await repo.points.delete(p.id)).to.equal(false);
      expect(await repo.points.get(p.id)).to.equal(undefined);
    });

    it('lists a plan’s points newest first, filtered by status and limited; latestComplete skips the rest', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('list'));
      await repo.plans.upsert(planInput('elsewhere'));
      expect(await repo.points.latestComplete('list')).to.equal(undefined);
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        // created out of order: the capture time decides, not the insert order
        const createdAt = new Date(Date.UTC(2026, 2, 1, 12, [3, 0, 5, 1, 4, 2][i]!));
        ids.push((await repo.points.insert({ planName: 'list', consistency: 'crash', id: `p${i}`, createdAt })).id);
      }
      await repo.points.insert({ planName: 'elsewhere', consistency: 'crash', createdAt: new Date(Date.UTC(2027, 0, 1)) });
      for (const i of [0, 1, 3]) await repo.points.complete(`p${i}`, manifest({ i }), i);
      await repo.points.markPartial('p4', manifest(), 4);
      // p2 (12:05) stays in progress, p4 (12:04) is partial, p0 (12:03) is the newest complete
      expect((await repo.points.list('list')).map((p) => p.id)).to.deep.equal(['p2', 'p4', 'p0', 'p5', 'p3', 'p1']);
      expect((await repo.points.list('list', { status: 'complete' })).map((p) => p.id)).to.deep.equal(['p0', 'p3', 'p1']);
      expect((await repo.points.list('list', { status: ['in-progress', 'partial'] })).map((p) => p.id)).to.deep.equal(['p2', 'p4', 'p5']);
      expect((await repo.points.list('list', { limit: 2 })).map((p) => p.id)).to.deep.equal(['p2', 'p4']);
      expect((await repo.points.list('list', { status: [] })).map((p) => p.id)).to.deep.equal([]);
      expect((await repo.points.latestComplete('list'))?.id).to.equal('p0');
      await fails(repo.points.list('list', { status: 'done' as never }), CatalogInputError);
      expect(ids).to.have.length(6);
    });

    it('stores a manifest larger than 64 KiB byte for byte', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('big'));
      const p = await repo.points.insert({ planName: 'big', consistency: 'group' });
      const members = Array.from({ length: 3000 }, (_, i) => ({ server: `srv-${i}`, volumes: [`vol-${i}-a`, `vol-${i}-b`], note: '容量🚀' }));
      const big = manifest({ members });
      expect(JSON.stringify(big).length).to.be.greaterThan(200_000);
      await repo.points.complete(p.id, big, 1);
      expect((await repo.points.get(p.id))?.manifest).to.deep.equal(big);
    });
  });

  // ---- runs
  describe('runs', () => {
    it('creates a run at the plan’s epoch and reads it back', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('runs'));
      await repo.plans.bumpEpoch('runs', 0);
      const run = await repo.runs.create({ planName: 'runs', kind: 'replicate', owner: 'daemon-a', params: { full: true, tags: ['x'] } });
      expect(run).to.deep.include({ planName: 'runs', kind: 'replicate', status: 'running', owner: 'daemon-a', epoch: 1, finishedAt: null, result: null });
      expect(run.params).to.deep.equal({ full: true, tags: ['x'] });
      expect(run.startedAt.toISOString()).to.equal('2026-03-01T10:00:00.000Z');
      expect(await repo.runs.get(run.id)).to.deep.equal(run);
      expect(await repo.runs.get('nope')).to.equal(undefined);
      expect((await repo.runs.create({ planName: 'runs', kind: 'drtest', owner: 'd', status: 'pending', id: 'run-1' })).status).to.equal('pending');
      await fails(repo.runs.create({ planName: 'runs', kind: 'drtest', owner: 'd', id: 'run-1' }), CatalogConflictError);
      await fails(repo.runs.create({ planName: 'runs', kind: 'teleport' as never, owner: 'd' }), CatalogInputError);
      await fails(repo.runs.create({ planName: 'nope', kind: 'cleanup', owner: 'd' }), CatalogNotFoundError);
    });

    it('updates status, result and owner; a finished run is stamped and frozen', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('upd'));
      const run = await repo.runs.create({ planName: 'upd', kind: 'failover', owner: 'daemon-a', status: 'pending' });
      expect((await repo.runs.update(run.id, { status: 'running' })).status).to.equal('running');
      await fails(repo.runs.update(run.id, { status: 'pending' }), CatalogConflictError);
      expect((await repo.runs.update(run.id, { owner: 'daemon-b' })).owner).to.equal('daemon-b');
      expect(await repo.runs.update(run.id, {})).to.deep.include({ status: 'running', owner: 'daemon-b' });
      h.clock.tick(5000);
      const done = await repo.runs.update(run.id, { status: 'succeeded', result: { rtoMs: 4200, servers: ['web-1'] } });
      expect(done).to.deep.include({ status: 'succeeded', result: { rtoMs: 4200, servers: ['web-1'] } });
      expect(done.finishedAt?.toISOString()).to.equal('2026-03-01T10:00:05.000Z');
      expect(await repo.runs.get(run.id)).to.deep.equal(done);
      await fails(repo.runs.update(run.id, { status: 'failed' }), CatalogConflictError);
      await fails(repo.runs.update('nope', { status: 'failed' }), CatalogNotFoundError);
      await fails(repo.runs.update(run.id, { status: 'exploded' as never }), CatalogInputError);
    });

    it('lists runs newest first, by plan, kind, status and owner', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('r1'));
      await repo.plans.upsert(planInput('r2'));
      const mk = async (id: string, planName: string, kind: 'replicate' | 'drtest', minute: number, owner = 'd1') =>
        repo.runs.create({ id, planName, kind, owner, startedAt: new Date(Date.UTC(2026, 2, 1, 9, minute)) });
      await mk('a', 'r1', 'replicate', 1);
      await mk('b', 'r1', 'drtest', 3, 'd2');
      await mk('c', 'r2', 'replicate', 2);
      await mk('d', 'r1', 'replicate', 4);
      await repo.runs.update('d', { status: 'failed' });
      expect((await repo.runs.list()).map((r) => r.id)).to.deep.equal(['d', 'b', 'c', 'a']);
      expect((await repo.runs.list({ planName: 'r1' })).map((r) => r.id)).to.deep.equal(['d', 'b', 'a']);
      expect((await repo.runs.list({ planName: 'r1', kind: 'replicate' })).map((r) => r.id)).to.deep.equal(['d', 'a']);
      expect((await repo.runs.list({ status: ['running', 'pending'] })).map((r) => r.id)).to.deep.equal(['b', 'c', 'a']);
      expect((await repo.runs.list({ status: 'failed' })).map((r) => r.id)).to.deep.equal(['d']);
      expect((await repo.runs.list({ owner: 'd2' })).map((r) => r.id)).to.deep.equal(['b']);
      expect((await repo.runs.list({ limit: 1 })).map((r) => r.id)).to.deep.equal(['d']);
    });
  });

  // ---- journal
  describe('journal', () => {
    it('appends entries numbered 1, 2, 3 per run and reads them in order', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('j'));
      const run = await repo.runs.create({ planName: 'j', kind: 'replicate', owner: 'd1' });
      const other = await repo.runs.create({ planName: 'j', kind: 'cleanup', owner: 'd1' });
      const e1 = await repo.journal.append(run.id, { step: 'snapshot:vol-1', phase: 'observe', data: { found: false } });
      h.clock.tick();
      await repo.journal.append(run.id, { step: 'snapshot:vol-1', phase: 'act', data: { snapshot_id: 'snap-1' } });
      await repo.journal.append(other.id, { step: 'delete', phase: 'observe' });
      const e3 = await repo.journal.append(run.id, { step: 'snapshot:vol-1', phase: 'verify', at: new Date('2026-03-01T11:00:00Z') });
      expect(e1).to.deep.equal({ runId: run.id, seq: 1, at: new Date('2026-03-01T10:00:00Z'), step: 'snapshot:vol-1', phase: 'observe', data: { found: false } });
      expect([e3.seq, e3.data, e3.at.toISOString()]).to.deep.equal([3, null, '2026-03-01T11:00:00.000Z']);
      const all = await repo.journal.read(run.id);
      expect(all.map((e) => [e.seq, e.phase])).to.deep.equal([
        [1, 'observe'],
        [2, 'act'],
        [3, 'verify'],
      ]);
      expect(all[1]!.data).to.deep.equal({ snapshot_id: 'snap-1' });
      expect((await repo.journal.read(run.id, { afterSeq: 2 })).map((e) => e.seq)).to.deep.equal([3]);
      expect((await repo.journal.last(run.id))?.seq).to.equal(3);
      expect((await repo.journal.read(other.id)).map((e) => e.seq)).to.deep.equal([1]);
      expect(await repo.journal.read('nope')).to.deep.equal([]);
      expect(await repo.journal.last('nope')).to.equal(undefined);
      await fails(repo.journal.append('nope', { step: 's', phase: 'act' }), CatalogNotFoundError);
      await fails(repo.journal.append(run.id, { step: 's', phase: 'acting' as never }), CatalogInputError);
      await fails(repo.journal.append(run.id, { step: '', phase: 'act' }), CatalogInputError);
    });

    it('numbers concurrent appends from two daemons without gaps or duplicates', async () => {
      const [a, b] = [h.repo(), await h.peer()];
      await a.plans.upsert(planInput('jc'));
      const r1 = await a.runs.create({ planName: 'jc', kind: 'replicate', owner: 'd1' });
      const r2 = await a.runs.create({ planName: 'jc', kind: 'replicate', owner: 'd1' });
      const appends = [
        ...Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).journal.append(r1.id, { step: `s${i}`, phase: 'act', data: { i } })),
        ...Array.from({ length: 20 }, (_, i) => (i % 2 ? b : a).journal.append(r2.id, { step: `t${i}`, phase: 'observe' })),
      ];
      const settled = await Promise.allSettled(appends);
      expect(settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason))).to.deep.equal([]);
      const entries = settled.map((s) => (s as PromiseFulfilledResult<Awaited<(typeof appends)[number]>>).value);
      const seqs = (run: string) => entries.filter((e) => e.runId === run).map((e) => e.seq).sort((x, y) => x - y);
      expect(seqs(r1.id)).to.deep.equal(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(seqs(r2.id)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
      const stored = await a.journal.read(r1.id);
      expect(stored.map((e) => e.seq)).to.deep.equal(seqs(r1.id));
      // each stored entry is the one its append returned
      for (const e of stored) expect(entries.find((x) => x.runId === r1.id && x.seq === e.seq)?.step).to.equal(e.step);
    });
  });

  // ---- JSON
  describe('JSON documents', () => {
    it('round-trips unicode and awkward values through every JSON column', async () => {
      const repo = h.repo();
      const spec = { apiVersion: 'ferry.plan/v1', ...UNICODE };
      const { plan } = await repo.plans.upsert(planInput('json-✓', { spec, project: 'проект' }));
      expect(plan.spec).to.deep.equal(spec);
      expect((await repo.plans.get('json-✓'))?.spec).to.deep.equal(spec);
      const p = await repo.points.insert({ planName: 'json-✓', consistency: 'crash' });
      await repo.points.complete(p.id, manifest({ unicode: UNICODE }), 1);
      expect((await repo.points.get(p.id))?.manifest).to.deep.equal(manifest({ unicode: UNICODE }));
      const run = await repo.runs.create({ planName: 'json-✓', kind: 'drtest', owner: 'démon-🚀', params: UNICODE });
      await repo.runs.update(run.id, { result: [UNICODE, 'done'] });
      const back = await repo.runs.get(run.id);
      expect([back?.params, back?.result, back?.owner]).to.deep.equal([UNICODE, [UNICODE, 'done'], 'démon-🚀']);
      await repo.journal.append(run.id, { step: 'réseau-🔌', phase: 'done', data: UNICODE });
      const [entry] = await repo.journal.read(run.id);
      expect([entry?.step, entry?.data]).to.deep.equal(['réseau-🔌', UNICODE]);
      expect((await repo.plans.get('json-✓'))?.project).to.equal('проект');
      // the stored text is what JSON.stringify wrote, key order kept
      const raw = await h.catalog.db.selectFrom('plans').select('spec_json').where('name', '=', 'json-✓').executeTakeFirstOrThrow();
      expect(raw.spec_json).to.equal(JSON.stringify(spec));
    });

    it('refuses values that are not JSON', async () => {
      const repo = h.repo();
      await repo.plans.upsert(planInput('nojson'));
      const cyclic: Record<string, unknown> = {};
      cyclic['self'] = cyclic;
      await fails(repo.plans.upsert(planInput('nojson', { spec: cyclic })), CatalogInputError);
      await fails(repo.runs.create({ planName: 'nojson', kind: 'replicate', owner: 'd', params: { n: 1n } as never }), CatalogInputError);
    });
  });
}
