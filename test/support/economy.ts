import { fileURLToPath } from 'node:url';
import type { Character } from '../../src/agents/types.ts';
import { parseScenario, type Scenario } from '../../src/domain/scenario.ts';
import { readScenarioFile } from '../../src/ledger/writing/seed.ts';
import { createTestDatabase } from './db.ts';
import { ledgerDigest } from './digest.ts';
import { invariantViolations } from './invariants.ts';
import { simulate } from './simulation.ts';
import { http, startValidator } from './validator.ts';

export const scenarioFile = (name: string) => fileURLToPath(new URL(`../../scenarios/${name}.json`, import.meta.url));

/** A shipped scenario with every actor of the given character. */
export async function withCharacter(name: string, character: Character): Promise<Scenario> {
  const scenario = await readScenarioFile(scenarioFile(name));
  const parsed = parseScenario({ ...scenario, actors: scenario.actors.map((a) => ({ ...a, character })) });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.scenario;
}

/** A fresh database and validator, one heuristic run, and what it left behind. */
export async function runFresh(scenario: Scenario | string, epochs: number, seed?: string) {
  const t = await createTestDatabase();
  const v = await startValidator(t.db);
  try {
    const world = typeof scenario === 'string' ? await readScenarioFile(scenarioFile(scenario)) : scenario;
    const started = Date.now();
    const result = await simulate(v.url, world, { epochs, seed });
    const served = await http(v.url, 'GET', `/epochs?run_id=${result.runId}&limit=1000`);
    const summary = await http(v.url, 'GET', `/runs/${result.runId}/summary`);
    return {
      ...result,
      ms: Date.now() - started,
      digest: await ledgerDigest(t.db),
      violations: await invariantViolations(t.db),
      served: served.body,
      summary: summary.body,
    };
  } finally {
    await v.close();
    await t.drop();
  }
}
