import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs, parseRetryAfter, retryDelayMs } from '../src/retry.ts';

const options = { baseMs: 100, maxMs: 1_000 };

test('backoff doubles per retry, keeps the lower half fixed and the upper half random, and stops at the cap', () => {
  assert.deepEqual(
    [0, 1, 2, 3].map((retry) => backoffMs(retry, options, () => 0)),
    [50, 100, 200, 400],
  );
  assert.deepEqual(
    [0, 1, 2, 3].map((retry) => backoffMs(retry, options, () => 1)),
    [100, 200, 400, 800],
  );
  assert.equal(
    backoffMs(4, options, () => 1),
    1_000,
  );
  assert.equal(
    backoffMs(60, options, () => 0.5),
    750,
  );
  assert.equal(
    backoffMs(-1, options, () => 1),
    100,
    'a negative retry counts as the first',
  );
  const draws = new Set(Array.from({ length: 50 }, () => backoffMs(3, options)));
  assert.ok(draws.size > 1, 'the jitter varies the wait');
  for (const wait of draws) assert.ok(wait >= 400 && wait <= 800, `${wait} is outside [400, 800]`);
});

test('Retry-After reads delta-seconds, fractions and HTTP dates, and nothing else', () => {
  const now = Date.parse('Tue, 01 Dec 2026 10:00:00 GMT');
  assert.equal(parseRetryAfter('2', now), 2_000);
  assert.equal(parseRetryAfter('0.25', now), 250);
  assert.equal(parseRetryAfter('Tue, 01 Dec 2026 10:00:07 GMT', now), 7_000);
  assert.equal(parseRetryAfter('Tue, 01 Dec 2026 09:59:00 GMT', now), 0, 'a date in the past means now');
  assert.equal(parseRetryAfter('-3', now), 0);
  for (const header of [null, undefined, '', '  ', 'soon', 'NaN']) assert.equal(parseRetryAfter(header, now), undefined, String(header));
});

test("the server's Retry-After wins over the backoff only when it is longer", () => {
  assert.equal(
    retryDelayMs(0, options, '3', () => 0),
    3_000,
  );
  assert.equal(
    retryDelayMs(3, options, '0.1', () => 0),
    400,
  );
  assert.equal(
    retryDelayMs(1, options, null, () => 0),
    100,
  );
  assert.equal(
    retryDelayMs(1, options, 'garbage', () => 0),
    100,
  );
});
