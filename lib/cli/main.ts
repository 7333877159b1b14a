// The `ferry` command. Each subcommand parses its options here and calls the library.
import { Command, Option } from 'commander';
import { FerryError } from '../errors.js';
import { createLogger, type LogLevel } from '../log.js';
import { catalogRebuild } from './catalog.js';
import { cloudsWithLabNote, positiveInt, type CliContext, type Io } from './context.js';
import { FORMATS, type Format } from './output.js';
import { planSchema, planValidate } from './plan.js';
import { registerDaemon } from './daemon.js';
import { registerDrTest } from './drtest.js';
import { registerPlanStore } from './plan-store.js';
import { registerRecovery } from './recovery.js';
import { registerReplication } from './replication.js';
import { registerRuns } from './runs.js';
import { sitesCheck } from './sites.js';

export type { Io } from './context.js';

const defaultIo: Io = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  isTTY: process.stderr.isTTY === true,
};


/** Builds the program; `run()` executes it. Exposed for tests. */
export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('ferry')
    .description('OpenStack disaster recovery: protect, test, fail over and fail back workloads between two sites.')
    .version('0.1.0')
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(['debug', 'info', 'warn', 'error']).default('warn'))
    .option('--debug', 'same as --log-level debug (HTTP requests, secrets redacted)')
    .addOption(new Option('--db <url>', 'catalog URL: sqlite:///PATH or mysql://USER:PASS@HOST/DB (default sqlite:///var/lib/ferry/catalog.db)').env('FERRY_DB'))
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .exitOverride();

  const logger = () => {
    const o = program.opts<{ logLevel: LogLevel; debug?: boolean }>();
    return createLogger({ level: o.debug ? 'debug' : o.logLevel, name: 'ferry' });
  };
  const clouds = cloudsWithLabNote(io);
  const ctx: CliContext = { io, setExit, logger, clouds, dbUrl: () => program.opts<{ db?: string }>().db };

  const sites = program.command('sites').description('sites (clouds from clouds.yaml)');
  sites
    .command('check')
    .description('authenticate to each site and report its services, endpoints and microversions')
    .argument('[cloud...]', 'cloud names from clouds.yaml (default: every cloud found)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('table'))
    .option('--timeout <seconds>', 'per-request timeout', positiveInt, 10)
    .action(async (names: string[], o: { format: Format; timeout: number }) => {
      const { text, ok } = await sitesCheck(names, { format: o.format, timeoutMs: o.timeout * 1000, logger: logger(), load: clouds() });
      io.out(text);
      setExit(ok ? 0 : 1);
    });

  const plan = program.command('plan').description('protection plans (YAML files, see docs/plan-reference.md)');
  plan
    .command('validate')
    .description('check a plan file offline (schema, cross-field), then online: a readiness report of both sites (members, mapping targets, flavors, quota, services)')
    .argument('<file>', 'the plan file (YAML)')
    .option('--offline', 'only check the file itself, without contacting the sites')
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('table'))
    .action(async (file: string, o: { format: Format; offline?: boolean }) => {
      const r = await planValidate(file, { format: o.format, offline: o.offline === true, ctx });
      for (const m of r.messages) io.err(m);
      if (r.text) io.out(r.text);
      setExit(r.ok ? 0 : 1);
    });
  plan
    .command('schema')
    .description('print the JSON Schema of plan files, for editors')
    .action(() => {
      io.out(planSchema());
    });
  const catalog = program.command('catalog').description("the engine's catalog (plans, recovery points, runs)");
  catalog
    .command('rebuild')
    .description("rebuild the catalog from the bank (recovery points in a site's object store); idempotent")
    .requiredOption('--from <cloud>', 'the site holding the bank (the secondary), a cloud from clouds.yaml')
    .option('--container <name>', 'the bank container', 'ferry-bank')
    .option('--plan <name...>', 'only these plans')
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('table'))
    .action(async (o: { from: string; container: string; plan?: string[]; format: Format }) => {
      const r = await catalogRebuild({ from: o.from, db: ctx.dbUrl(), container: o.container, plans: o.plan, format: o.format, logger: logger(), load: clouds() });
      io.out(r.text);
      setExit(r.ok ? 0 : 1);
    });
  registerPlanStore(plan, ctx);
  registerReplication(program, ctx);
  registerRuns(program, ctx);
  registerRecovery(program, ctx);
  registerDrTest(program, ctx);
  registerDaemon(program, ctx);
  return program;
}

/** Runs the CLI; resolves to the process exit code. */
export async function run(argv: string[], io: Io = defaultIo): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // commander already printed the message (or the help/version text).
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : 2;
    }
    io.err(`ferry: error: ${err instanceof FerryError || err instanceof Error ? (err as Error).message : String(err)}`);
    return 1;
  }
  return code;
}
