import { Agent, request } from 'node:http';
import type { Send } from './workload.ts';
import { backoffMs } from '../../src/retry.ts';

/**
 * The bank test's clients. Each takes the next send from a shared queue, picks a replica, and on a
 * connection error, a timeout or a 503 backs off and tries again with the same proposal id and
 * payload, failing over to the other replica. Every reply is recorded.
 */

/** One reply, or status 0 when no HTTP answer came (refused, reset, timed out). */
export interface Reply {
  status: number;
  /** error_code of an error body, or the transport error for status 0. */
  code?: string;
  replica: number;
  at: number;
  /** For decisive replies (200, 409, 422). */
  ledgerIds?: number[];
  errorCode?: string;
  replayed?: boolean;
}

export interface SendRecord {
  send: Send;
  replies: Reply[];
  /** The reply that settled the send: 200, 409 or 422; undefined while unresolved. */
  decisive?: Reply;
  /** Any other 4xx or a 5xx that is not a retryable 503: the run fails on it. */
  unexpected?: Reply;
}

export const DECISIVE = new Set([200, 409, 422]);
const RETRYABLE_503 = new Set(['DATABASE_UNAVAILABLE', 'CIRCUIT_BREAKER_OPEN', 'COMMIT_FAILED']);

export interface ClientOptions {
  replicas: string[];
  requestTimeoutMs: number;
  sendDeadlineMs: number;
  /** Awaited before each new send: a fault schedule may slow the load so that it outlasts the faults. */
  pace?: () => Promise<void>;
}

export function createHttpClient(replicas: string[], maxSockets: number) {
  const agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  const targets = replicas.map((url) => new URL('/execute', url));

  function post(replica: number, body: string, timeoutMs: number): Promise<{ status: number; body: unknown } | { error: string }> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (value: { status: number; body: unknown } | { error: string }) => {
        if (settled) return;
        settled = true;
        resolve(value);
      };
      const req = request(
        targets[replica]!,
        { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (error: NodeJS.ErrnoException) => done({ error: error.code ?? error.message }));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // keep the text
            }
            done({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.setTimeout(timeoutMs, () => {
        req.destroy(new Error('TIMEOUT'));
      });
      req.on('error', (error: NodeJS.ErrnoException) => done({ error: error.code ?? error.message }));
      req.end(body);
    });
  }

  return { post, close: () => agent.destroy() };
}

function replyOf(result: { status: number; body: unknown } | { error: string }, replica: number): Reply {
  const at = Date.now();
  if ('error' in result) return { status: 0, code: result.error, replica, at };
  const body = (typeof result.body === 'object' && result.body !== null ? result.body : {}) as Record<string, unknown>;
  const reply: Reply = { status: result.status, replica, at };
  if (typeof body.error_code === 'string') reply.code = body.error_code;
  if (result.status === 200) {
    reply.ledgerIds = Array.isArray(body.ledger_ids) ? (body.ledger_ids as number[]) : [];
    reply.replayed = body.replayed === true;
  } else if (result.status === 422) {
    reply.errorCode = String(body.error_code);
    reply.replayed = body.replayed === true;
  }
  return reply;
}

/**
 * Sends until the record is settled (a decisive reply), something unexpected comes back, or the
 * deadline passes. The first replica is the client's own; every failure moves to the other one.
 */
export async function deliver(
  client: ReturnType<typeof createHttpClient>,
  record: SendRecord,
  firstReplica: number,
  options: ClientOptions,
  stopped: () => boolean,
): Promise<void> {
  const body = JSON.stringify(record.send.body);
  const deadline = Date.now() + options.sendDeadlineMs;
  let replica = firstReplica;
  for (let attempt = 0; ; attempt++) {
    const reply = replyOf(await client.post(replica, body, options.requestTimeoutMs), replica);
    record.replies.push(reply);
    if (DECISIVE.has(reply.status)) {
      record.decisive = reply;
      return;
    }
    const retryable = reply.status === 0 || (reply.status === 503 && RETRYABLE_503.has(reply.code ?? ''));
    if (!retryable) {
      record.unexpected = reply;
      return;
    }
    if (Date.now() > deadline || stopped()) return;
    replica = (replica + 1) % options.replicas.length;
    await new Promise((r) => setTimeout(r, backoffMs(attempt, { baseMs: 20, maxMs: 1_000 })));
  }
}

/**
 * Runs `clients` concurrent clients over the records in order; `onSettled` is called after each
 * send (for progress-driven faults).
 */
export async function runClients(
  records: SendRecord[],
  clients: number,
  options: ClientOptions,
  onSettled: () => void,
  stopped: () => boolean = () => false,
): Promise<void> {
  const client = createHttpClient(options.replicas, clients);
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: clients }, async (_, index) => {
        while (next < records.length && !stopped()) {
          if (options.pace) await options.pace();
          if (next >= records.length) break;
          const record = records[next++]!;
          await deliver(client, record, index % options.replicas.length, options, stopped);
          onSettled();
        }
      }),
    );
  } finally {
    client.close();
  }
}
