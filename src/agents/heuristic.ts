import type { Micro } from '../domain/money.ts';
import { formatMicro, microToNumber } from '../domain/money.ts';
import type { Move, Offer, Reply } from '../domain/negotiation.ts';
import { emptyUsage } from '../domain/stats.ts';
import { sustainableHarvest } from '../domain/commons.ts';
import { backingOff, justRejected } from './memory.ts';
import type { AgentProfile, Decided, MarketView, Strategy, TurnContext } from './types.ts';

/**
 * The offline strategy: deterministic given its seeded random source and the snapshot, and driven
 * by needs. An agent wants `horizon` epochs of its net consumption above the balance floor; it
 * buys what runs short first, pays with what it holds most of in value, bids more the closer it
 * is to running out, and sells only what it can spare. Amounts are exact micro units, rounded to
 * thousandths; prices are per-mille multipliers of the reference prices.
 *
 * Its character shapes it: a cooperative agent takes its share of what the commons can regrow
 * and helps those who run dry; a greedy one takes all it may and asks more; a naive one acts on
 * an old view of the commons and on the scenario's first prices. All of them remember what was
 * rejected: they do not send the same proposal again, turn to another counterparty, ask for less,
 * and after repeated rejections for a resource stop asking for it for a while.
 */

const UNIT = 1_000n; // 0.001: the finest amount the heuristic names
const ONE = 1_000_000n;
const PERMILLE = 1000n;

const done = <T>(value: T | undefined): Decided<T> => ({ value, usage: emptyUsage() });
const roundDown = (amount: Micro): Micro => (amount / UNIT) * UNIT;
const minOf = (...values: Micro[]): Micro => values.reduce((a, b) => (b < a ? b : a));

function held(view: MarketView, actor: string, resource: string): Micro {
  return view.holdings.get(actor)?.get(resource) ?? 0n;
}
const floorOf = (view: MarketView, resource: string) => view.limits.get(resource)?.minBalance ?? 0n;
const capOf = (view: MarketView, resource: string) => view.limits.get(resource)?.maxTransfer ?? null;
const priceOf = (view: MarketView, resource: string) => view.prices.get(resource) ?? ONE;

/** Net consumption per epoch that production does not cover. */
function netNeed(self: AgentProfile, resource: string): Micro {
  const need = (self.consumption.get(resource) ?? 0n) - (self.production.get(resource) ?? 0n);
  return need > 0n ? need : 0n;
}

/** What the agent wants to hold: the floor plus `horizon` epochs of net need. */
function target(self: AgentProfile, view: MarketView, resource: string): Micro {
  return floorOf(view, resource) + netNeed(self, resource) * BigInt(view.horizon);
}

/** What the agent can give away without cutting into its target (and this epoch's own use). */
export function spare(self: AgentProfile, view: MarketView, resource: string): Micro {
  const keep =
    netNeed(self, resource) > 0n ? target(self, view, resource) : floorOf(view, resource) + (self.consumption.get(resource) ?? 0n);
  const free = held(view, self.name, resource) - keep;
  return free > 0n ? roundDown(free) : 0n;
}

/** 0..1000: how close the agent is to running out of a resource it needs (0 when covered). */
export function urgency(self: AgentProfile, view: MarketView, resource: string): bigint {
  const need = netNeed(self, resource);
  if (need === 0n) return 0n;
  const horizon = BigInt(view.horizon);
  const cover = ((held(view, self.name, resource) - floorOf(view, resource)) * PERMILLE) / need; // epochs x 1000
  const left = horizon * PERMILLE - (cover > 0n ? cover : 0n);
  return left <= 0n ? 0n : left / horizon;
}

/** Resources the agent runs short of, most urgent first. */
function needs(self: AgentProfile, view: MarketView): string[] {
  return view.resources
    .filter((r) => netNeed(self, r) > 0n && held(view, self.name, r) < target(self, view, r))
    .map((r) => ({ r, u: urgency(self, view, r) }))
    .sort((a, b) => (a.u === b.u ? (a.r < b.r ? -1 : 1) : a.u > b.u ? -1 : 1))
    .map((x) => x.r);
}

/** How much of `to` trades for `amount` of `from` at a per-mille multiple of the reference prices. */
function convert(view: MarketView, amount: Micro, from: string, to: string, multiplier: bigint): Micro {
  return roundDown((amount * priceOf(view, from) * multiplier) / (priceOf(view, to) * PERMILLE));
}

/** The multiplier an offer implies: what the agent gets per unit given, against reference prices. */
function impliedMultiplier(view: MarketView, give: { resource: string; amount: Micro }, get: { resource: string; amount: Micro }): bigint {
  return (get.amount * priceOf(view, get.resource) * PERMILLE) / (give.amount * priceOf(view, give.resource));
}

/**
 * The least an agent accepts in return when giving `give` for `get`, per mille: more when it
 * needs what it gives, less when it needs what it gets, with a little seeded noise.
 */
function askMultiplier(ctx: TurnContext, give: string, get: string): bigint {
  const { self, view, random } = ctx;
  const greed = self.character === 'greedy' ? 100n : 0n;
  return (
    1000n +
    greed +
    (300n * urgency(self, view, give)) / PERMILLE -
    (400n * urgency(self, view, get)) / PERMILLE +
    BigInt(random.permille()) / 20n
  );
}

/**
 * How much of each commons resource to take. Cooperative: its equal share of the sustainable
 * harvest (what all can take and find the stock back where it is next epoch); what it does not
 * need it trades or gives to those short of it. Greedy: the most it may. Naive: its share of the
 * sustainable harvest judged on the stock it saw some epochs ago, and misjudged by its own seeded
 * noise, −10 % to +20 %. (Taking less than the share on purpose would let the stock creep up,
 * where less can be taken sustainably, until the share no longer feeds those who need more.)
 */
export function extraction(ctx: TurnContext): Map<string, Micro> {
  const { self, view, random } = ctx;
  const out = new Map<string, Micro>();
  const n = BigInt(Math.max(1, view.living ?? view.holdings.size));
  for (const [resource, c] of [...(view.commons?.entries() ?? [])].sort(([a], [b]) => (a < b ? -1 : 1))) {
    let amount: Micro;
    if (self.character === 'greedy') amount = c.maxExtraction;
    else if (self.character === 'naive') amount = (sustainableHarvest(c.staleStock, c) * (900n + BigInt(random.int(301)))) / (n * PERMILLE);
    // Its whole share even beyond its own need: a share left in the water raises the stock, which
    // lowers what can be taken sustainably, until the share no longer feeds those who need more.
    else amount = c.sustainableHarvest / n;
    amount = roundDown(minOf(amount, c.maxExtraction));
    if (amount >= UNIT) out.set(resource, amount);
  }
  return out;
}

/** Of a naive agent's turns, the share (per mille) spent on a mistake. */
const MISTAKE_PERMILLE = 150;

/**
 * The mistakes real models make, at a naive agent's seeded rate: a transfer of more than it holds,
 * one above max_transfer, or one to an actor that does not exist (a name misremembered). Each goes
 * to the validator as made, which rejects it on the record: INSUFFICIENT_BALANCE,
 * CONSTRAINT_VIOLATION or INVALID_ACTOR, a ticket like any rejection.
 */
export function mistake(ctx: TurnContext): Move | undefined {
  const { self, view, random } = ctx;
  if (self.character !== 'naive' || random.permille() >= MISTAKE_PERMILLE) return undefined;
  const others = [...view.holdings.keys()].filter((name) => name !== self.name).sort();
  const resource = view.resources[random.int(view.resources.length)];
  const to = others[random.int(others.length)];
  if (!resource || !to) return undefined;
  const overdraw = held(view, self.name, resource) + ONE;
  const cap = capOf(view, resource);
  const kind = random.int(3);
  if (kind === 1 && cap !== null)
    return { action: 'transfer', to, resource, amount: cap + ONE, reasoning: `sending ${to} a large gift of ${resource}` };
  if (kind === 2) {
    const misremembered = `${to}-old`;
    if (!view.ids.has(misremembered))
      return { action: 'transfer', to: misremembered, resource, amount: ONE, reasoning: `paying back ${misremembered}` };
  }
  return { action: 'transfer', to, resource, amount: overdraw, reasoning: `sending ${to} all my ${resource}, and a little more` };
}

function propose(ctx: TurnContext): Move {
  const slip = mistake(ctx);
  if (slip) return slip;
  const { self, view, random, turn } = ctx;
  const shortOf = needs(self, view);
  const wanted = shortOf[turn];
  if (wanted === undefined)
    return self.character === 'greedy' ? { action: 'pass', reasoning: 'my needs are covered; I keep what I have' } : aid(ctx);
  if (backingOff(ctx.memory, wanted, view.epoch))
    return { action: 'pass', reasoning: `my offers for ${wanted} were rejected again and again; backing off for now` };
  // A counterparty that just turned down (or could not settle) an offer for this resource is asked last.
  const refused = new Set(
    justRejected(ctx.memory, view.epoch)
      .filter((r) => r.get?.resource === wanted && r.counterparty)
      .map((r) => r.counterparty!),
  );
  const others = [...view.holdings.keys()]
    .filter((name) => name !== self.name && (!refused.has(name) || refused.size >= view.holdings.size - 1))
    .map((name) => ({ name, free: held(view, name, wanted) - floorOf(view, wanted) }))
    .filter((c) => c.free >= UNIT)
    .sort((a, b) => (a.free === b.free ? (a.name < b.name ? -1 : 1) : a.free > b.free ? -1 : 1));
  if (others.length === 0) return { action: 'pass', reasoning: `short of ${wanted}, but nobody holds any to spare` };
  // Mostly the biggest holder, sometimes the next ones: agents do not all queue at one door.
  const counterparty = others[Math.min(others.length - 1, Math.floor(random.next() ** 3 * Math.min(3, others.length)))]!;
  const payment = view.resources
    .filter((r) => r !== wanted)
    .map((r) => ({ r, value: spare(self, view, r) * priceOf(view, r) }))
    .filter((p) => p.value > 0n)
    .sort((a, b) => (a.value === b.value ? (a.r < b.r ? -1 : 1) : a.value > b.value ? -1 : 1))[0];
  if (!payment) return { action: 'pass', reasoning: `short of ${wanted}, with nothing to spare to pay for it` };

  const cap = capOf(view, wanted);
  let amount = minOf(target(self, view, wanted) - held(view, self.name, wanted), counterparty.free, ...(cap === null ? [] : [cap]));
  const u = urgency(self, view, wanted);
  const opening = 850n + (250n * u) / PERMILLE + BigInt(random.permille()) / 20n;
  const payCap = capOf(view, payment.r);
  // Its turns are planned from the same snapshot, so an agent splits what it can pay across its needs.
  const budget = minOf(spare(self, view, payment.r) / BigInt(shortOf.length), ...(payCap === null ? [] : [payCap]));
  let price = convert(view, amount, wanted, payment.r, opening);
  if (price > budget) {
    amount = roundDown((amount * budget) / price);
    price = convert(view, amount, wanted, payment.r, opening);
  }
  // Each recent rejection for this resource halves what the agent asks for, and the exact
  // proposal just rejected is never sent again.
  const recent = (ctx.memory?.rejections ?? []).filter((r) => r.get?.resource === wanted && r.epoch >= view.epoch - 2).length;
  for (let i = 0; i < recent || sameAsRejected(ctx, counterparty.name, payment.r, price, wanted, amount); i++) {
    amount = roundDown(amount / 2n);
    price = convert(view, amount, wanted, payment.r, opening);
    if (amount < UNIT) break;
  }
  amount = roundDown(amount);
  if (amount < UNIT || price < UNIT) return { action: 'pass', reasoning: `short of ${wanted}, but cannot afford a meaningful amount` };
  return {
    action: 'offer',
    to: counterparty.name,
    give: { resource: payment.r, amount: price },
    get: { resource: wanted, amount },
    reasoning: `${wanted} covers ${coverText(self, view, wanted)} of my need; ${counterparty.name} holds the most to spare; paying in ${payment.r}, my largest surplus`,
  };
}

function sameAsRejected(ctx: TurnContext, to: string, giveResource: string, give: Micro, getResource: string, get: Micro): boolean {
  return justRejected(ctx.memory, ctx.view.epoch).some(
    (r) =>
      r.counterparty === to &&
      r.give?.resource === giveResource &&
      r.get?.resource === getResource &&
      r.give.amount === microToNumber(give) &&
      r.get.amount === microToNumber(get),
  );
}

/** With no need left this turn, an agent with plenty sometimes helps one that has run dry. */
function aid(ctx: TurnContext): Move {
  const { self, view, random } = ctx;
  if (random.next() >= 0.2) return { action: 'pass', reasoning: 'my needs are covered for now' };
  for (const resource of view.resources) {
    const free = spare(self, view, resource);
    const cap = capOf(view, resource);
    const gift = roundDown(minOf(free / 10n, ...(cap === null ? [] : [cap])));
    if (gift < UNIT) continue;
    const dry = [...view.holdings.keys()]
      .filter((name) => name !== self.name && held(view, name, resource) <= floorOf(view, resource))
      .sort();
    if (dry.length === 0) continue;
    const to = dry[random.int(dry.length)]!;
    return {
      action: 'transfer',
      to,
      resource,
      amount: gift,
      reasoning: `${to} has run out of ${resource}; I can spare ${formatMicro(gift)}`,
    };
  }
  return { action: 'pass', reasoning: 'my needs are covered and nobody has run dry' };
}

function coverText(self: AgentProfile, view: MarketView, resource: string): string {
  const need = netNeed(self, resource);
  const free = held(view, self.name, resource) - floorOf(view, resource);
  return need === 0n ? 'all' : `${formatMicro(((free > 0n ? free : 0n) * ONE) / need)} epochs`;
}

/**
 * Answers the terms on the table, whichever side the agent is on: it is asked to give
 * `offer.get` and would receive `offer.give`. It never gives what it cannot spare, accepts a price
 * at or above its ask, and otherwise meets the other side halfway until the last round.
 */
function respond(ctx: TurnContext, history: readonly Offer[], lastRound: boolean): Reply {
  const { self, view } = ctx;
  const offer = history[history.length - 1]!;
  const give = offer.get;
  const get = offer.give;
  const free = minOf(spare(self, view, give.resource), ...(capOf(view, give.resource) === null ? [] : [capOf(view, give.resource)!]));
  if (free < UNIT) return { decision: 'reject', reasoning: `I cannot spare any ${give.resource}` };
  const ask = askMultiplier(ctx, give.resource, get.resource);
  const offered = impliedMultiplier(view, give, get);
  if (give.amount <= free && offered >= ask) {
    return { decision: 'accept', reasoning: `a fair price for ${give.resource} (${offered} per mille of reference, I ask ${ask})` };
  }
  if (lastRound)
    return { decision: 'reject', reasoning: `no agreement within the round limit (offered ${offered}, I ask ${ask} per mille)` };
  const amount = minOf(give.amount, free);
  const meet = offered >= ask ? ask : (offered + ask) / 2n;
  const price = convert(view, amount, give.resource, get.resource, meet);
  if (price < UNIT) return { decision: 'reject', reasoning: 'too small to trade' };
  return {
    decision: 'counter',
    give: { resource: give.resource, amount },
    get: { resource: get.resource, amount: price },
    reasoning:
      amount < give.amount ? `I can spare only ${formatMicro(amount)} ${give.resource}` : `meet me halfway: ${meet} per mille of reference`,
  };
}

/** A naive agent prices with the scenario's first reference prices, whatever deals have done since. */
function asSeen(ctx: TurnContext): TurnContext {
  if (ctx.self.character !== 'naive' || !ctx.view.initialPrices) return ctx;
  return { ...ctx, view: { ...ctx.view, prices: ctx.view.initialPrices } };
}

export function createHeuristicStrategy(): Strategy {
  return {
    name: 'heuristic',
    propose: async (ctx) => done(propose(asSeen(ctx))),
    respond: async (ctx, history, _transcript, lastRound) => done(respond(asSeen(ctx), history, lastRound)),
    extract: async (ctx) => done(extraction(ctx)),
  };
}
