import { setTimeout as sleep } from 'node:timers/promises';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { ProviderLimits } from '../agent-config.ts';
import type { Db } from '../db/db.ts';
import { backoffMs } from '../retry.ts';
import type { ModelIdentity } from './cache.ts';
import type { ModelClient, ModelRequest } from './llm.ts';

/** A provider's limits (per provider and base URL, shared through the database); absent means none. */
export type { ProviderLimits } from '../agent-config.ts';

export const hasLimits = (l: ProviderLimits): boolean =>
  l.maxConcurrent !== undefined || l.requestsPerMinute !== undefined || l.tokensPerMinute !== undefined;

/** The shared counters (migration 000181): slots for concurrency, per-minute requests and tokens. */
export interface LimitStore {
  acquireSlot(key: string, max: number, holder: string, leaseMs: number): Promise<number | null>;
  releaseSlot(key: string, slot: number, holder: string): Promise<void>;
  /** 0 when the request is counted; else the milliseconds until the next minute. */
  reserveRate(key: string, rpm: number | null, tpm: number | null, tokens: number): Promise<number>;
  settleRate(key: string, extraTokens: number): Promise<void>;
}

export function createDbLimitStore(db: Db): LimitStore {
  return {
    async acquireSlot(key, max, holder, leaseMs) {
      const { rows } = await db.query<{ slot: number | null }>('SELECT llm_slot_acquire($1, $2, $3, $4) AS slot', [
        key,
        max,
        holder,
        leaseMs,
      ]);
      return rows[0]?.slot ?? null;
    },
    async releaseSlot(key, slot, holder) {
      await db.query('SELECT llm_slot_release($1, $2, $3)', [key, slot, holder]);
    },
    async reserveRate(key, rpm, tpm, tokens) {
      const { rows } = await db.query<{ wait: number }>('SELECT llm_rate_reserve($1, $2, $3, $4) AS wait', [key, rpm, tpm, tokens]);
      return rows[0]!.wait;
    },
    async settleRate(key, extraTokens) {
      await db.query('SELECT llm_rate_settle($1, $2)', [key, extraTokens]);
    },
  };
}

/** What a request will cost before it is answered: its text at four characters a token, and as much again for the answer. */
export const estimateTokens = (request: Pick<ModelRequest, 'system' | 'prompt' | 'schema'>): number =>
  Math.ceil(((request.system.length + request.prompt.length + JSON.stringify(request.schema).length) / 4) * 1.5);

const holderPrefix = `${hostname()}:${process.pid}:`;

/**
 * The client behind the provider's limits: a call waits for a free concurrency slot and room in
 * the current minute, polling with the one backoff (src/retry.ts), and gives its slot back when it
 * ends. Time spent waiting does not count against the call's deadline. The slot's lease outlives the call's deadline, so a process that dies mid-call frees it.
 */
export function withLimits(
  client: ModelClient,
  identity: ModelIdentity,
  limits: ProviderLimits,
  store: LimitStore,
  timeoutMs: number,
): ModelClient {
  if (!hasLimits(limits)) return client;
  const key = `${identity.provider} ${identity.baseUrl}`;
  const poll = { baseMs: 50, maxMs: 2000 };
  return {
    model: client.model,
    host: client.host,
    async complete(request) {
      const estimate = estimateTokens(request);
      const resume = request.pauseDeadline?.();
      for (let wait = 0; limits.requestsPerMinute !== undefined || limits.tokensPerMinute !== undefined; wait++) {
        const ms = await store.reserveRate(key, limits.requestsPerMinute ?? null, limits.tokensPerMinute ?? null, estimate);
        if (ms === 0) break;
        await sleep(Math.min(ms, backoffMs(wait, { baseMs: 250, maxMs: 5000 }) + ms / 2));
      }
      const holder = `${holderPrefix}${randomUUID()}`;
      let slot: number | null = null;
      if (limits.maxConcurrent !== undefined)
        for (let wait = 0; (slot = await store.acquireSlot(key, limits.maxConcurrent, holder, timeoutMs * 2 + 10_000)) === null; wait++)
          await sleep(backoffMs(wait, poll));
      // The wait for room is not the model's delay: the call's deadline starts when it is let through.
      resume?.();
      try {
        const answer = await client.complete(request);
        if (limits.tokensPerMinute !== undefined) await store.settleRate(key, answer.usage.total - estimate);
        return answer;
      } finally {
        if (slot !== null) await store.releaseSlot(key, slot, holder);
      }
    },
  };
}
