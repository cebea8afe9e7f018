import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createDb, isDatabaseUnavailable, isReadOnlyServer, isStaleConnection, type Db } from '../../src/db/db.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { http, startValidator, waitForHealth, type TestValidator } from '../support/validator.ts';
import { waitUntil } from '../support/wait.ts';

/**
 * What the validator's pool does when its server can no longer take writes: a replica (after a
 * switchover the old primary comes back as one) or a server shutting down. On a single server the
 * first is a session with default_transaction_read_only on (what a hot standby reports too), the
 * second pg_terminate_backend (57P01 admin_shutdown, what a fast shutdown sends).
 */

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase(2);
  await seedTestScenario(t.db);
});
after(async () => {
  await t.drop();
});

interface Session {
  pid: number;
  read_only: string;
}

/** `count` queries at once on a pool of `count`: one on each of its connections. */
async function eachConnection(db: Db, count: number, sql = 'SELECT 1'): Promise<Session[]> {
  // Every transaction holds its connection until all have one, so no two can share a connection.
  let arrived = 0;
  let allArrived!: () => void;
  const everyone = new Promise<void>((resolve) => (allArrived = resolve));
  const sessions = await Promise.all(
    Array.from({ length: count }, () =>
      db.transaction(async (tx) => {
        await tx.query(sql);
        if (++arrived === count) allArrived();
        await everyone;
        return (await tx.query<Session>("SELECT pg_backend_pid() AS pid, current_setting('default_transaction_read_only') AS read_only"))
          .rows[0]!;
      }),
    ),
  );
  assert.equal(new Set(sessions.map((s) => s.pid)).size, count, 'each query had a connection of its own');
  return sessions;
}

async function backendsAlive(pids: number[]): Promise<number> {
  const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])', [pids]);
  return rows[0]!.n;
}

test('a write refused as read-only is DATABASE_UNAVAILABLE, and the pool drops every connection opened before it', async () => {
  const db = createDb(t.url, { max: 3, applicationName: 'read-only-pool' });
  try {
    // Three connections left on a server that has become read-only.
    const before = await eachConnection(db, 3, "SELECT set_config('default_transaction_read_only', 'on', false)");
    assert.deepEqual(
      before.map((s) => s.read_only),
      ['on', 'on', 'on'],
    );
    const refused = await db.query('CREATE TABLE read_only_probe (a int)').then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.equal((refused as { code?: string }).code, '25006');
    assert.ok(isReadOnlyServer(refused) && isStaleConnection(refused) && isDatabaseUnavailable(refused));

    const afterwards = await eachConnection(db, 3);
    const old = new Set(before.map((s) => s.pid));
    assert.deepEqual(
      afterwards.filter((s) => old.has(s.pid)),
      [],
      'no connection opened before the refusal is used again',
    );
    assert.deepEqual(
      afterwards.map((s) => s.read_only),
      ['off', 'off', 'off'],
    );
    await db.query('CREATE TEMP TABLE read_only_probe (a int)');
    await waitUntil(async () => (await backendsAlive([...old])) === 0, 'the retired connections to close');
  } finally {
    await db.close();
  }
});

test('a server shutting down a session (57P01) fails its query at once and retires the idle connections too', async () => {
  const db = createDb(t.url, { max: 3, applicationName: 'shutdown-pool' });
  try {
    const before = await eachConnection(db, 3);
    const running = db.query('SELECT pg_sleep(30)').then(
      () => undefined,
      (error: unknown) => error,
    );
    let victim = 0;
    await waitUntil(async () => {
      const { rows } = await t.db.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'shutdown-pool' AND query = 'SELECT pg_sleep(30)' AND state = 'active'",
      );
      victim = rows[0]?.pid ?? 0;
      return victim !== 0;
    }, 'the sleeping query to start');
    await t.db.query('SELECT pg_terminate_backend($1::int)', [victim]);
    const error = await running;
    assert.equal((error as { code?: string }).code, '57P01');
    assert.ok(isStaleConnection(error) && isDatabaseUnavailable(error) && !isReadOnlyServer(error));

    const old = new Set(before.map((s) => s.pid));
    const afterwards = await eachConnection(db, 3);
    assert.deepEqual(
      afterwards.filter((s) => old.has(s.pid)),
      [],
      'the idle connections were dropped with the one that failed',
    );
  } finally {
    await db.close();
  }
});

test('the validator on a read-only database: 503 DATABASE_UNAVAILABLE, /health says read-only, then a retry succeeds', async () => {
  const pool = createDb(t.url, { max: 4, applicationName: 'read-only-validator' });
  let v: TestValidator | undefined;
  try {
    v = await startValidator(pool, { GRIDGOV_VERIFY_INTERVAL_MS: '100', GRIDGOV_SEAL_INTERVAL_MS: '100' });
    await waitForHealth(v.url, (r) => r.status === 200);
    const trade = { actor_from: 'alice', actor_to: 'bob', resource: 'energy', amount: 1 };

    // As when the proxy sends new connections to a replica: new sessions are read-only, and the
    // open ones are ended, as a demoted primary's are.
    await t.db.query(`ALTER DATABASE ${t.name} SET default_transaction_read_only = on`);
    await t.db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'read-only-validator'");
    const id = randomUUID();
    const refused = await http(v.url, 'POST', '/execute', { proposal_id: id, ...trade });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error_code, 'DATABASE_UNAVAILABLE');
    const health = await waitForHealth(v.url, (r) => r.body.checks?.database?.state === 'read_only');
    assert.equal(health.status, 503);
    assert.equal(health.body.checks.database.ok, false);
    assert.match(health.body.checks.database.error, /read-only/);

    // The primary is back: the first retry that meets a connection opened before retires them all,
    // so at most one more 503 comes before the write lands.
    await t.db.query(`ALTER DATABASE ${t.name} RESET default_transaction_read_only`);
    const replies: number[] = [];
    for (let attempt = 0; attempt < 3 && replies.at(-1) !== 200; attempt++) {
      const reply = await http(v.url, 'POST', '/execute', { proposal_id: id, ...trade });
      replies.push(reply.status);
    }
    assert.equal(replies.at(-1), 200, `replies: ${replies.join(', ')}`);
    assert.ok(replies.slice(0, -1).every((status) => status === 503));
    const ledger = await t.db.query('SELECT 1 FROM ledger WHERE proposal_id = $1', [id]);
    assert.equal(ledger.rowCount, 1);
    const healthy = await waitForHealth(v.url, (r) => r.status === 200);
    assert.equal(healthy.body.checks.database.state, 'writable');
  } finally {
    await t.db.query(`ALTER DATABASE ${t.name} RESET default_transaction_read_only`);
    await v?.close();
    await pool.close();
  }
});
