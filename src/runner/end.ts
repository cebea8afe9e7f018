import type { RunEnd } from '../runs/registry.ts';
import { createValidatorClient } from './client.ts';

/**
 * Marks a run ended (finished, stopped or failed) so `/runs` does not show it running forever.
 * One short attempt, outside the runner's own abort signal; a failure only leaves it "running".
 */
export async function markRunEnded(options: { baseUrl: string; apiKey: string }, runId: string, status: RunEnd): Promise<boolean> {
  const client = createValidatorClient({ baseUrl: options.baseUrl, apiKey: options.apiKey, retries: 1, timeoutMs: 5000 });
  try {
    const reply = await client.request('POST', `/runs/${runId}/end`, { status });
    return reply.status === 200;
  } catch {
    return false;
  }
}
