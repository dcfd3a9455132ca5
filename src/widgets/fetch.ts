import { request } from 'undici';
import { AppError, ErrorCode } from '../platform/problem.js';
import { isSecureUrl } from '../platform/secure-url.js';

/** Redirects followed at most, each to an allowed host. */
const MAX_REDIRECTS = 5;

export interface FetchLimits {
  /** Hosts (with `:port` where not the default) that the URL and every redirect may name. */
  readonly allowedHosts: readonly string[];
  /** For the whole fetch, redirects and body included. */
  readonly timeoutMs: number;
  /** The body is refused past this many bytes. */
  readonly maxBytes: number;
  /** What sets `maxBytes`, for the refusal's message. */
  readonly maxBytesSetting?: string;
}

/** A bundle refused for what it is (a host, a size, a hash, an entry): 422 code 2000 naming the reason. */
export class WidgetRefusal extends AppError {
  constructor(
    readonly reason: string,
    detail: string,
    pointer = '/package',
  ) {
    super(ErrorCode.invalidBody, detail, { errors: [{ pointer, message: detail }] });
  }
}

/** The registry failed (unreachable, 5xx) or took too long: 502 code 7000, or 504 code 7001. */
export function registryFailed(detail: string, timedOut: boolean): AppError {
  return new AppError(
    timedOut ? ErrorCode.upstreamTimeout : ErrorCode.upstream,
    timedOut
      ? `the widget registry did not answer in time: ${detail}`
      : `the widget registry failed: ${detail}`,
  );
}

function allowedUrl(raw: string, base: string | undefined, limits: FetchLimits): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new WidgetRefusal('bad_url', `the registry named a URL that is not one: ${raw.slice(0, 200)}`);
  }
  // The integrity comes with the metadata: a plain-HTTP hop anywhere would let a network attacker choose it.
  if (!isSecureUrl(url)) {
    throw new WidgetRefusal(
      'bad_url',
      `the registry named ${url.protocol}//${url.host}; only https (or http on a loopback address) is fetched`,
    );
  }
  if (!limits.allowedHosts.includes(url.host.toLowerCase())) {
    throw new WidgetRefusal(
      'host_not_allowed',
      `${url.host} is not in SWITCHBOARD_WIDGETS_ALLOWED_HOSTS; nothing is fetched from it`,
    );
  }
  return url;
}

/**
 * GETs `url` from an allowed host, following redirects to allowed hosts only, within the time limit, and
 * reading at most `maxBytes` of the body. Answers the final status and body; the registry unreachable,
 * a 5xx or the time running out are its failures (502, 504).
 */
export async function fetchAllowed(
  url: string,
  limits: FetchLimits,
  accept: string,
): Promise<{ status: number; body: Buffer; url: string }> {
  const deadline = AbortSignal.timeout(limits.timeoutMs);
  let target = allowedUrl(url, undefined, limits);
  try {
    for (let hop = 0; ; hop += 1) {
      const res = await request(target, {
        method: 'GET',
        headers: { accept, 'user-agent': 'switchboard-widgets' },
        signal: deadline,
      });
      if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location !== undefined) {
        res.body.resume();
        if (hop >= MAX_REDIRECTS) throw registryFailed(`more than ${MAX_REDIRECTS} redirects`, false);
        target = allowedUrl(String(res.headers.location), target.href, limits);
        continue;
      }
      if (res.statusCode >= 500) {
        res.body.resume();
        throw registryFailed(`${target.host} answered ${res.statusCode}`, false);
      }
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > limits.maxBytes) {
        res.body.destroy();
        throw tooLarge(limits);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > limits.maxBytes) {
          res.body.destroy();
          throw tooLarge(limits);
        }
        chunks.push(chunk as Buffer);
      }
      return { status: res.statusCode, body: Buffer.concat(chunks), url: target.href };
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    if (deadline.aborted)
      throw registryFailed(`${target.host} took longer than ${limits.timeoutMs} ms`, true);
    throw registryFailed(`${target.host} could not be reached (${(error as Error).message})`, false);
  }
}

const tooLarge = (limits: FetchLimits) =>
  new WidgetRefusal(
    'too_large',
    `the download is over ${limits.maxBytes} bytes (${limits.maxBytesSetting ?? 'SWITCHBOARD_WIDGETS_MAX_BYTES'})`,
  );
