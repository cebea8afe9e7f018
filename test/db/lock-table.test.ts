import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createDb, type Db } from '../../src/db/db.ts';
import { databaseUrl, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { seedTestScenario, tradeBody } from '../support/scenario.ts';
import { startStockPostgres, testServerKind } from '../support/stock-postgres.ts';
import { ADMIN_KEY, bearer, http, startValidator, type TestValidator } from '../support/validator.ts';

// One session filling the server's lock table stops every other session from taking a lock it
// has not got yet ("out of shared memory", SQLSTATE 53200). The validator must answer that as the
// database being unavailable (503, retry), not as a bug of its own (500). The server is the
// test's own, of the kind the run uses (stock or embedded): a full lock table on the shared one
// would fail other test files.

const root = mkdtempSync(join(tmpdir(), 'gridgov-locks-'));
chmodSync(root, 0o755); // the postgres user must reach the cluster inside
let server: Pick<EmbeddedPostgres, 'url' | 'stop'> | undefined;
let db: Db | undefined;
let v: TestValidator | undefined;
let url = '';
before(async () => {
  server =
    testServerKind() === 'stock'
      ? await startStockPostgres({ dir: join(root, 'stock') })
      : await startEmbeddedPostgres({ dataDir: join(root, 'pg') });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query('CREATE DATABASE locks');
  await admin.end();
  url = databaseUrl(server.url, 'locks');
  db = createDb(url, { max: 4 });
  await migrate(db);
  await seedTestScenario(db);
  v = await startValidator(db, { GRIDGOV_LEDGER_GUARD: 'off' });
});
after(async () => {
  await v?.close();
  await db?.close();
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

/**
 * Takes advisory locks in one open transaction until the lock table has no room for one more:
 * chunks that fail are rolled back to their savepoint and retried at half the size.
 */
async function fillLockTable(holder: pg.Client): Promise<number> {
  await holder.query('BEGIN');
  let next = 1;
  for (let chunk = 4096; chunk >= 1;) {
    await holder.query('SAVEPOINT fill');
    try {
      await holder.query('SELECT count(pg_advisory_xact_lock(g)) FROM generate_series($1::bigint, $2::bigint) g', [next, next + chunk - 1]);
      await holder.query('RELEASE SAVEPOINT fill');
      next += chunk;
    } catch (error) {
      assert.equal((error as { code?: string }).code, '53200', (error as Error).message);
      await holder.query('ROLLBACK TO SAVEPOINT fill');
      chunk = Math.floor(chunk / 2);
    }
  }
  return next - 1;
}

test('a full lock table: /execute, reads and admin calls answer 503 DATABASE_UNAVAILABLE, and work again once it empties', async () => {
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  try {
    const held = await fillLockTable(holder);
    assert.ok(held > 1000, `the lock table held ${held} locks`);

    const refused = await http(v!.url, 'POST', '/execute', tradeBody({ amount: 1 }));
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error_code, 'DATABASE_UNAVAILABLE');
    const read = await http(v!.url, 'GET', '/world-state');
    assert.equal(read.status, 503, JSON.stringify(read.body));
    assert.equal(read.body.error_code, 'DATABASE_UNAVAILABLE');
    const halt = await http(v!.url, 'POST', '/admin/circuit-breaker', { enabled: true, reason: 'x' }, bearer(ADMIN_KEY));
    assert.equal(halt.status, 503, JSON.stringify(halt.body));
    assert.equal(halt.body.error_code, 'DATABASE_UNAVAILABLE');

    await holder.query('ROLLBACK');
    const applied = await http(v!.url, 'POST', '/execute', tradeBody({ amount: 1 }));
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    assert.equal((await http(v!.url, 'GET', '/world-state')).status, 200);
    const breaker = await db!.query<{ breaker_on: boolean }>('SELECT breaker_on FROM control');
    assert.equal(breaker.rows[0]!.breaker_on, false, 'the refused halt changed nothing');
  } finally {
    await holder.end();
  }
});
