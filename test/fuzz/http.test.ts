import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engine } from '../fixture.js';
import { type Answer, Contract, newAjv, type Operation, operationsOf } from './contract.js';
import { type Built, bodySchemas, build, type Plan, type Shaped, shape } from './requests.js';
import { fuzzRequests, fuzzSeed, Tally, unexpectedErrorLogs } from './run.js';
import { IDENTITIES, type Identity, World } from './world.js';

/**
 * Every operation of /openapi.json, with valid and broken requests drawn from its schemas, as every role
 * (a session by bearer and by cookie, an API key, keys with publish scopes) and as nobody; every answer held
 * to the contract (contract.ts). SWITCHBOARD_FUZZ_REQUESTS requests (10,000 by default, the CI run; the full
 * run is 100,000), SWITCHBOARD_FUZZ_SEED to replay a run.
 */

const REQUESTS = fuzzRequests();
const SEED = fuzzSeed();
/** Plans drawn per operation at once (fast-check ramps sizes up within each batch). */
const BATCH = 100;
/** The largest body a broken request carries: over the configuration routes' 8 MiB limit. */
const HUGE_BYTES = 9 * 1024 * 1024;
const PROTOTYPE_KEY = /"(__proto__|constructor)"\s*:/;
/** SWITCHBOARD_FUZZ_TRACE=1 prints every request before it is sent. */
const TRACE = process.env.SWITCHBOARD_FUZZ_TRACE === '1';

/** Requests that may end a session, a key or an account the run signs in with. */
const DESTRUCTIVE = new Set([
  'POST /api/v1/auth/login',
  'POST /api/v1/auth/logout',
  'POST /api/v1/auth/refresh',
  'POST /api/v1/auth/password',
  'DELETE /api/v1/auth/sessions',
  'DELETE /api/v1/auth/sessions/{id}',
  'DELETE /api/v1/auth/api-keys/{id}',
  'PATCH /api/v1/users/{id}',
  'DELETE /api/v1/users/{id}',
]);
/** Requests that may change the active configuration. */
const RECONFIGURING = new Set([
  'POST /api/v1/config',
  'POST /api/v1/config/versions/{version}/activate',
  'DELETE /api/v1/config/versions/{version}',
]);

let world: World;
let operations: Operation[];
let shaped: Shaped[];
const contract = new Contract();

/** The plans of one operation, drawn batch by batch from the seed, the operation and the batch. */
class Plans {
  private batch = -1;
  private plans: Plan[] = [];

  constructor(
    private readonly s: Shaped,
    private readonly opIndex: number,
  ) {}

  get(n: number): Plan {
    const batch = Math.floor(n / BATCH);
    if (batch !== this.batch) {
      this.batch = batch;
      const seed = (SEED ^ Math.imul(this.opIndex + 1, 0x9e3779b1) ^ Math.imul(batch + 1, 0x85ebca6b)) | 0;
      this.plans = fc.sample(this.s.arbitrary, { seed, numRuns: BATCH });
    }
    return this.plans[n % BATCH] as Plan;
  }
}

/** Sends one request; an event stream is read up to its first bytes and then closed. */
async function send(built: Built, headers: Record<string, string>): Promise<Answer> {
  const res = await world.pool.request({
    method: built.method as 'GET',
    path: built.path,
    headers,
    body: built.body,
    // Each request on a connection of its own: a broken one (a body on a GET, a body refused half sent)
    // then cannot leave a pooled connection in a state the next request would inherit.
    reset: true,
  });
  const type = String(res.headers['content-type'] ?? '');
  if (type.startsWith('text/event-stream')) {
    let text = '';
    const timer = setTimeout(() => res.body.destroy(), 2000);
    try {
      for await (const chunk of res.body) {
        text += String(chunk);
        if (text.includes('\n\n')) break;
      }
    } catch {
      // Closed by the timer: a stream that said nothing in 2 s is still a stream.
    } finally {
      clearTimeout(timer);
      res.body.destroy();
    }
    return { status: res.statusCode, headers: res.headers, text };
  }
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** Values later requests may reuse: cursors, tickets, ETags, event ids, refresh tokens. */
function harvest(op: Operation, answer: Answer): void {
  const etag = answer.headers.etag;
  if (typeof etag === 'string') world.remember('etags', etag);
  if (answer.headers['content-type']?.toString().startsWith('text/event-stream')) {
    for (const line of answer.text.split('\n')) {
      if (line.startsWith('id:')) {
        world.remember(op.path === '/api/v1/events' ? 'resumeIds' : 'eventIds', line.slice(3).trim());
      }
    }
    return;
  }
  if (answer.status >= 300) return;
  let body: any;
  try {
    body = JSON.parse(answer.text);
  } catch {
    return;
  }
  world.remember(`cursors:${op.path}`, body?.pagination?.next_cursor);
  world.remember('tickets', body?.data?.ticket);
  world.remember('refreshTokens', body?.data?.refresh_token);
  if (op.id === 'POST /api/v1/streams/{channel}/publish') world.remember('eventIds', body?.data?.id);
  if (op.id === 'POST /api/v1/config' && typeof body?.data?.version === 'string') {
    world.remember('versions', body.data.version);
  }
}

const problemCode = (answer: Answer): number | undefined => {
  try {
    const body = JSON.parse(answer.text);
    return body?.error_detail?.error_code ?? body?.error_code;
  } catch {
    return undefined;
  }
};

describe(`fuzzing every operation of /openapi.json (${engine})`, () => {
  beforeAll(async () => {
    world = await World.start();
    const doc = (await world.call('GET', '/openapi.json')).body;
    operations = operationsOf(doc, newAjv());
    const schema = (await world.call('GET', '/api/v1/config/schema')).body.data;
    const overrides = bodySchemas(schema);
    const weighted = IDENTITIES.flatMap((entry, i) => Array.from({ length: entry.weight }, () => i));
    shaped = operations.map((op) => shape(op, overrides, weighted));
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  it(`${REQUESTS} requests: no 5xx, every answer as documented`, async () => {
    const tally = new Tally(SEED, REQUESTS);
    console.log(`fuzz: seed ${SEED} (SWITCHBOARD_FUZZ_SEED=${SEED} replays this run), ${REQUESTS} requests`);
    const plans = shaped.map((s, i) => new Plans(s, i));
    const started = performance.now();
    for (let index = 0; index < REQUESTS; index++) {
      const opIndex = index % shaped.length;
      const s = shaped[opIndex] as Shaped;
      const plan = plans[opIndex]?.get(Math.floor(index / shaped.length)) as Plan;
      const built = build(s, plan, world, HUGE_BYTES);
      const identity = (IDENTITIES[built.identity] as { identity: Identity }).identity;
      const headers = {
        ...built.headers,
        ...world.credentialHeaders(identity, built.method, built.path, built.csrf),
      };
      if (TRACE) {
        console.log(
          `#${index} ${built.method} ${built.path.slice(0, 200)} as ${identity.name} [${built.how ?? 'valid'}] ${built.body?.length ?? 0} bytes`,
        );
      }
      let answer: Answer;
      try {
        answer = await send(built, headers);
      } catch (error) {
        const message = (error as Error).message;
        // A body over the limit is answered while it arrives and the connection then closes (docs/errors.md,
        // 2002): the client may see that close before the 413.
        if (built.oversized) {
          tally.unanswered(s.op, identity, 'closed on an oversized body');
          continue;
        }
        tally.fail(index, s.op, identity, built, 0, [`request failed: ${message}`]);
        continue;
      }
      if (TRACE) console.log(`  -> ${answer.status}`);
      world.absorbCookies(identity, answer.headers);
      const verdict = contract.check(s.op, answer);
      const violations = [...verdict.violations];
      if (built.how === null && (answer.status === 400 || answer.status === 415)) {
        // Fastify's JSON parser refuses these keys (prototype poisoning), which the document does not say.
        if (answer.status === 400 && PROTOTYPE_KEY.test(built.body ?? '')) {
          tally.note(s.op, 'a "__proto__" or "constructor" key refused (400)');
        } else if (answer.status === 400 && answer.text.includes('U+0000')) {
          // PostgreSQL keeps no NUL in text (errors.ts); the document does not say so.
          tally.note(s.op, 'text holding U+0000 refused (400, PostgreSQL)');
        } else {
          violations.push(
            `a request valid by the document was refused as malformed: ${answer.text.slice(0, 300)}`,
          );
        }
      }
      if (!answer.headers['x-request-id']) violations.push('no X-Request-Id');
      tally.record(index, s.op, identity, built, answer.status, verdict.undescribed, violations);
      harvest(s.op, answer);
      const code = problemCode(answer);
      const signedIn = identity.kind !== 'nobody' && identity.kind !== 'forged';
      if (
        (answer.status < 400 && DESTRUCTIVE.has(s.op.id)) ||
        (signedIn && (answer.status === 401 || code === 1007))
      ) {
        await world.heal();
      }
      if (answer.status < 400 && RECONFIGURING.has(s.op.id)) await world.restoreConfig();
      if ((index + 1) % 500 === 0) await world.refreshPools();
      if ((index + 1) % 5000 === 0) {
        console.log(
          `fuzz: ${index + 1}/${REQUESTS} requests, ${Math.round((performance.now() - started) / 1000)} s, ${tally.failures} failure(s)`,
        );
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const errorLogs = unexpectedErrorLogs(world.t.logs);
    console.log(tally.report(operations, seconds, world));
    if (errorLogs.length > 0) {
      console.log(`error logs:\n${errorLogs.slice(0, 20).join('\n')}`);
    }
    expect(tally.coverage(operations), 'operations never reached').toEqual([]);
    expect(tally.failureReport(), tally.replayHint()).toBe('');
    expect(errorLogs, 'the server logged errors').toEqual([]);
  });
});
