import { z } from 'zod';
import { describeIssue } from './issues.ts';
import { parseAmount, type Micro } from './money.ts';

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
  name: z.string().min(1).max(200).refine((n) => n !== 'world', { message: '"world" is the system actor' }),
  kind: z.enum(['node', 'agent']).default('node'),
  balances: perResource.default({}),
  production: perResource.optional(),
  consumption: perResource.optional(),
  strategy: z.enum(['heuristic', 'gemini', 'openai-compatible']).optional(),
});

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
  return { ok: true, scenario };
}

export function toMicro(value: number | string): Micro {
  const parsed = parseAmount(value);
  if (!parsed.ok) throw new Error(`invalid amount ${String(value)}`);
  return parsed.value;
}
