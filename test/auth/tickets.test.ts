import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryTicketStore } from '../../src/auth/tickets.js';
import type { Client, Reply } from '../client.js';
import { type SignedIn, startTestApp, type TestApp } from '../fixture.js';

function expectError(res: Reply, status: number, code: number): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error_detail.error_code).toBe(code);
}

describe('POST /auth/ws-ticket', () => {
  let clock = Date.now();
  let t: TestApp;
  const issued: string[] = [];

  beforeAll(async () => {
    // Trace logging, so that a ticket written to the log anywhere would be caught below.
    t = await startTestApp({ now: () => clock, env: { SWITCHBOARD_LOG_LEVEL: 'trace' } });
  });
  afterAll(() => t.close());

  async function signedIn(): Promise<SignedIn> {
    return t.signIn(await t.createUser({ role: 'viewer' }));
  }

  async function ticketFor(c: Client): Promise<string> {
    const res = await c.call('/api/v1/auth/ws-ticket', { method: 'POST' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    issued.push(res.body.data.ticket);
    return res.body.data.ticket;
  }

  it("gives a signed-in session a 30-second ticket that redeems once to that user's principal", async () => {
    const s = await signedIn();
    const res = await s.client.call('/api/v1/auth/ws-ticket', { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ ticket: expect.any(String), expires_in: 30 });
    const { ticket } = res.body.data;
    issued.push(ticket);
    expect(ticket.length).toBeGreaterThanOrEqual(43);
    const principal = await t.app.auth.tickets.redeem(ticket);
    expect(principal).toMatchObject({
      userId: s.body.data.user.id,
      username: s.body.data.user.username,
      role: 'viewer',
      credential: 'ticket',
      apiKeyId: null,
    });
    expect(principal?.sessionId).toBeTruthy();
    expect(await t.app.auth.tickets.redeem(ticket)).toBeNull();
    expect(await t.app.auth.tickets.redeem('not-a-ticket')).toBeNull();
    expect(
      await t.app.auth.tickets.redeem(`${ticket.slice(0, -1)}${ticket.endsWith('A') ? 'B' : 'A'}`),
    ).toBeNull();

    // A bearer access token of the same session works too.
    const viaBearer = await t
      .client()
      .call('/api/v1/auth/ws-ticket', { method: 'POST', bearer: s.accessToken });
    expect(viaBearer.status).toBe(200);
    issued.push(viaBearer.body.data.ticket);
    expect((await t.app.auth.tickets.redeem(viaBearer.body.data.ticket))?.sessionId).toBe(
      principal?.sessionId,
    );
  });

  it('expires a ticket after 30 seconds', async () => {
    const s = await signedIn();
    const early = await ticketFor(s.client);
    const late = await ticketFor(s.client);
    clock += 29_999;
    expect(await t.app.auth.tickets.redeem(early)).not.toBeNull();
    clock += 1;
    expect(await t.app.auth.tickets.redeem(late)).toBeNull();
  });

  it('allows at most 5 pending tickets per user: the 6th is 429 code 5004 with Retry-After', async () => {
    const s = await signedIn();
    const other = await signedIn();
    const tickets: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      tickets.push(await ticketFor(s.client));
      clock += 1_000;
    }
    const sixth = await s.client.call('/api/v1/auth/ws-ticket', { method: 'POST' });
    expectError(sixth, 429, 5004);
    const retryAfter = Number(sixth.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(sixth.body.error_detail.retry_after).toBe(retryAfter);

    // Someone else is not held back by it.
    await ticketFor(other.client);

    // Redeeming one frees a slot, for one more ticket only.
    expect(await t.app.auth.tickets.redeem(tickets[2]!)).not.toBeNull();
    await ticketFor(s.client);
    expectError(await s.client.call('/api/v1/auth/ws-ticket', { method: 'POST' }), 429, 5004);

    // And once the oldest expires, the slot it held is free again.
    clock += retryAfter * 1_000;
    await ticketFor(s.client);
    expect(await t.app.auth.tickets.redeem(tickets[0]!)).toBeNull();
  });

  it('redeems a ticket of a session that has since ended to null', async () => {
    const s = await signedIn();
    const ticket = await ticketFor(s.client);
    const logout = await s.client.call('/api/v1/auth/logout', { method: 'POST' });
    expect(logout.status).toBe(204);
    expect(await t.app.auth.tickets.redeem(ticket)).toBeNull();

    const disabled = await signedIn();
    const second = await ticketFor(disabled.client);
    await t.app.auth.users.update(
      disabled.body.data.user.id,
      { disabled: true },
      { actor: null, ip: null, userAgent: null },
    );
    expect(await t.app.auth.tickets.redeem(second)).toBeNull();
  });

  it('refuses API keys (403 code 1001) and callers without credentials (401 code 1008)', async () => {
    const s = await signedIn();
    const created = await s.client.call('/api/v1/auth/api-keys', { json: { name: 'bot', role: 'viewer' } });
    expect(created.status).toBe(201);
    const res = await t
      .client()
      .call('/api/v1/auth/ws-ticket', { method: 'POST', bearer: created.body.data.key });
    expectError(res, 403, 1001);
    expectError(await t.client().call('/api/v1/auth/ws-ticket', { method: 'POST' }), 401, 1008);
  });

  it('never writes a ticket to the log', () => {
    expect(issued.length).toBeGreaterThanOrEqual(10);
    expect(t.logs.length).toBeGreaterThan(0);
    const logs = JSON.stringify(t.logs);
    for (const ticket of issued) expect(logs).not.toContain(ticket);
  });
});

describe('MemoryTicketStore', () => {
  const grant = (userId: string) => ({ userId, sessionId: `session-of-${userId}` });

  it('redeems a ticket once, before it expires', async () => {
    let now = 10_000;
    const store = new MemoryTicketStore(() => now);
    const a = await store.issue(grant('u1'), 1_000, 5);
    const b = await store.issue(grant('u1'), 1_000, 5);
    expect(a).toEqual({ ticket: expect.any(String), expiresAt: 11_000 });
    expect(a!.ticket).not.toBe(b!.ticket);
    expect(await store.redeem(a!.ticket)).toEqual(grant('u1'));
    expect(await store.redeem(a!.ticket)).toBeNull();
    expect(await store.redeem('unknown')).toBeNull();
    now = 11_000;
    expect(await store.redeem(b!.ticket)).toBeNull();
  });

  it('caps pending tickets per user and frees slots as tickets are redeemed or expire', async () => {
    let now = 0;
    const store = new MemoryTicketStore(() => now);
    const first = await store.issue(grant('u1'), 1_000, 2);
    now = 400;
    const second = await store.issue(grant('u1'), 1_000, 2);
    expect(second).not.toBeNull();
    expect(await store.issue(grant('u1'), 1_000, 2)).toBeNull();
    expect(await store.issue(grant('u2'), 1_000, 2)).not.toBeNull();

    expect(await store.redeem(first!.ticket)).not.toBeNull();
    now = 700;
    const third = await store.issue(grant('u1'), 1_000, 2);
    expect(third).not.toBeNull();
    expect(await store.issue(grant('u1'), 1_000, 2)).toBeNull();

    // `second` expires at 1400 (`third` at 1700); then its slot is free without anyone redeeming it.
    now = 1_400;
    expect(await store.issue(grant('u1'), 1_000, 2)).not.toBeNull();
    expect(await store.issue(grant('u1'), 1_000, 2)).toBeNull();
    expect(await store.redeem(second!.ticket)).toBeNull();
  });

  it('tells how long until the oldest pending ticket expires', async () => {
    let now = 5_000;
    const store = new MemoryTicketStore(() => now);
    expect(await store.nextExpiry('u1')).toBe(0);
    const oldest = await store.issue(grant('u1'), 30_000, 5);
    now = 15_000;
    await store.issue(grant('u1'), 30_000, 5);
    expect(await store.nextExpiry('u1')).toBe(20_000);
    expect(await store.nextExpiry('u2')).toBe(0);
    await store.redeem(oldest!.ticket);
    expect(await store.nextExpiry('u1')).toBe(30_000);
    now = 60_000;
    expect(await store.nextExpiry('u1')).toBe(0);
  });

  it('keeps only a hash of each ticket in memory', async () => {
    const store = new MemoryTicketStore(() => 0);
    const issued = await store.issue(grant('u1'), 1_000, 5);
    const held = (store as unknown as { tickets: Map<string, unknown> }).tickets;
    expect(held.size).toBe(1);
    expect(JSON.stringify([...held])).not.toContain(issued!.ticket);
  });
});
