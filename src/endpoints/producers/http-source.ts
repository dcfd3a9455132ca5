import { lookup } from 'node:dns/promises';
import { STATUS_CODES } from 'node:http';
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Dispatcher, request } from 'undici';
import { formatDuration } from '../../platform/duration.js';
import { VERSION } from '../../version.js';
import { type AddressRefusal, addressRefusal, hostAllowed, STEERING_HEADERS } from '../hosts.js';
import { secretMasker } from '../scrub.js';
import { retryDelay } from './backoff.js';
import { PinnedAgent, type ResolvedAddress } from './pinned-agent.js';

/**
 * One poll of an HTTP endpoint for a stream's producer. Error messages name the endpoint and at most the
 * host: the URL's query string, header values and body are never in them, as they may carry secrets; when
 * the url itself is built from a secret, they name the url as written instead of the host.
 */

export interface ResolvedEndpoint {
  /** The endpoint's name in the configuration, used in messages. */
  name: string;
  url: string;
  /** The url as the configuration writes it (`https://${api_host}/v1`), set when it is built from a secret. */
  urlAsWritten?: string;
  /** The values of the secret variables this endpoint uses: never in a message, whatever goes wrong. */
  secrets?: readonly string[];
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers: Record<string, string>;
  query: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
  retries: number;
}

export class UpstreamError extends Error {
  /** The HTTP status the upstream answered with; undefined when there was no answer. */
  readonly status: number | undefined;
  /** True when the last attempt ran out of time. */
  readonly timedOut: boolean;

  constructor(message: string, details: { status?: number; timedOut?: boolean } = {}) {
    super(message);
    this.name = 'UpstreamError';
    this.status = details.status;
    this.timedOut = details.timedOut ?? false;
  }
}

/** What a host name resolves to; the system's resolver (as the rest of the process uses) by default. */
export type HostResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export interface FetchEndpointOptions {
  allowedHosts: readonly string[];
  signal?: AbortSignal;
  /** Largest body read; default 8 MiB. */
  maxBytes?: number;
  resolve?: HostResolver;
}

const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;

const systemResolver: HostResolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

const upstreamAgent = new PinnedAgent();

/** Why one attempt failed, without the endpoint's name or the attempt count (added once, at the end). */
interface Failure {
  problem: string;
  advice?: string;
  status?: number;
  timedOut?: boolean;
  retry: boolean;
}

type Outcome = { ok: true; value: unknown } | { ok: false; failure: Failure };

/** One poll: up to 1 + retries attempts; resolves with the parsed body (JSON when the response says JSON, else text). */
export async function fetchEndpoint(
  endpoint: ResolvedEndpoint,
  options: FetchEndpointOptions,
): Promise<unknown> {
  const mask = secretMasker(endpoint.secrets ?? []);
  const url = targetUrl(endpoint, options.allowedHosts, mask);
  const { signal } = options;
  const target: Target = {
    url,
    allowedHosts: options.allowedHosts,
    resolve: options.resolve ?? systemResolver,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
  };
  const attempts = 1 + Math.max(0, Math.floor(endpoint.retries));
  const init = requestInit(endpoint);

  let failure: Failure | undefined;
  let made = 0;
  while (made < attempts) {
    signal?.throwIfAborted();
    if (made > 0) {
      await sleep(retryDelay(made - 1), undefined, { signal }).catch((error: unknown) => {
        signal?.throwIfAborted();
        throw error;
      });
    }
    made += 1;
    const outcome = await attempt(endpoint, target, init, signal);
    if (outcome.ok) return outcome.value;
    failure = outcome.failure;
    if (!failure.retry) break;
  }
  // The loop runs at least once, and only a failure keeps it going.
  const last = failure as Failure;
  const tries = made > 1 ? ` after ${made} attempts` : '';
  const advice = last.advice === undefined ? '' : `; ${last.advice}`;
  throw new UpstreamError(mask(`endpoint "${endpoint.name}": ${last.problem}${tries}${advice}`), {
    ...(last.status === undefined ? {} : { status: last.status }),
    timedOut: last.timedOut ?? false,
  });
}

/** How messages name where the endpoint goes: its host, or the url as written when that is a secret. */
function hostOf(endpoint: ResolvedEndpoint, url: URL): string {
  return endpoint.urlAsWritten ?? url.host;
}

/** "the host of" the url as written, or the host itself. */
function theHostOf(endpoint: ResolvedEndpoint, url: URL, part: 'host' | 'hostname' = 'host'): string {
  return endpoint.urlAsWritten === undefined ? `host ${url[part]}` : `the host of ${endpoint.urlAsWritten}`;
}

/**
 * The URL with the query added, refused before any network traffic unless its host is allowed and the
 * headers leave the request where the url sends it.
 */
function targetUrl(
  endpoint: ResolvedEndpoint,
  allowedHosts: readonly string[],
  mask: (text: string) => string,
): URL {
  const refuse = (why: string) => new UpstreamError(mask(`endpoint "${endpoint.name}": ${why}`));
  let url: URL;
  try {
    url = new URL(endpoint.url);
  } catch {
    throw refuse('its url is not an absolute URL; write it as https://host/path');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw refuse('its url must start with http:// or https://');
  }
  for (const [name, value] of Object.entries(endpoint.query)) url.searchParams.append(name, value);
  url.hash = '';
  if (!hostAllowed(url, allowedHosts)) {
    throw refuse(
      `${theHostOf(endpoint, url)} is not allowed; add it to SWITCHBOARD_ENDPOINT_HOSTS or change the url`,
    );
  }
  const steering = Object.keys(endpoint.headers).find((name) => STEERING_HEADERS.has(name.toLowerCase()));
  if (steering !== undefined) {
    throw refuse(`may not set the ${steering} header; remove it from the endpoint's headers`);
  }
  return url;
}

/** Where one poll goes, and what it may reach. */
interface Target {
  url: URL;
  allowedHosts: readonly string[];
  resolve: HostResolver;
  maxBytes: number;
}

/** The addresses of the url's host: an address as written is its own; a name is resolved. */
async function addressesOf(
  url: URL,
  resolve: HostResolver,
  signal: AbortSignal,
): Promise<readonly ResolvedAddress[]> {
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  const family = isIP(literal);
  if (family !== 0) return [{ address: literal, family }];
  const addresses = await abortable(resolve(url.hostname), signal);
  if (addresses.length === 0) throw Object.assign(new Error('no address'), { code: 'ENOTFOUND' });
  return addresses;
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

interface RequestInit {
  method: ResolvedEndpoint['method'];
  headers: Record<string, string>;
  body: string | undefined;
}

function requestInit(endpoint: ResolvedEndpoint): RequestInit {
  const headers = { ...endpoint.headers };
  const has = (name: string) => Object.keys(headers).some((key) => key.toLowerCase() === name);
  if (!has('accept')) headers.accept = 'application/json, text/*;q=0.9, */*;q=0.5';
  if (!has('user-agent')) headers['user-agent'] = `switchboard/${VERSION}`;
  let body: string | undefined;
  if (endpoint.body !== undefined && endpoint.method !== 'GET') {
    body = JSON.stringify(endpoint.body);
    if (!has('content-type')) headers['content-type'] = 'application/json';
  }
  return { method: endpoint.method, headers, body };
}

async function attempt(
  endpoint: ResolvedEndpoint,
  target: Target,
  init: RequestInit,
  signal: AbortSignal | undefined,
): Promise<Outcome> {
  const { url } = target;
  // One controller per attempt, aborted by its own timer or by the caller: the timer covers resolving,
  // connecting, the headers and the whole body, so a server that sends headers and then stalls is cut off too.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('attempt timed out'));
  }, endpoint.timeoutMs);
  const onCallerAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onCallerAbort, { once: true });
  try {
    // Every address is checked, and the connection can only go to those: none may slip through on a
    // second lookup. Each attempt resolves again, so a changed answer is checked before it is used.
    const addresses = await addressesOf(url, target.resolve, controller.signal);
    for (const { address } of addresses) {
      const refusal = addressRefusal(url, address, target.allowedHosts);
      if (refusal) return { ok: false, failure: refusedAddress(endpoint, url, refusal) };
    }
    return await upstreamAgent.pinned(url.origin, addresses, async () => {
      const response = await request(url, {
        ...init,
        signal: controller.signal,
        dispatcher: upstreamAgent.dispatcher,
        headersTimeout: endpoint.timeoutMs,
        bodyTimeout: endpoint.timeoutMs,
      });
      return await readResponse(response, endpoint, url, target.maxBytes);
    });
  } catch (error) {
    signal?.throwIfAborted();
    if (timedOut) return { ok: false, failure: noAnswer(endpoint, url) };
    return { ok: false, failure: networkFailure(error, endpoint, url) };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onCallerAbort);
  }
}

/** An address the allow-list does not let the url's host reach; asking again will not change that. */
function refusedAddress(endpoint: ResolvedEndpoint, url: URL, refusal: AddressRefusal): Failure {
  if (endpoint.urlAsWritten !== undefined) {
    return {
      problem: `the host of ${endpoint.urlAsWritten} reaches ${refusal.kind}`,
      advice: 'name that address (or a range holding it) in SWITCHBOARD_ENDPOINT_HOSTS to allow it',
      retry: false,
    };
  }
  const literal = isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0;
  return {
    problem: `${literal ? '' : `${url.hostname} `}reaches ${refusal.address}, ${refusal.kind}`,
    advice: `name ${refusal.entry} (or a range holding it) in SWITCHBOARD_ENDPOINT_HOSTS to allow it`,
    retry: false,
  };
}

async function readResponse(
  response: Dispatcher.ResponseData,
  endpoint: ResolvedEndpoint,
  url: URL,
  maxBytes: number,
): Promise<Outcome> {
  const { statusCode: status, headers, body } = response;
  if (status < 200 || status > 299) {
    // Drain (bounded) rather than destroy, so the connection can be reused for the next attempt.
    await body.dump().catch(() => undefined);
    return { ok: false, failure: statusFailure(status, endpoint, url) };
  }

  const tooLarge: Outcome = {
    ok: false,
    failure: {
      problem: `answered more than ${formatBytes(maxBytes)}`,
      advice: 'select a smaller answer from the upstream (a narrower query or path)',
      status,
      retry: false,
    },
  };
  if (Number(headerValue(headers['content-length'])) > maxBytes) {
    body.destroy();
    return tooLarge;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Returning from the loop destroys the body: nothing past the limit is read.
    if (size > maxBytes) return tooLarge;
    chunks.push(chunk);
  }

  const { mediaType, charset } = parseContentType(headerValue(headers['content-type']));
  const bytes = Buffer.concat(chunks);
  if (mediaType === 'application/json' || mediaType.endsWith('+json')) {
    try {
      return { ok: true, value: JSON.parse(new TextDecoder().decode(bytes)) };
    } catch {
      return {
        ok: false,
        failure: {
          problem: `answered ${status} with a body that was not valid JSON although its content-type says JSON`,
          status,
          retry: false,
        },
      };
    }
  }
  return { ok: true, value: decodeText(bytes, charset) };
}

function statusFailure(status: number, endpoint: ResolvedEndpoint, url: URL): Failure {
  const answered = `answered ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd();
  if (status >= 300 && status < 400) {
    return {
      problem: `${answered}; redirects are not followed`,
      advice: 'set the url to the address it redirects to',
      status,
      retry: false,
    };
  }
  if (status === 429 || status >= 500) return { problem: answered, status, retry: true };
  return {
    problem: answered,
    advice: `${hostOf(endpoint, url)} refused the request; check the endpoint's url, headers and body`,
    status,
    retry: false,
  };
}

function noAnswer(endpoint: ResolvedEndpoint, url: URL): Failure {
  return {
    problem: `no answer within ${formatDuration(endpoint.timeoutMs)} from ${hostOf(endpoint, url)}`,
    advice: "check that the upstream is up, or raise the endpoint's timeout",
    timedOut: true,
    retry: true,
  };
}

/** Only the error's code is used: a library's message could quote the URL or a header. */
function networkFailure(error: unknown, endpoint: ResolvedEndpoint, url: URL): Failure {
  const code = errorCode(error);
  const host = hostOf(endpoint, url);
  switch (code) {
    case 'ECONNREFUSED':
      return {
        problem: `connection refused by ${host}`,
        advice: 'check that the upstream is running and the url has the right host and port',
        retry: true,
      };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return {
        problem: `${theHostOf(endpoint, url, 'hostname')} could not be resolved`,
        advice: "check the url's host",
        retry: true,
      };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return { problem: `connection to ${host} closed before the answer was complete`, retry: true };
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { problem: `could not connect to ${host} in time`, timedOut: true, retry: true };
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return noAnswer(endpoint, url);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return { problem: `${host} could not be reached (${code})`, retry: true };
    case 'UND_ERR_INVALID_ARG':
    case 'ERR_INVALID_ARG_TYPE':
    case 'ERR_INVALID_CHAR':
    case 'ERR_INVALID_HTTP_TOKEN':
      return {
        problem: `the request could not be sent (${code})`,
        advice: "check the endpoint's header names and values",
        retry: false,
      };
  }
  // Retrying cannot mend a certificate or a protocol mismatch.
  if (code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
    return {
      problem: `the certificate of ${host} was rejected (${code})`,
      advice: 'the upstream must present a certificate this server trusts, valid for that host',
      retry: false,
    };
  }
  if (code !== undefined && /^ERR_(TLS|SSL)_/.test(code)) {
    return {
      problem: `the TLS connection to ${host} failed (${code})`,
      advice: "check that the url's scheme (http or https) and port match what the upstream serves",
      retry: false,
    };
  }
  return { problem: `the request to ${host} failed (${code ?? 'no error code'})`, retry: true };
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code } = error as { code?: unknown };
  if (typeof code === 'string') return code;
  // Connecting to a name with several addresses can fail with an AggregateError of per-address errors.
  if (error instanceof AggregateError) return errorCode(error.errors[0]);
  return errorCode((error as { cause?: unknown }).cause);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parseContentType(header: string | undefined): { mediaType: string; charset: string | undefined } {
  const [type = '', ...parameters] = (header ?? '').split(';');
  const charset = parameters
    .map((parameter) => parameter.trim().split('='))
    .find(([name]) => name?.trim().toLowerCase() === 'charset')?.[1]
    ?.trim()
    .replace(/^"|"$/g, '');
  return { mediaType: type.trim().toLowerCase(), charset };
}

function decodeText(bytes: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    // An unknown charset label: UTF-8 is the best guess.
    return new TextDecoder().decode(bytes);
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
