import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { freePort, movedClusterPath } from '../../src/db/embedded.ts';
import { startFakeGemini } from '../support/fake-gemini.ts';
import { BIN, http } from '../support/validator.ts';
import { waitUntil } from '../support/wait.ts';

/**
 * A newcomer's first hour, on the real processes: `npm start` as the README says, the README's
 * own examples run beside it, the CLI reaching the running server, a runner pointed at the wrong
 * world, a model with a wrong key, and resets.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'gridgov-newcomer-'));
const children: number[] = [];
let port = 0;
let dashboardPort = 0;
let base = '';
let output = '';

function stopAll(): void {
  for (const pid of children) {
    try {
      process.kill(-pid, 'SIGTERM'); // npm and the gridgov it started: their own process group
    } catch {
      // already gone
    }
  }
}
after(async () => {
  stopAll();
  // SIGTERM lets gridgov stop its PostgreSQL; wait for the data dir to be released.
  const owner = join(dataDir, 'owner.pid');
  await waitUntil(() => !existsSync(owner), 'gridgov to release its data folder', { timeoutMs: 20_000, pollMs: 100 }).catch(
    () => undefined,
  );
  rmSync(dataDir, { recursive: true, force: true });
});

const cliEnv = () => ({
  ...process.env,
  GRIDGOV_DATA_DIR: dataDir,
  DATABASE_URL: '',
  GRIDGOV_URL: base,
  LOG_FORMAT: '',
  GRIDGOV_ADMIN_KEY: '',
});

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...cliEnv(), ...env }, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A fenced block of the README, found by the marker comment just above it. */
function readmeBlock(marker: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`<!-- ${marker} -->`);
  assert.ok(at >= 0, `README has no <!-- ${marker} --> block`);
  const match = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(match, `no sh block after ${marker}`);
  return match[1]!;
}

/** Runs README lines in bash as written, with the ports and data dir of this test's server. */
function runReadme(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const local = script.replaceAll('localhost:8080', `127.0.0.1:${port}`).replaceAll('.gridgov/', `${dataDir}/`);
  return new Promise((resolve) => {
    execFile('bash', ['-euo', 'pipefail', '-c', local], { cwd: ROOT, env: cliEnv(), timeout: 180_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function until(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  await waitUntil(condition, what, { timeoutMs, pollMs: 100 }).catch((error: Error) => {
    throw new Error(`${error.message}\n--- npm start said:\n${output}`);
  });
}

before(async () => {
  port = await freePort();
  dashboardPort = await freePort();
  base = `http://127.0.0.1:${port}`;
  assert.match(readmeBlock('test: install'), /^npm start$/m, 'the quick start starts with npm start');
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    detached: true,
    env: {
      ...process.env,
      PORT: String(port),
      GRIDGOV_DASHBOARD_PORT: String(dashboardPort),
      GRIDGOV_DATA_DIR: dataDir,
      DATABASE_URL: '',
      GRIDGOV_ADMIN_KEY: '',
      GRIDGOV_RUNNER_INTERVAL_MS: '300',
      LOG_FORMAT: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child.pid!);
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  await until('the banner', () => /sign in\s+http/.test(output), 120_000);
});

test('npm start prints the real cluster, and where the admin key is kept owner-only, not the key', () => {
  assert.match(output, new RegExp(`validator\\s+${base}`));
  assert.match(output, new RegExp(`database\\s+embedded PostgreSQL in ${join(dataDir, 'pg')}`), 'the banner names where the cluster lives');
  const keyFile = join(dataDir, 'admin-key');
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const key = readFileSync(keyFile, 'utf8').trim();
  assert.match(output, new RegExp(`admin key\\s+${keyFile}`));
  // npm start's stdout is a pipe here: the link that carries the key is for a terminal only.
  assert.ok(!output.includes(key), output);
  assert.ok(output.includes(`sign in    http://127.0.0.1:${dashboardPort}, with the key in ${keyFile}`), output);
  assert.equal(statSync(join(dataDir, 'server.json')).mode & 0o777, 0o600, 'the connection file is readable by its owner only');
});

test('the quick start and the Governance example run as the README writes them, beside npm start', async () => {
  const quick = await runReadme(readmeBlock('test: quick-start'));
  assert.equal(quick.code, 0, quick.stderr);
  assert.match(quick.stdout, /"ledger_head"/);
  assert.match(quick.stdout, /"status":"applied"/);
  const governance = await runReadme(readmeBlock('test: governance'));
  assert.equal(governance.code, 0, `${governance.stdout}\n${governance.stderr}`);
  assert.match(governance.stdout, /"enabled":\s*true/);
  assert.match(governance.stdout, /"enabled":\s*false/);
  assert.match(governance.stdout, /admin\.balance|"action":\s*"admin\.circuit_breaker"|circuit/);
  const hospital = (await http(base, 'GET', '/actors')).body.actors.find((a: { name: string }) => a.name === 'hospital');
  assert.ok(hospital, 'the demo world has a hospital');
  // A halt is one line in the terminal, never a stack trace.
  await until('the runner to resume', () => /trading resumed/.test(output));
  assert.equal(output.match(/halted by the circuit breaker/g)?.length, 1, output);
  assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
  assert.doesNotMatch(output, /proposal rejected/, 'rejections are summed in the epoch line, not logged one by one');
});

test('database commands reach the running server; usage errors exit 2 and name the flag', async () => {
  const list = await cli(['keys', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stderr, '', 'no log line on a plain CLI call');
  for (const args of [['world-state'], ['checkpoint', '--list'], ['verify', '--no-seal'], ['rehydrate', '--dry-run'], ['migrate']]) {
    const run = await cli(args);
    assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
  }
  const state = JSON.parse((await cli(['world-state'])).stdout);
  const past = JSON.parse((await cli(['world-state', '--at', '1'])).stdout);
  assert.equal(past.ledger_head, 1, 'a past state reports its own head');
  assert.ok(past.epoch <= state.epoch);
  const beyond = await cli(['world-state', '--at', '99999999']);
  assert.equal(beyond.code, 2);
  assert.match(beyond.stderr, /--at: ledger entry 99999999 does not exist yet/);
  const role = await cli(['keys', 'create', '--name', 'x', '--role', 'superuser']);
  assert.equal(role.code, 2);
  assert.match(role.stderr, /--role must be one of viewer, operator, admin, system/);
  const interval = await cli(['start', '--interval', 'soon']);
  assert.equal(interval.code, 2);
  assert.match(interval.stderr, /GRIDGOV_RUNNER_INTERVAL_MS/);
  const refused = await cli(['keys', 'list'], { DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none' });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /cannot connect to DATABASE_URL \(127\.0\.0\.1:1\/none\)/);
  const taken = await cli([
    'start',
    '--port',
    '0',
    '--dashboard-port',
    String(dashboardPort),
    '--no-runner',
    '--data-dir',
    join(dataDir, 'other'),
  ]);
  assert.equal(taken.code, 2);
  assert.match(
    taken.stderr,
    new RegExp(`dashboard's port 127\\.0\\.0\\.1:${dashboardPort} is in use; choose another with --dashboard-port`),
  );
});

test('the API names the body of malformed JSON and refuses text/plain with 415', async () => {
  const post = (type: string, body: string) =>
    fetch(`${base}/execute`, { method: 'POST', headers: { 'content-type': type }, body }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as Record<string, unknown>,
    }));
  const malformed = await post('application/json', '{bad');
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error_code, 'MALFORMED_PROPOSAL');
  assert.equal(malformed.body.field, 'body');
  const empty = await fetch(`${base}/execute`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  assert.equal(((await empty.json()) as { field?: string }).field, 'body');
  const text = await post('text/plain', 'hello');
  assert.equal(text.status, 415);
  assert.equal(text.body.error_code, 'UNSUPPORTED_MEDIA_TYPE');
});

test('a runner pointed at another scenario world is refused, naming both; runs that end are marked ended', async () => {
  const key = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
  const before = (await http(base, 'GET', '/world-state')).body;
  const drought = await cli(['runner', '--validator', base, '--scenario', 'scenarios/drought.json', '--epochs', '2', '--key', key]);
  assert.equal(drought.code, 2, drought.stderr);
  assert.match(drought.stderr, /seeded from scenario "demo", not "drought"/);
  assert.match(drought.stderr, /--merge-scenario/);
  const afterwards = (await http(base, 'GET', '/world-state')).body;
  assert.equal(afterwards.actors.length, before.actors.length, 'no actor was added');
  assert.deepEqual(afterwards.constraints, before.constraints, 'no limit was changed');

  const demo = await cli([
    'runner',
    '--validator',
    base,
    '--scenario',
    'scenarios/demo.json',
    '--epochs',
    '1',
    '--seed',
    '7',
    '--key',
    key,
  ]);
  assert.equal(demo.code, 0, demo.stderr);
  const runId = /run ([0-9a-f-]{36}): finished/.exec(demo.stdout)?.[1];
  assert.ok(runId, demo.stdout);
  const run = (await http(base, 'GET', `/runs/${runId}`)).body;
  assert.equal(run.status, 'finished');
  assert.ok(run.ended_at);
});

test('a wrong Gemini key: the cause is named on the epoch line, and the run pauses naming the provider, the host and the fix', async () => {
  const gemini = await startFakeGemini({ apiKey: 'the-right-key' });
  try {
    const key = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
    const run = await cli(
      [
        'runner',
        '--validator',
        base,
        '--scenario',
        'scenarios/demo.json',
        '--epochs',
        '3',
        '--seed',
        'gemini-wrong-key',
        '--strategy',
        'gemini',
        '--key',
        key,
      ],
      {
        GEMINI_API_KEY: 'a-wrong-key',
        GEMINI_BASE_URL: gemini.url,
        GEMINI_RETRIES: '0',
        LOG_FORMAT: 'json',
      },
    );
    // Every agent's turn lost to the key: going on would starve them, so the run stops after one
    // epoch, unfinished (a runner with the same id resumes it), and says what to fix.
    assert.equal(run.code, 1, run.stderr);
    const epochLines = run.stdout.split('\n').filter((l) => l.startsWith('epoch '));
    assert.equal(epochLines.length, 1, run.stdout);
    assert.match(epochLines[0]!, /lost turns: gemini: HTTP 400 API key not valid/);
    const warnings = run.stderr.split('\n').filter((l) => l.startsWith('{') && l.includes('API key not valid'));
    assert.equal(warnings.length, 1, run.stderr);
    assert.equal(JSON.parse(warnings[0]!).level, 40);
    const pause = run.stderr.split('\n').filter((l) => l.startsWith('run paused'));
    assert.equal(pause.length, 1, run.stderr);
    assert.match(pause[0]!, /^run paused after epoch 1: every gemini call failed \(gemini: HTTP 400 API key not valid/);
    assert.ok(pause[0]!.includes(`Check the network to ${new URL(gemini.url).host} and GEMINI_API_KEY and GEMINI_BASE_URL`), pause[0]);
  } finally {
    await gemini.close();
  }
});

test(
  'reset deletes the cluster wherever it lives; deleting the data dir also works',
  { skip: userInfo().uid !== 0 ? 'the moved cluster exists only under root (PostgreSQL runs as postgres)' : false },
  async () => {
    // A checkout in a 0700 folder: the postgres user cannot reach DATA_DIR/pg, so the cluster moves.
    const home = mkdtempSync(join(tmpdir(), 'gridgov-home-'));
    chmodSync(home, 0o700);
    const dir = join(home, 'checkout', '.gridgov');
    mkdirSync(dir, { recursive: true });
    const env = { GRIDGOV_DATA_DIR: dir };
    try {
      const first = await cli(['migrate'], env);
      assert.equal(first.code, 0, first.stderr);
      const moved = movedClusterPath(dir);
      assert.ok(existsSync(join(moved, 'PG_VERSION')), 'the cluster moved where the postgres user can reach it');
      assert.equal(readFileSync(join(dir, 'cluster-location'), 'utf8').trim(), moved);
      const quiet = await cli(['migrate'], env);
      assert.equal(quiet.stderr, '', 'no log line about the postgres user on every call');

      rmSync(dir, { recursive: true, force: true });
      const afresh = await cli(['migrate'], env);
      assert.equal(afresh.code, 0, `deleting the data dir starts afresh: ${afresh.stderr}`);

      const unconfirmed = await cli(['reset'], env);
      assert.equal(unconfirmed.code, 2);
      assert.match(unconfirmed.stderr, /--yes/);
      const reset = await cli(['reset', '--yes'], env);
      assert.equal(reset.code, 0, reset.stderr);
      assert.ok(!existsSync(moved), 'the moved cluster is gone');
      assert.ok(!existsSync(dir), 'the data dir is gone');
    } finally {
      rmSync(home, { recursive: true, force: true });
      rmSync(join(movedClusterPath(dir), '..'), { recursive: true, force: true });
    }
  },
);
