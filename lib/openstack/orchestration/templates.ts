// Heat v1 template services: validation, template versions and functions, resource types.
// API reference: https://docs.openstack.org/api-ref/orchestration/v1/#templates and #resource-types
// Source: heat/api/openstack/v1/stacks.py (validate_template: show_nested, ignore_errors, a
// result with "Error" becomes 400; list_template_versions; list_template_functions:
// with_condition_func; list_resource_types: name, support_status, version, with_description),
// heat/engine/service.py (validate_template result keys, list_template_versions) (Zed, heat 19.0.0).
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';
import type { HeatTemplate } from './stacks.js';

// ---- types ----------------------------------------------------------------

export interface ValidateTemplateOpts {
  template?: HeatTemplate;
  template_url?: string;
  environment?: Record<string, unknown> | string;
  files?: Record<string, string>;
  environment_files?: string[];
  /** Values to validate against the parameters' constraints. */
  parameters?: Record<string, unknown>;
}

export interface ValidateTemplateQuery {
  /** Also validate nested stacks and report their parameters. */
  show_nested?: boolean;
  /** Error codes to ignore (sent comma-joined), e.g. ["99001"]. */
  ignore_errors?: string[];
}

/** A template parameter as validation reports it (heat/rpc/api.py VALIDATE_PARAM_KEYS). */
export interface TemplateParameter {
  Type: 'String' | 'Number' | 'CommaDelimitedList' | 'Json' | 'Boolean';
  Label?: string;
  Description?: string;
  Default?: unknown;
  Value?: unknown;
  NoEcho: 'true' | 'false';
  AllowedValues?: unknown[];
  AllowedPattern?: string;
  MinLength?: number;
  MaxLength?: number;
  MinValue?: number;
  MaxValue?: number;
  CustomConstraint?: string;
  ConstraintDescription?: string;
  Tags?: string[];
  /** With show_nested: nested stacks' parameters. */
  NestedParameters?: Record<string, unknown>;
}

export interface TemplateValidation {
  Description: string;
  Parameters: Record<string, TemplateParameter>;
  ParameterGroups?: { label?: string; description?: string; parameters: string[] }[];
  /** The user environment as Heat merged it. */
  Environment?: Record<string, unknown>;
}

export interface TemplateVersion {
  /** e.g. `heat_template_version.2018-08-31` or `AWSTemplateFormatVersion.2010-09-09`. */
  version: string;
  type: 'hot' | 'cfn';
  /** Release-name aliases, e.g. `heat_template_version.rocky`. */
  aliases?: string[];
}

export interface TemplateFunction {
  functions: string;
  description: string;
}

export interface ListResourceTypesQuery {
  /** A name or a regular expression, e.g. `OS::Nova::.*`. */
  name?: string;
  support_status?: 'UNKNOWN' | 'SUPPORTED' | 'DEPRECATED' | 'UNSUPPORTED' | 'HIDDEN';
  /** Heat version the type appeared in, e.g. `5.0.0`. */
  version?: string;
}

// ---- urls -----------------------------------------------------------------

export const templateUrls = {
  validate: () => 'validate',
  versions: () => 'template_versions',
  functions: (version: string) => `template_versions/${encodeURIComponent(version)}/functions`,
  resourceTypes: () => 'resource_types',
};

// ---- requests ---------------------------------------------------------------

/**
 * Validates a template (with its environment and files) without creating anything. An
 * invalid template is a 400 BadRequestError whose detail is Heat's reason.
 */
export async function validateTemplate(sc: ServiceClient, opts: ValidateTemplateOpts, q: ValidateTemplateQuery = {}, signal?: AbortSignal): Promise<TemplateValidation> {
  const query: Query = {};
  if (q.show_nested !== undefined) query.show_nested = q.show_nested;
  if (q.ignore_errors && q.ignore_errors.length > 0) query.ignore_errors = q.ignore_errors.join(',');
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) if (v !== undefined) body[k] = v;
  // POST, but without side effects: safe to retry.
  return (await sc.post<TemplateValidation>(templateUrls.validate(), body, { query, idempotent: true, signal })).data;
}

/** Template versions this Heat understands. */
export async function listTemplateVersions(sc: ServiceClient, signal?: AbortSignal): Promise<TemplateVersion[]> {
  return (await sc.get<{ template_versions: TemplateVersion[] }>(templateUrls.versions(), { signal })).data.template_versions;
}

/** Intrinsic functions of a template version (with condition functions when asked). */
export async function listTemplateFunctions(sc: ServiceClient, version: string, opts: { withConditions?: boolean; signal?: AbortSignal } = {}): Promise<TemplateFunction[]> {
  const query = opts.withConditions ? { with_condition_func: true } : undefined;
  return (await sc.get<{ template_functions: TemplateFunction[] }>(templateUrls.functions(version), { query, signal: opts.signal })).data.template_functions;
}

/** Resource types available to this project (types whose service is missing are left out by Heat). */
export async function listResourceTypes(sc: ServiceClient, q: ListResourceTypesQuery = {}, signal?: AbortSignal): Promise<string[]> {
  const query: Query = {};
  for (const [k, v] of Object.entries(q) as [string, string | undefined][]) if (v !== undefined) query[k] = v;
  return (await sc.get<{ resource_types: string[] }>(templateUrls.resourceTypes(), { query, signal })).data.resource_types;
}

/** Which of `types` the site lacks (empty: all available): a failover pre-flight check. */
export async function missingResourceTypes(sc: ServiceClient, types: string[], signal?: AbortSignal): Promise<string[]> {
  const available = new Set(await listResourceTypes(sc, {}, signal));
  return [...new Set(types)].filter((t) => !available.has(t));
}
