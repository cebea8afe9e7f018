import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseScenario } from '../../src/domain/scenario.ts';
import { checkPopulation, episodeScenario, parsePopulation, parseStrategies, SpecError } from '../../src/experiments/spec.ts';

const scenario = (() => {
  const parsed = parseScenario({
    name: 'five',
    resources: [{ name: 'water' }],
    actors: ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name })),
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.scenario;
})();
const kinds = (strategy: string) => {
  const { scenario: s, override } = episodeScenario(scenario, strategy);
  return s.actors.map((a) => `${override ?? a.strategy}:${a.character}`);
};

test('a mix gives each part its count of agents, in the scenario order', () => {
  assert.deepEqual(parsePopulation('heuristic:cooperative*3+heuristic:greedy*2'), [
    { name: 'heuristic', kind: 'cooperative', count: 3 },
    { name: 'heuristic', kind: 'greedy', count: 2 },
  ]);
  assert.deepEqual(kinds('heuristic:cooperative*3+heuristic:greedy*2'), [
    'heuristic:cooperative',
    'heuristic:cooperative',
    'heuristic:cooperative',
    'heuristic:greedy',
    'heuristic:greedy',
  ]);
  // The greedy newcomer: one greedy agent, the last part takes the agents left.
  assert.deepEqual(kinds('heuristic:greedy*1+heuristic:cooperative'), [
    'heuristic:greedy',
    'heuristic:cooperative',
    'heuristic:cooperative',
    'heuristic:cooperative',
    'heuristic:cooperative',
  ]);
  // A model may be one of the kinds.
  assert.deepEqual(kinds('gemini*2+heuristic:naive').slice(0, 3), ['gemini:cooperative', 'gemini:cooperative', 'heuristic:naive']);
  // One strategy for all stays an override; one kind for all is written into every actor.
  assert.equal(episodeScenario(scenario, 'gemini').override, 'gemini');
  assert.deepEqual(new Set(kinds('heuristic:greedy')), new Set(['heuristic:greedy']));
  assert.deepEqual(parseStrategies('heuristic:greedy, heuristic:cooperative*4+heuristic:greedy*1'), [
    'heuristic:greedy',
    'heuristic:cooperative*4+heuristic:greedy*1',
  ]);
});

test('a mix that does not fit, or names an unknown part, is refused naming --strategies', () => {
  const refused = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof SpecError && pattern.test(e.message) && e.message.startsWith('--strategies'));
  refused(() => parsePopulation('heuristic:lazy*2+heuristic:greedy'), /unknown strategy "heuristic:lazy\*2"/);
  refused(() => parsePopulation('heuristic:greedy*0+heuristic:cooperative'), /no agent/);
  refused(() => parsePopulation('heuristic:greedy+heuristic:cooperative*2'), /only the last part may leave out \*N/);
  refused(() => checkPopulation(scenario, 'heuristic:cooperative*3+heuristic:greedy*1'), /names 4 agents, but scenario "five" has 5/);
  refused(() => checkPopulation(scenario, 'heuristic:cooperative*5+heuristic:greedy'), /names 5 agents and the rest/);
  refused(() => checkPopulation(scenario, 'heuristic:cooperative*4+heuristic:greedy*2'), /names 6 agents/);
});
