import type { Db } from '../db/db.ts';
import { chainHead } from './chain.ts';
import { blockRunEnd, verifyBlocks, type BlocksCheck, type ChainBreak } from './chain-verify.ts';

/**
 * Records what a check of blocks from..through found in chain_state: a break is kept until a later
 * check of that block passes, and the lowest break is the one reported.
 */
async function recordCheck(tx: Db, from: number, to: number, check: BlocksCheck, options: { next?: number; passComplete: boolean }): Promise<void> {
  const { rows } = await tx.query<{ broken: ChainBreak | null }>('SELECT broken FROM chain_state WHERE id = 1 FOR UPDATE');
  let broken = rows[0]?.broken ?? null;
  const checkedThrough = check.break ? check.break.block_no - 1 : to;
  if (broken && broken.block_no >= from && broken.block_no <= checkedThrough) broken = null;
  let brokenChanged = broken !== (rows[0]?.broken ?? null);
  if (check.break && (!broken || check.break.block_no <= broken.block_no)) {
    brokenChanged = brokenChanged || JSON.stringify(broken) !== JSON.stringify(check.break);
    broken = check.break;
  }
  await tx.query(
    `UPDATE chain_state SET checked_at = now(),
            broken = $1::jsonb, broken_at = CASE WHEN $2 THEN CASE WHEN $1::jsonb IS NULL THEN NULL ELSE now() END ELSE broken_at END,
            recheck_next_block = coalesce($3, recheck_next_block),
            last_pass_started_at = CASE WHEN $4 = 1 THEN now() ELSE last_pass_started_at END,
            last_pass_at = CASE WHEN $5 THEN now() ELSE last_pass_at END,
            last_pass_through = CASE WHEN $5 THEN $6 ELSE last_pass_through END
      WHERE id = 1`,
    [broken === null ? null : JSON.stringify(broken), brokenChanged, options.next ?? null, from, options.passComplete, to],
  );
}

/**
 * One step of the background re-verification: re-hashes the next blocks (about maxRows rows) from
 * where the previous step stopped, wrapping to block 1 after the last. Over time every sealed block
 * is checked again, so a row rewritten long after sealing is found without anyone asking.
 */
export async function recheckStep(tx: Db, maxRows: number): Promise<BlocksCheck | undefined> {
  const head = await chainHead(tx);
  if (!head) return undefined;
  const { rows } = await tx.query<{ next: number }>('SELECT recheck_next_block AS next FROM chain_state WHERE id = 1');
  const from = (rows[0]?.next ?? 1) > head.block_no ? 1 : (rows[0]?.next ?? 1);
  const to = (await blockRunEnd(tx, from, maxRows)) ?? from;
  const check = await verifyBlocks(tx, from, to);
  const stoppedAt = check.break ? check.break.block_no : to;
  const passComplete = !check.break && to >= head.block_no;
  await recordCheck(tx, from, to, check, { next: passComplete ? 1 : stoppedAt + 1, passComplete });
  return check;
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
  const report: ChainReport = { ok: true, blocks: 0, rows: 0, sealedThrough: head?.last_id ?? 0, headHash: null, unsealed: 0, durationMs: 0 };
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
