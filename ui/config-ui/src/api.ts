/**
 * The page's one way to the API: same-origin cookies, the CSRF header on writes, the envelope opened, and
 * failures turned into `ApiError`s carrying the problem document. An expired access token (401 code 1009)
 * is refreshed once, for every request waiting on it, and the request tried again.
 */

export interface FieldProblem {
  pointer: string;
  message: string;
}

export interface Problem {
  status: number;
  code: number | null;
  title: string;
  detail: string;
  errors: FieldProblem[];
  /** Seconds, from `Retry-After` or the problem's `retry_after`. */
  retryAfter: number | null;
  requestId: string | null;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail || problem.title || `HTTP ${problem.status}`);
  }
  get status(): number {
    return this.problem.status;
  }
  get code(): number | null {
    return this.problem.code;
  }
}

/** Codes that mean the session is over: only signing in again helps. */
export const SIGNED_OUT_CODES = new Set([1002, 1005, 1008]);
const EXPIRED = 1009;

export interface Answer<T> {
  data: T;
  status: number;
  headers: Headers;
}

type SignedOutListener = (problem: Problem) => void;
const signedOutListeners = new Set<SignedOutListener>();

/** Tells `listener` when a request finds the session over (revoked, expired, refresh refused). */
export function onSignedOut(listener: SignedOutListener): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

export function csrfToken(): string | null {
  const match = /(?:^|;\s*)csrf_token=([^;]+)/.exec(document.cookie);
  return match?.[1] ? decodeURIComponent(match[1]) : null;
}

export interface TokenAnswer {
  expires_in: number;
  refresh_expires_in: number;
  user: Me;
}

export interface Me {
  id: string;
  username: string;
  full_name: string | null;
  role: string;
  role_level: number;
  groups: string[];
  auth_method: string;
  must_change_password: boolean;
}

type RefreshListener = (answer: TokenAnswer) => void;
const refreshListeners = new Set<RefreshListener>();

/** Tells `listener` of every new access token (its lifetime), however it came: sign-in, refresh, password. */
export function onTokens(listener: RefreshListener): () => void {
  refreshListeners.add(listener);
  return () => refreshListeners.delete(listener);
}

export function announceTokens(answer: TokenAnswer): void {
  for (const listener of refreshListeners) listener(answer);
}

let refreshing: Promise<boolean> | null = null;

/** Rotates the refresh cookie for a new access token; one at a time, whoever asks. */
export function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const answer = await call<TokenAnswer>('POST', '/api/v1/auth/refresh', undefined, {
        refresh: false,
        announceSignedOut: false,
      });
      announceTokens(answer.data);
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        for (const listener of signedOutListeners) listener(error.problem);
        return false;
      }
      throw error;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

export interface CallOptions {
  /** Refresh an expired access token and try once more (default true). */
  refresh?: boolean;
  headers?: Record<string, string>;
  /** Report a 401 that means "signed out" to the listeners (default true). */
  announceSignedOut?: boolean;
}

export async function call<T>(
  method: string,
  path: string,
  body?: unknown,
  options: CallOptions = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const token = csrfToken();
    if (token) headers['x-csrf-token'] = token;
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError({
      status: 0,
      code: null,
      title: 'Network error',
      detail: 'The server did not answer. Check the connection and try again.',
      errors: [],
      retryAfter: null,
      requestId: null,
    });
  }
  if (response.ok) {
    const data = response.status === 204 ? undefined : await bodyOf(response);
    return { data: data as T, status: response.status, headers: response.headers };
  }
  const problem = await problemOf(response);
  if (problem.status === 401 && problem.code === EXPIRED && options.refresh !== false) {
    if (await refreshSession()) return call<T>(method, path, body, { ...options, refresh: false });
  }
  if (
    problem.status === 401 &&
    options.announceSignedOut !== false &&
    problem.code !== null &&
    (SIGNED_OUT_CODES.has(problem.code) || problem.code === EXPIRED)
  ) {
    for (const listener of signedOutListeners) listener(problem);
  }
  throw new ApiError(problem);
}

async function bodyOf(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  const parsed = JSON.parse(text) as unknown;
  // The API's answers come in the envelope; health and the like do not.
  if (parsed !== null && typeof parsed === 'object' && 'success' in parsed && 'data' in parsed) {
    return (parsed as { data: unknown }).data;
  }
  return parsed;
}

async function problemOf(response: Response): Promise<Problem> {
  const retryHeader = response.headers.get('retry-after');
  const fallback: Problem = {
    status: response.status,
    code: null,
    title: response.statusText,
    detail: `The server answered ${response.status} ${response.statusText}.`,
    errors: [],
    retryAfter: retryHeader === null ? null : Number(retryHeader) || null,
    requestId: response.headers.get('x-request-id'),
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(await response.text());
  } catch {
    return fallback;
  }
  if (parsed === null || typeof parsed !== 'object') return fallback;
  const envelope = parsed as { error_detail?: unknown };
  const detail = (envelope.error_detail ?? parsed) as Record<string, unknown>;
  return {
    ...fallback,
    code: typeof detail.error_code === 'number' ? detail.error_code : null,
    title: typeof detail.title === 'string' ? detail.title : fallback.title,
    detail: typeof detail.detail === 'string' ? detail.detail : fallback.detail,
    errors: Array.isArray(detail.errors) ? (detail.errors as FieldProblem[]) : [],
    retryAfter: fallback.retryAfter ?? (typeof detail.retry_after === 'number' ? detail.retry_after : null),
  };
}

export const get = <T>(path: string, options?: CallOptions) => call<T>('GET', path, undefined, options);
export const post = <T>(path: string, body?: unknown, options?: CallOptions) =>
  call<T>('POST', path, body, options);
export const del = <T>(path: string, options?: CallOptions) => call<T>('DELETE', path, undefined, options);

/** A message for a person from any failure. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
