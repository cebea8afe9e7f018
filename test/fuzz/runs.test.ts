import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ADMIN_KEY } from '../support/validator.ts';
import { decimalString, nastyString, runs, weirdNumber, weirdValue } from './arbitraries.ts';
import { fuzzScenario, type FuzzTarget, useFuzzTarget } from './support.ts';

// The simulation-run routes (the runner's writes need the system role) and their reads, /epochs
// and /stats, under generated ids, epochs, scenarios, plans and stats.

let runId: string;
const fuzz = useFuzzTarget(async (target) => {
  const reply = await target.app.inject({
    method: 'POST',
    url: '/runs',
    payload: { scenario: fuzzScenario, seed: 7, strategy: 'heuristic' },
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  assert.equal(reply.statusCode, 201, reply.body);
  runId = reply.json().run_id;
});
const { tally } = fuzz;

const percentEncode = (text: string) => [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

const runIdSegment = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(runId) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: nastyString.map(percentEncode) },
    { weight: 1, arbitrary: fc.constantFrom('', '%00', '..', '00000000-0000-0000-0000-00000000000g', runId.toUpperCase()) },
  );
const epochSegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }).map(String) },
  { weight: 2, arbitrary: fc.oneof(weirdNumber.map(String), decimalString).map(encodeURIComponent) },
  { weight: 1, arbitrary: nastyString.map(percentEncode) },
);

const auth: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ authorization: `Bearer ${ADMIN_KEY}` }) },
  { weight: 1, arbitrary: fc.constant({}) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('viewer', 'operator', 'admin', 'revoked')
      .map((role) => ({ authorization: `Bearer ${fuzz.target.keys[role as keyof FuzzTarget['keys']]}` })),
  },
  { weight: 1, arbitrary: nastyString.map((k) => ({ authorization: `Bearer ${k}` })) },
);

const scenario: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(fuzzScenario) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        name: nastyString,
        field: fc.constantFrom('resources', 'actors', 'constraints', 'default_credit', 'name'),
        value: weirdValue,
      })
      .map(({ name, field, value }) => ({ ...fuzzScenario, name, [field]: value })),
  },
  { weight: 1, arbitrary: fc.dictionary(nastyString, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }) },
  { weight: 1, arbitrary: weirdValue },
);

const request: () => fc.Arbitrary<{ method: string; url: string; body?: unknown }> = () =>
  fc.oneof(
    fc
      .record(
        {
          scenario,
          seed: fc.oneof(fc.integer(), nastyString, weirdValue),
          strategy: fc.oneof(fc.constant('heuristic'), nastyString),
          run_id: fc.oneof(fc.uuid(), weirdValue),
        },
        { requiredKeys: ['scenario'] },
      )
      .map((body) => ({ method: 'POST', url: '/runs', body })),
    fc.tuple(runIdSegment(), epochSegment).map(([id, epoch]) => ({ method: 'POST', url: `/runs/${id}/epochs/${epoch}/settle` })),
    fc
      .tuple(
        runIdSegment(),
        epochSegment,
        fc.oneof(fc.record({ plan: fc.dictionary(nastyString, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }) }), weirdValue),
      )
      .map(([id, epoch, body]) => ({ method: 'PUT', url: `/runs/${id}/epochs/${epoch}/plan`, body })),
    fc
      .tuple(
        runIdSegment(),
        epochSegment,
        fc.oneof(fc.record({ stats: fc.dictionary(nastyString, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }) }), weirdValue),
      )
      .map(([id, epoch, body]) => ({ method: 'PUT', url: `/runs/${id}/epochs/${epoch}/stats`, body })),
    fc.tuple(runIdSegment(), epochSegment).map(([id, epoch]) => ({ method: 'GET', url: `/runs/${id}/epochs/${epoch}` })),
    runIdSegment().map((id) => ({ method: 'GET', url: `/runs/${id}` })),
    fc
      .oneof(
        fc.constant(''),
        fc.constantFrom('1', '0', '501', 'x', '%00').map((l) => `?limit=${l}`),
      )
      .map((q) => ({ method: 'GET', url: `/runs${q}` })),
    fc
      .array(
        fc.tuple(
          fc.oneof(fc.constantFrom('run_id', 'from', 'limit', 'window'), nastyString),
          fc.oneof(nastyString, weirdNumber.map(String), fc.constant(runId)),
        ),
        { maxLength: 3 },
      )
      .chain((pairs) =>
        fc
          .constantFrom('/epochs', '/stats')
          .map((path) => ({ method: 'GET', url: `${path}${pairs.length ? `?${new URLSearchParams(pairs)}` : ''}` })),
      ),
  );

test('simulation-run routes under generated ids, epochs and bodies', async () => {
  await fc.assert(
    fc.asyncProperty(request(), auth, async ({ method, url, body }, headers) => {
      const withBody = body === undefined ? headers : { ...headers, 'content-type': 'application/json' };
      await fuzz.send(method, url, body === undefined ? undefined : JSON.stringify(body), withBody);
    }),
    { numRuns: runs(1_000) },
  );
});

test('the tally of run routes', (t) => {
  t.diagnostic(`${tally.total} requests`);
  for (const line of tally.lines()) t.diagnostic(line);
});
