import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { http, runCli, useSeededValidator } from '../support/validator.ts';

const world = useSeededValidator();

/** POSTs raw bytes, as a client that does not encode its body properly would. */
async function postBytes(path: string, bytes: Buffer) {
  const response = await fetch(`${world.v.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: new Uint8Array(bytes),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const count = async (table: string) => (await world.t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

test('a body that is not valid UTF-8 is 400 and records nothing, instead of being stored with U+FFFD', async () => {
  const ledger = await count('ledger');
  const rejected = await count('rejected_proposals');
  const json = Buffer.from(
    JSON.stringify({
      proposal_id: randomUUID(),
      actor_from: 'alice',
      actor_to: 'bob',
      resource: 'energy',
      amount: 1,
      metadata: { note: 'XX' },
    }),
  );
  const at = json.indexOf('XX');
  json[at] = 0xc3; // a lead byte followed by "X" (not a continuation byte)
  const reply = await postBytes('/execute', json);
  assert.equal(reply.status, 400);
  assert.equal(reply.body.error_code, 'MALFORMED_PROPOSAL');
  assert.match(String(reply.body.message), /not valid UTF-8/);
  const admin = await postBytes('/admin/circuit-breaker', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]));
  assert.equal(admin.status, 400);
  assert.match(String(admin.body.message), /not valid UTF-8/);
  assert.equal(await count('ledger'), ledger);
  assert.equal(await count('rejected_proposals'), rejected);
  // Valid multi-byte text still goes through.
  const fine = await http(world.v.url, 'POST', '/execute', {
    proposal_id: randomUUID(),
    actor_from: 'alice',
    actor_to: 'bob',
    resource: 'energy',
    amount: 1,
    metadata: { note: 'énergie ⚡' },
  });
  assert.equal(fine.status, 200);
});

test('a body with "__proto__" is refused with a message that says so, escaped or not', async () => {
  for (const text of ['{"__proto__": {"admin": true}, "proposal_id": "x"}', '{"proposal_id": "x", "metadata": {"\\u005f_proto__": 1}}']) {
    const reply = await http(world.v.url, 'POST', '/execute', text);
    assert.equal(reply.status, 400, text);
    assert.equal(reply.body.error_code, 'MALFORMED_PROPOSAL');
    assert.match(reply.body.message, /"__proto__" is not allowed/);
    assert.doesNotMatch(reply.body.message, /not valid JSON/);
  }
  const broken = await http(world.v.url, 'POST', '/execute', '{"proposal_id":');
  assert.equal(broken.status, 400);
  assert.match(broken.body.message, /not valid JSON/);
});

test('an unparsable DATABASE_URL stops the validator with exit 2, naming the variable', async () => {
  const result = await runCli(['validator', '--port', '0'], 'postgres://user:100%@localhost:5432/gridgov');
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, /DATABASE_URL/);
  assert.doesNotMatch(result.stdout, /listening/);
  const port = await runCli(['validator', '--port', '0'], 'postgres://user@localhost:notaport/gridgov');
  assert.equal(port.code, 2);
  assert.match(port.stderr, /DATABASE_URL is not a valid URL/);
});
