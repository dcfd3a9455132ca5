import { resolve } from 'node:path';
import { parseSecureUrl } from '../platform/secure-url.js';
import {
  boolean,
  commaList,
  defineSection,
  duration,
  integer,
  type SectionSettings,
  SettingsError,
  text,
} from '../platform/settings-spec.js';

/** An npm scope: `@` and a name of lower-case letters, digits, `-`, `.` and `_`. */
export const SCOPE = /^@[a-z0-9][a-z0-9._-]{0,213}$/;
/** A host as URLs carry it, with an optional port: `registry.example.com`, `127.0.0.1:4873`, `[::1]:4873`. */
const HOST = /^(?:[a-z0-9.-]+|\[[0-9a-f:]+\])(?::\d{1,5})?$/;

/** Widget bundles: the npm registry they come from, what may be fetched, and how much is kept. */
export const widgetSettings = defineSection(
  {
    registry: {
      env: 'SWITCHBOARD_WIDGETS_REGISTRY',
      file: 'widgets_registry',
      accepts: 'an https:// URL (http:// only on a loopback address) of an npm-compatible registry',
      parse: parseSecureUrl,
      doc: 'The npm-compatible registry widget bundles are fetched from. Unset: registration is off (`POST /widgets` answers 409) and registered bundles are served from the cache only.',
    },
    allowedHosts: {
      env: 'SWITCHBOARD_WIDGETS_ALLOWED_HOSTS',
      file: 'widgets_allowed_hosts',
      default: '',
      accepts: 'hosts, each optionally with :port, comma-separated',
      parse: commaList((entry) => HOST.test(entry.toLowerCase())),
      doc: "Hosts that metadata, tarballs and every redirect may come from; the registry's host must be one.",
    },
    scopes: {
      env: 'SWITCHBOARD_WIDGETS_SCOPES',
      file: 'widgets_scopes',
      default: '',
      accepts: 'npm scopes such as @acme, comma-separated',
      parse: commaList((entry) => SCOPE.test(entry)),
      doc: 'npm scopes whose packages may be registered; a package outside them is refused (422).',
    },
    maxBytes: {
      env: 'SWITCHBOARD_WIDGETS_MAX_BYTES',
      file: 'widgets_max_bytes',
      default: '5242880',
      ...integer(1024, 1_073_741_824),
      doc: 'Largest tarball, and largest unpacked bundle, in bytes.',
    },
    cacheDir: {
      env: 'SWITCHBOARD_WIDGETS_CACHE_DIR',
      file: 'widgets_cache_dir',
      ...text('a directory path'),
      doc: 'Where unpacked bundles are kept. Unset: `<data dir>/widgets`.',
    },
    memoryBytes: {
      env: 'SWITCHBOARD_WIDGETS_MEMORY_BYTES',
      file: 'widgets_memory_bytes',
      default: '67108864',
      ...integer(0, 17_179_869_184),
      doc: 'Bytes of widget files kept in memory (least recently used first out); 0 serves every file from disk.',
    },
    prewarm: {
      env: 'SWITCHBOARD_WIDGETS_PREWARM',
      file: 'widgets_prewarm',
      default: 'true',
      ...boolean,
      doc: 'Whether registered bundles missing from the cache are fetched again at start (without delaying readiness).',
    },
    timeoutMs: {
      env: 'SWITCHBOARD_WIDGETS_TIMEOUT',
      file: 'widgets_timeout',
      default: '30s',
      ...duration('1s', '10m'),
      doc: 'How long one fetch from the registry may take, metadata or tarball, redirects included.',
    },
  },
  (values, { dataDir }: { dataDir: string }) => {
    const allowedHosts = values.allowedHosts.map((host) => host.toLowerCase());
    if (values.registry !== undefined && !allowedHosts.includes(new URL(values.registry).host)) {
      throw new SettingsError(
        `SWITCHBOARD_WIDGETS_REGISTRY=${values.registry}: its host ${new URL(values.registry).host} is not in SWITCHBOARD_WIDGETS_ALLOWED_HOSTS; add it there`,
      );
    }
    return {
      registry: values.registry,
      allowedHosts,
      scopes: values.scopes,
      maxBytes: values.maxBytes,
      cacheDir: resolve(values.cacheDir ?? resolve(dataDir, 'widgets')),
      memoryBytes: values.memoryBytes,
      prewarm: values.prewarm,
      timeoutMs: values.timeoutMs,
    };
  },
);

export type WidgetSettings = SectionSettings<typeof widgetSettings>;
