import type { Principal } from '../auth/principal.js';
import { publishAllowedBy } from '../auth/scopes.js';
import type { Auth } from '../auth/service.js';
import { nestsDeeperThan } from '../platform/json-depth.js';
import { AppError, ErrorCode, invalidField } from '../platform/problem.js';
import type { EventBus, LiveEvent } from './bus.js';
import { InvalidSince } from './bus.js';
import { type ChannelRegistry, statusChannelOf } from './channels.js';
import { parseEventId } from './event-id.js';
import type { StreamStatus } from './frame-schemas.js';

/** Levels objects and arrays may nest in a published event's data. */
export const MAX_EVENT_DEPTH = 32;

/** A held connection slot; released when the connection ends. */
export interface ConnectionSlot {
  release(): void;
}

/** Takes one of `cap` slots of `key` across every instance, or null when all are taken. */
export type AcquireSlot = (key: string, cap: number) => Promise<ConnectionSlot | null>;

export type Transport = 'ws' | 'sse';

/** An open WebSocket or SSE response, as the service sees it. */
export interface LiveConnection {
  readonly transport: Transport;
  /** The caller, refreshed when their rights change. */
  principal: Principal;
  /** Ends the connection because its session ended (4403 for a WebSocket; the end of an SSE response). */
  end(reason: string): void;
  /** The principal changed (role, groups): re-check what it follows. */
  rightsChanged(): void;
}

export interface LiveLimits {
  readonly connectionsPerUser: Record<Transport, number>;
  /** How often open connections re-check their session, for changes made elsewhere (CLI, other instances). */
  readonly recheckMs: number;
}

/** What a subscription starts with, before live events flow. */
export interface Subscription {
  /**
   * True when `since` was given and everything after it was replayed; false when it was not given (a fresh
   * subscription) or the history no longer reaches it (send `reset`, then the snapshot).
   */
  readonly recovered: boolean;
  /** Events after `since`, in order. */
  readonly replayed: readonly LiveEvent[];
  /** The latest event, for a fresh subscription or after a reset; null when there is none or none is due. */
  readonly snapshot: LiveEvent | null;
  /** The id of the last event the subscriber will have been sent before live events. */
  readonly lastId: string | null;
  /** The producer's latest state, for a declared stream that has one; sent after the snapshot. */
  readonly status: StreamStatus | null;
  /** Starts live delivery: events that arrived meanwhile first, none twice. */
  start(): void;
  stop(): void;
}

export interface SubscriptionHandlers {
  event(event: LiveEvent): void;
  /** The state of the stream's producer changed (`status` frames). */
  status?(status: StreamStatus): void;
  /** The subscriber lost the right to the channel, or it was removed. */
  ended(reason: 'forbidden' | 'unavailable'): void;
}

/** A status channel is written by `publishStatus` alone (clients cannot name it), so its data is a StreamStatus. */
const statusOf = (event: LiveEvent): StreamStatus => event.data as StreamStatus;

/** One entry per credential, so connections sharing a session or a key are re-read once. */
const credentialKey = (principal: Principal): string =>
  principal.apiKeyId !== null ? `key:${principal.apiKeyId}` : `session:${principal.sessionId}`;

/** How often streams opened with an API key look at its expiry. */
const KEY_EXPIRY_CHECK_MS = 1000;

const seqOf = (id: string | null): number => (id ? (parseEventId(id)?.seq ?? 0) : 0);
const epochOf = (id: string | null): string | undefined => (id ? parseEventId(id)?.epoch : undefined);

/** An event's id, parsed once however many subscribers it reaches. */
const parsedIds = new WeakMap<LiveEvent, { epoch: string | undefined; seq: number }>();
function positionOf(event: LiveEvent) {
  let position = parsedIds.get(event);
  if (!position) {
    position = { epoch: epochOf(event.id), seq: seqOf(event.id) };
    parsedIds.set(event, position);
  }
  return position;
}

/** The rules of live data: who may follow and publish what, and when a connection must end. */
export class LiveService {
  private readonly connections = new Set<LiveConnection>();
  /** Connections opened with an API key that expires. */
  private readonly expiring = new Set<LiveConnection>();
  private readonly stopWatching: (() => void)[] = [];
  private recheck: NodeJS.Timeout | undefined;
  private expiryCheck: NodeJS.Timeout | undefined;

  constructor(
    readonly bus: EventBus,
    readonly channels: ChannelRegistry,
    readonly auth: Auth,
    private readonly acquireSlot: AcquireSlot,
    private readonly limits: LiveLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.stopWatching.push(
      auth.events.on('session.ended', ({ sessionId, reason }) => {
        for (const connection of this.connections) {
          if (connection.principal.sessionId === sessionId) connection.end(reason);
        }
      }),
      auth.events.on('api_key.revoked', ({ keyId }) => {
        for (const connection of this.connections) {
          if (connection.principal.apiKeyId === keyId) connection.end('the API key was revoked');
        }
      }),
      auth.events.on('user.changed', ({ userId }) => {
        void this.reauthenticate([...this.connections].filter((c) => c.principal.userId === userId));
      }),
    );
  }

  /** Checks that `principal` may follow `name`; unknown and forbidden look the same. */
  channelFor(principal: Principal, name: string) {
    const channel = this.channels.get(name);
    if (!channel || !channel.admits(principal)) {
      throw new AppError(ErrorCode.notFound, `no channel "${name}" that you may subscribe to`);
    }
    return channel;
  }

  /**
   * Subscribes first and replays second, holding live events back meanwhile, so nothing published between
   * the two is lost or sent twice. Throws InvalidSince for a `since` the channel never issued.
   */
  async subscribe(
    connection: LiveConnection,
    name: string,
    since: string | undefined,
    handlers: SubscriptionHandlers,
  ): Promise<Subscription> {
    const { statusChannel } = this.channelFor(connection.principal, name);
    const held: LiveEvent[] = [];
    let live = false;
    let stopped = false;
    let lastSent = 0;
    // A new epoch (Redis lost its keys) starts the sequence over: its events are new whatever their seq.
    let lastEpoch: string | undefined;
    const deliver = (event: LiveEvent) => {
      if (stopped) return;
      if (!live) {
        held.push(event);
        return;
      }
      const position = positionOf(event);
      if (position.epoch === lastEpoch && position.seq <= lastSent) return;
      // Rights are those of this moment, not of when the subscription began.
      if (!this.channels.admits(connection.principal, name)) {
        stop();
        handlers.ended(this.channels.get(name) ? 'forbidden' : 'unavailable');
        return;
      }
      lastSent = position.seq;
      lastEpoch = position.epoch;
      handlers.event(event);
    };
    const unsubscribeEvents = this.bus.subscribe(name, deliver);
    // A producer's state travels on a channel of its own beside the stream's, one event deep.
    let heldStatus: LiveEvent | undefined;
    const unsubscribeStatus = statusChannel
      ? this.bus.subscribe(statusChannel, (event) => {
          if (stopped) return;
          if (!live) heldStatus = event;
          else if (this.channels.admits(connection.principal, name)) handlers.status?.(statusOf(event));
        })
      : () => {};
    const unsubscribe = () => {
      unsubscribeEvents();
      unsubscribeStatus();
    };
    const unwatch = this.channels.onRemoved((removed) => {
      if (removed !== name || stopped) return;
      stop();
      handlers.ended('unavailable');
    });
    const stop = () => {
      stopped = true;
      unsubscribe();
      unwatch();
    };
    try {
      const replay = since === undefined ? undefined : await this.bus.replay(name, since);
      const recovered = replay === undefined || replay.recovered;
      const replayed = replay?.recovered ? replay.events : [];
      const snapshot = replay?.recovered ? null : await this.bus.latest(name);
      const lastId = replayed.at(-1)?.id ?? snapshot?.id ?? (replay?.recovered ? (since ?? null) : null);
      const latestStatus = statusChannel ? await this.bus.latest(statusChannel) : null;
      const status = latestStatus ? (statusOf(latestStatus) ?? null) : null;
      lastSent = seqOf(lastId);
      lastEpoch = epochOf(lastId);
      const subscription = {
        recovered: since !== undefined && recovered,
        replayed,
        snapshot,
        lastId,
        status,
        start: () => {
          // The transport has sent these by now; a long-lived connection need not keep them.
          subscription.replayed = [];
          subscription.snapshot = null;
          subscription.status = null;
          live = true;
          for (const event of held.splice(0)) deliver(event);
          if (heldStatus) handlers.status?.(statusOf(heldStatus));
          heldStatus = undefined;
        },
        stop,
      };
      return subscription;
    } catch (error) {
      stop();
      if (error instanceof InvalidSince) {
        throw invalidField('/since', error.message, error.message);
      }
      throw error;
    }
  }

  /**
   * Registers an open connection once its transport's slot is taken; over the per-user cap it is a 429
   * (code 5003) before anything is sent. Returns the function that unregisters it.
   */
  async open(connection: LiveConnection): Promise<() => void> {
    const cap = this.limits.connectionsPerUser[connection.transport];
    const slot = await this.acquireSlot(`live:${connection.transport}:${connection.principal.userId}`, cap);
    if (!slot) {
      throw new AppError(
        ErrorCode.connectionCap,
        `you already have ${cap} live ${connection.transport === 'ws' ? 'WebSocket' : 'event-stream'} connections open (at most ${cap}); close one first`,
        { retryAfter: 5 },
      );
    }
    this.connections.add(connection);
    this.recheck ??= setInterval(() => this.recheckAll(), this.limits.recheckMs).unref();
    const { apiKeyId, expiresAt } = connection.principal;
    if (apiKeyId !== null && expiresAt !== null) {
      this.expiring.add(connection);
      this.expiryCheck ??= setInterval(() => this.endExpired(), KEY_EXPIRY_CHECK_MS).unref();
    }
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      slot.release();
      this.connections.delete(connection);
      this.expiring.delete(connection);
    };
  }

  /** A producer's state, for every subscriber of the stream on every instance. */
  async publishStatus(channel: string, status: StreamStatus): Promise<void> {
    await this.bus.publish(statusChannelOf(channel), status);
  }

  /** Channels were redeclared (a configuration was activated): every open connection checks what it follows. */
  rulesChanged(): void {
    for (const connection of this.connections) connection.rightsChanged();
  }

  /**
   * Publishes to a declared stream. The credential must carry the right (a publisher's session, or a key
   * of a publisher whose scope names the channel), and the stream's access rule must admit the caller as
   * it admits subscribers: a key's role and its owner's current role and groups. A stream the caller may
   * not follow answers as one that does not exist.
   */
  /**
   * A producer's output onto its stream: refused like a published event that nests too deep (delivering it
   * would overflow the stack), as an error the producer reports in its status.
   */
  async publishProduced(name: string, data: unknown): Promise<LiveEvent> {
    if (nestsDeeperThan(data, MAX_EVENT_DEPTH)) {
      throw new Error(
        `the output nests objects and arrays more than ${MAX_EVENT_DEPTH} levels deep; it was not published`,
      );
    }
    return this.bus.publish(name, data);
  }

  async publish(principal: Principal, name: string, data: unknown): Promise<LiveEvent> {
    if (!publishAllowedBy(principal, name)) {
      throw new AppError(ErrorCode.forbidden, `you may not publish to "${name}"`);
    }
    const channel = this.channels.get(name);
    if (channel?.writers === 'switchboard') {
      throw new AppError(ErrorCode.forbidden, `"${name}" is written by Switchboard itself`);
    }
    if (!channel?.admits(principal)) {
      throw new AppError(ErrorCode.notFound, `no stream "${name}" that you may publish to`);
    }
    // 64 KiB of `[` nests 32,000 deep: JSON.parse takes it, but serializing it for each subscriber's frame
    // overflows the stack. Configurations and workspaces stop at the same depth.
    if (nestsDeeperThan(data, MAX_EVENT_DEPTH)) {
      throw invalidField('', `nests objects and arrays more than ${MAX_EVENT_DEPTH} levels deep`);
    }
    return this.bus.publish(name, data);
  }

  /**
   * Reads each credential behind `connections` afresh (a session, or the API key a stream was opened
   * with), once per credential however many connections share it, and ends or updates them.
   */
  private async reauthenticate(connections: Iterable<LiveConnection>): Promise<void> {
    const byCredential = new Map<string, LiveConnection[]>();
    for (const connection of connections) {
      const key = credentialKey(connection.principal);
      const group = byCredential.get(key);
      if (group) group.push(connection);
      else byCredential.set(key, [connection]);
    }
    await Promise.all(
      [...byCredential.values()].map(async (group) => {
        const { principal } = group[0] as LiveConnection;
        let fresh: Principal | null;
        let ended = 'your session ended';
        try {
          fresh = await this.reread(principal);
        } catch (error) {
          fresh = null;
          if (principal.apiKeyId !== null && error instanceof AppError) ended = error.message;
        }
        for (const connection of group) {
          if (!this.connections.has(connection)) continue;
          if (!fresh) {
            connection.end(ended);
            continue;
          }
          const before = connection.principal;
          connection.principal = { ...fresh, credential: before.credential, expiresAt: before.expiresAt };
          if (before.role !== fresh.role || before.groups.join() !== fresh.groups.join()) {
            connection.rightsChanged();
          }
        }
      }),
    );
  }

  private reread(principal: Principal): Promise<Principal> {
    return principal.apiKeyId !== null
      ? this.auth.apiKeys.authenticateById(principal.apiKeyId)
      : this.auth.sessions.authenticateSession(principal.sessionId ?? '', principal.credential);
  }

  /** Ends the streams of API keys that have expired; keys have no renewal, unlike access tokens. */
  private endExpired(): void {
    const now = this.now();
    for (const connection of this.expiring) {
      const { apiKeyId, expiresAt } = connection.principal;
      if (apiKeyId !== null && expiresAt !== null && expiresAt <= now) {
        connection.end('the API key has expired');
      }
    }
  }

  private recheckAll(): void {
    void this.reauthenticate(this.connections);
  }

  async close(): Promise<void> {
    clearInterval(this.recheck);
    clearInterval(this.expiryCheck);
    for (const stop of this.stopWatching.splice(0)) stop();
    await this.bus.close();
  }
}
