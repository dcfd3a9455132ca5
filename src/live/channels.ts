import { EventEmitter } from 'node:events';
import { type AccessRule, admits } from '../auth/access.js';
import type { Principal } from '../auth/principal.js';
import type { HistoryPolicy } from './bus.js';

/** Names a stream may be declared under; `config` and `user:…` are the built-ins. */
export const CHANNEL_NAME = /^[a-z][a-z0-9._-]{0,63}$/;
const USER_CHANNEL = /^user:([A-Za-z0-9_-]{1,64})$/;
const RESERVED = new Set(['config']);

/** Where a stream's producer state travels: not a channel anyone subscribes to by name. */
export const statusChannelOf = (stream: string) => `status:${stream}`;
const STATUS_HISTORY = { size: 1, maxAgeMs: 7 * 86_400_000 };

export interface ChannelDeclaration {
  name: string;
  access: AccessRule;
  /** Shown to clients in GET /streams. */
  meta?: Record<string, unknown>;
  history?: Partial<HistoryPolicy>;
}

export interface Channel {
  readonly name: string;
  readonly kind: 'stream' | 'user' | 'config';
  readonly meta: Record<string, unknown>;
  readonly history: HistoryPolicy;
  /** Only declared streams take events from POST /streams/{channel}/publish. */
  readonly publishable: boolean;
  admits(principal: Principal): boolean;
}

/** Which channels exist and who may follow them. The endpoint configuration declares streams here. */
export class ChannelRegistry {
  private readonly streams = new Map<string, Channel>();
  private readonly events = new EventEmitter();

  constructor(private readonly defaults: HistoryPolicy) {
    // Every open subscription listens here: thousands are normal, not a leak.
    this.events.setMaxListeners(0);
  }

  /** Declares a stream, or redefines one of that name. */
  declare(declaration: ChannelDeclaration): void {
    if (!CHANNEL_NAME.test(declaration.name) || RESERVED.has(declaration.name)) {
      throw new Error(`"${declaration.name}" is not a name a stream can have`);
    }
    const rule = declaration.access;
    this.streams.set(declaration.name, {
      name: declaration.name,
      kind: 'stream',
      meta: { ...declaration.meta },
      history: { ...this.defaults, ...declaration.history },
      publishable: true,
      admits: (principal) => admits(principal, rule),
    });
  }

  /** Removes a stream; its subscribers are told it is unavailable. */
  remove(name: string): boolean {
    const existed = this.streams.delete(name);
    if (existed) this.events.emit('removed', name);
    return existed;
  }

  onRemoved(listener: (name: string) => void): () => void {
    this.events.on('removed', listener);
    return () => this.events.off('removed', listener);
  }

  /** The channel of that name, built-ins included; undefined when there is none. */
  get(name: string): Channel | undefined {
    const declared = this.streams.get(name);
    if (declared) return declared;
    if (name === 'config') {
      return {
        name,
        kind: 'config',
        meta: { description: 'Configuration activations and recovery' },
        history: this.defaults,
        publishable: false,
        admits: (principal) => admits(principal, { minRole: 'editor' }),
      };
    }
    const owner = USER_CHANNEL.exec(name)?.[1];
    if (owner) {
      return {
        name,
        kind: 'user',
        meta: { description: 'Events for this user only' },
        history: this.defaults,
        publishable: false,
        admits: (principal) => principal.userId === owner,
      };
    }
    return undefined;
  }

  /** Whether `principal` may follow `name`; false for a channel that does not exist, so the two look alike. */
  admits(principal: Principal, name: string): boolean {
    return this.get(name)?.admits(principal) ?? false;
  }

  historyOf(name: string): HistoryPolicy {
    if (name.startsWith('status:')) return STATUS_HISTORY;
    return this.get(name)?.history ?? this.defaults;
  }

  /** What `principal` may subscribe to: their own channel, `config` if allowed, and the streams they pass. */
  visibleTo(principal: Principal): Channel[] {
    const builtIns = [this.get(`user:${principal.userId}`), this.get('config')];
    return [...builtIns, ...this.streams.values()].filter(
      (channel): channel is Channel => channel !== undefined && channel.admits(principal),
    );
  }
}
