import { isIP } from 'node:net';

/** Whether `host` (a URL's hostname) is this machine: where plain HTTP is allowed, for local tests. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}

/** Whether a URL may be fetched from an identity provider or a registry: https, or http on a loopback address. */
export function isSecureUrl(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname));
}

/**
 * An `https` URL (or `http` on a loopback address) as a setting names one: without credentials, query or
 * fragment, and without its trailing slash; undefined for anything else.
 */
export function parseSecureUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return undefined;
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') return undefined;
  return isSecureUrl(url) ? url.origin + url.pathname.replace(/\/$/, '') : undefined;
}
