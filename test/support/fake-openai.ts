import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { readJson, sendJson as send, startFakeServer } from './fake-http.ts';

/**
 * An OpenAI-compatible chat endpoint, POST /v1/chat/completions with `Authorization: Bearer <key>`,
 * answering in the chat.completion shape and OpenAI's error envelope. Like the Gemini fake, the
 * assistant's text comes from a responder the test sets.
 */

export const FakeOpenAIMode = {
  /** Answer with the responder. */
  ok: 'ok',
  fail: 'fail',
  hang: 'hang',
  rateLimit: 'rateLimit',
} as const;
export type FakeOpenAIMode = (typeof FakeOpenAIMode)[keyof typeof FakeOpenAIMode];

export interface OpenAIChatMessage {
  role: string;
  /** A string, or content parts as newer clients send them. */
  content?: string | Array<{ type?: string; text?: string }> | null;
}

export interface OpenAIChatBody {
  model?: string;
  messages?: OpenAIChatMessage[];
  [field: string]: unknown;
}

export interface FakeOpenAIRequest {
  model: string;
  apiKey: string | undefined;
  headers: IncomingHttpHeaders;
  body: OpenAIChatBody;
  /** Every message's text, joined, for responders that branch on the prompt. */
  prompt: string;
}

/** Assistant text, or a raw HTTP answer; either may be delayed to exercise timeouts. */
export type OpenAIReply = ({ text: string; finishReason?: string } | { status: number; body: unknown }) & {
  delayMs?: number;
};
export type OpenAIResponder = (request: FakeOpenAIRequest) => OpenAIReply | Promise<OpenAIReply>;

export interface FakeOpenAIOptions {
  /** When set, any other key is refused; when unset, any non-empty bearer token passes. */
  apiKey?: string;
}

export interface FakeOpenAI {
  /** Origin of the fake. */
  url: string;
  /** `${url}/v1`, the base URL OpenAI-compatible clients append /chat/completions to. */
  baseUrl: string;
  requests: FakeOpenAIRequest[];
  /** The most chat requests that were being answered at once, since the start or the last reset. */
  peakConcurrency(): number;
  resetPeak(): void;
  setMode(mode: FakeOpenAIMode): void;
  setResponder(responder: OpenAIResponder): void;
  close(): Promise<void>;
}

export const DEFAULT_OPENAI_REPLY = '{"action":"pass","reasoning":"nothing to do"}';

function openAIError(message: string, type: string, code: string | null): unknown {
  return { error: { message, type, param: null, code } };
}

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const requests: FakeOpenAIRequest[] = [];
  let mode: FakeOpenAIMode = 'ok';
  let responder: OpenAIResponder = () => ({ text: DEFAULT_OPENAI_REPLY });
  let inFlight = 0;
  let peak = 0;

  async function counted(req: IncomingMessage, res: ServerResponse, closing: AbortSignal): Promise<void> {
    inFlight += 1;
    peak = Math.max(peak, inFlight);
    try {
      await handle(req, res, closing);
    } finally {
      inFlight -= 1;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, closing: AbortSignal): Promise<void> {
    const body = ((await readJson(req)) ?? {}) as OpenAIChatBody;
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://localhost').pathname !== '/v1/chat/completions') {
      return send(res, 404, openAIError(`Invalid URL (${req.method} ${req.url})`, 'invalid_request_error', null));
    }
    const apiKey = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const model = typeof body.model === 'string' ? body.model : '';
    const request: FakeOpenAIRequest = { model, apiKey, headers: req.headers, body, prompt: promptOf(body) };
    requests.push(request);

    if (!apiKey) {
      return send(res, 401, openAIError("You didn't provide an API key.", 'invalid_request_error', null));
    }
    if (options.apiKey !== undefined && apiKey !== options.apiKey) {
      return send(res, 401, openAIError('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key'));
    }
    if (mode === 'hang') return;
    if (mode === 'fail') {
      return send(res, 500, openAIError('The server had an error while processing your request.', 'server_error', null));
    }
    if (mode === 'rateLimit') {
      const headers = { 'retry-after': '1', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1s' };
      return send(res, 429, openAIError('Rate limit reached for requests.', 'requests', 'rate_limit_exceeded'), headers);
    }

    const reply = await responder(request);
    if (reply.delayMs !== undefined) await delay(reply.delayMs, undefined, { signal: closing });
    if ('status' in reply) return send(res, reply.status, reply.body);
    send(res, 200, chatCompletion(model, request.prompt, reply.text, reply.finishReason ?? 'stop'));
  }

  const server = await startFakeServer(counted, (res, err) => send(res, 500, openAIError(String(err), 'server_error', null)));
  const origin = server.origin;

  return {
    url: origin,
    baseUrl: `${origin}/v1`,
    requests,
    peakConcurrency: () => peak,
    resetPeak() {
      peak = inFlight;
    },
    setMode(next) {
      mode = next;
    },
    setResponder(next) {
      responder = next;
    },
    close: () => server.close(),
  };
}

/** A chat.completion object; token counts are a chars/4 estimate, enough for accounting tests. */
function chatCompletion(model: string, prompt: string, text: string, finishReason: string): unknown {
  const promptTokens = Math.ceil(prompt.length / 4);
  const completionTokens = Math.ceil(text.length / 4);
  return {
    id: `chatcmpl-${randomUUID().replace(/-/g, '')}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text, refusal: null },
        logprobs: null,
        finish_reason: finishReason,
      },
    ],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    system_fingerprint: null,
  };
}

function promptOf(body: OpenAIChatBody): string {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  return messages
    .map(({ content }) => (typeof content === 'string' ? content : (content ?? []).map((part) => part.text ?? '').join('')))
    .join('\n');
}
