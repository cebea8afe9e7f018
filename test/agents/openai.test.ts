import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createOpenAIStrategy } from '../../src/agents/openai.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.ts';
import { sampleTurn } from '../support/agents.ts';

let fake: FakeOpenAI;
before(async () => {
  fake = await startFakeOpenAI({ apiKey: 'test-openai-key' });
});
after(() => fake.close());

const strategy = (over: Record<string, unknown> = {}) =>
  createOpenAIStrategy({
    baseUrl: fake.baseUrl,
    apiKey: 'test-openai-key',
    model: 'llama-test',
    temperature: 0.1,
    timeoutMs: 5_000,
    retries: 2,
    retryBaseMs: 10,
    ...over,
  });
const TRANSFER = '{"action":"transfer","counterparty":"plant","give_resource":"credits","give_amount":12.25,"reasoning":"help"}';

test('an OpenAI-style endpoint drives the strategy: json_schema response format, bearer key, usage counted', async () => {
  fake.requests.length = 0;
  fake.setResponder(() => ({ text: TRANSFER }));
  const decided = await strategy().propose(sampleTurn());
  assert.deepEqual(decided.value, { action: 'transfer', to: 'plant', resource: 'credits', amount: 12_250_000n, reasoning: 'help' });
  assert.equal(decided.usage.calls, 1);
  assert.ok(decided.usage.total_tokens > 0);
  const request = fake.requests[0]!;
  assert.equal(request.model, 'llama-test');
  assert.equal(request.apiKey, 'test-openai-key');
  const format = request.body.response_format as { type: string; json_schema: { name: string; schema: { required: string[] } } };
  assert.equal(format.type, 'json_schema');
  assert.equal(format.json_schema.name, 'agent_move');
  assert.deepEqual(
    request.body.messages?.map((m) => m.role),
    ['system', 'user'],
  );
});

test('malformed and schema-violating answers cost the turn', async () => {
  for (const [text, error] of [
    ['sure! {"action":', /not JSON/],
    ['{"action":"offer","reasoning":"no terms"}', /schema/],
  ] as const) {
    fake.setResponder(() => ({ text }));
    const decided = await strategy().propose(sampleTurn());
    assert.equal(decided.value, undefined);
    assert.match(decided.error!, error);
    assert.equal(decided.usage.errors, 1);
  }
});

test('a late answer costs the turn; a 429 is retried; a 500 past the retries costs the turn', async () => {
  fake.setResponder(() => ({ text: TRANSFER, delayMs: 3_000 }));
  const late = await strategy({ timeoutMs: 250 }).propose(sampleTurn());
  assert.equal(late.value, undefined);
  assert.match(late.error!, /within 250 ms/);

  let calls = 0;
  fake.setResponder(() =>
    ++calls === 1
      ? { status: 429, body: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } } }
      : { text: TRANSFER },
  );
  const retried = await strategy().propose(sampleTurn());
  assert.equal(retried.value?.action, 'transfer');
  assert.equal(retried.usage.calls, 2);

  fake.setMode('fail');
  try {
    const failed = await strategy({ retries: 1 }).propose(sampleTurn());
    assert.equal(failed.value, undefined);
    assert.match(failed.error!, /500/);
    assert.equal(failed.usage.calls, 2);
  } finally {
    fake.setMode('ok');
  }
});

test('an endpoint without a key (a local Ollama) gets no Authorization header', async () => {
  const open = await startFakeOpenAI();
  try {
    open.setResponder(() => ({ text: '{"action":"pass","reasoning":"fine"}' }));
    const decided = await createOpenAIStrategy({
      baseUrl: open.baseUrl,
      model: 'm',
      temperature: 0,
      timeoutMs: 5_000,
      retries: 0,
      retryBaseMs: 1,
    }).propose(sampleTurn());
    // The fake refuses a request without a bearer token, as OpenAI does; Ollama would not.
    assert.equal(decided.value, undefined);
    assert.equal(open.requests[0]?.headers.authorization, undefined);
  } finally {
    await open.close();
  }
});
