import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { dumpSchema } from '../../src/db/schema.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

/**
 * src/db/schema.sql is the schema the migrations leave, generated: a migration that changes a table
 * or a function without `npm run schema` fails here, naming the first line that differs.
 */

const FILE = new URL('../../src/db/schema.sql', import.meta.url);

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase(2);
});
after(() => t.drop());

test('src/db/schema.sql is what the migrations make (npm run schema writes it again)', async () => {
  const dumped = await dumpSchema(t.db);
  if (process.env.UPDATE_SCHEMA === '1') writeFileSync(FILE, dumped);
  const committed = readFileSync(FILE, 'utf8');
  const a = committed.split('\n');
  const b = dumped.split('\n');
  const first = a.findIndex((line, i) => line !== b[i]);
  assert.ok(
    committed === dumped,
    `src/db/schema.sql differs from the migrated schema at line ${first + 1}: ${JSON.stringify(a[first])} vs ${JSON.stringify(b[first])}; run npm run schema`,
  );
});
