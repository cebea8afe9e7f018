/**
 * `npm run bench:recovery`: recoverability at scale. Builds a ledger of --rows entries (10 million
 * by default) with set-based SQL on a fresh PostgreSQL, then measures rehydrate against a raw SQL
 * recompute and a row-by-row replay (a sample, scaled up), checkpoints, sealing and verifying the
 * hash chain, /health (idle and under load), drift detection and /world-state?at=, and this Node
 * process's peak memory. Prints a Markdown summary and writes the figures as JSON.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { createDb } from '../src/db/db.ts';
import { migrate } from '../src/db/migrate.ts';
import { sealThrough } from '../src/ledger/integrity/chain.ts';
import { verifyChain } from '../src/ledger/integrity/chain-audit.ts';
import { CheckpointMaker, createCheckpoint } from '../src/ledger/integrity/checkpoint.ts';
import { findDrift } from '../test/support/drift.ts';
import { settledHorizon } from '../src/ledger/integrity/fence.ts';
import { rehydrate } from '../src/ledger/integrity/rehydrate.ts';
import { aggregatedMovesSql } from '../src/ledger/integrity/replay.ts';
import { appendTradesWithBalances, generateTrades, seedBench, syncBalances } from './lib/dataset.ts';
import { replayRowsInNode, replayRowsWithUpdates } from './lib/row-by-row.ts';
import { benchServer, freshDatabase } from './lib/server.ts';
import { fmt, memorySampler, timed } from './lib/stats.ts';
import { measureValidator } from './lib/validator-measure.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    actors: { type: 'string', default: '1000' },
    'node-sample': { type: 'string', default: '200000' },
    'update-sample': { type: 'string', default: '20000' },
    'health-requests': { type: 'string', default: '2000' },
    'load-seconds': { type: 'string', default: '15' },
    workers: { type: 'string', default: '2' },
    'max-minutes': { type: 'string', default: '80' },
  },
});
const ROWS = Number(values.rows);
const ACTORS = Number(values.actors);
const started = Date.now();
const log = (line: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${line}\n`);

// However it goes, the benchmark stops by itself.
setTimeout(
  () => {
    log(`still running after ${values['max-minutes']} minutes: giving up`);
    process.exit(3);
  },
  Number(values['max-minutes']) * 60_000,
).unref();

async function main(): Promise<void> {
  const memory = memorySampler();
  const server = await benchServer(log);
  const results: Record<string, unknown> = {
    machine: {
      cpus: cpus().length,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadAverageAtStart: loadavg().map((x) => x.toFixed(1)),
    },
    postgres: server.settings,
    rows: ROWS,
    actors: ACTORS,
  };
  const url = await freshDatabase(server.url, 'gridgov_bench');
  const db = createDb(url, { max: 16 });
  try {
    await migrate(db);
    await seedBench(db, ACTORS);
    log(`generating ${fmt(ROWS)} ledger entries with ${values.workers} connections`);
    const generated = await timed(() =>
      generateTrades(db, {
        from: 1,
        rows: ROWS,
        workers: Number(values.workers),
        chunk: 250_000,
        onChunk: (done) => done % 1_000_000 === 0 && log(`  ${fmt(done)} entries`),
      }),
    );
    const synced = await timed(() => syncBalances(db));
    const vacuumed = await timed(async () => {
      await db.query('VACUUM (ANALYZE) ledger');
      await db.query('VACUUM (ANALYZE) balances');
    });
    const size = await db.query<{ entries: number; ledger: string; balances: number }>(
      "SELECT (SELECT count(*) FROM ledger) AS entries, pg_size_pretty(pg_total_relation_size('ledger')) AS ledger, (SELECT count(*) FROM balances) AS balances",
    );
    const head = (await db.query<{ id: number }>('SELECT max(id) AS id FROM ledger')).rows[0]!.id;
    results.dataset = { ...size.rows[0], generateMs: generated.ms, balancesSyncMs: synced.ms, vacuumAnalyzeMs: vacuumed.ms };
    log(`dataset: ${JSON.stringify(results.dataset)}`);

    const raw = [];
    for (let i = 0; i < 2; i++) raw.push((await timed(() => db.query(aggregatedMovesSql('0', null)))).ms);
    const fullReplayCheck = await timed(() => findDrift(db));
    log(`raw SQL recompute ${raw.join(', ')} ms; full-replay drift check ${fullReplayCheck.ms} ms`);

    memory.reset();
    const dry = await timed(() => rehydrate(db, { dryRun: true }));
    if (!dry.value.ok || dry.value.corrections.length > 0)
      throw new Error(`the generated ledger and balances disagree: ${JSON.stringify(dry.value.corrections.slice(0, 5))}`);
    await db.query("INSERT INTO resources (name, unit) VALUES ('gold', 'oz')");
    await db.query(
      "UPDATE balances SET amount = amount + 1 WHERE resource = 'energy' AND actor_id = (SELECT id FROM actors WHERE name = 'actor-00001')",
    );
    await db.query("DELETE FROM balances WHERE resource = 'water' AND actor_id = (SELECT id FROM actors WHERE name = 'actor-00002')");
    await db.query("INSERT INTO balances (actor_id, resource, amount) SELECT id, 'gold', 5 FROM actors WHERE name = 'actor-00003'");
    const real = await timed(() =>
      rehydrate(db, { onProgress: (p) => void (p.doneIds % 2_000_000 === 0 && log(`  rehydrate ${fmt(p.doneIds)}/${fmt(p.totalIds)}`)) }),
    );
    const rehydrateMemory = memory.peak();
    if (!real.value.ok || real.value.corrections.length !== 3)
      throw new Error(`rehydrate did not repair the 3 rows: ${JSON.stringify(real.value.corrections)}`);
    log(`rehydrate dry run ${dry.ms} ms, real ${real.ms} ms (locked ${real.value.lockedMs} ms), peak RSS ${rehydrateMemory.rssMb} MB`);

    const nodeSample = Math.min(ROWS, Number(values['node-sample']));
    const updateSample = Math.min(ROWS, Number(values['update-sample']));
    const inNode = await timed(() => replayRowsInNode(db, nodeSample));
    const withUpdates = await timed(() => replayRowsWithUpdates(db, updateSample));
    const scale = (ms: number, sample: number) => Math.round((ms * (ROWS + 3 * ACTORS)) / sample);
    log(`row by row: ${fmt(nodeSample)} in Node ${inNode.ms} ms, ${fmt(updateSample)} with UPDATEs ${withUpdates.ms} ms`);

    // Checkpoints every 100,000 ids over the history, as the verifier would have made them.
    const backfill = await timed(async () => {
      for (let id = 100_000; id < head; id += 100_000) await db.transaction((tx) => createCheckpoint(tx, id, CheckpointMaker.auto));
    });
    const tail = 100_000;
    await appendTradesWithBalances(db, ROWS + 1, ROWS + tail);
    const newHead = (await db.query<{ id: number }>('SELECT max(id) AS id FROM ledger')).rows[0]!.id;
    const fromCheckpoint = await timed(() => rehydrate(db, { fromId: newHead }));
    if (!fromCheckpoint.value.ok || fromCheckpoint.value.corrections.length > 0)
      throw new Error(`rehydrate --from-id: ${JSON.stringify(fromCheckpoint.value)}`);
    log(
      `checkpoint backfill ${backfill.ms} ms; rehydrate --from-id over ${fmt(fromCheckpoint.value.bulkEntries)} entries ${fromCheckpoint.ms} ms`,
    );

    const sealed = await timed(async () => {
      const through = await settledHorizon(db);
      let rows = 0;
      for (let more = true; more;) {
        const step = await db.transaction((tx) => sealThrough(tx, through, { blockSize: 1000, maxRows: 500_000 }));
        rows += step?.rows ?? 0;
        more = step?.more ?? false;
        if (rows % 2_000_000 === 0) log(`  sealed ${fmt(rows)}`);
      }
      return rows;
    });
    const verified = await timed(() => verifyChain(db, { chunkRows: 500_000 }));
    if (!verified.value.ok) throw new Error(`verify failed: ${JSON.stringify(verified.value.break)}`);
    log(`sealed ${fmt(sealed.value)} rows in ${sealed.ms} ms; verified ${fmt(verified.value.rows)} in ${verified.ms} ms`);

    const actors = (await db.query<{ name: string }>("SELECT name FROM actors WHERE kind <> 'system' ORDER BY name")).rows.map(
      (r) => r.name,
    );
    const validator = await measureValidator(db, {
      databaseUrl: url,
      head: newHead,
      actors,
      healthRequests: Number(values['health-requests']),
      loadSeconds: Number(values['load-seconds']),
      log,
    });

    results.recompute = {
      rawSqlMs: raw,
      fullReplayDriftCheckMs: fullReplayCheck.ms,
      rehydrateDryRunMs: dry.ms,
      rehydrateMs: real.ms,
      rehydrateLockWaitMs: real.value.lockWaitMs,
      rehydrateLockedMs: real.value.lockedMs,
      rehydrateCorrections: real.value.corrections.length,
      rowByRowInNode: { sample: nodeSample, sampleMs: inNode.ms, scaledMs: scale(inNode.ms, nodeSample) },
      rowByRowUpdates: { sample: updateSample, sampleMs: withUpdates.ms, scaledMs: scale(withUpdates.ms, updateSample) },
      checkpointBackfillMs: backfill.ms,
      rehydrateFromCheckpoint: { entries: fromCheckpoint.value.bulkEntries, ms: fromCheckpoint.ms },
    };
    results.hashChain = { sealedRows: sealed.value, sealMs: sealed.ms, verifyRows: verified.value.rows, verifyMs: verified.ms };
    results.validator = validator;
    results.memory = { rehydrate: rehydrateMemory, wholeRun: memory.peak() };
    results.loadAverageAtEnd = loadavg().map((x) => x.toFixed(1));
    results.totalMinutes = Math.round((Date.now() - started) / 600) / 100;
  } finally {
    memory.stop();
    await db.close();
    await server.stop();
  }
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/recovery-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(JSON.stringify(results, null, 2));
  log(`written to ${file}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
