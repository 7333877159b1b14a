// The OpenAPI document: OpenAPI 3.1 structure, every route of the server in it (and nothing
// else), every $ref resolving, schemas generated from the zod schemas the server validates
// with, and the document the server serves being that one.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { buildOpenApi, SECURITY_SCHEME } from '../../../lib/daemon/api/openapi.js';
import { DEFAULT_RULES } from '../../../lib/daemon/api/policy.js';
import { OPERATION_IDS, ROUTES } from '../../../lib/daemon/api/routes.js';
import { PlanDetailSchema, StartRunRequestSchema } from '../../../lib/daemon/api/schemas.js';
import { api, world } from './api-fixtures.js';

type Json = Record<string, unknown>;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function refs(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) v.forEach((x) => refs(x, out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string') out.push(x);
      else refs(x, out);
    }
  }
  return out;
}

describe('daemon API OpenAPI document', () => {
  const doc = buildOpenApi({ version: '1.2.3' });
  const paths = doc['paths'] as Record<string, Record<string, Json>>;
  const schemas = (doc['components'] as { schemas: Record<string, Json> }).schemas;
  const ops = Object.entries(paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));

  it('is OpenAPI 3.1 with info, servers, the JSON Schema 2020-12 dialect and the Keystone token scheme', () => {
    expect(doc['openapi']).to.equal('3.1.0');
    expect(doc['jsonSchemaDialect']).to.equal('https://json-schema.org/draft/2020-12/schema');
    expect(doc['info']).to.deep.include({ title: 'Ferry API', version: '1.2.3' });
    expect(doc['servers']).to.deep.equal([{ url: '/' }]);
    const scheme = (doc['components'] as { securitySchemes: Record<string, Json> }).securitySchemes[SECURITY_SCHEME];
    expect(scheme).to.deep.include({ type: 'apiKey', in: 'header', name: 'X-Auth-Token' });
  });

  it('has every route, with the method, a unique operationId, and nothing else', () => {
    const documented = ops.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort();
    expect(documented).to.deep.equal(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    expect(documented).to.include.members([
      'GET /healthz',
      'GET /v1',
      'GET /v1/plans',
      'GET /v1/plans/{name}',
      'GET /v1/plans/{name}/points',
      'GET /v1/points/{id}',
      'GET /v1/runs',
      'GET /v1/runs/{id}',
      'POST /v1/plans/{name}/runs',
      'GET /v1/runs/{id}/events',
      'GET /v1/status',
      'GET /v1/openapi.json',
      'GET /metrics',
    ]);
    const ids = ops.map((o) => o.op['operationId']);
    expect(new Set(ids).size).to.equal(ids.length);
    expect([...ids].sort()).to.deep.equal([...OPERATION_IDS].sort());
    for (const o of ops) expect(METHODS).to.include(o.method);
  });

  it('declares every path parameter of the template, and security and policy per route', () => {
    for (const { path, op } of ops) {
      const route = ROUTES.find((r) => r.path === path && r.operationId === op['operationId'])!;
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const params = ((op['parameters'] ?? []) as Json[]).filter((p) => p['in'] === 'path');
      expect(params.map((p) => p['name']), path).to.deep.equal(inPath);
      for (const p of params) expect(p['required']).to.equal(true);
      expect(op['security']).to.deep.equal(route.auth ? [{ [SECURITY_SCHEME]: [] }] : []);
      if (route.auth) {
        expect(op['x-ferry-policy'], path).to.be.a('string');
        expect(Object.keys(op['responses'] as Json)).to.include.members(['401', '403', '500']);
      }
    }
  });

  it('every response has a description and the X-Request-ID header; errors use the Error schema', () => {
    for (const { path, op } of ops) {
      for (const [status, res] of Object.entries(op['responses'] as Record<string, Json>)) {
        expect(res['description'], `${path} ${status}`).to.be.a('string').and.not.equal('');
        expect(Object.keys(res['headers'] as Json)).to.include('X-Request-ID');
        if (Number(status) >= 400 && !(path === '/healthz' && status === '503')) {
          expect((res['content'] as Record<string, Json>)['application/json']!['schema']).to.deep.equal({ $ref: '#/components/schemas/Error' });
        }
      }
    }
  });

  it('every $ref resolves to a component, and components are the named zod schemas', () => {
    for (const ref of refs(doc)) {
      expect(ref).to.match(/^#\/components\/schemas\//);
      expect(schemas, ref).to.have.property(ref.slice('#/components/schemas/'.length));
    }
    expect(Object.keys(schemas)).to.include.members(['Error', 'Plan', 'PlanSummary', 'PlanList', 'RecoveryPoint', 'Run', 'RunSummary', 'JournalEntry', 'StartRunRequest', 'StartedRun', 'RunEvents', 'Status', 'PlanStatus', 'SiteStatus', 'Health', 'VersionDocument']);
    expect(Object.keys(schemas).filter((k) => k.includes('__'))).to.deep.equal([]);
  });

  it('the schemas are what zod generates from the schemas the server validates with', () => {
    const strip = (j: Json) => {
      const { $schema: _s, $defs: _d, ...rest } = j;
      return JSON.parse(JSON.stringify(rest).replaceAll('#/$defs/', '#/components/schemas/')) as Json;
    };
    const start = (z.toJSONSchema(StartRunRequestSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as { $defs: Record<string, Json> }).$defs['StartRunRequest']!;
    expect(schemas['StartRunRequest']).to.deep.equal(strip(start));
    expect(schemas['StartRunRequest']!['required']).to.deep.equal(['kind']);
    expect((schemas['StartRunRequest']!['properties'] as Record<string, Json>)['kind']!['enum']).to.deep.equal(['drtest', 'failover', 'failback', 'replicate']);
    const plan = (z.toJSONSchema(PlanDetailSchema, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any' }) as { $defs: Record<string, Json> }).$defs['Plan']!;
    expect(schemas['Plan']).to.deep.equal(strip(plan));
    const startOp = paths['/v1/plans/{name}/runs']!['post']!;
    expect(startOp['requestBody']).to.deep.equal({ required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/StartRunRequest' } } } });
    expect(Object.keys(startOp['responses'] as Json)).to.include.members(['202', '400', '401', '403', '404', '409', '501']);
  });

  it('query parameters carry their type, default and whether they are required', () => {
    const params = paths['/v1/runs']!['get']!['parameters'] as Json[];
    expect(params.map((p) => [p['name'], p['in'], p['required']])).to.deep.equal([
      ['plan', 'query', false],
      ['kind', 'query', false],
      ['status', 'query', false],
      ['limit', 'query', false],
    ]);
    expect(params[3]!['schema']).to.deep.include({ type: 'integer', minimum: 1, maximum: 1000, default: 50 });
    const events = paths['/v1/runs/{id}/events']!['get']!;
    expect(Object.keys(((events['responses'] as Record<string, Json>)['200']!['content'] as Json))).to.deep.equal(['application/json', 'text/event-stream']);
  });

  it('docs/api.md lists every route with its rule, and every rule with its default', () => {
    const text = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');
    for (const r of ROUTES) {
      const row = text.split('\n').find((l) => l.startsWith(`| \`${r.method} ${r.path}\` |`));
      expect(row, `${r.method} ${r.path}`).to.be.a('string');
      expect(row).to.include(r.auth ? '| yes |' : '| no |');
      if (r.policy) expect(row).to.include(`\`${r.policy}\``);
    }
    for (const [name, d] of Object.entries(DEFAULT_RULES)) expect(text, name).to.include(`| \`${name}\` | \`${d.rule}\` |`);
  });

  it('is what GET /v1/openapi.json serves, without a token', async () => {
    const w = await world();
    const a = await api(w);
    const res = await a.call('GET', '/v1/openapi.json');
    expect(res.statusCode).to.equal(200);
    expect(res.json()).to.deep.equal(buildOpenApi({ version: '9.9.9' }));
    await a.app.close();
    await w.catalog.close();
  });
});
