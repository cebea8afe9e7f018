import type { Micro } from './money.ts';
import type { SettlementSummary } from './economy.ts';

/**
 * Gini coefficient of non-negative amounts: 0 when everyone holds the same, towards 1 when one
 * holder has everything. Summed exactly in micro units; only the final ratio is a float.
 */
export function gini(values: readonly Micro[]): number {
  const sorted = values.filter((v) => v >= 0n).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const n = BigInt(sorted.length);
  const total = sorted.reduce((sum, v) => sum + v, 0n);
  if (n === 0n || total === 0n) return 0;
  const weighted = sorted.reduce((sum, v, i) => sum + BigInt(i + 1) * v, 0n);
  const numerator = 2n * weighted - (n + 1n) * total;
  const scaled = (numerator * 1_000_000n) / (n * total);
  return Math.round(Number(scaled) / 100) / 10_000;
}

export interface SlotOutcome {
  agent: string;
  /** What the turn produced: a deal sent as a swap, a transfer, nothing (pass, no deal), or an invalid answer. */
  move: 'pass' | 'transfer' | 'offer' | 'invalid';
  agreed: boolean;
  /** How the validator settled the slot, when something was sent. */
  result?: 'applied' | 'rejected' | 'conflict' | 'malformed';
  errorCode?: string;
}

export interface TokenUsage {
  calls: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export const emptyUsage = (): TokenUsage => ({ calls: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });

export function addUsage(into: TokenUsage, more: TokenUsage): TokenUsage {
  into.calls += more.calls;
  into.errors += more.errors;
  into.prompt_tokens += more.prompt_tokens;
  into.completion_tokens += more.completion_tokens;
  into.total_tokens += more.total_tokens;
  return into;
}

export interface EpochStats {
  epoch: number;
  proposals: { sent: number; applied: number; rejected: number; conflicts: number; malformed: number; rejected_by_code: Record<string, number> };
  moves: { pass: number; transfer: number; offer: number; invalid: number };
  negotiation: { sessions: number; agreed: number; success_rate: number };
  supply: Record<string, number>;
  gini: Record<string, number>;
  deficit: { actors: number; names: string[]; unmet: Record<string, number> };
  production: Record<string, number>;
  consumed: Record<string, number>;
  llm: TokenUsage & { by_agent: Record<string, TokenUsage> };
}

export interface EpochStatsInput {
  epoch: number;
  outcomes: readonly SlotOutcome[];
  settlement: SettlementSummary;
  supply: Record<string, number>;
  /** Every non-world actor's holding per resource at the end of the epoch. */
  holdings: Record<string, readonly Micro[]>;
  usage: Record<string, TokenUsage>;
}

/** The per-epoch figures the runner stores and prints. */
export function epochStats(input: EpochStatsInput): EpochStats {
  const proposals = { sent: 0, applied: 0, rejected: 0, conflicts: 0, malformed: 0, rejected_by_code: {} as Record<string, number> };
  const moves = { pass: 0, transfer: 0, offer: 0, invalid: 0 };
  let agreed = 0;
  for (const o of input.outcomes) {
    moves[o.move] += 1;
    if (o.move === 'offer' && o.agreed) agreed += 1;
    if (!o.result) continue;
    proposals.sent += 1;
    if (o.result === 'applied') proposals.applied += 1;
    else if (o.result === 'conflict') proposals.conflicts += 1;
    else if (o.result === 'malformed') proposals.malformed += 1;
    else {
      proposals.rejected += 1;
      const code = o.errorCode ?? 'UNKNOWN';
      proposals.rejected_by_code[code] = (proposals.rejected_by_code[code] ?? 0) + 1;
    }
  }
  const names = [...new Set(input.settlement.deficits.map((d) => d.actor))].sort();
  const byAgent = Object.fromEntries(Object.entries(input.usage).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const total = Object.values(byAgent).reduce((sum, u) => addUsage(sum, u), { calls: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
  return {
    epoch: input.epoch,
    proposals,
    moves,
    negotiation: { sessions: moves.offer, agreed, success_rate: moves.offer === 0 ? 0 : Math.round((agreed / moves.offer) * 10_000) / 10_000 },
    supply: input.supply,
    gini: Object.fromEntries(Object.entries(input.holdings).map(([resource, values]) => [resource, gini(values)])),
    deficit: { actors: names.length, names, unmet: input.settlement.unmet },
    production: input.settlement.production,
    consumed: input.settlement.consumed,
    llm: { ...total, by_agent: byAgent },
  };
}
