import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createGeminiStrategy } from '../../src/agents/gemini.ts';
import { startFakeGemini, type FakeGemini } from '../support/fake-gemini.ts';
import { sampleTurn } from '../support/agents.ts';

let fake: FakeGemini;
before(async () => {
  fake = await startFakeGemini({ apiKey: 'test-gemini-key' });
});
after(() => fake.close());

const strategy = (over: Record<string, number> = {}) =>
  createGeminiStrategy({
    apiKey: 'test-gemini-key',
    model: 'gemini-test',
    baseUrl: fake.url,
    temperature: 0.3,
    timeoutMs: 5_000,
    retries: 2,
    retryBaseMs: 10,
    ...over,
  });
const OFFER =
  '{"action":"offer","counterparty":"well","give_resource":"credits","give_amount":30.5,"get_resource":"water","get_amount":10,"reasoning":"short of water"}';

test('valid structured output becomes the move, through the real SDK, with token usage counted', async () => {
  fake.requests.length = 0;
  fake.setResponder(() => ({ text: OFFER }));
  const decided = await strategy().propose(sampleTurn());
  assert.deepEqual(decided.value, {
    action: 'offer',
    to: 'well',
    give: { resource: 'credits', amount: 30_500_000n },
    get: { resource: 'water', amount: 10_000_000n },
    reasoning: 'short of water',
  });
  assert.equal(decided.usage.calls, 1);
  assert.equal(decided.usage.errors, 0);
  assert.ok(decided.usage.prompt_tokens > 50 && decided.usage.completion_tokens > 10);
  assert.equal(decided.usage.total_tokens, decided.usage.prompt_tokens + decided.usage.completion_tokens);
  const request = fake.requests[0]!;
  assert.equal(request.model, 'gemini-test');
  assert.equal(request.apiKey, 'test-gemini-key');
  assert.equal(request.body.generationConfig?.responseMimeType, 'application/json');
  assert.equal((request.body.generationConfig?.responseJsonSchema as { required: string[] }).required.join(), 'action,reasoning');
  assert.equal(request.body.generationConfig?.temperature, 0.3);
  assert.match(JSON.stringify(request.body.systemInstruction), /autonomous agent/);
  assert.match(request.prompt, /"name":"farm"/);
});

test('a reply to an offer is parsed the same way', async () => {
  fake.setResponder((r) => ({
    text: /Terms on the table/.test(r.prompt)
      ? '{"decision":"counter","give_resource":"water","give_amount":8,"get_resource":"credits","get_amount":33,"reasoning":"dear"}'
      : OFFER,
  }));
  const offer = {
    maker: 'farm',
    taker: 'well',
    give: { resource: 'credits', amount: 30_000_000n },
    get: { resource: 'water', amount: 10_000_000n },
  };
  const decided = await strategy().respond(sampleTurn(), [offer], [], false);
  assert.deepEqual(decided.value, {
    decision: 'counter',
    give: { resource: 'water', amount: 8_000_000n },
    get: { resource: 'credits', amount: 33_000_000n },
    reasoning: 'dear',
  });
});

test('malformed JSON costs the turn and counts as an error, tokens still counted', async () => {
  fake.setResponder(() => ({ text: '{"action": "offer", "counterparty": ' }));
  const decided = await strategy().propose(sampleTurn());
  assert.equal(decided.value, undefined);
  assert.match(decided.error!, /not JSON/);
  assert.equal(decided.usage.errors, 1);
  assert.equal(decided.usage.calls, 1);
  assert.ok(decided.usage.total_tokens > 0);
});

test('JSON that breaks the schema costs the turn', async () => {
  for (const text of [
    '{"action":"steal","reasoning":"why not"}',
    '{"action":"offer","counterparty":"well","give_resource":"credits","give_amount":5,"reasoning":"no get side"}',
    '{"action":"transfer","counterparty":"well","give_resource":"water","give_amount":-3,"reasoning":"negative"}',
    '["pass"]',
  ]) {
    fake.setResponder(() => ({ text }));
    const decided = await strategy().propose(sampleTurn());
    assert.equal(decided.value, undefined, text);
    assert.match(decided.error!, /schema/);
  }
});

test('a late answer costs the turn at the deadline and is not retried', async () => {
  fake.requests.length = 0;
  fake.setResponder(() => ({ text: OFFER, delayMs: 3_000 }));
  // Had the client waited for the late answer, the turn would hold the offer.
  const decided = await strategy({ timeoutMs: 300 }).propose(sampleTurn());
  assert.equal(decided.value, undefined);
  assert.match(decided.error!, /within 300 ms/);
  assert.equal(fake.requests.length, 1);
});

test('429 is retried with backoff; past the retries the turn is lost', async () => {
  let calls = 0;
  const limited = { status: 429, body: { error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'Resource has been exhausted.' } } };
  fake.setResponder(() => (++calls <= 2 ? limited : { text: OFFER }));
  const recovered = await strategy().propose(sampleTurn());
  assert.equal(recovered.value?.action, 'offer');
  assert.equal(recovered.usage.calls, 3);
  assert.equal(recovered.usage.errors, 0);

  fake.setMode('rateLimit');
  try {
    const lost = await strategy({ retries: 1 }).propose(sampleTurn());
    assert.equal(lost.value, undefined);
    assert.match(lost.error!, /429/);
    assert.equal(lost.usage.calls, 2);
  } finally {
    fake.setMode('ok');
  }
});

test('a refused key is not retried', async () => {
  fake.requests.length = 0;
  const decided = await strategy({}).propose(sampleTurn());
  void decided;
  const wrong = createGeminiStrategy({
    apiKey: 'wrong-key',
    model: 'gemini-test',
    baseUrl: fake.url,
    temperature: 0,
    timeoutMs: 5_000,
    retries: 3,
    retryBaseMs: 10,
  });
  fake.requests.length = 0;
  const refused = await wrong.propose(sampleTurn());
  assert.equal(refused.value, undefined);
  assert.match(refused.error!, /400/);
  assert.equal(fake.requests.length, 1);
});
