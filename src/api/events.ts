import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Db } from '../db/db.ts';
import type { Listener } from '../db/listen.ts';
import { EVENTS_CHANNEL } from '../ledger/reads/activity.ts';
import { createEventReader, type Announcement, type EventReader } from '../ledger/reads/live-events.ts';

export interface EventHubOptions {
  db: Db;
  logger: Logger;
  /** A comment line this often keeps proxies and load balancers from closing an idle stream. */
  heartbeatMs?: number;
  maxClients?: number;
  /** A client whose unsent output passes this is dropped (it reconnects and re-reads). */
  maxBufferedBytes?: number;
  /** How notifications become events; by default re-read from the tables they name. */
  reader?: EventReader;
}

export type ListenState = 'idle' | 'connecting' | 'listening' | 'unavailable';

/** The notifications relayed (after re-reading); anything else on the channel is ignored. */
const ANNOUNCED = new Set(['ledger', 'rejection', 'breaker', 'epoch']);
/** Notifications waiting to be re-read; past this, the rest are dropped and clients told to re-read. */
const MAX_PENDING = 1000;

/** One server-sent event; the data is JSON on one line. */
export function formatEvent(id: number, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Fans the Postgres notifications on EVENTS_CHANNEL out to server-sent-event clients. One LISTEN
 * connection per process, opened when the first client arrives, so every replica's clients see
 * every replica's writes. A notification is not believed: the tables it names are re-read, one
 * batch at a time, and clients get what they hold (src/ledger/reads/live-events.ts). Each
 * client's unsent output is bounded; a client that cannot keep up is dropped rather than letting
 * the process buffer without limit.
 */
export function createEventHub(options: EventHubOptions) {
  const { db, logger } = options;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxClients = options.maxClients ?? 1000;
  const maxBuffered = options.maxBufferedBytes ?? 256 * 1024;
  const reader = options.reader ?? createEventReader(db);
  const clients = new Set<ServerResponse>();
  const pending: Announcement[] = [];
  let overflowed = false;
  let rebaseline = false;
  let draining = false;
  let sequence = 0;
  let state: ListenState = 'idle';
  let listener: Listener | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let closed = false;

  function drop(res: ServerResponse, why: string): void {
    if (!clients.delete(res)) return;
    logger.debug({ why, clients: clients.size }, 'live events client dropped');
    res.destroy();
    if (clients.size === 0 && heartbeat) {
      clearInterval(heartbeat);
      heartbeat = undefined;
    }
  }

  function write(res: ServerResponse, chunk: string): void {
    if (res.writableLength > maxBuffered) return drop(res, 'slow consumer');
    res.write(chunk);
  }

  function broadcast(event: string, data: unknown): void {
    const chunk = formatEvent(++sequence, event, data);
    for (const res of clients) write(res, chunk);
  }

  function setState(next: ListenState): void {
    if (state === next) return;
    state = next;
    broadcast('status', { listening: next === 'listening', state: next });
  }

  function onNotify(payload: string): void {
    let data: unknown;
    try {
      data = JSON.parse(payload);
    } catch {
      return logger.warn({ payload: payload.slice(0, 200) }, 'ignored a live event that is not JSON');
    }
    const type = (data as { type?: unknown } | null)?.type;
    if (typeof type !== 'string' || !ANNOUNCED.has(type)) return logger.debug({ type }, 'ignored a live event of no known type');
    if (pending.length >= MAX_PENDING) overflowed = true;
    else pending.push({ type, payload: data as Record<string, unknown> });
    drain();
  }

  /** Re-reads what the waiting notifications name, a batch at a time, and sends what the tables say. */
  function drain(): void {
    if (draining) return;
    draining = true;
    void (async () => {
      while (rebaseline || pending.length > 0) {
        const batch = pending.splice(0);
        const lost = overflowed;
        overflowed = false;
        try {
          if (rebaseline) {
            rebaseline = false;
            await reader.baseline();
          }
          for (const { event, data } of await reader.read(batch)) broadcast(event, data);
          if (lost) broadcast('resync', { reason: 'more changes at once than the validator re-reads' });
        } catch (error) {
          logger.warn({ err: error }, 'could not re-read what a live event announced');
          broadcast('resync', { reason: 'the validator could not re-read a change' });
        }
      }
      draining = false;
    })();
  }

  function startListening(): void {
    if (state !== 'idle') return;
    if (!db.listen) {
      state = 'unavailable';
      logger.warn('this database connection cannot LISTEN: /events sends heartbeats only');
      return;
    }
    state = 'connecting';
    listener = db.listen(EVENTS_CHANNEL, {
      onNotify,
      onListening: ({ reconnected }) => {
        rebaseline = true;
        drain();
        setState('listening');
        // Whatever was written while the connection was down was not heard: clients re-read.
        if (reconnected) broadcast('resync', { reason: 'the validator reconnected to the database' });
      },
      onLost: (error) => {
        logger.warn({ err: error }, 'live events connection lost; reconnecting');
        setState('connecting');
      },
    });
  }

  return {
    /** Whether another client may subscribe now. */
    hasRoom: () => !closed && clients.size < maxClients,
    clientCount: () => clients.size,
    state: () => state,

    /** Takes over the response: headers, a hello event, then events until either side closes. */
    subscribe(req: IncomingMessage, res: ServerResponse): void {
      startListening();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`retry: 3000\n${formatEvent(++sequence, 'hello', { listening: state === 'listening', state, heartbeat_ms: heartbeatMs })}`);
      clients.add(res);
      const gone = () => drop(res, 'disconnected');
      req.on('close', gone);
      res.on('close', gone);
      res.on('error', gone);
      if (!heartbeat) {
        heartbeat = setInterval(() => {
          for (const client of clients) write(client, `: heartbeat ${Date.now()}\n\n`);
        }, heartbeatMs);
        heartbeat.unref();
      }
    },

    /** Ends every stream (so the HTTP server can close) and the LISTEN connection. */
    async close(): Promise<void> {
      closed = true;
      if (heartbeat) clearInterval(heartbeat);
      heartbeat = undefined;
      for (const res of clients) res.end();
      clients.clear();
      await listener?.close();
      listener = undefined;
    },
  };
}

export type EventHub = ReturnType<typeof createEventHub>;
