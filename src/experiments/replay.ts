import type { Db } from '../db/db.ts';
import { parseScenario, type Scenario } from '../domain/scenario.ts';
import type { ValidatorClient } from '../runner/client.ts';
import type { EpochPlan } from '../runner/plan.ts';
import { scenarioDigest } from '../runs/registry.ts';

/**
 * A stored run, as far as replaying it needs: its identity and scenario, and per finished epoch
 * the plan the agents made and the stats recorded. Replaying sends the same requests the runner
 * sent (settle, store the plan, execute its proposals, record the stats) to another world's
 * validator: no agent decides anything again, so the same world must come out.
 */
export interface StoredRun {
  run_id: string;
  scenario: Scenario;
  seed: string;
  strategy: string;
  epochs: Array<{ epoch: number; plan: EpochPlan; stats: unknown }>;
}

export class ReplayError extends Error {}

/** Reads a run's finished epochs 1..through (all of them when through is unset). */
export async function readStoredRun(db: Db, runId: string, through?: number): Promise<StoredRun | undefined> {
  const { rows } = await db.query<{ definition: unknown; seed: string; strategy: string }>(
    'SELECT definition, seed, strategy FROM runs WHERE id = $1',
    [runId],
  );
  const run = rows[0];
  if (!run) return undefined;
  const parsed = parseScenario(run.definition);
  if (!parsed.ok) throw new ReplayError(`run ${runId} holds a scenario that no longer parses: ${parsed.message}`);
  const { rows: epochs } = await db.query<{ epoch: number; plan: EpochPlan; stats: unknown }>(
    `SELECT epoch, plan, stats FROM epochs
      WHERE run_id = $1 AND finished_at IS NOT NULL AND plan IS NOT NULL AND ($2::int IS NULL OR epoch <= $2)
      ORDER BY epoch`,
    [runId, through ?? null],
  );
  epochs.forEach((e, i) => {
    if (e.epoch !== i + 1) throw new ReplayError(`run ${runId} has no finished epoch ${i + 1}: it cannot be replayed past epoch ${i}`);
  });
  if (through !== undefined && epochs.length < through)
    throw new ReplayError(`run ${runId} has finished ${epochs.length} epoch(s), not ${through}`);
  return { run_id: runId, scenario: parsed.scenario, seed: run.seed, strategy: run.strategy, epochs };
}

/** Re-executes the stored run's epochs, in order, through the client's validator. */
export async function replayRun(client: ValidatorClient, run: StoredRun, onEpoch?: (epoch: number) => void): Promise<void> {
  await client.expectOk('POST', '/runs', { scenario: run.scenario, seed: run.seed, strategy: run.strategy, run_id: run.run_id });
  for (const { epoch, plan, stats } of run.epochs) {
    await client.expectOk('POST', `/runs/${run.run_id}/epochs/${epoch}/settle`);
    await client.expectOk('PUT', `/runs/${run.run_id}/epochs/${epoch}/plan`, { plan });
    const proposals = plan.slots.flatMap((slot) => (slot.proposal ? [slot.proposal as unknown as Record<string, unknown>] : []));
    await client.executeBatch(proposals);
    await client.expectOk('PUT', `/runs/${run.run_id}/epochs/${epoch}/stats`, { stats });
    onEpoch?.(epoch);
  }
}

/**
 * Makes a replayed run the start of a fork: from the next epoch on it runs under another strategy
 * (and seed, and the scenario as that strategy sees it). Only the fork's own database is changed.
 */
export async function reassignRun(owner: Db, runId: string, next: { scenario: Scenario; seed: string; strategy: string }): Promise<void> {
  // The digest is of the parsed form, as the validator computes it (a scenario read back from
  // jsonb has its keys in another order).
  const parsed = parseScenario(next.scenario);
  if (!parsed.ok) throw new ReplayError(`the fork's scenario does not parse: ${parsed.message}`);
  const scenario = parsed.scenario;
  await owner.query('UPDATE runs SET definition = $2, digest = $3, seed = $4, strategy = $5 WHERE id = $1', [
    runId,
    JSON.stringify(scenario),
    scenarioDigest(scenario),
    next.seed,
    next.strategy,
  ]);
}
