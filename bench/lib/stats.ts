/** Small measuring helpers for the benchmarks. */

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function summarise(samples: number[]): { n: number; p50: number; p99: number; max: number; mean: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? NaN),
    mean: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
  };
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: Math.round(performance.now() - started), value };
}

/** Samples this process's memory every 100 ms; peak() reports the highest RSS and heap seen. */
export function memorySampler() {
  let rss = 0;
  let heap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  };
  const timer = setInterval(sample, 100);
  timer.unref();
  return {
    reset() {
      rss = 0;
      heap = 0;
      sample();
    },
    peak() {
      sample();
      return {
        rssMb: Math.round(rss / 1048576),
        heapMb: Math.round(heap / 1048576),
        maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      };
    },
    stop: () => clearInterval(timer),
  };
}

export const fmt = (n: number) => n.toLocaleString('en-US');
