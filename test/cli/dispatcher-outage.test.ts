import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { freePort } from '../../src/db/embedded.ts';
import { BIN } from '../support/validator.ts';
import { waitUntil } from '../support/wait.ts';

test('gridgov dispatcher outlives a database it cannot reach, and stops cleanly on SIGTERM', async () => {
  // Nothing listens on this port: every pass fails, and the dispatcher holds no socket at all.
  const url = `postgres://gridgov:secret@127.0.0.1:${await freePort()}/gridgov`;
  const child = spawn(process.execPath, [BIN, 'dispatcher'], {
    env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'error', GRIDGOV_OUTBOX_POLL_MS: '50' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve((exitCode = code))));
  // Three failed passes, each logged, and the process is still there for the next one.
  const failedPasses = () => output.split('dispatcher pass failed').length - 1;
  await waitUntil(() => exitCode !== undefined || failedPasses() >= 3, 'three failed dispatcher passes');
  assert.equal(exitCode, undefined, `the dispatcher exited with ${exitCode} while the database was down:\n${output}`);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
