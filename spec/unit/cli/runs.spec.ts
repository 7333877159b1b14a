// `ferry runs list|show` and `ferry resume` end to end over a SQLite file: runs made by the
// engine (one crashed), one replicate run journaled the way runReplicationCycle does.
import { drTestRegistration } from '../../../lib/workflows/drtest.js';
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogRepo, type JournalEntry, type JournalInput } from '../../../lib/catalog/repo.js';
import { run } from '../../../lib/cli/main.js';
import { describeEntry } from '../../../lib/cli/runs.js';
import { formatDuration } from '../../../lib/config/protection-plan.js';
import { defineWorkflow, registerWorkflow, startRun, type Workflow } from '../../../lib/workflows/engine.js';

async function ferry(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A DR test in miniature: an isolated network, then a server in it; creates are counted. */
class Bubble {
  networks: string[] = [];
  servers: string[] = [];
}

type DrState = { network?: string; server?: string };

function drtest(b: Bubble): Workflow<DrState> {
  return defineWorkflow<DrState>('drtest', [
    {
      name: 'bubble',
      describe: 'create the isolated test network at the secondary',
      action: 'create',
      observe: (ctx) => {
        const found = b.networks.find((n) => n === `bubble-${ctx.run.id}`);
        if (found) ctx.state.network = found;
        return { done: found !== undefined };
      },
      act: (ctx) => {
        ctx.state.network = `bubble-${ctx.run.id}`;
        b.networks.push(ctx.state.network);
        return { network: ctx.state.network };
      },
      verify: (ctx) => ({ ok: b.networks.includes(ctx.state.network ?? '') }),
    },
    {
      name: 'boot',
      describe: 'boot the recovered server in the test network',
      action: 'create',
      observe: (ctx) => ({ done: b.servers.includes(`web-1@${ctx.state.network}`) }),
      act: (ctx) => {
        b.servers.push(`web-1@${ctx.state.network}`);
      },
      verify: (ctx) => ({ ok: b.servers.includes(`web-1@${ctx.state.network}`), detail: { server: `web-1@${ctx.state.network}` } }),
    },
  ]);
}

class Crash extends Error {}

const T0 = Date.parse('2026-11-27T03:00:00.000Z');
const clock = () => {
  let t = T0;
  return () => new Date((t += 1000));
};

describe('ferry runs and ferry resume', () => {
  // Importing the CLI registers the real drtest workflow (for ferry resume); these tests
  // register their own under that kind, so the real one steps aside.
  before(() => drTestRegistration.unregister());
  after(() => drTestRegistration.register());
  let dir: string;
  let url: string;
  let catalog: Catalog;
  let repo: CatalogRepo;
  let bubble: Bubble;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-runs-cli-'));
    url = `sqlite://${join(dir, 'catalog.db')}`;
    catalog = await openCatalog(url);
    const now = clock();
    repo = new CatalogRepo(catalog, { now });
    for (const name of ['web', 'db']) await repo.plans.upsert({ name, project: 'shop', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 900_000, spec: { name } });
    bubble = new Bubble();

    // a finished DR test of web
    await startRun(repo, drtest(bubble), { planName: 'web', owner: 'daemon-1', runId: 'test-1', now });
    // a DR test of db whose process died after the bubble step was done (entries: run, 4 of bubble)
    const crashing = new CatalogRepo(catalog, { now });
    const append = crashing.journal.append.bind(crashing.journal);
    let n = 0;
    crashing.journal.append = async (id: string, e: JournalInput): Promise<JournalEntry> => {
      const entry = await append(id, e);
      if (++n === 5) throw new Crash('killed');
      return entry;
    };
    const crashed = await startRun(crashing, drtest(bubble), { planName: 'db', owner: 'daemon-1', runId: 'test-2', now }).catch((e: unknown) => e);
    expect(crashed).to.be.instanceOf(Crash);
    // a replicate run journaled like runReplicationCycle, still running
    await repo.runs.create({ planName: 'web', kind: 'replicate', owner: 'daemon-1', id: 'rep-1', startedAt: new Date(T0 + 60_000), params: { pointId: 'p-1', cycle: 3 } });
    await repo.journal.append('rep-1', { step: 'cycle', phase: 'observe', data: { resumed: false, pointId: 'p-1', cycle: 3 }, at: new Date(T0 + 60_000) });
    await repo.journal.append('rep-1', { step: 'discover', phase: 'act', at: new Date(T0 + 61_000) });
    await repo.journal.append('rep-1', { step: 'discover', phase: 'done', data: { servers: 1, volumes: 2 }, at: new Date(T0 + 62_000) });
  });

  afterEach(async () => {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('runs list', () => {
    it('lists runs newest first with their last journal entry', async () => {
      const r = await ferry(['--db', url, 'runs', 'list']);
      expect(r.code, r.err).to.equal(0);
      const lines = r.out.split('\n');
      expect(lines[1]).to.match(/│ ID\s+│ Plan\s+│ Kind\s+│ Status\s+│ Started\s+│ Duration\s+│ Owner\s+│ Epoch\s+│ Last entry\s+│/);
      const rows = lines.filter((l) => /│ (test-|rep-)/.test(l));
      expect(rows.map((l) => l.split('│')[1]!.trim())).to.deep.equal(['rep-1', 'test-2', 'test-1']);
      expect(rows[0]).to.match(/│ rep-1\s+│ web\s+│ replicate\s+│ running\s+│ 2026-11-27T03:01:00.000Z │ \S+ so far\s+│ daemon-1\s+│ 0\s+│ discover done\s+│/);
      expect(rows[1]).to.match(/│ test-2\s+│ db\s+│ drtest\s+│ running\s+│ .* │ bubble done\s+│/);
      const t1 = (await repo.runs.get('test-1'))!;
      const took = formatDuration(t1.finishedAt!.getTime() - t1.startedAt.getTime());
      expect(rows[2]).to.match(new RegExp(`│ test-1\\s+│ web\\s+│ drtest\\s+│ succeeded\\s+│ ${t1.startedAt.toISOString()} │ ${took}\\s+│ daemon-1\\s+│ 0\\s+│ run done\\s+│`));
    });

    it('filters by plan, kind and status; JSON for scripts', async () => {
      let r = await ferry(['--db', url, 'runs', 'list', '--plan', 'web', '--kind', 'drtest', '-f', 'json']);
      expect(r.code, r.err).to.equal(0);
      const rows = JSON.parse(r.out) as { id: string; status: string; durationMs: number; finishedAt: string | null; lastEntry: string }[];
      const t1 = (await repo.runs.get('test-1'))!;
      expect(rows.map((x) => [x.id, x.status, x.durationMs, x.finishedAt, x.lastEntry])).to.deep.equal([['test-1', 'succeeded', t1.finishedAt!.getTime() - t1.startedAt.getTime(), t1.finishedAt!.toISOString(), 'run done']]);
      r = await ferry(['--db', url, 'runs', 'list', '--status', 'running', '-f', 'json']);
      expect((JSON.parse(r.out) as { id: string }[]).map((x) => x.id)).to.deep.equal(['rep-1', 'test-2']);
      r = await ferry(['--db', url, 'runs', 'list', '--kind', 'failover', '-f', 'json']);
      expect(JSON.parse(r.out)).to.deep.equal([]);
      r = await ferry(['--db', url, 'runs', 'list', '--kind', 'nope']);
      expect(r.code).to.equal(2);
      expect(r.err).to.contain("error: option '--kind <kind>' argument 'nope' is invalid");
    });

    it('names an unknown plan and the fix', async () => {
      const r = await ferry(['--db', url, 'runs', 'list', '--plan', 'nope']);
      expect(r.code).to.equal(1);
      expect(r.err).to.equal("ferry: error: plan 'nope' is not in the catalog (fix: ferry plan list)");
    });
  });

  describe('runs show', () => {
    it('shows the run, its steps and its journal as a timeline', async () => {
      const r = await ferry(['--db', url, 'runs', 'show', 'test-1']);
      expect(r.code, r.err).to.equal(0);
      for (const row of [
        /│ status\s+│ succeeded\s+│/,
        /│ owner\s+│ daemon-1\s+│/,
        /│ duration\s+│ \d+s\s+│/,
        /│ Step\s+│ Status\s+│ Tries\s+│ Duration\s+│ What it does\s+│/,
        /│ bubble\s+│ done\s+│ 1\s+│ \d+s\s+│ create the isolated test network at the secondary\s+│/,
        /│ boot\s+│ done\s+│ 1\s+│ \d+s\s+│ boot the recovered server in the test network\s+│/,
        /│ 1\s+│ 2026-11-27T\S+ │ run\s+│ observe │ started by daemon-1\s+│/,
        /│ 3\s+│ \S+\s+│ bubble │ act\s+│ {"network":"bubble-test-1"}; state: network\s+│/,
        /│ 8\s+│ \S+\s+│ boot\s+│ verify\s+│ ok; {"server":"web-1@bubble-test-1"}\s+│/,
        /│ 10\s+│ \S+\s+│ run\s+│ done\s+│ succeeded\s+│/,
      ]) {
        expect(r.out).to.match(row);
      }
      expect(r.out).to.not.contain('ferry resume');
    });

    it('shows a running run with the resume hint, and a replicate run from its own journal', async () => {
      let r = await ferry(['--db', url, 'runs', 'show', 'test-2']);
      expect(r.out).to.match(/│ boot\s+│ pending\s+│ 0\s+│\s+│ boot the recovered server in the test network\s+│/);
      expect(r.out.split('\n').at(-1)).to.equal('If its process is gone: ferry resume test-2');
      r = await ferry(['--db', url, 'runs', 'show', 'rep-1']);
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.match(/│ cycle\s+│ in-progress\s+│ 1\s+│/);
      expect(r.out).to.match(/│ discover\s+│ done\s+│ 1\s+│ 1s\s+│/);
      expect(r.out).to.match(/│ 1\s+│ 2026-11-27T03:01:00.000Z │ cycle\s+│ observe │ {"pointId":"p-1","cycle":3}\s+│/);
      expect(r.out).to.match(/│ 3\s+│ 2026-11-27T03:01:02.000Z │ discover │ done\s+│ {"servers":1,"volumes":2}\s+│/);
    });

    it('gives the run and its whole journal as JSON; an unknown run is an error', async () => {
      let r = await ferry(['--db', url, 'runs', 'show', 'test-1', '-f', 'json']);
      const doc = JSON.parse(r.out) as { run: { id: string; status: string; result: { state: object } }; steps: { name: string }[]; journal: { seq: number; step: string; phase: string; data: unknown }[] };
      expect(doc.run).to.include({ id: 'test-1', status: 'succeeded' });
      expect(doc.run.result.state).to.deep.equal({ network: 'bubble-test-1' });
      expect(doc.steps.map((s) => s.name)).to.deep.equal(['bubble', 'boot']);
      expect(doc.journal.map((e) => `${e.seq} ${e.step} ${e.phase}`)).to.deep.equal((await repo.journal.read('test-1')).map((e) => `${e.seq} ${e.step} ${e.phase}`));
      r = await ferry(['--db', url, 'runs', 'show', 'nope']);
      expect(r.code).to.equal(1);
      expect(r.err).to.equal("ferry: error: run 'nope' is not in the catalog (fix: ferry runs list)");
    });
  });

  describe('resume', () => {
    it('continues a crashed run with its registered workflow: done steps skipped, nothing made twice', async () => {
      const unregister = registerWorkflow('drtest', () => drtest(bubble));
      try {
        const r = await ferry(['--db', url, 'resume', 'test-2']);
        expect(r.code, r.err).to.equal(0);
        expect(r.err.split('\n')).to.deep.equal([
          `ferry: run observe: resumed by cli@${hostname()} (taken over from daemon-1)`,
          'ferry: bubble: skipped (done before the resume)',
          'ferry: boot observe: to do',
          'ferry: boot act',
          'ferry: boot verify: ok; {"server":"web-1@bubble-test-2"}',
          'ferry: boot done',
          'ferry: run done: succeeded',
        ]);
        expect(r.out).to.match(/│ status\s+│ succeeded\s+│/);
        expect(r.out).to.match(/│ boot\s+│ done\s+│ 1\s+│/);
        expect(bubble.networks).to.deep.equal(['bubble-test-1', 'bubble-test-2']);
        expect(bubble.servers).to.deep.equal(['web-1@bubble-test-1', 'web-1@bubble-test-2']);
        const after = (await repo.runs.get('test-2'))!;
        expect([after.status, after.owner]).to.deep.equal(['succeeded', `cli@${hostname()}`]);
      } finally {
        unregister();
      }
    });

    it('says when no workflow is registered for the kind, and refuses a finished run', async () => {
      let r = await ferry(['--db', url, 'resume', 'rep-1']);
      expect(r.code).to.equal(1);
      expect(r.err).to.equal("ferry: error: no resumable workflow registered for kind replicate (a replicate run is resumed by the plan's next cycle: ferry replicate web)");
      r = await ferry(['--db', url, 'resume', 'test-2']);
      expect(r.err).to.equal('ferry: error: no resumable workflow registered for kind drtest');
      r = await ferry(['--db', url, 'resume', 'test-1']);
      expect(r.code).to.equal(1);
      expect(r.err).to.match(/^ferry: error: run 'test-1' \(drtest of plan 'web'\) finished succeeded at 2026-11-27T\S+; a finished run is not resumed: start a new drtest$/);
      expect((await repo.runs.get('test-2'))!.status).to.equal('running');
    });
  });

  describe('describeEntry', () => {
    it('puts an entry in a few words', () => {
      const table: [Pick<JournalEntry, 'step' | 'phase' | 'data'>, string][] = [
        [{ step: 'run', phase: 'observe', data: { resumed: false, owner: 'd1', steps: [] } }, 'started by d1'],
        [{ step: 'run', phase: 'observe', data: { resumed: true, owner: 'd2', previousOwner: 'd1' } }, 'resumed by d2 (taken over from d1)'],
        [{ step: 'stack', phase: 'observe', data: { attempt: 1, done: false, summary: 'stack web-dr absent', ms: 20 } }, 'to do; stack web-dr absent'],
        [{ step: 'stack', phase: 'act', data: { attempt: 2, result: { stackId: 's-1' }, state: { stackId: 's-1' } } }, 'try 2; {"stackId":"s-1"}; state: stackId'],
        [{ step: 'stack', phase: 'verify', data: { attempt: 1, ok: false, reason: 'stack is CREATE_IN_PROGRESS' } }, 'not ok; stack is CREATE_IN_PROGRESS'],
        [{ step: 'stack', phase: 'act', data: { attempt: 1, error: 'orchestration: POST /stacks returned 503' } }, 'orchestration: POST /stacks returned 503'],
        [{ step: 'stack', phase: 'done', data: { attempts: 3 } }, 'after 3 tries'],
        [{ step: 'stack', phase: 'failed', data: { attempt: 1, aborted: true, error: 'SIGTERM' } }, 'interrupted; SIGTERM'],
        [{ step: 'stack', phase: 'failed', data: { fenced: true, runEpoch: 0, planEpoch: 1, error: 'fenced: long text' } }, 'fenced: run epoch 0, plan epoch 1'],
        [{ step: 'discover', phase: 'act', data: null }, ''],
        [{ step: 'cycle', phase: 'failed', data: { aborted: true, error: 'x' } }, 'interrupted; x'],
      ];
      for (const [entry, want] of table) expect(describeEntry(entry), JSON.stringify(entry)).to.equal(want);
    });
  });
});
