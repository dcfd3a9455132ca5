import { request } from 'undici';
import { VERSION } from '../../version.js';
import { combine, type Finding, fail, ok, type Problem, reason, skipped, warn } from './check.js';

/** Per request: a server that is there answers /healthz in milliseconds. */
export const HTTP_TIMEOUT_MS = 3000;
/** A proxy sending http to https, then to a canonical host, is two; more is a loop. */
const MOST_REDIRECTS = 5;

interface Answer {
  readonly status: number;
  /** Where the answer came from, after redirects. */
  readonly url: string;
  readonly hsts: boolean;
  readonly body: unknown;
}

/**
 * GET with redirects followed by hand, to know where the answer came from. undici's request rather than
 * fetch: fetch refuses the ports browsers block (6000, 10080, …), where a server may well listen.
 */
async function get(url: string): Promise<Answer> {
  const signal = AbortSignal.timeout(HTTP_TIMEOUT_MS);
  let current = url;
  try {
    for (let hops = 0; ; hops += 1) {
      const response = await request(current, { headers: { accept: 'application/json' }, signal });
      const location = response.headers.location;
      if (response.statusCode >= 300 && response.statusCode < 400 && typeof location === 'string') {
        await response.body.dump();
        if (hops === MOST_REDIRECTS) throw new Error(`more than ${MOST_REDIRECTS} redirects`);
        current = new URL(location, current).toString();
        continue;
      }
      const text = await response.body.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return {
        status: response.statusCode,
        url: current,
        hsts: response.headers['strict-transport-security'] !== undefined,
        body,
      };
    }
  } catch (error) {
    if (signal.aborted) throw new Error(`no answer within ${HTTP_TIMEOUT_MS} ms`);
    throw error;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** GET /healthz of Switchboard (src/platform/health.ts): `{status: "ok", version, uptime_seconds}`. */
function healthOf(answer: Answer): { version: string; uptimeSeconds: number } | undefined {
  const { body } = answer;
  if (answer.status !== 200 || !isObject(body) || body.status !== 'ok') return undefined;
  if (typeof body.version !== 'string' || typeof body.uptime_seconds !== 'number') return undefined;
  return { version: body.version, uptimeSeconds: body.uptime_seconds };
}

const uptime = (s: number) =>
  s < 120 ? `${s} s` : s < 7200 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h`;

/** A URL as SWITCHBOARD_PUBLIC_URL holds one: scheme, host, port (the default left out) and path. */
const normal = (url: string) => {
  const parsed = new URL(url);
  return parsed.origin + parsed.pathname.replace(/\/$/, '');
};

/**
 * Whether the URL that answered is the one the server considers its own. The server does not say its
 * public URL, but it shows whether it is HTTPS: Strict-Transport-Security is on all of its answers
 * exactly when its SWITCHBOARD_PUBLIC_URL is https (src/platform/security.ts).
 */
function publicUrlFinding(answered: string, hsts: boolean, publicUrl: string, requested: string): Finding {
  const problems: Problem[] = [];
  if (answered !== requested)
    problems.push({
      status: 'warn',
      finding: `${requested} redirects to ${answered}`,
      fix: `use ${answered} as the public URL (SWITCHBOARD_PUBLIC_URL, --url)`,
    });
  if (answered !== normal(publicUrl))
    problems.push({
      status: 'warn',
      finding:
        `the server answered at ${answered}, but SWITCHBOARD_PUBLIC_URL is ${publicUrl}: tokens name ` +
        `${publicUrl}, and cookie-authenticated writes from ${new URL(answered).origin} are refused`,
      fix: `set SWITCHBOARD_PUBLIC_URL=${answered} on the server and here, or pass the public URL to --url`,
    });
  if (answered.startsWith('https:') && !hsts)
    problems.push({
      status: 'warn',
      finding:
        `the server at ${answered} does not consider itself at HTTPS (no Strict-Transport-Security): ` +
        'its SWITCHBOARD_PUBLIC_URL is plain http, so its cookies go without Secure',
      fix: `set SWITCHBOARD_PUBLIC_URL=${answered} on the server`,
    });
  if (hsts && !publicUrl.startsWith('https:'))
    problems.push({
      status: 'warn',
      finding:
        `the server at ${answered} considers itself at HTTPS (Strict-Transport-Security), but ` +
        `SWITCHBOARD_PUBLIC_URL here is ${publicUrl}`,
      fix: "run switchboard doctor with the server's settings",
    });
  return (
    combine('public-url', problems) ??
    ok(
      'public-url',
      `the server answered at ${answered}, which is SWITCHBOARD_PUBLIC_URL` +
        (hsts ? ', and considers itself at HTTPS (Strict-Transport-Security)' : ''),
    )
  );
}

/** GET /readyz, when the server answers it: ready, ready without Redis (degraded), or not ready. */
async function readinessFinding(base: string): Promise<Finding> {
  let answer: Answer;
  try {
    answer = await get(`${base}/readyz`);
  } catch (error) {
    return skipped('readiness', `${base}/readyz did not answer: ${reason(error)}`);
  }
  const { body } = answer;
  const checks = isObject(body) && isObject(body.checks) ? body.checks : {};
  const states = Object.entries(checks)
    .map(([name, check]) => `${name} ${isObject(check) ? String(check.status) : '?'}`)
    .join(', ');
  if (answer.status === 503)
    return fail(
      'readiness',
      `the server is not ready (${states || 'no checks named'}): it cannot reach what it depends on`,
      'see the server\'s log ("readiness check failed" says why); the database it uses does not answer from there',
    );
  if (answer.status !== 200 || !isObject(body) || body.status !== 'ready')
    return skipped('readiness', `${base}/readyz answered HTTP ${answer.status}, not Switchboard's readiness`);
  const degraded = Array.isArray(body.degraded) ? body.degraded.map(String) : [];
  if (degraded.length > 0)
    return warn(
      'readiness',
      `ready but degraded (${states}): without ${degraded.join(', ')}, limits and live events stay in each instance`,
      `check that the server reaches ${degraded.join(', ')} (its log says why not)`,
    );
  return ok('readiness', `ready (${states})`);
}

/**
 * The server at `base`: it answers /healthz as Switchboard of this version (`server`), at its own public
 * URL (`public-url`), and is ready (`readiness`). No answer is a warning, not a failure: the command may
 * run where no server is meant to be (a build machine, a container before its start).
 */
export async function serverFindings(base: string, publicUrl: string): Promise<Finding[]> {
  const requested = normal(base);
  let answer: Answer;
  try {
    answer = await get(`${requested}/healthz`);
  } catch (error) {
    const why = 'no server answered';
    return [
      warn(
        'server',
        `no server answered at ${requested} (${reason(error)})`,
        'start it, or pass --url <the URL it answers at>; nothing to do where no server is meant to run',
      ),
      skipped('public-url', why),
      skipped('readiness', why),
    ];
  }
  const health = healthOf(answer);
  if (health === undefined) {
    const why = 'what answered is not Switchboard';
    return [
      fail(
        'server',
        `${requested}/healthz answered HTTP ${answer.status}, not Switchboard's health answer: something else answers there`,
        "check the URL (--url, SWITCHBOARD_PUBLIC_URL) and the reverse proxy's route to Switchboard",
      ),
      skipped('public-url', why),
      skipped('readiness', why),
    ];
  }
  const answered = normal(answer.url).replace(/\/healthz$/, '');
  const running = `Switchboard ${health.version} answers at ${answered} (up ${uptime(health.uptimeSeconds)})`;
  return [
    health.version === VERSION
      ? ok('server', running)
      : warn(
          'server',
          `${running}, but this command is version ${VERSION}`,
          'run the same version here and on the server (upgrade the older one)',
        ),
    publicUrlFinding(answered, answer.hsts, publicUrl, requested),
    await readinessFinding(answered),
  ];
}
