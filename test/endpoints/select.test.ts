import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isJsonPointer } from '../../src/endpoints/schema.js';
import { escapePointerToken, resolvePointer, selectFields } from '../../src/endpoints/select.js';

/** Keys rich in the characters a pointer must escape, and in ones that look like indices. */
const key = fc.string({ unit: fc.constantFrom('~', '/', '0', '1', 'a', '-', ' ', 'é'), maxLength: 6 });

const document = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string(),
    ),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
    fc.jsonValue({ maxDepth: 2 }),
  ),
})).value;

/** Every path in a document, as a list of keys or indices, with the value found there. */
function paths(value: unknown, prefix: string[] = []): Array<{ path: string[]; value: unknown }> {
  const here = [{ path: prefix, value }];
  if (Array.isArray(value))
    return here.concat(value.flatMap((item, i) => paths(item, [...prefix, String(i)])));
  if (typeof value === 'object' && value !== null) {
    return here.concat(Object.entries(value).flatMap(([k, item]) => paths(item, [...prefix, k])));
  }
  return here;
}

const pointerOf = (path: string[]) => path.map((token) => `/${escapePointerToken(token)}`).join('');

describe('resolvePointer', () => {
  it('resolves a pointer built from any existing path to the value there', () => {
    fc.assert(
      fc.property(document, (doc) => {
        for (const { path, value } of paths(doc)) expect(resolvePointer(doc, pointerOf(path))).toBe(value);
      }),
    );
  });

  it('reads back any key through ~0 / ~1 escaping', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (name, other) => {
        fc.pre(name !== other);
        const doc = { [name]: { [other]: 'found' }, [other]: 'decoy' };
        expect(resolvePointer(doc, `/${escapePointerToken(name)}/${escapePointerToken(other)}`)).toBe(
          'found',
        );
        expect(resolvePointer(doc, `/${escapePointerToken(other)}`)).toBe('decoy');
      }),
    );
  });

  it('decodes ~01 as the key ~1, not /', () => {
    const doc = { '~1': 'tilde-one', '/': 'slash', 'a/b': 1, 'm~n': 2 };
    expect(resolvePointer(doc, '/~01')).toBe('tilde-one');
    expect(resolvePointer(doc, '/~1')).toBe('slash');
    expect(resolvePointer(doc, '/a~1b')).toBe(1);
    expect(resolvePointer(doc, '/m~0n')).toBe(2);
    // A ~ followed by anything but 0 or 1 is not a pointer.
    expect(resolvePointer({ '~2': 1, '~': 2 }, '/~2')).toBeUndefined();
    expect(resolvePointer({ '~2': 1, '~': 2 }, '/~')).toBeUndefined();
  });

  it('follows the examples of RFC 6901', () => {
    const doc = {
      foo: ['bar', 'baz'],
      '': 0,
      'a/b': 1,
      'c%d': 2,
      'e^f': 3,
      'g|h': 4,
      'i\\j': 5,
      'k"l': 6,
      ' ': 7,
      'm~n': 8,
    };
    expect(resolvePointer(doc, '')).toBe(doc);
    expect(resolvePointer(doc, '/foo')).toBe(doc.foo);
    expect(resolvePointer(doc, '/foo/0')).toBe('bar');
    expect(resolvePointer(doc, '/')).toBe(0);
    expect(resolvePointer(doc, '/a~1b')).toBe(1);
    expect(resolvePointer(doc, '/c%d')).toBe(2);
    expect(resolvePointer(doc, '/e^f')).toBe(3);
    expect(resolvePointer(doc, '/g|h')).toBe(4);
    expect(resolvePointer(doc, '/i\\j')).toBe(5);
    expect(resolvePointer(doc, '/k"l')).toBe(6);
    expect(resolvePointer(doc, '/ ')).toBe(7);
    expect(resolvePointer(doc, '/m~0n')).toBe(8);
  });

  it('indexes arrays only by plain decimal indices inside the array', () => {
    const doc = { list: ['a', 'b', { deep: [null, 'x'] }] };
    expect(resolvePointer(doc, '/list/1')).toBe('b');
    expect(resolvePointer(doc, '/list/2/deep/1')).toBe('x');
    expect(resolvePointer(doc, '/list/2/deep/0')).toBeNull();
    expect(resolvePointer(doc, '/list/-')).toBeUndefined();
    expect(resolvePointer(doc, '/list/01')).toBeUndefined();
    expect(resolvePointer(doc, '/list/3')).toBeUndefined();
    expect(resolvePointer(doc, '/list/-1')).toBeUndefined();
    expect(resolvePointer(doc, '/list/1.0')).toBeUndefined();
    expect(resolvePointer(doc, '/list/ 1')).toBeUndefined();
    expect(resolvePointer(doc, '/list/length')).toBeUndefined();
    expect(resolvePointer(['zero'], '/0')).toBe('zero');
    // An object key that looks like an index is still just a key.
    expect(resolvePointer({ '01': 'key' }, '/01')).toBe('key');
  });

  it('does not resolve into primitives, missing keys, the prototype or a pointer without a leading /', () => {
    const doc = { text: 'abc', n: 5, nothing: null };
    expect(resolvePointer(doc, '/text/0')).toBeUndefined();
    expect(resolvePointer(doc, '/text/length')).toBeUndefined();
    expect(resolvePointer(doc, '/n/x')).toBeUndefined();
    expect(resolvePointer(doc, '/nothing/x')).toBeUndefined();
    expect(resolvePointer(doc, '/missing')).toBeUndefined();
    expect(resolvePointer(doc, '/constructor')).toBeUndefined();
    expect(resolvePointer(doc, '/__proto__')).toBeUndefined();
    expect(resolvePointer(doc, '/toString')).toBeUndefined();
    expect(resolvePointer(doc, 'text')).toBeUndefined();
    expect(resolvePointer(doc, '#/text')).toBeUndefined();
  });
});

describe('selectFields', () => {
  it('gives the output as it is without a map', () => {
    const output = { a: 1 };
    expect(selectFields(output, undefined)).toBe(output);
    expect(selectFields('text', undefined)).toBe('text');
  });

  it('maps names to the values their pointers find', () => {
    const output = { current: { temp: 21.5, wind: { speed: 3 } }, alerts: [{ level: 'amber' }] };
    expect(
      selectFields(output, {
        temperature: '/current/temp',
        wind: '/current/wind',
        first: '/alerts/0/level',
        all: '',
      }),
    ).toEqual({ temperature: 21.5, wind: { speed: 3 }, first: 'amber', all: output });
    expect(selectFields(output, {})).toEqual({});
  });

  it('gives null for every pointer that does not resolve', () => {
    fc.assert(
      fc.property(
        fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), key, { minKeys: 1, maxKeys: 5 }),
        (output, wanted) => {
          const select = Object.fromEntries(
            Object.entries(wanted).map(([name, k]) => [name, `/${escapePointerToken(k)}`]),
          );
          const selected = selectFields(output, select) as Record<string, unknown>;
          expect(Object.keys(selected).sort()).toEqual(Object.keys(select).sort());
          for (const [name, k] of Object.entries(wanted)) {
            expect(selected[name]).toEqual(Object.hasOwn(output, k) ? output[k] : null);
          }
        },
      ),
    );
    expect(selectFields(null, { a: '/x' })).toEqual({ a: null });
    expect(selectFields([1], { a: '/-', b: '/01', c: '/0' })).toEqual({ a: null, b: null, c: 1 });
  });

  it('keeps a field named __proto__ as a plain field', () => {
    // A literal `{ __proto__: … }` would set the map's prototype instead, so build the map from entries.
    const select = Object.fromEntries([['__proto__', '/x']]) as Record<string, string>;
    const fields = selectFields({ x: { polluted: true } }, select) as Record<string, unknown>;
    expect(Object.hasOwn(fields, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(fields, '__proto__')?.value).toEqual({ polluted: true });
    expect(Object.getPrototypeOf(fields)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('isJsonPointer, the check of a select pointer', () => {
  /** The pattern it replaces, which says the same and threw on a pointer of a few megabytes. */
  const written = /^(\/([^~/]|~[01])*)*$/;

  it('accepts exactly the pointers the pattern it replaces accepts', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('/', '~', '0', '1', '2', 'a'), maxLength: 40 }),
        (text) => {
          expect(isJsonPointer(text)).toBe(written.test(text));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('answers for 8 MB pointers, valid or not', () => {
    expect(isJsonPointer('/a'.repeat(4_000_000))).toBe(true);
    expect(isJsonPointer('/~0'.repeat(2_600_000))).toBe(true);
    expect(isJsonPointer(`${'/a'.repeat(4_000_000)}~`)).toBe(false);
    expect(isJsonPointer(`/${'~1'.repeat(4_000_000)}~2`)).toBe(false);
  });
});
