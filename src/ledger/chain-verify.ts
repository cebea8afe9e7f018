import type { Db } from '../db/db.ts';
import { blockHash, FINGERPRINT_BYTES, GENESIS_HASH, ROW_DIGEST_SQL } from './chain.ts';

export const BreakKind = {
  /** A sealed row's content changed. */
  modified: 'modified',
  /** A sealed row is gone. */
  deleted: 'deleted',
  /** A row appeared inside a sealed range (or below the first block). */
  inserted: 'inserted',
  /** The block's rows hash differently, but no single row could be named. */
  content: 'content',
  /** A block row itself was rewritten: its hash does not match its fields. */
  block: 'block',
  /** A block does not continue the previous one (hash, range or number). */
  link: 'link',
} as const;
export type BreakKind = (typeof BreakKind)[keyof typeof BreakKind];

export interface ChainBreak {
  block_no: number;
  kind: BreakKind;
  ledger_id?: number;
  message: string;
}

export interface BlocksCheck {
  blocks: number;
  rows: number;
  /** The last block checked, and its hash as stored. */
  lastBlock: number;
  lastHash: string | null;
  break?: ChainBreak;
}

interface CheckedRow {
  block_no: number;
  first_id: number;
  last_id: number;
  row_count: number;
  row_ids: Array<number | string>;
  row_fingerprints: Buffer;
  content_hash: Buffer;
  prev_hash: Buffer;
  hash: Buffer;
  ids: Array<number | string> | null;
  fps: Buffer | null;
  content: Buffer | null;
}

/** Names the first row (lowest id) where the stored block and the ledger disagree. */
function locate(row: CheckedRow): ChainBreak {
  const stored = row.row_ids.map(Number);
  const actual = (row.ids ?? []).map(Number);
  const fp = (buf: Buffer | null, i: number) => buf?.subarray(i * FINGERPRINT_BYTES, (i + 1) * FINGERPRINT_BYTES);
  let i = 0;
  let j = 0;
  while (i < stored.length || j < actual.length) {
    const s = stored[i];
    const a = actual[j];
    if (a === undefined || (s !== undefined && s < a)) {
      return { block_no: row.block_no, kind: BreakKind.deleted, ledger_id: s, message: `ledger row ${s} was sealed in block ${row.block_no} and is gone` };
    }
    if (s === undefined || a < s) {
      return { block_no: row.block_no, kind: BreakKind.inserted, ledger_id: a, message: `ledger row ${a} is inside block ${row.block_no} (ids ${row.first_id}-${row.last_id}) but was not there when it was sealed` };
    }
    if (!fp(row.row_fingerprints, i)!.equals(fp(row.fps, j) ?? Buffer.alloc(0))) {
      return { block_no: row.block_no, kind: BreakKind.modified, ledger_id: s, message: `ledger row ${s} in block ${row.block_no} was modified after it was sealed` };
    }
    i++;
    j++;
  }
  return { block_no: row.block_no, kind: BreakKind.content, message: `the rows of block ${row.block_no} (ids ${row.first_id}-${row.last_id}) no longer hash to the sealed value` };
}

/**
 * Re-hashes blocks fromBlock..toBlock from the ledger and checks each link, stopping at the first
 * break. The ledger rows of each block are read by primary-key range, the hashing runs in SQL.
 */
export async function verifyBlocks(db: Db, fromBlock: number, toBlock: number): Promise<BlocksCheck> {
  const before = await db.query<{ block_no: number; last_id: number; hash: Buffer }>(
    'SELECT block_no, last_id, hash FROM ledger_blocks WHERE block_no = $1 - 1',
    [fromBlock],
  );
  let prevHash = before.rows[0]?.hash ?? GENESIS_HASH;
  let prevLast = before.rows[0]?.last_id ?? 0;
  let prevNo = fromBlock - 1;
  const result: BlocksCheck = { blocks: 0, rows: 0, lastBlock: prevNo, lastHash: before.rows[0]?.hash.toString('hex') ?? null };
  if (fromBlock > 1 && before.rows.length === 0) {
    result.break = { block_no: fromBlock - 1, kind: BreakKind.link, message: `block ${fromBlock - 1} is missing` };
    return result;
  }
  if (fromBlock === 1) {
    const stray = await db.query<{ id: number }>('SELECT id FROM ledger WHERE id < 1 ORDER BY id LIMIT 1');
    if (stray.rows[0]) {
      result.break = { block_no: 1, kind: BreakKind.inserted, ledger_id: stray.rows[0].id, message: `ledger row ${stray.rows[0].id} lies below the first block: ids start at 1` };
      return result;
    }
  }
  const { rows } = await db.query<CheckedRow>(
    `SELECT b.block_no, b.first_id, b.last_id, b.row_count, b.row_ids, b.row_fingerprints, b.content_hash, b.prev_hash, b.hash,
            c.ids, c.fps, c.content
       FROM ledger_blocks b
       LEFT JOIN LATERAL (
         SELECT array_agg(id ORDER BY id) AS ids,
                string_agg(substring(d FROM 1 FOR ${FINGERPRINT_BYTES}), ''::bytea ORDER BY id) AS fps,
                sha256(string_agg(d, ''::bytea ORDER BY id)) AS content
           FROM (SELECT l.id, ${ROW_DIGEST_SQL} AS d FROM ledger l WHERE l.id BETWEEN b.first_id AND b.last_id) AS r
       ) c ON true
      WHERE b.block_no BETWEEN $1 AND $2 ORDER BY b.block_no`,
    [fromBlock, toBlock],
  );
  for (const row of rows) {
    const fail = (kind: BreakKind, message: string) => ({ block_no: row.block_no, kind, message });
    if (row.block_no !== prevNo + 1) result.break = { block_no: prevNo + 1, kind: BreakKind.link, message: `block ${prevNo + 1} is missing: block ${row.block_no} follows block ${prevNo}` };
    else if (row.first_id !== prevLast + 1) result.break = fail(BreakKind.link, `block ${row.block_no} starts at id ${row.first_id}, not ${prevLast + 1}`);
    else if (!row.prev_hash.equals(prevHash)) result.break = fail(BreakKind.link, `block ${row.block_no} does not chain to block ${prevNo}`);
    else if (!blockHash(row.prev_hash, row.first_id, row.last_id, row.row_count, row.content_hash).equals(row.hash)
      || row.row_ids.length !== row.row_count || row.row_fingerprints.length !== row.row_count * FINGERPRINT_BYTES) {
      result.break = fail(BreakKind.block, `block ${row.block_no} was rewritten: its hash does not match its contents`);
    } else if (!row.content || !row.content.equals(row.content_hash)) result.break = locate(row);
    if (result.break) return result;
    result.blocks++;
    result.rows += row.row_count;
    result.lastBlock = row.block_no;
    result.lastHash = row.hash.toString('hex');
    prevHash = row.hash;
    prevLast = row.last_id;
    prevNo = row.block_no;
  }
  return result;
}

/** The last block of a run starting at fromBlock that stays within about maxRows rows (at least one block). */
export async function blockRunEnd(db: Db, fromBlock: number, maxRows: number): Promise<number | undefined> {
  const { rows } = await db.query<{ last: number | null }>(
    `SELECT max(block_no) AS last FROM (
       SELECT block_no, sum(row_count) OVER (ORDER BY block_no) - row_count AS before
         FROM (SELECT block_no, row_count FROM ledger_blocks WHERE block_no >= $1 ORDER BY block_no LIMIT 100000) AS run
     ) AS sums WHERE before < $2`,
    [fromBlock, Math.max(1, maxRows)],
  );
  return rows[0]?.last ?? undefined;
}
