import { deriveId, WORLD_ACTOR_ID } from './ids.ts';
import { microToNumber, type Micro } from './money.ts';
import { toMicro, type CommonsSettings } from './scenario.ts';
import type { SettlementEntry } from './economy.ts';

/**
 * The commons: renewable stocks held by one system-like actor. Its balance is the stock, so the
 * ledger alone tells its history: regrowth comes from world, extraction goes commons -> world ->
 * extractor (two entries, each with world on one side, never between two actors directly).
 */

export interface Stock {
  resource: string;
  capacity: Micro;
  /** Per epoch, in millionths (0.35 -> 350000). */
  rateMicro: bigint;
  collapseBelow: Micro;
  maxExtraction: Micro;
}

const ONE = 1_000_000n;

export function stocksOf(commons: CommonsSettings | undefined): Stock[] {
  return Object.entries(commons?.resources ?? {})
    .map(([resource, s]) => ({
      resource,
      capacity: toMicro(s.capacity),
      rateMicro: BigInt(Math.round(s.regrowth_rate * 1_000_000)),
      collapseBelow: toMicro(s.collapse_below),
      maxExtraction: toMicro(s.max_extraction),
    }))
    .sort((a, b) => (a.resource < b.resource ? -1 : 1));
}

/**
 * Logistic regrowth of a stock in one epoch: rate x stock x (1 - stock / capacity), exact in
 * micro units (rounded down). A stock below its collapse threshold no longer regrows.
 */
export function regrowth(stock: Micro, s: Stock): Micro {
  if (stock <= 0n || stock < s.collapseBelow || stock >= s.capacity) return 0n;
  return (s.rateMicro * stock * (s.capacity - stock)) / (ONE * s.capacity);
}

export const collapsed = (stock: Micro, s: Stock): boolean => stock <= 0n || stock < s.collapseBelow;

/**
 * The sustainable harvest f(S) of a stock S: the largest harvest h after which the stock regrows
 * back to S by the next epoch, (S − h) + regrowth(S − h) ≥ S, and stays at or above its collapse
 * threshold. It is not the regrowth at S: a stock at capacity regrows nothing, so nothing can be
 * taken from it and have it back; a stock just above half capacity can give more than it regrows.
 * Found exactly on the ledger's own rounded regrowth by bisection: S + regrowth is increasing
 * below its vertex K(1 + r) / 2r, which lies beyond capacity for every rate up to 1.
 */
export function sustainableHarvest(stock: Micro, s: Stock): Micro {
  if (collapsed(stock, s)) return 0n;
  const regrowsBack = (left: Micro) => left + regrowth(left, s) >= stock;
  const vertex = s.rateMicro > 0n ? (s.capacity * (ONE + s.rateMicro)) / (2n * s.rateMicro) : stock;
  let low = s.collapseBelow > 0n ? s.collapseBelow : 0n; // smallest stock that may be left
  let high = stock < vertex ? stock : vertex; // leaving this much always regrows back
  if (low > high) return 0n;
  if (regrowsBack(low)) return stock - low;
  while (high - low > 1n) {
    const mid = (low + high) / 2n;
    if (regrowsBack(mid)) high = mid;
    else low = mid;
  }
  return stock - high;
}

export interface ExtractionRequest {
  actor: string;
  actorId: string;
  resource: string;
  amount: Micro;
}

export interface ExtractionGrant {
  actor: string;
  resource: string;
  requested: number;
  granted: number;
}

/**
 * Grants extraction requests against the stocks: each capped at the per-actor maximum, and all
 * of them scaled down in proportion when together they ask for more than the stock holds.
 */
export function grantExtraction(
  runId: string,
  epoch: number,
  commonsId: string,
  stocks: readonly Stock[],
  stockOf: (resource: string) => Micro,
  requests: readonly ExtractionRequest[],
): { entries: SettlementEntry[]; grants: ExtractionGrant[] } {
  const entries: SettlementEntry[] = [];
  const grants: ExtractionGrant[] = [];
  for (const s of stocks) {
    const mine = requests
      .filter((r) => r.resource === s.resource && r.amount > 0n)
      .map((r) => ({ ...r, capped: r.amount > s.maxExtraction ? s.maxExtraction : r.amount }))
      .sort((a, b) => (a.actor < b.actor ? -1 : 1));
    const total = mine.reduce((sum, r) => sum + r.capped, 0n);
    const available = stockOf(s.resource);
    for (const r of mine) {
      const granted = total <= available ? r.capped : (r.capped * (available > 0n ? available : 0n)) / total;
      grants.push({ actor: r.actor, resource: s.resource, requested: microToNumber(r.amount), granted: microToNumber(granted) });
      if (granted <= 0n) continue;
      const proposalId = deriveId('extraction', runId, epoch, r.actorId, s.resource);
      const metadata = { run_id: runId, epoch, actor: r.actor, requested: microToNumber(r.amount) };
      entries.push({
        proposalId,
        leg: 0,
        kind: 'extraction',
        from: commonsId,
        to: WORLD_ACTOR_ID,
        resource: s.resource,
        amount: granted,
        metadata,
      });
      entries.push({
        proposalId,
        leg: 1,
        kind: 'extraction',
        from: WORLD_ACTOR_ID,
        to: r.actorId,
        resource: s.resource,
        amount: granted,
        metadata,
      });
    }
  }
  return { entries, grants };
}
