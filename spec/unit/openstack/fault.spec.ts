import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { extractFault } from '../../../lib/openstack/fault.js';
import { httpErrorFor, isStatus, NotFoundError, ConflictError, ServerError, HttpError, TooManyRequestsError, BadRequestError } from '../../../lib/errors.js';

// Each body is the shape the service's own code produces (file named in lib/openstack/fault.ts).
describe('fault extraction (one mapper for every service)', () => {
  const cases: [string, unknown, string, string, string | undefined][] = [
    ['Nova itemNotFound', { itemNotFound: { code: 404, message: 'Instance abc could not be found.' } }, '', 'Instance abc could not be found.', 'itemNotFound'],
    ['Nova conflictingRequest', { conflictingRequest: { code: 409, message: "Cannot 'stop' instance x while it is in vm_state stopped" } }, '', "Cannot 'stop' instance x while it is in vm_state stopped", 'conflictingRequest'],
    ['Cinder badRequest', { badRequest: { code: 400, message: 'Invalid backup: Backup status must be available' } }, '', 'Invalid backup: Backup status must be available', 'badRequest'],
    ['Cinder overLimit', { overLimit: { code: 413, message: 'VolumeLimitExceeded: Maximum number of volumes allowed (10) exceeded', retryAfter: '0' } }, '', 'VolumeLimitExceeded: Maximum number of volumes allowed (10) exceeded', 'overLimit'],
    ['Neutron', { NeutronError: { type: 'NetworkNotFound', message: 'Network n1 could not be found.', detail: '' } }, '', 'Network n1 could not be found.', 'NetworkNotFound'],
    ['Keystone', { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } }, '', 'The request you have made requires authentication.', 'Unauthorized'],
    [
      'Heat',
      { explanation: 'The resource could not be found.', code: 404, error: { message: 'The Stack (s1) could not be found.', traceback: null, type: 'EntityNotFound' }, title: 'Not Found' },
      '',
      'The Stack (s1) could not be found.',
      'EntityNotFound',
    ],
    ['Placement', { errors: [{ status: 404, title: 'Not Found', detail: 'No resource provider with uuid x found', request_id: 'req-1', code: 'placement.undefined_code' }] }, '', 'No resource provider with uuid x found', 'placement.undefined_code'],
    ['WSME faultstring', { faultstring: 'Unknown argument: "foo"', faultcode: 'Client', debuginfo: null }, '', 'Unknown argument: "foo"', undefined],
    [
      'Glance HTML (webob)',
      '<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  No image found with ID 1234<br /><br />\n\n\n\n </body>\n</html>',
      'text/html; charset=UTF-8',
      'No image found with ID 1234',
      undefined,
    ],
    ['Glance JSON with webob HTML inside', { message: 'No image found with ID 1234<br /><br />\n\n\n', code: '404 Not Found', title: 'Not Found' }, 'application/json', 'No image found with ID 1234', undefined],
    ['Swift HTML', '<html><h1>Not Found</h1><p>The resource could not be found.</p></html>', 'text/html', 'Not Found The resource could not be found.', undefined],
    ['Swift plain text', 'Container PUT failed', 'text/plain', 'Container PUT failed', undefined],
    ['JSON as a string body', '{"itemNotFound": {"code": 404, "message": "Flavor 9 could not be found."}}', 'application/json', 'Flavor 9 could not be found.', 'itemNotFound'],
    ['JSON as a Buffer', Buffer.from('{"NeutronError": {"type": "PortNotFound", "message": "Port p could not be found.", "detail": ""}}'), 'application/json', 'Port p could not be found.', 'PortNotFound'],
    ['empty body', undefined, '', '', undefined],
    ['unknown JSON object', { weird: 1, shape: 2 }, '', '{"weird":1,"shape":2}', undefined],
  ];
  for (const [name, body, ct, detail, type] of cases) {
    it(`reads ${name}`, () => {
      const f = extractFault(body, ct);
      expect(f.detail).to.equal(detail);
      expect(f.type).to.equal(type);
    });
  }

  it('clips huge bodies so an HTML error page cannot flood a log', () => {
    const f = extractFault('x'.repeat(10_000), 'text/plain');
    expect(f.detail.length).to.be.at.most(1001);
  });
});

describe('HTTP error classes', () => {
  it('picks the class by status and formats operator facts', () => {
    const e = httpErrorFor({ status: 404, method: 'GET', url: 'https://nova/v2.1/servers/x', service: 'compute', requestId: 'req-1', detail: 'gone', type: 'itemNotFound' });
    expect(e).to.be.instanceOf(NotFoundError).and.instanceOf(HttpError);
    expect(e.message).to.equal('compute: GET https://nova/v2.1/servers/x returned 404: gone (request req-1)');
    expect(e.fault).to.equal('client');
  });
  it('maps 409, 400, 429 and 5xx', () => {
    expect(httpErrorFor({ status: 409, method: 'POST', url: 'u', detail: '' })).to.be.instanceOf(ConflictError);
    expect(httpErrorFor({ status: 400, method: 'POST', url: 'u', detail: '' })).to.be.instanceOf(BadRequestError);
    expect(httpErrorFor({ status: 429, method: 'GET', url: 'u', detail: '' })).to.be.instanceOf(TooManyRequestsError);
    const s = httpErrorFor({ status: 503, method: 'GET', url: 'u', detail: '' });
    expect(s).to.be.instanceOf(ServerError);
    expect(s.fault).to.equal('server');
    expect(httpErrorFor({ status: 418, method: 'GET', url: 'u', detail: '' }).constructor).to.equal(HttpError);
  });
  it('isStatus is safe with any value', () => {
    const e = httpErrorFor({ status: 404, method: 'GET', url: 'u', detail: '' });
    expect(isStatus(e, 404)).to.equal(true);
    expect(isStatus(e, 400, 409)).to.equal(false);
    expect(isStatus(undefined, 404)).to.equal(false);
    expect(isStatus(new Error('x'), 404)).to.equal(false);
  });
});

describe('fault extraction on bodies captured from the real lab services', () => {
  // Captured by spec/lab/sites.spec.ts with FERRY_CAPTURE_FIXTURES=1 (OpenStack Zed, Debian 12).
  const dir = join(import.meta.dirname, '..', '..', 'support', 'fixtures', 'lab');
  const expected: Record<string, [RegExp, string | undefined]> = {
    'compute-404': [/^Instance 0{8}-0{4}-4000-8000-0{12} could not be found\.$/, 'itemNotFound'],
    'block-storage-404': [/^Volume 0{8}-0{4}-4000-8000-0{12} could not be found\.$/, 'itemNotFound'],
    'block-storage-400': [/size/i, 'badRequest'],
    'image-404': [/^No image found with ID 0{8}-0{4}-4000-8000-0{12}$/, undefined],
    'network-404': [/^Network 0{8}-0{4}-4000-8000-0{12} could not be found\.$/, 'NetworkNotFound'],
    'network-409': [/already exists/i, 'SecurityGroupRuleExists'],
    'orchestration-404': [/^The Stack \(no-such-stack\) could not be found\.$/, 'EntityNotFound'],
    'object-store-404': [/^Not Found The resource could not be found\.$/, undefined],
    'identity-404': [/^Could not find project: 0{8}-0{4}-4000-8000-0{12}\.$/, 'Not Found'],
  };
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const name = file.replace(/\.json$/, '');
    it(`reads ${name}`, () => {
      const fx = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { body: unknown; contentType?: string };
      const f = extractFault(fx.body, fx.contentType ?? '');
      const [re, type] = expected[name] ?? [/./, undefined];
      expect(f.detail).to.match(re);
      expect(f.type).to.equal(type);
    });
  }
});
