import { loadConfig } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { sealThrough } from '../ledger/integrity/chain.ts';
import { verifyChain } from '../ledger/integrity/chain-audit.ts';
import { settledHorizon } from '../ledger/integrity/fence.ts';
import { parseFlags } from './args.ts';
import type { Command } from './args.ts';
import { createLogger, openDatabase } from './runtime.ts';

export const command: Command = {
  summary: 'Verify the ledger hash chain and report the first broken link (seals settled entries first)',
  usage: 'gridgov verify [--no-seal] [--json] [--database-url URL] [--data-dir DIR]',
  async run(args) {
    const { values } = parseFlags(args, { 'no-seal': { type: 'boolean' }, json: { type: 'boolean' } });
    const config = loadConfig(process.env, values);
    const database = await openDatabase(config, createLogger(config, 'verify'), 2);
    try {
      await migrate(database.db);
      if (!values['no-seal']) {
        const through = await settledHorizon(database.db);
        for (let more = true; more;) {
          const sealed = await database.db.transaction((tx) =>
            sealThrough(tx, through, { blockSize: config.guard.sealBlockSize, maxRows: config.guard.sealMaxRows }),
          );
          more = sealed?.more ?? false;
        }
      }
      let lastPrint = Date.now();
      const report = await verifyChain(database.db, {
        onProgress: (p) => {
          if (Date.now() - lastPrint < 1000) return;
          lastPrint = Date.now();
          process.stderr.write(`verify: ${p.blocks}/${p.totalBlocks} blocks, ${p.rows} rows\n`);
        },
      });
      if (values.json) console.log(JSON.stringify(report, null, 2));
      else {
        console.log(
          `verified ${report.blocks} block(s), ${report.rows} ledger row(s), sealed through id ${report.sealedThrough} in ${report.durationMs} ms`,
        );
        if (report.headHash) console.log(`chain head ${report.headHash}`);
        if (report.unsealed > 0) console.log(`${report.unsealed} newer entr${report.unsealed === 1 ? 'y is' : 'ies are'} not sealed yet`);
        if (report.break) console.log(`BROKEN at block ${report.break.block_no}: ${report.break.message}`);
        else console.log('the chain is intact');
      }
      return report.ok ? 0 : 1;
    } finally {
      await database.close();
    }
  },
};
