import type { Db } from '../../db/db.ts';
import type { ChainBreak } from './chain-verify.ts';
import type { Verdict } from './verifier.ts';

export interface HealthSnapshot {
  breaker: { on: boolean; reason: string | null; changedBy: string | null; changedAt: Date };
  verdict:
    | (Pick<Verdict, 'ok' | 'settledThrough' | 'tailEntries' | 'drift' | 'driftCount'> & {
        checkedAt: Date;
        ageMs: number;
        verifier: string;
        durationMs: number;
      })
    | null;
  ledgerHead: number;
  chain: {
    blocks: number;
    sealedThrough: number;
    headHash: string | null;
    sealedAt: Date | null;
    lastPassAt: Date | null;
    checkedAt: Date | null;
    /** The last block re-verified by the rolling pass (or, just after a pass, the last of that pass). */
    verifiedThroughBlock: number;
    broken: ChainBreak | null;
  };
}

interface Row {
  breaker_on: boolean;
  reason: string | null;
  changed_by: string | null;
  changed_at: Date;
  ok: boolean | null;
  settled_through: number | null;
  tail_entries: number | null;
  drift: Verdict['drift'] | null;
  drift_count: number | null;
  checked_at: Date | null;
  age_ms: number | null;
  verifier: string | null;
  duration_ms: number | null;
  ledger_head: number | null;
  block_no: number | null;
  sealed_through: number | null;
  head_hash: string | null;
  sealed_at: Date | null;
  last_pass_at: Date | null;
  chain_checked_at: Date | null;
  recheck_next_block: number | null;
  last_pass_through: number | null;
  broken: ChainBreak | null;
}

/**
 * Everything /health reports, in one statement over small tables and index ends: the breaker, the
 * drift verifier's newest verdict and its age (by the database clock, so replicas agree), and the
 * hash chain's head and re-verification state. Its cost does not grow with the ledger.
 */
export async function readHealthSnapshot(db: Db): Promise<HealthSnapshot> {
  const { rows } = await db.query<Row>(
    `SELECT c.breaker_on, c.reason, c.changed_by, c.changed_at,
            v.ok, v.settled_through, v.tail_entries, v.drift, v.drift_count, v.checked_at, v.verifier, v.duration_ms,
            (extract(epoch FROM clock_timestamp() - v.checked_at) * 1000)::bigint AS age_ms,
            (SELECT max(id) FROM ledger) AS ledger_head,
            b.block_no, b.last_id AS sealed_through, encode(b.hash, 'hex') AS head_hash, b.sealed_at,
            s.last_pass_at, s.checked_at AS chain_checked_at, s.recheck_next_block, s.last_pass_through, s.broken
       FROM control c
       LEFT JOIN verifier_status v ON v.id = 1
       LEFT JOIN chain_state s ON s.id = 1
       LEFT JOIN LATERAL (SELECT block_no, last_id, hash, sealed_at FROM ledger_blocks ORDER BY block_no DESC LIMIT 1) b ON true
      WHERE c.id = 1`,
  );
  const r = rows[0]!;
  return {
    breaker: { on: r.breaker_on, reason: r.reason, changedBy: r.changed_by, changedAt: r.changed_at },
    verdict:
      r.ok === null
        ? null
        : {
            ok: r.ok,
            settledThrough: r.settled_through!,
            tailEntries: r.tail_entries!,
            drift: r.drift ?? [],
            driftCount: r.drift_count!,
            checkedAt: r.checked_at!,
            ageMs: Math.max(0, r.age_ms!),
            verifier: r.verifier!,
            durationMs: r.duration_ms!,
          },
    ledgerHead: r.ledger_head ?? 0,
    chain: {
      blocks: r.block_no ?? 0,
      sealedThrough: r.sealed_through ?? 0,
      headHash: r.head_hash,
      sealedAt: r.sealed_at,
      lastPassAt: r.last_pass_at,
      checkedAt: r.chain_checked_at,
      verifiedThroughBlock: (r.recheck_next_block ?? 1) > 1 ? r.recheck_next_block! - 1 : (r.last_pass_through ?? 0),
      broken: r.broken,
    },
  };
}
