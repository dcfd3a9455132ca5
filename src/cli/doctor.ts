import { parseArgs } from 'node:util';
import { parseHttpUrl } from '../platform/settings-spec.js';
import { readSettings, type Settings } from '../settings.js';
import { VERSION } from '../version.js';
import { type Finding, fail, reason, type Status, skipped } from './doctor/check.js';
import { databaseFileFinding, dataDirFinding } from './doctor/data-dir.js';
import { databaseFindings } from './doctor/database.js';
import { redisFindings } from './doctor/redis.js';
import { hideSecrets, secretValues } from './doctor/secrets.js';
import { serverFindings } from './doctor/server.js';
import { configUiFinding, settingsFinding, startWarnings } from './doctor/settings.js';
import type { CliIo } from './output.js';

const USAGE = 'switchboard doctor [--json] [--url <base url>]';

const HELP = `Usage: ${USAGE}

Checks a deployment from this machine, with the settings the server reads (the same SWITCHBOARD_*
variables and settings file), and prints one line per check with what to fix. It changes nothing.

  settings            the settings load
  https, shared-public-url, config-ui
                      what the server warns about at start: a plain-HTTP public URL on the network, a
                      public URL instances sharing Redis must agree on, the Config UI not built
  data-dir            the data directory: there, a directory, writable, owned by this user, mode 0700
  database-file       the SQLite file and its -wal and -shm: owned by this user, mode 0600
  database, migrations
                      the database answers within 5 s; every migration applied, none unknown
  redis, clock-skew   with SWITCHBOARD_REDIS_URL: PING answers; this clock against Redis's TIME (warn
                      over 1 s, fail over 5 s: tokens, tickets and leases expire by it)
  server, public-url, readiness
                      GET /healthz at the public URL (or --url): Switchboard of this version, at its
                      SWITCHBOARD_PUBLIC_URL; GET /readyz: ready. No answer is a warning

Options:
  --json         {checks: [{name, status, finding, fix}], ok} for scripts; status is ok, warn, fail or
                 skipped (the finding says why), fix is null when there is nothing to do
  --url URL      the server to ask (default: SWITCHBOARD_PUBLIC_URL)
  --help         show this help

Exit status: 0 nothing failed (warnings allowed); 1 a check failed; 2 bad usage; 78 invalid settings.
Secrets are never shown. See docs/cli.md.
`;

/** Every check, in the order of the report; all of them skipped when the settings do not load. */
export const CHECKS = [
  'settings',
  'https',
  'shared-public-url',
  'config-ui',
  'data-dir',
  'database-file',
  'database',
  'migrations',
  'redis',
  'clock-skew',
  'server',
  'public-url',
  'readiness',
] as const;

export interface DoctorOptions {
  /** This machine's clock, as the clock-skew check reads it (tests move it). */
  readonly now?: () => number;
}

/** A group of checks that throws unexpectedly fails its checks, saying why, rather than the command. */
async function guarded(
  names: readonly string[],
  run: () => Finding[] | Promise<Finding[]>,
): Promise<Finding[]> {
  try {
    return await run();
  } catch (error) {
    const why = `could not be checked: ${reason(error)}`;
    return names.map((name) =>
      fail(name, why, 'see the reason (a file or service this machine cannot reach)'),
    );
  }
}

async function runChecks(settings: Settings, url: string, options: DoctorOptions): Promise<Finding[]> {
  // The files first: opening SQLite (even read-only) may add its -wal and -shm.
  const files = await guarded(['data-dir', 'database-file'], () => [
    dataDirFinding(settings),
    databaseFileFinding(settings),
  ]);
  const [configUi, database, redis, server] = await Promise.all([
    guarded(['config-ui'], async () => [await configUiFinding(settings)]),
    guarded(['database', 'migrations'], () => databaseFindings(settings.database)),
    guarded(['redis', 'clock-skew'], () => redisFindings(settings.redisUrl, options.now)),
    guarded(['server', 'public-url', 'readiness'], () => serverFindings(url, settings.publicUrl)),
  ]);
  return [...startWarnings(settings), ...configUi, ...files, ...database, ...redis, ...server];
}

const MARK: Record<Status, string> = { ok: '[ ok ]', warn: '[warn]', fail: '[FAIL]', skipped: '[skip]' };

function humanReport(findings: readonly Finding[], settingsValid: boolean): string {
  const width = Math.max(...findings.map((f) => f.name.length));
  const lines = findings.map((f) => {
    const finding = f.finding.replace(/\.+$/, '');
    return `${MARK[f.status]} ${f.name.padEnd(width)}  ${finding}${f.fix === null ? '' : `. Fix: ${f.fix}`}`;
  });
  const count = (status: Status) => findings.filter((f) => f.status === status).length;
  const [failed, warnings, passed, skippedCount] = [
    count('fail'),
    count('warn'),
    count('ok'),
    count('skipped'),
  ];
  const tally =
    `${failed} failed, ${warnings} warning${warnings === 1 ? '' : 's'}, ${passed} ok, ` +
    `${skippedCount} skipped`;
  const verdict = !settingsValid
    ? 'the settings do not load; fix them first, then run switchboard doctor again'
    : failed > 0
      ? 'fix what failed, then run switchboard doctor again'
      : warnings > 0
        ? 'nothing failed; the warnings are worth a look'
        : 'all good';
  return `switchboard doctor ${VERSION}\n${lines.join('\n')}\n${tally}: ${verdict}\n`;
}

/**
 * `switchboard doctor [--json] [--url URL]`; resolves with the exit status: 0 when no check failed, 1
 * when one did, 2 on bad usage, 78 when the settings do not load (every other check skipped then).
 */
export async function runDoctorCommand(
  args: string[],
  io: CliIo,
  options: DoctorOptions = {},
): Promise<number> {
  let json: boolean;
  let url: string | undefined;
  try {
    const { values } = parseArgs({
      args,
      options: {
        json: { type: 'boolean' },
        url: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    });
    if (values.help) {
      io.stdout.write(HELP);
      return 0;
    }
    json = values.json === true;
    if (values.url !== undefined) {
      url = parseHttpUrl(values.url);
      if (url === undefined) throw new Error(`--url "${values.url}" is not an http:// or https:// URL`);
    }
  } catch (error) {
    // Node's message goes on to explain `--`; its first sentence says what is wrong.
    const message = error instanceof Error ? error.message.replace(/(\.|argument missing) .*$/s, '$1') : '';
    io.stderr.write(`switchboard doctor: ${message}\nusage: ${USAGE}\n`);
    return 2;
  }
  const { finding: settingsCheck, report } = settingsFinding(() => readSettings(io.env));
  const findings = report
    ? [settingsCheck, ...(await runChecks(report.settings, url ?? report.settings.publicUrl, options))]
    : [settingsCheck, ...CHECKS.slice(1).map((name) => skipped(name, 'the settings do not load'))];
  const shown = hideSecrets(findings, secretValues(io.env, report));
  const failed = shown.some((f) => f.status === 'fail');
  io.stdout.write(
    json
      ? `${JSON.stringify({ checks: shown, ok: !failed }, null, 2)}\n`
      : humanReport(shown, report !== undefined),
  );
  return report === undefined ? 78 : failed ? 1 : 0;
}
