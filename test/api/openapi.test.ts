import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useSeededValidator } from '../support/validator.ts';

// The OpenAPI document against the routes the validator really serves: every documented
// operation is routed, and every route is documented. A route added without its description, or
// a description left behind by a removed route, fails here.

const world = useSeededValidator();

/** Every "METHOD /path" the app routes, read from Fastify's own route tree, in OpenAPI's spelling. */
function routedOperations(tree: string): Set<string> {
  const operations = new Set<string>();
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
      if (method !== 'HEAD' && method !== 'OPTIONS') operations.add(`${method} ${path}`);
    }
  }
  return operations;
}

test('the OpenAPI document and the routes name the same operations', async () => {
  const doc = (await world.v.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
    paths: Record<string, Record<string, unknown>>;
  }>();
  const documented = new Set(
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((k) => k !== 'parameters')
        .map((method) => `${method.toUpperCase()} ${path}`),
    ),
  );
  const routed = routedOperations(world.v.app.printRoutes({ commonPrefix: false }));
  assert.ok(routed.has('POST /execute'), `the route tree was not read: ${[...routed].join(', ')}`);
  // The documentation pages describe the API rather than being part of it.
  const undocumentedByDesign = new Set(['GET /docs', 'GET /openapi.json']);
  assert.deepEqual(
    [...routed].filter((op) => !documented.has(op) && !undocumentedByDesign.has(op)).sort(),
    [],
    'routed but not documented',
  );
  assert.deepEqual([...documented].filter((op) => !routed.has(op)).sort(), [], 'documented but not routed');
});
