import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseEventId } from '../../src/live/event-id.js';
import { ErrorCode } from '../../src/platform/problem.js';
import { type SignedIn, startTestApp, type TestApp } from '../fixture.js';
import {
  type Frame,
  type LiveSocket,
  openEventSource,
  openSocket,
  type SseFrame,
  until,
} from '../live-client.js';
import { Upstream } from './upstream.js';

const API_KEY = 'hdr-secret-Xq93kd';
const QUERY_TOKEN = 'qry-secret-Lm27pw';

const MODULES: Record<string, string> = {
  'counter.mjs': 'let n = 0;\nexport default () => ({ n: ++n });',
  'flaky.mjs': [
    'let calls = 0;',
    'export default () => {',
    '  calls += 1;',
    '  if (calls % 2 === 0) throw new Error("sensor offline on call " + calls);',
    '  return { calls };',
    '};',
  ].join('\n'),
  // Hangs while hang-mode.txt says so: the test "fixes" it by changing the file.
  'hangs.mjs': [
    'import { readFileSync } from "node:fs";',
    'export default async () => {',
    '  if (readFileSync("hang-mode.txt", "utf8").trim() === "hang") await new Promise(() => {});',
    '  return { fixed: true };',
    '};',
  ].join('\n'),
};

let t: TestApp;
let upstream: Upstream;
let functionsDir: string;
let admin: SignedIn;
let editor: SignedIn;
let viewer: SignedIn;
const opened: { close(): void }[] = [];

const ENV = (dir: string) => ({
  // The upstream's port is named: an entry without one allows ports 80 and 443 only.
  SWITCHBOARD_ENDPOINT_HOSTS: `127.0.0.1:${upstream.port}`,
  SWITCHBOARD_FUNCTIONS_DIR: dir,
  SWITCHBOARD_RATE_LIMITS: 'config.activate=off,config.save=off,config.test=off',
});

beforeAll(async () => {
  functionsDir = mkdtempSync(join(tmpdir(), 'switchboard-producers-'));
  for (const [name, source] of Object.entries(MODULES)) writeFileSync(join(functionsDir, name), source);
  writeFileSync(join(functionsDir, 'hang-mode.txt'), 'hang');
  upstream = await new Upstream().start();
  t = await startTestApp({
    env: ENV(functionsDir),
    processEnv: { SWITCHBOARD_VAR_API_KEY: API_KEY, SWITCHBOARD_VAR_QUERY_TOKEN: QUERY_TOKEN },
  });
  admin = await t.signIn(await t.createUser({ role: 'admin' }));
  editor = await t.signIn(await t.createUser({ role: 'editor' }));
  viewer = await t.signIn(await t.createUser({ role: 'viewer' }));
});

afterEach(() => {
  for (const connection of opened.splice(0)) connection.close();
});

afterAll(async () => {
  await t?.close();
  await upstream?.close();
  rmSync(functionsDir, { recursive: true, force: true });
});

async function socketFor(who: SignedIn, via: 'ticket' | 'bearer' = 'bearer'): Promise<LiveSocket> {
  const socket = await openSocket(t, who, via);
  opened.push(socket);
  return socket;
}

function sseFor(who: SignedIn, channel: string) {
  const source = openEventSource(t, `/api/v1/streams/${channel}/events`, who);
  opened.push(source);
  return source;
}

/** Saves the document as the next version and activates it; fails the test if it does not load. */
async function activateConfig(config: Record<string, unknown>): Promise<string> {
  const res = await admin.client.call('/api/v1/config', { method: 'POST', json: config });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.data.activation_error).toBeUndefined();
  expect(res.body.data.active).toBe(true);
  return res.body.data.version;
}

/** The upstream as a variable, so every endpoint's url is built the way an operator writes it. */
const upstreamVars = () => ({
  upstream: upstream.base,
  api_key: { value: '${env:SWITCHBOARD_VAR_API_KEY}', secret: true },
});

const isData = (channel: string) => (f: Frame) =>
  f.channel === channel && (f.type === 'event' || f.type === 'snapshot');
const isLiveEvent = (channel: string) => (f: Frame) => f.channel === channel && f.type === 'event';
const isStatus = (channel: string, state: 'ok' | 'error') => (f: Frame) =>
  f.type === 'status' && f.channel === channel && f.state === state;
const seqOf = (frame: Frame) => parseEventId(String(frame.id))?.seq ?? Number.NaN;
const epochOf = (frame: Frame) => parseEventId(String(frame.id))?.epoch;

describe('a stream fed by an HTTP endpoint', () => {
  beforeAll(async () => {
    upstream.answer('/weather', 200, { main: { temp: 21.5, humidity: 40 }, wind: { speed: 3.2 } });
    await activateConfig({
      vars: upstreamVars(),
      endpoints: {
        weather: {
          url: '${upstream}/weather',
          headers: { 'X-Api-Key': '${api_key}' },
          query: { units: 'metric', token: '${env:SWITCHBOARD_VAR_QUERY_TOKEN}' },
          timeout: '2s',
          retries: 0,
        },
      },
      streams: {
        'weather.now': {
          endpoint: 'weather',
          interval: '1s',
          select: { temp: '/main/temp', gusts: '/wind/gusts' },
          title: 'Weather at the site',
          description: 'Temperature from the station on the roof',
        },
        'weather.raw': { endpoint: 'weather', interval: '1s', access: { min_role: 'editor' } },
      },
    });
  });

  it('publishes the upstream JSON with select applied; a pointer that does not resolve gives null', async () => {
    const socket = await socketFor(viewer, 'ticket');
    const subscribed = await socket.subscribe('weather.now');
    expect(subscribed).toMatchObject({ type: 'subscribed', channel: 'weather.now' });
    const first = await socket.next(isLiveEvent('weather.now'), 'an event of weather.now');
    expect(first.data).toEqual({ temp: 21.5, gusts: null });
    expect(typeof first.ts).toBe('string');
    const second = await socket.next(isLiveEvent('weather.now'), 'the next event');
    expect(second.data).toEqual({ temp: 21.5, gusts: null });
    expect(seqOf(second)).toBe(seqOf(first) + 1);
  });

  it('publishes the whole answer when there is no select', async () => {
    const socket = await socketFor(editor);
    expect((await socket.subscribe('weather.raw')).type).toBe('subscribed');
    const event = await socket.next(isLiveEvent('weather.raw'), 'an event of weather.raw');
    expect(event.data).toEqual({ main: { temp: 21.5, humidity: 40 }, wind: { speed: 3.2 } });
  });

  it('sends the query and the headers, variables and secrets resolved, to the upstream', async () => {
    await until(() => upstream.requestsTo('/weather')[0], 'a request to the upstream');
    const request = upstream.requestsTo('/weather').at(-1);
    expect(request?.method).toBe('GET');
    expect(request?.query.get('units')).toBe('metric');
    expect(request?.query.get('token')).toBe(QUERY_TOKEN);
    expect(request?.headers['x-api-key']).toBe(API_KEY);
    expect(request?.headers['user-agent']).toMatch(/^switchboard\//);
  });

  it('lists the stream with its title, source and interval, only to users its access rule admits', async () => {
    const listed = async (who: SignedIn) =>
      (await who.client.call('/api/v1/streams')).body.data as { name: string; kind: string; meta: unknown }[];
    const forViewer = await listed(viewer);
    expect(forViewer.find((c) => c.name === 'weather.now')).toMatchObject({
      kind: 'stream',
      meta: {
        title: 'Weather at the site',
        description: 'Temperature from the station on the roof',
        source: { endpoint: 'weather' },
        interval: '1s',
      },
    });
    expect(forViewer.map((c) => c.name)).not.toContain('weather.raw');
    const forEditor = await listed(editor);
    expect(forEditor.find((c) => c.name === 'weather.raw')?.meta).toEqual({
      source: { endpoint: 'weather' },
      interval: '1s',
    });
    // And a viewer cannot subscribe to it either: the same answer as for a stream that does not exist.
    const socket = await socketFor(viewer);
    const refused = await socket.subscribe('weather.raw');
    expect(refused).toMatchObject({ type: 'error', code: ErrorCode.notFound });
    const unknown = await socket.subscribe('weather.nowhere');
    expect(refused.message).toBe(String(unknown.message).replace('weather.nowhere', 'weather.raw'));
  });
});

describe('status frames', () => {
  // Continues with the configuration of the previous block: weather.now polls /weather every second.
  it('tells subscribers when the upstream fails, without its secrets, and when it recovers', async () => {
    upstream.answer('/weather', 200, { main: { temp: 21.5 } });
    const socket = await socketFor(viewer);
    await socket.subscribe('weather.now');
    await socket.next(isLiveEvent('weather.now'), 'an event before the failure');

    upstream.answer('/weather', 500, { error: 'database down' });
    const failed = await socket.next(isStatus('weather.now', 'error'), 'the error status');
    expect(failed.message).toContain('endpoint "weather"');
    expect(failed.message).toContain('answered 500');
    expect(Number.isNaN(Date.parse(String(failed.at)))).toBe(false);
    for (const secret of [API_KEY, QUERY_TOKEN]) {
      expect(JSON.stringify(failed)).not.toContain(secret);
      expect(JSON.stringify(t.logs)).not.toContain(secret);
    }
    expect(t.logs.some((line) => line.msg === 'stream source failed' && line.stream === 'weather.now')).toBe(
      true,
    );

    // A subscriber arriving now gets the last value, then the current status.
    const late = await socketFor(viewer);
    await late.subscribe('weather.now');
    await late.next(isStatus('weather.now', 'error'), 'the status for a new subscriber');
    const order = late.of('weather.now').map((f) => f.type);
    expect(order.slice(0, 3)).toEqual(['subscribed', 'snapshot', 'status']);

    // The same over Server-Sent Events.
    const sse = sseFor(viewer, 'weather.now');
    const sseStatus = await sse.next(
      (f) => f.type === 'status' && f.data.state === 'error',
      'the error status over SSE',
    );
    expect(sse.received[0]?.type).toBe('snapshot');
    expect(sseStatus.frame.data).toMatchObject({ channel: 'weather.now', state: 'error' });
    expect(sseStatus.frame.data.message).toContain('endpoint "weather"');
    expect(JSON.stringify(sse.received)).not.toContain(API_KEY);
    expect(JSON.stringify(sse.received)).not.toContain(QUERY_TOKEN);

    upstream.answer('/weather', 200, { main: { temp: 18.25 } });
    socket.discard();
    const recovered = await socket.next(isStatus('weather.now', 'ok'), 'the ok status', 10_000);
    expect(recovered.message).toBeUndefined();
    const after = await socket.next(
      (f) => isLiveEvent('weather.now')(f) && (f.data as { temp?: number }).temp === 18.25,
      'an event after the recovery',
    );
    expect(after.data).toEqual({ temp: 18.25, gusts: null });
    const sseOk = await sse.next(
      (f) => f.type === 'status' && f.data.state === 'ok',
      'the ok status over SSE',
      sseStatus.index,
    );
    await sse.next(
      (f: SseFrame) => f.type === 'event' && (f.data.data as { temp?: number }).temp === 18.25,
      'an event over SSE after the recovery',
      sseStatus.index,
    );
    expect(sseOk.frame.data.channel).toBe('weather.now');
  });
});

describe('a source whose output nests too deep', () => {
  it('is reported as an error and not published, since delivering it would overflow the stack', async () => {
    const nested = (depth: number): unknown => (depth === 0 ? 1 : { a: nested(depth - 1) });
    upstream.answer('/deep', 200, nested(40));
    await activateConfig({
      vars: upstreamVars(),
      endpoints: { deep: { url: '${upstream}/deep', timeout: '2s', retries: 0 } },
      streams: { 'deep.feed': { endpoint: 'deep', interval: '1s' } },
    });
    const socket = await socketFor(viewer);
    await socket.subscribe('deep.feed');
    const failed = await socket.next(isStatus('deep.feed', 'error'), 'the error status');
    expect(failed.message).toContain('more than 32 levels deep');
    expect(socket.of('deep.feed').filter(isData('deep.feed'))).toEqual([]);
  });
});

describe('status frames over polls that fail alike', () => {
  it('sends one error while the source fails the same way, another when the message changes, one ok on recovery', async () => {
    upstream.answer('/same', 500, { error: 'database down' });
    upstream.answer('/change', 500, { error: 'database down' });
    await activateConfig({
      vars: upstreamVars(),
      endpoints: {
        same: { url: '${upstream}/same', retries: 0 },
        change: { url: '${upstream}/change', retries: 0 },
      },
      streams: {
        'flap.same': { endpoint: 'same', interval: '1s' },
        'flap.change': { endpoint: 'change', interval: '1s' },
      },
    });
    const socket = await socketFor(viewer);
    await socket.subscribe('flap.same');
    await socket.subscribe('flap.change');

    // Each answer changes once the poll before it was answered: /same fails twice alike, then recovers;
    // /change fails with 500, then with 503.
    await until(() => upstream.requestsTo('/change').length >= 1, 'the first poll of /change', 5000);
    upstream.answer('/change', 503, { error: 'overloaded' });
    await until(() => upstream.requestsTo('/same').length >= 2, 'the second poll of /same', 8000);
    upstream.answer('/same', 200, { pumps: 4 });
    await socket.next(isStatus('flap.same', 'ok'), 'the ok status of flap.same', 10_000);

    const statuses = (channel: string) =>
      socket.of(channel).flatMap((f) => (f.type === 'status' ? [`${f.state}: ${f.message ?? ''}`] : []));
    expect(statuses('flap.same')).toEqual([
      'error: endpoint "same": answered 500 Internal Server Error',
      'ok: ',
    ]);
    expect(upstream.requestsTo('/change').length).toBeGreaterThanOrEqual(2);
    expect(statuses('flap.change')).toEqual([
      'error: endpoint "change": answered 500 Internal Server Error',
      'error: endpoint "change": answered 503 Service Unavailable',
    ]);
  });
});

describe('activating another version', () => {
  let before: string;
  let adminSocket: LiveSocket;
  let viewerSocket: LiveSocket;
  let viewerBId: string | number | null | undefined;
  let lastOfC = 0;

  const counting = (hit: number) => ({ n: hit, double: hit * 2 });
  const streams = (b: Record<string, unknown>, withC: boolean) => ({
    vars: upstreamVars(),
    endpoints: {
      a: { url: '${upstream}/a', retries: 0 },
      b: { url: '${upstream}/b', retries: 0 },
      c: { url: '${upstream}/c', retries: 0 },
    },
    streams: {
      'swap.a': { endpoint: 'a', interval: '1s' },
      'swap.b': { endpoint: 'b', interval: '1s', ...b },
      ...(withC && { 'swap.c': { endpoint: 'c', interval: '1s' } }),
    },
  });

  beforeAll(async () => {
    upstream.answer('/a', 200, counting);
    upstream.answer('/b', 200, counting);
    upstream.answer('/c', 200, counting);
    before = await activateConfig(streams({ select: { n: '/n' } }, true));
  });
  // These two sockets live across the tests of this block.
  afterAll(() => {
    adminSocket?.close();
    viewerSocket?.close();
  });

  it('keeps unchanged streams going, restarts changed ones and ends removed ones', async () => {
    adminSocket = await openSocket(t, admin);
    viewerSocket = await openSocket(t, viewer);
    for (const channel of ['swap.a', 'swap.b', 'swap.c']) await adminSocket.subscribe(channel);
    await viewerSocket.subscribe('swap.a');
    viewerBId = (await viewerSocket.subscribe('swap.b')).id;
    for (const channel of ['swap.a', 'swap.b', 'swap.c']) {
      await adminSocket.next(isLiveEvent(channel), `an event of ${channel}`);
    }
    // C fails before it goes: its subscribers and the status it leaves behind are both checked below.
    upstream.answer('/c', 500, { error: 'retiring' });
    await adminSocket.next(isStatus('swap.c', 'error'), 'the error status of swap.c');
    lastOfC = Math.max(
      ...adminSocket
        .of('swap.c')
        .filter((f) => f.type === 'event')
        .map((f) => (f.data as { n: number }).n),
    );

    const next = await activateConfig(streams({ select: { double: '/double' } }, false));
    expect(next).not.toBe(before);
    const activatedAt = adminSocket.all.length;

    expect(await adminSocket.next((f) => f.type === 'unavailable', 'unavailable for swap.c')).toEqual({
      type: 'unavailable',
      channel: 'swap.c',
    });
    const changed = await adminSocket.next(
      (f) => isLiveEvent('swap.b')(f) && 'double' in (f.data as object),
      'an event of the new definition of swap.b',
    );
    expect(changed.data).toEqual({ double: expect.any(Number) });
    // Two more events of A after the swap, then its whole history on this socket is checked.
    for (let i = 0; i < 2; i += 1) await adminSocket.next(isLiveEvent('swap.a'), 'an event of swap.a');
    expect(adminSocket.all.slice(activatedAt).some(isLiveEvent('swap.a'))).toBe(true);

    const ofA = adminSocket.of('swap.a');
    expect(
      ofA.filter((f) => !['subscribed', 'snapshot', 'event', 'status'].includes(String(f.type))),
    ).toEqual([]);
    const dataOfA = ofA.filter(isData('swap.a'));
    expect(new Set(dataOfA.map(epochOf)).size).toBe(1);
    const seqs = dataOfA.map(seqOf);
    expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] as number) + i));
    // B's subscription went on: no frame ended it.
    expect(adminSocket.of('swap.b').filter((f) => f.type === 'unavailable' || f.type === 'error')).toEqual(
      [],
    );
    expect(await adminSocket.alive()).toBe(true);
    // The viewer saw none of that either.
    expect(
      viewerSocket.all.filter((f) => ['reset', 'unavailable', 'error'].includes(String(f.type))),
    ).toEqual([]);

    // A kept its history: a client resuming from its first event is replayed everything since.
    const resumer = await socketFor(admin);
    const resumed = await resumer.subscribe('swap.a', String(dataOfA[0]?.id));
    expect(resumed).toMatchObject({ type: 'subscribed', recovered: true });
    // C is gone.
    expect(await resumer.subscribe('swap.c')).toMatchObject({ type: 'error', code: ErrorCode.notFound });
  });

  it('ends the subscription of a user a narrowed access rule no longer admits, with the socket open', async () => {
    await activateConfig(streams({ select: { double: '/double' }, access: { min_role: 'admin' } }, false));
    const ended = await viewerSocket.next(
      (f) => f.type === 'error' && f.channel === 'swap.b',
      'the error frame for swap.b',
    );
    expect(ended).toMatchObject({ code: ErrorCode.forbidden, id: viewerBId });
    expect(String(ended.message)).toContain('swap.b');
    expect(await viewerSocket.alive()).toBe(true);
    const seen = viewerSocket.all.length;
    await viewerSocket.next(isLiveEvent('swap.a'), 'an event of swap.a after the narrowing');
    expect(viewerSocket.all.slice(seen).some(isLiveEvent('swap.b'))).toBe(false);
    // The admin still follows B.
    const mark = adminSocket.all.length;
    await adminSocket.next(
      (f) => isLiveEvent('swap.b')(f) && adminSocket.all.indexOf(f) >= mark,
      'an event of swap.b for the admin',
    );
  });

  it('starts a re-added stream afresh: neither the old history nor the old status', async () => {
    // swap.c failed and was removed above. Back now, its first answer takes a while: until then a new
    // subscriber must not be shown what the old one left behind.
    upstream.answer('/c', 200, counting, 1500);
    await activateConfig(streams({ select: { double: '/double' }, access: { min_role: 'admin' } }, true));
    const fresh = await socketFor(admin);
    await fresh.subscribe('swap.c');
    await fresh.next(isData('swap.c'), 'a value of the re-added swap.c');
    const frames = fresh.of('swap.c');
    expect(frames.filter(isStatus('swap.c', 'error'))).toEqual([]);
    for (const frame of frames.filter(isData('swap.c'))) {
      expect((frame.data as { n: number }).n).toBeGreaterThan(lastOfC);
    }
  });
});

describe('streams fed by local functions', () => {
  // One stream per version, so each starts afresh rather than deep in the back-off of an earlier test.
  const only = (name: string, fn: Record<string, unknown>) =>
    activateConfig({
      functions: { [name]: fn },
      streams: { [`fn.${name}`]: { function: name, interval: '1s' } },
    });

  it('publishes what the function returns, from one process reused between calls', async () => {
    await only('counter', { module: 'counter.mjs' });
    const socket = await socketFor(viewer);
    await socket.subscribe('fn.counter');
    const first = await socket.next(isLiveEvent('fn.counter'), 'an event of fn.counter');
    const second = await socket.next(isLiveEvent('fn.counter'), 'the next event of fn.counter');
    expect(first.data).toEqual({ n: expect.any(Number) });
    expect((second.data as { n: number }).n).toBe((first.data as { n: number }).n + 1);
  });

  it('reports a function that throws, and ok again on the next call that succeeds', async () => {
    await only('flaky', { module: 'flaky.mjs' });
    const socket = await socketFor(viewer);
    await socket.subscribe('fn.flaky');
    const failed = await socket.next(isStatus('fn.flaky', 'error'), 'the error status', 8000);
    expect(failed.message).toMatch(/^function "flaky": .*sensor offline on call 2/);
    expect(failed.message).not.toContain(functionsDir);
    const mark = socket.all.length;
    socket.discard();
    await socket.next(isStatus('fn.flaky', 'ok'), 'the ok status', 8000);
    const after = socket.all.slice(mark).filter(isLiveEvent('fn.flaky'));
    expect(after.map((f) => f.data)).toEqual([{ calls: 3 }]);
  });

  it('reports a function that hangs past its timeout, and recovers once it is fixed', async () => {
    writeFileSync(join(functionsDir, 'hang-mode.txt'), 'hang');
    await only('hangs', { module: 'hangs.mjs', timeout: '300ms' });
    const socket = await socketFor(viewer);
    await socket.subscribe('fn.hangs');
    const failed = await socket.next(isStatus('fn.hangs', 'error'), 'the timeout status', 8000);
    expect(failed.message).toContain('function "hangs"');
    expect(failed.message).toContain('took longer than 300ms');
    expect(socket.of('fn.hangs').filter(isData('fn.hangs'))).toEqual([]);
    writeFileSync(join(functionsDir, 'hang-mode.txt'), 'fixed');
    socket.discard();
    const event = await socket.next(isLiveEvent('fn.hangs'), 'an event once fixed', 10_000);
    expect(event.data).toEqual({ fixed: true });
    await socket.next(isStatus('fn.hangs', 'ok'), 'the ok status once fixed');
  });
});

describe('bootstrap from SWITCHBOARD_ENDPOINTS_FILE', () => {
  const apps: TestApp[] = [];
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-bootstrap-'));
  });
  afterAll(async () => {
    // Later instances first: the first one's close drops the shared database.
    for (const app of apps.reverse()) await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const fileWith = (name: string, content: string) => {
    const file = join(dir, name);
    writeFileSync(file, content);
    return file;
  };
  const document = (interval: string) =>
    JSON.stringify({
      functions: { counter: { module: 'counter.mjs' } },
      streams: { 'boot.counter': { function: 'counter', interval, title: 'Bootstrapped' } },
    });
  const start = async (file: string, shareDatabaseWith?: TestApp) => {
    const app = await startTestApp({
      env: { ...ENV(functionsDir), SWITCHBOARD_ENDPOINTS_FILE: file },
      ...(shareDatabaseWith && { shareDatabaseWith }),
    });
    apps.push(app);
    return app;
  };
  const versionsOf = async (app: TestApp) => {
    const who = await app.signIn(await app.createUser({ role: 'admin' }));
    const res = await who.client.call('/api/v1/config/versions');
    expect(res.status).toBe(200);
    return res.body.data;
  };

  it('saves and activates the file as 1.0.0 on an empty store, once', async () => {
    const file = fileWith('endpoints.json', document('1m'));
    const first = await start(file);
    const list = await versionsOf(first);
    expect(list).toMatchObject({ active: '1.0.0', loaded: '1.0.0', recovery: false });
    expect(list.versions).toHaveLength(1);
    expect(list.versions[0].message).toMatch(/^bootstrapped from /);
    expect(list.versions[0].message).toContain('endpoints.json');
    const who = await first.signIn(await first.createUser({ role: 'viewer' }));
    const names = ((await who.client.call('/api/v1/streams')).body.data as { name: string }[]).map(
      (c) => c.name,
    );
    expect(names).toContain('boot.counter');

    // A second start on the same database, with a different file, leaves the database as it is.
    writeFileSync(file, document('2m'));
    const second = await start(file, first);
    const again = await versionsOf(second);
    expect(again.versions.map((v: { version: string }) => v.version)).toEqual(['1.0.0']);
    expect(again).toMatchObject({ active: '1.0.0', loaded: '1.0.0' });
    expect(second.logs.some((line) => String(line.msg).includes('bootstrapped'))).toBe(false);
  });

  it('saves nothing from a file that is not a valid configuration, says why at error level, and starts', async () => {
    const invalid = await start(
      fileWith('invalid.json', JSON.stringify({ streams: { Bad: { interval: 'soon' } }, extra: 1 })),
    );
    expect(await versionsOf(invalid)).toMatchObject({ versions: [], active: null, loaded: null });
    const reported = invalid.logs.find(
      (line) => line.level === 50 && String(line.msg).includes('ENDPOINTS_FILE'),
    );
    expect(reported?.msg).toMatch(/not a valid endpoint configuration; nothing was bootstrapped/);
    expect(JSON.stringify(reported?.problems)).toContain('/extra');

    const unreadable = await start(fileWith('broken.json', '{"streams": '));
    expect(await versionsOf(unreadable)).toMatchObject({ versions: [], active: null });
    const broken = unreadable.logs.find((line) => line.level === 50);
    expect(broken?.msg).toMatch(/cannot be read as JSON; nothing was bootstrapped/);
    expect((await unreadable.client().call('/healthz')).status).toBe(200);
  });
});
