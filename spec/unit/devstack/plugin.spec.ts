// The DevStack plugin (devstack/plugin.sh, settings, lib/ferry), phase by phase, against
// stubbed DevStack functions (spec/unit/devstack/stubs.sh), and the systemd unit for
// installs without DevStack (devstack/files/ferry.service).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseIni } from 'ini';
import { parseDaemonConfig, sampleConfig } from '../../../lib/daemon/config.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HARNESS = join(ROOT, 'spec/unit/devstack/stubs.sh');
const UNIT = join(ROOT, 'devstack/files/ferry.service');
const REAL_KEY = join(ROOT, 'spec/unit/devstack/fixtures/nodesource-repo.gpg.key');
const NODESOURCE_FPR = '6F71F525282841EEDAF851B42F59B5F99B1BE0B4';

const FULL_STACK = ['stack install', 'stack post-config', 'stack extra', 'stack test-config'];

interface Call {
  name: string;
  args: string[];
  /** @cwd and @env lines recorded right after the call. */
  cwd?: string;
  env?: string;
}

interface Run {
  code: number | null;
  out: string;
  err: string;
  calls: Call[];
  /** The work directory: every path the plugin wrote is under it. */
  w: string;
  /** A path of the DevStack node, inside the work directory. */
  at: (path: string) => string;
}

function parseCalls(text: string): Call[] {
  const calls: Call[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [name, ...args] = line.split('\t');
    const last = calls[calls.length - 1];
    if (name === '@cwd' && last) last.cwd = args[0];
    else if (name === '@env' && last) last.env = args[0];
    else calls.push({ name: name!, args });
  }
  return calls;
}

/** Runs the plugin's phases in one shell, as stack.sh does (or unstack.sh / clean.sh). */
function devstack(phases: string[], env: Record<string, string> = {}, w?: string): Run {
  const dir = w ?? mkdtempSync(join(tmpdir(), 'ferry-devstack-'));
  // A clean environment: nothing of the developer's FERRY_* or OS_* leaks into the plugin.
  const r = spawnSync('/bin/bash', [HARNESS, dir, ...phases], {
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', ...env },
    encoding: 'utf8',
  });
  const log = join(dir, 'calls.log');
  return {
    code: r.status,
    out: r.stdout,
    err: r.stderr,
    calls: existsSync(log) ? parseCalls(readFileSync(log, 'utf8')) : [],
    w: dir,
    at: (path) => join(dir, path),
  };
}

function named(run: Run, name: string): Call[] {
  return run.calls.filter((c) => c.name === name);
}

/** The position of the first call NAME whose arguments start with ARGS; fails when there is none. */
function indexOf(run: Run, name: string, ...args: string[]): number {
  const i = run.calls.findIndex((c) => c.name === name && args.every((a, k) => c.args[k] === a));
  expect(i, `no call ${[name, ...args].join(' ')} in:\n${run.calls.map((c) => [c.name, ...c.args].join(' ')).join('\n')}`).to.be.at.least(0);
  return i;
}

/** The calls happened in this order (others may come between). */
function expectOrder(run: Run, ...calls: [string, ...string[]][]): void {
  const positions = calls.map(([name, ...args]) => indexOf(run, name, ...args));
  expect(positions, 'call order').to.deep.equal([...positions].sort((a, b) => a - b));
}

function ok(run: Run): Run {
  expect(run.code, `exit ${run.code}; stderr:\n${run.err.split('\n').filter((l) => !l.startsWith('+')).join('\n')}`).to.equal(0);
  return run;
}

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8);
}

function hasCommand(path: string): boolean {
  return existsSync(path);
}

describe('DevStack plugin (devstack/plugin.sh against stubbed DevStack)', function () {
  // each phase run spawns a few dozen short processes
  this.timeout(30_000);
  const dirs: string[] = [];
  const track = (run: Run): Run => {
    dirs.push(run.w);
    return run;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  describe('stack install', () => {
    it('on Debian/Ubuntu adds NodeSource with its key checked, installs nodejs, then npm ci, build, prune and the ferry link', () => {
      const run = track(ok(devstack(['stack install'])));
      const ferryDir = run.at('opt/stack/ferry');
      expectOrder(
        run,
        ['echo_summary', 'Installing Ferry'],
        ['install_package', 'ca-certificates', 'curl', 'gnupg'],
        ['gpg', '--batch', '--show-keys', '--with-colons'],
        ['gpg', '--batch', '--yes', '--dearmor'],
        ['sudo', 'install', '-D', '-m', '0644'],
        ['apt_get_update'],
        ['install_package', 'nodejs'],
        ['node', '--version'],
        ['git_clone', 'https://git.example.org/ferry.git', ferryDir, 'main'],
        ['npm', 'ci', '--no-audit', '--no-fund'],
        ['npm', 'run', 'build'],
        ['npm', 'prune', '--omit=dev', '--no-audit', '--no-fund'],
        ['sudo', 'ln', '-sfn', join(ferryDir, 'bin/ferry.js'), run.at('usr/local/bin/ferry')],
      );
      const curl = named(run, 'curl');
      expect(curl).to.have.length(1);
      expect(curl[0]!.args.at(-1)).to.equal('https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key');
      expect(curl[0]!.args).to.include('-fsSL');
      for (const npm of named(run, 'npm')) expect(npm.cwd, `npm ${npm.args.join(' ')}`).to.equal(ferryDir);
      // the new repository is read before nodejs is installed: apt-get update right before it
      expect(indexOf(run, 'install_package', 'nodejs') - indexOf(run, 'apt_get_update')).to.equal(1);

      expect(readFileSync(run.at('etc/apt/sources.list.d/nodesource.sources'), 'utf8')).to.equal(
        [
          'Types: deb',
          'URIs: https://deb.nodesource.com/node_20.x',
          'Suites: nodistro',
          'Components: main',
          'Architectures: amd64',
          `Signed-By: ${run.at('etc/apt/keyrings/nodesource.gpg')}`,
          '',
        ].join('\n'),
      );
      expect(readFileSync(run.at('etc/apt/preferences.d/nodesource'), 'utf8')).to.equal(
        'Package: nodejs\nPin: origin deb.nodesource.com\nPin-Priority: 600\n',
      );
      // the keyring apt reads is the dearmored download
      expect(readFileSync(run.at('etc/apt/keyrings/nodesource.gpg'), 'utf8')).to.equal(`dearmored\nfingerprint ${NODESOURCE_FPR}\n`);
      expect(readlinkSync(run.at('usr/local/bin/ferry'))).to.equal(join(ferryDir, 'bin/ferry.js'));
    });

    for (const [what, fprs] of [
      ['another key', 'D3B0E3C0A1C2B4F5E6D7C8B9A0F1E2D3C4B5A697'],
      ["NodeSource's key plus another one", `${NODESOURCE_FPR} D3B0E3C0A1C2B4F5E6D7C8B9A0F1E2D3C4B5A697`],
      ['no key at all', ''],
    ] as const) {
      it(`refuses a downloaded key file holding ${what}, and installs no Node`, () => {
        const run = track(devstack(['stack install'], { FAKE_KEY_FPRS: fprs }));
        expect(run.code).to.equal(1);
        expect(run.err).to.contain(`holds key(s) '${fprs || 'none'}', not NodeSource's ${NODESOURCE_FPR}; refusing to trust it`);
        expect(existsSync(run.at('etc/apt/keyrings/nodesource.gpg'))).to.equal(false);
        expect(existsSync(run.at('etc/apt/sources.list.d/nodesource.sources'))).to.equal(false);
        expect(named(run, 'install_package').map((c) => c.args[0])).to.deep.equal(['ca-certificates']);
        expect(named(run, 'npm')).to.deep.equal([]);
      });
    }

    describe('with the real gpg and NodeSource\'s published key (spec/unit/devstack/fixtures)', () => {
      before(function () {
        if (!hasCommand('/usr/bin/gpg')) this.skip();
      });

      it('accepts the key (fingerprint written with spaces and in lower case too) and writes a binary keyring', () => {
        const spaced = '6f71 f525 2828 41ee daf8  51b4 2f59 b5f9 9b1b e0b4';
        for (const fpr of [NODESOURCE_FPR, spaced]) {
          const run = track(ok(devstack(['stack install'], { FAKE_KEY_FILE: REAL_KEY, NODESOURCE_KEY_FINGERPRINT: fpr })));
          const keyring = readFileSync(run.at('etc/apt/keyrings/nodesource.gpg'));
          expect(keyring.subarray(0, 5).toString('latin1')).to.not.equal('-----');
          expect(keyring[0]! & 0x80, 'an OpenPGP packet').to.equal(0x80);
        }
      });

      it('refuses it when another fingerprint is pinned', () => {
        const other = 'D3B0E3C0A1C2B4F5E6D7C8B9A0F1E2D3C4B5A697';
        const run = track(devstack(['stack install'], { FAKE_KEY_FILE: REAL_KEY, NODESOURCE_KEY_FINGERPRINT: other }));
        expect(run.code).to.equal(1);
        expect(run.err).to.contain(`holds key(s) '${NODESOURCE_FPR}', not NodeSource's ${other}`);
      });
    });

    for (const [version, accepted] of [
      ['v18.20.4', false],
      ['v20.18.3', false],
      ['v20.19.0', true],
      ['v20.20.2', true],
      ['v22.0.0-rc.1', true],
      ['v100.0.0', true],
    ] as const) {
      it(`${accepted ? 'accepts' : 'stops at'} Node ${version} (Ferry needs 20.19 or newer)`, () => {
        const run = track(devstack(['stack install'], { FERRY_NODE_SOURCE: 'system', FAKE_NODE_VERSION: version }));
        if (accepted) {
          ok(run);
          expect(run.out).to.contain(`(Node ${version}, from system)`);
        } else {
          expect(run.code).to.equal(1);
          expect(run.err).to.contain(`is Node ${version}; Ferry needs 20.19.0 or newer (fix: FERRY_NODE_SOURCE=nodesource`);
          expect(named(run, 'npm')).to.deep.equal([]);
        }
      });
    }

    it('FERRY_NODE_SOURCE=system installs no package and downloads nothing', () => {
      const run = track(ok(devstack(['stack install'], { FERRY_NODE_SOURCE: 'system' })));
      expect(named(run, 'install_package')).to.deep.equal([]);
      expect(named(run, 'curl')).to.deep.equal([]);
      expect(named(run, 'npm').map((c) => c.args[0])).to.deep.equal(['ci', 'run', 'prune']);
    });

    it('on the RHEL family enables the nodejs:20 module stream and installs nodejs and npm from the distribution', () => {
      const run = track(ok(devstack(['stack install'], { FAKE_OS: 'rpm' })));
      expectOrder(run, ['dnf', '-y', 'module', 'reset', 'nodejs'], ['dnf', '-y', 'module', 'enable', 'nodejs:20'], ['install_package', 'nodejs', 'npm']);
      expect(named(run, 'curl')).to.deep.equal([]);
      expect(existsSync(run.at('etc/apt/sources.list.d/nodesource.sources'))).to.equal(false);
    });

    it('without a nodejs module stream (RHEL 10, Fedora) installs the default nodejs', () => {
      const run = track(ok(devstack(['stack install'], { FAKE_OS: 'rpm', FAKE_DNF_STREAM_RC: '1' })));
      expect(named(run, 'dnf').map((c) => c.args.join(' '))).to.deep.equal(['-q module info nodejs:20']);
      indexOf(run, 'install_package', 'nodejs', 'npm');
    });

    it('an unknown FERRY_NODE_SOURCE is an error naming the choices', () => {
      const run = track(devstack(['stack install'], { FERRY_NODE_SOURCE: 'tarball' }));
      expect(run.code).to.equal(1);
      expect(run.err).to.contain('FERRY_NODE_SOURCE=tarball: expected nodesource, distro or system');
    });

    it('FERRY_DEV_DEPS=True keeps the dev dependencies (no prune)', () => {
      const run = track(ok(devstack(['stack install'], { FERRY_NODE_SOURCE: 'system', FERRY_DEV_DEPS: 'True' })));
      expect(named(run, 'npm').map((c) => c.args[0])).to.deep.equal(['ci', 'run']);
    });

    it('stops when npm ci fails, before building', () => {
      const run = track(devstack(['stack install'], { FERRY_NODE_SOURCE: 'system', FAKE_NPM_CI_RC: '1' }));
      expect(run.code).to.equal(1);
      expect(run.err).to.contain(`npm ci failed in ${run.at('opt/stack/ferry')}`);
      expect(named(run, 'npm').map((c) => c.args[0])).to.deep.equal(['ci']);
    });
  });

  describe('stack post-config', () => {
    it('writes ferry.conf from the daemon\'s sample: catalog (dbcounter dropped), API, token validation, sites; accounts', () => {
      const run = track(ok(devstack(['stack install', 'stack post-config'])));
      const confPath = run.at('etc/ferry/ferry.conf');
      const text = readFileSync(confPath, 'utf8');
      // started from `ferry config sample`: its comments are still there
      expect(text.startsWith('# ferry.conf sample\n[DEFAULT]\n')).to.equal(true);
      expect(text).to.contain('\n#state_path = /var/lib/ferry\n').and.to.contain('\n#connection = sqlite://$state_path/catalog.db\n');
      const sample = named(run, 'node').find((c) => c.args.slice(1).join(' ') === 'config sample');
      expect(sample?.args[0]).to.equal(run.at('opt/stack/ferry/bin/ferry.js'));
      const clouds = run.at('etc/ferry/clouds.yaml');
      expect(parseIni(text)).to.deep.equal({
        DEFAULT: { state_path: run.at('opt/stack/data/ferry'), clouds_file: clouds },
        database: { connection: 'mysql+pymysql://root:db-secret@10.0.0.5/ferry?charset=utf8' },
        logging: { debug: 'True' },
        api: { enabled: 'True', bind_host: '0.0.0.0', bind_port: '8797' },
        metrics: { enabled: 'True' },
        keystone_authtoken: { cloud: 'ferry-service' },
        oslo_policy: { policy_file: run.at('etc/ferry/policy.yaml') },
        health: { sites: 'devstack-admin' },
      });
      expect(mode(confPath)).to.equal('640');
      expect(mode(run.at('etc/ferry'))).to.equal('750');

      // DevStack's clouds.yaml, copied for the daemon alone, plus the service user's cloud
      expect(readFileSync(clouds, 'utf8')).to.equal(readFileSync(run.at('etc/openstack/clouds.yaml'), 'utf8'));
      expect(mode(clouds)).to.equal('600');
      expect(named(run, 'python').map((c) => c.args)).to.deep.equal([
        [
          run.at('devstack/tools/update_clouds_yaml.py'),
          '--file', clouds,
          '--os-cloud', 'ferry-service',
          '--os-region-name', 'RegionOne',
          '--os-auth-url', 'http://10.0.0.5/identity',
          '--os-username', 'ferry',
          '--os-password', 'svc-secret',
          '--os-project-name', 'service',
        ],
      ]);

      expectOrder(
        run,
        ['echo_summary', 'Configuring Ferry'],
        ['database_connection_url', 'ferry'],
        ['create_service_user', 'ferry'],
        ['get_or_create_service', 'ferry', 'disaster-recovery', 'Ferry disaster recovery'],
        ['get_or_create_endpoint', 'disaster-recovery', 'RegionOne', 'http://10.0.0.5:8797'],
      );
    });

    it('writes a ferry.conf the daemon reads without a warning, starting from the daemon\'s real sample', () => {
      const samplePath = join(mkdtempSync(join(tmpdir(), 'ferry-sample-')), 'ferry.conf.sample');
      dirs.push(join(samplePath, '..'));
      writeFileSync(samplePath, `${sampleConfig()}\n`);
      const run = track(
        ok(devstack(['stack post-config'], { FAKE_CONFIG_SAMPLE: samplePath, FERRY_PEER_AUTH_URL: 'http://10.0.0.9/identity', FERRY_PEER_PASSWORD: 'p' })),
      );
      const confPath = run.at('etc/ferry/ferry.conf');
      const loaded = parseDaemonConfig(readFileSync(confPath, 'utf8'), confPath);
      expect(loaded.warnings).to.deep.equal([]);
      const c = loaded.config;
      expect(c.DEFAULT.state_path).to.equal(run.at('opt/stack/data/ferry'));
      expect(c.DEFAULT.clouds_file).to.equal(run.at('etc/ferry/clouds.yaml'));
      expect(c.database.connection).to.equal('mysql+pymysql://root:db-secret@10.0.0.5/ferry?charset=utf8');
      expect(c.logging.debug).to.equal(true);
      expect(c.api.bind_host).to.equal('0.0.0.0');
      expect(c.api.bind_port).to.equal(8797);
      expect(c.api.auth_strategy).to.equal('keystone');
      expect(c.keystone_authtoken.cloud).to.equal('ferry-service');
      expect(c.health.sites).to.deep.equal(['devstack-admin', 'peer-admin']);
    });

    it('doubles a $ of the database password, which ferry.conf would substitute', () => {
      const samplePath = join(mkdtempSync(join(tmpdir(), 'ferry-sample-')), 'ferry.conf.sample');
      dirs.push(join(samplePath, '..'));
      writeFileSync(samplePath, `${sampleConfig()}\n`);
      const run = track(ok(devstack(['stack post-config'], { FAKE_CONFIG_SAMPLE: samplePath, FAKE_BASE_SQL_CONN: 'mysql+pymysql://root:pa$sw0rd@10.0.0.5' })));
      const confPath = run.at('etc/ferry/ferry.conf');
      expect(readFileSync(confPath, 'utf8')).to.contain('\nconnection = mysql+pymysql://root:pa$$sw0rd@10.0.0.5/ferry?charset=utf8\n');
      expect(parseDaemonConfig(readFileSync(confPath, 'utf8'), confPath).config.database.connection).to.equal(
        'mysql+pymysql://root:pa$sw0rd@10.0.0.5/ferry?charset=utf8',
      );
    });

    it('keeps the catalog URL as DevStack gives it when MYSQL_GATHER_PERFORMANCE is off', () => {
      const run = track(ok(devstack(['stack post-config'], { MYSQL_GATHER_PERFORMANCE: 'False', FERRY_NODE_SOURCE: 'system' })));
      const conf = parseIni(readFileSync(run.at('etc/ferry/ferry.conf'), 'utf8'));
      expect(conf.database.connection).to.equal('mysql+pymysql://root:db-secret@10.0.0.5/ferry?charset=utf8');
    });

    it('FERRY_DATABASE_CONNECTION is used as given, and that catalog is never dropped', () => {
      const url = 'sqlite:///opt/stack/data/ferry/catalog.db';
      const run = track(ok(devstack(['stack post-config', 'stack extra'], { FERRY_DATABASE_CONNECTION: url })));
      expect(parseIni(readFileSync(run.at('etc/ferry/ferry.conf'), 'utf8')).database.connection).to.equal(url);
      expect(named(run, 'database_connection_url')).to.deep.equal([]);
      expect(named(run, 'recreate_database')).to.deep.equal([]);
    });

    it('refuses a PostgreSQL DevStack, with the fix', () => {
      const run = track(devstack(['stack post-config'], { FAKE_DATABASE_TYPE: 'postgresql' }));
      expect(run.code).to.equal(1);
      expect(run.err).to.contain("Ferry's catalog needs MySQL/MariaDB or SQLite, and DevStack's database is 'postgresql'");
      expect(run.err).to.contain('FERRY_DATABASE_CONNECTION=sqlite:///');
      expect(existsSync(run.at('etc/ferry/ferry.conf'))).to.equal(false);
    });

    it('adds the peer site to the daemon\'s clouds.yaml with DevStack\'s update_clouds_yaml.py', () => {
      const run = track(
        ok(
          devstack(['stack post-config'], {
            FERRY_PEER_AUTH_URL: 'http://10.0.0.9/identity',
            FERRY_PEER_PASSWORD: 'peer-secret',
            FERRY_PEER_CLOUD: 'site-b',
          }),
        ),
      );
      const py = named(run, 'python');
      expect(py.map((c) => c.args[4])).to.deep.equal(['ferry-service', 'site-b']);
      expect(py[1]!.args).to.deep.equal([
        run.at('devstack/tools/update_clouds_yaml.py'),
        '--file', run.at('etc/ferry/clouds.yaml'),
        '--os-cloud', 'site-b',
        '--os-region-name', 'RegionOne',
        '--os-auth-url', 'http://10.0.0.9/identity',
        '--os-username', 'admin',
        '--os-password', 'peer-secret',
        '--os-project-name', 'admin',
      ]);
    });

    it('gives this site the name FERRY_LOCAL_CLOUD with DevStack\'s admin credentials', () => {
      const run = track(ok(devstack(['stack post-config', 'stack test-config'], { FERRY_LOCAL_CLOUD: 'site-b' })));
      expect(named(run, 'python').map((c) => c.args.slice(1)).slice(1)).to.deep.equal([
        [
          '--file', run.at('etc/ferry/clouds.yaml'),
          '--os-cloud', 'site-b',
          '--os-region-name', 'RegionOne',
          '--os-auth-url', 'http://10.0.0.5/identity',
          '--os-username', 'admin',
          '--os-password', 'admin-secret',
          '--os-project-name', 'admin',
        ],
      ]);
      expect(named(run, 'node').filter((c) => c.args[1] === 'sites').map((c) => c.args.slice(1))).to.deep.equal([['sites', 'check', 'site-b']]);
    });

    it('a peer without a password is an error', () => {
      const run = track(devstack(['stack post-config'], { FERRY_PEER_AUTH_URL: 'http://10.0.0.9/identity' }));
      expect(run.code).to.equal(1);
      expect(run.err).to.contain('FERRY_PEER_AUTH_URL is set but FERRY_PEER_PASSWORD is empty');
    });

    it('creates no accounts without Keystone, and no endpoint with FERRY_REGISTER_ENDPOINT=False', () => {
      const noKeystone = track(ok(devstack(['stack post-config'], { FAKE_DISABLED: 'keystone' })));
      expect(named(noKeystone, 'create_service_user')).to.deep.equal([]);
      expect(named(noKeystone, 'get_or_create_service')).to.deep.equal([]);
      const noEndpoint = track(ok(devstack(['stack post-config'], { FERRY_REGISTER_ENDPOINT: 'False' })));
      indexOf(noEndpoint, 'create_service_user', 'ferry');
      expect(named(noEndpoint, 'get_or_create_service')).to.deep.equal([]);
      expect(named(noEndpoint, 'get_or_create_endpoint')).to.deep.equal([]);
    });
  });

  describe('stack extra', () => {
    it('recreates the catalog database, checks ferry.conf, starts devstack@ferry and waits for /healthz', () => {
      const run = track(ok(devstack(['stack post-config', 'stack extra'])));
      const node = run.at('bin/node');
      const cli = run.at('opt/stack/ferry/bin/ferry.js');
      const conf = run.at('etc/ferry/ferry.conf');
      expectOrder(
        run,
        ['echo_summary', 'Initializing and starting Ferry'],
        ['recreate_database', 'ferry'],
        ['node', cli, 'config', 'check', '--config', conf, '-f', 'json'],
        ['run_process', 'ferry'],
        ['wait_for_service', '60', 'http://10.0.0.5:8797/healthz'],
      );
      // no migration step by default: the daemon migrates the catalog when it opens it
      expect(named(run, 'node').filter((c) => c.args.includes('--migrate-only'))).to.deep.equal([]);
      // systemd needs an absolute command; the sites come from ferry.conf's clouds_file
      expect(named(run, 'run_process')).to.deep.equal([{ name: 'run_process', args: ['ferry', `${node} ${cli} daemon --config ${conf}`] }]);
    });

    it('stops before starting the daemon when ferry.conf has problems', () => {
      const run = track(devstack(['stack extra'], { FAKE_CONFIG_CHECK_RC: '2' }));
      expect(run.code).to.equal(1);
      expect(run.err).to.contain(`${run.at('etc/ferry/ferry.conf')} has problems (listed above)`);
      expect(named(run, 'run_process')).to.deep.equal([]);
    });

    it('runs FERRY_MIGRATE_CMD after the check, with the daemon\'s sites, and stops when it fails', () => {
      const migrate = 'daemon --config /etc/x.conf --migrate-only';
      const run = track(ok(devstack(['stack extra'], { FERRY_MIGRATE_CMD: migrate })));
      const cli = run.at('opt/stack/ferry/bin/ferry.js');
      expectOrder(run, ['node', cli, 'config', 'check'], ['node', cli, 'daemon', '--config', '/etc/x.conf', '--migrate-only'], ['run_process', 'ferry']);
      expect(run.calls[indexOf(run, 'node', cli, 'daemon')]!.env).to.equal(`OS_CLIENT_CONFIG_FILE=${run.at('etc/ferry/clouds.yaml')}`);

      const failed = track(devstack(['stack extra'], { FERRY_MIGRATE_CMD: migrate, FAKE_MIGRATE_RC: '1' }));
      expect(failed.code).to.equal(1);
      expect(failed.err).to.contain(`the catalog migration failed: ferry ${migrate}`);
      expect(named(failed, 'run_process')).to.deep.equal([]);
    });

    it('fails the stack when /healthz does not answer, pointing at the journal', () => {
      const run = track(devstack(['stack extra'], { FAKE_HEALTHZ_RC: '124' }));
      expect(run.code).to.equal(1);
      expect(run.err).to.contain('the Ferry daemon did not answer http://10.0.0.5:8797/healthz within 60s (fix: sudo journalctl -u devstack@ferry)');
    });
  });

  describe('stack test-config', () => {
    it('checks the local site (and the peer) with ferry sites check, using the daemon\'s clouds.yaml', () => {
      const run = track(
        ok(devstack(['stack test-config'], { FERRY_PEER_AUTH_URL: 'http://10.0.0.9/identity', FERRY_PEER_PASSWORD: 'x' })),
      );
      const check = named(run, 'node').filter((c) => c.args[1] === 'sites');
      expect(check.map((c) => c.args.slice(1))).to.deep.equal([['sites', 'check', 'devstack-admin', 'peer-admin']]);
      expect(check[0]!.env).to.equal(`OS_CLIENT_CONFIG_FILE=${run.at('etc/ferry/clouds.yaml')}`);
    });

    it('a failed check is a warning, not a failed stack; FERRY_CHECK_SITES=False skips it', () => {
      const failed = track(ok(devstack(['stack test-config'], { FAKE_SITES_CHECK_RC: '1' })));
      expect(named(failed, 'warn')).to.have.length(1);
      expect(named(failed, 'warn')[0]!.args[1]).to.contain('ferry sites check devstack-admin failed');
      const skipped = track(ok(devstack(['stack test-config'], { FERRY_CHECK_SITES: 'False' })));
      expect(named(skipped, 'node')).to.deep.equal([]);
    });
  });

  describe('unstack and clean (fresh shells, as unstack.sh and clean.sh)', () => {
    it('unstack stops devstack@ferry and nothing else', () => {
      const run = track(ok(devstack(['unstack'])));
      expect(run.calls.filter((c) => !['define_plugin', 'enable_service', 'phase', 'end'].includes(c.name))).to.deep.equal([
        { name: 'stop_process', args: ['ferry'] },
      ]);
    });

    it('clean removes the configuration, the state and the link, and leaves an operator\'s file in /etc/ferry', () => {
      const stacked = track(ok(devstack(FULL_STACK)));
      const { at } = stacked;
      writeFileSync(at('opt/stack/data/ferry/catalog.db'), 'x');
      expect(lstatSync(at('usr/local/bin/ferry')).isSymbolicLink()).to.equal(true);
      ok(devstack(['clean'], {}, stacked.w));
      expect(existsSync(at('etc/ferry'))).to.equal(false);
      expect(existsSync(at('opt/stack/data/ferry'))).to.equal(false);
      expect(existsSync(at('usr/local/bin/ferry'))).to.equal(false);
      // the checkout and Node's repository stay
      expect(existsSync(at('opt/stack/ferry/package.json'))).to.equal(true);
      expect(existsSync(at('etc/apt/sources.list.d/nodesource.sources'))).to.equal(true);

      const again = track(ok(devstack(['stack post-config'])));
      writeFileSync(again.at('etc/ferry/policy.yaml'), '"plan:failover": "role:admin"\n');
      ok(devstack(['clean'], {}, again.w));
      expect(existsSync(again.at('etc/ferry/ferry.conf'))).to.equal(false);
      expect(existsSync(again.at('etc/ferry/clouds.yaml'))).to.equal(false);
      expect(existsSync(again.at('etc/ferry/policy.yaml'))).to.equal(true);
    });
  });

  it('does nothing in any phase when the ferry service is disabled', () => {
    const run = track(ok(devstack([...FULL_STACK, 'unstack', 'clean'], { FAKE_DISABLED: 'ferry' })));
    expect([...new Set(run.calls.map((c) => c.name))]).to.deep.equal(['define_plugin', 'enable_service', 'phase', 'end']);
  });

  it('runs the whole stack.sh sequence with one summary per phase', () => {
    const run = track(ok(devstack(FULL_STACK)));
    expect(named(run, 'echo_summary').map((c) => c.args[0])).to.deep.equal([
      'Installing Ferry',
      'Configuring Ferry',
      'Initializing and starting Ferry',
      "Checking Ferry's sites",
    ]);
    expect(run.calls.at(-1)?.name).to.equal('end');
  });

  it('the test harness is shellcheck-clean (the plugin itself: bash devstack/lint.sh)', function () {
    const shellcheck = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
    if (shellcheck.status !== 0) this.skip();
    const r = spawnSync('shellcheck', ['-x', '-P', 'SCRIPTDIR', '-S', 'style', 'stubs.sh'], {
      cwd: join(ROOT, 'spec/unit/devstack'),
      encoding: 'utf8',
    });
    expect(r.stdout + r.stderr).to.equal('');
    expect(r.status).to.equal(0);
  });
});

describe('systemd unit (devstack/files/ferry.service)', () => {
  /** Keys of one section; a repeated key keeps every value. */
  function unitSection(text: string, section: string): Map<string, string[]> {
    const keys = new Map<string, string[]>();
    let inSection = false;
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      if (line.startsWith('[')) {
        inSection = line === `[${section}]`;
        continue;
      }
      if (!inSection) continue;
      const eq = line.indexOf('=');
      const key = line.slice(0, eq);
      keys.set(key, [...(keys.get(key) ?? []), line.slice(eq + 1)]);
    }
    return keys;
  }

  const text = readFileSync(UNIT, 'utf8');
  const service = unitSection(text, 'Service');
  const one = (key: string) => {
    const v = service.get(key);
    expect(v, `[Service] ${key}`).to.have.length(1);
    return v![0];
  };

  it('runs the package\'s bin script from /opt/ferry with /etc/ferry/ferry.conf, as user ferry', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { ferry: string } };
    const bin = pkg.bin.ferry.replace(/^\.\//, '');
    expect(existsSync(join(ROOT, bin)), `package.json bin ${bin}`).to.equal(true);
    expect(one('ExecStart')).to.equal(`/usr/bin/node /opt/ferry/${bin} daemon --config /etc/ferry/ferry.conf`);
    expect(one('User')).to.equal('ferry');
    expect(one('Group')).to.equal('ferry');
    expect(service.get('Environment')).to.include('OS_CLIENT_CONFIG_FILE=/etc/ferry/clouds.yaml');
  });

  it('owns /var/lib/ferry and /var/log/ferry, drains on SIGTERM, restarts on failure, and is hardened', () => {
    expect(one('StateDirectory')).to.equal('ferry');
    expect(one('LogsDirectory')).to.equal('ferry');
    expect(one('KillSignal')).to.equal('SIGTERM');
    expect(Number.parseInt(one('TimeoutStopSec')!, 10)).to.be.at.least(60);
    expect(one('Restart')).to.equal('on-failure');
    expect(one('NoNewPrivileges')).to.equal('yes');
    expect(one('ProtectSystem')).to.equal('strict');
    expect(one('ReadWritePaths')!.split(' ')).to.have.members(['/var/lib/ferry', '/var/log/ferry']);
    expect(one('PrivateTmp')).to.equal('yes');
    expect(one('CapabilityBoundingSet')).to.equal('');
    // V8's JIT needs W+X pages: this option would kill node at start
    expect(service.has('MemoryDenyWriteExecute')).to.equal(false);
    expect(unitSection(text, 'Install').get('WantedBy')).to.deep.equal(['multi-user.target']);
  });

  it('passes systemd-analyze verify', function () {
    const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    if (r.error) this.skip();
    // other units on the machine may warn; nothing may be said about this one
    const ours = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('ferry.service'));
    expect(ours).to.deep.equal([]);
    expect(r.status).to.equal(0);
  });
});
