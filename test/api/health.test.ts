import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { createDb } from '../../src/db/db.ts';
import { createDriftVerifier, VERIFIER_LOCK_KEY } from '../../src/ledger/integrity/verifier.ts';
import { findDrift } from '../support/drift.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { appendTrade, asSuperuserWithoutTriggers, openTransaction } from '../support/ledger.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { http, startValidator, waitForHealth, type TestValidator } from '../support/validator.ts';

const FAST = {
  GRIDGOV_VERIFY_INTERVAL_MS: '100',
  GRIDGOV_SEAL_INTERVAL_MS: '100',
  GRIDGOV_CHECKPOINT_EVERY: '10',
  GRIDGOV_SEAL_BLOCK_SIZE: '8',
};

let t: TestDatabase;
let v: TestValidator;
before(async () => {
  t = await createTestDatabase();
  await seedTestScenario(t.db);
  v = await startValidator(t.db, FAST);
});
after(async () => {
  await v.close();
  await t.drop();
});

const bobWater = "actor_id = (SELECT id FROM actors WHERE name = 'bob') AND resource = 'water'";

test('/health reads the verifier verdict and its age; a balance changed behind the ledger is reported by a later pass', async () => {
  const healthy = await waitForHealth(v.url, (r) => r.status === 200);
  const consistency = healthy.body.checks.ledger_consistency;
  assert.equal(consistency.state, 'verified');
  assert.ok(consistency.age_ms <= consistency.max_age_ms);
  assert.equal(consistency.max_age_ms, 5000);
  assert.ok(!Number.isNaN(Date.parse(consistency.checked_at)));
  assert.match(consistency.verifier, /:\d+$/);

  await t.db.query(`UPDATE balances SET amount = amount + 7 WHERE ${bobWater}`);
  const drifted = await waitForHealth(v.url, (r) => r.status === 503);
  assert.equal(drifted.body.checks.ledger_consistency.state, 'drift');
  // /health serves no verdict older than max_age_ms (5 s): that, not the test's own clock, is what
  // bounds how late drift is reported.
  assert.ok(drifted.body.checks.ledger_consistency.age_ms <= drifted.body.checks.ledger_consistency.max_age_ms);
  assert.deepEqual(drifted.body.checks.ledger_consistency.drift, [
    {
      actor_id: drifted.body.checks.ledger_consistency.drift[0].actor_id,
      actor: 'bob',
      resource: 'water',
      balance: '107',
      expected: '100',
    },
  ]);
  await t.db.query(`UPDATE balances SET amount = amount - 7 WHERE ${bobWater}`);
  await waitForHealth(v.url, (r) => r.status === 200);
});

test('the verifier makes checkpoints every K ids and /health reports the sealed hash chain', async () => {
  for (let i = 0; i < 25; i++) await appendTrade(t.db, 'alice', 'carol', 'credits', 1);
  const head = (await t.db.query<{ id: number }>('SELECT max(id) AS id FROM ledger')).rows[0]!.id;
  const reply = await waitForHealth(
    v.url,
    (r) => r.body.checks.hash_chain.sealed_through >= head && r.body.checks.ledger_consistency.settled_through >= head,
  );
  const chain = reply.body.checks.hash_chain;
  assert.equal(chain.ok, true);
  assert.match(chain.head_hash, /^[0-9a-f]{64}$/);
  assert.equal(chain.ledger_head, head);
  assert.equal(chain.broken, null);
  const { rows } = await t.db.query<{ ledger_id: number; made_by: string }>(
    'SELECT ledger_id, made_by FROM checkpoints ORDER BY ledger_id',
  );
  assert.ok(rows.length >= 2 && rows.every((c) => c.made_by === 'auto'), JSON.stringify(rows));
  const passed = await waitForHealth(v.url, (r) => r.body.checks.hash_chain.last_full_pass_at !== null);
  assert.ok(passed.body.checks.hash_chain.verified_through_block >= 1);

  // A sealed row rewritten by a superuser: the rolling re-verification finds it and /health fails.
  const target = (await t.db.query<{ id: number }>("SELECT id FROM ledger WHERE kind = 'trade' ORDER BY id LIMIT 1")).rows[0]!.id;
  await asSuperuserWithoutTriggers(t.db, 'UPDATE ledger SET validator_version = $2 WHERE id = $1', [target, 'forged']);
  const broken = await waitForHealth(v.url, (r) => r.body.checks.hash_chain.broken !== null);
  assert.equal(broken.status, 503);
  assert.deepEqual([broken.body.checks.hash_chain.broken.kind, broken.body.checks.hash_chain.broken.ledger_id], ['modified', target]);
  await asSuperuserWithoutTriggers(t.db, "UPDATE ledger SET validator_version = 'test' WHERE id = $1", [target]);
  await waitForHealth(v.url, (r) => r.status === 200);
});

test('a verdict older than the allowed age fails /health: no verifier, no vouching', async () => {
  const idle = await startValidator(t.db, { GRIDGOV_LEDGER_GUARD: 'off', GRIDGOV_VERIFY_MAX_AGE_MS: '300' });
  try {
    await v.close(); // the only running verifier
    const stale = await waitForHealth(idle.url, (r) => r.status === 503);
    assert.equal(stale.body.checks.ledger_consistency.state, 'stale');
    assert.ok(stale.body.checks.ledger_consistency.age_ms > 300);
  } finally {
    await idle.close();
    v = await startValidator(t.db, FAST);
  }
});

test('commits out of id order cause no false alarm, and the late entry is not skipped', async () => {
  const d = await createTestDatabase(4);
  try {
    await seedTestScenario(d.db);
    const verifier = createDriftVerifier(d.db, { name: 'test', checkpointEvery: 2 });
    assert.equal((await verifier.tick())!.ok, true);
    const slow = await openTransaction(d.url);
    const late = await appendTrade(slow.db, 'alice', 'bob', 'energy', 5);
    const early = await appendTrade(d.db, 'carol', 'dave', 'water', 3);
    for (let i = 0; i < 3; i++) {
      const verdict = (await verifier.tick())!;
      assert.equal(verdict.ok, true, JSON.stringify(verdict.drift));
      assert.ok(verdict.settledThrough < late.id, 'nothing at or past the open writer is settled');
      assert.equal(verdict.checkpoint, undefined);
    }
    await slow.commit();
    await verifier.tick(); // the fence that saw the writer clears
    const verdict = (await verifier.tick())!;
    assert.equal(verdict.ok, true);
    assert.ok(verdict.settledThrough >= early.id);
    const checkpoint = (await d.db.query<{ ledger_id: number }>('SELECT max(ledger_id) AS ledger_id FROM checkpoints')).rows[0]!.ledger_id;
    assert.ok(checkpoint >= early.id, 'a checkpoint past both entries');
    // The base now includes the late entry: a fresh comparison still agrees, and catches a change.
    await d.db.query(
      `UPDATE balances SET amount = amount - 1 WHERE actor_id = (SELECT id FROM actors WHERE name = 'alice') AND resource = 'energy'`,
    );
    const drift = (await verifier.tick())!;
    assert.deepEqual(
      drift.drift.map((r) => [r.actor, r.resource, r.balance, r.expected]),
      [['alice', 'energy', '94', '95']],
    );
    assert.deepEqual(
      (await findDrift(d.db)).map((r) => r.actor),
      ['alice'],
      'the full replay agrees',
    );

    // One verifier per tick across replicas: while another holds the lock, a tick does nothing.
    const other = await openTransaction(d.url);
    await other.db.query('SELECT pg_advisory_xact_lock($1)', [VERIFIER_LOCK_KEY]);
    assert.equal(await verifier.tick(), undefined);
    await other.rollback();
  } finally {
    await d.drop();
  }
});

test('/livez stays trivial', async () => {
  assert.deepEqual((await http(v.url, 'GET', '/livez')).body, { status: 'ok' });
});

test('/health answers 503 within its own deadline, naming the checks the database did not answer', async () => {
  // A peer that takes the connection and never says a word: a stalled server, a frozen network.
  const silent: Socket[] = [];
  const server = createServer((socket) => silent.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  // The pool would wait for a connection far longer than this test runs: only /health's deadline answers.
  const stalled = createDb(`postgres://nobody:x@127.0.0.1:${port}/none`, { connectionTimeoutMs: 600_000 });
  // No bootstrap key to register, no guard: the validator starts without asking the database.
  const isolated = await startValidator(stalled, { GRIDGOV_ADMIN_KEY: '', GRIDGOV_LEDGER_GUARD: 'off', GRIDGOV_HEALTH_TIMEOUT_MS: '300' });
  try {
    const health = await http(isolated.url, 'GET', '/health');
    assert.equal(health.status, 503);
    assert.equal(health.body.status, 'unhealthy');
    for (const name of ['database', 'circuit_breaker', 'ledger_consistency', 'hash_chain']) {
      assert.equal(health.body.checks[name].ok, false, name);
      assert.equal(health.body.checks[name].state, 'no_answer', name);
      assert.match(health.body.checks[name].error, /did not answer this check within 300 ms \(GRIDGOV_HEALTH_TIMEOUT_MS\)/);
    }
    assert.ok(silent.length > 0, 'the validator did reach the silent peer');
  } finally {
    await isolated.close();
    for (const socket of silent) socket.destroy();
    server.close();
    await stalled.close();
  }
});

test('GRIDGOV_HEALTH_TIMEOUT_MS: 2 s by default; a bad value stops the start naming the setting', () => {
  assert.equal(loadConfig({}).server.healthTimeoutMs, 2000);
  assert.equal(loadConfig({ GRIDGOV_HEALTH_TIMEOUT_MS: '750' }).server.healthTimeoutMs, 750);
  for (const bad of ['soon', '0', '1.5', '-1']) {
    assert.throws(
      () => loadConfig({ GRIDGOV_HEALTH_TIMEOUT_MS: bad }),
      (e: unknown) => e instanceof ConfigError && /^GRIDGOV_HEALTH_TIMEOUT_MS must be an integer between 10 and 600000/.test(e.message),
    );
  }
});
