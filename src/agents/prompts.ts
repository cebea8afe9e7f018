import { z } from 'zod';
import { microToNumber } from '../domain/money.ts';
import { amountFromModel, shortReason, type Move, type Offer, type Reply, type TranscriptEntry } from '../domain/negotiation.ts';
import type { MarketView, TurnContext } from './types.ts';

/**
 * What a language model is told and what it must answer. Answers are JSON constrained by a JSON
 * schema (structured output), then checked again here: a model may still break the schema, and
 * such an answer costs the agent its turn.
 */

export const SYSTEM_INSTRUCTION = [
  'You are an autonomous agent in a simulated regional grid economy that trades scarce resources.',
  'Each epoch you produce and consume resources; consumption you cannot cover goes unmet.',
  'On your turn you may pass, transfer (give a resource to another actor as a gift), or offer a',
  'swap to one counterparty: you give give_amount of give_resource and get get_amount of get_resource.',
  'A counterparty may accept, reject or counter with other amounts of the same two resources, sides swapped.',
  'Respect the limits: no leg above max_transfer, and a trade may not take a sender below min_balance.',
  'A validator judges every proposal; a rejected one names its error code and reason in your memory: do not send it again as it was.',
  'Reference prices are the value of one unit of each resource in a common measure; they move with the deals made.',
  'An offer at reference prices is fair; paying more buys urgency, asking more risks no deal.',
  'Some worlds have a commons: a stock that regrows each epoch, logistically (fastest at half its capacity, not at all when full).',
  'Its sustainable harvest is the most all agents together can take this epoch and still find the stock back where it is next epoch;',
  'taking more leaves it lower, and below its collapse threshold it never regrows: every agent then goes short.',
  'An actor whose need goes unmet for too many epochs in a row fails and leaves the game.',
  'Answer with JSON only, matching the schema. Keep the reasoning to one or two sentences.',
].join(' ');

const name = { type: 'string' } as const;
const amount = { type: 'number', exclusiveMinimum: 0 } as const;

export const moveJsonSchema = {
  type: 'object',
  properties: {
    action: { type: 'string', enum: ['pass', 'transfer', 'offer'] },
    counterparty: { ...name, description: 'the other actor, by name (transfer and offer)' },
    give_resource: { ...name, description: 'what you give (transfer and offer)' },
    give_amount: amount,
    get_resource: { ...name, description: 'what you want in return (offer)' },
    get_amount: amount,
    reasoning: { type: 'string' },
  },
  required: ['action', 'reasoning'],
  additionalProperties: false,
} as const;

export const replyJsonSchema = {
  type: 'object',
  properties: {
    decision: { type: 'string', enum: ['accept', 'reject', 'counter'] },
    give_resource: { ...name, description: 'counter: what you give (the resource you were asked for)' },
    give_amount: amount,
    get_resource: { ...name, description: 'counter: what you want in return (the resource you were offered)' },
    get_amount: amount,
    reasoning: { type: 'string' },
  },
  required: ['decision', 'reasoning'],
  additionalProperties: false,
} as const;

const modelAmount = z
  .number()
  .transform((v, ctx) => amountFromModel(v) ?? (ctx.addIssue({ code: 'custom', message: 'must be a positive amount below 1e9' }), z.NEVER));
const text = z.string().max(4000);
const moveAnswer = z.discriminatedUnion('action', [
  z.object({ action: z.literal('pass'), reasoning: text }),
  z.object({
    action: z.literal('transfer'),
    counterparty: z.string().min(1),
    give_resource: z.string().min(1),
    give_amount: modelAmount,
    reasoning: text,
  }),
  z.object({
    action: z.literal('offer'),
    counterparty: z.string().min(1),
    give_resource: z.string().min(1),
    give_amount: modelAmount,
    get_resource: z.string().min(1),
    get_amount: modelAmount,
    reasoning: text,
  }),
]);
const replyAnswer = z.discriminatedUnion('decision', [
  z.object({ decision: z.literal('accept'), reasoning: text }),
  z.object({ decision: z.literal('reject'), reasoning: text }),
  z.object({
    decision: z.literal('counter'),
    give_resource: z.string().min(1),
    give_amount: modelAmount,
    get_resource: z.string().min(1),
    get_amount: modelAmount,
    reasoning: text,
  }),
]);

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

function parseJson(raw: string): Parsed<unknown> {
  const trimmed = raw.trim().replace(/^```(?:json)?\s*|\s*```$/g, '');
  try {
    return { ok: true, value: JSON.parse(trimmed) };
  } catch {
    return { ok: false, error: `not JSON: ${raw.slice(0, 80)}` };
  }
}

function issue(error: z.ZodError): string {
  const first = error.issues[0];
  return `schema: ${first?.path.join('.') || 'answer'}: ${first?.message ?? 'invalid'}`;
}

export function parseMove(raw: string): Parsed<Move> {
  const json = parseJson(raw);
  if (!json.ok) return json;
  const parsed = moveAnswer.safeParse(json.value);
  if (!parsed.success) return { ok: false, error: issue(parsed.error) };
  const a = parsed.data;
  const reasoning = shortReason(a.reasoning);
  switch (a.action) {
    case 'pass':
      return { ok: true, value: { action: 'pass', reasoning } };
    case 'transfer':
      return { ok: true, value: { action: 'transfer', to: a.counterparty, resource: a.give_resource, amount: a.give_amount, reasoning } };
    case 'offer':
      return {
        ok: true,
        value: {
          action: 'offer',
          to: a.counterparty,
          give: { resource: a.give_resource, amount: a.give_amount },
          get: { resource: a.get_resource, amount: a.get_amount },
          reasoning,
        },
      };
  }
}

export function parseReply(raw: string): Parsed<Reply> {
  const json = parseJson(raw);
  if (!json.ok) return json;
  const parsed = replyAnswer.safeParse(json.value);
  if (!parsed.success) return { ok: false, error: issue(parsed.error) };
  const a = parsed.data;
  const reasoning = shortReason(a.reasoning);
  if (a.decision !== 'counter') return { ok: true, value: { decision: a.decision, reasoning } };
  return {
    ok: true,
    value: {
      decision: 'counter',
      give: { resource: a.give_resource, amount: a.give_amount },
      get: { resource: a.get_resource, amount: a.get_amount },
      reasoning,
    },
  };
}

/** The agent's view as the model reads it: plain numbers, names instead of ids. */
export function viewJson(ctx: TurnContext): Record<string, unknown> {
  const { self, view } = ctx;
  const balances = (actor: string) =>
    Object.fromEntries(view.resources.map((r) => [r, microToNumber(view.holdings.get(actor)?.get(r) ?? 0n)]));
  const perEpoch = (m: ReadonlyMap<string, bigint>) => Object.fromEntries([...m].map(([r, v]) => [r, microToNumber(v)]));
  return {
    epoch: view.epoch,
    you: {
      name: self.name,
      balances: balances(self.name),
      production_per_epoch: perEpoch(self.production),
      consumption_per_epoch: perEpoch(self.consumption),
    },
    others: [...view.holdings.keys()].filter((n) => n !== self.name).map((n) => ({ name: n, balances: balances(n) })),
    limits: Object.fromEntries(
      view.resources.map((r) => {
        const l = view.limits.get(r);
        return [
          r,
          { max_transfer: l?.maxTransfer == null ? null : microToNumber(l.maxTransfer), min_balance: microToNumber(l?.minBalance ?? 0n) },
        ];
      }),
    ),
    reference_prices: Object.fromEntries(view.resources.map((r) => [r, microToNumber(view.prices.get(r) ?? 1_000_000n)])),
    plan_ahead_epochs: view.horizon,
    ...(view.commons ? { commons: commonsJson(view) } : {}),
    ...(ctx.memory ? { your_memory: memoryJson(ctx, view) } : {}),
  };
}

function commonsJson(view: MarketView): Record<string, unknown> {
  return Object.fromEntries(
    [...(view.commons ?? [])].map(([resource, c]) => [
      resource,
      {
        stock: microToNumber(c.stock),
        capacity: microToNumber(c.capacity),
        sustainable_harvest_this_epoch: microToNumber(c.sustainableHarvest),
        your_sustainable_share: microToNumber(c.sustainableHarvest / BigInt(Math.max(1, view.living ?? view.holdings.size))),
        collapse_below: microToNumber(c.collapseBelow),
        max_extraction_per_agent: microToNumber(c.maxExtraction),
        agents_sharing_it: view.living ?? view.holdings.size,
      },
    ]),
  );
}

function memoryJson(ctx: TurnContext, view: MarketView): Record<string, unknown> {
  const m = ctx.memory!;
  return {
    recent_rejections: m.rejections.map((r) => ({
      epoch: r.epoch,
      code: r.code,
      reason: r.reason,
      ...(r.counterparty ? { counterparty: r.counterparty } : {}),
      ...(r.give ? { gave: r.give } : {}),
      ...(r.get ? { asked: r.get } : {}),
    })),
    recent_deals: m.deals,
    recent_deficits: m.deficits,
    ...(m.extraction.length ? { recent_extraction: m.extraction } : {}),
    ...(m.reflection ? { your_reflection: m.reflection.text } : {}),
    ...(Object.keys(m.backoff).length ? { backing_off_from: Object.keys(m.backoff).filter((r) => m.backoff[r]! >= view.epoch) } : {}),
  };
}

/** "Epoch 4 of 30", or just the epoch when the run has no set end. */
const turnText = (ctx: TurnContext) => `Epoch ${ctx.view.epoch}${ctx.view.lastEpoch ? ` of ${ctx.view.lastEpoch}` : ''}`;

export const reflectJsonSchema = {
  type: 'object',
  properties: {
    reflection: { type: 'string', description: 'two or three sentences: what worked, what failed, what you will do differently' },
  },
  required: ['reflection'],
  additionalProperties: false,
} as const;

export function reflectPrompt(ctx: TurnContext): string {
  return `${turnText(ctx)}. Before trading, look back. Your view and memory:\n${JSON.stringify(viewJson(ctx))}\nWrite a short reflection for yourself.`;
}

export function parseReflection(raw: string): Parsed<string> {
  const json = parseJson(raw);
  if (!json.ok) return json;
  const parsed = z.object({ reflection: text }).safeParse(json.value);
  return parsed.success ? { ok: true, value: shortReason(parsed.data.reflection) } : { ok: false, error: issue(parsed.error) };
}

export function extractJsonSchema(ctx: TurnContext): Record<string, unknown> {
  const resources = [...(ctx.view.commons?.keys() ?? [])].sort();
  return {
    type: 'object',
    properties: {
      ...Object.fromEntries(
        resources.map((r) => [r, { type: 'number', minimum: 0, description: `how much ${r} to take from the commons` }]),
      ),
      reasoning: { type: 'string' },
    },
    required: [...resources, 'reasoning'],
    additionalProperties: false,
  };
}

export function extractPrompt(ctx: TurnContext): string {
  return `${turnText(ctx)}. Decide how much you take from the commons this epoch. Your view and memory:\n${JSON.stringify(viewJson(ctx))}`;
}

export function parseExtraction(raw: string): Parsed<Map<string, bigint>> {
  const json = parseJson(raw);
  if (!json.ok) return json;
  const parsed = z.record(z.string(), z.union([z.number().min(0), z.string()])).safeParse(json.value);
  if (!parsed.success) return { ok: false, error: issue(parsed.error) };
  const out = new Map<string, bigint>();
  for (const [resource, value] of Object.entries(parsed.data)) {
    if (resource === 'reasoning' || typeof value !== 'number' || value === 0) continue;
    const amount = amountFromModel(value);
    if (amount === undefined) return { ok: false, error: `schema: ${resource}: must be a positive amount below 1e9` };
    out.set(resource, amount);
  }
  return { ok: true, value: out };
}

export function proposePrompt(ctx: TurnContext): string {
  return `${turnText(ctx)}: your turn ${ctx.turn + 1} this epoch. Your view of the world:\n${JSON.stringify(viewJson(ctx))}\nDecide your move.`;
}

export function respondPrompt(
  ctx: TurnContext,
  history: readonly Offer[],
  transcript: readonly TranscriptEntry[],
  lastRound: boolean,
): string {
  const offer = history[history.length - 1]!;
  const terms = {
    from: offer.maker,
    you_would_give: { resource: offer.get.resource, amount: microToNumber(offer.get.amount) },
    you_would_get: { resource: offer.give.resource, amount: microToNumber(offer.give.amount) },
  };
  return [
    `${offer.maker} proposes terms to you. Your view of the world:`,
    JSON.stringify(viewJson(ctx)),
    `Terms on the table: ${JSON.stringify(terms)}`,
    `Negotiation so far: ${JSON.stringify(transcript)}`,
    lastRound
      ? 'This is the last round: accept or reject; a counter now ends the talks.'
      : 'Accept, reject, or counter (give what you were asked for, get what you were offered).',
  ].join('\n');
}
