// Validation of the template library against a real Heat (`npm run validate:heat`), the way
// openstack/heat-templates' tools/validate-templates does it: every nested template alone,
// every example with its `_env.yaml` pair, and every example with each mode's environment,
// through Heat's template validate API (nested stacks included). Before that, the checks Heat
// cannot make (every environment binds every DR::* type) and what the site must offer (the
// template version, the OS::* resource types the library uses).
import { withLabFallback } from '../config/clouds.js';
import { isStatus } from '../errors.js';
import { listTemplateVersions, missingResourceTypes, validateTemplate } from '../openstack/orchestration/templates.js';
import type { ServiceClient } from '../openstack/service-client.js';
import { Site } from '../openstack/site.js';
import { HEAT_TEMPLATE_VERSION } from './generate.js';
import { libraryProblems, loadTemplateLibrary, validationCases, type TemplateLibrary, type ValidationCase } from './library.js';

export interface ValidationResult {
  name: string;
  ok: boolean;
  /** Heat's reason for a failure. */
  detail?: string;
  ms: number;
}

/** The OS::* types a library's templates and environments use. */
export function resourceTypesUsed(lib: TemplateLibrary): string[] {
  const texts = [...Object.values(lib.nested), ...lib.examples.map((e) => e.template.text), ...Object.values(lib.environments).map((e) => e.text)];
  const types = new Set<string>();
  for (const t of texts) for (const m of t.matchAll(/\bOS::[A-Za-z]+::[A-Za-z]+\b/g)) types.add(m[0]);
  return [...types].sort();
}

/** Sends each case to Heat's validate API, in order; a failure is a result, not an exception (unless Heat is unreachable). */
export async function validateCases(sc: ServiceClient, cases: ValidationCase[], opts: { signal?: AbortSignal } = {}): Promise<ValidationResult[]> {
  const results: ValidationResult[] = [];
  for (const c of cases) {
    const t0 = Date.now();
    try {
      await validateTemplate(sc, { template: c.template, environment: c.environment, files: c.files }, { show_nested: true }, opts.signal);
      results.push({ name: c.name, ok: true, ms: Date.now() - t0 });
    } catch (err) {
      if (!isStatus(err, 400)) throw err;
      results.push({ name: c.name, ok: false, detail: err.detail ?? err.message, ms: Date.now() - t0 });
    }
  }
  return results;
}

export interface LibraryReport {
  problems: string[];
  results: ValidationResult[];
}

/** Static checks, then the site's capabilities, then every validation case. */
export async function validateLibrary(sc: ServiceClient, lib: TemplateLibrary, opts: { signal?: AbortSignal } = {}): Promise<LibraryReport> {
  const problems = libraryProblems(lib);
  const versions = await listTemplateVersions(sc, opts.signal);
  if (!versions.some((v) => v.version === `heat_template_version.${HEAT_TEMPLATE_VERSION}`)) {
    problems.push(`this Heat does not know heat_template_version ${HEAT_TEMPLATE_VERSION} (it knows ${versions.map((v) => v.version).join(', ')}); Ferry needs Wallaby or later`);
  }
  const missing = await missingResourceTypes(sc, resourceTypesUsed(lib), opts.signal);
  if (missing.length > 0) problems.push(`this Heat lacks resource types ${missing.join(', ')}`);
  const results = await validateCases(sc, validationCases(lib), opts);
  return { problems, results };
}

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

const USAGE = 'usage: validate-templates [--cloud NAME] [--library DIR]   (cloud default: $OS_CLOUD)';

/**
 * The `validate:heat` command: validates the library against the named cloud's Heat and
 * prints one line per case. Exit code 0 when everything passed, 1 when something failed,
 * 2 for bad usage.
 */
export async function runValidateTemplates(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let cloud = env.OS_CLOUD;
  let root: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--cloud' && argv[i + 1]) cloud = argv[++i];
    else if (a === '--library' && argv[i + 1]) root = argv[++i];
    else if (a === '-h' || a === '--help') {
      io.out(USAGE);
      return 0;
    } else {
      io.err(`unknown argument '${a}'\n${USAGE}`);
      return 2;
    }
  }
  const { load, labFile } = withLabFallback({ env });
  if (!cloud) {
    io.err(`name a cloud with --cloud NAME or OS_CLOUD${labFile ? ' (the lab: lab-b)' : ''}\n${USAGE}`);
    return 2;
  }
  if (labFile) io.err(`no clouds.yaml found; using the lab's ${labFile}`);
  const lib = loadTemplateLibrary(root);
  const site = Site.fromCloud(cloud, { load });
  const report = await validateLibrary(site.orchestration, lib);
  for (const p of report.problems) io.out(`PROBLEM ${p}`);
  for (const r of report.results) io.out(`${r.ok ? 'OK  ' : 'FAIL'} ${r.name} (${r.ms} ms)${r.ok ? '' : `\n     ${r.detail}`}`);
  const failed = report.results.filter((r) => !r.ok).length;
  io.out(`${report.results.length - failed}/${report.results.length} valid at ${cloud}${report.problems.length ? `, ${report.problems.length} problem(s)` : ''}`);
  return failed === 0 && report.problems.length === 0 ? 0 : 1;
}
