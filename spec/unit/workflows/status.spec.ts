// Plan status: the RPO arithmetic as tables, then planStatus/allStatus over a SQLite catalog.
import { expect } from 'chai';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogNotFoundError, CatalogRepo } from '../../../lib/catalog/repo.js';
import { allStatus, currentRpoMs, cycleIntervalMs, isRpoMet, lastCycleOf, nextCycleDue, planStatus } from '../../../lib/workflows/status.js';

const M = 60_000;
const NOW = new Date('2026-11-27T12:00:00.000Z');
const ago = (min: number) => new Date(NOW.getTime() - min * M);

describe('workflows/status', () => {
  describe('arithmetic (pure)', () => {
    it('current RPO is the age of the newest complete point; met when no older than the target', () => {
      const table: [Date | undefined, number, number | undefined, boolean][] = [
        [ago(10), 60 * M, 10 * M, true],
        [ago(60), 60 * M, 60 * M, true],
        [ago(61), 60 * M, 61 * M, false],
        [undefined, 60 * M, undefined, false],
        [new Date(NOW.getTime() + 5_000), 60 * M, 0, true],
      ];
      for (const [newest, rpo, want, met] of table) {
        const cur = currentRpoMs(newest, NOW);
        expect(cur, String(newest)).to.equal(want);
        expect(isRpoMet(cur, rpo), String(newest)).to.equal(met);
      }
    });

    it('cycles are due every RPO/2 from the newest complete point; overdue or none means now', () => {
      expect(cycleIntervalMs(60 * M)).to.equal(30 * M);
      expect(cycleIntervalMs(61_001)).to.equal(30_500);
      expect(nextCycleDue(ago(10), 60 * M, NOW)?.toISOString()).to.equal('2026-11-27T12:20:00.000Z');
      expect(nextCycleDue(ago(30), 60 * M, NOW), 'due exactly now').to.equal(undefined);
      expect(nextCycleDue(ago(45), 60 * M, NOW)).to.equal(undefined);
      expect(nextCycleDue(undefined, 60 * M, NOW)).to.equal(undefined);
    });

    it('summarises a run: the result when finished, the elapsed time while running', () => {
      const base = { id: 'r1', planName: 'web', kind: 'replicate' as const, owner: 'cli@h', epoch: 0, params: null, startedAt: ago(5) };
      const done = lastCycleOf({ ...base, status: 'failed', finishedAt: ago(2), result: { status: 'partial', durationMs: 170_000, bytes: { volumes: 2048, images: 10 }, pointId: 'p1', error: 'x' } }, NOW);
      expect(done).to.deep.equal({ runId: 'r1', status: 'partial', startedAt: ago(5).toISOString(), finishedAt: ago(2).toISOString(), durationMs: 170_000, bytes: 2058, pointId: 'p1', error: 'x' });
      const running = lastCycleOf({ ...base, status: 'running', finishedAt: null, result: null }, NOW);
      expect(running).to.deep.equal({ runId: 'r1', status: 'running', startedAt: ago(5).toISOString(), durationMs: 5 * M, bytes: 0 });
      const killed = lastCycleOf({ ...base, status: 'cancelled', finishedAt: ago(4), result: null }, NOW);
      expect(killed).to.include({ status: 'cancelled', durationMs: M, bytes: 0 });
    });
  });

  describe('from the catalog', () => {
    let catalog: Catalog;
    let repo: CatalogRepo;
    let clock = NOW;

    beforeEach(async () => {
      catalog = await openCatalog('sqlite::memory:');
      repo = new CatalogRepo(catalog, { now: () => clock });
      for (const name of ['web', 'db']) await repo.plans.upsert({ name, project: 'p', primarySite: 'site-a', secondarySite: 'site-b', tier: 'backup', rpoMs: 60 * M, spec: { name } });
    });
    afterEach(() => catalog.close());

    async function point(id: string, minutesAgo: number, status: 'complete' | 'partial' | 'in-progress') {
      await repo.points.insert({ id, planName: 'web', consistency: 'crash', createdAt: ago(minutesAgo) });
      const m = { apiVersion: 'ferry.recoverypoint/v1', id };
      if (status === 'complete') await repo.points.complete(id, m, 100);
      if (status === 'partial') await repo.points.markPartial(id, m, 50);
    }

    it('reports RPO, last cycle, next due and point counts per plan', async () => {
      await point('p1', 80, 'complete');
      await point('p2', 20, 'complete');
      await point('p3', 5, 'partial');
      await point('p4', 1, 'in-progress');
      await repo.points.markDeleting('p1');
      clock = ago(6);
      const run = await repo.runs.create({ planName: 'web', kind: 'replicate', owner: 'daemon-1' });
      clock = ago(3);
      await repo.runs.update(run.id, { status: 'failed', result: { status: 'partial', durationMs: 180_000, bytes: { volumes: 1024, images: 0 }, pointId: 'p3' } });
      clock = NOW;
      const s = await planStatus(repo, 'web', NOW);
      expect(s).to.deep.equal({
        plan: 'web',
        activeSite: 'site-a',
        targetSite: 'site-b',
        epoch: 0,
        rpoTargetMs: 60 * M,
        currentRpoMs: 20 * M,
        rpoMet: true,
        newestCompleteAt: ago(20).toISOString(),
        lastCycle: { runId: run.id, status: 'partial', startedAt: ago(6).toISOString(), finishedAt: ago(3).toISOString(), durationMs: 180_000, bytes: 1024, pointId: 'p3' },
        nextCycleDueAt: ago(-10).toISOString(),
        points: 2,
        pointsByStatus: { complete: 1, partial: 1, inProgress: 1, deleting: 1 },
      });
    });

    it('a plan never replicated: no RPO, not met, due now; the other site after a failover', async () => {
      await repo.plans.bumpEpoch('db', 0, { activeSite: 'site-b' });
      const all = await allStatus(repo, NOW);
      expect(all.map((s) => s.plan)).to.deep.equal(['db', 'web']);
      expect(all[0]).to.include({ activeSite: 'site-b', targetSite: 'site-a', epoch: 1, currentRpoMs: undefined, rpoMet: false, lastCycle: undefined, nextCycleDueAt: undefined, points: 0 });
    });

    it('an unknown plan is an error with the fix', async () => {
      try {
        await planStatus(repo, 'nope', NOW);
        expect.fail('expected an error');
      } catch (err) {
        expect(err).to.be.instanceOf(CatalogNotFoundError);
        expect((err as Error).message).to.equal("plan 'nope' is not in the catalog (fix: ferry plan apply FILE)");
      }
    });
  });
});
