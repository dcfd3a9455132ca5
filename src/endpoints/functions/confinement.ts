import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * How a function's child process is confined: Node's permission model lets it read its functions directory
 * and nothing else, and write, start processes or worker threads, load addons, use WASI or the inspector
 * not at all. Anything it tries is an ERR_ACCESS_DENIED error, thrown where it tried.
 */
export type Confinement = { flags: string[] } | { problem: string };

/** Node versions before this one let WASI read any file under the permission model (no `--allow-wasi`). */
const OLDEST_CONFINING_NODE = '20.16';

export function confinement(functionsDir: string): Confinement {
  const known = process.allowedNodeEnvironmentFlags;
  // `--permission` from Node 22.13 and 23.5 on, `--experimental-permission` before.
  const permission = known.has('--permission')
    ? '--permission'
    : known.has('--experimental-permission')
      ? '--experimental-permission'
      : undefined;
  if (permission === undefined || !known.has('--allow-wasi')) {
    return {
      problem: `local functions need Node ${OLDEST_CONFINING_NODE} or later, whose permission model confines them; this server runs Node ${process.versions.node}`,
    };
  }
  const readable = new Set([resolve(functionsDir)]);
  try {
    // Modules are imported by their real path, which a symbolic link on the way would make another one.
    readable.add(realpathSync(functionsDir));
  } catch {
    // Gone since it was checked: the import fails and says so.
  }
  for (const dir of readable) {
    // Node reads everything after a `*` as matching anything, which would grant more than the directory.
    if (dir.includes('*')) {
      return {
        problem:
          'the functions directory has a "*" in its path, which Node\'s permission model reads as a wildcard; use a directory without one',
      };
    }
  }
  return {
    flags: [
      permission,
      ...[...readable].map((dir) => `--allow-fs-read=${dir}`),
      // The permission model refuses addons already (no `--allow-addons`); said outright all the same.
      '--no-addons',
      // node:sqlite opens database files without asking the permission model.
      ...(known.has('--experimental-sqlite') ? ['--no-experimental-sqlite'] : []),
      // Every start would print that the permission model is experimental, burying a crash's own output.
      '--disable-warning=ExperimentalWarning',
    ],
  };
}

let inspectorKeptShut = false;

/**
 * SIGUSR1 makes Node open its inspector, through which whoever reaches 127.0.0.1:9229 runs code in the
 * server, and a function can reach it: the permission model does not govern the network, and any process
 * of the same user may send the signal. A listener of its own stops Node from acting on it.
 */
export function keepInspectorShut(): void {
  if (inspectorKeptShut || process.platform === 'win32') return;
  inspectorKeptShut = true;
  process.on('SIGUSR1', () => {});
}
