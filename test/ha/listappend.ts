import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MicroOp, Txn } from './anomalies.ts';

/**
 * The list-append workload (test/ha/anomalies.ts checks what it records): a few clients run
 * short SERIALIZABLE transactions of one to four operations, each an append of a fresh value to
 * a key's list or a read of it, on a handful of keys at a time, through HAProxy's write frontend
 * as the validators do. A key is retired after RETIRE appends so that lists stay short.
 *
 * What each transaction's outcome is taken to be: an error before COMMIT was sent leaves nothing
 * committed (`fail`), as does a serialization failure on COMMIT (class 40); any other error on
 * COMMIT, the connection lost or the client's timeout included, leaves it in doubt (`info`).
 * Every loop is bounded: by `stop()`, and by `maxTxns`.
 */
export interface ListAppendWorkload {
  start(): void;
  /** Ends the clients and reads every key once more: what the database kept. */
  stop(): Promise<void>;
  history: Txn[];
  finalReads: Map<number, number[]>;
}

const ACTIVE_KEYS = 6;
const RETIRE = 64;
const QUERY_TIMEOUT_MS = 10_000;

function prng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

export async function prepareListAppend(adminUrl: string, database: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${database}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query('CREATE TABLE lists (key int PRIMARY KEY, list int[] NOT NULL)');
  } finally {
    await client.end();
  }
}

export function listAppendWorkload(url: string, options: { clients: number; seed: number; maxTxns: number }): ListAppendWorkload {
  const history: Txn[] = [];
  const finalReads = new Map<number, number[]>();
  const random = prng(options.seed * 104_729 + 7);
  let nextKey = ACTIVE_KEYS;
  const active = Array.from({ length: ACTIVE_KEYS }, (_, i) => i);
  const appended = new Map<number, number>();
  let nextValue = 0;
  let stopping = false;
  let loops: Array<Promise<void>> = [];

  const plan = (): MicroOp[] =>
    Array.from({ length: 1 + Math.floor(random() * 4) }, () => {
      const slot = Math.floor(random() * active.length);
      const key = active[slot]!;
      if (random() < 0.5) return { f: 'r', key, value: null };
      const count = (appended.get(key) ?? 0) + 1;
      appended.set(key, count);
      if (count >= RETIRE) active[slot] = nextKey++;
      return { f: 'append', key, value: ++nextValue };
    });

  async function connect(): Promise<pg.Client | undefined> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000, query_timeout: QUERY_TIMEOUT_MS });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch {
      await client.end().catch(() => undefined);
      return undefined;
    }
  }

  async function runClient(): Promise<void> {
    let client: pg.Client | undefined;
    while (!stopping && history.length < options.maxTxns) {
      client ??= await connect();
      if (!client) {
        await sleep(250);
        continue;
      }
      const txn: Txn = { index: history.length, type: 'info', ops: plan(), start: Date.now(), end: 0 };
      history.push(txn);
      let committing = false;
      try {
        await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
        for (const op of txn.ops) {
          if (op.f === 'append') {
            await client.query(
              'INSERT INTO lists (key, list) VALUES ($1, ARRAY[$2::int]) ON CONFLICT (key) DO UPDATE SET list = lists.list || $2::int',
              [op.key, op.value],
            );
          } else {
            const { rows } = await client.query<{ list: number[] }>('SELECT list FROM lists WHERE key = $1', [op.key]);
            op.value = rows[0]?.list ?? [];
          }
        }
        committing = true;
        await client.query('COMMIT');
        txn.type = 'ok';
      } catch (error) {
        const code = (error as { code?: string }).code ?? '';
        txn.type = !committing || code.startsWith('40') ? 'fail' : 'info';
        // A read whose transaction did not commit says nothing about what was committed.
        for (const op of txn.ops) if (op.f === 'r') op.value = null;
        if (!code || code.startsWith('57') || code.startsWith('08') || code === '25006') {
          await client.end().catch(() => undefined);
          client = undefined;
        } else await client.query('ROLLBACK').catch(() => undefined);
      }
      txn.end = Date.now();
    }
    await client?.end().catch(() => undefined);
  }

  return {
    history,
    finalReads,
    start() {
      loops = Array.from({ length: options.clients }, () => runClient());
    },
    async stop() {
      stopping = true;
      await Promise.all(loops);
      const deadline = Date.now() + 120_000;
      for (;;) {
        const client = await connect();
        try {
          if (!client) throw new Error('no connection');
          const { rows } = await client.query<{ key: number; list: number[] }>('SELECT key, list FROM lists');
          for (const row of rows) finalReads.set(row.key, row.list);
          for (const key of [...new Set(history.flatMap((t) => t.ops.map((op) => op.key)))])
            if (!finalReads.has(key)) finalReads.set(key, []);
          return;
        } catch (error) {
          if (Date.now() > deadline) throw new Error(`the final read of the lists failed: ${String(error)}`, { cause: error });
          await sleep(500);
        } finally {
          await client?.end().catch(() => undefined);
        }
      }
    },
  };
}
