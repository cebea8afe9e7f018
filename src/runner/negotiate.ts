import type { Strategy, TurnContext } from '../agents/types.ts';
import { counterProblem, quantityJson, type Offer, type RulesContext, type TranscriptEntry } from '../domain/negotiation.ts';
import { addUsage, emptyUsage, type TokenUsage } from '../domain/stats.ts';

export interface Session {
  initiator: string;
  counterparty: string;
  opening: Offer;
  openingReasoning: string;
  maxRounds: number;
  rules: (agent: string) => RulesContext;
  contextFor: (agent: string, round: number) => TurnContext;
  strategyFor: (agent: string) => Strategy;
}

export interface SessionResult {
  agreed: boolean;
  /** The accepted terms. */
  terms?: Offer;
  transcript: TranscriptEntry[];
  usage: Map<string, TokenUsage>;
  error?: string;
}

/**
 * One negotiation: the opening offer, then the two sides reply in turn, at most `maxRounds`
 * replies. Accept ends it with a deal on the latest terms; reject, an invalid answer, a counter
 * in the last round or the round limit end it without one.
 */
export async function negotiate(session: Session): Promise<SessionResult> {
  const { opening, initiator, counterparty } = session;
  const history: Offer[] = [opening];
  const transcript: TranscriptEntry[] = [
    {
      round: 0,
      by: initiator,
      type: 'offer',
      give: quantityJson(opening.give),
      get: quantityJson(opening.get),
      reasoning: session.openingReasoning,
    },
  ];
  const usage = new Map<string, TokenUsage>();
  const end = (agreed: boolean, error?: string): SessionResult => ({
    agreed,
    ...(agreed ? { terms: history[history.length - 1]! } : {}),
    transcript,
    usage,
    ...(error ? { error } : {}),
  });

  for (let round = 1; round <= session.maxRounds; round++) {
    const speaker = round % 2 === 1 ? counterparty : initiator;
    const other = speaker === initiator ? counterparty : initiator;
    const lastRound = round === session.maxRounds;
    const decided = await session.strategyFor(speaker).respond(session.contextFor(speaker, round), history, transcript, lastRound);
    usage.set(speaker, addUsage(usage.get(speaker) ?? emptyUsage(), decided.usage));
    const reply = decided.value;
    if (!reply) {
      transcript.push({ round, by: speaker, type: 'invalid', reasoning: decided.error ?? 'no valid answer' });
      return end(false, decided.error);
    }
    if (reply.decision === 'accept' || reply.decision === 'reject') {
      transcript.push({ round, by: speaker, type: reply.decision, reasoning: reply.reasoning });
      return end(reply.decision === 'accept');
    }
    if (lastRound) {
      transcript.push({ round, by: speaker, type: 'reject', reasoning: `countered in the last round: ${reply.reasoning}` });
      return end(false);
    }
    const latest = history[history.length - 1]!;
    const problem = counterProblem(reply, latest, session.rules(speaker));
    if (problem) {
      transcript.push({ round, by: speaker, type: 'invalid', reasoning: problem });
      return end(false, problem);
    }
    history.push({ maker: speaker, taker: other, give: reply.give, get: reply.get });
    transcript.push({
      round,
      by: speaker,
      type: 'counter',
      give: quantityJson(reply.give),
      get: quantityJson(reply.get),
      reasoning: reply.reasoning,
    });
  }
  return end(false);
}
