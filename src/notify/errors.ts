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
  /** The target refused for its rate limit: the row waits as asked and keeps its attempts. */
  rateLimited?: boolean;
  cause?: unknown;
}

export class DeliveryError extends Error {
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  readonly rateLimited: boolean;

  constructor(message: string, options: DeliveryErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeliveryError';
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
    this.rateLimited = options.rateLimited ?? false;
  }
}

/** Longest upstream text kept in a log line or in outbox.last_error. */
export const MAX_ERROR_TEXT = 500;

const REDACTED = '[redacted]';

/**
 * What credentials look like in text an upstream sent back: an Authorization value, a Linear key,
 * a Discord webhook token, a password in a URL, a key= or token= parameter, our own API keys.
 * Each keeps its label so the text still says what was there.
 */
const CREDENTIAL_PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [/\b(authorization|proxy-authorization)(["'\s]*[:=]\s*["']?)(?:(?:bearer|basic|token)\s+)?[^\s"',;}]+/gi, `$1$2${REDACTED}`],
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  [/\blin_(?:api|oauth)_[A-Za-z0-9_-]+/g, REDACTED],
  [/\bggk_[A-Za-z0-9_-]+/g, REDACTED],
  [/(\/api\/(?:v\d+\/)?webhooks\/\d+\/)[A-Za-z0-9._-]+/gi, `$1${REDACTED}`],
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*:[^\s/@]*@/gi, `$1${REDACTED}@`],
  [
    /\b(api[_-]?key|access[_-]?token|refresh[_-]?token|client[_-]?secret|secret|password|passwd|token)(["'\s]*[:=]\s*["']?)[^\s"'&,;}]+/gi,
    `$1$2${REDACTED}`,
  ],
];

/**
 * Strips credentials from upstream text and bounds its length, before it is logged or stored:
 * the known secrets wherever they appear (even cut or encoded), then anything that looks like one.
 */
export function createRedactor(secrets: ReadonlyArray<string | undefined> = []) {
  const known = secrets
    .filter((s): s is string => typeof s === 'string' && s.length >= 6)
    .flatMap((s) => [s, encodeURIComponent(s)])
    .sort((a, b) => b.length - a.length);
  return function redact(text: string, max = MAX_ERROR_TEXT): string {
    let out = text;
    for (const secret of known) out = out.split(secret).join(REDACTED);
    for (const [pattern, replacement] of CREDENTIAL_PATTERNS) out = out.replace(pattern, replacement);
    return out.length <= max ? out : `${out.slice(0, max - 1)}…`;
  };
}

export type Redactor = ReturnType<typeof createRedactor>;

/**
 * The status alone decides retryability: 429 and 5xx are the remote's trouble and pass; any other
 * 4xx means the request itself (or our credentials) is wrong and will fail the same way again.
 */
export function errorForStatus(target: string, response: Response): DeliveryError {
  const { status } = response;
  if (status === 429) {
    return new DeliveryError(`${target} rate limited the request (HTTP 429)`, {
      retryable: true,
      rateLimited: true,
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
