import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

/** The path of the key set, shared by every tenant (as Entra ID's is). */
export const JWKS_PATH = '/common/discovery/v2.0/keys';

/** A key pair of the fake provider (or of a forger), with the key id its tokens name. */
export interface TestKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public key as the key set publishes it. */
  jwk: JWK;
}

/** An RS256 key pair that the provider does not publish (unless `addKey` is given it). */
export async function makeKey(kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const { kty, n, e } = await exportJWK(publicKey);
  return {
    kid,
    privateKey: privateKey as CryptoKey,
    publicKey: publicKey as CryptoKey,
    jwk: { kty, n, e, kid, use: 'sig' },
  };
}

export interface IdTokenOptions {
  /** The tenant (`tid`, and the tenant of the default `iss`). */
  tid: string;
  /** Claims over the defaults; a claim given as `undefined` is left out. */
  claims?: Record<string, unknown>;
  /** Header fields over the defaults ({alg: 'RS256', kid: the signing key's}, typ JWT). */
  header?: Record<string, unknown>;
  /**
   * What signs: a key pair (RS256), a secret (HS256 and the like, `header.alg` saying which), or `'none'`
   * for an unsigned token (`alg: none`, empty signature). Default: the provider's current signing key.
   */
  signWith?: TestKey | Uint8Array | 'none';
  /** `iat` (and the base of `nbf` and `exp`), in ms; default the provider's clock. */
  at?: number;
  /** Lifetime in seconds from `at` (default 3600). */
  lifetimeS?: number;
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * A fake Microsoft Entra ID on loopback: per tenant, the OpenID metadata (issuer with the `{tenantid}`
 * placeholder, as Entra ID publishes it, and the common key set), and the key set itself. Counts requests
 * per path, lets the test add, remove and rotate keys, stop and resume the server, and signs id tokens.
 */
export class FakeEntra {
  /** Requests per path. */
  readonly hits = new Map<string, number>();
  /** The published keys, by kid, in the order they were added. */
  readonly keys = new Map<string, TestKey>();
  /** The kid that signs tokens unless told otherwise. */
  signingKid: string;
  /** When set, the key set endpoint answers this instead of the keys (a provider answering nonsense). */
  jwksAnswer: { status: number; body: unknown } | undefined;
  private keyCount = 1;
  private stopped = false;

  private constructor(
    private server: Server,
    readonly port: number,
    readonly clientId: string,
    first: TestKey,
    private readonly now: () => number,
  ) {
    this.keys.set(first.kid, first);
    this.signingKid = first.kid;
  }

  /** Starts the provider on a free loopback port; `now` is the clock tokens' times are taken from. */
  static async start(options: { clientId: string; now?: () => number }): Promise<FakeEntra> {
    const first = await makeKey('entra-key-1');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const entra = new FakeEntra(server, port, options.clientId, first, options.now ?? Date.now);
    server.on('request', entra.handler);
    return entra;
  }

  /** What SWITCHBOARD_MSAL_AUTHORITY is set to. */
  get authority(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The issuer of `tid`'s tokens. */
  issuerOf(tid: string): string {
    return `${this.authority}/${tid}/v2.0`;
  }

  metadataPath(tid: string): string {
    return `/${tid}/v2.0/.well-known/openid-configuration`;
  }

  hitsOf(path: string): number {
    return this.hits.get(path) ?? 0;
  }

  get jwksHits(): number {
    return this.hitsOf(JWKS_PATH);
  }

  /** The current signing key. */
  get signingKey(): TestKey {
    const key = this.keys.get(this.signingKid);
    if (!key) throw new Error(`the signing key ${this.signingKid} is not published`);
    return key;
  }

  /** Publishes a new key (not yet signing); returns it. */
  async addKey(kid = `entra-key-${++this.keyCount}`): Promise<TestKey> {
    const key = await makeKey(kid);
    this.keys.set(kid, key);
    return key;
  }

  removeKey(kid: string): void {
    this.keys.delete(kid);
  }

  /** Publishes a new key and signs with it from now on; the old keys stay published unless `dropOld`. */
  async rotate(options: { dropOld?: boolean } = {}): Promise<TestKey> {
    const old = [...this.keys.keys()];
    const key = await this.addKey();
    this.signingKid = key.kid;
    if (options.dropOld) for (const kid of old) this.keys.delete(kid);
    return key;
  }

  /** An id token of `tid`'s, signed as the options say. */
  async idToken(options: IdTokenOptions): Promise<string> {
    const at = Math.floor((options.at ?? this.now()) / 1000);
    const sub = `sub-${Math.random().toString(36).slice(2, 12)}`;
    const defaults: Record<string, unknown> = {
      iss: this.issuerOf(options.tid),
      aud: this.clientId,
      tid: options.tid,
      sub,
      oid: `oid-${sub.slice(4)}`,
      preferred_username: `someone.${sub.slice(4)}@example.com`,
      name: 'Some One',
      iat: at,
      nbf: at,
      exp: at + (options.lifetimeS ?? 3600),
      ver: '2.0',
      // Unique per token, as Entra ID's is: two tokens of one person in one second differ.
      uti: randomBytes(16).toString('base64url'),
    };
    const claims: Record<string, unknown> = { ...defaults, ...options.claims };
    for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
    const signWith = options.signWith ?? this.signingKey;
    if (signWith === 'none') {
      const header = { alg: 'none', typ: 'JWT', ...options.header };
      return `${base64url(header)}.${base64url(claims)}.`;
    }
    if (signWith instanceof Uint8Array) {
      const header = { alg: 'HS256', typ: 'JWT', kid: this.signingKid, ...options.header };
      return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(signWith);
    }
    const header = { alg: 'RS256', typ: 'JWT', kid: signWith.kid, ...options.header };
    return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(signWith.privateKey);
  }

  /**
   * Who the authorization endpoint signs in (the implicit flow a browser page runs: `response_type=id_token`,
   * the token in the redirect's fragment); unset, it answers `access_denied`.
   */
  signInAs: { tid: string; claims: Record<string, unknown> } | undefined;

  private async authorize(query: URLSearchParams, res: ServerResponse): Promise<void> {
    const back = new URL(query.get('redirect_uri') ?? '');
    const answer = new URLSearchParams();
    if (
      !this.signInAs ||
      query.get('client_id') !== this.clientId ||
      query.get('response_type') !== 'id_token'
    ) {
      answer.set('error', 'access_denied');
      answer.set('error_description', 'AADSTS50105: the signed in user is not assigned to a role');
    } else {
      const claims = { ...this.signInAs.claims, nonce: query.get('nonce') ?? undefined };
      answer.set('id_token', await this.idToken({ tid: this.signInAs.tid, claims }));
    }
    answer.set('state', query.get('state') ?? '');
    back.hash = answer.toString();
    res.writeHead(302, { location: back.toString() }).end();
  }

  /** Closes the server: the provider is unreachable until `resume`. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listens again, on the same port. */
  async resume(): Promise<void> {
    if (!this.stopped) return;
    const server = createServer(this.handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.stopped = false;
  }

  async close(): Promise<void> {
    await this.stop();
  }

  private readonly handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    if (req.method !== 'GET') return send(405, { error: 'method_not_allowed' });
    if (/^\/[^/]+\/oauth2\/v2\.0\/authorize$/.test(path)) {
      void this.authorize(new URL(req.url ?? '/', this.authority).searchParams, res);
      return;
    }
    if (path === JWKS_PATH && this.jwksAnswer) return send(this.jwksAnswer.status, this.jwksAnswer.body);
    if (path === JWKS_PATH) return send(200, { keys: [...this.keys.values()].map((key) => key.jwk) });
    const metadata = /^\/([0-9a-fA-F-]{36})\/v2\.0\/\.well-known\/openid-configuration$/.exec(path);
    if (metadata) {
      return send(200, {
        issuer: `${this.authority}/{tenantid}/v2.0`,
        jwks_uri: `${this.authority}${JWKS_PATH}`,
        authorization_endpoint: `${this.authority}/${metadata[1]}/oauth2/v2.0/authorize`,
        token_endpoint: `${this.authority}/${metadata[1]}/oauth2/v2.0/token`,
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        tenant_region_scope: 'EU',
      });
    }
    send(404, { error: 'not_found' });
  };
}
