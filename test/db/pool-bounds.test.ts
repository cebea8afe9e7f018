import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { createDb, isDatabaseTimeout, isDatabaseUnavailable, type Db } from '../../src/db/db.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { waitUntil } from '../support/wait.ts';
import { http, startValidator, type TestValidator } from '../support/validator.ts';

let t: TestDatabase;
let bounded: Db;
let holder: Db;
let validator: TestValidator;
before(async () => {
  t = await createTestDatabase(4);
  await seedTestScenario(t.db);
  bounded = createDb(t.url, { max: 4, statementTimeoutMs: 1000, lockTimeoutMs: 300, idleInTransactionTimeoutMs: 500 });
  holder = createDb(t.url, { max: 2 });
  validator = await startValidator(bounded);
});
after(async () => {
  await validator.close();
  await bounded.close();
  await holder.close();
  await t.drop();
});

/** Holds `sql`'s locks in another session until the returned function is called. */
async function holdLocks(sql: string): Promise<() => Promise<void>> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const taken = new Promise<void>((resolve) => (locked = resolve));
  const done = holder.transaction(async (tx) => {
    await tx.query(sql);
    locked();
    await released;
  });
  await taken;
  return async () => {
    release();
    await done;
  };
}

const isTimeout = (error: unknown) => isDatabaseTimeout(error) && isDatabaseUnavailable(error);

test('a statement running past statement_timeout is cancelled, as a database-unavailable error', async () => {
  await assert.rejects(bounded.query('SELECT pg_sleep(5)'), (error: unknown) => {
    assert.equal((error as { code?: string }).code, '57014');
    return isTimeout(error);
  });
  assert.equal((await bounded.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);
});

test('a lock waited for past lock_timeout fails the wait, as a database-unavailable error', async () => {
  const release = await holdLocks("SELECT 1 FROM actors WHERE name = 'alice' FOR UPDATE");
  try {
    await assert.rejects(bounded.query("UPDATE actors SET name = name WHERE name = 'alice'"), (error: unknown) => {
      assert.equal((error as { code?: string }).code, '55P03');
      return isTimeout(error);
    });
  } finally {
    await release();
  }
});

test('a session idle inside a transaction is ended by the server, which frees its locks', async () => {
  let lost: unknown;
  const stalled = bounded
    .transaction(async (tx) => {
      const { rows } = await tx.query<{ pid: number }>("SELECT pg_backend_pid() AS pid FROM actors WHERE name = 'bob' FOR UPDATE");
      // A stalled client (paused, or its network gone) sends nothing until the server has ended
      // its session; then it tries again.
      const pid = rows[0]!.pid;
      await waitUntil(
        async () => (await holder.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0,
        'the server ends the session idle in its transaction',
      );
      await tx.query('SELECT 1');
    })
    .catch((error: unknown) => (lost = error));
  // Another session gets bob's row once the server has ended the stalled one.
  const { rows } = await holder.transaction((tx) => tx.query<{ name: string }>("SELECT name FROM actors WHERE name = 'bob' FOR UPDATE"));
  assert.deepEqual(rows, [{ name: 'bob' }]);
  await stalled;
  assert.ok(isDatabaseUnavailable(lost), `the stalled transaction fails as database-unavailable: ${String(lost)}`);
  assert.equal((await bounded.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1, 'the pool carries on');
});

test('over HTTP a timed-out commit is a retry-safe 503, and the retry records the proposal once', async () => {
  const body = { proposal_id: randomUUID(), actor_from: 'alice', actor_to: 'bob', resource: 'energy', amount: 1 };
  const release = await holdLocks('LOCK TABLE balances IN ACCESS EXCLUSIVE MODE');
  let reply;
  try {
    reply = await http(validator.url, 'POST', '/execute', body);
  } finally {
    await release();
  }
  assert.equal(reply.status, 503, JSON.stringify(reply.body));
  assert.ok(['DATABASE_UNAVAILABLE', 'COMMIT_FAILED'].includes(reply.body.error_code), JSON.stringify(reply.body));
  const count = async () =>
    (await t.db.query<{ n: number }>('SELECT count(*) AS n FROM ledger WHERE proposal_id = $1', [body.proposal_id])).rows[0]!.n;
  assert.equal(await count(), 0, 'nothing was recorded');
  const retry = await http(validator.url, 'POST', '/execute', body);
  assert.equal(retry.status, 200, JSON.stringify(retry.body));
  assert.equal(await count(), 1);
});

test('over HTTP a read that times out is a 503 DATABASE_UNAVAILABLE, not a 500', async () => {
  const release = await holdLocks('LOCK TABLE balances IN ACCESS EXCLUSIVE MODE');
  try {
    const reply = await http(validator.url, 'GET', '/world-state');
    assert.equal(reply.status, 503, JSON.stringify(reply.body));
    assert.equal(reply.body.error_code, 'DATABASE_UNAVAILABLE');
  } finally {
    await release();
  }
});

test('the bounds are configured in one place, with defaults, and named when wrong', () => {
  const { database } = loadConfig({});
  assert.deepEqual(database, {
    statementTimeoutMs: 30_000,
    lockTimeoutMs: 10_000,
    idleInTransactionTimeoutMs: 5_000,
    keepAliveDelayMs: 10_000,
    idleConnectionMs: 600_000,
    operationsStatementTimeoutMs: 0,
  });
  assert.equal(loadConfig({ GRIDGOV_DB_LOCK_TIMEOUT_MS: '0' }).database.lockTimeoutMs, 0);
  assert.equal(loadConfig({ GRIDGOV_DB_IDLE_CONNECTION_MS: '0' }).database.idleConnectionMs, 0);
  assert.throws(() => loadConfig({ GRIDGOV_DB_STATEMENT_TIMEOUT_MS: 'soon' }), /GRIDGOV_DB_STATEMENT_TIMEOUT_MS must be an integer/);
  assert.throws(() => loadConfig({ GRIDGOV_DB_IDLE_CONNECTION_MS: '-1' }), /GRIDGOV_DB_IDLE_CONNECTION_MS/);
});

test('a pooled connection stays in the pool after its query, and is closed once idle for idleConnectionMs', async () => {
  const pool = createDb(t.url, { max: 2, idleConnectionMs: 300 });
  try {
    await pool.query('SELECT 1');
    assert.equal(pool.stats!().total, 1, 'the connection stays in the pool after its query');
    await waitUntil(() => pool.stats!().total === 0, 'the idle connection was closed');
  } finally {
    await pool.close();
  }
});
