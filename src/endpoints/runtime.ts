import type { FastifyBaseLogger } from 'fastify';
import { statusChannelOf } from '../live/channels.js';
import type { LiveService } from '../live/service.js';
import type { EndpointSettings } from '../settings.js';
import type { RuntimePlan, StreamPlan } from './build.js';
import { FunctionSandbox } from './functions/sandbox.js';
import type { LeaseKeeper } from './producers/leases.js';
import { Producer, type ProducerStatus } from './producers/producer.js';

interface Running {
  readonly plan: StreamPlan;
  readonly producer: Producer;
  sandbox: FunctionSandbox | undefined;
}

/**
 * What the loaded version runs: its streams declared as channels and a producer for each. `apply` swaps
 * one plan for the next in one synchronous step: streams whose fingerprint did not change keep their
 * channel, subscribers, history and producer; changed ones are redeclared and their producer restarted;
 * removed ones tell their subscribers they are unavailable.
 */
export class EndpointRuntime {
  private running = new Map<string, Running>();
  private current: RuntimePlan | undefined;

  constructor(
    private readonly live: LiveService,
    private readonly leases: LeaseKeeper,
    private readonly settings: EndpointSettings,
    private readonly log: FastifyBaseLogger,
    private readonly env: NodeJS.ProcessEnv,
    private readonly now: () => number = Date.now,
  ) {}

  /** The version running here, or null before any was loaded. */
  get loaded(): string | null {
    return this.current?.version ?? null;
  }

  get plan(): RuntimePlan | undefined {
    return this.current;
  }

  apply(plan: RuntimePlan): void {
    const next = new Map<string, Running>();
    let rulesChanged = false;
    for (const [name, stream] of plan.streams) {
      const before = this.running.get(name);
      if (before && before.plan.fingerprint === stream.fingerprint) {
        next.set(name, before);
        continue;
      }
      if (before) {
        this.stopStream(before);
        rulesChanged = true;
      }
      this.live.channels.declare(stream.declaration);
      next.set(name, this.startStream(stream));
    }
    for (const [name, before] of this.running) {
      if (plan.streams.has(name)) continue;
      this.stopStream(before);
      this.live.channels.remove(name);
      this.live.bus.drop(name).catch(() => {});
      this.live.bus.drop(statusChannelOf(name)).catch(() => {});
    }
    this.running = next;
    this.current = plan;
    // A redeclared stream may admit fewer people than before: open subscriptions are checked again.
    if (rulesChanged) this.live.rulesChanged();
    void this.leases.track(next.keys());
  }

  private startStream(plan: StreamPlan): Running {
    const entry: Running = {
      plan,
      sandbox: undefined,
      producer: new Producer(plan, {
        publish: (channel, data) => this.live.publishProduced(channel, data),
        status: (channel, status: ProducerStatus) => {
          this.live.publishStatus(channel, status).catch(() => {});
        },
        holdsLease: (channel) => this.leases.held(channel),
        sandbox: () => {
          if (plan.source.kind !== 'function') throw new Error('this stream has no function');
          const fn = plan.source.fn;
          entry.sandbox ??= new FunctionSandbox({
            modulePath: fn.modulePath,
            exportName: fn.exportName,
            limits: fn.limits,
            cwd: this.settings.functionsDir,
            env: functionEnv(this.env),
          });
          return entry.sandbox;
        },
        allowedHosts: this.settings.allowedHosts,
        log: this.log,
        now: this.now,
      }),
    };
    entry.producer.start();
    return entry;
  }

  private stopStream(entry: Running): void {
    entry.producer.stop();
    entry.sandbox?.close().catch(() => {});
  }

  async stop(): Promise<void> {
    for (const entry of this.running.values()) this.stopStream(entry);
    this.running.clear();
    await this.leases.stop();
  }
}

/** What a function's process may see of the environment: the variables meant for the configuration. */
export function functionEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] => entry[0].startsWith('SWITCHBOARD_VAR_') && entry[1] !== undefined,
    ),
  );
}
