import { type AppOverrides, createApp, type Switchboard } from './app.js';
import { type Settings, SettingsError } from './settings.js';
import { DataDirInUse, type DataDirLock, lockDataDir } from './storage/data-dir-lock.js';

/**
 * A server that could not start, in words that say what to change. It is a SettingsError so that the
 * command line reports it as one: "switchboard: …", exit status 78.
 */
export class StartupError extends SettingsError {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/** Why listening failed, naming the setting to change, or undefined for a failure no setting explains. */
function listenProblem(error: unknown, settings: Pick<Settings, 'host' | 'port'>): string | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  const where = `HOST=${settings.host} PORT=${settings.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return (
        `Cannot listen on ${where}: the port is in use. Another Switchboard may be running there ` +
        '(stop it first), or another program holds the port; set PORT to a free one'
      );
    case 'EACCES':
      return (
        `Cannot listen on ${where}: this user may not open port ${settings.port} ` +
        '(ports below 1024 need privileges); set PORT to 1024 or above'
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return (
        `Cannot listen on ${where}: the name "${settings.host}" does not resolve${code === 'EAI_AGAIN' ? ' (the resolver did not answer)' : ''}; ` +
        'set HOST to an address of this machine: 0.0.0.0 (every interface) or 127.0.0.1 (this machine only)'
      );
    case 'EADDRNOTAVAIL':
      return (
        `Cannot listen on ${where}: "${settings.host}" is not an address of this machine; ` +
        'set HOST to one of its addresses: 0.0.0.0 (every interface) or 127.0.0.1 (this machine only)'
      );
    default:
      return undefined;
  }
}

/** SQLite on disk is one server's alone: another process would serve it with streams of its own. */
function claimDataDir(settings: Settings): DataDirLock | undefined {
  if (settings.database.engine !== 'sqlite' || settings.database.file === ':memory:') return undefined;
  try {
    return lockDataDir(settings.dataDir);
  } catch (error) {
    if (error instanceof DataDirInUse) throw new StartupError(`Cannot start: ${error.message}`);
    throw error;
  }
}

/**
 * `switchboard serve` without its console: claims the data directory (SQLite), builds the app and
 * listens. A start that fails leaves nothing behind (the lock released, the database closed) and throws a
 * StartupError when a setting explains it. The lock goes with the server: shutdown releases it.
 */
export async function startServer(
  settings: Settings,
  overrides: AppOverrides = {},
): Promise<{ app: Switchboard; url: string }> {
  const lock = claimDataDir(settings);
  let app: Switchboard;
  try {
    app = await createApp(settings, overrides);
  } catch (error) {
    lock?.release();
    throw error;
  }
  app.server.addHook('onClose', async () => lock?.release());
  try {
    return { app, url: await app.start() };
  } catch (error) {
    await app.shutdown().catch(() => {});
    const problem = listenProblem(error, settings);
    throw problem === undefined ? error : new StartupError(problem);
  }
}
