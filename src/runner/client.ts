import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { retryDelayMs } from '../retry.ts';

/**
 * The runner's HTTP client of the validator. Every call has a deadline (30 s by default, as the
 * blueprint asks of n8n); a timeout, a lost connection, a 429 or a 5xx is retried with
 * exponential backoff, and a retried POST /execute carries the same proposal_id, so the validator
 * applies it at most once. 409 on /execute means "this slot is already settled".
 */

export interface ClientOptions {
  baseUrl: string;
  apiKey?: string;
  timeoutMs?: number;
  /** Further attempts after a retryable failure; then the call throws. */
  retries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  logger?: Pick<Logger, 'warn' | 'info'>;
  signal?: AbortSignal;
}

export interface Reply<T = unknown> {
  status: number;
  body: T;
}

export class ValidatorUnavailableError extends Error {}

export class ValidatorRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const b = body as { error_code?: string; message?: string } | undefined;
    super(`validator answered ${status}${b?.error_code ? ` ${b.error_code}` : ''}${b?.message ? `: ${b.message}` : ''}`);
  }
}

export type ExecuteResult =
  | { result: 'applied'; replayed: boolean; ledgerIds: number[] }
  | { result: 'rejected'; replayed: boolean; errorCode: string; message: string }
  | { result: 'conflict' }
  | { result: 'malformed'; message: string };

const RETRYABLE = new Set([429, 500, 502, 503, 504]);

export function createValidatorClient(options: ClientOptions) {
  const base = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const retries = options.retries ?? 8;
  const retryBaseMs = options.retryBaseMs ?? 250;
  const retryMaxMs = options.retryMaxMs ?? 15_000;
  let retried = 0;

  // A halt (503 CIRCUIT_BREAKER_OPEN) is a governance action, not a failure: the client waits for
  // the resume without spending its retries, and says so once.
  let halted = false;

  /** One request with the retry discipline; answers any non-retryable status to the caller. */
  async function request<T = unknown>(method: string, path: string, body?: unknown): Promise<Reply<T>> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 0, waits = 0; ; attempt++) {
      let failure: string;
      let retryAfter: string | null = null;
      try {
        const response = await fetch(`${base}${path}`, {
          method,
          headers: {
            ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
            ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
          },
          body: payload,
          signal: options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
        });
        const text = await response.text();
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // keep the text
        }
        if (!RETRYABLE.has(response.status)) {
          if (halted) {
            halted = false;
            options.logger?.info('trading resumed');
          }
          return { status: response.status, body: parsed as T };
        }
        const b = parsed as { error_code?: string; message?: string; reason?: string };
        if (b?.error_code === 'CIRCUIT_BREAKER_OPEN') {
          if (!halted)
            options.logger?.warn({ reason: b.reason ?? null }, 'trading is halted by the circuit breaker; waiting for it to resume');
          halted = true;
          attempt = -1;
          retried += 1;
          await sleep(
            retryDelayMs(Math.min(waits++, 4), { baseMs: retryBaseMs, maxMs: retryMaxMs }, response.headers.get('retry-after')),
            undefined,
            options.signal ? { signal: options.signal } : undefined,
          );
          continue;
        }
        failure = `${response.status}${b?.error_code ? ` ${b.error_code}` : ''}`;
        retryAfter = response.headers.get('retry-after');
      } catch (error) {
        if (options.signal?.aborted) throw error;
        failure = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (error as Error).message;
      }
      if (attempt >= retries) throw new ValidatorUnavailableError(`${method} ${path} failed after ${attempt + 1} attempts: ${failure}`);
      retried += 1;
      // Jitter spreads the retries of many runners; it changes timing only, never what is sent.
      const wait = retryDelayMs(attempt, { baseMs: retryBaseMs, maxMs: retryMaxMs }, retryAfter);
      options.logger?.warn({ method, path, attempt: attempt + 1, failure, wait_ms: Math.round(wait) }, 'validator call failed; retrying');
      await sleep(wait, undefined, options.signal ? { signal: options.signal } : undefined);
    }
  }

  /** A request whose only acceptable answer is 2xx. */
  async function expectOk<T>(method: string, path: string, body?: unknown): Promise<T> {
    const reply = await request<T>(method, path, body);
    if (reply.status < 200 || reply.status > 299) throw new ValidatorRefusedError(reply.status, reply.body);
    return reply.body;
  }

  function toResult(
    status: number,
    b: { status?: string; replayed?: boolean; ledger_ids?: number[]; error_code?: string; message?: string },
  ): ExecuteResult {
    if (status === 200) return { result: 'applied', replayed: b.replayed === true, ledgerIds: b.ledger_ids ?? [] };
    if (status === 422)
      return { result: 'rejected', replayed: b.replayed === true, errorCode: b.error_code ?? 'UNKNOWN', message: b.message ?? '' };
    if (status === 409) return { result: 'conflict' };
    if (status === 400) return { result: 'malformed', message: b.message ?? 'malformed proposal' };
    throw new ValidatorRefusedError(status, b);
  }

  async function execute(proposal: Record<string, unknown>): Promise<ExecuteResult> {
    const reply = await request<{ status?: string; replayed?: boolean; ledger_ids?: number[]; error_code?: string; message?: string }>(
      'POST',
      '/execute',
      proposal,
    );
    return toResult(reply.status, reply.body);
  }

  return {
    request,
    expectOk,
    /** How many retries this client has made so far. */
    retries: () => retried,
    execute,
    /**
     * Proposals decided in order, up to `chunk` per POST /execute/batch (one transaction each); a
     * retried chunk carries the same ids, so what landed before a failure replays.
     */
    async executeBatch(proposals: Array<Record<string, unknown>>, chunk = 250): Promise<ExecuteResult[]> {
      const results: ExecuteResult[] = [];
      if (chunk <= 1) {
        for (const proposal of proposals) results.push(await execute(proposal));
        return results;
      }
      for (let i = 0; i < proposals.length; i += chunk) {
        const reply = await request<{
          results?: Array<{ http_status: number; replayed?: boolean; ledger_ids?: number[]; error_code?: string; message?: string }>;
        }>('POST', '/execute/batch', { proposals: proposals.slice(i, i + chunk) });
        if (reply.status !== 200 || !Array.isArray(reply.body.results)) throw new ValidatorRefusedError(reply.status, reply.body);
        for (const r of reply.body.results) results.push(toResult(r.http_status, r));
      }
      return results;
    },
  };
}

export type ValidatorClient = ReturnType<typeof createValidatorClient>;
