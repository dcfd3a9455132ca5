import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the upstream received. */
export interface UpstreamRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

/** What the upstream answers on one path; `body` may be a function of how many times the path was asked. */
export interface UpstreamAnswer {
  status: number;
  body: unknown | ((hit: number) => unknown);
  /** How long to wait before answering. */
  delayMs?: number;
}

/**
 * A real HTTP server on 127.0.0.1 whose answers the test sets per path: JSON bodies, any status. Paths with
 * no answer set are 404s. Every request is recorded.
 */
export class Upstream {
  readonly requests: UpstreamRequest[] = [];
  private readonly answers = new Map<string, UpstreamAnswer>();
  private readonly hits = new Map<string, number>();
  private readonly server: Server;
  port = 0;

  constructor() {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://upstream.invalid');
      this.requests.push({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
      });
      const hit = (this.hits.get(url.pathname) ?? 0) + 1;
      this.hits.set(url.pathname, hit);
      const answer = this.answers.get(url.pathname);
      req.resume();
      if (!answer) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no such path"}');
        return;
      }
      const body = typeof answer.body === 'function' ? answer.body(hit) : answer.body;
      const send = () =>
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (answer.delayMs) setTimeout(send, answer.delayMs).unref();
      else send();
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  answer(path: string, status: number, body: UpstreamAnswer['body'], delayMs?: number): void {
    this.answers.set(path, { status, body, ...(delayMs === undefined ? {} : { delayMs }) });
  }

  requestsTo(path: string): UpstreamRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
