import { decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { credentialSources } from '../../src/auth/credential-sources.js';
import { deriveAuthKeys } from '../../src/auth/keys.js';
import { wsTimings } from '../../src/live/ws-gateway.js';
import { type Client, errorCode, type Reply } from '../client.js';
import { type SignedIn, startTestApp, type TestApp } from '../fixture.js';
import { LiveSocket, openRawStream, socketUrl, until } from '../live-client.js';

wsTimings.authTimeoutMs = 300;

const SECRET = 'credentials-test-secret-0123456789-abcdef';
const ENV = {
  SWITCHBOARD_JWT_SECRET: SECRET,
  SWITCHBOARD_RATE_LIMITS: 'login.ip=off,login.username=off,tickets.issue=off',
};

function socket(t: TestApp, options: { query?: string; headers?: Record<string, string> } = {}) {
  return new LiveSocket(new WebSocket(socketUrl(t, options.query), { headers: options.headers }));
}

/** 'open' when the socket answers a ping, else the code it was closed with. */
async function outcomeOf(live: LiveSocket): Promise<'open' | number> {
  await live.opened.catch(() => {});
  if (!live.closedWith) live.send({ type: 'ping', id: 'probe' });
  return until(
    () => live.closedWith?.code ?? (live.frames.some((f) => f.id === 'probe') ? 'open' : undefined),
    'the socket to settle',
  );
}

/** The status of an SSE request, the stream closed once its headers are in. */
async function sseStatus(t: TestApp, path: string, headers: Record<string, string>): Promise<number> {
  const stream = await openRawStream(t.url, path, headers);
  stream.close();
  return stream.status;
}

const cookieHeader = (client: Client) => `session=${client.cookie('session')}`;

describe('credential sources', () => {
  let t: TestApp;
  let user: SignedIn;
  /** An access token of a session that has ended: what a browser keeps in its cookie after a sign-out. */
  let stale: string;

  beforeAll(async () => {
    t = await startTestApp({ env: ENV });
    t.app.live.channels.declare({ name: 'weather', access: { minRole: 'viewer' } });
    const created = await t.createUser();
    user = await t.signIn(created);
    const ended = await t.signIn(created);
    stale = ended.accessToken;
    expect((await ended.client.call('/api/v1/auth/logout', { method: 'POST' })).status).toBe(204);
  });
  afterAll(() => t.close());

  it('are tried in one order: a ticket, the session cookie, a bearer token or key', () => {
    const sources = credentialSources(t.app.auth).map(({ name, ambient }) => ({ name, ambient }));
    expect(sources).toEqual([
      { name: 'ticket', ambient: false },
      { name: 'session cookie', ambient: true },
      { name: 'bearer', ambient: false },
    ]);
  });

  it('let a stale session cookie give way to a good bearer token, on HTTP, SSE and WebSocket alike', async () => {
    const headers = {
      cookie: `session=${stale}`,
      authorization: `Bearer ${user.accessToken}`,
      origin: t.origin,
    };
    const me = await t.client().call('/api/v1/auth/me', { headers });
    expect(me.status).toBe(200);
    expect(me.body.data.id).toBe(user.body.data.user.id);
    expect(await sseStatus(t, '/api/v1/streams/weather/events', headers)).toBe(200);
    expect(await outcomeOf(socket(t, { headers }))).toBe('open');

    // Alone, the stale cookie is the answer: the session ended (1002), on every path.
    const alone = { cookie: `session=${stale}`, origin: t.origin };
    expect(errorCode(await t.client().call('/api/v1/auth/me', { headers: alone }))).toBe(1002);
    const sse = await openRawStream(t.url, '/api/v1/streams/weather/events', alone);
    expect((await sse.json()).error_detail.error_code).toBe(1002);
    expect(await outcomeOf(socket(t, { headers: alone }))).toBe(4401);
  });

  it('count the cookie on an upgrade only from an allowed Origin', async () => {
    const cookie = cookieHeader(user.client);
    expect(await outcomeOf(socket(t, { headers: { cookie, origin: t.origin } }))).toBe('open');
    // Ignored, not refused: the socket waits for an auth message, and closes when none comes.
    const foreign: Record<string, string>[] = [{ cookie, origin: 'https://elsewhere.example' }, { cookie }];
    for (const headers of foreign) {
      const ignored = socket(t, { headers });
      await ignored.opened;
      expect((await ignored.closed).code).toBe(4401);
      expect(ignored.all).toEqual([]);
    }
  });

  it('take a ticket the client sent as the answer, good or bad, where the stream takes one', async () => {
    const ticket = async () =>
      (await user.client.call('/api/v1/auth/ws-ticket', { method: 'POST', json: {} })).body.data.ticket;
    // WebSocket: the ticket comes first, and a bad one closes the socket whatever else is there.
    const bearer = { authorization: `Bearer ${user.accessToken}` };
    expect(await outcomeOf(socket(t, { query: '?ticket=spent', headers: bearer }))).toBe(4401);
    expect(await outcomeOf(socket(t, { query: `?ticket=${await ticket()}`, headers: bearer }))).toBe('open');
    // SSE: the ticket comes last, so an EventSource reconnecting with its spent ticket gets in by its cookie.
    const spent = await ticket();
    const path = `/api/v1/streams/weather/events?ticket=${spent}`;
    expect(await sseStatus(t, path, {})).toBe(200);
    expect(await sseStatus(t, path, {})).toBe(401);
    expect(await sseStatus(t, path, { cookie: cookieHeader(user.client) })).toBe(200);
  });

  it('refuse a user who must change their password with one refusal, on every path', async () => {
    const pending = await t.signIn(await t.createUser({ mustChangePassword: true }));
    const headers = { authorization: `Bearer ${pending.accessToken}` };
    const http = await t.client().call('/api/v1/streams', { headers });
    const sse = await openRawStream(t.url, '/api/v1/streams/weather/events', headers);
    const sseBody = await sse.json();
    const ws = socket(t, { headers });
    const closed = await ws.closed;
    expect([http.status, sse.status, closed.code]).toEqual([403, 403, 4403]);
    expect(errorCode(http)).toBe(1007);
    expect(sseBody.error_detail.error_code).toBe(1007);
    expect(new Set([http.body.error, sseBody.error, closed.reason]).size).toBe(1);
  });
});

describe('an access token from an instance with another public URL', () => {
  let a: TestApp;
  let b: TestApp;
  let fromA: SignedIn;

  beforeAll(async () => {
    // One signing secret, two public URLs: what several instances configured apart look like.
    a = await startTestApp({ env: { ...ENV, SWITCHBOARD_PUBLIC_URL: 'http://instance-a.test:8080' } });
    b = await startTestApp({ env: { ...ENV, SWITCHBOARD_PUBLIC_URL: 'http://instance-b.test:8080' } });
    fromA = await a.signIn(await a.createUser());
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  const issuerWarnings = () =>
    b.logs.filter((line) => line.level === 40 && line.expected_issuer !== undefined);

  function expectPlainInvalidToken(res: Reply): void {
    expect(res.status).toBe(401);
    expect(errorCode(res)).toBe(1009);
    expect(res.body.error).toBe('access token is invalid or expired; sign in or refresh it');
  }

  it('is refused with 1009, and the log says the issuers differ and that instances must share one URL', async () => {
    const before = issuerWarnings().length;
    expectPlainInvalidToken(await b.client().call('/api/v1/auth/me', { bearer: fromA.accessToken }));
    const cookie = b.client();
    cookie.setCookie('session', fromA.accessToken, '/api');
    expectPlainInvalidToken(await cookie.call('/api/v1/auth/me'));
    const warnings = issuerWarnings().slice(before);
    expect(warnings).toHaveLength(2);
    for (const warning of warnings) {
      expect(warning).toMatchObject({
        expected_issuer: 'http://instance-b.test:8080',
        token_issuer: 'http://instance-a.test:8080',
        request_id: expect.any(String),
      });
      expect(warning.msg).toMatch(/every instance .* must share one SWITCHBOARD_PUBLIC_URL/);
    }
  });

  it('is logged once when a bearer token beside it has to be read from the database', async () => {
    const own = await b.signIn(await b.createUser());
    const before = issuerWarnings().length;
    const client = b.client();
    client.setCookie('session', fromA.accessToken, '/api');
    const res = await client.call('/api/v1/auth/me', { bearer: own.accessToken });
    expect(res.status).toBe(200);
    expect(issuerWarnings().slice(before)).toHaveLength(1);
  });

  it('is logged the same way when it opens a WebSocket', async () => {
    const before = issuerWarnings().length;
    const ws = socket(b, { headers: { authorization: `Bearer ${fromA.accessToken}` } });
    expect((await ws.closed).code).toBe(4401);
    expect(issuerWarnings().slice(before)).toEqual([
      expect.objectContaining({
        token_issuer: 'http://instance-a.test:8080',
        request_id: expect.any(String),
      }),
    ]);
  });

  it('names a wrong audience too, and stays quiet about tokens that are not ours', async () => {
    const key = deriveAuthKeys(Buffer.from(SECRET, 'utf8')).accessToken;
    const claims = decodeJwt(fromA.accessToken);
    const sign = (secret: Uint8Array, audience: string) =>
      new SignJWT({ ...claims, iss: b.settings.publicUrl, aud: audience })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .sign(secret);
    const before = b.logs.length;
    expectPlainInvalidToken(
      await b.client().call('/api/v1/auth/me', { bearer: await sign(key, 'another-audience') }),
    );
    expect(b.logs.slice(before).filter((line) => line.level === 40)).toEqual([
      expect.objectContaining({ expected_audience: 'switchboard', token_audience: 'another-audience' }),
    ]);
    // Signed with another key: its claims say nothing worth a warning, and could be anyone's words.
    const forged = await sign(new Uint8Array(64).fill(7), 'another-audience');
    const after = b.logs.length;
    expectPlainInvalidToken(await b.client().call('/api/v1/auth/me', { bearer: forged }));
    expect(b.logs.slice(after).filter((line) => line.level === 40)).toEqual([]);
  });
});
