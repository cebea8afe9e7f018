import { MAX_LEG_MICRO, microToNumber, parseAmount, type Micro } from './money.ts';

/**
 * Negotiation rules. On its turn an agent passes, transfers (a gift: one leg, no consent needed),
 * or offers a counterparty a swap: "I give you X of r1 for Y of r2". The counterparty accepts,
 * rejects or counters with other amounts of the same two resources, sides swapped; the two reply
 * in turn until one accepts, one rejects, or the round limit ends the session without a deal.
 */

export interface Quantity {
  resource: string;
  amount: Micro;
}

export type Move =
  | { action: 'pass'; reasoning: string }
  | { action: 'transfer'; to: string; resource: string; amount: Micro; reasoning: string }
  | { action: 'offer'; to: string; give: Quantity; get: Quantity; reasoning: string };

export type Reply =
  | { decision: 'accept'; reasoning: string }
  | { decision: 'reject'; reasoning: string }
  | { decision: 'counter'; give: Quantity; get: Quantity; reasoning: string };

/** Terms on the table: `maker` gives `give` to `taker` and receives `get` from it. */
export interface Offer {
  maker: string;
  taker: string;
  give: Quantity;
  get: Quantity;
}

export interface TranscriptEntry {
  round: number;
  by: string;
  type: 'offer' | 'counter' | 'accept' | 'reject' | 'transfer' | 'pass' | 'invalid';
  give?: { resource: string; amount: number };
  get?: { resource: string; amount: number };
  reasoning: string;
}

export interface RulesContext {
  self: string;
  actors: ReadonlySet<string>;
  resources: ReadonlySet<string>;
}

const MAX_REASONING = 600;

/** Why a move breaks the rules, or undefined when it is well formed (balances are the validator's call). */
export function moveProblem(move: Move, ctx: RulesContext): string | undefined {
  if (move.action === 'pass') return undefined;
  if (move.to === ctx.self) return 'an agent cannot trade with itself';
  if (!ctx.actors.has(move.to)) return `unknown counterparty ${move.to}`;
  if (move.action === 'transfer') return quantityProblem({ resource: move.resource, amount: move.amount }, ctx);
  return (
    quantityProblem(move.give, ctx) ??
    quantityProblem(move.get, ctx) ??
    (move.give.resource === move.get.resource ? 'a swap needs two different resources' : undefined)
  );
}

/** Why a counter does not fit the offer it answers: same two resources, sides swapped. */
export function counterProblem(reply: Extract<Reply, { decision: 'counter' }>, offer: Offer, ctx: RulesContext): string | undefined {
  if (reply.give.resource !== offer.get.resource || reply.get.resource !== offer.give.resource) {
    return `a counter must give ${offer.get.resource} for ${offer.give.resource}`;
  }
  return quantityProblem(reply.give, ctx) ?? quantityProblem(reply.get, ctx);
}

function quantityProblem(q: Quantity, ctx: RulesContext): string | undefined {
  if (!ctx.resources.has(q.resource)) return `unknown resource ${q.resource}`;
  if (q.amount <= 0n) return 'amounts must be greater than 0';
  if (q.amount > MAX_LEG_MICRO) return 'amount too large';
  return undefined;
}

/** A model's number as an exact amount: rounded to 6 places at the boundary, never beyond it. */
export function amountFromModel(value: number): Micro | undefined {
  if (!Number.isFinite(value) || value <= 0 || value >= 1e9) return undefined;
  const parsed = parseAmount(value.toFixed(6));
  return parsed.ok && parsed.value > 0n ? parsed.value : undefined;
}

export const shortReason = (text: string): string => (text.length > MAX_REASONING ? `${text.slice(0, MAX_REASONING - 1)}…` : text);

export const quantityJson = (q: Quantity) => ({ resource: q.resource, amount: microToNumber(q.amount) });
