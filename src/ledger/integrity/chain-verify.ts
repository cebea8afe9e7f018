import type { Db } from '../../db/db.ts';

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

/**
 * Re-hashes blocks fromBlock..toBlock from the ledger and checks each link, stopping at the first
 * break: chain_check (migration 000075), which hashes in the database and names the first row
 * (lowest id) where a block and the ledger disagree.
 */
export async function verifyBlocks(db: Db, fromBlock: number, toBlock: number): Promise<BlocksCheck> {
  const { rows } = await db.query<{ c: StoredCheck }>('SELECT chain_check($1, $2) AS c', [fromBlock, toBlock]);
  return fromStoredCheck(rows[0]!.c);
}

/** A check as chain_check and chain_recheck return it. */
export interface StoredCheck {
  blocks: number;
  rows: number;
  last_block: number;
  last_hash: string | null;
  break: ChainBreak | null;
}

export function fromStoredCheck(c: StoredCheck): BlocksCheck {
  return {
    blocks: c.blocks,
    rows: Number(c.rows),
    lastBlock: Number(c.last_block),
    lastHash: c.last_hash,
    ...(c.break ? { break: c.break } : {}),
  };
}

export function toStoredCheck(check: BlocksCheck): StoredCheck {
  return { blocks: check.blocks, rows: check.rows, last_block: check.lastBlock, last_hash: check.lastHash, break: check.break ?? null };
}

/** The last block of a run starting at fromBlock that stays within about maxRows rows (at least one block). */
export async function blockRunEnd(db: Db, fromBlock: number, maxRows: number): Promise<number | undefined> {
  const { rows } = await db.query<{ last: number | null }>('SELECT chain_run_end($1, $2) AS last', [fromBlock, Math.max(1, maxRows)]);
  return rows[0]?.last ?? undefined;
}
