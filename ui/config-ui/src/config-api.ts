import { get } from './api.js';
import type { Schema } from './editor/schema.js';

export interface VersionRow {
  version: string;
  created_at: string;
  created_by: string | null;
  message: string | null;
  active: boolean;
}

export interface VersionList {
  versions: VersionRow[];
  active: string | null;
  loaded: string | null;
  last_good: string | null;
  recovery: boolean;
  recovery_version: string | null;
  recovery_reason: string | null;
}

export interface VersionDetail {
  version: string;
  config: Record<string, unknown>;
  vars_resolved: Record<string, unknown>;
  active: boolean;
  created_at: string;
  created_by: string | null;
  message: string | null;
}

export interface SaveAnswer {
  version: string;
  diff: string;
  active: boolean;
  activation_error?: { message?: string; detail?: string } | string | null;
}

export interface StreamInfo {
  name: string;
  kind: string;
  meta: { title?: string; description?: string } & Record<string, unknown>;
  history: { size: number; max_age_seconds: number };
}

let schema: Promise<Schema> | null = null;

/** The served JSON Schema, asked for once per page. */
export function configSchema(): Promise<Schema> {
  schema ??= get<Schema>('/api/v1/config/schema').then(
    (answer) => answer.data,
    (error) => {
      schema = null;
      throw error;
    },
  );
  return schema;
}

export const versionPath = (version: string) => `/api/v1/config/versions/${encodeURIComponent(version)}`;

/** Compares two semantic versions (x.y.z, prerelease after release-less equals). */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split(/[.+-]/).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const [x, y] = [pa[i], pb[i]];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}
