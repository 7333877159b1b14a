// Retention: the pure rules as tables, then applyRetention over a SQLite catalog, the bank in a
// fake Swift and recorded site operations (the real cinder-backup deletions are exercised by
// the replication cycle spec).
import { expect } from 'chai';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogRepo } from '../../../lib/catalog/repo.js';
import type { Site } from '../../../lib/openstack/site.js';
import { bankPaths } from '../../../lib/replication/bank.js';
import { applyRetention, backupsToDelete, selectExpired, unresolvedParents, type ChainRef, type RetentionIo, type RetentionPoint } from '../../../lib/replication/retention.js';
import { mockAuth, testSite, useNock } from '../../support/fake-cloud.js';
import { FakeSwift } from '../../support/fake-swift.js';

const H = 3_600_000;
const NOW = new Date('2026-11-27T12:00:00.000Z');
const at = (hoursAgo: number) => new Date(NOW.getTime() - hoursAgo * H);
const pt = (id: string, hoursAgo: number, status = 'complete'): RetentionPoint => ({ id, createdAt: at(hoursAgo), status });
const ids = (e: { point: RetentionPoint }[]) => e.map((x) => x.point.id);

/** A chain ref: full when no parent. */
const ref = (id: string, parent?: string): ChainRef => ({ primaryBackupId: id, secondaryBackupId: id, incremental: parent !== undefined, ...(parent ? { parentBackupId: parent } : {}) });

describe('replication/retention', () => {
  describe('selectExpired (pure)', () => {
    it('expires by count and age, oldest first, with reasons', () => {
      const points = [pt('p1', 5), pt('p2', 4), pt('p3', 3), pt('p4', 2), pt('p5', 1)];
      const table: [string, { count?: number; ageMs?: number }, string[]][] = [
        ['count 3 keeps the 3 newest', { count: 3 }, ['p1', 'p2']],
        ['count above the number of points', { count: 10 }, []],
        ['age 2h30m', { ageMs: 2.5 * H }, ['p1', 'p2', 'p3']],
        ['count and age: the stricter wins', { count: 4, ageMs: 3.5 * H }, ['p1', 'p2']],
        ['exactly at the age limit is kept', { ageMs: 3 * H }, ['p1', 'p2']],
        ['no rule', {}, []],
      ];
      for (const [what, policy, want] of table) expect(ids(selectExpired(points, policy, NOW)), what).to.deep.equal(want);
      const reasons = selectExpired(points, { count: 4, ageMs: 4.5 * H }, NOW).map((e) => [e.point.id, e.reason]);
      expect(reasons).to.deep.equal([['p1', 'older than the retention age (18000 s > 16200 s)']]);
      expect(selectExpired(points, { count: 4 }, NOW)[0]!.reason).to.equal('beyond the retention count of 4');
    });

    it('always keeps the newest complete point, even past every rule', () => {
      const points = [pt('old-complete', 30), pt('partial-1', 2, 'partial'), pt('partial-2', 1, 'partial')];
      expect(ids(selectExpired(points, { count: 1, ageMs: H }, NOW)), 'partials newer than it go by the rules').to.deep.equal(['partial-1', 'partial-2']);
      expect(ids(selectExpired([pt('a', 50), pt('b', 40)], { ageMs: H }, NOW))).to.deep.equal(['a']);
    });

    it('expires partial points older than the newest complete one first, whatever count and age say', () => {
      const points = [pt('c1', 4), pt('x1', 3, 'partial'), pt('c2', 2), pt('x2', 1, 'partial')];
      const e = selectExpired(points, { count: 10 }, NOW);
      expect(ids(e)).to.deep.equal(['x1']);
      expect(e[0]!.reason).to.equal('partial, superseded by complete point c2');
      // Under count pressure the superseded partial goes before any complete point.
      expect(ids(selectExpired(points, { count: 3 }, NOW))).to.deep.equal(['x1']);
      expect(ids(selectExpired(points, { count: 2 }, NOW))).to.deep.equal(['c1', 'x1']);
    });

    it('keeps the newest point with data when none is complete, and ignores unfinished points', () => {
      const points = [pt('x1', 9, 'partial'), pt('x2', 8, 'partial'), pt('run', 0, 'in-progress'), pt('gone', 20, 'deleting')];
      expect(ids(selectExpired(points, { count: 1, ageMs: H }, NOW))).to.deep.equal(['x1']);
    });

    it('breaks createdAt ties by ID, deterministically', () => {
      const points = [pt('b', 1), pt('a', 1), pt('c', 1)];
      expect(ids(selectExpired(points, { count: 1 }, NOW))).to.deep.equal(['a', 'b']);
    });
  });

  describe('backupsToDelete (pure)', () => {
    it('keeps the backups a retained incremental chain passes through', () => {
      // A ← B ← C (chain), D full, E ← D.
      const expired = [ref('A'), ref('B', 'A')];
      const retained = [ref('C', 'B'), ref('D'), ref('E', 'D')];
      expect(backupsToDelete(expired, retained)).to.deep.equal({ delete: [], kept: ['A', 'B'] });
      expect(backupsToDelete([ref('A'), ref('B', 'A'), ref('C', 'B')], [ref('D'), ref('E', 'D')])).to.deep.equal({
        delete: ['A', 'B', 'C'].map((id) => ({ primaryBackupId: id, secondaryBackupId: id })),
        kept: [],
      });
      expect(backupsToDelete([ref('D')], [ref('E', 'D'), ref('C', 'B')]).delete).to.deep.equal([]);
    });

    it("walks a deleted point's backup that only a chain still names, through the marks read from the site", () => {
      // Point of B already deleted (B kept for C); now C expires: B and, through B's mark, A go.
      const expired = [ref('C', 'B')];
      expect(unresolvedParents(expired)).to.deep.equal(['B']);
      expect(unresolvedParents(expired, new Map([['B', 'A']]))).to.deep.equal(['A']);
      const links = new Map<string, string | null>([
        ['B', 'A'],
        ['A', null],
      ]);
      expect(unresolvedParents(expired, links)).to.deep.equal([]);
      expect(backupsToDelete(expired, [ref('D')], links).delete.map((d) => d.primaryBackupId)).to.deep.equal(['A', 'B', 'C']);
      // Without the marks only what is known goes, the unknown ancestors are not guessed.
      expect(backupsToDelete(expired, [ref('D')]).delete.map((d) => d.primaryBackupId)).to.deep.equal(['B', 'C']);
      // A retained chain through the same unknown link keeps it.
      expect(backupsToDelete(expired, [ref('X', 'B')], links)).to.deep.equal({ delete: [{ primaryBackupId: 'C', secondaryBackupId: 'C' }], kept: ['A', 'B'] });
    });

    it('uses each site’s own ID when a ref has two', () => {
      const r: ChainRef = { primaryBackupId: 'p-1', secondaryBackupId: 's-1', incremental: false };
      expect(backupsToDelete([r], []).delete).to.deep.equal([{ primaryBackupId: 'p-1', secondaryBackupId: 's-1' }]);
    });
  });

  describe('applyRetention', () => {
    useNock();
    let catalog: Catalog;
    let repo: CatalogRepo;
    let clock: Date;

    beforeEach(async () => {
      catalog = await openCatalog('sqlite::memory:');
      clock = at(10);
      repo = new CatalogRepo(catalog, { now: () => clock });
      await repo.plans.upsert({ name: 'web', project: 'p', primarySite: 'site-a', secondarySite: 'site-b', tier: 'backup', rpoMs: H, spec: { name: 'web' } });
    });
    afterEach(() => catalog.close());

    /** A finished point with one volume's ref. */
    async function point(id: string, hoursAgo: number, r: ChainRef, status: 'complete' | 'partial' = 'complete') {
      await repo.points.insert({ id, planName: 'web', consistency: 'crash', createdAt: at(hoursAgo) });
      const manifest = { apiVersion: 'ferry.recoverypoint/v1', id, data: { volumes: [{ sourceVolumeId: 'v1', mover: 'cinder-backup', ...r }], images: [] } };
      if (status === 'complete') await repo.points.complete(id, manifest, 1);
      else await repo.points.markPartial(id, manifest, 1);
    }

    function recorder(marks: Record<string, string | null> = {}, failDeletesAt?: string) {
      const calls: string[] = [];
      const io: RetentionIo = {
        async deleteBackups(site, list, side) {
          calls.push(`delete ${site.name} ${side} ${list.join(',')}`);
          if (site.name === failDeletesAt) throw new Error(`cinder at ${site.name}: 503 Service Unavailable`);
        },
        async backupParent(site, id) {
          calls.push(`parent ${site.name} ${id}`);
          return id in marks ? marks[id] : undefined;
        },
      };
      return { io, calls };
    }

    function sites(): { sites: (c: string) => Site; swift: FakeSwift } {
      mockAuth(2);
      const a = testSite().site;
      const b = testSite({ name: 'site-b' }).site;
      return { sites: (c) => (c === 'site-a' ? a : b), swift: new FakeSwift() };
    }

    it('deletes expired points: bank entry, then the backups no kept chain needs (target, then source), then the row', async () => {
      await point('11111111-0000-4000-8000-000000000001', 4, ref('A'));
      await point('11111111-0000-4000-8000-000000000002', 3, ref('B', 'A'));
      await point('11111111-0000-4000-8000-000000000003', 2, ref('C'));
      await point('11111111-0000-4000-8000-000000000004', 1, ref('D', 'C'));
      const { sites: s, swift } = sites();
      for (const p of await repo.points.list('web')) {
        swift.objects.set(bankPaths.manifest('web', p.createdAt, p.id), '{}');
        swift.objects.set(bankPaths.complete('web', p.createdAt, p.id), '{}');
      }
      const { io, calls } = recorder();
      const r = await applyRetention(repo, 'web', { count: 2 }, { sites: s, io, now: NOW });
      expect(r.expired.map((e) => e.id.slice(-1))).to.deep.equal(['1', '2']);
      expect(r.deletedPoints.map((id) => id.slice(-1))).to.deep.equal(['1', '2']);
      expect(r.deletedBackups).to.deep.equal(['A', 'B']);
      expect(calls).to.deep.equal(['delete site-b secondary A,B', 'delete site-a primary A,B']);
      expect((await repo.points.list('web')).map((p) => p.id.slice(-1))).to.deep.equal(['4', '3']);
      expect([...swift.objects.keys()].filter((k) => k.includes('-000000000001') || k.includes('-000000000002'))).to.deep.equal([]);
      expect(swift.requests.filter((q) => q.startsWith('DELETE')).map((q) => q.split('/').pop())).to.deep.equal(['COMPLETE', 'manifest.json', 'COMPLETE', 'manifest.json']);
      expect(r.warnings).to.deep.equal([]);
    });

    it('keeps a chain parent of a retained incremental, and deletes it (read through its mark) when the last dependent expires', async () => {
      await point('22222222-0000-4000-8000-000000000001', 4, ref('A'));
      await point('22222222-0000-4000-8000-000000000002', 3, ref('B', 'A'));
      const { sites: s } = sites();
      const first = recorder();
      const r1 = await applyRetention(repo, 'web', { count: 1 }, { sites: s, io: first.io, now: NOW });
      expect(r1.deletedPoints.map((id) => id.slice(-1))).to.deep.equal(['1']);
      expect([r1.deletedBackups, r1.keptBackups]).to.deep.equal([[], ['A']]);
      expect(first.calls, 'nothing deleted at the sites').to.deep.equal([]);
      // A full point arrives; the incremental expires, and with it A, known now only through B's mark.
      await point('22222222-0000-4000-8000-000000000003', 2, ref('C'));
      const second = recorder({ A: null, B: 'A' });
      const r2 = await applyRetention(repo, 'web', { count: 1 }, { sites: s, io: second.io, now: NOW });
      expect(r2.deletedBackups).to.deep.equal(['A', 'B']);
      expect(second.calls).to.deep.equal(['parent site-b A', 'delete site-b secondary A,B', 'delete site-a primary A,B']);
    });

    it('leaves points deleting when a site fails, and finishes them on the next run', async () => {
      await point('33333333-0000-4000-8000-000000000001', 3, ref('A'));
      await point('33333333-0000-4000-8000-000000000002', 2, ref('B'));
      const { sites: s } = sites();
      const broken = recorder({}, 'site-a');
      const r1 = await applyRetention(repo, 'web', { count: 1 }, { sites: s, io: broken.io, now: NOW });
      expect(r1.deletedPoints).to.deep.equal([]);
      expect(r1.warnings[0]).to.match(/^retention: deleting recovery point\(s\) 33333333-0000-4000-8000-000000000001 \(site-a → site-b\) failed, they stay 'deleting' for the next cycle: cinder at site-a: 503/);
      expect((await repo.points.get('33333333-0000-4000-8000-000000000001'))!.status).to.equal('deleting');
      const fixed = recorder();
      const r2 = await applyRetention(repo, 'web', { count: 1 }, { sites: s, io: fixed.io, now: NOW });
      expect(r2.expired, 'nothing newly expired').to.deep.equal([]);
      expect(r2.deletedPoints).to.deep.equal(['33333333-0000-4000-8000-000000000001']);
      expect(fixed.calls).to.deep.equal(['delete site-b secondary A', 'delete site-a primary A']);
    });

    it("uses each point's own sites: points from before a failover are deleted where they live", async () => {
      await point('44444444-0000-4000-8000-000000000001', 5, ref('A'));
      await repo.plans.bumpEpoch('web', 0, { activeSite: 'site-b' });
      await repo.points.insert({ id: '44444444-0000-4000-8000-000000000002', planName: 'web', consistency: 'crash', createdAt: at(1) });
      await repo.points.complete('44444444-0000-4000-8000-000000000002', { apiVersion: 'ferry.recoverypoint/v1', data: { volumes: [{ sourceVolumeId: 'v9', ...ref('Z') }] } }, 1);
      expect((await repo.points.get('44444444-0000-4000-8000-000000000002'))!).to.include({ sourceSite: 'site-b', targetSite: 'site-a' });
      const { sites: s } = sites();
      const { io, calls } = recorder();
      const r = await applyRetention(repo, 'web', { count: 1 }, { sites: s, io, now: NOW });
      expect(r.deletedPoints).to.deep.equal(['44444444-0000-4000-8000-000000000001']);
      expect(calls).to.deep.equal(['delete site-b secondary A', 'delete site-a primary A']);
    });
  });
});
