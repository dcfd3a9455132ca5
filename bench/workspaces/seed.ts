/**
 * The people and documents of bench/workspaces, made through the HTTP API as a front end would: one reader
 * (an admin in the group `bench-readers`) and OWNERS owners (editors), each owning WORKSPACES_PER_OWNER
 * workspaces of a realistic size (6–10 widgets with their settings, about 1–2 KB of JSON each) and
 * `variables`, and sharing all of them with the reader through a mix of grants: a group grant, a user grant,
 * a role grant, and a group plus a user grant. The reader's library then holds OWNERS × WORKSPACES_PER_OWNER
 * workspaces from OWNERS owners.
 */
import type { Pool } from 'undici';
import { benchPassword, setUpAccounts } from '../lib/accounts.js';
import { expectJson } from '../lib/http.js';

export const OWNERS = 50;
export const WORKSPACES_PER_OWNER = 4;
export const READER = 'bench-reader';
export const READER_GROUP = 'bench-readers';

/** The grants of each owner's workspaces, by workspace name: every one reaches the reader. */
const SHARING: readonly {
  name: string;
  grants: { principal_type: string; principal: string; access: string }[];
}[] = [
  { name: 'Overview', grants: [{ principal_type: 'group', principal: READER_GROUP, access: 'view' }] },
  { name: 'Line status', grants: [{ principal_type: 'user', principal: READER, access: 'edit' }] },
  { name: 'Alarms', grants: [{ principal_type: 'role', principal: 'admin', access: 'view' }] },
  {
    name: 'Energy',
    grants: [
      { principal_type: 'group', principal: READER_GROUP, access: 'view' },
      { principal_type: 'user', principal: READER, access: 'edit' },
    ],
  },
];

/** A small deterministic generator (mulberry32), so every run seeds the same documents. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WIDGET_TYPES = [
  'timeseries',
  'gauge',
  'stat',
  'table',
  'heatmap',
  'alarm-list',
  'bar',
  'text',
] as const;
const METRICS = ['power_kw', 'temperature_c', 'pressure_bar', 'flow_m3h', 'vibration_mms', 'speed_rpm'];
const UNITS: Record<string, string> = {
  power_kw: 'kW',
  temperature_c: '°C',
  pressure_bar: 'bar',
  flow_m3h: 'm³/h',
  vibration_mms: 'mm/s',
  speed_rpm: 'rpm',
};

/** One workspace as a dashboard front end would save it: a grid of 6–10 widgets with their settings. */
export function workspaceOf(owner: number, index: number): Record<string, unknown> {
  const next = random(owner * 1000 + index + 1);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] as T;
  const widgets = Array.from({ length: 6 + Math.floor(next() * 5) }, (_, i) => {
    const metric = pick(METRICS);
    const type = pick(WIDGET_TYPES);
    return {
      id: `w${index}-${i}-${Math.floor(next() * 0xffffff).toString(16)}`,
      type,
      title: `${metric.replace(/_.*/, '')} line ${1 + Math.floor(next() * 8)}`,
      position: { x: (i % 3) * 4, y: Math.floor(i / 3) * 6, w: 4, h: 6 },
      settings: {
        channel: `plant-${owner % 12}.line-$line.${metric}`,
        unit: UNITS[metric],
        decimals: Math.floor(next() * 3),
        ...(type === 'text'
          ? { markdown: 'Shift notes: check the **line** before handover.' }
          : {
              thresholds: [
                { value: 70 + Math.floor(next() * 10), color: '#e69f00' },
                { value: 95, color: '#d55e00' },
              ],
            }),
      },
    };
  });
  return {
    layout: { columns: 12, rowHeight: 32 },
    refresh: '10s',
    timeRange: { from: 'now-6h', to: 'now' },
    widgets,
  };
}

/** An owner's `variables`, which travel with every workspace they share. */
export function variablesOf(owner: number): Record<string, unknown> {
  return {
    site: `plant-${owner % 12}`,
    line: { current: 'L1', options: ['L1', 'L2', 'L3', 'L4'] },
    region: owner % 2 ? 'eu-west' : 'eu-central',
    shift: 'B',
  };
}

export interface Seeded {
  reader: { username: string; token: string; userId: string };
  /** The owners' bearer tokens, in the order of their usernames (bench-owner-00…). */
  owners: { username: string; token: string }[];
  /** Bytes of JSON of one workspace: smallest, mean, largest. */
  workspaceBytes: { min: number; mean: number; max: number };
  /** Bytes of JSON of one owner's stored document (mean). */
  documentBytes: number;
}

/** Runs `task` over `items`, `width` at a time. */
async function inBatches<T, R>(items: readonly T[], width: number, task: (item: T, i: number) => Promise<R>) {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next;
        next += 1;
        results[i] = await task(items[i] as T, i);
      }
    }),
  );
  return results;
}

/** Makes the reader and the owners, their documents and their grants. `client` must have a few connections. */
export async function seed(client: Pool): Promise<Seeded> {
  const { adminToken, signIn } = await setUpAccounts(client);
  const createUser = async (username: string, role: string, groups: string[]) => {
    const password = benchPassword();
    const created = await expectJson(client, 201, 'POST', '/api/v1/users', {
      bearer: adminToken,
      json: { username, password, role, groups, must_change_password: false },
    });
    return { username, password, id: String(created.body.data.id) };
  };
  const readerUser = await createUser(READER, 'admin', [READER_GROUP]);
  const reader = { username: READER, token: await signIn(readerUser), userId: readerUser.id };
  const sizes: number[] = [];
  const documents: number[] = [];
  const names = Array.from({ length: OWNERS }, (_, i) => `bench-owner-${String(i).padStart(2, '0')}`);
  const owners = await inBatches(names, 4, async (username, o) => {
    const token = await signIn(await createUser(username, 'editor', ['bench-owners']));
    const workspaces = Object.fromEntries(SHARING.map((s, w) => [s.name, workspaceOf(o, w)]));
    for (const w of Object.values(workspaces)) sizes.push(JSON.stringify(w).length);
    const document = {
      theme: 'light',
      timeRange: { from: 'now-6h', to: 'now' },
      workspaces,
      variables: variablesOf(o),
      currentWorkspace: 'Overview',
    };
    documents.push(JSON.stringify(document).length);
    await expectJson(client, 200, 'PATCH', '/api/v1/preferences', { bearer: token, json: document });
    for (const { name, grants } of SHARING) {
      await expectJson(client, 200, 'PUT', `/api/v1/workspaces/${encodeURIComponent(name)}/grants`, {
        bearer: token,
        json: grants,
      });
    }
    return { username, token };
  });
  return {
    reader,
    owners,
    workspaceBytes: {
      min: Math.min(...sizes),
      mean: sizes.reduce((a, b) => a + b, 0) / sizes.length,
      max: Math.max(...sizes),
    },
    documentBytes: documents.reduce((a, b) => a + b, 0) / documents.length,
  };
}
