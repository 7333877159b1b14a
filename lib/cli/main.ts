// The `ferry` command. Each subcommand parses its options here and calls the library.
import { Command, Option } from 'commander';
import { ApiClientError, createApiClient, type FerryApiClient } from '../daemon/api/client.js';
import type { LoadOptions } from '../config/clouds.js';
import { FerryError } from '../errors.js';
import { createLogger, type Logger, type LogLevel } from '../log.js';
import { catalogRebuild } from './catalog.js';
import { CliUsageError, cloudsWithLabNote, describeDaemonError, inProcessOnly, positiveInt, type CliContext, type Io } from './context.js';
import { FORMATS, type Format } from './output.js';
import { planSchema, planValidate } from './plan.js';
import { registerDaemon } from './daemon.js';
import { registerDrTest } from './drtest.js';
import { registerFailback } from './failback.js';
import { registerStandby } from './standby.js';
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
    .addOption(new Option('--url <url>', "talk to the Ferry daemon at this URL (https://HOST:PORT) instead of running in-process; commands its API does not cover refuse (docs/cli.md)").env('FERRY_URL'))
    .addOption(new Option('--os-cloud <cloud>', "with --url: send a Keystone token of this clouds.yaml cloud (default: FERRY_TOKEN, OS_TOKEN, then OS_CLOUD)").conflicts('token'))
    .option('--token <token>', 'with --url: this Keystone token (prefer FERRY_TOKEN: a command line is visible to other users)')
    .addOption(new Option('--cacert <file>', "with --url: CA bundle (PEM) for the daemon's certificate").env('FERRY_CACERT'))
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .exitOverride();

  const logger = () => {
    const o = program.opts<{ logLevel: LogLevel; debug?: boolean }>();
    return createLogger({ level: o.debug ? 'debug' : o.logLevel, name: 'ferry' });
  };
  const clouds = cloudsWithLabNote(io);
  let commandPath = '';
  let api: FerryApiClient | undefined;
  const remoteUrl = () => {
    const url = program.opts<{ url?: string }>().url;
    return url === undefined || url.trim() === '' ? undefined : url.trim();
  };
  const ctx: CliContext = {
    io,
    setExit,
    logger,
    clouds,
    dbUrl: () => program.opts<{ db?: string }>().db,
    remoteUrl,
    api: () => (api ??= daemonClient(remoteUrl(), program.opts(), clouds, logger())),
    commandPath: () => commandPath,
  };
  program.hook('preAction', (_program, action) => {
    const names: string[] = [];
    for (let c: Command | null = action; c && c !== program; c = c.parent) names.unshift(c.name());
    commandPath = names.join(' ');
  });

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
      inProcessOnly(ctx, "it rebuilds this host's catalog from the bank; the daemon's own catalog is rebuilt on the daemon's host");
      const r = await catalogRebuild({ from: o.from, db: ctx.dbUrl(), container: o.container, plans: o.plan, format: o.format, logger: logger(), load: clouds() });
      io.out(r.text);
      setExit(r.ok ? 0 : 1);
    });
  registerPlanStore(plan, ctx);
  registerReplication(program, ctx);
  registerRuns(program, ctx);
  registerRecovery(program, ctx);
  registerFailback(program, ctx);
  registerStandby(program, ctx);
  registerDrTest(program, ctx);
  registerDaemon(program, ctx);
  return program;
}

interface RemoteOpts {
  osCloud?: string;
  token?: string;
  cacert?: string;
}

/** The daemon's client for --url: the token from --token, --os-cloud, FERRY_TOKEN, OS_TOKEN or OS_CLOUD (apiTokenProvider's order). */
function daemonClient(url: string | undefined, o: RemoteOpts, clouds: () => LoadOptions, logger: Logger): FerryApiClient {
  if (url === undefined) throw new CliUsageError('no daemon URL (fix: --url https://HOST:PORT, or FERRY_URL)');
  const env = process.env;
  // clouds.yaml is searched only when a cloud gives the token (the lab note stays quiet otherwise).
  const needsCloud = o.token === undefined && (o.osCloud !== undefined || !(env.FERRY_TOKEN || env.OS_TOKEN));
  return createApiClient(url, {
    ...(o.token !== undefined ? { token: o.token } : {}),
    ...(o.osCloud !== undefined ? { cloud: o.osCloud } : {}),
    ...(needsCloud ? { load: clouds() } : {}),
    ...(o.cacert ? { cacert: o.cacert } : {}),
    logger,
  });
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
    if (err instanceof CliUsageError) {
      io.err(`ferry: error: ${err.message}`);
      return 2;
    }
    if (err instanceof ApiClientError) {
      io.err(`ferry: error: ${describeDaemonError(err)}`);
      return err.code === 'bad_url' || err.code === 'no_token' ? 2 : 1;
    }
    io.err(`ferry: error: ${err instanceof FerryError || err instanceof Error ? (err as Error).message : String(err)}`);
    return 1;
  }
  return code;
}
