import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Parser } from '@asyncapi/parser';
import { Ajv, type ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { asyncApiDocument } from '../../src/live/asyncapi.js';
import { wsTimings } from '../../src/live/ws-gateway.js';
import { CloseCode } from '../../src/live/ws-protocol.js';
import { Upstream } from '../endpoints/upstream.js';
import { type SignedIn, startTestApp, type TestApp, testClock } from '../fixture.js';
import {
  type Frame,
  LiveSocket,
  openRawStream,
  openSocket,
  type RawFrame,
  type RawStream,
  socketUrl,
  until,
} from '../live-client.js';

/**
 * /asyncapi.json against the server that serves it: the document parses with the AsyncAPI parser, and every
 * frame a real session sends (WebSocket and Server-Sent Events, every kind, captured off the wire below)
 * validates against the message of the document it claims to be, with no field the document does not name.
 * The inbound messages the server accepts and the close codes it can send are the document's, both ways.
 */

// Read when the gateway is registered: access expiry is noticed within a test.
wsTimings.expiryCheckMs = 50;

const LIVE_DIR = new URL('../../src/live/', import.meta.url);
const clock = testClock();

let t: TestApp;
let upstream: Upstream;
let admin: SignedIn;
/** The document as served, its text and what /openapi.json said alongside. */
let served: {
  status: number;
  type: string | undefined;
  text: string;
  again: string;
  etag: string | undefined;
};
let openapi: { paths: Record<string, unknown>; etag: string | undefined };
let doc: any;
/** Everything the server sent: WebSocket frames, event-stream frames, and the codes sockets closed with. */
const sockets: LiveSocket<any>[] = [];
const streams: RawStream[] = [];
/** The answers to each documented inbound example, and to a type the document does not have. */
const probes: { example: unknown; answer: any }[] = [];
let unknownType: any;
/** A one-channel stream of a channel without events. */
let quiet: RawStream;

const ENV = {
  SWITCHBOARD_RATE_LIMITS:
    'login.ip=off,login.username=off,tickets.issue=off,config.activate=off,config.save=off',
  SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '10000',
  SWITCHBOARD_WS_CONNECTIONS_PER_USER: '3',
  SWITCHBOARD_SSE_CONNECTIONS_PER_USER: '20',
  SWITCHBOARD_ACCESS_TOKEN_TTL: '30s',
  SWITCHBOARD_WS_AUTH_GRACE: '10s',
};

const track = <S extends LiveSocket<any>>(socket: S): S => {
  sockets.push(socket);
  return socket;
};
const bare = (query = '') => track(new LiveSocket<any>(new WebSocket(socketUrl(t, query))));
const connect = async (who: SignedIn, via: 'ticket' | 'bearer' = 'bearer') =>
  track((await openSocket(t, who, via)) as LiveSocket<any>);
const session = async (role: 'viewer' | 'editor' | 'admin' = 'viewer', groups?: string[]) =>
  t.signIn(await t.createUser({ role, groups }));
const userIdOf = (who: SignedIn): string => who.body.data.user.id;

async function ticketOf(who: SignedIn): Promise<string> {
  const res = await who.client.call('/api/v1/auth/ws-ticket', { method: 'POST', json: {} });
  expect(res.status).toBe(200);
  return res.body.data.ticket;
}

async function publish(channel: string, data: unknown): Promise<string> {
  const res = await admin.client.call(`/api/v1/streams/${channel}/publish`, { json: data });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.data.id;
}

async function stream(path: string, who: SignedIn, headers: Record<string, string> = {}) {
  const opened = await openRawStream(t.url, path, { authorization: `Bearer ${who.accessToken}`, ...headers });
  expect(opened.status, opened.text).toBe(200);
  streams.push(opened);
  return opened;
}

const frameOf = (raw: RawStream, match: (frame: RawFrame) => boolean, what: string) =>
  until(() => raw.events().find(match), what);

const isType = (type: string, channel?: string) => (f: Frame) =>
  f.type === type && (channel === undefined || f.channel === channel);

beforeAll(async () => {
  upstream = await new Upstream().start();
  upstream.answer('/feed', 200, { level: 3 });
  t = await startTestApp({
    now: () => clock.now,
    env: { ...ENV, SWITCHBOARD_ENDPOINT_HOSTS: `127.0.0.1:${upstream.port}` },
  });
  admin = await session('admin');
  const channels = t.app.live.channels;
  for (const name of ['weather', 'quiet', 'doomed', 'doomed.sse']) {
    channels.declare({ name, access: { minRole: 'viewer' } });
  }
  channels.declare({ name: 'ops.room', access: { minRole: 'viewer', groups: { oneOf: ['ops'] } } });
  for (let n = 0; n < 100; n += 1) channels.declare({ name: `cap.${n}`, access: { minRole: 'viewer' } });
  // A stream with a producer, so that its status frames are the producer's own.
  const activated = await admin.client.call('/api/v1/config', {
    json: {
      vars: { upstream: upstream.base },
      endpoints: { feed: { url: '${upstream}/feed', retries: 0 } },
      streams: { feed: { endpoint: 'feed', interval: '1s' } },
    },
  });
  expect(activated.status, JSON.stringify(activated.body)).toBe(201);
  expect(activated.body.data.active).toBe(true);

  const res = await fetch(`${t.url}/asyncapi.json`);
  served = {
    status: res.status,
    type: res.headers.get('content-type') ?? undefined,
    text: await res.text(),
    again: await (await fetch(`${t.url}/asyncapi.json`)).text(),
    etag: res.headers.get('etag') ?? undefined,
  };
  doc = JSON.parse(served.text);
  const openapiRes = await fetch(`${t.url}/openapi.json`);
  openapi = { ...((await openapiRes.json()) as { paths: Record<string, unknown> }), etag: undefined };
  openapi.etag = openapiRes.headers.get('etag') ?? undefined;

  await webSocketSession();
  await eventStreamSession();
  await closingSession();
  await expirySession();
  // Last: every socket still open is closed with 1012.
  await t.app.shutdown();
  await Promise.all(sockets.map((socket) => socket.closed));
}, 60_000);

afterAll(async () => {
  for (const raw of streams) raw.close();
  for (const socket of sockets) socket.terminate();
  await t?.close();
  await upstream?.close();
});

/** Every kind of WebSocket frame, from requests a client makes and changes made elsewhere. */
async function webSocketSession(): Promise<void> {
  const a = await connect(admin);
  expect((await a.call({ type: 'ping' })).type).toBe('pong');
  expect(await a.subscribe('weather')).toMatchObject({ type: 'subscribed', last_id: null });
  const first = await publish('weather', { temperature: 18.5 });
  const second = await publish('weather', { temperature: 19 });
  await a.next((f) => f.type === 'event' && f.id === second, 'the second event');
  expect((await a.subscribe('weather')).code).toBe(4000);
  expect((await a.subscribe('nowhere')).code).toBe(3000);
  expect((await a.call({ type: 'unsubscribe', channel: 'weather' })).type).toBe('unsubscribed');
  // Resumed from the first event: the second is replayed.
  expect(await a.subscribe('weather', first)).toMatchObject({ type: 'subscribed', recovered: true });
  await a.next((f) => f.type === 'event' && f.id === second, 'the replayed event');
  await a.call({ type: 'unsubscribe', channel: 'weather' });
  // An id of another epoch: reset, then the snapshot.
  expect(await a.subscribe('weather', 'zz:1')).toMatchObject({ type: 'subscribed', recovered: false });
  await a.next(isType('reset', 'weather'), 'the reset');
  await a.next(isType('snapshot', 'weather'), 'the snapshot after the reset');
  await a.call({ type: 'unsubscribe', channel: 'weather' });
  const epoch = first.split(':')[0];
  expect((await a.subscribe('weather', `${epoch}:999`)).code).toBe(2000);
  // Messages refused for their form.
  a.discard();
  a.send('nope{');
  a.send('[]');
  a.ws.send(Buffer.from('{"type":"ping","id":1}'), { binary: true });
  a.send({ type: 'dance', id: 5 });
  a.send({ type: 'subscribe', id: 6 });
  a.send({ type: 'ping' });
  a.send({ type: 'ping', id: {} });
  a.send({ type: 'subscribe', id: 7, channel: 'weather', since: 42 });
  a.send({ type: 'auth', id: 8 });
  const refused = await a.drain();
  expect(refused.map((f) => [f.type, f.code])).toEqual([
    ['error', 2001],
    ['error', 2001],
    ['error', 2001],
    ['error', 2000],
    ['error', 2000],
    ['error', 2000],
    ['error', 2000],
    ['error', 2000],
    ['error', 2000],
  ]);
  // A fresh subscription to a channel with events: its snapshot.
  await a.subscribe('weather');
  await a.next(isType('snapshot', 'weather'), 'the snapshot');
  // The producer's state: ok once it has polled, then error when its source fails.
  await a.subscribe('feed');
  await a.next(
    (f) => f.type === 'status' && f.channel === 'feed' && f.state === 'ok',
    'the ok status',
    10_000,
  );
  upstream.answer('/feed', 503, { error: 'maintenance' });
  await a.next((f) => f.type === 'status' && f.state === 'error', 'the error status', 10_000);
  // A channel removed under its subscribers.
  await a.subscribe('doomed');
  t.app.live.channels.remove('doomed');
  await a.next(isType('unavailable', 'doomed'), 'unavailable');
  // Renewing on an open socket: a bad ticket, another user's, then a good one.
  expect((await a.call({ type: 'auth', ticket: 'not-a-ticket' })).code).toBe(1009);
  const other = await session();
  expect((await a.call({ type: 'auth', ticket: await ticketOf(other) })).code).toBe(1001);
  expect(await a.call({ type: 'auth', ticket: await ticketOf(admin) })).toMatchObject({
    type: 'authenticated',
    user_id: userIdOf(admin),
  });

  // At most 100 subscriptions per socket.
  const many = await connect(await session());
  for (let n = 0; n < 100; n += 1) many.send({ type: 'subscribe', id: `cap-${n}`, channel: `cap.${n}` });
  expect((await many.subscribe('weather')).code).toBe(5002);
  expect(many.all.filter((f) => f.type === 'subscribed')).toHaveLength(100);

  // The right to a channel lost: an error frame naming it, the socket open.
  const operator = await session('viewer', ['ops']);
  const b = await connect(operator);
  expect((await b.subscribe('ops.room')).type).toBe('subscribed');
  const patched = await admin.client.call(`/api/v1/users/${userIdOf(operator)}`, {
    method: 'PATCH',
    json: { groups: [] },
  });
  expect(patched.status).toBe(200);
  expect(await b.next(isType('error', 'ops.room'), 'the error for the lost channel')).toMatchObject({
    code: 1001,
  });

  // A socket opened without credentials authenticates with its first message, with an id and without.
  const c = bare();
  await c.opened;
  expect(await c.call({ type: 'auth', ticket: await ticketOf(other) })).toMatchObject({
    type: 'authenticated',
  });
  const d = bare();
  await d.opened;
  d.send({ type: 'auth', ticket: await ticketOf(other) });
  expect(await d.next(isType('authenticated'), 'authenticated')).toMatchObject({ id: null });

  // Every inbound example of the document, as a client would send it, and a type it does not list.
  const probe = await connect(await session());
  for (const message of Object.values<any>(doc.components.messages)) {
    if (!inboundNames().includes(message.name)) continue;
    for (const { payload } of message.examples) {
      const answer = await probe.call({ ...payload });
      probes.push({ example: payload, answer });
    }
  }
  unknownType = await probe.call({ type: 'subscribe_all' });
}

/** Every kind of event-stream frame, on both routes. */
async function eventStreamSession(): Promise<void> {
  quiet = await stream('/api/v1/streams/quiet/events', admin);
  await frameOf(quiet, (f) => f.event === 'snapshot' && f.data.id === null, 'the empty snapshot');

  const weather = await stream('/api/v1/streams/weather/events', admin);
  await frameOf(weather, (f) => f.event === 'snapshot', 'the snapshot');
  const id = await publish('weather', { temperature: 20 });
  await frameOf(weather, (f) => f.event === 'event' && f.id === id, 'the live event');

  const resumed = await stream('/api/v1/streams/weather/events', admin, { 'last-event-id': 'zz:3' });
  await frameOf(resumed, (f) => f.event === 'reset', 'the reset');
  await frameOf(resumed, (f) => f.event === 'snapshot', 'the snapshot after the reset');

  const several = await stream('/api/v1/events?channel=weather&channel=feed&channel=quiet', admin);
  await frameOf(several, (f) => f.event === 'status', 'the status of feed');
  const next = await publish('weather', { temperature: 21 });
  await frameOf(several, (f) => f.event === 'event' && f.data.id === next, 'the event with a cursor');

  const doomed = await stream('/api/v1/streams/doomed.sse/events', admin);
  await frameOf(doomed, (f) => f.event === 'snapshot', 'the snapshot of doomed.sse');
  t.app.live.channels.remove('doomed.sse');
  await frameOf(doomed, (f) => f.event === 'unavailable', 'unavailable');

  const operator = await session('viewer', ['ops']);
  const room = await stream('/api/v1/events?channel=ops.room&channel=weather', operator);
  await frameOf(room, (f) => f.event === 'snapshot' && f.data.channel === 'weather', 'the snapshots');
  await admin.client.call(`/api/v1/users/${userIdOf(operator)}`, { method: 'PATCH', json: { groups: [] } });
  await frameOf(room, (f) => f.event === 'error' && f.data.channel === 'ops.room', 'the lost channel');

  const leaving = await session();
  const ended = await stream('/api/v1/streams/weather/events', leaving);
  await frameOf(ended, (f) => f.event === 'snapshot', 'the snapshot before logout');
  expect((await leaving.client.call('/api/v1/auth/logout', { method: 'POST' })).status).toBe(204);
  await frameOf(ended, (f) => f.event === 'error' && f.data.code === 1002, 'the end of the session');
}

/** The close codes a client can provoke. */
async function closingSession(): Promise<void> {
  const expectClose = async (socket: LiveSocket<any>, code: number) =>
    expect((await socket.closed).code).toBe(code);

  await expectClose(bare('?ticket=not-a-ticket'), CloseCode.unauthenticated);
  const early = bare();
  await early.opened;
  early.send({ type: 'ping', id: 1 });
  await expectClose(early, CloseCode.unauthenticated);

  const leaving = await session();
  const ended = await connect(leaving);
  await leaving.client.call('/api/v1/auth/logout', { method: 'POST' });
  await expectClose(ended, CloseCode.sessionEnded);

  const busy = await session();
  // Each admitted (its slot taken) before the next connects.
  for (let n = 0; n < 3; n += 1) expect(await (await connect(busy)).alive()).toBe(true);
  const over = track(
    new LiveSocket<any>(
      new WebSocket(socketUrl(t), { headers: { authorization: `Bearer ${busy.accessToken}` } }),
    ),
  );
  await expectClose(over, CloseCode.connectionCap);

  const big = await connect(await session());
  big.send('x'.repeat(64 * 1024 + 1));
  await expectClose(big, CloseCode.tooBig);

  const fragmented = await connect(await session());
  for (let n = 0; n <= 16 * 1024; n += 1) fragmented.ws.send('', { fin: false });
  await expectClose(fragmented, CloseCode.policyViolation);

  const notUtf8 = await connect(await session());
  notUtf8.ws.send(Buffer.from([0xc3, 0x28]), { binary: false });
  await expectClose(notUtf8, CloseCode.invalidText);

  const unmasked = await connect(await session());
  // A client frame without a mask breaks the protocol.
  (unmasked.ws as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.from([0x81, 0x00]));
  await expectClose(unmasked, CloseCode.protocolError);
}

/** The access behind a socket expires: auth_required. */
async function expirySession(): Promise<void> {
  const expiring = await connect(await session(), 'ticket');
  clock.advance(31_000);
  await expiring.next(isType('auth_required'), 'auth_required');
}

// ---- reading the document ----

type Operation = { action: string; channel: { $ref: string }; messages: { $ref: string }[] };

/** The object a local `$ref` points at. */
function resolve(node: any): any {
  if (!node?.$ref) return node;
  return (node.$ref as string)
    .replace(/^#\//, '')
    .split('/')
    .reduce((at: any, key) => at?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

/** The messages of `channel` that the document says Switchboard performs `action` with. */
function messagesOf(channel: string, action: 'send' | 'receive'): Map<string, any> {
  const found = new Map<string, any>();
  for (const operation of Object.values<Operation>(doc.operations)) {
    if (operation.action !== action || operation.channel.$ref !== `#/channels/${channel}`) continue;
    for (const reference of operation.messages) {
      const message = resolve(resolve(reference));
      found.set(message.name, message);
    }
  }
  return found;
}

const inboundNames = () => [...messagesOf('websocket', 'receive').keys()].sort();

/** The schema with every object closed: a frame may carry no field its message does not name. */
function closed(schema: any): any {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  const copy = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, closed(value)]));
  if (copy.properties && copy.additionalProperties === undefined) copy.additionalProperties = false;
  return copy;
}

function validators(strict: boolean) {
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat(
    'date-time',
    (text: string) =>
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(text) &&
      !Number.isNaN(Date.parse(text)),
  );
  const cache = new Map<unknown, ValidateFunction>();
  return (message: any) => {
    let validate = cache.get(message);
    if (!validate) {
      validate = ajv.compile(strict ? closed(message.payload) : message.payload);
      cache.set(message, validate);
    }
    return validate;
  };
}

/** Frames that fail their message, with Ajv's reasons; frames whose kind the document lacks. */
function check(frames: { kind: string; payload: unknown }[], messages: Map<string, any>) {
  const validatorOf = validators(true);
  const failures: unknown[] = [];
  for (const { kind, payload } of frames) {
    const message = messages.get(kind);
    if (!message) {
      failures.push({ kind, payload, problem: 'no message of this name in the document' });
      continue;
    }
    const validate = validatorOf(message);
    if (!validate(payload)) failures.push({ kind, payload, errors: validate.errors });
  }
  return failures;
}

const wsFrames = () =>
  sockets.flatMap((socket) => socket.all.map((f) => ({ kind: String(f.type), payload: f })));
const sseFrames = () =>
  streams.flatMap((raw) => raw.events().map((f) => ({ kind: String(f.event), payload: f.data, id: f.id })));

// ---- the tests ----

describe('GET /asyncapi.json', () => {
  it('is served as JSON, the same bytes each time, and is not an operation of /openapi.json', async () => {
    expect(served.status).toBe(200);
    expect(served.type).toMatch(/^application\/json/);
    expect(served.again).toBe(served.text);
    expect(doc.asyncapi).toBe('3.0.0');
    expect(Object.keys(openapi.paths)).not.toContain('/asyncapi.json');
    // An ETag exactly when /openapi.json has one.
    expect(served.etag !== undefined).toBe(openapi.etag !== undefined);
  });

  it('parses with the AsyncAPI parser without an error (diagnostics printed on failure)', async () => {
    const parser = new Parser();
    for (const text of [
      served.text,
      JSON.stringify(asyncApiDocument({ version: '1.2.3', publicUrl: 'https://ops.example/switchboard/' })),
    ]) {
      const { document, diagnostics } = await parser.parse(text);
      const errors = diagnostics
        .filter((d) => d.severity === 0)
        .map((d) => `${d.code} at ${d.path.join('.')}: ${d.message}`);
      expect(errors, errors.join('\n')).toEqual([]);
      expect(document).toBeDefined();
      expect(document?.operations().all().length).toBeGreaterThan(0);
    }
  });

  it('names the servers after SWITCHBOARD_PUBLIC_URL', () => {
    const url = new URL(t.settings.publicUrl);
    expect(doc.servers.websocket).toMatchObject({ host: url.host, protocol: 'ws' });
    expect(doc.servers.http).toMatchObject({ host: url.host, protocol: 'http' });
    const behindTls = asyncApiDocument({
      version: '1',
      publicUrl: 'https://ops.example/switchboard/',
    }) as any;
    expect(behindTls.servers.websocket).toMatchObject({
      host: 'ops.example',
      protocol: 'wss',
      pathname: '/switchboard',
    });
    expect(behindTls.servers.http).toMatchObject({ protocol: 'https', pathname: '/switchboard' });
  });

  it('declares the ticket, cookie and bearer schemes of docs/live.md', () => {
    expect(doc.components.securitySchemes).toMatchObject({
      ticket: { type: 'httpApiKey', in: 'query', name: 'ticket' },
      session: { type: 'httpApiKey', in: 'cookie', name: 'session' },
      bearer: { type: 'http', scheme: 'bearer' },
    });
    expect(doc.channels.websocket.address).toBe('/api/v1/ws');
    expect(doc.channels.streamEvents.address).toBe('/api/v1/streams/{channel}/events');
    expect(doc.channels.events.address).toBe('/api/v1/events');
  });

  it('has examples for every message, each valid against its own payload', () => {
    const validatorOf = validators(true);
    const failures: unknown[] = [];
    for (const [key, message] of Object.entries<any>(doc.components.messages)) {
      if (!(message.examples?.length > 0)) failures.push({ key, problem: 'no example' });
      for (const example of message.examples ?? []) {
        const validate = validatorOf(message);
        if (!validate(example.payload))
          failures.push({ key, example: example.name, errors: validate.errors });
      }
    }
    expect(failures).toEqual([]);
  });
});

describe('the frames of a real session', () => {
  it('are all WebSocket frames of the document, each valid against its message', () => {
    const frames = wsFrames();
    expect(frames.length).toBeGreaterThan(100);
    expect(check(frames, messagesOf('websocket', 'send'))).toEqual([]);
  });

  it('cover every frame the document says the WebSocket sends, and only those', () => {
    const seen = new Set(wsFrames().map((f) => f.kind));
    expect([...seen].sort()).toEqual([...messagesOf('websocket', 'send').keys()].sort());
  });

  it('are all event-stream frames of the document, each valid against its message, on both routes', () => {
    const frames = sseFrames();
    for (const channel of ['streamEvents', 'events']) {
      expect(check(frames, messagesOf(channel, 'send'))).toEqual([]);
      expect([...new Set(frames.map((f) => f.kind))].sort()).toEqual(
        [...messagesOf(channel, 'send').keys()].sort(),
      );
    }
    // Events carry their position; the snapshot of a channel without events, alone on its stream, has none.
    for (const frame of frames) if (frame.kind === 'event') expect(frame.id).toBeTruthy();
    expect(quiet.events()[0]).toMatchObject({ event: 'snapshot', data: { id: null } });
    expect(quiet.events()[0]?.id).toBeUndefined();
  });

  it('would fail a frame with a field the document does not name, or a wrong type', () => {
    const messages = messagesOf('websocket', 'send');
    const pong = { kind: 'pong', payload: { type: 'pong', id: 1 } };
    expect(check([pong], messages)).toEqual([]);
    expect(check([{ kind: 'pong', payload: { type: 'pong', id: 1, extra: true } }], messages)).toHaveLength(
      1,
    );
    expect(check([{ kind: 'pong', payload: { type: 'pong', id: true } }], messages)).toHaveLength(1);
    expect(check([{ kind: 'hello', payload: {} }], messages)).toHaveLength(1);
  });
});

describe('the messages a client sends', () => {
  it('are the ones the server handles: the document lists every type in the code', () => {
    const source = readFileSync(new URL('ws-connection.ts', LIVE_DIR), 'utf8');
    const handled = new Set([
      ...[...source.matchAll(/case '([a-z_]+)':/g)].map((m) => m[1]),
      ...[...source.matchAll(/parsed\.type !== '([a-z_]+)'/g)].map((m) => m[1]),
    ]);
    expect(handled.size).toBeGreaterThan(0);
    expect([...handled].sort()).toEqual(inboundNames());
  });

  it('are each accepted by the server as documented (refused for their content at most, never as unknown)', () => {
    expect(probes.length).toBeGreaterThanOrEqual(inboundNames().length);
    for (const { example, answer } of probes) {
      expect({ example, answer }).not.toMatchObject({ answer: { type: 'error', code: 2000 } });
    }
    const answered = new Set(probes.map((p) => (p.example as Frame).type));
    expect([...answered].sort()).toEqual(inboundNames());
  });

  it('are exactly those the server names when it refuses an unknown type', () => {
    expect(unknownType).toMatchObject({ type: 'error', code: 2000 });
    const listed = /expected (.+)$/.exec(unknownType.message)?.[1] ?? '';
    expect(listed.split(/, | or /).sort()).toEqual(inboundNames());
  });
});

describe('the close codes', () => {
  const documented = () =>
    doc.channels.websocket['x-close-codes'] as {
      code: number;
      by: string;
      meaning: string;
      action: string;
    }[];

  /** What the code can close a socket with: CloseCode uses and literals in src/live, and ws's own. */
  function codesTheCodeSends(): number[] {
    const codes = new Set<number>();
    const byName = CloseCode as Record<string, number>;
    for (const file of readdirSync(LIVE_DIR).filter((name) => name.endsWith('.ts'))) {
      const source = readFileSync(new URL(file, LIVE_DIR), 'utf8');
      for (const [, name] of source.matchAll(/CloseCode\.([A-Za-z]+)/g)) {
        expect(byName[name as string], `CloseCode.${name} in ${file}`).toBeDefined();
        codes.add(byName[name as string] as number);
      }
      for (const [, code] of source.matchAll(/\.close\(\s*(\d{4})\b/g)) codes.add(Number(code));
    }
    // ws closes the socket itself with the code of each error its frame parser raises.
    const receiver = join(dirname(createRequire(import.meta.url).resolve('ws')), 'lib', 'receiver.js');
    for (const [, code] of readFileSync(receiver, 'utf8').matchAll(/createError\([^;]*?\b(1\d{3}),/g)) {
      codes.add(Number(code));
    }
    return [...codes].sort();
  }

  it('listed as sent are exactly those the code can send', () => {
    const sent = documented()
      .filter((entry) => entry.by !== 'nobody')
      .map((entry) => entry.code)
      .sort();
    const fromCode = codesTheCodeSends();
    expect(fromCode).toEqual(expect.arrayContaining([1002, 1007, 1008, 1009, 4401, 4403]));
    expect(sent).toEqual(fromCode);
  });

  it('each have a meaning and what a client should do, also in the channel description', () => {
    for (const entry of documented()) {
      expect(entry.meaning.length).toBeGreaterThan(10);
      expect(entry.action.length).toBeGreaterThan(10);
      expect(doc.channels.websocket.description).toContain(`| ${entry.code} |`);
    }
  });

  it('include every code a socket of the session closed with', () => {
    const seen = new Set(sockets.map((socket) => socket.closedWith?.code));
    const listed = documented().map((entry) => entry.code);
    expect([...seen].filter((code) => !listed.includes(code as number))).toEqual([]);
    for (const code of [4401, 4403, 4429, 1009, 1008, 1007, 1002, 1012]) expect(seen).toContain(code);
  });
});
