/**
 * Lints the OpenAPI document the server builds (`npm run lint:api`): written from a throw-away SQLite app
 * (scripts/client-generate.ts, the path `npm run client:types` takes) to a temporary file, then checked by
 * Spectral with the project's ruleset (.spectral.yaml). Any error fails; warnings are reported.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from './client-generate.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'switchboard-lint-api-'));
try {
  const file = join(dir, 'openapi.json');
  writeFileSync(file, JSON.stringify(await openApiDocument(), null, 2));
  const spectral = spawnSync(
    'npx',
    ['spectral', 'lint', file, '--ruleset', join(root, '.spectral.yaml'), '--fail-severity', 'error'],
    { cwd: root, stdio: 'inherit' },
  );
  process.exitCode = spectral.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
