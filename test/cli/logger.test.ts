import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { prettyLine } from '../../src/cli/logger.ts';

test('a pretty log line is one readable line: time, level, component, message, fields; no stack', () => {
  const json = JSON.stringify({
    level: 50,
    time: Date.UTC(2026, 0, 2, 3, 4, 5),
    pid: 1,
    hostname: 'h',
    name: 'gridgov',
    component: 'runner',
    msg: 'the runner stopped on an error',
    run_id: 'r-1',
    err: { type: 'Error', message: 'validator answered 503', stack: 'Error: validator answered 503\n    at request (client.ts:1:1)' },
  });
  const line = prettyLine(json);
  assert.match(line, /^\d\d:\d\d:\d\d ERROR runner {2}the runner stopped on an error: validator answered 503 {2}run_id=r-1\n$/);
  assert.doesNotMatch(line, /\n\s+at /);
  assert.doesNotMatch(line, /hostname|pid=/);
  assert.equal(prettyLine('not json'), 'not json');
});

test('LOG_FORMAT and LOG_LEVEL are checked and named', () => {
  assert.equal(loadConfig({ LOG_FORMAT: 'json' }).logFormat, 'json');
  assert.equal(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat, 'pretty');
  assert.throws(
    () => loadConfig({ LOG_FORMAT: 'xml' }),
    (e: unknown) => e instanceof ConfigError && /LOG_FORMAT must be json or pretty/.test(e.message),
  );
  assert.throws(
    () => loadConfig({ LOG_LEVEL: 'loud' }),
    (e: unknown) => e instanceof ConfigError && /LOG_LEVEL must be one of/.test(e.message),
  );
});
