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

export class AuthEvents {
  private readonly emitter = new EventEmitter();

  on<K extends keyof AuthEventMap>(event: K, listener: (payload: AuthEventMap[K]) => void): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  emit<K extends keyof AuthEventMap>(event: K, payload: AuthEventMap[K]): void {
    this.emitter.emit(event, payload);
  }
}
