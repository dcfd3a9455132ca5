import { createRemoteJWKSet, decodeJwt, errors, type JWTPayload, jwtVerify } from 'jose';
import type { AppError } from '../../platform/problem.js';
import { SsoRejection, upstreamFailed } from './failures.js';
import { fetchMetadata } from './metadata.js';
import type { SsoSettings } from './settings.js';

/** Microsoft's own allowance for clock skew, and the most this accepts. */
export const CLOCK_TOLERANCE_S = 300;
/** An id token is a few kilobytes; anything much larger is not one. */
const MAX_ID_TOKEN_CHARS = 16_384;
/** At most one fetch of a JWKS per this, however many unknown key ids arrive. */
const JWKS_COOLDOWN_MS = 30_000;
/** A tenant's metadata is fetched again after this. */
const METADATA_TTL_MS = 24 * 60 * 60_000;
/** A failed metadata fetch is not retried before this: a flood of tokens cannot hammer the provider. */
const METADATA_RETRY_MS = 5_000;

interface Tenant {
  readonly issuer: string;
  readonly keys: ReturnType<typeof createRemoteJWKSet>;
}

interface CachedTenant {
  readonly tenant: Promise<Tenant>;
  readonly until: number;
}

/** What a verified id token gives: its claims, and when its single use may be forgotten. */
export interface VerifiedIdToken {
  readonly claims: JWTPayload & Record<string, unknown>;
  readonly spentUntil: number;
}

/** jose's codes for a key set that could not be had (fetched in time, or read): the provider's fault. */
const JOSE_UPSTREAM = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC']);

/**
 * Verifies MSAL (Entra ID) id tokens: the tenant on the allow-list before anything is fetched; RS256 only,
 * by a key of that tenant's JWKS (cached, fetched again on an unknown key id at most once per 30 s);
 * issuer as the tenant's metadata gives it; audience the client id; expiry and not-before within five
 * minutes of skew.
 */
export class MsalVerifier {
  private readonly tenants = new Map<string, CachedTenant>();

  constructor(
    private readonly settings: NonNullable<SsoSettings['msal']>,
    private readonly now: () => number = Date.now,
  ) {}

  async verify(idToken: string): Promise<VerifiedIdToken> {
    if (idToken.length > MAX_ID_TOKEN_CHARS)
      throw new SsoRejection('malformed', 'the id token is too long to be one');
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(idToken);
    } catch {
      throw new SsoRejection('malformed', 'the id token is not a JWT');
    }
    const tid = typeof unverified.tid === 'string' ? unverified.tid.toLowerCase() : undefined;
    if (tid === undefined || !this.settings.tenants.includes(tid)) {
      throw new SsoRejection('tenant', 'the id token is from a tenant that may not sign in here');
    }
    const tenant = await this.tenant(tid);
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(idToken, tenant.keys, {
        algorithms: ['RS256'],
        issuer: tenant.issuer,
        audience: this.settings.clientId,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['exp', 'iss', 'aud', 'sub', 'tid'],
        currentDate: new Date(this.now()),
      }));
    } catch (error) {
      throw rejectionOf(error);
    }
    return {
      claims: claims as VerifiedIdToken['claims'],
      spentUntil: ((claims.exp as number) + CLOCK_TOLERANCE_S) * 1000,
    };
  }

  private tenant(tid: string): Promise<Tenant> {
    const now = this.now();
    const cached = this.tenants.get(tid);
    if (cached && cached.until > now) return cached.tenant;
    const tenant = this.fetchTenant(tid);
    this.tenants.set(tid, { tenant, until: now + METADATA_TTL_MS });
    tenant.catch(() => this.tenants.set(tid, { tenant, until: this.now() + METADATA_RETRY_MS }));
    return tenant;
  }

  private async fetchTenant(tid: string): Promise<Tenant> {
    const where = `${this.settings.authority}/${tid}/v2.0/.well-known/openid-configuration`;
    const metadata = await fetchMetadata(where, 'Entra ID');
    return {
      // Entra ID publishes one issuer for every tenant, with a placeholder for the tenant id.
      issuer: metadata.issuer.replace('{tenantid}', tid),
      keys: createRemoteJWKSet(new URL(metadata.jwksUri), {
        cooldownDuration: JWKS_COOLDOWN_MS,
        timeoutDuration: 5_000,
      }),
    };
  }
}

/** A jose failure as the answer it gets: the provider's fault a 502, the token's a 401. */
function rejectionOf(error: unknown): AppError {
  if (error instanceof errors.JWTExpired)
    return new SsoRejection('expired', 'the id token has expired; sign in again');
  if (error instanceof errors.JWTClaimValidationFailed) {
    const what: Record<string, string> = {
      iss: 'the id token is from another issuer',
      aud: 'the id token is for another application (audience)',
      nbf: 'the id token is not valid yet',
    };
    return new SsoRejection(
      `claim_${error.claim}`,
      what[error.claim] ?? `the id token's "${error.claim}" claim is wrong or missing`,
    );
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return new SsoRejection('algorithm', 'the id token is signed with an algorithm other than RS256');
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return new SsoRejection(
      'unknown_key',
      "the id token is signed with a key that is not in the tenant's key set",
    );
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new SsoRejection('signature', 'the id token signature does not verify');
  }
  const code = (error as { code?: unknown }).code;
  if (error instanceof errors.JOSEError && !JOSE_UPSTREAM.has(code as string)) {
    return new SsoRejection('invalid', 'the id token is not a valid signed JWT');
  }
  return upstreamFailed('Entra ID', error);
}
