import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * The Gemini API's generateContent, as the official @google/genai SDK calls it:
 * POST {baseUrl}/v1beta/models/{model}:generateContent with the key in x-goog-api-key (or ?key=).
 * Point the SDK here with `httpOptions: { baseUrl: fake.url }`. What the model "says" comes from a
 * responder the test sets, so a strategy can be driven through any reply, malformed ones included.
 */

export const FakeGeminiMode = {
  /** Answer with the responder. */
  ok: 'ok',
  fail: 'fail',
  hang: 'hang',
  rateLimit: 'rateLimit',
} as const;
export type FakeGeminiMode = (typeof FakeGeminiMode)[keyof typeof FakeGeminiMode];

export interface GeminiContent {
  role?: string;
  parts?: Array<{ text?: string }>;
}

/** The parts of a GenerateContentRequest the engine uses; the rest passes through untyped. */
export interface GeminiGenerateContentBody {
  contents?: GeminiContent[];
  systemInstruction?: GeminiContent;
  generationConfig?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface FakeGeminiRequest {
  model: string;
  apiKey: string | undefined;
  headers: IncomingHttpHeaders;
  body: GeminiGenerateContentBody;
  /** Every text part of `contents`, joined, for responders that branch on the prompt. */
  prompt: string;
}

/** Model text, or a raw HTTP answer; either may be delayed to exercise timeouts. */
export type GeminiReply = ({ text: string; finishReason?: string } | { status: number; body: unknown }) & {
  delayMs?: number;
};
export type GeminiResponder = (request: FakeGeminiRequest) => GeminiReply | Promise<GeminiReply>;

export interface FakeGeminiOptions {
  /** When set, any other key is refused as Google does; when unset, any non-empty key passes. */
  apiKey?: string;
}

export interface FakeGemini {
  /** Origin, for the SDK's httpOptions.baseUrl. */
  url: string;
  requests: FakeGeminiRequest[];
  setMode(mode: FakeGeminiMode): void;
  setResponder(responder: GeminiResponder): void;
  close(): Promise<void>;
}

export const DEFAULT_GEMINI_REPLY = '{"action":"pass","reasoning":"nothing to do"}';

const GENERATE = /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+):generateContent$/;

function googleError(code: number, status: string, message: string, details?: unknown[]): unknown {
  return { error: { code, message, status, ...(details === undefined ? {} : { details }) } };
}

export async function startFakeGemini(options: FakeGeminiOptions = {}): Promise<FakeGemini> {
  const requests: FakeGeminiRequest[] = [];
  const closing = new AbortController();
  let mode: FakeGeminiMode = 'ok';
  let responder: GeminiResponder = () => ({ text: DEFAULT_GEMINI_REPLY });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const body = ((await readJson(req)) ?? {}) as GeminiGenerateContentBody;
    const match = GENERATE.exec(url.pathname);
    if (req.method !== 'POST' || match === null) {
      return send(res, 404, googleError(404, 'NOT_FOUND', `Method not found: ${url.pathname}`));
    }
    const headerKey = req.headers['x-goog-api-key'];
    const apiKey = (Array.isArray(headerKey) ? headerKey[0] : headerKey) ?? url.searchParams.get('key') ?? undefined;
    const model = match[2] ?? '';
    const request: FakeGeminiRequest = { model, apiKey, headers: req.headers, body, prompt: promptOf(body) };
    requests.push(request);

    if (!apiKey) {
      return send(res, 403, googleError(403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers."));
    }
    if (options.apiKey !== undefined && apiKey !== options.apiKey) {
      const reason = { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' };
      return send(res, 400, googleError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [reason]));
    }
    if (mode === 'hang') return;
    if (mode === 'fail') return send(res, 500, googleError(500, 'INTERNAL', 'An internal error has occurred.'));
    if (mode === 'rateLimit') {
      const retry = { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1s' };
      return send(res, 429, googleError(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted.', [retry]));
    }

    const reply = await responder(request);
    if (reply.delayMs !== undefined) await delay(reply.delayMs, undefined, { signal: closing.signal });
    if ('status' in reply) return send(res, reply.status, reply.body);
    send(res, 200, generateContentResponse(model, request.prompt, reply.text, reply.finishReason ?? 'STOP'));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!closing.signal.aborted) send(res, 500, googleError(500, 'INTERNAL', String(err)));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setMode(next) {
      mode = next;
    },
    setResponder(next) {
      responder = next;
    },
    async close() {
      // Cancel delayed replies and drop hanging requests, or close would wait for them.
      closing.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A GenerateContentResponse; token counts are a chars/4 estimate, enough for accounting tests. */
function generateContentResponse(model: string, prompt: string, text: string, finishReason: string): unknown {
  const promptTokenCount = Math.ceil(prompt.length / 4);
  const candidatesTokenCount = Math.ceil(text.length / 4);
  return {
    candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason, index: 0 }],
    usageMetadata: { promptTokenCount, candidatesTokenCount, totalTokenCount: promptTokenCount + candidatesTokenCount },
    modelVersion: model,
    responseId: randomUUID().replace(/-/g, '').slice(0, 22),
  };
}

function promptOf(body: GeminiGenerateContentBody): string {
  const contents = Array.isArray(body.contents) ? body.contents : [];
  return contents.flatMap((content) => (content.parts ?? []).map((part) => part.text ?? '')).join('\n');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}
