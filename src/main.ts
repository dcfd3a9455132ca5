#!/usr/bin/env node
import { runCli } from './cli/index.js';

const code = await runCli(process.argv.slice(2));
// A server that has shut down may still hold handles (a Redis reconnect, a worker thread) that would keep
// the process alive. Exit once what was written to standard output has gone out: a pipe may still hold it.
process.exitCode = code;
process.stdout.write('', () => process.exit(code));
