import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { prometheusBinary, rulesWithShortFor, startPrometheus, type PrometheusServer } from '../support/prometheus.ts';
import { ADMIN_KEY, BIN, bearer, http, spawnValidator, type ValidatorProcess } from '../support/validator.ts';
import { waitForValue } from '../support/wait.ts';

const SCENARIO = fileURLToPath(new URL('../../scenarios/demo.json', import.meta.url));
const DASHBOARD = fileURLToPath(new URL('../../ops/grafana/gridgov.json', import.meta.url));
const binary = prometheusBinary();

interface Started {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** A gridgov command as its own process; resolves with the URL its first line matching `pattern` names. */
function startCommand(args: string[], env: Record<string, string>, pattern: RegExp): Promise<Started> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code}:\n${output}`));
    });
  });
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Polls until `check` returns a value (not undefined), or fails naming what it waited for. */
const waitFor = <T>(what: string, check: () => Promise<T | undefined>): Promise<T> => waitForValue(check, what, { pollMs: 200 });

const hostOf = (url: string) => new URL(url).host;

let t: TestDatabase;
let validator: ValidatorProcess | undefined;
let dispatcher: Started | undefined;
let runner: Started | undefined;
let prometheus: PrometheusServer | undefined;

before(async () => {
  if ('missing' in binary) return;
  t = await createTestDatabase();
  validator = await spawnValidator(t.url, { GRIDGOV_VERIFY_INTERVAL_MS: '200', GRIDGOV_SEAL_INTERVAL_MS: '200' });
  dispatcher = await startCommand(
    ['dispatcher'],
    { DATABASE_URL: t.url, GRIDGOV_DISPATCHER_METRICS_PORT: '0' },
    /metrics on (http:\/\/\S+)/,
  );
  runner = await startCommand(
    ['runner', '--validator', validator.url, '--scenario', SCENARIO, '--epochs', '100000', '--interval', '300'],
    { GRIDGOV_ADMIN_KEY: ADMIN_KEY, GRIDGOV_RUNNER_METRICS_PORT: '0' },
    /runner metrics on (http:\/\/\S+)/,
  );
  prometheus = await startPrometheus(
    binary.path,
    {
      'gridgov-validator': [hostOf(validator.url)],
      'gridgov-dispatcher': [hostOf(dispatcher.url)],
      'gridgov-runner': [hostOf(runner.url)],
    },
    rulesWithShortFor('3s'),
  );
});

after(async () => {
  await prometheus?.stop();
  await stopChild(runner?.child);
  await stopChild(dispatcher?.child);
  await stopChild(validator?.child);
  await t?.drop();
});

/** One number from an instant query, once it has exactly one series. */
async function scalar(expr: string): Promise<number | undefined> {
  const result = await prometheus!.query(expr);
  return result.length === 1 ? Number(result[0]!.value[1]) : undefined;
}

test(
  'a real Prometheus scrapes a validator, a dispatcher and a runner and finds every series with sane values',
  { skip: 'missing' in binary ? binary.missing : false },
  async () => {
    for (const job of ['gridgov-validator', 'gridgov-dispatcher', 'gridgov-runner']) {
      await waitFor(`${job} to be up`, async () => ((await scalar(`up{job="${job}"}`)) === 1 ? true : undefined));
      assert.ok((await waitFor(`${job}'s memory`, () => scalar(`process_resident_memory_bytes{job="${job}"}`))) > 10_000_000);
      assert.ok((await waitFor(`${job}'s event-loop lag`, () => scalar(`nodejs_eventloop_lag_seconds{job="${job}"}`))) >= 0);
    }
    // The runner's trades reach the validator and its epochs are counted.
    const epochs = await waitFor('an epoch of the runner', async () => {
      const n = await scalar('gridgov_runner_epochs_total');
      return n !== undefined && n >= 2 ? n : undefined;
    });
    assert.ok(epochs >= 2);
    const sent = await waitFor('proposals decided', async () => {
      const n = await scalar('sum(gridgov_proposals_decided_total{job="gridgov-validator"})');
      return n !== undefined && n > 0 ? n : undefined;
    });
    assert.ok(sent > 0);
    assert.ok((await waitFor('runner proposals', () => scalar('sum(gridgov_runner_proposals_total)'))) > 0);
    assert.ok((await waitFor('epoch durations', () => scalar('gridgov_runner_epoch_duration_seconds_count'))) >= 2);
    assert.equal(
      await waitFor('model tokens', () => scalar('sum(gridgov_runner_model_tokens_total)')),
      0,
      'heuristic agents call no model',
    );
    assert.ok(
      (await waitFor('batch requests', () =>
        scalar('sum(gridgov_http_request_duration_seconds_count{route="/execute/batch",status_code="200"})'),
      )) > 0,
    );
    assert.ok((await waitFor('group commits', () => scalar('sum(gridgov_group_commit_proposals_sum)'))) > 0);
    assert.ok(
      (await waitFor('p99 latency', () =>
        scalar('histogram_quantile(0.99, sum by (le) (rate(gridgov_http_request_duration_seconds_bucket[1m])))'),
      )) > 0,
    );
    assert.ok((await waitFor('ledger head', () => scalar('gridgov_ledger_head'))) > 0);
    assert.equal(await waitFor('a verdict', () => scalar('gridgov_drift_verdict_ok')), 1);
    assert.ok((await waitFor('verdict age', () => scalar('gridgov_drift_verdict_age_seconds'))) >= 0);
    assert.equal(await scalar('gridgov_circuit_breaker_open'), 0);
    assert.equal(await scalar('gridgov_hash_chain_ok'), 1);
    assert.equal(await scalar('gridgov_database_up'), 1);
    assert.equal(await scalar('sum(gridgov_outbox_rows{status="dead"})'), 0);
    assert.ok((await waitFor('validator pool', () => scalar('gridgov_db_pool_connections{job="gridgov-validator",pool="primary"}'))) >= 1);
    assert.ok((await waitFor('dispatcher pool', () => scalar('gridgov_db_pool_connections{job="gridgov-dispatcher"}'))) >= 1);
    assert.equal(await scalar('gridgov_db_pool_waiting_clients{job="gridgov-dispatcher"}'), 0);
  },
);

test(
  "the Grafana dashboard's queries run on Prometheus and name only series the processes expose",
  { skip: 'missing' in binary ? binary.missing : false },
  async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
    };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((target) => ({ title: p.title, expr: target.expr })));
    assert.ok(exprs.length >= 30);
    // Every series, including those still without samples, once each job was scraped.
    const names = await waitFor('every job scraped', async () => {
      const seen = await prometheus!.metricNames();
      return ['gridgov_drift_verdict_ok', 'gridgov_outbox_deliveries_total', 'gridgov_runner_epochs_total'].every((n) => seen.has(n))
        ? seen
        : undefined;
    });
    let withData = 0;
    for (const { title, expr } of exprs) {
      const concrete = expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', 'gridgov-.*');
      const result = await prometheus!.query(concrete).catch((error: Error) => assert.fail(`${title}: ${concrete}: ${error.message}`));
      if (result.length > 0) withData++;
      for (const [name] of concrete.matchAll(/\b(?:gridgov|nodejs|process)_[a-z0-9_]+/g)) {
        const base = name.replace(/_(bucket|count|sum)$/, '');
        assert.ok(names.has(name) || names.has(base), `${title}: ${name} is exposed by no process`);
      }
    }
    assert.ok(withData >= exprs.length * 0.7, `${withData} of ${exprs.length} panel queries have data`);
  },
);

test(
  'a balance changed behind the ledger and the breaker turned on make their alerts go pending, then firing',
  { skip: 'missing' in binary ? binary.missing : false },
  async () => {
    const firing = await prometheus!.alerts();
    assert.deepEqual(
      firing.map((a) => a.labels.alertname).filter((n) => n === 'GridgovLedgerDrift' || n === 'GridgovCircuitBreakerOpen'),
      [],
    );

    // As the database owner, behind the validator's back.
    await t.db.query(
      'UPDATE balances SET amount = amount + 1 WHERE (actor_id, resource) = (SELECT actor_id, resource FROM balances ORDER BY actor_id, resource LIMIT 1)',
    );
    const on = await http(validator!.url, 'POST', '/admin/circuit-breaker', { enabled: true, reason: 'alert test' }, bearer(ADMIN_KEY));
    assert.equal(on.status, 200);

    const seen = new Map<string, Set<string>>([
      ['GridgovLedgerDrift', new Set()],
      ['GridgovCircuitBreakerOpen', new Set()],
    ]);
    await waitFor('both alerts firing', async () => {
      for (const alert of await prometheus!.alerts()) seen.get(alert.labels.alertname!)?.add(alert.state);
      return [...seen.values()].every((states) => states.has('firing')) ? true : undefined;
    });
    for (const [name, states] of seen) assert.deepEqual([...states].sort(), ['firing', 'pending'], `${name} went pending before firing`);
    const drift = (await prometheus!.alerts()).find((a) => a.labels.alertname === 'GridgovLedgerDrift');
    assert.equal(drift?.labels.job, 'gridgov-validator');
    assert.equal(Number(drift?.value), 1, 'one balance row drifted');
  },
);
