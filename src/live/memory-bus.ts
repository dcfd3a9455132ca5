import { randomBytes } from 'node:crypto';
import {
  type EventBus,
  type HistoryPolicy,
  InvalidSince,
  type LiveEvent,
  type Replay,
  type Unsubscribe,
} from './bus.js';
import { formatEventId, parseEventId } from './event-id.js';

interface Channel {
  seq: number;
  history: LiveEvent[];
  /** Publication times of `history`, in ms. */
  times: number[];
  latest: LiveEvent | null;
  listeners: Set<(event: LiveEvent) => void>;
}

/** The bus of a single instance: history in memory, lost on restart (hence a fresh epoch per process). */
export class MemoryBus implements EventBus {
  readonly epoch = randomBytes(6).toString('base64url');
  private readonly channels = new Map<string, Channel>();

  constructor(
    private readonly policyOf: (channel: string) => HistoryPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  private channel(name: string): Channel {
    let channel = this.channels.get(name);
    if (!channel) {
      channel = { seq: 0, history: [], times: [], latest: null, listeners: new Set() };
      this.channels.set(name, channel);
    }
    return channel;
  }

  async publish(name: string, data: unknown): Promise<LiveEvent> {
    const channel = this.channel(name);
    const now = this.now();
    channel.seq += 1;
    const event: LiveEvent = {
      id: formatEventId(this.epoch, channel.seq),
      channel: name,
      ts: new Date(now).toISOString(),
      data,
    };
    channel.history.push(event);
    channel.times.push(now);
    channel.latest = event;
    this.trim(name, channel, now);
    for (const listener of channel.listeners) listener(event);
    return event;
  }

  subscribe(name: string, listener: (event: LiveEvent) => void): Unsubscribe {
    const channel = this.channel(name);
    channel.listeners.add(listener);
    return () => {
      channel.listeners.delete(listener);
    };
  }

  async replay(name: string, since: string): Promise<Replay> {
    const id = parseEventId(since);
    if (!id) throw new InvalidSince(`"${since}" is not an event id (<epoch>:<seq>)`);
    const channel = this.channels.get(name);
    if (id.epoch !== this.epoch) return { recovered: false };
    const last = channel?.seq ?? 0;
    if (id.seq > last) throw new InvalidSince(`"${since}" is after the latest event of ${name}`);
    if (!channel || id.seq === last) return { recovered: true, events: [] };
    this.trim(name, channel, this.now());
    const firstKept = last - channel.history.length + 1;
    if (id.seq + 1 < firstKept) return { recovered: false };
    return { recovered: true, events: channel.history.slice(id.seq + 1 - firstKept) };
  }

  async latest(name: string): Promise<LiveEvent | null> {
    return this.channels.get(name)?.latest ?? null;
  }

  async drop(name: string): Promise<void> {
    const channel = this.channels.get(name);
    if (!channel) return;
    channel.history = [];
    channel.times = [];
    channel.latest = null;
  }

  private trim(name: string, channel: Channel, now: number): void {
    const policy = this.policyOf(name);
    let drop = Math.max(0, channel.history.length - policy.size);
    while (drop < channel.times.length && (channel.times[drop] ?? now) <= now - policy.maxAgeMs) drop += 1;
    if (drop > 0) {
      channel.history.splice(0, drop);
      channel.times.splice(0, drop);
    }
  }

  async close(): Promise<void> {
    for (const channel of this.channels.values()) channel.listeners.clear();
  }
}
