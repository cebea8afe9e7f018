import { formatMicro, microFromDb, type Micro } from '../domain/money.ts';
import { balanceKey } from '../domain/validate.ts';
import type { Db } from '../db/db.ts';
import { createCheckpoint, CheckpointMaker } from './checkpoint.ts';
import { createFenceTracker } from './fence.ts';
import { aggregatedMovesSql } from './replay.ts';

/** One verifier at a time across replicas: whoever takes this lock for a tick does the work. */
export const VERIFIER_LOCK_KEY = 4_711_000_012;
const MAX_DRIFT_ROWS = 20;

export interface VerifierOptions {
  /** Who is verifying, written with the verdict (host:pid). */
  name: string;
  /** Make a checkpoint once this many ledger ids have settled past the newest one. */
  checkpointEvery: number;
}

export interface Verdict {
  ok: boolean;
  settledThrough: number;
  tailEntries: number;
  drift: Array<{ actor_id: string; actor: string | null; resource: string; balance: string | null; expected: string | null }>;
  driftCount: number;
  checkpoint?: number;
}

/**
 * The incremental drift check behind /health. It keeps in memory the balances the ledger implies
 * at a settled id (the base), advanced each tick by the entries that settled since, and starting
 * from the newest checkpoint when it has none (or is behind one). Each tick compares, in one
 * statement and hence one snapshot, every balance row with base + the entries after the base:
 * balance rows and ledger rows are written by the same transactions, so in one snapshot they must
 * agree exactly, whatever is in flight. The cost is the number of balance rows plus the entries
 * since the base, not the size of the ledger.
 */
export function createDriftVerifier(db: Db, options: VerifierOptions) {
  const fences = createFenceTracker();
  let base: { id: number; amounts: Map<string, { actor: string; resource: string; amount: Micro }> } | undefined;

  async function loadBase(tx: Db, checkpoint: number): Promise<void> {
    const { rows } = await tx.query<{ actor_id: string; resource: string; amount: string }>(
      'SELECT actor_id::text, resource, amount::text FROM checkpoint_balances WHERE ledger_id = $1',
      [checkpoint],
    );
    base = { id: checkpoint, amounts: new Map(rows.map((r) => [balanceKey(r.actor_id, r.resource), { actor: r.actor_id, resource: r.resource, amount: microFromDb(r.amount) }])) };
  }

  async function advance(tx: Db, to: number): Promise<void> {
    if (!base || to <= base.id) return;
    const { rows } = await tx.query<{ actor: string; resource: string; amount: string }>(
      `SELECT actor::text, resource, amount::text FROM (${aggregatedMovesSql('$1', '$2')}) AS d`,
      [base.id, to],
    );
    for (const r of rows) {
      const k = balanceKey(r.actor, r.resource);
      const entry = base.amounts.get(k) ?? { actor: r.actor, resource: r.resource, amount: 0n };
      entry.amount += microFromDb(r.amount);
      base.amounts.set(k, entry);
    }
    base.id = to;
  }

  /** Compares balances with base + tail in one snapshot; returns the verdict and the snapshot time. */
  async function compare(tx: Db): Promise<Omit<Verdict, 'checkpoint'> & { checkedAt: Date }> {
    const current = base!;
    // The sentinel row carries the statement's start time: the moment of the snapshot compared.
    const { rows } = await tx.query<{ src: 'b' | 't' | 's'; actor: string; resource: string; amount: string; moves: number; at: Date }>(
      `SELECT 's' AS src, '' AS actor, '' AS resource, '0' AS amount, 0::bigint AS moves, statement_timestamp() AS at
       UNION ALL
       SELECT 'b', actor_id::text, resource, amount::text, 0, NULL FROM balances
       UNION ALL
       SELECT 't', actor::text, resource, amount::text, moves, NULL FROM (${aggregatedMovesSql('$1', null)}) AS tail`,
      [current.id],
    );
    let checkedAt = new Date();
    const expected = new Map<string, { actor: string; resource: string; amount: Micro }>();
    for (const [k, v] of current.amounts) expected.set(k, { ...v });
    const balances = new Map<string, Micro>();
    let moves = 0;
    for (const r of rows) {
      const k = balanceKey(r.actor, r.resource);
      if (r.src === 's') checkedAt = r.at;
      else if (r.src === 'b') {
        balances.set(k, microFromDb(r.amount));
        if (!expected.has(k)) expected.set(k, { actor: r.actor, resource: r.resource, amount: 0n });
      } else {
        moves += r.moves;
        const entry = expected.get(k) ?? { actor: r.actor, resource: r.resource, amount: 0n };
        entry.amount += microFromDb(r.amount);
        expected.set(k, entry);
      }
    }
    const drift: Verdict['drift'] = [];
    let driftCount = 0;
    for (const [k, e] of [...expected].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const balance = balances.get(k);
      if ((balance ?? 0n) === e.amount) continue;
      driftCount++;
      if (drift.length < MAX_DRIFT_ROWS) {
        drift.push({ actor_id: e.actor, actor: null, resource: e.resource, balance: balance === undefined ? null : formatMicro(balance), expected: formatMicro(e.amount) });
      }
    }
    if (drift.length > 0) {
      const names = await tx.query<{ id: string; name: string }>('SELECT id::text, name FROM actors WHERE id = ANY($1::uuid[])', [drift.map((d) => d.actor_id)]);
      const byId = new Map(names.rows.map((r) => [r.id, r.name]));
      for (const d of drift) d.actor = byId.get(d.actor_id) ?? null;
    }
    return { ok: driftCount === 0, settledThrough: current.id, tailEntries: moves / 2, drift, driftCount, checkedAt };
  }

  /**
   * One verification, or undefined when another replica holds the verifier lock. Writes the
   * verdict to verifier_status, where every replica's /health reads it.
   */
  async function tick(): Promise<Verdict | undefined> {
    const started = Date.now();
    return db.transaction(async (tx) => {
      const lock = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [VERIFIER_LOCK_KEY]);
      if (!lock.rows[0]!.ok) return undefined;
      const settled = await fences.advance(tx);
      const latest = await tx.query<{ id: number | null }>('SELECT max(ledger_id) AS id FROM checkpoints');
      let checkpointId = latest.rows[0]?.id ?? 0;
      let checkpoint: number | undefined;
      if (settled !== undefined && settled - checkpointId >= options.checkpointEvery) {
        // Due: make it first, then start from it, rather than aggregate the same entries twice.
        checkpoint = checkpointId = (await createCheckpoint(tx, settled, CheckpointMaker.auto)).ledger_id;
      }
      if (!base || base.id < checkpointId) await loadBase(tx, checkpointId);
      if (settled !== undefined) await advance(tx, settled);
      const { checkedAt, ...compared } = await compare(tx);
      const verdict: Verdict = { ...compared, ...(checkpoint === undefined ? {} : { checkpoint }) };
      await tx.query(
        `INSERT INTO verifier_status (id, ok, settled_through, base_id, tail_entries, drift, drift_count, checked_at, duration_ms, verifier)
         VALUES (1, $1, $2, $3, $4, $5, $6, $9, $7, $8)
         ON CONFLICT (id) DO UPDATE SET ok = excluded.ok, settled_through = excluded.settled_through, base_id = excluded.base_id,
           tail_entries = excluded.tail_entries, drift = excluded.drift, drift_count = excluded.drift_count,
           checked_at = excluded.checked_at, duration_ms = excluded.duration_ms, verifier = excluded.verifier`,
        [verdict.ok, verdict.settledThrough, checkpointId, verdict.tailEntries, JSON.stringify(verdict.drift), verdict.driftCount, Date.now() - started, options.name, checkedAt],
      );
      return verdict;
    });
  }

  return { tick };
}

export type DriftVerifier = ReturnType<typeof createDriftVerifier>;
