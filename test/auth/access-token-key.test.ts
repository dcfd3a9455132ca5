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
      await expect(tokensFor(algorithm).verify(token)).resolves.toMatchObject({
        userId: 'u1',
        sessionId: 's1',
      });
      const other = algorithm === 'HS256' ? 'HS512' : 'HS256';
      await expect(tokensFor(other).verify(token)).rejects.toMatchObject({ code: 1009 });
    },
  );

  it('is imported once, not on every signature and verification', async () => {
    const importKey = vi.spyOn(crypto.subtle, 'importKey');
    const tokens = tokensFor('HS256');
    const { token } = await tokens.mint(claims);
    for (let n = 0; n < 10; n += 1) await tokens.verify(token);
    expect(importKey).toHaveBeenCalledTimes(1);
  });
});
