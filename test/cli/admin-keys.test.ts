import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { BIN, http, spawnValidator, type ValidatorProcess } from '../support/validator.ts';

const run = promisify(execFile);
let t: TestDatabase;
let a: ValidatorProcess;
let b: ValidatorProcess;
before(async () => {
  t = await createTestDatabase(4);
  await seedTestScenario(t.db);
  [a, b] = await Promise.all([spawnValidator(t.url), spawnValidator(t.url)]);
});
after(async () => {
  for (const v of [a, b]) v?.child.kill('SIGTERM');
  await Promise.all([a?.exited, b?.exited]);
  await t.drop();
});

const gridgov = (...args: string[]) =>
  run(process.execPath, [BIN, ...args], { env: { ...process.env, DATABASE_URL: t.url, GRIDGOV_ADMIN_KEY: '' } });

test('keys create prints the key once, alone on the last line; list shows it; revoke stops it at once', async () => {
  const created = await gridgov('keys', 'create', '--name', 'ops', '--role', 'operator');
  const key = created.stdout.trim().split('\n').at(-1)!;
  assert.match(key, /^ggk_[A-Za-z0-9_-]{40,}$/);
  const listed = await gridgov('keys', 'list');
  assert.match(listed.stdout, /ops\s+operator/);
  assert.ok(!listed.stdout.includes(key), 'list never shows the key');
  const stored = await t.db.query<{ key_hash: string }>("SELECT key_hash FROM api_keys WHERE name = 'ops'");
  assert.notEqual(stored.rows[0]!.key_hash, key, 'only a hash is stored');
  await assert.rejects(gridgov('keys', 'create', '--name', 'ops', '--role', 'viewer'), /already exists/);
  await assert.rejects(gridgov('keys', 'create', '--name', 'x', '--role', 'emperor'), /role must be one of/);

  const audit = await gridgov('admin', 'audit', '--url', a.url, '--key', key, '--limit', '2');
  assert.ok(Array.isArray(JSON.parse(audit.stdout).entries));
  await gridgov('keys', 'revoke', '--name', 'ops');
  const denied = await http(a.url, 'GET', '/admin/audit', undefined, { authorization: `Bearer ${key}` });
  assert.equal(denied.status, 401);
  assert.match(denied.body.message, /revoked/);
});

test('a breaker switched through one validator is honoured by the other at once', async () => {
  const created = await gridgov('keys', 'create', '--name', 'oncall', '--role', 'operator');
  const key = created.stdout.trim().split('\n').at(-1)!;
  const on = await gridgov('admin', 'circuit-breaker', '--on', '--reason', 'grid storm', '--url', a.url, '--key', key);
  assert.equal(JSON.parse(on.stdout).enabled, true);
  const proposal = { proposal_id: randomUUID(), actor_from: 'alice', actor_to: 'bob', resource: 'water', amount: 2 };
  const halted = await http(b.url, 'POST', '/execute', proposal);
  assert.equal(halted.status, 503);
  assert.equal(halted.body.reason, 'grid storm');
  assert.equal((await http(b.url, 'GET', '/health')).status, 503);
  await gridgov('admin', 'circuit-breaker', '--off', '--url', a.url, '--key', key);
  const applied = await http(b.url, 'POST', '/execute', proposal);
  assert.equal(applied.status, 200);
  assert.equal((await http(b.url, 'GET', '/health')).status, 200);
});

test('the admin CLI reports a refusal in words and exits 1', async () => {
  await assert.rejects(
    gridgov('admin', 'balance', '--actor', 'alice', '--resource', 'water', '--amount', '5', '--url', a.url, '--key', 'ggk_wrong'),
    (error: { code: number; stderr: string }) => error.code === 1 && /401 UNAUTHORIZED: unknown API key/.test(error.stderr),
  );
  await assert.rejects(gridgov('admin', 'circuit-breaker', '--url', a.url), (error: { code: number }) => error.code === 2);
});
