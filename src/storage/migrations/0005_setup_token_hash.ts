import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';

/** The table as this migration knows it; later changes to the schema types must not change what it does. */
interface InstanceSecrets {
  instance_secrets: { name: string; value: string; created_at: string };
}

/**
 * Earlier versions kept the first-run setup token in clear, so a copy of the database was enough to claim
 * the instance. Keep only its SHA-256 (hex), under a name that says it is a hash.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const secrets = db as unknown as Kysely<InstanceSecrets>;
  const clear = await secrets
    .selectFrom('instance_secrets')
    .select(['value', 'created_at'])
    .where('name', '=', 'setup_token')
    .executeTakeFirst();
  if (!clear) return;
  await secrets
    .insertInto('instance_secrets')
    .values({
      name: 'setup_token_sha256',
      value: createHash('sha256').update(clear.value).digest('hex'),
      created_at: clear.created_at,
    })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  await secrets.deleteFrom('instance_secrets').where('name', '=', 'setup_token').execute();
}
