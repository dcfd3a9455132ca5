/**
 * A subscriber worker of bench/fanout, run as a child process of the bench (`node --import tsx`, IPC with
 * advanced serialization; see protocol.ts). It opens the connections it is asked for, confirms each is
 * subscribed, then timestamps every event it receives against the `sent_at` the publisher put in it. The
 * connections live outside the bench process so that reading 50,000 frames a second does not delay the
 * publisher's schedule.
 */
import { connect } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { ChunkedSseReader } from '../lib/sse-reader.js';
import {
  type ConnectRequest,
  type FanoutPayload,
  type ParentMessage,
  preciseNow,
  type WorkerMessage,
} from './protocol.js';

const CONNECT_TIMEOUT_MS = 30_000;

interface Subscriber {
  close(): void;
}

let latencies = new Float64Array(0);
let perSeq = new Uint32Array(0);
let delivered = 0;
let lastDeliveryAt = Number.NaN;
let unexpected = 0;
const unexpectedSamples: string[] = [];
const dropped: Record<string, number> = {};
let closing = false;
const subscribers: Subscriber[] = [];
const loop = monitorEventLoopDelay({ resolution: 10 });

const send = (message: WorkerMessage) => process.send?.(message);

function noteUnexpected(what: string): void {
  unexpected += 1;
  if (unexpectedSamples.length < 5) unexpectedSamples.push(what.slice(0, 200));
}

function noteDropped(reason: string): void {
  if (closing) return;
  dropped[reason] = (dropped[reason] ?? 0) + 1;
}

const isPayload = (value: unknown): value is FanoutPayload =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as FanoutPayload).seq === 'number' &&
  typeof (value as FanoutPayload).sent_at === 'number';

/** One delivery of `payload`, received at `receivedAt`; seq 0 is the primer, not measured. */
function deliver(payload: FanoutPayload, receivedAt: number): void {
  const { seq } = payload;
  if (seq === 0) return;
  if (!Number.isInteger(seq) || seq < 0 || seq >= perSeq.length || delivered >= latencies.length) {
    noteUnexpected(`seq ${seq}`);
    return;
  }
  perSeq[seq] = (perSeq[seq] ?? 0) + 1;
  latencies[delivered] = receivedAt - payload.sent_at;
  delivered += 1;
  lastDeliveryAt = receivedAt;
}

const wsUrl = (origin: string, path: string) => `${origin.replace(/^http/, 'ws')}${path}`;

/** Resolves once subscribed; rejects on failure or after CONNECT_TIMEOUT_MS. */
function withTimeout<T>(what: string, start: (resolve: (v: T) => void, reject: (e: Error) => void) => void) {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what}: not subscribed after ${CONNECT_TIMEOUT_MS} ms`)),
      CONNECT_TIMEOUT_MS,
    );
    start(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** The bare ws server: a socket that is open receives every broadcast. */
function bareWs(request: ConnectRequest): Promise<Subscriber> {
  return withTimeout('ws', (resolve, reject) => {
    const socket = new WebSocket(wsUrl(request.origin, '/ws'));
    let ready = false;
    socket.on('open', () => {
      ready = true;
      resolve({ close: () => socket.terminate() });
    });
    socket.on('message', (data) => {
      const receivedAt = preciseNow();
      try {
        const payload: unknown = JSON.parse(data.toString());
        if (isPayload(payload)) deliver(payload, receivedAt);
        else noteUnexpected(data.toString());
      } catch {
        noteUnexpected(data.toString());
      }
    });
    socket.on('error', (error) => {
      if (!ready) reject(error);
    });
    socket.on('close', (code) => {
      if (ready) noteDropped(`ws close ${code}`);
      else reject(new Error(`ws closed with ${code} before it opened`));
    });
  });
}

/** Switchboard's WebSocket: bearer on the upgrade, then `subscribe`, ready at `subscribed`. */
function switchboardWs(request: ConnectRequest): Promise<Subscriber> {
  return withTimeout('switchboard ws', (resolve, reject) => {
    const socket = new WebSocket(wsUrl(request.origin, '/api/v1/ws'), {
      headers: { authorization: `Bearer ${request.token}` },
    });
    let ready = false;
    socket.on('open', () => {
      socket.send(JSON.stringify({ type: 'subscribe', id: 1, channel: request.channel }));
    });
    socket.on('message', (data) => {
      const receivedAt = preciseNow();
      let message: { type?: string; id?: unknown; data?: unknown; code?: unknown; message?: unknown };
      try {
        message = JSON.parse(data.toString());
      } catch {
        noteUnexpected(data.toString());
        return;
      }
      if (message.type === 'event' || message.type === 'snapshot') {
        if (isPayload(message.data)) deliver(message.data, receivedAt);
        else noteUnexpected(data.toString());
      } else if (message.type === 'subscribed' && message.id === 1) {
        ready = true;
        resolve({ close: () => socket.terminate() });
      } else if (message.type === 'error') {
        if (!ready) reject(new Error(`switchboard ws: error ${message.code}: ${message.message}`));
        else noteDropped(`ws error frame ${message.code}`);
      } else if (message.type !== 'pong') {
        noteUnexpected(data.toString());
      }
    });
    socket.on('unexpected-response', (_req, res) => {
      reject(new Error(`switchboard ws: upgrade answered ${res.statusCode}`));
      res.resume();
      socket.terminate();
    });
    socket.on('error', (error) => {
      if (!ready) reject(error);
    });
    socket.on('close', (code, reason) => {
      if (ready) noteDropped(`ws close ${code}`);
      else reject(new Error(`switchboard ws: closed with ${code} ${reason.toString()} before subscribed`));
    });
  });
}

/**
 * Switchboard's SSE: one HTTP/1.1 connection each, on a bare TCP socket, bearer, ready at the first frame
 * (the channel's snapshot; the bench publishes a primer first so that there is one). The response is read
 * by hand (status line, chunked body, `event:` and `data:` lines up to a blank line): as lean as `ws` is
 * for the WebSocket clients, so that the figures measure the servers rather than an HTTP client library.
 */
function switchboardSse(request: ConnectRequest): Promise<Subscriber> {
  return withTimeout('switchboard sse', (resolve, reject) => {
    const { hostname, port } = new URL(request.origin);
    const socket = connect(Number(port), hostname);
    socket.setNoDelay(true);
    const close = () => socket.destroy();
    let ready = false;
    const reader = new ChunkedSseReader();
    const frame = (raw: string, receivedAt: number) => {
      let event = 'message';
      const data: string[] = [];
      for (const line of raw.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length === 0) return;
      if (!ready) {
        ready = true;
        resolve({ close });
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(data.join('\n'));
      } catch {
        noteUnexpected(`${event}: ${data.join('\n')}`);
        return;
      }
      // The data is the payload itself or an envelope with it under `data`.
      const payload = isPayload(parsed) ? parsed : (parsed as { data?: unknown } | null)?.data;
      if (isPayload(payload)) deliver(payload, receivedAt);
      else if (event !== 'snapshot') noteUnexpected(`${event}: ${data.join('\n')}`);
    };
    const fail = (error: Error) => {
      close();
      if (ready) noteDropped(`sse ${error.message}`);
      else reject(error);
    };
    socket.on('connect', () => {
      socket.write(
        `GET /api/v1/streams/${encodeURIComponent(request.channel)}/events HTTP/1.1\r\n` +
          `host: ${hostname}:${port}\r\nauthorization: Bearer ${request.token}\r\n` +
          'accept: text/event-stream\r\n\r\n',
      );
    });
    socket.on('data', (chunk: Buffer) => {
      const receivedAt = preciseNow();
      const { head, frames, ended } = reader.push(chunk);
      if (head !== undefined) {
        if (!head.startsWith('HTTP/1.1 200')) {
          fail(new Error(`switchboard sse: answered ${head.split('\r\n')[0]}`));
          return;
        }
        if (!/\r\ntransfer-encoding: chunked/i.test(head)) {
          fail(new Error('switchboard sse: the response is not chunked'));
          return;
        }
      }
      for (const raw of frames) frame(raw, receivedAt);
      if (ended) fail(new Error('ended'));
    });
    socket.on('error', fail);
    socket.on('close', () => {
      if (ready) noteDropped('sse closed');
      else reject(new Error('switchboard sse: closed before the first frame'));
    });
  });
}

/** Socket.IO over its WebSocket transport only: `subscribe` to the room, ready at its acknowledgement. */
function socketIo(request: ConnectRequest): Promise<Subscriber> {
  return withTimeout('socket.io', (resolve, reject) => {
    const socket: Socket = io(request.origin, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: CONNECT_TIMEOUT_MS,
    });
    let ready = false;
    socket.on('connect', () => {
      socket.emit('subscribe', request.channel, () => {
        ready = true;
        resolve({ close: () => socket.disconnect() });
      });
    });
    socket.on('event', (payload: unknown) => {
      const receivedAt = preciseNow();
      if (isPayload(payload)) deliver(payload, receivedAt);
      else noteUnexpected(JSON.stringify(payload));
    });
    socket.on('connect_error', (error) => {
      if (!ready) reject(error);
    });
    socket.on('disconnect', (reason) => {
      if (ready) noteDropped(`socket.io ${reason}`);
      else reject(new Error(`socket.io: disconnected (${reason}) before subscribed`));
    });
  });
}

const connectors = {
  ws: bareWs,
  socketio: socketIo,
  'switchboard-ws': switchboardWs,
  'switchboard-sse': switchboardSse,
} as const;

/** Opens `request.count` more subscribers; may be called again before `start` to add more. */
async function connectAll(request: ConnectRequest): Promise<void> {
  // Nothing is measured before `start`, so the buffers may be sized anew for every subscriber so far.
  const already = subscribers.length;
  latencies = new Float64Array((already + request.count) * (request.events + 1));
  perSeq = new Uint32Array(request.events + 1);
  const connect = connectors[request.kind];
  const failures: string[] = [];
  let failed = 0;
  let next = 0;
  const start = performance.now();
  const lane = async () => {
    while (next < request.count) {
      next += 1;
      try {
        subscribers.push(await connect(request));
      } catch (error) {
        failed += 1;
        if (failures.length < 5) failures.push(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(request.concurrency, request.count) }, lane));
  send({
    type: 'connected',
    ready: subscribers.length - already,
    failed,
    failures,
    elapsedMs: performance.now() - start,
  });
}

process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'connect':
      connectAll(message).catch((error: unknown) =>
        send({ type: 'fatal', message: error instanceof Error ? error.message : String(error) }),
      );
      break;
    case 'start':
      loop.reset();
      loop.enable();
      break;
    case 'progress':
      send({ type: 'progress', delivered });
      break;
    case 'collect':
      loop.disable();
      send({
        type: 'collected',
        latencies: latencies.slice(0, delivered),
        perSeq,
        lastDeliveryAt,
        dropped,
        loopDelay: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
        unexpected,
        unexpectedSamples,
      });
      break;
    case 'close':
      closing = true;
      for (const subscriber of subscribers.splice(0)) subscriber.close();
      setTimeout(() => process.exit(0), 500).unref();
      break;
  }
});
process.on('disconnect', () => process.exit(0));
