import { worldChance } from './chance.ts';
import { collapsed, regrowth, stocksOf } from './commons.ts';
import { balanceKey, deriveId, WORLD_ACTOR_ID } from './ids.ts';
import { microToNumber, type Micro } from './money.ts';
import { toMicro, type Scenario } from './scenario.ts';

/** What one actor produces and consumes each epoch, in exact micro units. */
export interface EconomyProfile {
  actorId: string;
  actorName: string;
  production: ReadonlyMap<string, Micro>;
  consumption: ReadonlyMap<string, Micro>;
}

export type SettlementKind = 'production' | 'consumption' | 'regrowth' | 'extraction' | 'upkeep' | 'tax' | 'failure' | 'inheritance';

export interface SettlementEntry {
  proposalId: string;
  leg: number;
  kind: SettlementKind;
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
  /** Credits (and anything else) drained by upkeep and tax. */
  upkeep?: Record<string, number>;
  tax?: Record<string, number>;
  /** The commons: what regrew and the stock after regrowth, per resource. */
  regrowth?: Record<string, number>;
  stock?: Record<string, number>;
  collapsed?: string[];
  /** Consecutive epochs each living actor has had need unmet. */
  streaks?: Record<string, number>;
  /** Actors that have failed so far (cumulative), and those that failed this epoch. */
  failed?: string[];
  failures?: Array<{ actor: string; heirs: string[] }>;
}

/** What the previous epoch's settlement hands on to the next. */
export interface CarriedState {
  streaks: Record<string, number>;
  failed: readonly string[];
}

export function economyProfiles(scenario: Scenario, idFor: (name: string) => string): EconomyProfile[] {
  const toMap = (amounts: Record<string, number | string> | undefined) =>
    new Map(
      Object.entries(amounts ?? {})
        .map(([resource, amount]) => [resource, toMicro(amount)] as const)
        .filter(([, amount]) => amount > 0n),
    );
  return scenario.actors
    .map((actor) => ({
      actorId: idFor(actor.name),
      actorName: actor.name,
      production: toMap(actor.production),
      consumption: toMap(actor.consumption),
    }))
    .sort((a, b) => (a.actorName < b.actorName ? -1 : a.actorName > b.actorName ? 1 : 0));
}

/** The (actor, resource) balance rows a settlement may touch: every actor's, the commons' and world's. */
export function settlementPairs(actorIds: readonly string[], resources: readonly string[]): Array<[string, string]> {
  return [WORLD_ACTOR_ID, ...actorIds].flatMap((actor) => resources.map((resource): [string, string] => [actor, resource]));
}

export interface SettleInput {
  runId: string;
  epoch: number;
  scenario: Scenario;
  profiles: readonly EconomyProfile[];
  idFor: (name: string) => string;
  balance: (actorId: string, resource: string) => Micro;
  /** The previous epoch's settlement, absent for the first. */
  previous: CarriedState | undefined;
  /** The run's seed: it draws the world's chance, if the scenario has any. */
  seed?: string;
}

/**
 * One epoch's settlement, in this order: the commons regrows; living actors produce; they pay
 * upkeep and tax; they consume what they need, or all they hold when that is less (the balance
 * floor binds trades, not consumption); an actor whose need has gone unmet for the scenario's
 * number of consecutive epochs fails, and its holdings go to world, then from world to its heirs.
 * Entry ids derive from (run, epoch, actor, resource, kind), so settling again adds nothing.
 */
export function settleEconomy(input: SettleInput): { entries: SettlementEntry[]; summary: SettlementSummary } {
  const { runId, epoch, scenario } = input;
  const economy = scenario.economy;
  const chance = worldChance(scenario, input.seed ?? String(scenario.seed ?? 0), epoch);
  const entries: SettlementEntry[] = [];
  const after = new Map<string, Micro>();
  const held = (actor: string, resource: string) => after.get(balanceKey(actor, resource)) ?? input.balance(actor, resource);
  const move = (
    kind: SettlementKind,
    from: string,
    to: string,
    resource: string,
    amount: Micro,
    key: string,
    metadata: Record<string, unknown> = {},
    leg = 0,
  ) => {
    if (amount <= 0n) return;
    if (from !== WORLD_ACTOR_ID) after.set(balanceKey(from, resource), held(from, resource) - amount);
    if (to !== WORLD_ACTOR_ID) after.set(balanceKey(to, resource), held(to, resource) + amount);
    entries.push({
      proposalId: deriveId('settlement', runId, epoch, key, resource, kind),
      leg,
      kind,
      from,
      to,
      resource,
      amount,
      metadata: { run_id: runId, epoch, ...metadata },
    });
  };
  const totals = new Map<string, Map<string, Micro>>();
  const add = (what: string, resource: string, amount: Micro) => {
    const map = totals.get(what) ?? totals.set(what, new Map()).get(what)!;
    map.set(resource, (map.get(resource) ?? 0n) + amount);
  };
  const failedBefore = new Set(input.previous?.failed ?? []);
  const living = input.profiles.filter((p) => !failedBefore.has(p.actorName));

  const summary: Partial<SettlementSummary> = {};
  if (scenario.commons) {
    const commonsId = input.idFor(scenario.commons.name);
    const stock: Record<string, number> = {};
    const grew: Record<string, number> = {};
    const down: string[] = [];
    for (const s of stocksOf(scenario.commons)) {
      const before = held(commonsId, s.resource);
      const logistic = regrowth(before, s);
      const drawn = chance.regrowth(s.resource, logistic);
      const more = before + drawn > s.capacity ? (s.capacity > before ? s.capacity - before : 0n) : drawn;
      move('regrowth', WORLD_ACTOR_ID, commonsId, s.resource, more, commonsId);
      grew[s.resource] = microToNumber(more);
      stock[s.resource] = microToNumber(held(commonsId, s.resource));
      if (collapsed(held(commonsId, s.resource), s)) down.push(s.resource);
    }
    Object.assign(summary, { regrowth: grew, stock, collapsed: down });
  }

  for (const profile of living) {
    for (const [resource, amount] of [...profile.production].sort(byKey)) {
      add('production', resource, amount);
      move('production', WORLD_ACTOR_ID, profile.actorId, resource, amount, profile.actorId);
    }
  }
  for (const profile of living) {
    for (const [resource, raw] of Object.entries(economy.upkeep).sort(byKey)) {
      const due = toMicro(raw);
      const paid = minMicro(due, positive(held(profile.actorId, resource)));
      add('upkeep', resource, paid);
      move('upkeep', profile.actorId, WORLD_ACTOR_ID, resource, paid, profile.actorId, paid < due ? { due: microToNumber(due) } : {});
    }
    for (const [resource, rate] of Object.entries(economy.tax).sort(byKey)) {
      const base = positive(held(profile.actorId, resource));
      const due = (base * BigInt(Math.round(rate * 1_000_000))) / 1_000_000n;
      add('tax', resource, due);
      move('tax', profile.actorId, WORLD_ACTOR_ID, resource, due, profile.actorId, { rate });
    }
  }

  const deficits: Deficit[] = [];
  for (const profile of living) {
    for (const [resource, base] of [...profile.consumption].sort(byKey)) {
      const need = chance.need(profile.actorName, resource, base);
      const taken = minMicro(need, positive(held(profile.actorId, resource)));
      const unmet = need - taken;
      add('need', resource, need);
      add('consumed', resource, taken);
      add('unmet', resource, unmet);
      if (unmet > 0n)
        deficits.push({
          actor: profile.actorName,
          resource,
          need: microToNumber(need),
          taken: microToNumber(taken),
          unmet: microToNumber(unmet),
        });
      move(
        'consumption',
        profile.actorId,
        WORLD_ACTOR_ID,
        resource,
        taken,
        profile.actorId,
        unmet > 0n ? { need: microToNumber(need), unmet: microToNumber(unmet) } : {},
      );
    }
  }

  const short = new Set(deficits.map((d) => d.actor));
  const streaks: Record<string, number> = {};
  for (const p of living) streaks[p.actorName] = short.has(p.actorName) ? (input.previous?.streaks[p.actorName] ?? 0) + 1 : 0;
  const limit = economy.fail_after_unmet_epochs;
  const failing = limit === null ? [] : living.filter((p) => streaks[p.actorName]! >= limit);
  const failures: Array<{ actor: string; heirs: string[] }> = [];
  const survivors = living.filter((p) => !failing.includes(p));
  for (const gone of failing) {
    delete streaks[gone.actorName];
    const heirs = heirsOf(economy.holdings_on_failure, survivors);
    failures.push({ actor: gone.actorName, heirs: heirs.map((h) => h.actorName) });
    for (const resource of scenario.resources.map((r) => r.name).sort()) {
      const amount = positive(held(gone.actorId, resource));
      move('failure', gone.actorId, WORLD_ACTOR_ID, resource, amount, gone.actorId, {
        actor: gone.actorName,
        heirs: heirs.map((h) => h.actorName),
      });
      if (amount === 0n || heirs.length === 0) continue;
      // Equal shares; the remainder of the division goes to the first heir by name.
      const share = amount / BigInt(heirs.length);
      heirs.forEach((heir, i) => {
        const part = i === 0 ? amount - share * BigInt(heirs.length - 1) : share;
        move('inheritance', WORLD_ACTOR_ID, heir.actorId, resource, part, `${gone.actorId}>${heir.actorId}`, {
          from_actor: gone.actorName,
          heir: heir.actorName,
        });
      });
    }
  }

  const numbers = (what: string) =>
    Object.fromEntries([...(totals.get(what) ?? new Map<string, Micro>())].sort(byKey).map(([k, v]) => [k, microToNumber(v)]));
  return {
    entries,
    summary: {
      production: numbers('production'),
      need: numbers('need'),
      consumed: numbers('consumed'),
      unmet: numbers('unmet'),
      deficits,
      entries: entries.length,
      upkeep: numbers('upkeep'),
      tax: numbers('tax'),
      ...summary,
      streaks,
      failed: [...failedBefore, ...failing.map((p) => p.actorName)].sort(),
      failures,
    },
  };
}

function heirsOf(rule: Scenario['economy']['holdings_on_failure'], survivors: readonly EconomyProfile[]): EconomyProfile[] {
  if (rule === 'world') return [];
  if (rule === 'survivors') return [...survivors];
  const heir = survivors.find((p) => p.actorName === rule.heir);
  // A named heir that has failed too leaves the holdings with world.
  return heir ? [heir] : [];
}

const positive = (v: Micro): Micro => (v > 0n ? v : 0n);
const minMicro = (a: Micro, b: Micro): Micro => (a < b ? a : b);

function byKey<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
