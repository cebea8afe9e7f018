import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseScenario } from '../../src/domain/scenario.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startFakeGemini, type FakeGemini } from '../support/fake-gemini.ts';
import { invariantViolations } from '../support/invariants.ts';
import { simulate } from '../support/simulation.ts';
import { startValidator, type TestValidator } from '../support/validator.ts';

let t: TestDatabase;
let v: TestValidator;
let gemini: FakeGemini;
before(async () => {
  t = await createTestDatabase();
  v = await startValidator(t.db);
  gemini = await startFakeGemini();
});
after(async () => {
  await gemini.close();
  await v.close();
  await t.drop();
});

const parsed = parseScenario({
  name: 'llm-loop',
  seed: 3,
  resources: [{ name: 'energy' }, { name: 'water' }, { name: 'credits' }],
  constraints: { max_transfer: 50, min_balance: 5 },
  negotiation: { turns_per_agent: 2, max_rounds: 2 },
  actors: [
    { name: 'farm', balances: { water: 20, credits: 200 }, production: { credits: 10 }, consumption: { water: 6 } },
    { name: 'well', balances: { water: 300, credits: 10 }, production: { water: 8 } },
    { name: 'plant', balances: { energy: 200, water: 20 }, production: { energy: 10 }, consumption: { water: 2 } },
  ],
});
if (!parsed.ok) throw new Error(parsed.message);
const scenario = parsed.scenario;

test('Gemini agents drive the loop; garbage, late and rate-limited answers cost turns, never the loop', async () => {
  let n = 0;
  gemini.setResponder((request) => {
    n += 1;
    if (/Terms on the table/.test(request.prompt)) return { text: '{"decision":"accept","reasoning":"fair"}' };
    const self = /"you":\{"name":"([a-z]+)"/.exec(request.prompt)?.[1];
    if (n % 5 === 0) return { text: 'I would rather not say' };
    if (n % 7 === 0) return { text: '{"action":"offer","reasoning":"forgot the terms"}' };
    if (n % 11 === 0) return { text: '{"action":"pass","reasoning":"slow"}', delayMs: 4_000 };
    if (n % 13 === 0) return { status: 429, body: { error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'quota' } } };
    if (self === 'farm') return { text: '{"action":"offer","counterparty":"well","give_resource":"credits","give_amount":12,"get_resource":"water","get_amount":6,"reasoning":"I need water"}' };
    if (self === 'plant') return { text: '{"action":"transfer","counterparty":"farm","give_resource":"energy","give_amount":3,"reasoning":"spare energy"}' };
    return { text: '{"action":"pass","reasoning":"nothing to do"}' };
  });
  const env = { GEMINI_API_KEY: 'k', GEMINI_MODEL: 'gemini-fake', GEMINI_BASE_URL: gemini.url, GEMINI_TIMEOUT_MS: '1500', GEMINI_RETRIES: '1', GEMINI_RETRY_BASE_MS: '5' };
  const { stats } = await simulate(v.url, scenario, { epochs: 6, strategy: 'gemini', env });
  assert.equal(stats.length, 6, 'every epoch completed');
  const total = stats.reduce(
    (s, e) => ({ calls: s.calls + e.llm.calls, tokens: s.tokens + e.llm.total_tokens, errors: s.errors + e.llm.errors, applied: s.applied + e.proposals.applied, invalid: s.invalid + e.moves.invalid }),
    { calls: 0, tokens: 0, errors: 0, applied: 0, invalid: 0 },
  );
  assert.ok(total.tokens > 0 && total.calls >= 36, JSON.stringify(total));
  assert.ok(total.errors > 0 && total.invalid > 0, 'some answers were lost');
  assert.ok(total.applied > 0, 'trades went through');
  assert.deepEqual(Object.keys(stats[0]!.llm.by_agent).sort(), ['farm', 'plant', 'well']);
  const { rows } = await t.db.query<{ metadata: { strategy: string; transcript: Array<{ by: string; type: string }> } }>(
    "SELECT metadata FROM ledger WHERE kind = 'trade' AND metadata->>'kind' = 'swap' LIMIT 1",
  );
  assert.equal(rows[0]?.metadata.strategy, 'gemini');
  assert.deepEqual(rows[0]?.metadata.transcript.map((e) => `${e.by}:${e.type}`), ['farm:offer', 'well:accept']);
  assert.deepEqual(await invariantViolations(t.db), []);
});
