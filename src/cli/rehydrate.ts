import { loadConfig } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { rehydrate, type RehydrateReport } from '../ledger/integrity/rehydrate.ts';
import { parseFlags, UsageError } from './args.ts';
import type { Command } from './args.ts';
import { createLogger, openDatabase } from './runtime.ts';

const MAX_PRINTED = 200;

function printReport(report: RehydrateReport, out: (line: string) => void): void {
  const verb = report.dryRun ? 'would correct' : 'corrected';
  out(`base: ${report.fromCheckpoint === null ? 'genesis' : `checkpoint at ledger id ${report.fromCheckpoint}`}`);
  out(
    `replayed ${report.bulkEntries} entries up to the settled id ${report.settledThrough}, then ${report.catchUpEntries} written meanwhile`,
  );
  for (const s of report.supply)
    out(`supply ${s.resource}: ${s.circulating} in circulation, total with world ${s.total} ${s.ok ? 'ok' : 'FAILED'}`);
  if (report.corrections.length === 0) out('balances already equal the ledger: nothing to correct');
  else {
    out(`${verb} ${report.corrections.length} balance row(s):`);
    for (const c of report.corrections.slice(0, MAX_PRINTED)) {
      out(`  ${c.kind.padEnd(7)} ${(c.actor ?? c.actor_id).padEnd(24)} ${c.resource.padEnd(12)} ${c.balance ?? '(none)'} -> ${c.expected}`);
    }
    if (report.corrections.length > MAX_PRINTED) out(`  ... and ${report.corrections.length - MAX_PRINTED} more`);
  }
  if (report.checkpoint !== null) out(`checkpoint recorded at ledger id ${report.checkpoint}`);
  for (const failure of report.failures) out(`FAILED: ${failure}`);
  out(
    `${report.ok ? (report.dryRun ? 'dry run: nothing changed' : 'done') : 'verification failed: nothing changed'} in ${report.durationMs} ms` +
      (report.dryRun || !report.ok
        ? ''
        : ` (balances locked for ${report.lockedMs} ms after waiting ${report.lockWaitMs} ms for in-flight trades)`),
  );
}

export const command: Command = {
  summary: 'Rebuild balances from the ledger (set-based, verified, swapped in atomically); safe while validators write',
  usage: 'gridgov rehydrate [--from-id N] [--dry-run] [--json] [--database-url URL] [--data-dir DIR]',
  async run(args) {
    const { values } = parseFlags(args, {
      'from-id': { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      'chunk-ids': { type: 'string' },
    });
    const fromId = values['from-id'] === undefined ? undefined : Number(values['from-id']);
    if (fromId !== undefined && (!Number.isInteger(fromId) || fromId < 0))
      throw new UsageError('--from-id must be a ledger id (a non-negative integer)');
    const chunkIds = values['chunk-ids'] === undefined ? undefined : Number(values['chunk-ids']);
    if (chunkIds !== undefined && (!Number.isInteger(chunkIds) || chunkIds < 1))
      throw new UsageError('--chunk-ids must be a positive integer');
    const config = loadConfig(process.env, values);
    const database = await openDatabase(config, createLogger(config, 'rehydrate'), 3);
    try {
      await migrate(database.db);
      let lastPrint = 0;
      const report = await rehydrate(database.db, {
        fromId,
        dryRun: values['dry-run'] === true,
        chunkIds,
        onProgress: (p) => {
          // Progress goes to stderr, at most twice a second, and only on runs long enough to need it.
          const finished = p.doneIds >= p.totalIds;
          if (p.elapsedMs < 1000 && !(finished && lastPrint > 0)) return;
          if (!finished && p.elapsedMs - lastPrint < 500) return;
          lastPrint = p.elapsedMs;
          const pct = p.totalIds === 0 ? 100 : Math.floor((100 * p.doneIds) / p.totalIds);
          process.stderr.write(
            `rehydrate: ${p.doneIds}/${p.totalIds} ledger ids (${pct}%), ${p.entries} entries, ${(p.elapsedMs / 1000).toFixed(1)} s\n`,
          );
        },
      });
      if (values.json) console.log(JSON.stringify(report, null, 2));
      else printReport(report, (line) => console.log(line));
      return report.ok ? 0 : 1;
    } finally {
      await database.close();
    }
  },
};
