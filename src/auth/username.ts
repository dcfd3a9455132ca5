/** Usernames are stored lower-case, so "Alice" and "alice" are one account and one lockout counter. */
export const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
