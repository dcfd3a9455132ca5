import { createHmac, createSecretKey } from 'node:crypto';
import fc from 'fast-check';
import { errors, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { type HmacJwtAlgorithm, HmacJwtRefused, verifyHmacJwt } from '../../src/auth/jwt-hmac.js';

const RAW_KEY = Buffer.from('jwt-hmac-test-key-0123456789abcdef', 'utf8');
const OTHER_KEY = Buffer.from('jwt-hmac-test-key-of-someone-else!', 'utf8');
const ISSUER = 'https://switchboard.test';
const AUDIENCE = 'switchboard';
const NOW = 1_800_000_000;
const REQUIRED = ['sub', 'jti', 'iat', 'exp'] as const;
const HASHES: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS over exactly these header and payload objects, MACed with `hash` and `key`. */
function compact(header: unknown, payload: unknown, hash: string, key: Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(hash, key).update(input).digest('base64url')}`;
}

type Outcome = 'ok' | 'expired' | 'iss' | 'aud' | 'refused';

function ours(token: string, algorithm: HmacJwtAlgorithm): Outcome {
  try {
    verifyHmacJwt(token, createSecretKey(RAW_KEY), {
      algorithm,
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: REQUIRED,
      nowSeconds: NOW,
    });
    return 'ok';
  } catch (error) {
    if (!(error instanceof HmacJwtRefused)) throw error;
    if (error.reason === 'expired') return 'expired';
    if (error.claim === 'iss' || error.claim === 'aud') return error.claim;
    return 'refused';
  }
}

async function jose(token: string, algorithm: HmacJwtAlgorithm): Promise<Outcome> {
  try {
    await jwtVerify(token, new Uint8Array(RAW_KEY), {
      algorithms: [algorithm],
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: [...REQUIRED],
      currentDate: new Date(NOW * 1000),
      typ: 'JWT',
    });
    return 'ok';
  } catch (error) {
    if (error instanceof errors.JWTExpired) return 'expired';
    if (
      error instanceof errors.JWTClaimValidationFailed &&
      (error.claim === 'iss' || error.claim === 'aud')
    ) {
      return error.claim;
    }
    return 'refused';
  }
}

/** Mostly `usual`, now and then one of `others`: most tokens get far enough for the next check to matter. */
const mostly = <T>(usual: T, ...others: T[]) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(usual) },
    { weight: 1, arbitrary: fc.constantFrom(...others) },
  );
/** Present and usual, or another value, or missing (undefined is left out of the JSON). */
const claim = <T>(usual: T, ...others: T[]) =>
  fc.oneof(
    { weight: 8, arbitrary: mostly(usual, ...others) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );

const time = (usual: number) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(usual) },
    { weight: 4, arbitrary: fc.integer({ min: NOW - 2, max: NOW + 2 }) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(0, -1, NOW + 0.5, NOW - 0.5, '1800000000', null, true) },
  );

const headers = fc.record({
  alg: mostly<unknown>('HS256', 'HS384', 'HS512', 'none', 'RS256', 'hs256', 7),
  typ: claim<unknown>('JWT', 'jwt', 'application/jwt', 'Application/JWT', 'at+jwt', 'x/jwt', 5),
  crit: fc.option(fc.constantFrom<unknown>(['b64'], ['exp'], [], 'b64'), { freq: 8, nil: undefined }),
  b64: fc.option(fc.boolean(), { freq: 4, nil: undefined }),
  kid: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
});

const payloads = fc.record({
  iss: claim<unknown>(ISSUER, `${ISSUER}/`, 'elsewhere', 5, null),
  aud: claim<unknown>(AUDIENCE, [AUDIENCE], ['x', AUDIENCE], ['x'], 'x', [], 3),
  sub: claim<unknown>('u1', '', 5),
  jti: claim<unknown>('s1', '', null),
  iat: fc.option(time(NOW - 10), { freq: 8, nil: undefined }),
  exp: fc.option(time(NOW + 60), { freq: 8, nil: undefined }),
  nbf: fc.option(time(NOW - 10), { freq: 2, nil: undefined }),
  role: fc.constantFrom('viewer', 'admin'),
});

/** Mostly well-signed, now and then with another key or another hash than the header names. */
const tokens = fc
  .tuple(
    fc.oneof(
      { weight: 20, arbitrary: headers },
      { weight: 1, arbitrary: fc.constantFrom(null, [], 'JWT', 3) },
    ),
    fc.oneof({ weight: 9, arbitrary: payloads }, { weight: 1, arbitrary: fc.constantFrom(null, [1], 'x') }),
    fc.constantFrom('sha256', 'sha256', 'sha384', 'sha512'),
    mostly(RAW_KEY, OTHER_KEY),
  )
  .map(([header, payload, hash, key]) => {
    const named = typeof header === 'object' && header !== null && !Array.isArray(header) ? header.alg : '';
    return compact(header, payload, typeof named === 'string' && HASHES[named] ? HASHES[named] : hash, key);
  });

describe('verifyHmacJwt', () => {
  it('decides as jose does on the same tokens, but refuses every `crit` header (jose takes one of b64)', async () => {
    await fc.assert(
      fc.asyncProperty(tokens, mostly<HmacJwtAlgorithm>('HS256', 'HS384', 'HS512'), async (token, alg) => {
        const header = JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString());
        const expected = await jose(token, alg);
        const got = ours(token, alg);
        if (header?.crit !== undefined) expect(got).toBe('refused');
        else expect(got).toBe(expected);
      }),
      { numRuns: 4000 },
    );
  });

  it('accepts a plain token of ours and hands back its claims', () => {
    const claims = {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'u',
      jti: 's',
      iat: NOW,
      exp: NOW + 60,
      role: 'viewer',
    };
    const token = compact({ alg: 'HS256', typ: 'JWT' }, claims, 'sha256', RAW_KEY);
    expect(
      verifyHmacJwt(token, createSecretKey(RAW_KEY), {
        algorithm: 'HS256',
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: REQUIRED,
        nowSeconds: NOW,
      }),
    ).toEqual(claims);
  });

  it('refuses a signature in any encoding but the canonical one, and junk of any shape', () => {
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'u', jti: 's', iat: NOW, exp: NOW + 60 };
    const token = compact({ alg: 'HS256', typ: 'JWT' }, claims, 'sha256', RAW_KEY);
    const signature = token.split('.')[2] as string;
    // The last character of a 32-byte MAC carries 2 bits of padding: another one decodes to the same bytes.
    const last = signature.at(-1) === 'A' ? 'B' : 'A';
    const variants = [
      `${token.slice(0, -1)}${last}`,
      `${token}=`,
      `${token.slice(0, -signature.length)}${Buffer.from(signature, 'base64url').toString('base64')}`,
      `${token}.`,
      `.${token}`,
      token.replace('.', '..'),
      '',
      '..',
      'a.b.c',
      `${token.split('.').slice(0, 2).join('.')}.`,
    ];
    for (const variant of variants) {
      if (variant === token) continue;
      expect(ours(variant, 'HS256'), variant).toBe('refused');
    }
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (junk) => ours(junk, 'HS256') === 'refused'));
  });
});
