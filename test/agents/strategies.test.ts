import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AgentConfig } from '../../src/agent-config.ts';
import { createStrategies, StrategyUnavailableError } from '../../src/agents/strategies.ts';
import { parseScenario } from '../../src/domain/scenario.ts';
import { strategyNames, strategyTable } from '../../src/domain/strategies.ts';
import { command as runner } from '../../src/cli/runner.ts';
import { strategyFlag, UsageError } from '../../src/cli/args.ts';

const scenarioWith = (strategy: string) =>
  parseScenario({ name: 'one', resources: [{ name: 'energy' }], actors: [{ name: 'a', kind: 'agent', strategy }] });

test('the scenario schema, the --strategy flag and the usage line take their names from the one table', () => {
  assert.deepEqual(strategyNames, ['heuristic', 'gemini', 'openai-compatible']);
  for (const name of strategyNames) {
    assert.equal(scenarioWith(name).ok, true, name);
    assert.equal(strategyFlag(name), name);
  }
  const unknown = scenarioWith('oracle');
  assert.equal(unknown.ok, false);
  assert.match(!unknown.ok ? unknown.message : '', /strategy/);
  assert.throws(
    () => strategyFlag('oracle'),
    (e: unknown) => e instanceof UsageError && /heuristic, gemini, openai-compatible/.test(e.message),
  );
  assert.equal(strategyFlag(undefined), undefined);
  assert.match(runner.usage, new RegExp(`--strategy ${strategyNames.join('\\|')}`));
});

test('every strategy is built from the table, or refused naming what it needs', () => {
  const none: AgentConfig = {
    gemini: undefined,
    openai: undefined,
    openaiEndpoint: { baseUrl: 'http://127.0.0.1:1/v1', temperature: 0, timeoutMs: 1000, retries: 0, retryBaseMs: 1 },
    cache: 'off',
  };
  assert.equal(createStrategies(['heuristic'], none).get('heuristic')?.name, 'heuristic');
  for (const name of strategyNames.filter((n) => strategyTable[n].needs)) {
    assert.throws(
      () => createStrategies([name], none),
      (e: unknown) => e instanceof StrategyUnavailableError && e.message === `the ${name} strategy needs ${strategyTable[name].needs}`,
    );
  }
});
