import { parseTrustedProxies } from './client-ip.js';
import { formatDuration } from './duration.js';
import {
  atLeast,
  boolean,
  commaList,
  defineSection,
  duration,
  httpUrl,
  integer,
  oneOf,
  parseHttpUrl,
  type SectionSettings,
  SettingsError,
  text,
} from './settings-spec.js';

/** The HTTP server: where it listens, how it is reached, what it accepts from a client, how it stops. */
export const serverSettings = defineSection(
  {
    host: {
      env: 'HOST',
      file: 'host',
      default: '0.0.0.0',
      ...text('an interface address'),
      doc: 'Address to listen on.',
    },
    port: {
      env: 'PORT',
      file: 'port',
      default: '8080',
      ...integer(0, 65535),
      doc: 'TCP port to listen on.',
    },
    publicUrl: {
      env: 'SWITCHBOARD_PUBLIC_URL',
      file: 'public_url',
      ...httpUrl,
      doc: 'URL users reach Switchboard at; its origin is allowed for cookie-authenticated writes. Unset: `http://localhost:<port>`.',
    },
    trustedProxies: {
      env: 'SWITCHBOARD_TRUSTED_PROXIES',
      file: 'trusted_proxies',
      default: '',
      accepts: 'a comma-separated list of IP addresses and CIDR blocks (10.0.0.0/8, fd00::/8)',
      parse: parseTrustedProxies,
      doc: 'Reverse proxies whose X-Forwarded-For is believed: the client address is then the rightmost hop that is not one of them. Empty: the socket peer is the client.',
    },
    corsOrigins: {
      env: 'SWITCHBOARD_CORS_ORIGINS',
      file: 'cors_origins',
      default: '',
      accepts: 'a comma-separated list of origins (https://host[:port]) or *',
      parse: commaList(
        (origin) =>
          origin === '*' || (parseHttpUrl(origin) !== undefined && new URL(origin).origin === origin),
      ),
      doc: 'Origins allowed to call the API from a browser. Empty: CORS off.',
    },
    corsCredentials: {
      env: 'SWITCHBOARD_CORS_CREDENTIALS',
      file: 'cors_credentials',
      default: 'true',
      ...boolean,
      doc: 'Allow cookies on cross-origin requests. Refused together with a `*` origin.',
    },
    logLevel: {
      env: 'SWITCHBOARD_LOG_LEVEL',
      file: 'log_level',
      default: 'info',
      ...oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
      doc: 'Log level (JSON logs on standard output).',
    },
    metricsToken: {
      env: 'SWITCHBOARD_METRICS_TOKEN',
      file: 'metrics_token',
      ...atLeast(16),
      doc: 'Bearer token for `GET /metrics`. Unset: /metrics is off (404).',
      secret: true,
    },
    bodyLimitBytes: {
      env: 'SWITCHBOARD_BODY_LIMIT_BYTES',
      file: 'body_limit_bytes',
      default: '1048576',
      ...integer(1024, 104_857_600),
      doc: 'Largest request body accepted; larger is a 413.',
    },
    maxHeaderBytes: {
      env: 'SWITCHBOARD_MAX_HEADER_BYTES',
      file: 'max_header_bytes',
      default: '16384',
      ...integer(1024, 1_048_576),
      doc: 'Largest request line plus headers; larger is a 431.',
    },
    maxHeaders: {
      env: 'SWITCHBOARD_MAX_HEADERS',
      file: 'max_headers',
      default: '100',
      ...integer(10, 2000),
      doc: 'Most header fields in one request; more is a 431.',
    },
    headersTimeoutMs: {
      env: 'SWITCHBOARD_HEADERS_TIMEOUT',
      file: 'headers_timeout',
      default: '10s',
      ...duration('1s', '5m'),
      doc: 'Time a client has to send all request headers; a slower one is answered 408 and disconnected.',
    },
    requestTimeoutMs: {
      env: 'SWITCHBOARD_REQUEST_TIMEOUT',
      file: 'request_timeout',
      default: '60s',
      ...duration('1s', '1h'),
      doc: 'Time a client has to send a whole request, body included (not the time to answer it).',
    },
    keepAliveTimeoutMs: {
      env: 'SWITCHBOARD_KEEP_ALIVE_TIMEOUT',
      file: 'keep_alive_timeout',
      default: '72s',
      ...duration('1s', '10m'),
      doc: "How long an idle keep-alive connection stays open; keep it above your load balancer's idle timeout.",
    },
    shutdownGraceMs: {
      env: 'SWITCHBOARD_SHUTDOWN_GRACE_MS',
      file: 'shutdown_grace_ms',
      default: '10000',
      ...integer(0, 600_000),
      doc: 'On SIGTERM/SIGINT, how long in-flight requests may take before connections are cut.',
    },
    readinessTimeoutMs: {
      env: 'SWITCHBOARD_READINESS_TIMEOUT_MS',
      file: 'readiness_timeout_ms',
      default: '2000',
      ...integer(50, 60_000),
      doc: 'Time limit of the database ping behind `GET /readyz`.',
    },
  },
  (values) => {
    if (values.corsOrigins.includes('*') && values.corsCredentials) {
      throw new SettingsError(
        'Invalid setting SWITCHBOARD_CORS_ORIGINS=*: a wildcard origin cannot be combined with SWITCHBOARD_CORS_CREDENTIALS=true; list the origins or set SWITCHBOARD_CORS_CREDENTIALS=false',
      );
    }
    if (values.headersTimeoutMs > values.requestTimeoutMs) {
      throw new SettingsError(
        `Invalid setting SWITCHBOARD_HEADERS_TIMEOUT=${formatDuration(values.headersTimeoutMs)}: it must not exceed SWITCHBOARD_REQUEST_TIMEOUT (${formatDuration(values.requestTimeoutMs)})`,
      );
    }
    const publicUrl = values.publicUrl ?? `http://localhost:${values.port}`;
    return {
      ...values,
      publicUrl,
      /** Cookies carry Secure unless the public URL is plain HTTP on a host other than localhost. */
      cookieSecure: !isPlainHttpOnNetwork(publicUrl),
    };
  },
);

export type ServerSettings = SectionSettings<typeof serverSettings>;

/** Browsers treat localhost as a secure context, so only plain HTTP to another host needs cookies without Secure. */
export function isPlainHttpOnNetwork(publicUrl: string): boolean {
  const url = new URL(publicUrl);
  return url.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}
