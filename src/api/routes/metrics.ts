import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';

/** Prometheus text exposition of the validator's own counters. */
export function registerMetricsRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/metrics', async (_request, reply) => {
    const group = deps.committer.stats();
    const memory = process.memoryUsage();
    const lines = [
      '# HELP gridgov_group_commit_groups_total Transactions committed for /execute.',
      '# TYPE gridgov_group_commit_groups_total counter',
      `gridgov_group_commit_groups_total ${group.groups}`,
      '# HELP gridgov_group_commit_items_total Proposals decided through /execute.',
      '# TYPE gridgov_group_commit_items_total counter',
      `gridgov_group_commit_items_total ${group.items}`,
      '# HELP gridgov_group_commit_largest Largest group so far.',
      '# TYPE gridgov_group_commit_largest gauge',
      `gridgov_group_commit_largest ${group.largest}`,
      '# HELP gridgov_group_commit_pending Proposals waiting for a transaction.',
      '# TYPE gridgov_group_commit_pending gauge',
      `gridgov_group_commit_pending ${group.pending}`,
      '# HELP process_resident_memory_bytes Resident memory.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${memory.rss}`,
      '# HELP nodejs_heap_used_bytes V8 heap in use.',
      '# TYPE nodejs_heap_used_bytes gauge',
      `nodejs_heap_used_bytes ${memory.heapUsed}`,
      '',
    ];
    return reply.type('text/plain; version=0.0.4').send(lines.join('\n'));
  });
}
