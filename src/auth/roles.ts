export const ROLES = ['viewer', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const LEVELS: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };

export function roleLevel(role: Role): number {
  return LEVELS[role];
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** The lower of two roles: an API key never acts above its owner's current role. */
export function lowerRole(a: Role, b: Role): Role {
  return LEVELS[a] <= LEVELS[b] ? a : b;
}
