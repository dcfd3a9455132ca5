import { errors, jwtVerify, SignJWT } from 'jose';
import { AppError, ErrorCode } from '../platform/problem.js';
import type { Role } from './roles.js';

export type JwtAlgorithm = 'HS256' | 'HS384' | 'HS512';

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
   * the key is imported once (again only should the raw key ever be another).
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

  /** Throws a 401 (code 1009) for anything but a well-formed, current token of ours. */
  async verify(token: string, options: { ignoreExpiry?: boolean } = {}): Promise<AccessClaims> {
    try {
      const { payload } = await jwtVerify(token, await this.signingKey(), {
        algorithms: [this.options.algorithm],
        issuer: this.options.issuer,
        audience: this.options.audience,
        requiredClaims: ['sub', 'jti', 'iat', 'exp'],
        currentDate: new Date(options.ignoreExpiry ? 0 : this.options.now()),
        typ: 'JWT',
      });
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
      return {
        userId: sub,
        sessionId: jti,
        role: role as Role,
        passwordSignature: pwd,
        expiresAt: exp * 1000,
      };
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (error instanceof errors.JWTExpired) throw invalidToken('access token has expired; refresh it');
      // jose checks the claims only once the signature holds, so these values come from a token we signed.
      if (
        error instanceof errors.JWTClaimValidationFailed &&
        (error.claim === 'iss' || error.claim === 'aud')
      ) {
        const expected = error.claim === 'iss' ? this.options.issuer : this.options.audience;
        throw new ForeignAccessToken(error.claim, expected, error.payload[error.claim]);
      }
      throw invalidToken();
    }
  }
}
