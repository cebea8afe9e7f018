import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { createDb, type Db } from '../../src/db/db.ts';
import { raiseFence } from '../../src/ledger/integrity/fence.ts';
import { databaseUrl, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { parseProposal } from '../../src/domain/proposal.ts';
import { createActorDirectory } from '../../src/ledger/writing/actors.ts';
import { createExecutor, type ExecuteOutcome } from '../../src/ledger/writing/execute.ts';
import { createGroupCommitter } from '../../src/ledger/writing/group-commit.ts';
import { invariantViolations } from '../support/invariants.ts';
import { makeProposals } from '../support/load.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { startStockPostgres, testServerKind } from '../support/stock-postgres.ts';
import { waitUntil } from '../support/wait.ts';

// record_proposals commits without waiting for the WAL flush, so that replicas' groups on the
// same balances do not queue behind each other's fsync; an outcome is answered only once a
// later flush covers it. A crash of the server (one backend killed: PostgreSQL drops its shared
// memory, unflushed WAL included, and recovers from disk) must therefore lose no answered outcome.
// The server is one of the test's own, of the kind the run uses (stock or embedded): the shared
// one serves other test files, and a server given by TEST_DATABASE_URL is not ours to crash.

const root = mkdtempSync(join(tmpdir(), 'gridgov-durable-'));
chmodSync(root, 0o755); // the postgres user must reach the cluster inside
let server: Pick<EmbeddedPostgres, 'url' | 'stop'> | undefined;
const pools: Db[] = [];
after(async () => {
  for (const db of pools) await db.close().catch(() => undefined);
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

async function connects(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A new migrated database on the test's own server (started on first use); a superuser's URL. */
async function freshDatabase(name: string): Promise<{ url: string; setup: Db }> {
  server ??=
    testServerKind() === 'stock'
      ? await startStockPostgres({ dir: join(root, 'stock') })
      : await startEmbeddedPostgres({ dataDir: join(root, 'pg') });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = databaseUrl(server.url, name);
  const setup = createDb(url, { max: 2 });
  pools.push(setup);
  await migrate(setup);
  return { url, setup };
}

/**
 * Kills one backend: PostgreSQL drops its shared memory, unflushed WAL included, and recovers from
 * disk. Resolves once the kill is sent, with the crash (the postmaster ending the other backends)
 * and the recovery to wait for.
 */
async function crash(url: string, pid: number): Promise<{ crashed: Promise<void>; recovered: Promise<void> }> {
  // A witness connection: the postmaster ends it once it has seen the backend die.
  const witness = new pg.Client({ connectionString: url });
  await witness.connect();
  const ended = new Promise<void>((resolve) => {
    witness.on('error', () => resolve());
    witness.on('end', resolve);
  });
  process.kill(pid, 'SIGKILL');
  const recovered = ended.then(() =>
    waitUntil(() => connects(url), 'the server accepts connections again after crash recovery', { timeoutMs: 120_000 }),
  );
  return { crashed: ended, recovered };
}

test('a server crash under load from two replicas loses no outcome that was answered', async () => {
  const { url, setup } = await freshDatabase('gridgov');
  await seedTestScenario(setup);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();

  const replicas = [0, 1].map(() => {
    const db = createDb(url, { max: 4 });
    pools.push(db);
    const record = createExecutor({ db, actors: createActorDirectory(db), validatorVersion: 'test', topics: [] });
    return createGroupCommitter(record, { maxGroup: 64, lanes: 1 });
  });
  const proposals = makeProposals(20_000, ['alice', 'bob', 'carol', 'dave'], ['energy', 'water', 'credits'], 5);
  const answered: Array<{ id: string; outcome: ExecuteOutcome }> = [];
  let failures = 0;
  let next = 0;
  let stop = false;
  const clients = Array.from({ length: 16 }, async (_, client) => {
    while (!stop && next < proposals.length) {
      const body = proposals[next++]!.body;
      const parsed = parseProposal(body);
      if (!parsed.ok) throw new Error(parsed.message);
      try {
        const outcome = await replicas[client % 2]!.execute({ proposal: parsed.proposal, raw: body, caller: { key: null, name: 'test' } });
        answered.push({ id: body.proposal_id as string, outcome });
      } catch {
        failures++;
        return; // the server is gone: this client stops, as one would until it came back
      }
    }
  });

  // Crash once a good number of outcomes has been answered, while every client still has one in flight.
  await waitUntil(() => answered.length >= 400, '400 outcomes answered under load', { timeoutMs: 120_000 });
  const { rows } = await admin.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = 'gridgov' AND backend_type = 'client backend' AND pid <> pg_backend_pid() LIMIT 1",
  );
  await admin.end();
  const { crashed, recovered } = await crash(url, rows[0]!.pid);
  // The clients go on until the crash has ended the other backends: the calls they have in flight
  // then, or send after, fail.
  await crashed;
  stop = true;
  await Promise.all(clients);
  await recovered;
  assert.ok(failures > 0, 'the crash interrupted requests in flight');

  const check = createDb(url, { max: 2 });
  pools.push(check);
  const applied = answered.filter((a) => a.outcome.status === 'applied');
  const rejected = answered.filter((a) => a.outcome.status === 'rejected');
  const ledger = await check.query<{ proposal_id: string; ids: number[] }>(
    'SELECT proposal_id::text, array_agg(id ORDER BY leg) AS ids FROM ledger WHERE proposal_id = ANY($1::uuid[]) GROUP BY proposal_id',
    [applied.map((a) => a.id)],
  );
  const recorded = new Map(ledger.rows.map((r) => [r.proposal_id, r.ids.map(Number)]));
  const lost = applied.filter((a) => !recorded.has(a.id));
  assert.deepEqual(
    lost.map((a) => a.id),
    [],
    `${lost.length} of ${applied.length} applied outcomes answered before the crash are missing from the ledger`,
  );
  for (const { id, outcome } of applied) assert.deepEqual(recorded.get(id), outcome.status === 'applied' && outcome.ledger_ids, id);
  const rejections = await check.query<{ proposal_id: string }>(
    'SELECT proposal_id::text FROM rejected_proposals WHERE proposal_id = ANY($1::uuid[])',
    [rejected.map((a) => a.id)],
  );
  assert.equal(rejections.rowCount, new Set(rejected.map((a) => a.id)).size, 'every answered rejection is recorded');
  assert.deepEqual(await invariantViolations(check), []);
});

// The drift verifier and the chain sealer work up to a fence's horizon. After a crash the ledger's
// sequence resumes from its last advance that reached disk, so a horizon read before the crash
// must not cover ids the sequence can hand out again: a trade written after the crash with such an
// id would be left out of the verifier's base for good, and show as drift. The WAL writer is slowed
// down so that nothing but the fence itself flushes the sequence's advance.
test('ids at or below a fence are never handed out again after a crash', async () => {
  const { url, setup } = await freshDatabase('fence');
  const superuser = new pg.Client({ connectionString: url });
  await superuser.connect();
  await superuser.query("ALTER SYSTEM SET wal_writer_delay = '10s'");
  await superuser.query('ALTER SYSTEM SET autovacuum = off');
  await superuser.query('SELECT pg_reload_conf()');

  // A writer takes ids (each advance past the 32 logged ahead writes a WAL record) and is still open.
  const writer = new pg.Client({ connectionString: url });
  writer.on('error', () => undefined);
  superuser.on('error', () => undefined);
  await writer.connect();
  await writer.query('BEGIN');
  const taken = await writer.query<{ id: string }>("SELECT max(nextval('ledger_id_seq')) AS id FROM generate_series(1, 100)");
  const fence = await raiseFence(setup);
  assert.ok(fence.through >= Number(taken.rows[0]!.id), 'the fence covers the ids taken');

  const pid = (await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const { recovered } = await crash(url, pid);
  await recovered;
  await Promise.all([writer.end().catch(() => undefined), superuser.end().catch(() => undefined)]);

  const after = createDb(url, { max: 1 });
  pools.push(after);
  for (const sql of ['ALTER SYSTEM RESET wal_writer_delay', 'ALTER SYSTEM RESET autovacuum', 'SELECT pg_reload_conf()'])
    await after.query(sql);
  const next = Number((await after.query<{ id: string }>("SELECT nextval('ledger_id_seq')::text AS id")).rows[0]!.id);
  assert.ok(
    next > fence.through,
    `the sequence handed out ${next} again after the crash, at or below the fence's horizon ${fence.through}`,
  );
});
