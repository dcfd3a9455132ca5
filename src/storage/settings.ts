import { resolve } from 'node:path';
import { defineSection, integer, type SectionSettings, text } from '../platform/settings-spec.js';

export type DatabaseTarget = { engine: 'sqlite'; file: string } | { engine: 'postgres'; url: string };

/** Where Switchboard keeps its data: the data directory and the database. */
export const storageSettings = defineSection(
  {
    dataDir: {
      env: 'SWITCHBOARD_DATA_DIR',
      file: 'data_dir',
      default: './data',
      ...text('a directory path'),
      doc: 'Directory for the SQLite database and generated files.',
    },
    databaseUrl: {
      env: 'SWITCHBOARD_DATABASE_URL',
      file: 'database_url',
      accepts: 'postgres://…, postgresql://… or sqlite:<file path>',
      parse: (value) =>
        /^(postgres|postgresql):\/\//.test(value) || /^sqlite:.+/.test(value) ? value : undefined,
      doc: 'Database. Unset: SQLite at `<data dir>/switchboard.db` (WAL mode).',
    },
    databasePoolSize: {
      env: 'SWITCHBOARD_DATABASE_POOL_SIZE',
      file: 'database_pool_size',
      default: '10',
      ...integer(1, 1000),
      doc: 'PostgreSQL connections per instance.',
    },
  },
  ({ dataDir, databaseUrl, databasePoolSize }) => {
    const resolvedDataDir = resolve(dataDir);
    return {
      dataDir: resolvedDataDir,
      database: databaseTarget(databaseUrl, resolvedDataDir),
      databasePoolSize,
    };
  },
);

export type StorageSettings = SectionSettings<typeof storageSettings>;

function databaseTarget(url: string | undefined, dataDir: string): DatabaseTarget {
  if (url === undefined) return { engine: 'sqlite', file: resolve(dataDir, 'switchboard.db') };
  if (!url.startsWith('sqlite:')) return { engine: 'postgres', url };
  return {
    engine: 'sqlite',
    file: url === 'sqlite::memory:' ? ':memory:' : resolve(url.slice('sqlite:'.length)),
  };
}
