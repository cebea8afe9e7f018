import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { readStats } from '../../ledger/reads/stats.ts';
import type { AppDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { createEventHub } from '../events.ts';
import { parseQuery } from '../query.ts';

const statsQuery = z.strictObject({ window: z.coerce.number().int().min(10).max(86_400).default(300) });

/** What dashboards poll and stream: GET /stats (aggregates) and GET /events (server-sent events). */
export function registerLiveRoutes(app: FastifyInstance, deps: AppDeps): void {
  const hub = deps.events ?? createEventHub({ db: deps.db, logger: deps.logger.child({ component: 'events' }) });
  // Open streams would keep the HTTP server from closing: end them first.
  app.addHook('preClose', async () => {
    await deps.activity?.flush();
    await hub.close();
  });

  app.get('/stats', async (request) => {
    const q = parseQuery(statsQuery, request.query);
    return readStats(deps.db, q.window);
  });

  app.get('/events', async (request, reply) => {
    if (!hub.hasRoom()) throw new ApiError('RATE_LIMITED', 'too many live event subscribers on this validator; retry later');
    reply.hijack();
    hub.subscribe(request.raw, reply.raw);
  });
}
