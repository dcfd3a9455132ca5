import { randomBytes } from 'node:crypto';
import type { InstanceStore } from './store.js';

const SIGNING_SECRET = 'signing_secret';

/**
 * The secret every signature derives from: SWITCHBOARD_JWT_SECRET when set, else the one stored in the
 * database, else 32 random bytes stored for every instance to share. Insert-if-absent makes concurrent
 * first starts of several instances agree on one value.
 */
export async function resolveSigningSecret(
  store: InstanceStore,
  configured: string | undefined,
): Promise<Buffer> {
  if (configured !== undefined) return Buffer.from(configured, 'utf8');
  await store.insertSecretIfAbsent(SIGNING_SECRET, randomBytes(32).toString('base64url'));
  const stored = await store.readSecret(SIGNING_SECRET);
  if (stored === undefined) throw new Error('signing secret could not be stored');
  return Buffer.from(stored, 'base64url');
}
