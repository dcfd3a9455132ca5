import { ErrorCode, STATUS_OF_CODE } from './generated/errors.js';

export { ErrorCode, STATUS_OF_CODE };

/** One field a 422 refused: its JSON pointer and what is wrong with it. */
export interface FieldError {
  pointer: string;
  message: string;
}

/** The category of a code (its first digit), plus `network` for a server that did not answer. */
export type ErrorCategory =
  | 'auth'
  | 'validation'
  | 'not_found'
  | 'conflict'
  | 'rate_limit'
  | 'upstream'
  | 'internal'
  | 'network'
  | 'unknown';

export interface ProblemFields {
  status: number;
  code: ErrorCode | null;
  title: string;
  detail: string;
  fieldErrors?: FieldError[];
  retryAfter?: number | null;
  requestId?: string | null;
  retryable?: boolean;
}

const CATEGORIES: Record<string, ErrorCategory> = {
  '1': 'auth',
  '2': 'validation',
  '3': 'not_found',
  '4': 'conflict',
  '5': 'rate_limit',
  '7': 'upstream',
  '8': 'internal',
};

const KNOWN_CODES = new Set<number>(Object.values(ErrorCode));

/**
 * Every failure of the API as the server described it (its problem document, docs/errors.md), or a network
 * failure (`status` 0, `code` null). Test `code` against `ErrorCode`, or use `isSwitchboardError(e, code)`.
 */
export class SwitchboardError extends Error {
  override readonly name = 'SwitchboardError';
  /** The HTTP status; 0 when the server did not answer. */
  readonly status: number;
  /** The stable error code of the problem document; null for a network failure or a non-API answer. */
  readonly code: ErrorCode | null;
  readonly title: string;
  readonly detail: string;
  /** What a 422 found wrong, one entry per field. */
  readonly fieldErrors: FieldError[];
  /** Seconds to wait before trying again (`Retry-After`), when the server said. */
  readonly retryAfter: number | null;
  /** The request id (`X-Request-Id`, the problem's `instance`): quote it when reporting a problem. */
  readonly requestId: string | null;
  /** Whether the same request may succeed later. */
  readonly retryable: boolean;

  constructor(fields: ProblemFields, options?: { cause?: unknown }) {
    super(fields.detail || fields.title || `HTTP ${fields.status}`, options);
    this.status = fields.status;
    this.code = fields.code;
    this.title = fields.title;
    this.detail = fields.detail;
    this.fieldErrors = fields.fieldErrors ?? [];
    this.retryAfter = fields.retryAfter ?? null;
    this.requestId = fields.requestId ?? null;
    this.retryable =
      fields.retryable ?? (fields.status === 0 || fields.status === 429 || fields.status >= 500);
  }

  get category(): ErrorCategory {
    if (this.status === 0) return 'network';
    return this.code === null ? 'unknown' : (CATEGORIES[String(this.code)[0] ?? ''] ?? 'unknown');
  }

  /** True when this failure carries `code`. */
  is(code: ErrorCode): boolean {
    return this.code === code;
  }
}

/** True when `error` is a SwitchboardError (with `code`, when given). */
export function isSwitchboardError(error: unknown, code?: ErrorCode): error is SwitchboardError {
  return error instanceof SwitchboardError && (code === undefined || error.code === code);
}

export function networkError(cause: unknown): SwitchboardError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new SwitchboardError(
    { status: 0, code: null, title: 'Network error', detail: `the server did not answer: ${reason}` },
    { cause },
  );
}

function secondsOf(header: string | null): number | null {
  if (header === null) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds;
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/**
 * The error a failed answer stands for. `body` is the answer's parsed JSON when the caller read it already
 * (the envelope `{error_detail}` or a bare problem document); otherwise the body is read here.
 */
export async function errorOf(response: Response, body?: unknown): Promise<SwitchboardError> {
  let parsed = body;
  if (parsed === undefined) {
    try {
      const text = await response.text();
      parsed = text === '' ? null : (JSON.parse(text) as unknown);
    } catch {
      parsed = null;
    }
  }
  const envelope = (parsed ?? {}) as { error_detail?: unknown };
  const problem = (
    envelope.error_detail && typeof envelope.error_detail === 'object'
      ? envelope.error_detail
      : (parsed ?? {})
  ) as Record<string, unknown>;
  const rawCode = problem.error_code;
  const code = typeof rawCode === 'number' && KNOWN_CODES.has(rawCode) ? (rawCode as ErrorCode) : null;
  return new SwitchboardError({
    status: response.status,
    code,
    title: typeof problem.title === 'string' ? problem.title : response.statusText,
    detail:
      typeof problem.detail === 'string'
        ? problem.detail
        : `the server answered ${response.status} ${response.statusText}`.trim(),
    fieldErrors: Array.isArray(problem.errors) ? (problem.errors as FieldError[]) : [],
    retryAfter:
      secondsOf(response.headers.get('retry-after')) ??
      (typeof problem.retry_after === 'number' ? problem.retry_after : null),
    requestId:
      response.headers.get('x-request-id') ??
      (typeof problem.instance === 'string' ? problem.instance : null),
    ...(typeof problem.retryable === 'boolean' && { retryable: problem.retryable }),
  });
}
