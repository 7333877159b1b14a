import { expect } from 'chai';
import nock from 'nock';
import { BadRequestError } from '../../../../lib/errors.js';
import { listResourceTypes, listTemplateFunctions, listTemplateVersions, missingResourceTypes, validateTemplate } from '../../../../lib/openstack/orchestration/templates.js';
import { HEAT, PROJECT_ID, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

const base = `/v1/${PROJECT_ID}`;

// Shape: api-ref orchestration v1 "Validate template" response (engine/service.py validate_template).
const validation = {
  Description: 'web tier',
  Parameters: {
    flavor: { Type: 'String', Default: 'm1.small', Description: 'Flavor', Label: 'flavor', NoEcho: 'false', Value: 'm1.large' },
    db_password: { Type: 'String', Description: '', Label: 'db_password', NoEcho: 'true', MinLength: 8 },
  },
  ParameterGroups: [{ label: 'db', parameters: ['db_password'] }],
  Environment: { parameters: { flavor: 'm1.large' }, parameter_defaults: {}, resource_registry: { resources: {} } },
};

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('orchestration/templates', () => {
  useNock();

  it('validates a template with its environment, files and parameters, passing show_nested and ignore_errors', async () => {
    const { site } = testSite();
    mockAuth();
    const template = { heat_template_version: '2021-04-16', parameters: { flavor: { type: 'string', default: 'm1.small' } } };
    nock(HEAT)
      .post(`${base}/validate`, { template, environment: { resource_registry: {} }, files: { 'a.yaml': 'x' }, parameters: { flavor: 'm1.large' } })
      .query({ show_nested: 'true', ignore_errors: '99001,99002' })
      .reply(200, validation);
    const v = await validateTemplate(
      site.orchestration,
      { template, environment: { resource_registry: {} }, files: { 'a.yaml': 'x' }, parameters: { flavor: 'm1.large' } },
      { show_nested: true, ignore_errors: ['99001', '99002'] },
    );
    expect(v.Parameters.db_password?.NoEcho).to.equal('true');
    expect(v.ParameterGroups?.[0]?.parameters).to.deep.equal(['db_password']);
    expectAllCalled();
  });

  it('reports an invalid template as BadRequestError with Heat\'s reason, and retries a 503 (no side effects)', async () => {
    const { site } = testSite();
    mockAuth();
    // Shape: heat/api/middleware/fault.py for the HTTPBadRequest raised from validate_template.
    nock(HEAT)
      .post(`${base}/validate`)
      .reply(503, 'busy')
      .post(`${base}/validate`)
      .reply(400, {
        explanation: 'The server could not comply with the request since it is either malformed or otherwise incorrect.',
        code: 400,
        error: { message: 'The template section is invalid: resourcez', traceback: null, type: 'HTTPBadRequest' },
        title: 'Bad Request',
      });
    const err = await caught(validateTemplate(site.orchestration, { template: 'heat_template_version: 2021-04-16\nresourcez: {}\n' }));
    expect(err).to.be.instanceOf(BadRequestError);
    expect((err as BadRequestError).detail).to.equal('The template section is invalid: resourcez');
    expectAllCalled();
  });

  it('lists template versions with their aliases', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`${base}/template_versions`)
      .reply(200, {
        template_versions: [
          { version: 'AWSTemplateFormatVersion.2010-09-09', type: 'cfn', aliases: [] },
          { version: 'heat_template_version.2021-04-16', type: 'hot', aliases: ['heat_template_version.wallaby'] },
        ],
      });
    const versions = await listTemplateVersions(site.orchestration);
    expect(versions.find((v) => v.type === 'hot')?.aliases).to.deep.equal(['heat_template_version.wallaby']);
  });

  it('lists template functions, with condition functions when asked', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`${base}/template_versions/heat_template_version.2021-04-16/functions`)
      .query({ with_condition_func: 'true' })
      .reply(200, { template_functions: [{ functions: 'get_param', description: 'A function for resolving parameter references.' }] });
    const fns = await listTemplateFunctions(site.orchestration, 'heat_template_version.2021-04-16', { withConditions: true });
    expect(fns[0]?.functions).to.equal('get_param');
  });

  it('lists resource types by name pattern and finds the ones a site lacks', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`${base}/resource_types`)
      .query({ name: 'OS::Nova::.*', support_status: 'SUPPORTED' })
      .reply(200, { resource_types: ['OS::Nova::Server', 'OS::Nova::KeyPair'] })
      .get(`${base}/resource_types`)
      .reply(200, { resource_types: ['OS::Nova::Server', 'OS::Neutron::Port', 'OS::Cinder::Volume'] });
    expect(await listResourceTypes(site.orchestration, { name: 'OS::Nova::.*', support_status: 'SUPPORTED' })).to.deep.equal(['OS::Nova::Server', 'OS::Nova::KeyPair']);
    expect(await missingResourceTypes(site.orchestration, ['OS::Nova::Server', 'OS::Octavia::LoadBalancer', 'OS::Octavia::LoadBalancer'])).to.deep.equal(['OS::Octavia::LoadBalancer']);
    expectAllCalled();
  });
});
