import { CookieJar } from './cookie-jar.js';
import { Emitter } from './emitter.js';
import { ErrorCode, errorOf, networkError, SwitchboardError } from './errors.js';

/**
 * How the client proves who it is:
 * - `tokens`: the access and refresh tokens of the sign-in answer, sent as `Authorization: Bearer` and
 *   refreshed before the access token expires (Node, native apps, a browser that keeps tokens itself);
 * - `cookies`: the session cookies the server sets (browsers; in Node the client keeps a cookie jar), with
 *   the CSRF header on writes;
 * - `api-key`: an API key (`sbk_…`) for machines, sent as a bearer, never refreshed.
 */
export type AuthMode = 'tokens' | 'cookies' | 'api-key';

/** The signed-in user, as `GET /api/v1/auth/me` and the sign-in answer give it. */
export interface User {
  id: string;
  username: string;
  full_name: string | null;
  role: 'viewer' | 'editor' | 'admin';
  role_level: number;
  groups: string[];
  auth_method: string;
  must_change_password: boolean;
}

/** What a client in `tokens` mode holds; keep it (e.g. in storage) to restore a session later. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires, in milliseconds since the epoch, by this machine's clock. */
  expiresAt: number;
  /** When the refresh token expires. */
  refreshExpiresAt: number;
}

export interface SessionEvents {
  'signed-in': User;
  /** The session is over: the error that showed it, or null after `signOut()`. */
  'signed-out': SwitchboardError | null;
  /** New tokens (tokens mode) or a new access lifetime (cookies mode): after sign-in and every refresh. */
  tokens: Tokens | null;
}

export interface SessionOptions {
  baseUrl: string;
  mode: AuthMode;
  fetch?: (request: Request) => Promise<Response>;
  /** Tokens of an earlier sign-in (tokens mode), or the API key (api-key mode). */
  tokens?: Tokens;
  apiKey?: string;
  /**
   * Keep cookies in the client (cookies mode). Default: true where there is no `document` (Node), false in
   * a browser, whose own jar holds them.
   */
  cookieJar?: boolean;
  /**
   * The Origin a Node client's cookie-authenticated writes carry (default: the origin of `baseUrl`): it
   * must be one the server allows (the origin of its `SWITCHBOARD_PUBLIC_URL`, or a CORS origin).
   */
  origin?: string;
  /** How long before the access token expires the client refreshes it (default: a fifth of its lifetime, at most 60 s). */
  refreshMarginMs?: number;
  now?: () => number;
}

interface TokenAnswer {
  access_token: string;
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
  user: User;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Routes whose 401 means what it says: no refresh and retry. */
const NO_RETRY = /\/api\/v1\/auth\/(?:login|refresh|setup|logout|msal)$/;
const SIGNED_OUT_CODES = new Set<number>([
  ErrorCode.sessionRevoked,
  ErrorCode.refreshInvalid,
  ErrorCode.noCredentials,
]);

function browserCookie(name: string): string | null {
  const doc = (globalThis as { document?: { cookie?: string } }).document;
  if (typeof doc?.cookie !== 'string') return null;
  const match = new RegExp(`(?:^|;\\s*)${name}=([^;]*)`).exec(doc.cookie);
  return match?.[1] === undefined ? null : decodeURIComponent(match[1]);
}

/**
 * Who the client is signed in as, and the one way its requests reach the server: credentials attached, the
 * CSRF header on cookie writes, an expired access token (401 code 1009) refreshed once for every request
 * waiting on it and the request tried again, a refresh before expiry, and `signed-out` when the server
 * says the session is over.
 */
export class Session extends Emitter<SessionEvents> {
  readonly mode: AuthMode;
  readonly baseUrl: URL;
  user: User | null = null;
  private tokens: Tokens | null;
  private readonly apiKey: string | null;
  private readonly origin: string;
  private readonly jar: CookieJar | null;
  private readonly fetchImpl: (request: Request) => Promise<Response>;
  private readonly now: () => number;
  private readonly refreshMarginMs: number | undefined;
  private refreshing: Promise<boolean> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private accessExpiresAt: number | null = null;
  private accessLifetimeMs = 0;
  private signedIn: boolean;

  constructor(options: SessionOptions) {
    super();
    this.mode = options.mode;
    this.baseUrl = new URL(options.baseUrl);
    this.tokens = options.tokens ?? null;
    this.apiKey = options.apiKey ?? null;
    this.origin = options.origin ?? this.baseUrl.origin;
    this.now = options.now ?? Date.now;
    this.refreshMarginMs = options.refreshMarginMs;
    const wantJar =
      options.cookieJar ?? typeof (globalThis as { document?: unknown }).document === 'undefined';
    this.jar = options.mode === 'cookies' && wantJar ? new CookieJar(this.now) : null;
    const fetchImpl = options.fetch;
    // The global fetch must be called unbound from its object in browsers ("Illegal invocation").
    this.fetchImpl = fetchImpl ?? ((request) => globalThis.fetch(request));
    // With cookies the browser may hold a session already: assume it does until the server says otherwise.
    this.signedIn = this.mode === 'cookies' || this.tokens !== null || this.apiKey !== null;
    if (this.tokens) this.scheduleRefresh(this.tokens.expiresAt, this.tokens.expiresAt - this.now());
  }

  /** The credentials mode for requests (cookies need them sent; the others must not lean on them). */
  get credentials(): RequestCredentials {
    return this.mode === 'cookies' ? 'include' : 'omit';
  }

  /** Whether the client believes it is signed in (the server may disagree; the next request tells). */
  get isSignedIn(): boolean {
    return this.signedIn;
  }

  /** The current tokens (tokens mode), to keep for a later `new Switchboard({tokens})`. */
  get currentTokens(): Tokens | null {
    return this.tokens;
  }

  url(path: string): URL {
    return new URL(path, this.baseUrl);
  }

  /** Signs in with a username and password. */
  async signIn(username: string, password: string): Promise<User> {
    if (this.mode === 'api-key') throw new Error('a client with an API key does not sign in');
    const request = new Request(this.url('/api/v1/auth/login'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
      credentials: this.credentials,
    });
    const answer = await this.expect<TokenAnswer>(await this.send(request));
    this.accept(answer);
    return answer.user;
  }

  /** Adopts a token answer of another route (setup, a password change, the MSAL sign-in). */
  accept(answer: TokenAnswer): void {
    this.user = answer.user;
    this.signedIn = true;
    this.adopt(answer);
    this.emit('signed-in', answer.user);
  }

  /** Reads who the credentials stand for (`GET /api/v1/auth/me`): a way to resume a cookie session. */
  async me(): Promise<User> {
    if (this.mode === 'cookies') this.signedIn = true;
    const user = await this.expect<User>(await this.send(new Request(this.url('/api/v1/auth/me'))));
    this.user = user;
    return user;
  }

  /** Ends the session on the server (always) and forgets it here. */
  async signOut(): Promise<void> {
    if (this.mode === 'api-key') return;
    try {
      const response = await this.send(new Request(this.url('/api/v1/auth/logout'), { method: 'POST' }));
      await response.body?.cancel();
    } finally {
      this.forget(null);
    }
  }

  /**
   * Rotates the refresh token for a new access token; every caller at the same moment shares one refresh.
   * True when it worked, false when the session is over (`signed-out` is emitted); throws when the server
   * did not answer.
   */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.runRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async runRefresh(): Promise<boolean> {
    if (this.mode === 'api-key') return false;
    if (this.mode === 'tokens' && !this.tokens) return false;
    const body =
      this.mode === 'tokens' ? JSON.stringify({ refresh_token: this.tokens?.refreshToken }) : undefined;
    const request = new Request(this.url('/api/v1/auth/refresh'), {
      method: 'POST',
      headers: body ? { 'content-type': 'application/json' } : {},
      credentials: this.credentials,
      ...(body && { body }),
    });
    const response = await this.send(request, { bearer: false });
    if (response.ok) {
      this.adopt(((await response.json()) as { data: TokenAnswer }).data);
      return true;
    }
    const error = await errorOf(response);
    if (response.status === 401) {
      this.forget(error);
      return false;
    }
    throw error;
  }

  private adopt(answer: TokenAnswer): void {
    const now = this.now();
    const lifetime = answer.expires_in * 1000;
    if (this.mode === 'tokens') {
      this.tokens = {
        accessToken: answer.access_token,
        refreshToken: answer.refresh_token,
        expiresAt: now + lifetime,
        refreshExpiresAt: now + answer.refresh_expires_in * 1000,
      };
    }
    if (answer.user) this.user = answer.user;
    this.scheduleRefresh(now + lifetime, lifetime);
    this.emit('tokens', this.tokens);
  }

  private scheduleRefresh(expiresAt: number, lifetimeMs: number): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    this.accessExpiresAt = expiresAt;
    this.accessLifetimeMs = Math.max(0, lifetimeMs);
    const delay = Math.max(0, this.refreshAt() - this.now());
    const timer = setTimeout(() => {
      this.refreshTimer = null;
      // A failure here is met again by the next request, which refreshes or reports it.
      this.refresh().catch(() => {});
    }, delay);
    // In Node a pending refresh must not keep the process alive.
    (timer as { unref?: () => void }).unref?.();
    this.refreshTimer = timer;
  }

  /** When the access token should be renewed: ahead of its expiry by the margin. */
  private refreshAt(): number {
    if (this.accessExpiresAt === null) return Number.POSITIVE_INFINITY;
    const margin = this.refreshMarginMs ?? Math.min(60_000, this.accessLifetimeMs / 5);
    return this.accessExpiresAt - margin;
  }

  private forget(error: SwitchboardError | null): void {
    const wasSignedIn = this.signedIn;
    this.signedIn = false;
    this.tokens = null;
    this.user = null;
    this.accessExpiresAt = null;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    this.jar?.clear();
    if (wasSignedIn || error === null) this.emit('signed-out', error);
  }

  /** Stops the refresh timer (the client is being thrown away). */
  close(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  /**
   * Sends `request` with the credentials attached. A 401 with code 1009 (an expired access token) is
   * refreshed and tried once more; a 401 that means the session is over emits `signed-out`. Answers come
   * back as they are (failures included): `expect` turns them into data or a SwitchboardError.
   */
  async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    const retryable = !NO_RETRY.test(path);
    if (retryable && this.mode !== 'api-key' && this.signedIn && this.now() >= this.refreshAt()) {
      // Renewing first beats a round trip that would only say "expired"; a failure is met below.
      await this.refresh().catch(() => false);
    }
    const again = retryable ? request.clone() : null;
    const response = await this.send(request);
    if (response.status !== 401 || !retryable) return response;
    const error = await errorOf(response.clone());
    if (error.code === ErrorCode.invalidToken && this.mode !== 'api-key' && again) {
      let refreshed = false;
      try {
        refreshed = await this.refresh();
      } catch {
        return response;
      }
      if (refreshed) return this.send(again);
      return response;
    }
    if (error.code !== null && SIGNED_OUT_CODES.has(error.code) && this.signedIn) this.forget(error);
    return response;
  }

  /** One request, credentials attached, cookies kept; a network failure becomes a SwitchboardError. */
  async send(request: Request, options: { bearer?: boolean } = {}): Promise<Response> {
    const url = new URL(request.url);
    const headers = request.headers;
    if (!headers.has('accept')) headers.set('accept', 'application/json');
    const bearer =
      this.mode === 'api-key' ? this.apiKey : this.mode === 'tokens' ? this.tokens?.accessToken : null;
    if (bearer && options.bearer !== false) headers.set('authorization', `Bearer ${bearer}`);
    if (this.mode === 'cookies') {
      const writes = !SAFE_METHODS.has(request.method);
      if (this.jar) {
        const cookie = this.jar.header(url);
        if (cookie) headers.set('cookie', cookie);
        // A browser sends Origin itself; the server checks it on cookie-authenticated writes. Only those:
        // a sign-in with an Origin the server does not list would be refused as login CSRF.
        if (cookie && writes && !headers.has('origin')) headers.set('origin', this.origin);
      }
      if (writes) {
        const csrf = this.jar ? this.jar.get('csrf_token') : browserCookie('csrf_token');
        if (csrf) headers.set('x-csrf-token', csrf);
      }
    }
    let response: Response;
    try {
      response = await this.fetchImpl(request);
    } catch (error) {
      if ((error as { name?: string }).name === 'AbortError') throw error;
      throw networkError(error);
    }
    this.jar?.store(response.headers, url);
    return response;
  }

  /** The `data` of a successful answer's envelope, or the SwitchboardError it stands for. */
  async expect<T>(response: Response): Promise<T> {
    if (!response.ok) throw await errorOf(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    if (text === '') return undefined as T;
    const body = JSON.parse(text) as unknown;
    if (body !== null && typeof body === 'object' && 'success' in body && 'data' in body) {
      return (body as { data: T }).data;
    }
    return body as T;
  }

  /** A connect ticket for a live stream (`POST /api/v1/auth/ws-ticket`). */
  async ticket(signal?: AbortSignal): Promise<string> {
    const request = new Request(this.url('/api/v1/auth/ws-ticket'), {
      method: 'POST',
      credentials: this.credentials,
      ...(signal && { signal }),
    });
    const answer = await this.expect<{ ticket: string }>(await this.fetch(request));
    return answer.ticket;
  }
}

export { SwitchboardError };
