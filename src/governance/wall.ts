import type { Logger } from 'pino';
import { answerBy, answerDeadline, isDatabaseUnavailable, NO_ANSWER, type Db } from '../db/db.ts';
import type { AuthMode } from '../config.ts';
import { registerExecuteAuth, registeredExecuteAuth } from './keys.ts';

/** How long a start waits for the database to say which execute auth mode it enforces. */
const CHECK_TIMEOUT_MS = 5_000;

/** The validator refuses to start while the database would let anonymous proposals through. */
export class WallError extends Error {}

/**
 * What the database wall (docs/security.md) still lacks in this database, in words an operator can
 * act on: the parts only a superuser can build (migration 000150 warns of them too).
 */
export async function wallGaps(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ sig: string }>(
    `SELECT g::text AS sig FROM wall_guarded_builtins() g
      WHERE EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = 'gridgov_app') AND has_function_privilege('gridgov_app', g, 'EXECUTE')`,
  );
  if (rows.length === 0) return [];
  return [
    `the validator's login may still call ${rows.length} built-in functions that take advisory locks or signal sessions ` +
      `(${rows[0]!.sig}, …); a superuser should revoke them from PUBLIC in this database (wall_guarded_builtins(); docs/security.md, "Set-up")`,
  ];
}

/**
 * The database decides what an anonymous proposal may do (wall_settings). A validator whose mode
 * differs from the database's registers its own when its login owns the schema, and otherwise
 * refuses to start, naming the fix.
 */
export async function checkExecuteAuth(db: Db, mode: AuthMode, logger: Logger): Promise<void> {
  // A database that cannot be reached, or does not answer, is no reason not to start: /health says
  // so, and the route refuses key-less proposals under 'required' whatever the database records.
  const deadline = answerDeadline(CHECK_TIMEOUT_MS);
  const answer = await answerBy(registeredExecuteAuth(db), deadline.passed).finally(deadline.cancel);
  if (answer === NO_ANSWER || ('error' in answer && isDatabaseUnavailable(answer.error))) {
    logger.warn('the database did not say which GRIDGOV_EXECUTE_AUTH it enforces; checked again at the next start');
    return;
  }
  if ('error' in answer) throw answer.error;
  const registered = answer.value;
  if (registered === mode) return;
  if (await registerExecuteAuth(db, mode)) {
    logger.info({ execute_auth: mode }, 'GRIDGOV_EXECUTE_AUTH registered in the database');
    return;
  }
  // Either way round, a validator at odds with its database must not serve: open here, the route
  // would pass key-less proposals that the database refuses for their whole group.
  throw new WallError(
    mode === 'required'
      ? 'GRIDGOV_EXECUTE_AUTH is required, but the database still records proposals without a key: ' +
          'run `gridgov migrate` as the schema owner with GRIDGOV_EXECUTE_AUTH=required'
      : 'the database requires a key to propose (registered by the schema owner), but GRIDGOV_EXECUTE_AUTH is open here: ' +
          'set GRIDGOV_EXECUTE_AUTH=required, or migrate as the owner with GRIDGOV_EXECUTE_AUTH=open',
  );
}
