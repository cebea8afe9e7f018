import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { isDatabaseUnavailable, type Db } from '../db/db.ts';
import { createAdmin } from '../governance/admin.ts';
import { createAuthenticator } from '../governance/auth.ts';
import { registerBootstrapKey } from '../governance/keys.ts';
import { checkExecuteAuth } from '../governance/wall.ts';
import { createActorDirectory } from '../ledger/writing/actors.ts';
import { createExecutor } from '../ledger/writing/execute.ts';
import { createGroupCommitter } from '../ledger/writing/group-commit.ts';
import { createActivityPublisher } from '../ledger/reads/activity.ts';
import { startLedgerGuard } from '../ledger/integrity/guard.ts';
import { buildApp } from './app.ts';
import { withLiveAdmin } from './live.ts';
import { createRegistry } from '../observability/metrics.ts';
import { writePathMetrics } from '../observability/write-path.ts';

/** Wires the validator's parts together: the one place that knows every dependency. */
export async function createValidatorApp(deps: {
  db: Db;
  readDb?: Db;
  config: Readonly<Config>;
  logger: Logger;
}): Promise<FastifyInstance> {
  const { db, config, logger } = deps;
  // The database checks admin and system calls against the keys it knows; the bootstrap key is
  // one of them once an owning login has registered it (here, or at migrate for the app role).
  // A database that cannot be reached yet is no reason not to start: /health and every call say so.
  const registered = config.adminKey
    ? await registerBootstrapKey(db, config.adminKey).catch((error: unknown) => {
        if (isDatabaseUnavailable(error)) return true;
        throw error;
      })
    : true;
  if (!registered) logger.info('GRIDGOV_ADMIN_KEY is checked against the hash registered by the last owner-run start or migrate');
  await checkExecuteAuth(db, config.auth.execute, logger);
  const actors = createActorDirectory(db);
  const metrics = createRegistry();
  const recordGroup = createExecutor({
    observer: writePathMetrics(metrics),
    db,
    actors,
    validatorVersion: config.validatorVersion,
    topics: [
      { topic: 'linear', configured: config.linear !== undefined },
      { topic: 'discord', configured: config.discord !== undefined },
    ],
  });
  const activity = createActivityPublisher({ db, logger: logger.child({ component: 'events' }) });
  const app = await buildApp({
    db,
    readDb: deps.readDb ?? db,
    // Live events come from the commit hook, after each group commits.
    committer: createGroupCommitter(recordGroup, { ...config.groupCommit, onCommitted: activity.decided }),
    admin: withLiveAdmin(createAdmin({ db, actors, validatorVersion: config.validatorVersion }), activity),
    activity,
    actors,
    authenticate: createAuthenticator({ db, bootstrapKey: config.adminKey }),
    logger: logger.child({ component: 'api' }),
    validatorVersion: config.validatorVersion,
    adminRatePerMinute: config.adminRatePerMinute,
    adminAuthFailuresPerMinute: config.adminAuthFailuresPerMinute,
    access: config.auth,
    server: config.server,
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
