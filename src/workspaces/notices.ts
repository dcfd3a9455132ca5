import type { FastifyBaseLogger } from 'fastify';
import { isRole, ROLES, type Role, roleLevel } from '../auth/roles.js';
import type { UsersService } from '../auth/users-service.js';
import { accessThrough, type Reader } from './library.js';
import type { GrantRow } from './store.js';

/** Sends `preferences.updated` to a user's channel (through the bus, so on every instance). */
export type Publish = (
  userId: string,
  data: { type: 'preferences.updated'; etag: string },
) => Promise<unknown>;

/** Whose view a committed change may have changed. */
export interface Affected {
  /** Owners' workspaces whose content or access changed, by their grants: their grantees' views changed. */
  touched: { ownerId: string; grants: readonly GrantRow[] }[];
  /** Users whose view changed whatever their grants (the owner, say). */
  users: string[];
}

/** Recipients whose ETags are worked out at the same time. */
const AT_ONCE = 8;

function merged(a: Affected, b: Affected): Affected {
  return { touched: [...a.touched, ...b.touched], users: [...new Set([...a.users, ...b.users])] };
}

/**
 * The `preferences.updated` notices: after a change committed, each user whose view it may have changed
 * gets their new ETag, worked out afresh (the same one their next read would give).
 */
export class Notices {
  constructor(
    private readonly users: Pick<UsersService, 'holding'>,
    private readonly publish: Publish,
    private readonly etagOf: (reader: Reader) => Promise<{ etag: string }>,
    private readonly log: Pick<FastifyBaseLogger, 'warn'>,
  ) {}

  /** Per owner: the round of notices being sent, and what changed since it began (sent after it). */
  private readonly rounds = new Map<string, { next: Affected | undefined }>();

  /**
   * Sends them in the background; a failure is logged, not thrown (the change has been made). One round
   * per owner at a time: changes made meanwhile are sent together once it ends, each user's ETag worked
   * out then, so a burst of edits to a widely shared workspace costs a few rounds, not one per edit, and
   * the last notice each user gets carries their current ETag.
   */
  send(affected: Affected, ownerId: string): void {
    const running = this.rounds.get(ownerId);
    if (running) {
      running.next = running.next ? merged(running.next, affected) : affected;
      return;
    }
    const round: { next: Affected | undefined } = { next: undefined };
    this.rounds.set(ownerId, round);
    this.deliver(affected)
      .catch((error: Error) =>
        this.log.warn({ reason: error.message, user_id: ownerId }, 'could not send preferences.updated'),
      )
      .finally(() => {
        this.rounds.delete(ownerId);
        if (round.next) this.send(round.next, ownerId);
      });
  }

  /** Tells each recipient, a few at a time (each works out an ETag; thousands at once would queue on the database). */
  private async deliver(affected: Affected): Promise<void> {
    const readers = await this.recipients(affected);
    for (let start = 0; start < readers.length; start += AT_ONCE) {
      await Promise.all(readers.slice(start, start + AT_ONCE).map((reader) => this.tell(reader)));
    }
  }

  /** The named users and every enabled user a touched grant reaches (the owners of the grants aside). */
  private async recipients(affected: Affected): Promise<Reader[]> {
    const grants = affected.touched.flatMap((t) => t.grants);
    const roleGrants = grants.filter((g) => g.principalType === 'role' && isRole(g.principal));
    const lowest = Math.min(...roleGrants.map((g) => roleLevel(g.principal as Role)));
    const holders = await this.users.holding({
      roles: ROLES.filter((role) => roleLevel(role) >= lowest),
      groups: [...new Set(grants.filter((g) => g.principalType === 'group').map((g) => g.principal))],
      ids: [...new Set([...grants.flatMap((g) => (g.granteeId ? [g.granteeId] : [])), ...affected.users])],
    });
    const owners = new Set(affected.touched.map((t) => t.ownerId));
    return holders
      .map((holder) => ({ userId: holder.id, role: holder.role, groups: holder.groups }))
      .filter(
        (reader) =>
          affected.users.includes(reader.userId) ||
          (!owners.has(reader.userId) && accessThrough(grants, reader) !== undefined),
      );
  }

  private async tell(reader: Reader): Promise<void> {
    const { etag } = await this.etagOf(reader);
    await this.publish(reader.userId, { type: 'preferences.updated', etag });
  }
}
