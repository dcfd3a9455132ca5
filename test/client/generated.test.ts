import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, STATUS_OF_CODE } from '../../packages/client/src/index.js';
import { GENERATED_DIR, generatedFiles, openApiDocument } from '../../scripts/client-generate.js';
import { ERRORS } from '../../src/platform/problem.js';

/** The client's generated files are what `npm run client:types` makes of the server as it is now. */
describe('packages/client/src/generated', () => {
  it('is current: run `npm run client:types` after changing a route or an error code', async () => {
    const files = await generatedFiles();
    expect(Object.keys(files).sort()).toEqual(['errors.ts', 'openapi.ts']);
    for (const [name, content] of Object.entries(files)) {
      const checkedIn = readFileSync(new URL(name, GENERATED_DIR), 'utf8');
      expect(checkedIn === content, `${name} is out of date`).toBe(true);
    }
  }, 60_000);

  it('types every route of the OpenAPI document', async () => {
    const document = await openApiDocument();
    const types = readFileSync(new URL('openapi.ts', GENERATED_DIR), 'utf8');
    const paths = Object.keys(document.paths ?? {});
    expect(paths.length).toBeGreaterThan(30);
    expect(paths.filter((path) => !types.includes(`"${path}": {`))).toEqual([]);
  }, 60_000);

  it('has every error code of the server, each with its status', () => {
    const server = Object.fromEntries(Object.entries(ERRORS).map(([name, e]) => [name, e.code]));
    expect({ ...ErrorCode }).toEqual(server);
    for (const entry of Object.values(ERRORS)) {
      expect(STATUS_OF_CODE[entry.code as ErrorCode]).toBe(entry.status);
    }
  });
});
