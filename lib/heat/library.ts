// The template library: the files under heat-templates/ (nested templates for the DR::*
// types, the environments that bind them per mode, and the example pairs), read once and
// handed to the generator as data, so that generation itself stays pure. Also the list of
// validation cases `npm run validate:heat` sends to a real Heat (validate.ts).
//
// Layout (like openstack/heat-templates):
//   nested/<type>.yaml               a DR::* implementation (only OS::* resources inside)
//   environments/<name>_env.yaml     resource_registry (paths relative to the file) + parameter_defaults
//   examples/<name>.yaml             a top template, paired with examples/<name>_env.yaml
//
// Registry paths are normalised to paths relative to the library root (`nested/server.yaml`):
// that is the key a nested template gets in a stack's `files` map, and where it sits when a
// generated stack is written out next to its environment for the openstack CLI.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ConfigError } from '../errors.js';
import type { RecoveryMode } from './types.js';

// ---- types ----------------------------------------------------------------

/** The abstract types generated templates use; every environment binds each of them. */
export const DR_TYPES = [
  'DR::Network',
  'DR::Subnet',
  'DR::SecurityGroup',
  'DR::Port',
  'DR::FloatingIP',
  'DR::Volume',
  'DR::VolumeAttachment',
  'DR::Server',
] as const;
export type DrType = (typeof DR_TYPES)[number];

/** Which environment file binds the DR::* types in each mode. */
export const MODE_ENVIRONMENTS: Record<RecoveryMode, string> = {
  failover: 'environments/production_env.yaml',
  drtest: 'environments/drtest_env.yaml',
  standby: 'environments/standby_env.yaml',
};

export interface LibraryEnvironment {
  /** Path relative to the library root. */
  path: string;
  text: string;
  /** DR type → a library path (`nested/server.yaml`) or a built-in type (`OS::Heat::None`). */
  registry: Record<string, string>;
  parameterDefaults: Record<string, unknown>;
  /** Values for the top template's parameters (examples' pairs). */
  parameters: Record<string, unknown>;
}

export interface LibraryExample {
  name: string;
  template: { path: string; text: string };
  /** The `<name>_env.yaml` pair, when there is one. */
  environment?: LibraryEnvironment;
}

export interface TemplateLibrary {
  /** Absolute path of the library (heat-templates/). */
  root: string;
  /** Nested templates by library path (`nested/server.yaml`). */
  nested: Record<string, string>;
  /** Environments by library path. */
  environments: Record<string, LibraryEnvironment>;
  examples: LibraryExample[];
}

/** One template (with its environment and files) to validate against a real Heat. */
export interface ValidationCase {
  name: string;
  template: string;
  environment?: Record<string, unknown>;
  files?: Record<string, string>;
}

// ---- loading ----------------------------------------------------------------

/** heat-templates/ of this checkout (from lib/heat or dist/lib/heat). */
export function defaultLibraryRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const candidate = join(here, up, 'heat-templates');
    if (existsSync(join(candidate, 'nested'))) return candidate;
  }
  throw new ConfigError('the template library was not found', join(here, '../../heat-templates'), undefined, 'run Ferry from its checkout or package, which ships heat-templates/');
}

const yamlFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort() : []);

/** Reads the library from disk. Throws ConfigError naming the file for unreadable YAML or a registry path outside the library. */
export function loadTemplateLibrary(root: string = defaultLibraryRoot()): TemplateLibrary {
  const nested: Record<string, string> = {};
  for (const f of yamlFiles(join(root, 'nested'))) nested[`nested/${f}`] = readFileSync(join(root, 'nested', f), 'utf8');
  const environments: Record<string, LibraryEnvironment> = {};
  for (const f of yamlFiles(join(root, 'environments'))) {
    const path = `environments/${f}`;
    environments[path] = parseEnvironment(root, path, readFileSync(join(root, path), 'utf8'));
  }
  const exampleFiles = yamlFiles(join(root, 'examples'));
  const examples: LibraryExample[] = [];
  for (const f of exampleFiles.filter((n) => !n.endsWith('_env.yaml'))) {
    const name = f.slice(0, -'.yaml'.length);
    const path = `examples/${f}`;
    const envFile = `${name}_env.yaml`;
    const example: LibraryExample = { name, template: { path, text: readFileSync(join(root, path), 'utf8') } };
    if (exampleFiles.includes(envFile)) example.environment = parseEnvironment(root, `examples/${envFile}`, readFileSync(join(root, 'examples', envFile), 'utf8'));
    examples.push(example);
  }
  return { root, nested, environments, examples };
}

let cached: TemplateLibrary | undefined;

/** The checkout's library, read on first use and kept. */
export function defaultLibrary(): TemplateLibrary {
  cached ??= loadTemplateLibrary();
  return cached;
}

/** Parses an environment file and normalises its registry to library paths. */
export function parseEnvironment(root: string, path: string, text: string): LibraryEnvironment {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError(`not valid YAML: ${(err as Error).message}`, join(root, path));
  }
  const env = (doc ?? {}) as Record<string, unknown>;
  const registry: Record<string, string> = {};
  const raw = (env.resource_registry ?? {}) as Record<string, unknown>;
  for (const [type, target] of Object.entries(raw)) {
    if (typeof target !== 'string') continue; // per-resource sections (`resources:`) are not used by Ferry
    registry[type] = target.startsWith('OS::') ? target : libraryPath(root, path, target);
  }
  return {
    path,
    text,
    registry,
    parameterDefaults: (env.parameter_defaults ?? {}) as Record<string, unknown>,
    parameters: (env.parameters ?? {}) as Record<string, unknown>,
  };
}

/** `../nested/server.yaml` seen from `environments/x_env.yaml` → `nested/server.yaml`; refuses paths leaving the library. */
export function libraryPath(root: string, from: string, target: string): string {
  const resolved = posix.normalize(posix.join(posix.dirname(from), target));
  if (resolved.startsWith('..') || posix.isAbsolute(resolved)) {
    throw new ConfigError(`resource_registry entry '${target}' points outside the template library`, join(root, from), 'resource_registry', 'use a path relative to the environment file inside heat-templates/');
  }
  return resolved;
}

// ---- per mode -------------------------------------------------------------------

/** The environment binding the DR::* types in a mode. */
export function modeEnvironment(lib: TemplateLibrary, mode: RecoveryMode): LibraryEnvironment {
  const env = lib.environments[MODE_ENVIRONMENTS[mode]];
  if (!env) throw new ConfigError(`the environment for ${mode} is missing`, join(lib.root, MODE_ENVIRONMENTS[mode]));
  return env;
}

/** The nested templates an environment's registry refers to (the stack's `files`), by library path. */
export function filesFor(lib: TemplateLibrary, env: LibraryEnvironment): Record<string, string> {
  const files: Record<string, string> = {};
  for (const target of Object.values(env.registry).sort()) {
    if (target.startsWith('OS::')) continue;
    const text = lib.nested[target];
    if (text === undefined) throw new ConfigError(`resource_registry names ${target}, which is not in the library`, join(lib.root, env.path), 'resource_registry');
    files[target] = text;
  }
  return files;
}

/** The environment as Heat takes it: registry entries are `files` keys (library paths). */
export function heatEnvironment(env: LibraryEnvironment): Record<string, unknown> {
  const registry: Record<string, string> = {};
  for (const type of Object.keys(env.registry).sort()) registry[type] = env.registry[type]!;
  const out: Record<string, unknown> = { parameter_defaults: { ...env.parameterDefaults } };
  if (Object.keys(env.parameters).length > 0) out.parameters = { ...env.parameters };
  out.resource_registry = registry;
  return out;
}

// ---- checks and validation cases ------------------------------------------------------

/**
 * References Heat's validate API lets through and only a stack create reports (seen in the lab:
 * a get_param of an undeclared parameter validates fine): every get_param names a declared
 * parameter, every get_resource, get_attr and depends_on a resource, every condition a
 * declared condition.
 */
export function templateProblems(path: string, template: unknown): string[] {
  const problems: string[] = [];
  const t = (template ?? {}) as Record<string, unknown>;
  const params = new Set(Object.keys((t.parameters ?? {}) as object));
  const resources = (t.resources ?? {}) as Record<string, Record<string, unknown>>;
  const names = new Set(Object.keys(resources));
  const conditions = new Set(Object.keys((t.conditions ?? {}) as object));
  const first = (v: unknown) => (Array.isArray(v) ? v[0] : v);
  const walk = (v: unknown, where: string): void => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${where}[${i}]`));
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      const target = first(x);
      if (k === 'get_param' && typeof target === 'string' && !params.has(target) && !target.startsWith('OS::')) problems.push(`${path}: ${where} uses get_param ${target}, which is not a parameter`);
      if ((k === 'get_resource' || k === 'get_attr') && typeof target === 'string' && !names.has(target)) problems.push(`${path}: ${where} uses ${k} ${target}, which is not a resource`);
      if (k === 'if' && typeof target === 'string' && !conditions.has(target)) problems.push(`${path}: ${where} uses condition ${target}, which is not declared`);
      walk(x, `${where}.${k}`);
    }
  };
  for (const [name, r] of Object.entries(resources)) {
    const deps = r.depends_on === undefined ? [] : Array.isArray(r.depends_on) ? r.depends_on : [r.depends_on];
    for (const d of deps) if (typeof d === 'string' && !names.has(d)) problems.push(`${path}: resources.${name} depends on ${d}, which is not a resource`);
    if (typeof r.condition === 'string' && !conditions.has(r.condition)) problems.push(`${path}: resources.${name} has condition ${r.condition}, which is not declared`);
    walk(r.properties, `resources.${name}.properties`);
  }
  walk(t.outputs, 'outputs');
  walk(t.conditions, 'conditions');
  return problems;
}

/** Problems Heat would not report before a stack runs: environments not binding every DR::* type, broken references. */
export function libraryProblems(lib: TemplateLibrary): string[] {
  const problems: string[] = [];
  for (const [path, text] of Object.entries(lib.nested)) problems.push(...templateProblems(path, parse(text)));
  for (const ex of lib.examples) problems.push(...templateProblems(ex.template.path, parse(ex.template.text)));
  for (const env of Object.values(lib.environments)) {
    for (const type of DR_TYPES) if (!env.registry[type]) problems.push(`${env.path}: resource_registry does not bind ${type}`);
    for (const [type, target] of Object.entries(env.registry)) {
      if (!target.startsWith('OS::') && lib.nested[target] === undefined) problems.push(`${env.path}: ${type} is bound to ${target}, which does not exist`);
    }
  }
  for (const ex of lib.examples) if (!ex.environment) problems.push(`${ex.template.path}: no ${ex.name}_env.yaml beside it`);
  return problems;
}

/**
 * Everything `validate:heat` checks, as validation requests: each nested template alone, each
 * example with its pair, and each example with every mode's environment (the example's own
 * parameters kept), which proves each binding satisfies the interface the templates use.
 */
export function validationCases(lib: TemplateLibrary): ValidationCase[] {
  const cases: ValidationCase[] = [];
  for (const [path, text] of Object.entries(lib.nested)) cases.push({ name: path, template: text });
  for (const ex of lib.examples) {
    if (ex.environment) cases.push(environmentCase(lib, `${ex.template.path} + ${ex.environment.path}`, ex.template.text, ex.environment));
    for (const path of Object.values(MODE_ENVIRONMENTS)) {
      const env = lib.environments[path];
      if (!env) continue;
      // The mode's bindings and prefixes, the example's own values.
      const merged: LibraryEnvironment = {
        ...env,
        parameterDefaults: { ...ex.environment?.parameterDefaults, ...env.parameterDefaults },
        parameters: { ...ex.environment?.parameters },
      };
      cases.push(environmentCase(lib, `${ex.template.path} + ${path}`, ex.template.text, merged));
    }
  }
  return cases;
}

function environmentCase(lib: TemplateLibrary, name: string, template: string, env: LibraryEnvironment): ValidationCase {
  return { name, template, environment: heatEnvironment(env), files: filesFor(lib, env) };
}
