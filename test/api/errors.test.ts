import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BusinessErrorCode, ErrorCode, errorDescriptions } from '../../src/domain/errors.ts';
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
