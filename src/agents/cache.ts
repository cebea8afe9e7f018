import { createHash } from 'node:crypto';
import type { LlmCacheMode } from '../agent-config.ts';
import type { Db } from '../db/db.ts';
import { canonicalJson } from '../domain/canonical-json.ts';
import type { ModelAnswer, ModelClient, ModelRequest } from './llm.ts';

/**
 * The response cache: a layer in front of a provider's client. `read-write` answers from the cache
 * when it can and stores what the model says; `read-only` never asks the model (a miss is an
 * error naming the call), so a rerun is offline and identical; `off` always asks.
 */
export { LLM_CACHE_MODES, LlmCacheMode } from '../agent-config.ts';

/** What, besides the request itself, decides an answer: which model, where, with which settings. */
export interface ModelIdentity {
  provider: string;
  baseUrl: string;
  model: string;
}

export interface ModelCacheStore {
  get(key: string): Promise<ModelAnswer | undefined>;
  put(key: string, identity: ModelIdentity, schemaName: string, answer: ModelAnswer): Promise<void>;
}

/** A `read-only` run asked for an answer the cache does not hold. */
export class CacheMissError extends Error {
  constructor(
    readonly identity: ModelIdentity,
    readonly schemaName: string,
    readonly key: string,
  ) {
    super(
      `--llm-cache read-only: no stored answer for the ${schemaName} call to ${identity.provider} model ${identity.model} ` +
        `at ${identity.baseUrl} (key ${key.slice(0, 12)}); run once with --llm-cache read-write to record it`,
    );
  }
}

/** SHA-256 of everything that decides the answer: provider, base URL, model, settings, messages, schema, seed. */
export function cacheKey(identity: ModelIdentity, request: Omit<ModelRequest, 'signal'>): string {
  const { provider, baseUrl, model } = identity;
  const { system, prompt, schemaName, schema, temperature, seed } = request;
  return createHash('sha256')
    .update(canonicalJson({ v: 1, provider, baseUrl, model, temperature, system, prompt, schemaName, schema, seed }))
    .digest('hex');
}

/** The cache in PostgreSQL (migration 000180), written and read through its two functions. */
export function createDbCacheStore(db: Db): ModelCacheStore {
  return {
    async get(key) {
      const { rows } = await db.query<{ answer: string; prompt_tokens: number; completion_tokens: number; total_tokens: number }>(
        'SELECT answer, prompt_tokens, completion_tokens, total_tokens FROM llm_cache_get($1)',
        [key],
      );
      const row = rows[0];
      return row && { text: row.answer, usage: { prompt: row.prompt_tokens, completion: row.completion_tokens, total: row.total_tokens } };
    },
    async put(key, identity, schemaName, answer) {
      await db.query('SELECT llm_cache_put($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
        key,
        identity.provider,
        identity.baseUrl,
        identity.model,
        schemaName,
        answer.text,
        answer.usage.prompt,
        answer.usage.completion,
        answer.usage.total,
      ]);
    },
  };
}

/** The client behind the cache: a hit is marked `cached`, a miss asks the model (unless read-only) and stores its answer. */
export function withCache(client: ModelClient, identity: ModelIdentity, store: ModelCacheStore, mode: LlmCacheMode): ModelClient {
  if (mode === 'off') return client;
  return {
    model: client.model,
    host: client.host,
    async complete(request) {
      const key = cacheKey(identity, request);
      const stored = await store.get(key);
      if (stored) return { ...stored, cached: true };
      if (mode === 'read-only') throw new CacheMissError(identity, request.schemaName, key);
      const answer = await client.complete(request);
      await store.put(key, identity, request.schemaName, answer);
      return answer;
    },
  };
}

export interface CacheModelStats {
  provider: string;
  base_url: string;
  model: string;
  answers: number;
  hits: number;
  total_tokens: number;
  oldest: Date;
  last_used: Date;
}

/** What the cache holds, by provider, base URL and model: answers stored, hits served, tokens they carry. */
export async function cacheStats(db: Db): Promise<CacheModelStats[]> {
  const { rows } = await db.query<CacheModelStats>(
    `SELECT provider, base_url, model, count(*)::int AS answers, coalesce(sum(hits), 0)::bigint AS hits,
            coalesce(sum(total_tokens), 0)::bigint AS total_tokens, min(created_at) AS oldest, max(last_used_at) AS last_used
       FROM llm_cache GROUP BY provider, base_url, model ORDER BY provider, base_url, model`,
  );
  return rows;
}

/** Drops the answers not used for `seconds`; returns how many went. */
export async function pruneCache(db: Db, seconds: number): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM llm_cache WHERE last_used_at < now() - make_interval(secs => $1)', [seconds]);
  return rowCount;
}
