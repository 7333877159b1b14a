// The policy: the oslo.policy rule language (parse and evaluate, as tables), the default rules
// with Keystone's implied roles, project scoping, and policy.yaml overrides with their errors.
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Caller } from '../../../lib/daemon/api/auth.js';
import { DEFAULT_RULES, POLICY_ACTIONS, Policy, PolicyError, expandRoles, loadPolicyFile, parsePolicyText, parseRule, samplePolicyYaml, RuleSyntaxError, type PolicyAction } from '../../../lib/daemon/api/policy.js';
import { CALLERS, type Who } from './api-fixtures.js';

const caller = (over: Partial<Caller>): Caller => ({ userId: 'u-1', userName: 'alice', roles: [], expiresAt: new Date(0), tokenHash: 'x', projectId: 'p-1', projectName: 'web', ...over });

function throws<E extends Error>(fn: () => unknown, type: new (...a: never[]) => E): E {
  try {
    fn();
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error(`expected ${type.name}`);
}

describe('daemon API policy', () => {
  describe('rule language', () => {
    const policy = new Policy();
    const allows = (rule: string, c: Caller, target = {}) => {
      const p = new Policy({ 'status:read': rule });
      return p.enforce('status:read', c, target);
    };

    const table: [string, Partial<Caller>, Record<string, string>, boolean][] = [
      ['', {}, {}, true],
      ['@', {}, {}, true],
      ['!', { roles: ['admin'] }, {}, false],
      ['role:member', { roles: ['member'] }, {}, true],
      ['role:member', { roles: ['reader'] }, {}, false],
      ['role:Member', { roles: ['MEMBER'] }, {}, true],
      ['role:reader', { roles: ['admin'] }, {}, true],
      ['not role:admin', { roles: ['member'] }, {}, true],
      ['not role:reader', { roles: ['member'] }, {}, false],
      ['role:member and project_name:web', { roles: ['member'] }, {}, true],
      ['role:member and project_name:payroll', { roles: ['member'] }, {}, false],
      ['role:admin or role:member', { roles: ['member'] }, {}, true],
      ['role:admin or (role:member and project_id:%(project)s)', { roles: ['member'] }, { project: 'p-1' }, true],
      ['role:admin or (role:member and project_id:%(project)s)', { roles: ['member'] }, { project: 'p-2' }, false],
      ['(role:admin or role:member) and not user_name:mallory', { roles: ['member'], userName: 'mallory' }, {}, false],
      ['((role:member))', { roles: ['member'] }, {}, true],
      ['user_id:u-1', {}, {}, true],
      ['domain_id:d-1', { domainId: 'd-1', projectId: undefined, projectName: undefined }, {}, true],
      ['system_scope:all', { systemScope: 'all', projectId: undefined }, {}, true],
      ['system_scope:all', {}, {}, false],
      ['is_admin_project:True', { projectName: 'admin' }, {}, true],
      ['is_admin_project:True', { projectName: 'web' }, {}, false],
      ['is_admin_project:False', { projectName: 'web' }, {}, true],
      ['is_admin_project:True', { projectName: 'web', isAdminProject: true }, {}, true],
      ['is_admin_project:True', { projectName: 'admin', isAdminProject: false }, {}, false],
    ];
    for (const [rule, over, target, want] of table) {
      it(`"${rule}" → ${want}`, () => {
        expect(allows(rule, caller(over), target)).to.equal(want);
      });
    }

    const bad: [string, RegExp, number][] = [
      ['role:', /not a check/, 1],
      ['member', /not a check: write KIND:VALUE/, 1],
      ['role:admin role:member', /unexpected 'role:member' after a complete rule/, 12],
      ['role:admin and', /ends where a check/, 15],
      ['(role:admin', /'\(' at column 1 is not closed/, 12],
      ['role:admin)', /unexpected '\)'/, 11],
      ['or role:admin', /unexpected 'or'/, 1],
      ['colour:blue', /unknown check 'colour'/, 1],
      ['project_id:%(tenant)s', /%\(tenant\)s is not a target field/, 12],
      ['is_admin_project:yes', /takes True or False/, 18],
    ];
    for (const [rule, message, at] of bad) {
      it(`refuses "${rule}" at column ${at}`, () => {
        const err = throws(() => parseRule(rule), RuleSyntaxError);
        expect(err.message).to.match(message);
        expect(err.at).to.equal(at);
      });
    }

    it('keeps %(target)s whole, whatever the parentheses around it', () => {
      expect(parseRule('(role:member and project_name:%(project)s)')).to.deep.equal({
        kind: 'and',
        all: [
          { kind: 'role', role: 'member' },
          { kind: 'cred', key: 'project_name', value: { target: 'project' } },
        ],
      });
      expect(policy.rule('cloud_admin')).to.equal('role:admin and (is_admin_project:True or system_scope:all)');
    });
  });

  describe('the default rules', () => {
    const policy = new Policy();
    // Who may do what, as the issue asks: reader reads, member runs DR tests, admin fails over and back.
    const expected: Record<PolicyAction, Who[]> = {
      'plans:read': ['reader', 'member', 'projectAdmin', 'cloudAdmin', 'systemAdmin', 'payrollReader'],
      'points:read': ['reader', 'member', 'projectAdmin', 'cloudAdmin', 'systemAdmin', 'payrollReader'],
      'runs:read': ['reader', 'member', 'projectAdmin', 'cloudAdmin', 'systemAdmin', 'payrollReader'],
      'status:read': ['reader', 'member', 'projectAdmin', 'cloudAdmin', 'systemAdmin', 'payrollReader'],
      'runs:create:drtest': ['member', 'projectAdmin', 'cloudAdmin', 'systemAdmin'],
      'runs:create:replicate': ['member', 'projectAdmin', 'cloudAdmin', 'systemAdmin'],
      'runs:create:failover': ['projectAdmin', 'cloudAdmin', 'systemAdmin'],
      'runs:create:failback': ['projectAdmin', 'cloudAdmin', 'systemAdmin'],
      'plans:all_projects': ['cloudAdmin', 'systemAdmin'],
      'metrics:read': ['cloudAdmin', 'systemAdmin'],
    };
    for (const action of POLICY_ACTIONS) {
      it(`${action}: ${expected[action].join(', ')}`, () => {
        const allowed = (Object.keys(CALLERS) as Who[]).filter((who) => policy.enforce(action, CALLERS[who]));
        expect(allowed).to.deep.equal(expected[action]);
      });
    }

    it("implies Keystone's default roles: admin ⊃ member ⊃ reader", () => {
      expect([...expandRoles(['Admin'])].sort()).to.deep.equal(['admin', 'member', 'reader']);
      expect([...expandRoles(['member', 'heat_stack_owner'])].sort()).to.deep.equal(['heat_stack_owner', 'member', 'reader']);
      expect([...expandRoles(['reader'])]).to.deep.equal(['reader']);
    });

    it("scopes plans to the token's project by ID, or by name within the name domain; the admin project can be configured", () => {
      expect(policy.canSeeProject(CALLERS.reader, CALLERS.reader.projectId!)).to.equal(true);
      expect(policy.canSeeProject(CALLERS.reader, 'web')).to.equal(true);
      expect(policy.canSeeProject(CALLERS.reader, 'payroll')).to.equal(false);
      expect(policy.canSeeProject(CALLERS.projectAdmin, 'payroll')).to.equal(false);
      expect(policy.canSeeProject(CALLERS.cloudAdmin, 'payroll')).to.equal(true);
      // a project named web in another domain is another project; its ID still matches
      const elsewhere = { ...CALLERS.reader, projectId: 'c0000000000000000000000000000003', projectDomainId: 'd-partners' };
      expect(policy.canSeeProject(elsewhere, 'web')).to.equal(false);
      expect(policy.canSeeProject({ ...elsewhere, projectDomainId: undefined }, 'web'), 'no domain in the token: no name match').to.equal(false);
      expect(policy.canSeeProject(elsewhere, 'c0000000000000000000000000000003')).to.equal(true);
      const partners = new Policy({}, { projectNameDomain: 'd-partners' });
      expect(partners.canSeeProject(elsewhere, 'web')).to.equal(true);
      expect(partners.canSeeProject(CALLERS.reader, 'web')).to.equal(false);
      const ops = new Policy({}, { adminProjects: ['cloud-ops'] });
      expect(ops.canSeeProject(CALLERS.cloudAdmin, 'payroll')).to.equal(false);
      expect(ops.canSeeProject({ ...CALLERS.cloudAdmin, projectName: 'cloud-ops' }, 'payroll')).to.equal(true);
    });
  });

  describe('policy.yaml', () => {
    it('overrides the named rules over the defaults; an empty file is the defaults', () => {
      const p = parsePolicyText('"runs:create:failover": "role:member"\n"admin_required": "role:admin or role:dr_admin"\n', '/etc/ferry/policy.yaml');
      expect(p.rule('runs:create:failover')).to.equal('role:member');
      expect(p.rule('runs:create:drtest')).to.equal(DEFAULT_RULES['runs:create:drtest'].rule);
      expect(p.overridden).to.deep.equal(['runs:create:failover', 'admin_required']);
      expect(p.enforce('runs:create:failback', caller({ roles: ['dr_admin'] }))).to.equal(true);
      expect(parsePolicyText('', 'empty.yaml').rules()).to.deep.equal(new Policy().rules());
      expect(parsePolicyText('# only comments\n', 'c.yaml').overridden).to.deep.equal([]);
    });

    it('reads JSON policy files too, from disk', () => {
      const dir = mkdtempSync(join(tmpdir(), 'ferry-policy-'));
      const file = join(dir, 'policy.json');
      writeFileSync(file, JSON.stringify({ 'runs:create:drtest': 'role:admin' }));
      expect(loadPolicyFile(file).rule('runs:create:drtest')).to.equal('role:admin');
      const missing = throws(() => loadPolicyFile(join(dir, 'nope.yaml')), Error);
      expect(missing.message).to.match(/nope\.yaml: cannot read file \(ENOENT\)/);
      expect(loadPolicyFile(join(dir, 'nope.yaml'), { optional: true }).rules()).to.deep.equal(new Policy().rules());
      writeFileSync(join(dir, 'bad.yaml'), '"runs:create:drtest": "role:"');
      expect(() => loadPolicyFile(join(dir, 'bad.yaml'), { optional: true })).to.throw(PolicyError, /bad\.yaml:1:1: key 'runs:create:drtest'/);
    });

    const errors: [string, string, RegExp][] = [
      ['unknown rule, with a suggestion and its line', '"plans:read": "role:reader"\n"runs:create:drtests": "role:member"\n', /^policy\.yaml:2:1: key 'runs:create:drtests': unknown rule 'runs:create:drtests' \(fix: did you mean 'runs:create:drtest'\?/],
      ['a rule that does not parse, with its column', '"runs:create:failover": "role:admin role:member"\n', /^policy\.yaml:1:1: key 'runs:create:failover': rule 'role:admin role:member' column 12: unexpected 'role:member'/],
      ['a rule that is not a string', '"runs:create:failover": [role:admin]\n', /^policy\.yaml:1:25: key 'runs:create:failover': the rule must be a string, not a list \(fix: quote it/],
      ['a reference to no rule', '"runs:create:failover": "rule:dr_admins"\n', /key 'runs:create:failover': rule:dr_admins names no rule \(fix: use one of admin_required/],
      ['a reference cycle', '"admin_required": "rule:cloud_admin"\n"cloud_admin": "rule:admin_required"\n', /rules refer to each other in a cycle: admin_required → cloud_admin → admin_required/],
      ['a list instead of a mapping', '- role:admin\n', /^policy\.yaml: a policy file is a mapping of rule names to rules/],
      ['invalid YAML', '"a": "b\n', /^policy\.yaml:\d+:\d+: invalid YAML/],
    ];
    for (const [what, text, message] of errors) {
      it(`refuses ${what}`, () => {
        const err = throws(() => parsePolicyText(text, 'policy.yaml'), Error);
        expect(err.message).to.match(message);
        if (!what.startsWith('invalid YAML')) expect(err).to.be.instanceOf(PolicyError);
      });
    }

    it('the sample lists every rule at its default and, uncommented, gives the defaults back', () => {
      const sample = samplePolicyYaml();
      for (const [name, d] of Object.entries(DEFAULT_RULES)) expect(sample).to.include(`#"${name}": "${d.rule}"`);
      const uncommented = sample
        .split('\n')
        .filter((l) => l.startsWith('#"'))
        .map((l) => l.slice(1))
        .join('\n');
      const p = parsePolicyText(uncommented, 'sample.yaml');
      expect(p.rules()).to.deep.equal(new Policy().rules());
      expect(p.overridden).to.have.length(Object.keys(DEFAULT_RULES).length);
    });
  });
});
