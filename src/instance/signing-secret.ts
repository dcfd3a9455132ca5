import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

const NAME = 'signing_secret';

/**
 * The secret every signature derives from: SWITCHBOARD_JWT_SECRET when set, else the one stored in the
 * database, else 32 random bytes stored for every instance to share. Insert-if-absent makes concurrent
 * first starts of several instances agree on one value.
 */
export async function resolveSigningSecret(
  db: Kysely<Database>,
  configured: string | undefined,
): Promise<Buffer> {
  if (configured !== undefined) return Buffer.from(configured, 'utf8');
  await db
    .insertInto('instance_secrets')
    .values({
      name: NAME,
      value: randomBytes(32).toString('base64url'),
      created_at: new Date().toISOString(),
    })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db
    .selectFrom('instance_secrets')
    .select('value')
    .where('name', '=', NAME)
    .executeTakeFirstOrThrow();
  return Buffer.from(row.value, 'base64url');
}
