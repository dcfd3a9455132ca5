import { isRole, ROLES } from '../auth/roles.js';
import type { UsersService } from '../auth/users-service.js';
import { invalidField } from '../platform/problem.js';
import type { Access, GrantRow, PrincipalType } from './store.js';

/** A grant as the API takes it: a principal by name. */
export interface NewGrant {
  principal_type: PrincipalType;
  principal: string;
  access: Access;
}

/** Where a list of grants and each grant sit in the request, for the pointers of its problems. */
export interface GrantPointers {
  list: string;
  item: (index: number) => string;
}

/**
 * The grants of one workspace as rows, each principal resolved here: a role, a group someone holds, an
 * existing user other than the owner (stored as the account spells the name, so "BOB" and "bob" are one
 * grantee); none twice, and no more than `max`. Problems are 422s at their place in the request.
 */
export async function resolveGrants(
  users: Pick<UsersService, 'knownGroups' | 'findByUsername'>,
  request: {
    owner: { userId: string; username: string };
    workspace: string;
    wanted: readonly NewGrant[];
    max: number;
    at: string;
    pointers?: GrantPointers;
  },
): Promise<GrantRow[]> {
  const { owner, workspace, wanted, max, at } = request;
  const pointers = request.pointers ?? { list: '', item: (index: number) => `/${index}` };
  if (wanted.length > max) {
    throw invalidField(
      pointers.list,
      `lists ${wanted.length} grants for "${workspace}"; a workspace may have at most ${max} (SWITCHBOARD_WORKSPACE_GRANTS_MAX)`,
    );
  }
  const seen = new Set<string>();
  const groups = wanted.some((g) => g.principal_type === 'group')
    ? new Set(await users.knownGroups())
    : new Set<string>();
  const rows: GrantRow[] = [];
  for (const [index, grant] of wanted.entries()) {
    const where = `${pointers.item(index)}/principal`;
    let principal = grant.principal;
    let granteeId: string | null = null;
    if (grant.principal_type === 'role' && !isRole(grant.principal)) {
      throw invalidField(where, `is not a role: roles are ${ROLES.join(', ')}`);
    }
    if (grant.principal_type === 'group' && !groups.has(grant.principal)) {
      throw invalidField(where, `names a group no user is in: "${grant.principal}"`);
    }
    if (grant.principal_type === 'user') {
      const user = await users.findByUsername(grant.principal);
      if (!user) throw invalidField(where, `names no user: "${grant.principal}"`);
      if (user.id === owner.userId) throw invalidField(where, 'is you: you own the workspace already');
      principal = user.username;
      granteeId = user.id;
    }
    const key = `${grant.principal_type}:${principal}`;
    if (seen.has(key)) throw invalidField(where, `is listed twice (${key}); give each principal one access`);
    seen.add(key);
    rows.push({
      ownerId: owner.userId,
      ownerUsername: owner.username,
      workspace,
      principalType: grant.principal_type,
      principal,
      granteeId,
      access: grant.access,
      createdAt: at,
    });
  }
  return rows;
}
