// Sites come from clouds.yaml, exactly as openstacksdk and gophercloud read it, so operators
// reuse the file they already have for the `openstack` CLI:
//  - files: $OS_CLIENT_CONFIG_FILE first, then ./clouds.{yaml,yml,json},
//    $XDG_CONFIG_HOME/openstack or ~/.config/openstack, /etc/openstack; the first found wins;
//  - secure.{yaml,yml,json} ($OS_CLIENT_SECURE_FILE first, same folders) is deep-merged over it;
//  - plain OS_* variables form a cloud named "envvars", used when no cloud is named and
//    OS_CLOUD is unset;
//  - a cloud is chosen by name, else $OS_CLOUD, else "envvars".
// Decisions (documented in docs/configuration.md): `domain_id`/`domain_name` fill missing user
// and project domains; a username with no user domain at all uses domain "Default", like the
// openstack CLI's --os-default-domain.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { readYamlFile, type YamlSource } from './yaml-source.js';

export type AuthType = 'password' | 'v3password' | 'token' | 'v3token' | 'v3applicationcredential' | 'application_credential';
export type Interface = 'public' | 'internal' | 'admin';

/** The `auth:` block of a cloud, wire names kept (keystoneauth option names). */
export interface CloudAuth {
  auth_url: string;
  username?: string;
  user_id?: string;
  password?: string;
  user_domain_name?: string;
  user_domain_id?: string;
  project_name?: string;
  project_id?: string;
  project_domain_name?: string;
  project_domain_id?: string;
  domain_name?: string;
  domain_id?: string;
  system_scope?: string;
  application_credential_id?: string;
  application_credential_name?: string;
  application_credential_secret?: string;
  token?: string;
}

/** One site's connection settings, resolved and validated. */
export interface CloudConfig {
  name: string;
  /** Where it came from: a file path or "environment". */
  source: string;
  auth_type: AuthType;
  auth: CloudAuth;
  region_name?: string;
  interface: Interface;
  /** Verify TLS certificates (false when `verify: false` or `insecure: true`). */
  verify: boolean;
  cacert?: string;
  cert?: string;
  key?: string;
  /** Per-request timeout in seconds (`api_timeout`). */
  api_timeout?: number;
  /** Service type → URL, from `<service>_endpoint_override` keys. */
  endpoint_overrides: Record<string, string>;
  /** Service type → wanted API (micro)version, from `<service>_api_version` keys. */
  api_versions: Record<string, string>;
}

const str = z.string().min(1);
const AuthSchema = z
  .object({
    auth_url: str.optional(),
    username: str.optional(),
    user_id: str.optional(),
    password: z.string().optional(),
    user_domain_name: str.optional(),
    user_domain_id: str.optional(),
    project_name: str.optional(),
    tenant_name: str.optional(),
    project_id: str.optional(),
    tenant_id: str.optional(),
    project_domain_name: str.optional(),
    project_domain_id: str.optional(),
    domain_name: str.optional(),
    domain_id: str.optional(),
    system_scope: str.optional(),
    application_credential_id: str.optional(),
    application_credential_name: str.optional(),
    application_credential_secret: z.string().optional(),
    token: z.string().optional(),
  })
  .loose();

const boolish = z.union([z.boolean(), z.enum(['true', 'false', 'True', 'False', '1', '0', 'yes', 'no'])]);

const CloudSchema = z
  .object({
    auth_type: z.enum(['password', 'v3password', 'token', 'v3token', 'v3applicationcredential', 'application_credential']).optional(),
    auth: AuthSchema.optional(),
    region_name: str.optional(),
    interface: z.enum(['public', 'internal', 'admin', 'publicURL', 'internalURL', 'adminURL']).optional(),
    endpoint_type: z.enum(['public', 'internal', 'admin', 'publicURL', 'internalURL', 'adminURL']).optional(),
    verify: z.union([boolish, str]).optional(),
    insecure: boolish.optional(),
    cacert: str.optional(),
    cert: str.optional(),
    key: str.optional(),
    api_timeout: z.union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?$/)]).optional(),
    identity_api_version: z.union([z.string(), z.number()]).optional(),
    profile: str.optional(),
  })
  .loose();

const FileSchema = z.object({ clouds: z.record(z.string(), z.unknown()) }).loose();

function truthy(v: unknown): boolean {
  return v === true || (typeof v === 'string' && ['true', 'True', '1', 'yes'].includes(v));
}

function normalizeInterface(v: string | undefined): Interface {
  if (!v) return 'public';
  return v.replace(/URL$/, '') as Interface;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isRecord(b) && isRecord(v) ? deepMerge(b, v) : v;
  }
  return out;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  home?: string;
  /** Folders searched after cwd and the user folder; default ["/etc/openstack"]. */
  systemDirs?: string[];
}

/** The folders searched for clouds.yaml / secure.yaml, in order. */
export function configDirs(opts: LoadOptions = {}): string[] {
  const env = opts.env ?? process.env;
  const home = opts.home ?? homedir();
  const user = env.XDG_CONFIG_HOME ? join(env.XDG_CONFIG_HOME, 'openstack') : join(home, '.config', 'openstack');
  return [opts.cwd ?? process.cwd(), user, ...(opts.systemDirs ?? ['/etc/openstack'])];
}

function findFirst(base: string, explicit: string | undefined, opts: LoadOptions): string | undefined {
  if (explicit) {
    if (!existsSync(explicit)) {
      const which = base === 'clouds' ? 'OS_CLIENT_CONFIG_FILE' : 'OS_CLIENT_SECURE_FILE';
      throw new ConfigError(`file named by ${which} does not exist`, explicit, undefined, `create it or unset ${which}`);
    }
    return explicit;
  }
  for (const dir of configDirs(opts)) {
    for (const ext of ['yaml', 'yml', 'json']) {
      const f = join(dir, `${base}.${ext}`);
      if (existsSync(f)) return f;
    }
  }
  return undefined;
}

/** Plain OS_* variables as a cloud (only the variables that are set). */
export function cloudFromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> | undefined {
  const pick = (...names: string[]) => names.map((n) => env[n]).find((v) => v !== undefined && v !== '');
  const auth: Record<string, string> = {};
  const map: [string, string[]][] = [
    ['auth_url', ['OS_AUTH_URL']],
    ['username', ['OS_USERNAME']],
    ['user_id', ['OS_USER_ID']],
    ['password', ['OS_PASSWORD']],
    ['user_domain_name', ['OS_USER_DOMAIN_NAME']],
    ['user_domain_id', ['OS_USER_DOMAIN_ID']],
    ['project_name', ['OS_PROJECT_NAME', 'OS_TENANT_NAME']],
    ['project_id', ['OS_PROJECT_ID', 'OS_TENANT_ID']],
    ['project_domain_name', ['OS_PROJECT_DOMAIN_NAME']],
    ['project_domain_id', ['OS_PROJECT_DOMAIN_ID']],
    ['domain_name', ['OS_DOMAIN_NAME']],
    ['domain_id', ['OS_DOMAIN_ID']],
    ['system_scope', ['OS_SYSTEM_SCOPE']],
    ['application_credential_id', ['OS_APPLICATION_CREDENTIAL_ID']],
    ['application_credential_name', ['OS_APPLICATION_CREDENTIAL_NAME']],
    ['application_credential_secret', ['OS_APPLICATION_CREDENTIAL_SECRET']],
    ['token', ['OS_TOKEN']],
  ];
  for (const [key, names] of map) {
    const v = pick(...names);
    if (v !== undefined) auth[key] = v;
  }
  if (!auth.auth_url) return undefined;
  const cloud: Record<string, unknown> = { auth };
  const region = pick('OS_REGION_NAME');
  if (region) cloud.region_name = region;
  const iface = pick('OS_INTERFACE', 'OS_ENDPOINT_TYPE');
  if (iface) cloud.interface = iface;
  const authType = pick('OS_AUTH_TYPE');
  if (authType) cloud.auth_type = authType;
  const cacert = pick('OS_CACERT');
  if (cacert) cloud.cacert = cacert;
  const cert = pick('OS_CERT');
  if (cert) cloud.cert = cert;
  const key = pick('OS_KEY');
  if (key) cloud.key = key;
  const insecure = pick('OS_INSECURE');
  if (insecure) cloud.insecure = insecure;
  return cloud;
}

function inferAuthType(auth: Record<string, unknown>): AuthType {
  if (auth.application_credential_secret !== undefined) return 'v3applicationcredential';
  if (auth.token !== undefined && auth.password === undefined) return 'v3token';
  return 'password';
}

/** Checks that the auth block has what its auth type needs; names the missing key. */
function checkAuth(type: AuthType, auth: CloudAuth, where: (k: string) => [string, string]): void {
  const missing = (key: string, fix: string): never => {
    const [file, path] = where(key);
    throw new ConfigError('is missing', file, path, fix);
  };
  if (!auth.auth_url) missing('auth_url', 'add the Keystone URL, e.g. auth_url: https://keystone.example:5000/v3');
  if (type === 'password' || type === 'v3password') {
    if (!auth.username && !auth.user_id) missing('username', 'add username (or user_id)');
    if (auth.password === undefined) missing('password', 'add password, here or in secure.yaml');
  } else if (type === 'v3applicationcredential' || type === 'application_credential') {
    if (!auth.application_credential_id && !auth.application_credential_name) {
      missing('application_credential_id', 'add application_credential_id (or application_credential_name with username)');
    }
    if (!auth.application_credential_id && !auth.username && !auth.user_id) {
      missing('username', 'an application credential given by name needs its owner: add username (or user_id)');
    }
    if (auth.application_credential_secret === undefined) missing('application_credential_secret', 'add the secret, here or in secure.yaml');
  } else if (auth.token === undefined) {
    missing('token', 'add token (or use auth_type: password)');
  }
}

function fillDomains(auth: CloudAuth): CloudAuth {
  const out: CloudAuth = { ...auth };
  const domainScoped = !out.project_id && !out.project_name && (out.domain_id || out.domain_name) && !out.system_scope;
  if (!out.user_domain_id && !out.user_domain_name) {
    if (out.domain_id) out.user_domain_id = out.domain_id;
    else if (out.domain_name) out.user_domain_name = out.domain_name;
    else if (out.username && !out.user_id) out.user_domain_name = 'Default';
  }
  if (!domainScoped && !out.project_domain_id && !out.project_domain_name && out.project_name && !out.project_id) {
    if (out.domain_id) out.project_domain_id = out.domain_id;
    else if (out.domain_name) out.project_domain_name = out.domain_name;
    else out.project_domain_name = 'Default';
  }
  return out;
}

/** Validates one raw cloud entry and resolves it into a CloudConfig. */
export function resolveCloud(name: string, raw: unknown, source: string, locate: (path: (string | number)[]) => string = () => source): CloudConfig {
  const parsed = CloudSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = ['clouds', name, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    throw new ConfigError(issue.message, locate(path), path.join('.'), 'see docs/configuration.md for the accepted keys');
  }
  const c = parsed.data;
  if (c.profile) {
    throw new ConfigError('vendor profiles are not supported', locate(['clouds', name, 'profile']), `clouds.${name}.profile`, "write the profile's auth_url, region_name and interface into the cloud entry");
  }
  const rawAuth = { ...(c.auth ?? {}) } as Record<string, unknown>;
  if (rawAuth.tenant_name && !rawAuth.project_name) rawAuth.project_name = rawAuth.tenant_name;
  if (rawAuth.tenant_id && !rawAuth.project_id) rawAuth.project_id = rawAuth.tenant_id;
  delete rawAuth.tenant_name;
  delete rawAuth.tenant_id;
  const authType = c.auth_type ?? inferAuthType(rawAuth);
  const auth = fillDomains(rawAuth as unknown as CloudAuth);
  checkAuth(authType, auth, (key) => {
    const path = ['clouds', name, 'auth', key];
    return [locate(['clouds', name, 'auth']), path.join('.')];
  });
  const overrides: Record<string, string> = {};
  const versions: Record<string, string> = {};
  for (const [k, v] of Object.entries(c)) {
    const m = /^(.+)_endpoint_override$/.exec(k);
    if (m && typeof v === 'string') overrides[m[1]!.replace(/_/g, '-')] = v;
    const mv = /^(.+)_api_version$/.exec(k);
    if (mv && (typeof v === 'string' || typeof v === 'number')) versions[mv[1]!.replace(/_/g, '-')] = String(v);
  }
  const insecure = truthy(c.insecure) || c.verify === false || c.verify === 'false' || c.verify === 'False';
  const cacert = c.cacert ?? (typeof c.verify === 'string' && !['true', 'false', 'True', 'False', '1', '0', 'yes', 'no'].includes(c.verify) ? c.verify : undefined);
  const out: CloudConfig = {
    name,
    source,
    auth_type: authType,
    auth,
    interface: normalizeInterface(c.interface ?? c.endpoint_type),
    verify: !insecure,
    endpoint_overrides: overrides,
    api_versions: versions,
  };
  if (c.region_name) out.region_name = c.region_name;
  if (cacert) out.cacert = cacert;
  if (c.cert) out.cert = c.cert;
  if (c.key) out.key = c.key;
  if (c.api_timeout !== undefined) out.api_timeout = Number(c.api_timeout);
  return out;
}

/** All clouds known from files and environment, before validation of any one of them. */
export interface CloudsFile {
  /** Path of the clouds.yaml used, if any. */
  file?: string;
  secureFile?: string;
  clouds: Record<string, unknown>;
  locate: (path: (string | number)[]) => string;
}

function readCloudsSource(src: YamlSource): Record<string, unknown> {
  const parsed = FileSchema.safeParse(src.data);
  if (!parsed.success) {
    throw new ConfigError("has no 'clouds:' mapping", src.locate([]), 'clouds', 'start the file with clouds: and one entry per cloud');
  }
  return parsed.data.clouds;
}

/** Reads clouds.yaml and secure.yaml (merged) and the OS_* cloud, following openstacksdk's search order. */
export function readClouds(opts: LoadOptions = {}): CloudsFile {
  const env = opts.env ?? process.env;
  const file = findFirst('clouds', env.OS_CLIENT_CONFIG_FILE, opts);
  const secureFile = findFirst('secure', env.OS_CLIENT_SECURE_FILE, opts);
  let clouds: Record<string, unknown> = {};
  let locate: (path: (string | number)[]) => string = () => file ?? 'environment';
  if (file) {
    const src = readYamlFile(file);
    clouds = readCloudsSource(src);
    locate = src.locate;
  }
  if (secureFile) {
    const secure = readCloudsSource(readYamlFile(secureFile));
    clouds = deepMerge(clouds, secure);
  }
  const envCloud = cloudFromEnv(env);
  if (envCloud) clouds = { ...clouds, envvars: envCloud };
  const out: CloudsFile = { clouds, locate };
  if (file) out.file = file;
  if (secureFile) out.secureFile = secureFile;
  return out;
}

/** Names of the clouds available (files and environment). */
export function listClouds(opts: LoadOptions = {}): string[] {
  return Object.keys(readClouds(opts).clouds);
}

/**
 * Loads one cloud by name (else $OS_CLOUD, else the OS_* variables) and validates it.
 * Every error names the file, the cloud and the key.
 */
export function loadCloud(name?: string, opts: LoadOptions = {}): CloudConfig {
  const env = opts.env ?? process.env;
  const all = readClouds(opts);
  const wanted = name ?? env.OS_CLOUD ?? (all.clouds.envvars ? 'envvars' : undefined);
  const searched = all.file ?? `no clouds.yaml found in ${configDirs(opts).join(', ')}`;
  if (!wanted) {
    throw new ConfigError('no cloud named and no OS_CLOUD or OS_AUTH_URL set', searched, undefined, 'pass a cloud name from clouds.yaml, or set OS_CLOUD');
  }
  const raw = all.clouds[wanted];
  if (raw === undefined) {
    const known = Object.keys(all.clouds);
    throw new ConfigError(
      `cloud '${wanted}' not found${known.length ? ` (known: ${known.join(', ')})` : ''}`,
      searched,
      `clouds.${wanted}`,
      'add it to clouds.yaml or point OS_CLIENT_CONFIG_FILE at the right file',
    );
  }
  const fromEnv = wanted === 'envvars' && cloudFromEnv(env) !== undefined;
  const source = fromEnv ? 'environment' : (all.file ?? all.secureFile ?? 'environment');
  return resolveCloud(wanted, raw, source, fromEnv ? () => 'environment (OS_* variables)' : all.locate);
}

/** Where the project's two-site lab writes its clouds.yaml (devstack/lab). */
export function labCloudsFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.LAB_STATE ?? '/var/lib/ferry-lab', 'clouds.yaml');
}

/**
 * Load options that fall back to the lab's clouds.yaml when nothing else names a cloud: no
 * clouds.yaml in the search path, no OS_CLIENT_CONFIG_FILE, no OS_AUTH_URL. Returns the file
 * used, so the CLI can say so.
 */
export function withLabFallback(opts: LoadOptions = {}): { load: LoadOptions; labFile?: string } {
  const env = opts.env ?? process.env;
  if (env.OS_CLIENT_CONFIG_FILE || env.OS_AUTH_URL || findFirst('clouds', undefined, opts)) return { load: opts };
  const lab = labCloudsFile(env);
  if (!existsSync(lab)) return { load: opts };
  return { load: { ...opts, env: { ...env, OS_CLIENT_CONFIG_FILE: lab } }, labFile: lab };
}
