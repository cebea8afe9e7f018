import type { Db } from '../db/db.ts';
import type { ModelIdentity } from './cache.ts';
import { estimateTokens } from './limits.ts';
import type { LlmSettings } from '../agent-config.ts';
import type { ModelClient } from './llm.ts';

/** A budget shared by every worker of an experiment (migration 000183). */
export interface BudgetStore {
  readonly maxUsd: number;
  /** Counts `usd` as spent when that keeps the total within the budget; false (nothing counted) otherwise. */
  reserve(usd: number): Promise<boolean>;
  /** The difference between what a call cost and what it reserved (negative when it cost less). */
  settle(deltaUsd: number): Promise<void>;
  spent(): Promise<number>;
}

/** The budget ran out before a call: the work stops there, before the money is spent. */
export class BudgetExhaustedError extends Error {}

export function createDbBudgetStore(db: Db, experimentId: string, maxUsd: number): BudgetStore {
  let ensured: Promise<unknown> | undefined;
  const ensure = () =>
    (ensured ??= db.query('INSERT INTO experiment_spend (experiment_id) VALUES ($1) ON CONFLICT DO NOTHING', [experimentId]));
  return {
    maxUsd,
    async reserve(usd) {
      await ensure();
      const { rowCount } = await db.query(
        `UPDATE experiment_spend SET spent_usd = spent_usd + $2, calls = calls + 1
          WHERE experiment_id = $1 AND spent_usd + $2 <= $3`,
        [experimentId, usd, maxUsd],
      );
      if (rowCount === 0) await db.query('UPDATE experiment_spend SET refused = refused + 1 WHERE experiment_id = $1', [experimentId]);
      return rowCount === 1;
    },
    async settle(deltaUsd) {
      await ensure();
      await db.query('UPDATE experiment_spend SET spent_usd = greatest(0, spent_usd + $2) WHERE experiment_id = $1', [
        experimentId,
        deltaUsd,
      ]);
    },
    async spent() {
      await ensure();
      const { rows } = await db.query<{ spent: number }>(
        'SELECT spent_usd::float8 AS spent FROM experiment_spend WHERE experiment_id = $1',
        [experimentId],
      );
      return rows[0]?.spent ?? 0;
    },
  };
}

const dollars = (usd: number) => `$${usd.toFixed(6).replace(/0+$/, '').replace(/\.$/, '')}`;

/**
 * The client behind the budget: a call reserves its estimated price (its text at four characters a
 * token, times 1.5 for the answer, at the dearer of the two prices) and is refused when that would
 * pass the budget; once answered, the difference from its real price is settled. A refused call
 * throws BudgetExhaustedError, which stops the episode rather than costing a turn.
 */
export function withBudget(client: ModelClient, identity: ModelIdentity, settings: LlmSettings, budget: BudgetStore): ModelClient {
  const priceIn = settings.priceInputPerMtok ?? 0;
  const priceOut = settings.priceOutputPerMtok ?? 0;
  return {
    model: client.model,
    host: client.host,
    async complete(request) {
      const estimate = (estimateTokens(request) * Math.max(priceIn, priceOut)) / 1_000_000;
      if (!(await budget.reserve(estimate)))
        throw new BudgetExhaustedError(
          `--max-cost ${dollars(budget.maxUsd)}: the ${request.schemaName} call to ${identity.provider} model ${identity.model} ` +
            `(about ${dollars(estimate)}) would pass the budget, ${dollars(await budget.spent())} spent so far`,
        );
      let cost = estimate;
      try {
        const answer = await client.complete(request);
        cost = (answer.usage.prompt * priceIn + answer.usage.completion * priceOut) / 1_000_000;
        return answer;
      } finally {
        // A failed call is settled at its estimate: a provider may bill what it began to answer.
        await budget.settle(cost - estimate);
      }
    },
  };
}
