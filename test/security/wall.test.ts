import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createDb } from '../../src/db/db.ts';
import { databaseUrl } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { actorIdFor } from '../../src/domain/ids.ts';
import { ErrorCode } from '../../src/domain/errors.ts';
import { createApiKey, registeredExecuteAuth } from '../../src/governance/keys.ts';
import { checkExecuteAuth, WallError } from '../../src/governance/wall.ts';
import { pino } from 'pino';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { waitUntil } from '../support/wait.ts';

/**
 * The attacks a red team made holding only the validator's database login, each refused: no key
 * moves nothing the API would refuse, no name resolves to an object the login planted, the sealing
 * horizon is the database's own, the login cannot lock others out, and the side channels (outbox,
 * audit) change only through the dispatcher's and the API's own transitions.
 */

let t: TestDatabase;
const login = `t_wall_${randomBytes(4).toString('hex')}`;
const password = randomBytes(12).toString('hex');
let app: pg.Client;
const alice = actorIdFor('alice');
const bob = actorIdFor('bob');
const carol = actorIdFor('carol');
const DENIED = /permission denied/;

function loginUrl(url: string): string {
  const u = new URL(url);
  u.username = login;
  u.password = password;
  return u.toString();
}

async function connectAsApp(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: loginUrl(url) });
  await client.connect();
  return client;
}

before(async () => {
  t = await createTestDatabase(4);
  await seedTestScenario(t.db);
  await t.db.query(`CREATE ROLE ${login} LOGIN PASSWORD '${password}' IN ROLE gridgov_app`);
  app = await connectAsApp(t.url);
});
after(async () => {
  await app?.end();
  await t.db.query(`DROP ROLE IF EXISTS ${login}`);
  await t.drop();
});

/** record_proposals as the attacker calls it: one proposal, its legs, the topics given. */
function proposal(
  key: string | null,
  legs: Array<[string, string, string, number]>,
  topics = "ARRAY['linear','discord'], ARRAY[true,true]",
  caller = 'alice-oncall',
) {
  const id = randomUUID();
  const legRows = legs
    .map(([from, to, resource, amount], i) => `ROW(1, ${i}, '${from}', '${to}', 'f', 't', '${resource}', ${amount})::proposal_leg_spec`)
    .join(', ');
  return {
    id,
    sql: `SELECT * FROM record_proposals(ARRAY[ROW('${id}', $1, '${caller}', 'c${id}', '{}'::jsonb, NULL)::proposal_spec],
                                         ARRAY[${legRows}], ${topics}, 'rt')`,
    params: [key],
  };
}

async function balance(actor: string, resource: string): Promise<string> {
  const { rows } = await t.db.query<{ amount: string }>('SELECT amount::text FROM balances WHERE actor_id = $1 AND resource = $2', [
    actor,
    resource,
  ]);
  return rows[0]!.amount;
}

test('without a key, a proposal moves nothing when execute auth is required', async () => {
  await t.db.query("UPDATE wall_settings SET execute_auth = 'required'");
  try {
    const before = await balance(alice, 'credits');
    const p = proposal(null, [[alice, bob, 'credits', 40]]);
    await assert.rejects(app.query(p.sql, p.params), /an API key is required to propose/);
    const viewer = (await createApiKey(t.db, 'wall-viewer', 'viewer')).key;
    const q = proposal(viewer, [[alice, bob, 'credits', 40]]);
    await assert.rejects(app.query(q.sql, q.params), { code: 'GG011' });
    assert.equal(await balance(alice, 'credits'), before);
    // The login cannot change the mode it is held to.
    await assert.rejects(app.query("UPDATE wall_settings SET execute_auth = 'open'"), DENIED);
  } finally {
    await t.db.query("UPDATE wall_settings SET execute_auth = 'open'");
  }
});

test("a validator whose login cannot register its execute auth mode refuses to start while the database's differs", async () => {
  const appDb = createDb(loginUrl(t.url), { max: 1 });
  const logger = pino({ level: 'silent' });
  try {
    await assert.rejects(
      checkExecuteAuth(appDb, 'required', logger),
      (e: unknown) => e instanceof WallError && /still records proposals without a key/.test(e.message),
    );
    await checkExecuteAuth(appDb, 'open', logger);
    // The owner's start registers its mode; then a validator configured otherwise is refused too.
    await checkExecuteAuth(t.db, 'required', logger);
    assert.equal(await registeredExecuteAuth(t.db), 'required');
    await assert.rejects(
      checkExecuteAuth(appDb, 'open', logger),
      (e: unknown) => e instanceof WallError && /GRIDGOV_EXECUTE_AUTH is open here/.test(e.message),
    );
    await checkExecuteAuth(appDb, 'required', logger);
  } finally {
    await t.db.query("UPDATE wall_settings SET execute_auth = 'open'");
    await appDb.close();
  }
});

test('debiting several traders needs a key that may debit each; without one, only where execute auth is open', async () => {
  const swap = (key: string | null) =>
    proposal(key, [
      [alice, carol, 'credits', 5],
      [bob, carol, 'credits', 5],
    ]);
  const agent = (await createApiKey(t.db, 'wall-agent', 'agent', 'alice')).key;
  const byAgent = swap(agent);
  const { rows } = await app.query(byAgent.sql, byAgent.params);
  assert.deepEqual([rows[0].outcome, rows[0].error_code], ['rejected', 'FORBIDDEN_ACTOR']);
  const operator = (await createApiKey(t.db, 'wall-operator', 'operator')).key;
  const byOperator = swap(operator);
  assert.equal((await app.query(byOperator.sql, byOperator.params)).rows[0].outcome, 'applied');
  const one = swap(null);
  assert.equal((await app.query(one.sql, one.params)).rows[0].outcome, 'applied');
  // An idempotency conflict is audited under the name the key proves, not the caller field.
  const again = proposal(null, [[alice, bob, 'credits', 6]], undefined, 'alice-oncall');
  const sql = again.sql.replace(/'[0-9a-f-]{36}'/, `'${one.id}'`);
  assert.equal((await app.query(sql, again.params)).rows[0].outcome, 'conflict');
  const audit = await t.db.query<{ admin_user: string }>(
    "SELECT admin_user FROM admin_audit WHERE action = 'execute' ORDER BY id DESC LIMIT 1",
  );
  assert.equal(audit.rows[0]!.admin_user, 'anonymous');
});

test('every rejection gets one outbox row per known topic, and no unknown topic', async () => {
  const none = proposal(null, [[alice, bob, 'credits', 1e8]], "'{}'::text[], '{}'::boolean[]");
  const { rows } = await app.query(none.sql, none.params);
  assert.equal(rows[0].outcome, 'rejected');
  const outbox = await t.db.query<{ topic: string; status: string }>(
    "SELECT topic, status FROM outbox WHERE payload->>'proposal_id' = $1 ORDER BY topic",
    [none.id],
  );
  assert.deepEqual(
    outbox.rows.map((r) => [r.topic, r.status]),
    [
      ['discord', 'skipped'],
      ['linear', 'skipped'],
    ],
  );
  const odd = proposal(null, [[alice, bob, 'credits', 1e8]], "ARRAY['x\" } 1e9 # label'], ARRAY[true]");
  await assert.rejects(app.query(odd.sql, odd.params), { code: 'GG002', message: /topics: each must be one of discord, linear/ });
});

test('the outbox changes only through the dispatcher transitions, and pruning keeps what was never delivered', async () => {
  const p = proposal(null, [[alice, bob, 'credits', 1e8]]);
  await app.query(p.sql, p.params);
  await assert.rejects(app.query("UPDATE outbox SET status = 'delivered', updated_at = now() - interval '400 days'"), DENIED);
  await assert.rejects(app.query('DELETE FROM outbox'), DENIED);
  const pending = async () =>
    Number((await t.db.query<{ n: string }>("SELECT count(*) AS n FROM outbox WHERE status = 'pending'")).rows[0]!.n);
  const before = await pending();
  assert.ok(before >= 2);
  await app.query('SELECT prune_outbox(1, 100000)');
  assert.equal(await pending(), before);
  // A claim counts the attempt; only that attempt may settle the row, and the clock is the database's.
  const claimed = await app.query('SELECT id, attempts FROM outbox_claim(1000, 60000)');
  const row = claimed.rows[0];
  assert.equal(
    (await app.query("SELECT outbox_settle($1, $2, 'delivered', '{}', NULL, NULL) AS ok", [row.id, row.attempts + 1])).rows[0].ok,
    false,
  );
  assert.equal(
    (await app.query("SELECT outbox_settle($1, $2, 'delivered', '{}', NULL, NULL) AS ok", [row.id, row.attempts])).rows[0].ok,
    true,
  );
  await assert.rejects(
    app.query("SELECT outbox_settle($1, $2, 'pending', NULL, NULL, NULL)", [row.id, row.attempts]),
    /outcome: delivered, retry or dead/,
  );
  await app.query('SELECT prune_outbox(1, 100000)');
  const gone = await t.db.query('SELECT 1 FROM outbox WHERE id = $1', [row.id]);
  assert.equal(gone.rowCount, 1, 'delivered a moment ago: kept for the retention period');
});

test('the login cannot take advisory locks, signal sessions, plant functions or lock money rows', async () => {
  const refused: Array<[string, string]> = [
    ['an advisory lock', 'SELECT pg_advisory_lock(4711000012)'],
    ['a try-lock', 'SELECT pg_try_advisory_lock(1)'],
    ['a transaction lock', 'SELECT pg_advisory_xact_lock(1)'],
    ['a shared lock', 'SELECT pg_advisory_lock_shared(1, 2)'],
    ['ending a session', 'SELECT pg_terminate_backend(pg_backend_pid())'],
    ['cancelling a query', 'SELECT pg_cancel_backend(pg_backend_pid())'],
    ['locking every balance', 'SELECT * FROM balances FOR UPDATE'],
    ['a function in public', 'CREATE FUNCTION public.convert_to(text, text) RETURNS bytea LANGUAGE sql AS $$ SELECT NULL::bytea $$'],
  ];
  for (const [what, sql] of refused) await assert.rejects(app.query(sql), DENIED, what);
});

/** A session of the login that has recorded a trade over these legs and keeps its transaction open. */
async function holdingLocks(legs: Array<[string, string, string, number]>): Promise<pg.Client> {
  const holder = await connectAsApp(t.url);
  holder.on('error', () => undefined);
  await holder.query('BEGIN');
  const p = proposal(null, legs);
  await holder.query(p.sql, p.params);
  return holder;
}

/** Asks the database to end stalled sessions until it has ended one. */
async function untilOneEnded(what: string): Promise<void> {
  let ended = 0;
  await waitUntil(async () => {
    ended += (await app.query('SELECT end_stalled_sessions(1000) AS n')).rows[0].n;
    return ended > 0;
  }, what);
}

test('a session left idle in a transaction is ended by the database, freeing what it locked', async () => {
  const stalled = await holdingLocks([[alice, bob, 'credits', 1]]);
  await untilOneEnded('the stalled session ended');
  await assert.rejects(stalled.query('COMMIT'));
  await stalled.end().catch(() => undefined);
  // Its balance rows are free again: a trade over them goes through.
  const q = proposal(null, [[alice, bob, 'credits', 1]]);
  assert.equal((await app.query(q.sql, q.params)).rows[0].outcome, 'applied');
});

test('a session sleeping in a transaction while others wait on its locks is ended too', async () => {
  const sleeper = await holdingLocks([[carol, alice, 'energy', 1]]);
  const sleeping = sleeper.query('SELECT pg_sleep(600)').catch((error: unknown) => error);
  const waiter = await connectAsApp(t.url);
  try {
    const q = proposal(null, [[carol, alice, 'energy', 1]]);
    const waiting = waiter.query(q.sql, q.params);
    await untilOneEnded('the sleeping session ended');
    assert.ok((await sleeping) instanceof Error);
    assert.equal((await waiting).rows[0].outcome, 'applied');
  } finally {
    await waiter.end();
    await sleeper.end().catch(() => undefined);
  }
});

test('a seal cannot pass a transaction still in flight, whatever horizon the caller names', async () => {
  const inflight = await connectAsApp(t.url);
  try {
    await inflight.query('BEGIN');
    const first = proposal(null, [[alice, bob, 'credits', 1]]);
    const late = (await inflight.query(first.sql, first.params)).rows[0].ledger_ids.map(Number)[0];
    const second = proposal(null, [[carol, bob, 'water', 1]]);
    await app.query(second.sql, second.params);
    const sealed = await app.query(
      "SELECT sealed_through FROM chain_seal(pg_sequence_last_value('ledger_id_seq'::regclass), 1000, 100000, true)",
    );
    assert.ok(Number(sealed.rows[0].sealed_through) < late, `sealed through ${sealed.rows[0].sealed_through}, past the open id ${late}`);
    await assert.rejects(
      app.query("SELECT checkpoint_make(pg_sequence_last_value('ledger_id_seq'::regclass), 'manual')"),
      /not settled yet/,
    );
    await inflight.query('COMMIT');
  } finally {
    await inflight.end();
  }
  // Once it has committed, the horizon passes it, and every block agrees with the ledger.
  await waitUntil(async () => {
    const { rows } = await app.query(
      "SELECT sealed_through FROM chain_seal(pg_sequence_last_value('ledger_id_seq'::regclass), 1000, 100000, true)",
    );
    const head = await t.db.query<{ last: string }>("SELECT pg_sequence_last_value('ledger_id_seq'::regclass)::text AS last");
    return Number(rows[0].sealed_through) >= Number(head.rows[0]!.last);
  }, 'the seal caught up with the ledger');
  const check = await t.db.query<{ c: { break: unknown } }>('SELECT chain_check(1, 1000000) AS c');
  assert.equal(check.rows[0]!.c.break, null);
});

test('audit refusals carry a registered error code, and the registry and the database agree on them', async () => {
  await assert.rejects(app.query("SELECT audit_denied(NULL, 'admin.balance', '{}', 'APPLIED')"), /registered error code/);
  const { rows } = await t.db.query<{ code: string }>('SELECT code FROM error_codes ORDER BY code');
  assert.deepEqual(
    rows.map((r) => r.code),
    Object.values(ErrorCode).sort(),
  );
});

test('every function of the schema resolves names with pg_catalog first and pg_temp last', async () => {
  const { rows } = await t.db.query<{ fn: string; config: string[] | null }>(
    `SELECT p.oid::regprocedure::text AS fn, p.proconfig AS config FROM pg_proc p
      WHERE p.pronamespace = 'public'::regnamespace
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')`,
  );
  assert.ok(rows.length > 30);
  const unpinned = rows.filter((r) => !(r.config ?? []).includes('search_path=pg_catalog, public, pg_temp')).map((r) => r.fn);
  assert.deepEqual(unpinned, []);
});

test('on a database where PUBLIC may create in public, migrating takes it back and the hijack finds nowhere to stand', async () => {
  const name = `t_wall_open_${randomBytes(4).toString('hex')}`;
  await t.db.query(`CREATE DATABASE ${name} TEMPLATE template0`);
  const url = databaseUrl(process.env.TEST_PG_URL!, name);
  const owner = createDb(url, { max: 2 });
  let attacker: pg.Client | undefined;
  try {
    // As PostgreSQL 14 and older create it, and clusters upgraded from them keep it.
    await owner.query('GRANT CREATE ON SCHEMA public TO PUBLIC');
    await migrate(owner);
    await seedTestScenario(owner);
    attacker = await connectAsApp(url);
    await assert.rejects(
      attacker.query('CREATE FUNCTION public.convert_to(text, text) RETURNS bytea LANGUAGE sql AS $$ SELECT NULL::bytea $$'),
      DENIED,
    );
    // Nor a temporary table that would stand in for one of ours (database rights are not cloned
    // with a template, so this is checked on the database migrated here).
    await assert.rejects(attacker.query("CREATE TEMP TABLE actors AS SELECT id, 'system'::text AS kind FROM public.actors"), DENIED);
    // Nothing of the login's own stands in the schema, so every definer function's names are the owner's.
    const open = await owner.query<{ who: string }>(
      `SELECT r.rolname AS who FROM pg_roles r
        WHERE has_schema_privilege(r.oid, 'public', 'CREATE') AND NOT r.rolsuper AND r.rolname NOT LIKE 'pg\\_%'
          AND r.oid <> (SELECT nspowner FROM pg_namespace WHERE nspname = 'public')`,
    );
    assert.deepEqual(open.rows, []);
  } finally {
    await attacker?.end();
    await owner.close();
    await t.db.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
});
