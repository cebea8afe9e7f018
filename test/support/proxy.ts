import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * An HTTP proxy in front of a validator that can slow requests down, answer in its place (a 503,
 * say) or swallow the answer after forwarding, to drive clients through the failures they must
 * survive. Every request is logged with what the proxy did.
 */

export interface ProxyRule {
  delayMs?: number;
  /** Answer this instead of forwarding. */
  respond?: { status: number; body: unknown };
  /** Forward, then cut the connection instead of answering: the client cannot know it applied. */
  dropAnswer?: boolean;
}

export interface SeenRequest {
  method: string;
  path: string;
  body: string;
  action: 'forwarded' | 'answered' | 'dropped';
}

export interface FaultProxy {
  url: string;
  seen: SeenRequest[];
  setRule(rule: (method: string, path: string, body: string) => ProxyRule | undefined): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const seen: SeenRequest[] = [];
  const closing = new AbortController();
  let rule: (method: string, path: string, body: string) => ProxyRule | undefined = () => undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const r = rule(method, path, body) ?? {};
    if (r.delayMs) await delay(r.delayMs, undefined, { signal: closing.signal });
    if (r.respond) {
      seen.push({ method, path, body, action: 'answered' });
      res.writeHead(r.respond.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.respond.body));
      return;
    }
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'authorization']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const upstream = await fetch(`${target}${path}`, { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body });
    const text = await upstream.text();
    if (r.dropAnswer) {
      seen.push({ method, path, body, action: 'dropped' });
      res.socket?.destroy();
      return;
    }
    seen.push({ method, path, body, action: 'forwarded' });
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(text);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.socket?.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    setRule(next) {
      rule = next;
    },
    async close() {
      closing.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
