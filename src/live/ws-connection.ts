import type { Writable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { WebSocket } from 'ws';
import { pendingPasswordChange, type Resolution } from '../auth/credentials.js';
import type { Principal } from '../auth/principal.js';
import { AppError } from '../platform/problem.js';
import type { LiveEvent } from './bus.js';
import type { LiveConnection, LiveService, Subscription } from './service.js';
import {
  type ClientMessage,
  CloseCode,
  eventFrame,
  FrameError,
  frames,
  isRefusal,
  type MessageId,
  parseClientMessage,
  type Refusal,
} from './ws-protocol.js';

/** Subscriptions one socket may hold at once. */
export const MAX_SUBSCRIPTIONS = 100;
/** Messages queued behind a slow one before the socket stops reading (TCP then slows the client down). */
const PAUSE_AT = 32;
const RESUME_AT = 8;
/** Bytes of replayed frames held back by the cork before they are handed to the kernel. */
const REPLAY_FLUSH_BYTES = 64 * 1024;
/** How long a closing socket gets to answer the close frame before it is cut. */
const CLOSE_HANDSHAKE_MS = 5_000;

export interface WsConnectionDeps {
  live: LiveService;
  log: FastifyBaseLogger;
  now: () => number;
  /** Resolves a connect ticket (single use) to its principal, or why it has none. */
  redeem(ticket: string): Promise<Resolution>;
  accessTtlMs: number;
  authGraceMs: number;
  maxBacklogBytes: number;
}

/** The outcome of authenticating from the upgrade request's credentials. */
export type InitialAuth =
  | { kind: 'principal'; principal: Principal }
  | { kind: 'refused'; reason: string }
  | { kind: 'none' };

interface Entry {
  /** The subscribe message's id, quoted on frames that end the subscription. */
  readonly id: MessageId;
  subscription: Subscription | undefined;
  /** Set when the channel went away before the subscription was confirmed. */
  endedEarly: boolean;
}

const truncate = (reason: string) =>
  Buffer.from(reason)
    .subarray(0, 120)
    .toString()
    .replace(/\uFFFD$/, '');

/**
 * One open WebSocket: authentication (from the upgrade, or a first `auth` message), its slot in the
 * per-user cap, its subscriptions, access expiry with a grace period for renewal, and the outbound backlog
 * bound. Messages are handled one at a time, in order.
 */
export class WsConnection implements LiveConnection {
  readonly transport = 'ws' as const;
  // Set before the connection is registered with the service, which is the only reader besides this class.
  principal!: Principal;
  /** Answered the last heartbeat ping. */
  alive = true;
  readonly closed: Promise<void>;
  private state: 'authenticating' | 'open' | 'closing' = 'authenticating';
  private release: (() => void) | undefined;
  private readonly subscriptions = new Map<string, Entry>();
  /** When the access behind the socket stops working (injected clock); null when it does not expire. */
  private expiresAt: number | null = null;
  private renewalAsked = false;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private authTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly deps: WsConnectionDeps,
    /** The upgraded socket under `ws`: corked while a replay goes out, so its frames leave in few writes. */
    private readonly socket?: Pick<Writable, 'cork' | 'uncork'>,
  ) {
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('close', () => this.teardown());
    ws.on('pong', () => {
      this.alive = true;
    });
    // Protocol errors (a frame over maxPayload, bad UTF-8) close the socket themselves with the right code.
    ws.on('error', (error) => deps.log.debug({ err: error }, 'WebSocket protocol error'));
    ws.on('message', (data, isBinary) => this.receive(data, isBinary));
  }

  /** Starts with what the upgrade request carried; without credentials, waits `authTimeoutMs` for `auth`. */
  begin(initial: Promise<InitialAuth>, authTimeoutMs: number): void {
    this.enqueue(async () => {
      const outcome = await initial;
      if (outcome.kind === 'refused') return this.close(CloseCode.unauthenticated, outcome.reason);
      if (outcome.kind === 'principal') return this.admit(outcome.principal);
      this.authTimer = setTimeout(
        () =>
          this.close(
            CloseCode.unauthenticated,
            'no credentials arrived in time: send {"type":"auth","ticket":…} right after connecting',
          ),
        authTimeoutMs,
      );
    });
  }

  close(code: number, reason: string): void {
    if (this.ending()) return;
    this.teardown();
    this.ws.close(code, truncate(reason));
    // A client that stopped reading cannot take the close frame either; ws would wait 30 s for it.
    const cut = setTimeout(() => this.ws.terminate(), CLOSE_HANDSHAKE_MS).unref();
    void this.closed.then(() => clearTimeout(cut));
  }

  /** Whether the socket is on its way out (state changes across awaits, which narrowing cannot see). */
  private ending(): boolean {
    return this.state === 'closing';
  }

  /** Cuts the socket without a close handshake. */
  terminate(): void {
    this.teardown();
    this.ws.terminate();
  }

  /** Session over (logout, revocation, password change, disabled user). */
  end(reason: string): void {
    this.close(CloseCode.sessionEnded, reason);
  }

  /** Drops the subscriptions the principal's new rights no longer cover, with an error frame each. */
  rightsChanged(): void {
    for (const [channel, entry] of this.subscriptions) {
      if (!entry.subscription || this.deps.live.channels.admits(this.principal, channel)) continue;
      this.subscriptionEnded(channel, entry, 'forbidden');
    }
  }

  /** Called periodically: asks for a fresh ticket once access expired, and closes once the grace is over. */
  checkExpiry(): void {
    if (this.state !== 'open' || this.expiresAt === null) return;
    const now = this.deps.now();
    const deadline = this.expiresAt + this.deps.authGraceMs;
    if (now >= deadline) {
      this.close(CloseCode.sessionEnded, 'access expired and no fresh ticket came within the grace period');
    } else if (now >= this.expiresAt && !this.renewalAsked) {
      this.renewalAsked = true;
      this.send(frames.authRequired(deadline));
    }
  }

  /** One heartbeat: a socket that did not answer the previous ping is gone. */
  heartbeat(): void {
    // A closing socket has its own deadline for the close handshake.
    if (this.ending()) return;
    if (!this.alive) return this.terminate();
    this.alive = false;
    this.ws.ping();
  }

  private receive(data: WebSocket.RawData, isBinary: boolean): void {
    this.queued += 1;
    if (this.queued >= PAUSE_AT && !this.ws.isPaused) this.ws.pause();
    this.enqueue(async () => {
      this.queued -= 1;
      if (this.queued <= RESUME_AT && this.ws.isPaused) this.ws.resume();
      if (this.state === 'closing') return;
      if (isBinary) {
        this.refuse({
          id: null,
          code: FrameError.malformed,
          message: 'send messages as text frames of JSON',
        });
        return;
      }
      const parsed = parseClientMessage(data.toString());
      if (isRefusal(parsed)) {
        this.refuse(parsed);
        return;
      }
      if (this.state === 'authenticating') {
        if (parsed.type !== 'auth') {
          this.close(CloseCode.unauthenticated, 'authenticate first: send {"type":"auth","ticket":…}');
          return;
        }
        const { principal, failure } = await this.deps.redeem(parsed.ticket);
        if (!principal) return this.close(CloseCode.unauthenticated, failure?.message ?? 'no credentials');
        clearTimeout(this.authTimer);
        await this.admit(principal, parsed.id);
        return;
      }
      await this.handle(parsed);
    });
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((error: unknown) => {
      this.deps.log.error({ err: error }, 'WebSocket message handling failed');
      this.close(CloseCode.internalError, 'internal error');
    });
  }

  private async admit(principal: Principal, authId?: MessageId | null): Promise<void> {
    if (this.state === 'closing') return;
    const passwordChange = pendingPasswordChange(principal);
    if (passwordChange) return this.close(CloseCode.sessionEnded, passwordChange.message);
    this.principal = principal;
    try {
      const release = await this.deps.live.open(this);
      if (this.ending()) return release();
      this.release = release;
    } catch (error) {
      if (error instanceof AppError && error.status === 429) {
        return this.close(CloseCode.connectionCap, error.message);
      }
      throw error;
    }
    this.state = 'open';
    this.setExpiry(principal);
    if (authId !== undefined) this.send(frames.authenticated(authId, principal.userId, this.expiresAt));
  }

  /**
   * Tickets carry no expiry of their own: a socket opened with one lasts as long as an access token. An API
   * key has no renewal: the live service ends its streams, on either transport, once it expires.
   */
  private setExpiry(principal: Principal): void {
    this.expiresAt =
      principal.apiKeyId !== null ? null : (principal.expiresAt ?? this.deps.now() + this.deps.accessTtlMs);
    this.renewalAsked = false;
  }

  private async handle(message: ClientMessage): Promise<void> {
    switch (message.type) {
      case 'ping':
        this.send(frames.pong(message.id));
        return;
      case 'auth':
        return this.renew(message.id, message.ticket);
      case 'unsubscribe': {
        const entry = this.subscriptions.get(message.channel);
        entry?.subscription?.stop();
        this.subscriptions.delete(message.channel);
        this.send(frames.unsubscribed(message.id, message.channel));
        return;
      }
      case 'subscribe':
        return this.subscribe(message.id, message.channel, message.since);
    }
  }

  /** A fresh ticket on an open socket: same user, new expiry. A bad one is an error frame, not a close. */
  private async renew(id: MessageId | null, ticket: string): Promise<void> {
    const { principal, failure } = await this.deps.redeem(ticket);
    if (!principal) {
      return this.refuse({
        id,
        code: failure?.code ?? FrameError.invalidToken,
        message: failure?.message ?? 'no credentials',
      });
    }
    if (principal.userId !== this.principal.userId) {
      return this.refuse({ id, code: FrameError.forbidden, message: 'the ticket belongs to another user' });
    }
    const before = this.principal;
    this.principal = principal;
    this.setExpiry(principal);
    this.send(frames.authenticated(id, principal.userId, this.expiresAt));
    if (before.role !== principal.role || before.groups.join() !== principal.groups.join()) {
      this.rightsChanged();
    }
  }

  private async subscribe(id: MessageId, channel: string, since: string | undefined): Promise<void> {
    if (this.subscriptions.has(channel)) {
      return this.refuse({
        id,
        code: FrameError.conflict,
        message: `already subscribed to ${JSON.stringify(channel)}; unsubscribe first`,
      });
    }
    if (this.subscriptions.size >= MAX_SUBSCRIPTIONS) {
      return this.refuse({
        id,
        code: FrameError.subscriptionCap,
        message: `at most ${MAX_SUBSCRIPTIONS} subscriptions per connection; unsubscribe from one first`,
      });
    }
    const entry: Entry = { id, subscription: undefined, endedEarly: false };
    this.subscriptions.set(channel, entry);
    let subscription: Subscription;
    try {
      subscription = await this.deps.live.subscribe(this, channel, since, {
        event: (event) => this.sendEvent(event),
        status: (status) => this.send(frames.status(channel, status)),
        ended: (reason) => this.subscriptionEnded(channel, entry, reason),
      });
    } catch (error) {
      this.subscriptions.delete(channel);
      // A 503 (Redis away) refuses this subscription only: the socket and its other subscriptions go on.
      if (!(error instanceof AppError) || (error.status >= 500 && error.status !== 503)) throw error;
      const code = error.status === 422 ? FrameError.invalidMessage : error.code;
      return this.refuse({ id, code, message: error.message });
    }
    if (this.ending() || entry.endedEarly) {
      subscription.stop();
      this.subscriptions.delete(channel);
      if (entry.endedEarly) {
        this.refuse({
          id,
          code: FrameError.notFound,
          message: `no channel ${JSON.stringify(channel)} that you may subscribe to`,
        });
      }
      return;
    }
    entry.subscription = subscription;
    // ws writes each frame on its own (a writev per frame): a replay of 1,000 events is 1,000 system calls
    // unless the socket is corked. It is uncorked well before the backlog bound is reached, so that `send`
    // never counts frames the cork held back, which the kernel would have taken, as the client's backlog.
    this.socket?.cork();
    try {
      this.send(frames.subscribed(id, channel, subscription.recovered, subscription.lastId));
      if (since !== undefined && !subscription.recovered) this.send(frames.reset(channel));
      for (const event of subscription.replayed) {
        this.sendEvent(event);
        if (this.ws.bufferedAmount >= Math.min(REPLAY_FLUSH_BYTES, this.deps.maxBacklogBytes / 2)) {
          this.socket?.uncork();
          this.socket?.cork();
        }
      }
      if (subscription.snapshot) this.send(frames.snapshot(subscription.snapshot));
      if (subscription.status !== null) this.send(frames.status(channel, subscription.status));
    } finally {
      this.socket?.uncork();
    }
    subscription.start();
  }

  private subscriptionEnded(channel: string, entry: Entry, reason: 'forbidden' | 'unavailable'): void {
    if (this.subscriptions.get(channel) !== entry) return;
    if (!entry.subscription) {
      entry.endedEarly = true;
      return;
    }
    entry.subscription.stop();
    this.subscriptions.delete(channel);
    if (reason === 'unavailable') {
      this.send(frames.unavailable(channel));
    } else {
      this.send(
        frames.error(
          {
            id: entry.id,
            code: FrameError.forbidden,
            message: `you no longer have access to ${JSON.stringify(channel)}; the subscription ended`,
          },
          channel,
        ),
      );
    }
  }

  private sendEvent(event: LiveEvent): void {
    this.send(eventFrame(event));
  }

  private refuse(refusal: Refusal): void {
    this.send(frames.error(refusal));
  }

  /**
   * Everything goes out through here: a client that lets more than the backlog bound pile up is closed
   * (4409) instead of the server buffering for it without end.
   */
  private send(frame: string): void {
    if (this.ws.readyState !== WebSocket.OPEN || this.state === 'closing') return;
    if (this.ws.bufferedAmount > this.deps.maxBacklogBytes) {
      this.close(CloseCode.slowConsumer, 'too slow: events piled up faster than you read them');
      return;
    }
    this.ws.send(frame);
  }

  /** Idempotent: stops every subscription and gives the slot back, whichever way the socket ends. */
  private teardown(): void {
    if (this.state === 'closing') return;
    this.state = 'closing';
    clearTimeout(this.authTimer);
    for (const entry of this.subscriptions.values()) entry.subscription?.stop();
    this.subscriptions.clear();
    this.release?.();
    this.release = undefined;
  }
}
