import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { createApiKey } from '../../src/governance/keys.ts';
import { ADMIN_KEY, http, runCli, useSeededValidator } from '../support/validator.ts';

// A validator exposed as it would be off loopback: keys for /execute and for the reads.
const world = useSeededValidator({ env: { GRIDGOV_EXECUTE_AUTH: 'required', GRIDGOV_READ_AUTH: 'required' } });

const keys: Record<string, string> = {};
const auth = (who: string | undefined): Record<string, string> =>
  who === undefined ? {} : { authorization: `Bearer ${who === 'bootstrap' ? ADMIN_KEY : keys[who]}` };
const trade = (over: Record<string, unknown> = {}) => ({
  proposal_id: randomUUID(),
  actor_from: 'carol',
  actor_to: 'bob',
  resource: 'energy',
  amount: 1,
  ...over,
});
const swap = () => ({
  proposal_id: randomUUID(),
  legs: [
    { actor_from: 'alice', actor_to: 'bob', resource: 'energy', amount: 1 },
    { actor_from: 'bob', actor_to: 'alice', resource: 'water', amount: 1 },
  ],
});
const rejections = async (id: string) =>
  (await world.t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM rejected_proposals WHERE proposal_id = $1', [id])).rows[0]!.n;

test('gridgov keys create --role agent --actor binds a key to one actor and prints it alone on the last line', async () => {
  const made = await runCli(['keys', 'create', '--name', 'carol-agent', '--role', 'agent', '--actor', 'carol'], world.t.url);
  assert.equal(made.code, 0, made.stderr);
  keys.agent = made.stdout.trim().split('\n').at(-1)!;
  assert.match(keys.agent, /^ggk_[A-Za-z0-9_-]{40,}$/);
  const { rows } = await world.t.db.query<{ name: string }>(
    'SELECT a.name FROM api_keys k JOIN actors a ON a.id = k.actor_id WHERE k.name = $1',
    ['carol-agent'],
  );
  assert.deepEqual(rows, [{ name: 'carol' }]);

  const noActor = await runCli(['keys', 'create', '--name', 'lost', '--role', 'agent'], world.t.url);
  assert.equal(noActor.code, 1);
  assert.match(noActor.stderr, /--actor is required/);
  const unknown = await runCli(['keys', 'create', '--name', 'ghost', '--role', 'agent', '--actor', 'nobody'], world.t.url);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no actor named "nobody"/);

  for (const role of ['viewer', 'operator', 'system']) keys[role] = (await createApiKey(world.t.db, `${role}-key`, role)).key;
});

test('/execute: no key is 401, a viewer key 403; agent, system and operator keys may propose', async () => {
  const cases: Array<[string | undefined, number, string]> = [
    [undefined, 401, 'UNAUTHORIZED'],
    ['viewer', 403, 'FORBIDDEN'],
    ['agent', 200, 'applied'],
    ['system', 200, 'applied'],
    ['operator', 200, 'applied'],
    ['bootstrap', 200, 'applied'],
  ];
  for (const [who, status, outcome] of cases) {
    for (const path of ['/execute', '/execute/batch']) {
      const body = path === '/execute' ? trade() : { proposals: [trade()] };
      const reply = await http(world.v.url, 'POST', path, body, auth(who));
      const result = path === '/execute' || status !== 200 ? reply.body : reply.body.results[0];
      assert.equal(reply.status, status, `${who ?? 'no key'} ${path}: ${JSON.stringify(reply.body)}`);
      assert.equal(result.error_code ?? result.status, outcome, `${who ?? 'no key'} ${path}`);
    }
  }
  const wrong = await http(world.v.url, 'POST', '/execute', trade(), { authorization: 'Bearer ggk_not-a-key-we-issued' });
  assert.equal(wrong.status, 401);
});

test("an agent key moving another actor's funds is 403 FORBIDDEN_ACTOR, recorded once", async () => {
  const body = trade({ actor_from: 'alice', actor_to: 'carol' });
  const first = await http(world.v.url, 'POST', '/execute', body, auth('agent'));
  assert.equal(first.status, 403, JSON.stringify(first.body));
  assert.equal(first.body.error_code, 'FORBIDDEN_ACTOR');
  assert.equal(first.body.status, 'rejected');
  const again = await http(world.v.url, 'POST', '/execute', body, auth('agent'));
  assert.equal(again.status, 403);
  assert.equal(again.body.replayed, true);
  assert.equal(await rejections(body.proposal_id), 1);
  const outbox = await world.t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE payload->>'proposal_id' = $1", [
    body.proposal_id,
  ]);
  assert.ok(outbox.rows[0]!.n >= 1, 'the rejection reaches the outbox like any other');

  // A swap whose second leg debits someone else is refused as a whole, in a batch too.
  const batch = await http(
    world.v.url,
    'POST',
    '/execute/batch',
    {
      proposals: [
        {
          ...swap(),
          legs: [
            { actor_from: 'carol', actor_to: 'bob', resource: 'energy', amount: 1 },
            { actor_from: 'bob', actor_to: 'carol', resource: 'water', amount: 1 },
          ],
        },
      ],
    },
    auth('agent'),
  );
  assert.equal(batch.body.results[0].error_code, 'FORBIDDEN_ACTOR');
  assert.equal(batch.body.results[0].http_status, 403);
  // Its own funds move: carol pays bob.
  const own = await http(world.v.url, 'POST', '/execute', trade(), auth('agent'));
  assert.equal(own.status, 200);
});

test('a swap debiting several actors needs system or operator and above', async () => {
  const outcomes: Record<string, string> = {};
  for (const who of ['agent', 'system', 'operator', 'bootstrap']) {
    const body = swap();
    const reply = await http(world.v.url, 'POST', '/execute', body, auth(who));
    outcomes[who] = `${reply.status} ${reply.body.error_code ?? reply.body.status}`;
  }
  assert.deepEqual(outcomes, { agent: '403 FORBIDDEN_ACTOR', system: '200 applied', operator: '200 applied', bootstrap: '200 applied' });
});

test('reads, /events and /metrics need a viewer key; /livez, /health and the docs do not', async () => {
  const reads = [
    '/world-state',
    '/ledger?limit=1',
    '/rejections?limit=1',
    '/actors',
    '/resources',
    '/stats',
    '/runs',
    '/epochs',
    '/metrics',
  ];
  for (const path of reads) {
    const anonymous = await http(world.v.url, 'GET', path);
    assert.equal(anonymous.status, 401, `${path} without a key: ${JSON.stringify(anonymous.body)}`);
    assert.equal(anonymous.body.error_code, 'UNAUTHORIZED');
    const junk = await http(world.v.url, 'GET', path, undefined, { authorization: 'Bearer ggk_junk-junk-junk' });
    assert.equal(junk.status, 401, `${path} with a junk key`);
    for (const who of ['viewer', 'agent', 'system', 'operator']) {
      const reply = await http(world.v.url, 'GET', path, undefined, auth(who));
      assert.equal(reply.status, 200, `${path} with ${who}: ${JSON.stringify(reply.body)}`);
    }
  }
  for (const path of ['/livez', '/openapi.json']) assert.equal((await http(world.v.url, 'GET', path)).status, 200, path);
  // An agent reads the world, but the admin audit is for people holding the viewer role.
  const audit = await http(world.v.url, 'GET', '/admin/audit?limit=1', undefined, auth('agent'));
  assert.equal(audit.status, 403);
  assert.notEqual((await http(world.v.url, 'GET', '/health')).status, 401);

  const refused = await fetch(`${world.v.url}/events`, { headers: { accept: 'text/event-stream' } });
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  const stream = await fetch(`${world.v.url}/events`, { headers: { accept: 'text/event-stream', authorization: `bearer ${keys.viewer}` } });
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
  await stream.body?.cancel();
});

test('the scheme is case-insensitive: "bearer" and "BEARER" are accepted', async () => {
  for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
    const reply = await http(world.v.url, 'GET', '/actors', undefined, { authorization: `${scheme} ${keys.viewer}` });
    assert.equal(reply.status, 200, scheme);
  }
});
