import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Me } from './api.js';
import type { LiveConnection } from './live.js';

export interface SessionContext {
  me: Me;
  live: LiveConnection;
  /** Editors and admins read the configuration; only admins change it. */
  canRead: boolean;
  canWrite: boolean;
}

export const Session = createContext<SessionContext | null>(null);

export function useSession(): SessionContext {
  const session = useContext(Session);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}

const LEVELS: Record<string, number> = { viewer: 1, editor: 2, admin: 3 };

export function rights(me: Me): { canRead: boolean; canWrite: boolean } {
  const level = LEVELS[me.role] ?? 0;
  return { canRead: level >= LEVELS.editor!, canWrite: level >= LEVELS.admin! };
}

/**
 * When to refresh an access token that lives `seconds` more: a minute before it expires, or at four fifths
 * of a lifetime under five minutes; never sooner than in five seconds.
 */
export function refreshDelay(seconds: number): number {
  return Math.max(5, seconds > 300 ? seconds - 60 : seconds * 0.8) * 1000;
}
