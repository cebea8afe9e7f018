import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The rules of docs/architecture.md ("The rooms"), read from the imports: arrows only point down.
const SRC = fileURLToPath(new URL('../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** A file's room: its folder under src/ (ledger/ has three), or `base` for config, agent-config and retry. */
function roomOf(path: string): string {
  const [first, second] = relative(SRC, path).split('/');
  if (second === undefined) return 'base';
  return first === 'ledger' ? `ledger/${second}` : first!;
}

const imports = files(SRC).flatMap((file) =>
  [...readFileSync(file, 'utf8').matchAll(/^import (type )?[^;]*? from '(\.[^']+)';/gm)].map(([, typeOnly, target]) => ({
    from: roomOf(file),
    to: roomOf(resolve(dirname(file), target!)),
    typeOnly: typeOnly !== undefined,
    line: `${relative(SRC, file)} → ${target}`,
  })),
);

const allowed: Record<string, string[]> = {
  domain: [],
  base: ['base'],
  observability: ['base'],
  db: ['base', 'observability'],
  'ledger/writing': ['db', 'domain', 'observability', 'base'],
  'ledger/integrity': ['db', 'domain', 'observability', 'base'],
  'ledger/reads': ['ledger/writing', 'ledger/integrity', 'db', 'domain', 'observability', 'base'],
};

test('domain, config, observability, db and ledger import only the rooms drawn below them', () => {
  assert.ok(imports.length > 100);
  const upward = imports.filter(({ from, to }) => from !== to && allowed[from] !== undefined && !allowed[from].includes(to));
  assert.deepEqual(
    upward.map((i) => i.line),
    [],
  );
});

test('only cli/ uses experiments/, and nothing imports cli/', () => {
  const wrong = imports.filter(({ from, to }) => from !== to && ((to === 'experiments' && from !== 'cli') || to === 'cli'));
  assert.deepEqual(
    wrong.map((i) => i.line),
    [],
  );
});

test('the runner and the dashboard reach the ledger and runs by HTTP: types only', () => {
  const code = imports.filter(
    ({ from, to, typeOnly }) =>
      ['runner', 'dashboard'].includes(from) && !typeOnly && (to.startsWith('ledger') || to === 'runs' || to === 'api'),
  );
  assert.deepEqual(
    code.map((i) => i.line),
    [],
  );
});
