import { randomUUID } from 'node:crypto';
import { CodedError } from '../domain/errors.ts';
import { WORLD_ACTOR_ID } from '../domain/ids.ts';
import { formatMicro, MAX_LEG_MICRO, microToNumber, parseAmount, type Micro } from '../domain/money.ts';
import { toMicro } from '../domain/scenario.ts';
import { balanceKey } from '../domain/validate.ts';
import type { Db } from '../db/db.ts';
import type { ActorDirectory } from '../ledger/actors.ts';
import { EVENTS_CHANNEL } from '../ledger/activity.ts';
import { appendEntries, LedgerKind } from '../ledger/append.ts';
import { lockBalances } from '../ledger/execute-sql.ts';
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

const CREDITS = 'credits';

async function audit(tx: Db, adminUser: string, action: string, payload: unknown, outcome: string): Promise<void> {
  await tx.query('INSERT INTO admin_audit (admin_user, action, payload, outcome) VALUES ($1, $2, $3, $4)', [
    adminUser,
    action,
    JSON.stringify(auditPayload(payload)),
    outcome,
  ]);
}

/**
 * Admin actions. Each changes state only through the ledger (an `adjustment` entry against world
 * for the difference) or the control row, with its audit row in the same transaction.
 */
export function createAdmin(deps: AdminDeps) {
  const { db, actors, validatorVersion } = deps;

  async function resolveTrader(ref: string) {
    const actor = (await actors.resolve([ref])).get(ref);
    if (!actor) throw new CodedError('NOT_FOUND', `actor_id: no actor ${ref}`, { field: 'actor_id' });
    if (actor.id === WORLD_ACTOR_ID) throw new CodedError('BAD_REQUEST', "actor_id: world's balance follows from everyone else's", { field: 'actor_id' });
    return actor;
  }

  /** Sets (actor, resource) to `target` inside `tx`, writing the adjustment and its audit row. */
  async function adjust(tx: Db, input: { actorRef: string; resource: string; target: Micro; adminUser: string; action: string; payload: unknown }): Promise<BalanceChange> {
    const actor = await resolveTrader(input.actorRef);
    const known = await tx.query('SELECT 1 FROM resources WHERE name = $1', [input.resource]);
    if (known.rowCount === 0) throw new CodedError('NOT_FOUND', `resource: no resource ${input.resource}`, { field: 'resource' });
    const balances = await lockBalances(tx, [
      [actor.id, input.resource],
      [WORLD_ACTOR_ID, input.resource],
    ]);
    const previous = balances.get(balanceKey(actor.id, input.resource)) ?? 0n;
    const difference = input.target - previous;
    let ledgerId: number | null = null;
    let proposalId: string | null = null;
    if (difference !== 0n) {
      proposalId = randomUUID();
      const [row] = await appendEntries(
        tx,
        [
          {
            proposalId,
            leg: 0,
            kind: LedgerKind.adjustment,
            from: difference > 0n ? WORLD_ACTOR_ID : actor.id,
            to: difference > 0n ? actor.id : WORLD_ACTOR_ID,
            resource: input.resource,
            amount: difference > 0n ? difference : -difference,
            metadata: { admin_user: input.adminUser, action: input.action, previous: formatMicro(previous), target: formatMicro(input.target) },
          },
        ],
        validatorVersion,
      );
      ledgerId = row?.id ?? null;
    }
    const change: BalanceChange = {
      actor_id: actor.id,
      actor: actor.name,
      resource: input.resource,
      previous: microToNumber(previous),
      amount: microToNumber(input.target),
      adjustment: microToNumber(difference),
      ledger_id: ledgerId,
      proposal_id: proposalId,
    };
    await audit(tx, input.adminUser, input.action, { request: input.payload, result: change }, 'applied');
    return change;
  }

  async function setBalance(input: { actorRef: string; resource: string; amount: unknown; adminUser: string; payload: unknown }): Promise<BalanceChange> {
    const parsed = parseAmount(input.amount);
    if (!parsed.ok) throw new CodedError('BAD_REQUEST', `amount ${parsed.reason}`, { field: 'amount' });
    if (parsed.value < 0n) throw new CodedError('BAD_REQUEST', 'amount must not be below 0', { field: 'amount' });
    // The same bound as one leg: beyond it the answer's JSON number could no longer print exactly.
    if (parsed.value > MAX_LEG_MICRO) throw new CodedError('BAD_REQUEST', 'amount must be below 1000000000', { field: 'amount' });
    return db.transaction((tx) => adjust(tx, { ...input, target: parsed.value, action: 'admin.balance' }));
  }

  /**
   * Sets credits back to the scenario's default_credit; when the actor's scenario has none, to the
   * credits it started with in that scenario (0 when it started with none).
   */
  async function resetCredit(input: { actorRef: string; adminUser: string; payload: unknown }): Promise<BalanceChange & { default_credit_source: string }> {
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
    const target = scenario?.default_credit != null ? toMicro(scenario.default_credit) : scenario?.starting != null ? toMicro(scenario.starting) : 0n;
    const change = await db.transaction((tx) => adjust(tx, { actorRef: actor.id, resource: CREDITS, target, adminUser: input.adminUser, action: 'admin.reset_credit', payload: input.payload }));
    return { ...change, default_credit_source: source };
  }

  /** Halts or resumes /execute for every replica: the state lives in the control row. */
  async function setCircuitBreaker(input: { enabled: boolean; reason: string | null; adminUser: string; payload: unknown }) {
    return db.transaction(async (tx) => {
      const { rows } = await tx.query<{ breaker_on: boolean; reason: string | null; changed_by: string; changed_at: Date }>(
        `UPDATE control SET breaker_on = $1, reason = $2, changed_by = $3, changed_at = now() WHERE id = 1
         RETURNING breaker_on, reason, changed_by, changed_at`,
        [input.enabled, input.reason, input.adminUser],
      );
      const row = rows[0]!;
      const state = { enabled: row.breaker_on, reason: row.reason, changed_by: row.changed_by, changed_at: row.changed_at.toISOString() };
      await audit(tx, input.adminUser, 'admin.circuit_breaker', { request: input.payload, result: state }, 'applied');
      await tx.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, JSON.stringify({ type: 'breaker', ...state })]);
      return state;
    });
  }

  return { setBalance, resetCredit, setCircuitBreaker };
}

export type Admin = ReturnType<typeof createAdmin>;
