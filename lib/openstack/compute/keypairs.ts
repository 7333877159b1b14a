// Nova v2.1 keypairs. API reference: https://docs.openstack.org/api-ref/compute/#keypairs-keypairs
// Source: nova/api/openstack/compute/keypairs.py, views/keypairs.py, schemas/keypairs.py (Zed, 26.x).
// Keypairs belong to a user, not a project: admins reach another user's with `user_id` (2.10+).
import { isNotFound } from '../../errors.js';
import { paginate, type PageOptions } from '../paginate.js';
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';

// ---- types ----------------------------------------------------------------

/** A keypair as listed (name, public_key, fingerprint, type) or shown (every field). */
export interface Keypair {
  name: string;
  public_key: string;
  fingerprint: string;
  /** Since 2.2. */
  type?: 'ssh' | 'x509';
  /** Shown and created keypairs only. */
  user_id?: string;
  /** Shown keypairs only. */
  id?: number;
  created_at?: string;
  updated_at?: string | null;
  deleted?: boolean;
  deleted_at?: string | null;
}

export interface ListKeypairsQuery {
  /** Admin, since 2.10: another user's keypairs. */
  user_id?: string;
  /** Page size; Nova pages keypairs (keypairs_links) since 2.35 and returns them all before. */
  limit?: number;
}

export interface ImportKeypairOpts {
  name: string;
  /** OpenSSH public key (or an x509 certificate with type x509). */
  public_key: string;
  /** Since 2.2 (default ssh). */
  type?: 'ssh' | 'x509';
  /** Admin, since 2.10: import for another user. */
  user_id?: string;
}

// ---- urls -----------------------------------------------------------------

export const keypairUrls = {
  list: () => 'os-keypairs',
  create: () => 'os-keypairs',
  one: (name: string) => `os-keypairs/${encodeURIComponent(name)}`,
};

// ---- requests ---------------------------------------------------------------

function userQuery(userId: string | undefined): Query | undefined {
  return userId !== undefined ? { user_id: userId } : undefined;
}

/** Lists keypairs, every page; Nova wraps each as `{"keypair": {...}}`, this yields the inner objects. */
export async function* listKeypairs(sc: ServiceClient, q: ListKeypairsQuery = {}, opts?: PageOptions): AsyncGenerator<Keypair> {
  if (q.user_id !== undefined) await sc.require('2.10', "listing another user's keypairs", opts?.signal);
  const pages = paginate<{ keypair: Keypair }>(sc, keypairUrls.list(), userQuery(q.user_id) ?? {}, { style: 'links', key: 'keypairs', limit: q.limit }, opts);
  for await (const wrapped of pages) yield wrapped.keypair;
}

export async function getKeypair(sc: ServiceClient, name: string, opts: { user_id?: string; signal?: AbortSignal } = {}): Promise<Keypair> {
  if (opts.user_id !== undefined) await sc.require('2.10', "reading another user's keypair", opts.signal);
  return (await sc.get<{ keypair: Keypair }>(keypairUrls.one(name), { query: userQuery(opts.user_id), signal: opts.signal })).data.keypair;
}

/**
 * Imports a public key as a keypair (201 since 2.2, 200 before). Not retried: a repeat
 * answers 409 (the name exists). Ferry never asks Nova to generate keys (removed in 2.92).
 */
export async function importKeypair(sc: ServiceClient, opts: ImportKeypairOpts, signal?: AbortSignal): Promise<Keypair> {
  if (opts.type !== undefined) await sc.require('2.2', 'a keypair type', signal);
  if (opts.user_id !== undefined) await sc.require('2.10', 'importing a keypair for another user', signal);
  return (await sc.post<{ keypair: Keypair }>(keypairUrls.create(), { keypair: opts }, { ok: [200, 201], signal })).data.keypair;
}

export interface DeleteKeypairOpts {
  /** Admin, since 2.10. */
  user_id?: string;
  /** A missing keypair is not an error (default true). */
  ignoreMissing?: boolean;
  signal?: AbortSignal;
}

/** Deletes a keypair (204 since 2.2, 202 before); returns false when it was already gone. */
export async function deleteKeypair(sc: ServiceClient, name: string, opts: DeleteKeypairOpts = {}): Promise<boolean> {
  if (opts.user_id !== undefined) await sc.require('2.10', "deleting another user's keypair", opts.signal);
  try {
    await sc.delete(keypairUrls.one(name), { query: userQuery(opts.user_id), ok: [202, 204], signal: opts.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && opts.ignoreMissing !== false) return false;
    throw err;
  }
}
