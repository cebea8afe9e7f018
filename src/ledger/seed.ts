import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { actorIdFor, deriveId, WORLD_ACTOR_ID } from '../domain/ids.ts';
import { formatMicro } from '../domain/money.ts';
import { parseScenario, seededActors, toMicro, type Scenario } from '../domain/scenario.ts';
import type { Db } from '../db/db.ts';
import { appendEntries, LedgerKind, type LedgerEntry } from './append.ts';

const SEED_LOCK_KEY = 4_711_000_002;

export class ScenarioError extends Error {}

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
 */
export async function seedScenario(db: Db, scenario: Scenario, validatorVersion: string): Promise<SeedResult> {
  const actors = seededActors(scenario);
  const result = await db.transaction(async (tx): Promise<SeedResult> => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [SEED_LOCK_KEY]);
    await tx.query(
      `INSERT INTO resources (name, unit) SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (name) DO UPDATE SET unit = excluded.unit`,
      [scenario.resources.map((r) => r.name), scenario.resources.map((r) => r.unit)],
    );
    const limitRows: Array<[string | null, string | null, string | null]> = [
      [null, fmt(scenario.constraints.max_transfer), fmt(scenario.constraints.min_balance) ?? '0'],
      ...Object.entries(scenario.constraints.per_resource ?? {}).map(
        ([resource, l]): [string, string | null, string | null] => [resource, fmt(l.max_transfer), fmt(l.min_balance)],
      ),
    ];
    await tx.query(
      `INSERT INTO constraints (resource, max_transfer, min_balance)
       SELECT * FROM unnest($1::text[], $2::numeric[], $3::numeric[])
       ON CONFLICT ((coalesce(resource, ''))) DO UPDATE SET max_transfer = excluded.max_transfer, min_balance = excluded.min_balance`,
      [limitRows.map((r) => r[0]), limitRows.map((r) => r[1]), limitRows.map((r) => r[2])],
    );
    const added = await tx.query(
      `INSERT INTO actors (id, name, kind) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING`,
      [actors.map((a) => actorIdFor(a.name)), actors.map((a) => a.name), actors.map((a) => a.kind)],
    );
    const { rows: clash } = await tx.query<{ name: string }>(
      'SELECT name FROM actors WHERE name = ANY($1::text[]) AND NOT (id = ANY($2::uuid[]))',
      [actors.map((a) => a.name), actors.map((a) => actorIdFor(a.name))],
    );
    if (clash.length > 0) throw new ScenarioError(`actor ${clash[0]!.name} exists with another id`);
    // Every actor gets a row per resource, so every trade can lock what it touches.
    await tx.query(
      `INSERT INTO balances (actor_id, resource, is_world)
       SELECT a.id, r.name, a.kind = 'system' FROM actors a CROSS JOIN resources r
       ON CONFLICT DO NOTHING`,
    );
    const entries: LedgerEntry[] = actors.flatMap((actor) =>
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
    // Leave out what is already there before appending: ON CONFLICT would still draw ledger ids
    // for the skipped rows, and seeding again (every run registration does) must not shift them.
    const { rows: present } = await tx.query<{ proposal_id: string }>('SELECT proposal_id::text FROM ledger WHERE proposal_id = ANY($1::uuid[])', [
      entries.map((e) => e.proposalId),
    ]);
    const seen = new Set(present.map((r) => r.proposal_id));
    const appended = await appendEntries(tx, entries.filter((e) => !seen.has(e.proposalId)), validatorVersion, { skipExisting: true });
    await tx.query(
      `INSERT INTO scenarios (name, definition) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET definition = excluded.definition`,
      [scenario.name, JSON.stringify(scenario)],
    );
    return { actorsAdded: added.rowCount, entriesAdded: appended.length };
  });
  // Fresh statistics, so that the plans validators keep for their sessions probe indexes from the
  // start instead of scanning tables that looked empty (autovacuum would take a minute or more).
  if (result.actorsAdded > 0 || result.entriesAdded > 0) await db.query('ANALYZE actors, balances, ledger, rejected_proposals');
  return result;
}

function fmt(value: number | string | null | undefined): string | null {
  return value === null || value === undefined ? null : formatMicro(toMicro(value));
}
