import { EventEmitter } from 'node:events';
import type { Principal } from '../auth/principal.js';
import type { HistoryPolicy } from './bus.js';
import {
  CHANNEL_KINDS,
  type Channel,
  type ChannelDeclaration,
  declaredStream,
  type KindContext,
  kindOf,
  streamNameProblem,
} from './channel-kinds.js';

export type { Channel, ChannelDeclaration } from './channel-kinds.js';
export { statusChannelOf } from './channel-kinds.js';

/**
 * Which channels exist and who may follow them: the kinds of channel-kinds.ts, and the streams the
 * endpoint configuration declares here.
 */
export class ChannelRegistry {
  private readonly streams = new Map<string, Channel>();
  private readonly events = new EventEmitter();
  private readonly context: KindContext;

  constructor(private readonly defaults: HistoryPolicy) {
    this.context = { defaults, streams: this.streams };
    // Every open subscription listens here: thousands are normal, not a leak.
    this.events.setMaxListeners(0);
  }

  /** Declares a stream, or redefines one of that name. */
  declare(declaration: ChannelDeclaration): void {
    const problem = streamNameProblem(declaration.name);
    if (problem) throw new Error(`stream "${declaration.name}": ${problem}`);
    this.streams.set(declaration.name, declaredStream(declaration, this.defaults));
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

  /** The channel a client may name (to subscribe or publish); undefined when there is none. */
  get(name: string): Channel | undefined {
    const kind = kindOf(name);
    return kind?.addressable ? kind.channel(name, this.context) : undefined;
  }

  /** Whether `principal` may follow `name`; false for a channel that does not exist, so the two look alike. */
  admits(principal: Principal, name: string): boolean {
    return this.get(name)?.admits(principal) ?? false;
  }

  /** The history the bus keeps for `name`, whether or not clients may name it. */
  historyOf(name: string): HistoryPolicy {
    return kindOf(name)?.channel(name, this.context)?.history ?? this.defaults;
  }

  /** What `principal` may subscribe to, kind by kind: their own channel, `config` if allowed, the streams they pass. */
  visibleTo(principal: Principal): Channel[] {
    const visible: Channel[] = [];
    for (const kind of CHANNEL_KINDS) {
      for (const name of kind.offered(principal, this.context)) {
        const channel = kind.channel(name, this.context);
        if (channel?.admits(principal)) visible.push(channel);
      }
    }
    return visible;
  }
}
