import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { readJson, sendJson, startFakeServer, type FakeServer } from '../support/fake-http.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { setupTracing, shutdownTracing } from '../../src/observability/tracing.ts';
import { http, startValidator, type TestValidator } from '../support/validator.ts';
import { waitUntil } from '../support/wait.ts';

/** What an OpenTelemetry collector receives on POST /v1/traces (OTLP/HTTP, JSON). */
interface ExportRequest {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans: Array<{ spans: Array<{ traceId: string; parentSpanId?: string; name: string }> }>;
  }>;
}

let t: TestDatabase;
let collector: FakeServer;
const received: ExportRequest[] = [];
let validator: TestValidator;

before(async () => {
  t = await createTestDatabase();
  await seedTestScenario(t.db);
  collector = await startFakeServer(
    async (req, res) => {
      if (req.method === 'POST' && req.url === '/v1/traces') received.push((await readJson(req)) as ExportRequest);
      sendJson(res, 200, {});
    },
    (res) => sendJson(res, 500, {}),
  );
  // As an operator would set them; the exporter reads the OTEL_* variables itself.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.origin;
  process.env.OTEL_BSP_SCHEDULE_DELAY = '100';
  await setupTracing({ serviceName: 'gridgov-validator', otlpEndpoint: collector.origin });
  validator = await startValidator(t.db, { GRIDGOV_LEDGER_GUARD: 'off' });
});
after(async () => {
  await validator?.close();
  await shutdownTracing();
  await collector.close();
  await t.drop();
});

test('with OTEL_EXPORTER_OTLP_ENDPOINT set, the validator exports its spans over OTLP, the client trace continued', async () => {
  const traceId = randomBytes(16).toString('hex');
  const parent = randomBytes(8).toString('hex');
  const reply = await http(
    validator.url,
    'POST',
    '/execute',
    { proposal_id: randomUUID(), actor_from: 'alice', actor_to: 'bob', resource: 'energy', amount: 1 },
    { traceparent: `00-${traceId}-${parent}-01` },
  );
  assert.equal(reply.status, 200);
  const spansOf = () =>
    received.flatMap((r) =>
      r.resourceSpans.flatMap((rs) =>
        rs.scopeSpans.flatMap((s) =>
          s.spans.map((span) => ({ span, service: rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue })),
        ),
      ),
    );
  await waitUntil(
    () => spansOf().some(({ span }) => span.traceId === traceId && span.name === 'POST /execute'),
    () =>
      `the server span exported; exported: ${
        spansOf()
          .filter(({ span }) => span.traceId === traceId)
          .map(({ span }) => span.name)
          .join(', ') || 'nothing'
      }`,
  );
  const ours = spansOf().filter(({ span }) => span.traceId === traceId);
  const server = ours.find(({ span }) => span.name === 'POST /execute');
  assert.ok(server, `exported: ${ours.map(({ span }) => span.name).join(', ') || 'nothing'}`);
  assert.equal(server.span.parentSpanId, parent);
  assert.equal(server.service, 'gridgov-validator');
  for (const name of ['gridgov.group_commit', 'gridgov.decide', 'db.query'])
    assert.ok(
      ours.some(({ span }) => span.name === name),
      `${name} exported`,
    );
});
