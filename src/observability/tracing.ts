import { context, propagation, trace, SpanStatusCode, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { NodeTracerProvider, SpanExporter } from '@opentelemetry/sdk-trace-node';

/**
 * Spans through @opentelemetry/api. Without an SDK its tracer makes non-recording spans, which
 * still carry a trace id continued from a client's `traceparent` into the logs; an exporter (OTLP
 * when OTEL_EXPORTER_OTLP_ENDPOINT is set, or a test's) turns them into recorded spans.
 */
export const tracer = trace.getTracer('gridgov');

let contextReady = false;
let provider: NodeTracerProvider | undefined;

/** Async context and W3C trace context: cheap, and needed for trace ids in logs even without an SDK. */
function ensureContext(): void {
  if (contextReady) return;
  contextReady = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

export interface TracingOptions {
  serviceName: string;
  /** OTEL_EXPORTER_OTLP_ENDPOINT (from config); the exporter reads the other OTEL_* variables itself. */
  otlpEndpoint?: string;
  /** A test's exporter, its spans sent one by one. */
  exporter?: SpanExporter;
}

/** Sets up the context, and the SDK when there is somewhere to send spans. Call once per process. */
export async function setupTracing(options: TracingOptions): Promise<void> {
  ensureContext();
  if (provider || (!options.otlpEndpoint && !options.exporter)) return;
  // The SDK is loaded only when used: a process that exports nothing does not pay for it.
  const [{ BatchSpanProcessor, NodeTracerProvider, SimpleSpanProcessor }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
  ]);
  const processor = options.exporter
    ? new SimpleSpanProcessor(options.exporter)
    : new BatchSpanProcessor(new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter());
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [processor],
  });
  trace.setGlobalTracerProvider(provider);
}

/** Sends the spans still buffered; called on shutdown. */
export async function shutdownTracing(): Promise<void> {
  const current = provider;
  provider = undefined;
  await current?.shutdown().catch(() => undefined);
}

/** The context a client's `traceparent` (and `tracestate`) header names, else the root. */
export function extractContext(headers: Record<string, unknown>): Context {
  ensureContext();
  return propagation.extract(context.active(), headers);
}

function fail(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** Runs fn in a new active span, ended when fn settles; a throw marks it failed. */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      fail(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The same for synchronous work (the pure decision). */
export function inSpanSync<T>(name: string, attributes: Attributes, fn: () => T): T {
  return tracer.startActiveSpan(name, { attributes }, (span) => {
    try {
      return fn();
    } catch (error) {
      fail(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * A child span for work under a recorded span only: background loops (the verifier, the sealer)
 * would otherwise start a root trace for every statement they run.
 */
export function inChildSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!trace.getActiveSpan()?.isRecording()) return fn();
  return inSpan(name, attributes, fn);
}

/** pino's mixin: the active trace and span ids on every log line written inside a span. */
export function traceLogFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return trace.isSpanContextValid(span.spanContext()) ? { trace_id: traceId, span_id: spanId } : {};
}
