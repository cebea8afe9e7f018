import { Agent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** What the browser may ask of the validator through the dashboard: every read, and the overrides. */
const ALLOWED_POSTS = new Set(['/admin/balance', '/admin/reset-credit', '/admin/circuit-breaker']);
const FORWARDED_HEADERS = ['authorization', 'content-type', 'accept', 'last-event-id', 'x-request-id'];
/** A reply larger than this is not wrapped in an envelope (no dashboard read comes near it). */
const MAX_ENVELOPE_BYTES = 8 * 1024 * 1024;

/**
 * Set on every answer forwarded from the validator, over whatever it sent: no framing, no
 * referrer, no sniffing, and no script at all. Its /docs page, the one document among its
 * answers, is styled inline, so inline style is the one thing the policy allows.
 */
export const FORWARDED_SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export interface ProxyRequest {
  method: string;
  /** Path and query on the validator, e.g. /ledger?limit=5. */
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer | undefined;
  /** Ends when the browser goes away, so the upstream request is dropped with it. */
  res: ServerResponse;
}

export function isForwardable(method: string, path: string): boolean {
  if (method === 'GET' || method === 'HEAD') return true;
  return method === 'POST' && ALLOWED_POSTS.has(path.split('?')[0]!);
}

/**
 * The session's key from the dashboard's own cookie (set by its pages, path /api): how the live
 * event stream, which cannot send headers, carries a key for reading. An explicit header wins.
 */
export function cookieKey(cookie: string | undefined): string | undefined {
  const match = /(?:^|;\s*)gridgov_key=([^;]*)/.exec(cookie ?? '');
  if (!match || match[1] === '') return undefined;
  try {
    const key = decodeURIComponent(match[1]!);
    return /^[\x21-\x7e]{1,512}$/.test(key) ? key : undefined;
  } catch {
    return undefined;
  }
}

export function errorBody(code: string, message: string) {
  return { status: 'error', error_code: code, message };
}

/**
 * Forwards requests to the validator. A plain call gets the validator's answer as it is,
 * streamed (server-sent events included). With `envelope`, the answer comes back as 200
 * `{status, body}`: the dashboard's own pages read it that way, so an expected refusal (a wrong
 * key, an optional route this validator lacks) is shown in words instead of being reported by
 * the browser as a failed resource.
 */
export function createProxy(options: { validatorUrl: string; timeoutMs?: number }) {
  const base = new URL(options.validatorUrl);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const send = base.protocol === 'https:' ? httpsRequest : httpRequest;
  const agent = base.protocol === 'https:' ? undefined : new Agent({ keepAlive: true, maxSockets: 64 });
  const prefix = base.pathname.replace(/\/$/, '');

  function upstream(req: ProxyRequest, stream: boolean): Promise<IncomingMessage> {
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    // Reads only: an override is sent with the key the page holds, never on a cookie alone.
    if (!headers.authorization && (req.method === 'GET' || req.method === 'HEAD')) {
      const key = cookieKey(req.headers.cookie);
      if (key) headers.authorization = `Bearer ${key}`;
    }
    if (req.body) headers['content-length'] = String(req.body.length);
    return new Promise((resolve, reject) => {
      const outgoing = send(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          path: `${prefix}${req.path}`,
          method: req.method,
          headers,
          agent,
        },
        resolve,
      );
      outgoing.on('error', reject);
      // Event streams stay open for as long as the browser listens; other calls must answer.
      if (!stream) outgoing.setTimeout(timeoutMs, () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      // The browser went away before its answer was complete: drop the upstream call with it.
      req.res.on('close', () => {
        if (!req.res.writableFinished) outgoing.destroy();
      });
      outgoing.end(req.body);
    });
  }

  const unreachable = (error: unknown) =>
    errorBody('VALIDATOR_UNREACHABLE', `the validator at ${base.origin} did not answer (${(error as Error).message || String(error)})`);

  return {
    validatorUrl: base.origin + prefix,

    /** Streams the validator's answer to `res` unchanged, but for the security headers. */
    async pipe(req: ProxyRequest): Promise<void> {
      const { res } = req;
      let answer: IncomingMessage;
      try {
        answer = await upstream(req, (req.headers.accept ?? '').includes('text/event-stream'));
      } catch (error) {
        if (res.destroyed) return;
        res.writeHead(502, { 'content-type': 'application/json; charset=utf-8', ...FORWARDED_SECURITY_HEADERS });
        res.end(JSON.stringify(unreachable(error)));
        return;
      }
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && !['connection', 'keep-alive', 'transfer-encoding'].includes(name)) headers[name] = value;
      }
      res.writeHead(answer.statusCode ?? 502, { ...headers, ...FORWARDED_SECURITY_HEADERS });
      res.flushHeaders();
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    },

    /** The validator's answer as `{status, body}`, with JSON bodies parsed. */
    async envelope(req: ProxyRequest): Promise<{ status: number; body: unknown }> {
      let answer: IncomingMessage;
      try {
        answer = await upstream(req, false);
      } catch (error) {
        return { status: 502, body: unreachable(error) };
      }
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of answer) {
          size += (chunk as Buffer).length;
          if (size > MAX_ENVELOPE_BYTES) {
            answer.destroy();
            return { status: 502, body: errorBody('VALIDATOR_UNREACHABLE', 'the validator sent more than the dashboard reads at once') };
          }
          chunks.push(chunk as Buffer);
        }
      } catch (error) {
        return { status: 502, body: unreachable(error) };
      }
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      if ((answer.headers['content-type'] ?? '').includes('json')) {
        try {
          body = JSON.parse(text);
        } catch {
          // keep the text
        }
      }
      return { status: answer.statusCode ?? 502, body };
    },

    close(): void {
      agent?.destroy();
    },
  };
}

export type Proxy = ReturnType<typeof createProxy>;
