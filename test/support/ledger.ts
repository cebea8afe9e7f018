import pg from 'pg';
import { actorIdFor, deriveId } from '../../src/domain/ids.ts';
import { parseAmount } from '../../src/domain/money.ts';
import { parseProposal } from '../../src/domain/proposal.ts';
import type { Db } from '../../src/db/db.ts';
import { appendEntries, LedgerKind } from '../../src/ledger/writing/append.ts';
import type { ExecuteItem } from '../../src/ledger/writing/execute.ts';

let counter = 0;

/** Appends one trade through the ledger's one writer (balances move with it), inside `tx`. */
export async function appendTrade(tx: Db, from: string, to: string, resource: string, amount: string | number) {
  const parsed = parseAmount(amount);
  if (!parsed.ok) throw new Error(`bad amount ${amount}`);
  const [row] = await appendEntries(
    tx,
    [
      {
        proposalId: deriveId('test-trade', process.pid, Date.now(), counter++),
        leg: 0,
        kind: LedgerKind.trade,
        from: actorIdFor(from),
        to: actorIdFor(to),
        resource,
        amount: parsed.value,
        metadata: {},
      },
    ],
    'test',
  );
  return row!;
}

/**
 * A transaction left open on its own connection, as a slow validator would hold one: for
 * reproducing out-of-order commits.
 */
export async function openTransaction(url: string): Promise<{ db: Db; commit(): Promise<void>; rollback(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  // A failing test drops its database under this connection: that must not crash the runner.
  client.on('error', () => undefined);
  await client.connect();
  await client.query('BEGIN');
  const db: Db = {
    async query<T>(sql: string, params?: unknown[]) {
      const result = await client.query(sql, params as unknown[]);
      return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
    },
    transaction: (fn) => fn(db),
    close: async () => undefined,
  };
  return {
    db,
    async commit() {
      await client.query('COMMIT');
      await client.end();
    },
    async rollback() {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

/**
 * What a superuser who disables the ledger's protection can do: runs `sql` with triggers off
 * (session_replication_role = replica), as an attack or a botched manual fix would.
 */
export async function asSuperuserWithoutTriggers(db: Db, sql: string, params: unknown[] = []): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SET LOCAL session_replication_role = replica');
    await tx.query(sql, params);
  });
}

/** Every balance row as "actor/resource" → exact decimal text, zeros left out. */
export async function balanceMap(db: Db): Promise<Map<string, string>> {
  const { rows } = await db.query<{ k: string; amount: string }>(
    `SELECT a.name || '/' || b.resource AS k, trim_scale(b.amount)::text AS amount
       FROM balances b JOIN actors a ON a.id = b.actor_id WHERE b.amount <> 0 ORDER BY 1`,
  );
  return new Map(rows.map((r) => [r.k, r.amount]));
}

/** A proposal body parsed into what the executor and the group committer take, as the route would. */
export function executeItem(body: Record<string, unknown>, key: string | null = null): ExecuteItem {
  const parsed = parseProposal(body);
  if (!parsed.ok) throw new Error(parsed.message);
  return { proposal: parsed.proposal, raw: body, caller: { key, name: 'test' } };
}
