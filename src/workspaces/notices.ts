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

  /** Sends them in the background; a failure is logged, not thrown (the change has been made). */
  send(affected: Affected, actorId: string): void {
    this.recipients(affected)
      .then((readers) => Promise.all(readers.map((reader) => this.tell(reader))))
      .catch((error: Error) =>
        this.log.warn({ reason: error.message, user_id: actorId }, 'could not send preferences.updated'),
      );
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
