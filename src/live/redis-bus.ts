import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { orUnavailable, REDIS_COMMAND_TIMEOUT_MS, redisReady } from '../platform/redis.js';
import {
  type EventBus,
  type HistoryPolicy,
  InvalidSince,
  type LiveEvent,
  type Replay,
  type Unsubscribe,
} from './bus.js';
import { type EventId, formatEventId, parseEventId } from './event-id.js';

/**
 * One script per publish, so the sequence number, the history entry, the snapshot and the fan-out can never
 * disagree. A counter that starts over (first event, or Redis lost the keys) gets a fresh epoch and an empty
 * history, so ids of the old sequence are never mistaken for new ones. Times are Redis's, so the age limit
 * and `ts` mean the same on every instance.
 */
const PUBLISH = `
local seq = redis.call('INCR', KEYS[1])
local epoch = redis.call('GET', KEYS[2])
if seq == 1 or not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[2], epoch)
  redis.call('DEL', KEYS[3])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = epoch .. ':' .. seq
local event = '{"id":"' .. id .. '","t":' .. string.format('%d', now) .. ',"data":' .. ARGV[2] .. '}'
redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[3], '*', 'seq', seq, 'event', event)
redis.call('XTRIM', KEYS[3], 'MINID', string.format('%d', math.max(0, now - tonumber(ARGV[4]) + 1)))
redis.call('PEXPIRE', KEYS[3], ARGV[4])
redis.call('SET', KEYS[4], event)
redis.call('PUBLISH', ARGV[5], event)
return {id, string.format('%d', now)}
`;

/**
 * Reads the events after seq ARGV[2] of epoch ARGV[1], trimming first as a publish would (the age limit
 * passes while nothing is published). Returns {epoch, last} alone when there is nothing to read or the
 * epoch differs, else {epoch, last, the event JSONs oldest first}: fewer than asked means trimmed.
 */
const REPLAY = `
local epoch = redis.call('GET', KEYS[2]) or ''
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local since = tonumber(ARGV[2])
if epoch ~= ARGV[1] or since >= last then return {epoch, string.format('%d', last)} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('XTRIM', KEYS[3], 'MAXLEN', ARGV[3])
redis.call('XTRIM', KEYS[3], 'MINID', string.format('%d', math.max(0, now - tonumber(ARGV[4]) + 1)))
local wanted = last - since
local result = {epoch, string.format('%d', last)}
if redis.call('XLEN', KEYS[3]) < wanted then return result end
local entries = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', wanted)
for i = #entries, 1, -1 do
  local fields = entries[i][2]
  for j = 1, #fields, 2 do
    if fields[j] == 'event' then table.insert(result, fields[j + 1]) end
  end
end
return result
`;

type Scripted = Redis & {
  liveBusPublish(
    seqKey: string,
    epochKey: string,
    streamKey: string,
    latestKey: string,
    epoch: string,
    data: string,
    size: number,
    maxAgeMs: number,
    topic: string,
  ): Promise<[string, string]>;
  liveBusReplay(
    seqKey: string,
    epochKey: string,
    streamKey: string,
    epoch: string,
    since: number,
    size: number,
    maxAgeMs: number,
  ): Promise<string[]>;
};

/** How long a subscription waits for the subscriber connection before the caller is told Redis is away. */
const SUBSCRIBE_WAIT_MS = REDIS_COMMAND_TIMEOUT_MS;

interface Listening {
  readonly listeners: Set<(event: LiveEvent) => void>;
  /** Settles when Redis confirmed the SUBSCRIBE; replays wait for it so nothing falls between the two. */
  ready: Promise<void>;
  /** Messages waiting while a gap is filled, in arrival order. */
  readonly queue: LiveEvent[];
  draining: boolean;
  /** The last event handed to the listeners. */
  last: EventId | undefined;
}

/** As stored and published: the id, Redis's time in ms, the data. */
interface Stored {
  id: string;
  t: number;
  data: unknown;
}

/**
 * The bus of several instances on one Redis. History is a Stream per channel, fan-out is pub/sub; every
 * instance's listeners, the publisher's included, hear events through Redis, so all see one order.
 * Keys live under the client's keyPrefix; pub/sub topics get the same prefix here, since ioredis does not
 * prefix them.
 */
export class RedisBus implements EventBus {
  private readonly redis: Scripted;
  private readonly subscriber: Redis;
  private readonly listening = new Map<string, Listening>();
  private readonly topicPrefix: string;
  private closed = false;

  constructor(
    redis: Redis,
    private readonly policyOf: (channel: string) => HistoryPolicy,
  ) {
    redis.defineCommand('liveBusPublish', { numberOfKeys: 4, lua: PUBLISH });
    redis.defineCommand('liveBusReplay', { numberOfKeys: 3, lua: REPLAY });
    this.redis = redis as Scripted;
    this.topicPrefix = `${redis.options.keyPrefix ?? ''}live:`;
    this.subscriber = redis.duplicate();
    // Connection errors show as failed subscriptions and 'ready' again later; without a listener ioredis prints them.
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (topic: string, message: string) => this.receive(topic, message));
    // ioredis resubscribes what it had; this also covers subscriptions that failed while Redis was away.
    this.subscriber.on('ready', () => {
      for (const [name, state] of this.listening) {
        state.ready = this.listen(name);
        state.ready.then(
          () => this.catchUp(name, state),
          () => {},
        );
      }
    });
    // The catch-up reads through this connection, which may come back after the subscriber's: then it is
    // this one's return that reads back what was missed (events read twice are skipped by `drain`).
    redis.on('ready', () => {
      for (const [name, state] of this.listening) void this.catchUp(name, state);
    });
  }

  private keys(channel: string) {
    const base = `live:{${channel}}`;
    return { seq: `${base}:seq`, epoch: `${base}:epoch`, stream: `${base}:stream`, latest: `${base}:latest` };
  }

  async publish(channel: string, data: unknown): Promise<LiveEvent> {
    const keys = this.keys(channel);
    const policy = this.policyOf(channel);
    const [id, time] = await orUnavailable(
      'live data',
      this.redis.liveBusPublish(
        keys.seq,
        keys.epoch,
        keys.stream,
        keys.latest,
        randomBytes(6).toString('base64url'),
        JSON.stringify(data ?? null),
        policy.size,
        policy.maxAgeMs,
        this.topicPrefix + channel,
      ),
    );
    return { id, channel, ts: new Date(Number(time)).toISOString(), data };
  }

  subscribe(channel: string, listener: (event: LiveEvent) => void): Unsubscribe {
    let state = this.listening.get(channel);
    if (!state) {
      state = {
        listeners: new Set(),
        ready: this.listen(channel),
        queue: [],
        draining: false,
        last: undefined,
      };
      this.listening.set(channel, state);
    }
    const listeners = state.listeners;
    listeners.add(listener);
    return () => {
      if (!listeners.delete(listener) || listeners.size > 0) return;
      if (this.listening.get(channel)?.listeners !== listeners) return;
      this.listening.delete(channel);
      if (!this.closed) this.subscriber.unsubscribe(this.topicPrefix + channel).catch(() => {});
    };
  }

  private listen(channel: string): Promise<void> {
    const ready = (async () => {
      await redisReady(this.subscriber, SUBSCRIBE_WAIT_MS);
      await this.subscriber.subscribe(this.topicPrefix + channel);
    })();
    // Awaited by replays; a failure nobody awaits is retried on the next 'ready'.
    ready.catch(() => {});
    return ready;
  }

  /** Waits until this instance hears the channel, so a replay that follows leaves no gap. */
  private async heard(channel: string): Promise<void> {
    const state = this.listening.get(channel);
    if (!state) return;
    try {
      await orUnavailable('live data', state.ready);
    } catch (error) {
      // A failure from before the connection came back is stale: try again, once.
      if (this.subscriber.status !== 'ready') throw error;
      state.ready = this.listen(channel);
      await orUnavailable('live data', state.ready);
    }
  }

  private receive(topic: string, message: string): void {
    if (!topic.startsWith(this.topicPrefix)) return;
    const channel = topic.slice(this.topicPrefix.length);
    const state = this.listening.get(channel);
    if (!state) return;
    const event = toEvent(channel, message);
    if (!event) return;
    state.queue.push(event);
    if (!state.draining) void this.drain(channel, state);
  }

  /**
   * After a reconnect: events published while the connection was down never arrive by pub/sub, and the next
   * one, which would show the gap, may be long in coming. The latest event goes through the queue like a
   * message, so `drain` reads back what lies between (or skips it when nothing was missed).
   */
  private async catchUp(channel: string, state: Listening): Promise<void> {
    if (!state.last) return;
    const latest = await this.latest(channel).catch(() => null);
    if (!latest || this.listening.get(channel) !== state) return;
    state.queue.push(latest);
    if (!state.draining) void this.drain(channel, state);
  }

  /**
   * Hands queued events to the listeners in order. Messages published while the subscriber connection was
   * down never arrive; the first one after it shows the gap, which is read back from the stream.
   */
  private async drain(channel: string, state: Listening): Promise<void> {
    state.draining = true;
    try {
      for (let event = state.queue.shift(); event; event = state.queue.shift()) {
        const id = parseEventId(event.id);
        const last = state.last;
        if (id && last && id.epoch === last.epoch && id.seq <= last.seq) continue;
        // A gap in this epoch, or a new epoch (Redis lost its keys) that began before this event: read back
        // the events in between.
        const from = !id || !last ? null : id.epoch === last.epoch ? last.seq : 0;
        if (id && from !== null && id.seq > from + 1) {
          const missed = await this.replay(channel, formatEventId(id.epoch, from)).catch(() => null);
          for (const earlier of missed?.recovered ? missed.events : []) {
            const seq = parseEventId(earlier.id)?.seq ?? 0;
            const seen = state.last?.epoch === id.epoch ? state.last.seq : 0;
            if (seq > seen && seq < id.seq) this.emit(state, earlier);
          }
        }
        this.emit(state, event);
      }
    } finally {
      state.draining = false;
    }
  }

  private emit(state: Listening, event: LiveEvent): void {
    state.last = parseEventId(event.id) ?? state.last;
    for (const listener of [...state.listeners]) listener(event);
  }

  async replay(channel: string, since: string): Promise<Replay> {
    const id = parseEventId(since);
    if (!id) throw new InvalidSince(`"${since}" is not an event id (<epoch>:<seq>)`);
    await this.heard(channel);
    const keys = this.keys(channel);
    const policy = this.policyOf(channel);
    const [epoch, lastText, ...found] = await orUnavailable(
      'live data',
      this.redis.liveBusReplay(
        keys.seq,
        keys.epoch,
        keys.stream,
        id.epoch,
        id.seq,
        policy.size,
        policy.maxAgeMs,
      ),
    );
    if (epoch !== id.epoch) return { recovered: false };
    const last = Number(lastText);
    if (id.seq > last) throw new InvalidSince(`"${since}" is after the latest event of ${channel}`);
    if (id.seq === last) return { recovered: true, events: [] };
    const events = found.map((message) => toEvent(channel, message));
    const complete =
      events.length === last - id.seq &&
      events.every((event, index) => event && parseEventId(event.id)?.seq === id.seq + 1 + index);
    return complete ? { recovered: true, events: events as LiveEvent[] } : { recovered: false };
  }

  async latest(channel: string): Promise<LiveEvent | null> {
    await this.heard(channel);
    const message = await orUnavailable('live data', this.redis.get(this.keys(channel).latest));
    return message === null ? null : (toEvent(channel, message) ?? null);
  }

  /** Forgets the history and the snapshot; the sequence and its epoch stay, so old ids are not reissued. */
  async drop(channel: string): Promise<void> {
    const keys = this.keys(channel);
    await orUnavailable('live data', this.redis.del(keys.stream, keys.latest));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listening.clear();
    this.subscriber.disconnect();
  }
}

function toEvent(channel: string, message: string): LiveEvent | undefined {
  try {
    const stored = JSON.parse(message) as Stored;
    if (typeof stored.id !== 'string' || typeof stored.t !== 'number') return undefined;
    return { id: stored.id, channel, ts: new Date(stored.t).toISOString(), data: stored.data };
  } catch {
    return undefined;
  }
}
