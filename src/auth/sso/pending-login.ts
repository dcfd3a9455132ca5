import { EncryptJWT, jwtDecrypt } from 'jose';
import { SsoRejection } from './failures.js';

/** The cookie that carries a started OIDC sign-in through the provider and back. */
export const PENDING_LOGIN_COOKIE = 'sso_login';
/** Sent to the callback alone. */
export const PENDING_LOGIN_PATH = '/api/v1/auth/oidc/callback';
/** Time to sign in at the provider. */
export const PENDING_LOGIN_TTL_S = 600;

/** What the callback needs to finish a sign-in this browser started. */
export interface PendingLogin {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly returnTo: string;
}

/**
 * A started sign-in, sealed into a cookie (encrypted and authenticated with a key derived from the
 * instance secret, so any instance of a cluster opens it and no one can read or forge it). It lives in the
 * browser that started the sign-in, so a callback from another browser finds none; the callback spends
 * its state, so it finishes once.
 */
export class PendingLogins {
  constructor(
    private readonly key: () => Uint8Array,
    private readonly now: () => number,
  ) {}

  async seal(pending: PendingLogin): Promise<string> {
    const issuedAt = Math.floor(this.now() / 1000);
    return new EncryptJWT({ s: pending.state, n: pending.nonce, v: pending.verifier, r: pending.returnTo })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + PENDING_LOGIN_TTL_S)
      .encrypt(this.key());
  }

  async open(sealed: string | undefined): Promise<PendingLogin> {
    if (sealed === undefined || sealed === '') {
      throw new SsoRejection(
        'no_pending_login',
        'no sign-in was started in this browser, or it was finished already: start again from the sign-in page',
      );
    }
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtDecrypt(sealed, this.key(), {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        currentDate: new Date(this.now()),
      }));
    } catch (error) {
      const expired = (error as { code?: string }).code === 'ERR_JWT_EXPIRED';
      throw new SsoRejection(
        expired ? 'pending_login_expired' : 'pending_login_invalid',
        expired
          ? `the sign-in took longer than ${PENDING_LOGIN_TTL_S / 60} minutes: start again`
          : 'the sign-in cookie is not one this server made: start again from the sign-in page',
      );
    }
    const { s, n, v, r } = payload;
    if (typeof s !== 'string' || typeof n !== 'string' || typeof v !== 'string' || typeof r !== 'string') {
      throw new SsoRejection('pending_login_invalid', 'the sign-in cookie is incomplete: start again');
    }
    return { state: s, nonce: n, verifier: v, returnTo: r };
  }
}
