import { setTimeout as sleep } from 'node:timers/promises';
import type { Move, Reply } from '../domain/negotiation.ts';
import { emptyUsage } from '../domain/stats.ts';
import { backoffMs, retryDelayMs } from '../retry.ts';
import type { Micro } from '../domain/money.ts';
import {
  extractJsonSchema,
  extractPrompt,
  moveJsonSchema,
  parseExtraction,
  parseMove,
  parseReflection,
  parseReply,
  proposePrompt,
  reflectJsonSchema,
  reflectPrompt,
  replyJsonSchema,
  respondPrompt,
  SYSTEM_INSTRUCTION,
  type Parsed,
} from './prompts.ts';
import { BudgetExhaustedError } from './budget.ts';
import { CacheMissError } from './cache.ts';
import type { Decided, Strategy, StrategyName, TurnContext } from './types.ts';
import { inSpan } from '../observability/tracing.ts';
import type { LlmSettings } from '../agent-config.ts';

export interface ModelAnswer {
  text: string;
  usage: { prompt: number; completion: number; total: number };
  /** Served by the response cache (src/agents/cache.ts), not by the model. */
  cached?: boolean;
}

export interface ModelRequest {
  system: string;
  prompt: string;
  schemaName: string;
  schema: Record<string, unknown>;
  temperature: number;
  /** Drawn from the turn's seeded source: sent to the provider and part of the cache key. */
  seed?: number;
  signal: AbortSignal;
  /**
   * Stops the call's deadline while a layer waits for room under the provider's limits; the
   * function it returns starts the whole deadline again once the call is let through.
   */
  pauseDeadline?: () => () => void;
}

/** One provider's chat call with JSON-schema output; the strategy above it is provider-neutral. */
export interface ModelClient {
  readonly model: string;
  /** The host the calls go to, for messages about it. */
  readonly host: string;
  complete(request: ModelRequest): Promise<ModelAnswer>;
}

/** A failed call; `retryable` for rate limits, server errors and lost connections. */
export class ModelCallError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    /** The provider's Retry-After header, when it sent one. */
    readonly retryAfter?: string | null,
  ) {
    super(message);
  }
}

/**
 * A provider's failure in a few words: `HTTP 400 API key not valid. …` rather than the JSON
 * body it came in.
 */
export function failureCause(error: unknown): string {
  const message = (error as Error).message ?? String(error);
  const http = /^HTTP (\d+):?\s*([\s\S]*)$/.exec(message);
  const detail = http ? http[2]! : message;
  let said = detail;
  const json = detail.slice(Math.max(0, detail.indexOf('{')));
  try {
    const body = JSON.parse(json) as { error?: { message?: unknown } | string; message?: unknown };
    const inner = typeof body.error === 'string' ? body.error : (body.error?.message ?? body.message);
    if (typeof inner === 'string' && inner) said = inner;
  } catch {
    // Not JSON, or JSON cut short by the client: its first "message" still says why.
    const quoted = /"message"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(detail);
    if (quoted) said = quoted[1]!;
  }
  return `${http ? `HTTP ${http[1]} ` : ''}${said.replace(/\s+/g, ' ').trim().slice(0, 160)}`;
}

/**
 * A call that got no HTTP answer (no route, refused, name unknown), named by the host it went to:
 * `cannot reach generativelanguage.googleapis.com: fetch failed (ENOTFOUND)` rather than
 * `fetch failed`. An abort (the call's deadline) is left as it is.
 */
export function unreachable(host: string, error: unknown): ModelCallError {
  const { name, message, cause } = error as { name?: string; message?: string; cause?: { code?: unknown; message?: unknown } };
  if (name === 'AbortError' || name === 'TimeoutError') return new ModelCallError(message ?? String(error), true);
  const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined;
  return new ModelCallError(`cannot reach ${host}: ${message ?? String(error)}${why && !message?.includes(why) ? ` (${why})` : ''}`, true);
}

/** How the error of an answer that came but could not be used begins: the runner feeds it back to the agent. */
export const INVALID_ANSWER = 'invalid answer from';

export const isRetryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

/**
 * A strategy backed by a language model. Every call has a deadline; rate limits and server errors
 * are retried with exponential backoff; whatever still fails, times out, is not JSON or breaks the
 * schema leaves the decision undefined (the agent loses its turn) and never throws into the loop.
 */
export function createLlmStrategy(name: StrategyName, client: ModelClient, settings: LlmSettings): Strategy {
  async function ask<T>(
    ctx: TurnContext,
    prompt: string,
    schemaName: string,
    schema: Record<string, unknown>,
    parse: (raw: string) => Parsed<T>,
  ): Promise<Decided<T>> {
    const usage = { ...emptyUsage(), cache_hits: 0, saved_usd: 0 };
    const fail = (error: string): Decided<T> => {
      usage.errors += 1;
      return { value: undefined, usage, error };
    };
    // One draw per call from the turn's own source: the same seed asks the same question.
    const seed = ctx.random.int(2 ** 31);
    let limited = 0;
    for (let attempt = 0; ; attempt++) {
      const deadline = new AbortController();
      const { signal } = deadline;
      const expire = () => deadline.abort(new DOMException(`no answer within ${settings.timeoutMs} ms`, 'TimeoutError'));
      let timer = setTimeout(expire, settings.timeoutMs);
      const pauseDeadline = () => {
        clearTimeout(timer);
        return () => void (timer = setTimeout(expire, settings.timeoutMs));
      };
      usage.calls += 1;
      try {
        const answer = await inSpan(
          'gridgov.model.call',
          { 'gen_ai.request.model': client.model, 'gridgov.schema': schemaName, 'gridgov.attempt': attempt + 1 },
          async (span) => {
            const reply = await client.complete({
              system: SYSTEM_INSTRUCTION,
              prompt,
              schemaName,
              schema,
              temperature: settings.temperature,
              seed,
              signal,
              pauseDeadline,
            });
            span.setAttributes({
              'gen_ai.usage.input_tokens': reply.usage.prompt,
              'gen_ai.usage.output_tokens': reply.usage.completion,
              'gridgov.usage.total_tokens': reply.usage.total,
            });
            return reply;
          },
        );
        usage.prompt_tokens += answer.usage.prompt;
        usage.completion_tokens += answer.usage.completion;
        usage.total_tokens += answer.usage.total;
        const cost =
          (answer.usage.prompt * (settings.priceInputPerMtok ?? 0) + answer.usage.completion * (settings.priceOutputPerMtok ?? 0)) /
          1_000_000;
        usage.cost_usd += cost;
        if (answer.cached) {
          usage.cache_hits += 1;
          usage.saved_usd += cost;
        }
        const parsed = parse(answer.text);
        return parsed.ok ? { value: parsed.value, usage } : fail(`${INVALID_ANSWER} ${client.model}: ${parsed.error}`);
      } catch (error) {
        // A read-only rerun that needs an answer it does not hold cannot be what it claims: stop it.
        // So does a budget that ran out: the work stops at the call, not the turn.
        if (error instanceof CacheMissError || error instanceof BudgetExhaustedError) throw error;
        if (signal.aborted) return fail(`no answer from ${client.model} within ${settings.timeoutMs} ms`);
        if (error instanceof ModelCallError && error.status === 429 && limited < (settings.rateLimitRetries ?? 0)) {
          const wait = retryDelayMs(limited++, { baseMs: settings.retryBaseMs, maxMs: 60_000 }, error.retryAfter);
          attempt -= 1; // a rate limit waited out is not one of the call's own retries
          await sleep(wait);
          continue;
        }
        const retryable = error instanceof ModelCallError ? error.retryable : true;
        if (!retryable || attempt >= settings.retries) return fail(`${name}: ${failureCause(error)}`);
        await sleep(backoffMs(attempt, { baseMs: settings.retryBaseMs, maxMs: settings.retryBaseMs * 2 ** settings.retries }));
      } finally {
        clearTimeout(timer);
      }
    }
  }

  return {
    name,
    model: client.model,
    host: client.host,
    propose: (ctx) => ask<Move>(ctx, proposePrompt(ctx), 'agent_move', moveJsonSchema, parseMove),
    extract: (ctx) => ask<Map<string, Micro>>(ctx, extractPrompt(ctx), 'agent_extraction', extractJsonSchema(ctx), parseExtraction),
    reflect: (ctx) => ask<string>(ctx, reflectPrompt(ctx), 'agent_reflection', reflectJsonSchema, parseReflection),
    respond: (ctx, history, transcript, lastRound) =>
      ask<Reply>(ctx, respondPrompt(ctx, history, transcript, lastRound), 'agent_reply', replyJsonSchema, parseReply),
  };
}
