import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/db/embedded.ts';
import { BIN } from '../support/validator.ts';

test('gridgov dispatcher outlives a database it cannot reach, and stops cleanly on SIGTERM', async () => {
  // Nothing listens on this port: every pass fails, and the dispatcher holds no socket at all.
  const url = `postgres://gridgov:secret@127.0.0.1:${await freePort()}/gridgov`;
  const child = spawn(process.execPath, [BIN, 'dispatcher'], {
    env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'silent', GRIDGOV_OUTBOX_POLL_MS: '50' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const early = await Promise.race([exited.then((code) => `exited with ${code}`), sleep(3_000).then(() => 'running')]);
  if (early !== 'running') assert.fail(`the dispatcher ${early} while the database was down`);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
