import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EndpointConfig } from '../../src/endpoints/schema.js';
import {
  type ConfigProblem,
  modulePath,
  ruleProblems,
  schemaProblems,
  urlProblem,
  type ValidationContext,
  validateConfig,
} from '../../src/endpoints/validate.js';

const example = JSON.parse(readFileSync(join(process.cwd(), 'docs', 'examples', 'endpoints.json'), 'utf8'));
const context: ValidationContext = {
  allowedHosts: ['api.example.com', '*.example.com'],
  functionsDir: '/srv/switchboard/functions',
};

const byPointer = (problems: ConfigProblem[]) => {
  const map = new Map<string, string[]>();
  for (const { pointer, message } of problems) map.set(pointer, [...(map.get(pointer) ?? []), message]);
  return map;
};
const rules = (config: EndpointConfig, ctx: ValidationContext = context) =>
  byPointer(ruleProblems(config, ctx));
/** A minimal endpoint and stream, so a test can add only what it is about. */
const withEndpoint = (endpoint: Record<string, unknown>, vars?: Record<string, unknown>): EndpointConfig =>
  ({
    ...(vars && { vars }),
    endpoints: { api: { url: 'https://api.example.com/v1', ...endpoint } },
    streams: { s: { endpoint: 'api', interval: '1m' } },
  }) as EndpointConfig;

describe('schemaProblems', () => {
  it('finds nothing wrong with the example document', () => {
    expect(schemaProblems(example)).toEqual([]);
    expect(schemaProblems({})).toEqual([]);
  });

  it('reports every problem at once, each at its JSON pointer, in words', () => {
    const problems = schemaProblems({
      description: 5,
      surprise: {},
      vars: { ok: { value: 1, secret: 'yes' }, list: [1] },
      endpoints: {
        api: { url: '', method: 'FETCH', timeout: '5 seconds', retries: 99, extra: true, headers: { a: 1 } },
        other: { url: 'https://api.example.com', retries: 1.5 },
      },
      functions: { f: { module: 'x.js', export: '1st', memory_mb: 8 }, g: {} },
      streams: {
        fine: { endpoint: 'api' },
        hist: { endpoint: 'api', interval: '1m', history: { size: 0 }, select: { x: 'no-slash' } },
        acc: { endpoint: 'api', interval: '1m', access: { min_role: 'owner', groups: { one_of: 'ops' } } },
      },
    });
    expect(Object.fromEntries([...byPointer(problems)].map(([p, m]) => [p, m.join(' | ')]))).toEqual({
      '/description': 'must be a string',
      '/surprise': 'is not a property this object may have',
      '/vars/ok': 'must be a string, number or boolean, or {"value": …, "secret": true|false}',
      '/vars/list': 'must be a string, number or boolean, or {"value": …, "secret": true|false}',
      '/endpoints/api/url': 'must not be empty',
      '/endpoints/api/method': 'must be one of GET, POST, PUT, PATCH, DELETE',
      '/endpoints/api/timeout': 'must be a duration such as "500ms", "30s" or "5m"',
      '/endpoints/api/retries': 'must be at most 10',
      '/endpoints/api/extra': 'is not a property this object may have',
      '/endpoints/api/headers/a': 'must be a string',
      '/endpoints/other/retries': 'must be an integer',
      '/functions/f/export': 'must be a JavaScript identifier',
      '/functions/f/memory_mb': 'must be at least 16',
      '/functions/g/module': 'is required',
      '/streams/fine/interval': 'is required',
      '/streams/hist/history/size': 'must be at least 1',
      '/streams/hist/select/x': 'must be a JSON pointer such as "/main/temp"',
      '/streams/acc/access/min_role': 'must be viewer, editor or admin',
      '/streams/acc/access/groups/one_of': 'must be an array',
    });
  });

  it('says each problem once', () => {
    const problems = schemaProblems({ functions: { g: {} }, streams: { s: {} } });
    expect(problems).toEqual([
      { pointer: '/functions/g/module', message: 'is required' },
      { pointer: '/streams/s/interval', message: 'is required' },
    ]);
  });

  it('reports a document that is not an object at the root', () => {
    for (const value of [null, 5, 'text', [], true]) {
      expect(schemaProblems(value)).toEqual([{ pointer: '', message: 'must be an object' }]);
    }
  });

  it.each([
    ['vars', 1, /^is not a variable name: it must start with a letter or _/],
    ['endpoints', { url: 'https://api.example.com' }, /^is not an endpoint name/],
    ['functions', { module: 'x.js' }, /^is not a function name/],
    ['streams', { endpoint: 'a', interval: '1m' }, /^is not a channel name: a lowercase letter/],
  ])('gives every bad key in %s the section message, all at once', (section, value, message) => {
    const keys =
      section === 'streams' ? ['Upper', '9lives', 'a/b', 'ok'] : ['1st', 'has space', 'a/b~c', 'ok'];
    const problems = schemaProblems({ [section]: Object.fromEntries(keys.map((k) => [k, value])) });
    const found = byPointer(problems);
    const bad = keys.slice(0, 3).map((k) => `/${section}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`);
    expect([...found.keys()].sort()).toEqual([...bad].sort());
    for (const pointer of bad) expect(found.get(pointer)?.join()).toMatch(message);
  });

  it('refuses names longer than 64 characters', () => {
    const long = `a${'b'.repeat(64)}`;
    expect(byPointer(schemaProblems({ vars: { [long]: 1 } })).get(`/vars/${long}`)?.[0]).toMatch(
      /not a variable name/,
    );
    expect(schemaProblems({ vars: { [long.slice(1)]: 1 } })).toEqual([]);
  });
});

describe('ruleProblems', () => {
  it('finds nothing wrong with the example document on a server that allows its hosts', () => {
    const problems = ruleProblems(example, {
      allowedHosts: ['api.open-meteo.com', '*.example.com'],
      functionsDir: '/anywhere',
    });
    expect(problems).toEqual([]);
  });

  describe('references', () => {
    it('reports an undeclared variable wherever a template may be', () => {
      const found = rules(
        withEndpoint(
          {
            url: 'https://api.example.com/${path}',
            headers: { 'X-Key': '${key}' },
            query: { q: '${query}' },
            body: { nested: ['ok', { deep: '${body_var}' }], 'a/b': '${slash}' },
            method: 'POST',
          },
          { chain: '${missing}', obj: { value: 'x${missing2}' } },
        ),
      );
      expect(found.get('/endpoints/api/url')).toEqual(['${path} is not a declared variable']);
      expect(found.get('/endpoints/api/headers/X-Key')).toEqual(['${key} is not a declared variable']);
      expect(found.get('/endpoints/api/query/q')).toEqual(['${query} is not a declared variable']);
      expect(found.get('/endpoints/api/body/nested/1/deep')).toEqual([
        '${body_var} is not a declared variable',
      ]);
      expect(found.get('/endpoints/api/body/a~1b')).toEqual(['${slash} is not a declared variable']);
      expect(found.get('/vars/chain')).toEqual(['${missing} is not a declared variable']);
      expect(found.get('/vars/obj/value')).toEqual(['${missing2} is not a declared variable']);
    });

    it('does not take Object.prototype members for declared variables, endpoints or functions', () => {
      const found = rules({
        vars: { a: '${constructor}' },
        endpoints: { api: { url: 'https://api.example.com/${toString}' } },
        streams: {
          s: { endpoint: 'toString', interval: '1m' },
          t: { function: 'hasOwnProperty', interval: '1m' },
        },
      });
      expect(found.get('/vars/a')).toEqual(['${constructor} is not a declared variable']);
      expect(found.get('/endpoints/api/url')).toEqual(['${toString} is not a declared variable']);
      expect(found.get('/streams/s/endpoint')).toEqual(['no endpoint "toString" is declared']);
      expect(found.get('/streams/t/function')).toEqual(['no function "hasOwnProperty" is declared']);
    });

    it('refuses environment variables outside SWITCHBOARD_VAR_ and malformed references', () => {
      const found = rules(
        withEndpoint(
          { headers: { Authorization: 'Bearer ${env:SWITCHBOARD_JWT_SECRET}', 'X-Open': '${oops' } },
          { home: '${env:HOME}', bad: '${not a name}' },
        ),
      );
      expect(found.get('/endpoints/api/headers/Authorization')?.join()).toMatch(
        /only environment variables named SWITCHBOARD_VAR_/,
      );
      expect(found.get('/endpoints/api/headers/X-Open')?.join()).toMatch(/\$\{ is not closed/);
      expect(found.get('/vars/home')?.join()).toMatch(/SWITCHBOARD_VAR_/);
      expect(found.get('/vars/bad')?.join()).toMatch(/is not a reference/);
    });

    it('accepts SWITCHBOARD_VAR_ environment variables and $${ escapes', () => {
      const found = rules(
        withEndpoint(
          { headers: { Authorization: 'Bearer ${token}', 'X-Template': '$${not_a_var}' } },
          { token: { value: '${env:SWITCHBOARD_VAR_TOKEN}', secret: true } },
        ),
      );
      expect(found.size).toBe(0);
    });

    it('reports each cycle once, with its path, at the variable that closes it', () => {
      const problems = ruleProblems(
        { vars: { a: '${b}', b: 'x-${c}', c: '${a}', self: '${self}', ok: '${a}' } },
        context,
      );
      expect(problems).toEqual([
        { pointer: '/vars/a', message: 'refers to itself: a → b → c → a' },
        { pointer: '/vars/self', message: 'refers to itself: self → self' },
      ]);
    });
  });

  describe('headers', () => {
    it('refuses header names that HTTP does not allow', () => {
      for (const name of ['', 'Bad Header', 'X-Ünïcode', 'a:b', 'X\r\nInjected']) {
        const found = rules(withEndpoint({ headers: { [name]: 'v' } }));
        expect(found.get(`/endpoints/api/headers/${name}`)).toEqual(['is not a valid header name']);
      }
      expect(rules(withEndpoint({ headers: { "X-Ok_1!#$%&'*+.^`|~": 'v' } })).size).toBe(0);
    });

    it('refuses line breaks and NUL in values, also when they come from a variable', () => {
      for (const value of ['a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'a\u0000b']) {
        expect(rules(withEndpoint({ headers: { 'X-A': value } })).get('/endpoints/api/headers/X-A')).toEqual([
          'must not contain line breaks',
        ]);
      }
      const fromVar = rules(
        withEndpoint({ headers: { 'X-A': 'Bearer ${two}' } }, { two: '${one}', one: 'x\r\ny' }),
      );
      expect(fromVar.get('/endpoints/api/headers/X-A')).toEqual(['must not contain line breaks']);
      const fromEnv = rules(
        withEndpoint({ headers: { 'X-A': 'Bearer ${env:SWITCHBOARD_VAR_T}' } }, { one: 'x' }),
      );
      expect(fromEnv.size).toBe(0);
    });
  });

  describe('timeouts', () => {
    it.each([
      ['99ms', false],
      ['100ms', true],
      ['5m', true],
      ['300001ms', false],
      ['1h', false],
      ['0s', false],
    ])('endpoint timeout %s allowed: %s', (timeout, ok) => {
      const found = rules(withEndpoint({ timeout }));
      expect(found.get('/endpoints/api/timeout')).toEqual(ok ? undefined : ['must be between 100ms and 5m']);
    });

    it.each([
      ['9ms', false],
      ['10ms', true],
      ['10m', true],
      ['600001ms', false],
      ['1d', false],
    ])('function timeout %s allowed: %s', (timeout, ok) => {
      const found = rules({ functions: { f: { module: 'f.mjs', timeout } } });
      expect(found.get('/functions/f/timeout')).toEqual(ok ? undefined : ['must be between 10ms and 10m']);
    });
  });

  describe('URLs', () => {
    it('checks the URL once variables are substituted', () => {
      const found = rules(
        withEndpoint({ url: '${base}/pumps' }, { base: '${scheme}://internal.corp', scheme: 'http' }),
      );
      expect(found.get('/endpoints/api/url')?.join()).toMatch(
        /reaches internal\.corp, which is not in SWITCHBOARD_ENDPOINT_HOSTS/,
      );
      expect(rules(withEndpoint({ url: '${base}/pumps' }, { base: 'https://x.example.com' })).size).toBe(0);
    });

    it('allows ports 80 and 443 only for an entry without a port, and says how to allow another', () => {
      expect(rules(withEndpoint({ url: 'http://x.example.com:80/' })).size).toBe(0);
      expect(rules(withEndpoint({ url: 'https://x.example.com:8443/v1' })).get('/endpoints/api/url')).toEqual(
        [
          'reaches x.example.com:8443, which is not in SWITCHBOARD_ENDPOINT_HOSTS (api.example.com, *.example.com): ' +
            'an entry without a port allows ports 80 and 443 only; add x.example.com:8443 to allow this one',
        ],
      );
      const withPort = { ...context, allowedHosts: ['*.example.com:8443'] };
      expect(rules(withEndpoint({ url: 'https://x.example.com:8443/v1' }), withPort).size).toBe(0);
    });

    it('names the url as written, never the secret, when the host comes from a secret variable', () => {
      const secretHost = 'hidden-q7zx.internal.corp';
      const found = rules(
        withEndpoint(
          { url: 'https://${host}/v1' },
          { host: { value: secretHost, secret: true }, copy: '${host}' },
        ),
      );
      const [message] = found.get('/endpoints/api/url') ?? [];
      expect(message).toBe(
        'reaches a host that comes from a secret (https://${host}/v1) and is not in SWITCHBOARD_ENDPOINT_HOSTS (api.example.com, *.example.com)',
      );
      // Through another variable too: one built from a secret is secret.
      const copied = rules(
        withEndpoint(
          { url: 'https://${copy}:8443/v1' },
          { host: { value: secretHost, secret: true }, copy: '${host}' },
        ),
      );
      expect(copied.get('/endpoints/api/url')?.join()).toContain('https://${copy}:8443/v1');
      expect(JSON.stringify([...found, ...copied])).not.toContain(secretHost);
      const result = validateConfig(
        withEndpoint({ url: 'https://${host}/v1' }, { host: { value: secretHost, secret: true } }),
        context,
      );
      expect(JSON.stringify(result)).not.toContain(secretHost);
    });

    it('refuses other schemes, credentials and hosts outside the allow-list', () => {
      expect(rules(withEndpoint({ url: 'ftp://api.example.com/f' })).get('/endpoints/api/url')).toEqual([
        'must be an http or https URL',
      ]);
      expect(
        rules(withEndpoint({ url: 'https://user:pw@api.example.com/' }))
          .get('/endpoints/api/url')
          ?.join(),
      ).toMatch(/must not carry credentials/);
      expect(
        rules(withEndpoint({ url: 'http://169.254.169.254/latest' }))
          .get('/endpoints/api/url')
          ?.join(),
      ).toMatch(
        /169\.254\.169\.254, which is not in SWITCHBOARD_ENDPOINT_HOSTS \(api\.example\.com, \*\.example\.com\)/,
      );
      expect(rules(withEndpoint({ url: 'not a url' })).get('/endpoints/api/url')).toEqual([
        'is not an absolute URL',
      ]);
    });

    it('defers a host that comes from the environment to activation', () => {
      for (const url of [
        'https://${env:SWITCHBOARD_VAR_HOST}/v1',
        '${env:SWITCHBOARD_VAR_URL}',
        '${base}/x',
        'https://${env:SWITCHBOARD_VAR_SUB}.internal.corp/v1',
      ]) {
        const found = rules(withEndpoint({ url }, { base: 'https://${env:SWITCHBOARD_VAR_HOST}' }));
        expect(found.get('/endpoints/api/url')).toBeUndefined();
      }
    });

    it('still checks the host when only the path or query comes from the environment', () => {
      const found = rules(
        withEndpoint({ url: 'https://internal.corp/${env:SWITCHBOARD_VAR_PATH}?k=${env:SWITCHBOARD_VAR_K}' }),
      );
      expect(found.get('/endpoints/api/url')?.join()).toMatch(/reaches internal\.corp/);
    });

    it.each([
      'Host',
      'host',
      'HOST',
      'Connection',
      'Keep-Alive',
      'Proxy-Connection',
      'Transfer-Encoding',
      'TE',
      'Trailer',
      'Upgrade',
      'Content-Length',
      'Expect',
    ])('refuses the %s header, which would steer the request or its connection', (header) => {
      const found = rules(withEndpoint({ headers: { [header]: 'metadata.internal', 'X-Fine': 'yes' } }));
      expect([...found.keys()]).toEqual([`/endpoints/api/headers/${header}`]);
      expect(found.get(`/endpoints/api/headers/${header}`)?.join()).toMatch(/may not be set/);
    });

    it('says so when the allow-list is empty', () => {
      const found = rules(withEndpoint({}), { ...context, allowedHosts: [] });
      expect(found.get('/endpoints/api/url')?.join()).toMatch(
        /SWITCHBOARD_ENDPOINT_HOSTS allows no host; add it there/,
      );
    });
  });

  describe('function modules', () => {
    it.each([
      ['/etc/passwd.js', /relative to SWITCHBOARD_FUNCTIONS_DIR/],
      ['C:/tools/x.js', /relative to SWITCHBOARD_FUNCTIONS_DIR/],
      ['../outside.js', /must stay inside SWITCHBOARD_FUNCTIONS_DIR/],
      ['sub/../../outside.js', /must stay inside SWITCHBOARD_FUNCTIONS_DIR/],
      ['.', /must stay inside/],
      ['tool.py', /must be a \.js, \.mjs or \.cjs file/],
      ['tool.mjs.bak', /\.js, \.mjs or \.cjs/],
      ['dir/', /\.js, \.mjs or \.cjs/],
    ])('refuses %s', (module, message) => {
      expect(
        rules({ functions: { f: { module } } })
          .get('/functions/f/module')
          ?.join(),
      ).toMatch(message);
    });

    it.each(['tool.js', 'tool.mjs', 'tool.cjs', 'nested/dir/tool.mjs', 'sub/../tool.js', './tool.js'])(
      'accepts %s',
      (module) => {
        expect(rules({ functions: { f: { module } } }).size).toBe(0);
      },
    );
  });

  describe('streams', () => {
    const sources: EndpointConfig = {
      endpoints: { api: { url: 'https://api.example.com/' } },
      functions: { fn: { module: 'fn.mjs' } },
    };
    const stream = (streams: NonNullable<EndpointConfig['streams']>) => rules({ ...sources, streams });

    it('needs exactly one source, which must be declared', () => {
      const found = stream({
        both: { endpoint: 'api', function: 'fn', interval: '1m' },
        neither: { interval: '1m' },
        no_endpoint: { endpoint: 'nope', interval: '1m' },
        no_function: { function: 'nope', interval: '1m' },
        by_endpoint: { endpoint: 'api', interval: '1m' },
        by_function: { function: 'fn', interval: '1m' },
      });
      expect(Object.fromEntries(found)).toEqual({
        '/streams/both': ['must name exactly one source: "endpoint" or "function"'],
        '/streams/neither': ['must name exactly one source: "endpoint" or "function"'],
        '/streams/no_endpoint/endpoint': ['no endpoint "nope" is declared'],
        '/streams/no_function/function': ['no function "nope" is declared'],
      });
    });

    it('reads its source at most once a second and keeps history at least a second', () => {
      const found = stream({
        fast: { endpoint: 'api', interval: '999ms' },
        edge: { endpoint: 'api', interval: '1000ms', history: { max_age: '1s' } },
        young: { endpoint: 'api', interval: '1s', history: { max_age: '500ms' } },
      });
      expect(Object.fromEntries(found)).toEqual({
        '/streams/fast/interval': ['must be at least 1s'],
        '/streams/young/history/max_age': ['must be at least 1s'],
      });
    });

    it('refuses the built-in config channel', () => {
      expect(stream({ config: { endpoint: 'api', interval: '1m' } }).get('/streams/config')).toEqual([
        '"config" is a built-in channel',
      ]);
    });
  });
});

describe('modulePath', () => {
  it('gives the absolute path inside the directory', () => {
    expect(modulePath('/srv/fns', 'a/b.mjs')).toEqual({ path: resolve('/srv/fns/a/b.mjs') });
    expect(modulePath('relative/fns', 'x.js')).toEqual({ path: resolve('relative/fns/x.js') });
  });

  it('refuses what would lead outside or is no module', () => {
    expect(modulePath('/srv/fns', '/srv/fns/x.js')).toEqual({
      problem: 'must be a path relative to SWITCHBOARD_FUNCTIONS_DIR',
    });
    expect(modulePath('/srv/fns', '../fns2/x.js')).toEqual({
      problem: 'must stay inside SWITCHBOARD_FUNCTIONS_DIR',
    });
    expect(modulePath('/srv/fns', '..')).toEqual({ problem: 'must stay inside SWITCHBOARD_FUNCTIONS_DIR' });
    expect(modulePath('/srv/fns', 'x.ts')).toEqual({ problem: 'must be a .js, .mjs or .cjs file' });
  });

  it('allows a file whose name starts with two dots', () => {
    expect(modulePath('/srv/fns', '..hidden.js')).toEqual({ path: resolve('/srv/fns/..hidden.js') });
  });
});

describe('urlProblem', () => {
  const hosts = ['api.example.com', '10.0.0.5:8080'];

  it('accepts an http or https URL to an allowed host', () => {
    expect(urlProblem('https://api.example.com/v1?key=k', hosts)).toBeUndefined();
    expect(urlProblem('http://10.0.0.5:8080/', hosts)).toBeUndefined();
  });

  it('says what is wrong without repeating credentials or the query', () => {
    expect(urlProblem('relative/path', hosts)).toBe('is not an absolute URL');
    expect(urlProblem('file:///etc/passwd', hosts)).toBe('must be an http or https URL');
    expect(urlProblem('javascript:alert(1)', hosts)).toBe('must be an http or https URL');
    const credentials = urlProblem('https://admin:hunter2@api.example.com/', hosts) ?? '';
    expect(credentials).toMatch(/must not carry credentials/);
    expect(credentials).not.toContain('hunter2');
    const elsewhere = urlProblem('http://10.0.0.5:9090/?token=s3cr3t', hosts) ?? '';
    expect(elsewhere).toBe(
      'reaches 10.0.0.5:9090, which is not in SWITCHBOARD_ENDPOINT_HOSTS (api.example.com, 10.0.0.5:8080)',
    );
    expect(elsewhere).not.toContain('s3cr3t');
  });
});

describe('validateConfig', () => {
  it('accepts the example document with its hosts allowed, wherever the functions live', () => {
    fc.assert(
      fc.property(fc.constantFrom('/srv/functions', 'relative/dir', '.', '/'), (functionsDir) => {
        const result = validateConfig(example, {
          allowedHosts: ['api.open-meteo.com', '*.example.com'],
          functionsDir,
        });
        expect(result).toEqual({ ok: true, config: example });
      }),
      { numRuns: 4 },
    );
  });

  it('refuses the example document when a host is not allowed', () => {
    const result = validateConfig(example, { allowedHosts: ['*.example.com'], functionsDir: '/srv' });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems).toEqual([
        {
          pointer: '/endpoints/weather/url',
          message: 'reaches api.open-meteo.com, which is not in SWITCHBOARD_ENDPOINT_HOSTS (*.example.com)',
        },
      ]);
    }
  });

  it('holds no misshapen property against the rules: the schema reports it, once', () => {
    const result = validateConfig({ streams: { s: { endpoint: 5, interval: '1m' } } }, context);
    expect(result).toEqual({
      ok: false,
      problems: [{ pointer: '/streams/s/endpoint', message: 'must be a string' }],
    });
  });

  it('reports the schema and the rules in one answer: five mistakes of five kinds, one save', () => {
    const result = validateConfig(
      {
        vars: { region: ['eu'] },
        endpoints: {
          api: { url: 'https://api.example.com/${region}/${missing}', retries: 99 },
          internal: { url: 'http://10.0.0.7/pumps' },
        },
        functions: { roster: { module: 'roster.mjs' } },
        streams: {
          'Plant.Pumps': { endpoint: 'api', interval: '1m', history: { size: 0 } },
          'plant.roster': { function: 'rooster', interval: '1m' },
          'plant.temps': { endpoint: 'internal', interval: 'often' },
        },
      },
      context,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(Object.fromEntries(result.problems.map((p) => [p.pointer, p.message]))).toEqual({
      '/vars/region': 'must be a string, number or boolean, or {"value": …, "secret": true|false}',
      '/endpoints/api/retries': 'must be at most 10',
      '/streams/plant.temps/interval': 'must be a duration such as "500ms", "30s" or "5m"',
      '/streams/Plant.Pumps':
        'is not a channel name: a lowercase letter, then up to 63 of a-z 0-9 . _ - (config and user:… are reserved)',
      '/streams/Plant.Pumps/history/size': 'must be at least 1',
      // ${region} is declared, in a shape the schema refuses: only ${missing} is not declared.
      '/endpoints/api/url': '${missing} is not a declared variable',
      '/endpoints/internal/url':
        'reaches 10.0.0.7, which is not in SWITCHBOARD_ENDPOINT_HOSTS (api.example.com, *.example.com)',
      '/streams/plant.roster/function': 'no function "rooster" is declared',
    });
    expect(result.problems).toHaveLength(8);
  });

  it('judges no reference into a section that is no object, and says so once', () => {
    const result = validateConfig(
      { functions: ['roster.mjs'], streams: { roster: { function: 'roster', interval: '1m' } } },
      context,
    );
    expect(result).toEqual({
      ok: false,
      problems: [{ pointer: '/functions', message: 'must be an object' }],
    });
  });

  it('looks inside an entry whose name is refused only up to a length, so no answer grows past bounds', () => {
    const inside = (name: string) =>
      validateConfig({ streams: { [name]: { endpoint: 'nowhere', interval: 'soon' } } }, context);
    const short = inside('A');
    expect(short.ok || short.problems.map((p) => p.pointer)).toEqual([
      '/streams/A',
      '/streams/A/interval',
      '/streams/A/endpoint',
    ]);
    const long = inside(`A${'a'.repeat(300)}`);
    expect(long.ok || long.problems).toHaveLength(1);
  });

  it('never throws, whatever it is given, and refuses anything but an object with a reason', () => {
    const check = (input: unknown) => {
      const result = validateConfig(input, context);
      if (input === null || typeof input !== 'object' || Array.isArray(input)) {
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.problems.length).toBeGreaterThan(0);
      }
      if (!result.ok) {
        for (const problem of result.problems) {
          expect(typeof problem.pointer).toBe('string');
          expect(problem.message.length).toBeGreaterThan(0);
        }
      }
    };
    fc.assert(fc.property(fc.jsonValue(), check), { numRuns: 300 });
    fc.assert(fc.property(fc.anything(), check), { numRuns: 300 });
  });

  it('never throws for documents close to valid ones', () => {
    const section = <T>(value: fc.Arbitrary<T>) =>
      fc.dictionary(fc.constantFrom('a', 'b', 'toString', '__proto__', 'Bad', 'config'), value, {
        maxKeys: 3,
      });
    const text = fc.constantFrom(
      '${a}',
      '${env:SWITCHBOARD_VAR_X}',
      'https://api.example.com/${b}',
      '${',
      'x',
      '1s',
    );
    const document = fc.record(
      {
        vars: section(fc.oneof(text, fc.integer(), fc.record({ value: text, secret: fc.boolean() }))),
        endpoints: section(
          fc.record(
            { url: text, headers: fc.dictionary(fc.string(), text), timeout: text },
            { requiredKeys: ['url'] },
          ),
        ),
        functions: section(
          fc.record(
            { module: fc.constantFrom('x.js', '../x.js', '/x.js', 'x.py'), timeout: text },
            { requiredKeys: ['module'] },
          ),
        ),
        streams: section(
          fc.record(
            {
              endpoint: fc.constantFrom('a', 'b', 'toString'),
              function: fc.constantFrom('a', 'b'),
              interval: text,
            },
            { requiredKeys: ['interval'] },
          ),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(document, (doc) => {
        const result = validateConfig(doc, context);
        if (!result.ok) expect(result.problems.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });
});
