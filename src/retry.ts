/**
 * The one retry discipline: exponential backoff with jitter, capped, and the one Retry-After
 * parser. The validator's HTTP client, the outbox dispatcher, the LLM strategies and the LISTEN
 * connection all wait through these.
 */

export interface BackoffOptions {
  /** The wait before the first retry, before jitter. */
  baseMs: number;
  /** No wait exceeds this. */
  maxMs: number;
}

/**
 * The wait before retry number `retry` (0 for the first): base · 2^retry, capped, of which the
 * upper half is random. The jitter spreads the retries of many clients that failed together; the
 * fixed half keeps a retry from coming back at once.
 */
export function backoffMs(retry: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, retry));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Retry-After in milliseconds: delta-seconds (Discord sends fractions) or an HTTP-date
 * (RFC 9110 §10.2.3). A missing or unparsable header yields undefined rather than a guess.
 */
export function parseRetryAfter(header: string | null | undefined, now: number = Date.now()): number | undefined {
  if (header === null || header === undefined || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds * 1000));
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The wait before a retry: our backoff, or the server's Retry-After when that is longer. */
export function retryDelayMs(
  retry: number,
  options: BackoffOptions,
  retryAfter?: string | null,
  random: () => number = Math.random,
): number {
  return Math.max(parseRetryAfter(retryAfter) ?? 0, backoffMs(retry, options, random));
}
