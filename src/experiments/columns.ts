import type { Column } from './tables.ts';

/**
 * The fixed columns of the exported tables, with their types. docs/experiments.md describes each
 * (a test holds it to that); per-resource columns (`supply_water`, `balance_credits`, …) follow
 * them, as doubles, in name order.
 */

/** The columns that name the episode, first in every table. */
const EPISODE: Column[] = [
  { name: 'experiment_id', type: 'string' },
  { name: 'episode_id', type: 'string' },
  { name: 'scenario', type: 'string' },
  { name: 'strategy', type: 'string' },
  { name: 'seed', type: 'string' },
  { name: 'run_id', type: 'string' },
];

/** The model behind the episode's strategy, last in every table (null for heuristic strategies). */
const MODEL: Column[] = [
  { name: 'provider', type: 'string' },
  { name: 'model', type: 'string' },
  { name: 'temperature', type: 'double' },
  { name: 'price_input_per_mtok', type: 'double' },
  { name: 'price_output_per_mtok', type: 'double' },
];

const cols = (spec: Record<string, Column['type']>): Column[] => Object.entries(spec).map(([name, type]) => ({ name, type }));

export const RUN_COLUMNS: Column[] = [
  ...EPISODE,
  ...cols({
    status: 'string',
    epochs_planned: 'int',
    epochs: 'int',
    survival_rate: 'double',
    survival_time: 'int',
    alive: 'int',
    total_actors: 'int',
    actor_survival_rate: 'double',
    first_failure_at: 'int',
    efficiency: 'double',
    equality: 'double',
    need_met: 'double',
    payoff_equality: 'double',
    gini_payoff: 'double',
    over_harvest: 'double',
    over_usage_rate: 'double',
    harvest_actions: 'int',
    harvested: 'double',
    sustainable_harvest_at_start: 'double',
    collapsed_at: 'int',
    rounds_to_deal: 'double',
    proposals_sent: 'int',
    applied: 'int',
    rejected: 'int',
    deals_sessions: 'int',
    deals_agreed: 'int',
    llm_calls: 'int',
    llm_errors: 'int',
    prompt_tokens: 'bigint',
    completion_tokens: 'bigint',
    total_tokens: 'bigint',
    cost_usd: 'double',
    started_at: 'timestamp',
    finished_at: 'timestamp',
    llm_cache_hits: 'int',
    llm_cache_hit_rate: 'double',
    llm_saved_usd: 'double',
  }),
  ...MODEL,
];

export const EPOCH_COLUMNS: Column[] = [
  ...EPISODE,
  ...cols({
    epoch: 'int',
    alive: 'int',
    total_actors: 'int',
    actor_survival_rate: 'double',
    need_met: 'double',
    payoff_equality: 'double',
    proposals_sent: 'int',
    applied: 'int',
    rejected: 'int',
    conflicts: 'int',
    malformed: 'int',
    moves_pass: 'int',
    moves_transfer: 'int',
    moves_offer: 'int',
    moves_invalid: 'int',
    deals_sessions: 'int',
    deals_agreed: 'int',
    rounds_to_deal: 'double',
    deficit_actors: 'int',
    need: 'double',
    consumed: 'double',
    unmet: 'double',
    stock: 'double',
    regrowth: 'double',
    sustainable_harvest: 'double',
    harvest_requested: 'double',
    harvested: 'double',
    over_harvest: 'double',
    harvest_actions: 'int',
    over_usage_actions: 'int',
    over_usage_rate: 'double',
    collapsed: 'boolean',
    llm_calls: 'int',
    prompt_tokens: 'bigint',
    completion_tokens: 'bigint',
    total_tokens: 'bigint',
    cost_usd: 'double',
    duration_ms: 'int',
    started_at: 'timestamp',
    finished_at: 'timestamp',
  }),
  ...MODEL,
];

export const AGENT_COLUMNS: Column[] = [
  ...EPISODE,
  ...cols({
    epoch: 'int',
    agent: 'string',
    kind: 'string',
    failed: 'boolean',
    payoff: 'double',
    deficit: 'double',
    harvest_requested: 'double',
    harvest_granted: 'double',
    moves_pass: 'int',
    moves_transfer: 'int',
    moves_offer: 'int',
    moves_invalid: 'int',
    proposals_sent: 'int',
    applied: 'int',
    rejected: 'int',
    llm_calls: 'int',
    total_tokens: 'bigint',
    cost_usd: 'double',
  }),
  ...MODEL,
];

export const REJECTION_COLUMNS: Column[] = [
  ...EPISODE,
  ...cols({
    epoch: 'int',
    agent: 'string',
    slot: 'int',
    proposal_id: 'string',
    code: 'string',
    message: 'string',
    kind: 'string',
    counterparty: 'string',
    rejected_at: 'timestamp',
  }),
  ...MODEL,
];

/** The exported tables and their fixed columns, in the order they are written. */
export const EXPORT_COLUMNS = { runs: RUN_COLUMNS, epochs: EPOCH_COLUMNS, agents: AGENT_COLUMNS, rejections: REJECTION_COLUMNS } as const;
