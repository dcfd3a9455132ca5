import fc from 'fast-check';
import Negotiator from 'negotiator';
import { describe, expect, it } from 'vitest';
import { preferredCompression } from '../../src/platform/accept-encoding.js';

describe('preferredCompression', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['gzip', 'gzip'],
    ['gzip, deflate, br', 'br'],
    ['gzip, deflate', 'gzip'],
    ['br;q=0.5, gzip;q=0.8', 'gzip'],
    ['br;q=1.0, gzip;q=0.8, *;q=0.1', 'br'],
    ['GZIP', 'gzip'],
    ['identity', undefined],
    ['gzip;q=0', undefined],
    ['gzip;q=0.000', undefined],
    ['*', 'br'],
    ['*;q=0', undefined],
    ['*, br;q=0', 'gzip'],
    ['br;q=0, gzip;q=0, *', undefined],
    ['deflate', undefined],
    ['gzipx, brr', undefined],
    ['gzip;q=0, gzip', 'gzip'],
  ])('%j: %s', (header, expected) => {
    expect(preferredCompression(header)).toBe(expected);
  });

  // negotiator breaks ties between equal qualities by the header's order, this by the smaller encoding;
  // both are RFC 9110's, so the property holds it to negotiator on what is acceptable at all.
  it('chooses only what negotiator finds acceptable, and something whenever it does', () => {
    const coding = fc.constantFrom('gzip', 'identity', 'br', 'deflate', '*', 'GZip', 'BR');
    const quality = fc.option(fc.constantFrom('0', '0.0', '0.5', '1', '0.001', '1.0', '0.8'), {
      nil: undefined,
    });
    const entry = fc
      .tuple(coding, quality, fc.constantFrom('', ' '))
      .map(([c, q, space]) => (q === undefined ? c : `${c};${space}q=${q}`));
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 5 }), (entries) => {
        const header = entries.join(', ');
        const acceptable = new Negotiator({ headers: { 'accept-encoding': header } }).encodings([
          'br',
          'gzip',
        ]);
        const chosen = preferredCompression(header);
        if (acceptable.length === 0) expect(chosen).toBeUndefined();
        else expect(acceptable).toContain(chosen);
      }),
      { numRuns: 2000 },
    );
  });
});
