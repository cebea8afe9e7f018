import { createHash } from 'node:crypto';
import type { Db } from '../../db/db.ts';

/**
 * Digests of recorded history, for showing that two worlds wrote the same thing. Timestamps are
 * left out (they differ between any two executions); everything else a row says is in.
 */

export interface Digest {
  digest: string;
  rows: number;
  rejections: number;
}

function digestOf(ledger: unknown[], rejected: unknown[]): string {
  const hash = createHash('sha256');
  for (const row of ledger) hash.update(JSON.stringify(row)).update('\n');
  hash.update('--\n');
  for (const row of rejected) hash.update(JSON.stringify(row)).update('\n');
  return hash.digest('hex');
}

/**
 * The whole world: every ledger row in id order (id, proposal id, leg, kind, actors, resource,
 * amount, validator version, metadata), then every rejection (proposal id, code, message, proposal).
 */
export async function ledgerDigest(db: Db): Promise<Digest> {
  const ledger = await db.query(
    `SELECT id, proposal_id::text, leg, kind, actor_from::text, actor_to::text, resource, amount::text, validator_version, metadata
       FROM ledger ORDER BY id`,
  );
  const rejected = await db.query(
    'SELECT proposal_id::text, validation_error_code, message, proposal_json FROM rejected_proposals ORDER BY proposal_id',
  );
  return { digest: digestOf(ledger.rows, rejected.rows), rows: ledger.rowCount, rejections: rejected.rowCount };
}

/** A metadata epoch at most $2; metadata a client wrote may hold anything, which never matches. */
const epochAtMost = (metadata: string) =>
  `CASE WHEN ${metadata}->>'epoch' ~ '^[0-9]{1,9}$' THEN (${metadata}->>'epoch')::int <= $2 ELSE false END`;

/**
 * One run's history through an epoch: the ledger rows its epochs wrote (settlement, extraction and
 * trades, which carry the run and epoch in their metadata), in ledger order, and the proposals of
 * its epochs that were rejected. Row ids and the validator version are left out too, so that the
 * same run replayed in another world, or by a newer build, digests alike when it did the same.
 */
export async function runDigest(db: Db, runId: string, throughEpoch: number): Promise<Digest> {
  const ledger = await db.query(
    `SELECT proposal_id::text, leg, kind, actor_from::text, actor_to::text, resource, amount::text, metadata
       FROM ledger
      WHERE metadata->>'run_id' = $1 AND ${epochAtMost('metadata')}
      ORDER BY id`,
    [runId, throughEpoch],
  );
  const rejected = await db.query(
    `SELECT proposal_id::text, validation_error_code, message, proposal_json
       FROM rejected_proposals
      WHERE proposal_json->'metadata'->>'run_id' = $1 AND ${epochAtMost("proposal_json->'metadata'")}
      ORDER BY proposal_id`,
    [runId, throughEpoch],
  );
  return { digest: digestOf(ledger.rows, rejected.rows), rows: ledger.rowCount, rejections: rejected.rowCount };
}
