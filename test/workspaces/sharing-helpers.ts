import { expect } from 'vitest';
import type { Role } from '../../src/auth/roles.js';
import type { CallOptions, Reply } from '../client.js';
import type { SignedIn, TestApp, TestUser } from '../fixture.js';
import { type Frame, type LiveSocket, openSocket, until } from '../live-client.js';

/** Rate limits off: these tests write more than 120 times a minute as one user. */
export const SHARING_ENV: Record<string, string> = {
  SWITCHBOARD_RATE_LIMITING: 'false',
};

/** A signed-in user with their id and username at hand. */
export interface Member extends SignedIn {
  user: TestUser;
  id: string;
  username: string;
  role: Role;
}

let memberCount = 0;

/** Creates a user (unique username unless given) and signs them in. */
export async function member(
  t: TestApp,
  role: Role,
  options: { groups?: string[]; username?: string } = {},
): Promise<Member> {
  memberCount += 1;
  const username = options.username ?? `${role}${memberCount}-${Math.random().toString(36).slice(2, 7)}`;
  const user = await t.createUser({ role, groups: options.groups, username });
  const session = await t.signIn(user);
  return { ...session, user, id: user.record.id, username: user.username, role };
}

export const enc = encodeURIComponent;

/** A call to `/api/v1<path>` with the member's session cookie (and CSRF token on writes). */
export function api(who: Member, path: string, options: CallOptions = {}): Promise<Reply> {
  return who.client.call(`/api/v1${path}`, options);
}

export function expectError(res: Reply, status: number, code: number, what = ''): void {
  expect(res.status, `${what} ${JSON.stringify(res.body)}`).toBe(status);
  expect(res.body?.success, what).toBe(false);
  expect(res.body?.error_detail?.error_code, what).toBe(code);
}

export function expectOk(res: Reply, status = 200, what = ''): void {
  expect(res.status, `${what} ${JSON.stringify(res.body)}`).toBe(status);
}

/** Creates or replaces one of the member's workspaces; fails the test unless it worked. */
export async function putWorkspace(who: Member, name: string, content: unknown): Promise<Reply> {
  const res = await api(who, `/workspaces/${enc(name)}`, { method: 'PUT', json: content });
  expect([200, 201], `PUT ${name}: ${res.status} ${JSON.stringify(res.body)}`).toContain(res.status);
  return res;
}

export interface GrantInput {
  principal_type: string;
  principal: string;
  access: string;
}

export const toRole = (principal: string, access = 'view'): GrantInput => ({
  principal_type: 'role',
  principal,
  access,
});
export const toGroup = (principal: string, access = 'view'): GrantInput => ({
  principal_type: 'group',
  principal,
  access,
});
export const toUser = (principal: string, access = 'view'): GrantInput => ({
  principal_type: 'user',
  principal,
  access,
});

export function putGrants(who: Member, name: string, grants: unknown): Promise<Reply> {
  return api(who, `/workspaces/${enc(name)}/grants`, { method: 'PUT', json: grants });
}

/** Shares a workspace; fails the test unless it worked. */
export async function share(who: Member, name: string, grants: GrantInput[]): Promise<Reply> {
  const res = await putGrants(who, name, grants);
  expectOk(res, 200, `share ${name}`);
  return res;
}

/** GET /preferences: the data and the ETag. */
export async function prefs(who: Member, options: CallOptions = {}): Promise<{ data: any; etag: string }> {
  const res = await api(who, '/preferences', options);
  expectOk(res, 200, 'GET /preferences');
  return { data: res.body.data, etag: String(res.headers.etag) };
}

export interface LibraryEntry {
  owner: string;
  owner_id: string;
  name: string;
  access: 'view' | 'edit';
  etag: string;
  workspace: unknown;
  variables: unknown;
}

/** The reader's shared_workspace_library. */
export async function library(who: Member, options: CallOptions = {}): Promise<LibraryEntry[]> {
  return (await prefs(who, options)).data.shared_workspace_library;
}

/** `owner/name` of each entry of the reader's library. */
export async function seen(who: Member, options: CallOptions = {}): Promise<string[]> {
  return (await library(who, options)).map((e) => `${e.owner}/${e.name}`);
}

/** Sorted `owner/name` of each entry of the reader's library, with its access. */
export async function seenWithAccess(who: Member): Promise<string[]> {
  return (await library(who)).map((e) => `${e.owner}/${e.name}:${e.access}`).sort();
}

/** The owner's own document as stored (GET /preferences without the server's two keys). */
export async function ownDocument(who: Member): Promise<Record<string, unknown>> {
  const {
    shared_workspace_grants: _grants,
    shared_workspace_library: _library,
    ...rest
  } = (await prefs(who)).data;
  return rest;
}

/** An API key of the member with `role` (at most their own). */
export async function apiKey(who: Member, role: Role): Promise<string> {
  const res = await api(who, '/auth/api-keys', { json: { name: `key-${role}-${Date.now()}`, role } });
  expectOk(res, 201, 'create API key');
  return res.body.data.key;
}

/** A failure envelope without what differs per request (the instance, a request id). */
export function withoutInstance(body: any): unknown {
  const { instance: _instance, ...detail } = body?.error_detail ?? {};
  return { ...body, error_detail: detail };
}

/** Changes a user's role or groups as an admin, through the API. */
export async function adminPatchUser(
  admin: Member,
  userId: string,
  change: { role?: Role; groups?: string[] },
): Promise<void> {
  const res = await api(admin, `/users/${userId}`, { method: 'PATCH', json: change });
  expectOk(res, 200, 'PATCH /users');
}

export async function adminDeleteUser(admin: Member, userId: string): Promise<void> {
  const res = await api(admin, `/users/${userId}`, { method: 'DELETE' });
  expect(res.status, JSON.stringify(res.body)).toBe(204);
}

// Notices

/** A WebSocket subscribed to the member's own `user:{id}` channel. */
export interface Watcher {
  socket: LiveSocket;
  who: Member;
  /** Waits for the next `preferences.updated` on the member's channel and returns its data. */
  next(timeoutMs?: number): Promise<{ type: string; etag: string }>;
  /** The `preferences.updated` notices received so far and not yet taken. */
  pending(): Frame[];
  close(): Promise<unknown>;
}

const isNotice = (channel: string) => (f: Frame) =>
  f.type === 'event' &&
  f.channel === channel &&
  (f.data as { type?: string } | undefined)?.type === 'preferences.updated';

export async function watch(t: TestApp, who: Member): Promise<Watcher> {
  const socket = await openSocket(t, who);
  const channel = `user:${who.id}`;
  const subscribed = await socket.subscribe(channel);
  expect(subscribed, JSON.stringify(subscribed)).toMatchObject({ type: 'subscribed', channel });
  // Anything replayed on subscription (earlier notices) is not what the test waits for.
  await socket.drain();
  return {
    socket,
    who,
    async next(timeoutMs = 5000) {
      const frame = await socket.next(
        isNotice(channel),
        `preferences.updated for ${who.username}`,
        timeoutMs,
      );
      return frame.data as { type: string; etag: string };
    },
    pending: () => socket.frames.filter(isNotice(channel)),
    close: () => socket.close(),
  };
}

/** Waits for the member's next notice and checks its ETag is the one their next GET /preferences has. */
export async function expectNoticeWithCurrentEtag(watcher: Watcher): Promise<string> {
  const notice = await watcher.next();
  expect(notice.type).toBe('preferences.updated');
  // Later notices of the same change may still be on the way; the last one received is the one to compare.
  await settle();
  const latest = watcher.pending().at(-1);
  const etag = latest ? (latest.data as { etag: string }).etag : notice.etag;
  watcher.socket.discard();
  expect(etag).toBe((await prefs(watcher.who)).etag);
  return etag;
}

/** A short bounded wait, long enough for a notice published right after a commit to arrive. */
export function settle(ms = 300): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `watcher` received a notice, then a little longer, and asserts `others` received none. */
export async function expectNoNotice(others: Watcher[]): Promise<void> {
  await settle();
  for (const other of others) {
    expect(other.pending(), `notices to ${other.who.username}`).toEqual([]);
  }
}

export { until };
