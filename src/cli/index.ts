import { logDestination } from '../platform/disk-full.js';
import { loadSettings, SettingsError } from '../settings.js';
import { openFoundation } from '../start-up.js';
import { VERSION } from '../version.js';
import { runConfigCommand } from './config.js';
import { runDoctorCommand } from './doctor.js';
import { type CliIo, processIo } from './output.js';
import { runPrefsCommand } from './prefs.js';
import { runSettingsCommand } from './settings.js';
import { runUserCommand } from './user.js';
import { runWidgetsCommand } from './widgets.js';

const HELP = `switchboard ${VERSION}: backend for live operations dashboards

Usage: switchboard <command>

Commands:
  serve       run the server (default)
  migrate     apply pending database migrations and exit
  user        manage local accounts: add, list, set-role, disable, enable, reset-password, unlock
              (switchboard user --help)
  config      manage the endpoint configuration: list, export, import, activate, diff
              (switchboard config --help)
  prefs       move a user's layout (preferences and grants) between servers: export, import
              (switchboard prefs --help)
  widgets     manage widget bundles: list, add, remove, verify (switchboard widgets --help)
  settings    print every setting, its value and where it came from, secrets hidden (--json)
  doctor      check a deployment: settings, database and migrations, Redis and clock skew, data
              directory permissions, the server at the public URL; says what to fix (--json, --url)
  --help      show this help
  --version   print the version

Settings come from SWITCHBOARD_* environment variables (and PORT, HOST) or the file named by
SWITCHBOARD_CONFIG_FILE; see docs/configuration.md.
`;

/**
 * Runs the server until SIGTERM or SIGINT has shut it down; resolves with the exit status: 0 once shut
 * down, 1 when shutting down failed, 130 on a second signal (the operator does not want to wait).
 */
async function serve(io: CliIo): Promise<number> {
  const settings = loadSettings(io.env);
  // Loaded here so that the other commands do not pay for the whole server.
  const { startServer } = await import('../server.js');
  const { app, url } = await startServer(settings, { env: io.env, logStream: logDestination(io.stdout) });
  // With the default public URL and PORT=0, only the listening socket knows the port.
  const shown =
    settings.publicUrl === `http://localhost:${settings.port}`
      ? `http://localhost:${new URL(url).port}`
      : settings.publicUrl;
  io.stdout.write(
    `\nSwitchboard is running at ${shown}\n` +
      `  First, check it answers: ${shown}/healthz\n` +
      `  Then browse the API: ${shown}/docs (OpenAPI document: ${shown}/openapi.json)\n` +
      '  Settings: docs/configuration.md. Stop with Ctrl+C.\n\n' +
      firstRunHint(shown, app.auth.setup.pendingTokenSource),
  );
  return new Promise((resolve) => {
    let signals = 0;
    const stop = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        resolve(130);
        return;
      }
      app.server.log.info({ signal }, 'shutting down');
      app.shutdown().then(
        () => {
          app.server.log.info('shutdown complete');
          resolve(0);
        },
        (error: unknown) => {
          app.server.log.error({ err: error }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
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

async function migrate(io: CliIo): Promise<void> {
  const settings = loadSettings(io.env);
  const { storage, migrated } = await openFoundation(settings, { poolSize: 1 });
  await storage.close();
  io.stdout.write(migrated.length ? `applied: ${migrated.join(', ')}\n` : 'database is up to date\n');
}

/**
 * `switchboard <args>`; resolves with the exit status. It never exits the process (src/main.ts does), so
 * tests run it in-process with streams and an environment of their own.
 */
export async function runCli(args: string[], io: CliIo = processIo()): Promise<number> {
  const command = args[0] ?? 'serve';
  try {
    switch (command) {
      case '--help':
      case '-h':
      case 'help':
        io.stdout.write(HELP);
        return 0;
      case '--version':
      case '-v':
        io.stdout.write(`${VERSION}\n`);
        return 0;
      case 'serve':
        return await serve(io);
      case 'migrate':
        await migrate(io);
        return 0;
      case 'user':
        return await runUserCommand(args.slice(1), io);
      case 'config':
        return await runConfigCommand(args.slice(1), io);
      case 'prefs':
        return await runPrefsCommand(args.slice(1), io);
      case 'widgets':
        return await runWidgetsCommand(args.slice(1), io);
      case 'settings':
        return await runSettingsCommand(args.slice(1), io);
      case 'doctor':
        return await runDoctorCommand(args.slice(1), io);
      default:
        io.stderr.write(`unknown command "${command}"\n\n${HELP}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof SettingsError) {
      io.stderr.write(`switchboard: ${error.message}\n`);
      return 78;
    }
    io.stderr.write(`switchboard: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
