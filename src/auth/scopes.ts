import type { Principal } from './principal.js';
import { type Role, roleLevel } from './roles.js';

/**
 * Users of this role may publish to declared streams themselves, and so only they may hand that right to a
 * key. A key's publish scope is a narrowing of its owner's right, never a grant of its own: a viewer
 * cannot mint `publish:*` and write into streams they could not write to.
 */
export const PUBLISHER_ROLE: Role = 'admin';

/** The scope that names every stream. */
export const EVERY_STREAM_SCOPE = 'publish:*';

/** Whether the user behind the credential (a key's owner, as they are now) may publish at all. */
export function isPublisher(principal: Pick<Principal, 'userRole'>): boolean {
  return roleLevel(principal.userRole) >= roleLevel(PUBLISHER_ROLE);
}

/**
 * Whether the credential carries the right to publish to `channel`: a publisher's own session, or a key of
 * a publisher whose scopes name the channel. The channel's access rule is checked on top of this.
 */
export function publishAllowedBy(
  principal: Pick<Principal, 'userRole' | 'apiKeyId' | 'scopes'>,
  channel: string,
): boolean {
  if (!isPublisher(principal)) return false;
  if (principal.apiKeyId === null) return true;
  return principal.scopes.includes(`publish:${channel}`) || principal.scopes.includes(EVERY_STREAM_SCOPE);
}
