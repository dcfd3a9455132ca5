import { pino } from 'pino';
import { CLI_CONTEXT } from '../audit/service.js';
import { canonicalJson } from '../endpoints/canonical.js';
import { versionListBody } from '../endpoints/present.js';
import type { EndpointConfig } from '../endpoints/schema.js';
import { isVersion } from '../endpoints/semver.js';
import { EndpointConfigService, MAX_MESSAGE_CHARS, type RuntimeHandle } from '../endpoints/service.js';
import { ConfigStore } from '../endpoints/store.js';
import { maskSecrets } from '../endpoints/vars.js';
import { AppError } from '../platform/problem.js';
import { type Command, type CommandGroup, Refusal, runCommandGroup, UsageError } from './command-group.js';
import { readJsonInput } from './json-input.js';
import { type CliIo, table, writePrivateFile } from './output.js';

export const CONFIG_HELP = `Usage: switchboard config <command> [options]

Manages the versioned endpoint configuration (docs/endpoint-configuration.md) in the database the
settings name (the same SWITCHBOARD_* variables as serve); the audit log names the actor "cli".
Running servers switch to a version activated here within 10 seconds, at their next check of the
active version.

Commands:
  list [--json]       saved versions, newest first, marking the active one and the last good one (what
                      servers fall back to when the active one cannot load); then whether a version
                      failed to load (recovery) and why. --json prints the object
                      GET /api/v1/config/versions returns
  export [--version V] [--output FILE] [--with-secrets]
                      the active (or given) version as canonical JSON, on standard output or into FILE
                      (readable by its owner only). Secret variables show as "********" unless
                      --with-secrets; a masked export imported again keeps the active version's secrets
  import FILE [--version V] [--message TEXT] [--no-activate]
                      save FILE ("-" reads standard input) as a new version and activate it; prints the
                      version and the diff against the active one. FILE holds the configuration, or
                      {"config": ..., "version", "activate", "message"} as POST /api/v1/config takes
                      (the options win over those fields). Without a version: the next patch version
  activate VERSION    build a saved version and make it active
  diff [FROM [TO]]    unified diff between two saved versions; one left out is the active version
  diff --file FILE [--base V]
                      a draft in FILE against the active (or --base) version
  --help              show this help

Activation (import, activate) builds the version here before anything changes: every
\${env:SWITCHBOARD_VAR_...} resolved against this command's environment, every function module loaded
once in a sandbox. So run it with the servers' environment (SWITCHBOARD_ENDPOINT_HOSTS,
SWITCHBOARD_FUNCTIONS_DIR, the SWITCHBOARD_VAR_* variables). A version that cannot be built is not
activated: the reason is printed, the active version stays, and config list shows the recovery.

Exit status: 0 done; 1 refused (a document that is not valid, each problem printed as
"<pointer>: <message>"; a file that cannot be read or is not JSON; a version that is already saved or
does not exist; a version that cannot be activated, which import keeps saved); 2 bad usage;
78 an invalid setting.
`;

/** What the command line needs of the configuration once the database is open. */
interface Tools {
  service: EndpointConfigService;
  /** Read directly for what the service never shows: the stored document with its secrets. */
  store: ConfigStore;
}

/** The command line runs no streams: activation builds a version to prove it loads, then lets it go. */
const NO_RUNTIME: RuntimeHandle = { loaded: null, apply() {} };

function version(value: string | boolean | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!isVersion(text)) throw new UsageError(`${what} "${text}" is not a semantic version such as 1.4.0`);
  return text;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A JSON file, or standard input for "-"; a Refusal when it cannot be read or parsed. */
function readJson(file: string, limitBytes: number, io: CliIo): Promise<unknown> {
  return readJsonInput(file === '-' ? undefined : file, {
    io,
    limit: limitBytes,
    tooLarge: `a configuration may have at most ${limitBytes.toLocaleString('en-US')} (SWITCHBOARD_CONFIG_BODY_LIMIT_BYTES)`,
    holds: 'a JSON configuration',
  });
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** What stays active after a failed activation, in words. */
async function stillActive(store: ConfigStore): Promise<string> {
  const { activeVersion } = await store.state();
  return activeVersion === null
    ? 'no version is active'
    : `version ${activeVersion} stays active; switchboard config list shows the recovery`;
}

const COMMANDS: Record<string, Command<Tools>> = {
  list: {
    usage: 'switchboard config list [--json]',
    options: { json: { type: 'boolean' } },
    positionals: [],
    plan(_positionals, values) {
      return {
        async run({ service }, io) {
          const list = await service.list();
          const { versions, state } = list;
          if (values.json) {
            io.stdout.write(`${JSON.stringify(versionListBody(list), null, 2)}\n`);
            return;
          }
          if (versions.length === 0) {
            io.stdout.write('no versions saved yet; switchboard config import FILE saves one\n');
            return;
          }
          const marks = (v: (typeof versions)[number]) =>
            [
              v.active && 'active',
              v.version === state.lastGoodVersion && 'last good',
              state.recovery && v.version === state.recoveryVersion && 'does not load',
            ]
              .filter(Boolean)
              .join(', ') || '-';
          const rows = versions.map((v) => [
            v.version,
            marks(v),
            v.createdAt,
            v.createdBy ?? '-',
            v.message ?? '',
          ]);
          io.stdout.write(`${table([['VERSION', 'STATE', 'CREATED', 'BY', 'MESSAGE'], ...rows])}\n`);
          const recovery = state.recovery
            ? `yes, version ${state.recoveryVersion ?? '?'} does not load: ${state.recoveryReason ?? 'no reason recorded'}`
            : 'no';
          io.stdout.write(
            `\nactive: ${state.activeVersion ?? 'none'}; last good: ${state.lastGoodVersion ?? 'none'}; recovery: ${recovery}\n`,
          );
        },
      };
    },
  },

  export: {
    usage: 'switchboard config export [--version V] [--output FILE] [--with-secrets]',
    options: { version: { type: 'string' }, output: { type: 'string' }, 'with-secrets': { type: 'boolean' } },
    positionals: [],
    plan(_positionals, values) {
      const wanted = version(values.version, '--version');
      const output = values.output === undefined ? undefined : String(values.output);
      if (output === '') throw new UsageError('--output needs a file name');
      const withSecrets = values['with-secrets'] === true;
      return {
        async run({ store }, io) {
          const chosen = wanted ?? (await store.state()).activeVersion;
          if (chosen === null)
            throw new Refusal(
              'no version is active yet; name one with --version (switchboard config list shows them)',
            );
          const record = await store.get(chosen);
          if (!record) throw new Refusal(`no saved configuration version "${chosen}"`);
          const text = withSecrets
            ? record.document
            : canonicalJson(maskSecrets(JSON.parse(record.document) as EndpointConfig));
          if (output === undefined) {
            io.stdout.write(text);
            return;
          }
          await writePrivateFile(output, text);
          io.stdout.write(
            `wrote version ${record.version} to ${output}${withSecrets ? ' with its secrets' : ' (secrets masked)'}\n`,
          );
        },
      };
    },
  },

  import: {
    usage: 'switchboard config import FILE [--version V] [--message TEXT] [--no-activate]',
    options: {
      version: { type: 'string' },
      message: { type: 'string' },
      'no-activate': { type: 'boolean' },
    },
    positionals: ['FILE'],
    plan([file = ''], values) {
      const chosen = version(values.version, '--version');
      const message = values.message === undefined ? undefined : String(values.message);
      if (message !== undefined && message.length > MAX_MESSAGE_CHARS)
        throw new UsageError(`--message must be at most ${MAX_MESSAGE_CHARS} characters`);
      const name = file === '-' ? 'standard input' : file;
      let body: unknown;
      return {
        async read(settings, io) {
          body = await readJson(file, settings.endpoints.configBodyLimitBytes, io);
        },
        async run({ service, store }, io) {
          let result: Awaited<ReturnType<EndpointConfigService['save']>>;
          try {
            const request = EndpointConfigService.saveRequestOf(body);
            if (chosen !== undefined) request.version = chosen;
            if (message !== undefined) request.message = message;
            if (values['no-activate']) request.activate = false;
            result = await service.save(request, CLI_CONTEXT);
          } catch (error) {
            if (error instanceof AppError && error.status === 422) {
              const problems = error.options.errors ?? [];
              throw new Refusal(
                `${name} is not a valid endpoint configuration (${plural(problems.length, 'problem')}); nothing was saved`,
                problems,
              );
            }
            throw error;
          }
          io.stdout.write(
            result.active
              ? `saved version ${result.version} and activated it; running servers switch to it within 10 seconds\n`
              : result.activationError
                ? `saved version ${result.version}; it is not active (it cannot be loaded, see below)\n`
                : `saved version ${result.version}, not activated; switchboard config activate ${result.version} does it\n`,
          );
          io.stdout.write(result.diff === '' ? 'no change from the active version\n' : result.diff);
          if (result.activationError) {
            throw new Refusal(
              `version ${result.version} is saved but cannot be activated: ${result.activationError}\n` +
                `${await stillActive(store)}; fix the cause and run switchboard config activate ${result.version}`,
            );
          }
        },
      };
    },
  },

  activate: {
    usage: 'switchboard config activate VERSION',
    options: {},
    positionals: ['VERSION'],
    plan([given = '']) {
      const wanted = version(given, 'VERSION') ?? given;
      return {
        async run({ service, store }, io) {
          try {
            await service.activate(wanted, CLI_CONTEXT);
          } catch (error) {
            if (error instanceof AppError && error.status === 404)
              throw new Refusal(
                `no saved configuration version "${wanted}" (switchboard config list shows them)`,
              );
            if (error instanceof AppError && error.status === 422)
              throw new Refusal(`${error.message}\n${await stillActive(store)}`);
            throw error;
          }
          io.stdout.write(`activated version ${wanted}; running servers switch to it within 10 seconds\n`);
        },
      };
    },
  },

  diff: {
    usage: 'switchboard config diff [FROM [TO]] | switchboard config diff --file FILE [--base V]',
    options: { file: { type: 'string' }, base: { type: 'string' } },
    positionals: [],
    optional: ['FROM', 'TO'],
    plan(positionals, values) {
      const base = version(values.base, '--base');
      if (values.file === undefined) {
        if (base !== undefined) throw new UsageError('--base goes with --file');
        const [from, to] = positionals.map((p, i) => version(p, i === 0 ? 'FROM' : 'TO'));
        const label = (v: string | undefined, active: string | null) => v ?? active ?? '(none)';
        return {
          async run({ service, store }, io) {
            const diff = await versionsDiff(service, from, to);
            if (diff !== '') {
              io.stdout.write(diff);
              return;
            }
            const { activeVersion } = await store.state();
            io.stderr.write(
              `no differences between version ${label(from, activeVersion)} and version ${label(to, activeVersion)}\n`,
            );
          },
        };
      }
      if (positionals.length > 0)
        throw new UsageError(
          `--file compares a draft with one version (--base); "${positionals[0]}" is extra`,
        );
      const file = String(values.file);
      if (file === '') throw new UsageError('--file needs a file name');
      let draft: unknown;
      return {
        async read(settings, io) {
          const body = await readJson(file, settings.endpoints.configBodyLimitBytes, io);
          // The same rule as import: a top-level "config" key means the save wrapper.
          draft = isObject(body) && 'config' in body ? body.config : body;
        },
        async run({ service }, io) {
          let diff: string;
          try {
            diff = await service.diffDraft(draft, base);
          } catch (error) {
            if (error instanceof AppError && error.status === 404)
              throw new Refusal(`no saved configuration version "${base}" to compare with`);
            const name = file === '-' ? 'standard input' : file;
            if (error instanceof AppError && error.status === 422) {
              // Checked against the JSON Schema, as a draft sent to the server is.
              const problems = error.options.errors ?? [];
              throw new Refusal(
                `${name} does not have the shape of an endpoint configuration (${plural(problems.length, 'problem')})`,
                problems,
              );
            }
            if (error instanceof AppError && error.status === 400)
              throw new Refusal(`${name}: ${error.message}`);
            throw error;
          }
          if (diff === '') io.stderr.write('no differences\n');
          else io.stdout.write(diff);
        },
      };
    },
  },
};

async function versionsDiff(
  service: EndpointConfigService,
  from: string | undefined,
  to: string | undefined,
): Promise<string> {
  try {
    return await service.diffVersions(from, to);
  } catch (error) {
    if (error instanceof AppError && error.status === 404)
      throw new Refusal(`${error.message} (switchboard config list shows them)`);
    if (error instanceof AppError && error.status === 422)
      throw new Refusal('no version is active; name both versions: switchboard config diff FROM TO');
    throw error;
  }
}

const CONFIG_COMMANDS: CommandGroup<Tools> = {
  name: 'config',
  help: CONFIG_HELP,
  commands: COMMANDS,
  async withTools(settings, { storage, audit }, env, run) {
    const service = new EndpointConfigService({
      db: storage.db,
      audit,
      runtime: NO_RUNTIME,
      settings: settings.endpoints,
      // What matters reaches the operator as the command's own output; the service's log lines would repeat it.
      log: pino({ level: 'silent' }),
      env,
      publish: async () => {},
    });
    await run({ service, store: new ConfigStore(storage.db) });
  },
};

/** `switchboard config …`; returns the exit status. A SettingsError is left to the caller (exit 78). */
export const runConfigCommand = (args: string[], io: CliIo): Promise<number> =>
  runCommandGroup(CONFIG_COMMANDS, args, io);
