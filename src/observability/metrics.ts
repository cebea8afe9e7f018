import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One Prometheus registry per process part (a validator app, a dispatcher, a runner), so several
 * in one process (the tests, `gridgov start`) never share or double-register series. Each holds
 * the default process and Node.js metrics: CPU, memory, handles, GC and event-loop lag.
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  return registry;
}

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** Seconds between two performance.now() readings. */
export const secondsSince = (startedMs: number) => (performance.now() - startedMs) / 1000;

/** What a database pool reports (db/ implements it; observability/ imports nothing of db/). */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** Connections of a database pool: open, in use, and callers waiting for one. */
export function registerPoolMetrics(registry: Registry, pools: Record<string, { stats?(): PoolStats }>): void {
  const entries = Object.entries(pools).filter(([, db]) => db.stats);
  const gauge = (name: string, help: string, pick: (s: PoolStats) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['pool'],
      registers: [registry],
      collect() {
        for (const [pool, db] of entries) this.set({ pool }, pick(db.stats!()));
      },
    });
  gauge('gridgov_db_pool_connections', 'Connections the pool holds open.', (s) => s.total);
  gauge('gridgov_db_pool_connections_in_use', 'Connections checked out of the pool.', (s) => s.total - s.idle);
  gauge('gridgov_db_pool_waiting_clients', 'Callers waiting for a free connection.', (s) => s.waiting);
}

export { Counter, Gauge, Histogram, Registry };
