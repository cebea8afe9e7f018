import { CodedError, ErrorCode } from '../domain/errors.ts';

/** Every error code's HTTP status; a new code does not compile until it is listed here. */
export const httpStatus: Record<ErrorCode, number> = {
  INSUFFICIENT_BALANCE: 422,
  INVALID_ACTOR: 422,
  INVALID_RESOURCE: 422,
  SAME_ACTOR: 422,
  CONSTRAINT_VIOLATION: 422,
  FORBIDDEN_ACTOR: 403,
  MALFORMED_PROPOSAL: 400,
  IDEMPOTENCY_CONFLICT: 409,
  RUN_CONFLICT: 409,
  EPOCH_OUT_OF_ORDER: 409,
  SCENARIO_MISMATCH: 409,
  CIRCUIT_BREAKER_OPEN: 503,
  DATABASE_UNAVAILABLE: 503,
  COMMIT_FAILED: 503,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
};

/** A failure the API answers in its one error shape: { status: 'error', error_code, message }. */
export class ApiError extends CodedError {
  get statusCode(): number {
    return httpStatus[this.code];
  }

  toBody(): Record<string, unknown> {
    return { status: 'error', error_code: this.code, message: this.message, ...this.details };
  }
}
