/**
 * Reference prices that move with the deals made. Each applied swap of `a` units of one resource
 * for `b` units of another says what the two sides thought they were worth; if the first side paid
 * more than reference prices imply, the resource it bought is dearer than thought and the one it
 * paid with cheaper. An epoch's deals move each price by `weight` of the mean of those log ratios,
 * within a quarter and four times the scenario's own price.
 */

export interface Deal {
  give: { resource: string; amount: number };
  get: { resource: string; amount: number };
}

const BAND = 4;

export function movePrices(
  prices: Readonly<Record<string, number>>,
  initial: Readonly<Record<string, number>>,
  deals: readonly Deal[],
  weight: number,
): Record<string, number> {
  const pushes = new Map<string, number[]>();
  const push = (resource: string, by: number) => pushes.set(resource, [...(pushes.get(resource) ?? []), by]);
  for (const deal of deals) {
    const pg = prices[deal.give.resource] ?? 1;
    const pr = prices[deal.get.resource] ?? 1;
    if (deal.give.amount <= 0 || deal.get.amount <= 0) continue;
    const ratio = Math.log((deal.give.amount * pg) / (deal.get.amount * pr));
    push(deal.get.resource, ratio / 2);
    push(deal.give.resource, -ratio / 2);
  }
  const next: Record<string, number> = { ...prices };
  for (const [resource, list] of [...pushes].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const mean = list.reduce((s, v) => s + v, 0) / list.length;
    const base = initial[resource] ?? 1;
    const moved = (prices[resource] ?? 1) * Math.exp(weight * mean);
    next[resource] = Math.round(Math.min(base * BAND, Math.max(base / BAND, moved)) * 1e6) / 1e6;
  }
  return next;
}
