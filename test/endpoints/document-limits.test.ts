import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  limitProblems,
  MAX_DEPTH,
  MAX_VALUES,
  TOO_DEEP,
  TOO_MANY_VALUES,
  textLimits,
} from '../../src/endpoints/document-limits.js';
import { schemaProblems } from '../../src/endpoints/validate.js';

/** `value` wrapped in `levels` single-key objects: {"a":{"a":…value…}}. */
function nested(levels: number, value: unknown = 1): unknown {
  let result = value;
  for (let i = 0; i < levels; i += 1) result = { a: result };
  return result;
}

/** Any JSON, often buried 20 to 40 levels down in objects and arrays (beside other values, at index 1). */
const json = fc.oneof(
  fc.jsonValue({ maxDepth: 6 }),
  fc
    .tuple(
      fc.jsonValue({ maxDepth: 4 }),
      fc.array(fc.option(fc.string(), { nil: undefined }), { minLength: 20, maxLength: 40 }),
    )
    .map(([inner, path]) =>
      path.reduceRight<unknown>(
        (value, key) => (key === undefined ? [null, value] : { [key]: value, z: 0 }),
        inner,
      ),
    ),
);

describe('limitProblems', () => {
  it('accepts values nested up to the limit and refuses the first one past it, at its pointer', () => {
    expect(limitProblems(nested(MAX_DEPTH))).toEqual([]);
    expect(limitProblems(nested(MAX_DEPTH + 1))).toEqual([
      { pointer: '/a'.repeat(MAX_DEPTH + 1), message: TOO_DEEP },
    ]);
    expect(limitProblems({ x: [[], { 'a/b~c': nested(MAX_DEPTH) }] })).toEqual([
      { pointer: `/x/1/a~1b~0c${'/a'.repeat(MAX_DEPTH - 2)}`, message: TOO_DEEP },
    ]);
  });

  it('walks a million levels without overflowing the stack', () => {
    let deep: unknown = 0;
    for (let i = 0; i < 1_000_000; i += 1) deep = [deep];
    expect(limitProblems(deep)).toEqual([{ pointer: '/0'.repeat(MAX_DEPTH + 1), message: TOO_DEEP }]);
  });

  it('counts every value, the root included', () => {
    expect(limitProblems(new Array(MAX_VALUES - 1).fill(0))).toEqual([]);
    expect(limitProblems(new Array(MAX_VALUES).fill(0))).toEqual([{ pointer: '', message: TOO_MANY_VALUES }]);
  });

  it('comes first in schemaProblems: nothing else walks a document past the limits', () => {
    expect(schemaProblems({ colour: 'blue', endpoints: { e: { url: 'x', body: nested(40) } } })).toEqual([
      { pointer: `/endpoints/e/body${'/a'.repeat(MAX_DEPTH - 2)}`, message: TOO_DEEP },
    ]);
  });
});

describe('textLimits', () => {
  it('agrees with limitProblems on any JSON, compact or indented', () => {
    fc.assert(
      fc.property(json, fc.constantFrom(0, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        fc.pre(!text.includes('__proto__') && !text.includes('prototype'));
        const fromText = textLimits(text, 0);
        const problems = limitProblems(value);
        expect(fromText.ok ? [] : 'problem' in fromText ? [fromText.problem] : fromText).toEqual(problems);
      }),
      { numRuns: 500 },
    );
  });

  it('finds the document inside the request around it, and allows a value for base_version', () => {
    const text = (value: unknown) => JSON.stringify({ base_version: '1.0.0', config: value });
    expect(textLimits(text(nested(MAX_DEPTH)), 1)).toEqual({ ok: true });
    expect(textLimits(text(nested(MAX_DEPTH + 1)), 1)).toEqual({
      ok: false,
      problem: { pointer: `/config${'/a'.repeat(MAX_DEPTH + 1)}`, message: TOO_DEEP },
    });
    expect(textLimits(text(new Array(MAX_VALUES + 1).fill(0)), 1)).toEqual({
      ok: false,
      problem: { pointer: '/config', message: TOO_MANY_VALUES },
    });
  });

  it('reads strings whole: brackets, quotes and backslashes inside them are text', () => {
    const tricky = { '[{"\\': ['"]}', '\\', '\\"', '{[{['.repeat(50)], 'key "with" quotes': nested(3) };
    expect(textLimits(JSON.stringify(tricky), 0)).toEqual({ ok: true });
    expect(textLimits(JSON.stringify({ 'a"/b': nested(MAX_DEPTH) }), 0)).toEqual({
      ok: false,
      problem: { pointer: `/a"~1b${'/a'.repeat(MAX_DEPTH)}`, message: TOO_DEEP },
    });
  });

  it('finds the keys that JSON parsers must not take, however they are written', () => {
    for (const text of [
      '{"__proto__":{}}',
      '{"a":[{"\\u005f_proto__":1}]}',
      '{"constructor":{"prototype":{}}}',
      '{"x":{"constructor":{"a":1,"prototype":1}}}',
    ]) {
      expect(textLimits(text, 0), text).toMatchObject({ ok: false, forbiddenKey: expect.any(String) });
    }
    for (const text of [
      '{"proto":{}}',
      '{"constructor":1,"prototype":{}}',
      '["__proto__"]',
      '{"a":"constructor"}',
    ]) {
      expect(textLimits(text, 0), text).toEqual({ ok: true });
    }
  });

  it('leaves malformed text to JSON.parse, without failing or looping', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', '\\', ',', ':', 'a', '1', ' ') }),
        (text) => {
          expect(textLimits(text, 1)).toHaveProperty('ok');
        },
      ),
      { numRuns: 2000 },
    );
  });
});
