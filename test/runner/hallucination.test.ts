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
  name: 'hallucination',
  seed: 5,
  resources: [{ name: 'energy' }, { name: 'water' }, { name: 'credits' }],
  constraints: { max_transfer: 50, min_balance: 5 },
  negotiation: { turns_per_agent: 1, max_rounds: 2 },
  actors: [
    { name: 'farm', balances: { water: 20, credits: 200 }, production: { credits: 10 }, consumption: { water: 6 } },
    { name: 'well', balances: { water: 300, credits: 10 }, production: { water: 8 } },
    { name: 'plant', balances: { energy: 200, water: 20 }, production: { energy: 10 }, consumption: { water: 2 } },
    { name: 'mill', balances: { energy: 20, water: 20 } },
  ],
});
if (!parsed.ok) throw new Error(parsed.message);

test('what the model proposes is what the validator judges: unknown actors and resources, oversize amounts', async () => {
  const prompts: string[] = [];
  gemini.setResponder((request) => {
    prompts.push(request.prompt);
    if (/Terms on the table/.test(request.prompt)) return { text: '{"decision":"reject","reasoning":"no"}' };
    const self = /"you":\{"name":"([a-z]+)"/.exec(request.prompt)?.[1];
    if (self === 'farm') return { text: '{"action":"offer","counterparty":"ghost-plant","give_resource":"credits","give_amount":12,"get_resource":"water","get_amount":6,"reasoning":"I need water"}' };
    if (self === 'well') return { text: '{"action":"transfer","counterparty":"farm","give_resource":"gold","give_amount":3,"reasoning":"a gift"}' };
    if (self === 'plant') return { text: '{"action":"transfer","counterparty":"farm","give_resource":"energy","give_amount":80,"reasoning":"all at once"}' };
    return { text: 'I would rather not say' };
  });
  const env = { GEMINI_API_KEY: 'k', GEMINI_MODEL: 'gemini-fake', GEMINI_BASE_URL: gemini.url, GEMINI_RETRIES: '0', GEMINI_PRICE_INPUT_PER_MTOK: '1', GEMINI_PRICE_OUTPUT_PER_MTOK: '4' };
  const { stats } = await simulate(v.url, parsed.scenario, { epochs: 2, strategy: 'gemini', env });

  const { rows } = await t.db.query<{ proposal_id: string; validation_error_code: string; message: string; proposal_json: { metadata: Record<string, unknown> } }>(
    "SELECT proposal_id::text, validation_error_code, message, proposal_json FROM rejected_proposals WHERE proposal_json->'metadata'->>'epoch' = '1' ORDER BY validation_error_code",
  );
  assert.deepEqual(
    rows.map((r) => `${r.proposal_json.metadata.agent}:${r.validation_error_code}`),
    ['plant:CONSTRAINT_VIOLATION', 'farm:INVALID_ACTOR', 'well:INVALID_RESOURCE'],
  );
  const ghost = rows.find((r) => r.validation_error_code === 'INVALID_ACTOR')!;
  assert.match(ghost.message, /ghost-plant/);
  assert.equal(ghost.proposal_json.metadata.strategy, 'gemini');
  assert.equal(ghost.proposal_json.metadata.model, 'gemini-fake');
  const outbox = await t.db.query('SELECT topic FROM outbox WHERE dedupe_key LIKE $1', [`%:${ghost.proposal_id}`]);
  assert.ok(outbox.rowCount! > 0, 'the rejection is queued for tickets and alerts like any other');

  // Only the unparseable answer cost a turn; everything else was judged.
  assert.equal(stats[0]!.moves.invalid, 1);
  assert.deepEqual(stats[0]!.proposals.rejected_by_code, { CONSTRAINT_VIOLATION: 1, INVALID_ACTOR: 1, INVALID_RESOURCE: 1 });
  assert.ok(stats[0]!.llm.cost_usd > 0, 'calls are priced');
  // The next prompt carries the agent's own rejection, by code, and the turn of the run.
  const later = prompts.find((p) => /"you":\{"name":"farm"/.test(p) && /^Epoch 2 of 2/.test(p));
  assert.ok(later, 'farm was asked again in epoch 2');
  assert.match(later, /"recent_rejections":\[\{"epoch":1,"code":"INVALID_ACTOR"/);
  assert.deepEqual(await invariantViolations(t.db), []);
});
