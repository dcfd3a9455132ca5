import { loadSettings, SettingsError } from '../settings.js';
import { openStorage } from '../storage/database.js';
import { migrateToLatest } from '../storage/migrations.js';
import { VERSION } from '../version.js';
import { runConfigCommand } from './config.js';
import { runUserCommand } from './user.js';

const HELP = `switchboard ${VERSION}: backend for live operations dashboards

Usage: switchboard <command>

Commands:
  serve       run the server (default)
  migrate     apply pending database migrations and exit
  user        manage local accounts: add, list, set-role, disable, enable, reset-password, unlock
              (switchboard user --help)
  config      manage the endpoint configuration: list, export, import, activate, diff
              (switchboard config --help)
  --help      show this help
  --version   print the version

Settings come from SWITCHBOARD_* environment variables (and PORT, HOST) or the file named by
SWITCHBOARD_CONFIG_FILE; see docs/configuration.md.
`;

async function serve(): Promise<void> {
  const settings = loadSettings();
  // Loaded here so that the other commands do not pay for the whole server.
  const { createApp } = await import('../app.js');
  const app = await createApp(settings);
  const url = await app.start();
  const shown = settings.publicUrl;
  app.server.log.info({ url, database: settings.database.engine }, `Switchboard listening on ${url}`);
  process.stdout.write(
    `\nSwitchboard is running at ${shown}\n` +
      `  First, check it answers: ${shown}/healthz\n` +
      `  Then browse the API: ${shown}/docs (OpenAPI document: ${shown}/openapi.json)\n` +
      '  Settings: docs/configuration.md. Stop with Ctrl+C.\n\n' +
      firstRunHint(shown, app.auth.setup.pendingTokenSource),
  );
  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) process.exit(130);
    app.server.log.info({ signal }, 'shutting down');
    app.shutdown().then(
      () => {
        app.server.log.info('shutdown complete');
        process.exit(0);
      },
      (error: unknown) => {
        app.server.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function firstRunHint(url: string, tokenSource: string | undefined): string {
  if (tokenSource === undefined) return '';
  return (
    'No admin yet. Create the first one with the setup token (' +
    (tokenSource.startsWith('SWITCHBOARD_') ? `the value of ${tokenSource}` : `in ${tokenSource}`) +
    '):\n' +
    `  curl -X POST ${url}/api/v1/auth/setup -H 'content-type: application/json' \\\n` +
    `    -d '{"username": "admin", "password": "<12 characters or more>", "setup_token": "<the token>"}'\n` +
    '  or on this machine: npx switchboard user add <username> --role admin\n\n'
  );
}

async function migrate(): Promise<void> {
  const settings = loadSettings();
  const storage = openStorage(settings.database, 1);
  try {
    const applied = await migrateToLatest(storage);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
  } finally {
    await storage.close();
  }
}

export async function runCli(args: string[]): Promise<number> {
  const command = args[0] ?? 'serve';
  try {
    switch (command) {
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(HELP);
        return 0;
      case '--version':
      case '-v':
        process.stdout.write(`${VERSION}\n`);
        return 0;
      case 'serve':
        await serve();
        return 0;
      case 'migrate':
        await migrate();
        return 0;
      case 'user':
        return await runUserCommand(args.slice(1));
      case 'config':
        return await runConfigCommand(args.slice(1));
      default:
        process.stderr.write(`unknown command "${command}"\n\n${HELP}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof SettingsError) {
      process.stderr.write(`switchboard: ${error.message}\n`);
      return 78;
    }
    process.stderr.write(`switchboard: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
