/**
 * The Config UI's Content-Security-Policy: the page runs only its own same-origin scripts and styles (Vite
 * writes them as files, never inline), talks only to this origin's API, and can be framed by nobody. No
 * 'unsafe-inline', 'unsafe-eval' nor nonce: a script injected into the page cannot run. The browser suite
 * and docs/api.md refer to this constant.
 */
export const CONFIG_UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/**
 * Set on every file of the page, HTML and assets alike. They replace the API's strict defaults (its
 * `default-src 'none'` would stop the page's own scripts), which the server's response class adds only
 * where a route set none (src/platform/answer-headers.ts); the page-only ones (referrer, opener) are set
 * here for scripts and styles too, which that class leaves without them.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': CONFIG_UI_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});

/** index.html names the current hashed files: a browser must fetch it anew each time. */
export const NO_STORE = 'no-store';
/** A hashed name changes with its content, so its bytes can be kept for good, by any cache. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Unhashed files (the favicon) may be kept, but are asked about again (ETag) before each use. */
export const REVALIDATE = 'no-cache';

/** Vite's hashed names under assets/: `<name>-<8 or more of [A-Za-z0-9_-]>.<ext>`. */
const HASHED_ASSET = /^assets\/(?:[^/]+\/)*[^/]+-[A-Za-z0-9_-]{8,}\.[A-Za-z0-9]+$/;

/**
 * How long a file of the page may be cached, by its path in the build. Only a hashed name is immutable:
 * an unhashed file under assets/ (a build configured otherwise) would stay stale for a year.
 */
export function cachePolicyOf(path: string): string {
  if (path === 'index.html') return NO_STORE;
  return HASHED_ASSET.test(path) ? IMMUTABLE : REVALIDATE;
}
