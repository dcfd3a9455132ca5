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
  const stem = lower.replace(/[\d\W_]+$/u, '');
  if (list.has(lower) || (stem.length >= 4 && list.has(stem))) {
    return 'is one of the most common passwords; choose one that is not';
  }
  if (new Set(password).size === 1) return 'repeats a single character; choose a less guessable one';
  if (username && username.length >= 3 && lower.includes(username.toLowerCase())) {
    return 'must not contain the username';
  }
  return undefined;
}
