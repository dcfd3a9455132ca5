import { jsonLanguage } from '@codemirror/lang-json';
import { createTwoFilesPatch } from 'diff';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EndpointConfig } from '../../src/endpoints/schema.js';
import { schemaProblems as serverProblems } from '../../src/endpoints/validate.js';
import { parseUnifiedDiff } from '../../ui/config-ui/src/diff-lines.js';
import {
  decodePointer,
  encodePointer,
  placeAt,
  rangeOfPointer,
} from '../../ui/config-ui/src/editor/pointer.js';
import { keysAt, type Schema, schemasAt } from '../../ui/config-ui/src/editor/schema.js';
import { schemaProblems as pageProblems, validatorFor } from '../../ui/config-ui/src/editor/validate.js';
import { exampleConfig } from '../endpoints/config-fixture.js';

/** The schema as GET /config/schema serves it: plain JSON. */
const served = JSON.parse(JSON.stringify(EndpointConfig)) as Schema;
const validator = validatorFor(served);

const parse = (text: string) => {
  const tree = jsonLanguage.parser.parse(text);
  return { tree, slice: (from: number, to: number) => text.slice(from, to) };
};

/** Every pointer into `value` with the value it points at. */
function pointersOf(value: unknown, path: string[] = []): [string[], unknown][] {
  const here: [string[], unknown][] = [[path, value]];
  if (Array.isArray(value)) return [...here, ...value.flatMap((v, i) => pointersOf(v, [...path, String(i)]))];
  if (value !== null && typeof value === 'object') {
    return [...here, ...Object.entries(value).flatMap(([k, v]) => pointersOf(v, [...path, k]))];
  }
  return here;
}

describe('JSON pointers in the editor', () => {
  it('decodes what it encodes, ~ and / included', () => {
    fc.assert(
      fc.property(fc.array(fc.string()), (tokens) => {
        expect(decodePointer(encodePointer(tokens))).toEqual(tokens);
      }),
    );
    expect(decodePointer('/a~1b/~0c/0')).toEqual(['a/b', '~c', '0']);
    expect(decodePointer('')).toEqual([]);
    expect(decodePointer('#/streams/a%20b')).toEqual(['streams', 'a b']);
  });

  it('finds where every value of a document is written', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.boolean(), (value, pretty) => {
        const text = pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value);
        const { tree, slice } = parse(text);
        for (const [path, at] of pointersOf(value)) {
          const { from, to } = rangeOfPointer(tree, slice, encodePointer(path));
          const written = slice(from, to);
          const parent =
            path.length > 0
              ? pointersOf(value).find(([p]) => JSON.stringify(p) === JSON.stringify(path.slice(0, -1)))?.[1]
              : undefined;
          // An object's member is marked with its key; anything else is the value alone.
          const shown =
            parent !== null && typeof parent === 'object' && !Array.isArray(parent)
              ? JSON.parse(`{${written}}`)
              : JSON.parse(written);
          const expected =
            parent !== null && typeof parent === 'object' && !Array.isArray(parent)
              ? { [path.at(-1) as string]: at }
              : at;
          expect(shown).toEqual(JSON.parse(JSON.stringify(expected)));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('marks as deep as the document goes when the pointer names something missing', () => {
    const text = '{\n  "streams": {\n    "a": {}\n  }\n}';
    const { tree, slice } = parse(text);
    const { from } = rangeOfPointer(tree, slice, '/streams/a/interval');
    expect(slice(from, from + 3)).toBe('"a"');
  });

  it('knows the path and the sibling keys where a key is being written', () => {
    const text = '{\n  "streams": {\n    "plant": {\n      "interval": "1s",\n      \n    }\n  }\n}';
    const { tree, slice } = parse(text);
    const place = placeAt(tree, slice, text.indexOf('\n    }') - 1);
    expect(place).toEqual({ path: ['streams', 'plant'], onKey: true, siblings: ['interval'] });
    const onValue = placeAt(tree, slice, text.indexOf('"1s"') + 1);
    expect(onValue).toMatchObject({ path: ['streams', 'plant', 'interval'], onKey: false });
  });
});

describe('the schema in the page', () => {
  it('offers the keys a stream may have, with their descriptions', () => {
    const keys = keysAt(served, ['streams', 'plant.flow']);
    expect(keys.map((k) => k.key)).toEqual(
      expect.arrayContaining(['endpoint', 'function', 'interval', 'select', 'access']),
    );
    expect(keys.find((k) => k.key === 'interval')).toMatchObject({ required: true, type: 'string' });
    expect(schemasAt(served, ['streams'])[0]?.description).toMatch(/Live channels/);
  });

  it('finds no problem in the documented example', () => {
    expect(pageProblems(served, validator, exampleConfig())).toEqual([]);
  });

  it('points at the same fields as the server, with its messages where the schema gives one', () => {
    const broken = {
      streams: { 'plant.flow': { endpoint: 3, interval: 'soon', bogus: true, select: { x: 'no-slash' } } },
      vars: { A: [1] },
      extra: 1,
    };
    const page = pageProblems(served, validator, broken);
    const server = serverProblems(broken);
    expect(page.map((p) => p.pointer).sort()).toEqual([...new Set(server.map((p) => p.pointer))].sort());
    const interval = page.find((p) => p.pointer === '/streams/plant.flow/interval');
    expect(interval?.message).toBe(server.find((p) => p.pointer === '/streams/plant.flow/interval')?.message);
    expect(page.find((p) => p.pointer === '/extra')?.message).toBe('is not a known field');
  });

  it('is never stricter than the server: a document the server takes, the page lets through', () => {
    const example = exampleConfig();
    const leaves = pointersOf(example).filter(([path]) => path.length > 0);
    fc.assert(
      fc.property(
        fc.constantFrom(...leaves),
        fc.oneof(
          fc.jsonValue({ maxDepth: 2 }),
          fc.constantFrom('5s', '/a/b', '~', '~01', 'x', 0, true, null),
        ),
        ([path], replacement) => {
          const document = structuredClone(example) as Record<string, unknown>;
          let at: Record<string, unknown> = document;
          for (const token of path.slice(0, -1)) at = at[token] as Record<string, unknown>;
          at[path.at(-1) as string] = replacement;
          const page = pageProblems(served, validator, document);
          const server = serverProblems(document);
          if (server.length === 0) expect(page).toEqual([]);
          else expect(page.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('unified diffs in the page', () => {
  it('gives back both sides of any diff, each line numbered', () => {
    const lines = fc.array(
      fc.constantFrom('{', '}', '  "a": 1,', '-- dash', '+ plus', '--- x', '+++ y', '@@ z', ' space', ''),
      {
        maxLength: 30,
      },
    );
    fc.assert(
      fc.property(lines, lines, (before, after) => {
        const oldText = before.map((l) => `${l}\n`).join('');
        const newText = after.map((l) => `${l}\n`).join('');
        const parsed = parseUnifiedDiff(
          createTwoFilesPatch('a', 'b', oldText, newText, '', '', { context: 1_000 }),
        );
        const oldSide = parsed.filter((l) => l.kind === 'same' || l.kind === 'removed');
        const newSide = parsed.filter((l) => l.kind === 'same' || l.kind === 'added');
        if (oldText === newText) {
          expect(parsed).toEqual([]);
          return;
        }
        expect(oldSide.map((l) => l.text)).toEqual(before);
        expect(newSide.map((l) => l.text)).toEqual(after);
        expect(oldSide.map((l) => l.old)).toEqual(before.map((_, i) => i + 1));
        expect(newSide.map((l) => l.new)).toEqual(after.map((_, i) => i + 1));
      }),
    );
  });
});
