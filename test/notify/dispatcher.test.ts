import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, test } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.ts';
import { dispatcherFromConfig } from '../../src/notify/index.ts';
import { linearIssueIdFor } from '../../src/notify/linear.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startFakeDiscord, type FakeDiscord } from '../support/fake-discord.ts';
import { startFakeLinear, type FakeLinear } from '../support/fake-linear.ts';
import { invariantViolations } from '../support/invariants.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { BIN, http, startValidator, type TestValidator } from '../support/validator.ts';
import { waitUntil } from '../support/wait.ts';

let t: TestDatabase;
let v: TestValidator;
let linear: FakeLinear;
let discord: FakeDiscord;
let env: Record<string, string>;
before(async () => {
  t = await createTestDatabase();
  await seedTestScenario(t.db);
  linear = await startFakeLinear();
  discord = await startFakeDiscord();
  env = {
    LINEAR_API_KEY: linear.apiKey,
    LINEAR_TEAM_ID: 'team-1',
    LINEAR_API_URL: linear.url,
    DISCORD_WEBHOOK_URL: discord.webhookUrl,
    GRIDGOV_OUTBOX_MAX_ATTEMPTS: '3',
    GRIDGOV_OUTBOX_BASE_DELAY_MS: '20',
    GRIDGOV_OUTBOX_MAX_DELAY_MS: '100',
    // Room for a busy machine; the hanging-Linear test shortens it, as only a hang should time out.
    GRIDGOV_OUTBOX_TIMEOUT_MS: '20000',
    // Longer than any delivery on a busy machine, so a row is never claimed twice by accident;
    // tests that need a lease gone expire it with makeDue().
    GRIDGOV_OUTBOX_LEASE_MS: '60000',
  };
  v = await startValidator(t.db, env);
});
after(async () => {
  await v.close();
  await linear.close();
  await discord.close();
  await t.drop();
});
beforeEach(() => {
  linear.setMode('ok');
  discord.setMode('ok');
});

const dispatcher = (over: Record<string, string> = {}) =>
  dispatcherFromConfig(t.db, loadConfig({ ...env, ...over }), pino({ level: 'silent' }));
const reject = async () => {
  const body = { proposal_id: randomUUID(), actor_from: 'alice', actor_to: 'bob', resource: 'energy', amount: 75 };
  const reply = await http(v.url, 'POST', '/execute', body);
  assert.equal(reply.status, 422);
  return body.proposal_id;
};
const outbox = async (proposalId: string) =>
  (
    await t.db.query<{
      topic: string;
      status: string;
      attempts: number;
      external_ref: { identifier?: string; url?: string } | null;
      last_error: string | null;
    }>("SELECT topic, status, attempts, external_ref, last_error FROM outbox WHERE payload->>'proposal_id' = $1 ORDER BY topic", [
      proposalId,
    ])
  ).rows;
const makeDue = () => t.db.query("UPDATE outbox SET next_attempt_at = now() WHERE status = 'pending'");
const drain = async (d = dispatcher()) => {
  while ((await d.runOnce()) > 0);
};

test('each rejection becomes one Linear issue and one Discord message; the issue reference is kept', async () => {
  const ids = [await reject(), await reject(), await reject()];
  await drain();
  for (const id of ids) {
    const issue = linear.issues.get(linearIssueIdFor(id));
    assert.ok(issue, `no issue for ${id}`);
    assert.match(issue.title, new RegExp(`CONSTRAINT_VIOLATION.*${id}`));
    assert.match(issue.description ?? '', new RegExp(id));
    assert.match(issue.description ?? '', /validation_error_code/);
    assert.match(issue.description ?? '', /"amount": 75/);
    const rows = await outbox(id);
    assert.deepEqual(
      rows.map((r) => [r.topic, r.status]),
      [
        ['discord', 'delivered'],
        ['linear', 'delivered'],
      ],
    );
    assert.equal(rows[1]!.external_ref?.identifier, issue.identifier);
    assert.equal(rows[1]!.external_ref?.url, issue.url);
  }
  assert.equal(discord.messages.length, 3);
  const rejections = await http(v.url, 'GET', `/rejections?proposal_id=${ids[0]}`);
  assert.equal(
    rejections.body.rejections[0].deliveries.find((d: { topic: string }) => d.topic === 'linear').external_ref.identifier,
    linear.issues.get(linearIssueIdFor(ids[0]!))!.identifier,
  );
});

test('a reply lost after Linear created the issue: the retry finds it, still one issue', async () => {
  const id = await reject();
  linear.setMode('dropAfterCreate');
  await dispatcher().runOnce();
  const first = (await outbox(id)).find((r) => r.topic === 'linear')!;
  assert.equal(first.status, 'pending');
  assert.ok(linear.issues.has(linearIssueIdFor(id)), 'Linear did create the issue');
  linear.setMode('ok');
  await makeDue();
  await drain();
  const second = (await outbox(id)).find((r) => r.topic === 'linear')!;
  assert.equal(second.status, 'delivered');
  assert.equal(second.attempts, 2);
  const creates = linear.requests.filter(
    (r) => JSON.stringify(r.body?.variables ?? {}).includes(linearIssueIdFor(id)) && r.body?.query?.includes('issueCreate'),
  );
  assert.equal(creates.length, 2, 'two create calls');
  assert.equal([...linear.issues.values()].filter((i) => i.id === linearIssueIdFor(id)).length, 1, 'one issue');
});

test('failures back off and, after the last attempt, the row is dead; a 429 waits as asked and keeps its attempts', async () => {
  const id = await reject();
  linear.setMode('fail');
  discord.setMode('rateLimit');
  await dispatcher().runOnce();
  let rows = await outbox(id);
  assert.deepEqual(
    rows.map((r) => r.status),
    ['pending', 'pending'],
  );
  assert.match(rows[1]!.last_error ?? '', /500/);
  const { rows: due } = await t.db.query<{ topic: string; wait_ms: number }>(
    "SELECT topic, extract(epoch FROM next_attempt_at - updated_at) * 1000 AS wait_ms FROM outbox WHERE payload->>'proposal_id' = $1 ORDER BY topic",
    [id],
  );
  assert.ok(due[0]!.wait_ms >= 150, `discord waits at least its retry_after: ${due[0]!.wait_ms}`);
  for (let i = 0; i < 3; i++) {
    await makeDue();
    await dispatcher().runOnce();
  }
  rows = await outbox(id);
  assert.deepEqual(
    rows.map((r) => [r.status, r.attempts]),
    [
      ['pending', 0],
      ['dead', 3],
    ],
  );
  assert.match(rows[0]!.last_error ?? '', /rate limited/);
});

test('a hanging Linear times out and never holds up /execute', async () => {
  linear.setMode('hang');
  const d = dispatcher({ GRIDGOV_OUTBOX_TIMEOUT_MS: '300' });
  d.start();
  try {
    const id = await reject();
    // Trade once the dispatcher is stuck on Linear's hanging socket.
    await waitUntil(
      () => linear.requests.some((r) => JSON.stringify(r.body?.variables ?? {}).includes(linearIssueIdFor(id))),
      'Linear holds the delivery',
    );
    const applied = await http(v.url, 'POST', '/execute', {
      proposal_id: randomUUID(),
      actor_from: 'alice',
      actor_to: 'bob',
      resource: 'energy',
      amount: 1,
    });
    assert.equal(applied.status, 200);
    const linearRow = async () => (await outbox(id)).find((r) => r.topic === 'linear')!;
    await waitUntil(async () => (await linearRow()).last_error !== null, 'the hung delivery timed out');
    const row = await linearRow();
    assert.equal(row.status, 'pending');
    assert.match(row.last_error ?? '', /did not answer within 300 ms/);
  } finally {
    await d.stop();
  }
});

test('a dispatcher process killed mid-delivery leaves the row to the next one, which makes exactly one issue', async () => {
  await makeDue();
  await drain();
  const id = await reject();
  linear.setMode('hang');
  const child = spawn(process.execPath, [BIN, 'dispatcher'], {
    env: { ...process.env, ...env, DATABASE_URL: t.url, GRIDGOV_OUTBOX_TIMEOUT_MS: '60000' },
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await waitUntil(
    () => linear.requests.some((r) => JSON.stringify(r.body?.variables ?? {}).includes(linearIssueIdFor(id))),
    'the dispatcher process sent the delivery',
  );
  child.kill('SIGKILL');
  await exited;
  linear.setMode('ok');
  const claimed = (await outbox(id)).find((r) => r.topic === 'linear')!;
  assert.equal(claimed.status, 'pending');
  assert.equal(claimed.attempts, 1, 'the killed dispatcher had claimed it');
  // Its lease (60 s here: twice the timeout) would hold the row; expire it as time would.
  await makeDue();
  const d1 = dispatcher();
  const d2 = dispatcher();
  await Promise.all([drain(d1), drain(d2)]);
  assert.equal((await outbox(id)).find((r) => r.topic === 'linear')!.status, 'delivered');
  assert.equal([...linear.issues.values()].filter((i) => i.id === linearIssueIdFor(id)).length, 1);
  assert.deepEqual(await invariantViolations(t.db), []);
});

test('several dispatchers at once deliver each row once', async () => {
  const ids = await Promise.all(Array.from({ length: 12 }, () => reject()));
  const before = linear.requests.length;
  await Promise.all([drain(), drain(), drain()]);
  const creates = linear.requests.slice(before).filter((r) => r.body?.query?.includes('issueCreate'));
  assert.equal(creates.length, ids.length);
  for (const id of ids)
    assert.equal(
      (await outbox(id)).every((r) => r.status === 'delivered'),
      true,
    );
});
