import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { readStats } from '../../ledger/reads/stats.ts';
import type { AppDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { createEventHub } from '../events.ts';
import { parseQuery } from '../query.ts';
import type { RouteSchema } from '../openapi.ts';

const statsQuery = z.strictObject({
  window: z.coerce.number().int().min(10).max(86_400).default(300).describe('Seconds to count recent activity over'),
});
const statsRoute: RouteSchema = {
  summary:
    'Aggregates for dashboards: ledger head, epoch, applied and rejected in the window (counts, per minute, acceptance), rejections by code, outbox by status and topic, supply and Gini per resource',
  auth: 'optional',
  querystring: statsQuery,
  responses: { 200: 'OK', 400: 'BAD_REQUEST, naming the parameter' },
};
const eventsRoute: RouteSchema = {
  summary:
    'Server-sent events (text/event-stream), fed by Postgres LISTEN/NOTIFY so every replica sees every write, each re-read from the table it names: hello, status, ledger, rejection, breaker, epoch, resync; a comment line every 15 s',
  auth: 'optional',
  responses: {
    200: { description: 'An event stream', schema: z.string(), contentType: 'text/event-stream' },
    429: 'RATE_LIMITED: too many subscribers',
  },
};

/** What dashboards poll and stream: GET /stats (aggregates) and GET /events (server-sent events). */
export function registerLiveRoutes(app: FastifyInstance, deps: AppDeps): void {
  const hub = deps.events ?? createEventHub({ db: deps.db, logger: deps.logger.child({ component: 'events' }) });
  // Open streams would keep the HTTP server from closing: end them first.
  app.addHook('preClose', async () => {
    await deps.activity?.flush();
    await hub.close();
  });

  app.get('/stats', { config: { openapi: statsRoute } }, async (request) => {
    const q = parseQuery(statsQuery, request.query);
    return readStats(deps.db, q.window);
  });

  app.get('/events', { config: { openapi: eventsRoute } }, async (request, reply) => {
    if (!hub.hasRoom()) throw new ApiError('RATE_LIMITED', 'too many live event subscribers on this validator; retry later');
    reply.hijack();
    hub.subscribe(request.raw, reply.raw);
  });
}
