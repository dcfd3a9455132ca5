import type { FastifyBaseLogger } from 'fastify';
import type { StreamPlan } from '../build.js';
import type { FunctionSandbox } from '../functions/sandbox.js';
import { secretMasker } from '../scrub.js';
import { selectFields } from '../select.js';
import { nextPollDelay } from './backoff.js';
import { fetchEndpoint } from './http-source.js';

/** How often a producer without the lease looks whether it has it now (an in-memory check). */
const LEASE_CHECK_MS = 500;

/** A producer's state as subscribers see it in `status` frames. */
export interface ProducerStatus {
  readonly state: 'ok' | 'error';
  readonly message?: string;
  /** RFC 3339 UTC. */
  readonly at: string;
}

export interface ProducerDeps {
  publish(channel: string, data: unknown): Promise<unknown>;
  status(channel: string, status: ProducerStatus): void;
  /** Whether this instance holds the stream's lease right now. */
  holdsLease(channel: string): boolean;
  /** The sandbox of a function-fed stream, created when first needed. */
  sandbox(): FunctionSandbox;
  allowedHosts: readonly string[];
  log: FastifyBaseLogger;
  now?: () => number;
}

/**
 * Reads one stream's source every interval and publishes what it gives, on the instance that holds the
 * stream's lease. A failing source is retried with a growing delay and its error shown as the stream's
 * status; it never stops the producer or the server.
 */
export class Producer {
  private timer: NodeJS.Timeout | undefined;
  private running: AbortController | undefined;
  private failures = 0;
  /** The last status sent, so a source that keeps failing the same way is one `status` frame, not one a poll. */
  private lastStatus: Omit<ProducerStatus, 'at'> | undefined;
  private stopped = false;
  /** Error messages become status frames and log lines: the endpoint's secret values never do. */
  private readonly mask: (text: string) => string;

  constructor(
    readonly plan: StreamPlan,
    private readonly deps: ProducerDeps,
  ) {
    this.mask = secretMasker(plan.source.kind === 'endpoint' ? (plan.source.endpoint.secrets ?? []) : []);
  }

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.running?.abort();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  /** One poll, when this instance holds the lease; the next is scheduled whatever happens. */
  async tick(): Promise<void> {
    const { plan } = this;
    if (!this.deps.holdsLease(plan.name)) {
      // Another instance runs it (its status reaches subscribers through the bus), or the lease is still
      // being asked for: look again soon, so a stream with a long interval does not wait a whole one.
      this.lastStatus = undefined;
      this.schedule(Math.min(plan.intervalMs, LEASE_CHECK_MS));
      return;
    }
    const controller = new AbortController();
    this.running = controller;
    try {
      const output = await this.read(controller.signal);
      if (this.stopped) return;
      await this.deps.publish(plan.name, selectFields(output, plan.select));
      this.failures = 0;
      this.report({ state: 'ok' });
    } catch (error) {
      if (this.stopped) return;
      this.failures += 1;
      const message = this.mask((error as Error).message);
      this.deps.log.warn(
        { stream: plan.name, failures: this.failures, reason: message },
        'stream source failed',
      );
      this.report({ state: 'error', message });
    } finally {
      this.running = undefined;
    }
    this.schedule(nextPollDelay(plan.intervalMs, this.failures));
  }

  private async read(signal: AbortSignal): Promise<unknown> {
    const { source } = this.plan;
    if (source.kind === 'endpoint') {
      return fetchEndpoint(source.endpoint, { allowedHosts: this.deps.allowedHosts, signal });
    }
    const outcome = await this.deps.sandbox().run(source.fn.args);
    if (outcome.ok) return outcome.output;
    throw new Error(`function "${source.fn.name}": ${outcome.error}`);
  }

  /** Sends a status when it changes: ok to error, error to ok, or an error whose message changed. */
  private report(status: Omit<ProducerStatus, 'at'>): void {
    const last = this.lastStatus;
    if (last?.state === status.state && last.message === status.message) return;
    this.lastStatus = status;
    this.deps.status(this.plan.name, {
      ...status,
      at: new Date((this.deps.now ?? Date.now)()).toISOString(),
    });
  }
}
