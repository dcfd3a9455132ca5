import type { FastifyBaseLogger } from 'fastify';
import { notFound } from '../../platform/problem.js';
import { sameSecret } from '../../platform/secrets.js';
import type { AuthDeps, ClientMeta } from '../context.js';
import { iso } from '../context.js';
import type { IssuedSession, SessionsService } from '../sessions-service.js';
import { identityFrom } from './claims.js';
import { reasonOf, SsoRefusal, SsoRejection, SsoUpstreamFailure } from './failures.js';
import { MsalVerifier } from './msal.js';
import { OidcFlow } from './oidc.js';
import { PENDING_LOGIN_TTL_S, PendingLogins } from './pending-login.js';
import { SsoAccounts } from './service.js';
import { SsoStore } from './store.js';

/** A provider's route where that provider is not configured. */
const off = (what: string) => notFound(`${what} (single sign-on with it is not configured here)`);

/** What a sign-in page needs to draw its buttons (`GET /auth/providers`). */
export interface Providers {
  local: true;
  oidc: { display_name: string; login_url: string } | null;
  msal: { client_id: string; tenants: string[]; authority: string } | null;
}

/**
 * The path a sign-in returns to: a path on this origin as given, anything else (another origin, `//host`,
 * a backslash, control characters) `/`.
 */
export function safeReturnTo(given: string | undefined, publicUrl: string): string {
  if (given === undefined || given.length > 2048 || !given.startsWith('/')) return '/';
  if (given.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(given)) return '/';
  const origin = new URL(publicUrl).origin;
  const url = new URL(given, origin);
  return url.origin === origin ? `${url.pathname}${url.search}${url.hash}` : '/';
}

/**
 * Single sign-on as the routes use it: OIDC's start and callback, MSAL id tokens, what is on, and the
 * audit of every failure (`auth.sso.failure`, with the reason and never a token).
 */
export class SingleSignOn {
  readonly accounts: SsoAccounts;
  readonly oidc: OidcFlow | undefined;
  readonly msal: MsalVerifier | undefined;
  readonly pending: PendingLogins;

  constructor(
    private readonly deps: AuthDeps,
    sessions: SessionsService,
  ) {
    const { sso, publicUrl } = deps.settings;
    this.accounts = new SsoAccounts(deps, sessions);
    this.oidc = sso.oidc ? new OidcFlow(sso.oidc, publicUrl, deps.now) : undefined;
    this.msal = sso.msal ? new MsalVerifier(sso.msal, deps.now) : undefined;
    this.pending = new PendingLogins(() => deps.keys().ssoLogin, deps.now);
  }

  providers(): Providers {
    const { oidc, msal } = this.deps.settings.sso;
    return {
      local: true,
      oidc: oidc ? { display_name: oidc.displayName, login_url: '/api/v1/auth/oidc/login' } : null,
      msal: msal ? { client_id: msal.clientId, tenants: [...msal.tenants], authority: msal.authority } : null,
    };
  }

  /** The provider's authorization URL and the sealed pending login for the browser's cookie. */
  async startOidc(
    returnTo: string | undefined,
    client: ClientMeta,
    log: FastifyBaseLogger,
  ): Promise<{ url: string; cookie: string }> {
    const oidc = this.oidcOn();
    return this.audited('oidc', client, log, async () => {
      const { url, pending } = await oidc.start(safeReturnTo(returnTo, this.deps.settings.publicUrl));
      return { url, cookie: await this.pending.seal(pending) };
    });
  }

  /**
   * Finishes the sign-in this browser started (`sealed`, its cookie) with the provider's answer (`query`,
   * the callback's query string): state compared and spent once, code exchanged, id token verified.
   */
  async finishOidc(
    sealed: string | undefined,
    query: string,
    client: ClientMeta,
    log: FastifyBaseLogger,
  ): Promise<{ issued: IssuedSession; returnTo: string }> {
    const oidc = this.oidcOn();
    return this.audited('oidc', client, log, async () => {
      const pending = await this.pending.open(sealed);
      const state = new URLSearchParams(query).get('state');
      if (state === null || !sameSecret(state, pending.state)) {
        throw new SsoRejection('state', 'the sign-in does not match the one this browser started (state)');
      }
      const until = iso(this.deps.now() + PENDING_LOGIN_TTL_S * 1000);
      if (!(await new SsoStore(this.deps.db).spend('oidc-state', state, until))) {
        throw new SsoRejection('state_reused', 'this sign-in was finished already: start again');
      }
      const claims = await oidc.finish(pending, query);
      const identity = identityFrom('oidc', claims, this.deps.settings.sso.claims);
      return { issued: await this.accounts.signIn(identity, client), returnTo: pending.returnTo };
    });
  }

  /** Signs in with an MSAL id token, each token once. */
  async signInWithMsal(idToken: string, client: ClientMeta, log: FastifyBaseLogger): Promise<IssuedSession> {
    const msal = this.msal;
    if (!msal) throw off('/auth/msal');
    return this.audited('msal', client, log, async () => {
      const verified = await msal.verify(idToken);
      const until = iso(verified.spentUntil);
      const spent = await new SsoStore(this.deps.db).spend('msal-id-token', idToken, until);
      if (!spent) throw new SsoRejection('token_reused', 'this id token was used already: get a new one');
      const identity = identityFrom('msal', verified.claims, this.deps.settings.sso.claims);
      return this.accounts.signIn(identity, client);
    });
  }

  /** The provider's end-session URL for a signed-out OIDC session, when the settings ask for it. */
  async endSessionUrl(method: string | undefined): Promise<string | undefined> {
    if (method !== 'oidc' || !this.oidc || !this.deps.settings.sso.oidc?.endSession) return undefined;
    return this.oidc.endSessionUrl(`${this.deps.settings.publicUrl}/`);
  }

  async prune(): Promise<void> {
    await this.accounts.prune();
  }

  private oidcOn(): OidcFlow {
    if (!this.oidc) throw off('/auth/oidc');
    return this.oidc;
  }

  /** Runs a step of a sign-in; its rejection, refusal or the provider's failure is audited. */
  private async audited<T>(
    provider: 'oidc' | 'msal',
    client: ClientMeta,
    log: FastifyBaseLogger,
    step: () => Promise<T>,
  ): Promise<T> {
    try {
      return await step();
    } catch (error) {
      const reason = reasonOf(error);
      if (reason !== undefined) {
        await this.accounts.refused(
          provider,
          reason,
          client,
          error instanceof SsoRefusal ? error.who : undefined,
        );
      }
      if (error instanceof SsoUpstreamFailure) {
        const { upstreamCause } = error;
        const cause = upstreamCause instanceof Error ? upstreamCause.message : String(upstreamCause);
        log.warn({ provider, reason: cause }, 'single sign-on: the identity provider failed');
      }
      throw error;
    }
  }
}
