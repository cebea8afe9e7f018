import { randomUUID } from 'node:crypto';
import { parseScenario, type Scenario } from '../../src/domain/scenario.ts';
import type { Db } from '../../src/db/db.ts';
import { seedScenario } from '../../src/ledger/writing/seed.ts';

/** The rules of the test worlds: max_transfer 50 and min_balance 10, credits up to 500 and down to 0. */
export const testRules = {
  default_credit: 100,
  resources: [
    { name: 'energy', unit: 'kWh' },
    { name: 'water', unit: 'm3' },
    { name: 'credits', unit: 'cr' },
  ],
  constraints: { max_transfer: 50, min_balance: 10, per_resource: { credits: { max_transfer: 500, min_balance: 0 } } },
};

/** A small world for tests, under testRules. */
export const testScenario: Scenario = (() => {
  const parsed = parseScenario({
    name: 'test',
    ...testRules,
    actors: [
      { name: 'alice', kind: 'node', balances: { energy: 100, water: 100, credits: 1000 } },
      { name: 'bob', kind: 'node', balances: { energy: 100, water: 100, credits: 1000 } },
      { name: 'carol', kind: 'agent', balances: { energy: 100, water: 100, credits: 1000 } },
      { name: 'dave', kind: 'agent', balances: { energy: 20, water: 20, credits: 50 } },
    ],
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.scenario;
})();

export async function seedTestScenario(db: Db, scenario: Scenario = testScenario): Promise<void> {
  await seedScenario(db, scenario, 'test');
}

/** A one-leg trade in the test world, as a client sends it: 1 energy from alice to bob unless `over` says otherwise. */
export const tradeBody = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  proposal_id: randomUUID(),
  actor_from: 'alice',
  actor_to: 'bob',
  resource: 'energy',
  amount: 1,
  ...over,
});
