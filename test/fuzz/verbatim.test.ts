import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { findUnstorable } from '../../src/domain/proposal.ts';
import { ADMIN_KEY } from '../support/validator.ts';
import { runs } from './arbitraries.ts';
import { INJECTED_ACTORS, INJECTIONS, startFuzzTarget, Tally, type FuzzTarget } from './support.ts';

// Attack strings that are valid data are data: stored as sent and returned as sent, through
// every route that shows them, never interpreted on the way.

let target: FuzzTarget;
const tally = new Tally();
before(async () => {
  target = await startFuzzTarget();
});
after(() => target.close());

function hasProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  return Object.keys(value).some((key) => key === '__proto__' || hasProtoKey((value as Record<string, unknown>)[key]));
}

async function call(method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}) {
  const reply = await target.app.inject({ method, url, payload: body as string | object | undefined, headers });
  tally.add(`${method} ${url.split('?')[0]}`, reply.statusCode);
  return { status: reply.statusCode, body: reply.json() as Record<string, any> };
}

test('actors named with attack strings trade, and every read shows their names exactly', async () => {
  const actors = await call('GET', '/actors');
  const names = new Set((actors.body.actors as Array<{ name: string }>).map((a) => a.name));
  for (const name of INJECTED_ACTORS) assert.ok(names.has(name), `GET /actors lost ${JSON.stringify(name)}`);

  for (const name of INJECTED_ACTORS) {
    // A "__proto__" key is refused anywhere in a body (prototype poisoning): as a value it is data.
    const metadata = { reasoning: name, nested: { list: [name, name === '__proto__' ? { key: name } : { [name]: name }] } };
    const sent = { proposal_id: randomUUID(), actor_from: 'alice', actor_to: name, resource: 'credits', amount: 1.5, metadata };
    const applied = await call('POST', '/execute', sent);
    assert.equal(applied.status, 200, `${JSON.stringify(name)}: ${JSON.stringify(applied.body)}`);

    const byActor = await call('GET', `/ledger?${new URLSearchParams({ actor: name, limit: '5' })}`);
    assert.equal(byActor.status, 200);
    const entry = byActor.body.entries.find((e: { proposal_id: string }) => e.proposal_id === sent.proposal_id);
    assert.ok(entry, `GET /ledger?actor=${JSON.stringify(name)} misses the trade`);
    assert.deepEqual(entry.metadata, metadata, 'metadata comes back as sent');

    const refused = { ...sent, proposal_id: randomUUID(), actor_from: name, actor_to: 'bob', amount: 10_000 };
    const rejection = await call('POST', '/execute', refused);
    assert.equal(rejection.status, 422);
    const listed = await call('GET', `/rejections?proposal_id=${refused.proposal_id}`);
    assert.deepEqual(listed.body.rejections[0].proposal, refused, 'the rejected proposal is kept as sent');
  }
  const state = await call('GET', '/world-state');
  const shown = new Set((state.body.actors as Array<{ name: string }>).map((a) => a.name));
  for (const name of INJECTED_ACTORS) assert.ok(shown.has(name), `GET /world-state lost ${JSON.stringify(name)}`);
});

test('admin actions on such actors are audited with the names exactly', async () => {
  for (const name of INJECTED_ACTORS.slice(0, 8)) {
    const reply = await call(
      'POST',
      '/admin/balance',
      { actor_id: name, resource: 'water', amount: '12.5' },
      { authorization: `Bearer ${ADMIN_KEY}` },
    );
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.actor, name);
    const reason = `maintenance: ${name}`;
    const breaker = await call('POST', '/admin/circuit-breaker', { enabled: false, reason }, { authorization: `Bearer ${ADMIN_KEY}` });
    assert.equal(breaker.body.reason, reason);
  }
  const audit = await call('GET', '/admin/audit?limit=40', undefined, { authorization: `Bearer ${ADMIN_KEY}` });
  const audited = new Set(audit.body.entries.map((e: { payload: { request?: { actor_id?: string } } }) => e.payload.request?.actor_id));
  for (const name of INJECTED_ACTORS.slice(0, 8)) assert.ok(audited.has(name), `the audit lost ${JSON.stringify(name)}`);
});

test('any storable metadata comes back exactly as sent', async () => {
  const text = fc.oneof(fc.string({ unit: 'grapheme' }), fc.constantFrom(...INJECTIONS), fc.string({ unit: 'binary', maxLength: 20 }));
  const value = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      text,
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(text, tie('node'), { maxKeys: 4 }),
    ),
  })).node;
  await fc.assert(
    fc.asyncProperty(fc.dictionary(text, value, { maxKeys: 6 }), async (metadata) => {
      const sent = {
        proposal_id: randomUUID(),
        actor_from: 'carol',
        actor_to: INJECTIONS[0]!,
        resource: 'credits',
        amount: 0.01,
        metadata,
      };
      const reply = await call('POST', '/execute', JSON.stringify(sent), { 'content-type': 'application/json' });
      if (findUnstorable(metadata) || hasProtoKey(metadata)) {
        // NUL and lone surrogates cannot be stored verbatim, and a "__proto__" key is refused as
        // prototype poisoning: the whole proposal is refused.
        assert.equal(reply.status, 400, JSON.stringify(reply.body));
        return;
      }
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const read = await call('GET', `/ledger?proposal_id=${sent.proposal_id}`);
      assert.deepEqual(read.body.entries[0].metadata, JSON.parse(JSON.stringify(metadata)));
    }),
    { numRuns: runs(350) },
  );
});

test('the tally of round trips', (t) => {
  t.diagnostic(`${tally.total} requests`);
  for (const line of tally.lines()) t.diagnostic(line);
});
