import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Db } from '../db/db.ts';
import { createAdmin } from '../governance/admin.ts';
import { createAuthenticator } from '../governance/auth.ts';
import { createActorDirectory } from '../ledger/actors.ts';
import { createExecutor } from '../ledger/execute.ts';
import { createGroupCommitter } from '../ledger/group-commit.ts';
import { buildApp } from './app.ts';

/** Wires the validator's parts together: the one place that knows every dependency. */
export async function createValidatorApp(deps: { db: Db; readDb?: Db; config: Readonly<Config>; logger: Logger }): Promise<FastifyInstance> {
  const { db, config, logger } = deps;
  const actors = createActorDirectory(db);
  const executor = createExecutor({
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
  return buildApp({
    db,
    readDb: deps.readDb ?? db,
    executor,
    committer: createGroupCommitter(executor, config.groupCommit),
    admin: createAdmin({ db, actors, validatorVersion: config.validatorVersion }),
    actors,
    authenticate: createAuthenticator({ db, bootstrapKey: config.adminKey }),
    logger: logger.child({ component: 'api' }),
    validatorVersion: config.validatorVersion,
    adminRatePerMinute: config.adminRatePerMinute,
  });
}
