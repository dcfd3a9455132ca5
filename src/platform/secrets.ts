import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time equality of two secrets: hashing first gives equal lengths, so timing says nothing. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/**
 * Constant-time equality of two values whose length is no secret (a MAC or digest of a fixed size): a
 * length that differs is a plain false, and no hashing is needed to hide it. Every character is compared
 * whatever the first difference, on the strings themselves: copying both into buffers for timingSafeEqual
 * cost more than the comparison on a path every authenticated request takes.
 */
export function sameDigest(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

/**
 * A connection URL fit for a log line: the password (in the user part, or a `password` parameter as
 * libpq takes it) replaced by ****. Text that is not a URL is shown as its scheme alone, if any.
 */
export function withoutPassword(connection: string): string {
  let url: URL;
  try {
    url = new URL(connection);
  } catch {
    return /^[a-z][a-z0-9+.-]*:/i.exec(connection)?.[0] ?? '(not a URL)';
  }
  if (url.password) url.password = '****';
  if (url.searchParams.has('password')) url.searchParams.set('password', '****');
  return url.toString();
}
