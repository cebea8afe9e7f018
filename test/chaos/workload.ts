import { formatMicro, parseAmount } from '../../src/domain/money.ts';
import { parseScenario, type Scenario } from '../../src/domain/scenario.ts';
import { prng } from '../support/load.ts';
import { testRules } from '../support/scenario.ts';

/**
 * The bank test's accounts and the proposals its clients send. Everything derives from a seed, so
 * a failing run can be repeated send for send (the fault timing, not the workload, varies).
 */

export const RICH = Array.from({ length: 12 }, (_, i) => `acct-${String(i).padStart(2, '0')}`);
/** Accounts that start just above min_balance and never receive: most of what they send is refused. */
export const POOR = ['poor-0', 'poor-1', 'poor-2', 'poor-3'];
export const RESOURCES = ['energy', 'water', 'credits'];

export const chaosScenario: Scenario = (() => {
  const parsed = parseScenario({
    name: 'chaos',
    ...testRules,
    actors: [
      ...RICH.map((name) => ({ name, kind: 'node' as const, balances: { energy: 1000, water: 1000, credits: 5000 } })),
      ...POOR.map((name, i) => ({ name, kind: 'agent' as const, balances: { energy: 12 + i, water: 15 + i, credits: 4 + i } })),
    ],
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.scenario;
})();

export interface WireLeg {
  actor_from: string;
  actor_to: string;
  resource: string;
  amount: number | string;
}

export const SendKind = { fresh: 'fresh', duplicate: 'duplicate', reuse: 'reuse' } as const;
export type SendKind = (typeof SendKind)[keyof typeof SendKind];

export interface Send {
  index: number;
  id: string;
  kind: SendKind;
  /** Which payload of this id: legs in canonical form (names, exact decimals). Equal keys mean "same payload". */
  key: string;
  legs: WireLeg[];
  body: Record<string, unknown>;
}

/** The harness's own canonical form: legs in order, amounts as exact decimal text. */
export function payloadKey(legs: ReadonlyArray<WireLeg>): string {
  return JSON.stringify(
    legs.map((leg) => {
      const amount = parseAmount(leg.amount);
      return [leg.actor_from, leg.actor_to, leg.resource, amount.ok ? formatMicro(amount.value) : String(leg.amount)];
    }),
  );
}

function bodyOf(id: string, legs: WireLeg[], metadata: Record<string, unknown>): Record<string, unknown> {
  const [first] = legs;
  if (legs.length === 1 && first) return { proposal_id: id, ...first, metadata };
  return { proposal_id: id, legs, metadata };
}

/** A random v4-shaped UUID from the seeded generator. */
function uuidFrom(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The same amount written another way: number ↔ string, with trailing zeros. Same canonical value. */
function respell(amount: number | string): number | string {
  if (typeof amount === 'number') return amount.toFixed(6);
  return Number(amount);
}

/**
 * `count` sends: 75% fresh proposals (transfers and two-leg swaps, with ~15% that must be refused:
 * over max_transfer, below min_balance, unknown actor or resource, same actor), 20% duplicate
 * retries of earlier ones (same id, same payload, respelled amounts and a new trace), 5% reuses of
 * an earlier id with another payload. Retries pick mostly among recent sends, so they race the
 * original in flight.
 */
export function makeWorkload(count: number, seed: number): Send[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const decimals = (lo: number, hi: number) => Number((lo + random() * (hi - lo)).toFixed(Math.floor(random() * 7)));
  const sends: Send[] = [];
  const fresh: Send[] = [];
  const earlier = () => (random() < 0.6 ? fresh[Math.max(0, fresh.length - 1 - Math.floor(random() * 64))]! : pick(fresh));

  const freshLegs = (): WireLeg[] => {
    const roll = random();
    const from = pick(RICH);
    const to = pick(RICH.filter((a) => a !== from));
    let amount: number | string = decimals(0.5, 15);
    if (random() < 0.3) amount = amount.toFixed(Math.floor(random() * 7));
    if (roll < 0.06) return [{ actor_from: from, actor_to: to, resource: pick(['energy', 'water']), amount: decimals(50.000001, 80) }];
    if (roll < 0.11) return [{ actor_from: pick(POOR), actor_to: to, resource: pick(RESOURCES), amount: decimals(3, 14) }];
    if (roll < 0.12) return [{ actor_from: from, actor_to: `nobody-${Math.floor(random() * 5)}`, resource: pick(RESOURCES), amount }];
    if (roll < 0.13) return [{ actor_from: from, actor_to: to, resource: 'plutonium', amount }];
    if (roll < 0.14) return [{ actor_from: from, actor_to: from, resource: pick(RESOURCES), amount }];
    if (roll < 0.57) return [{ actor_from: from, actor_to: to, resource: pick(RESOURCES), amount }];
    const [r1, r2] = random() < 0.5 ? ['energy', 'water'] : [pick(['energy', 'water']), 'credits'];
    return [
      { actor_from: from, actor_to: to, resource: r1!, amount },
      { actor_from: to, actor_to: from, resource: r2!, amount: decimals(0.5, 40) },
    ];
  };

  for (let index = 0; index < count; index++) {
    const roll = random();
    if (fresh.length >= 20 && roll < 0.2) {
      const original = earlier();
      const legs = original.legs.map((leg) => ({ ...leg, amount: random() < 0.5 ? respell(leg.amount) : leg.amount }));
      sends.push({
        index,
        id: original.id,
        kind: SendKind.duplicate,
        key: original.key,
        legs,
        body: bodyOf(original.id, legs, { retry: index }),
      });
      continue;
    }
    if (fresh.length >= 20 && roll < 0.25) {
      const original = earlier();
      const legs = original.legs.map((leg, i) =>
        i === 0 ? { ...leg, amount: formatMicro(parseAmountOrZero(leg.amount) + 1_000_000n) } : leg,
      );
      sends.push({
        index,
        id: original.id,
        kind: SendKind.reuse,
        key: payloadKey(legs),
        legs,
        body: bodyOf(original.id, legs, { reuse: index }),
      });
      continue;
    }
    const id = uuidFrom(random);
    const legs = freshLegs();
    const send: Send = {
      index,
      id,
      kind: SendKind.fresh,
      key: payloadKey(legs),
      legs,
      body: bodyOf(id, legs, { client_seq: index, note: 'chaos' }),
    };
    sends.push(send);
    fresh.push(send);
  }
  return sends;
}

function parseAmountOrZero(amount: number | string): bigint {
  const parsed = parseAmount(amount);
  return parsed.ok ? parsed.value : 0n;
}
