import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Parser, type ReadEntry, Unpack } from 'tar';
import { WidgetRefusal } from './fetch.js';

/** Files one bundle may hold. */
export const MAX_FILES = 5000;

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
/** Entries that are things on disk: of these, only files and directories are unpacked. */
const ON_DISK = new Set([
  ...FILE_TYPES,
  'Directory',
  'Link',
  'SymbolicLink',
  'CharacterDevice',
  'BlockDevice',
  'FIFO',
  'GNUDumpDir',
  'SparseFile',
  'Unsupported',
]);

export interface Unpacked {
  files: number;
  size: number;
}

/** Why an entry may not be unpacked, or undefined when it may. */
function problemOf(entry: ReadEntry): string | undefined {
  const path = entry.path;
  if (path.includes('\0')) return `an entry's path holds a NUL character`;
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path)) {
    return `the entry ${JSON.stringify(path.slice(0, 200))} has an absolute path`;
  }
  if (path.split(/[\\/]/).includes('..'))
    return `the entry ${JSON.stringify(path.slice(0, 200))} climbs out with ..`;
  if (entry.type === 'Directory' || FILE_TYPES.has(entry.type)) return undefined;
  return `the entry ${JSON.stringify(path.slice(0, 200))} is a ${entry.type}; only files and directories are unpacked`;
}

/** Feeds `tarball` to a tar stream and waits for it to finish, or for its first error. */
function run(stream: Parser | Unpack, tarball: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.on('error', reject);
    stream.on('close', resolve);
    stream.end(tarball);
  });
}

/**
 * Checks every entry of a gzipped npm tarball before anything is written: only files and directories,
 * relative paths that stay inside, at most MAX_FILES files and `maxBytes` unpacked. A refusal names the
 * first entry at fault.
 */
export async function inspect(tarball: Buffer, maxBytes: number): Promise<Unpacked> {
  let files = 0;
  let size = 0;
  let problem: { reason: string; detail: string } | undefined;
  const parser = new Parser({
    strict: true,
    onReadEntry(entry) {
      if (problem === undefined && ON_DISK.has(entry.type)) {
        const unsafe = problemOf(entry);
        if (unsafe !== undefined) problem = { reason: 'unsafe_entry', detail: unsafe };
        if (FILE_TYPES.has(entry.type)) {
          files += 1;
          size += entry.size;
          if (files > MAX_FILES) {
            problem = { reason: 'too_large', detail: `the bundle holds more than ${MAX_FILES} files` };
          } else if (size > maxBytes) {
            problem = {
              reason: 'too_large',
              detail: `the bundle unpacks to more than ${maxBytes} bytes (SWITCHBOARD_WIDGETS_MAX_BYTES)`,
            };
          }
        }
      }
      entry.resume();
    },
  });
  try {
    await run(parser, tarball);
  } catch (error) {
    throw new WidgetRefusal('not_a_tarball', `the tarball cannot be read: ${(error as Error).message}`);
  }
  if (problem !== undefined) throw new WidgetRefusal(problem.reason, problem.detail);
  if (files === 0) throw new WidgetRefusal('empty', 'the tarball holds no files');
  return { files, size };
}

/** Each file under a directory, by its path relative to it (with `/`), and the sha256 of its bytes. */
export type Manifest = Record<string, string>;

export const digestOf = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64url');

/** The manifest of what is under `dir`, refusing anything that is not a file or a directory. */
export async function manifestOf(dir: string, prefix = ''): Promise<Manifest> {
  const manifest: Manifest = {};
  for (const name of (await readdir(dir)).sort()) {
    const path = join(dir, name);
    const stat = await lstat(path);
    if (stat.isDirectory()) Object.assign(manifest, await manifestOf(path, `${prefix}${name}/`));
    else if (stat.isFile()) manifest[`${prefix}${name}`] = digestOf(await readFile(path));
    else
      throw new WidgetRefusal('unsafe_entry', `unpacking made ${name}, which is not a file or a directory`);
  }
  return manifest;
}

/**
 * Unpacks an inspected npm tarball into `dir` (empty, made by the caller), its top directory (`package/`)
 * stripped, and makes the manifest of what landed there.
 */
export async function unpack(
  tarball: Buffer,
  dir: string,
  maxBytes: number,
): Promise<Unpacked & { manifest: Manifest }> {
  const inspected = await inspect(tarball, maxBytes);
  const unpacker = new Unpack({
    cwd: dir,
    strip: 1,
    strict: true,
    preservePaths: false,
    // The checks above refused everything else; this keeps it so should they miss a case.
    filter: (_path, entry) => 'type' in entry && (entry.type === 'Directory' || FILE_TYPES.has(entry.type)),
  });
  try {
    await run(unpacker, tarball);
  } catch (error) {
    throw new WidgetRefusal('not_a_tarball', `the tarball cannot be unpacked: ${(error as Error).message}`);
  }
  const manifest = await manifestOf(dir);
  if (Object.keys(manifest).length > MAX_FILES) {
    throw new WidgetRefusal('too_large', `the bundle unpacks to more than ${MAX_FILES} files`);
  }
  return { files: Object.keys(manifest).length, size: inspected.size, manifest };
}
