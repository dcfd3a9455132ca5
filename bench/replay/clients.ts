/**
 * A client worker of bench/replay, run as a child process of the bench (`node --import tsx`, IPC with
 * advanced serialization; see protocol.ts). It opens the reconnecting clients it is asked for, each with a
 * bearer token and the id it resumes after, notes when each holds every event it missed (live), and checks
 * on request that each holds every event since exactly once. Clients live outside the bench process so that
 * thousands of them reading at once do not slow the bench's own clock or its publishing.
 */
import { connect } from 'node:net';
import WebSocket from 'ws';
import { ChunkedSseReader } from '../lib/sse-reader.js';
import {
  type ParentMessage,
  preciseNow,
  type ReconnectRequest,
  seqOf,
  type WorkerMessage,
} from './protocol.js';

const CONNECT_TIMEOUT_MS = 60_000;

interface Client {
  /** The next seq it expects. */
  next: number;
  duplicates: number;
  gaps: number;
  reset: boolean;
  dropped: boolean;
  startedAt: number;
  liveAt: number;
  close(): void;
}

let clients: Client[] = [];
let closing = false;

const send = (message: WorkerMessage) => process.send?.(message);

function received(client: Client, seq: number): void {
  if (!Number.isInteger(seq)) return;
  if (seq === client.next) client.next += 1;
  else if (seq < client.next) client.duplicates += 1;
  else {
    client.gaps += 1;
    client.next = seq + 1;
  }
}

/** Resolves once the client holds every missed event; rejects when it fails first or times out. */
function open(request: ReconnectRequest, token: string): { client: Client; live: Promise<void> } {
  const client: Client = {
    next: seqOf(request.since) + 1,
    duplicates: 0,
    gaps: 0,
    reset: false,
    dropped: false,
    startedAt: preciseNow(),
    liveAt: Number.NaN,
    close: () => {},
  };
  const live = new Promise<void>((resolve, reject) => {
    let confirmed = false;
    const timer = setTimeout(
      () => fail(new Error(`not live after ${CONNECT_TIMEOUT_MS} ms`)),
      CONNECT_TIMEOUT_MS,
    );
    const check = () => {
      if (confirmed && Number.isNaN(client.liveAt) && client.next > request.caughtUpSeq) {
        client.liveAt = preciseNow();
        clearTimeout(timer);
        resolve();
      }
    };
    const fail = (error: Error) => {
      clearTimeout(timer);
      if (Number.isNaN(client.liveAt)) reject(error);
      else if (!closing) client.dropped = true;
    };
    const onEvent = (seq: number) => {
      received(client, seq);
      check();
    };
    const onConfirmed = () => {
      confirmed = true;
      check();
    };
    if (request.kind === 'ws') wsClient(request, token, client, { onEvent, onConfirmed, fail });
    else sseClient(request, token, client, { onEvent, onConfirmed, fail });
  });
  return { client, live };
}

interface Hooks {
  onEvent(seq: number): void;
  onConfirmed(): void;
  fail(error: Error): void;
}

/** Bearer on the upgrade, then `subscribe` with `since`; confirmed at a `subscribed` that says recovered. */
function wsClient(request: ReconnectRequest, token: string, client: Client, hooks: Hooks): void {
  const socket = new WebSocket(`${request.origin.replace(/^http/, 'ws')}/api/v1/ws`, {
    headers: { authorization: `Bearer ${token}` },
    perMessageDeflate: false,
  });
  client.close = () => socket.terminate();
  socket.on('open', () => {
    socket.send(JSON.stringify({ type: 'subscribe', id: 1, channel: request.channel, since: request.since }));
  });
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { type?: string; id?: unknown; recovered?: unknown };
    if (message.type === 'event') hooks.onEvent(seqOf(message.id));
    else if (message.type === 'subscribed') {
      if (message.recovered === true) hooks.onConfirmed();
      else {
        client.reset = true;
        hooks.fail(new Error('subscribed without recovering the missed events'));
      }
    } else if (message.type === 'reset') client.reset = true;
    else if (message.type === 'error') hooks.fail(new Error(`error frame: ${data.toString().slice(0, 200)}`));
  });
  socket.on('unexpected-response', (_req, res) => {
    res.resume();
    socket.terminate();
    hooks.fail(new Error(`upgrade answered ${res.statusCode}`));
  });
  socket.on('error', (error) => hooks.fail(error));
  socket.on('close', (code) => hooks.fail(new Error(`closed with ${code}`)));
}

/**
 * One HTTP/1.1 event stream on a bare TCP socket with `Last-Event-ID`; confirmed at the 200. The response is
 * read by hand (status line, chunks, frames), as bench/fanout/subscribers.ts does, so that the figures are
 * the server's rather than an HTTP client library's.
 */
function sseClient(request: ReconnectRequest, token: string, client: Client, hooks: Hooks): void {
  const { hostname, port } = new URL(request.origin);
  const socket = connect(Number(port), hostname);
  socket.setNoDelay(true);
  client.close = () => socket.destroy();
  const reader = new ChunkedSseReader();
  const frame = (raw: string) => {
    let event = 'message';
    let id = '';
    for (const line of raw.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('id: ')) id = line.slice(4);
    }
    if (event === 'event') hooks.onEvent(seqOf(id));
    else if (event === 'reset') {
      client.reset = true;
      hooks.fail(new Error('reset instead of resumed'));
    } else if (event === 'error') hooks.fail(new Error(`error frame: ${raw.slice(0, 200)}`));
  };
  socket.on('connect', () => {
    socket.write(
      `GET /api/v1/streams/${encodeURIComponent(request.channel)}/events HTTP/1.1\r\n` +
        `host: ${hostname}:${port}\r\nauthorization: Bearer ${token}\r\n` +
        `accept: text/event-stream\r\nlast-event-id: ${request.since}\r\n\r\n`,
    );
  });
  socket.on('data', (chunk: Buffer) => {
    const { head, frames, ended } = reader.push(chunk);
    if (head !== undefined) {
      if (!head.startsWith('HTTP/1.1 200')) {
        hooks.fail(new Error(`answered ${head.split('\r\n')[0]}`));
        socket.destroy();
        return;
      }
      hooks.onConfirmed();
    }
    for (const raw of frames) frame(raw);
    if (ended) hooks.fail(new Error('the stream ended'));
  });
  socket.on('error', (error) => hooks.fail(error));
  socket.on('close', () => hooks.fail(new Error('closed')));
}

async function reconnectAll(request: ReconnectRequest): Promise<void> {
  const failures: string[] = [];
  let failed = 0;
  const started: Client[] = [];
  const waits = Array.from({ length: request.count }, async (_, index) => {
    const at = request.startAt + (request.spreadMs * index) / request.count;
    const delay = at - preciseNow();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const { client, live } = open(request, request.tokens[index % request.tokens.length] ?? '');
    started[index] = client;
    try {
      await live;
    } catch (error) {
      failed += 1;
      if (failures.length < 5) failures.push(error instanceof Error ? error.message : String(error));
    }
  });
  await Promise.all(waits);
  clients = started;
  const toLive = Float64Array.from(started, (client) => client.liveAt - client.startedAt);
  const lastLiveAt = started.reduce(
    (latest, client) => (Number.isNaN(client.liveAt) ? latest : Math.max(latest, client.liveAt)),
    Number.NEGATIVE_INFINITY,
  );
  send({
    type: 'reconnected',
    live: request.count - failed,
    failed,
    failures,
    toLive,
    lastLiveAt: Number.isFinite(lastLiveAt) ? lastLiveAt : Number.NaN,
  });
}

function verify(lastSeq: number): void {
  const samples: string[] = [];
  let complete = 0;
  let gaps = 0;
  let duplicates = 0;
  let resets = 0;
  let dropped = 0;
  for (const [index, client] of clients.entries()) {
    if (client.reset) resets += 1;
    if (client.dropped) dropped += 1;
    if (client.duplicates > 0) duplicates += 1;
    const short = client.next <= lastSeq;
    if (client.gaps > 0 || short) gaps += 1;
    if (!client.reset && client.duplicates === 0 && client.gaps === 0 && client.next === lastSeq + 1)
      complete += 1;
    else if (samples.length < 5)
      samples.push(
        `client ${index}: next ${client.next}, gaps ${client.gaps}, duplicates ${client.duplicates}, reset ${client.reset}`,
      );
  }
  send({ type: 'verified', complete, gaps, duplicates, resets, dropped, samples });
}

function drop(): void {
  closing = true;
  for (const client of clients.splice(0)) client.close();
  closing = false;
}

process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'reconnect':
      reconnectAll(message).catch((error: unknown) =>
        send({ type: 'fatal', message: error instanceof Error ? error.message : String(error) }),
      );
      break;
    case 'verify':
      verify(message.lastSeq);
      break;
    case 'drop':
      drop();
      break;
    case 'close':
      closing = true;
      drop();
      setTimeout(() => process.exit(0), 300).unref();
      break;
  }
});
process.on('disconnect', () => process.exit(0));
