import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engine } from '../fixture.js';
import { Contract } from './contract.js';
import { fuzzRequests, fuzzSeed, replayHint, unexpectedErrorLogs } from './run.js';
import { arbitraryOf, type JsonSchema, jsonText, mutate, mutationArbitrary } from './schema-arbitrary.js';
import { World } from './world.js';

/**
 * Configuration documents drawn from the configuration's JSON Schema (GET /config/schema), valid and broken,
 * through diff, save and activate (docs/endpoint-configuration.md). A valid one diffs and saves, then
 * activates or is refused with a 422 that says why (a rule beyond the schema); a broken one is a 422 with
 * its problems at their pointers. Never a 5xx, and never a version saved by a refused request. Hundreds, not
 * thousands: each activation builds the version and starts its producers.
 */

const REQUESTS = fuzzRequests();
const SEED = fuzzSeed();
const PROTOTYPE_KEY = /"(__proto__|constructor)"\s*:/;
const DOCUMENTS = Math.min(1000, Math.max(120, Math.round(REQUESTS / 50)));

/**
 * Most drawn documents made to hang together the way the schema cannot say: sources named by streams
 * declared, the functions module present, URLs on an allowed host, intervals of at least a second. The rest
 * are left as drawn, and the rules beyond the schema refuse most of them.
 */
function coherent(doc: Record<string, any>, pick: number): Record<string, any> {
  const out = structuredClone(doc);
  const endpoints = Object.keys(out.endpoints ?? {});
  for (const [name, endpoint] of Object.entries<any>(out.endpoints ?? {})) {
    endpoint.url = pick % 2 ? `http://127.0.0.1:9/${name}` : `https://api.example.com/${name}`;
    if (endpoint.timeout !== undefined) endpoint.timeout = '2s';
    if (endpoint.method === 'GET') delete endpoint.body;
    for (const key of Object.keys(endpoint.headers ?? {})) {
      if (
        !/^[A-Za-z][A-Za-z0-9-]*$/.test(key) ||
        /^(host|connection|keep-alive|te|trailer|upgrade|expect|content-length|transfer-encoding|proxy-connection)$/i.test(
          key,
        )
      ) {
        delete endpoint.headers[key];
      }
    }
    for (const [key, value] of Object.entries<string>(endpoint.headers ?? {})) {
      endpoint.headers[key] = value.replace(/[^\x20-\x7e]/g, '').replaceAll('$', '');
    }
    for (const [key, value] of Object.entries<string>(endpoint.query ?? {})) {
      endpoint.query[key] = value.replaceAll('$', '');
    }
  }
  const functions = Object.keys(out.functions ?? {});
  for (const fn of Object.values<any>(out.functions ?? {})) {
    fn.module = 'echo.mjs';
    delete fn.export;
    fn.timeout = '2s';
    fn.memory_mb = 64;
  }
  if (out.vars) {
    for (const [name, value] of Object.entries<any>(out.vars)) {
      if (typeof value === 'string') out.vars[name] = value.replaceAll('$', '');
      else if (value && typeof value === 'object' && typeof value.value === 'string') {
        value.value = value.value.replaceAll('$', '');
        if (value.value.length < 6) value.secret = false;
      }
    }
  }
  // One in five reads a variable the server's environment lacks: it saves, and its activation is refused.
  if (pick % 5 === 0)
    out.vars = { ...out.vars, fuzz_missing: `\${env:SWITCHBOARD_VAR_FUZZ_MISSING_${pick}}` };
  for (const [name, stream] of Object.entries<any>(out.streams ?? {})) {
    delete stream.endpoint;
    delete stream.function;
    if (functions.length > 0 && (pick % 3 !== 0 || endpoints.length === 0)) {
      stream.function = functions[pick % functions.length];
    } else if (endpoints.length > 0) {
      stream.endpoint = endpoints[pick % endpoints.length];
    } else {
      out.functions = { ...out.functions, echo: { module: 'echo.mjs' } };
      stream.function = 'echo';
    }
    stream.interval = '1h';
    if (stream.history?.max_age !== undefined) stream.history.max_age = '10m';
    if (name.startsWith('user:') || name === 'config') delete out.streams[name];
  }
  return out;
}

/** A document as canonical text, the values of secret variables left out (answers mask them). */
function comparable(doc: unknown): string {
  const sorted = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sorted);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sorted((value as Record<string, unknown>)[key])]),
    );
  };
  const copy = structuredClone(doc) as Record<string, any>;
  for (const variable of Object.values<any>(copy?.vars ?? {})) {
    if (variable && typeof variable === 'object' && variable.secret === true) delete variable.value;
  }
  return JSON.stringify(sorted(copy));
}

let world: World;
const contract = new Contract();

describe(`fuzzing configuration documents through diff, save and activate (${engine})`, () => {
  let schema: JsonSchema;
  beforeAll(async () => {
    world = await World.start();
    schema = (await world.call('GET', '/api/v1/config/schema')).body.data;
  }, 120_000);
  afterAll(async () => {
    await world?.close();
  });

  beforeAll(() => {
    console.log(`fuzz: seed ${SEED} (SWITCHBOARD_FUZZ_SEED=${SEED} replays this file)`);
  });

  it(`${DOCUMENTS} documents from the configuration's JSON Schema`, async () => {
    const plan = fc.record({
      doc: arbitraryOf(schema) as fc.Arbitrary<Record<string, any>>,
      shape: fc.constantFrom('coherent', 'coherent', 'coherent', 'as drawn', 'broken', 'broken'),
      breakage: mutationArbitrary,
      pick: fc.nat(),
      activate: fc.boolean(),
    });
    const plans = fc.sample(plan, { seed: SEED + 2, numRuns: DOCUMENTS });
    const failures: string[] = [];
    const outcomes = new Map<string, number>();
    const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
    const started = performance.now();
    for (const [index, p] of plans.entries()) {
      let doc: unknown = p.doc;
      let how: string = p.shape;
      if (p.shape === 'coherent') doc = coherent(p.doc, p.pick);
      if (p.shape === 'broken') {
        const broken = mutate(schema, coherent(p.doc, p.pick), p.breakage, 9 * 1024 * 1024);
        doc = broken.value;
        how = `broken: ${broken.how}`;
      }
      const fail = (what: string) =>
        failures.push(`doc #${index} (${how}): ${what}\n    ${jsonText(doc).slice(0, 400)}`);
      // A problem document, or a 2xx; anything else is a failure.
      const judge = (res: { status: number; headers: any; text: string }, what: string) => {
        if (res.status >= 500) fail(`${what}: a ${res.status}: ${res.text.slice(0, 300)}`);
        else if (res.status >= 400) for (const v of contract.checkProblem(res)) fail(`${what}: ${v}`);
      };
      const pointersUnder = (res: { body: any }, prefix: string) =>
        (res.body?.error_detail?.errors ?? []).every((e: { pointer: string }) =>
          e.pointer.startsWith(prefix),
        );
      const before = (await world.t.app.endpoints.service.list()).versions.length;
      await world.heal();

      const body = `{"config":${jsonText(doc)}}`;
      const diff = await world.raw('POST', '/api/v1/config/diff', body);
      judge(diff, 'diff');
      const save = await world.raw('POST', '/api/v1/config', body.replace(/}$/, `,"activate":false}`));
      judge(save, 'save');
      const after = (await world.t.app.endpoints.service.list()).versions.length;
      count(`diff ${diff.status}, save ${save.status}`);
      if (save.status === 201 && after !== before + 1)
        fail(`saved, but versions went from ${before} to ${after}`);
      if (save.status !== 201 && after !== before)
        fail(`refused (${save.status}), but versions went from ${before} to ${after}`);
      if (save.status === 413 || diff.status === 413) continue;
      // JSON parsers refuse these keys (prototype poisoning), the diff route as the others (document-limits.ts).
      if (PROTOTYPE_KEY.test(body) && (save.status === 400 || diff.status === 400)) {
        if (diff.status !== save.status) fail(`a "__proto__" key: diff ${diff.status}, save ${save.status}`);
        count('refused for a "__proto__" or "constructor" key');
        continue;
      }
      if (p.shape === 'broken') {
        // A document the schema refuses: a 422 naming its problems under /config, from both routes.
        if (diff.status === 200 && save.status === 201)
          count('broken, yet valid (the mutation kept it valid)');
        // A save checks all a diff checks, and more: what a diff refuses, a save must refuse too.
        if (diff.status === 422 && save.status === 201)
          fail(`the diff refused it (422), the save took it: ${diff.text.slice(0, 400)}`);
        for (const [res, name] of [
          [diff, 'diff'],
          [save, 'save'],
        ] as const) {
          if (
            res.status === 422 &&
            (!(res.body?.error_detail?.errors?.length > 0) || !pointersUnder(res, '/config'))
          ) {
            fail(`${name}: a 422 without problems under /config: ${res.text.slice(0, 300)}`);
          }
        }
        continue;
      }
      if (diff.status !== 200)
        fail(`a document valid by the schema does not diff: ${diff.status} ${diff.text.slice(0, 300)}`);
      if (save.status !== 201 && save.status !== 422)
        fail(`save answered ${save.status}: ${save.text.slice(0, 300)}`);
      if (save.status === 422 && !pointersUnder(save, '/config'))
        fail(`a 422 with pointers outside /config: ${save.text.slice(0, 300)}`);
      if (save.status !== 201) continue;
      const version = save.body.data.version as string;
      const compared = await world.call('GET', `/api/v1/config/diff?to=${encodeURIComponent(version)}`);
      judge(compared, 'diff of versions');
      if (compared.status !== 200) fail(`GET /config/diff?to=${version}: ${compared.status}`);
      const read = await world.call('GET', `/api/v1/config?version=${encodeURIComponent(version)}`);
      if (read.status !== 200)
        fail(`GET /config?version=${version}: ${read.status} ${read.text.slice(0, 200)}`);
      // Saved as sent: nothing dropped or changed on the way in (secret values aside, which come back masked).
      else if (comparable(read.body.data.config) !== comparable(JSON.parse(jsonText(doc)))) {
        fail(`saved as ${JSON.stringify(read.body.data.config).slice(0, 400)}`);
      }
      if (!p.activate) continue;
      const activeBefore = (await world.t.app.endpoints.service.list()).state.activeVersion;
      const activated = await world.raw(
        'POST',
        `/api/v1/config/versions/${encodeURIComponent(version)}/activate`,
        '{}',
      );
      judge(activated, 'activate');
      count(`activate ${activated.status}`);
      const state = (await world.t.app.endpoints.service.list()).state;
      if (activated.status === 200 && state.activeVersion !== version) {
        fail(`activated, but the active version is ${state.activeVersion}`);
      } else if (activated.status === 422 && (state.activeVersion !== activeBefore || !state.recovery)) {
        fail(
          `activation refused, yet active ${state.activeVersion} (was ${activeBefore}), recovery ${state.recovery}`,
        );
      } else if (activated.status !== 200 && activated.status !== 422) {
        fail(`activate answered ${activated.status}: ${activated.text.slice(0, 300)}`);
      }
      if (index % 10 === 9) await world.restoreConfig();
    }
    await world.restoreConfig();
    console.log(
      `fuzz: ${DOCUMENTS} configuration documents in ${((performance.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(Object.fromEntries(outcomes))}`,
    );
    const errorLogs = unexpectedErrorLogs(world.t.logs);
    expect(failures.slice(0, 30).join('\n'), replayHint(SEED, REQUESTS)).toBe('');
    expect(errorLogs, 'the server logged errors').toEqual([]);
  });
});
