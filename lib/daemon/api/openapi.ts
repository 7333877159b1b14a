// The OpenAPI 3.1 document, generated from the route table and its zod schemas (zod 4 emits
// JSON Schema 2020-12, which is OpenAPI 3.1's schema dialect). Schemas with a meta `id` become
// components; the error answers every route can give are added from what the route declares
// (a token, inputs, a path parameter).
import { z } from 'zod';
import { DEFAULT_RULES } from './policy.js';
import { ROUTES, type RouteSpec } from './routes.js';
import { ErrorBodySchema } from './schemas.js';

type Json = Record<string, unknown>;

export interface OpenApiOptions {
  /** The daemon's Ferry version (info.version). */
  version: string;
  /** servers[0].url (default "/": the document's own origin). */
  serverUrl?: string;
}

export const SECURITY_SCHEME = 'keystoneToken';

/** Builds the document; throws when two schemas claim the same component name with different shapes. */
export function buildOpenApi(opts: OpenApiOptions, routes: readonly RouteSpec[] = ROUTES): Json {
  const components: Record<string, Json> = {};
  const schemaOf = (t: z.ZodType, io: 'input' | 'output', owner: string): Json => convert(t, io, owner, components);
  const errorRef = schemaOf(ErrorBodySchema, 'output', 'Error');

  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const op: Json = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      security: r.auth ? [{ [SECURITY_SCHEME]: [] }] : [],
    };
    if (r.description) op['description'] = r.description;
    if (r.policy) op['x-ferry-policy'] = r.policy;
    const parameters = [...parametersOf(r.params, 'path', r.operationId, components), ...parametersOf(r.query, 'query', r.operationId, components)];
    if (parameters.length > 0) op['parameters'] = parameters;
    if (r.body) op['requestBody'] = { required: true, content: { 'application/json': { schema: schemaOf(r.body, 'input', r.operationId) } } };

    const responses: Record<string, Json> = {};
    for (const [status, spec] of Object.entries(r.responses)) {
      const content: Record<string, Json> = {};
      if (spec.schema) content['application/json'] = { schema: schemaOf(spec.schema, 'output', r.operationId) };
      for (const [type, what] of Object.entries(spec.media ?? {})) content[type] = { schema: { type: 'string', description: what } };
      const res: Json = { description: spec.description, headers: headersOf(spec.headers) };
      if (Object.keys(content).length > 0) res['content'] = content;
      responses[status] = res;
    }
    const error = (status: number, description: string) => {
      responses[String(status)] ??= { description, headers: headersOf(), content: { 'application/json': { schema: errorRef } } };
    };
    if (r.params || r.query || r.body) error(400, 'invalid input: the message names the field');
    if (r.auth) {
      error(401, 'no X-Auth-Token, or Keystone does not know the token');
      error(403, 'the policy does not allow this for the token');
    }
    if (r.params) error(404, 'not found, or not visible to the token\'s project');
    if (r.body) error(409, 'conflicts with the plan\'s state (e.g. its epoch moved)');
    if (r.operationId === 'startRun') error(501, 'no workflow of this kind in this daemon');
    if (r.auth) error(503, 'Keystone cannot validate the token now (identity_unavailable), or the daemon cannot serve this now');
    error(500, 'internal error; the daemon log has the details under the request ID');
    op['responses'] = responses;

    const path = (paths[r.path] ??= {});
    path[r.method.toLowerCase()] = op;
  }

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Ferry API',
      version: opts.version,
      summary: 'OpenStack disaster recovery: protection plans, recovery points, DR tests, failover and failback runs.',
      description: 'Authentication: a Keystone token in X-Auth-Token. Authorization: oslo.policy-style rules (x-ferry-policy on each operation). See docs/api.md.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: opts.serverUrl ?? '/' }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        [SECURITY_SCHEME]: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Auth-Token',
          description: "A Keystone token (openstack token issue) of the site whose Keystone the daemon validates against. Policy rules: " + Object.keys(DEFAULT_RULES).join(', '),
        },
      },
    },
  };
}

function headersOf(extra: Record<string, string> = {}): Json {
  const all: Record<string, string> = { 'X-Request-ID': "this request's ID, req-<uuid> (the same value in X-OpenStack-Request-ID)", ...extra };
  return Object.fromEntries(Object.entries(all).map(([name, description]) => [name, { description, schema: { type: 'string' } }]));
}

function parametersOf(obj: z.ZodObject | undefined, where: 'path' | 'query', owner: string, components: Record<string, Json>): Json[] {
  if (!obj) return [];
  return Object.entries(obj.shape).map(([name, field]) => {
    const t = field as z.ZodType;
    const schema = convert(t, 'input', owner, components);
    const p: Json = { name, in: where, required: where === 'path' || !t.safeParse(undefined).success, schema };
    if (typeof schema['description'] === 'string') p['description'] = schema['description'];
    return p;
  });
}

/** One zod schema as an OpenAPI schema object: named parts hoisted into components. */
function convert(t: z.ZodType, io: 'input' | 'output', owner: string, components: Record<string, Json>): Json {
  const json = z.toJSONSchema(t, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
  delete json['$schema'];
  const defs = (json['$defs'] ?? {}) as Record<string, Json>;
  delete json['$defs'];
  // zod names unnamed recursive parts __schema0, __schema1…: make them unique per owner.
  const rename = new Map(Object.keys(defs).map((id) => [id, id.startsWith('__') ? `${owner}${id}` : id]));
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (v && typeof v === 'object') {
      const out: Json = {};
      for (const [k, x] of Object.entries(v)) {
        out[k] = k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/') ? `#/components/schemas/${rename.get(x.slice(8)) ?? x.slice(8)}` : rewrite(x);
      }
      return out;
    }
    return v;
  };
  for (const [id, def] of Object.entries(defs)) {
    const name = rename.get(id)!;
    const schema = rewrite(def) as Json;
    const existing = components[name];
    if (existing && JSON.stringify(existing) !== JSON.stringify(schema)) {
      throw new Error(`OpenAPI: two different schemas are named '${name}' (the second from ${owner}, as ${io}); give one another meta id`);
    }
    components[name] = schema;
  }
  return rewrite(json) as Json;
}
