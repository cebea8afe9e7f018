import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { readJson, sendJson, startFakeServer } from './fake-http.ts';

const send = (res: ServerResponse, status: number, body: unknown) =>
  sendJson(res, status, body, { 'content-type': 'application/json; charset=UTF-8' });

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

/** The gemini strategy pointed at the fake, without retries, at a price so that runs cost something. */
export function pricedGeminiEnv(gemini: Pick<FakeGemini, 'url'>): Record<string, string> {
  return {
    GEMINI_API_KEY: 'k',
    GEMINI_MODEL: 'gemini-fake',
    GEMINI_BASE_URL: gemini.url,
    GEMINI_RETRIES: '0',
    GEMINI_PRICE_INPUT_PER_MTOK: '1',
    GEMINI_PRICE_OUTPUT_PER_MTOK: '4',
  };
}

export const DEFAULT_GEMINI_REPLY = '{"action":"pass","reasoning":"nothing to do"}';

const GENERATE = /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+):generateContent$/;

function googleError(code: number, status: string, message: string, details?: unknown[]): unknown {
  return { error: { code, message, status, ...(details === undefined ? {} : { details }) } };
}

export async function startFakeGemini(options: FakeGeminiOptions = {}): Promise<FakeGemini> {
  const requests: FakeGeminiRequest[] = [];
  let mode: FakeGeminiMode = 'ok';
  let responder: GeminiResponder = () => ({ text: DEFAULT_GEMINI_REPLY });

  async function handle(req: IncomingMessage, res: ServerResponse, closing: AbortSignal): Promise<void> {
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
    if (reply.delayMs !== undefined) await delay(reply.delayMs, undefined, { signal: closing });
    if ('status' in reply) return send(res, reply.status, reply.body);
    send(res, 200, generateContentResponse(model, request.prompt, reply.text, reply.finishReason ?? 'STOP'));
  }

  const server = await startFakeServer(handle, (res, err) => send(res, 500, googleError(500, 'INTERNAL', String(err))));

  return {
    url: server.origin,
    requests,
    setMode(next) {
      mode = next;
    },
    setResponder(next) {
      responder = next;
    },
    close: () => server.close(),
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
