import * as client from 'openid-client';
import type { AppError } from '../../platform/problem.js';
import { SsoRejection, upstreamFailed } from './failures.js';
import type { PendingLogin } from './pending-login.js';
import type { SsoSettings } from './settings.js';

/** Seconds the provider has to answer each request. */
const PROVIDER_TIMEOUT_S = 5;
/** A failed discovery is not tried again before this: a flood of sign-ins cannot hammer the provider. */
const DISCOVERY_RETRY_MS = 5_000;
/** Discovery is refreshed after this, to follow a provider's new endpoints. */
const DISCOVERY_TTL_MS = 24 * 60 * 60_000;

/** Codes of openid-client failures that say the provider's answer was unusable rather than the sign-in wrong. */
const PROVIDER_FAULTS = new Set([
  'OAUTH_RESPONSE_IS_NOT_CONFORM',
  'OAUTH_RESPONSE_IS_NOT_JSON',
  'OAUTH_PARSE_ERROR',
]);

/**
 * The authorization code flow with PKCE (S256), state and nonce, by openid-client against the configured
 * issuer. The redirect URI is built from SWITCHBOARD_PUBLIC_URL alone, whatever a request's Host or
 * X-Forwarded-* headers say.
 */
export class OidcFlow {
  readonly redirectUri: string;
  private discovered: { config: Promise<client.Configuration>; until: number } | undefined;

  constructor(
    private readonly settings: NonNullable<SsoSettings['oidc']>,
    publicUrl: string,
    private readonly now: () => number = Date.now,
  ) {
    this.redirectUri = `${publicUrl}/api/v1/auth/oidc/callback`;
  }

  /** Where to send the browser, and what its callback must match. */
  async start(returnTo: string): Promise<{ url: string; pending: PendingLogin }> {
    const config = await this.configuration();
    const verifier = client.randomPKCECodeVerifier();
    const pending: PendingLogin = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      verifier,
      returnTo,
    };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: this.settings.scopes,
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    });
    return { url: url.href, pending };
  }

  /**
   * The verified id token claims of the callback whose query is `query`: the code exchanged with the
   * verifier, the state and nonce compared, the id token's signature, issuer, audience and times checked.
   */
  async finish(pending: PendingLogin, query: string): Promise<Record<string, unknown>> {
    const config = await this.configuration();
    const callback = new URL(this.redirectUri);
    callback.search = query;
    try {
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims) throw new SsoRejection('no_id_token', 'the provider sent no id token');
      return claims as Record<string, unknown>;
    } catch (error) {
      throw failureOf(error);
    }
  }

  /** The provider's end-session URL for a browser leaving, when it publishes one; undefined otherwise. */
  async endSessionUrl(postLogoutRedirectUri: string): Promise<string | undefined> {
    let config: client.Configuration;
    try {
      config = await this.configuration();
    } catch {
      return undefined;
    }
    if (!config.serverMetadata().end_session_endpoint) return undefined;
    return client
      .buildEndSessionUrl(config, {
        client_id: this.settings.clientId,
        post_logout_redirect_uri: postLogoutRedirectUri,
      })
      .toString();
  }

  /** The provider's configuration, discovered once a day; a failure is a 502 and retried after 5 s. */
  private configuration(): Promise<client.Configuration> {
    const now = this.now();
    if (this.discovered && this.discovered.until > now) return this.discovered.config;
    const config = this.discover();
    this.discovered = { config, until: now + DISCOVERY_TTL_MS };
    config.catch(() => {
      if (this.discovered?.config === config)
        this.discovered = { config, until: this.now() + DISCOVERY_RETRY_MS };
    });
    return config;
  }

  private async discover(): Promise<client.Configuration> {
    const issuer = new URL(this.settings.issuer);
    const { clientId, clientSecret } = this.settings;
    try {
      const config = await client.discovery(
        issuer,
        clientId,
        clientSecret === undefined ? undefined : { client_secret: clientSecret },
        clientSecret === undefined ? client.None() : client.ClientSecretBasic(clientSecret),
        {
          timeout: PROVIDER_TIMEOUT_S,
          // The id token's signature is checked too, not only the TLS channel it came over; plain HTTP only
          // where the settings allow it, a loopback issuer (settings.ts).
          execute: [
            client.enableNonRepudiationChecks,
            ...(issuer.protocol === 'http:' ? [client.allowInsecureRequests] : []),
          ],
        },
      );
      config.timeout = PROVIDER_TIMEOUT_S;
      return config;
    } catch (error) {
      throw upstreamFailed('the OpenID provider', error);
    }
  }
}

/** An openid-client failure as the answer it gets: the sign-in's fault a 401, the provider's a 502. */
function failureOf(error: unknown): AppError {
  if (error instanceof SsoRejection) return error;
  if (error instanceof client.AuthorizationResponseError) {
    return new SsoRejection('provider_refused', `the provider refused the sign-in (${error.error})`);
  }
  if (error instanceof client.ResponseBodyError) {
    if (error.status >= 500) return upstreamFailed('the OpenID provider', error);
    return new SsoRejection(
      'code_rejected',
      `the provider refused the code (${error.error}): it was used already, has expired or was issued for another sign-in; start again`,
    );
  }
  if (error instanceof client.ClientError && error.code !== undefined && !PROVIDER_FAULTS.has(error.code)) {
    const claim = (error.cause as { cause?: { claim?: unknown } } | undefined)?.cause?.claim;
    if (claim === 'nonce')
      return new SsoRejection('nonce', 'the id token does not answer this sign-in (nonce)');
    if (error.code === 'OAUTH_INVALID_RESPONSE' && /"state"/.test(error.message)) {
      return new SsoRejection('state', 'the sign-in does not match the one this browser started (state)');
    }
    return new SsoRejection('id_token', `the provider's answer failed verification: ${error.message}`);
  }
  return upstreamFailed('the OpenID provider', error);
}
