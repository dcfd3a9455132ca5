import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The Config UI's build: `npm run build` writes it to dist/ui/config-ui, where the server reads it at start
 * (src/config-ui). Hashed names under assets/ let the server cache them for a year; no file may need
 * inline script or style, which the page's Content-Security-Policy refuses.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/config-ui/',
  publicDir: 'public',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/ui/config-ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // Inlined assets would become data: URLs; every file stays a file of its own.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1024,
  },
});
