import { createHash } from 'node:crypto';
import type { Db } from '../../src/db/db.ts';

/**
 * A digest of everything the ledger and the rejection record say, timestamps excluded: ids,
 * proposal ids, legs, kinds, actors, amounts, validator version, metadata; then each rejection's
 * id, code, message and proposal. Two runs that agree here wrote the same history.
 */
export async function ledgerDigest(db: Db): Promise<{ digest: string; rows: number; rejections: number }> {
  const ledger = await db.query<Record<string, unknown>>(
    `SELECT id, proposal_id::text, leg, kind, actor_from::text, actor_to::text, resource, amount::text, validator_version, metadata
       FROM ledger ORDER BY id`,
  );
  const rejected = await db.query<Record<string, unknown>>(
    'SELECT proposal_id::text, validation_error_code, message, proposal_json FROM rejected_proposals ORDER BY proposal_id',
  );
  const hash = createHash('sha256');
  for (const row of ledger.rows) hash.update(JSON.stringify(row)).update('\n');
  hash.update('--\n');
  for (const row of rejected.rows) hash.update(JSON.stringify(row)).update('\n');
  return { digest: hash.digest('hex'), rows: ledger.rowCount, rejections: rejected.rowCount };
}
