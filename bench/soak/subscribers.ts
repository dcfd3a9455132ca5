/**
 * A subscriber worker of the soak, run as a child process of the engine (`node --import tsx`, IPC with
 * advanced serialization; see protocol.ts). It holds long-lived WebSocket and SSE subscribers and checks
 * every event id they receive: each channel's seq must grow by exactly one (a skip is a gap, a repeat a
 * duplicate), across reconnects too, since a subscriber that comes back resumes from its last id
 * (`since` on the WebSocket, `Last-Event-ID` on SSE). On request it closes some subscribers and opens them
 * again (churn), and reports what it counted.
 */
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { ChunkedSseReader } from '../lib/sse-reader.js';
import {
  type ConnectRequest,
  epochOf,
  type ParentMessage,
  type SubscriberSpec,
  seqOf,
  type WorkerMessage,
  type WorkerStats,
} from './protocol.js';

const CONNECT_TIMEOUT_MS = 30_000;
/** After a connection ended on its own, the subscriber comes back after this long, as a client would. */
const RECONNECT_DELAY_MS = 1000;
const MAX_SAMPLES = 20;

interface ChannelState {
  /** Seq of the last event or snapshot received; undefined before the first. */
  lastSeq: number | undefined;
  lastId: string | undefined;
  epoch: string | undefined;
  /** When an event or snapshot last arrived (ms, this process's clock). */
  lastEventAt: number;
}

interface Subscriber {
  readonly spec: SubscriberSpec;
  readonly channels: Map<string, ChannelState>;
  /** sse-multi: the last `id:` line, which resumes every channel at once. */
  cursor: string | undefined;
  open: boolean;
  /** Closing on purpose (churn, shutdown): its end is no drop. */
  closing: boolean;
  /** Counts its connections: what an earlier one does after it was replaced (its close event) is ignored. */
  generation: number;
  close: () => void;
}

let origin = '';
const subscribers: Subscriber[] = [];
let shuttingDown = false;
const totals = {
  events: 0,
  gaps: 0,
  duplicates: 0,
  resets: 0,
  epochChanges: 0,
  reconnects: 0,
  reconnectFailures: 0,
  unexpected: 0,
  statusFrames: 0,
  statusErrors: 0,
};
const dropped: Record<string, number> = {};
const samples: string[] = [];

const send = (message: WorkerMessage) => process.send?.(message);

function note(what: string): void {
  if (samples.length < MAX_SAMPLES) samples.push(what.slice(0, 300));
}

function unexpected(what: string): void {
  totals.unexpected += 1;
  note(`unexpected: ${what}`);
}

function stateOf(subscriber: Subscriber, channel: string): ChannelState {
  let state = subscriber.channels.get(channel);
  if (!state) {
    state = { lastSeq: undefined, lastId: undefined, epoch: undefined, lastEventAt: performance.now() };
    subscriber.channels.set(channel, state);
  }
  return state;
}

/** A snapshot (or the empty channel's null one): where the subscriber starts, not checked against before. */
function snapshot(subscriber: Subscriber, channel: string, id: string | null): void {
  const state = stateOf(subscriber, channel);
  totals.events += 1;
  state.lastEventAt = performance.now();
  if (id === null) {
    state.lastSeq ??= 0;
    return;
  }
  state.lastSeq = seqOf(id);
  state.lastId = id;
  state.epoch = epochOf(id);
}

/** A live or replayed event: its seq must be the next one. */
function event(subscriber: Subscriber, channel: string, id: unknown): void {
  if (typeof id !== 'string' || Number.isNaN(seqOf(id))) {
    unexpected(`${channel}: an event without an id (${String(id)})`);
    return;
  }
  const state = stateOf(subscriber, channel);
  const seq = seqOf(id);
  const epoch = epochOf(id);
  totals.events += 1;
  state.lastEventAt = performance.now();
  if (state.epoch !== undefined && state.epoch !== epoch) {
    totals.epochChanges += 1;
    note(`${channel}: epoch ${state.epoch} then ${epoch}`);
  } else if (state.lastSeq !== undefined) {
    if (seq <= state.lastSeq) {
      totals.duplicates += 1;
      note(`${channel}: ${id} after seq ${state.lastSeq} (${subscriber.spec.kind})`);
      return;
    }
    if (seq > state.lastSeq + 1) {
      totals.gaps += seq - state.lastSeq - 1;
      note(`${channel}: ${id} after seq ${state.lastSeq} (${subscriber.spec.kind})`);
    }
  }
  state.lastSeq = seq;
  state.lastId = id;
  state.epoch = epoch;
}

function status(data: unknown): void {
  totals.statusFrames += 1;
  if ((data as { state?: unknown } | null)?.state === 'error') {
    totals.statusErrors += 1;
    note(`status: ${JSON.stringify(data)}`);
  }
}

/** The connection ended without the worker closing it: counted, and the subscriber comes back. */
function droppedBy(subscriber: Subscriber, reason: string): void {
  subscriber.open = false;
  if (subscriber.closing || shuttingDown) return;
  dropped[reason] = (dropped[reason] ?? 0) + 1;
  note(`dropped: ${reason} (${subscriber.spec.kind} ${subscriber.spec.channels.join(',')})`);
  subscriber.closing = true;
  setTimeout(() => void reopen(subscriber), RECONNECT_DELAY_MS);
}

function withTimeout(what: string, start: (resolve: () => void, reject: (e: Error) => void) => void) {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what}: not subscribed after ${CONNECT_TIMEOUT_MS} ms`)),
      CONNECT_TIMEOUT_MS,
    );
    start(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** A WebSocket with a bearer token: one `subscribe` per channel (with `since` when resuming); open at the last `subscribed`. */
function openWs(subscriber: Subscriber): Promise<void> {
  const { spec } = subscriber;
  const generation = subscriber.generation;
  const current = () => subscriber.generation === generation;
  return withTimeout('ws', (resolve, reject) => {
    const socket = new WebSocket(`${origin.replace(/^http/, 'ws')}/api/v1/ws`, {
      headers: { authorization: `Bearer ${spec.token}` },
    });
    let pending = spec.channels.length;
    let ready = false;
    subscriber.close = () => socket.terminate();
    socket.on('open', () => {
      spec.channels.forEach((channel, i) => {
        const since = subscriber.channels.get(channel)?.lastId;
        socket.send(JSON.stringify({ type: 'subscribe', id: i + 1, channel, ...(since && { since }) }));
      });
    });
    socket.on('message', (raw) => {
      if (!current()) return;
      let frame: { type?: string; channel?: string; id?: unknown; data?: unknown; last_id?: unknown };
      try {
        frame = JSON.parse(raw.toString());
      } catch {
        unexpected(`ws: ${raw.toString()}`);
        return;
      }
      const channel = String(frame.channel);
      switch (frame.type) {
        case 'subscribed':
          if (!subscriber.channels.get(channel)?.lastId) {
            // A fresh subscription starts where the snapshot will be (or at nothing, on an empty channel).
            const lastId = typeof frame.last_id === 'string' ? frame.last_id : null;
            if (lastId === null) snapshot(subscriber, channel, null);
          }
          pending -= 1;
          if (pending === 0 && !ready) {
            ready = true;
            subscriber.open = true;
            resolve();
          }
          break;
        case 'snapshot':
          snapshot(subscriber, channel, typeof frame.id === 'string' ? frame.id : null);
          break;
        case 'event':
          event(subscriber, channel, frame.id);
          break;
        case 'reset':
          totals.resets += 1;
          note(`ws reset on ${channel}`);
          break;
        case 'status':
          status(frame);
          break;
        case 'error':
          if (!ready) reject(new Error(`ws: error frame ${raw.toString()}`));
          else unexpected(`ws: ${raw.toString()}`);
          break;
        default:
          unexpected(`ws: ${raw.toString()}`);
      }
    });
    socket.on('unexpected-response', (_req, res) => {
      reject(new Error(`ws: upgrade answered ${res.statusCode}`));
      res.resume();
      socket.terminate();
    });
    socket.on('error', (error) => {
      if (!ready) reject(error);
    });
    socket.on('close', (code, reason) => {
      if (!current()) return;
      if (ready) droppedBy(subscriber, `ws close ${code}`);
      else reject(new Error(`ws: closed with ${code} ${reason.toString()} before subscribed`));
    });
  });
}

/** One SSE response on a bare socket (as bench/fanout reads them): open at its 200 head. */
function openSse(subscriber: Subscriber): Promise<void> {
  const { spec } = subscriber;
  const multi = spec.kind === 'sse-multi';
  const channels = multi ? spec.channels : spec.channels.slice(0, 1);
  const first = channels[0] as string;
  const path = multi
    ? `/api/v1/events?${channels.map((c) => `channel=${encodeURIComponent(c)}`).join('&')}`
    : `/api/v1/streams/${encodeURIComponent(first)}/events`;
  const resumeFrom = multi ? subscriber.cursor : subscriber.channels.get(first)?.lastId;
  const generation = subscriber.generation;
  const current = () => subscriber.generation === generation;
  return withTimeout('sse', (resolve, reject) => {
    const { hostname, port } = new URL(origin);
    const socket: Socket = connect(Number(port), hostname);
    socket.setNoDelay(true);
    subscriber.close = () => socket.destroy();
    let ready = false;
    const reader = new ChunkedSseReader();
    const fail = (reason: string) => {
      socket.destroy();
      if (!current()) return;
      if (ready) droppedBy(subscriber, `sse ${reason}`);
      else reject(new Error(`sse: ${reason}`));
    };
    const frame = (raw: string) => {
      let type = 'message';
      let id: string | undefined;
      const data: string[] = [];
      for (const line of raw.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
        if (field === 'event') type = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') id = value;
      }
      if (id !== undefined && multi && id !== '') subscriber.cursor = id;
      if (data.length === 0) return;
      let body: { id?: unknown; channel?: unknown } & Record<string, unknown>;
      try {
        body = JSON.parse(data.join('\n'));
      } catch {
        unexpected(`sse ${type}: ${data.join('\n')}`);
        return;
      }
      const channel = typeof body.channel === 'string' ? body.channel : first;
      switch (type) {
        case 'snapshot':
          snapshot(subscriber, channel, typeof body.id === 'string' ? body.id : null);
          break;
        case 'event':
          event(subscriber, channel, body.id);
          break;
        case 'reset':
          totals.resets += 1;
          note(`sse reset on ${channel}`);
          break;
        case 'status':
          status(body);
          break;
        default:
          unexpected(`sse ${type}: ${data.join('\n')}`);
      }
    };
    socket.on('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\nauthorization: Bearer ${spec.token}\r\n` +
          `accept: text/event-stream\r\n${resumeFrom ? `last-event-id: ${resumeFrom}\r\n` : ''}\r\n`,
      );
    });
    socket.on('data', (chunk: Buffer) => {
      if (!current()) return;
      const { head, frames, ended } = reader.push(chunk);
      if (head !== undefined) {
        if (!head.startsWith('HTTP/1.1 200')) {
          fail(`answered ${head.split('\r\n')[0]}`);
          return;
        }
        if (!/\r\ntransfer-encoding: chunked/i.test(head)) {
          fail('the response is not chunked');
          return;
        }
        ready = true;
        subscriber.open = true;
        resolve();
      }
      for (const raw of frames) frame(raw);
      if (ended) fail('ended');
    });
    socket.on('error', (error) => fail(error.message));
    socket.on('close', () => {
      if (!current()) return;
      if (ready) droppedBy(subscriber, 'sse closed');
      else reject(new Error('sse: closed before the answer'));
    });
  });
}

function open(subscriber: Subscriber): Promise<void> {
  subscriber.closing = false;
  subscriber.generation += 1;
  return subscriber.spec.kind === 'ws' ? openWs(subscriber) : openSse(subscriber);
}

/** Opens a subscriber again, resuming where it was; retried (and counted) until it works or the worker closes. */
async function reopen(subscriber: Subscriber): Promise<void> {
  for (let attempt = 0; !shuttingDown; attempt += 1) {
    totals.reconnects += 1;
    try {
      await open(subscriber);
      return;
    } catch (error) {
      totals.reconnectFailures += 1;
      note(`reconnect failed: ${error instanceof Error ? error.message : String(error)}`);
      subscriber.close();
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(10_000, RECONNECT_DELAY_MS * 2 ** attempt)),
      );
    }
  }
}

/** Closes the subscriber on purpose and opens it again at once. */
function churnOne(subscriber: Subscriber): void {
  subscriber.closing = true;
  subscriber.open = false;
  subscriber.close();
  void reopen(subscriber);
}

async function connectAll(request: ConnectRequest): Promise<void> {
  origin = request.origin;
  const failures: string[] = [];
  let failed = 0;
  let ready = 0;
  let next = 0;
  const start = performance.now();
  const lane = async () => {
    while (next < request.subscribers.length) {
      const spec = request.subscribers[next] as SubscriberSpec;
      next += 1;
      const subscriber: Subscriber = {
        spec,
        channels: new Map(),
        cursor: undefined,
        open: false,
        closing: false,
        generation: 0,
        close: () => {},
      };
      subscribers.push(subscriber);
      try {
        await open(subscriber);
        ready += 1;
      } catch (error) {
        failed += 1;
        if (failures.length < 5) failures.push(error instanceof Error ? error.message : String(error));
        subscriber.closing = true;
        subscriber.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(request.concurrency, request.subscribers.length) }, lane));
  send({ type: 'connected', ready, failed, failures, elapsedMs: performance.now() - start });
}

function stats(staleAfterMs: number): WorkerStats {
  const now = performance.now();
  let stalled = 0;
  const channelSeq: Record<string, { max: number; minOpen: number }> = {};
  for (const subscriber of subscribers) {
    let stale = false;
    for (const [channel, state] of subscriber.channels) {
      const seq = state.lastSeq ?? 0;
      const entry = (channelSeq[channel] ??= { max: 0, minOpen: Number.POSITIVE_INFINITY });
      entry.max = Math.max(entry.max, seq);
      if (subscriber.open) entry.minOpen = Math.min(entry.minOpen, seq);
      if (
        subscriber.open &&
        subscriber.spec.steady.includes(channel) &&
        now - state.lastEventAt > staleAfterMs
      )
        stale = true;
    }
    if (stale) stalled += 1;
  }
  return {
    type: 'stats',
    open: subscribers.filter((s) => s.open).length,
    subscribers: subscribers.length,
    ...totals,
    dropped: { ...dropped },
    samples: [...samples],
    stalled,
    channelSeq,
  };
}

process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'connect':
      connectAll(message).catch((error: unknown) =>
        send({ type: 'fatal', message: error instanceof Error ? error.message : String(error) }),
      );
      break;
    case 'churn': {
      const candidates = subscribers.filter((s) => s.open);
      for (let i = 0; i < message.count && candidates.length > 0; i += 1) {
        const [picked] = candidates.splice(Math.floor(Math.random() * candidates.length), 1);
        if (picked) churnOne(picked);
      }
      break;
    }
    case 'stats':
      send(stats(message.staleAfterMs));
      break;
    case 'close':
      shuttingDown = true;
      for (const subscriber of subscribers) {
        subscriber.closing = true;
        subscriber.close();
      }
      setTimeout(() => process.exit(0), 500).unref();
      break;
  }
});
process.on('disconnect', () => process.exit(0));
