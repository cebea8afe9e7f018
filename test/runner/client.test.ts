import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createValidatorClient } from '../../src/runner/client.ts';
import { startFaultProxy, type FaultProxy } from '../support/proxy.ts';
import { ADMIN_KEY, useSeededValidator } from '../support/validator.ts';

const world = useSeededValidator();
let proxy: FaultProxy;
before(async () => {
  await world.ready;
  proxy = await startFaultProxy(world.v.url);
});
after(() => proxy.close());

const client = (over: Record<string, number> = {}) =>
  createValidatorClient({ baseUrl: proxy.url, apiKey: ADMIN_KEY, retryBaseMs: 5, retryMaxMs: 50, ...over });
const trade = (amount = 1) => ({ proposal_id: randomUUID(), actor_from: 'alice', actor_to: 'bob', resource: 'energy', amount });
const ledgerRows = async (id: string) => (await world.t.db.query('SELECT 1 FROM ledger WHERE proposal_id = $1', [id])).rowCount;

test('503s are retried with backoff and the same proposal_id until it applies', async () => {
  const body = trade();
  let failures = 0;
  proxy.setRule((method, path) =>
    path === '/execute' && failures++ < 2
      ? { respond: { status: 503, body: { status: 'error', error_code: 'CIRCUIT_BREAKER_OPEN' } } }
      : undefined,
  );
  const c = client();
  const result = await c.execute(body);
  assert.deepEqual({ result: result.result }, { result: 'applied' });
  const sent = proxy.seen.filter((s) => s.path === '/execute' && JSON.parse(s.body).proposal_id === body.proposal_id);
  assert.equal(sent.length, 3);
  assert.ok(
    sent.every((s) => s.body === JSON.stringify(body)),
    'every retry carried the same payload',
  );
  assert.equal(c.retries(), 2);
  assert.equal(await ledgerRows(body.proposal_id), 1);
});

test('a lost answer or a hung validator is retried after the deadline and answered as a replay: applied once', async () => {
  const dropped = trade();
  let first = true;
  proxy.setRule((_m, path) => (path === '/execute' && first ? ((first = false), { dropAnswer: true }) : undefined));
  const afterDrop = await client().execute(dropped);
  assert.equal(afterDrop.result, 'applied');
  assert.equal(afterDrop.result === 'applied' && afterDrop.replayed, true, 'the first attempt had applied');
  assert.equal(await ledgerRows(dropped.proposal_id), 1);

  const slow = trade();
  let hung = true;
  // The first answer is held far past the deadline, so only a retry can bring the result.
  proxy.setRule((_m, path) => (path === '/execute' && hung ? ((hung = false), { delayMs: 600_000 }) : undefined));
  const impatient = client({ timeoutMs: 2_000 });
  const afterHang = await impatient.execute(slow);
  assert.equal(afterHang.result, 'applied');
  assert.ok(impatient.retries() >= 1, 'the client gave up on the held answer and retried');
  assert.equal(await ledgerRows(slow.proposal_id), 1);
  proxy.setRule(() => undefined);
});

test('409 is a settled slot, 422 a rejection; past the retries the call throws', async () => {
  const body = trade();
  const c = client();
  await c.execute(body);
  assert.deepEqual(await c.execute({ ...body, amount: 2 }), { result: 'conflict' });
  const rejected = await c.execute(trade(1_000));
  assert.deepEqual(rejected, {
    result: 'rejected',
    replayed: false,
    errorCode: 'CONSTRAINT_VIOLATION',
    message: 'leg 0: amount 1000 exceeds max_transfer 50 for energy',
  });
  proxy.setRule(() => ({ respond: { status: 503, body: { status: 'error', error_code: 'DATABASE_UNAVAILABLE' } } }));
  try {
    await assert.rejects(client({ retries: 2 }).execute(trade()), /failed after 3 attempts: 503 DATABASE_UNAVAILABLE/);
  } finally {
    proxy.setRule(() => undefined);
  }
});
