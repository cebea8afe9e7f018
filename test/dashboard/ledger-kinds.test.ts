import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { LedgerKind } from '../../src/ledger/writing/append.ts';

test("the ledger page's Kind filter lists every kind GET /ledger accepts", () => {
  const source = readFileSync(new URL('../../src/dashboard/public/js/pages/ledger.js', import.meta.url), 'utf8');
  const list = /const KINDS = \[([^\]]*)\]/.exec(source)?.[1];
  assert.ok(list, 'ledger.js declares KINDS');
  const kinds = [...list.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]);
  assert.deepEqual(kinds.sort(), Object.values(LedgerKind).sort());
});
