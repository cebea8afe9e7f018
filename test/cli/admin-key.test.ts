import assert from 'node:assert/strict';
import { test } from 'node:test';
import { storedKeyLines } from '../../src/cli/admin-key.ts';

const stored = { key: 'ggk_0123456789abcdefghij', file: '/home/you/gridgov/.gridgov/admin-key', created: true };

test('on a terminal the banner has the sign-in link, which carries the key', () => {
  assert.deepEqual(storedKeyLines(stored, 'http://127.0.0.1:8081', true), [
    '  admin key  /home/you/gridgov/.gridgov/admin-key (created now): every role; GRIDGOV_ADMIN_KEY replaces it',
    '  sign in    http://127.0.0.1:8081/#key=ggk_0123456789abcdefghij',
  ]);
});

test('elsewhere (a file, a pipe, a log collector) it names the key file and never the key', () => {
  const lines = storedKeyLines({ ...stored, created: false }, 'http://127.0.0.1:8081', false);
  assert.deepEqual(lines, [
    '  admin key  /home/you/gridgov/.gridgov/admin-key: every role; GRIDGOV_ADMIN_KEY replaces it',
    '  sign in    http://127.0.0.1:8081, with the key in /home/you/gridgov/.gridgov/admin-key (the link that carries it is printed to a terminal only)',
  ]);
  assert.ok(!lines.join('\n').includes(stored.key));
});
