import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { isDatabaseUnavailable, type Db } from '../db/db.ts';
import type { Authenticator, Caller, Role } from '../governance/auth.ts';
import { hasRole } from '../governance/auth.ts';
import type { ActorDirectory } from '../ledger/actors.ts';
import type { Executor } from '../ledger/execute.ts';
import { ApiError } from './errors.ts';
import { registerExecuteRoutes } from './routes/execute.ts';
import { registerReadRoutes } from './routes/reads.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerDocsRoutes } from './routes/docs.ts';

export interface AppDeps {
  db: Db;
  executor: Executor;
  actors: ActorDirectory;
  authenticate: Authenticator;
  logger: Logger;
  validatorVersion: string;
  bodyLimit?: number;
  /** How old the drift verifier's verdict may be for /health to pass. */
  guard?: { maxVerdictAgeMs: number };
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | undefined;
  }
}

/** Resolves the caller from the Authorization header; a key that is given but invalid is a 401. */
export async function identify(request: FastifyRequest, authenticate: Authenticator): Promise<Caller | undefined> {
  const result = await authenticate(request.headers.authorization);
  if (result.kind === 'invalid') throw new ApiError('UNAUTHORIZED', result.reason);
  return result.kind === 'caller' ? result.caller : undefined;
}

export function requireRole(caller: Caller | undefined, role: Role): void {
  if (!caller) throw new ApiError('UNAUTHORIZED', 'an API key is required: Authorization: Bearer <key>');
  if (!hasRole(caller, role)) throw new ApiError('FORBIDDEN', `this action needs the ${role} role`);
}

const FASTIFY_CODES: Record<string, ApiError['code']> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
};

/** Maps anything thrown by a route to the one error shape; internal details stay in the log. */
function toApiError(error: unknown, request: FastifyRequest): ApiError {
  if (error instanceof ApiError) return error;
  const code = (error as { code?: string }).code ?? '';
  const malformed = request.routeOptions.url === '/execute' ? 'MALFORMED_PROPOSAL' : 'BAD_REQUEST';
  if (code === 'FST_ERR_CTP_INVALID_JSON' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (error as Error).name === 'SyntaxError') {
    return new ApiError(malformed, 'body: the request body is not valid JSON');
  }
  const mapped = FASTIFY_CODES[code];
  if (mapped) return new ApiError(mapped);
  if (isDatabaseUnavailable(error)) return new ApiError('DATABASE_UNAVAILABLE');
  const status = (error as { statusCode?: number }).statusCode;
  if (status && status >= 400 && status < 500) return new ApiError(malformed, (error as Error).message);
  return new ApiError('INTERNAL_ERROR');
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    // Per-request lines would drown the log at thousands of trades a second; errors are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit ?? 256 * 1024,
    requestIdHeader: 'x-request-id',
  });
  app.decorateRequest('caller', undefined);

  app.setErrorHandler((error, request, reply) => {
    const apiError = toApiError(error, request);
    if (apiError.code === 'INTERNAL_ERROR' || apiError.code === 'DATABASE_UNAVAILABLE') {
      request.log.error({ err: error, url: request.url, method: request.method }, 'request failed');
    }
    void reply.status(apiError.statusCode).send(apiError.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new ApiError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
    void reply.status(error.statusCode).send(error.toBody());
  });

  registerExecuteRoutes(app, deps);
  registerReadRoutes(app, deps);
  registerHealthRoutes(app, deps);
  registerDocsRoutes(app, deps.validatorVersion);
  return app;
}
