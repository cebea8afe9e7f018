import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { createDb } from '../../src/db/db.ts';
import { databaseUrl, freePort, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { getWorldState } from '../../src/ledger/reads/world-state.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { ADMIN_KEY, bearer, http, spawnValidator } from '../support/validator.ts';

const root = mkdtempSync(join(tmpdir(), 'gridgov-replica-'));
// Keep both clusters inside root, where the postgres user must be able to reach them.
chmodSync(root, 0o755);
const servers: EmbeddedPostgres[] = [];
after(async () => {
  for (const s of servers.reverse()) await s.stop();
  rmSync(root, { recursive: true, force: true });
});

async function scalar<T>(url: string, sql: string): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Object.values((await client.query(sql)).rows[0] as Record<string, T>)[0]!;
  } finally {
    await client.end();
  }
}

test('DATABASE_READ_URL sends reads to a streaming replica; they stay correct and writes never go there', async () => {
  const primaryDir = join(root, 'primary');
  const replicaDir = join(root, 'replica');
  const primaryPort = await freePort();
  // Build the primary, then copy its stopped cluster as the standby's base backup.
  let primary = await startEmbeddedPostgres({ dataDir: primaryDir, port: primaryPort });
  const admin = new pg.Client({ connectionString: primary.url });
  await admin.connect();
  await admin.query('CREATE DATABASE gridgov');
  await admin.end();
  const seedDb = createDb(databaseUrl(primary.url, 'gridgov'), { max: 2 });
  await migrate(seedDb);
  await seedTestScenario(seedDb);
  await seedDb.close();
  await primary.stop();
  execFileSync('cp', ['-a', primaryDir, replicaDir]);
  rmSync(join(replicaDir, 'owner.pid'), { force: true });
  const password = readFileSync(join(primaryDir, 'password'), 'utf8').trim();
  writeFileSync(join(replicaDir, 'pg', 'standby.signal'), '');
  appendFileSync(
    join(replicaDir, 'pg', 'postgresql.auto.conf'),
    `\nprimary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=gridgov password=${password} application_name=gridgov-standby'\n`,
  );
  primary = await startEmbeddedPostgres({ dataDir: primaryDir, port: primaryPort });
  servers.push(primary);
  const replica = await startEmbeddedPostgres({ dataDir: replicaDir });
  servers.push(replica);
  const primaryUrl = databaseUrl(primary.url, 'gridgov');
  const replicaUrl = databaseUrl(replica.url, 'gridgov');
  assert.equal(await scalar<boolean>(replicaUrl, 'SELECT pg_is_in_recovery()'), true, 'the replica is a standby');
  assert.equal(
    await scalar<string>(primaryUrl, "SELECT state FROM pg_stat_replication WHERE application_name = 'gridgov-standby'"),
    'streaming',
  );

  const v = await spawnValidator(primaryUrl, { DATABASE_READ_URL: replicaUrl });
  try {
    for (let i = 0; i < 20; i++) {
      const reply = await http(v.url, 'POST', '/execute', {
        proposal_id: randomUUID(),
        actor_from: 'alice',
        actor_to: 'bob',
        resource: 'water',
        amount: 1,
      });
      assert.equal(reply.status, 200, 'writes reach the primary');
    }
    assert.equal(
      (await http(v.url, 'POST', '/admin/balance', { actor_id: 'carol', resource: 'energy', amount: 55 }, bearer(ADMIN_KEY))).status,
      200,
    );
    // Wait until the standby has replayed everything the primary wrote.
    const target = await scalar<string>(primaryUrl, 'SELECT pg_current_wal_lsn()::text');
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      const caughtUp = await scalar<boolean>(replicaUrl, `SELECT pg_last_wal_replay_lsn() >= '${target}'::pg_lsn`);
      if (caughtUp) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const served = await http(v.url, 'GET', '/world-state');
    const primaryDb = createDb(primaryUrl, { max: 1 });
    const truth = await getWorldState(primaryDb);
    await primaryDb.close();
    assert.deepEqual({ ...served.body, timestamp: null }, { ...truth, timestamp: null }, "the replica serves the primary's state");
    const ledger = await http(v.url, 'GET', '/ledger?limit=500');
    assert.equal(ledger.body.entries.length, truth.ledger_head);
    assert.equal((await http(v.url, 'GET', '/admin/audit?limit=5', undefined, bearer(ADMIN_KEY))).status, 200);
    const readers = await scalar<number>(replicaUrl, "SELECT count(*)::int FROM pg_stat_activity WHERE application_name = 'gridgov-read'");
    assert.ok(readers > 0, 'reads went to the replica');
    const strays = await scalar<number>(primaryUrl, "SELECT count(*)::int FROM pg_stat_activity WHERE application_name = 'gridgov-read'");
    assert.equal(strays, 0, 'the read pool never connects to the primary');
    assert.equal((await http(v.url, 'GET', '/health')).status, 200, 'health checks the primary');
  } finally {
    v.child.kill('SIGTERM');
    await v.exited;
  }
});
