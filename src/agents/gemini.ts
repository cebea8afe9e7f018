import { ApiError, GoogleGenAI } from '@google/genai';
import { createLlmStrategy, isRetryableStatus, ModelCallError, unreachable, type ModelClient } from './llm.ts';
import type { Strategy } from './types.ts';
import type { GeminiSettings } from '../agent-config.ts';

/** generateContent through the official SDK, with JSON-schema structured output. */
export function createGeminiClient(settings: GeminiSettings): ModelClient {
  const host = new URL(settings.baseUrl ?? 'https://generativelanguage.googleapis.com').host;
  const ai = new GoogleGenAI({ apiKey: settings.apiKey, ...(settings.baseUrl ? { httpOptions: { baseUrl: settings.baseUrl } } : {}) });
  return {
    model: settings.model,
    host,
    async complete(request) {
      try {
        const response = await ai.models.generateContent({
          model: settings.model,
          contents: request.prompt,
          config: {
            systemInstruction: request.system,
            temperature: request.temperature,
            ...(request.seed !== undefined ? { seed: request.seed } : {}),
            responseMimeType: 'application/json',
            responseJsonSchema: request.schema,
            abortSignal: request.signal,
          },
        });
        const usage = response.usageMetadata;
        return {
          text: response.text ?? '',
          usage: { prompt: usage?.promptTokenCount ?? 0, completion: usage?.candidatesTokenCount ?? 0, total: usage?.totalTokenCount ?? 0 },
        };
      } catch (error) {
        if (error instanceof ApiError)
          throw new ModelCallError(`HTTP ${error.status}: ${error.message.slice(0, 200)}`, isRetryableStatus(error.status), error.status);
        throw unreachable(host, error);
      }
    },
  };
}

export function createGeminiStrategy(settings: GeminiSettings): Strategy {
  return createLlmStrategy('gemini', createGeminiClient(settings), settings);
}
