import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import mime from 'mime-types';
import type { Compression } from '../platform/accept-encoding.js';
import { SettingsError } from '../platform/settings-spec.js';
import { compressionsOf } from './compress.js';
import { cachePolicyOf } from './headers.js';

/** The page is a few hundred KiB; these bounds only catch a setting that names the wrong directory. */
export const MAX_FILE_BYTES = 8 * 1024 * 1024;
export const MAX_TOTAL_BYTES = 32 * 1024 * 1024;
export const MAX_FILES = 2000;
const MAX_DEPTH = 16;

/** One file of the page, as it is served: everything an answer needs, computed once at start. */
export interface PageFile {
  readonly body: Buffer;
  readonly contentType: string;
  /** Strong: the sha256 of the bytes (base64url), quoted. */
  readonly etag: string;
  readonly cacheControl: string;
  /** Copies in the codings worth sending (compress.ts); none for small or binary files. */
  readonly compressed: Readonly<Partial<Record<Compression, Buffer>>>;
}

/** The page as read at start: its files by path in the build (`assets/index-….js`), or why there are none. */
export type ConfigUiPage =
  | { readonly built: true; readonly dir: string; readonly files: ReadonlyMap<string, PageFile> }
  /** `missing` finishes a sentence about the directory: "does not exist", "has no index.html". */
  | { readonly built: false; readonly dir: string; readonly missing: string };

const isAbsent = (error: unknown) =>
  ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '');

const MiB = (bytes: number) => `${bytes / 1024 / 1024} MiB`;

/** How a refusal names the directory and what to do: each page served this way says it its own way. */
export type Refusal = (dir: string, problem: string) => string;

const configUiRefusal: Refusal = (dir, problem) =>
  `SWITCHBOARD_CONFIG_UI_DIR=${dir}: ${problem}; point it at the built Config UI (\`npm run build\` writes dist/ui/config-ui)`;

/**
 * The plain files under `dir` by their path in it ('/'-separated), with their sizes. Links are not
 * followed (one could lead out of the build), and dot-files are not part of the page (Vite's manifest,
 * an editor's leftovers).
 */
async function listFiles(
  dir: string,
  refused: (dir: string, problem: string) => SettingsError,
): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  let total = 0;
  const walk = async (relative: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH)
      throw refused(dir, `${relative} is nested more than ${MAX_DEPTH} directories deep`);
    const entries: Dirent[] = await readdir(join(dir, relative), { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) await walk(path, depth + 1);
      else if (entry.isFile()) {
        const { size } = await stat(join(dir, path));
        if (size > MAX_FILE_BYTES)
          throw refused(
            dir,
            `${path} is ${size} bytes, over the ${MiB(MAX_FILE_BYTES)} one file of the page may have`,
          );
        total += size;
        if (total > MAX_TOTAL_BYTES)
          throw refused(dir, `its files are over the ${MiB(MAX_TOTAL_BYTES)} the whole page may have`);
        if (found.size >= MAX_FILES) throw refused(dir, `it holds more than ${MAX_FILES} files`);
        found.set(path, size);
      }
    }
  };
  await walk('', 0);
  return found;
}

async function pageFile(path: string, body: Buffer): Promise<PageFile> {
  const contentType = mime.contentType(path.slice(path.lastIndexOf('/') + 1)) || 'application/octet-stream';
  return {
    body,
    contentType,
    etag: `"${createHash('sha256').update(body).digest('base64url')}"`,
    cacheControl: cachePolicyOf(path),
    compressed: await compressionsOf(body, contentType),
  };
}

/**
 * Reads the built page once, into memory: requests are answered from this table alone and never name a
 * path on disk, so no request can reach a file outside it, nor one added after the start. A directory
 * that is missing or has no index.html is a page not built yet (served as a 404); one that cannot be read
 * or is far larger than a page is a setting to fix, and stops the start. `refusal` words that message
 * (the Config UI's by default; the demo dashboard has its own).
 */
export async function loadPage(dir: string, refusal: Refusal = configUiRefusal): Promise<ConfigUiPage> {
  const refused = (where: string, problem: string) => new SettingsError(refusal(where, problem));
  try {
    if (!(await stat(dir)).isDirectory()) return { built: false, dir, missing: 'is not a directory' };
  } catch (error) {
    if (isAbsent(error)) return { built: false, dir, missing: 'does not exist' };
    throw refused(dir, `it cannot be read (${(error as Error).message})`);
  }
  const bodies = new Map<string, Buffer>();
  try {
    const sizes = await listFiles(dir, refused);
    if (!sizes.has('index.html')) return { built: false, dir, missing: 'has no index.html' };
    let total = 0;
    // One at a time: a page has a few dozen files, and a few thousand open at once could run out of handles.
    for (const path of sizes.keys()) {
      const body = await readFile(join(dir, path));
      total += body.length;
      // Grown since it was listed: the bounds hold for what is kept.
      if (body.length > MAX_FILE_BYTES || total > MAX_TOTAL_BYTES)
        throw refused(dir, `${path} grew while it was read`);
      bodies.set(path, body);
    }
  } catch (error) {
    if (error instanceof SettingsError) throw error;
    throw refused(dir, `its files cannot be read (${(error as Error).message})`);
  }
  const files = new Map(
    await Promise.all([...bodies].map(async ([path, body]) => [path, await pageFile(path, body)] as const)),
  );
  return { built: true, dir, files };
}
