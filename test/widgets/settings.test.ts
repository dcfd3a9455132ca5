import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/settings.js';

describe('widget settings', () => {
  it('default to no registry, nothing allowed, 5 MiB, the data directory, 64 MiB in memory', () => {
    const { widgets, dataDir } = loadSettings({});
    expect(widgets).toEqual({
      registry: undefined,
      allowedHosts: [],
      scopes: [],
      maxBytes: 5 * 1024 * 1024,
      cacheDir: join(dataDir, 'widgets'),
      memoryBytes: 64 * 1024 * 1024,
      prewarm: true,
      timeoutMs: 30_000,
    });
  });

  it('read a registry whose host is allowed', () => {
    const { widgets } = loadSettings({
      SWITCHBOARD_WIDGETS_REGISTRY: 'https://npm.example.com/registry/',
      SWITCHBOARD_WIDGETS_ALLOWED_HOSTS: 'NPM.example.com, cdn.example.com:8443',
      SWITCHBOARD_WIDGETS_SCOPES: '@acme,@ops-widgets',
    });
    expect(widgets.registry).toBe('https://npm.example.com/registry');
    expect(widgets.allowedHosts).toEqual(['npm.example.com', 'cdn.example.com:8443']);
    expect(widgets.scopes).toEqual(['@acme', '@ops-widgets']);
  });

  it.each([
    [
      { SWITCHBOARD_WIDGETS_REGISTRY: 'http://npm.example.com' },
      /SWITCHBOARD_WIDGETS_REGISTRY="http:\/\/npm.example.com": expected an https:\/\//,
    ],
    [
      { SWITCHBOARD_WIDGETS_REGISTRY: 'https://npm.example.com' },
      /its host npm.example.com is not in SWITCHBOARD_WIDGETS_ALLOWED_HOSTS/,
    ],
    [{ SWITCHBOARD_WIDGETS_SCOPES: 'acme' }, /SWITCHBOARD_WIDGETS_SCOPES="acme": expected npm scopes/],
    [{ SWITCHBOARD_WIDGETS_ALLOWED_HOSTS: 'https://npm.example.com' }, /SWITCHBOARD_WIDGETS_ALLOWED_HOSTS=/],
    [
      { SWITCHBOARD_WIDGETS_MAX_BYTES: '10' },
      /SWITCHBOARD_WIDGETS_MAX_BYTES="10": expected an integer from 1024/,
    ],
    [{ SWITCHBOARD_WIDGETS_TIMEOUT: '0s' }, /SWITCHBOARD_WIDGETS_TIMEOUT/],
    [{ SWITCHBOARD_WIDGETS_PREWARM: 'sometimes' }, /SWITCHBOARD_WIDGETS_PREWARM/],
  ])('refuse %o naming what to change', (env, message) => {
    expect(() => loadSettings(env)).toThrow(message);
  });
});
