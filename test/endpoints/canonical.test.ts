import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize, canonicalJson } from '../../src/endpoints/canonical.js';

/** What JSON keeps of a value: `-0` becomes 0, `undefined` members go. */
const throughJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

/** The same value with the keys of every object in another order. */
function reordered(value: unknown, order: (keys: string[]) => string[]): unknown {
  if (Array.isArray(value)) return value.map((item) => reordered(item, order));
  if (value === null || typeof value !== 'object') return value;
  const copy = {};
  for (const key of order(Object.keys(value))) {
    Object.defineProperty(copy, key, {
      value: reordered((value as Record<string, unknown>)[key], order),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

/** Keys in a document, listed depth-first, in the order they are written. */
function keyOrders(value: unknown): string[][] {
  if (Array.isArray(value)) return value.flatMap(keyOrders);
  if (value === null || typeof value !== 'object') return [];
  const keys = Object.keys(value);
  return [keys, ...keys.flatMap((key) => keyOrders((value as Record<string, unknown>)[key]))];
}

/** Keys that JavaScript objects treat specially, among ordinary and numeric-looking ones. */
const key = fc.oneof(
  fc.string({ maxLength: 5 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', '10', '2', 'B', 'a', 'é', ''),
);
const document = fc.oneof(fc.jsonValue(), fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }));

describe('canonicalJson', () => {
  it('reads back as the same document', () => {
    fc.assert(
      fc.property(document, (doc) => {
        expect(JSON.parse(canonicalJson(doc))).toEqual(throughJson(doc));
      }),
    );
  });

  it('keeps a "__proto__" key as data instead of turning it into a prototype', () => {
    const doc = JSON.parse('{"__proto__": {"polluted": true}, "b": 2}');
    expect(canonicalJson(doc)).toBe('{\n  "__proto__": {\n    "polluted": true\n  },\n  "b": 2\n}\n');
    expect(Object.hasOwn(canonicalize(doc) as object, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(document, (doc) => {
        const once = canonicalJson(doc);
        expect(canonicalJson(JSON.parse(once))).toBe(once);
        expect(canonicalJson(canonicalize(doc))).toBe(once);
      }),
    );
  });

  it('does not depend on the order keys are written in, at any depth', () => {
    fc.assert(
      fc.property(document, fc.infiniteStream(fc.nat()), (doc, seeds) => {
        // Each object's keys get a random order of their own.
        const iterator = seeds[Symbol.iterator]();
        const shuffle = (keys: string[]) => {
          const out = [...keys];
          for (let i = out.length - 1; i > 0; i--) {
            const j = (iterator.next().value as number) % (i + 1);
            [out[i], out[j]] = [out[j] as string, out[i] as string];
          }
          return out;
        };
        expect(canonicalJson(reordered(doc, shuffle))).toBe(canonicalJson(doc));
        expect(canonicalJson(reordered(doc, (keys) => [...keys].reverse()))).toBe(canonicalJson(doc));
      }),
    );
  });

  it('writes keys sorted at every depth', () => {
    fc.assert(
      fc.property(document, (doc) => {
        // Parsing the text gives back its key order, except that JavaScript lists integer keys first.
        const integer = (k: string) => /^(0|[1-9]\d*)$/.test(k) && Number(k) < 2 ** 32 - 1;
        for (const keys of keyOrders(JSON.parse(canonicalJson(doc)))) {
          const named = keys.filter((k) => !integer(k));
          expect(named).toEqual([...named].sort());
        }
      }),
    );
  });

  it('ends with exactly one newline and indents by two spaces', () => {
    fc.assert(
      fc.property(document, (doc) => {
        const text = canonicalJson(doc);
        expect(text.endsWith('\n')).toBe(true);
        expect(text.endsWith('\n\n')).toBe(false);
        expect(text.slice(0, -1)).toBe(JSON.stringify(JSON.parse(text), null, 2));
      }),
    );
  });

  it('drops undefined members and sorts by code unit', () => {
    expect(canonicalJson({ b: 1, a: undefined, B: [{ z: 1, y: undefined, x: null }] })).toBe(
      '{\n  "B": [\n    {\n      "x": null,\n      "z": 1\n    }\n  ],\n  "b": 1\n}\n',
    );
    expect(canonicalJson('text')).toBe('"text"\n');
  });
});
