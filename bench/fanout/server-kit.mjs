/**
 * What every fan-out server launcher shares: reading a publish request's body with a size bound, and the
 * memory reading the bench asks for with SIGUSR2 (a full garbage collection when started with
 * --expose-gc, then `bench-memory {"rss","heapTotal","heapUsed","external"}` on stderr).
 */
export const MAX_BODY = 64 * 1024;

/** Calls `onBody` with the request's body as text; a body over MAX_BODY ends the request instead. */
export function readBody(req, onBody) {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(chunk);
  });
  req.on('end', () => onBody(Buffer.concat(chunks).toString('utf8')));
}

export function reportMemoryOnSignal() {
  process.on('SIGUSR2', () => {
    globalThis.gc?.();
    const { rss, heapTotal, heapUsed, external } = process.memoryUsage();
    process.stderr.write(`bench-memory ${JSON.stringify({ rss, heapTotal, heapUsed, external })}\n`);
  });
}
