// The template library (heat-templates/): loading and registry paths, every environment
// binding every DR::* type, the interface between generated templates and the nested
// templates (each property a generated resource passes is a parameter of every template bound
// to its type; every required parameter is passed or set by the environment), the validation
// cases validate:heat sends, and the generated example pair kept equal to the generator's
// output (UPDATE_GOLDEN=1 rewrites it).
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse } from 'yaml';
import { ConfigError } from '../../../lib/errors.js';
import { generate, pairedEnvironmentYaml, type GeneratedStack } from '../../../lib/heat/generate.js';
import {
  DR_TYPES,
  MODE_ENVIRONMENTS,
  defaultLibrary,
  filesFor,
  libraryPath,
  libraryProblems,
  loadTemplateLibrary,
  modeEnvironment,
  templateProblems,
  validationCases,
  type TemplateLibrary,
} from '../../../lib/heat/library.js';
import type { RecoveryMode } from '../../../lib/heat/types.js';
import { RUN_ID, manifest, plan, resolved } from './fixtures.js';

const MODES = Object.keys(MODE_ENVIRONMENTS) as RecoveryMode[];
type Template = { heat_template_version: string; parameters?: Record<string, { default?: unknown }>; resources?: Record<string, { type: string; properties?: Record<string, unknown> }> };

/** The header of the generated example pair. */
const EXAMPLE_HEADER = '# Generated from spec/unit/heat/fixtures.ts by spec/unit/heat/library.spec.ts (UPDATE_GOLDEN=1):\n# the two-server workload recovered by a failover. Values are examples (no cloud has these IDs).\n';

describe('heat/library', () => {
  let lib: TemplateLibrary;
  before(() => {
    lib = defaultLibrary();
  });

  it('reads nested templates, environments and example pairs, with registry paths relative to the library', () => {
    expect(Object.keys(lib.nested)).to.include.members(['nested/server.yaml', 'nested/port.yaml', 'nested/volume.yaml', 'nested/network_isolated.yaml']);
    expect(Object.keys(lib.environments).sort()).to.deep.equal(Object.values(MODE_ENVIRONMENTS).sort());
    expect(lib.environments['environments/production_env.yaml']!.registry['DR::Server']).to.equal('nested/server.yaml');
    expect(lib.environments['environments/drtest_env.yaml']!.registry['DR::FloatingIP']).to.equal('OS::Heat::None');
    expect(lib.examples.map((e) => e.name)).to.include.members(['boot-from-backup', 'two-tier']);
    expect(lib.examples.every((e) => e.environment !== undefined)).to.equal(true);
    expect(libraryProblems(lib)).to.deep.equal([]);
  });

  it('finds references Heat validation lets through: undeclared parameters, resources, conditions', () => {
    const broken = {
      parameters: { a: { type: 'string' } },
      conditions: { c: { equals: [{ get_param: 'a' }, ''] } },
      resources: {
        r: { type: 'OS::Heat::None', depends_on: ['gone'], condition: 'nope', properties: { x: { get_param: 'b' }, y: { get_attr: ['ghost', 'id'] }, z: { if: ['c2', 1, 2] }, ok: { get_param: ['a', 0] }, stack: { get_param: 'OS::stack_name' } } },
      },
      outputs: { o: { value: { get_resource: 'r2' } } },
    };
    expect(templateProblems('t.yaml', broken)).to.have.members([
      't.yaml: resources.r depends on gone, which is not a resource',
      't.yaml: resources.r has condition nope, which is not declared',
      't.yaml: resources.r.properties.x uses get_param b, which is not a parameter',
      't.yaml: resources.r.properties.y uses get_attr ghost, which is not a resource',
      't.yaml: resources.r.properties.z uses condition c2, which is not declared',
      't.yaml: outputs.o.value uses get_resource r2, which is not a resource',
    ]);
    for (const mode of MODES) expect(templateProblems(mode, generate(manifest(), plan(), resolved(), mode, { runId: RUN_ID }).template), mode).to.deep.equal([]);
  });

  it('pins one template version everywhere (2021-04-16: Wallaby and later)', () => {
    const all = [...Object.entries(lib.nested), ...lib.examples.map((e) => [e.template.path, e.template.text] as const)];
    for (const [path, text] of all) expect((parse(text) as Template).heat_template_version, path).to.equal('2021-04-16');
  });

  it('refuses registry paths that leave the library, and reports environments that miss a type', () => {
    expect(libraryPath('/lib', 'environments/x_env.yaml', '../nested/a.yaml')).to.equal('nested/a.yaml');
    expect(() => libraryPath('/lib', 'environments/x_env.yaml', '../../etc/passwd')).to.throw(ConfigError, /points outside the template library/);
    const dir = mkdtempSync(join(tmpdir(), 'ferry-heat-lib-'));
    try {
      mkdirSync(join(dir, 'nested'));
      mkdirSync(join(dir, 'environments'));
      writeFileSync(join(dir, 'nested', 'server.yaml'), 'heat_template_version: 2021-04-16\n');
      writeFileSync(join(dir, 'environments', 'partial_env.yaml'), 'resource_registry:\n  DR::Server: ../nested/server.yaml\n  DR::Port: ../nested/missing.yaml\n');
      const small = loadTemplateLibrary(dir);
      const problems = libraryProblems(small);
      expect(problems).to.include('environments/partial_env.yaml: DR::Port is bound to nested/missing.yaml, which does not exist');
      expect(problems).to.include('environments/partial_env.yaml: resource_registry does not bind DR::Volume');
      expect(() => filesFor(small, small.environments['environments/partial_env.yaml']!)).to.throw(ConfigError, /nested\/missing\.yaml, which is not in the library/);
      writeFileSync(join(dir, 'environments', 'bad_env.yaml'), 'resource_registry: [1, 2');
      expect(() => loadTemplateLibrary(dir)).to.throw(ConfigError, /bad_env\.yaml: not valid YAML/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('the DR::* interface', () => {
    for (const mode of MODES) {
      it(`${mode}: every property generated resources pass is a parameter of the bound template, and every required parameter is given`, () => {
        const stack = generate(manifest(), plan(), resolved(), mode, { runId: RUN_ID });
        const env = modeEnvironment(lib, mode);
        const defaults = Object.keys(env.parameterDefaults).concat(Object.keys((stack.environment.parameter_defaults ?? {}) as object));
        const checked = new Set<string>();
        for (const [name, r] of Object.entries((stack.template as Template).resources ?? {})) {
          if (!r.type.startsWith('DR::')) continue;
          const target = env.registry[r.type]!;
          if (target.startsWith('OS::')) continue;
          const params = (parse(lib.nested[target]!) as Template).parameters ?? {};
          for (const prop of Object.keys(r.properties ?? {})) expect(params, `${name} (${r.type} → ${target}) passes ${prop}`).to.have.property(prop);
          for (const [p, decl] of Object.entries(params)) {
            if (decl.default !== undefined || defaults.includes(p)) continue;
            expect(r.properties ?? {}, `${name} (${r.type} → ${target}) must pass the required ${p}`).to.have.property(p);
          }
          checked.add(r.type);
        }
        expect(checked.size, 'DR types checked').to.be.greaterThan(mode === 'standby' ? 4 : 6);
      });
    }

    it('the environments share one interface: a type bound to different templates takes the same parameters', () => {
      for (const type of DR_TYPES) {
        const targets = [...new Set(Object.values(lib.environments).map((e) => e.registry[type]!).filter((t) => !t.startsWith('OS::')))];
        const params = targets.map((t) => Object.keys((parse(lib.nested[t]!) as Template).parameters ?? {}).sort());
        for (const p of params.slice(1)) expect(p, `${type}: ${targets.join(' vs ')}`).to.deep.equal(params[0]);
      }
    });
  });

  it('validation cases: each nested template, each example with its pair and with every mode', () => {
    const cases = validationCases(lib);
    const nested = Object.keys(lib.nested).length;
    expect(cases).to.have.length(nested + lib.examples.length * (1 + MODES.length));
    const pair = cases.find((c) => c.name === 'examples/two-tier.yaml + examples/two-tier_env.yaml')!;
    expect(pair.environment!.resource_registry).to.deep.include({ 'DR::Server': 'nested/server.yaml' });
    expect(Object.keys(pair.files!)).to.include('nested/server.yaml');
    const drtest = cases.find((c) => c.name === 'examples/two-tier.yaml + environments/drtest_env.yaml')!;
    expect(drtest.environment!.resource_registry).to.deep.include({ 'DR::Network': 'nested/network_isolated.yaml', 'DR::FloatingIP': 'OS::Heat::None' });
    expect(drtest.environment!.parameter_defaults).to.include({ name_prefix: 'drtest-', ferry_plan: 'shop' });
    expect(Object.keys(drtest.environment!.parameters as object), "the example's own values come along").to.include.members(['external_network_id']);
    expect(Object.keys(drtest.files!)).to.not.include('nested/floating_ip.yaml');
  });

  it('the generated example pair is the generator output for the test workload (two-tier.yaml)', () => {
    const stack: GeneratedStack = generate(manifest(), plan(), resolved(), 'failover', { runId: RUN_ID });
    const template = EXAMPLE_HEADER + stack.yaml.template;
    const env = EXAMPLE_HEADER + pairedEnvironmentYaml(stack, '../');
    const dir = join(lib.root, 'examples');
    if (process.env.UPDATE_GOLDEN) {
      writeFileSync(join(dir, 'two-tier.yaml'), template);
      writeFileSync(join(dir, 'two-tier_env.yaml'), env);
    }
    expect(existsSync(join(dir, 'two-tier.yaml')), 'run with UPDATE_GOLDEN=1 to write the example').to.equal(true);
    expect(readFileSync(join(dir, 'two-tier.yaml'), 'utf8')).to.equal(template);
    expect(readFileSync(join(dir, 'two-tier_env.yaml'), 'utf8')).to.equal(env);
    const parsed = parse(env) as { parameters: Record<string, unknown>; resource_registry: Record<string, string> };
    expect(parsed.resource_registry['DR::Server']).to.equal('../nested/server.yaml');
    expect(Object.keys(parsed.parameters)).to.include.members([...Object.keys(stack.parameters), ...Object.keys(stack.environment.parameters as object)]);
  });
});
