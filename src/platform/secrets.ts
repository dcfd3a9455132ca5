import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time equality of two secrets: hashing first gives equal lengths, so timing says nothing. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
