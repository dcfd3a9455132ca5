import { EventEmitter } from 'node:events';

/** What other features react to: live streams close when a session ends or a user's rights change. */
export interface AuthEventMap {
  'session.ended': { sessionId: string; userId: string; reason: string };
  /** `profile`: the name or the must-change-password flag, which limits what the user may do. */
  'user.changed': {
    userId: string;
    change: 'role' | 'groups' | 'disabled' | 'deleted' | 'password' | 'profile';
  };
  'api_key.revoked': { keyId: string; userId: string };
}

/**
 * Where a change was made: on this instance, or on another one and relayed here (redis-events.ts). What
 * every instance must do (end its own streams) listens to both; what must happen once in the cluster (tell
 * the user) only to changes made here.
 */
export type EventOrigin = 'here' | 'elsewhere';

export class AuthEvents {
  private readonly emitter = new EventEmitter();

  on<K extends keyof AuthEventMap>(
    event: K,
    listener: (payload: AuthEventMap[K], origin: EventOrigin) => void,
  ): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  emit<K extends keyof AuthEventMap>(event: K, payload: AuthEventMap[K], origin: EventOrigin = 'here'): void {
    this.emitter.emit(event, payload, origin);
  }
}
