/**
 * Endpoint configurations for bench/config: a realistic control-room document of a chosen size, generated
 * from a seed (the same seed and size give the same document), and versions of it with some lines changed.
 *
 * The document has sites (a base URL, a secret token from the environment, an auth header built from it,
 * units, coordinates and a few more variables each), HTTP endpoints with headers, query parameters or a
 * JSON body, and streams with select maps, access rules and replay history. Every endpoint reaches
 * `upstream` (the bench's loopback sink), so activating a version makes no DNS lookup and no request
 * leaves the machine; stream intervals are hours, so each producer polls about once during a run.
 */
import { canonicalize, canonicalJson } from '../../src/endpoints/canonical.js';
import type { EndpointConfig, HttpEndpoint, Stream, Variable } from '../../src/endpoints/schema.js';

interface Counts {
  sites: number;
  endpoints: number;
  streams: number;
}

/** Where the default counts land: about 1,000,000 bytes of canonical JSON. */
const BASE_COUNTS: Counts = { sites: 24, endpoints: 1500, streams: 2000 };

/** A kind of device or query an endpoint reads: its fields are what a stream may select. */
const kind = (slug: string, title: string, path: string, fields: string, post = false) => ({
  slug,
  title,
  path,
  fields: fields.split(' '),
  post,
});
type Kind = ReturnType<typeof kind>;

const KINDS: readonly Kind[] = [
  kind('pump', 'Pump', 'pumps', 'flow_lpm pressure_bar speed_rpm power_kw vibration_mm_s state'),
  kind('valve', 'Valve', 'valves', 'position_pct command_pct state torque_nm fault'),
  kind('tank', 'Tank', 'tanks', 'level_pct volume_m3 temperature_c inflow_lpm outflow_lpm alarm'),
  kind('meter', 'Energy meter', 'energy/meters', 'power_kw energy_kwh voltage_v current_a power_factor'),
  kind(
    'hvac',
    'Air handling unit',
    'hvac/units',
    'supply_temp_c return_temp_c humidity_pct fan_speed_pct filter_dp_pa mode',
  ),
  kind('compressor', 'Compressor', 'compressors', 'discharge_bar load_pct oil_temp_c running_hours state'),
  kind('alarms', 'Alarm list', 'alarms/search', 'open acknowledged highest_severity newest_at items', true),
  kind('trend', 'Trend query', 'history/query', 'points from to resolution unit', true),
];

const SITE_NAMES = ['north', 'south', 'east', 'west', 'harbour', 'ridge', 'valley', 'delta'];
const TIMEZONES = ['Europe/Berlin', 'Europe/Lisbon', 'America/Chicago', 'Asia/Singapore'];
const GROUPS = ['operators', 'maintenance', 'shift-leads', 'engineering', 'contractors', 'visitors'];
const VIEWS = ['live', 'summary', 'detail', 'status'];
const TIMEOUTS = ['2s', '3s', '5s', '10s'];
const INTERVALS = ['1h', '2h', '6h', '12h'];
const MAX_AGES = ['1h', '6h', '24h'];
const ROLES = ['viewer', 'editor', 'admin'] as const;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** mulberry32: small, fast, and the same sequence on every machine. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

export interface GeneratedConfig {
  document: EndpointConfig;
  /** The canonical JSON (keys sorted, two-space indentation), as the server stores it. */
  canonical: string;
  bytes: number;
  lines: number;
  counts: { sites: number; vars: number; endpoints: number; streams: number };
  /** The SWITCHBOARD_VAR_* variables the document reads, with bench values: the server needs them to activate it. */
  env: Record<string, string>;
}

function build(
  seed: number,
  counts: Counts,
  upstream: string,
): Omit<GeneratedConfig, 'canonical' | 'bytes' | 'lines'> {
  const next = random(seed);
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const chance = (p: number) => next() < p;

  const vars: Record<string, Variable> = {};
  const env: Record<string, string> = {};
  const sites = Array.from({ length: counts.sites }, (_, i) => {
    const id = `s${pad(i + 1, 2)}`;
    const name = `${pick(SITE_NAMES)}-${pad(i + 1, 2)}`;
    const v = (suffix: string) => `site_${id}_${suffix}`;
    const envName = `SWITCHBOARD_VAR_SITE_${id.toUpperCase()}_TOKEN`;
    env[envName] = `bench-token-${id}`;
    vars[v('api')] = `${upstream}/${name}/api/v2`;
    vars[v('token')] = {
      value: `\${env:${envName}}`,
      secret: true,
      description: `Read-only gateway token of site ${name}; set on the server, never in this document`,
    };
    vars[v('auth')] = `Bearer \${${v('token')}}`;
    vars[v('alarm_key')] = {
      value: `ak-${Math.floor(next() * 2 ** 48).toString(36)}`,
      secret: true,
      description: `Key of the alarm gateway of ${name}`,
    };
    vars[v('units')] = pick(['metric', 'imperial']);
    vars[v('timezone')] = pick(TIMEZONES);
    vars[v('latitude')] = Math.round((next() * 120 - 60) * 1e4) / 1e4;
    vars[v('longitude')] = Math.round((next() * 340 - 170) * 1e4) / 1e4;
    vars[v('areas')] = int(3, 24);
    vars[v('maintenance_mode')] = chance(0.1);
    vars[v('display_name')] = `Site ${name}`;
    vars[v('contact')] = {
      value: `control-room-${id}@plant.example.com`,
      description: `Who answers for the data of ${name}`,
    };
    return { id, name, v };
  });

  const endpoints: Record<string, HttpEndpoint> = {};
  const sources: { name: string; kind: Kind; site: (typeof sites)[number]; index: number }[] = [];
  for (let i = 0; i < counts.endpoints; i += 1) {
    const site = sites[i % sites.length] as (typeof sites)[number];
    const kind = pick(KINDS);
    const index = Math.floor(i / sites.length) + 1;
    const name = `${kind.slug}_${site.id}_${pad(index, 4)}`;
    const fields = kind.fields.filter(() => chance(0.7));
    const endpoint: HttpEndpoint = {
      url: `\${${site.v('api')}}/${kind.path}${kind.post ? '' : `/${index}`}`,
      headers: {
        Authorization: `\${${site.v('auth')}}`,
        'X-Site': site.name,
        ...(chance(0.2) && { Accept: 'application/json' }),
        ...(kind.slug === 'alarms' && { 'X-Alarm-Key': `\${${site.v('alarm_key')}}` }),
      },
      timeout: pick(TIMEOUTS),
      retries: int(0, 3),
    };
    if (kind.post) {
      endpoint.method = 'POST';
      endpoint.body =
        kind.slug === 'alarms'
          ? { filter: { area: `area-${int(1, 24)}`, severity: ['high', 'critical'] }, limit: pick([50, 100]) }
          : {
              tags: fields.slice(0, 2).map((f) => `${site.id}.${index}.${f}`),
              resolution: pick(['1m', '5m', '15m']),
              timezone: `\${${site.v('timezone')}}`,
            };
    } else {
      endpoint.query = {
        fields: fields.join(','),
        ...(chance(0.5) && { window: pick(['1m', '5m', '15m']) }),
        ...(chance(0.3) && { unit: `\${${site.v('units')}}` }),
      };
    }
    if (chance(0.25))
      endpoint.description = `${kind.title} ${index} at site ${site.name}, area ${int(1, 24)}`;
    endpoints[name] = endpoint;
    sources.push({ name, kind, site, index });
  }

  const streams: Record<string, Stream> = {};
  for (let i = 0; i < counts.streams; i += 1) {
    // Every endpoint feeds a stream; the rest are further views of endpoints drawn at random.
    const source = (i < sources.length ? sources[i] : pick(sources)) as (typeof sources)[number];
    let name = '';
    for (let view = 0; name === '' || streams[name] !== undefined; view += 1) {
      name = `${source.site.id}.${source.kind.slug}.${pad(source.index, 4)}.${VIEWS[view % VIEWS.length]}${view >= VIEWS.length ? view : ''}`;
    }
    const select = Object.fromEntries(
      source.kind.fields
        .filter(() => chance(0.4))
        .map((field) => [field, `/data/${source.kind.slug}/${field}`]),
    );
    const stream: Stream = {
      endpoint: source.name,
      interval: pick(INTERVALS),
      title: `${source.kind.title} ${source.index}, ${source.site.name}`,
    };
    if (Object.keys(select).length > 0) stream.select = select;
    if (chance(0.45)) {
      const oneOf = GROUPS.filter(() => chance(0.2));
      stream.access = {
        min_role: pick(ROLES),
        ...(oneOf.length > 0 && {
          groups: { one_of: oneOf, ...(chance(0.15) && { none_of: ['contractors'] }) },
        }),
      };
    }
    if (chance(0.25)) stream.history = { size: int(100, 5000), max_age: pick(MAX_AGES) };
    if (chance(0.15))
      stream.description = `${source.kind.title} ${source.index} as the ${source.site.name} wall shows it`;
    streams[name] = stream;
  }

  return {
    document: {
      description: `Bench control room: ${counts.sites} sites, ${counts.endpoints} endpoints, ${counts.streams} streams`,
      vars,
      endpoints,
      streams,
    },
    counts: {
      sites: counts.sites,
      vars: Object.keys(vars).length,
      endpoints: Object.keys(endpoints).length,
      streams: Object.keys(streams).length,
    },
    env,
  };
}

function measured(generated: Omit<GeneratedConfig, 'canonical' | 'bytes' | 'lines'>): GeneratedConfig {
  const canonical = canonicalJson(generated.document);
  return {
    ...generated,
    canonical,
    bytes: Buffer.byteLength(canonical),
    lines: canonical.split('\n').length - 1,
  };
}

/**
 * A document whose canonical JSON is about `targetBytes` long (within a percent or so): the default mix of
 * sites, endpoints and streams, scaled. `upstream` is the origin every endpoint reaches.
 */
export function generateConfig(options: {
  seed: number;
  targetBytes: number;
  upstream: string;
}): GeneratedConfig {
  const scaled = (factor: number): Counts => {
    const times = (base: number) => Math.max(1, Math.round(base * factor));
    const { sites, endpoints, streams } = BASE_COUNTS;
    return { sites: times(sites), endpoints: times(endpoints), streams: times(streams) };
  };
  let factor = 1;
  let result = measured(build(options.seed, scaled(factor), options.upstream));
  // Size grows about linearly with the counts: two corrections land within a percent.
  for (let i = 0; i < 2; i += 1) {
    factor *= options.targetBytes / result.bytes;
    result = measured(build(options.seed, scaled(factor), options.upstream));
  }
  return result;
}

/** A leaf of a canonical copy of a document: its parent, its key, and the path of keys to it. */
interface Leaf {
  parent: Record<string, unknown> | unknown[];
  key: string | number;
  path: readonly (string | number)[];
}

/**
 * Leaves in canonical order (each on a line of its own in canonical JSON), without the references from a
 * stream to its source: changing those would need the endpoint renamed too.
 */
function leavesOf(root: unknown): Leaf[] {
  const leaves: Leaf[] = [];
  const walk = (value: unknown, path: (string | number)[]) => {
    const entries: [string | number, unknown][] = Array.isArray(value)
      ? value.map((item, i) => [i, item])
      : Object.entries(value as Record<string, unknown>);
    for (const [key, item] of entries) {
      const at = [...path, key];
      if (item !== null && typeof item === 'object') walk(item, at);
      else if (!(at[0] === 'streams' && at.length === 3 && (key === 'endpoint' || key === 'function'))) {
        leaves.push({ parent: value as Leaf['parent'], key, path: at });
      }
    }
  };
  walk(root, []);
  return leaves;
}

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Another value of the same kind that keeps the document valid (and its line in canonical JSON one line). */
function changed(leaf: Leaf, value: unknown): unknown {
  const key = leaf.key;
  if (typeof value === 'boolean') return !value;
  if (typeof value === 'number') return key === 'retries' ? (value + 1) % 11 : value + 1;
  const text = String(value);
  if (key === 'method')
    return METHODS[(METHODS.indexOf(text as (typeof METHODS)[number]) + 1) % METHODS.length];
  if (key === 'min_role') return ROLES[(ROLES.indexOf(text as (typeof ROLES)[number]) + 1) % ROLES.length];
  const duration = DURATION.exec(text);
  if ((key === 'timeout' || key === 'interval' || key === 'max_age') && duration) {
    // The same duration plus a millisecond: still within every bound the document had.
    return `${Number(duration[1]) * (UNIT_MS[duration[2] as string] ?? 1) + 1}ms`;
  }
  if (leaf.path.includes('select')) return `${text}_b`;
  return `${text}-b`;
}

/** The lines of two canonical texts of the same shape that differ (same keys, so line i matches line i). */
export function changedLines(before: string, after: string): number {
  const a = before.split('\n');
  const b = after.split('\n');
  if (a.length !== b.length) throw new Error('changedLines: the two documents do not have the same shape');
  return a.reduce((count, line, i) => count + (line === b[i] ? 0 : 1), 0);
}

/**
 * A copy of the document with some leaves changed: `choose` gets how many leaves there are and says, by
 * index in canonical order, which.
 */
function withLeavesChanged(
  document: EndpointConfig,
  choose: (total: number) => (index: number) => boolean,
): EndpointConfig {
  const copy = canonicalize(document) as EndpointConfig;
  const leaves = leavesOf(copy);
  const chosen = choose(leaves.length);
  leaves.forEach((leaf, index) => {
    if (!chosen(index)) return;
    const parent = leaf.parent as Record<string | number, unknown>;
    parent[leaf.key] = changed(leaf, parent[leaf.key]);
  });
  return copy;
}

/** One value changed, a different one for each `n`: the small edit of a save. */
export function smallEdit(document: EndpointConfig, n: number): EndpointConfig {
  return withLeavesChanged(document, (total) => (index) => index === (n * 7919 + 13) % total);
}

/** `lines` values changed, spread evenly through the document: each is one changed line. */
export function linesChanged(document: EndpointConfig, lines: number): EndpointConfig {
  return withLeavesChanged(document, (total) => {
    const count = Math.min(lines, total);
    const wanted = new Set(Array.from({ length: count }, (_, k) => Math.floor(((k + 0.5) * total) / count)));
    return (index) => wanted.has(index);
  });
}

/** Every value changed (all but a stream's reference to its source): the worst case for a diff. */
export function everythingChanged(document: EndpointConfig): EndpointConfig {
  return withLeavesChanged(document, () => () => true);
}
