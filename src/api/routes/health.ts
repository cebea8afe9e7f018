import type { FastifyInstance } from 'fastify';
import { findDrift } from '../../ledger/drift.ts';
import type { AppDeps } from '../app.ts';

type Check = { ok: boolean } & Record<string, unknown>;

/**
 * /health is 200 only when the database answers, the balances equal the ledger and the breaker is
 * off; otherwise 503 with every check's result. /livez only says the process is up.
 */
export function registerHealthRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/livez', async () => ({ status: 'ok' }));

  app.get('/health', async (_request, reply) => {
    const checks: Record<string, Check> = {};
    try {
      const { rows } = await deps.db.query<{ breaker_on: boolean; reason: string | null; changed_by: string | null; changed_at: Date }>(
        'SELECT breaker_on, reason, changed_by, changed_at FROM control WHERE id = 1',
      );
      checks.database = { ok: true };
      const control = rows[0];
      checks.circuit_breaker = control?.breaker_on
        ? { ok: false, state: 'open', reason: control.reason, changed_by: control.changed_by, changed_at: control.changed_at.toISOString() }
        : { ok: true, state: 'closed' };
      const drift = await findDrift(deps.db);
      checks.ledger_consistency = drift.length === 0 ? { ok: true, drift: [] } : { ok: false, drift };
    } catch (error) {
      checks.database ??= { ok: false, error: 'the database did not answer' };
      if (checks.database.ok) checks.ledger_consistency = { ok: false, error: 'the drift check failed' };
      deps.logger.error({ err: error }, 'health check failed');
    }
    const ok = Object.values(checks).every((c) => c.ok) && checks.database?.ok === true;
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unhealthy', validator_version: deps.validatorVersion, checks });
  });
}
