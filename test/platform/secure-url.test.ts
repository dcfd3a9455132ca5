import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSecureUrl } from '../../src/platform/secure-url.js';

describe('URLs a setting may name for fetching (identity providers, registries)', () => {
  it('are https anywhere and http on loopback only, without query or fragment (property)', () => {
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), (url) => {
        const parsed = parseSecureUrl(url);
        if (parsed === undefined) return;
        const back = new URL(parsed);
        expect(back.search).toBe('');
        expect(back.hash).toBe('');
        expect(
          back.protocol === 'https:' ||
            ['localhost', '127.0.0.1', '[::1]'].includes(back.hostname) ||
            back.hostname.startsWith('127.'),
        ).toBe(true);
      }),
    );
    expect(parseSecureUrl('http://127.0.0.1:8080/realms/x/')).toBe('http://127.0.0.1:8080/realms/x');
    expect(parseSecureUrl('http://[::1]:9/')).toBe('http://[::1]:9');
    expect(parseSecureUrl('http://127.example.com')).toBeUndefined();
    expect(parseSecureUrl('https://user:pw@id.example.com')).toBeUndefined();
  });
});
