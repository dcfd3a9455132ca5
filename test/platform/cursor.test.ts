import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CursorCodec, type CursorPosition } from '../../src/platform/cursor.js';
import { AppError } from '../../src/platform/problem.js';

const key = randomBytes(32);
const position = fc.oneof(
  fc.record({ offset: fc.nat() }),
  fc.record({ after: fc.array(fc.oneof(fc.string(), fc.integer()), { minLength: 1, maxLength: 3 }) }),
) as fc.Arbitrary<CursorPosition>;

function rejects(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).status).toBe(422);
    return error as AppError;
  }
  throw new Error('expected a 422');
}

describe('signed cursors', () => {
  const codec = new CursorCodec(key);

  it('round-trip every position', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), position, (scope, pos) => {
        expect(codec.decode(codec.encode(scope, pos), scope).position).toEqual(pos);
      }),
    );
  });

  it('refuse any single-character change', () => {
    fc.assert(
      fc.property(position, fc.nat(), fc.constantFrom(...'ABCxyz019-_.'), (pos, at, char) => {
        const cursor = codec.encode('audit', pos);
        const i = at % cursor.length;
        fc.pre(cursor[i] !== char);
        rejects(() => codec.decode(cursor.slice(0, i) + char + cursor.slice(i + 1), 'audit'));
      }),
    );
  });

  it('refuse arbitrary strings with a 422, never another error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 600 }), (s) => void rejects(() => codec.decode(s, 'audit'))),
    );
  });

  it('refuse a cursor signed with another key', () => {
    const foreign = new CursorCodec(randomBytes(32)).encode('audit', { offset: 5 });
    expect(rejects(() => codec.decode(foreign, 'audit')).message).toMatch(/signature/);
  });

  it('refuse a cursor of another list', () => {
    const cursor = codec.encode('audit?type=login', { offset: 5 });
    expect(rejects(() => codec.decode(cursor, 'audit?type=logout')).message).toMatch(/another list/);
  });

  it('refuse a cursor past the end, and an expired one', () => {
    expect(
      rejects(() => codec.decodeOffset(codec.encode('audit', { offset: 11 }), 'audit', 10)).message,
    ).toMatch(/past the end/);
    expect(codec.decodeOffset(codec.encode('audit', { offset: 10 }), 'audit', 10)).toBe(10);
    let now = 0;
    const clocked = new CursorCodec(key, () => now);
    const cursor = clocked.encode('audit', { offset: 1 });
    now = 25 * 60 * 60 * 1000;
    expect(rejects(() => clocked.decode(cursor, 'audit')).message).toMatch(/expired/);
  });

  it('stay within 512 characters for ordinary keys', () => {
    expect(
      codec.encode('audit', { after: ['2026-11-22T05:30:48.123Z', 'f8f34b40-cf89-4219-a471-9011e091fbaf'] })
        .length,
    ).toBeLessThanOrEqual(512);
  });
});
