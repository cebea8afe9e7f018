import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a server (PostgreSQL in the chaos harness): every connection
 * is forwarded byte for byte, and `cut()` kills every live one at once with a TCP reset, as a
 * broken network or a failed-over load balancer would. New connections are accepted right after,
 * so a client that reconnects carries on.
 */
export interface TcpProxy {
  port: number;
  url(target: string): string;
  /** Resets every live connection; returns how many were cut. */
  cut(): number;
  /** Live client connections. */
  connections(): number;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  targetPort: number;
  targetHost?: string;
  /** Port to listen on (127.0.0.1); 0 picks a free one. */
  port?: number;
}

interface Pair {
  client: Socket;
  upstream: Socket;
}

function kill(socket: Socket): void {
  if (socket.destroyed) return;
  // A reset, not a FIN: the peer learns at once, mid-query, that the connection is gone.
  if (typeof socket.resetAndDestroy === 'function' && socket.readyState === 'open') socket.resetAndDestroy();
  else socket.destroy();
}

export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = options.targetHost ?? '127.0.0.1';
  const pairs = new Set<Pair>();

  const server = createServer({ noDelay: true }, (client) => {
    client.on('error', () => undefined);
    const upstream = createConnection({ host: targetHost, port: options.targetPort, noDelay: true });
    upstream.on('error', () => undefined);
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    const drop = () => {
      if (!pairs.delete(pair)) return;
      kill(client);
      kill(upstream);
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.on('error', () => undefined);
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  function cut(): number {
    const live = [...pairs];
    pairs.clear();
    for (const { client, upstream } of live) {
      kill(client);
      kill(upstream);
    }
    return live.length;
  }

  return {
    port,
    url(target) {
      const url = new URL(target);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    cut,
    connections: () => pairs.size,
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
