import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time equality of two secrets: hashing first gives equal lengths, so timing says nothing. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/**
 * Constant-time equality of two values whose length is no secret (a MAC or digest of a fixed size): a
 * length that differs is a plain false, and no hashing is needed to hide it.
 */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
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
