// Keystone v3 authentication for one site: one token shared by every service client,
// renewed before it expires, and re-issued once (single flight) when a service rejects it.
// Methods: password (project-, domain- or system-scoped; names or IDs), application
// credentials (by ID, or by name with the owning user), and token.
import { BadResponseError, ConfigError, HttpError, httpErrorFor } from '../errors.js';
import type { CloudAuth, CloudConfig } from '../config/clouds.js';
import type { CatalogEntry } from './catalog.js';
import type { TokenSource, Transport } from './transport.js';

// ---- types ----------------------------------------------------------------

export interface NamedRef {
  id: string;
  name?: string;
  domain?: { id: string; name?: string };
}

/** What Keystone said about a token (POST /v3/auth/tokens or GET with X-Subject-Token). */
export interface TokenInfo {
  expires_at: string;
  issued_at?: string;
  methods: string[];
  user: NamedRef;
  project?: NamedRef;
  domain?: NamedRef;
  system?: Record<string, unknown>;
  roles?: { id: string; name: string }[];
  catalog?: CatalogEntry[];
  application_credential?: { id: string; name?: string; restricted?: boolean };
}

export interface Token {
  /** The X-Subject-Token value. Secret: never log it. */
  value: string;
  expiresAt: Date;
  info: TokenInfo;
  catalog: CatalogEntry[];
}

// ---- requests ---------------------------------------------------------------

function domainRef(id: string | undefined, name: string | undefined): Record<string, string> | undefined {
  if (id) return { id };
  if (name) return { name };
  return undefined;
}

function userRef(a: CloudAuth): Record<string, unknown> {
  if (a.user_id) return { id: a.user_id };
  const user: Record<string, unknown> = { name: a.username };
  const d = domainRef(a.user_domain_id, a.user_domain_name);
  if (d) user.domain = d;
  return user;
}

function scopeOf(a: CloudAuth): Record<string, unknown> | undefined {
  if (a.system_scope) return { system: { [a.system_scope]: true } };
  if (a.project_id) return { project: { id: a.project_id } };
  if (a.project_name) {
    const project: Record<string, unknown> = { name: a.project_name };
    const d = domainRef(a.project_domain_id, a.project_domain_name);
    if (d) project.domain = d;
    return { project };
  }
  const d = domainRef(a.domain_id, a.domain_name);
  if (d) return { domain: d };
  return undefined;
}

/** The body of POST /v3/auth/tokens for a cloud's auth settings. Contains secrets. */
export function authRequestBody(cloud: Pick<CloudConfig, 'auth_type' | 'auth' | 'name'>): Record<string, unknown> {
  const a = cloud.auth;
  let identity: Record<string, unknown>;
  let scope = scopeOf(a);
  switch (cloud.auth_type) {
    case 'password':
    case 'v3password':
      identity = { methods: ['password'], password: { user: { ...userRef(a), password: a.password } } };
      break;
    case 'v3applicationcredential':
    case 'application_credential': {
      const cred: Record<string, unknown> = a.application_credential_id
        ? { id: a.application_credential_id }
        : { name: a.application_credential_name, user: userRef(a) };
      cred.secret = a.application_credential_secret;
      identity = { methods: ['application_credential'], application_credential: cred };
      // An application credential carries its own scope; Keystone rejects another one.
      scope = undefined;
      break;
    }
    case 'token':
    case 'v3token':
      identity = { methods: ['token'], token: { id: a.token } };
      break;
    default:
      throw new ConfigError(`auth_type '${String(cloud.auth_type)}' is not supported`, undefined, `clouds.${cloud.name}.auth_type`, 'use password, v3applicationcredential or v3token');
  }
  return { auth: scope ? { identity, scope } : { identity } };
}

/** `https://k:5000`, `https://k:5000/v3/` and `https://k:5000/identity/v3` all become `.../v3`. */
export function identityV3Url(authUrl: string): string {
  const u = authUrl.replace(/\/+$/, '');
  if (/\/v3$/.test(u)) return u;
  if (/\/v2\.0$/.test(u)) return u.replace(/\/v2\.0$/, '/v3');
  return `${u}/v3`;
}

function parseToken(value: string | undefined, body: unknown, url: string): Token {
  const info = (body as { token?: TokenInfo } | undefined)?.token;
  if (!value) throw new BadResponseError(`identity: POST ${url} returned no X-Subject-Token header`);
  if (!info || typeof info.expires_at !== 'string') throw new BadResponseError(`identity: POST ${url} returned no token.expires_at`);
  const expiresAt = new Date(info.expires_at);
  if (Number.isNaN(expiresAt.getTime())) throw new BadResponseError(`identity: POST ${url} returned an unreadable expires_at '${info.expires_at}'`);
  return { value, expiresAt, info, catalog: info.catalog ?? [] };
}

/** Adds what to fix to Keystone's refusals: they name no key, and the key matters. */
function explainAuthFailure(err: unknown, cloud: CloudConfig): unknown {
  if (!(err instanceof HttpError)) return err;
  const appCred = cloud.auth_type === 'v3applicationcredential' || cloud.auth_type === 'application_credential';
  let hint: string | undefined;
  if (err.status === 401) {
    hint = appCred
      ? `check application_credential_id and _secret of cloud '${cloud.name}' in ${cloud.source}`
      : `check username, password and domains of cloud '${cloud.name}' in ${cloud.source}`;
  } else if (err.status === 404 && appCred) {
    // Keystone answers 404, not 401, for a deleted application credential.
    hint = `the application credential of cloud '${cloud.name}' no longer exists: create a new one and update ${cloud.source}`;
  }
  if (!hint) return err;
  return httpErrorFor({ status: err.status, method: err.method, url: err.url, service: err.service, requestId: err.requestId, detail: `${err.detail} (fix: ${hint})`, type: err.type });
}

/** Issues a token. The request body holds secrets: it is never logged (the transport logs no bodies). */
export async function issueToken(transport: Transport, cloud: CloudConfig, signal?: AbortSignal): Promise<Token> {
  const url = `${identityV3Url(cloud.auth.auth_url)}/auth/tokens`;
  const res = await transport
    .request<unknown>({
    method: 'POST',
    url,
    json: authRequestBody(cloud),
    auth: false,
    // Issuing a token twice is harmless, so transient failures may be retried.
    idempotent: true,
    service: 'identity',
    ok: [200, 201],
    signal,
  })
    .catch((err: unknown) => {
      throw explainAuthFailure(err, cloud);
    });
  return parseToken(res.headers['x-subject-token'], res.data, url);
}

// ---- session ----------------------------------------------------------------

export interface SessionOptions {
  /** Renew a token this long before it expires (default 5 minutes). */
  renewBeforeMs?: number;
  now?: () => number;
}

/**
 * Holds a site's token. Concurrent callers share one authentication; a 401 anywhere triggers
 * exactly one re-authentication for everyone holding the rejected token.
 */
export class Session implements TokenSource {
  private current: Token | undefined;
  private inflight: Promise<Token> | undefined;
  private readonly renewBeforeMs: number;
  private readonly now: () => number;
  /** How many tokens this session has issued (tests and metrics). */
  issued = 0;

  constructor(
    private readonly transport: Transport,
    private readonly cloud: CloudConfig,
    opts: SessionOptions = {},
  ) {
    this.renewBeforeMs = opts.renewBeforeMs ?? 300_000;
    this.now = opts.now ?? Date.now;
    transport.redactor.add(cloud.auth.password);
    transport.redactor.add(cloud.auth.application_credential_secret);
    transport.redactor.add(cloud.auth.token);
  }

  /** The current token's details, authenticating first if needed. */
  async tokenInfo(signal?: AbortSignal): Promise<Token> {
    const t = this.current;
    if (t && t.expiresAt.getTime() - this.now() > this.renewBeforeMs) return t;
    return this.authenticate(signal);
  }

  async token(signal?: AbortSignal): Promise<string> {
    return (await this.tokenInfo(signal)).value;
  }

  async refresh(stale: string, signal?: AbortSignal): Promise<string> {
    if (this.current && this.current.value !== stale) return this.current.value;
    if (this.current?.value === stale) this.current = undefined;
    return (await this.authenticate(signal)).value;
  }

  /** Forgets the token (next call authenticates again). */
  invalidate(): void {
    this.current = undefined;
  }

  private authenticate(signal?: AbortSignal): Promise<Token> {
    if (!this.inflight) {
      this.inflight = (async () => {
        try {
          const t = await issueToken(this.transport, this.cloud, signal);
          if (this.current) this.transport.redactor.remove(this.current.value);
          this.transport.redactor.add(t.value);
          this.current = t;
          this.issued++;
          return t;
        } finally {
          this.inflight = undefined;
        }
      })();
    }
    return this.inflight;
  }
}
