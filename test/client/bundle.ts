import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** The client bundled for browsers as an application would ship it: one minified ES module. */
export async function bundleClient(): Promise<{ code: string; bytes: number; gzipped: number }> {
  const result = await build({
    entryPoints: [new URL('../../packages/client/src/index.ts', import.meta.url).pathname],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]?.text ?? '';
  return { code, bytes: Buffer.byteLength(code), gzipped: gzipSync(code).length };
}
