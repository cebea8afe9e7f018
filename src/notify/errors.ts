/**
 * Delivery failures of the outbox's external targets (Linear, Discord).
 *
 * The dispatcher only needs two answers from a failure: may the row be tried again, and how soon.
 * Everything a client knows about the cause is folded into those, so the backoff logic stays in one
 * place and no client has to know how rows are claimed or rescheduled.
 */

import { parseRetryAfter } from '../retry.ts';

export interface DeliveryErrorOptions {
  retryable: boolean;
  /** A wait the remote asked for (429 Retry-After); the dispatcher's own backoff applies otherwise. */
  retryAfterMs?: number;
  /** HTTP status of the answer, when there was one. */
  status?: number;
  cause?: unknown;
}

export class DeliveryError extends Error {
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;

  constructor(message: string, options: DeliveryErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeliveryError';
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
  }
}

/**
 * The status alone decides retryability: 429 and 5xx are the remote's trouble and pass; any other
 * 4xx means the request itself (or our credentials) is wrong and will fail the same way again.
 */
export function errorForStatus(target: string, response: Response): DeliveryError {
  const { status } = response;
  if (status === 429) {
    return new DeliveryError(`${target} rate limited the request (HTTP 429)`, {
      retryable: true,
      status,
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
    });
  }
  return new DeliveryError(`${target} answered HTTP ${status}`, { retryable: status >= 500, status });
}

/**
 * fetch rejects for a refused or dropped connection and for our own timeout; none of those says
 * whether the remote acted, so they are all retryable and the clients must be idempotent.
 * Messages name the target, never the URL: a Discord webhook URL carries its token.
 */
export function errorForTransport(target: string, err: unknown, timeoutMs: number): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const name = err instanceof Error ? err.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new DeliveryError(`${target} did not answer within ${timeoutMs} ms`, { retryable: true, cause: err });
  }
  const code = networkCode(err);
  const detail = code === undefined ? '' : ` (${code})`;
  return new DeliveryError(`${target} could not be reached${detail}`, { retryable: true, cause: err });
}

/** undici hides the socket error under `cause`; its code (ECONNREFUSED, UND_ERR_SOCKET) is what helps in logs. */
function networkCode(err: unknown): string | undefined {
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}
