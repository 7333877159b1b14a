// Errors as the API answers them: one body shape, {error: {code, message, request_id}}, and a
// status chosen from what went wrong. Anything unexpected is a 500 whose message points to the
// daemon's log (by request ID) instead of leaking internals.
import { ZodError } from 'zod';
import { CatalogConflictError, CatalogInputError, CatalogNotFoundError } from '../../catalog/repo.js';
import { FerryError } from '../../errors.js';
import { FencedError, RunStateError } from '../../workflows/engine.js';
import { IdentityUnavailableError } from './auth.js';
import type { ErrorBody, ErrorCode } from './schemas.js';

/** An error with the status and code the API should answer; handlers and the daemon's hooks (startRun, status) throw it. */
export class ApiError extends FerryError {
  override readonly name: string = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** No workflow of this kind is available in this daemon (yet): 501. */
export class RunKindUnavailableError extends ApiError {
  override readonly name: string = 'RunKindUnavailableError';
  constructor(kind: string, why = 'no workflow of this kind is registered in this daemon') {
    super(501, 'not_implemented', `cannot start a ${kind} run: ${why}`);
  }
}

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  501: 'not_implemented',
  503: 'unavailable',
};

/** "body.kind: Invalid option…; query.limit: Too big…" */
export function describeZodError(err: ZodError, where: string): string {
  return err.issues
    .map((i) => {
      const path = [where, ...i.path.map(String)].join('.');
      return `${path}: ${i.message}`;
    })
    .join('; ');
}

export interface MappedError {
  status: number;
  code: ErrorCode;
  message: string;
  headers: Record<string, string>;
  /** Unexpected: log it with its stack. */
  internal: boolean;
}

/** Maps any thrown value to the answer (pure). */
export function mapError(err: unknown, requestId: string): MappedError {
  const plain = (status: number, code: ErrorCode, message: string): MappedError => ({ status, code, message, headers: {}, internal: false });
  if (err instanceof ApiError) return { status: err.status, code: err.code, message: err.message, headers: err.headers, internal: false };
  if (err instanceof ZodError) return plain(400, 'bad_request', describeZodError(err, 'request'));
  if (err instanceof IdentityUnavailableError) return plain(503, 'identity_unavailable', err.message);
  if (err instanceof CatalogNotFoundError) return plain(404, 'not_found', err.message);
  if (err instanceof FencedError || err instanceof CatalogConflictError || err instanceof RunStateError) return plain(409, 'conflict', err.message);
  if (err instanceof CatalogInputError) return plain(400, 'bad_request', err.message);
  // fastify's own errors (bad JSON, wrong content type, body too large) carry a 4xx statusCode.
  const e = err as { statusCode?: unknown; message?: unknown; code?: unknown };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return plain(e.statusCode, CODE_BY_STATUS[e.statusCode] ?? 'bad_request', typeof e.message === 'string' ? e.message : 'bad request');
  }
  return { status: 500, code: 'internal', message: `internal error; the daemon's log has the details under request ${requestId}`, headers: {}, internal: true };
}

export function errorBody(code: ErrorCode, message: string, requestId: string): ErrorBody {
  return { error: { code, message, request_id: requestId } };
}
