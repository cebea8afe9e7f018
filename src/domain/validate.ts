import { BusinessErrorCode } from './errors.ts';
import { formatMicro, type Micro } from './money.ts';
import type { Leg } from './proposal.ts';

export interface LimitSet {
  maxTransfer: Micro | null;
  minBalance: Micro;
}

/** Everything validation needs, loaded by the caller; actor references are already resolved ids. */
export interface ValidationContext {
  worldId: string;
  /** Actor ids that exist. */
  actors: ReadonlySet<string>;
  resources: ReadonlySet<string>;
  limits(resource: string): LimitSet;
  /** Current balance of (actor, resource); 0 when absent. */
  balance(actor: string, resource: string): Micro;
  /** Whether the caller holds the system role (needed to move world's funds). */
  system: boolean;
  /** An agent key's own actor id: every leg must debit it, and no other. */
  debtor?: string;
  /** Whether one proposal may debit several actors (a negotiated swap); true unless refused. */
  manyDebtors?: boolean;
}

export type Validation =
  | { ok: true; deltas: Map<string, Micro> }
  | { ok: false; code: BusinessErrorCode; message: string; leg: number };

export const balanceKey = (actor: string, resource: string): string => `${actor}|${resource}`;

/**
 * Decides a proposal as a whole: the static checks on every leg first, then each leg against the
 * running balances left by the legs before it. Pure: it returns the balance deltas to apply.
 */
export function validateLegs(legs: ReadonlyArray<Leg>, ctx: ValidationContext): Validation {
  for (const [index, leg] of legs.entries()) {
    const fail = (code: BusinessErrorCode, message: string): Validation => ({ ok: false, code, message: `leg ${index}: ${message}`, leg: index });
    if (leg.actor_from === leg.actor_to) return fail(BusinessErrorCode.SAME_ACTOR, `actor_from and actor_to are both ${leg.actor_from}`);
    for (const actor of [leg.actor_from, leg.actor_to]) {
      if (!ctx.actors.has(actor)) return fail(BusinessErrorCode.INVALID_ACTOR, `unknown actor ${actor}`);
    }
    if (!ctx.resources.has(leg.resource)) return fail(BusinessErrorCode.INVALID_RESOURCE, `unknown resource ${leg.resource}`);
    const touchesWorld = leg.actor_from === ctx.worldId || leg.actor_to === ctx.worldId;
    if (touchesWorld && !ctx.system) return fail(BusinessErrorCode.FORBIDDEN_ACTOR, "only the system role may move world's funds");
    if (ctx.debtor !== undefined && leg.actor_from !== ctx.debtor) {
      return fail(BusinessErrorCode.FORBIDDEN_ACTOR, `this agent key may only move its own actor's funds, not ${leg.actor_from}'s`);
    }
    const { maxTransfer } = ctx.limits(leg.resource);
    if (leg.actor_from !== ctx.worldId && maxTransfer !== null && leg.amount > maxTransfer) {
      return fail(BusinessErrorCode.CONSTRAINT_VIOLATION, `amount ${formatMicro(leg.amount)} exceeds max_transfer ${formatMicro(maxTransfer)} for ${leg.resource}`);
    }
  }

  if (ctx.manyDebtors === false && new Set(legs.map((leg) => leg.actor_from)).size > 1) {
    return { ok: false, code: BusinessErrorCode.FORBIDDEN_ACTOR, message: 'a proposal that debits several actors needs the system role or operator and above', leg: 0 };
  }

  const deltas = new Map<string, Micro>();
  const running = (actor: string, resource: string) => ctx.balance(actor, resource) + (deltas.get(balanceKey(actor, resource)) ?? 0n);
  for (const [index, leg] of legs.entries()) {
    if (leg.actor_from !== ctx.worldId) {
      const available = running(leg.actor_from, leg.resource);
      if (available < leg.amount) {
        return {
          ok: false,
          code: BusinessErrorCode.INSUFFICIENT_BALANCE,
          message: `leg ${index}: ${leg.actor_from} holds ${formatMicro(available)} ${leg.resource}, needs ${formatMicro(leg.amount)}`,
          leg: index,
        };
      }
      const { minBalance } = ctx.limits(leg.resource);
      if (available - leg.amount < minBalance) {
        return {
          ok: false,
          code: BusinessErrorCode.CONSTRAINT_VIOLATION,
          message: `leg ${index}: would leave ${leg.actor_from} with ${formatMicro(available - leg.amount)} ${leg.resource}, below min_balance ${formatMicro(minBalance)}`,
          leg: index,
        };
      }
    }
    const fromKey = balanceKey(leg.actor_from, leg.resource);
    const toKey = balanceKey(leg.actor_to, leg.resource);
    deltas.set(fromKey, (deltas.get(fromKey) ?? 0n) - leg.amount);
    deltas.set(toKey, (deltas.get(toKey) ?? 0n) + leg.amount);
  }
  return { ok: true, deltas };
}
