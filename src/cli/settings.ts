import { parseArgs } from 'node:util';
import { withoutPassword } from '../platform/secrets.js';
import { CONFIG_FILE_VARIABLE, type SettingOrigin } from '../platform/settings-source.js';
import { readSettings, SettingsError } from '../settings.js';
import { type CliIo, table } from './output.js';

const USAGE = 'switchboard settings [--json]';

const HELP = `Usage: ${USAGE}

Prints every setting with its value and where it came from: the environment, the settings file named by
${CONFIG_FILE_VARIABLE}, or the default. Secrets are never shown, not even in part: "(hidden)" says one
is set. An invalid setting stops it (exit 78) with the message the server would stop with.

Options:
  --json   a JSON array for scripts: {variable, file_key, value, source, secret} per setting; value is
           null when unset
  --help   show this help

See docs/configuration.md.
`;

/** One line of the answer; the names are the JSON's. */
interface ShownSetting {
  readonly variable: string;
  /** Null for SWITCHBOARD_CONFIG_FILE, which only the environment sets. */
  readonly file_key: string | null;
  readonly value: string | null;
  readonly source: SettingOrigin;
  readonly secret: boolean;
}

/** `switchboard settings [--json]`; resolves with the exit status: 0, 2 on bad usage, 78 on an invalid setting. */
export async function runSettingsCommand(args: string[], io: CliIo): Promise<number> {
  let json: boolean;
  try {
    const { values } = parseArgs({
      args,
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
      strict: true,
    });
    if (values.help) {
      io.stdout.write(HELP);
      return 0;
    }
    json = values.json === true;
  } catch (error) {
    // Node's message goes on to explain `--`; its first sentence says what is wrong.
    const message = error instanceof Error ? error.message.replace(/\..*$/s, '') : String(error);
    io.stderr.write(`switchboard settings: ${message}\nusage: ${USAGE}\n`);
    return 2;
  }
  let shown: ShownSetting[];
  try {
    shown = showSettings(io.env);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    io.stderr.write(`switchboard: ${error.message}\n`);
    return 78;
  }
  if (json) {
    io.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    return 0;
  }
  // A value with a line break or other control character is quoted, so each setting stays on its line.
  const cell = (value: string | null) =>
    value === null
      ? '(unset)'
      : value === ''
        ? '(empty)'
        : /[\u0000-\u001f\u007f]/.test(value)
          ? JSON.stringify(value)
          : value;
  const rows = shown.map((s) => [s.variable, cell(s.value), s.source]);
  io.stdout.write(`${table([['VARIABLE', 'VALUE', 'SOURCE'], ...rows])}\n`);
  return 0;
}

/** A URL with credentials (`user:password@`, or a `password` parameter) with its password masked; other text as is. */
function maskedConnection(text: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@|[?&]password=/i.test(text) ? withoutPassword(text) : text;
}

/**
 * Every setting as loadSettings reads it (and refuses it), a secret's value left out, and the password of
 * a connection URL (SWITCHBOARD_DATABASE_URL) masked as the server's log masks it.
 */
function showSettings(env: CliIo['env']): ShownSetting[] {
  const { readings, filePath } = readSettings(env);
  return [
    {
      variable: CONFIG_FILE_VARIABLE,
      file_key: null,
      value: filePath ?? null,
      source: filePath === undefined ? 'default' : 'environment',
      secret: false,
    },
    ...readings.map(({ spec, origin, text }) => ({
      variable: spec.env,
      file_key: spec.file,
      value: text === undefined ? null : spec.secret ? '(hidden)' : maskedConnection(text),
      source: origin,
      secret: spec.secret === true,
    })),
  ];
}
