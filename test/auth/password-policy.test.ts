import { dictionary } from '@zxcvbn-ts/language-common';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, passwordProblem } from '../../src/auth/password-policy.js';

const TOO_SHORT = `must be at least ${PASSWORD_MIN_LENGTH} characters long`;
const TOO_LONG = `must be at most ${PASSWORD_MAX_LENGTH} characters long`;
const COMMON = /most common passwords/;
const HAS_USERNAME = 'must not contain the username';

const common = dictionary['passwords-common'] as string[];
const digit = fc.constantFrom(...'0123456789');
const username = fc.stringMatching(/^[a-z][a-z0-9]{2,9}$/);

/**
 * One code point per entry. CJK first and emoji last: fast-check favours the ends of the list, and neither
 * can start a listed password (the list is ASCII). No character whose lower case is ASCII (no Kelvin sign).
 */
const WIDE_ALPHABET = [
  ...'龍猫山海星花雨雪風月日本語中文字',
  ...'éèêëàâäîïôöùûüçñøåæœßÉÀÖÜŁŠŽ',
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
  ...'0123456789',
  ...' !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
  ...'ΩЖжДшλπσ€£¥©®°±§¶',
  ...'🐉🐈🌊🌸⭐⛰🚀🔥🎉🍀',
];

describe('passwordProblem: length counts code points', () => {
  it('refuses anything shorter than 12 code points for its length', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: PASSWORD_MIN_LENGTH - 1 }), username, (pw, user) => {
        expect([...pw].length).toBeLessThan(PASSWORD_MIN_LENGTH);
        expect(passwordProblem(pw)).toBe(TOO_SHORT);
        expect(passwordProblem(pw, user)).toBe(TOO_SHORT);
      }),
    );
  });

  it('refuses anything longer than 128 code points for its length', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: PASSWORD_MAX_LENGTH + 1, maxLength: 400 }), (pw) => {
        expect(passwordProblem(pw)).toBe(TOO_LONG);
      }),
    );
  });

  it('never refuses 12 to 128 code points for their length, however many UTF-16 units they take', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH }),
        (pw) => {
          expect([TOO_SHORT, TOO_LONG]).not.toContain(passwordProblem(pw));
        },
      ),
    );
    const astral = '🐉'.repeat(PASSWORD_MIN_LENGTH);
    expect(astral.length).toBe(2 * PASSWORD_MIN_LENGTH);
    expect(passwordProblem(astral.slice(0, -2))).toBe(TOO_SHORT);
    expect(passwordProblem(`${astral.slice(0, -2)}🐈`)).toBeUndefined();
  });
});

describe('passwordProblem: common passwords', () => {
  /** The entry followed by digits, repeated until it is long enough for the length rule to pass. */
  function padded(entry: string, digits: string): string {
    let pw = entry + digits;
    while ([...pw].length < PASSWORD_MIN_LENGTH) pw += digits;
    return pw;
  }

  it('refuses every entry of the list padded with digits', () => {
    const accepted = common
      .flatMap((entry) => ['1', '2024', '000000000000'].map((digits) => padded(entry, digits)))
      .filter((pw) => !COMMON.test(passwordProblem(pw) ?? ''));
    expect(accepted).toEqual([]);
  });

  it('refuses a listed password padded with any digits, in any letter case', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: common.length - 1 }),
        fc.string({ unit: digit, minLength: 1, maxLength: 30 }),
        fc.boolean(),
        (index, digits, upper) => {
          const entry = common[index]!;
          const pw = padded(upper ? entry.toUpperCase() : entry, digits);
          expect(passwordProblem(pw)).toMatch(COMMON);
        },
      ),
    );
  });
});

describe('passwordProblem: random passwords', () => {
  const twenty = fc
    .string({ unit: fc.constantFrom(...WIDE_ALPHABET), minLength: 20, maxLength: 20 })
    .map((s) => [...s]);

  it('accepts random 20-character strings from a wide alphabet unless they contain the username', () => {
    fc.assert(
      fc.property(twenty, username, fc.option(fc.nat(10)), (chars, user, insertAt) => {
        if (insertAt !== null) chars.splice(insertAt, user.length, ...user);
        const pw = chars.join('');
        expect([...pw].length).toBe(20);
        // A single character twenty times is refused on its own account; that is not what this is about.
        fc.pre(new Set(chars).size > 1);
        expect(passwordProblem(pw)).toBeUndefined();
        const containsUser = pw.toLowerCase().includes(user);
        if (insertAt !== null) expect(containsUser).toBe(true);
        expect(passwordProblem(pw, user)).toBe(containsUser ? HAS_USERNAME : undefined);
        expect(passwordProblem(pw, user.toUpperCase())).toBe(containsUser ? HAS_USERNAME : undefined);
      }),
      { numRuns: 300 },
    );
  });
});
