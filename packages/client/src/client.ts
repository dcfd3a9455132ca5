import createClient, { type Client } from 'openapi-fetch';
import { errorOf, type SwitchboardError } from './errors.js';
import type { paths } from './generated/openapi.js';
import { LiveClient, type LiveOptions } from './live.js';
import { Preferences, type PreferencesOptions } from './preferences.js';
import { type AuthMode, Session, type SessionOptions, type Tokens, type User } from './session.js';

export interface SwitchboardOptions {
  /** The server's URL, e.g. `https://switchboard.example` (in a browser on the same origin: `location.origin`). */
  baseUrl: string;
  /** How to sign in (default: `cookies` in a browser, `tokens` elsewhere). */
  auth?: AuthMode;
  /** Tokens of an earlier sign-in to continue with (tokens mode). */
  tokens?: Tokens;
  /** The API key (api-key mode). */
  apiKey?: string;
  /** A fetch of your own (default: the global one). */
  fetch?: (request: Request) => Promise<Response>;
  cookieJar?: SessionOptions['cookieJar'];
  /** The Origin of a Node client's cookie writes (cookies mode without a browser). */
  origin?: string;
  refreshMarginMs?: number;
  /** The clock token lifetimes are measured against (default Date.now). */
  now?: () => number;
  live?: LiveOptions;
  preferences?: PreferencesOptions;
}

/** The `data` of an openapi-fetch success: the envelope's `data` when the answer is one. */
export type DataOf<R extends { data?: unknown }> =
  NonNullable<R['data']> extends { data: infer X } ? X : NonNullable<R['data']>;

/**
 * The `data` of a typed call's envelope, or the SwitchboardError its failure stands for:
 * `const me = await unwrap(client.api.GET('/api/v1/auth/me'))`.
 */
export async function unwrap<R extends { data?: unknown; error?: unknown; response: Response }>(
  pending: Promise<R> | R,
): Promise<DataOf<R>> {
  const result = await pending;
  if (!result.response.ok) throw await errorOf(result.response, result.error ?? null);
  const body = result.data as unknown;
  if (body !== null && typeof body === 'object' && 'success' in body && 'data' in body) {
    return (body as { data: DataOf<R> }).data;
  }
  return body as DataOf<R>;
}

const isBrowser = () => typeof (globalThis as { document?: unknown }).document !== 'undefined';

/**
 * The Switchboard client: `api` for typed REST calls (openapi-fetch over the generated route types), sign-in
 * with tokens or cookies, `live` channels, `preferences` kept in sync.
 */
export class Switchboard {
  readonly session: Session;
  /** Typed calls on every route of the OpenAPI document; `unwrap` opens the envelope or throws. */
  readonly api: Client<paths>;
  readonly live: LiveClient;
  readonly preferences: Preferences;

  constructor(options: SwitchboardOptions) {
    const mode = options.auth ?? (options.apiKey ? 'api-key' : isBrowser() ? 'cookies' : 'tokens');
    this.session = new Session({
      baseUrl: options.baseUrl,
      mode,
      ...(options.tokens && { tokens: options.tokens }),
      ...(options.apiKey && { apiKey: options.apiKey }),
      ...(options.fetch && { fetch: options.fetch }),
      ...(options.cookieJar !== undefined && { cookieJar: options.cookieJar }),
      ...(options.refreshMarginMs !== undefined && { refreshMarginMs: options.refreshMarginMs }),
      ...(options.now && { now: options.now }),
      ...(options.origin && { origin: options.origin }),
    });
    const session = this.session;
    this.api = createClient<paths>({
      baseUrl: session.baseUrl.origin + session.baseUrl.pathname.replace(/\/$/, ''),
      credentials: session.credentials,
      fetch: (request) => session.fetch(request),
    });
    this.live = new LiveClient(session, options.live);
    this.preferences = new Preferences(session, this.live, options.preferences);
  }

  /** Signs in with a username and password; the session then refreshes itself. */
  signIn(username: string, password: string): Promise<User> {
    return this.session.signIn(username, password);
  }

  /** Signs out on the server and here; live channels stop and the state says `signed-out`. */
  signOut(): Promise<void> {
    return this.session.signOut();
  }

  /** Who the credentials stand for; in a browser with cookies, the way to pick up an existing session. */
  me(): Promise<User> {
    return this.session.me();
  }

  /** Calls `listener` when the session ends (revoked, expired, signed out); the returned function stops it. */
  onSignedOut(listener: (error: SwitchboardError | null) => void): () => void {
    return this.session.on('signed-out', listener);
  }

  /** Stops live channels and timers. */
  close(): void {
    this.live.close();
    this.preferences.unwatch();
    this.session.close();
  }
}
