import { createHash } from 'node:crypto';
import pg from 'pg';
import type { PoolStats } from '../observability/metrics.ts';
import { inChildSpan } from '../observability/tracing.ts';
import { listenChannel, type ListenHandlers, type Listener } from './listen.ts';

// bigint columns (ledger ids, counts) stay far below 2^53; numeric stays a string for exactness.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

/** The one database interface every component depends on. */
export interface Db {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
  /** Runs fn in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** LISTENs on a channel over a dedicated connection; absent inside a transaction. */
  listen?(channel: string, handlers: ListenHandlers): Listener;
  /** The pool's connections, for metrics; absent inside a transaction and on PGlite. */
  stats?(): PoolStats;
  /**
   * Drops every pooled connection opened so far (idle ones now, busy ones when released), so the
   * next queries connect afresh: for a server found read-only, a replica after a switchover.
   */
  retireConnections?(): void;
}

/** A span per statement when it runs inside a traced request (the first line of the SQL names it). */
const traced = <T>(sql: string, run: () => Promise<T>): Promise<T> =>
  inChildSpan('db.query', { 'db.system.name': 'postgresql', 'db.query.text': sql.length > 500 ? `${sql.slice(0, 500)}…` : sql }, run);

export interface DbOptions {
  max?: number;
  applicationName?: string;
  /** How long to wait for a free connection before failing with DATABASE_UNAVAILABLE. */
  connectionTimeoutMs?: number;
  /**
   * Server-side bounds, so that a stalled peer cannot stall others (0 or absent: none). A
   * statement running longer, or a lock waited for longer, is cancelled; a session idle inside a
   * transaction longer is ended by the server, which releases its locks. See src/config.ts.
   */
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
  /** TCP keepalive after this much silence, so a peer lost without a reset is noticed (0: off). */
  keepAliveDelayMs?: number;
  /**
   * How long an unused pooled connection is kept (0: until the pool closes). A new connection's
   * server session compiles the write path's functions and plans their statements on first use,
   * some 50 ms on the first group, so a pool that dropped its connections after every lull made
   * the first calls of each burst wait for that.
   */
  idleConnectionMs?: number;
}

/** The pg settings for a pool's bounds; a 0 is left out (no bound). */
export function poolBounds(options: DbOptions): pg.PoolConfig {
  const positive = (value: number | undefined) => (value && value > 0 ? value : undefined);
  const keepAliveDelay = options.keepAliveDelayMs ?? 10_000;
  return {
    idleTimeoutMillis: options.idleConnectionMs ?? 600_000,
    statement_timeout: positive(options.statementTimeoutMs),
    lock_timeout: positive(options.lockTimeoutMs),
    idle_in_transaction_session_timeout: positive(options.idleInTransactionTimeoutMs),
    keepAlive: keepAliveDelay > 0,
    keepAliveInitialDelayMillis: keepAliveDelay > 0 ? keepAliveDelay : undefined,
  };
}

const statementNames = new Map<string, string>();

/**
 * A parameterised query runs as a named prepared statement, so each connection parses and plans
 * it once; our statements are fixed texts, so the set of names stays small. Queries without
 * parameters (migrations, several statements at once) use the simple protocol.
 */
function toQuery(sql: string, params?: unknown[]): pg.QueryConfig {
  if (!params || params.length === 0) return { text: sql };
  let name = statementNames.get(sql);
  if (!name) {
    name = `gg_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
    statementNames.set(sql, name);
  }
  return { name, text: sql, values: params };
}

function clientDb(client: pg.PoolClient): Db {
  return {
    async query<T>(sql: string, params?: unknown[]) {
      const result = await traced(sql, () => client.query(toQuery(sql, params)));
      return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
    },
    transaction: (fn) => fn(clientDb(client)),
    close: async () => undefined,
  };
}

export function createDb(connectionString: string, options: DbOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 20,
    application_name: options.applicationName ?? 'gridgov',
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
    // Idle connections are kept for long (idleConnectionMs), but never keep the process alive.
    allowExitOnIdle: true,
    ...poolBounds(options),
  });
  // A dropped idle connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);

  /**
   * After a failover a connection may still reach the old primary, now a replica or shutting
   * down. The first error that says so (isStaleConnection) retires every connection opened before
   * it: the one that failed at once, the idle ones when they are next handed out. The next query
   * then connects afresh, through the proxy, to whichever server is primary now.
   */
  let generation = 0;
  const born = new WeakMap<pg.PoolClient, number>();
  pool.on('connect', (client) => born.set(client, generation));
  const retireIfStale = (error: unknown): void => {
    if (isStaleConnection(error)) generation++;
  };
  const checkout = async (): Promise<pg.PoolClient> => {
    for (;;) {
      const client = await pool.connect();
      if (born.get(client) === generation) return client;
      client.release(true);
    }
  };

  return {
    async query<T>(sql: string, params?: unknown[]) {
      const client = await checkout();
      // As pool.query does: a connection lost while the query runs fails the query rather than
      // crashing the process, and a client that saw any error is not reused.
      let failed = false;
      const onLost = () => {
        failed = true;
      };
      client.on('error', onLost);
      try {
        const result = await traced(sql, () => client.query(toQuery(sql, params)));
        return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
      } catch (error) {
        retireIfStale(error);
        failed = true;
        throw error;
      } finally {
        client.removeListener('error', onLost);
        client.release(failed);
      }
    },
    async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      const client = await checkout();
      // While a client is checked out the pool does not listen for its errors, and a connection
      // lost between two queries is emitted as an 'error' event that would crash the process.
      // The query in flight (or the next one) fails on its own; the client is then discarded.
      let broken = false;
      const onLost = () => {
        broken = true;
      };
      client.on('error', onLost);
      try {
        await client.query('BEGIN');
        const result = await fn(clientDb(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        retireIfStale(error);
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw error;
      } finally {
        client.removeListener('error', onLost);
        client.release(broken);
      }
    },
    close: () => pool.end(),
    stats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    retireConnections: () => void generation++,
    listen: (channel, handlers) => listenChannel(connectionString, channel, handlers),
  };
}

// A transaction of its own that writes one small WAL record (a transactional logical message, which
// takes a transaction id), so its commit waits, under the session's synchronous_commit (on, or
// whatever the server requires: a synchronous standby included), for the WAL through its commit
// record to be flushed. The WAL is one sequence, so that flush covers everything written before
// it. Concurrent flushes are served by one fsync (PostgreSQL's own group commit). A transaction
// that only took an id would not do: with nothing else written, PostgreSQL commits it without waiting.
const FLUSH_WAL = "SELECT pg_logical_emit_message(true, 'gridgov.durable', '')";

/**
 * Resolves once every WAL record the server had written when it was called is durable: commits
 * made without waiting for their flush, and sequence advances, which are never flushed on their own.
 */
export async function flushWal(db: Db): Promise<void> {
  await db.query(FLUSH_WAL);
}

export const NO_ANSWER = Symbol('no answer');
export type Answer<T> = { value: T } | { error: unknown } | typeof NO_ANSWER;

/** A deadline of `ms` for answerBy; cancel it once every answer is in. */
export function answerDeadline(ms: number): { passed: Promise<typeof NO_ANSWER>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const passed = new Promise<typeof NO_ANSWER>((resolve) => {
    timer = setTimeout(() => resolve(NO_ANSWER), ms);
  });
  return { passed, cancel: () => clearTimeout(timer) };
}

/**
 * What `work` came to, or NO_ANSWER if `deadline` passes first: for callers that must not wait on
 * a database that stopped answering. Whatever the work comes to later is dropped.
 */
export function answerBy<T>(work: Promise<T>, deadline: Promise<typeof NO_ANSWER>): Promise<Answer<T>> {
  return Promise.race([
    work.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    deadline,
  ]);
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);
// 57014 statement_timeout (or a cancel), 55P03 lock_timeout, 25P03 idle_in_transaction_session_timeout.
const TIMEOUT_CODES = new Set(['57014', '55P03', '25P03']);
// 25006 read_only_sql_transaction (the server is a replica, or was made read-only); 57P01
// admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (shutting down, starting, in recovery).
const STALE_CODES = new Set(['25006', '57P01', '57P02', '57P03']);

/**
 * True when the connection reaches a server that can no longer take our writes: a replica (after
 * a failover or a switchover, the old primary comes back as one) or a server shutting down. Such
 * a connection is useless, however long it stays open; nothing was written through it, so a
 * retry on a fresh connection is safe.
 */
export function isStaleConnection(error: unknown): boolean {
  return error instanceof Error && STALE_CODES.has((error as { code?: string }).code ?? '');
}

/** True when the server refused a write because it is read-only (a replica or standby). */
export function isReadOnlyServer(error: unknown): boolean {
  return error instanceof Error && (error as { code?: string }).code === '25006';
}

/**
 * True when one of the pool's bounds stopped the work: the statement was cancelled, or the session
 * ended, and its transaction rolled back, so nothing of it was recorded and a retry is safe.
 */
export function isDatabaseTimeout(error: unknown): boolean {
  return error instanceof Error && TIMEOUT_CODES.has((error as { code?: string }).code ?? '');
}

/**
 * True when the error means "the database could not be reached or did not answer in time", not
 * "the query was wrong": a timeout counts, so that it becomes a 503, never a 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: string }).code;
  if (code && UNAVAILABLE_CODES.has(code)) return true;
  if (isDatabaseTimeout(error) || isStaleConnection(error)) return true;
  // 08xxx connection exceptions, 57P01-57P03 shutdown / cannot connect now, and class 53, the
  // server out of a resource (53100 disk full, 53200 out of memory or shared memory, as when the
  // lock table is full, 53300 too many connections): none says the query was wrong.
  if (code && (code.startsWith('08') || code.startsWith('57P') || code.startsWith('53'))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection is closed/i.test(
    error.message,
  );
}
