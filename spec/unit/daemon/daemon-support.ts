// Test support for the daemon specs: a hand-driven clock, catalogs on every backend (SQLite
// files always; MariaDB when FERRY_TEST_MYSQL_URL names a throwaway database), and plans.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCatalog, parseCatalogUrl, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogRepo, type Plan, type PlanInput } from '../../../lib/catalog/repo.js';
import type { Clock, TimerHandle } from '../../../lib/daemon/clock.js';
import { parseDaemonConfig, type DaemonConfig } from '../../../lib/daemon/config.js';

/** A clock whose time only moves when the test says so; timers fire in order as it moves. */
export class FakeClock implements Clock {
  private timers: { id: number; at: number; fn: () => void }[] = [];
  private seq = 0;
  constructor(public t = Date.parse('2026-03-01T10:00:00.000Z')) {}

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.timers.push({ id, at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(h: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== h);
  }
  pending(): number {
    return this.timers.length;
  }
  /** Moves time forward, firing due timers in order and letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
    await flush();
  }
}

/** Lets pending promise chains (including SQLite queries) run. */
export async function flush(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Polls `cond` every 10 ms (no long sleeps) until it holds or `ms` passes. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 3000, what = 'condition'): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
}

// ---- backends -------------------------------------------------------------------------------

export interface Backend {
  title: string;
  /** Opens a new connection (pool) to the same database: one per simulated daemon. */
  open(): Promise<Catalog>;
  /** Empties every Ferry table (MariaDB: shared with other suites). */
  reset(): Promise<void>;
  cleanup(): Promise<void>;
  skip?: string;
}

const MYSQL_URL = process.env.FERRY_TEST_MYSQL_URL;

function sqliteBackend(): Backend {
  let dir: string | undefined;
  let n = 0;
  let url = '';
  return {
    title: 'SQLite (file, separate connections)',
    async open() {
      if (!dir) {
        dir = mkdtempSync(join(tmpdir(), 'ferry-daemon-'));
        url = `sqlite://${join(dir, `catalog-${++n}.db`)}`;
      }
      return openCatalog(url);
    },
    async reset() {
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    },
    async cleanup() {
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function mysqlBackend(): Backend {
  return {
    title: 'MariaDB',
    ...(MYSQL_URL ? {} : { skip: 'skipped: set FERRY_TEST_MYSQL_URL=mysql://ferry:ferry@127.0.0.1:3407/ferry_test (bash spec/support/mariadb.sh start /tmp/ferry-mdb-d 3407)' }),
    async open() {
      return openCatalog(MYSQL_URL!);
    },
    async reset() {
      const target = parseCatalogUrl(MYSQL_URL!);
      if (target.backend !== 'mysql' || !/test/i.test(target.database)) throw new Error('refusing to run: FERRY_TEST_MYSQL_URL must name a database whose name contains "test" (the suite empties it)');
      const c = await openCatalog(MYSQL_URL!);
      try {
        for (const t of ['journal', 'runs', 'recovery_points', 'plans', 'leases'] as const) await c.db.deleteFrom(t).execute();
      } finally {
        await c.close();
      }
    },
    async cleanup() {},
  };
}

export const BACKENDS: Backend[] = [sqliteBackend(), mysqlBackend()];

// ---- plans and config -------------------------------------------------------------------------

export function planInput(name: string, over: Partial<PlanInput> = {}): PlanInput {
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

export async function addPlan(repo: CatalogRepo, name: string, over: Partial<PlanInput> = {}): Promise<Plan> {
  return (await repo.plans.upsert(planInput(name, over))).plan;
}

/** A parsed configuration from INI text (the API off unless asked for). */
export function config(text = ''): DaemonConfig {
  return parseDaemonConfig(`[api]\nenabled = false\n${text}`, 'test.conf').config;
}
