// `ferry points list|show` and `ferry status` over a SQLite catalog file, through the CLI entry
// point (argument parsing, output formats, exit codes, errors with their fix).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { openCatalog } from '../../../lib/catalog/db.js';
import { CatalogRepo } from '../../../lib/catalog/repo.js';
import { formatBytes } from '../../../lib/cli/replication.js';
import { run } from '../../../lib/cli/main.js';

const M = 60_000;

describe('cli: points and status', () => {
  let dir: string;
  let db: string;

  const ferry = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(['--db', db, ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  /** A plan `web` (RPO 1h) with a complete point 20 min old (2 volumes, 1 image) and a partial one 5 min old. */
  async function seed(): Promise<{ complete: string; partial: string }> {
    const catalog = await openCatalog(db);
    try {
      const repo = new CatalogRepo(catalog);
      await repo.plans.upsert({ name: 'web', project: 'shop', primarySite: 'lab-a', secondarySite: 'lab-b', tier: 'pilot-light', rpoMs: 60 * M, spec: { name: 'web' } });
      const now = Date.now();
      const p1 = await repo.points.insert({ planName: 'web', consistency: 'crash', createdAt: new Date(now - 20 * M) });
      const manifest = { apiVersion: 'ferry.recoverypoint/v1', data: { volumes: [{ sourceVolumeId: 'v1' }, { sourceVolumeId: 'v2' }], images: [{ sourceImageId: 'i1' }] } };
      await repo.points.complete(p1.id, manifest, 3 * 1024 ** 3);
      const p2 = await repo.points.insert({ planName: 'web', consistency: 'crash', createdAt: new Date(now - 5 * M) });
      await repo.points.markPartial(p2.id, { apiVersion: 'ferry.recoverypoint/v1', data: { volumes: [{ sourceVolumeId: 'v1' }], images: [] } }, 1024 ** 3);
      return { complete: p1.id, partial: p2.id };
    } finally {
      await catalog.close();
    }
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-cli-points-'));
    db = `sqlite://${join(dir, 'catalog.db')}`;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lists points newest first with age, status, size and what they hold (json and table)', async () => {
    const ids = await seed();
    const r = await ferry('points', 'list', 'web', '-f', 'json');
    expect(r.code, r.err).to.equal(0);
    const rows = JSON.parse(r.out) as { id: string; status: string; age: string; volumes: number; images: number; size: string; sizeBytes: number }[];
    expect(rows.map((p) => [p.id, p.status, p.age, p.volumes, p.images, p.size])).to.deep.equal([
      [ids.partial, 'partial', '5m', 1, 0, '1.0 GiB'],
      [ids.complete, 'complete', '20m', 2, 1, '3.0 GiB'],
    ]);
    const t = await ferry('points', 'list', 'web');
    expect(t.out).to.match(/ID.*Created.*Age.*Status/);
    expect(t.out.indexOf(ids.partial)).to.be.lessThan(t.out.indexOf(ids.complete));
  });

  it('shows one point with its manifest, and names the fix for an unknown plan or point', async () => {
    const ids = await seed();
    const r = await ferry('points', 'show', 'web', ids.complete, '-f', 'json');
    expect(r.code, r.err).to.equal(0);
    const shown = JSON.parse(r.out) as { id: string; status: string; manifest: { data: { volumes: unknown[] } } };
    expect(shown).to.include({ id: ids.complete, status: 'complete' });
    expect(shown.manifest.data.volumes).to.have.length(2);

    const unknownPoint = await ferry('points', 'show', 'web', 'nope');
    expect(unknownPoint.code).to.equal(1);
    expect(unknownPoint.err).to.include("recovery point 'nope'").and.include('ferry points list web');
    const unknownPlan = await ferry('points', 'list', 'shop');
    expect(unknownPlan.code).to.equal(1);
    expect(unknownPlan.err).to.include("plan 'shop'").and.include('ferry plan apply').and.include('catalog rebuild');
  });

  it('status: current RPO from the newest complete point, exit 0 while every plan meets its RPO', async () => {
    await seed();
    const r = await ferry('status', '-f', 'json');
    expect(r.code, r.err).to.equal(0);
    const [s] = JSON.parse(r.out) as { plan: string; rpoMet: boolean; currentRpoMs: number; points: number }[];
    expect(s!.plan).to.equal('web');
    expect(s!.rpoMet).to.equal(true);
    expect(s!.currentRpoMs).to.be.within(20 * M - 5_000, 20 * M + 60_000);
    const t = await ferry('status', 'web');
    expect(t.out).to.match(/web.*lab-a.*1h.*20m.*yes/s);
  });

  it('status exits 1 when a plan misses its RPO (no complete point yet)', async () => {
    const catalog = await openCatalog(db);
    await new CatalogRepo(catalog).plans.upsert({ name: 'db', project: 'shop', primarySite: 'lab-a', secondarySite: 'lab-b', tier: 'backup', rpoMs: 15 * M, spec: { name: 'db' } });
    await catalog.close();
    const r = await ferry('status');
    expect(r.code).to.equal(1);
    expect(r.out).to.include('no complete point').and.include('NO');
  });

  it('formats bytes for people', () => {
    const table: [number | null, string][] = [
      [null, ''],
      [512, '512 B'],
      [1536, '1.5 KiB'],
      [12 * 1024 ** 2, '12.0 MiB'],
      [3 * 1024 ** 3, '3.0 GiB'],
    ];
    for (const [n, want] of table) expect(formatBytes(n)).to.equal(want);
  });
});
