import type { FastifyInstance } from 'fastify';
import type { OpenApiDocument, RouteSchema } from '../openapi.ts';

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A readable page generated from the OpenAPI document, so the two never disagree. */
function docsPage(doc: OpenApiDocument): string {
  const rows = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(
      ([method, op]) =>
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escape(path)}</code></td><td>${escape(op.summary)}${
          op.parameters.length
            ? `<br><small>${op.parameters.map((p) => `<code>${escape(p.name)}</code>${p.description ? `: ${escape(p.description)}` : ''}`).join('; ')}</small>`
            : ''
        }</td></tr>`,
    ),
  );
  const codes = doc.info.description
    .split('\n')
    .filter((l) => l.startsWith('- '))
    .map((l) => `<li>${escape(l.slice(2)).replace(/`([^`]+)`/g, '<code>$1</code>')}</li>`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(doc.info.title)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem}td{padding:.3rem .6rem;vertical-align:top;border-bottom:1px solid #ddd}code{background:#f4f4f4;padding:0 .2rem}</style>
</head><body><h1>${escape(doc.info.title)} <small>${escape(doc.info.version)}</small></h1>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<h2>Routes</h2><table>${rows.join('')}</table><h2>Error codes</h2><ul>${codes.join('')}</ul></body></html>`;
}

const openApiRoute: RouteSchema = {
  summary: 'This document, generated from the schemas the routes validate with',
  responses: { 200: 'OK' },
};

/**
 * GET /openapi.json and GET /docs. The document is built on first request, once every route is
 * registered, from what collectOpenApi gathered (src/api/openapi.ts).
 */
export function registerDocsRoutes(app: FastifyInstance, document: () => OpenApiDocument): void {
  let built: { doc: OpenApiDocument; page: string } | undefined;
  const current = () => {
    if (!built) {
      const doc = document();
      built = { doc, page: docsPage(doc) };
    }
    return built;
  };
  app.get('/openapi.json', { config: { openapi: openApiRoute } }, async () => current().doc);
  app.get(
    '/docs',
    { config: { openapi: { summary: 'This API as a readable page', responses: { 200: 'OK' }, hide: true } } },
    async (_request, reply) => reply.type('text/html; charset=utf-8').send(current().page),
  );
}
