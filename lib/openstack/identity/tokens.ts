// Keystone v3 token validation: what a token stands for (user, project, roles, expiry), as
// the daemon's API needs for the tokens its callers present. API reference:
// https://docs.openstack.org/api-ref/identity/v3/#validate-and-show-information-for-token
// https://docs.openstack.org/api-ref/identity/v3/#check-token
// Source: keystone/api/auth.py AuthTokenResource, keystone/exception.py TokenNotFound (Zed).
//
// The token to check travels in X-Subject-Token (the transport masks that header in logs);
// the caller's own token in X-Auth-Token is added by the transport. Keystone's 404 message is
// "Could not find token: <the token>.", so every error from here has the subject token
// scrubbed before it leaves this module.
import { HttpError, httpErrorFor } from '../../errors.js';
import { REDACTED } from '../../redact.js';
import type { TokenInfo } from '../auth.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';

// ---- types ----------------------------------------------------------------

/** GET /v3/auth/tokens: the token body (no catalog unless asked for). */
export interface ValidatedToken extends TokenInfo {
  audit_ids?: string[];
  is_domain?: boolean;
  /** Present for tokens issued through a trust. */
  'OS-TRUST:trust'?: Record<string, unknown>;
}

export interface ValidateTokenOpts {
  /** Include the service catalog (default false: `nocatalog` is sent). */
  catalog?: boolean;
  /** Accept a token expired less than Keystone's allow_expired_window ago. */
  allowExpired?: boolean;
  signal?: AbortSignal;
}

// ---- urls -----------------------------------------------------------------

export const tokenUrls = {
  tokens: () => 'auth/tokens',
};

// ---- requests ---------------------------------------------------------------

function tokenQuery(opts: ValidateTokenOpts): Query | undefined {
  const q: Query = {};
  // Keystone looks only at the presence of `nocatalog`.
  if (!opts.catalog) q.nocatalog = '';
  if (opts.allowExpired) q.allow_expired = true;
  return Object.keys(q).length > 0 ? q : undefined;
}

/** Rebuilds an HttpError with `secret` scrubbed from its detail (and so from its message). */
function scrubbed(err: unknown, secret: string): unknown {
  if (!(err instanceof HttpError) || !secret) return err;
  const clean = (s: string) => s.split(secret).join(REDACTED);
  if (!err.detail.includes(secret) && !err.url.includes(secret)) return err;
  return httpErrorFor({
    status: err.status,
    method: err.method,
    url: clean(err.url),
    service: err.service,
    requestId: err.requestId,
    detail: clean(err.detail),
    type: err.type,
    retryAfter: err.retryAfter,
  });
}

/**
 * Validates a token and returns what it stands for; undefined when Keystone does not know it
 * (404: expired, revoked or never issued). Other failures (403 when the caller may not
 * validate tokens, 5xx) are thrown, with the token scrubbed from them.
 */
export async function validateToken(sc: ServiceClient, subjectToken: string, opts: ValidateTokenOpts = {}): Promise<ValidatedToken | undefined> {
  try {
    const res = await sc.get<{ token: ValidatedToken }>(tokenUrls.tokens(), {
      headers: { 'X-Subject-Token': subjectToken },
      query: tokenQuery(opts),
      signal: opts.signal,
    });
    return res.data.token;
  } catch (err) {
    if (err instanceof HttpError && err.status === 404) return undefined;
    throw scrubbed(err, subjectToken);
  }
}

/** Checks a token with HEAD: true when valid, false when Keystone does not know it (404). */
export async function checkToken(sc: ServiceClient, subjectToken: string, opts: Omit<ValidateTokenOpts, 'catalog'> = {}): Promise<boolean> {
  try {
    const query = opts.allowExpired ? { allow_expired: true } : undefined;
    await sc.head(tokenUrls.tokens(), { headers: { 'X-Subject-Token': subjectToken }, query, signal: opts.signal });
    return true;
  } catch (err) {
    if (err instanceof HttpError && err.status === 404) return false;
    throw scrubbed(err, subjectToken);
  }
}
