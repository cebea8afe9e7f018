import { z } from 'zod';
import { describeIssue } from './issues.ts';
import { parseAmount, type Micro } from './money.ts';
import { strategyNames } from './strategies.ts';

/**
 * A scenario file: the world to seed (resources, limits, actors and their starting balances) and
 * the settings later parts read (default_credit, seed, per-actor economy and strategy).
 */
const nonNegative = (v: number | string) => {
  const parsed = parseAmount(v);
  return parsed.ok && parsed.value >= 0n;
};
const amount = z.union([z.number(), z.string()]).refine(nonNegative, {
  message: 'must be a non-negative decimal with at most 6 decimal places',
});
const positive = amount.refine((v) => (parseAmount(v) as { value: Micro }).value > 0n, { message: 'must be greater than 0' });
const resourceName = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, - or _');
const perResource = z.record(resourceName, amount);
const limits = z.strictObject({ max_transfer: positive.nullable().optional(), min_balance: amount.optional() });

const actorSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(200)
    .refine((n) => n !== 'world', { message: '"world" is the system actor' }),
  kind: z.enum(['node', 'agent']).default('node'),
  balances: perResource.default({}),
  production: perResource.optional(),
  consumption: perResource.optional(),
  strategy: z.enum(strategyNames).optional(),
  /** How a heuristic agent behaves: shares the commons, grabs what it can, or acts on an old view. */
  character: z.enum(['cooperative', 'greedy', 'naive']).default('cooperative'),
});

/**
 * A renewable stock held by the commons actor: it regrows logistically (rate x stock x (1 -
 * stock / capacity)) each epoch, agents choose how much to extract, and below `collapse_below` it
 * no longer regrows.
 */
const stockSchema = z.strictObject({
  stock: amount,
  capacity: positive,
  regrowth_rate: z.number().min(0).max(2),
  collapse_below: amount.default(0),
  /** The most one actor may extract in an epoch. */
  max_extraction: positive,
});
const commonsSchema = z.strictObject({
  name: z.string().min(1).max(200).default('commons'),
  resources: z.record(resourceName, stockSchema),
});

/**
 * Sinks and failure: a fixed upkeep every actor pays each epoch, a tax on holdings (a rate per
 * epoch), how far deals move reference prices, and when an actor whose need goes unmet fails.
 */
const economySchema = z.strictObject({
  upkeep: perResource.default({}),
  tax: z.record(resourceName, z.number().min(0).max(1)).default({}),
  price_adjustment: z.number().min(0).max(1).default(0.2),
  fail_after_unmet_epochs: z.number().int().min(1).max(1000).nullable().default(null),
  /** Where a failed actor's holdings go: world, the surviving actors in equal shares, or a named actor. */
  holdings_on_failure: z.union([z.literal('world'), z.literal('survivors'), z.strictObject({ heir: z.string().min(1) })]).default('world'),
});
export type EconomySettings = z.infer<typeof economySchema>;

/**
 * The world's chance, drawn from the run's seed (src/domain/chance.ts): noise on the commons'
 * regrowth and on each actor's need, and dry spells that cut the regrowth. Absent, the world has none.
 */
const chanceSchema = z.strictObject({
  regrowth_noise: z.number().min(0).max(1).default(0),
  demand_noise: z.number().min(0).max(1).default(0),
  shock_probability: z.number().min(0).max(1).default(0),
  shock_size: z.number().min(0).max(1).default(0.5),
});
export type CommonsSettings = z.infer<typeof commonsSchema>;

/**
 * How agents negotiate: turns each agent gets per epoch, replies a session may take before it
 * fails, how many epochs of need an agent tries to hold, and reference prices (in units of
 * credits, or of any common measure) that anchor the heuristic's bids and asks.
 */
const negotiationSchema = z.strictObject({
  turns_per_agent: z.number().int().min(1).max(8).default(2),
  max_rounds: z.number().int().min(1).max(10).default(4),
  horizon_epochs: z.number().int().min(1).max(100).default(3),
  prices: z.record(resourceName, positive).default({}),
  /** How many epochs old the view of a naive agent is. */
  stale_epochs: z.number().int().min(1).max(20).default(3),
  /** An LLM agent writes a short reflection every this many epochs (0: never). */
  reflect_every: z.number().int().min(0).max(100).default(5),
});
export type NegotiationSettings = z.infer<typeof negotiationSchema>;

export const scenarioSchema = z.strictObject({
  name: z.string().min(1).max(100),
  description: z.string().optional(),
  seed: z.union([z.number().int(), z.string()]).optional(),
  default_credit: amount.optional(),
  resources: z.array(z.strictObject({ name: resourceName, unit: z.string().max(32).default('') })).min(1),
  constraints: limits.extend({ per_resource: z.record(resourceName, limits).optional() }).default({}),
  negotiation: negotiationSchema.prefault({}),
  economy: economySchema.prefault({}),
  commons: commonsSchema.optional(),
  chance: chanceSchema.optional(),
  actors: z.array(actorSchema).min(1),
});

export type Scenario = z.infer<typeof scenarioSchema>;

export type ParseScenarioResult = { ok: true; scenario: Scenario } | { ok: false; message: string };

/** Validates a parsed scenario document, including cross-references the schema alone cannot see. */
export function parseScenario(document: unknown): ParseScenarioResult {
  const parsed = scenarioSchema.safeParse(document);
  if (!parsed.success) {
    return { ok: false, message: describeIssue(parsed.error, 'scenario').message };
  }
  const scenario = parsed.data;
  const resources = new Set(scenario.resources.map((r) => r.name));
  const names = new Set<string>();
  for (const actor of scenario.actors) {
    if (names.has(actor.name)) return { ok: false, message: `actors: duplicate actor name ${actor.name}` };
    names.add(actor.name);
    for (const field of ['balances', 'production', 'consumption'] as const) {
      for (const resource of Object.keys(actor[field] ?? {})) {
        if (!resources.has(resource)) return { ok: false, message: `actors.${actor.name}.${field}: unknown resource ${resource}` };
      }
    }
  }
  for (const resource of Object.keys(scenario.negotiation.prices)) {
    if (!resources.has(resource)) return { ok: false, message: `negotiation.prices: unknown resource ${resource}` };
  }
  for (const resource of Object.keys(scenario.constraints.per_resource ?? {})) {
    if (!resources.has(resource)) return { ok: false, message: `constraints.per_resource: unknown resource ${resource}` };
  }
  for (const field of ['upkeep', 'tax'] as const) {
    for (const resource of Object.keys(scenario.economy[field])) {
      if (!resources.has(resource)) return { ok: false, message: `economy.${field}: unknown resource ${resource}` };
    }
  }
  const heir = scenario.economy.holdings_on_failure;
  if (typeof heir === 'object' && !names.has(heir.heir))
    return { ok: false, message: `economy.holdings_on_failure.heir: unknown actor ${heir.heir}` };
  if (scenario.commons) {
    if (names.has(scenario.commons.name) || scenario.commons.name === 'world')
      return { ok: false, message: `commons.name: ${scenario.commons.name} is already an actor` };
    for (const [resource, stock] of Object.entries(scenario.commons.resources)) {
      if (!resources.has(resource)) return { ok: false, message: `commons.resources: unknown resource ${resource}` };
      if (toMicro(stock.stock) > toMicro(stock.capacity))
        return { ok: false, message: `commons.resources.${resource}.stock: above its capacity` };
    }
  }
  return { ok: true, scenario };
}

/** The actors to seed: the scenario's, and the commons (holding its stocks) when there is one. */
export function seededActors(scenario: Scenario): Array<Pick<Scenario['actors'][number], 'name' | 'kind' | 'balances'>> {
  if (!scenario.commons) return scenario.actors;
  const stocks = Object.fromEntries(Object.entries(scenario.commons.resources).map(([resource, s]) => [resource, s.stock]));
  return [...scenario.actors, { name: scenario.commons.name, kind: 'node', balances: stocks }];
}

export function toMicro(value: number | string): Micro {
  const parsed = parseAmount(value);
  if (!parsed.ok) throw new Error(`invalid amount ${String(value)}`);
  return parsed.value;
}
