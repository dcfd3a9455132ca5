import { createHmac, hkdfSync } from 'node:crypto';

/** Separate keys for each use of the signing secret, so no signature can stand in for another. */
export interface AuthKeys {
  readonly accessToken: Uint8Array;
  readonly refreshToken: Buffer;
  readonly apiKey: Buffer;
  readonly csrf: Buffer;
  readonly passwordSignature: Buffer;
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
  };
}

/** Opaque credentials are stored only as this digest; a database dump gives nothing to present. */
export function digest(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('hex');
}
