import { chmodSync, mkdirSync, readdirSync, type Stats, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, parse, relative, resolve, sep } from 'node:path';
import type { Settings } from '../settings.js';
import { LOCK_FILE } from './data-dir-lock.js';

/** Owner only: the database and the setup token must not be readable by other local users. */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** File mode bits do not exist on Windows; there the checks would only report noise. */
const POSIX = process.platform !== 'win32';

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/** Creates `dir` and its missing parents, the directory itself with mode 0700 whatever the umask. */
export function createPrivateDir(dir: string): void {
  const created = mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (created !== undefined && POSIX) chmodSync(dir, PRIVATE_DIR_MODE);
}

/**
 * Takes from an existing file or directory the mode bits beyond `mode` (a database an earlier version
 * left 0644, say). Throws, naming the file, when that is not allowed: opening it anyway would go on
 * exposing it.
 */
export function restrictMode(path: string, mode: number): void {
  if (!POSIX) return;
  let current: number;
  try {
    current = statSync(path).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if ((current & ~mode) === 0) return;
  try {
    chmodSync(path, mode);
  } catch (error) {
    throw new Error(
      `${path} is readable by other users (mode ${octal(current)}) and cannot be made ${octal(mode)} ` +
        `(${(error as NodeJS.ErrnoException).code ?? 'error'}); chown it to the user Switchboard runs as, or chmod it`,
    );
  }
}

/**
 * Makes the data directory, and the SQLite database's directory when that is elsewhere, private to the
 * user Switchboard runs as; returns what the log should warn about. A directory Switchboard created is
 * 0700 already. An existing one open to others is tightened only when it is plainly Switchboard's own;
 * otherwise (the working or home directory, a directory shared with other files) it is left as it is and
 * the warning says why: Switchboard's files in it are 0600 whatever the directory's mode.
 */
export function secureDataDirs(
  settings: Pick<Settings, 'dataDir' | 'database' | 'endpoints' | 'widgets'>,
): string[] {
  if (!POSIX) return [];
  const own = new Map<string, Set<string>>();
  const claim = (dir: string, ...names: string[]) => {
    const entries = own.get(dir) ?? new Set<string>();
    for (const name of names) entries.add(name);
    own.set(dir, entries);
  };
  const dataDir = resolve(settings.dataDir);
  claim(dataDir, 'setup-token', LOCK_FILE);
  const { functionsDir } = settings.endpoints;
  if (dirname(functionsDir) === dataDir) claim(dataDir, basename(functionsDir));
  const widgetsDir = settings.widgets.cacheDir;
  if (dirname(widgetsDir) === dataDir) claim(dataDir, basename(widgetsDir));
  if (settings.database.engine === 'sqlite' && settings.database.file !== ':memory:') {
    const file = resolve(settings.database.file);
    const name = basename(file);
    claim(dirname(file), name, `${name}-wal`, `${name}-shm`, `${name}-journal`);
  }
  const warnings: string[] = [];
  for (const [dir, entries] of own) {
    const warning = secureExistingDir(dir, entries);
    if (warning) warnings.push(warning);
  }
  return warnings;
}

function secureExistingDir(dir: string, ownEntries: ReadonlySet<string>): string | undefined {
  let stat: Stats;
  try {
    stat = statSync(dir);
  } catch (error) {
    // Not made yet: whoever writes into it first creates it private.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const mode = stat.mode & 0o777;
  if ((mode & 0o077) === 0) return undefined;
  const reason = notSwitchboardsOwn(dir, stat, ownEntries);
  if (reason !== undefined) {
    return (
      `Data directory ${dir} is open to other users (mode ${octal(mode)}) and left so because ${reason}; ` +
      `Switchboard's own files in it are ${octal(PRIVATE_FILE_MODE)}. Give Switchboard a directory of its own ` +
      `(SWITCHBOARD_DATA_DIR) or chmod ${octal(PRIVATE_DIR_MODE)} it.`
    );
  }
  chmodSync(dir, PRIVATE_DIR_MODE);
  return `Data directory ${dir} was open to other users (mode ${octal(mode)}); tightened it to ${octal(PRIVATE_DIR_MODE)}.`;
}

/** Why changing the mode of `dir` could hurt something else, if it could. */
function notSwitchboardsOwn(dir: string, stat: Stats, ownEntries: ReadonlySet<string>): string | undefined {
  if (process.getuid && stat.uid !== process.getuid()) return 'another user owns it';
  if (dir === parse(dir).root) return 'it is the root directory';
  if (contains(dir, homedir())) return 'it is the home directory or holds it';
  if (contains(dir, process.cwd())) return 'it is the working directory or holds it';
  const others = readdirSync(dir).filter((name) => !ownEntries.has(name));
  if (others.length > 0) {
    const shown = others.slice(0, 3).join(', ') + (others.length > 3 ? ', …' : '');
    return `it holds other files too (${shown})`;
  }
  return undefined;
}

/** Whether `path` is `dir` or inside it. */
function contains(dir: string, path: string): boolean {
  const rel = relative(dir, resolve(path));
  return rel === '' || (rel.split(sep)[0] !== '..' && !isAbsolute(rel));
}
