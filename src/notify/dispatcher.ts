import type { Logger } from 'pino';
import type { Db } from '../db/db.ts';
import { Counter, Histogram, type Registry } from 'prom-client';
import { inSpan } from '../observability/tracing.ts';
import { DeliveryError } from './errors.ts';
import { linearIssueIdFor, type LinearClient } from './linear.ts';
import { rejectionEmbed, type DiscordClient, type RejectionLeg } from './discord.ts';

export interface DispatcherOptions {
  db: Db;
  logger: Logger;
  linear?: LinearClient;
  discord?: DiscordClient;
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** How long a claimed row stays invisible to other dispatchers; past it, it is claimed again. */
  leaseMs?: number;
  batchSize?: number;
  pollMs?: number;
  /** Where delivery counts and durations are reported. */
  metrics?: Registry;
}

interface ClaimedRow {
  id: number;
  topic: string;
  dedupe_key: string;
  attempts: number;
  proposal_id: string;
  error_code: string;
  message: string;
  proposal_json: Record<string, unknown>;
  rejected_at: Date;
}

/** Exponential backoff with full jitter, capped; a target's own Retry-After wins when longer. */
export function backoffMs(attempt: number, base: number, max: number, random = Math.random): number {
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function legsOf(proposal: Record<string, unknown>): RejectionLeg[] {
  const legs = Array.isArray(proposal.legs) ? proposal.legs : [proposal];
  return legs.map((leg) => {
    const l = (typeof leg === 'object' && leg ? leg : {}) as Record<string, unknown>;
    return { actor_from: String(l.actor_from ?? '?'), actor_to: String(l.actor_to ?? '?'), resource: String(l.resource ?? '?'), amount: String(l.amount ?? '?') };
  });
}

export function linearIssueFor(row: Pick<ClaimedRow, 'proposal_id' | 'error_code' | 'message' | 'proposal_json' | 'rejected_at'>) {
  return {
    id: linearIssueIdFor(row.proposal_id),
    title: `[${row.error_code}] Rejected proposal ${row.proposal_id}`,
    description: [
      `**proposal_id:** \`${row.proposal_id}\``,
      `**validation_error_code:** \`${row.error_code}\``,
      `**timestamp:** ${row.rejected_at.toISOString()}`,
      `**message:** ${row.message}`,
      '',
      '```json',
      JSON.stringify(row.proposal_json, null, 2),
      '```',
    ].join('\n'),
  };
}

function deliveryMetrics(registry: Registry) {
  const metrics = {
    deliveries: new Counter({
      name: 'gridgov_outbox_deliveries_total',
      help: 'Delivery attempts by target and result: delivered, retry (failed, will be tried again) or dead (failed for good).',
      labelNames: ['target', 'result'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'gridgov_outbox_delivery_duration_seconds',
      help: 'Time of one delivery attempt to its target (Linear, Discord), by target.',
      labelNames: ['target'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
  // Every series exists from the first scrape, so rate() and alerts see a start at zero.
  for (const target of ['linear', 'discord']) {
    for (const result of ['delivered', 'retry', 'dead']) metrics.deliveries.inc({ target, result }, 0);
    metrics.duration.zero({ target });
  }
  return metrics;
}

/**
 * Delivers the outbox. Rows are claimed with FOR UPDATE SKIP LOCKED and leased (their next
 * attempt pushed past the lease) before any network call, so several dispatchers share the work
 * and a dispatcher killed mid-delivery only delays a row; Linear issues carry an id derived from
 * the proposal, so a repeated delivery finds the issue instead of making a second one.
 */
export function createDispatcher(options: DispatcherOptions) {
  const { db, logger } = options;
  const leaseMs = options.leaseMs ?? 60_000;
  const batchSize = options.batchSize ?? 20;
  const pollMs = options.pollMs ?? 500;
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;
  const metrics = options.metrics ? deliveryMetrics(options.metrics) : undefined;

  async function claim(): Promise<ClaimedRow[]> {
    const { rows } = await db.query<ClaimedRow>(
      `WITH due AS (
         SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= now()
          ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE outbox o SET attempts = o.attempts + 1, next_attempt_at = now() + make_interval(secs => $2::double precision / 1000), updated_at = now()
           FROM due WHERE o.id = due.id
         RETURNING o.id, o.topic, o.dedupe_key, o.attempts, o.payload->>'proposal_id' AS proposal_id
       )
       SELECT c.*, r.validation_error_code AS error_code, r.message, r.proposal_json, r.rejected_at
         FROM claimed c JOIN rejected_proposals r ON r.proposal_id = c.proposal_id::uuid`,
      [batchSize, leaseMs],
    );
    return rows;
  }

  async function deliver(row: ClaimedRow): Promise<unknown> {
    if (row.topic === 'linear' && options.linear) {
      const issue = await options.linear.createIssue(linearIssueFor(row));
      return { id: issue.id, identifier: issue.identifier, url: issue.url, outcome: issue.outcome };
    }
    if (row.topic === 'discord' && options.discord) {
      await options.discord.send({
        embeds: [rejectionEmbed({ error_code: row.error_code, proposal_id: row.proposal_id, legs: legsOf(row.proposal_json), message: row.message, rejected_at: row.rejected_at })],
      });
      return { sent: true };
    }
    throw new DeliveryError(`no ${row.topic} target is configured in this dispatcher`, { retryable: true });
  }

  /** Records the attempt's result; returns what became of the row. */
  async function settle(row: ClaimedRow, result: { ref: unknown } | { error: unknown }): Promise<'delivered' | 'retry' | 'dead'> {
    if ('ref' in result) {
      await db.query("UPDATE outbox SET status = 'delivered', external_ref = $2, last_error = NULL, updated_at = now() WHERE id = $1", [row.id, JSON.stringify(result.ref)]);
      logger.info({ topic: row.topic, proposal_id: row.proposal_id, ref: result.ref }, 'delivered');
      return 'delivered';
    }
    const error = result.error instanceof DeliveryError ? result.error : new DeliveryError(String((result.error as Error)?.message ?? result.error), { retryable: true });
    const dead = !error.retryable || row.attempts >= options.maxAttempts;
    const delay = Math.max(error.retryAfterMs ?? 0, backoffMs(row.attempts, options.baseDelayMs, options.maxDelayMs));
    await db.query(
      `UPDATE outbox SET status = $2, last_error = $3, updated_at = now(),
              next_attempt_at = now() + make_interval(secs => $4::double precision / 1000) WHERE id = $1`,
      [row.id, dead ? 'dead' : 'pending', error.message.slice(0, 1000), delay],
    );
    logger[dead ? 'error' : 'warn'](
      { topic: row.topic, proposal_id: row.proposal_id, attempts: row.attempts, error: error.message, retry_in_ms: dead ? undefined : delay },
      dead ? 'delivery failed for good' : 'delivery failed, will retry',
    );
    return dead ? 'dead' : 'retry';
  }

  /** Claims one batch and delivers it; returns how many rows it handled. */
  async function runOnce(): Promise<number> {
    const rows = await claim();
    await Promise.all(
      rows.map(async (row) => {
        let result: { ref: unknown } | { error: unknown };
        const started = performance.now();
        try {
          result = { ref: await inSpan('gridgov.outbox.deliver', { 'gridgov.target': row.topic, 'gridgov.proposal_id': row.proposal_id, 'gridgov.attempt': row.attempts }, () => deliver(row)) };
        } catch (error) {
          result = { error };
        }
        metrics?.duration.observe({ target: row.topic }, (performance.now() - started) / 1000);
        const outcome = await settle(row, result);
        metrics?.deliveries.inc({ target: row.topic, result: outcome });
      }),
    );
    return rows.length;
  }

  async function run(): Promise<void> {
    while (running) {
      let handled = 0;
      try {
        handled = await runOnce();
      } catch (error) {
        logger.error({ err: error }, 'dispatcher pass failed');
      }
      if (handled > 0 || !running) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, pollMs);
        timer.unref();
      });
    }
  }

  return {
    runOnce,
    start(): void {
      if (running) return;
      running = true;
      loop = run();
    },
    /** Stops claiming and waits for the deliveries in flight. */
    async stop(): Promise<void> {
      running = false;
      if (timer) clearTimeout(timer);
      wake?.();
      await loop;
    },
  };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
