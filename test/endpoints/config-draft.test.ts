import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_DEPTH,
  MAX_PROBLEMS,
  MAX_VALUES,
  TOO_DEEP,
  TOO_MANY_VALUES,
} from '../../src/endpoints/document-limits.js';
import { MASK, TOO_LONG_EXPANDED } from '../../src/endpoints/vars.js';
import { ErrorCode } from '../../src/platform/problem.js';
import { errorCode, type Reply } from '../client.js';
import { type SignedIn, startTestApp, type TestApp } from '../fixture.js';
import { exampleConfig, exampleEnv } from './config-fixture.js';

/**
 * POST /config/diff with drafts crafted to make the server work: each gets its answer (a 4xx, or the diff
 * of a draft that has the schema's shape), never a 500 and never a stall. Speed is the bench's
 * (bench/config.ts); these assert what comes back.
 */

let t: TestApp;
let editor: SignedIn;
let admin: SignedIn;

beforeAll(async () => {
  t = await startTestApp({
    env: exampleEnv(),
    processEnv: { SWITCHBOARD_VAR_SCADA_TOKEN: 'scada-token-Zq81xv' },
  });
  admin = await t.signIn(await t.createUser({ role: 'admin' }));
  const saved = await admin.client.call('/api/v1/config', { method: 'POST', json: exampleConfig() });
  expect(saved.status).toBe(201);
  editor = await t.signIn(await t.createUser({ role: 'editor' }));
});
afterAll(() => t.close());

const MB = 1_000_000;
const SIZES = [
  ['1 MB', MB],
  ['8 MB', 8 * MB],
] as const;

/** Sends the body as it is, so it can be larger or stranger than JSON.stringify would make it. */
const sendDraft = (body: string): Promise<Reply> =>
  editor.client.call('/api/v1/config/diff', {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
  });

/** The example document as JSON, its member `name` replaced by `json` (JSON text, however large). */
function exampleWith(name: string, json: string): string {
  const config = exampleConfig();
  delete config[name];
  return `${JSON.stringify(config).slice(0, -1)},"${name}":${json}}`;
}

/** An endpoint named "crafted" whose body is `body` (JSON text). */
const endpointWithBody = (body: string) => {
  const config = exampleConfig();
  const endpoints = JSON.stringify(config.endpoints).slice(0, -1);
  delete config.endpoints;
  return `${JSON.stringify(config).slice(0, -1)},"endpoints":${endpoints},"crafted":{"url":"https://api.open-meteo.com/v1","method":"POST","body":${body}}}}`;
};

function expectProblems(res: Reply, problems: { pointer: string; message: string }[]) {
  expect(res.status).toBe(422);
  expect(errorCode(res)).toBe(ErrorCode.invalidBody);
  expect(res.body.error_detail.errors).toEqual(problems);
}

describe('drafts that would have stalled the server', () => {
  it.each(SIZES)('%s of secret variables, each 64 KB of ${: diffed, every one masked', async (_, size) => {
    const value = '${'.repeat(32_768);
    const count = Math.floor(size / (value.length + 40));
    const vars = Array.from(
      { length: count },
      (_, i) => `"crafted_${i}":${JSON.stringify({ value, secret: true })}`,
    );
    const declared = JSON.stringify(exampleConfig().vars).slice(0, -1);
    const res = await sendDraft(`{"config":${exampleWith('vars', `${declared},${vars.join(',')}}`)}}`);
    expect(res.status).toBe(200);
    const diff: string = res.body.data.diff;
    expect(diff).not.toContain('${${');
    for (const i of [0, count - 1])
      expect(diff).toContain(`+    "crafted_${i}": {\n+      "secret": true,\n+      "value": "${MASK}"`);
    expect(diff.split(`"value": "${MASK}"`).length - 1).toBe(count);
  });

  it.each(SIZES)(
    'one string of %s: refused where the schema bounds it, diffed where it does not',
    async (_, size) => {
      const long = JSON.stringify('${'.repeat(size / 2 - 100));
      expectProblems(await sendDraft(`{"config":${exampleWith('description', long)}}`), [
        { pointer: '/config/description', message: 'must be at most 4000 characters long' },
      ]);
      expectProblems(
        await sendDraft(`{"config":${exampleWith('vars', `{"big":{"value":${long},"secret":true}}`)}}`),
        [
          {
            pointer: '/config/vars/big',
            message: 'must be a string, number or boolean, or {"value": …, "secret": true|false}',
          },
        ],
      );
      const inBody = await sendDraft(`{"config":${endpointWithBody(long)}}`);
      expect(inBody.status).toBe(200);
      expect(inBody.body.data.diff).toContain(`+      "body": "\${\${\${`);
    },
  );
});

describe('limits of a draft', () => {
  it.each(SIZES)('%s of nested objects in a body: 422 at the first value too deep', async (_, size) => {
    const levels = Math.floor(size / 6);
    const res = await sendDraft(
      `{"config":${endpointWithBody(`${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`)}}`,
    );
    // The body sits 3 levels down (/endpoints/crafted/body): 30 more reach the limit.
    expectProblems(res, [
      { pointer: `/config/endpoints/crafted/body${'/a'.repeat(MAX_DEPTH - 2)}`, message: TOO_DEEP },
    ]);
  });

  it.each(SIZES)('%s of nested arrays in a body: 422 at the first value too deep', async (_, size) => {
    const levels = Math.floor(size / 2) - 1000;
    const res = await sendDraft(
      `{"config":${endpointWithBody(`${'['.repeat(levels)}${']'.repeat(levels)}`)}}`,
    );
    expectProblems(res, [
      { pointer: `/config/endpoints/crafted/body${'/0'.repeat(MAX_DEPTH - 2)}`, message: TOO_DEEP },
    ]);
  });

  it('nesting up to the limit is a draft like any other', async () => {
    const levels = MAX_DEPTH - 3;
    const res = await sendDraft(
      `{"config":${endpointWithBody(`${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`)}}`,
    );
    expect(res.status).toBe(200);
    // The 1 is the deepest value allowed: 32 levels down, indented two spaces a level.
    expect(res.body.data.diff).toContain(`+${' '.repeat(2 * MAX_DEPTH)}"a": 1\n`);
  });

  it.each(SIZES)('%s of values: 422 for the whole draft', async (_, size) => {
    const values = Array.from({ length: Math.floor(size / 2) }, () => '0').join(',');
    expectProblems(await sendDraft(`{"config":${endpointWithBody(`[${values}]`)}}`), [
      { pointer: '/config', message: TOO_MANY_VALUES },
    ]);
  });

  it('counts values exactly: one past the limit is refused, the limit is not', async () => {
    // The example itself holds some values; the body's array makes up the rest.
    const own = countValues(JSON.parse(endpointWithBody('[]')));
    const array = (n: number) => `[${Array.from({ length: n }, () => '0').join(',')}]`;
    expect((await sendDraft(`{"config":${endpointWithBody(array(MAX_VALUES - own))}}`)).status).toBe(200);
    expectProblems(await sendDraft(`{"config":${endpointWithBody(array(MAX_VALUES - own + 1))}}`), [
      { pointer: '/config', message: TOO_MANY_VALUES },
    ]);
  });

  it('100,000 keys where none may be: the first 1,000 problems, each at its pointer', async () => {
    const keys = Array.from({ length: 100_000 }, (_, i) => `"k${i}":${i}`).join(',');
    const res = await sendDraft(`{"config":{${keys}}}`);
    expect(res.status).toBe(422);
    expect(errorCode(res)).toBe(ErrorCode.invalidBody);
    const errors = res.body.error_detail.errors as { pointer: string; message: string }[];
    expect(errors).toHaveLength(MAX_PROBLEMS);
    expect(errors[0]).toEqual({ pointer: '/config/k0', message: 'is not a property this object may have' });
    expect(errors.at(-1)?.pointer).toBe(`/config/k${MAX_PROBLEMS - 1}`);
    expect(res.body.error).toMatch(
      /^the configuration is not valid: 1000 problems or more \(the first 1000 are listed\), first \/config\/k0 /,
    );
  });

  it('100,000 variables with names that are not names: the first 1,000, each at its pointer', async () => {
    const vars = Array.from({ length: 100_000 }, (_, i) => `"${i}th":${i}`).join(',');
    const res = await sendDraft(`{"config":{"vars":{${vars}}}}`);
    expect(res.status).toBe(422);
    const errors = res.body.error_detail.errors as { pointer: string; message: string }[];
    expect(errors).toHaveLength(MAX_PROBLEMS);
    expect(errors[0]?.pointer).toBe('/config/vars/0th');
    expect(errors[0]?.message).toMatch(/^is not a variable name/);
  });

  it('100,000 variables that are variables: diffed', async () => {
    const vars = Array.from({ length: 100_000 }, (_, i) => `"v${i}":${i}`).join(',');
    const res = await sendDraft(`{"config":{"vars":{${vars}}}}`);
    expect(res.status).toBe(200);
    expect(res.body.data.diff).toContain('+    "v99999": 99999');
  });
});

describe('what a draft is checked for', () => {
  it('the JSON Schema only: a draft whose references and sources are not declared yet is diffed', async () => {
    const draft = exampleConfig();
    draft.endpoints.pumps.url = '${not_declared_yet}/pumps';
    draft.endpoints.pumps.headers.Authorization = 'Bearer ${env:HOME} ${unclosed';
    draft.endpoints.pumps.timeout = '1ms';
    draft.streams['plant.pumps'].endpoint = 'nowhere';
    const res = await editor.client.call('/api/v1/config/diff', { json: { config: draft } });
    expect(res.status).toBe(200);
    expect(res.body.data.diff).toContain('+      "url": "${not_declared_yet}/pumps"');
  });

  it('every schema problem at its pointer, as a save lists them', async () => {
    const draft = exampleConfig();
    draft.streams['plant.pumps'].interval = 'soon';
    draft.endpoints.pumps.retries = 99;
    draft.colour = 'blue';
    const res = await editor.client.call('/api/v1/config/diff', { json: { config: draft } });
    expect(res.status).toBe(422);
    expect(errorCode(res)).toBe(ErrorCode.invalidBody);
    expect(res.body.error_detail.errors).toHaveLength(3);
    expect(res.body.error_detail.errors).toEqual(
      expect.arrayContaining([
        { pointer: '/config/colour', message: 'is not a property this object may have' },
        { pointer: '/config/endpoints/pumps/retries', message: 'must be at most 10' },
        {
          pointer: '/config/streams/plant.pumps/interval',
          message: 'must be a duration such as "500ms", "30s" or "5m"',
        },
      ]),
    );
  });

  it('what is wrong with the request and with the draft, in one answer', async () => {
    const draft = exampleConfig();
    draft.streams['plant.pumps'].interval = 'soon';
    draft.streams.Upper = { endpoint: 'pumps', interval: '1m', history: { size: 0 } };
    const res = await sendDraft(JSON.stringify({ config: draft, base: '1.0.0' }));
    expect(res.status).toBe(422);
    expect(errorCode(res)).toBe(ErrorCode.invalidBody);
    expect(res.body.error_detail.errors.map((e: { pointer: string }) => e.pointer)).toEqual([
      '/base',
      '/config/streams/plant.pumps/interval',
      '/config/streams/Upper',
      '/config/streams/Upper/history/size',
    ]);
  });

  it('the request around the draft', async () => {
    expectProblems(await sendDraft('[1]'), [
      {
        pointer: '',
        message: 'must be a JSON object: {"config": the draft, "base_version": "1.4.0" (optional)}',
      },
    ]);
    expectProblems(await sendDraft('{"base_version":"1.0.0"}'), [
      { pointer: '/config', message: 'is required' },
    ]);
    expectProblems(await sendDraft('{"config":{},"base":"1.0.0","base_version":5}'), [
      { pointer: '/base', message: 'is not a property of a diff request (config, base_version)' },
      { pointer: '/base_version', message: 'must be a version such as "1.4.0"' },
    ]);
    expectProblems(await sendDraft('{"config":"text"}'), [
      { pointer: '/config', message: 'must be a JSON object' },
    ]);
    expect((await sendDraft('{"config":{},"base_version":"9.9.9"}')).status).toBe(404);
  });

  it('400 for what is not JSON, as on every route', async () => {
    for (const body of [
      '{"config":',
      '',
      '\ufeff{"config":{',
      '{"config":{"vars":{"__proto__":{"x":1}}}}',
      '{"config":{"constructor":{"prototype":{}}}}',
    ]) {
      const res = await sendDraft(body);
      expect(res.status, body).toBe(400);
      expect(errorCode(res)).toBe(ErrorCode.malformedRequest);
    }
    const escaped = await sendDraft('{"config":{"vars":{"\\u005f_proto__":1}}}');
    expect(escaped.status).toBe(400);
    const bom = await sendDraft(`\ufeff${JSON.stringify({ config: exampleConfig() })}`);
    expect(bom.status).toBe(200);
    expect(bom.body.data.diff).toBe('');
  });

  it('413 past the configuration body limit, 415 for what is not JSON', async () => {
    const res = await sendDraft(`{"config":{"description":"${'x'.repeat(8_400_000)}"}}`);
    expect(res.status).toBe(413);
    const form = await editor.client.call('/api/v1/config/diff', { method: 'POST', form: { config: '{}' } });
    expect(form.status).toBe(415);
  });
});

describe('a select pointer of 8 MB', () => {
  const withPointer = (value: string) => {
    const config = exampleConfig();
    const streams = JSON.stringify(config.streams).slice(0, -1);
    delete config.streams;
    return `${JSON.stringify(config).slice(0, -1)},"streams":${streams},"crafted":{"endpoint":"pumps","interval":"1m","select":{"far":"${value}"}}}}`;
  };

  it('is checked like a short one: a draft is diffed, a malformed one refused at its pointer', async () => {
    const diffed = await sendDraft(`{"config":${withPointer('/a'.repeat(4_000_000))}}`);
    expect(diffed.status).toBe(200);
    expect(diffed.body.data.diff).toContain('+        "far": "/a/a/a');
    expectProblems(await sendDraft(`{"config":${withPointer(`${'/a'.repeat(4_000_000)}~`)}}`), [
      {
        pointer: '/config/streams/crafted/select/far',
        message: 'must be a JSON pointer such as "/main/temp"',
      },
    ]);
  });

  it('is saved, not a 500', async () => {
    const res = await admin.client.call('/api/v1/config', {
      method: 'POST',
      body: `{"activate":false,"config":${withPointer('/a'.repeat(4_000_000))}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(201);
    expect(res.body.data.active).toBe(false);
  });
});

describe('saves', () => {
  const withChain = (last: string) => {
    const config = exampleConfig();
    // 13,000 references each (65,000 characters, as long as a value may be): 169 million at the end.
    config.vars.w1 = '${w2}'.repeat(13_000);
    config.vars.w2 = '${w3}'.repeat(13_000);
    config.vars.w3 = last;
    config.endpoints.pumps.headers['X-Wide'] = '${w1}';
    return config;
  };

  it('a chain of references thousands wide is checked in one pass of each variable', async () => {
    const res = await admin.client.call('/api/v1/config', {
      method: 'POST',
      json: { activate: false, config: withChain('') },
    });
    expect(res.status).toBe(201);
  });

  it('a chain that multiplies to terabytes is saved, and its activation refused with the reason', async () => {
    const res = await admin.client.call('/api/v1/config', {
      method: 'POST',
      json: { activate: true, config: withChain('x'.repeat(65_536)) },
    });
    expect(res.status).toBe(201);
    expect(res.body.data.active).toBe(false);
    expect(res.body.data.activation_error).toContain(TOO_LONG_EXPANDED);
  });

  it('meet the same limits: a document nested too deeply is a 422, not a 500', async () => {
    const levels = 100_000;
    const body = endpointWithBody(`${'['.repeat(levels)}${']'.repeat(levels)}`);
    const res = await admin.client.call('/api/v1/config', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expectProblems(res, [
      { pointer: `/endpoints/crafted/body${'/0'.repeat(MAX_DEPTH - 2)}`, message: TOO_DEEP },
    ]);
  });
});

function countValues(root: unknown): number {
  let count = 0;
  const stack = [root];
  for (let value = stack.pop(); value !== undefined; value = stack.pop()) {
    count += 1;
    if (value !== null && typeof value === 'object') stack.push(...Object.values(value));
  }
  return count;
}

describe('how many diffs one user may ask for', () => {
  it('limits diffs per user in rate (config.diff), drafts and saved versions alike (429 code 5001)', async () => {
    const own = await startTestApp({ env: { ...exampleEnv(), SWITCHBOARD_RATE_LIMITS: 'config.diff=2/1m' } });
    try {
      const owner = await own.signIn(await own.createUser({ role: 'admin' }));
      expect(
        (await owner.client.call('/api/v1/config', { method: 'POST', json: exampleConfig() })).status,
      ).toBe(201);
      const draft = () =>
        owner.client.call('/api/v1/config/diff', { method: 'POST', json: { config: exampleConfig() } });
      const first = await draft();
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      expect((await owner.client.call('/api/v1/config/diff?from=1.0.0&to=1.0.0')).status).toBe(200);
      const refused = await draft();
      expect(refused.status).toBe(429);
      expect(errorCode(refused)).toBe(ErrorCode.operationRateLimited);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // Another user's budget is their own.
      const other = await own.signIn(await own.createUser({ role: 'editor' }));
      expect((await other.client.call('/api/v1/config/diff?from=1.0.0&to=1.0.0')).status).toBe(200);
    } finally {
      await own.close();
    }
  });
});
