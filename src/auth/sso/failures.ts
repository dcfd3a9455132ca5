import { AppError, ErrorCode } from '../../platform/problem.js';

/**
 * A sign-in whose proof failed (state, code, nonce, id token): 401 code 1000 and no session. `reason` is
 * audited; the message says what failed and never repeats what was sent.
 */
export class SsoRejection extends AppError {
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(ErrorCode.unauthorized, detail);
  }
}

/** An identity that was proven but may not be admitted as it is: 403 code 1001, the reason audited. */
export class SsoRefusal extends AppError {
  constructor(
    readonly reason: string,
    detail: string,
    /** Who was refused, once the claims have said. */
    readonly who?: { username: string; issuer: string },
  ) {
    super(ErrorCode.forbidden, detail);
  }
}

/** The identity provider could not be reached or answered nonsense: 502 code 7000, the cause logged. */
export class SsoUpstreamFailure extends AppError {
  readonly reason = 'provider_unreachable';

  constructor(
    provider: string,
    readonly upstreamCause: unknown,
  ) {
    super(
      ErrorCode.upstream,
      `${provider} could not be reached or gave an answer that cannot be used; try again shortly`,
    );
  }
}

export const upstreamFailed = (provider: string, cause: unknown) => new SsoUpstreamFailure(provider, cause);

/** The reason an SSO failure is audited with. */
export function reasonOf(error: unknown): string | undefined {
  if (error instanceof SsoRejection || error instanceof SsoRefusal || error instanceof SsoUpstreamFailure) {
    return error.reason;
  }
  return undefined;
}
