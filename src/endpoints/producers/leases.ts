import type { FastifyBaseLogger } from 'fastify';
import type { LeaseStore } from '../lease-store.js';

/**
 * Holds the leases of the streams this instance should run, renewing them three times per lease. A lease
 * counts as held only until the moment it would lapse as measured before asking for it, so a holder that
 * stalls stops producing before another instance can take over.
 */
export class LeaseKeeper {
  private readonly heldUntil = new Map<string, number>();
  private wanted = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: LeaseStore,
    readonly holder: string,
    private readonly leaseMs: number,
    private readonly log: FastifyBaseLogger,
    private readonly now: () => number = Date.now,
  ) {}

  held(stream: string): boolean {
    return (this.heldUntil.get(stream) ?? 0) > this.now();
  }

  /** The streams to hold from now on; leases of the others are given back at once. */
  track(streams: Iterable<string>): Promise<void> {
    const next = new Set(streams);
    const dropped = [...this.wanted].filter((stream) => !next.has(stream));
    this.wanted = next;
    for (const stream of dropped) {
      this.heldUntil.delete(stream);
      this.store.release(stream, this.holder).catch(() => {});
    }
    this.timer ??= setInterval(() => void this.renew(), Math.max(250, Math.floor(this.leaseMs / 3))).unref();
    return this.renew();
  }

  /** One round of renewals; a round already under way is joined rather than doubled. */
  renew(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.renewing ??= (async () => {
      const streams = [...this.wanted];
      const asked = this.now();
      try {
        const granted = await this.store.acquireAll(
          streams,
          this.holder,
          new Date(asked).toISOString(),
          new Date(asked + this.leaseMs).toISOString(),
        );
        for (const stream of streams) {
          if (!this.wanted.has(stream)) continue;
          if (granted.has(stream)) {
            if (!this.held(stream)) this.log.info({ stream }, 'this instance now runs the stream');
            this.heldUntil.set(stream, asked + this.leaseMs);
          } else {
            this.heldUntil.delete(stream);
          }
        }
      } catch (error) {
        // Kept until they lapse: a database hiccup shorter than the lease changes nothing.
        this.log.warn({ reason: (error as Error).message }, 'could not renew the producer leases');
      } finally {
        this.renewing = undefined;
      }
    })();
    return this.renewing;
  }

  /** Stops renewing and gives back every lease, so another instance can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.renewing;
    const held = [...this.wanted];
    this.wanted.clear();
    this.heldUntil.clear();
    await Promise.all(held.map((stream) => this.store.release(stream, this.holder).catch(() => {})));
  }
}
