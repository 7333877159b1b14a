// Ferry's error tree. Every error an operator may see carries the facts needed at 3 a.m.:
// which site and service, which call, the status, the OpenStack request ID, and the
// service's own message. Nothing here ever holds a token, password or secret: callers pass
// text through the transport's redactor before it reaches an error.

/** The root of every error Ferry raises on purpose. */
export class FerryError extends Error {
  override readonly name: string = 'FerryError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Bad input in a file or the environment: names the file, the key and the fix. */
export class ConfigError extends FerryError {
  override readonly name: string = 'ConfigError';
  constructor(
    message: string,
    readonly file?: string,
    readonly key?: string,
    readonly fix?: string,
  ) {
    super(ConfigError.format(message, file, key, fix));
  }

  private static format(message: string, file?: string, key?: string, fix?: string): string {
    const where = [file, key ? `key '${key}'` : undefined].filter(Boolean).join(': ');
    return `${where ? `${where}: ` : ''}${message}${fix ? ` (fix: ${fix})` : ''}`;
  }
}

/** The catalog has no endpoint for a service type (after aliases, region and interface). */
export class EndpointNotFoundError extends FerryError {
  override readonly name: string = 'EndpointNotFoundError';
}

/** The server does not support what a call needs (microversion, API extension). */
export class NotSupportedError extends FerryError {
  override readonly name: string = 'NotSupportedError';
}

/** A waiter saw a failure state (e.g. volume `error`, stack `CREATE_FAILED`). */
export class ResourceFailureError extends FerryError {
  override readonly name: string = 'ResourceFailureError';
  constructor(
    message: string,
    readonly resource: string,
    readonly status: string,
  ) {
    super(message);
  }
}

/** A waiter or an operation ran out of time. */
export class WaitTimeoutError extends FerryError {
  override readonly name: string = 'WaitTimeoutError';
  constructor(
    message: string,
    readonly resource: string,
    readonly lastStatus: string | undefined,
  ) {
    super(message);
  }
}

/** A response that is 2xx but not what the API reference promises (missing key, bad JSON). */
export class BadResponseError extends FerryError {
  override readonly name: string = 'BadResponseError';
}

/** The connection failed before an HTTP status arrived (refused, reset, DNS, TLS, timeout). */
export class ConnectionError extends FerryError {
  override readonly name: string = 'ConnectionError';
  constructor(
    message: string,
    readonly method: string,
    readonly url: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface HttpErrorFacts {
  status: number;
  method: string;
  url: string;
  /** Service type, e.g. `compute`; `identity` for Keystone. */
  service?: string | undefined;
  /** `X-OpenStack-Request-ID` (or Nova's `X-Compute-Request-Id`) of the reply. */
  requestId?: string | undefined;
  /** The service's own human message, extracted from whatever body shape it uses. */
  detail: string;
  /** The service's error type where it gives one (`itemNotFound`, `NetworkNotFound`, `EntityNotFound`). */
  type?: string | undefined;
  /** Seconds from a `Retry-After` header (429/503), when present. */
  retryAfter?: number | undefined;
}

/** An OpenStack API answered with a non-success status. */
export class HttpError extends FerryError {
  override readonly name: string = 'HttpError';
  readonly status: number;
  readonly method: string;
  readonly url: string;
  readonly service: string | undefined;
  readonly requestId: string | undefined;
  readonly detail: string;
  readonly type: string | undefined;
  readonly retryAfter: number | undefined;
  /** `client` for 4xx (fix the request), `server` for 5xx (the cloud failed). */
  readonly fault: 'client' | 'server';

  constructor(facts: HttpErrorFacts) {
    const svc = facts.service ? `${facts.service}: ` : '';
    const rid = facts.requestId ? ` (request ${facts.requestId})` : '';
    const detail = facts.detail ? `: ${facts.detail}` : '';
    super(`${svc}${facts.method} ${facts.url} returned ${facts.status}${detail}${rid}`);
    this.status = facts.status;
    this.method = facts.method;
    this.url = facts.url;
    this.service = facts.service;
    this.requestId = facts.requestId;
    this.detail = facts.detail;
    this.type = facts.type;
    this.retryAfter = facts.retryAfter;
    this.fault = facts.status >= 500 ? 'server' : 'client';
  }
}

export class BadRequestError extends HttpError {
  override readonly name: string = 'BadRequestError';
}
export class UnauthorizedError extends HttpError {
  override readonly name: string = 'UnauthorizedError';
}
export class ForbiddenError extends HttpError {
  override readonly name: string = 'ForbiddenError';
}
export class NotFoundError extends HttpError {
  override readonly name: string = 'NotFoundError';
}
export class ConflictError extends HttpError {
  override readonly name: string = 'ConflictError';
}
export class PreconditionFailedError extends HttpError {
  override readonly name: string = 'PreconditionFailedError';
}
export class OverLimitError extends HttpError {
  override readonly name: string = 'OverLimitError';
}
export class TooManyRequestsError extends HttpError {
  override readonly name: string = 'TooManyRequestsError';
}
export class ServerError extends HttpError {
  override readonly name: string = 'ServerError';
}

const CLASS_BY_STATUS: Record<number, new (f: HttpErrorFacts) => HttpError> = {
  400: BadRequestError,
  401: UnauthorizedError,
  403: ForbiddenError,
  404: NotFoundError,
  409: ConflictError,
  412: PreconditionFailedError,
  413: OverLimitError,
  429: TooManyRequestsError,
};

/** Builds the right HttpError subclass for a status. */
export function httpErrorFor(facts: HttpErrorFacts): HttpError {
  const Cls = CLASS_BY_STATUS[facts.status] ?? (facts.status >= 500 ? ServerError : HttpError);
  return new Cls(facts);
}

/** True when `err` is an HttpError with one of the given statuses. Safe with any value. */
export function isStatus(err: unknown, ...statuses: number[]): err is HttpError {
  return err instanceof HttpError && statuses.includes(err.status);
}

export const isNotFound = (err: unknown): err is NotFoundError => isStatus(err, 404);
export const isConflict = (err: unknown): err is ConflictError => isStatus(err, 409);
