import { createHash, randomBytes } from 'node:crypto';

/** What a connect ticket stands for: one user's session. */
export interface TicketGrant {
  userId: string;
  sessionId: string;
}

/** Single-use connect tickets for live streams; Redis implements it too once several instances share them. */
export interface TicketStore {
  /** A fresh ticket for the grant, or null when the user already holds `maxPending` unexpired tickets. */
  issue(grant: TicketGrant, ttlMs: number, maxPending: number): Promise<IssuedTicket | null>;
  /** The grant, exactly once; an unknown, spent or expired ticket gives null. */
  redeem(ticket: string): Promise<TicketGrant | null>;
  /** Milliseconds until the user's oldest pending ticket expires (0 when none is pending). */
  nextExpiry(userId: string): Promise<number>;
}

export interface IssuedTicket {
  ticket: string;
  expiresAt: number;
}

const fingerprint = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

interface Pending extends TicketGrant {
  expiresAt: number;
}

/** Tickets held in this process. Keyed by a hash so the map never holds a presentable ticket. */
export class MemoryTicketStore implements TicketStore {
  private readonly tickets = new Map<string, Pending>();
  private readonly byUser = new Map<string, Set<string>>();

  constructor(private readonly now: () => number = Date.now) {}

  async issue(grant: TicketGrant, ttlMs: number, maxPending: number): Promise<IssuedTicket | null> {
    this.sweep();
    const pending = this.byUser.get(grant.userId) ?? new Set<string>();
    if (pending.size >= maxPending) return null;
    const ticket = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + ttlMs;
    const key = fingerprint(ticket);
    this.tickets.set(key, { ...grant, expiresAt });
    pending.add(key);
    this.byUser.set(grant.userId, pending);
    return { ticket, expiresAt };
  }

  async redeem(ticket: string): Promise<TicketGrant | null> {
    const key = fingerprint(ticket);
    const pending = this.tickets.get(key);
    if (!pending) return null;
    this.forget(key, pending.userId);
    if (pending.expiresAt <= this.now()) return null;
    return { userId: pending.userId, sessionId: pending.sessionId };
  }

  async nextExpiry(userId: string): Promise<number> {
    let soonest = Number.POSITIVE_INFINITY;
    for (const key of this.byUser.get(userId) ?? []) {
      soonest = Math.min(soonest, this.tickets.get(key)?.expiresAt ?? soonest);
    }
    return Number.isFinite(soonest) ? Math.max(0, soonest - this.now()) : 0;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, pending] of this.tickets) {
      if (pending.expiresAt <= now) this.forget(key, pending.userId);
    }
  }

  private forget(key: string, userId: string): void {
    this.tickets.delete(key);
    const pending = this.byUser.get(userId);
    pending?.delete(key);
    if (pending?.size === 0) this.byUser.delete(userId);
  }
}
