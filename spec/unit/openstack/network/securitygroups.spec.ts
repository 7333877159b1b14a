import { expect } from 'chai';
import nock from 'nock';
import { ConflictError } from '../../../../lib/errors.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import {
  createSecurityGroup,
  createSecurityGroupRule,
  createSecurityGroupRules,
  deleteSecurityGroup,
  deleteSecurityGroupRule,
  existingRuleId,
  listSecurityGroupRules,
  listSecurityGroups,
  updateSecurityGroup,
} from '../../../../lib/openstack/network/securitygroups.js';
import { NEUTRON, PROJECT_ID, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

const RULE_ID = '3c0e45ff-adaf-4124-b083-bf390e5482ff';

// Shape: api-ref network v2 "Show security group rule" (Zed).
function rule(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    security_group_id: 'sg-1',
    direction: 'ingress',
    ethertype: 'IPv4',
    protocol: 'tcp',
    port_range_min: 22,
    port_range_max: 22,
    remote_ip_prefix: '10.0.0.0/8',
    remote_group_id: null,
    remote_address_group_id: null,
    description: '',
    project_id: PROJECT_ID,
    tenant_id: PROJECT_ID,
    created_at: '2026-11-27T03:00:00Z',
    updated_at: '2026-11-27T03:00:00Z',
    revision_number: 0,
    ...extra,
  };
}

// Shape: api-ref network v2 "Create security group" response: Neutron adds an egress rule per ethertype.
function group(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    name: `sg-${id}`,
    description: '',
    project_id: PROJECT_ID,
    tenant_id: PROJECT_ID,
    stateful: true,
    security_group_rules: [
      rule(`${id}-e4`, { security_group_id: id, direction: 'egress', protocol: null, port_range_min: null, port_range_max: null, remote_ip_prefix: null }),
      rule(`${id}-e6`, { security_group_id: id, direction: 'egress', ethertype: 'IPv6', protocol: null, port_range_min: null, port_range_max: null, remote_ip_prefix: null }),
    ],
    tags: [],
    created_at: '2026-11-27T03:00:00Z',
    updated_at: '2026-11-27T03:00:00Z',
    revision_number: 1,
    ...extra,
  };
}

const neutronError = (type: string, message: string) => ({ NeutronError: { type, message, detail: '' } });

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('network/securitygroups', () => {
  useNock();

  it('lists security groups across pages following security_groups_links', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .get('/v2.0/security-groups')
      .query({ project_id: PROJECT_ID, tags: 'ferry:plan=web', limit: '1' })
      .reply(200, {
        security_groups: [group('g1')],
        security_groups_links: [{ rel: 'next', href: `${NEUTRON}/v2.0/security-groups?project_id=${PROJECT_ID}&tags=ferry%3Aplan%3Dweb&limit=1&marker=g1` }],
      })
      .get('/v2.0/security-groups')
      .query({ project_id: PROJECT_ID, tags: 'ferry:plan=web', limit: '1', marker: 'g1' })
      .reply(200, { security_groups: [] });
    const groups = await collect(listSecurityGroups(site.network, { project_id: PROJECT_ID, tags: ['ferry:plan=web'], limit: 1 }));
    expect(groups.map((g) => g.id)).to.deep.equal(['g1']);
    expect(groups[0]!.security_group_rules.map((r) => [r.direction, r.ethertype, r.protocol])).to.deep.equal([
      ['egress', 'IPv4', null],
      ['egress', 'IPv6', null],
    ]);
    expectAllCalled();
  });

  it('creates and updates a group with the documented bodies', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .post('/v2.0/security-groups', { security_group: { name: 'web', description: 'web tier', stateful: true } })
      .reply(201, { security_group: group('g9', { name: 'web', description: 'web tier' }) })
      .put('/v2.0/security-groups/g9', { security_group: { description: 'web tier (replica)' } })
      .reply(200, { security_group: group('g9', { name: 'web', description: 'web tier (replica)' }) });
    const g = await createSecurityGroup(site.network, { name: 'web', description: 'web tier', stateful: true });
    expect(g.security_group_rules).to.have.length(2);
    const u = await updateSecurityGroup(site.network, 'g9', { description: 'web tier (replica)' });
    expect(u.description).to.equal('web tier (replica)');
    expectAllCalled();
  });

  it('creates a rule with direction, ethertype, protocol, port range and remote prefix', async () => {
    const { site } = testSite();
    mockAuth();
    const body = {
      security_group_rule: { security_group_id: 'sg-1', direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '10.0.0.0/8' },
    };
    nock(NEUTRON).post('/v2.0/security-group-rules', body).reply(201, { security_group_rule: rule('r1') });
    const r = await createSecurityGroupRule(site.network, {
      security_group_id: 'sg-1',
      direction: 'ingress',
      ethertype: 'IPv4',
      protocol: 'tcp',
      port_range_min: 22,
      port_range_max: 22,
      remote_ip_prefix: '10.0.0.0/8',
    });
    expect(r.id).to.equal('r1');
    expect(r.port_range_max).to.equal(22);
    expectAllCalled();
  });

  it('adopts an identical existing rule on 409 SecurityGroupRuleExists when asked', async () => {
    const { site } = testSite();
    mockAuth();
    // Message: neutron/extensions/securitygroup.py SecurityGroupRuleExists.
    const exists = neutronError('SecurityGroupRuleExists', `Security group rule already exists. Rule id is ${RULE_ID}.`);
    nock(NEUTRON)
      .post('/v2.0/security-group-rules')
      .reply(409, exists)
      .get(`/v2.0/security-group-rules/${RULE_ID}`)
      .reply(200, { security_group_rule: rule(RULE_ID, { remote_group_id: 'sg-2', remote_ip_prefix: null }) })
      .post('/v2.0/security-group-rules')
      .reply(409, exists);
    const r = await createSecurityGroupRule(site.network, { security_group_id: 'sg-1', direction: 'ingress', remote_group_id: 'sg-2' }, { adoptExisting: true });
    expect(r.id).to.equal(RULE_ID);
    const err = await caught(createSecurityGroupRule(site.network, { security_group_id: 'sg-1', direction: 'ingress', remote_group_id: 'sg-2' }));
    expect(err).to.be.instanceOf(ConflictError);
    expect((err as ConflictError).type).to.equal('SecurityGroupRuleExists');
    expectAllCalled();
  });

  it('reads the rule ID out of the exists message', () => {
    expect(existingRuleId(`Security group rule already exists. Rule id is ${RULE_ID}.`)).to.equal(RULE_ID);
    expect(existingRuleId('Quota exceeded for resources: [security_group_rule].')).to.equal(undefined);
  });

  it('creates rules in bulk in one request, and sends nothing for an empty list', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .post('/v2.0/security-group-rules', {
        security_group_rules: [
          { security_group_id: 'sg-1', direction: 'ingress', protocol: 'icmp' },
          { security_group_id: 'sg-1', direction: 'ingress', ethertype: 'IPv6', protocol: 'ipv6-icmp' },
        ],
      })
      .reply(201, { security_group_rules: [rule('r1', { protocol: 'icmp' }), rule('r2', { protocol: 'ipv6-icmp', ethertype: 'IPv6' })] });
    const rules = await createSecurityGroupRules(site.network, [
      { security_group_id: 'sg-1', direction: 'ingress', protocol: 'icmp' },
      { security_group_id: 'sg-1', direction: 'ingress', ethertype: 'IPv6', protocol: 'ipv6-icmp' },
    ]);
    expect(rules.map((r) => r.id)).to.deep.equal(['r1', 'r2']);
    expect(await createSecurityGroupRules(site.network, [])).to.deep.equal([]);
    expectAllCalled();
  });

  it('lists the rules of a group by direction', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .get('/v2.0/security-group-rules')
      .query({ security_group_id: 'sg-1', direction: 'ingress' })
      .reply(200, { security_group_rules: [rule('r1'), rule('r2', { protocol: '112', port_range_min: null, port_range_max: null })] });
    const rules = await collect(listSecurityGroupRules(site.network, { security_group_id: 'sg-1', direction: 'ingress' }));
    expect(rules.map((r) => r.protocol)).to.deep.equal(['tcp', '112']);
  });

  it('deletes rules and groups idempotently; a group in use is a conflict', async () => {
    const { site } = testSite();
    mockAuth();
    nock(NEUTRON)
      .delete('/v2.0/security-group-rules/r1')
      .reply(204)
      .delete('/v2.0/security-group-rules/r2')
      .reply(404, neutronError('SecurityGroupRuleNotFound', 'Security group rule r2 does not exist'))
      .delete('/v2.0/security-groups/g1')
      .reply(409, neutronError('SecurityGroupInUse', 'Security Group g1 in use.'))
      .delete('/v2.0/security-groups/g2')
      .reply(404, neutronError('SecurityGroupNotFound', 'Security group g2 does not exist'));
    expect(await deleteSecurityGroupRule(site.network, 'r1')).to.equal(true);
    expect(await deleteSecurityGroupRule(site.network, 'r2')).to.equal(false);
    expect(await caught(deleteSecurityGroup(site.network, 'g1'))).to.be.instanceOf(ConflictError);
    expect(await deleteSecurityGroup(site.network, 'g2')).to.equal(false);
    expectAllCalled();
  });
});
