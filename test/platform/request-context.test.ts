import fc from 'fast-check';
import querystring from 'fast-querystring';
import { describe, expect, it } from 'vitest';
import { redactUrl, SECRET_PARAMS } from '../../src/platform/request-context.js';

const SECRET_NAMES = [...SECRET_PARAMS];

/** A name written with any of its characters percent-encoded, as a client may send it. */
const encodedVariant = (name: string) =>
  fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((flags) =>
      [...name].map((c, i) => (flags[i] ? `%${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c)).join(''),
    );

/** A secret no other part of the URL can contain by chance. */
const secretValue = fc.stringMatching(/^[A-Za-z0-9_-]{20,40}$/).map((v) => `SECRET${v}`);

describe('redactUrl', () => {
  it('redacts by the name the query parser reads, whatever the encoding', () => {
    expect(redactUrl('/api/v1/auth/validate?%74oken=abc.def.ghi')).toBe(
      '/api/v1/auth/validate?%74oken=[REDACTED]',
    );
    expect(redactUrl('/e?channel=a&ticket=xyz&channel=b')).toBe('/e?channel=a&ticket=[REDACTED]&channel=b');
    expect(redactUrl('/e?a=1#&token=x')).toBe('/e?a=1#&token=[REDACTED]');
    expect(redactUrl('/e?%E0%A4%A=x')).toBe('/e?%E0%A4%A=[REDACTED]');
    expect(redactUrl('/plain/path')).toBe('/plain/path');
    expect(redactUrl('/e?last_event_id=1:2&token')).toBe('/e?last_event_id=1:2&token');
  });

  it('leaves no value the parser reads under a secret name, and changes nothing else', () => {
    const other = fc.record({
      name: fc.constantFrom('channel', 'limit', 'cursor', 'last_event_id', 'q'),
      value: fc.stringMatching(/^[a-z0-9:]{0,12}$/),
    });
    const secret = fc
      .constantFrom(...SECRET_NAMES)
      .chain((name) => fc.record({ name: encodedVariant(name), value: secretValue }));
    fc.assert(
      fc.property(fc.array(fc.oneof(other, secret), { minLength: 1, maxLength: 6 }), (pairs) => {
        const url = `/api/v1/x?${pairs.map((p) => `${p.name}=${p.value}`).join('&')}`;
        const redacted = redactUrl(url);
        const parsed = querystring.parse(url.slice(url.indexOf('?') + 1)) as Record<string, unknown>;
        for (const name of SECRET_NAMES) {
          for (const value of [parsed[name]].flat()) {
            if (typeof value === 'string') expect(redacted).not.toContain(value);
          }
        }
        const kept = querystring.parse(redacted.slice(redacted.indexOf('?') + 1)) as Record<string, unknown>;
        for (const name of ['channel', 'limit', 'cursor', 'last_event_id', 'q']) {
          expect(kept[name]).toEqual(parsed[name]);
        }
      }),
    );
  });
});
