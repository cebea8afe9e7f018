import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ALERT_RULES } from '../support/prometheus.ts';

const RULE_TESTS = fileURLToPath(new URL('../../ops/prometheus/alerts.test.yml', import.meta.url));
const promtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
const skip = promtool ? false : 'promtool is not installed (apt-get install prometheus; .ci/run does)';

const run = (...args: string[]) => spawnSync(promtool, args, { encoding: 'utf8' });

test('promtool accepts the shipped alert rules', { skip }, () => {
  const result = run('check', 'rules', ALERT_RULES);
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

test("promtool's unit tests pass, and every alert has one that sees it quiet and then firing", { skip }, () => {
  const result = run('test', 'rules', RULE_TESTS);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  const alerts = (parse(readFileSync(ALERT_RULES, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string }> }> }).groups.flatMap((g) =>
    g.rules.map((r) => r.alert),
  );
  const tests = (
    parse(readFileSync(RULE_TESTS, 'utf8')) as { tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }> }
  ).tests.flatMap((t) => t.alert_rule_test);
  assert.ok(alerts.length >= 10);
  for (const alert of alerts) {
    const cases = tests.filter((c) => c.alertname === alert);
    assert.ok(
      cases.some((c) => c.exp_alerts.length === 0),
      `${alert} has a case where it stays quiet`,
    );
    assert.ok(
      cases.some((c) => c.exp_alerts.length > 0),
      `${alert} has a case where it fires`,
    );
  }
});
