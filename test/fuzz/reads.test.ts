import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decimalString, nastyString, runs, weirdNumber } from './arbitraries.ts';
import { INJECTIONS, useFuzzTarget } from './support.ts';

// Every read route, and paths and methods that are no route at all, under generated query
// strings: never a 5xx, never a change of state, always the API's shapes.

const fuzz = useFuzzTarget(async (target) => {
  // Something to read: a few trades and a rejection.
  for (const [i, amount] of [1, 2, 75].entries()) {
    const body = {
      proposal_id: `5a1d2f0e-1b9c-4e57-9a39-7d3f2b8c1e4${i}`,
      actor_from: 'alice',
      actor_to: INJECTIONS[i]!,
      resource: 'energy',
      amount,
    };
    await target.app.inject({ method: 'POST', url: '/execute', payload: body });
  }
});
const { tally } = fuzz;

const READS: Record<string, string[]> = {
  '/world-state': ['at'],
  '/ledger': ['cursor', 'limit', 'actor', 'resource', 'proposal_id', 'kind'],
  '/rejections': ['cursor', 'limit', 'error_code', 'proposal_id'],
  '/actors': [],
  '/resources': [],
  '/health': [],
  '/livez': [],
  '/metrics': [],
  '/openapi.json': [],
  '/docs': [],
};

/** Every byte of the string's UTF-8 form (lone surrogates become U+FFFD) as %XX. */
const percentEncode = (text: string) => [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

/** A cursor /rejections would accept the shape of, holding a time that may not be one. */
const rejectionCursor = fc
  .record({
    at: fc.oneof(
      nastyString,
      fc.constantFrom(
        '1',
        '2026-02-31 10:00:00+00',
        '2026-11-27 17:29:41.748123+00',
        '99999-01-01',
        'now',
        'infinity',
        'epoch',
        '2026-13-01',
      ),
    ),
    id: fc.uuid(),
  })
  .map((c) => Buffer.from(JSON.stringify(c)).toString('base64url'));

const queryValue: fc.Arbitrary<string> = fc.oneof(
  nastyString,
  weirdNumber.map(String),
  decimalString,
  fc.constantFrom(
    'trade',
    'genesis',
    'INSUFFICIENT_BALANCE',
    '0',
    '1',
    '500',
    '501',
    '-1',
    '9007199254740993',
    'alice',
    'energy',
    '5a1d2f0e-1b9c-4e57-9a39-7d3f2b8c1e40',
  ),
  rejectionCursor,
);

/** A query string: known parameters and unknown ones, repeated ones, and raw escapes. */
const query = (known: string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 1, arbitrary: fc.constant('') },
    {
      weight: 6,
      arbitrary: fc
        .array(
          fc.tuple(known.length ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...known) }, nastyString) : nastyString, queryValue),
          { maxLength: 4 },
        )
        .map((pairs) => {
          const params = new URLSearchParams();
          for (const [key, value] of pairs) params.append(key, value);
          return params.size ? `?${params}` : '';
        }),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '?%',
        '?%zz',
        '?a=%00',
        '?limit=%ED%A0%80',
        '?&&&',
        '?=',
        '?a[b]=1',
        '?a[]=1&a[]=2',
        '?__proto__[x]=1',
        '?constructor[prototype][x]=1',
        '?actor=%00',
        '?resource=%00',
        '?at=%00',
      ),
    },
  );

const send = (method: string, url: string, headers: Record<string, string> = {}) => fuzz.send(method, url, undefined, headers);

test('read routes under generated query strings', async () => {
  const request = fc.constantFrom(...Object.keys(READS)).chain((path) => query(READS[path]!).map((q) => `${path}${q}`));
  await fc.assert(
    fc.asyncProperty(request, fc.constantFrom('GET', 'GET', 'GET', 'HEAD'), async (url, method) => {
      await send(method, url);
    }),
    { numRuns: runs(2_200) },
  );
});

test('paths and methods that are no route: traversal, encodings, long and odd paths', async () => {
  const segment = fc.oneof(
    fc.constantFrom(
      'execute',
      'batch',
      'admin',
      'balance',
      'ledger',
      'docs',
      '..',
      '.',
      '%2e%2e',
      '%2F',
      '%00',
      '%ED%A0%80',
      '~',
      '*',
      '',
      'etc',
      'passwd',
      'openapi.json',
    ),
    nastyString.map(percentEncode),
  );
  const path = fc.oneof(
    fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => `/${parts.join('/')}`),
    fc.constantFrom(
      '//execute',
      '/execute/',
      '/EXECUTE',
      '/execute?x',
      '/./world-state',
      '/docs/../../../etc/passwd',
      '/%2e%2e/%2e%2e/etc/passwd',
      `/${'a'.repeat(5_000)}`,
    ),
  );
  await fc.assert(
    fc.asyncProperty(path, fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'), async (url, method) => {
      await send(method, url, method === 'GET' || method === 'HEAD' ? {} : { 'content-type': 'application/json' });
    }),
    { numRuns: runs(700) },
  );
});

test('the tally covers every read route', (t) => {
  for (const path of Object.keys(READS)) assert.ok(tally.counts.get(`GET ${path}`)?.get(200), `GET ${path} never answered 200`);
  t.diagnostic(`${tally.total} requests`);
  for (const line of tally.lines()) t.diagnostic(line);
});
