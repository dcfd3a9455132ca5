import { type IpAddress, inRange, isNetworkAddress, parseAddress, specialKind } from './addresses.js';

/**
 * Where HTTP endpoints may go (`SWITCHBOARD_ENDPOINT_HOSTS`). An entry is a name (`api.example.com`), any
 * subdomain of one (`*.example.com`, not the domain itself), an address (`10.0.0.5`, `[::1]`) or a range
 * of addresses (`10.0.0.0/8`, `[fd00::]/8`), each optionally with `:port`. Without a port, an entry allows
 * ports 80 and 443 only. Nothing is allowed by default: a configuration must not be able to make the
 * server reach into its own network unless an operator said so.
 *
 * Two checks: the URL's host and port as written must match an entry (`hostAllowed`), and every address
 * its host resolves to must be an ordinary public one, or be named by an address or range entry
 * (`addressRefusal`): an allowed name that resolves to 10.0.0.5 does not make 10.0.0.5 allowed. The one
 * exception is `localhost`: an entry naming it (or `*.localhost`) allows loopback addresses for it, since
 * that name means loopback and nothing else.
 */
export interface HostPattern {
  /** Lowercase hostname, IPv6 in brackets; a leading `*.` matches subdomains; for a range, its first address. */
  host: string;
  /** For a range: how many leading bits its addresses share. */
  prefix?: number;
  /** The one port allowed; without it, 80 and 443. */
  port?: string;
}

const HOST_PATTERN = /^(\*\.)?([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(\/(\d{1,3}))?(:(\d{1,5}))?$/;

/**
 * Headers a configuration may not set. `Host` would send the request to another site than the url's on
 * the same server (a virtual host the allow-list never named); the others are about the connection
 * itself (keeping it, framing the body, switching protocols), which only the server decides. Headers an
 * upstream reads for its own purposes (`Forwarded`, `X-Forwarded-Host`) stay allowed: they do not change
 * where the request goes.
 */
export const STEERING_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'expect',
]);

/** The ports an entry without one allows: those of http and https. */
const DEFAULT_PORTS: ReadonlySet<string> = new Set(['80', '443']);

/**
 * The host as the URL parser writes it, which is what `hostAllowed` compares with; undefined when the
 * parser refuses it, or reads it as something else than written (`010.0.0.5` is 8.0.0.5, `1.2.3` is
 * 1.2.0.3): an operator's entry must mean what it says. IPv6 is only brought to its one short form.
 */
function urlHostname(host: string): string | undefined {
  let parsed: string;
  try {
    parsed = new URL(`http://${host}/`).hostname;
  } catch {
    return undefined;
  }
  return parsed === host || host.startsWith('[') ? parsed : undefined;
}

/** Parses one entry; undefined when it is not a host pattern. */
export function parseHostPattern(text: string): HostPattern | undefined {
  const match = HOST_PATTERN.exec(text.trim().toLowerCase());
  if (!match) return undefined;
  const wildcard = match[1] !== undefined;
  const written = match[2] as string;
  // A wildcard stands for names in front of a domain, never an address: `*.0.0.5` would match 10.0.0.5.
  if (wildcard && (written.startsWith('[') || urlHostname(`x.${written}`) !== `x.${written}`)) {
    return undefined;
  }
  const host = wildcard ? written : urlHostname(written);
  if (host === undefined) return undefined;
  const prefixText = match[5];
  let prefix: number | undefined;
  if (prefixText !== undefined) {
    // A range is of addresses, with no bit set past its prefix (`10.0.0.1/8` would not say what it means).
    const network = parseAddress(host);
    prefix = Number(prefixText);
    if (wildcard || String(prefix) !== prefixText || !network || !isNetworkAddress(network, prefix)) {
      return undefined;
    }
  }
  const port = match[7];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65_535)) return undefined;
  // `:080` and `:80` are one port; the URL parser writes it the short way.
  return {
    host: `${wildcard ? '*.' : ''}${host}`,
    ...(prefix === undefined ? {} : { prefix }),
    ...(port === undefined ? {} : { port: String(Number(port)) }),
  };
}

function portOf(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}

function portAllowed(pattern: HostPattern, port: string): boolean {
  return pattern.port === undefined ? DEFAULT_PORTS.has(port) : pattern.port === port;
}

/** The addresses an address or range entry holds; undefined for a name. */
function addressesOf(pattern: HostPattern): { network: IpAddress; prefix: number } | undefined {
  const network = parseAddress(pattern.host);
  if (!network) return undefined;
  return { network, prefix: pattern.prefix ?? (network.family === 4 ? 32 : 128) };
}

function hostMatches(pattern: HostPattern, host: string): boolean {
  if (pattern.prefix !== undefined) {
    const address = parseAddress(host);
    const range = addressesOf(pattern);
    return address !== undefined && range !== undefined && inRange(address, range.network, range.prefix);
  }
  if (pattern.host.startsWith('*.')) return host.endsWith(pattern.host.slice(1));
  return host === pattern.host;
}

/**
 * Whether the allow-list lets a URL go to its host and port as written: `allowed`; `port` when an entry
 * without a port names the host (so the port is what is missing); `host` otherwise.
 */
export function hostVerdict(url: URL, allowed: readonly string[]): 'allowed' | 'port' | 'host' {
  const host = url.hostname.toLowerCase();
  const port = portOf(url);
  let hostNamed = false;
  for (const entry of allowed) {
    const pattern = parseHostPattern(entry);
    if (!pattern || !hostMatches(pattern, host)) continue;
    if (portAllowed(pattern, port)) return 'allowed';
    if (pattern.port === undefined) hostNamed = true;
  }
  return hostNamed ? 'port' : 'host';
}

export function hostAllowed(url: URL, allowed: readonly string[]): boolean {
  return hostVerdict(url, allowed) === 'allowed';
}

/** What kind of address `text` is when it is not an ordinary public one; undefined for an ordinary one. */
export function specialAddressKind(text: string): string | undefined {
  const address = parseAddress(text);
  return address && specialKind(address);
}

const isLocalhost = (hostname: string) => hostname === 'localhost' || hostname.endsWith('.localhost');

/** Why a URL may not reach one address its host resolved to. */
export interface AddressRefusal {
  /** The address as the resolver gave it. */
  address: string;
  /** "a loopback address", "a private address", … */
  kind: string;
  /** The entry that would allow it, for the message. */
  entry: string;
}

/**
 * Why `url` (its host already allowed by name) may not connect to `address`, one of those its host
 * resolved to; undefined when it may.
 */
export function addressRefusal(
  url: URL,
  address: string,
  allowed: readonly string[],
): AddressRefusal | undefined {
  const parsed = parseAddress(address);
  const port = portOf(url);
  const suffix = DEFAULT_PORTS.has(port) ? '' : `:${port}`;
  if (!parsed) return { address, kind: 'not an IP address', entry: address };
  const kind = specialKind(parsed);
  if (kind === undefined) return undefined;
  if (kind === 'a loopback address' && isLocalhost(url.hostname.toLowerCase()) && hostAllowed(url, allowed)) {
    return undefined;
  }
  const named = allowed.some((entry) => {
    const pattern = parseHostPattern(entry);
    const range = pattern && portAllowed(pattern, port) ? addressesOf(pattern) : undefined;
    return range !== undefined && inRange(parsed, range.network, range.prefix);
  });
  if (named) return undefined;
  const shown =
    parsed.family === 4 ? formatIPv4(parsed.value) : `[${address.replace(/^\[|\]$/g, '').split('%')[0]}]`;
  return { address, kind, entry: `${shown}${suffix}` };
}

function formatIPv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}
