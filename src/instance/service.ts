import { randomBytes } from 'node:crypto';
import type { InstanceStore } from './store.js';

const SIGNING_SECRET = 'signing_secret';

/**
 * A secret every instance on the database shares: the stored value, else `generate()` stored for all.
 * Insert-if-absent makes concurrent first starts of several instances agree on one value.
 */
export async function sharedSecret(
  store: InstanceStore,
  name: string,
  generate: () => string,
): Promise<string> {
  await store.insertSecretIfAbsent(name, generate());
  const stored = await store.readSecret(name);
  if (stored === undefined) throw new Error(`instance secret ${name} could not be stored`);
  return stored;
}

/**
 * The secret every signature derives from: SWITCHBOARD_JWT_SECRET when set, else the one stored in the
 * database, else 32 random bytes stored for every instance to share.
 */
export async function resolveSigningSecret(
  store: InstanceStore,
  configured: string | undefined,
): Promise<Buffer> {
  if (configured !== undefined) return Buffer.from(configured, 'utf8');
  const stored = await sharedSecret(store, SIGNING_SECRET, () => randomBytes(32).toString('base64url'));
  return Buffer.from(stored, 'base64url');
}
