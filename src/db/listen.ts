import pg from 'pg';
import { backoffMs } from '../retry.ts';

export interface ListenHandlers {
  onNotify(payload: string): void;
  /** Called after every successful LISTEN: the first time, and after each reconnection. */
  onListening?(info: { reconnected: boolean }): void;
  /** Called when the connection is lost; notifications sent until the next onListening are missed. */
  onLost?(error: Error): void;
}

export interface Listener {
  close(): Promise<void>;
}

export interface ListenOptions {
  /** First and longest wait between reconnection attempts. */
  minRetryMs?: number;
  maxRetryMs?: number;
}

/**
 * A dedicated connection that LISTENs on one channel and reconnects with backoff when it drops
 * (a database restart, a failover). Pooled connections cannot LISTEN: the pool would hand the
 * session to someone else between notifications.
 */
export function listenChannel(connectionString: string, channel: string, handlers: ListenHandlers, options: ListenOptions = {}): Listener {
  const minRetry = options.minRetryMs ?? 250;
  const maxRetry = options.maxRetryMs ?? 10_000;
  let client: pg.Client | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let failures = 0;
  let connectedOnce = false;

  const scheduleReconnect = (error: Error) => {
    if (closed || retryTimer) return;
    handlers.onLost?.(error);
    retryTimer = setTimeout(
      () => {
        retryTimer = undefined;
        void connect();
      },
      backoffMs(failures++, { baseMs: minRetry, maxMs: maxRetry }),
    );
    retryTimer.unref();
  };

  async function connect(): Promise<void> {
    if (closed) return;
    const next = new pg.Client({ connectionString, application_name: 'gridgov-listen', keepAlive: true });
    client = next;
    // An 'error' without a listener would crash the process; a lost connection is retried instead.
    next.on('error', (error) => {
      void next.end().catch(() => undefined);
      if (client === next) scheduleReconnect(error);
    });
    next.on('end', () => {
      if (client === next) scheduleReconnect(new Error('the listening connection ended'));
    });
    next.on('notification', (message) => {
      if (message.channel === channel && message.payload !== undefined) handlers.onNotify(message.payload);
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch (error) {
      void next.end().catch(() => undefined);
      if (client === next) scheduleReconnect(error as Error);
      return;
    }
    if (closed) {
      await next.end().catch(() => undefined);
      return;
    }
    failures = 0;
    handlers.onListening?.({ reconnected: connectedOnce });
    connectedOnce = true;
  }

  void connect();
  return {
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}
