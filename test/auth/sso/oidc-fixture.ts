import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import Provider, { type Context } from 'oidc-provider';
import { request } from 'undici';

/** A person at the test provider: the claims of their id tokens (`sub` is the account id). */
export interface TestAccount {
  sub: string;
  preferred_username?: string;
  name?: string;
  groups?: string[];
  roles?: string[];
  [claim: string]: unknown;
}

export interface TestProviderOptions {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  postLogoutRedirectUri?: string;
}

/**
 * A real OpenID Provider (oidc-provider) on loopback, with the login interaction answered by the test (the
 * account `signInAs` names) rather than HTML pages, consent granted for the requested scopes, and a hook to
 * rewrite the id token the token endpoint returns (to forge one). Its own cookies live in `jar`, like a
 * browser's.
 */
export class TestProvider {
  readonly accounts = new Map<string, TestAccount>();
  /** Who the next login interaction signs in. */
  signInAs = '';
  /** Rewrites the token endpoint's id token, given the claims it carried and the provider's signing key. */
  tamperIdToken:
    | ((
        claims: Record<string, unknown>,
        sign: (claims: Record<string, unknown>) => Promise<string>,
      ) => Promise<string>)
    | undefined;
  /** Requests per path. */
  readonly hits = new Map<string, number>();
  private readonly jar = new Map<string, string>();

  private constructor(
    readonly issuer: string,
    private readonly server: Server,
    private readonly signingKey: { key: CryptoKey; kid: string },
  ) {}

  static async start(options: TestProviderOptions): Promise<TestProvider> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk: JWK = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
    let self: TestProvider | undefined;
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: options.clientId,
          client_secret: options.clientSecret,
          redirect_uris: [options.redirectUri],
          post_logout_redirect_uris: options.postLogoutRedirectUri ? [options.postLogoutRedirectUri] : [],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      jwks: { keys: [jwk] },
      cookies: { keys: ['test-provider-cookie-key-0123456789'] },
      claims: {
        openid: ['sub'],
        profile: ['name', 'preferred_username', 'groups', 'roles'],
        email: ['email'],
      },
      // Scope claims go into the id token, as most providers put them.
      conformIdTokenClaims: false,
      ttl: {
        AccessToken: 600,
        AuthorizationCode: 60,
        IdToken: 600,
        Interaction: 600,
        Grant: 600,
        Session: 600,
      },
      features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
      interactions: {
        url: (_ctx: Context, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
      },
      async findAccount(_ctx: Context, id: string) {
        const account = self?.accounts.get(id);
        if (!account) return undefined;
        return { accountId: id, claims: async () => ({ ...account }) };
      },
      async loadExistingGrant(ctx: Context) {
        const grant = new ctx.oidc.provider.Grant({
          clientId: ctx.oidc.client!.clientId,
          accountId: ctx.oidc.session!.accountId!,
        });
        grant.addOIDCScope('openid profile email');
        await grant.save();
        return grant;
      },
    });
    const callback = provider.callback();
    self = new TestProvider(issuer, server, { key: privateKey as CryptoKey, kid: jwk.kid as string });
    const fixture = self;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      fixture.hits.set(path, (fixture.hits.get(path) ?? 0) + 1);
      if (path.startsWith('/interaction/')) {
        void fixture.finishLogin(provider, req, res);
        return;
      }
      if (path === '/token' && fixture.tamperIdToken) {
        fixture.rewriteTokenResponse(res);
      }
      callback(req, res);
    });
    return fixture;
  }

  /** Signs `claims` with the provider's own key, as its token endpoint would. */
  sign = async (claims: Record<string, unknown>): Promise<string> =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: this.signingKey.kid })
      .sign(this.signingKey.key);

  private async finishLogin(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: this.signInAs } },
        {
          mergeWithLastSubmission: false,
        },
      );
    } catch (error) {
      res.statusCode = 500;
      res.end(String(error));
    }
  }

  /** Holds the token endpoint's answer back until its id token is rewritten by `tamperIdToken`. */
  private rewriteTokenResponse(res: ServerResponse): void {
    const chunks: Buffer[] = [];
    const write = res.write.bind(res);
    const end = res.end.bind(res);
    res.write = ((chunk: Buffer | string) => {
      chunks.push(Buffer.from(chunk));
      return true;
    }) as typeof res.write;
    res.end = ((chunk?: Buffer | string) => {
      if (chunk) chunks.push(Buffer.from(chunk));
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      const tamper = this.tamperIdToken;
      if (typeof body.id_token !== 'string' || !tamper) {
        end(Buffer.concat(chunks));
        return res;
      }
      void tamper(decodeJwt(body.id_token) as Record<string, unknown>, this.sign).then((idToken) => {
        const text = JSON.stringify({ ...body, id_token: idToken });
        res.setHeader('content-length', Buffer.byteLength(text));
        write(text);
        end();
      });
      return res;
    }) as typeof res.end;
  }

  /**
   * Follows the browser through the provider from its authorization URL until the provider sends it back
   * to the client: returns that redirect's Location (the callback URL with code and state).
   */
  async authorize(authorizationUrl: string): Promise<string> {
    let url = authorizationUrl;
    for (let hop = 0; hop < 10; hop += 1) {
      if (!url.startsWith(this.issuer)) return url;
      const cookie = [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
      const res = await request(url, { method: 'GET', headers: cookie ? { cookie } : {} });
      await res.body.text();
      const raw = res.headers['set-cookie'];
      for (const line of Array.isArray(raw) ? raw : raw ? [raw] : []) {
        const [pair = ''] = line.split(';');
        const eq = pair.indexOf('=');
        const value = pair.slice(eq + 1);
        if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line))
          this.jar.delete(pair.slice(0, eq));
        else this.jar.set(pair.slice(0, eq), value);
      }
      const location = res.headers.location;
      if (typeof location !== 'string' || res.statusCode < 300 || res.statusCode >= 400) {
        throw new Error(`the provider stopped at ${url} with ${res.statusCode}`);
      }
      url = new URL(location, url).href;
    }
    throw new Error('the provider redirected too many times');
  }

  /** Forgets the browser's session at the provider (the next authorization asks for a login again). */
  forgetBrowser(): void {
    this.jar.clear();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
