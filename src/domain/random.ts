import { createHash } from 'node:crypto';

/** A seeded pseudo-random source: the same parts always give the same sequence. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** An integer in [0, 1000): for per-mille arithmetic on exact amounts. */
  permille(): number;
}

/**
 * mulberry32 seeded from SHA-256 of the parts. Agents draw from a source seeded by
 * (scenario seed, epoch, agent, purpose), so a decision depends on nothing but those and what the
 * agent observed: the same scenario and seed replay identically.
 */
export function seededRandom(...parts: Array<string | number>): Random {
  let state = createHash('sha256')
    .update(JSON.stringify(parts.map(String)))
    .digest()
    .readUInt32BE(0);
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n) => Math.floor(next() * n), permille: () => Math.floor(next() * 1000) };
}

/** A seeded Fisher-Yates shuffle; the input is left as it was. */
export function shuffled<T>(items: readonly T[], random: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
