import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../lib/errors.js';
import {
  CONFIG_SECTIONS,
  DaemonConfigError,
  cronProblem,
  parseDaemonConfig,
  parseSeconds,
  readDaemonConfig,
  redactedConfig,
  sampleConfig,
} from '../../../lib/daemon/config.js';

const FILE = '/etc/ferry/ferry.conf';
const KEYSTONE = '[keystone_authtoken]\ncloud = site-a\n';

function problems(text: string): DaemonConfigError {
  try {
    parseDaemonConfig(text, FILE);
  } catch (err) {
    if (err instanceof DaemonConfigError) return err;
    throw err;
  }
  throw new Error('expected a DaemonConfigError');
}

describe('daemon configuration (ferry.conf)', () => {
  describe('defaults and the sample', () => {
    it('uses the documented defaults for an empty file (the API needs its Keystone cloud)', () => {
      const { config, warnings } = parseDaemonConfig(KEYSTONE, FILE);
      expect(warnings).to.deep.equal([]);
      expect(config.DEFAULT.host).to.equal(hostname());
      expect(config.database.connection).to.equal('sqlite:///var/lib/ferry/catalog.db');
      expect(config.coordination.lease_duration).to.deep.equal({ ms: 15_000, text: '15' });
      expect(config.coordination.heartbeat_interval.ms).to.equal(2_000);
      expect(config.scheduler).to.deep.include({ enabled: true, max_concurrent_cycles: 4 });
      expect(config.scheduler.max_jitter).to.deep.equal({ ms: 300_000, text: '5m' });
      expect(config.health).to.deep.include({ enabled: true, failure_threshold: 3, success_threshold: 2, sites: [] });
      expect(config.health.webhook_url).to.equal(undefined);
      expect(config.api).to.deep.equal({ enabled: false, bind_host: '0.0.0.0', bind_port: 8797, auth_strategy: 'keystone', metrics_access: 'token' });
      expect(config.metrics).to.deep.equal({ enabled: false, bind_host: '127.0.0.1', bind_port: 8798, process_metrics: false });
      expect(config.drtest.report_dir).to.equal('/var/lib/ferry/reports');
      expect(config.keystone_authtoken.project_name_domain).to.equal('default');
      expect(config.keystone_authtoken.token_cache_time.ms).to.equal(60_000);
      expect(config.logging).to.deep.include({ debug: false, use_json: false, use_stderr: true });
      expect(config.logging.log_file).to.equal(undefined);
      expect(config.drtest_schedule).to.deep.equal({});
    });

    it('prints every option of every section, commented out with its help, type and default', () => {
      const sample = sampleConfig();
      for (const [section, schema] of Object.entries(CONFIG_SECTIONS)) {
        expect(sample, section).to.include(`\n[${section}]\n`);
        for (const key of Object.keys(schema.shape)) expect(sample, `${section}.${key}`).to.match(new RegExp(`\\n#${key} = ?`));
      }
      expect(sample).to.include('#lease_duration = 15\n').and.include('#max_jitter = 5m\n').and.include('#connection = sqlite://$state_path/catalog.db\n');
      expect(sample).to.include("#host = <this machine's host name>");
      expect(sample).to.include('# (integer value)\n# Minimum value: 1\n# Maximum value: 100\n#failure_threshold = 3');
      expect(sample).to.include('# Possible values:\n# keystone - ').and.include('# noauth - ');
      expect(sample).to.include('[drtest_schedule]').and.include('#web-tier = 0 3 * * SUN');
      // no line of help runs past 80 columns
      for (const line of sample.split('\n')) expect(line.length, line).to.be.at.most(80);
    });

    it('is documented option by option in docs/configuration.md, with the same defaults and help', () => {
      const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
      for (const [section, schema] of Object.entries(CONFIG_SECTIONS)) {
        const part = doc.slice(doc.indexOf(`**[${section}]**`));
        expect(part.length, section).to.be.below(doc.length);
        for (const [key, s] of Object.entries(schema.shape)) {
          const o = (s.meta() as { ferry: { help: string; default?: string; sample?: string } }).ferry;
          const def = o.sample ?? o.default;
          expect(part, `${section}.${key}`).to.include(`| \`${key}\` | ${def ? `\`${def}\`` : '(unset)'} | ${o.help} |`);
        }
      }
    });

    it('reads the sample back, uncommented, to exactly the defaults', () => {
      const uncommented = sampleConfig()
        .split('\n')
        .map((l) => l.replace(/^#([a-z_-]+ = ?)/, '$1'))
        .join('\n')
        .replace("host = <this machine's host name>", `host = ${hostname()}`);
      const fromSample = parseDaemonConfig(uncommented.replace(/^cloud =$/m, 'cloud = site-a'), FILE);
      // the example schedule line is uncommented too: it is a valid one
      expect(fromSample.config.drtest_schedule).to.deep.equal({ 'web-tier': '0 3 * * SUN' });
      expect({ ...fromSample.config, drtest_schedule: {} }).to.deep.equal(parseDaemonConfig(KEYSTONE, FILE).config);
    });
  });

  describe('values', () => {
    it('reads booleans, integers, durations with units, lists, choices and substitutions', () => {
      const { config } = parseDaemonConfig(
        [
          '[DEFAULT]',
          'host = ctl-1',
          'state_path = /srv/ferry',
          '[database]',
          'connection = mysql+pymysql://ferry:pa$$word@db.example/ferry',
          '[coordination]',
          'lease_duration = 1m',
          'heartbeat_interval = 2.5',
          '[scheduler]',
          'enabled = No',
          '[health]',
          'sites = site-c,  site-d ,',
          'probe_interval = 1h30m',
          'webhook_url = https://hooks.example.com/ferry?token=abc',
          '[api]',
          'auth_strategy = noauth',
          'bind_port = 9000',
          '[logging]',
          'debug = ON',
          'log_file = ${state_path}/ferry.log',
          '[oslo_policy]',
          'policy_file = ${DEFAULT.state_path}/policy.yaml',
        ].join('\n'),
        FILE,
      );
      expect(config.DEFAULT.host).to.equal('ctl-1');
      expect(config.database.connection).to.equal('mysql+pymysql://ferry:pa$word@db.example/ferry');
      expect(config.coordination.lease_duration).to.deep.equal({ ms: 60_000, text: '1m' });
      expect(config.coordination.heartbeat_interval.ms).to.equal(2_500);
      expect(config.scheduler.enabled).to.equal(false);
      expect(config.health.sites).to.deep.equal(['site-c', 'site-d']);
      expect(config.health.probe_interval.ms).to.equal(5_400_000);
      expect(config.api).to.deep.include({ auth_strategy: 'noauth', bind_port: 9000 });
      expect(config.logging.debug).to.equal(true);
      expect(config.logging.log_file).to.equal('/srv/ferry/ferry.log');
      expect(config.oslo_policy.policy_file).to.equal('/srv/ferry/policy.yaml');
    });

    it('takes an empty value as the default', () => {
      const { config } = parseDaemonConfig(`${KEYSTONE}[DEFAULT]\nhost =\nclouds_file =\n[health]\nprobe_interval =\n`, FILE);
      expect(config.DEFAULT.host).to.equal(hostname());
      expect(config.DEFAULT.clouds_file).to.equal(undefined);
      expect(config.health.probe_interval.ms).to.equal(30_000);
    });

    it('parses seconds as numbers or durations', () => {
      const cases: [string, number | undefined][] = [
        ['30', 30_000],
        ['0.25', 250],
        ['5m', 300_000],
        ['1h30m', 5_400_000],
        ['2d', 172_800_000],
        ['ten', undefined],
        ['-1', undefined],
        ['', undefined],
      ];
      for (const [text, ms] of cases) expect(parseSeconds(text), text).to.equal(ms);
    });

    it('reads the DR test schedules and checks each cron expression', () => {
      const { config } = parseDaemonConfig(`${KEYSTONE}[drtest]\ntimezone = Europe/Berlin\n[drtest_schedule]\nweb-tier = 0 3 * * SUN\ndb.prod = 30 2 1 * *\n`, FILE);
      expect(config.drtest.timezone).to.equal('Europe/Berlin');
      expect(config.drtest_schedule).to.deep.equal({ 'web-tier': '0 3 * * SUN', 'db.prod': '30 2 1 * *' });
      expect(cronProblem('0 3 * * SUN')).to.equal(undefined);
      expect(cronProblem('61 * * * *')).to.match(/not a cron expression: Invalid value for minute: 61$/);
      expect(cronProblem('')).to.equal('has no cron expression');
    });
  });

  describe('errors', () => {
    it('names file and line, section and key, the problem and the fix, for every problem at once', () => {
      const e = problems(
        [
          KEYSTONE.trim(),
          '[health]',
          'probe_interval = ten',
          'failure_threshold = 0',
          '[api]',
          'bind_port = 99999',
          'auth_strategy = keystne',
          '[scheduler]',
          'enabled = maybe',
          '[drtest_schedule]',
          'web = 0 3 * *',
        ].join('\n'),
      );
      expect(e).to.be.instanceOf(ConfigError);
      expect(e.issues.map((i) => [i.line, i.section, i.key])).to.deep.equal([
        [4, 'health', 'probe_interval'],
        [5, 'health', 'failure_threshold'],
        [7, 'api', 'bind_port'],
        [8, 'api', 'auth_strategy'],
        [10, 'scheduler', 'enabled'],
        [12, 'drtest_schedule', 'web'],
      ]);
      const lines = e.message.split('\n');
      expect(lines[0]).to.equal(`6 problems in ${FILE}:`);
      expect(lines[1]).to.equal(`  ${FILE}:4: key '[health] probe_interval': must be a number of seconds or a duration, got 'ten' (fix: write e.g. 30 (seconds), 5m or 1h30m)`);
      expect(lines[2]).to.equal(`  ${FILE}:5: key '[health] failure_threshold': must be from 1 to 100, got 0 (fix: write a whole number from 1 to 100)`);
      expect(lines[4]).to.include("must be one of keystone, noauth, got 'keystne' (did you mean 'keystone'?)");
      expect(lines[5]).to.include("must be true or false, got 'maybe' (fix: write true or false");
      expect(lines[6]).to.include("'0 3 * *' is not a cron expression").and.include("(fix: write 5 fields 'MIN HOUR DAY MONTH WEEKDAY'");
      // a single problem reads like any ConfigError
      const one = problems(`${KEYSTONE}[health]\nprobe_timeout = x\n`);
      expect(one.message).to.equal(`${FILE}:4: key '[health] probe_timeout': must be a number of seconds or a duration, got 'x' (fix: write e.g. 30 (seconds), 5m or 1h30m)`);
      expect([one.file, one.key, one.fix]).to.deep.equal([`${FILE}:4`, '[health] probe_timeout', 'write e.g. 30 (seconds), 5m or 1h30m']);
    });

    it('checks options against each other', () => {
      const e = problems(
        [
          '[coordination]',
          'lease_duration = 6',
          'heartbeat_interval = 3',
          '[health]',
          'probe_interval = 10',
          'probe_timeout = 10',
          '[scheduler]',
          'failure_backoff = 10m',
          'max_failure_backoff = 5m',
          '[logging]',
          'use_stderr = false',
          '[api]',
          'enabled = true',
          'bind_port = 9000',
          '[metrics]',
          'enabled = true',
          'bind_port = 9000',
        ].join('\n'),
      );
      expect(e.issues.map((i) => `${i.section} ${i.key}`)).to.deep.equal([
        'coordination heartbeat_interval',
        'health probe_timeout',
        'scheduler max_failure_backoff',
        'logging use_stderr',
        'metrics bind_port',
        'keystone_authtoken cloud',
      ]);
      expect(e.issues[4]!.message).to.equal('is 9000, the port of the API too ([api] bind_port)');
      expect(e.issues[0]!.fix).to.equal('set heartbeat_interval to 2s or less, or raise lease_duration');
      expect(e.issues[5]!.message).to.include('auth_strategy = keystone');
      expect(e.issues[5]!.fix).to.include('or set [api] enabled = false');
    });

    it('refuses a bad catalog URL without showing its password', () => {
      const e = problems(`${KEYSTONE}[database]\nconnection = mysql://ferry:hunter2secret@db\n`);
      expect(e.issues).to.have.length(1);
      expect(e.message).to.include(`${FILE}:4: key '[database] connection': catalog URL 'mysql://ferry:***@db' names no database`).and.include('(fix: end the URL with /DATABASE');
      expect(e.message).not.to.include('hunter2secret');
    });

    it('refuses keys outside a section, keys without "=", and unknown substitutions', () => {
      const e = problems(`host = x\n${KEYSTONE}[DEFAULT]\nstate_path\n[logging]\nlog_file = $nowhere/ferry.log\n`);
      expect(e.issues.map((i) => [i.line, i.key, i.message])).to.deep.equal([
        [1, 'host', 'is outside any section'],
        [5, 'state_path', "has no '=' and no value"],
        [7, 'log_file', 'refers to $nowhere, which is not an option with a value'],
      ]);
    });
  });

  describe('warnings', () => {
    it('warns about unknown sections and keys with the closest known name, and repeated keys', () => {
      const { warnings } = parseDaemonConfig(`${KEYSTONE}[helth]\nprobe_interval = 5\n[health]\nprobe_intervall = 5\nfailure_threshold = 2\nfailure_threshold = 4\n[scheduler]\nlease_duration = 5\n`, FILE);
      expect(warnings).to.deep.equal([
        `${FILE}:3: section [helth]: is not a Ferry section and is ignored (did you mean [health]?)`,
        `${FILE}:6: key '[health] probe_intervall': is not an option of [health] and is ignored (did you mean 'probe_interval'?)`,
        `${FILE}:8: key '[health] failure_threshold': is set 2 times (lines 7, 8); the last one is used`,
        `${FILE}:10: key '[scheduler] lease_duration': is not an option of [scheduler] and is ignored (it belongs in [coordination])`,
      ]);
    });

    it("warns that ';' or '#' cut a value, without showing it; escaped and quoted values are kept whole", () => {
      const { config, warnings } = parseDaemonConfig(`${KEYSTONE}[health]\nwebhook_url = https://hooks.example.com/x?token=ab#SECRETTAIL\n`, FILE);
      expect(config.health.webhook_url).to.equal('https://hooks.example.com/x?token=ab');
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.include(`${FILE}:4: key '[health] webhook_url': has ';' or '#' in its value`).and.include('escape it as \\; or \\#');
      expect(warnings[0]).not.to.include('SECRETTAIL');
      const kept = parseDaemonConfig(`${KEYSTONE}[health]\nwebhook_url = "https://hooks.example.com/x?token=ab;cd#ef"\n[DEFAULT]\nhost = a\\;b\n`, FILE);
      expect(kept.warnings).to.deep.equal([]);
      expect(kept.config.health.webhook_url).to.equal('https://hooks.example.com/x?token=ab;cd#ef');
      expect(kept.config.DEFAULT.host).to.equal('a;b');
    });
  });

  describe('files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-conf-'));

    it('reads a named file, and refuses a named file that does not exist', () => {
      const file = join(dir, 'ferry.conf');
      writeFileSync(file, `${KEYSTONE}[DEFAULT]\nhost = from-file\n`);
      const loaded = readDaemonConfig(file);
      expect(loaded.file).to.equal(file);
      expect(loaded.config.DEFAULT.host).to.equal('from-file');
      expect(() => readDaemonConfig(join(dir, 'missing.conf'))).to.throw(ConfigError, /missing\.conf: does not exist \(fix: give the path of ferry\.conf, or print a sample with: ferry config sample > ferry\.conf\)/);
    });

    it('hides secrets in the effective configuration', () => {
      const { config } = parseDaemonConfig(`${KEYSTONE}[database]\nconnection = mysql://ferry:hunter2secret@db/ferry\n[health]\nwebhook_url = https://hooks.example.com/services/T0K3N\n`, FILE);
      const shown = redactedConfig(config);
      expect(shown['database']).to.deep.equal({ connection: 'mysql://ferry:***@db/ferry', max_pool_size: 10 });
      expect((shown['health'] as Record<string, unknown>)['webhook_url']).to.equal('https://hooks.example.com/***');
      expect((shown['health'] as Record<string, unknown>)['probe_interval']).to.equal('30');
      expect(JSON.stringify(shown)).not.to.include('hunter2secret').and.not.include('T0K3N');
    });
  });
});
