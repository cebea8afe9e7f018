import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { createDiscordClient, rejectionEmbed, type RejectionNotice } from '../../src/notify/discord.ts';
import { DeliveryError } from '../../src/notify/errors.ts';
import { startFakeDiscord } from '../support/fake-discord.ts';

const NOTICE: RejectionNotice = {
  error_code: 'E_INSUFFICIENT_FUNDS',
  proposal_id: '5b0e8c1a-2f3d-4e5a-9b6c-7d8e9f0a1b2c',
  legs: [
    { actor_from: 'solar-farm', actor_to: 'data-centre', resource: 'kWh', amount: '120.5' },
    { actor_from: 'data-centre', actor_to: 'solar-farm', resource: 'credits', amount: 40 },
  ],
  message: 'solar-farm holds 80 kWh, 120.5 needed',
  rejected_at: '2025-03-01T12:00:00.000Z',
};

async function setup(t: TestContext, timeoutMs?: number) {
  const fake = await startFakeDiscord();
  t.after(() => fake.close());
  return { fake, client: createDiscordClient({ webhookUrl: fake.webhookUrl, timeoutMs }) };
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

test('posts the embed with wait=true and without allowing mentions', async (t) => {
  const { fake, client } = await setup(t);

  await client.send({ content: 'rejection @everyone', embeds: [rejectionEmbed(NOTICE)] });

  assert.equal(fake.messages.length, 1);
  assert.equal(fake.requests[0]?.query.wait, 'true');
  const body = fake.messages[0]?.body;
  assert.deepEqual(body?.allowed_mentions, { parse: [] });
  assert.deepEqual(body?.embeds, [rejectionEmbed(NOTICE)]);
});

test('keeps query parameters already on the webhook URL', async (t) => {
  const fake = await startFakeDiscord();
  t.after(() => fake.close());
  const client = createDiscordClient({ webhookUrl: `${fake.webhookUrl}?thread_id=42` });

  await client.send({ content: 'in a thread' });

  assert.deepEqual(fake.requests[0]?.query, { thread_id: '42', wait: 'true' });
});

test('429 is retryable after the body retry_after, in milliseconds', async (t) => {
  const { fake, client } = await setup(t);
  fake.setMode('rateLimit');

  const err = await failure(client.send({ content: 'x' }));

  assert.equal(err.retryable, true);
  assert.equal(err.status, 429);
  assert.equal(err.retryAfterMs, 200);
  assert.equal(fake.messages.length, 0);
});

test('HTTP 500 is retryable', async (t) => {
  const { fake, client } = await setup(t);
  fake.setMode('fail');

  const err = await failure(client.send({ content: 'x' }));

  assert.equal(err.retryable, true);
  assert.equal(err.status, 500);
});

test('an unknown webhook is not retryable and the message does not carry the token', async (t) => {
  const { fake } = await setup(t);
  const client = createDiscordClient({ webhookUrl: fake.webhookUrl.replace(/[^/]+$/, 'revoked-token') });

  const err = await failure(client.send({ content: 'x' }));

  assert.equal(err.retryable, false);
  assert.equal(err.status, 404);
  assert.ok(!err.message.includes('revoked-token'), err.message);
});

test('a hanging webhook times out as a retryable failure', async (t) => {
  const { fake, client } = await setup(t, 150);
  fake.setMode('hang');

  const err = await failure(client.send({ content: 'x' }));

  assert.equal(err.retryable, true);
  assert.match(err.message, /did not answer within 150 ms/);
});

test('the rejection embed names the code, proposal, actors, amounts and time in red', () => {
  const embed = rejectionEmbed(NOTICE);

  assert.equal(embed.title, 'Proposal rejected: E_INSUFFICIENT_FUNDS');
  assert.equal(embed.description, NOTICE.message);
  assert.equal(embed.color, 0xed4245);
  assert.equal(embed.timestamp, '2025-03-01T12:00:00.000Z');
  const fields = Object.fromEntries((embed.fields ?? []).map((field) => [field.name, field.value]));
  assert.match(fields.Proposal ?? '', new RegExp(NOTICE.proposal_id));
  assert.equal(fields.Actors, 'solar-farm → data-centre\ndata-centre → solar-farm');
  assert.equal(fields.Amount, '120.5 kWh\n40 credits');
  assert.equal(fields['Rejected at'], '2025-03-01T12:00:00.000Z');
});

test('the rejection embed stays within Discord limits', () => {
  const embed = rejectionEmbed({ ...NOTICE, message: 'x'.repeat(5_000), legs: [] });

  assert.equal(embed.description?.length, 4096);
  assert.ok(embed.description?.endsWith('…'));
  assert.ok((embed.fields ?? []).every((field) => field.value.length > 0 && field.value.length <= 1024));
});
