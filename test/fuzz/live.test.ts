import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { engine } from '../fixture.js';
import { type Answer, Contract } from './contract.js';
import { encode, resolve } from './requests.js';
import { fuzzRequests, fuzzSeed, replayHint, unexpectedErrorLogs } from './run.js';
import {
  arbitraryOf,
  DeepJson,
  type JsonSchema,
  jsonText,
  type Mutation,
  mutate,
  mutationArbitrary,
  ref,
} from './schema-arbitrary.js';
import { IDENTITIES, type Identity, PEOPLE, World } from './world.js';

/**
 * The live API (docs/live.md) under fuzzing. WebSocket: sessions that connect in every way (bearer, ticket,
 * a first `auth` message, nothing, wrong credentials), sometimes subscribe properly first, then send random
 * JSON, random bytes as binary frames, text that is not UTF-8, messages shaped like the protocol's with
 * one field broken, messages over the 64 KiB limit (up to megabytes) and deeply nested ones. The server must
 * answer with its documented frames or close with a documented code, stay up, and serve the next client.
 * SSE: random and malformed channel lists, `last_event_id` and `Last-Event-ID`, tickets and credentials on
 * both routes: a stream or a 4xx problem document, never a 5xx.
 */

const REQUESTS = fuzzRequests();
const SEED = fuzzSeed();
/** WebSocket sessions and SSE requests, in proportion to the HTTP requests of the run. */
const WS_SESSIONS = Math.max(60, Math.round(REQUESTS / 40));
const SSE_REQUESTS = Math.max(100, Math.round(REQUESTS / 25));

/** docs/live.md, Server frames. */
const SERVER_FRAMES = new Set([
  'subscribed',
  'unsubscribed',
  'pong',
  'error',
  'reset',
  'snapshot',
  'event',
  'unavailable',
  'status',
  'authenticated',
  'auth_required',
]);
/** docs/live.md, Errors (codes of error frames). */
const ERROR_FRAME_CODES = new Set([2001, 2000, 3000, 4000, 5002, 1001, 1009]);
/**
 * docs/live.md, Close codes, and those the WebSocket library closes with on a frame that breaks the protocol
 * (1002, 1007; 1008 for a message in too many fragments); 1000 and 1005 are ordinary closes. Never 1011 (an
 * internal error) nor 1006 (cut without a close frame).
 */
const CLOSE_CODES = new Set([4401, 4403, 4429, 4409, 1009, 1002, 1007, 1008, 1000, 1005]);
/** docs/live.md, Server-Sent Events: the named events of a stream. */
const SSE_EVENTS = new Set(['snapshot', 'event', 'status', 'reset', 'unavailable', 'error']);

const MessageId = { anyOf: [{ type: 'integer' }, { type: 'string', minLength: 1, maxLength: 64 }] };
const Channel = { type: 'string', minLength: 1, maxLength: 80 };
/** The client messages of docs/live.md as JSON Schemas, to draw them valid and break them. */
const CLIENT_MESSAGES: JsonSchema[] = [
  {
    type: 'object',
    required: ['type', 'id', 'channel'],
    properties: {
      type: { const: 'subscribe' },
      id: MessageId,
      channel: Channel,
      since: { anyOf: [{ type: 'string', maxLength: 64 }, { type: 'null' }] },
    },
  },
  {
    type: 'object',
    required: ['type', 'id', 'channel'],
    properties: { type: { const: 'unsubscribe' }, id: MessageId, channel: Channel },
  },
  { type: 'object', required: ['type', 'id'], properties: { type: { const: 'ping' }, id: MessageId } },
  {
    type: 'object',
    required: ['type', 'ticket'],
    properties: {
      type: { const: 'auth' },
      id: { anyOf: [MessageId, { type: 'null' }] },
      ticket: { type: 'string', minLength: 1, maxLength: 512 },
    },
  },
];

const liveHint = (name: string) => {
  if (name === 'channel') return ref('channels');
  if (name === 'since') return ref('eventIds');
  if (name === 'ticket') return ref('sessionTicket');
  return undefined;
};

/** One frame a fuzzed client sends. */
type FuzzFrame =
  | { kind: 'message'; schema: number; value: unknown; breakage: Mutation | null }
  | { kind: 'json'; value: unknown }
  | { kind: 'binary'; bytes: Uint8Array }
  | { kind: 'text'; text: string }
  | { kind: 'not utf-8'; bytes: Uint8Array }
  | { kind: 'huge'; bytes: number }
  | { kind: 'deep'; depth: number; objects: boolean };

const messageFrame = fc.nat(CLIENT_MESSAGES.length - 1).chain((schema) =>
  fc.record({
    kind: fc.constant('message' as const),
    schema: fc.constant(schema),
    value: arbitraryOf(CLIENT_MESSAGES[schema] as JsonSchema, liveHint),
    breakage: fc.option(mutationArbitrary, { freq: 2 }),
  }),
);

const frameArbitrary: fc.Arbitrary<FuzzFrame> = fc.oneof(
  { weight: 5, arbitrary: messageFrame },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('json' as const), value: fc.jsonValue({ maxDepth: 4 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('binary' as const), bytes: fc.uint8Array({ maxLength: 300 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('text' as const),
      text: fc.string({ unit: 'binary', maxLength: 200 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('not utf-8' as const),
      bytes: fc
        .uint8Array({ minLength: 1, maxLength: 50 })
        .map((b) => Uint8Array.from([0x7b, 0xff, 0xfe, ...b])),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('huge' as const),
      bytes: fc.constantFrom(60_000, 65_537, 300_000, 1_048_576, 3_145_728),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('deep' as const),
      depth: fc.constantFrom(100, 1_000, 10_000, 30_000, 100_000),
      objects: fc.boolean(),
    }),
  },
);

type Auth =
  | 'bearer'
  | 'key'
  | 'ticket'
  | 'auth message'
  | 'none'
  | 'bad bearer'
  | 'bad ticket'
  | 'cookie without origin';

interface Session {
  auth: Auth;
  person: number;
  subscribeFirst: boolean;
  frames: FuzzFrame[];
}

const sessionArbitrary: fc.Arbitrary<Session> = fc.record({
  auth: fc.constantFrom<Auth>(
    'bearer',
    'bearer',
    'key',
    'ticket',
    'auth message',
    'none',
    'bad bearer',
    'bad ticket',
    'cookie without origin',
  ),
  person: fc.nat(PEOPLE.length - 1),
  subscribeFirst: fc.boolean(),
  frames: fc.array(frameArbitrary, { minLength: 1, maxLength: 6 }),
});

interface Socket {
  ws: WebSocket;
  frames: any[];
  violations: string[];
  closed?: { code: number; reason: string };
  closedAt: Promise<{ code: number; reason: string }>;
}

function connect(url: string, headers: Record<string, string>): Promise<Socket> {
  return new Promise((done) => {
    const ws = new WebSocket(url, { headers, maxPayload: 16 * 1024 * 1024 });
    const socket: Socket = {
      ws,
      frames: [],
      violations: [],
      closedAt: new Promise((closed) =>
        ws.on('close', (code, reason) => {
          socket.closed = { code, reason: reason.toString() };
          closed(socket.closed);
        }),
      ),
    };
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        socket.violations.push('the server sent a binary frame');
        return;
      }
      let frame: any;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        socket.violations.push(`a frame that is not JSON: ${data.toString().slice(0, 200)}`);
        return;
      }
      if (frame === null || typeof frame !== 'object' || !SERVER_FRAMES.has(frame.type)) {
        socket.violations.push(`an undocumented frame: ${JSON.stringify(frame).slice(0, 200)}`);
      } else if (frame.type === 'error') {
        if (!ERROR_FRAME_CODES.has(frame.code) || typeof frame.message !== 'string' || !('id' in frame)) {
          socket.violations.push(
            `an error frame off the documented ones: ${JSON.stringify(frame).slice(0, 300)}`,
          );
        }
      }
      socket.frames.push(frame);
    });
    ws.on('error', () => {});
    ws.once('open', () => done(socket));
    // Refused before it opened (an HTTP answer to the upgrade): closed too.
    ws.once('unexpected-response', (_request, response) => {
      socket.closed = { code: -response.statusCode!, reason: 'refused upgrade' };
      if ((response.statusCode ?? 500) >= 500)
        socket.violations.push(`upgrade answered ${response.statusCode}`);
      response.resume();
      done(socket);
    });
  });
}

/** Waits until `match` finds a frame, or the socket closes, or `ms` pass; returns the frame if found. */
async function waitFor(socket: Socket, match: (frame: any) => boolean, ms = 5000): Promise<any | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const found = socket.frames.find(match);
    if (found) return found;
    if (socket.closed) return undefined;
    await new Promise((r) => setTimeout(r, 5));
  }
  return undefined;
}

let world: World;
const contract = new Contract();

describe(`fuzzing the live API (${engine})`, () => {
  beforeAll(async () => {
    world = await World.start({
      SWITCHBOARD_WS_CONNECTIONS_PER_USER: '50',
      SWITCHBOARD_SSE_CONNECTIONS_PER_USER: '50',
    });
  }, 120_000);
  afterAll(async () => {
    await world?.close();
  });

  const wsUrl = (query = '') => `${world.t.url.replace(/^http/, 'ws')}/api/v1/ws${query}`;
  const personIdentity = (i: number, kind: 'bearer' | 'cookie' | 'key') =>
    IDENTITIES.map((x) => x.identity).find(
      (x) =>
        x.kind === kind &&
        ((x.kind === 'key' && x.owner === PEOPLE[i]?.username && x.scopes.length === 0) ||
          ((x.kind === 'bearer' || x.kind === 'cookie') && x.person === PEOPLE[i]?.username)),
    ) as Identity;

  async function ticketFor(i: number): Promise<string | undefined> {
    const res = await world.call('POST', '/api/v1/auth/ws-ticket', {
      as: personIdentity(i, 'bearer'),
      json: {},
    });
    return res.body?.data?.ticket;
  }

  /** A fresh, properly authenticated socket answers a ping: the gateway still serves. */
  async function gatewayServes(): Promise<boolean> {
    await world.heal();
    const headers = world.credentialHeaders(personIdentity(0, 'bearer'), 'GET', '/api/v1/ws');
    const socket = await connect(wsUrl(), headers);
    if (socket.closed) return false;
    socket.ws.send(JSON.stringify({ type: 'ping', id: 'alive?' }));
    const pong = await waitFor(socket, (f) => f.type === 'pong' && f.id === 'alive?');
    socket.ws.terminate();
    return Boolean(pong);
  }

  beforeAll(() => {
    console.log(`fuzz: seed ${SEED} (SWITCHBOARD_FUZZ_SEED=${SEED} replays this file)`);
  });

  it(`${WS_SESSIONS} WebSocket sessions of random, binary, huge and deeply nested frames`, async () => {
    const sessions = fc.sample(sessionArbitrary, { seed: SEED, numRuns: WS_SESSIONS });
    const failures: string[] = [];
    const closes = new Map<number, number>();
    const errors = new Map<number, number>();
    let sent = 0;
    const started = performance.now();
    for (const [index, session] of sessions.entries()) {
      await world.heal();
      const headers: Record<string, string> = {};
      let query = '';
      let ticket: string | undefined;
      switch (session.auth) {
        case 'bearer':
          Object.assign(
            headers,
            world.credentialHeaders(personIdentity(session.person, 'bearer'), 'GET', '/api/v1/ws'),
          );
          break;
        case 'key':
          Object.assign(
            headers,
            world.credentialHeaders(personIdentity(session.person, 'key'), 'GET', '/api/v1/ws'),
          );
          break;
        case 'ticket':
          ticket = await ticketFor(session.person);
          query = `?ticket=${encode(ticket ?? 'none')}`;
          break;
        case 'auth message':
          ticket = await ticketFor(session.person);
          break;
        case 'bad bearer':
          headers.authorization = 'Bearer sbk_not-a-key';
          break;
        case 'bad ticket':
          query = '?ticket=spent-or-never-issued';
          break;
        case 'cookie without origin': {
          const cookie = world.credentialHeaders(
            personIdentity(session.person, 'cookie'),
            'GET',
            '/api/v1/ws',
          ).cookie;
          if (cookie) headers.cookie = cookie;
          break;
        }
        case 'none':
          break;
      }
      // `auth` messages among the fuzzed frames carry this one: spent by then, or never issued.
      world.pools.sessionTicket = [ticket ?? 'never-issued'];
      const socket = await connect(wsUrl(query), headers);
      const fail = (what: string) =>
        failures.push(`session #${index} (${session.auth}, ${PEOPLE[session.person]?.role}): ${what}`);
      let authenticated = ['bearer', 'key', 'ticket'].includes(session.auth);
      if (session.auth === 'auth message' && ticket && !socket.closed) {
        socket.ws.send(JSON.stringify({ type: 'auth', id: 'auth', ticket }));
        authenticated = Boolean(await waitFor(socket, (f) => f.type === 'authenticated'));
        if (!authenticated) fail(`a valid auth message was not answered: ${JSON.stringify(socket.frames)}`);
      }
      if (authenticated && session.subscribeFirst && !socket.closed) {
        socket.ws.send(JSON.stringify({ type: 'subscribe', id: 'first', channel: 'fuzz.board' }));
        const answer = await waitFor(socket, (f) => f.id === 'first');
        if (answer?.type !== 'subscribed') fail(`a valid subscribe got ${JSON.stringify(answer)}`);
      }
      for (const [n, frame] of session.frames.entries()) {
        if (socket.closed || socket.ws.readyState !== WebSocket.OPEN) break;
        sent += 1;
        let expectClose: number[] | undefined;
        switch (frame.kind) {
          case 'message': {
            let value = resolve(frame.value, world);
            if (frame.breakage) {
              value = mutate(
                CLIENT_MESSAGES[frame.schema] as JsonSchema,
                value,
                frame.breakage,
                200_000,
              ).value;
            }
            const text = jsonText(value);
            socket.ws.send(text);
            if (Buffer.byteLength(text) > 64 * 1024) expectClose = [1009];
            break;
          }
          case 'json':
            socket.ws.send(JSON.stringify(frame.value));
            break;
          case 'binary':
            socket.ws.send(frame.bytes, { binary: true });
            break;
          case 'text':
            socket.ws.send(frame.text);
            if (Buffer.byteLength(frame.text) > 64 * 1024) expectClose = [1009];
            break;
          case 'not utf-8':
            socket.ws.send(frame.bytes, { binary: false });
            expectClose = [1007];
            break;
          case 'huge': {
            const text = JSON.stringify({ type: 'subscribe', id: n, channel: 'x'.repeat(frame.bytes) });
            socket.ws.send(text);
            if (Buffer.byteLength(text) > 64 * 1024) expectClose = [1009];
            break;
          }
          case 'deep': {
            const text = new DeepJson(frame.depth, frame.objects).text();
            socket.ws.send(text);
            if (text.length > 64 * 1024) expectClose = [1009];
            break;
          }
        }
        // A socket whose credentials were refused may be closed for that (4401) before the frame is read.
        if (expectClose && !authenticated) expectClose.push(4401);
        if (expectClose) {
          const closed = (await Promise.race([
            socket.closedAt,
            new Promise<undefined>((r) => setTimeout(r, 5000)),
          ])) as { code: number } | undefined;
          if (!closed) fail(`frame ${n} (${frame.kind}) should have closed the socket with ${expectClose}`);
          else if (!expectClose.includes(closed.code)) {
            fail(`frame ${n} (${frame.kind}) closed it with ${closed.code}, not ${expectClose}`);
          }
          break;
        }
        if (!authenticated) {
          // Unauthenticated, anything but `auth` closes the socket (4401): a ping would too; wait a moment.
          await new Promise((r) => setTimeout(r, 20));
          if (socket.frames.some((f) => f.type === 'authenticated')) authenticated = true;
          continue;
        }
        const id = `probe-${n}`;
        socket.ws.send(JSON.stringify({ type: 'ping', id }));
        const pong = await waitFor(socket, (f) => f.type === 'pong' && f.id === id);
        if (!pong && !socket.closed) fail(`no pong after frame ${n} (${frame.kind}): the socket hangs`);
      }
      if (!socket.closed) {
        socket.ws.close(1000);
        await Promise.race([socket.closedAt, new Promise((r) => setTimeout(r, 3000))]);
      }
      if (socket.closed) {
        closes.set(socket.closed.code, (closes.get(socket.closed.code) ?? 0) + 1);
        if (socket.closed.code > 0 && !CLOSE_CODES.has(socket.closed.code)) {
          fail(`closed with ${socket.closed.code} (${socket.closed.reason})`);
        }
      }
      for (const f of socket.frames)
        if (f.type === 'error') errors.set(f.code, (errors.get(f.code) ?? 0) + 1);
      for (const v of socket.violations) fail(v);
      socket.ws.terminate();
      if (index % 20 === 19 && !(await gatewayServes())) fail('the gateway stopped serving new clients');
    }
    expect(await gatewayServes(), 'a new client is served at the end').toBe(true);
    console.log(
      `fuzz: ${WS_SESSIONS} WebSocket sessions, ${sent} fuzzed frames in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
        `close codes ${JSON.stringify(Object.fromEntries(closes))}, error frames ${JSON.stringify(Object.fromEntries(errors))}`,
    );
    expect(failures.slice(0, 30).join('\n'), replayHint(SEED, REQUESTS)).toBe('');
  });

  it(`${SSE_REQUESTS} SSE requests with random and malformed channels, ids and tickets`, async () => {
    const channelName = fc.oneof(
      // The stream every signed-in user may follow, so that many requests get their stream.
      { weight: 4, arbitrary: fc.constant('fuzz.board') },
      { weight: 4, arbitrary: ref('channels') },
      { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('x'.repeat(81), 'user:', 'status:fuzz.board', 'CONFIG', '', '%zz', 'a/b'),
      },
    );
    const eventId = fc.oneof(
      { weight: 3, arbitrary: ref('eventIds') },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          '',
          ':',
          'abc',
          '1:',
          ':1',
          'zzz:1',
          'epoch:99999999999',
          '-1',
          'a:b:c',
          'x'.repeat(65),
          '0:0',
        ),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 70 }) },
    );
    const resumeId = fc.oneof(
      { weight: 2, arbitrary: ref('resumeIds') },
      {
        weight: 2,
        arbitrary: fc
          .dictionary(
            channelName.filter((c): c is string => typeof c === 'string'),
            fc.oneof(eventId, fc.jsonValue({ maxDepth: 2 })),
            {
              maxKeys: 4,
            },
          )
          .map((o) => Buffer.from(JSON.stringify(o)).toString('base64url')),
      },
      { weight: 1, arbitrary: fc.constantFrom('!!!', 'e30', 'bnVsbA', 'W10', 'x'.repeat(9000), '') },
      { weight: 1, arbitrary: eventId },
    );
    const request = fc.record({
      multi: fc.boolean(),
      identity: fc.nat(IDENTITIES.length - 1),
      channels: fc.oneof(
        { weight: 8, arbitrary: fc.array(channelName, { minLength: 1, maxLength: 3 }) },
        { weight: 1, arbitrary: fc.array(channelName, { minLength: 0, maxLength: 40 }) },
      ),
      queryId: fc.option(fc.oneof(eventId, resumeId), { freq: 1 }),
      headerId: fc.option(fc.oneof(eventId, resumeId), { freq: 1 }),
      ticket: fc.option(fc.oneof(ref('tickets'), fc.string({ maxLength: 300 })), { freq: 1 }),
      garbage: fc.option(
        fc.constantFrom(
          '&channel',
          '&channel[]=a',
          '&last_event_id=1&last_event_id=2',
          '&%zz=1',
          '&ticket=',
          '&&&',
          '#frag',
        ),
        { freq: 4 },
      ),
    });
    const plans = fc.sample(request, { seed: SEED + 1, numRuns: SSE_REQUESTS });
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const started = performance.now();
    for (const [index, plan] of plans.entries()) {
      if (index % 25 === 0) {
        // Fresh tickets and event ids to draw from.
        await world.heal();
        const ticket = await world.call('POST', '/api/v1/auth/ws-ticket', { json: {} });
        world.remember('tickets', ticket.body?.data?.ticket);
        const published = await world.call('POST', '/api/v1/streams/fuzz.board/publish', { json: { index } });
        world.remember('eventIds', published.body?.data?.id);
      }
      const channels = plan.channels
        .map((c) => resolve(c, world))
        .filter((c): c is string => typeof c === 'string');
      const identity = (IDENTITIES[plan.identity] as { identity: Identity }).identity;
      let path: string;
      const query: string[] = [];
      if (plan.multi) {
        path = '/api/v1/events';
        for (const c of channels) query.push(`channel=${encode(c)}`);
      } else {
        path = `/api/v1/streams/${encode(channels[0] ?? '')}/events`;
      }
      const id = (v: unknown) => (typeof v === 'string' ? v : undefined);
      const queryId = id(resolve(plan.queryId, world));
      if (queryId !== undefined) query.push(`last_event_id=${encode(queryId)}`);
      const ticket = id(resolve(plan.ticket, world));
      if (ticket !== undefined) query.push(`ticket=${encode(ticket)}`);
      let full = `${path}${query.length ? `?${query.join('&')}` : ''}`;
      if (plan.garbage)
        full +=
          full.includes('?') || plan.garbage.startsWith('#') ? plan.garbage : `?${plan.garbage.slice(1)}`;
      const headers = world.credentialHeaders(identity, 'GET', path);
      const headerId = id(resolve(plan.headerId, world));
      if (headerId !== undefined) headers['last-event-id'] = headerId.replace(/[^\x20-\x7e]/g, '?');
      let answer: Answer;
      try {
        const res = await world.pool.request({ method: 'GET', path: full, headers, reset: true });
        let text = '';
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          const timer = setTimeout(() => res.body.destroy(), 150);
          try {
            for await (const chunk of res.body) text += String(chunk);
          } catch {
            // Cut by the timer: a live stream does not end by itself.
          } finally {
            clearTimeout(timer);
            res.body.destroy();
          }
        } else {
          text = await res.body.text();
        }
        answer = { status: res.statusCode, headers: res.headers, text };
      } catch (error) {
        failures.push(`#${index} ${full.slice(0, 200)}: request failed: ${(error as Error).message}`);
        continue;
      }
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      if (process.env.SWITCHBOARD_FUZZ_TRACE === '1')
        console.log(
          `#${index} ${full.slice(0, 200)} as ${identity.name} -> ${answer.status} ${answer.text.slice(0, 200)}`,
        );
      const fail = (what: string) =>
        failures.push(`#${index} GET ${full.slice(0, 300)} as ${identity.name} -> ${answer.status}: ${what}`);
      if (answer.status === 200) {
        if (!String(answer.headers['content-type']).startsWith('text/event-stream'))
          fail('a 200 that is not a stream');
        for (const line of answer.text.split('\n')) {
          if (line.startsWith('id: ')) world.remember(plan.multi ? 'resumeIds' : 'eventIds', line.slice(4));
        }
        for (const block of answer.text.split('\n\n').slice(0, -1)) {
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === undefined) continue;
          if (!SSE_EVENTS.has(event)) fail(`an undocumented event ${event}`);
          try {
            JSON.parse(data ?? '');
          } catch {
            fail(`event ${event} whose data is not JSON: ${data?.slice(0, 200)}`);
          }
        }
      } else if ([400, 401, 403, 404, 406, 422, 429, 431].includes(answer.status)) {
        for (const v of contract.checkProblem(answer)) fail(v);
      } else {
        fail(`an undocumented status: ${answer.text.slice(0, 300)}`);
      }
    }
    console.log(
      `fuzz: ${SSE_REQUESTS} SSE requests in ${((performance.now() - started) / 1000).toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(failures.slice(0, 30).join('\n'), replayHint(SEED, REQUESTS)).toBe('');
    expect(await gatewayServes()).toBe(true);
  });

  it('logged no error meanwhile', () => {
    expect(unexpectedErrorLogs(world.t.logs)).toEqual([]);
  });
});
