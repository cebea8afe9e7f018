import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { ConfigError } from '../config.ts';
import { PROMETHEUS_CONTENT_TYPE } from './metrics.ts';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * GET /metrics for a process without an HTTP API of its own (the dispatcher, the runner), on a
 * small listener of its own: loopback by default, since Prometheus scrapes from the same host or
 * through whatever the operator puts in front. `beforeScrape` refreshes values read on demand.
 */
export async function startMetricsServer(
  registry: Registry,
  options: { host: string; port: number; setting: string; beforeScrape?: () => Promise<void> },
): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    void (async () => {
      try {
        await options.beforeScrape?.();
        const body = await registry.metrics();
        response.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(body);
      } catch (error) {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(error as Error).message}\n`);
      }
    })();
  });
  // A scraper that stalls must not hold a socket for ever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new ConfigError(
          `${options.setting}: cannot listen on ${options.host}:${options.port} (${error.code ?? error.message}); set another port, or 0 for any free one`,
        ),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper keeps its connection alive between scrapes.
        server.closeAllConnections();
      }),
  };
}
