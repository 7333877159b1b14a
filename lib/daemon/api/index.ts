// The daemon's REST API: what the daemon mounts (buildApi, buildMetricsServer), the token
// validator and policy it configures, and the typed client the CLI's remote mode uses.
export { buildApi, buildMetricsServer, requestIdFor, type ApiDeps, type DaemonStatus, type StartRun } from './server.js';
export { ApiError, RunKindUnavailableError } from './errors.js';
export { IdentityUnavailableError, TokenCache, callerFromToken, keystoneTokenValidator, noAuthCaller, tokenHash, type Caller, type TokenCacheOptions, type TokenValidator } from './auth.js';
export { DEFAULT_IMPLIED_ROLES, DEFAULT_RULES, POLICY_ACTIONS, Policy, PolicyError, loadPolicyFile, parsePolicyText, samplePolicyYaml, type PolicyAction, type PolicyOptions } from './policy.js';
export { buildOpenApi } from './openapi.js';
export { ROUTES, type RouteSpec } from './routes.js';
export { STARTABLE_KINDS, type StartableKind } from './schemas.js';
export {
  ApiClientError,
  FerryApiClient,
  apiTokenProvider,
  createApiClient,
  remoteCatalog,
  sessionToken,
  staticToken,
  type ApiClientOptions,
  type CatalogReader,
  type TokenProvider,
} from './client.js';
