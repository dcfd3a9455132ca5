import { afterEach, describe, expect, it, vi } from 'vitest';
import { AccessTokens, type JwtAlgorithm } from '../../src/auth/access-tokens.js';
import { deriveAuthKeys } from '../../src/auth/keys.js';

const keys = deriveAuthKeys(Buffer.from('access-token-key-test-secret-0123456789', 'utf8'));

function tokensFor(algorithm: JwtAlgorithm): AccessTokens {
  return new AccessTokens({
    key: () => keys.accessToken,
    algorithm,
    issuer: 'https://switchboard.test',
    audience: 'switchboard',
    ttlMs: 60_000,
    now: Date.now,
  });
}

const claims = { userId: 'u1', sessionId: 's1', role: 'viewer' as const, passwordSignature: 'sig' };

afterEach(() => vi.restoreAllMocks());

describe('the access-token key', () => {
  it.each(['HS256', 'HS384', 'HS512'] as const)(
    'signs and verifies with %s, and only with it',
    async (algorithm) => {
      const { token } = await tokensFor(algorithm).mint(claims);
      expect(tokensFor(algorithm).verify(token)).toMatchObject({ userId: 'u1', sessionId: 's1' });
      const other = algorithm === 'HS256' ? 'HS512' : 'HS256';
      expect(() => tokensFor(other).verify(token)).toThrow(expect.objectContaining({ code: 1009 }));
    },
  );

  it('is imported once for signing, not on every signature', async () => {
    const importKey = vi.spyOn(crypto.subtle, 'importKey');
    const tokens = tokensFor('HS256');
    for (let n = 0; n < 10; n += 1) await tokens.mint(claims);
    expect(importKey).toHaveBeenCalledTimes(1);
  });
});

describe('tokens remembered once verified', () => {
  function clockedTokens(key: () => Uint8Array) {
    const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
    const tokens = new AccessTokens({
      key,
      algorithm: 'HS256',
      issuer: 'https://switchboard.test',
      audience: 'switchboard',
      ttlMs: 60_000,
      now: () => clock.now,
    });
    return { tokens, clock };
  }

  it('still expire: a token verified a moment ago is refused once its exp has passed', async () => {
    const { tokens, clock } = clockedTokens(() => keys.accessToken);
    const { token, expiresAt } = await tokens.mint(claims);
    expect(tokens.verify(token).sessionId).toBe('s1');
    clock.now = expiresAt - 1001;
    expect(tokens.verify(token).sessionId).toBe('s1');
    clock.now = expiresAt;
    expect(() => tokens.verify(token)).toThrow('access token has expired; refresh it');
    expect(tokens.verify(token, { ignoreExpiry: true }).sessionId).toBe('s1');
  });

  it('are forgotten when the key changes: a token of the old key is refused at once', async () => {
    let key = keys.accessToken;
    const { tokens } = clockedTokens(() => key);
    const { token } = await tokens.mint(claims);
    expect(tokens.verify(token).userId).toBe('u1');
    key = deriveAuthKeys(Buffer.from('another-instance-secret-0123456789abcdef', 'utf8')).accessToken;
    expect(() => tokens.verify(token)).toThrow(expect.objectContaining({ code: 1009 }));
  });

  it('are remembered by their whole text: a copy with another signature is checked afresh', async () => {
    const { tokens } = clockedTokens(() => keys.accessToken);
    const { token } = await tokens.mint(claims);
    expect(tokens.verify(token).userId).toBe('u1');
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    expect(() => tokens.verify(`${token.slice(0, -1)}${last}`)).toThrow(
      expect.objectContaining({ code: 1009 }),
    );
  });

  it('take nothing but the very text for a remembered one: a remembered signature on another payload is refused', async () => {
    const { tokens } = clockedTokens(() => keys.accessToken);
    const { token } = await tokens.mint(claims);
    expect(tokens.verify(token).userId).toBe('u1');
    const [header, payload, signature] = token.split('.');
    const claimsOf = JSON.parse(Buffer.from(payload as string, 'base64url').toString('utf8'));
    const forged = Buffer.from(JSON.stringify({ ...claimsOf, sub: 'someone-else' })).toString('base64url');
    expect(() => tokens.verify(`${header}.${forged}.${signature}`)).toThrow(
      expect.objectContaining({ code: 1009 }),
    );
    // The genuine token is still remembered and good.
    expect(tokens.verify(token).userId).toBe('u1');
  });
});
