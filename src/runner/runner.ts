import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Strategy, StrategyName } from '../agents/types.ts';
import type { SettlementSummary } from '../domain/economy.ts';
import type { Scenario } from '../domain/scenario.ts';
import { epochStats, type EpochStats, type SlotOutcome } from '../domain/stats.ts';
import { carryFrom, commonsStats, initialCarry, nextCarry, type Carry, type SlotResult } from './carry.ts';
import type { WorldState } from '../ledger/reads/world-state.ts';
import type { ValidatorClient } from './client.ts';
import { planEpoch, type EpochPlan } from './plan.ts';
import { lostTurnCauses, modelOutage, progressLine } from './progress.ts';
import { agentProfiles, marketView, microOf } from './view.ts';

export interface RunnerOptions {
  client: ValidatorClient;
  scenario: Scenario;
  /** Defaults to the scenario's seed, else 0. */
  seed?: string;
  /** Every agent uses this strategy instead of the scenario's own choice. */
  strategy?: StrategyName;
  strategies: ReadonlyMap<StrategyName, Strategy>;
  runId?: string;
  /** Seed the scenario even into a world seeded from another one (else 409 SCENARIO_MISMATCH). */
  merge?: boolean;
  /** The last epoch to run; unset runs until stopped. */
  epochs?: number;
  intervalMs?: number;
  concurrency?: number;
  /** Proposals per POST /execute/batch (default 250); 1 sends one slot per request. */
  batchSize?: number;
  signal?: AbortSignal;
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
  onEpoch?: (stats: RecordedStats, line: string) => void;
  /** Dollars: the run stops once its models have cost this much. */
  maxCost?: number;
  /** Told the run's id once it is registered (to mark it ended however the loop ends). */
  onRun?: (runId: string) => void;
}

export type RecordedStats = EpochStats & { run_id: string; duration_ms: number; http_retries: number; carry: Carry };

interface Settled {
  epoch: number;
  replayed: boolean;
  ledger_head: number;
  settlement: SettlementSummary;
  planned: boolean;
}

/** The label a run is registered with: the override, or the scenario's strategies joined. */
export function runStrategyLabel(scenario: Scenario, override?: StrategyName): string {
  return override ?? [...new Set(scenario.actors.map((a) => a.strategy ?? 'heuristic'))].sort().join('+');
}

/**
 * The agent loop, a pure HTTP client of the validator. Per epoch: settle production and
 * consumption (idempotent), take the plan stored for the epoch or make one from the snapshot and
 * store it, send its proposals in plan order (in batches), then record the stats. Resuming a run
 * starts at its first unfinished epoch; nothing already settled is sent as anything new.
 */
/** How a run ended: every epoch asked for, stopped, out of budget, or paused because its model is out of reach (`pause` says why and what to do). */
export interface RunResult {
  runId: string;
  lastEpoch: number;
  stopped?: 'budget' | 'model';
  pause?: string;
}

export async function runSimulation(options: RunnerOptions): Promise<RunResult> {
  const { client, scenario, logger } = options;
  const seed = options.seed ?? String(scenario.seed ?? 0);
  const agents = agentProfiles(scenario, options.strategy);
  const run = await client.expectOk<{ run_id: string; last_epoch: { epoch: number; finished: boolean } | null }>('POST', '/runs', {
    scenario,
    seed,
    strategy: runStrategyLabel(scenario, options.strategy),
    ...(options.runId ? { run_id: options.runId } : {}),
    ...(options.merge ? { merge: true } : {}),
  });
  const runId = run.run_id;
  options.onRun?.(runId);
  let epoch = run.last_epoch === null ? 1 : run.last_epoch.finished ? run.last_epoch.epoch + 1 : run.last_epoch.epoch;
  logger.info({ run_id: runId, scenario: scenario.name, seed, from_epoch: epoch }, run.last_epoch ? 'resuming run' : 'starting run');
  // Each cause of lost turns is logged the first time it appears; the epoch line counts repeats.
  const causesSeen = new Set<string>();
  let carry =
    epoch > 1 ? carryFrom((await client.expectOk<{ stats: unknown }>('GET', `/runs/${runId}/epochs/${epoch - 1}`)).stats) : undefined;
  carry ??= initialCarry(scenario);

  while ((options.epochs === undefined || epoch <= options.epochs) && !options.signal?.aborted) {
    if (options.maxCost !== undefined && carry.cost_usd >= options.maxCost) {
      logger.info(
        { run_id: runId, epoch, cost_usd: carry.cost_usd, max_cost: options.maxCost },
        'the run has spent its model budget; stopping',
      );
      return { runId, lastEpoch: epoch - 1, stopped: 'budget' };
    }
    const started = Date.now();
    const retriesBefore = client.retries();
    const settled = await client.expectOk<Settled>('POST', `/runs/${runId}/epochs/${epoch}/settle`);
    let plan: EpochPlan;
    if (settled.planned) {
      plan = (await client.expectOk<{ plan: EpochPlan }>('GET', `/runs/${runId}/epochs/${epoch}`)).plan;
    } else {
      const state = await client.expectOk<WorldState>('GET', '/world-state');
      const failed = new Set(settled.settlement.failed ?? []);
      const every = scenario.negotiation.reflect_every;
      const made = await planEpoch({
        runId,
        seed,
        epoch,
        view: marketView(state, scenario, epoch, {
          prices: carry.prices,
          failed: [...failed],
          stocks: carry.stocks,
          lastEpoch: options.epochs,
        }),
        agents: agents.filter((a) => !failed.has(a.name)),
        strategies: options.strategies,
        turns: scenario.negotiation.turns_per_agent,
        concurrency: options.concurrency ?? 4,
        memory: new Map(Object.entries(carry.memory)),
        reflect: every > 0 && epoch > 1 && epoch % every === 0,
        logger,
      });
      // The first plan stored wins: a runner racing this one, or a crashed earlier one, agrees on it.
      plan = (await client.expectOk<{ plan: EpochPlan }>('PUT', `/runs/${runId}/epochs/${epoch}/plan`, { plan: made })).plan;
    }

    // The plan's proposals go in plan order, in batches decided one after another in one
    // transaction each: the same outcomes as one call per slot, in far fewer round trips.
    if (options.signal?.aborted) return { runId, lastEpoch: epoch - 1 };
    const proposals = plan.slots.flatMap((slot) => (slot.proposal ? [slot.proposal as unknown as Record<string, unknown>] : []));
    const results = await client.executeBatch(proposals, options.batchSize);
    let next = 0;
    const slotResults: SlotResult[] = plan.slots.map((slot) => {
      const outcome: SlotOutcome = { agent: slot.agent, move: slot.move, agreed: slot.agreed };
      const rounds = (slot.proposal?.metadata as { rounds?: number } | undefined)?.rounds;
      if (rounds !== undefined) outcome.rounds = rounds;
      if (!slot.proposal) return { slot, outcome };
      const result = results[next++]!;
      outcome.result = result.result;
      if (result.result === 'rejected') {
        outcome.errorCode = result.errorCode;
        return { slot, outcome, message: result.message };
      }
      if (result.result === 'conflict' || result.result === 'malformed') {
        logger.warn(
          { run_id: runId, epoch, proposal_id: slot.proposal.proposal_id, result: result.result },
          'slot settled without applying',
        );
      }
      return { slot, outcome };
    });
    const outcomes = slotResults.map((r) => r.outcome);

    const after = await client.expectOk<WorldState>('GET', '/world-state');
    const names = new Map(after.actors.map((a) => [a.id, a.name]));
    const mine = after.actors.filter((a) => agents.some((g) => g.id === a.id));
    const holdings = Object.fromEntries(after.resources.map((r) => [r, mine.map((a) => microOf(a.balances[r]))]));
    carry = nextCarry({ carry, scenario, epoch, plan, results: slotResults, settlement: settled.settlement, names });
    const prices = carry.prices;
    const payoff = Object.fromEntries(
      mine.map((a) => [a.name, Math.round(after.resources.reduce((v, r) => v + (a.balances[r] ?? 0) * (prices[r] ?? 1), 0) * 1e6) / 1e6]),
    );
    const commons = commonsStats(scenario, settled.settlement, plan);
    const stats: RecordedStats = {
      ...epochStats({
        epoch,
        outcomes,
        settlement: settled.settlement,
        supply: after.supply,
        holdings,
        usage: plan.usage,
        payoff,
        totalActors: agents.length,
        prices,
        ...(commons ? { commons } : {}),
        balances: Object.fromEntries(mine.map((a) => [a.name, a.balances])),
        ...(plan.extraction?.granted ? { grants: plan.extraction.granted } : {}),
      }),
      run_id: runId,
      duration_ms: Date.now() - started,
      http_retries: client.retries() - retriesBefore,
      carry,
    };
    await client.expectOk('PUT', `/runs/${runId}/epochs/${epoch}/stats`, { stats });
    const causes = lostTurnCauses(plan.slots);
    for (const [cause, turns] of causes) {
      if (causesSeen.has(cause) || causesSeen.size >= 5) continue;
      causesSeen.add(cause);
      logger.warn({ run_id: runId, epoch, turns }, `agents lost turns: ${cause}`);
    }
    options.onEpoch?.(stats, progressLine(stats, options.epochs, causes));
    const pause = modelOutage(plan.slots, agents, options.strategies, epoch);
    if (pause) {
      logger.debug({ run_id: runId, epoch }, pause);
      return { runId, lastEpoch: epoch, stopped: 'model', pause };
    }
    epoch += 1;
    const more = options.epochs === undefined || epoch <= options.epochs;
    if (more && options.intervalMs && !options.signal?.aborted) {
      await sleep(options.intervalMs, undefined, options.signal ? { signal: options.signal } : undefined).catch(() => undefined);
    }
  }
  return { runId, lastEpoch: epoch - 1 };
}
