import { createLlmStrategy, isRetryableStatus, ModelCallError, unreachable, type ModelClient } from './llm.ts';
import type { Strategy } from './types.ts';
import type { OpenAISettings } from '../agent-config.ts';

interface ChatCompletion {
  choices?: Array<{ message?: { content?: string | null } }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number };
}

/** POST {baseUrl}/chat/completions with a json_schema response format; plain fetch. */
export function createOpenAIClient(settings: OpenAISettings): ModelClient {
  const url = `${settings.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const host = new URL(url).host;
  return {
    model: settings.model,
    host,
    async complete(request) {
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          signal: request.signal,
          headers: { 'content-type': 'application/json', ...(settings.apiKey ? { authorization: `Bearer ${settings.apiKey}` } : {}) },
          body: JSON.stringify({
            model: settings.model,
            temperature: request.temperature,
            ...(request.seed !== undefined ? { seed: request.seed } : {}),
            messages: [
              { role: 'system', content: request.system },
              { role: 'user', content: request.prompt },
            ],
            response_format: { type: 'json_schema', json_schema: { name: request.schemaName, schema: request.schema } },
          }),
        });
      } catch (error) {
        throw unreachable(host, error);
      }
      const body = await response.text();
      if (!response.ok)
        throw new ModelCallError(
          `HTTP ${response.status}: ${body.slice(0, 200)}`,
          isRetryableStatus(response.status),
          response.status,
          response.headers.get('retry-after'),
        );
      let completion: ChatCompletion;
      try {
        completion = JSON.parse(body) as ChatCompletion;
      } catch {
        throw new ModelCallError('the endpoint answered with something other than JSON', false);
      }
      return {
        text: completion.choices?.[0]?.message?.content ?? '',
        usage: {
          prompt: completion.usage?.prompt_tokens ?? 0,
          completion: completion.usage?.completion_tokens ?? 0,
          total: completion.usage?.total_tokens ?? 0,
        },
      };
    },
  };
}

export function createOpenAIStrategy(settings: OpenAISettings): Strategy {
  return createLlmStrategy('openai-compatible', createOpenAIClient(settings), settings);
}
