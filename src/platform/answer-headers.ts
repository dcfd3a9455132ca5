import {
  type IncomingMessage,
  type OutgoingHttpHeader,
  type OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';

type HeadHeaders = OutgoingHttpHeaders | OutgoingHttpHeader[];

/** Types a browser opens as a document of its own, scripts and links included: HTML, XHTML, SVG, XML. */
const PAGE =
  /^\s*(?:text\/html|application\/xhtml\+xml|image\/svg\+xml|(?:text|application)\/xml)\s*(?:;|$)/i;

/** Whether a Content-Type value says the answer is a page (a document) rather than data. */
function isPage(contentType: unknown): boolean {
  return typeof contentType === 'string' && PAGE.test(contentType);
}

/** The Content-Type among the raw header entries given to writeHead (name, value, name, value…). */
function contentTypeIn(given: OutgoingHttpHeader[]): unknown {
  for (let i = 0; i + 1 < given.length; i += 2) {
    if (String(given[i]).toLowerCase() === 'content-type') return given[i + 1];
  }
  return undefined;
}

/**
 * The response class of the server (Node's `ServerResponse` option): every answer, whichever path writes
 * it (a route, an error thrown by an early hook, a malformed URL, the 503 while closing, an event stream),
 * carries `fixed` and the request's id unless it sets one of them itself, an HTML answer `forPages` too,
 * and `Connection: close` when `closesConnection` says so. They join the headers given to
 * `writeHead`, where Node writes a plain object straight out; setting them one by one on every response
 * (`setHeader`) sent each answer through Node's slower path and cost about a third of a /healthz answer.
 */
export function answersWith(options: {
  fixed: Readonly<Record<string, string>>;
  /** Added to answers whose Content-Type is a document's (HTML, XHTML, SVG, XML): headers only a page needs. */
  forPages?: Readonly<Record<string, string>>;
  requestId: (request: IncomingMessage) => string;
  /**
   * Whether the connection closes after this answer (`Connection: close`): asked once per answer, as its
   * head is written, in place of a hook on every reply.
   */
  closesConnection?: (response: ServerResponse, statusCode: number) => boolean;
}): typeof ServerResponse {
  const { fixed, forPages = {}, requestId, closesConnection = () => false } = options;
  const names = Object.keys(fixed);
  const pageNames = Object.keys(forPages);

  function withOwn(
    response: ServerResponse<IncomingMessage>,
    statusCode: number,
    given: HeadHeaders | undefined,
  ): HeadHeaders {
    const close = closesConnection(response, statusCode);
    if (Array.isArray(given)) {
      // Rare (raw header arrays): Node merges them over what was set, so the caller's entries still win.
      for (const name of names) {
        if (!response.hasHeader(name)) response.setHeader(name, fixed[name] as string);
      }
      if (!response.hasHeader('x-request-id')) response.setHeader('x-request-id', requestId(response.req));
      if (isPage(contentTypeIn(given) ?? response.getHeader('content-type'))) {
        for (const name of pageNames) {
          if (!response.hasHeader(name)) response.setHeader(name, forPages[name] as string);
        }
      }
      if (close) response.setHeader('connection', 'close');
      return given;
    }
    const all: OutgoingHttpHeaders = {};
    for (const name of names) if (!response.hasHeader(name)) all[name] = fixed[name];
    if (!response.hasHeader('x-request-id')) all['x-request-id'] = requestId(response.req);
    // By lower-case name, so a caller's `Cache-Control` replaces ours rather than going out beside it.
    if (given) for (const name of Object.keys(given)) all[name.toLowerCase()] = given[name];
    if (pageNames.length > 0 && isPage(all['content-type'] ?? response.getHeader('content-type'))) {
      for (const name of pageNames) {
        if (all[name] === undefined && !response.hasHeader(name)) all[name] = forPages[name];
      }
    }
    if (close) all.connection = 'close';
    return all;
  }

  return class AnswerWithHeaders<
    Request extends IncomingMessage = IncomingMessage,
  > extends ServerResponse<Request> {
    override writeHead(statusCode: number, statusMessage?: string, headers?: HeadHeaders): this;
    override writeHead(statusCode: number, headers?: HeadHeaders): this;
    override writeHead(statusCode: number, reason?: string | HeadHeaders, headers?: HeadHeaders): this {
      if (typeof reason === 'string') {
        return super.writeHead(statusCode, reason, withOwn(this, statusCode, headers));
      }
      return super.writeHead(statusCode, withOwn(this, statusCode, reason ?? headers));
    }
  };
}
