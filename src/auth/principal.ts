import type { Role } from './roles.js';

/** How the request proved who it is. Only `cookie` requests are subject to CSRF checks. */
export type Credential = 'cookie' | 'bearer' | 'api_key' | 'ticket';

/** How the session behind the credential began. */
export type AuthMethod = 'password' | 'api_key' | 'oidc' | 'msal';

/** The authenticated caller, resolved afresh on every request from the database. */
export interface Principal {
  readonly userId: string;
  readonly username: string;
  readonly fullName: string | null;
  /** What the credential may do: for an API key, the lower of the key's role and its owner's. */
  readonly role: Role;
  /** The role of the user behind the credential as they are now (a key's owner); `role` never exceeds it. */
  readonly userRole: Role;
  readonly groups: readonly string[];
  readonly mustChangePassword: boolean;
  readonly authMethod: AuthMethod;
  readonly credential: Credential;
  /** Null for API keys. */
  readonly sessionId: string | null;
  readonly apiKeyId: string | null;
  /** API key scopes such as `publish:weather`; empty for sessions. */
  readonly scopes: readonly string[];
  /** When the presented credential stops working, if it does. */
  readonly expiresAt: number | null;
}
