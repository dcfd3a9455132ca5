/**
 * The endpoint configuration of the soak, version by version. Every version polls the loopback upstream:
 * LINES steady streams (one endpoint each, every second) that no activation changes, so their producers and
 * subscribers must run through every activation without a gap; ROTATING, whose interval alternates between
 * versions, so every activation redeclares it and restarts its producer under its subscribers; and EXTRA,
 * which comes in one version and goes in the next, with no subscriber.
 */

export const LINES = 8;
export const STEADY_STREAMS: readonly string[] = Array.from(
  { length: LINES },
  (_, i) => `soak.line-${i + 1}`,
);
export const ROTATING = 'soak.rotating';
export const EXTRA = 'soak.extra';
/** The streams subscribers follow: every one publishes at least every ROTATING_SLOW_S seconds. */
export const SUBSCRIBED_STREAMS: readonly string[] = [...STEADY_STREAMS, ROTATING];
export const ROTATING_SLOW_S = 2;

/** The document of the `activation`-th version (0 for the first, activated before the soak begins). */
export function soakConfig(upstreamOrigin: string, activation: number): Record<string, unknown> {
  const endpoints: Record<string, unknown> = {};
  const streams: Record<string, unknown> = {};
  for (let i = 1; i <= LINES; i += 1) {
    endpoints[`line-${i}`] = {
      url: '${plant_api}/lines/' + i,
      headers: { 'X-Site': '${site}' },
      timeout: '3s',
      retries: 2,
    };
    streams[`soak.line-${i}`] = {
      endpoint: `line-${i}`,
      interval: '1s',
      title: `Line ${i}`,
      // Half the streams publish a selection of the answer, half the whole of it.
      ...(i % 2 === 0 && { select: { n: '/n', value: '/readings/0', state: '/state' } }),
      ...(i === 1 && { access: { min_role: 'viewer' } }),
    };
  }
  endpoints.rotating = { url: '${plant_api}/rotating', timeout: '3s' };
  streams[ROTATING] = {
    endpoint: 'rotating',
    interval: activation % 2 === 0 ? '1s' : `${ROTATING_SLOW_S}s`,
    title: 'Redefined by every activation',
  };
  if (activation % 2 === 1) {
    endpoints.extra = { url: '${plant_api}/extra', timeout: '3s' };
    streams[EXTRA] = { endpoint: 'extra', interval: '5s', title: 'In every other version' };
  }
  return {
    description: `Soak run, activation ${activation}`,
    vars: { plant_api: upstreamOrigin, site: 'north-plant' },
    endpoints,
    streams,
  };
}
