import { nestsDeeperThan } from '../platform/json-depth.js';
import { AppError, ErrorCode, invalidField } from '../platform/problem.js';
import { MAX_DEPTH } from './document-limits.js';
import { FunctionSandbox } from './functions/sandbox.js';
import type { EndpointRuntime } from './runtime.js';
import { functionEnv } from './runtime.js';

/** POST /config/functions/{name}/test: one run of a loaded function in a sandbox of its own. */
export class FunctionTester {
  constructor(
    private readonly runtime: EndpointRuntime,
    private readonly functionsDir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  async test(name: string, args: unknown): Promise<{ output: unknown; durationMs: number }> {
    // Serializing them for the sandbox would overflow the stack; declared arguments stop at this depth too.
    if (args !== undefined && nestsDeeperThan(args, MAX_DEPTH)) {
      throw invalidField('/args', `nests objects and arrays more than ${MAX_DEPTH} levels deep`);
    }
    const fn = this.runtime.plan?.functions.get(name);
    if (!fn) {
      throw new AppError(ErrorCode.notFound, `the running configuration declares no function "${name}"`);
    }
    // Its own process, so a test run cannot disturb, or be disturbed by, the stream that uses the function.
    const sandbox = new FunctionSandbox({
      modulePath: fn.modulePath,
      exportName: fn.exportName,
      limits: fn.limits,
      cwd: this.functionsDir,
      env: functionEnv(this.env),
    });
    try {
      const outcome = await sandbox.run(args === undefined ? fn.args : args);
      if (outcome.ok) return { output: outcome.output, durationMs: outcome.durationMs };
      if (outcome.kind === 'timeout') {
        throw new AppError(ErrorCode.upstreamTimeout, `function "${name}": ${outcome.error}`);
      }
      throw new AppError(ErrorCode.upstream, `function "${name}" failed (${outcome.kind}): ${outcome.error}`);
    } finally {
      await sandbox.close();
    }
  }
}
