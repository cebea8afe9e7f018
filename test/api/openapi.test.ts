import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { OpenApiDocument, Operation } from '../../src/api/openapi.ts';
import { ADMIN_KEY, bearer, useSeededValidator } from '../support/validator.ts';

// /openapi.json is generated from the zod schemas the routes parse with (src/api/openapi.ts). Here
// it is held against the routes the validator really serves, against OpenAPI 3.1's own schema,
// and against what the routes refuse: a limit the document states is the limit that is enforced.

const world = useSeededValidator();
const admin = bearer(ADMIN_KEY);

async function document(): Promise<OpenApiDocument> {
  const reply = await world.v.app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(reply.statusCode, 200);
  return reply.json<OpenApiDocument>();
}

function operations(doc: OpenApiDocument): Array<{ method: string; path: string; op: Operation }> {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ method, path, op })));
}

/** Every "METHOD /path" the app routes, read from Fastify's own route tree, in OpenAPI's spelling. */
function routedOperations(tree: string): Set<string> {
  const routed = new Set<string>();
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│├└─\s]*)(\S.*?) \(([A-Z, ]+)\)$/.exec(line) ?? /^([│├└─\s]*)(\S.*)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4 - 1;
    stack.length = depth;
    stack.push(match[2]!);
    const path = stack.join('').replace(/:([A-Za-z_]+)/g, '{$1}');
    for (const method of (match[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean)) {
      if (method !== 'HEAD' && method !== 'OPTIONS') routed.add(`${method} ${path}`);
    }
  }
  return routed;
}

/** A concrete path for a templated one: a uuid for run ids, 1 for epochs. */
const concrete = (path: string) => path.replace('{run_id}', '00000000-0000-4000-8000-000000000001').replace('{epoch}', '1');

test('the OpenAPI document and the routes name the same operations', async () => {
  const doc = await document();
  const documented = new Set(operations(doc).map(({ method, path }) => `${method.toUpperCase()} ${path}`));
  const routed = routedOperations(world.v.app.printRoutes({ commonPrefix: false }));
  assert.ok(routed.has('POST /execute'), `the route tree was not read: ${[...routed].join(', ')}`);
  // The readable page describes the API rather than being part of it.
  const hidden = new Set(['GET /docs']);
  assert.deepEqual(
    [...routed].filter((op) => !documented.has(op) && !hidden.has(op)),
    [],
    'routed but not documented: give the route a config.openapi (docs/architecture.md)',
  );
  assert.deepEqual(
    [...documented].filter((op) => !routed.has(op)),
    [],
    'documented but not routed',
  );
});

test('the document is valid OpenAPI 3.1', async () => {
  const raw = (await world.v.app.inject({ method: 'GET', url: '/openapi.json' })).json<Record<string, unknown>>();
  const result = await new Validator().validate(raw);
  assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
});

test('every path parameter is documented, required, with the schema that parses it', async () => {
  for (const { method, path, op } of operations(await document())) {
    const inPath = [...path.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1]);
    const documented = op.parameters.filter((p) => p.in === 'path');
    assert.deepEqual(
      documented.map((p) => p.name),
      inPath,
      `${method} ${path}`,
    );
    for (const p of documented) assert.ok(p.required && (p.schema.type ?? p.schema.anyOf), `${method} ${path} ${p.name}`);
  }
});

test('every query parameter with a documented maximum is refused above it, naming the parameter', async () => {
  const bounded = operations(await document()).flatMap(({ method, path, op }) =>
    method === 'get'
      ? op.parameters
          .filter((p) => p.in === 'query' && typeof p.schema.maximum === 'number')
          .map((p) => ({ path, name: p.name, over: (p.schema.maximum as number) + 1 }))
      : [],
  );
  assert.ok(bounded.length >= 8, `too few bounded parameters found: ${bounded.length}`);
  for (const { path, name, over } of bounded) {
    const reply = await world.v.app.inject({ method: 'GET', url: `${concrete(path)}?${name}=${over}`, headers: admin });
    assert.equal(reply.statusCode, 400, `${path}?${name}=${over}: ${reply.body}`);
    assert.equal(reply.json().field, name, `${path}?${name}=${over}`);
  }
});

test('a query parameter the document does not list is refused, naming it', async () => {
  const withQuery = operations(await document()).filter(
    ({ method, op }) => method === 'get' && op.parameters.some((p) => p.in === 'query'),
  );
  assert.ok(withQuery.length >= 8, `too few operations with query parameters: ${withQuery.length}`);
  for (const { path } of withQuery) {
    const reply = await world.v.app.inject({ method: 'GET', url: `${concrete(path)}?undocumented=1`, headers: admin });
    assert.equal(reply.statusCode, 400, `${path}: ${reply.body}`);
    assert.equal(reply.json().field, 'undocumented', path);
  }
});

test('a body holding none of the documented fields is refused, naming a field the document requires', async () => {
  const withBody = operations(await document()).filter(({ op }) => op.requestBody);
  assert.ok(withBody.length >= 8, `too few operations with a body: ${withBody.length}`);
  for (const { method, path, op } of withBody) {
    const schema = (op.requestBody as { content: Record<string, { schema: Record<string, unknown> }> }).content['application/json']!
      .schema as { required?: string[]; anyOf?: Array<{ required?: string[] }> };
    const required = new Set([...(schema.required ?? []), ...(schema.anyOf ?? []).flatMap((branch) => branch.required ?? [])]);
    assert.ok(required.size > 0, `${method} ${path} documents no required field`);
    const reply = await world.v.app.inject({
      method: method.toUpperCase() as 'POST' | 'PUT',
      url: concrete(path),
      headers: admin,
      payload: { undocumented: 1 },
    });
    assert.equal(reply.statusCode, 400, `${method} ${path}: ${reply.body}`);
    const field = reply.json<{ field: string }>().field;
    assert.ok(required.has(field) || field === 'undocumented', `${method} ${path} named ${field}, not one of ${[...required].join(', ')}`);
  }
});
