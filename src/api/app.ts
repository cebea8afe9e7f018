import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { CodedError } from '../domain/errors.ts';
import { isDatabaseUnavailable } from '../db/db.ts';
import type { Caller } from '../governance/auth.ts';
import type { AppDeps } from './deps.ts';
import { ApiError } from './errors.ts';
import { registerExecuteRoutes } from './routes/execute.ts';
import { registerReadRoutes } from './routes/reads.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerDocsRoutes } from './routes/docs.ts';
import { registerMetricsRoutes } from './routes/metrics.ts';
import { auditFailedAdminCall, registerAdminRoutes } from './routes/admin.ts';
import { registerRunRoutes } from './routes/runs.ts';
import { registerLiveRoutes } from './routes/live.ts';
import { registerReadAccess } from './access.ts';
import { registerJsonBodyParser } from './json-body.ts';
import type { Config } from '../config.ts';
import { createRegistry } from '../observability/metrics.ts';
import { registerObservability } from './observability.ts';
import { collectOpenApi } from './openapi.ts';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | undefined;
  }
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
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
    return new ApiError(malformed, 'body: the request body is empty; send a JSON object', { field: 'body' });
  const mapped = FASTIFY_CODES[code];
  if (mapped === 'UNSUPPORTED_MEDIA_TYPE') {
    return new ApiError(
      mapped,
      `content-type: send the body as application/json, not ${request.headers['content-type'] ?? 'without a content type'}`,
      { field: 'content-type' },
    );
  }
  if (mapped) return new ApiError(mapped);
  if (isDatabaseUnavailable(error)) return new ApiError('DATABASE_UNAVAILABLE');
  const status = (error as { statusCode?: number }).statusCode;
  if (status && status >= 400 && status < 500) {
    // The body parser's refusals (src/api/json-body.ts) name the body, like Fastify's own.
    const field = /^(body|content-type):/.exec((error as Error).message)?.[1];
    return new ApiError(malformed, (error as Error).message, field ? { field } : {});
  }
  return new ApiError('INTERNAL_ERROR');
}

/**
 * A slow or idle client must not hold a socket: headers and whole requests have deadlines, idle
 * keep-alive sockets close, and the deadlines are checked often enough to matter.
 */
function serverLimits(limits: Config['server'] | undefined) {
  if (!limits) return {};
  return {
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
  };
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    // Per-request lines would drown the log at thousands of trades a second; errors are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit ?? 256 * 1024,
    requestIdHeader: 'x-request-id',
    ...serverLimits(deps.server),
    // A URL Fastify cannot decode (say %ED%A0%80) is answered before any route: in our shape too.
    frameworkErrors: (error, _request, reply) => {
      const apiError = new ApiError((error.statusCode ?? 500) < 500 ? 'BAD_REQUEST' : 'INTERNAL_ERROR', error.message);
      void (reply as FastifyReply).status(apiError.statusCode).send(apiError.toBody());
    },
  });
  app.decorateRequest('caller', undefined);
  if (deps.server) app.server.maxConnections = deps.server.maxConnections;
  registerJsonBodyParser(app);
  // Every body is JSON: a text/plain body is refused (415) rather than parsed as a string; an
  // empty one (a bodyless POST some clients label text/plain) is no body at all.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
    if (body === '') return done(null, undefined);
    done(
      new ApiError('UNSUPPORTED_MEDIA_TYPE', 'content-type: send the body as application/json, not text/plain', { field: 'content-type' }),
      undefined,
    );
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

  // Before any route: every route registered from here on is collected into /openapi.json.
  const openapi = collectOpenApi(app);
  registerReadAccess(app, deps, deps.access ?? { execute: 'open', read: 'open' });
  const metrics = deps.metrics ?? createRegistry();
  registerObservability(app, metrics);
  registerExecuteRoutes(app, deps);
  registerReadRoutes(app, deps);
  registerHealthRoutes(app, deps);
  registerAdminRoutes(app, deps);
  registerMetricsRoutes(app, deps, metrics);
  registerRunRoutes(app, deps);
  registerDocsRoutes(app, () => openapi.document(deps.validatorVersion));
  registerLiveRoutes(app, deps);
  return app;
}
