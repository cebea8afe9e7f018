import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';

// The lint configuration is code too: a file with the mistakes it exists to catch must fail it.
// The planted file sits beside this test (inside tsconfig's project, so the type-aware rules
// see it) and is removed whatever happens.

const PLANTED = `
export async function save(): Promise<void> {}

export function forget(): void {
  save();
}

export function pass(): void {
  [1, 2].forEach(async () => save());
  setTimeout(save, 10);
}

export function unused(): number {
  const never = 1;
  return 2;
}
`;

test('a planted floating promise, misused promise and unused variable fail the lint', async () => {
  const path = join(import.meta.dirname, `planted-${process.pid}.ts`);
  writeFileSync(path, PLANTED);
  try {
    const [result] = await new ESLint({ cwd: join(import.meta.dirname, '..', '..') }).lintFiles([path]);
    assert.ok(result, 'eslint linted the planted file');
    const rules = new Set(result.messages.map((m) => m.ruleId));
    assert.equal(result.errorCount, result.messages.length, 'every finding is an error, so `npm run lint` fails');
    for (const rule of [
      '@typescript-eslint/no-floating-promises',
      '@typescript-eslint/no-misused-promises',
      '@typescript-eslint/no-unused-vars',
    ]) {
      assert.ok(rules.has(rule), `${rule} did not fire: ${[...rules].join(', ')}`);
    }
  } finally {
    rmSync(path, { force: true });
  }
});

test('a file without such mistakes passes, so the check above is not vacuous', async () => {
  const [result] = await new ESLint({ cwd: join(import.meta.dirname, '..', '..') }).lintFiles([import.meta.filename]);
  assert.deepEqual(result?.messages, []);
});
