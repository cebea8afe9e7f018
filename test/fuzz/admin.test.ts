import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ADMIN_KEY } from '../support/validator.ts';
import { actorRef, amount, contentType, nastyString, proposalBody, rawPayload, resourceRef, runs, weirdValue } from './arbitraries.ts';
import { useFuzzTarget } from './support.ts';

// The admin routes under generated bodies, queries and keys of every strength: never a 5xx, a
// refusal changes nothing but the audit, and every call, refused or not, leaves one audit row.
// Valid calls do change state (balances, the breaker); the judge then takes the new state as given.

const fuzz = useFuzzTarget();
const { send, tally } = fuzz;

const key = (): fc.Arbitrary<Record<string, string>> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant({}) },
    { weight: 4, arbitrary: fc.constantFrom(ADMIN_KEY, fuzz.target.keys.admin).map((k) => ({ authorization: `Bearer ${k}` })) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(fuzz.target.keys.viewer, fuzz.target.keys.operator, fuzz.target.keys.revoked)
        .map((k) => ({ authorization: `Bearer ${k}` })),
    },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.constantFrom(
            'Bearer',
            'Bearer ',
            'Basic YWRtaW46YWRtaW4=',
            `bearer ${ADMIN_KEY}`,
            `Bearer ${ADMIN_KEY} `,
            `Bearer  ${ADMIN_KEY}`,
            `Bearer ${ADMIN_KEY}x`,
          ),
          nastyString.map((k) => `Bearer ${k}`),
        )
        .map((h) => ({ authorization: h })),
    },
  );

const balanceBody = fc.oneof(
  { weight: 4, arbitrary: fc.record({ actor_id: actorRef, resource: resourceRef, amount }) },
  { weight: 1, arbitrary: fc.record({ actor_id: weirdValue, resource: weirdValue, amount: weirdValue }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.record({ actor_id: actorRef, resource: resourceRef, amount, extra: weirdValue }) },
);
const resetBody = fc.oneof(fc.record({ actor_id: actorRef }), fc.record({ actor_id: weirdValue, extra: weirdValue }, { requiredKeys: [] }));
const breakerBody = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      enabled: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.boolean() }),
      reason: fc.option(nastyString, { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ enabled: weirdValue, reason: weirdValue }, { requiredKeys: [] }) },
);
const auditQuery = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('cursor', 'limit', 'action', 'admin_user'), nastyString),
      fc.oneof(nastyString, fc.constantFrom('1', '0', '-1', '501', 'admin.balance', 'fuzz-admin', '%00')),
    ),
    { maxLength: 3 },
  )
  .map((pairs) => {
    const params = new URLSearchParams(pairs);
    return params.size ? `?${params}` : '';
  });

test('admin routes under generated bodies and keys', async () => {
  const request = fc.oneof(
    balanceBody.map((b) => ['/admin/balance', b] as const),
    resetBody.map((b) => ['/admin/reset-credit', b] as const),
    breakerBody.map((b) => ['/admin/circuit-breaker', b] as const),
  );
  await fc.assert(
    fc.asyncProperty(request, key(), async ([url, body], auth) => {
      await send('POST', url, JSON.stringify(body), { 'content-type': 'application/json', ...auth });
    }),
    { numRuns: runs(1_100) },
  );
});

test('the audit log under generated queries', async () => {
  await fc.assert(
    fc.asyncProperty(auditQuery, key(), async (query, auth) => {
      await send('GET', `/admin/audit${query}`, undefined, auth);
    }),
    { numRuns: runs(300) },
  );
});

test('admin bodies that are not JSON objects, of any content type and size', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('/admin/balance', '/admin/reset-credit', '/admin/circuit-breaker'),
      rawPayload,
      contentType,
      key(),
      async (url, payload, type, auth) => {
        await send('POST', url, payload, { 'content-type': type, ...auth });
      },
    ),
    { numRuns: runs(300) },
  );
  await send('POST', '/admin/balance', JSON.stringify({ actor_id: 'alice', resource: 'water', amount: 1, pad: 'x'.repeat(300 * 1024) }), {
    'content-type': 'application/json',
    authorization: `Bearer ${ADMIN_KEY}`,
  });
  assert.equal(tally.counts.get('POST /admin/balance')?.get(413), 1);
});

test('while the breaker is on, /execute answers 503 CIRCUIT_BREAKER_OPEN and records nothing', async () => {
  const admin = { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` };
  await send('POST', '/admin/circuit-breaker', JSON.stringify({ enabled: true, reason: 'fuzz: halted' }), admin);
  await fc.assert(
    fc.asyncProperty(proposalBody, async (body) => {
      await send('POST', '/execute', JSON.stringify(body), { 'content-type': 'application/json' });
    }),
    { numRuns: runs(150) },
  );
  await send('GET', '/health', undefined, {});
  assert.ok(tally.counts.get('POST /execute')?.get(503), 'no 503 while halted');
  assert.equal(tally.counts.get('GET /health')?.get(503), 1);
  await send('POST', '/admin/circuit-breaker', JSON.stringify({ enabled: false }), admin);
});

test('the breaker is left off, and the tally covers every admin outcome', async (t) => {
  await send('POST', '/admin/circuit-breaker', JSON.stringify({ enabled: false }), {
    'content-type': 'application/json',
    authorization: `Bearer ${ADMIN_KEY}`,
  });
  for (const status of [200, 400, 401, 403, 404])
    assert.ok(tally.counts.get('POST /admin/balance')?.get(status), `no ${status} from /admin/balance`);
  t.diagnostic(`${tally.total} requests`);
  for (const line of tally.lines()) t.diagnostic(line);
});
