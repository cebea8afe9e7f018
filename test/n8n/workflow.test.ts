import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { linearIssueIdFor } from '../../src/notify/linear.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startFakeDiscord, type FakeDiscord } from '../support/fake-discord.ts';
import { startFakeGemini, type FakeGemini } from '../support/fake-gemini.ts';
import { startFakeLinear, type FakeLinear } from '../support/fake-linear.ts';
import { invariantViolations } from '../support/invariants.ts';
import { n8nInstalled, nodeRuns, runN8nWorkflow } from '../support/n8n.ts';
import { startFaultProxy, type FaultProxy } from '../support/proxy.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { startValidator, type TestValidator } from '../support/validator.ts';

/**
 * The shipped workflow on a real n8n 2.8.4 (installed by `npm ci --prefix n8n`), run headless
 * with `n8n import:workflow` and `n8n execute` against a real validator, a Gemini stand-in, and
 * Linear and Discord stand-ins; a proxy in front of the validator injects a 503.
 */

const WORKFLOW = fileURLToPath(new URL('../../workflows/grid-governance.n8n.json', import.meta.url));
const skip = !n8nInstalled() && !process.env.CI ? 'n8n is not installed: npm ci --prefix n8n' : false;

let t: TestDatabase;
let v: TestValidator;
let proxy: FaultProxy;
let gemini: FakeGemini;
let linear: FakeLinear;
let discord: FakeDiscord;
let ids: Record<string, string>;
before(async () => {
  if (skip) return;
  t = await createTestDatabase();
  await seedTestScenario(t.db);
  v = await startValidator(t.db);
  proxy = await startFaultProxy(v.url);
  gemini = await startFakeGemini({ apiKey: 'n8n-gemini-key' });
  linear = await startFakeLinear();
  discord = await startFakeDiscord();
  const { rows } = await t.db.query<{ id: string; name: string }>('SELECT id::text, name FROM actors');
  ids = Object.fromEntries(rows.map((r) => [r.name, r.id]));
});
after(async () => {
  if (skip) return;
  await Promise.all([proxy.close(), gemini.close(), linear.close(), discord.close()]);
  await v.close();
  await t.drop();
});

const env = () => ({
  VALIDATOR_URL: proxy.url,
  GEMINI_BASE_URL: gemini.url,
  GEMINI_API_KEY: 'n8n-gemini-key',
  GEMINI_MODEL: 'gemini-n8n',
  N8N_LINEAR_ENABLED: 'true',
  LINEAR_API_URL: linear.url,
  LINEAR_API_KEY: linear.apiKey,
  LINEAR_TEAM_ID: 'team-gov',
  N8N_DISCORD_ENABLED: 'true',
  DISCORD_WEBHOOK_URL: discord.webhookUrl,
});
const answer = (body: Record<string, unknown>) => () => ({ text: JSON.stringify(body) });

test('n8n: a rejected proposal, after an injected 503, is retried with the same id, recorded once, ticketed once', { skip, timeout: 240_000 }, async () => {
  gemini.setResponder(answer({ actor_from: ids.alice, actor_to: ids.bob, resource: 'energy', amount: 75, reasoning: 'bob needs a lot of energy' }));
  let first = true;
  proxy.setRule((method, path) =>
    method === 'POST' && path === '/execute' && first ? ((first = false), { respond: { status: 503, body: { status: 'error', error_code: 'DATABASE_UNAVAILABLE', message: 'try later' } } }) : undefined,
  );
  const run = await runN8nWorkflow({ workflowFile: WORKFLOW, env: env(), timeoutMs: 200_000 });
  assert.equal(run.code, 0, `${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`);

  // The world state went to Gemini, through the configurable host.
  assert.equal(gemini.requests.length, 1);
  assert.equal(gemini.requests[0]!.model, 'gemini-n8n');
  assert.match(gemini.requests[0]!.prompt, /"ledger_head":/);

  const executes = proxy.seen.filter((s) => s.path === '/execute');
  assert.deepEqual(executes.map((s) => s.action), ['answered', 'forwarded'], 'one 503, then one retry');
  assert.equal(executes[0]!.body, executes[1]!.body, 'the retry resent the same proposal');
  const proposal = JSON.parse(executes[1]!.body) as { proposal_id: string; metadata: Record<string, unknown> };
  assert.equal(nodeRuns(run.output, 'POST /execute').length, 2);

  const { rows } = await t.db.query<{ validation_error_code: string; proposal_json: { metadata: { source: string } } }>(
    'SELECT validation_error_code, proposal_json FROM rejected_proposals WHERE proposal_id = $1',
    [proposal.proposal_id],
  );
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.validation_error_code, 'CONSTRAINT_VIOLATION');
  assert.equal(rows[0]!.proposal_json.metadata.source, 'n8n');
  assert.equal((await t.db.query('SELECT 1 FROM ledger WHERE proposal_id = $1', [proposal.proposal_id])).rowCount, 0);

  // One Linear issue under the id the validator's outbox would use too, and one Discord alert.
  assert.deepEqual([...linear.issues.keys()], [linearIssueIdFor(proposal.proposal_id)]);
  assert.match([...linear.issues.values()][0]!.title, /CONSTRAINT_VIOLATION/);
  assert.equal(discord.messages.length, 1);
  assert.deepEqual(await invariantViolations(t.db), []);
});

test('n8n: an applied proposal lands in the ledger with its reasoning, and raises no ticket', { skip, timeout: 240_000 }, async () => {
  proxy.setRule(() => undefined);
  const issues = linear.issues.size;
  const messages = discord.messages.length;
  gemini.setResponder(answer({ actor_from: ids.carol, actor_to: ids.dave, resource: 'water', amount: 7.5, reasoning: 'dave is running dry' }));
  const run = await runN8nWorkflow({ workflowFile: WORKFLOW, env: env(), timeoutMs: 200_000 });
  assert.equal(run.code, 0, run.stdout.slice(-3000));
  const [reply] = nodeRuns(run.output, 'POST /execute').at(-1)!;
  assert.equal(reply.statusCode, 200);
  assert.equal(reply.body.status, 'applied');
  const { rows } = await t.db.query<{ amount: string; metadata: { source: string; reasoning: string } }>(
    'SELECT amount::text, metadata FROM ledger WHERE id = $1',
    [reply.body.ledger_ids[0]],
  );
  assert.equal(rows[0]!.amount, '7.500000');
  assert.equal(rows[0]!.metadata.source, 'n8n');
  assert.equal(rows[0]!.metadata.reasoning, 'dave is running dry');
  assert.equal(linear.issues.size, issues);
  assert.equal(discord.messages.length, messages);
});
