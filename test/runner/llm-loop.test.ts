import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseScenario } from '../../src/domain/scenario.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { pricedGeminiEnv, startFakeGemini, type FakeGemini } from '../support/fake-gemini.ts';
import { invariantViolations } from '../support/invariants.ts';
import { simulate } from '../support/simulation.ts';
import { startValidator, type TestValidator } from '../support/validator.ts';
import { freePort } from '../../src/db/embedded.ts';

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
    if (self === 'farm')
      return {
        text: '{"action":"offer","counterparty":"well","give_resource":"credits","give_amount":12,"get_resource":"water","get_amount":6,"reasoning":"I need water"}',
      };
    if (self === 'plant')
      return { text: '{"action":"transfer","counterparty":"farm","give_resource":"energy","give_amount":3,"reasoning":"spare energy"}' };
    return { text: '{"action":"pass","reasoning":"nothing to do"}' };
  });
  const env = {
    GEMINI_API_KEY: 'k',
    GEMINI_MODEL: 'gemini-fake',
    GEMINI_BASE_URL: gemini.url,
    GEMINI_TIMEOUT_MS: '1500',
    GEMINI_RETRIES: '1',
    GEMINI_RETRY_BASE_MS: '5',
  };
  const { stats } = await simulate(v.url, scenario, { epochs: 6, strategy: 'gemini', env });
  assert.equal(stats.length, 6, 'every epoch completed');
  const total = stats.reduce(
    (s, e) => ({
      calls: s.calls + e.llm.calls,
      tokens: s.tokens + e.llm.total_tokens,
      errors: s.errors + e.llm.errors,
      applied: s.applied + e.proposals.applied,
      invalid: s.invalid + e.moves.invalid,
    }),
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
  assert.deepEqual(
    rows[0]?.metadata.transcript.map((e) => `${e.by}:${e.type}`),
    ['farm:offer', 'well:accept'],
  );
  assert.deepEqual(await invariantViolations(t.db), []);
});

test('what the model proposes is what the validator judges: unknown actors and resources, oversize amounts', async () => {
  const prompts: string[] = [];
  gemini.setResponder((request) => {
    prompts.push(request.prompt);
    if (/Terms on the table/.test(request.prompt)) return { text: '{"decision":"reject","reasoning":"no"}' };
    const self = /"you":\{"name":"([a-z]+)"/.exec(request.prompt)?.[1];
    if (self === 'farm')
      return {
        text: '{"action":"offer","counterparty":"ghost-plant","give_resource":"credits","give_amount":12,"get_resource":"water","get_amount":6,"reasoning":"I need water"}',
      };
    if (self === 'well')
      return { text: '{"action":"transfer","counterparty":"farm","give_resource":"gold","give_amount":3,"reasoning":"a gift"}' };
    if (self === 'plant')
      return { text: '{"action":"transfer","counterparty":"farm","give_resource":"energy","give_amount":80,"reasoning":"all at once"}' };
    return { text: '{"action":"pass","reasoning":"nothing to do"}' };
  });
  const env = pricedGeminiEnv(gemini);
  const { stats, runId } = await simulate(v.url, scenario, { epochs: 2, strategy: 'gemini', env, seed: 'hallucination' });

  const { rows } = await t.db.query<{
    proposal_id: string;
    validation_error_code: string;
    message: string;
    proposal_json: { metadata: Record<string, unknown> };
  }>(
    "SELECT proposal_id::text, validation_error_code, message, proposal_json FROM rejected_proposals WHERE proposal_json->'metadata'->>'run_id' = $1 AND proposal_json->'metadata'->>'epoch' = '1' ORDER BY validation_error_code",
    [runId],
  );
  assert.deepEqual(
    rows.map((r) => `${String(r.proposal_json.metadata.agent)}:${r.validation_error_code}`),
    // Two turns each, both answered alike.
    [
      'plant:CONSTRAINT_VIOLATION',
      'plant:CONSTRAINT_VIOLATION',
      'farm:INVALID_ACTOR',
      'farm:INVALID_ACTOR',
      'well:INVALID_RESOURCE',
      'well:INVALID_RESOURCE',
    ],
  );
  const ghost = rows.find((r) => r.validation_error_code === 'INVALID_ACTOR')!;
  assert.match(ghost.message, /ghost-plant/);
  assert.equal(ghost.proposal_json.metadata.strategy, 'gemini');
  assert.equal(ghost.proposal_json.metadata.model, 'gemini-fake');
  const outbox = await t.db.query('SELECT topic FROM outbox WHERE dedupe_key LIKE $1', [`%:${ghost.proposal_id}`]);
  assert.ok(outbox.rowCount! > 0, 'the rejection is queued for tickets and alerts like any other');

  // No answer was lost: everything the model proposed was judged.
  assert.equal(stats[0]!.moves.invalid, 0);
  assert.deepEqual(stats[0]!.proposals.rejected_by_code, { CONSTRAINT_VIOLATION: 2, INVALID_ACTOR: 2, INVALID_RESOURCE: 2 });
  assert.ok(stats[0]!.llm.cost_usd > 0, 'calls are priced');
  // The next prompt carries the agent's own rejection, by code, and the turn of the run.
  const later = prompts.find((p) => /"you":\{"name":"farm"/.test(p) && /^Epoch 2 of 2:/.test(p));
  assert.ok(later, 'farm was asked again in epoch 2');
  assert.match(later, /"recent_rejections":\[\{"epoch":1,"code":"INVALID_ACTOR"/);
  assert.deepEqual(await invariantViolations(t.db), []);
});

test('a model out of reach pauses the run after one epoch, with a line naming the provider, the host and the fix', async () => {
  const closed = await freePort(); // nothing listens there
  const env = { GEMINI_API_KEY: 'k', GEMINI_BASE_URL: `http://127.0.0.1:${closed}`, GEMINI_RETRIES: '0' };
  const { runId, stats, pause } = await simulate(v.url, scenario, { epochs: 6, strategy: 'gemini', env, seed: 'unreachable' });
  assert.equal(stats.length, 1, 'no second epoch settles while nobody can answer');
  assert.ok(pause, 'the run paused');
  assert.match(pause, /^run paused after epoch 1: every gemini call failed \(gemini: cannot reach 127\.0\.0\.1:\d+: fetch failed/);
  assert.ok(pause.includes(`Check the network to 127.0.0.1:${closed} and GEMINI_API_KEY and GEMINI_BASE_URL`), pause);
  assert.match(pause, /--strategy heuristic; start again to resume at epoch 2\.$/);
  const run = await t.db.query<{ status: string }>('SELECT status FROM runs WHERE id = $1', [runId]);
  assert.equal(run.rows[0]?.status, 'running', 'paused, not ended: a runner with this id resumes it');
});
