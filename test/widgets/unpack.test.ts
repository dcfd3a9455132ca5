import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { describe, expect, it } from 'vitest';
import { WidgetRefusal } from '../../src/widgets/fetch.js';
import { inspect, MAX_FILES, unpack } from '../../src/widgets/unpack.js';
import { npmTarball } from './registry-fixture.js';

async function refusal(run: () => Promise<unknown>): Promise<WidgetRefusal> {
  try {
    await run();
  } catch (error) {
    if (error instanceof WidgetRefusal) return error;
    throw error;
  }
  throw new Error('not refused');
}

/** A tarball whose second entry is a hard link to its first. */
async function withHardLink(): Promise<Buffer> {
  const root = mkdtempSync(join(tmpdir(), 'widget-link-'));
  try {
    mkdirSync(join(root, 'package'));
    writeFileSync(join(root, 'package', 'a.js'), 'a');
    linkSync(join(root, 'package', 'a.js'), join(root, 'package', 'b.js'));
    const chunks: Buffer[] = [];
    for await (const chunk of create({ gzip: true, cwd: root, portable: true }, ['package']))
      chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe('unpacking a widget tarball', () => {
  it('unpacks files and directories without the top directory, with a digest of each file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'widget-unpack-'));
    try {
      const unpacked = await unpack(await npmTarball({ 'index.js': 'x', 'dist/a.css': 'yy' }), dir, 1024);
      expect(unpacked.files).toBe(2);
      expect(unpacked.size).toBe(3);
      expect(Object.keys(unpacked.manifest)).toEqual(['dist/a.css', 'index.js']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [
      'a symbolic link',
      () => npmTarball({ 'a.js': 'x' }, { links: { 'l.js': '../../etc/passwd' } }),
      /SymbolicLink/,
    ],
    ['a hard link', withHardLink, /Link; only files/],
    ['a path climbing out', () => npmTarball({ 'a.js': 'x' }, { raw: ['../out.js'] }), /climbs out/],
    [
      'an absolute path',
      () => npmTarball({ 'a.js': 'x' }, { raw: [join(tmpdir(), `abs-${process.pid}.js`)] }),
      /absolute path/,
    ],
    [
      'more bytes than allowed',
      () => npmTarball({ 'a.bin': Buffer.alloc(4096) }),
      /SWITCHBOARD_WIDGETS_MAX_BYTES/,
    ],
    ['no files', () => npmTarball({}), /no files/],
    ['garbage', async () => Buffer.from('garbage, not gzip'), /cannot be read/],
  ])('refuses %s before writing anything', async (_label, make, reason) => {
    const tarball = await make();
    const refused = await refusal(() => inspect(tarball, 1024));
    expect(refused.message).toMatch(reason);
    expect(refused.status).toBe(422);
  });

  it(`refuses more than ${MAX_FILES} files`, async () => {
    const files = Object.fromEntries(Array.from({ length: MAX_FILES + 1 }, (_, i) => [`f${i}.js`, '']));
    const refused = await refusal(async () => inspect(await npmTarball(files), 1024 * 1024));
    expect(refused.message).toMatch(/more than 5000 files/);
  });
});
