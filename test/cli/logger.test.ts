import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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

test('a log line written while the progress bar is drawn goes above it, and the bar is drawn again below', async () => {
  // A child process whose stderr is a pipe the test reads; the bar believes it draws on a terminal.
  const script = `
    import { createLogger, keepBelowLogLines } from './src/cli/logger.ts';
    import { createProgress } from './src/experiments/progress.ts';
    const terminal = Object.assign(Object.create(process.stderr), { isTTY: true, write: (s) => process.stderr.write(s) });
    const progress = createProgress(terminal, () => 1000);
    keepBelowLogLines(progress);
    progress.update([{ status: 'running', epochs_done: 3, cost_usd: 0.000003 }]);
    createLogger({ logLevel: 'info', logFormat: 'pretty' }, 'experiment').info('an episode started');
    progress.end();
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  assert.equal(await new Promise((resolve) => child.on('exit', resolve)), 0, err);
  const bar = /\[[#.]{20}\] 0\/1 episodes {2}[\d.]+ epochs\/s {2}\$0\.0000/;
  // Drawn, erased to a clean line, the log line, the bar again, and the final newline.
  assert.match(
    err,
    new RegExp(`^\\r${bar.source}\\r +\\r\\d\\d:\\d\\d:\\d\\d INFO  experiment {2}an episode started\\n\\r${bar.source}\\n$`),
  );
  assert.doesNotMatch(err, /\$0\.0000\d\d:\d\d/, 'no log line glued to the bar');
});
