/** Where the page is served; every file of the build is under it. */
export const PREFIX = '/config-ui/';

/** Longer than any path of a build; past it a request is refused before it is decoded. */
const MAX_PATH_CHARS = 1024;

/**
 * The path in the build that a request URL names, or undefined when it names none: the URL as sent (the
 * router's decoded form would turn `%2f` into a slash), its query left off, each segment decoded once. A
 * segment that is empty, `.` or `..`, or holds a slash, backslash or NUL once decoded, names nothing.
 * The result is only ever a key of the in-memory table (load.ts), never a path on disk; these refusals
 * say so early rather than guard anything. `prefix` is where a page is served (the demo's is /demo/).
 */
export function pagePath(url: string, prefix = PREFIX): string | undefined {
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  // The router also matches a prefix sent percent-encoded; only the plain one is the page's.
  if (!path.startsWith(prefix)) return undefined;
  const rest = path.slice(prefix.length);
  if (rest === '') return 'index.html';
  if (rest.length > MAX_PATH_CHARS) return undefined;
  const segments: string[] = [];
  for (const raw of rest.split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (segment === '' || segment === '.' || segment === '..' || /[/\\\0]/.test(segment)) return undefined;
    segments.push(segment);
  }
  return segments.join('/');
}

/**
 * Where `GET /config-ui` sends the browser: the page's own URL, with the query it came with. Bytes a
 * header may not carry are percent-encoded, so no query can make the redirect fail.
 */
export function pageLocation(url: string): string {
  const query = url.indexOf('?');
  if (query === -1) return PREFIX;
  const kept = url
    .slice(query)
    .replace(/[^\x21-\x7e]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return `${PREFIX}${kept}`;
}
