import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { actorIdFor, deriveId, WORLD_ACTOR_ID } from '../../domain/ids.ts';
import { CodedError, fromDatabaseRefusal } from '../../domain/errors.ts';
import { formatMicro } from '../../domain/money.ts';
import { parseScenario, seededActors, toMicro, type Scenario } from '../../domain/scenario.ts';
import type { Db } from '../../db/db.ts';
import { LedgerKind, systemEntriesJson, type SystemEntry } from './append.ts';

/** A scenario that cannot be read or parsed: a bad request about the scenario wherever it comes from. */
export class ScenarioError extends CodedError {
  constructor(message: string) {
    super('BAD_REQUEST', message, { field: 'scenario' });
  }
}

export async function readScenarioFile(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ScenarioError(`cannot read scenario ${path}: ${(error as Error).message}`);
  }
  let document: unknown;
  try {
    document = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new ScenarioError(`${path} is not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(error as Error).message}`);
  }
  const parsed = parseScenario(document);
  if (!parsed.ok) throw new ScenarioError(`${path}: ${parsed.message}`);
  return parsed.scenario;
}

export interface SeedResult {
  actorsAdded: number;
  entriesAdded: number;
}

/**
 * Seeds a scenario: resources, limits, actors with a balance row per resource, and starting
 * balances as genesis entries from world. Ids are derived from names, so seeding again adds nothing.
 * The database does it (seed_scenario, migration 000073): seeding sets the limits, so it takes a
 * system or admin key (`key`), unless this connection's login owns the schema (gridgov seed).
 */
export async function seedScenario(db: Db, scenario: Scenario, validatorVersion: string, key?: string): Promise<SeedResult> {
  const limits = [
    { resource: null, max_transfer: fmt(scenario.constraints.max_transfer), min_balance: fmt(scenario.constraints.min_balance) ?? '0' },
    ...Object.entries(scenario.constraints.per_resource ?? {}).map(([resource, l]) => ({
      resource,
      max_transfer: fmt(l.max_transfer),
      min_balance: fmt(l.min_balance),
    })),
  ];
  const actors = seededActors(scenario);
  const genesis: SystemEntry[] = actors.flatMap((actor) =>
    Object.entries(actor.balances)
      .filter(([, amount]) => toMicro(amount) > 0n)
      .map(([resource, amount]) => ({
        proposalId: deriveId('genesis', scenario.name, actor.name, resource),
        leg: 0,
        kind: LedgerKind.genesis,
        from: WORLD_ACTOR_ID,
        to: actorIdFor(actor.name),
        resource,
        amount: toMicro(amount),
        metadata: { scenario: scenario.name },
      })),
  );
  let rows: Array<{ actors_added: number; entries_added: number }>;
  try {
    ({ rows } = await db.query<{ actors_added: number; entries_added: number }>(
      'SELECT actors_added, entries_added FROM seed_scenario($1, $2, $3, $4, $5, $6, $7, $8)',
      [
        key ?? null,
        scenario.name,
        JSON.stringify(scenario),
        JSON.stringify(scenario.resources.map((r) => ({ name: r.name, unit: r.unit }))),
        JSON.stringify(limits),
        JSON.stringify(actors.map((a) => ({ id: actorIdFor(a.name), name: a.name, kind: a.kind }))),
        systemEntriesJson(genesis),
        validatorVersion,
      ],
    ));
  } catch (error) {
    throw fromDatabaseRefusal(error) ?? error;
  }
  const result = { actorsAdded: rows[0]!.actors_added, entriesAdded: rows[0]!.entries_added };
  // Fresh statistics, so that the plans validators keep for their sessions probe indexes from the
  // start instead of scanning tables that looked empty (autovacuum would take a minute or more).
  // Only the tables' owner may: for another role PostgreSQL skips them with a warning.
  if (result.actorsAdded > 0 || result.entriesAdded > 0) await db.query('ANALYZE actors, balances, ledger, rejected_proposals');
  return result;
}

function fmt(value: number | string | null | undefined): string | null {
  return value === null || value === undefined ? null : formatMicro(toMicro(value));
}

/** Whether any actor but the world's system accounts exists: false for a database never seeded. */
export async function hasActors(db: Db): Promise<boolean> {
  const { rows } = await db.query<{ any: boolean }>("SELECT EXISTS (SELECT 1 FROM actors WHERE kind <> 'system') AS any");
  return rows[0]!.any;
}

/** The scenario seeded last, as recorded; undefined when none was, or its record no longer parses. */
export async function lastSeededScenario(db: Db): Promise<Scenario | undefined> {
  const { rows } = await db.query<{ definition: unknown }>('SELECT definition FROM scenarios ORDER BY seeded_at DESC LIMIT 1');
  const parsed = rows[0] ? parseScenario(rows[0].definition) : undefined;
  return parsed?.ok ? parsed.scenario : undefined;
}
