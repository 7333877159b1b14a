// The failover benchmark's parts that need no lab: its command line, statistics and ratios,
// the hand-written Heat template and its parameters, the runbook's exact command sequence
// (through a fake `openstack`), the Ferry hook's "not available" detection, and the
// generation hook. The lab run itself is `npm run bench:failover`.
import { expect } from 'chai';
import { parse } from 'yaml';
import { Cleanup } from '../../lab/support/lab.js';
import { FerryNotWiredError, loadFailureReason, measureFerry, probeFailover, type FerryContext } from '../../bench/failover/ferry.js';
import type { Fixture } from '../../bench/failover/fixture.js';
import { measureGeneration } from '../../bench/failover/generation.js';
import { HEAT_ALONE_SLOTS, RESOURCES_PER_SERVER, heatAloneParameters, heatAloneTemplate, serversOfStack } from '../../bench/failover/heat-alone.js';
import {
  MAX_SERVERS,
  PARTS,
  TARGETS,
  UsageError,
  addSteps,
  needsLab,
  parseBenchArgs,
  ratioLines,
  ratios,
  roundFigures,
  stepLines,
  summarize,
  wallTimeTable,
} from '../../bench/failover/report.js';
import { RESTORE_OUTPUT_BUG, runRunbook, runbookNames, type Cli } from '../../bench/failover/runbook.js';

const fixture: Fixture = {
  cloud: 'lab-b',
  prefix: 'ferry-bench-t1',
  runTag: 'ferry-bench-t1',
  networkId: 'net-1',
  subnetId: 'subnet-1',
  flavor: { id: '1', name: 'm1.tiny' },
  image: { id: 'img-1', name: 'lab-tiny' },
  servers: [
    { index: 1, backupId: 'bk-1' },
    { index: 2, backupId: 'bk-2' },
  ],
  setupSeconds: 10,
};

function usageError(argv: string[]): string {
  try {
    parseBenchArgs(argv);
  } catch (err) {
    expect(err).to.be.instanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

describe('bench:failover', () => {
  describe('command line', () => {
    it('defaults to 5 servers, 1 run, lab-b, every part, generation at 1,000 and 5,000', () => {
      expect(parseBenchArgs([])).to.deep.equal({ servers: 5, runs: 1, cloud: 'lab-b', only: [...PARTS], generate: [1000, 5000], help: false });
    });

    it('takes servers, runs, a JSON path, a cloud, a subset of parts (in canonical order) and generation sizes', () => {
      expect(parseBenchArgs(['--servers', '3', '--runs', '4', '--json', 'out/f.json', '--cloud', 'lab-b-demo', '--only', 'runbook,heat', '--generate', '10,20'])).to.deep.equal({
        servers: 3,
        runs: 4,
        json: 'out/f.json',
        cloud: 'lab-b-demo',
        only: ['heat', 'runbook'],
        generate: [10, 20],
        help: false,
      });
      expect(parseBenchArgs(['-n', '2']).servers).to.equal(2);
    });

    const refused: [string[], RegExp][] = [
      [['--servers', String(MAX_SERVERS + 1)], /--servers must be a whole number from 1 to 5, not "6"/],
      [['--servers', '0'], /--servers must be a whole number from 1 to 5/],
      [['--servers', '2.5'], /--servers/],
      [['--runs', 'x'], /--runs must be a whole number from 1 to 20, not "x"/],
      [['--only', 'heat,magic'], /--only takes a comma-separated list of heat, runbook, ferry, generation; got "heat,magic"/],
      [['--cloud', 'prod'], /--cloud must be one of lab-b, lab-b-demo, lab-a, lab-a-demo, not "prod"/],
      [['--generate', '1000,-5'], /--generate must be a whole number/],
      [['--verbose'], /Unknown option '--verbose'/],
      [['5'], /Unexpected argument '5'/],
    ];
    for (const [argv, why] of refused) {
      it(`refuses ${argv.join(' ')}`, () => {
        expect(usageError(argv)).to.match(why);
      });
    }

    it('needs the lab for everything but generation', () => {
      expect(needsLab(['generation'])).to.equal(false);
      expect(needsLab(['ferry'])).to.equal(true);
      expect(needsLab(['generation', 'heat'])).to.equal(true);
    });
  });

  describe('statistics and ratios', () => {
    it('summarizes runs as min, median and max (mean of the middle two for an even count)', () => {
      expect(summarize([])).to.equal(undefined);
      expect(summarize([61])).to.deep.equal({ seconds: [61], min: 61, median: 61, max: 61 });
      expect(summarize([65, 61, 63])).to.deep.equal({ seconds: [65, 61, 63], min: 61, median: 63, max: 65 });
      expect(summarize([70, 60, 64, 62])).to.deep.equal({ seconds: [70, 60, 64, 62], min: 60, median: 63, max: 70 });
    });

    it('gives runbook over Heat whenever both ran, and the Ferry ratios only when Ferry ran', () => {
      const heat = summarize([60])!;
      const runbook = summarize([205])!;
      expect(ratios({ heat, runbook })).to.deep.equal({ runbookOverHeat: 205 / 60 });
      expect(ratios({ heat })).to.deep.equal({});
      const ferry = summarize([63])!;
      expect(ratios({ heat, runbook, ferry })).to.deep.equal({ runbookOverHeat: 205 / 60, ferryOverHeat: 63 / 60, runbookOverFerry: 205 / 63 });
      expect(ratios({ heat: summarize([0])!, ferry })).to.deep.equal({}, 'no division by a zero median');
    });

    it('states each target and whether it is met', () => {
      expect(ratioLines({ runbookOverHeat: 3.4166 })).to.deep.equal(['runbook / Heat alone: 3.42× (Heat alone is 3.42× faster than the runbook)']);
      const met = ratioLines({ ferryOverHeat: 1.05, runbookOverFerry: 3.25 });
      expect(met).to.deep.equal([
        `Ferry / Heat alone: 1.05× (target at most ${TARGETS.ferryOverHeatMax.toFixed(2)}×: met)`,
        'runbook / Ferry: 3.25× (target at least 3.00×: met)',
      ]);
      const missed = ratioLines({ ferryOverHeat: 1.2, runbookOverFerry: 2.5 });
      expect(missed[0]).to.contain('NOT met');
      expect(missed[1]).to.contain('NOT met');
    });

    it('prints a Markdown table with a row per approach asked for, "not measured" where there is no figure', () => {
      const table = wallTimeTable(5, [
        { label: 'Heat alone', outcome: { measured: true, summary: summarize([61.23, 64.9])! } },
        { label: 'runbook', outcome: { measured: true, summary: summarize([205.4])! } },
        { label: 'Ferry failover', outcome: { measured: false, reason: 'lib/workflows/failover.ts not available' } },
        { label: 'not asked', outcome: undefined },
      ]);
      expect(table.split('\n')).to.deep.equal([
        '| approach (5 servers) | runs | min | median | max |',
        '|---|---|---|---|---|',
        '| Heat alone | 2 | 61.2 s | 63.1 s | 64.9 s |',
        '| runbook | 1 | 205 s | 205 s | 205 s |',
        '| Ferry failover | 0 | not measured | | |',
      ]);
    });

    it('adds step totals across runs and rounds figures for the JSON', () => {
      const total = addSteps({}, { 'port create': { count: 5, seconds: 12.5 } });
      addSteps(total, { 'port create': { count: 5, seconds: 13 }, 'server add volume': { count: 5, seconds: 20 } });
      expect(total).to.deep.equal({ 'port create': { count: 10, seconds: 25.5 }, 'server add volume': { count: 5, seconds: 20 } });
      expect(stepLines({ 'port create': { count: 15, seconds: 66 }, 'wait volume available': { count: 38, seconds: 162.6 } }, 3)).to.deep.equal([
        '  wait volume available       12.7 commands  54.2 s',
        '  port create                    5 commands  22.0 s',
      ]);
      expect(roundFigures({ a: 61.23456, b: [1.00049, 3], c: 'x' })).to.deep.equal({ a: 61.235, b: [1, 3], c: 'x' });
    });
  });

  describe('heat-alone.yaml', () => {
    const template = parse(heatAloneTemplate()) as {
      parameters: Record<string, unknown>;
      conditions: Record<string, unknown>;
      resources: Record<string, { type: string; condition?: string; properties: Record<string, unknown>; depends_on?: unknown }>;
    };

    it('declares, per server slot, a port, a volume restored from that slot\'s backup, a server on the port and an attachment, and nothing else', () => {
      expect(Object.keys(template.resources)).to.have.length(HEAT_ALONE_SLOTS * RESOURCES_PER_SERVER);
      for (let i = 1; i <= HEAT_ALONE_SLOTS; i++) {
        const r = (name: string) => template.resources[`${name}_${i}`]!;
        expect(template.conditions[`with_server_${i}`]).to.deep.equal({ not: { equals: [{ get_param: `backup_${i}` }, ''] } });
        expect([r('port').type, r('volume').type, r('server').type, r('attachment').type]).to.deep.equal(['OS::Neutron::Port', 'OS::Cinder::Volume', 'OS::Nova::Server', 'OS::Cinder::VolumeAttachment']);
        for (const name of ['port', 'volume', 'server', 'attachment']) expect(r(name).condition, `${name}_${i}`).to.equal(`with_server_${i}`);
        expect(r('port').properties.network).to.deep.equal({ get_param: 'network' });
        expect(r('port').properties.fixed_ips).to.deep.equal([{ subnet: { get_param: 'subnet' } }]);
        expect(r('volume').properties.backup_id).to.deep.equal({ get_param: `backup_${i}` });
        expect(r('volume').properties, 'the size comes from the backup').to.not.have.property('size');
        expect(r('server').properties.networks).to.deep.equal([{ port: { get_resource: `port_${i}` } }]);
        expect(r('server').properties.flavor).to.deep.equal({ get_param: 'flavor' });
        expect(r('server').properties.image).to.deep.equal({ get_param: 'image' });
        expect(r('attachment').properties).to.deep.equal({ instance_uuid: { get_resource: `server_${i}` }, volume_id: { get_resource: `volume_${i}` } });
      }
    });

    it('has no ordering Heat would not infer itself (no depends_on), so it runs as parallel as Heat allows', () => {
      expect(Object.entries(template.resources).filter(([, r]) => r.depends_on !== undefined)).to.deep.equal([]);
    });

    it('takes exactly the parameters the benchmark sets, with one backup per server and empty slots left out', () => {
      const params = heatAloneParameters(fixture);
      expect(params).to.deep.equal({ prefix: 'ferry-bench-t1', run_tag: 'ferry-bench-t1', network: 'net-1', subnet: 'subnet-1', flavor: '1', image: 'img-1', backup_1: 'bk-1', backup_2: 'bk-2' });
      for (const k of Object.keys(params)) expect(template.parameters, k).to.have.property(k);
      for (let i = 3; i <= HEAT_ALONE_SLOTS; i++) expect(template.parameters[`backup_${i}`]).to.include({ default: '' });
    });

    it('refuses more servers than the template has slots, or a slot outside them', () => {
      const six = Array.from({ length: 6 }, (_, i) => ({ index: i + 1, backupId: `bk-${i}` }));
      expect(() => heatAloneParameters({ ...fixture, servers: six })).to.throw(/declares 5 servers; the fixture has 6/);
      expect(() => heatAloneParameters({ ...fixture, servers: [{ index: 7, backupId: 'x' }] })).to.throw(/server index 7 is outside heat-alone.yaml's slots 1-5/);
    });

    it('reads servers and volumes of a complete stack by slot', () => {
      const resources = [
        { resource_name: 'server_2', physical_resource_id: 's2' },
        { resource_name: 'volume_2', physical_resource_id: 'v2' },
        { resource_name: 'server_1', physical_resource_id: 's1' },
        { resource_name: 'volume_1', physical_resource_id: 'v1' },
        { resource_name: 'port_1', physical_resource_id: 'p1' },
      ];
      expect(serversOfStack(resources, [1, 2])).to.deep.equal([
        { index: 1, serverId: 's1', volumeId: 'v1' },
        { index: 2, serverId: 's2', volumeId: 'v2' },
      ]);
      expect(() => serversOfStack(resources, [3])).to.throw(/no server_3 or volume_3/);
    });
  });

  describe('the runbook', () => {
    /** A fake `openstack`: records every command, answers from a script of statuses. */
    function fakeCli(o: { statuses?: string[]; restoreBug?: boolean } = {}) {
      const calls: string[] = [];
      const statuses = [...(o.statuses ?? [])];
      let n = 0;
      const cli: Cli = async (args) => {
        calls.push(args.join(' '));
        const [a, b, c] = args;
        if (a === 'port' && b === 'create') return `port-${++n}`;
        if (a === 'volume' && b === 'backup' && c === 'restore') {
          if (o.restoreBug) throw new Error(`openstack ${args.join(' ')} failed: cannot unpack non-iterable VolumeBackupsRestore object`);
          return `vol-${args[args.length - 2]}`;
        }
        if (a === 'volume' && b === 'show' && args.includes('id')) return `vol-by-name-${args[args.length - 1]}`;
        if (a === 'volume' && b === 'show') return statuses.shift() ?? 'unexpected';
        if (a === 'server' && b === 'create') return `srv-${args[args.length - 1]}`;
        if (a === 'server' && b === 'add') return '';
        throw new Error(`unexpected command ${args.join(' ')}`);
      };
      return { cli, calls };
    }
    const clock = () => {
      let t = 0;
      return () => (t += 500);
    };
    const noPause = async () => {};

    it('runs the documented commands one after another, server by server, polling each volume until available and then in-use', async () => {
      const { cli, calls } = fakeCli({ statuses: ['creating', 'restoring-backup', 'available', 'attaching', 'in-use', 'available', 'in-use'] });
      const created: string[] = [];
      const pauses: number[] = [];
      const res = await runRunbook(fixture, { cli, run: 1, created: (k, id) => created.push(`${k} ${id}`), pause: async (ms) => void pauses.push(ms), now: clock() });
      const n1 = runbookNames(fixture.prefix, 1, 1);
      const n2 = runbookNames(fixture.prefix, 1, 2);
      expect(n1).to.deep.equal({ port: 'ferry-bench-t1-runbook-1-port-1', volume: 'ferry-bench-t1-runbook-1-volume-1', server: 'ferry-bench-t1-runbook-1-server-1' });
      const show = (id: string) => `volume show -f value -c status ${id}`;
      expect(calls).to.deep.equal([
        `port create --network net-1 --fixed-ip subnet=subnet-1 --tag ferry-bench-t1 -f value -c id ${n1.port}`,
        `volume backup restore -f value -c volume_id bk-1 ${n1.volume}`,
        show('vol-bk-1'),
        show('vol-bk-1'),
        show('vol-bk-1'),
        `server create --flavor 1 --image img-1 --port port-1 --property ferry-bench=ferry-bench-t1 --wait -f value -c id ${n1.server}`,
        `server add volume srv-${n1.server} vol-bk-1`,
        show('vol-bk-1'),
        show('vol-bk-1'),
        `port create --network net-1 --fixed-ip subnet=subnet-1 --tag ferry-bench-t1 -f value -c id ${n2.port}`,
        `volume backup restore -f value -c volume_id bk-2 ${n2.volume}`,
        show('vol-bk-2'),
        `server create --flavor 1 --image img-1 --port port-2 --property ferry-bench=ferry-bench-t1 --wait -f value -c id ${n2.server}`,
        `server add volume srv-${n2.server} vol-bk-2`,
        show('vol-bk-2'),
      ]);
      expect(created).to.deep.equal(['port port-1', 'volume vol-bk-1', `server srv-${n1.server}`, 'port port-2', 'volume vol-bk-2', `server srv-${n2.server}`]);
      expect(pauses).to.deep.equal([1000, 1000, 1000], 'a pause after each status that is not yet the wanted one');
      expect(res.commands).to.equal(calls.length);
      expect(res.servers.map((s) => s.serverId)).to.deep.equal([`srv-${n1.server}`, `srv-${n2.server}`]);
      expect(res.steps['wait volume available']?.count).to.equal(4);
      expect(res.steps['wait volume in-use']?.count).to.equal(3);
      expect(res.steps['port create']).to.deep.equal({ count: 2, seconds: 1 }, 'each command costs one clock tick (0.5 s) in this fake');
      expect(res.seconds).to.be.greaterThan(0);
    });

    it('gets past python-openstackclient 6.0.0\'s restore output bug by finding the new volume by name', async () => {
      expect(RESTORE_OUTPUT_BUG.test('cannot unpack non-iterable VolumeBackupsRestore object')).to.equal(true);
      const { cli, calls } = fakeCli({ restoreBug: true, statuses: ['available', 'in-use', 'available', 'in-use'] });
      const created: string[] = [];
      const res = await runRunbook(fixture, { cli, run: 2, created: (k, id) => created.push(`${k} ${id}`), pause: noPause, now: clock() });
      const name = runbookNames(fixture.prefix, 2, 1).volume;
      expect(calls.slice(1, 4)).to.deep.equal([`volume backup restore -f value -c volume_id bk-1 ${name}`, `volume show -f value -c id ${name}`, `volume show -f value -c status vol-by-name-${name}`]);
      expect(created[1]).to.equal(`volume vol-by-name-${name}`);
      expect(res.steps['volume show (ID by name)']?.count).to.equal(2);
    });

    it('stops on any other CLI failure, and on a volume that goes to error, after registering what it made', async () => {
      const failing: Cli = async (args) => {
        if (args[0] === 'port') return 'port-1';
        throw new Error('openstack volume backup restore failed: Invalid backup: Backup status must be available');
      };
      const created: string[] = [];
      let err = await runRunbook(fixture, { cli: failing, run: 1, created: (k, id) => created.push(`${k} ${id}`), pause: noPause }).catch((e: Error) => e);
      expect((err as Error).message).to.contain('Backup status must be available');
      expect(created).to.deep.equal(['port port-1']);

      const { cli } = fakeCli({ statuses: ['restoring-backup', 'error_restoring'] });
      err = await runRunbook(fixture, { cli, run: 1, created: () => {}, pause: noPause }).catch((e: Error) => e);
      expect((err as Error).message).to.equal('runbook: volume vol-bk-1 went to error_restoring while waiting for available');
    });

    it('gives up polling after its timeout', async () => {
      const { cli } = fakeCli({ statuses: Array(50).fill('restoring-backup') });
      const err = await runRunbook(fixture, { cli, run: 1, created: () => {}, pause: noPause, now: clock(), timeoutMs: 5_000 }).catch((e: Error) => e);
      expect((err as Error).message).to.equal('runbook: volume vol-bk-1 not available after 5 s (last restoring-backup)');
    });
  });

  describe("Ferry's failover hook", () => {
    const notFound = (url: string, from: string) =>
      Object.assign(new Error(`Cannot find module '${url.replace('file://', '')}' imported from ${from}`), { code: 'ERR_MODULE_NOT_FOUND', url });

    it('calls a missing lib/workflows/failover.ts "not available", and a module that exists but does not load a load failure', () => {
      expect(loadFailureReason(notFound('file:///work/main/lib/workflows/failover.js', '/work/main/spec/bench/failover/ferry.ts'))).to.equal('lib/workflows/failover.ts not available');
      expect(loadFailureReason(Object.assign(new Error("Cannot find module '/x/lib/workflows/failover.ts' imported from /x/y.ts"), { code: 'ERR_MODULE_NOT_FOUND' }))).to.equal('lib/workflows/failover.ts not available');
      expect(loadFailureReason(notFound('file:///work/main/lib/workflows/failover-steps.js', '/work/main/lib/workflows/failover.ts'))).to.equal(
        "lib/workflows/failover.ts failed to load: Cannot find module '/work/main/lib/workflows/failover-steps.js' imported from /work/main/lib/workflows/failover.ts",
      );
      expect(loadFailureReason(new SyntaxError('Unexpected token )\n    at x'))).to.equal('lib/workflows/failover.ts failed to load: Unexpected token )');
    });

    const ctx = (): FerryContext & { lines: string[] } => {
      const lines: string[] = [];
      return { site: {} as FerryContext['site'], run: 1, cleanup: new Cleanup(), log: (l) => lines.push(l), lines };
    };

    it('reports no figure when the module is missing, never calling a runner', async () => {
      let ran = false;
      const m = await measureFerry(fixture, ctx(), {
        load: () => Promise.reject(notFound('file:///w/lib/workflows/failover.js', '/w/spec/bench/failover/ferry.ts')),
        runner: async () => {
          ran = true;
          return { servers: [], remove: async () => {} };
        },
      });
      expect(m).to.deep.equal({ measured: false, reason: 'lib/workflows/failover.ts not available' });
      expect(ran).to.equal(false);
      expect(await probeFailover(() => Promise.reject(notFound('file:///w/lib/workflows/failover.js', '/w/x.ts')))).to.equal('lib/workflows/failover.ts not available');
      expect(await probeFailover(() => Promise.resolve({}))).to.equal(undefined);
    });

    it('reports no figure, naming the exports it found, when the module has no failover() to drive', async () => {
      const m = await measureFerry(fixture, ctx(), { load: async () => ({ planFailover: () => undefined }) });
      expect(m).to.deep.equal({
        measured: false,
        reason: 'lib/workflows/failover.ts is present (exports: planFailover) but has no failover() for spec/bench/failover/ferry.ts (ferryRunner) to drive',
      });
    });

    it('times a wired runner, registers its removal for cleanup and removes what it made', async () => {
      const c = ctx();
      let removed = 0;
      const m = await measureFerry(fixture, c, {
        load: async () => ({ failover: true }),
        runner: async (mod, f) => {
          expect(mod).to.deep.equal({ failover: true });
          expect(f).to.equal(fixture);
          await new Promise((r) => setTimeout(r, 20));
          return { servers: ['a', 'b'], detail: 'run r-1', remove: async () => void removed++ };
        },
      });
      expect(m.measured).to.equal(true);
      expect(m.measured && m.seconds).to.be.within(0.015, 5);
      expect(m.measured && m.detail).to.equal('run r-1');
      expect(removed).to.equal(1);
      await c.cleanup.runAll();
      expect(removed).to.equal(2, 'the cleanup step is the same idempotent removal');
      expect(c.lines[0]).to.match(/^Ferry failover, run 1: 2 servers verified in \d+\.\d s$/);
    });

    it('lets a real failure of the runner through (it is not a missing module)', async () => {
      const err = await measureFerry(fixture, ctx(), { load: async () => ({}), runner: () => Promise.reject(new Error('stack CREATE_FAILED')) }).catch((e: Error) => e);
      expect((err as Error).message).to.equal('stack CREATE_FAILED');
      expect(new FerryNotWiredError('x')).to.be.instanceOf(Error);
    });
  });

  describe('generation hook', () => {
    it('says spec/bench/heat-generate.ts is not available when it is missing, without running anything', async () => {
      let ran = false;
      const g = await measureGeneration([1000, 5000], {
        exists: () => false,
        run: async () => {
          ran = true;
          return { exitCode: 0, stdout: '', stderr: '' };
        },
      });
      expect(g).to.deep.equal({ measured: false, reason: 'spec/bench/heat-generate.ts not available' });
      expect(ran).to.equal(false);
    });

    const report = {
      gcExposed: true,
      loadAverage: 1.5,
      cpus: 2,
      peakRssMiB: 392,
      figures: [
        { servers: 1000, mode: 'failover', ms: 163, cpuMs: 256, heapMiB: 41, resources: 3528, totalResources: 7051, templateMiB: 2.7, parametersMiB: 0.7 },
        { servers: 5000, mode: 'failover', ms: 1134, cpuMs: 1417, heapMiB: 180, resources: 17528, totalResources: 35051, templateMiB: 13.6, parametersMiB: 3.5 },
      ],
    };

    it("runs heat-generate.ts's measure() in a child process with --expose-gc and the sizes, and tabulates its figures", async () => {
      const seen: string[][] = [];
      const g = await measureGeneration([1000, 5000], {
        exists: () => true,
        run: async (_program, args) => {
          seen.push(args);
          return { exitCode: 0, stdout: `${JSON.stringify(report)}\n`, stderr: '' };
        },
      });
      const args = seen[0]!;
      expect(args.slice(-4)).to.deep.equal(['--expose-gc', args.at(-3)!, '1000', '5000']);
      expect(args.at(-3)).to.match(/spec\/bench\/failover\/generation-child\.ts$/);
      expect(g).to.deep.equal({
        measured: true,
        command: 'node --expose-gc --import tsx spec/bench/failover/generation-child.ts 1000 5000',
        exitCode: 0,
        report,
        output: [
          '| servers | mode | wall | CPU | heap growth | resources (with nested) | template | parameters |',
          '|---|---|---|---|---|---|---|---|',
          '| 1,000 | failover | 163 ms | 256 ms | 41 MiB | 7,051 | 2.7 MiB | 0.7 MiB |',
          '| 5,000 | failover | 1134 ms | 1417 ms | 180 MiB | 35,051 | 13.6 MiB | 3.5 MiB |',
          'peak RSS of the generating process 392 MiB; load average 1.5 on 2 CPUs',
        ],
      });
    });

    it('reports a failing or silent generation benchmark instead of a figure', async () => {
      const failed = await measureGeneration([1000], { exists: () => true, run: async () => ({ exitCode: 3, stdout: '', stderr: 'spec/bench/heat-generate.ts exports no measure(servers)\n' }) });
      expect(failed).to.deep.equal({
        measured: false,
        reason: 'node --expose-gc --import tsx spec/bench/failover/generation-child.ts 1000 failed: spec/bench/heat-generate.ts exports no measure(servers)',
        command: 'node --expose-gc --import tsx spec/bench/failover/generation-child.ts 1000',
        exitCode: 3,
      });
      const silent = await measureGeneration([1000], { exists: () => true, run: async () => ({ exitCode: 0, stdout: 'hello\n', stderr: '' }) });
      expect(silent.measured).to.equal(false);
      expect(silent.reason).to.match(/printed no figures .*: hello$/);
    });
  });
});
