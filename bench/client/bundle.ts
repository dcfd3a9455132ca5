/**
 * The client as a browser application ships it: packages/client/src/index.ts bundled by esbuild (the
 * bundler Vite uses) into one minified ES module, with its one dependency (openapi-fetch) inside. The
 * generated route types are types only and erase; the per-input breakdown shows that they do.
 */
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build, version } from 'esbuild';
import { ROOT } from '../lib/server.js';

export const CLIENT_ENTRY = 'packages/client/src/index.ts';

export interface BundleSize {
  raw: number;
  gzip: number;
  brotli: number;
  /** Bytes of the minified output from each input, largest first: files of the client, and openapi-fetch. */
  inputs: { input: string; bytes: number }[];
  esbuild: string;
}

export async function measureBundle(): Promise<BundleSize> {
  const result = await build({
    entryPoints: [`${ROOT}/${CLIENT_ENTRY}`],
    absWorkingDir: ROOT,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    outfile: 'client.min.js',
    logLevel: 'silent',
  });
  const file = result.outputFiles.find((f) => f.path.endsWith('.js'));
  if (!file) throw new Error('esbuild wrote no JavaScript');
  const code = Buffer.from(file.contents);
  const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined);
  const inputs = Object.entries(output?.inputs ?? {})
    .map(([input, { bytesInOutput }]) => ({
      input: input.replace(/^.*node_modules\//, 'node_modules/'),
      bytes: bytesInOutput,
    }))
    .sort((a, b) => b.bytes - a.bytes);
  return {
    raw: code.length,
    gzip: gzipSync(code, { level: 9 }).length,
    brotli: brotliCompressSync(code, {
      params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY },
    }).length,
    inputs,
    esbuild: version,
  };
}
