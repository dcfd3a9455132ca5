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

const MAX_BODY = 64 * 1024;

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
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(chunk);
  });
  req.on('end', () => {
    let data;
    try {
      data = JSON.parse(Buffer.concat(chunks).toString('utf8'));
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

process.on('SIGUSR2', () => {
  globalThis.gc?.();
  const { rss, heapTotal, heapUsed, external } = process.memoryUsage();
  process.stderr.write(`bench-memory ${JSON.stringify({ rss, heapTotal, heapUsed, external })}\n`);
});
process.on('SIGTERM', () => {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});

server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
