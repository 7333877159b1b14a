import { expect } from 'chai';
import { Cron } from 'croner';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogRepo, type Run } from '../../../lib/catalog/repo.js';
import {
  Scheduler,
  consecutiveFailures,
  cycleDueAt,
  drTestDue,
  failureBackoffMs,
  planJitterMs,
  registerDrTestStarter,
  type DrTestRequest,
  type DrTestStarter,
  type SchedulerObserver,
  type SchedulerSettings,
  type WorkContext,
} from '../../../lib/daemon/scheduler.js';
import { Metrics } from '../../../lib/daemon/metrics.js';
import { metricsObserver } from '../../../lib/daemon/metrics-observer.js';
import { MemoryLogger } from '../../../lib/log.js';
import type { RunOutcome } from '../../../lib/workflows/engine.js';
import type { CycleResult } from '../../../lib/workflows/replicate.js';
import { FakeClock, addPlan, flush } from './daemon-support.js';

const H = 3_600_000;
const M = 60_000;
const ME = 'daemon@me:1:aaaaaa';

describe('scheduling arithmetic (pure)', () => {
  it('gives each plan a fixed jitter below a tenth of its cycle interval and max_jitter, spread over plans', () => {
    expect(planJitterMs('web', H, 5 * M)).to.equal(planJitterMs('web', H, 5 * M));
    const names = Array.from({ length: 200 }, (_, i) => `plan-${i}`);
    const js = names.map((n) => planJitterMs(n, H, 5 * M));
    for (const j of js) expect(j).to.be.at.least(0).and.below(3 * M); // RPO/2 = 30 min → 3 min
    expect(new Set(js).size).to.be.above(190);
    expect(Math.min(...js)).to.be.below(20_000);
    expect(Math.max(...js)).to.be.above(160_000);
    expect(Math.max(...names.map((n) => planJitterMs(n, 24 * H, 5 * M)))).to.be.below(5 * M); // capped by max_jitter
    expect(planJitterMs('web', H, 0)).to.equal(0);
  });

  it('counts failed runs in a row and backs off exponentially up to the cap', () => {
    const run = (status: Run['status'], finished?: string) => ({ status, finishedAt: finished ? new Date(finished) : null });
    expect(consecutiveFailures([])).to.deep.equal({ count: 0, lastFinishedAt: undefined });
    expect(consecutiveFailures([run('running'), run('failed', '2026-03-01T10:00:00Z'), run('failed', '2026-03-01T09:00:00Z'), run('succeeded', 'x'), run('failed', 'y')])).to.deep.equal({
      count: 2,
      lastFinishedAt: new Date('2026-03-01T10:00:00Z'),
    });
    expect(consecutiveFailures([run('succeeded', '2026-03-01T10:00:00Z'), run('failed', 'x')]).count).to.equal(0);
    expect([0, 1, 2, 3, 4, 10, 100].map((n) => failureBackoffMs(n, M, 30 * M))).to.deep.equal([0, M, 2 * M, 4 * M, 8 * M, 30 * M, 30 * M]);
  });

  it('makes a cycle due RPO/2 after the newest complete point, earlier by the jitter, later after failures', () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    const base = { rpoMs: H, recentRuns: [], jitterMs: 60_000, startedAt: now - 5_000, failureBackoffMs: M, maxFailureBackoffMs: 30 * M, now };
    const at = (iso: string) => new Date(iso);
    // no complete point: at the scheduler's start plus the jitter
    expect(cycleDueAt({ ...base, newestCompleteAt: undefined })).to.equal(now - 5_000 + 60_000);
    // a fresh point: RPO/2 after it, a minute early
    expect(new Date(cycleDueAt({ ...base, newestCompleteAt: at('2026-03-01T11:50:00Z') })).toISOString()).to.equal('2026-03-01T12:19:00.000Z');
    // overdue: in the past (due now)
    expect(cycleDueAt({ ...base, newestCompleteAt: at('2026-03-01T10:00:00Z') })).to.be.below(now);
    // two failures in a row, the last a minute ago: not before 2 min after it
    const failed = [
      { status: 'failed' as const, finishedAt: at('2026-03-01T11:59:00Z') },
      { status: 'failed' as const, finishedAt: at('2026-03-01T11:40:00Z') },
    ];
    expect(new Date(cycleDueAt({ ...base, newestCompleteAt: at('2026-03-01T10:00:00Z'), recentRuns: failed })).toISOString()).to.equal('2026-03-01T12:01:00.000Z');
  });

  it('finds the DR test occurrence to start: newest one, not started yet, within the grace', () => {
    const cron = new Cron('0 3 * * *', { timezone: 'UTC', paused: true });
    const d = (iso: string) => new Date(iso);
    expect(drTestDue(cron, undefined, d('2026-03-01T02:59:59Z'), H)).to.deep.equal({ missed: d('2026-02-28T03:00:00Z') });
    expect(drTestDue(cron, undefined, d('2026-03-01T03:00:00Z'), H)).to.deep.equal({ occurrence: d('2026-03-01T03:00:00Z') });
    expect(drTestDue(cron, undefined, d('2026-03-01T03:59:00Z'), H)).to.deep.equal({ occurrence: d('2026-03-01T03:00:00Z') });
    expect(drTestDue(cron, undefined, d('2026-03-01T04:00:01Z'), H)).to.deep.equal({ missed: d('2026-03-01T03:00:00Z') });
    expect(drTestDue(cron, d('2026-03-01T03:00:02Z'), d('2026-03-01T03:10:00Z'), H)).to.deep.equal({});
    expect(drTestDue(cron, d('2026-03-01T02:00:00Z'), d('2026-03-01T03:10:00Z'), H)).to.deep.equal({ occurrence: d('2026-03-01T03:00:00Z') });
    cron.stop();
  });
});

// ---- the scheduler on a catalog ------------------------------------------------------------------

interface PendingCycle {
  plan: string;
  ctx: WorkContext & { epoch: number };
  resolve: (r: CycleResult) => void;
  reject: (e: Error) => void;
}

const SETTINGS: SchedulerSettings = {
  enabled: true,
  tickMs: 10_000,
  maxConcurrentCycles: 4,
  maxJitterMs: 0,
  failureBackoffMs: M,
  maxFailureBackoffMs: 30 * M,
  drtest: { enabled: true, timezone: 'UTC', misfireGraceMs: H, schedules: {} },
};

async function harness(over: { settings?: Partial<SchedulerSettings>; drTest?: DrTestStarter; start?: string; loop?: boolean; observer?: SchedulerObserver } = {}) {
  const clock = new FakeClock(over.start ? Date.parse(over.start) : undefined);
  const catalog: Catalog = await openCatalog('sqlite::memory:');
  const repo = new CatalogRepo(catalog, { now: () => new Date(clock.now()) });
  const logger = new MemoryLogger();
  const cycles: PendingCycle[] = [];
  const resumed: { runId: string; owner: string }[] = [];
  const events: string[] = [];
  let leader = true;
  const observer: SchedulerObserver = {
    cycleStarted: (e) => events.push(`started ${e.plan}`),
    cycleFinished: (e) => events.push(`finished ${e.plan}${e.error ? ` error ${e.error}` : ` ${e.result?.status}`}`),
    cycleSlow: (e) => events.push(`slow ${e.plan} ${e.finished ? 'finished' : 'running'} ${Math.round(e.elapsedMs / M)}m`),
    drTest: (e) => events.push(`drtest ${e.plan} ${e.outcome} ${e.scheduledFor}`),
    runResumed: (e) => events.push(`resumed ${e.kind} ${e.runId} from ${e.previousOwner}: ${e.outcome}`),
  };
  const extra = over.observer;
  if (extra) {
    observer.cycleSlow = ((own) => (e: Parameters<NonNullable<SchedulerObserver['cycleSlow']>>[0]) => (own(e), extra.cycleSlow?.(e)))(observer.cycleSlow!);
    observer.cycleFinished = ((own) => (e: Parameters<NonNullable<SchedulerObserver['cycleFinished']>>[0]) => (own(e), extra.cycleFinished?.(e)))(observer.cycleFinished!);
  }
  const scheduler = new Scheduler({
    repo,
    owner: ME,
    settings: { ...SETTINGS, ...over.settings, drtest: { ...SETTINGS.drtest, ...over.settings?.drtest } },
    isLeader: () => leader,
    runCycle: (plan, ctx) =>
      new Promise<CycleResult>((resolve, reject) => {
        cycles.push({ plan, ctx, resolve, reject });
      }),
    resumeRun: async (runId, ctx): Promise<RunOutcome> => {
      resumed.push({ runId, owner: ctx.owner });
      return { status: 'succeeded' } as RunOutcome;
    },
    ...(over.drTest ? { drTest: over.drTest } : {}),
    clock,
    logger,
    observer,
  });
  // Tests tick by hand unless they test the loop itself.
  if (over.loop) scheduler.start();
  /** Ends a pending cycle the way runReplicationCycle would: a run, a complete point (or a failed run). */
  async function finish(i: number, status: 'complete' | 'failed' = 'complete'): Promise<void> {
    const c = cycles[i]!;
    const run = await repo.runs.create({ planName: c.plan, kind: 'replicate', owner: c.ctx.owner, params: { cycle: 1 }, startedAt: new Date(clock.now()) });
    let pointId: string | undefined;
    if (status === 'complete') {
      const p = await repo.points.insert({ planName: c.plan, consistency: 'crash', createdAt: new Date(clock.now()) });
      await repo.points.complete(p.id, { apiVersion: 'ferry.recoverypoint/v1' }, 0);
      pointId = p.id;
    }
    await repo.runs.update(run.id, { status: status === 'complete' ? 'succeeded' : 'failed', result: { status } });
    c.resolve({ runId: run.id, status, ...(pointId ? { pointId } : {}) } as CycleResult);
    await flush();
  }
  return {
    clock,
    repo,
    catalog,
    logger,
    cycles,
    resumed,
    events,
    scheduler,
    finish,
    setLeader: (v: boolean) => (leader = v),
    tick: async () => {
      await scheduler.tick();
      await flush();
    },
    close: async () => {
      const stopped = scheduler.stop(0);
      await clock.advance(0);
      await stopped;
      await catalog.close();
    },
  };
}

describe('the scheduler', () => {
  let h: Awaited<ReturnType<typeof harness>>;
  afterEach(async () => {
    await h?.close();
  });

  it('does nothing unless leader', async () => {
    h = await harness();
    await addPlan(h.repo, 'web');
    h.setLeader(false);
    await h.tick();
    expect(h.cycles).to.deep.equal([]);
    h.setLeader(true);
    await h.tick();
    expect(h.cycles.map((c) => c.plan)).to.deep.equal(['web']);
  });

  it('runs one cycle per plan at a time, then the next RPO/2 after its point, at the plan epoch, with a request ID', async () => {
    h = await harness();
    await addPlan(h.repo, 'web', { rpoMs: H });
    await h.tick();
    await h.tick(); // still running: no second cycle
    expect(h.cycles.map((c) => c.plan)).to.deep.equal(['web']);
    expect(h.cycles[0]!.ctx).to.deep.include({ owner: ME, epoch: 0 });
    expect(h.scheduler.running()).to.have.length(1);
    expect(h.scheduler.running()[0]).to.deep.include({ key: 'replicate:web', kind: 'replicate', plan: 'web' });
    expect(h.scheduler.running()[0]!.requestId).to.match(/^req-[0-9a-f-]{36}$/);
    expect(h.logger.lines.find((l) => l.msg.startsWith('replication cycle of plan web starting'))!.fields).to.deep.include({ requestId: h.scheduler.running()[0]!.requestId, plan: 'web' });
    await h.finish(0);
    expect(h.scheduler.running()).to.deep.equal([]);
    await h.clock.advance(30 * M - 1);
    await h.tick();
    expect(h.cycles).to.have.length(1);
    await h.clock.advance(1);
    await h.tick();
    expect(h.cycles).to.have.length(2);
    expect(h.events).to.deep.equal(['started web', 'finished web complete', 'started web']);
    expect(h.scheduler.schedule().cycles).to.deep.equal([{ plan: 'web', dueAt: new Date(h.clock.t).toISOString() }]);
  });

  it('starts at most max_concurrent_cycles, the most overdue first, the rest when one ends', async () => {
    h = await harness({ settings: { maxConcurrentCycles: 2 } });
    for (const [name, ageH] of [
      ['a', 2],
      ['b', 5],
      ['c', 3],
    ] as const) {
      await addPlan(h.repo, name, { rpoMs: H });
      const p = await h.repo.points.insert({ planName: name, consistency: 'crash', createdAt: new Date(h.clock.t - ageH * H) });
      await h.repo.points.complete(p.id, { apiVersion: 'ferry.recoverypoint/v1' }, 0);
    }
    await h.tick();
    expect(h.cycles.map((c) => c.plan)).to.deep.equal(['b', 'c']);
    await h.finish(1);
    await h.tick();
    expect(h.cycles.map((c) => c.plan)).to.deep.equal(['b', 'c', 'a']);
  });

  it('warns and reports a cycle running longer than half the RPO, while it runs and at its end', async () => {
    h = await harness();
    await addPlan(h.repo, 'web', { rpoMs: H });
    await h.tick();
    await h.clock.advance(30 * M);
    await h.tick();
    expect(h.events).to.deep.equal(['started web']);
    await h.clock.advance(1);
    await h.tick();
    await h.tick();
    expect(h.events).to.deep.equal(['started web', 'slow web running 30m']);
    expect(h.logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).to.deep.equal(['replication cycle of plan web has run for 30m, more than half its RPO (1h): the RPO is at risk']);
    await h.clock.advance(10 * M);
    await h.finish(0);
    expect(h.events.slice(2)).to.deep.equal(['slow web finished 40m', 'finished web complete']);
    expect(h.logger.text()).to.include('replication cycle of plan web took 40m, more than half its RPO (1h): the RPO cannot be held at this pace');
  });

  it('counts a slow cycle once in the metrics, though it is reported while it runs and again at its end', async () => {
    const metrics = new Metrics();
    h = await harness({ observer: metricsObserver(metrics) });
    await addPlan(h.repo, 'web', { rpoMs: H });
    const slowCount = async () => Number(/^ferry_replication_cycle_slow_total\{plan="web"\} (\d+)$/m.exec(await metrics.text())?.[1] ?? 0);
    await h.tick();
    await h.clock.advance(31 * M);
    await h.tick();
    expect(await slowCount(), 'counted while it runs').to.equal(1);
    await h.clock.advance(10 * M);
    await h.finish(0);
    expect(h.events.filter((e) => e.startsWith('slow'))).to.deep.equal(['slow web running 31m', 'slow web finished 41m']);
    expect(await slowCount(), 'not again at its end').to.equal(1);
    const text = await metrics.text();
    expect(text).to.match(/^ferry_replication_cycle_duration_seconds_count\{plan="web",outcome="complete"\} 1$/m);
    expect(text).to.match(/^ferry_run_duration_seconds_count\{kind="replicate",outcome="succeeded"\} 1$/m);
    // the next cycle, slow only at its end (no tick while it ran), counts once more
    await h.clock.advance(H);
    await h.tick();
    await h.clock.advance(40 * M);
    await h.finish(1);
    expect(h.events.filter((e) => e.startsWith('slow'))).to.have.length(3);
    expect(await slowCount()).to.equal(2);
  });

  it('backs off after failed cycles', async () => {
    h = await harness();
    await addPlan(h.repo, 'web', { rpoMs: H });
    await h.tick();
    await h.finish(0, 'failed');
    await h.tick();
    expect(h.cycles).to.have.length(1);
    await h.clock.advance(M);
    await h.tick();
    expect(h.cycles).to.have.length(2);
    await h.finish(1, 'failed');
    await h.clock.advance(M);
    await h.tick();
    expect(h.cycles, 'second failure: two minutes').to.have.length(2);
    await h.clock.advance(M);
    await h.tick();
    expect(h.cycles).to.have.length(3);
  });

  it('logs a cycle that throws and schedules it again', async () => {
    h = await harness();
    await addPlan(h.repo, 'web');
    await h.tick();
    h.cycles[0]!.reject(new Error('plan web: epoch is 2, not the expected 1'));
    await flush();
    expect(h.events).to.deep.equal(['started web', 'finished web error plan web: epoch is 2, not the expected 1']);
    expect(h.logger.text()).to.include('replication cycle of plan web failed: plan web: epoch is 2, not the expected 1');
    await h.tick();
    expect(h.cycles).to.have.length(2);
  });

  it('resumes what a dead daemon left: replicate runs by a cycle now, other kinds from their journal, once each', async () => {
    h = await harness();
    await addPlan(h.repo, 'web', { rpoMs: H });
    await addPlan(h.repo, 'db', { rpoMs: H });
    // both plans have a fresh point: no cycle is due
    for (const plan of ['web', 'db']) {
      const p = await h.repo.points.insert({ planName: plan, consistency: 'crash', createdAt: new Date(h.clock.t) });
      await h.repo.points.complete(p.id, { apiVersion: 'ferry.recoverypoint/v1' }, 0);
    }
    const dead = 'daemon@old-leader:7:bbbbbb';
    const rep = await h.repo.runs.create({ planName: 'web', kind: 'replicate', owner: dead, params: { cycle: 3 } });
    const fo = await h.repo.runs.create({ planName: 'db', kind: 'failover', owner: dead });
    const dt = await h.repo.runs.create({ planName: 'db', kind: 'drtest', owner: 'daemon@follower:8:cccccc', status: 'pending' });
    await h.repo.runs.create({ planName: 'web', kind: 'failback', owner: 'cli@ops-host' });
    await h.tick();
    expect(h.cycles.map((c) => c.plan)).to.deep.equal(['web']);
    expect(h.resumed.map((r) => r.runId).sort()).to.deep.equal([fo.id, dt.id].sort());
    expect(h.resumed.every((r) => r.owner === ME)).to.equal(true);
    expect(h.events).to.include.members([`resumed replicate ${rep.id} from ${dead}: cycle requested`, `resumed failover ${fo.id} from ${dead}: succeeded`]);
    expect(h.logger.text()).to.include(`replicate run ${rep.id} of plan web was left running by ${dead}: the plan's next cycle resumes it now`);
    // once per term: the runs are still `running` in the catalog (the fakes did not finish them)
    await h.tick();
    expect(h.resumed).to.have.length(2);
    expect(h.cycles).to.have.length(1);
    // losing the lease aborts the work; the next term tries again
    h.scheduler.abortAll('lost the lease');
    expect(h.cycles[0]!.ctx.signal.aborted).to.equal(true);
    h.cycles[0]!.reject(new Error('aborted'));
    await flush();
    await h.tick();
    expect(h.resumed).to.have.length(4);
  });

  it('leaves a replicate run an operator drives from the CLI alone while its journal moves', async () => {
    h = await harness();
    await addPlan(h.repo, 'web', { rpoMs: H });
    const run = await h.repo.runs.create({ planName: 'web', kind: 'replicate', owner: 'cli@ops-host', startedAt: new Date(h.clock.t) });
    await h.repo.journal.append(run.id, { step: 'volumes', phase: 'act', at: new Date(h.clock.t) });
    await h.tick();
    await h.tick();
    expect(h.cycles).to.deep.equal([]);
    expect(h.logger.lines.filter((l) => l.msg.includes('is driven by cli@ops-host'))).to.have.length(1);
    await h.clock.advance(H);
    await h.tick();
    expect(h.cycles.map((c) => c.plan)).to.deep.equal(['web']);
    expect(h.logger.text()).to.include(`replicate run ${run.id} of plan web (owner cli@ops-host) has journaled nothing for 1h: taking it over`);
  });

  describe('DR tests', () => {
    const schedules = { web: '0 3 * * *' };

    it('starts a scheduled DR test at its time, once, through the injected starter', async () => {
      const calls: DrTestRequest[] = [];
      h = await harness({
        start: '2026-03-01T02:59:00Z',
        settings: { drtest: { ...SETTINGS.drtest, schedules } },
        drTest: async (r) => {
          calls.push(r);
          return { runId: 'run-dt-1', status: 'succeeded' };
        },
      });
      await addPlan(h.repo, 'web');
      await h.tick();
      expect(calls).to.deep.equal([]);
      await h.clock.advance(M + 5_000);
      await h.tick();
      await h.tick();
      expect(calls).to.have.length(1);
      expect(calls[0]).to.deep.include({ plan: 'web', owner: ME, epoch: 0 });
      expect(calls[0]!.scheduledFor.toISOString()).to.equal('2026-03-01T03:00:00.000Z');
      expect(calls[0]!.requestId).to.match(/^req-/);
      expect(h.events.filter((e) => e.startsWith('drtest'))).to.deep.equal(['drtest web started 2026-03-01T03:00:00.000Z', 'drtest web succeeded 2026-03-01T03:00:00.000Z']);
      expect(h.scheduler.schedule().drTests).to.deep.equal([{ plan: 'web', cron: '0 3 * * *', next: '2026-03-02T03:00:00.000Z' }]);
    });

    it('does not start one another daemon started already (the catalog has its run)', async () => {
      const calls: string[] = [];
      h = await harness({ start: '2026-03-01T03:01:00Z', settings: { drtest: { ...SETTINGS.drtest, schedules } }, drTest: async (r) => (calls.push(r.plan), { status: 'succeeded' }) });
      await addPlan(h.repo, 'web');
      await h.repo.runs.create({ planName: 'web', kind: 'drtest', owner: 'daemon@old:1:x', startedAt: new Date('2026-03-01T03:00:02Z') });
      await h.tick();
      expect(calls).to.deep.equal([]);
    });

    it('skips with a log line when no DR test workflow is registered, and uses a registered one', async () => {
      h = await harness({ start: '2026-03-01T03:00:30Z', settings: { drtest: { ...SETTINGS.drtest, schedules: { web: '0 3 * * *', gone: '0 3 * * *' } } } });
      await addPlan(h.repo, 'web');
      await h.tick();
      await h.tick();
      const skips = h.logger.lines.filter((l) => l.msg.includes('skipped')).map((l) => l.msg);
      expect(skips).to.deep.equal([
        'scheduled DR test of plan web (2026-03-01T03:00:00.000Z) skipped: no DR test workflow is registered in this daemon',
        'scheduled DR test of plan gone (2026-03-01T03:00:00.000Z) skipped: the plan is not in the catalog (fix: ferry plan apply FILE, or remove it from [drtest_schedule])',
      ]);
      const calls: string[] = [];
      const unregister = registerDrTestStarter(async (r) => (calls.push(`${r.plan} ${r.scheduledFor.toISOString()}`), { status: 'failed' }));
      try {
        await h.clock.advance(24 * H);
        await h.tick();
        expect(calls).to.deep.equal(['web 2026-03-02T03:00:00.000Z']);
        expect(h.logger.text()).to.include('scheduled DR test of plan web: failed');
      } finally {
        unregister();
      }
    });

    it('reports a DR test missed by more than the grace while it ran (not before), and does not start it', async () => {
      const calls: string[] = [];
      h = await harness({ start: '2026-03-01T02:30:00Z', settings: { drtest: { ...SETTINGS.drtest, schedules } }, drTest: async (r) => (calls.push(r.plan), { status: 'succeeded' }) });
      await addPlan(h.repo, 'web');
      await h.tick(); // yesterday's 03:00 was before this daemon: not reported
      h.setLeader(false); // no leader from 03:00 to 04:30
      await h.clock.advance(2 * H);
      h.setLeader(true);
      await h.tick();
      await h.tick();
      expect(calls).to.deep.equal([]);
      expect(h.events.filter((e) => e.startsWith('drtest'))).to.deep.equal(['drtest web missed 2026-03-01T03:00:00.000Z']);
      expect(h.logger.text()).to.include('was missed by more than misfire_grace; skipped (next 2026-03-02T03:00:00.000Z)');
    });
  });

  describe('stopping', () => {
    it('aborts the work, waits for it, and returns what did not stop in time', async () => {
      h = await harness();
      await addPlan(h.repo, 'web');
      await addPlan(h.repo, 'db');
      await h.tick();
      expect(h.cycles).to.have.length(2);
      // web stops at its next journal boundary when aborted; db ignores the abort
      const web = h.cycles.find((c) => c.plan === 'web')!;
      web.ctx.signal.addEventListener('abort', () => web.resolve({ runId: 'r', status: 'failed', error: 'cancelled' } as CycleResult));
      const stopped = h.scheduler.stop(5_000);
      await flush();
      expect(h.cycles.every((c) => c.ctx.signal.aborted)).to.equal(true);
      await h.clock.advance(5_000);
      expect(await stopped).to.deep.equal(['replicate:db']);
      expect(h.logger.text()).not.to.include('took'); // an aborted cycle is not "slow"
      await h.tick();
      expect(h.cycles).to.have.length(2);
    });

    it('ticks on its clock every tick_interval once started', async () => {
      h = await harness({ loop: true });
      await addPlan(h.repo, 'web', { rpoMs: H });
      const p = await h.repo.points.insert({ planName: 'web', consistency: 'crash', createdAt: new Date(h.clock.t) });
      await h.repo.points.complete(p.id, { apiVersion: 'ferry.recoverypoint/v1' }, 0);
      await h.clock.advance(30 * M - 10_000);
      expect(h.cycles).to.have.length(0);
      await h.clock.advance(10_000);
      expect(h.cycles).to.have.length(1);
    });
  });
});
