import type { Kysely, Selectable } from 'kysely';
import type { Database, WidgetsTable } from '../storage/schema.js';

export interface WidgetRecord {
  package: string;
  version: string;
  /** The registry's `dist.integrity`: a sha512 Subresource Integrity string. */
  integrity: string;
  /** Files in the bundle. */
  files: number;
  /** Unpacked bytes. */
  size: number;
  /** Each file's path in the bundle and the sha256 (base64url) of the bytes unpacked from the tarball. */
  manifest: Readonly<Record<string, string>>;
  registeredBy: string | null;
  registeredAt: string;
}

const toRecord = (row: Selectable<WidgetsTable>): WidgetRecord => ({
  package: row.package,
  version: row.version,
  integrity: row.integrity,
  files: row.files,
  size: row.size,
  manifest: JSON.parse(row.manifest) as Record<string, string>,
  registeredBy: row.registered_by,
  registeredAt: row.registered_at,
});

/** The widgets table. Pass a transaction to make several calls one unit. */
export class WidgetsStore {
  constructor(private readonly db: Kysely<Database>) {}

  async find(pkg: string, version: string): Promise<WidgetRecord | undefined> {
    const row = await this.db
      .selectFrom('widgets')
      .selectAll()
      .where('package', '=', pkg)
      .where('version', '=', version)
      .executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async list(): Promise<WidgetRecord[]> {
    const rows = await this.db
      .selectFrom('widgets')
      .selectAll()
      .orderBy('package')
      .orderBy('version')
      .execute();
    return rows.map(toRecord);
  }

  /** True when this call registered it; false when it was registered already (by a concurrent call, say). */
  async insert(widget: WidgetRecord): Promise<boolean> {
    const inserted = await this.db
      .insertInto('widgets')
      .values({
        package: widget.package,
        version: widget.version,
        integrity: widget.integrity,
        files: widget.files,
        size: widget.size,
        manifest: JSON.stringify(widget.manifest),
        registered_by: widget.registeredBy,
        registered_at: widget.registeredAt,
      })
      .onConflict((conflict) => conflict.columns(['package', 'version']).doNothing())
      .returning('package')
      .execute();
    return inserted.length > 0;
  }

  async delete(pkg: string, version: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('widgets')
      .where('package', '=', pkg)
      .where('version', '=', version)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
