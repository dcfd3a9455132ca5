import { AppError, ErrorCode } from '../platform/problem.js';
import type { Principal } from './principal.js';
import type { SessionsService } from './sessions-service.js';
import type { IssuedTicket, TicketStore } from './tickets.js';

export const TICKET_TTL_MS = 30_000;
export const MAX_PENDING_TICKETS = 5;

/** Connect tickets: a short-lived, single-use stand-in for a session where headers cannot be sent. */
export class TicketsService {
  constructor(
    private readonly store: TicketStore,
    private readonly sessions: SessionsService,
  ) {}

  async issue(principal: Principal): Promise<IssuedTicket> {
    if (principal.sessionId === null) {
      throw new AppError(ErrorCode.forbidden, 'connect tickets are for signed-in sessions, not API keys');
    }
    const issued = await this.store.issue(
      { userId: principal.userId, sessionId: principal.sessionId },
      TICKET_TTL_MS,
      MAX_PENDING_TICKETS,
    );
    if (!issued) {
      const wait = await this.store.nextExpiry(principal.userId);
      throw new AppError(
        ErrorCode.ticketCap,
        `at most ${MAX_PENDING_TICKETS} connect tickets may be pending; use one or wait for one to expire`,
        { retryAfter: Math.max(1, Math.ceil(wait / 1000)) },
      );
    }
    return issued;
  }

  /** The principal of the ticket's session, once; null for an unknown, spent or expired ticket. */
  async redeem(ticket: string): Promise<Principal | null> {
    const grant = await this.store.redeem(ticket);
    if (!grant) return null;
    try {
      return await this.sessions.authenticateSession(grant.sessionId, 'ticket');
    } catch (error) {
      if (error instanceof AppError && error.status === 401) return null;
      throw error;
    }
  }
}
