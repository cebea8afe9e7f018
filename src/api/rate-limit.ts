/**
 * A token bucket per key (a client address): `perMinute` tokens refilled continuously, bursts up
 * to the same number. Buckets idle long enough to be full again are dropped, so memory is bounded
 * by the clients of the last minute.
 */
export function createRateLimiter(options: { perMinute: number; now?: () => number }) {
  const now = options.now ?? Date.now;
  const capacity = options.perMinute;
  const refillPerMs = options.perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();

  function sweep(t: number): void {
    if (t - lastSweep < 60_000) return;
    lastSweep = t;
    for (const [key, bucket] of buckets) if (bucket.tokens + (t - bucket.at) * refillPerMs >= capacity) buckets.delete(key);
  }

  return function take(key: string): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const t = now();
    sweep(t);
    const bucket = buckets.get(key) ?? { tokens: capacity, at: t };
    bucket.tokens = Math.min(capacity, bucket.tokens + (t - bucket.at) * refillPerMs);
    bucket.at = t;
    buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerMs / 1000)) };
  };
}
