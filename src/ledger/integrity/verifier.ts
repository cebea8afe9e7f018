import type { Db } from '../../db/db.ts';
import { createFenceTracker } from './fence.ts';

/** One verifier at a time across replicas: whoever takes this lock for a tick does the work. */
export const VERIFIER_LOCK_KEY = 4_711_000_012;

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

interface StoredVerdict {
  ok: boolean;
  settled_through: number;
  tail_entries: number;
  drift: Verdict['drift'];
  drift_count: number;
  checkpoint: number | null;
}

/**
 * The drift check behind /health. The database computes and stores the verdict itself
 * (verifier_tick, migration 000074): it compares, in one snapshot, every balance row with the
 * newest checkpoint plus the entries after it, and makes a checkpoint every checkpointEvery
 * settled ids, so the cost stays the number of balance rows plus the entries since the newest
 * checkpoint. The application role may ask for a verdict but cannot write one. This side only
 * tracks the settled horizon (fence.ts), which the database cannot wait for.
 */
export function createDriftVerifier(db: Db, options: VerifierOptions) {
  const fences = createFenceTracker();

  /** One verification, or undefined when another replica holds the verifier lock. */
  async function tick(): Promise<Verdict | undefined> {
    const settled = await fences.advance(db);
    const { rows } = await db.query<{ verdict: StoredVerdict | null }>('SELECT verifier_tick($1, $2, $3) AS verdict', [
      options.name,
      settled ?? null,
      options.checkpointEvery,
    ]);
    const v = rows[0]?.verdict;
    if (!v) return undefined;
    return {
      ok: v.ok,
      settledThrough: Number(v.settled_through),
      tailEntries: Number(v.tail_entries),
      drift: v.drift,
      driftCount: v.drift_count,
      ...(v.checkpoint === null ? {} : { checkpoint: Number(v.checkpoint) }),
    };
  }

  return { tick };
}

export type DriftVerifier = ReturnType<typeof createDriftVerifier>;
