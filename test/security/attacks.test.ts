import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { actorIdFor, WORLD_ACTOR_ID } from '../../src/domain/ids.ts';
import { hashKey } from '../../src/governance/auth.ts';
import { createApiKey, revokeApiKey } from '../../src/governance/keys.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario } from '../support/scenario.ts';

/**
 * The database wall: a session holding only the validator's login (a LOGIN member of gridgov_app)
 * and no admin or system key tries everything that would move money, mint, make a key, forge or
 * silence a verdict, the tamper flag or the audit, or change the limits or the breaker. Every
 * attempt is refused, and afterwards the ledger, the balances and the audit are as they were.
 */

let t: TestDatabase;
const login = `t_app_${randomBytes(4).toString('hex')}`;
const password = randomBytes(12).toString('hex');
let app: pg.Client;
const keys: Record<'viewer' | 'operator' | 'admin' | 'revoked' | 'system', string> = {
  viewer: '',
  operator: '',
  admin: '',
  revoked: '',
  system: '',
};
const alice = actorIdFor('alice');
const bob = actorIdFor('bob');

before(async () => {
  t = await createTestDatabase(4);
  await seedTestScenario(t.db);
  for (const role of ['viewer', 'operator', 'admin', 'system'] as const) keys[role] = (await createApiKey(t.db, `wall-${role}`, role)).key;
  keys.revoked = (await createApiKey(t.db, 'wall-revoked', 'admin')).key;
  await revokeApiKey(t.db, 'wall-revoked');
  await t.db.query(`CREATE ROLE ${login} LOGIN PASSWORD '${password}' IN ROLE gridgov_app`);
  const url = new URL(t.url);
  url.username = login;
  url.password = password;
  app = new pg.Client({ connectionString: url.toString() });
  await app.connect();
});
after(async () => {
  await app?.end();
  await t.db.query(`DROP ROLE IF EXISTS ${login}`);
  await t.drop();
});

/** What must not change: every ledger row, every balance, the audit, the keys, limits and breaker. */
async function fingerprint(): Promise<string> {
  const { rows } = await t.db.query<{ f: string }>(
    `SELECT concat_ws('|',
       (SELECT count(*) || ':' || coalesce(max(id), 0) FROM ledger),
       (SELECT string_agg(actor_id || resource || amount || is_world, ',' ORDER BY actor_id, resource) FROM balances),
       (SELECT count(*) FROM admin_audit WHERE outcome = 'applied'),
       (SELECT string_agg(name || role || coalesce(revoked_at::text, '-'), ',' ORDER BY name) FROM api_keys),
       (SELECT count(*) FROM bootstrap_key),
       (SELECT string_agg(coalesce(resource, '*') || coalesce(max_transfer::text, '-') || min_balance, ',' ORDER BY resource) FROM constraints),
       (SELECT breaker_on || coalesce(reason, '-') FROM control),
       (SELECT count(*) FROM checkpoints), (SELECT count(*) FROM ledger_blocks),
       (SELECT coalesce(broken::text, '-') FROM chain_state), (SELECT count(*) FROM verifier_status),
       (SELECT count(*) FROM actors), (SELECT count(*) FROM resources), (SELECT count(*) FROM rejected_proposals)) AS f`,
  );
  return rows[0]!.f;
}

const mint = (fn: string) =>
  `SELECT * FROM ${fn}(ARRAY['${randomUUID()}']::uuid[], ARRAY[0]::smallint[], ARRAY['adjustment'], ARRAY['${WORLD_ACTOR_ID}']::uuid[],
     ARRAY['${alice}']::uuid[], ARRAY['credits'], ARRAY[999999]::numeric[], ARRAY['{}']::jsonb[], 'x', false)`;
const entry = (e: Partial<Record<string, unknown>>) =>
  JSON.stringify([
    {
      proposal_id: randomUUID(),
      leg: 0,
      kind: 'production',
      actor_from: WORLD_ACTOR_ID,
      actor_to: alice,
      resource: 'energy',
      amount: '5',
      metadata: {},
      ...e,
    },
  ]);

const DENIED = /permission denied/;
const UNKNOWN_KEY = /unknown API key/;

/** [what is tried, SQL, parameters, the refusal expected] */
const attacks = (): Array<[string, string, unknown[], RegExp]> => [
  [
    'insert a key and use it as admin',
    "INSERT INTO api_keys (id, name, role, key_hash) VALUES ($1, 'mine', 'admin', $2)",
    [randomUUID(), hashKey('mine')],
    DENIED,
  ],
  ['revive a revoked key', "UPDATE api_keys SET revoked_at = NULL WHERE name = 'wall-revoked'", [], DENIED],
  ['elevate a key', "UPDATE api_keys SET role = 'admin' WHERE name = 'wall-viewer'", [], DENIED],
  ['delete a key', 'DELETE FROM api_keys', [], DENIED],
  ['register a bootstrap key', 'INSERT INTO bootstrap_key (key_hash) VALUES ($1)', [hashKey('mine')], DENIED],
  ['read the bootstrap key hash', 'SELECT key_hash FROM bootstrap_key', [], DENIED],
  ['mint through ledger_append', mint('ledger_append'), [], DENIED],
  [
    'insert a ledger row',
    `INSERT INTO ledger (proposal_id, leg, kind, actor_from, actor_to, resource, amount, validator_version)
     VALUES ($1, 0, 'adjustment', $2, $3, 'credits', 999999, 'x')`,
    [randomUUID(), WORLD_ACTOR_ID, alice],
    DENIED,
  ],
  ['rewrite a ledger row', 'UPDATE ledger SET amount = amount + 1', [], DENIED],
  ['delete ledger rows', 'DELETE FROM ledger', [], DENIED],
  ['raise a balance', 'UPDATE balances SET amount = 999999 WHERE actor_id = $1', [alice], DENIED],
  ['insert a funded balance row', "INSERT INTO balances (actor_id, resource, amount) VALUES ($1, 'nothing', 999999)", [alice], DENIED],
  ['delete balances', 'DELETE FROM balances', [], DENIED],
  [
    'insert a rejection',
    "INSERT INTO rejected_proposals (proposal_id, validation_error_code, message, proposal_json, canonical, validator_version) VALUES ($1, 'X', 'x', '{}', 'x', 'x')",
    [randomUUID()],
    DENIED,
  ],
  ['rewrite a rejection', "UPDATE rejected_proposals SET message = 'x'", [], DENIED],
  ['delete rejections', 'DELETE FROM rejected_proposals', [], DENIED],
  ['forge an audit row', "INSERT INTO admin_audit (admin_user, action, outcome) VALUES ('alice', 'admin.balance', 'applied')", [], DENIED],
  ['rewrite the audit', "UPDATE admin_audit SET outcome = 'applied'", [], DENIED],
  ['delete the audit', 'DELETE FROM admin_audit', [], DENIED],
  [
    'forge an applied row through audit_denied',
    "SELECT audit_denied(NULL, 'admin.balance', '{}', 'applied')",
    [],
    /outcome: a refusal is recorded with a registered error code/,
  ],
  [
    'write a verdict',
    "INSERT INTO verifier_status (id, ok, settled_through, base_id, tail_entries, checked_at, duration_ms, verifier) VALUES (1, true, 0, 0, 0, now(), 0, 'x') ON CONFLICT (id) DO UPDATE SET ok = true",
    [],
    DENIED,
  ],
  ['rewrite the verdict', 'UPDATE verifier_status SET ok = true, checked_at = now()', [], DENIED],
  ["move the verifier's base", 'UPDATE verifier_base SET amount = amount + 7', [], DENIED],
  ["add to the verifier's base", "INSERT INTO verifier_base (actor_id, resource, amount) VALUES ($1, 'energy', 7)", [bob], DENIED],
  [
    "move the verifier's base id",
    'INSERT INTO verifier_base_head (id, base_id) VALUES (1, 999999) ON CONFLICT (id) DO UPDATE SET base_id = 999999',
    [],
    DENIED,
  ],
  ['clear the tamper flag', 'UPDATE chain_state SET broken = NULL', [], DENIED],
  ['record a chain check', 'SELECT chain_record(1, 1, \'{"break": null}\', 1, true)', [], DENIED],
  [
    'seal a forged block',
    "INSERT INTO ledger_blocks (block_no, first_id, last_id, row_count, row_ids, row_fingerprints, content_hash, prev_hash, hash) VALUES (999, 1, 1, 1, '{1}', '\\x00', '\\x00', '\\x00', '\\x00')",
    [],
    DENIED,
  ],
  ['forge a checkpoint', "INSERT INTO checkpoints (ledger_id, balances_digest, supply) VALUES (999999, 'x', '{}')", [], DENIED],
  [
    'forge checkpoint rows',
    'INSERT INTO checkpoint_balances (ledger_id, actor_id, resource, amount, last_ledger_id) VALUES (1, $1, $2, 1, 1)',
    [alice, 'energy'],
    DENIED,
  ],
  ['finish a forged checkpoint', "SELECT checkpoint_finish(1, 0, 'manual')", [], DENIED],
  ['lift a limit', 'UPDATE constraints SET max_transfer = NULL, min_balance = 0', [], DENIED],
  ['add a limit', "INSERT INTO constraints (resource, max_transfer, min_balance) VALUES ('energy', 1e9, 0)", [], DENIED],
  ['open the breaker', "UPDATE control SET breaker_on = true, reason = 'x'", [], DENIED],
  ['create an actor', "INSERT INTO actors (id, name, kind) VALUES ($1, 'mallory', 'node')", [randomUUID()], DENIED],
  ['create a resource', "INSERT INTO resources (name) VALUES ('gold')", [], DENIED],
  ['rewrite a scenario', "UPDATE scenarios SET definition = '{}'", [], DENIED],
  ['look a key up', 'SELECT * FROM key_caller($1)', [keys.admin], DENIED],
  ['check a key by hand', "SELECT require_key($1, 'admin')", [keys.admin], DENIED],
  ['append system entries unchecked', "SELECT * FROM system_entries_append(ARRAY[]::system_entry[], 'x')", [], DENIED],
  [
    'set a balance with a junk key',
    "SELECT admin_set_balance('junk', 'admin.balance', $1, 'credits', 999999, '{}', 'x')",
    [alice],
    UNKNOWN_KEY,
  ],
  ['set a balance with no key', "SELECT admin_set_balance(NULL, 'admin.balance', $1, 'credits', 999999, '{}', 'x')", [alice], UNKNOWN_KEY],
  [
    'set a balance with a revoked admin key',
    "SELECT admin_set_balance($2, 'admin.balance', $1, 'credits', 999999, '{}', 'x')",
    [alice, keys.revoked],
    /revoked/,
  ],
  [
    'set a balance with an operator key',
    "SELECT admin_set_balance($2, 'admin.balance', $1, 'credits', 999999, '{}', 'x')",
    [alice, keys.operator],
    /needs the admin role/,
  ],
  [
    'set a balance with a system key',
    "SELECT admin_set_balance($2, 'admin.balance', $1, 'credits', 999999, '{}', 'x')",
    [alice, keys.system],
    /needs the admin role/,
  ],
  [
    'reset credit with a viewer key',
    "SELECT admin_set_balance($2, 'admin.reset_credit', $1, 'credits', 999999, '{}', 'x')",
    [alice, keys.viewer],
    /needs the admin role/,
  ],
  ['open the breaker with a junk key', "SELECT admin_set_breaker('junk', true, 'x', '{}')", [], UNKNOWN_KEY],
  ['open the breaker with a viewer key', "SELECT admin_set_breaker($1, true, 'x', '{}')", [keys.viewer], /needs the operator role/],
  ['open the breaker with a revoked key', "SELECT admin_set_breaker($1, true, 'x', '{}')", [keys.revoked], /revoked/],
  ['settle with a junk key', "SELECT * FROM settle_entries('junk', $1, 'x')", [entry({})], UNKNOWN_KEY],
  ['settle with an admin key', 'SELECT * FROM settle_entries($2, $1, $3)', [entry({}), keys.admin, 'x'], /needs the system role/],
  ['settle with a revoked key', 'SELECT * FROM settle_entries($2, $1, $3)', [entry({}), keys.revoked, 'x'], /revoked/],
  [
    'seed (and set the limits) with a junk key',
    "SELECT * FROM seed_scenario('junk', 'x', '{}', '[]', $1, '[]', '[]', 'x')",
    ['[{"resource": null, "max_transfer": null, "min_balance": 0}]'],
    UNKNOWN_KEY,
  ],
  [
    'seed with an operator key',
    "SELECT * FROM seed_scenario($2, 'x', '{}', '[]', $1, '[]', '[]', 'x')",
    ['[{"resource": null, "max_transfer": null, "min_balance": 0}]', keys.operator],
    /needs the system role/,
  ],
  // A valid system key still cannot do what settlement never does.
  [
    'mint an adjustment with a system key',
    'SELECT * FROM settle_entries($2, $1, $3)',
    [entry({ kind: 'adjustment', resource: 'credits', amount: '999999' }), keys.system, 'x'],
    /refused/,
  ],
  [
    'trade between traders with a system key',
    'SELECT * FROM settle_entries($2, $1, $3)',
    [entry({ kind: 'consumption', actor_from: alice, actor_to: bob }), keys.system, 'x'],
    /refused/,
  ],
  ['a trade kind with a system key', 'SELECT * FROM settle_entries($2, $1, $3)', [entry({ kind: 'trade' }), keys.system, 'x'], /refused/],
  [
    'overdraw a trader with a system key',
    'SELECT * FROM settle_entries($2, $1, $3)',
    [entry({ kind: 'consumption', actor_from: alice, actor_to: WORLD_ACTOR_ID, amount: '100.000001' }), keys.system, 'x'],
    /below zero/,
  ],
];

test('the validator login cannot move money, mint, make a key, forge a verdict or the audit, or change the rules', async () => {
  const before = await fingerprint();
  const refused: string[] = [];
  for (const [what, sql, params, expected] of attacks()) {
    await assert.rejects(app.query(sql, params), expected, what);
    refused.push(what);
  }
  assert.equal(refused.length, attacks().length);
  assert.equal(await fingerprint(), before, 'nothing changed');
});

test('what the validator login may write moves nothing', async () => {
  const before = await fingerprint();
  // Balance rows are the owner's functions' alone: no write, and no row lock that could stall trades.
  await assert.rejects(app.query('UPDATE balances SET is_world = true WHERE actor_id = $1', [alice]), DENIED);
  await assert.rejects(
    app.query("INSERT INTO balances (actor_id, resource, is_world) VALUES ($1, 'energy', true) ON CONFLICT DO NOTHING", [bob]),
    DENIED,
  );
  await assert.rejects(app.query('SELECT amount FROM balances FOR UPDATE'), DENIED);
  await assert.rejects(app.query('SELECT amount FROM balances FOR KEY SHARE'), DENIED);
  // A refusal can be audited, but only under the name the presented key proves, and a key that
  // proves nothing is recorded as the reason.
  await app.query("SELECT audit_denied('junk', 'admin.balance', '{}', 'FORBIDDEN')");
  await app.query("SELECT audit_denied($1, 'admin.balance', '{}', 'RATE_LIMITED')", [keys.admin]);
  const audit = await t.db.query<{ admin_user: string; outcome: string }>(
    'SELECT admin_user, outcome FROM admin_audit ORDER BY id DESC LIMIT 2',
  );
  assert.deepEqual(
    audit.rows.map((r) => [r.admin_user, r.outcome]),
    [
      ['wall-admin', 'RATE_LIMITED'],
      ['(invalid key)', 'UNAUTHORIZED'],
    ],
  );
  assert.equal(await fingerprint(), before);
});

test('tables created later give the validator login SELECT only', async () => {
  await t.db.query('CREATE TABLE wall_future (id int)');
  try {
    await assert.rejects(app.query('INSERT INTO wall_future VALUES (1)'), DENIED);
    await app.query('SELECT * FROM wall_future');
  } finally {
    await t.db.query('DROP TABLE wall_future');
  }
});

test("a verdict asked for by the validator login is the database's own", async () => {
  const bobEnergy = "actor_id = (SELECT id FROM actors WHERE name = 'bob') AND resource = 'energy'";
  await t.db.query(`UPDATE balances SET amount = amount + 7 WHERE ${bobEnergy}`);
  try {
    const { rows } = await app.query("SELECT verifier_tick('attacker', NULL, 1000000) AS v");
    assert.equal(rows[0].v.ok, false);
    assert.deepEqual(
      rows[0].v.drift.map((d: { actor: string }) => d.actor),
      ['bob'],
    );
    const stored = await t.db.query<{ ok: boolean }>('SELECT ok FROM verifier_status');
    assert.equal(stored.rows[0]!.ok, false);
  } finally {
    await t.db.query(`UPDATE balances SET amount = amount - 7 WHERE ${bobEnergy}`);
  }
  const { rows } = await app.query("SELECT verifier_tick('attacker', NULL, 1000000) AS v");
  assert.equal(rows[0].v.ok, true);
});

test('with the right key, the same login settles, overrides and halts, each audited by the database', async () => {
  const settled = await app.query('SELECT * FROM settle_entries($1, $2, $3)', [
    keys.system,
    entry({ proposal_id: '11111111-1111-4111-8111-111111111111' }),
    'test',
  ]);
  assert.equal(settled.rowCount, 1);
  const again = await app.query('SELECT * FROM settle_entries($1, $2, $3)', [
    keys.system,
    entry({ proposal_id: '11111111-1111-4111-8111-111111111111' }),
    'test',
  ]);
  assert.equal(again.rowCount, 0, 'idempotent on (proposal_id, leg)');
  const change = await app.query("SELECT admin_set_balance($1, 'admin.balance', $2, 'water', 42, '{}', 'test') AS c", [keys.admin, alice]);
  assert.equal(change.rows[0].c.amount, 42);
  const breaker = await app.query("SELECT admin_set_breaker($1, false, NULL, '{}') AS s", [keys.operator]);
  assert.equal(breaker.rows[0].s.changed_by, 'wall-operator');
  const audit = await t.db.query<{ admin_user: string; action: string }>(
    "SELECT admin_user, action FROM admin_audit WHERE outcome = 'applied' ORDER BY id DESC LIMIT 2",
  );
  assert.deepEqual(
    audit.rows.map((r) => [r.admin_user, r.action]),
    [
      ['wall-operator', 'admin.circuit_breaker'],
      ['wall-admin', 'admin.balance'],
    ],
  );
});
