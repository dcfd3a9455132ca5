interface StoredCookie {
  name: string;
  value: string;
  path: string;
  secure: boolean;
  /** Milliseconds since the epoch; null for a cookie that lasts as long as the jar. */
  expires: number | null;
}

/**
 * The cookies of one server, for clients without a browser's jar (Node): what `Set-Cookie` stored, sent back
 * on the paths they were set for. `Secure` cookies travel over https only, except to a loopback host, which
 * browsers also treat as secure.
 */
export class CookieJar {
  private readonly cookies = new Map<string, StoredCookie>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Reads the `Set-Cookie` headers of an answer from `url`. */
  store(headers: Headers, url: URL): void {
    const lines =
      typeof headers.getSetCookie === 'function'
        ? headers.getSetCookie()
        : (headers.get('set-cookie')?.split(/,(?=\s*[^;=\s]+=)/) ?? []);
    for (const line of lines) this.storeOne(line, url);
  }

  private storeOne(line: string, url: URL): void {
    const [pair = '', ...attributes] = line.split(';');
    const equals = pair.indexOf('=');
    if (equals <= 0) return;
    const cookie: StoredCookie = {
      name: pair.slice(0, equals).trim(),
      value: pair.slice(equals + 1).trim(),
      path: '/',
      secure: false,
      expires: null,
    };
    let defaultPath = url.pathname.slice(0, url.pathname.lastIndexOf('/')) || '/';
    for (const attribute of attributes) {
      const [rawName = '', ...rest] = attribute.split('=');
      const name = rawName.trim().toLowerCase();
      const value = rest.join('=').trim();
      if (name === 'path' && value.startsWith('/')) defaultPath = value;
      else if (name === 'secure') cookie.secure = true;
      else if (name === 'max-age' && /^-?\d+$/.test(value))
        cookie.expires = this.now() + Number(value) * 1000;
      else if (name === 'expires' && cookie.expires === null) {
        const at = Date.parse(value);
        if (!Number.isNaN(at)) cookie.expires = at;
      }
    }
    cookie.path = defaultPath;
    const key = `${cookie.name};${cookie.path}`;
    if (cookie.expires !== null && cookie.expires <= this.now()) this.cookies.delete(key);
    else this.cookies.set(key, cookie);
  }

  /** The `Cookie` header for a request to `url`, or null when no cookie applies. */
  header(url: URL): string | null {
    const secureChannel =
      url.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
    const matching = [...this.cookies.values()]
      .filter(
        (c) =>
          (c.expires === null || c.expires > this.now()) &&
          (!c.secure || secureChannel) &&
          (url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)),
      )
      // Longer paths first, as browsers send them.
      .sort((a, b) => b.path.length - a.path.length);
    return matching.length === 0 ? null : matching.map((c) => `${c.name}=${c.value}`).join('; ');
  }

  /** The value of the cookie `name` (any path), if the jar holds one. */
  get(name: string): string | null {
    for (const cookie of this.cookies.values()) {
      if (cookie.name === name && (cookie.expires === null || cookie.expires > this.now()))
        return cookie.value;
    }
    return null;
  }

  clear(): void {
    this.cookies.clear();
  }
}
