import type { OutgoingHttpHeaders } from 'node:http';
import type { Principal } from '../auth/principal.js';
import { AppError, ErrorCode, invalidField } from '../platform/problem.js';
import type { LiveEvent } from './bus.js';
import type { LiveConnection, LiveService, Subscription } from './service.js';
import { type EventStreamWriter, encodeCursor } from './sse-writer.js';

/** Per channel, the event id a client resumes after. */
export type Resume = ReadonlyMap<string, string>;

/**
 * One event-stream response as the live service sees it. Subscriptions are taken before the headers go
 * out (so refusals are real status codes); frames flow once `begin` has written them.
 *
 * Frame types: `snapshot` (the channel's latest event, or `{id: null, channel, ts: null, data: null}` when
 * it has none), `event` (an event, `{id, channel, ts, data}` — a named type rather than the default
 * `message`, matching the WebSocket `type: "event"`), `reset` (the history no longer reaches the id the
 * client gave; a snapshot follows), `unavailable` (the channel was removed) and `error` (`{channel?, code,
 * message}`: the right to a channel was lost, or the session ended) and `status` (`{channel, state, message?,
 * at}`: the stream's producer, after the snapshot and whenever it changes).
 */
export class SseConnection implements LiveConnection {
  readonly transport = 'sse' as const;
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly lastIds = new Map<string, string>();
  private writer: EventStreamWriter | undefined;
  private readonly early: [string, 'forbidden' | 'unavailable'][] = [];
  private recheckDue = false;
  private finished = false;
  /** Set when the session ended before the stream began. */
  endedEarly: string | undefined;
  /** Why the stream ended, for the access log. */
  endReason = 'client_closed';

  constructor(
    public principal: Principal,
    private readonly live: LiveService,
    private readonly multi: boolean,
    private readonly onFinish: () => void,
  ) {}

  async subscribeAll(channels: readonly string[], resume: Resume, pointer: string): Promise<void> {
    for (const name of channels) {
      try {
        const subscription = await this.live.subscribe(this, name, resume.get(name), {
          event: (event) => this.send(event),
          status: (status) => this.writer?.frame('status', { ...status, channel: name }),
          ended: (reason) => this.drop(name, reason),
        });
        // The client may have gone while this was awaited: nothing would stop the subscription later.
        if (this.finished) {
          subscription.stop();
          return;
        }
        this.subscriptions.set(name, subscription);
      } catch (error) {
        if (error instanceof AppError && error.status === 422) {
          throw invalidField(pointer, error.message, error.message);
        }
        throw error;
      }
    }
  }

  /** Writes the headers, what each channel starts with, and lets live events flow. */
  begin(writer: EventStreamWriter, headers: OutgoingHttpHeaders, resume: Resume, retryMs: number): void {
    this.writer = writer;
    writer.open(headers, retryMs);
    // Replayed events and what follows them go out corked: one system call per frame is most of a replay.
    writer.batch(() => this.firstFrames(writer, resume));
  }

  private firstFrames(writer: EventStreamWriter, resume: Resume): void {
    for (const [name, subscription] of this.subscriptions) {
      const since = resume.get(name);
      if (subscription.recovered && since !== undefined) this.lastIds.set(name, since);
    }
    for (const [name, subscription] of this.subscriptions) {
      const since = resume.get(name);
      if (subscription.recovered) {
        for (const event of subscription.replayed) this.send(event);
        continue;
      }
      if (since !== undefined) {
        writer.frame('reset', {
          channel: name,
          last_event_id: since,
          message: 'the history no longer reaches back to that id; a snapshot follows',
        });
      }
      this.snapshot(name, subscription.snapshot, since !== undefined);
    }
    for (const [name, subscription] of this.subscriptions) {
      if (subscription.status !== null) writer.frame('status', { ...subscription.status, channel: name });
    }
    for (const subscription of this.subscriptions.values()) subscription.start();
    for (const [name, reason] of this.early.splice(0)) this.drop(name, reason);
    if (this.recheckDue) this.rightsChanged();
  }

  end(reason: string): void {
    if (!this.writer) {
      this.endedEarly ??= reason;
      return;
    }
    this.writer.frame('error', {
      code: ErrorCode.sessionRevoked,
      message: `the session ended (${reason}); sign in again`,
    });
    this.endReason = 'session_ended';
    this.finish();
  }

  rightsChanged(): void {
    if (!this.writer) {
      this.recheckDue = true;
      return;
    }
    for (const name of [...this.subscriptions.keys()]) {
      if (this.live.channels.admits(this.principal, name)) continue;
      this.drop(name, this.live.channels.get(name) ? 'forbidden' : 'unavailable');
    }
  }

  keepalive(): void {
    this.writer?.keepalive();
  }

  /** The server is stopping: tell the client when to come back, then end. */
  shutdown(retryMs: number): void {
    this.writer?.retry(retryMs);
    this.endReason = 'server_shutdown';
    this.finish(true);
  }

  finish(closeSocket = false): void {
    if (this.finished) return;
    this.finished = true;
    for (const subscription of this.subscriptions.values()) subscription.stop();
    this.subscriptions.clear();
    this.writer?.end(closeSocket);
    this.onFinish();
  }

  private send(event: LiveEvent): void {
    this.lastIds.set(event.channel, event.id);
    this.writer?.event(event, this.multi ? encodeCursor(this.lastIds) : undefined);
  }

  private snapshot(name: string, event: LiveEvent | null, afterReset: boolean): void {
    if (event) this.lastIds.set(name, event.id);
    const data = event ?? { id: null, channel: name, ts: null, data: null };
    // After a reset with nothing to show, the stale id is cleared so a reconnect starts afresh.
    const id = this.multi ? encodeCursor(this.lastIds) : (event?.id ?? (afterReset ? '' : undefined));
    this.writer?.frame('snapshot', data, id);
  }

  private drop(name: string, reason: 'forbidden' | 'unavailable'): void {
    // Before the stream begins (a channel removed while its history was read, say) it waits for `begin`.
    if (!this.writer) {
      this.early.push([name, reason]);
      return;
    }
    const subscription = this.subscriptions.get(name);
    if (!subscription) return;
    subscription.stop();
    this.subscriptions.delete(name);
    this.lastIds.delete(name);
    if (reason === 'unavailable') {
      this.writer.frame('unavailable', { channel: name, message: `"${name}" is no longer available` });
    } else {
      this.writer.frame('error', {
        channel: name,
        code: ErrorCode.forbidden,
        message: `you may no longer follow "${name}"`,
      });
    }
    if (this.subscriptions.size === 0) {
      this.endReason = reason === 'unavailable' ? 'channel_unavailable' : 'access_lost';
      this.finish();
    }
  }
}
