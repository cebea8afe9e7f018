import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The plumbing the fake third-party servers (Gemini, OpenAI, Linear, Discord) share: a loopback
 * HTTP server, JSON in and out, a handler failure answered by the fake's own error shape, and a
 * close that does not wait for hanging or delayed replies.
 */
export interface FakeServer {
  /** http://127.0.0.1:PORT */
  origin: string;
  /** Aborts `signal` (delayed replies give up), drops open connections, and closes. */
  close(): Promise<void>;
}

export async function startFakeServer(
  handle: (req: IncomingMessage, res: ServerResponse, signal: AbortSignal) => Promise<unknown>,
  onError: (res: ServerResponse, error: unknown) => void,
): Promise<FakeServer> {
  const closing = new AbortController();
  const server = createServer((req, res) => {
    handle(req, res, closing.signal).catch((error: unknown) => {
      if (!closing.signal.aborted) onError(res, error);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    async close() {
      closing.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Answers with a JSON body; `headers` may replace the content type. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** The request body parsed as JSON, or undefined when it is not JSON. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}
