// `ferry standby PLAN` through its register function over a SQLite catalog: the refusals that
// come before any site is opened (tier, a plan running at its secondary, an unknown plan), the
// usage errors, and the outcome rendered as a table or JSON.
import { expect } from 'chai';
import { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCatalog } from '../../../lib/catalog/db.js';
import { CatalogRepo, type Tier } from '../../../lib/catalog/repo.js';
import { registerStandby, renderStandby } from '../../../lib/cli/standby.js';
import { silentLogger } from '../../../lib/log.js';
import type { StandbyOutcome } from '../../../lib/workflows/standby.js';

describe('cli: ferry standby', () => {
  let dir: string;
  let db: string;

  async function seed(tier: Tier, activeSite = 'site-a'): Promise<void> {
    const catalog = await openCatalog(db);
    try {
      const repo = new CatalogRepo(catalog);
      await repo.plans.upsert({ name: 'web', project: 'shop', primarySite: 'site-a', secondarySite: 'site-b', tier, rpoMs: 900_000, spec: { name: 'web' } });
      if (activeSite !== 'site-a') await repo.plans.bumpEpoch('web', 0, { activeSite });
    } finally {
      await catalog.close();
    }
  }

  /** The command as main.ts runs it: commander's usage errors exit 2, other errors print and exit 1. */
  async function ferry(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    let code = 0;
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
    const program = new Command('ferry').exitOverride().configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
    registerStandby(program, {
      io,
      setExit: (c) => {
        code = c;
      },
      logger: () => silentLogger,
      clouds: () => ({ env: { OS_CLIENT_CONFIG_FILE: join(dir, 'no-clouds.yaml') } }),
      dbUrl: () => db,
    });
    try {
      await program.parseAsync(args, { from: 'user' });
    } catch (e) {
      const c = (e as { code?: string }).code;
      if (typeof c === 'string' && c.startsWith('commander.')) code = 2;
      else {
        io.err(`ferry: error: ${(e as Error).message}`);
        code = 1;
      }
    }
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-cli-standby-'));
    db = `sqlite://${join(dir, 'catalog.db')}`;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a plan of another tier, with and without --dry-run, before opening any site', async () => {
    await seed('pilot-light');
    for (const args of [['standby', 'web'], ['standby', 'web', '--dry-run']]) {
      const r = await ferry(...args);
      expect(r.code).to.equal(1);
      expect(r.out).to.equal('');
      expect(r.err).to.match(/^ferry: error: plan 'web' is tier pilot-light: only warm-standby plans keep a standby stack at the secondary; nothing was changed \(fix: /);
    }
  });

  it('refuses a plan that runs at its secondary: the stack there is production', async () => {
    await seed('warm-standby', 'site-b');
    const r = await ferry('standby', 'web');
    expect(r.code).to.equal(1);
    expect(r.err).to.include("plan 'web' is active at site-b (epoch 1): the stack there runs production");
    expect(r.err).to.include('ferry failback web');
  });

  it('an unknown plan names the fix; a bad --stack-timeout is a usage error (exit 2)', async () => {
    await seed('warm-standby');
    const r = await ferry('standby', 'nope');
    expect(r.code).to.equal(1);
    expect(r.err).to.include('nope');
    expect(r.err).to.include('ferry plan apply FILE');
    const bad = await ferry('standby', 'web', '--stack-timeout', '0');
    expect(bad.code).to.equal(2);
    expect(bad.err).to.include('must be a positive whole number of minutes');
  });

  describe('renderStandby', () => {
    const made: StandbyOutcome = {
      status: 'succeeded',
      planName: 'web',
      site: 'site-b',
      runId: 'run-1',
      action: 'updated',
      pointId: 'pt-2',
      previousPointId: 'pt-1',
      stackName: 'ferry-web-standby',
      stackId: 'st-1',
      volumeCount: 1,
      volumes: [{ resource: 'volume_0123456789ab', id: 'vol-1', status: 'available' }],
      elapsedMs: 61_000,
    };

    it('a table of fields, then the volumes', () => {
      const text = renderStandby(made, 'table');
      expect(text).to.match(/│ Action +│ updated +│/);
      expect(text).to.match(/│ Point +│ pt-2 +│/);
      expect(text).to.match(/│ Previous point │ pt-1 +│/);
      expect(text).to.match(/│ Stack +│ ferry-web-standby \(st-1\) at site-b │/);
      expect(text).to.match(/│ Took +│ 1m1s \(61000 ms\) +│/);
      expect(text).to.match(/│ volume_0123456789ab │ vol-1 │ available │/);
      expect(text).to.not.include('Interrupted');
    });

    it('JSON with nulls for what is unknown; up to date and interrupted read as such', () => {
      const current: StandbyOutcome = { status: 'current', planName: 'web', site: 'site-b', action: 'none', pointId: 'pt-2', previousPointId: 'pt-2', stackName: 'ferry-web-standby', stackId: 'st-1' };
      expect(JSON.parse(renderStandby(current, 'json'))).to.deep.equal({
        plan: 'web',
        site: 'site-b',
        status: 'current',
        action: 'none',
        runId: null,
        pointId: 'pt-2',
        previousPointId: 'pt-2',
        stackName: 'ferry-web-standby',
        stackId: 'st-1',
        volumes: [],
        elapsedMs: null,
        error: null,
      });
      expect(renderStandby(current, 'table')).to.match(/│ Action +│ none \(up to date\) +│/);
      const stopped = renderStandby({ ...made, status: 'interrupted', error: 'aborted' }, 'table');
      expect(stopped).to.match(/│ Error +│ aborted +│/);
      expect(stopped).to.include('Interrupted: the run stays running (fix: ferry resume run-1, or ferry standby web again)');
    });
  });
});
