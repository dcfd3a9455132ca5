import type { Kysely } from 'kysely';
import type { ConfigStateTable, ConfigVersionsTable, Database } from '../storage/schema.js';

const STATE = 'endpoints';

export interface VersionMeta {
  version: string;
  createdAt: string;
  createdBy: string | null;
  createdByName: string | null;
  message: string | null;
}

export interface VersionRecord extends VersionMeta {
  /** Canonical JSON text. */
  document: string;
}

export interface ConfigState {
  activeVersion: string | null;
  lastGoodVersion: string | null;
  recovery: boolean;
  recoveryVersion: string | null;
  recoveryReason: string | null;
  generation: number;
}

const EMPTY_STATE: ConfigState = {
  activeVersion: null,
  lastGoodVersion: null,
  recovery: false,
  recoveryVersion: null,
  recoveryReason: null,
  generation: 0,
};

function metaOf(row: Omit<ConfigVersionsTable, 'document'>): VersionMeta {
  return {
    version: row.version,
    createdAt: row.created_at,
    createdBy: row.created_by,
    createdByName: row.created_by_name,
    message: row.message,
  };
}

function stateOf(row: ConfigStateTable | undefined): ConfigState {
  if (!row) return EMPTY_STATE;
  return {
    activeVersion: row.active_version,
    lastGoodVersion: row.last_good_version,
    recovery: row.recovery === 1,
    recoveryVersion: row.recovery_version,
    recoveryReason: row.recovery_reason,
    generation: row.generation,
  };
}

/** The endpoint configuration's tables: saved versions and the state row. Pass a transaction to combine. */
export class ConfigStore {
  constructor(private readonly db: Kysely<Database>) {}

  async listVersions(): Promise<VersionMeta[]> {
    const rows = await this.db
      .selectFrom('config_versions')
      .select(['version', 'created_at', 'created_by', 'created_by_name', 'message'])
      .execute();
    return rows.map(metaOf);
  }

  async versionNumbers(): Promise<string[]> {
    const rows = await this.db.selectFrom('config_versions').select('version').execute();
    return rows.map((row) => row.version);
  }

  async get(version: string): Promise<VersionRecord | undefined> {
    const row = await this.db
      .selectFrom('config_versions')
      .selectAll()
      .where('version', '=', version)
      .executeTakeFirst();
    return row ? { ...metaOf(row), document: row.document } : undefined;
  }

  async exists(version: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('config_versions')
      .select('version')
      .where('version', '=', version)
      .executeTakeFirst();
    return row !== undefined;
  }

  async insert(record: VersionRecord): Promise<void> {
    await this.db
      .insertInto('config_versions')
      .values({
        version: record.version,
        document: record.document,
        created_at: record.createdAt,
        created_by: record.createdBy,
        created_by_name: record.createdByName,
        message: record.message,
      })
      .execute();
  }

  async delete(version: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('config_versions')
      .where('version', '=', version)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async state(): Promise<ConfigState> {
    const row = await this.db
      .selectFrom('config_state')
      .selectAll()
      .where('name', '=', STATE)
      .executeTakeFirst();
    return stateOf(row);
  }

  /**
   * Writes the state and bumps its generation. Inside a transaction the row is also what serializes
   * concurrent activations: PostgreSQL locks it on update, SQLite allows one writer at a time.
   */
  async writeState(patch: Partial<Omit<ConfigState, 'generation'>>, at: string): Promise<ConfigState> {
    const values = {
      ...(patch.activeVersion !== undefined && { active_version: patch.activeVersion }),
      ...(patch.lastGoodVersion !== undefined && { last_good_version: patch.lastGoodVersion }),
      ...(patch.recovery !== undefined && { recovery: (patch.recovery ? 1 : 0) as number }),
      ...(patch.recoveryVersion !== undefined && { recovery_version: patch.recoveryVersion }),
      ...(patch.recoveryReason !== undefined && { recovery_reason: patch.recoveryReason }),
      updated_at: at,
    };
    await this.db
      .insertInto('config_state')
      .values({ name: STATE, generation: 1, recovery: 0, ...values })
      .onConflict((conflict) =>
        conflict
          .column('name')
          .doUpdateSet((eb) => ({ ...values, generation: eb('config_state.generation', '+', 1) })),
      )
      .execute();
    return this.state();
  }
}
