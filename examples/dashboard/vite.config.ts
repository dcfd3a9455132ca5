import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The demo dashboard's build: `npm run build` writes it to dist/ui/dashboard, beside the Config UI's, where
 * the server reads it at start when SWITCHBOARD_DEMO=true (src/demo). It is built on the official client,
 * taken from its sources (packages/client/src) so that no separate build of the client is needed first.
 * As for the Config UI: hashed names under assets/, and no inline script or style (the page's CSP).
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/demo/',
  publicDir: 'public',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  resolve: {
    alias: {
      '@switchboard/client': fileURLToPath(new URL('../../packages/client/src/index.ts', import.meta.url)),
    },
  },
  build: {
    outDir: fileURLToPath(new URL('../../dist/ui/dashboard', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
