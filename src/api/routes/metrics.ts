import type { FastifyInstance } from 'fastify';
import { Gauge, Registry } from 'prom-client';
import { z } from 'zod';
import type { Db } from '../../db/db.ts';
import { readHealthSnapshot } from '../../ledger/integrity/health.ts';
import { PROMETHEUS_CONTENT_TYPE, registerPoolMetrics } from '../../observability/metrics.ts';
import type { AppDeps } from '../deps.ts';
import type { RouteSchema } from '../openapi.ts';

const OUTBOX_TARGETS = ['linear', 'discord'];
const OUTBOX_STATES = ['pending', 'dead'];

/**
 * The ledger's state as the database holds it, read once per scrape: the breaker, the drift
 * verifier's newest verdict and its age (by the database clock), the hash chain, the ledger head
 * and the outbox backlog. Every replica reports the same values; alert on max() across them.
 */
function registerLedgerState(registry: Registry, db: Db): () => Promise<string> {
  // Values nobody could read are left out, not shown as 0: these registries are exposed only
  // after a successful read (and the verdict's only once there is a verdict).
  const stateRegistry = new Registry();
  const verdictRegistry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = [], on = stateRegistry) =>
    new Gauge({ name, help, labelNames, registers: [on] });
  const up = new Gauge({
    registers: [registry],
    name: 'gridgov_database_up',
    help: '1 when this scrape could read the ledger state from the database; the gauges of that state are absent otherwise.',
  });
  const breaker = gauge('gridgov_circuit_breaker_open', '1 while the circuit breaker refuses trades.');
  const head = gauge('gridgov_ledger_head', 'The newest ledger id.');
  const verdictOk = gauge(
    'gridgov_drift_verdict_ok',
    "1 when the drift verifier's newest verdict found every balance equal to the ledger, 0 on drift.",
    [],
    verdictRegistry,
  );
  const driftRows = gauge('gridgov_drift_rows', 'Balance rows that differ from the ledger in the newest verdict.', [], verdictRegistry);
  const verdictAge = gauge(
    'gridgov_drift_verdict_age_seconds',
    'Age of the newest drift verdict, by the database clock.',
    [],
    verdictRegistry,
  );
  const settled = gauge('gridgov_drift_settled_through', 'The ledger id the newest verdict verified through.', [], verdictRegistry);
  const chainOk = gauge('gridgov_hash_chain_ok', '1 while no sealed ledger row or block was found changed, 0 once one was.');
  const chainBlocks = gauge('gridgov_hash_chain_blocks', 'Blocks sealed into the hash chain.');
  const sealedThrough = gauge('gridgov_hash_chain_sealed_through', 'The last ledger id sealed into the hash chain.');
  const outboxRows = gauge(
    'gridgov_outbox_rows',
    'Outbox rows by target and status (pending, dead); delivered rows are counted by the dispatcher.',
    ['target', 'status'],
  );
  const oldest = gauge(
    'gridgov_outbox_oldest_pending_age_seconds',
    'Age of the oldest outbox row not yet delivered, by target (0 when none).',
    ['target'],
  );

  async function readOutbox() {
    const { rows } = await db.query<{ topic: string; status: string; n: number; age: number | null }>(
      `SELECT topic, 'pending' AS status, count(*)::int AS n, extract(epoch FROM clock_timestamp() - min(created_at))::float8 AS age
         FROM outbox WHERE status = 'pending' GROUP BY topic
       UNION ALL
       SELECT topic, 'dead', count(*)::int, NULL FROM outbox WHERE status = 'dead' GROUP BY topic`,
    );
    return rows;
  }

  return async function refresh() {
    try {
      const [h, outbox] = await Promise.all([readHealthSnapshot(db), readOutbox()]);
      up.set(1);
      breaker.set(h.breaker.on ? 1 : 0);
      head.set(h.ledgerHead);
      if (h.verdict) {
        verdictOk.set(h.verdict.ok ? 1 : 0);
        driftRows.set(h.verdict.driftCount);
        verdictAge.set(h.verdict.ageMs / 1000);
        settled.set(h.verdict.settledThrough);
      }
      chainOk.set(h.chain.broken === null ? 1 : 0);
      chainBlocks.set(h.chain.blocks);
      sealedThrough.set(h.chain.sealedThrough);
      outboxRows.reset();
      oldest.reset();
      for (const target of new Set([...OUTBOX_TARGETS, ...outbox.map((r) => r.topic)])) {
        for (const status of OUTBOX_STATES) outboxRows.set({ target, status }, 0);
        oldest.set({ target }, 0);
      }
      for (const r of outbox) {
        outboxRows.set({ target: r.topic, status: r.status }, r.n);
        if (r.age !== null) oldest.set({ target: r.topic }, Math.max(0, r.age));
      }
      return (await stateRegistry.metrics()) + (h.verdict ? await verdictRegistry.metrics() : '');
    } catch {
      up.set(0);
      return '';
    }
  };
}

const metricsRoute: RouteSchema = {
  summary: 'Prometheus metrics (requests, decisions, group commits, ledger state, outbox, pools, process)',
  auth: 'optional',
  responses: { 200: { description: 'The Prometheus text exposition format', schema: z.string(), contentType: 'text/plain' } },
};

/** GET /metrics: Prometheus exposition of this validator (prom-client registry). */
export function registerMetricsRoutes(app: FastifyInstance, deps: AppDeps, registry: Registry): void {
  const refresh = registerLedgerState(registry, deps.db);
  registerPoolMetrics(registry, deps.readDb === deps.db ? { primary: deps.db } : { primary: deps.db, read: deps.readDb });
  const stats = () => deps.committer.stats();
  new Gauge({
    name: 'gridgov_group_commit_pending',
    help: 'Calls waiting for a free lane of the group committer.',
    registers: [registry],
    collect() {
      this.set(stats().pending);
    },
  });
  new Gauge({
    name: 'gridgov_group_commit_largest',
    help: 'The largest group committed so far, in proposals.',
    registers: [registry],
    collect() {
      this.set(stats().largest);
    },
  });

  app.get('/metrics', { config: { openapi: metricsRoute } }, async (_request, reply) => {
    const state = await refresh();
    return reply.type(PROMETHEUS_CONTENT_TYPE).send((await registry.metrics()) + state);
  });
}
