/**
 * The Socket.IO baseline of bench/fanout: a client that emits `subscribe` with a room name joins that room
 * (and gets an acknowledgement); the JSON body of every POST /publish/{room} is emitted to the room as an
 * `event`. Default server options (long-polling allowed, no compression), no authentication. Listens on
 * HOST:PORT (127.0.0.1 only). GET /readyz answers 200; SIGTERM stops it; SIGUSR2 runs a full garbage
 * collection (when started with --expose-gc) and writes `bench-memory {"rss","heapTotal","heapUsed","external"}` to stderr,
 * for the bench's memory reading.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { MAX_BODY, readBody, reportMemoryOnSignal } from './server-kit.mjs';

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/readyz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  const room = req.method === 'POST' ? /^\/publish\/([a-z0-9._-]+)$/.exec(req.url ?? '')?.[1] : undefined;
  if (!room) {
    // Socket.IO answers its own path (/socket.io/); anything else is not ours.
    if (!req.url?.startsWith('/socket.io/')) res.writeHead(404).end();
    return;
  }
  readBody(req, (body) => {
    let data;
    try {
      data = JSON.parse(body);
    } catch {
      res.writeHead(400).end();
      return;
    }
    io.to(room).emit('event', data);
    res.writeHead(202, { 'content-type': 'application/json' }).end('{}');
  });
});

const io = new Server(server, { serveClient: false, maxHttpBufferSize: MAX_BODY });
io.on('connection', (socket) => {
  socket.on('subscribe', (room, ack) => {
    if (typeof room !== 'string') return;
    socket.join(room);
    if (typeof ack === 'function') ack({ ok: true });
  });
});

reportMemoryOnSignal();
process.on('SIGTERM', () => {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});

server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
