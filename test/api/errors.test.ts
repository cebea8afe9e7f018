import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BusinessErrorCode, databaseRefusals, ErrorCode, errorDescriptions, fromDatabaseRefusal } from '../../src/domain/errors.ts';
import { httpStatus } from '../../src/api/errors.ts';

test('every error code is documented in the README with its HTTP status', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const code of Object.values(ErrorCode)) {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
    assert.ok(row, `README lacks a row for ${code}`);
    assert.match(row, new RegExp(`\\| ${httpStatus[code]} \\|`), `README gives another status for ${code}`);
    assert.ok(errorDescriptions[code].length > 10);
  }
});

test('business rejections are 422 (403 for a forbidden actor) and other codes are not', () => {
  const business = new Set<ErrorCode>(Object.values(BusinessErrorCode).filter((code) => code !== 'FORBIDDEN_ACTOR'));
  assert.ok(business.size > 0);
  for (const code of Object.values(ErrorCode)) assert.equal(httpStatus[code] === 422, business.has(code), code);
  assert.equal(httpStatus.FORBIDDEN_ACTOR, 403);
});

test('every GG code a migration raises is in the one table of database refusals, and maps to a registry code', () => {
  const migrations = new URL('../../src/db/migrations/', import.meta.url);
  const raised = new Set<string>();
  for (const file of readdirSync(migrations)) {
    for (const [, code] of readFileSync(new URL(file, migrations), 'utf8').matchAll(/ERRCODE\s*=\s*'(GG\d{3})'/g)) raised.add(code!);
  }
  // GG004 was raised only by commit_decisions, dropped in migration 000061; a code is never reused.
  const retired = new Set(['GG004']);
  assert.ok(raised.size > 0);
  for (const code of raised) assert.ok(retired.has(code) || databaseRefusals[code], `${code} is raised but not in databaseRefusals`);
  for (const [sqlstate, refusal] of Object.entries(databaseRefusals)) {
    assert.ok(Object.values(ErrorCode).includes(refusal.code), sqlstate);
    assert.ok(!retired.has(sqlstate), `${sqlstate} is retired`);
  }
});

test('a database refusal keeps its message and names its field; the breaker carries its reason; other errors pass', () => {
  const halted = fromDatabaseRefusal(Object.assign(new Error('circuit breaker is open'), { code: 'GG001', detail: 'maintenance' }));
  assert.deepEqual(
    [halted?.code, halted?.message, halted?.details],
    ['CIRCUIT_BREAKER_OPEN', 'circuit breaker is open: maintenance', { reason: 'maintenance' }],
  );
  const bad = fromDatabaseRefusal(Object.assign(new Error('amount: must be positive'), { code: 'GG012' }));
  assert.deepEqual([bad?.code, bad?.details], ['BAD_REQUEST', { field: 'amount' }]);
  const clash = fromDatabaseRefusal(Object.assign(new Error('actor bob exists with another id'), { code: 'GG014' }));
  assert.deepEqual([clash?.code, clash?.details], ['BAD_REQUEST', { field: 'scenario' }]);
  assert.equal(fromDatabaseRefusal(Object.assign(new Error('deadlock'), { code: '40P01' })), undefined);
  assert.equal(fromDatabaseRefusal(Object.assign(new Error('x'), { code: 'toString' })), undefined);
  assert.equal(fromDatabaseRefusal(undefined), undefined);
});
