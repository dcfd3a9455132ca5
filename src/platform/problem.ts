/** Stable error codes (docs/errors.md); the first digit is the category. */
export const ErrorCode = {
  unauthorized: 1000,
  forbidden: 1001,
  sessionRevoked: 1002,
  accountLocked: 1003,
  csrfRejected: 1004,
  refreshInvalid: 1005,
  passwordChangeRequired: 1007,
  noCredentials: 1008,
  invalidToken: 1009,
  setupToken: 1010,
  invalidBody: 2000,
  malformedRequest: 2001,
  payloadTooLarge: 2002,
  methodNotAllowed: 2003,
  unsupportedMediaType: 2004,
  notFound: 3000,
  unknownRoute: 3002,
  conflict: 4000,
  duplicate: 4001,
  versionConflict: 4002,
  rateLimited: 5000,
  operationRateLimited: 5001,
  concurrencyCap: 5002,
  connectionCap: 5003,
  ticketCap: 5004,
  upstream: 7000,
  upstreamTimeout: 7001,
  internal: 8000,
  unavailable: 8001,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

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
  readonly code: number;
  readonly options: AppErrorOptions;

  constructor(status: number, code: number, detail: string, options: AppErrorOptions = {}) {
    super(detail);
    this.name = 'AppError';
    this.status = status;
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
