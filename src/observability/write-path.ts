import { Counter, Histogram, type Registry } from 'prom-client';

/** One decided proposal, as the write path answers it. */
export interface DecidedOutcome {
  status: 'applied' | 'rejected' | 'conflict';
  replayed?: boolean;
  error_code?: string;
}

/**
 * What the write path reports, at two points: a group committed (its size, how long it took and
 * which way it was recorded), and the outcomes it decided. Nothing else of the write path is
 * known here, so a new commit path is only a new label value.
 */
export interface WritePathObserver {
  groupCommitted(group: { size: number; seconds: number; path: string }): void;
  decided(outcomes: ReadonlyArray<DecidedOutcome>): void;
}

export const ignoreWritePath: WritePathObserver = { groupCommitted: () => undefined, decided: () => undefined };

const GROUP_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 5000];
const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function writePathMetrics(registry: Registry): WritePathObserver {
  const size = new Histogram({
    name: 'gridgov_group_commit_proposals',
    help: 'Proposals decided per committed group (one transaction), by commit path.',
    labelNames: ['path'],
    buckets: GROUP_SIZE_BUCKETS,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'gridgov_group_commit_duration_seconds',
    help: 'Time to decide and commit one group, by commit path.',
    labelNames: ['path'],
    buckets: COMMIT_BUCKETS,
    registers: [registry],
  });
  const decided = new Counter({
    name: 'gridgov_proposals_decided_total',
    help: 'Proposals decided, by outcome (applied, rejected, conflict, or replayed) and error code ("" when applied).',
    labelNames: ['outcome', 'error_code'],
    registers: [registry],
  });
  return {
    groupCommitted(group) {
      size.observe({ path: group.path }, group.size);
      duration.observe({ path: group.path }, group.seconds);
    },
    decided(outcomes) {
      for (const o of outcomes) {
        const outcome = o.replayed ? 'replayed' : o.status;
        decided.inc({
          outcome,
          error_code: o.status === 'rejected' ? (o.error_code ?? '') : o.status === 'conflict' ? 'IDEMPOTENCY_CONFLICT' : '',
        });
      }
    },
  };
}
