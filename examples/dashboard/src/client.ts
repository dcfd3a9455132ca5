import { isSwitchboardError, Switchboard } from '@switchboard/client';

/**
 * The page's one client, on the page's own origin: in a browser it signs in with cookies (CSRF handled),
 * follows channels over a WebSocket with connect tickets (Server-Sent Events when that fails), and keeps
 * the preferences document in sync (docs/client.md).
 */
export const sb = new Switchboard({ baseUrl: location.origin });

/** What to tell a person about a failure: the server's own detail when it sent one. */
export function messageOf(error: unknown): string {
  if (isSwitchboardError(error)) return error.detail || error.title || error.message;
  return error instanceof Error ? error.message : String(error);
}
