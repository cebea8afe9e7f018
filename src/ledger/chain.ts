import { createHash } from 'node:crypto';
import type { Db } from '../db/db.ts';

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
 */
export const ROW_DIGEST_SQL = `sha256(convert_to(concat_ws('|', l.id, l.proposal_id, l.leg, l.kind, l.actor_from, l.actor_to,
  l.resource, l.amount, to_char(l.executed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), length(l.validator_version),
  l.validator_version, l.metadata), 'UTF8'))`;

export const GENESIS_HASH = Buffer.alloc(32);
export const FINGERPRINT_BYTES = 8;
const SEAL_LOCK_KEY = 4_711_000_011;

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

interface BlockRow {
  last_id: number;
  row_count: number;
  row_ids: string;
  fingerprints: Buffer;
  content: Buffer;
}

/**
 * Seals ledger rows after the last sealed block, up to `through`, into new blocks. `through` must
 * be settled (see fence.ts): a late row below it would be left outside every block. Returns
 * undefined when skipIfBusy is set and another sealer holds the lock.
 */
export async function sealThrough(tx: Db, through: number, options: SealOptions): Promise<SealResult | undefined> {
  if (options.skipIfBusy) {
    const { rows } = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [SEAL_LOCK_KEY]);
    if (!rows[0]!.ok) return undefined;
  } else {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [SEAL_LOCK_KEY]);
  }
  const head = await chainHead(tx);
  const after = head?.last_id ?? 0;
  if (through <= after) return { blocks: 0, rows: 0, sealedThrough: after, more: false };

  const { rows } = await tx.query<BlockRow>(
    `WITH r AS (
       SELECT l.id, ${ROW_DIGEST_SQL} AS d FROM ledger l WHERE l.id > $1 AND l.id <= $2 ORDER BY l.id LIMIT $3
     ), numbered AS (SELECT id, d, (row_number() OVER (ORDER BY id) - 1) / $4 AS k FROM r)
     SELECT max(id) AS last_id, count(*)::integer AS row_count, array_agg(id ORDER BY id)::text AS row_ids,
            string_agg(substring(d FROM 1 FOR ${FINGERPRINT_BYTES}), ''::bytea ORDER BY id) AS fingerprints,
            sha256(string_agg(d, ''::bytea ORDER BY id)) AS content
       FROM numbered GROUP BY k ORDER BY k`,
    [after, through, options.maxRows, options.blockSize],
  );
  const sealedRows = rows.reduce((n, b) => n + b.row_count, 0);
  const more = sealedRows >= options.maxRows;
  if (rows.length === 0) return { blocks: 0, rows: 0, sealedThrough: after, more: false };

  let prev = head?.hash ?? GENESIS_HASH;
  let prevLast = after;
  let blockNo = head?.block_no ?? 0;
  const blocks = rows.map((row, index) => {
    // The last block of a run that reached `through` extends to it, over ids that never committed.
    const lastId = index === rows.length - 1 && !more ? through : row.last_id;
    const block = { blockNo: ++blockNo, firstId: prevLast + 1, lastId, row, prev };
    const hash = blockHash(prev, block.firstId, lastId, row.row_count, row.content);
    prev = hash;
    prevLast = lastId;
    return { ...block, hash };
  });
  await tx.query(
    `INSERT INTO ledger_blocks (block_no, first_id, last_id, row_count, row_ids, row_fingerprints, content_hash, prev_hash, hash)
     SELECT b.block_no, b.first_id, b.last_id, b.row_count, b.row_ids::bigint[], decode(b.fp, 'hex'), decode(b.content, 'hex'),
            decode(b.prev, 'hex'), decode(b.hash, 'hex')
       FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::integer[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
         AS b(block_no, first_id, last_id, row_count, row_ids, fp, content, prev, hash)`,
    [
      blocks.map((b) => b.blockNo),
      blocks.map((b) => b.firstId),
      blocks.map((b) => b.lastId),
      blocks.map((b) => b.row.row_count),
      blocks.map((b) => b.row.row_ids),
      blocks.map((b) => b.row.fingerprints.toString('hex')),
      blocks.map((b) => b.row.content.toString('hex')),
      blocks.map((b) => b.prev.toString('hex')),
      blocks.map((b) => b.hash.toString('hex')),
    ],
  );
  return { blocks: blocks.length, rows: sealedRows, sealedThrough: prevLast, more };
}
