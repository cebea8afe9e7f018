import { createHash } from 'node:crypto';
import type { Db } from '../../db/db.ts';

/**
 * The tamper-evident hash chain over the ledger (see migration 000012 for the table).
 *
 * A row's digest is the SHA-256 of one line holding every ledger column, '|'-separated: id,
 * proposal_id, leg, kind, actor_from, actor_to, resource, amount (fixed six decimals), executed_at
 * (UTC, to the microsecond), then the validator version prefixed by its length, then the metadata
 * as jsonb prints it (one normal form). Every field before the version has a fixed alphabet
 * without '|', and the length prefix delimits the version, so the line is unambiguous.
 * A block's content hash is the SHA-256 of its rows' digests in id order, and its hash is
 *   SHA-256(previous block's hash ‖ first id ‖ last id ‖ row count ‖ content hash),
 * starting from 32 zero bytes. Changing, removing or adding a row in a sealed range changes the
 * content hash; rewriting a block breaks the link to the next one.
 *
 * The database seals and checks (migration 000075: ledger_row_digest, chain_seal, chain_check),
 * so that the application role can ask for both but write neither a block nor the tamper flag.
 * blockHash below is the same formula in TypeScript, for checks from outside the database.
 */
export const GENESIS_HASH = Buffer.alloc(32);

export function blockHash(prev: Buffer, firstId: number, lastId: number, rowCount: number, content: Buffer): Buffer {
  const header = Buffer.alloc(20);
  header.writeBigInt64BE(BigInt(firstId), 0);
  header.writeBigInt64BE(BigInt(lastId), 8);
  header.writeUInt32BE(rowCount, 16);
  return createHash('sha256').update(prev).update(header).update(content).digest();
}

export interface ChainHead {
  block_no: number;
  last_id: number;
  hash: Buffer;
}

export async function chainHead(db: Db): Promise<ChainHead | undefined> {
  const { rows } = await db.query<ChainHead>('SELECT block_no, last_id, hash FROM ledger_blocks ORDER BY block_no DESC LIMIT 1');
  return rows[0];
}

export interface SealResult {
  blocks: number;
  rows: number;
  /** The last ledger id covered by a sealed block (0 when nothing is sealed yet). */
  sealedThrough: number;
  /** True when the row budget stopped sealing before `through`. */
  more: boolean;
}

export interface SealOptions {
  /** Rows per block (the last block of a run may hold fewer). */
  blockSize: number;
  /** At most this many rows in one call, so that a transaction stays short. */
  maxRows: number;
  /** Give up at once when another process is sealing (workers), instead of waiting (CLI). */
  skipIfBusy?: boolean;
}

/**
 * Seals ledger rows after the last sealed block, up to `through`, into new blocks (chain_seal).
 * `through` must be settled (see fence.ts): a late row below it would be left outside every
 * block. Returns undefined when skipIfBusy is set and another sealer holds the lock.
 */
export async function sealThrough(tx: Db, through: number, options: SealOptions): Promise<SealResult | undefined> {
  const { rows } = await tx.query<{ blocks: number; sealed_rows: number; sealed_through: number; more: boolean }>(
    'SELECT blocks, sealed_rows, sealed_through, more FROM chain_seal($1, $2, $3, $4)',
    [through, options.blockSize, options.maxRows, options.skipIfBusy !== true],
  );
  const row = rows[0];
  return row && { blocks: row.blocks, rows: row.sealed_rows, sealedThrough: row.sealed_through, more: row.more };
}
