import type { Db } from '../../db/db.ts';
import { chainHead } from './chain.ts';
import {
  blockRunEnd,
  fromStoredCheck,
  toStoredCheck,
  verifyBlocks,
  type BlocksCheck,
  type ChainBreak,
  type StoredCheck,
} from './chain-verify.ts';

/**
 * Records what a check of blocks from..through found in chain_state (chain_record, migration
 * 000075): a break is kept until a later check of that block passes, and the lowest break is the
 * one reported. Only the schema's owner may (gridgov verify); services go through chain_recheck.
 */
async function recordCheck(
  tx: Db,
  from: number,
  to: number,
  check: BlocksCheck,
  options: { next?: number; passComplete: boolean },
): Promise<void> {
  await tx.query('SELECT chain_record($1, $2, $3, $4, $5)', [
    from,
    to,
    JSON.stringify(toStoredCheck(check)),
    options.next ?? null,
    options.passComplete,
  ]);
}

/**
 * One step of the background re-verification (chain_recheck): re-hashes the next blocks (about
 * maxRows rows) from where the previous step stopped, wrapping to block 1 after the last, and
 * records the outcome. Over time every sealed block is checked again, so a row rewritten long
 * after sealing is found without anyone asking.
 */
export async function recheckStep(tx: Db, maxRows: number): Promise<BlocksCheck | undefined> {
  const { rows } = await tx.query<{ c: StoredCheck | null }>('SELECT chain_recheck($1) AS c', [maxRows]);
  const c = rows[0]?.c;
  return c ? fromStoredCheck(c) : undefined;
}

export interface ChainReport {
  ok: boolean;
  blocks: number;
  rows: number;
  sealedThrough: number;
  headHash: string | null;
  /** Ledger entries after the last sealed block: not covered by the chain yet. */
  unsealed: number;
  break?: ChainBreak;
  durationMs: number;
}

/**
 * `gridgov verify`: re-hashes every sealed block from the first, in runs of about chunkRows rows,
 * and reports the first broken link. The outcome is recorded for /health.
 */
export async function verifyChain(
  db: Db,
  options: { chunkRows?: number; onProgress?: (done: { blocks: number; rows: number; totalBlocks: number }) => void } = {},
): Promise<ChainReport> {
  const started = Date.now();
  const head = await chainHead(db);
  const report: ChainReport = {
    ok: true,
    blocks: 0,
    rows: 0,
    sealedThrough: head?.last_id ?? 0,
    headHash: null,
    unsealed: 0,
    durationMs: 0,
  };
  let from = 1;
  let last: BlocksCheck | undefined;
  while (head && from <= head.block_no) {
    const to = Math.min((await blockRunEnd(db, from, options.chunkRows ?? 200_000)) ?? from, head.block_no);
    last = await verifyBlocks(db, from, to);
    report.blocks += last.blocks;
    report.rows += last.rows;
    report.headHash = last.lastHash;
    if (last.break) break;
    options.onProgress?.({ blocks: report.blocks, rows: report.rows, totalBlocks: head.block_no });
    from = to + 1;
  }
  if (!head) {
    // Nothing sealed: a row below id 1 is still out of place.
    last = await verifyBlocks(db, 1, 0);
  }
  report.break = last?.break;
  report.ok = !report.break;
  const unsealed = await db.query<{ n: number }>('SELECT count(*) AS n FROM ledger WHERE id > $1', [report.sealedThrough]);
  report.unsealed = unsealed.rows[0]!.n;
  const finalCheck: BlocksCheck = last ?? { blocks: 0, rows: 0, lastBlock: 0, lastHash: null };
  await db.transaction((tx) => recordCheck(tx, 1, head?.block_no ?? 0, finalCheck, { passComplete: report.ok }));
  report.durationMs = Date.now() - started;
  return report;
}
