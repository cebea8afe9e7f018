/**
 * The test oracle: the validation rules of record_proposals, restated in TypeScript over a
 * snapshot. Production never runs it; the rules live in the database (src/db/schema.sql holds the
 * live definitions). Tests check its invariants (validate.test.ts, decide.test.ts) and require the
 * database to agree with it (test/ledger/decide-agreement.test.ts), so a rule changed in one place
 * only fails until it is changed in the other.
 */
import { BusinessErrorCode } from '../../src/domain/errors.ts';
import { balanceKey } from '../../src/domain/ids.ts';
import { formatMicro, type Micro } from '../../src/domain/money.ts';
import type { Leg } from '../../src/domain/proposal.ts';

export interface LimitSet {
  maxTransfer: Micro | null;
  minBalance: Micro;
}

/** What the caller's API key proves: its role (none without a key) and, for an agent key, its actor. */
export interface Grant {
  role: string | null;
  actorId: string | null;
}

/** Everything validation needs, loaded by the caller; actor references are already resolved ids. */
export interface ValidationContext {
  worldId: string;
  /** The name of an actor id that exists; undefined for an unknown reference. */
  actorName(actor: string): string | undefined;
  resources: ReadonlySet<string>;
  limits(resource: string): LimitSet;
  /** Current balance of (actor, resource); 0 when absent. */
  balance(actor: string, resource: string): Micro;
  grant: Grant;
}

export type Validation = { ok: true; deltas: Map<string, Micro> } | { ok: false; code: BusinessErrorCode; message: string; leg: number };

/** The first problem of a leg taken alone (actors, resource, role, max_transfer), or undefined. */
function staticProblem(leg: Leg, ctx: ValidationContext): { code: BusinessErrorCode; message: string } | undefined {
  const from = ctx.actorName(leg.actor_from);
  if (leg.actor_from === leg.actor_to)
    return { code: BusinessErrorCode.SAME_ACTOR, message: `actor_from and actor_to are both ${from ?? leg.actor_from}` };
  if (from === undefined) return { code: BusinessErrorCode.INVALID_ACTOR, message: `unknown actor ${leg.actor_from}` };
  if (ctx.actorName(leg.actor_to) === undefined) return { code: BusinessErrorCode.INVALID_ACTOR, message: `unknown actor ${leg.actor_to}` };
  if (!ctx.resources.has(leg.resource)) return { code: BusinessErrorCode.INVALID_RESOURCE, message: `unknown resource ${leg.resource}` };
  const touchesWorld = leg.actor_from === ctx.worldId || leg.actor_to === ctx.worldId;
  if (touchesWorld && ctx.grant.role !== 'system')
    return { code: BusinessErrorCode.FORBIDDEN_ACTOR, message: "only the system role may move world's funds" };
  if (ctx.grant.role === 'agent' && leg.actor_from !== ctx.grant.actorId) {
    return {
      code: BusinessErrorCode.FORBIDDEN_ACTOR,
      message: `this key may only move the funds of ${ctx.actorName(ctx.grant.actorId ?? '') ?? 'its own actor'}`,
    };
  }
  const { maxTransfer } = ctx.limits(leg.resource);
  if (leg.actor_from !== ctx.worldId && maxTransfer !== null && leg.amount > maxTransfer) {
    return {
      code: BusinessErrorCode.CONSTRAINT_VIOLATION,
      message: `amount ${formatMicro(leg.amount)} exceeds max_transfer ${formatMicro(maxTransfer)} for ${leg.resource}`,
    };
  }
  return undefined;
}

/**
 * Decides a proposal as a whole: the static checks on every leg first, then each leg against the
 * running balances left by the legs before it. Pure: it returns the balance deltas to apply.
 * The same rules, in the same order and with the same messages, as record_proposals (SQL).
 */
export function validateLegs(legs: ReadonlyArray<Leg>, ctx: ValidationContext): Validation {
  for (const [index, leg] of legs.entries()) {
    const problem = staticProblem(leg, ctx);
    if (problem) return { ok: false, code: problem.code, message: `leg ${index}: ${problem.message}`, leg: index };
  }

  const deltas = new Map<string, Micro>();
  const running = (actor: string, resource: string) => ctx.balance(actor, resource) + (deltas.get(balanceKey(actor, resource)) ?? 0n);
  for (const [index, leg] of legs.entries()) {
    if (leg.actor_from !== ctx.worldId) {
      const name = ctx.actorName(leg.actor_from);
      const available = running(leg.actor_from, leg.resource);
      const fail = (code: BusinessErrorCode, message: string): Validation => ({
        ok: false,
        code,
        message: `leg ${index}: ${message}`,
        leg: index,
      });
      if (available < leg.amount) {
        return fail(
          BusinessErrorCode.INSUFFICIENT_BALANCE,
          `${name} holds ${formatMicro(available)} ${leg.resource}, needs ${formatMicro(leg.amount)}`,
        );
      }
      const { minBalance } = ctx.limits(leg.resource);
      if (available - leg.amount < minBalance) {
        return fail(
          BusinessErrorCode.CONSTRAINT_VIOLATION,
          `would leave ${name} with ${formatMicro(available - leg.amount)} ${leg.resource}, below min_balance ${formatMicro(minBalance)}`,
        );
      }
    }
    const fromKey = balanceKey(leg.actor_from, leg.resource);
    const toKey = balanceKey(leg.actor_to, leg.resource);
    deltas.set(fromKey, (deltas.get(fromKey) ?? 0n) - leg.amount);
    deltas.set(toKey, (deltas.get(toKey) ?? 0n) + leg.amount);
  }
  return { ok: true, deltas };
}
