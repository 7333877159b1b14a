import { expect } from 'chai';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../lib/errors.js';
import { cloudFromEnv, configDirs, listClouds, loadCloud, withLabFallback, type LoadOptions } from '../../../lib/config/clouds.js';

function sandbox() {
  const root = mkdtempSync(join(tmpdir(), 'ferry-clouds-'));
  const cwd = join(root, 'cwd');
  const home = join(root, 'home');
  const etc = join(root, 'etc');
  for (const d of [cwd, join(home, '.config', 'openstack'), etc]) mkdirSync(d, { recursive: true });
  const opts = (env: NodeJS.ProcessEnv = {}): LoadOptions => ({ env, cwd, home, systemDirs: [etc] });
  return { root, cwd, home, etc, opts, userDir: join(home, '.config', 'openstack') };
}

const LAB = `clouds:
  lab-a:
    auth:
      auth_url: http://127.0.1.1:5000/v3
      username: admin
      password: admin
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
  lab-b:
    auth:
      auth_url: http://127.0.2.1:5000/v3
      username: admin
      project_name: admin
    interface: internal
    compute_endpoint_override: http://nova.example/v2.1
    block_storage_api_version: "3.50"
`;

function fails(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected ConfigError');
}

describe('clouds.yaml loader', () => {
  it('searches cwd, then the user folder, then /etc/openstack; the first file wins', () => {
    const s = sandbox();
    writeFileSync(join(s.etc, 'clouds.yaml'), LAB.replace('lab-a', 'from-etc'));
    expect(listClouds(s.opts())).to.include('from-etc');
    writeFileSync(join(s.userDir, 'clouds.yml'), LAB.replace('lab-a', 'from-user'));
    expect(listClouds(s.opts())).to.include('from-user').and.not.include('from-etc');
    writeFileSync(join(s.cwd, 'clouds.yaml'), LAB);
    expect(listClouds(s.opts())).to.include('lab-a').and.not.include('from-user');
  });

  it('honours XDG_CONFIG_HOME for the user folder', () => {
    expect(configDirs({ env: { XDG_CONFIG_HOME: '/x' }, cwd: '/c', home: '/h', systemDirs: ['/etc/openstack'] })).to.deep.equal(['/c', '/x/openstack', '/etc/openstack']);
  });

  it('OS_CLIENT_CONFIG_FILE comes first, and a missing one is an error naming it', () => {
    const s = sandbox();
    writeFileSync(join(s.cwd, 'clouds.yaml'), LAB.replace('lab-a', 'cwd-cloud'));
    const f = join(s.root, 'lab.yaml');
    writeFileSync(f, LAB);
    expect(loadCloud('lab-a', s.opts({ OS_CLIENT_CONFIG_FILE: f })).source).to.equal(f);
    const e = fails(() => loadCloud('lab-a', s.opts({ OS_CLIENT_CONFIG_FILE: join(s.root, 'nope.yaml') })));
    expect(e.message).to.match(/nope\.yaml.*OS_CLIENT_CONFIG_FILE/);
  });

  it('resolves a password cloud with its region, interface and defaults', () => {
    const s = sandbox();
    writeFileSync(join(s.cwd, 'clouds.yaml'), LAB);
    const c = loadCloud('lab-a', s.opts());
    expect(c.auth_type).to.equal('password');
    expect(c.region_name).to.equal('RegionOne');
    expect(c.interface).to.equal('public');
    expect(c.verify).to.equal(true);
    expect(c.auth.project_domain_name).to.equal('Default');
  });

  it('merges secure.yaml over clouds.yaml', () => {
    const s = sandbox();
    writeFileSync(join(s.cwd, 'clouds.yaml'), LAB);
    writeFileSync(join(s.userDir, 'secure.yaml'), 'clouds:\n  lab-b:\n    auth:\n      password: from-secure\n');
    const b = loadCloud('lab-b', s.opts());
    expect(b.auth.password).to.equal('from-secure');
    expect(b.auth.username).to.equal('admin');
    expect(b.auth.user_domain_name).to.equal('Default');
  });

  it('reads endpoint overrides, API versions and the interface', () => {
    const s = sandbox();
    writeFileSync(join(s.cwd, 'clouds.yaml'), LAB);
    writeFileSync(join(s.cwd, 'secure.yaml'), 'clouds:\n  lab-b:\n    auth:\n      password: x\n');
    const b = loadCloud('lab-b', s.opts());
    expect(b.interface).to.equal('internal');
    expect(b.endpoint_overrides).to.deep.equal({ compute: 'http://nova.example/v2.1' });
    expect(b.api_versions).to.deep.equal({ 'block-storage': '3.50' });
  });

  it('picks OS_CLOUD when no name is given', () => {
    const s = sandbox();
    writeFileSync(join(s.cwd, 'clouds.yaml'), LAB);
    expect(loadCloud(undefined, s.opts({ OS_CLOUD: 'lab-a' })).name).to.equal('lab-a');
  });

  it('builds a cloud from plain OS_* variables', () => {
    const s = sandbox();
    const env = {
      OS_AUTH_URL: 'https://k:5000/v3',
      OS_USERNAME: 'u',
      OS_PASSWORD: 'p',
      OS_PROJECT_NAME: 'proj',
      OS_USER_DOMAIN_NAME: 'Users',
      OS_PROJECT_DOMAIN_ID: 'pd',
      OS_REGION_NAME: 'R2',
      OS_INTERFACE: 'internalURL',
      OS_CACERT: '/ca.pem',
      OS_INSECURE: 'false',
    };
    const c = loadCloud(undefined, s.opts(env));
    expect(c.name).to.equal('envvars');
    expect(c.source).to.equal('environment');
    expect(c.auth).to.include({ auth_url: 'https://k:5000/v3', username: 'u', project_name: 'proj', user_domain_name: 'Users', project_domain_id: 'pd' });
    expect(c.region_name).to.equal('R2');
    expect(c.interface).to.equal('internal');
    expect(c.cacert).to.equal('/ca.pem');
    expect(c.verify).to.equal(true);
  });

  it('reads application credentials from the environment', () => {
    const env = { OS_AUTH_URL: 'https://k/v3', OS_APPLICATION_CREDENTIAL_ID: 'ac', OS_APPLICATION_CREDENTIAL_SECRET: 's', OS_AUTH_TYPE: 'v3applicationcredential' };
    const s = sandbox();
    const c = loadCloud(undefined, s.opts(env));
    expect(c.auth_type).to.equal('v3applicationcredential');
    expect(c.auth.application_credential_id).to.equal('ac');
  });

  it('infers the application-credential auth type from the secret', () => {
    const s = sandbox();
    writeFileSync(join(s.cwd, 'clouds.yaml'), 'clouds:\n  dr:\n    auth:\n      auth_url: https://k/v3\n      application_credential_id: ac\n      application_credential_secret: s\n');
    expect(loadCloud('dr', s.opts()).auth_type).to.equal('v3applicationcredential');
  });

  it('treats insecure: true and verify: false as no TLS verification, and verify: PATH as a CA', () => {
    const s = sandbox();
    writeFileSync(
      join(s.cwd, 'clouds.yaml'),
      'clouds:\n  a:\n    insecure: true\n    auth: {auth_url: u, username: x, password: y, project_name: p}\n  b:\n    verify: false\n    auth: {auth_url: u, username: x, password: y, project_name: p}\n  c:\n    verify: /etc/ssl/ca.pem\n    auth: {auth_url: u, username: x, password: y, project_name: p}\n',
    );
    expect(loadCloud('a', s.opts()).verify).to.equal(false);
    expect(loadCloud('b', s.opts()).verify).to.equal(false);
    const c = loadCloud('c', s.opts());
    expect(c.verify).to.equal(true);
    expect(c.cacert).to.equal('/etc/ssl/ca.pem');
  });

  it('names the file, cloud and key when the password is missing', () => {
    const s = sandbox();
    writeFileSync(join(s.cwd, 'clouds.yaml'), LAB);
    const e = fails(() => loadCloud('lab-b', s.opts()));
    expect(e.message).to.include(join(s.cwd, 'clouds.yaml'));
    expect(e.key).to.equal('clouds.lab-b.auth.password');
    expect(e.message).to.match(/:\d+:\d+: key 'clouds\.lab-b\.auth\.password': is missing \(fix: add password, here or in secure\.yaml\)/);
  });

  it('names the cloud when it is unknown and lists the known ones', () => {
    const s = sandbox();
    writeFileSync(join(s.cwd, 'clouds.yaml'), LAB);
    const e = fails(() => loadCloud('lab-c', s.opts()));
    expect(e.message).to.match(/cloud 'lab-c' not found \(known: lab-a, lab-b\)/);
  });

  it('reports YAML syntax errors with line and column', () => {
    const s = sandbox();
    writeFileSync(join(s.cwd, 'clouds.yaml'), 'clouds:\n  a:\n    auth: [unclosed\n');
    const e = fails(() => loadCloud('a', s.opts()));
    expect(e.message).to.match(/clouds\.yaml:\d+:\d+: invalid YAML/);
  });

  it('rejects a file without clouds:', () => {
    const s = sandbox();
    writeFileSync(join(s.cwd, 'clouds.yaml'), 'cloud:\n  a: {}\n');
    expect(fails(() => loadCloud('a', s.opts())).message).to.match(/has no 'clouds:' mapping/);
  });

  it('rejects a wrongly typed key with its position', () => {
    const s = sandbox();
    writeFileSync(join(s.cwd, 'clouds.yaml'), 'clouds:\n  a:\n    interface: sideways\n    auth: {auth_url: u, username: x, password: y, project_name: p}\n');
    const e = fails(() => loadCloud('a', s.opts()));
    expect(e.message).to.match(/clouds\.yaml:3:\d+: key 'clouds\.a\.interface'/);
  });

  it('says where it searched when there is nothing at all', () => {
    const s = sandbox();
    const e = fails(() => loadCloud(undefined, s.opts()));
    expect(e.message).to.match(/no clouds\.yaml found in .*cwd/);
    expect(e.message).to.match(/set OS_CLOUD/);
  });

  it('ignores OS_* variables without an auth URL', () => {
    expect(cloudFromEnv({ OS_USERNAME: 'u' })).to.equal(undefined);
  });

  it('never puts the password in an error message', () => {
    const s = sandbox();
    writeFileSync(join(s.cwd, 'clouds.yaml'), 'clouds:\n  a:\n    interface: sideways\n    auth: {auth_url: u, username: x, password: hunter2-secret, project_name: p}\n');
    expect(fails(() => loadCloud('a', s.opts())).message).not.to.include('hunter2-secret');
  });

  it('refuses vendor profiles it cannot apply, naming the key', () => {
    const s = sandbox();
    writeFileSync(join(s.cwd, 'clouds.yaml'), 'clouds:\n  v:\n    profile: vexxhost\n    auth: {auth_url: u, username: x, password: y, project_name: p}\n');
    const e = fails(() => loadCloud('v', s.opts()));
    expect(e.key).to.equal('clouds.v.profile');
    expect(e.message).to.match(/clouds\.yaml:3:\d+: .*vendor profiles are not supported/);
  });

  it('falls back to the lab clouds.yaml only when nothing else names a cloud', () => {
    const s = sandbox();
    const labDir = join(s.root, 'lab');
    mkdirSync(labDir);
    writeFileSync(join(labDir, 'clouds.yaml'), LAB);
    const env = { LAB_STATE: labDir };
    const fb = withLabFallback(s.opts(env));
    expect(fb.labFile).to.equal(join(labDir, 'clouds.yaml'));
    expect(listClouds(fb.load)).to.deep.equal(['lab-a', 'lab-b']);
    writeFileSync(join(s.cwd, 'clouds.yaml'), LAB.replace('lab-a', 'mine'));
    expect(withLabFallback(s.opts(env)).labFile).to.equal(undefined);
    expect(withLabFallback(s.opts({ ...env, OS_AUTH_URL: 'x' })).labFile).to.equal(undefined);
  });
});
