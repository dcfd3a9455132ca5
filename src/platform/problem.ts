/**
 * Every error code the API sends, bound once to its HTTP status and its meaning. docs/errors.md is checked
 * against this table both ways, and AppError takes its status from here, so a code cannot go out with two.
 * The first digit of a code is its category.
 */
export const ERRORS = {
  unauthorized: {
    code: 1000,
    status: 401,
    doc: 'wrong username or password (the same answer for an unknown user, a wrong password and a disabled account), or a single sign-on whose proof failed',
  },
  forbidden: {
    code: 1001,
    status: 403,
    doc: 'forbidden: your role or groups do not allow this, or an API key tried something that needs a session',
  },
  sessionRevoked: {
    code: 1002,
    status: 401,
    doc: 'the session has ended: revoked (logout, password change, admin), idle too long or past its maximum age; sign in again',
  },
  accountLocked: {
    code: 1003,
    status: 429,
    doc: 'the account is locked after too many failed sign-ins; the detail ("locked for 14 more minutes") and `Retry-After` say for how long (an operator can lift it: `switchboard user unlock <username>`)',
  },
  csrfRejected: {
    code: 1004,
    status: 403,
    doc: 'CSRF check failed: a cookie-authenticated write needs `X-CSRF-Token` equal to the `csrf_token` cookie, from an allowed `Origin` (or `Referer`)',
  },
  refreshInvalid: {
    code: 1005,
    status: 401,
    doc: 'the refresh token is missing, unknown, expired or already used (a reused token also ends its session)',
  },
  passwordChangeRequired: {
    code: 1007,
    status: 403,
    doc: 'change your password first (`POST /api/v1/auth/password`); only `/auth/me`, `/auth/password` and `/auth/logout` answer until then',
  },
  noCredentials: {
    code: 1008,
    status: 401,
    doc: 'no credentials: send the session cookie or `Authorization: Bearer <token or API key>`',
  },
  invalidToken: {
    code: 1009,
    status: 401,
    doc: 'the access token or API key is invalid, expired, revoked, or predates a password change',
  },
  setupToken: {
    code: 1010,
    status: 401,
    doc: 'the setup token is missing or wrong (`POST /api/v1/auth/setup`)',
  },
  invalidBody: {
    code: 2000,
    status: 422,
    doc: 'invalid body or parameters; `errors` lists each field as `{pointer, message}`',
  },
  malformedRequest: {
    code: 2001,
    status: 400,
    doc: 'malformed request: bad JSON, a bad URL, malformed HTTP; a JSON body with a `__proto__` key (or `constructor` holding `prototype`); on PostgreSQL, text holding the NUL character (U+0000), which it cannot store',
  },
  payloadTooLarge: {
    code: 2002,
    status: 413,
    doc: 'body larger than `SWITCHBOARD_BODY_LIMIT_BYTES` (`SWITCHBOARD_CONFIG_BODY_LIMIT_BYTES` on the configuration routes); answered while the body is still arriving, then the connection closes',
  },
  methodNotAllowed: {
    code: 2003,
    status: 405,
    doc: 'method not allowed; `Allow` lists the ones that are',
  },
  unsupportedMediaType: {
    code: 2004,
    status: 415,
    doc: 'unsupported content type, `text/plain` included: routes take `application/json` (the sign-in also a form)',
  },
  requestTimeout: {
    code: 2005,
    status: 408,
    doc: 'the headers or the whole request arrived too slowly (`SWITCHBOARD_HEADERS_TIMEOUT`, `SWITCHBOARD_REQUEST_TIMEOUT`); the connection closes',
  },
  upgradeRequired: {
    code: 2006,
    status: 426,
    doc: 'this route speaks WebSocket only (`GET /api/v1/ws`); send an upgrade request',
  },
  headersTooLarge: {
    code: 2007,
    status: 431,
    doc: 'too many header fields (`SWITCHBOARD_MAX_HEADERS`) or too many bytes of them (`SWITCHBOARD_MAX_HEADER_BYTES`)',
  },
  notFound: {
    code: 3000,
    status: 404,
    doc: 'the resource does not exist, or you may not know that it does',
  },
  unknownRoute: {
    code: 3002,
    status: 404,
    doc: 'unknown route',
  },
  conflict: {
    code: 4000,
    status: 409,
    doc: 'conflict with the current state (setup already done, the last admin, …)',
  },
  duplicate: {
    code: 4001,
    status: 409,
    doc: 'duplicate: the name, username or configuration version is taken',
  },
  versionConflict: {
    code: 4002,
    status: 412,
    doc: '`If-Match` names a version that is no longer the current one (preferences, workspaces); read it again and retry',
  },
  rateLimited: {
    code: 5000,
    status: 429,
    doc: 'tier limit: too many requests from your address (all requests, or those without credentials) or for your account; see [rate limits](rate-limits.md)',
  },
  operationRateLimited: {
    code: 5001,
    status: 429,
    doc: 'per-operation limit: too many requests of one kind (sign-ins, key creation, …) in its window',
  },
  concurrencyCap: {
    code: 5002,
    status: 429,
    doc: 'concurrency cap: you already have as many of this slow operation running as allowed',
  },
  connectionCap: {
    code: 5003,
    status: 429,
    doc: 'too many live connections (issued by the live-data streams)',
  },
  ticketCap: {
    code: 5004,
    status: 429,
    doc: 'too many pending connect tickets (at most 5 per user); use one or wait for one to expire',
  },
  upstream: {
    code: 7000,
    status: 502,
    doc: 'an upstream failed: a function under test threw, crashed, ran out of memory or returned what JSON cannot hold, or an identity provider could not be reached',
  },
  upstreamTimeout: {
    code: 7001,
    status: 504,
    doc: 'an upstream took too long: a function under test ran past its time limit',
  },
  internal: {
    code: 8000,
    status: 500,
    doc: 'internal error (no internals in the body; the log has them under the same request id)',
  },
  unavailable: {
    code: 8001,
    status: 503,
    doc: 'not ready (`/readyz`: the database does not answer in time), or the database could not be reached for this request: try again after `Retry-After`',
  },
  diskFull: {
    code: 8002,
    status: 503,
    doc: "the server's disk is full: the database (or the data directory) could not take this change, and nothing of it was kept; reads still answer; an operator frees space, then the same request passes (`Retry-After`)",
  },
} as const satisfies Record<string, { code: number; status: number; doc: string }>;

type Catalogue = typeof ERRORS;
export type ErrorName = keyof Catalogue;
/** Codes by name, for call sites: `new AppError(ErrorCode.notFound, …)`. */
export const ErrorCode = Object.fromEntries(
  Object.entries(ERRORS).map(([name, spec]) => [name, spec.code]),
) as { readonly [K in ErrorName]: Catalogue[K]['code'] };
export type ErrorCodeValue = Catalogue[ErrorName]['code'];

const statusByCode = new Map<number, number>(Object.values(ERRORS).map((spec) => [spec.code, spec.status]));

/** The HTTP status a code always goes out with. */
export function statusOf(code: ErrorCodeValue): number {
  return statusByCode.get(code) ?? 500;
}

const categories: Record<string, { name: string; title: string }> = {
  '1': { name: 'auth', title: 'Authentication or authorization failed' },
  '2': { name: 'validation', title: 'The request is not valid' },
  '3': { name: 'not_found', title: 'Not found' },
  '4': { name: 'conflict', title: 'Conflict' },
  '5': { name: 'rate_limit', title: 'Too many requests' },
  '7': { name: 'upstream', title: 'An upstream service failed' },
  '8': { name: 'internal', title: 'Internal error' },
};

export function categoryOf(code: number): { name: string; title: string } {
  return categories[String(code).charAt(0)] ?? { name: 'internal', title: 'Internal error' };
}

export interface FieldError {
  pointer: string;
  message: string;
}

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  error_code: number;
  error_category: string;
  retryable: boolean;
  retry_after: number | null;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export interface AppErrorOptions {
  retryAfter?: number;
  errors?: FieldError[];
  headers?: Record<string, string>;
  extensions?: Record<string, unknown>;
}

/** The one error type services throw; the error handler turns it into a problem document. */
export class AppError extends Error {
  readonly status: number;
  readonly code: ErrorCodeValue;
  readonly options: AppErrorOptions;

  constructor(code: ErrorCodeValue, detail: string, options: AppErrorOptions = {}) {
    super(detail);
    this.name = 'AppError';
    this.status = statusOf(code);
    this.code = code;
    this.options = options;
  }
}

export function buildProblem(error: AppError, instance: string): ProblemDocument {
  const category = categoryOf(error.code);
  const retryAfter = error.options.retryAfter ?? null;
  return {
    type: `/docs/errors#${category.name}`,
    title: category.title,
    status: error.status,
    detail: error.message,
    instance,
    error_code: error.code,
    error_category: category.name,
    retryable: error.status === 429 || error.status === 503 || error.status === 504,
    retry_after: retryAfter,
    ...(error.options.errors ? { errors: error.options.errors } : {}),
    ...error.options.extensions,
  };
}

/** A 422 naming one field, the way schema errors name theirs; `detail` says it in a sentence of its own. */
export function invalidField(pointer: string, message: string, detail = `${pointer} ${message}`): AppError {
  return new AppError(ErrorCode.invalidBody, detail, { errors: [{ pointer, message }] });
}

/** A 404 that says what was looked for. */
export function notFound(what: string): AppError {
  return new AppError(ErrorCode.notFound, `${what} not found`);
}
