/** `Bearer <token>` (RFC 6750: scheme case-insensitive, the token one run of non-space characters). */
const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

/** The token of an `Authorization: Bearer` header, or undefined when the header holds none. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return authorization ? BEARER.exec(authorization)?.[1] : undefined;
}
