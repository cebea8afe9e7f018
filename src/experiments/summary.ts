/**
 * The comparison the report shows: per scenario and strategy, the mean of each figure across
 * seeds with a 95% confidence interval from Student's t, and the mean per epoch for the charts.
 * Pure: rows in, numbers out.
 */

import type { EpisodeMeta } from './types.ts';

type Row = Record<string, unknown>;

/** Two-sided 95% quantiles of Student's t (0.975) by degrees of freedom; beyond 30 the table steps to the normal. */
// prettier-ignore
const T975: Record<number, number> = {
  1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
  11: 2.201, 12: 2.179, 13: 2.16, 14: 2.145, 15: 2.131, 16: 2.12, 17: 2.11, 18: 2.101, 19: 2.093, 20: 2.086,
  21: 2.08, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.06, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042,
};

/** t(0.975, df), taking the next smaller tabled df above 30 (a slightly wider, never narrower, interval). */
export function tQuantile975(df: number): number {
  if (df < 1) return Number.NaN;
  if (df <= 30) return T975[Math.floor(df)]!;
  if (df < 40) return 2.042;
  if (df < 60) return 2.021;
  if (df < 120) return 2.0;
  return 1.98;
}

export interface MeanCi {
  n: number;
  mean: number;
  /** Half the width of the 95% interval; null with fewer than two values. */
  half: number | null;
  /** The interval's ends, clipped to the figure's range (a rate never runs past 1); null with fewer than two values. */
  low: number | null;
  high: number | null;
}

/** The values a figure can take: rates and shares lie in [0, 1], counts and times in [0, ∞). */
export type Range = readonly [min: number, max: number];
export const RATE: Range = [0, 1];
export const NON_NEGATIVE: Range = [0, Number.POSITIVE_INFINITY];

/** Mean and 95% confidence interval of the values (t-distribution, sample standard deviation), clipped to the range. */
export function meanCi(values: readonly number[], range?: Range): MeanCi {
  const n = values.length;
  if (n === 0) return { n, mean: Number.NaN, half: null, low: null, high: null };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean, half: null, low: null, high: null };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  const half = tQuantile975(n - 1) * Math.sqrt(variance / n);
  const [min, max] = range ?? [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
  return { n, mean, half, low: Math.max(min, mean - half), high: Math.min(max, mean + half) };
}

const numeric = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Rows grouped by a key, groups and their order kept as first seen. */
export function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group) group.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

/** Mean ± CI of one column over rows; rows where it is null (a scenario without a commons) are left out. */
export function columnCi(rows: readonly Row[], column: string, range?: Range): MeanCi {
  return meanCi(rows.map((r) => r[column]).filter(numeric), range);
}

export interface EpochPoint {
  x: number;
  y: number;
  /** The 95% band across episodes, clipped to the range; absent where fewer than two episodes reached the epoch. */
  low?: number;
  high?: number;
}

/** Per epoch, the mean of a column over the rows (one per episode) that have it, with its 95% band. */
export function meanByEpoch(rows: readonly Row[], column: string, range?: Range): EpochPoint[] {
  const byEpoch = new Map<number, number[]>();
  for (const r of rows) {
    const epoch = r.epoch;
    const value = r[column];
    if (!numeric(epoch) || !numeric(value)) continue;
    byEpoch.set(epoch, [...(byEpoch.get(epoch) ?? []), value]);
  }
  return [...byEpoch.entries()]
    .sort(([a], [b]) => a - b)
    .map(([x, ys]) => {
      const ci = meanCi(ys, range);
      return ci.low === null || ci.high === null ? { x, y: ci.mean } : { x, y: ci.mean, low: ci.low, high: ci.high };
    });
}

/** Natural order of episodes: scenario, strategy, then seed as a number where it is one. */
export function episodeOrder(a: EpisodeMeta, b: EpisodeMeta): number {
  const seed = (s: string) => (/^\d+$/.test(s) ? s.padStart(20, '0') : s);
  const ka = [a.scenario, a.strategy, seed(a.seed), a.episode_id];
  const kb = [b.scenario, b.strategy, seed(b.seed), b.episode_id];
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
  return 0;
}
