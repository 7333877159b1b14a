// Who is calling: the X-Auth-Token a caller presents, validated against a site's Keystone
// (GET /v3/auth/tokens with X-Subject-Token, as keystonemiddleware does) and cached briefly
// by the token's SHA-256, never by the token itself.
//
// Decisions (docs/api.md "Authentication"):
//  - A valid token is cached for `ttlMs` (default 60 s), never past its own expiry: a revoked
//    token keeps working for at most that long, the price of not asking Keystone on every
//    request (keystonemiddleware's token_cache_time makes the same trade).
//  - A token Keystone does not know (404) is remembered as invalid for `negativeTtlMs`
//    (default 10 s), so a client retrying a dead token does not hammer Keystone.
//  - Keystone failing (unreachable, 5xx, 403 because the daemon's own credentials may not
//    validate tokens) is not the caller's fault: it is IdentityUnavailableError (503), never
//    cached, and its message has the token scrubbed.
//  - Concurrent requests with the same token share one validation.
//  - Tokens never reach a log line or an error: logs carry the first 12 hex digits of the
//    hash (tokenHash) to correlate requests of one token.
import { createHash } from 'node:crypto';
import { FerryError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { validateToken, type ValidatedToken } from '../../openstack/identity/tokens.js';
import type { Site } from '../../openstack/site.js';
import { REDACTED } from '../../redact.js';

/** A caller as its validated token describes it. */
export interface Caller {
  userId: string;
  userName?: string;
  userDomainId?: string;
  /** Project-scoped tokens. */
  projectId?: string;
  projectName?: string;
  projectDomainId?: string;
  /** Domain-scoped tokens. */
  domainId?: string;
  /** System-scoped tokens: `all`. */
  systemScope?: string;
  /** Role names as Keystone listed them (policy adds implied roles). */
  roles: string[];
  /** Keystone's is_admin_project, when it sends it. */
  isAdminProject?: boolean;
  expiresAt: Date;
  /** The first 12 hex digits of the token's SHA-256: for logs, never the token. */
  tokenHash: string;
}

/** Validates a token: the caller, or undefined when the token is not valid. Throws IdentityUnavailableError when it cannot tell. */
export type TokenValidator = (token: string, signal?: AbortSignal) => Promise<Caller | undefined>;

/** Keystone could not be asked (or refused to answer): the API answers 503. */
export class IdentityUnavailableError extends FerryError {
  override readonly name: string = 'IdentityUnavailableError';
}

/** The SHA-256 of a token in hex: the cache key. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The caller a Keystone token body describes (pure). */
export function callerFromToken(info: ValidatedToken, hash: string): Caller {
  const c: Caller = {
    userId: info.user.id,
    roles: (info.roles ?? []).map((r) => r.name),
    expiresAt: new Date(info.expires_at),
    tokenHash: hash.slice(0, 12),
  };
  if (info.user.name !== undefined) c.userName = info.user.name;
  if (info.user.domain?.id !== undefined) c.userDomainId = info.user.domain.id;
  if (info.project) {
    c.projectId = info.project.id;
    if (info.project.name !== undefined) c.projectName = info.project.name;
    if (info.project.domain?.id !== undefined) c.projectDomainId = info.project.domain.id;
  }
  if (info.domain) c.domainId = info.domain.id;
  if (info.system) c.systemScope = info.system['all'] === true ? 'all' : Object.keys(info.system)[0];
  const adminProject = (info as { is_admin_project?: unknown }).is_admin_project;
  if (typeof adminProject === 'boolean') c.isAdminProject = adminProject;
  return c;
}

// ---- the cache ------------------------------------------------------------------------------

export interface TokenCacheOptions {
  /** How long a valid token is trusted without asking Keystone again (default 60 s). */
  ttlMs?: number;
  /** How long an invalid token is remembered (default 10 s; 0 disables). */
  negativeTtlMs?: number;
  /** Most tokens remembered; the oldest go first (default 10 000). */
  maxEntries?: number;
  /** The clock in ms (tests). */
  now?: () => number;
  logger?: Logger;
}

interface Entry {
  caller: Caller | undefined;
  until: number;
}

/** Remembers validations by token hash; `validate` is the TokenValidator to hand the API. */
export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Caller | undefined>>();
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly logger: Logger;
  /** Validations answered from the cache, and those that asked the lookup. */
  readonly stats = { hits: 0, misses: 0 };

  constructor(
    private readonly lookup: (token: string, hash: string, signal?: AbortSignal) => Promise<Caller | undefined>,
    opts: TokenCacheOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.negativeTtlMs = opts.negativeTtlMs ?? 10_000;
    this.maxEntries = Math.max(1, opts.maxEntries ?? 10_000);
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger ?? silentLogger;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  readonly validate: TokenValidator = async (token, signal) => {
    if (!token) return undefined;
    const hash = tokenHash(token);
    const now = this.now();
    const hit = this.entries.get(hash);
    if (hit && hit.until > now) {
      this.stats.hits++;
      return hit.caller;
    }
    if (hit) this.entries.delete(hash);
    let pending = this.inflight.get(hash);
    if (!pending) {
      this.stats.misses++;
      pending = this.ask(token, hash, signal).finally(() => this.inflight.delete(hash));
      this.inflight.set(hash, pending);
    }
    return pending;
  };

  private async ask(token: string, hash: string, signal?: AbortSignal): Promise<Caller | undefined> {
    const short = hash.slice(0, 12);
    let caller: Caller | undefined;
    try {
      caller = await this.lookup(token, hash, signal);
    } catch (err) {
      const message = (err instanceof Error ? err.message : String(err)).split(token).join(REDACTED);
      this.logger.warn('cannot validate a token', { tokenHash: short, error: message });
      throw new IdentityUnavailableError(`cannot validate the token with Keystone: ${message}`);
    }
    const now = this.now();
    if (caller && caller.expiresAt.getTime() <= now) caller = undefined;
    const until = caller ? Math.min(now + this.ttlMs, caller.expiresAt.getTime()) : now + this.negativeTtlMs;
    if (until > now) this.remember(hash, { caller, until }, now);
    if (caller) this.logger.debug('token validated', { tokenHash: short, user: caller.userName ?? caller.userId, project: caller.projectName ?? caller.projectId ?? '-' });
    else this.logger.info('token refused: Keystone does not know it (expired, revoked or never issued)', { tokenHash: short });
    return caller;
  }

  private remember(hash: string, entry: Entry, now: number): void {
    if (this.entries.size >= this.maxEntries) {
      for (const [k, e] of this.entries) if (e.until <= now) this.entries.delete(k);
      while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(hash, entry);
  }
}

/**
 * The default validator: asks the site's Keystone about each token (the site's own
 * credentials need Keystone's identity:validate_token, i.e. the `service` role or a
 * system-scoped reader), cached.
 */
export function keystoneTokenValidator(site: Site, opts: TokenCacheOptions = {}): TokenCache {
  return new TokenCache(async (token, hash, signal) => {
    const info = await validateToken(site.identity, token, signal ? { signal } : {});
    return info ? callerFromToken(info, hash) : undefined;
  }, opts);
}

/**
 * The caller every request acts as under `[api] auth_strategy = noauth` (tests and labs only): a
 * system-scoped admin, so every rule with the default policy allows it and it sees every plan.
 */
export function noAuthCaller(): Caller {
  return { userId: 'noauth', userName: 'noauth', systemScope: 'all', roles: ['admin', 'member', 'reader'], expiresAt: new Date(8.64e15), tokenHash: 'noauth' };
}

/** One line about a caller for logs: user, project and the token's hash prefix. */
export function describeCaller(c: Caller): { user: string; project: string; tokenHash: string } {
  return { user: c.userName ?? c.userId, project: c.projectName ?? c.projectId ?? c.domainId ?? (c.systemScope ? `system:${c.systemScope}` : '-'), tokenHash: c.tokenHash };
}
