import { CodedError } from '../../domain/errors.ts';
import { dbAmountToNumber, microFromDb, microToNumber } from '../../domain/money.ts';
import type { Db } from '../../db/db.ts';
import { balancesAt, ledgerIdAtTime, type AsOf } from './point-in-time.ts';
import { listResources } from './reads.ts';

export interface ActorView {
  id: string;
  name: string;
  type: string;
  balances: Record<string, number>;
}

export interface WorldState {
  epoch: number;
  timestamp: string;
  ledger_head: number;
  actors: ActorView[];
  resources: string[];
  units: Record<string, string>;
  constraints: {
    max_transfer: number | null;
    min_balance: number;
    per_resource: Record<string, { max_transfer: number | null; min_balance: number }>;
  };
  supply: Record<string, number>;
  /** Present for a point-in-time read: which entry the balances stand at and how they were replayed. */
  as_of?: AsOf;
}

/** The latest run's epoch when ledger entry `at` was written: the newest epoch begun by then. */
async function epochAt(tx: Db, at: number): Promise<number> {
  const { rows } = await tx.query<{ epoch: number | null }>(
    `SELECT max(e.epoch) AS epoch FROM epochs e
      WHERE e.run_id = (SELECT run_id FROM epochs ORDER BY started_at DESC LIMIT 1)
        AND e.started_at <= (SELECT executed_at FROM ledger WHERE id <= $1 ORDER BY id DESC LIMIT 1)`,
    [at],
  );
  return rows[0]?.epoch ?? 0;
}

/**
 * The blueprint's WorldState. Read in one repeatable-read snapshot, so balances, head and epoch
 * agree. With `at` (a ledger id) or `atTime` (a timestamp), balances are replayed from the ledger
 * up to that entry, starting at the nearest checkpoint.
 */
export async function getWorldState(db: Db, options: { at?: number; atTime?: string; now?: () => Date } = {}): Promise<WorldState> {
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const head = await tx.query<{ head: number | null; epoch: number | null }>(
      `SELECT (SELECT max(id) FROM ledger) AS head,
              (SELECT max(e.epoch) FROM epochs e WHERE e.run_id = (SELECT run_id FROM epochs ORDER BY started_at DESC LIMIT 1)) AS epoch`,
    );
    const at = options.atTime !== undefined ? await ledgerIdAtTime(tx, options.atTime) : options.at;
    if (options.at !== undefined && options.at > (head.rows[0]?.head ?? 0)) {
      throw new CodedError('BAD_REQUEST', `at: ledger entry ${options.at} does not exist yet (head is ${head.rows[0]?.head ?? 0})`, {
        field: 'at',
      });
    }
    // A past state reports the head and epoch of that moment, not of now.
    const ledgerHead = at === undefined ? (head.rows[0]?.head ?? 0) : at;
    const epoch = at === undefined ? (head.rows[0]?.epoch ?? 0) : await epochAt(tx, at);
    let asOf: AsOf | undefined;
    let balanceRows: Array<{ actor_id: string; resource: string; amount: string }>;
    if (at === undefined) {
      balanceRows = (
        await tx.query<{ actor_id: string; resource: string; amount: string }>(
          'SELECT actor_id::text, resource, amount::text FROM balances',
        )
      ).rows;
    } else {
      const replayed = await balancesAt(tx, at);
      balanceRows = replayed.rows;
      asOf = options.atTime !== undefined ? { ...replayed.asOf, timestamp: options.atTime } : replayed.asOf;
    }
    const actorRows = await tx.query<{ id: string; name: string; kind: string }>('SELECT id::text, name, kind FROM actors ORDER BY name');
    const resources = await listResources(tx);
    const global = await tx.query<{ max_transfer: string | null; min_balance: string | null }>(
      'SELECT max_transfer::text, min_balance::text FROM constraints WHERE resource IS NULL',
    );

    const byActor = new Map<string, Record<string, number>>();
    const supply: Record<string, number> = Object.fromEntries(resources.map((r) => [r.name, 0]));
    const supplyMicro = new Map<string, bigint>();
    const worldId = actorRows.rows.find((a) => a.kind === 'system')?.id;
    for (const row of balanceRows) {
      const balances = byActor.get(row.actor_id) ?? {};
      balances[row.resource] = dbAmountToNumber(row.amount);
      byActor.set(row.actor_id, balances);
      if (row.actor_id !== worldId) {
        // Summed in exact micro units, printed once.
        supplyMicro.set(row.resource, (supplyMicro.get(row.resource) ?? 0n) + microFromDb(row.amount));
      }
    }
    for (const [resource, micro] of supplyMicro) supply[resource] = microToNumber(micro);

    const g = global.rows[0];
    return {
      epoch,
      timestamp: (options.now ?? (() => new Date()))().toISOString(),
      ledger_head: ledgerHead,
      actors: actorRows.rows
        .filter((a) => a.kind !== 'system')
        .map((a) => ({
          id: a.id,
          name: a.name,
          type: a.kind,
          balances: Object.fromEntries(resources.map((r) => [r.name, byActor.get(a.id)?.[r.name] ?? 0])),
        })),
      resources: resources.map((r) => r.name),
      units: Object.fromEntries(resources.map((r) => [r.name, r.unit])),
      constraints: {
        max_transfer: g?.max_transfer ? dbAmountToNumber(g.max_transfer) : null,
        min_balance: g?.min_balance ? dbAmountToNumber(g.min_balance) : 0,
        // Effective limits per resource: its own override, else the global value.
        per_resource: Object.fromEntries(resources.map((r) => [r.name, { max_transfer: r.max_transfer, min_balance: r.min_balance }])),
      },
      supply,
      ...(asOf ? { as_of: asOf } : {}),
    };
  });
}
