import { createHmac, type KeyObject, timingSafeEqual } from 'node:crypto';

export type HmacJwtAlgorithm = 'HS256' | 'HS384' | 'HS512';

const HASHES: Record<HmacJwtAlgorithm, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

export interface HmacJwtOptions {
  algorithm: HmacJwtAlgorithm;
  issuer: string;
  audience: string;
  /** Claims that must be present, beside `iss` and `aud`. */
  requiredClaims: readonly string[];
  /** Seconds since the epoch; `exp` must be after it and `nbf`, when present, not. */
  nowSeconds: number;
}

/** Why a token is refused. `claim` names the claim at fault: `iss` or `aud` for a token meant elsewhere. */
export class HmacJwtRefused extends Error {
  constructor(
    readonly reason: 'malformed' | 'signature' | 'header' | 'claims' | 'expired',
    readonly claim?: string,
    readonly payload?: Readonly<Record<string, unknown>>,
  ) {
    super(`JWT refused: ${reason}${claim ? ` (${claim})` : ''}`);
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function decodeJson(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new HmacJwtRefused('malformed');
  }
}

/**
 * Verifies a compact JWS JWT signed with a pinned HMAC algorithm, synchronously: the same checks, in the
 * same order, as jose's `jwtVerify` with `algorithms`, `issuer`, `audience`, `requiredClaims` and
 * `typ: 'JWT'`, but one HMAC on the calling thread instead of a WebCrypto job and its promises (a fifth of
 * an authenticated request). The signature is checked first, on the encoded parts, so nothing of a token
 * not signed with `key` is ever parsed; it must be the canonical encoding of the MAC, compared in constant
 * time. Any `crit` header is refused: no extension is understood here.
 */
export function verifyHmacJwt(
  token: string,
  key: KeyObject,
  options: HmacJwtOptions,
): Record<string, unknown> {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first <= 0 || second <= first + 1 || token.indexOf('.', second + 1) !== -1) {
    throw new HmacJwtRefused('malformed');
  }
  const expected = Buffer.from(
    createHmac(HASHES[options.algorithm], key).update(token.slice(0, second)).digest('base64url'),
  );
  const given = Buffer.from(token.slice(second + 1));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new HmacJwtRefused('signature');
  }
  const header = decodeJson(token.slice(0, first));
  if (
    !isObject(header) ||
    header.alg !== options.algorithm ||
    header.crit !== undefined ||
    typeof header.typ !== 'string' ||
    !isJwtType(header.typ)
  ) {
    throw new HmacJwtRefused('header');
  }
  const payload = decodeJson(token.slice(first + 1, second));
  if (!isObject(payload)) throw new HmacJwtRefused('malformed');
  return checkClaims(payload, options);
}

/** `typ` as jose compares it: case-insensitive, `JWT` standing for `application/jwt`. */
function isJwtType(typ: string): boolean {
  const lower = typ.toLowerCase();
  return lower === 'jwt' || lower === 'application/jwt';
}

function checkClaims(payload: Record<string, unknown>, options: HmacJwtOptions): Record<string, unknown> {
  // Presence first, then values, then times: a missing `iss` is told as `iss`, as jose tells it.
  for (const claim of ['iss', 'aud', ...[...options.requiredClaims].reverse()]) {
    if (!Object.hasOwn(payload, claim)) throw new HmacJwtRefused('claims', claim, payload);
  }
  if (payload.iss !== options.issuer) throw new HmacJwtRefused('claims', 'iss', payload);
  const aud = payload.aud;
  if (!(aud === options.audience || (Array.isArray(aud) && aud.includes(options.audience)))) {
    throw new HmacJwtRefused('claims', 'aud', payload);
  }
  for (const claim of ['iat', 'nbf', 'exp']) {
    if (payload[claim] !== undefined && typeof payload[claim] !== 'number') {
      throw new HmacJwtRefused('claims', claim, payload);
    }
  }
  const { nbf, exp } = payload as { nbf?: number; exp?: number };
  if (nbf !== undefined && nbf > options.nowSeconds) throw new HmacJwtRefused('claims', 'nbf', payload);
  if (exp !== undefined && exp <= options.nowSeconds) throw new HmacJwtRefused('expired', 'exp', payload);
  return payload;
}
