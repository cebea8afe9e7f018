/**
 * An episode's exports read back: each table as CSV and Parquet, the Parquet columns with the
 * types we declared (read by hyparquet, the reader of the writer's family), and the row counts
 * equal to what the episode's database holds.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { EXPORT_COLUMNS } from '../../src/experiments/columns.ts';
import { exportTables, writeExports } from '../../src/experiments/export.ts';
import { ColumnType, type Column } from '../../src/experiments/tables.ts';
import type { ExperimentMeta } from '../../src/experiments/types.ts';
import { runEpisode, type TestEpisode } from '../support/episode.ts';

const EPOCHS = 8;
let episode: TestEpisode;
let commons: TestEpisode;
let dir: string;
const meta: ExperimentMeta = {
  experiment_id: 'export-test',
  command: 'gridgov experiment --scenario scenarios/commons.json --strategies heuristic --seeds 3 --epochs 6 --out DIR',
  versions: { gridgov: '0.1.0', node: process.version },
  started_at: '2026-01-01T00:00:00.000Z',
  finished_at: '2026-01-01T00:01:00.000Z',
};

before(async () => {
  // Naive agents in the energy crisis have trades refused within eight epochs; the commons
  // episode brings columns of its own (the lake's stock), null in the other episode's rows.
  episode = await runEpisode({
    experimentId: meta.experiment_id,
    scenario: 'energy-crisis',
    character: 'naive',
    seed: '3',
    epochs: EPOCHS,
  });
  // A greedy newcomer among cooperative farms: agents.csv names each agent's kind.
  commons = await runEpisode({
    experimentId: meta.experiment_id,
    scenario: 'commons',
    character: 'greedy',
    population: 'heuristic:greedy*1+heuristic:cooperative',
    seed: '3',
    epochs: 3,
  });
  dir = await mkdtemp(join(tmpdir(), 'gridgov-export-'));
  await writeExports(dir, [commons.data, episode.data], meta);
});

after(async () => {
  await episode?.close();
  await commons?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Counts = { runs: number; epochs: number; agents: number; rejections: number };

async function databaseCounts(episode: TestEpisode): Promise<Counts> {
  const { rows } = await episode.t.db.query<{ runs: number; epochs: number; agents: number; rejections: number }>(
    `SELECT (SELECT count(*) FROM runs WHERE id = $1) AS runs,
            (SELECT count(*) FROM epochs WHERE run_id = $1 AND finished_at IS NOT NULL) AS epochs,
            (SELECT count(*) FROM epochs e, jsonb_object_keys(e.stats->'agents') WHERE e.run_id = $1 AND e.finished_at IS NOT NULL) AS agents,
            (SELECT count(*) FROM rejected_proposals WHERE proposal_json->'metadata'->>'run_id' = $1::text) AS rejections`,
    [episode.meta.run_id],
  );
  return rows[0]!;
}

const PARQUET_TYPE: Record<Column['type'], { type: string; converted_type?: string }> = {
  int: { type: 'INT32' },
  bigint: { type: 'INT64' },
  double: { type: 'DOUBLE' },
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
  boolean: { type: 'BOOLEAN' },
  timestamp: { type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' },
};

test('each table reads back from Parquet with its declared column types and as many rows as the database holds', async () => {
  const one = await databaseCounts(episode);
  assert.equal(one.runs, 1);
  assert.equal(one.epochs, EPOCHS);
  assert.ok(one.agents >= EPOCHS * 4, `an agents row per agent and epoch, got ${one.agents}`);
  assert.ok(one.rejections > 0, 'naive agents had proposals refused');
  const other = await databaseCounts(commons);
  const counts = Object.fromEntries(Object.entries(one).map(([k, n]) => [k, n + other[k as keyof Counts]])) as Counts;
  for (const table of exportTables([episode.data, commons.data])) {
    const bytes = await readFile(join(dir, `${table.name}.parquet`));
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const metadata = parquetMetadata(file);
    assert.equal(Number(metadata.num_rows), counts[table.name as keyof typeof counts], `${table.name}: rows`);
    const schema = new Map(metadata.schema.slice(1).map((s) => [s.name, s]));
    assert.deepEqual(
      [...schema.keys()],
      table.columns.map((c) => c.name),
      `${table.name}: columns in order`,
    );
    for (const column of EXPORT_COLUMNS[table.name as keyof typeof EXPORT_COLUMNS]) {
      const element = schema.get(column.name)!;
      const expected = PARQUET_TYPE[column.type];
      assert.equal(element.type, expected.type, `${table.name}.${column.name}`);
      assert.equal(element.converted_type, expected.converted_type, `${table.name}.${column.name}`);
    }
    assert.equal(metadata.key_value_metadata?.find((kv) => kv.key === 'command')?.value, meta.command);
    const rows = await parquetReadObjects({ file });
    assert.equal(rows.length, counts[table.name as keyof typeof counts]);
    // Episodes in natural order: the commons scenario before the energy crisis.
    const scenarios = [...new Set(rows.map((r) => r.scenario))];
    assert.deepEqual(scenarios, table.name === 'rejections' && other.rejections === 0 ? ['energy-crisis'] : ['commons', 'energy-crisis']);
    const csv = (await readFile(join(dir, `${table.name}.csv`), 'utf8')).split('\r\n');
    assert.equal(csv[0], table.columns.map((c) => c.name).join(','));
    assert.equal(csv.length, counts[table.name as keyof typeof counts] + 2, `${table.name}.csv: header, rows and the final line end`);
  }
  assert.equal(Object.keys(ColumnType).length, Object.keys(PARQUET_TYPE).length);
});

test('values come back typed: integers, 64-bit token counts, doubles, booleans and timestamps', async () => {
  const read = async (name: string) => {
    const bytes = await readFile(join(dir, `${name}.parquet`));
    return parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  };
  const [lakeRun, run] = await read('runs');
  assert.equal(run!.scenario, 'energy-crisis');
  assert.equal(run!.epochs, EPOCHS);
  assert.equal(typeof run!.total_tokens, 'bigint');
  assert.ok(run!.started_at instanceof Date);
  // Without a commons GovSim's figures do not apply: null, not 0 or 1; need met is the crisis' own.
  assert.deepEqual([run!.efficiency, run!.survival_rate, run!.over_usage_rate, typeof run!.need_met], [null, null, null, 'number']);
  assert.deepEqual([typeof lakeRun!.efficiency, typeof lakeRun!.survival_time, typeof lakeRun!.harvested], ['number', 'number', 'number']);
  const epochs = await read('epochs');
  assert.deepEqual(
    epochs.map((e) => e.epoch),
    [1, 2, 3, ...Array.from({ length: EPOCHS }, (_, i) => i + 1)],
  );
  const lake = epochs.filter((e) => e.scenario === 'commons');
  assert.ok(lake.every((e) => typeof e.collapsed === 'boolean' && typeof e.stock_water === 'number' && e.finished_at instanceof Date));
  assert.ok(
    lake.every((e) => typeof e.sustainable_harvest === 'number' && typeof e.harvested === 'number' && typeof e.regrowth_water === 'number'),
  );
  const crisis = epochs.filter((e) => e.scenario === 'energy-crisis');
  assert.ok(crisis.every((e) => e.collapsed === null && e.stock_water === null && typeof e.need_met === 'number'));
  const agents = await read('agents');
  assert.ok(agents.filter((a) => a.scenario === 'commons').every((a) => typeof a.harvest_granted === 'number'));
  assert.ok(agents.filter((a) => a.scenario === 'energy-crisis').every((a) => a.harvest_granted === null && a.kind === 'heuristic:naive'));
  const kinds = new Map(agents.filter((a) => a.scenario === 'commons').map((a) => [a.agent, a.kind]));
  assert.deepEqual(Object.fromEntries(kinds), {
    'farm-a': 'heuristic:greedy',
    'farm-b': 'heuristic:cooperative',
    'farm-c': 'heuristic:cooperative',
    mill: 'heuristic:cooperative',
    'power-plant': 'heuristic:cooperative',
  });
  const rejections = await read('rejections');
  assert.ok(rejections.every((r) => typeof r.code === 'string' && Number.isInteger(r.epoch) && typeof r.agent === 'string'));
});

test("the last epoch's agent balances are the balances the ledger holds now", async () => {
  const { rows } = await episode.t.db.query<{ name: string; resource: string; amount: string }>(
    `SELECT a.name, b.resource, b.amount::text FROM balances b JOIN actors a ON a.id = b.actor_id WHERE a.name = ANY($1)`,
    [episode.data.agents.filter((r) => r.epoch === EPOCHS).map((r) => r.agent)],
  );
  assert.ok(rows.length > 0);
  const last = new Map(episode.data.agents.filter((r) => r.epoch === EPOCHS).map((r) => [r.agent, r]));
  for (const row of rows) assert.equal(last.get(row.name)![`balance_${row.resource}`], Number(row.amount), `${row.name} ${row.resource}`);
  // Each epoch's rejections per agent add up to the epoch's own count.
  for (const epoch of episode.data.epochs) {
    const agents = episode.data.agents.filter((a) => a.epoch === epoch.epoch);
    assert.equal(
      agents.reduce((sum, a) => sum + (a.rejected as number), 0),
      epoch.rejected,
    );
  }
});

test('the same episodes write the same bytes, whatever order they finished in', async () => {
  const again = await mkdtemp(join(tmpdir(), 'gridgov-export-again-'));
  try {
    await writeExports(again, [episode.data, commons.data], meta);
    for (const file of ['runs', 'epochs', 'agents', 'rejections'].flatMap((t) => [`${t}.csv`, `${t}.parquet`]).concat('report.html')) {
      assert.ok((await readFile(join(again, file))).equals(await readFile(join(dir, file))), file);
    }
  } finally {
    await rm(again, { recursive: true, force: true });
  }
});
