import { z } from 'zod';
import { describeIssue, expecting } from './issues.ts';
import { formatMicro, MAX_LEG_MICRO, parseAmount, type Micro } from './money.ts';

export const MAX_LEGS = 16;
const MAX_METADATA_BYTES = 64 * 1024;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Leg {
  actor_from: string;
  actor_to: string;
  resource: string;
  amount: Micro;
}

export interface Proposal {
  proposal_id: string;
  legs: Leg[];
  metadata: Record<string, unknown>;
}

export type ParseProposalResult = { ok: true; proposal: Proposal } | { ok: false; field: string; message: string };

const actorRef = z.string(expecting('an actor id (uuid) or name')).trim().min(1).max(200).describe('Actor id (uuid) or name');
export const AMOUNT_EXPECTED = 'a positive number (or decimal string) with at most 6 decimal places, below 1000000000';
const legShape = {
  actor_from: actorRef,
  actor_to: actorRef,
  resource: z.string(expecting('a resource name')).trim().min(1).max(64),
  amount: z
    .union([z.number(), z.string().max(64)], expecting(AMOUNT_EXPECTED))
    .describe('An exact decimal above 0 with at most 6 places, as a number or a string'),
};
const metadata = z.record(z.string(), z.unknown());
const proposalId = z.string().regex(UUID_RE, 'must be a UUID');

const oneLeg = z.strictObject({ proposal_id: proposalId, ...legShape, metadata: metadata.optional() });
const multiLeg = z.strictObject({
  proposal_id: proposalId,
  legs: z.array(z.strictObject(legShape)).min(1).max(MAX_LEGS),
  metadata: metadata.optional(),
});

/**
 * A proposal as a client sends it: one leg (TradeJSON) or several. parseProposal picks the branch
 * by the presence of `legs`; the amounts' exact-decimal rules are checked after the shape.
 */
export const proposalSchema = z.union([oneLeg, multiLeg]);

const MAX_DEPTH = 32;
// A NUL or a lone UTF-16 surrogate cannot be stored in Postgres text or jsonb.
// eslint-disable-next-line no-control-regex -- matching NUL is the point
const UNSTORABLE_RE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The path of the first value Postgres could not store verbatim, or of a too-deep nesting. */
export function findUnstorable(value: unknown, path = '', depth = 0): { field: string; message: string } | undefined {
  const field = path || 'body';
  if (depth > MAX_DEPTH) return { field, message: `${field} is nested more than ${MAX_DEPTH} levels deep` };
  if (typeof value === 'string') {
    return UNSTORABLE_RE.test(value) ? { field, message: `${field} contains a NUL character or invalid UTF-16` } : undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, child] of Object.entries(value)) {
    const childPath = path ? `${path}.${key}` : key;
    if (UNSTORABLE_RE.test(key)) return { field: childPath, message: `${childPath}: the key contains a NUL character or invalid UTF-16` };
    const found = findUnstorable(child, childPath, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** Parses an /execute body (one-leg TradeJSON or multi-leg) into a proposal, or names the bad field. */
export function parseProposal(body: unknown): ParseProposalResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, field: 'body', message: 'body must be a JSON object' };
  }
  const unstorable = findUnstorable(body);
  if (unstorable) return { ok: false, ...unstorable };
  const isMulti = 'legs' in body;
  const parsed = isMulti ? multiLeg.safeParse(body) : oneLeg.safeParse(body);
  if (!parsed.success) return { ok: false, ...describeIssue(parsed.error) };
  const data = parsed.data;
  const rawLegs = 'legs' in data ? data.legs : [data];
  const legs: Leg[] = [];
  for (const [index, raw] of rawLegs.entries()) {
    const field = isMulti ? `legs.${index}.amount` : 'amount';
    const amount = parseAmount(raw.amount);
    if (!amount.ok) return { ok: false, field, message: `${field} ${amount.reason}` };
    if (amount.value <= 0n) return { ok: false, field, message: `${field} must be greater than 0` };
    if (amount.value > MAX_LEG_MICRO) return { ok: false, field, message: `${field} must be below 1000000000` };
    legs.push({ actor_from: raw.actor_from, actor_to: raw.actor_to, resource: raw.resource, amount: amount.value });
  }
  const meta = data.metadata ?? {};
  if (Buffer.byteLength(JSON.stringify(meta)) > MAX_METADATA_BYTES) {
    return { ok: false, field: 'metadata', message: `metadata must serialise to at most ${MAX_METADATA_BYTES} bytes` };
  }
  return { ok: true, proposal: { proposal_id: data.proposal_id.toLowerCase(), legs, metadata: meta } };
}

/**
 * The canonical form that decides "same payload": legs in order, actors as resolved ids, amounts
 * as exact decimals. Metadata is not part of it, so a retry may carry a fresh trace.
 */
export function canonicalLegs(legs: ReadonlyArray<Leg>): string {
  return JSON.stringify(legs.map((leg) => [leg.actor_from, leg.actor_to, leg.resource, formatMicro(leg.amount)]));
}
