/**
 * The program a function's child process runs, kept as a string so it travels with the build: there is no
 * separate file to find next to dist/ or src/, nor one the permission model must let the child read. It is
 * started with `--input-type=module --eval` and talks to the server over the IPC channel only.
 *
 * Server to child: `{ type: 'load', path, exportName }` once, then `{ type: 'call', id, args }` one at a time
 * (`args` is JSON text, or absent for no arguments).
 * Child to server: `ready` at start; `loaded`, `load_failed` or `not_function` after a load; `result` (the
 * output as JSON text), `threw` or `invalid_output` for a call, carrying the call's id.
 *
 * The output is checked here, next to the function, so an output too large or not JSON never crosses the
 * channel. Written as plain JavaScript without template literals so it can live inside this one.
 */
export const CHILD_SOURCE = String.raw`
import { syncBuiltinESMExports } from 'node:module';
import traceEvents from 'node:trace_events';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';

const MAX_OUTPUT_BYTES = 1024 * 1024;
const send = process.send.bind(process);
let fn;

// What the permission model leaves open and no function needs: signals to other processes (SIGUSR1 opens
// a Node's inspector), V8 flags, and trace files, which Node writes without asking the permission model.
// Refused as the permission model refuses, before the module's code runs and can keep a reference.
function refuse(target, key, permission) {
  target[key] = function refused() {
    const error = new Error('Access to this API has been restricted');
    error.code = 'ERR_ACCESS_DENIED';
    error.permission = permission;
    throw error;
  };
}
refuse(process, 'kill', 'Signal');
refuse(process, '_kill', 'Signal');
refuse(process, '_debugProcess', 'Signal');
refuse(v8, 'setFlagsFromString', 'V8Flags');
refuse(traceEvents, 'createTracing', 'Tracing');
// Named imports of node:process, node:v8 and node:trace_events see the replacements too.
syncBuiltinESMExports();

function errorInfo(error) {
  if (error instanceof Error) {
    return {
      name: String(error.name),
      message: String(error.message),
      code: typeof error.code === 'string' ? error.code : undefined,
      permission: typeof error.permission === 'string' ? error.permission : undefined,
      resource: typeof error.resource === 'string' ? error.resource : undefined,
    };
  }
  let text;
  try {
    text = typeof error === 'object' && error !== null ? JSON.stringify(error) : String(error);
  } catch {
    text = Object.prototype.toString.call(error);
  }
  return { name: 'Error', message: 'threw a value that is not an Error: ' + text };
}

function kindOf(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return (/^[aeiou]/.test(type) ? 'an ' : 'a ') + type;
}

async function load(message) {
  let namespace;
  try {
    namespace = await import(pathToFileURL(message.path).href);
  } catch (error) {
    send({ type: 'load_failed', error: errorInfo(error) });
    return;
  }
  const value = namespace[message.exportName];
  if (typeof value !== 'function') {
    send({
      type: 'not_function',
      found: message.exportName in namespace ? kindOf(value) : undefined,
      exports: Object.keys(namespace),
    });
    return;
  }
  fn = value;
  send({ type: 'loaded' });
}

class NotJson extends Error {}

function refuseNonJson(key, value) {
  const type = typeof value;
  if (type === 'function' || type === 'symbol' || type === 'bigint') {
    const where = key === '' ? '' : ' under "' + key + '"';
    const what = type === 'bigint' ? 'a BigInt' : 'a ' + type;
    throw new NotJson(
      'returned ' + what + where + ', which JSON cannot carry; return plain data ' +
        '(objects, arrays, strings, finite numbers, booleans, null)',
    );
  }
  return value;
}

function megabytes(bytes) {
  return (bytes / (1024 * 1024)).toFixed(1) + ' MiB';
}

async function call(message) {
  let output;
  try {
    output = await fn(message.args === undefined ? undefined : JSON.parse(message.args));
  } catch (error) {
    send({ type: 'threw', id: message.id, error: errorInfo(error) });
    return;
  }
  let json;
  try {
    json = JSON.stringify(output === undefined ? null : output, refuseNonJson);
  } catch (error) {
    const reason =
      error instanceof NotJson
        ? error.message
        : 'returned a value JSON cannot carry (' + String(error && error.message).split('\n')[0] + ')';
    send({ type: 'invalid_output', id: message.id, reason });
    return;
  }
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > MAX_OUTPUT_BYTES) {
    send({
      type: 'invalid_output',
      id: message.id,
      reason: 'returned ' + megabytes(bytes) + ' of JSON; at most 1 MiB is allowed, so return less data',
    });
    return;
  }
  send({ type: 'result', id: message.id, json });
}

process.on('message', (message) => {
  if (message === null || typeof message !== 'object') return;
  if (message.type === 'load') void load(message);
  else if (message.type === 'call' && fn !== undefined) void call(message);
});
// The server went away: nothing will ask this process for anything again.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
`;
