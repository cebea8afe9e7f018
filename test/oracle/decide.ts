/**
 * The test oracle for a group: record_proposals' decisions (idempotency, then the rules of
 * validate.ts, in arrival order against the balances the group left), in TypeScript. Production
 * never runs it; see validate.ts.
 */
import type { BusinessErrorCode } from '../../src/domain/errors.ts';
import { balanceKey } from '../../src/domain/ids.ts';
import type { Micro } from '../../src/domain/money.ts';
import type { Leg } from '../../src/domain/proposal.ts';
import { validateLegs, type Grant, type LimitSet } from './validate.ts';

/** One proposal of a group, its actor references resolved to ids where they name an actor. */
export interface GroupItem {
  proposalId: string;
  /** canonicalLegs(legs): what "the same payload" means. */
  canonical: string;
  legs: Leg[];
  grant: Grant;
}

/** What was decided for an id before the group. */
export interface PriorDecision {
  canonical: string;
  outcome: { kind: 'applied' } | { kind: 'rejected'; code: BusinessErrorCode; message: string };
}

export interface DecideWorld {
  worldId: string;
  actorName(actor: string): string | undefined;
  resources: ReadonlySet<string>;
  limits(resource: string): LimitSet;
  /** Balances before the group; a missing row holds 0. */
  balances: ReadonlyMap<string, Micro>;
  prior: ReadonlyMap<string, PriorDecision>;
}

export type GroupOutcome =
  | { kind: 'applied'; replayed: boolean }
  | { kind: 'rejected'; replayed: boolean; code: BusinessErrorCode; message: string }
  | { kind: 'conflict' };

/**
 * Decides a group of proposals in order, as record_proposals does in the database: an id decided
 * before (or earlier in the group) replays that outcome with the same payload and conflicts with
 * another; a new one is validated against the balances its predecessors left, which it then
 * moves if it applies. Pure: returns each outcome and the balances after the group.
 */
export function decide(items: ReadonlyArray<GroupItem>, world: DecideWorld): { outcomes: GroupOutcome[]; balances: Map<string, Micro> } {
  const balances = new Map(world.balances);
  const decided = new Map<string, { canonical: string; outcome: GroupOutcome }>();
  const outcomes = items.map((item): GroupOutcome => {
    const before = world.prior.get(item.proposalId) ?? decided.get(item.proposalId);
    if (before) {
      if (before.canonical !== item.canonical) return { kind: 'conflict' };
      return before.outcome.kind === 'conflict' ? before.outcome : { ...before.outcome, replayed: true };
    }
    const verdict = validateLegs(item.legs, {
      worldId: world.worldId,
      actorName: world.actorName,
      resources: world.resources,
      limits: world.limits,
      balance: (actor, resource) => balances.get(balanceKey(actor, resource)) ?? 0n,
      grant: item.grant,
    });
    const outcome: GroupOutcome = verdict.ok
      ? { kind: 'applied', replayed: false }
      : { kind: 'rejected', replayed: false, code: verdict.code, message: verdict.message };
    if (verdict.ok) for (const [key, delta] of verdict.deltas) balances.set(key, (balances.get(key) ?? 0n) + delta);
    decided.set(item.proposalId, { canonical: item.canonical, outcome });
    return outcome;
  });
  return { outcomes, balances };
}
