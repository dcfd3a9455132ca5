import { applyPatch, createTwoFilesPatch, parsePatch } from 'diff';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/endpoints/canonical.js';
import { MAX_EDIT_LENGTH, unifiedDiff, unifiedDiffOffThread } from '../../src/endpoints/diff.js';

/** Documents shaped like configurations, so that two of them often share most of their lines. */
const document = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(
    fc.constantFrom('vars', 'endpoints', 'streams', 'description'),
    fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  ),
);

/** A document and a copy with a few of its members changed, added or removed. */
const editedPair = fc
  .tuple(
    fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 12 }),
    fc.dictionary(fc.string({ maxLength: 4 }), fc.option(fc.jsonValue({ maxDepth: 1 })), { maxKeys: 4 }),
  )
  .map(([before, edits]) => {
    const after: Record<string, unknown> = { ...before };
    for (const [key, value] of Object.entries(edits)) {
      if (value === null) delete after[key];
      else after[key] = value;
    }
    return [before, after] as const;
  });

const applies = (before: unknown, after: unknown, patch: string) =>
  applyPatch(canonicalJson(before), patch) === canonicalJson(after);

describe('unifiedDiff', () => {
  it('gives a patch that turns the first document into the second', () => {
    fc.assert(
      fc.property(document, document, (a, b) => {
        const patch = unifiedDiff({ label: 'version 1.0.0', document: a }, { label: 'draft', document: b });
        if (canonicalJson(a) === canonicalJson(b)) expect(patch).toBe('');
        else expect(applies(a, b, patch)).toBe(true);
      }),
    );
    fc.assert(
      fc.property(editedPair, ([a, b]) => {
        const patch = unifiedDiff({ label: 'a', document: a }, { label: 'b', document: b });
        expect(patch === '' || applies(a, b, patch)).toBe(true);
      }),
    );
  });

  it('gives nothing for documents that differ only in key order or undefined members', () => {
    fc.assert(
      fc.property(document, (doc) => {
        expect(unifiedDiff({ label: 'a', document: doc }, { label: 'b', document: doc })).toBe('');
      }),
    );
    expect(
      unifiedDiff(
        { label: 'a', document: { x: 1, y: [1, 2] } },
        { label: 'b', document: { y: [1, 2], x: 1, z: undefined } },
      ),
    ).toBe('');
  });

  it('diffs from /dev/null when there is no earlier version', () => {
    fc.assert(
      fc.property(document, (doc) => {
        const patch = unifiedDiff(undefined, { label: 'version 1.0.0', document: doc });
        expect(patch).toMatch(/^--- \/dev\/null/m);
        expect(patch).toMatch(/^\+\+\+ version 1\.0\.0/m);
        expect(applyPatch('', patch)).toBe(canonicalJson(doc));
      }),
    );
  });

  it('names both sides in the --- and +++ lines and shows only what changed, with context', () => {
    const before = {
      streams: { 'plant.pumps': { endpoint: 'pumps', interval: '5s' } },
      vars: { a: 1, b: 2 },
    };
    const after = {
      streams: { 'plant.pumps': { endpoint: 'pumps', interval: '10s' } },
      vars: { a: 1, b: 2 },
    };
    const patch = unifiedDiff(
      { label: 'version 1.0.0', document: before },
      { label: 'version 1.0.1', document: after },
    );
    const [file] = parsePatch(patch);
    expect(file?.oldFileName).toBe('version 1.0.0');
    expect(file?.newFileName).toBe('version 1.0.1');
    expect(patch).toMatch(/^--- version 1\.0\.0/m);
    expect(patch).toMatch(/^\+\+\+ version 1\.0\.1/m);
    const changed = patch.split('\n').filter((line) => /^[-+][^-+]/.test(line));
    expect(changed).toEqual(['-      "interval": "5s"', '+      "interval": "10s"']);
    expect(patch).toContain(' "endpoint": "pumps",');
  });

  it('falls back to replacing the whole text past the edit limit, and that patch applies', () => {
    // Every line differs, so jsdiff needs more edits than it may make.
    const size = MAX_EDIT_LENGTH / 2 + 50;
    const before = Array.from({ length: size }, (_, i) => `old line ${i}`);
    const after = Array.from({ length: size + 7 }, (_, i) => `new line ${i}`);
    const patch = unifiedDiff(
      { label: 'version 1.0.0', document: before },
      { label: 'version 2.0.0', document: after },
    );
    // jsdiff would keep the common "[" and "]" lines as context; the fallback replaces them too.
    expect(patch).toContain('\n-[\n');
    expect(patch).toContain('\n+[\n');
    expect(patch).toContain(`@@ -1,${size + 2} +1,${size + 9} @@`);
    expect(patch).toMatch(/^--- version 1\.0\.0$/m);
    expect(patch).toMatch(/^\+\+\+ version 2\.0\.0$/m);
    expect(applies(before, after, patch)).toBe(true);
    expect(parsePatch(patch)).toHaveLength(1);
  });

  it('gives what jsdiff gives when the line counts alone are near or past the edit limit', () => {
    const before = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]));
    for (const added of [MAX_EDIT_LENGTH - 2, MAX_EDIT_LENGTH, MAX_EDIT_LENGTH + 1, MAX_EDIT_LENGTH + 3]) {
      const after = {
        ...before,
        ...Object.fromEntries(Array.from({ length: added }, (_, i) => [`n${i}`, i])),
      };
      const patch = unifiedDiff({ label: 'a', document: before }, { label: 'b', document: after });
      const own = createTwoFilesPatch(
        'a',
        'b',
        canonicalJson(before),
        canonicalJson(after),
        undefined,
        undefined,
        {
          context: 3,
          maxEditLength: MAX_EDIT_LENGTH,
        },
      );
      // jsdiff's patch when it found one; otherwise the whole text replaced, one hunk from line 1.
      if (own !== undefined) expect(patch).toBe(own);
      else expect(patch).toContain(`@@ -1,52 +1,${52 + added} @@`);
      expect(applies(before, after, patch)).toBe(true);
    }
  });

  it('falls back from /dev/null too when a first document is that large', () => {
    const after = Object.fromEntries(Array.from({ length: MAX_EDIT_LENGTH + 10 }, (_, i) => [`k${i}`, i]));
    const patch = unifiedDiff(undefined, { label: 'version 1.0.0', document: after });
    expect(patch).toMatch(/^--- \/dev\/null/m);
    expect(applyPatch('', patch)).toBe(canonicalJson(after));
  });

  it('stays small for a small change in a large document', () => {
    const before = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`key${i}`, { value: i }]));
    const after = { ...before, key2500: { value: 'changed' } };
    const patch = unifiedDiff({ label: 'a', document: before }, { label: 'b', document: after });
    expect(patch.split('\n').filter((line) => /^[-+][^-+]/.test(line))).toEqual([
      '-    "value": 2500',
      '+    "value": "changed"',
    ]);
    expect(applies(before, after, patch)).toBe(true);
  });
});

describe('unifiedDiffOffThread', () => {
  it('gives the same diff as the in-process one, fallback included', async () => {
    await fc.assert(
      fc.asyncProperty(editedPair, async ([a, b]) => {
        const before = { label: 'version 1.0.0', document: a };
        const after = { label: 'draft', document: b };
        expect(await unifiedDiffOffThread(before, after)).toBe(unifiedDiff(before, after));
      }),
      { numRuns: 50 },
    );
    const many = Array.from({ length: MAX_EDIT_LENGTH }, (_, i) => `line ${i}`);
    const others = many.map((line) => `${line}!`);
    const sides = [
      { label: 'a', document: many },
      { label: 'b', document: others },
    ] as const;
    expect(await unifiedDiffOffThread(...sides)).toBe(unifiedDiff(...sides));
  });

  it('leaves the event loop free while it compares', async () => {
    // Thousands of scattered changes keep jsdiff busy for a while: timers must keep firing meanwhile.
    const before = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i]));
    const after = Object.fromEntries(Object.entries(before).map(([k, v]) => [k, v % 25 === 0 ? -v : v]));
    let ticks = 0;
    const timer = setInterval(() => {
      ticks += 1;
    }, 1);
    const started = ticks;
    try {
      const patch = await unifiedDiffOffThread(
        { label: 'a', document: before },
        { label: 'b', document: after },
      );
      expect(applies(before, after, patch)).toBe(true);
    } finally {
      clearInterval(timer);
    }
    expect(ticks - started).toBeGreaterThan(0);
  });
});
