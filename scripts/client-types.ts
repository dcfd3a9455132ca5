/**
 * Regenerates packages/client/src/generated/ (`npm run client:types`): the route types from the server's
 * OpenAPI document and the error codes. test/client/generated.test.ts fails while they are out of date.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { GENERATED_DIR, generatedFiles } from './client-generate.js';

mkdirSync(GENERATED_DIR, { recursive: true });
for (const [name, content] of Object.entries(await generatedFiles())) {
  writeFileSync(new URL(name, GENERATED_DIR), content);
  process.stdout.write(`wrote packages/client/src/generated/${name}\n`);
}
