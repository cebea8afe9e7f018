import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import pg from 'pg';
import { BIN, http } from '../support/validator.ts';
import { waitUntil } from '../support/wait.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'gridgov-start-'));
const started: number[] = [];
after(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const pidFile = join(dataDir, 'pg', 'postmaster.pid');
  if (existsSync(pidFile)) {
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGQUIT');
    } catch {
      // already gone
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
});

const env = { ...process.env, GRIDGOV_DATA_DIR: dataDir, PORT: '0', DATABASE_URL: '', LOG_LEVEL: 'warn', GRIDGOV_RUNNER: 'off' };

function start() {
  const child = spawn(process.execPath, [BIN, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child.pid!);
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    // Generous: on a busy machine an embedded PostgreSQL takes long to start; this only names a hang.
    const timer = setTimeout(() => reject(new Error(`gridgov start did not come up:\n${output}`)), 180_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /validator\s+(http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`gridgov start exited with ${code}:\n${output}`)));
  });
  return { child, url, exited, output: () => output };
}

function postmasterPid(): number {
  return Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('gridgov start runs on its embedded database, survives kill -9 and stops its server on exit', async () => {
  const first = start();
  const url = await first.url;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  // stdout is a pipe here, not a terminal: the banner says where the key is, never the key.
  await waitUntil(() => first.output().includes('Press Ctrl+C'), 'the whole banner');
  const keyFile = join(dataDir, 'admin-key');
  assert.ok(!first.output().includes(readFileSync(keyFile, 'utf8').trim()), first.output());
  assert.match(first.output(), /sign in\s+http:\/\/127\.0\.0\.1:\d+, with the key in (.+) \(/);
  assert.ok(first.output().includes(`with the key in ${keyFile} (`), first.output());
  const state = await http(url, 'GET', '/world-state');
  assert.equal(state.status, 200);
  assert.ok(state.body.actors.length >= 8, 'the demo scenario was seeded into the empty database');
  const [a, b] = state.body.actors;
  const proposal = { proposal_id: randomUUID(), actor_from: a.name, actor_to: b.name, resource: 'credits', amount: 1.5 };
  const applied = await http(url, 'POST', '/execute', proposal);
  assert.equal(applied.status, 200);
  // The validator connects as the generated application login, not as the cluster's owner.
  const port = readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[3];
  const owner = new pg.Client({
    host: '127.0.0.1',
    port: Number(port),
    user: 'gridgov',
    database: 'gridgov',
    password: readFileSync(join(dataDir, 'password'), 'utf8').trim(),
  });
  await owner.connect();
  const { rows } = await owner.query(
    "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = 'gridgov' AND application_name = 'gridgov'",
  );
  await owner.end();
  assert.deepEqual(
    rows.map((r: { usename: string }) => r.usename),
    ['gridgov_validator'],
  );
  const dashboard = /dashboard\s+(http:\/\/\S+)/.exec(first.output())?.[1];
  assert.ok(dashboard, `the banner names the dashboard:\n${first.output()}`);
  assert.equal((await fetch(`${dashboard}/`)).status, 200);
  const throughDashboard = await http(dashboard, 'GET', '/api/world-state');
  assert.equal(throughDashboard.body.ledger_head, applied.body.ledger_ids[0], 'the dashboard reads the validator it runs beside');

  // A killed process leaves its postmaster behind; the next start clears it and finds the data.
  const orphan = postmasterPid();
  first.child.kill('SIGKILL');
  await first.exited;
  assert.ok(alive(orphan), 'the postmaster outlives a SIGKILLed owner');

  const second = start();
  const url2 = await second.url;
  assert.ok(!alive(orphan) || postmasterPid() !== orphan, 'the stale server was stopped');
  const replay = await http(url2, 'POST', '/execute', proposal);
  assert.equal(replay.status, 200);
  assert.equal(replay.body.replayed, true, 'the acknowledged trade survived the kill');
  assert.deepEqual(replay.body.ledger_ids, applied.body.ledger_ids);
  const again = await http(url2, 'GET', '/world-state');
  assert.equal(again.body.ledger_head, applied.body.ledger_ids[0], 'the demo was not seeded twice');

  const server = postmasterPid();
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0);
  assert.ok(!alive(server), 'stopping gridgov stops its PostgreSQL');
});

test('Ctrl+C stops the runner, then the validator and dispatcher, then the database, one calm line each; the CLI finds the validator', async () => {
  // Its own process group, as a terminal's foreground job: Ctrl+C signals the whole group.
  const child = spawn(process.execPath, [BIN, 'start', '--dashboard-port', '0'], {
    env: { ...env, LOG_LEVEL: 'info', GRIDGOV_RUNNER: 'on', GRIDGOV_RUNNER_INTERVAL_MS: '100', GRIDGOV_ADMIN_KEY: '', GRIDGOV_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  started.push(child.pid!);
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitUntil(
    () => /^epoch 2 /m.test(output),
    () => `two epochs:\n${output}`,
    { timeoutMs: 180_000 },
  );
  const validator = /validator\s+(http:\/\/\S+)/.exec(output)![1]!;

  // Another terminal: no --url, no GRIDGOV_URL, no key: the data dir names the validator and its key.
  const cliEnv = { ...env, GRIDGOV_URL: '', GRIDGOV_ADMIN_KEY: '', GRIDGOV_RUNNER_KEY: '', GRIDGOV_API_KEY: '', LOG_LEVEL: 'warn' };
  const run = promisify(execFile);
  const audit = await run(process.execPath, [BIN, 'admin', 'audit', '--limit', '1'], { env: cliEnv });
  assert.ok(Array.isArray(JSON.parse(audit.stdout).entries), audit.stdout);
  const runner = await run(
    process.execPath,
    [BIN, 'runner', '--scenario', 'scenarios/demo.json', '--epochs', '1', '--run-id', randomUUID()],
    { env: { ...cliEnv, GRIDGOV_RUNNER_METRICS_PORT: '0' }, cwd: new URL('../..', import.meta.url).pathname },
  );
  assert.match(runner.stdout, /epoch 1\/1/, runner.stderr);
  assert.equal(JSON.parse(readFileSync(join(dataDir, 'server.json'), 'utf8')).validator.url, validator);

  const server = postmasterPid();
  process.kill(-child.pid!, 'SIGINT');
  process.kill(-child.pid!, 'SIGINT'); // npm start forwards the terminal's signal: a second one
  assert.equal(await exited, 0, output);
  const stops = output.split('\n').filter((line) => line.startsWith('stopped'));
  assert.deepEqual(stops, [
    'stopped  runner (its run is marked stopped)',
    'stopped  validator, dashboard and dispatcher',
    'stopped  database',
  ]);
  assert.doesNotMatch(output, /ECONNREFUSED|request failed|\n\s+at /, 'no error and no stack trace on the way out');
  assert.ok(!alive(server), 'the database stopped');
  assert.ok(!existsSync(join(dataDir, 'server.json')), 'nothing left that names a stopped validator');
});

test('two busy ports are named together, before anything starts', async () => {
  const holders = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<Server>((resolve) => {
          const server = createServer();
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const [api, ui] = holders.map((h) => (h.address() as { port: number }).port);
  try {
    const run = promisify(execFile);
    await assert.rejects(
      run(process.execPath, [BIN, 'start', '--port', String(api), '--dashboard-port', String(ui), '--no-runner'], { env }),
      (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 2, error.stderr);
        assert.match(error.stderr, new RegExp(`validator's port 127\\.0\\.0\\.1:${api} is in use; choose another with --port or PORT`));
        assert.match(error.stderr, new RegExp(`dashboard's port 127\\.0\\.0\\.1:${ui} is in use; choose another with --dashboard-port`));
        assert.doesNotMatch(error.stderr, /ledger guard|pool/);
        return true;
      },
    );
  } finally {
    for (const h of holders) h.close();
  }
});

test('gridgov migrate is idempotent and the CLI reports usage errors', async () => {
  const run = promisify(execFile);
  const first = await run(process.execPath, [BIN, 'migrate'], { env });
  assert.match(first.stdout, /schema is up to date|applied \d+ migration/);
  const second = await run(process.execPath, [BIN, 'migrate'], { env });
  assert.match(second.stdout, /schema is up to date/);
  await assert.rejects(
    run(process.execPath, [BIN, 'seed'], { env }),
    (error: { code: number; stderr: string }) => error.code === 2 && /--scenario FILE is required/.test(error.stderr),
  );
  await assert.rejects(run(process.execPath, [BIN, 'frobnicate'], { env }), (error: { code: number }) => error.code === 2);
  await assert.rejects(
    run(process.execPath, [BIN, 'validator', '--port', 'abc'], { env }),
    (error: { code: number; stderr: string }) => error.code === 2 && /PORT must be an integer/.test(error.stderr),
  );
});
