import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDb } from '../../src/db/db.ts';
import { ADMIN_KEY, bearer, http, startValidator, useSeededValidator } from '../support/validator.ts';
import { sampleSum, scrape, type Sample } from '../support/exposition.ts';
import { tradeBody } from '../support/scenario.ts';
import { waitForValue } from '../support/wait.ts';

const world = useSeededValidator({ env: { GRIDGOV_VERIFY_INTERVAL_MS: '100' } });
const trade = (over: Record<string, unknown> = {}) => tradeBody({ amount: 5, ...over });
const bobWater = "actor_id = (SELECT id FROM actors WHERE name = 'bob') AND resource = 'water'";

/** Scrapes until `accept` holds (the ledger-state gauges follow the background verifier). */
const scrapeUntil = (accept: (samples: Sample[]) => boolean, what: string): Promise<Sample[]> =>
  waitForValue(async () => {
    const samples = await scrape(`${world.v.url}/metrics`);
    return accept(samples) ? samples : undefined;
  }, `a scrape showing ${what}`);

test('/metrics names every series by Prometheus conventions and counts decisions by outcome and code', async () => {
  const applied = trade();
  assert.equal((await http(world.v.url, 'POST', '/execute', applied)).status, 200);
  assert.equal((await http(world.v.url, 'POST', '/execute', applied)).status, 200);
  const rejected = await http(world.v.url, 'POST', '/execute', trade({ amount: 1_000_000 }));
  assert.equal(rejected.status, 422);
  assert.equal((await http(world.v.url, 'POST', '/execute', { ...applied, amount: 6 })).status, 409);

  const response = await fetch(`${world.v.url}/metrics`);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    assert.match(name!, /^[a-z_:][a-z0-9_:]*$/);
    if (type === 'counter') assert.match(name!, /_total$/, `${name} is a counter`);
    assert.doesNotMatch(name!, /_(ms|milliseconds|kb|mb)$/, `${name} is in base units`);
    assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), `${name} has help`);
  }
  const samples = await scrape(`${world.v.url}/metrics`);
  assert.equal(sampleSum(samples, 'gridgov_proposals_decided_total', { outcome: 'applied', error_code: '' }), 1);
  assert.equal(sampleSum(samples, 'gridgov_proposals_decided_total', { outcome: 'replayed' }), 1);
  assert.equal(sampleSum(samples, 'gridgov_proposals_decided_total', { outcome: 'rejected', error_code: rejected.body.error_code }), 1);
  assert.equal(sampleSum(samples, 'gridgov_proposals_decided_total', { outcome: 'conflict', error_code: 'IDEMPOTENCY_CONFLICT' }), 1);
  assert.equal(sampleSum(samples, 'gridgov_group_commit_proposals_sum'), 4);
  assert.equal(
    sampleSum(samples, 'gridgov_group_commit_proposals_count'),
    sampleSum(samples, 'gridgov_group_commit_duration_seconds_count'),
  );
  assert.ok(sampleSum(samples, 'gridgov_group_commit_duration_seconds_sum') > 0);
  assert.equal(
    sampleSum(samples, 'gridgov_http_request_duration_seconds_count', { method: 'POST', route: '/execute', status_code: '200' }),
    2,
  );
  assert.equal(
    sampleSum(samples, 'gridgov_http_request_duration_seconds_count', { method: 'POST', route: '/execute', status_code: '422' }),
    1,
  );
  assert.ok(sampleSum(samples, 'gridgov_ledger_head') >= 1);
  assert.equal(sampleSum(samples, 'gridgov_circuit_breaker_open'), 0);
  assert.equal(sampleSum(samples, 'gridgov_database_up'), 1);
  assert.equal(sampleSum(samples, 'gridgov_hash_chain_ok'), 1);
  assert.equal(sampleSum(samples, 'gridgov_outbox_rows', { target: 'linear', status: 'dead' }), 0);
  assert.equal(sampleSum(samples, 'gridgov_outbox_oldest_pending_age_seconds', { target: 'discord' }), 0);
  assert.ok(sampleSum(samples, 'gridgov_db_pool_connections', { pool: 'primary' }) >= 1);
  assert.equal(sampleSum(samples, 'gridgov_db_pool_waiting_clients', { pool: 'primary' }), 0);
  assert.ok(sampleSum(samples, 'process_resident_memory_bytes') > 1_000_000);
  assert.ok(sampleSum(samples, 'nodejs_eventloop_lag_seconds') >= 0);
});

test('the breaker and a balance changed behind the ledger show in the gauges', async () => {
  await scrapeUntil(
    (s) => sampleSum(s, 'gridgov_drift_verdict_ok') === 1 && sampleSum(s, 'gridgov_drift_verdict_age_seconds') < 5,
    'a fresh verdict',
  );
  const on = await http(world.v.url, 'POST', '/admin/circuit-breaker', { enabled: true, reason: 'metrics test' }, bearer(ADMIN_KEY));
  assert.equal(on.status, 200);
  assert.equal((await http(world.v.url, 'POST', '/execute', trade())).status, 503);
  await world.t.db.query(`UPDATE balances SET amount = amount + 3 WHERE ${bobWater}`);
  try {
    const samples = await scrapeUntil((s) => sampleSum(s, 'gridgov_drift_verdict_ok') === 0, 'the drift');
    assert.equal(sampleSum(samples, 'gridgov_drift_rows'), 1);
    assert.equal(sampleSum(samples, 'gridgov_circuit_breaker_open'), 1);
    assert.equal(sampleSum(samples, 'gridgov_http_request_duration_seconds_count', { route: '/execute', status_code: '503' }), 1);
  } finally {
    await world.t.db.query(`UPDATE balances SET amount = amount - 3 WHERE ${bobWater}`);
    await http(world.v.url, 'POST', '/admin/circuit-breaker', { enabled: false }, bearer(ADMIN_KEY));
  }
  await scrapeUntil(
    (s) => sampleSum(s, 'gridgov_drift_verdict_ok') === 1 && sampleSum(s, 'gridgov_circuit_breaker_open') === 0,
    'recovery',
  );
});

test('a scrape while the database is unreachable reports gridgov_database_up 0 and no stale ledger state', async () => {
  const unreachable = createDb('postgres://gridgov@127.0.0.1:9/none', { max: 1, connectionTimeoutMs: 200 });
  const v = await startValidator(unreachable, { GRIDGOV_LEDGER_GUARD: 'off' });
  try {
    const samples = await scrape(`${v.url}/metrics`);
    assert.equal(sampleSum(samples, 'gridgov_database_up'), 0);
    assert.ok(Number.isNaN(sampleSum(samples, 'gridgov_circuit_breaker_open')));
    assert.ok(Number.isNaN(sampleSum(samples, 'gridgov_drift_verdict_ok')));
    assert.ok(sampleSum(samples, 'process_cpu_seconds_total') > 0);
  } finally {
    await v.close();
    await unreachable.close();
  }
});
