import { CodedError, fromDatabaseRefusal } from '../domain/errors.ts';
import { WORLD_ACTOR_ID } from '../domain/ids.ts';
import { formatMicro, MAX_LEG_MICRO, parseAmount, type Micro } from '../domain/money.ts';
import { toMicro } from '../domain/scenario.ts';
import type { Db } from '../db/db.ts';
import type { ActorDirectory } from '../ledger/writing/actors.ts';
import { auditPayload } from './audit.ts';

export interface AdminDeps {
  db: Db;
  actors: ActorDirectory;
  validatorVersion: string;
}

export interface BalanceChange {
  actor_id: string;
  actor: string;
  resource: string;
  previous: number;
  amount: number;
  adjustment: number;
  ledger_id: number | null;
  proposal_id: string | null;
}

export interface BreakerState {
  enabled: boolean;
  reason: string | null;
  changed_by: string;
  changed_at: string;
}

const CREDITS = 'credits';

/** Runs one of the key-checking admin functions, with its refusals as coded errors. */
async function call<T>(db: Db, sql: string, params: unknown[]): Promise<T> {
  try {
    const { rows } = await db.query<{ result: T }>(sql, params);
    return rows[0]!.result;
  } catch (error) {
    throw fromDatabaseRefusal(error) ?? error;
  }
}

/**
 * Admin actions. Each is one database function (migration 000072) that checks the API key the
 * caller presented, makes the change (an `adjustment` entry against world for the difference, or
 * the control row) and writes its audit row, in one transaction: the validator's own database
 * role can do none of it without a key that holds the role.
 */
export function createAdmin(deps: AdminDeps) {
  const { db, actors, validatorVersion } = deps;

  async function resolveTrader(ref: string) {
    const actor = (await actors.resolve([ref])).get(ref);
    if (!actor) throw new CodedError('NOT_FOUND', `actor_id: no actor ${ref}`, { field: 'actor_id' });
    if (actor.id === WORLD_ACTOR_ID)
      throw new CodedError('BAD_REQUEST', "actor_id: world's balance follows from everyone else's", { field: 'actor_id' });
    return actor;
  }

  async function adjust(input: {
    key: string | undefined;
    actorId: string;
    resource: string;
    target: Micro;
    action: string;
    payload: unknown;
  }): Promise<BalanceChange> {
    const change = await call<BalanceChange>(db, 'SELECT admin_set_balance($1, $2, $3, $4, $5, $6, $7) AS result', [
      input.key ?? null,
      input.action,
      input.actorId,
      input.resource,
      formatMicro(input.target),
      JSON.stringify(auditPayload(input.payload)),
      validatorVersion,
    ]);
    return { ...change, ledger_id: change.ledger_id === null ? null : Number(change.ledger_id) };
  }

  async function setBalance(input: {
    key: string | undefined;
    actorRef: string;
    resource: string;
    amount: unknown;
    payload: unknown;
  }): Promise<BalanceChange> {
    const parsed = parseAmount(input.amount);
    if (!parsed.ok) throw new CodedError('BAD_REQUEST', `amount ${parsed.reason}`, { field: 'amount' });
    if (parsed.value < 0n) throw new CodedError('BAD_REQUEST', 'amount must not be below 0', { field: 'amount' });
    // The same bound as one leg: beyond it the answer's JSON number could no longer print exactly.
    if (parsed.value > MAX_LEG_MICRO) throw new CodedError('BAD_REQUEST', 'amount must be below 1000000000', { field: 'amount' });
    const actor = await resolveTrader(input.actorRef);
    return adjust({
      key: input.key,
      actorId: actor.id,
      resource: input.resource,
      target: parsed.value,
      action: 'admin.balance',
      payload: input.payload,
    });
  }

  /**
   * Sets credits back to the scenario's default_credit; when the actor's scenario has none, to the
   * credits it started with in that scenario (0 when it started with none).
   */
  async function resetCredit(input: {
    key: string | undefined;
    actorRef: string;
    payload: unknown;
  }): Promise<BalanceChange & { default_credit_source: string }> {
    const actor = await resolveTrader(input.actorRef);
    const { rows } = await db.query<{ default_credit: string | number | null; starting: string | number | null }>(
      `SELECT s.definition->'default_credit' AS default_credit,
              (SELECT a->'balances'->$2 FROM jsonb_array_elements(s.definition->'actors') a WHERE a->>'name' = $1) AS starting
         FROM scenarios s
        WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(s.definition->'actors') a WHERE a->>'name' = $1)
        ORDER BY s.seeded_at DESC LIMIT 1`,
      [actor.name, CREDITS],
    );
    const scenario = rows[0];
    const source = scenario?.default_credit != null ? 'default_credit' : scenario?.starting != null ? 'starting_balance' : 'zero';
    const target =
      scenario?.default_credit != null ? toMicro(scenario.default_credit) : scenario?.starting != null ? toMicro(scenario.starting) : 0n;
    const change = await adjust({
      key: input.key,
      actorId: actor.id,
      resource: CREDITS,
      target,
      action: 'admin.reset_credit',
      payload: input.payload,
    });
    return { ...change, default_credit_source: source };
  }

  /** Halts or resumes /execute for every replica: the state lives in the control row. */
  async function setCircuitBreaker(input: {
    key: string | undefined;
    enabled: boolean;
    reason: string | null;
    payload: unknown;
  }): Promise<BreakerState> {
    return call<BreakerState>(db, 'SELECT admin_set_breaker($1, $2, $3, $4) AS result', [
      input.key ?? null,
      input.enabled,
      input.reason,
      JSON.stringify(auditPayload(input.payload)),
    ]);
  }

  return { setBalance, resetCredit, setCircuitBreaker };
}

export type Admin = ReturnType<typeof createAdmin>;
