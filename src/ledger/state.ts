import { microFromDb, type Micro } from '../domain/money.ts';
import type { LimitSet } from '../domain/validate.ts';
import type { Db } from '../db/db.ts';

export interface TradingState {
  breakerOn: boolean;
  breakerReason: string | null;
  resources: Set<string>;
  limits(resource: string): LimitSet;
  /** The rules (resources and limits) as the database states them, to hand back with decisions. */
  rules: string;
}

interface StateRow {
  control: { breaker_on: boolean; reason: string | null };
  rules: string;
}

interface Rules {
  resources: string[];
  constraints: Array<{ resource: string | null; max_transfer: string | null; min_balance: string | null }>;
}

/**
 * Breaker, resources and limits in one round trip, read inside the deciding transaction; the same
 * statement first takes the given advisory locks (in sorted order, so batches cannot deadlock).
 */
export async function loadTradingState(tx: Db, lockKeys: string[] = []): Promise<TradingState> {
  const { rows } = await tx.query<StateRow>(
    `
    SELECT (SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT k FROM unnest($1::bigint[]) AS k ORDER BY k) AS sorted) AS locked,
           (SELECT json_build_object('breaker_on', breaker_on, 'reason', reason) FROM control WHERE id = 1) AS control,
           trading_rules() AS rules`,
    [lockKeys],
  );
  const row = rows[0]!;
  const rules = JSON.parse(row.rules) as Rules;
  const parse = (v: string | null): Micro | null => (v === null ? null : microFromDb(v));
  const global = { maxTransfer: null as Micro | null, minBalance: 0n };
  const perResource = new Map<string, { maxTransfer: Micro | null; minBalance: Micro | null }>();
  for (const c of rules.constraints) {
    if (c.resource === null) {
      global.maxTransfer = parse(c.max_transfer);
      global.minBalance = parse(c.min_balance) ?? 0n;
    } else {
      perResource.set(c.resource, { maxTransfer: parse(c.max_transfer), minBalance: parse(c.min_balance) });
    }
  }
  return {
    breakerOn: row.control.breaker_on,
    breakerReason: row.control.reason,
    resources: new Set(rules.resources),
    rules: row.rules,
    limits(resource) {
      const own = perResource.get(resource);
      return { maxTransfer: own?.maxTransfer ?? global.maxTransfer, minBalance: own?.minBalance ?? global.minBalance };
    },
  };
}
