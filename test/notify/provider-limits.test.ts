import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.ts';
import { dispatcherFromConfig } from '../../src/notify/index.ts';
import { createRedactor } from '../../src/notify/errors.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startFakeDiscord, type FakeDiscord } from '../support/fake-discord.ts';
import { startFakeLinear, type FakeLinear } from '../support/fake-linear.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { waitUntil } from '../support/wait.ts';
import { http, startValidator, type TestValidator } from '../support/validator.ts';

let t: TestDatabase;
let v: TestValidator;
let discord: FakeDiscord;
let linear: FakeLinear;
before(async () => {
  t = await createTestDatabase();
  await seedTestScenario(t.db);
  // Discord's webhook bucket: 5 requests per 2 s, told in its real headers.
  discord = await startFakeDiscord({ bucket: { limit: 5, windowMs: 2000 } });
  linear = await startFakeLinear({ apiKey: 'lin_api_Secret0123456789abcdefSECRET' });
  v = await startValidator(t.db, {
    LINEAR_API_KEY: linear.apiKey,
    LINEAR_TEAM_ID: 'team-1',
    LINEAR_API_URL: linear.url,
    DISCORD_WEBHOOK_URL: discord.webhookUrl,
  });
});
after(async () => {
  await v.close();
  await discord.close();
  await linear.close();
  await t.drop();
});

/** A dispatcher for some targets, its log lines collected. */
function dispatcherWith(env: Record<string, string>, lines: string[] = []) {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const config = loadConfig({
    GRIDGOV_OUTBOX_BASE_DELAY_MS: '50',
    GRIDGOV_OUTBOX_MAX_DELAY_MS: '200',
    GRIDGOV_OUTBOX_POLL_MS: '20',
    ...env,
  });
  return dispatcherFromConfig(t.db, config, pino({ level: 'debug' }, sink));
}

const rejectMany = async (n: number) => {
  const proposals = Array.from({ length: n }, () => ({
    proposal_id: randomUUID(),
    actor_from: 'alice',
    actor_to: 'bob',
    resource: 'energy',
    amount: 75,
  }));
  const reply = await http(v.url, 'POST', '/execute/batch', { proposals });
  assert.equal(reply.status, 200);
  assert.ok(reply.body.results.every((r: { error_code?: string }) => r.error_code === 'CONSTRAINT_VIOLATION'));
  return proposals.map((p) => p.proposal_id);
};

const statuses = async (topic: string) =>
  Object.fromEntries(
    (
      await t.db.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM outbox WHERE topic = $1 GROUP BY status', [
        topic,
      ])
    ).rows.map((r) => [r.status, r.n]),
  ) as Record<string, number>;

test(
  '150 rejections in a burst against a 5-per-2-s Discord bucket: all delivered, none dead, few 429s',
  { timeout: 180_000 },
  async (ctx) => {
    const ids = await rejectMany(150);
    const d = dispatcherWith({
      DISCORD_WEBHOOK_URL: discord.webhookUrl,
      LINEAR_API_KEY: linear.apiKey,
      LINEAR_TEAM_ID: 'team-1',
      LINEAR_API_URL: linear.url,
    });
    d.start();
    try {
      await waitUntil(async () => (await statuses('discord')).delivered === 150, '150 Discord deliveries', { timeoutMs: 150_000 });
    } finally {
      await d.stop();
    }
    const final = await statuses('discord');
    assert.deepEqual(final, { delivered: 150 });
    assert.equal(discord.messages.length, 150);
    ctx.diagnostic(`429 answers: ${discord.refusals()} of ${discord.requests.length} requests`);
    assert.ok(discord.refusals() < 15, `the dispatcher was refused ${discord.refusals()} times`);
    const { rows } = await t.db.query<{ max: number }>("SELECT max(attempts)::int AS max FROM outbox WHERE topic = 'discord'");
    assert.ok(rows[0]!.max <= 1, `a row used ${rows[0]!.max} attempts`);
    // The embeds name the actors, not their ids.
    const embed = JSON.stringify(discord.messages[0]!.body.embeds);
    assert.match(embed, /alice → bob/);
    assert.doesNotMatch(embed, /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12} →/);
    assert.equal(new Set(ids).size, 150);
  },
);

test('a Linear that echoes the key: nothing of it reaches the log, outbox.last_error or GET /rejections', async () => {
  const [id] = await rejectMany(1);
  linear.setMode('echoKey');
  const lines: string[] = [];
  const d = dispatcherWith({ LINEAR_API_KEY: linear.apiKey, LINEAR_TEAM_ID: 'team-1', LINEAR_API_URL: linear.url }, lines);
  await d.runOnce();
  const { rows } = await t.db.query<{ status: string; last_error: string }>(
    "SELECT status, last_error FROM outbox WHERE topic = 'linear' AND payload->>'proposal_id' = $1",
    [id],
  );
  assert.equal(rows[0]!.status, 'dead', 'a refused request is not retried');
  assert.match(rows[0]!.last_error, /Linear refused issueCreate \(HTTP 400\)/);
  assert.match(rows[0]!.last_error, /\[redacted\]/);
  const rejection = await http(v.url, 'GET', `/rejections?proposal_id=${id}`);
  assert.equal(rejection.status, 200);
  const served = JSON.stringify(rejection.body);
  assert.match(served, /redacted/);
  for (const text of [lines.join(''), rows[0]!.last_error, served]) {
    assert.ok(!text.includes(linear.apiKey), 'the key leaked');
    assert.ok(!text.includes('Secret0123456789'), 'part of the key leaked');
  }
  assert.ok(
    lines.some((line) => line.includes('delivery failed for good')),
    'the failure is logged',
  );
  linear.setMode('ok');
});

test('Linear tickets name the actors', async () => {
  const [id] = await rejectMany(1);
  await dispatcherWith({ LINEAR_API_KEY: linear.apiKey, LINEAR_TEAM_ID: 'team-1', LINEAR_API_URL: linear.url }).runOnce();
  const issue = [...linear.issues.values()].find((i) => i.title.includes(id!));
  assert.ok(issue);
  assert.match(issue.description ?? '', /- alice → bob: 75 energy/);
});

test('the redactor strips credentials of every usual shape and bounds the length', () => {
  const redact = createRedactor(['lin_api_known_secret_value']);
  const samples = [
    'Authorization: Bearer abcdefghijklmnop1234',
    '{"authorization":"lin_api_abc123def456"}',
    'bad key lin_api_known_secret_value here',
    'see https://discord.com/api/webhooks/123456789/tok-en_SECRET.value',
    'postgres://gridgov:hunter2pass@db:5432/gridgov',
    'api_key=sk-live-123456 and token: zzzyyyxxx',
    'ggk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
  ];
  for (const sample of samples) {
    const out = redact(sample);
    assert.match(out, /\[redacted\]/, sample);
    for (const secret of [
      'abcdefghijklmnop1234',
      'lin_api_abc123def456',
      'lin_api_known_secret_value',
      'tok-en_SECRET.value',
      'hunter2pass',
      'sk-live-123456',
      'zzzyyyxxx',
      'ggk_AbCdEf',
    ]) {
      assert.ok(!out.includes(secret), `${secret} survived in ${out}`);
    }
  }
  assert.equal(redact('x'.repeat(2000)).length, 500);
  assert.equal(redact('Linear answered HTTP 503'), 'Linear answered HTTP 503');
});

test('delivered rows past GRIDGOV_OUTBOX_RETENTION_DAYS are pruned; pending, dead and recent ones stay', async () => {
  await t.db.query("UPDATE outbox SET updated_at = now() - interval '31 days' WHERE status = 'delivered' AND topic = 'discord'");
  const old = (await statuses('discord')).delivered!;
  assert.ok(old >= 150);
  const recent = (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE status = 'delivered' AND topic = 'linear'"))
    .rows[0]!.n;
  assert.ok(recent >= 1);
  await t.db.query("UPDATE outbox SET updated_at = now() - interval '40 days' WHERE status = 'dead'");
  const dead = (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE status = 'dead'")).rows[0]!.n;

  const d = dispatcherWith({ DISCORD_WEBHOOK_URL: discord.webhookUrl, GRIDGOV_OUTBOX_RETENTION_DAYS: '30' });
  assert.equal(await d.prune(), old);
  assert.equal((await statuses('discord')).delivered, undefined);
  assert.equal(
    (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE status = 'delivered' AND topic = 'linear'")).rows[0]!.n,
    recent,
  );
  assert.equal((await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE status = 'dead'")).rows[0]!.n, dead);
  // The validator's role may prune only through the function: it cannot delete rows itself.
  await t.db.transaction(async (tx) => {
    await tx.query('SET LOCAL ROLE gridgov_app');
    await tx.query('SELECT prune_outbox(30)');
    await assert.rejects(tx.query('DELETE FROM outbox WHERE false'), /permission denied/);
  });
  // The rejections themselves stay: only their finished deliveries go.
  assert.ok((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM rejected_proposals')).rows[0]!.n >= 150);
});
