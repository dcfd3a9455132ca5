import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyMergePatch, isJsonObject } from '../../src/workspaces/merge-patch.js';

/** RFC 7396 Appendix A, all fifteen examples: [target, patch, result]. */
const RFC_EXAMPLES: [unknown, unknown, unknown][] = [
  [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
  [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
  [{ a: 'b' }, { a: null }, {}],
  [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
  [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
  [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
  [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
  [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
  [
    ['a', 'b'],
    ['c', 'd'],
    ['c', 'd'],
  ],
  [{ a: 'b' }, ['c'], ['c']],
  [{ a: 'foo' }, null, null],
  [{ a: 'foo' }, 'bar', 'bar'],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: 'b', c: null }, { a: 'b' }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
];

/** The RFC's pseudocode, written out as plainly as it reads, to compare with. */
function reference(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return patch;
  const result: Record<string, unknown> = isJsonObject(target) ? JSON.parse(JSON.stringify(target)) : {};
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete result[name];
    else result[name] = reference(result[name], value);
  }
  return result;
}

/** Every key whose patch value is null is gone from the result, at every depth the patch reaches. */
function nullsRemoved(result: unknown, patch: unknown): boolean {
  if (!isJsonObject(patch)) return true;
  if (!isJsonObject(result)) return false;
  return Object.entries(patch).every(([key, value]) =>
    value === null ? !Object.hasOwn(result, key) : nullsRemoved(result[key], value),
  );
}

// Keys such as `__proto__` and `constructor` are left out of the generated values here: JSON.parse below
// handles those, and the reference implementation above would mistake `__proto__` for the prototype.
const key = fc.string({ maxLength: 4 }).filter((k) => k !== '__proto__');
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.string({ maxLength: 4 }),
    fc.array(tie('value'), { maxLength: 3 }),
    tie('object'),
  ),
  object: fc.dictionary(key, tie('value'), { maxKeys: 4 }),
}));
const jsonValue = json.value;
const jsonObject = json.object as fc.Arbitrary<Record<string, unknown>>;

describe('applyMergePatch', () => {
  it.each(RFC_EXAMPLES.map(([target, patch, result], i) => ({ i: i + 1, target, patch, result })))(
    'RFC 7396 Appendix A example $i',
    ({ target, patch, result }) => {
      expect(applyMergePatch(target, patch)).toEqual(result);
    },
  );

  it('changes neither the target nor the patch', () => {
    fc.assert(
      fc.property(jsonValue, jsonValue, (target, patch) => {
        const [targetBefore, patchBefore] = [structuredClone(target), structuredClone(patch)];
        applyMergePatch(target, patch);
        expect(target).toEqual(targetBefore);
        expect(patch).toEqual(patchBefore);
      }),
    );
  });

  it('leaves a nested target object alone when merging into it', () => {
    const target = { a: { b: 1, c: 2 }, d: [1] };
    const result = applyMergePatch(target, { a: { b: null, e: 3 } });
    expect(result).toEqual({ a: { c: 2, e: 3 }, d: [1] });
    expect(target).toEqual({ a: { b: 1, c: 2 }, d: [1] });
  });

  it('agrees with the RFC pseudocode', () => {
    fc.assert(
      fc.property(jsonValue, jsonValue, (target, patch) => {
        expect(applyMergePatch(target, patch)).toEqual(reference(target, patch));
      }),
    );
  });

  it('is idempotent: the same patch twice is the patch once', () => {
    // Holds for every JSON value: nulls of the patch remove keys already removed, objects merge into
    // what the first pass made, anything else (arrays with nulls in them included) replaces as before.
    fc.assert(
      fc.property(jsonValue, jsonValue, (target, patch) => {
        const once = applyMergePatch(target, patch);
        expect(applyMergePatch(once, patch)).toEqual(once);
      }),
    );
  });

  it('leaves the target unchanged when the patch only removes keys it does not have', () => {
    fc.assert(
      fc.property(jsonObject, fc.array(key, { maxLength: 5 }), (target, keys) => {
        const patch = Object.fromEntries(keys.filter((k) => !Object.hasOwn(target, k)).map((k) => [k, null]));
        expect(applyMergePatch(target, patch)).toEqual(target);
      }),
    );
  });

  it('never keeps a member the patch set to null, at any depth the patch reaches', () => {
    fc.assert(
      fc.property(jsonValue, jsonObject, (target, patch) => {
        expect(nullsRemoved(applyMergePatch(target, patch), patch)).toBe(true);
      }),
    );
  });

  it('keeps nulls that are values inside arrays and members the patch does not touch', () => {
    expect(applyMergePatch({ keep: null }, { list: [null, 1] })).toEqual({ keep: null, list: [null, 1] });
  });

  describe('__proto__ as a key', () => {
    const polluted = () => (Object.prototype as Record<string, unknown>).polluted;

    it('becomes an own key of the result, never its prototype', () => {
      const patch = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
      const result = applyMergePatch({}, patch) as Record<string, unknown>;
      expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
      expect(Object.hasOwn(result, '__proto__')).toBe(true);
      expect(Object.keys(result)).toEqual(['__proto__', 'a']);
      expect(result.polluted).toBeUndefined();
      expect(polluted()).toBeUndefined();
      expect(JSON.stringify(result)).toBe('{"__proto__":{"polluted":true},"a":1}');
    });

    it('merges into an own __proto__ key of the target and can be removed with null', () => {
      const target = JSON.parse('{"__proto__": {"x": 1, "y": 2}}');
      const merged = applyMergePatch(target, JSON.parse('{"__proto__": {"x": null, "z": 3}}'));
      expect(JSON.stringify(merged)).toBe('{"__proto__":{"y":2,"z":3}}');
      expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
      const removed = applyMergePatch(target, JSON.parse('{"__proto__": null}'));
      expect(removed).toEqual({});
      expect(Object.hasOwn(removed as object, '__proto__')).toBe(false);
      expect(polluted()).toBeUndefined();
    });

    it('reaches no prototype when nested deeper', () => {
      const patch = JSON.parse('{"a": {"__proto__": {"polluted": 1}}}');
      const result = applyMergePatch({ a: {} }, patch) as { a: Record<string, unknown> };
      expect(Object.getPrototypeOf(result.a)).toBe(Object.prototype);
      expect(result.a.polluted).toBeUndefined();
      expect(JSON.stringify(result)).toBe('{"a":{"__proto__":{"polluted":1}}}');
      expect(polluted()).toBeUndefined();
    });
  });
});
