import type { FastifyInstance } from 'fastify';
import { openApiDocument } from '../openapi.ts';

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A readable page generated from the OpenAPI document, so the two never disagree. */
function docsPage(doc: ReturnType<typeof openApiDocument>): string {
  const rows = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops as Record<string, { summary: string; parameters?: Array<{ name: string; description: string }> }>).map(
      ([method, op]) =>
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escape(path)}</code></td><td>${escape(op.summary)}${
          op.parameters?.length
            ? `<br><small>${op.parameters.map((p) => `<code>${escape(p.name)}</code>: ${escape(p.description)}`).join('; ')}</small>`
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

export function registerDocsRoutes(app: FastifyInstance, version: string): void {
  const doc = openApiDocument(version);
  const page = docsPage(doc);
  app.get('/openapi.json', async () => doc);
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page));
}
