import { loadPage } from '../../config-ui/load.js';
import { CONFIG_FILE_VARIABLE } from '../../platform/settings-source.js';
import { publicUrlIsDefault, type Settings, SettingsError, type SettingsReport } from '../../settings.js';
import { type Finding, fail, ok, reason, skipped, warn } from './check.js';

/** The settings check, and the settings when they are valid. */
export function settingsFinding(read: () => SettingsReport): {
  finding: Finding;
  report: SettingsReport | undefined;
} {
  try {
    const report = read();
    const from = report.filePath === undefined ? '' : ` and ${report.filePath} (${CONFIG_FILE_VARIABLE})`;
    return { finding: ok('settings', `valid, read from the environment${from}`), report };
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    return {
      finding: fail(
        'settings',
        error.message,
        'change the setting it names (docs/configuration.md lists what each accepts); the server does not start until then',
      ),
      report: undefined,
    };
  }
}

/**
 * What the server warns about in its log at start, judged by the same values it judges them by
 * (`cookieSecure`, the default public URL), so that an operator sees it before the start rather than in a
 * log line among many.
 */
export function startWarnings(settings: Settings): Finding[] {
  return [plainHttp(settings), sharedPublicUrl(settings)];
}

function plainHttp(settings: Settings): Finding {
  const url = settings.publicUrl;
  if (!settings.cookieSecure)
    return warn(
      'https',
      `SWITCHBOARD_PUBLIC_URL ${url} is plain HTTP on the network: cookies go without Secure, and tokens, ` +
        'connect tickets and live data cross it unencrypted (ws://)',
      'serve HTTPS (a reverse proxy that terminates TLS) and set SWITCHBOARD_PUBLIC_URL=https://…',
    );
  return ok(
    'https',
    url.startsWith('https:')
      ? `SWITCHBOARD_PUBLIC_URL ${url} is HTTPS`
      : `SWITCHBOARD_PUBLIC_URL ${url} is plain HTTP on this machine only`,
  );
}

/** Instances sharing a Redis must issue tokens for one URL (the server warns at start too). */
function sharedPublicUrl(settings: Settings): Finding {
  if (!settings.redisUrl)
    return skipped('shared-public-url', 'SWITCHBOARD_REDIS_URL is not set: no other instance shares tokens');
  if (publicUrlIsDefault(settings))
    return warn(
      'shared-public-url',
      `SWITCHBOARD_REDIS_URL is set but SWITCHBOARD_PUBLIC_URL is not: tokens are issued for ${settings.publicUrl}, ` +
        'and instances with another public URL reject them',
      'set the same SWITCHBOARD_PUBLIC_URL on every instance sharing this Redis (docs/live.md)',
    );
  return ok('shared-public-url', `instances sharing Redis issue tokens for ${settings.publicUrl}`);
}

/** The Config UI as the server reads it at start: a page not built is a warning there, a bad directory a stop. */
export async function configUiFinding(settings: Settings): Promise<Finding> {
  try {
    const page = await loadPage(settings.configUi.dir);
    if (page.built) return ok('config-ui', `built, ${page.files.size} files in ${page.dir}`);
    return warn(
      'config-ui',
      `the Config UI is not built: ${page.dir} ${page.missing}; /config-ui/ answers 404`,
      'run `npm run build` and restart, or point SWITCHBOARD_CONFIG_UI_DIR at the built page',
    );
  } catch (error) {
    return fail(
      'config-ui',
      `the server does not start: ${reason(error)}`,
      "fix SWITCHBOARD_CONFIG_UI_DIR, or unset it for the package's own build",
    );
  }
}
