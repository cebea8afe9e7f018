/**
 * The one registry of error codes the API can answer with. A code is never reused for another
 * meaning; adding one fails to compile until `src/api/errors.ts` maps it to an HTTP status.
 */
export const BusinessErrorCode = {
  INSUFFICIENT_BALANCE: 'INSUFFICIENT_BALANCE',
  INVALID_ACTOR: 'INVALID_ACTOR',
  INVALID_RESOURCE: 'INVALID_RESOURCE',
  SAME_ACTOR: 'SAME_ACTOR',
  CONSTRAINT_VIOLATION: 'CONSTRAINT_VIOLATION',
  FORBIDDEN_ACTOR: 'FORBIDDEN_ACTOR',
} as const;
export type BusinessErrorCode = (typeof BusinessErrorCode)[keyof typeof BusinessErrorCode];

export const ErrorCode = {
  ...BusinessErrorCode,
  MALFORMED_PROPOSAL: 'MALFORMED_PROPOSAL',
  IDEMPOTENCY_CONFLICT: 'IDEMPOTENCY_CONFLICT',
  RUN_CONFLICT: 'RUN_CONFLICT',
  EPOCH_OUT_OF_ORDER: 'EPOCH_OUT_OF_ORDER',
  SCENARIO_MISMATCH: 'SCENARIO_MISMATCH',
  CIRCUIT_BREAKER_OPEN: 'CIRCUIT_BREAKER_OPEN',
  DATABASE_UNAVAILABLE: 'DATABASE_UNAVAILABLE',
  COMMIT_FAILED: 'COMMIT_FAILED',
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  RATE_LIMITED: 'RATE_LIMITED',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What each code means, for the README, the OpenAPI document and error messages. */
export const errorDescriptions: Record<ErrorCode, string> = {
  INSUFFICIENT_BALANCE: 'The sender does not hold enough of the resource for this leg.',
  INVALID_ACTOR: 'An actor named in the proposal does not exist.',
  INVALID_RESOURCE: 'A resource named in the proposal does not exist.',
  SAME_ACTOR: 'A leg moves a resource from an actor to itself.',
  CONSTRAINT_VIOLATION: 'A leg exceeds max_transfer or would leave the sender below min_balance.',
  FORBIDDEN_ACTOR:
    "The caller may not move these funds: only the system role moves the world's, an agent key only its own actor's, and debiting several traders in one proposal needs system, operator or admin (or no key at all where execute auth is open).",
  MALFORMED_PROPOSAL: 'The body is not a valid proposal; the message names the field.',
  IDEMPOTENCY_CONFLICT: 'The proposal_id was already used with a different payload.',
  RUN_CONFLICT: 'The run_id is already registered with another scenario, seed or strategy.',
  SCENARIO_MISMATCH:
    'The world was seeded from another scenario; a run of this one would add its actors and change its limits unless asked to (merge).',
  EPOCH_OUT_OF_ORDER: "The epoch step does not follow the run's progress (settle, plan, stats; one epoch after another).",
  CIRCUIT_BREAKER_OPEN: 'Trading is halted by an operator; retry after it resumes.',
  DATABASE_UNAVAILABLE:
    'The database could not be reached; nothing was recorded unless the connection broke during the commit, so retry with the same proposal_id to learn the outcome.',
  COMMIT_FAILED: 'The transaction could not be committed; nothing was recorded; retry with the same proposal_id.',
  BAD_REQUEST: 'A query parameter or body is invalid; the message says which.',
  UNAUTHORIZED: 'No valid API key was given.',
  FORBIDDEN: "The API key's role is too weak for this action.",
  NOT_FOUND: 'No such route or record.',
  PAYLOAD_TOO_LARGE: 'The request body exceeds the size limit.',
  UNSUPPORTED_MEDIA_TYPE: 'The body must be application/json.',
  RATE_LIMITED: 'Too many requests; retry after the indicated delay.',
  INTERNAL_ERROR: 'An unexpected error; details are in the server log.',
};

/** A failure that carries its registry code, thrown below the HTTP layer and mapped there. */
export class CodedError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = errorDescriptions[code],
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/**
 * The one table from the SQLSTATEs our database functions raise (`RAISE … USING ERRCODE =
 * 'GGnnn'`) to registry codes. A new refusal is one line here and the same code in its migration;
 * a GG code is never reused (GG004 left with commit_decisions in migration 000061). `field` names
 * the request field a refusal is about when its message does not start with "field: …";
 * `detailIs` names the detail that carries the database's DETAIL. 22023 is PostgreSQL's own
 * invalid_parameter_value, which the key-checking functions raise for a bad argument.
 */
export const databaseRefusals: Readonly<Record<string, { code: ErrorCode; field?: string; detailIs?: string }>> = {
  GG001: { code: 'CIRCUIT_BREAKER_OPEN', detailIs: 'reason' }, // record_proposals: trading is halted
  GG002: { code: 'MALFORMED_PROPOSAL' }, // record_proposals: an amount or a leg the route should have refused
  GG003: { code: 'UNAUTHORIZED' }, // record_proposals: the presented key is unknown or revoked
  GG010: { code: 'UNAUTHORIZED' }, // key-checking functions: no valid key
  GG011: { code: 'FORBIDDEN' }, // key-checking functions: the key's role is too weak
  GG012: { code: 'BAD_REQUEST' }, // admin functions: an argument is wrong ("field: …")
  GG013: { code: 'NOT_FOUND' }, // admin functions: no such actor or record
  GG014: { code: 'BAD_REQUEST', field: 'scenario' }, // seed_scenario: an actor's name is taken by another id
  GG015: { code: 'INTERNAL_ERROR' }, // checkpoint functions: the balances do not sum to zero per resource
  GG016: { code: 'INTERNAL_ERROR' }, // migration 000150: the database wall could not be built (gridgov migrate exits 2)
  '22023': { code: 'BAD_REQUEST' },
};

/** A refusal raised by one of our database functions as a CodedError; undefined for any other error. */
export function fromDatabaseRefusal(error: unknown): CodedError | undefined {
  const { code, message = '', detail } = (error ?? {}) as { code?: unknown; message?: string; detail?: string };
  const refusal = typeof code === 'string' && Object.hasOwn(databaseRefusals, code) ? databaseRefusals[code] : undefined;
  if (!refusal) return undefined;
  if (refusal.detailIs)
    return new CodedError(refusal.code, detail ? `${message}: ${detail}` : message, { [refusal.detailIs]: detail || null });
  const field = refusal.field ?? /^(\w+):/.exec(message)?.[1];
  return new CodedError(refusal.code, message, field ? { field } : {});
}
