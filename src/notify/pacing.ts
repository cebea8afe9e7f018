/**
 * Keeps deliveries inside each target's rate limit instead of learning it from refusals.
 *
 * Both providers say on every answer how much of the current window is left: Discord in
 * X-RateLimit-Remaining and X-RateLimit-Reset-After (seconds, with fractions), Linear in
 * X-RateLimit-Requests-Remaining and X-RateLimit-Requests-Reset (epoch milliseconds), plus a
 * complexity budget (X-RateLimit-Complexity-Remaining, X-Complexity for the last query). Once a
 * window is used up, the next request to that target waits for its reset; a 429 blocks the
 * target for the wait it advised.
 */

/** What one answer said about its window: how many requests are left, and when it refills. */
export interface Budget {
  remaining: number;
  resetAt: number;
}

const finite = (value: string | null): number | undefined => {
  if (value === null || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
};

export function discordBudget(headers: Headers, now = Date.now()): Budget | undefined {
  const remaining = finite(headers.get('x-ratelimit-remaining'));
  const resetAfter = finite(headers.get('x-ratelimit-reset-after'));
  if (remaining !== undefined && resetAfter !== undefined) return { remaining, resetAt: now + Math.ceil(resetAfter * 1000) };
  const reset = finite(headers.get('x-ratelimit-reset'));
  return remaining !== undefined && reset !== undefined ? { remaining, resetAt: Math.ceil(reset * 1000) } : undefined;
}

export function linearBudget(headers: Headers): Budget | undefined {
  const requests = finite(headers.get('x-ratelimit-requests-remaining'));
  const requestsReset = finite(headers.get('x-ratelimit-requests-reset'));
  const points = finite(headers.get('x-ratelimit-complexity-remaining'));
  const pointsReset = finite(headers.get('x-ratelimit-complexity-reset'));
  const lastQuery = finite(headers.get('x-complexity')) ?? 1;
  const windows: Budget[] = [];
  if (requests !== undefined && requestsReset !== undefined) windows.push({ remaining: requests, resetAt: requestsReset });
  // Complexity is spent in points: the budget holds as many more queries like the last one.
  if (points !== undefined && pointsReset !== undefined)
    windows.push({ remaining: Math.floor(points / Math.max(1, lastQuery)), resetAt: pointsReset });
  if (windows.length === 0) return undefined;
  return windows.reduce((tightest, w) =>
    w.remaining < tightest.remaining || (w.remaining === tightest.remaining && w.resetAt > tightest.resetAt) ? w : tightest,
  );
}

export function createPacer(now: () => number = Date.now) {
  const targets = new Map<string, { remaining: number | undefined; resetAt: number; blockedUntil: number }>();
  const state = (target: string) => {
    let s = targets.get(target);
    if (!s) targets.set(target, (s = { remaining: undefined, resetAt: 0, blockedUntil: 0 }));
    return s;
  };

  return {
    /** How long the next request to `target` should wait, in ms (0: go now). */
    delayFor(target: string): number {
      const s = state(target);
      const t = now();
      let until = s.blockedUntil;
      if (s.remaining !== undefined && s.remaining <= 0 && s.resetAt > t) until = Math.max(until, s.resetAt);
      return Math.max(0, until - t);
    },
    /** A request is about to go: it uses one of the window's remaining requests. */
    spend(target: string): void {
      const s = state(target);
      if (s.remaining !== undefined && s.resetAt > now()) s.remaining -= 1;
      else s.remaining = undefined;
    },
    /** An answer's headers, as read by discordBudget or linearBudget. */
    observe(target: string, budget: Budget | undefined): void {
      if (!budget) return;
      const s = state(target);
      s.remaining = budget.remaining;
      s.resetAt = budget.resetAt;
    },
    /** The target refused with 429: nothing goes to it before the wait it advised. */
    block(target: string, ms: number): void {
      const s = state(target);
      s.blockedUntil = Math.max(s.blockedUntil, now() + ms);
    },
  };
}

export type Pacer = ReturnType<typeof createPacer>;
