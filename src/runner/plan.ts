import type { AgentProfile, MarketView, Strategy, StrategyName, TurnContext } from '../agents/types.ts';
import { deriveId } from '../domain/ids.ts';
import { formatMicro } from '../domain/money.ts';
import { moveProblem, quantityJson, type Offer, type RulesContext, type TranscriptEntry } from '../domain/negotiation.ts';
import { seededRandom, shuffled } from '../domain/random.ts';
import { addUsage, emptyUsage, type TokenUsage } from '../domain/stats.ts';
import { negotiate } from './negotiate.ts';

/**
 * An epoch's plan: every agent's turns, negotiated from one snapshot (the world after settlement)
 * as independent sessions, the way agents talking at the same time would. The validator settles
 * any overbooking when the deals arrive. The plan is stored before the first trade is sent, so a
 * restarted runner sends the same proposals again (the validator deduplicates) instead of
 * deciding anew from a world its own earlier trades have changed.
 */

export interface ProposalBody {
  proposal_id: string;
  legs: Array<{ actor_from: string; actor_to: string; resource: string; amount: string }>;
  metadata: Record<string, unknown>;
}

export interface PlannedSlot {
  agent: string;
  slot: number;
  strategy: StrategyName;
  move: 'pass' | 'transfer' | 'offer' | 'invalid';
  counterparty?: string;
  agreed: boolean;
  reasoning: string;
  transcript: TranscriptEntry[];
  /** What to send to POST /execute: a deal or a transfer; absent for a pass or a failed negotiation. */
  proposal?: ProposalBody;
  error?: string;
}

export interface EpochPlan {
  run_id: string;
  epoch: number;
  /** The ledger head of the snapshot the plan was made from. */
  ledger_head: number;
  order: string[];
  slots: PlannedSlot[];
  usage: Record<string, TokenUsage>;
}

export interface PlanInput {
  runId: string;
  seed: string;
  epoch: number;
  view: MarketView;
  agents: readonly AgentProfile[];
  strategies: ReadonlyMap<StrategyName, Strategy>;
  turns: number;
  /** Sessions negotiated at once (they are independent; the order of the plan does not depend on it). */
  concurrency: number;
}

/** proposal_id of a turn: UUIDv5 of (run, epoch, agent, slot). */
export const slotProposalId = (runId: string, epoch: number, agentId: string, slot: number) => deriveId('trade', runId, epoch, agentId, slot);

export async function planEpoch(input: PlanInput): Promise<EpochPlan> {
  const { view, runId, epoch, seed } = input;
  const byName = new Map(input.agents.map((a) => [a.name, a]));
  const order = shuffled(
    input.agents.map((a) => a.name),
    seededRandom(seed, epoch, 'order'),
  );
  const others = new Set(view.holdings.keys());
  const rules = (agent: string): RulesContext => ({ self: agent, actors: others, resources: new Set(view.resources) });
  const strategyFor = (agent: string): Strategy => {
    const strategy = input.strategies.get(byName.get(agent)?.strategy ?? 'heuristic') ?? input.strategies.get('heuristic');
    if (!strategy) throw new Error(`no strategy for ${agent}`);
    return strategy;
  };
  // Only the run's agents act; a counterparty outside the scenario is answered by the heuristic.
  const profileOf = (name: string): AgentProfile =>
    byName.get(name) ?? { id: view.ids.get(name) ?? name, name, strategy: 'heuristic', production: new Map(), consumption: new Map() };

  const jobs = Array.from({ length: input.turns }, (_, turn) => order.map((agent) => ({ agent, turn }))).flat();
  const slots: PlannedSlot[] = new Array<PlannedSlot>(jobs.length);
  const usage = new Map<string, TokenUsage>();
  const charge = (agent: string, more: TokenUsage) => usage.set(agent, addUsage(usage.get(agent) ?? emptyUsage(), more));

  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const index = next++;
      const { agent, turn } = jobs[index]!;
      const self = profileOf(agent);
      const ctx: TurnContext = { self, view, turn, random: seededRandom(seed, epoch, agent, turn, 'propose') };
      const decided = await strategyFor(agent).propose(ctx);
      charge(agent, decided.usage);
      const base = { agent, slot: turn, strategy: strategyFor(agent).name };
      const move = decided.value;
      const problem = move ? moveProblem(move, rules(agent)) : decided.error;
      if (!move || problem) {
        slots[index] = { ...base, move: 'invalid', agreed: false, reasoning: '', transcript: [], error: problem ?? 'no valid answer' };
        continue;
      }
      const proposalId = slotProposalId(runId, epoch, self.id, turn);
      const meta = (extra: Record<string, unknown>) => ({ run_id: runId, epoch, slot: turn, agent, strategy: base.strategy, ...extra });
      if (move.action === 'pass') {
        slots[index] = { ...base, move: 'pass', agreed: false, reasoning: move.reasoning, transcript: [] };
      } else if (move.action === 'transfer') {
        const transcript: TranscriptEntry[] = [{ round: 0, by: agent, type: 'transfer', give: quantityJson(move), reasoning: move.reasoning }];
        slots[index] = {
          ...base,
          move: 'transfer',
          counterparty: move.to,
          agreed: true,
          reasoning: move.reasoning,
          transcript,
          proposal: {
            proposal_id: proposalId,
            legs: [{ actor_from: self.id, actor_to: view.ids.get(move.to)!, resource: move.resource, amount: formatMicro(move.amount) }],
            metadata: meta({ kind: 'transfer', counterparty: move.to, reasoning: move.reasoning, transcript }),
          },
        };
      } else {
        const opening: Offer = { maker: agent, taker: move.to, give: move.give, get: move.get };
        const session = await negotiate({
          initiator: agent,
          counterparty: move.to,
          opening,
          openingReasoning: move.reasoning,
          maxRounds: view.maxRounds,
          rules,
          strategyFor,
          contextFor: (who, round) => ({ self: profileOf(who), view, turn, random: seededRandom(seed, epoch, who, turn, agent, round, 'respond') }),
        });
        for (const [who, spent] of session.usage) charge(who, spent);
        const slot: PlannedSlot = {
          ...base,
          move: 'offer',
          counterparty: move.to,
          agreed: session.agreed,
          reasoning: move.reasoning,
          transcript: session.transcript,
          ...(session.error ? { error: session.error } : {}),
        };
        if (session.agreed && session.terms) {
          // The initiator's leg first, whoever made the accepted terms.
          const t = session.terms;
          const [mine, theirs] = t.maker === agent ? [t.give, t.get] : [t.get, t.give];
          const cp = view.ids.get(move.to)!;
          slot.proposal = {
            proposal_id: proposalId,
            legs: [
              { actor_from: self.id, actor_to: cp, resource: mine.resource, amount: formatMicro(mine.amount) },
              { actor_from: cp, actor_to: self.id, resource: theirs.resource, amount: formatMicro(theirs.amount) },
            ],
            metadata: meta({
              kind: 'swap',
              counterparty: move.to,
              counterparty_strategy: strategyFor(move.to).name,
              rounds: session.transcript.length - 1,
              reasoning: move.reasoning,
              transcript: session.transcript,
            }),
          };
        }
        slots[index] = slot;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(input.concurrency, jobs.length)) }, worker));
  return {
    run_id: runId,
    epoch,
    ledger_head: view.ledgerHead,
    order,
    slots,
    usage: Object.fromEntries([...usage].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  };
}
