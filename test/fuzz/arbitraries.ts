import fc from 'fast-check';
import { INJECTED_ACTORS, INJECTIONS } from './support.ts';

/** Generators of hostile input, shared by the fuzz files. FUZZ_SCALE multiplies every run count. */

fc.configureGlobal({ includeErrorInReport: true });

export const runs = (count: number) => Math.max(1, Math.round(count * Number(process.env.FUZZ_SCALE ?? 1)));

export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  // Any UTF-16 code unit, lone surrogates included.
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 3, arbitrary: fc.constantFrom(...INJECTIONS) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udfff', 'world', 'alice', 'WORLD', ' alice ', 'energy', 'é'),
  },
  { weight: 1, arbitrary: fc.integer({ min: 60, max: 5_000 }).map((n) => 'x'.repeat(n)) },
);

export const weirdNumber: fc.Arbitrary<number> = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(
    1e308,
    -1e308,
    1e21,
    1e-7,
    2 ** 53,
    2 ** 53 + 2,
    -0,
    0,
    0.1 + 0.2,
    999_999_999.999999,
    1_000_000_000,
    5e-324,
    -1,
    -0.000001,
    0.000001,
    1.5e-6,
  ),
);

export const decimalString: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(fc.boolean(), fc.stringMatching(/^\d{1,30}$/), fc.stringMatching(/^\d{0,12}$/))
    .map(([negative, whole, fraction]) => `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`),
  fc.constantFrom(
    '1e3',
    '1E-2',
    '0x10',
    ' 5 ',
    '5.',
    '.5',
    '+5',
    '--5',
    '5,5',
    'Infinity',
    '-Infinity',
    'NaN',
    '',
    '١٢٣',
    '0.1234567',
    '12.500000000',
    '00012',
    '1_000',
  ),
);

/** Any JSON value, from harmless to hostile. */
export const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  weirdNumber,
  decimalString,
  nastyString,
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.jsonValue({ maxDepth: 2 }),
);

/** An object nested `depth` levels deep. */
export function nested(depth: number, leaf: unknown = 1): unknown {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { k: value };
  return value;
}

export const actorRef: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('alice', 'bob', 'carol', 'dave') },
  { weight: 2, arbitrary: fc.constantFrom(...INJECTED_ACTORS) },
  { weight: 1, arbitrary: fc.constantFrom('world', 'nobody', '00000000-0000-0000-0000-000000000000', 'ALICE', 'alice ') },
  { weight: 1, arbitrary: nastyString },
);

export const resourceRef: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('energy', 'water', 'credits') },
  { weight: 1, arbitrary: nastyString },
);

export const amount: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(fc.double({ min: 0.000001, max: 60, noNaN: true }), fc.integer({ min: 0, max: 6 }))
      .map(([n, d]) => Number(n.toFixed(d)) || 1),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.double({ min: 0.000001, max: 60, noNaN: true }), fc.integer({ min: 0, max: 9 })).map(([n, d]) => n.toFixed(d)),
  },
  { weight: 2, arbitrary: weirdNumber },
  { weight: 2, arbitrary: decimalString },
  { weight: 1, arbitrary: weirdValue },
);

/** A few ids used again and again, so replays and conflicts happen. */
export const SHARED_IDS = Array.from({ length: 8 }, (_, i) => `0000000${i}-aaaa-4bbb-8ccc-${String(i).padStart(12, '0')}`);

export const proposalId: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.uuid() },
  { weight: 2, arbitrary: fc.constantFrom(...SHARED_IDS) },
  { weight: 1, arbitrary: fc.uuid().map((id) => id.toUpperCase()) },
  { weight: 1, arbitrary: weirdValue },
);

export const metadata: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.dictionary(nastyString, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }) },
  { weight: 1, arbitrary: fc.integer({ min: 20, max: 60 }).map((depth) => ({ deep: nested(depth) })) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 80_000 }).map((n) => ({ blob: 'm'.repeat(n) })) },
  { weight: 1, arbitrary: weirdValue },
);

const leg = fc.record({ actor_from: actorRef, actor_to: actorRef, resource: resourceRef, amount });

type Mutation = { op: 'delete' | 'set' | 'add'; key: string; value: unknown };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    op: fc.constant('delete' as const),
    key: fc.constantFrom('proposal_id', 'actor_from', 'actor_to', 'resource', 'amount', 'legs', 'metadata'),
    value: fc.constant(undefined),
  }),
  fc.record({
    op: fc.constant('set' as const),
    key: fc.constantFrom('proposal_id', 'actor_from', 'actor_to', 'resource', 'amount', 'legs', 'metadata'),
    value: weirdValue,
  }),
  fc.record({
    op: fc.constant('add' as const),
    key: fc.oneof(nastyString, fc.constantFrom('legs', 'extra', 'amount ', 'Amount')),
    value: weirdValue,
  }),
);

function mutate(body: Record<string, unknown>, mutations: Mutation[]): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...body };
  for (const m of mutations) {
    if (m.op === 'delete') delete copy[m.key];
    // defineProperty, so a key such as __proto__ becomes a real own key of the JSON object.
    else Object.defineProperty(copy, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

/** An /execute body: mostly well-formed one-leg or multi-leg proposals, a third of them bent. */
export const proposalBody: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    fc.oneof(
      { weight: 3, arbitrary: fc.record({ proposal_id: proposalId, leg, metadata }).map(({ leg: l, ...rest }) => ({ ...rest, ...l })) },
      { weight: 2, arbitrary: fc.record({ proposal_id: proposalId, legs: fc.array(leg, { minLength: 0, maxLength: 18 }), metadata }) },
    ),
    fc.oneof(
      { weight: 2, arbitrary: fc.constant([] as Mutation[]) },
      { weight: 1, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) },
    ),
  )
  .map(([body, mutations]) => mutate(body, mutations));

export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      undefined,
      '',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'text/plain',
      'text/html',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/vnd.api+json',
      'application/json, text/plain',
      'application/octet-stream',
      '*/*',
    ),
  },
);

/** Bodies that are not what they claim: broken, truncated, deep, polluting or odd JSON, or no JSON. */
export const rawPayload: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc
    .tuple(
      proposalBody.map((b) => JSON.stringify(b)),
      fc.nat(),
    )
    .map(([text, cut]) => text.slice(0, cut % Math.max(1, text.length))),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc.integer({ min: 1, max: 8_000 }).map((depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
  fc.constantFrom(
    '{"__proto__":{"polluted":1}}',
    '{"constructor":{"prototype":{"polluted":1}}}',
    '{"proposal_id":"6a1d2f0e-1b9c-4e57-9a39-7d3f2b8c1e42","actor_from":"alice","actor_to":"bob","resource":"energy","amount":1e999}',
    '{"proposal_id":"6a1d2f0e-1b9c-4e57-9a39-7d3f2b8c1e42","actor_from":"alice","actor_to":"bob","resource":"energy","amount":1,"amount":-1}',
    '{"proposal_id":"6a1d2f0e-1b9c-4e57-9a39-7d3f2b8c1e42","actor_from":"alice","actor_to":"bob","resource":"energy","amount":0.1234567}',
    `{"amount":1${'0'.repeat(400)}}`,
    'null',
    'true',
    '1',
    '"x"',
    '[]',
    '{}',
    '',
    ' ',
    '\u0000',
    '\ufeff{}',
    '{"a":"\\u0000"}',
    '{"a":"\\ud800"}',
    '{"a":1,}',
    "{'a':1}",
    'NaN',
  ),
);
