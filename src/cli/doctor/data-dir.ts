import { accessSync, constants, type Stats, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import type { Settings } from '../../settings.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../../storage/data-dir.js';
import { combine, type Finding, fail, octal, ok, type Problem, skipped, warn } from './check.js';

/** File mode bits and owners do not exist on Windows; there the checks would only report noise. */
const POSIX = process.platform !== 'win32';

/** A path as a shell word, for the commands a fix names. */
const shellWord = (path: string) =>
  /^[\w./@%+=:,-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;

const me = () => {
  const { username, uid } = userInfo();
  return { username, uid };
};

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** What is wrong with the owner and mode of an existing file or directory; empty when nothing is. */
function ownerAndMode(path: string, stat: Stats, privateMode: number): Problem[] {
  if (!POSIX) return [];
  const problems: Problem[] = [];
  const user = me();
  if (stat.uid !== user.uid)
    problems.push({
      status: 'warn',
      finding: `${path} is owned by uid ${stat.uid}, not by ${user.username} (uid ${user.uid}) running this check`,
      fix: `run switchboard doctor as the user the server runs as, or chown ${user.username} ${shellWord(path)}`,
    });
  if ((stat.mode & 0o077) !== 0)
    problems.push({
      status: 'warn',
      finding: `${path} is open to other users (mode ${octal(stat.mode)})`,
      fix: `chmod ${octal(privateMode).slice(1)} ${shellWord(path)}`,
    });
  return problems;
}

/** The data directory: there, a directory, writable by this user, private to it. */
export function dataDirFinding(settings: Pick<Settings, 'dataDir'>): Finding {
  const dir = settings.dataDir;
  const stat = statOf(dir);
  if (stat === undefined)
    return warn(
      'data-dir',
      `${dir} does not exist yet`,
      `start the server once (it creates it, mode 0700), or: mkdir -m 700 ${shellWord(dir)}`,
    );
  if (!stat.isDirectory())
    return fail('data-dir', `${dir} is not a directory`, 'point SWITCHBOARD_DATA_DIR at a directory');
  const problems: Problem[] = [];
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    problems.push({
      status: 'fail',
      finding: `${dir} is not writable by ${me().username}`,
      fix: `run the server as the user that owns it, or chown ${me().username} ${shellWord(dir)}`,
    });
  }
  problems.push(...ownerAndMode(dir, stat, PRIVATE_DIR_MODE));
  return (
    combine('data-dir', problems) ??
    ok(
      'data-dir',
      POSIX
        ? `${dir} is a directory owned by ${me().username}, writable, mode ${octal(stat.mode)}`
        : `${dir} is a writable directory`,
    )
  );
}

/**
 * The SQLite database's file, its -wal and -shm, and its directory when that is not the data directory:
 * private to the user Switchboard runs as, as the server makes them.
 */
export function databaseFileFinding(settings: Pick<Settings, 'dataDir' | 'database'>): Finding {
  const { database } = settings;
  if (database.engine !== 'sqlite')
    return skipped('database-file', 'PostgreSQL keeps the data, not a file here');
  if (database.file === ':memory:') return skipped('database-file', 'SQLite in memory: no file');
  const stat = statOf(database.file);
  if (stat === undefined) return skipped('database-file', `${database.file} does not exist yet`);
  const problems: Problem[] = [];
  if (!stat.isFile())
    problems.push({
      status: 'fail',
      finding: `${database.file} is not a file`,
      fix: 'check SWITCHBOARD_DATABASE_URL',
    });
  else problems.push(...ownerAndMode(database.file, stat, PRIVATE_FILE_MODE));
  for (const suffix of ['-wal', '-shm']) {
    const companion = `${database.file}${suffix}`;
    const companionStat = statOf(companion);
    if (companionStat) problems.push(...ownerAndMode(companion, companionStat, PRIVATE_FILE_MODE));
  }
  const dir = dirname(database.file);
  const dirStat = dir === settings.dataDir ? undefined : statOf(dir);
  if (dirStat) problems.push(...ownerAndMode(dir, dirStat, PRIVATE_DIR_MODE));
  return (
    combine('database-file', problems) ??
    ok(
      'database-file',
      POSIX
        ? `${database.file} is owned by ${me().username}, mode ${octal(stat.mode)}`
        : `${database.file} is there`,
    )
  );
}
