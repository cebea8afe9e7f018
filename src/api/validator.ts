import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Db } from '../db/db.ts';
import { createAdmin } from '../governance/admin.ts';
import { createAuthenticator } from '../governance/auth.ts';
import { createActorDirectory } from '../ledger/actors.ts';
import { createExecutor } from '../ledger/execute.ts';
import { createGroupCommitter } from '../ledger/group-commit.ts';
import { createActivityPublisher } from '../ledger/activity.ts';
import { startLedgerGuard } from '../ledger/guard.ts';
import { buildApp } from './app.ts';
import { withLiveEvents } from './live.ts';
import { createRegistry } from '../observability/metrics.ts';
import { writePathMetrics } from '../observability/write-path.ts';

/** Wires the validator's parts together: the one place that knows every dependency. */
export async function createValidatorApp(deps: { db: Db; readDb?: Db; config: Readonly<Config>; logger: Logger }): Promise<FastifyInstance> {
  const { db, config, logger } = deps;
  const actors = createActorDirectory(db);
  const metrics = createRegistry();
  const executor = createExecutor({
    observer: writePathMetrics(metrics),
    db,
    actors,
    validatorVersion: config.validatorVersion,
    notify: {
      topics: [
        { topic: 'linear', configured: config.linear !== undefined },
        { topic: 'discord', configured: config.discord !== undefined },
      ],
    },
  });
  const activity = createActivityPublisher({ db, logger: logger.child({ component: 'events' }) });
  const live = withLiveEvents({ executor, admin: createAdmin({ db, actors, validatorVersion: config.validatorVersion }), activity });
  const app = await buildApp({
    db,
    readDb: deps.readDb ?? db,
    executor: live.executor,
    committer: createGroupCommitter(live.executor, config.groupCommit),
    admin: live.admin,
    activity,
    actors,
    authenticate: createAuthenticator({ db, bootstrapKey: config.adminKey }),
    logger: logger.child({ component: 'api' }),
    validatorVersion: config.validatorVersion,
    adminRatePerMinute: config.adminRatePerMinute,
    guard: { maxVerdictAgeMs: config.guard.maxVerdictAgeMs },
    metrics,
  });
  if (config.guard.enabled) {
    // Drift verdicts, checkpoints and hash-chain seals for /health; stopped before the pool closes.
    const guard = startLedgerGuard(db, logger.child({ component: 'ledger-guard' }), config.guard);
    app.addHook('onClose', () => guard.stop());
    await guard.ready(3000);
  }
  return app;
}
