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

/** Writes headers decided during a request into the head of its answer, from the state it was given. */
export type HeadWriter<State> = (state: State, headers: OutgoingHttpHeaders) => void;

const WRITER = Symbol('head writer');
const STATE = Symbol('head writer state');
/** Set on the prototype of the server's response class: its answers call the head writer themselves. */
const WRITES_AT_HEAD = Symbol('writes at head');

type WithHeadWriter = ServerResponse & {
  [WRITER]?: HeadWriter<unknown>;
  [STATE]?: unknown;
  [WRITES_AT_HEAD]?: true;
};

/**
 * Has `write(state, headers)` add headers to the answer as its head is written, with the state of that
 * moment, instead of on the reply as they are decided: a hook that may change its mind (a tighter verdict
 * later in the request) sets them once, and they skip the reply's copy. One writer per answer; headers the
 * handler sets itself win. A response of another class (an injected request's) gets them at once.
 */
export function writeAtHead<State>(response: ServerResponse, write: HeadWriter<State>, state: State): void {
  const target = response as WithHeadWriter;
  if (target[WRITES_AT_HEAD]) {
    target[WRITER] = write as HeadWriter<unknown>;
    target[STATE] = state;
    return;
  }
  const headers: OutgoingHttpHeaders = {};
  write(state, headers);
  for (const name of Object.keys(headers)) response.setHeader(name, headers[name] as string);
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
    const writer = (response as WithHeadWriter)[WRITER];
    if (Array.isArray(given)) {
      // Rare (raw header arrays): Node merges them over what was set, so the caller's entries still win.
      for (const name of names) {
        if (!response.hasHeader(name)) response.setHeader(name, fixed[name] as string);
      }
      if (!response.hasHeader('x-request-id')) response.setHeader('x-request-id', requestId(response.req));
      if (writer) {
        const late: OutgoingHttpHeaders = {};
        writer((response as WithHeadWriter)[STATE], late);
        for (const name of Object.keys(late)) {
          if (!response.hasHeader(name)) response.setHeader(name, late[name] as string);
        }
      }
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
    if (writer) writer((response as WithHeadWriter)[STATE], all);
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

  class AnswerWithHeaders<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
    override writeHead(statusCode: number, statusMessage?: string, headers?: HeadHeaders): this;
    override writeHead(statusCode: number, headers?: HeadHeaders): this;
    override writeHead(statusCode: number, reason?: string | HeadHeaders, headers?: HeadHeaders): this {
      if (typeof reason === 'string') {
        return super.writeHead(statusCode, reason, withOwn(this, statusCode, headers));
      }
      return super.writeHead(statusCode, withOwn(this, statusCode, reason ?? headers));
    }
  }
  (AnswerWithHeaders.prototype as WithHeadWriter)[WRITES_AT_HEAD] = true;
  return AnswerWithHeaders;
}
