import { createSecretKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { AppError, ErrorCode } from '../platform/problem.js';
import { type HmacJwtAlgorithm, HmacJwtRefused, verifyHmacJwt } from './jwt-hmac.js';
import type { Role } from './roles.js';

export type JwtAlgorithm = HmacJwtAlgorithm;

/** Verified tokens remembered at most (the oldest go first): far above the clients of one instance. */
const MAX_VERIFIED = 10_000;

export interface AccessClaims {
  userId: string;
  sessionId: string;
  role: Role;
  /** Signature of the password hash at minting time: a password change invalidates the token. */
  passwordSignature: string;
  expiresAt: number;
}

export function invalidToken(detail = 'access token is invalid or expired; sign in or refresh it'): AppError {
  return new AppError(ErrorCode.invalidToken, detail, {
    headers: { 'www-authenticate': 'Bearer realm="switchboard", error="invalid_token"' },
  });
}

/**
 * A token signed with our key but for another issuer or audience: in practice, minted by an instance whose
 * SWITCHBOARD_PUBLIC_URL differs. The client gets the usual 1009; the credential resolver logs the why.
 */
export class ForeignAccessToken extends AppError {
  constructor(
    /** The claim that did not match: `iss` or `aud`. */
    readonly claim: 'iss' | 'aud',
    readonly expected: string,
    readonly presented: unknown,
  ) {
    const usual = invalidToken();
    super(usual.code, usual.message, usual.options);
  }
}

/**
 * Access tokens are JWTs signed with one pinned HMAC algorithm. Verification demands that algorithm, the
 * issuer, the audience and every claim Switchboard relies on; jose refuses `alg: none` outright.
 */
export class AccessTokens {
  private imported: { raw: Uint8Array; key: Promise<CryptoKey> } | undefined;
  private verifying: { raw: Uint8Array; key: KeyObject } | undefined;
  /**
   * Tokens verified lately, by their signature: a key of some forty characters to hash rather than the
   * whole token's several hundred, which cost as much as the rest of the lookup. The entry keeps the
   * token, and only the very same text is taken for it.
   */
  private readonly verified = new Map<string, { token: string; claims: Readonly<AccessClaims> }>();

  constructor(
    private readonly options: {
      key: () => Uint8Array;
      algorithm: JwtAlgorithm;
      issuer: string;
      audience: string;
      ttlMs: number;
      now: () => number;
    },
  ) {}

  get ttlMs(): number {
    return this.options.ttlMs;
  }

  async mint(claims: Omit<AccessClaims, 'expiresAt'>): Promise<{ token: string; expiresAt: number }> {
    const issuedAt = Math.floor(this.options.now() / 1000);
    const expiresAt = issuedAt + Math.floor(this.options.ttlMs / 1000);
    const token = await new SignJWT({ role: claims.role, pwd: claims.passwordSignature })
      .setProtectedHeader({ alg: this.options.algorithm, typ: 'JWT' })
      .setIssuer(this.options.issuer)
      .setAudience(this.options.audience)
      .setSubject(claims.userId)
      .setJti(claims.sessionId)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(await this.signingKey());
    return { token, expiresAt: expiresAt * 1000 };
  }

  /**
   * Given raw bytes, jose imports them as a CryptoKey on every call; given a CryptoKey it uses it as is. So
   * the key is imported once (again only should the raw key ever be another); likewise the key object that
   * verifies.
   */
  private signingKey(): Promise<CryptoKey> {
    const raw = this.options.key();
    if (this.imported?.raw !== raw) {
      const hash = `SHA-${this.options.algorithm.slice(2)}`;
      const key = crypto.subtle.importKey('raw', new Uint8Array(raw), { name: 'HMAC', hash }, false, [
        'sign',
        'verify',
      ]);
      this.imported = { raw, key };
    }
    return this.imported.key;
  }

  private verificationKey(): KeyObject {
    const raw = this.options.key();
    if (this.verifying?.raw !== raw) {
      this.verifying = { raw, key: createSecretKey(raw) };
      this.verified.clear();
    }
    return this.verifying.key;
  }

  /**
   * Throws a 401 (code 1009) for anything but a well-formed, current token of ours. A client presents the
   * same token on every request until it refreshes, so tokens verified lately are remembered by their text
   * (only once their signature held): what is left to check is the expiry. Whether the session and user
   * still stand is the caller's to check, every time.
   */
  verify(token: string, options: { ignoreExpiry?: boolean } = {}): AccessClaims {
    const nowSeconds = options.ignoreExpiry ? 0 : Math.floor(this.options.now() / 1000);
    const key = this.verificationKey();
    const signature = token.slice(token.lastIndexOf('.') + 1);
    const known = this.verified.get(signature);
    if (known?.token === token) {
      if (known.claims.expiresAt > nowSeconds * 1000) return known.claims;
      this.verified.delete(signature);
    }
    const claims = this.verifyText(token, key, nowSeconds);
    if (!options.ignoreExpiry) {
      this.verified.set(signature, { token, claims });
      if (this.verified.size > MAX_VERIFIED) {
        const oldest = this.verified.keys().next();
        if (!oldest.done) this.verified.delete(oldest.value);
      }
    }
    return claims;
  }

  private verifyText(token: string, key: KeyObject, nowSeconds: number): AccessClaims {
    let payload: Record<string, unknown>;
    try {
      payload = verifyHmacJwt(token, key, {
        algorithm: this.options.algorithm,
        issuer: this.options.issuer,
        audience: this.options.audience,
        requiredClaims: ['sub', 'jti', 'iat', 'exp'],
        nowSeconds,
      });
    } catch (error) {
      if (!(error instanceof HmacJwtRefused)) throw error;
      if (error.reason === 'expired') throw invalidToken('access token has expired; refresh it');
      // Claims are checked only once the signature holds, so these values come from a token we signed.
      if (error.claim === 'iss' || error.claim === 'aud') {
        const expected = error.claim === 'iss' ? this.options.issuer : this.options.audience;
        throw new ForeignAccessToken(error.claim, expected, error.payload?.[error.claim]);
      }
      throw invalidToken();
    }
    const { sub, jti, exp, role, pwd } = payload;
    if (
      typeof sub !== 'string' ||
      typeof jti !== 'string' ||
      typeof exp !== 'number' ||
      typeof role !== 'string' ||
      typeof pwd !== 'string'
    ) {
      throw invalidToken();
    }
    return Object.freeze({
      userId: sub,
      sessionId: jti,
      role: role as Role,
      passwordSignature: pwd,
      expiresAt: exp * 1000,
    });
  }
}
