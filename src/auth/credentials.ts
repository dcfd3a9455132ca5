import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { AppError, ErrorCode } from '../platform/problem.js';
import type { Settings } from '../settings.js';
import { ForeignAccessToken } from './access-tokens.js';
import type { Principal } from './principal.js';

/** The origins cookie-authenticated writes and upgrades may come from: the public URL's and the CORS list's. */
export function allowedOrigins(settings: Pick<Settings, 'publicUrl' | 'corsOrigins'>): Set<string> {
  return new Set([new URL(settings.publicUrl).origin, ...settings.corsOrigins.filter((o) => o !== '*')]);
}

/** What a request or a WebSocket upgrade presents, whatever the transport. */
export interface Presented {
  readonly headers: IncomingHttpHeaders;
  /** Its cookies, parsed. */
  readonly cookies: Readonly<Record<string, string | undefined>>;
  /** `?ticket=`, where the entry point takes one (live streams). */
  readonly ticket?: string;
  /** A WebSocket upgrade: the browser opens one from any page, with its cookies and without CORS. */
  readonly upgrade?: boolean;
}

/** One way of proving who one is; credential-sources.ts lists them in the order they are tried. */
export interface CredentialSource {
  /** For logs and tests. */
  readonly name: string;
  /**
   * Sent by the browser on its own (a cookie) rather than put there by the client. Such a credential
   * counts on an upgrade only from an allowed Origin, and when it fails the next source is tried; a
   * credential the client chose to send is the answer, good or bad.
   */
  readonly ambient: boolean;
  /** The credential the request presents to this source, or undefined when it presents none. */
  find(presented: Presented): string | undefined;
  /** The principal behind it; throws a 401 AppError when there is none. */
  authenticate(credential: string): Promise<Principal>;
  /**
   * The same answer without waiting, where the source can give it from what it remembers (the hot path
   * of a busy client); undefined when it cannot. Must write nothing: `authenticate` may follow.
   */
  authenticateNow?(credential: string): Principal | undefined;
}

/** Who is calling, or why the credential presented did not say (null: none was presented). */
export type Resolution =
  | { readonly principal: Principal; readonly failure: null }
  | { readonly principal: null; readonly failure: AppError | null };

/**
 * Turns a request or an upgrade into a principal, for the HTTP routes, SSE and the WebSocket gateway
 * alike: the first source in order whose credential authenticates wins. Errors other than a 401 (a store
 * that is away) are thrown, not taken for a bad credential.
 */
export class CredentialResolver {
  constructor(
    private readonly sources: readonly CredentialSource[],
    private readonly allowedOrigins: ReadonlySet<string>,
  ) {}

  async resolve(presented: Presented, log: FastifyBaseLogger): Promise<Resolution> {
    let failure: AppError | null = null;
    for (const source of this.sources) {
      if (source.ambient && presented.upgrade && !this.originAllowed(presented)) continue;
      const credential = source.find(presented);
      if (credential === undefined) continue;
      try {
        return { principal: await source.authenticate(credential), failure: null };
      } catch (error) {
        failure = refusal(error, log);
        if (!source.ambient) break;
      }
    }
    return { principal: null, failure };
  }

  /**
   * `resolve` without waiting, when every source it asks can answer from what it remembers; undefined
   * otherwise (then ask `resolve`, which starts over: nothing here has written anything).
   */
  resolveNow(presented: Presented, log: FastifyBaseLogger): Resolution | undefined {
    let failure: AppError | null = null;
    // Logged only with a final answer: when `resolve` must start over, it logs them itself.
    const refusals: AppError[] = [];
    for (const source of this.sources) {
      if (source.ambient && presented.upgrade && !this.originAllowed(presented)) continue;
      const credential = source.find(presented);
      if (credential === undefined) continue;
      if (!source.authenticateNow) return undefined;
      try {
        const principal = source.authenticateNow(credential);
        if (principal === undefined) return undefined;
        for (const refused of refusals) refusal(refused, log);
        return { principal, failure: null };
      } catch (error) {
        failure = refusal(error);
        refusals.push(failure);
        if (!source.ambient) break;
      }
    }
    for (const refused of refusals) refusal(refused, log);
    return { principal: null, failure };
  }

  private originAllowed(presented: Presented): boolean {
    const origin = presented.headers.origin;
    return origin !== undefined && this.allowedOrigins.has(origin);
  }
}

/**
 * A 401 becomes the resolution's failure (logged, given `log`, when the token was another instance's); any
 * other error is thrown.
 */
function refusal(error: unknown, log?: FastifyBaseLogger): AppError {
  if (!(error instanceof AppError) || error.status !== 401) throw error;
  if (log && error instanceof ForeignAccessToken) logForeignToken(error, log);
  return error;
}

/** Only the token's issuer or audience was wrong: say so plainly, as the client is told only "invalid". */
function logForeignToken(error: ForeignAccessToken, log: FastifyBaseLogger): void {
  const claim = error.claim === 'iss' ? 'issuer' : 'audience';
  log.warn(
    { [`expected_${claim}`]: error.expected, [`token_${claim}`]: error.presented },
    `access token refused: its ${claim} is ${JSON.stringify(error.presented)}, this instance expects ` +
      `${JSON.stringify(error.expected)}. Tokens carry the SWITCHBOARD_PUBLIC_URL of the instance that ` +
      'issued them: every instance of one deployment must share one SWITCHBOARD_PUBLIC_URL',
  );
}

/**
 * The one refusal of a caller who must change their password first (403 code 1007), or undefined when
 * they need not. HTTP routes that allow it (`duringPasswordChange`) skip it; live streams never do.
 */
export function pendingPasswordChange(principal: Principal): AppError | undefined {
  if (!principal.mustChangePassword) return undefined;
  return new AppError(
    ErrorCode.passwordChangeRequired,
    'change your password first (POST /api/v1/auth/password)',
  );
}
