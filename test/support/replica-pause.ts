import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDb, type Db } from '../../src/db/db.ts';
import { invariantViolations } from './invariants.ts';
import { prng } from './load.ts';
import { http, spawnValidator, type ValidatorProcess } from './validator.ts';

/**
 * Two `gridgov validator` processes on one database under load from several clients; one of them
 * (A) is frozen with SIGSTOP for `pauseMs`, if it can be caught so, while its session sits inside
 * a transaction holding row locks (between two statements of a commit), then resumed with SIGCONT.
 * Used by test/db/replica-pause.test.ts and bench/sigstop.ts.
 */
export interface ReplicaPauseOptions {
  /** A migrated and seeded database (an owner's URL: the checks read it directly). */
  databaseUrl: string;
  actors: string[];
  resources: string[];
  /**
   * When set, every proposal moves the first resource between this actor and another: every
   * commit needs the hub's row, so while A holds it B can commit only once A's session is ended.
   */
  hub?: string;
  /** Clients per replica; each is pinned to its replica and retries a proposal there until decided. */
  clientsPerReplica: number;
  warmupMs: number;
  /** How long to look for A inside a transaction before pausing it wherever it is. */
  catchMs: number;
  pauseMs: number;
  afterMs: number;
  env?: Record<string, string>;
  log?: (line: string) => void;
}

interface Reply {
  replica: 0 | 1;
  proposalId: string;
  legs: number;
  status: number;
  ledgerIds: number[];
  applied: boolean;
  at: number;
}

export interface ReplicaPauseResult {
  /** A was caught idle inside a transaction that had taken locks (row locks: it has an xid). */
  pausedHoldingLocks: boolean;
  heldLocks: string;
  pauseStart: number;
  pauseEnd: number;
  warmupStart: number;
  replies: Reply[];
  /** Applied proposals acknowledged by B, by when the reply arrived. */
  bBefore: number;
  bDuring: number;
  aAfter: number;
  /** Per second: B before the pause (from the end of the warm-up's first second) and during it. */
  bBeforePerS: number;
  bDuringPerS: number;
  acknowledged: number;
  /** Acknowledged proposals missing from the ledger, recorded twice, or with other ids. */
  lost: string[];
  violations: string[];
  unresolved: number;
}

function withApplicationName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', name);
  return parsed.toString();
}

/** A's backend, idle inside a transaction that holds locks; undefined when there is none now. */
async function lockHoldingSession(db: Db, name: string): Promise<string | undefined> {
  const { rows } = await db.query<{ pid: number; locks: string }>(
    `SELECT a.pid, string_agg(DISTINCT l.locktype || ':' || l.mode, ', ') AS locks
       FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid AND l.granted
      WHERE a.application_name = $1 AND a.state = 'idle in transaction' AND a.backend_xid IS NOT NULL
      GROUP BY a.pid LIMIT 1`,
    [name],
  );
  return rows[0] ? `backend ${rows[0].pid}: ${rows[0].locks}` : undefined;
}

export async function runReplicaPause(options: ReplicaPauseOptions): Promise<ReplicaPauseResult> {
  const log = options.log ?? (() => undefined);
  const names = ['gridgov-replica-a', 'gridgov-replica-b'] as const;
  const watcher = createDb(options.databaseUrl, { max: 2, applicationName: 'replica-pause-watcher' });
  const replicas: ValidatorProcess[] = [];
  let paused = false;
  try {
    for (const name of names) {
      replicas.push(
        await spawnValidator(withApplicationName(options.databaseUrl, name), { GRIDGOV_VALIDATOR_VERSION: name, ...options.env }),
      );
    }
    const [a, b] = replicas as [ValidatorProcess, ValidatorProcess];
    log(`replicas: A ${a.url} (pid ${a.child.pid}), B ${b.url} (pid ${b.child.pid})`);

    const replies: Reply[] = [];
    let stopping = false;
    let unresolved = 0;
    const random = prng(12);
    const amount = () => Number((0.001 + random() * 0.05).toFixed(3));
    const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]!;

    async function client(replica: 0 | 1): Promise<void> {
      const url = replicas[replica]!.url;
      while (!stopping) {
        const other = pick(options.actors.filter((x) => x !== options.hub));
        const [from, to] = options.hub
          ? random() < 0.5
            ? [options.hub, other]
            : [other, options.hub]
          : [other, pick(options.actors.filter((x) => x !== other))];
        const proposalId = randomUUID();
        const swap = random() < 0.2;
        const body = swap
          ? {
              proposal_id: proposalId,
              legs: [
                { actor_from: from, actor_to: to, resource: options.resources[0], amount: amount() },
                { actor_from: to, actor_to: from, resource: options.resources[1], amount: amount() },
              ],
            }
          : {
              proposal_id: proposalId,
              actor_from: from,
              actor_to: to,
              resource: options.hub ? options.resources[0] : pick(options.resources),
              amount: amount(),
            };
        // Retried with the same id until decided: a 503 or a lost connection records nothing twice.
        const deadline = Date.now() + 60_000;
        for (;;) {
          let status = 0;
          let reply: { status?: string; ledger_ids?: number[] } = {};
          try {
            const answer = await http(url, 'POST', '/execute', body);
            status = answer.status;
            reply = answer.body as typeof reply;
          } catch {
            // a lost connection: no answer, tried again below
          }
          if (status !== 0 && status !== 503) {
            const applied = status === 200 && reply.status === 'applied';
            replies.push({ replica, proposalId, legs: swap ? 2 : 1, status, ledgerIds: reply.ledger_ids ?? [], applied, at: Date.now() });
            break;
          }
          if (Date.now() > deadline) {
            unresolved++;
            break;
          }
          await sleep(50);
        }
      }
    }

    const warmupStart = Date.now();
    const load = Promise.all(Array.from({ length: options.clientsPerReplica * 2 }, (_, i) => client((i % 2) as 0 | 1)));
    await sleep(options.warmupMs);

    // Catch A between two statements of a transaction that holds row locks, and freeze it there.
    let heldLocks = '';
    const catchUntil = Date.now() + options.catchMs;
    while (!heldLocks && Date.now() < catchUntil) {
      if (!(await lockHoldingSession(watcher, names[0]))) {
        await sleep(2);
        continue;
      }
      process.kill(a.child.pid!, 'SIGSTOP');
      paused = true;
      await sleep(20); // a statement already on the wire finishes; A can send no other
      heldLocks = (await lockHoldingSession(watcher, names[0])) ?? '';
      if (!heldLocks) {
        process.kill(a.child.pid!, 'SIGCONT');
        paused = false;
      }
    }
    if (!paused) {
      process.kill(a.child.pid!, 'SIGSTOP');
      paused = true;
      log(`A was not caught inside a transaction within ${options.catchMs} ms; paused where it was`);
    }
    const pauseStart = Date.now();
    log(`A paused (SIGSTOP) ${heldLocks ? `holding locks, ${heldLocks}` : 'holding no locks'}`);
    await sleep(options.pauseMs);
    process.kill(a.child.pid!, 'SIGCONT');
    paused = false;
    const pauseEnd = Date.now();
    log(`A resumed (SIGCONT) after ${pauseEnd - pauseStart} ms`);
    await sleep(options.afterMs);
    stopping = true;
    await load;

    const bApplied = replies.filter((r) => r.replica === 1 && r.applied);
    const beforeFrom = warmupStart + 1000;
    const bBefore = bApplied.filter((r) => r.at >= beforeFrom && r.at < pauseStart).length;
    const bDuring = bApplied.filter((r) => r.at >= pauseStart && r.at < pauseEnd).length;
    const aAfter = replies.filter((r) => r.replica === 0 && r.applied && r.at >= pauseEnd).length;

    // Every acknowledged proposal is in the ledger exactly once: its legs, under the ids it was told.
    const acknowledged = replies.filter((r) => r.applied);
    const { rows } = await watcher.query<{ proposal_id: string; ids: number[] }>(
      'SELECT proposal_id::text, array_agg(id ORDER BY leg) AS ids FROM ledger WHERE proposal_id = ANY($1::uuid[]) GROUP BY proposal_id',
      [acknowledged.map((r) => r.proposalId)],
    );
    const inLedger = new Map(rows.map((r) => [r.proposal_id, r.ids]));
    const lost: string[] = [];
    for (const reply of acknowledged) {
      const ids = (inLedger.get(reply.proposalId) ?? []).map(Number);
      const told = reply.ledgerIds.map(Number);
      if (ids.length !== reply.legs || told.length !== ids.length || told.some((id) => !ids.includes(id))) {
        lost.push(
          `${reply.proposalId}: acknowledged with ids ${reply.ledgerIds.join(',')}, the ledger holds ${ids.join(',') || 'nothing'}`,
        );
      }
    }
    return {
      pausedHoldingLocks: heldLocks !== '',
      heldLocks,
      pauseStart,
      pauseEnd,
      warmupStart,
      replies,
      bBefore,
      bDuring,
      aAfter,
      bBeforePerS: bBefore / ((pauseStart - beforeFrom) / 1000),
      bDuringPerS: bDuring / ((pauseEnd - pauseStart) / 1000),
      acknowledged: acknowledged.length,
      lost,
      violations: await invariantViolations(watcher),
      unresolved,
    };
  } finally {
    if (paused) process.kill(replicas[0]!.child.pid!, 'SIGCONT');
    for (const replica of replicas) {
      if (replica.child.exitCode === null) replica.child.kill('SIGTERM');
      await replica.exited;
    }
    await watcher.close();
  }
}
