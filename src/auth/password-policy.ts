import { dictionary } from '@zxcvbn-ts/language-common';

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 128;

let common: Set<string> | undefined;
/** The 49,233 most common passwords of zxcvbn-ts's list, loaded on first use. */
function commonPasswords(): Set<string> {
  common ??= new Set((dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase()));
  return common;
}

/**
 * Why a password is refused, in words a person can act on; undefined when it is acceptable. Length counts
 * characters, not bytes. Besides the list itself, a listed password padded with digits or symbols
 * ("monkey1234567") and a single repeated character are refused.
 */
export function passwordProblem(password: string, username?: string): string | undefined {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return `must be at least ${PASSWORD_MIN_LENGTH} characters long`;
  if (length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters long`;
  const lower = password.toLowerCase();
  const list = commonPasswords();
  // A listed password followed by nothing but digits or symbols: "monkey1234567", but also "abc123" or
  // "123456" padded so ("abc1234567890", "123456000000"), whose padding starts inside the listed word.
  // The lookbehind starts the match only where a run begins, which keeps it linear in the length.
  const stem = lower.replace(/(?<![\d\W_])[\d\W_]+$/u, '');
  for (let end = lower.length; end >= stem.length; end--) {
    if (list.has(lower.slice(0, end))) return 'is one of the most common passwords; choose one that is not';
  }
  if (new Set(password).size === 1) return 'repeats a single character; choose a less guessable one';
  if (username && username.length >= 3 && lower.includes(username.toLowerCase())) {
    return 'must not contain the username';
  }
  return undefined;
}
