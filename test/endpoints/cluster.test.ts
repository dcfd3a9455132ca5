import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { LeaseStore } from '../../src/endpoints/lease-store.js';
import { LeaseKeeper } from '../../src/endpoints/producers/leases.js';
import { openStorage } from '../../src/storage/database.js';
import { Client } from '../client.js';
import type { SignedIn, TestApp } from '../fixture.js';
import { clusterHarness } from '../live/cluster-harness.js';
import { eventually, redisUrl } from '../live/redis-run.js';

const LEASE_MS = 1000;
const harness = clusterHarness();

/** An upstream that counts the polls it answers. */
async function upstream(): Promise<{ url: string; hits: number[] }> {
  const hits: number[] = [];
  const server: Server = createServer((_request, response) => {
    hits.push(Date.now());
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ level: hits.length }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  harness.cleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/level`, hits };
}

/** Two instances of one deployment: one database, one Redis key prefix, leases of one second. */
async function cluster(options: { redis: boolean; upstreamUrl: string }) {
  const env: Record<string, string> = {
    // The upstream's port is named: an entry without one allows ports 80 and 443 only.
    SWITCHBOARD_ENDPOINT_HOSTS: new URL(options.upstreamUrl).host,
    SWITCHBOARD_PRODUCER_LEASE: `${LEASE_MS}ms`,
    SWITCHBOARD_RATE_LIMITS: 'config.save=off,config.activate=off',
    ...(options.redis && {
      SWITCHBOARD_REDIS_URL: redisUrl,
      SWITCHBOARD_REDIS_KEY_PREFIX: harness.redis.prefix(),
    }),
  };
  return harness.pair(env);
}

const config = (url: string, interval = '1s') => ({
  endpoints: { level: { url, retries: 0 } },
  streams: { 'tank.level': { endpoint: 'level', interval } },
});

async function holderOf(t: TestApp, stream: string) {
  return new LeaseStore(t.app.storage.db).holderOf(stream);
}

describe('producers in a cluster', () => {
  it('run each stream on one instance, and hand it over when that instance stops', async () => {
    const source = await upstream();
    const { a, b } = await cluster({ redis: false, upstreamUrl: source.url });
    const admin: SignedIn = await b.signIn(await b.createUser({ role: 'admin' }));
    const saved = await admin.client.call('/api/v1/config', { json: config(source.url) });
    expect(saved.status).toBe(201);
    // Without Redis, A finds the new active version by its periodic check; run that check now.
    await a.app.endpoints.service.sync();
    expect(a.app.endpoints.runtime.loaded).toBe('1.0.0');
    expect(b.app.endpoints.runtime.loaded).toBe('1.0.0');

    // Both run the version; B activated it and took the lease first, so only B polls.
    const holder = await holderOf(a, 'tank.level');
    const before = source.hits.length;
    await new Promise((resolve) => setTimeout(resolve, 3500));
    const polls = source.hits.length - before;
    // One instance polling every second; two would make about seven.
    expect(polls).toBeGreaterThanOrEqual(2);
    expect(polls).toBeLessThanOrEqual(5);
    expect((await holderOf(a, 'tank.level'))?.holder).toBe(holder?.holder);

    // B stops: it gives the lease back, and A takes the stream over at its next renewal.
    await harness.stop(b);
    const stoppedAt = Date.now();
    const next = await eventually(
      () => holderOf(a, 'tank.level'),
      (lease) => lease !== undefined && lease.holder !== holder?.holder,
      2 * LEASE_MS,
    );
    expect(next?.holder).not.toBe(holder?.holder);
    expect(Date.now() - stoppedAt).toBeLessThan(2 * LEASE_MS);
    const after = source.hits.length;
    expect(
      await eventually(
        () => source.hits.length,
        (n) => n > after,
        3000,
      ),
    ).toBeGreaterThan(after);
  });

  it('reaches every instance when one activates a version (through the bus on Redis)', async () => {
    const source = await upstream();
    const { a, b } = await cluster({ redis: true, upstreamUrl: source.url });
    const admin = await a.signIn(await a.createUser({ role: 'admin' }));
    expect((await admin.client.call('/api/v1/config', { json: config(source.url) })).status).toBe(201);
    const loaded = () => b.app.endpoints.runtime.loaded;
    expect(await eventually(loaded, (v) => v === '1.0.0')).toBe('1.0.0');
    expect((await admin.client.call('/api/v1/config', { json: config(source.url, '2s') })).status).toBe(201);
    expect(await eventually(loaded, (v) => v === '1.0.1')).toBe('1.0.1');
    expect(a.app.endpoints.runtime.loaded).toBe('1.0.1');
  });
});

/**
 * A real server process on the same database (`switchboard serve` from src/), killed with SIGKILL when the
 * test says: no shutdown, no lease given back. Resolves once it listens, with its URL.
 */
async function serverProcess(t: TestApp, env: Record<string, string>) {
  const database = t.settings.database;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
    env: {
      ...process.env,
      ...env,
      HOST: '127.0.0.1',
      PORT: '0',
      SWITCHBOARD_DATA_DIR: t.settings.dataDir,
      SWITCHBOARD_DATABASE_URL: database.engine === 'sqlite' ? `sqlite:${database.file}` : database.url,
      SWITCHBOARD_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  harness.cleanup(() => {
    child.kill('SIGKILL');
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start:\n${output}`)), 30_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const listening = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output);
      if (listening?.[1]) {
        clearTimeout(timer);
        resolve(listening[1]);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}):\n${output}`)));
  });
  return { url, kill: () => child.kill('SIGKILL') };
}

describe('a producer in a cluster whose instance dies', () => {
  it('is taken over by another instance within twice the lease time', async () => {
    const source = await upstream();
    const allowed = {
      SWITCHBOARD_ENDPOINT_HOSTS: new URL(source.url).host,
      SWITCHBOARD_PRODUCER_LEASE: `${LEASE_MS}ms`,
    };
    // The database's owner allows no host, so it cannot run the stream and never competes for its lease.
    const owner = await harness.start({ env: { SWITCHBOARD_PRODUCER_LEASE: `${LEASE_MS}ms` } });
    const doomed = await serverProcess(owner, allowed);
    const user = await owner.createUser({ role: 'admin' });
    const client = new Client(doomed.url, doomed.url);
    const login = await client.call('/api/v1/auth/login', {
      json: { username: user.username, password: user.password },
    });
    expect(login.status).toBe(200);
    // A bearer token, as a non-browser client would: no cookie, so no Origin to allow.
    const saved = await new Client(doomed.url, doomed.url).call('/api/v1/config', {
      json: config(source.url),
      bearer: login.body.data.access_token,
    });
    expect(saved.status).toBe(201);
    expect(saved.body.data.active).toBe(true);
    const held = await eventually(
      () => holderOf(owner, 'tank.level'),
      (lease) => lease !== undefined,
    );
    expect(held).toBeDefined();
    const survivor = await harness.start({ env: allowed, shareDatabaseWith: owner });
    expect(survivor.app.endpoints.runtime.loaded).toBe('1.0.0');
    // The process holds the stream: the survivor waits.
    expect((await holderOf(owner, 'tank.level'))?.holder).toBe(held?.holder);

    doomed.kill();
    const diedAt = Date.now();
    const next = await eventually(
      () => holderOf(owner, 'tank.level'),
      (lease) => lease !== undefined && lease.holder !== held?.holder,
      3 * LEASE_MS,
    );
    expect(next?.holder).not.toBe(held?.holder);
    expect(Date.now() - diedAt).toBeLessThanOrEqual(2 * LEASE_MS);
    const polls = source.hits.length;
    expect(
      await eventually(
        () => source.hits.length,
        (n) => n > polls,
        3000,
      ),
    ).toBeGreaterThan(polls);
  });
});

describe('leases', () => {
  it('pass to another instance within twice the lease time when the holder dies without a word', async () => {
    const t = await harness.start();
    const log = pino({ level: 'silent' });
    // Each instance has its own connection to the database; a dead one's simply stops answering.
    const target = t.settings.database;
    const deadOne = openStorage(target, 1);
    const survivor = new LeaseKeeper(new LeaseStore(t.app.storage.db), 'survivor', LEASE_MS, log);
    const doomed = new LeaseKeeper(new LeaseStore(deadOne.db), 'doomed', LEASE_MS, log);
    harness.cleanup(() => survivor.stop());

    await doomed.track(['tank.level']);
    await survivor.track(['tank.level']);
    expect(doomed.held('tank.level')).toBe(true);
    expect(survivor.held('tank.level')).toBe(false);

    // The holder's process dies: its connection goes, its timers with it, and nothing is given back.
    await deadOne.close();
    await doomed.stop();
    const diedAt = Date.now();
    expect((await holderOf(t, 'tank.level'))?.holder).toBe('doomed');
    await eventually(
      () => survivor.held('tank.level'),
      (held) => held,
      2 * LEASE_MS + 500,
    );
    const takenOver = Date.now() - diedAt;
    expect(takenOver).toBeLessThanOrEqual(2 * LEASE_MS);
    expect((await holderOf(t, 'tank.level'))?.holder).toBe('survivor');
  });

  it('are granted to one of two instances asking at once', async () => {
    const t = await harness.start();
    const store = new LeaseStore(t.app.storage.db);
    const now = new Date().toISOString();
    const until = new Date(Date.now() + LEASE_MS).toISOString();
    const granted = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.acquire('tank.level', `instance-${i}`, now, until)),
    );
    expect(granted.filter(Boolean)).toHaveLength(1);
    const winner = granted.indexOf(true);
    // The holder renews; the others still cannot take it before it lapses.
    expect(await store.acquire('tank.level', `instance-${winner}`, now, until)).toBe(true);
    expect(await store.acquire('tank.level', `instance-${(winner + 1) % 8}`, now, until)).toBe(false);
    const later = new Date(Date.now() + 2 * LEASE_MS).toISOString();
    expect(await store.acquire('tank.level', 'latecomer', later, later)).toBe(true);
  });
});
