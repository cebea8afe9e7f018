import { microFromDb } from '../../src/domain/money.ts';
import type { Db } from '../../src/db/db.ts';

interface Entry {
  id: number;
  actor_from: string;
  actor_to: string;
  resource: string;
  amount: string;
}

async function* entries(db: Db, limit: number, batch = 10_000): AsyncGenerator<Entry> {
  let last = 0;
  let seen = 0;
  while (seen < limit) {
    const { rows } = await db.query<Entry>(
      'SELECT id, actor_from::text, actor_to::text, resource, amount::text FROM ledger WHERE id > $1 ORDER BY id LIMIT $2',
      [last, Math.min(batch, limit - seen)],
    );
    if (rows.length === 0) return;
    for (const row of rows) yield row;
    seen += rows.length;
    last = rows[rows.length - 1]!.id;
  }
}

/**
 * The blueprint's algorithm as written: SELECT the ledger in id order, apply each row's debit and
 * credit in the application (here exact bigint micro units in a Map). Returns the rows replayed.
 */
export async function replayRowsInNode(db: Db, limit: number): Promise<number> {
  const balances = new Map<string, bigint>();
  let n = 0;
  for await (const e of entries(db, limit)) {
    const amount = microFromDb(e.amount);
    const from = `${e.actor_from}|${e.resource}`;
    const to = `${e.actor_to}|${e.resource}`;
    balances.set(from, (balances.get(from) ?? 0n) - amount);
    balances.set(to, (balances.get(to) ?? 0n) + amount);
    n++;
  }
  return n;
}

/** The same loop applying each row to a staging table with two UPDATE statements. */
export async function replayRowsWithUpdates(db: Db, limit: number): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.query(
      'CREATE TEMP TABLE bench_rows (actor_id uuid, resource text, amount numeric, PRIMARY KEY (actor_id, resource)) ON COMMIT DROP',
    );
    await tx.query('INSERT INTO bench_rows SELECT actor_id, resource, 0 FROM balances');
    let n = 0;
    for await (const e of entries(tx, limit)) {
      await tx.query('UPDATE bench_rows SET amount = amount - $3 WHERE actor_id = $1 AND resource = $2', [
        e.actor_from,
        e.resource,
        e.amount,
      ]);
      await tx.query('UPDATE bench_rows SET amount = amount + $3 WHERE actor_id = $1 AND resource = $2', [
        e.actor_to,
        e.resource,
        e.amount,
      ]);
      n++;
    }
    return n;
  });
}
