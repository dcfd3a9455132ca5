import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { Compression } from '../platform/accept-encoding.js';

const brotli = promisify(brotliCompress);
const gzipped = promisify(gzip);

/** Smaller files gain too little from compression to be worth a second and third copy. */
const MIN_BYTES = 1024;

/** Text, which compresses well: scripts, styles, HTML, SVG, JSON, source maps. */
const TEXT =
  /^(?:text\/|image\/svg\+xml|application\/(?:javascript|json|xml|manifest\+json|[\w.-]+\+(?:json|xml)))/;

/**
 * A file's brotli and gzip copies, made once at start on the thread pool (zlib's async functions), not on
 * the thread that answers requests. Brotli at quality 9, not 11: on 730 KiB of CodeMirror's scripts it
 * took 65 ms against a second, for a file 10% larger, and every instance pays it at every start. A copy
 * no smaller than the file is left out. Text under 1 KiB, and other types, get none.
 */
export async function compressionsOf(
  body: Buffer,
  contentType: string,
): Promise<Partial<Record<Compression, Buffer>>> {
  if (body.length < MIN_BYTES || !TEXT.test(contentType)) return {};
  const [br, gz] = await Promise.all([
    brotli(body, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 9,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    }),
    gzipped(body, { level: 9 }),
  ]);
  return {
    ...(br.length < body.length && { br }),
    ...(gz.length < body.length && { gzip: gz }),
  };
}
