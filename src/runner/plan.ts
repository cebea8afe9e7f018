import type { Logger } from 'pino';
import type { AgentMemory } from '../agents/memory.ts';
import type { AgentProfile, MarketView, Strategy, StrategyName, TurnContext } from '../agents/types.ts';
import type { ExtractionGrant } from '../domain/commons.ts';
import { deriveId } from '../domain/ids.ts';
import { formatMicro } from '../domain/money.ts';
import { moveProblem, quantityJson, type Move, type Offer, type RulesContext, type TranscriptEntry } from '../domain/negotiation.ts';
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

/** What the agents ask to take from the commons; storing the plan settles it and adds the grants. */
export interface ExtractionPlan {
  requests: Array<{ agent: string; resource: string; amount: string }>;
  granted?: ExtractionGrant[];
}

export interface EpochPlan {
  run_id: string;
  epoch: number;
  /** The ledger head of the snapshot the plan was made from. */
  ledger_head: number;
  order: string[];
  slots: PlannedSlot[];
  usage: Record<string, TokenUsage>;
  extraction?: ExtractionPlan;
  /** Short notes the agents wrote to themselves this epoch. */
  reflections?: Record<string, string>;
}

export interface PlanInput {
  runId: string;
  seed: string;
  epoch: number;
  view: MarketView;
  /** The run's living agents. */
  agents: readonly AgentProfile[];
  strategies: ReadonlyMap<StrategyName, Strategy>;
  turns: number;
  /** Sessions negotiated at once (they are independent; the order of the plan does not depend on it). */
  concurrency: number;
  /** What each agent remembers of earlier epochs. */
  memory?: ReadonlyMap<string, AgentMemory>;
  /** Whether agents that can reflect do so before this epoch's moves. */
  reflect?: boolean;
  logger?: Pick<Logger, 'warn' | 'debug'>;
}

/** proposal_id of a turn: UUIDv5 of (run, epoch, agent, slot). */
export const slotProposalId = (runId: string, epoch: number, agentId: string, slot: number) =>
  deriveId('trade', runId, epoch, agentId, slot);

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
  const memoryOf = (name: string) => input.memory?.get(name);
  const usage = new Map<string, TokenUsage>();
  const charge = (agent: string, more: TokenUsage) => usage.set(agent, addUsage(usage.get(agent) ?? emptyUsage(), more));
  // Each cause is logged at warn once per run by the runner, and counted on the epoch line.
  const lost = (agent: string, what: string, error: string | undefined) =>
    input.logger?.debug(
      { run_id: runId, epoch, agent, cause: error ?? 'no valid answer' },
      `${agent} lost its ${what}: the answer could not be used`,
    );

  // Reflection first (it shapes the moves), then the extraction each living agent asks for.
  const reflections: Record<string, string> = {};
  const requests: ExtractionPlan['requests'] = [];
  for (const agent of [...order].sort()) {
    const strategy = strategyFor(agent);
    const ctx = (what: string): TurnContext => ({
      self: profileOf(agent),
      view,
      turn: 0,
      random: seededRandom(seed, epoch, agent, what),
      memory: memoryOf(agent),
    });
    if (input.reflect && strategy.reflect) {
      const note = await strategy.reflect(ctx('reflect'));
      charge(agent, note.usage);
      if (note.value) reflections[agent] = note.value;
      else lost(agent, 'reflection', note.error);
    }
    if (!view.commons) continue;
    const taken = await strategy.extract(ctx('extract'));
    charge(agent, taken.usage);
    if (!taken.value) lost(agent, 'extraction', taken.error);
    for (const [resource, amount] of [...(taken.value ?? [])].sort(([a], [b]) => (a < b ? -1 : 1))) {
      requests.push({ agent, resource, amount: formatMicro(amount) });
    }
  }

  const jobs = Array.from({ length: input.turns }, (_, turn) => order.map((agent) => ({ agent, turn }))).flat();
  const slots: PlannedSlot[] = new Array<PlannedSlot>(jobs.length);

  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const index = next++;
      const { agent, turn } = jobs[index]!;
      const self = profileOf(agent);
      const ctx: TurnContext = { self, view, turn, random: seededRandom(seed, epoch, agent, turn, 'propose'), memory: memoryOf(agent) };
      const strategy = strategyFor(agent);
      const decided = await strategy.propose(ctx);
      charge(agent, decided.usage);
      const base = { agent, slot: turn, strategy: strategy.name };
      const move = decided.value;
      if (!move) {
        // Only an answer that could not be parsed costs the turn.
        lost(agent, `turn ${turn + 1}`, decided.error);
        slots[index] = {
          ...base,
          move: 'invalid',
          agreed: false,
          reasoning: '',
          transcript: [],
          error: decided.error ?? 'no valid answer',
        };
        continue;
      }
      const proposalId = slotProposalId(runId, epoch, self.id, turn);
      const meta = (extra: Record<string, unknown>) => ({
        run_id: runId,
        epoch,
        slot: turn,
        agent,
        strategy: base.strategy,
        ...(strategy.model ? { model: strategy.model } : {}),
        ...extra,
      });
      if (move.action === 'pass') {
        slots[index] = { ...base, move: 'pass', agreed: false, reasoning: move.reasoning, transcript: [] };
        continue;
      }
      // A move naming an actor or resource that does not exist (or the agent itself) is not
      // negotiated: it goes to the validator as proposed, which rejects it on the record.
      const problem = moveProblem(move, rules(agent));
      const unknownActor = !view.ids.has(move.to);
      if (move.action === 'transfer' || (problem && (unknownActor || move.to === agent || !/^unknown counterparty/.test(problem)))) {
        slots[index] = asProposed({ base, move, self, view, proposalId, meta, problem });
        continue;
      }
      if (problem) {
        // A real actor that does not trade (the commons, a failed actor) never answers.
        const transcript: TranscriptEntry[] = [
          { round: 0, by: agent, type: 'offer', give: quantityJson(move.give), get: quantityJson(move.get), reasoning: move.reasoning },
          { round: 1, by: move.to, type: 'reject', reasoning: `${move.to} does not trade` },
        ];
        slots[index] = {
          ...base,
          move: 'offer',
          counterparty: move.to,
          agreed: false,
          reasoning: move.reasoning,
          transcript,
          error: problem,
        };
        continue;
      }
      const opening: Offer = { maker: agent, taker: move.to, give: move.give, get: move.get };
      const session = await negotiate({
        initiator: agent,
        counterparty: move.to,
        opening,
        openingReasoning: move.reasoning,
        maxRounds: view.maxRounds,
        rules,
        strategyFor,
        contextFor: (who, round) => ({
          self: profileOf(who),
          view,
          turn,
          random: seededRandom(seed, epoch, who, turn, agent, round, 'respond'),
        }),
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
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(input.concurrency, jobs.length)) }, worker));
  return {
    run_id: runId,
    epoch,
    ledger_head: view.ledgerHead,
    order,
    slots,
    usage: Object.fromEntries([...usage].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    ...(view.commons ? { extraction: { requests } } : {}),
    ...(Object.keys(reflections).length ? { reflections } : {}),
  };
}

/** A move sent as the agent made it: a transfer, or an offer naming what does not exist. */
function asProposed(a: {
  base: Pick<PlannedSlot, 'agent' | 'slot' | 'strategy'>;
  move: Exclude<Move, { action: 'pass' }>;
  self: AgentProfile;
  view: MarketView;
  proposalId: string;
  meta: (extra: Record<string, unknown>) => Record<string, unknown>;
  problem: string | undefined;
}): PlannedSlot {
  const { move, self, view } = a;
  // An unknown name goes as the model wrote it; the validator resolves names and ids alike.
  const to = view.ids.get(move.to) ?? move.to;
  const leg = (from: string, toId: string, q: { resource: string; amount: bigint }) => ({
    actor_from: from,
    actor_to: toId,
    resource: q.resource,
    amount: formatMicro(q.amount),
  });
  const transcript: TranscriptEntry[] =
    move.action === 'transfer'
      ? [{ round: 0, by: a.base.agent, type: 'transfer', give: quantityJson(move), reasoning: move.reasoning }]
      : [
          {
            round: 0,
            by: a.base.agent,
            type: 'offer',
            give: quantityJson(move.give),
            get: quantityJson(move.get),
            reasoning: move.reasoning,
          },
        ];
  const legs = move.action === 'transfer' ? [leg(self.id, to, move)] : [leg(self.id, to, move.give), leg(to, self.id, move.get)];
  return {
    ...a.base,
    move: move.action,
    counterparty: move.to,
    agreed: move.action === 'transfer',
    reasoning: move.reasoning,
    transcript,
    proposal: {
      proposal_id: a.proposalId,
      legs,
      metadata: a.meta({
        kind: move.action === 'transfer' ? 'transfer' : 'swap',
        counterparty: move.to,
        reasoning: move.reasoning,
        transcript,
        ...(a.problem ? { problem: a.problem } : {}),
      }),
    },
  };
}
