/**
 * The bare `ws` baseline of bench/fanout: every WebSocket that connects gets, as is, the body of every
 * POST /publish, sent in a plain loop over the open sockets. No authentication, no channels, no framing of
 * our own: the floor for what a Node WebSocket broadcast costs. Listens on HOST:PORT (127.0.0.1 only).
 * GET /readyz answers 200; SIGTERM stops it; SIGUSR2 runs a full garbage collection (when started with
 * --expose-gc) and writes `bench-memory {"rss","heapTotal","heapUsed","external"}` to stderr, for the bench's memory reading.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { MAX_BODY, readBody, reportMemoryOnSignal } from './server-kit.mjs';

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/readyz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  if (req.method !== 'POST' || req.url !== '/publish') {
    res.writeHead(404).end();
    return;
  }
  readBody(req, (body) => {
    let sent = 0;
    for (const socket of wss.clients) {
      if (socket.readyState === 1) {
        socket.send(body);
        sent += 1;
      }
    }
    res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ sent }));
  });
});

const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, maxPayload: MAX_BODY });
wss.on('connection', (socket) => {
  socket.on('error', () => socket.terminate());
});

reportMemoryOnSignal();
process.on('SIGTERM', () => {
  for (const socket of wss.clients) socket.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});

server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
