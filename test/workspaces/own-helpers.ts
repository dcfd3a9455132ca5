import { request } from 'undici';
import { expect } from 'vitest';
import type { Role } from '../../src/auth/roles.js';
import type { Client, Reply } from '../client.js';
import type { TestApp } from '../fixture.js';

/** Who is calling: a cookie session, or a bearer credential (JWT or API key) on a jar-less client. */
export interface Caller {
  client: Client;
  bearer?: string;
}

const MERGE_PATCH = 'application/merge-patch+json';

/** A new user of `role`, signed in with a cookie session. */
export async function signedInAs(t: TestApp, role: Role): Promise<Caller & { userId: string }> {
  const user = await t.createUser({ role });
  const { client } = await t.signIn(user);
  return { client, userId: user.record.id };
}

/** An API key of `role` for the signed-in caller, as a caller of its own. */
export async function apiKeyOf(t: TestApp, who: Caller, role: Role): Promise<Caller> {
  const res = await who.client.call('/api/v1/auth/api-keys', { json: { name: `key-${role}`, role } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { client: t.client(), bearer: res.body.data.key };
}

export function getPreferences(who: Caller, headers: Record<string, string> = {}): Promise<Reply> {
  return who.client.call('/api/v1/preferences', { headers, bearer: who.bearer });
}

/** PATCH /preferences with `patch` as JSON text (a string is sent as it is). */
export function patchPreferences(
  who: Caller,
  patch: unknown,
  options: { headers?: Record<string, string>; type?: string } = {},
): Promise<Reply> {
  return who.client.call('/api/v1/preferences', {
    method: 'PATCH',
    body: typeof patch === 'string' ? patch : JSON.stringify(patch),
    headers: { 'content-type': options.type ?? MERGE_PATCH, ...options.headers },
    bearer: who.bearer,
  });
}

export const workspacePath = (name: string) => `/api/v1/workspaces/${encodeURIComponent(name)}`;

export function putWorkspace(
  who: Caller,
  name: string,
  content: unknown,
  options: { query?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return who.client.call(`${workspacePath(name)}${options.query ?? ''}`, {
    method: 'PUT',
    json: content,
    headers: options.headers,
    bearer: who.bearer,
  });
}

export function call(
  who: Caller,
  path: string,
  options: { method?: string; json?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return who.client.call(path, { ...options, bearer: who.bearer });
}

/** The caller's own document: GET /preferences without the keys the server adds. */
export async function ownDocument(who: Caller): Promise<Record<string, unknown>> {
  const res = await getPreferences(who);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const { shared_workspace_grants: _grants, shared_workspace_library: _library, ...own } = res.body.data;
  return own;
}

/** The own-document version in a `"<version>.<tag>"` ETag. */
export function versionOf(res: Reply): number {
  const match = /^"(\d+)\.[A-Za-z0-9_-]+"$/.exec(String(res.headers.etag));
  expect(match, `ETag ${res.headers.etag}`).not.toBeNull();
  return Number(match?.[1]);
}

export function expectError(res: Reply, status: number, code: number): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.success).toBe(false);
  expect(res.body.error_detail.error_code).toBe(code);
}

/** The JSON pointers a 422 (code 2000) names. */
export function pointersOf(res: Reply): string[] {
  expectError(res, 422, 2000);
  return (res.body.error_detail.errors ?? []).map((e: { pointer: string }) => e.pointer);
}

/** `levels` objects nested in one another: `nested(1)` is `{}`, `nested(2)` is `{"a":{}}`. */
export function nested(levels: number): unknown {
  let value: unknown = {};
  for (let i = 1; i < levels; i++) value = { a: value };
  return value;
}

/**
 * A GET through undici with a short body timeout, for answers (a 304) whose framing the test checks: a
 * wrong Content-Length would make the fixture's client wait for a body that never comes.
 */
export async function rawGet(
  t: TestApp,
  who: Caller,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; text: string | undefined }> {
  const cookie = [...who.client.jar].map(([name, c]) => `${name}=${c.value}`).join('; ');
  const res = await request(`${t.url}${path}`, {
    headers: {
      ...headers,
      ...(cookie ? { cookie } : {}),
      ...(who.bearer ? { authorization: `Bearer ${who.bearer}` } : {}),
    },
    bodyTimeout: 2000,
  });
  const text = await res.body.text().catch(() => undefined);
  return { status: res.statusCode, headers: res.headers, text };
}
