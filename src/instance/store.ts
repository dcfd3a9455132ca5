import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

/** Instance-wide secrets, one row per name. */
export class InstanceStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores the value unless the name already has one; concurrent callers all keep the first. */
  async insertSecretIfAbsent(name: string, value: string): Promise<void> {
    await this.db
      .insertInto('instance_secrets')
      .values({ name, value, created_at: new Date().toISOString() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  async readSecret(name: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('instance_secrets')
      .select('value')
      .where('name', '=', name)
      .executeTakeFirst();
    return row?.value;
  }

  async deleteSecret(name: string): Promise<void> {
    await this.db.deleteFrom('instance_secrets').where('name', '=', name).execute();
  }
}
