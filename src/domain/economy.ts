import { deriveId, WORLD_ACTOR_ID } from './ids.ts';
import { microToNumber, type Micro } from './money.ts';
import { toMicro, type Scenario } from './scenario.ts';
import { balanceKey } from './validate.ts';

/** What one actor produces and consumes each epoch, in exact micro units. */
export interface EconomyProfile {
  actorId: string;
  actorName: string;
  production: ReadonlyMap<string, Micro>;
  consumption: ReadonlyMap<string, Micro>;
}

export interface SettlementEntry {
  proposalId: string;
  kind: 'production' | 'consumption';
  from: string;
  to: string;
  resource: string;
  amount: Micro;
  metadata: Record<string, unknown>;
}

export interface Deficit {
  actor: string;
  resource: string;
  need: number;
  taken: number;
  unmet: number;
}

/** The settlement of one epoch as recorded and served: totals per resource and each deficit. */
export interface SettlementSummary {
  production: Record<string, number>;
  need: Record<string, number>;
  consumed: Record<string, number>;
  unmet: Record<string, number>;
  deficits: Deficit[];
  entries: number;
}

export function economyProfiles(scenario: Scenario, idFor: (name: string) => string): EconomyProfile[] {
  const toMap = (amounts: Record<string, number | string> | undefined) =>
    new Map(Object.entries(amounts ?? {}).map(([resource, amount]) => [resource, toMicro(amount)] as const).filter(([, amount]) => amount > 0n));
  return scenario.actors
    .map((actor) => ({ actorId: idFor(actor.name), actorName: actor.name, production: toMap(actor.production), consumption: toMap(actor.consumption) }))
    .sort((a, b) => (a.actorName < b.actorName ? -1 : a.actorName > b.actorName ? 1 : 0));
}

/** The (actor, resource) balance rows a settlement touches, world's included. */
export function settlementPairs(profiles: readonly EconomyProfile[]): Array<[string, string]> {
  const pairs = new Map<string, [string, string]>();
  for (const profile of profiles) {
    for (const resource of [...profile.production.keys(), ...profile.consumption.keys()]) {
      pairs.set(balanceKey(profile.actorId, resource), [profile.actorId, resource]);
      pairs.set(balanceKey(WORLD_ACTOR_ID, resource), [WORLD_ACTOR_ID, resource]);
    }
  }
  return [...pairs.values()];
}

/**
 * One epoch's production and consumption. Production comes first (world gives each producer its
 * output), then each consumer gives world what it needs, or all it holds when that is less: the
 * balance floor binds trades, not consumption, and what could not be taken is the unmet need.
 * Entry ids derive from (run, epoch, actor, resource, kind), so settling again adds nothing.
 */
export function settleEconomy(
  runId: string,
  epoch: number,
  profiles: readonly EconomyProfile[],
  balance: (actorId: string, resource: string) => Micro,
): { entries: SettlementEntry[]; summary: SettlementSummary } {
  const entries: SettlementEntry[] = [];
  const after = new Map<string, Micro>();
  const held = (actor: string, resource: string) => after.get(balanceKey(actor, resource)) ?? balance(actor, resource);
  const totals = { production: new Map<string, Micro>(), need: new Map<string, Micro>(), consumed: new Map<string, Micro>(), unmet: new Map<string, Micro>() };
  const add = (map: Map<string, Micro>, resource: string, amount: Micro) => map.set(resource, (map.get(resource) ?? 0n) + amount);
  const id = (profile: EconomyProfile, resource: string, kind: string) => deriveId('settlement', runId, epoch, profile.actorId, resource, kind);

  for (const profile of profiles) {
    for (const [resource, amount] of [...profile.production].sort(byKey)) {
      after.set(balanceKey(profile.actorId, resource), held(profile.actorId, resource) + amount);
      add(totals.production, resource, amount);
      entries.push({ proposalId: id(profile, resource, 'production'), kind: 'production', from: WORLD_ACTOR_ID, to: profile.actorId, resource, amount, metadata: { run_id: runId, epoch } });
    }
  }
  const deficits: Deficit[] = [];
  for (const profile of profiles) {
    for (const [resource, need] of [...profile.consumption].sort(byKey)) {
      const available = held(profile.actorId, resource);
      const taken = available < need ? (available > 0n ? available : 0n) : need;
      const unmet = need - taken;
      add(totals.need, resource, need);
      add(totals.consumed, resource, taken);
      add(totals.unmet, resource, unmet);
      if (unmet > 0n) {
        deficits.push({ actor: profile.actorName, resource, need: microToNumber(need), taken: microToNumber(taken), unmet: microToNumber(unmet) });
      }
      if (taken === 0n) continue;
      after.set(balanceKey(profile.actorId, resource), available - taken);
      entries.push({
        proposalId: id(profile, resource, 'consumption'),
        kind: 'consumption',
        from: profile.actorId,
        to: WORLD_ACTOR_ID,
        resource,
        amount: taken,
        metadata: unmet > 0n ? { run_id: runId, epoch, need: microToNumber(need), unmet: microToNumber(unmet) } : { run_id: runId, epoch },
      });
    }
  }
  const numbers = (map: Map<string, Micro>) => Object.fromEntries([...map].sort(byKey).map(([k, v]) => [k, microToNumber(v)]));
  return {
    entries,
    summary: {
      production: numbers(totals.production),
      need: numbers(totals.need),
      consumed: numbers(totals.consumed),
      unmet: numbers(totals.unmet),
      deficits,
      entries: entries.length,
    },
  };
}

function byKey<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
