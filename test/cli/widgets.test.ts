import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../fixture.js';
import { npmTarball, TestRegistry } from '../widgets/registry-fixture.js';
import { databaseEnv, runInProcess } from './run-cli.js';

let database: Awaited<ReturnType<typeof freshDatabase>>;
let registry: TestRegistry;
let env: Record<string, string>;

const widgets = (args: string[]) => runInProcess(['widgets', ...args], { env });

beforeAll(async () => {
  database = await freshDatabase();
  registry = await TestRegistry.start();
  registry.publish('@acme/dial', '3.1.4', {
    tarball: await npmTarball({ 'index.js': 'dial', 'a/b.css': 'x{}' }),
  });
  env = {
    ...databaseEnv(database),
    SWITCHBOARD_WIDGETS_REGISTRY: registry.url,
    SWITCHBOARD_WIDGETS_ALLOWED_HOSTS: registry.host,
    SWITCHBOARD_WIDGETS_SCOPES: '@acme',
  };
});

afterAll(async () => {
  await registry?.close();
  await database?.drop();
});

describe('switchboard widgets', () => {
  it('adds, lists, verifies, reports drift and removes a bundle', async () => {
    const added = await widgets(['add', '@acme/dial', '3.1.4']);
    expect({ status: added.status, stderr: added.stderr }).toEqual({ status: 0, stderr: '' });
    expect(added.stdout).toMatch(/^registered @acme\/dial@3\.1\.4 \(2 files, 7 bytes, sha512-/);
    expect((await widgets(['add', '@acme/dial', '3.1.4'])).stdout).toMatch(
      /^already registered: @acme\/dial@3\.1\.4/,
    );

    const listed = await widgets(['list', '--json']);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({
        package: '@acme/dial',
        version: '3.1.4',
        files: 2,
        cached: true,
        registered_by: 'cli',
      }),
    ]);
    expect((await widgets(['list'])).stdout).toMatch(
      /^PACKAGE +VERSION +FILES +BYTES +CACHED HERE +REGISTERED\n@acme\/dial +3\.1\.4 +2 +7 +yes /,
    );

    const clean = await widgets(['verify']);
    expect({ status: clean.status, stdout: clean.stdout }).toEqual({
      status: 0,
      stdout: '@acme/dial@3.1.4: ok\n',
    });

    const dir = `${database.dataDir}/widgets/${encodeURIComponent('@acme/dial')}/3.1.4`;
    writeFileSync(`${dir}/index.js`, 'tampered');
    writeFileSync(`${dir}/new.js`, 'added');
    const drift = await widgets(['verify']);
    expect(drift.status).toBe(1);
    expect(drift.stdout).toBe('@acme/dial@3.1.4: DRIFT\n  changed index.js\n  added new.js\n');
    expect(drift.stderr).toMatch(/1 bundle on this machine differs/);

    const removed = await widgets(['remove', '@acme/dial', '3.1.4']);
    expect({ status: removed.status, stdout: removed.stdout }).toEqual({
      status: 0,
      stdout: 'removed @acme/dial@3.1.4\n',
    });
    expect((await widgets(['list'])).stdout).toBe('no widget bundles are registered\n');
  });

  it('refuses what the server refuses (exit 1) and bad usage (exit 2)', async () => {
    const outside = await widgets(['add', '@evil/dial', '1.0.0']);
    expect(outside.status).toBe(1);
    expect(outside.stderr).toMatch(/SWITCHBOARD_WIDGETS_SCOPES/);
    const range = await widgets(['add', '@acme/dial', '^3.0.0']);
    expect(range.status).toBe(1);
    expect(range.stderr).toMatch(/exact version/);
    expect((await widgets(['remove', '@acme/none', '1.0.0'])).status).toBe(1);
    expect((await widgets(['add', '@acme/dial'])).status).toBe(2);
    expect((await widgets(['frobnicate'])).status).toBe(2);
  });
});
