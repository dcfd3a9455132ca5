/**
 * Whether an `If-None-Match` header matches `etag` (RFC 9110, 13.1.2): `*`, or a list of entity tags
 * compared weakly, so that `W/"x"` (as a proxy that compresses writes it) matches `"x"`. True means the
 * client's copy is current: a GET answers 304.
 */
export function noneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const value = header.trim();
  if (value === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return value.split(',').some((tag) => tag.trim().replace(/^W\//, '') === opaque);
}
