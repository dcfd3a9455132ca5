import { AppError, ErrorCode } from '../platform/problem.js';
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
