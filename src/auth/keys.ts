import { createHmac, hkdfSync } from 'node:crypto';

/** Separate keys for each use of the signing secret, so no signature can stand in for another. */
export interface AuthKeys {
  readonly accessToken: Uint8Array;
  readonly refreshToken: Buffer;
  readonly apiKey: Buffer;
  readonly csrf: Buffer;
  readonly passwordSignature: Buffer;
  /** Seals a started SSO sign-in into its cookie (sso/pending-login.ts). */
  readonly ssoLogin: Uint8Array;
}

function derive(secret: Buffer, purpose: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'switchboard', purpose, length));
}

export function deriveAuthKeys(secret: Buffer): AuthKeys {
  return {
    // 64 bytes serve HS512 as well as HS256.
    accessToken: new Uint8Array(derive(secret, 'access-token-v1', 64)),
    refreshToken: derive(secret, 'refresh-token-v1', 32),
    apiKey: derive(secret, 'api-key-v1', 32),
    csrf: derive(secret, 'csrf-token-v1', 32),
    passwordSignature: derive(secret, 'password-signature-v1', 32),
    ssoLogin: new Uint8Array(derive(secret, 'sso-login-v1', 32)),
  };
}

/** Opaque credentials are stored only as this digest; a database dump gives nothing to present. */
export function digest(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('hex');
}

/**
 * Digests of credentials that matched a record lately, by the credential's text: a machine presents the
 * same API key on every request, and its HMAC was a tenth of the cost of an authenticated read. Only
 * credentials that matched are remembered (so junk cannot push them out), at most `max`, the oldest going
 * first. The text stays in memory no longer than it would anyway while the client keeps sending it, as
 * with the access tokens verified lately (access-tokens.ts).
 */
export class RememberedDigests {
  private readonly known = new Map<string, string>();
  private keyOfKnown: Buffer | undefined;

  constructor(
    private readonly key: () => Buffer,
    private readonly max = 10_000,
  ) {}

  digest(value: string): string {
    const key = this.currentKey();
    return this.known.get(value) ?? digest(key, value);
  }

  /** After `value`'s digest (from `digest`) matched a record. */
  remember(value: string, valueDigest: string): void {
    this.currentKey();
    if (this.known.has(value)) return;
    this.known.set(value, valueDigest);
    if (this.known.size > this.max) {
      const oldest = this.known.keys().next();
      if (!oldest.done) this.known.delete(oldest.value);
    }
  }

  /** The key; what was remembered under another is forgotten. */
  private currentKey(): Buffer {
    const key = this.key();
    if (key !== this.keyOfKnown) {
      this.known.clear();
      this.keyOfKnown = key;
    }
    return key;
  }
}
