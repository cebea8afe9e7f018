import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { answerBy, answerDeadline, isReadOnlyServer, NO_ANSWER, type Answer } from '../../db/db.ts';
import { readHealthSnapshot, type HealthSnapshot } from '../../ledger/integrity/health.ts';
import type { AppDeps } from '../deps.ts';
import type { RouteSchema } from '../openapi.ts';

type Check = { ok: boolean } & Record<string, unknown>;

const DEFAULT_MAX_VERDICT_AGE_MS = 5000;
const DEFAULT_HEALTH_TIMEOUT_MS = 2000;

/**
 * Drift, from the background verifier's verdict (src/ledger/integrity/verifier.ts): passing only when it is
 * recent enough, so a 200 always means that a snapshot at most maxAgeMs old had no drift.
 */
function ledgerConsistency(h: HealthSnapshot, maxAgeMs: number): Check {
  const v = h.verdict;
  if (!v) return { ok: false, state: 'pending', drift: [], message: 'the drift verifier has not reported yet' };
  const common = {
    checked_at: v.checkedAt.toISOString(),
    age_ms: v.ageMs,
    max_age_ms: maxAgeMs,
    settled_through: v.settledThrough,
    tail_entries: v.tailEntries,
    verifier: v.verifier,
    duration_ms: v.durationMs,
  };
  if (!v.ok) return { ok: false, state: 'drift', drift: v.drift, drift_count: v.driftCount, ...common };
  if (v.ageMs > maxAgeMs) {
    return { ok: false, state: 'stale', drift: [], ...common, message: 'no recent verdict: is a validator with its ledger guard running?' };
  }
  return { ok: true, state: 'verified', drift: [], ...common };
}

function hashChain(h: HealthSnapshot): Check {
  const c = h.chain;
  return {
    ok: c.broken === null,
    blocks: c.blocks,
    sealed_through: c.sealedThrough,
    ledger_head: h.ledgerHead,
    head_hash: c.headHash,
    sealed_at: c.sealedAt?.toISOString() ?? null,
    verified_through_block: c.verifiedThroughBlock,
    last_full_pass_at: c.lastPassAt?.toISOString() ?? null,
    checked_at: c.checkedAt?.toISOString() ?? null,
    broken: c.broken,
  };
}

const READ_ONLY: Check = {
  ok: false,
  state: 'read_only',
  error: 'the database is read-only (a replica, or a primary being demoted): writes get 503 DATABASE_UNAVAILABLE until a primary answers',
};

/**
 * Whether the server this pool reaches takes writes. Reads succeed on a replica, so after a
 * switchover only this tells a connection left on the old primary from one on the new. Found
 * read-only, the pool drops its connections, as it does when a write is refused (src/db/db.ts).
 */
async function writable(db: AppDeps['db']): Promise<Check> {
  const { rows } = await db.query<{ read_only: string }>("SELECT current_setting('transaction_read_only') AS read_only");
  if (rows[0]?.read_only !== 'on') return { ok: true, state: 'writable' };
  db.retireConnections?.();
  return READ_ONLY;
}

/**
 * /health is 200 only when the database answers, the balances equal the ledger (per the newest
 * verdict), no sealed ledger row was tampered with and the breaker is off; otherwise 503 with every
 * check's result. It reads a handful of small rows, so it stays fast whatever the ledger's size.
 * /livez only says the process is up.
 */
const livezRoute: RouteSchema = { summary: 'The process is up', responses: { 200: 'OK' } };
const healthRoute: RouteSchema = {
  summary: "Database, ledger consistency (the background verifier's verdict and its age), hash chain and breaker checks",
  responses: {
    200: 'Healthy',
    503: {
      description: 'A check failed (drift, stale verdict, broken chain, breaker open, database down); the body has every check',
      schema: z.object({
        status: z.literal('unhealthy'),
        validator_version: z.string(),
        checks: z.record(z.string(), z.object({ ok: z.boolean() })),
      }),
    },
  },
};

const UNAVAILABLE: Check = {
  ok: false,
  state: 'unavailable',
  error: 'the database did not answer: writes get 503 DATABASE_UNAVAILABLE until it does',
};
const SNAPSHOT_CHECKS = ['circuit_breaker', 'ledger_consistency', 'hash_chain'] as const;

function breakerCheck(h: HealthSnapshot): Check {
  if (!h.breaker.on) return { ok: true, state: 'closed' };
  return {
    ok: false,
    state: 'open',
    reason: h.breaker.reason,
    changed_by: h.breaker.changedBy,
    changed_at: h.breaker.changedAt.toISOString(),
  };
}

export function registerHealthRoutes(app: FastifyInstance, deps: AppDeps): void {
  const maxAgeMs = deps.guard?.maxVerdictAgeMs ?? DEFAULT_MAX_VERDICT_AGE_MS;
  const timeoutMs = deps.server?.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
  const noAnswer: Check = {
    ok: false,
    state: 'no_answer',
    error: `the database did not answer this check within ${timeoutMs} ms (GRIDGOV_HEALTH_TIMEOUT_MS)`,
  };
  app.get('/livez', { config: { openapi: livezRoute } }, async () => ({ status: 'ok' }));

  app.get('/health', { config: { openapi: healthRoute } }, async (_request, reply) => {
    // A stopped or stalled database must not hold /health: a load balancer's probe gives up and learns nothing.
    const deadline = answerDeadline(timeoutMs);
    const [snapshot, database] = await Promise.all([
      answerBy(readHealthSnapshot(deps.db), deadline.passed),
      answerBy(writable(deps.db), deadline.passed),
    ]).finally(deadline.cancel);

    const checks: Record<string, Check> = {};
    if (database === NO_ANSWER) checks.database = noAnswer;
    else if ('value' in database) checks.database = database.value;
    else checks.database = isReadOnlyServer(database.error) ? READ_ONLY : UNAVAILABLE;
    if (snapshot === NO_ANSWER) {
      for (const name of SNAPSHOT_CHECKS) checks[name] = noAnswer;
    } else if ('value' in snapshot) {
      checks.circuit_breaker = breakerCheck(snapshot.value);
      checks.ledger_consistency = ledgerConsistency(snapshot.value, maxAgeMs);
      checks.hash_chain = hashChain(snapshot.value);
    } else if (checks.database.ok) {
      checks.database = isReadOnlyServer(snapshot.error) ? READ_ONLY : UNAVAILABLE;
    }
    for (const answer of [snapshot, database] as Answer<unknown>[]) {
      if (answer !== NO_ANSWER && 'error' in answer) deps.logger.error({ err: answer.error }, 'health check failed');
    }
    if (snapshot === NO_ANSWER || database === NO_ANSWER)
      deps.logger.error({ timeoutMs }, 'health check: the database did not answer in time');
    const ok = Object.values(checks).every((c) => c.ok) && checks.database.ok;
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unhealthy', validator_version: deps.validatorVersion, checks });
  });
}
