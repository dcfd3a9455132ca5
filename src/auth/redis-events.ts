import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { redisReady } from '../platform/redis.js';
import type { AuthEventMap, AuthEvents } from './events.js';

/** The events other instances must hear: their open streams belong to sessions and users changed here. */
const RELAYED = [
  'session.ended',
  'user.changed',
  'api_key.revoked',
] as const satisfies readonly (keyof AuthEventMap)[];
type Relayed = (typeof RELAYED)[number];

interface Message {
  instance: string;
  event: Relayed;
  payload: AuthEventMap[Relayed];
}

/**
 * Carries session and user events between instances over Redis pub/sub: publishes the local ones, and
 * emits the others' locally. Each message names its instance, so an instance ignores its own. While Redis
 * is away, events are not carried; the periodic re-check of open connections still ends them.
 */
export class RedisAuthEvents {
  readonly instance = randomUUID();
  private readonly subscriber: Redis;
  private readonly topic: string;
  private readonly stops: (() => void)[] = [];

  constructor(
    private readonly redis: Redis,
    private readonly events: AuthEvents,
    private readonly log?: Pick<FastifyBaseLogger, 'warn'>,
  ) {
    this.topic = `${redis.options.keyPrefix ?? ''}auth:events`;
    this.subscriber = redis.duplicate();
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (_topic: string, message: string) => this.receive(message));
    this.subscriber.on('ready', () => {
      this.subscriber.subscribe(this.topic).catch(() => {});
    });
    for (const event of RELAYED) {
      this.stops.push(
        events.on(event, (payload, origin) => {
          // What came from elsewhere is not published back.
          if (origin === 'here') this.send(event, payload);
        }),
      );
    }
  }

  /** Resolves once remote events are heard; rejects after `timeoutMs`, and keeps trying either way. */
  async start(timeoutMs: number): Promise<void> {
    await redisReady(this.subscriber, timeoutMs);
    await this.subscriber.subscribe(this.topic);
  }

  private send(event: Relayed, payload: AuthEventMap[Relayed]): void {
    const message: Message = { instance: this.instance, event, payload };
    this.redis.publish(this.topic, JSON.stringify(message)).catch((error: Error) => {
      this.log?.warn(
        { event, reason: error.message },
        'Redis is not answering: other instances learn of this change at their next re-check',
      );
    });
  }

  private receive(text: string): void {
    let message: Message;
    try {
      message = JSON.parse(text) as Message;
    } catch {
      return;
    }
    if (message.instance === this.instance || !RELAYED.includes(message.event)) return;
    this.events.emit(message.event, message.payload as never, 'elsewhere');
  }

  close(): void {
    for (const stop of this.stops.splice(0)) stop();
    this.subscriber.disconnect();
  }
}
