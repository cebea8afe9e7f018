import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { DeliveryError } from '../../src/notify/errors.ts';
import { createLinearClient, linearIssueIdFor, type LinearClientOptions } from '../../src/notify/linear.ts';
import { startFakeLinear, type FakeLinear } from '../support/fake-linear.ts';

const TEAM_ID = '9f6c2a1e-0d4b-4c3a-8e2f-1b7d5a9c3e10';
const LABEL_ID = '3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

async function setup(t: TestContext, overrides: Partial<LinearClientOptions> = {}) {
  const fake = await startFakeLinear();
  t.after(() => fake.close());
  const client = createLinearClient({
    apiKey: fake.apiKey,
    teamId: TEAM_ID,
    apiUrl: fake.url,
    labelIds: [LABEL_ID],
    ...overrides,
  });
  return { fake, client };
}

/** Awaits a call that must fail, and hands back its DeliveryError. */
async function failure(call: Promise<unknown>): Promise<DeliveryError> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof DeliveryError, `expected a DeliveryError, got ${String(err)}`);
    return err;
  }
  return assert.fail('expected the call to fail');
}

function issue(proposalId: string) {
  return { id: linearIssueIdFor(proposalId), title: 'E_INSUFFICIENT_FUNDS: p-1', description: 'proposal body' };
}

function issuesWithId(fake: FakeLinear, id: string): number {
  return [...fake.issues.values()].filter((stored) => stored.id === id).length;
}

test('creates an issue with the client-chosen id, team, labels and a bare API key', async (t) => {
  const { fake, client } = await setup(t);
  const input = issue('p-1');

  const result = await client.createIssue(input);

  assert.deepEqual(result, {
    outcome: 'created',
    id: input.id,
    identifier: 'GOV-1',
    url: 'https://linear.app/team/issue/GOV-1',
  });
  const stored = fake.issues.get(input.id);
  assert.equal(stored?.teamId, TEAM_ID);
  assert.equal(stored?.title, input.title);
  assert.equal(stored?.description, input.description);
  assert.deepEqual(stored?.labelIds, [LABEL_ID]);
  assert.equal(fake.requests[0]?.headers.authorization, fake.apiKey);
  assert.match(fake.requests[0]?.body?.query ?? '', /issueCreate\(input: \$input\)/);
});

test('a second create with the same id reports the existing issue instead of a new one', async (t) => {
  const { fake, client } = await setup(t);
  const input = issue('p-2');
  const first = await client.createIssue(input);

  const second = await client.createIssue({ ...input, title: 'retitled on retry' });

  assert.equal(second.outcome, 'exists');
  assert.equal(second.identifier, first.identifier);
  assert.equal(second.url, first.url);
  assert.equal(fake.issues.size, 1);
  assert.match(fake.requests.at(-1)?.body?.query ?? '', /issue\(id: \$id\)/);
});

test('a create whose answer was lost is found again on retry, leaving exactly one issue', async (t) => {
  const { fake, client } = await setup(t);
  const input = issue('p-3');
  fake.setMode('dropAfterCreate');

  const lost = await failure(client.createIssue(input));
  assert.equal(lost.retryable, true);
  assert.equal(issuesWithId(fake, input.id), 1);

  fake.setMode('ok');
  const retried = await client.createIssue(input);

  assert.equal(retried.outcome, 'exists');
  assert.equal(retried.identifier, fake.issues.get(input.id)?.identifier);
  assert.equal(issuesWithId(fake, input.id), 1);
  assert.equal(fake.issues.size, 1);
});

test('HTTP 500 is retryable', async (t) => {
  const { fake, client } = await setup(t);
  fake.setMode('fail');

  const err = await failure(client.createIssue(issue('p-4')));

  assert.equal(err.retryable, true);
  assert.equal(err.status, 500);
  assert.equal(fake.issues.size, 0);
});

test('HTTP 401 is not retryable and the message does not carry the key', async (t) => {
  const wrongKey = 'lin_api_wrong_key_do_not_leak';
  const { fake, client } = await setup(t, { apiKey: wrongKey });

  const err = await failure(client.createIssue(issue('p-5')));

  assert.equal(err.retryable, false);
  assert.equal(err.status, 401);
  assert.ok(!err.message.includes(wrongKey), err.message);
  assert.ok(!err.message.includes(fake.apiKey), err.message);
  assert.equal(fake.issues.size, 0);
});

test('a GraphQL error other than a duplicate id is not retryable', async (t) => {
  const { fake, client } = await setup(t);

  const err = await failure(client.createIssue({ ...issue('p-6'), id: 'not-a-uuid' }));

  assert.equal(err.retryable, false);
  assert.match(err.message, /Argument Validation Error|UUID/);
  assert.equal(fake.issues.size, 0);
});

test('a hanging server times out as a retryable failure', async (t) => {
  const { fake, client } = await setup(t, { timeoutMs: 150 });
  fake.setMode('hang');

  // The fake never answers, so only the client's own timeout can end the call.
  const err = await failure(client.createIssue(issue('p-7')));

  assert.equal(err.retryable, true);
  assert.match(err.message, /did not answer within 150 ms/);
});

test('HTTP 429 is retryable after the Retry-After delay', async (t) => {
  const { fake, client } = await setup(t);
  fake.setMode('rateLimit');

  const err = await failure(client.createIssue(issue('p-8')));

  assert.equal(err.retryable, true);
  assert.equal(err.status, 429);
  assert.equal(err.retryAfterMs, 1_000);
});

test('an unreachable server is a retryable failure', async (t) => {
  const { fake, client } = await setup(t);
  await fake.close();

  const err = await failure(client.createIssue(issue('p-9')));

  assert.equal(err.retryable, true);
  assert.match(err.message, /could not be reached/);
});

test('issue ids derive from the proposal: stable, distinct, UUID v4 shaped', () => {
  const id = linearIssueIdFor('proposal-a');

  assert.equal(linearIssueIdFor('proposal-a'), id);
  assert.notEqual(linearIssueIdFor('proposal-b'), id);
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});
