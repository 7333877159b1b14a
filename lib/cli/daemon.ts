// `ferry daemon [--config FILE]`: runs the daemon until SIGTERM or SIGINT (a second one exits
// at once). `ferry config sample`: every ferry.conf option, commented, with its default.
// `ferry config check [--config FILE]`: reads the file as the daemon would and prints the
// effective configuration (secrets hidden) or every problem with its line and fix.
import type { Command } from 'commander';
import { Option } from 'commander';
import { Daemon, createDaemonLogger, type DaemonOptions } from '../daemon/daemon.js';
import { DEFAULT_CONFIG_FILE, DaemonConfigError, readDaemonConfig, redactedConfig, sampleConfig, type LoadedConfig } from '../daemon/config.js';
// Registers the REST API and metrics listeners as a daemon service.
import '../daemon/serve.js';
import { FORMATS, structured } from './output.js';
import type { CliContext } from './context.js';

/** The process-level hooks of `ferry daemon` (tests replace them). */
export interface DaemonCliDeps {
  /** Subscribes to the stop signals; returns the unsubscription. */
  onSignal: (handler: (signal: string) => void) => () => void;
  /** Ends the process after a second signal or an undrainable stop. */
  exit: (code: number) => void;
  /** Starts the daemon (tests inject fakes through the options). */
  start: (o: DaemonOptions) => Promise<Daemon>;
}

const processDeps: DaemonCliDeps = {
  onSignal: (handler) => {
    const h = (s: NodeJS.Signals) => handler(s);
    process.on('SIGTERM', h);
    process.on('SIGINT', h);
    return () => {
      process.off('SIGTERM', h);
      process.off('SIGINT', h);
    };
  },
  exit: (code) => process.exit(code),
  start: (o) => Daemon.start(o),
};

function load(file: string | undefined, ctx: CliContext): LoadedConfig | undefined {
  try {
    return readDaemonConfig(file);
  } catch (err) {
    if (err instanceof DaemonConfigError) for (const w of err.warnings) ctx.io.err(`ferry: warning: ${w}`);
    ctx.io.err(`ferry: error: ${(err as Error).message}`);
    ctx.setExit(2);
    return undefined;
  }
}

export function registerDaemon(program: Command, ctx: CliContext, deps: Partial<DaemonCliDeps> = {}): void {
  const d: DaemonCliDeps = { ...processDeps, ...deps };
  const configOption = () => new Option('--config <file>', `the daemon's configuration file (default ${DEFAULT_CONFIG_FILE}; the defaults are used when it does not exist)`).env('FERRY_CONFIG');

  program
    .command('daemon')
    .description('run the Ferry daemon: replication cycles on schedule, DR tests, site health, leader election, the REST API; stops cleanly on SIGTERM')
    .addOption(configOption())
    .action(async (o: { config?: string }) => {
      const loaded = load(o.config, ctx);
      if (!loaded) return;
      const globals = program.opts<{ debug?: boolean; logLevel?: string }>();
      const logging = { ...loaded.config.logging, debug: loaded.config.logging.debug || globals.debug === true || globals.logLevel === 'debug' };
      const logger = createDaemonLogger(logging);
      for (const w of loaded.warnings) logger.warn(w);
      const daemon = await d.start({ config: loaded.config, ...(loaded.file ? { configFile: loaded.file } : {}), logger });
      let signals = 0;
      let drained: Promise<string[]> | undefined;
      const off = d.onSignal((signal) => {
        signals++;
        if (signals > 1) {
          logger.warn(`${signal} again: exiting without waiting for the runs (they resume from their journal)`);
          d.exit(1);
          return;
        }
        drained = daemon.stop(signal);
      });
      try {
        await daemon.done;
        const unfinished = (await drained) ?? [];
        ctx.setExit(0);
        // Work that ignored its abort would keep the process alive: end it (the journal has it).
        if (unfinished.length > 0) d.exit(0);
      } finally {
        off();
      }
    });

  const config = program.command('config').description("the daemon's configuration file, ferry.conf (INI, oslo.config style)");
  config
    .command('sample')
    .description('print a ferry.conf with every option commented out, its help and its default (like oslo-config-generator)')
    .action(() => {
      ctx.io.out(sampleConfig().trimEnd());
    });
  config
    .command('check')
    .description('read ferry.conf as the daemon would: print the effective configuration (secrets hidden), or each problem with its line and fix')
    .addOption(configOption())
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS.filter((f) => f !== 'table')).default('yaml'))
    .action((o: { config?: string; format: 'json' | 'yaml' }) => {
      const loaded = load(o.config, ctx);
      if (!loaded) return;
      for (const w of loaded.warnings) ctx.io.err(`ferry: warning: ${w}`);
      ctx.io.out(structured({ file: loaded.file ?? null, ...redactedConfig(loaded.config) }, o.format));
      ctx.setExit(0);
    });
}
