// Keystone v3 application credentials of a user: how Ferry gets long-lived, role-limited
// credentials for a site without storing a password. API reference:
// https://docs.openstack.org/api-ref/identity/v3/#application-credentials
// Source: keystone/api/users.py UserAppCredListCreateResource, UserAppCredGetDeleteResource,
// keystone/application_credential/schema.py (Zed).
//
// The secret is returned once, by create; Keystone stores only its hash. Every secret this
// module sends or receives is registered with the site's redactor so it never reaches a log
// line or an error message.
import { isNotFound } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';

// ---- types ----------------------------------------------------------------

export interface RoleRef {
  id: string;
  name?: string;
  domain_id?: string | null;
}

export interface AccessRule {
  id?: string;
  service: string;
  method: 'POST' | 'GET' | 'HEAD' | 'PATCH' | 'PUT' | 'DELETE';
  /** e.g. /v3/{project_id}/volumes/*; must start with "/". */
  path: string;
}

export interface ApplicationCredential {
  id: string;
  name: string;
  description: string | null;
  /** ISO 8601, or null for no expiry. */
  expires_at: string | null;
  /** The project the credential is scoped to (the creating token's project). */
  project_id: string;
  roles: RoleRef[];
  /**
   * True when it may create further application credentials and trusts. Keystone stores the
   * flag as given at creation: null when it was not given, which Keystone treats as false
   * (restricted). Test it for `=== true`, never for `=== false`.
   */
  unrestricted: boolean | null;
  access_rules?: AccessRule[];
  links?: { self: string };
}

/** What create answers: the credential plus its secret, shown this once. */
export interface CreatedApplicationCredential extends ApplicationCredential {
  secret: string;
}

export interface CreateApplicationCredentialOpts {
  name: string;
  description?: string;
  /** Chosen secret; Keystone generates one when absent. */
  secret?: string;
  /** A subset of the token's roles (by ID or by name, one key each); all of them when absent. */
  roles?: ({ id: string } | { name: string })[];
  /** ISO 8601 expiry, e.g. 2027-01-01T00:00:00; none when absent. */
  expires_at?: string;
  /** Let the credential create application credentials and trusts (default false). */
  unrestricted?: boolean;
  access_rules?: AccessRule[];
}

// ---- urls -----------------------------------------------------------------

export const appCredUrls = {
  list: (userId: string) => `users/${encodeURIComponent(userId)}/application_credentials`,
  one: (userId: string, id: string) => `users/${encodeURIComponent(userId)}/application_credentials/${encodeURIComponent(id)}`,
};

// ---- requests ---------------------------------------------------------------

/** Lists a user's application credentials (optionally by exact name). */
export function listApplicationCredentials(sc: ServiceClient, userId: string, q: { name?: string } = {}, opts?: PageOptions): AsyncGenerator<ApplicationCredential> {
  const query = q.name !== undefined ? { name: q.name } : {};
  return paginate<ApplicationCredential>(sc, appCredUrls.list(userId), query, { style: 'links', key: 'application_credentials' }, opts);
}

export async function getApplicationCredential(sc: ServiceClient, userId: string, id: string, signal?: AbortSignal): Promise<ApplicationCredential> {
  return (await sc.get<{ application_credential: ApplicationCredential }>(appCredUrls.one(userId, id), { signal })).data.application_credential;
}

/**
 * Creates an application credential for the calling user (Keystone refuses 403 for another
 * user, and for a token that itself came from a restricted application credential). Not
 * retried: a repeat fails with 409 (the name is taken). Returns the secret, once.
 */
export async function createApplicationCredential(sc: ServiceClient, userId: string, opts: CreateApplicationCredentialOpts, signal?: AbortSignal): Promise<CreatedApplicationCredential> {
  sc.transport.redactor.add(opts.secret);
  const res = await sc.post<{ application_credential: CreatedApplicationCredential }>(appCredUrls.list(userId), { application_credential: opts }, { ok: [201], signal });
  const cred = res.data.application_credential;
  sc.transport.redactor.add(cred.secret);
  return cred;
}

export interface DeleteApplicationCredentialOpts {
  /** A missing credential is not an error (default true): deletion is idempotent. */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Deletes an application credential; returns false when it was already gone. */
export async function deleteApplicationCredential(sc: ServiceClient, userId: string, id: string, opts: DeleteApplicationCredentialOpts = {}): Promise<boolean> {
  try {
    await sc.delete(appCredUrls.one(userId, id), { ok: [204], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}
