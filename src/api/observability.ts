import { context, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Histogram, type Registry } from 'prom-client';
import { extractContext, tracer } from '../observability/tracing.ts';

declare module 'fastify' {
  interface FastifyRequest {
    trace: { span: Span; context: Context } | undefined;
  }
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The route's pattern (never the raw URL, whose ids would make a series each), or "unmatched". */
const routeOf = (request: FastifyRequest) => request.routeOptions.url ?? 'unmatched';

/**
 * A server span per request, continuing the client's `traceparent` when it sends one, and a
 * latency histogram by route and status. The span is made current for the handler (preHandler
 * runs it synchronously), so the decision, the group commit, SQL and log lines nest under it.
 */
export function registerObservability(app: FastifyInstance, registry: Registry): void {
  const duration = new Histogram({
    name: 'gridgov_http_request_duration_seconds',
    help: 'Time from request to response, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  app.decorateRequest('trace', undefined);

  app.addHook('onRequest', (request, _reply, done) => {
    const parent = extractContext(request.headers);
    const span = tracer.startSpan(
      `${request.method}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'url.path': request.url.split('?')[0] } },
      parent,
    );
    request.trace = { span, context: trace.setSpan(parent, span) };
    context.with(request.trace.context, done);
  });
  app.addHook('preHandler', (request, _reply, done) => {
    if (request.trace) context.with(request.trace.context, done);
    else done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = routeOf(request);
    duration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    const span = request.trace?.span;
    if (span) {
      span.updateName(`${request.method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': reply.statusCode });
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}
