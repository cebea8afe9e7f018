import { CodedError } from '../../domain/errors.ts';
import { isDatabaseUnavailable } from '../../db/db.ts';
import type { ExecuteItem, ExecuteOutcome, RecordGroup } from './execute.ts';

export interface GroupCommitOptions {
  /** Most proposals decided in one transaction (a larger batch still goes whole, alone). */
  maxGroup: number;
  /** Transactions in flight at once; while they run, new arrivals gather into the next group. */
  lanes: number;
  /** Called with each group's outcomes once it has committed (live events); it must not throw. */
  onCommitted?: (outcomes: readonly ExecuteOutcome[]) => void;
}

/** The commit of a group failed: nothing of it was recorded, so a retry with the same id is safe. */
export function commitFailed(error: unknown): CodedError {
  return new CodedError('COMMIT_FAILED', 'the transaction could not be committed; nothing was recorded; retry with the same proposal_id', {
    cause: describe(error),
  });
}

/** A failure in words, whatever was thrown (String() itself throws for an object without a prototype). */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return typeof error;
  }
}

interface Unit {
  items: ExecuteItem[];
  resolve: (outcomes: ExecuteOutcome[]) => void;
  reject: (error: unknown) => void;
}

/** Failures already in the registry's words (breaker open, unknown key, malformed) or a lost database: answered as they are. */
const passThrough = (error: unknown) => error instanceof CodedError || isDatabaseUnavailable(error);
/** Failures that hold for every call of the group alike, so retrying each alone would not help. */
const sharedByAll = (error: unknown) =>
  isDatabaseUnavailable(error) || (error instanceof CodedError && error.code === 'CIRCUIT_BREAKER_OPEN');
/** What a call that failed is answered with: the failure as it is when passed through, else COMMIT_FAILED. */
const answerFor = (error: unknown) => (passThrough(error) ? error : commitFailed(error));
/** The function that answers every call of a group with the same failure. */
const failEach = (group: readonly Unit[], error: unknown) => {
  const failure = answerFor(error);
  return () => {
    for (const unit of group) unit.reject(failure);
  };
};

/**
 * Coalesces concurrent calls into shared transactions (group commit). A call that finds a free
 * lane runs at once, so a lone client waits for nobody; calls that arrive while every lane is
 * busy queue up and go together in the next transaction, in arrival order, each with its own
 * outcome. One commit (one WAL flush) then answers them all. A unit (one /execute call, or one
 * /execute/batch request) is never split across transactions.
 */
export function createGroupCommitter(recordGroup: RecordGroup, options: GroupCommitOptions) {
  const queue: Unit[] = [];
  let active = 0;
  const counters = { groups: 0, items: 0, largest: 0 };

  async function record(items: ExecuteItem[]): Promise<ExecuteOutcome[]> {
    const outcomes = await recordGroup(items);
    options.onCommitted?.(outcomes);
    return outcomes;
  }

  async function runAlone(unit: Unit): Promise<void> {
    try {
      unit.resolve(await record(unit.items));
    } catch (error) {
      unit.reject(answerFor(error));
    }
  }

  /** Records a group; resolves, once it is durable or has failed, to the function that answers its calls. */
  async function runGroup(group: Unit[]): Promise<() => void> {
    const items = group.flatMap((u) => u.items);
    counters.groups++;
    counters.items += items.length;
    counters.largest = Math.max(counters.largest, items.length);
    try {
      const outcomes = await record(items);
      return () => {
        let next = 0;
        for (const unit of group) {
          unit.resolve(outcomes.slice(next, next + unit.items.length));
          next += unit.items.length;
        }
      };
    } catch (error) {
      if (group.length > 1 && !sharedByAll(error)) {
        // One unit may poison the group (a revoked key, a failing commit, a bug): decide each
        // alone, so only the unit that fails by itself gets the failure.
        for (const unit of group) await runAlone(unit);
        return () => undefined;
      }
      return failEach(group, error);
    }
  }

  function takeGroup(): Unit[] {
    const group = [queue.shift()!];
    let size = group[0]!.items.length;
    while (queue.length > 0 && size + queue[0]!.items.length <= options.maxGroup) {
      size += queue[0]!.items.length;
      group.push(queue.shift()!);
    }
    return group;
  }

  /** A lane is free again: the next group goes to the database, then the finished one is answered. */
  function laneFreed(answer: () => void): void {
    active--;
    if (queue.length === 0) return answer();
    // The next group goes to the database first; this one's calls are answered (their replies
    // serialised and written) while it is there, not before it starts.
    pump();
    setImmediate(answer);
  }

  function pump(): void {
    while (active < options.lanes && queue.length > 0) {
      active++;
      const group = takeGroup();
      // runGroup settles every call itself; should it ever throw, the lane is freed all the same
      // and its calls get the failure, so no call waits for ever.
      void runGroup(group).then(laneFreed, (error: unknown) => laneFreed(failEach(group, error)));
    }
  }

  function executeMany(items: ExecuteItem[]): Promise<ExecuteOutcome[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      queue.push({ items, resolve, reject });
      pump();
    });
  }

  return {
    executeMany,
    execute: async (item: ExecuteItem): Promise<ExecuteOutcome> => (await executeMany([item]))[0]!,
    /** Units waiting for a lane, and totals of groups committed (for metrics). */
    stats: () => ({ pending: queue.length, ...counters }),
  };
}

export type GroupCommitter = ReturnType<typeof createGroupCommitter>;
