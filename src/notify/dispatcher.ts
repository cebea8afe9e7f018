import type { Logger } from 'pino';
import type { Db } from '../db/db.ts';
import { Counter, Histogram, type Registry } from 'prom-client';
import { inSpan } from '../observability/tracing.ts';
import { backoffMs } from '../retry.ts';
import { createRedactor, DeliveryError, type Redactor } from './errors.ts';
import { linearIssueIdFor, type LinearClient } from './linear.ts';
import { rejectionEmbed, type DiscordClient, type RejectionLeg } from './discord.ts';
import { createPacer, type Pacer } from './pacing.ts';

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
  /** Each target's rate limit as its answers report it; the clients feed it. */
  pacer?: Pacer;
  /** Strips credentials from upstream error text before it is logged or stored. */
  redact?: Redactor;
  /** Delivered rows older than this many days are pruned (through prune_outbox). */
  retentionDays?: number;
  /** How often to prune; hourly by default. */
  pruneEveryMs?: number;
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
  /** Actor names by the references the proposal used (names or ids). */
  names?: ReadonlyMap<string, string>;
}

/** A field of a refused proposal as the ticket shows it: text as it came, anything else as JSON. */
const shown = (value: unknown): string =>
  typeof value === 'string' ? value : value === undefined || value === null ? '?' : JSON.stringify(value);

/** The legs as people read them: actors by name when they exist, as sent otherwise. */
function legsOf(proposal: Record<string, unknown>, names: ReadonlyMap<string, string> = new Map()): RejectionLeg[] {
  const legs = Array.isArray(proposal.legs) ? proposal.legs : [proposal];
  const actor = (ref: unknown) => (ref === undefined || ref === null ? '?' : (names.get(shown(ref)) ?? shown(ref)));
  return legs.map((leg) => {
    const l = (typeof leg === 'object' && leg ? leg : {}) as Record<string, unknown>;
    return { actor_from: actor(l.actor_from), actor_to: actor(l.actor_to), resource: shown(l.resource), amount: shown(l.amount) };
  });
}

/** Every actor reference (name or id) the rows' proposals use. */
function actorRefs(rows: ClaimedRow[]): string[] {
  const refs = new Set<string>();
  for (const row of rows) {
    const legs = Array.isArray(row.proposal_json.legs) ? row.proposal_json.legs : [row.proposal_json];
    for (const leg of legs) {
      const l = (typeof leg === 'object' && leg ? leg : {}) as Record<string, unknown>;
      for (const ref of [l.actor_from, l.actor_to]) if (typeof ref === 'string' && ref.length <= 200) refs.add(ref);
    }
  }
  return [...refs];
}

export function linearIssueFor(
  row: Pick<ClaimedRow, 'proposal_id' | 'error_code' | 'message' | 'proposal_json' | 'rejected_at' | 'names'>,
) {
  const legs = legsOf(row.proposal_json, row.names).map((leg) => `- ${leg.actor_from} → ${leg.actor_to}: ${leg.amount} ${leg.resource}`);
  return {
    id: linearIssueIdFor(row.proposal_id),
    title: `[${row.error_code}] Rejected proposal ${row.proposal_id}`,
    description: [
      `**proposal_id:** \`${row.proposal_id}\``,
      `**validation_error_code:** \`${row.error_code}\``,
      `**timestamp:** ${row.rejected_at.toISOString()}`,
      `**message:** ${row.message}`,
      '',
      '**legs:**',
      ...legs,
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
  const pacer = options.pacer ?? createPacer();
  const redact = options.redact ?? createRedactor();
  // A wait longer than this gives the row back (rescheduled, attempt returned) instead of
  // holding its lease while sleeping.
  const maxWaitMs = Math.min(leaseMs / 2, 10_000);
  const pruneEveryMs = options.pruneEveryMs ?? 3_600_000;
  let lastPrune = 0;
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;
  const stopping = new AbortController();
  const metrics = options.metrics ? deliveryMetrics(options.metrics) : undefined;

  async function claim(): Promise<ClaimedRow[]> {
    // The outbox changes state only through the dispatcher's transitions (migration 000154).
    const { rows } = await db.query<ClaimedRow>(
      'SELECT id, topic, dedupe_key, attempts, proposal_id, error_code, message, proposal_json, rejected_at FROM outbox_claim($1, $2)',
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
        embeds: [
          rejectionEmbed({
            error_code: row.error_code,
            proposal_id: row.proposal_id,
            legs: legsOf(row.proposal_json, row.names),
            message: row.message,
            rejected_at: row.rejected_at,
          }),
        ],
      });
      return { sent: true };
    }
    throw new DeliveryError(`no ${row.topic} target is configured in this dispatcher`, { retryable: true });
  }

  /** Records the attempt's result; returns what became of the row. */
  async function settle(
    row: ClaimedRow,
    result: { ref: unknown } | { error: unknown },
  ): Promise<'delivered' | 'retry' | 'rate_limited' | 'dead'> {
    if ('ref' in result) {
      await db.query("SELECT outbox_settle($1, $2, 'delivered', $3, NULL, NULL)", [row.id, row.attempts, JSON.stringify(result.ref)]);
      logger.info({ topic: row.topic, proposal_id: row.proposal_id, ref: result.ref }, 'delivered');
      return 'delivered';
    }
    const error =
      result.error instanceof DeliveryError
        ? result.error
        : new DeliveryError(String((result.error as Error)?.message ?? result.error), { retryable: true });
    const message = redact(error.message);
    if (error.rateLimited) {
      // The target's limit, not a failure of the row: it waits as advised and keeps its attempt.
      const wait = error.retryAfterMs ?? options.baseDelayMs;
      pacer.block(row.topic, wait);
      await reschedule(row, wait, message);
      logger.warn({ topic: row.topic, proposal_id: row.proposal_id, retry_in_ms: wait }, 'rate limited by the target, will retry');
      return 'rate_limited';
    }
    const dead = !error.retryable || row.attempts >= options.maxAttempts;
    // The shared backoff; a target's own Retry-After wins when longer.
    const delay = Math.max(
      error.retryAfterMs ?? 0,
      backoffMs(row.attempts - 1, { baseMs: options.baseDelayMs, maxMs: options.maxDelayMs }),
    );
    await db.query('SELECT outbox_settle($1, $2, $3, NULL, $4, $5)', [row.id, row.attempts, dead ? 'dead' : 'retry', message, delay]);
    logger[dead ? 'error' : 'warn'](
      { topic: row.topic, proposal_id: row.proposal_id, attempts: row.attempts, error: message, retry_in_ms: dead ? undefined : delay },
      dead ? 'delivery failed for good' : 'delivery failed, will retry',
    );
    return dead ? 'dead' : 'retry';
  }

  /** Puts a row back for later without counting the attempt its claim took. */
  async function reschedule(row: ClaimedRow, waitMs: number, lastError: string | null): Promise<void> {
    await db.query('SELECT outbox_reschedule($1, $2, $3, $4)', [row.id, row.attempts, waitMs, lastError]);
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (stopping.signal.aborted) return resolve();
      const timeout = setTimeout(done, ms);
      function done() {
        clearTimeout(timeout);
        stopping.signal.removeEventListener('abort', done);
        resolve();
      }
      stopping.signal.addEventListener('abort', done, { once: true });
    });
  }

  async function attempt(row: ClaimedRow): Promise<void> {
    let result: { ref: unknown } | { error: unknown };
    const started = performance.now();
    try {
      result = {
        ref: await inSpan(
          'gridgov.outbox.deliver',
          { 'gridgov.target': row.topic, 'gridgov.proposal_id': row.proposal_id, 'gridgov.attempt': row.attempts },
          () => deliver(row),
        ),
      };
    } catch (error) {
      result = { error };
    }
    metrics?.duration.observe({ target: row.topic }, (performance.now() - started) / 1000);
    const outcome = await settle(row, result);
    metrics?.deliveries.inc({ target: row.topic, result: outcome });
  }

  /**
   * One target's rows, one request at a time, each waiting while the target's window is used
   * up; a row that would wait long (or is caught by stop) is given back for later.
   */
  async function deliverInTurn(topic: string, rows: ClaimedRow[]): Promise<void> {
    for (const row of rows) {
      const wait = pacer.delayFor(topic);
      if (wait > maxWaitMs || stopping.signal.aborted) {
        await reschedule(row, wait, null);
        continue;
      }
      if (wait > 0) await sleep(wait);
      if (stopping.signal.aborted) {
        await reschedule(row, 0, null);
        continue;
      }
      // Rows wait their turn here, so the lease taken at claim time may be running out:
      // extend it, unless another dispatcher has claimed the row meanwhile.
      if (!(await renewLease(row))) continue;
      pacer.spend(topic);
      await attempt(row);
    }
  }

  /** Extends this dispatcher's lease on a row; false when the row was claimed again by another. */
  async function renewLease(row: ClaimedRow): Promise<boolean> {
    const { rows } = await db.query<{ renewed: boolean }>('SELECT outbox_renew($1, $2, $3) AS renewed', [row.id, row.attempts, leaseMs]);
    return rows[0]?.renewed === true;
  }

  async function nameActors(rows: ClaimedRow[]): Promise<void> {
    const refs = actorRefs(rows);
    if (refs.length === 0) return;
    const { rows: actors } = await db.query<{ id: string; name: string }>(
      'SELECT id::text AS id, name FROM actors WHERE id::text = ANY($1::text[]) OR name = ANY($1::text[])',
      [refs],
    );
    const names = new Map<string, string>();
    for (const a of actors) {
      names.set(a.id, a.name);
      names.set(a.name, a.name);
    }
    for (const row of rows) row.names = names;
  }

  /** Claims one batch and delivers it, each target in turn; returns how many rows it handled. */
  async function runOnce(): Promise<number> {
    const rows = await claim();
    if (rows.length === 0) return 0;
    await nameActors(rows).catch((error: unknown) => logger.warn({ err: error }, 'could not name the actors; ids are shown'));
    const byTopic = new Map<string, ClaimedRow[]>();
    for (const row of rows) byTopic.set(row.topic, [...(byTopic.get(row.topic) ?? []), row]);
    await Promise.all([...byTopic].map(([topic, topicRows]) => deliverInTurn(topic, topicRows)));
    return rows.length;
  }

  /** Deletes delivered rows past the retention period, through the one function allowed to. */
  async function prune(): Promise<number> {
    if (options.retentionDays === undefined) return 0;
    let total = 0;
    for (;;) {
      const { rows } = await db.query<{ pruned: string }>('SELECT prune_outbox($1, 10000) AS pruned', [options.retentionDays]);
      const pruned = Number(rows[0]?.pruned ?? 0);
      total += pruned;
      if (pruned < 10000 || !running) break;
    }
    if (total > 0) logger.info({ pruned: total, retention_days: options.retentionDays }, 'pruned delivered outbox rows');
    return total;
  }

  async function run(): Promise<void> {
    while (running) {
      let handled = 0;
      if (Date.now() - lastPrune >= pruneEveryMs) {
        lastPrune = Date.now();
        await prune().catch((error: unknown) => logger.error({ err: error }, 'pruning the outbox failed'));
      }
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
    prune,
    start(): void {
      if (running) return;
      running = true;
      loop = run();
    },
    /** Stops claiming and waits for the deliveries in flight. */
    async stop(): Promise<void> {
      running = false;
      stopping.abort();
      if (timer) clearTimeout(timer);
      wake?.();
      await loop;
    },
  };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
