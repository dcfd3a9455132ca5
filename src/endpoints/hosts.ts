/**
 * The hosts HTTP endpoints may reach (`SWITCHBOARD_ENDPOINT_HOSTS`): `api.example.com`, `*.example.com`
 * (any subdomain, not the domain itself), `10.0.0.5`, `[::1]`, each optionally with `:port`. Without a
 * port any port of that host is allowed. Nothing is allowed by default: a configuration must not be able
 * to make the server reach into its own network unless an operator said so.
 */
export interface HostPattern {
  /** Lowercase hostname, IPv6 in brackets; a leading `*.` matches subdomains. */
  host: string;
  port?: string;
}

const HOST_PATTERN = /^(\*\.)?([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:(\d{1,5}))?$/;

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
  const port = match[5];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65_535)) return undefined;
  // `:080` and `:80` are one port; the URL parser writes it the short way.
  return {
    host: `${wildcard ? '*.' : ''}${host}`,
    ...(port === undefined ? {} : { port: String(Number(port)) }),
  };
}

function defaultPort(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}

export function hostAllowed(url: URL, allowed: readonly string[]): boolean {
  const host = url.hostname.toLowerCase();
  return allowed.some((entry) => {
    const pattern = parseHostPattern(entry);
    if (!pattern) return false;
    if (pattern.port !== undefined && pattern.port !== defaultPort(url)) return false;
    if (pattern.host.startsWith('*.')) return host.endsWith(pattern.host.slice(1));
    return host === pattern.host;
  });
}
