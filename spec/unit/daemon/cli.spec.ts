// `ferry daemon`, `ferry config sample`, `ferry config check` through commander, with the
// process hooks (signals, exit) replaced.
import { expect } from 'chai';
import { Command } from 'commander';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { registerDaemon, type DaemonCliDeps } from '../../../lib/cli/daemon.js';
import type { CliContext } from '../../../lib/cli/context.js';
import { Daemon } from '../../../lib/daemon/daemon.js';
import { sampleConfig } from '../../../lib/daemon/config.js';
import { silentLogger } from '../../../lib/log.js';
import { until } from './daemon-support.js';

function cli(deps: Partial<DaemonCliDeps> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  let exit: number | undefined;
  const ctx: CliContext = { io: { out: (t) => out.push(t), err: (t) => err.push(t) }, setExit: (c) => (exit = c), logger: () => silentLogger, clouds: () => ({}), dbUrl: () => undefined };
  const program = new Command('ferry').exitOverride().option('--debug').configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  registerDaemon(program, ctx, deps);
  return {
    run: (args: string[]) => program.parseAsync(args, { from: 'user' }),
    out,
    err,
    exit: () => exit,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'ferry-cli-daemon-'));
function conf(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('ferry config / ferry daemon', () => {
  it('config sample prints the generated sample', async () => {
    const c = cli();
    await c.run(['config', 'sample']);
    expect(c.out.join('\n')).to.equal(sampleConfig().trimEnd());
  });

  it('config check prints the effective configuration with secrets hidden, and warnings', async () => {
    const file = conf('check.conf', '[database]\nconnection = mysql://ferry:hunter2secret@db/ferry\n[api]\nenabled = false\n[helth]\n');
    const c = cli();
    await c.run(['config', 'check', '--config', file]);
    expect(c.exit()).to.equal(0);
    const doc = parse(c.out.join('\n')) as Record<string, Record<string, unknown>>;
    expect(doc['file']).to.equal(file);
    expect(doc['database']!['connection']).to.equal('mysql://ferry:***@db/ferry');
    expect(doc['coordination']).to.deep.equal({ lease_duration: '15', heartbeat_interval: '2' });
    expect(c.out.join('\n')).not.to.include('hunter2secret');
    expect(c.err).to.deep.equal([`ferry: warning: ${file}:5: section [helth]: is not a Ferry section and is ignored (did you mean [health]?)`]);
  });

  it('config check and daemon refuse a bad file with every problem, exit 2, without starting anything', async () => {
    const file = conf('bad.conf', '[api]\nenabled = false\n[health]\nprobe_interval = soon\n[helth]\n');
    let started = false;
    for (const args of [
      ['config', 'check', '--config', file],
      ['daemon', '--config', file],
    ]) {
      const c = cli({ start: async () => ((started = true), undefined as unknown as Daemon) });
      await c.run(args);
      expect(c.exit(), args.join(' ')).to.equal(2);
      expect(c.err).to.deep.equal([
        `ferry: warning: ${file}:5: section [helth]: is not a Ferry section and is ignored (did you mean [health]?)`,
        `ferry: error: ${file}:4: key '[health] probe_interval': must be a number of seconds or a duration, got 'soon' (fix: write e.g. 30 (seconds), 5m or 1h30m)`,
      ]);
    }
    expect(started).to.equal(false);
    const missing = cli();
    await missing.run(['daemon', '--config', join(dir, 'nope.conf')]);
    expect(missing.exit()).to.equal(2);
    expect(missing.err[0]).to.include('nope.conf: does not exist');
  });

  it('daemon runs until SIGTERM, drains, and exits 0; a second signal exits at once', async () => {
    const file = conf('run.conf', `[DEFAULT]\nstate_path = ${dir}\n[api]\nenabled = false\n[health]\nenabled = false\n[logging]\nuse_stderr = false\nlog_file = ${join(dir, 'ferry.log')}\n`);
    let handler: ((s: string) => void) | undefined;
    let unsubscribed = false;
    const exits: number[] = [];
    let daemon: Daemon | undefined;
    const c = cli({
      onSignal: (h) => {
        handler = h;
        return () => (unsubscribed = true);
      },
      exit: (code) => exits.push(code),
      start: async (o) => (daemon = await Daemon.start({ ...o, services: [] })),
    });
    const running = c.run(['daemon', '--config', file]);
    await until(() => daemon !== undefined && daemon.isLeader(), 3000, 'the daemon to lead');
    expect(daemon!.catalog.url).to.equal(`sqlite://${dir}/catalog.db`);
    expect(daemon!.configFile).to.equal(file);
    handler!('SIGTERM');
    handler!('SIGINT');
    await running;
    expect(exits).to.deep.equal([1]);
    expect(c.exit()).to.equal(0);
    expect(unsubscribed).to.equal(true);
    expect(daemon!.status().stopping).to.equal(true);
  });
});
