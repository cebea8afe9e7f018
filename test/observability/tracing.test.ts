import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { createGeminiStrategy } from '../../src/agents/gemini.ts';
import { createValidatorApp } from '../../src/api/validator.ts';
import { loadConfig } from '../../src/config.ts';
import { dispatcherFromConfig } from '../../src/notify/index.ts';
import { createRegistry } from '../../src/observability/metrics.ts';
import { setupTracing, traceLogFields } from '../../src/observability/tracing.ts';
import { sampleTurn } from '../support/agents.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startFakeDiscord, type FakeDiscord } from '../support/fake-discord.ts';
import { startFakeGemini, type FakeGemini } from '../support/fake-gemini.ts';
import { parseExposition, sampleSum } from '../support/exposition.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { ADMIN_KEY, http } from '../support/validator.ts';

const exporter = new InMemorySpanExporter();
const logLines: Array<Record<string, unknown>> = [];
const logger = pino(
  { level: 'debug', mixin: traceLogFields },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  }),
);

let t: TestDatabase;
let discord: FakeDiscord;
let gemini: FakeGemini;
let app: FastifyInstance;
let url: string;
let env: Record<string, string>;
before(async () => {
  await setupTracing({ serviceName: 'gridgov-test', exporter });
  t = await createTestDatabase();
  await seedTestScenario(t.db);
  discord = await startFakeDiscord();
  gemini = await startFakeGemini({ apiKey: 'test-gemini-key' });
  env = {
    GRIDGOV_ADMIN_KEY: ADMIN_KEY,
    GRIDGOV_VALIDATOR_VERSION: 'test',
    GRIDGOV_LEDGER_GUARD: 'off',
    DISCORD_WEBHOOK_URL: discord.webhookUrl,
  };
  app = await createValidatorApp({ db: t.db, config: loadConfig(env), logger });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
after(async () => {
  await app.close();
  await discord.close();
  await gemini.close();
  await t.drop();
});

const ofTrace = (traceId: string) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

test("a client's traceparent is continued through HTTP, the group commit, the decision and SQL, and reaches the logs", async () => {
  const traceId = randomBytes(16).toString('hex');
  const clientSpan = randomBytes(8).toString('hex');
  const proposal = { proposal_id: randomUUID(), actor_from: 'alice', actor_to: 'bob', resource: 'energy', amount: 1_000_000 };
  const reply = await http(url, 'POST', '/execute', proposal, { traceparent: `00-${traceId}-${clientSpan}-01` });
  assert.equal(reply.status, 422);

  const spans = ofTrace(traceId);
  const [server] = named(spans, 'POST /execute');
  assert.ok(server, `a server span in ${spans.map((s) => s.name).join(', ')}`);
  assert.equal(parentOf(server), clientSpan);
  assert.equal(server.attributes['http.response.status_code'], 422);
  assert.equal(server.attributes['http.route'], '/execute');
  const [group] = named(spans, 'gridgov.group_commit');
  assert.ok(group);
  assert.equal(parentOf(group), server.spanContext().spanId);
  assert.equal(group.attributes['gridgov.group.size'], 1);
  assert.match(String(group.attributes['gridgov.commit.path']), /^\w+$/);
  const decides = named(spans, 'gridgov.decide');
  assert.ok(decides.length >= 1 && decides.every((d) => parentOf(d) === group.spanContext().spanId));
  const queries = named(spans, 'db.query');
  assert.ok(queries.length >= 1, 'SQL statements are spans');
  assert.ok(queries.every((q) => q.attributes['db.system.name'] === 'postgresql' && typeof q.attributes['db.query.text'] === 'string'));

  const rejected = logLines.find((l) => l.msg === 'proposal rejected' && l.proposal_id === proposal.proposal_id);
  assert.ok(rejected, 'the rejection is logged');
  assert.equal(rejected.trace_id, traceId);
  assert.equal(rejected.span_id, server.spanContext().spanId);
});

test('a request without traceparent starts a trace of its own; background work starts none per statement', async () => {
  const before = new Set(exporter.getFinishedSpans().map((s) => s.spanContext().traceId));
  const reply = await http(url, 'GET', '/world-state');
  assert.equal(reply.status, 200);
  const fresh = exporter.getFinishedSpans().filter((s) => !before.has(s.spanContext().traceId));
  const [server] = named(fresh, 'GET /world-state');
  assert.ok(server);
  assert.equal(parentOf(server), undefined);
  assert.ok(fresh.filter((s) => s.name === 'db.query').every((q) => q.spanContext().traceId === server.spanContext().traceId));
});

test('an outbox delivery is a span with its target, and the dispatcher counts it', async () => {
  const reply = await http(url, 'POST', '/execute', {
    proposal_id: randomUUID(),
    actor_from: 'alice',
    actor_to: 'bob',
    resource: 'energy',
    amount: 1_000_000,
  });
  assert.equal(reply.status, 422);
  const registry = createRegistry();
  const dispatcher = dispatcherFromConfig(t.db, loadConfig(env), logger, registry);
  assert.ok((await dispatcher.runOnce()) >= 1);
  const deliveries = named(exporter.getFinishedSpans(), 'gridgov.outbox.deliver').filter(
    (s) => s.attributes['gridgov.proposal_id'] === reply.body.proposal_id,
  );
  assert.equal(deliveries.length, 1);
  assert.equal(deliveries[0]!.attributes['gridgov.target'], 'discord');
  assert.equal(discord.messages.length >= 1, true);
  const samples = parseExposition(await registry.metrics());
  assert.ok(sampleSum(samples, 'gridgov_outbox_deliveries_total', { target: 'discord', result: 'delivered' }) >= 1);
  assert.ok(sampleSum(samples, 'gridgov_outbox_delivery_duration_seconds_count', { target: 'discord' }) >= 1);
});

test("a model call is a span carrying the model and the call's token counts", async () => {
  gemini.setResponder(() => ({ text: '{"action":"pass","reasoning":"nothing to do"}' }));
  const strategy = createGeminiStrategy({
    apiKey: 'test-gemini-key',
    model: 'gemini-test',
    baseUrl: gemini.url,
    temperature: 0.3,
    timeoutMs: 5_000,
    retries: 0,
    retryBaseMs: 10,
  });
  const decided = await strategy.propose(sampleTurn());
  assert.equal(decided.value?.action, 'pass');
  const [call] = named(exporter.getFinishedSpans(), 'gridgov.model.call');
  assert.ok(call);
  assert.equal(call.attributes['gen_ai.request.model'], 'gemini-test');
  assert.equal(call.attributes['gen_ai.usage.input_tokens'], decided.usage.prompt_tokens);
  assert.equal(call.attributes['gen_ai.usage.output_tokens'], decided.usage.completion_tokens);
  assert.ok(decided.usage.prompt_tokens > 0);
});
