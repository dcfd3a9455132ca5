import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../fixture.js';

/**
 * docs/api.md lists every route as a table row whose first cell is `` `METHOD /path` ``. The rows of the
 * section "Outside the OpenAPI document" are the routes /openapi.json leaves out on purpose; every other
 * row must be an operation of /openapi.json, and every operation a row.
 */
const API_DOC = new URL('../../docs/api.md', import.meta.url);
const OUTSIDE_HEADING = '## Outside the OpenAPI document';
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const ROUTE_ROW = new RegExp(`^\\|\\s*\`(${METHODS.join('|')}) (/[^\`\\s]*)\`\\s*\\|`);
const LOOKS_LIKE_ROUTE_ROW = new RegExp(`^\\|\\s*\`(${METHODS.join('|')})\\b`);

interface DocRoutes {
  /** Rows that must be operations of /openapi.json. */
  openapi: string[];
  /** Rows of the section "Outside the OpenAPI document". */
  outside: string[];
  /** Rows that start like a route but do not follow the convention. */
  malformed: string[];
}

function routesOfDoc(markdown: string): DocRoutes {
  const routes: DocRoutes = { openapi: [], outside: [], malformed: [] };
  let section = '';
  for (const line of markdown.split('\n')) {
    if (line.startsWith('## ')) section = line.trim();
    const match = ROUTE_ROW.exec(line);
    if (match) {
      (section === OUTSIDE_HEADING ? routes.outside : routes.openapi).push(`${match[1]} ${match[2]}`);
    } else if (LOOKS_LIKE_ROUTE_ROW.test(line)) {
      routes.malformed.push(line);
    }
  }
  return routes;
}

type OpenApi = { paths: Record<string, Record<string, unknown>> };

function routesOfOpenApi(document: OpenApi): string[] {
  return Object.entries(document.paths).flatMap(([path, operations]) =>
    Object.keys(operations)
      .filter((method) => METHODS.includes(method.toUpperCase()))
      .map((method) => `${method.toUpperCase()} ${path}`),
  );
}

/**
 * Every route the server's router holds, from Fastify's printed routing tree (`:name` written `{name}`).
 * A line is a path segment indented four columns per level below its parent, then its methods, if any.
 */
function routesOfRouter(tree: string): string[] {
  const parents: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│├└─\s]*)(\S.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match?.[2]) continue;
    const depth = (match[1] ?? '').length / 4 - 1;
    parents.length = depth;
    parents.push(match[2]);
    // A catch-all such as the CORS preflight's is registered as `*`, which matches from the root.
    // A wildcard under a path is printed as its child `*`, the slash before it left out: `/widgets/*`.
    const path = parents
      .join('')
      .replace(/^(?!\/)/, '/')
      .replace(/([^/])\*$/, '$1/{*}')
      .replace(/:(\w+)/g, '{$1}');
    for (const method of (match[3] ?? '').split(', ').filter(Boolean)) routes.push(`${method} ${path}`);
  }
  return routes;
}

/** `GET /docs/*` in the doc stands for every GET under /docs/. */
function covers(listed: string, route: string): boolean {
  if (!listed.endsWith('/*')) return listed === route;
  return route.startsWith(listed.slice(0, -1));
}

/** The anchor a Markdown heading gets: lower case, punctuation dropped, spaces as hyphens. */
function anchorsOf(file: URL): Set<string> {
  const headings = [...readFileSync(file, 'utf8').matchAll(/^#+ (.+)$/gm)];
  return new Set(
    headings.map((heading) =>
      (heading[1] as string)
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9 _-]/g, '')
        .replaceAll(' ', '-'),
    ),
  );
}

const duplicates = (list: string[]) => list.filter((item, index) => list.indexOf(item) !== index);
const sorted = (list: Iterable<string>) => [...list].sort();

describe('docs/api.md', () => {
  let t: TestApp;
  let doc: DocRoutes;
  let openapi: string[];
  let router: string[];

  beforeAll(async () => {
    // Routes that exist only when configured (metrics, CORS preflight) are switched on, so all are listed.
    t = await startTestApp({
      env: {
        SWITCHBOARD_METRICS_TOKEN: 'metrics-token-for-the-api-doc-test',
        SWITCHBOARD_CORS_ORIGINS: 'https://ops.example',
      },
    });
    doc = routesOfDoc(readFileSync(API_DOC, 'utf8'));
    const response = await fetch(`${t.url}/openapi.json`);
    expect(response.status).toBe(200);
    openapi = routesOfOpenApi((await response.json()) as OpenApi);
    router = routesOfRouter(t.app.server.printRoutes({ commonPrefix: false }));
  });
  afterAll(async () => t?.close());

  it('writes every route row as `METHOD /path` and lists each route once', () => {
    expect(doc.malformed).toEqual([]);
    expect(duplicates([...doc.openapi, ...doc.outside])).toEqual([]);
    expect(openapi.length).toBeGreaterThan(0);
  });

  it('lists exactly the operations of /openapi.json, both ways', () => {
    const missingFromDoc = openapi.filter((route) => !doc.openapi.includes(route));
    const notInOpenApi = doc.openapi.filter((route) => !openapi.includes(route));
    expect({ missingFromDoc, notInOpenApi }).toEqual({ missingFromDoc: [], notInOpenApi: [] });
    expect(sorted(doc.openapi)).toEqual(sorted(openapi));
  });

  it('lists the routes the OpenAPI document leaves out, and only routes the server serves', () => {
    expect(doc.outside.length).toBeGreaterThan(0);
    expect(doc.outside.filter((route) => openapi.includes(route))).toEqual([]);
    expect(doc.outside.filter((route) => !router.includes(route))).toEqual([]);
  });

  it('leaves no route the server serves out of both /openapi.json and the doc', () => {
    // HEAD is answered wherever GET is and not listed on its own.
    const unaccounted = router.filter(
      (route) =>
        !route.startsWith('HEAD ') &&
        !openapi.includes(route) &&
        !doc.outside.some((listed) => covers(listed, route)),
    );
    expect(unaccounted).toEqual([]);
  });

  it('links only documents of the project, and headings that exist in them', () => {
    const links = [...readFileSync(API_DOC, 'utf8').matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1] as string);
    expect(links.length).toBeGreaterThan(0);
    const broken = links.filter((link) => {
      const [file = '', anchor] = link.split('#');
      if (/^[a-z]+:|^\.\.\//.test(file)) return true;
      const target = file === '' ? API_DOC : new URL(file, API_DOC);
      return !existsSync(target) || (anchor !== undefined && !anchorsOf(target).has(anchor));
    });
    expect(broken).toEqual([]);
  });

  it('reads the routing tree it checks against (the parser understands nesting and parameters)', () => {
    expect(router).toEqual(
      expect.arrayContaining([
        'GET /healthz',
        'GET /docs/errors',
        'GET /metrics',
        'DELETE /api/v1/auth/sessions/{id}',
        'POST /api/v1/config/versions/{version}/activate',
        'GET /api/v1/streams/{channel}/events',
        'OPTIONS /*',
      ]),
    );
  });
});
