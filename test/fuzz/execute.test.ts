import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ADMIN_KEY } from '../support/validator.ts';
import { contentType, nastyString, proposalBody, rawPayload, runs, weirdValue } from './arbitraries.ts';
import { useFuzzTarget } from './support.ts';

// POST /execute and /execute/batch under generated bodies, content types and keys: never a 5xx,
// a refused request changes nothing, and every reply keeps the API's shapes.

const fuzz = useFuzzTarget();
const { send, tally } = fuzz;

const authorization: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({}) },
  { weight: 2, arbitrary: fc.constant({ authorization: `Bearer ${ADMIN_KEY}` }) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.constantFrom('Bearer', 'Bearer ', 'Basic YWxpY2U6eA==', `bearer ${ADMIN_KEY}`),
        nastyString.map((k) => `Bearer ${k}`),
      )
      .map((h) => ({ authorization: h })),
  },
);

test('generated /execute proposals: well-formed, bent and hostile', async () => {
  await fc.assert(
    fc.asyncProperty(proposalBody, authorization, async (body, auth) => {
      await send('POST', '/execute', JSON.stringify(body), { 'content-type': 'application/json', ...auth });
    }),
    { numRuns: runs(3_500) },
  );
});

test('bodies that are not proposals, under any content type', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('/execute', '/execute/batch'), rawPayload, contentType, async (url, payload, type) => {
      await send('POST', url, payload, { 'content-type': type });
    }),
    { numRuns: runs(1_500) },
  );
});

test('generated /execute/batch requests', async () => {
  const batch = fc.oneof(
    { weight: 6, arbitrary: fc.array(proposalBody, { minLength: 1, maxLength: 6 }).map((proposals) => ({ proposals })) },
    { weight: 1, arbitrary: fc.record({ proposals: weirdValue }) },
    { weight: 1, arbitrary: fc.record({ proposals: fc.array(proposalBody, { maxLength: 2 }), extra: weirdValue }) },
    { weight: 1, arbitrary: weirdValue },
  );
  await fc.assert(
    fc.asyncProperty(batch, authorization, async (body, auth) => {
      await send('POST', '/execute/batch', JSON.stringify(body), { 'content-type': 'application/json', ...auth });
    }),
    { numRuns: runs(700) },
  );
});

test('oversized bodies are refused whole, before anything is decided', async () => {
  const proposal = {
    proposal_id: '6a1d2f0e-1b9c-4e57-9a39-7d3f2b8c1e99',
    actor_from: 'alice',
    actor_to: 'bob',
    resource: 'energy',
    amount: 1,
  };
  for (const [url, size] of [
    ['/execute', 300 * 1024],
    ['/execute', 2 * 1024 * 1024],
    ['/execute/batch', 5 * 1024 * 1024],
  ] as const) {
    const body =
      url === '/execute'
        ? { ...proposal, metadata: { blob: 'x'.repeat(size) } }
        : { proposals: [{ ...proposal, metadata: { blob: 'x'.repeat(size) } }] };
    await send('POST', url, JSON.stringify(body), { 'content-type': 'application/json' });
  }
  assert.equal(tally.counts.get('POST /execute')?.get(413), 2);
  assert.equal(tally.counts.get('POST /execute/batch')?.get(413), 1);
});

test('no request polluted Object.prototype, and the tally covers every outcome', (t) => {
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const execute = tally.counts.get('POST /execute')!;
  for (const status of [200, 400, 401, 409, 413, 415, 422])
    assert.ok(execute.get(status), `no ${status} from /execute in ${tally.total} requests`);
  t.diagnostic(`${tally.total} requests`);
  for (const line of tally.lines()) t.diagnostic(line);
});
