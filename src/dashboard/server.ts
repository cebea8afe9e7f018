import { readdir, readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { createProxy, errorBody, isForwardable } from './proxy.ts';

export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
};

/** On the dashboard's own answers (pages, files, its errors): same origin only, no inline script or style, no third-party anything. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** Every file under the public folder, by its URL path: nothing outside this list is ever served. */
async function listFiles(root: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (TYPES[extname(entry.name)]) files.set(`/${relative(root, path).split(sep).join('/')}`, path);
    }
  };
  await walk(root);
  return files;
}

export interface DashboardOptions {
  validatorUrl: string;
  logger: Logger;
  publicDir?: string;
  /** How long a forwarded call may take (event streams excepted). */
  timeoutMs?: number;
}

/**
 * The dashboard's web server: the static pages (plain HTML, CSS and ES modules, no build step)
 * and /api/*, which forwards to the validator. It holds no state and reads nothing but the
 * validator's API; the browser's API key passes through in the Authorization header, never in
 * a URL.
 */
export async function createDashboardApp(options: DashboardOptions): Promise<FastifyInstance> {
  const files = await listFiles(options.publicDir ?? PUBLIC_DIR);
  const proxy = createProxy({ validatorUrl: options.validatorUrl, timeoutMs: options.timeoutMs });
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024,
  });
  // Bodies are forwarded as they came; the validator parses and judges them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.addHook('onClose', async () => proxy.close());
  // Streams forwarded as they come (event streams above all) would keep the server from closing.
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of streams) res.destroy();
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    return payload;
  });

  async function serveFile(reply: FastifyReply, urlPath: string) {
    const file = files.get(urlPath);
    if (!file) return reply.status(404).type('text/plain; charset=utf-8').send('not found');
    return reply
      .type(TYPES[extname(file)]!)
      .header('cache-control', 'no-cache')
      .send(await readFile(file));
  }

  app.get('/', (_request, reply) => serveFile(reply, '/index.html'));
  app.get('/favicon.ico', (_request, reply) => serveFile(reply, '/favicon.svg'));
  app.get('/assets/*', (request, reply) => serveFile(reply, `/${(request.params as { '*': string })['*']}`));
  app.get('/livez', async () => ({ status: 'ok', validator: proxy.validatorUrl }));

  const forward = async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.slice('/api'.length) || '/';
    if (!isForwardable(request.method, path)) {
      return reply.status(404).send(errorBody('NOT_FOUND', `the dashboard does not forward ${request.method} ${path.split('?')[0]}`));
    }
    const req = { method: request.method, path, headers: request.headers, body: request.body as Buffer | undefined, res: reply.raw };
    if (request.headers['x-gridgov-envelope'] === '1') {
      const answer = await proxy.envelope(req);
      return reply.header('cache-control', 'no-store').send(answer);
    }
    // The answer is streamed as it comes, with the validator's own headers and the proxy's
    // security headers (FORWARDED_SECURITY_HEADERS); Fastify's reply machinery steps aside.
    reply.hijack();
    streams.add(reply.raw);
    reply.raw.on('close', () => streams.delete(reply.raw));
    await proxy.pipe(req);
  };
  app.all('/api', forward);
  app.all('/api/*', forward);

  app.setNotFoundHandler((request, reply) => reply.status(404).send(errorBody('NOT_FOUND', `no page ${request.url.split('?')[0]}`)));
  return app;
}
