import { pino } from 'pino';
import { CLI_CONTEXT } from '../audit/service.js';
import { presentWidget } from '../widgets/present.js';
import { WidgetsService } from '../widgets/service.js';
import { type Command, type CommandGroup, Refusal, runCommandGroup } from './command-group.js';
import { type CliIo, table } from './output.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export const WIDGETS_HELP = `Usage: switchboard widgets <command> [options]

Manages the widget bundles registered in the database the settings name (the same SWITCHBOARD_* variables
as serve), with this machine's cache directory (SWITCHBOARD_WIDGETS_CACHE_DIR); the audit log names the
actor "cli".

Commands:
  list [--json]       registered bundles, and whether this machine has them unpacked; --json prints the
                      objects GET /api/v1/widgets returns
  add <package> <version>
                      register a bundle as POST /api/v1/widgets does: an allowed scope, an exact version,
                      fetched from the registry through the allowed hosts, its integrity verified and
                      unpacked safely before it is registered
  remove <package> <version>
                      remove a bundle: its registration and this machine's files (other instances stop
                      serving it at once; their copies stay on their disks, unused)
  verify              hash every file of every bundle in this machine's cache against the digests kept
                      when it was registered, and report what changed, went missing or was added
  --help              show this help

Exit status: 0 done (verify: nothing drifted); 1 refused (not allowed, not found, failed verification,
the registry failed) or, for verify, drift found; 2 bad usage; 78 an invalid setting.
`;

const COMMANDS: Record<string, Command<WidgetsService>> = {
  list: {
    usage: 'switchboard widgets list [--json]',
    options: { json: { type: 'boolean' } },
    positionals: [],
    plan(_positionals, values) {
      return {
        async run(service, io) {
          const widgets = await service.list();
          if (values.json === true) {
            io.stdout.write(
              `${JSON.stringify(
                widgets.map((w) => ({ ...presentWidget(w), cached: w.cached })),
                null,
                2,
              )}\n`,
            );
            return;
          }
          if (widgets.length === 0) {
            io.stdout.write('no widget bundles are registered\n');
            return;
          }
          const rows = widgets.map((w) => [
            w.package,
            w.version,
            String(w.files),
            String(w.size),
            w.cached ? 'yes' : 'no',
            w.registeredAt,
          ]);
          io.stdout.write(
            `${table([['PACKAGE', 'VERSION', 'FILES', 'BYTES', 'CACHED HERE', 'REGISTERED'], ...rows])}\n`,
          );
        },
      };
    },
  },

  add: {
    usage: 'switchboard widgets add <package> <version>',
    options: {},
    positionals: ['<package>', '<version>'],
    plan([pkg = '', version = '']) {
      return {
        async run(service, io) {
          const { widget, created } = await service.register(pkg, version, CLI_CONTEXT);
          io.stdout.write(
            `${created ? 'registered' : 'already registered:'} ${widget.package}@${widget.version} (${plural(widget.files, 'file')}, ${plural(widget.size, 'byte')}, ${widget.integrity.slice(0, 24)}…)\n`,
          );
        },
      };
    },
  },

  remove: {
    usage: 'switchboard widgets remove <package> <version>',
    options: {},
    positionals: ['<package>', '<version>'],
    plan([pkg = '', version = '']) {
      return {
        async run(service, io) {
          await service.remove(pkg, version, CLI_CONTEXT);
          io.stdout.write(`removed ${pkg}@${version}\n`);
        },
      };
    },
  },

  verify: {
    usage: 'switchboard widgets verify',
    options: {},
    positionals: [],
    plan() {
      return {
        async run(service, io) {
          const checks = await service.verify();
          let drifted = 0;
          for (const check of checks) {
            if (!check.cached) {
              io.stdout.write(`${check.name}: not cached here (fetched again on its first request)\n`);
              continue;
            }
            const problems = [
              ...check.changed.map((path) => `changed ${path}`),
              ...check.missing.map((path) => `missing ${path}`),
              ...check.added.map((path) => `added ${path}`),
            ];
            if (problems.length === 0) io.stdout.write(`${check.name}: ok\n`);
            else {
              drifted += 1;
              io.stdout.write(`${check.name}: DRIFT\n${problems.map((p) => `  ${p}\n`).join('')}`);
            }
          }
          if (drifted > 0) {
            throw new Refusal(
              `${plural(drifted, 'bundle')} on this machine ${drifted === 1 ? 'differs' : 'differ'} from what was approved; they are not served as they are: the server unpacks them again from the registry when asked`,
            );
          }
        },
      };
    },
  },
};

const WIDGETS_COMMANDS: CommandGroup<WidgetsService> = {
  name: 'widgets',
  help: WIDGETS_HELP,
  commands: COMMANDS,
  async withTools(settings, foundation, _env, run) {
    const service = new WidgetsService({
      db: foundation.storage.db,
      audit: foundation.audit,
      settings: settings.widgets,
      log: pino({ level: 'silent' }),
      now: Date.now,
    });
    await run(service);
  },
};

/** `switchboard widgets …`; returns the exit status. A SettingsError is left to the caller (exit 78). */
export const runWidgetsCommand = (args: string[], io: CliIo): Promise<number> =>
  runCommandGroup(WIDGETS_COMMANDS, args, io);
