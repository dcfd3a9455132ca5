import { request } from 'undici';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON; tests inspect it field by field. */
  body: any;
  /** Set-Cookie headers of this response, by cookie name. */
  setCookies: Map<string, SetCookie>;
}

/** The error code of a failure envelope, if the reply is one. */
export const errorCode = (res: Reply): number | undefined => res.body?.error_detail?.error_code;

export interface SetCookie {
  name: string;
  value: string;
  attributes: Record<string, string | true>;
  raw: string;
}

export function parseSetCookie(raw: string): SetCookie {
  const [pair = '', ...parts] = raw.split(';');
  const eq = pair.indexOf('=');
  const attributes: Record<string, string | true> = {};
  for (const part of parts) {
    const [key = '', ...rest] = part.trim().split('=');
    attributes[key.toLowerCase()] = rest.length ? rest.join('=') : true;
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes, raw };
}

export interface CallOptions {
  method?: string;
  json?: unknown;
  form?: Record<string, string>;
  body?: string;
  headers?: Record<string, string>;
  bearer?: string;
  /** Send X-CSRF-Token from the jar and Origin of the app (default true for cookie clients' writes). */
  csrf?: boolean;
}

/**
 * An HTTP client with a cookie jar that honours Path and Max-Age like a browser does (not Secure: tests
 * speak plain HTTP to loopback), so cookie scoping is tested for real.
 */
export class Client {
  readonly jar = new Map<string, { value: string; path: string }>();

  constructor(
    readonly baseUrl: string,
    readonly origin: string,
  ) {}

  cookie(name: string): string | undefined {
    return this.jar.get(name)?.value;
  }

  setCookie(name: string, value: string, path = '/'): void {
    this.jar.set(name, { value, path });
  }

  async call(path: string, options: CallOptions = {}): Promise<Reply> {
    const method = options.method ?? (options.json !== undefined || options.form ? 'POST' : 'GET');
    const headers: Record<string, string> = { ...options.headers };
    const pathname = path.split('?')[0] ?? '/';
    const cookies = [...this.jar]
      .filter(
        ([, c]) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`),
      )
      .map(([name, c]) => `${name}=${c.value}`);
    if (cookies.length > 0) headers.cookie = cookies.join('; ');
    if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
    const writes = !['GET', 'HEAD', 'OPTIONS'].includes(method);
    if (writes && (options.csrf ?? true) && this.cookie('csrf_token')) {
      headers['x-csrf-token'] ??= this.cookie('csrf_token') ?? '';
      headers.origin ??= this.origin;
    }
    let body = options.body;
    if (options.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.form) {
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    }
    const res = await request(`${this.baseUrl}${path}`, { method: method as 'GET', headers, body });
    const text = await res.body.text();
    const setCookies = new Map<string, SetCookie>();
    const raw = res.headers['set-cookie'];
    for (const line of Array.isArray(raw) ? raw : raw ? [raw] : []) {
      const cookie = parseSetCookie(line);
      setCookies.set(cookie.name, cookie);
      const maxAge = cookie.attributes['max-age'];
      const cookiePath = typeof cookie.attributes.path === 'string' ? cookie.attributes.path : '/';
      if (maxAge === '0' || cookie.value === '') this.jar.delete(cookie.name);
      else this.jar.set(cookie.name, { value: cookie.value, path: cookiePath });
    }
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: res.statusCode, headers: res.headers, body: parsed, setCookies };
  }
}
