import { type AuthSettings, authSettings } from './auth/settings.js';
import { type SsoSettings, ssoSettings } from './auth/sso/settings.js';
import { type ConfigUiSettings, configUiSettings } from './config-ui/settings.js';
import { type DemoSettings, demoSettings } from './demo/settings.js';
import { type EndpointSettings, endpointSettings } from './endpoints/settings.js';
import { type LiveSettings, liveSettings } from './live/settings.js';
import { type RedisSettings, redisSettings } from './platform/redis-settings.js';
import { type ServerSettings, serverSettings } from './platform/server-settings.js';
import { openSources, readSection, type SettingReading } from './platform/settings-source.js';
import { deepFreeze, type SettingSpec } from './platform/settings-spec.js';
import { type LimitSettings, limitSettings } from './ratelimit/settings.js';
import { type StorageSettings, storageSettings } from './storage/settings.js';
import { type WidgetSettings, widgetSettings } from './widgets/settings.js';
import { type WorkspaceSettings, workspaceSettings } from './workspaces/settings.js';

export { SettingsError } from './platform/settings-spec.js';
export type { DatabaseTarget } from './storage/settings.js';
export type {
  AuthSettings,
  ConfigUiSettings,
  DemoSettings,
  EndpointSettings,
  LimitSettings,
  LiveSettings,
  RedisSettings,
  ServerSettings,
  SsoSettings,
  StorageSettings,
  WidgetSettings,
  WorkspaceSettings,
};

/**
 * Every slice's section, in the order of the table in docs/configuration.md. The first four are read at
 * the top of Settings (settings.port, settings.accessTokenTtlMs), the others under their name
 * (settings.live.historySize).
 */
const sections = {
  server: serverSettings,
  storage: storageSettings,
  redis: redisSettings,
  auth: authSettings,
  sso: ssoSettings,
  limits: limitSettings,
  live: liveSettings,
  endpoints: endpointSettings,
  workspaces: workspaceSettings,
  widgets: widgetSettings,
  configUi: configUiSettings,
  demo: demoSettings,
};

/** Every setting, as docs/configuration.md and `switchboard settings` list them. */
export const settingSpecs: readonly SettingSpec[] = Object.values(sections).flatMap((section) =>
  Object.values(section.specs),
);

export type Settings = ServerSettings &
  StorageSettings &
  RedisSettings &
  AuthSettings & {
    readonly sso: SsoSettings;
    readonly limits: LimitSettings;
    readonly live: LiveSettings;
    readonly endpoints: EndpointSettings;
    readonly workspaces: WorkspaceSettings;
    readonly widgets: WidgetSettings;
    readonly configUi: ConfigUiSettings;
    readonly demo: DemoSettings;
  };

/** The settings, and where each one came from (for `switchboard settings`). */
export interface SettingsReport {
  readonly settings: Settings;
  readonly readings: readonly SettingReading[];
  /** The settings file named by SWITCHBOARD_CONFIG_FILE, if any. */
  readonly filePath: string | undefined;
}

/**
 * Environment wins over the optional settings file, which wins over the defaults. Every value is read and
 * checked before any section derives from them, and all of it before anything starts.
 */
export function readSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
): SettingsReport {
  const sources = openSources(env, settingSpecs);
  const readings: SettingReading[] = [];
  const server = readSection(sections.server.specs, sources, readings);
  const storage = readSection(sections.storage.specs, sources, readings);
  const redis = readSection(sections.redis.specs, sources, readings);
  const auth = readSection(sections.auth.specs, sources, readings);
  const sso = readSection(sections.sso.specs, sources, readings);
  const limits = readSection(sections.limits.specs, sources, readings);
  const live = readSection(sections.live.specs, sources, readings);
  const endpoints = readSection(sections.endpoints.specs, sources, readings);
  const workspaces = readSection(sections.workspaces.specs, sources, readings);
  const widgets = readSection(sections.widgets.specs, sources, readings);
  const configUi = readSection(sections.configUi.specs, sources, readings);
  const demo = readSection(sections.demo.specs, sources, readings);
  const stored = sections.storage.build(storage, undefined);
  const builtConfigUi = sections.configUi.build(configUi, undefined);
  const settings: Settings = deepFreeze({
    ...sections.server.build(server, undefined),
    ...stored,
    ...sections.redis.build(redis, undefined),
    ...sections.auth.build(auth, undefined),
    sso: sections.sso.build(sso, undefined),
    limits: sections.limits.build(limits, undefined),
    live: sections.live.build(live, undefined),
    endpoints: sections.endpoints.build(endpoints, { dataDir: stored.dataDir }),
    workspaces: sections.workspaces.build(workspaces, undefined),
    widgets: sections.widgets.build(widgets, { dataDir: stored.dataDir }),
    configUi: builtConfigUi,
    demo: sections.demo.build(demo, { configUiDir: builtConfigUi.dir }),
  });
  return { settings, readings, filePath: sources.filePath };
}

export function loadSettings(env: Readonly<Record<string, string | undefined>> = process.env): Settings {
  return readSettings(env).settings;
}

/**
 * Whether SWITCHBOARD_PUBLIC_URL was left to its default (this machine's port): tokens then name a URL that
 * other instances sharing one Redis do not, and they reject each other's.
 */
export function publicUrlIsDefault(settings: Pick<Settings, 'publicUrl' | 'port'>): boolean {
  return settings.publicUrl === `http://localhost:${settings.port}`;
}
