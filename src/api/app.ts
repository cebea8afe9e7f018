import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { CodedError } from '../domain/errors.ts';
import { isDatabaseUnavailable, type Db } from '../db/db.ts';
import type { Authenticator, Caller, Role } from '../governance/auth.ts';
import { hasRole } from '../governance/auth.ts';
import type { ActorDirectory } from '../ledger/actors.ts';
import type { Executor } from '../ledger/execute.ts';
import type { GroupCommitter } from '../ledger/group-commit.ts';
import { ApiError } from './errors.ts';
import { registerExecuteRoutes } from './routes/execute.ts';
import { registerReadRoutes } from './routes/reads.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerDocsRoutes } from './routes/docs.ts';
import { registerMetricsRoutes } from './routes/metrics.ts';
import { auditFailedAdminCall, registerAdminRoutes } from './routes/admin.ts';
import type { Admin } from '../governance/admin.ts';
import { registerRunRoutes } from './routes/runs.ts';
import type { ActivityPublisher } from '../ledger/activity.ts';
import type { EventHub } from './events.ts';
import { registerLiveRoutes } from './routes/live.ts';

export interface AppDeps {
  db: Db;
  /** For reads that may lag behind the primary: a streaming replica when one is configured. */
  readDb: Db;
  executor: Executor;
  committer: GroupCommitter;
  admin: Admin;
  actors: ActorDirectory;
  authenticate: Authenticator;
  logger: Logger;
  validatorVersion: string;
  bodyLimit?: number;
  /** Admin calls allowed per client address per minute. */
  adminRatePerMinute?: number;
  /** Live events (GET /events); one is made over `db` when absent. */
  events?: EventHub;
  /** Announces committed writes to every replica's /events; flushed when the app closes. */
  activity?: ActivityPublisher;
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
  if (error instanceof CodedError) return new ApiError(error.code, error.message, error.details);
  const code = (error as { code?: string }).code ?? '';
  const malformed = request.routeOptions.url === '/execute' ? 'MALFORMED_PROPOSAL' : 'BAD_REQUEST';
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'FST_ERR_CTP_INVALID_JSON' || (error as Error).name === 'SyntaxError') {
    return new ApiError(malformed, 'body: the request body is not valid JSON', { field: 'body' });
  }
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new ApiError(malformed, 'body: the request body is empty; send a JSON object', { field: 'body' });
  const mapped = FASTIFY_CODES[code];
  if (mapped === 'UNSUPPORTED_MEDIA_TYPE') {
    return new ApiError(mapped, `content-type: send the body as application/json, not ${request.headers['content-type'] ?? 'without a content type'}`, { field: 'content-type' });
  }
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
    // A URL Fastify cannot decode (say %ED%A0%80) is answered before any route: in our shape too.
    frameworkErrors: (error, _request, reply) => {
      const apiError = new ApiError((error.statusCode ?? 500) < 500 ? 'BAD_REQUEST' : 'INTERNAL_ERROR', error.message);
      void (reply as FastifyReply).status(apiError.statusCode).send(apiError.toBody());
    },
  });
  app.decorateRequest('caller', undefined);
  // Every body is JSON: a text/plain body is refused (415) rather than parsed as a string; an
  // empty one (a bodyless POST some clients label text/plain) is no body at all.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
    if (body === '') return done(null, undefined);
    done(new ApiError('UNSUPPORTED_MEDIA_TYPE', 'content-type: send the body as application/json, not text/plain', { field: 'content-type' }), undefined);
  });

  app.setErrorHandler(async (error, request, reply) => {
    const apiError = toApiError(error, request);
    if (apiError.code === 'INTERNAL_ERROR' || apiError.code === 'DATABASE_UNAVAILABLE') {
      request.log.error({ err: error, url: request.url, method: request.method }, 'request failed');
    }
    await auditFailedAdminCall(deps, request, apiError.code).catch((auditError: unknown) =>
      request.log.error({ err: auditError }, 'could not audit a failed admin call'),
    );
    return reply.status(apiError.statusCode).send(apiError.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new ApiError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
    void reply.status(error.statusCode).send(error.toBody());
  });

  registerExecuteRoutes(app, deps);
  registerReadRoutes(app, deps);
  registerHealthRoutes(app, deps);
  registerAdminRoutes(app, deps);
  registerMetricsRoutes(app, deps);
  registerRunRoutes(app, deps);
  registerDocsRoutes(app, deps.validatorVersion);
  registerLiveRoutes(app, deps);
  return app;
}
