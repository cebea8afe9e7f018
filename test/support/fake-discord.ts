import { randomInt } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { readJson, sendJson as send, startFakeServer } from './fake-http.ts';

/**
 * A Discord webhook endpoint, POST /api/webhooks/{id}/{token}, answering as Discord does: the
 * created message with ?wait=true, 204 without, and Discord's 429 body and headers when limited.
 */

export const FakeDiscordMode = {
  ok: 'ok',
  fail: 'fail',
  hang: 'hang',
  rateLimit: 'rateLimit',
} as const;
export type FakeDiscordMode = (typeof FakeDiscordMode)[keyof typeof FakeDiscordMode];

export interface FakeDiscordOptions {
  webhookId?: string;
  token?: string;
  /** retry_after in the 429 body, in seconds; the header carries it rounded up. */
  retryAfterSeconds?: number;
  /**
   * A per-webhook bucket as Discord keeps one: `limit` requests per window of `windowMs`, told on
   * every answer in X-RateLimit-* headers, and refused with 429 past it.
   */
  bucket?: { limit: number; windowMs: number };
}

export interface FakeDiscordRequest {
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** A message Discord accepted; `body` is the JSON the client posted. */
export interface FakeDiscordMessage {
  id: string;
  body: { content?: string; embeds?: unknown[]; allowed_mentions?: unknown };
}

export interface FakeDiscord {
  /** Origin of the fake. */
  url: string;
  /** Full webhook URL, for createDiscordClient. */
  webhookUrl: string;
  messages: FakeDiscordMessage[];
  requests: FakeDiscordRequest[];
  /** How many answers were 429 because the bucket was empty. */
  refusals(): number;
  setMode(mode: FakeDiscordMode): void;
  close(): Promise<void>;
}

const WEBHOOK_PATH = /^\/api\/webhooks\/([^/]+)\/([^/]+)$/;

export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const webhookId = options.webhookId ?? '1180000000000000001';
  const token = options.token ?? 'fake-webhook-token';
  const retryAfterSeconds = options.retryAfterSeconds ?? 0.2;
  const messages: FakeDiscordMessage[] = [];
  const requests: FakeDiscordRequest[] = [];
  let mode: FakeDiscordMode = 'ok';
  let refused = 0;
  const window = { start: 0, used: 0 };

  /** Takes one request from the bucket: its X-RateLimit-* headers, or undefined past the limit. */
  function take(): { headers: Record<string, string>; retryAfter: number } {
    const bucket = options.bucket!;
    const now = Date.now();
    if (now >= window.start + bucket.windowMs) Object.assign(window, { start: now, used: 0 });
    const resetAfter = (window.start + bucket.windowMs - now) / 1000;
    const allowed = window.used < bucket.limit;
    if (allowed) window.used++;
    const headers = {
      'x-ratelimit-limit': String(bucket.limit),
      'x-ratelimit-remaining': String(bucket.limit - window.used),
      'x-ratelimit-reset': ((window.start + bucket.windowMs) / 1000).toFixed(3),
      'x-ratelimit-reset-after': resetAfter.toFixed(3),
      'x-ratelimit-bucket': 'f1a2b3c4d5e6',
    };
    return { headers, retryAfter: allowed ? -1 : resetAfter };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const body = await readJson(req);
    requests.push({ path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body });
    if (mode === 'hang') return;
    let limits: Record<string, string> = {};
    if (options.bucket) {
      const taken = take();
      limits = taken.headers;
      if (taken.retryAfter >= 0) {
        refused++;
        const headers = { ...limits, 'retry-after': String(Math.ceil(taken.retryAfter)), 'x-ratelimit-scope': 'user' };
        return send(res, 429, { message: 'You are being rate limited.', retry_after: taken.retryAfter, global: false }, headers);
      }
    }
    if (mode === 'fail') return send(res, 500, { message: '500: Internal Server Error', code: 0 });
    if (mode === 'rateLimit') {
      return send(
        res,
        429,
        { message: 'You are being rate limited.', retry_after: retryAfterSeconds, global: false },
        {
          'retry-after': String(Math.ceil(retryAfterSeconds)),
          'x-ratelimit-limit': '5',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset-after': String(retryAfterSeconds),
          'x-ratelimit-scope': 'shared',
        },
      );
    }
    const match = WEBHOOK_PATH.exec(url.pathname);
    if (req.method !== 'POST' || match?.[1] !== webhookId || match[2] !== token) {
      return send(res, 404, { message: 'Unknown Webhook', code: 10015 });
    }
    const message = (body ?? {}) as FakeDiscordMessage['body'];
    if (!message.content && (!Array.isArray(message.embeds) || message.embeds.length === 0)) {
      return send(res, 400, { message: 'Cannot send an empty message', code: 50006 });
    }
    const id = snowflake();
    messages.push({ id, body: message });
    if (url.searchParams.get('wait') !== 'true') {
      res.writeHead(204, limits).end();
      return;
    }
    send(
      res,
      200,
      {
        id,
        type: 0,
        content: message.content ?? '',
        embeds: message.embeds ?? [],
        channel_id: '1180000000000000002',
        webhook_id: webhookId,
        author: { id: webhookId, username: 'Grid Governance', bot: true },
        timestamp: new Date().toISOString(),
      },
      limits,
    );
  }

  const server = await startFakeServer(handle, (res, err) => send(res, 500, { message: String(err), code: 0 }));
  const origin = server.origin;

  return {
    url: origin,
    webhookUrl: `${origin}/api/webhooks/${webhookId}/${token}`,
    messages,
    requests,
    refusals: () => refused,
    setMode(next) {
      mode = next;
    },
    close: () => server.close(),
  };
}

/** Discord ids are snowflakes: decimal strings of a 64-bit integer. */
function snowflake(): string {
  return `11${Date.now()}${randomInt(100000, 999999)}`;
}
